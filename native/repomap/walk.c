/* The bounded, breadth-first walk of a project (see repomap.h for what is skipped and why). */
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "repomap/repomap_int.h"
#include "util/buf.h"
#include "util/file.h"

/* Directories that hold generated, downloaded or vendored code: their definitions are not the
 * project's, and they are often larger than the project itself. */
static const char *const skip_dirs[] = {
  "node_modules", "vendor", "third_party", "third-party", "thirdparty", "external",
  "dist", "target", "out", "_build", "__pycache__", "site-packages", "bower_components",
  "Pods", "venv", "env.d", "coverage", "htmlcov", "CMakeFiles", "autom4te.cache", NULL,
};

int rm_skip_dir_name(const char *name)
{
  if (name[0] == '.') {
    return 1; /* .git, .hg, .venv, .cache, .tox, ... */
  }
  if (strncmp(name, "build", 5) == 0 || strncmp(name, "cmake-build-", 12) == 0) {
    return 1;
  }
  for (size_t i = 0; skip_dirs[i]; i++) {
    if (strcmp(name, skip_dirs[i]) == 0) {
      return 1;
    }
  }
  return 0;
}

double rm_now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The root .gitignore's patterns: comments, blank lines and negations ("!") are dropped (a
 * negation could only make us walk more, and the walk is bounded anyway). */
typedef struct {
  char **pat;
  int *anchored; /* the pattern holds a '/' before its end: matched against the relative path */
  int *dir_only; /* it ended in '/' */
  size_t n;
} ignore_list;

static void ignore_load(const char *root, ignore_list *ig)
{
  memset(ig, 0, sizeof(*ig));
  buf_t path = BUF_INIT;
  buf_printf(&path, "%s/.gitignore", root);
  file_contents f;
  char err[256];
  if (file_load(&f, path.data, 256 * 1024, err, sizeof(err)) == 0) {
    size_t off = 0;
    while (off < f.len) {
      const char *nl = memchr(f.data + off, '\n', f.len - off);
      size_t end = nl ? (size_t)(nl - f.data) : f.len;
      size_t a = off, b = end;
      off = nl ? end + 1 : f.len;
      while (b > a && (f.data[b - 1] == ' ' || f.data[b - 1] == '\r' || f.data[b - 1] == '\t')) {
        b--;
      }
      if (b == a || f.data[a] == '#' || f.data[a] == '!') {
        continue;
      }
      int dir_only = f.data[b - 1] == '/';
      if (dir_only) {
        b--;
      }
      int lead = f.data[a] == '/';
      if (lead) {
        a++;
      }
      if (b == a) {
        continue;
      }
      ig->pat = xrealloc(ig->pat, (ig->n + 1) * sizeof(char *));
      ig->anchored = xrealloc(ig->anchored, (ig->n + 1) * sizeof(int));
      ig->dir_only = xrealloc(ig->dir_only, (ig->n + 1) * sizeof(int));
      ig->pat[ig->n] = xstrndup(f.data + a, b - a);
      ig->anchored[ig->n] = lead || memchr(f.data + a, '/', b - a) != NULL;
      ig->dir_only[ig->n] = dir_only;
      ig->n++;
    }
    file_release(&f);
  }
  buf_free(&path);
}

static int ignored(const ignore_list *ig, const char *rel, const char *name, int is_dir)
{
  for (size_t i = 0; i < ig->n; i++) {
    if (ig->dir_only[i] && !is_dir) {
      continue;
    }
    if (ig->anchored[i] ? fnmatch(ig->pat[i], rel, FNM_PATHNAME) == 0
                        : fnmatch(ig->pat[i], name, 0) == 0) {
      return 1;
    }
  }
  return 0;
}

static void ignore_free(ignore_list *ig)
{
  for (size_t i = 0; i < ig->n; i++) {
    free(ig->pat[i]);
  }
  free(ig->pat);
  free(ig->anchored);
  free(ig->dir_only);
}

