/*
 * mtasts/rpt_session.h - join Postfix smtp(8)/tlsproxy(8) log lines into
 * TLS sessions and emit one struct mts_rpt_event per finished session
 * (RFC 8460 on a Postfix without libtlsrpt; TLSRPT-NOTES 2.3-2.6, 4
 * items 8-14).
 *
 * Feed lines in log order (mts_rpt_session_feed_line(), or events from
 * mts_rpt_logline_parse() with mts_rpt_session_feed()); a rotated file
 * simply continues into the same joiner. State is kept per smtp pid:
 *
 *  - TLS facts (verification failure, handshake summary, SSL_connect
 *    error, untrusted reuse, 3.10+ "TLSRPT:" line, "1,cache" session
 *    lookup) open a session for that pid and peer address;
 *  - the next status line ("QID: to=<..>, relay=..") or non-final line
 *    ("QID: <reason>") of the pid closes it. A non-final line carries
 *    no recipient: the session waits for the status line of the same
 *    queue id, which gives the recipient domain;
 *  - a status or non-final line that names a failure by itself
 *    ("TLS is required, but was not offered by host ..", "Cannot start
 *    TLS: handshake failure") is a session of its own when no facts
 *    were pending;
 *  - more status lines of the same pid, queue id and relay (one per
 *    recipient, within 60 s, no recipient twice: a repeated recipient is
 *    a retry) add nothing; a status line with conn_use >= 2 had no
 *    handshake (counted in stats.reused, no event);
 *  - tlsproxy facts are kept by "[addr]:port" and joined into the smtp
 *    session to the same address and port (the verification line or
 *    handshake failure is the tlsproxy's; its summary is repeated by
 *    smtp and counted once);
 *  - a status line with no TLS fact before it (plaintext, or
 *    smtp_tls_loglevel 0) is not a reportable session: stats.unknown;
 *    LOCAL problems ("our TLS engine is unavailable") are not reported
 *    (stats.local).
 *
 * Outcome of a session: the 3.10+ "TLSRPT:" line when present (Postfix's
 * own verdict); else the first non-provisional failure; a provisional
 * "Server certificate not verified" is refined by a verification line,
 * else it is certificate-host-mismatch after a "Trusted" summary and
 * certificate-not-trusted otherwise; else a summary is a success
 * ("Verified", and also "Trusted"/"Untrusted"/"Anonymous" that led to
 * delivery: the level did not require a match, as Postfix 3.10 reports
 * it). Connection failures before STARTTLS are not sessions.
 *
 * Emitted events: source MTS_RPT_SRC_LOG; time = the session's first TLS
 * line (the handshake; the status line when there was none), in UTC;
 * policy_domain = report_domain = the next hop of the session-cache
 * lookup (loglevel "1,cache"; brackets and port removed; an address
 * literal is not reported) or of a "TLSRPT:" line, else the recipient
 * domain (right only for plain MX routing); policy_type UNKNOWN, no
 * policy strings, no mx patterns, no TLSRPT record (not in the log:
 * the consumer adds them from the policy daemon/DNS); failures carry
 * result_type, receiving_mx_hostname, receiving_ip, failure_reason_code
 * and the configured sending IP; never the EHLO text (not logged). A
 * success from a Trusted/Untrusted/Anonymous summary carries `unverified`
 * (the failure it is under a policy that requires a name match; the
 * consumer knows the policy, docs/decisions.md LL-7).
 *
 * Time stamps: ISO 8601 with a zone is exact; RFC 3164 ("Mar  1 ..",
 * no year) takes the year that puts the line nearest to the reference
 * time; local times (RFC 3164, ISO without zone) are converted with the
 * offset the caller passes (mts_rpt_session_set_clock(); a caller should
 * refresh it, e.g. each minute, to follow DST); lines without time use
 * the reference time.
 *
 * Bounds: at most cfg.max_pids pids with state (the least recently
 * active is closed first when full) and MTS_RPT_SESSION_PROXY_MAX
 * tlsproxy peers; a session with no closing line for cfg.max_age
 * seconds of log time is closed (emitted when its domain is known,
 * else counted in stats.no_domain).
 *
 * Report deliveries (RFC 8460 3: the delivery of reports must not be
 * reported): cfg.exclude lists recipients whose sessions are not
 * counted: "user@domain" (whole address), "@domain" or "domain" (every
 * recipient there), compared without case. The session is judged by
 * the first status line that closes it; the report mailer sends one
 * message per report to the rua addresses only. Counted in
 * stats.excluded.
 *
 * Ownership: the event and everything it points to are valid during the
 * callback only. Thread safety: as common.h. Cost: O(max_pids) per line
 * in the worst case.
 */
