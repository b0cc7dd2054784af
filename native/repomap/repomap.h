/* repomap: a ranked outline of a project (paths, then the signatures of their definitions) cut
 * to a token budget, for the multi-file actions: the Full model needs the shape of the project
 * more than the bodies of files it will not touch.
 *
 * How it is built (repomap_build, synchronous; repomap_build_async runs it on libuv's thread
 * pool so the host's loop never waits on the disk):
 *   1. walk   breadth-first from the root, directories in name order, within a file count, a
 *             depth and a time bound (the bound hit is reported). Skipped: hidden entries
 *             (.git, .venv, ...), build and vendored directories (build*, node_modules,
 *             vendor, third_party, dist, target, __pycache__, ...), what the root .gitignore
 *             names (plain and glob patterns; no negation), symlinks and other non-regular
 *             files, files of a language the scanner does not know, files over a size bound,
 *             files with a NUL byte in their first 8 KiB.
 *   2. scan   each file with the context scanner (context/scan.h): its definitions with their
 *             signature lines and the identifiers it uses. Kept in the cache per file, valid
 *             while the file's size and mtime are unchanged.
 *   3. rank   a file that uses a name another file defines is an edge to it (weighted by
 *             1/number of files defining the name); a PageRank over those edges, personalised
 *             toward the files in scope, gives each file a weight, and each definition gets the
 *             weight of the files that use its name. Names the files in scope use (and the
 *             caller's `mentions`) rank first, then by that weight.
 *   4. cut    the longest prefix of the ranking whose outline fits the budget (token estimate of
 *             core/tokens.h), found by bisection; shown by path, definitions in line order,
 *             a method under its class.
 *
 * Thread safety: a cache may be shared by builds on several threads; they take turns (the
 * cache holds a mutex for the length of a build). */
#ifndef FRUGAL_REPOMAP_REPOMAP_H
#define FRUGAL_REPOMAP_REPOMAP_H

#include <jansson.h>
#include <stddef.h>
#include <uv.h>

#include "context/package.h"
#include "util/buf.h"
#include "util/text.h"

/* Around aider's default; DESIGN.md asks for 1-4k. */
#define REPOMAP_DEFAULT_BUDGET 2048
#define REPOMAP_PLAN_BUDGET 1024

typedef struct {
  int max_files;         /* source files considered; <= 0: 20000 */
  int max_depth;         /* directory levels below the root; <= 0: 24 */
  int max_ms;            /* wall-clock bound of walk + scan in ms; <= 0: 5000 */
  size_t max_file_bytes; /* bigger files are skipped; 0: 1 MiB */
} repomap_limits;

typedef struct repomap_cache repomap_cache;

/* A new, empty cache (the host keeps one for its life). Never NULL. */
repomap_cache *repomap_cache_new(void);
void repomap_cache_free(repomap_cache *c);

/* Writes every entry of `c` to `path` (through a temporary file and a rename; the directory
 * must exist). Returns 0, or -1 with a message naming the file. */
int repomap_cache_save(repomap_cache *c, const char *path, char *err, size_t errlen);
/* Adds the entries saved in `path` that `c` does not hold (they are used like any entry: while
 * a file's size and mtime are unchanged). A missing file, another version's file or any
 * corrupt byte returns -1 with a message and leaves `c` as it was. */
int repomap_cache_load(repomap_cache *c, const char *path, char *err, size_t errlen);
/* Where the file cache of the project at `root` lives: <state>/repomap/<hash of root>.bin,
 * <state> being the directory of the default ledger (ledger/ledger.h). Returns 0, or -1 when
 * there is no state directory or `out` is too small. */
int repomap_cache_path(const char *root, char *out, size_t n);

typedef struct {
  const char *root;            /* the project directory */
  const char *const *scope;    /* files in scope (relative to root, or absolute); may be empty */
  size_t nscope;
  const char *const *mentions; /* more names to rank first (e.g. from the instruction) */
  size_t nmentions;
  int budget_tokens;           /* <= 0: REPOMAP_DEFAULT_BUDGET */
  const unsigned char *sent;   /* per scope file: 1 when it is sent whole (its definitions
                                  are left out of the map), 0 when the budget left it out (its
                                  definitions then rank first); NULL: every one is sent */
  repomap_limits limits;       /* zero fields take the defaults above */
  int connected_only;          /* 1: only the files connected to the scope (in scope, reached
                                  from it by the ranking's walk, or calling into it) and the
                                  definitions the scope or the mentions name; a file unrelated
                                  to the work is left out even when the budget has room */
} repomap_request;

