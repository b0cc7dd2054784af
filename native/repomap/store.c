/* The repo map's file cache: a process that maps a project once (the command line) starts from
 * the scans of the previous process instead of from nothing.
 *
 * Layout (host byte order; the magic's check word catches another order):
 *   "frgmap\n" '\0'  u32 0x01020304  u32 REPOMAP_STORE_VERSION  version string (u32 len, bytes)
 *   u32 nnames, then each name (u32 len, bytes)
 *   u32 nfiles, then each file:
 *     u32 len, path; i64 size; i64 mtime_ns; u32 lang;
 *     u32 ndefs, each: u32 name id; u8 kind; i32 line; i32 parent; u32 len, signature
 *     u32 nrefs, each: u32 name id; u8 called
 * Everything is checked on load (lengths within the file, ids within the table, a parent before
 * its child); anything else is "corrupt" and the cache is left as it was. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frugal.h"
#include "ledger/ledger.h"
#include "repomap/repomap_int.h"
#include "util/buf.h"
#include "util/file.h"

/* Bump when the layout or what the scan stores (signature form, skipped definitions) changes. */
#define REPOMAP_STORE_VERSION 2
#define STORE_MAGIC "frgmap\n"
#define STORE_MAX (512u * 1024 * 1024)

static void put_u32(buf_t *b, uint32_t v)
{
  buf_append(b, &v, sizeof(v));
}

static void put_str(buf_t *b, const char *s, size_t n)
{
  put_u32(b, (uint32_t)n);
  buf_append(b, s, n);
}

int repomap_cache_save(repomap_cache *c, const char *path, char *err, size_t errlen)
{
  uv_mutex_lock(&c->lock);
  buf_t b = BUF_INIT;
  buf_append(&b, STORE_MAGIC, 8);
  put_u32(&b, 0x01020304u);
  put_u32(&b, REPOMAP_STORE_VERSION);
  put_str(&b, FRUGAL_VERSION_STRING, strlen(FRUGAL_VERSION_STRING));
  put_u32(&b, (uint32_t)c->nnames);
  for (size_t i = 0; i < c->nnames; i++) {
    put_str(&b, c->names[i], strlen(c->names[i]));
  }
  put_u32(&b, (uint32_t)c->nfiles);
  for (size_t i = 0; i < c->file_cap; i++) {
    const rm_file *f = &c->files[i];
    if (!f->abs) {
      continue;
    }
    put_str(&b, f->abs, strlen(f->abs));
    int64_t size = f->size, mtime = f->mtime_ns;
    buf_append(&b, &size, 8);
    buf_append(&b, &mtime, 8);
    put_u32(&b, (uint32_t)f->lang);
    put_u32(&b, (uint32_t)f->ndefs);
    for (int d = 0; d < f->ndefs; d++) {
      const rm_def *def = &f->defs[d];
      put_u32(&b, (uint32_t)def->name);
      buf_putc(&b, (char)def->kind);
      int32_t line = def->line, parent = def->parent;
      buf_append(&b, &line, 4);
      buf_append(&b, &parent, 4);
      put_str(&b, def->sig, strlen(def->sig));
    }
    put_u32(&b, (uint32_t)f->nrefs);
    for (int r = 0; r < f->nrefs; r++) {
      put_u32(&b, (uint32_t)f->refs[r]);
      buf_putc(&b, (char)f->called[r]);
    }
  }
  uv_mutex_unlock(&c->lock);

  char werr[600];
  int rc = file_replace(path, b.data, b.len, 0600, werr, sizeof(werr));
  if (rc) {
    snprintf(err, errlen, "repo map cache: %s", werr);
  }
  buf_free(&b);
  return rc;
}

typedef struct {
  const unsigned char *p;
  size_t n, off;
  int bad;
} reader;

static int get(reader *r, void *out, size_t n)
{
  if (r->bad || r->n - r->off < n) {
    r->bad = 1;
    memset(out, 0, n);
    return -1;
  }
  memcpy(out, r->p + r->off, n);
  r->off += n;
  return 0;
}

