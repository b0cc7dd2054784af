/* The structure pass for brace languages.
 *
 * Every `{` is classified from the "head": the tokens of the current statement at this nesting
 * level, with each (...) and [...] collapsed into one group token, so a head is short and a
 * signature like `static int\nfoo(struct bar *b, int (*cb)(int))` is just
 * `static int foo GROUP`. Each language's classifier reads the head backwards from the brace
 * (name, parameters, return type, modifiers, attributes) and decides whether the brace opens a
 * definition, a namespace, an object literal or initialiser (which does not end the statement)
 * or a plain block. Each nesting level keeps its own head on a shared token stack, so a brace
 * inside parentheses (a callback, an object literal argument) gets a fresh head and the
 * outer statement resumes when it closes. Work is O(1) amortised per token. */
#include <stdlib.h>
#include <string.h>

#include "context/scan_int.h"
#include "context/scan_lex.h"
#include "util/buf.h"

enum { CTX_TOP, CTX_CLASS, CTX_FUNC, CTX_OBJECT, CTX_BLOCK };

typedef struct {
  int ctx;
  int def;         /* definition this brace opened, or -1 */
  int encl;        /* innermost enclosing definition, or -1 */
  size_t tbase;    /* this level's head tokens start here in the token stack */
  size_t open_off; /* offset of the opening brace */
  int pdepth;      /* open ( and [ in this level's head */
  int keep;        /* the brace did not end the enclosing statement */
  int arrow;       /* JS/TS: definition of an expression-bodied arrow function bound to a name
                      whose expression is still being read at this level, or -1 */
} bframe;

enum { W_BLOCK, W_OBJECT, W_FUNCBODY, W_NS, W_ANONCLASS, W_DEF };

typedef struct {
  int what;
  def_kind kind;
  size_t name_off, name_len;
  size_t first_off, head_off;
  int body_ctx;
} bclass;

enum { IMP_NONE, IMP_TO_STRING, IMP_TO_SEMI, IMP_TO_PAREN };

/* Longest head kept; older tokens of a run-on statement are dropped (only the end of a head
 * decides what a brace opens). */
#define HEAD_MAX 192

typedef struct {
  scan_ctx *sc;
  lang_id lang;
  const char *s;
  scan_lex lx;
  scan_tok *toks;
  size_t ntoks, cap_toks;
  bframe *frames;
  size_t nframes, cap_frames;
  int prev_type, prev_ch;
  size_t prev_off, prev_end;
  int imp, imp_line, imp_depth, imp_count;
  /* C: a top-level `type name(a, b);` that may be an old-style definition whose parameter
   * declarations follow (`int a; char *b; {`); kr_count statements seen since. */
  bclass kr;
  int kr_count;
  /* C: the lexer is handing out only braces while nframes >= body_frames (0: it is not). */
  size_t body_frames;
} bscan;

static int tk_is(const bscan *b, const scan_tok *t, const char *w)
{
  return t->type == TK_IDENT && scan_word_is(b->s + t->off, t->end - t->off, w);
}

static int tk_in(const bscan *b, const scan_tok *t, const char *const *list)
{
  return t->type == TK_IDENT && scan_word_in(b->s + t->off, t->end - t->off, list);
}

static int tk_p(const scan_tok *t, int ch)
{
  return t->type == TK_PUNCT && t->ch == ch;
}

static bframe *top(bscan *b)
{
  return &b->frames[b->nframes - 1];
}

static void head_push(bscan *b, const scan_tok *t)
{
  bframe *f = top(b);
  if (b->ntoks - f->tbase >= HEAD_MAX) {
    size_t keep = HEAD_MAX / 2;
    memmove(&b->toks[f->tbase], &b->toks[b->ntoks - keep], keep * sizeof(scan_tok));
    b->ntoks = f->tbase + keep;
  }
  if (b->ntoks == b->cap_toks) {
    b->cap_toks = b->cap_toks ? b->cap_toks * 2 : 256;
    b->toks = xrealloc(b->toks, b->cap_toks * sizeof(scan_tok));
  }
  b->toks[b->ntoks++] = *t;
}

static void head_reset(bscan *b)
{
  bframe *f = top(b);
  f->pdepth = 0;
  b->ntoks = f->tbase;
}

static void frame_push(bscan *b, int ctx, int def, int encl, size_t open_off, int keep)
{
  if (b->nframes == b->cap_frames) {
    b->cap_frames = b->cap_frames ? b->cap_frames * 2 : 32;
    b->frames = xrealloc(b->frames, b->cap_frames * sizeof(bframe));
  }
  bframe *f = &b->frames[b->nframes++];
  f->ctx = ctx;
  f->def = def;
  f->encl = encl;
  f->tbase = b->ntoks;
  f->open_off = open_off;
  f->pdepth = 0;
  f->keep = keep;
  f->arrow = -1;
}

/* Index of the '>' matching the '<' at i, or n-1 if unbalanced. */
static long angle_fwd(const scan_tok *H, long n, long i)
{
  int depth = 0;
  for (; i < n; i++) {
    if (tk_p(&H[i], '<')) {
      depth++;
    } else if (tk_p(&H[i], '>') && --depth == 0) {
      return i;
    }
  }
  return n - 1;
}

/* Index of the '<' matching the '>' at i, or -1. */
static long angle_back(const scan_tok *H, long i)
{
  int depth = 0;
  for (; i >= 0; i--) {
    if (tk_p(&H[i], '>')) {
      depth++;
    } else if (tk_p(&H[i], '<') && --depth == 0) {
      return i;
    }
  }
  return -1;
}

/* An identifier in capitals: by convention a macro. */
static int tk_upper(const bscan *b, const scan_tok *t)
{
  if (t->type != TK_IDENT || t->end - t->off < 2) {
    return 0;
  }
  for (size_t i = t->off; i < t->end; i++) {
    char c = b->s[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) {
      return 0;
    }
  }
  return 1;
}

static const char *const c_attr_fn[] = {
  "__attribute__", "__attribute", "__declspec", "alignas", "_Alignas", "noexcept", "throw",
  "decltype", "__typeof__", "typeof", "requires", "__asm__", "asm", "__asm", NULL,
};

/* First token after leading attributes, decorators, annotations and template<...> clauses:
 * where the declaration itself begins. */
static long skip_prefix(const bscan *b, const scan_tok *H, long i, long limit)
{
  while (i < limit) {
    const scan_tok *t = &H[i];
    if (tk_is(b, t, "template") && i + 1 < limit && tk_p(&H[i + 1], '<')) {
      i = angle_fwd(H, limit, i + 1) + 1;
    } else if (t->type == TK_BGROUP && b->lang == LANG_CPP) {
      i++;
    } else if (tk_p(t, '#') && i + 1 < limit && H[i + 1].type == TK_BGROUP) {
      i += 2;
    } else if (tk_p(t, '#') && i + 2 < limit && tk_p(&H[i + 1], '!') &&
               H[i + 2].type == TK_BGROUP) {
      i += 3;
    } else if (tk_p(t, '@') && i + 1 < limit && H[i + 1].type == TK_IDENT &&
               !tk_is(b, &H[i + 1], "interface")) {
      long k = i + 2;
      while (k + 1 < limit && tk_p(&H[k], '.') && H[k + 1].type == TK_IDENT) {
        k += 2;
      }
      if (k < limit && H[k].type == TK_GROUP) {
        k++;
      }
      i = k;
    } else if ((b->lang == LANG_C || b->lang == LANG_CPP) && tk_in(b, t, c_attr_fn) &&
               i + 1 < limit && H[i + 1].type == TK_GROUP) {
      i += 2;
    } else {
      break;
    }
  }
  return i < limit ? i : limit;
}

static void set_def(bclass *c, def_kind kind, const scan_tok *name, const scan_tok *name_end,
                    const scan_tok *first, const scan_tok *head, int body_ctx)
{
  c->what = W_DEF;
  c->kind = kind;
  if (name) {
    c->name_off = name->off;
    c->name_len = name_end->end - name->off;
  } else {
    c->name_off = head->off;
    c->name_len = 0;
  }
  c->first_off = first->off;
  c->head_off = head->off;
  c->body_ctx = body_ctx;
}

