/*
 * test_rpt_txt.c - the `_smtp._tls` TLSRPT TXT record (RFC 8460 3):
 * every R vector of RFC-CHECKLIST.md 3.7, the shared grammar with the
 * `_mta-sts` record, and the rua URI checks (docs/decisions.md
 * RPT-SCHEME-1, RPT-URI-*).
 */
#include "testutil.h"

struct str {
  const char *s;
  size_t len;
};

#define S(lit) {lit, sizeof(lit) - 1}
#define MAXRR 3
#define MAXSTR 3
#define MAXRUA 4

struct rpt_case {
  const char *id;
  struct str rr[MAXRR][MAXSTR];
  enum mts_rpt_txt_verdict want;
  const char *want_rua[MAXRUA]; /* when VALID, in order */
  enum mts_rpt_uri_scheme want_scheme[MAXRUA];
  const char *want_code; /* a finding that must be present, or NULL */
  uint32_t want_col;     /* of want_code (0: not checked) */
};

#define V MTS_RPT_TXT_VALID
#define NONE MTS_RPT_TXT_NONE
#define MULT MTS_RPT_TXT_MULTIPLE
#define INV MTS_RPT_TXT_INVALID
#define M MTS_RPT_URI_MAILTO
#define H MTS_RPT_URI_HTTPS
#define O MTS_RPT_URI_OTHER