typedef struct {
  char *text;        /* owned; the outline ("" when nothing fits or nothing was found) */
  int tokens;        /* estimate for text */
  int budget;        /* the budget it was cut to */
  int files_walked;  /* source files found */
  int files_scanned; /* scanned by this build */
  int files_cached;  /* taken unchanged from the cache */
  int files_shown;
  int defs_total;
  int defs_shown;
  char *bound;       /* owned; NULL, or the bound that stopped the walk ("20000 files",
                        "depth 24", "5000 ms") */
  double ms;         /* wall-clock time of the build */
} repomap_result;

/* Builds the map of req->root. Returns 0 and fills `out` (free with repomap_result_free), or -1
 * with a one-line message in `err` when the root cannot be read. A bound being hit is not an
 * error: the map covers what was walked and `bound` says why it stopped. */
int repomap_build(repomap_cache *cache, const repomap_request *req, repomap_result *out,
                  char *err, size_t errlen);
void repomap_result_free(repomap_result *r);

/* The map as a context item: {"kind": "repo_map", "label", "tokens", "text", "files",
 * "files_shown", "defs", "defs_shown", "bound"} (text only when `with_text`). New reference. */
json_t *repomap_item_json(const repomap_result *r, int with_text);

/* The directory that holds `path`'s project: the nearest ancestor with a .git, .hg, .svn or
 * .jj entry; else the current directory when `path` is inside it (and it is neither / nor
 * $HOME); else the file's own
 * directory. Returns a new absolute string, or NULL if `path` does not exist. */
char *repomap_project_root(const char *path);

/* Called on the loop thread when an async build ends: status 0 with `result` (the callee owns
 * it: free with repomap_result_free then free()), or -1 with `err` (result NULL). */
typedef void (*repomap_done_cb)(int status, repomap_result *result, const char *err,
                                void *data);

/* Starts repomap_build on libuv's thread pool; the request is copied, so the caller's strings
 * need not outlive the call; `cache` must outlive the job. Returns 0, or a negative libuv error
 * (the callback is then never called). */
int repomap_build_async(uv_loop_t *loop, repomap_cache *cache, const repomap_request *req,
                        repomap_done_cb cb, void *data);

/* Options of repomap_outline. */
typedef struct {
  const char *const *keep_whole; /* names of functions and methods whose whole text is kept
                                    (those the goal or the cursor names); a class named here
                                    still shows only its members' signatures */
  size_t nkeep;
  int type_max_lines;            /* a type (struct, class, enum) up to this many lines is kept
                                    whole (its fields are its interface); <= 0: 40 */
} repomap_outline_opts;

/* The outline of one file in scope, for a planner that writes no code: its imports, C's
 * #defines, the leading comment, and for every definition not local to a function its doc
 * comment (up to 8 lines), its signature lines and, for brace languages, its closing line;
 * short types and the definitions named in `opts` whole. Kept lines carry their line number
 * ("  12| int f(void)") so a plan can cite them; each run of left-out lines is one "...".
 * Appends to `out` and returns the estimate of what it appended (0 for an empty file). */
int repomap_outline(lang_id lang, const text_t *text, const repomap_outline_opts *opts,
                    buf_t *out);

/* The actions whose Full model gets a repo map: design, plan, refactor-files, review-all,
 * optimize. 0 for the others and NULL. */
int repomap_wanted(const char *action);

/* Appends the repo map of `path`'s project (repomap_project_root; the current directory when
 * `path` is NULL) to `pkg` as an ITEM_REPO_MAP item, with `path` and `files` as the scope (a
 * file of `files` that is not in `pkg` as an ITEM_FILE item, whole or "PATH (outline)", is
 * carried by the map instead) and the identifiers of `instruction` (may be NULL) ranked first,
 * within what is left of `budget` (<= 0: no package budget) and at most
 * REPOMAP_DEFAULT_BUDGET tokens (for `plan`, whose files in scope are outlined, the map is the
 * rest of the project connected to them, at most REPOMAP_PLAN_BUDGET tokens). `cache` may be NULL: the map then starts from the project's
 * file cache (repomap_cache_path) and saves it back when it scanned anything. Synchronous: never call
 * it on the host's loop (use repomap_build_async there). Returns 1 when the item was added, 0
 * when the action wants none or nothing fits (pkg->dropped is then counted up), -1 when the
 * project cannot be read (pkg unchanged). */
int repomap_package_add(repomap_cache *cache, const char *action, const char *path,
                        const char *const *files, size_t nfiles, const char *instruction,
                        int budget, pkg_result *pkg);

/* The bare name of a definition ("bar" of "Foo::bar" or "M.bar"): a pointer into `name`. */
const char *repomap_bare_name(const char *name);

/* The identifiers (2 characters or more) of `text` (may be NULL), in order, at most `max`, as
 * new strings the caller frees: names an instruction may give of definitions. Returns how many. */
size_t repomap_mentions(const char *text, char **names, size_t max);

#endif
