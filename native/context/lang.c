#include "context/lang.h"

#include <string.h>
#include <strings.h>

typedef struct {
  const char *key;
  lang_id lang;
} lang_key;

/* Extensions are matched case-insensitively except where case carries meaning (".C" and ".H"
 * are C++ by convention, ".c" and ".h" are C). */
static const lang_key lang_exts[] = {
  {"c", LANG_C},          {"h", LANG_C},           {"cc", LANG_CPP},       {"cpp", LANG_CPP},
  {"cxx", LANG_CPP},      {"c++", LANG_CPP},       {"hh", LANG_CPP},       {"hpp", LANG_CPP},
  {"hxx", LANG_CPP},      {"h++", LANG_CPP},       {"ipp", LANG_CPP},      {"tpp", LANG_CPP},
  {"inl", LANG_CPP},      {"cu", LANG_CPP},        {"cuh", LANG_CPP},      {"ixx", LANG_CPP},
  {"py", LANG_PYTHON},    {"pyi", LANG_PYTHON},    {"pyw", LANG_PYTHON},   {"js", LANG_JAVASCRIPT},
  {"mjs", LANG_JAVASCRIPT}, {"cjs", LANG_JAVASCRIPT}, {"jsx", LANG_JAVASCRIPT},
  {"ts", LANG_TYPESCRIPT}, {"mts", LANG_TYPESCRIPT}, {"cts", LANG_TYPESCRIPT},
  {"tsx", LANG_TYPESCRIPT}, {"go", LANG_GO},       {"rs", LANG_RUST},      {"java", LANG_JAVA},
  {"lua", LANG_LUA},
};

static const lang_key lang_names[] = {
  {"c", LANG_C},
  {"cpp", LANG_CPP},
  {"c++", LANG_CPP},
  {"cxx", LANG_CPP},
  {"cuda", LANG_CPP},
  {"python", LANG_PYTHON},
  {"python3", LANG_PYTHON},
  {"javascript", LANG_JAVASCRIPT},
  {"javascriptreact", LANG_JAVASCRIPT},
  {"js", LANG_JAVASCRIPT},
  {"jsx", LANG_JAVASCRIPT},
  {"typescript", LANG_TYPESCRIPT},
  {"typescriptreact", LANG_TYPESCRIPT},
  {"ts", LANG_TYPESCRIPT},
  {"tsx", LANG_TYPESCRIPT},
  {"go", LANG_GO},
  {"rust", LANG_RUST},
  {"java", LANG_JAVA},
  {"lua", LANG_LUA},
};

static const char *const lang_display[LANG__COUNT] = {
  [LANG_UNKNOWN] = "text",         [LANG_C] = "c",       [LANG_CPP] = "cpp",
  [LANG_PYTHON] = "python",        [LANG_JAVASCRIPT] = "javascript",
  [LANG_TYPESCRIPT] = "typescript", [LANG_GO] = "go",    [LANG_RUST] = "rust",
  [LANG_JAVA] = "java",            [LANG_LUA] = "lua",
};

lang_id lang_from_path(const char *path)
{
  if (!path) {
    return LANG_UNKNOWN;
  }
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  const char *dot = strrchr(base, '.');
  /* A leading dot names a hidden file (".c" is not a C file), not an extension. */
  if (!dot || dot == base || dot[1] == '\0') {
    return LANG_UNKNOWN;
  }
  const char *ext = dot + 1;
  if (strcmp(ext, "C") == 0 || strcmp(ext, "H") == 0) {
    return LANG_CPP;
  }
  for (size_t i = 0; i < sizeof(lang_exts) / sizeof(lang_exts[0]); i++) {
    if (strcasecmp(ext, lang_exts[i].key) == 0) {
      return lang_exts[i].lang;
    }
  }
  return LANG_UNKNOWN;
}

lang_id lang_from_name(const char *name)
{
  if (!name) {
    return LANG_UNKNOWN;
  }
  for (size_t i = 0; i < sizeof(lang_names) / sizeof(lang_names[0]); i++) {
    if (strcasecmp(name, lang_names[i].key) == 0) {
      return lang_names[i].lang;
    }
  }
  return LANG_UNKNOWN;
}

const char *lang_name(lang_id lang)
{
  if ((int)lang < 0 || lang >= LANG__COUNT) {
    return "text";
  }
  return lang_display[lang];
}
