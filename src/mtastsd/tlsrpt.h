/*
 * tlsrpt.h - mtastsd's own TLS reporting events (RFC 8461 6, issue 6):
 * when no policy could be applied to a delivery because the domain's
 * policy could not be fetched, was invalid, or its host failed web-PKI
 * validation, Postfix delivers as though the domain had no MTA-STS (RFC
 * 8461 3.3) and reports nothing about it. mtastsd then sends one
 * datagram, in the layout libtlsrpt writes (TLSRPT-NOTES 1.2), to the
 * collector socket (`tlsrpt_socket`, the one Postfix 3.10+ is given as
 * smtp_tlsrpt_socket_name, or mtasts-tlsrptd's): a failed `sts` policy
 * with one failure detail, code 301/302/303.
 *
 * What counts (docs/decisions.md, "TLS reporting: mtastsd's own
 * events"): a lookup answered NOTFOUND while the latest discovery of the
 * domain failed and no cached policy applies. Each such lookup is one
 * delivery attempt, so one failed session. A refresh failure while a
 * cached policy still applies is not a session failure (the policy was
 * applied): it is logged as an alert, not reported.
 *
 * `pr` (the _smtp._tls record) is sent empty: mtastsd does not look the
 * record up; the report sender does at send time.
 *
 * Sending never blocks (MSG_DONTWAIT, like libtlsrpt): a datagram the
 * collector cannot take is dropped and counted. Loop thread only.
 */
#ifndef MTASTSD_TLSRPT_H
#define MTASTSD_TLSRPT_H

#include <stddef.h>
#include <stdint.h>

#include <mtasts/sts_resolver.h>

#include "log.h"

/* Largest datagram we build (a reason is a log line; the policy lines
 * are not sent). */
#define MTASTSD_TLSRPT_DGRAM_MAX 2048

struct mtastsd_tlsrpt;

/*! Send to the datagram socket at \p path. \return 0, or -1 (logged). */
int mtastsd_tlsrpt_create(const char *path, struct mtastsd_log *lg,
                          struct mtastsd_tlsrpt **out);
/*! NULL is a no-op. */
void mtastsd_tlsrpt_destroy(struct mtastsd_tlsrpt *t);

/*!
 * The datagram for a failed discovery of \p domain with RFC 8460
 * \p result_type ("sts-policy-fetch-error", "sts-policy-invalid",
 * "sts-webpki-invalid") and \p reason (may be NULL), into \p buf.
 * \return its length, or 0 when the type is not one of those three or
 * it does not fit.
 */
size_t mtastsd_tlsrpt_format(char *buf, size_t size, const char *domain,
                             const char *result_type, const char *reason);

/*!
 * Report \p a when it is a reportable failure (see above): \return true
 * when a datagram was built (sent or dropped). NULL \p t: false.
 */
bool mtastsd_tlsrpt_answer(struct mtastsd_tlsrpt *t,
                           const struct mts_sts_answer *a);

/*! Datagrams sent and dropped (collector absent, full or refusing). */
uint64_t mtastsd_tlsrpt_sent(const struct mtastsd_tlsrpt *t);
uint64_t mtastsd_tlsrpt_dropped(const struct mtastsd_tlsrpt *t);

#endif /* MTASTSD_TLSRPT_H */
