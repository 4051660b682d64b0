/*
 * mtasts/sts_match.h - MX host matching (RFC 8461 4.1, RFC 6125 6.4).
 *
 * A pattern is either a host name or "*." followed by a host name; "*"
 * matches exactly one whole leftmost label (never zero, never two).
 * Comparison is ASCII case-insensitive; one trailing root dot on the
 * host is ignored; empty labels never match; a host given with U-labels
 * is converted to A-labels first. Patterns are not converted: the RFC
 * requires A-labels there, and a U-label pattern is invalid.
 *
 * The host is the exchange name of the MX RR as written, not the target
 * of a CNAME (MX-1, M25). Decisions: docs/decisions.md.
 * No allocation, no context: the functions are pure and thread-safe.
 * `mtasts match PATTERN HOST` is mts_sts_match() (exit 0 on a match).
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
 * \param[in] pattern  \p plen bytes, need not be NUL-terminated.
 * \param[in] host     \p hlen bytes, UTF-8 or ASCII, one trailing dot allowed.
 * \return MTS_OK; MTS_EPARSE when \p pattern is not a valid `mx` value
 * (RFC 8461 3.2 ABNF, checked first); MTS_EIDN when \p host is not a valid
 * host name (empty label, NUL, space, bad UTF-8, too long: see
 * mts_idn_to_ascii()); MTS_EINVAL for a NULL \p matched, or a NULL \p host
 * with \p hlen > 0. *matched is false unless MTS_OK is returned.
 */
MTS_API MTS_WUR enum mts_status mts_sts_match(const char *pattern, size_t plen,
                                              const char *host, size_t hlen,
                                              bool *matched);

/*!
 * Does any `mx` pattern of \p policy match \p host? Patterns are tried in
 * file order; a pattern that mts_sts_match_pattern_valid() refuses is
 * skipped (the parser keeps only valid ones). A policy without patterns
 * matches nothing; whether a mode none policy applies at all is the
 * caller's business.
 * \param[out] index  when not NULL and matched, the first matching pattern
 *                    (untouched otherwise).
 * \return MTS_OK; MTS_EIDN for an invalid \p host; MTS_EINVAL for a NULL
 * \p policy or \p matched.
 */
MTS_API MTS_WUR enum mts_status
mts_sts_policy_match(const struct mts_sts_policy *policy, const char *host,
                     size_t hlen, bool *matched, size_t *index);

/*!
 * Is \p pattern (\p len bytes) a syntactically valid `mx` value: an
 * optional "*." then an RFC 5321 Domain (labels of 1..63 letters, digits
 * and '-', starting and ending with a letter or digit), ASCII only, no
 * trailing dot, at most 253 octets in all ("*." included)? NULL: false.
 */
MTS_API bool mts_sts_match_pattern_valid(const char *pattern, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* MTASTS_STS_MATCH_H */
