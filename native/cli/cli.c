/* The command line: `frugal context|route|preview FILE:LINE ...`, `frugal --stdio`. */
#include <ctype.h>
#include <signal.h>
#include <stdarg.h>
#include <errno.h>
#include <frugal.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/plan.h"
#include "service/run.h"
#include "service/catalogue.h"
#include "config/config.h"
#include "cli/cli_plan.h"
#include "host/host.h"
#include "service/service.h"
#include "ledger/ledger.h"
#include "ledger/report.h"
#include "route/route.h"
#include "util/buf.h"
#include "util/file.h"

/* Source files larger than this are refused: nobody asks a model about a 256 MiB file, and the
 * line index alone would cost gigabytes. */
#define CLI_MAX_FILE ((size_t)256 << 20)
#define CLI_MAX_FILES 1000

const char *frugal_version(void)
{
  return FRUGAL_VERSION_STRING;
}

static const char usage[] =
  "usage: frugal context FILE:LINE[:COL] [--end-line N] [--action A] [--json]\n"
  "       frugal route   FILE:LINE[:COL] --action A [--file OTHER]... [--tier mini|full] [--json]\n"
  "       frugal preview FILE:LINE[:COL] --action A [--file OTHER]... [--tier mini|full] [--json]\n"
  "       frugal run ACTION FILE:LINE[:COL] [--end-line N] [--instruction TEXT]\n"
  "                  [--tier mini|full] [--json]   run the action against the configured model\n"
  "                  [--ledger FILE] [--over-budget] [--file OTHER]... [--apply]\n"
  "                  --apply writes the answer's checked edits, all files or none\n"
  "       frugal run plan FILE:LINE --instruction GOAL [--file F]... [--execute [--apply]]\n"
  "                  [--plan PLANFILE] [--json]   plan on Full, then each step on its own\n"
  "       frugal cost [today|week|month|all|DATE[..DATE]] [--since DATE] [--json] [--ledger FILE]\n"
  "                  the cost ledger: tasks, cost, the same tokens on Full, the saving\n"
  "       frugal --stdio            serve msgpack-RPC on stdin/stdout (the editor's host)\n"
  "       frugal catalogue --json   the actions, tiers, providers and version, for the editor\n"
  "       frugal --version [--json]\n"
  "common options: --config FILE (default: $FRUGAL_CONFIG), --filetype FT, --end-line N\n"
  "lines are 1-based and inclusive; --end-line makes LINE..N a selection\n";

typedef struct {
  const char *command;
  const char *target;
  const char *target2; /* run: FILE:LINE after ACTION */
  const char *instruction;
  const char *ledger;
  const char *since;
  const char *period;
  int over_budget;
  int apply;             /* run: write the checked edits (plan --execute: each step's) */
  int execute;           /* run plan: run the steps */
  const char *plan_file; /* run plan: an edited plan to execute */
  const char *action;
  const char *config;
  const char *filetype;
  const char *files[CLI_MAX_FILES];
  int nfiles;
  long end_line;
  int tier;
  int json;
  int stdio;
  int version;
} cli_args;

/* Prints a one-line error and returns the bad-arguments status. */
static int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int cli_fail(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  fputs("frugal: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  return 2;
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
  if (!s || !*s) {
    return -1;
  }
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || *end || v < lo || v > hi) {
    return -1;
  }
  *out = v;
  return 0;
}

static int all_digits(const char *s, size_t n)
{
  if (n == 0) {
    return 0;
  }
  for (size_t i = 0; i < n; i++) {
    if (!isdigit((unsigned char)s[i])) {
      return 0;
    }
  }
  return 1;
}

/* Splits FILE:LINE[:COL], reading from the right so file names may contain ':'. */
static int parse_target(const char *target, char **file, long *line, long *col)
{
  const char *c1 = strrchr(target, ':');
  if (!c1 || !all_digits(c1 + 1, strlen(c1 + 1))) {
    return -1;
  }
  const char *c0 = NULL;
  for (const char *p = c1 - 1; p >= target; p--) {
    if (*p == ':') {
      c0 = p;
      break;
    }
  }
  *col = 0;
  if (c0 && all_digits(c0 + 1, (size_t)(c1 - c0 - 1)) && c0 > target) {
    if (parse_long(c1 + 1, 1, 1L << 30, col)) {
      return -1;
    }
    char tmp[32];
    size_t n = (size_t)(c1 - c0 - 1);
    if (n >= sizeof(tmp)) {
      return -1;
    }
    memcpy(tmp, c0 + 1, n);
    tmp[n] = '\0';
    if (parse_long(tmp, 1, 1L << 30, line)) {
      return -1;
    }
    *file = xstrndup(target, (size_t)(c0 - target));
    return 0;
  }
  if (c1 == target || parse_long(c1 + 1, 1, 1L << 30, line)) {
    return -1;
  }
  *file = xstrndup(target, (size_t)(c1 - target));
  return 0;
}

