/* scan: a language-aware scanner that finds definitions (functions, methods, classes), import
 * lines and call sites in one source file, without a parser.
 *
 * It understands each language's strings (including raw, template and multi-line strings),
 * character literals, comments and block structure (braces for the C family, Go, Rust, Java,
 * JS/TS; indentation for Python; keywords/`end` for Lua), so braces inside strings or comments
 * never confuse it. Unterminated code is handled: an unclosed definition ends at end of file.
 *
 * Lines are 1-based and inclusive everywhere. */
#ifndef FRUGAL_CONTEXT_SCAN_H
#define FRUGAL_CONTEXT_SCAN_H

#include <stddef.h>

#include "context/lang.h"
#include "util/text.h"

typedef enum {
  DEF_FUNCTION = 0, /* a free function (also a named lambda/arrow function bound to a name) */
  DEF_METHOD,       /* a function defined inside a class/struct/impl/interface body */
  DEF_CLASS,        /* class, struct, union, enum, interface, trait, impl, namespace-level type */
} def_kind;

typedef struct {
  def_kind kind;
  char *name;       /* owned; the bare name ("parse", "Foo", "Foo::bar" for C++ out-of-line) */
  int start_line;   /* first line, including decorators, attributes, template<> and the doc
                       comment directly above (no blank line between) */
  int end_line;     /* last line of the body (closing brace / last indented line / `end`) */
  int head_line;    /* line where the declaration itself starts (after decorators/comments) */
  int body_line;    /* line holding the body's opening brace / the Python `:` / Lua header end;
                       the signature is head_line..body_line */
  int parent;       /* index in scan_result.defs of the enclosing definition, or -1 */
} scan_def;

typedef struct {
  int start_line;
  int end_line;
} scan_range;

typedef struct {
  lang_id lang;
  scan_def *defs;  /* sorted by start_line, then outermost first */
  size_t ndefs;
  scan_range *imports; /* #include / import / use / require lines, merged when adjacent */
  size_t nimports;
} scan_result;

/* Scans the whole file. Returns 0 and fills `out` (free with scan_result_free), or -1 if the
 * language is LANG_UNKNOWN (nothing to scan; `out` is left empty and valid). Never fails on
 * malformed code. */
int scan_file(lang_id lang, const text_t *text, scan_result *out);
void scan_result_free(scan_result *r);

/* Index of the innermost definition of kind function or method that contains `line`; if there is
 * none, the innermost class containing it; -1 if the line is in no definition. */
int scan_find_at(const scan_result *r, int line);

/* Calls `fn(name, len, data)` once for each distinct identifier that is used as a call
 * (`name(`, also `obj.name(`, `obj:name(` and `Type::name(`; for the qualified forms the bare
 * name is passed) in lines [start_line, end_line], outside strings and comments. Keywords like
 * `if (` or `while (` are not calls. */
typedef void (*scan_call_fn)(const char *name, size_t len, void *data);
void scan_calls(lang_id lang, const text_t *text, int start_line, int end_line, scan_call_fn fn,
                void *data);

/* Calls `fn(name, len, data)` once for each distinct identifier in lines [start_line, end_line]
 * outside strings and comments, keywords that scan_calls() ignores excepted. Used to find the
 * types a scope refers to. */
void scan_idents(lang_id lang, const text_t *text, int start_line, int end_line, scan_call_fn fn,
                 void *data);

/* scan_calls(call_fn, call_data) and scan_idents(ident_fn, ident_data) over the same lines, the
 * brace languages in one pass (a scope of thousands of lines is lexed once, not twice). Either
 * callback may be NULL. */
void scan_calls_and_idents(lang_id lang, const text_t *text, int start_line, int end_line,
                           scan_call_fn call_fn, void *call_data, scan_call_fn ident_fn,
                           void *ident_data);

/* The tokens of `code` in a brace language (C, C++, Java, JavaScript, TypeScript, Go, Rust), for
 * checks of code that is not a file of the project (a model's answer): comments, strings and
 * preprocessor lines are skipped as the scanner skips them. Each token reaches `fn` in order
 * with `punct` the character of a one-character punctuator ('{', ';', ...), SCAN_PUNCT_ELLIPSIS
 * for "...", SCAN_PUNCT_LINE_END for the semicolon Go inserts at a line's end, or 0 for every
 * other token (names, literals, punctuators of several characters); `off`/`end` are its bytes
 * in `code`. */
enum { SCAN_PUNCT_ELLIPSIS = 256, SCAN_PUNCT_LINE_END };
typedef struct {
  int punct;
  size_t off, end;
} scan_code_token;
typedef void (*scan_code_fn)(const scan_code_token *t, void *data);
void scan_code_tokens(lang_id lang, const char *code, size_t len, scan_code_fn fn, void *data);

#endif
