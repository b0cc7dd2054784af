/* prompt_parse: checks that a model's answer has the shape its action asked for, and extracts
 * the code or the findings.
 *
 * Fenced blocks follow a simplified CommonMark: a fence is a line whose first non-blank
 * characters are three or more backticks or tildes (at any indentation, so blocks nested in
 * list items count); a backtick fence's info string may not hold a backtick. The block ends at
 * a line holding only a run of the same character at least as long, or at the end of the
 * answer (then it is "not closed"). Content lines lose up to as much leading whitespace as the
 * opening fence had. Indented (4-space) code blocks are not recognised, so a fence line inside
 * one still counts as a fence: models do not write indented code blocks around fences. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context/scan.h"
#include "prompt/prompt.h"
#include "util/buf.h"
#include "util/text.h"

typedef struct {
  char *code;      /* owned: the content, fences and indentation stripped */
  char info[32];   /* the first word of the info string, lower-case */
  int answer_line; /* 1-based line of the opening fence in the answer */
  int closed;
} fenced;

typedef struct {
  fenced *v;
  size_t n, cap;
} fenced_list;

static void fenced_list_free(fenced_list *l)
{
  for (size_t i = 0; i < l->n; i++) {
    free(l->v[i].code);
  }
  free(l->v);
  memset(l, 0, sizeof(*l));
}

