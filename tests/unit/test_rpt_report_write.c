/*
 * test_rpt_report_write.c - the RFC 8460 report writer
 * (RFC-CHECKLIST 2.2, 2.8; DLV-3, DLV-11):
 * - EXACT: the bytes of a small report (skeleton key order, compact,
 *   "Z" times, omitted NULLs, arrays for policy-string and mx-host);
 * - RT-*: fixtures parsed, written, parsed again: usable (valid when the
 *   written report had nothing to warn about) with identical data;
 * - REF-*: refused reports (MTS_EINVAL);
 * - GZ: gzip output inflates (zlib) to the JSON text;
 * - allocation-failure sweeps of both writers.
 */
#include "testutil.h"

#include <stdlib.h>
#include <zlib.h>

#include <mtasts/rpt_report.h>
#include <mtasts/rpt_report_write.h>

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

static void assert_str_eq(const char *a, const char *b) {
  if (a == NULL || b == NULL) {
    assert_ptr_equal(a, b);
  } else {
    assert_string_equal(a, b);
  }
}

/* Data equality after a round trip: all fields but the zone flags;
 * policy-string is always written for sts and tlsa. */
static void assert_same(const struct mts_rpt_report_data *a,
                        const struct mts_rpt_report_data *b) {
  size_t i, j;

  assert_str_eq(a->organization_name, b->organization_name);
  assert_int_equal(a->start, b->start);
  assert_int_equal(a->end, b->end);
  assert_true(b->start_had_zone && b->end_had_zone);
  assert_str_eq(a->contact_info, b->contact_info);
  assert_str_eq(a->report_id, b->report_id);
  assert_int_equal(a->npolicies, b->npolicies);
  for (i = 0; i < a->npolicies; i++) {
    const struct mts_rpt_policy *p = &a->policies[i], *q = &b->policies[i];

    assert_str_eq(p->policy_type, q->policy_type);
    assert_str_eq(p->policy_domain, q->policy_domain);
    assert_int_equal(q->has_policy_string,
                     p->has_policy_string ||
                         strcmp(p->policy_type, "no-policy-found") != 0);
    assert_int_equal(p->npolicy_strings, q->npolicy_strings);
    for (j = 0; j < p->npolicy_strings; j++) {
      assert_str_eq(p->policy_strings[j], q->policy_strings[j]);
    }
    assert_int_equal(p->nmx_hosts, q->nmx_hosts);
    for (j = 0; j < p->nmx_hosts; j++) {
      assert_str_eq(p->mx_hosts[j], q->mx_hosts[j]);
    }
    assert_int_equal(p->total_successful, q->total_successful);
    assert_int_equal(p->total_failure, q->total_failure);
    assert_int_equal(p->nfailures, q->nfailures);
    for (j = 0; j < p->nfailures; j++) {
      const struct mts_rpt_failure *f = &p->failures[j], *g = &q->failures[j];

      assert_str_eq(f->result_type, g->result_type);
      assert_str_eq(f->sending_mta_ip, g->sending_mta_ip);
      assert_str_eq(f->receiving_mx_hostname, g->receiving_mx_hostname);
      assert_str_eq(f->receiving_mx_helo, g->receiving_mx_helo);
      assert_str_eq(f->receiving_ip, g->receiving_ip);
      assert_int_equal(f->failed_session_count, g->failed_session_count);
      assert_str_eq(f->additional_information, g->additional_information);
      assert_str_eq(f->failure_reason_code, g->failure_reason_code);
    }
  }
}

/* ---- a report built by hand ---- */

static const char *const sts_strings[] = {
    "version: STSv1", "mode: enforce", "mx: *.example.com", "max_age: 604800"};
static const char *const sts_mx[] = {"*.example.com"};

static struct mts_rpt_failure failures[2];
static struct mts_rpt_policy policies[2];
static struct mts_rpt_report_data report;

