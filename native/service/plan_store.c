/* plan_store: the project's latest plan as a JSON file, written atomically. */
#include "service/plan_store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ledger/ledger.h"
#include "service/plan_steps.h"
#include "util/buf.h"
#include "util/file.h"

#define PLAN_STORE_MAX ((size_t)4 << 20)

int plan_store_path(const char *root, char *out, size_t n)
{
  char ledger[4096];
  if (ledger_default_path(ledger, sizeof(ledger))) {
    return -1;
  }
  char *slash = strrchr(ledger, '/');
  if (!slash) {
    return -1;
  }
  *slash = '\0'; /* the state directory */
  uint64_t h = 1469598103934665603u;
  for (const char *p = root; *p; p++) {
    h = (h ^ (unsigned char)*p) * 1099511628211u;
  }
  int len = snprintf(out, n, "%s/plans/%016llx.json", ledger, (unsigned long long)h);
  return len < 0 || (size_t)len >= n ? -1 : 0;
}

int plan_store_status_ok(const char *status)
{
  static const char *const ok[] = {"pending", "applied", "proposed", "failed", "skipped"};
  for (size_t i = 0; status && i < sizeof(ok) / sizeof(ok[0]); i++) {
    if (strcmp(status, ok[i]) == 0) {
      return 1;
    }
  }
  return 0;
}

static int str_or_null(const json_t *v)
{
  return !v || json_is_null(v) || json_is_string(v);
}

/* Checks one stored step; returns NULL or what is wrong. */
static const char *bad_step(const json_t *s, size_t i)
{
  if (!json_is_object(s)) {
    return "a step is not an object";
  }
  const json_t *n = json_object_get(s, "n"), *line = json_object_get(s, "line");
  if (!json_is_integer(n) || json_integer_value(n) != (json_int_t)i + 1) {
    return "a step's n is not its position";
  }
  if (!json_is_string(json_object_get(s, "action")) ||
      !plan_steps_action_ok(json_string_value(json_object_get(s, "action")))) {
    return "a step's action is not a step action";
  }
  if (!json_is_string(json_object_get(s, "path")) ||
      !json_is_string(json_object_get(s, "instruction"))) {
    return "a step has no path or instruction";
  }
  if (!json_is_null(line) && !(json_is_integer(line) && json_integer_value(line) > 0 &&
                               json_integer_value(line) < (1 << 30))) {
    return "a step's line is not a positive number or null";
  }
  if (!plan_store_status_ok(json_string_value(json_object_get(s, "status")))) {
    return "a step's status is unknown";
  }
  const json_t *cost = json_object_get(s, "cost_usd");
  if (cost && !json_is_null(cost) && !(json_is_number(cost) && json_number_value(cost) >= 0 &&
                                       json_number_value(cost) < 1e6)) {
    return "a step's cost_usd is not a price";
  }
  const json_t *tokens = json_object_get(s, "tokens");
  if (tokens && !json_is_null(tokens) &&
      !(json_is_integer(tokens) && json_integer_value(tokens) >= 0 &&
        json_integer_value(tokens) < ((json_int_t)1 << 40))) {
    return "a step's tokens is not a count";
  }
  const json_t *shift = json_object_get(s, "shift");
  if (shift && !json_is_null(shift) &&
      !(json_is_object(shift) && json_is_integer(json_object_get(shift, "after")) &&
        json_is_integer(json_object_get(shift, "delta")) &&
        json_integer_value(json_object_get(shift, "after")) >= 0 &&
        json_integer_value(json_object_get(shift, "after")) < (1 << 30) &&
        json_integer_value(json_object_get(shift, "delta")) > -(1 << 30) &&
        json_integer_value(json_object_get(shift, "delta")) < (1 << 30))) {
    return "a step's shift is not {after, delta}";
  }
  if (!str_or_null(json_object_get(s, "tier")) || !str_or_null(json_object_get(s, "model")) ||
      !str_or_null(json_object_get(s, "problem"))) {
    return "a step's tier, model or problem is not a string";
  }
  return NULL;
}

const char *plan_store_check(const json_t *o)
{
  const char *why = NULL;
  if (!json_is_object(o) || json_integer_value(json_object_get(o, "version")) != 1) {
    why = "not a version 1 plan";
  } else if (!json_is_string(json_object_get(o, "root")) ||
             !json_is_string(json_object_get(o, "task_id")) ||
             strlen(json_string_value(json_object_get(o, "task_id"))) >= LEDGER_ID_SIZE ||
             !str_or_null(json_object_get(o, "goal"))) {
    why = "its root, goal or task_id is missing";
  } else if (!json_is_array(json_object_get(o, "steps")) ||
             json_array_size(json_object_get(o, "steps")) > PLAN_STEPS_MAX) {
    why = "it has no steps array";
  } else {
    const json_t *p = json_object_get(o, "planner");
    if (p && !json_is_null(p) && !json_is_object(p)) {
      why = "its planner is not an object";
    }
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(o, "steps"), i, s) {
      if (!why) {
        why = bad_step(s, i);
      }
    }
  }
  return why;
}

json_t *plan_store_load(const char *path, char *err, size_t errlen)
{
  err[0] = '\0';
  file_contents f;
  char ferr[600];
  struct stat sb;
  if (stat(path, &sb) != 0 && errno == ENOENT) {
    return NULL;
  }
  if (file_load(&f, path, PLAN_STORE_MAX, ferr, sizeof(ferr))) {
    snprintf(err, errlen, "plan store: %s", ferr);
    return NULL;
  }
  json_error_t je;
  json_t *o = json_loadb(f.data, f.len, JSON_REJECT_DUPLICATES, &je);
  file_release(&f);
  const char *why = o ? plan_store_check(o) : "not valid JSON";
  if (why) {
    snprintf(err, errlen, "plan store %s is damaged (%s); it is ignored", path, why);
    json_decref(o);
    return NULL;
  }
  return o;
}

static int make_parents(const char *path, char *err, size_t errlen)
{
  char *p = xstrdup(path);
  int rc = 0;
  for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
    *s = '\0';
    if (s[-1] != '/' && mkdir(p, 0700) != 0 && errno != EEXIST) {
      snprintf(err, errlen, "plan store: cannot create folder '%s': %s", p, strerror(errno));
      rc = -1;
      break;
    }
    *s = '/';
  }
  free(p);
  return rc;
}

int plan_store_save(const char *path, const json_t *plan, char *err, size_t errlen)
{
  if (make_parents(path, err, errlen)) {
    return -1;
  }
  char *text = json_dumps(plan, JSON_COMPACT | JSON_REAL_PRECISION(12));
  if (!text) {
    snprintf(err, errlen, "plan store: the plan cannot be written as JSON");
    return -1;
  }
  /* One line, replaced whole: a crash leaves the old plan or the new one. */
  buf_t line = BUF_INIT;
  buf_puts(&line, text);
  buf_putc(&line, '\n');
  char werr[600];
  int rc = file_replace(path, line.data, line.len, 0600, werr, sizeof(werr));
  buf_free(&line);
  if (rc) {
    snprintf(err, errlen, "plan store: %s", werr);
  }
  free(text);
  return rc;
}