/* What a non-definition brace is: a literal/initialiser that continues its statement, or a
 * block. */
static int brace_literal_after(const bscan *b, const scan_tok *last)
{
  static const char *const words[] = {"return", "default", "yield", "await", "in", "of",
                                      "typeof", "case", NULL};
  if (last->type == TK_PUNCT) {
    switch (last->ch) {
    case '=':
    case ',':
    case '(':
    case '[':
    case '?':
    case '|':
    case '&':
    case '!':
    case P_OPEQ:
    case P_ELLIPSIS:
      return 1;
    case ':':
      return b->lx.js;
    default:
      return 0;
    }
  }
  return tk_in(b, last, words);
}

/* ---- C and C++ ---- */

static const char *const c_ctrl[] = {
  "if", "for", "while", "switch", "catch", "return", "sizeof", "do", "else", "case", "goto",
  "new", "delete", "throw", "typeof", "__typeof__", "alignof", "_Alignof", "decltype",
  "static_assert", "_Static_assert", "defined", "__attribute__", "__attribute", "__declspec",
  "alignas", "_Alignas", "__asm__", "asm", "__asm", "noexcept", "requires", "co_return",
  "co_await", "co_yield", "__extension__", NULL,
};
static const char *const c_stop[] = {
  "return", "else", "if", "case", "goto", "new", "delete", "throw", "do", "co_return",
  "sizeof", "while", "for", "switch", "default", "using", "typedef", NULL,
};
static const char *const c_classkw[] = {"struct", "union", "enum", NULL};
static const char *const cpp_classkw[] = {"struct", "union", "enum", "class", NULL};

/* Start of a C/C++ declaration ending just before index i+1: return type, storage class,
 * attributes, template clause. */
static long c_walk_back(const bscan *b, const scan_tok *H, long i)
{
  int angle = 0;
  while (i >= 0) {
    const scan_tok *x = &H[i];
    if (angle) {
      if (tk_p(x, '>')) {
        angle++;
      } else if (tk_p(x, '<')) {
        angle--;
      }
      i--;
      continue;
    }
    if (tk_p(x, '>')) {
      angle = 1;
    } else if (x->type == TK_IDENT) {
      if (tk_in(b, x, c_stop)) {
        break;
      }
      if (tk_is(b, x, "template") && b->lang == LANG_CPP) {
        return i; /* a template clause opens the declaration: what is before is not part
                     of it (FMT_MODULE_EXPORT_BEGIN on the line above) */
      }
    } else if (x->type == TK_PUNCT) {
      if (x->ch != '*' && x->ch != '&' && x->ch != P_SCOPE && x->ch != '~') {
        break;
      }
    } else if (x->type == TK_GROUP) {
      /* __attribute__((x)), or an attribute macro with arguments between other parts of
       * the declaration (`static void NORETURN PRINTF(1, 2)\ndie(...)`); a macro call at
       * the start of the statement is not part of it. */
      if (!(i > 0 && (tk_in(b, &H[i - 1], c_attr_fn) ||
                      (i > 1 && tk_upper(b, &H[i - 1]) && H[i - 2].type == TK_IDENT &&
                       !tk_in(b, &H[i - 2], c_stop))))) {
        break;
      }
      i--;
    } else if (x->type == TK_STR) {
      if (!(i > 0 && tk_is(b, &H[i - 1], "extern"))) {
        break;
      }
    } else if (x->type != TK_BGROUP) {
      break;
    }
    i--;
  }
  return i + 1;
}

/* Whether the `->` at H[a] starts a trailing return type: before it, after the qualifiers a
 * parameter list may carry (const, volatile, &, &&, noexcept(...), throw(...), [[...]],
 * macros in capitals), comes the parameter group. */
static int trailing_return_at(const bscan *b, const scan_tok *H, long a)
{
  static const char *const quals[] = {"const", "volatile", "noexcept", "mutable", NULL};
  long k = a - 1;
  while (k >= 1) {
    const scan_tok *x = &H[k];
    if (tk_in(b, x, quals) || tk_upper(b, x) || tk_p(x, '&') || x->type == TK_BGROUP) {
      k--;
    } else if (x->type == TK_GROUP && (tk_in(b, &H[k - 1], c_attr_fn) ||
                                       tk_upper(b, &H[k - 1]))) {
      k -= 2;
    } else {
      break;
    }
  }
  return k >= 1 && H[k].type == TK_GROUP;
}