#ifndef MTASTS_RPT_SESSION_H
#define MTASTS_RPT_SESSION_H

#include <mtasts/common.h>
#include <mtasts/rpt_event.h>
#include <mtasts/rpt_logline.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MTS_RPT_SESSION_PIDS_DEFAULT 512
#define MTS_RPT_SESSION_AGE_DEFAULT 900
#define MTS_RPT_SESSION_PROXY_MAX 256

struct mts_rpt_session_cfg {
  size_t max_pids;   /* 0: MTS_RPT_SESSION_PIDS_DEFAULT */
  int64_t max_age;   /* seconds of log time; 0: MTS_RPT_SESSION_AGE_DEFAULT */
  const char *const *exclude; /* report recipients, see above; copied */
  size_t nexclude;
  const char *sending_ip; /* smtp_bind_address when fixed, else NULL;
                             copied */
};

struct mts_rpt_session_stats {
  uint64_t lines;      /* lines/events fed */
  uint64_t tls_lines;  /* of them smtp/tlsproxy TLS or status lines */
  uint64_t malformed;  /* MTS_RPT_LOG_MALFORMED */
  uint64_t sessions;   /* events emitted */
  uint64_t successes;  /* of them successes */
  uint64_t failures;   /* of them failures */
  uint64_t reused;     /* status lines with conn_use >= 2 / reused TLS */
  uint64_t unknown;    /* deliveries with no TLS line (plaintext or
                          loglevel 0): not reported */
  uint64_t local;      /* local TLS problems: not reported */
  uint64_t excluded;   /* sessions of report deliveries */
  uint64_t no_domain;  /* sessions closed with no domain known, or to an
                          address literal: not reported */
  uint64_t expired;    /* sessions closed by max_age */
  uint64_t evicted;    /* pids closed because the table was full */
  uint64_t proxy_joined; /* tlsproxy facts joined into a session */
};

struct mts_rpt_session;

/*!
 * Create a joiner.
 * \param[in] ctx  the context (allocator; kept, must outlive the joiner).
 * \param[in] cfg  NULL for the defaults; copied.
 * \param[in] fn   called once per finished session (never NULL).
 * \param[out] out the joiner, NULL on failure.
 * \return MTS_OK; MTS_ENOMEM; MTS_EINVAL for NULL ctx/fn/out or an
 * exclude entry that is NULL or empty.
 */
MTS_API MTS_WUR enum mts_status
mts_rpt_session_create(struct mts_ctx *ctx,
                       const struct mts_rpt_session_cfg *cfg,
                       mts_rpt_event_fn fn, void *arg,
                       struct mts_rpt_session **out);
/*! Free \p s without emitting what is pending (call flush first).
 *  NULL is a no-op. */
MTS_API void mts_rpt_session_destroy(struct mts_rpt_session *s);

/*!
 * Set the reference time (UTC seconds "now", for RFC 3164 year
 * inference and lines without time) and the local time offset (minutes
 * east of UTC) used for local time stamps. Default: the context's
 * clock at creation and offset 0 (UTC).
 */
MTS_API void mts_rpt_session_set_clock(struct mts_rpt_session *s, int64_t now,
                                       int tz_offset_min);

/*!
 * Feed one parsed line (any kind; OTHER and lines of other programs are
 * counted and ignored). May call the callback.
 * \return MTS_OK; MTS_ENOMEM (the line is lost, the state stays
 * consistent); MTS_EINVAL for NULL arguments.
 */
MTS_API MTS_WUR enum mts_status
mts_rpt_session_feed(struct mts_rpt_session *s,
                     const struct mts_rpt_log_event *ev);
/*! Parse one line with mts_rpt_logline_parse() and feed it. */
MTS_API MTS_WUR enum mts_status
mts_rpt_session_feed_line(struct mts_rpt_session *s, const uint8_t *line,
                          size_t len);
/*! Close every open session as if its pid had ended (end of input):
 *  sessions whose domain is known are emitted. */
MTS_API void mts_rpt_session_flush(struct mts_rpt_session *s);
/*! Copy the counters to \p out. */
MTS_API void mts_rpt_session_stats(const struct mts_rpt_session *s,
                                   struct mts_rpt_session_stats *out);

/*!
 * Convert a log time stamp to UTC seconds: ISO 8601 with a zone as is;
 * local times minus \p tz_offset_min; RFC 3164 in the year (of \p now's
 * local date, one before or one after) nearest to \p now; NONE -> now.
 * Pure.
 */
MTS_API int64_t mts_rpt_session_log_time(const struct mts_rpt_log_time *t,
                                         int64_t now, int tz_offset_min);

#ifdef __cplusplus
}
#endif
#endif /* MTASTS_RPT_SESSION_H */
