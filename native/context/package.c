#include "context/package.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/tokens.h"
#include "util/buf.h"

/* Lines of context on each side of the cursor when no definition holds it. */
#define PKG_WINDOW_LINES 30
/* A doc comment above a called function travels with its signature only when it is this short:
 * a one-line summary helps the model, a long block costs more than it helps. */
#define PKG_SIG_DOC_MAX 3
/* A type the scope names is sent whole up to this many lines (a struct's fields are what a model
 * needs to use it); a longer one is sent as its header. */
#define PKG_TYPE_MAX_LINES 40

typedef enum {
  PKG_ACTION_FUNCTION, /* selection, else the definition at the cursor, else a window */
  PKG_ACTION_REVIEW,   /* selection, else the whole file */
  PKG_ACTION_FILES,    /* multi-file actions: always the whole file */
} pkg_action_class;

static const char *const multi_file_actions[] = {"design", "optimize", "refactor-files",
                                                 "review-all", NULL};

static pkg_action_class package_action_class(const char *action)
{
  if (!action) {
    return PKG_ACTION_FUNCTION;
  }
  if (strcmp(action, "review") == 0) {
    return PKG_ACTION_REVIEW;
  }
  for (size_t i = 0; multi_file_actions[i]; i++) {
    if (strcmp(action, multi_file_actions[i]) == 0) {
      return PKG_ACTION_FILES;
    }
  }
  return PKG_ACTION_FUNCTION;
}

scope_kind package_default_scope(const char *action, int has_selection)
{
  switch (package_action_class(action)) {
  case PKG_ACTION_FILES:
    return SCOPE_FILE;
  case PKG_ACTION_REVIEW:
    return has_selection ? SCOPE_SELECTION : SCOPE_FILE;
  case PKG_ACTION_FUNCTION:
    break;
  }
  return has_selection ? SCOPE_SELECTION : SCOPE_FUNCTION;
}

const char *scope_kind_name(scope_kind k)
{
  switch (k) {
  case SCOPE_FUNCTION:
    return "function";
  case SCOPE_METHOD:
    return "method";
  case SCOPE_CLASS:
    return "class";
  case SCOPE_SELECTION:
    return "selection";
  case SCOPE_FILE:
    return "file";
  case SCOPE_LINES:
    return "lines";
  }
  return "unknown";
}

const char *pkg_hint_name(pkg_hint h)
{
  switch (h) {
  case PKG_HINT_NONE:
    return "none";
  case PKG_HINT_AGREES:
    return "agrees";
  case PKG_HINT_DIFFERS:
    return "differs";
  case PKG_HINT_USED:
    return "used";
  case PKG_HINT_IGNORED:
    return "ignored";
  }
  return "none";
}

const char *item_kind_name(item_kind k)
{
  switch (k) {
  case ITEM_SCOPE:
    return "scope";
  case ITEM_IMPORTS:
    return "imports";
  case ITEM_CLASS_HEADER:
    return "class_header";
  case ITEM_TYPE:
    return "type";
  case ITEM_SIGNATURE:
    return "signature";
  case ITEM_FILE:
    return "file";
  case ITEM_DIAGNOSTIC:
    return "diagnostic";
  case ITEM_REPO_MAP:
    return "repo_map";
  }
  return "unknown";
}

/* Items under construction (package_fit drops some of them once they are built). */
typedef struct {
  pkg_item item;
} pkg_slot;

typedef struct {
  pkg_slot *v;
  size_t n, cap;
} pkg_slots;

static pkg_slot *slots_push(pkg_slots *s)
{
  if (s->n == s->cap) {
    s->cap = s->cap ? s->cap * 2 : 8;
    s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
  }
  pkg_slot *p = &s->v[s->n++];
  memset(p, 0, sizeof(*p));
  return p;
}

static char *lines_dup(const text_t *t, int first, int last)
{
  if (t->nlines == 0 || last < first) {
    return xstrdup("");
  }
  size_t a = text_line_start(t, first);
  size_t b = text_line_end(t, last);
  return xstrndup(t->data + a, b - a);
}

