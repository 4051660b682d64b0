/*
 * test_rpt_merge.c - merging the reports of several hosts (issue 6,
 * rpt_merge.h):
 * - CASES: table of reports (JSON, parsed) merged; the result is
 *   compared exactly through a one-line description of every policy and
 *   failure detail (keys, sums, order of first appearance) and the
 *   identity (first report's, or the override);
 * - SAT: sums capped at 2^53 with the saturated flag;
 * - EINVAL: bad arguments;
 * - RT: the merged report is written and parses back valid;
 * - an allocation-failure sweep.
 */
#include "testutil.h"

#include <stdlib.h>

#include <mtasts/rpt_merge.h>
#include <mtasts/rpt_report.h>
#include <mtasts/rpt_report_write.h>

#define HEAD(org, rid)                                                         \
  "{\"organization-name\":\"" org "\",\"date-range\":{\"start-datetime\":"    \
  "\"2026-11-27T00:00:00Z\",\"end-datetime\":\"2026-11-27T23:59:59Z\"},"     \
  "\"contact-info\":\"tlsrpt@" org ".example\",\"report-id\":\"" rid "\","   \
  "\"policies\":["
#define TAIL "]}"
#define POL(type, strs, dom, mx, ok, bad, fails)                               \
  "{\"policy\":{\"policy-type\":\"" type "\",\"policy-string\":[" strs        \
  "],\"policy-domain\":\"" dom "\",\"mx-host\":[" mx "]},\"summary\":{"      \
  "\"total-successful-session-count\":" ok                                    \
  ",\"total-failure-session-count\":" bad "},\"failure-details\":[" fails "]}"
#define FAIL(rt, ip, rip, n)                                                   \
  "{\"result-type\":\"" rt "\",\"sending-mta-ip\":\"" ip                     \
  "\",\"receiving-mx-hostname\":\"mx.example.com\",\"receiving-ip\":\"" rip  \
  "\",\"failed-session-count\":" n "}"
#define FAILRC(rt, ip, rip, n, rc)                                             \
  "{\"result-type\":\"" rt "\",\"sending-mta-ip\":\"" ip                     \
  "\",\"receiving-mx-hostname\":\"mx.example.com\",\"receiving-ip\":\"" rip  \
  "\",\"failed-session-count\":" n ",\"failure-reason-code\":\"" rc "\"}"
#define S1 "\"version: STSv1\",\"mode: enforce\""
#define S1R "\"mode: enforce\",\"version: STSv1\""
#define MX1 "\"mx.example.com\""
#define MX2 "\"mx.example.com\",\"*.example.net\""
#define MX2R "\"*.example.net\",\"mx.example.com\""

struct tcase {
  const char *name;
  const char *in[4]; /* NULL-terminated */
  struct mts_rpt_merge_override ovr;
  bool use_ovr;
  const char *want; /* describe() of the result */
};

