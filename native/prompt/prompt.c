/* prompt: the instruction texts for each action and how a request is laid out around them.
 *
 * The layout serves provider prompt caches, which match on an exact byte prefix:
 *   system  = role, the one task of the action, the input layout, the output format, the rules.
 *             Built only from constant text, so it is identical for every request of an action.
 *   context = the file-level items of the package (path, language, imports, class header, types,
 *             signatures; for tests the style sample), each labelled, in a fixed order and
 *             without any line number, so two requests on the same file share it whenever those
 *             items are the same, wherever the scope is.
 *   task    = everything that changes with the cursor: the scope's code and lines, diagnostics,
 *             the user's instruction and a reminder of the output format. */
#include "prompt/prompt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edit/blocks.h"
#include "util/buf.h"

typedef enum {
  PA_EXPLAIN = 0,
  PA_FIX,
  PA_REFACTOR,
  PA_DOCS,
  PA_IMPLEMENT,
  PA_TESTS,
  PA_REVIEW,
  PA_ASK,
  PA_DESIGN,
  PA_OPTIMIZE,
  PA_REFACTOR_FILES,
  PA_REVIEW_ALL,
  PA_PLAN,
} prompt_action_id;

typedef struct {
  const char *name;
  prompt_action_id id;
  prompt_output output;
  const char *role;      /* who the model is for this action: one sentence */
  const char *task;      /* the single focused task */
  const char *format;    /* the exact output format */
  const char *rules;     /* what to do and not to do, beyond the output kind's shared rules */
  int needs_instruction; /* 1: the request is meaningless without the user's text */
  int multi_file;        /* a Full-tier action over several files */
} prompt_action;

/* ---- Shared text ---------------------------------------------------------------------------- */

static const char input_layout[] =
    "# Input\n"
    "The request comes in two parts.\n"
    "1. File context, for reference only: the file's path and language, then, when they matter, "
    "its imports, the header of the enclosing class, same-file types the code uses and the "
    "signatures of same-file functions it calls. Do not change it and do not repeat it.\n"
    "2. The task: the code to work on, in a fenced block introduced by a line "
    "\"Code: lines A-B of PATH\" (A and B are the file's own line numbers, counted from 1), the "
    "editor's diagnostics for those lines if any, the user's instruction if any, and a reminder "
    "of the output format.\n";

/* The multi-file actions' context holds more than the file at the cursor. */
static const char input_layout_project[] =
    "# Input\n"
    "The request comes in two parts.\n"
    "1. Project context, for reference only: the path and language of the file at the cursor, "
    "then, when there are any, its file-level items (imports, types, signatures), the files in "
    "scope, each whole or as an outline (\"PATH (outline)\": its imports, types, signatures "
    "and doc comments, each line after its line number and \"| \", with \"...\" for the lines "
    "left out), and a repo map: signatures defined elsewhere in the project, by file. Do not "
    "change it and do not repeat it.\n"
    "2. The task: the code at the cursor, in a fenced block introduced by a line "
    "\"Code: lines A-B of PATH\" (A and B are the file's own line numbers, counted from 1), the "
    "editor's diagnostics for those lines if any, the user's instruction if any, and a reminder "
    "of the output format.\n";

static const char input_sample[] =
    "The file context may end with the first lines of an existing test file of the project, "
    "as a sample of its test style.\n";

static const char input_numbered[] =
    "In the code block, every line starts with its line number in the file followed by \"| \"; "
    "that prefix is not part of the code. Cite lines by these numbers.\n";

static const char rules_replace[] =
    "- Your block replaces lines A-B exactly: it holds every line of the range that stays, changed "
    "or not, and nothing from outside the range. Never a diff, never only the changed lines.\n"
    "- Keep the name, parameters and return type of every function in the range unless the "
    "instruction asks to change them.\n"
    "- Never elide code: no \"...\", no comments such as \"rest unchanged\" or \"existing code "
    "here\". Never leave a placeholder, a stub or a TODO where the work was asked for.\n"
    "- Make no unrelated changes: no renaming, reformatting, reordering or extra features.\n"
    "- Keep the code's indentation (the first line of the block is indented as line A is), "
    "naming and comment style.\n"
    "- Use only what the code, the file context and the language's standard library provide. If "
    "you need a helper, define it inside the block, before its first use.\n"
    "- No explanations inside the code block; comments in the code only where they say why.\n"
    "- Do not repeat the file context or the task.\n";

static const char format_replace_block[] =
    "exactly one fenced code block, opened with ``` and the language's name, holding the complete "
    "replacement for lines A-B. Nothing after the block.\n";

