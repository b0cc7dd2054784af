#include "service/chunks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context/scan.h"
#include "core/tokens.h"
#include "util/buf.h"

/* Of Mini's budget, the share a chunk's code may take: the rest is for the imports, types and
 * signatures its lines use. */
#define CHUNK_CODE_SHARE 70

static int range_tokens(lang_id lang, const text_t *t, int a, int b)
{
  size_t s = text_line_start(t, a), e = text_line_end(t, b);
  return tokens_estimate(lang, t->data + s, e - s);
}

size_t chunks_cut(lang_id lang, const text_t *text, int max_tokens, int **out)
{
  *out = NULL;
  if (text->nlines <= 0) {
    return 0;
  }
  scan_result sr;
  int *cuts = xcalloc((size_t)text->nlines + 2, sizeof(int)); /* cut before line i allowed */
  size_t ncut = 0;
  if (scan_file(lang, text, &sr) == 0) {
    /* A cut may go right after each top-level definition: between two of them, the lines
     * that follow one (blank lines, comments, declarations) stay with the next. */
    for (size_t i = 0; i < sr.ndefs; i++) {
      const scan_def *d = &sr.defs[i];
      if (d->parent == -1 && d->end_line >= 1 && d->end_line < text->nlines &&
          (ncut == 0 || cuts[ncut - 1] < d->end_line + 1)) {
        cuts[ncut++] = d->end_line + 1;
      }
    }
    scan_result_free(&sr);
  }
  cuts[ncut++] = text->nlines + 1; /* the end */
  int *r = xmalloc(2 * (ncut + 1) * sizeof(int));
  size_t n = 0;
  int start = 1, prev = 1; /* prev: the last cut point inside the chunk being grown */
  for (size_t i = 0; i < ncut; i++) {
    int next = cuts[i];
    if (next <= start) {
      continue;
    }
    if (prev > start && range_tokens(lang, text, start, next - 1) > max_tokens) {
      r[2 * n] = start;
      r[2 * n + 1] = prev - 1;
      n++;
      start = prev;
    }
    prev = next;
  }
  if (start <= text->nlines) {
    r[2 * n] = start;
    r[2 * n + 1] = text->nlines;
    n++;
  }
  free(cuts);
  *out = r;
  return n;
}

void chunks_free(action_plan *plan)
{
  for (size_t i = 0; i < plan->nchunks; i++) {
    pkg_result_free(&plan->chunks[i].pkg);
    prompt_free(&plan->chunks[i].prompt);
  }
  free(plan->chunks);
  plan->chunks = NULL;
  plan->nchunks = 0;
}

int chunks_plan(const frugal_config *cfg, const action_request *req, action_plan *plan,
                char *err, size_t errlen)
{
  const tier_config *mini = &cfg->tiers[TIER_MINI];
  if (!req->action || strcmp(req->action, "review") != 0 || req->forced_tier >= 0 ||
      config_action_tier(cfg, "review") >= 0 || req->nfiles > 1 || req->sel_start > 0 ||
      plan->pkg.scope != SCOPE_FILE || plan->route.tier != TIER_FULL ||
      plan->pkg.tokens <= mini->context_budget || plan->lang == LANG_UNKNOWN ||
      mini->context_budget <= 0) {
    return 0;
  }
  int *ranges;
  size_t n = chunks_cut(plan->lang, &plan->text, (int)(mini->context_budget * CHUNK_CODE_SHARE / 100),
                        &ranges);
  if (n < 2) {
    free(ranges);
    return 0;
  }
  plan->chunks = xcalloc(n, sizeof(action_chunk));
  long input = 0, output = 0;
  for (size_t i = 0; i < n; i++) {
    action_chunk *c = &plan->chunks[i];
    c->start_line = ranges[2 * i];
    c->end_line = ranges[2 * i + 1];
    plan->nchunks = i + 1;
    pkg_request pr = {
      .path = req->path,
      .lang = plan->lang,
      .action = "review",
      .cursor_line = c->start_line,
      .sel_start = c->start_line,
      .sel_end = c->end_line,
      .diags = req->diags,
      .ndiags = req->ndiags,
      .budget_tokens = (int)mini->context_budget,
    };
    char cerr[300];
    if (package_build(&plan->text, &pr, &c->pkg, cerr, sizeof(cerr))) {
      snprintf(err, errlen, "review in chunks: lines %d-%d: %s", c->start_line, c->end_line,
               cerr);
      free(ranges);
      chunks_free(plan);
      return -1;
    }
    prompt_request q = {
      .action = "review",
      .instruction = req->instruction,
      .path = plan->path_sent ? plan->path_sent : req->path,
      .lang = plan->lang,
      .pkg = &c->pkg,
    };
    if (prompt_build(&q, &c->prompt, cerr, sizeof(cerr))) {
      snprintf(err, errlen, "review in chunks: %s", cerr);
      free(ranges);
      chunks_free(plan);
      return -1;
    }
    c->input_tokens = tokens_estimate(LANG_UNKNOWN, c->prompt.system, strlen(c->prompt.system)) +
                      tokens_estimate(plan->lang, c->prompt.context, strlen(c->prompt.context)) +
                      tokens_estimate(plan->lang, c->prompt.task, strlen(c->prompt.task));
    input += c->input_tokens;
    route_input ri = {.action = "review", .nfiles = 1, .context_tokens = c->pkg.tokens,
                      .scope_kind = "selection", .forced_tier = TIER_MINI};
    route_decision d;
    if (route_decide(cfg, &ri, &d, cerr, sizeof(cerr)) == 0) {
      output += d.output_tokens;
    }
  }
  free(ranges);
  route_decision *r = &plan->route;
  char tok[32], budget[32];
  snprintf(tok, sizeof(tok), "%.1fk", plan->pkg.tokens / 1000.0);
  snprintf(budget, sizeof(budget), "%.1fk", mini->context_budget / 1000.0);
  r->tier = TIER_MINI;
  r->model = mini->model;
  r->nreasons = r->nreasons > 1 ? 1 : r->nreasons;
  snprintf(r->reasons[r->nreasons++], ROUTE_REASON_LEN,
           "file of %s tokens is over the mini budget of %s: reviewed on mini in %zu chunks of "
           "whole functions, each with the file's imports and types",
           tok, budget, plan->nchunks);
  r->output_tokens = output;
  route_set_input_tokens(cfg, r, input);
  return (int)plan->nchunks;
}
