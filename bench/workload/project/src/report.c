/* report: reads a stock export and prints the low-stock and valuation report. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "ringbuf.h"

#define LOW_STOCK_DEFAULT 5

typedef struct {
  stock_row *rows;
  size_t n;
  size_t cap;
} stock_table;

typedef struct {
  double total_value;
  long total_units;
  size_t low_stock;
  size_t duplicates;
} stock_summary;

static int table_push(stock_table *t, const stock_row *row)
{
  if (t->n == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 64;
    stock_row *nr = realloc(t->rows, cap * sizeof(*nr));
    if (!nr) {
      return -1;
    }
    t->rows = nr;
    t->cap = cap;
  }
  t->rows[t->n++] = *row;
  return 0;
}

/* Loads every row of the export; prints the first bad line and returns -1 on error. */
static int load_table(FILE *in, stock_table *t)
{
  csv_reader r;
  if (csv_open(&r, in, ',') != CSV_OK) {
    return -1;
  }
  csv_status s = csv_next(&r);
  if (s != CSV_OK) {
    fprintf(stderr, "report: no header: %s\n", csv_status_str(s));
    csv_close(&r);
    return -1;
  }
  int cols[5] = {
    csv_header_index(&r, "sku"),      csv_header_index(&r, "name"),
    csv_header_index(&r, "quantity"), csv_header_index(&r, "unit_price"),
    csv_header_index(&r, "location"),
  };
  for (int i = 0; i < 4; i++) {
    if (cols[i] < 0) {
      fprintf(stderr, "report: the header lacks a required column (%d)\n", i);
      csv_close(&r);
      return -1;
    }
  }
  while ((s = csv_next(&r)) == CSV_OK) {
    stock_row row;
    csv_status ps = csv_parse_stock_row(&r, cols, &row);
    if (ps != CSV_OK) {
      fprintf(stderr, "report: line %ld: %s\n", r.line, csv_status_str(ps));
      csv_close(&r);
      return -1;
    }
    if (table_push(t, &row) != 0) {
      csv_close(&r);
      return -1;
    }
  }
  csv_close(&r);
  return s == CSV_EOF ? 0 : -1;
}

/* Counts rows whose SKU appeared on an earlier row. */
static size_t count_duplicates(const stock_table *t)
{
  size_t dups = 0;
  for (size_t i = 0; i < t->n; i++) {
    for (size_t j = 0; j < i; j++) {
      if (strcmp(t->rows[i].sku, t->rows[j].sku) == 0) {
        dups++;
        break;
      }
    }
  }
  return dups;
}

/* Sorts the rows by location, then by SKU, for the printed report. */
static void sort_rows(stock_table *t)
{
  for (size_t i = 1; i < t->n; i++) {
    stock_row key = t->rows[i];
    size_t j = i;
    while (j > 0) {
      const stock_row *p = &t->rows[j - 1];
      int c = strcmp(p->location, key.location);
      if (c < 0 || (c == 0 && strcmp(p->sku, key.sku) <= 0)) {
        break;
      }
      t->rows[j] = t->rows[j - 1];
      j--;
    }
    t->rows[j] = key;
  }
}

static stock_summary summarize(const stock_table *t, long low_stock)
{
  stock_summary s = {0};
  for (size_t i = 0; i < t->n; i++) {
    const stock_row *r = &t->rows[i];
    s.total_units += r->quantity;
    s.total_value += (double)r->quantity * r->unit_price;
    if (r->quantity <= low_stock) {
      s.low_stock++;
    }
  }
  s.duplicates = count_duplicates(t);
  return s;
}

/* Writes the report through a ring buffer so the output is flushed in large blocks. */
static int print_report(FILE *out, const stock_table *t, const stock_summary *s, long low_stock)
{
  ringbuf rb;
  if (ringbuf_init(&rb, 1 << 16) != 0) {
    return -1;
  }
  char line[256];
  const char *loc = NULL;
  for (size_t i = 0; i < t->n; i++) {
    const stock_row *r = &t->rows[i];
    if (r->quantity > low_stock) {
      continue;
    }
    if (!loc || strcmp(loc, r->location) != 0) {
      loc = r->location;
      int n = snprintf(line, sizeof(line), "\n[%s]\n", loc[0] ? loc : "unassigned");
      ringbuf_write(&rb, line, (size_t)n);
    }
    int n = snprintf(line, sizeof(line), "  %-12s %-40.40s %6ld  $%9.2f\n", r->sku, r->name,
                     r->quantity, r->unit_price);
    if (ringbuf_space(&rb) < (size_t)n) {
      char block[4096];
      size_t got;
      while ((got = ringbuf_read(&rb, block, sizeof(block))) > 0) {
        fwrite(block, 1, got, out);
      }
    }
    ringbuf_write(&rb, line, (size_t)n);
  }
  int n = snprintf(line, sizeof(line),
                   "\n%zu items, %ld units, value $%.2f, %zu low, %zu duplicate SKUs\n", t->n,
                   s->total_units, s->total_value, s->low_stock, s->duplicates);
  ringbuf_write(&rb, line, (size_t)n);
  char block[4096];
  size_t got;
  while ((got = ringbuf_read(&rb, block, sizeof(block))) > 0) {
    fwrite(block, 1, got, out);
  }
  ringbuf_free(&rb);
  return ferror(out) ? -1 : 0;
}

int main(int argc, char **argv)
{
  long low_stock = argc > 2 ? strtol(argv[2], NULL, 10) : LOW_STOCK_DEFAULT;
  FILE *in = argc > 1 ? fopen(argv[1], "r") : stdin;
  if (!in) {
    perror(argv[1]);
    return 1;
  }
  stock_table t = {0};
  int rc = load_table(in, &t);
  if (in != stdin) {
    fclose(in);
  }
  if (rc != 0) {
    free(t.rows);
    return 1;
  }
  sort_rows(&t);
  stock_summary s = summarize(&t, low_stock);
  rc = print_report(stdout, &t, &s, low_stock);
  free(t.rows);
  return rc == 0 ? 0 : 1;
}
