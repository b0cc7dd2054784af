/* plan_context: outlines instead of whole files for the planner. */
#include "service/plan_context.h"

#include <stdlib.h>
#include <string.h>

#include "context/lang.h"
#include "core/tokens.h"
#include "repomap/repomap.h"
#include "util/buf.h"
#include "util/text.h"

#define PLAN_CONTEXT_MAX_NAMES 64

static int ident_start(char c)
{
  return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int ident_char(char c)
{
  return ident_start(c) || (c >= '0' && c <= '9');
}

/* The identifiers of the goal (2 characters or more) that may name a definition. */
static size_t goal_names(const char *goal, char **names, size_t max)
{
  size_t n = 0;
  for (const char *p = goal; p && *p && n < max;) {
    if (!ident_start(*p) || (p > goal && ident_char(p[-1]))) {
      p++;
      continue;
    }
    const char *s = p;
    while (ident_char(*p)) {
      p++;
    }
    if (p - s >= 2) {
      names[n++] = xstrndup(s, (size_t)(p - s));
    }
  }
  return n;
}

int plan_context_shape(const action_request *req, pkg_result *pkg)
{
  if (!req->action || strcmp(req->action, "plan") != 0) {
    return 0;
  }
  long whole = 0;
  for (size_t i = 0; i < pkg->nitems; i++) {
    whole += pkg->items[i].kind == ITEM_FILE ? pkg->items[i].tokens : 0;
  }
  if (whole <= PLAN_CONTEXT_WHOLE_TOKENS) {
    return 0;
  }
  char *names[PLAN_CONTEXT_MAX_NAMES];
  size_t nnames = goal_names(req->instruction, names, PLAN_CONTEXT_MAX_NAMES);
  repomap_outline_opts opts = {(const char *const *)names, nnames, 0};
  int outlined = 0;
  for (size_t i = 0; i < pkg->nitems; i++) {
    pkg_item *it = &pkg->items[i];
    if (it->kind != ITEM_FILE || !it->text) {
      continue;
    }
    lang_id lang = lang_from_path(it->label);
    text_t t;
    if (lang == LANG_UNKNOWN || text_init(&t, it->text, strlen(it->text))) {
      continue;
    }
    buf_t b = BUF_INIT;
    repomap_outline(lang, &t, &opts, &b);
    text_free(&t);
    int tokens = b.len ? tokens_estimate(lang, b.data, b.len) : 0;
    if (b.len > 0 && tokens < it->tokens) {
      pkg->tokens += tokens - it->tokens;
      it->tokens = tokens;
      free(it->text);
      it->text = buf_detach(&b);
      buf_t label = BUF_INIT;
      buf_printf(&label, "%s (outline)", it->label);
      free(it->label);
      it->label = buf_detach(&label);
      outlined++;
    } else {
      buf_free(&b);
    }
  }
  for (size_t i = 0; i < nnames; i++) {
    free(names[i]);
  }
  return outlined;
}
