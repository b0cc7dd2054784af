/* plan_steps: the steps of a plan (`frugal run plan`, the editor's plan buffer, an edited plan
 * file), one line each:
 *
 *   N. ACTION PATH[:LINE] - instruction
 *
 * ACTION is one of implement, fix, refactor, docs, tests, review, explain; PATH a file of the
 * project, relative to its root (or absolute inside it); LINE, when given, a line of that file
 * inside the function to work on. Blank lines, lines starting with '#' (comments; "# goal: TEXT"
 * names the goal) and, in a model's answer, a fence line (```) are not steps. Steps are
 * numbered by their order in the text: the number written only has to be a number, so a user
 * may reorder, delete or add lines without renumbering.
 *
 * Parsing never fails on a malformed line: the line becomes a step whose `problem` says what is
 * wrong with it, so the editor can mark it and a run stops there. plan_steps_validate then looks
 * at the disk (a PATH outside the project, a LINE past the end of the file). */
#ifndef FRUGAL_SERVICE_PLAN_STEPS_H
#define FRUGAL_SERVICE_PLAN_STEPS_H

#include <jansson.h>
#include <stddef.h>

typedef struct {
  int n;             /* 1-based position among the steps */
  int text_line;     /* the line of the plan text it was read from, 1-based */
  char action[16];   /* "" when the line has none that is valid */
  char *path;        /* owned; NULL when missing */
  int line;          /* 0 when the step gives none */
  char *instruction; /* owned; NULL when missing */
  char *problem;     /* owned; NULL for a valid step, else one line saying why it cannot run */
} plan_step;

typedef struct {
  plan_step *steps;
  size_t count;
  char *goal;        /* owned; from a "# goal:" comment, NULL when none */
} plan_steps;

/* Reads the steps of text[0..len). Returns 0 with `out` filled (free with plan_steps_free; it
 * may hold no step), or -1 with a message in `err` when the text itself cannot be a plan (a NUL
 * byte, invalid UTF-8, more than PLAN_STEPS_MAX steps); `out` is then empty. */
#define PLAN_STEPS_MAX 200
int plan_steps_parse(const char *text, size_t len, plan_steps *out, char *err, size_t errlen);
/* The same for the planner's answer: lines that do not start with a number (after a list
 * marker) are the model's prose around the list and are skipped, not steps. */
int plan_steps_parse_answer(const char *text, size_t len, plan_steps *out, char *err,
                            size_t errlen);
void plan_steps_free(plan_steps *s);

/* Marks the steps whose PATH is outside `root` (an absolute directory; symbolic links are
 * followed), names a directory or something that is not a regular file, does not exist for an
 * action that needs an existing file (all but implement), or whose LINE is past
 * the end of the file. Steps already marked are left as they are. Reads the disk: not for the
 * host's loop. Returns the number of steps marked in all. */
int plan_steps_validate(plan_steps *s, const char *root);

/* What the editor holds of a file: a loaded buffer, whose lines (not the disk's) a step's LINE
 * must lie within; such a file counts as existing even before it is written. */
typedef struct {
  const char *path; /* absolute, or relative to the root */
  long nlines;
} plan_known_file;

/* plan_steps_validate, with the files in `known` (may be NULL when `nknown` is 0) taken as the
 * editor has them. */
int plan_steps_validate_known(plan_steps *s, const char *root, const plan_known_file *known,
                              size_t nknown);

/* 1 when `action` is one a step may name. */
int plan_steps_action_ok(const char *action);

/* [{"n", "action", "path", "line" (null when none), "instruction", "problem" (null when
 * valid)}] (a new reference); `problem` is left out when `with_problem` is 0. */
json_t *plan_steps_json(const plan_steps *s, int with_problem);

#endif