static void classify_c(bscan *b, const bframe *f, const scan_tok *H, long n, bclass *c)
{
  int cpp = b->lang == LANG_CPP;
  c->what = W_BLOCK;
  if (n == 0) {
    return;
  }
  if (n == 2 && tk_is(b, &H[0], "extern") && H[1].type == TK_STR) {
    c->what = W_NS;
    return;
  }
  if (cpp) {
    for (long i = 0; i < n && i < 3; i++) {
      if (tk_is(b, &H[i], "namespace")) {
        c->what = W_NS;
        return;
      }
    }
  }
  /* class / struct / union / enum */
  long k = -1;
  for (long i = 0; i < n; i++) {
    if (tk_is(b, &H[i], "template") && i + 1 < n && tk_p(&H[i + 1], '<')) {
      i = angle_fwd(H, n, i + 1);
      continue;
    }
    if (tk_p(&H[i], '=')) {
      break;
    }
    if (tk_in(b, &H[i], cpp ? cpp_classkw : c_classkw)) {
      k = i;
      break;
    }
  }
  if (k >= 0) {
    int has_eq = 0, has_group = 0, angle = 0;
    for (long i = k + 1; i < n; i++) {
      if (tk_p(&H[i], '<')) {
        angle++; /* groups in template arguments: struct Traits<R (*)(A)> { */
      } else if (tk_p(&H[i], '>')) {
        angle -= angle > 0;
      } else if (tk_p(&H[i], '=') && !angle) {
        has_eq = 1;
      } else if (H[i].type == TK_GROUP && !angle && !tk_in(b, &H[i - 1], c_attr_fn)) {
        has_group = 1;
      }
    }
    if (has_eq) {
      c->what = W_OBJECT;
      return;
    }
    if (!has_group) {
      long nm = -1;
      for (long i = k + 1; i < n; i++) {
        const scan_tok *x = &H[i];
        if (x->type == TK_IDENT) {
          if (tk_in(b, x, c_attr_fn) && i + 1 < n && H[i + 1].type == TK_GROUP) {
            i++;
            continue;
          }
          if (tk_is(b, x, "class") || tk_is(b, x, "struct") || tk_is(b, x, "final")) {
            continue;
          }
          nm = i;
          if (i + 1 < n && tk_p(&H[i + 1], P_SCOPE)) {
            continue;
          }
          break;
        }
        if (!tk_p(x, P_SCOPE) && x->type != TK_BGROUP) {
          break;
        }
      }
      long first = c_walk_back(b, H, k - 1);
      long head = skip_prefix(b, H, first, k);
      set_def(c, DEF_CLASS, nm >= 0 ? &H[nm] : NULL, nm >= 0 ? &H[nm] : NULL, &H[first],
              &H[head], CTX_CLASS);
      return;
    }
  }
  /* A constructor's member initialiser list: `Foo() : a(1), b{2} {`. */
  long lim = n;
  if (cpp) {
    for (long i = 1; i < n; i++) {
      if (!tk_p(&H[i], ':')) {
        continue;
      }
      /* The parameters, then noexcept, noexcept(...) or a macro for it (SPDLOG_NOEXCEPT). */
      long q = i - 1;
      while (q >= 1 && (tk_is(b, &H[q], "noexcept") || tk_upper(b, &H[q]) ||
                        (H[q].type == TK_GROUP && tk_is(b, &H[q - 1], "noexcept")))) {
        q -= H[q].type == TK_GROUP ? 2 : 1;
      }
      if (H[q].type == TK_GROUP) {
        lim = i;
        break;
      }
    }
    if (lim < n && (H[n - 1].type == TK_IDENT || tk_p(&H[n - 1], '>'))) {
      c->what = W_OBJECT; /* b{2}: a braced member initialiser */
      return;
    }
  }
  if (!(f->ctx == CTX_TOP || (cpp && f->ctx == CTX_CLASS))) {
    goto nondef;
  }
  if (cpp) {
    /* A trailing return type (`auto f(...) const -> T {`) can hold anything a type can:
     * templates with expressions, decltype(...), `(&)[N]`. The declarator ends at the last
     * `->` that follows the parameter list (and its qualifiers). */
    for (long a = lim - 1; a >= 2; a--) {
      if (tk_p(&H[a], P_ARROW) && trailing_return_at(b, H, a)) {
        lim = a;
        break;
      }
    }
  }
  long g = -1;
  for (long i = lim - 1; i >= 0; i--) {
    const scan_tok *x = &H[i];
    if (x->type == TK_GROUP) {
      if (i > 0 && tk_in(b, &H[i - 1], c_attr_fn)) {
        i--;
        continue;
      }
      /* An annotation macro after the parameters: `f() const LOCKS_EXCLUDED(mu) {`. */
      if (i >= 2 && tk_upper(b, &H[i - 1]) &&
          (H[i - 2].type == TK_GROUP ||
           (i >= 3 && (H[i - 3].type == TK_GROUP || tk_is(b, &H[i - 3], "const")) &&
            (tk_is(b, &H[i - 2], "const") || tk_is(b, &H[i - 2], "override") ||
             tk_is(b, &H[i - 2], "final") || tk_is(b, &H[i - 2], "volatile") ||
             tk_is(b, &H[i - 2], "noexcept") || tk_p(&H[i - 2], '&'))))) {
        i--;
        continue;
      }
      g = i;
      break;
    }
    if (x->type == TK_IDENT || x->type == TK_BGROUP) {
      continue; /* const, override, final, macros, [[attributes]] */
    }
    if (x->type == TK_PUNCT && (x->ch == '&' || x->ch == '*' || x->ch == P_ARROW ||
                                x->ch == P_SCOPE || x->ch == '<' || x->ch == '>' ||
                                x->ch == ',')) {
      continue;
    }
    break;
  }
  if (g < 1) {
    goto nondef;
  }
  long j = g - 1, ns = -1, ne = j;
  for (long i = j; i >= 0 && i >= j - 16; i--) {
    if (tk_is(b, &H[i], "operator")) {
      ns = i;
      break;
    }
  }
  if (ns < 0) {
    if (cpp && tk_p(&H[j], '>')) {
      /* An explicit specialisation: `template <> auto num_bits<int128_opt>() -> int {`. */
      long lt = angle_back(H, j);
      if (lt >= 1 && H[lt - 1].type == TK_IDENT && !tk_in(b, &H[lt - 1], c_ctrl) &&
          !tk_is(b, &H[lt - 1], "template")) {
        j = ne = lt - 1;
      }
    }
    if (H[j].type != TK_IDENT || tk_in(b, &H[j], c_ctrl)) {
      goto nondef;
    }
    ns = j;
  }
  int qualified = 0;
  while (ns >= 1) {
    if (tk_p(&H[ns - 1], '~')) {
      ns--;
      qualified = 1;
      continue;
    }
    if (ns >= 2 && tk_p(&H[ns - 1], P_SCOPE)) {
      long q = ns - 2;
      if (tk_p(&H[q], '>')) {
        q = angle_back(H, q) - 1;
      }
      if (q >= 0 && H[q].type == TK_IDENT) {
        ns = q;
        qualified = 1;
        continue;
      }
    }
    break;
  }
  long first = c_walk_back(b, H, ns - 1);
  if (first >= ns && !(cpp && (qualified || f->ctx == CTX_CLASS)) &&
      !(first == 0 && ns == j && f->ctx == CTX_TOP)) {
    /* No return type and something before the name: not a definition. A lone `NAME(...) {`
     * at top level is a macro that defines a function (TEST(Suite, Name) {), kept. */
    goto nondef;
  }
  long head = skip_prefix(b, H, first, ns);
  set_def(c, f->ctx == CTX_CLASS ? DEF_METHOD : DEF_FUNCTION, &H[ns], &H[ne], &H[first],
          &H[head], CTX_FUNC);
  return;
nondef:
  if (brace_literal_after(b, &H[n - 1]) ||
      (cpp && (f->ctx == CTX_FUNC || f->ctx == CTX_BLOCK) &&
       (H[n - 1].type == TK_IDENT || tk_p(&H[n - 1], '>')) && !tk_in(b, &H[n - 1], c_ctrl) &&
       !tk_is(b, &H[n - 1], "try"))) {
    c->what = W_OBJECT;
  }
}

/* ---- Java ---- */

static const char *const java_ctrl[] = {
  "if", "for", "while", "switch", "catch", "synchronized", "try", "return", "new", "else",
  "do", "throw", "finally", "assert", "case", "yield", NULL,
};
static const char *const java_classkw[] = {"class", "interface", "enum", "record", NULL};

/* Java annotation ending at i (its name, or its argument group); index before it, or i. */
static long java_annotation_back(const bscan *b, const scan_tok *H, long i)
{
  long k = i;
  if (k >= 0 && H[k].type == TK_GROUP) {
    k--;
  }
  if (k < 0 || H[k].type != TK_IDENT) {
    return i;
  }
  while (k >= 2 && tk_p(&H[k - 1], '.') && H[k - 2].type == TK_IDENT) {
    k -= 2;
  }
  if (k >= 1 && tk_p(&H[k - 1], '@')) {
    return k - 2;
  }
  (void)b;
  return i;
}

static long java_walk_back(const bscan *b, const scan_tok *H, long i)
{
  int angle = 0;
  while (i >= 0) {
    const scan_tok *x = &H[i];
    if (angle) {
      if (tk_p(x, '>')) {
        angle++;
      } else if (tk_p(x, '<')) {
        angle--;
      }
      i--;
      continue;
    }
    long a = java_annotation_back(b, H, i);
    if (a != i) {
      i = a;
      continue;
    }
    if (tk_p(x, '>')) {
      angle = 1;
    } else if (x->type == TK_IDENT) {
      if (tk_in(b, x, java_ctrl)) {
        break;
      }
    } else if (!(tk_p(x, '.') || tk_p(x, '?') || tk_p(x, '@') || x->type == TK_BGROUP)) {
      break;
    }
    i--;
  }
  return i + 1;
}

static void classify_java(bscan *b, const bframe *f, const scan_tok *H, long n, bclass *c)
{
  c->what = W_BLOCK;
  if (n == 0) {
    return;
  }
  for (long i = 0; i + 1 < n; i++) {
    if (tk_p(&H[i], '=') || tk_is(b, &H[i], "new") || tk_p(&H[i], P_ARROW)) {
      break;
    }
    if (tk_in(b, &H[i], java_classkw) && H[i + 1].type == TK_IDENT &&
        !(i > 0 && tk_p(&H[i - 1], '.'))) {
      long first = java_walk_back(b, H, i - 1);
      long head = skip_prefix(b, H, first, i);
      set_def(c, DEF_CLASS, &H[i + 1], &H[i + 1], &H[first], &H[head], CTX_CLASS);
      return;
    }
  }
  const scan_tok *last = &H[n - 1];
  if (last->type == TK_GROUP) {
    for (long i = n - 2; i >= 0; i--) {
      if (tk_is(b, &H[i], "new")) {
        c->what = W_ANONCLASS;
        return;
      }
      if (!(H[i].type == TK_IDENT || tk_p(&H[i], '.') || tk_p(&H[i], '<') ||
            tk_p(&H[i], '>') || tk_p(&H[i], ',') || tk_p(&H[i], '?'))) {
        break;
      }
    }
  }
  if (f->ctx == CTX_CLASS) {
    long e = n - 1;
    for (long i = n - 1; i >= 0; i--) {
      if (tk_is(b, &H[i], "throws")) {
        e = i - 1;
        break;
      }
      if (!(H[i].type == TK_IDENT || tk_p(&H[i], '.') || tk_p(&H[i], ',') ||
            tk_p(&H[i], '<') || tk_p(&H[i], '>'))) {
        break;
      }
    }
    if (e >= 1 && H[e].type == TK_GROUP && H[e - 1].type == TK_IDENT &&
        !tk_in(b, &H[e - 1], java_ctrl)) {
      long first = java_walk_back(b, H, e - 2);
      long head = skip_prefix(b, H, first, e - 1);
      set_def(c, DEF_METHOD, &H[e - 1], &H[e - 1], &H[first], &H[head], CTX_FUNC);
      return;
    }
  }
  if (tk_p(last, P_ARROW)) {
    c->what = W_FUNCBODY;
  } else if (brace_literal_after(b, last) || last->type == TK_BGROUP) {
    c->what = W_OBJECT;
  }
}

