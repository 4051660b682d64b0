/*
 * test_txt.c - the TXT RRset container (mtasts/txt.h): strings with NUL,
 * limits, concatenation, the `dig +short` presentation reader and its
 * inverse writer (PRES-* in docs/decisions.md).
 */
#include "testutil.h"

#include <mtasts/limits.h>

/* ---- the container ---- */

static void test_container(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct mts_txt_rrset *set = NULL;
  static const uint8_t nul[] = {'a', 0, 'b'};
  uint8_t buf[32];
  const uint8_t *s;
  size_t len;

  (void)state;
  assert_int_equal(mts_txt_rrset_create(ctx, &set), MTS_OK);
  assert_int_equal(mts_txt_rrset_count(set), 0);
  assert_null(mts_txt_rrset_string(set, 0, 0, &len));
  assert_int_equal(len, 0);
  /* add_string on an empty set starts an RR */
  assert_int_equal(mts_txt_rrset_add_string(set, (const uint8_t *)"v=STS", 5),
                   MTS_OK);
  assert_int_equal(mts_txt_rrset_add_string(set, (const uint8_t *)"v1;", 3),
                   MTS_OK);
  assert_int_equal(mts_txt_rrset_add_rr(set), MTS_OK);
  assert_int_equal(mts_txt_rrset_add_string(set, nul, sizeof(nul)), MTS_OK);
  assert_int_equal(mts_txt_rrset_add_string(set, NULL, 0), MTS_OK);
  assert_int_equal(mts_txt_rrset_add_rr(set), MTS_OK); /* empty RR */

  assert_int_equal(mts_txt_rrset_count(set), 3);
  assert_int_equal(mts_txt_rrset_nstrings(set, 0), 2);
  assert_int_equal(mts_txt_rrset_nstrings(set, 1), 2);
  assert_int_equal(mts_txt_rrset_nstrings(set, 2), 0);
  assert_int_equal(mts_txt_rrset_nstrings(set, 3), 0);
  s = mts_txt_rrset_string(set, 1, 0, &len);
  assert_non_null(s);
  assert_int_equal(len, 3);
  assert_memory_equal(s, nul, 3);
  s = mts_txt_rrset_string(set, 1, 1, &len);
  assert_non_null(s);
  assert_int_equal(len, 0);
  assert_null(mts_txt_rrset_string(set, 1, 2, &len));

  /* TXT-9: concatenated without spaces */
  assert_int_equal(mts_txt_rrset_concat(set, 0, buf, sizeof(buf)), 8);
  assert_string_equal((char *)buf, "v=STSv1;");
  assert_int_equal(mts_txt_rrset_concat(set, 1, buf, sizeof(buf)), 3);
  assert_memory_equal(buf, nul, 3);
  assert_int_equal(buf[3], 0);
  /* truncation: returns the full length, writes bufsize-1 + NUL */
  assert_int_equal(mts_txt_rrset_concat(set, 0, buf, 4), 8);
  assert_string_equal((char *)buf, "v=S");
  assert_int_equal(mts_txt_rrset_concat(set, 0, NULL, 0), 8);
  assert_int_equal(mts_txt_rrset_concat(set, 9, buf, sizeof(buf)), 0);
  assert_string_equal((char *)buf, "");

  mts_txt_rrset_destroy(set);
  mts_txt_rrset_destroy(NULL);

  /* only empty strings: no byte storage at all (fuzz regression) */
  set = NULL;
  assert_int_equal(mts_txt_rrset_create(ctx, &set), MTS_OK);
  assert_int_equal(mts_txt_rrset_add_presentation(set, "\"\" \"\"", 5, NULL),
                   MTS_OK);
  assert_int_equal(mts_txt_rrset_concat(set, 0, buf, sizeof(buf)), 0);
  assert_string_equal((char *)buf, "");
  assert_non_null(mts_txt_rrset_string(set, 0, 1, &len));
  assert_int_equal(len, 0);
  mts_txt_rrset_destroy(set);
  mts_ctx_destroy(ctx);
}

