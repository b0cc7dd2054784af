/* lang: the languages the context scanner understands. */
#ifndef FRUGAL_CONTEXT_LANG_H
#define FRUGAL_CONTEXT_LANG_H

#include <stddef.h>

typedef enum {
  LANG_UNKNOWN = 0,
  LANG_C,
  LANG_CPP,
  LANG_PYTHON,
  LANG_JAVASCRIPT,
  LANG_TYPESCRIPT,
  LANG_GO,
  LANG_RUST,
  LANG_JAVA,
  LANG_LUA,
  LANG__COUNT
} lang_id;

/* Language from a file name's extension (".c", ".hpp", ".py", ".tsx", ...); LANG_UNKNOWN if
 * none matches. A ".h" file is C. */
lang_id lang_from_path(const char *path);
/* Language from an editor filetype or a language name ("c", "cpp", "python", "javascript",
 * "javascriptreact", "typescript", "typescriptreact", "go", "rust", "java", "lua"); LANG_UNKNOWN
 * if none matches. */
lang_id lang_from_name(const char *name);
/* Stable lower-case name ("c", "cpp", "python", ..., "text" for LANG_UNKNOWN). */
const char *lang_name(lang_id lang);

/* The language to read a file in, from what is known about it:
 * - an editor filetype (or a language name) that names a language wins, except the generic
 *   "c" for a ".h" file;
 * - else the extension; a ".h" file (or "c" for one) is C++ when its text has something C
 *   cannot have (lang_text_is_cpp), else C;
 * - Objective-C (filetype "objc" or "objcpp"; a header with @interface, @class, @end) is read
 *   as C, or as C++ when it is "objcpp" or holds C++: the scanner has no Objective-C grammar,
 *   the C parts are what it finds.
 * `filetype`, `path` and `data` may be NULL. Returns LANG_UNKNOWN if nothing matches. */
lang_id lang_detect(const char *path, const char *filetype, const char *data, size_t len);
/* 1 if text[0..len) (read as C: strings, comments and preprocessor lines skipped; only the
 * first 256 KiB) has C++ that C cannot have: `namespace x` / `namespace {`, `template <`,
 * `class X {` / `class X :` / `class X;` (not @class), `public:` / `private:` / `protected:`, `::` outside
 * [[attributes]], `operator` followed by an operator, `typename`, `virtual`, `constexpr`,
 * `nullptr`, `noexcept`, `decltype`, the `*_cast<`s, `using namespace`. What a C header says for C++ callers is
 * not C++ here: `extern "C"`, and whatever is inside `#ifdef __cplusplus` (or an `#if` naming
 * __cplusplus) up to its #else/#endif. */
int lang_text_is_cpp(const char *text, size_t len);

#endif
