/* path: file names as a user writes them in a config, made into names the system takes. */
#ifndef FRUGAL_UTIL_PATH_H
#define FRUGAL_UTIL_PATH_H

#include <stddef.h>

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