static const char rules_markdown[] =
    "- Refer to code by its line numbers (\"line 12\", \"lines 12-15\").\n"
    "- Do not repeat the code or the file context; quote at most a line or two where it helps.\n"
    "- Any code you write is complete: never elided with \"...\" or \"rest unchanged\".\n";

/* ---- The actions ---------------------------------------------------------------------------- */

static const prompt_action actions[] = {
    {"explain", PA_EXPLAIN, PROMPT_OUT_MARKDOWN,
     "You are a senior software engineer explaining code to a colleague who is about to change "
     "it.",
     "Explain the given code: what it is for, what it takes and returns, how it works step by "
     "step, its side effects, and anything non-obvious (edge cases, assumptions, error "
     "handling).\n",
     "Markdown. First one sentence that says what the code is for. Then a short list of the main "
     "steps in order, each citing its lines (\"lines 12-15: ...\"). Then, only if there is "
     "something non-obvious, a section \"Watch out\" with at most 3 bullets. At most 300 words in "
     "all.\n",
     "- Explain; do not rewrite the code or propose changes, except to name a clear bug in one "
     "sentence.\n",
     0, 0},
    {"fix", PA_FIX, PROMPT_OUT_REPLACE,
     "You are a senior software engineer fixing one defect in one piece of code.",
     "Fix the defect in the given code. When diagnostics are given, fix exactly the problems they "
     "report, at their cause. When none are given, fix the bug the user describes; when the user "
     "describes none, find the most likely defect and fix that one. Make the smallest change "
     "that fixes it.\n",
     "One sentence that names the defect and how you fixed it, then ",
     "- Fix only the defect: keep everything else as it is, including code you would write "
     "differently.\n"
     "- Do not silence a diagnostic (casts, pragmas, suppressions) instead of fixing its cause.\n",
     0, 0},
    {"refactor", PA_REFACTOR, PROMPT_OUT_REPLACE,
     "You are a senior software engineer refactoring one piece of code.",
     "Refactor the given code as the user's instruction says. Without an instruction, improve "
     "its clarity (names of local variables, structure, duplication, nesting) without changing "
     "its behaviour.\n",
     "At most one sentence that says what you changed, then ",
     "- Behaviour stays exactly the same for every caller: same results, side effects, errors "
     "and performance class, unless the instruction asks otherwise.\n",
     0, 0},
    {"docs", PA_DOCS, PROMPT_OUT_REPLACE,
     "You are a senior software engineer writing API documentation.",
     "Write the documentation comment for the given code: what it does, each parameter, the "
     "return value, the errors it raises or returns, and side effects or ownership worth "
     "knowing. Use the convention the task names for the language:\n"
     "- C, C++, Java, JavaScript, TypeScript: a /** ... */ block directly above the declaration "
     "(Doxygen @param/@return for C and C++, Javadoc @param/@return/@throws for Java, "
     "JSDoc/TSDoc @param/@returns/@throws for JavaScript and TypeScript).\n"
     "- Python: a docstring in triple double quotes as the first statement of the body, indented "
     "with the body, with Args/Returns/Raises sections where they apply.\n"
     "- Rust: /// lines directly above the item, with # Errors and # Panics sections where they "
     "apply.\n"
     "- Go: // lines directly above the declaration; the first sentence starts with the name.\n"
     "- Lua: LuaLS --- annotations above the function: a description line, then ---@param name "
     "type description and ---@return type description.\n",
     "Exactly one fenced code block, opened with ``` and the language's name, holding the "
     "complete replacement for lines A-B: the code unchanged with its documentation comment. "
     "Nothing before or after the block.\n",
     "- Leave the code itself exactly as it is, byte for byte: add or replace only documentation "
     "comments.\n"
     "- If the code already has a documentation comment, rewrite that one; never add a second.\n"
     "- When the range holds several definitions (a class, a selection), document each public "
     "one.\n"
     "- Describe what the code does, not what you wish it did; no invented parameters, errors "
     "or examples.\n",
     0, 0},
    {"implement", PA_IMPLEMENT, PROMPT_OUT_REPLACE,
     "You are a senior software engineer implementing one function.",
     "Implement the given code: complete the stub (an empty body, a TODO, a body that only "
     "raises or returns \"not implemented\") or write what the comment in the code describes. "
     "Follow its signature, its comment and the types in the file context exactly.\n",
     "At most one sentence on any assumption you had to make, then ",
     "- Write complete, working code that handles the error cases the comment or the signature "
     "implies.\n"
     "- Keep the describing comment; remove only a TODO line that your code now fulfils.\n",
     0, 0},
    {"tests", PA_TESTS, PROMPT_OUT_TESTS, "You are a senior software engineer writing unit tests.",
     "Write unit tests for the functions and methods in the given code, with the framework and "
     "for the test file the task names. Cover the normal cases, the edge cases (empty input, "
     "zero, boundaries, the largest values) and the error paths (invalid input, failures the "
     "code reports), plus any cases the user lists.\n",
     "Exactly one fenced code block, opened with ``` and the language's name, and nothing before "
     "or after it. When the task says the test file exists, the block holds only the new tests, "
     "to be appended at the end of that file: nothing the file already has (imports, fixtures, "
     "helpers). When the task says to write a new file, the block is the whole file, runnable as "
     "it is: every import or include, the import of the code under test, any setup, and the "
     "entry point the framework needs.\n",
     "- No tests for functions that appear only in the file context.\n"
     "- One behaviour per test; its name says the behaviour it proves.\n"
     "- Every test asserts concrete expected values that follow from the code. No test that "
     "cannot fail, no test that only prints.\n"
     "- Follow the style sample when one is given: its imports, fixtures, naming and assertion "
     "style.\n"
     "- The tests run as they are: no placeholders, no \"...\", no TODOs, no invented helpers; "
     "call the code by its real name and module path as the file context shows them.\n"
     "- Do not repeat the code under test or the file context.\n",
     0, 0},
    {"review", PA_REVIEW, PROMPT_OUT_REVIEW,
     "You are a senior software engineer reviewing code before it is merged.",
     "Review the given code and report its real problems: bugs, missed edge cases, resource "
     "leaks, undefined behaviour, security issues, wrong error handling, races; then, at lower "
     "priority, clarity problems that will cause bugs.\n",
     "One finding per line, exactly:\n"
     "LINE: [severity] message\n"
     "LINE is the line number in the file shown before the \"|\" (LINE-LINE for a range), within "
     "the given lines; severity is error, warning or info; message is one sentence that says "
     "what is wrong and how to fix it. At most 10 findings, the most important first. No other "
     "text: no headings, no code blocks, no summary. If there is nothing worth reporting, answer "
     "with the single line:\n"
     "no findings\n",
     "- Report only problems you can point to a line for; no praise, no guesses about code you "
     "cannot see.\n"
     "- No style nits that the code's own conventions contradict.\n",
     0, 0},
    {"ask", PA_ASK, PROMPT_OUT_MARKDOWN,
     "You are a senior software engineer answering a question about code.",
     "Answer the user's question (given in the task) about the given code, and only that "
     "question.\n",
     "Markdown, as short as the question allows, the direct answer first. If the question asks "
     "for a change to the code, give it as one fenced code block with the language's name "
     "holding the complete replacement for the lines it changes, introduced by a line "
     "\"Replaces lines A-B:\".\n",
     "- Base the answer on the code and file context shown; when it depends on code you cannot "
     "see, say what you would need instead of guessing.\n",
     1, 0},
    {"design", PA_DESIGN, PROMPT_OUT_MARKDOWN, "You are a software architect.",
     "Design what the user describes (given in the task) for the given code: the components, "
     "their responsibilities, the data they share and the interfaces between them. Do not "
     "implement it.\n",
     "Markdown with exactly these sections:\n"
     "## Goal: one sentence.\n"
     "## Design: the components, data structures and the signatures of new or changed "
     "functions, each with one line on its responsibility.\n"
     "## Steps: a numbered list of single-step tasks in the order to do them; each names one "
     "file, the function to write or change and exactly what it must do.\n"
     "## Risks: at most 3 bullets.\n",
     "- Signatures and short snippets only, no full implementations.\n"
     "- Fit the design to the code and conventions shown; name the existing functions and types "
     "it builds on.\n",
     0, 1},
    {"optimize", PA_OPTIMIZE, PROMPT_OUT_MARKDOWN, "You are a senior performance engineer.",
     "Find the changes that would make the given code substantially faster or lighter, "
     "algorithmic improvements first (complexity, repeated work, needless copies or "
     "allocations, I/O inside loops), not micro-optimisations.\n",
     "Markdown. At most 3 optimisations, the most valuable first, each with: a heading naming "
     "it, the lines it concerns, why the current code is slow, the change, and its effect "
     "(e.g. O(n^2) to O(n)). Then, for each optimisation you are confident in, its code "
     "as SEARCH/REPLACE blocks over the files given (the rules follow).\n",
     "- Behaviour stays the same: same results, errors and order of side effects.\n"
     "- When the gain depends on data you cannot see, say what to measure instead of "
     "guessing.\n",
     0, 1},
    {"refactor-files", PA_REFACTOR_FILES, PROMPT_OUT_EDITS,
     "You are a senior software engineer refactoring across several files.",
     "Carry out the refactoring the user describes (given in the task) across the files given, "
     "keeping behaviour the same. Without an instruction, remove duplication between the files "
     "and improve clarity.\n",
     "Markdown. First a bulleted list of the changes, one bullet per file. Then the edits, as "
     "SEARCH/REPLACE blocks over the files given (the rules follow). Files you do not change "
     "are not shown. A whole file (one block with an empty SEARCH) only for a new file.\n",
     "- Update every caller of what you rename or move, in the files given.\n"
     "- Make no unrelated changes.\n",
     0, 1},
    {"review-all", PA_REVIEW_ALL, PROMPT_OUT_MARKDOWN,
     "You are a senior software engineer reviewing a change that spans several files.",
     "Review the files given as one change: defects first (bugs, missed edge cases, resource "
     "leaks, undefined behaviour, security issues, error handling, races), then inconsistencies "
     "between the files (a caller and a callee that disagree, duplicated logic).\n",
     "One finding per line, exactly:\n"
     "PATH:LINE: [severity] message\n"
     "severity is error, warning or info; message is one sentence that says what is wrong and "
     "how to fix it. At most 20 findings, the most important first, and no other text. If there "
     "is nothing worth reporting, answer with the single line:\n"
     "no findings\n",
     "- Report only problems you can point to a line for; no praise.\n", 0, 1},
    {"plan", PA_PLAN, PROMPT_OUT_MARKDOWN,
     "You are a software architect who splits work for a team of smaller models.",
     "Break the user's goal (given in the task) into an ordered list of single-step tasks, each "
     "of which a smaller model can do alone, given a thorough instruction and the code of one "
     "function or one file.\n",
     "A numbered list and nothing else. Each item is one line:\n"
     "N. ACTION PATH[:LINE] - instruction\n"
     "ACTION is one of implement, fix, refactor, docs, tests, review, explain; PATH is the file "
     "and LINE, when known, a line inside the function to work on; the instruction says exactly "
     "what to do: the function's name, its inputs and outputs, the cases to handle and the "
     "error behaviour, and for tests the framework and the cases to cover.\n"
     "Each task goes to its model with the goal, the code of its target and the rules of its "
     "action (keep the style, change nothing else), so the instruction says only what is "
     "particular to the task, in about 20 to 60 words.\n",
     "- One file and one function per task; a task that needs another's result comes after "
     "it.\n"
     "- No vague tasks (\"improve\", \"clean up\", \"add error handling\") that do not say what "
     "exactly.\n"
     "- No code in the plan, not even a line of it: each task is done by a smaller model "
     "that sees the code of its own target, so name functions, parameters, types and "
     "signatures in words. A task that creates a function names it, its file, its inputs, "
     "outputs and errors, and the existing function it goes after.\n"
     "- PATH is relative to the project, as the files above are named; LINE is a line of the "
     "file as it is now (the outlines give the numbers).\n"
     "- At most 12 tasks.\n",
     1, 1},
};

