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

/* ---- frameworks --------------------------------------------------------------------------- */

static void fw_python(tc_ctx *c)
{
  for (size_t i = 0; i < c->tree.files.n; i++) {
    const char *f = c->tree.files.v[i];
    if (strcmp(path_base(f), "conftest.py") == 0) {
      c->fw = "pytest";
      if (strchr(f, '/')) {
        char *d = path_dirname(f);
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
    if (tc_manifest_has(c, configs[i].file, configs[i].needle)) {
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
  size_t n = tc_count_tests_with(c, pytest_imports);
  if (n) {
    c->fw = "pytest";
    buf_printf(&c->evidence, "import pytest in %zu test file%s", n, tc_plural(n));
    return;
  }
  /* "from unittest import mock" is common in pytest suites: only TestCase says unittest. */
  static const char *const unittest_marks[] = {"unittest.TestCase", "unittest.main(",
                                               "from unittest import TestCase", NULL};
  n = tc_count_tests_with(c, unittest_marks);
  if (n) {
    c->fw = "unittest";
    buf_printf(&c->evidence, "unittest.TestCase in %zu test file%s", n, tc_plural(n));
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
  if (strcmp(key, "vitest") == 0 || tc_starts_with(key, "@vitest/")) {
    return "vitest";
  }
  if (strcmp(key, "jest") == 0 || strcmp(key, "ts-jest") == 0 || strcmp(key, "babel-jest") == 0 ||
      strcmp(key, "@types/jest") == 0 || tc_starts_with(key, "@jest/")) {
    return "jest";
  }
  if (strcmp(key, "mocha") == 0 || strcmp(key, "@types/mocha") == 0) {
    return "mocha";
  }
  return NULL;
}

static const char *js_script_framework(const char *cmd)
{
  if (tc_has_word(cmd, "vitest")) {
    return "vitest";
  }
  if (tc_has_word(cmd, "jest")) {
    return "jest";
  }
  if (tc_has_word(cmd, "mocha")) {
    return "mocha";
  }
  return NULL;
}

/* The strongest framework named by package.json, with where it was named. */
static const char *js_from_package(tc_ctx *c, const char **where)
{
  size_t len = 0;
  char *d = tc_read_in_root(c->root, "package.json", TC_MANIFEST_MAX, &len, NULL);
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
      if (tc_starts_with(f, configs[k].prefix)) {
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
    size_t n = tc_count_tests_with(c, imports[i].needles);
    if (n) {
      c->fw = imports[i].fw;
      if (strcmp(imports[i].what, "imported") == 0) {
        buf_printf(&c->evidence, "%s imported in %zu test file%s", c->fw, n, tc_plural(n));
      } else {
        buf_printf(&c->evidence, "%s in %zu test file%s", imports[i].what, n, tc_plural(n));
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
  size_t n5 = tc_count_tests_with(c, j5), n4 = tc_count_tests_with(c, j4);
  if (n5 || n4) {
    c->fw = n5 >= n4 ? "junit5" : "junit4";
    size_t n = n5 >= n4 ? n5 : n4;
    buf_printf(&c->evidence, "%s imports in %zu test%s",
               n5 >= n4 ? "org.junit.jupiter" : "org.junit", n, tc_plural(n));
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
    if (tc_manifest_has(c, builds[i].file, builds[i].needle)) {
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
  size_t n = tc_count_tests_with(c, plenary);
  if (n) {
    c->fw = "plenary";
    buf_printf(&c->evidence, "plenary in %zu test file%s", n, tc_plural(n));
    return;
  }
  if (tc_manifest_has(c, "Makefile", "Plenary")) {
    c->fw = "plenary";
    buf_puts(&c->evidence, "PlenaryBusted in the Makefile");
    return;
  }
  c->fw = "busted";
  if (tc_dir_has(c->root, ".busted")) {
    buf_puts(&c->evidence, ".busted at the root");
    return;
  }
  for (size_t i = 0; i < c->tree.files.n; i++) {
    const char *f = c->tree.files.v[i];
    if (!strchr(f, '/') && tc_ends_with(f, ".rockspec") && tc_manifest_has(c, f, "busted")) {
      buf_printf(&c->evidence, "busted in %s", f);
      return;
    }
  }
  if (tc_rel_is_dir(c->root, "spec")) {
    buf_puts(&c->evidence, "a spec/ folder");
    return;
  }
  for (size_t i = 0; i < c->ntests; i++) {
    if (tc_ends_with(c->tests[i].rel, "_spec.lua")) {
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
      if (tc_has_word(l, c_frameworks[i].word)) {
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
    size_t n = tc_count_tests_with(c, needles);
    if (n > best_n) {
      best_n = n, best = c_frameworks[i].fw, header = c_frameworks[i].shown;
    }
  }
  if (best) {
    c->fw = best;
    buf_printf(&c->evidence, "#include %s in %zu test file%s", header, best_n, tc_plural(best_n));
    return;
  }
  static const char *const builds[] = {"CMakeLists.txt", "meson.build"};
  for (size_t i = 0; i < N_OF(builds); i++) {
    char *d = tc_read_rel(c->root, builds[i], TC_MANIFEST_MAX);
    const char *fw = d ? c_build_framework(d) : NULL;
    free(d);
    if (fw) {
      c->fw = fw;
      buf_printf(&c->evidence, "%s in %s", fw, builds[i]);
      return;
    }
  }
  for (size_t i = 0; i < N_OF(c_frameworks); i++) {
    if (tc_manifest_has(c, "Makefile", c_frameworks[i].lib)) {
      c->fw = c_frameworks[i].fw;
      buf_printf(&c->evidence, "%s in the Makefile", c_frameworks[i].lib);
      return;
    }
  }
  if (tc_manifest_has(c, "CMakeLists.txt", "add_test") ||
      tc_manifest_has(c, "CMakeLists.txt", "enable_testing")) {
    c->fw = "ctest";
    buf_puts(&c->evidence, "add_test in CMakeLists.txt, no framework");
  }
}

void tc_detect_framework(tc_ctx *c)
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
    if (tc_dir_has(c->root, "go.mod")) {
      buf_puts(&c->evidence, "go.mod");
    }
    break;
  case LANG_RUST:
    c->fw = "cargo test";
    if (tc_dir_has(c->root, "Cargo.toml")) {
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
