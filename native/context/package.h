/* package: builds the focused context for one action at a cursor: the scope (function, method,
 * class, selection, whole file or a window of lines) plus what a model needs to work on it and
 * nothing more, each item with its token estimate, within a token budget. */
#ifndef FRUGAL_CONTEXT_PACKAGE_H
#define FRUGAL_CONTEXT_PACKAGE_H

#include <stddef.h>

#include "context/lang.h"
#include "context/scan.h"
#include "util/text.h"

typedef enum {
  SCOPE_FUNCTION = 0,
  SCOPE_METHOD,
  SCOPE_CLASS,
  SCOPE_SELECTION,
  SCOPE_FILE,
  SCOPE_LINES,
} scope_kind;

typedef enum {
  ITEM_SCOPE = 0,    /* the code the action is about */
  ITEM_IMPORTS,      /* an import/include block */
  ITEM_CLASS_HEADER, /* the enclosing class/struct/impl header (signature line(s) only) */
  ITEM_TYPE,         /* a same-file type (struct, class, enum, interface) the scope names: the
                        whole definition when short, else its header */
  ITEM_SIGNATURE,    /* the signature of a same-file function the scope calls */
  ITEM_FILE,         /* another file in scope (multi-file actions), whole; added by action.c */
  ITEM_DIAGNOSTIC,   /* a diagnostic from the editor inside the scope */
  ITEM_REPO_MAP,     /* the project's ranked outline (multi-file actions); see repomap/ */
} item_kind;

typedef struct {
  int line;      /* 1-based */
  int end_line;  /* 1-based, >= line */
  char *severity; /* owned: "error", "warning", "info", "hint" */
  char *message;  /* owned */
  char *source;   /* owned, may be NULL ("clang", "pyright", ...) */
} pkg_diag;

typedef struct {
  item_kind kind;
  int start_line;
  int end_line;
  int tokens;
  char *label; /* owned: function name, diagnostic severity, "imports", ... */
  char *text;  /* owned: the exact text that would be sent */
} pkg_item;

typedef struct {
  const char *path;   /* for display and language detection; may be NULL */
  lang_id lang;       /* LANG_UNKNOWN: detect from path */
  const char *action; /* "explain", "fix", "refactor", "docs", "implement", "tests", "review",
                         "ask", ... (decides the default scope: see package_default_scope) */
  int cursor_line;    /* 1-based */
  int cursor_col;     /* 1-based, 0 if unknown */
  int sel_start;      /* selection lines (1-based, inclusive); 0 when there is no selection */
  int sel_end;
  const pkg_diag *diags;
  size_t ndiags;
  int budget_tokens;  /* maximum tokens for the whole package; <= 0 means no limit */
  /* The editor's tree-sitter range of the function at the cursor (1-based lines), 0 when
   * none. A hint, checked against the scan: when the scan finds a function or method at the
   * cursor, the scan wins and the hint is only compared (PKG_HINT_AGREES / _DIFFERS); when it
   * finds none (only a class, or a language it does not read: Vimscript), a hint that holds
   * the cursor (and lies inside that class) becomes the scope (PKG_HINT_USED). A hint that
   * does not hold the cursor or leaves the file is ignored (PKG_HINT_IGNORED). */
  int hint_start;
  int hint_end;
} pkg_request;

typedef enum {
  PKG_HINT_NONE = 0, /* no hint, or a scope that is not a function's (selection, file) */
  PKG_HINT_AGREES,   /* same first (or declaration) line and last line as the scan's */
  PKG_HINT_DIFFERS,  /* the scan's function was used */
  PKG_HINT_USED,     /* the scan had no function at the cursor: the hint is the scope */
  PKG_HINT_IGNORED,  /* not a range holding the cursor */
} pkg_hint;

typedef struct {
  lang_id lang;
  scope_kind scope;
  char *scope_name;   /* owned; NULL for selection/file/lines */
  int start_line;
  int end_line;
  pkg_item *items;    /* items[0] is always the ITEM_SCOPE item */
  size_t nitems;
  int tokens;         /* sum of items[].tokens */
  int file_tokens;    /* estimate for the whole file */
  int dropped;        /* number of optional items left out to honour the budget */
  pkg_hint hint;      /* what became of req->hint_start..hint_end */
  int over_budget;    /* 1 if the scope alone exceeds the budget (it is still included whole) */
} pkg_result;

/* Builds the package for `req` over `text`. Returns 0 and fills `out` (free with
 * pkg_result_free), or -1 with a message in `err` (size `errlen`) when the request is invalid
 * (cursor or selection outside the file). */
int package_build(const text_t *text, const pkg_request *req, pkg_result *out, char *err,
                  size_t errlen);
void pkg_result_free(pkg_result *r);

/* Drops optional items from `r` until r->tokens <= budget, exactly as package_build() does for
 * req->budget_tokens: signatures first, then types, imports and the class header, within a kind
 * the farthest from the scope first; the scope, diagnostics and other files are never dropped.
 * Counts them in r->dropped, sets r->over_budget, frees what it drops. budget <= 0: no-op.
 * package_build() with no budget, then package_fit() for each budget, gives every budget's
 * package for the cost of one build. */
void package_fit(pkg_result *r, int budget);
/* Deep copy of `src` into `dst` (free with pkg_result_free). */
void pkg_result_copy(pkg_result *dst, const pkg_result *src);

/* The scope an action starts from: SCOPE_FILE for multi-file actions ("design", "optimize",
 * "refactor-files", "review-all") and for "review" without a selection; SCOPE_SELECTION when
 * there is a selection; otherwise SCOPE_FUNCTION, which package_build() narrows to the
 * definition at the cursor (function, method or class) or widens to SCOPE_LINES when there is
 * none. Unknown and NULL actions behave like "explain". */
scope_kind package_default_scope(const char *action, int has_selection);

const char *scope_kind_name(scope_kind k);
const char *item_kind_name(item_kind k);
/* "agrees", "differs", "used", "ignored" ("none" for PKG_HINT_NONE). */
const char *pkg_hint_name(pkg_hint h);

#endif
