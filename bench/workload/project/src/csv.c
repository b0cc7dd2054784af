#include "csv.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

csv_status csv_open(csv_reader *r, FILE *in, char delim)
{
  memset(r, 0, sizeof(*r));
  r->in = in;
  r->delim = delim ? delim : ',';
  r->bufcap = 256;
  r->buf = malloc(r->bufcap);
  if (!r->buf) {
    return CSV_ERR_NOMEM;
  }
  return CSV_OK;
}

void csv_close(csv_reader *r)
{
  free(r->buf);
  r->buf = NULL;
  r->bufcap = r->buflen = 0;
  r->nfields = 0;
}

/* Appends one byte to the record buffer, doubling it when full. */
static int put(csv_reader *r, char c)
{
  if (r->buflen == r->bufcap) {
    size_t cap = r->bufcap * 2;
    char *nb = realloc(r->buf, cap);
    if (!nb) {
      return -1;
    }
    /* field pointers point into the old buffer: move them */
    for (size_t i = 0; i < r->nfields; i++) {
      r->fields[i] = nb + (r->fields[i] - r->buf);
    }
    r->buf = nb;
    r->bufcap = cap;
  }
  r->buf[r->buflen++] = c;
  return 0;
}

static csv_status start_field(csv_reader *r)
{
  if (r->nfields == CSV_MAX_FIELDS) {
    return CSV_ERR_TOO_MANY;
  }
  r->fields[r->nfields++] = r->buf + r->buflen;
  return CSV_OK;
}

static csv_status end_field(csv_reader *r)
{
  return put(r, '\0') == 0 ? CSV_OK : CSV_ERR_NOMEM;
}

/* Reads the next record. Fields stay valid until the next call. */
csv_status csv_next(csv_reader *r)
{
  enum { FIELD_START, UNQUOTED, QUOTED, QUOTE_IN_QUOTED } st = FIELD_START;
  r->buflen = 0;
  r->nfields = 0;
  r->line++;
  int c;
  int any = 0;
  csv_status s;
  while ((c = fgetc(r->in)) != EOF) {
    any = 1;
    switch (st) {
    case FIELD_START:
      if ((s = start_field(r)) != CSV_OK) {
        return s;
      }
      if (c == '"') {
        st = QUOTED;
        break;
      }
      st = UNQUOTED;
      /* fall through */
    case UNQUOTED:
      if (c == r->delim) {
        if ((s = end_field(r)) != CSV_OK) {
          return s;
        }
        st = FIELD_START;
      } else if (c == '\n' || c == '\r') {
        if (c == '\r') {
          int n = fgetc(r->in);
          if (n != '\n' && n != EOF) {
            ungetc(n, r->in);
          }
        }
        return end_field(r);
      } else if (c == '"') {
        return CSV_ERR_QUOTE;
      } else if (put(r, (char)c) != 0) {
        return CSV_ERR_NOMEM;
      }
      break;
    case QUOTED:
      if (c == '"') {
        st = QUOTE_IN_QUOTED;
      } else {
        if (c == '\n') {
          r->line++;
        }
        if (put(r, (char)c) != 0) {
          return CSV_ERR_NOMEM;
        }
      }
      break;
    case QUOTE_IN_QUOTED:
      if (c == '"') {
        if (put(r, '"') != 0) {
          return CSV_ERR_NOMEM;
        }
        st = QUOTED;
      } else if (c == r->delim) {
        if ((s = end_field(r)) != CSV_OK) {
          return s;
        }
        st = FIELD_START;
      } else if (c == '\n' || c == '\r') {
        if (c == '\r') {
          int n = fgetc(r->in);
          if (n != '\n' && n != EOF) {
            ungetc(n, r->in);
          }
        }
        return end_field(r);
      } else {
        return CSV_ERR_QUOTE;
      }
      break;
    }
  }
  if (ferror(r->in)) {
    return CSV_ERR_IO;
  }
  if (!any) {
    return CSV_EOF;
  }
  if (st == QUOTED) {
    return CSV_ERR_QUOTE;
  }
  if (st == FIELD_START && (s = start_field(r)) != CSV_OK) {
    return s;
  }
  return end_field(r);
}

/* Removes leading and trailing blanks (spaces and tabs) from every field of the current
 * record, in place. Quoted blanks were already unescaped, so they are trimmed too: the export
 * tool pads columns with spaces. Returns the number of fields that changed. */
