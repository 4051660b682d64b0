/*
 * test_sts_match.c - MX host matching (RFC 8461 4.1, RFC 6125 6.4;
 * RFC-CHECKLIST 1.6 MX-1..MX-5, 1.11, 3.3 vectors M01..M25).
 */
#include "testutil.h"

struct match_case {
  const char *name; /* vector id and description */
  const char *pattern;
  size_t plen; /* 0: strlen(pattern) */
  const char *host;
  size_t hlen; /* 0: strlen(host) */
  enum mts_status want_st;
  bool want;
};

#define L63 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static const struct match_case match_cases[] = {
    {"M01 exact", "mail.example.com", 0, "mail.example.com", 0, MTS_OK, true},
    {"M02 host upper case", "mail.example.com", 0, "MAIL.EXAMPLE.COM", 0,
     MTS_OK, true},
    {"MX-3 pattern upper case", "MAIL.Example.com", 0, "mail.example.com", 0,
     MTS_OK, true},
    {"M04 wildcard", "*.example.com", 0, "mail.example.com", 0, MTS_OK, true},
    {"M05 wildcard needs a label", "*.example.com", 0, "example.com", 0,
     MTS_OK, false},
    {"M07 wildcard, mixed case", "*.example.com", 0, "Mail.Example.Com", 0,
     MTS_OK, true},
    {"M08 MX-5 host root dot", "mail.example.com", 0, "mail.example.com.", 0,
     MTS_OK, true},
    {"M08 wildcard, host root dot", "*.example.com", 0, "mail.example.com.",
     0, MTS_OK, true},
    {"MX-5 two root dots", "mail.example.com", 0, "mail.example.com..", 0,
     MTS_EIDN, false},
    {"MX-5 pattern root dot is invalid", "mail.example.com.", 0,
     "mail.example.com", 0, MTS_EPARSE, false},
    {"M10 exact is exact", "example.com", 0, "mail.example.com", 0, MTS_OK,
     false},
    {"M11", "mail.example.com", 0, "example.com", 0, MTS_OK, false},
    {"M13 not endswith", "*.example.com", 0, "mail.notexample.com", 0, MTS_OK,
     false},
    {"M13 exact not endswith", "example.com", 0, "notexample.com", 0, MTS_OK,
     false},
    {"M14 empty first label", "*.example.com", 0, ".example.com", 0,
     MTS_EIDN, false},
    {"M14 empty label in the middle", "*.example.com", 0, "a..example.com", 0,
     MTS_EIDN, false},
    {"M16", "*.mail.example.com", 0, "mail.example.com", 0, MTS_OK, false},
    {"MX-2 wildcard is one label", "*.example.com", 0, "foo.bar.example.com",
     0, MTS_OK, false},
    {"M17 wildcard over a TLD", "*.com", 0, "example.com", 0, MTS_OK, true},
    {"M17 single label host", "*.com", 0, "com", 0, MTS_OK, false},
    {"M19 U-label host", "xn--bcher-kva.example", 0, "b\xc3\xbc" "cher.example",
     0, MTS_OK, true},
    {"M19 upper-case U-label host", "xn--bcher-kva.example", 0,
     "B\xc3\x9c" "CHER.EXAMPLE.", 0, MTS_OK, true},
    {"M19 A-label host", "XN--BCHER-KVA.example", 0, "xn--bcher-kva.EXAMPLE",
     0, MTS_OK, true},
    {"M20 wildcard over an A-label", "*.example.com", 0,
     "xn--bcher-kva.example.com", 0, MTS_OK, true},
    {"M20 wildcard over a U-label", "*.example.com", 0,
     "b\xc3\xbc" "cher.example.com", 0, MTS_OK, true},
    {"wildcard pattern with A-label", "*.xn--bcher-kva.example", 0,
     "mx1.b\xc3\xbc" "cher.example", 0, MTS_OK, true},
    {"M25 MX-1 CNAME'd exchange name", "mx.real.example", 0,
     "mx.alias.example", 0, MTS_OK, false},
    {"host length bound", "mail.example.com", 0, "mail.example.comXX", 16,
     MTS_OK, true},
    {"pattern length bound", "mail.example.comXX", 16, "mail.example.com", 0,
     MTS_OK, true},
    {"host prefix", "mail.example.com", 0, "mail.example.co", 0, MTS_OK,
     false},
    {"host longer", "mail.example.com", 0, "mail.example.com.x", 0, MTS_OK,
     false},

    /* Invalid hosts: EIDN, never a match. */
    {"empty host", "*.example.com", 0, "", 0, MTS_EIDN, false},
    {"root host", "*.com", 0, ".", 0, MTS_EIDN, false},
    {"host with NUL", "mail.example.com", 0, "mail.example.com\0x", 18,
     MTS_EIDN, false},
    {"host with NUL inside", "*.example.com", 0, "a\0b.example.com", 15,
     MTS_EIDN, false},
    {"wildcard host", "*.example.com", 0, "*.example.com", 0, MTS_EIDN,
     false},
    {"host with space", "*.example.com", 0, "a b.example.com", 0, MTS_EIDN,
     false},
    {"host bad UTF-8", "*.example.com", 0, "\xc3.example.com", 0, MTS_EIDN,
     false},
    {"host 64-octet label", "*.example.com", 0, L63 "a.example.com", 0,
     MTS_EIDN, false},

    /* Invalid patterns: EPARSE, never a match. */
    {"empty pattern", "", 0, "example.com", 0, MTS_EPARSE, false},
    {"bare star", "*", 0, "example.com", 0, MTS_EPARSE, false},
    {"star dot", "*.", 0, "a.example.com", 0, MTS_EPARSE, false},
    {"two wildcards", "*.*.example.com", 0, "a.b.example.com", 0, MTS_EPARSE,
     false},
    {"partial wildcard", "mail*.example.com", 0, "mail1.example.com", 0,
     MTS_EPARSE, false},
    {"star without dot", "*example.com", 0, "mail.example.com", 0, MTS_EPARSE,
     false},
    {"U-label pattern", "b\xc3\xbc" "cher.example", 0,
     "b\xc3\xbc" "cher.example", 0, MTS_EPARSE, false},
    {"pattern with NUL", "mail.example.com\0", 17, "mail.example.com", 0,
     MTS_EPARSE, false},
};

