/* plan_steps: the plan's line format, read and checked. */
#include "service/plan_steps.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/buf.h"
#include "util/file.h"
#include "util/path.h"
#include "util/text.h"

static const char *const STEP_ACTIONS[] = {"implement", "fix",    "refactor", "docs",
                                           "tests",     "review", "explain"};

int plan_steps_action_ok(const char *action)
{
  for (size_t i = 0; action && i < sizeof(STEP_ACTIONS) / sizeof(STEP_ACTIONS[0]); i++) {
    if (strcmp(action, STEP_ACTIONS[i]) == 0) {
      return 1;
    }
  }
  return 0;
}

static int is_blank(char c)
{
  return c == ' ' || c == '\t';
}

static void trim(const char **s, const char **e)
{
  while (*s < *e && (is_blank(**s) || **s == '\r')) {
    (*s)++;
  }
  while (*e > *s && (is_blank((*e)[-1]) || (*e)[-1] == '\r')) {
    (*e)--;
  }
}

static void set_problem(plan_step *st, const char *fmt, const char *a)
{
  char msg[600];
  snprintf(msg, sizeof(msg), fmt, a);
  free(st->problem);
  st->problem = xstrdup(msg);
}

/* The separator between PATH[:LINE] and the instruction: " - ", " -- " or " — " (U+2014). */
static const char *find_separator(const char *s, const char *e, size_t *seplen)
{
  for (const char *p = s; p < e; p++) {
    if (!is_blank(*p)) {
      continue;
    }
    const char *q = p + 1;
    size_t n = 0;
    if (q < e && *q == '-') {
      n = q + 1 < e && q[1] == '-' ? 2 : 1;
    } else if (e - q >= 3 && memcmp(q, "\xe2\x80\x94", 3) == 0) {
      n = 3;
    }
    if (n && (q + n == e || is_blank(q[n]))) {
      *seplen = (size_t)(q + n - p);
      return p;
    }
  }
  return NULL;
}

