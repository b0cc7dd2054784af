/* project_int: what the files of native/project share (private: nothing outside the folder
 * includes it). testconv_discover (testconv.c) runs the jobs in order:
 *   root.c        the project root: the nearest folder with a marker or a build file
 *   walk.c        a bounded, breadth-first walk of the root (depth, entries, time)
 *   tests.c       which files of the walk are tests, in which style; the discovery state
 *   frameworks.c  the test framework per language, with the evidence
 *   placement.c   where the new test goes and the sample shown to the model
 *   common.c      small string and project-relative file helpers */
#ifndef FRUGAL_PROJECT_PROJECT_INT_H
#define FRUGAL_PROJECT_PROJECT_INT_H

#include <stddef.h>
#include <sys/stat.h>
#include <time.h>

#include "project/testconv.h"
#include "util/buf.h"
#include "util/file.h"
#include "util/path.h"

/* Bounds on the file system work: a monorepo or a home directory taken for a root must cost
 * milliseconds, not a walk of the whole disk. */
#define TC_MAX_DEPTH 6
#define TC_MAX_ENTRIES 5000
/* A walk on a slow or huge file system stops after this long, whatever it has seen. */
#define TC_MAX_WALK_MS 2000
#define TC_MANIFEST_MAX 65536
/* Imports and #includes sit at the top of a test file. */
#define TC_SNIFF_MAX 16384
#define TC_SNIFF_FILES 64
/* A Rust tests module sits at the end of its file. */
#define TC_RUST_SOURCE_MAX (1024 * 1024)
#define TC_RUST_CRATE_MAX (256 * 1024)
#define TC_SAMPLE_LINES 60
#define TC_SAMPLE_BYTES 3072
#define TC_SAMPLE_TRIES 8
#define TC_FUNCTION_MAX 100
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

typedef struct {
  char **v;
  size_t n, cap;
} tc_strs;

typedef struct {
  dev_t dev;
  ino_t ino;
} tc_id;

typedef struct {
  const char *root;
  tc_strs files; /* regular files, relative to root, breadth-first and sorted per folder */
  tc_strs dirs;  /* folders, relative ("" is the root), in walk order */
  int *depth;    /* parallel to dirs */
  tc_id *seen;
  size_t nseen, capseen;
  tc_strs linked; /* folders reached through a symlink, walked after the real ones */
  int *linked_depth;
  size_t entries;
  int truncated;    /* stopped at TC_MAX_ENTRIES */
  int timed_out;    /* stopped at TC_MAX_WALK_MS */
  struct timespec started;
} tc_tree;

/* A file name convention: prefix + subject + suffix + extension. */
typedef struct {
  const char *prefix;
  const char *suffix;
} tc_style;

typedef enum {
  TC_PLAIN_NEVER,    /* only affixed names are tests */
  TC_PLAIN_TEST_DIR, /* any file in a test folder is a test (C) */
  TC_PLAIN_JS,       /* any script directly in __tests__ */
  TC_PLAIN_RUST,     /* tests/<name>.rs: a cargo integration test */
} tc_plain;

typedef struct {
  const char *const *exts;
  const tc_style *styles;
  size_t nstyles;
  tc_plain plain;
} tc_profile;

typedef enum { TC_TREE, TC_SIDECAR, TC_BESIDE } tc_place;

typedef struct {
  const char *rel; /* borrowed from the tree */
  char *dir;       /* relative folder, "" at the root */
  char *subject;   /* the name with the test affixes and extension removed */
  const char *ext;
  size_t style; /* index into the profile's styles; == nstyles for a plain name */
  tc_place place;
  char *troot; /* TC_TREE: the path down to the first test folder ("tests", "src/test") */
  char *sub;   /* TC_TREE: the rest of the folder below troot ("" when directly in it) */
} tc_test;

