/*
 * test_rpt_filename.c - the RFC 8460 5.1 report file name
 * (RFC-CHECKLIST 2.5 DLV-2, vectors N01-N05), parse and format.
 */
#include "testutil.h"

#include <mtasts/rpt_filename.h>

struct vec {
  const char *id;
  const char *in;
  enum mts_status st;
  const char *sender, *domain;
  int64_t begin, end;
  const char *uid;
  bool gzip;
};

static const struct vec vecs[] = {
    {"N01",
     "mail.sndr.example.com!example.net!1470013207!1470186007!001.json.gz",
     MTS_OK, "mail.sndr.example.com", "example.net", 1470013207, 1470186007,
     "001", true},
    {"N02", "mail.sndr.example.com!example.net!1470013207!1470186007.json",
     MTS_OK, "mail.sndr.example.com", "example.net", 1470013207, 1470186007, "",
     false},
    {"RFC-5.3.1",
     "mail.sender.example!example.com!1013662812!1013749130.json.gz", MTS_OK,
     "mail.sender.example", "example.com", 1013662812, 1013749130, "", true},
    {"GOOGLE", "google.com!cardinalhealth.ca!1725321600!1725407999!001.json.gz",
     MTS_OK, "google.com", "cardinalhealth.ca", 1725321600, 1725407999, "001",
     true},
    {"UPPER", "Mail.Sndr.Example.COM!Example.NET!0!00!AbC9.json", MTS_OK,
     "mail.sndr.example.com", "example.net", 0, 0, "AbC9", false},
    {"ALABEL", "xn--bcher-kva.example!xn--bcher-kva.example!1!2.json", MTS_OK,
     "xn--bcher-kva.example", "xn--bcher-kva.example", 1, 2, "", false},
    {"INT64-MAX", "a.example!b.example!9223372036854775807!1.json", MTS_OK,
     "a.example", "b.example", INT64_MAX, 1, "", false},
    {"N04-gz", "mail.sndr.example.com!example.net!1470013207!1470186007.gz",
     MTS_EINVAL, NULL, NULL, 0, 0, NULL, false},
    {"N04-zip",
     "mail.sndr.example.com!example.net!1470013207!1470186007.json.zip",
     MTS_EINVAL, NULL, NULL, 0, 0, NULL, false},
    {"N04-JSON", "mail.sndr.example.com!example.net!1!2.JSON", MTS_EINVAL, NULL,
     NULL, 0, 0, NULL, false},
    {"N04-none", "mail.sndr.example.com!example.net!1!2", MTS_EINVAL, NULL,
     NULL, 0, 0, NULL, false},
    {"N04-json-gz-gz", "a.example!b.example!1!2.json.gz.gz", MTS_EINVAL, NULL,
     NULL, 0, 0, NULL, false},
    {"N05-sender",
     "mail.sndr.example.com!b\xc3\xbc"
     "cher.example!1!2.json",
     MTS_EINVAL, NULL, NULL, 0, 0, NULL, false},
    {"N05-domain",
     "b\xc3\xbc"
     "cher.example!example.net!1!2.json",
     MTS_EINVAL, NULL, NULL, 0, 0, NULL, false},
    {"BAD-begin-alpha", "a.example!b.example!12a!2.json", MTS_EINVAL, NULL,
     NULL, 0, 0, NULL, false},
    {"BAD-begin-negative", "a.example!b.example!-1!2.json", MTS_EINVAL, NULL,
     NULL, 0, 0, NULL, false},
    {"BAD-begin-empty", "a.example!b.example!!2.json", MTS_EINVAL, NULL, NULL,
     0, 0, NULL, false},
    {"BAD-int64-overflow", "a.example!b.example!9223372036854775808!1.json",
     MTS_EINVAL, NULL, NULL, 0, 0, NULL, false},
    {"BAD-uid-dash", "a.example!b.example!1!2!00-1.json", MTS_EINVAL, NULL,
     NULL, 0, 0, NULL, false},
    {"BAD-uid-empty", "a.example!b.example!1!2!.json", MTS_EINVAL, NULL, NULL,
     0, 0, NULL, false},
    {"BAD-uid-64",
     "a.example!b.example!1!2!"
     "0123456789012345678901234567890123456789012345678901234567890123"
     ".json",
     MTS_EINVAL, NULL, NULL, 0, 0, NULL, false},
    {"BAD-six-fields", "a.example!b.example!1!2!3!4.json", MTS_EINVAL, NULL,
     NULL, 0, 0, NULL, false},
    {"BAD-three-fields", "a.example!b.example!1.json", MTS_EINVAL, NULL, NULL,
     0, 0, NULL, false},
    {"BAD-no-bang", "report.json", MTS_EINVAL, NULL, NULL, 0, 0, NULL, false},
    {"BAD-empty", "", MTS_EINVAL, NULL, NULL, 0, 0, NULL, false},
    {"BAD-sender-empty", "!b.example!1!2.json", MTS_EINVAL, NULL, NULL, 0, 0,
     NULL, false},
    {"BAD-trailing-dot", "a.example.!b.example!1!2.json", MTS_EINVAL, NULL,
     NULL, 0, 0, NULL, false},
    {"BAD-path", "../a.example!b.example!1!2.json", MTS_EINVAL, NULL, NULL, 0,
     0, NULL, false},
    {"BAD-underscore", "a_b.example!b.example!1!2.json", MTS_EINVAL, NULL, NULL,
     0, 0, NULL, false},
    {"BAD-space", "a.example!b.example!1!2 .json", MTS_EINVAL, NULL, NULL, 0, 0,
     NULL, false},
};

