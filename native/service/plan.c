#include "service/plan.h"
#include "service/plan_context.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "context/lang.h"
#include "core/catalogue.h"
#include "core/tokens.h"
#include "repomap/repomap.h"
#include "route/route.h"
#include "service/chunks.h"
#include "util/buf.h"
#include "util/file.h"
#include "util/text.h"

json_t *action_json_text(const char *s, size_t n)
{
  if (utf8_valid(s, n)) {
    return json_stringn(s, n);
  }
  buf_t b = BUF_INIT;
  utf8_append_repaired(&b, s, n, "\xEF\xBF\xBD", SIZE_MAX);
  json_t *j = json_stringn(b.data ? b.data : "", b.len);
  buf_free(&b);
  return j;
}

static json_t *json_usd(double usd)
{
  return usd < 0 ? json_null() : json_real(usd);
}

static json_t *context_json(const action_request *req, const pkg_result *pkg, int with_text)
{
  json_t *items = json_array();
  for (size_t i = 0; i < pkg->nitems; i++) {
    const pkg_item *it = &pkg->items[i];
    json_t *o = json_object();
    json_object_set_new(o, "kind", json_string(item_kind_name(it->kind)));
    json_object_set_new(o, "label", action_json_text(it->label ? it->label : "",
                                                      it->label ? strlen(it->label) : 0));
    json_object_set_new(o, "start_line", json_integer(it->start_line));
    json_object_set_new(o, "end_line", json_integer(it->end_line));
    json_object_set_new(o, "tokens", json_integer(it->tokens));
    if (with_text) {
      json_object_set_new(o, "text", action_json_text(it->text ? it->text : "",
                                                       it->text ? strlen(it->text) : 0));
    }
    json_array_append_new(items, o);
  }
  json_t *scope = json_object();
  json_object_set_new(scope, "kind", json_string(scope_kind_name(pkg->scope)));
  json_object_set_new(scope, "name", pkg->scope_name ? action_json_text(pkg->scope_name,
                                                                          strlen(pkg->scope_name))
                                                     : json_null());
  json_object_set_new(scope, "start_line", json_integer(pkg->start_line));
  json_object_set_new(scope, "end_line", json_integer(pkg->end_line));
  if (pkg->hint != PKG_HINT_NONE) {
    json_object_set_new(scope, "hint", json_string(pkg_hint_name(pkg->hint)));
  }

  json_t *c = json_object();
  const char *file = req->path ? req->path : "";
  json_object_set_new(c, "file", action_json_text(file, strlen(file)));
  json_object_set_new(c, "language", json_string(lang_name(pkg->lang)));
  json_object_set_new(c, "scope", scope);
  json_object_set_new(c, "items", items);
  json_object_set_new(c, "tokens", json_integer(pkg->tokens));
  json_object_set_new(c, "file_tokens", json_integer(pkg->file_tokens));
  json_object_set_new(c, "dropped", json_integer(pkg->dropped));
  json_object_set_new(c, "over_budget", json_boolean(pkg->over_budget));
  return c;
}

static json_t *tests_json(const testconv *t)
{
  json_t *o = json_object();
  json_object_set_new(o, "path", action_json_text(t->test_path, strlen(t->test_path)));
  json_object_set_new(o, "exists", json_boolean(t->exists));
  json_object_set_new(o, "framework", t->framework ? json_string(t->framework) : json_null());
  json_object_set_new(o, "why", t->why ? action_json_text(t->why, strlen(t->why)) : json_null());
  return o;
}

static json_t *route_json(const route_decision *d)
{
  json_t *reasons = json_array();
  for (int i = 0; i < d->nreasons; i++) {
    json_array_append_new(reasons, action_json_text(d->reasons[i], strlen(d->reasons[i])));
  }
  json_t *est = json_object();
  json_object_set_new(est, "input_tokens", json_integer(d->input_tokens));
  json_object_set_new(est, "output_tokens", json_integer(d->output_tokens));
  json_object_set_new(est, "usd", json_usd(d->usd));
  json_object_set_new(est, "usd_full", json_usd(d->usd_full));
  json_t *r = json_object();
  json_object_set_new(r, "tier", json_string(tier_name(d->tier)));
  json_object_set_new(r, "model", action_json_text(d->model, strlen(d->model)));
  json_object_set_new(r, "reasons", reasons);
  json_object_set_new(r, "estimate", est);
  return r;
}

/* Other files are sent whole, so they are bounded: a file this large is a data file, not
 * something to paste into a prompt. */
