/*
 * mtasts/rpt_agg.h - the sending side's TLS report store (RFC 8460 4;
 * issue 6): events (rpt_event.h) counted per UTC day, report domain
 * (the event's report_domain: the TLSRPT domain whose `_smtp._tls`
 * record names the recipients; the policy domain when NULL), TLSRPT
 * record, policy (type, policy domain, strings, mx hosts) and feeding
 * host, the reports built from them,
 * and the delivery state of every report to every `rua`.
 *
 * One SQLite file (WAL). Tables (schema version 1, application_id
 * "MTSR"):
 *  - meta(key, value): the store's random salt (report-id), and the
 *    report identity the daemon last wrote (organization-name,
 *    contact-info, submitter, sendmail) so `mtasts report` can send
 *    without a configuration file;
 *  - seen(session_id, source, day): the session ids already counted, for
 *    "one session counted once whichever inputs saw it": an event whose
 *    session_id was counted from ANOTHER source is dropped; events with
 *    the same id from the same source are all counted (a datagram with
 *    two policies gives two events with one id);
 *  - policies(day, domain = report domain, tlsrpt, policy_type,
 *    pdomain = policy domain, policy_key, host) with success and failure
 *    counts; policy_key encodes the policy strings
 *    and mx hosts (see rpt_agg.c), so two different policies of one
 *    domain on one day are two rows;
 *  - failures(policy row, detail_key, the detail fields, count): one row
 *    per distinct failure detail (result type, IPs, MX name, HELO,
 *    additional information, reason code);
 *  - reports(day, domain): the report-id, the frozen JSON (the first
 *    delivery attempt freezes it so every rua and every retry gets the
 *    same bytes), the discovery state of the domain's `_smtp._tls`
 *    record and when to look again;
 *  - deliveries(day, domain, rua): pending/sent/failed, attempts, first
 *    and next attempt, last error, and a lease (owner host + expiry).
 *
 * Several MTA hosts as one organisation: every host may write events to
 * one shared store (the host column records who fed a row), a report
 * sums all hosts, and a delivery is sent by whichever host claims it:
 * mts_rpt_agg_claim() takes the lease in one transaction only when no
 * other host holds an unexpired one, so one report per (day, domain,
 * rua) leaves. This works for SQLite on one machine (several processes);
 * SQLite on a network file system is NOT advised (its locking is not
 * reliable there). Hosts on several machines share through Redis
 * instead: each keeps this store locally and mtasts-tlsrptd pushes its
 * per-day reports to Redis, where one host merges them (rpt_merge.h,
 * docs/decisions.md "a fleet sharing Redis"). PostgreSQL is not
 * implemented.
 *
 * Days are UTC: day(t) = floor(t / 86400) * 86400, so 23:59:59Z counts
 * on its day and 00:00:00Z on the next.
 *
 * Thread safety: one store per thread (the handle holds one SQLite
 * connection). Errors: MTS_EIO for SQLite failures (a log line through
 * the context says which), MTS_ENOMEM, MTS_EINVAL for bad arguments.
 * All memory handed out goes through the context's allocator.
 */
#ifndef MTASTS_RPT_AGG_H
#define MTASTS_RPT_AGG_H

#include <mtasts/common.h>
#include <mtasts/rpt_event.h>
#include <mtasts/rpt_report.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MTS_RPT_DAY 86400
/*! \return 00:00:00Z of the UTC day holding \p t (also for t < 0). */
MTS_API int64_t mts_rpt_agg_day(int64_t t);
/*! Write \p day as "YYYY-MM-DD" into \p buf (>= 11 bytes). */
MTS_API void mts_rpt_agg_day_str(int64_t day, char buf[static 11]);
/*! Parse "YYYY-MM-DD" into 00:00:00Z of that day. \return MTS_OK or
 *  MTS_EINVAL. */
MTS_API MTS_WUR enum mts_status mts_rpt_agg_day_parse(const char *s,
                                                     int64_t *day);

struct mts_rpt_agg;

/*!
 * Open (create) the store at \p path. \p host names this host in rows
 * it writes and leases it takes (e.g. the host name; 1-255 printable
 * ASCII). A new file is created with mode 0600; a world-writable file is
 * refused.
 * \return MTS_OK; MTS_EIO (cannot open, not our database, newer schema);
 * MTS_ENOMEM; MTS_EINVAL.
 */
MTS_API MTS_WUR enum mts_status mts_rpt_agg_open(struct mts_ctx *ctx,
                                                 const char *path,
                                                 const char *host,
                                                 struct mts_rpt_agg **out);
/*! Close \p agg (NULL is a no-op). */
MTS_API void mts_rpt_agg_close(struct mts_rpt_agg *agg);

/*!
 * Count one event (one transaction). \p counted (may be NULL) is false
 * when it was dropped as a duplicate of a session counted from another
 * source. The event's policy domain must be a lower-case A-label;
 * policy strings, mx hosts and failure strings are copied. Each failure
 * counts 1 (its failed_session_count is ignored).
 * \return MTS_OK; MTS_EINVAL (NULL, no domain, unknown source); MTS_EIO;
 * MTS_ENOMEM.
 */
