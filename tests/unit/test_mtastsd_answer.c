/*
 * test_mtastsd_answer.c - the socketmap reply payloads of mtastsd
 * (src/mtastsd/answer.c): resolver answer x zone settings -> reply.
 * Vector IDs AN-xx refer to docs/decisions.md; the exact strings
 * are POSTFIX-NOTES 2.2-2.4 (the peer's replies) where the peer is right.
 */
#include "testutil.h"

#include <stdlib.h>

#include <mtasts/sts_discover.h>
#include <mtasts/sts_policy.h>

#include "answer.h"

#define POLICY_GOOD                                                            \
  "version: STSv1\nmode: enforce\nmx: mail.example.com\n"                      \
  "mx: *.mx.example.com\nmax_age: 86400\n"
#define MATCH_GOOD "secure match=mail.example.com:.mx.example.com"

enum { SNI = 1, STRICT = 2, RPT = 4, TEMPOK = 8, PFAIL = 16 };

struct vec {
  const char *id;
  enum mts_sts_answer_kind kind;
  const char *body; /* NULL: no policy */
  enum mts_sts_verdict last;
  unsigned flags;
  enum mts_socketmap_reply_kind want_kind;
  const char *want; /* text of OK/TEMP; NULL for NOTFOUND */
};

static const struct vec vecs[] = {
    /* AN-1: the peer's answers (POSTFIX-NOTES 2.2, refdata.tsv). */
    {"AN-1a enforce, require_sni", MTS_ANSWER_POLICY, POLICY_GOOD,
     MTS_STS_V_POLICY, SNI, MTS_SOCKETMAP_REPLY_OK,
     MATCH_GOOD " servername=hostname"},
    {"AN-1b enforce, no sni", MTS_ANSWER_POLICY, POLICY_GOOD, MTS_STS_V_POLICY,
     0, MTS_SOCKETMAP_REPLY_OK, MATCH_GOOD},
    {"AN-1c testing, not strict", MTS_ANSWER_POLICY,
     "version: STSv1\nmode: testing\nmx: mail.example.com\nmax_age: 86400\n",
     MTS_STS_V_POLICY, SNI, MTS_SOCKETMAP_REPLY_NOTFOUND, NULL},
    {"AN-1d testing, strict_testing", MTS_ANSWER_POLICY,
     "version: STSv1\nmode: testing\nmx: mail.example.com\nmax_age: 86400\n",
     MTS_STS_V_POLICY, SNI | STRICT, MTS_SOCKETMAP_REPLY_OK,
     "secure match=mail.example.com servername=hostname"},
    {"AN-1e mode none (cached)", MTS_ANSWER_NONE,
     "version: STSv1\nmode: none\nmax_age: 86400\n", MTS_STS_V_POLICY, SNI,
     MTS_SOCKETMAP_REPLY_NOTFOUND, NULL},
    {"AN-1f mode none in a POLICY answer", MTS_ANSWER_POLICY,
     "version: STSv1\nmode: none\nmax_age: 86400\n", MTS_STS_V_POLICY,
     SNI | STRICT, MTS_SOCKETMAP_REPLY_NOTFOUND, NULL},
    {"AN-1g no policy", MTS_ANSWER_NONE, NULL, MTS_STS_V_NO_POLICY, SNI | RPT,
     MTS_SOCKETMAP_REPLY_NOTFOUND, NULL},
    {"AN-1h fetch error, first contact", MTS_ANSWER_NONE, NULL,
     MTS_STS_V_FETCH_ERROR, SNI | RPT | PFAIL, MTS_SOCKETMAP_REPLY_NOTFOUND,
     NULL},
    {"AN-1i POLICY kind without a policy", MTS_ANSWER_POLICY, NULL,
     MTS_STS_V_POLICY, SNI, MTS_SOCKETMAP_REPLY_NOTFOUND, NULL},
    /* AN-8: on_tempfail. */
    {"AN-8a TEMP, on_tempfail notfound", MTS_ANSWER_TEMP, NULL,
     MTS_STS_V_DNS_TEMPFAIL, SNI, MTS_SOCKETMAP_REPLY_NOTFOUND, NULL},
    {"AN-8b TEMP, on_tempfail temp", MTS_ANSWER_TEMP, NULL,
     MTS_STS_V_DNS_TEMPFAIL, SNI | TEMPOK, MTS_SOCKETMAP_REPLY_TEMP,
     "MTA-STS policy not available in time"},
    /* AN-2/AN-3: match= list: policy order, de-duplicated (case-blind),
     * lower case, "*." -> ".", no IP addresses. */
    {"AN-3a duplicates and case", MTS_ANSWER_POLICY,
     "version: STSv1\nmode: enforce\nmx: MAIL.example.com\n"
     "mx: *.X.example.com\nmx: mail.example.com\nmx: *.x.example.com\n"
     "mx: mail.EXAMPLE.com\nmax_age: 86400\n",
     MTS_STS_V_POLICY, 0, MTS_SOCKETMAP_REPLY_OK,
     "secure match=mail.example.com:.x.example.com"},
    {"AN-3b policy order kept", MTS_ANSWER_POLICY,
     "version: STSv1\nmode: enforce\nmx: z.example.com\nmx: a.example.com\n"
     "mx: m.example.com\nmax_age: 86400\n",
     MTS_STS_V_POLICY, 0, MTS_SOCKETMAP_REPLY_OK,
     "secure match=z.example.com:a.example.com:m.example.com"},
    {"AN-3c IP pattern skipped", MTS_ANSWER_POLICY,
     "version: STSv1\nmode: enforce\nmx: 192.0.2.1\nmx: mail.example.com\n"
     "max_age: 86400\n",
     MTS_STS_V_POLICY, 0, MTS_SOCKETMAP_REPLY_OK,
     "secure match=mail.example.com"},
    {"AN-3d only an IP pattern: NOTFOUND, never match=", MTS_ANSWER_POLICY,
     "version: STSv1\nmode: enforce\nmx: 192.0.2.1\nmax_age: 86400\n",
     MTS_STS_V_POLICY, SNI, MTS_SOCKETMAP_REPLY_NOTFOUND, NULL},
    {"AN-3e enforce without mx: NOTFOUND", MTS_ANSWER_POLICY,
     "version: STSv1\nmode: enforce\nmax_age: 86400\n", MTS_STS_V_POLICY, SNI,
     MTS_SOCKETMAP_REPLY_NOTFOUND, NULL},
    /* AN-2/AN-5: TLSRPT attributes (POSTFIX-NOTES 2.4), raw lines. */
    {"AN-5a tlsrpt attributes", MTS_ANSWER_POLICY, POLICY_GOOD,
     MTS_STS_V_POLICY, SNI | RPT, MTS_SOCKETMAP_REPLY_OK,
     MATCH_GOOD " servername=hostname policy_type=sts "
                "policy_domain=example.com mx_host_pattern=mail.example.com "
                "mx_host_pattern=*.mx.example.com "
                "{ policy_string = version: STSv1 } "
                "{ policy_string = mode: enforce } "
                "{ policy_string = mx: mail.example.com } "
                "{ policy_string = mx: *.mx.example.com } "
                "{ policy_string = max_age: 86400 }"},
    {"AN-5b CRLF, blank line, braces, tab", MTS_ANSWER_POLICY,
     "version: STSv1\r\nmode: enforce\r\n\r\nmx: mail.example.com\r\n"
     "ext: a{b}c\r\nmax_age:\t86400\r\n",
     MTS_STS_V_POLICY, RPT, MTS_SOCKETMAP_REPLY_OK,
     "secure match=mail.example.com policy_type=sts policy_domain=example.com "
     "mx_host_pattern=mail.example.com { policy_string = version: STSv1 } "
     "{ policy_string = mode: enforce } "
     "{ policy_string = mx: mail.example.com } "
     "{ policy_string = ext: a?b?c } { policy_string = max_age: 86400 }"},
    /* AN-4: policy_failure only when enabled. */
    {"AN-4a cached policy, refresh failed: no policy_failure by default",
     MTS_ANSWER_POLICY, "version: STSv1\nmode: enforce\nmx: m.example.com\n"
                        "max_age: 86400\n",
     MTS_STS_V_FETCH_ERROR, RPT, MTS_SOCKETMAP_REPLY_OK,
     "secure match=m.example.com policy_type=sts policy_domain=example.com "
     "mx_host_pattern=m.example.com { policy_string = version: STSv1 } "
     "{ policy_string = mode: enforce } { policy_string = mx: m.example.com } "
     "{ policy_string = max_age: 86400 }"},
    {"AN-4b policy_failure enabled", MTS_ANSWER_POLICY,
     "version: STSv1\nmode: enforce\nmx: m.example.com\nmax_age: 86400\n",
     MTS_STS_V_WEBPKI_INVALID, RPT | PFAIL, MTS_SOCKETMAP_REPLY_OK,
     "secure match=m.example.com policy_type=sts policy_domain=example.com "
     "mx_host_pattern=m.example.com { policy_string = version: STSv1 } "
     "{ policy_string = mode: enforce } { policy_string = mx: m.example.com } "
     "{ policy_string = max_age: 86400 } policy_failure=sts-webpki-invalid"},
    {"AN-4c policy_failure enabled, last discovery fine", MTS_ANSWER_POLICY,
     "version: STSv1\nmode: enforce\nmx: m.example.com\nmax_age: 86400\n",
     MTS_STS_V_POLICY, PFAIL, MTS_SOCKETMAP_REPLY_OK,
     "secure match=m.example.com"},
};

