/*
 * rpt_report_int.h - helpers shared by the RFC 8460 report parser,
 * writer and file name code (rpt_report.c, rpt_report_write.c,
 * rpt_filename.c). Internal.
 */
#ifndef MTS_RPT_REPORT_INT_H
#define MTS_RPT_REPORT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Earliest and latest instants of RFC 3339 (years 0000-9999), UTC. */
#define MTS_RPT_TIME_MIN INT64_C(-62167219200)
#define MTS_RPT_TIME_MAX INT64_C(253402300799)

/* \return true when \p s (\p len bytes) is valid UTF-8 (RFC 3629: no
 * overlongs, no surrogates, at most U+10FFFF) without NUL. */
bool mts_rpt_utf8_ok(const uint8_t *s, size_t len);

/* \return true when \p s (\p len bytes) is an A-label host name: LDH
 * labels of 1-63 octets not beginning or ending with '-', at most 253
 * octets, no trailing dot. With \p wildcard, a leading "*." label is
 * allowed (an RFC 8461 mx pattern). */
bool mts_rpt_ldh_host(const char *s, size_t len, bool wildcard);

#endif /* MTS_RPT_REPORT_INT_H */
