/*
 * test_sts_txt.c - the `_mta-sts` TXT record (RFC 8461 3.1): every T
 * vector of RFC-CHECKLIST.md 3.1 that applies to the parser, plus the
 * decisions of docs/decisions.md (AMBIG-TXT-1/2, TXT-CLASS-1).
 *
 * T40 (NXDOMAIN/NODATA) is the empty RRset here; T41 (CNAME) is the DNS
 * layer's job and has no parser input of its own.
 */
#include "testutil.h"

struct str {
  const char *s;
  size_t len;
};

/* a string literal with its exact length (it may contain \0) */
#define S(lit) {lit, sizeof(lit) - 1}
#define MAXRR 4
#define MAXSTR 4

struct sts_case {
  const char *id;
  struct str rr[MAXRR][MAXSTR]; /* RRs end at an RR whose first s is NULL */
  enum mts_sts_txt_verdict want;
  const char *want_id;   /* when VALID */
  const char *want_code; /* a finding that must be present, or NULL */
  uint32_t want_line;    /* of want_code (0: not checked) */
  uint32_t want_col;     /* of want_code (0: not checked) */
  bool want_clean;       /* no finding at all */
};

#define V MTS_STS_TXT_VALID
#define NONE MTS_STS_TXT_NONE
#define MULT MTS_STS_TXT_MULTIPLE
#define INV MTS_STS_TXT_INVALID

