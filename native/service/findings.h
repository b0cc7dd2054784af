/* findings: the lines "PATH:LINE: [severity] message" (or "PATH:A-B: ...") of a review-all
 * answer, as data for the editor's quickfix list and the CLI's JSON. */
#ifndef FRUGAL_SERVICE_FINDINGS_H
#define FRUGAL_SERVICE_FINDINGS_H

#include <jansson.h>
#include <stddef.h>

/* The findings of text[0..len) as [{"path", "line", "end_line", "severity", "message"}], in
 * answer order. Lines of another shape (prose, "no findings") are skipped; a severity other
 * than error, warning or info, or none, counts as "warning". `end_line` is `line` unless a
 * range was given. A line holding a NUL byte, or whose path holds a control character, is not a
 * finding. Never fails; returns a new reference (an empty array when none). */
json_t *findings_parse(const char *text, size_t len);

#endif