static void slot_lines(pkg_slot *s, const text_t *t, lang_id lang, item_kind kind, int first,
                       int last, const char *label)
{
  s->item.kind = kind;
  s->item.start_line = first;
  s->item.end_line = last;
  s->item.label = label ? xstrdup(label) : NULL;
  s->item.text = lines_dup(t, first, last);
  s->item.tokens = tokens_estimate(lang, s->item.text, strlen(s->item.text));
}

static int ranges_overlap(int a1, int b1, int a2, int b2)
{
  return a1 <= b2 && a2 <= b1;
}

/* Distance in lines between a range and the scope, for "farthest first" drops. */
/* Last line of a declaration's header: the line that opens the body, unless that line holds
 * nothing but the opening brace (Allman/GNU style), which tells the model nothing. */
static int header_last_line(const text_t *t, int head, int body)
{
  if (body <= head) {
    return head;
  }
  size_t a = text_line_start(t, body), b = text_line_end(t, body);
  int only_brace = 0;
  for (size_t i = a; i < b; i++) {
    char c = t->data[i];
    if (c == '{' && !only_brace) {
      only_brace = 1;
    } else if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
      return body;
    }
  }
  return only_brace ? body - 1 : body;
}

static int scope_distance(int first, int last, int s_first, int s_last)
{
  if (last < s_first) {
    return s_first - last;
  }
  if (first > s_last) {
    return first - s_last;
  }
  return 0;
}

typedef struct {
  char **names;
  size_t n, cap;
} name_list;

static void collect_call(const char *name, size_t len, void *data)
{
  name_list *l = data;
  if (l->n == l->cap) {
    l->cap = l->cap ? l->cap * 2 : 16;
    l->names = xrealloc(l->names, l->cap * sizeof(*l->names));
  }
  l->names[l->n++] = xstrndup(name, len);
}

/* The bare name of a definition: "bar" for "Foo::bar" or "Foo.bar" (C++ out-of-line and
 * similar qualified names), which is how scan_calls() reports the call. */
static const char *bare_name(const char *name)
{
  const char *bare = name;
  for (const char *p = name; *p; p++) {
    if (*p == ':' || *p == '.') {
      bare = p + 1;
    }
  }
  return bare;
}

static size_t name_hash(const char *s)
{
  size_t h = 2166136261u;
  for (; *s; s++) {
    h = (h ^ (unsigned char)*s) * 16777619u;
  }
  return h;
}

/* A small open-addressing set of the called names, so matching them against the file's
 * definitions is one pass over the definitions rather than calls x definitions (a class scope
 * in a 200k-line file can make hundreds of calls against tens of thousands of definitions). */
typedef struct {
  int *slot; /* index into names, or -1 */
  size_t mask;
} name_index;

static void name_index_build(name_index *ix, const name_list *l)
{
  size_t cap = 16;
  while (cap < l->n * 2) {
    cap *= 2;
  }
  ix->slot = xmalloc(cap * sizeof(int));
  ix->mask = cap - 1;
  for (size_t i = 0; i < cap; i++) {
    ix->slot[i] = -1;
  }
  for (size_t c = 0; c < l->n; c++) {
    size_t h = name_hash(l->names[c]) & ix->mask;
    while (ix->slot[h] >= 0 && strcmp(l->names[ix->slot[h]], l->names[c]) != 0) {
      h = (h + 1) & ix->mask;
    }
    ix->slot[h] = (int)c;
  }
}

static int name_index_find(const name_index *ix, const name_list *l, const char *name)
{
  size_t h = name_hash(name) & ix->mask;
  while (ix->slot[h] >= 0) {
    if (strcmp(l->names[ix->slot[h]], name) == 0) {
      return ix->slot[h];
    }
    h = (h + 1) & ix->mask;
  }
  return -1;
}

/* Adds the same-file types (structs, classes, enums, interfaces) whose names the scope uses.
 * Python and Lua classes are reached through calls instead (a constructor call names them), and
 * their bodies are methods, not fields. */
