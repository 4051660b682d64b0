/*
 * test_rpt_event.c - events from libtlsrpt datagrams
 * (mts_rpt_event_from_datagram) and the session id.
 *
 * DG-*: every file of tests/fixtures/tlsrpt/datagrams/ (layouts of
 * TLSRPT-NOTES 1.2: libtlsrpt 0.5.0rc1 without dpv, 0.5.0 with dpv,
 * Postfix 3.10.0-3.10.4 without policy-domain, 3.10.5+ with it, TLSA,
 * unknown codes, raw non-UTF-8 bytes, contradictions libtlsrpt passes
 * through, hostile input) with the exact events expected.
 * SID-*: mts_rpt_event_session_id().
 */
#include "testutil.h"

#include <stdlib.h>

#include <mtasts/rpt_event.h>

/* tests/unit/ -> tests/fixtures/tlsrpt/datagrams/ */
static uint8_t *read_dgram(const char *name, size_t *len) {
  char path[4096];
  const char *here = __FILE__, *slash = strrchr(here, '/');
  FILE *fp;
  uint8_t *buf;
  long sz;

  assert_non_null(slash);
  assert_true(snprintf(path, sizeof(path),
                       "%.*s/../fixtures/tlsrpt/datagrams/%s",
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
  fclose(fp);
  *len = (size_t)sz;
  return buf;
}

#define MAXEV 8
struct got {
  size_t n;
  char ev[MAXEV][1024];
};

static const char *nz(const char *s) { return s != NULL ? s : "-"; }

/* "<type> <policy domain> <report domain> S|F nps=N nmx=N
 *  [<rt>|<host>|<ip>|<reason>|<sending ip>|<helo>|<info>|<count>]...
 *  rec=<tlsrpt record> sid=<id>" */
static void collect(const struct mts_rpt_event *ev, void *arg) {
  struct got *g = arg;
  char *b;
  size_t i, n;

  assert_true(g->n < MAXEV);
  assert_int_equal(ev->source, MTS_RPT_SRC_DATAGRAM);
  b = g->ev[g->n++];
  n = (size_t)snprintf(b, 1024, "%s %s %s %c nps=%zu nmx=%zu",
                       nz(mts_rpt_datagram_policy_type_str(ev->policy_type)),
                       ev->policy_domain, nz(ev->report_domain),
                       ev->success ? 'S' : 'F', ev->npolicy_strings,
                       ev->nmx_hosts);
  for (i = 0; i < ev->nfailures; i++) {
    const struct mts_rpt_failure *f = &ev->failures[i];

    n += (size_t)snprintf(b + n, 1024 - n, " [%s|%s|%s|%s|%s|%s|%s|%llu]",
                          f->result_type, nz(f->receiving_mx_hostname),
                          nz(f->receiving_ip), nz(f->failure_reason_code),
                          nz(f->sending_mta_ip),
                          nz(f->receiving_mx_helo),
                          nz(f->additional_information),
                          (unsigned long long)f->failed_session_count);
  }
  (void)snprintf(b + n, 1024 - n, " rec=%s sid=%s", nz(ev->tlsrpt_record),
                 nz(ev->session_id));
}

struct dvec {
  const char *file;
  enum mts_status want;
  const char *ev[3];
};

#define T0 1772366400 /* 2026-03-01T12:00:00Z */
#define T0S "1772366400"

static const struct dvec dvecs[] = {
    {"sts-failure-0.5.0.json",
     MTS_OK,
     {"sts example.com example.com F nps=4 nmx=1 [validation-failure|"
      "mail.example.com|198.51.100.7|self-signed_certificate|192.0.2.1|"
      "mail.example.com|-"
      "|1] rec=v=TLSRPTv1; rua=mailto:tlsrpt@example.com sid=" T0S
      "/example.com/198.51.100.7"}},
    {"npf-success-0.5.0rc1.json",
     MTS_OK,
     {"no-policy-found example.org example.org S nps=0 nmx=0 "
      "rec=v=TLSRPTv1; rua=mailto:tlsrpt@example.org sid=" T0S
      "/example.org/-"}},
    {"npf-success-3.10.5.json",
     MTS_OK,
     {"no-policy-found example.org example.org S nps=0 nmx=0 "
      "rec=v=TLSRPTv1; rua=mailto:tlsrpt@example.org sid=" T0S
      "/example.org/-"}},
    {"tlsa-failure.json",
     MTS_OK,
     {"tlsa mx.dane-host.test dane.test F nps=1 nmx=0 [tlsa-invalid|"
      "mx.dane-host.test|2001:db8::25|all-TLSA-records-unusable|-|"
      "mx.dane-host.test|-|1] "
      "rec=v=TLSRPTv1;rua=mailto:rua@dane.test sid=" T0S
      "/dane.test/2001:db8::25"}},
    {"sts-expired.json",
     MTS_OK,
     {"sts expired.test expired.test F nps=4 nmx=1 [certificate-expired|"
      "mx.expired.test|127.0.0.15|-|127.0.0.1|mx.expired.test|-|1] "
      "rec=v=TLSRPTv1; rua=mailto:r@expired.test sid=" T0S
      "/expired.test/127.0.0.15"}},
    {"sts-starttls.json",
     MTS_OK,
     {"sts nostarttls.test nostarttls.test F nps=4 nmx=1 "
      "[starttls-not-supported|mx.nostarttls.test|127.0.0.12|-|127.0.0.1|"
      "mx.nostarttls.test|-|1] rec=v=TLSRPTv1; rua=mailto:r@nostarttls.test sid=" T0S
      "/nostarttls.test/127.0.0.12"}},
    {"unknown-codes.json",
     MTS_OK,
     {"sts odd.test odd.test F nps=0 nmx=0 [validation-failure|mx.odd.test|"
      "192.0.2.9|tlsrpt-code-299 future-thing|-|-|-|1] "
      "[validation-failure|-|-|tlsrpt-code-901|-|-|-|1] "
      "rec=v=TLSRPTv1; rua=mailto:r@odd.test sid=" T0S
      "/odd.test/192.0.2.9"}},
    {"invalid-utf8.json",
     MTS_OK,
     {"sts utf.test utf.test F nps=0 nmx=0 [certificate-not-trusted|"
      "mx.utf.test|192.0.2.10|tlsrpt-code-203|-|-|caf\xef\xbf\xbd \xef\xbf\xbd|1] "
      "rec=v=TLSRPTv1; rua=mailto:r@utf.test sid=" T0S
      "/utf.test/192.0.2.10"}},
    {"success-with-details.json",
     MTS_OK,
     {"sts contra.test contra.test S nps=0 nmx=0 "
      "rec=v=TLSRPTv1; rua=mailto:r@contra.test sid=" T0S "/contra.test/-"}},
    {"failure-without-details.json",
     MTS_OK,
     {"sts bare.test bare.test F nps=0 nmx=0 "
      "rec=v=TLSRPTv1; rua=mailto:r@bare.test sid=" T0S "/bare.test/-"}},
    {"two-policies-extra-key.json",
     MTS_OK,
     {"sts two.test two.test S nps=4 nmx=1 rec=v=TLSRPTv1; "
      "rua=mailto:r@two.test sid=" T0S "/two.test/-",
      "no-policy-found two.test two.test S nps=0 nmx=0 rec=v=TLSRPTv1; "
      "rua=mailto:r@two.test sid=" T0S "/two.test/-"}},
    {"sts-fetch-error.json",
     MTS_OK,
     {"sts sts.test sts.test F nps=0 nmx=0 [sts-policy-fetch-error|-|-|-|-|-"
      "|-|1] rec=v=TLSRPTv1; rua=mailto:r@sts.test sid=" T0S "/sts.test/-"}},
    /* a valid chain with the wrong name: 202 from Postfix 3.10.4, 203
     * before (TLSRPT-NOTES 1.5 "Version differences") */
    {"sts-mismatch-3.10.4.json",
     MTS_OK,
     {"sts e2e-wrongname.test e2e-wrongname.test F nps=4 nmx=1 "
      "[certificate-host-mismatch|mail.e2e-wrongname.test|127.0.0.115|-|"
      "127.0.0.2|mail.e2e-wrongname.test|-|1] rec=v=TLSRPTv1; rua=mailto:r@e2e-wrongname.test "
      "sid=" T0S "/e2e-wrongname.test/127.0.0.115"}},
    {"sts-mismatch-3.10.3.json",
     MTS_OK,
     {"sts e2e-wrongname.test e2e-wrongname.test F nps=4 nmx=1 "
      "[certificate-not-trusted|mail.e2e-wrongname.test|127.0.0.115|"
      "tlsrpt-code-203|127.0.0.2|mail.e2e-wrongname.test|-|1] rec=v=TLSRPTv1; rua=mailto:r@e2e-wrongname.test "
      "sid=" T0S "/e2e-wrongname.test/127.0.0.115"}},
    /* RFC 5952 IPv6 text (lower case, zeros compressed), the session id
     * from it; the name out of an EHLO reply, a bare name kept, a reply
     * without a name left out (an RFC 8460 review: the whole multi-line
     * reply went out as receiving-mx-helo) */
    {"ipv6-helo-forms.json",
     MTS_OK,
     {"sts v6.test v6.test F nps=0 nmx=0 [certificate-not-trusted|mx.v6.test|"
      "2001:db8::25|tlsrpt-code-203|2001:db8::1|mx.v6.test|-|1] "
      "[certificate-not-trusted|mx.v6.test|2001:db8::25|tlsrpt-code-203|"
      "192.0.2.1|mx.v6.test|-|1] [certificate-not-trusted|mx.v6.test|"
      "2001:db8::25|tlsrpt-code-203|-|-|-|1] "
      "rec=v=TLSRPTv1; rua=mailto:r@v6.test sid=" T0S "/v6.test/2001:db8::25"}},
    {"bad-no-policies.json", MTS_EINVAL, {NULL}},
    {"bad-no-d.json", MTS_EINVAL, {NULL}},
    {"bad-garbage.bin", MTS_EINVAL, {NULL}},
    {"bad-policy-type.json", MTS_EINVAL, {NULL}},
};

static void test_datagrams(void **state) {
  size_t i, j;

  (void)state;
  for (i = 0; i < sizeof(dvecs) / sizeof(dvecs[0]); i++) {
    const struct dvec *v = &dvecs[i];
    struct mts_test_alloc a;
    struct mts_ctx *ctx = mts_test_ctx(&a, 0);
    struct mts_rpt_datagram *dg = NULL;
    struct got g;
    size_t len;
    uint8_t *data = read_dgram(v->file, &len);

    memset(&g, 0, sizeof(g));
    assert_int_equal(mts_rpt_datagram_parse(ctx, data, len, &dg), MTS_OK);
    if (mts_rpt_event_from_datagram(ctx, dg, T0, collect, &g) != v->want) {
      fail_msg("%s: unexpected status", v->file);
    }
    for (j = 0; j < 3 && v->ev[j] != NULL; j++) {
      if (j >= g.n || strcmp(g.ev[j], v->ev[j]) != 0) {
        fail_msg("%s event %zu:\n got  %s\n want %s", v->file, j,
                 j < g.n ? g.ev[j] : "(none)", v->ev[j]);
      }
    }
    if (g.n != j) {
      fail_msg("%s: %zu events, want %zu", v->file, g.n, j);
    }
    mts_rpt_datagram_destroy(dg);
    mts_ctx_destroy(ctx);
    free(data);
  }
}

static void test_bad_args(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct mts_rpt_datagram *dg = NULL;
  struct got g;
  size_t len;
  uint8_t *data = read_dgram("sts-expired.json", &len);

  (void)state;
  memset(&g, 0, sizeof(g));
  assert_int_equal(mts_rpt_datagram_parse(ctx, data, len, &dg), MTS_OK);
  assert_int_equal(mts_rpt_event_from_datagram(NULL, dg, 0, collect, &g),
                   MTS_EINVAL);
  assert_int_equal(mts_rpt_event_from_datagram(ctx, NULL, 0, collect, &g),
                   MTS_EINVAL);
  assert_int_equal(mts_rpt_event_from_datagram(ctx, dg, 0, NULL, &g),
                   MTS_EINVAL);
  assert_int_equal(g.n, 0);
  mts_rpt_datagram_destroy(dg);
  mts_ctx_destroy(ctx);
  free(data);
}

/* ---- allocation sweep: every event-building allocation may fail ---- */

struct sweep_arg {
  const char *file;
};

static void ignore(const struct mts_rpt_event *ev, void *arg) {
  (void)ev;
  (void)arg;
}

static enum mts_status sweep_op(struct mts_ctx *ctx, void *arg) {
  struct sweep_arg *s = arg;
  struct mts_rpt_datagram *dg = NULL;
  size_t len;
  uint8_t *data = read_dgram(s->file, &len);
  enum mts_status st = mts_rpt_datagram_parse(ctx, data, len, &dg);

  free(data);
  if (st != MTS_OK) {
    return st;
  }
  st = mts_rpt_event_from_datagram(ctx, dg, T0, ignore, NULL);
  mts_rpt_datagram_destroy(dg);
  return st;
}

static void test_alloc_sweep(void **state) {
  static const char *const files[] = {"sts-failure-0.5.0.json",
                                      "unknown-codes.json",
                                      "two-policies-extra-key.json"};
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
    struct sweep_arg s = {files[i]};

    assert_true(mts_test_alloc_sweep(sweep_op, &s) > 0);
  }
}

/* ---- session ids ---- */

static void test_session_id(void **state) {
  char buf[MTS_RPT_SESSION_ID_MAX], small[8];

  (void)state;
  /* SID-1 failure: the receiving IP is part of it */
  assert_int_equal(mts_rpt_event_session_id(buf, sizeof(buf), 5,
                                            "Example.COM.", "192.0.2.1",
                                            false),
                   MTS_OK);
  assert_string_equal(buf, "5/example.com/192.0.2.1");
  /* SID-2 success: never (a success datagram has no IP) */
  assert_int_equal(mts_rpt_event_session_id(buf, sizeof(buf), 5,
                                            "example.com", "192.0.2.1", true),
                   MTS_OK);
  assert_string_equal(buf, "5/example.com/-");
  /* SID-3 failure without IP, empty IP */
  assert_int_equal(mts_rpt_event_session_id(buf, sizeof(buf), -1,
                                            "example.com", "", false),
                   MTS_OK);
  assert_string_equal(buf, "-1/example.com/-");
  /* SID-4 too small, bad args */
  assert_int_equal(mts_rpt_event_session_id(small, sizeof(small), 5,
                                            "example.com", NULL, true),
                   MTS_ETOOBIG);
  assert_string_equal(small, "");
  assert_int_equal(
      mts_rpt_event_session_id(NULL, 10, 5, "example.com", NULL, true),
      MTS_EINVAL);
  assert_int_equal(mts_rpt_event_session_id(buf, sizeof(buf), 5, NULL, NULL,
                                            true),
                   MTS_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_datagrams),
      cmocka_unit_test(test_bad_args),
      cmocka_unit_test(test_alloc_sweep),
      cmocka_unit_test(test_session_id),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
