/* plan_exec: a step's focused request; the plan buffer's check. */
#include "service/plan_exec.h"

#include <stdio.h>
#include <string.h>

#include "context/lang.h"
#include "context/scan.h"
#include "repomap/repomap.h"
#include "util/text.h"

static int word_char(char c)
{
  return c == '_' || (c >= '0' && c <= '9') || ((c | 32) >= 'a' && (c | 32) <= 'z');
}

/* The line of the first function of the file whose name the instruction holds as a word, or 0. */
static int named_function(lang_id lang, const text_t *t, const char *instruction)
{
  scan_result sr;
  if (scan_file(lang, t, &sr)) {
    return 0;
  }
  int line = 0;
  for (size_t i = 0; i < sr.ndefs && !line; i++) {
    const scan_def *d = &sr.defs[i];
    if (d->kind == DEF_CLASS || !d->name || !*d->name) {
      continue;
    }
    size_t n = strlen(d->name);
    for (const char *p = strstr(instruction, d->name); p; p = strstr(p + 1, d->name)) {
      if ((p == instruction || !word_char(p[-1])) && !word_char(p[n])) {
        line = d->head_line;
        break;
      }
    }
  }
  scan_result_free(&sr);
  return line;
}

int plan_step_request(const plan_steps *s, int n, const char *goal, const char *text, size_t len,
                      action_request *req, buf_t *instr, char *err, size_t errlen)
{
  if (n < 1 || (size_t)n > s->count) {
    snprintf(err, errlen, "the plan has no step %d (it has %zu)", n, s->count);
    return -1;
  }
  const plan_step *st = &s->steps[n - 1];
  if (st->problem) {
    snprintf(err, errlen, "step %d cannot run: %s", n, st->problem);
    return -1;
  }
  lang_id lang = lang_from_path(st->path);
  int line = st->line;
  buf_clear(instr);
  buf_printf(instr, "This is step %d of %zu of a plan.\nThe plan's goal: %s\nThis step: %s\n", n,
             s->count, goal && *goal ? goal : "(not given)", st->instruction);
  text_t t;
  if (text_init(&t, text, len) == 0) {
    if (line > t.nlines && t.nlines > 0) {
      text_free(&t);
      snprintf(err, errlen, "step %d: line %d is past the end of %s (%d lines)", n, line,
               st->path, t.nlines);
      return -1;
    }
    if (line <= 0) {
      line = named_function(lang, &t, st->instruction);
    }
    if (line <= 0) {
      /* a function to create: the file's outline says where and with what it will live */
      line = t.nlines > 0 ? t.nlines : 1;
      buf_puts(instr, "\nThe function does not exist yet. The file's outline:\n");
      repomap_outline(lang, &t, NULL, instr);
    }
    text_free(&t);
  }
  memset(req, 0, sizeof(*req));
  req->path = st->path;
  req->action = st->action;
  req->line = line;
  req->nfiles = 1;
  req->forced_tier = -1;
  req->instruction = instr->data;
  req->ledger_action = "plan";
  return 0;
}

json_t *plan_validate_json(const char *text, size_t len, const char *root, int answer,
                           const plan_known_file *known, size_t nknown, char *err,
                           size_t errlen)
{
  plan_steps s;
  if ((answer ? plan_steps_parse_answer : plan_steps_parse)(text, len, &s, err, errlen)) {
    return NULL;
  }
  int invalid = plan_steps_validate_known(&s, root, known, nknown);
  json_t *o = json_object();
  json_object_set_new(o, "goal", s.goal ? json_string(s.goal) : json_null());
  json_object_set_new(o, "steps", plan_steps_json(&s, 1));
  json_object_set_new(o, "invalid", json_integer(invalid));
  plan_steps_free(&s);
  return o;
}