size_t csv_trim_fields(csv_reader *r)
{
  /* TODO */
  (void)r;
  return 0;
}

const char *csv_field(const csv_reader *r, size_t i)
{
  return i < r->nfields ? r->fields[i] : NULL;
}

/* Column index of `name` in the current record (the header), case-insensitive, or -1. */
int csv_header_index(const csv_reader *r, const char *name)
{
  for (size_t i = 0; i < r->nfields; i++) {
    const char *a = r->fields[i], *b = name;
    while (*a && *b && tolower((unsigned char)*a) == tolower((unsigned char)*b)) {
      a++;
      b++;
    }
    if (*a == '\0' && *b == '\0') {
      return (int)i;
    }
  }
  return -1;
}

static int parse_long(const char *s, long *out)
{
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0') {
    return -1;
  }
  *out = v;
  return 0;
}

static int parse_price(const char *s, double *out)
{
  char *end;
  if (*s == '$') {
    s++;
  }
  double v = strtod(s, &end);
  if (end == s || *end != '\0' || v < 0) {
    return -1;
  }
  *out = v;
  return 0;
}

/* Copies a field into a fixed-size member, refusing values that do not fit. */
static int copy_field(char *dst, size_t dstlen, const char *src)
{
  size_t n = strlen(src);
  if (n >= dstlen) {
    return -1;
  }
  memcpy(dst, src, n + 1);
  return 0;
}

/* Fills `out` from the current record; cols[] gives the column of sku, name, quantity,
 * unit_price and location (from csv_header_index). */
csv_status csv_parse_stock_row(const csv_reader *r, const int *cols, stock_row *out)
{
  const char *sku = csv_field(r, (size_t)cols[0]);
  const char *name = csv_field(r, (size_t)cols[1]);
  const char *qty = csv_field(r, (size_t)cols[2]);
  const char *price = csv_field(r, (size_t)cols[3]);
  const char *loc = csv_field(r, (size_t)cols[4]);
  if (!sku || !name || !qty || !price) {
    return CSV_ERR_TOO_MANY;
  }
  memset(out, 0, sizeof(*out));
  if (copy_field(out->sku, sizeof(out->sku), sku) != 0 ||
      copy_field(out->name, sizeof(out->name), name) != 0) {
    return CSV_ERR_TOO_MANY;
  }
  if (parse_long(qty, &out->quantity) != 0 || parse_price(price, &out->unit_price) != 0) {
    return CSV_ERR_QUOTE;
  }
  if (loc && copy_field(out->location, sizeof(out->location), loc) != 0) {
    return CSV_ERR_TOO_MANY;
  }
  return CSV_OK;
}

const char *csv_status_str(csv_status s)
{
  switch (s) {
  case CSV_OK:
    return "ok";
  case CSV_EOF:
    return "end of file";
  case CSV_ERR_QUOTE:
    return "misplaced or unterminated quote";
  case CSV_ERR_TOO_MANY:
    return "too many fields";
  case CSV_ERR_NOMEM:
    return "out of memory";
  case CSV_ERR_IO:
    return "read error";
  }
  return "unknown status";
}

/* Writes one field, quoting it when it holds the delimiter, a quote or a line break. */
int csv_write_field(FILE *out, const char *s, char delim)
{
  int needs_quotes = 0;
  for (const char *p = s; *p; p++) {
    if (*p == delim || *p == '"' || *p == '\n' || *p == '\r') {
      needs_quotes = 1;
      break;
    }
  }
  if (!needs_quotes) {
    return fputs(s, out) < 0 ? -1 : 0;
  }
  if (fputc('"', out) == EOF) {
    return -1;
  }
  for (const char *p = s; *p; p++) {
    if (*p == '"' && fputc('"', out) == EOF) {
      return -1;
    }
    if (fputc(*p, out) == EOF) {
      return -1;
    }
  }
  return fputc('"', out) == EOF ? -1 : 0;
}

/* Counts the records left in the stream without keeping them (used for progress bars). */
long csv_count_records(FILE *in, char delim)
{
  csv_reader r;
  if (csv_open(&r, in, delim) != CSV_OK) {
    return -1;
  }
  long n = 0;
  csv_status s;
  while ((s = csv_next(&r)) == CSV_OK) {
    n++;
  }
  csv_close(&r);
  return s == CSV_EOF ? n : -1;
}
