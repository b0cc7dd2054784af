/* libFuzzer target for SEARCH/REPLACE edit blocks (native/edit/): arbitrary bytes as a model's
 * answer, parsed and matched against a file taken from the input. Checks the invariants callers
 * rely on; any violation aborts.
 *
 * Input layout: when the input holds a NUL byte, the bytes before the first one are the file
 * "f.c" as it was sent and the rest is the answer; otherwise the whole input is the answer and
 * also the text of "f.c" (so SEARCH lines can match). "g.c" is sent empty, "h.c" as missing.
 *
 * Invariants: a parse either fails with a message and no blocks, or gives numbered blocks with
 * blank-free paths and whole-line parts, which format back to text that parses to the same
 * blocks; a match either fails with a message and nothing, or gives sorted, non-overlapping
 * edits inside the sent file whose rendered text has the length the edits imply; the JSON of a
 * proposal always dumps. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "edit/apply.h"
#include "edit/blocks.h"
#include "util/text.h"

static void check(int ok)
{
  if (!ok) {
    abort();
  }
}

static int count_lines(const char *s, size_t n)
{
  text_t t;
  check(text_init(&t, s, n) == 0);
  int lines = t.nlines;
  text_free(&t);
  return lines;
}

static void check_blocks(const edit_blocks *b)
{
  check(b->n >= 1);
  for (size_t i = 0; i < b->n; i++) {
    const edit_block *e = &b->v[i];
    check(e->number == (int)i + 1 && e->line >= 1);
    check(e->path && *e->path && !strpbrk(e->path, " \t\r\n"));
    check(strlen(e->search) == e->search_len && strlen(e->replace) == e->replace_len);
    check(e->search_len == 0 || e->search[e->search_len - 1] == '\n');
    check(e->replace_len == 0 || e->replace[e->replace_len - 1] == '\n');
    check(count_lines(e->search, e->search_len) == e->search_lines);
    check(count_lines(e->replace, e->replace_len) == e->replace_lines);
  }
}

static void check_round_trip(const edit_blocks *b)
{
  buf_t out = BUF_INIT;
  edit_blocks_format(b, &out);
  edit_blocks again;
  char err[256];
  check(edit_blocks_parse(out.data, out.len, &again, err, sizeof(err)) == 0);
  check(again.n == b->n);
  for (size_t i = 0; i < b->n; i++) {
    check(strcmp(again.v[i].path, b->v[i].path) == 0);
    check(strcmp(again.v[i].search, b->v[i].search) == 0);
    check(strcmp(again.v[i].replace, b->v[i].replace) == 0);
  }
  edit_blocks_free(&again);
  buf_free(&out);
}

static void check_proposal(const edit_proposal *p, const edit_source *src)
{
  check(p->nfiles >= 1 && p->notes != NULL);
  for (size_t i = 0; i < p->nfiles; i++) {
    const edit_file *f = &p->files[i];
    const edit_source *s = f->source >= 0 ? &src[f->source] : NULL;
    check(f->is_new == (s == NULL));
    int nlines = s ? count_lines(s->text, s->len) : 0;
    long expect = s ? (long)s->len : 0;
    int crlf = s && memchr(s->text, '\r', s->len);
    int prev_end = 0;
    for (size_t k = 0; k < f->nedits; k++) {
      const edit_hunk *h = &f->edits[k];
      check(h->start_line >= 1 && h->start_line <= nlines + 1);
      check(h->end_line >= h->start_line - 1 && h->end_line <= nlines);
      check(h->start_line > prev_end);
      prev_end = h->end_line >= h->start_line ? h->end_line : h->start_line;
      if (s && h->end_line >= h->start_line) {
        text_t t;
        check(text_init(&t, s->text, s->len) == 0);
        expect -= (long)(text_line_end(&t, h->end_line) - text_line_start(&t, h->start_line));
        text_free(&t);
      }
      expect += (long)h->replacement_len;
    }
    /* CRLF files and files without a final newline adjust line ends: only bound the length. */
    if (!crlf && (!s || s->len == 0 || s->text[s->len - 1] == '\n')) {
      check((long)f->len == expect);
    }
  }
  json_t *j = edit_proposal_json(p);
  char *dump = json_dumps(j, JSON_COMPACT);
  check(dump != NULL);
  free(dump);
  json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *in = (const char *)data;
  const char *nul = memchr(in, '\0', size);
  const char *file = in, *answer = in;
  size_t file_len = size, answer_len = size;
  if (nul) {
    file_len = (size_t)(nul - in);
    answer = nul + 1;
    answer_len = size - file_len - 1;
  }
  edit_blocks b;
  char err[512];
  err[0] = '\0';
  if (edit_blocks_parse(answer, answer_len, &b, err, sizeof(err)) != 0) {
    check(err[0] != '\0' && b.n == 0 && b.v == NULL);
    return 0;
  }
  check_blocks(&b);
  check_round_trip(&b);

  edit_source src[] = {{"f.c", file, file_len}, {"g.c", "", 0}, {"h.c", NULL, 0}};
  edit_proposal p;
  err[0] = '\0';
  if (edit_match(&b, src, 3, &p, err, sizeof(err)) == 0) {
    check_proposal(&p, src);
    edit_proposal_free(&p);
  } else {
    check(err[0] != '\0' && p.nfiles == 0);
  }
  edit_blocks_free(&b);
  return 0;
}