/* ---- Go ---- */

static void classify_go(bscan *b, const bframe *f, const scan_tok *H, long n, bclass *c)
{
  c->what = W_BLOCK;
  if (n == 0) {
    return;
  }
  const scan_tok *last = &H[n - 1];
  if ((tk_is(b, last, "struct") || tk_is(b, last, "interface")) && !tk_is(b, &H[0], "type")) {
    c->what = W_OBJECT; /* a type literal: `func f() struct{...} {`, `var x struct {` */
    return;
  }
  if (tk_is(b, &H[0], "func") && f->ctx == CTX_TOP) {
    if (n >= 3 && H[1].type == TK_GROUP && H[2].type == TK_IDENT) {
      set_def(c, DEF_METHOD, &H[2], &H[2], &H[0], &H[0], CTX_FUNC);
      return;
    }
    if (n >= 2 && H[1].type == TK_IDENT) {
      set_def(c, DEF_FUNCTION, &H[1], &H[1], &H[0], &H[0], CTX_FUNC);
      return;
    }
  }
  if (tk_is(b, &H[0], "type") && n >= 3 && H[1].type == TK_IDENT &&
      (tk_is(b, last, "struct") || tk_is(b, last, "interface"))) {
    set_def(c, DEF_CLASS, &H[1], &H[1], &H[0], &H[0], CTX_CLASS);
    return;
  }
  for (long i = 0; i < n; i++) {
    if (tk_is(b, &H[i], "func")) {
      c->what = W_FUNCBODY;
      return;
    }
  }
  if (brace_literal_after(b, last) || last->type == TK_BGROUP || tk_p(last, '}') ||
      last->type == TK_CGROUP ||
      (last->type == TK_IDENT && !tk_is(b, last, "else") && !tk_is(b, last, "select") &&
       !tk_is(b, last, "switch") && !tk_is(b, last, "for") && !tk_is(b, &H[0], "if") &&
       !tk_is(b, &H[0], "for") && !tk_is(b, &H[0], "switch"))) {
    c->what = W_OBJECT;
  }
}

/* ---- Rust ---- */

static const char *const rust_mods[] = {"pub", "async", "const", "unsafe", "extern", "default",
                                        "crate", NULL};

static long rust_walk_back(const bscan *b, const scan_tok *H, long i)
{
  while (i >= 0) {
    const scan_tok *x = &H[i];
    if (tk_in(b, x, rust_mods)) {
      i--;
    } else if (x->type == TK_GROUP && i > 0 && tk_is(b, &H[i - 1], "pub")) {
      i--;
    } else if (x->type == TK_STR && i > 0 && tk_is(b, &H[i - 1], "extern")) {
      i--;
    } else if (x->type == TK_BGROUP && i > 0 && tk_p(&H[i - 1], '#')) {
      i -= 2;
    } else if (x->type == TK_BGROUP && i > 1 && tk_p(&H[i - 1], '!') && tk_p(&H[i - 2], '#')) {
      i -= 3;
    } else {
      break;
    }
  }
  return i + 1;
}

static void classify_rust(bscan *b, const bframe *f, const scan_tok *H, long n, bclass *c)
{
  c->what = W_BLOCK;
  if (n == 0) {
    return;
  }
  for (long k = n - 2; k >= 0; k--) {
    if (tk_is(b, &H[k], "fn") && H[k + 1].type == TK_IDENT) {
      long first = rust_walk_back(b, H, k - 1);
      long head = skip_prefix(b, H, first, k);
      set_def(c, f->ctx == CTX_CLASS ? DEF_METHOD : DEF_FUNCTION, &H[k + 1], &H[k + 1],
              &H[first], &H[head], CTX_FUNC);
      return;
    }
  }
  for (long k = 0; k < n; k++) {
    const scan_tok *x = &H[k];
    if (tk_p(x, '=')) {
      break;
    }
    if (tk_is(b, x, "mod") && k + 1 < n && H[k + 1].type == TK_IDENT) {
      c->what = W_NS;
      return;
    }
    if (n == 2 && tk_is(b, x, "extern") && H[1].type == TK_STR) {
      c->what = W_NS;
      return;
    }
    int is_impl = tk_is(b, x, "impl");
    if (is_impl || ((tk_is(b, x, "struct") || tk_is(b, x, "enum") || tk_is(b, x, "union") ||
                     tk_is(b, x, "trait")) &&
                    k + 1 < n && H[k + 1].type == TK_IDENT)) {
      long nm = k + 1;
      if (is_impl) {
        long i = k + 1;
        if (i < n && tk_p(&H[i], '<')) {
          i = angle_fwd(H, n, i) + 1;
        }
        for (long j = i; j < n; j++) {
          if (tk_is(b, &H[j], "for")) {
            i = j + 1;
            break;
          }
        }
        nm = -1;
        for (; i < n; i++) {
          if (H[i].type == TK_IDENT && !tk_is(b, &H[i], "dyn") && !tk_is(b, &H[i], "mut")) {
            nm = i;
            if (i + 1 < n && tk_p(&H[i + 1], P_SCOPE)) {
              continue;
            }
            break;
          }
          if (!(tk_p(&H[i], '&') || tk_p(&H[i], '!') || tk_p(&H[i], P_SCOPE))) {
            break;
          }
        }
      }
      long first = rust_walk_back(b, H, k - 1);
      long head = skip_prefix(b, H, first, k);
      set_def(c, DEF_CLASS, nm >= 0 ? &H[nm] : NULL, nm >= 0 ? &H[nm] : NULL, &H[first],
              &H[head], CTX_CLASS);
      return;
    }
  }
  const scan_tok *last = &H[n - 1];
  if (tk_p(last, '|') || (tk_is(b, last, "move") && n >= 2)) {
    c->what = W_FUNCBODY;
  } else if (brace_literal_after(b, last)) {
    c->what = W_OBJECT;
  }
}

/* ---- JavaScript / TypeScript ---- */

static const char *const js_mods[] = {
  "export", "default", "declare", "async", "static", "public", "private", "protected",
  "readonly", "abstract", "override", "get", "set", "accessor", NULL,
};
static const char *const js_ctrl[] = {
  "if", "for", "while", "switch", "catch", "with", "function", "return", "do", "else",
  "new", "typeof", "await", "yield", "throw", "delete", "void", "in", "of", NULL,
};

static long js_walk_back(const bscan *b, const scan_tok *H, long i)
{
  while (i >= 0) {
    const scan_tok *x = &H[i];
    if (tk_in(b, x, js_mods) || tk_p(x, '*')) {
      i--;
      continue;
    }
    long a = java_annotation_back(b, H, i); /* decorators look like Java annotations */
    if (a != i) {
      i = a;
      continue;
    }
    break;
  }
  return i + 1;
}

/* Name a function expression or arrow function starting at index p is bound to:
 * `const f = `, `this.f = `, `f: ` in an object literal. Returns 1 and fills the name and
 * the binding's first token. */