#define NACTIONS (sizeof(actions) / sizeof(actions[0]))

static const prompt_action *find_action(const char *name)
{
  for (size_t i = 0; name && i < NACTIONS; i++) {
    if (strcmp(actions[i].name, name) == 0) {
      return &actions[i];
    }
  }
  return NULL;
}

const char *prompt_output_name(prompt_output o)
{
  switch (o) {
  case PROMPT_OUT_MARKDOWN:
    return "markdown";
  case PROMPT_OUT_REPLACE:
    return "replace";
  case PROMPT_OUT_REVIEW:
    return "review";
  case PROMPT_OUT_TESTS:
    return "tests";
  case PROMPT_OUT_EDITS:
    return "edits";
  }
  return "markdown";
}

prompt_output prompt_output_for(const char *action)
{
  const prompt_action *a = find_action(action);
  return a ? a->output : PROMPT_OUT_MARKDOWN;
}

/* ---- Per-language facts for the task -------------------------------------------------------- */

static const char *docs_convention(lang_id lang)
{
  switch (lang) {
  case LANG_C:
  case LANG_CPP:
    return "a Doxygen /** ... */ block directly above the declaration, with @param and @return";
  case LANG_JAVA:
    return "a Javadoc /** ... */ block directly above the declaration, with @param, @return "
           "and @throws";
  case LANG_JAVASCRIPT:
    return "a JSDoc /** ... */ block directly above the declaration, with @param, @returns and "
           "@throws";
  case LANG_TYPESCRIPT:
    return "a TSDoc /** ... */ block directly above the declaration, with @param, @returns and "
           "@throws (no types in the tags: the signature has them)";
  case LANG_PYTHON:
    return "a docstring in triple double quotes as the first statement of the body, with "
           "Args, Returns and Raises sections";
  case LANG_RUST:
    return "/// lines directly above the item, with # Errors and # Panics sections where they "
           "apply";
  case LANG_GO:
    return "// lines directly above the declaration, the first sentence starting with the name";
  case LANG_LUA:
    return "LuaLS --- annotations directly above the function: a description, then ---@param "
           "and ---@return lines";
  default:
    return "the comment style the file already uses for documentation";
  }
}