static void add_types(pkg_slots *slots, const text_t *t, lang_id lang, const scan_result *sr,
                      int s_first, int s_last, const name_list *usedp)
{
  if (lang == LANG_PYTHON || lang == LANG_LUA || usedp->n == 0) {
    return;
  }
  const name_list used = *usedp;
  name_index ix;
  name_index_build(&ix, &used);
  for (size_t d = 0; d < sr->ndefs; d++) {
    const scan_def *def = &sr->defs[d];
    if (def->kind != DEF_CLASS || !def->name || !def->name[0] ||
        name_index_find(&ix, &used, bare_name(def->name)) < 0) {
      continue;
    }
    /* The scope's own class (its header is a class_header item) or a type inside the scope. */
    if (ranges_overlap(def->start_line, def->end_line, s_first, s_last)) {
      continue;
    }
    int first = def->head_line, last = def->end_line;
    if (def->start_line < first && first - def->start_line <= PKG_SIG_DOC_MAX) {
      first = def->start_line;
    }
    if (last - def->head_line + 1 > PKG_TYPE_MAX_LINES) {
      last = header_last_line(t, def->head_line, def->body_line);
    }
    int dup = 0;
    for (size_t k = 0; k < slots->n && !dup; k++) {
      const pkg_item *it = &slots->v[k].item;
      dup = it->kind != ITEM_DIAGNOSTIC && ranges_overlap(first, last, it->start_line, it->end_line);
    }
    if (dup) {
      continue;
    }
    pkg_slot *s = slots_push(slots);
    slot_lines(s, t, lang, ITEM_TYPE, first, last, def->name);
  }
  free(ix.slot);
}

static void add_signatures(pkg_slots *slots, const text_t *t, lang_id lang, const scan_result *sr,
                           int scope_def, int s_first, int s_last, const name_list *callsp)
{
  if (callsp->n == 0) {
    return;
  }
  const name_list calls = *callsp;
  name_index ix;
  name_index_build(&ix, &calls);
  int scope_parent = scope_def >= 0 ? sr->defs[scope_def].parent : -1;
  /* match[d]: the call a definition answers, or -1. */
  int *match = xmalloc((sr->ndefs ? sr->ndefs : 1) * sizeof(int));
  /* Several definitions may share a name (methods of different classes, overloads); when one
   * of them is a sibling of the scope, the siblings are the ones meant. */
  char *sibling = xcalloc(calls.n, 1);
  for (size_t d = 0; d < sr->ndefs; d++) {
    const scan_def *def = &sr->defs[d];
    match[d] = -1;
    if (def->kind == DEF_CLASS || (int)d == scope_def || !def->name) {
      continue;
    }
    int c = name_index_find(&ix, &calls, bare_name(def->name));
    match[d] = c;
    if (c >= 0 && scope_parent >= 0 && def->parent == scope_parent) {
      sibling[c] = 1;
    }
  }
  for (size_t d = 0; d < sr->ndefs; d++) {
    const scan_def *def = &sr->defs[d];
    int c = match[d];
    if (c < 0 || (sibling[c] && def->parent != scope_parent)) {
      continue;
    }
    /* Nested in the scope: the model already sees its whole text. */
    if (def->start_line >= s_first && def->end_line <= s_last) {
      continue;
    }
    int head = def->head_line, body = def->body_line;
    if (body < head) {
      body = head;
    }
    if (body > def->end_line) {
      body = def->end_line > head ? def->end_line : head;
    }
    body = header_last_line(t, head, body);
    int first = head;
    if (def->start_line < head && head - def->start_line <= PKG_SIG_DOC_MAX) {
      first = def->start_line;
    }
    if (ranges_overlap(first, body, s_first, s_last)) {
      continue;
    }
    int dup = 0;
    for (size_t k = 0; k < slots->n; k++) {
      const pkg_item *it = &slots->v[k].item;
      if (it->kind != ITEM_DIAGNOSTIC &&
          ranges_overlap(first, body, it->start_line, it->end_line)) {
        dup = 1;
        break;
      }
    }
    if (dup) {
      continue;
    }
    pkg_slot *s = slots_push(slots);
    slot_lines(s, t, lang, ITEM_SIGNATURE, first, body, def->name);
  }
  free(sibling);
  free(match);
  free(ix.slot);
}

static void name_list_free(name_list *l)
{
  for (size_t i = 0; i < l->n; i++) {
    free(l->names[i]);
  }
  free(l->names);
}

