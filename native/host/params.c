#include "host/host_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void host_op_free(host_op *op)
{
  for (size_t i = 0; i < op->ndiags; i++) {
    free(op->diags[i].severity);
    free(op->diags[i].message);
    free(op->diags[i].source);
  }
  free(op->diags);
  free(op->path);
  free(op->language);
  free(op->action);
  free(op->instruction);
  for (size_t i = 0; i < op->nfiles; i++) {
    free(op->files[i]);
    free(op->file_texts[i]);
  }
  free(op->files);
  free(op->file_texts);
  free(op->file_lens);
  free(op->file_from_set);
  host_plan_free(op);
  buf_free(&op->text);
  json_decref(op->result);
  action_conv_unref(op->conv);
  host_cfg_unref(op->cfg);
  free(op);
}

/* ---- json -> msgpack ------------------------------------------------------------------------ */

void host_pack_json(msgpack_packer *pk, const json_t *j)
{
  switch (json_typeof(j)) {
  case JSON_OBJECT: {
    msgpack_pack_map(pk, json_object_size(j));
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)j, key, val) {
      rpc_pack_cstr(pk, key);
      host_pack_json(pk, val);
    }
    break;
  }
  case JSON_ARRAY: {
    msgpack_pack_array(pk, json_array_size(j));
    size_t i;
    json_t *val;
    json_array_foreach(j, i, val) {
      host_pack_json(pk, val);
    }
    break;
  }
  case JSON_STRING:
    rpc_pack_str(pk, json_string_value(j), json_string_length(j));
    break;
  case JSON_INTEGER:
    msgpack_pack_int64(pk, json_integer_value(j));
    break;
  case JSON_REAL:
    msgpack_pack_double(pk, json_real_value(j));
    break;
  case JSON_TRUE:
    msgpack_pack_true(pk);
    break;
  case JSON_FALSE:
    msgpack_pack_false(pk);
    break;
  case JSON_NULL:
    msgpack_pack_nil(pk);
    break;
  }
}

/* ---- msgpack params -> requests -------------------------------------------------------------- */

/* Reads an optional string param; a non-string value is an error naming the key. */
int host_param_str(const msgpack_object *params, const char *key, char **out, char *err,
                   size_t errlen)
{
  const char *s;
  size_t n;
  int rc = rpc_map_str(params, key, &s, &n);
  if (rc == RPC_GET_WRONG_TYPE) {
    snprintf(err, errlen, "'%s' must be a string", key);
    return -1;
  }
  *out = rc == RPC_GET_OK ? xstrndup(s, n) : NULL;
  return 0;
}

/* Reads an optional integer param within [lo, hi]; `def` when absent. */
int host_param_int(const msgpack_object *params, const char *key, int64_t lo, int64_t hi,
                   int64_t def, int64_t *out, char *err, size_t errlen)
{
  int rc = rpc_map_int(params, key, out);
  if (rc == RPC_GET_MISSING) {
    *out = def;
    return 0;
  }
  if (rc == RPC_GET_WRONG_TYPE || *out < lo || *out > hi) {
    snprintf(err, errlen, "'%s' must be an integer in [%lld, %lld]", key, (long long)lo,
             (long long)hi);
    return -1;
  }
  return 0;
}

static int parse_diags(host_op *op, const msgpack_object *arr, char *err, size_t errlen)
{
  if (arr->type != MSGPACK_OBJECT_ARRAY) {
    snprintf(err, errlen, "'diagnostics' must be an array");
    return -1;
  }
  if (arr->via.array.size > HOST_MAX_DIAGS) {
    snprintf(err, errlen, "'diagnostics' has more than %d entries", HOST_MAX_DIAGS);
    return -1;
  }
  op->diags = xcalloc(arr->via.array.size, sizeof(pkg_diag));
  for (uint32_t i = 0; i < arr->via.array.size; i++) {
    const msgpack_object *d = &arr->via.array.ptr[i];
    pkg_diag *pd = &op->diags[op->ndiags++];
    int64_t line, end_line;
    char e[160];
    if (d->type != MSGPACK_OBJECT_MAP) {
      snprintf(err, errlen, "diagnostics[%u] must be a map", i + 1);
      return -1;
    }
    if (host_param_int(d, "line", 1, INT32_MAX, 0, &line, e, sizeof(e)) ||
        host_param_int(d, "end_line", 1, INT32_MAX, line, &end_line, e, sizeof(e)) ||
        host_param_str(d, "severity", &pd->severity, e, sizeof(e)) ||
        host_param_str(d, "message", &pd->message, e, sizeof(e)) ||
        host_param_str(d, "source", &pd->source, e, sizeof(e))) {
      snprintf(err, errlen, "diagnostics[%u]: %s", i + 1, e);
      return -1;
    }
    if (line == 0 || !pd->message) {
      snprintf(err, errlen, "diagnostics[%u] needs 'line' and 'message'", i + 1);
      return -1;
    }
    if (!pd->severity) {
      pd->severity = xstrdup("error");
    }
    pd->line = (int)line;
    pd->end_line = end_line < line ? (int)line : (int)end_line;
  }
  return 0;
}