static const char *default_test_framework(lang_id lang)
{
  switch (lang) {
  case LANG_C:
    return "cmocka";
  case LANG_CPP:
    return "GoogleTest";
  case LANG_PYTHON:
    return "pytest";
  case LANG_JAVASCRIPT:
  case LANG_TYPESCRIPT:
    return "Jest";
  case LANG_GO:
    return "go test (the standard testing package)";
  case LANG_RUST:
    return "Rust's built-in #[test] functions";
  case LANG_JAVA:
    return "JUnit 5";
  case LANG_LUA:
    return "busted";
  default:
    return NULL;
  }
}

/* ---- Building blocks ------------------------------------------------------------------------ */

/* A fence longer than any run of backticks in the code, so code that holds ``` (markdown in a
 * string, a doc comment with an example) cannot close the block early. */
static size_t fence_len(const char *s)
{
  size_t best = 0, run = 0;
  for (; *s; s++) {
    run = *s == '`' ? run + 1 : 0;
    best = run > best ? run : best;
  }
  return best >= 3 ? best + 1 : 3;
}

static void put_fence(buf_t *b, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    buf_putc(b, '`');
  }
}

/* A fenced block with the language tag; `numbered_from` > 0 prefixes each line with its file
 * line number (right-aligned to the widest) and "| ". */
