/* The repo map as a context package item, for the multi-file actions. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "repomap/repomap.h"
#include "util/buf.h"

/* Below this many tokens a map shows a handful of signatures: not worth its heading. */
#define REPOMAP_ITEM_MIN 128

static const char *const map_actions[] = {"design", "plan", "refactor-files", "review-all",
                                          "optimize", NULL};

int repomap_wanted(const char *action)
{
  for (size_t i = 0; action && map_actions[i]; i++) {
    if (strcmp(action, map_actions[i]) == 0) {
      return 1;
    }
  }
  return 0;
}

/* Makes the directories above `path` (mode 0700: the state directory is the user's). */
static int make_parent(const char *path)
{
  char *copy = xstrdup(path);
  for (char *p = copy + 1; *p; p++) {
    if (*p == '/') {
      *p = '\0';
      if (mkdir(copy, 0700) != 0 && errno != EEXIST) {
        free(copy);
        return -1;
      }
      *p = '/';
    }
  }
  free(copy);
  return 0;
}

#define OUTLINE_SUFFIX " (outline)"

/* Whether `file` is in `pkg` as a "file" item, whole or as its outline (their labels are paths
 * as the model sees them, relative to the current directory, "PATH (outline)" for outlines:
 * either way its definitions are there). */
static int sent_whole(const pkg_result *pkg, const char *file)
{
  char *want = realpath(file, NULL);
  int found = 0;
  for (size_t i = 0; want && i < pkg->nitems && !found; i++) {
    const char *label = pkg->items[i].label;
    if (pkg->items[i].kind != ITEM_FILE || !label) {
      continue;
    }
    size_t n = strlen(label), k = strlen(OUTLINE_SUFFIX);
    char *path = n > k && strcmp(label + n - k, OUTLINE_SUFFIX) == 0 ? xstrndup(label, n - k)
                                                                     : xstrdup(label);
    char *have = realpath(path, NULL);
    found = have && strcmp(have, want) == 0;
    free(have);
    free(path);
  }
  free(want);
  return found;
}

static int ident_start(char c)
{
  return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int ident_char(char c)
{
  return ident_start(c) || (c >= '0' && c <= '9');
}

size_t repomap_mentions(const char *text, char **names, size_t max)
{
  size_t n = 0;
  for (const char *p = text; p && *p && n < max;) {
    if (!ident_start(*p) || (p > text && ident_char(p[-1]))) {
      p++;
      continue;
    }
    const char *s = p;
    while (ident_char(*p)) {
      p++;
    }
    if (p - s >= 2) {
      names[n++] = xstrndup(s, (size_t)(p - s));
    }
  }
  return n;
}

#define MENTIONS_MAX 64

int repomap_package_add(repomap_cache *cache, const char *action, const char *path,
                        const char *const *files, size_t nfiles, const char *instruction,
                        int budget, pkg_result *pkg)
{
  if (!repomap_wanted(action)) {
    return 0;
  }
  int plan = strcmp(action, "plan") == 0;
  int room = plan ? REPOMAP_PLAN_BUDGET : REPOMAP_DEFAULT_BUDGET;
  if (budget > 0 && budget - pkg->tokens < room) {
    room = budget - pkg->tokens;
  }
  if (room < REPOMAP_ITEM_MIN) {
    pkg->dropped++;
    return 0;
  }
  char cwd[PATH_MAX];
  char *root = path ? repomap_project_root(path) : NULL;
  if (!root && getcwd(cwd, sizeof(cwd))) {
    root = xstrdup(cwd);
  }
  if (!root) {
    return -1;
  }
  const char **scope = xcalloc(nfiles + 1, sizeof(char *));
  unsigned char *sent = xcalloc(nfiles + 1, 1);
  size_t n = 0;
  if (path) {
    sent[n] = 1; /* the file at the cursor is always sent */
    scope[n++] = path;
  }
  for (size_t i = 0; i < nfiles; i++) {
    sent[n] = sent_whole(pkg, files[i]);
    scope[n++] = files[i];
  }
  repomap_cache *own = NULL;
  char store[4096], serr[256];
  int has_store = 0;
  if (!cache) {
    own = repomap_cache_new();
    has_store = repomap_cache_path(root, store, sizeof(store)) == 0;
    if (has_store) {
      repomap_cache_load(own, store, serr, sizeof(serr)); /* missing or stale: a cold map */
    }
  }
  char *mentions[MENTIONS_MAX];
  size_t nmentions = repomap_mentions(instruction, mentions, MENTIONS_MAX);
  repomap_request req = {.root = root,
                         .scope = scope,
                         .nscope = n,
                         .mentions = (const char *const *)mentions,
                         .nmentions = nmentions,
                         .sent = sent,
                         .budget_tokens = room,
                         .connected_only = plan};
  repomap_result r;
  char err[256];
  int rc = repomap_build(cache ? cache : own, &req, &r, err, sizeof(err));
  for (size_t i = 0; i < nmentions; i++) {
    free(mentions[i]);
  }
  if (rc == 0 && has_store && r.files_scanned > 0 && make_parent(store) == 0) {
    repomap_cache_save(own, store, serr, sizeof(serr)); /* best effort: next time is cold */
  }
  repomap_cache_free(own);
  free(scope);
  free(sent);
  free(root);
  if (rc) {
    return -1;
  }
  if (r.defs_shown == 0) {
    repomap_result_free(&r);
    return 0;
  }
  pkg->items = xrealloc(pkg->items, (pkg->nitems + 1) * sizeof(pkg_item));
  pkg_item *it = &pkg->items[pkg->nitems++];
  memset(it, 0, sizeof(*it));
  it->kind = ITEM_REPO_MAP;
  it->start_line = 1;
  it->end_line = 0;
  for (const char *p = r.text; *p; p++) {
    it->end_line += *p == '\n';
  }
  buf_t label = BUF_INIT;
  buf_printf(&label, "%d definitions from %d of %d files%s%s", r.defs_shown, r.files_shown,
             r.files_walked, r.bound ? ", walk stopped at " : "", r.bound ? r.bound : "");
  it->label = buf_detach(&label);
  it->tokens = r.tokens;
  it->text = r.text;
  r.text = NULL;
  pkg->tokens += it->tokens;
  repomap_result_free(&r);
  return 1;
}
