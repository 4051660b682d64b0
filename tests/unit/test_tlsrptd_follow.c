/*
 * test_tlsrptd_follow.c - the Postfix log follower (src/tlsrptd/follow.c)
 * on real files in a temporary directory.
 *
 * - START: lines present before the first start are not counted (start
 *   at the end) unless from_start;
 * - PARTIAL: half a line is not fed until its newline arrives;
 * - ROTATE: rename + new file mid-session: the old file is finished
 *   (including lines written to it after the rename), then the new one
 *   read from its start: events exact;
 * - TRUNCATE: copytruncate: read again from 0;
 * - RESTART: stop saves inode+offset; a restart with the state file
 *   counts nothing twice and continues with new lines;
 * - COMMAND: a command's standard output as the log (as journalctl -f).
 */
#include "testutil.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "follow.h"

#define NOW_MAR 1772388000 /* 2026-03-01T18:00:00Z */
#define H "Mar  1 12:00:00 sender postfix/smtp"

/* one verified session to ok.test through pid P, queue id Q */
#define VERIFIED(p, q)                                                       \
  H "[" p "]: Verified TLS connection established to mx.ok.test"             \
    "[127.0.0.11]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 "  \
    "bits)\n" H "[" p "]: " q ": to=<a@ok.test>, relay=mx.ok.test"           \
    "[127.0.0.11]:25, delay=0.2, delays=0/0/0.1/0.1, dsn=2.0.0, "           \
    "status=sent (250 ok)\n"
#define EXPIRED_FACTS(p)                                                     \
  H "[" p "]: server certificate verification failed for mx.expired.test"   \
    "[127.0.0.15]:25: certificate has expired\n"
#define EXPIRED_STATUS(p, q)                                                 \
  H "[" p "]: " q ": to=<b@expired.test>, relay=mx.expired.test"            \
    "[127.0.0.15]:25, delay=0.2, delays=0/0/0.1/0.1, dsn=4.7.5, "           \
    "status=deferred (Server certificate not verified)\n"

struct world {
  char dir[64];
  char log[128], log1[128], state[128];
  uv_loop_t loop;
  struct tlsrptd_follow *f;
  size_t n;
  char ev[32][128];
};

static void on_event(const struct mts_rpt_event *ev, void *arg) {
  struct world *w = arg;

  assert_true(w->n < 32);
  assert_int_equal(ev->source, MTS_RPT_SRC_LOG);
  (void)snprintf(w->ev[w->n++], 128, "%c %s %s", ev->success ? 'S' : 'F',
                 ev->policy_domain,
                 ev->success ? "-" : ev->failures[0].result_type);
}

static int64_t fixed_clock(void *arg) {
  (void)arg;
  return NOW_MAR;
}

static void append(const char *path, const char *text) {
  FILE *fp = fopen(path, "a");

  assert_non_null(fp);
  assert_int_equal(fputs(text, fp) >= 0, 1);
  assert_int_equal(fclose(fp), 0);
}

static void start(struct world *w, struct mts_ctx *ctx, bool from_start) {
  struct tlsrptd_follow_cfg cfg;

  memset(&cfg, 0, sizeof(cfg));
  cfg.ctx = ctx;
  cfg.path = w->log;
  cfg.state_file = w->state;
  cfg.from_start = from_start;
  cfg.interval_ms = 3600000; /* the test polls by hand */
  cfg.clock = fixed_clock;
  assert_int_equal(tlsrptd_follow_start(&w->loop, &cfg, on_event, w, &w->f),
                   0);
}

static void stop(struct world *w) {
  tlsrptd_follow_stop(w->f);
  w->f = NULL;
  uv_run(&w->loop, UV_RUN_NOWAIT);
}

static void setup_world(struct world *w) {
  memset(w, 0, sizeof(*w));
  memcpy(w->dir, "/tmp/h5a-follow-XXXXXX", 23);
  assert_non_null(mkdtemp(w->dir));
  (void)snprintf(w->log, sizeof(w->log), "%s/mail.log", w->dir);
  (void)snprintf(w->log1, sizeof(w->log1), "%s/mail.log.1", w->dir);
  (void)snprintf(w->state, sizeof(w->state), "%s/follow.state", w->dir);
  assert_int_equal(uv_loop_init(&w->loop), 0);
}

