/* ledger: the append-only record of every model request, its tokens and its price.
 *
 * File format: JSON Lines, one object per line, UTF-8, in the order written. Two record kinds:
 *
 *   request  {"ts","id","task_id","project","action","tier","provider","model",
 *             "input_tokens","cached_input_tokens","cache_write_tokens","output_tokens",
 *             "reasoning_tokens","estimated","price":{input,cached_input,output,cache_write}|null,
 *             "cost_usd","full_cost_usd","latency_ms","outcome","error"}
 *   outcome  {"type":"outcome","ts","id","outcome":"applied"|"rejected"}  (appended when the
 *             user accepts or rejects a proposal; the reader applies it to the request `id`)
 *
 * ts is RFC 3339 UTC with milliseconds ("2026-11-25T14:03:07.123Z"). input_tokens counts every
 * prompt token, cached and cache-written ones included; output_tokens includes reasoning tokens.
 * cached_input_tokens, cache_write_tokens and reasoning_tokens are null when the provider did
 * not say. cost_usd is null when the model has no known price (never a guess shown as fact);
 * full_cost_usd is the same tokens at the Full tier model's prices, null when that is unknown.
 * Unknown keys are ignored by the reader, so later versions may add keys.
 *
 * Concurrency: each record is written with a single write() on a descriptor opened with
 * O_APPEND. On local file systems the kernel picks the end-of-file offset and copies the whole
 * buffer under the inode lock, so two editors appending at once never interleave within a line,
 * also for lines longer than PIPE_BUF (that limit is about pipes; POSIX promises nothing for
 * regular files, and NFS does not honour O_APPEND atomically). A crash mid-write can still
 * leave a torn last line: the reader skips it, and the next append starts on a fresh line.
 *
 * Secrets: the entry has no field for keys or request bodies; error texts come from the
 * provider layer, which already keeps keys out of messages. */
#ifndef FRUGAL_LEDGER_LEDGER_H
#define FRUGAL_LEDGER_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/prices.h"
#include "core/vocab.h"
#include "util/buf.h"

/* A token count the provider did not report (written as null). */
#define LEDGER_UNKNOWN ((int64_t)-1)
/* Room for an id or task id, NUL included. Generated ids have at most 38 characters. */
#define LEDGER_ID_SIZE 48
/* Error texts are cut (at a UTF-8 boundary) to this many bytes when written. */
#define LEDGER_ERROR_MAX 300
/* The reader's bounds of plausibility: a request line with a cost (or full cost) above
 * LEDGER_COST_MAX dollars, a price above LEDGER_PRICE_MAX $ per 1M tokens, or a token count above
 * LEDGER_TOKENS_MAX is skipped as corrupt, like a torn line. No single model request comes near
 * them (a 2M-token prompt at $100 per 1M is $200), and below them no sum over any ledger can
 * overflow, so a report never shows inf or nan and a budget is never blocked by one bad line. */
#define LEDGER_COST_MAX 10000.0
#define LEDGER_PRICE_MAX 100000.0
#define LEDGER_TOKENS_MAX ((int64_t)10000000000)
/* Bounds of the whole time line, for open periods. */
#define LEDGER_TS_MIN INT64_MIN
#define LEDGER_TS_MAX INT64_MAX

typedef enum {
  LEDGER_ANSWERED = 0, /* the model answered; nothing applied (yet) */
  LEDGER_APPLIED,      /* the user applied the proposal */
  LEDGER_REJECTED,     /* the user rejected it */
  LEDGER_ESCALATED,    /* the answer failed validation and was retried on Full */
  LEDGER_FAILED,       /* provider or network error */
  LEDGER_CANCELLED,
  LEDGER_OUTCOME__COUNT
} ledger_outcome;

/* One request. Strings are borrowed: for ledger_append they belong to the caller; in entries
 * returned by ledger_read they belong to the ledger_entries (valid until ledger_entries_free).
 * Optional strings (project, error) may be NULL. */
