/*
 * test_rpt_session.c - the Postfix log joiner (mtasts/rpt_session.h).
 *
 * FX-*: the fixtures of tests/fixtures/tlsrpt/logs/ (Postfix 3.7 lines in
 * the formats of TLSRPT-NOTES 2; each kind of defect, tlsproxy mode,
 * connection reuse, next MX, interleaved pids, rotation, exclusion of
 * report deliveries, next hop from the session cache, 3.10 TLSRPT: lines,
 * journal time stamps, expiry, year inference). In a fixture, "#=" lines
 * are the expected events in order, "#stats" the expected counters; other
 * "#" lines are comments.
 * TIME-*: mts_rpt_session_log_time(). BOUND-*: the pid table bound.
 */
#include "testutil.h"

#include <stdlib.h>
#include <time.h>

#include <mtasts/rpt_session.h>

#define NOW_MAR 1772388000 /* 2026-03-01T18:00:00Z */
#define NOW_JAN 1798762200 /* 2027-01-01T00:10:00Z */

static char *read_fixture(const char *name) {
  char path[4096];
  const char *here = __FILE__, *slash = strrchr(here, '/');
  FILE *fp;
  char *buf;
  long sz;

  assert_non_null(slash);
  assert_true(snprintf(path, sizeof(path), "%.*s/../fixtures/tlsrpt/logs/%s",
                       (int)(slash - here), here, name) > 0);
  fp = fopen(path, "rb");
  if (fp == NULL) {
    fail_msg("cannot open %s", path);
  }
  assert_int_equal(fseek(fp, 0, SEEK_END), 0);
  sz = ftell(fp);
  assert_true(sz >= 0);
  assert_int_equal(fseek(fp, 0, SEEK_SET), 0);
  buf = malloc((size_t)sz + 1);
  assert_non_null(buf);
  assert_int_equal(fread(buf, 1, (size_t)sz, fp), (size_t)sz);
  buf[sz] = '\0';
  fclose(fp);
  return buf;
}

#define MAXEV 16
struct got {
  size_t n;
  char ev[MAXEV][512];
  bool check_fields;
};

/* "<ISO time> S <domain>" or "<ISO time> F <domain> <type> <host> <ip>
 * <reason>" */
static void collect(const struct mts_rpt_event *ev, void *arg) {
  struct got *g = arg;
  char ts[32];
  struct tm tm;
  time_t t = (time_t)ev->time;
  char *b;

  assert_true(g->n < MAXEV);
  assert_int_equal(ev->source, MTS_RPT_SRC_LOG);
  assert_int_equal(ev->policy_type, MTS_RPT_POLICY_UNKNOWN);
  assert_null(ev->policy_strings);
  assert_null(ev->mx_hosts);
  assert_null(ev->tlsrpt_record);
  assert_string_equal(ev->policy_domain, ev->report_domain);
  assert_non_null(ev->session_id);
  assert_non_null(gmtime_r(&t, &tm));
  assert_true(strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm) > 0);
  b = g->ev[g->n++];
  if (ev->success) {
    assert_int_equal(ev->nfailures, 0);
    if (ev->unverified != NULL) {
      (void)snprintf(b, 512, "%s S %s unverified=%s %s %s", ts,
                     ev->policy_domain, ev->unverified->result_type,
                     ev->unverified->receiving_mx_hostname,
                     ev->unverified->receiving_ip);
    } else {
      (void)snprintf(b, 512, "%s S %s", ts, ev->policy_domain);
    }
  } else {
    const struct mts_rpt_failure *f = &ev->failures[0];

    assert_int_equal(ev->nfailures, 1);
    assert_null(ev->unverified);
    assert_int_equal(f->failed_session_count, 1);
    assert_null(f->receiving_mx_helo);
    (void)snprintf(b, 512, "%s F %s %s %s %s %s", ts, ev->policy_domain,
                   f->result_type,
                   f->receiving_mx_hostname ? f->receiving_mx_hostname : "-",
                   f->receiving_ip ? f->receiving_ip : "-",
                   f->failure_reason_code ? f->failure_reason_code : "-");
  }
}

