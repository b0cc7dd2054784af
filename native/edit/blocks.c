#include "edit/blocks.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MARK_SEARCH "<<<<<<< SEARCH"
#define MARK_DIVIDER "======="
#define MARK_REPLACE ">>>>>>> REPLACE"

/* The parser reads the answer line by line in one of four states. */
typedef enum {
  ST_PROSE,   /* outside any fence: text is ignored, the last line may be the next path */
  ST_FENCE,   /* inside a fence, between blocks */
  ST_SEARCH,  /* inside a block, before the divider */
  ST_REPLACE, /* inside a block, after the divider */
} parse_state;

typedef enum {
  LINE_TEXT = 0,
  LINE_SEARCH,
  LINE_DIVIDER,
  LINE_REPLACE,
  LINE_SEARCH_TRAIL,  /* "<<<<<<< SEARCH" followed by more text */
  LINE_REPLACE_TRAIL, /* ">>>>>>> REPLACE" followed by more text */
  LINE_FENCE,
} line_kind;

typedef struct {
  const char *s; /* the line without its '\n' */
  size_t n;
  int no;        /* 1-based */
} line_view;

typedef struct {
  edit_blocks *out;
  char *err;
  size_t errlen;
  char *prose_path;   /* owned; path candidate from the last non-blank prose line */
  char *fence_path;   /* owned; the path of the open fence */
  int fence_line;
  int fence_blocks;
  int fence_text;     /* non-blank non-marker lines seen in the fence before its first block */
  int fence_text_line;
  char *inner_path;   /* owned; the fence's first line, when it may be the path */
  int inner_path_line;
  buf_t search;
  buf_t replace;
  int nsearch;
  int nreplace;
  int block_line;
} parser;

static int fail(parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(parser *p, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(p->err, p->errlen, fmt, ap);
  va_end(ap);
  return -1;
}

static int is_blank(const char *s, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    if (s[i] != ' ' && s[i] != '\t') {
      return 0;
    }
  }
  return 1;
}

static int has_prefix(const char *s, size_t n, const char *pre)
{
  size_t k = strlen(pre);
  return n >= k && memcmp(s, pre, k) == 0;
}

/* Markers must start the line; trailing blanks are forgiven, other trailing text is not
 * (a model that writes "<<<<<<< SEARCH (old)" has not followed the format, and guessing what it
 * meant could edit the wrong lines). */
static line_kind classify(const char *s, size_t n)
{
  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t')) {
    n--;
  }
  if (n == strlen(MARK_DIVIDER) && memcmp(s, MARK_DIVIDER, n) == 0) {
    return LINE_DIVIDER;
  }
  if (has_prefix(s, n, MARK_SEARCH)) {
    return n == strlen(MARK_SEARCH) ? LINE_SEARCH : LINE_SEARCH_TRAIL;
  }
  if (has_prefix(s, n, MARK_REPLACE)) {
    return n == strlen(MARK_REPLACE) ? LINE_REPLACE : LINE_REPLACE_TRAIL;
  }
  size_t i = 0;
  while (i < n && (s[i] == ' ' || s[i] == '\t')) {
    i++;
  }
  if (n - i >= 3 && memcmp(s + i, "```", 3) == 0) {
    return LINE_FENCE;
  }
  return LINE_TEXT;
}

/* The path a line names, or NULL when it does not look like one: decorations models put around
 * paths are removed; what is left must be non-empty and hold no blank or control character
 * (prose such as "Here are the edits:" is not a path). Returns a new string. */
