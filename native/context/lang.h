/* lang: the languages the context scanner understands. */
#ifndef FRUGAL_CONTEXT_LANG_H
#define FRUGAL_CONTEXT_LANG_H

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

#endif