struct fx {
  const char *files[3];
  int64_t now;
  int tz;
  const char *const *exclude;
  size_t nexclude;
};

static const char *const excl[] = {"tlsrpt@reports.test", "@rua.test"};

static const struct fx fxs[] = {
    {{"verified.log"}, NOW_MAR, 0, NULL, 0},
    {{"untrusted.log"}, NOW_MAR, 0, NULL, 0},
    {{"expired.log"}, NOW_MAR, 0, NULL, 0},
    {{"wrongname.log"}, NOW_MAR, 0, NULL, 0},
    {{"nostarttls.log"}, NOW_MAR, 0, NULL, 0},
    {{"sslconnect.log"}, NOW_MAR, 0, NULL, 0},
    {{"tlsproxy.log"}, NOW_MAR, 0, NULL, 0},
    {{"reuse.log"}, NOW_MAR, 0, NULL, 0},
    {{"nextmx.log"}, NOW_MAR, 0, NULL, 0},
    {{"interleaved.log"}, NOW_MAR, 0, NULL, 0},
    {{"rotation-1.log", "rotation-2.log"}, NOW_MAR, 0, NULL, 0},
    {{"exclude.log"}, NOW_MAR, 0, excl, 2},
    {{"nexthop.log"}, NOW_MAR, 0, NULL, 0},
    {{"plaintext.log"}, NOW_MAR, 0, NULL, 0},
    {{"tlsrpt310.log"}, NOW_MAR, 0, NULL, 0},
    {{"journal.log"}, NOW_MAR, 0, NULL, 0},
    {{"expiry.log"}, NOW_MAR, 0, NULL, 0},
    {{"newyear.log"}, NOW_JAN, 60, NULL, 0},
    {{"may.log"}, NOW_MAR, 0, NULL, 0},
    {{"twohosts.log"}, NOW_MAR, 0, NULL, 0},
    {{"retry.log"}, NOW_MAR, 0, NULL, 0},
};

static uint64_t stat_field(const struct mts_rpt_session_stats *st,
                           const char *name, size_t n) {
  static const struct {
    const char *name;
    size_t off;
  } fields[] = {
#define F_(x) {#x, offsetof(struct mts_rpt_session_stats, x)}
      F_(lines),    F_(tls_lines), F_(malformed), F_(sessions),
      F_(successes), F_(failures), F_(reused),    F_(unknown),
      F_(local),    F_(excluded),  F_(no_domain), F_(expired),
      F_(evicted),  F_(proxy_joined),
#undef F_
  };
  size_t i;

  for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
    if (strlen(fields[i].name) == n && memcmp(fields[i].name, name, n) == 0) {
      return *(const uint64_t *)(const void *)((const char *)st +
                                               fields[i].off);
    }
  }
  fail_msg("unknown stats field %.*s", (int)n, name);
  return 0;
}

/* Feed every line of \p text that does not start with '#'. */
static enum mts_status feed_text(struct mts_rpt_session *s, const char *text) {
  const char *p = text;

  while (*p != '\0') {
    const char *nl = strchr(p, '\n');
    size_t n = nl != NULL ? (size_t)(nl - p + 1) : strlen(p);

    if (p[0] != '#') {
      enum mts_status st = mts_rpt_session_feed_line(s, (const uint8_t *)p, n);

      if (st != MTS_OK) {
        return st;
      }
    }
    p += n;
  }
  return MTS_OK;
}

