#include "service/service.h"

#include <stdio.h>

int service_outcome(const frugal_config *cfg, const service_outcome_request *req, char *err,
                    size_t errlen)
{
  if (req->outcome != LEDGER_APPLIED && req->outcome != LEDGER_REJECTED) {
    snprintf(err, errlen, "'outcome' must be \"applied\" or \"rejected\"");
    return -1;
  }
  char path[4096], werr[400];
  if (ledger_path_resolve(NULL, cfg->ledger_path, path, sizeof(path))) {
    snprintf(err, errlen, "no ledger: set ledger.path or HOME");
    return -1;
  }
  if (ledger_append_outcome(path, req->id, req->outcome, werr, sizeof(werr))) {
    snprintf(err, errlen, "cannot write the ledger: %s", werr);
    return -1;
  }
  return 0;
}