static int setup(void **state) {
  (void)state;
  memset(failures, 0, sizeof(failures));
  memset(policies, 0, sizeof(policies));
  memset(&report, 0, sizeof(report));
  failures[0].result_type = "certificate-expired";
  failures[0].sending_mta_ip = "192.0.2.1";
  failures[0].receiving_mx_hostname = "mx1.example.com";
  failures[0].receiving_ip = "198.51.100.25";
  failures[0].failed_session_count = 2;
  failures[1].result_type = "validation-failure";
  failures[1].sending_mta_ip = "2001:db8::1";
  failures[1].receiving_mx_hostname = "mx2.example.com";
  failures[1].receiving_mx_helo = "mx2.example.com ESMTP \"quoted\"";
  failures[1].receiving_ip = "2001:db8::25";
  failures[1].failed_session_count = 1;
  failures[1].additional_information = "https://r.example/x?a=1&b=2";
  failures[1].failure_reason_code = "X509_V_ERR_CERT_UNTRUSTED";
  policies[0].policy_type = "sts";
  policies[0].policy_domain = "example.com";
  policies[0].policy_strings = sts_strings;
  policies[0].npolicy_strings = 4;
  policies[0].has_policy_string = true;
  policies[0].mx_hosts = sts_mx;
  policies[0].nmx_hosts = 1;
  policies[0].total_successful = 5326;
  policies[0].total_failure = 3;
  policies[0].failures = failures;
  policies[0].nfailures = 2;
  policies[1].policy_type = "no-policy-found";
  policies[1].policy_domain = "example.org";
  policies[1].total_successful = 9007199254740992ULL;
  report.organization_name = "Example \xc3\x89 Org";
  report.start = 1717200000; /* 2024-06-01T00:00:00Z */
  report.end = 1717286399;
  report.start_had_zone = report.end_had_zone = true;
  report.contact_info = "tlsrpt@sender.example";
  report.report_id = "2024-06-01_example.com";
  report.policies = policies;
  report.npolicies = 2;
  return 0;
}

static const char exact[] =
    "{\"organization-name\":\"Example \xc3\x89 Org\",\"date-range\":{"
    "\"start-datetime\":\"2024-06-01T00:00:00Z\",\"end-datetime\":"
    "\"2024-06-01T23:59:59Z\"},\"contact-info\":\"tlsrpt@sender.example\","
    "\"report-id\":\"2024-06-01_example.com\",\"policies\":[{\"policy\":{"
    "\"policy-type\":\"sts\",\"policy-string\":[\"version: STSv1\",\"mode: "
    "enforce\",\"mx: *.example.com\",\"max_age: 604800\"],\"policy-domain\":"
    "\"example.com\",\"mx-host\":[\"*.example.com\"]},\"summary\":{"
    "\"total-successful-session-count\":5326,\"total-failure-session-count\""
    ":3},\"failure-details\":[{\"result-type\":\"certificate-expired\","
    "\"sending-mta-ip\":\"192.0.2.1\",\"receiving-mx-hostname\":"
    "\"mx1.example.com\",\"receiving-ip\":\"198.51.100.25\","
    "\"failed-session-count\":2},{\"result-type\":\"validation-failure\","
    "\"sending-mta-ip\":\"2001:db8::1\",\"receiving-mx-hostname\":"
    "\"mx2.example.com\",\"receiving-mx-helo\":\"mx2.example.com ESMTP "
    "\\\"quoted\\\"\",\"receiving-ip\":\"2001:db8::25\","
    "\"failed-session-count\":1,\"additional-information\":"
    "\"https://r.example/x?a=1&b=2\",\"failure-reason-code\":"
    "\"X509_V_ERR_CERT_UNTRUSTED\"}]},{\"policy\":{\"policy-type\":"
    "\"no-policy-found\",\"policy-domain\":\"example.org\"},\"summary\":{"
    "\"total-successful-session-count\":9007199254740992,"
    "\"total-failure-session-count\":0}}]}";

static void test_exact(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct mts_rpt_report *r;
  char *json = NULL;
  size_t len = 0;

  (void)state;
  assert_int_equal(mts_rpt_report_write_json(ctx, &report, &json, &len),
                   MTS_OK);
  assert_string_equal(json, exact);
  assert_int_equal(len, strlen(exact));
  r = parse_mem(ctx, json, len);
  assert_true(mts_rpt_report_valid(r));
  assert_int_equal(mts_findings_count(mts_rpt_report_findings(r)), 0);
  assert_same(&report, mts_rpt_report_data(r));
  mts_rpt_report_destroy(r);
  mts_rpt_report_write_free(ctx, json);
  mts_rpt_report_write_free(ctx, NULL);
  mts_ctx_destroy(ctx);
}

