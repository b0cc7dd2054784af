/* testconv: how a project writes its tests, discovered from its files, so the `tests` action
 * extends the project's own suite instead of inventing one.
 *
 * From the source file, it finds the project root (the nearest ancestor holding .git, or a
 * build/package manifest: CMakeLists.txt, Makefile, package.json, pyproject.toml, setup.py,
 * go.mod, Cargo.toml, pom.xml, build.gradle, *.rockspec, .busted), the framework in use and
 * the conventions (test folders and file naming), then chooses the target test file for the
 * source file and reads a short sample of an existing test file for style. File system access
 * is bounded (depth and file count limits) so a huge tree cannot stall the host. */
#ifndef FRUGAL_CONTEXT_TESTCONV_H
#define FRUGAL_CONTEXT_TESTCONV_H

#include <stddef.h>

#include "context/lang.h"

typedef struct {
  char *root;         /* owned: the project root (absolute) */
  char *framework;    /* owned: "pytest", "unittest", "jest", "vitest", "mocha", "go test",
                         "cargo test", "busted", "cmocka", "criterion", "ctest", "junit", ...
                         or NULL when nothing was found */
  char *test_path;    /* owned: the target test file (absolute) */
  int exists;         /* 1 if test_path exists (the proposal appends to it) */
  char *sample_path;  /* owned: an existing test file used as a style sample, or NULL */
  char *sample;       /* owned: its first lines (at most ~60 lines / 3 KB), or NULL */
  char *why;          /* owned: one line saying how this was decided, for the preview */
} testconv;

/* Discovers the conventions for tests of `source_path` (absolute or relative to the current
 * directory) written in `lang`. `function` is the name of the function under test (used in
 * naming when a project puts one test file per function; may be NULL). Returns 0 and fills
 * `out` (free with testconv_free), or -1 with a message when the path cannot be resolved. */
int testconv_discover(const char *source_path, lang_id lang, const char *function, testconv *out,
                      char *err, size_t errlen);
void testconv_free(testconv *t);

#endif
