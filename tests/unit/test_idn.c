/*
 * test_idn.c - mts_idn_to_ascii(): ASCII and U-label names to lower-case
 * A-label form (RFC 8461 3.2, RFC 6125 6.4.2; vectors F01, F02, M19).
 */
#include "testutil.h"

struct idn_case {
  const char *name; /* vector id and description */
  const char *in;
  size_t len;       /* 0: strlen(in) */
  enum mts_status want_st;
  const char *want; /* expected output when want_st is MTS_OK */
};

/* 63 and 64 octet labels. */
#define L63 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define L64 L63 "a"
/* 3 * 63 + 61 + 3 dots = 253 octets, the longest name (RFC 1035 2.3.4) */
#define N253 L63 "." L63 "." L63 "." \
  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define N254 N253 "a"

static const struct idn_case idn_cases[] = {
    {"ascii", "mail.example.com", 0, MTS_OK, "mail.example.com"},
    {"mixed case (M02)", "MAIL.Example.COM", 0, MTS_OK, "mail.example.com"},
    {"F01 trailing dot and case", "Example.COM.", 0, MTS_OK, "example.com"},
    {"single label", "localhost", 0, MTS_OK, "localhost"},
    {"underscore label", "_mta-sts.Example.com", 0, MTS_OK,
     "_mta-sts.example.com"},
    {"hyphens and digits", "a-1.2b.example", 0, MTS_OK, "a-1.2b.example"},
    {"F02 U-label", "b\xc3\xbc" "cher.example", 0, MTS_OK,
     "xn--bcher-kva.example"},
    {"M19 U-label trailing dot", "b\xc3\xbc" "cher.example.", 0, MTS_OK,
     "xn--bcher-kva.example"},
    {"uppercase U-label", "B\xc3\x9c" "CHER.Example", 0, MTS_OK,
     "xn--bcher-kva.example"},
    {"already A-label", "xn--bcher-kva.example", 0, MTS_OK,
     "xn--bcher-kva.example"},
    {"A-label upper case", "XN--BCHER-KVA.EXAMPLE", 0, MTS_OK,
     "xn--bcher-kva.example"},
    {"A-label next to U-label", "xn--bcher-kva.b\xc3\xbc" "cher", 0, MTS_OK,
     "xn--bcher-kva.xn--bcher-kva"},
    {"underscore with U-label", "_mta-sts.b\xc3\xbc" "cher.example", 0,
     MTS_OK, "_mta-sts.xn--bcher-kva.example"},
    {"fullwidth letters map", "\xef\xbc\xa1\xef\xbc\xa2.b\xc3\xbc" "cher", 0,
     MTS_OK, "ab.xn--bcher-kva"},
    {"ideographic full stop", "b\xc3\xbc" "cher\xe3\x80\x82" "example", 0,
     MTS_OK, "xn--bcher-kva.example"},
    {"nontransitional sharp s", "stra\xc3\x9f" "e.example", 0, MTS_OK,
     "xn--strae-oqa.example"},
    {"63-octet label", L63 ".example", 0, MTS_OK, L63 ".example"},
    {"253-octet name", N253, 0, MTS_OK, N253},
    {"253-octet name + root dot", N253 ".", 0, MTS_OK, N253},

    {"empty", "", 0, MTS_EIDN, NULL},
    {"root only", ".", 0, MTS_EIDN, NULL},
    {"double dot", "mail..example.com", 0, MTS_EIDN, NULL},
    {"two trailing dots", "example.com..", 0, MTS_EIDN, NULL},
    {"leading dot (M14)", ".example.com", 0, MTS_EIDN, NULL},
    {"64-octet label", L64 ".example", 0, MTS_EIDN, NULL},
    {"254-octet name", N254, 0, MTS_EIDN, NULL},
    {"embedded NUL", "mail\0.example.com", 17, MTS_EIDN, NULL},
    {"space", "mail example.com", 0, MTS_EIDN, NULL},
    {"tab", "mail\t.example.com", 0, MTS_EIDN, NULL},
    {"DEL", "mail\x7f.example.com", 0, MTS_EIDN, NULL},
    {"control", "mail\x01.example.com", 0, MTS_EIDN, NULL},
    {"wildcard", "*.example.com", 0, MTS_EIDN, NULL},
    {"at sign", "user@example.com", 0, MTS_EIDN, NULL},
    {"space with U-label", "a b.b\xc3\xbc" "cher", 0, MTS_EIDN, NULL},
    {"empty label with U-label", "b\xc3\xbc" "cher..example", 0, MTS_EIDN,
     NULL},
    {"two trailing dots after mapping", "b\xc3\xbc" "cher.\xe3\x80\x82", 0,
     MTS_EIDN, NULL},
    {"invalid UTF-8 byte", "\xff.example", 0, MTS_EIDN, NULL},
    {"truncated UTF-8", "b\xc3", 0, MTS_EIDN, NULL},
    {"overlong UTF-8 '/'", "\xc0\xaf.example", 0, MTS_EIDN, NULL},
    {"UTF-8 surrogate", "\xed\xa0\x80.example", 0, MTS_EIDN, NULL},
    {"U-label with leading hyphen", "-b\xc3\xbc" "cher.example", 0, MTS_EIDN,
     NULL},
};

