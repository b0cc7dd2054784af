#include "ledger/ledger.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/prices.h"
#include "util/file.h"
#include "util/path.h"
#include "util/text.h"

/* A line longer than this is not one frugal wrote (an entry is well under 1 KiB plus the project
 * path); it is skipped as corrupt without being held in memory. */
#define LINE_MAX_BYTES (1024 * 1024)
#define READ_BLOCK 65536

static const char *const outcome_names[LEDGER_OUTCOME__COUNT] = {
  "answered", "applied", "rejected", "escalated", "failed", "cancelled",
};

const char *ledger_outcome_name(ledger_outcome o)
{
  return (unsigned)o < LEDGER_OUTCOME__COUNT ? outcome_names[o] : "unknown";
}

int ledger_outcome_from_name(const char *name)
{
  for (int i = 0; i < LEDGER_OUTCOME__COUNT; i++) {
    if (strcmp(name, outcome_names[i]) == 0) {
      return i;
    }
  }
  return -1;
}

/* ---- time ---------------------------------------------------------------------------------- */

static int64_t floor_div(int64_t a, int64_t b)
{
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Days before each month in a year that starts on March 1st, so that the leap day is the last
 * day of the year and needs no special case. */
static const int days_before_month_from_march[12] = {0,   31,  61,  92,  122, 153,
                                                     184, 214, 245, 275, 306, 337};

static int64_t days_since_march_epoch(int64_t y, int m, int d)
{
  if (m <= 2) {
    y -= 1; /* January and February belong to the previous March-based year */
    m += 12;
  }
  /* Year y (March y .. February y+1) has 366 days when y+1 is a leap year, so the years before
   * y hold one leap day per leap year in [1, y]. */
  int64_t leap_days = floor_div(y, 4) - floor_div(y, 100) + floor_div(y, 400);
  return 365 * y + leap_days + days_before_month_from_march[m - 3] + (d - 1);
}

int64_t ledger_days_from_civil(int64_t y, int m, int d)
{
  return days_since_march_epoch(y, m, d) - days_since_march_epoch(1970, 1, 1);
}

static int is_leap(int64_t y)
{
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
  static const int len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : len[m - 1];
}

void ledger_civil_from_days(int64_t days, int64_t *y, int *m, int *d)
{
  /* Estimate the year from the mean year length, then correct it: at most one step off. */
  int64_t year = 1970 + floor_div(days * 400, 146097);
  while (ledger_days_from_civil(year, 1, 1) > days) {
    year--;
  }
  while (ledger_days_from_civil(year + 1, 1, 1) <= days) {
    year++;
  }
  int64_t rest = days - ledger_days_from_civil(year, 1, 1);
  int month = 1;
  while (rest >= days_in_month(year, month)) {
    rest -= days_in_month(year, month);
    month++;
  }
  *y = year;
  *m = month;
  *d = (int)rest + 1;
}

#define MS_PER_DAY 86400000LL

void ledger_format_ts(int64_t ms, char out[LEDGER_TS_SIZE])
{
  /* Keep the year within four digits so the text always has the same shape. */
  const int64_t lo = ledger_days_from_civil(0, 1, 1) * MS_PER_DAY;
  const int64_t hi = ledger_days_from_civil(10000, 1, 1) * MS_PER_DAY - 1;
  ms = ms < lo ? lo : ms > hi ? hi : ms;
  int64_t days = floor_div(ms, MS_PER_DAY);
  int64_t in_day = ms - days * MS_PER_DAY;
  int64_t y;
  int m, d;
  ledger_civil_from_days(days, &y, &m, &d);
  /* The moduli only tell the compiler the ranges (already guaranteed) for its size check. */
  uint64_t t = (uint64_t)in_day;
  snprintf(out, LEDGER_TS_SIZE, "%04u-%02u-%02uT%02u:%02u:%02u.%03uZ", (unsigned)y % 10000u,
           (unsigned)m % 100u, (unsigned)d % 100u, (unsigned)(t / 3600000 % 24),
           (unsigned)(t / 60000 % 60), (unsigned)(t / 1000 % 60), (unsigned)(t % 1000));
}

static int digits(const char *s, size_t n, int *out)
{
  int v = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') {
      return -1;
    }
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return 0;
}

int ledger_parse_ts(const char *s, size_t len, int64_t *ms)
{
  int y, mo, d, h, mi, sec;
  if (len < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' ||
      s[16] != ':' || digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) ||
      digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) || digits(s + 17, 2, &sec)) {
    return -1;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60) {
    return -1;
  }
  size_t i = 19;
  int frac_ms = 0;
  if (i < len && s[i] == '.') {
    size_t start = ++i;
    while (i < len && s[i] >= '0' && s[i] <= '9') {
      if (i - start < 3) {
        frac_ms = frac_ms * 10 + (s[i] - '0');
      }
      i++;
    }
    if (i == start || i - start > 9) {
      return -1;
    }
    for (size_t k = i - start; k < 3; k++) {
      frac_ms *= 10;
    }
  }
  int offset_min = 0;
  if (i + 1 == len && (s[i] == 'Z' || s[i] == 'z')) {
    i++;
  } else if (i + 6 == len && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
    int oh, om;
    if (digits(s + i + 1, 2, &oh) || digits(s + i + 4, 2, &om) || oh > 23 || om > 59) {
      return -1;
    }
    offset_min = (s[i] == '-' ? -1 : 1) * (oh * 60 + om);
    i += 6;
  } else {
    return -1;
  }
  int64_t days = ledger_days_from_civil(y, mo, d);
  *ms = days * MS_PER_DAY + ((int64_t)h * 3600 + mi * 60 + sec) * 1000 + frac_ms -
        (int64_t)offset_min * 60000;
  return 0;
}

