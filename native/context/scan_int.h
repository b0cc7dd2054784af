/* scan_int: pieces shared by the per-language scanners (scan_brace.c, scan_py.c, scan_lua.c)
 * and the public entry points in scan.c. Not a public contract. */
#ifndef FRUGAL_CONTEXT_SCAN_INT_H
#define FRUGAL_CONTEXT_SCAN_INT_H

#include <stddef.h>

#include "context/scan.h"

/* A comment's byte span [off, end); `end` excludes the newline of a line comment. */
typedef struct {
  size_t off;
  size_t end;
} scan_span;

/* Growing output of one scan. Arrays grow geometrically, so the cost is amortised O(1) per def,
 * import or comment, never per line. */
typedef struct {
  lang_id lang;
  const text_t *text;
  const char *src;
  size_t len;
  scan_def *defs;
  size_t ndefs, cap_defs;
  scan_range *imports;
  size_t nimports, cap_imports;
  scan_span *comments;
  size_t ncomments, cap_comments;
  int line_hint; /* 0-based line of the last scan_line_of answer (a cache, not state) */
} scan_ctx;

void scan_ctx_init(scan_ctx *sc, lang_id lang, const text_t *text);
/* Moves the results into `out` and frees the scratch; defs are sorted as scan.h promises. */
void scan_ctx_finish(scan_ctx *sc, scan_result *out);
/* Frees everything (used when the result is abandoned). */
void scan_ctx_free(scan_ctx *sc);

int scan_line_of(scan_ctx *sc, size_t off);
/* Last line of the file (1 for an empty file); where unterminated definitions end. */
int scan_last_line(const scan_ctx *sc);
void scan_add_comment(scan_ctx *sc, size_t off, size_t end);
/* Adds an import range, merging it with the previous one when adjacent or overlapping. */
void scan_add_import(scan_ctx *sc, int start_line, int end_line);
/* Appends a definition named by src[name_off, name_off + name_len) with whitespace removed; its
 * start line is `first_off`'s line extended upward over the comments directly above. Returns
 * its index. end_line is set to the last line until the caller closes it. */
int scan_add_def(scan_ctx *sc, def_kind kind, size_t name_off, size_t name_len, size_t first_off,
                 size_t head_off, int body_line, int parent);
/* Line where a definition whose first token is at `first_off` starts once the comment block
 * directly above it (no blank line between, each comment alone on its lines) is included. */
int scan_doc_start(scan_ctx *sc, size_t first_off);

static inline int scan_is_ident_start(unsigned char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

static inline int scan_is_ident_char(unsigned char c)
{
  return scan_is_ident_start(c) || (c >= '0' && c <= '9');
}

static inline int scan_is_space(unsigned char c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* 1 if src[off, off+len) equals the NUL-terminated word `w`. */
static inline int scan_word_is(const char *s, size_t len, const char *w)
{
  size_t i = 0;
  for (; i < len; i++) {
    if (w[i] != s[i]) {
      return 0;
    }
  }
  return w[i] == '\0';
}

/* 1 if the word is in the NULL-terminated list. Inline: the structure pass asks this for most
 * head tokens it classifies, and the first character rules out nearly every entry. */
static inline int scan_word_in(const char *s, size_t len, const char *const *list)
{
  if (len == 0) {
    return 0;
  }
  for (; *list; list++) {
    if ((*list)[0] == s[0] && scan_word_is(s, len, *list)) {
      return 1;
    }
  }
  return 0;
}

/* Per-family scanners: fill sc from sc->text. */
void scan_brace_file(scan_ctx *sc);
void scan_py_file(scan_ctx *sc);
void scan_lua_file(scan_ctx *sc);

/* Per-family reference finders over src[from, to): calls only (SCAN_REFS_CALLS), or every
 * identifier outside strings and comments (SCAN_REFS_IDENTS). */
enum { SCAN_REFS_CALLS = 0, SCAN_REFS_IDENTS = 1 };
void scan_brace_calls(lang_id lang, const char *src, size_t from, size_t to, int mode,
                      scan_call_fn fn, void *data);
/* Both at once: calls to call_fn, identifiers to ident_fn (either may be NULL). */
void scan_brace_refs(lang_id lang, const char *src, size_t from, size_t to, scan_call_fn call_fn,
                     void *call_data, scan_call_fn ident_fn, void *ident_data);
void scan_py_calls(const char *src, size_t from, size_t to, int mode, scan_call_fn fn,
                   void *data);
void scan_lua_calls(const char *src, size_t from, size_t to, int mode, scan_call_fn fn,
                    void *data);

/* Set of names already reported by a call finder: report each distinct name once. */
typedef struct {
  const char **keys;
  size_t *lens;
  size_t cap, n;
} scan_nameset;

void scan_nameset_init(scan_nameset *s);
/* Returns 1 if the name was newly added, 0 if it was present. Keys are borrowed. */
int scan_nameset_add(scan_nameset *s, const char *name, size_t len);
void scan_nameset_free(scan_nameset *s);

/* Reports `name` through fn unless it is a keyword of `lang` or was already reported. */
void scan_emit_call(lang_id lang, scan_nameset *seen, const char *name, size_t len,
                    scan_call_fn fn, void *data);

#endif