static void check_expectations(const char *id, const char *text,
                               const struct got *g, size_t *nexp,
                               const struct mts_rpt_session_stats *st) {
  const char *p = text;

  while (*p != '\0') {
    const char *nl = strchr(p, '\n');
    size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);

    if (n > 3 && memcmp(p, "#= ", 3) == 0) {
      if (*nexp >= g->n || strlen(g->ev[*nexp]) != n - 3 ||
          memcmp(g->ev[*nexp], p + 3, n - 3) != 0) {
        fail_msg("%s event %zu:\n got  %s\n want %.*s", id, *nexp,
                 *nexp < g->n ? g->ev[*nexp] : "(none)", (int)(n - 3), p + 3);
      }
      (*nexp)++;
    } else if (st != NULL && n > 7 && memcmp(p, "#stats ", 7) == 0) {
      const char *q = p + 7, *e = p + n;

      while (q < e) {
        const char *eq = memchr(q, '=', (size_t)(e - q));
        const char *sp = memchr(q, ' ', (size_t)(e - q));
        char *end;
        unsigned long long want;

        assert_non_null(eq);
        if (sp == NULL) {
          sp = e;
        }
        want = strtoull(eq + 1, &end, 10);
        assert_ptr_equal(end, sp);
        if (stat_field(st, q, (size_t)(eq - q)) != want) {
          fail_msg("%s: stats %.*s = %llu, want %llu", id, (int)(eq - q), q,
                   (unsigned long long)stat_field(st, q, (size_t)(eq - q)),
                   want);
        }
        q = sp < e ? sp + 1 : e;
      }
    }
    p += n + (nl != NULL ? 1 : 0);
  }
}

static void test_fixtures(void **state) {
  size_t i, j;

  (void)state;
  for (i = 0; i < sizeof(fxs) / sizeof(fxs[0]); i++) {
    const struct fx *f = &fxs[i];
    struct mts_test_alloc a;
    struct mts_ctx *ctx = mts_test_ctx(&a, 0);
    struct mts_rpt_session_cfg cfg;
    struct mts_rpt_session *s = NULL;
    struct mts_rpt_session_stats st;
    struct got g;
    char *texts[3] = {NULL, NULL, NULL};
    size_t nexp = 0;

    memset(&g, 0, sizeof(g));
    memset(&cfg, 0, sizeof(cfg));
    cfg.exclude = f->exclude;
    cfg.nexclude = f->nexclude;
    assert_int_equal(mts_rpt_session_create(ctx, &cfg, collect, &g, &s),
                     MTS_OK);
    mts_rpt_session_set_clock(s, f->now, f->tz);
    for (j = 0; j < 3 && f->files[j] != NULL; j++) {
      texts[j] = read_fixture(f->files[j]);
      assert_int_equal(feed_text(s, texts[j]), MTS_OK);
    }
    mts_rpt_session_flush(s);
    mts_rpt_session_stats(s, &st);
    for (j = 0; j < 3 && texts[j] != NULL; j++) {
      bool last = j == 2 || f->files[j + 1] == NULL;

      check_expectations(f->files[0], texts[j], &g, &nexp, last ? &st : NULL);
      free(texts[j]);
    }
    if (nexp != g.n) {
      fail_msg("%s: %zu events, want %zu (first extra: %s)", f->files[0], g.n,
               nexp, g.ev[nexp]);
    }
    mts_rpt_session_destroy(s);
    mts_ctx_destroy(ctx);
  }
}

/* The fields the fixture format does not show. */
static void fields(const struct mts_rpt_event *ev, void *arg) {
  struct got *g = arg;

  assert_true(g->n < MAXEV);
  (void)snprintf(g->ev[g->n++], 512, "%s|%s|%s",
                 ev->session_id, ev->success ? "-" :
                 ev->failures[0].sending_mta_ip ?
                 ev->failures[0].sending_mta_ip : "(null)",
                 ev->report_domain);
}

static void test_event_fields(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct mts_rpt_session_cfg cfg;
  struct mts_rpt_session *s = NULL;
  struct got g;
  char *t = read_fixture("nextmx.log");

  (void)state;
  memset(&g, 0, sizeof(g));
  memset(&cfg, 0, sizeof(cfg));
  cfg.sending_ip = "192.0.2.25";
  assert_int_equal(mts_rpt_session_create(ctx, &cfg, fields, &g, &s), MTS_OK);
  mts_rpt_session_set_clock(s, NOW_MAR, 0);
  assert_int_equal(feed_text(s, t), MTS_OK);
  mts_rpt_session_flush(s);
  assert_int_equal(g.n, 4);
  assert_string_equal(g.ev[0], "1772366880/multi.test/127.0.0.15|192.0.2.25|"
                               "multi.test");
  assert_string_equal(g.ev[1], "1772366881/multi.test/-|-|multi.test");
  assert_string_equal(g.ev[2], "1772366940/multi.test/127.0.0.12|192.0.2.25|"
                               "multi.test");
  free(t);
  mts_rpt_session_destroy(s);
  mts_ctx_destroy(ctx);
}