static const struct sts_case cases[] = {
    {"T01", {{S("v=STSv1; id=20160831085700Z;")}}, V, "20160831085700Z",
     NULL, 0, 0, true},
    {"T02", {{S("v=STSv1;id=abc")}}, V, "abc", NULL, 0, 0, true},
    {"T04", {{S("v=STSv1; id=abc ")}}, INV, NULL, "txt-trailing-garbage", 1,
     16, false},
    {"T05", {{S("v=STSv1; id=abc ;")}}, V, "abc", NULL, 0, 0, true},
    {"T07", {{S("v=STSv1;")}}, INV, NULL, "txt-missing-id", 1, 0, false},
    {"T08", {{S("v=STSv1; id=")}}, INV, NULL, "txt-bad-id", 1, 13, false},
    {"T10", {{S("v=STSv1; id=0123456789abcdefghijABCDEFGHIJ012")}}, INV, NULL,
     "txt-bad-id", 1, 45, false},
    {"T11", {{S("v=STSv1; id=2018-01-01")}}, INV, NULL, "txt-bad-id", 1, 17,
     false},
    {"T13", {{S("V=STSv1; id=abc")}}, NONE, NULL, "txt-version-case", 1, 1,
     false},
    {"T14", {{S("v=stsv1; id=abc")}}, NONE, NULL, "txt-version-case", 1, 1,
     false},
    {"T16", {{S("v=STSv2; id=abc")}}, NONE, NULL, "txt-no-record", 1, 0,
     false},
    {"T17", {{S(" v=STSv1; id=abc")}}, INV, NULL, "txt-bad-version", 1, 1,
     false},
    {"T19", {{S("v=STSv1; id = abc")}}, INV, NULL, "txt-bad-field", 1, 13,
     false},
    {"T20", {{S("id=abc; v=STSv1")}}, INV, NULL, "txt-bad-version", 1, 1,
     false},
    {"T22", {{S("v=STSv1; foo=bar; id=abc")}}, V, "abc", "txt-unknown-field",
     1, 10, false},
    {"T23", {{S("v=STSv1; id=abc; foo=")}}, INV, NULL, "txt-bad-extension", 1,
     22, false},
    {"T25", {{S("v=STSv1; id=abc; foo=a b")}}, INV, NULL, "txt-bad-extension",
     1, 23, false},
    {"T26", {{S("v=STSv1; id=abc; _foo=1")}}, INV, NULL, "txt-bad-extension", 1,
     18, false},
    {"T28", {{S("v=STSv1; id=abc; a23456789012345678901234567890123=1")}}, INV,
     NULL, "txt-bad-extension", 1, 18, false},
    {"T28-32ok", {{S("v=STSv1; id=abc; a2345678901234567890123456789012=1")}},
     V, "abc", "txt-unknown-field", 1, 18, false},
    {"T29", {{S("v=STSv1; id=abc;;")}}, INV, NULL, "txt-empty-field", 1, 17,
     false},
    {"T31", {{S("v=STSv1; id="), S("abc")}}, V, "abc", NULL, 0, 0, true},
    {"T32", {{S("v=STS"), S("v1; id=abc")}}, V, "abc", NULL, 0, 0, true},
    {"T34", {{S("v=STSv1; id=abc")}, {S("v=STSv1; id=def")}}, MULT, NULL,
     "txt-multiple-records", 0, 0, false},
    {"T35", {{S("v=spf1 -all")}, {S("v=STSv1; id=abc")}}, V, "abc",
     "txt-discarded-record", 1, 1, false},
    {"T37", {{S("v=STSv1; id=abc")}, {S("v=STSv1 ; id=def")}}, V, "abc",
     "txt-discarded-sts-like", 2, 1, false},
    {"T38", {{S("v=STSv1 ; id=abc")}}, V, "abc", NULL, 0, 0, true},
    {"T40", {{{NULL, 0}}}, NONE, NULL, "txt-no-record", 0, 0, false},
    {"T43", {{S("v=STSv1; id=abc\0def")}}, INV, NULL, "txt-nul", 1, 16, false},
    {"T44", {{S("v=STSv1; id=abc; note=caf\xc3\xa9")}}, INV, NULL,
     "txt-non-ascii", 1, 26, false},
    /* TXT-CLASS-1: a lone RR that is not an STS record is NONE */
    {"CLASS-spf", {{S("v=spf1 -all")}}, NONE, NULL, "txt-no-record", 1, 0,
     false},
    {"CLASS-empty-rr", {{S("")}}, NONE, NULL, "txt-no-record", 1, 0, false},
    {"CLASS-v10", {{S("v=STSv10; id=abc")}}, INV, NULL, "txt-bad-version", 1, 8,
     false},
    {"CLASS-v1-alone", {{S("v=STSv1")}}, INV, NULL, "txt-missing-id", 1, 0,
     false},
    {"CLASS-v1-blank", {{S("v=STSv1 ")}}, INV, NULL, "txt-trailing-garbage", 1,
     8, false},
    {"CLASS-v1-junk", {{S("v=STSv1 x; id=abc")}}, INV, NULL,
     "txt-trailing-garbage", 1, 9, false},
    /* AMBIG-TXT-2: the first id wins; a later one is reported */
    {"AMBIG-TXT-2", {{S("v=STSv1; id=abc; id=def")}}, V, "abc",
     "txt-duplicate-id", 1, 18, false},
    {"AMBIG-TXT-2-ext", {{S("v=STSv1; id=abc; id=a-b")}}, V, "abc",
     "txt-duplicate-id", 1, 18, false},
    {"AMBIG-TXT-2-empty", {{S("v=STSv1; id=abc; id=")}}, INV, NULL,
     "txt-bad-id", 1, 21, false},
    {"AMBIG-TXT-2-firstbad", {{S("v=STSv1; id=a-b; id=abc")}}, INV, NULL,
     "txt-bad-id", 1, 14, false},
    /* AMBIG-TXT-1 in multi-RR sets: the literal 8-octet prefix */
    {"AMBIG-TXT-1-both-literal",
     {{S("v=STSv1;id=abc")}, {S("v=STSv1; id=abc")}}, MULT, NULL,
     "txt-multiple-records", 0, 0, false},
    {"AMBIG-TXT-1-only-spaced",
     {{S("v=STSv1 ; id=abc")}, {S("v=spf1 -all")}}, NONE, NULL,
     "txt-discarded-sts-like", 1, 1, false},
    {"MULTI-split-prefix", {{S("v=spf1 -all")}, {S("v=STS"), S("v1;id=x")}}, V,
     "x", "txt-discarded-record", 1, 1, false},
    {"MULTI-none", {{S("v=spf1 -all")}, {S("google-site-verification=x")}},
     NONE, NULL, "txt-no-record", 0, 0, false},
    {"MULTI-case", {{S("V=STSv1; id=abc")}, {S("v=spf1 -all")}}, NONE, NULL,
     "txt-version-case", 1, 1, false},
    {"MULTI-three", {{S("v=STSv1;id=a")}, {S("x")}, {S("v=STSv1;id=b")}}, MULT,
     NULL, "txt-multiple-records", 0, 0, false},
    {"MULTI-invalid-chosen", {{S("v=spf1 -all")}, {S("v=STSv1;id=a b")}}, INV,
     NULL, "txt-bad-id", 2, 13, false},
    /* more syntax */
    {"SYN-trailing-delim-blank", {{S("v=STSv1; id=abc; ")}}, V, "abc", NULL, 0,
     0, true},
    {"SYN-tabs", {{S("v=STSv1\t;\tid=abc\t;")}}, V, "abc", NULL, 0, 0, true},
    {"SYN-id-32", {{S("v=STSv1; id=0123456789abcdefghijABCDEFGHIJ01")}}, V,
     "0123456789abcdefghijABCDEFGHIJ01", NULL, 0, 0, true},
    {"SYN-id-case", {{S("v=STSv1; ID=abc")}}, INV, NULL, "txt-missing-id", 1,
     0, false},
    {"SYN-id-garbage", {{S("v=STSv1; id=abc def")}}, INV, NULL, "txt-bad-id",
     1, 16, false},
    {"SYN-no-equals", {{S("v=STSv1; id=abc; foo")}}, INV, NULL, "txt-bad-field",
     1, 18, false},
    {"SYN-empty-name", {{S("v=STSv1; =x; id=abc")}}, INV, NULL,
     "txt-bad-extension", 1, 10, false},
    {"SYN-ext-equals", {{S("v=STSv1; id=abc; foo=a=b")}}, INV, NULL,
     "txt-bad-extension", 1, 23, false},
    {"SYN-ext-v", {{S("v=STSv1; id=abc; v=STSv2")}}, V, "abc",
     "txt-unknown-field", 1, 18, false},
    {"SYN-ext-ok-chars", {{S("v=STSv1; id=abc; a_b-c.d=!\"#$%&'()*+,-./:<>?@[]^_`{|}~")}},
     V, "abc", "txt-unknown-field", 1, 18, false},
    {"SYN-control", {{S("v=STSv1; id=abc\x01")}}, INV, NULL,
     "txt-control-char", 1, 16, false},
    {"SYN-del", {{S("v=STSv1; id=abc\x7f")}}, INV, NULL, "txt-control-char", 1,
     16, false},
    {"SYN-leading-delim-only", {{S("v=STSv1;;id=abc")}}, INV, NULL,
     "txt-empty-field", 1, 9, false},
    {"SYN-empty-strings", {{S(""), S("v=STSv1;"), S(""), S("id=q")}}, V, "q",
     NULL, 0, 0, true},
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

static void check_case(struct mts_ctx *ctx, const struct sts_case *c) {
  struct mts_txt_rrset *set = build(ctx, c->rr);
  struct mts_sts_txt *t = NULL;
  const struct mts_findings *f;
  const char *id;

  assert_int_equal(mts_sts_txt_parse(ctx, set, &t), MTS_OK);
  f = mts_sts_txt_findings(t);
  if (mts_sts_txt_verdict(t) != c->want) {
    dump_findings(c->id, f);
    fail_msg("%s: got verdict %s, want %s", c->id,
             mts_sts_txt_verdict_str(mts_sts_txt_verdict(t)),
             mts_sts_txt_verdict_str(c->want));
  }
  id = mts_sts_txt_id(t);
  if (c->want == V) {
    if (id == NULL || strcmp(id, c->want_id) != 0) {
      fail_msg("%s: got id %s, want %s", c->id, id ? id : "(null)",
               c->want_id);
    }
    if (any_error(f)) {
      dump_findings(c->id, f);
      fail_msg("%s: a valid record with an error finding", c->id);
    }
  } else {
    if (id != NULL) {
      fail_msg("%s: got id %s, want none", c->id, id);
    }
  }
  /* the record text is there exactly when one record was chosen */
  {
    size_t len;
    const uint8_t *rec = mts_sts_txt_record(t, &len);
    bool want_rec = c->want == V || c->want == INV;

    if ((rec != NULL) != want_rec) {
      fail_msg("%s: record %s, want %s", c->id, rec ? "set" : "NULL",
               want_rec ? "set" : "NULL");
    }
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
    if (fi->line != c->want_line ||
        (c->want_col != 0 && fi->col != c->want_col)) {
      fail_msg("%s: %s at %u:%u, want %u:%u", c->id, c->want_code, fi->line,
               fi->col, c->want_line, c->want_col);
    }
  }
  if (c->want_clean && mts_findings_count(f) != 0) {
    dump_findings(c->id, f);
    fail_msg("%s: got %zu findings, want none", c->id, mts_findings_count(f));
  }
  mts_sts_txt_destroy(t);
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
  static const char *const rr1[] = {"v=STSv1; ", "id=x1", NULL};
  static const char *const *const rrs[] = {rr1, NULL};
  struct mts_txt_rrset *set = mts_test_rrset(ctx, rrs);
  struct mts_sts_txt *t = NULL;
  const uint8_t *rec;
  size_t len;

  (void)state;
  assert_int_equal(mts_sts_txt_parse(NULL, set, &t), MTS_EINVAL);
  assert_null(t);
  assert_int_equal(mts_sts_txt_parse(ctx, NULL, &t), MTS_EINVAL);
  assert_int_equal(mts_sts_txt_parse(ctx, set, NULL), MTS_EINVAL);
  assert_int_equal(mts_sts_txt_parse(ctx, set, &t), MTS_OK);
  assert_string_equal(mts_sts_txt_id(t), "x1");
  rec = mts_sts_txt_record(t, &len);
  assert_int_equal(len, 14);
  assert_memory_equal(rec, "v=STSv1; id=x1", 14);
  assert_string_equal(mts_sts_txt_verdict_str(MTS_STS_TXT_VALID), "valid");
  assert_string_equal(mts_sts_txt_verdict_str(MTS_STS_TXT_NONE), "none");
  assert_string_equal(mts_sts_txt_verdict_str(MTS_STS_TXT_MULTIPLE),
                      "multiple");
  assert_string_equal(mts_sts_txt_verdict_str(MTS_STS_TXT_INVALID), "invalid");
  mts_sts_txt_destroy(t);
  mts_sts_txt_destroy(NULL);
  assert_null(mts_sts_txt_id(NULL));
  assert_int_equal(mts_sts_txt_verdict(NULL), MTS_STS_TXT_NONE);
  assert_null(mts_sts_txt_findings(NULL));
  mts_txt_rrset_destroy(set);
  mts_ctx_destroy(ctx);
}

/* Allocation sweep over cases with many findings and several RRs. */
static enum mts_status parse_op(struct mts_ctx *ctx, void *arg) {
  const struct sts_case *c = arg;
  struct mts_txt_rrset *set = NULL;
  struct mts_sts_txt *t = NULL;
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
    st = mts_sts_txt_parse(ctx, set, &t);
    if (st != MTS_OK) {
      assert_null(t);
    } else {
      assert_int_equal(mts_sts_txt_verdict(t), c->want);
    }
  }
  mts_sts_txt_destroy(t);
  mts_txt_rrset_destroy(set);
  return st;
}

static void test_alloc_sweep(void **state) {
  struct sts_case many = {
      "SWEEP",
      {{S("v=spf1 -all")},
       {S("v=STSv1 ; id=zz")},
       {S("v=STSv1;"), S(" id=abc; a=1; b=2; c=3; d=4; e=5; f=6; g=7; h=8; "
                         "i=9; id=x; id=y")}},
      V, "abc", NULL, 0, 0, false};
  size_t i;

  (void)state;
  assert_true(mts_test_alloc_sweep(parse_op, &many) > 2);
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct sts_case c = cases[i];

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
