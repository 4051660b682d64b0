/*
 * test_mtastsd_sandbox.c - Landlock for mtastsd (sandbox.c), for real:
 * a child process restricts itself to one directory and /dev/null, then
 * every kind of write elsewhere must fail with EACCES (or EXDEV for a
 * rename across) while reading stays possible, writes beneath the
 * directory work, and a thread made afterwards is held too. Skipped
 * where the kernel has no Landlock (or valgrind does not know the
 * calls): the result then says UNAVAILABLE, which is what mtastsd logs.
 */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox.h"

#define EXIT_SKIP 77

static char top[64], in[96], out[96];

static int setup(void **state) {
  char path[160];
  int fd;

  (void)state;
  (void)snprintf(top, sizeof(top), "/tmp/test_sandbox.XXXXXX");
  assert_non_null(mkdtemp(top));
  (void)snprintf(in, sizeof(in), "%s/in", top);
  (void)snprintf(out, sizeof(out), "%s/out", top);
  assert_int_equal(mkdir(in, 0700), 0);
  assert_int_equal(mkdir(out, 0700), 0);
  (void)snprintf(path, sizeof(path), "%s/old", out);
  fd = open(path, O_WRONLY | O_CREAT, 0600);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "x", 1), 1);
  close(fd);
  return 0;
}

static int teardown(void **state) {
  char cmd[128];

  (void)state;
  (void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
  assert_int_equal(system(cmd), 0);
  return 0;
}

/* \return 0 when \p rc is -1 with errno \p want. */
static int refused(int rc, int want) {
  return rc == -1 && errno == want ? 0 : 1;
}

static void *thread_write(void *arg) {
  char path[160];
  int fd;

  (void)arg;
  (void)snprintf(path, sizeof(path), "%s/from-thread", out);
  fd = open(path, O_WRONLY | O_CREAT, 0600);
  if (fd >= 0) {
    close(fd);
    return (void *)1;
  }
  return errno == EACCES ? NULL : (void *)1;
}

/* In the child: restrict, then count what went wrong (the exit code). */
static int child(void) {
  const char *paths[] = {in, "/dev/null", "/nonexistent/skipped"};
  char why[300], p1[160], p2[160], buf[2];
  int abi = 0, bad = 0, fd;
  enum mtastsd_sandbox_result r;
  pthread_t t;
  void *tr = (void *)1;

  r = mtastsd_sandbox_writes(paths, 3, &abi, why, sizeof(why));
  if (r == MTASTSD_SANDBOX_UNAVAILABLE) {
    return EXIT_SKIP;
  }
  if (r != MTASTSD_SANDBOX_ON || abi < 1) {
    return 100;
  }
  /* beneath the directory: create, write, rename, remove, mkdir */
  (void)snprintf(p1, sizeof(p1), "%s/new", in);
  (void)snprintf(p2, sizeof(p2), "%s/renamed", in);
  fd = open(p1, O_WRONLY | O_CREAT, 0600);
  bad += fd < 0 || write(fd, "y", 1) != 1;
  if (fd >= 0) {
    close(fd);
  }
  bad += rename(p1, p2) != 0;
  bad += unlink(p2) != 0;
  (void)snprintf(p1, sizeof(p1), "%s/dir", in);
  bad += mkdir(p1, 0700) != 0;
  /* /dev/null */
  fd = open("/dev/null", O_WRONLY);
  bad += fd < 0;
  if (fd >= 0) {
    close(fd);
  }
  /* elsewhere: every write refused, reading allowed */
  (void)snprintf(p1, sizeof(p1), "%s/old", out);
  (void)snprintf(p2, sizeof(p2), "%s/created", out);
  bad += refused(open(p2, O_WRONLY | O_CREAT, 0600), EACCES);
  bad += refused(open(p1, O_WRONLY), EACCES);
  bad += refused(open(p1, O_RDWR), EACCES);
  bad += refused(unlink(p1), EACCES);
  bad += refused(mkdir(p2, 0700), EACCES);
  bad += refused(symlink("x", p2), EACCES);
  bad += refused(mkfifo(p2, 0600), EACCES);
  (void)snprintf(p2, sizeof(p2), "%s/moved-in", in);
  /* a rename across directories is EXDEV before ABI 2, else EACCES */
  bad += refused(rename(p1, p2), abi >= 2 ? EACCES : EXDEV);
  fd = open(p1, O_RDONLY);
  bad += fd < 0 || read(fd, buf, 1) != 1;
  if (fd >= 0) {
    close(fd);
  }
  /* a thread made afterwards is held too */
  if (pthread_create(&t, NULL, thread_write, NULL) != 0 ||
      pthread_join(t, &tr) != 0) {
    return 101;
  }
  bad += tr != NULL;
  return bad > 99 ? 99 : bad;
}

static void test_writes_only_beneath(void **state) {
  pid_t pid;
  int status = 0;
  struct stat st;
  char path[160];

  (void)state;
  pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    _exit(child());
  }
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  if (WEXITSTATUS(status) == EXIT_SKIP) {
    skip();
  }
  assert_int_equal(WEXITSTATUS(status), 0);
  /* and the parent is not restricted */
  (void)snprintf(path, sizeof(path), "%s/parent", out);
  assert_int_equal(mkdir(path, 0700), 0);
  (void)snprintf(path, sizeof(path), "%s/dir", in);
  assert_int_equal(stat(path, &st), 0);
  (void)snprintf(path, sizeof(path), "%s/created", out);
  assert_int_not_equal(stat(path, &st), 0);
}

static void test_dirname(void **state) {
  static const struct {
    const char *path, *dir;
  } v[] = {{"/var/lib/mta-sts/cache.db", "/var/lib/mta-sts"},
           {"cache.db", "."},
           {"/cache.db", "/"},
           {"a//b", "a"},
           {"./x", "."},
           {"/run/mtastsd/", "/run/mtastsd"}};
  char buf[64];
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
    assert_true(mtastsd_sandbox_dirname(v[i].path, buf, sizeof(buf)));
    assert_string_equal(buf, v[i].dir);
  }
  assert_false(mtastsd_sandbox_dirname("/abcdef/x", buf, 4));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_writes_only_beneath),
      cmocka_unit_test(test_dirname),
  };

  return cmocka_run_group_tests(tests, setup, teardown);
}
