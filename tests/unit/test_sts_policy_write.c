/*
 * test_sts_policy_write.c - the canonical policy writer and the
 * content-derived id (mtasts/sts_policy_write.h).
 *
 * Round trip: every written policy parses as valid (RFC 8461 3.2) with
 * no finding at all and the same mode, max_age and mx list. Vector IDs:
 * Wnn are ours; P01/P28 refer to RFC-CHECKLIST.md 3.2 (the written form
 * of P01's fields, and max_age 0 = AMBIG-POL-5).
 */
#include "testutil.h"

#include <mtasts/limits.h>

#define E MTS_STS_MODE_ENFORCE
#define T MTS_STS_MODE_TESTING
#define N MTS_STS_MODE_NONE
#define U MTS_STS_MODE_UNKNOWN

struct wcase {
  const char *id;
  enum mts_sts_mode mode;
  int64_t max_age;
  const char *mx[5]; /* NULL-terminated */
  enum mts_status want_st;
  const char *want; /* exact output when MTS_OK */
};

static const struct wcase cases[] = {
    {"W01-P01",
     E,
     604800,
     {"mail.example.com", "*.example.net", "backupmx.example.com"},
     MTS_OK,
     "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\n"
     "mx: *.example.net\r\nmx: backupmx.example.com\r\nmax_age: 604800\r\n"},
    {"W02-testing",
     T,
     86400,
     {"mx1.example.com"},
     MTS_OK,
     "version: STSv1\r\nmode: testing\r\nmx: mx1.example.com\r\n"
     "max_age: 86400\r\n"},
    {"W03-none-no-mx",
     N,
     86400,
     {NULL},
     MTS_OK,
     "version: STSv1\r\nmode: none\r\nmax_age: 86400\r\n"},
    {"W04-P28-max-age-0",
     N,
     0,
     {NULL},
     MTS_OK,
     "version: STSv1\r\nmode: none\r\nmax_age: 0\r\n"},
    {"W05-max-age-max",
     E,
     MTS_STS_MAX_AGE_MAX,
     {"a.b"},
     MTS_OK,
     "version: STSv1\r\nmode: enforce\r\nmx: a.b\r\nmax_age: 31557600\r\n"},
    {"W06-none-with-mx",
     N,
     1,
     {"mx.example.com"},
     MTS_OK,
     "version: STSv1\r\nmode: none\r\nmx: mx.example.com\r\nmax_age: 1\r\n"},
    {"W07-idn-a-label",
     E,
     86400,
     {"xn--bcher-kva.example", "*.xn--bcher-kva.example"},
     MTS_OK,
     "version: STSv1\r\nmode: enforce\r\nmx: xn--bcher-kva.example\r\n"
     "mx: *.xn--bcher-kva.example\r\nmax_age: 86400\r\n"},
    /* refused: what the parser would refuse */
    {"W20-POL-9-enforce-no-mx", E, 86400, {NULL}, MTS_EINVAL, NULL},
    {"W21-POL-9-testing-no-mx", T, 86400, {NULL}, MTS_EINVAL, NULL},
    {"W22-unknown-mode", U, 86400, {"a.example"}, MTS_EINVAL, NULL},
    {"W23-AMBIG-POL-2-too-large",
     E,
     MTS_STS_MAX_AGE_MAX + 1,
     {"a.example"},
     MTS_EINVAL,
     NULL},
    {"W24-negative", E, -1, {"a.example"}, MTS_EINVAL, NULL},
    {"W25-trailing-dot", E, 86400, {"a.example."}, MTS_EINVAL, NULL},
    {"W26-u-label", E, 86400, {"bücher.example"}, MTS_EINVAL, NULL},
    {"W27-inner-wildcard", E, 86400, {"mail.*.example"}, MTS_EINVAL, NULL},
    {"W28-one-bad-of-two",
     E,
     86400,
     {"good.example", "bad_.example"},
     MTS_EINVAL,
     NULL},
    {"W29-empty", E, 86400, {""}, MTS_EINVAL, NULL},
    {"W30-newline-injection",
     E,
     86400,
     {"a.example\r\nmode: none"},
     MTS_EINVAL,
     NULL},
};

static size_t mx_count(const struct wcase *c) {
  size_t n = 0;

  while (c->mx[n] != NULL) {
    n++;
  }
  return n;
}