/* Times before 1970 and at the end of year 9999; "" optional strings
 * are omitted like NULL; an sts policy without strings gets []. */
static void test_edges(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct mts_rpt_report *r;
  char *json = NULL;
  size_t len = 0;

  (void)state;
  report.start = -86401; /* 1969-12-30T23:59:59Z */
  report.end = 253402300799;
  report.contact_info = "";
  report.npolicies = 1;
  policies[0].npolicy_strings = 0;
  policies[0].has_policy_string = false;
  policies[0].nmx_hosts = 0;
  policies[0].nfailures = 0;
  assert_int_equal(mts_rpt_report_write_json(ctx, &report, &json, &len),
                   MTS_OK);
  assert_string_equal(
      json, "{\"organization-name\":\"Example \xc3\x89 Org\",\"date-range\":{"
            "\"start-datetime\":\"1969-12-30T23:59:59Z\",\"end-datetime\":"
            "\"9999-12-31T23:59:59Z\"},\"report-id\":\"2024-06-01_example."
            "com\",\"policies\":[{\"policy\":{\"policy-type\":\"sts\","
            "\"policy-string\":[],\"policy-domain\":\"example.com\"},"
            "\"summary\":{\"total-successful-session-count\":5326,"
            "\"total-failure-session-count\":3}}]}");
  r = parse_mem(ctx, json, len);
  assert_true(mts_rpt_report_usable(r));
  /* without contact-info the output is usable, with one warning */
  assert_non_null(
      mts_findings_find(mts_rpt_report_findings(r), "report-no-contact-info"));
  assert_int_equal(mts_rpt_report_data(r)->start, -86401);
  assert_int_equal(mts_rpt_report_data(r)->end, 253402300799);
  assert_true(mts_rpt_report_data(r)->policies[0].has_policy_string);
  mts_rpt_report_destroy(r);
  mts_rpt_report_write_free(ctx, json);
  mts_ctx_destroy(ctx);
}

/* ---- refusals ---- */

