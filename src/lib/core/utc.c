/*
 * utc.c - UTC calendar arithmetic (see mtasts/utc.h).
 */
#include <mtasts/utc.h>

#include <string.h>

int64_t mts_utc_days_from_civil(int64_t y, unsigned m, unsigned d) {
  int64_t era, yoe, doy, doe;

  y -= m <= 2;
  era = (y >= 0 ? y : y - 399) / 400;
  yoe = y - era * 400;
  doy = (153 * ((int64_t)m + (m > 2 ? -3 : 9)) + 2) / 5 + (int64_t)d - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void mts_utc_civil_from_days(int64_t z, int64_t *y, unsigned *m,
                             unsigned *d) {
  int64_t era, doe, yoe, doy, mp;

  z += 719468;
  era = (z >= 0 ? z : z - 146096) / 146097;
  doe = z - era * 146097;
  yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  mp = (5 * doy + 2) / 153;
  *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
  *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

int64_t mts_utc_day(int64_t t) {
  int64_t q = t / MTS_UTC_DAY;

  if (t % MTS_UTC_DAY < 0) {
    q--;
  }
  return q * MTS_UTC_DAY;
}

/* \p n digits at \p s, or -1. */
static long digits(const char *s, int n) {
  long v = 0;
  int i;

  for (i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') {
      return -1;
    }
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

enum mts_status mts_utc_parse(const char *s, unsigned flags, int64_t *t) {
  static const long mdays[] = {31, 29, 31, 30, 31, 30,
                               31, 31, 30, 31, 30, 31};
  long y, m, d, hh = 0, mi = 0, ss = 0;
  size_t len;

  if (s == NULL || t == NULL) {
    return MTS_EINVAL;
  }
  len = strlen(s);
  if ((len != 10 && (len != 20 || (flags & MTS_UTC_DATE_ONLY) != 0)) ||
      s[4] != '-' || s[7] != '-') {
    return MTS_EINVAL;
  }
  y = digits(s, 4);
  m = digits(s + 5, 2);
  d = digits(s + 8, 2);
  if (y < 1970 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1] ||
      (m == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))) {
    return MTS_EINVAL;
  }
  if (len == 20) {
    if (s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != 'Z') {
      return MTS_EINVAL;
    }
    hh = digits(s + 11, 2);
    mi = digits(s + 14, 2);
    ss = digits(s + 17, 2);
    if (hh < 0 || hh > 23 || mi < 0 || mi > 59 || ss < 0 || ss > 60) {
      return MTS_EINVAL;
    }
    if (ss == 60) {
      ss = 59;
    }
  }
  *t = mts_utc_days_from_civil(y, (unsigned)m, (unsigned)d) * MTS_UTC_DAY +
       hh * 3600 + mi * 60 + ss;
  return MTS_OK;
}

void mts_utc_date_str(int64_t t, char out[static 11]) {
  int64_t y;
  unsigned m, d;

  mts_utc_civil_from_days(mts_utc_day(t) / MTS_UTC_DAY, &y, &m, &d);
  if (y < 0 || y > 9999) {
    memcpy(out, "0000-00-00", 11);
    return;
  }
  out[0] = (char)('0' + y / 1000);
  out[1] = (char)('0' + y / 100 % 10);
  out[2] = (char)('0' + y / 10 % 10);
  out[3] = (char)('0' + y % 10);
  out[4] = '-';
  out[5] = (char)('0' + m / 10);
  out[6] = (char)('0' + m % 10);
  out[7] = '-';
  out[8] = (char)('0' + d / 10);
  out[9] = (char)('0' + d % 10);
  out[10] = '\0';
}
