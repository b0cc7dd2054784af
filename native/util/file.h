/* file: read-only access to a whole file, mapped when it is a regular file. */
#ifndef FRUGAL_UTIL_FILE_H
#define FRUGAL_UTIL_FILE_H

#include <stddef.h>

typedef struct {
  const char *data; /* the contents (not NUL-terminated); "" for an empty file */
  size_t len;
  void *map;        /* the mapping, or NULL when the contents were read into `owned` */
  char *owned;
} file_contents;

/* Opens `path` and makes its contents available, refusing files over `max` bytes and
 * directories. Returns 0, or -1 with a one-line message in `err` naming the file and the reason.
 * Release with file_release(). */
int file_load(file_contents *f, const char *path, size_t max, char *err, size_t errlen);
void file_release(file_contents *f);

#endif
