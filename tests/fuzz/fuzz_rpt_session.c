/*
 * fuzz_rpt_session.c - the Postfix log joiner (mtasts/rpt_session.h) over
 * arbitrary bytes split into lines (the input is a piece of mail log).
 *
 * Invariants (abort() when broken):
 * - feeding never fails (the libc allocator does not fail);
 * - every event has a policy domain equal to its report domain, a session
 *   id, source LOG; a failure has exactly one detail with a result type
 *   and count 1, a success none;
 * - stats: sessions == successes + failures == events handed out.
 * The pid table is bounded at 4 so eviction is exercised.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mtasts/rpt_session.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_event(const struct mts_rpt_event *ev, void *arg) {
  size_t *n = arg;

  if (ev->source != MTS_RPT_SRC_LOG || ev->policy_domain == NULL ||
      ev->report_domain == NULL || ev->session_id == NULL ||
      strcmp(ev->policy_domain, ev->report_domain) != 0 ||
      ev->policy_domain[0] == '\0') {
    abort();
  }
  if (ev->success ? ev->nfailures != 0
                  : (ev->nfailures != 1 || ev->failures[0].result_type == NULL ||
                     ev->failures[0].failed_session_count != 1)) {
    abort();
  }
  (*n)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct mts_ctx *ctx = NULL;
  struct mts_rpt_session *s = NULL;
  struct mts_rpt_session_cfg cfg;
  struct mts_rpt_session_stats st;
  static const char *const excl[] = {"r@x.test", "@y.test"};
  size_t n = 0, i = 0;

  if (size > 1 << 20) {
    return 0;
  }
  if (mts_ctx_create(NULL, &ctx) != MTS_OK) {
    abort();
  }
  memset(&cfg, 0, sizeof(cfg));
  cfg.max_pids = 4;
  cfg.exclude = excl;
  cfg.nexclude = 2;
  if (mts_rpt_session_create(ctx, &cfg, on_event, &n, &s) != MTS_OK) {
    abort();
  }
  mts_rpt_session_set_clock(s, 1772388000, 60);
  while (i < size) {
    const uint8_t *nl = memchr(data + i, '\n', size - i);
    size_t len = nl != NULL ? (size_t)(nl - (data + i)) + 1 : size - i;

    if (mts_rpt_session_feed_line(s, data + i, len) != MTS_OK) {
      abort();
    }
    i += len;
  }
  mts_rpt_session_flush(s);
  mts_rpt_session_stats(s, &st);
  if (st.sessions != n || st.successes + st.failures != n) {
    abort();
  }
  mts_rpt_session_destroy(s);
  mts_ctx_destroy(ctx);
  return 0;
}
