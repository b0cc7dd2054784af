/* plan_store: the plans of a project kept on disk, so that a plan interrupted (Neovim closed, a
 * failed step, `frugal run plan --execute` stopped) resumes without paying for its finished steps
 * again. One file per project, beside the ledger: <state>/frugal/plans/<hash of the root>.json,
 * holding the project's latest plan:
 *
 *   {"version": 1, "root", "goal", "task_id", "planner": the plan call's result | null,
 *    "steps": [{"n", "action", "path", "line" | null, "instruction",
 *               "status": "pending"|"applied"|"proposed"|"failed"|"skipped",
 *               "tier" | null, "model" | null, "cost_usd" | null, "problem" | null,
               "shift": {"after", "delta"} | null (an applied edit moved the lines below
               `after` of PATH by `delta`)}]}
 *
 * Written atomically (a temporary file in the same folder, fsync, rename), so a reader sees the
 * old plan or the new one, never a mix. Everything here waits on the disk: never on the host's
 * loop. */
#ifndef FRUGAL_SERVICE_PLAN_STORE_H
#define FRUGAL_SERVICE_PLAN_STORE_H

#include <jansson.h>
#include <stddef.h>

/* The store's file for the project at `root` into out[0..n). Returns 0, or -1 when no state
 * directory can be found (no HOME) or the path does not fit. */
int plan_store_path(const char *root, char *out, size_t n);

/* Reads the stored plan at `path`. Returns it (a new reference) when the file holds a valid
 * plan; NULL with err "" when there is none, or NULL with a one-line message in `err` naming
 * the file and what is wrong with it (a damaged store is reported, never trusted). */
json_t *plan_store_load(const char *path, char *err, size_t errlen);

/* Writes `plan` to `path` atomically, creating the folders above it (mode 0700). Returns 0, or
 * -1 with a one-line message in `err` (the old file is then unchanged). */
int plan_store_save(const char *path, const json_t *plan, char *err, size_t errlen);

/* NULL when `plan` has the shape above, else what is wrong with it ("a step's status is
 * unknown"). */
const char *plan_store_check(const json_t *plan);

/* 1 when `status` is one a stored step may have. */
int plan_store_status_ok(const char *status);

#endif