static uint32_t get_u32(reader *r)
{
  uint32_t v;
  get(r, &v, 4);
  return v;
}

/* A string of the file: a pointer into it and its length (not NUL-terminated). */
static const char *get_str(reader *r, uint32_t *len)
{
  *len = get_u32(r);
  if (r->bad || r->n - r->off < *len || memchr(r->p + r->off, '\0', *len)) {
    r->bad = 1;
    *len = 0;
    return "";
  }
  const char *s = (const char *)r->p + r->off;
  r->off += *len;
  return s;
}

typedef struct {
  const char *s;
  uint32_t n;
} str_view;

/* Reads one file record into `f` (names as the file's ids); 0, or -1 when corrupt. */
static int read_file(reader *r, rm_file *f, uint32_t nnames, str_view *path)
{
  memset(f, 0, sizeof(*f));
  path->s = get_str(r, &path->n);
  int64_t size = 0, mtime = 0;
  get(r, &size, 8);
  get(r, &mtime, 8);
  uint32_t lang = get_u32(r), ndefs = get_u32(r);
  if (r->bad || path->n == 0 || path->s[0] != '/' || lang >= LANG__COUNT ||
      ndefs > (r->n - r->off) / 17) {
    return -1;
  }
  f->size = (off_t)size;
  f->mtime_ns = mtime;
  f->lang = (lang_id)lang;
  f->defs = xcalloc(ndefs ? ndefs : 1, sizeof(rm_def));
  for (uint32_t d = 0; d < ndefs; d++) {
    rm_def *def = &f->defs[f->ndefs];
    uint32_t name = get_u32(r);
    unsigned char kind = 0;
    get(r, &kind, 1);
    int32_t line = 0, parent = 0;
    get(r, &line, 4);
    get(r, &parent, 4);
    uint32_t slen;
    const char *sig = get_str(r, &slen);
    if (r->bad || name >= nnames || kind > DEF_CLASS || line < 1 || parent < -1 ||
        parent >= (int32_t)d) {
      return -1;
    }
    *def = (rm_def){(int)name, (def_kind)kind, line, parent, xstrndup(sig, slen)};
    f->ndefs++;
  }
  uint32_t nrefs = get_u32(r);
  if (r->bad || nrefs > (r->n - r->off) / 5) {
    return -1;
  }
  f->refs = xmalloc((nrefs ? nrefs : 1) * sizeof(int));
  f->called = xcalloc(nrefs ? nrefs : 1, 1);
  for (uint32_t k = 0; k < nrefs; k++) {
    uint32_t id = get_u32(r);
    unsigned char called = 0;
    get(r, &called, 1);
    if (r->bad || id >= nnames || called > 1 || (k > 0 && (int)id <= f->refs[k - 1])) {
      return -1; /* refs are kept sorted and distinct: the ranking searches them */
    }
    f->refs[k] = (int)id;
    f->called[k] = called;
    f->nrefs++;
  }
  return 0;
}