static void test_refused(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  static const char *const bad_mx[] = {"mx.b\xc3\xbc"
                                       "cher.example"};
  static const char *const bad_str[] = {"x\xff"};
  char *json = (char *)1;
  uint8_t *gz = (uint8_t *)1;
  size_t len = 7;
  int i;

  (void)state;
  assert_int_equal(mts_rpt_report_write_json(NULL, &report, &json, &len),
                   MTS_EINVAL);
  assert_null(json);
  assert_int_equal(len, 0);
  assert_int_equal(mts_rpt_report_write_json(ctx, NULL, &json, &len),
                   MTS_EINVAL);
  assert_int_equal(mts_rpt_report_write_json(ctx, &report, NULL, &len),
                   MTS_EINVAL);
  assert_int_equal(mts_rpt_report_write_json(ctx, &report, &json, NULL),
                   MTS_EINVAL);
  assert_int_equal(mts_rpt_report_write_gzip(ctx, &report, NULL, &len),
                   MTS_EINVAL);
  for (i = 0; i < 22; i++) {
    const char *id = "";

    setup(NULL);
    switch (i) {
    case 0:
      id = "REF-no-report-id";
      report.report_id = NULL;
      break;
    case 1:
      id = "REF-empty-report-id";
      report.report_id = "";
      break;
    case 2:
      id = "REF-no-org";
      report.organization_name = NULL;
      break;
    case 3:
      id = "REF-start-after-end";
      report.start = report.end + 1;
      break;
    case 4:
      id = "REF-policy-type-STS";
      policies[0].policy_type = "STS";
      break;
    case 5:
      id = "REF-policy-type-NULL";
      policies[1].policy_type = NULL;
      break;
    case 6:
      id = "REF-domain-ulabel";
      policies[0].policy_domain = "b\xc3\xbc"
                                  "cher.example";
      break;
    case 7:
      id = "REF-domain-trailing-dot";
      policies[0].policy_domain = "example.com.";
      break;
    case 8:
      id = "REF-domain-NULL";
      policies[0].policy_domain = NULL;
      break;
    case 9:
      id = "REF-mx-ulabel";
      policies[0].mx_hosts = bad_mx;
      break;
    case 10:
      id = "REF-receiving-mx-underscore";
      failures[0].receiving_mx_hostname = "mx_1.example.com";
      break;
    case 11:
      id = "REF-org-not-utf8";
      report.organization_name = "a\xff";
      break;
    case 12:
      id = "REF-helo-not-utf8";
      failures[1].receiving_mx_helo = "\xc0\xaf";
      break;
    case 13:
      id = "REF-policy-string-not-utf8";
      policies[0].policy_strings = bad_str;
      policies[0].npolicy_strings = 1;
      break;
    case 14:
      id = "REF-no-policies";
      report.npolicies = 0;
      break;
    case 15:
      id = "REF-policies-NULL";
      report.policies = NULL;
      break;
    case 16:
      id = "REF-count-2p53-plus-1";
      policies[0].total_failure = 9007199254740993ULL;
      break;
    case 17:
      id = "REF-failed-count-huge";
      failures[0].failed_session_count = UINT64_MAX;
      break;
    case 18:
      id = "REF-result-type-NULL";
      failures[1].result_type = NULL;
      break;
    case 19:
      id = "REF-year-10000";
      report.end = 253402300800;
      break;
    case 20:
      id = "REF-failures-NULL";
      policies[0].failures = NULL;
      break;
    case 21:
      id = "REF-hyphen-label";
      policies[0].policy_domain = "-a.example.com";
      break;
    }
    json = NULL;
    if (mts_rpt_report_write_json(ctx, &report, &json, &len) != MTS_EINVAL) {
      fail_msg("%s: not refused: %s", id, json);
    }
    assert_null(json);
    if (mts_rpt_report_write_gzip(ctx, &report, &gz, &len) != MTS_EINVAL) {
      fail_msg("%s: gzip not refused", id);
    }
    assert_null(gz);
  }
  mts_ctx_destroy(ctx);
}

/* ---- round trips ---- */

static void round_trip(struct mts_ctx *ctx, const char *file, bool want_valid) {
  size_t len, jlen = 0;
  uint8_t *buf = read_fixture(file, &len);
  struct mts_rpt_report *r = parse_mem(ctx, buf, len), *r2;
  char *json = NULL;

  free(buf);
  assert_true(mts_rpt_report_usable(r));
  if (mts_rpt_report_write_json(ctx, mts_rpt_report_data(r), &json, &jlen) !=
      MTS_OK) {
    fail_msg("%s: not written", file);
  }
  r2 = parse_mem(ctx, json, jlen);
  if (!mts_rpt_report_usable(r2) || mts_rpt_report_valid(r2) != want_valid) {
    fail_msg("%s: written report usable %d valid %d", file,
             mts_rpt_report_usable(r2), mts_rpt_report_valid(r2));
  }
  assert_same(mts_rpt_report_data(r), mts_rpt_report_data(r2));
  mts_rpt_report_destroy(r2);
  mts_rpt_report_destroy(r);
  mts_rpt_report_write_free(ctx, json);
}

static void test_round_trip(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);

  (void)state;
  round_trip(ctx, "rfc8460-appendix-b-corrected.json", true);
  /* the writer repairs what the parser tolerated */
  round_trip(ctx, "rfc8460-appendix-b-mx-host-string.json", true);
  round_trip(ctx, "policies-object.json", true);
  round_trip(ctx, "three-policy-types-offset-times.json", true);
  round_trip(ctx, "big-250-failure-details.json", true);
  round_trip(ctx, "real-google-no-policy-found.json", true);
  round_trip(ctx, "real-smtp-tls-testing.json", true);
  round_trip(ctx, "unknown-result-type-and-key.json", true);
  /* what the writer cannot invent stays a warning */
  round_trip(ctx, "microsoft-quirks-no-zone-no-ip.json", false);
  round_trip(ctx, "google-quirks-empty-sending-ip.json", false);
  round_trip(ctx, "real-mailru.json", false);
  round_trip(ctx, "real-empty-failure-detail-fields.json", false);
  round_trip(ctx, "contact-info-null.json", false);
  mts_ctx_destroy(ctx);
}