static int parse_args(int argc, char **argv, cli_args *a)
{
  memset(a, 0, sizeof(*a));
  a->tier = -1;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    const char *val = i + 1 < argc ? argv[i + 1] : NULL;
#define NEEDS_VALUE()                                                                           \
  do {                                                                                          \
    if (!val) {                                                                                 \
      return cli_fail("%s needs a value", arg);                                                 \
    }                                                                                           \
    i++;                                                                                        \
  } while (0)
    if (strcmp(arg, "--json") == 0) {
      a->json = 1;
    } else if (strcmp(arg, "--stdio") == 0) {
      a->stdio = 1;
    } else if (strcmp(arg, "--version") == 0) {
      a->version = 1;
    } else if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
      fputs(usage, stdout);
      exit(0);
    } else if (strcmp(arg, "--action") == 0) {
      NEEDS_VALUE();
      a->action = val;
    } else if (strcmp(arg, "--config") == 0) {
      NEEDS_VALUE();
      a->config = val;
    } else if (strcmp(arg, "--ledger") == 0) {
      NEEDS_VALUE();
      a->ledger = val;
    } else if (strcmp(arg, "--since") == 0) {
      NEEDS_VALUE();
      a->since = val;
    } else if (strcmp(arg, "--period") == 0) {
      NEEDS_VALUE();
      a->period = val;
    } else if (strcmp(arg, "--execute") == 0) {
      a->execute = 1;
    } else if (strcmp(arg, "--apply") == 0) {
      a->apply = 1;
    } else if (strcmp(arg, "--plan") == 0) {
      NEEDS_VALUE();
      a->plan_file = val;
    } else if (strcmp(arg, "--over-budget") == 0) {
      a->over_budget = 1;
    } else if (strcmp(arg, "--instruction") == 0) {
      NEEDS_VALUE();
      a->instruction = val;
    } else if (strcmp(arg, "--filetype") == 0) {
      NEEDS_VALUE();
      a->filetype = val;
    } else if (strcmp(arg, "--file") == 0) {
      NEEDS_VALUE();
      if (a->nfiles >= CLI_MAX_FILES) {
        return cli_fail("more than %d --file options", CLI_MAX_FILES);
      }
      a->files[a->nfiles++] = val;
    } else if (strcmp(arg, "--end-line") == 0) {
      NEEDS_VALUE();
      if (parse_long(val, 1, 1L << 30, &a->end_line)) {
        return cli_fail("--end-line must be a positive line number, got '%s'", val);
      }
    } else if (strcmp(arg, "--tier") == 0) {
      NEEDS_VALUE();
      a->tier = tier_from_name(val);
      if (a->tier < 0) {
        return cli_fail("--tier must be mini or full, got '%s'", val);
      }
    } else if (arg[0] == '-' && arg[1] != '\0') {
      return cli_fail("unknown option '%s' (see frugal --help)", arg);
    } else if (!a->command) {
      a->command = arg;
    } else if (!a->target) {
      a->target = arg;
    } else if (!a->target2 && strcmp(a->command, "run") == 0) {
      a->target2 = arg;
    } else {
      return cli_fail("unexpected argument '%s' (see frugal --help)", arg);
    }
#undef NEEDS_VALUE
  }
  return 0;
}

static int load_config(const cli_args *a, frugal_config *cfg)
{
  config_init(cfg);
  const char *path = a->config ? a->config : getenv("FRUGAL_CONFIG");
  if (path && *path) {
    char err[600];
    if (config_apply_file(cfg, path, err, sizeof(err))) {
      config_free(cfg);
      return cli_fail("%s", err);
    }
  }
  return 0;
}

