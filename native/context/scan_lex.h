/* scan_lex: the tokenizer shared by the brace-structured languages (C, C++, Java, JavaScript,
 * TypeScript, Go, Rust). It skips whitespace, comments, preprocessor lines and the inside of
 * every kind of string, and hands out identifiers, literals and punctuation. Not a contract. */
#ifndef FRUGAL_CONTEXT_SCAN_LEX_H
#define FRUGAL_CONTEXT_SCAN_LEX_H

#include <stddef.h>

#include "context/scan_int.h"

enum {
  TK_IDENT = 1,
  TK_NUM,
  TK_STR,
  TK_PUNCT,
  TK_GROUP,  /* (...) collapsed into one head token (from the lexer only with elide_groups) */
  TK_BGROUP, /* [...] */
  TK_CGROUP, /* {...} that did not end the statement (initialiser, object literal) */
};

/* Multi-character punctuation; single characters use their own code. */
enum {
  P_SCOPE = 256, /* :: */
  P_FATARROW,    /* => */
  P_ARROW,       /* -> */
  P_OPEQ,        /* == != <= >= += -= ... */
  P_ELLIPSIS,    /* ... */
  P_INCDEC,      /* ++ -- */
  P_VSEMI,       /* a semicolon Go inserts at a line end */
};

typedef struct {
  int type;
  int ch;     /* punctuation code for TK_PUNCT */
  size_t off; /* [off, end) in the source */
  size_t end;
} scan_tok;

#define SCAN_TMPL_MAX 32
#define SCAN_PP_MAX 64

typedef struct {
  lang_id lang;
  const char *s;
  size_t len;
  size_t p;
  scan_ctx *sc; /* receives comments and #include lines; NULL when only lexing */
  int bol;      /* only whitespace since the last newline */
  int prev_type, prev_ch;
  size_t prev_off, prev_end;
  int ntmpl;                       /* open `${` of JS template literals */
  int tmpl_depth[SCAN_TMPL_MAX];   /* braces opened inside each of them */
  long braces;                     /* '{' minus '}' seen so far */
  int npp;                         /* open #if conditionals */
  long pp_depth[SCAN_PP_MAX];      /* `braces` when each of them opened */
  unsigned char cfam, js, go, rust, java;
  /* C/C++ only, set by a caller that ignores what is inside brackets: a bracket group with no
   * brace, comment or preprocessor line in it comes out as one TK_GROUP/TK_BGROUP token
   * spanning it, its inside skipped without making tokens. */
  unsigned char elide_groups;
  size_t no_elide_until; /* groups opening before this offset were found unsuitable */
  /* C only, for a caller that reads nothing inside a function body but its nesting: end a
   * batch after each `{` (so the caller can set body_depth before more is lexed), and while
   * body_depth > 0 hand out only the body's `{` and `}` tokens, found by a scan for the six
   * bytes that can start a brace, string, character literal, comment or preprocessor line.
   * Comments, #include lines and conditionals are handled as everywhere else. body_depth
   * counts the braces open in the body; it drops to 0 after the one that closes it. */
  unsigned char stop_after_brace;
  long body_depth;
  size_t body_floor;     /* where the body's scan began (just after its `{`) */
  size_t body_ncomments; /* comments recorded before it */
} scan_lex;

void scan_lex_init(scan_lex *lx, lang_id lang, const char *s, size_t from, size_t to,
                   scan_ctx *sc);
/* Next token; returns 0 at the end. Never reads past `to`. */
int scan_lex_next(scan_lex *lx, scan_tok *t);
/* Up to `max` next tokens into out[]; returns how many (0 only at the end). The same tokens
 * as repeated scan_lex_next calls, without a call per token. */
size_t scan_lex_fill(scan_lex *lx, scan_tok *out, size_t max);
/* C: the `{` just handed out (the last token of a batch, see stop_after_brace) opens a function
 * body; from here until its matching `}` only braces come out. */
void scan_lex_enter_body(scan_lex *lx);

#endif
