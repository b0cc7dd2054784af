/* testconv: how a project writes its tests, discovered from its files, so the `tests` action
 * extends the project's own suite instead of inventing one.
 *
 * From the source file, it finds the project root (the nearest ancestor holding .git, or a
 * build/package manifest: CMakeLists.txt, Makefile, package.json, pyproject.toml, setup.py,
 * go.mod, Cargo.toml, pom.xml, build.gradle, *.rockspec, .busted), the framework in use and
 * the conventions (test folders and file naming), then chooses the target test file for the
 * source file and reads a short sample of an existing test file for style. File system access
 * is bounded (depth and file count limits) so a huge tree cannot stall the host.
 *
 * Rules (testconv.c has the details):
 * - Root: the nearest ancestor (from the file's folder up) holding any of .git (folder or
 *   file), CMakeLists.txt, Makefile, meson.build, package.json, pyproject.toml, setup.py,
 *   setup.cfg, go.mod, Cargo.toml, pom.xml, build.gradle(.kts), *.rockspec, .busted; else the
 *   file's folder. One refinement: a folder whose only markers are CMakeLists.txt / Makefile /
 *   meson.build and whose parent has the same build file is part of the parent's build
 *   (src/CMakeLists.txt), so the search climbs while that holds.
 * - Walk: breadth first from the root, folders down to 6 levels below it, at most 5,000
 *   entries, sorted per folder; skips hidden folders (.git, .venv, ...), node_modules, build*,
 *   target, dist, vendor, venv, __pycache__; follows a symlink only when it resolves inside the
 *   root, and each folder once. Manifests are read up to 64 KB, test heads up to 16 KB (the
 *   first 64 tests).
 * - Tests: files named by the language's conventions (test_x.py / x_test.py; x.test.js /
 *   x.spec.ts, any script directly in __tests__; x_test.go; tests/x.rs; XTest.java / XTests /
 *   TestX; x_spec.lua / test_x.lua; test_x.c / x_test.cc / check_x.c, or any C file in a test
 *   folder when none is affixed), outside data folders (fixtures, testdata, __mocks__, ...).
 * - Framework: Python: pytest (conftest.py, pytest.ini, pytest in pyproject.toml / setup.cfg /
 *   tox.ini / requirements*, `import pytest` in tests), else unittest (TestCase in tests),
 *   else pytest. JS/TS: package.json dependencies and scripts (vitest > jest > mocha), config
 *   files, imports in tests, else jest. Go: "go test". Rust: "cargo test". Java: "junit5" /
 *   "junit4" from imports in tests, then pom.xml / build.gradle, else junit5. Lua: "plenary"
 *   (in tests or the Makefile), else "busted". C/C++: #includes in tests (cmocka, criterion,
 *   check, unity, googletest, catch2, doctest, cunit), then CMakeLists.txt / meson.build
 *   dependency lines, Makefile -l flags, then "ctest" for bare add_test; else NULL.
 * - Target: Go: <dir>/<file>_test.go. Java: src/main/java/P/X.java -> src/test/java/P/XTest.java
 *   (package statement when not in that layout). Rust: the source file itself (exists = 1,
 *   "add to / append a #[cfg(test)] mod tests") when it or the crate has inline tests, or when
 *   there are no tests at all; tests/<module>.rs when the crate uses integration tests. Others
 *   follow the majority of existing tests: placement (a test tree, __tests__ beside the
 *   sources, or beside the sources), naming (prefix/suffix) and, in a test tree, the folder
 *   that holds tests of modules next to the source, else the mirrored source folders when the
 *   tree mirrors them (src/, lib/, lua/ stripped), else its busiest sub-folder. An existing
 *   test of the same module elsewhere, or a folder per module with one file per `function`,
 *   wins. No tests: tests/test_<m>.py, <m>.test.ts beside the file (or in __tests__ when the
 *   project has such folders), spec/<m>_spec.lua, tests/test_<m>.c (test/ when only it exists).
 * - Sample: the target when it exists, else the existing test closest to it (same folder, same
 *   test tree, a test of a neighbouring module; table-driven first for Go); for inline Rust,
 *   the tests module from its #[cfg(test)] line. At most 60 lines / 3 KB, cut at a line end;
 *   files that are not UTF-8 text are skipped.
 * - why: "<framework> (<evidence>); <pattern> like N existing tests", e.g. "pytest (conftest.py
 *   at the root); tests/unit/test_<module>.py like 12 existing tests". */
#ifndef FRUGAL_PROJECT_TESTCONV_H
#define FRUGAL_PROJECT_TESTCONV_H

#include <stddef.h>

#include "context/lang.h"

typedef struct {
  char *root;         /* owned: the project root (absolute) */
  char *framework;    /* owned: "pytest", "unittest", "jest", "vitest", "mocha", "go test",
                         "cargo test", "busted", "plenary", "cmocka", "criterion",
                         "googletest", "ctest", "junit5", "junit4", ... or NULL when nothing
                         was found */
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