static void test_match_table(void **state) {
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(match_cases) / sizeof(match_cases[0]); i++) {
    const struct match_case *c = &match_cases[i];
    size_t plen = c->plen != 0 ? c->plen : strlen(c->pattern);
    size_t hlen = c->hlen != 0 ? c->hlen : strlen(c->host);
    bool got = !c->want;
    enum mts_status st = mts_sts_match(c->pattern, plen, c->host, hlen, &got);

    if (st != c->want_st || got != c->want) {
      fail_msg("%s: got %s/%s, want %s/%s", c->name, mts_status_name(st),
               got ? "match" : "no match", mts_status_name(c->want_st),
               c->want ? "match" : "no match");
    }
  }
}

struct valid_case {
  const char *name;
  const char *pattern;
  size_t len; /* 0: strlen */
  bool want;
};

/* 3 * 63 + 61 + 3 dots = 253 octets */
#define N253 L63 "." L63 "." L63 "." \
  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
/* "*." + 251 octets = 253 */
#define W253 "*." L63 "." L63 "." L63 "." \
  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static const struct valid_case valid_cases[] = {
    {"host name", "mail.example.com", 0, true},
    {"wildcard", "*.example.com", 0, true},
    {"M17 wildcard over TLD", "*.com", 0, true},
    {"single label", "localhost", 0, true},
    {"digits", "123.example", 0, true},
    {"inner hyphens", "a--b.x-y.example", 0, true},
    {"A-label", "xn--bcher-kva.example", 0, true},
    {"upper case", "MAIL.EXAMPLE.COM", 0, true},
    {"63-octet label", L63 ".example", 0, true},
    {"253 octets", N253, 0, true},
    {"wildcard, 253 octets", W253, 0, true},
    {"254 octets", N253 "a", 0, false},
    {"wildcard, 254 octets", W253 "a", 0, false},
    {"64-octet label", L63 "a.example", 0, false},
    {"empty", "", 0, false},
    {"NULL", NULL, 0, false},
    {"trailing dot (MX-5)", "mail.example.com.", 0, false},
    {"leading dot", ".example.com", 0, false},
    {"double dot", "mail..example.com", 0, false},
    {"leading hyphen", "-mail.example.com", 0, false},
    {"trailing hyphen", "mail-.example.com", 0, false},
    {"underscore", "_mta-sts.example.com", 0, false},
    {"bare star", "*", 0, false},
    {"star dot", "*.", 0, false},
    {"star dot dot", "*..example.com", 0, false},
    {"double wildcard", "*.*.example.com", 0, false},
    {"inner wildcard", "mail.*.example.com", 0, false},
    {"partial wildcard", "m*.example.com", 0, false},
    {"U-label", "b\xc3\xbc" "cher.example", 0, false},
    {"space", "mail .example.com", 0, false},
    {"NUL", "mail\0.example.com", 17, false},
    {"slash", "mail/example.com", 0, false},
};

