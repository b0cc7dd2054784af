#include "util/path.h"

#include <string.h>
#include <sys/stat.h>

#include "util/buf.h"

char *path_join(const char *a, const char *b)
{
  if (!*a) {
    return xstrdup(b);
  }
  if (!*b) {
    return xstrdup(a);
  }
  buf_t r = BUF_INIT;
  buf_puts(&r, a);
  if (a[strlen(a) - 1] != '/') {
    buf_putc(&r, '/');
  }
  buf_puts(&r, b);
  return buf_detach(&r);
}

char *path_dirname(const char *rel)
{
  const char *slash = strrchr(rel, '/');
  return slash ? xstrndup(rel, (size_t)(slash - rel)) : xstrdup("");
}

const char *path_base(const char *path)
{
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

const char *path_ext(const char *name)
{
  const char *dot = strrchr(name, '.');
  return dot && dot != name ? dot : name + strlen(name);
}

int path_is_dir(const char *path)
{
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int path_is_file(const char *path)
{
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int path_inside(const char *root, const char *real)
{
  size_t n = strlen(root);
  if (strcmp(root, "/") == 0) {
    return 1;
  }
  return strncmp(real, root, n) == 0 && (real[n] == '/' || real[n] == '\0');
}