/* One step line s[0..e) (trimmed, known to start with a digit). */
static void parse_step(const char *s, const char *e, plan_step *st)
{
  const char *p = s;
  while (p < e && *p >= '0' && *p <= '9') {
    p++;
  }
  if (p - s > 4 || p == e || (*p != '.' && *p != ')')) {
    set_problem(st, "%s", "expected 'N. ACTION PATH[:LINE] - instruction': no 'N.' at the start");
    return;
  }
  p++;
  if (p == e) {
    set_problem(st, "%s", "nothing after the step number");
    return;
  }
  if (!is_blank(*p)) {
    set_problem(st, "%s", "expected a blank after the step number");
    return;
  }
  while (p < e && is_blank(*p)) {
    p++;
  }
  /* ACTION, possibly in ** or ` as models like to write it */
  const char *a = p;
  while (p < e && !is_blank(*p)) {
    p++;
  }
  const char *ae = p;
  while (a < ae && (*a == '*' || *a == '`')) {
    a++;
  }
  while (ae > a && (ae[-1] == '*' || ae[-1] == '`' || ae[-1] == ':')) {
    ae--;
  }
  char action[32];
  size_t an = (size_t)(ae - a);
  if (an == 0) {
    set_problem(st, "%s", "the step names no action");
    return;
  }
  snprintf(action, sizeof(action), "%.*s", (int)(an < 31 ? an : 31), a);
  for (char *c = action; *c; c++) {
    if (*c >= 'A' && *c <= 'Z') {
      *c = (char)(*c - 'A' + 'a');
    }
  }
  if (an > 31 || !plan_steps_action_ok(action)) {
    char shown[48];
    snprintf(shown, sizeof(shown), "%.*s", (int)(an < 40 ? an : 40), a);
    set_problem(st,
                "unknown action '%s' (one of implement, fix, refactor, docs, tests, review, "
                "explain)",
                shown);
    return;
  }
  memcpy(st->action, action, strlen(action) + 1); /* a known action: fits */
  while (p < e && is_blank(*p)) {
    p++;
  }
  size_t seplen = 0;
  const char *sep = find_separator(p, e, &seplen);
  if (p == e || sep == p || (*p == '-' && (p + 1 == e || is_blank(p[1]) || p[1] == '-'))) {
    set_problem(st, "%s", "the step names no PATH");
    return;
  }
  if (!sep) {
    set_problem(st, "%s", "expected ' - ' and the instruction after PATH[:LINE]");
    return;
  }
  const char *is = sep + seplen, *ie = e;
  trim(&is, &ie);
  if (is == ie) {
    set_problem(st, "%s", "the instruction after ' - ' is empty");
    return;
  }
  st->instruction = xstrndup(is, (size_t)(ie - is));
  const char *ps = p, *pe = sep;
  trim(&ps, &pe);
  while (ps < pe && *ps == '`') {
    ps++;
  }
  while (pe - ps > 1 && (pe[-1] == '`' || pe[-1] == ':')) {
    pe--; /* `path`, "path:" */
  }
  for (const char *c = ps; c < pe; c++) {
    if (is_blank(*c)) {
      set_problem(st, "%s", "PATH[:LINE] must be one word, without blanks");
      return;
    }
    if ((unsigned char)*c < 0x20 || *c == 0x7f) {
      /* A carriage return left inside by quoting (`path\r`), or worse: no file is named so. */
      set_problem(st, "%s", "PATH[:LINE] holds a control character");
      return;
    }
  }
  if (ps < pe && *ps == '-') {
    set_problem(st, "%s", "PATH must not start with '-'");
    return;
  }
  /* :LINE, read from the right so a path may hold ':' */
  const char *colon = NULL;
  for (const char *c = pe; c > ps; c--) {
    if (c[-1] == ':') {
      colon = c - 1;
      break;
    }
  }
  if (colon && colon + 1 < pe) {
    const char *d = colon + 1;
    int digits = 1;
    for (const char *c = d; c < pe; c++) {
      digits &= *c >= '0' && *c <= '9';
    }
    if (digits) {
      if (pe - d > 9) {
        set_problem(st, "%s", "LINE is too large");
        return;
      }
      long v = strtol(d, NULL, 10);
      if (v < 1) {
        set_problem(st, "%s", "LINE must be 1 or more");
        return;
      }
      st->line = (int)v;
      pe = colon;
      while (pe - ps > 1 && (pe[-1] == '`' || pe[-1] == ':')) {
        pe--; /* `path`:LINE */
      }
    }
  }
  if (ps == pe) {
    set_problem(st, "%s", "the step names no PATH");
    return;
  }
  st->path = xstrndup(ps, (size_t)(pe - ps));
}

static int parse_text(const char *text, size_t len, int answer, plan_steps *out, char *err,
                      size_t errlen)
{
  memset(out, 0, sizeof(*out));
  if (memchr(text, '\0', len)) {
    snprintf(err, errlen, "the plan holds a NUL byte");
    return -1;
  }
  if (!utf8_valid(text, len)) {
    snprintf(err, errlen, "the plan is not valid UTF-8");
    return -1;
  }
  size_t cap = 0;
  int line_no = 0;
  for (size_t off = 0; off < len;) {
    const char *s = text + off;
    const char *nl = memchr(s, '\n', len - off);
    const char *e = nl ? nl : text + len;
    off = (size_t)(e - text) + (nl ? 1 : 0);
    line_no++;
    trim(&s, &e);
    if (s == e || (e - s >= 3 && memcmp(s, "```", 3) == 0)) {
      continue;
    }
    if (*s == '#') {
      const char *g = s + 1;
      while (g < e && is_blank(*g)) {
        g++;
      }
      if (e - g >= 5 && strncmp(g, "goal:", 5) == 0) {
        g += 5;
        const char *ge = e;
        trim(&g, &ge);
        free(out->goal);
        out->goal = g < ge ? xstrndup(g, (size_t)(ge - g)) : NULL;
      }
      continue;
    }
    /* list markers a model may put before the number */
    if ((*s == '-' || *s == '*') && s + 1 < e && is_blank(s[1])) {
      s += 2;
      trim(&s, &e);
    }
    if (answer && !(*s >= '0' && *s <= '9')) {
      continue; /* a model's prose around the list */
    }
    if (out->count == PLAN_STEPS_MAX) {
      plan_steps_free(out);
      snprintf(err, errlen, "the plan has more than %d steps", PLAN_STEPS_MAX);
      return -1;
    }
    if (out->count == cap) {
      cap = cap ? cap * 2 : 8;
      out->steps = xrealloc(out->steps, cap * sizeof(*out->steps));
    }
    plan_step *st = &out->steps[out->count++];
    memset(st, 0, sizeof(*st));
    st->n = (int)out->count;
    st->text_line = line_no;
    if (*s >= '0' && *s <= '9') {
      parse_step(s, e, st);
    } else {
      set_problem(st, "%s",
                  "expected 'N. ACTION PATH[:LINE] - instruction' (a comment starts with '#')");
    }
  }
  return 0;
}