static int js_binding(const bscan *b, const bframe *f, const scan_tok *H, long p, long *name,
                      long *first)
{
  if (p < 2) {
    return 0;
  }
  const scan_tok *op = &H[p - 1];
  if (tk_p(op, '=')) {
    for (long v = p - 2; v >= 0 && v >= p - 14; v--) {
      if (tk_p(&H[v], '=') || tk_p(&H[v], ';') || H[v].type == TK_CGROUP) {
        break;
      }
      if ((tk_is(b, &H[v], "const") || tk_is(b, &H[v], "let") || tk_is(b, &H[v], "var")) &&
          v + 1 < p - 1 && H[v + 1].type == TK_IDENT) {
        *name = v + 1;
        *first = js_walk_back(b, H, v - 1);
        return 1;
      }
    }
    if (H[p - 2].type != TK_IDENT) {
      return 0;
    }
    *name = p - 2;
    long k = p - 2;
    while (k >= 2 && tk_p(&H[k - 1], '.') && H[k - 2].type == TK_IDENT) {
      k -= 2;
    }
    *first = js_walk_back(b, H, k - 1);
    return 1;
  }
  if (tk_p(op, ':') && f->ctx == CTX_OBJECT &&
      (H[p - 2].type == TK_IDENT || H[p - 2].type == TK_STR || H[p - 2].type == TK_NUM)) {
    *name = p - 2;
    *first = p - 2;
    return 1;
  }
  return 0;
}

static void js_set_binding(const bscan *b, const bframe *f, const scan_tok *H, long name,
                           long first, bclass *c)
{
  const scan_tok *nt = &H[name];
  long head = skip_prefix(b, H, first, name);
  set_def(c, f->ctx == CTX_CLASS ? DEF_METHOD : DEF_FUNCTION, nt, nt, &H[first], &H[head],
          CTX_FUNC);
  if (nt->type == TK_STR && c->name_len >= 2) {
    c->name_off++;
    c->name_len -= 2;
  }
}

static void classify_js(bscan *b, const bframe *f, const scan_tok *H, long n, bclass *c)
{
  int ts = b->lang == LANG_TYPESCRIPT;
  c->what = W_BLOCK;
  if (n == 0) {
    return;
  }
  const scan_tok *last = &H[n - 1];
  if (tk_p(last, ':')) {
    c->what = W_OBJECT; /* an object literal's value or a TS object type: `f(): { a: T } {` */
    return;
  }
  if (ts) {
    for (long i = 0; i < n && i < 3; i++) {
      if ((tk_is(b, &H[i], "namespace") || tk_is(b, &H[i], "module")) && i + 1 < n &&
          (H[i + 1].type == TK_IDENT || H[i + 1].type == TK_STR)) {
        c->what = W_NS;
        return;
      }
      if (tk_is(b, &H[i], "global") && i > 0 && tk_is(b, &H[i - 1], "declare")) {
        c->what = W_NS;
        return;
      }
    }
  }
  /* class (and TS interface/enum) */
  for (long k = n - 1; k >= 0; k--) {
    if (H[k].type == TK_CGROUP || tk_p(&H[k], P_FATARROW) || tk_p(&H[k], ';')) {
      break;
    }
    int cls = tk_is(b, &H[k], "class");
    if ((cls || (ts && (tk_is(b, &H[k], "interface") || tk_is(b, &H[k], "enum")) && k + 1 < n &&
                 H[k + 1].type == TK_IDENT)) &&
        !(k > 0 && tk_p(&H[k - 1], '.'))) {
      long nm = k + 1 < n && H[k + 1].type == TK_IDENT && !tk_is(b, &H[k + 1], "extends") &&
                        !tk_is(b, &H[k + 1], "implements")
                    ? k + 1
                    : -1;
      long first = js_walk_back(b, H, k - 1);
      if (k > 0 && tk_is(b, &H[k - 1], "const")) {
        first = js_walk_back(b, H, k - 2); /* TS const enum */
      }
      if (nm < 0) {
        long bn, bf;
        if (js_binding(b, f, H, k, &bn, &bf)) {
          nm = bn;
          first = bf;
        }
      }
      if (nm < 0) {
        c->what = W_ANONCLASS;
        return;
      }
      long head = skip_prefix(b, H, first, k);
      set_def(c, DEF_CLASS, &H[nm], &H[nm], &H[first], &H[head], CTX_CLASS);
      return;
    }
  }
  long e = n - 1;
  if (tk_p(last, P_FATARROW)) {
    if (e < 1) {
      c->what = W_FUNCBODY;
      return;
    }
    long p = -1;
    if (H[e - 1].type == TK_GROUP) {
      p = e - 1;
    } else {
      /* A TS return type between the parameters and the arrow: `(x: T): A | B =>`. */
      for (long i = e - 2; i >= 0 && i >= e - 16; i--) {
        if (tk_p(&H[i], '=') || tk_p(&H[i], P_FATARROW)) {
          break;
        }
        if (H[i].type == TK_GROUP && tk_p(&H[i + 1], ':')) {
          p = i;
          break;
        }
      }
      if (p < 0 && H[e - 1].type == TK_IDENT) {
        p = e - 1; /* a lone parameter: `x =>`, also `key: x =>` in an object */
      }
    }
    if (p >= 1 && tk_p(&H[p - 1], '>') && H[p].type == TK_GROUP) {
      long lt = angle_back(H, p - 1);
      if (lt >= 0) {
        p = lt;
      }
    }
    if (p >= 1 && tk_is(b, &H[p - 1], "async")) {
      p--;
    }
    long name, first;
    if (p >= 0 && js_binding(b, f, H, p, &name, &first)) {
      js_set_binding(b, f, H, name, first, c);
    } else {
      c->what = W_FUNCBODY;
    }
    return;
  }
  long g = -1;
  if (last->type == TK_GROUP) {
    g = e;
  } else {
    for (long i = e - 1; i >= 0 && i >= e - 24; i--) {
      if (H[i].type == TK_GROUP && tk_p(&H[i + 1], ':')) {
        g = i;
        break;
      }
      if (tk_p(&H[i], P_FATARROW) || tk_p(&H[i], '=')) {
        break;
      }
    }
  }
  if (g >= 1) {
    long j = g - 1;
    if (tk_p(&H[j], '>')) {
      j = angle_back(H, j) - 1;
    }
    if (j >= 0) {
      long fk = -1;
      if (tk_is(b, &H[j], "function")) {
        fk = j;
      } else if (tk_p(&H[j], '*') && j >= 1 && tk_is(b, &H[j - 1], "function")) {
        fk = j - 1;
      }
      if (H[j].type == TK_IDENT && fk < 0 && j >= 1 &&
          (tk_is(b, &H[j - 1], "function") ||
           (tk_p(&H[j - 1], '*') && j >= 2 && tk_is(b, &H[j - 2], "function")))) {
        long fn = tk_is(b, &H[j - 1], "function") ? j - 1 : j - 2;
        long first = js_walk_back(b, H, fn - 1);
        long head = skip_prefix(b, H, first, fn);
        set_def(c, DEF_FUNCTION, &H[j], &H[j], &H[first], &H[head], CTX_FUNC);
        return;
      }
      if (fk >= 0) {
        long p = fk;
        if (p >= 1 && tk_is(b, &H[p - 1], "async")) {
          p--;
        }
        long name, first;
        if (js_binding(b, f, H, p, &name, &first)) {
          js_set_binding(b, f, H, name, first, c);
        } else {
          c->what = W_FUNCBODY;
        }
        return;
      }
      if (f->ctx == CTX_CLASS || f->ctx == CTX_OBJECT) {
        if (tk_p(&H[j], '?') && j >= 1) {
          j--; /* TS optional method */
        }
        const scan_tok *nt = &H[j];
        if ((nt->type == TK_IDENT && !tk_in(b, nt, js_ctrl)) || nt->type == TK_STR ||
            nt->type == TK_NUM || nt->type == TK_BGROUP) {
          long first = js_walk_back(b, H, j - 1);
          long head = skip_prefix(b, H, first, j);
          set_def(c, f->ctx == CTX_CLASS ? DEF_METHOD : DEF_FUNCTION, nt, nt, &H[first],
                  &H[head], CTX_FUNC);
          if (nt->type == TK_STR && c->name_len >= 2) {
            c->name_off++;
            c->name_len -= 2;
          }
          return;
        }
      }
    }
  }
  if (brace_literal_after(b, last)) {
    c->what = W_OBJECT;
  }
}

