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
};

#ifdef __cplusplus
}
#endif
#endif /* MTASTS_RPT_EVENT_H */
