/* libFuzzer target for the answer checks: a model's answer is bytes from outside. Every output
 * kind and language is parsed; a result must be consistent (ok with a replacement or findings,
 * or not ok with a problem), and findings must lie inside the scope. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "prompt/prompt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 2) {
    return 0;
  }
  prompt_output kind = (prompt_output)(data[0] % 4);
  lang_id lang = (lang_id)(data[1] % LANG__COUNT);
  const int first = 10, last = 60;
  prompt_answer a;
  if (prompt_parse_answer(kind, lang, (const char *)data + 2, size - 2, first, last, &a) != 0) {
    abort();
  }
  if (a.ok) {
    if ((kind == PROMPT_OUT_REPLACE || kind == PROMPT_OUT_TESTS) &&
        (!a.replacement || !*a.replacement || a.replacement[strlen(a.replacement) - 1] != '\n')) {
      abort();
    }
    for (size_t i = 0; i < a.nfindings; i++) {
      if (a.findings[i].line < first || a.findings[i].line > last || !a.findings[i].message) {
        abort();
      }
    }
  } else if (!a.problem || !*a.problem) {
    abort();
  }
  prompt_answer_free(&a);
  return 0;
}
