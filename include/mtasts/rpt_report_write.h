/*
 * mtasts/rpt_report_write.h - write an RFC 8460 report (section 4.4)
 * from struct mts_rpt_report_data: exactly the keys of the JSON skeleton
 * (never the prose placeholder names, RFC-CHECKLIST 2.8), `policies` and
 * `mx-host` and `policy-string` always arrays, RFC 3339 UTC times with
 * "Z", counts as JSON integers, optional strings omitted when NULL
 * (never ""), members in the skeleton's order. The output parses back
 * with mts_rpt_report_parse() as valid (the round trip is tested).
 *
 * Refused (MTS_EINVAL): a NULL report-id or organization-name, start >
 * end, a policy-type other than the three RFC values, a policy-domain
 * or mx-host or receiving-mx-hostname that is not an A-label (the
 * caller converts with mts_idn_*), strings that are not UTF-8.
 * Also refused: no policies, counts above 2^53, times outside the years
 * 0000-9999, a NULL or "" result-type. Optional strings that are "" are
 * omitted like NULL. `policy-string` is always written for sts and tlsa
 * ([] when there is none); for no-policy-found only when
 * has_policy_string or strings are given. The output parses back valid
 * when contact_info and every sending_mta_ip are set; otherwise usable
 * with the report-no-contact-info / report-no-sending-ip warning.
 *
 * Output is allocated through the context's allocator; the caller frees
 * it with mts_rpt_report_write_free(). Thread safety: as common.h.
 */
#ifndef MTASTS_RPT_REPORT_WRITE_H
#define MTASTS_RPT_REPORT_WRITE_H

#include <mtasts/rpt_report.h>

#ifdef __cplusplus
extern "C" {
#endif

/*! Write \p rep as compact JSON text (no NUL inside; NUL-terminated).
 * \return MTS_OK; MTS_ENOMEM; MTS_EINVAL as above. */
MTS_API MTS_WUR enum mts_status
mts_rpt_report_write_json(struct mts_ctx *ctx,
                          const struct mts_rpt_report_data *rep, char **json,
                          size_t *len);

/*! Write \p rep as gzip (RFC 1952) of the JSON text, for the
 *  `.json.gz` file and the `application/tlsrpt+gzip` media type. */
MTS_API MTS_WUR enum mts_status
mts_rpt_report_write_gzip(struct mts_ctx *ctx,
                          const struct mts_rpt_report_data *rep,
                          uint8_t **gz, size_t *len);

/*! Free output of the two functions above (NULL is a no-op). */
MTS_API void mts_rpt_report_write_free(struct mts_ctx *ctx, void *out);

#ifdef __cplusplus
}
#endif
#endif /* MTASTS_RPT_REPORT_WRITE_H */
