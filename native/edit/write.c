/* edit_write_all: the all-or-nothing writer behind `frugal run ... --apply`.
 *
 * Order of work, so that a failure at any point can be undone:
 *   check   every target (unchanged since sent, regular file / not existing)   nothing touched
 *   mkdir   missing directories of new files (remembered, removed on failure)
 *   temp    each new version written to "DIR/.NAME.frugal-XXXXXX", fsync'd
 *   backup  each existing target hard-linked to "DIR/.NAME.frugal-orig-XXXXXX"
 *   rename  each temp over its target (existing files) / link() it (new files: fails if one
 *           appeared meanwhile, never overwrites)
 *   sync    each directory fsync'd, backups and temps unlinked
 * Undo after a failure at rename k: the backups of files 0..k-1 are renamed back, new files
 * unlinked, temps and backups removed, directories made removed. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "edit/apply.h"
#include "util/buf.h"
#include "util/file.h"

/* Targets larger than this were not sent whole, so they cannot be compared. */
#define EDIT_WRITE_MAX (64u * 1024 * 1024)

typedef struct {
  char *target;   /* owned; resolved path */
  char *dir;      /* owned */
  char *temp;     /* owned; NULL until made */
  char *backup;   /* owned; NULL until made */
  int placed;     /* the new version is at `target` */
  mode_t mode;
  int is_new;
} plan_file;

typedef struct {
  const edit_write_opts *opts;
  plan_file *f;
  size_t n;
  char **dirs;    /* directories made, in the order made */
  size_t ndirs;
  char *err;
  size_t errlen;
} writer;

