/*
 * mtasts/rpt_filename.h - the RFC 8460 5.1 report file name:
 *   sender "!" policy-domain "!" begin "!" end ["!" unique-id] "."
 *   ("json" | "json.gz")
 * Both domains must be A-labels (LDH, lower case on output); begin and
 * end are decimal seconds since the epoch; unique-id is 1*(ALPHA/DIGIT).
 * parse() also lower-cases the domains, accepts time stamps up to
 * INT64_MAX (leading zeros allowed) and unique-ids of at most 63 octets;
 * on failure *out is zeroed.
 * Vectors N01-N05 of RFC-CHECKLIST 3.8.
 * Pure functions; thread-safe.
 */
#ifndef MTASTS_RPT_FILENAME_H
#define MTASTS_RPT_FILENAME_H

#include <mtasts/common.h>
#include <mtasts/limits.h>

#ifdef __cplusplus
extern "C" {
#endif

struct mts_rpt_filename {
  char sender[256];
  char policy_domain[256];
  int64_t begin, end;
  char unique_id[64]; /* "" when absent */
  bool gzip;          /* extension "json.gz" */
};

/*! \return MTS_OK, or MTS_EINVAL when \p name does not match the ABNF
 *  (a U-label, a wrong extension, a non-digit time stamp, ...). */
MTS_API MTS_WUR enum mts_status
mts_rpt_filename_parse(const char *name, struct mts_rpt_filename *out);

/*! Write the name of \p fn into \p buf (\p size bytes, NUL-terminated).
 * \return MTS_OK; MTS_EINVAL when a field would not parse back (a domain
 * that is not an A-label, a unique-id that is not alnum);
 * MTS_ETOOBIG when it does not fit. */
MTS_API MTS_WUR enum mts_status
mts_rpt_filename_format(const struct mts_rpt_filename *fn, char *buf,
                        size_t size);

#ifdef __cplusplus
}
#endif
#endif /* MTASTS_RPT_FILENAME_H */