static void test_write_table(void **state) {
  size_t k;

  (void)state;
  for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
    const struct wcase *c = &cases[k];
    struct mts_sts_policy_fields f = {c->mode, c->max_age, c->mx, mx_count(c)};
    char buf[1024];
    size_t len = 12345, need = 0, i;
    enum mts_status st = mts_sts_policy_write(&f, buf, sizeof(buf), &len);
    struct mts_test_alloc a;
    struct mts_ctx *ctx;
    struct mts_sts_policy *p = NULL;

    if (st != c->want_st) {
      fail_msg("%s: got %s, want %s", c->id, mts_status_name(st),
               mts_status_name(c->want_st));
    }
    if (st != MTS_OK) {
      if (len != 0 || buf[0] != '\0') {
        fail_msg("%s: got len %zu / \"%s\" on failure, want 0 / \"\"", c->id,
                 len, buf);
      }
      continue;
    }
    if (len != strlen(c->want) || strcmp(buf, c->want) != 0) {
      fail_msg("%s: got \"%s\" (%zu), want \"%s\"", c->id, buf, len, c->want);
    }
    /* snprintf contract: size query with no buffer, then too small. */
    assert_int_equal(mts_sts_policy_write(&f, NULL, 0, &need), MTS_ETOOBIG);
    assert_int_equal(need, len);
    assert_int_equal(mts_sts_policy_write(&f, buf, len, &need), MTS_ETOOBIG);
    assert_int_equal(need, len);
    assert_string_equal(buf, "");
    assert_int_equal(mts_sts_policy_write(&f, buf, len + 1, &need), MTS_OK);
    assert_string_equal(buf, c->want);

    /* Round trip: valid, no finding at all, same fields. */
    ctx = mts_test_ctx(&a, 0);
    assert_int_equal(mts_sts_policy_parse(ctx, (const uint8_t *)buf, len, &p),
                     MTS_OK);
    if (!mts_sts_policy_valid(p) ||
        mts_findings_count(mts_sts_policy_findings(p)) != 0) {
      fail_msg("%s: written policy not valid or has %zu findings", c->id,
               mts_findings_count(mts_sts_policy_findings(p)));
    }
    assert_int_equal(mts_sts_policy_mode(p), c->mode);
    assert_int_equal(mts_sts_policy_max_age(p), c->max_age);
    assert_int_equal(mts_sts_policy_mx_count(p), mx_count(c));
    for (i = 0; i < mx_count(c); i++) {
      assert_string_equal(mts_sts_policy_mx(p, i), c->mx[i]);
    }
    mts_sts_policy_destroy(p);
    mts_ctx_destroy(ctx);
  }
}

static void test_write_args(void **state) {
  static const char *const mx[] = {"a.example"};
  struct mts_sts_policy_fields f = {E, 86400, mx, 1};
  struct mts_sts_policy_fields fnull = {E, 86400, NULL, 1};
  char buf[256];
  size_t len = 7;

  (void)state;
  assert_int_equal(mts_sts_policy_write(NULL, buf, sizeof(buf), &len),
                   MTS_EINVAL);
  assert_int_equal(mts_sts_policy_write(&f, buf, sizeof(buf), NULL),
                   MTS_EINVAL);
  assert_int_equal(mts_sts_policy_write(&f, NULL, 10, &len), MTS_EINVAL);
  assert_int_equal(mts_sts_policy_write(&fnull, buf, sizeof(buf), &len),
                   MTS_EINVAL);
  assert_int_equal(len, 0);
}

/* Many long patterns: over MTS_POLICY_MAX_SIZE is refused (W31). */
static void test_write_too_large(void **state) {
  char pat[64];
  const char **mx = test_malloc(1000 * sizeof(*mx));
  struct mts_sts_policy_fields f = {E, 86400, NULL, 1000};
  size_t len = 1, i;

  (void)state;
  memset(pat, 'a', 63);
  pat[63] = '\0';
  for (i = 0; i < 1000; i++) {
    mx[i] = pat; /* 1000 * 69 bytes > 65536 */
  }
  f.mx = mx;
  assert_int_equal(mts_sts_policy_write(&f, NULL, 0, &len), MTS_EINVAL);
  assert_int_equal(len, 0);
  f.mx_count = 100; /* fits */
  assert_int_equal(mts_sts_policy_write(&f, NULL, 0, &len), MTS_ETOOBIG);
  assert_true(len > 6900 && len < MTS_POLICY_MAX_SIZE);
  test_free(mx);
}

struct idcase {
  const char *id;
  const char *in;
  const char *want; /* first 20 hex digits of SHA-256 */
};

/* Known SHA-256 prefixes (sha256sum). */
static const struct idcase idcases[] = {
    {"I01-empty", "", "e3b0c44298fc1c149afb"},
    {"I02-abc", "abc", "ba7816bf8f01cfea4141"},
    {"I03-P01",
     "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\n"
     "mx: *.example.net\r\nmx: backupmx.example.com\r\nmax_age: "
     "604800\r\n",
     NULL},
};

