#include "project/testconv.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "util/buf.h"

/* Bounds on the file system work: a monorepo or a home directory taken for a root must cost
 * milliseconds, not a walk of the whole disk. */
#define TC_MAX_DEPTH 6
#define TC_MAX_ENTRIES 5000
/* A walk on a slow or huge file system stops after this long, whatever it has seen. */
#define TC_MAX_WALK_MS 2000
#define TC_MANIFEST_MAX 65536
/* Imports and #includes sit at the top of a test file. */
#define TC_SNIFF_MAX 16384
#define TC_SNIFF_FILES 64
/* A Rust tests module sits at the end of its file. */
#define TC_RUST_SOURCE_MAX (1024 * 1024)
#define TC_RUST_CRATE_MAX (256 * 1024)
#define TC_SAMPLE_LINES 60
#define TC_SAMPLE_BYTES 3072
#define TC_SAMPLE_TRIES 8
#define TC_FUNCTION_MAX 100

/* ---- small helpers ------------------------------------------------------------------------ */

typedef struct {
  char **v;
  size_t n, cap;
} tc_strs;

static void strs_push(tc_strs *s, char *owned)
{
  if (s->n == s->cap) {
    s->cap = s->cap ? s->cap * 2 : 16;
    s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
  }
  s->v[s->n++] = owned;
}

static void strs_free(tc_strs *s)
{
  for (size_t i = 0; i < s->n; i++) {
    free(s->v[i]);
  }
  free(s->v);
  memset(s, 0, sizeof(*s));
}

