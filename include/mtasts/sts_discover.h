/*
 * mtasts/sts_discover.h - MTA-STS policy discovery (RFC 8461 3, 3.3).
 *
 * For a Policy Domain: convert it to A-labels, look up the TXT RRset of
 * `_mta-sts.<domain>` and parse it; when it holds a valid record, GET
 * `https://mta-sts.<domain>/.well-known/mta-sts.txt`, require status 200
 * and media type text/plain (parameters ignored), and parse the policy.
 * The outcome is one verdict with a human reason; failures map to the
 * RFC 8460 result types.
 */
#ifndef MTASTS_STS_DISCOVER_H
#define MTASTS_STS_DISCOVER_H

#include <mtasts/common.h>
#include <mtasts/net.h>
#include <mtasts/sts_policy.h>
#include <mtasts/sts_txt.h>

#ifdef __cplusplus
extern "C" {
#endif

enum mts_sts_verdict {
  MTS_STS_V_POLICY = 0,         /* a usable policy was fetched */
  MTS_STS_V_NO_POLICY = 1,      /* no `_mta-sts` STS record */
  MTS_STS_V_TXT_INVALID = 2,    /* record(s) present but not exactly one valid */
  MTS_STS_V_DNS_TEMPFAIL = 3,   /* TXT lookup failed (SERVFAIL, timeout) */
  MTS_STS_V_FETCH_ERROR = 4,    /* sts-policy-fetch-error */
  MTS_STS_V_WEBPKI_INVALID = 5, /* sts-webpki-invalid */
  MTS_STS_V_POLICY_INVALID = 6  /* sts-policy-invalid */
};

/*! \return "policy", "no-policy", "txt-invalid", "dns-temporary-failure",
 *  "sts-policy-fetch-error", "sts-webpki-invalid" or "sts-policy-invalid". */
MTS_API const char *mts_sts_verdict_str(enum mts_sts_verdict v);
/*! \return the RFC 8460 result type of a failed fetch, else NULL. */
MTS_API const char *mts_sts_verdict_result_type(enum mts_sts_verdict v);

/* Flags for mts_sts_discover(). */
#define MTS_DISCOVER_TXT_ONLY 0x1u /* stop after the TXT record */
#define MTS_DISCOVER_SKIP_TXT 0x2u /* fetch without the TXT lookup
                                      (proactive refresh, RFC 8461 10.2) */

struct mts_sts_discovery;

/*!
 * Completion callback. Ownership of \p d passes to the callee, which
 * must release it with mts_sts_discovery_destroy(). On MTS_ECANCELED
 * (net destroyed) \p d is still valid: mts_sts_discovery_status() tells.
 * \p d owns copies of everything; it does not refer to the net, which
 * the callback may destroy.
 */
typedef void (*mts_sts_discover_cb)(void *arg, struct mts_sts_discovery *d);

/*!
 * Start discovery for \p domain (UTF-8 or ASCII). \return MTS_OK when
 * started (the callback will run exactly once, never from inside this
 * call), MTS_EIDN for a name that is not a valid domain or is too long
 * to prefix with `_mta-sts.` (more than 244 octets in A-labels),
 * MTS_ECANCELED when \p net is being destroyed, MTS_EINVAL for NULL
 * arguments, MTS_ENOMEM.
 *
 * Verdicts (docs/decisions.md):
 *  - TXT NXDOMAIN / NODATA, or no STS record in the RRset: no-policy;
 *  - several STS records, or one invalid record: txt-invalid;
 *  - any other TXT lookup failure (SERVFAIL, timeout, no resolver):
 *    dns-temporary-failure (AMBIG-TXT-3: temporary, the caller decides);
 *  - TLS failure (untrusted, expired, name mismatch, no SAN DNS-ID):
 *    sts-webpki-invalid;
 *  - any other transport failure, status other than 200 (redirects are
 *    not followed), Content-Type missing or not text/plain, body over
 *    the cap: sts-policy-fetch-error;
 *  - a body that is not a usable policy: sts-policy-invalid;
 *  - else policy.
 * With MTS_DISCOVER_TXT_ONLY a valid record ends discovery with verdict
 * MTS_STS_V_POLICY, no URL and no policy (a policy is announced). With
 * MTS_DISCOVER_SKIP_TXT the TXT accessors return NULL / MTS_OK.
 */
MTS_API MTS_WUR enum mts_status mts_sts_discover(struct mts_net *net,
                                                 const char *domain,
                                                 unsigned flags,
                                                 mts_sts_discover_cb cb,
                                                 void *arg);
MTS_API void mts_sts_discovery_destroy(struct mts_sts_discovery *d);

MTS_API enum mts_sts_verdict mts_sts_discovery_verdict(const struct mts_sts_discovery *d);
/*! \return MTS_OK when discovery ran to its verdict; MTS_ECANCELED when
 *  the net was destroyed first; MTS_ENOMEM when memory ran out on the
 *  way (the verdict is then dns-temporary-failure or
 *  sts-policy-fetch-error, whichever step failed). */
MTS_API enum mts_status mts_sts_discovery_status(const struct mts_sts_discovery *d);
/*! \return a one-line human reason for the verdict. */
MTS_API const char *mts_sts_discovery_reason(const struct mts_sts_discovery *d);
/*! \return the Policy Domain in A-labels, lower case. */
MTS_API const char *mts_sts_discovery_domain(const struct mts_sts_discovery *d);
/*! \return the status of the TXT lookup (MTS_OK when an answer came). */
MTS_API enum mts_status mts_sts_discovery_txt_status(const struct mts_sts_discovery *d);
/*! \return the TXT RRset, or NULL when the lookup gave none. */
MTS_API const struct mts_txt_rrset *mts_sts_discovery_txt_rrset(const struct mts_sts_discovery *d);
/*! \return the parsed TXT record, or NULL when the lookup failed. */
MTS_API const struct mts_sts_txt *mts_sts_discovery_txt(const struct mts_sts_discovery *d);
/*! \return true when the TXT answer carried the DNSSEC AD bit. */
MTS_API bool mts_sts_discovery_txt_authenticated(const struct mts_sts_discovery *d);
/*! \return the policy URL when a fetch was attempted, else NULL. */
MTS_API const char *mts_sts_discovery_url(const struct mts_sts_discovery *d);
/*! \return the HTTP status of the fetch, 0 when none was received. */
MTS_API long mts_sts_discovery_http_status(const struct mts_sts_discovery *d);
/*! \return the Content-Type received, or NULL. */
MTS_API const char *mts_sts_discovery_content_type(const struct mts_sts_discovery *d);
/*! \return the raw policy body received (when status 200), or NULL. */
MTS_API const uint8_t *mts_sts_discovery_body(const struct mts_sts_discovery *d, size_t *len);
/*! \return the parsed policy when a 200 text/plain body was received. */
MTS_API const struct mts_sts_policy *mts_sts_discovery_policy(const struct mts_sts_discovery *d);
/*! Milliseconds spent on the TXT lookup and on the HTTPS fetch. */
MTS_API uint64_t mts_sts_discovery_dns_ms(const struct mts_sts_discovery *d);
MTS_API uint64_t mts_sts_discovery_fetch_ms(const struct mts_sts_discovery *d);

#ifdef __cplusplus
}
#endif
#endif /* MTASTS_STS_DISCOVER_H */
