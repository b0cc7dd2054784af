/* path: small operations on path strings and on what a path names. Pure string work except
 * path_is_dir / path_is_file, which stat(2) (no open: never blocks on a FIFO). */
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

#endif
