/* Lua: blocks are keywords. `function`, `if`, `do` and `repeat` open a block (`while` and
 * `for` open theirs with `do`); `end` and `until` close one. A function is named by its
 * header (`function M.a:b(`, `local function f(`) or by what it is assigned to
 * (`local f = function(`, `M.f = function(`, `f = function(` in a table constructor). */
#include <stdlib.h>
#include <string.h>

#include "context/scan_int.h"
#include "util/buf.h"

enum { LT_IDENT = 1, LT_STR, LT_NUM, LT_PUNCT };

typedef struct {
  int type;
  char ch;
  size_t off, end;
} lua_tok;

typedef struct {
  const char *s;
  size_t len, p;
  scan_ctx *sc; /* receives comments; NULL when only lexing */
} lua_lex;

/* Length of a long bracket opener `[[`, `[==[` at p (its level in *level), or 0. */
static size_t lua_long_open(const char *s, size_t p, size_t len, size_t *level)
{
  if (p >= len || s[p] != '[') {
    return 0;
  }
  size_t q = p + 1;
  while (q < len && s[q] == '=') {
    q++;
  }
  if (q < len && s[q] == '[') {
    *level = q - p - 1;
    return q - p + 1;
  }
  return 0;
}

/* End of a long string/comment body starting at p, closed by `]` level*'=' `]`. */
static size_t lua_long_close(const char *s, size_t p, size_t len, size_t level)
{
  while (p < len) {
    const char *r = memchr(s + p, ']', len - p);
    if (!r) {
      return len;
    }
    size_t q = (size_t)(r - s) + 1;
    size_t k = 0;
    while (q < len && s[q] == '=' && k < level) {
      q++;
      k++;
    }
    if (k == level && q < len && s[q] == ']') {
      return q + 1;
    }
    p = (size_t)(r - s) + 1;
  }
  return len;
}

static size_t lua_quoted(const char *s, size_t p, size_t len)
{
  char q = s[p++];
  while (p < len) {
    char c = s[p];
    if (c == q) {
      return p + 1;
    }
    if (c == '\\') {
      p += 2; /* also `\` newline and `\z` */
      continue;
    }
    if (c == '\n') {
      return p;
    }
    p++;
  }
  return len;
}

static int lua_next(lua_lex *lx, lua_tok *t)
{
  const char *s = lx->s;
  size_t len = lx->len;
  size_t p = lx->p;
  for (;;) {
    if (p >= len) {
      lx->p = len;
      return 0;
    }
    unsigned char c = (unsigned char)s[p];
    if (scan_is_space(c) || c == '\n') {
      p++;
      continue;
    }
    if (c == '-' && p + 1 < len && s[p + 1] == '-') {
      size_t level, ol = lua_long_open(s, p + 2, len, &level);
      size_t e;
      if (ol) {
        e = lua_long_close(s, p + 2 + ol, len, level);
      } else {
        const char *nl = memchr(s + p, '\n', len - p);
        e = nl ? (size_t)(nl - s) : len;
      }
      if (lx->sc) {
        scan_add_comment(lx->sc, p, e);
      }
      p = e;
      continue;
    }
    t->off = p;
    t->ch = 0;
    if (scan_is_ident_start(c)) {
      size_t q = p + 1;
      while (q < len && scan_is_ident_char((unsigned char)s[q])) {
        q++;
      }
      t->type = LT_IDENT;
      t->end = q;
    } else if (c >= '0' && c <= '9') {
      size_t q = p + 1;
      while (q < len && (scan_is_ident_char((unsigned char)s[q]) ||
                         (s[q] == '.' && !(q + 1 < len && s[q + 1] == '.')) ||
                         ((s[q] == '+' || s[q] == '-') &&
                          (s[q - 1] == 'e' || s[q - 1] == 'E' || s[q - 1] == 'p' ||
                           s[q - 1] == 'P')))) {
        q++;
      }
      t->type = LT_NUM;
      t->end = q;
    } else if (c == '"' || c == '\'') {
      t->type = LT_STR;
      t->end = lua_quoted(s, p, len);
    } else {
      size_t level, ol = lua_long_open(s, p, len, &level);
      if (ol) {
        t->type = LT_STR;
        t->end = lua_long_close(s, p + ol, len, level);
      } else {
        t->type = LT_PUNCT;
        t->ch = (char)c;
        t->end = p + 1;
      }
    }
    lx->p = t->end;
    return 1;
  }
}

static int lt_is(const char *s, const lua_tok *t, const char *w)
{
  return t->type == LT_IDENT && scan_word_is(s + t->off, t->end - t->off, w);
}

#define LUA_HIST 8

typedef struct {
  int def; /* definition this block is the body of, or -1 */
} lua_block;

static int lua_parent(const lua_block *stack, size_t n)
{
  for (size_t i = n; i-- > 0;) {
    if (stack[i].def >= 0) {
      return stack[i].def;
    }
  }
  return -1;
}