static const struct rpt_case cases[] = {
    {"R01", {{S("v=TLSRPTv1;rua=mailto:reports@example.com")}}, V,
     {"mailto:reports@example.com"}, {M}, NULL, 0},
    {"R02", {{S("v=TLSRPTv1; rua=https://reporting.example.com/v1/tlsrpt")}},
     V, {"https://reporting.example.com/v1/tlsrpt"}, {H}, NULL, 0},
    {"R04",
     {{S("v=TLSRPTv1; rua=mailto:a@example.com , mailto:b@example.com")}}, V,
     {"mailto:a@example.com", "mailto:b@example.com"}, {M, M}, NULL, 0},
    {"R05",
     {{S("v=TLSRPTv1; rua=mailto:a@example.com; rua=mailto:b@example.com")}},
     V, {"mailto:a@example.com", "mailto:b@example.com"}, {M, M}, NULL, 0},
    {"R07", {{S("v=TLSRPTv1; foo=bar")}}, INV, {NULL}, {O}, "rpt-missing-rua",
     0},
    {"R08", {{S("v=TLSRPTv1; rua=mailto:a@example.com; foo=bar")}}, V,
     {"mailto:a@example.com"}, {M}, "rpt-unknown-field", 39},
    {"R10", {{S("v=TLSRPTv1; rua=mailto:a@example.com!10m")}}, INV, {NULL},
     {O}, "rpt-unencoded-char", 37},
    {"R11", {{S("v=TLSRPTv1; rua=mailto:a%21b@example.com")}}, V,
     {"mailto:a%21b@example.com"}, {M}, NULL, 0},
    {"R13",
     {{S("v=TLSRPTv1; rua=mailto:a@example.com")},
      {S("v=TLSRPTv1; rua=mailto:b@example.com")}},
     MULT, {NULL}, {O}, "rpt-multiple-records", 0},
    {"R14", {{S("v=spf1 -all")}, {S("v=TLSRPTv1; rua=mailto:a@example.com")}},
     V, {"mailto:a@example.com"}, {M}, "rpt-discarded-record", 1},
    {"R16", {{S("v=TLSRPTv1 ; rua=mailto:a@example.com")}}, V,
     {"mailto:a@example.com"}, {M}, NULL, 0},
    /* AMBIG-TXT-1 as it applies to TLSRPT: multi-RR literal prefix */
    {"R16-multi",
     {{S("v=TLSRPTv1 ; rua=mailto:a@example.com")},
      {S("v=TLSRPTv1;rua=mailto:b@example.com")}},
     V, {"mailto:b@example.com"}, {M}, "rpt-discarded-tlsrpt-like", 1},
    /* classification, shared with the STS record (TXT-CLASS-1) */
    {"CLASS-none", {{{NULL, 0}}}, NONE, {NULL}, {O}, "rpt-no-record", 0},
    {"CLASS-spf", {{S("v=spf1 -all")}}, NONE, {NULL}, {O}, "rpt-no-record", 0},
    {"CLASS-case", {{S("v=tlsrptv1; rua=mailto:a@example.com")}}, NONE,
     {NULL}, {O}, "rpt-version-case", 1},
    {"CLASS-v10", {{S("v=TLSRPTv10;rua=mailto:a@example.com")}}, INV, {NULL},
     {O}, "rpt-bad-version", 11},
    {"CLASS-split", {{S("v=TLS"), S("RPTv1;rua=mai"), S("lto:a@example.com")}},
     V, {"mailto:a@example.com"}, {M}, NULL, 0},
    /* RFC 6068: several addresses in one mailto, the comma encoded (RFC
     * 8460 3): one rua per address (an RFC 8460 review found the record
     * refused as rpt-bad-mailto) */
    {"MAILTO-2",
     {{S("v=TLSRPTv1; rua=mailto:a@example.com%2Cb@example.com")}}, V,
     {"mailto:a@example.com", "mailto:b@example.com"}, {M, M}, NULL, 0},
    {"MAILTO-2-query",
     {{S("v=TLSRPTv1; rua=mailto:a@example.com%2cb@example.com?subject=x,"
         "https://r.example/x")}},
     V, {"mailto:a@example.com", "mailto:b@example.com", "https://r.example/x"},
     {M, M, H}, NULL, 0},
    {"MAILTO-2-trailing", {{S("v=TLSRPTv1; rua=mailto:a@example.com%2C")}},
     INV, {NULL}, {O}, "rpt-bad-mailto", 24},
    {"MAILTO-2-leading", {{S("v=TLSRPTv1; rua=mailto:%2Cb@example.com")}},
     INV, {NULL}, {O}, "rpt-bad-mailto", 24},
    /* RPT-SCHEME-1: unsupported schemes are valid syntax, with warnings */
    {"SCHEME-only-other", {{S("v=TLSRPTv1; rua=ftp://r.example/x")}}, V,
     {"ftp://r.example/x"}, {O}, "rpt-no-supported-rua", 0},
    {"SCHEME-other-flag", {{S("v=TLSRPTv1; rua=ftp://r.example/x")}}, V,
     {"ftp://r.example/x"}, {O}, "rpt-unsupported-scheme", 17},
    {"SCHEME-mixed",
     {{S("v=TLSRPTv1; rua=urn:x:y,https://r.example/")}}, V,
     {"urn:x:y", "https://r.example/"}, {O, H}, "rpt-unsupported-scheme", 17},
    {"SCHEME-case", {{S("v=TLSRPTv1;rua=MAILTO:a@example.com,HTTPS://r.example")}},
     V, {"MAILTO:a@example.com", "HTTPS://r.example"}, {M, H}, NULL, 0},
    /* RPT-URI-*: URI syntax */
    {"URI-ip-literal", {{S("v=TLSRPTv1;rua=https://[2001:db8::1]:8443/r")}}, V,
     {"https://[2001:db8::1]:8443/r"}, {H}, NULL, 0},
    {"URI-userinfo-port", {{S("v=TLSRPTv1;rua=https://u:p@r.example:443/a?b=c#d")}},
     V, {"https://u:p@r.example:443/a?b=c#d"}, {H}, NULL, 0},
    {"URI-mailto-query", {{S("v=TLSRPTv1;rua=mailto:a@example.com?subject=x")}},
     V, {"mailto:a@example.com?subject=x"}, {M}, NULL, 0},
    {"URI-pct-bad", {{S("v=TLSRPTv1;rua=mailto:a%zz@example.com")}}, INV,
     {NULL}, {O}, "rpt-bad-percent", 24},
    {"URI-pct-short", {{S("v=TLSRPTv1;rua=mailto:a@example.com%4")}}, INV,
     {NULL}, {O}, "rpt-bad-percent", 36},
    {"URI-no-scheme", {{S("v=TLSRPTv1;rua=reports@example.com")}}, INV,
     {NULL}, {O}, "rpt-bad-uri", 16},
    {"URI-bad-scheme", {{S("v=TLSRPTv1;rua=1mailto:a@example.com")}}, INV,
     {NULL}, {O}, "rpt-bad-uri", 16},
    {"URI-blank-inside", {{S("v=TLSRPTv1;rua=mailto:a b@example.com")}}, INV,
     {NULL}, {O}, "rpt-bad-uri", 24},
    {"URI-two-hashes", {{S("v=TLSRPTv1;rua=https://r.example/#a#b")}}, INV,
     {NULL}, {O}, "rpt-bad-uri", 36},
    {"URI-bracket-path", {{S("v=TLSRPTv1;rua=https://r.example/[x]")}}, INV,
     {NULL}, {O}, "rpt-bad-uri", 34},
    {"URI-bracket-open", {{S("v=TLSRPTv1;rua=https://[::1/r")}}, INV, {NULL},
     {O}, "rpt-bad-uri", 24},
    {"URI-bad-port", {{S("v=TLSRPTv1;rua=https://r.example:44x/")}}, INV,
     {NULL}, {O}, "rpt-bad-uri", 36},
    {"URI-bad-char", {{S("v=TLSRPTv1;rua=https://r.example/<x>")}}, INV,
     {NULL}, {O}, "rpt-bad-uri", 34},
    {"URI-https-no-host", {{S("v=TLSRPTv1;rua=https:///x")}}, INV, {NULL},
     {O}, "rpt-bad-https", 22},
    {"URI-https-opaque", {{S("v=TLSRPTv1;rua=https:r.example")}}, INV, {NULL},
     {O}, "rpt-bad-https", 22},
    {"URI-mailto-no-at", {{S("v=TLSRPTv1;rua=mailto:reports")}}, INV, {NULL},
     {O}, "rpt-bad-mailto", 23},
    {"URI-mailto-no-local", {{S("v=TLSRPTv1;rua=mailto:@example.com")}}, INV,
     {NULL}, {O}, "rpt-bad-mailto", 23},
    {"URI-mailto-no-domain", {{S("v=TLSRPTv1;rua=mailto:a@")}}, INV, {NULL},
     {O}, "rpt-bad-mailto", 23},
    /* rua list syntax */
    {"LIST-empty-rua", {{S("v=TLSRPTv1;rua=")}}, INV, {NULL}, {O},
     "rpt-empty-uri", 16},
    {"LIST-trailing-comma", {{S("v=TLSRPTv1;rua=mailto:a@example.com,")}}, INV,
     {NULL}, {O}, "rpt-empty-uri", 37},
    {"LIST-double-comma",
     {{S("v=TLSRPTv1;rua=mailto:a@x.example,,mailto:b@x.example")}}, INV,
     {NULL}, {O}, "rpt-empty-uri", 35},
    {"LIST-blank-after-eq", {{S("v=TLSRPTv1;rua= mailto:a@example.com")}}, INV,
     {NULL}, {O}, "rpt-bad-field", 15},
    {"LIST-tabs", {{S("v=TLSRPTv1;rua=mailto:a@x.example\t,\tmailto:b@x.example;")}},
     V, {"mailto:a@x.example", "mailto:b@x.example"}, {M, M}, NULL, 0},
    {"LIST-three-fields",
     {{S("v=TLSRPTv1;rua=mailto:a@x.example;rua=https://r.example,mailto:c@x.example")}},
     V, {"mailto:a@x.example", "https://r.example", "mailto:c@x.example"},
     {M, H, M}, NULL, 0},
    {"LIST-one-bad-one-good",
     {{S("v=TLSRPTv1;rua=mailto:a@x.example,mailto:b!@x.example")}}, INV,
     {NULL}, {O}, "rpt-unencoded-char", 43},
    /* shared grammar */
    {"SYN-rua-case", {{S("v=TLSRPTv1;RUA=mailto:a@example.com")}}, INV, {NULL},
     {O}, "rpt-missing-rua", 0},
    {"SYN-no-fields", {{S("v=TLSRPTv1;")}}, INV, {NULL}, {O},
     "rpt-missing-rua", 0},
    {"SYN-trailing-blank", {{S("v=TLSRPTv1;rua=mailto:a@example.com ")}}, INV,
     {NULL}, {O}, "rpt-trailing-garbage", 36},
    {"SYN-double-semi", {{S("v=TLSRPTv1;;rua=mailto:a@example.com")}}, INV,
     {NULL}, {O}, "rpt-empty-field", 12},
    {"SYN-ext-bad", {{S("v=TLSRPTv1;rua=mailto:a@example.com;foo=")}}, INV,
     {NULL}, {O}, "rpt-bad-extension", 41},
    {"SYN-non-ascii", {{S("v=TLSRPTv1;rua=mailto:\xc3\xa9@example.com")}}, INV,
     {NULL}, {O}, "rpt-non-ascii", 23},
    {"SYN-nul", {{S("v=TLSRPTv1;rua=mailto:a@example.com\0x")}}, INV, {NULL},
     {O}, "rpt-nul", 36},
    {"SYN-leading-blank", {{S(" v=TLSRPTv1;rua=mailto:a@example.com")}}, INV,
     {NULL}, {O}, "rpt-bad-version", 1},
};