typedef struct {
  int64_t ts_ms; /* Unix time in milliseconds */
  char id[LEDGER_ID_SIZE];
  char task_id[LEDGER_ID_SIZE]; /* the first attempt's id; a retry on Full carries it too */
  const char *project;
  const char *action;
  const char *tier; /* "mini", "full" */
  const char *provider;
  const char *model;
  int64_t input_tokens; /* >= 0, or LEDGER_UNKNOWN for the three optional counts */
  int64_t cached_input_tokens;
  int64_t cache_write_tokens;
  int64_t output_tokens;
  int64_t reasoning_tokens;
  bool estimated; /* counts estimated by frugal: the provider sent no usage */
  bool price_known;
  price_entry price; /* meaningful when price_known; price.model is not used (NULL) */
  bool cost_known;
  double cost_usd;
  bool full_cost_known;
  double full_cost_usd;
  int64_t latency_ms;
  ledger_outcome outcome;
  const char *error;
} ledger_entry;

/* Entries read from a ledger, in file order, plus what was skipped. */
#define LEDGER_NOTED_LINES 8
typedef struct ledger_pool ledger_pool;
typedef struct {
  ledger_entry *items;
  size_t count;
  size_t cap;
  size_t lines;                            /* lines read in all */
  size_t corrupt;                          /* skipped: torn, not JSON, wrong types */
  size_t corrupt_line[LEDGER_NOTED_LINES]; /* 1-based numbers of the first few */
  size_t unknown_type;                     /* records of a kind this version does not know */
  ledger_pool *pool;                       /* private: the strings of the entries */
} ledger_entries;

/* Where the ledger lives by default: $XDG_STATE_HOME/nvim/frugal/ledger.jsonl, else
 * $HOME/.local/state/nvim/frugal/ledger.jsonl, i.e. Neovim's stdpath('state') .. '/frugal'
 * ($NVIM_APPNAME replaces "nvim" when set, as Neovim does). A relative XDG_STATE_HOME is
 * ignored, as the XDG spec asks. Returns 0, or -1 when neither variable gives an absolute path
 * or `out` is too small. */
int ledger_default_path(char *out, size_t n);

/* The ledger to use: `chosen` (a --ledger argument) if given, else `configured` (the config's
 * ledger.path), else the default. The chosen or configured name is expanded by path_expand
 * ("~/x.jsonl", "$XDG_STATE_HOME/..."); a relative one stays relative to the working directory.
 * Returns 0, or -1 as ledger_default_path does, or when the expansion fails. */
int ledger_path_resolve(const char *chosen, const char *configured, char *out, size_t n);

/* Whether ledger_append on `path` can work: 0 when the file is a writable regular file, or is
 * missing and the nearest existing folder above it is a writable directory; else -1 with a
 * message naming what is in the way ("/x/ledger is a directory", "/x/f/l.jsonl cannot be
 * created: /x/f is not a directory"). A quick look (stat, access), not a promise: the disk may
 * still be full. */
int ledger_path_check(const char *path, char *err, size_t errlen);

/* Fills `e` for a new request: ts = now, a fresh id, task_id = id, input and output 0, the
 * cached, cache-write and reasoning counts unknown, no price, outcome "answered", every string
 * NULL. Returns 0, or -1 when no random bytes could
 * be had (then the id is made of time and pid only, still filled). */
int ledger_entry_init(ledger_entry *e);

/* Writes a new unique id ("<ms hex>-<pid hex>-<random hex>") into out (LEDGER_ID_SIZE bytes).
 * Returns 0, or -1 when the system gave no random bytes (id then from time and pid only). */
int ledger_new_id(char out[LEDGER_ID_SIZE]);

/* Copies usage into the entry's token counts (USAGE_UNKNOWN becomes LEDGER_UNKNOWN). */
void ledger_entry_set_usage(ledger_entry *e, const usage_counts *u);

/* Prices the entry at `price` (its model's) and `full` (the Full tier's, the "Full for
 * everything" counterfactual), either NULL when unknown: sets price, cost_usd and full_cost_usd
 * (prices_usage_cost) with their _known flags. Needs the token counts filled in. */
void ledger_entry_set_cost(ledger_entry *e, const price_entry *price, const price_entry *full);

/* Prices the entry from the configuration: `price` and `cost_usd` at the entry's model (looked
 * up with config_price_lookup for `provider`), `full_cost_usd` at the Full tier's model. A model
 * without a known price leaves the matching fields unknown (null in the file). Needs model and
 * the token counts filled in. */