static void test_idn_table(void **state) {
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(idn_cases) / sizeof(idn_cases[0]); i++) {
    const struct idn_case *c = &idn_cases[i];
    size_t len = c->len != 0 ? c->len : strlen(c->in);
    char out[MTS_DOMAIN_MAX + 1];
    enum mts_status st;

    memset(out, 'X', sizeof(out));
    st = mts_idn_to_ascii(c->in, len, out, sizeof(out));
    if (st != c->want_st) {
      fail_msg("%s: got status %s, want %s", c->name, mts_status_name(st),
               mts_status_name(c->want_st));
    }
    if (st == MTS_OK && strcmp(out, c->want) != 0) {
      fail_msg("%s: got \"%s\", want \"%s\"", c->name, out, c->want);
    }
    if (st != MTS_OK && out[0] != '\0') {
      fail_msg("%s: output not emptied on failure", c->name);
    }
  }
}

/* The input is (pointer, length): bytes after len are never read. */
static void test_idn_length_bound(void **state) {
  char out[64];

  (void)state;
  assert_int_equal(mts_idn_to_ascii("example.comXYZ", 11, out, sizeof(out)),
                   MTS_OK);
  assert_string_equal(out, "example.com");
  assert_int_equal(
      mts_idn_to_ascii("b\xc3\xbc" "cher.example!!", 15, out, sizeof(out)),
      MTS_OK);
  assert_string_equal(out, "xn--bcher-kva.example");
}

static void test_idn_small_buffer(void **state) {
  char out[12];

  (void)state;
  /* "example.com" needs 12 octets with its NUL */
  assert_int_equal(mts_idn_to_ascii("example.com", 11, out, 12), MTS_OK);
  assert_int_equal(mts_idn_to_ascii("example.com", 11, out, 11), MTS_ETOOBIG);
  assert_string_equal(out, "");
  assert_int_equal(
      mts_idn_to_ascii("b\xc3\xbc" "cher.example", 15, out, sizeof(out)),
      MTS_ETOOBIG);
  assert_int_equal(mts_idn_to_ascii("a", 1, NULL, 10), MTS_EINVAL);
  assert_int_equal(mts_idn_to_ascii("a", 1, out, 0), MTS_EINVAL);
  assert_int_equal(mts_idn_to_ascii(NULL, 1, out, sizeof(out)), MTS_EINVAL);
  assert_int_equal(mts_idn_to_ascii(NULL, 0, out, sizeof(out)), MTS_EIDN);
}

/* An over-long UTF-8 input is refused without reaching libidn2. */
static void test_idn_long_utf8(void **state) {
  char in[2100];
  char out[MTS_DOMAIN_MAX + 1];
  size_t i;

  (void)state;
  for (i = 0; i + 2 <= sizeof(in); i += 2) {
    in[i] = '\xc3';
    in[i + 1] = '\xbc';
  }
  assert_int_equal(mts_idn_to_ascii(in, sizeof(in), out, sizeof(out)),
                   MTS_EIDN);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_idn_table),
      cmocka_unit_test(test_idn_length_bound),
      cmocka_unit_test(test_idn_small_buffer),
      cmocka_unit_test(test_idn_long_utf8),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