static int cmp_str(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int starts_with(const char *s, const char *p)
{
  return strncmp(s, p, strlen(p)) == 0;
}

static int ends_with(const char *s, const char *suf)
{
  size_t n = strlen(s), m = strlen(suf);
  return n >= m && memcmp(s + n - m, suf, m) == 0;
}

/* "a" + "/" + "b", where an empty side vanishes and "/" is not doubled. Caller frees. */
static char *path_join(const char *a, const char *b)
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

/* Directory part of a relative path ("" for a bare name). Caller frees. */
static char *rel_dirname(const char *rel)
{
  const char *slash = strrchr(rel, '/');
  return slash ? xstrndup(rel, (size_t)(slash - rel)) : xstrdup("");
}

static const char *base_name(const char *path)
{
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

/* The extension of a file name including its dot, or "" (a leading dot is not one). */
static const char *ext_of(const char *name)
{
  const char *dot = strrchr(name, '.');
  return dot && dot != name ? dot : name + strlen(name);
}

static int is_dir(const char *path)
{
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char *path)
{
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int rel_is_dir(const char *root, const char *rel)
{
  char *p = path_join(root, rel);
  int r = is_dir(p);
  free(p);
  return r;
}

static int rel_is_file(const char *root, const char *rel)
{
  char *p = path_join(root, rel);
  int r = is_file(p);
  free(p);
  return r;
}

/* Reads at most `max` bytes of the regular file `path` into a NUL-terminated buffer (caller
 * frees). Returns NULL when the file is missing, unreadable or not a regular file (a FIFO in the
 * tree must not block us). `*complete` says whether the whole file was read. */
static char *read_prefix(const char *path, size_t max, size_t *len, int *complete)
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

static int inside_root(const char *root, const char *real)
{
  size_t n = strlen(root);
  if (strcmp(root, "/") == 0) {
    return 1;
  }
  return strncmp(real, root, n) == 0 && (real[n] == '/' || real[n] == '\0');
}

/* read_prefix() of a file of the project, refused when a link leads out of the root. */
static char *read_in_root(const char *root, const char *rel, size_t max, size_t *len, int *complete)
{
  char *p = path_join(root, rel);
  char *real = realpath(p, NULL);
  free(p);
  char *d = real && inside_root(root, real) ? read_prefix(real, max, len, complete) : NULL;
  free(real);
  return d;
}

static char *read_rel(const char *root, const char *rel, size_t max)
{
  return read_in_root(root, rel, max, NULL, NULL);
}

/* Strict UTF-8 without NUL: the sample goes into a prompt encoded as JSON. */
static int valid_text(const unsigned char *s, size_t n)
{
  size_t i = 0;
  while (i < n) {
    unsigned c = s[i];
    if (c == 0) {
      return 0;
    }
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t k;
    unsigned cp;
    if (c >= 0xC2 && c <= 0xDF) {
      k = 1, cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      k = 2, cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      k = 3, cp = c & 0x07;
    } else {
      return 0;
    }
    if (i + k >= n) {
      return 0;
    }
    for (size_t j = 1; j <= k; j++) {
      if ((s[i + j] & 0xC0) != 0x80) {
        return 0;
      }
      cp = (cp << 6) | (s[i + j] & 0x3F);
    }
    if ((k == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (k == 3 && (cp < 0x10000 || cp > 0x10FFFF))) {
      return 0;
    }
    i += k + 1;
  }
  return 1;
}

/* The first lines of `data` within the sample bounds, cut at a line end; NULL when nothing
 * fits or the bytes are not text. Caller frees. */
static char *excerpt(const char *data, size_t len, int complete)
{
  size_t end = 0, lines = 0;
  for (size_t i = 0; i < len && i < TC_SAMPLE_BYTES; i++) {
    if (data[i] == '\n') {
      end = i + 1;
      if (++lines == TC_SAMPLE_LINES) {
        break;
      }
    }
  }
  if (lines < TC_SAMPLE_LINES && complete && len <= TC_SAMPLE_BYTES) {
    end = len;
  }
  if (end == 0 || !valid_text((const unsigned char *)data, end)) {
    return NULL;
  }
  return xstrndup(data, end);
}

/* `w` as a whole word in `s` (letters, digits and '_' make words). */
static int has_word(const char *s, const char *w)
{
  size_t m = strlen(w);
  for (const char *p = strstr(s, w); p; p = strstr(p + 1, w)) {
    int before = p == s || !(isalnum((unsigned char)p[-1]) || p[-1] == '_');
    int after = !(isalnum((unsigned char)p[m]) || p[m] == '_');
    if (before && after) {
      return 1;
    }
  }
  return 0;
}

/* ---- project root ------------------------------------------------------------------------- */

static const char *const root_markers[] = {
    ".git",           "CMakeLists.txt", "Makefile",         "meson.build", "package.json",
    "pyproject.toml", "setup.py",       "setup.cfg",        "go.mod",      "Cargo.toml",
    "pom.xml",        "build.gradle",   "build.gradle.kts", ".busted",     NULL};

/* Build files that sub-directories of one build often carry too. */
static const char *const nested_build_files[] = {"CMakeLists.txt", "Makefile", "meson.build", NULL};

static int dir_has(const char *dir, const char *name)
{
  char *p = path_join(dir, name);
  struct stat st;
  int r = lstat(p, &st) == 0;
  free(p);
  return r;
}

static int dir_has_rockspec(const char *dir)
{
  DIR *d = opendir(dir);
  if (!d) {
    return 0;
  }
  int found = 0;
  size_t seen = 0;
  struct dirent *e;
  while (!found && seen++ < TC_MAX_ENTRIES && (e = readdir(d))) {
    found = ends_with(e->d_name, ".rockspec") && strlen(e->d_name) > strlen(".rockspec");
  }
  closedir(d);
  return found;
}

/* 2 when `dir` holds a marker other than a nested build file, 1 when only nested build files,
 * 0 when none. */
static int marker_kind(const char *dir)
{
  int nested = 0;
  for (size_t i = 0; root_markers[i]; i++) {
    if (!dir_has(dir, root_markers[i])) {
      continue;
    }
    int is_nested = 0;
    for (size_t j = 0; nested_build_files[j]; j++) {
      is_nested |= strcmp(root_markers[i], nested_build_files[j]) == 0;
    }
    if (!is_nested) {
      return 2;
    }
    nested = 1;
  }
  if (dir_has_rockspec(dir)) {
    return 2;
  }
  return nested;
}

/* Parent of an absolute path, in place; returns 0 at "/". */
static int to_parent(char *p)
{
  if (strcmp(p, "/") == 0) {
    return 0;
  }
  char *slash = strrchr(p, '/');
  if (slash == p) {
    p[1] = '\0';
  } else {
    *slash = '\0';
  }
  return 1;
}

static int shares_build_file(const char *dir, const char *parent)
{
  for (size_t i = 0; nested_build_files[i]; i++) {
    if (dir_has(dir, nested_build_files[i]) && dir_has(parent, nested_build_files[i])) {
      return 1;
    }
  }
  return 0;
}

/* The nearest ancestor of `dir` (inclusive) holding a marker, else `dir`. Caller frees. */
static char *find_root(const char *dir)
{
  char *p = xstrdup(dir);
  for (;;) {
    int kind = marker_kind(p);
    if (kind == 2) {
      return p;
    }
    if (kind == 1) {
      /* src/CMakeLists.txt under a top CMakeLists.txt is one build, whose tests live at the
       * top: climb while the parent carries the same build file and nothing stronger. */
      char *parent = xstrdup(p);
      while (to_parent(parent) && shares_build_file(p, parent)) {
        free(p);
        p = xstrdup(parent);
        if (marker_kind(p) == 2) {
          break;
        }
      }
      free(parent);
      return p;
    }
    if (!to_parent(p)) {
      free(p);
      return xstrdup(dir);
    }
  }
}

/* ---- bounded walk ------------------------------------------------------------------------- */

typedef struct {
  dev_t dev;
  ino_t ino;
} tc_id;

typedef struct {
  const char *root;
  tc_strs files; /* regular files, relative to root, breadth-first and sorted per folder */
  tc_strs dirs;  /* folders, relative ("" is the root), in walk order */
  int *depth;    /* parallel to dirs */
  tc_id *seen;
  size_t nseen, capseen;
  tc_strs linked; /* folders reached through a symlink, walked after the real ones */
  int *linked_depth;
  size_t entries;
  int truncated;    /* stopped at TC_MAX_ENTRIES */
  int timed_out;    /* stopped at TC_MAX_WALK_MS */
  struct timespec started;
} tc_tree;

static int skip_dir(const char *name)
{
  static const char *const skipped[] = {"node_modules", "target", "dist", "vendor",
                                        "__pycache__",  "venv",   NULL};
  if (name[0] == '.' || starts_with(name, "build")) {
    return 1;
  }
  for (size_t i = 0; skipped[i]; i++) {
    if (strcmp(name, skipped[i]) == 0) {
      return 1;
    }
  }
  return 0;
}

/* Records a folder identity; returns 0 when it was already seen (a loop or a second link). */
static int mark_seen(tc_tree *t, const struct stat *st)
{
  for (size_t i = 0; i < t->nseen; i++) {
    if (t->seen[i].dev == st->st_dev && t->seen[i].ino == st->st_ino) {
      return 0;
    }
  }
  if (t->nseen == t->capseen) {
    t->capseen = t->capseen ? t->capseen * 2 : 64;
    t->seen = xrealloc(t->seen, t->capseen * sizeof(*t->seen));
  }
  t->seen[t->nseen].dev = st->st_dev;
  t->seen[t->nseen].ino = st->st_ino;
  t->nseen++;
  return 1;
}

static void tree_push_dir(tc_tree *t, char *rel, int depth)
{
  size_t cap = t->dirs.cap;
  strs_push(&t->dirs, rel);
  if (t->dirs.cap != cap || !t->depth) {
    t->depth = xrealloc(t->depth, t->dirs.cap * sizeof(*t->depth));
  }
  t->depth[t->dirs.n - 1] = depth;
}

static void tree_entry(tc_tree *t, size_t di, const char *abs, int dfd, const char *name)
{
  struct stat st;
  if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return;
  }
  int link = S_ISLNK(st.st_mode);
  if (link) {
    char *full = path_join(abs, name);
    char *real = realpath(full, NULL);
    free(full);
    int ok = real && inside_root(t->root, real) && stat(real, &st) == 0;
    free(real);
    if (!ok) {
      return;
    }
  }
  if (S_ISDIR(st.st_mode)) {
    if (t->depth[di] + 1 > TC_MAX_DEPTH || skip_dir(name)) {
      return;
    }
    if (link) {
      /* a link to a folder of the tree must not claim it before its real path is seen */
      size_t cap = t->linked.cap;
      strs_push(&t->linked, path_join(t->dirs.v[di], name));
      if (t->linked.cap != cap) {
        t->linked_depth = xrealloc(t->linked_depth, t->linked.cap * sizeof(*t->linked_depth));
      }
      t->linked_depth[t->linked.n - 1] = t->depth[di] + 1;
    } else if (mark_seen(t, &st)) {
      tree_push_dir(t, path_join(t->dirs.v[di], name), t->depth[di] + 1);
    }
  } else if (S_ISREG(st.st_mode)) {
    strs_push(&t->files, path_join(t->dirs.v[di], name));
  }
}

static int64_t ms_since(const struct timespec *t0)
{
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (int64_t)(now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

static void tree_read_dir(tc_tree *t, size_t i)
{
  if (ms_since(&t->started) > TC_MAX_WALK_MS) {
    t->timed_out = 1;
    t->truncated = 1;
    return;
  }
  char *abs = path_join(t->root, t->dirs.v[i]);
  DIR *d = opendir(abs);
  if (!d) {
    free(abs);
    return;
  }
  tc_strs names = {0};
  struct dirent *e;
  while ((e = readdir(d))) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
      continue;
    }
    if (t->entries == TC_MAX_ENTRIES) {
      t->truncated = 1;
      break;
    }
    t->entries++;
    strs_push(&names, xstrdup(e->d_name));
  }
  if (names.n) {
    qsort(names.v, names.n, sizeof(*names.v), cmp_str);
  }
  for (size_t k = 0; k < names.n; k++) {
    tree_entry(t, i, abs, dirfd(d), names.v[k]);
  }
  strs_free(&names);
  closedir(d);
  free(abs);
}

/* Breadth first, so that when a bound stops the walk the shallow folders (where tests and
 * manifests live) have been seen. Folders behind symlinks come in later rounds, each folder
 * once (by device and inode), which also ends loops. */
static void tree_walk(tc_tree *t, const char *root)
{
  memset(t, 0, sizeof(*t));
  t->root = root;
  clock_gettime(CLOCK_MONOTONIC, &t->started);
  struct stat st;
  if (stat(root, &st) != 0) {
    return;
  }
  mark_seen(t, &st);
  tree_push_dir(t, xstrdup(""), 0);
  size_t i = 0;
  for (;;) {
    for (; i < t->dirs.n && !t->truncated; i++) {
      tree_read_dir(t, i);
    }
    if (t->truncated || t->linked.n == 0) {
      break;
    }
    tc_strs linked = t->linked;
    int *depth = t->linked_depth;
    memset(&t->linked, 0, sizeof(t->linked));
    t->linked_depth = NULL;
    for (size_t k = 0; k < linked.n; k++) {
      char *abs = path_join(root, linked.v[k]);
      if (stat(abs, &st) == 0 && S_ISDIR(st.st_mode) && mark_seen(t, &st)) {
        tree_push_dir(t, linked.v[k], depth[k]);
        linked.v[k] = NULL;
      }
      free(abs);
    }
    strs_free(&linked);
    free(depth);
  }
}

static void tree_free(tc_tree *t)
{
  strs_free(&t->files);
  strs_free(&t->dirs);
  strs_free(&t->linked);
  free(t->linked_depth);
  free(t->depth);
  free(t->seen);
}

static int tree_has_dir_named(const tc_tree *t, const char *name)
{
  for (size_t i = 0; i < t->dirs.n; i++) {
    if (strcmp(base_name(t->dirs.v[i]), name) == 0) {
      return 1;
    }
  }
  return 0;
}

/* ---- test files --------------------------------------------------------------------------- */

/* A file name convention: prefix + subject + suffix + extension. */
typedef struct {
  const char *prefix;
  const char *suffix;
} tc_style;

typedef enum {
  TC_PLAIN_NEVER,    /* only affixed names are tests */
  TC_PLAIN_TEST_DIR, /* any file in a test folder is a test (C) */
  TC_PLAIN_JS,       /* any script directly in __tests__ */
  TC_PLAIN_RUST,     /* tests/<name>.rs: a cargo integration test */
} tc_plain;

typedef struct {
  const char *const *exts;
  const tc_style *styles;
  size_t nstyles;
  tc_plain plain;
} tc_profile;

static const char *const py_exts[] = {".py", NULL};
static const char *const js_exts[] = {".js",  ".jsx", ".mjs", ".cjs", ".ts",
                                      ".tsx", ".mts", ".cts", NULL};
static const char *const go_exts[] = {".go", NULL};
static const char *const rs_exts[] = {".rs", NULL};
static const char *const java_exts[] = {".java", NULL};
static const char *const lua_exts[] = {".lua", NULL};
static const char *const c_exts[] = {".c", ".cc", ".cpp", ".cxx", ".c++", NULL};

static const tc_style py_styles[] = {{"test_", ""}, {"", "_test"}};
static const tc_style js_styles[] = {{"", ".test"}, {"", ".spec"}};
static const tc_style go_styles[] = {{"", "_test"}};
static const tc_style java_styles[] = {{"", "Test"}, {"", "Tests"}, {"Test", ""}};
static const tc_style lua_styles[] = {{"", "_spec"}, {"test_", ""}, {"", "_test"}};
static const tc_style c_styles[] = {
    {"test_", ""}, {"", "_test"}, {"", "_tests"}, {"", "_unittest"}, {"check_", ""}};
static const tc_style plain_style = {"", ""};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static const tc_profile profiles[LANG__COUNT] = {
    [LANG_C] = {c_exts, c_styles, N_OF(c_styles), TC_PLAIN_TEST_DIR},
    [LANG_CPP] = {c_exts, c_styles, N_OF(c_styles), TC_PLAIN_TEST_DIR},
    [LANG_PYTHON] = {py_exts, py_styles, N_OF(py_styles), TC_PLAIN_NEVER},
    [LANG_JAVASCRIPT] = {js_exts, js_styles, N_OF(js_styles), TC_PLAIN_JS},
    [LANG_TYPESCRIPT] = {js_exts, js_styles, N_OF(js_styles), TC_PLAIN_JS},
    [LANG_GO] = {go_exts, go_styles, N_OF(go_styles), TC_PLAIN_NEVER},
    [LANG_RUST] = {rs_exts, NULL, 0, TC_PLAIN_RUST},
    [LANG_JAVA] = {java_exts, java_styles, N_OF(java_styles), TC_PLAIN_NEVER},
    [LANG_LUA] = {lua_exts, lua_styles, N_OF(lua_styles), TC_PLAIN_NEVER},
};

/* Folders whose contents are tests, and folders below them that hold data, not tests. */
static const char *const test_dir_names[] = {
    "tests", "test", "spec", "specs", "__tests__", "testing", "unittests", "unit_tests", NULL};
static const char *const data_dir_names[] = {
    "fixtures",     "fixture",       "testdata",  "data",  "resources",
    "__fixtures__", "__snapshots__", "__mocks__", "mocks", NULL};

static int name_in(const char *s, size_t n, const char *const *list)
{
  for (size_t i = 0; list[i]; i++) {
    if (strlen(list[i]) == n && memcmp(s, list[i], n) == 0) {
      return 1;
    }
  }
  return 0;
}

typedef enum { TC_TREE, TC_SIDECAR, TC_BESIDE } tc_place;

typedef struct {
  const char *rel; /* borrowed from the tree */
  char *dir;       /* relative folder, "" at the root */
  char *subject;   /* the name with the test affixes and extension removed */
  const char *ext;
  size_t style; /* index into the profile's styles; == nstyles for a plain name */
  tc_place place;
  char *troot; /* TC_TREE: the path down to the first test folder ("tests", "src/test") */
  char *sub;   /* TC_TREE: the rest of the folder below troot ("" when directly in it) */
} tc_test;

static const tc_style *style_of(const tc_profile *p, size_t i)
{
  return i < p->nstyles ? &p->styles[i] : &plain_style;
}

/* Splits `dir` at its first test folder. Returns the component index or -1; sets `*in_data`
 * when a data folder appears anywhere in the path. */
static int first_test_component(const char *dir, size_t *troot_len, int *in_data, int *last)
{
  int idx = -1, comp = 0;
  *in_data = 0;
  *last = 0;
  const char *p = dir;
  while (*p) {
    const char *e = strchr(p, '/');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    if (name_in(p, n, data_dir_names)) {
      *in_data = 1;
    }
    if (idx < 0 && name_in(p, n, test_dir_names)) {
      idx = comp;
      *troot_len = (size_t)(p - dir) + n;
      *last = e == NULL;
    }
    comp++;
    if (!e) {
      break;
    }
    p = e + 1;
  }
  return idx;
}

static int classify(const tc_profile *prof, const char *rel, tc_test *out)
{
  const char *name = base_name(rel);
  const char *ext = ext_of(name);
  int ext_ok = 0;
  for (size_t i = 0; prof->exts[i]; i++) {
    ext_ok |= strcmp(ext, prof->exts[i]) == 0;
  }
  if (!ext_ok) {
    return 0;
  }
  size_t blen = (size_t)(ext - name);
  char *dir = rel_dirname(rel);
  size_t troot_len = 0;
  int in_data, last;
  int comp = first_test_component(dir, &troot_len, &in_data, &last);
  if (in_data) {
    free(dir);
    return 0;
  }
  size_t style = SIZE_MAX;
  size_t slen = 0;
  const char *subj = name;
  for (size_t i = 0; i < prof->nstyles && style == SIZE_MAX; i++) {
    const tc_style *s = &prof->styles[i];
    size_t pl = strlen(s->prefix), sl = strlen(s->suffix);
    if (blen <= pl + sl || strncmp(name, s->prefix, pl) != 0 ||
        memcmp(name + blen - sl, s->suffix, sl) != 0) {
      continue;
    }
    /* TestFoo.java, not Testing.java */
    if (strcmp(s->prefix, "Test") == 0 && !isupper((unsigned char)name[pl])) {
      continue;
    }
    style = i;
    subj = name + pl;
    slen = blen - pl - sl;
  }
  if (style == SIZE_MAX) {
    int plain = 0;
    switch (prof->plain) {
    case TC_PLAIN_NEVER:
      break;
    case TC_PLAIN_TEST_DIR:
      plain = comp >= 0;
      break;
    case TC_PLAIN_JS:
      plain = comp >= 0 && last && strcmp(base_name(dir), "__tests__") == 0;
      break;
    case TC_PLAIN_RUST:
      plain = strcmp(dir, "tests") == 0;
      break;
    }
    if (!plain) {
      free(dir);
      return 0;
    }
    style = prof->nstyles;
    slen = blen;
  }
  memset(out, 0, sizeof(*out));
  out->rel = rel;
  out->dir = dir;
  out->subject = xstrndup(subj, slen);
  out->ext = ext;
  out->style = style;
  if (comp < 0) {
    out->place = TC_BESIDE;
  } else if (last && comp > 0 && strcmp(base_name(dir), "__tests__") == 0) {
    /* src/utils/__tests__/x.test.js: a __tests__ folder beside each source folder */
    out->place = TC_SIDECAR;
  } else {
    out->place = TC_TREE;
    out->troot = xstrndup(dir, troot_len);
    out->sub = xstrdup(dir[troot_len] == '/' ? dir + troot_len + 1 : "");
  }
  return 1;
}

static void test_free(tc_test *t)
{
  free(t->dir);
  free(t->subject);
  free(t->troot);
  free(t->sub);
}

/* ---- discovery state ---------------------------------------------------------------------- */

typedef struct {
  lang_id lang;
  const tc_profile *prof;
  char *root;
  char *src;       /* absolute */
  const char *rel; /* the source relative to root (into src) */
  char *src_dir;   /* relative, "" at the root */
  char *stem;
  const char *src_ext; /* into src */
  const char *function;
  tc_tree tree;
  tc_test *tests;
  size_t ntests;
  char **heads; /* the first bytes of the first TC_SNIFF_FILES tests, read once */
  size_t nheads;
  const char *fw;
  buf_t evidence;
  char *target; /* relative to root */
  buf_t placement;
  /* a sample decided by the placement (Rust's tests module), else chosen afterwards */
  char *sample_rel;
  char *sample_text;
  int sample_decided; /* the placement chose the sample (or that there is none) */
} tc_ctx;

static void collect_tests(tc_ctx *c)
{
  if (!c->prof || !c->prof->exts) {
    return;
  }
  size_t cap = 0;
  for (size_t i = 0; i < c->tree.files.n; i++) {
    tc_test t;
    if (!classify(c->prof, c->tree.files.v[i], &t)) {
      continue;
    }
    if (c->ntests == cap) {
      cap = cap ? cap * 2 : 16;
      c->tests = xrealloc(c->tests, cap * sizeof(*c->tests));
    }
    c->tests[c->ntests++] = t;
  }
  /* Fixture sources and helpers in a test folder are not tests when the project names its
   * tests (test_*.c): keep plain names only when nothing else is there. */
  int affixed = 0;
  for (size_t i = 0; i < c->ntests; i++) {
    affixed |= c->tests[i].style < c->prof->nstyles;
  }
  if (affixed && c->prof->plain == TC_PLAIN_TEST_DIR) {
    size_t k = 0;
    for (size_t i = 0; i < c->ntests; i++) {
      if (c->tests[i].style < c->prof->nstyles) {
        c->tests[k++] = c->tests[i];
      } else {
        test_free(&c->tests[i]);
      }
    }
    c->ntests = k;
  }
}

/* Reads the first bytes of up to TC_SNIFF_FILES test files and counts those containing any
 * of the NULL-terminated needles. */
static size_t count_tests_with(tc_ctx *c, const char *const *needles)
{
  if (!c->heads && c->ntests) {
    c->nheads = c->ntests < TC_SNIFF_FILES ? c->ntests : TC_SNIFF_FILES;
    c->heads = xcalloc(c->nheads, sizeof(*c->heads));
    for (size_t i = 0; i < c->nheads; i++) {
      c->heads[i] = read_rel(c->root, c->tests[i].rel, TC_SNIFF_MAX);
    }
  }
  size_t n = 0;
  for (size_t i = 0; i < c->nheads; i++) {
    for (size_t k = 0; c->heads[i] && needles[k]; k++) {
      if (strstr(c->heads[i], needles[k])) {
        n++;
        break;
      }
    }
  }
  return n;
}

static int manifest_has(tc_ctx *c, const char *name, const char *needle)
{
  char *d = read_rel(c->root, name, TC_MANIFEST_MAX);
  int r = d && strstr(d, needle);
  free(d);
  return r;
}

static const char *plural(size_t n)
{
  return n == 1 ? "" : "s";
}

/* ---- frameworks --------------------------------------------------------------------------- */

static void fw_python(tc_ctx *c)
{
  for (size_t i = 0; i < c->tree.files.n; i++) {
    const char *f = c->tree.files.v[i];
    if (strcmp(base_name(f), "conftest.py") == 0) {
      c->fw = "pytest";
      if (strchr(f, '/')) {
        char *d = rel_dirname(f);
        buf_printf(&c->evidence, "conftest.py in %s/", d);
        free(d);
      } else {
        buf_puts(&c->evidence, "conftest.py at the root");
      }
      return;
    }
  }
  static const struct {
    const char *file, *needle;
  } configs[] = {{"pytest.ini", ""},
                 {"pyproject.toml", "pytest"},
                 {"setup.cfg", "pytest"},
                 {"tox.ini", "[pytest]"},
                 {"requirements.txt", "pytest"},
                 {"requirements-dev.txt", "pytest"},
                 {"requirements_dev.txt", "pytest"},
                 {"requirements-test.txt", "pytest"},
                 {"dev-requirements.txt", "pytest"},
                 {"requirements/dev.txt", "pytest"},
                 {"requirements/test.txt", "pytest"}};
  for (size_t i = 0; i < N_OF(configs); i++) {
    if (manifest_has(c, configs[i].file, configs[i].needle)) {
      c->fw = "pytest";
      if (*configs[i].needle) {
        buf_printf(&c->evidence, "pytest in %s", configs[i].file);
      } else {
        buf_printf(&c->evidence, "%s at the root", configs[i].file);
      }
      return;
    }
  }
  static const char *const pytest_imports[] = {"import pytest", "from pytest", NULL};
  size_t n = count_tests_with(c, pytest_imports);
  if (n) {
    c->fw = "pytest";
    buf_printf(&c->evidence, "import pytest in %zu test file%s", n, plural(n));
    return;
  }
  /* "from unittest import mock" is common in pytest suites: only TestCase says unittest. */
  static const char *const unittest_marks[] = {"unittest.TestCase", "unittest.main(",
                                               "from unittest import TestCase", NULL};
  n = count_tests_with(c, unittest_marks);
  if (n) {
    c->fw = "unittest";
    buf_printf(&c->evidence, "unittest.TestCase in %zu test file%s", n, plural(n));
    return;
  }
  c->fw = "pytest";
  buf_puts(&c->evidence, "the default for Python: no framework found");
}

static int js_rank(const char *fw)
{
  return !fw ? 0 : strcmp(fw, "vitest") == 0 ? 3 : strcmp(fw, "jest") == 0 ? 2 : 1;
}

static const char *js_dep_framework(const char *key)
{
  if (strcmp(key, "vitest") == 0 || starts_with(key, "@vitest/")) {
    return "vitest";
  }
  if (strcmp(key, "jest") == 0 || strcmp(key, "ts-jest") == 0 || strcmp(key, "babel-jest") == 0 ||
      strcmp(key, "@types/jest") == 0 || starts_with(key, "@jest/")) {
    return "jest";
  }
  if (strcmp(key, "mocha") == 0 || strcmp(key, "@types/mocha") == 0) {
    return "mocha";
  }
  return NULL;
}

static const char *js_script_framework(const char *cmd)
{
  if (has_word(cmd, "vitest")) {
    return "vitest";
  }
  if (has_word(cmd, "jest")) {
    return "jest";
  }
  if (has_word(cmd, "mocha")) {
    return "mocha";
  }
  return NULL;
}

/* The strongest framework named by package.json, with where it was named. */
static const char *js_from_package(tc_ctx *c, const char **where)
{
  size_t len = 0;
  char *d = read_in_root(c->root, "package.json", TC_MANIFEST_MAX, &len, NULL);
  if (!d) {
    return NULL;
  }
  const char *best = NULL;
  json_error_t jerr;
  json_t *j = json_loadb(d, len, 0, &jerr);
  if (json_is_object(j)) {
    static const char *const sections[] = {"devDependencies", "dependencies", "scripts"};
    for (size_t s = 0; s < N_OF(sections); s++) {
      json_t *obj = json_object_get(j, sections[s]);
      const char *key;
      json_t *val;
      if (!json_is_object(obj)) {
        continue;
      }
      json_object_foreach(obj, key, val)
      {
        const char *fw = NULL;
        if (s < 2) {
          fw = js_dep_framework(key);
        } else if (json_is_string(val)) {
          fw = js_script_framework(json_string_value(val));
        }
        if (js_rank(fw) > js_rank(best)) {
          best = fw;
          *where = sections[s];
        }
      }
    }
  } else {
    /* Cut at 64 KB or malformed: the quoted names still say enough. */
    static const char *const quoted[] = {"\"vitest\"", "\"jest\"", "\"mocha\""};
    for (size_t i = 0; i < N_OF(quoted) && !best; i++) {
      if (strstr(d, quoted[i])) {
        best = i == 0 ? "vitest" : i == 1 ? "jest" : "mocha";
        *where = "text";
      }
    }
  }
  json_decref(j);
  free(d);
  return best;
}

static void fw_js(tc_ctx *c)
{
  const char *where = NULL;
  const char *fw = js_from_package(c, &where);
  if (fw) {
    c->fw = fw;
    if (strcmp(where, "text") == 0) {
      buf_printf(&c->evidence, "%s in package.json", fw);
    } else {
      buf_printf(&c->evidence, "%s in package.json %s", fw, where);
    }
    return;
  }
  static const struct {
    const char *prefix, *fw;
  } configs[] = {{"vitest.config.", "vitest"}, {"jest.config.", "jest"}, {".mocharc", "mocha"}};
  for (size_t i = 0; i < c->tree.files.n; i++) {
    const char *f = c->tree.files.v[i];
    for (size_t k = 0; k < N_OF(configs) && !strchr(f, '/'); k++) {
      if (starts_with(f, configs[k].prefix)) {
        c->fw = configs[k].fw;
        buf_printf(&c->evidence, "%s at the root", f);
        return;
      }
    }
  }
  static const char *const vitest_imports[] = {"from 'vitest'", "from \"vitest\"", NULL};
  static const char *const jest_imports[] = {"@jest/globals", NULL};
  static const char *const mocha_imports[] = {"require('chai')", "from 'chai'", "from \"chai\"",
                                              "require(\"chai\")", NULL};
  static const char *const node_imports[] = {"from 'node:test'", "from \"node:test\"",
                                             "require('node:test')", "require(\"node:test\")",
                                             NULL};
  static const struct {
    const char *const *needles;
    const char *fw, *what;
  } imports[] = {{vitest_imports, "vitest", "imported"},
                 {jest_imports, "jest", "@jest/globals imported"},
                 {mocha_imports, "mocha", "chai imported"},
                 {node_imports, "node:test", "imported"}};
  for (size_t i = 0; i < N_OF(imports); i++) {
    size_t n = count_tests_with(c, imports[i].needles);
    if (n) {
      c->fw = imports[i].fw;
      if (strcmp(imports[i].what, "imported") == 0) {
        buf_printf(&c->evidence, "%s imported in %zu test file%s", c->fw, n, plural(n));
      } else {
        buf_printf(&c->evidence, "%s in %zu test file%s", imports[i].what, n, plural(n));
      }
      return;
    }
  }
  c->fw = "jest";
  buf_printf(&c->evidence, "the default for %s: no framework found",
             c->lang == LANG_TYPESCRIPT ? "TypeScript" : "JavaScript");
}

static void fw_java(tc_ctx *c)
{
  static const char *const j5[] = {"org.junit.jupiter", NULL};
  static const char *const j4[] = {"import org.junit.Test;", "import org.junit.*;",
                                   "import static org.junit.Assert", NULL};
  size_t n5 = count_tests_with(c, j5), n4 = count_tests_with(c, j4);
  if (n5 || n4) {
    c->fw = n5 >= n4 ? "junit5" : "junit4";
    size_t n = n5 >= n4 ? n5 : n4;
    buf_printf(&c->evidence, "%s imports in %zu test%s",
               n5 >= n4 ? "org.junit.jupiter" : "org.junit", n, plural(n));
    return;
  }
  static const struct {
    const char *file, *needle, *fw;
  } builds[] = {{"pom.xml", "junit-jupiter", "junit5"},
                {"pom.xml", "<artifactId>junit</artifactId>", "junit4"},
                {"build.gradle", "junit-jupiter", "junit5"},
                {"build.gradle", "useJUnitPlatform", "junit5"},
                {"build.gradle", "junit:junit:", "junit4"},
                {"build.gradle.kts", "junit-jupiter", "junit5"},
                {"build.gradle.kts", "useJUnitPlatform", "junit5"},
                {"build.gradle.kts", "junit:junit:", "junit4"}};
  for (size_t i = 0; i < N_OF(builds); i++) {
    if (manifest_has(c, builds[i].file, builds[i].needle)) {
      c->fw = builds[i].fw;
      buf_printf(&c->evidence, "%s in %s", strcmp(c->fw, "junit5") == 0 ? "JUnit 5" : "JUnit 4",
                 builds[i].file);
      return;
    }
  }
  c->fw = "junit5";
  buf_puts(&c->evidence, "the default for Java: no framework found");
}

static void fw_lua(tc_ctx *c)
{
  static const char *const plenary[] = {"plenary", NULL};
  size_t n = count_tests_with(c, plenary);
  if (n) {
    c->fw = "plenary";
    buf_printf(&c->evidence, "plenary in %zu test file%s", n, plural(n));
    return;
  }
  if (manifest_has(c, "Makefile", "Plenary")) {
    c->fw = "plenary";
    buf_puts(&c->evidence, "PlenaryBusted in the Makefile");
    return;
  }
  c->fw = "busted";
  if (dir_has(c->root, ".busted")) {
    buf_puts(&c->evidence, ".busted at the root");
    return;
  }
  for (size_t i = 0; i < c->tree.files.n; i++) {
    const char *f = c->tree.files.v[i];
    if (!strchr(f, '/') && ends_with(f, ".rockspec") && manifest_has(c, f, "busted")) {
      buf_printf(&c->evidence, "busted in %s", f);
      return;
    }
  }
  if (rel_is_dir(c->root, "spec")) {
    buf_puts(&c->evidence, "a spec/ folder");
    return;
  }
  for (size_t i = 0; i < c->ntests; i++) {
    if (ends_with(c->tests[i].rel, "_spec.lua")) {
      buf_puts(&c->evidence, "*_spec.lua files");
      return;
    }
  }
  buf_puts(&c->evidence, "the default for Lua: no framework found");
}

/* C and C++ frameworks: the word a build file uses, the header a test includes. */
static const struct {
  const char *word;   /* in CMakeLists.txt / meson.build dependency lines */
  const char *header; /* in a test's #include */
  const char *shown;  /* the include as `why` shows it */
  const char *lib;    /* in a Makefile */
  const char *fw;
} c_frameworks[] = {
    {"cmocka", "cmocka.h", "<cmocka.h>", "-lcmocka", "cmocka"},
    {"criterion", "criterion/criterion.h", "<criterion/criterion.h>", "-lcriterion", "criterion"},
    {"check", "<check.h>", "<check.h>", "-lcheck", "check"},
    {"unity", "unity.h", "\"unity.h\"", "-lunity", "unity"},
    {"gtest", "gtest/gtest.h", "<gtest/gtest.h>", "-lgtest", "googletest"},
    {"GTest", "gmock/gmock.h", "<gmock/gmock.h>", "-lgmock", "googletest"},
    {"Catch2", "catch2/", "<catch2/...>", "-lCatch2", "catch2"},
    {"catch2", "catch.hpp", "\"catch.hpp\"", "-lcatch2", "catch2"},
    {"doctest", "doctest.h", "<doctest.h>", "-ldoctest", "doctest"},
    {"cunit", "CUnit/", "<CUnit/...>", "-lcunit", "cunit"},
};

/* A framework named on a dependency line of a CMake or meson file (words, so that
 * pkg_check_modules does not read as Check). */
static const char *c_build_framework(const char *text)
{
  static const char *const dep_lines[] = {"find_package",
                                          "pkg_check_modules",
                                          "target_link_libraries",
                                          "find_library",
                                          "dependency(",
                                          "pkg_search_module",
                                          NULL};
  const char *line = text;
  while (*line) {
    const char *end = strchr(line, '\n');
    size_t n = end ? (size_t)(end - line) : strlen(line);
    char *l = xstrndup(line, n);
    int dep = 0;
    for (size_t i = 0; dep_lines[i]; i++) {
      dep |= strstr(l, dep_lines[i]) != NULL;
    }
    const char *fw = NULL;
    for (size_t i = 0; dep && !fw && i < N_OF(c_frameworks); i++) {
      if (has_word(l, c_frameworks[i].word)) {
        fw = c_frameworks[i].fw;
      }
    }
    free(l);
    if (fw) {
      return fw;
    }
    if (!end) {
      break;
    }
    line = end + 1;
  }
  return NULL;
}

static void fw_c(tc_ctx *c)
{
  size_t best_n = 0;
  const char *best = NULL, *header = NULL;
  for (size_t i = 0; i < N_OF(c_frameworks); i++) {
    const char *needles[] = {c_frameworks[i].header, NULL};
    size_t n = count_tests_with(c, needles);
    if (n > best_n) {
      best_n = n, best = c_frameworks[i].fw, header = c_frameworks[i].shown;
    }
  }
  if (best) {
    c->fw = best;
    buf_printf(&c->evidence, "#include %s in %zu test file%s", header, best_n, plural(best_n));
    return;
  }
  static const char *const builds[] = {"CMakeLists.txt", "meson.build"};
  for (size_t i = 0; i < N_OF(builds); i++) {
    char *d = read_rel(c->root, builds[i], TC_MANIFEST_MAX);
    const char *fw = d ? c_build_framework(d) : NULL;
    free(d);
    if (fw) {
      c->fw = fw;
      buf_printf(&c->evidence, "%s in %s", fw, builds[i]);
      return;
    }
  }
  for (size_t i = 0; i < N_OF(c_frameworks); i++) {
    if (manifest_has(c, "Makefile", c_frameworks[i].lib)) {
      c->fw = c_frameworks[i].fw;
      buf_printf(&c->evidence, "%s in the Makefile", c_frameworks[i].lib);
      return;
    }
  }
  if (manifest_has(c, "CMakeLists.txt", "add_test") ||
      manifest_has(c, "CMakeLists.txt", "enable_testing")) {
    c->fw = "ctest";
    buf_puts(&c->evidence, "add_test in CMakeLists.txt, no framework");
  }
}

static void detect_framework(tc_ctx *c)
{
  switch (c->lang) {
  case LANG_PYTHON:
    fw_python(c);
    break;
  case LANG_JAVASCRIPT:
  case LANG_TYPESCRIPT:
    fw_js(c);
    break;
  case LANG_GO:
    c->fw = "go test";
    if (dir_has(c->root, "go.mod")) {
      buf_puts(&c->evidence, "go.mod");
    }
    break;
  case LANG_RUST:
    c->fw = "cargo test";
    if (dir_has(c->root, "Cargo.toml")) {
      buf_puts(&c->evidence, "Cargo.toml");
    }
    break;
  case LANG_JAVA:
    fw_java(c);
    break;
  case LANG_LUA:
    fw_lua(c);
    break;
  case LANG_C:
  case LANG_CPP:
    fw_c(c);
    break;
  case LANG_UNKNOWN:
  case LANG__COUNT:
    break;
  }
}

/* ---- placement ---------------------------------------------------------------------------- */

static const char *target_ext(tc_ctx *c, const tc_test *const *group, size_t ng)
{
  switch (c->lang) {
  case LANG_PYTHON:
    return ".py";
  case LANG_GO:
    return ".go";
  case LANG_RUST:
    return ".rs";
  case LANG_JAVA:
    return ".java";
  case LANG_LUA:
    return ".lua";
  case LANG_JAVASCRIPT:
  case LANG_TYPESCRIPT:
    for (size_t i = 0; js_exts[i]; i++) {
      if (strcmp(c->src_ext, js_exts[i]) == 0) {
        return c->src_ext;
      }
    }
    return c->lang == LANG_TYPESCRIPT ? ".ts" : ".js";
  case LANG_C:
  case LANG_CPP: {
    /* gtest suites test C code from .cc files: follow the tests, not the source */
    size_t best = 0;
    const char *ext = NULL;
    for (size_t i = 0; c_exts[i]; i++) {
      size_t n = 0;
      for (size_t k = 0; k < ng; k++) {
        n += strcmp(group[k]->ext, c_exts[i]) == 0;
      }
      if (n > best) {
        best = n, ext = c_exts[i];
      }
    }
    if (ext) {
      return ext;
    }
    if (c->lang == LANG_C) {
      return ".c";
    }
    for (size_t i = 1; c_exts[i]; i++) {
      if (strcmp(c->src_ext, c_exts[i]) == 0) {
        return c->src_ext;
      }
    }
    return ".cpp";
  }
  case LANG_UNKNOWN:
  case LANG__COUNT:
    break;
  }
  return c->src_ext;
}

/* dir/prefix + subject + suffix + ext. Caller frees. */
static char *make_name(const char *dir, const tc_style *s, const char *subject, const char *ext)
{
  buf_t n = BUF_INIT;
  buf_printf(&n, "%s%s%s%s", s->prefix, subject, s->suffix, ext);
  char *r = path_join(dir, n.data);
  buf_free(&n);
  return r;
}

/* The pattern shown in `why`: the target with its subject written as a placeholder. */
static void put_pattern(buf_t *b, const char *dir, const tc_style *s, const char *placeholder,
                        const char *ext)
{
  char *p = make_name(dir, s, placeholder, ext);
  buf_puts(b, p);
  free(p);
}

static size_t majority_style(const tc_profile *prof, const tc_test *const *g, size_t ng)
{
  size_t best = 0, best_n = 0;
  for (size_t s = 0; s <= prof->nstyles; s++) {
    size_t n = 0;
    for (size_t k = 0; k < ng; k++) {
      n += g[k]->style == s;
    }
    if (n > best_n) {
      best = s, best_n = n;
    }
  }
  return best;
}

static int cmp_len_str(const void *a, const void *b)
{
  const char *x = *(const char *const *)a, *y = *(const char *const *)b;
  size_t nx = strlen(x), ny = strlen(y);
  return nx != ny ? (nx < ny ? -1 : 1) : strcmp(x, y);
}

/* The most frequent string (ties: the shorter, then the smaller). Borrowed from `v`. Sorted,
 * so that 5,000 test files cost n log n, not n squared. */
static const char *majority_str(const char *const *v, size_t n)
{
  if (n == 0) {
    return NULL;
  }
  const char **s = xmalloc(n * sizeof(*s));
  memcpy(s, v, n * sizeof(*s));
  qsort(s, n, sizeof(*s), cmp_len_str);
  const char *best = s[0];
  size_t best_n = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && strcmp(s[j], s[i]) == 0) {
      j++;
    }
    if (j - i > best_n) {
      best = s[i], best_n = j - i;
    }
    i = j;
  }
  free(s);
  return best;
}

/* A valid identifier can go into a file name. */
static int usable_function(const char *f)
{
  size_t n = f ? strlen(f) : 0;
  if (n == 0 || n > TC_FUNCTION_MAX || isdigit((unsigned char)f[0])) {
    return 0;
  }
  for (size_t i = 0; i < n; i++) {
    if (!isalnum((unsigned char)f[i]) && f[i] != '_') {
      return 0;
    }
  }
  return 1;
}

/* `src_dir` with the source folder prefix `p` removed, for a test tree that mirrors it. */
static const char *strip_prefix_dir(const char *src_dir, const char *p)
{
  size_t n = strlen(p);
  if (n == 0) {
    return src_dir;
  }
  if (strncmp(src_dir, p, n) == 0 && (src_dir[n] == '/' || src_dir[n] == '\0')) {
    return src_dir[n] == '/' ? src_dir + n + 1 : "";
  }
  return src_dir;
}

static void place_default(tc_ctx *c, const tc_style *s, const char *ext)
{
  const char *dir;
  const char *why = "the usual layout";
  switch (c->lang) {
  case LANG_JAVASCRIPT:
  case LANG_TYPESCRIPT:
    if (tree_has_dir_named(&c->tree, "__tests__")) {
      char *d = path_join(c->src_dir, "__tests__");
      c->target = make_name(d, s, c->stem, ext);
      buf_puts(&c->placement, "no tests yet: ");
      put_pattern(&c->placement, d, s, "<module>", ext);
      buf_puts(&c->placement, " (the project has __tests__ folders)");
      free(d);
      return;
    }
    c->target = make_name(c->src_dir, s, c->stem, ext);
    buf_puts(&c->placement, "no tests yet: ");
    put_pattern(&c->placement, c->src_dir, s, "<module>", ext);
    buf_puts(&c->placement, " beside the source (the usual layout)");
    return;
  case LANG_LUA:
    dir = rel_is_dir(c->root, "spec") || !rel_is_dir(c->root, "tests") ? "spec" : "tests";
    break;
  default:
    dir = rel_is_dir(c->root, "test") && !rel_is_dir(c->root, "tests") ? "test" : "tests";
    if (strcmp(dir, "test") == 0) {
      why = "the existing test/ folder";
    }
    break;
  }
  c->target = make_name(dir, s, c->stem, ext);
  buf_puts(&c->placement, "no tests yet: ");
  put_pattern(&c->placement, dir, s, "<module>", ext);
  buf_printf(&c->placement, " (%s)", why);
}

static const char *const mirror_roots[] = {"", "src", "lib", "lua", "source", "app", NULL};

/* Python, JavaScript/TypeScript, Lua, C and C++: follow where and how the existing tests are
 * named. */
static void place_generic(tc_ctx *c)
{
  const tc_profile *prof = c->prof;
  const tc_test **g = xmalloc((c->ntests + 1) * sizeof(*g));
  size_t ng = 0;
  if (c->ntests == 0) {
    const tc_style *s = &prof->styles[0];
    if (c->lang == LANG_JAVASCRIPT || c->lang == LANG_TYPESCRIPT) {
      s = &js_styles[0];
    }
    place_default(c, s, target_ext(c, g, 0));
    free(g);
    return;
  }
  /* Where most tests are: a test tree, __tests__ beside the sources, or next to them. */
  size_t nplace[3] = {0, 0, 0};
  for (size_t i = 0; i < c->ntests; i++) {
    nplace[c->tests[i].place]++;
  }
  tc_place place = TC_TREE;
  if (nplace[TC_SIDECAR] > nplace[place]) {
    place = TC_SIDECAR;
  }
  if (nplace[TC_BESIDE] > nplace[place]) {
    place = TC_BESIDE;
  }
  const char *troot = NULL;
  if (place == TC_TREE) {
    const char **roots = xmalloc(c->ntests * sizeof(*roots));
    size_t nr = 0;
    for (size_t i = 0; i < c->ntests; i++) {
      if (c->tests[i].place == TC_TREE) {
        roots[nr++] = c->tests[i].troot;
      }
    }
    troot = majority_str(roots, nr);
    free(roots);
  }
  for (size_t i = 0; i < c->ntests; i++) {
    if (c->tests[i].place == place && (!troot || strcmp(c->tests[i].troot, troot) == 0)) {
      g[ng++] = &c->tests[i];
    }
  }
  size_t si = majority_style(prof, g, ng);
  const tc_style *s = style_of(prof, si);
  const char *ext = target_ext(c, g, ng);
  char *dir = NULL;
  const char *how = "";
  int mirroring = 0;
  if (place == TC_BESIDE) {
    dir = xstrdup(c->src_dir);
    how = ", beside the source";
  } else if (place == TC_SIDECAR) {
    dir = path_join(c->src_dir, "__tests__");
  } else {
    /* 1. a test of a module in the same source folder shows where this one goes */
    const char **subs = xmalloc(ng * sizeof(*subs));
    size_t ns = 0;
    for (size_t k = 0; k < ng; k++) {
      buf_t sib = BUF_INIT;
      buf_printf(&sib, "%s%s", g[k]->subject, c->src_ext);
      char *rel = path_join(c->src_dir, sib.data);
      if (strcmp(rel, c->rel) != 0 && rel_is_file(c->root, rel)) {
        subs[ns++] = g[k]->sub;
      }
      free(rel);
      buf_free(&sib);
    }
    const char *sub = ns ? majority_str(subs, ns) : NULL;
    /* 2. a tree that mirrors the source folders (tests/pkg/ for src/pkg/) */
    size_t nsubbed = 0, nmirror[N_OF(mirror_roots)] = {0};
    for (size_t k = 0; !sub && k < ng; k++) {
      if (!*g[k]->sub) {
        continue;
      }
      nsubbed++;
      for (size_t m = 0; mirror_roots[m]; m++) {
        char *p = path_join(mirror_roots[m], g[k]->sub);
        int mirrored = rel_is_dir(c->root, p);
        free(p);
        if (mirrored) {
          nmirror[m]++;
          break;
        }
      }
    }
    size_t best_m = 0, mirrored = 0;
    for (size_t m = 0; mirror_roots[m]; m++) {
      mirrored += nmirror[m];
      if (nmirror[m] > nmirror[best_m]) {
        best_m = m;
      }
    }
    if (sub) {
      dir = path_join(troot, sub);
    } else if (mirrored > 0 && mirrored * 2 >= nsubbed) {
      mirroring = 1;
      dir = path_join(troot, strip_prefix_dir(c->src_dir, mirror_roots[best_m]));
      how = ", mirroring the source folders";
    } else {
      /* 3. the sub-folder holding most tests (tests/unit rather than tests/integration) */
      ns = 0;
      for (size_t k = 0; k < ng; k++) {
        subs[ns++] = g[k]->sub;
      }
      dir = path_join(troot, majority_str(subs, ns));
    }
    free(subs);
  }
  c->target = make_name(dir, s, c->stem, ext);
  /* A project with one test file per function in a folder per module:
   * tests/<module>/test_<function>.py */
  const char *per_module = NULL;
  int module_file = rel_is_file(c->root, c->target);
  for (size_t k = 0; c->function && !module_file && !per_module && k < ng; k++) {
    if (strcmp(base_name(g[k]->dir), c->stem) == 0) {
      per_module = g[k]->dir;
    }
  }
  int per_function = per_module != NULL;
  if (per_function) {
    free(c->target);
    c->target = make_name(per_module, s, c->function, ext);
  } else if (!module_file) {
    /* Unless the tree mirrors the sources (where a test of another module of the same name
     * lives elsewhere), an existing test of this module or function is the one to extend. */
    for (int pass = 0; pass < 2 && !mirroring; pass++) {
      const char *want = pass == 0 ? c->stem : c->function;
      const tc_test *hit = NULL;
      for (size_t i = 0; want && !hit && i < c->ntests; i++) {
        if (strcmp(c->tests[i].subject, want) == 0) {
          hit = &c->tests[i];
        }
      }
      if (hit) {
        free(c->target);
        c->target = xstrdup(hit->rel);
        break;
      }
    }
  }
  size_t like = 0;
  for (size_t k = 0; k < ng; k++) {
    like += g[k]->style == si && (place != TC_TREE || mirroring || strcmp(g[k]->dir, dir) == 0);
  }
  if (per_function) {
    put_pattern(&c->placement, per_module, s, "<function>", ext);
    buf_puts(&c->placement, ", one file per function");
  } else {
    char *tdir = rel_dirname(c->target);
    if (strcmp(tdir, dir) == 0) {
      put_pattern(&c->placement, dir, s, "<module>", ext);
      buf_printf(&c->placement, " like %zu existing test%s%s", like, plural(like), how);
    } else {
      buf_printf(&c->placement, "%s, the existing test of this module", c->target);
    }
    free(tdir);
  }
  free(dir);
  free(g);
}

static int java_package_dir(tc_ctx *c, buf_t *out)
{
  char *d = read_prefix(c->src, TC_MANIFEST_MAX, NULL, NULL);
  if (!d) {
    return 0;
  }
  int ok = 0;
  const char *p = d;
  while (p && !ok) {
    if (starts_with(p, "package ")) {
      p += strlen("package ");
      while (*p == ' ') {
        p++;
      }
      size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.");
      if (n == 0 || (p[n] != ';' && p[n] != ' ')) {
        break;
      }
      for (size_t i = 0; i < n; i++) {
        buf_putc(out, p[i] == '.' ? '/' : p[i]);
      }
      ok = 1;
    }
    p = strchr(p, '\n');
    p = p ? p + 1 : NULL;
  }
  free(d);
  return ok;
}

/* Maven/Gradle: src/main/java/<package>/Foo.java is tested by src/test/java/<package>/FooTest.java
 */
static void place_java(tc_ctx *c)
{
  const tc_test **g = xmalloc((c->ntests + 1) * sizeof(*g));
  size_t ng = 0;
  for (size_t i = 0; i < c->ntests; i++) {
    if (c->tests[i].style < c->prof->nstyles) {
      g[ng++] = &c->tests[i];
    }
  }
  size_t si = ng ? majority_style(c->prof, g, ng) : 0;
  const tc_style *s = &java_styles[si];
  buf_t dir = BUF_INIT;
  const char *main_java = strstr(c->src_dir, "src/main/java");
  if (main_java && (main_java == c->src_dir || main_java[-1] == '/') &&
      (main_java[13] == '/' || main_java[13] == '\0')) {
    buf_append(&dir, c->src_dir, (size_t)(main_java - c->src_dir));
    buf_puts(&dir, "src/test/java");
    buf_puts(&dir, main_java + 13);
  } else {
    buf_puts(&dir, "src/test/java");
    buf_t pkg = BUF_INIT;
    if (java_package_dir(c, &pkg)) {
      buf_printf(&dir, "/%s", pkg.data);
    }
    buf_free(&pkg);
  }
  c->target = make_name(dir.data, s, c->stem, ".java");
  if (!rel_is_file(c->root, c->target)) {
    for (size_t k = 0; k < ng; k++) {
      if (strcmp(g[k]->subject, c->stem) == 0) {
        free(c->target);
        c->target = xstrdup(g[k]->rel);
        break;
      }
    }
  }
  size_t like = 0;
  for (size_t k = 0; k < ng; k++) {
    like += g[k]->style == si && strstr(g[k]->rel, "src/test/java/") != NULL;
  }
  char *tdir = rel_dirname(c->target);
  if (strcmp(tdir, dir.data) != 0) {
    buf_printf(&c->placement, "%s, the existing test of this class", c->target);
  } else if (like) {
    put_pattern(&c->placement, dir.data, s, "<Class>", ".java");
    buf_printf(&c->placement, " (Maven layout) like %zu existing test%s", like, plural(like));
  } else {
    buf_puts(&c->placement, "no tests yet: ");
    put_pattern(&c->placement, dir.data, s, "<Class>", ".java");
    buf_puts(&c->placement, " (Maven layout)");
  }
  free(tdir);
  buf_free(&dir);
  free(g);
}

static int go_table_driven(const char *text)
{
  return strstr(text, "[]struct") && strstr(text, "t.Run(");
}

static void place_go(tc_ctx *c)
{
  const tc_style *s = &go_styles[0];
  c->target = make_name(c->src_dir, s, c->stem, ".go");
  size_t here = 0;
  for (size_t i = 0; i < c->ntests; i++) {
    here += strcmp(c->tests[i].dir, c->src_dir) == 0;
  }
  put_pattern(&c->placement, c->src_dir, s, "<file>", ".go");
  buf_puts(&c->placement, " beside the source, as go test requires");
  if (c->ntests == 0) {
    buf_puts(&c->placement, "; no tests yet: table-driven subtests are Go's custom");
  } else {
    buf_printf(&c->placement, " (%zu existing test%s here, %zu in the module)", here, plural(here),
               c->ntests);
  }
}

/* The text of a Rust file's tests module, from its #[cfg(test)] line. */
static char *rust_module_sample(const char *root, const char *rel, size_t max)
{
  size_t len = 0;
  int complete = 0;
  char *d = read_in_root(root, rel, max, &len, &complete);
  if (!d) {
    return NULL;
  }
  char *r = NULL;
  const char *m = strstr(d, "#[cfg(test)]");
  if (m) {
    while (m > d && m[-1] != '\n') {
      m--;
    }
    r = excerpt(m, len - (size_t)(m - d), complete);
  }
  free(d);
  return r;
}

static void place_rust(tc_ctx *c)
{
  char *own = rust_module_sample(c->root, c->rel, TC_RUST_SOURCE_MAX);
  size_t inline_n = 0, sniffed = 0;
  char *first_inline = NULL;
  for (size_t i = 0; i < c->tree.files.n && sniffed < TC_SNIFF_FILES; i++) {
    const char *f = c->tree.files.v[i];
    if (!starts_with(f, "src/") || !ends_with(f, ".rs")) {
      continue;
    }
    sniffed++;
    char *d = read_rel(c->root, f, TC_RUST_CRATE_MAX);
    if (d && strstr(d, "#[cfg(test)]")) {
      inline_n++;
      if (!first_inline) {
        first_inline = xstrdup(f);
      }
    }
    free(d);
  }
  size_t integ = c->ntests;
  /* inline placements bring their own sample: a tests module, never the top of a source */
  c->sample_decided = own || (inline_n > 0 && inline_n >= integ) || integ == 0;
  if (own) {
    c->target = xstrdup(c->rel);
    c->sample_rel = xstrdup(c->rel);
    c->sample_text = own;
    buf_printf(&c->placement, "%s already has a #[cfg(test)] mod tests: add the tests to it",
               c->rel);
  } else if (inline_n > 0 && inline_n >= integ) {
    c->target = xstrdup(c->rel);
    c->sample_rel = first_inline;
    c->sample_text = rust_module_sample(c->root, first_inline, TC_RUST_CRATE_MAX);
    first_inline = NULL;
    buf_printf(&c->placement,
               "inline tests like %zu file%s of the crate: append a #[cfg(test)] mod tests to %s",
               inline_n, plural(inline_n), c->rel);
  } else if (integ > 0) {
    c->target = make_name("tests", &plain_style, c->stem, ".rs");
    if (!rel_is_file(c->root, c->target)) {
      for (size_t i = 0; i < c->ntests; i++) {
        if (strcmp(c->tests[i].subject, c->stem) == 0) {
          free(c->target);
          c->target = xstrdup(c->tests[i].rel);
        }
      }
    }
    buf_printf(&c->placement, "tests/<module>.rs integration tests like %zu existing test%s", integ,
               plural(integ));
  } else {
    /* Private functions are only reachable from inside the crate: unit tests go inline. */
    c->target = xstrdup(c->rel);
    buf_printf(&c->placement,
               "no tests yet: append a #[cfg(test)] mod tests to %s, "
               "Rust's place for unit tests",
               c->rel);
  }
  free(first_inline);
}

/* ---- sample ------------------------------------------------------------------------------- */

static char *sample_of(const char *root, const char *rel)
{
  size_t len = 0;
  int complete = 0;
  char *d = read_in_root(root, rel, TC_SAMPLE_BYTES, &len, &complete);
  if (!d) {
    return NULL;
  }
  char *r = excerpt(d, len, complete);
  free(d);
  return r;
}

/* How close an existing test is to the target: same folder, then same test tree and naming,
 * then a test of a neighbouring module; Go prefers table-driven tests. */
static int sample_score(tc_ctx *c, size_t i, const char *tdir)
{
  const tc_test *t = &c->tests[i];
  int score = 0;
  if (strcmp(t->dir, tdir) == 0) {
    score += 8;
  } else if (t->troot && starts_with(tdir, t->troot)) {
    score += 4;
  }
  buf_t sib = BUF_INIT;
  buf_printf(&sib, "%s%s", t->subject, c->src_ext);
  char *rel = path_join(c->src_dir, sib.data);
  if (rel_is_file(c->root, rel)) {
    score += 2;
  }
  free(rel);
  buf_free(&sib);
  if (c->lang == LANG_GO && i < TC_SNIFF_FILES) {
    char *d = read_rel(c->root, t->rel, TC_SNIFF_MAX);
    if (d && go_table_driven(d)) {
      score += 1;
    }
    free(d);
  }
  return score;
}

static void choose_sample(tc_ctx *c, int exists)
{
  if (c->sample_decided) {
    return;
  }
  if (exists) {
    c->sample_text = sample_of(c->root, c->target);
    if (c->sample_text) {
      c->sample_rel = xstrdup(c->target);
    }
    return;
  }
  if (c->ntests == 0) {
    return;
  }
  char *tdir = rel_dirname(c->target);
  size_t limit = c->ntests;
  int *score = xmalloc(limit * sizeof(*score));
  for (size_t i = 0; i < limit; i++) {
    score[i] = sample_score(c, i, tdir);
  }
  for (int tries = 0; tries < TC_SAMPLE_TRIES; tries++) {
    size_t best = SIZE_MAX;
    for (size_t i = 0; i < limit; i++) {
      if (score[i] >= 0 && (best == SIZE_MAX || score[i] > score[best])) {
        best = i;
      }
    }
    if (best == SIZE_MAX) {
      break;
    }
    score[best] = -1;
    c->sample_text = sample_of(c->root, c->tests[best].rel);
    if (c->sample_text) {
      c->sample_rel = xstrdup(c->tests[best].rel);
      break;
    }
  }
  free(score);
  free(tdir);
}

/* ---- entry point -------------------------------------------------------------------------- */

static char *resolve_source(const char *source_path, char *err, size_t errlen)
{
  char *abs = realpath(source_path, NULL);
  if (abs) {
    if (is_dir(abs)) {
      snprintf(err, errlen, "'%s' is a directory, not a source file", source_path);
      free(abs);
      return NULL;
    }
    return abs;
  }
  /* A new buffer not yet written: its folder must exist. */
  const char *base = base_name(source_path);
  if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
    snprintf(err, errlen, "'%s' does not name a file", source_path);
    return NULL;
  }
  char *dir =
      base == source_path ? xstrdup(".") : xstrndup(source_path, (size_t)(base - source_path));
  char *rdir = realpath(dir, NULL);
  if (!rdir) {
    snprintf(err, errlen, "cannot resolve '%s': %s", source_path, strerror(errno));
    free(dir);
    return NULL;
  }
  char *r = path_join(rdir, base);
  free(rdir);
  free(dir);
  return r;
}

