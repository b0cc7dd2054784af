#include "service/service.h"

#include <stdio.h>
#include <string.h>

int service_cost(const frugal_config *cfg, const service_cost_request *req,
                 service_cost_result *out, char *err, size_t errlen)
{
  memset(out, 0, sizeof(*out));
  int64_t since, until, now = ledger_now_ms();
  char perr[300];
  if (req->since) {
    if (req->period) {
      snprintf(err, errlen, "give either a period or --since, not both");
      return -1;
    }
    char range[64];
    snprintf(range, sizeof(range), "%s..9999-12-31", req->since);
    if (ledger_period_parse(range, now, &since, &until, perr, sizeof(perr))) {
      snprintf(err, errlen, "--since: %s", perr);
      return -1;
    }
  } else {
    const char *spec = req->period ? req->period : req->default_period ? req->default_period : "all";
    if (ledger_period_parse(spec, now, &since, &until, err, errlen)) {
      return -1;
    }
  }
  if (ledger_path_resolve(req->ledger_path, cfg->ledger_path, out->path, sizeof(out->path))) {
    snprintf(err, errlen, "no ledger: set ledger.path in the config, --ledger FILE, or HOME");
    return -1;
  }
  ledger_entries l;
  if (ledger_read(out->path, since, until, &l, out->read_error, sizeof(out->read_error)) == 0) {
    out->read_error[0] = '\0';
  }
  ledger_report_build(&out->report, &l, since, until);
  ledger_entries_free(&l);
  ledger_report_text(&out->report, &out->text);
  return 0;
}

void service_cost_result_free(service_cost_result *r)
{
  ledger_report_free(&r->report);
  buf_free(&r->text);
}

json_t *service_cost_json(const service_cost_result *r)
{
  json_t *o = json_object();
  json_object_set_new(o, "report", ledger_report_json(&r->report));
  json_object_set_new(o, "text", action_json_text(r->text.data ? r->text.data : "", r->text.len));
  json_object_set_new(o, "path", json_string(r->path));
  return o;
}
