/*
 * tlsrpt_inputs_dump.c - test driver for the TLS report inputs of
 * mtasts-tlsrptd (src/tlsrptd/follow.c, collector.c): prints every event
 * one per line, for tests/integration/test_tlsrpt_log.sh.
 *
 *   tlsrpt_inputs_dump log FILE [EXCLUDE...]
 *       follow FILE from its start once (as the daemon would, through
 *       tlsrptd_follow), close open sessions, print the events and a
 *       final "# stats ..." line;
 *   tlsrpt_inputs_dump collect SOCKET COUNT [SECONDS]
 *       bind the collector at SOCKET, print "# ready", then the events of
 *       COUNT datagrams (or what came within SECONDS, default 30), then
 *       "# stats ...".
 *
 * Event line: "S <domain> <policy-type|->" or "F <domain> <policy-type|->
 * <result-type> <mx host|-> <ip|-> <reason|->", one per failure detail.
 * Exit: 0, 1 on a timeout (collect) or error, 2 usage.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mtasts/mtasts.h>
#include <mtasts/rpt_session.h>

#include "collector.h"
#include "follow.h"

static const char *nz(const char *s) { return s != NULL ? s : "-"; }

static void print_event(const struct mts_rpt_event *ev, void *arg) {
  const char *pt = mts_rpt_datagram_policy_type_str(ev->policy_type);
  size_t i;

  (void)arg;
  if (ev->success || ev->nfailures == 0) {
    printf("%c %s %s\n", ev->success ? 'S' : 'F', ev->policy_domain, nz(pt));
  }
  for (i = 0; !ev->success && i < ev->nfailures; i++) {
    const struct mts_rpt_failure *f = &ev->failures[i];

    printf("F %s %s %s %s %s %s\n", ev->policy_domain, nz(pt),
           nz(f->result_type), nz(f->receiving_mx_hostname),
           nz(f->receiving_ip), nz(f->failure_reason_code));
  }
  fflush(stdout);
}

static int do_log(struct mts_ctx *ctx, const char *path,
                  const char *const *excl, size_t nexcl) {
  uv_loop_t loop;
  struct tlsrptd_follow_cfg cfg;
  struct tlsrptd_follow *f = NULL;
  struct tlsrptd_follow_stats st;
  int rc;

  if (uv_loop_init(&loop) != 0) {
    return 1;
  }
  memset(&cfg, 0, sizeof(cfg));
  cfg.ctx = ctx;
  cfg.path = path;
  cfg.from_start = true;
  cfg.interval_ms = 3600000;
  cfg.session.exclude = excl;
  cfg.session.nexclude = nexcl;
  rc = tlsrptd_follow_start(&loop, &cfg, print_event, NULL, &f);
  if (rc != 0) {
    fprintf(stderr, "follow %s: %s\n", path, uv_strerror(rc));
    return 1;
  }
  tlsrptd_follow_poll(f);
  tlsrptd_follow_stats(f, &st);
  tlsrptd_follow_stop(f); /* flushes open sessions */
  tlsrptd_follow_stats(f, &st);
  printf("# stats lines=%" PRIu64 " sessions=%" PRIu64 " successes=%" PRIu64
         " failures=%" PRIu64 " unknown=%" PRIu64 " reused=%" PRIu64
         " excluded=%" PRIu64 " no_domain=%" PRIu64 "\n",
         st.lines, st.session.sessions, st.session.successes,
         st.session.failures, st.session.unknown, st.session.reused,
         st.session.excluded, st.session.no_domain);
  uv_run(&loop, UV_RUN_DEFAULT);
  return uv_loop_close(&loop) == 0 ? 0 : 1;
}

struct coll {
  uv_loop_t loop;
  struct tlsrptd_collector *c;
  uint64_t want;
  bool timed_out;
};

static void on_tick(uv_timer_t *t) {
  struct coll *k = t->data;
  struct tlsrptd_collector_stats st;

  tlsrptd_collector_stats(k->c, &st);
  if (st.datagrams >= k->want) {
    uv_stop(&k->loop);
  }
}

static void on_deadline(uv_timer_t *t) {
  struct coll *k = t->data;

  k->timed_out = true;
  uv_stop(&k->loop);
}

static int do_collect(struct mts_ctx *ctx, const char *sock, uint64_t count,
                      uint64_t secs) {
  struct coll k;
  struct tlsrptd_collector_cfg cfg;
  struct tlsrptd_collector_stats st;
  uv_timer_t tick, deadline;
  int rc;

  memset(&k, 0, sizeof(k));
  k.want = count;
  if (uv_loop_init(&k.loop) != 0) {
    return 1;
  }
  memset(&cfg, 0, sizeof(cfg));
  cfg.ctx = ctx;
  cfg.path = sock;
  cfg.mode = 0666;
  cfg.uid = -1;
  cfg.gid = -1;
  rc = tlsrptd_collector_start(&k.loop, &cfg, print_event, NULL, &k.c);
  if (rc != 0) {
    fprintf(stderr, "collector %s: %s\n", sock, strerror(-rc));
    return 1;
  }
  printf("# ready\n");
  fflush(stdout);
  uv_timer_init(&k.loop, &tick);
  uv_timer_init(&k.loop, &deadline);
  tick.data = &k;
  deadline.data = &k;
  uv_timer_start(&tick, on_tick, 10, 10);
  uv_timer_start(&deadline, on_deadline, secs * 1000, 0);
  uv_run(&k.loop, UV_RUN_DEFAULT);
  tlsrptd_collector_stats(k.c, &st);
  printf("# stats datagrams=%" PRIu64 " usable=%" PRIu64 " events=%" PRIu64
         " rejected=%" PRIu64 " warnings=%" PRIu64 "\n",
         st.datagrams, st.usable, st.events, st.rejected, st.warnings);
  tlsrptd_collector_stop(k.c);
  uv_close((uv_handle_t *)&tick, NULL);
  uv_close((uv_handle_t *)&deadline, NULL);
  uv_run(&k.loop, UV_RUN_DEFAULT);
  (void)uv_loop_close(&k.loop);
  return k.timed_out ? 1 : 0;
}

int main(int argc, char **argv) {
  struct mts_ctx *ctx = NULL;
  int rc;

  if (argc < 3 || (strcmp(argv[1], "log") != 0 &&
                   (strcmp(argv[1], "collect") != 0 || argc < 4))) {
    fprintf(stderr, "usage: %s log FILE [EXCLUDE...] | collect SOCKET COUNT "
                    "[SECONDS]\n",
            argv[0]);
    return 2;
  }
  if (mts_ctx_create(NULL, &ctx) != MTS_OK) {
    return 1;
  }
  if (strcmp(argv[1], "log") == 0) {
    rc = do_log(ctx, argv[2], (const char *const *)(argv + 3),
                (size_t)(argc - 3));
  } else {
    rc = do_collect(ctx, argv[2], strtoull(argv[3], NULL, 10),
                    argc > 4 ? strtoull(argv[4], NULL, 10) : 30);
  }
  mts_ctx_destroy(ctx);
  return rc;
}