static void put_code(buf_t *b, lang_id lang, const char *code, int numbered_from, int numbered_to)
{
  size_t n = fence_len(code);
  put_fence(b, n);
  buf_printf(b, "%s\n", lang_name(lang));
  if (numbered_from > 0) {
    int width = snprintf(NULL, 0, "%d", numbered_to > numbered_from ? numbered_to : numbered_from);
    int line = numbered_from;
    const char *p = code;
    while (*p) {
      const char *nl = strchr(p, '\n');
      size_t l = nl ? (size_t)(nl - p) : strlen(p);
      /* No trailing blank after the bar of an empty line. */
      buf_printf(b, l > 0 ? "%*d| " : "%*d|", width, line++);
      buf_append(b, p, l);
      buf_putc(b, '\n');
      p += l + (nl != NULL);
    }
  } else {
    buf_puts(b, code);
    if (code[0] && code[strlen(code) - 1] != '\n') {
      buf_putc(b, '\n');
    }
  }
  put_fence(b, n);
  buf_putc(b, '\n');
}

static int has_text(const char *s)
{
  for (; s && *s; s++) {
    if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r') {
      return 1;
    }
  }
  return 0;
}

static void build_system(const prompt_action *a, buf_t *b)
{
  buf_printf(b, "%s %s\n\n", a->role,
             a->multi_file ? "You get one task about code from a software project."
                           : "You get one focused task about code from one file of a software "
                             "project.");
  buf_printf(b, "# Task\n%s\n", a->task);
  buf_puts(b, a->multi_file ? input_layout_project : input_layout);
  if (a->id == PA_TESTS) {
    buf_puts(b, input_sample);
  }
  if (a->output == PROMPT_OUT_REVIEW) {
    buf_puts(b, input_numbered);
  }
  buf_puts(b, "\n# Output format\n");
  buf_puts(b, a->format);
  if (a->output == PROMPT_OUT_REPLACE && a->id != PA_DOCS) {
    buf_puts(b, format_replace_block);
  }
  buf_puts(b, "\n# Rules\n");
  buf_puts(b, a->rules);
  if (a->output == PROMPT_OUT_REPLACE) {
    buf_puts(b, rules_replace);
  } else if (a->output == PROMPT_OUT_MARKDOWN && a->id != PA_PLAN) {
    buf_puts(b, rules_markdown); /* a plan holds no code and cites PATH:LINE */
  }
  if (a->output == PROMPT_OUT_EDITS || a->id == PA_OPTIMIZE || a->id == PA_DESIGN) {
    buf_puts(b, "\n# Edits\n");
    if (a->id == PA_DESIGN) {
      buf_puts(b, "When (and only when) the design includes code for the files given, give that "
                  "code as SEARCH/REPLACE blocks, after the sections.\n");
    }
    buf_puts(b, edit_blocks_rules());
  }
}