static void run_vec(const struct vec *v, size_t bufsize,
                    struct mtastsd_reply *r, char *buf) {
  struct mts_test_alloc al;
  struct mts_ctx *ctx = mts_test_ctx(&al, 0);
  struct mts_sts_policy *p = NULL;
  struct mts_sts_answer a;
  struct mtastsd_answer_opts o;

  if (v->body != NULL) {
    assert_int_equal(mts_sts_policy_parse(ctx, (const uint8_t *)v->body,
                                          strlen(v->body), &p),
                     MTS_OK);
  }
  memset(&a, 0, sizeof(a));
  a.kind = v->kind;
  a.domain = "example.com";
  a.policy = p;
  a.id = "id1";
  a.last_verdict = v->last;
  mtastsd_answer_opts_init(&o, NULL, NULL);
  o.require_sni = (v->flags & SNI) != 0;
  o.strict_testing = (v->flags & STRICT) != 0;
  o.tlsrpt = (v->flags & RPT) != 0;
  o.on_tempfail =
      (v->flags & TEMPOK) ? MTASTSD_TEMPFAIL_TEMP : MTASTSD_TEMPFAIL_NOTFOUND;
  o.policy_failure = (v->flags & PFAIL) != 0;
  mtastsd_answer_build(&a, &o, buf, bufsize, r);
  mts_sts_policy_destroy(p);
  mts_ctx_destroy(ctx);
}

