/*
 * test_utc.c - UTC calendar arithmetic: known dates, a round trip over
 * 800 years, the strict parser's table.
 */
#include "testutil.h"

#include <mtasts/utc.h>

static void test_known_days(void **state) {
  static const struct {
    int64_t y;
    unsigned m, d;
    int64_t days;
  } rows[] = {
      {1970, 1, 1, 0},       {1969, 12, 31, -1},   {2000, 2, 29, 11016},
      {2000, 3, 1, 11017},   {2016, 4, 1, 16892},  {1900, 3, 1, -25508},
      {2100, 2, 28, 47540},  {2100, 3, 1, 47541},  {9999, 12, 31, 2932896},
  };
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    int64_t y;
    unsigned m, d;

    assert_int_equal(mts_utc_days_from_civil(rows[i].y, rows[i].m, rows[i].d),
                     rows[i].days);
    mts_utc_civil_from_days(rows[i].days, &y, &m, &d);
    assert_int_equal(y, rows[i].y);
    assert_int_equal(m, rows[i].m);
    assert_int_equal(d, rows[i].d);
  }
}

static void test_round_trip(void **state) {
  int64_t z;

  (void)state;
  /* 1600-01-01 .. 2400-01-01: every day maps back to itself, and the
   * dates are consecutive. */
  for (z = -135140; z < 157054; z++) {
    int64_t y, y2;
    unsigned m, d, m2, d2;

    mts_utc_civil_from_days(z, &y, &m, &d);
    assert_int_equal(mts_utc_days_from_civil(y, m, d), z);
    mts_utc_civil_from_days(z + 1, &y2, &m2, &d2);
    assert_true((y2 == y && m2 == m && d2 == d + 1) ||
                (y2 == y && m2 == m + 1 && d2 == 1) ||
                (y2 == y + 1 && m2 == 1 && d2 == 1 && m == 12 && d == 31));
  }
}

static void test_day_and_str(void **state) {
  char buf[11];

  (void)state;
  assert_int_equal(mts_utc_day(0), 0);
  assert_int_equal(mts_utc_day(86399), 0);
  assert_int_equal(mts_utc_day(86400), 86400);
  assert_int_equal(mts_utc_day(-1), -86400);
  assert_int_equal(mts_utc_day(-86400), -86400);
  mts_utc_date_str(1470013207, buf);
  assert_string_equal(buf, "2016-08-01");
  mts_utc_date_str(-1, buf);
  assert_string_equal(buf, "1969-12-31");
  mts_utc_date_str(INT64_C(253402300800), buf); /* 10000-01-01 */
  assert_string_equal(buf, "0000-00-00");
}

static void test_parse(void **state) {
  static const struct {
    const char *s;
    unsigned flags;
    enum mts_status st;
    int64_t t;
  } rows[] = {
      {"1970-01-01", 0, MTS_OK, 0},
      {"2016-04-01", 0, MTS_OK, 1459468800},
      {"2016-04-01T23:59:59Z", 0, MTS_OK, 1459555199},
      {"2016-12-31T23:59:60Z", 0, MTS_OK, 1483228799},
      {"2000-02-29", MTS_UTC_DATE_ONLY, MTS_OK, 951782400},
      {"2016-04-01T00:00:00Z", MTS_UTC_DATE_ONLY, MTS_EINVAL, 0},
      {"1900-02-29", 0, MTS_EINVAL, 0},
      {"2100-02-29", 0, MTS_EINVAL, 0},
      {"2001-02-29", 0, MTS_EINVAL, 0},
      {"1969-12-31", 0, MTS_EINVAL, 0},
      {"2016-13-01", 0, MTS_EINVAL, 0},
      {"2016-00-10", 0, MTS_EINVAL, 0},
      {"2016-04-31", 0, MTS_EINVAL, 0},
      {"2016-04-00", 0, MTS_EINVAL, 0},
      {"2016-4-01", 0, MTS_EINVAL, 0},
      {"2016/04/01", 0, MTS_EINVAL, 0},
      {"2016-04-01 ", 0, MTS_EINVAL, 0},
      {"+016-04-01", 0, MTS_EINVAL, 0},
      {"2016-04-01T24:00:00Z", 0, MTS_EINVAL, 0},
      {"2016-04-01T23:60:00Z", 0, MTS_EINVAL, 0},
      {"2016-04-01T23:59:61Z", 0, MTS_EINVAL, 0},
      {"2016-04-01T23:59:59+", 0, MTS_EINVAL, 0},
      {"2016-04-01t23:59:59Z", 0, MTS_EINVAL, 0},
      {"", 0, MTS_EINVAL, 0},
  };
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    int64_t t = -42;
    enum mts_status st = mts_utc_parse(rows[i].s, rows[i].flags, &t);

    if (st != rows[i].st) {
      fail_msg("'%s': %s", rows[i].s, mts_status_name(st));
    }
    assert_int_equal(t, rows[i].st == MTS_OK ? rows[i].t : -42);
  }
  assert_int_equal(mts_utc_parse(NULL, 0, NULL), MTS_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_known_days),
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_day_and_str),
      cmocka_unit_test(test_parse),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
