/* plan_context: what the planner (`plan` on Full) sees of the files in scope. It writes no
 * code, so it needs the shape of the code more than its bodies:
 *   - the cursor's function whole (the package's scope), and the rest of its file as an
 *     outline (repomap_outline: imports, types, signatures and doc comments, with line
 *     numbers), which then stands in for the file-level items of the package (imports, class
 *     header, types, signatures): the plan must cite lines of the other functions it touches;
 *   - the other files in scope whole while they total PLAN_CONTEXT_WHOLE_TOKENS or less (an
 *     outline would save little and lose the bodies), else each as its outline, keeping whole
 *     only the functions the goal names (a class it names keeps its methods' signatures).
 * The repo map (repomap/repomap.h) then shows the rest of the project. */
#ifndef FRUGAL_SERVICE_PLAN_CONTEXT_H
#define FRUGAL_SERVICE_PLAN_CONTEXT_H

#include "context/package.h"
#include "service/plan.h"
#include "util/text.h"

#define PLAN_CONTEXT_WHOLE_TOKENS 3000

/* For the `plan` action, shapes `pkg` as said above: `text` is the cursor's file and `shown` its
 * path as the model sees it; the cursor file's outline is left out when it would take `pkg`
 * past `budget` (<= 0: no budget). Outlined items are ITEM_FILE items labelled "PATH (outline)"; the
 * tokens of the items and pkg->tokens follow. Other actions are left alone. Returns the number
 * of files outlined (the cursor's file included). */
int plan_context_shape(const action_request *req, const text_t *text, const char *shown,
                       int budget, pkg_result *pkg);

#endif
