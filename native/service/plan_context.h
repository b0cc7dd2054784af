/* plan_context: what the planner (`plan` on Full) sees of the files in scope. It writes no
 * code, so it needs the shape of the code more than its bodies: when the other files in scope
 * are larger together than PLAN_CONTEXT_WHOLE_TOKENS, each is sent as its outline
 * (repomap_outline: imports, types, signatures and doc comments, with line numbers), keeping
 * whole only the definitions the goal names; smaller sets stay whole, since an outline would
 * save nothing. The cursor's function is the package's scope and stays whole. */
#ifndef FRUGAL_SERVICE_PLAN_CONTEXT_H
#define FRUGAL_SERVICE_PLAN_CONTEXT_H

#include "context/package.h"
#include "service/plan.h"

#define PLAN_CONTEXT_WHOLE_TOKENS 3000

/* For the `plan` action, turns the ITEM_FILE items of `pkg` into outlines as said above (their
 * label gains " (outline)", their tokens and pkg->tokens the outline's estimate). Other actions
 * are left alone. Returns the number of files outlined. */
int plan_context_shape(const action_request *req, pkg_result *pkg);

#endif