static void test_answer_table(void **state) {
  char *buf = malloc(MTASTSD_ANSWER_BUF_MAX);
  size_t i;

  (void)state;
  assert_non_null(buf);
  for (i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
    const struct vec *v = &vecs[i];
    struct mtastsd_reply r;

    run_vec(v, MTASTSD_ANSWER_BUF_MAX, &r, buf);
    if (r.kind != v->want_kind) {
      fail_msg("%s: got kind %d (%s), want %d", v->id, (int)r.kind, r.why,
               (int)v->want_kind);
    }
    if (v->want != NULL &&
        (r.len != strlen(v->want) || strcmp(buf, v->want) != 0)) {
      fail_msg("%s:\n got  '%s'\n want '%s'", v->id, buf, v->want);
    }
    if (v->want == NULL && r.len != 0) {
      fail_msg("%s: got text '%s' for NOTFOUND", v->id, buf);
    }
    assert_non_null(r.why);
  }
  free(buf);
}

/* AN-6: the reply never exceeds Postfix's 100000 bytes: a policy whose
 * TLSRPT form is too large is answered without the attributes; one that
 * does not fit at all (a tiny buffer here) is NOTFOUND. */
static void test_answer_too_large(void **state) {
  char *body = malloc(MTS_POLICY_MAX_SIZE);
  char *buf = malloc(MTASTSD_ANSWER_BUF_MAX);
  size_t len = 0, i;
  struct vec v = {"AN-6", MTS_ANSWER_POLICY, NULL, MTS_STS_V_POLICY, SNI | RPT,
                  MTS_SOCKETMAP_REPLY_OK, NULL};
  struct mtastsd_reply r;

  (void)state;
  assert_non_null(body);
  assert_non_null(buf);
  len += (size_t)snprintf(body, MTS_POLICY_MAX_SIZE,
                          "version: STSv1\nmode: enforce\nmax_age: 86400\n");
  for (i = 0; len + 80 < MTS_POLICY_MAX_SIZE; i++) {
    len += (size_t)snprintf(body + len, MTS_POLICY_MAX_SIZE - len,
                            "mx: host%05zu.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                            "aaaaaaaa.example\n",
                            i);
  }
  body[len] = '\0';
  v.body = body;
  run_vec(&v, MTASTSD_ANSWER_BUF_MAX, &r, buf);
  assert_int_equal(r.kind, MTS_SOCKETMAP_REPLY_OK);
  assert_true(r.len <= MTS_SOCKETMAP_REPLY_MAX);
  assert_true(r.len > 50000);
  assert_null(strstr(buf, "policy_type="));
  assert_non_null(strstr(buf, " servername=hostname"));
  assert_non_null(strstr(r.why, "dropped"));

  v.body = POLICY_GOOD;
  run_vec(&v, 40, &r, buf);
  assert_int_equal(r.kind, MTS_SOCKETMAP_REPLY_NOTFOUND);
  assert_string_equal(r.why, "answer too large");
  free(body);
  free(buf);
}