MTS_API MTS_WUR enum mts_status mts_rpt_agg_add(struct mts_rpt_agg *agg,
                                                const struct mts_rpt_event *ev,
                                                bool *counted);

/*! Delete everything about days before \p before_day (events, seen
 *  ids, reports, deliveries). \return MTS_OK or MTS_EIO. */
MTS_API MTS_WUR enum mts_status mts_rpt_agg_prune(struct mts_rpt_agg *agg,
                                                  int64_t before_day);

/* ---- settings kept in the store ---- */

/*! Store \p value (NULL deletes) under \p key. */
MTS_API MTS_WUR enum mts_status mts_rpt_agg_set(struct mts_rpt_agg *agg,
                                                const char *key,
                                                const char *value);
/*! \return in *value a copy (free with mts_rpt_agg_free) or NULL when
 *  unset. */
MTS_API MTS_WUR enum mts_status mts_rpt_agg_get(struct mts_rpt_agg *agg,
                                                const char *key,
                                                char **value);
/*! Free memory handed out by this module (NULL is a no-op). */
MTS_API void mts_rpt_agg_free(struct mts_rpt_agg *agg, void *p);

/* ---- what is stored ---- */

/* One (day, report domain) with its totals over all policies and hosts.
 * Below, "domain" is always the report domain. */
struct mts_rpt_agg_day_row {
  int64_t day;
  const char *domain;
  uint64_t successful, failed;
  size_t npolicies; /* distinct policies */
  size_t nhosts;    /* distinct feeding hosts */
  const char *report_state; /* NULL: no report yet; else as reports.state */
};

/*! Callback per row; return false to stop. Borrowed for the call. */
typedef bool (*mts_rpt_agg_day_fn)(void *arg,
                                   const struct mts_rpt_agg_day_row *row);
/*!
 * List the (day, domain) pairs with events, ordered by day then domain.
 * \p day: only that day, or -1 for all; \p domain: only that domain or
 * NULL. \return MTS_OK; MTS_EIO; MTS_ENOMEM.
 */
MTS_API MTS_WUR enum mts_status mts_rpt_agg_days(struct mts_rpt_agg *agg,
                                                 int64_t day,
                                                 const char *domain,
                                                 mts_rpt_agg_day_fn fn,
                                                 void *arg);

/* ---- reports ---- */

struct mts_rpt_agg_identity {
  const char *organization_name; /* required */
  const char *contact_info;      /* required: addr-spec */
  const char *submitter;         /* required: A-label; the report-id's
                                    right part and the file name's sender */
};

/* A built report: data borrowed from it until mts_rpt_agg_report_destroy. */
struct mts_rpt_agg_report;

/*!
 * Build the report of (\p day, report domain \p domain): every policy
 * counted for the domain that day (over all TLSRPT records and hosts) in
 * one report, ordered by policy type, policy domain, policy key (events
 * of an unknown policy type are kept but cannot be reported); failure details ordered by result
 * type then detail. date-range = day 00:00:00Z to 23:59:59Z;
 * report-id = "YYYY-MM-DD.<domain>.<16 hex of the store's salt>@
 * <submitter>" (stable for one store, so retries and every rua carry the
 * same id; unique across days, domains and stores). Only sessions
 * count: a failure session adds 1 to total-failure-session-count
 * whatever its details (a testing-mode session that failed validation is
 * a failure).
 * \return MTS_OK; MTS_ENOTFOUND (no events); MTS_EINVAL; MTS_EIO;
 * MTS_ENOMEM.
 */
MTS_API MTS_WUR enum mts_status
mts_rpt_agg_report_build(struct mts_rpt_agg *agg, int64_t day,
                         const char *domain,
                         const struct mts_rpt_agg_identity *id,
                         struct mts_rpt_agg_report **out);
MTS_API const struct mts_rpt_report_data *
mts_rpt_agg_report_data(const struct mts_rpt_agg_report *r);
MTS_API void mts_rpt_agg_report_destroy(struct mts_rpt_agg_report *r);

/*!
 * The JSON that goes out for (\p day, \p domain): the frozen copy when
 * there is one, else built now (mts_rpt_agg_report_build + the writer);
 * with \p freeze the built copy is stored so later calls return the same
 * bytes. *json is NUL-terminated; free it with mts_rpt_agg_free.
 * \return as mts_rpt_agg_report_build.
 */
MTS_API MTS_WUR enum mts_status
mts_rpt_agg_report_json(struct mts_rpt_agg *agg, int64_t day,
                        const char *domain,
                        const struct mts_rpt_agg_identity *id, bool freeze,
                        char **json, size_t *len);

/* ---- per (day, domain): discovery of the rua ---- */

