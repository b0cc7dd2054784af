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

/* ---- project root ------------------------------------------------------------------------- */

static const char *const root_markers[] = {
    ".git",           "CMakeLists.txt", "Makefile",         "meson.build", "package.json",
    "pyproject.toml", "setup.py",       "setup.cfg",        "go.mod",      "Cargo.toml",
    "pom.xml",        "build.gradle",   "build.gradle.kts", ".busted",     NULL};

/* Build files that sub-directories of one build often carry too. */
static const char *const nested_build_files[] = {"CMakeLists.txt", "Makefile", "meson.build", NULL};

int tc_dir_has(const char *dir, const char *name)
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
    found = tc_ends_with(e->d_name, ".rockspec") && strlen(e->d_name) > strlen(".rockspec");
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
    if (!tc_dir_has(dir, root_markers[i])) {
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
    if (tc_dir_has(dir, nested_build_files[i]) && tc_dir_has(parent, nested_build_files[i])) {
      return 1;
    }
  }
  return 0;
}

/* The nearest ancestor of `dir` (inclusive) holding a marker, else `dir`. Caller frees. */
char *tc_find_root(const char *dir)
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
