/*
 * mtasts/rpt_deliver.h - delivering an RFC 8460 report (section 5): the
 * report mail (5.3) handed to the local MTA's sendmail, the HTTPS POST
 * (5.4), and the retry schedule (4.1, 5.5).
 *
 * Mail: multipart/report; report-type="tlsrpt", first part text/plain
 * (a human-readable summary), second part application/tlsrpt+gzip in
 * base64 with the RFC 5.1 file name; header fields From, To, Date,
 * Message-ID, Subject (the tlsrpt-subject ABNF exactly), TLS-Report-
 * Domain, TLS-Report-Submitter, TLS-Required: No (RFC 8689: the report
 * is delivered even when TLS fails, 8460 3), MIME-Version. The message
 * goes to the local MTA (`sendmail -oi -f FROM -- RCPT`, no shell) so it
 * signs it with DKIM (8460 3 MUST, done by the MTA, not here).
 *
 * HTTPS: POST with Content-Type application/tlsrpt+gzip; 2xx is
 * delivered, anything else (redirects are not followed) a failure to
 * retry. Certificate verification is on unless the caller turns it off
 * (8460 3: submitters MAY ignore certificate errors).
 *
 * The two transports block (bounded by their timeouts): run them off an
 * event loop's thread. Thread safety: as common.h (give each thread its
 * own context). Memory through the context's allocator.
 */
#ifndef MTASTS_RPT_DELIVER_H
#define MTASTS_RPT_DELIVER_H

#include <mtasts/common.h>
#include <mtasts/rpt_report.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the mail ---- */

struct mts_rpt_mail {
  const char *from;       /* From: and envelope sender (addr-spec) */
  const char *to;         /* To: and envelope recipient (addr-spec) */
  const char *submitter;  /* TLS-Report-Submitter (A-label); must equal
                             the domain of the report's contact-info */
  const char *report_domain; /* TLS-Report-Domain, the Subject's and the
                             file name's domain; NULL: the first policy's
                             policy-domain */
  const char *message_id; /* Message-ID without <> (id-left@id-right) */
  int64_t date;           /* Date: (UTC seconds) */
  const char *boundary;   /* MIME boundary, 1-70 of [A-Za-z0-9._=-] */
  const struct mts_rpt_report_data *report; /* the report (for the
                             Subject, the text part and the file name) */
  const uint8_t *gz;      /* the gzip report */
  size_t gzlen;
};

/*!
 * Build the message (CRLF line ends; lines at most 78 octets except the
 * Subject, folded at its spaces). The file name is
 * "<submitter>!<report domain>!<start>!<end>.json.gz" (end = the
 * report's end-datetime in seconds).
 * \return MTS_OK with *msg (free with mts_rpt_deliver_free) and *len;
 * MTS_EINVAL: a missing field, header injection (CR, LF or a non-ASCII
 * byte in a header value), a report-id that is not id-left "@" id-right
 * (RFC 5322 dot-atom-text, at most 512 octets; also the Message-ID), a
 * submitter other than contact-info's
 * domain (RFC 8460 5.3 MUST), a report without policies; MTS_ENOMEM.
 */
MTS_API MTS_WUR enum mts_status
mts_rpt_deliver_mail_build(struct mts_ctx *ctx, const struct mts_rpt_mail *m,
                           char **msg, size_t *len);

/*! The Subject value (tlsrpt-subject, unfolded) into \p buf.
 * \return MTS_OK; MTS_ETOOBIG; MTS_EINVAL as above. */
MTS_API MTS_WUR enum mts_status
mts_rpt_deliver_subject(const char *policy_domain, const char *submitter,
                        const char *report_id, char *buf, size_t size);

/*! The address of a `mailto:` rua URI: percent-decoded, any `?query`
 *  dropped; must be local@domain with no space, control (`%00`
 *  included), `<>`, `,` or `"`. \return MTS_OK; MTS_EINVAL;
 *  MTS_ETOOBIG. */
MTS_API MTS_WUR enum mts_status mts_rpt_deliver_mailto(const char *uri,
                                                       char *buf, size_t size);

/*! \return the domain part of addr-spec \p addr (after the last '@'),
 *  or NULL. */
MTS_API const char *mts_rpt_deliver_addr_domain(const char *addr);

/*!
 * Pipe \p msg to \p command (whitespace-separated words, no shell;
 * e.g. "/usr/sbin/sendmail -oi") with "-f FROM -- RCPT" appended;
 * fork/exec, the message on stdin, kill after \p timeout_ms. Success is
 * exit status 0. \p err (may be NULL) receives a reason on failure
 * (the first line the command printed, or the exit status).
 * \return MTS_OK; MTS_EIO (could not run, non-zero exit, killed);
 * MTS_ETIMEOUT; MTS_EINVAL (empty command, FROM or RCPT starting
 * with '-'); MTS_ENOMEM.
 */