/* ---- time stamps ---- */

struct tvec {
  const char *id;
  struct mts_rpt_log_time t;
  int64_t now;
  int tz;
  int64_t want;
};

#define R3164(mo, d, h, mi, s)                                               \
  {MTS_RPT_LOG_TIME_RFC3164, 0, mo, d, h, mi, s, 0, false, 0, 0}

static const struct tvec tvecs[] = {
    {"TIME-same-year", R3164(3, 1, 12, 0, 0), NOW_MAR, 0, 1772366400},
    {"TIME-last-year", R3164(12, 31, 23, 59, 59), NOW_JAN, 0, 1798761599},
    {"TIME-next-year-skew", R3164(1, 1, 0, 0, 5), 1798761590, 0, 1798761605},
    {"TIME-tz-east", R3164(3, 1, 13, 0, 0), NOW_MAR, 60, 1772366400},
    {"TIME-tz-west", R3164(3, 1, 7, 0, 0), NOW_MAR, -300, 1772366400},
    /* Feb 29 read in 2029 (not leap): 2028 */
    {"TIME-feb29", R3164(2, 29, 0, 0, 0), 1867276800, 0, 1835395200},
    {"TIME-iso-zone",
     {MTS_RPT_LOG_TIME_ISO8601, 2026, 3, 1, 13, 0, 0, 0, true, 60, 1772366400},
     0, 0, 1772366400},
    {"TIME-iso-local",
     {MTS_RPT_LOG_TIME_ISO8601, 2026, 3, 1, 13, 0, 0, 0, false, 0, 0}, 0, 60,
     1772366400},
    {"TIME-none", {MTS_RPT_LOG_TIME_NONE, 0, 0, 0, 0, 0, 0, 0, false, 0, 0},
     42, 0, 42},
};

static void test_log_time(void **state) {
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(tvecs) / sizeof(tvecs[0]); i++) {
    int64_t got = mts_rpt_session_log_time(&tvecs[i].t, tvecs[i].now,
                                           tvecs[i].tz);

    if (got != tvecs[i].want) {
      fail_msg("%s: got %lld want %lld", tvecs[i].id, (long long)got,
               (long long)tvecs[i].want);
    }
  }
}

/* ---- bounds ---- */

static void test_bounded_pids(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct mts_rpt_session_cfg cfg;
  struct mts_rpt_session *s = NULL;
  struct mts_rpt_session_stats st;
  struct got g;
  char line[512];
  int i;

  (void)state;
  memset(&g, 0, sizeof(g));
  memset(&cfg, 0, sizeof(cfg));
  cfg.max_pids = 4;
  assert_int_equal(mts_rpt_session_create(ctx, &cfg, collect, &g, &s), MTS_OK);
  mts_rpt_session_set_clock(s, NOW_MAR, 0);
  /* BOUND-1: 10 pids with a session lookup and a verified summary, no
   * status line: 6 are evicted (emitted: the next hop is known), the
   * last 4 are closed by flush. */
  for (i = 0; i < 10; i++) {
    int n = snprintf(line, sizeof(line),
                     "Mar  1 12:00:0%d h postfix/smtp[%d]: looking for "
                     "session smtp&d%d.test&mx.d%d.test&127.0.0.11&&AB in "
                     "smtp cache\n",
                     i, 100 + i, i, i);

    assert_int_equal(mts_rpt_session_feed_line(s, (const uint8_t *)line,
                                               (size_t)n),
                     MTS_OK);
    n = snprintf(line, sizeof(line),
                 "Mar  1 12:00:0%d h postfix/smtp[%d]: Verified TLS "
                 "connection established to mx.d%d.test[127.0.0.11]:25: "
                 "TLSv1.3 with cipher X (256/256 bits)\n",
                 i, 100 + i, i);
    assert_int_equal(mts_rpt_session_feed_line(s, (const uint8_t *)line,
                                               (size_t)n),
                     MTS_OK);
  }
  mts_rpt_session_stats(s, &st);
  assert_int_equal(st.evicted, 6);
  assert_int_equal(g.n, 6);
  assert_string_equal(g.ev[0], "2026-03-01T12:00:00Z S d0.test");
  mts_rpt_session_flush(s);
  assert_int_equal(g.n, 10);
  for (i = 0; i < 10; i++) { /* each once; flush goes in table order */
    int k, hits = 0;

    (void)snprintf(line, sizeof(line), "2026-03-01T12:00:0%dZ S d%d.test", i,
                   i);
    for (k = 0; k < 10; k++) {
      hits += strcmp(g.ev[k], line) == 0;
    }
    assert_int_equal(hits, 1);
  }
  mts_rpt_session_destroy(s);
  mts_ctx_destroy(ctx);
}