static void print_json(json_t *j)
{
  char *s = json_dumps(j, JSON_COMPACT);
  if (s) {
    puts(s);
    free(s);
  }
}

/* "12,345" */
static const char *thousands(char *out, size_t n, long v)
{
  char raw[32];
  snprintf(raw, sizeof(raw), "%ld", v < 0 ? -v : v);
  size_t len = strlen(raw), o = 0;
  if (v < 0 && o + 1 < n) {
    out[o++] = '-';
  }
  for (size_t i = 0; i < len && o + 1 < n; i++) {
    if (i > 0 && (len - i) % 3 == 0 && o + 1 < n) {
      out[o++] = ',';
    }
    out[o++] = raw[i];
  }
  out[o] = '\0';
  return out;
}

static long jint(const json_t *o, const char *key)
{
  return (long)json_integer_value(json_object_get(o, key));
}

static const char *jstr(const json_t *o, const char *key)
{
  const char *s = json_string_value(json_object_get(o, key));
  return s ? s : "";
}

static void print_context(const json_t *c)
{
  const json_t *scope = json_object_get(c, "scope");
  const char *name = jstr(scope, "name");
  printf("%s (%s): %s%s%s, lines %ld-%ld\n", jstr(c, "file"), jstr(c, "language"),
         jstr(scope, "kind"), *name ? " " : "", name, jint(scope, "start_line"),
         jint(scope, "end_line"));
  printf("  %-13s %-13s %8s  %s\n", "item", "lines", "tokens", "label");
  size_t i;
  json_t *it;
  json_array_foreach(json_object_get(c, "items"), i, it) {
    char lines[32], tok[32];
    snprintf(lines, sizeof(lines), "%ld-%ld", jint(it, "start_line"), jint(it, "end_line"));
    printf("  %-13s %-13s %8s  %s\n", jstr(it, "kind"), lines,
           thousands(tok, sizeof(tok), jint(it, "tokens")), jstr(it, "label"));
  }
  char t1[32], t2[32];
  long tokens = jint(c, "tokens"), file_tokens = jint(c, "file_tokens");
  printf("  %-27s %8s  of %s tokens in the whole file (%.1f%%)\n", "package",
         thousands(t1, sizeof(t1), tokens), thousands(t2, sizeof(t2), file_tokens),
         file_tokens > 0 ? 100.0 * (double)tokens / (double)file_tokens : 100.0);
  if (jint(c, "dropped") > 0) {
    printf("  %ld optional item(s) left out to fit the tier's context budget\n",
           jint(c, "dropped"));
  }
  if (json_is_true(json_object_get(c, "over_budget")) && !json_object_get(c, "chunks")) {
    printf("  the scope alone is larger than the tier's context budget\n");
  }
  json_t *k;
  json_array_foreach(json_object_get(c, "chunks"), i, k) {
    if (i == 0) {
      printf("  reviewed in %zu chunks of whole functions, each on its own:\n",
             json_array_size(json_object_get(c, "chunks")));
    }
    char lines[32], tt[32];
    snprintf(lines, sizeof(lines), "%ld-%ld", jint(k, "start_line"), jint(k, "end_line"));
    printf("  chunk %-7zu %-13s %8s  (%s with context and instructions)\n", i + 1, lines,
           thousands(t1, sizeof(t1), jint(k, "tokens")),
           thousands(tt, sizeof(tt), jint(k, "input_tokens")));
  }
  json_array_foreach(json_object_get(c, "left_out"), i, k) {
    printf("  left out: %s (%s tokens): %s\n", jstr(k, "path"),
           thousands(t1, sizeof(t1), jint(k, "tokens")), jstr(k, "why"));
  }
  const json_t *tests = json_object_get(c, "tests");
  if (tests) {
    printf("  tests go %s %s\n", json_is_true(json_object_get(tests, "exists")) ? "at the end of" : "into the new file",
           jstr(tests, "path"));
    if (*jstr(tests, "why")) {
      printf("    (%s)\n", jstr(tests, "why"));
    }
  }
}

static void print_usd(const char *label, const json_t *v, const char *model)
{
  if (json_is_number(v)) {
    printf("%s $%.4f (%s)", label, json_number_value(v), model);
  } else {
    printf("%s unknown price (%s: set prices.%s in the config)", label, model, model);
  }
}