/* ---- driver ---- */

static void classify_n(bscan *b, const bframe *f, long n, bclass *c)
{
  const scan_tok *H = &b->toks[f->tbase];
  memset(c, 0, sizeof(*c));
  switch (b->lang) {
  case LANG_C:
  case LANG_CPP:
    classify_c(b, f, H, n, c);
    break;
  case LANG_JAVA:
    classify_java(b, f, H, n, c);
    break;
  case LANG_GO:
    classify_go(b, f, H, n, c);
    break;
  case LANG_RUST:
    classify_rust(b, f, H, n, c);
    break;
  default:
    classify_js(b, f, H, n, c);
    break;
  }
}

static void classify(bscan *b, const bframe *f, bclass *c)
{
  classify_n(b, f, (long)(b->ntoks - f->tbase), c);
}

static void on_open(bscan *b, const scan_tok *t)
{
  bframe *f = top(b);
  if (f->pdepth > 0) {
    int fn = b->prev_type == TK_PUNCT &&
             (b->prev_ch == ')' || b->prev_ch == P_FATARROW || b->prev_ch == P_ARROW ||
              (b->lang == LANG_RUST && b->prev_ch == '|'));
    frame_push(b, fn ? CTX_FUNC : CTX_OBJECT, -1, f->encl, t->off, 1);
    return;
  }
  bclass c;
  if (b->kr_count > 0 && b->ntoks == f->tbase && b->nframes == 1) {
    c = b->kr; /* the old-style definition's body */
  } else if (b->ntoks == f->tbase) {
    memset(&c, 0, sizeof(c)); /* no head: a block (every brace of a C body) */
    c.what = W_BLOCK;
  } else {
    classify(b, f, &c);
  }
  b->kr_count = 0;
  int def = -1, ctx = CTX_BLOCK, keep = 0;
  switch (c.what) {
  case W_DEF:
    def = scan_add_def(b->sc, c.kind, c.name_off, c.name_len, c.first_off, c.head_off,
                       scan_line_of(b->sc, t->off), f->encl);
    ctx = c.body_ctx;
    break;
  case W_NS:
    ctx = CTX_TOP;
    break;
  case W_ANONCLASS:
    ctx = CTX_CLASS;
    break;
  case W_FUNCBODY:
    ctx = CTX_FUNC;
    break;
  case W_OBJECT:
    ctx = CTX_OBJECT;
    keep = 1;
    break;
  default:
    ctx = CTX_BLOCK;
    break;
  }
  int encl = def >= 0 ? def : f->encl;
  if (!keep) {
    head_reset(b);
  }
  frame_push(b, ctx, def, encl, t->off, keep);
}

/* `typedef struct { ... } name;`: an anonymous C type takes the name it is declared as. */
static void name_from_declarator(bscan *b, scan_def *d, size_t p)
{
  const char *s = b->s;
  size_t len = b->lx.len;
  while (p < len && (scan_is_space((unsigned char)s[p]) || s[p] == '\n' || s[p] == '*')) {
    p++;
  }
  size_t q = p;
  while (q < len && scan_is_ident_char((unsigned char)s[q])) {
    q++;
  }
  if (q > p && q - p < 256) {
    free(d->name);
    d->name = xstrndup(s + p, q - p);
  }
}

/* Punctuation the driver loop treats specially (everything else just extends the head). */
static inline int brace_punct_special(int ch)
{
  switch (ch) {
  case '(':
  case '[':
  case ')':
  case ']':
  case '{':
  case '}':
  case ';':
  case P_VSEMI:
  case ',':
  case ':':
    return 1;
  default:
    return 0;
  }
}

/* ---- JS/TS arrow functions with an expression body ----
 *
 * `const add = (a, b) => a + b;` has no brace to open and close a definition: its body ends
 * where the expression does, at a `;` or `,` at its own nesting level, at the brace or bracket
 * closing the level, or at a newline where the statement cannot go on (automatic semicolon
 * insertion). The pending definition lives in the frame it started in, so tokens inside nested
 * brackets and braces never end it. */

/* Line of the last token before the current one: where an expression ended. */
static int prev_tok_line(bscan *b)
{
  return scan_line_of(b->sc, b->prev_end > b->prev_off ? b->prev_end - 1 : b->prev_off);
}

/* Whether the token before a newline leaves the expression unfinished (an operator that
 * needs its right-hand side, an open prefix keyword). */
static int js_expr_needs_more(const bscan *b)
{
  static const char *const prefix_words[] = {"new", "typeof", "await", "void", "delete", "in",
                                             "instanceof", "of", "as", "satisfies", "yield",
                                             "keyof", NULL};
  switch (b->prev_type) {
  case TK_IDENT:
    return scan_word_in(b->s + b->prev_off, b->prev_end - b->prev_off, prefix_words);
  case TK_NUM:
  case TK_STR:
    return 0;
  case TK_PUNCT:
    return !(b->prev_ch == ')' || b->prev_ch == ']' || b->prev_ch == '}' ||
             b->prev_ch == P_INCDEC);
  default:
    return 1;
  }
}

/* Whether a token at the start of a line continues the expression on the line before: binary
 * operators, member access, calls and indexing (JS inserts no semicolon before `(` or `[`). */
static int js_expr_continues(const bscan *b, const scan_tok *t)
{
  static const char *const infix_words[] = {"in", "instanceof", "as", "satisfies", NULL};
  if (t->type == TK_IDENT) {
    return scan_word_in(b->s + t->off, t->end - t->off, infix_words);
  }
  if (t->type == TK_STR) {
    return b->s[t->off] == '`'; /* a tagged template */
  }
  if (t->type != TK_PUNCT) {
    return 0;
  }
  switch (t->ch) {
  case '.':
  case '(':
  case '[':
  case '?':
  case ':':
  case '+':
  case '-':
  case '*':
  case '/':
  case '%':
  case '<':
  case '>':
  case '=':
  case '&':
  case '|':
  case '^':
  case ',':
  case P_OPEQ:
  case P_FATARROW:
    return 1;
  default:
    return 0;
  }
}

/* Called with the first token after a `=>` that ended this level's head: if that token is not
 * a brace and the head binds the arrow function to a name, the definition starts here. */
static void arrow_start(bscan *b, bframe *f, const scan_tok *t)
{
  if (t->type == TK_PUNCT && (t->ch == ';' || t->ch == ',' || t->ch == ')' || t->ch == ']' ||
                              t->ch == '}')) {
    return; /* no body at all: broken code */
  }
  const scan_tok *arrow = &b->toks[b->ntoks - 1];
  bclass c;
  classify(b, f, &c);
  if (c.what != W_DEF) {
    return;
  }
  f->arrow = scan_add_def(b->sc, c.kind, c.name_off, c.name_len, c.first_off, c.head_off,
                          scan_line_of(b->sc, arrow->off), f->encl);
}

/* Called for each token at the pending arrow's own level (not inside brackets): ends the
 * definition at a separator or where automatic semicolon insertion ends the statement. */
static void arrow_step(bscan *b, bframe *f, const scan_tok *t)
{
  int end = 0;
  if (t->type == TK_PUNCT && t->ch == ';') {
    end = scan_line_of(b->sc, t->off);
  } else if (t->type == TK_PUNCT && (t->ch == ',' || t->ch == ')' || t->ch == ']')) {
    end = prev_tok_line(b);
  } else if (memchr(b->s + b->prev_end, '\n', t->off - b->prev_end) && !js_expr_needs_more(b) &&
             !js_expr_continues(b, t)) {
    end = prev_tok_line(b);
  }
  if (end > 0) {
    b->sc->defs[f->arrow].end_line = end;
    f->arrow = -1;
  }
}