void scan_lua_file(scan_ctx *sc)
{
  const char *s = sc->src;
  lua_lex lx = {s, sc->len, 0, sc};
  lua_block *stack = NULL;
  size_t nstack = 0, cap = 0;
  lua_tok hist[LUA_HIST]; /* hist[0] is the latest token */
  int nhist = 0;
  int want_params = -1; /* def whose parameter list ends its header */
  int pdepth = 0;
  lua_tok t;
  while (lua_next(&lx, &t)) {
    int push = 0, pop = 0, def = -1;
    if (t.type == LT_IDENT) {
      size_t n = t.end - t.off;
      const char *w = s + t.off;
      if (scan_word_is(w, n, "function")) {
        push = 1;
        /* Named header: function a.b.c:d( */
        lua_lex ahead = lx;
        ahead.sc = NULL;
        lua_tok a;
        size_t name_off = 0, name_end = 0;
        if (lua_next(&ahead, &a) && a.type == LT_IDENT) {
          name_off = a.off;
          name_end = a.end;
          int method = 0;
          for (;;) {
            lua_lex save = ahead;
            lua_tok sep, part;
            if (!lua_next(&ahead, &sep) || sep.type != LT_PUNCT ||
                (sep.ch != '.' && sep.ch != ':') || !lua_next(&ahead, &part) ||
                part.type != LT_IDENT) {
              ahead = save;
              break;
            }
            method = sep.ch == ':';
            name_end = part.end;
          }
          size_t first = t.off;
          if (nhist > 0 && lt_is(s, &hist[0], "local")) {
            first = hist[0].off;
          }
          int parent = lua_parent(stack, nstack);
          def = scan_add_def(sc, method ? DEF_METHOD : DEF_FUNCTION, name_off,
                             name_end - name_off, first, first, scan_line_of(sc, t.off),
                             parent);
        } else if (nhist >= 4 && hist[0].type == LT_PUNCT && hist[0].ch == '=' &&
                   hist[1].type == LT_PUNCT && hist[1].ch == ']' && hist[2].type == LT_STR &&
                   hist[3].type == LT_PUNCT && hist[3].ch == '[') {
          /* ["key"] = function( in a table constructor: named by the key */
          size_t q = hist[2].off, e = hist[2].end;
          if (e - q >= 2 && (s[q] == '"' || s[q] == '\'')) {
            q++;
            e--;
          }
          def = scan_add_def(sc, DEF_FUNCTION, q, e - q, hist[3].off, hist[3].off,
                             scan_line_of(sc, t.off), lua_parent(stack, nstack));
        } else if (nhist >= 2 && hist[0].type == LT_PUNCT && hist[0].ch == '=' &&
                   hist[1].type == LT_IDENT) {
          /* Anonymous function assigned to a name chain: a.b.c = function( */
          int k = 1;
          while (k + 2 < nhist && hist[k + 1].type == LT_PUNCT &&
                 (hist[k + 1].ch == '.' || hist[k + 1].ch == ':') &&
                 hist[k + 2].type == LT_IDENT) {
            k += 2;
          }
          size_t first = hist[k].off;
          if (k + 1 < nhist && lt_is(s, &hist[k + 1], "local")) {
            first = hist[k + 1].off;
          }
          int parent = lua_parent(stack, nstack);
          def = scan_add_def(sc, DEF_FUNCTION, hist[k].off, hist[1].end - hist[k].off, first,
                             first, scan_line_of(sc, t.off), parent);
        }
        if (def >= 0) {
          want_params = def;
          pdepth = 0;
        }
      } else if (scan_word_is(w, n, "if") || scan_word_is(w, n, "do") ||
                 scan_word_is(w, n, "repeat")) {
        push = 1;
      } else if (scan_word_is(w, n, "end") || scan_word_is(w, n, "until")) {
        pop = 1;
      } else if (scan_word_is(w, n, "require") && nstack == 0) {
        int start = scan_line_of(sc, t.off);
        for (int i = 0; i < nhist && i < 6; i++) {
          if (lt_is(s, &hist[i], "local")) {
            start = scan_line_of(sc, hist[i].off);
            break;
          }
        }
        scan_add_import(sc, start, scan_line_of(sc, t.off));
      }
    } else if (t.type == LT_PUNCT && want_params >= 0) {
      if (t.ch == '(') {
        pdepth++;
      } else if (t.ch == ')' && --pdepth <= 0) {
        sc->defs[want_params].body_line = scan_line_of(sc, t.off);
        want_params = -1;
      }
    }
    if (push) {
      if (nstack == cap) {
        cap = cap ? cap * 2 : 32;
        stack = xrealloc(stack, cap * sizeof(*stack));
      }
      stack[nstack++].def = def;
    } else if (pop && nstack > 0) {
      lua_block *b = &stack[--nstack];
      if (b->def >= 0) {
        sc->defs[b->def].end_line = scan_line_of(sc, t.off);
      }
    }
    memmove(&hist[1], &hist[0], (LUA_HIST - 1) * sizeof(hist[0]));
    hist[0] = t;
    if (nhist < LUA_HIST) {
      nhist++;
    }
  }
  free(stack);
}

void scan_lua_calls(const char *s, size_t from, size_t to, int mode, scan_call_fn fn, void *data)
{
  lua_lex lx = {s, to, from, NULL};
  scan_nameset seen;
  scan_nameset_init(&seen);
  lua_tok t, prev = {0, 0, 0, 0}, prev2 = {0, 0, 0, 0};
  while (lua_next(&lx, &t)) {
    if (mode == SCAN_REFS_IDENTS) {
      if (t.type == LT_IDENT) {
        scan_emit_call(LANG_LUA, &seen, s + t.off, t.end - t.off, fn, data);
      }
      continue;
    }
    if (t.type == LT_PUNCT && t.ch == '(' && prev.type == LT_IDENT &&
        !lt_is(s, &prev2, "function")) {
      scan_emit_call(LANG_LUA, &seen, s + prev.off, prev.end - prev.off, fn, data);
    }
    prev2 = prev;
    prev = t;
  }
  scan_nameset_free(&seen);
}