/* Control bytes would break the one-line preview. */
static char *one_line(buf_t *b)
{
  for (size_t i = 0; i < b->len; i++) {
    if ((unsigned char)b->data[i] < 0x20 || b->data[i] == 0x7f) {
      b->data[i] = '?';
    }
  }
  return buf_detach(b);
}

int testconv_discover(const char *source_path, lang_id lang, const char *function, testconv *out,
                      char *err, size_t errlen)
{
  if (!out) {
    snprintf(err, errlen, "testconv_discover: no output");
    return -1;
  }
  memset(out, 0, sizeof(*out));
  if (!source_path || !*source_path) {
    snprintf(err, errlen, "no source file to write tests for");
    return -1;
  }
  tc_ctx c;
  memset(&c, 0, sizeof(c));
  c.src = resolve_source(source_path, err, errlen);
  if (!c.src) {
    return -1;
  }
  c.lang = lang > LANG_UNKNOWN && lang < LANG__COUNT ? lang : lang_from_path(c.src);
  c.prof = profiles[c.lang].exts ? &profiles[c.lang] : NULL;
  c.function = usable_function(function) ? function : NULL;
  char *src_abs_dir = rel_dirname(c.src);
  if (!*src_abs_dir) {
    free(src_abs_dir);
    src_abs_dir = xstrdup("/");
  }
  c.root = find_root(src_abs_dir);
  free(src_abs_dir);
  c.rel = strcmp(c.root, "/") == 0 ? c.src + 1 : c.src + strlen(c.root) + 1;
  c.src_dir = rel_dirname(c.rel);
  const char *base = base_name(c.rel);
  c.src_ext = ext_of(base);
  c.stem = xstrndup(base, (size_t)(c.src_ext - base));

  tree_walk(&c.tree, c.root);
  collect_tests(&c);
  detect_framework(&c);
  tc_test self;
  int is_test = c.prof && classify(c.prof, c.rel, &self);
  if (is_test) {
    /* a C helper in tests/ is not a test unless it is named like one */
    is_test = self.style < c.prof->nstyles || c.prof->plain != TC_PLAIN_TEST_DIR;
    test_free(&self);
  }
  if (is_test) {
    /* asked from a test file: the tests go into it */
    c.target = xstrdup(c.rel);
    buf_printf(&c.placement, "%s is itself a test file: add to it", c.rel);
  } else {
    switch (c.lang) {
    case LANG_GO:
      place_go(&c);
      break;
    case LANG_RUST:
      place_rust(&c);
      break;
    case LANG_JAVA:
      place_java(&c);
      break;
    case LANG_UNKNOWN:
    case LANG__COUNT:
      c.target = make_name("tests", &py_styles[0], c.stem, c.src_ext);
      buf_puts(&c.placement, "no test conventions known for this file type: ");
      buf_puts(&c.placement, c.target);
      break;
    default:
      place_generic(&c);
      break;
    }
  }
  out->root = xstrdup(c.root);
  out->test_path = path_join(c.root, c.target);
  out->exists = is_file(out->test_path);
  out->framework = c.fw ? xstrdup(c.fw) : NULL;
  choose_sample(&c, out->exists);
  if (c.sample_text) {
    out->sample_path = path_join(c.root, c.sample_rel);
    out->sample = c.sample_text;
    c.sample_text = NULL;
  }

  buf_t why = BUF_INIT;
  buf_puts(&why, c.fw                     ? c.fw
                 : c.lang == LANG_UNKNOWN ? "unknown language"
                                          : "no test framework found");
  if (c.evidence.len) {
    buf_printf(&why, " (%s)", c.evidence.data);
  }
  buf_printf(&why, "; %s", c.placement.data ? c.placement.data : "");
  if (c.lang == LANG_GO && out->sample && go_table_driven(out->sample)) {
    buf_puts(&why, "; table-driven style");
  }
  if (c.tree.timed_out) {
    buf_printf(&why, " (scan stopped after %d s)", TC_MAX_WALK_MS / 1000);
  } else if (c.tree.truncated) {
    buf_printf(&why, " (scan stopped at %d entries)", TC_MAX_ENTRIES);
  }
  out->why = one_line(&why);

  for (size_t i = 0; i < c.ntests; i++) {
    test_free(&c.tests[i]);
  }
  free(c.tests);
  for (size_t i = 0; i < c.nheads; i++) {
    free(c.heads[i]);
  }
  free(c.heads);
  tree_free(&c.tree);
  buf_free(&c.evidence);
  buf_free(&c.placement);
  free(c.target);
  free(c.sample_rel);
  free(c.sample_text);
  free(c.stem);
  free(c.src_dir);
  free(c.root);
  free(c.src);
  return 0;
}

void testconv_free(testconv *t)
{
  if (!t) {
    return;
  }
  free(t->root);
  free(t->framework);
  free(t->test_path);
  free(t->sample_path);
  free(t->sample);
  free(t->why);
  memset(t, 0, sizeof(*t));
}