int host_params_lines(buf_t *out, const msgpack_object *arr, char *err, size_t errlen)
{
  if (arr->type != MSGPACK_OBJECT_ARRAY) {
    snprintf(err, errlen, "'lines' must be an array of strings");
    return -1;
  }
  for (uint32_t i = 0; i < arr->via.array.size; i++) {
    const char *s;
    size_t n;
    if (rpc_obj_str(&arr->via.array.ptr[i], &s, &n) != RPC_GET_OK) {
      snprintf(err, errlen, "lines[%u] is not a string", i + 1);
      return -1;
    }
    buf_append(out, s, n);
    buf_putc(out, '\n');
  }
  return 0;
}

/* One entry of `files`: a path (named by the user, read from disk), or a map {path, text |
 * lines (the editor's unsaved text, sent instead of the disk's), from: "named" | "buffers" |
 * "args" | "quickfix" | "changed" (a set: outside the project it is left out)}. */
static int parse_file(host_op *op, const msgpack_object *o, uint32_t n, int *nfiles, char *err,
                      size_t errlen)
{
  const char *s = NULL;
  size_t len = 0;
  buf_t text = BUF_INIT;
  int have_text = 0, from_set = 0;
  if (o->type == MSGPACK_OBJECT_MAP) {
    if (rpc_map_str(o, "path", &s, &len) != RPC_GET_OK || len == 0) {
      snprintf(err, errlen, "files[%u].path must be a non-empty string", n);
      return -1;
    }
    const char *t, *from;
    size_t tlen, flen;
    int trc = rpc_map_str(o, "text", &t, &tlen);
    const msgpack_object *lines = rpc_map_get(o, "lines");
    if (trc == RPC_GET_WRONG_TYPE) {
      snprintf(err, errlen, "files[%u].text must be a string", n);
      return -1;
    }
    if (trc == RPC_GET_OK) {
      buf_append(&text, t, tlen);
      have_text = 1;
    } else if (lines && lines->type != MSGPACK_OBJECT_NIL) {
      char lerr[256];
      if (host_params_lines(&text, lines, lerr, sizeof(lerr))) {
        snprintf(err, errlen, "files[%u].lines: %s", n, lerr);
        buf_free(&text);
        return -1;
      }
      have_text = 1;
    }
    int frc = rpc_map_str(o, "from", &from, &flen);
    if (frc == RPC_GET_WRONG_TYPE) {
      snprintf(err, errlen, "files[%u].from must be a string", n);
      buf_free(&text);
      return -1;
    }
    if (frc == RPC_GET_OK) {
      static const char *const sets[] = {"buffers", "args", "quickfix", "changed"};
      int known = flen == 5 && memcmp(from, "named", 5) == 0;
      for (size_t k = 0; k < sizeof(sets) / sizeof(sets[0]); k++) {
        if (strlen(sets[k]) == flen && memcmp(sets[k], from, flen) == 0) {
          known = from_set = 1;
        }
      }
      if (!known) {
        snprintf(err, errlen,
                 "files[%u].from must be \"named\", \"buffers\", \"args\", \"quickfix\" or "
                 "\"changed\"", n);
        buf_free(&text);
        return -1;
      }
    }
  } else if (rpc_obj_str(o, &s, &len) != RPC_GET_OK) {
    snprintf(err, errlen, "files[%u] is not a string or a {path, text, from} map", n);
    return -1;
  }
  /* The current file listed again is not another file. */
  if (op->path && strlen(op->path) == len && memcmp(op->path, s, len) == 0) {
    buf_free(&text);
    return 0;
  }
  (*nfiles)++;
  size_t k = op->nfiles++;
  op->files = xrealloc(op->files, op->nfiles * sizeof(char *));
  op->file_texts = xrealloc(op->file_texts, op->nfiles * sizeof(char *));
  op->file_lens = xrealloc(op->file_lens, op->nfiles * sizeof(size_t));
  op->file_from_set = xrealloc(op->file_from_set, op->nfiles);
  op->files[k] = xstrndup(s, len);
  op->file_lens[k] = text.len;
  op->file_texts[k] = have_text ? (text.data ? buf_detach(&text) : xstrdup("")) : NULL;
  op->file_from_set[k] = (unsigned char)from_set;
  buf_free(&text);
  return 0;
}