static void test_limits(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct mts_txt_rrset *set = NULL;
  uint8_t big[MTS_TXT_STRING_MAX + 1];
  size_t i;

  (void)state;
  memset(big, 'x', sizeof(big));
  assert_int_equal(mts_txt_rrset_create(ctx, &set), MTS_OK);
  assert_int_equal(mts_txt_rrset_add_string(set, big, sizeof(big)),
                   MTS_ETOOBIG);
  assert_int_equal(mts_txt_rrset_count(set), 0);
  assert_int_equal(mts_txt_rrset_add_string(set, big, MTS_TXT_STRING_MAX),
                   MTS_OK);
  for (i = 1; i < MTS_TXT_MAX_RRS; i++) {
    assert_int_equal(mts_txt_rrset_add_rr(set), MTS_OK);
  }
  assert_int_equal(mts_txt_rrset_add_rr(set), MTS_ETOOBIG);
  assert_int_equal(mts_txt_rrset_count(set), MTS_TXT_MAX_RRS);
  mts_txt_rrset_destroy(set);

  /* the string limit */
  set = NULL;
  assert_int_equal(mts_txt_rrset_create(ctx, &set), MTS_OK);
  for (i = 0; i < MTS_TXT_MAX_STRINGS; i++) {
    assert_int_equal(mts_txt_rrset_add_string(set, big, 1), MTS_OK);
  }
  assert_int_equal(mts_txt_rrset_add_string(set, big, 1), MTS_ETOOBIG);
  mts_txt_rrset_destroy(set);

  /* the byte limit: 65535 octets = 257 strings of 255 */
  set = NULL;
  assert_int_equal(mts_txt_rrset_create(ctx, &set), MTS_OK);
  for (i = 0; i < MTS_TXT_MAX_BYTES / MTS_TXT_STRING_MAX; i++) {
    assert_int_equal(mts_txt_rrset_add_string(set, big, MTS_TXT_STRING_MAX),
                     MTS_OK);
  }
  assert_int_equal(mts_txt_rrset_add_string(set, big, MTS_TXT_STRING_MAX),
                   MTS_ETOOBIG);
  mts_txt_rrset_destroy(set);
  mts_ctx_destroy(ctx);
}

/* ---- presentation format ---- */

struct pres_case {
  const char *id;
  const char *in;
  size_t inlen; /* 0: strlen */
  enum mts_status want_st;
  size_t want_n;         /* strings */
  const char *want_str;  /* tostr() of the parsed RR */
  const char *want_cat;  /* concatenation (NUL-free cases) */
};

#define OK_(id, in, n, str, cat) {id, in, 0, MTS_OK, n, str, cat}
#define BAD_(id, in, st) {id, in, 0, st, 0, NULL, NULL}