/* ---- gzip ---- */

static void test_gzip(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  char *json = NULL;
  uint8_t *gz = NULL, *plain;
  size_t jlen = 0, glen = 0;
  z_stream zs;

  (void)state;
  assert_int_equal(mts_rpt_report_write_json(ctx, &report, &json, &jlen),
                   MTS_OK);
  assert_int_equal(mts_rpt_report_write_gzip(ctx, &report, &gz, &glen), MTS_OK);
  assert_true(glen > 18);
  assert_int_equal(gz[0], 0x1f); /* RFC 1952 magic (DLV-11) */
  assert_int_equal(gz[1], 0x8b);
  assert_int_equal(gz[2], 8); /* deflate */
  assert_true(glen < jlen);
  plain = malloc(jlen + 16);
  assert_non_null(plain);
  memset(&zs, 0, sizeof(zs));
  assert_int_equal(inflateInit2(&zs, 15 + 16), Z_OK);
  zs.next_in = gz;
  zs.avail_in = (uInt)glen;
  zs.next_out = plain;
  zs.avail_out = (uInt)(jlen + 16);
  assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
  assert_int_equal(zs.total_out, jlen);
  assert_int_equal(zs.avail_in, 0); /* no trailing bytes */
  assert_memory_equal(plain, json, jlen);
  inflateEnd(&zs);
  free(plain);
  mts_rpt_report_write_free(ctx, gz);
  mts_rpt_report_write_free(ctx, json);
  mts_ctx_destroy(ctx);
}

/* ---- allocation failures ---- */

static enum mts_status sweep_json(struct mts_ctx *ctx, void *arg) {
  char *json = (char *)1;
  size_t len = 1;
  enum mts_status st = mts_rpt_report_write_json(ctx, arg, &json, &len);

  if (st == MTS_OK) {
    assert_string_equal(json, exact);
  } else {
    assert_null(json);
    assert_int_equal(len, 0);
  }
  mts_rpt_report_write_free(ctx, json);
  return st;
}

static enum mts_status sweep_gzip(struct mts_ctx *ctx, void *arg) {
  uint8_t *gz = (uint8_t *)1;
  size_t len = 1;
  enum mts_status st = mts_rpt_report_write_gzip(ctx, arg, &gz, &len);

  if (st != MTS_OK) {
    assert_null(gz);
    assert_int_equal(len, 0);
  }
  mts_rpt_report_write_free(ctx, gz);
  return st;
}

/* Parse + write of a large fixture: every allocation of both. */
static enum mts_status sweep_parse_write(struct mts_ctx *ctx, void *arg) {
  const char *text = arg;
  struct mts_rpt_report *r = NULL;
  char *json = NULL;
  size_t len = 0;
  enum mts_status st =
      mts_rpt_report_parse(ctx, (const uint8_t *)text, strlen(text), &r);

  if (st != MTS_OK) {
    return st;
  }
  st = mts_rpt_report_write_json(ctx, mts_rpt_report_data(r), &json, &len);
  mts_rpt_report_destroy(r);
  mts_rpt_report_write_free(ctx, json);
  return st;
}

static void test_alloc_sweep(void **state) {
  char *text = strdup(exact);

  (void)state;
  assert_non_null(text);
  assert_true(mts_test_alloc_sweep(sweep_json, &report) >= 1);
  assert_true(mts_test_alloc_sweep(sweep_gzip, &report) >= 3);
  assert_true(mts_test_alloc_sweep(sweep_parse_write, text) > 1);
  free(text);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(test_exact, setup),
      cmocka_unit_test_setup(test_edges, setup),
      cmocka_unit_test_setup(test_refused, setup),
      cmocka_unit_test_setup(test_round_trip, setup),
      cmocka_unit_test_setup(test_gzip, setup),
      cmocka_unit_test_setup(test_alloc_sweep, setup),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
