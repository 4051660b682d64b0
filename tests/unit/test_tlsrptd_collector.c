/*
 * test_tlsrptd_collector.c - the libtlsrpt datagram collector
 * (src/tlsrptd/collector.c) on a real UNIX datagram socket in a
 * temporary directory.
 *
 * - LOAD: a child process sends 10,000 datagrams as fast as a blocking
 *   sender can (the layouts of TLSRPT-NOTES 1.2 and garbage): every one
 *   is received and counted exactly; rejects are quarantined up to the
 *   file limit.
 * - OVERSIZE: a datagram above MTS_RPT_DATAGRAM_MAX is rejected and
 *   quarantined (truncated), the collector keeps going.
 * - SOCKET: a live collector on the path is not displaced, a stale socket
 *   file is replaced, a regular file is not removed, a path too long for
 *   sun_path is refused; mode is applied.
 */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "collector.h"

#define N_DGRAMS 10000

static const char good_fail[] =
    "{\"dpv\": \"1\",\"d\": \"example.com\",\"pr\": \"v=TLSRPTv1; "
    "rua=mailto:tlsrpt@example.com\",\"policies\":[{\"policy-type\":2,"
    "\"policy-domain\": \"example.com\",\"policy-string\":[\"version: "
    "STSv1\",\"mode: enforce\",\"mx: mail.example.com\",\"max_age: "
    "604800\"],\"mx-host\":[\"mail.example.com\"],\"failure-details\":[{"
    "\"c\":205,\"s\": \"192.0.2.1\",\"n\": \"mail.example.com\",\"h\": "
    "\"250-mail.example.com\\r\\n250 STARTTLS\",\"r\": \"198.51.100.7\",\"f\": "
    "\"self-signed_certificate\"}],\"t\":1,\"f\":1}]}";
static const char good_ok_rc1[] =
    "{\"d\": \"example.org\",\"pr\": \"v=TLSRPTv1; "
    "rua=mailto:tlsrpt@example.org\",\"policies\":[{\"policy-type\":9,"
    "\"t\":0,\"f\":0}]}";
static const char warn_utf8[] =
    "{\"dpv\": \"1\",\"d\": \"utf.test\",\"pr\": \"v=TLSRPTv1; "
    "rua=mailto:r@utf.test\",\"policies\":[{\"policy-type\":2,"
    "\"policy-domain\": \"utf.test\",\"failure-details\":[{\"c\":203,\"a\": "
    "\"caf\xe9\"}],\"t\":1,\"f\":1}]}";
static const char garbage[] = "not json \xff\x00 at all";

struct world {
  char dir[64];
  char sock[128];
  char qdir[128];
  uv_loop_t loop;
  struct tlsrptd_collector *c;
  uint64_t want;
  uint64_t ok, failed;
  uv_timer_t timer, deadline;
  bool timed_out;
};

static void on_event(const struct mts_rpt_event *ev, void *arg) {
  struct world *w = arg;

  assert_int_equal(ev->source, MTS_RPT_SRC_DATAGRAM);
  if (ev->success) {
    w->ok++;
  } else {
    w->failed++;
  }
}

static void on_tick(uv_timer_t *t) {
  struct world *w = t->data;
  struct tlsrptd_collector_stats st;

  tlsrptd_collector_stats(w->c, &st);
  if (st.datagrams >= w->want) {
    uv_stop(&w->loop);
  }
}

static void on_deadline(uv_timer_t *t) {
  struct world *w = t->data;

  w->timed_out = true;
  uv_stop(&w->loop);
}

/* Run the loop until want datagrams arrived (at most 60 s, scaled). */
static void run_until(struct world *w, uint64_t want) {
  w->want = want;
  w->timed_out = false;
  assert_int_equal(uv_timer_init(&w->loop, &w->timer), 0);
  assert_int_equal(uv_timer_init(&w->loop, &w->deadline), 0);
  w->timer.data = w;
  w->deadline.data = w;
  assert_int_equal(uv_timer_start(&w->timer, on_tick, 5, 5), 0);
  assert_int_equal(
      uv_timer_start(&w->deadline, on_deadline, mts_test_ms(60000), 0), 0);
  uv_run(&w->loop, UV_RUN_DEFAULT);
  uv_close((uv_handle_t *)&w->timer, NULL);
  uv_close((uv_handle_t *)&w->deadline, NULL);
  uv_run(&w->loop, UV_RUN_NOWAIT);
  assert_false(w->timed_out);
}

