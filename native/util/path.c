#include "util/path.h"

#include <ctype.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

static const struct {
  const char *name;
  const char *under_home;
} XDG_DEFAULTS[] = {
  {"XDG_STATE_HOME", ".local/state"},
  {"XDG_DATA_HOME", ".local/share"},
  {"XDG_CONFIG_HOME", ".config"},
  {"XDG_CACHE_HOME", ".cache"},
};

static const char *home_dir(void)
{
  const char *h = getenv("HOME");
  return h && h[0] ? h : NULL;
}

/* Appends the value of the variable name[0..len) to b. Returns 0, or -1 with a message. */
static int put_var(buf_t *b, const char *name, size_t len, char *err, size_t errlen)
{
  char key[256];
  if (len >= sizeof(key)) {
    snprintf(err, errlen, "the variable name '%.40s...' is too long", name);
    return -1;
  }
  memcpy(key, name, len);
  key[len] = '\0';
  const char *v = getenv(key);
  if (v && v[0]) {
    buf_puts(b, v);
    return 0;
  }
  for (size_t i = 0; i < sizeof(XDG_DEFAULTS) / sizeof(XDG_DEFAULTS[0]); i++) {
    if (strcmp(key, XDG_DEFAULTS[i].name) == 0) {
      const char *h = home_dir();
      if (!h) {
        snprintf(err, errlen, "$%s and HOME are not set", key);
        return -1;
      }
      buf_printf(b, "%s/%s", h, XDG_DEFAULTS[i].under_home);
      return 0;
    }
  }
  snprintf(err, errlen, "$%s is not set", key);
  return -1;
}

/* Appends the home directory a leading "~..." names; *p is moved past it. */
static int put_tilde(buf_t *b, const char **p, char *err, size_t errlen)
{
  const char *s = *p + 1;
  size_t ulen = strcspn(s, "/");
  *p = s + ulen;
  if (ulen == 0) {
    const char *h = home_dir();
    if (!h) {
      snprintf(err, errlen, "'~' needs HOME, which is not set");
      return -1;
    }
    buf_puts(b, h);
    return 0;
  }
  char user[256];
  if (ulen >= sizeof(user)) {
    snprintf(err, errlen, "the user name after '~' is too long");
    return -1;
  }
  memcpy(user, s, ulen);
  user[ulen] = '\0';
  struct passwd pw, *res = NULL;
  char tmp[4096];
  if (getpwnam_r(user, &pw, tmp, sizeof(tmp), &res) != 0 || !res || !res->pw_dir) {
    snprintf(err, errlen, "no user '%s' for '~%s'", user, user);
    return -1;
  }
  buf_puts(b, res->pw_dir);
  return 0;
}

static int name_start(char c)
{
  return isalpha((unsigned char)c) || c == '_';
}

static int name_char(char c)
{
  return isalnum((unsigned char)c) || c == '_';
}

int path_expand(const char *in, char *out, size_t n, char *err, size_t errlen)
{
  buf_t b = BUF_INIT;
  const char *p = in;
  int rc = 0;
  if (p[0] == '~' && put_tilde(&b, &p, err, errlen)) {
    rc = -1;
  }
  while (rc == 0 && *p) {
    if (p[0] == '$' && name_start(p[1])) {
      size_t len = 1;
      while (name_char(p[1 + len])) {
        len++;
      }
      rc = put_var(&b, p + 1, len, err, errlen);
      p += 1 + len;
    } else if (p[0] == '$' && p[1] == '{' && name_start(p[2])) {
      size_t len = 1;
      while (name_char(p[2 + len])) {
        len++;
      }
      if (p[2 + len] != '}') {
        snprintf(err, errlen, "'${' without its closing '}'");
        rc = -1;
        break;
      }
      rc = put_var(&b, p + 2, len, err, errlen);
      p += 3 + len;
    } else {
      buf_putc(&b, *p++);
    }
  }
  if (rc == 0 && b.len + 1 > n) {
    snprintf(err, errlen, "the path is longer than %zu bytes", n ? n - 1 : 0);
    rc = -1;
  }
  if (rc == 0) {
    memcpy(out, b.data ? b.data : "", b.len);
    out[b.len] = '\0';
  }
  buf_free(&b);
  return rc;
}