static int fail(writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(writer *w, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(w->err, w->errlen, fmt, ap);
  va_end(ap);
  return -1;
}

/* Runs the test hook for `step`; returns -1 with errno EIO when it asks for a failure. */
static int hooked(writer *w, const char *step, const char *path)
{
  if (w->opts && w->opts->hook && w->opts->hook(step, path, w->opts->hook_data)) {
    errno = EIO;
    return -1;
  }
  return 0;
}

static char *resolve(const edit_write_opts *opts, const char *path)
{
  if (path[0] == '/' || !opts || !opts->root) {
    return xstrdup(path);
  }
  buf_t b = BUF_INIT;
  buf_printf(&b, "%s/%s", opts->root, path);
  return buf_detach(&b);
}

static char *dir_of(const char *path)
{
  char *copy = xstrdup(path);
  char *d = xstrdup(dirname(copy));
  free(copy);
  return d;
}

static char *sibling(const char *target, const char *tag)
{
  char *copy = xstrdup(target);
  buf_t b = BUF_INIT;
  char *dir = dir_of(target);
  buf_printf(&b, "%s/.%s.frugal-%sXXXXXX", dir, basename(copy), tag);
  free(dir);
  free(copy);
  return buf_detach(&b);
}

static int check_one(writer *w, plan_file *pf, const edit_file *f, const edit_source *src)
{
  struct stat st;
  if (lstat(pf->target, &st) != 0) {
    if (errno != ENOENT) {
      return fail(w, "%s: %s", f->path, strerror(errno));
    }
    if (!pf->is_new) {
      return fail(w, "%s: the file was removed since the request was sent", f->path);
    }
    pf->mode = 0644;
    return 0;
  }
  if (pf->is_new) {
    return fail(w, "%s: the file was created since the request was sent; not overwriting it",
                f->path);
  }
  if (!S_ISREG(st.st_mode)) {
    return fail(w, "%s: not a regular file", f->path);
  }
  pf->mode = st.st_mode & 07777;
  file_contents now;
  char ferr[256];
  if (file_load(&now, pf->target, EDIT_WRITE_MAX, ferr, sizeof(ferr))) {
    return fail(w, "%s", ferr);
  }
  int same = src && src->text && now.len == src->len && memcmp(now.data, src->text, now.len) == 0;
  file_release(&now);
  if (!same) {
    return fail(w, "%s: the file changed since the request was sent; nothing was written",
                f->path);
  }
  return 0;
}

/* Makes the missing directories above `dir`, outermost first, remembering each. */
static int make_dirs(writer *w, const char *dir, const char *path)
{
  struct stat st;
  if (stat(dir, &st) == 0) {
    return S_ISDIR(st.st_mode) ? 0 : fail(w, "%s: %s is not a directory", path, dir);
  }
  char *parent = dir_of(dir);
  int rc = strcmp(parent, dir) != 0 ? make_dirs(w, parent, path) : 0;
  free(parent);
  if (rc) {
    return rc;
  }
  if (hooked(w, "mkdir", path) || mkdir(dir, 0755) != 0) {
    return fail(w, "%s: cannot make directory %s: %s", path, dir, strerror(errno));
  }
  w->dirs = xrealloc(w->dirs, (w->ndirs + 1) * sizeof(char *));
  w->dirs[w->ndirs++] = xstrdup(dir);
  return 0;
}

static int write_temp(writer *w, plan_file *pf, const edit_file *f)
{
  char *temp = sibling(pf->target, "");
  int fd = hooked(w, "temp", f->path) ? -1 : mkstemp(temp);
  if (fd < 0) {
    int e = errno;
    free(temp);
    return fail(w, "%s: cannot create a temporary file: %s", f->path, strerror(e));
  }
  pf->temp = temp;
  int rc = hooked(w, "write", f->path);
  if (rc == 0) {
    rc = file_write_all(fd, f->text, f->len);
  }
  if (rc == 0 && (fchmod(fd, pf->mode) != 0 || fsync(fd) != 0)) {
    rc = -1;
  }
  int e = errno;
  if (close(fd) != 0 && rc == 0) {
    rc = -1;
    e = errno;
  }
  return rc ? fail(w, "%s: cannot write %s: %s", f->path, temp, strerror(e)) : 0;
}

static int make_backup(writer *w, plan_file *pf, const edit_file *f)
{
  /* mkstemp gives a free name; link() needs it absent, so the placeholder goes first. */
  char *backup = sibling(pf->target, "orig-");
  int fd = mkstemp(backup);
  if (fd < 0) {
    int e = errno;
    free(backup);
    return fail(w, "%s: cannot keep a copy of the original: %s", f->path, strerror(e));
  }
  close(fd);
  unlink(backup);
  if (hooked(w, "backup", f->path) || link(pf->target, backup) != 0) {
    int e = errno;
    free(backup);
    return fail(w, "%s: cannot keep a copy of the original: %s", f->path, strerror(e));
  }
  pf->backup = backup;
  return 0;
}

static int place(writer *w, plan_file *pf, const edit_file *f)
{
  if (pf->is_new) {
    if (hooked(w, "link", f->path) || link(pf->temp, pf->target) != 0) {
      return fail(w, "%s: cannot create the file: %s", f->path, strerror(errno));
    }
  } else if (hooked(w, "rename", f->path) || rename(pf->temp, pf->target) != 0) {
    return fail(w, "%s: cannot replace the file: %s", f->path, strerror(errno));
  }
  pf->placed = 1;
  if (!pf->is_new) {
    free(pf->temp); /* renamed away */
    pf->temp = NULL;
  }
  return 0;
}

static void sync_dir(const char *dir)
{
  int fd = open(dir, O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
}

/* Puts everything back after a failure. Best effort per step: one step failing must not stop
 * the others being undone. */
static void undo(writer *w)
{
  for (size_t i = w->n; i-- > 0;) {
    plan_file *pf = &w->f[i];
    if (pf->placed && pf->is_new) {
      unlink(pf->target);
    } else if (pf->placed && pf->backup) {
      if (rename(pf->backup, pf->target) == 0) {
        free(pf->backup);
        pf->backup = NULL;
      }
    }
    if (pf->temp) {
      unlink(pf->temp);
    }
    if (pf->backup) {
      unlink(pf->backup);
    }
  }
  for (size_t i = w->ndirs; i-- > 0;) {
    rmdir(w->dirs[i]);
  }
}

int edit_write_all(const edit_proposal *p, const edit_source *sources, size_t nsources,
                   const edit_write_opts *opts, char *err, size_t errlen)
{
  writer w = {.opts = opts, .err = err, .errlen = errlen};
  w.n = p->nfiles;
  w.f = xcalloc(w.n ? w.n : 1, sizeof(plan_file));
  int rc = 0;
  for (size_t i = 0; i < w.n && rc == 0; i++) {
    const edit_file *f = &p->files[i];
    const edit_source *src = f->source >= 0 && (size_t)f->source < nsources
                               ? &sources[f->source] : NULL;
    w.f[i].target = resolve(opts, src ? src->path : f->path);
    w.f[i].dir = dir_of(w.f[i].target);
    w.f[i].is_new = f->is_new;
    for (size_t k = 0; k < i && rc == 0; k++) {
      if (strcmp(w.f[k].target, w.f[i].target) == 0) {
        rc = fail(&w, "%s: named twice", f->path);
      }
    }
    if (rc == 0) {
      rc = check_one(&w, &w.f[i], f, src);
    }
  }
  for (size_t i = 0; i < w.n && rc == 0; i++) {
    if (w.f[i].is_new) {
      rc = make_dirs(&w, w.f[i].dir, p->files[i].path);
    }
    if (rc == 0) {
      rc = write_temp(&w, &w.f[i], &p->files[i]);
    }
    if (rc == 0 && !w.f[i].is_new) {
      rc = make_backup(&w, &w.f[i], &p->files[i]);
    }
  }
  for (size_t i = 0; i < w.n && rc == 0; i++) {
    rc = place(&w, &w.f[i], &p->files[i]);
  }
  if (rc) {
    undo(&w);
  } else {
    for (size_t i = 0; i < w.n; i++) {
      if (w.f[i].temp) {
        unlink(w.f[i].temp); /* a new file's temp, now linked at its target */
      }
      if (w.f[i].backup) {
        unlink(w.f[i].backup);
      }
      sync_dir(w.f[i].dir);
    }
  }
  for (size_t i = 0; i < w.n; i++) {
    free(w.f[i].target);
    free(w.f[i].dir);
    free(w.f[i].temp);
    free(w.f[i].backup);
  }
  free(w.f);
  for (size_t i = 0; i < w.ndirs; i++) {
    free(w.dirs[i]);
  }
  free(w.dirs);
  return rc;
}
