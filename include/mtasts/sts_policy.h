/*
 * mtasts/sts_policy.h - the MTA-STS policy file (RFC 8461 3.2).
 *
 * The parser follows the section 3.2 ABNF exactly: LF and CRLF (mixed;
 * a bare CR is not a terminator), case-sensitive keys and values, `*WSP`
 * only after ":" and after the value before the line terminator or the
 * end, first occurrence wins for every field but `mx` (later duplicates
 * are ignored but must still match the grammar), `max_age` of 1..10
 * decimal digits and at most MTS_STS_MAX_AGE_MAX, `mx` an RFC 5321
 * Domain with an optional leading "*." (A-labels only, no trailing dot,
 * labels of 1..63, at most MTS_DOMAIN_MAX octets in all), unknown fields
 * ignored after their syntax is checked, at most MTS_POLICY_MAX_SIZE
 * bytes (a larger body is not parsed at all), no NUL anywhere.
 *
 * A registered key with a non-conforming value (`mode: Enforce`,
 * `mx: a.example.com.`) is an error, not an unknown field (AMBIG-POL-1).
 * That includes one bad `mx` line next to good ones (P72): the policy
 * is then neither valid nor usable, because applying the remaining
 * patterns could make a sender refuse an MX the owner listed.
 *
 * Two verdicts:
 *  - valid:  the body matches the grammar and has every required field.
 *  - usable: valid, or invalid only through the harmless deviations
 *            listed in docs/decisions.md (empty lines
 *            anywhere, extra trailing line terminators, one leading
 *            UTF-8 BOM). A sender applies a usable policy and records
 *            the deviation as a finding.
 * A policy that is not usable must not be applied; its getters still
 * report what the well-formed lines said (a line with a grammar error
 * is not interpreted at all).
 *
 * Findings (codes in docs/findings.md, all "policy-*"):
 * severity error for every grammar break and missing field (so "usable"
 * is exactly "no error finding"), warning for the harmless deviations
 * and for a duplicate field whose value differs from the first, info
 * for ignored unknown fields and identical duplicates. `line` is
 * 1-based; `col` is the 1-based byte offset in the line (after a BOM on
 * line 1); both are 0 for findings about the whole body. At most 16
 * findings per code are kept; the rest are counted in one
 * policy-findings-truncated finding. Messages escape untrusted bytes.
 *
 * Ownership: everything a policy returns (strings, findings) lives in
 * the policy's arena and stays valid until mts_sts_policy_destroy().
 * Thread safety: as common.h. Cost: linear in the body size.
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
 * Parse a policy body (the complete HTTP response body).
 * \param[in] ctx   the context (allocator).
 * \param[in] body  \p len bytes; need not be NUL-terminated, may contain
 *                  NUL; copied. NULL is allowed when \p len is 0.
 * \param[out] out  the parsed policy, whatever the verdict; destroy with
 *                  mts_sts_policy_destroy(). NULL on failure.
 * \return MTS_OK; MTS_ENOMEM; MTS_EINVAL when ctx or out is NULL, or
 * body is NULL with len > 0.
 */
MTS_API MTS_WUR enum mts_status mts_sts_policy_parse(struct mts_ctx *ctx,
                                                     const uint8_t *body,
                                                     size_t len,
                                                     struct mts_sts_policy **out);
/*! Free \p policy and everything borrowed from it. NULL is a no-op. */
MTS_API void mts_sts_policy_destroy(struct mts_sts_policy *policy);

/*! \return strict ABNF match with every required field (false for NULL). */
MTS_API bool mts_sts_policy_valid(const struct mts_sts_policy *policy);
/*! \return valid, or invalid only through the harmless deviations; may
 *  be applied (false for NULL). */
MTS_API bool mts_sts_policy_usable(const struct mts_sts_policy *policy);
/*! \return "STSv1" when the first version field is valid, else NULL. */
MTS_API const char *mts_sts_policy_version(const struct mts_sts_policy *policy);
/*! \return the mode of the first `mode` field, or MTS_STS_MODE_UNKNOWN
 *  when it is missing or its value is not one of the three. */
MTS_API enum mts_sts_mode mts_sts_policy_mode(const struct mts_sts_policy *policy);
/*! \return max_age in seconds of the first `max_age` field; -1 when it
 *  is missing or invalid (including above MTS_STS_MAX_AGE_MAX). */
MTS_API int64_t mts_sts_policy_max_age(const struct mts_sts_policy *policy);
/*! \return the number of valid `mx` patterns. Invalid `mx` lines are
 *  not counted (and make the policy unusable); duplicates are kept. */
MTS_API size_t mts_sts_policy_mx_count(const struct mts_sts_policy *policy);
/*! \return valid mx pattern \p i in file order, exactly as written
 *  (case kept, e.g. "*.example.net"), or NULL when out of range. */
MTS_API const char *mts_sts_policy_mx(const struct mts_sts_policy *policy,
                                      size_t i);
/*! \return the number of lines of the body (for the TLSRPT policy-string,
 *  RFC 8460 4.4): every LF ends a line; text after the last LF is one more
 *  line when not empty. Empty lines are included. 0 for an empty or
 *  too-large body. */
MTS_API size_t mts_sts_policy_line_count(const struct mts_sts_policy *policy);
/*! \return line \p i as in the body without its LF or CRLF terminator
 *  (a leading BOM is not part of line 0), NUL-terminated, or NULL when out
 *  of range. A line holding a NUL byte appears cut at it. */
MTS_API const char *mts_sts_policy_line(const struct mts_sts_policy *policy,
                                        size_t i);
/*! The body exactly as it was parsed (BOM, CRLF and all), for a cache
 *  store or a comparison, without keeping a second copy: written to
 *  \p out when \p cap is at least its length (\p out may be NULL to ask
 *  the length). \return its length; 0 for NULL or for a body refused
 *  before its lines were split (empty, or over MTS_POLICY_MAX_SIZE). */
MTS_API size_t mts_sts_policy_text(const struct mts_sts_policy *policy,
                                   uint8_t *out, size_t cap);
/*! \return the findings, in the order found (NULL for NULL). */
MTS_API const struct mts_findings *
mts_sts_policy_findings(const struct mts_sts_policy *policy);

#ifdef __cplusplus
}
#endif
#endif /* MTASTS_STS_POLICY_H */
