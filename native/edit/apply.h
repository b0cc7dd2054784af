/* apply: checks SEARCH/REPLACE blocks against the text that was sent and turns them into line
 * edits, all or nothing; then (edit_write_all) writes every changed file atomically.
 *
 * Matching, for each block, against the file exactly as it was sent (not as earlier blocks left
 * it, so every edit is in the sent file's lines and the editor can show them as one diff):
 *   1. the SEARCH lines must occur exactly once, byte for byte (a trailing '\r' of a CRLF file's
 *      lines aside);
 *   2. when they occur nowhere, the same comparison with each line's blanks trimmed and inner
 *      runs of blanks counted as one is tried next; a single match is accepted and said in
 *      `notes`, and when the file's indentation differs from the block's by one constant
 *      prefix, the replacement is re-indented by it;
 *   3. no match or several matches, a block naming a file that was not sent, an empty SEARCH
 *      for a file that exists and is not empty, a new file outside the project, or two blocks
 *      touching the same lines refuse the whole proposal, with a message naming the block
 *      number and the file.
 * A block with an empty SEARCH creates a new file (several such blocks are concatenated). */
#ifndef FRUGAL_EDIT_APPLY_H
#define FRUGAL_EDIT_APPLY_H

#include <jansson.h>
#include <stddef.h>

#include "edit/blocks.h"

/* One file as it was sent to the model. */
typedef struct {
  const char *path; /* the path the model saw (the blocks must name it exactly; "./" aside) */
  const char *text; /* the text that was sent; NULL when the file did not exist */
  size_t len;
} edit_source;

typedef struct {
  int start_line;    /* first line replaced, 1-based, in the file as sent */
  int end_line;      /* last line replaced; start_line - 1 when nothing is replaced (an
                        insertion before start_line: a new or empty file) */
  char *replacement; /* owned; whole lines each ending in '\n'; "" deletes the lines */
  size_t replacement_len;
  int block;         /* the block's number in the answer */
  int loose;         /* 1 when matched ignoring blanks */
} edit_hunk;

typedef struct {
  char *path;       /* owned; the path as the blocks name it */
  int source;       /* index in the sources, or -1 for a new file */
  int is_new;
  edit_hunk *edits; /* owned; sorted by start_line, never overlapping */
  size_t nedits;
  char *text;       /* owned; the whole file after the edits (CRLF kept for a CRLF file, a
                       missing final newline kept missing) */
  size_t len;
} edit_file;

typedef struct {
  edit_file *files; /* in the order the answer first names them */
  size_t nfiles;
  char *notes;      /* owned; one line per loosely matched block, "" when none */
} edit_proposal;

/* Matches every block of `blocks` against `sources[0..nsources)`. Returns 0 and fills `out`
 * (free with edit_proposal_free), or -1 with a one-line message in `err` naming the block and
 * the file, and `out` empty: a proposal is never partly matched. */
int edit_match(const edit_blocks *blocks, const edit_source *sources, size_t nsources,
               edit_proposal *out, char *err, size_t errlen);
void edit_proposal_free(edit_proposal *p);

/* The proposal as the CLI's "files" array: [{"path", "new", "edits": [{"start_line",
 * "end_line", "replacement"}]}]. Returns a new reference. */
json_t *edit_proposal_json(const edit_proposal *p);

/* A test hook for edit_write_all: called before each step that changes the disk ("mkdir",
 * "temp", "write", "backup", "rename", "link") with the target's path; a non-zero return makes
 * that step fail as if the system call had (errno EIO). */
typedef int (*edit_write_hook)(const char *step, const char *path, void *data);

typedef struct {
  const char *root;     /* relative paths are resolved against it; NULL: the current dir */
  edit_write_hook hook; /* NULL in production */
  void *hook_data;
} edit_write_opts;

/* Writes every file of `p` or none. First checks all: each existing file must still hold
 * exactly the text that was sent (`sources`, as given to edit_match) and be a regular file;
 * each new file must not exist. Then writes each into a temporary file in its own directory
 * (fsync'd, with the original's mode), links the originals aside, renames the new versions
 * into place and syncs the directories. A failure at any step puts back what was replaced,
 * removes what was created (temporaries, new files, directories it made) and returns -1 with a
 * message naming the file: every file is then byte-identical to before. Returns 0 when all
 * are written. The originals are kept aside as hard links, so a directory whose file system
 * has none refuses the write (nothing changed). Not for the host's loop: it waits on the disk. */
int edit_write_all(const edit_proposal *p, const edit_source *sources, size_t nsources,
                   const edit_write_opts *opts, char *err, size_t errlen);

#endif