static void setup_world(struct world *w) {
  memset(w, 0, sizeof(*w));
  memcpy(w->dir, "/tmp/h5a-coll-XXXXXX", 21);
  assert_non_null(mkdtemp(w->dir));
  (void)snprintf(w->sock, sizeof(w->sock), "%s/tlsrpt.sock", w->dir);
  (void)snprintf(w->qdir, sizeof(w->qdir), "%s/q", w->dir);
  assert_int_equal(mkdir(w->qdir, 0700), 0);
  assert_int_equal(uv_loop_init(&w->loop), 0);
}

static size_t count_files(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  size_t n = 0;

  assert_non_null(d);
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] != '.') {
      n++;
    }
  }
  closedir(d);
  return n;
}

static void teardown_world(struct world *w) {
  DIR *d;
  struct dirent *e;
  char p[512];

  uv_run(&w->loop, UV_RUN_NOWAIT);
  assert_int_equal(uv_loop_close(&w->loop), 0);
  d = opendir(w->qdir);
  if (d != NULL) {
    while ((e = readdir(d)) != NULL) {
      if (e->d_name[0] != '.') {
        (void)snprintf(p, sizeof(p), "%s/%s", w->qdir, e->d_name);
        unlink(p);
      }
    }
    closedir(d);
  }
  rmdir(w->qdir);
  unlink(w->sock);
  rmdir(w->dir);
}

static int64_t fixed_clock(void *arg) {
  (void)arg;
  return 1772388000;
}

static void start(struct world *w, struct mts_ctx *ctx, size_t qmax) {
  struct tlsrptd_collector_cfg cfg;

  memset(&cfg, 0, sizeof(cfg));
  cfg.ctx = ctx;
  cfg.path = w->sock;
  cfg.mode = 0620;
  cfg.uid = -1;
  cfg.gid = -1;
  cfg.quarantine_dir = w->qdir;
  cfg.quarantine_max_files = qmax;
  cfg.clock = fixed_clock;
  assert_int_equal(tlsrptd_collector_start(&w->loop, &cfg, on_event, w, &w->c),
                   0);
}

/* Child: send \p n datagrams, blocking, and exit. */
static void sender(const char *path, int n, bool big) {
  int fd = socket(AF_UNIX, SOCK_DGRAM, 0), i, sz = 1 << 20;
  struct sockaddr_un sa;

  if (fd < 0) {
    _exit(2);
  }
  memset(&sa, 0, sizeof(sa));
  sa.sun_family = AF_UNIX;
  memcpy(sa.sun_path, path, strlen(path) + 1);
  (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
  for (i = 0; i < n; i++) {
    const char *d;
    size_t len;
    static char huge[MTS_RPT_DATAGRAM_MAX + 100];

    if (big) {
      memset(huge, 'x', sizeof(huge));
      d = huge;
      len = sizeof(huge);
    } else if (i % 10 == 0) {
      d = garbage;
      len = sizeof(garbage) - 1;
    } else if (i % 10 == 1) {
      d = good_ok_rc1;
      len = sizeof(good_ok_rc1) - 1;
    } else if (i % 10 == 2) {
      d = warn_utf8;
      len = sizeof(warn_utf8) - 1;
    } else {
      d = good_fail;
      len = sizeof(good_fail) - 1;
    }
    if (sendto(fd, d, len, 0, (struct sockaddr *)&sa, sizeof(sa)) !=
        (ssize_t)len) {
      _exit(3);
    }
  }
  close(fd);
  _exit(0);
}

static void wait_child(pid_t pid) {
  int status = 0;

  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_load(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct world w;
  struct tlsrptd_collector_stats st;
  struct stat sb;
  pid_t pid;

  (void)state;
  setup_world(&w);
  start(&w, ctx, 100);
  assert_int_equal(stat(w.sock, &sb), 0);
  assert_true(S_ISSOCK(sb.st_mode));
  assert_int_equal(sb.st_mode & 0777, 0620);
  pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    sender(w.sock, N_DGRAMS, false);
  }
  run_until(&w, N_DGRAMS);
  wait_child(pid);
  tlsrptd_collector_stats(w.c, &st);
  assert_int_equal(st.datagrams, N_DGRAMS);
  assert_int_equal(st.rejected, N_DGRAMS / 10);
  assert_int_equal(st.usable, N_DGRAMS - N_DGRAMS / 10);
  assert_int_equal(st.events, N_DGRAMS - N_DGRAMS / 10);
  assert_int_equal(st.warnings, N_DGRAMS / 10);
  assert_int_equal(st.recv_errors, 0);
  assert_int_equal(st.enomem, 0);
  assert_int_equal(st.quarantined, 100);
  assert_int_equal(st.quarantine_skipped, N_DGRAMS / 10 - 100);
  assert_int_equal(w.ok, N_DGRAMS / 10);
  assert_int_equal(w.failed, N_DGRAMS - 2 * (N_DGRAMS / 10));
  assert_int_equal(count_files(w.qdir), 100);
  tlsrptd_collector_stop(w.c);
  uv_run(&w.loop, UV_RUN_NOWAIT);
  assert_int_equal(stat(w.sock, &sb), -1); /* unlinked */

  /* a restart counts the quarantine already there: nothing more */
  start(&w, ctx, 100);
  pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    sender(w.sock, 1, false); /* i == 0: garbage */
  }
  run_until(&w, 1);
  wait_child(pid);
  tlsrptd_collector_stats(w.c, &st);
  assert_int_equal(st.rejected, 1);
  assert_int_equal(st.quarantined, 0);
  assert_int_equal(st.quarantine_skipped, 1);
  tlsrptd_collector_stop(w.c);
  teardown_world(&w);
  mts_ctx_destroy(ctx);
}

