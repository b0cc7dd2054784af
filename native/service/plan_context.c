/* plan_context: outlines instead of whole files for the planner. */
#include "service/plan_context.h"

#include <stdlib.h>
#include <string.h>

#include "context/lang.h"
#include "core/tokens.h"
#include "repomap/repomap.h"
#include "util/buf.h"

#define PLAN_CONTEXT_MAX_NAMES 64

/* The outline of `t` within `opts`, or NULL when it would be empty. */
static char *outline_of(lang_id lang, const text_t *t, const repomap_outline_opts *opts,
                        int *tokens)
{
  buf_t b = BUF_INIT;
  repomap_outline(lang, t, opts, &b);
  if (b.len == 0) {
    buf_free(&b);
    return NULL;
  }
  *tokens = tokens_estimate(lang, b.data, b.len);
  return buf_detach(&b);
}

static char *outline_label(const char *path)
{
  buf_t label = BUF_INIT;
  buf_printf(&label, "%s (outline)", path);
  return buf_detach(&label);
}

/* The file-level items of the cursor's file, which its outline holds too. */
static int file_level(item_kind k)
{
  return k == ITEM_IMPORTS || k == ITEM_CLASS_HEADER || k == ITEM_TYPE || k == ITEM_SIGNATURE;
}

/* Replaces the file-level items of `pkg` by the outline of the cursor's file, as items[1].
 * Returns 1 when it did. */
static int outline_cursor_file(const text_t *t, const char *shown, char **names, size_t nnames,
                               int budget, pkg_result *pkg)
{
  if (pkg->scope == SCOPE_FILE || pkg->lang == LANG_UNKNOWN || !t || t->nlines == 0) {
    return 0;
  }
  /* the scope is in the task whole: the outline keeps only its signature */
  char *keep[PLAN_CONTEXT_MAX_NAMES];
  size_t nkeep = 0;
  for (size_t i = 0; i < nnames; i++) {
    if (!pkg->scope_name || strcmp(names[i], repomap_bare_name(pkg->scope_name)) != 0) {
      keep[nkeep++] = names[i];
    }
  }
  repomap_outline_opts opts = {(const char *const *)keep, nkeep, 0};
  int tokens = 0;
  char *text = outline_of(pkg->lang, t, &opts, &tokens);
  int replaced = 0;
  for (size_t i = 1; text && i < pkg->nitems; i++) {
    replaced += file_level(pkg->items[i].kind) ? pkg->items[i].tokens : 0;
  }
  if (!text || (budget > 0 && pkg->tokens - replaced + tokens > budget)) {
    free(text);
    return 0;
  }
  size_t w = 1;
  for (size_t i = 1; i < pkg->nitems; i++) {
    pkg_item *it = &pkg->items[i];
    if (file_level(it->kind)) {
      pkg->tokens -= it->tokens;
      free(it->label);
      free(it->text);
    } else {
      pkg->items[w++] = *it;
    }
  }
  pkg->nitems = w;
  pkg->items = xrealloc(pkg->items, (pkg->nitems + 1) * sizeof(pkg_item));
  memmove(&pkg->items[2], &pkg->items[1], (pkg->nitems - 1) * sizeof(pkg_item));
  pkg->nitems++;
  pkg_item *it = &pkg->items[1];
  memset(it, 0, sizeof(*it));
  it->kind = ITEM_FILE;
  it->start_line = 1;
  it->end_line = t->nlines;
  it->tokens = tokens;
  it->label = outline_label(shown);
  it->text = text;
  pkg->tokens += tokens;
  return 1;
}

int plan_context_shape(const action_request *req, const text_t *text, const char *shown,
                       int budget, pkg_result *pkg)
{
  if (!req->action || strcmp(req->action, "plan") != 0) {
    return 0;
  }
  char *names[PLAN_CONTEXT_MAX_NAMES];
  size_t nnames = repomap_mentions(req->instruction, names, PLAN_CONTEXT_MAX_NAMES);
  int outlined = 0;
  long whole = 0;
  for (size_t i = 0; i < pkg->nitems; i++) {
    whole += pkg->items[i].kind == ITEM_FILE ? pkg->items[i].tokens : 0;
  }
  repomap_outline_opts opts = {(const char *const *)names, nnames, 0};
  for (size_t i = 0; whole > PLAN_CONTEXT_WHOLE_TOKENS && i < pkg->nitems; i++) {
    pkg_item *it = &pkg->items[i];
    if (it->kind != ITEM_FILE || !it->text) {
      continue;
    }
    lang_id lang = lang_from_path(it->label);
    text_t t;
    if (lang == LANG_UNKNOWN || text_init(&t, it->text, strlen(it->text))) {
      continue;
    }
    int tokens = 0;
    char *o = outline_of(lang, &t, &opts, &tokens);
    text_free(&t);
    if (o && tokens < it->tokens) {
      pkg->tokens += tokens - it->tokens;
      it->tokens = tokens;
      free(it->text);
      it->text = o;
      char *label = outline_label(it->label);
      free(it->label);
      it->label = label;
      outlined++;
    } else {
      free(o);
    }
  }
  outlined += outline_cursor_file(text, shown ? shown : "", names, nnames, budget, pkg);
  for (size_t i = 0; i < nnames; i++) {
    free(names[i]);
  }
  return outlined;
}
