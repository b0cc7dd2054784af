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

/* ---- test files --------------------------------------------------------------------------- */

static const char *const py_exts[] = {".py", NULL};
const char *const tc_js_exts[] = {".js",  ".jsx", ".mjs", ".cjs", ".ts",
                                      ".tsx", ".mts", ".cts", NULL};
static const char *const go_exts[] = {".go", NULL};
static const char *const rs_exts[] = {".rs", NULL};
static const char *const java_exts[] = {".java", NULL};
static const char *const lua_exts[] = {".lua", NULL};
const char *const tc_c_exts[] = {".c", ".cc", ".cpp", ".cxx", ".c++", NULL};

const tc_style tc_py_styles[] = {{"test_", ""}, {"", "_test"}};
const tc_style tc_js_styles[] = {{"", ".test"}, {"", ".spec"}};
const tc_style tc_go_styles[] = {{"", "_test"}};
const tc_style tc_java_styles[] = {{"", "Test"}, {"", "Tests"}, {"Test", ""}};
static const tc_style lua_styles[] = {{"", "_spec"}, {"test_", ""}, {"", "_test"}};
static const tc_style c_styles[] = {
    {"test_", ""}, {"", "_test"}, {"", "_tests"}, {"", "_unittest"}, {"check_", ""}};
const tc_style tc_plain_style = {"", ""};

const tc_profile tc_profiles[LANG__COUNT] = {
    [LANG_C] = {tc_c_exts, c_styles, N_OF(c_styles), TC_PLAIN_TEST_DIR},
    [LANG_CPP] = {tc_c_exts, c_styles, N_OF(c_styles), TC_PLAIN_TEST_DIR},
    [LANG_PYTHON] = {py_exts, tc_py_styles, N_OF(tc_py_styles), TC_PLAIN_NEVER},
    [LANG_JAVASCRIPT] = {tc_js_exts, tc_js_styles, N_OF(tc_js_styles), TC_PLAIN_JS},
    [LANG_TYPESCRIPT] = {tc_js_exts, tc_js_styles, N_OF(tc_js_styles), TC_PLAIN_JS},
    [LANG_GO] = {go_exts, tc_go_styles, N_OF(tc_go_styles), TC_PLAIN_NEVER},
    [LANG_RUST] = {rs_exts, NULL, 0, TC_PLAIN_RUST},
    [LANG_JAVA] = {java_exts, tc_java_styles, N_OF(tc_java_styles), TC_PLAIN_NEVER},
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

const tc_style *tc_style_of(const tc_profile *p, size_t i)
{
  return i < p->nstyles ? &p->styles[i] : &tc_plain_style;
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

int tc_classify(const tc_profile *prof, const char *rel, tc_test *out)
{
  const char *name = path_base(rel);
  const char *ext = path_ext(name);
  int ext_ok = 0;
  for (size_t i = 0; prof->exts[i]; i++) {
    ext_ok |= strcmp(ext, prof->exts[i]) == 0;
  }
  if (!ext_ok) {
    return 0;
  }
  size_t blen = (size_t)(ext - name);
  char *dir = path_dirname(rel);
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
      plain = comp >= 0 && last && strcmp(path_base(dir), "__tests__") == 0;
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
  } else if (last && comp > 0 && strcmp(path_base(dir), "__tests__") == 0) {
    /* src/utils/__tests__/x.test.js: a __tests__ folder beside each source folder */
    out->place = TC_SIDECAR;
  } else {
    out->place = TC_TREE;
    out->troot = xstrndup(dir, troot_len);
    out->sub = xstrdup(dir[troot_len] == '/' ? dir + troot_len + 1 : "");
  }
  return 1;
}

void tc_test_free(tc_test *t)
{
  free(t->dir);
  free(t->subject);
  free(t->troot);
  free(t->sub);
}

/* ---- discovery state ---------------------------------------------------------------------- */

void tc_collect_tests(tc_ctx *c)
{
  if (!c->prof || !c->prof->exts) {
    return;
  }
  size_t cap = 0;
  for (size_t i = 0; i < c->tree.files.n; i++) {
    tc_test t;
    if (!tc_classify(c->prof, c->tree.files.v[i], &t)) {
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
        tc_test_free(&c->tests[i]);
      }
    }
    c->ntests = k;
  }
}

/* Reads the first bytes of up to TC_SNIFF_FILES test files and counts those containing any
 * of the NULL-terminated needles. */
size_t tc_count_tests_with(tc_ctx *c, const char *const *needles)
{
  if (!c->heads && c->ntests) {
    c->nheads = c->ntests < TC_SNIFF_FILES ? c->ntests : TC_SNIFF_FILES;
    c->heads = xcalloc(c->nheads, sizeof(*c->heads));
    for (size_t i = 0; i < c->nheads; i++) {
      c->heads[i] = tc_read_rel(c->root, c->tests[i].rel, TC_SNIFF_MAX);
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

int tc_manifest_has(tc_ctx *c, const char *name, const char *needle)
{
  char *d = tc_read_rel(c->root, name, TC_MANIFEST_MAX);
  int r = d && strstr(d, needle);
  free(d);
  return r;
}

const char *tc_plural(size_t n)
{
  return n == 1 ? "" : "s";
}