static const char *item_heading(item_kind k)
{
  switch (k) {
  case ITEM_IMPORTS:
    return "Imports";
  case ITEM_CLASS_HEADER:
    return "Enclosing class";
  case ITEM_TYPE:
    return "Type";
  case ITEM_SIGNATURE:
    return "Signature";
  case ITEM_FILE:
    return "File in scope";
  case ITEM_REPO_MAP:
    return "Repo map (signatures defined elsewhere in the project)";
  default:
    return NULL;
  }
}

/* File-level context: no line numbers and nothing from the scope or its diagnostics, so it
 * stays byte-identical while those items do. The kinds come in item_kind order, whatever
 * order the package lists them in. */
static void build_context(const prompt_request *req, const prompt_action *a, buf_t *b)
{
  static const item_kind order[] = {ITEM_IMPORTS, ITEM_CLASS_HEADER, ITEM_TYPE, ITEM_SIGNATURE,
                                    ITEM_FILE, ITEM_REPO_MAP};
  const pkg_result *pkg = req->pkg;
  int any = 0;
  for (size_t i = 1; i < pkg->nitems; i++) {
    any |= item_heading(pkg->items[i].kind) != NULL;
  }
  int sample = a->id == PA_TESTS && has_text(req->test_sample);
  if (!any && !sample) {
    return;
  }
  buf_puts(b, "# File context (for reference: do not change it, do not repeat it)\n");
  buf_printf(b, "Path: %s\nLanguage: %s\n", req->path ? req->path : "(unnamed buffer)",
             lang_name(req->lang));
  for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
    for (size_t i = 1; i < pkg->nitems; i++) {
      const pkg_item *it = &pkg->items[i];
      if (it->kind != order[k]) {
        continue;
      }
      buf_printf(b, "\n## %s", item_heading(it->kind));
      if (it->kind != ITEM_IMPORTS && it->label && it->label[0]) {
        buf_printf(b, ": %s", it->label);
      }
      buf_putc(b, '\n');
      lang_id il = it->kind == ITEM_FILE && it->label ? lang_from_path(it->label) : req->lang;
      put_code(b, il != LANG_UNKNOWN ? il : req->lang, it->text ? it->text : "", 0, 0);
    }
  }
  if (sample) {
    lang_id sl = req->test_sample_path ? lang_from_path(req->test_sample_path) : LANG_UNKNOWN;
    buf_printf(b, "\n## Style sample: the first lines of %s\n",
               req->test_sample_path ? req->test_sample_path : "an existing test file");
    put_code(b, sl != LANG_UNKNOWN ? sl : req->lang, req->test_sample, 0, 0);
  }
}

static const char *scope_phrase(const pkg_result *pkg, char *tmp, size_t n)
{
  const char *name = pkg->scope_name;
  switch (pkg->scope) {
  case SCOPE_FUNCTION:
  case SCOPE_METHOD:
  case SCOPE_CLASS:
    if (name && name[0]) {
      snprintf(tmp, n, "the %s `%s`", scope_kind_name(pkg->scope), name);
      return tmp;
    }
    return pkg->scope == SCOPE_CLASS ? "a class" : "a function";
  case SCOPE_SELECTION:
    return "the user's selection";
  case SCOPE_FILE:
    return "the whole file";
  default:
    return "the lines around the cursor";
  }
}

static void put_diagnostics(const pkg_result *pkg, buf_t *b, int *count)
{
  *count = 0;
  for (size_t i = 1; i < pkg->nitems; i++) {
    if (pkg->items[i].kind == ITEM_DIAGNOSTIC) {
      if (*count == 0) {
        buf_puts(b, "\nDiagnostics from the editor for these lines:\n");
      }
      buf_printf(b, "- %s\n", pkg->items[i].text ? pkg->items[i].text : "");
      (*count)++;
    }
  }
}