static const struct tcase cases[] = {
    {"single",
     {HEAD("a", "ra") POL("sts", S1, "example.com", MX1, "5", "1",
                          FAIL("certificate-expired", "192.0.2.1",
                               "198.51.100.1", "1")) TAIL,
      NULL},
     {NULL, NULL, NULL},
     false,
     "a|tlsrpt@a.example|ra|1795737600-1795823999\n"
     "sts example.com [version: STSv1|mode: enforce] [mx.example.com] 5/1\n"
     " certificate-expired 192.0.2.1 mx.example.com - 198.51.100.1 - - =1\n"},
    {"two hosts, same policy: sums, details merged and appended",
     {HEAD("a", "ra") POL("sts", S1, "example.com", MX1, "5", "2",
                          FAIL("certificate-expired", "192.0.2.1",
                               "198.51.100.1", "1") ","
                          FAIL("validation-failure", "192.0.2.1",
                               "198.51.100.1", "1")) TAIL,
      HEAD("b", "rb") POL("sts", S1, "example.com", MX1, "7", "3",
                          FAIL("certificate-expired", "192.0.2.2",
                               "198.51.100.1", "1") ","
                          FAIL("certificate-expired", "192.0.2.1",
                               "198.51.100.1", "2")) TAIL,
      NULL},
     {NULL, NULL, NULL},
     false,
     "a|tlsrpt@a.example|ra|1795737600-1795823999\n"
     "sts example.com [version: STSv1|mode: enforce] [mx.example.com] 12/5\n"
     " certificate-expired 192.0.2.1 mx.example.com - 198.51.100.1 - - =3\n"
     " validation-failure 192.0.2.1 mx.example.com - 198.51.100.1 - - =1\n"
     " certificate-expired 192.0.2.2 mx.example.com - 198.51.100.1 - - =1\n"},
    {"policy strings and mx hosts compared in order",
     {HEAD("a", "ra") POL("sts", S1, "example.com", MX2, "1", "0", "") TAIL,
      HEAD("b", "rb") POL("sts", S1R, "example.com", MX2, "2", "0", "") ","
                          POL("sts", S1, "example.com", MX2R, "3", "0",
                              "") "," POL("sts", S1, "example.com", MX2,
                                          "4", "0", "") TAIL,
      NULL},
     {NULL, NULL, NULL},
     false,
     "a|tlsrpt@a.example|ra|1795737600-1795823999\n"
     "sts example.com [version: STSv1|mode: enforce] "
     "[mx.example.com|*.example.net] 5/0\n"
     "sts example.com [mode: enforce|version: STSv1] "
     "[mx.example.com|*.example.net] 2/0\n"
     "sts example.com [version: STSv1|mode: enforce] "
     "[*.example.net|mx.example.com] 3/0\n"},
    {"type and domain distinguish; reason code distinguishes details",
     {HEAD("a", "ra") POL("sts", S1, "example.com", MX1, "1", "1",
                          FAILRC("validation-failure", "192.0.2.1",
                                 "198.51.100.1", "1", "X")) TAIL,
      HEAD("b", "rb") POL("tlsa", "\"3 1 1 AB\"", "example.com", MX1, "1",
                          "0", "") ","
                          POL("sts", S1, "example.org", MX1, "1", "0",
                              "") ","
                          POL("sts", S1, "example.com", MX1, "1", "2",
                              FAILRC("validation-failure", "192.0.2.1",
                                     "198.51.100.1", "1", "Y") ","
                              FAIL("validation-failure", "192.0.2.1",
                                   "198.51.100.1", "1")) TAIL,
      HEAD("c", "rc") POL("sts", S1, "example.com", MX1, "1", "1",
                          FAILRC("validation-failure", "192.0.2.1",
                                 "198.51.100.1", "4", "X")) TAIL,
      NULL},
     {NULL, NULL, NULL},
     false,
     "a|tlsrpt@a.example|ra|1795737600-1795823999\n"
     "sts example.com [version: STSv1|mode: enforce] [mx.example.com] 3/4\n"
     " validation-failure 192.0.2.1 mx.example.com - 198.51.100.1 - X =5\n"
     " validation-failure 192.0.2.1 mx.example.com - 198.51.100.1 - Y =1\n"
     " validation-failure 192.0.2.1 mx.example.com - 198.51.100.1 - - =1\n"
     "tlsa example.com [3 1 1 AB] [mx.example.com] 1/0\n"
     "sts example.org [version: STSv1|mode: enforce] [mx.example.com] 1/0\n"},
    {"override of the identity",
     {HEAD("a", "ra") POL("sts", S1, "example.com", MX1, "1", "0", "") TAIL,
      HEAD("b", "rb") POL("sts", S1, "example.com", MX1, "1", "0", "") TAIL,
      NULL},
     {"Fleet Org", "mailto:tls@fleet.example", "rid@fleet.example"},
     true,
     "Fleet Org|mailto:tls@fleet.example|rid@fleet.example|"
     "1795737600-1795823999\n"
     "sts example.com [version: STSv1|mode: enforce] [mx.example.com] 2/0\n"},
    {"partial override keeps the rest",
     {HEAD("a", "ra") POL("sts", S1, "example.com", MX1, "1", "0", "") TAIL,
      NULL},
     {NULL, NULL, "new-id"},
     true,
     "a|tlsrpt@a.example|new-id|1795737600-1795823999\n"
     "sts example.com [version: STSv1|mode: enforce] [mx.example.com] 1/0\n"},
};

/* Append to a growing description. */
struct desc {
  char buf[4096];
  size_t len;
};

static void put(struct desc *d, const char *fmt, ...) MTS_PRINTF(2, 3);
static void put(struct desc *d, const char *fmt, ...) {
  va_list ap;
  int n;

  va_start(ap, fmt);
  n = vsnprintf(d->buf + d->len, sizeof(d->buf) - d->len, fmt, ap);
  va_end(ap);
  assert_true(n >= 0 && (size_t)n < sizeof(d->buf) - d->len);
  d->len += (size_t)n;
}

#define OR_DASH(s) ((s) != NULL ? (s) : "-")

