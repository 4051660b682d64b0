/*
 * sts_match.c - MX host matching against policy `mx` patterns
 * (RFC 8461 4.1, RFC 6125 6.4; mtasts/sts_match.h).
 *
 * The host (the exchange name of the MX RR, MX-1) is normalised once
 * with mts_idn_to_ascii(): U-labels become A-labels (RFC 6125 6.4.2),
 * ASCII is lower-cased, one trailing root dot is removed (MX-5), and a
 * name with an empty label is refused. Patterns are not normalised:
 * they must already be A-labels, and are compared ASCII
 * case-insensitively label for label (RFC 6125 6.4.1).
 *
 * Appendix B traps avoided (RFC-CHECKLIST 1.11): the comparison is not
 * byte-wise, and the wildcard never matches an empty first label
 * (".example.com" is refused before matching) nor two labels.
 */
#include <string.h>

#include <mtasts/idn.h>
#include <mtasts/limits.h>
#include <mtasts/sts_match.h>

#include "core/ascii_int.h"

/* RFC 5321 4.1.2: Let-dig = ALPHA / DIGIT. */
static bool match_let_dig(uint8_t c) { return mts_is_alnum(c); }

/*
 * RFC 5321 4.1.2 Domain = sub-domain *("." sub-domain);
 * sub-domain = Let-dig [Ldh-str]; Ldh-str = *( ALPHA / DIGIT / "-" ) Let-dig.
 * Labels are 1..63 octets (RFC 1035 2.3.4). No trailing dot.
 */
static bool match_domain_valid(const uint8_t *s, size_t len) {
  size_t start = 0;
  size_t i;

  if (len == 0) {
    return false;
  }
  for (i = 0; i <= len; i++) {
    if (i < len && s[i] != '.') {
      if (!match_let_dig(s[i]) && s[i] != '-') {
        return false; /* also refuses non-ASCII: patterns are A-labels */
      }
      continue;
    }
    /* label s[start .. i) */
    if (i == start || i - start > MTS_LABEL_MAX) {
      return false;
    }
    if (!match_let_dig(s[start]) || !match_let_dig(s[i - 1])) {
      return false;
    }
    start = i + 1;
  }
  return true;
}

bool mts_sts_match_pattern_valid(const char *pattern, size_t len) {
  const uint8_t *p = (const uint8_t *)pattern;

  /* The whole pattern, "*." included, must fit a name: "*.X" stands for
   * names one label longer than X. */
  if (pattern == NULL || len == 0 || len > MTS_DOMAIN_MAX) {
    return false;
  }
  if (len >= 2 && p[0] == '*' && p[1] == '.') {
    p += 2;
    len -= 2;
  }
  return match_domain_valid(p, len);
}

/* Compare a valid pattern with a normalised host (lower-case A-labels, no
 * trailing dot, no empty label). */
static bool match_normalised(const char *pattern, size_t plen,
                             const char *host, size_t hlen) {
  const char *dot;

  if (plen >= 2 && pattern[0] == '*' && pattern[1] == '.') {
    /* "*" is exactly one whole leftmost label (RFC 8461 4.1): skip the
     * host's first label, which is non-empty, and compare the rest. */
    dot = memchr(host, '.', hlen);
    if (dot == NULL || dot == host) {
      return false; /* "com" has no label left for "*" in "*.com" */
    }
    dot++;
    return mts_ascii_caseeq((const uint8_t *)pattern + 2, plen - 2,
                            (const uint8_t *)dot,
                            hlen - (size_t)(dot - host));
  }
  return mts_ascii_caseeq((const uint8_t *)pattern, plen,
                          (const uint8_t *)host, hlen);
}

enum mts_status mts_sts_match(const char *pattern, size_t plen,
                              const char *host, size_t hlen, bool *matched) {
  char norm[MTS_DOMAIN_MAX + 1];
  enum mts_status st;

  if (matched == NULL) {
    return MTS_EINVAL;
  }
  *matched = false;
  if (!mts_sts_match_pattern_valid(pattern, plen)) {
    return MTS_EPARSE;
  }
  st = mts_idn_to_ascii(host, hlen, norm, sizeof(norm));
  if (st != MTS_OK) {
    return st == MTS_EINVAL ? MTS_EINVAL : MTS_EIDN;
  }
  *matched = match_normalised(pattern, plen, norm, strlen(norm));
  return MTS_OK;
}

enum mts_status mts_sts_policy_match(const struct mts_sts_policy *policy,
                                     const char *host, size_t hlen,
                                     bool *matched, size_t *index) {
  char norm[MTS_DOMAIN_MAX + 1];
  enum mts_status st;
  size_t n, i, nlen;

  if (matched == NULL || policy == NULL) {
    if (matched != NULL) {
      *matched = false;
    }
    return MTS_EINVAL;
  }
  *matched = false;
  st = mts_idn_to_ascii(host, hlen, norm, sizeof(norm));
  if (st != MTS_OK) {
    return st == MTS_EINVAL ? MTS_EINVAL : MTS_EIDN;
  }
  nlen = strlen(norm);
  n = mts_sts_policy_mx_count(policy);
  for (i = 0; i < n; i++) {
    const char *p = mts_sts_policy_mx(policy, i);
    size_t plen;

    if (p == NULL) {
      continue;
    }
    plen = strlen(p);
    /* The policy parser keeps only valid patterns; check anyway, so a
     * looser parser can never make "*" or "" match everything. */
    if (!mts_sts_match_pattern_valid(p, plen)) {
      continue;
    }
    if (match_normalised(p, plen, norm, nlen)) {
      *matched = true;
      if (index != NULL) {
        *index = i;
      }
      break;
    }
  }
  return MTS_OK;
}