static void on_close(bscan *b, const scan_tok *t)
{
  bframe *cur = top(b);
  if (cur->arrow >= 0) {
    b->sc->defs[cur->arrow].end_line = prev_tok_line(b);
    cur->arrow = -1;
  }
  if (b->nframes == 1) {
    head_reset(b);
    return;
  }
  bframe fr = b->frames[--b->nframes];
  if (fr.def >= 0) {
    scan_def *d = &b->sc->defs[fr.def];
    d->end_line = scan_line_of(b->sc, t->off);
    if (d->name[0] == '\0' && (b->lang == LANG_C || b->lang == LANG_CPP)) {
      name_from_declarator(b, d, t->end);
    }
  }
  b->ntoks = fr.tbase;
  bframe *p = top(b);
  if (fr.keep && p->pdepth == 0) {
    scan_tok g = {TK_CGROUP, 0, fr.open_off, t->end};
    head_push(b, &g);
  }
}

static int peek_char(const bscan *b, size_t p)
{
  const char *s = b->s;
  size_t len = b->lx.len;
  while (p < len && (scan_is_space((unsigned char)s[p]) || s[p] == '\n')) {
    p++;
  }
  return p < len ? (unsigned char)s[p] : -1;
}

static int peek_word(const bscan *b, size_t p, const char *w)
{
  const char *s = b->s;
  size_t len = b->lx.len;
  while (p < len && (scan_is_space((unsigned char)s[p]) || s[p] == '\n')) {
    p++;
  }
  size_t q = p;
  while (q < len && scan_is_ident_char((unsigned char)s[q])) {
    q++;
  }
  return scan_word_is(s + p, q - p, w);
}

/* An import statement starting at identifier t (top level, statement start so far)? */
static int maybe_import(bscan *b, const scan_tok *t)
{
  bframe *f = top(b);
  long n = (long)(b->ntoks - f->tbase);
  const scan_tok *H = &b->toks[f->tbase];
  int mode = IMP_NONE;
  switch (b->lang) {
  case LANG_JAVASCRIPT:
  case LANG_TYPESCRIPT:
    if (tk_is(b, t, "import")) {
      int c = peek_char(b, t->end);
      if (c != '(' && c != '.') {
        mode = IMP_TO_STRING;
        n = 0;
      }
    }
    break;
  case LANG_GO:
    if (n == 0 && tk_is(b, t, "import")) {
      mode = peek_char(b, t->end) == '(' ? IMP_TO_PAREN : IMP_TO_STRING;
    }
    break;
  case LANG_JAVA:
    if (n == 0 && (tk_is(b, t, "import") || tk_is(b, t, "package"))) {
      mode = IMP_TO_SEMI;
    }
    break;
  case LANG_RUST:
    if (tk_is(b, t, "use") || (tk_is(b, t, "extern") && peek_word(b, t->end, "crate"))) {
      for (long i = 0; i < n; i++) {
        if (!tk_is(b, &H[i], "pub") && H[i].type != TK_GROUP) {
          return 0;
        }
      }
      mode = IMP_TO_SEMI;
    }
    break;
  default:
    break;
  }
  if (mode == IMP_NONE) {
    return 0;
  }
  b->imp = mode;
  b->imp_line = scan_line_of(b->sc, n > 0 ? H[0].off : t->off);
  b->imp_depth = 0;
  b->imp_count = 0;
  return 1;
}

/* Feeds a token to the import statement in progress; returns 1 if it was consumed. */
static int import_step(bscan *b, const scan_tok *t)
{
  int done = 0;
  if (++b->imp_count > 4096 ||
      (t->type == TK_PUNCT && t->ch == '{' &&
       (b->lang == LANG_JAVA || b->lang == LANG_GO))) {
    b->imp = IMP_NONE; /* not an import after all: let the token be seen normally */
    head_reset(b);
    return 0;
  }
  switch (b->imp) {
  case IMP_TO_STRING:
    done = t->type == TK_STR || (t->type == TK_PUNCT && (t->ch == ';' || t->ch == P_VSEMI));
    break;
  case IMP_TO_SEMI:
    done = t->type == TK_PUNCT && t->ch == ';';
    break;
  case IMP_TO_PAREN:
    if (tk_p(t, '(')) {
      b->imp_depth++;
    } else if (tk_p(t, ')')) {
      done = --b->imp_depth <= 0;
    }
    break;
  default:
    break;
  }
  if (done) {
    scan_add_import(b->sc, b->imp_line, scan_line_of(b->sc, t->end > t->off ? t->end - 1 : t->off));
    b->imp = IMP_NONE;
    head_reset(b);
  }
  return 1;
}

static void on_ident(bscan *b, const scan_tok *t)
{
  bframe *f = top(b);
  if (b->nframes == 1 && (b->lang == LANG_JAVASCRIPT || b->lang == LANG_TYPESCRIPT) &&
      tk_is(b, t, "require") && peek_char(b, t->end) == '(') {
    int start = scan_line_of(b->sc, t->off);
    for (size_t i = b->ntoks; i-- > f->tbase;) {
      const scan_tok *x = &b->toks[i];
      if (tk_is(b, x, "const") || tk_is(b, x, "let") || tk_is(b, x, "var")) {
        start = scan_line_of(b->sc, x->off);
        break;
      }
    }
    scan_add_import(b->sc, start, scan_line_of(b->sc, t->off));
  }
  if (f->pdepth == 0) {
    if (b->nframes == 1 && maybe_import(b, t)) {
      return;
    }
    head_push(b, t);
  }
}

/* Rust `mod name;` declares a module file: count it with the imports. */
static void rust_mod_decl(bscan *b, const scan_tok *t)
{
  bframe *f = top(b);
  long n = (long)(b->ntoks - f->tbase);
  const scan_tok *H = &b->toks[f->tbase];
  if (b->nframes == 1 && n >= 2 && tk_is(b, &H[n - 2], "mod") && H[n - 1].type == TK_IDENT) {
    scan_add_import(b->sc, scan_line_of(b->sc, H[n - 2].off), scan_line_of(b->sc, t->off));
  }
}

/* A top-level C statement ended: remember a function declarator that may be followed by
 * old-style parameter declarations, or count one of those declarations. */
static void kr_statement(bscan *b)
{
  bframe *f = top(b);
  long n = (long)(b->ntoks - f->tbase);
  const scan_tok *H = &b->toks[f->tbase];
  if (n == 0) {
    return;
  }
  if (b->kr_count > 0) {
    if (H[n - 1].type != TK_GROUP && ++b->kr_count <= 32) {
      return; /* one more parameter declaration */
    }
    b->kr_count = 0;
  }
  /* `int f(a, b) int a;`: the declarator, then the first declaration in the same statement */
  long g = 1;
  while (g < n && !(H[g].type == TK_GROUP && H[g - 1].type == TK_IDENT)) {
    g++;
  }
  if (g + 1 >= n || H[g + 1].type != TK_IDENT) {
    return;
  }
  for (long i = g + 1; i < n; i++) {
    if (tk_p(&H[i], '=')) {
      return;
    }
  }
  bclass c;
  classify_n(b, f, g + 1, &c);
  if (c.what == W_DEF && c.kind == DEF_FUNCTION) {
    b->kr = c;
    b->kr_count = 1;
  }
}