static void describe(const struct mts_rpt_report_data *r, struct desc *d) {
  size_t i, j;

  d->len = 0;
  d->buf[0] = '\0';
  put(d, "%s|%s|%s|%lld-%lld\n", OR_DASH(r->organization_name),
      OR_DASH(r->contact_info), OR_DASH(r->report_id), (long long)r->start,
      (long long)r->end);
  for (i = 0; i < r->npolicies; i++) {
    const struct mts_rpt_policy *p = &r->policies[i];

    put(d, "%s %s [", p->policy_type, p->policy_domain);
    for (j = 0; j < p->npolicy_strings; j++) {
      put(d, "%s%s", j > 0 ? "|" : "", p->policy_strings[j]);
    }
    put(d, "] [");
    for (j = 0; j < p->nmx_hosts; j++) {
      put(d, "%s%s", j > 0 ? "|" : "", p->mx_hosts[j]);
    }
    put(d, "] %llu/%llu\n", (unsigned long long)p->total_successful,
        (unsigned long long)p->total_failure);
    for (j = 0; j < p->nfailures; j++) {
      const struct mts_rpt_failure *f = &p->failures[j];

      put(d, " %s %s %s %s %s %s %s =%llu\n", f->result_type,
          OR_DASH(f->sending_mta_ip), OR_DASH(f->receiving_mx_hostname),
          OR_DASH(f->receiving_mx_helo), OR_DASH(f->receiving_ip),
          OR_DASH(f->additional_information), OR_DASH(f->failure_reason_code),
          (unsigned long long)f->failed_session_count);
    }
  }
}

/* Parse the case's inputs, merge, and hand out the result. */
static enum mts_status merge_case(struct mts_ctx *ctx, const struct tcase *c,
                                  struct mts_rpt_merge **out) {
  struct mts_rpt_report *r[4] = {NULL, NULL, NULL, NULL};
  const struct mts_rpt_report_data *d[4];
  enum mts_status st = MTS_OK;
  size_t n;

  *out = NULL;
  for (n = 0; c->in[n] != NULL; n++) {
    st = mts_rpt_report_parse(ctx, (const uint8_t *)c->in[n],
                              strlen(c->in[n]), &r[n]);
    if (st != MTS_OK) {
      break;
    }
    if (!mts_rpt_report_valid(r[n])) {
      fail_msg("%s: input %zu not valid", c->name, n);
    }
    d[n] = mts_rpt_report_data(r[n]);
  }
  if (st == MTS_OK) {
    st = mts_rpt_merge(ctx, d, n, c->use_ovr ? &c->ovr : NULL, out);
  }
  for (n = 0; n < 4; n++) {
    mts_rpt_report_destroy(r[n]); /* the result must not borrow from them */
  }
  return st;
}

static void test_cases(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct mts_rpt_merge *m = NULL;
    struct desc d;

    assert_int_equal(merge_case(ctx, &cases[i], &m), MTS_OK);
    describe(mts_rpt_merge_data(m), &d);
    if (strcmp(d.buf, cases[i].want) != 0) {
      fail_msg("%s:\ngot:\n%swant:\n%s", cases[i].name, d.buf, cases[i].want);
    }
    assert_false(mts_rpt_merge_saturated(m));
    mts_rpt_merge_destroy(m);
  }
  mts_ctx_destroy(ctx);
}

/* Every merged report is written and parses back valid, same text. */
static void test_round_trip(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct mts_rpt_merge *m = NULL;
    struct mts_rpt_report *r = NULL;
    char *json = NULL;
    size_t len = 0;
    struct desc d1, d2;

    assert_int_equal(merge_case(ctx, &cases[i], &m), MTS_OK);
    assert_int_equal(
        mts_rpt_report_write_json(ctx, mts_rpt_merge_data(m), &json, &len),
        MTS_OK);
    assert_int_equal(mts_rpt_report_parse(ctx, (const uint8_t *)json, len, &r),
                     MTS_OK);
    assert_true(mts_rpt_report_valid(r));
    describe(mts_rpt_merge_data(m), &d1);
    describe(mts_rpt_report_data(r), &d2);
    assert_string_equal(d1.buf, d2.buf);
    mts_rpt_report_destroy(r);
    mts_rpt_report_write_free(ctx, json);
    mts_rpt_merge_destroy(m);
  }
  mts_ctx_destroy(ctx);
}