static void print_route(const json_t *r, const frugal_config *cfg)
{
  printf("tier: %s (%s)\n", jstr(r, "tier"), jstr(r, "model"));
  printf("why:\n");
  size_t i;
  json_t *reason;
  json_array_foreach(json_object_get(r, "reasons"), i, reason) {
    printf("  - %s\n", json_string_value(reason));
  }
  const json_t *e = json_object_get(r, "estimate");
  char t1[32], t2[32];
  printf("estimate: %s input + %s output tokens\n",
         thousands(t1, sizeof(t1), jint(e, "input_tokens")),
         thousands(t2, sizeof(t2), jint(e, "output_tokens")));
  print_usd("  on this tier:", json_object_get(e, "usd"), jstr(r, "model"));
  putchar('\n');
  print_usd("  on full:     ", json_object_get(e, "usd_full"), cfg->tiers[TIER_FULL].model);
  putchar('\n');
}

/* What every command on FILE:LINE reads: the cursor, the configuration and the file. */
typedef struct {
  char *file;
  long line;
  long col;
  frugal_config cfg;
  file_contents text;
  action_request req;
} cli_input;

static void cli_input_free(cli_input *in)
{
  file_release(&in->text);
  config_free(&in->cfg);
  free(in->file);
}

/* Parses `target`, loads the config and the file, and fills in->req for `action`. Returns 0, or
 * the exit status after printing the error. */
static int cli_input_load(const cli_args *a, const char *target, const char *action,
                          cli_input *in)
{
  memset(in, 0, sizeof(*in));
  if (parse_target(target, &in->file, &in->line, &in->col)) {
    return cli_fail("expected FILE:LINE[:COL] with 1-based numbers, got '%s'", target);
  }
  if (a->end_line && a->end_line < in->line) {
    free(in->file);
    return cli_fail("--end-line %ld is before line %ld", a->end_line, in->line);
  }
  if (load_config(a, &in->cfg)) {
    free(in->file);
    return 2;
  }
  char err[600];
  if (file_load(&in->text, in->file, CLI_MAX_FILE, err, sizeof(err))) {
    config_free(&in->cfg);
    free(in->file);
    return cli_fail("%s", err);
  }
  int nfiles = 1;
  for (int i = 0; i < a->nfiles; i++) {
    nfiles += strcmp(a->files[i], in->file) != 0;
  }
  in->req = (action_request){
    .path = in->file,
    .language = a->filetype,
    .action = action,
    .line = (int)in->line,
    .col = (int)in->col,
    .sel_start = a->end_line ? (int)in->line : 0,
    .sel_end = a->end_line ? (int)a->end_line : 0,
    .nfiles = nfiles,
    .forced_tier = a->tier,
    .instruction = a->instruction,
    .budget_override = a->over_budget,
    .ledger_path = a->ledger,
    .files = a->files,
    .nfile_paths = (size_t)a->nfiles,
    .repo_map = 1,
  };
  return 0;
}

static int run_action_command(const cli_args *a, int parts)
{
  if (!a->target) {
    return cli_fail("%s needs FILE:LINE[:COL] (see frugal --help)", a->command);
  }
  const char *action = a->action;
  if (!action) {
    if (parts & ACTION_ROUTE) {
      return cli_fail("%s needs --action (one of the actions in frugal --help)", a->command);
    }
    action = "explain";
  }
  cli_input in;
  int rc = cli_input_load(a, a->target, action, &in);
  if (rc) {
    return rc;
  }
  char err[600];
  json_t *result = NULL;
  if (action_preview(&in.cfg, &in.req, in.text.data, in.text.len, parts, &result, err,
                     sizeof(err))) {
    rc = cli_fail("%s: %s", in.file, err);
  } else if (a->json) {
    if (parts == ACTION_CONTEXT) {
      print_json(json_object_get(result, "context"));
    } else if (parts == ACTION_ROUTE) {
      print_json(json_object_get(result, "route"));
    } else {
      print_json(result);
    }
  } else {
    if (parts & ACTION_CONTEXT) {
      print_context(json_object_get(result, "context"));
    }
    if (parts & ACTION_ROUTE) {
      if (parts & ACTION_CONTEXT) {
        putchar('\n');
      }
      print_route(json_object_get(result, "route"), &in.cfg);
    }
  }
  json_decref(result);
  cli_input_free(&in);
  return rc;
}

