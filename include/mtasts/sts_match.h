/*
 * mtasts/sts_match.h - MX host matching (RFC 8461 4.1, RFC 6125 6.4).
 *
 * A pattern is either a host name or "*." followed by a host name; "*"
 * matches exactly one whole leftmost label (never zero, never two).
 * Comparison is ASCII case-insensitive; one trailing root dot on the
 * host is ignored; empty labels never match; a host given with U-labels
 * is converted to A-labels first. Patterns are not converted: the RFC
 * requires A-labels there, and a U-label pattern is invalid.
 */
#ifndef MTASTS_STS_MATCH_H
#define MTASTS_STS_MATCH_H

#include <mtasts/common.h>
#include <mtasts/sts_policy.h>

#ifdef __cplusplus
extern "C" {
#endif

/*!
 * Does \p pattern match \p host?
 * \param[out] matched  true on a match.
 * \return MTS_OK; MTS_EPARSE when \p pattern is not a valid `mx` value
 * (RFC 8461 3.2 ABNF); MTS_EIDN when \p host is not a valid host name
 * (then *matched is false).
 */
MTS_API MTS_WUR enum mts_status mts_sts_match(const char *pattern, size_t plen,
                                              const char *host, size_t hlen,
                                              bool *matched);

/*!
 * Does any `mx` pattern of \p policy match \p host?
 * \param[out] index  when not NULL and matched, the first matching pattern.
 * \return as mts_sts_match().
 */
MTS_API MTS_WUR enum mts_status
mts_sts_policy_match(const struct mts_sts_policy *policy, const char *host,
                     size_t hlen, bool *matched, size_t *index);

/*!
 * Is \p pattern (\p len bytes) a syntactically valid `mx` value: an
 * optional "*." then an RFC 5321 Domain of LDH labels, no trailing dot?
 */
MTS_API bool mts_sts_match_pattern_valid(const char *pattern, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* MTASTS_STS_MATCH_H */
