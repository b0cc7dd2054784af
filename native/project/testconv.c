#include "project/testconv.h"

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

#include "project/project_int.h"
#include "util/text.h"

/* ---- entry point -------------------------------------------------------------------------- */

static char *resolve_source(const char *source_path, char *err, size_t errlen)
{
  char *abs = realpath(source_path, NULL);
  if (abs) {
    if (path_is_dir(abs)) {
      snprintf(err, errlen, "'%s' is a directory, not a source file", source_path);
      free(abs);
      return NULL;
    }
    return abs;
  }
  /* A new buffer not yet written: its folder must exist. */
  const char *base = path_base(source_path);
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
  c.prof = tc_profiles[c.lang].exts ? &tc_profiles[c.lang] : NULL;
  c.function = tc_usable_function(function) ? function : NULL;
  char *src_abs_dir = path_dirname(c.src);
  if (!*src_abs_dir) {
    free(src_abs_dir);
    src_abs_dir = xstrdup("/");
  }
  c.root = tc_find_root(src_abs_dir);
  free(src_abs_dir);
  c.rel = strcmp(c.root, "/") == 0 ? c.src + 1 : c.src + strlen(c.root) + 1;
  c.src_dir = path_dirname(c.rel);
  const char *base = path_base(c.rel);
  c.src_ext = path_ext(base);
  c.stem = xstrndup(base, (size_t)(c.src_ext - base));

  tc_tree_walk(&c.tree, c.root);
  tc_collect_tests(&c);
  tc_detect_framework(&c);
  tc_test self;
  int is_test = c.prof && tc_classify(c.prof, c.rel, &self);
  if (is_test) {
    /* a C helper in tests/ is not a test unless it is named like one */
    is_test = self.style < c.prof->nstyles || c.prof->plain != TC_PLAIN_TEST_DIR;
    tc_test_free(&self);
  }
  if (is_test) {
    /* asked from a test file: the tests go into it */
    c.target = xstrdup(c.rel);
    buf_printf(&c.placement, "%s is itself a test file: add to it", c.rel);
  } else {
    switch (c.lang) {
    case LANG_GO:
      tc_place_go(&c);
      break;
    case LANG_RUST:
      tc_place_rust(&c);
      break;
    case LANG_JAVA:
      tc_place_java(&c);
      break;
    case LANG_UNKNOWN:
    case LANG__COUNT:
      c.target = tc_make_name("tests", &tc_py_styles[0], c.stem, c.src_ext);
      buf_puts(&c.placement, "no test conventions known for this file type: ");
      buf_puts(&c.placement, c.target);
      break;
    default:
      tc_place_generic(&c);
      break;
    }
  }
  out->root = xstrdup(c.root);
  out->test_path = path_join(c.root, c.target);
  out->exists = path_is_file(out->test_path);
  out->framework = c.fw ? xstrdup(c.fw) : NULL;
  tc_choose_sample(&c, out->exists);
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
  if (c.lang == LANG_GO && out->sample && tc_go_table_driven(out->sample)) {
    buf_puts(&why, "; table-driven style");
  }
  if (c.tree.timed_out) {
    buf_printf(&why, " (scan stopped after %d s)", TC_MAX_WALK_MS / 1000);
  } else if (c.tree.truncated) {
    buf_printf(&why, " (scan stopped at %d entries)", TC_MAX_ENTRIES);
  }
  out->why = one_line(&why);

  for (size_t i = 0; i < c.ntests; i++) {
    tc_test_free(&c.tests[i]);
  }
  free(c.tests);
  for (size_t i = 0; i < c.nheads; i++) {
    free(c.heads[i]);
  }
  free(c.heads);
  tc_tree_free(&c.tree);
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