#define ACTION_FILE_MAX (512 * 1024)

static int add_other_files(const action_request *req, int budget, pkg_result *pkg,
                           json_t *left_out, char *ferr, size_t ferrlen);

/* The package with every item it can have (no budget): fit_package() cuts it per tier. */
static int build_package(const text_t *t, const action_request *req, lang_id lang,
                         pkg_result *pkg, char *err, size_t errlen)
{
  pkg_request pr = {
    .path = req->path,
    .lang = lang,
    .action = req->action,
    .cursor_line = req->line,
    .cursor_col = req->col,
    .sel_start = req->sel_start,
    .sel_end = req->sel_end,
    .hint_start = req->hint_start,
    .hint_end = req->hint_end,
    .diags = req->diags,
    .ndiags = req->ndiags,
  };
  return package_build(t, &pr, pkg, err, errlen);
}

/* `path` as the model should see it: relative to `base` when inside it. The prompt's stable
 * prefix must not change with where the project is checked out, and home directories are
 * nobody's business. */
static const char *display_path(const char *path, const char *base)
{
  if (!path) {
    return "";
  }
  size_t n = base ? strlen(base) : 0;
  if (n > 0 && strncmp(path, base, n) == 0 && path[n] == '/') {
    return path + n + 1;
  }
  return path;
}

/* `all` cut to a tier's budget, then the other files in scope that still fit (those left out
 * are appended to `left_out` with the reason) and, for the multi-file actions, the repo map.
 * Returns 0, or -1 with the message in `err` when a file in scope cannot be used (`pkg` is then
 * empty). */
static int fit_package(const action_request *req, const text_t *t, const pkg_result *all,
                       int budget, pkg_result *pkg, json_t *left_out, char *err, size_t errlen)
{
  pkg_result_copy(pkg, all);
  package_fit(pkg, budget);
  if (add_other_files(req, budget, pkg, left_out, err, errlen)) {
    pkg_result_free(pkg);
    return -1;
  }
  char cwd[PATH_MAX];
  /* the planner: outlines of the files in scope */
  plan_context_shape(req, t, display_path(req->path, getcwd(cwd, sizeof(cwd))), budget, pkg);
  if (req->repo_map && req->mapshare) {
    plan_mapshare_add(req->mapshare, req->action, req->path, req->files, req->nfile_paths,
                      req->instruction, budget, pkg);
  } else if (req->repo_map) {
    repomap_package_add(NULL, req->action, req->path, req->files, req->nfile_paths,
                        req->instruction, budget, pkg);
  }
  return 0;
}

static int build_prompt(const action_request *req, action_plan *plan, char *err, size_t errlen)
{
  char cwd[PATH_MAX];
  const char *base = getcwd(cwd, sizeof(cwd)) ? cwd : NULL;
  prompt_request pr = {
    .action = req->action,
    .instruction = req->instruction,
    .lang = plan->lang,
    .pkg = &plan->pkg,
  };
  if (prompt_output_for(req->action) == PROMPT_OUT_TESTS && req->path) {
    char terr[256];
    if (testconv_discover(req->path, plan->lang, plan->pkg.scope_name, &plan->tests, terr,
                          sizeof(terr)) == 0) {
      plan->has_tests = 1;
      base = plan->tests.root;
      pr.test_framework = plan->tests.framework;
      pr.test_path = display_path(plan->tests.test_path, base);
      pr.test_file_exists = plan->tests.exists;
      pr.test_sample = plan->tests.sample;
      pr.test_sample_path = display_path(plan->tests.sample_path, base);
    }
  }
  pr.path = display_path(req->path, base);
  plan->root = base ? xstrdup(base) : NULL;
  plan->path_sent = req->path ? xstrdup(pr.path) : NULL;
  return prompt_build(&pr, &plan->prompt, err, errlen);
}

static void left_out_add(json_t *left_out, const char *path, int tokens, const char *why)
{
  if (left_out) {
    json_array_append_new(left_out, json_pack("{s:o,s:i,s:s}", "path",
                                              action_json_text(path, strlen(path)), "tokens",
                                              tokens, "why", why));
  }
}

/* 1 when `shown` (a path as display_path gives it) lies outside the current directory. */
static int outside_project(const char *shown)
{
  return shown[0] == '/' || strcmp(shown, "..") == 0 || strncmp(shown, "../", 3) == 0;
}

