/*
 * mtasts/utc.h - calendar arithmetic in UTC for TLS reporting: report
 * days are UTC days (RFC 8460 4.1), report times RFC 3339 UTC. Pure
 * functions of the proleptic Gregorian calendar (H. Hinnant's
 * days_from_civil / civil_from_days), without the C library's time zone
 * state (timegm is not POSIX; mktime reads TZ). Thread-safe.
 */
#ifndef MTASTS_UTC_H
#define MTASTS_UTC_H

#include <mtasts/common.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MTS_UTC_DAY 86400

/*! \return days since 1970-01-01 of year \p y, month \p m (1..12), day
 *  \p d (1..31; not checked against the month). */
MTS_API int64_t mts_utc_days_from_civil(int64_t y, unsigned m, unsigned d);

/*! The date of day \p days since 1970-01-01 (negative: before). */
MTS_API void mts_utc_civil_from_days(int64_t days, int64_t *y, unsigned *m,
                                     unsigned *d);

/*! \return 00:00Z of the UTC day holding \p t (floor, also before 1970). */
MTS_API int64_t mts_utc_day(int64_t t);

/*!
 * Parse "YYYY-MM-DD" (00:00Z of that day) or "YYYY-MM-DDTHH:MM:SSZ" into
 * seconds since the epoch. Strict: a real date from 1970 on, two-digit
 * fields, hours 00-23, minutes 00-59, seconds 00-60 (60 read as 59).
 * \param[in] flags  MTS_UTC_DATE_ONLY refuses the second form.
 * \return MTS_OK or MTS_EINVAL.
 */
#define MTS_UTC_DATE_ONLY 0x1u
MTS_API MTS_WUR enum mts_status mts_utc_parse(const char *s, unsigned flags,
                                              int64_t *t);

/*! Write "YYYY-MM-DD" of \p t (years outside 0..9999: "0000-00-00"). */
MTS_API void mts_utc_date_str(int64_t t, char out[static 11]);

#ifdef __cplusplus
}
#endif
#endif /* MTASTS_UTC_H */