static void build_task(const prompt_request *req, const prompt_action *a, buf_t *b)
{
  const pkg_result *pkg = req->pkg;
  const pkg_item *scope = &pkg->items[0];
  int first = scope->start_line, last = scope->end_line;
  const char *path = req->path ? req->path : "(unnamed buffer)";
  const char *lang = lang_name(req->lang);
  const char *instr = has_text(req->instruction) ? req->instruction : NULL;
  char tmp[256];

  buf_printf(b, "# Task: %s\n", a->name);
  buf_printf(b, "Code: lines %d-%d of %s (%s)\n", first, last, path,
             scope_phrase(pkg, tmp, sizeof(tmp)));
  int numbered = a->output == PROMPT_OUT_REVIEW;
  put_code(b, req->lang, scope->text ? scope->text : "", numbered ? first : 0, last);

  int ndiag;
  put_diagnostics(pkg, b, &ndiag);

  buf_putc(b, '\n');
  switch (a->id) {
  case PA_FIX:
    if (ndiag > 0 && instr) {
      buf_printf(b, "The user adds: %s\n", instr);
    } else if (instr) {
      buf_printf(b, "No diagnostics were given. The bug, as the user describes it: %s\n", instr);
    } else if (ndiag == 0) {
      buf_puts(b, "No diagnostics were given and the user described no bug: find the most "
                  "likely defect in these lines, fix it, and name it in your first sentence.\n");
    } else {
      buf_puts(b, "Fix the diagnostics above at their cause.\n");
    }
    break;
  case PA_REFACTOR:
  case PA_REFACTOR_FILES:
    if (instr) {
      buf_printf(b, "Instruction: %s\n", instr);
    } else {
      buf_puts(b, "No instruction was given: improve clarity without changing behaviour.\n");
    }
    break;
  case PA_DOCS:
    buf_printf(b, "Convention for %s: %s.\n", lang, docs_convention(req->lang));
    if (instr) {
      buf_printf(b, "The user adds: %s\n", instr);
    }
    break;
  case PA_TESTS: {
    const char *fw = has_text(req->test_framework) ? req->test_framework : NULL;
    const char *dflt = default_test_framework(req->lang);
    if (fw) {
      buf_printf(b, "Framework: %s\n", fw);
    } else if (dflt) {
      buf_printf(b, "Framework: %s (no framework was detected in the project: use this one)\n",
                 dflt);
    } else {
      buf_puts(b, "Framework: the most common one for this language (none was detected)\n");
    }
    if (has_text(req->test_path)) {
      buf_printf(b, "Test file: %s\n", req->test_path);
    } else {
      buf_puts(b, "Test file: not chosen; write a new file in the language's usual place\n");
    }
    if (req->test_file_exists && has_text(req->test_path)) {
      buf_printf(b,
                 "The test file exists: write only the new tests, to be appended at the end "
                 "of %s.\n",
                 req->test_path);
    } else {
      buf_puts(b, "The test file does not exist yet: write the whole file, runnable as it is, "
                  "with every import.\n");
    }
    if (has_text(req->test_sample)) {
      buf_puts(b, "Follow the style sample in the file context.\n");
    }
    if (pkg->scope_name && pkg->scope_name[0]) {
      buf_printf(b, "Test only %s, shown above.\n", scope_phrase(pkg, tmp, sizeof(tmp)));
    }
    if (instr) {
      buf_printf(b,
                 "Cases the user asks for (cover these, then the normal, edge and error "
                 "cases they miss):\n%s\n",
                 instr);
    } else {
      buf_puts(b, "Cases: the normal cases, the edge cases and the error paths of the code.\n");
    }
    break;
  }
  case PA_ASK:
    buf_printf(b, "Question: %s\n", instr);
    break;
  case PA_PLAN:
    buf_printf(b, "Goal: %s\n", instr);
    break;
  case PA_DESIGN:
    if (instr) {
      buf_printf(b, "What to design: %s\n", instr);
    } else {
      buf_puts(b, "No description was given: design how the code shown should be "
                  "structured, keeping what it does.\n");
    }
    break;
  default:
    if (instr) {
      buf_printf(b, "Instruction: %s\n", instr);
    }
    break;
  }

  buf_puts(b, "\nOutput: ");
  switch (a->output) {
  case PROMPT_OUT_REPLACE:
    buf_printf(b,
               "%sexactly one fenced ```%s block with the complete replacement for lines "
               "%d-%d of %s: every line of the range, no \"...\"; nothing after the "
               "block.\n",
               a->id == PA_FIX    ? "one sentence naming the defect, then "
               : a->id == PA_DOCS ? ""
                                  : "at most one sentence, then ",
               lang, first, last, path);
    break;
  case PROMPT_OUT_TESTS:
    if (req->test_file_exists && has_text(req->test_path)) {
      buf_printf(b,
                 "exactly one fenced ```%s block with only the new tests to append to %s; "
                 "no text before or after it.\n",
                 lang, req->test_path);
    } else {
      buf_printf(b,
                 "exactly one fenced ```%s block with the whole test file, runnable as it "
                 "is; no text before or after it.\n",
                 lang);
    }
    break;
  case PROMPT_OUT_EDITS:
    buf_puts(b, "the list of changes, then SEARCH/REPLACE blocks, each SEARCH copied exactly "
                "from the file as given; a whole file only for a new one.\n");
    break;
  case PROMPT_OUT_REVIEW:
    buf_printf(b,
               "one line per finding, \"LINE: [severity] message\" with LINE between %d and "
               "%d, at most 10, the most important first; or the single line "
               "\"no findings\".\n",
               first, last);
    break;
  default:
    switch (a->id) {
    case PA_EXPLAIN:
      buf_puts(b, "one sentence on the purpose, the steps with their lines, \"Watch out\" only "
                  "if needed; at most 300 words.\n");
      break;
    case PA_REVIEW_ALL:
      buf_puts(b, "one line per finding, \"PATH:LINE: [severity] message\", at most 20; or the "
                  "single line \"no findings\".\n");
      break;
    case PA_PLAN:
      buf_puts(b, "only the numbered list, one \"N. ACTION PATH[:LINE] - instruction\" per "
                  "line, at most 12.\n");
      break;
    case PA_DESIGN:
      buf_puts(b, "the sections Goal, Design, Steps, Risks; no full implementations.\n");
      break;
    case PA_OPTIMIZE:
      buf_puts(b, "at most 3 optimisations, algorithmic first, then their SEARCH/REPLACE "
                  "blocks.\n");
      break;
    default:
      buf_puts(b, "the direct answer first, as short as the question allows.\n");
      break;
    }
    break;
  }
}

