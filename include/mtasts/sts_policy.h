/*
 * mtasts/sts_policy.h - the MTA-STS policy file (RFC 8461 3.2).
 *
 * The parser follows the section 3.2 ABNF exactly: LF and CRLF (mixed),
 * case-sensitive keys and values, `*WSP` only after ":" and before the
 * line terminator, first occurrence wins for every field but `mx`,
 * `max_age` of 1..10 digits and at most 31557600, `mx` an RFC 5321
 * Domain with an optional leading "*." (A-labels only), unknown fields
 * ignored, at most MTS_POLICY_MAX_SIZE bytes.
 *
 * Two verdicts:
 *  - valid:  the body matches the grammar and has every required field.
 *  - usable: valid, or invalid only through the harmless deviations
 *            listed in docs/decisions.md (empty lines, extra trailing
 *            line terminators, one leading UTF-8 BOM). A sender applies
 *            a usable policy and records the deviation as a finding.
 */
#ifndef MTASTS_STS_POLICY_H
#define MTASTS_STS_POLICY_H

#include <mtasts/common.h>

#ifdef __cplusplus
extern "C" {
#endif

enum mts_sts_mode {
  MTS_STS_MODE_UNKNOWN = 0, /* no usable mode field */
  MTS_STS_MODE_NONE = 1,
  MTS_STS_MODE_TESTING = 2,
  MTS_STS_MODE_ENFORCE = 3
};

/*! \return "none", "testing", "enforce", or "unknown". */
MTS_API const char *mts_sts_mode_str(enum mts_sts_mode mode);

struct mts_sts_policy;

/*!
 * Parse a policy body of \p len bytes (need not be NUL-terminated, may
 * contain NUL). \return MTS_OK with *out set whatever the verdict;
 * MTS_ENOMEM or MTS_EINVAL with *out NULL.
 */
MTS_API MTS_WUR enum mts_status mts_sts_policy_parse(struct mts_ctx *ctx,
                                                     const uint8_t *body,
                                                     size_t len,
                                                     struct mts_sts_policy **out);
MTS_API void mts_sts_policy_destroy(struct mts_sts_policy *policy);

MTS_API bool mts_sts_policy_valid(const struct mts_sts_policy *policy);
MTS_API bool mts_sts_policy_usable(const struct mts_sts_policy *policy);
/*! \return "STSv1" when the first version field is valid, else NULL. */
MTS_API const char *mts_sts_policy_version(const struct mts_sts_policy *policy);
MTS_API enum mts_sts_mode mts_sts_policy_mode(const struct mts_sts_policy *policy);
/*! \return max_age in seconds; -1 when missing or invalid. */
MTS_API int64_t mts_sts_policy_max_age(const struct mts_sts_policy *policy);
/*! \return the number of valid `mx` patterns, in file order. */
MTS_API size_t mts_sts_policy_mx_count(const struct mts_sts_policy *policy);
/*! \return mx pattern \p i as written (e.g. "*.example.net"), or NULL. */
MTS_API const char *mts_sts_policy_mx(const struct mts_sts_policy *policy,
                                      size_t i);
/*! \return the number of lines of the body (for TLSRPT policy-string). */
MTS_API size_t mts_sts_policy_line_count(const struct mts_sts_policy *policy);
/*! \return line \p i without its terminator, NUL-terminated, or NULL. */
MTS_API const char *mts_sts_policy_line(const struct mts_sts_policy *policy,
                                        size_t i);
MTS_API const struct mts_findings *
mts_sts_policy_findings(const struct mts_sts_policy *policy);

#ifdef __cplusplus
}
#endif
#endif /* MTASTS_STS_POLICY_H */
