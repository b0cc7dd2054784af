/* csv: a small RFC 4180 reader for the stock export files (quoted fields, doubled quotes,
 * CRLF or LF line ends). Fields are returned as pointers into a buffer the reader owns. */
#ifndef STOCKROOM_CSV_H
#define STOCKROOM_CSV_H

#include <stddef.h>
#include <stdio.h>

#define CSV_MAX_FIELDS 64

typedef enum {
  CSV_OK = 0,
  CSV_EOF,
  CSV_ERR_QUOTE,     /* a quote inside an unquoted field, or an unterminated quoted field */
  CSV_ERR_TOO_MANY,  /* more than CSV_MAX_FIELDS fields on a line */
  CSV_ERR_NOMEM,
  CSV_ERR_IO,
} csv_status;

typedef struct {
  FILE *in;
  char *buf;        /* the current record's unescaped fields, NUL-separated */
  size_t buflen;
  size_t bufcap;
  char *fields[CSV_MAX_FIELDS];
  size_t nfields;
  long line;        /* 1-based line where the current record starts */
  char delim;
} csv_reader;

typedef struct {
  char sku[32];
  char name[96];
  long quantity;
  double unit_price;
  char location[16];
} stock_row;

csv_status csv_open(csv_reader *r, FILE *in, char delim);
void csv_close(csv_reader *r);
csv_status csv_next(csv_reader *r);
const char *csv_field(const csv_reader *r, size_t i);
int csv_header_index(const csv_reader *r, const char *name);
csv_status csv_parse_stock_row(const csv_reader *r, const int *cols, stock_row *out);
const char *csv_status_str(csv_status s);
int csv_write_field(FILE *out, const char *s, char delim);

#endif