int64_t ledger_now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- ids, entries, prices ------------------------------------------------------------------ */

int ledger_new_id(char out[LEDGER_ID_SIZE])
{
  uint64_t r = 0;
  int rc = 0;
  if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, &r, sizeof(r)) != (ssize_t)sizeof(r)) {
      rc = -1;
      /* Still distinct between processes and, with the address of a stack variable (which ASLR
       * varies), very likely between calls in one process in the same millisecond. */
      r = (uint64_t)(uintptr_t)&r ^ ((uint64_t)clock() << 32);
    }
    if (fd >= 0) {
      close(fd);
    }
  }
  /* Time first, so ids sort roughly by creation; pid and 64 random bits make them unique. */
  snprintf(out, LEDGER_ID_SIZE, "%llx-%lx-%016llx", (unsigned long long)ledger_now_ms(),
           (unsigned long)getpid(), (unsigned long long)r);
  return rc;
}

int ledger_entry_init(ledger_entry *e)
{
  memset(e, 0, sizeof(*e));
  e->ts_ms = ledger_now_ms();
  int rc = ledger_new_id(e->id);
  memcpy(e->task_id, e->id, sizeof(e->task_id));
  e->input_tokens = 0;
  e->output_tokens = 0;
  e->cached_input_tokens = LEDGER_UNKNOWN;
  e->cache_write_tokens = LEDGER_UNKNOWN;
  e->reasoning_tokens = LEDGER_UNKNOWN;
  e->outcome = LEDGER_ANSWERED;
  return rc;
}

static int64_t known_or_unknown(int64_t v)
{
  return v < 0 ? LEDGER_UNKNOWN : v;
}

void ledger_entry_set_usage(ledger_entry *e, const usage_counts *u)
{
  e->input_tokens = known_or_unknown(u->input_tokens);
  e->cached_input_tokens = known_or_unknown(u->cached_input_tokens);
  e->cache_write_tokens = known_or_unknown(u->cache_write_tokens);
  e->output_tokens = known_or_unknown(u->output_tokens);
  e->reasoning_tokens = known_or_unknown(u->reasoning_tokens);
}

static usage_counts entry_usage(const ledger_entry *e)
{
  usage_counts u = {e->input_tokens,  e->cached_input_tokens, e->cache_write_tokens,
                    e->output_tokens, e->reasoning_tokens,    USAGE_UNKNOWN,
                    false};
  return u;
}

void ledger_entry_set_cost(ledger_entry *e, const price_entry *price, const price_entry *full)
{
  usage_counts u = entry_usage(e);
  e->price_known = price != NULL;
  if (price) {
    e->price = *price;
    e->price.model = NULL;
  }
  e->cost_known = price && prices_usage_cost(price, &u, &e->cost_usd) == 0;
  e->full_cost_known = full && prices_usage_cost(full, &u, &e->full_cost_usd) == 0;
}

void ledger_entry_price(ledger_entry *e, const frugal_config *cfg, provider_id provider)
{
  price_entry p, fp;
  const tier_config *full = &cfg->tiers[TIER_FULL];
  int has = e->model && config_price_lookup(cfg, e->model, provider, &p) == 0;
  int has_full = full->model && config_price_lookup(cfg, full->model, full->provider, &fp) == 0;
  ledger_entry_set_cost(e, has ? &p : NULL, has_full ? &fp : NULL);
}

/* ---- writing ------------------------------------------------------------------------------- */

/* Jansson refuses strings that are not UTF-8; a project path on Linux may be any bytes. Invalid
 * bytes become '?', and the text is cut at `max` bytes on a character boundary. */
static json_t *json_text(const char *s, size_t max)
{
  if (!s) {
    return json_null();
  }
  size_t n = strlen(s);
  buf_t b = BUF_INIT;
  buf_reserve(&b, n < max ? n : max);
  utf8_append_repaired(&b, s, n, "?", max);
  json_t *j = json_stringn(b.data ? b.data : "", b.len);
  buf_free(&b);
  return j;
}

static json_t *json_count(int64_t v)
{
  return v < 0 ? json_null() : json_integer((json_int_t)v);
}

static int id_ok(const char *id)
{
  size_t n = strnlen(id, LEDGER_ID_SIZE);
  if (n == 0 || n == LEDGER_ID_SIZE) {
    return 0;
  }
  for (size_t i = 0; i < n; i++) {
    if ((unsigned char)id[i] <= ' ' || (unsigned char)id[i] >= 0x7f || id[i] == '"' ||
        id[i] == '\\') {
      return 0;
    }
  }
  return 1;
}