static void test_oversize(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct world w;
  struct tlsrptd_collector_stats st;
  pid_t pid;

  (void)state;
  setup_world(&w);
  start(&w, ctx, 10);
  pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    sender(w.sock, 1, true);
  }
  run_until(&w, 1);
  wait_child(pid);
  pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    sender(w.sock, 3, false);
  }
  run_until(&w, 4);
  wait_child(pid);
  tlsrptd_collector_stats(w.c, &st);
  assert_int_equal(st.datagrams, 4);
  assert_int_equal(st.oversized, 1);
  assert_int_equal(st.rejected, 2); /* the big one and the garbage */
  assert_int_equal(st.usable, 2);
  assert_int_equal(st.bytes, MTS_RPT_DATAGRAM_MAX + 100 +
                                 (sizeof(garbage) - 1) +
                                 (sizeof(good_ok_rc1) - 1) +
                                 (sizeof(warn_utf8) - 1));
  assert_int_equal(st.quarantined, 2);
  tlsrptd_collector_stop(w.c);
  teardown_world(&w);
  mts_ctx_destroy(ctx);
}

static void test_socket_path(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct world w;
  struct tlsrptd_collector_cfg cfg;
  struct tlsrptd_collector *c2 = NULL;
  struct sockaddr_un sa;
  char longpath[200];
  int fd;
  FILE *fp;

  (void)state;
  setup_world(&w);
  memset(&cfg, 0, sizeof(cfg));
  cfg.ctx = ctx;
  cfg.path = w.sock;
  cfg.mode = -1;
  cfg.uid = -1;
  cfg.gid = -1;
  /* a live collector is not displaced */
  start(&w, ctx, 10);
  assert_int_equal(tlsrptd_collector_start(&w.loop, &cfg, on_event, &w, &c2),
                   -EADDRINUSE);
  assert_null(c2);
  tlsrptd_collector_stop(w.c);
  uv_run(&w.loop, UV_RUN_NOWAIT);
  /* a stale socket file (bound, then the process went away) is replaced */
  fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  assert_true(fd >= 0);
  memset(&sa, 0, sizeof(sa));
  sa.sun_family = AF_UNIX;
  memcpy(sa.sun_path, w.sock, strlen(w.sock) + 1);
  assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  close(fd);
  assert_int_equal(tlsrptd_collector_start(&w.loop, &cfg, on_event, &w, &c2),
                   0);
  tlsrptd_collector_stop(c2);
  uv_run(&w.loop, UV_RUN_NOWAIT);
  /* a regular file is left alone */
  fp = fopen(w.sock, "w");
  assert_non_null(fp);
  fclose(fp);
  assert_int_equal(tlsrptd_collector_start(&w.loop, &cfg, on_event, &w, &c2),
                   -EEXIST);
  unlink(w.sock);
  /* too long for sun_path (TLSRPT-NOTES 1.1: 107 bytes) */
  memset(longpath, 'a', sizeof(longpath) - 1);
  longpath[0] = '/';
  longpath[sizeof(longpath) - 1] = '\0';
  cfg.path = longpath;
  assert_int_equal(tlsrptd_collector_start(&w.loop, &cfg, on_event, &w, &c2),
                   -ENAMETOOLONG);
  cfg.path = NULL;
  assert_int_equal(tlsrptd_collector_start(&w.loop, &cfg, on_event, &w, &c2),
                   -EINVAL);
  teardown_world(&w);
  mts_ctx_destroy(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_load),
      cmocka_unit_test(test_oversize),
      cmocka_unit_test(test_socket_path),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