/* Appends each other file in scope as a "file" item, in the order given, while the package
 * stays within `budget`; a file that does not fit, or that came from a set and lies outside the
 * project, is left out and counted in `dropped` (and listed in `left_out`, may be NULL).
 * Returns 0, or -1 with the message in `err` naming the file when one cannot be read (missing,
 * unreadable, too large, not a regular file): that is a mistake to say before anything is sent,
 * not a file to skip quietly. */
static int add_other_files(const action_request *req, int budget, pkg_result *pkg,
                           json_t *left_out, char *ferr, size_t ferrlen)
{
  char cwd[PATH_MAX];
  const char *base = getcwd(cwd, sizeof(cwd));
  for (size_t i = 0; i < req->nfile_paths; i++) {
    const char *path = req->files[i];
    if (!path || (req->path && strcmp(path, req->path) == 0)) {
      continue;
    }
    const char *shown = display_path(path, base);
    const char *given = req->file_texts ? req->file_texts[i] : NULL;
    size_t given_len = given && req->file_text_lens ? req->file_text_lens[i]
                       : given                      ? strlen(given)
                                                    : 0;
    file_contents f = {0};
    if (!given) {
      char err[600];
      int rc = file_load(&f, path, ACTION_FILE_MAX, err, sizeof(err));
      if (rc) {
        snprintf(ferr, ferrlen, "%s%s", rc == FILE_ENOTREG ? "" : "a file in scope: ",
                 err);
        return -1;
      }
    } else if (given_len > ACTION_FILE_MAX) {
      snprintf(ferr, ferrlen, "%s: the editor's text is larger than %d KiB", path,
               ACTION_FILE_MAX / 1024);
      return -1;
    }
    const char *data = given ? given : f.data;
    size_t len = given ? given_len : f.len;
    lang_id lang = lang_from_path(path);
    int tokens = tokens_estimate(lang, data, len);
    const char *why = NULL;
    if (req->file_from_set && req->file_from_set[i] && outside_project(shown)) {
      why = "outside the project";
    } else if (budget > 0 && pkg->tokens + tokens > budget) {
      why = "budget";
    }
    if (why) {
      left_out_add(left_out, shown, tokens, why);
      if (!given) {
        file_release(&f);
      }
      pkg->dropped++;
      continue;
    }
    pkg->items = xrealloc(pkg->items, (pkg->nitems + 1) * sizeof(pkg_item));
    pkg_item *it = &pkg->items[pkg->nitems++];
    memset(it, 0, sizeof(*it));
    it->kind = ITEM_FILE;
    it->start_line = 1;
    text_t t;
    it->end_line = 1;
    if (text_init(&t, data, len) == 0) {
      it->end_line = t.nlines > 0 ? t.nlines : 1;
      text_free(&t);
    }
    it->tokens = tokens;
    it->label = xstrdup(shown);
    it->text = xstrndup(data, len);
    pkg->tokens += tokens;
    if (!given) {
      file_release(&f);
    }
  }
  return 0;
}