static int money_ok(double v)
{
  return isfinite(v) && v >= 0;
}

static int fail(char *err, size_t errlen, const char *what)
{
  snprintf(err, errlen, "ledger: invalid entry: %s", what);
  return -1;
}

static int check_entry(const ledger_entry *e, char *err, size_t errlen)
{
  if (!id_ok(e->id)) {
    return fail(err, errlen, "id (printable ASCII, 1 to 47 characters)");
  }
  if (!id_ok(e->task_id)) {
    return fail(err, errlen, "task_id (printable ASCII, 1 to 47 characters)");
  }
  const char *const names[] = {"action", "tier", "provider", "model"};
  const char *const vals[] = {e->action, e->tier, e->provider, e->model};
  for (size_t i = 0; i < 4; i++) {
    if (!vals[i] || !*vals[i]) {
      return fail(err, errlen, names[i]);
    }
  }
  if (e->input_tokens < 0 || e->output_tokens < 0) {
    return fail(err, errlen, "input_tokens and output_tokens must be known (estimate them)");
  }
  if (e->cached_input_tokens < LEDGER_UNKNOWN || e->cache_write_tokens < LEDGER_UNKNOWN ||
      e->reasoning_tokens < LEDGER_UNKNOWN) {
    return fail(err, errlen, "negative token count");
  }
  if (e->latency_ms < 0) {
    return fail(err, errlen, "latency_ms");
  }
  if ((unsigned)e->outcome >= LEDGER_OUTCOME__COUNT) {
    return fail(err, errlen, "outcome");
  }
  if ((e->price_known && !(money_ok(e->price.input) && money_ok(e->price.cached_input) &&
                           money_ok(e->price.output) && money_ok(e->price.cache_write))) ||
      (e->cost_known && !money_ok(e->cost_usd)) ||
      (e->full_cost_known && !money_ok(e->full_cost_usd))) {
    return fail(err, errlen, "a price or cost is negative or not finite");
  }
  return 0;
}

/* Real numbers with 15 significant digits: exact for any decimal price or cost a person would
 * write, without binary noise such as 0.0017250000000000001. */
#define DUMP_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))

static int dump_line(json_t *obj, buf_t *out, char *err, size_t errlen)
{
  char *s = json_dumps(obj, DUMP_FLAGS);
  json_decref(obj);
  if (!s) {
    snprintf(err, errlen, "ledger: cannot encode the entry as JSON");
    return -1;
  }
  buf_puts(out, s);
  buf_putc(out, '\n');
  free(s);
  return 0;
}

int ledger_format_entry(const ledger_entry *e, buf_t *out, char *err, size_t errlen)
{
  if (check_entry(e, err, errlen) != 0) {
    return -1;
  }
  char ts[LEDGER_TS_SIZE];
  ledger_format_ts(e->ts_ms, ts);
  json_t *o = json_object();
  json_object_set_new(o, "ts", json_string(ts));
  json_object_set_new(o, "id", json_string(e->id));
  json_object_set_new(o, "task_id", json_string(e->task_id));
  json_object_set_new(o, "project", json_text(e->project, 4096));
  json_object_set_new(o, "action", json_text(e->action, 200));
  json_object_set_new(o, "tier", json_text(e->tier, 200));
  json_object_set_new(o, "provider", json_text(e->provider, 200));
  json_object_set_new(o, "model", json_text(e->model, 200));
  json_object_set_new(o, "input_tokens", json_count(e->input_tokens));
  json_object_set_new(o, "cached_input_tokens", json_count(e->cached_input_tokens));
  json_object_set_new(o, "cache_write_tokens", json_count(e->cache_write_tokens));
  json_object_set_new(o, "output_tokens", json_count(e->output_tokens));
  json_object_set_new(o, "reasoning_tokens", json_count(e->reasoning_tokens));
  json_object_set_new(o, "estimated", json_boolean(e->estimated));
  if (e->price_known) {
    json_object_set_new(o, "price",
                        json_pack("{s:f,s:f,s:f,s:f}", "input", e->price.input, "cached_input",
                                  e->price.cached_input, "output", e->price.output,
                                  "cache_write", e->price.cache_write));
  } else {
    json_object_set_new(o, "price", json_null());
  }
  json_object_set_new(o, "cost_usd", e->cost_known ? json_real(e->cost_usd) : json_null());
  json_object_set_new(o, "full_cost_usd",
                      e->full_cost_known ? json_real(e->full_cost_usd) : json_null());
  json_object_set_new(o, "latency_ms", json_integer((json_int_t)e->latency_ms));
  json_object_set_new(o, "outcome", json_string(ledger_outcome_name(e->outcome)));
  json_object_set_new(o, "error", json_text(e->error, LEDGER_ERROR_MAX));
  return dump_line(o, out, err, errlen);
}

