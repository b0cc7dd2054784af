#include "project/project_int.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "util/text.h"

/* ---- bounded walk ------------------------------------------------------------------------- */

static int skip_dir(const char *name)
{
  static const char *const skipped[] = {"node_modules", "target", "dist", "vendor",
                                        "__pycache__",  "venv",   NULL};
  if (name[0] == '.' || tc_starts_with(name, "build")) {
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
  tc_strs_push(&t->dirs, rel);
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
    int ok = real && path_inside(t->root, real) && stat(real, &st) == 0;
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
      tc_strs_push(&t->linked, path_join(t->dirs.v[di], name));
      if (t->linked.cap != cap) {
        t->linked_depth = xrealloc(t->linked_depth, t->linked.cap * sizeof(*t->linked_depth));
      }
      t->linked_depth[t->linked.n - 1] = t->depth[di] + 1;
    } else if (mark_seen(t, &st)) {
      tree_push_dir(t, path_join(t->dirs.v[di], name), t->depth[di] + 1);
    }
  } else if (S_ISREG(st.st_mode)) {
    tc_strs_push(&t->files, path_join(t->dirs.v[di], name));
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
    tc_strs_push(&names, xstrdup(e->d_name));
  }
  if (names.n) {
    qsort(names.v, names.n, sizeof(*names.v), tc_cmp_str);
  }
  for (size_t k = 0; k < names.n; k++) {
    tree_entry(t, i, abs, dirfd(d), names.v[k]);
  }
  tc_strs_free(&names);
  closedir(d);
  free(abs);
}

/* Breadth first, so that when a bound stops the walk the shallow folders (where tests and
 * manifests live) have been seen. Folders behind symlinks come in later rounds, each folder
 * once (by device and inode), which also ends loops. */
void tc_tree_walk(tc_tree *t, const char *root)
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
    tc_strs_free(&linked);
    free(depth);
  }
}

void tc_tree_free(tc_tree *t)
{
  tc_strs_free(&t->files);
  tc_strs_free(&t->dirs);
  tc_strs_free(&t->linked);
  free(t->linked_depth);
  free(t->depth);
  free(t->seen);
}

int tc_tree_has_dir_named(const tc_tree *t, const char *name)
{
  for (size_t i = 0; i < t->dirs.n; i++) {
    if (strcmp(path_base(t->dirs.v[i]), name) == 0) {
      return 1;
    }
  }
  return 0;
}