static void add_diagnostic(pkg_slots *slots, const pkg_diag *d, int s_first, int s_last)
{
  int first = d->line, last = d->end_line >= d->line ? d->end_line : d->line;
  if (!ranges_overlap(first, last, s_first, s_last)) {
    return;
  }
  const char *sev = d->severity && d->severity[0] ? d->severity : "error";
  buf_t b = BUF_INIT;
  if (last > first) {
    buf_printf(&b, "lines %d-%d: %s: %s", first, last, sev, d->message ? d->message : "");
  } else {
    buf_printf(&b, "line %d: %s: %s", first, sev, d->message ? d->message : "");
  }
  if (d->source && d->source[0]) {
    buf_printf(&b, " [%s]", d->source);
  }
  pkg_slot *s = slots_push(slots);
  s->item.kind = ITEM_DIAGNOSTIC;
  s->item.start_line = first;
  s->item.end_line = last;
  s->item.label = xstrdup(sev);
  s->item.tokens = tokens_estimate(LANG_UNKNOWN, b.data, b.len);
  s->item.text = buf_detach(&b);
}

static int slot_cmp(const void *a, const void *b)
{
  const pkg_item *x = &((const pkg_slot *)a)->item, *y = &((const pkg_slot *)b)->item;
  if (x->kind != y->kind) {
    return x->kind < y->kind ? -1 : 1;
  }
  return (x->start_line > y->start_line) - (x->start_line < y->start_line);
}

static int validate(const text_t *t, const pkg_request *req, char *err, size_t errlen)
{
  int last = t->nlines > 0 ? t->nlines : 1;
  if (req->cursor_line < 1) {
    snprintf(err, errlen, "cursor line %d is before the start of the file (lines start at 1)",
             req->cursor_line);
    return -1;
  }
  if (req->cursor_line > last) {
    snprintf(err, errlen, "cursor line %d is past the end of the file (%d lines)",
             req->cursor_line, t->nlines);
    return -1;
  }
  if (req->sel_start == 0 && req->sel_end == 0) {
    return 0;
  }
  if (req->sel_start < 1 || req->sel_end < 1) {
    snprintf(err, errlen, "selection %d-%d is invalid (lines start at 1)", req->sel_start,
             req->sel_end);
    return -1;
  }
  if (req->sel_start > req->sel_end) {
    snprintf(err, errlen, "selection %d-%d is reversed (start after end)", req->sel_start,
             req->sel_end);
    return -1;
  }
  if (req->sel_end > last) {
    snprintf(err, errlen, "selection %d-%d is past the end of the file (%d lines)",
             req->sel_start, req->sel_end, t->nlines);
    return -1;
  }
  return 0;
}