enum mts_rpt_agg_rstate {
  MTS_RPT_AGG_R_WAIT = 0,    /* record not looked up yet (next_at) */
  MTS_RPT_AGG_R_PLANNED = 1, /* deliveries planned */
  MTS_RPT_AGG_R_NORUA = 2,   /* no usable _smtp._tls record */
  MTS_RPT_AGG_R_OPTOUT = 3,  /* not reported by local choice */
  MTS_RPT_AGG_R_GAVEUP = 4   /* lookups failed for 24 h */
};
/*! \return "wait", "planned", "norua", "optout", "gaveup". */
MTS_API const char *mts_rpt_agg_rstate_str(enum mts_rpt_agg_rstate s);

/*!
 * Schedule (day, domain) pairs of days before \p today that have events
 * and no reports row yet: state WAIT with next_at = *\p first_at_fn
 * (called per pair; typically day end + a random spread). Returns the
 * number scheduled in *n (may be NULL).
 */
typedef int64_t (*mts_rpt_agg_first_at_fn)(void *arg, int64_t day,
                                           const char *domain);
MTS_API MTS_WUR enum mts_status
mts_rpt_agg_schedule(struct mts_rpt_agg *agg, int64_t today,
                     mts_rpt_agg_first_at_fn first_at_fn, void *arg,
                     size_t *n);

struct mts_rpt_agg_pending {
  int64_t day;
  const char *domain;
  const char *rua;   /* NULL for a WAIT report row (look the record up) */
  uint32_t attempts; /* so far */
  int64_t first_at;  /* first attempt (0: none yet) */
  int64_t next_at;
};
typedef bool (*mts_rpt_agg_pending_fn)(void *arg,
                                       const struct mts_rpt_agg_pending *p);
/*!
 * Call \p fn for every report row in state WAIT with next_at <= \p now
 * (rua NULL) and every pending delivery with next_at <= \p now, in that
 * order, by next_at. Entries are borrowed for the call; the store may be
 * changed from inside \p fn. \p now < 0 lists all regardless of time.
 */
MTS_API MTS_WUR enum mts_status
mts_rpt_agg_due(struct mts_rpt_agg *agg, int64_t now, mts_rpt_agg_pending_fn fn,
                void *arg);

/*!
 * Record the outcome of looking up (day, domain)'s record: \p state
 * PLANNED with \p ruas (n >= 1; each gets a pending delivery due at
 * \p now; existing rows are kept), NORUA, OPTOUT, GAVEUP; or WAIT again
 * with \p next_at (a temporary DNS failure). \p why is kept as the last
 * error (may be NULL). A missing report row is created.
 */
MTS_API MTS_WUR enum mts_status
mts_rpt_agg_set_rstate(struct mts_rpt_agg *agg, int64_t day, const char *domain,
                       enum mts_rpt_agg_rstate state, const char *const *ruas,
                       size_t n, int64_t now, int64_t next_at, const char *why);

/* ---- per (day, domain, rua): delivery with a lease ---- */

/*!
 * Take the lease of delivery (day, domain, rua) for this store's host
 * until \p now + \p lease_s, in one IMMEDIATE transaction: granted
 * (*claimed true) when the delivery is pending and no other host holds
 * an unexpired lease (an expired one is taken over; our own is renewed).
 * \return MTS_OK (check *claimed); MTS_ENOTFOUND (no such delivery);
 * MTS_EIO.
 */
MTS_API MTS_WUR enum mts_status
mts_rpt_agg_claim(struct mts_rpt_agg *agg, int64_t day, const char *domain,
                  const char *rua, int64_t now, int64_t lease_s,
                  bool *claimed);

/*!
 * Record one delivery attempt at \p now and release the lease: \p ok
 * marks it sent; otherwise attempts+1, last error \p err, and pending
 * again at \p next_at, or failed when \p next_at is 0 (gave up). The
 * first attempt's time is kept (first_at), for the 24 h limit.
 */
MTS_API MTS_WUR enum mts_status
mts_rpt_agg_attempt(struct mts_rpt_agg *agg, int64_t day, const char *domain,
                    const char *rua, int64_t now, bool ok, const char *err,
                    int64_t next_at);

/* One delivery row, for operators. */
struct mts_rpt_agg_delivery {
  int64_t day;
  const char *domain;
  const char *rua;
  const char *state; /* "pending", "sent", "failed" */
  uint32_t attempts;
  int64_t first_at, next_at, done_at;
  const char *last_error; /* NULL when none */
  const char *lease_owner; /* NULL when none */
  int64_t lease_until;
};
typedef bool (*mts_rpt_agg_delivery_fn)(void *arg,
                                        const struct mts_rpt_agg_delivery *d);
/*! List deliveries (filters as mts_rpt_agg_days). */
MTS_API MTS_WUR enum mts_status
mts_rpt_agg_deliveries(struct mts_rpt_agg *agg, int64_t day, const char *domain,
                       mts_rpt_agg_delivery_fn fn, void *arg);

#ifdef __cplusplus
}
#endif
#endif /* MTASTS_RPT_AGG_H */
