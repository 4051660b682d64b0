/*
 * test_rpt_datagram.c - libtlsrpt datagrams (TLSRPT-NOTES 1.2-1.4,
 * 4 items 3-6). Vectors are named after the notes' section: N12 = 1.2
 * (layout), N13 = 1.3 (codes), N14 = 1.4 (size), N15 = 1.5 (Postfix
 * versions); BAD = hostile input.
 */
#include "testutil.h"

#include <mtasts/rpt_datagram.h>

/* TLSRPT-NOTES 1.2: the observed bytes of an STS failure [ran]. */
#define STS_FAIL                                                              \
  "{\"dpv\": \"1\",\"d\": \"example.com\",\"pr\": \"v=TLSRPTv1; "            \
  "rua=mailto:tlsrpt@example.com\",\"policies\":[{\"policy-type\":2,"       \
  "\"policy-domain\": \"example.com\",\"policy-string\":[\"version: "       \
  "STSv1\",\"mode: enforce\",\"mx: mail.example.com\",\"max_age: "          \
  "604800\"],\"mx-host\":[\"mail.example.com\"],\"failure-details\":[{"     \
  "\"c\":205,\"s\": \"192.0.2.1\",\"n\": \"mail.example.com\",\"h\": "      \
  "\"250-mail.example.com\\r\\n250 STARTTLS\",\"r\": \"198.51.100.7\","     \
  "\"f\": \"self-signed_certificate\"}],\"t\":1,\"f\":1}]}"
/* TLSRPT-NOTES 1.2: a no-policy-found success with NULL policy domain. */
#define NPF_HEAD                                                              \
  "{\"dpv\": \"1\",\"d\": \"example.org\",\"pr\": \"v=TLSRPTv1; "            \
  "rua=mailto:tlsrpt@example.org\",\"policies\":["
#define NPF NPF_HEAD "{\"policy-type\":9,\"t\":0,\"f\":0}]}"
#define FAIL_WITH(c, extra)                                                   \
  "{\"dpv\": \"1\",\"d\": \"example.com\",\"pr\": \"v=TLSRPTv1; "            \
  "rua=mailto:r@example.com\",\"policies\":[{\"policy-type\":2,"            \
  "\"policy-domain\": \"example.com\",\"failure-details\":[{\"c\":" c       \
  extra "}],\"t\":1,\"f\":1}]}"

struct vec {
  const char *id;
  const char *in;
  size_t len; /* 0: strlen(in) */
  bool usable;
  bool valid;
  const char *finding; /* a finding that must be present, or NULL */
  const char *result_type; /* of policy 0 failure 0, when usable */
};