/* AN-2/AN-3: the wildcard hook and pattern validation. */
static void test_match_pattern(void **state) {
  static const struct {
    const char *in;
    const char *want; /* NULL: refused */
  } t[] = {
      {"*.example.com", ".example.com"},
      {"Mail.Example.COM", "mail.example.com"},
      {"*.com", ".com"},
      {"localhost", "localhost"},
      {"xn--bcher-kva.example", "xn--bcher-kva.example"},
      {"a-b.c", "a-b.c"},
      {"192.0.2.1", NULL},
      {"1.2.3.4.5", NULL},
      {"", NULL},
      {"*.", NULL},
      {"*", NULL},
      {"*.*.a.b", NULL},
      {"**.a.b", NULL},
      {".a.b", NULL},
      {"a..b", NULL},
      {"a.b.", NULL},
      {"-a.b", NULL},
      {"a-.b", NULL},
      {"a_b.c", NULL},
      {"a b.c", NULL},
      {"[::1]", NULL},
      {"mail.exa}mple.com", NULL},
      {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.b", NULL},
  };
  char out[MTS_DOMAIN_MAX + 2];
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
    bool ok = mtastsd_answer_match_pattern(t[i].in, out, sizeof(out));

    if (ok != (t[i].want != NULL) || (ok && strcmp(out, t[i].want) != 0)) {
      fail_msg("pattern '%s': got %s '%s', want %s", t[i].in,
               ok ? "ok" : "refused", out, t[i].want ? t[i].want : "refused");
    }
  }
  /* No room: refused, not cut. */
  assert_false(mtastsd_answer_match_pattern("mail.example.com", out, 5));
  assert_false(mtastsd_answer_match_pattern(NULL, out, sizeof(out)));
}

/* AN-5: policy_string sanitising. */
static void test_policy_string(void **state) {
  static const struct {
    const char *in;
    const char *want; /* "" : skipped */
  } t[] = {
      {"mode: enforce", "mode: enforce"},
      {"  mode: enforce \t", "mode: enforce"},
      {"", ""},
      {" \t ", ""},
      {"a}b{c", "a?b?c"},
      {"x\x01y\x7f", "x?y?"},
      {"a:\tb", "a: b"},
      {"\xc3\xa9t\xc3\xa9", "??t??"},
      {"k: v=1, w", "k: v=1, w"},
  };
  char out[64];
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
    size_t n = mtastsd_answer_policy_string(t[i].in, out, sizeof(out));

    if (n != strlen(t[i].want) || (n > 0 && strcmp(out, t[i].want) != 0)) {
      fail_msg("line '%s': got %zu '%s', want '%s'", t[i].in, n,
               n > 0 ? out : "", t[i].want);
    }
  }
  assert_int_equal(mtastsd_answer_policy_string("abcdef", out, 4), 0);
}