/* Creates every missing folder above `path` with mode 0700; existing ones are left alone. */
static int make_parents(const char *path, char *err, size_t errlen)
{
  char *p = xstrdup(path);
  int rc = 0;
  for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
    *s = '\0';
    if (s[-1] != '/' && mkdir(p, 0700) != 0 && errno != EEXIST) {
      snprintf(err, errlen, "ledger: cannot create folder '%s': %s", p, strerror(errno));
      rc = -1;
      break;
    }
    *s = '/';
  }
  free(p);
  return rc;
}

static int append_line(const char *path, buf_t *line, char *err, size_t errlen)
{
  if (!path || !*path) {
    snprintf(err, errlen, "ledger: no ledger path");
    return -1;
  }
  if (make_parents(path, err, errlen) != 0) {
    return -1;
  }
  /* 0600 is only the creation mode (narrowed further by the umask); an existing file keeps its
   * own. O_RDWR rather than O_WRONLY so the last byte can be checked below. */
  char oerr[400];
  int fd = file_open_regular(path, O_RDWR | O_APPEND | O_CREAT, 0600, "ledger", oerr,
                             sizeof(oerr));
  if (fd < 0) {
    snprintf(err, errlen, "ledger: %s", oerr);
    return -1;
  }
  /* A crash mid-write leaves a last line without its newline. Starting this record on a fresh
   * line keeps it from being glued to that fragment and lost with it. Two appenders may both
   * add the newline: a blank line, which the reader ignores. */
  struct stat st;
  char last = '\n';
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
      pread(fd, &last, 1, st.st_size - 1) == 1 && last != '\n') {
    buf_t fresh = BUF_INIT;
    buf_putc(&fresh, '\n');
    buf_append(&fresh, line->data, line->len);
    buf_free(line);
    *line = fresh;
  }
  /* One write() per record: with O_APPEND the offset and the copy are one step (see header). */
  ssize_t n;
  do {
    n = write(fd, line->data, line->len);
  } while (n < 0 && errno == EINTR);
  int rc = 0;
  if (n < 0) {
    snprintf(err, errlen, "ledger: cannot write '%s': %s", path, strerror(errno));
    rc = -1;
  } else if ((size_t)n < line->len) {
    /* Disk full or a file size limit mid-record: end the fragment so the next record starts on
     * its own line; the reader skips the fragment as corrupt. */
    int saved = errno;
    ssize_t ignored = write(fd, "\n", 1);
    (void)ignored;
    snprintf(err, errlen, "ledger: short write to '%s' (%zd of %zu bytes): %s", path, n,
             line->len, strerror(saved));
    rc = -1;
  }
  if (close(fd) != 0 && rc == 0) {
    snprintf(err, errlen, "ledger: cannot write '%s': %s", path, strerror(errno));
    rc = -1;
  }
  return rc;
}

int ledger_append(const char *path, const ledger_entry *e, char *err, size_t errlen)
{
  buf_t line = BUF_INIT;
  int rc = ledger_format_entry(e, &line, err, errlen);
  if (rc == 0) {
    rc = append_line(path, &line, err, errlen);
  }
  buf_free(&line);
  return rc;
}

int ledger_append_line(const char *path, const char *line, size_t len, char *err, size_t errlen)
{
  buf_t b = BUF_INIT;
  buf_append(&b, line, len);
  int rc = append_line(path, &b, err, errlen);
  buf_free(&b);
  return rc;
}

int ledger_append_outcome(const char *path, const char *id, ledger_outcome outcome, char *err,
                          size_t errlen)
{
  if (!id || strnlen(id, LEDGER_ID_SIZE) == LEDGER_ID_SIZE || !id_ok(id)) {
    return fail(err, errlen, "outcome update: id");
  }
  if (outcome != LEDGER_APPLIED && outcome != LEDGER_REJECTED) {
    return fail(err, errlen, "outcome update: only 'applied' or 'rejected'");
  }
  char ts[LEDGER_TS_SIZE];
  ledger_format_ts(ledger_now_ms(), ts);
  /* "type" first: a reader can tell the record kind from the start of the line. */
  json_t *o = json_pack("{s:s,s:s,s:s,s:s}", "type", "outcome", "ts", ts, "id", id, "outcome",
                        ledger_outcome_name(outcome));
  buf_t line = BUF_INIT;
  int rc = dump_line(o, &line, err, errlen);
  if (rc == 0) {
    rc = append_line(path, &line, err, errlen);
  }
  buf_free(&line);
  return rc;
}

/* ---- default path -------------------------------------------------------------------------- */

int ledger_default_path(char *out, size_t n)
{
  const char *app = getenv("NVIM_APPNAME");
  if (!app || !*app || strstr(app, "..") || app[0] == '/') {
    app = "nvim";
  }
  const char *state = getenv("XDG_STATE_HOME");
  int len;
  if (state && state[0] == '/') {
    len = snprintf(out, n, "%s/%s/frugal/ledger.jsonl", state, app);
  } else {
    const char *home = getenv("HOME");
    if (!home || home[0] != '/') {
      return -1;
    }
    len = snprintf(out, n, "%s/.local/state/%s/frugal/ledger.jsonl", home, app);
  }
  return len < 0 || (size_t)len >= n ? -1 : 0;
}

