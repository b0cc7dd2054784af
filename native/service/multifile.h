/* multifile: a multi-file edit answer (SEARCH/REPLACE blocks, edit/blocks.h) checked against
 * exactly the texts a plan sent, and written all or nothing.
 *
 * The texts sent are the file at the cursor (the whole file when the package's scope is the
 * file, else the scope's lines, whose edits are then given in the file's own lines) and every
 * "file" item of the package (other files in scope, as read from disk or as the editor gave
 * them). The model names files by the paths it saw (relative to the plan's root). */
#ifndef FRUGAL_SERVICE_MULTIFILE_H
#define FRUGAL_SERVICE_MULTIFILE_H

#include <jansson.h>
#include <stddef.h>

#include "edit/apply.h"
#include "service/plan.h"

typedef struct {
  edit_proposal prop;    /* edits in the lines of each file as sent; texts whole files */
  edit_source *sources;  /* the files as they are to be found on disk before writing: paths
                            and texts owned */
  size_t nsources;
  char *root;            /* owned; relative paths resolve against it; NULL: the current dir */
} multifile_edits;

/* 1 when `text` holds a SEARCH marker line: an answer of a markdown action (optimize, design)
 * that carries code as blocks. */
int multifile_has_blocks(const char *text, size_t len);

/* Parses answer[0..len) and matches every block against what `plan` sent. Returns 0 and fills
 * `out` (free with multifile_edits_free), or -1 with a one-line message naming the block and
 * the file (the whole proposal refused; `out` left empty). */
int multifile_check(const action_plan *plan, const char *answer, size_t len,
                    multifile_edits *out, char *err, size_t errlen);
void multifile_edits_free(multifile_edits *m);

/* The result's "files": [{"path", "new", "edits": [{"start_line", "end_line",
 * "replacement"}]}]. New reference. */
json_t *multifile_files_json(const multifile_edits *m);

/* Writes every changed file or none (edit_write_all: each file still as sent, temporary file
 * and rename). Returns 0, or -1 with a message naming the file; every file is then
 * byte-identical to before. Waits on the disk: never on the host's loop. */
int multifile_apply(const multifile_edits *m, char *err, size_t errlen);

#endif