static void test_pattern_valid(void **state) {
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(valid_cases) / sizeof(valid_cases[0]); i++) {
    const struct valid_case *c = &valid_cases[i];
    size_t len = c->len != 0 || c->pattern == NULL ? c->len : strlen(c->pattern);
    bool got = mts_sts_match_pattern_valid(c->pattern, len);

    if (got != c->want) {
      fail_msg("%s: got %s, want %s", c->name, got ? "valid" : "invalid",
               c->want ? "valid" : "invalid");
    }
  }
}

static void test_match_args(void **state) {
  bool m = true;

  (void)state;
  assert_int_equal(mts_sts_match("a.example", 9, "a.example", 9, NULL),
                   MTS_EINVAL);
  assert_int_equal(mts_sts_match("a.example", 9, NULL, 3, &m), MTS_EINVAL);
  assert_false(m);
  m = true;
  assert_int_equal(mts_sts_match(NULL, 0, "a.example", 9, &m), MTS_EPARSE);
  assert_false(m);
  m = true;
  assert_int_equal(mts_sts_policy_match(NULL, "a.example", 9, &m, NULL),
                   MTS_EINVAL);
  assert_false(m);
}

/* A policy parsed by the real parser, then matched against hosts. */
struct policy_case {
  const char *name;
  const char *body;
  const char *host;
  enum mts_status want_st;
  bool want;
  size_t want_index;
};

#define POLICY_HEAD "version: STSv1\nmode: enforce\nmax_age: 86400\n"

static const struct policy_case policy_cases[] = {
    {"M22 second pattern matches", POLICY_HEAD
     "mx: a.example.com\nmx: *.example.net\n", "x.example.net", MTS_OK, true,
     1},
    {"M22 first pattern matches", POLICY_HEAD
     "mx: a.example.com\nmx: *.example.net\n", "A.Example.Com.", MTS_OK, true,
     0},
    {"M22 first of two matching patterns", POLICY_HEAD
     "mx: *.example.net\nmx: x.example.net\n", "x.example.net", MTS_OK, true,
     0},
    {"M22 none matches", POLICY_HEAD "mx: a.example.com\nmx: *.example.net\n",
     "example.net", MTS_OK, false, 0},
    {"M19 U-label host against policy", POLICY_HEAD
     "mx: mx.xn--bcher-kva.example\n", "mx.b\xc3\xbc" "cher.example", MTS_OK,
     true, 0},
    {"M23 mode none without mx", "version: STSv1\nmode: none\nmax_age: 86400\n",
     "mail.example.com", MTS_OK, false, 0},
    {"invalid host", POLICY_HEAD "mx: *.example.com\n", ".example.com",
     MTS_EIDN, false, 0},
};

static void test_policy_match(void **state) {
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(policy_cases) / sizeof(policy_cases[0]); i++) {
    const struct policy_case *c = &policy_cases[i];
    struct mts_test_alloc a;
    struct mts_ctx *ctx = mts_test_ctx(&a, 0);
    struct mts_sts_policy *p = NULL;
    bool got = !c->want;
    size_t idx = 999;
    enum mts_status st;

    assert_int_equal(mts_sts_policy_parse(ctx, (const uint8_t *)c->body,
                                          strlen(c->body), &p),
                     MTS_OK);
    st = mts_sts_policy_match(p, c->host, strlen(c->host), &got, &idx);
    if (st != c->want_st || got != c->want) {
      fail_msg("%s: got %s/%s, want %s/%s", c->name, mts_status_name(st),
               got ? "match" : "no match", mts_status_name(c->want_st),
               c->want ? "match" : "no match");
    }
    if (c->want && idx != c->want_index) {
      fail_msg("%s: got index %zu, want %zu", c->name, idx, c->want_index);
    }
    if (!c->want && idx != 999) {
      fail_msg("%s: index written without a match", c->name);
    }
    /* index may be NULL */
    assert_int_equal(
        mts_sts_policy_match(p, c->host, strlen(c->host), &got, NULL), st);
    mts_sts_policy_destroy(p);
    mts_ctx_destroy(ctx);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_match_table),
      cmocka_unit_test(test_pattern_valid),
      cmocka_unit_test(test_match_args),
      cmocka_unit_test(test_policy_match),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