/* ---- reading ------------------------------------------------------------------------------- */

/* Strings of the entries read: stored once each (a ledger repeats the same few projects,
 * actions and models thousands of times) in large chunks. */
#define POOL_CHUNK 65536

struct ledger_pool {
  char **chunks;
  size_t nchunks;
  size_t used; /* bytes used in the last chunk */
  size_t avail;
  const char **slots; /* open addressing; size is a power of two */
  size_t nslots;
  size_t count;
};

static uint64_t hash_bytes(const char *s, size_t n)
{
  uint64_t h = 1469598103934665603ULL; /* FNV-1a */
  for (size_t i = 0; i < n; i++) {
    h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
  }
  return h;
}

static char *pool_alloc(ledger_pool *p, size_t n)
{
  if (n > p->avail) {
    size_t size = n > POOL_CHUNK / 4 ? n : POOL_CHUNK;
    p->chunks = xrealloc(p->chunks, (p->nchunks + 1) * sizeof(*p->chunks));
    char *c = xmalloc(size);
    if (size == n && p->nchunks > 0) {
      /* A big string gets a chunk of its own, slotted in before the current one so the
       * current chunk's free space stays usable. */
      p->chunks[p->nchunks] = p->chunks[p->nchunks - 1];
      p->chunks[p->nchunks - 1] = c;
      p->nchunks++;
      return c;
    }
    p->chunks[p->nchunks++] = c;
    p->used = 0;
    p->avail = size;
  }
  char *r = p->chunks[p->nchunks - 1] + p->used;
  p->used += n;
  p->avail -= n;
  return r;
}

static void pool_grow(ledger_pool *p)
{
  size_t nslots = p->nslots ? p->nslots * 2 : 64;
  const char **slots = xcalloc(nslots, sizeof(*slots));
  for (size_t i = 0; i < p->nslots; i++) {
    if (p->slots[i]) {
      size_t j = hash_bytes(p->slots[i], strlen(p->slots[i])) & (nslots - 1);
      while (slots[j]) {
        j = (j + 1) & (nslots - 1);
      }
      slots[j] = p->slots[i];
    }
  }
  free(p->slots);
  p->slots = slots;
  p->nslots = nslots;
}

static const char *pool_intern(ledger_pool *p, const char *s, size_t n)
{
  if ((p->count + 1) * 2 > p->nslots) {
    pool_grow(p);
  }
  size_t j = hash_bytes(s, n) & (p->nslots - 1);
  while (p->slots[j]) {
    if (strncmp(p->slots[j], s, n) == 0 && p->slots[j][n] == '\0') {
      return p->slots[j];
    }
    j = (j + 1) & (p->nslots - 1);
  }
  char *c = pool_alloc(p, n + 1);
  memcpy(c, s, n);
  c[n] = '\0';
  p->slots[j] = c;
  p->count++;
  return c;
}

static void pool_free(ledger_pool *p)
{
  if (!p) {
    return;
  }
  for (size_t i = 0; i < p->nchunks; i++) {
    free(p->chunks[i]);
  }
  free(p->chunks);
  free(p->slots);
  free(p);
}

void ledger_entries_free(ledger_entries *l)
{
  free(l->items);
  pool_free(l->pool);
  memset(l, 0, sizeof(*l));
}

typedef struct {
  char id[LEDGER_ID_SIZE];
  ledger_outcome outcome;
} outcome_update;

/* ledger_sum_cost's running sums (the entries are not kept). */
typedef struct {
  int64_t split_ms;
  double total;
  double from_split;
} cost_sums;

typedef struct {
  ledger_entries *out;
  int64_t since_ms;
  int64_t until_ms;
  outcome_update *updates;
  size_t nupdates;
  size_t cap_updates;
  cost_sums *sums; /* NULL: keep the entries; else only add up their costs */
} read_state;

static void note_corrupt(ledger_entries *l, size_t lineno)
{
  if (l->corrupt < LEDGER_NOTED_LINES) {
    l->corrupt_line[l->corrupt] = lineno;
  }
  l->corrupt++;
}

/* The getters below return 0 when the member has the right type (and set *out), -1 otherwise. */
static int get_string(json_t *o, const char *key, bool nullable, const char **out, size_t *len)
{
  json_t *v = json_object_get(o, key);
  if (nullable && (!v || json_is_null(v))) {
    *out = NULL;
    *len = 0;
    return 0;
  }
  if (!json_is_string(v)) {
    return -1;
  }
  *out = json_string_value(v);
  *len = json_string_length(v);
  return 0;
}

static int get_name(json_t *o, const char *key, const char **out, size_t *len)
{
  return get_string(o, key, false, out, len) != 0 || *len == 0 || *len > 4096 ? -1 : 0;
}

static int get_id(json_t *o, const char *key, char out[LEDGER_ID_SIZE])
{
  const char *s;
  size_t n;
  if (get_string(o, key, false, &s, &n) != 0 || n == 0 || n >= LEDGER_ID_SIZE) {
    return -1;
  }
  memcpy(out, s, n + 1);
  return id_ok(out) ? 0 : -1;
}

