#include "util/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/buf.h"

static int too_large(const char *path, size_t max, char *err, size_t errlen)
{
  snprintf(err, errlen, "'%s' is larger than %zu bytes", path, max);
  return -1;
}

static const char *kind_of(mode_t m)
{
  return S_ISDIR(m)    ? "a directory"
         : S_ISFIFO(m) ? "a FIFO"
         : S_ISCHR(m)  ? "a character device"
         : S_ISBLK(m)  ? "a block device"
         : S_ISSOCK(m) ? "a socket"
                       : "not a regular file";
}

int file_open_regular(const char *path, int flags, int mode, const char *what, char *err,
                      size_t errlen)
{
  int fd = open(path, flags | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, mode);
  if (fd < 0) {
    int e = errno;
    snprintf(err, errlen, "cannot read '%s': %s", path, strerror(e));
    errno = e; /* callers tell a missing file from the rest */
    return -1;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    snprintf(err, errlen, "cannot read '%s': %s", path, strerror(errno));
    close(fd);
    return -1;
  }
  if (!S_ISREG(st.st_mode)) {
    snprintf(err, errlen, "cannot use '%s' as a %s: it is %s; frugal reads only regular files",
             path, what, kind_of(st.st_mode));
    close(fd);
    return FILE_ENOTREG;
  }
  int fl = fcntl(fd, F_GETFL);
  if (fl >= 0) {
    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  }
  return fd;
}

/* Reads a regular file whose size is unknown (st_size 0 but content, as in /proc). */
static int read_all(int fd, file_contents *f, const char *path, size_t max, char *err,
                    size_t errlen)
{
  buf_t b = BUF_INIT;
  for (;;) {
    buf_reserve(&b, 65536);
    ssize_t n = read(fd, b.data + b.len, b.cap - b.len - 1);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      snprintf(err, errlen, "cannot read '%s': %s", path, strerror(errno));
      buf_free(&b);
      return -1;
    }
    if (n == 0) {
      break;
    }
    b.len += (size_t)n;
    if (b.len > max) {
      buf_free(&b);
      return too_large(path, max, err, errlen);
    }
  }
  f->len = b.len;
  f->owned = buf_detach(&b);
  f->data = f->owned;
  return 0;
}

int file_load(file_contents *f, const char *path, size_t max, char *err, size_t errlen)
{
  memset(f, 0, sizeof(*f));
  f->data = "";
  int fd = file_open_regular(path, O_RDONLY, 0, "file", err, errlen);
  if (fd < 0) {
    return fd;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    snprintf(err, errlen, "cannot read '%s': %s", path, strerror(errno));
    close(fd);
    return -1;
  }
  int rc = 0;
  if (st.st_size == 0) {
    rc = read_all(fd, f, path, max, err, errlen);
  } else if ((size_t)st.st_size > max) {
    rc = too_large(path, max, err, errlen);
  } else {
    /* Mapping avoids copying the file; MAP_POPULATE faults it in with one call instead of a
     * page fault per 4 KiB as the scanner walks it. */
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    if (p == MAP_FAILED) {
      snprintf(err, errlen, "cannot read '%s': %s", path, strerror(errno));
      rc = -1;
    } else {
      f->map = p;
      f->data = p;
      f->len = (size_t)st.st_size;
    }
  }
  close(fd);
  return rc;
}

char *file_read_prefix(const char *path, size_t max, size_t *len, int *complete)
{
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    return NULL;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return NULL;
  }
  size_t want = (size_t)st.st_size < max ? (size_t)st.st_size : max;
  char *data = xmalloc(want + 1);
  size_t got = 0;
  while (got < want) {
    ssize_t n = read(fd, data + got, want - got);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    got += (size_t)n;
  }
  close(fd);
  data[got] = '\0';
  if (len) {
    *len = got;
  }
  if (complete) {
    *complete = (size_t)st.st_size <= max && got == (size_t)st.st_size;
  }
  return data;
}

void file_release(file_contents *f)
{
  if (f->map) {
    munmap(f->map, f->len);
  }
  free(f->owned);
  memset(f, 0, sizeof(*f));
  f->data = "";
}

int file_write_all(int fd, const void *data, size_t len)
{
  const char *p = data;
  size_t off = 0;
  while (off < len) {
    ssize_t n = write(fd, p + off, len - off);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      if (n == 0) {
        errno = EIO;
      }
      return -1;
    }
    off += (size_t)n;
  }
  return 0;
}

int file_replace(const char *path, const void *data, size_t len, int mode, char *err,
                 size_t errlen)
{
  buf_t tmp = BUF_INIT;
  buf_printf(&tmp, "%s.XXXXXX", path);
  int fd = mkstemp(tmp.data);
  if (fd < 0) {
    snprintf(err, errlen, "cannot create a file beside '%s': %s", path, strerror(errno));
    buf_free(&tmp);
    return -1;
  }
  int rc = file_write_all(fd, data, len) || fchmod(fd, (mode_t)mode) || fsync(fd) ? -1 : 0;
  int saved = errno;
  if (close(fd) != 0 && rc == 0) {
    rc = -1;
    saved = errno;
  }
  if (rc == 0 && rename(tmp.data, path) != 0) {
    rc = -1;
    saved = errno;
  }
  if (rc) {
    snprintf(err, errlen, "cannot write '%s': %s", path, strerror(saved));
    unlink(tmp.data);
  }
  buf_free(&tmp);
  return rc;
}