static const struct pres_case pres_cases[] = {
    OK_("PRES-quoted", "\"v=STSv1; id=abc\"", 1, "\"v=STSv1; id=abc\"",
        "v=STSv1; id=abc"),
    OK_("PRES-two-T31", "\"v=STSv1; id=\" \"abc\"", 2,
        "\"v=STSv1; id=\" \"abc\"", "v=STSv1; id=abc"),
    OK_("PRES-tabs-blanks", " \t\"a\"\t \"b\"  \n", 2, "\"a\" \"b\"", "ab"),
    OK_("PRES-bare-word", "v=spf1", 1, "\"v=spf1\"", "v=spf1"),
    OK_("PRES-bare-words", "v=spf1 -all", 2, "\"v=spf1\" \"-all\"",
        "v=spf1-all"),
    OK_("PRES-bare-semicolon", "v=STSv1;id=a", 1, "\"v=STSv1;id=a\"",
        "v=STSv1;id=a"),
    OK_("PRES-mixed", "abc \"d e\"", 2, "\"abc\" \"d e\"", "abcd e"),
    OK_("PRES-empty-string", "\"\"", 1, "\"\"", ""),
    OK_("PRES-esc-quote", "\"a\\\"b\"", 1, "\"a\\\"b\"", "a\"b"),
    OK_("PRES-esc-backslash", "\"a\\\\b\"", 1, "\"a\\\\b\"", "a\\b"),
    OK_("PRES-esc-char", "\"\\a\\;\"", 1, "\"a;\"", "a;"),
    OK_("PRES-esc-ddd-tab", "\"a\\009b\"", 1, "\"a\\009b\"", "a\tb"),
    OK_("PRES-esc-ddd-utf8", "\"caf\\195\\169\"", 1, "\"caf\\195\\169\"",
        "caf\xc3\xa9"),
    OK_("PRES-esc-ddd-print", "\"\\065\"", 1, "\"A\"", "A"),
    OK_("PRES-esc-255", "\"\\255\"", 1, "\"\\255\"", "\xff"),
    OK_("PRES-bare-escape", "a\\ b", 1, "\"a b\"", "a b"),
    OK_("PRES-bare-ddd", "\\118=STSv1", 1, "\"v=STSv1\"", "v=STSv1"),
    OK_("PRES-raw-high", "\"\xc3\xa9\"", 1, "\"\\195\\169\"", "\xc3\xa9"),
    BAD_("PRES-nothing", "", MTS_EPARSE),
    BAD_("PRES-blanks-only", "  \t\n", MTS_EPARSE),
    BAD_("PRES-unterminated", "\"abc", MTS_EPARSE),
    BAD_("PRES-unterminated-esc", "\"abc\\\"", MTS_EPARSE),
    BAD_("PRES-dangling-backslash", "abc\\", MTS_EPARSE),
    BAD_("PRES-ddd-256", "\"\\256\"", MTS_EPARSE),
    BAD_("PRES-ddd-999", "\"\\999\"", MTS_EPARSE),
    BAD_("PRES-ddd-short", "\"\\09\"", MTS_EPARSE),
    BAD_("PRES-ddd-short-end", "\\1", MTS_EPARSE),
    BAD_("PRES-garbage-after-quote", "\"a\"x\"b\"", MTS_EPARSE),
    BAD_("PRES-no-blank-between", "\"a\"\"b\"", MTS_EPARSE),
    BAD_("PRES-quote-in-word", "ab\"c\"", MTS_EPARSE),
};

static struct mts_txt_rrset *new_set(struct mts_ctx *ctx) {
  struct mts_txt_rrset *set = NULL;

  assert_int_equal(mts_txt_rrset_create(ctx, &set), MTS_OK);
  return set;
}

static void test_presentation_table(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(pres_cases) / sizeof(pres_cases[0]); i++) {
    const struct pres_case *c = &pres_cases[i];
    struct mts_txt_rrset *set = new_set(ctx);
    size_t len = c->inlen != 0 ? c->inlen : strlen(c->in);
    const char *err = "unset";
    enum mts_status st =
        mts_txt_rrset_add_presentation(set, c->in, len, &err);

    if (st != c->want_st) {
      fail_msg("%s: got %s (%s), want %s", c->id, mts_status_name(st),
               err != NULL ? err : "-", mts_status_name(c->want_st));
    }
    if (st != MTS_OK) {
      if (err == NULL || mts_txt_rrset_count(set) != 0) {
        fail_msg("%s: want an error message and an unchanged set", c->id);
      }
    } else {
      char out[512], cat[512];
      size_t n = mts_txt_rrset_tostr(set, 0, out, sizeof(out));
      size_t cn = mts_txt_rrset_concat(set, 0, (uint8_t *)cat, sizeof(cat));

      if (err != NULL || mts_txt_rrset_count(set) != 1 ||
          mts_txt_rrset_nstrings(set, 0) != c->want_n) {
        fail_msg("%s: got %zu RRs / %zu strings, want 1 / %zu", c->id,
                 mts_txt_rrset_count(set), mts_txt_rrset_nstrings(set, 0),
                 c->want_n);
      }
      if (n != strlen(c->want_str) || strcmp(out, c->want_str) != 0) {
        fail_msg("%s: tostr got [%s] (%zu), want [%s]", c->id, out, n,
                 c->want_str);
      }
      if (cn != strlen(c->want_cat) || strcmp(cat, c->want_cat) != 0) {
        fail_msg("%s: concat got [%s], want [%s]", c->id, cat, c->want_cat);
      }
      /* the round trip: parse(tostr(x)) == x */
      assert_int_equal(mts_txt_rrset_add_presentation(set, out, n, NULL),
                       MTS_OK);
      {
        char out2[512];

        assert_int_equal(mts_txt_rrset_tostr(set, 1, out2, sizeof(out2)), n);
        assert_string_equal(out, out2);
      }
    }
    mts_txt_rrset_destroy(set);
  }
  mts_ctx_destroy(ctx);
}