static void teardown_world(struct world *w) {
  uv_run(&w->loop, UV_RUN_NOWAIT);
  assert_int_equal(uv_loop_close(&w->loop), 0);
  unlink(w->log);
  unlink(w->log1);
  unlink(w->state);
  rmdir(w->dir);
}

static void want(struct world *w, size_t n, const char *const *evs) {
  size_t i;

  if (w->n != n) {
    fail_msg("%zu events, want %zu", w->n, n);
  }
  for (i = 0; i < n; i++) {
    assert_string_equal(w->ev[i], evs[i]);
  }
  w->n = 0;
}

static void test_file(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct world w;
  struct tlsrptd_follow_stats st;
  static const char *const ok1[] = {"S ok.test -"};
  static const char *const exp1[] = {"F expired.test certificate-expired"};
  static const char *const both[] = {"F expired.test certificate-expired",
                                     "S ok.test -"};

  (void)state;
  setup_world(&w);
  /* START: old lines are not counted */
  append(w.log, VERIFIED("100", "AAAAA00001"));
  start(&w, ctx, false);
  tlsrptd_follow_poll(w.f);
  want(&w, 0, NULL);
  append(w.log, VERIFIED("100", "AAAAA00002"));
  tlsrptd_follow_poll(w.f);
  want(&w, 1, ok1);
  /* PARTIAL: half a status line */
  append(w.log, EXPIRED_FACTS("101") H "[101]: AAAAA00003: to=<b@expi");
  tlsrptd_follow_poll(w.f);
  want(&w, 0, NULL);
  append(w.log, "red.test>, relay=mx.expired.test[127.0.0.15]:25, "
                "delay=0.2, delays=0/0/0.1/0.1, dsn=4.7.5, status=deferred "
                "(Server certificate not verified)\n");
  tlsrptd_follow_poll(w.f);
  want(&w, 1, exp1);
  /* ROTATE mid-session: facts in the old file, one more line written to
   * it after the rename, the status line in the new file */
  append(w.log, EXPIRED_FACTS("102"));
  assert_int_equal(rename(w.log, w.log1), 0);
  append(w.log1, VERIFIED("103", "AAAAA00005"));
  append(w.log, EXPIRED_STATUS("102", "AAAAA00004"));
  tlsrptd_follow_poll(w.f);
  want(&w, 2, (const char *const[]){"S ok.test -",
                                    "F expired.test certificate-expired"});
  tlsrptd_follow_stats(w.f, &st);
  assert_int_equal(st.rotations, 1);
  /* TRUNCATE in place (seen at the next check: shorter than the
   * position), then written again */
  assert_int_equal(truncate(w.log, 0), 0);
  tlsrptd_follow_poll(w.f);
  append(w.log, EXPIRED_FACTS("104") EXPIRED_STATUS("104", "AAAAA00006"));
  tlsrptd_follow_poll(w.f);
  want(&w, 1, exp1);
  tlsrptd_follow_stats(w.f, &st);
  assert_int_equal(st.truncations, 1);
  assert_int_equal(st.session.sessions, 5);
  /* RESTART: nothing twice; lines written while stopped are read */
  stop(&w);
  append(w.log, VERIFIED("105", "AAAAA00007"));
  start(&w, ctx, false);
  tlsrptd_follow_poll(w.f);
  want(&w, 1, ok1);
  stop(&w);
  start(&w, ctx, true); /* from_start does not override the state */
  tlsrptd_follow_poll(w.f);
  want(&w, 0, NULL);
  append(w.log, EXPIRED_FACTS("106") EXPIRED_STATUS("106", "AAAAA00008")
                    VERIFIED("107", "AAAAA00009"));
  tlsrptd_follow_poll(w.f);
  want(&w, 2, both);
  stop(&w);
  /* no state, from_start: the whole file */
  unlink(w.state);
  start(&w, ctx, true);
  tlsrptd_follow_poll(w.f);
  tlsrptd_follow_stats(w.f, &st);
  assert_int_equal(st.session.sessions, 4);
  w.n = 0;
  stop(&w);
  teardown_world(&w);
  mts_ctx_destroy(ctx);
}