int package_build(const text_t *text, const pkg_request *req, pkg_result *out, char *err,
                  size_t errlen)
{
  if (out) {
    memset(out, 0, sizeof(*out));
  }
  if (err && errlen) {
    err[0] = '\0';
  }
  char scratch[1];
  if (!err || !errlen) {
    err = scratch;
    errlen = sizeof(scratch);
  }
  if (!text || !req || !out) {
    snprintf(err, errlen, "package_build: missing text, request or result");
    return -1;
  }
  if (validate(text, req, err, errlen) < 0) {
    return -1;
  }
  lang_id lang = req->lang;
  if (lang == LANG_UNKNOWN && req->path) {
    lang = lang_detect(req->path, NULL, text->data, text->len);
  }
  out->lang = lang;

  scan_result own;
  memset(&own, 0, sizeof(own));
  int scanned = lang != LANG_UNKNOWN && scan_file(lang, text, &own) == 0;
  const scan_result *srp = &own;

  int has_sel = req->sel_start > 0;
  int last_line = text->nlines > 0 ? text->nlines : 1;
  scope_kind scope = package_default_scope(req->action, has_sel);
  int s_first = 1, s_last = last_line, scope_def = -1;
  if (scope == SCOPE_SELECTION) {
    s_first = req->sel_start;
    s_last = req->sel_end;
  } else if (scope == SCOPE_FUNCTION) {
    scope_def = scanned ? scan_find_at(srp, req->cursor_line) : -1;
    int hs = req->hint_start, he = req->hint_end;
    int hinted = hs != 0 || he != 0;
    int hint_ok = hs >= 1 && hs <= req->cursor_line && req->cursor_line <= he && he <= last_line;
    const scan_def *found = scope_def >= 0 ? &srp->defs[scope_def] : NULL;
    if (hinted && !hint_ok) {
      out->hint = PKG_HINT_IGNORED;
    } else if (hinted && found && found->kind != DEF_CLASS) {
      /* The scan's function wins: it sees through macros and keeps the doc comment; the
       * hint is compared (bench/treesitter: how often they agree). */
      out->hint = (hs == found->head_line || hs == found->start_line) && he == found->end_line
                    ? PKG_HINT_AGREES
                    : PKG_HINT_DIFFERS;
    } else if (hinted && (!found || (hs >= found->start_line && he <= found->end_line &&
                                     !(hs <= found->head_line && he == found->end_line)))) {
      /* No function at the cursor in the scan (a class body, a language it does not read,
       * `#if 0` code, a declarator it cannot read): the editor's function is the scope. A
       * "function" spanning the whole class is the class misread (`static SQLITE_WSD struct
       * X {...} x = {...};` parses as a function in C's tree-sitter grammar): not taken. */
      out->hint = PKG_HINT_USED;
      scope_def = -1;
    } else if (hinted) {
      out->hint = PKG_HINT_DIFFERS; /* crosses the edge of the scan's class */
    }
    if (out->hint == PKG_HINT_USED) {
      s_first = hs;
      s_last = he;
    } else if (scope_def >= 0) {
      const scan_def *d = &srp->defs[scope_def];
      scope = d->kind == DEF_METHOD ? SCOPE_METHOD
              : d->kind == DEF_CLASS ? SCOPE_CLASS
                                     : SCOPE_FUNCTION;
      s_first = d->start_line < 1 ? 1 : d->start_line;
      s_last = d->end_line > last_line ? last_line : d->end_line;
      if (s_last < s_first) {
        s_last = s_first;
      }
      out->scope_name = d->name ? xstrdup(d->name) : NULL;
    } else {
      scope = SCOPE_LINES;
      s_first = req->cursor_line - PKG_WINDOW_LINES;
      s_last = req->cursor_line + PKG_WINDOW_LINES;
      s_first = s_first < 1 ? 1 : s_first;
      s_last = s_last > last_line ? last_line : s_last;
    }
  }
  out->scope = scope;
  out->start_line = s_first;
  out->end_line = s_last;

  pkg_slots slots = {0};
  slot_lines(slots_push(&slots), text, lang, ITEM_SCOPE, s_first, s_last, out->scope_name);

  for (size_t i = 0; scanned && i < srp->nimports; i++) {
    int a = srp->imports[i].start_line, b = srp->imports[i].end_line;
    /* The part of an import block the scope does not already show: before it and after it. */
    if (a < s_first) {
      int e = b < s_first ? b : s_first - 1;
      pkg_slot *s = slots_push(&slots);
      slot_lines(s, text, lang, ITEM_IMPORTS, a, e, "imports");
    }
    if (b > s_last) {
      int f = a > s_last ? a : s_last + 1;
      pkg_slot *s = slots_push(&slots);
      slot_lines(s, text, lang, ITEM_IMPORTS, f, b, "imports");
    }
  }

  if (scope == SCOPE_METHOD && srp->defs[scope_def].parent >= 0) {
    const scan_def *cls = &srp->defs[srp->defs[scope_def].parent];
    if (cls->kind == DEF_CLASS) {
      int a = cls->head_line, b = header_last_line(text, a, cls->body_line);
      if (b >= s_first) {
        b = s_first - 1;
      }
      if (a <= b) {
        slot_lines(slots_push(&slots), text, lang, ITEM_CLASS_HEADER, a, b, cls->name);
      }
    }
  }

  if (scanned && scope != SCOPE_FILE) {
    /* The scope's calls and the names it uses, from one pass over its lines. */
    name_list used = {0}, calls = {0};
    int want_types = lang != LANG_PYTHON && lang != LANG_LUA;
    scan_calls_and_idents(lang, text, s_first, s_last, collect_call, &calls,
                          want_types ? collect_call : NULL, &used);
    add_types(&slots, text, lang, srp, s_first, s_last, &used);
    add_signatures(&slots, text, lang, srp, scope_def, s_first, s_last, &calls);
    name_list_free(&used);
    name_list_free(&calls);
  }

  for (size_t i = 0; i < req->ndiags && req->diags; i++) {
    add_diagnostic(&slots, &req->diags[i], s_first, s_last);
  }

  int total = 0;
  for (size_t i = 0; i < slots.n; i++) {
    total += slots.v[i].item.tokens;
  }

  /* Items in a stable order: the scope, then file-level context, then per-scope facts
   * (item_kind's order), each kind in file order. */
  qsort(slots.v + 1, slots.n - 1, sizeof(*slots.v), slot_cmp);
  out->items = xcalloc(slots.n, sizeof(pkg_item));
  for (size_t i = 0; i < slots.n; i++) {
    out->items[out->nitems++] = slots.v[i].item;
  }
  free(slots.v);
  out->tokens = total;
  out->file_tokens = tokens_estimate_file(lang, text->data, text->len);
  scan_result_free(&own);
  package_fit(out, req->budget_tokens);
  return 0;
}

