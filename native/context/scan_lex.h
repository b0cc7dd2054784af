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
  TK_GROUP,  /* (...) collapsed into one head token */
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
} scan_lex;

void scan_lex_init(scan_lex *lx, lang_id lang, const char *s, size_t from, size_t to,
                   scan_ctx *sc);
/* Next token; returns 0 at the end. Never reads past `to`. */
int scan_lex_next(scan_lex *lx, scan_tok *t);

#endif