/* ---- frugal run ------------------------------------------------------------------------- */

typedef struct {
  int json;
  int apply;           /* --apply: write the checked edits */
  int status;          /* exit status */
  int wrote_newline;   /* the streamed text ended with a newline */
  size_t streamed;
} cli_run;

static void cli_on_delta(action_run *run, stream_event_kind kind, const char *text, size_t len,
                         void *data)
{
  cli_run *c = data;
  if (c->json || kind != STREAM_EV_TEXT || len == 0) {
    return;
  }
  fwrite(text, 1, len, stdout);
  fflush(stdout);
  c->streamed += len;
  c->wrote_newline = text[len - 1] == '\n';
}

static void cli_on_retry(action_run *run, int attempt, double delay_ms, const char *why,
                         void *data)
{
  fprintf(stderr, "frugal: retrying in %.1f s (attempt %d): %s\n", delay_ms / 1000.0, attempt,
          why);
}

static void cli_on_escalate(action_run *run, const char *why, const char *model, void *data)
{
  cli_run *c = data;
  if (!c->json && c->streamed > 0) {
    fputs(c->wrote_newline ? "\n" : "\n\n", stdout);
    fflush(stdout);
  }
  fprintf(stderr, "frugal: the mini answer cannot be used (%s); asking %s\n", why, model);
}

static void cli_on_start(action_run *run, const action_plan *plan, void *data)
{
  const char *w = action_run_warning(run);
  if (w) {
    fprintf(stderr, "frugal: warning: %s\n", w);
  }
}

static void cli_on_done(action_run *run, const char *error, json_t *result, void *data)
{
  cli_run *c = data;
  if (!c->json && c->streamed > 0 && !c->wrote_newline) {
    putchar('\n');
  }
  if (c->json && result) {
    print_json(result);
  }
  if (error) {
    fprintf(stderr, "frugal: %s\n", error);
    c->status = 1;
    return;
  }
  const json_t *problem = json_object_get(result, "problem");
  if (json_is_string(problem)) {
    fprintf(stderr, "frugal: the answer cannot be used: %s\n", json_string_value(problem));
    c->status = 1;
  } else if (c->apply) {
    const multifile_edits *m = action_run_edits(run);
    char aerr[800];
    if (!m) {
      fprintf(stderr, "frugal: --apply: the answer holds no edits to write\n");
      c->status = 1;
    } else if (multifile_apply(m, aerr, sizeof(aerr)) != 0) {
      fprintf(stderr, "frugal: --apply: nothing was written: %s\n", aerr);
      c->status = 1;
    } else {
      for (size_t i = 0; i < m->prop.nfiles; i++) {
        fprintf(stderr, "frugal: %s %s\n", m->prop.files[i].is_new ? "created" : "wrote",
                m->prop.files[i].path);
      }
    }
  }
  if (!c->json) {
    const json_t *u = json_object_get(result, "usage");
    const json_t *cost = json_object_get(result, "cost_usd");
    char t1[32], t2[32], price[48];
    if (json_is_number(cost)) {
      snprintf(price, sizeof(price), "$%.4f", json_number_value(cost));
    } else {
      snprintf(price, sizeof(price), "unknown price");
    }
    fprintf(stderr, "frugal: %s (%s), %s input + %s output tokens%s, %s\n", jstr(result, "tier"),
            jstr(result, "model"), thousands(t1, sizeof(t1), jint(u, "input_tokens")),
            thousands(t2, sizeof(t2), jint(u, "output_tokens")),
            json_is_true(json_object_get(u, "estimated")) ? " (estimated)" : "", price);
    const json_t *note = json_object_get(u, "note");
    if (json_is_string(note)) {
      fprintf(stderr, "frugal: %s\n", json_string_value(note));
    }
  }
}

