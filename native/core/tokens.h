/* tokens: estimates how many tokens a model's tokenizer (o200k, used by current OpenAI models
 * and close to Anthropic's) would make of a piece of text, without the tokenizer's tables.
 *
 * The estimate walks the text once and counts pieces the way byte-pair tokenizers split them:
 * word runs (long identifiers split into several tokens), digit runs (o200k groups up to three
 * digits), punctuation and operators, and runs of whitespace/indentation, with weights
 * calibrated per language against a real o200k tokenizer (see bench/tokens/). */
#ifndef FRUGAL_CORE_TOKENS_H
#define FRUGAL_CORE_TOKENS_H

#include <stddef.h>

#include "context/lang.h"

/* Estimated tokens for s[0..n); 0 for empty text, at least 1 otherwise. */
int tokens_estimate(lang_id lang, const char *s, size_t n);

/* The same estimate for a whole file: exact up to 1 MiB; above that it extrapolates from 64
 * windows of whole lines spread evenly over the file (about 128 KiB), which keeps a 200k-line
 * file near half a millisecond and within a percent or two of the exact count on source code
 * (SQLite's 6.4 MB of C: +0.1%; 4.7 MB of Python's stdlib: -1.6%; 128 windows: -0.5%, -1.7%). */
int tokens_estimate_file(lang_id lang, const char *s, size_t n);

/* The piece classes the estimate counts; the estimate is a per-language weighted sum of these
 * counts. Exposed for the calibration tools in bench/tokens/, which fit the weights. */
enum {
  TOKENS_NFEATURES = 24
};
/* Name of feature `i` ("word_1_3", "punct_2", ...), or NULL when i is out of range. */
const char *tokens_feature_name(int i);
/* Adds the piece counts of s[0..n) to counts[0..TOKENS_NFEATURES). */
void tokens_features(const char *s, size_t n, unsigned long counts[TOKENS_NFEATURES]);

#endif