static void test_id(void **state) {
  char id[MTS_STS_POLICY_WRITE_ID_BUFSIZE],
      id2[MTS_STS_POLICY_WRITE_ID_BUFSIZE];
  size_t k, i;

  (void)state;
  for (k = 0; k < sizeof(idcases) / sizeof(idcases[0]); k++) {
    const struct idcase *c = &idcases[k];

    assert_int_equal(
        mts_sts_policy_write_id((const uint8_t *)c->in, strlen(c->in), id),
        MTS_OK);
    if (c->want != NULL && strcmp(id, c->want) != 0) {
      fail_msg("%s: got %s, want %s", c->id, id, c->want);
    }
    /* T-vector shape: 1*32 ALPHA / DIGIT (RFC 8461 3.1). */
    assert_int_equal(strlen(id), MTS_STS_POLICY_WRITE_ID_LEN);
    for (i = 0; id[i] != '\0'; i++) {
      assert_true((id[i] >= '0' && id[i] <= '9') ||
                  (id[i] >= 'a' && id[i] <= 'f'));
    }
    /* stable */
    assert_int_equal(
        mts_sts_policy_write_id((const uint8_t *)c->in, strlen(c->in), id2),
        MTS_OK);
    assert_string_equal(id, id2);
  }
  /* NULL with length 0 is the empty input */
  assert_int_equal(mts_sts_policy_write_id(NULL, 0, id), MTS_OK);
  assert_string_equal(id, "e3b0c44298fc1c149afb");
  assert_int_equal(mts_sts_policy_write_id(NULL, 1, id), MTS_EINVAL);
  assert_string_equal(id, "");
  assert_int_equal(mts_sts_policy_write_id((const uint8_t *)"a", 1, NULL),
                   MTS_EINVAL);
}

/* I04: the id changes with every change of the policy: one field, one
 * byte, the line terminator, the mx order. And it validates as an
 * `_mta-sts` id. */
static void test_id_changes(void **state) {
  static const char *const mx1[] = {"a.example", "b.example"};
  static const char *const mx2[] = {"b.example", "a.example"};
  static const char *const mx3[] = {"a.example"};
  const struct mts_sts_policy_fields fs[] = {
      {E, 86400, mx1, 2}, {T, 86400, mx1, 2}, {E, 86401, mx1, 2},
      {E, 86400, mx2, 2}, {E, 86400, mx3, 1}, {N, 86400, NULL, 0},
  };
  char ids[6][MTS_STS_POLICY_WRITE_ID_BUFSIZE];
  char buf[512], rec[64];
  size_t k, j, len;
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);

  (void)state;
  for (k = 0; k < 6; k++) {
    assert_int_equal(mts_sts_policy_write(&fs[k], buf, sizeof(buf), &len),
                     MTS_OK);
    assert_int_equal(mts_sts_policy_write_id((const uint8_t *)buf, len, ids[k]),
                     MTS_OK);
    for (j = 0; j < k; j++) {
      if (strcmp(ids[j], ids[k]) == 0) {
        fail_msg("I04: policies %zu and %zu share id %s", j, k, ids[k]);
      }
    }
  }
  /* LF instead of CRLF is another policy text, another id */
  assert_int_equal(
      mts_sts_policy_write_id(
          (const uint8_t *)"version: STSv1\nmode: none\nmax_age: 86400\n", 41,
          ids[0]),
      MTS_OK);
  assert_string_not_equal(ids[0], ids[5]);

  /* the id is a valid sts-id in a record */
  {
    const char *rr[] = {rec, NULL};
    const char *const *rrs[] = {rr, NULL};
    struct mts_txt_rrset *set;
    struct mts_sts_txt *t = NULL;

    memcpy(rec, "v=STSv1; id=", 12);
    memcpy(rec + 12, ids[5], MTS_STS_POLICY_WRITE_ID_BUFSIZE);
    set = mts_test_rrset(ctx, rrs);
    assert_int_equal(mts_sts_txt_parse(ctx, set, &t), MTS_OK);
    assert_int_equal(mts_sts_txt_verdict(t), MTS_STS_TXT_VALID);
    assert_string_equal(mts_sts_txt_id(t), ids[5]);
    mts_sts_txt_destroy(t);
    mts_txt_rrset_destroy(set);
  }
  mts_ctx_destroy(ctx);
}

/* Allocation sweep over write + parse (the writer itself allocates
 * nothing; the sweep proves the round trip is leak-free on ENOMEM). */
static enum mts_status op_roundtrip(struct mts_ctx *ctx, void *arg) {
  const struct wcase *c = arg;
  struct mts_sts_policy_fields f = {c->mode, c->max_age, c->mx, mx_count(c)};
  struct mts_sts_policy *p = NULL;
  char buf[512];
  size_t len;
  enum mts_status st = mts_sts_policy_write(&f, buf, sizeof(buf), &len);

  if (st != MTS_OK) {
    return st;
  }
  st = mts_sts_policy_parse(ctx, (const uint8_t *)buf, len, &p);
  if (st == MTS_OK && !mts_sts_policy_valid(p)) {
    st = MTS_EINTERNAL;
  }
  mts_sts_policy_destroy(p);
  return st;
}

static void test_alloc_sweep(void **state) {
  struct wcase c = cases[0];

  (void)state;
  assert_true(mts_test_alloc_sweep(op_roundtrip, &c) > 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_write_table),
      cmocka_unit_test(test_write_args),
      cmocka_unit_test(test_write_too_large),
      cmocka_unit_test(test_id),
      cmocka_unit_test(test_id_changes),
      cmocka_unit_test(test_alloc_sweep),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
