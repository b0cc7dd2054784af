/* wordfreq: counts word frequencies in text files and prints the most common words. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TABLE_SIZE 4093 /* prime, so the modulo spreads the hash well */
#define MAX_WORD 64

typedef struct entry {
  char word[MAX_WORD];
  unsigned count;
  struct entry *next;
} entry;

typedef struct {
  entry *buckets[TABLE_SIZE];
  size_t nwords;
} table;

static unsigned long hash_word(const char *s)
{
  unsigned long h = 5381;
  while (*s) {
    h = h * 33 + (unsigned char)*s++;
  }
  return h;
}

static entry *table_lookup(table *t, const char *word)
{
  unsigned long slot = hash_word(word) % TABLE_SIZE;
  for (entry *e = t->buckets[slot]; e; e = e->next) {
    if (strcmp(e->word, word) == 0) {
      return e;
    }
  }
  return NULL;
}

static int table_add(table *t, const char *word)
{
  entry *e = table_lookup(t, word);
  if (e) {
    e->count++;
    return 0;
  }
  e = calloc(1, sizeof(*e));
  if (!e) {
    return -1;
  }
  snprintf(e->word, sizeof(e->word), "%s", word);
  e->count = 1;
  unsigned long slot = hash_word(word) % TABLE_SIZE;
  e->next = t->buckets[slot];
  t->buckets[slot] = e;
  t->nwords++;
  return 0;
}

/* Reads words (letters and apostrophes, lower-cased) from f into t. Returns the number of
 * words read, or -1 when memory runs out. */
static long count_words(FILE *f, table *t)
{
  char word[MAX_WORD];
  size_t len = 0;
  long total = 0;
  int c;
  while ((c = fgetc(f)) != EOF) {
    if (isalpha(c) || (c == '\'' && len > 0)) {
      if (len + 1 < sizeof(word)) {
        word[len++] = (char)tolower(c);
      }
      continue;
    }
    if (len > 0) {
      word[len] = '\0';
      if (table_add(t, word) < 0) {
        return -1;
      }
      total++;
      len = 0;
    }
  }
  if (len > 0) {
    word[len] = '\0';
    if (table_add(t, word) < 0) {
      return -1;
    }
    total++;
  }
  return total;
}

static int by_count_desc(const void *a, const void *b)
{
  const entry *x = *(const entry *const *)a, *y = *(const entry *const *)b;
  if (x->count != y->count) {
    return x->count < y->count ? 1 : -1;
  }
  return strcmp(x->word, y->word);
}

static void print_top(const table *t, size_t n)
{
  entry **all = malloc(t->nwords * sizeof(*all));
  if (!all) {
    return;
  }
  size_t k = 0;
  for (size_t i = 0; i < TABLE_SIZE; i++) {
    for (entry *e = t->buckets[i]; e; e = e->next) {
      all[k++] = e;
    }
  }
  qsort(all, k, sizeof(*all), by_count_desc);
  for (size_t i = 0; i < n && i < k; i++) {
    printf("%7u %s\n", all[i]->count, all[i]->word);
  }
  free(all);
}

static void table_free(table *t)
{
  for (size_t i = 0; i < TABLE_SIZE; i++) {
    entry *e = t->buckets[i];
    while (e) {
      entry *next = e->next;
      free(e);
      e = next;
    }
    t->buckets[i] = NULL;
  }
}

int main(int argc, char **argv)
{
  static table t;
  long total = 0;
  for (int i = 1; i < argc; i++) {
    FILE *f = fopen(argv[i], "r");
    if (!f) {
      perror(argv[i]);
      return 1;
    }
    long n = count_words(f, &t);
    fclose(f);
    if (n < 0) {
      fputs("out of memory\n", stderr);
      return 1;
    }
    total += n;
  }
  printf("%ld words, %zu distinct\n", total, t.nwords);
  print_top(&t, 10);
  table_free(&t);
  return 0;
}
