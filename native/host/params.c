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
  }
  free(op->files);
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

int host_params_action(host_op *op, const msgpack_object *p, char *err, size_t errlen)
{
  if (p->type != MSGPACK_OBJECT_MAP) {
    snprintf(err, errlen, "params must be a map");
    return -1;
  }
  char *tier = NULL;
  int64_t line, col, s0, s1, bufnr;
  if (host_param_str(p, "path", &op->path, err, errlen) ||
      host_param_str(p, "filetype", &op->language, err, errlen) ||
      host_param_str(p, "action", &op->action, err, errlen) ||
      host_param_str(p, "instruction", &op->instruction, err, errlen) ||
      host_param_int(p, "line", 1, INT32_MAX, 0, &line, err, errlen) ||
      host_param_int(p, "col", 0, INT32_MAX, 0, &col, err, errlen) ||
      host_param_int(p, "sel_start", 0, INT32_MAX, 0, &s0, err, errlen) ||
      host_param_int(p, "sel_end", 0, INT32_MAX, 0, &s1, err, errlen) ||
      host_param_int(p, "bufnr", 0, INT32_MAX, -1, &bufnr, err, errlen) ||
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
      const char *s;
      size_t n;
      if (rpc_obj_str(&files->via.array.ptr[i], &s, &n) != RPC_GET_OK) {
        snprintf(err, errlen, "files[%u] is not a string", i + 1);
        return -1;
      }
      /* The current file listed again is not another file. */
      if (!op->path || strlen(op->path) != n || memcmp(op->path, s, n) != 0) {
        nfiles++;
        op->files = xrealloc(op->files, (op->nfiles + 1) * sizeof(char *));
        op->files[op->nfiles++] = xstrndup(s, n);
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
    .nfiles = nfiles,
    .forced_tier = forced,
    .diags = op->diags,
    .ndiags = op->ndiags,
    .instruction = op->instruction,
    .budget_override = op->budget_override,
    .files = (const char *const *)op->files,
    .nfile_paths = op->nfiles,
  };
  return 0;
}