/* How far an item lies from the scope: optional items of a kind are dropped farthest first. */
static int item_rank(const pkg_result *r, const pkg_item *it)
{
  return scope_distance(it->start_line, it->end_line, r->start_line, r->end_line);
}

typedef struct {
  int rank;
  size_t idx;
} fit_order;

/* Farthest first; on a tie the earlier item first. */
static int fit_order_cmp(const void *a, const void *b)
{
  const fit_order *x = a, *y = b;
  if (x->rank != y->rank) {
    return x->rank > y->rank ? -1 : 1;
  }
  return (x->idx > y->idx) - (x->idx < y->idx);
}

void package_fit(pkg_result *r, int budget)
{
  static const item_kind order[] = {ITEM_SIGNATURE, ITEM_TYPE, ITEM_IMPORTS, ITEM_CLASS_HEADER};
  if (budget <= 0 || r->nitems == 0) {
    return;
  }
  r->over_budget = r->items[0].tokens > budget;
  char *drop = xcalloc(r->nitems, 1);
  /* Each kind's items in drop order, once: a big scope calls hundreds of functions. */
  fit_order *cand = xmalloc(r->nitems * sizeof(*cand));
  for (size_t o = 0; o < sizeof(order) / sizeof(order[0]) && r->tokens > budget; o++) {
    size_t nc = 0;
    for (size_t i = 1; i < r->nitems; i++) {
      if (r->items[i].kind == order[o]) {
        cand[nc].rank = item_rank(r, &r->items[i]);
        cand[nc++].idx = i;
      }
    }
    qsort(cand, nc, sizeof(*cand), fit_order_cmp);
    for (size_t k = 0; k < nc && r->tokens > budget; k++) {
      drop[cand[k].idx] = 1;
      r->tokens -= r->items[cand[k].idx].tokens;
      r->dropped++;
    }
  }
  free(cand);
  size_t n = 0;
  for (size_t i = 0; i < r->nitems; i++) {
    if (drop[i]) {
      free(r->items[i].label);
      free(r->items[i].text);
    } else {
      r->items[n++] = r->items[i];
    }
  }
  r->nitems = n;
  free(drop);
}

void pkg_result_copy(pkg_result *dst, const pkg_result *src)
{
  *dst = *src;
  dst->scope_name = src->scope_name ? xstrdup(src->scope_name) : NULL;
  dst->items = xcalloc(src->nitems ? src->nitems : 1, sizeof(pkg_item));
  for (size_t i = 0; i < src->nitems; i++) {
    dst->items[i] = src->items[i];
    dst->items[i].label = src->items[i].label ? xstrdup(src->items[i].label) : NULL;
    dst->items[i].text = src->items[i].text ? xstrdup(src->items[i].text) : NULL;
  }
}

void pkg_result_free(pkg_result *r)
{
  if (!r) {
    return;
  }
  for (size_t i = 0; i < r->nitems; i++) {
    free(r->items[i].label);
    free(r->items[i].text);
  }
  free(r->items);
  free(r->scope_name);
  memset(r, 0, sizeof(*r));
}
