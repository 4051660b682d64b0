/*
 * test_rpt_report.c - the RFC 8460 aggregate report parser
 * (RFC-CHECKLIST 2.2-2.8, vectors J01-J08; TLSRPT-NOTES 5).
 *
 * - FIX-*: every file of tests/fixtures/tlsrpt/reports/ with its verdict
 *   (the table of that directory's README.md);
 * - DATA-*: exact field values of selected fixtures;
 * - DT-*: date-time forms; CNT-*: counts; BAD-*: hostile input;
 * - bounds (size, depth, items, tokens), the findings cap, and an
 *   allocation-failure sweep.
 */
#include "testutil.h"

#include <stdlib.h>

#include <mtasts/rpt_report.h>

/* tests/unit/ -> tests/fixtures/tlsrpt/reports/ */
static char *fixture_path(const char *name) {
  static char buf[4096];
  const char *here = __FILE__;
  const char *slash = strrchr(here, '/');
  int n;

  assert_non_null(slash);
  n = snprintf(buf, sizeof(buf), "%.*s/../fixtures/tlsrpt/reports/%s",
               (int)(slash - here), here, name);
  assert_true(n > 0 && (size_t)n < sizeof(buf));
  return buf;
}

/* Read a fixture with malloc (the test's own memory, not the ctx's). */
static uint8_t *read_fixture(const char *name, size_t *len) {
  FILE *fp = fopen(fixture_path(name), "rb");
  uint8_t *buf;
  long sz;

  if (fp == NULL) {
    fail_msg("cannot open fixture %s", name);
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

static struct mts_rpt_report *parse_mem(struct mts_ctx *ctx, const void *s,
                                        size_t len) {
  struct mts_rpt_report *r = NULL;

  assert_int_equal(mts_rpt_report_parse(ctx, s, len, &r), MTS_OK);
  assert_non_null(r);
  return r;
}

static struct mts_rpt_report *parse_fixture(struct mts_ctx *ctx,
                                            const char *name) {
  size_t len;
  uint8_t *buf = read_fixture(name, &len);
  struct mts_rpt_report *r = parse_mem(ctx, buf, len);

  free(buf);
  return r;
}

static bool has(const struct mts_rpt_report *r, const char *code) {
  return mts_findings_find(mts_rpt_report_findings(r), code) != NULL;
}

static void dump(const struct mts_rpt_report *r) {
  const struct mts_findings *fs = mts_rpt_report_findings(r);
  size_t i;

  for (i = 0; i < mts_findings_count(fs); i++) {
    const struct mts_finding *f = mts_findings_get(fs, i);

    print_message("  %s %s %u:%u %s\n", mts_severity_str(f->severity), f->code,
                  f->line, f->col, f->message);
  }
}

/* ---- fixtures ---- */

struct fix {
  const char *file;
  bool usable, valid;
  const char *codes[4]; /* findings that must be present */
};

static const struct fix fixes[] = {
    {"rfc8460-appendix-b-corrected.json", true, true, {NULL}},
    {"rfc8460-appendix-b-mx-host-string.json",
     true,
     false,
     {"report-mx-host-string"}},
    {"google-quirks-empty-sending-ip.json",
     true,
     false,
     {"report-no-sending-ip"}},
    {"microsoft-quirks-no-zone-no-ip.json",
     true,
     false,
     {"report-datetime-no-zone", "report-no-sending-ip",
      "report-no-policy-string"}},
    {"microsoft-report-id-plus.json",
     true,
     false,
     {"report-datetime-no-zone", "report-no-policy-string"}},
    {"contact-info-null.json", true, false, {"report-no-contact-info"}},
    {"contact-info-and-organization-missing.json",
     true,
     false,
     {"report-no-contact-info", "report-no-organization"}},
    {"unknown-result-type-and-key.json",
     true,
     true,
     {"report-unknown-result-type", "report-unknown-key"}},
    {"three-policy-types-offset-times.json", true, true, {NULL}},
    {"policies-object.json", true, false, {"report-policies-object"}},
    {"policy-type-uppercase.json", true, false, {"report-policy-type-case"}},
    {"big-250-failure-details.json", true, true, {NULL}},
    {"real-google-no-policy-found.json", true, true, {NULL}},
    {"real-mailru.json",
     true,
     false,
     {"report-no-sending-ip", "report-no-policy-string"}},
    {"real-smtp-tls-testing.json", true, true, {NULL}},
    {"real-empty-failure-detail-fields.json",
     true,
     false,
     {"report-no-sending-ip", "report-empty-value"}},
    {"bad-count-string.json", false, false, {"report-bad-count"}},
    {"bad-count-negative.json", false, false, {"report-bad-count"}},
    {"bad-count-float.json", false, false, {"report-bad-count"}},
    {"bad-count-above-2p53.json", false, false, {"report-bad-count"}},
    {"bad-duplicate-key.json", false, false, {"report-duplicate-key"}},
    {"bad-deep-nesting.json", false, false, {"report-too-deep"}},
    {"bad-invalid-utf8.json", false, false, {"report-invalid-utf8"}},
    {"bad-missing-report-id.json", false, false, {"report-missing-key"}},
    {"bad-policies-string.json", false, false, {"report-wrong-type"}},
    {"bad-policies-empty.json", false, false, {"report-no-policies"}},
    {"bad-datetime-space.json", false, false, {"report-bad-datetime"}},
    {"bad-start-after-end.json", false, false, {"report-date-order"}},
    {"bad-top-level-array.json", false, false, {"report-not-object"}},
    {"bad-truncated.json", false, false, {"report-json"}},
    {"bad-missing-summary.json", false, false, {"report-missing-key"}},
};

static void test_fixtures(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  size_t i, j;

  (void)state;
  for (i = 0; i < sizeof(fixes) / sizeof(fixes[0]); i++) {
    const struct fix *f = &fixes[i];
    struct mts_rpt_report *r = parse_fixture(ctx, f->file);
    bool ok = mts_rpt_report_usable(r) == f->usable &&
              mts_rpt_report_valid(r) == f->valid;

    for (j = 0; j < 4 && f->codes[j] != NULL; j++) {
      ok = ok && has(r, f->codes[j]);
    }
    if (!ok) {
      print_message("%s: usable %d valid %d\n", f->file,
                    mts_rpt_report_usable(r), mts_rpt_report_valid(r));
      dump(r);
      fail_msg("fixture %s", f->file);
    }
    mts_rpt_report_destroy(r);
  }
  mts_ctx_destroy(ctx);
}

/* ---- exact data ---- */

static void test_data_appendix_b(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct mts_rpt_report *r =
      parse_fixture(ctx, "rfc8460-appendix-b-mx-host-string.json");
  const struct mts_rpt_report_data *d = mts_rpt_report_data(r);
  const struct mts_rpt_policy *p;

  (void)state;
  assert_string_equal(d->organization_name, "Company-X");
  assert_int_equal(d->start, 1459468800); /* 2016-04-01T00:00:00Z */
  assert_int_equal(d->end, 1459468800 + 86399);
  assert_true(d->start_had_zone);
  assert_true(d->end_had_zone);
  assert_string_equal(d->contact_info, "sts-reporting@company-x.example");
  assert_string_equal(d->report_id, "5065427c-23d3-47ca-b6e0-946ea0e8c4be");
  assert_int_equal(d->npolicies, 1);
  p = &d->policies[0];
  assert_string_equal(p->policy_type, "sts");
  assert_string_equal(p->policy_domain, "company-y.example");
  assert_true(p->has_policy_string);
  assert_int_equal(p->npolicy_strings, 4);
  assert_string_equal(p->policy_strings[0], "version: STSv1");
  assert_string_equal(p->policy_strings[3], "max_age: 86400");
  /* J04: a single string is read as a one-element array. */
  assert_int_equal(p->nmx_hosts, 1);
  assert_string_equal(p->mx_hosts[0], "*.mail.company-y.example");
  assert_int_equal(p->total_successful, 5326);
  assert_int_equal(p->total_failure, 303);
  assert_int_equal(p->nfailures, 3);
  assert_string_equal(p->failures[0].result_type, "certificate-expired");
  assert_string_equal(p->failures[0].sending_mta_ip, "2001:db8:abcd:0012::1");
  assert_string_equal(p->failures[0].receiving_mx_hostname,
                      "mx1.mail.company-y.example");
  assert_null(p->failures[0].receiving_ip);
  assert_null(p->failures[0].receiving_mx_helo);
  assert_null(p->failures[0].additional_information);
  assert_null(p->failures[0].failure_reason_code);
  assert_int_equal(p->failures[0].failed_session_count, 100);
  assert_string_equal(p->failures[1].receiving_ip, "203.0.113.56");
  assert_string_equal(p->failures[1].additional_information,
                      "https://reports.company-x.example/report_info?id="
                      "5065427c-23d3#StarttlsNotSupported");
  /* J07: 100 + 200 + 3 = 303, no finding either way. */
  assert_int_equal(p->failures[1].failed_session_count, 200);
  assert_int_equal(p->failures[2].failed_session_count, 3);
  assert_string_equal(p->failures[2].failure_reason_code,
                      "X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED");
  /* exactly one finding: the mx-host string */
  assert_int_equal(mts_findings_count(mts_rpt_report_findings(r)), 1);
  mts_rpt_report_destroy(r);
  mts_ctx_destroy(ctx);
}

static void test_data_quirks(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct mts_rpt_report *r;
  const struct mts_rpt_report_data *d;

  (void)state;
  /* Microsoft: zone-less times read as UTC, no sending-mta-ip. */
  r = parse_fixture(ctx, "microsoft-quirks-no-zone-no-ip.json");
  d = mts_rpt_report_data(r);
  assert_int_equal(d->start, 1748822400); /* 2025-06-02T00:00:00Z */
  assert_int_equal(d->end, 1748822400 + 86399);
  assert_false(d->start_had_zone);
  assert_false(d->end_had_zone);
  assert_string_equal(d->report_id, "133944884956529435+example.org");
  assert_int_equal(d->npolicies, 2);
  assert_false(d->policies[0].has_policy_string);
  assert_int_equal(d->policies[0].npolicy_strings, 0);
  assert_null(d->policies[0].failures[0].sending_mta_ip);
  assert_string_equal(d->policies[0].failures[0].failure_reason_code,
                      "HttpStatusCode 404");
  assert_string_equal(d->policies[1].failures[0].receiving_ip, "2001:db8::25");
  mts_rpt_report_destroy(r);

  /* Google: sending-mta-ip "" is NULL. */
  r = parse_fixture(ctx, "google-quirks-empty-sending-ip.json");
  d = mts_rpt_report_data(r);
  assert_string_equal(d->report_id, "2024-09-03T00:00:00Z_example.com");
  assert_null(d->policies[0].failures[0].sending_mta_ip);
  assert_int_equal(d->policies[0].nmx_hosts, 2);
  assert_string_equal(d->policies[0].mx_hosts[1], "mx2.example.com");
  mts_rpt_report_destroy(r);

  /* Offsets converted to UTC, fractions dropped, 2^53 is a count. */
  r = parse_fixture(ctx, "three-policy-types-offset-times.json");
  d = mts_rpt_report_data(r);
  assert_int_equal(d->start, 1717200000); /* 2024-06-01T00:00:00Z */
  assert_int_equal(d->end, 1717200000 + 86399);
  assert_true(d->start_had_zone);
  assert_int_equal(d->npolicies, 3);
  assert_string_equal(d->policies[0].policy_type, "tlsa");
  assert_string_equal(d->policies[0].failures[0].receiving_mx_helo,
                      "mx.recv.example ESMTP");
  assert_int_equal(d->policies[1].total_successful, 9007199254740992ULL);
  assert_string_equal(d->policies[2].policy_type, "no-policy-found");
  assert_false(d->policies[2].has_policy_string);
  assert_string_equal(d->organization_name,
                      "Sender Example \xc3\x89tablissement");
  mts_rpt_report_destroy(r);

  /* contact-info null */
  r = parse_fixture(ctx, "contact-info-null.json");
  assert_null(mts_rpt_report_data(r)->contact_info);
  mts_rpt_report_destroy(r);

  /* J01 tolerated: policies as one object */
  r = parse_fixture(ctx, "policies-object.json");
  d = mts_rpt_report_data(r);
  assert_int_equal(d->npolicies, 1);
  assert_int_equal(d->policies[0].nfailures, 3);
  mts_rpt_report_destroy(r);

  /* J08: an unknown result type is kept */
  r = parse_fixture(ctx, "unknown-result-type-and-key.json");
  assert_string_equal(
      mts_rpt_report_data(r)->policies[0].failures[0].result_type,
      "some-future-type");
  assert_int_equal(mts_findings_find(mts_rpt_report_findings(r),
                                     "report-unknown-result-type")
                       ->severity,
                   MTS_SEV_INFO);
  mts_rpt_report_destroy(r);

  /* an unusable report still hands out what could be read */
  r = parse_fixture(ctx, "bad-count-string.json");
  d = mts_rpt_report_data(r);
  assert_false(mts_rpt_report_usable(r));
  assert_string_equal(d->report_id, "5065427c-23d3-47ca-b6e0-946ea0e8c4be");
  assert_int_equal(d->npolicies, 1);
  assert_int_equal(d->policies[0].total_successful, 0);
  assert_int_equal(d->policies[0].total_failure, 303);
  mts_rpt_report_destroy(r);
  mts_ctx_destroy(ctx);
}

/* ---- inline vectors on a minimal report ---- */

#define HEAD(start, end)                                                       \
  "{\"organization-name\":\"O\",\"date-range\":{\"start-datetime\":\"" start   \
  "\",\"end-datetime\":\"" end "\"},\"contact-info\":\"a@b.example\","         \
  "\"report-id\":\"r1\",\"policies\":["
#define DAY HEAD("2024-01-01T00:00:00Z", "2024-01-01T23:59:59Z")
#define POL(type, extra, succ, fail)                                           \
  "{\"policy\":{\"policy-type\":\"" type "\",\"policy-string\":[],"            \
  "\"policy-domain\":\"example.com\"" extra "},\"summary\":{"                  \
  "\"total-successful-session-count\":" succ                                   \
  ",\"total-failure-session-count\":" fail "}"
#define FD(x) ",\"failure-details\":[" x "]"
#define NPF POL("no-policy-found", "", "1", "0") "}"

struct vec {
  const char *id;
  const char *in;
  bool usable, valid;
  const char *code;
  int64_t start; /* checked when usable and not 0 */
};

static const struct vec vecs[] = {
    {"DT-Z", DAY NPF "]}", true, true, NULL, 1704067200},
    {"DT-lower-t-z",
     HEAD("2024-01-01t00:00:00z", "2024-01-02T00:00:00Z") NPF "]}", true, true,
     NULL, 1704067200},
    {"DT-fraction",
     HEAD("2024-01-01T00:00:00.999999999Z", "2024-01-01T23:59:59Z") NPF "]}",
     true, true, NULL, 1704067200},
    {"DT-offset-minus",
     HEAD("2023-12-31T19:00:00-05:00", "2024-01-01T23:59:59Z") NPF "]}", true,
     true, NULL, 1704067200},
    {"DT-offset-plus-half",
     HEAD("2024-01-01T05:30:00+05:30", "2024-01-01T23:59:59Z") NPF "]}", true,
     true, NULL, 1704067200},
    {"DT-leap-day",
     HEAD("2024-02-29T00:00:00Z", "2024-02-29T23:59:59Z") NPF "]}", true, true,
     NULL, 1709164800},
    {"DT-leap-second",
     HEAD("2016-12-31T23:59:60Z", "2017-01-01T00:00:00Z") NPF "]}", true, true,
     NULL, 1483228800},
    {"DT-no-zone", HEAD("2024-01-01T00:00:00", "2024-01-01T23:59:59Z") NPF "]}",
     true, false, "report-datetime-no-zone", 1704067200},
    {"DT-no-zone-fraction",
     HEAD("2024-01-01T00:00:00.0000000", "2024-01-01T23:59:59Z") NPF "]}", true,
     false, "report-datetime-no-zone", 1704067200},
    {"DT-end-equals-start",
     HEAD("2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z") NPF "]}", true, true,
     NULL, 1704067200},
    {"DT-date-only", HEAD("2024-01-01", "2024-01-01T23:59:59Z") NPF "]}", false,
     false, "report-bad-datetime", 0},
    {"DT-feb-30", HEAD("2023-02-29T00:00:00Z", "2024-01-01T23:59:59Z") NPF "]}",
     false, false, "report-bad-datetime", 0},
    {"DT-hour-24",
     HEAD("2024-01-01T24:00:00Z", "2024-01-02T23:59:59Z") NPF "]}", false,
     false, "report-bad-datetime", 0},
    {"DT-offset-no-colon",
     HEAD("2024-01-01T00:00:00+0100", "2024-01-02T23:59:59Z") NPF "]}", false,
     false, "report-bad-datetime", 0},
    {"DT-trailing",
     HEAD("2024-01-01T00:00:00Zx", "2024-01-02T23:59:59Z") NPF "]}", false,
     false, "report-bad-datetime", 0},
    {"DT-empty-fraction",
     HEAD("2024-01-01T00:00:00.Z", "2024-01-02T23:59:59Z") NPF "]}", false,
     false, "report-bad-datetime", 0},
    {"DT-epoch-number",
     "{\"organization-name\":\"O\",\"date-range\":{\"start-datetime\":"
     "1704067200,\"end-datetime\":\"2024-01-01T23:59:59Z\"},"
     "\"report-id\":\"r\",\"contact-info\":\"a@b.example\",\"policies\":[" NPF
     "]}",
     false, false, "report-wrong-type", 0},
    {"DT-before-year-0",
     HEAD("0000-01-01T00:00:00+00:01", "2024-01-02T23:59:59Z") NPF "]}", false,
     false, "report-bad-datetime", 0},
    {"DT-missing-end",
     "{\"organization-name\":\"O\",\"date-range\":{\"start-datetime\":"
     "\"2024-01-01T00:00:00Z\"},\"report-id\":\"r\",\"contact-info\":\"a@b"
     ".example\",\"policies\":[" NPF "]}",
     false, false, "report-missing-key", 0},
    /* counts (J02, I-JSON) */
    {"CNT-zero", DAY POL("sts", "", "0", "0") "}]}", true, true, NULL, 0},
    {"CNT-2p53", DAY POL("sts", "", "9007199254740992", "0") "}]}", true, true,
     NULL, 0},
    {"CNT-2p53-plus-1", DAY POL("sts", "", "9007199254740993", "0") "}]}",
     false, false, "report-bad-count", 0},
    {"CNT-beyond-int64", DAY POL("sts", "", "99999999999999999999", "0") "}]}",
     false, false, "report-json", 0},
    {"CNT-string", DAY POL("sts", "", "\"5326\"", "0") "}]}", false, false,
     "report-bad-count", 0},
    {"CNT-real", DAY POL("sts", "", "1.5", "0") "}]}", false, false,
     "report-bad-count", 0},
    {"CNT-real-integral", DAY POL("sts", "", "5.0", "0") "}]}", false, false,
     "report-bad-count", 0},
    {"CNT-exponent", DAY POL("sts", "", "1e3", "0") "}]}", false, false,
     "report-bad-count", 0},
    {"CNT-negative", DAY POL("sts", "", "-1", "0") "}]}", false, false,
     "report-bad-count", 0},
    {"CNT-null", DAY POL("sts", "", "null", "0") "}]}", false, false,
     "report-bad-count", 0},
    {"CNT-failed-missing",
     DAY POL("sts", "", "0", "1") FD("{\"result-type\":\"dane-required\","
                                     "\"sending-mta-ip\":\"192.0.2.1\"}") "}]}",
     false, false, "report-missing-key", 0},
    /* J05: case-sensitive policy-type; unknown types kept */
    {"J05-STS", DAY POL("STS", "", "1", "0") "}]}", true, false,
     "report-policy-type-case", 0},
    {"POL-future-type", DAY POL("bimi", "", "1", "0") "}]}", true, true,
     "report-unknown-policy-type", 0},
    {"POL-domain-missing",
     DAY "{\"policy\":{\"policy-type\":\"sts\",\"policy-string\":[]},"
         "\"summary\":{\"total-successful-session-count\":1,"
         "\"total-failure-session-count\":0}}]}",
     false, false, "report-missing-key", 0},
    {"POL-domain-ulabel",
     DAY "{\"policy\":{\"policy-type\":\"sts\",\"policy-string\":[],"
         "\"policy-domain\":\"b\xc3\xbc"
         "cher.example\"},\"summary\":{"
         "\"total-successful-session-count\":1,"
         "\"total-failure-session-count\":0}}]}",
     true, false, "report-bad-host", 0},
    {"POL-mx-host-bad",
     DAY POL("sts", ",\"mx-host\":[\"mx .example\"]", "1", "0") "}]}", true,
     false, "report-bad-host", 0},
    {"POL-mx-host-number", DAY POL("sts", ",\"mx-host\":[5]", "1", "0") "}]}",
     false, false, "report-wrong-type", 0},
    {"POL-policy-string-string",
     DAY "{\"policy\":{\"policy-type\":\"sts\",\"policy-string\":\"x\","
         "\"policy-domain\":\"example.com\"},\"summary\":{"
         "\"total-successful-session-count\":1,"
         "\"total-failure-session-count\":0}}]}",
     false, false, "report-wrong-type", 0},
    {"POL-sts-no-policy-string",
     DAY "{\"policy\":{\"policy-type\":\"sts\","
         "\"policy-domain\":\"example.com\"},\"summary\":{"
         "\"total-successful-session-count\":1,"
         "\"total-failure-session-count\":0}}]}",
     true, false, "report-no-policy-string", 0},
    {"POL-failure-details-object",
     DAY POL("sts", "", "0", "1") ",\"failure-details\":{}}]}", false, false,
     "report-wrong-type", 0},
    {"POL-no-policy",
     DAY "{\"summary\":{\"total-successful-session-count\":1,"
         "\"total-failure-session-count\":0}}]}",
     false, false, "report-missing-key", 0},
    {"POL-element-number", DAY "5]}", false, false, "report-wrong-type", 0},
    /* failure details */
    {"FD-full",
     DAY POL("sts", "", "0", "1")
         FD("{\"result-type\":\"certificate-not-trusted\",\"sending-mta-ip\":"
            "\"192.0.2.1\",\"receiving-mx-hostname\":\"mx.example.com\","
            "\"receiving-mx-helo\":\"mx\",\"receiving-ip\":\"2001:db8::1\","
            "\"failed-session-count\":1,\"additional-information\":\"https://"
            "x.example/\",\"failure-reason-code\":\"X509\"}") "}]}",
     true, true, NULL, 0},
    {"FD-bad-ip",
     DAY POL("sts", "", "0", "1")
         FD("{\"result-type\":\"validation-failure\",\"sending-mta-ip\":"
            "\"192.0.2.300\",\"failed-session-count\":1}") "}]}",
     true, false, "report-bad-ip", 0},
    {"FD-ip-null",
     DAY POL("sts", "", "0", "1")
         FD("{\"result-type\":\"validation-failure\",\"sending-mta-ip\":"
            "null,\"failed-session-count\":1}") "}]}",
     true, false, "report-no-sending-ip", 0},
    {"FD-ip-number",
     DAY POL("sts", "", "0", "1")
         FD("{\"result-type\":\"validation-failure\",\"sending-mta-ip\":"
            "3232235777,\"failed-session-count\":1}") "}]}",
     false, false, "report-wrong-type", 0},
    {"FD-result-type-empty",
     DAY POL("sts", "", "0", "1")
         FD("{\"result-type\":\"\",\"sending-mta-ip\":\"192.0.2.1\","
            "\"failed-session-count\":1}") "}]}",
     false, false, "report-empty-required", 0},
    {"FD-result-type-case",
     DAY POL("sts", "", "0", "1")
         FD("{\"result-type\":\"Validation-Failure\",\"sending-mta-ip\":"
            "\"192.0.2.1\",\"failed-session-count\":1}") "}]}",
     true, false, "report-result-type-case", 0},
    {"FD-entry-string", DAY POL("sts", "", "0", "1") FD("\"x\"") "}]}", false,
     false, "report-wrong-type", 0},
    /* top level */
    {"TOP-report-id-empty",
     "{\"organization-name\":\"O\",\"date-range\":{\"start-datetime\":"
     "\"2024-01-01T00:00:00Z\",\"end-datetime\":\"2024-01-01T23:59:59Z\"},"
     "\"contact-info\":\"a@b.example\",\"report-id\":\"\",\"policies\":[" NPF
     "]}",
     false, false, "report-empty-required", 0},
    {"TOP-report-id-number",
     "{\"organization-name\":\"O\",\"date-range\":{\"start-datetime\":"
     "\"2024-01-01T00:00:00Z\",\"end-datetime\":\"2024-01-01T23:59:59Z\"},"
     "\"contact-info\":\"a@b.example\",\"report-id\":7,\"policies\":[" NPF "]}",
     false, false, "report-wrong-type", 0},
    {"TOP-no-policies",
     "{\"organization-name\":\"O\",\"date-range\":{\"start-datetime\":"
     "\"2024-01-01T00:00:00Z\",\"end-datetime\":\"2024-01-01T23:59:59Z\"},"
     "\"contact-info\":\"a@b.example\",\"report-id\":\"r\"}",
     false, false, "report-missing-key", 0},
    {"TOP-date-range-string",
     "{\"organization-name\":\"O\",\"date-range\":\"2024-01-01\","
     "\"contact-info\":\"a@b.example\",\"report-id\":\"r\",\"policies\":[" NPF
     "]}",
     false, false, "report-wrong-type", 0},
    {"TOP-contact-info-number",
     "{\"organization-name\":\"O\",\"date-range\":{\"start-datetime\":"
     "\"2024-01-01T00:00:00Z\",\"end-datetime\":\"2024-01-01T23:59:59Z\"},"
     "\"contact-info\":5,\"report-id\":\"r\",\"policies\":[" NPF "]}",
     false, false, "report-wrong-type", 0},
    {"TOP-organization-empty",
     "{\"organization-name\":\"\",\"date-range\":{\"start-datetime\":"
     "\"2024-01-01T00:00:00Z\",\"end-datetime\":\"2024-01-01T23:59:59Z\"},"
     "\"contact-info\":\"a@b.example\",\"report-id\":\"r\",\"policies\":[" NPF
     "]}",
     true, false, "report-empty-value", 0},
    /* hostile */
    {"BAD-empty", "", false, false, "report-json", 0},
    {"BAD-number", "5", false, false, "report-json", 0},
    {"BAD-string", "\"x\"", false, false, "report-json", 0},
    {"BAD-nul-escape",
     DAY POL("sts", ",\"mx-host\":[\"a\\u0000b\"]", "1", "0") "}]}", false,
     false, "report-json", 0},
    {"BAD-lone-surrogate",
     DAY POL("sts", ",\"mx-host\":[\"\\ud800\"]", "1", "0") "}]}", false, false,
     "report-json", 0},
    {"BAD-dup-nested",
     DAY "{\"policy\":{\"policy-type\":\"sts\",\"policy-type\":\"tlsa\","
         "\"policy-domain\":\"example.com\"},\"summary\":{"
         "\"total-successful-session-count\":1,"
         "\"total-failure-session-count\":0}}]}",
     false, false, "report-duplicate-key", 0},
    {"BAD-overlong-utf8",
     DAY POL("sts", ",\"mx-host\":[\"\xc0\xaf\"]", "1", "0") "}]}", false,
     false, "report-invalid-utf8", 0},
    {"BAD-depth-33",
     "{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
     false, false, "report-too-deep", 0},
    {"DEPTH-32-ok",
     DAY NPF "],\"x\":"
             "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
             "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
     true, true, "report-unknown-key", 0},
    {"BAD-depth-brackets-in-string",
     DAY NPF "],\"x\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"[\"}",
     true, true, "report-unknown-key", 0},
};

static void test_vectors(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
    const struct vec *v = &vecs[i];
    struct mts_rpt_report *r = parse_mem(ctx, v->in, strlen(v->in));
    bool ok = mts_rpt_report_usable(r) == v->usable &&
              mts_rpt_report_valid(r) == v->valid &&
              (v->code == NULL || has(r, v->code));

    if (ok && v->usable && v->start != 0) {
      ok = mts_rpt_report_data(r)->start == v->start;
    }
    if (!ok) {
      print_message("%s: usable %d valid %d start %lld\n", v->id,
                    mts_rpt_report_usable(r), mts_rpt_report_valid(r),
                    (long long)mts_rpt_report_data(r)->start);
      dump(r);
      fail_msg("vector %s", v->id);
    }
    mts_rpt_report_destroy(r);
  }
  mts_ctx_destroy(ctx);
}

/* JSON syntax errors carry jansson's line and column. */
static void test_json_position(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct mts_rpt_report *r = parse_mem(ctx, "{\n  \"a\": tru\n}", 14);
  const struct mts_finding *f =
      mts_findings_find(mts_rpt_report_findings(r), "report-json");

  (void)state;
  assert_non_null(f);
  assert_int_equal(f->severity, MTS_SEV_ERROR);
  assert_int_equal(f->line, 2);
  assert_true(f->col > 0);
  mts_rpt_report_destroy(r);
  mts_ctx_destroy(ctx);
}

/* ---- bounds ---- */

static void test_too_big(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  size_t len = (size_t)MTS_RPT_REPORT_MAX + 1;
  uint8_t *buf = malloc(len);
  struct mts_rpt_report *r;

  (void)state;
  assert_non_null(buf);
  memset(buf, ' ', len);
  r = parse_mem(ctx, buf, len);
  assert_false(mts_rpt_report_usable(r));
  assert_true(has(r, "report-too-big"));
  mts_rpt_report_destroy(r);
  free(buf);
  mts_ctx_destroy(ctx);
}

/* \p head, then \p n times the two characters \p item separated by
 * commas, then \p tail. */
static char *json_repeat(const char *head, const char *item, size_t n,
                         const char *tail, size_t *len) {
  size_t hl = strlen(head), tl = strlen(tail), i, o = hl;
  char *b = malloc(hl + 3 * n + tl + 1);

  assert_non_null(b);
  memcpy(b, head, hl);
  for (i = 0; i < n; i++) {
    if (i > 0) {
      b[o++] = ',';
    }
    b[o++] = item[0];
    b[o++] = item[1];
  }
  memcpy(b + o, tail, tl + 1);
  *len = o + tl;
  return b;
}

/* Build a report whose one policy has \p n policy strings "". */
static char *many_strings(size_t n, size_t *len) {
  return json_repeat(DAY "{\"policy\":{\"policy-type\":\"sts\","
                         "\"policy-domain\":\"example.com\","
                         "\"policy-string\":[",
                     "\"\"", n,
                     "]},\"summary\":{\"total-successful-session-"
                     "count\":1,\"total-failure-session-count\":0}}]}",
                     len);
}

static void test_too_many_items(void **state) {
  struct mts_ctx *ctx = NULL; /* libc allocator: cmocka's is slow here */
  struct mts_rpt_report *r;
  size_t len;
  char *b;

  (void)state;
  assert_int_equal(mts_ctx_create(NULL, &ctx), MTS_OK);
  /* the policy counts as one item */
  b = many_strings(MTS_RPT_REPORT_MAX_ITEMS - 1, &len);
  r = parse_mem(ctx, b, len);
  assert_true(mts_rpt_report_usable(r));
  assert_int_equal(mts_rpt_report_data(r)->policies[0].npolicy_strings,
                   MTS_RPT_REPORT_MAX_ITEMS - 1);
  mts_rpt_report_destroy(r);
  free(b);
  b = many_strings(MTS_RPT_REPORT_MAX_ITEMS, &len);
  r = parse_mem(ctx, b, len);
  assert_false(mts_rpt_report_usable(r));
  assert_true(has(r, "report-too-many-items"));
  assert_int_equal(mts_rpt_report_data(r)->policies[0].npolicy_strings, 0);
  mts_rpt_report_destroy(r);
  free(b);
  mts_ctx_destroy(ctx);
}

/* ---- findings cap and token bound ---- */

/* A failure detail that is exactly RFC 8460 but for \p extra. */
#define FD_OK(rt, ip)                                                          \
  "{\"result-type\":\"" rt "\"," ip "\"failed-session-count\":1}"
#define IP_OK "\"sending-mta-ip\":\"192.0.2.1\","

/* A usable report: one sts policy whose \p n failure details are \p fd
 * (no separator); \p last, when not NULL, is appended as one more. */
static char *with_details(size_t n, const char *fd, const char *last,
                          size_t *len) {
  static const char head[] =
      DAY POL("sts", "", "0", "1") ",\"failure-details\":[";
  static const char tail[] = "]}]}";
  size_t fl = strlen(fd), ll = last != NULL ? strlen(last) + 1 : 0;
  size_t cap = sizeof(head) + n * (fl + 1) + ll + sizeof(tail), i, o;
  char *b = malloc(cap);

  assert_non_null(b);
  memcpy(b, head, sizeof(head) - 1);
  o = sizeof(head) - 1;
  for (i = 0; i < n; i++) {
    if (i > 0) {
      b[o++] = ',';
    }
    memcpy(b + o, fd, fl);
    o += fl;
  }
  if (last != NULL) {
    b[o++] = ',';
    memcpy(b + o, last, ll - 1);
    o += ll - 1;
  }
  memcpy(b + o, tail, sizeof(tail) - 1);
  o += sizeof(tail) - 1;
  *len = o;
  return b;
}

/* {"policies":[{"failure-details":[{},{},...]}]}: \p n empty details. */
static char *empty_details(size_t n, size_t *len) {
  return json_repeat("{\"policies\":[{\"failure-details\":[", "{}", n, "]}]}",
                     len);
}

static const struct mts_finding *last_finding(const struct mts_rpt_report *r) {
  const struct mts_findings *fs = mts_rpt_report_findings(r);
  size_t n = mts_findings_count(fs);

  assert_true(n > 0);
  return mts_findings_get(fs, n - 1);
}

/* 3 MB of empty failure details (3 findings each) used to become 3*10^6
 * findings, ~400 MB in the store. Now refused before jansson runs (the
 * token bound), and the largest such report within every bound keeps
 * MTS_RPT_REPORT_MAX_FINDINGS findings plus the truncation finding,
 * which carries the error that makes it unusable. */
static void test_findings_amplification(void **state) {
  struct mts_ctx *ctx = NULL; /* libc allocator: cmocka's is slow here */
  const struct mts_findings *fs;
  const struct mts_finding *t;
  struct mts_rpt_report *r;
  char want[64];
  size_t len, n;
  char *b;

  (void)state;
  assert_int_equal(mts_ctx_create(NULL, &ctx), MTS_OK);
  b = empty_details(999999, &len);
  r = parse_mem(ctx, b, len);
  fs = mts_rpt_report_findings(r);
  assert_true(mts_findings_count(fs) <= MTS_RPT_REPORT_MAX_FINDINGS + 1);
  assert_false(mts_rpt_report_usable(r));
  assert_false(mts_rpt_report_valid(r));
  mts_rpt_report_destroy(r);
  free(b);

  /* the policy is one item: the most details the item bound lets in */
  n = MTS_RPT_REPORT_MAX_ITEMS - 1;
  b = empty_details(n, &len);
  r = parse_mem(ctx, b, len);
  fs = mts_rpt_report_findings(r);
  assert_int_equal(mts_findings_count(fs), MTS_RPT_REPORT_MAX_FINDINGS + 1);
  assert_false(mts_rpt_report_usable(r));
  assert_false(mts_rpt_report_valid(r));
  assert_int_equal(mts_rpt_report_data(r)->policies[0].nfailures, n);
  t = last_finding(r);
  assert_string_equal(t->code, "report-findings-truncated");
  assert_int_equal(t->severity, MTS_SEV_ERROR);
  /* 6 on the report and the policy, 3 per detail; 100 of them kept */
  snprintf(want, sizeof want, "%zu more findings after the first %u ",
           6 + 3 * n - MTS_RPT_REPORT_MAX_FINDINGS,
           MTS_RPT_REPORT_MAX_FINDINGS);
  if (strstr(t->message, want) == NULL ||
      strstr(t->message, "error report-missing-key") == NULL) {
    fail_msg("message: %s", t->message);
  }
  assert_int_equal(mts_findings_find(fs, "report-findings-truncated") -
                       mts_findings_get(fs, 0),
                   MTS_RPT_REPORT_MAX_FINDINGS);
  mts_rpt_report_destroy(r);
  free(b);
  mts_ctx_destroy(ctx);
}

/* The verdicts stay exact whatever falls past the cap: the truncation
 * finding has the worst severity left out, no more, no less. */
static void test_findings_cap_verdicts(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  const size_t cap = MTS_RPT_REPORT_MAX_FINDINGS;
  const struct mts_findings *fs;
  struct mts_rpt_report *r;
  size_t len, i;
  char *b;

  (void)state;
  /* 150 warnings (no sending-mta-ip), then one error past the cap */
  b = with_details(150, FD_OK("validation-failure", ""),
                   "{\"result-type\":\"validation-failure\"}", &len);
  r = parse_mem(ctx, b, len);
  fs = mts_rpt_report_findings(r);
  assert_int_equal(mts_findings_count(fs), cap + 1);
  for (i = 0; i < cap; i++) {
    assert_string_equal(mts_findings_get(fs, i)->code, "report-no-sending-ip");
  }
  assert_string_equal(last_finding(r)->code, "report-findings-truncated");
  assert_int_equal(last_finding(r)->severity, MTS_SEV_ERROR);
  assert_non_null(strstr(last_finding(r)->message,
                         "52 more findings after the first 100 not recorded; "
                         "the first of the worst: error report-missing-key"));
  assert_false(mts_rpt_report_usable(r));
  assert_false(mts_rpt_report_valid(r));
  mts_rpt_report_destroy(r);
  free(b);

  /* the same without the error: usable, not valid */
  b = with_details(150, FD_OK("validation-failure", ""), NULL, &len);
  r = parse_mem(ctx, b, len);
  assert_int_equal(mts_findings_count(mts_rpt_report_findings(r)), cap + 1);
  assert_int_equal(last_finding(r)->severity, MTS_SEV_WARNING);
  assert_true(mts_rpt_report_usable(r));
  assert_false(mts_rpt_report_valid(r));
  mts_rpt_report_destroy(r);
  free(b);

  /* only info findings (future result types), then one warning past the
   * cap: not valid */
  b = with_details(120, FD_OK("some-future-type", IP_OK),
                   FD_OK("validation-failure", ""), &len);
  r = parse_mem(ctx, b, len);
  assert_int_equal(mts_findings_count(mts_rpt_report_findings(r)), cap + 1);
  assert_int_equal(last_finding(r)->severity, MTS_SEV_WARNING);
  assert_true(mts_rpt_report_usable(r));
  assert_false(mts_rpt_report_valid(r));
  mts_rpt_report_destroy(r);
  free(b);

  /* info only: still valid, the truncation finding is info */
  b = with_details(120, FD_OK("some-future-type", IP_OK), NULL, &len);
  r = parse_mem(ctx, b, len);
  assert_int_equal(mts_findings_count(mts_rpt_report_findings(r)), cap + 1);
  assert_int_equal(last_finding(r)->severity, MTS_SEV_INFO);
  assert_true(mts_rpt_report_usable(r));
  assert_true(mts_rpt_report_valid(r));
  mts_rpt_report_destroy(r);
  free(b);

  /* exactly the cap: nothing left out, no truncation finding */
  b = with_details(cap, FD_OK("validation-failure", ""), NULL, &len);
  r = parse_mem(ctx, b, len);
  assert_int_equal(mts_findings_count(mts_rpt_report_findings(r)), cap);
  assert_false(has(r, "report-findings-truncated"));
  mts_rpt_report_destroy(r);
  free(b);

  /* one past the cap */
  b = with_details(cap + 1, FD_OK("validation-failure", ""), NULL, &len);
  r = parse_mem(ctx, b, len);
  assert_int_equal(mts_findings_count(mts_rpt_report_findings(r)), cap + 1);
  assert_non_null(strstr(last_finding(r)->message, "1 more finding after "));
  mts_rpt_report_destroy(r);
  free(b);

  /* a normal report with a few findings is as before */
  b = with_details(2, FD_OK("validation-failure", ""),
                   FD_OK("Validation-Failure", IP_OK), &len);
  r = parse_mem(ctx, b, len);
  fs = mts_rpt_report_findings(r);
  assert_int_equal(mts_findings_count(fs), 3);
  assert_string_equal(mts_findings_get(fs, 0)->code, "report-no-sending-ip");
  assert_string_equal(mts_findings_get(fs, 1)->code, "report-no-sending-ip");
  assert_string_equal(mts_findings_get(fs, 2)->code, "report-result-type-case");
  assert_true(mts_rpt_report_usable(r));
  assert_false(mts_rpt_report_valid(r));
  mts_rpt_report_destroy(r);
  free(b);
  mts_ctx_destroy(ctx);
}

/* '{', '[' and ',' outside strings, as the parser's pre-scan counts. */
static size_t count_tokens(const char *s, size_t len) {
  size_t i, n = 0;
  bool str = false;

  for (i = 0; i < len; i++) {
    if (str) {
      if (s[i] == '\\') {
        i++;
      } else if (s[i] == '"') {
        str = false;
      }
    } else if (s[i] == '"') {
      str = true;
    } else if (s[i] == '{' || s[i] == '[' || s[i] == ',') {
      n++;
    }
  }
  return n;
}

/* A usable report with an unknown key "x" holding [0,0,...] padded to
 * exactly \p tokens tokens (strings with ",{[" in them do not count). */
static char *padded_report(size_t tokens, size_t *len) {
  static const char head[] = DAY NPF "],\"s\":\"{[,\\\",]}\",\"x\":[0";
  static const char tail[] = "]}";
  size_t base = count_tokens(head, sizeof(head) - 1), n, o, i;
  char *b;

  assert_true(tokens > base);
  n = tokens - base; /* one ",0" each */
  b = malloc(sizeof(head) + 2 * n + sizeof(tail));
  assert_non_null(b);
  memcpy(b, head, sizeof(head) - 1);
  o = sizeof(head) - 1;
  for (i = 0; i < n; i++) {
    b[o++] = ',';
    b[o++] = '0';
  }
  memcpy(b + o, tail, sizeof(tail) - 1);
  *len = o + sizeof(tail) - 1;
  assert_int_equal(count_tokens(b, *len), tokens);
  return b;
}

/* The tree is bounded before jansson builds it: at most
 * MTS_RPT_REPORT_MAX_TOKENS, unknown keys included. */
static void test_too_many_tokens(void **state) {
  struct mts_ctx *ctx = NULL; /* libc allocator: cmocka's is slow here */
  const struct mts_findings *fs;
  struct mts_rpt_report *r;
  size_t len;
  char *b;

  (void)state;
  assert_int_equal(mts_ctx_create(NULL, &ctx), MTS_OK);
  b = padded_report(MTS_RPT_REPORT_MAX_TOKENS, &len);
  r = parse_mem(ctx, b, len);
  assert_true(mts_rpt_report_usable(r));
  assert_true(has(r, "report-unknown-key"));
  assert_false(has(r, "report-too-many-tokens"));
  mts_rpt_report_destroy(r);
  free(b);

  b = padded_report(MTS_RPT_REPORT_MAX_TOKENS + 1, &len);
  r = parse_mem(ctx, b, len);
  fs = mts_rpt_report_findings(r);
  assert_false(mts_rpt_report_usable(r));
  assert_int_equal(mts_findings_count(fs), 1);
  assert_string_equal(mts_findings_get(fs, 0)->code, "report-too-many-tokens");
  assert_int_equal(mts_findings_get(fs, 0)->severity, MTS_SEV_ERROR);
  assert_null(mts_rpt_report_data(r)->report_id); /* not parsed at all */
  mts_rpt_report_destroy(r);
  free(b);

  /* 32 MiB of "{}," under an unknown key (~2.4 GB as a jansson tree) */
  len = MTS_RPT_REPORT_MAX;
  b = malloc(len);
  assert_non_null(b);
  memset(b, ' ', len);
  memcpy(b, "{\"x\":[{}", 8);
  for (size_t i = 8; i + 3 + 2 <= len; i += 3) {
    memcpy(b + i, ",{}", 3);
  }
  memcpy(b + len - 2, "]}", 2);
  r = parse_mem(ctx, b, len);
  assert_int_equal(mts_findings_count(mts_rpt_report_findings(r)), 1);
  assert_true(has(r, "report-too-many-tokens"));
  mts_rpt_report_destroy(r);
  free(b);
  mts_ctx_destroy(ctx);
}

static void test_args(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct mts_rpt_report *r = (struct mts_rpt_report *)1;

  (void)state;
  assert_int_equal(mts_rpt_report_parse(NULL, (const uint8_t *)"{}", 2, &r),
                   MTS_EINVAL);
  assert_null(r);
  assert_int_equal(mts_rpt_report_parse(ctx, (const uint8_t *)"{}", 2, NULL),
                   MTS_EINVAL);
  assert_int_equal(mts_rpt_report_parse(ctx, NULL, 1, &r), MTS_EINVAL);
  assert_int_equal(mts_rpt_report_parse(ctx, NULL, 0, &r), MTS_OK);
  assert_false(mts_rpt_report_usable(r));
  mts_rpt_report_destroy(r);
  mts_rpt_report_destroy(NULL);
  assert_null(mts_rpt_report_data(NULL));
  assert_null(mts_rpt_report_findings(NULL));
  assert_false(mts_rpt_report_valid(NULL));
  assert_false(mts_rpt_report_usable(NULL));
  mts_ctx_destroy(ctx);
}

/* ---- allocation failures ---- */

struct sweep_arg {
  const uint8_t *buf;
  size_t len;
};

static enum mts_status sweep_op(struct mts_ctx *ctx, void *arg) {
  struct sweep_arg *s = arg;
  struct mts_rpt_report *r = NULL;
  enum mts_status st = mts_rpt_report_parse(ctx, s->buf, s->len, &r);

  if (st == MTS_OK) {
    assert_non_null(r);
  } else {
    assert_null(r);
  }
  mts_rpt_report_destroy(r);
  return st;
}

static void test_alloc_sweep(void **state) {
  static const char *const files[] = {"rfc8460-appendix-b-mx-host-string.json",
                                      "three-policy-types-offset-times.json",
                                      "microsoft-quirks-no-zone-no-ip.json",
                                      "bad-count-string.json",
                                      "bad-truncated.json",
                                      "bad-invalid-utf8.json"};
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
    struct sweep_arg s;
    uint8_t *buf = read_fixture(files[i], &s.len);

    s.buf = buf;
    assert_true(mts_test_alloc_sweep(sweep_op, &s) > 0);
    free(buf);
  }
  /* past the findings cap: the truncation finding and its message */
  {
    struct sweep_arg s;
    char *b = with_details(MTS_RPT_REPORT_MAX_FINDINGS + 5,
                           FD_OK("validation-failure", ""),
                           "{\"result-type\":\"validation-failure\"}", &s.len);

    s.buf = (const uint8_t *)b;
    assert_true(mts_test_alloc_sweep(sweep_op, &s) > 0);
    free(b);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fixtures),
      cmocka_unit_test(test_data_appendix_b),
      cmocka_unit_test(test_data_quirks),
      cmocka_unit_test(test_vectors),
      cmocka_unit_test(test_json_position),
      cmocka_unit_test(test_too_big),
      cmocka_unit_test(test_too_many_items),
      cmocka_unit_test(test_findings_amplification),
      cmocka_unit_test(test_findings_cap_verdicts),
      cmocka_unit_test(test_too_many_tokens),
      cmocka_unit_test(test_args),
      cmocka_unit_test(test_alloc_sweep),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
