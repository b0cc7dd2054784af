/* chunks: a file too big for Mini's context budget, reviewed on Mini in pieces.
 *
 * The article routes "code review one file" to Mini; a file whose package is over Mini's
 * budget would otherwise go whole to Full. Instead it is cut between top-level definitions
 * (never inside one) into consecutive line ranges that cover every line of the file exactly
 * once, each small enough for Mini with its context: the file's imports and the types and
 * signatures the lines use (package_build on the range as a selection). Each piece gets the
 * review prompt for its lines, so its findings carry the file's real line numbers. */
#ifndef FRUGAL_SERVICE_CHUNKS_H
#define FRUGAL_SERVICE_CHUNKS_H

#include <stddef.h>

#include "service/plan.h"

/* When `plan` (built, routed, before its prompt) is a review of a whole file that went to
 * Full only because it is over Mini's budget (no tier forced or configured, one file, no
 * selection, a language the scanner knows), splits it into chunks (plan->chunks), each with
 * its package and prompt, and routes the plan to Mini with the estimate for all the chunks and
 * a reason saying so. Returns the number of chunks (0: not chunked, the plan unchanged), or -1
 * with a message. */
int chunks_plan(const frugal_config *cfg, const action_request *req, action_plan *plan,
                char *err, size_t errlen);
void chunks_free(action_plan *plan);

/* Cuts the file `text` (language `lang`) into ranges of whole top-level definitions of at most
 * `max_tokens` code tokens each (a single definition larger than that is a range of its own),
 * covering lines 1..nlines once, in order. Returns the number of ranges written to
 * `out` (xmalloc'd pairs start,end; caller frees), 0 when the file has no lines. */
size_t chunks_cut(lang_id lang, const text_t *text, int max_tokens, int **out);

#endif