static void test_parse(void **state) {
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
    const struct vec *v = &vecs[i];
    struct mts_rpt_filename fn;
    enum mts_status st = mts_rpt_filename_parse(v->in, &fn);

    if (st != v->st) {
      fail_msg("%s: status %s", v->id, mts_status_name(st));
    }
    if (st != MTS_OK) {
      assert_string_equal(fn.sender, ""); /* zeroed */
      continue;
    }
    assert_string_equal(fn.sender, v->sender);
    assert_string_equal(fn.policy_domain, v->domain);
    assert_int_equal(fn.begin, v->begin);
    assert_int_equal(fn.end, v->end);
    assert_string_equal(fn.unique_id, v->uid);
    assert_int_equal(fn.gzip, v->gzip);
  }
  assert_int_equal(mts_rpt_filename_parse(NULL, NULL), MTS_EINVAL);
}

/* parse(format(x)) == x, and format(parse(n)) == n for lower-case n. */
static void test_round_trip(void **state) {
  size_t i;
  char buf[600];

  (void)state;
  for (i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
    const struct vec *v = &vecs[i];
    struct mts_rpt_filename fn, fn2;

    if (v->st != MTS_OK) {
      continue;
    }
    assert_int_equal(mts_rpt_filename_parse(v->in, &fn), MTS_OK);
    assert_int_equal(mts_rpt_filename_format(&fn, buf, sizeof(buf)), MTS_OK);
    if (strcmp(v->id, "UPPER") == 0) {
      assert_string_equal(buf,
                          "mail.sndr.example.com!example.net!0!0!AbC9.json");
    } else {
      assert_string_equal(buf, v->in);
    }
    assert_int_equal(mts_rpt_filename_parse(buf, &fn2), MTS_OK);
    assert_memory_equal(&fn, &fn2, sizeof(fn));
  }
}

static void test_format(void **state) {
  struct mts_rpt_filename fn;
  char buf[128];
  char small[40];

  (void)state;
  memset(&fn, 0, sizeof(fn));
  snprintf(fn.sender, sizeof(fn.sender), "%s", "MTA.Sender.Example");
  snprintf(fn.policy_domain, sizeof(fn.policy_domain), "%s", "example.net");
  fn.begin = 1717200000;
  fn.end = 1717286400;
  fn.gzip = true;
  assert_int_equal(mts_rpt_filename_format(&fn, buf, sizeof(buf)), MTS_OK);
  assert_string_equal(
      buf, "mta.sender.example!example.net!1717200000!1717286400.json.gz");
  snprintf(fn.unique_id, sizeof(fn.unique_id), "%s", "001");
  assert_int_equal(mts_rpt_filename_format(&fn, buf, sizeof(buf)), MTS_OK);
  assert_string_equal(
      buf, "mta.sender.example!example.net!1717200000!1717286400!001.json.gz");
  /* exactly fitting and one byte short */
  assert_int_equal(mts_rpt_filename_format(&fn, buf, strlen(buf) + 1), MTS_OK);
  assert_int_equal(mts_rpt_filename_format(&fn, small, sizeof(small)),
                   MTS_ETOOBIG);
  assert_string_equal(small, "");
  assert_int_equal(mts_rpt_filename_format(&fn, buf, strlen(buf)), MTS_ETOOBIG);
  /* refused */
  snprintf(fn.unique_id, sizeof(fn.unique_id), "%s", "0-1");
  assert_int_equal(mts_rpt_filename_format(&fn, buf, sizeof(buf)), MTS_EINVAL);
  fn.unique_id[0] = '\0';
  snprintf(fn.policy_domain, sizeof(fn.policy_domain), "%s",
           "b\xc3\xbc"
           "cher.example");
  assert_int_equal(mts_rpt_filename_format(&fn, buf, sizeof(buf)), MTS_EINVAL);
  assert_string_equal(buf, "");
  snprintf(fn.policy_domain, sizeof(fn.policy_domain), "%s", "example.net");
  fn.begin = -1;
  assert_int_equal(mts_rpt_filename_format(&fn, buf, sizeof(buf)), MTS_EINVAL);
  fn.begin = 0;
  memset(fn.sender, 'a', sizeof(fn.sender)); /* no NUL */
  assert_int_equal(mts_rpt_filename_format(&fn, buf, sizeof(buf)), MTS_EINVAL);
  fn.sender[0] = '\0';
  assert_int_equal(mts_rpt_filename_format(&fn, buf, sizeof(buf)), MTS_EINVAL);
  assert_int_equal(mts_rpt_filename_format(NULL, buf, sizeof(buf)), MTS_EINVAL);
  assert_int_equal(mts_rpt_filename_format(&fn, NULL, 10), MTS_EINVAL);
  assert_int_equal(mts_rpt_filename_format(&fn, buf, 0), MTS_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse),
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_format),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