static struct mts_txt_rrset *build(struct mts_ctx *ctx,
                                   const struct str rr[MAXRR][MAXSTR]) {
  struct mts_txt_rrset *set = NULL;
  size_t i, j;

  assert_int_equal(mts_txt_rrset_create(ctx, &set), MTS_OK);
  for (i = 0; i < MAXRR && rr[i][0].s != NULL; i++) {
    assert_int_equal(mts_txt_rrset_add_rr(set), MTS_OK);
    for (j = 0; j < MAXSTR && rr[i][j].s != NULL; j++) {
      assert_int_equal(mts_txt_rrset_add_string(
                           set, (const uint8_t *)rr[i][j].s, rr[i][j].len),
                       MTS_OK);
    }
  }
  return set;
}

static bool any_error(const struct mts_findings *f) {
  size_t i;

  for (i = 0; i < mts_findings_count(f); i++) {
    if (mts_findings_get(f, i)->severity == MTS_SEV_ERROR) {
      return true;
    }
  }
  return false;
}

static void dump_findings(const char *id, const struct mts_findings *f) {
  size_t i;

  for (i = 0; i < mts_findings_count(f); i++) {
    const struct mts_finding *fi = mts_findings_get(f, i);

    print_message("  %s: %s %s %u:%u %s\n", id, fi->code,
                  mts_severity_str(fi->severity), fi->line, fi->col,
                  fi->message);
  }
}