int prompt_build(const prompt_request *req, prompt *out, char *err, size_t errlen)
{
  char scratch[1];
  if (!err || !errlen) {
    err = scratch;
    errlen = sizeof(scratch);
  }
  err[0] = '\0';
  if (out) {
    memset(out, 0, sizeof(*out));
  }
  if (!req || !out) {
    snprintf(err, errlen, "prompt_build: missing request or result");
    return -1;
  }
  const prompt_action *a = find_action(req->action);
  if (!a) {
    buf_t names = BUF_INIT;
    for (size_t i = 0; i < NACTIONS; i++) {
      buf_printf(&names, "%s%s", i ? ", " : "", actions[i].name);
    }
    snprintf(err, errlen, "unknown action '%s' (known: %s)", req->action ? req->action : "",
             names.data);
    buf_free(&names);
    return -1;
  }
  const pkg_result *pkg = req->pkg;
  if (!pkg || pkg->nitems == 0 || !pkg->items || pkg->items[0].kind != ITEM_SCOPE) {
    snprintf(err, errlen, "%s: no code to work on (the package has no scope)", a->name);
    return -1;
  }
  if (a->needs_instruction && !has_text(req->instruction)) {
    snprintf(err, errlen, "%s needs text: %s", a->name,
             a->id == PA_ASK ? "the question to answer" : "the goal to plan for");
    return -1;
  }
  /* The language names the fences and the conventions: the request's, else the one the
   * package was read as, else the path's. */
  prompt_request r = *req;
  if (r.lang <= LANG_UNKNOWN || r.lang >= LANG__COUNT) {
    r.lang = pkg->lang > LANG_UNKNOWN && pkg->lang < LANG__COUNT ? pkg->lang
             : r.path                                            ? lang_from_path(r.path)
                                                                 : LANG_UNKNOWN;
  }
  buf_t sys = BUF_INIT, ctx = BUF_INIT, task = BUF_INIT;
  build_system(a, &sys);
  build_context(&r, a, &ctx);
  build_task(&r, a, &task);
  out->system = buf_detach(&sys);
  out->context = buf_detach(&ctx);
  out->task = buf_detach(&task);
  out->output = a->output;
  return 0;
}

void prompt_free(prompt *p)
{
  if (!p) {
    return;
  }
  free(p->system);
  free(p->context);
  free(p->task);
  memset(p, 0, sizeof(*p));
}