static char *path_of(const char *s, size_t n)
{
  size_t a = 0;
  while (a < n && (s[a] == ' ' || s[a] == '\t')) {
    a++;
  }
  while (n > a && (s[n - 1] == ' ' || s[n - 1] == '\t')) {
    n--;
  }
  int changed = 1, colon = 0;
  while (changed && n > a) {
    changed = 0;
    if (s[n - 1] == ':') {
      n--;
      changed = colon = 1;
    }
    if (n - a >= 2 && s[a] == '`' && s[n - 1] == '`') {
      a++, n--, changed = 1;
    }
    if (n - a >= 4 && memcmp(s + a, "**", 2) == 0 && memcmp(s + n - 2, "**", 2) == 0) {
      a += 2, n -= 2, changed = 1;
    }
  }
  if (n <= a) {
    return NULL;
  }
  /* "Changes:" is a heading, "src/a.c:" a path. */
  if (colon && !memchr(s + a, '.', n - a) && !memchr(s + a, '/', n - a)) {
    return NULL;
  }
  for (size_t i = a; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c <= ' ' || c == 0x7f || c == '`') {
      return NULL;
    }
  }
  return xstrndup(s + a, n - a);
}

static const char *block_path(const parser *p)
{
  return p->fence_path ? p->fence_path : "no path";
}

static void emit_block(parser *p)
{
  edit_blocks *o = p->out;
  o->v = xrealloc(o->v, (o->n + 1) * sizeof(edit_block));
  edit_block *b = &o->v[o->n++];
  b->number = (int)o->n;
  b->line = p->block_line;
  b->path = xstrdup(p->fence_path);
  b->search_len = p->search.len;
  b->search = p->search.data ? buf_detach(&p->search) : xstrdup("");
  b->search_lines = p->nsearch;
  b->replace_len = p->replace.len;
  b->replace = p->replace.data ? buf_detach(&p->replace) : xstrdup("");
  b->replace_lines = p->nreplace;
  buf_clear(&p->search);
  buf_clear(&p->replace);
  p->nsearch = p->nreplace = 0;
}

static int on_fence_line(parser *p, const line_view *l, line_kind k, parse_state *st)
{
  int number = (int)p->out->n + 1;
  switch (k) {
  case LINE_FENCE:
    if (p->fence_blocks == 0) {
      return fail(p, "fence at answer line %d (%s) holds no SEARCH/REPLACE block", p->fence_line,
                  p->fence_path ? p->fence_path : p->inner_path ? p->inner_path : "no path");
    }
    if (p->fence_text) {
      return fail(p, "block %d (%s): text after the last block at answer line %d", number - 1,
                  p->fence_path, p->fence_text_line);
    }
    free(p->fence_path);
    p->fence_path = NULL;
    *st = ST_PROSE;
    return 0;
  case LINE_SEARCH:
    if (p->inner_path) {
      /* The path was the fence's first line. */
      free(p->fence_path);
      p->fence_path = p->inner_path;
      p->inner_path = NULL;
    }
    if (!p->fence_path) {
      return fail(p,
                  "block %d (answer line %d): path missing: write the file's path on its own "
                  "line before the fence",
                  number, l->no);
    }
    if (p->fence_text) {
      return fail(p, "block %d (%s): text %s at answer line %d", number, p->fence_path,
                  p->fence_blocks ? "between blocks" : "before the first block",
                  p->fence_text_line);
    }
    p->block_line = l->no;
    *st = ST_SEARCH;
    return 0;
  case LINE_DIVIDER:
  case LINE_REPLACE:
  case LINE_REPLACE_TRAIL:
    return fail(p, "answer line %d (%s): '%s' outside a block (no '%s' before it)", l->no,
                block_path(p), k == LINE_DIVIDER ? MARK_DIVIDER : MARK_REPLACE, MARK_SEARCH);
  case LINE_SEARCH_TRAIL:
    return fail(p, "block %d (%s): text after '%s' at answer line %d", number, block_path(p),
                MARK_SEARCH, l->no);
  case LINE_TEXT:
    break;
  }
  if (is_blank(l->s, l->n)) {
    return 0;
  }
  if (p->fence_blocks == 0 && p->fence_text == 0 && !p->inner_path) {
    char *path = path_of(l->s, l->n);
    if (path) {
      p->inner_path = path; /* a path only if the next non-blank line opens a block */
      p->inner_path_line = l->no;
      return 0;
    }
    free(path);
  }
  if (!p->fence_text) {
    p->fence_text_line = p->inner_path ? p->inner_path_line : l->no;
  }
  if (p->inner_path) {
    free(p->inner_path);
    p->inner_path = NULL;
    p->fence_text++;
  }
  p->fence_text++;
  return 0;
}