static int run_command(const cli_args *a)
{
  if (!a->target || !a->target2) {
    return cli_fail("run needs ACTION FILE:LINE[:COL] (see frugal --help)");
  }
  cli_input in;
  int rc = cli_input_load(a, a->target2, a->target, &in);
  if (rc) {
    return rc;
  }
  signal(SIGPIPE, SIG_IGN);
  if (strcmp(a->target, "plan") == 0) {
    cli_plan_opts po = {a->json, a->execute || a->plan_file, a->apply, a->plan_file};
    rc = cli_plan_run(&in.cfg, &in.req, in.text.data, in.text.len, &po);
    cli_input_free(&in);
    return rc;
  }
  char err[600];
  uv_loop_t loop;
  uv_loop_init(&loop);
  llm_client_opts lo = {.ca_file = in.cfg.http_ca_file, .proxy = in.cfg.http_proxy};
  llm_client *llm = llm_client_new(&loop, &lo, err, sizeof(err));
  if (!llm) {
    rc = 1;
    fprintf(stderr, "frugal: %s\n", err);
  } else {
    cli_run c = {.json = a->json, .apply = a->apply};
    static const action_run_callbacks cb = {cli_on_start, cli_on_delta, cli_on_retry,
                                            cli_on_escalate, cli_on_done};
    if (!action_run_start(llm, &in.cfg, &in.req, in.text.data, in.text.len, &cb, &c, err,
                          sizeof(err))) {
      rc = cli_fail("%s: %s", in.file, err);
    } else {
      uv_run(&loop, UV_RUN_DEFAULT);
      rc = c.status;
    }
    llm_client_free(llm);
    uv_run(&loop, UV_RUN_DEFAULT); /* let the client's handles close */
  }
  uv_loop_close(&loop);
  cli_input_free(&in);
  return rc;
}

/* ---- frugal cost ------------------------------------------------------------------------ */

static int cost_command(const cli_args *a)
{
  frugal_config cfg;
  if (load_config(a, &cfg)) {
    return 2;
  }
  char err[600];
  service_cost_request req = {.period = a->target ? a->target : a->period,
                              .since = a->since,
                              .ledger_path = a->ledger,
                              .default_period = "all"};
  service_cost_result res;
  int rc = service_cost(&cfg, &req, &res, err, sizeof(err));
  config_free(&cfg);
  if (rc) {
    return cli_fail("%s", err);
  }
  if (res.read_error[0]) {
    fprintf(stderr, "frugal: %s\n", res.read_error);
    rc = 1;
  }
  if (a->json) {
    json_t *j = ledger_report_json(&res.report);
    char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(12));
    if (s) {
      puts(s);
      free(s);
    }
    json_decref(j);
  } else {
    fputs(res.text.data ? res.text.data : "", stdout);
  }
  service_cost_result_free(&res);
  return rc;
}

static int print_version(int json)
{
  json_t *o = service_version_json();
  if (json) {
    print_json(o);
  } else {
    printf("frugal %s (libuv %s, msgpack-c %s, libcurl %s, jansson %s)\n", jstr(o, "version"),
           jstr(o, "libuv"), jstr(o, "msgpack"), jstr(o, "curl"), jstr(o, "jansson"));
  }
  json_decref(o);
  return 0;
}

int frugal_main(int argc, char **argv)
{
  cli_args a;
  int rc = parse_args(argc, argv, &a);
  if (rc) {
    return rc;
  }
  if (a.version) {
    return print_version(a.json);
  }
  if (a.stdio) {
    if (a.command) {
      return cli_fail("--stdio takes no command");
    }
    frugal_config cfg;
    if (load_config(&a, &cfg)) {
      return 2;
    }
    return host_run_stdio(&cfg);
  }
  if (!a.command) {
    fputs(usage, stderr);
    return 2;
  }
  if (strcmp(a.command, "context") == 0) {
    return run_action_command(&a, ACTION_CONTEXT);
  }
  if (strcmp(a.command, "route") == 0) {
    return run_action_command(&a, ACTION_ROUTE);
  }
  if (strcmp(a.command, "preview") == 0) {
    return run_action_command(&a, ACTION_CONTEXT | ACTION_ROUTE);
  }
  if (strcmp(a.command, "run") == 0) {
    return run_command(&a);
  }
  if (strcmp(a.command, "cost") == 0) {
    return cost_command(&a);
  }
  if (strcmp(a.command, "catalogue") == 0) {
    json_t *c = service_catalogue_json();
    if (!c) {
      return cli_fail("out of memory");
    }
    print_json(c);
    json_decref(c);
    return 0;
  }
  return cli_fail("unknown command '%s' (see frugal --help)", a.command);
}