int action_plan_build(const frugal_config *cfg, const action_request *req, const char *text,
                      size_t len, int with_prompt, action_plan *out, char *err, size_t errlen)
{
  memset(out, 0, sizeof(*out));
  if (!catalogue_action_known(req->action)) {
    char list[300];
    catalogue_actions_join(list, sizeof(list));
    snprintf(err, errlen, "unknown action '%s' (expected one of: %s)",
             req->action ? req->action : "", list);
    return -1;
  }
  lang_id lang = lang_detect(req->path, req->language, text, len);
  if (text_init(&out->text, text, len)) {
    snprintf(err, errlen, "file has too many lines");
    return -1;
  }
  out->lang = lang;

  /* The package is cut for the tier it will go to. Which tier that is depends on the
   * package's size, so cut it to Mini's budget first (the common case), and again to Full's
   * when the decision is Full and something was left out. It is built once, with every item,
   * and only cut per budget: building is the costly part (a 200k-line file). */
  int pre_tier = req->forced_tier >= 0 ? req->forced_tier : config_action_tier(cfg, req->action);
  tier_id budget_tier = pre_tier >= 0 ? (tier_id)pre_tier : TIER_MINI;
  pkg_result all;
  if (build_package(&out->text, req, lang, &all, err, errlen)) {
    text_free(&out->text);
    return -1;
  }
  out->left_out = json_array();
  if (fit_package(req, &out->text, &all, (int)cfg->tiers[budget_tier].context_budget,
                  &out->pkg, out->left_out, err, errlen)) {
    pkg_result_free(&all);
    json_decref(out->left_out);
    out->left_out = NULL;
    text_free(&out->text);
    return -1;
  }
  route_input ri = {
    .action = req->action,
    .nfiles = req->nfiles,
    .context_tokens = out->pkg.tokens,
    .scope_kind = scope_kind_name(out->pkg.scope),
    .scope_name = out->pkg.scope_name,
    .forced_tier = req->forced_tier,
    .instruction = req->instruction,
  };
  if (route_decide(cfg, &ri, &out->route, err, errlen)) {
    pkg_result_free(&all);
    action_plan_free(out);
    return -1;
  }
  if (out->route.tier != budget_tier && out->pkg.dropped > 0) {
    pkg_result full;
    json_t *left = json_array();
    if (fit_package(req, &out->text, &all, (int)cfg->tiers[out->route.tier].context_budget,
                    &full, left, err, errlen)) {
      json_decref(left);
      pkg_result_free(&all);
      action_plan_free(out);
      return -1;
    }
    pkg_result_free(&out->pkg);
    out->pkg = full;
    json_decref(out->left_out);
    out->left_out = left;
    ri.context_tokens = out->pkg.tokens;
    ri.scope_name = out->pkg.scope_name;
    route_decide(cfg, &ri, &out->route, err, errlen);
  }
  pkg_result_free(&all);
  if (with_prompt) {
    if (build_prompt(req, out, err, errlen)) {
      action_plan_free(out); /* also the test conventions and root build_prompt found */
      return -1;
    }
    long input = tokens_estimate(LANG_UNKNOWN, out->prompt.system, strlen(out->prompt.system)) +
                 tokens_estimate(lang, out->prompt.context, strlen(out->prompt.context)) +
                 tokens_estimate(lang, out->prompt.task, strlen(out->prompt.task));
    route_set_input_tokens(cfg, &out->route, input);
  }
  /* A big file's review goes to Mini in pieces rather than whole to Full. */
  if (chunks_plan(cfg, req, out, err, errlen) < 0) {
    action_plan_free(out);
    return -1;
  }
  return 0;
}

void action_plan_free(action_plan *p)
{
  free(p->root);
  p->root = NULL;
  free(p->path_sent);
  p->path_sent = NULL;
  json_decref(p->left_out);
  p->left_out = NULL;
  chunks_free(p);
  prompt_free(&p->prompt);
  if (p->has_tests) {
    testconv_free(&p->tests);
    p->has_tests = 0;
  }
  pkg_result_free(&p->pkg);
  text_free(&p->text);
}

json_t *action_context_json(const action_request *req, const action_plan *plan, int with_text)
{
  json_t *c = context_json(req, &plan->pkg, with_text);
  json_object_set_new(c, "left_out",
                      plan->left_out ? json_incref(plan->left_out) : json_array());
  if (plan->nchunks) {
    json_t *chunks = json_array();
    for (size_t i = 0; i < plan->nchunks; i++) {
      const action_chunk *k = &plan->chunks[i];
      json_array_append_new(chunks, json_pack("{s:i,s:i,s:i,s:I}", "start_line", k->start_line,
                                              "end_line", k->end_line, "tokens", k->pkg.tokens,
                                              "input_tokens", (json_int_t)k->input_tokens));
    }
    json_object_set_new(c, "chunks", chunks);
  }
  if (plan->has_tests) {
    json_object_set_new(c, "tests", tests_json(&plan->tests));
  }
  return c;
}

json_t *action_route_json(const action_plan *plan)
{
  json_t *r = route_json(&plan->route);
  if (plan->nchunks) {
    json_object_set_new(r, "chunks", json_integer((json_int_t)plan->nchunks));
  }
  return r;
}

int action_preview(const frugal_config *cfg, const action_request *req, const char *text,
                   size_t len, int parts, json_t **out, char *err, size_t errlen)
{
  action_plan plan;
  if (action_plan_build(cfg, req, text, len, (parts & ACTION_ROUTE) != 0, &plan, err, errlen)) {
    return -1;
  }
  json_t *o = json_object();
  if (parts & ACTION_CONTEXT) {
    json_object_set_new(o, "context",
                        action_context_json(req, &plan, (parts & ACTION_ITEM_TEXT) != 0));
  }
  if (parts & ACTION_ROUTE) {
    json_object_set_new(o, "route", action_route_json(&plan));
  }
  action_plan_free(&plan);
  *out = o;
  return 0;
}