int plan_steps_parse(const char *text, size_t len, plan_steps *out, char *err, size_t errlen)
{
  return parse_text(text, len, 0, out, err, errlen);
}

int plan_steps_parse_answer(const char *text, size_t len, plan_steps *out, char *err,
                            size_t errlen)
{
  return parse_text(text, len, 1, out, err, errlen);
}

void plan_steps_free(plan_steps *s)
{
  for (size_t i = 0; i < s->count; i++) {
    free(s->steps[i].path);
    free(s->steps[i].instruction);
    free(s->steps[i].problem);
  }
  free(s->steps);
  free(s->goal);
  memset(s, 0, sizeof(*s));
}

/* The lines of a regular file, or -1 when it cannot be read. */
static long count_lines(const char *path)
{
  file_contents f;
  char err[600];
  if (file_load(&f, path, (size_t)256 << 20, err, sizeof(err))) {
    return -1;
  }
  long n = 0;
  for (size_t i = 0; i < f.len; i++) {
    n += f.data[i] == '\n';
  }
  if (f.len > 0 && f.data[f.len - 1] != '\n') {
    n++;
  }
  file_release(&f);
  return n;
}

/* The deepest existing directory of `abs` (an absolute path), resolved, in `out`. */
static int real_existing_parent(const char *abs, char *out)
{
  char tmp[PATH_MAX];
  snprintf(tmp, sizeof(tmp), "%s", abs);
  for (;;) {
    char *slash = strrchr(tmp, '/');
    if (!slash) {
      return -1;
    }
    if (slash == tmp) {
      slash[1] = '\0';
    } else {
      *slash = '\0';
    }
    if (realpath(tmp, out)) {
      return 0;
    }
    if (strcmp(tmp, "/") == 0) {
      return -1;
    }
  }
}

static int needs_existing(const char *action)
{
  return strcmp(action, "implement") != 0;
}

/* `path` (absolute, or relative to `root`) with its symbolic links resolved when it exists,
 * else as written: a new string. */
static char *known_key(const char *root, const char *path)
{
  char *abs = path[0] == '/' ? xstrdup(path) : path_join(root, path);
  char real[PATH_MAX];
  if (realpath(abs, real)) {
    free(abs);
    return xstrdup(real);
  }
  return abs;
}

static void line_check(plan_step *st, long n)
{
  if (st->line > n) {
    char msg[600];
    snprintf(msg, sizeof(msg), "line %d is past the end of %s (%ld lines)", st->line, st->path,
             n);
    free(st->problem);
    st->problem = xstrdup(msg);
  }
}

int plan_steps_validate(plan_steps *s, const char *root)
{
  return plan_steps_validate_known(s, root, NULL, 0);
}

