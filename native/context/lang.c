#include "context/lang.h"

#include <string.h>
#include <strings.h>

#include "context/scan_lex.h"

typedef struct {
  const char *key;
  lang_id lang;
} lang_key;

/* Extensions are matched case-insensitively except where case carries meaning (".C" and ".H"
 * are C++ by convention, ".c" and ".h" are C). */
static const lang_key lang_exts[] = {
  {"c", LANG_C},          {"h", LANG_C},           {"cc", LANG_CPP},       {"cpp", LANG_CPP},
  {"cxx", LANG_CPP},      {"c++", LANG_CPP},       {"hh", LANG_CPP},       {"hpp", LANG_CPP},
  {"hxx", LANG_CPP},      {"h++", LANG_CPP},       {"ipp", LANG_CPP},      {"tpp", LANG_CPP},
  {"inl", LANG_CPP},      {"cu", LANG_CPP},        {"cuh", LANG_CPP},      {"ixx", LANG_CPP},
  {"py", LANG_PYTHON},    {"pyi", LANG_PYTHON},    {"pyw", LANG_PYTHON},   {"js", LANG_JAVASCRIPT},
  {"mjs", LANG_JAVASCRIPT}, {"cjs", LANG_JAVASCRIPT}, {"jsx", LANG_JAVASCRIPT},
  {"ts", LANG_TYPESCRIPT}, {"mts", LANG_TYPESCRIPT}, {"cts", LANG_TYPESCRIPT},
  {"tsx", LANG_TYPESCRIPT}, {"go", LANG_GO},       {"rs", LANG_RUST},      {"java", LANG_JAVA},
  {"lua", LANG_LUA},
};

static const lang_key lang_names[] = {
  {"c", LANG_C},
  {"cpp", LANG_CPP},
  {"c++", LANG_CPP},
  {"cxx", LANG_CPP},
  {"cuda", LANG_CPP},
  {"python", LANG_PYTHON},
  {"python3", LANG_PYTHON},
  {"javascript", LANG_JAVASCRIPT},
  {"javascriptreact", LANG_JAVASCRIPT},
  {"js", LANG_JAVASCRIPT},
  {"jsx", LANG_JAVASCRIPT},
  {"typescript", LANG_TYPESCRIPT},
  {"typescriptreact", LANG_TYPESCRIPT},
  {"ts", LANG_TYPESCRIPT},
  {"tsx", LANG_TYPESCRIPT},
  {"go", LANG_GO},
  {"rust", LANG_RUST},
  {"java", LANG_JAVA},
  {"lua", LANG_LUA},
  /* Objective-C: read as the C (or C++) it is built on. */
  {"objc", LANG_C},
  {"objcpp", LANG_CPP},
};

static const char *const lang_display[LANG__COUNT] = {
  [LANG_UNKNOWN] = "text",         [LANG_C] = "c",       [LANG_CPP] = "cpp",
  [LANG_PYTHON] = "python",        [LANG_JAVASCRIPT] = "javascript",
  [LANG_TYPESCRIPT] = "typescript", [LANG_GO] = "go",    [LANG_RUST] = "rust",
  [LANG_JAVA] = "java",            [LANG_LUA] = "lua",
};

lang_id lang_from_path(const char *path)
{
  if (!path) {
    return LANG_UNKNOWN;
  }
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  const char *dot = strrchr(base, '.');
  /* A leading dot names a hidden file (".c" is not a C file), not an extension. */
  if (!dot || dot == base || dot[1] == '\0') {
    return LANG_UNKNOWN;
  }
  const char *ext = dot + 1;
  if (strcmp(ext, "C") == 0 || strcmp(ext, "H") == 0) {
    return LANG_CPP;
  }
  for (size_t i = 0; i < sizeof(lang_exts) / sizeof(lang_exts[0]); i++) {
    if (strcasecmp(ext, lang_exts[i].key) == 0) {
      return lang_exts[i].lang;
    }
  }
  return LANG_UNKNOWN;
}

