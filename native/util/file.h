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

/* Opens `path` (open(2) `flags` and `mode`, O_CLOEXEC added) and checks that it is a regular
 * file. Anything else (a FIFO, a terminal, /dev/stdin, a socket, a directory) is refused before
 * a byte is read, because reading it could block forever, read the host's own RPC stream, or
 * never end: the open itself does not block (O_NONBLOCK, cleared again once the file is known to
 * be regular). Returns the descriptor, or with a one-line message in `err` naming the file:
 * FILE_ENOTREG when it is not a regular file (saying what it is; `what` says what the file was
 * for: "ledger", "file"), -1 when it cannot be opened (errno kept). */
#define FILE_ENOTREG (-2)
int file_open_regular(const char *path, int flags, int mode, const char *what, char *err,
                      size_t errlen);

/* Opens `path` and makes its contents available, refusing files over `max` bytes and anything
 * that is not a regular file (file_open_regular). A regular file that says its size is 0 (as
 * /proc files do) is read to its end. Returns 0, or FILE_ENOTREG or -1 with a one-line message
 * in `err` naming the file and the reason. Release with file_release(). */
int file_load(file_contents *f, const char *path, size_t max, char *err, size_t errlen);
void file_release(file_contents *f);

/* Reads at most `max` bytes of the regular file `path` into a NUL-terminated buffer (caller
 * frees). Returns NULL when the file is missing, unreadable or not a regular file (the open does
 * not block on a FIFO). `*len` (may be NULL) gets the bytes read; `*complete` (may be NULL)
 * whether that was the whole file. */
char *file_read_prefix(const char *path, size_t max, size_t *len, int *complete);

/* Writes all `len` bytes of `data` to `fd`, going on after EINTR and short writes. Returns 0,
 * or -1 with errno set (EIO when write(2) wrote nothing without saying why). */
int file_write_all(int fd, const void *data, size_t len);

/* Replaces `path` with `data` as one step: the bytes go to a new file beside it (same
 * directory, so the rename stays on one file system) created with `mode`, synced, then renamed
 * over `path`. A reader sees the old file or the new one, never a part of either; on failure
 * the temporary file is removed and `path` is left as it was. Returns 0, or -1 with a one-line
 * message in `err` naming the file and the reason. */
int file_replace(const char *path, const void *data, size_t len, int mode, char *err,
                 size_t errlen);

#endif