static void test_presentation_edges(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct mts_txt_rrset *set = new_set(ctx);
  char in[600], out[8];
  const char *err = NULL;
  static const char withnul[] = "\"a\0b\" \"\\000\"";
  const uint8_t *s;
  size_t len;

  (void)state;
  /* 255 octets is fine, 256 is ETOOBIG (RFC 1035 3.3.14) */
  in[0] = '"';
  memset(in + 1, 'x', 255);
  in[256] = '"';
  assert_int_equal(mts_txt_rrset_add_presentation(set, in, 257, &err),
                   MTS_OK);
  in[256] = 'x';
  in[257] = '"';
  assert_int_equal(mts_txt_rrset_add_presentation(set, in, 258, &err),
                   MTS_ETOOBIG);
  assert_non_null(err);
  /* \DDD escapes count as one octet each */
  memset(in, 0, sizeof(in));
  assert_int_equal(mts_txt_rrset_count(set), 1);

  /* a raw NUL inside quotes is a literal octet; \000 too */
  assert_int_equal(mts_txt_rrset_add_presentation(set, withnul,
                                                  sizeof(withnul) - 1, &err),
                   MTS_OK);
  assert_int_equal(mts_txt_rrset_nstrings(set, 1), 2);
  s = mts_txt_rrset_string(set, 1, 0, &len);
  assert_int_equal(len, 3);
  assert_memory_equal(s, "a\0b", 3);
  s = mts_txt_rrset_string(set, 1, 1, &len);
  assert_int_equal(len, 1);
  assert_int_equal(s[0], 0);

  /* tostr truncates like snprintf */
  assert_int_equal(mts_txt_rrset_tostr(set, 1, out, sizeof(out)),
                   strlen("\"a\\000b\" \"\\000\""));
  assert_string_equal(out, "\"a\\000b");
  assert_int_equal(mts_txt_rrset_tostr(set, 1, NULL, 0),
                   strlen("\"a\\000b\" \"\\000\""));
  assert_int_equal(mts_txt_rrset_tostr(set, 7, out, sizeof(out)), 0);
  assert_string_equal(out, "");
  mts_txt_rrset_destroy(set);
  mts_ctx_destroy(ctx);
}

/* ---- allocation failures ---- */

static enum mts_status build_op(struct mts_ctx *ctx, void *arg) {
  struct mts_txt_rrset *set = NULL;
  enum mts_status st;
  int i;

  (void)arg;
  st = mts_txt_rrset_create(ctx, &set);
  if (st != MTS_OK) {
    assert_null(set);
    return st;
  }
  for (i = 0; i < 20 && st == MTS_OK; i++) {
    st = mts_txt_rrset_add_presentation(set, "\"v=STSv1; \" \"id=1\"", 18,
                                        NULL);
    if (st == MTS_OK) {
      st = mts_txt_rrset_add_string(set, (const uint8_t *)"xyz", 3);
    }
    if (st == MTS_OK) {
      st = mts_txt_rrset_add_rr(set);
    }
  }
  if (st == MTS_OK) {
    assert_int_equal(mts_txt_rrset_count(set), 40);
  }
  mts_txt_rrset_destroy(set);
  return st;
}

static void test_alloc_sweep(void **state) {
  (void)state;
  assert_true(mts_test_alloc_sweep(build_op, NULL) > 3);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_container),
      cmocka_unit_test(test_limits),
      cmocka_unit_test(test_presentation_table),
      cmocka_unit_test(test_presentation_edges),
      cmocka_unit_test(test_alloc_sweep),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