/* Zone and config settings reach the options. */
static void test_opts_init(void **state) {
  struct mtastsd_zone z = {NULL, 4, true, false, true};
  struct mtastsd_config c;
  struct mtastsd_answer_opts o;

  (void)state;
  memset(&c, 0, sizeof(c));
  c.on_tempfail = MTASTSD_TEMPFAIL_TEMP;
  c.wildcard_match = MTASTSD_WILDCARD_POSTFIX;
  mtastsd_answer_opts_init(&o, NULL, NULL);
  assert_true(o.expand_wildcards); /* AN-2: expand by default */
  assert_null(o.mx);
  assert_true(o.require_sni);
  assert_false(o.strict_testing);
  assert_false(o.tlsrpt);
  assert_false(o.policy_failure);
  assert_int_equal(o.on_tempfail, MTASTSD_TEMPFAIL_NOTFOUND);
  mtastsd_answer_opts_init(&o, &z, &c);
  assert_true(o.strict_testing);
  assert_false(o.require_sni);
  assert_true(o.tlsrpt);
  assert_int_equal(o.on_tempfail, MTASTSD_TEMPFAIL_TEMP);
  assert_false(o.expand_wildcards);
}

/* AN-2: wildcard expansion. Each "*.x" becomes the MX hosts it matches
 * with exactly one label (RFC 8461 4.1), in MX-set order, de-duplicated
 * against everything already listed; exact patterns stay; only
 * non-matching wildcards: MTASTSD_NO_MX_MATCH, never NOTFOUND. */