static void test_long_line(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct world w;
  struct tlsrptd_follow_stats st;
  char *big = malloc(MTS_RPT_LOGLINE_MAX + 10);
  static const char *const ok1[] = {"S ok.test -"};

  (void)state;
  assert_non_null(big);
  memset(big, 'x', MTS_RPT_LOGLINE_MAX + 8);
  big[MTS_RPT_LOGLINE_MAX + 8] = '\n';
  big[MTS_RPT_LOGLINE_MAX + 9] = '\0';
  setup_world(&w);
  append(w.log, "");
  start(&w, ctx, false);
  append(w.log, big);
  append(w.log, VERIFIED("100", "AAAAA00002"));
  tlsrptd_follow_poll(w.f);
  want(&w, 1, ok1);
  tlsrptd_follow_stats(w.f, &st);
  assert_int_equal(st.long_lines, 1);
  stop(&w);
  teardown_world(&w);
  mts_ctx_destroy(ctx);
  free(big);
}

static void on_tick(uv_timer_t *t) {
  struct world *w = t->data;
  struct tlsrptd_follow_stats st;

  tlsrptd_follow_stats(w->f, &st);
  if (st.command_exits > 0) {
    uv_stop(&w->loop);
  }
}

static void test_command(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct world w;
  struct tlsrptd_follow_cfg cfg;
  struct tlsrptd_follow_stats st;
  uv_timer_t tick;
  const char *argv[] = {"/bin/cat", NULL, NULL};
  static const char *const both[] = {"F expired.test certificate-expired",
                                     "S ok.test -"};

  (void)state;
  setup_world(&w);
  append(w.log, EXPIRED_FACTS("106") EXPIRED_STATUS("106", "AAAAA00008")
                    VERIFIED("107", "AAAAA00009"));
  argv[1] = w.log;
  memset(&cfg, 0, sizeof(cfg));
  cfg.ctx = ctx;
  cfg.command = argv;
  cfg.clock = fixed_clock;
  assert_int_equal(tlsrptd_follow_start(&w.loop, &cfg, on_event, &w, &w.f), 0);
  assert_int_equal(uv_timer_init(&w.loop, &tick), 0);
  tick.data = &w;
  assert_int_equal(uv_timer_start(&tick, on_tick, 10, 10), 0);
  uv_run(&w.loop, UV_RUN_DEFAULT);
  uv_close((uv_handle_t *)&tick, NULL);
  /* the pipe may still hold data after the exit: drain it */
  uv_run(&w.loop, UV_RUN_NOWAIT);
  tlsrptd_follow_stats(w.f, &st);
  assert_int_equal(st.command_exits, 1);
  stop(&w);
  want(&w, 2, both);
  teardown_world(&w);
  mts_ctx_destroy(ctx);
}

static void test_bad_args(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct world w;
  struct tlsrptd_follow_cfg cfg;
  const char *argv[] = {"/nonexistent/journalctl", NULL};

  (void)state;
  setup_world(&w);
  memset(&cfg, 0, sizeof(cfg));
  cfg.ctx = ctx;
  assert_int_equal(tlsrptd_follow_start(&w.loop, &cfg, on_event, &w, &w.f),
                   -EINVAL);
  cfg.command = argv;
  assert_true(tlsrptd_follow_start(&w.loop, &cfg, on_event, &w, &w.f) < 0);
  assert_null(w.f);
  teardown_world(&w);
  mts_ctx_destroy(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_file),
      cmocka_unit_test(test_long_line),
      cmocka_unit_test(test_command),
      cmocka_unit_test(test_bad_args),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