static int u64_cmp(const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* The file's ids become the cache's, which come in another order: sort the uses again. */
static void remap_refs(rm_file *f, const int *map)
{
  uint64_t *v = xmalloc((f->nrefs ? (size_t)f->nrefs : 1) * sizeof(uint64_t));
  for (int k = 0; k < f->nrefs; k++) {
    v[k] = (uint64_t)(uint32_t)map[f->refs[k]] << 1 | f->called[k];
  }
  if (f->nrefs > 1) {
    qsort(v, (size_t)f->nrefs, sizeof(uint64_t), u64_cmp);
  }
  for (int k = 0; k < f->nrefs; k++) {
    f->refs[k] = (int)(v[k] >> 1);
    f->called[k] = (unsigned char)(v[k] & 1);
  }
  free(v);
}

int repomap_cache_load(repomap_cache *c, const char *path, char *err, size_t errlen)
{
  file_contents fc;
  if (file_load(&fc, path, STORE_MAX, err, errlen)) {
    return -1;
  }
  reader r = {(const unsigned char *)fc.data, fc.len, 0, 0};
  char magic[8];
  get(&r, magic, 8);
  uint32_t order = get_u32(&r), version = get_u32(&r), vlen;
  const char *v = get_str(&r, &vlen);
  if (r.bad || memcmp(magic, STORE_MAGIC, 8) != 0 || order != 0x01020304u) {
    snprintf(err, errlen, "repo map cache %s: not a repo map cache", path);
    file_release(&fc);
    return -1;
  }
  if (version != REPOMAP_STORE_VERSION || vlen != strlen(FRUGAL_VERSION_STRING) ||
      memcmp(v, FRUGAL_VERSION_STRING, vlen) != 0) {
    snprintf(err, errlen, "repo map cache %s: written by another version", path);
    file_release(&fc);
    return -1;
  }
  uint32_t nnames = get_u32(&r);
  str_view *names = NULL;
  if (!r.bad && nnames <= (r.n - r.off) / 4) {
    names = xcalloc(nnames ? nnames : 1, sizeof(str_view));
    for (uint32_t i = 0; i < nnames && !r.bad; i++) {
      names[i].s = get_str(&r, &names[i].n);
    }
  } else {
    r.bad = 1;
  }
  uint32_t nfiles = r.bad ? 0 : get_u32(&r);
  rm_file *files = NULL;
  str_view *paths = NULL;
  uint32_t nread = 0;
  if (!r.bad && nfiles <= (r.n - r.off) / 32) {
    files = xcalloc(nfiles ? nfiles : 1, sizeof(rm_file));
    paths = xcalloc(nfiles ? nfiles : 1, sizeof(str_view));
    for (; nread < nfiles; nread++) {
      if (read_file(&r, &files[nread], nnames, &paths[nread])) {
        nread++; /* free the partial record too */
        r.bad = 1;
        break;
      }
    }
  } else {
    r.bad = 1;
  }
  if (!r.bad && r.off != r.n) {
    r.bad = 1; /* trailing bytes */
  }
  int rc = 0;
  if (r.bad) {
    snprintf(err, errlen, "repo map cache %s: corrupt at byte %zu", path, r.off);
    rc = -1;
  } else {
    /* Valid throughout: intern the names, then take the files the cache does not hold. */
    uv_mutex_lock(&c->lock);
    int *map = xmalloc((nnames ? nnames : 1) * sizeof(int));
    for (uint32_t i = 0; i < nnames; i++) {
      map[i] = rm_name_id(c, names[i].s, names[i].n, 1);
    }
    for (uint32_t i = 0; i < nfiles; i++) {
      rm_file *f = &files[i];
      for (int d = 0; d < f->ndefs; d++) {
        f->defs[d].name = map[f->defs[d].name];
      }
      remap_refs(f, map);
      char *abs = xstrndup(paths[i].s, paths[i].n);
      rm_file *slot = rm_file_slot(c, abs);
      if (slot->abs) {
        free(abs); /* this process already scanned it: keep the fresher */
        continue;
      }
      *slot = *f;
      slot->abs = abs;
      slot->gen = 0;
      c->nfiles++;
      memset(f, 0, sizeof(*f));
    }
    uv_mutex_unlock(&c->lock);
    free(map);
  }
  for (uint32_t i = 0; i < nread; i++) {
    rm_file_clear(&files[i]);
  }
  free(files);
  free(paths);
  free(names);
  file_release(&fc);
  return rc;
}

int repomap_cache_path(const char *root, char *out, size_t n)
{
  char ledger[4096];
  if (ledger_default_path(ledger, sizeof(ledger))) {
    return -1;
  }
  char *slash = strrchr(ledger, '/');
  *slash = '\0'; /* the state directory */
  uint64_t h = 1469598103934665603u;
  for (const char *p = root; *p; p++) {
    h = (h ^ (unsigned char)*p) * 1099511628211u;
  }
  int len = snprintf(out, n, "%s/repomap/%016llx.bin", ledger, (unsigned long long)h);
  return len < 0 || (size_t)len >= n ? -1 : 0;
}
