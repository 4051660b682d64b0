/*
 * fuzz_rpt_session.c - the Postfix log joiner (mtasts/rpt_session.h) over
 * arbitrary bytes split into lines (the input is a piece of mail log).
 *
 * Invariants (abort() when broken):
 * - feeding never fails (the libc allocator does not fail);
 * - every event has a policy domain equal to its report domain, a session
 *   id, source LOG; a failure has exactly one detail with a result type
 *   and count 1, a success none; the domain is lower case without a
 *   trailing dot; the session id starts "<event time>/<domain>/" and
 *   ends "/-" for a success; an unverified-handshake note comes only
 *   with a success; every detail and note carries the configured
 *   sending IP (set for inputs of odd size) or none;
 * - stats: sessions == successes + failures == events handed out.
 * The pid table is bounded at 4 so eviction is exercised.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mtasts/rpt_session.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
  size_t n;
  const char *sending_ip;
};

static bool same_ip(const char *a, const char *b) {
  return (a == NULL && b == NULL) ||
         (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void check_shape(const struct mts_rpt_event *ev, const char *ip) {
  const char *d = ev->policy_domain, *p;
  char pre[400];
  size_t n = strlen(d), idn;
  int w;

  for (p = d; *p != '\0'; p++) {
    if (*p >= 'A' && *p <= 'Z') {
      abort();
    }
  }
  if (d[n - 1] == '.') {
    abort();
  }
  w = snprintf(pre, sizeof(pre), "%lld/%s/", (long long)ev->time, d);
  idn = strlen(ev->session_id);
  if (w < 0 || strncmp(ev->session_id, pre, (size_t)w) != 0 ||
      (ev->success &&
       (idn < 2 || strcmp(ev->session_id + idn - 2, "/-") != 0))) {
    abort();
  }
  if ((ev->unverified != NULL && !ev->success) ||
      (ev->unverified != NULL && !same_ip(ev->unverified->sending_mta_ip, ip)) ||
      (ev->nfailures == 1 && !same_ip(ev->failures[0].sending_mta_ip, ip))) {
    abort();
  }
}

static void on_event(const struct mts_rpt_event *ev, void *arg) {
  struct seen *seen = arg;

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
  check_shape(ev, seen->sending_ip);
  seen->n++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct mts_ctx *ctx = NULL;
  struct mts_rpt_session *s = NULL;
  struct mts_rpt_session_cfg cfg;
  struct mts_rpt_session_stats st;
  static const char *const excl[] = {"r@x.test", "@y.test"};
  struct seen seen;
  size_t i = 0;

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
  cfg.sending_ip = (size & 1) != 0 ? "192.0.2.25" : NULL;
  seen.n = 0;
  seen.sending_ip = cfg.sending_ip;
  if (mts_rpt_session_create(ctx, &cfg, on_event, &seen, &s) != MTS_OK) {
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
  if (st.sessions != seen.n || st.successes + st.failures != seen.n) {
    abort();
  }
  mts_rpt_session_destroy(s);
  mts_ctx_destroy(ctx);
  return 0;
}