static int is_blank(char c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static char lower(char c)
{
  return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* A fence line at s[0..n) (without its newline)? Sets the fence character, its length and the
 * indentation before it; *info and *info_len get the info string (trimmed). */
static int fence_open(const char *s, size_t n, char *fch, size_t *flen, size_t *indent,
                      const char **info, size_t *info_len)
{
  size_t i = 0;
  while (i < n && (s[i] == ' ' || s[i] == '\t')) {
    i++;
  }
  if (i >= n || (s[i] != '`' && s[i] != '~')) {
    return 0;
  }
  char c = s[i];
  size_t r = i;
  while (r < n && s[r] == c) {
    r++;
  }
  if (r - i < 3) {
    return 0;
  }
  size_t a = r, b = n;
  while (a < b && is_blank(s[a])) {
    a++;
  }
  while (b > a && is_blank(s[b - 1])) {
    b--;
  }
  if (c == '`' && memchr(s + a, '`', b - a)) {
    return 0; /* ```inline``` code, not a fence */
  }
  *fch = c;
  *flen = r - i;
  *indent = i;
  *info = s + a;
  *info_len = b - a;
  return 1;
}

static int fence_close(const char *s, size_t n, char fch, size_t flen)
{
  size_t i = 0;
  while (i < n && (s[i] == ' ' || s[i] == '\t')) {
    i++;
  }
  size_t r = i;
  while (r < n && s[r] == fch) {
    r++;
  }
  if (r - i < flen) {
    return 0;
  }
  while (r < n && is_blank(s[r])) {
    r++;
  }
  return r == n;
}

static void find_fenced(const char *text, size_t len, fenced_list *out)
{
  memset(out, 0, sizeof(*out));
  buf_t code = BUF_INIT;
  fenced *cur = NULL;
  char fch = 0;
  size_t flen = 0, indent = 0;
  int line = 0;
  size_t p = 0;
  while (p < len) {
    const char *nl = memchr(text + p, '\n', len - p);
    size_t e = nl ? (size_t)(nl - text) : len;
    const char *s = text + p;
    size_t n = e - p;
    line++;
    p = nl ? e + 1 : len;
    if (!cur) {
      const char *info;
      size_t info_len;
      if (fence_open(s, n, &fch, &flen, &indent, &info, &info_len)) {
        if (out->n == out->cap) {
          out->cap = out->cap ? out->cap * 2 : 4;
          out->v = xrealloc(out->v, out->cap * sizeof(*out->v));
        }
        cur = &out->v[out->n++];
        memset(cur, 0, sizeof(*cur));
        cur->answer_line = line;
        size_t k = 0;
        while (k < info_len && k + 1 < sizeof(cur->info) && !is_blank(info[k]) && info[k] != '{' &&
               info[k] != ',') {
          cur->info[k] = lower(info[k]);
          k++;
        }
        buf_clear(&code);
      }
      continue;
    }
    if (fence_close(s, n, fch, flen)) {
      cur->code = xstrdup(code.data ? code.data : "");
      cur->closed = 1;
      cur = NULL;
      continue;
    }
    size_t k = 0;
    while (k < indent && k < n && (s[k] == ' ' || s[k] == '\t')) {
      k++;
    }
    buf_append(&code, s + k, n - k);
    buf_putc(&code, '\n');
  }
  if (cur) {
    cur->code = xstrdup(code.data ? code.data : "");
  }
  buf_free(&code);
}

/* ---- Elided code ---------------------------------------------------------------------------- */

static int contains_ci(const char *s, size_t n, const char *w)
{
  size_t wl = strlen(w);
  for (size_t i = 0; i + wl <= n; i++) {
    size_t k = 0;
    while (k < wl && lower(s[i + k]) == w[k]) {
      k++;
    }
    if (k == wl) {
      return 1;
    }
  }
  return 0;
}

static int has_dots(const char *s, size_t n)
{
  return contains_ci(s, n, "...") || contains_ci(s, n, "\xe2\x80\xa6"); /* U+2026 */
}

/* A comment's text (markers included) that stands for code left out: "// ... rest unchanged",
 * "# ... existing code ...", a block comment holding only "...", "-- rest of the function
 * unchanged". A comment that merely ends a sentence with "..." ("// wait for it...") is not. */
static int comment_elides(const char *s, size_t n)
{
  static const char marks[] = "/*#-!<>[]= \t\r\n";
  while (n > 0 && s[0] && strchr(marks, s[0])) {
    s++;
    n--;
  }
  while (n > 0 && s[n - 1] && strchr(marks, s[n - 1])) {
    n--;
  }
  if (n == 0) {
    return 0;
  }
  if ((n >= 3 && memcmp(s, "...", 3) == 0) || (n >= 3 && memcmp(s, "\xe2\x80\xa6", 3) == 0)) {
    return 1;
  }
  static const char *const with_dots[] = {"rest",     "unchanged", "existing", "remain",   "same",
                                          "omitted",  "other",     "more",     "previous", "before",
                                          "original", "etc",       "here",     NULL};
  static const char *const alone[] = {
      "rest of the code",   "rest of the function", "rest of the file",
      "rest of the method", "rest of the body",     "rest of the class",
      "rest unchanged",     "remains unchanged",    "remain unchanged",
      "existing code",      "code unchanged",       "unchanged code",
      "same as before",     "omitted for brevity",  NULL};
  if (has_dots(s, n)) {
    for (size_t i = 0; with_dots[i]; i++) {
      if (contains_ci(s, n, with_dots[i])) {
        return 1;
      }
    }
  }
  for (size_t i = 0; alone[i]; i++) {
    if (contains_ci(s, n, alone[i])) {
      return 1;
    }
  }
  size_t a = 0, b = n;
  while (a < b && (s[a] == '(' || is_blank(s[a]))) {
    a++;
  }
  while (b > a && (s[b - 1] == ')' || s[b - 1] == '.' || is_blank(s[b - 1]))) {
    b--;
  }
  return b - a == 9 && contains_ci(s + a, b - a, "unchanged");
}

typedef struct {
  int line;         /* 1-based line of the block where code is elided; 0: none */
  char excerpt[64]; /* that line, trimmed and cut */
} elision;

static int line_of(const char *s, size_t off)
{
  int line = 1;
  for (size_t i = 0; i < off; i++) {
    line += s[i] == '\n';
  }
  return line;
}

static void elision_set(elision *el, const char *code, size_t off)
{
  if (el->line) {
    return;
  }
  size_t a = off, b = off;
  while (a > 0 && code[a - 1] != '\n') {
    a--;
  }
  while (code[b] && code[b] != '\n') {
    b++;
  }
  while (a < b && is_blank(code[a])) {
    a++;
  }
  while (b > a && is_blank(code[b - 1])) {
    b--;
  }
  size_t n = b - a < sizeof(el->excerpt) - 1 ? b - a : sizeof(el->excerpt) - 1;
  memcpy(el->excerpt, code + a, n);
  el->excerpt[n] = '\0';
  el->line = line_of(code, off);
}

/* Comments in a gap between tokens of the brace lexer (whitespace, comments, preprocessor
 * lines): strings are tokens, so a "//" found here really starts a comment. */
static void gap_comments(const char *code, size_t a, size_t b, elision *el)
{
  size_t i = a;
  while (i + 1 < b && !el->line) {
    if (code[i] == '/' && code[i + 1] == '/') {
      size_t e = i;
      while (e < b && code[e] != '\n') {
        e++;
      }
      if (comment_elides(code + i, e - i)) {
        elision_set(el, code, i);
      }
      i = e;
    } else if (code[i] == '/' && code[i + 1] == '*') {
      size_t e = i + 2;
      while (e + 1 < b && !(code[e] == '*' && code[e + 1] == '/')) {
        e++;
      }
      e = e + 1 < b ? e + 2 : b;
      if (comment_elides(code + i, e - i)) {
        elision_set(el, code, i);
      }
      i = e;
    } else {
      i++;
    }
  }
}

/* Python and Lua comments: a line scanner that knows their strings well enough not to take a
 * '#' or "--" inside one for a comment. */
static void script_comments(lang_id lang, const char *code, size_t len, elision *el)
{
  size_t i = 0;
  char q = 0;       /* open string quote, 0 outside */
  int triple = 0;   /* Python """ / ''' */
  int longlev = -1; /* Lua [[ / [==[ level of an open long string or comment; -1 none */
  size_t long_start = 0;
  int long_comment = 0;
  while (i < len && !el->line) {
    char c = code[i];
    if (longlev >= 0) {
      if (c == ']') {
        size_t k = i + 1;
        int lev = 0;
        while (k < len && code[k] == '=') {
          lev++;
          k++;
        }
        if (k < len && code[k] == ']' && lev == longlev) {
          if (long_comment && comment_elides(code + long_start, k + 1 - long_start)) {
            elision_set(el, code, long_start);
          }
          longlev = -1;
          i = k + 1;
          continue;
        }
      }
      i++;
      continue;
    }
    if (q) {
      if (c == '\\') {
        i += 2;
        continue;
      }
      if (c == '\n' && !triple) {
        q = 0; /* an unterminated one-line string ends at the line */
      } else if (c == q) {
        if (!triple) {
          q = 0;
        } else if (i + 2 < len && code[i + 1] == q && code[i + 2] == q) {
          q = 0;
          i += 3;
          continue;
        }
      }
      i++;
      continue;
    }
    if (c == '"' || c == '\'') {
      q = c;
      triple = lang == LANG_PYTHON && i + 2 < len && code[i + 1] == c && code[i + 2] == c;
      i += triple ? 3 : 1;
      continue;
    }
    int py_comment = lang == LANG_PYTHON && c == '#';
    int lua_comment = lang == LANG_LUA && c == '-' && i + 1 < len && code[i + 1] == '-';
    if (lang == LANG_LUA && (c == '[' || lua_comment)) {
      size_t k = lua_comment ? i + 2 : i;
      if (k < len && code[k] == '[') {
        size_t m = k + 1;
        int lev = 0;
        while (m < len && code[m] == '=') {
          lev++;
          m++;
        }
        if (m < len && code[m] == '[') {
          longlev = lev;
          long_start = i;
          long_comment = lua_comment;
          i = m + 1;
          continue;
        }
      }
    }
    if (py_comment || lua_comment) {
      size_t e = i;
      while (e < len && code[e] != '\n') {
        e++;
      }
      if (comment_elides(code + i, e - i)) {
        elision_set(el, code, i);
      }
      i = e;
      continue;
    }
    i++;
  }
}

/* Other languages: a line whose first non-blank characters are a usual comment marker. */
static void plain_comments(const char *code, size_t len, elision *el)
{
  size_t p = 0;
  while (p < len && !el->line) {
    const char *nl = memchr(code + p, '\n', len - p);
    size_t e = nl ? (size_t)(nl - code) : len;
    size_t a = p;
    while (a < e && is_blank(code[a])) {
      a++;
    }
    int marker = (a + 1 < e && ((code[a] == '/' && (code[a + 1] == '/' || code[a + 1] == '*')) ||
                                (code[a] == '-' && code[a + 1] == '-'))) ||
                 (a < e && code[a] == '#');
    if (marker && comment_elides(code + a, e - a)) {
      elision_set(el, code, a);
    }
    p = e + 1;
  }
}

/* A line that is nothing but "..." (or "…"). Python allows it as a body (`def f(): ...` on
 * two lines, protocols, stubs): there it counts only when the line before does not open a
 * block, which is how a model writes "the code in between stays". */
static void lone_dots(lang_id lang, const char *code, size_t len, elision *el)
{
  size_t p = 0;
  char prev_last = 0; /* last non-blank character of the previous non-blank line */
  while (p < len && !el->line) {
    const char *nl = memchr(code + p, '\n', len - p);
    size_t e = nl ? (size_t)(nl - code) : len;
    size_t a = p, b = e;
    while (a < b && is_blank(code[a])) {
      a++;
    }
    while (b > a && is_blank(code[b - 1])) {
      b--;
    }
    int dots =
        b - a == 3 && (memcmp(code + a, "...", 3) == 0 || memcmp(code + a, "\xe2\x80\xa6", 3) == 0);
    if (dots && !(lang == LANG_PYTHON && prev_last == ':')) {
      elision_set(el, code, a);
    }
    if (b > a) {
      prev_last = code[b - 1];
    }
    p = e + 1;
  }
}

static int is_brace_lang(lang_id lang)
{
  switch (lang) {
  case LANG_C:
  case LANG_CPP:
  case LANG_JAVASCRIPT:
  case LANG_TYPESCRIPT:
  case LANG_GO:
  case LANG_RUST:
  case LANG_JAVA:
    return 1;
  default:
    return 0;
  }
}

typedef struct {
  char ch;
  size_t off;
} open_bracket;

static char closer_of(char c)
{
  return c == '(' ? ')' : c == '[' ? ']' : '}';
}

/* The state of check_brace_code's one pass over the tokens. */
typedef struct {
  const char *code;
  elision *el;
  buf_t *prob;
  open_bracket *stack;
  size_t depth, cap;
  size_t gap;         /* where the text after the previous token starts */
  int pending_dots;   /* the previous token was "..." */
  size_t dots_off;
  int rc;
} brace_check;

static void brace_check_token(const scan_code_token *t, void *data)
{
  brace_check *c = data;
  const char *code = c->code;
  gap_comments(code, c->gap, t->off, c->el);
  c->gap = t->end;
  int p = t->punct;
  if (c->pending_dots && (p == '}' || p == ';' || p == SCAN_PUNCT_LINE_END)) {
    elision_set(c->el, code, c->dots_off);
  }
  c->pending_dots = p == SCAN_PUNCT_ELLIPSIS;
  c->dots_off = t->off;
  /* After the first bracket problem the pass goes on for the comments: an elided stretch is
   * the likelier cause of the imbalance, and the more useful thing to report. */
  if (!p || c->rc != 0) {
    return;
  }
  if (p == '(' || p == '[' || p == '{') {
    if (c->depth == c->cap) {
      c->cap = c->cap ? c->cap * 2 : 32;
      c->stack = xrealloc(c->stack, c->cap * sizeof(*c->stack));
    }
    c->stack[c->depth].ch = (char)p;
    c->stack[c->depth].off = t->off;
    c->depth++;
  } else if (p == ')' || p == ']' || p == '}') {
    if (c->depth == 0) {
      buf_printf(c->prob,
                 "the code's brackets do not balance: '%c' on line %d of the code "
                 "block closes nothing",
                 p, line_of(code, t->off));
      c->rc = -1;
    } else if (closer_of(c->stack[c->depth - 1].ch) != p) {
      buf_printf(c->prob,
                 "the code's brackets do not balance: '%c' on line %d of the code "
                 "block does not match the '%c' opened on line %d",
                 p, line_of(code, t->off), c->stack[c->depth - 1].ch,
                 line_of(code, c->stack[c->depth - 1].off));
      c->rc = -1;
    } else {
      c->depth--;
    }
  }
}

/* Brace languages: one lexer pass finds comments that elide code, a "..." token where code
 * should be (`{ ... }`, `...;`), and brackets that do not balance. Writes a problem to `prob`
 * and returns -1 on the first one. */
static int check_brace_code(lang_id lang, const char *code, size_t len, elision *el, buf_t *prob)
{
  brace_check c = {.code = code, .el = el, .prob = prob};
  scan_code_tokens(lang, code, len, brace_check_token, &c);
  gap_comments(code, c.gap, len, el);
  if (c.rc == 0) {
    if (c.depth > 0) {
      buf_printf(prob,
                 "the code's brackets do not balance: the '%c' opened on line %d of the "
                 "code block is never closed (is the code cut short?)",
                 c.stack[c.depth - 1].ch, line_of(code, c.stack[c.depth - 1].off));
      c.rc = -1;
    }
  }
  free(c.stack);
  return c.rc;
}

/* ---- The answer kinds ----------------------------------------------------------------------- */

static void set_problem(prompt_answer *out, buf_t *b)
{
  out->ok = 0;
  out->problem = buf_detach(b);
}

static void parse_code(prompt_output kind, lang_id lang, const char *text, size_t len,
                       int scope_start, int scope_end, prompt_answer *out)
{
  buf_t prob = BUF_INIT;
  char what[96];
  if (kind == PROMPT_OUT_TESTS) {
    snprintf(what, sizeof(what), "the tests");
  } else {
    snprintf(what, sizeof(what), "the complete replacement for lines %d-%d", scope_start,
             scope_end);
  }
  fenced_list blocks;
  find_fenced(text, len, &blocks);
  if (blocks.n == 0) {
    buf_printf(&prob, "no fenced code block in the answer: %s must be in one ``` block", what);
    set_problem(out, &prob);
    fenced_list_free(&blocks);
    return;
  }
  if (blocks.n > 1) {
    buf_printf(&prob,
               "the answer has %zu fenced code blocks; exactly one is expected, holding "
               "%s",
               blocks.n, what);
    set_problem(out, &prob);
    fenced_list_free(&blocks);
    return;
  }
  fenced *f = &blocks.v[0];
  const char *code = f->code;
  size_t clen = strlen(code);
  int empty = 1;
  for (size_t i = 0; i < clen && empty; i++) {
    empty = is_blank(code[i]) || code[i] == '\n';
  }
  elision el = {0, {0}};
  if (!f->closed) {
    buf_printf(&prob,
               "the code block opened on line %d of the answer is never closed (was the "
               "answer cut off?)",
               f->answer_line);
  } else if (empty) {
    buf_printf(&prob, "the code block is empty; it must hold %s", what);
  } else if (strcmp(f->info, "diff") == 0 || strcmp(f->info, "patch") == 0) {
    buf_printf(&prob, "the answer is a diff; %s is required, not a diff", what);
  } else {
    lone_dots(lang, code, clen, &el);
    if (is_brace_lang(lang)) {
      check_brace_code(lang, code, clen, &el, &prob);
    } else if (lang == LANG_PYTHON || lang == LANG_LUA) {
      script_comments(lang, code, clen, &el);
    } else {
      plain_comments(code, clen, &el);
    }
    if (el.line) {
      /* Elision explains unbalanced brackets too, and is the more useful thing to say. */
      buf_clear(&prob);
      buf_printf(&prob,
                 "the answer elides code with '...' (line %d of the code block: %s); "
                 "%s is required, every line written out",
                 el.line, el.excerpt, what);
    }
  }
  if (prob.len > 0) {
    set_problem(out, &prob);
    fenced_list_free(&blocks);
    return;
  }
  buf_free(&prob);
  out->ok = 1;
  /* find_fenced ends every content line with a newline, so the code already ends with one. */
  out->replacement = f->code;
  f->code = NULL;
  fenced_list_free(&blocks);
}

/* Skips a run of the characters in `set`. */
static size_t skip_set(const char *s, size_t i, size_t n, const char *set)
{
  while (i < n && s[i] && strchr(set, s[i])) {
    i++;
  }
  return i;
}

static size_t parse_int(const char *s, size_t i, size_t n, long *v)
{
  size_t a = i;
  *v = 0;
  while (i < n && s[i] >= '0' && s[i] <= '9' && i - a < 9) {
    *v = *v * 10 + (s[i] - '0');
    i++;
  }
  return i > a && !(i < n && s[i] >= '0' && s[i] <= '9') ? i : a;
}

/* "12: msg", "12-14: msg", "L12: msg", "line 12: msg", "**L12**: msg", "`12`: msg" at s[i..n).
 * Returns 1 with the first line and the message span. */
static int finding_at(const char *s, size_t i, size_t n, long *line, size_t *ma, size_t *mb)
{
  i = skip_set(s, i, n, "*`_ \t");
  if (i + 5 <= n && contains_ci(s + i, 5, "lines")) {
    i += 5;
  } else if (i + 4 <= n && contains_ci(s + i, 4, "line")) {
    i += 4;
  }
  i = skip_set(s, i, n, " \t");
  if (i < n && (s[i] == 'L' || s[i] == 'l') && i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '9') {
    i++;
  }
  long a, b;
  size_t j = parse_int(s, i, n, &a);
  if (j == i) {
    return 0;
  }
  i = skip_set(s, j, n, " \t");
  size_t dash = 0;
  if (i < n && s[i] == '-') {
    dash = 1;
  } else if (i + 3 <= n && memcmp(s + i, "\xe2\x80\x93", 3) == 0) { /* en dash */
    dash = 3;
  }
  if (dash) {
    i = skip_set(s, i + dash, n, " \t");
    if (i < n && (s[i] == 'L' || s[i] == 'l')) {
      i++;
    }
    j = parse_int(s, i, n, &b);
    if (j == i) {
      return 0;
    }
    i = j;
  }
  i = skip_set(s, i, n, "*`_ \t");
  if (i >= n || s[i] != ':') {
    return 0;
  }
  i = skip_set(s, i + 1, n, "*_ \t");
  size_t e = n;
  while (e > i && is_blank(s[e - 1])) {
    e--;
  }
  if (e == i) {
    return 0;
  }
  *line = a;
  *ma = i;
  *mb = e;
  return 1;
}

static int is_no_findings(const char *s, size_t n)
{
  static const char *const ok[] = {"no findings",     "no findings found", "no issues",
                                   "no issues found", "no problems found", NULL};
  size_t a = skip_set(s, 0, n, "-*`_>#. \t"), b = n;
  while (b > a && strchr("*`_.!: \t\r", s[b - 1])) {
    b--;
  }
  for (size_t i = 0; ok[i]; i++) {
    if (b - a == strlen(ok[i]) && contains_ci(s + a, b - a, ok[i])) {
      return 1;
    }
  }
  return 0;
}

static void parse_review(const char *text, size_t len, int scope_start, int scope_end,
                         prompt_answer *out)
{
  size_t cap = 0, outside = 0;
  int none = 0;
  size_t p = 0;
  while (p < len) {
    const char *nl = memchr(text + p, '\n', len - p);
    size_t e = nl ? (size_t)(nl - text) : len;
    const char *s = text + p;
    size_t n = e - p;
    p = nl ? e + 1 : len;
    if (is_no_findings(s, n)) {
      none = 1;
      continue;
    }
    long line = 0;
    size_t ma = 0, mb = 0;
    /* A bullet ("- ", "* ", "• ") or a list number ("3. ", "3) ") may come first; a path
     * ("src/a.c:12: ...") too, as review-all writes them. */
    size_t i = skip_set(s, 0, n, " \t");
    if (i + 1 < n && (s[i] == '-' || s[i] == '*' || s[i] == '+') && is_blank(s[i + 1])) {
      i += 2;
    } else if (i + 3 < n && memcmp(s + i, "\xe2\x80\xa2", 3) == 0) {
      i += 3;
    }
    int found = finding_at(s, i, n, &line, &ma, &mb);
    if (!found) {
      long num;
      size_t j = parse_int(s, i, n, &num);
      if (j > i && j + 1 < n && (s[j] == '.' || s[j] == ')') && is_blank(s[j + 1])) {
        found = finding_at(s, j + 1, n, &line, &ma, &mb);
      }
    }
    if (!found) {
      size_t k = i;
      while (k < n && !is_blank(s[k]) && s[k] != ':') {
        k++;
      }
      if (k > i && k < n && s[k] == ':') {
        found = finding_at(s, k + 1, n, &line, &ma, &mb);
      }
    }
    if (!found) {
      continue;
    }
    if (line < scope_start || line > scope_end) {
      outside++;
      continue;
    }
    if (out->nfindings == cap) {
      cap = cap ? cap * 2 : 8;
      out->findings = xrealloc(out->findings, cap * sizeof(*out->findings));
    }
    out->findings[out->nfindings].line = (int)line;
    out->findings[out->nfindings].message = xstrndup(s + ma, mb - ma);
    out->nfindings++;
  }
  buf_t prob = BUF_INIT;
  if (out->nfindings > 0 || (none && outside == 0)) {
    out->ok = 1;
    return;
  }
  if (outside > 0) {
    buf_printf(&prob,
               "every finding (%zu) cites a line outside lines %d-%d; cite the file's own "
               "line numbers, shown before the '|'",
               outside, scope_start, scope_end);
  } else {
    buf_printf(&prob, "no finding in the \"LINE: [severity] message\" format and no "
                      "\"no findings\" line in the answer");
  }
  set_problem(out, &prob);
}

int prompt_parse_answer(prompt_output kind, lang_id lang, const char *text, size_t len,
                        int scope_start, int scope_end, prompt_answer *out)
{
  if (!out) {
    return -1;
  }
  memset(out, 0, sizeof(*out));
  if (!text) {
    len = 0;
    text = "";
  }
  buf_t prob = BUF_INIT;
  int blank = 1;
  for (size_t i = 0; i < len && blank; i++) {
    blank = is_blank(text[i]) || text[i] == '\n';
  }
  if (blank) {
    buf_puts(&prob, "the answer is empty");
  } else if (memchr(text, '\0', len)) {
    buf_puts(&prob, "the answer contains a NUL byte");
  } else if (!utf8_valid(text, len)) {
    buf_puts(&prob, "the answer is not valid UTF-8");
  }
  if (prob.len > 0) {
    set_problem(out, &prob);
    return 0;
  }
  buf_free(&prob);
  switch (kind) {
  case PROMPT_OUT_REPLACE:
  case PROMPT_OUT_TESTS:
    parse_code(kind, lang, text, len, scope_start, scope_end, out);
    break;
  case PROMPT_OUT_REVIEW:
    parse_review(text, len, scope_start, scope_end, out);
    break;
  default:
    out->ok = 1;
    break;
  }
  return 0;
}

void prompt_answer_free(prompt_answer *a)
{
  if (!a) {
    return;
  }
  free(a->problem);
  free(a->replacement);
  for (size_t i = 0; i < a->nfindings; i++) {
    free(a->findings[i].message);
  }
  free(a->findings);
  memset(a, 0, sizeof(*a));
}
