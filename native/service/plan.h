/* action: turns one request (an action at a cursor in a file) into its focused package and
 * routing decision. Shared by the RPC host and the command line, so both report the same
 * figures. Results are Jansson objects: the CLI prints them as JSON, the host packs them as
 * msgpack. */
#ifndef FRUGAL_SERVICE_PLAN_H
#define FRUGAL_SERVICE_PLAN_H

#include <jansson.h>
#include <stddef.h>

#include "config/config.h"
#include "context/package.h"
#include "project/testconv.h"
#include "prompt/prompt.h"
#include "route/route.h"
#include "service/mapshare.h"
#include "util/text.h"

typedef struct {
  const char *path;      /* file name, for display and language detection; may be NULL */
  const char *language;  /* editor filetype or language name; NULL/"" to detect from path */
  const char *action;    /* a route_actions name */
  int line;              /* cursor, 1-based */
  int col;               /* 1-based, 0 if unknown */
  int sel_start;         /* selection lines, 0 when none */
  int sel_end;
  int hint_start;        /* the editor's tree-sitter range of the function at the cursor */
  int hint_end;          /* (1-based lines), 0 when none: see pkg_request */
  int nfiles;            /* files in scope, counting this one (>= 1) */
  int forced_tier;       /* -1 or a tier_id */
  const pkg_diag *diags;
  size_t ndiags;
  const char *instruction; /* the user's text (refactor, ask, ...); may be NULL */
  int budget_override;     /* run even past a budget (budget=ignore / --over-budget) */
  const char *const *files; /* other files in scope (multi-file actions), read from disk and
                               sent whole as "file" items while the tier's budget allows */
  size_t nfile_paths;
  const char *ledger_path; /* overrides the config's ledger.path (frugal run --ledger); NULL */
  int repo_map;            /* add the project's repo map for multi-file actions (it walks the
                              project synchronously: off the host's loop only) */
  plan_mapshare *mapshare; /* the repo map's cache, shared under a lock (the host); NULL: the
                              project's file cache (the CLI) */
  /* Per other file (files[i]), both optional (NULL: none given): */
  const char *const *file_texts; /* the editor's text of an unsaved buffer, sent instead of the
                                    disk's; a NULL entry reads the disk */
  const size_t *file_text_lens;
  const unsigned char *file_from_set; /* 1: the file came from a set (buffers, args, quickfix,
                                         changed), 0: named one by one. A file from a set
                                         outside the project is left out (named in the
                                         context's "left_out"); a named one is sent */
  const char *task_id;     /* the ledger task the run's calls belong to (a plan's steps share
                              the plan's); NULL: a new task */
  const char *ledger_action; /* the action the ledger records (a plan's steps: "plan"); NULL:
                                `action` */
} action_request;

/* One piece of a big file reviewed on Mini in pieces (service/chunks.c): whole top-level
 * definitions, lines start_line..end_line of the file, with its own package (the file's
 * imports and the types the lines use) and prompt. */
typedef struct {
  int start_line;
  int end_line;
  pkg_result pkg;
  prompt prompt;
  long input_tokens; /* the prompt's estimate */
} action_chunk;

/* A request's package, routing decision and prompt. `text` indexes the caller's bytes
 * (borrowed: keep them alive and unchanged while the plan lives). */
typedef struct {
  text_t text;
  lang_id lang;
  pkg_result pkg;
  route_decision route; /* input_tokens is the real prompt's estimate */
  prompt prompt;
  testconv tests;       /* `tests` only, when has_tests */
  int has_tests;
  char *root;           /* the project the prompt's paths are relative to (the test
                           conventions' root, else the current directory); NULL if unknown */
  char *path_sent;      /* the file's path as the prompt names it; NULL if unknown */
  json_t *left_out;     /* other files in scope that were not sent: [{"path", "tokens",
                           "why": "budget"|"outside the project"}]; owned */
  action_chunk *chunks; /* review of a file over Mini's budget: the pieces, each reviewed on
                           Mini in turn (route says mini; its estimate is for all of them);
                           NULL otherwise */
  size_t nchunks;
} action_plan;

/* Packages and routes `req` over text[0..len), then, when `with_prompt`, writes the prompt
 * (finding the project's test conventions for `tests`), so the estimate counts exactly what
 * would be sent; without it the estimate counts the package plus the action's typical
 * instructions (for callers that only report the package). Returns 0
 * (free with action_plan_free), or -1 with a one-line message (unknown action, cursor outside
 * the file, a question missing for `ask`). */
int action_plan_build(const frugal_config *cfg, const action_request *req, const char *text,
                      size_t len, int with_prompt, action_plan *out, char *err, size_t errlen);
void action_plan_free(action_plan *p);
/* The "context" and "route" objects (the context also lists "left_out", see action_plan) of doc/frugal.txt |frugal-rpc| (new references). */
json_t *action_context_json(const action_request *req, const action_plan *plan, int with_text);
json_t *action_route_json(const action_plan *plan);

/* Parts of the result to build. */
enum { ACTION_CONTEXT = 1, ACTION_ROUTE = 2, ACTION_ITEM_TEXT = 4 };

/* Packages and routes `req` over text[0..len). On success returns 0 and sets *out to a new
 * object (caller json_decref()s it) holding "context" and/or "route" as selected by `parts`
 * (see doc/frugal.txt for their fields). On bad input (unknown action, cursor outside the file)
 * returns -1 with a one-line message in `err`. */
int action_preview(const frugal_config *cfg, const action_request *req, const char *text,
                   size_t len, int parts, json_t **out, char *err, size_t errlen);

/* A JSON string of s[0..n); invalid UTF-8 sequences become U+FFFD so the result is always
 * valid JSON text. Returns a new reference. */
json_t *action_json_text(const char *s, size_t n);

#endif