lang_id lang_from_name(const char *name)
{
  if (!name) {
    return LANG_UNKNOWN;
  }
  for (size_t i = 0; i < sizeof(lang_names) / sizeof(lang_names[0]); i++) {
    if (strcasecmp(name, lang_names[i].key) == 0) {
      return lang_names[i].lang;
    }
  }
  return LANG_UNKNOWN;
}

const char *lang_name(lang_id lang)
{
  if ((int)lang < 0 || lang >= LANG__COUNT) {
    return "text";
  }
  return lang_display[lang];
}

/* How far into a header the C++ check reads: the first C++ construct comes early in nearly
 * every C++ header (a namespace opens before anything else), and a C header is read to here. */
#define LANG_SNIFF_MAX (256u * 1024u)

static int tok_is(const char *s, const scan_tok *t, const char *w)
{
  return t->type == TK_IDENT && scan_word_is(s + t->off, t->end - t->off, w);
}

/* Byte ranges of `#ifdef __cplusplus` (or `#if` ... __cplusplus, not negated) branches, to
 * the matching #else, #elif or #endif: a C header's part for C++ callers is not what the
 * header is. Up to `max` ranges; returns how many. */
static size_t cplusplus_branches(const char *s, size_t len, size_t (*r)[2], size_t max)
{
  size_t n = 0, p = 0;
  int depth = 0, open_at = -1; /* depth of the open __cplusplus branch, -1: none */
  int neg_at = -1;             /* depth of an `#ifndef __cplusplus`: its #else is C++ */
  while (p < len) {
    size_t q = p;
    while (q < len && (s[q] == ' ' || s[q] == '\t')) {
      q++;
    }
    const char *nl = memchr(s + p, '\n', len - p);
    size_t e = nl ? (size_t)(nl - s) : len;
    if (q < e && s[q] == '#') {
      q++;
      while (q < e && (s[q] == ' ' || s[q] == '\t')) {
        q++;
      }
      size_t w = q;
      while (q < e && scan_is_ident_char((unsigned char)s[q])) {
        q++;
      }
      size_t wl = q - w;
      int is_if = wl >= 2 && s[w] == 'i' && s[w + 1] == 'f';
      if (is_if) {
        depth++;
        const char *cpp = memmem(s + q, e - q, "__cplusplus", 11);
        const char *neg = memchr(s + q, '!', e - q);
        int negated = (neg && neg < cpp) || scan_word_is(s + w, wl, "ifndef");
        if (open_at < 0 && neg_at < 0 && cpp && n < max) {
          if (negated) {
            neg_at = depth;
          } else {
            open_at = depth;
            r[n][0] = e;
          }
        }
      } else if (scan_word_is(s + w, wl, "endif") || scan_word_is(s + w, wl, "else") ||
                 scan_word_is(s + w, wl, "elif")) {
        int endif = scan_word_is(s + w, wl, "endif");
        if (open_at == depth) {
          r[n++][1] = p;
          open_at = -1;
        } else if (neg_at == depth && !endif && n < max) {
          open_at = depth; /* the branch after `#ifndef __cplusplus` */
          neg_at = -1;
          r[n][0] = e;
        }
        if (endif) {
          neg_at = neg_at == depth ? -1 : neg_at;
          depth -= depth > 0;
        }
      }
    }
    p = e + 1;
  }
  if (open_at >= 0) {
    r[n++][1] = len;
  }
  return n;
}

