/* prompt: the thorough single-step instruction for each action, and the checks that the
 * model's answer has the shape the action asked for.
 *
 * Every prompt follows the same rules (doc/frugal.txt, |frugal-prompts|): one focused task, a
 * specific output format a program can check, the context provided, a clear scope, and what
 * not to do. The text is laid out for provider prompt caches: `system` (role, rules, output
 * format; identical for every request of one action) and `context` (file-level context: imports,
 * class header, types, signatures; identical across requests on the same file and action while
 * the file's context does not change) come first, `task` (the scope's code, diagnostics, the
 * instruction, the cursor) last. */
#ifndef FRUGAL_PROMPT_PROMPT_H
#define FRUGAL_PROMPT_PROMPT_H

#include <stddef.h>

#include "context/lang.h"
#include "context/package.h"

typedef enum {
  PROMPT_OUT_MARKDOWN = 0, /* explain, ask, design, ...: free markdown, streamed to a window */
  PROMPT_OUT_REPLACE,      /* fix, refactor, docs, implement: one fenced code block that
                              replaces the scope's lines exactly */
  PROMPT_OUT_REVIEW,       /* review: one finding per line, "LINE: message" */
  PROMPT_OUT_TESTS,        /* tests: one fenced code block: the whole new test file, or the
                              block to append to the existing one */
  PROMPT_OUT_EDITS,        /* refactor-files: SEARCH/REPLACE blocks (edit/blocks.h) over the
                              files sent, checked by the service layer (service/multifile.h),
                              not by prompt_parse_answer */
} prompt_output;

typedef struct {
  const char *action;      /* a route_actions name */
  const char *instruction; /* free text from the user (refactor, ask, ...); may be NULL */
  const char *path;        /* the file, as the user sees it (relative to the project) */
  lang_id lang;
  const pkg_result *pkg;   /* the focused package: items[0] is the scope */
  /* tests only (NULL/0 otherwise): */
  const char *test_framework; /* "pytest", "jest", "go test", "cmocka", ... or NULL */
  const char *test_path;      /* the target test file, relative to the project */
  int test_file_exists;       /* 1: the answer is a block appended to test_path */
  const char *test_sample;    /* the first lines of an existing test file, for style; or NULL */
  const char *test_sample_path;
} prompt_request;

typedef struct {
  char *system;  /* owned */
  char *context; /* owned; "" when the package has no context items */
  char *task;    /* owned */
  prompt_output output;
} prompt;

/* Builds the prompt. Returns 0, or -1 with a message in `err` (unknown action, missing
 * package). Free with prompt_free(). */
int prompt_build(const prompt_request *req, prompt *out, char *err, size_t errlen);
void prompt_free(prompt *p);
/* The output kind an action asks for. */
prompt_output prompt_output_for(const char *action);
/* "markdown", "replace", "review" or "tests" (static storage): the kind's name in results. */
const char *prompt_output_name(prompt_output o);

typedef struct {
  int line;      /* 1-based, in the file */
  char *message; /* owned */
} prompt_finding;

typedef struct {
  int ok;            /* 1: the answer has the required shape */
  char *problem;     /* owned, when !ok: what is wrong, in words fit for the user and for a
                        retry prompt ("no fenced code block in the answer") */
  char *replacement; /* REPLACE and TESTS: the code, without fences, ending with a newline */
  prompt_finding *findings; /* REVIEW */
  size_t nfindings;
} prompt_answer;

/* Checks and extracts an answer. For REPLACE the code must be exactly one fenced block (extra
 * prose around it is allowed and ignored); brackets must balance outside strings and comments
 * (using the scanner's lexer rules for `lang`). For REVIEW each finding's line must lie within
 * [scope_start, scope_end]; other lines of prose are ignored; "no findings" is a valid answer.
 * For TESTS exactly one fenced block. Returns 0 (and fills `out`, free with
 * prompt_answer_free) even when the answer is invalid (out->ok = 0 with a problem). */
int prompt_parse_answer(prompt_output kind, lang_id lang, const char *text, size_t len,
                        int scope_start, int scope_end, prompt_answer *out);
void prompt_answer_free(prompt_answer *a);

#endif