static int name_cmp(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef struct {
  char *rel; /* "" for the root */
  int depth;
} dir_item;

/* Records a bound hit ("depth 24, 20000 files" when both were). */
static void set_bound(rm_walk *out, const char *fmt, int value)
{
  buf_t b = BUF_INIT;
  buf_printf(&b, fmt, value);
  if (!out->bound) {
    out->bound = buf_detach(&b);
    return;
  }
  if (!strstr(out->bound, b.data)) {
    buf_t joined = BUF_INIT;
    buf_printf(&joined, "%s, %s", out->bound, b.data);
    free(out->bound);
    out->bound = buf_detach(&joined);
  }
  buf_free(&b);
}

int rm_walk_run(const char *root, const repomap_limits *lim, double deadline_ms, rm_walk *out,
                char *err, size_t errlen)
{
  memset(out, 0, sizeof(*out));
  struct stat st;
  if (stat(root, &st) != 0) {
    snprintf(err, errlen, "repo map: %s: %s", root, strerror(errno));
    return -1;
  }
  if (!S_ISDIR(st.st_mode)) {
    snprintf(err, errlen, "repo map: %s: not a directory", root);
    return -1;
  }
  ignore_list ig;
  ignore_load(root, &ig);
  dir_item *queue = xmalloc(sizeof(dir_item));
  size_t qhead = 0, qlen = 1, qcap = 1;
  queue[0] = (dir_item){xstrdup(""), 0};
  size_t cap = 0;
  buf_t path = BUF_INIT;
  int stop = 0; /* a file count or time bound: the walk ends (a depth bound only prunes) */
  while (qhead < qlen && !stop) {
    dir_item d = queue[qhead++];
    buf_clear(&path);
    buf_printf(&path, "%s%s%s", root, *d.rel ? "/" : "", d.rel);
    DIR *dir = opendir(path.data);
    char **names = NULL;
    size_t nn = 0;
    struct dirent *e;
    while (dir && (e = readdir(dir))) {
      if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
        names = xrealloc(names, (nn + 1) * sizeof(char *));
        names[nn++] = xstrdup(e->d_name);
      }
    }
    if (dir) {
      closedir(dir);
    }
    if (nn > 1) {
      qsort(names, nn, sizeof(char *), name_cmp);
    }
    for (size_t i = 0; i < nn; i++) {
      const char *name = names[i];
      if (stop) {
        break;
      }
      if (rm_now_ms() > deadline_ms) {
        set_bound(out, "%d ms", lim->max_ms);
        stop = 1;
        break;
      }
      buf_t rel = BUF_INIT;
      buf_printf(&rel, "%s%s%s", d.rel, *d.rel ? "/" : "", name);
      buf_t abs = BUF_INIT;
      buf_printf(&abs, "%s/%s", root, rel.data);
      struct stat es;
      int keep = 0;
      if (name[0] != '.' && lstat(abs.data, &es) == 0) {
        if (S_ISDIR(es.st_mode)) {
          if (!rm_skip_dir_name(name) && !ignored(&ig, rel.data, name, 1)) {
            if (d.depth + 1 > lim->max_depth) {
              set_bound(out, "depth %d", lim->max_depth);
            } else {
              if (qlen == qcap) {
                qcap *= 2;
                queue = xrealloc(queue, qcap * sizeof(dir_item));
              }
              queue[qlen++] = (dir_item){buf_detach(&rel), d.depth + 1};
            }
          }
        } else if (S_ISREG(es.st_mode) && (size_t)es.st_size <= lim->max_file_bytes) {
          lang_id lang = lang_from_path(name);
          keep = lang != LANG_UNKNOWN && !ignored(&ig, rel.data, name, 0);
          if (keep && out->n >= (size_t)lim->max_files) {
            set_bound(out, "%d files", lim->max_files);
            stop = 1;
            keep = 0;
          }
          if (keep) {
            if (out->n == cap) {
              cap = cap ? cap * 2 : 256;
              out->v = xrealloc(out->v, cap * sizeof(rm_entry));
            }
            out->v[out->n++] = (rm_entry){
              .rel = buf_detach(&rel),
              .abs = buf_detach(&abs),
              .size = es.st_size,
              .mtime_ns = (int64_t)es.st_mtim.tv_sec * 1000000000 + es.st_mtim.tv_nsec,
              .lang = lang,
            };
          }
        }
      }
      buf_free(&rel);
      buf_free(&abs);
    }
    for (size_t i = 0; i < nn; i++) {
      free(names[i]);
    }
    free(names);
    free(d.rel);
  }
  for (size_t i = qhead; i < qlen; i++) {
    free(queue[i].rel);
  }
  free(queue);
  buf_free(&path);
  ignore_free(&ig);
  return 0;
}

void rm_walk_free(rm_walk *w)
{
  for (size_t i = 0; i < w->n; i++) {
    free(w->v[i].rel);
    free(w->v[i].abs);
  }
  free(w->v);
  free(w->bound);
  memset(w, 0, sizeof(*w));
}