static int on_block_line(parser *p, const line_view *l, line_kind k, parse_state *st)
{
  int number = (int)p->out->n + 1;
  switch (k) {
  case LINE_SEARCH:
    return fail(p, "block %d (%s): a second '%s' at answer line %d (%s)", number, p->fence_path,
                MARK_SEARCH, l->no,
                *st == ST_SEARCH ? "the block has no divider yet"
                                 : "the block was not closed with " MARK_REPLACE);
  case LINE_SEARCH_TRAIL:
  case LINE_REPLACE_TRAIL:
    return fail(p, "block %d (%s): text after '%s' at answer line %d", number, p->fence_path,
                k == LINE_SEARCH_TRAIL ? MARK_SEARCH : MARK_REPLACE, l->no);
  case LINE_DIVIDER:
    if (*st == ST_REPLACE) {
      return fail(p, "block %d (%s): a second '%s' at answer line %d", number, p->fence_path,
                  MARK_DIVIDER, l->no);
    }
    *st = ST_REPLACE;
    return 0;
  case LINE_REPLACE:
    if (*st == ST_SEARCH) {
      return fail(p, "block %d (%s): missing '%s' between SEARCH and REPLACE (answer line %d)",
                  number, p->fence_path, MARK_DIVIDER, l->no);
    }
    emit_block(p);
    p->fence_blocks++;
    *st = ST_FENCE;
    return 0;
  case LINE_FENCE:
  case LINE_TEXT:
    break;
  }
  buf_t *b = *st == ST_SEARCH ? &p->search : &p->replace;
  buf_append(b, l->s, l->n);
  buf_putc(b, '\n');
  if (*st == ST_SEARCH) {
    p->nsearch++;
  } else {
    p->nreplace++;
  }
  return 0;
}

static int on_prose_line(parser *p, const line_view *l, line_kind k, parse_state *st)
{
  switch (k) {
  case LINE_FENCE:
    p->fence_line = l->no;
    p->fence_blocks = 0;
    p->fence_text = 0;
    p->fence_text_line = 0;
    free(p->fence_path);
    p->fence_path = p->prose_path;
    p->prose_path = NULL;
    *st = ST_FENCE;
    return 0;
  case LINE_SEARCH:
  case LINE_SEARCH_TRAIL:
  case LINE_DIVIDER:
  case LINE_REPLACE:
  case LINE_REPLACE_TRAIL:
    return fail(p, "block %d (answer line %d): edit markers outside a fenced block",
                (int)p->out->n + 1, l->no);
  case LINE_TEXT:
    if (!is_blank(l->s, l->n)) {
      free(p->prose_path);
      p->prose_path = path_of(l->s, l->n);
    }
    return 0;
  }
  return 0;
}

static int parse_lines(parser *p, const char *s, size_t len)
{
  parse_state st = ST_PROSE;
  size_t off = 0;
  int no = 0;
  while (off < len) {
    const char *nl = memchr(s + off, '\n', len - off);
    size_t end = nl ? (size_t)(nl - s) : len;
    line_view l = {s + off, end - off, ++no};
    off = nl ? end + 1 : len;
    if (memchr(l.s, '\0', l.n)) {
      return fail(p, "answer line %d holds a NUL byte", l.no);
    }
    line_kind k = classify(l.s, l.n);
    if ((st != ST_PROSE || k == LINE_FENCE) && memchr(l.s, '\r', l.n)) {
      return fail(p,
                  "block %d (%s): carriage return at answer line %d (blocks use \\n line ends)",
                  (int)p->out->n + 1, block_path(p), l.no);
    }
    int rc = 0;
    switch (st) {
    case ST_PROSE:
      rc = on_prose_line(p, &l, k, &st);
      break;
    case ST_FENCE:
      rc = on_fence_line(p, &l, k, &st);
      break;
    case ST_SEARCH:
    case ST_REPLACE:
      rc = on_block_line(p, &l, k, &st);
      break;
    }
    if (rc) {
      return -1;
    }
  }
  switch (st) {
  case ST_SEARCH:
  case ST_REPLACE:
    return fail(p, "block %d (%s) is not closed: no '%s' after answer line %d",
                (int)p->out->n + 1, p->fence_path, MARK_REPLACE, p->block_line);
  case ST_FENCE:
    return fail(p, "the fence opened at answer line %d (%s) is not closed", p->fence_line,
                block_path(p));
  case ST_PROSE:
    break;
  }
  if (p->out->n == 0) {
    return fail(p, "no SEARCH/REPLACE blocks in the answer");
  }
  return 0;
}

