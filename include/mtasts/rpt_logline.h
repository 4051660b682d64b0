/*
 * mtasts/rpt_logline.h - classify one Postfix smtp(8)/tlsproxy(8) log
 * line (Postfix 3.7 formats, TLSRPT-NOTES 2) into a TLS event, for TLS
 * reporting (RFC 8460) on hosts whose Postfix has no libtlsrpt.
 *
 * Pure: one line in, one event out; no state. The syslog prefix is
 * parsed: an RFC 3164 time stamp ("Mar  1 12:34:56", local time, no
 * year; fractional seconds tolerated, as maillog_file may write them) or
 * an ISO 8601 / RFC 3339 one ("2025-03-01T12:34:56.123456+01:00", also
 * "+0100" as journalctl -o short-iso writes and "Z"), then an optional
 * host name, then the tag "<syslog_name>/<program>[pid]:" with any
 * syslog_name ("postfix", "postfix/relay", "postfix-out"). A line may
 * also start directly with the tag (journal export without prefix).
 * Only programs "smtp" and "tlsproxy" yield TLS events; everything else
 * (other programs, other texts) is MTS_RPT_LOG_OTHER.
 *
 * What a follower must join (TLSRPT-NOTES 2.4, 2.5; not done here):
 *  - per smtp pid, collect TLS_SUMMARY, VERIFY_FAILED, SSL_CONNECT_ERROR,
 *    TLS_LIB_PROBLEM, UNTRUSTED_REUSE, SESSION_LOOKUP events and close
 *    the session at the next STATUS or NONFINAL event of that pid whose
 *    host/addr matches; the queue id is only on those two kinds;
 *  - one session per handshake: several STATUS lines of one pid and relay
 *    after one summary are the same session; STATUS with conn_use >= 2
 *    had no handshake; a tlsproxy TLS_SUMMARY is repeated by smtp (count
 *    one); tlsproxy events (pid of tlsproxy) are joined by addr:port;
 *  - the session's outcome: the first non-provisional FAILED event wins
 *    (a VERIFY_FAILED refines the provisional "Server certificate not
 *    verified"); else a TLS_SUMMARY: VERIFIED is a success, UNVERIFIED is
 *    a success only where the applied policy needs no name match;
 *    STATUS/NONFINAL that say nothing about TLS (outcome UNKNOWN) after no
 *    summary mean plaintext or no STARTTLS attempt (needs loglevel >= 1);
 *  - the TLSRPT policy domain: the next hop of the last SESSION_LOOKUP
 *    (loglevel "1,cache"), else the recipient domain for plain MX routing;
 *    the policy itself and the TLSRPT record are not in the log;
 *  - LOCAL outcomes and connection errors before STARTTLS are not
 *    reported (RFC 8460 4.3.4).
 * Not in the log at all (TLSRPT-NOTES 2.6): sending-mta-ip, the EHLO
 * text, sts-* failures, hostname mismatch at may/encrypt, errors masked
 * by the first one, the TLS level applied (3.7).
 *
 * Ownership: the event and its strings live in the result until
 * mts_rpt_logline_destroy(). Thread safety: as common.h. Cost: linear.
 */
#ifndef MTASTS_RPT_LOGLINE_H
#define MTASTS_RPT_LOGLINE_H

#include <mtasts/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Longest line looked at; longer lines are MALFORMED (syslog lines are a
 * few KiB at most; Postfix caps its own text at line_length_limit). */
#define MTS_RPT_LOGLINE_MAX 65536

enum mts_rpt_log_kind {
  MTS_RPT_LOG_OTHER = 0,     /* nothing TLS reporting needs */
  MTS_RPT_LOG_MALFORMED = 1, /* a known text whose fields do not parse */
  /* "<Trust> TLS connection established|reused to H[A]:P: ..." */
  MTS_RPT_LOG_TLS_SUMMARY = 2,
  /* "[server |CA ]certificate verification failed for H[A]:P: why" */
  MTS_RPT_LOG_VERIFY_FAILED = 3,
  /* "SSL_connect error to H[A]:P: detail" */
  MTS_RPT_LOG_SSL_CONNECT_ERROR = 4,
  /* "warning: TLS library problem: error:...:<reason>:..." */
  MTS_RPT_LOG_TLS_LIB_PROBLEM = 5,
  /* "H[A]:P: re-using session with untrusted certificate, ..." */
  MTS_RPT_LOG_UNTRUSTED_REUSE = 6,
  /* "looking for session smtp&<nexthop>&<host>&<addr>&... in smtp cache" */
  MTS_RPT_LOG_SESSION_LOOKUP = 7,
  /* tlsproxy: "CONNECT to [A]:P", "DISCONNECT [A]:P",
   * "TLS handshake failed for service=S peer=[A]:P" */
  MTS_RPT_LOG_PROXY_CONNECT = 8,
  MTS_RPT_LOG_PROXY_DISCONNECT = 9,
  MTS_RPT_LOG_PROXY_HANDSHAKE_FAILED = 10,
  /* "QID: to=<rcpt>, ..., relay=H[A]:P, ..., status=S (text)" */
  MTS_RPT_LOG_STATUS = 11,
  /* "QID: <reason>" (a non-final failure; another MX will be tried) */
  MTS_RPT_LOG_NONFINAL = 12,
  /* 3.10+: "TLSRPT: status=success|failure, domain=D, receiving_mx=H[A]..." */
  MTS_RPT_LOG_TLSRPT = 13
};

/*! \return a static name such as "tls-summary" for \p kind. */
MTS_API const char *mts_rpt_logline_kind_str(enum mts_rpt_log_kind kind);

