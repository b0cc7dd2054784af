#include "service/multifile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edit/blocks.h"
#include "util/buf.h"

int multifile_has_blocks(const char *text, size_t len)
{
  static const char mark[] = "<<<<<<< SEARCH";
  size_t n = sizeof(mark) - 1;
  for (size_t i = 0; i + n <= len; i++) {
    if ((i == 0 || text[i - 1] == '\n') && memcmp(text + i, mark, n) == 0) {
      return 1;
    }
  }
  return 0;
}

void multifile_edits_free(multifile_edits *m)
{
  if (!m) {
    return;
  }
  edit_proposal_free(&m->prop);
  for (size_t i = 0; i < m->nsources; i++) {
    free((char *)m->sources[i].path);
    free((char *)m->sources[i].text);
  }
  free(m->sources);
  free(m->root);
  memset(m, 0, sizeof(*m));
}

static void add_source(edit_source **v, size_t *n, const char *path, const char *text,
                       size_t len)
{
  *v = xrealloc(*v, (*n + 1) * sizeof(**v));
  (*v)[*n].path = xstrdup(path);
  (*v)[*n].text = text ? xstrndup(text, len) : NULL;
  (*v)[*n].len = text ? len : 0;
  (*n)++;
}

/* The file at the cursor went out as its scope's lines only: turns the edits of those lines
 * into the file's and the new text of the scope into the whole file's. */
static void widen_partial(edit_file *f, const text_t *t, int first, int last)
{
  size_t a = text_line_start(t, first), b = text_line_end(t, last);
  for (size_t i = 0; i < f->nedits; i++) {
    f->edits[i].start_line += first - 1;
    f->edits[i].end_line += first - 1;
  }
  buf_t w = BUF_INIT;
  buf_append(&w, t->data, a);
  buf_append(&w, f->text, f->len);
  buf_append(&w, t->data + b, t->len - b);
  free(f->text);
  f->len = w.len;
  f->text = buf_detach(&w);
}

int multifile_check(const action_plan *plan, const char *answer, size_t len,
                    multifile_edits *out, char *err, size_t errlen)
{
  memset(out, 0, sizeof(*out));
  edit_blocks blocks;
  if (edit_blocks_parse(answer, len, &blocks, err, errlen)) {
    return -1;
  }
  /* What was sent, for the matcher, and what is on disk before the write. */
  edit_source *sent = NULL, *disk = NULL;
  size_t nsent = 0, ndisk = 0;
  const pkg_result *pkg = &plan->pkg;
  const text_t *t = &plan->text;
  int first = pkg->nitems ? pkg->items[0].start_line : 1;
  int last = pkg->nitems ? pkg->items[0].end_line : t->nlines;
  int partial = plan->path_sent && t->nlines > 0 && (first > 1 || last < t->nlines);
  if (plan->path_sent) {
    if (partial) {
      size_t a = text_line_start(t, first), b = text_line_end(t, last);
      add_source(&sent, &nsent, plan->path_sent, t->data + a, b - a);
    } else {
      add_source(&sent, &nsent, plan->path_sent, t->data ? t->data : "", t->len);
    }
    add_source(&disk, &ndisk, plan->path_sent, t->data ? t->data : "", t->len);
  }
  for (size_t i = 1; i < pkg->nitems; i++) {
    const pkg_item *it = &pkg->items[i];
    if (it->kind == ITEM_FILE && it->label && it->text) {
      add_source(&sent, &nsent, it->label, it->text, strlen(it->text));
      add_source(&disk, &ndisk, it->label, it->text, strlen(it->text));
    }
  }
  int rc = edit_match(&blocks, sent, nsent, &out->prop, err, errlen);
  edit_blocks_free(&blocks);
  for (size_t i = 0; i < nsent; i++) {
    free((char *)sent[i].path);
    free((char *)sent[i].text);
  }
  free(sent);
  out->sources = disk;
  out->nsources = ndisk;
  if (rc) {
    multifile_edits_free(out);
    return -1;
  }
  for (size_t i = 0; partial && i < out->prop.nfiles; i++) {
    if (out->prop.files[i].source == 0) {
      widen_partial(&out->prop.files[i], t, first, last);
    }
  }
  out->root = plan->root ? xstrdup(plan->root) : NULL;
  return 0;
}

json_t *multifile_files_json(const multifile_edits *m)
{
  return edit_proposal_json(&m->prop);
}

int multifile_apply(const multifile_edits *m, char *err, size_t errlen)
{
  edit_write_opts o = {.root = m->root};
  return edit_write_all(&m->prop, m->sources, m->nsources, &o, err, errlen);
}
