#include "service/findings.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "service/plan.h"

/* Reads a positive decimal at *p (at most 9 digits). Returns it, or 0 when there is none. */
static long number(const char **p, const char *end)
{
  long v = 0;
  int digits = 0;
  while (*p < end && isdigit((unsigned char)**p) && digits < 9) {
    v = v * 10 + (**p - '0');
    (*p)++;
    digits++;
  }
  return digits && (*p >= end || !isdigit((unsigned char)**p)) ? v : 0;
}

static const char *skip_blanks(const char *p, const char *end)
{
  while (p < end && (*p == ' ' || *p == '\t')) {
    p++;
  }
  return p;
}

/* One line "PATH:LINE[-END]: [severity] message" (list markers and backticks around the path
 * tolerated). Returns the finding, or NULL for a line of another shape. */
static json_t *parse_line(const char *s, const char *end)
{
  while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r')) {
    end--;
  }
  if (memchr(s, '\0', (size_t)(end - s))) {
    return NULL; /* not text: no finding to show */
  }
  s = skip_blanks(s, end);
  if (s + 1 < end && (*s == '-' || *s == '*') && s[1] == ' ') {
    s = skip_blanks(s + 2, end);
  }
  if (s < end && *s == '`') {
    s++;
  }
  /* The path ends at the last ':' that is followed by a line number and ':' (paths may hold
   * ':'); search from the left for the first such one. */
  for (const char *c = s; c < end; c++) {
    if (*c != ':' || c == s) {
      continue;
    }
    const char *p = c + 1;
    long line = number(&p, end);
    if (line <= 0) {
      continue;
    }
    long last = line;
    if (p < end && *p == '-') {
      p++;
      last = number(&p, end);
      if (last < line) {
        continue;
      }
    }
    if (p < end && *p == '`') {
      p++;
    }
    if (p >= end || *p != ':') {
      continue;
    }
    const char *pe = c;
    if (pe > s && pe[-1] == '`') {
      pe--;
    }
    p = skip_blanks(p + 1, end);
    const char *sev = "warning";
    size_t sevlen = 7;
    if (p < end && *p == '[') {
      const char *close = memchr(p, ']', (size_t)(end - p));
      if (close) {
        static const char *const known[] = {"error", "warning", "info"};
        for (size_t k = 0; k < 3; k++) {
          size_t n = strlen(known[k]);
          if ((size_t)(close - p - 1) == n && strncasecmp(p + 1, known[k], n) == 0) {
            sev = known[k];
            sevlen = n;
          }
        }
        p = skip_blanks(close + 1, end);
      }
    }
    if (p >= end || pe <= s) {
      return NULL;
    }
    for (const char *q = s; q < pe; q++) {
      if ((unsigned char)*q < 0x20) {
        return NULL; /* a path holds no control characters */
      }
    }
    json_t *f = json_object();
    json_object_set_new(f, "path", action_json_text(s, (size_t)(pe - s)));
    json_object_set_new(f, "line", json_integer(line));
    json_object_set_new(f, "end_line", json_integer(last));
    json_object_set_new(f, "severity", json_stringn(sev, sevlen));
    json_object_set_new(f, "message", action_json_text(p, (size_t)(end - p)));
    return f;
  }
  return NULL;
}

json_t *findings_parse(const char *text, size_t len)
{
  json_t *out = json_array();
  const char *p = text, *end = text + len;
  int in_fence = 0;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *le = nl ? nl : end;
    const char *q = skip_blanks(p, le);
    if (le - q >= 3 && memcmp(q, "```", 3) == 0) {
      in_fence = !in_fence;
    } else if (!in_fence) {
      json_t *f = parse_line(p, le);
      if (f) {
        json_array_append_new(out, f);
      }
    }
    p = nl ? nl + 1 : end;
  }
  return out;
}
