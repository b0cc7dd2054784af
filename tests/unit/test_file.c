/* util/file.c: whole writes and one-step replacement, which the plan store, the repo map's cache
 * and the multi-file writer rely on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/file.h"

/* Each test gets a fresh folder, its name in *state. */
static int make_dir(void **state)
{
  char *dir = strdup("/tmp/frugal-test-file-XXXXXX");
  *state = dir;
  return dir && mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
  char *dir = *state;
  DIR *d = opendir(dir);
  struct dirent *e;
  while (d && (e = readdir(d))) {
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
      char p[512];
      snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
      unlink(p);
    }
  }
  if (d) {
    closedir(d);
  }
  int rc = rmdir(dir);
  free(dir);
  return rc;
}

static int entries(const char *dir)
{
  int n = 0;
  DIR *d = opendir(dir);
  struct dirent *e;
  while (d && (e = readdir(d))) {
    n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
  }
  if (d) {
    closedir(d);
  }
  return n;
}

static void replace_swaps_the_contents_and_leaves_no_temporary_file(void **state)
{
  const char *dir = *state;
  char path[128], err[600];
  snprintf(path, sizeof(path), "%s/plan.json", dir);
  assert_int_equal(file_replace(path, "old\n", 4, 0600, err, sizeof(err)), 0);
  assert_int_equal(file_replace(path, "new text\n", 9, 0600, err, sizeof(err)), 0);
  file_contents f;
  assert_int_equal(file_load(&f, path, 1024, err, sizeof(err)), 0);
  assert_int_equal(f.len, 9);
  assert_memory_equal(f.data, "new text\n", 9);
  file_release(&f);
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  assert_int_equal(entries(dir), 1);
}

static void replace_into_a_missing_folder_says_which_file_and_leaves_nothing(void **state)
{
  const char *dir = *state;
  char path[128], err[600];
  snprintf(path, sizeof(path), "%s/no/such/plan.json", dir);
  assert_int_equal(file_replace(path, "x", 1, 0600, err, sizeof(err)), -1);
  assert_non_null(strstr(err, path));
  assert_non_null(strstr(err, "No such file or directory"));
  assert_int_equal(entries(dir), 0);
}

static void write_all_writes_every_byte(void **state)
{
  const char *dir = *state;
  char path[128];
  snprintf(path, sizeof(path), "%s/big", dir);
  size_t n = 3u << 20; /* more than one pipe or page of writes */
  char *data = malloc(n);
  assert_non_null(data);
  for (size_t i = 0; i < n; i++) {
    data[i] = (char)('a' + i % 26);
  }
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  assert_true(fd >= 0);
  assert_int_equal(file_write_all(fd, data, n), 0);
  close(fd);
  char err[600];
  file_contents f;
  assert_int_equal(file_load(&f, path, n, err, sizeof(err)), 0);
  assert_int_equal(f.len, n);
  assert_memory_equal(f.data, data, n);
  file_release(&f);
  assert_int_equal(file_write_all(-1, data, 1), -1);
  free(data);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(replace_swaps_the_contents_and_leaves_no_temporary_file,
                                    make_dir, remove_dir),
    cmocka_unit_test_setup_teardown(
      replace_into_a_missing_folder_says_which_file_and_leaves_nothing, make_dir, remove_dir),
    cmocka_unit_test_setup_teardown(write_all_writes_every_byte, make_dir, remove_dir),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