static const struct vec vecs[] = {
    {"N12-sts-failure", STS_FAIL, 0, true, true, NULL, "validation-failure"},
    {"N12-no-policy-found", NPF, 0, true, true, "dgram-no-policy-domain",
     NULL},
    {"N12-dpv-absent-0.5.0rc1",
     "{\"d\": \"example.org\",\"pr\": \"v=TLSRPTv1; rua=mailto:a@b.c\","
     "\"policies\":[{\"policy-type\":9,\"t\":0,\"f\":0}]}",
     0, true, true, "dgram-no-dpv", NULL},
    {"N12-dpv-2",
     "{\"dpv\": \"2\",\"d\": \"example.org\",\"pr\": \"v=TLSRPTv1;\","
     "\"policies\":[{\"policy-type\":9,\"t\":0,\"f\":0}]}",
     0, true, false, "dgram-unknown-dpv", NULL},
    {"N12-dpv-number",
     "{\"dpv\":1,\"d\": \"example.org\",\"pr\": \"v=TLSRPTv1;\","
     "\"policies\":[{\"policy-type\":9,\"t\":0,\"f\":0}]}",
     0, false, false, "dgram-wrong-type", NULL},
    {"N12-raw-0xff-in-a", FAIL_WITH("205", ",\"a\": \"x\xffy\""), 0, true,
     false, "dgram-invalid-utf8", "validation-failure"},
    {"N12-empty-s", FAIL_WITH("205", ",\"s\": \"\""), 0, true, true,
     "dgram-empty-value", "validation-failure"},
    {"N12-t-mismatch",
     NPF_HEAD "{\"policy-type\":9,\"t\":1,\"f\":0}]}", 0, true, false,
     "dgram-count-mismatch", NULL},
    {"N12-success-with-details",
     NPF_HEAD "{\"policy-type\":9,\"failure-details\":[{\"c\":201}],"
              "\"t\":1,\"f\":0}]}",
     0, true, false, "dgram-success-with-failures", "starttls-not-supported"},
    {"N12-failure-without-details",
     NPF_HEAD "{\"policy-type\":9,\"t\":0,\"f\":1}]}", 0, true, false,
     "dgram-failure-without-details", NULL},
    {"N12-unknown-keys-ignored",
     NPF_HEAD "{\"policy-type\":9,\"x\":[1,{\"y\":null}],\"t\":0,\"f\":0}],"
              "\"z\":true}",
     0, true, true, "dgram-unknown-key", NULL},
    {"N12-two-mx-hosts", FAIL_WITH("205", "") /* patched below */, 0, true,
     true, NULL, "validation-failure"},
    {"N12-mx-host-string",
     NPF_HEAD "{\"policy-type\":2,\"mx-host\":\"mx.example.org\","
              "\"t\":0,\"f\":0}]}",
     0, false, false, "dgram-wrong-type", NULL},
    {"N13-201", FAIL_WITH("201", ""), 0, true, true, NULL,
     "starttls-not-supported"},
    {"N13-202", FAIL_WITH("202", ""), 0, true, true, NULL,
     "certificate-host-mismatch"},
    {"N13-203", FAIL_WITH("203", ""), 0, true, true, NULL,
     "certificate-not-trusted"},
    {"N13-204", FAIL_WITH("204", ""), 0, true, true, NULL,
     "certificate-expired"},
    {"N13-205", FAIL_WITH("205", ""), 0, true, true, NULL,
     "validation-failure"},
    {"N13-301", FAIL_WITH("301", ""), 0, true, true, NULL,
     "sts-policy-fetch-error"},
    {"N13-302", FAIL_WITH("302", ""), 0, true, true, NULL,
     "sts-policy-invalid"},
    {"N13-303", FAIL_WITH("303", ""), 0, true, true, NULL,
     "sts-webpki-invalid"},
    {"N13-304", FAIL_WITH("304", ""), 0, true, true, NULL, "tlsa-invalid"},
    {"N13-305", FAIL_WITH("305", ""), 0, true, true, NULL, "dnssec-invalid"},
    {"N13-306", FAIL_WITH("306", ""), 0, true, true, NULL, "dane-required"},
    {"N13-901-internal", FAIL_WITH("901", ""), 0, true, false,
     "dgram-unknown-code", NULL},
    {"N13-999-unknown", FAIL_WITH("999", ""), 0, true, false,
     "dgram-unknown-code", NULL},
    {"N13-bad-ip", FAIL_WITH("205", ",\"r\": \"not-an-ip\""), 0, true, false,
     "dgram-bad-ip", "validation-failure"},
    {"N13-ipv6", FAIL_WITH("205", ",\"r\": \"2001:db8::25\""), 0, true, true,
     NULL, "validation-failure"},
    {"BAD-policies-empty", NPF_HEAD "]}", 0, false, false, "dgram-no-policies",
     NULL},
    {"BAD-policies-object",
     "{\"dpv\": \"1\",\"d\": \"a.example\",\"pr\": \"v=TLSRPTv1;\","
     "\"policies\":{\"policy-type\":9,\"t\":0,\"f\":0}}",
     0, false, false, "dgram-wrong-type", NULL},
    {"BAD-policy-type-7", NPF_HEAD "{\"policy-type\":7,\"t\":0,\"f\":0}]}", 0,
     false, false, "dgram-bad-policy-type", NULL},
    {"BAD-policy-type-string",
     NPF_HEAD "{\"policy-type\":\"sts\",\"t\":0,\"f\":0}]}", 0, false, false,
     "dgram-wrong-type", NULL},
    {"BAD-policy-type-real", NPF_HEAD "{\"policy-type\":9.0,\"t\":0,\"f\":0}]}",
     0, false, false, "dgram-wrong-type", NULL},
    {"BAD-f-2", NPF_HEAD "{\"policy-type\":9,\"t\":0,\"f\":2}]}", 0, false,
     false, "dgram-bad-value", NULL},
    {"BAD-t-negative", NPF_HEAD "{\"policy-type\":9,\"t\":-1,\"f\":0}]}", 0,
     false, false, "dgram-bad-value", NULL},
    {"BAD-t-missing", NPF_HEAD "{\"policy-type\":9,\"f\":0}]}", 0, false,
     false, "dgram-missing-key", NULL},
    {"BAD-c-missing", FAIL_WITH("205", "") /* patched below */, 0, false,
     false, "dgram-missing-key", NULL},
    {"BAD-d-missing",
     "{\"dpv\": \"1\",\"pr\": \"v=TLSRPTv1;\",\"policies\":[{\"policy-type\":"
     "9,\"t\":0,\"f\":0}]}",
     0, false, false, "dgram-missing-key", NULL},
    {"BAD-d-ulabel",
     "{\"d\": \"b\xc3\xbc" "cher.example\",\"pr\": \"v=TLSRPTv1;\","
     "\"policies\":[{\"policy-type\":9,\"t\":0,\"f\":0}]}",
     0, false, false, "dgram-bad-domain", NULL},
    {"BAD-d-path",
     "{\"d\": \"../../etc\",\"pr\": \"v=TLSRPTv1;\","
     "\"policies\":[{\"policy-type\":9,\"t\":0,\"f\":0}]}",
     0, false, false, "dgram-bad-domain", NULL},
    {"BAD-duplicate-key",
     "{\"d\": \"a.example\",\"d\": \"b.example\",\"pr\": \"v=TLSRPTv1;\","
     "\"policies\":[{\"policy-type\":9,\"t\":0,\"f\":0}]}",
     0, false, false, "dgram-duplicate-key", NULL},
    {"BAD-truncated", STS_FAIL, 120, false, false, "dgram-json", NULL},
    {"BAD-not-object", "[1,2,3]", 0, false, false, "dgram-not-object", NULL},
    {"BAD-empty", "", 0, false, false, "dgram-json", NULL},
    {"BAD-nul-escape",
     "{\"d\": \"a.example\",\"pr\": \"v=TLSRPTv1;\\u0000\","
     "\"policies\":[{\"policy-type\":9,\"t\":0,\"f\":0}]}",
     0, false, false, "dgram-json", NULL},
    {"BAD-raw-nul", NPF "\0", sizeof(NPF), false, false, "dgram-json", NULL},
    {"BAD-trailing-garbage", NPF "x", 0, false, false, "dgram-json", NULL},
    {"BAD-lone-surrogate",
     "{\"d\": \"a.example\",\"pr\": \"v=TLSRPTv1;\\ud800\","
     "\"policies\":[{\"policy-type\":9,\"t\":0,\"f\":0}]}",
     0, false, false, "dgram-json", NULL},
    {"BAD-huge-int",
     NPF_HEAD "{\"policy-type\":99999999999999999999,\"t\":0,\"f\":0}]}", 0,
     false, false, "dgram-json", NULL},
    {"BAD-int-range",
     NPF_HEAD "{\"policy-type\":9,\"t\":9999999999,\"f\":0}]}", 0, false,
     false, "dgram-bad-value", NULL},
    {"OK-trailing-newline", NPF "\n", 0, true, true, NULL, NULL},
};