static void test_bad_args(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct mts_rpt_session_cfg cfg;
  struct mts_rpt_session *s = NULL;
  static const char *const empty[] = {""};
  struct got g;

  (void)state;
  memset(&cfg, 0, sizeof(cfg));
  cfg.exclude = empty;
  cfg.nexclude = 1;
  assert_int_equal(mts_rpt_session_create(ctx, &cfg, collect, &g, &s),
                   MTS_EINVAL);
  assert_null(s);
  assert_int_equal(mts_rpt_session_create(ctx, NULL, NULL, &g, &s),
                   MTS_EINVAL);
  assert_int_equal(mts_rpt_session_create(NULL, NULL, collect, &g, &s),
                   MTS_EINVAL);
  assert_int_equal(mts_rpt_session_feed(NULL, NULL), MTS_EINVAL);
  mts_rpt_session_destroy(NULL);
  mts_rpt_session_flush(NULL);
  mts_ctx_destroy(ctx);
}

/* ---- allocation sweep over all fixtures ---- */

static void ignore(const struct mts_rpt_event *ev, void *arg) {
  (void)ev;
  (void)arg;
}

static enum mts_status sweep_op(struct mts_ctx *ctx, void *arg) {
  const char *const *texts = arg;
  struct mts_rpt_session_cfg cfg;
  struct mts_rpt_session *s = NULL;
  enum mts_status st;
  size_t i;

  memset(&cfg, 0, sizeof(cfg));
  cfg.exclude = excl;
  cfg.nexclude = 2;
  cfg.sending_ip = "192.0.2.1";
  cfg.max_pids = 16;
  st = mts_rpt_session_create(ctx, &cfg, ignore, NULL, &s);
  if (st != MTS_OK) {
    return st;
  }
  mts_rpt_session_set_clock(s, NOW_MAR, 0);
  for (i = 0; texts[i] != NULL && st == MTS_OK; i++) {
    st = feed_text(s, texts[i]);
  }
  mts_rpt_session_flush(s);
  mts_rpt_session_destroy(s);
  return st;
}

static void test_alloc_sweep(void **state) {
  const char *names[] = {"tlsproxy.log", "nextmx.log", "interleaved.log",
                         "exclude.log"};
  char *texts[5] = {NULL};
  size_t i;

  (void)state;
  for (i = 0; i < 4; i++) {
    texts[i] = read_fixture(names[i]);
  }
  assert_true(mts_test_alloc_sweep(sweep_op, texts) > 0);
  for (i = 0; i < 4; i++) {
    free(texts[i]);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fixtures),   cmocka_unit_test(test_event_fields),
      cmocka_unit_test(test_log_time),   cmocka_unit_test(test_bounded_pids),
      cmocka_unit_test(test_bad_args),   cmocka_unit_test(test_alloc_sweep),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
