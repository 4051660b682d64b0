/*
 * net_tls_int.h - TLS pieces shared by net_http.c (the policy fetch) and
 * tls_probe.c (the STARTTLS / HTTPS probe). Internal.
 */
#ifndef MTS_NET_TLS_INT_H
#define MTS_NET_TLS_INT_H

#include <stddef.h>

#include <openssl/x509v3.h>

/*
 * Make OpenSSL's chain verification check \p host against dNSName SANs
 * only: no fallback to the subject CN (RFC 8461 3.3 / 4.2 via RFC 6125
 * DNS-ID, FETCH-3) and no partial-label wildcards such as "mta*.x"
 * (FETCH-4). \return 1, or 0 when out of memory.
 */
static inline int mts_net_tls_dnsid(X509_VERIFY_PARAM *vp, const char *host) {
  X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT |
                                          X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  return X509_VERIFY_PARAM_set1_host(vp, host, 0);
}

/*
 * Scan \p buf [0, \p len) for one complete SMTP reply (RFC 5321 4.2):
 * lines "DDD-text" ending in one "DDD text" (or a bare "DDD"), CRLF or
 * bare LF, every line with the same code, each at most 1000 bytes.
 * \return 1 complete (*code, *used = bytes of the reply), 0 need more
 * input, -1 malformed. Pure; exposed for the unit test and fuzzing.
 */
int mts_tls_probe_reply_scan(const char *buf, size_t len, int *code,
                             size_t *used);

#endif /* MTS_NET_TLS_INT_H */