static const char *patched(const struct vec *v, char *buf, size_t cap) {
  /* two vectors are easier to state as edits of STS_FAIL */
  const char *s = STS_FAIL;
  const char *from, *to;
  const char *hit;
  size_t pre;

  if (strcmp(v->id, "N12-two-mx-hosts") == 0) {
    from = "\"mx-host\":[\"mail.example.com\"]";
    to = "\"mx-host\":[\"mail.example.com\",\"*.example.com\"]";
  } else if (strcmp(v->id, "BAD-c-missing") == 0) {
    from = "\"c\":205,";
    to = "";
  } else {
    return v->in;
  }
  hit = strstr(s, from);
  assert_non_null(hit);
  pre = (size_t)(hit - s);
  assert_true(strlen(s) + strlen(to) < cap);
  memcpy(buf, s, pre);
  memcpy(buf + pre, to, strlen(to));
  memcpy(buf + pre + strlen(to), hit + strlen(from),
         strlen(hit + strlen(from)) + 1);
  return buf;
}

static void test_vectors(void **state) {
  size_t i;
  char buf[2048];

  (void)state;
  for (i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
    const struct vec *v = &vecs[i];
    const char *in = patched(v, buf, sizeof(buf));
    size_t len = v->len != 0 ? v->len : strlen(in);
    struct mts_test_alloc a;
    struct mts_ctx *ctx = mts_test_ctx(&a, 0);
    struct mts_rpt_datagram *dg = NULL;
    const struct mts_findings *fs;

    assert_int_equal(
        mts_rpt_datagram_parse(ctx, (const uint8_t *)in, len, &dg), MTS_OK);
    fs = mts_rpt_datagram_findings(dg);
    if (mts_rpt_datagram_usable(dg) != v->usable) {
      fail_msg("%s: usable got %d, want %d (first finding %s)", v->id,
               mts_rpt_datagram_usable(dg), v->usable,
               mts_findings_count(fs) > 0 ? mts_findings_get(fs, 0)->message
                                          : "none");
    }
    if (mts_rpt_datagram_valid(dg) != v->valid) {
      fail_msg("%s: valid got %d, want %d (first finding %s)", v->id,
               mts_rpt_datagram_valid(dg), v->valid,
               mts_findings_count(fs) > 0 ? mts_findings_get(fs, 0)->code
                                          : "none");
    }
    if (v->finding != NULL && mts_findings_find(fs, v->finding) == NULL) {
      fail_msg("%s: finding %s missing", v->id, v->finding);
    }
    if (v->usable) {
      const struct mts_rpt_dgram_policy *p = mts_rpt_datagram_policy(dg, 0);
      const char *got;

      assert_non_null(p);
      got = p->nfailures > 0 ? p->failures[0].result_type : NULL;
      if (!((got == NULL && v->result_type == NULL) ||
            (got != NULL && v->result_type != NULL &&
             strcmp(got, v->result_type) == 0))) {
        fail_msg("%s: result_type got %s, want %s", v->id,
                 got ? got : "NULL", v->result_type ? v->result_type : "NULL");
      }
    } else {
      assert_int_equal(mts_rpt_datagram_policy_count(dg), 0);
    }
    mts_rpt_datagram_destroy(dg);
    mts_ctx_destroy(ctx);
  }
}