static void check_case(struct mts_ctx *ctx, const struct rpt_case *c) {
  struct mts_txt_rrset *set = build(ctx, c->rr);
  struct mts_rpt_txt *t = NULL;
  const struct mts_findings *f;
  size_t i, n = 0;

  assert_int_equal(mts_rpt_txt_parse(ctx, set, &t), MTS_OK);
  f = mts_rpt_txt_findings(t);
  if (mts_rpt_txt_verdict(t) != c->want) {
    dump_findings(c->id, f);
    fail_msg("%s: got verdict %s, want %s", c->id,
             mts_rpt_txt_verdict_str(mts_rpt_txt_verdict(t)),
             mts_rpt_txt_verdict_str(c->want));
  }
  while (n < MAXRUA && c->want_rua[n] != NULL) {
    n++;
  }
  if (mts_rpt_txt_rua_count(t) != n) {
    dump_findings(c->id, f);
    fail_msg("%s: got %zu rua URIs, want %zu", c->id,
             mts_rpt_txt_rua_count(t), n);
  }
  for (i = 0; i < n; i++) {
    enum mts_rpt_uri_scheme sch;
    const char *u = mts_rpt_txt_rua(t, i, &sch);

    if (u == NULL || strcmp(u, c->want_rua[i]) != 0 ||
        sch != c->want_scheme[i]) {
      fail_msg("%s: rua[%zu] got %s (scheme %d), want %s (scheme %d)", c->id,
               i, u ? u : "(null)", (int)sch, c->want_rua[i],
               (int)c->want_scheme[i]);
    }
  }
  assert_null(mts_rpt_txt_rua(t, n, NULL));
  if (c->want == V && any_error(f)) {
    dump_findings(c->id, f);
    fail_msg("%s: a valid record with an error finding", c->id);
  }
  if (c->want == INV && !any_error(f)) {
    fail_msg("%s: invalid without an error finding", c->id);
  }
  if (c->want_code != NULL) {
    const struct mts_finding *fi = mts_findings_find(f, c->want_code);

    if (fi == NULL) {
      dump_findings(c->id, f);
      fail_msg("%s: finding %s missing", c->id, c->want_code);
    }
    if (c->want_col != 0 && fi->col != c->want_col) {
      fail_msg("%s: %s at col %u, want %u", c->id, c->want_code, fi->col,
               c->want_col);
    }
  }
  if (c->want == V && c->want_code == NULL && mts_findings_count(f) != 0) {
    dump_findings(c->id, f);
    fail_msg("%s: got %zu findings, want none", c->id, mts_findings_count(f));
  }
  mts_rpt_txt_destroy(t);
  mts_txt_rrset_destroy(set);
}

