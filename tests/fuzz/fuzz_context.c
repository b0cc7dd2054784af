/* libFuzzer target for the context engine: arbitrary bytes as a source file in every language,
 * scanned and packaged at a cursor taken from the input. Checks the invariants a caller relies
 * on; any violation aborts.
 *
 * Input layout: byte 0 picks the language (modulo LANG__COUNT), byte 1 the action, bytes 2-3
 * the cursor line (modulo the line count), byte 4 the selection length (0: none), then the
 * file. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "context/package.h"
#include "context/scan.h"
#include "core/tokens.h"

static const char *const actions[] = {"explain", "fix", "tests", "review", "design", "docs"};

static void check(int ok)
{
  if (!ok) {
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 5) {
    return 0;
  }
  lang_id lang = (lang_id)(data[0] % LANG__COUNT);
  const char *action = actions[data[1] % (sizeof(actions) / sizeof(actions[0]))];
  unsigned cursor = (unsigned)data[2] << 8 | data[3];
  unsigned sel = data[4];
  const char *src = (const char *)data + 5;
  size_t len = size - 5;

  text_t t;
  check(text_init(&t, src, len) == 0);
  scan_result r;
  memset(&r, 0, sizeof(r));
  if (scan_file(lang, &t, &r) == 0) {
    for (size_t i = 0; i < r.ndefs; i++) {
      const scan_def *d = &r.defs[i];
      check(d->name != NULL);
      check(1 <= d->start_line && d->start_line <= d->head_line);
      check(d->head_line <= d->end_line && d->end_line <= (t.nlines > 0 ? t.nlines : 1));
      check(d->parent < (int)i);
      if (d->parent >= 0) {
        const scan_def *p = &r.defs[d->parent];
        check(p->start_line <= d->start_line && d->end_line <= p->end_line);
      }
    }
    for (size_t i = 0; i < r.nimports; i++) {
      check(1 <= r.imports[i].start_line && r.imports[i].start_line <= r.imports[i].end_line);
    }
  }
  scan_result_free(&r);

  int nlines = t.nlines > 0 ? t.nlines : 1;
  pkg_request q;
  memset(&q, 0, sizeof(q));
  q.lang = lang;
  q.action = action;
  q.cursor_line = (int)(cursor % (unsigned)nlines) + 1;
  if (sel) {
    q.sel_start = q.cursor_line;
    q.sel_end = q.cursor_line + (int)sel > nlines ? nlines : q.cursor_line + (int)sel;
  }
  q.budget_tokens = (int)(data[1] >> 3) * 50;
  /* An editor hint from the input too: byte 4's high bits, around the cursor, sometimes wrong. */
  if (data[4] & 0x80) {
    q.hint_start = q.cursor_line - (int)(data[4] & 7);
    q.hint_end = q.cursor_line + (int)((data[4] >> 3) & 7);
  }
  pkg_result p;
  char err[256];
  check(package_build(&t, &q, &p, err, sizeof(err)) == 0);
  if (p.hint == PKG_HINT_USED) {
    check(p.start_line == q.hint_start && p.end_line == q.hint_end);
  }
  check(q.hint_start || q.hint_end || p.hint == PKG_HINT_NONE);
  /* Cutting the unbudgeted package equals building for the budget. */
  if (q.budget_tokens > 0) {
    pkg_request q0 = q;
    q0.budget_tokens = 0;
    pkg_result all, cut;
    check(package_build(&t, &q0, &all, err, sizeof(err)) == 0);
    pkg_result_copy(&cut, &all);
    package_fit(&cut, q.budget_tokens);
    check(cut.nitems == p.nitems && cut.tokens == p.tokens && cut.dropped == p.dropped);
    pkg_result_free(&cut);
    pkg_result_free(&all);
  }
  lang_id detected = lang_detect("fuzz.h", NULL, src, len);
  check(detected == LANG_C || detected == LANG_CPP);
  check(p.nitems >= 1 && p.items[0].kind == ITEM_SCOPE);
  long sum = 0;
  for (size_t i = 0; i < p.nitems; i++) {
    check(p.items[i].text != NULL && p.items[i].tokens >= 0);
    check(1 <= p.items[i].start_line || len == 0);
    sum += p.items[i].tokens;
  }
  check(sum == p.tokens);
  check(p.file_tokens == tokens_estimate_file(lang, src, len));
  pkg_result_free(&p);
  text_free(&t);
  return 0;
}
