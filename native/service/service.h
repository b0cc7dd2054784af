/* service: what frugal does, one use case at a time, for the two adapters that face the outside
 * (native/host for the editor over msgpack-RPC, native/cli for the shell). An adapter converts
 * its input to a request struct, calls the use case and converts the result back; it decides
 * nothing itself, so the editor and the command line can never answer the same question two
 * ways.
 *
 * Use cases and where they live:
 *   preview / context / route  service/plan.h   action_request -> action_plan, action_preview()
 *   run, again, cancel         service/run.h    action_request -> action_run_callbacks
 *   cost                       below            service_cost_request -> service_cost_result
 *   outcome                    below            service_outcome_request
 *   version                    below            -> service_version
 *
 * Results that travel as data (the host packs them as msgpack, the CLI prints them as JSON) are
 * Jansson objects; their fields are documented in doc/frugal.txt |frugal-rpc|. None of these
 * functions prints; errors come back as one-line messages in `err`. */
#ifndef FRUGAL_SERVICE_SERVICE_H
#define FRUGAL_SERVICE_SERVICE_H

#include <jansson.h>
#include <stddef.h>

#include "config/config.h"
#include "ledger/ledger.h"
#include "ledger/report.h"
#include "service/plan.h"
#include "service/run.h"
#include "util/buf.h"

/* ---- cost: the ledger's report for a period ---- */

typedef struct {
  const char *period;      /* "today", "week", "month", "all", "DATE" or "DATE..DATE"; NULL:
                              `default_period` */
  const char *since;       /* --since DATE: from that day on; excludes `period` */
  const char *ledger_path; /* overrides the config's ledger.path (frugal cost --ledger); NULL */
  const char *default_period;
} service_cost_request;

typedef struct {
  char path[4096];       /* the ledger read */
  ledger_report report;  /* of what could be read */
  buf_t text;            /* the readable table (ledger_report_text) */
  char read_error[400];  /* "" when the whole file was read; else why reading stopped (the
                            report then holds the lines read before) */
} service_cost_result;

/* Reads the ledger for the period and builds its report. Returns 0 with `out` filled (free with
 * service_cost_result_free), also when the file could be read only in part (read_error says
 * why); or -1 with a message in `err` for a bad period or when no ledger path can be found
 * (then `out` needs no freeing). */
int service_cost(const frugal_config *cfg, const service_cost_request *req,
                 service_cost_result *out, char *err, size_t errlen);
void service_cost_result_free(service_cost_result *r);
/* {report, text, path} as the host's `cost` method answers (new reference). */
json_t *service_cost_json(const service_cost_result *r);

/* ---- outcome: what the user did with a proposal ---- */

typedef struct {
  const char *id;          /* the ledger id of the answered request */
  ledger_outcome outcome;  /* LEDGER_APPLIED or LEDGER_REJECTED */
} service_outcome_request;

/* Appends the outcome to the ledger. Returns 0, or -1 with a message in `err`. */
int service_outcome(const frugal_config *cfg, const service_outcome_request *req, char *err,
                    size_t errlen);

/* ---- version ---- */

/* {version, libuv, msgpack, curl, jansson}: this build's version and its libraries' (new
 * reference); `curl` holds the reason when libcurl cannot be loaded. */
json_t *service_version_json(void);

#endif