static int get_count(json_t *o, const char *key, bool nullable, int64_t *out)
{
  json_t *v = json_object_get(o, key);
  if (nullable && json_is_null(v)) {
    *out = LEDGER_UNKNOWN;
    return 0;
  }
  if (!json_is_integer(v) || json_integer_value(v) < 0 ||
      json_integer_value(v) > LEDGER_TOKENS_MAX) {
    return -1;
  }
  *out = (int64_t)json_integer_value(v);
  return 0;
}

/* An amount of at most `max` (LEDGER_COST_MAX, LEDGER_PRICE_MAX): more is not a price or a
 * cost anyone paid, and summing such amounts would overflow to inf. */
static int get_money(json_t *o, const char *key, double max, bool *known, double *out)
{
  json_t *v = json_object_get(o, key);
  if (json_is_null(v)) {
    *known = false;
    *out = 0;
    return 0;
  }
  if (!json_is_number(v) || !money_ok(json_number_value(v)) || json_number_value(v) > max) {
    return -1;
  }
  *known = true;
  *out = json_number_value(v);
  return 0;
}

static int get_price(json_t *o, ledger_entry *e)
{
  json_t *p = json_object_get(o, "price");
  if (json_is_null(p)) {
    e->price_known = false;
    return 0;
  }
  if (!json_is_object(p)) {
    return -1;
  }
  const char *const keys[] = {"input", "cached_input", "output", "cache_write"};
  double *dst[] = {&e->price.input, &e->price.cached_input, &e->price.output,
                   &e->price.cache_write};
  for (size_t i = 0; i < 4; i++) {
    bool known;
    if (get_money(p, keys[i], LEDGER_PRICE_MAX, &known, dst[i]) != 0 || !known) {
      return -1;
    }
  }
  e->price_known = true;
  return 0;
}

typedef struct {
  const char *s;
  size_t n;
} span;

/* Validates a request record into `e`; strings are left borrowed from `o` in `strs` (project,
 * action, tier, provider, model, error) until the caller decides to keep the entry. */
static int parse_request(json_t *o, ledger_entry *e, span strs[6])
{
  const char *ts;
  size_t tslen;
  const char *outcome;
  size_t outlen;
  json_t *est = json_object_get(o, "estimated");
  json_t *lat = json_object_get(o, "latency_ms");
  if (get_string(o, "ts", false, &ts, &tslen) != 0 || ledger_parse_ts(ts, tslen, &e->ts_ms) ||
      get_id(o, "id", e->id) || get_id(o, "task_id", e->task_id) ||
      get_string(o, "project", true, &strs[0].s, &strs[0].n) ||
      get_name(o, "action", &strs[1].s, &strs[1].n) ||
      get_name(o, "tier", &strs[2].s, &strs[2].n) ||
      get_name(o, "provider", &strs[3].s, &strs[3].n) ||
      get_name(o, "model", &strs[4].s, &strs[4].n) ||
      get_string(o, "error", true, &strs[5].s, &strs[5].n) ||
      get_count(o, "input_tokens", false, &e->input_tokens) ||
      get_count(o, "cached_input_tokens", true, &e->cached_input_tokens) ||
      get_count(o, "cache_write_tokens", true, &e->cache_write_tokens) ||
      get_count(o, "output_tokens", false, &e->output_tokens) ||
      get_count(o, "reasoning_tokens", true, &e->reasoning_tokens) || !json_is_boolean(est) ||
      get_price(o, e) || get_money(o, "cost_usd", LEDGER_COST_MAX, &e->cost_known, &e->cost_usd) ||
      get_money(o, "full_cost_usd", LEDGER_COST_MAX, &e->full_cost_known, &e->full_cost_usd) ||
      !json_is_integer(lat) || json_integer_value(lat) < 0 ||
      get_string(o, "outcome", false, &outcome, &outlen)) {
    return -1;
  }
  int oc = ledger_outcome_from_name(outcome);
  if (oc < 0) {
    return -1;
  }
  e->estimated = json_is_true(est);
  e->latency_ms = (int64_t)json_integer_value(lat);
  e->outcome = (ledger_outcome)oc;
  return 0;
}

static void keep_entry(read_state *st, ledger_entry *e, const span strs[6])
{
  ledger_entries *l = st->out;
  const char **dst[] = {&e->project, &e->action, &e->tier, &e->provider, &e->model, &e->error};
  for (size_t i = 0; i < 6; i++) {
    *dst[i] = strs[i].s ? pool_intern(l->pool, strs[i].s, strs[i].n) : NULL;
  }
  if (l->count == l->cap) {
    l->cap = l->cap ? l->cap * 2 : 256;
    l->items = xrealloc(l->items, l->cap * sizeof(*l->items));
  }
  l->items[l->count++] = *e;
}

