/* blocks: parses a model's multi-file edit answer written as SEARCH/REPLACE blocks.
 *
 * The format (what the prompt asks for; doc/frugal.txt |frugal-edit-blocks|):
 *
 *     src/util.c
 *     ```c
 *     <<<<<<< SEARCH
 *     exact current lines
 *     =======
 *     new lines
 *     >>>>>>> REPLACE
 *     ```
 *
 * The path stands alone on the last non-blank line before the fence (surrounding backticks,
 * `**` and a trailing ':' are tolerated, as models write them), or on the fence's first line
 * right before its first SEARCH marker. A fence may hold several blocks (blank lines between
 * them); several fences may name the same file; prose outside fences is ignored. An empty
 * SEARCH part creates a new file. Inside a block every line is content, fences included, so a
 * block may edit markdown.
 *
 * Every malformed shape is an error naming the block number (1-based, counted over the whole
 * answer), the path and the answer's line: a marker outside a block, a block left open, a
 * missing or repeated `=======`, a SEARCH inside a block, text after a marker, text between
 * blocks in a fence, a fence without blocks, a fence left open, a missing path, a carriage
 * return, a NUL byte, an answer with no blocks. */
#ifndef FRUGAL_EDIT_BLOCKS_H
#define FRUGAL_EDIT_BLOCKS_H

#include <stddef.h>

#include "util/buf.h"

typedef struct {
  int number;       /* 1-based, in answer order */
  int line;         /* answer line of the SEARCH marker (1-based) */
  char *path;       /* owned; as the model wrote it (trimmed), never empty */
  char *search;     /* owned; whole lines, each ending in '\n'; "" for a new file */
  size_t search_len;
  int search_lines;
  char *replace;    /* owned; whole lines, each ending in '\n'; may be "" (a deletion) */
  size_t replace_len;
  int replace_lines;
} edit_block;

typedef struct {
  edit_block *v;
  size_t n;
} edit_blocks;

/* Parses answer[0..len). Returns 0 and fills `out` (at least one block; free with
 * edit_blocks_free), or -1 with a one-line message in `err` (`out` left empty and valid). */
int edit_blocks_parse(const char *answer, size_t len, edit_blocks *out, char *err,
                      size_t errlen);
void edit_blocks_free(edit_blocks *b);

/* The instructions a prompt gives the model for answering in blocks, ending with a worked
 * example that edit_blocks_parse() accepts (a unit test holds the two to each other). Static
 * text, "\n"-terminated. */
const char *edit_blocks_rules(void);

/* Appends `b` to `out` in the canonical form above, one fence per block. Parsing the result
 * gives the same blocks (the fuzz target checks it). */
void edit_blocks_format(const edit_blocks *b, buf_t *out);

#endif