void scan_brace_file(scan_ctx *sc)
{
  bscan b;
  memset(&b, 0, sizeof(b));
  b.sc = sc;
  b.lang = sc->lang;
  b.s = sc->src;
  /* The head-token array always exists, so &toks[tbase] is valid even before the first token. */
  b.cap_toks = 256;
  b.toks = xmalloc(b.cap_toks * sizeof(scan_tok));
  scan_lex_init(&b.lx, sc->lang, sc->src, 0, sc->len, sc);
  /* Inside brackets this pass looks only at brackets, braces and the token before a brace
   * (in C/C++, where no import or arrow function needs more): let the lexer skip the rest. */
  b.lx.elide_groups = b.lx.cfam;
  /* In C nothing inside a function body or an initialiser is a definition or an import this
   * pass reports (a struct declared in a body lies inside the function's own text): the lexer
   * hands out only their braces, which is most of the speed on real C (bench/README.md). */
  b.lx.stop_after_brace = b.lang == LANG_C;
  frame_push(&b, CTX_TOP, -1, -1, 0, 0);
  int js = b.lx.js;
  /* Identifiers need a look (imports, `require`) only at top level, and never in C/C++. */
  size_t ident_slow_frames = b.lang == LANG_C || b.lang == LANG_CPP ? 0 : 1;
  scan_tok batch[128];
  size_t nbatch = 0, ib = 0;
  for (;;) {
    if (ib == nbatch) {
      nbatch = scan_lex_fill(&b.lx, batch, sizeof(batch) / sizeof(batch[0]));
      ib = 0;
      if (nbatch == 0) {
        break;
      }
    }
    const scan_tok *tp = &batch[ib++];
    /* Fast path for most tokens: one that only extends the current head. */
    if (b.imp == IMP_NONE && !js) {
      bframe *f = &b.frames[b.nframes - 1];
      int plain = tp->type == TK_PUNCT ? !brace_punct_special(tp->ch)
                                       : tp->type != TK_IDENT || b.nframes > ident_slow_frames;
      if (plain && f->pdepth == 0 && b.ntoks - f->tbase < HEAD_MAX && b.ntoks < b.cap_toks) {
        b.toks[b.ntoks++] = *tp;
        b.prev_type = tp->type == TK_GROUP || tp->type == TK_BGROUP ? TK_PUNCT : tp->type;
        b.prev_ch = tp->type == TK_GROUP ? ')' : tp->type == TK_BGROUP ? ']' : tp->ch;
        b.prev_off = tp->off;
        b.prev_end = tp->end;
        continue;
      }
    }
    scan_tok t = *tp;
    if (b.imp != IMP_NONE && import_step(&b, &t)) {
      goto next;
    }
    bframe *f = top(&b);
    if (js && f->pdepth == 0) {
      if (f->arrow >= 0) {
        arrow_step(&b, f, &t);
      } else if (b.prev_type == TK_PUNCT && b.prev_ch == P_FATARROW && !tk_p(&t, '{') &&
                 b.ntoks > f->tbase && tk_p(&b.toks[b.ntoks - 1], P_FATARROW)) {
        arrow_start(&b, f, &t);
      }
    }
    switch (t.type) {
    case TK_PUNCT:
      switch (t.ch) {
      case '(':
      case '[':
        if (f->pdepth == 0) {
          scan_tok g = t;
          g.type = t.ch == '(' ? TK_GROUP : TK_BGROUP;
          head_push(&b, &g);
          f = top(&b);
        }
        f->pdepth++;
        break;
      case ')':
      case ']':
        if (f->pdepth > 0 && --f->pdepth == 0) {
          b.toks[b.ntoks - 1].end = t.end;
        }
        break;
      case '{':
        on_open(&b, &t);
        if (b.lx.stop_after_brace && b.body_frames == 0) {
          /* A function body, an initialiser, a block: everything but a struct's body or an
           * `extern "C"` block, which hold definitions. (The lexer may already be past the
           * body's end: body_frames, not the lexer's depth, says whether this brace is in it.) */
          const bframe *nf = top(&b);
          if (nf->ctx != CTX_TOP && nf->ctx != CTX_CLASS) {
            scan_lex_enter_body(&b.lx);
            b.body_frames = b.nframes;
          }
        }
        break;
      case '}':
        on_close(&b, &t);
        if (b.nframes < b.body_frames) {
          b.body_frames = 0; /* the braces-only body ended with this one */
        }
        break;
      case ';':
      case P_VSEMI:
        if (f->pdepth == 0) {
          if (b.lang == LANG_RUST) {
            rust_mod_decl(&b, &t);
          }
          if (b.lang == LANG_C && b.nframes == 1) {
            kr_statement(&b);
          }
          head_reset(&b);
        }
        break;
      case ',':
        if (f->pdepth == 0) {
          if (f->ctx == CTX_OBJECT) {
            head_reset(&b);
          } else {
            head_push(&b, &t);
          }
        }
        break;
      case ':':
        if (f->pdepth == 0) {
          static const char *const access[] = {"public", "private", "protected", "signals",
                                               "slots", "Q_SIGNALS", "Q_SLOTS", NULL};
          long n = (long)(b.ntoks - f->tbase);
          if (b.lang == LANG_CPP && f->ctx == CTX_CLASS && n >= 1 && n <= 2 &&
              tk_in(&b, &b.toks[f->tbase], access)) {
            head_reset(&b);
          } else {
            head_push(&b, &t);
          }
        }
        break;
      default:
        if (f->pdepth == 0) {
          head_push(&b, &t);
        }
        break;
      }
      break;
    case TK_IDENT:
      on_ident(&b, &t);
      break;
    default:
      if (f->pdepth == 0) {
        head_push(&b, &t);
      }
      break;
    }
  next:
    /* A group the lexer handed out whole ends with its closing bracket. */
    b.prev_type = t.type == TK_GROUP || t.type == TK_BGROUP ? TK_PUNCT : t.type;
    b.prev_ch = t.type == TK_GROUP ? ')' : t.type == TK_BGROUP ? ']' : t.ch;
    b.prev_off = t.off;
    b.prev_end = t.end;
  }
  /* An arrow expression still open at its own level ends with the file (a statement may end
   * there without a semicolon); one inside unclosed brackets keeps the end-of-file end. */
  bframe *last = top(&b);
  if (last->arrow >= 0 && last->pdepth == 0) {
    sc->defs[last->arrow].end_line = prev_tok_line(&b);
  }
  if (b.imp != IMP_NONE && b.imp_count > 0) {
    scan_add_import(sc, b.imp_line, scan_last_line(sc));
  }
  /* Unterminated definitions keep the end-of-file end_line they were created with. */
  free(b.toks);
  free(b.frames);
}

void scan_brace_calls(lang_id lang, const char *src, size_t from, size_t to, int mode,
                      scan_call_fn fn, void *data)
{
  if (mode == SCAN_REFS_IDENTS) {
    scan_brace_refs(lang, src, from, to, NULL, NULL, fn, data);
  } else {
    scan_brace_refs(lang, src, from, to, fn, data, NULL, NULL);
  }
}

void scan_brace_refs(lang_id lang, const char *src, size_t from, size_t to, scan_call_fn call_fn,
                     void *call_data, scan_call_fn ident_fn, void *ident_data)
{
  static const char *const def_words[] = {"function", "fn", "func", NULL};
  scan_lex lx;
  scan_lex_init(&lx, lang, src, from, to, NULL);
  scan_nameset seen_calls, seen_idents;
  scan_nameset_init(&seen_calls);
  scan_nameset_init(&seen_idents);
  scan_tok prev = {0, 0, 0, 0}, prev2 = {0, 0, 0, 0};
  scan_tok batch[128];
  size_t nbatch = 0, ib = 0;
  for (;;) {
    if (ib == nbatch) {
      /* A batch per call: a scope of thousands of lines is tens of thousands of tokens. */
      nbatch = scan_lex_fill(&lx, batch, sizeof(batch) / sizeof(batch[0]));
      ib = 0;
      if (nbatch == 0) {
        break;
      }
    }
    scan_tok t = batch[ib++];
    if (ident_fn && t.type == TK_IDENT) {
      scan_emit_call(lang, &seen_idents, src + t.off, t.end - t.off, ident_fn, ident_data);
    }
    if (call_fn && tk_p(&t, '(') && prev.type == TK_IDENT &&
        !(prev2.type == TK_IDENT && scan_word_in(src + prev2.off, prev2.end - prev2.off,
                                                 def_words))) {
      scan_emit_call(lang, &seen_calls, src + prev.off, prev.end - prev.off, call_fn, call_data);
    }
    prev2 = prev;
    prev = t;
  }
  scan_nameset_free(&seen_calls);
  scan_nameset_free(&seen_idents);
}