static void test_saturation(void **state) {
  static const struct {
    uint64_t a, b, want;
    bool sat;
  } t[] = {
      {1, 2, 3, false},
      {MTS_RPT_MERGE_COUNT_MAX - 1, 1, MTS_RPT_MERGE_COUNT_MAX, false},
      {MTS_RPT_MERGE_COUNT_MAX, 1, MTS_RPT_MERGE_COUNT_MAX, true},
      {MTS_RPT_MERGE_COUNT_MAX, MTS_RPT_MERGE_COUNT_MAX,
       MTS_RPT_MERGE_COUNT_MAX, true},
      {UINT64_MAX, 0, MTS_RPT_MERGE_COUNT_MAX, true},
      {0, UINT64_MAX, MTS_RPT_MERGE_COUNT_MAX, true},
  };
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
    struct mts_rpt_failure f[2] = {{0}, {0}};
    struct mts_rpt_policy p[2] = {{0}, {0}};
    struct mts_rpt_report_data r[2] = {{0}, {0}};
    const struct mts_rpt_report_data *rs[2] = {&r[0], &r[1]};
    const struct mts_rpt_report_data *d;
    struct mts_rpt_merge *m = NULL;
    size_t k;

    for (k = 0; k < 2; k++) {
      f[k].result_type = "starttls-not-supported";
      f[k].failed_session_count = k == 0 ? t[i].a : t[i].b;
      p[k].policy_type = "no-policy-found";
      p[k].policy_domain = "example.com";
      p[k].total_successful = k == 0 ? t[i].a : t[i].b;
      p[k].total_failure = 7;
      p[k].failures = &f[k];
      p[k].nfailures = 1;
      r[k].report_id = "x";
      r[k].organization_name = "o";
      r[k].policies = &p[k];
      r[k].npolicies = 1;
    }
    assert_int_equal(mts_rpt_merge(ctx, rs, 2, NULL, &m), MTS_OK);
    d = mts_rpt_merge_data(m);
    assert_int_equal(d->npolicies, 1);
    assert_int_equal(d->policies[0].total_successful, t[i].want);
    assert_int_equal(d->policies[0].total_failure, 14);
    assert_int_equal(d->policies[0].nfailures, 1);
    assert_int_equal(d->policies[0].failures[0].failed_session_count,
                     t[i].want);
    assert_int_equal(mts_rpt_merge_saturated(m), t[i].sat);
    assert_null(d->contact_info);
    mts_rpt_merge_destroy(m);
  }
  mts_ctx_destroy(ctx);
}

static void test_einval(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct mts_rpt_report_data r = {0}, bad = {0};
  struct mts_rpt_policy p = {0};
  const struct mts_rpt_report_data *rs[2] = {&r, NULL};
  const struct mts_rpt_report_data *rb[1] = {&bad};
  const struct mts_rpt_report_data *rp[1] = {&r};
  struct mts_rpt_merge *m = (struct mts_rpt_merge *)&r;

  (void)state;
  assert_int_equal(mts_rpt_merge(NULL, rs, 1, NULL, &m), MTS_EINVAL);
  assert_null(m);
  assert_int_equal(mts_rpt_merge(ctx, NULL, 1, NULL, &m), MTS_EINVAL);
  assert_int_equal(mts_rpt_merge(ctx, rs, 0, NULL, &m), MTS_EINVAL);
  assert_int_equal(mts_rpt_merge(ctx, rs, 1, NULL, NULL), MTS_EINVAL);
  assert_int_equal(mts_rpt_merge(ctx, rs, 2, NULL, &m), MTS_EINVAL);
  bad.npolicies = 1; /* policies NULL */
  assert_int_equal(mts_rpt_merge(ctx, rb, 1, NULL, &m), MTS_EINVAL);
  p.nfailures = 1; /* failures NULL */
  r.policies = &p;
  r.npolicies = 1;
  assert_int_equal(mts_rpt_merge(ctx, rp, 1, NULL, &m), MTS_EINVAL);
  assert_null(m);
  /* no policies at all is fine (the writer refuses it later) */
  r.npolicies = 0;
  assert_int_equal(mts_rpt_merge(ctx, rp, 1, NULL, &m), MTS_OK);
  assert_int_equal(mts_rpt_merge_data(m)->npolicies, 0);
  mts_rpt_merge_destroy(m);
  assert_null(mts_rpt_merge_data(NULL));
  assert_false(mts_rpt_merge_saturated(NULL));
  mts_rpt_merge_destroy(NULL);
  mts_ctx_destroy(ctx);
}

static enum mts_status sweep_op(struct mts_ctx *ctx, void *arg) {
  const struct tcase *c = arg;
  struct mts_rpt_merge *m = NULL;
  enum mts_status st = merge_case(ctx, c, &m);

  if (st == MTS_OK) {
    struct desc d;

    describe(mts_rpt_merge_data(m), &d);
    assert_string_equal(d.buf, c->want);
  }
  mts_rpt_merge_destroy(m);
  return st;
}

static void test_alloc_sweep(void **state) {
  struct tcase c3 = cases[3], c4 = cases[4];

  (void)state;
  assert_true(mts_test_alloc_sweep(sweep_op, &c3) > 10);
  assert_true(mts_test_alloc_sweep(sweep_op, &c4) > 5);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cases),     cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_saturation), cmocka_unit_test(test_einval),
      cmocka_unit_test(test_alloc_sweep),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
