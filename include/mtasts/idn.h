/*
 * mtasts/idn.h - domain names to their ASCII (A-label) form.
 *
 * RFC 8461 works on A-labels: policy `mx` patterns must be A-labels
 * (3.2), MX host names with U-labels are converted before matching
 * (RFC 6125 6.4.2), and the TXT and HTTPS names of an IDN domain use
 * A-labels. Conversion uses libidn2 (IDNA2008, non-transitional UTS#46
 * mapping) and lower-cases ASCII. One trailing root dot is removed.
 *
 * Pure-ASCII names do not go through libidn2: their labels may hold
 * letters, digits, '-' and '_' (DNS names such as "_mta-sts.example.com"
 * contain '_'; the function serves both typed domains and MX host
 * names), and "xn--" labels are passed through without decoding. The
 * libidn2 output for non-ASCII names is checked by the same rules.
 * Decisions: docs/decisions.md. No allocation through the
 * context (libidn2 mallocs internally and is freed at once); thread-safe.
 */
#ifndef MTASTS_IDN_H
#define MTASTS_IDN_H

#include <mtasts/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/*!
 * Convert \p name (UTF-8 or ASCII, \p len bytes) to a lower-case A-label
 * domain without a trailing dot, written NUL-terminated into \p out of
 * \p outsize bytes (MTS_DOMAIN_MAX + 1 is always enough).
 * \return MTS_OK; MTS_EIDN when the name is not a valid domain name
 * (empty, empty label, NUL, space, control or other non-LDH/'_' octet,
 * bad UTF-8, disallowed code point, label > 63 or name > 253 octets, or
 * more than 1024 input octets when non-ASCII); MTS_ETOOBIG when \p out
 * is too small; MTS_EINVAL for a NULL \p out, \p outsize 0, or a NULL
 * \p name with \p len > 0. On failure \p out holds "" (when writable).
 */
MTS_API MTS_WUR enum mts_status mts_idn_to_ascii(const char *name, size_t len,
                                                 char *out, size_t outsize);

#ifdef __cplusplus
}
#endif
#endif /* MTASTS_IDN_H */