static void test_vectors(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    check_case(ctx, &cases[i]);
  }
  mts_ctx_destroy(ctx);
}

static void test_api(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct mts_txt_rrset *set = NULL;
  struct mts_rpt_txt *t = NULL;
  enum mts_rpt_uri_scheme sch = MTS_RPT_URI_HTTPS;

  (void)state;
  assert_int_equal(mts_txt_rrset_create(ctx, &set), MTS_OK);
  assert_int_equal(mts_rpt_txt_parse(NULL, set, &t), MTS_EINVAL);
  assert_null(t);
  assert_int_equal(mts_rpt_txt_parse(ctx, NULL, &t), MTS_EINVAL);
  assert_int_equal(mts_rpt_txt_parse(ctx, set, NULL), MTS_EINVAL);
  assert_int_equal(mts_rpt_txt_parse(ctx, set, &t), MTS_OK);
  assert_int_equal(mts_rpt_txt_verdict(t), MTS_RPT_TXT_NONE);
  assert_int_equal(mts_rpt_txt_rua_count(t), 0);
  assert_null(mts_rpt_txt_rua(t, 0, &sch));
  assert_int_equal(sch, MTS_RPT_URI_OTHER);
  assert_string_equal(mts_rpt_txt_verdict_str(MTS_RPT_TXT_VALID), "valid");
  assert_string_equal(mts_rpt_txt_verdict_str(MTS_RPT_TXT_NONE), "none");
  assert_string_equal(mts_rpt_txt_verdict_str(MTS_RPT_TXT_MULTIPLE),
                      "multiple");
  assert_string_equal(mts_rpt_txt_verdict_str(MTS_RPT_TXT_INVALID), "invalid");
  mts_rpt_txt_destroy(t);
  mts_rpt_txt_destroy(NULL);
  assert_int_equal(mts_rpt_txt_rua_count(NULL), 0);
  assert_null(mts_rpt_txt_findings(NULL));
  mts_txt_rrset_destroy(set);
  mts_ctx_destroy(ctx);
}

static enum mts_status parse_op(struct mts_ctx *ctx, void *arg) {
  const struct rpt_case *c = arg;
  struct mts_txt_rrset *set = NULL;
  struct mts_rpt_txt *t = NULL;
  enum mts_status st;
  size_t i, j;

  st = mts_txt_rrset_create(ctx, &set);
  for (i = 0; st == MTS_OK && i < MAXRR && c->rr[i][0].s != NULL; i++) {
    st = mts_txt_rrset_add_rr(set);
    for (j = 0; st == MTS_OK && j < MAXSTR && c->rr[i][j].s != NULL; j++) {
      st = mts_txt_rrset_add_string(set, (const uint8_t *)c->rr[i][j].s,
                                    c->rr[i][j].len);
    }
  }
  if (st == MTS_OK) {
    st = mts_rpt_txt_parse(ctx, set, &t);
    if (st != MTS_OK) {
      assert_null(t);
    } else {
      assert_int_equal(mts_rpt_txt_verdict(t), c->want);
    }
  }
  mts_rpt_txt_destroy(t);
  mts_txt_rrset_destroy(set);
  return st;
}

static void test_alloc_sweep(void **state) {
  struct rpt_case many = {
      "SWEEP",
      {{S("v=spf1 -all")},
       {S("v=TLSRPTv1;"),
        S("rua=mailto:a@x.example,mailto:b@x.example,ftp://c/,https://d/;"
          "rua=mailto:e@x.example;x=1;y=2;z=3"),
        S(";rua=mailto:f@x.example , mailto:g@x.example")},
       {S("v=TLSRPTv1 ;rua=mailto:z@x.example")}},
      V,
      {NULL},
      {O},
      NULL,
      0};
  size_t i;

  (void)state;
  assert_true(mts_test_alloc_sweep(parse_op, &many) > 2);
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct rpt_case c = cases[i];

    (void)mts_test_alloc_sweep(parse_op, &c);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_vectors),
      cmocka_unit_test(test_api),
      cmocka_unit_test(test_alloc_sweep),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