int edit_blocks_parse(const char *answer, size_t len, edit_blocks *out, char *err,
                      size_t errlen)
{
  memset(out, 0, sizeof(*out));
  parser p;
  memset(&p, 0, sizeof(p));
  p.out = out;
  p.err = err;
  p.errlen = errlen;
  int rc = parse_lines(&p, answer ? answer : "", answer ? len : 0);
  free(p.prose_path);
  free(p.fence_path);
  free(p.inner_path);
  buf_free(&p.search);
  buf_free(&p.replace);
  if (rc) {
    edit_blocks_free(out);
  }
  return rc;
}

void edit_blocks_free(edit_blocks *b)
{
  for (size_t i = 0; i < b->n; i++) {
    free(b->v[i].path);
    free(b->v[i].search);
    free(b->v[i].replace);
  }
  free(b->v);
  b->v = NULL;
  b->n = 0;
}

/* Whole-file rewrites cost output tokens, which are priced several times input: the rules ask
 * for the smallest blocks that are still unique. */
static const char edit_rules[] =
  "Answer with SEARCH/REPLACE blocks and write no other fenced code (a fence without blocks "
  "makes the whole answer unusable). For each file you change, write its path alone on a "
  "line, then a fenced block holding one or more edits:\n"
  "<<<<<<< SEARCH\n"
  "(the current lines, copied exactly: same indentation, same comments)\n"
  "=======\n"
  "(the lines that replace them)\n"
  ">>>>>>> REPLACE\n"
  "Rules:\n"
  "- SEARCH must occur exactly once in the file as you were given it: copy the lines to change "
  "plus only as many lines around them as make them unique.\n"
  "- Several blocks for one file go in its fence, in file order; two blocks never touch the "
  "same lines; each block is matched against the original file, not against earlier blocks.\n"
  "- An empty REPLACE deletes the lines. An empty SEARCH creates a new file whose whole text "
  "is the REPLACE part; use it only for files that do not exist.\n"
  "- Never rewrite an existing file whole, never write line numbers, and use only the paths "
  "you were given (or new ones for new files).\n"
  "Example:\n"
  "src/stack.c\n"
  "```c\n"
  "<<<<<<< SEARCH\n"
  "int stack_push(stack *s, int v)\n"
  "{\n"
  "  s->items[s->n++] = v;\n"
  "=======\n"
  "int stack_push(stack *s, int v)\n"
  "{\n"
  "  if (s->n == STACK_MAX) {\n"
  "    return -1;\n"
  "  }\n"
  "  s->items[s->n++] = v;\n"
  ">>>>>>> REPLACE\n"
  "```\n"
  "src/stack.h\n"
  "```c\n"
  "<<<<<<< SEARCH\n"
  "#define STACK_MAX 64\n"
  "=======\n"
  "#define STACK_MAX 256\n"
  ">>>>>>> REPLACE\n"
  "```\n";

const char *edit_blocks_rules(void)
{
  return edit_rules;
}

void edit_blocks_format(const edit_blocks *b, buf_t *out)
{
  for (size_t i = 0; i < b->n; i++) {
    const edit_block *e = &b->v[i];
    buf_printf(out, "%s\n```\n" MARK_SEARCH "\n", e->path);
    buf_append(out, e->search, e->search_len);
    buf_puts(out, MARK_DIVIDER "\n");
    buf_append(out, e->replace, e->replace_len);
    buf_puts(out, MARK_REPLACE "\n```\n\n");
  }
}