int host_params_action(host_op *op, const msgpack_object *p, char *err, size_t errlen)
{
  if (p->type != MSGPACK_OBJECT_MAP) {
    snprintf(err, errlen, "params must be a map");
    return -1;
  }
  char *tier = NULL;
  int64_t line, col, s0, s1, bufnr, h0, h1;
  if (host_param_str(p, "path", &op->path, err, errlen) ||
      host_param_str(p, "filetype", &op->language, err, errlen) ||
      host_param_str(p, "action", &op->action, err, errlen) ||
      host_param_str(p, "instruction", &op->instruction, err, errlen) ||
      host_param_int(p, "line", 1, INT32_MAX, 0, &line, err, errlen) ||
      host_param_int(p, "col", 0, INT32_MAX, 0, &col, err, errlen) ||
      host_param_int(p, "sel_start", 0, INT32_MAX, 0, &s0, err, errlen) ||
      host_param_int(p, "sel_end", 0, INT32_MAX, 0, &s1, err, errlen) ||
      host_param_int(p, "bufnr", 0, INT32_MAX, -1, &bufnr, err, errlen) ||
      host_param_int(p, "hint_start", 0, INT32_MAX, 0, &h0, err, errlen) ||
      host_param_int(p, "hint_end", 0, INT32_MAX, 0, &h1, err, errlen) ||
      host_param_str(p, "tier", &tier, err, errlen)) {
    free(tier);
    return -1;
  }
  const msgpack_object *plan = rpc_map_get(p, "plan");
  if (plan && plan->type != MSGPACK_OBJECT_NIL) {
    /* a step of the editor's plan: the step gives the action, the path and the line */
    if (host_params_plan(op, plan, err, errlen)) {
      free(tier);
      return -1;
    }
    if (line == 0) {
      line = 1;
    }
  }
  if (!op->action && !op->plan_n) {
    snprintf(err, errlen, "'action' is required");
    free(tier);
    return -1;
  }
  if (line == 0) {
    snprintf(err, errlen, "'line' is required (1-based)");
    free(tier);
    return -1;
  }
  int forced = -1;
  if (tier) {
    forced = tier_from_name(tier);
    free(tier);
    if (forced < 0) {
      snprintf(err, errlen, "'tier' must be \"mini\" or \"full\"");
      return -1;
    }
  }
  int bo = 0;
  if (rpc_map_bool(p, "budget_override", &bo) == RPC_GET_WRONG_TYPE) {
    snprintf(err, errlen, "'budget_override' must be a boolean");
    return -1;
  }
  op->budget_override = bo;
  if ((s0 == 0) != (s1 == 0)) {
    snprintf(err, errlen, "'sel_start' and 'sel_end' go together");
    return -1;
  }
  int nfiles = 1;
  const msgpack_object *files = rpc_map_get(p, "files");
  if (files && files->type != MSGPACK_OBJECT_NIL) {
    if (files->type != MSGPACK_OBJECT_ARRAY || files->via.array.size > HOST_MAX_FILES) {
      snprintf(err, errlen, "'files' must be an array of at most %d paths", HOST_MAX_FILES);
      return -1;
    }
    for (uint32_t i = 0; i < files->via.array.size; i++) {
      if (parse_file(op, &files->via.array.ptr[i], i + 1, &nfiles, err, errlen)) {
        return -1;
      }
    }
  }
  const msgpack_object *diags = rpc_map_get(p, "diagnostics");
  if (diags && diags->type != MSGPACK_OBJECT_NIL && parse_diags(op, diags, err, errlen)) {
    return -1;
  }
  const msgpack_object *lines = rpc_map_get(p, "lines");
  const char *text;
  size_t tlen;
  int trc = rpc_map_str(p, "text", &text, &tlen);
  if (trc == RPC_GET_WRONG_TYPE) {
    snprintf(err, errlen, "'text' must be a string");
    return -1;
  }
  if (trc == RPC_GET_OK) {
    buf_append(&op->text, text, tlen);
    op->have_text = 1;
  } else if (lines && lines->type != MSGPACK_OBJECT_NIL) {
    if (host_params_lines(&op->text, lines, err, errlen)) {
      return -1;
    }
    op->have_text = 1;
  } else if (bufnr < 0) {
    snprintf(err, errlen, "one of 'bufnr', 'lines' or 'text' is required");
    return -1;
  }
  op->bufnr = bufnr;
  op->req = (action_request){
    .path = op->path,
    .language = op->language,
    .action = op->action,
    .line = (int)line,
    .col = (int)col,
    .sel_start = (int)(s0 < s1 ? s0 : s1),
    .sel_end = (int)(s0 < s1 ? s1 : s0),
    .hint_start = (int)h0,
    .hint_end = (int)h1,
    .nfiles = nfiles,
    .forced_tier = forced,
    .diags = op->diags,
    .ndiags = op->ndiags,
    .instruction = op->instruction,
    .budget_override = op->budget_override,
    .files = (const char *const *)op->files,
    .nfile_paths = op->nfiles,
    .file_texts = (const char *const *)op->file_texts,
    .file_text_lens = op->file_lens,
    .file_from_set = op->file_from_set,
    /* The plan is built on the thread pool (dispatch.c), so the map's walk may run there,
     * with the host's one cache. A host without a loop (unit tests, the fuzz target) does its
     * disk work inline: no walk of the project there. */
    .repo_map = op->h != NULL && op->h->loop != NULL,
    .mapshare = op->h ? op->h->mapshare : NULL,
  };
  return 0;
}

