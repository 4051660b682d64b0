/*
 * mtasts/rpt_event.h - one outbound TLS session outcome, the single event
 * model of TLS reporting on the sending side (RFC 8460 4; issue 6).
 *
 * Three inputs produce it:
 *  - a libtlsrpt datagram (rpt_datagram.h): one event per policy element
 *    (mts_rpt_event_from_datagram());
 *  - the Postfix log follower (rpt_session.h): lines of one smtp(8)
 *    process joined into one session;
 *  - the policy daemon itself: a policy fetch error, an invalid policy or
 *    a web-PKI failure of the policy host (RFC 8461 6) is a failure with
 *    no receiving MX.
 * The aggregator (rpt_agg.h) counts events per UTC day, policy domain,
 * TLSRPT record and policy.
 *
 * `session_id` makes "one session counted once, whichever inputs saw
 * it": it is derived from what every input knows of the session (the
 * time to the second, the receiving IP, the policy domain); the
 * aggregator drops a second event with the same id and source other than
 * its own.
 *
 * All pointers are borrowed from whatever produced the event; the
 * aggregator copies what it keeps.
 */
#ifndef MTASTS_RPT_EVENT_H
#define MTASTS_RPT_EVENT_H

#include <mtasts/common.h>
#include <mtasts/rpt_datagram.h>
#include <mtasts/rpt_report.h>

#ifdef __cplusplus
extern "C" {
#endif

enum mts_rpt_source {
  MTS_RPT_SRC_DATAGRAM = 1, /* libtlsrpt via the collector socket */
  MTS_RPT_SRC_LOG = 2,      /* Postfix log follower */
  MTS_RPT_SRC_DAEMON = 3    /* mtastsd's own policy events */
};

struct mts_rpt_event {
  enum mts_rpt_source source;
  int64_t time;              /* UTC seconds of the session */
  const char *policy_domain; /* A-label, lower case, no trailing dot */
  enum mts_rpt_policy_type policy_type; /* UNKNOWN: not known (log path) */
  const char *const *policy_strings;    /* policy lines, NULL when unknown */
  size_t npolicy_strings;
  const char *const *mx_hosts;          /* policy mx patterns */
  size_t nmx_hosts;
  const char *tlsrpt_record; /* the _smtp._tls text when known, else NULL */
  bool success;              /* a policy-compliant TLS session */
  /* Failures of this session (count 1 each); may be empty for a
   * failure the input could not detail. */
  const struct mts_rpt_failure *failures;
  size_t nfailures;
  const char *session_id; /* NULL when the input cannot tell */
  /* The TLSRPT domain whose `_smtp._tls` record names the report's
   * recipients: `d` of a datagram, the next hop in the log (added by
   * h5a; NULL means "same as policy_domain"). Differs from
   * policy_domain for DANE (TLSA base domain) and for relayhosts. */
  const char *report_domain;
  /* Log path only (added by h5a): a success whose handshake did not
   * verify the name (a Trusted/Untrusted/Anonymous summary that led to
   * delivery, i.e. a level that needs no match: may/encrypt) carries here
   * the failure it is under a policy that does require a match, such as
   * an STS policy in mode testing (docs/decisions.md LL-7): result type
   * certificate-host-mismatch after "Trusted", else
   * certificate-not-trusted, with MX host and IP. The consumer, which
   * knows the policy, decides; NULL otherwise. */
  const struct mts_rpt_failure *unverified;
};

/* A consumer of events; \p ev and everything it points to are valid
 * during the call only. */
typedef void (*mts_rpt_event_fn)(const struct mts_rpt_event *ev, void *arg);

/* Size of a buffer that always holds a session id. */
#define MTS_RPT_SESSION_ID_MAX 384

/*!
 * The session id every input derives the same way (docs/decisions.md,
 * "TLS reports: inputs"): "<utc seconds>/<report domain>/<receiving IP>"
 * for a failure, "<utc seconds>/<report domain>/-" for a success or a
 * failure without a receiving IP (a libtlsrpt success datagram carries no
 * IP, the log does: leaving it out of successes keeps the two equal).
 * The domain is lower-cased and loses a trailing dot; the IP is taken
 * as given. Two sessions of one domain in the same second collide only
 * across inputs (the aggregator drops a duplicate only when its source
 * differs), so same-input counts stay exact.
 * \param[out] buf  \p size bytes; MTS_RPT_SESSION_ID_MAX is enough.
 * \return MTS_OK; MTS_EINVAL for a NULL buf or domain; MTS_ETOOBIG when
 * \p size is too small (buf then holds "").
 * Thread safety: pure.
 */
MTS_API MTS_WUR enum mts_status
mts_rpt_event_session_id(char *buf, size_t size, int64_t time,
                         const char *domain, const char *receiving_ip,
                         bool success);

/*!
 * Turn one usable libtlsrpt datagram into events, one per element of
 * `policies` (Postfix sends exactly one; TLSRPT-NOTES 1.5), and hand each
 * to \p fn. All events are built first: on error none is handed out.
 *
 * Mapping (TLSRPT-NOTES 1.2, 1.3, 4 items 5-7):
 *  - source MTS_RPT_SRC_DATAGRAM, time = \p received (the datagram has
 *    no time stamp; sys4's collectd also counts the receive time);
 *  - policy_domain = `policy-domain` (already `d` when absent, Postfix
 *    3.10.0-3.10.4), report_domain = `d`, tlsrpt_record = `pr`,
 *    policy_type/strings/mx_hosts as sent;
 *  - success = `f` == 0. The failure details of a success (libtlsrpt
 *    passes the contradiction through) are dropped, because each detail
 *    counts a failed session; a failure without details has none;
 *  - every detail becomes a failure with failed_session_count 1; an
 *    unknown code (or 901) becomes "validation-failure" with
 *    failure_reason_code "tlsrpt-code-<N>" (followed by " <f>" when the
 *    datagram had a reason), so it is counted and not silently typed;
 *  - session_id from mts_rpt_event_session_id() with `d` and the `r`
 *    of the first failure detail.
 * \param[in] ctx       the context (allocator for the temporaries).
 * \param[in] dg        a parse result; must be usable.
 * \param[in] received  UTC seconds when the datagram was received.
 * \return MTS_OK; MTS_EINVAL when an argument is NULL or \p dg is not
 * usable (nothing handed out); MTS_ENOMEM.
 * Thread safety: as common.h. Cost: linear in the datagram.
 */
MTS_API MTS_WUR enum mts_status
mts_rpt_event_from_datagram(struct mts_ctx *ctx,
                            const struct mts_rpt_datagram *dg,
                            int64_t received, mts_rpt_event_fn fn, void *arg);

#ifdef __cplusplus
}
#endif
#endif /* MTASTS_RPT_EVENT_H */