static void test_expand(void **state) {
  static const char *const mx_deep[] = {"a.b.mx.example.com"};
  static const char *const mx_two[] = {"b.mx.example.com", "a.mx.example.com",
                                       "mail.example.com",
                                       "a.b.mx.example.com"};
  static const char *const mx_dup[] = {"a.mx.example.com", "a.mx.example.com",
                                       "mail.example.com"};
  static const char *const mx_bad[] = {"", "a b.mx.example.com",
                                       "1.mx.example.com.evil",
                                       "x.mx.example.com"};
  static const char *const mx_apex[] = {"mx.example.com"};
  static const struct {
    const char *id;
    const char *body;
    const char *const *hosts; /* NULL: no MX set (unexpanded) */
    size_t n;
    unsigned flags;
    bool want_needs;
    const char *want;
    const char *want_why;
  } v[] = {
      {"AN-2a good policy, MX mail only", POLICY_GOOD, mx_deep + 0, 0, SNI,
       true, "secure match=mail.example.com servername=hostname", "enforce"},
      {"AN-2b two one-label MX, order of the MX set", POLICY_GOOD, mx_two, 4, 0,
       true,
       "secure match=mail.example.com:b.mx.example.com:a.mx.example.com",
       "enforce"},
      {"AN-2c two labels under the wildcard: no match, refuse every MX",
       "version: STSv1\nmode: enforce\nmx: *.mx.example.com\nmax_age: 1\n",
       mx_deep, 1, SNI, true,
       "secure match=" MTASTSD_NO_MX_MATCH " servername=hostname",
       "enforce, no MX host matches the policy"},
      {"AN-2d duplicates in MX set and against exact patterns",
       "version: STSv1\nmode: enforce\nmx: *.mx.example.com\n"
       "mx: a.mx.example.com\nmx: *.example.com\nmax_age: 1\n",
       mx_dup, 3, 0, true,
       "secure match=a.mx.example.com:mail.example.com", "enforce"},
      {"AN-2e junk MX names skipped",
       "version: STSv1\nmode: enforce\nmx: *.mx.example.com\nmax_age: 1\n",
       mx_bad, 4, 0, true, "secure match=x.mx.example.com", "enforce"},
      {"AN-2f wildcard does not match its own apex",
       "version: STSv1\nmode: enforce\nmx: *.mx.example.com\nmax_age: 1\n",
       mx_apex, 1, 0, true, "secure match=" MTASTSD_NO_MX_MATCH,
       "enforce, no MX host matches the policy"},
      {"AN-2g no MX set: .suffix (logged)", POLICY_GOOD, NULL, 0, 0, true,
       MATCH_GOOD, "enforce, wildcards unexpanded (no MX set)"},
      {"AN-2h exact patterns only: no MX needed",
       "version: STSv1\nmode: enforce\nmx: mail.example.com\nmax_age: 1\n",
       NULL, 0, 0, false, "secure match=mail.example.com", "enforce"},
      {"AN-2i tlsrpt keeps the original patterns", POLICY_GOOD, mx_two, 2, RPT,
       true,
       "secure match=mail.example.com:b.mx.example.com:a.mx.example.com "
       "policy_type=sts policy_domain=example.com "
       "mx_host_pattern=mail.example.com mx_host_pattern=*.mx.example.com "
       "{ policy_string = version: STSv1 } { policy_string = mode: enforce } "
       "{ policy_string = mx: mail.example.com } "
       "{ policy_string = mx: *.mx.example.com } "
       "{ policy_string = max_age: 86400 }",
       "enforce"},
      {"AN-2j testing, not strict: no MX needed",
       "version: STSv1\nmode: testing\nmx: *.mx.example.com\nmax_age: 1\n",
       NULL, 0, 0, false, NULL, "mode testing"},
  };
  char *buf = malloc(MTASTSD_ANSWER_BUF_MAX);
  size_t i;

  (void)state;
  assert_non_null(buf);
  for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
    struct mts_test_alloc al;
    struct mts_ctx *ctx = mts_test_ctx(&al, 0);
    struct mts_sts_policy *p = NULL;
    struct mts_sts_answer a;
    struct mtastsd_answer_opts o;
    struct mtastsd_mxset set = {v[i].hosts, v[i].n};
    struct mtastsd_reply r;
    bool needs;

    assert_int_equal(mts_sts_policy_parse(ctx, (const uint8_t *)v[i].body,
                                          strlen(v[i].body), &p),
                     MTS_OK);
    memset(&a, 0, sizeof(a));
    a.kind = MTS_ANSWER_POLICY;
    a.domain = "example.com";
    a.policy = p;
    a.last_verdict = MTS_STS_V_POLICY;
    mtastsd_answer_opts_init(&o, NULL, NULL);
    o.require_sni = (v[i].flags & SNI) != 0;
    o.tlsrpt = (v[i].flags & RPT) != 0;
    needs = mtastsd_answer_needs_mx(&a, &o);
    if (needs != v[i].want_needs) {
      fail_msg("%s: needs_mx got %d, want %d", v[i].id, needs,
               v[i].want_needs);
    }
    o.mx = v[i].hosts != NULL ? &set : NULL;
    mtastsd_answer_build(&a, &o, buf, MTASTSD_ANSWER_BUF_MAX, &r);
    if (v[i].want == NULL ? r.kind != MTS_SOCKETMAP_REPLY_NOTFOUND
                          : (r.kind != MTS_SOCKETMAP_REPLY_OK ||
                             strcmp(buf, v[i].want) != 0)) {
      fail_msg("%s:\n got  %d '%s'\n want '%s'", v[i].id, (int)r.kind, buf,
               v[i].want != NULL ? v[i].want : "NOTFOUND");
    }
    if (strcmp(r.why, v[i].want_why) != 0) {
      fail_msg("%s: why got '%s', want '%s'", v[i].id, r.why, v[i].want_why);
    }
    /* wildcard_match: postfix never asks for the MX set. */
    o.expand_wildcards = false;
    assert_false(mtastsd_answer_needs_mx(&a, &o));
    mts_sts_policy_destroy(p);
    mts_ctx_destroy(ctx);
  }
  free(buf);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_answer_table),
      cmocka_unit_test(test_answer_too_large),
      cmocka_unit_test(test_match_pattern),
      cmocka_unit_test(test_policy_string),
      cmocka_unit_test(test_opts_init),
      cmocka_unit_test(test_expand),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