typedef struct {
  lang_id lang;
  const tc_profile *prof;
  char *root;
  char *src;       /* absolute */
  const char *rel; /* the source relative to root (into src) */
  char *src_dir;   /* relative, "" at the root */
  char *stem;
  const char *src_ext; /* into src */
  const char *function;
  tc_tree tree;
  tc_test *tests;
  size_t ntests;
  char **heads; /* the first bytes of the first TC_SNIFF_FILES tests, read once */
  size_t nheads;
  const char *fw;
  buf_t evidence;
  char *target; /* relative to root */
  buf_t placement;
  /* a sample decided by the placement (Rust's tests module), else chosen afterwards */
  char *sample_rel;
  char *sample_text;
  int sample_decided; /* the placement chose the sample (or that there is none) */
} tc_ctx;

extern const char *const tc_js_exts[];
extern const char *const tc_c_exts[];
extern const tc_style tc_js_styles[];
extern const tc_style tc_go_styles[];
extern const tc_style tc_java_styles[];
extern const tc_style tc_plain_style;
extern const tc_style tc_py_styles[];
extern const tc_profile tc_profiles[LANG__COUNT];

void tc_strs_push(tc_strs *s, char *owned);

void tc_strs_free(tc_strs *s);

int tc_cmp_str(const void *a, const void *b);

int tc_starts_with(const char *s, const char *p);

int tc_ends_with(const char *s, const char *suf);

int tc_rel_is_dir(const char *root, const char *rel);

int tc_rel_is_file(const char *root, const char *rel);

/* file_read_prefix() of a file of the project, refused when a link leads out of the root. */
char *tc_read_in_root(const char *root, const char *rel, size_t max, size_t *len, int *complete);

char *tc_read_rel(const char *root, const char *rel, size_t max);

/* The first lines of `data` within the sample bounds, cut at a line end; NULL when nothing
 * fits or the bytes are not text. Caller frees. */
char *tc_excerpt(const char *data, size_t len, int complete);

/* `w` as a whole word in `s` (letters, digits and '_' make words). */
int tc_has_word(const char *s, const char *w);

int tc_dir_has(const char *dir, const char *name);

/* The nearest ancestor of `dir` (inclusive) holding a marker, else `dir`. Caller frees. */
char *tc_find_root(const char *dir);

/* Breadth first, so that when a bound stops the walk the shallow folders (where tests and
 * manifests live) have been seen. Folders behind symlinks come in later rounds, each folder
 * once (by device and inode), which also ends loops. */
void tc_tree_walk(tc_tree *t, const char *root);

void tc_tree_free(tc_tree *t);

int tc_tree_has_dir_named(const tc_tree *t, const char *name);

const tc_style *tc_style_of(const tc_profile *p, size_t i);

int tc_classify(const tc_profile *prof, const char *rel, tc_test *out);

void tc_test_free(tc_test *t);

void tc_collect_tests(tc_ctx *c);

/* Reads the first bytes of up to TC_SNIFF_FILES test files and counts those containing any
 * of the NULL-terminated needles. */
size_t tc_count_tests_with(tc_ctx *c, const char *const *needles);

int tc_manifest_has(tc_ctx *c, const char *name, const char *needle);

const char *tc_plural(size_t n);

void tc_detect_framework(tc_ctx *c);

/* dir/prefix + subject + suffix + ext. Caller frees. */
char *tc_make_name(const char *dir, const tc_style *s, const char *subject, const char *ext);

/* A valid identifier can go into a file name. */
int tc_usable_function(const char *f);

/* Python, JavaScript/TypeScript, Lua, C and C++: follow where and how the existing tests are
 * named. */
void tc_place_generic(tc_ctx *c);

/* Maven/Gradle: src/main/java/<package>/Foo.java is tested by src/test/java/<package>/FooTest.java
 */
void tc_place_java(tc_ctx *c);

int tc_go_table_driven(const char *text);

void tc_place_go(tc_ctx *c);

void tc_place_rust(tc_ctx *c);

void tc_choose_sample(tc_ctx *c, int exists);

#endif