static int parse_outcome(read_state *st, json_t *o)
{
  const char *ts, *name;
  size_t tslen, namelen;
  int64_t ms;
  outcome_update u;
  if (get_string(o, "ts", false, &ts, &tslen) || ledger_parse_ts(ts, tslen, &ms) ||
      get_id(o, "id", u.id) || get_string(o, "outcome", false, &name, &namelen)) {
    return -1;
  }
  int oc = ledger_outcome_from_name(name);
  if (oc != LEDGER_APPLIED && oc != LEDGER_REJECTED) {
    return -1;
  }
  u.outcome = (ledger_outcome)oc;
  if (st->nupdates == st->cap_updates) {
    st->cap_updates = st->cap_updates ? st->cap_updates * 2 : 64;
    st->updates = xrealloc(st->updates, st->cap_updates * sizeof(*st->updates));
  }
  st->updates[st->nupdates++] = u;
  return 0;
}

static void handle_line(read_state *st, const char *s, size_t n, size_t lineno)
{
  ledger_entries *l = st->out;
  l->lines++;
  while (n > 0 && (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t')) {
    n--;
  }
  size_t lead = 0;
  while (lead < n && (s[lead] == ' ' || s[lead] == '\t')) {
    lead++;
  }
  if (lead == n) {
    return; /* blank: two appenders both ended a torn line, or a hand edit */
  }
  /* Requests begin with their ts (the writer puts it first): one outside the period is passed
   * over without the JSON parse, which is nearly all of the reading time. Such a line is not
   * validated, so its corruption is not reported either: it could not have counted anyway. */
  int64_t ts_ms;
  if (n > 33 && memcmp(s, "{\"ts\":\"", 7) == 0 && s[31] == '"' && s[32] == ',' &&
      ledger_parse_ts(s + 7, 24, &ts_ms) == 0 && (ts_ms < st->since_ms || ts_ms >= st->until_ms)) {
    return;
  }
  json_t *o = json_loadb(s, n, 0, NULL);
  int bad = !json_is_object(o);
  if (!bad) {
    json_t *type = json_object_get(o, "type");
    if (!type) {
      ledger_entry e;
      span strs[6];
      memset(&e, 0, sizeof(e));
      bad = parse_request(o, &e, strs) != 0;
      if (!bad && e.ts_ms >= st->since_ms && e.ts_ms < st->until_ms) {
        if (!st->sums) {
          keep_entry(st, &e, strs);
        } else if (e.cost_known) {
          st->sums->total += e.cost_usd;
          st->sums->from_split += e.ts_ms >= st->sums->split_ms ? e.cost_usd : 0;
        }
      }
    } else if (!json_is_string(type)) {
      bad = 1;
    } else if (strcmp(json_string_value(type), "outcome") == 0) {
      bad = st->sums ? 0 : parse_outcome(st, o) != 0; /* an outcome changes no cost */
    } else {
      l->unknown_type++;
    }
  }
  if (bad) {
    note_corrupt(l, lineno);
  }
  json_decref(o);
}

/* Applies the outcome updates in file order, so the last one for an id wins. */
static void apply_updates(read_state *st)
{
  ledger_entries *l = st->out;
  if (st->nupdates == 0 || l->count == 0) {
    return;
  }
  size_t nslots = 64;
  while (nslots < l->count * 2) {
    nslots *= 2;
  }
  size_t *slots = xmalloc(nslots * sizeof(*slots)); /* entry index + 1; 0 = empty */
  memset(slots, 0, nslots * sizeof(*slots));
  for (size_t i = 0; i < l->count; i++) {
    const char *id = l->items[i].id;
    size_t j = hash_bytes(id, strlen(id)) & (nslots - 1);
    while (slots[j] && strcmp(l->items[slots[j] - 1].id, id) != 0) {
      j = (j + 1) & (nslots - 1);
    }
    slots[j] = i + 1; /* a duplicated id: the later request takes the update */
  }
  for (size_t k = 0; k < st->nupdates; k++) {
    const char *id = st->updates[k].id;
    size_t j = hash_bytes(id, strlen(id)) & (nslots - 1);
    while (slots[j]) {
      if (strcmp(l->items[slots[j] - 1].id, id) == 0) {
        l->items[slots[j] - 1].outcome = st->updates[k].outcome;
        break;
      }
      j = (j + 1) & (nslots - 1);
    }
  }
  free(slots);
}

/* Reads the file line by line into handle_line. Returns 0 (a missing file reads as empty), or
 * -1 with a message. */
static int read_lines(const char *path, read_state *st, char *err, size_t errlen)
{
  ledger_entries *out = st->out;
  char oerr[400];
  int fd = file_open_regular(path, O_RDONLY, 0, "ledger", oerr, sizeof(oerr));
  if (fd < 0) {
    if (fd == -1 && errno == ENOENT) {
      return 0; /* nothing recorded yet */
    }
    snprintf(err, errlen, "ledger: %s", oerr);
    return -1;
  }
  buf_t pending = BUF_INIT;
  size_t lineno = 0;
  bool skipping = false; /* inside an overlong line, already counted */
  int rc = 0;
  for (;;) {
    buf_reserve(&pending, READ_BLOCK);
    ssize_t n = read(fd, pending.data + pending.len, READ_BLOCK);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      snprintf(err, errlen, "ledger: cannot read '%s': %s", path, strerror(errno));
      rc = -1;
      break;
    }
    if (n == 0) {
      break;
    }
    size_t scan_from = pending.len;
    pending.len += (size_t)n;
    pending.data[pending.len] = '\0';
    size_t start = 0;
    for (;;) {
      char *nl = memchr(pending.data + scan_from, '\n', pending.len - scan_from);
      if (!nl) {
        break;
      }
      size_t end = (size_t)(nl - pending.data);
      lineno++;
      if (skipping) {
        skipping = false;
      } else {
        handle_line(st, pending.data + start, end - start, lineno);
      }
      start = scan_from = end + 1;
    }
    buf_consume(&pending, start);
    if (pending.len > LINE_MAX_BYTES) {
      if (!skipping) {
        out->lines++;
        note_corrupt(out, lineno + 1);
        skipping = true;
      }
      buf_clear(&pending);
    }
  }
  if (rc == 0 && pending.len > 0 && !skipping) {
    /* No newline at the end: a crash mid-write, unless the record happens to be whole. */
    handle_line(st, pending.data, pending.len, lineno + 1);
  }
  close(fd);
  buf_free(&pending);
  return rc;
}

