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
    for (size_t i = 0; tc_js_exts[i]; i++) {
      if (strcmp(c->src_ext, tc_js_exts[i]) == 0) {
        return c->src_ext;
      }
    }
    return c->lang == LANG_TYPESCRIPT ? ".ts" : ".js";
  case LANG_C:
  case LANG_CPP: {
    /* gtest suites test C code from .cc files: follow the tests, not the source */
    size_t best = 0;
    const char *ext = NULL;
    for (size_t i = 0; tc_c_exts[i]; i++) {
      size_t n = 0;
      for (size_t k = 0; k < ng; k++) {
        n += strcmp(group[k]->ext, tc_c_exts[i]) == 0;
      }
      if (n > best) {
        best = n, ext = tc_c_exts[i];
      }
    }
    if (ext) {
      return ext;
    }
    if (c->lang == LANG_C) {
      return ".c";
    }
    for (size_t i = 1; tc_c_exts[i]; i++) {
      if (strcmp(c->src_ext, tc_c_exts[i]) == 0) {
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
char *tc_make_name(const char *dir, const tc_style *s, const char *subject, const char *ext)
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
  char *p = tc_make_name(dir, s, placeholder, ext);
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
int tc_usable_function(const char *f)
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
    if (tc_tree_has_dir_named(&c->tree, "__tests__")) {
      char *d = path_join(c->src_dir, "__tests__");
      c->target = tc_make_name(d, s, c->stem, ext);
      buf_puts(&c->placement, "no tests yet: ");
      put_pattern(&c->placement, d, s, "<module>", ext);
      buf_puts(&c->placement, " (the project has __tests__ folders)");
      free(d);
      return;
    }
    c->target = tc_make_name(c->src_dir, s, c->stem, ext);
    buf_puts(&c->placement, "no tests yet: ");
    put_pattern(&c->placement, c->src_dir, s, "<module>", ext);
    buf_puts(&c->placement, " beside the source (the usual layout)");
    return;
  case LANG_LUA:
    dir = tc_rel_is_dir(c->root, "spec") || !tc_rel_is_dir(c->root, "tests") ? "spec" : "tests";
    break;
  default:
    dir = tc_rel_is_dir(c->root, "test") && !tc_rel_is_dir(c->root, "tests") ? "test" : "tests";
    if (strcmp(dir, "test") == 0) {
      why = "the existing test/ folder";
    }
    break;
  }
  c->target = tc_make_name(dir, s, c->stem, ext);
  buf_puts(&c->placement, "no tests yet: ");
  put_pattern(&c->placement, dir, s, "<module>", ext);
  buf_printf(&c->placement, " (%s)", why);
}

static const char *const mirror_roots[] = {"", "src", "lib", "lua", "source", "app", NULL};

/* Python, JavaScript/TypeScript, Lua, C and C++: follow where and how the existing tests are
 * named. */
void tc_place_generic(tc_ctx *c)
{
  const tc_profile *prof = c->prof;
  const tc_test **g = xmalloc((c->ntests + 1) * sizeof(*g));
  size_t ng = 0;
  if (c->ntests == 0) {
    const tc_style *s = &prof->styles[0];
    if (c->lang == LANG_JAVASCRIPT || c->lang == LANG_TYPESCRIPT) {
      s = &tc_js_styles[0];
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
  const tc_style *s = tc_style_of(prof, si);
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
      if (strcmp(rel, c->rel) != 0 && tc_rel_is_file(c->root, rel)) {
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
        int mirrored = tc_rel_is_dir(c->root, p);
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
  c->target = tc_make_name(dir, s, c->stem, ext);
  /* A project with one test file per function in a folder per module:
   * tests/<module>/test_<function>.py */
  const char *per_module = NULL;
  int module_file = tc_rel_is_file(c->root, c->target);
  for (size_t k = 0; c->function && !module_file && !per_module && k < ng; k++) {
    if (strcmp(path_base(g[k]->dir), c->stem) == 0) {
      per_module = g[k]->dir;
    }
  }
  int per_function = per_module != NULL;
  if (per_function) {
    free(c->target);
    c->target = tc_make_name(per_module, s, c->function, ext);
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
    char *tdir = path_dirname(c->target);
    if (strcmp(tdir, dir) == 0) {
      put_pattern(&c->placement, dir, s, "<module>", ext);
      buf_printf(&c->placement, " like %zu existing test%s%s", like, tc_plural(like), how);
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
  char *d = file_read_prefix(c->src, TC_MANIFEST_MAX, NULL, NULL);
  if (!d) {
    return 0;
  }
  int ok = 0;
  const char *p = d;
  while (p && !ok) {
    if (tc_starts_with(p, "package ")) {
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
void tc_place_java(tc_ctx *c)
{
  const tc_test **g = xmalloc((c->ntests + 1) * sizeof(*g));
  size_t ng = 0;
  for (size_t i = 0; i < c->ntests; i++) {
    if (c->tests[i].style < c->prof->nstyles) {
      g[ng++] = &c->tests[i];
    }
  }
  size_t si = ng ? majority_style(c->prof, g, ng) : 0;
  const tc_style *s = &tc_java_styles[si];
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
  c->target = tc_make_name(dir.data, s, c->stem, ".java");
  if (!tc_rel_is_file(c->root, c->target)) {
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
  char *tdir = path_dirname(c->target);
  if (strcmp(tdir, dir.data) != 0) {
    buf_printf(&c->placement, "%s, the existing test of this class", c->target);
  } else if (like) {
    put_pattern(&c->placement, dir.data, s, "<Class>", ".java");
    buf_printf(&c->placement, " (Maven layout) like %zu existing test%s", like, tc_plural(like));
  } else {
    buf_puts(&c->placement, "no tests yet: ");
    put_pattern(&c->placement, dir.data, s, "<Class>", ".java");
    buf_puts(&c->placement, " (Maven layout)");
  }
  free(tdir);
  buf_free(&dir);
  free(g);
}

int tc_go_table_driven(const char *text)
{
  return strstr(text, "[]struct") && strstr(text, "t.Run(");
}

void tc_place_go(tc_ctx *c)
{
  const tc_style *s = &tc_go_styles[0];
  c->target = tc_make_name(c->src_dir, s, c->stem, ".go");
  size_t here = 0;
  for (size_t i = 0; i < c->ntests; i++) {
    here += strcmp(c->tests[i].dir, c->src_dir) == 0;
  }
  put_pattern(&c->placement, c->src_dir, s, "<file>", ".go");
  buf_puts(&c->placement, " beside the source, as go test requires");
  if (c->ntests == 0) {
    buf_puts(&c->placement, "; no tests yet: table-driven subtests are Go's custom");
  } else {
    buf_printf(&c->placement, " (%zu existing test%s here, %zu in the module)", here, tc_plural(here),
               c->ntests);
  }
}

/* The text of a Rust file's tests module, from its #[cfg(test)] line. */
static char *rust_module_sample(const char *root, const char *rel, size_t max)
{
  size_t len = 0;
  int complete = 0;
  char *d = tc_read_in_root(root, rel, max, &len, &complete);
  if (!d) {
    return NULL;
  }
  char *r = NULL;
  const char *m = strstr(d, "#[cfg(test)]");
  if (m) {
    while (m > d && m[-1] != '\n') {
      m--;
    }
    r = tc_excerpt(m, len - (size_t)(m - d), complete);
  }
  free(d);
  return r;
}

void tc_place_rust(tc_ctx *c)
{
  char *own = rust_module_sample(c->root, c->rel, TC_RUST_SOURCE_MAX);
  size_t inline_n = 0, sniffed = 0;
  char *first_inline = NULL;
  for (size_t i = 0; i < c->tree.files.n && sniffed < TC_SNIFF_FILES; i++) {
    const char *f = c->tree.files.v[i];
    if (!tc_starts_with(f, "src/") || !tc_ends_with(f, ".rs")) {
      continue;
    }
    sniffed++;
    char *d = tc_read_rel(c->root, f, TC_RUST_CRATE_MAX);
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
               inline_n, tc_plural(inline_n), c->rel);
  } else if (integ > 0) {
    c->target = tc_make_name("tests", &tc_plain_style, c->stem, ".rs");
    if (!tc_rel_is_file(c->root, c->target)) {
      for (size_t i = 0; i < c->ntests; i++) {
        if (strcmp(c->tests[i].subject, c->stem) == 0) {
          free(c->target);
          c->target = xstrdup(c->tests[i].rel);
        }
      }
    }
    buf_printf(&c->placement, "tests/<module>.rs integration tests like %zu existing test%s", integ,
               tc_plural(integ));
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
  char *d = tc_read_in_root(root, rel, TC_SAMPLE_BYTES, &len, &complete);
  if (!d) {
    return NULL;
  }
  char *r = tc_excerpt(d, len, complete);
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
  } else if (t->troot && tc_starts_with(tdir, t->troot)) {
    score += 4;
  }
  buf_t sib = BUF_INIT;
  buf_printf(&sib, "%s%s", t->subject, c->src_ext);
  char *rel = path_join(c->src_dir, sib.data);
  if (tc_rel_is_file(c->root, rel)) {
    score += 2;
  }
  free(rel);
  buf_free(&sib);
  if (c->lang == LANG_GO && i < TC_SNIFF_FILES) {
    char *d = tc_read_rel(c->root, t->rel, TC_SNIFF_MAX);
    if (d && tc_go_table_driven(d)) {
      score += 1;
    }
    free(d);
  }
  return score;
}

void tc_choose_sample(tc_ctx *c, int exists)
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
  char *tdir = path_dirname(c->target);
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