int lang_text_is_cpp(const char *text, size_t len)
{
  static const char *const words[] = {
    "typename", "virtual", "constexpr", "nullptr", "noexcept", "decltype", "static_cast",
    "reinterpret_cast", "const_cast", "dynamic_cast", "consteval", "constinit", "co_await",
    "co_return", "co_yield", NULL,
  };
  static const char *const access[] = {"public", "private", "protected", NULL};
  if (!text) {
    return 0;
  }
  len = len < LANG_SNIFF_MAX ? len : LANG_SNIFF_MAX;
  size_t skip[32][2];
  size_t nskip = cplusplus_branches(text, len, skip, 32), k = 0;
  scan_lex lx;
  scan_lex_init(&lx, LANG_CPP, text, 0, len, NULL);
  scan_tok w[4]; /* the last four tokens, w[3] the newest */
  memset(w, 0, sizeof(w));
  int brackets = 0; /* open [ : `::` in [[gnu::x]] is a C23 attribute */
  scan_tok batch[128];
  size_t n;
  while ((n = scan_lex_fill(&lx, batch, sizeof(batch) / sizeof(batch[0]))) > 0) {
    for (size_t i = 0; i < n; i++) {
      while (k < nskip && skip[k][1] <= batch[i].off) {
        k++;
      }
      if (k < nskip && batch[i].off >= skip[k][0]) {
        continue; /* inside #ifdef __cplusplus */
      }
      memmove(&w[0], &w[1], 3 * sizeof(w[0]));
      w[3] = batch[i];
      const scan_tok *z = &w[0], *a = &w[1], *b = &w[2], *c = &w[3];
      if (c->type == TK_PUNCT && c->ch == '[') {
        brackets++;
      } else if (c->type == TK_PUNCT && c->ch == ']') {
        brackets -= brackets > 0;
      } else if (c->type == TK_PUNCT && c->ch == P_SCOPE && !brackets) {
        return 1;
      }
      if (c->type == TK_IDENT && scan_word_in(text + c->off, c->end - c->off, words)) {
        return 1;
      }
      /* namespace x { / namespace { / using namespace x; / template < */
      if (tok_is(text, b, "namespace") && (c->type == TK_IDENT || (c->type == TK_PUNCT &&
                                                                  c->ch == '{'))) {
        return 1;
      }
      if (tok_is(text, b, "template") && c->type == TK_PUNCT && c->ch == '<') {
        return 1;
      }
      /* class X { / class X : / class X; (not Objective-C's @class X;) */
      if (tok_is(text, a, "class") && !(z->type == TK_PUNCT && z->ch == '@') &&
          b->type == TK_IDENT && c->type == TK_PUNCT &&
          (c->ch == '{' || c->ch == ':' || c->ch == ';')) {
        return 1;
      }
      /* public: (after a newline, `;`, `{` or `}`: not the `?:` of an expression) */
      if (b->type == TK_IDENT && scan_word_in(text + b->off, b->end - b->off, access) &&
          c->type == TK_PUNCT && c->ch == ':' &&
          (a->type == 0 || (a->type == TK_PUNCT && (a->ch == ';' || a->ch == '{' ||
                                                     a->ch == '}')))) {
        return 1;
      }
      if (tok_is(text, b, "operator") && c->type == TK_PUNCT && c->ch != ';' && c->ch != ',' &&
          c->ch != ')') {
        return 1;
      }
    }
  }
  return 0;
}

static int lang_path_is_h(const char *path)
{
  size_t n = path ? strlen(path) : 0;
  return n >= 2 && path[n - 2] == '.' && path[n - 1] == 'h' &&
         lang_from_path(path) == LANG_C;
}

lang_id lang_detect(const char *path, const char *filetype, const char *data, size_t len)
{
  int is_h = lang_path_is_h(path);
  lang_id named = filetype && *filetype ? lang_from_name(filetype) : LANG_UNKNOWN;
  int objc_named = filetype && (strcasecmp(filetype, "objc") == 0 ||
                                strcasecmp(filetype, "objcpp") == 0);
  if (named != LANG_UNKNOWN && !objc_named && !(is_h && named == LANG_C)) {
    return named;
  }
  if (objc_named) {
    /* objcpp is C++ by name; objc may still carry C++ (an .h shared with .mm files). */
    return named == LANG_CPP || lang_text_is_cpp(data, len) ? LANG_CPP : LANG_C;
  }
  if (!is_h) {
    return lang_from_path(path);
  }
  return lang_text_is_cpp(data, len) ? LANG_CPP : LANG_C;
}