int plan_steps_validate_known(plan_steps *s, const char *root, const plan_known_file *known,
                              size_t nknown)
{
  char rroot[PATH_MAX];
  if (!realpath(root, rroot)) {
    snprintf(rroot, sizeof(rroot), "%s", root);
  }
  char **keys = xcalloc(nknown ? nknown : 1, sizeof(char *));
  for (size_t k = 0; k < nknown; k++) {
    keys[k] = known[k].path ? known_key(root, known[k].path) : NULL;
  }
  int marked = 0;
  for (size_t i = 0; i < s->count; i++) {
    plan_step *st = &s->steps[i];
    if (st->problem) {
      marked++;
      continue;
    }
    char *abs = st->path[0] == '/' ? xstrdup(st->path) : path_join(root, st->path);
    char real[PATH_MAX];
    int exists = realpath(abs, real) != NULL;
    int missing_errno = exists ? 0 : errno;
    const char *key = exists ? real : abs; /* as known_key() gives it */
    long held = -1;
    for (size_t k = 0; k < nknown && held < 0; k++) {
      held = keys[k] && strcmp(keys[k], key) == 0 ? known[k].nlines : -1;
    }
    struct stat sb;
    if (held >= 0) {
      /* the editor's buffer: inside the project by its path, its lines are the buffer's */
      char parent[PATH_MAX];
      int inside = exists ? path_inside(rroot, real)
                          : real_existing_parent(abs, parent) == 0 &&
                              path_inside(rroot, parent) && !strstr(st->path, "..");
      if (!inside) {
        set_problem(st, "%s is outside the project", st->path);
      } else if (st->line > 0) {
        line_check(st, held);
      }
    } else if (exists) {
      if (!path_inside(rroot, real)) {
        set_problem(st, "%s is outside the project", st->path);
      } else if (stat(real, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        set_problem(st, "%s is a directory, not a file", st->path);
      } else if (stat(real, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        set_problem(st, "%s is not a regular file", st->path);
      } else if (st->line > 0) {
        long n = count_lines(real);
        if (n < 0) {
          set_problem(st, "%s cannot be read", st->path);
        } else {
          line_check(st, n);
        }
      }
    } else {
      char parent[PATH_MAX];
      if (missing_errno != ENOENT) {
        set_problem(st, "%s cannot be read", st->path);
      } else if (real_existing_parent(abs, parent) || !path_inside(rroot, parent) ||
                 strstr(st->path, "..")) {
        set_problem(st, "%s is outside the project", st->path);
      } else if (needs_existing(st->action)) {
        char msg[600];
        snprintf(msg, sizeof(msg), "%s does not exist (only implement may name a new file)", st->path);
        free(st->problem);
        st->problem = xstrdup(msg);
      } else if (st->line > 0) {
        char msg[600];
        snprintf(msg, sizeof(msg), "%s does not exist, so it has no line %d", st->path, st->line);
        free(st->problem);
        st->problem = xstrdup(msg);
      }
    }
    free(abs);
    marked += st->problem != NULL;
  }
  for (size_t k = 0; k < nknown; k++) {
    free(keys[k]);
  }
  free(keys);
  return marked;
}

static json_t *str_or_null(const char *s)
{
  return s ? json_string(s) : json_null();
}

json_t *plan_steps_json(const plan_steps *s, int with_problem)
{
  json_t *a = json_array();
  for (size_t i = 0; i < s->count; i++) {
    const plan_step *st = &s->steps[i];
    json_t *o = json_object();
    json_object_set_new(o, "n", json_integer(st->n));
    json_object_set_new(o, "action", st->action[0] ? json_string(st->action) : json_null());
    json_object_set_new(o, "path", str_or_null(st->path));
    json_object_set_new(o, "line", st->line > 0 ? json_integer(st->line) : json_null());
    json_object_set_new(o, "instruction", str_or_null(st->instruction));
    if (with_problem) {
      json_object_set_new(o, "problem", str_or_null(st->problem));
    }
    json_array_append_new(a, o);
  }
  return a;
}
