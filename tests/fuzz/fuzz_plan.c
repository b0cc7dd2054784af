/* libFuzzer target for the plan's line format (native/service/plan_steps.c): arbitrary bytes as
 * a plan text (a model's answer or an edited plan buffer). Any violated invariant aborts.
 *
 * Invariants: a parse either fails with a message and no steps, or gives steps numbered 1..N in
 * order, each either valid (a step action, a blank-free non-empty path, a line >= 0, a
 * non-empty instruction) or carrying a one-line problem; the JSON always dumps; the valid steps
 * written back as "N. ACTION PATH[:LINE] - instruction" lines parse to the same steps. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/plan_steps.h"
#include "util/buf.h"

static void check(int ok)
{
  if (!ok) {
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  plan_steps s;
  char err[600];
  err[0] = '\0';
  if (plan_steps_parse((const char *)data, size, &s, err, sizeof(err)) != 0) {
    check(err[0] != '\0' && s.count == 0 && !s.steps);
    return 0;
  }
  check(s.count <= PLAN_STEPS_MAX);
  buf_t back = BUF_INIT;
  size_t nvalid = 0;
  for (size_t i = 0; i < s.count; i++) {
    const plan_step *st = &s.steps[i];
    check(st->n == (int)i + 1);
    check(st->line >= 0);
    if (st->problem) {
      check(*st->problem && !strchr(st->problem, '\n'));
      continue;
    }
    check(plan_steps_action_ok(st->action));
    check(st->path && *st->path && !strpbrk(st->path, " \t\n"));
    check(st->instruction && *st->instruction && !strchr(st->instruction, '\n'));
    buf_printf(&back, "%zu. %s %s", ++nvalid, st->action, st->path);
    if (st->line > 0) {
      buf_printf(&back, ":%d", st->line);
    }
    buf_printf(&back, " - %s\n", st->instruction);
  }
  json_t *j = plan_steps_json(&s, 1);
  char *dump = json_dumps(j, JSON_COMPACT);
  check(dump != NULL);
  free(dump);
  json_decref(j);
  plan_steps again;
  check(plan_steps_parse(back.data ? back.data : "", back.len, &again, err, sizeof(err)) == 0);
  check(again.count == nvalid);
  size_t k = 0;
  for (size_t i = 0; i < s.count; i++) {
    const plan_step *st = &s.steps[i];
    if (st->problem) {
      continue;
    }
    const plan_step *a = &again.steps[k++];
    check(!a->problem && strcmp(a->action, st->action) == 0 && strcmp(a->path, st->path) == 0 &&
          a->line == st->line && strcmp(a->instruction, st->instruction) == 0);
  }
  plan_steps_free(&again);
  buf_free(&back);
  plan_steps_free(&s);
  return 0;
}