enum mts_rpt_log_time_kind {
  MTS_RPT_LOG_TIME_NONE = 0,    /* no time stamp (line starts with the tag) */
  MTS_RPT_LOG_TIME_RFC3164 = 1, /* local time, no year, no zone */
  MTS_RPT_LOG_TIME_ISO8601 = 2  /* with year; zone when has_offset */
};

struct mts_rpt_log_time {
  enum mts_rpt_log_time_kind kind;
  int year; /* 0 for RFC3164 */
  int month, day, hour, minute, second;
  long usec;       /* fraction, truncated to microseconds */
  bool has_offset; /* ISO 8601 with Z or +-hh[:]mm */
  int offset_min;  /* minutes east of UTC */
  int64_t utc;     /* seconds since the epoch when has_offset, else 0 */
};

enum mts_rpt_log_trust {
  MTS_RPT_LOG_TRUST_NONE = 0, /* not a summary */
  MTS_RPT_LOG_TRUST_ANONYMOUS = 1,
  MTS_RPT_LOG_TRUST_UNTRUSTED = 2,
  MTS_RPT_LOG_TRUST_TRUSTED = 3,
  MTS_RPT_LOG_TRUST_VERIFIED = 4
};

/* What the line says about the session's TLS (RFC 8460 terms). */
enum mts_rpt_log_outcome {
  MTS_RPT_LOG_TLS_UNKNOWN = 0,    /* nothing (e.g. status=sent alone) */
  MTS_RPT_LOG_TLS_OK = 1,         /* Verified summary; TLSRPT success */
  MTS_RPT_LOG_TLS_UNVERIFIED = 2, /* TLS up, name not matched: Trusted/
                                     Untrusted/Anonymous summary */
  MTS_RPT_LOG_TLS_FAILED = 3,     /* result_type (+ failure_reason) */
  MTS_RPT_LOG_TLS_LOCAL = 4       /* local TLS problem: not reportable */
};

/* One event. Strings are NULL when the line has no such field. */
struct mts_rpt_log_event {
  enum mts_rpt_log_kind kind;
  const char *malformed; /* MALFORMED: static reason */
  struct mts_rpt_log_time time;
  const char *hostname;    /* syslog host field */
  const char *syslog_name; /* tag before the last "/": "postfix/relay" */
  const char *program;     /* tag after the last "/": "smtp" */
  long pid;                /* -1 when no tag */
  const char *queue_id;    /* STATUS, NONFINAL */
  const char *recipient;   /* STATUS: inside to=<...> */
  const char *recipient_domain; /* after the last "@", lower case */
  const char *host;  /* MX host name: relay=, H of H[A]:P, receiving_mx */
  const char *addr;  /* its IP address text */
  unsigned port;     /* 0 when not logged */
  const char *nexthop; /* SESSION_LOOKUP next hop; TLSRPT domain= */
  long conn_use;       /* STATUS conn_use=N; 0 when absent (first use) */
  const char *dsn;     /* STATUS */
  const char *status;  /* STATUS: "sent", "deferred", "bounced", ... */
  const char *text;    /* STATUS (text); NONFINAL reason; the rest of
                          VERIFY_FAILED, SSL_CONNECT_ERROR, TLS_LIB_PROBLEM */
  const char *tls_features; /* STATUS tls= (Postfix 3.11+) */
  enum mts_rpt_log_trust trust; /* TLS_SUMMARY */
  bool reused;               /* TLS_SUMMARY "reused" (tlsproxy cache) */
  const char *protocol;      /* TLS_SUMMARY: "TLSv1.3" */
  const char *cipher;        /* TLS_SUMMARY */
  enum mts_rpt_log_outcome outcome;
  const char *result_type;    /* FAILED: RFC 8460 4.3 string; NULL for an
                                 unknown 3.10 failure_type */
  const char *failure_reason; /* FAILED: failure-reason-code, or NULL */
  bool provisional; /* FAILED from a fallback that earlier lines of the
                       same session refine ("Server certificate not
                       verified" -> the VERIFY_FAILED line, or Trusted ->
                       certificate-host-mismatch) */
  const char *detail; /* diagnostics not for the report: the OpenSSL reason
                         of TLS_LIB_PROBLEM, the server reply of a refused
                         STARTTLS */
};

struct mts_rpt_logline;

/*!
 * Classify one log line.
 * \param[in] ctx   the context (allocator).
 * \param[in] line  \p len bytes, one line, with or without its LF/CRLF;
 *                  need not be NUL-terminated; not kept. A NUL byte or
 *                  more than MTS_RPT_LOGLINE_MAX bytes make it MALFORMED.
 * \param[out] out  the result (destroy with mts_rpt_logline_destroy()),
 *                  NULL on failure.
 * \return MTS_OK; MTS_ENOMEM; MTS_EINVAL when ctx or out is NULL or line
 * is NULL with len > 0.
 */
MTS_API MTS_WUR enum mts_status
mts_rpt_logline_parse(struct mts_ctx *ctx, const uint8_t *line, size_t len,
                      struct mts_rpt_logline **out);
/*! Free \p ll. NULL is a no-op. */
MTS_API void mts_rpt_logline_destroy(struct mts_rpt_logline *ll);
/*! \return the event (borrowed from \p ll), or NULL for NULL. */
MTS_API const struct mts_rpt_log_event *
mts_rpt_logline_event(const struct mts_rpt_logline *ll);

#ifdef __cplusplus
}
#endif
#endif /* MTASTS_RPT_LOGLINE_H */