/* N12: every field of the observed STS failure. */
static void test_sts_failure_fields(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct mts_rpt_datagram *dg = NULL;
  const struct mts_rpt_dgram_policy *p;
  const struct mts_rpt_dgram_failure *f;

  (void)state;
  assert_int_equal(mts_rpt_datagram_parse(ctx, (const uint8_t *)STS_FAIL,
                                          strlen(STS_FAIL), &dg),
                   MTS_OK);
  assert_true(mts_rpt_datagram_valid(dg));
  assert_int_equal(mts_findings_count(mts_rpt_datagram_findings(dg)), 0);
  assert_string_equal(mts_rpt_datagram_dpv(dg), "1");
  assert_string_equal(mts_rpt_datagram_domain(dg), "example.com");
  assert_string_equal(mts_rpt_datagram_policy_record(dg),
                      "v=TLSRPTv1; rua=mailto:tlsrpt@example.com");
  assert_int_equal(mts_rpt_datagram_policy_count(dg), 1);
  assert_null(mts_rpt_datagram_policy(dg, 1));
  p = mts_rpt_datagram_policy(dg, 0);
  assert_int_equal(p->type, MTS_RPT_POLICY_STS);
  assert_string_equal(mts_rpt_datagram_policy_type_str(p->type), "sts");
  assert_string_equal(p->domain, "example.com");
  assert_false(p->domain_defaulted);
  assert_int_equal(p->nstrings, 4);
  assert_string_equal(p->strings[0], "version: STSv1");
  assert_string_equal(p->strings[3], "max_age: 604800");
  assert_int_equal(p->nmx_hosts, 1);
  assert_string_equal(p->mx_hosts[0], "mail.example.com");
  assert_int_equal(p->t, 1);
  assert_true(p->failed);
  assert_int_equal(p->nfailures, 1);
  f = &p->failures[0];
  assert_int_equal(f->code, 205);
  assert_string_equal(f->result_type, "validation-failure");
  assert_string_equal(f->sending_ip, "192.0.2.1");
  assert_string_equal(f->receiving_mx_hostname, "mail.example.com");
  assert_string_equal(f->receiving_mx_helo,
                      "250-mail.example.com\r\n250 STARTTLS");
  assert_string_equal(f->receiving_ip, "198.51.100.7");
  assert_null(f->additional_info);
  assert_string_equal(f->failure_reason, "self-signed_certificate");
  mts_rpt_datagram_destroy(dg);
  mts_ctx_destroy(ctx);
}

/* N12/N15: policy-domain absent (3.10.0-3.10.4) takes `d`; `d` is
 * normalised; "" for `s` is absent; raw 0xff becomes U+FFFD. */