void ledger_entry_price(ledger_entry *e, const frugal_config *cfg, provider_id provider);

/* Appends one request. Creates missing parent folders (0700) and the file (0600; an existing
 * file keeps its mode). The line is written with one write() call (see above). Returns 0, or -1
 * with a one-line message in `err` (missing field, cannot create, disk full). */
int ledger_append(const char *path, const ledger_entry *e, char *err, size_t errlen);

/* The write half of ledger_append, for a line made earlier with ledger_format_entry (so the
 * formatting can happen where the entry's strings live and the write on another thread).
 * Returns 0, or -1 with a one-line message in `err`. */
int ledger_append_line(const char *path, const char *line, size_t len, char *err, size_t errlen);

/* Appends an outcome update for the request `id` (outcome must be LEDGER_APPLIED or
 * LEDGER_REJECTED), stamped now. Returns 0, or -1 with a message in `err`. */
int ledger_append_outcome(const char *path, const char *id, ledger_outcome outcome, char *err,
                          size_t errlen);

/* Appends the record's JSON line for `e` (newline included) to `out`. Returns 0, or -1 with a
 * message naming the missing or invalid field (then `out` is unchanged). */
int ledger_format_entry(const ledger_entry *e, buf_t *out, char *err, size_t errlen);

/* Reads the requests whose ts is in [since_ms, until_ms), in file order, with every outcome
 * update applied (the last update for an id wins, wherever it is in the file). The file is read
 * in blocks, one line at a time; every field's type is checked, and a line that is torn, not
 * JSON, or has a field of the wrong type is skipped and counted in out->corrupt, never fatal.
 * A request line whose leading ts is well formed and outside the period is passed over without
 * being parsed (so its other faults are not counted). Amounts past the bounds of plausibility
 * (LEDGER_COST_MAX, ...) are faults too.
 * A missing file is an empty ledger. Returns 0, or -1 with a message in `err` when the file
 * exists but cannot be read (then `out` holds what was read before; free it anyway).
 * `out` is initialised by this call; free with ledger_entries_free(). */
int ledger_read(const char *path, int64_t since_ms, int64_t until_ms, ledger_entries *out,
                char *err, size_t errlen);
void ledger_entries_free(ledger_entries *l);

/* The sum of the known cost_usd of the requests from since_ms on, and the part of it from
 * split_ms on (today within the month, say), read as ledger_read reads but without keeping a
 * single entry: memory stays the same however long the ledger grows (the budget check runs
 * before every request). Corrupt lines count nothing. Returns 0, or -1 with a message when the
 * file exists but cannot be read (the sums then hold what was read before). */
int ledger_sum_cost(const char *path, int64_t since_ms, int64_t split_ms, double *total,
                    double *from_split, char *err, size_t errlen);

/* Calls `add` once per kind of skipped record with a one-line text ("skipped 2 corrupt lines
 * (line 17, 40)"); the text is valid during the call only. Returns the number of warnings. */
size_t ledger_warnings(const ledger_entries *l, void (*add)(void *data, const char *text),
                       void *data);

/* Time helpers, UTC. ledger_format_ts writes "YYYY-MM-DDTHH:MM:SS.mmmZ" (25 bytes with NUL).
 * ledger_parse_ts accepts that form, without milliseconds too, and with a "+HH:MM"/"-HH:MM"
 * offset instead of Z; returns 0, or -1 for anything else (range checked). */
#define LEDGER_TS_SIZE 25
void ledger_format_ts(int64_t ms, char out[LEDGER_TS_SIZE]);
int ledger_parse_ts(const char *s, size_t len, int64_t *ms);
int64_t ledger_now_ms(void);
/* Days since 1970-01-01 for a civil date, and back (proleptic Gregorian). */
int64_t ledger_days_from_civil(int64_t y, int m, int d);
void ledger_civil_from_days(int64_t days, int64_t *y, int *m, int *d);

/* "answered", "applied", ...; ledger_outcome_from_name returns -1 for an unknown name. */
const char *ledger_outcome_name(ledger_outcome o);
int ledger_outcome_from_name(const char *name);

#endif