MTS_API MTS_WUR enum mts_status
mts_rpt_deliver_sendmail(struct mts_ctx *ctx, const char *command,
                         const char *from, const char *rcpt, const char *msg,
                         size_t len, uint32_t timeout_ms, char *err,
                         size_t errsize);

/* ---- HTTPS ---- */

struct mts_rpt_post_options {
  const char *ca_file;     /* NULL: system trust store */
  bool insecure;           /* do not verify the certificate (8460 3 MAY) */
  uint32_t timeout_ms;     /* whole request; 0: 60000 */
  const char *user_agent;  /* NULL: "mtasts-tlsrpt" */
};

/*!
 * POST \p body (gzip) to \p url (https: only) as application/tlsrpt+gzip.
 * *status gets the HTTP status (0 when none). \return MTS_OK (2xx);
 * MTS_EHTTP (another status, redirects included); MTS_ETLS;
 * MTS_ECONNECT; MTS_ETIMEOUT; MTS_EINVAL (not an https URL); MTS_EIO.
 */
MTS_API MTS_WUR enum mts_status
mts_rpt_deliver_https(struct mts_ctx *ctx, const char *url,
                      const struct mts_rpt_post_options *o,
                      const uint8_t *body, size_t len, long *status,
                      char *err, size_t errsize);

/* ---- one report to one rua ---- */

struct mts_rpt_deliver_config {
  const char *from;      /* report mail sender (addr-spec) */
  const char *submitter; /* = contact-info's domain */
  const char *sendmail;  /* command; NULL: "/usr/sbin/sendmail -oi" */
  uint32_t sendmail_timeout_ms; /* 0: 60000 */
  struct mts_rpt_post_options post;
  const char *dry_run_dir; /* non-NULL: write files there, send nothing */
  /* Recipient domains never mailed (e.g. our own, to avoid report loops). */
  const char *const *exclude_domains;
  size_t nexclude;
  int64_t now;  /* the Date: header */
  uint64_t rnd; /* Message-ID and MIME boundary */
};

/*!
 * Deliver the report \p json (as stored: the JSON text) of
 * \p report_domain (NULL: its first policy's domain) to \p rua: it is
 * parsed (mts_rpt_report_parse; an unusable report is refused) and
 * written again as gzip; `mailto:` builds the mail and pipes it to
 * sendmail, `https:` POSTs it. With dry_run_dir, the gzip file is written
 * there under its RFC 8460 5.1 name (0644) and, for mailto:, the whole
 * message as "<name>.<rcpt>.eml"; for https:, "<name>.https" holds the
 * URL. \p err receives a reason on failure.
 * \return MTS_OK (delivered / written); MTS_EINVAL: permanent (the URI
 * is not mailto:/https: or malformed, the recipient's domain is
 * excluded, the report is not usable): do not retry; any other status is
 * temporary (retry later).
 */
MTS_API MTS_WUR enum mts_status
mts_rpt_deliver_report(struct mts_ctx *ctx,
                       const struct mts_rpt_deliver_config *cfg,
                       const char *report_domain, const char *rua,
                       const char *json, size_t len, char *err,
                       size_t errsize);

/*! Free what this module handed out (NULL is a no-op). */
MTS_API void mts_rpt_deliver_free(struct mts_ctx *ctx, void *p);

/* ---- when ---- */

/*! The first attempt for a report of \p day: day end + \p rnd mod
 *  (\p window_s + 1) (RFC 8460 4.1: "after some delay"; default window
 *  MTS_RPT_SEND_WINDOW). */
#define MTS_RPT_SEND_WINDOW (4 * 3600)
MTS_API int64_t mts_rpt_deliver_first_at(int64_t day, uint32_t window_s,
                                         uint64_t rnd);

/*!
 * The next attempt after failed attempt number \p attempts (1 = the
 * first failed) made at \p now, the first attempt having been at
 * \p first_at: base 5 min doubling per attempt, capped at 4 h, plus a
 * jitter of rnd mod (delay / 4 + 1); 0 (give up) when it would fall more
 * than 24 h after \p first_at (RFC 8460 5.5).
 */
#define MTS_RPT_RETRY_BASE 300
#define MTS_RPT_RETRY_CAP (4 * 3600)
#define MTS_RPT_RETRY_LIMIT 86400
MTS_API int64_t mts_rpt_deliver_next_attempt(int64_t first_at, int64_t now,
                                             uint32_t attempts, uint64_t rnd);

/*!
 * Free the per-thread state an HTTPS delivery left on the calling thread
 * (OpenSSL keeps an error queue and random-number state per thread,
 * released only when the thread exits). Call it on a long-lived worker
 * thread (a libuv pool thread lives as long as the process) after its
 * deliveries; harmless elsewhere: the state is made again when needed.
 */
MTS_API void mts_rpt_deliver_thread_done(void);

#ifdef __cplusplus
}
#endif
#endif /* MTASTS_RPT_DELIVER_H */