static void test_normalisation(void **state) {
  static const char in[] =
      "{\"d\": \"Example.ORG.\",\"pr\": \"v=TLSRPTv1;\",\"policies\":[{"
      "\"policy-type\":9,\"failure-details\":[{\"c\":201,\"s\": \"\","
      "\"a\": \"x\xffy\"}],\"t\":1,\"f\":1}]}";
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct mts_rpt_datagram *dg = NULL;
  const struct mts_rpt_dgram_policy *p;

  (void)state;
  assert_int_equal(mts_rpt_datagram_parse(ctx, (const uint8_t *)in,
                                          sizeof(in) - 1, &dg),
                   MTS_OK);
  assert_true(mts_rpt_datagram_usable(dg));
  assert_null(mts_rpt_datagram_dpv(dg));
  assert_string_equal(mts_rpt_datagram_domain(dg), "example.org");
  p = mts_rpt_datagram_policy(dg, 0);
  assert_int_equal(p->type, MTS_RPT_POLICY_NO_POLICY_FOUND);
  assert_string_equal(p->domain, "example.org");
  assert_true(p->domain_defaulted);
  assert_null(p->failures[0].sending_ip);
  assert_string_equal(p->failures[0].additional_info, "x\xef\xbf\xbdy");
  mts_rpt_datagram_destroy(dg);
  mts_ctx_destroy(ctx);
}

/* N14: 256 KiB is parsed; one byte more is refused unparsed. */
static void test_size_limit(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct mts_rpt_datagram *dg = NULL;
  size_t n = MTS_RPT_DATAGRAM_MAX, hl = strlen(NPF_HEAD);
  const char *tail = "{\"policy-type\":9,\"t\":0,\"f\":0}]}";
  uint8_t *buf = test_malloc(n + 1);

  (void)state;
  /* NPF with the big gap filled by blanks (JSON whitespace). */
  memset(buf, ' ', n + 1);
  memcpy(buf, NPF_HEAD, hl);
  memcpy(buf + n - strlen(tail), tail, strlen(tail));
  assert_int_equal(mts_rpt_datagram_parse(ctx, buf, n, &dg), MTS_OK);
  assert_true(mts_rpt_datagram_valid(dg));
  mts_rpt_datagram_destroy(dg);
  memcpy(buf + n + 1 - strlen(tail), tail, strlen(tail));
  assert_int_equal(mts_rpt_datagram_parse(ctx, buf, n + 1, &dg), MTS_OK);
  assert_false(mts_rpt_datagram_usable(dg));
  assert_non_null(
      mts_findings_find(mts_rpt_datagram_findings(dg), "dgram-too-big"));
  mts_rpt_datagram_destroy(dg);
  test_free(buf);
  mts_ctx_destroy(ctx);
}

static void test_args(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct mts_rpt_datagram *dg = (struct mts_rpt_datagram *)&a;

  (void)state;
  assert_int_equal(mts_rpt_datagram_parse(NULL, NULL, 0, &dg), MTS_EINVAL);
  assert_null(dg);
  assert_int_equal(mts_rpt_datagram_parse(ctx, NULL, 1, &dg), MTS_EINVAL);
  assert_int_equal(mts_rpt_datagram_parse(ctx, NULL, 0, NULL), MTS_EINVAL);
  assert_int_equal(mts_rpt_datagram_parse(ctx, NULL, 0, &dg), MTS_OK);
  assert_false(mts_rpt_datagram_usable(dg));
  mts_rpt_datagram_destroy(dg);
  mts_rpt_datagram_destroy(NULL);
  assert_false(mts_rpt_datagram_valid(NULL));
  assert_null(mts_rpt_datagram_policy(NULL, 0));
  assert_null(mts_rpt_datagram_result_type(0));
  assert_null(mts_rpt_datagram_policy_type_str(MTS_RPT_POLICY_UNKNOWN));
  mts_ctx_destroy(ctx);
}

struct sweep_arg {
  const char *in;
};

static enum mts_status sweep_op(struct mts_ctx *ctx, void *arg) {
  const char *in = ((struct sweep_arg *)arg)->in;
  struct mts_rpt_datagram *dg = NULL;
  enum mts_status st =
      mts_rpt_datagram_parse(ctx, (const uint8_t *)in, strlen(in), &dg);

  if (st != MTS_OK) {
    assert_null(dg);
  }
  mts_rpt_datagram_destroy(dg);
  return st;
}

static void test_alloc_sweep(void **state) {
  size_t i;
  char buf[2048];
  struct sweep_arg sa = {STS_FAIL};

  (void)state;
  assert_true(mts_test_alloc_sweep(sweep_op, &sa) >= 2);
  for (i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
    if (vecs[i].len == 0) {
      sa.in = patched(&vecs[i], buf, sizeof(buf));
      (void)mts_test_alloc_sweep(sweep_op, &sa);
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_vectors),
      cmocka_unit_test(test_sts_failure_fields),
      cmocka_unit_test(test_normalisation),
      cmocka_unit_test(test_size_limit),
      cmocka_unit_test(test_args),
      cmocka_unit_test(test_alloc_sweep),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
