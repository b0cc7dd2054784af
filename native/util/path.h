/* path: small operations on path strings and on what a path names, and file names as a user
 * writes them in a config made into names the system takes. Pure string work except
 * path_is_dir / path_is_file, which stat(2) (no open: never blocks on a FIFO), and path_expand,
 * which reads the environment and the password database. */
#ifndef FRUGAL_UTIL_PATH_H
#define FRUGAL_UTIL_PATH_H

#include <stddef.h>

/* "a" + "/" + "b", where an empty side vanishes and "/" is not doubled. Caller frees. */
char *path_join(const char *a, const char *b);
/* Directory part of a relative path ("" for a bare name). Caller frees. */
char *path_dirname(const char *rel);
/* The last component (points into `path`). */
const char *path_base(const char *path);
/* The extension of a file name including its dot, or "" (a leading dot is not one); points
 * into `name`. */
const char *path_ext(const char *name);
/* 1 when `path` names a directory / a regular file (following links), else 0. */
int path_is_dir(const char *path);
int path_is_file(const char *path);
/* 1 when the absolute path `real` is `root` or inside it ("/" holds everything). */
int path_inside(const char *root, const char *real);

/* Expands `in` as a shell would expand an unquoted word, without globbing or splitting:
 *   - a leading "~" or "~/" becomes $HOME, "~user" that user's home directory;
 *   - "$NAME" and "${NAME}" (NAME: letters, digits, '_', not starting with a digit) become the
 *     variable's value. An unset or empty XDG_STATE_HOME, XDG_DATA_HOME, XDG_CONFIG_HOME or
 *     XDG_CACHE_HOME takes its default from the XDG base directory spec ($HOME/.local/state,
 *     .local/share, .config, .cache), as Neovim's stdpath() does; any other unset or empty
 *     variable is an error, since "/x.jsonl" would surprise more than a message.
 *   - a '$' not followed by a name is kept as it is.
 * A relative result stays relative (to the process's working directory).
 * Writes the result into out (n bytes) and returns 0, or returns -1 with a one-line message in
 * `err` ("$LEDGER_DIR is not set", "no user 'bob'", "HOME is not set", "the path is longer than
 * 4095 bytes"). */
int path_expand(const char *in, char *out, size_t n, char *err, size_t errlen);

#endif