int ledger_read(const char *path, int64_t since_ms, int64_t until_ms, ledger_entries *out,
                char *err, size_t errlen)
{
  memset(out, 0, sizeof(*out));
  out->pool = xcalloc(1, sizeof(*out->pool));
  read_state st = {out, since_ms, until_ms, NULL, 0, 0, NULL};
  int rc = read_lines(path, &st, err, errlen);
  apply_updates(&st);
  free(st.updates);
  return rc;
}

int ledger_sum_cost(const char *path, int64_t since_ms, int64_t split_ms, double *total,
                    double *from_split, char *err, size_t errlen)
{
  ledger_entries counts;
  memset(&counts, 0, sizeof(counts));
  cost_sums sums = {split_ms, 0, 0};
  read_state st = {&counts, since_ms, LEDGER_TS_MAX, NULL, 0, 0, &sums};
  int rc = read_lines(path, &st, err, errlen);
  *total = sums.total;
  *from_split = sums.from_split;
  return rc;
}

size_t ledger_warnings(const ledger_entries *l, void (*add)(void *data, const char *text),
                       void *data)
{
  size_t count = 0;
  if (l->corrupt > 0) {
    buf_t b = BUF_INIT;
    buf_printf(&b, "skipped %zu corrupt line%s (line", l->corrupt, l->corrupt == 1 ? "" : "s");
    size_t noted = l->corrupt < LEDGER_NOTED_LINES ? l->corrupt : LEDGER_NOTED_LINES;
    for (size_t i = 0; i < noted; i++) {
      buf_printf(&b, "%s %zu", i ? "," : "", l->corrupt_line[i]);
    }
    buf_puts(&b, l->corrupt > noted ? ", ...)" : ")");
    add(data, b.data);
    buf_free(&b);
    count++;
  }
  if (l->unknown_type > 0) {
    char text[160];
    snprintf(text, sizeof(text), "ignored %zu record%s of a kind this version does not know",
             l->unknown_type, l->unknown_type == 1 ? "" : "s");
    add(data, text);
    count++;
  }
  return count;
}

int ledger_path_resolve(const char *chosen, const char *configured, char *out, size_t n)
{
  const char *p = chosen ? chosen : configured;
  if (p) {
    char err[160];
    return path_expand(p, out, n, err, sizeof(err));
  }
  return ledger_default_path(out, n);
}

int ledger_path_check(const char *path, char *err, size_t errlen)
{
  struct stat st;
  if (stat(path, &st) == 0) {
    if (S_ISDIR(st.st_mode)) {
      snprintf(err, errlen, "%s is a directory", path);
      return -1;
    }
    if (!S_ISREG(st.st_mode)) {
      snprintf(err, errlen, "%s is not a regular file", path);
      return -1;
    }
    if (access(path, W_OK) != 0) {
      snprintf(err, errlen, "%s is not writable", path);
      return -1;
    }
    return 0;
  }
  /* Missing: ledger_append creates the missing folders under the nearest existing one. */
  buf_t dir = BUF_INIT;
  buf_puts(&dir, path);
  int rc = 0;
  for (;;) {
    char *slash = strrchr(dir.data, '/');
    if (!slash) {
      buf_clear(&dir);
      buf_puts(&dir, ".");
    } else {
      slash[slash == dir.data ? 1 : 0] = '\0';
      dir.len = strlen(dir.data);
    }
    if (stat(dir.data, &st) == 0) {
      if (!S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s cannot be created: %s is not a directory", path, dir.data);
        rc = -1;
      } else if (access(dir.data, W_OK | X_OK) != 0) {
        snprintf(err, errlen, "%s cannot be created: %s is not writable", path, dir.data);
        rc = -1;
      }
      break;
    }
    if (!slash || strcmp(dir.data, "/") == 0) {
      break;
    }
  }
  buf_free(&dir);
  return rc;
}
