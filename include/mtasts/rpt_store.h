/*
 * mtasts/rpt_store.h - the receiving side's report store (issue 7): the
 * RFC 8460 reports other senders send to a domain's `rua`, kept in one
 * SQLite file.
 *
 * Nothing received is lost: every input handed to mts_rpt_store_add()
 * is stored raw (the decompressed JSON, with where it came from), also
 * when it was rejected, until the operator prunes it
 * (mts_rpt_store_prune()); a usable report's rows are stored beside it
 * in the same transaction. Reports are de-duplicated by (report-id,
 * organization-name): a second copy is recorded as a duplicate of the
 * first and adds no rows.
 *
 * Days are UTC days (seconds since the epoch of 00:00Z). A report is
 * counted on the UTC day its date-range starts in.
 *
 * Thread safety: one store per thread. Errors: MTS_EIO for SQLite
 * failures (with a log line through the context), MTS_ENOMEM.
 */
#ifndef MTASTS_RPT_STORE_H
#define MTASTS_RPT_STORE_H

#include <mtasts/common.h>
#include <mtasts/rpt_report.h>

#ifdef __cplusplus
extern "C" {
#endif

struct mts_rpt_store;

/*!
 * Open (and create or migrate) the store at \p path.
 * \return MTS_OK; MTS_EIO with a logged reason (not a database, not a
 * report store, a newer schema, world-writable, cannot be written);
 * MTS_ENOMEM; MTS_EINVAL. *out is NULL on failure.
 */
MTS_API MTS_WUR enum mts_status
mts_rpt_store_open(struct mts_ctx *ctx, const char *path,
                   struct mts_rpt_store **out);
/*! Close \p st (NULL is a no-op). */
MTS_API void mts_rpt_store_close(struct mts_rpt_store *st);

enum mts_rpt_store_outcome {
  MTS_RPT_STORE_NEW = 0,       /* stored, rows added */
  MTS_RPT_STORE_DUPLICATE = 1, /* same report-id and organization seen */
  MTS_RPT_STORE_REJECTED = 2   /* not usable: raw kept, no rows */
};

/*!
 * Store one received report.
 * \param[in] report  the parse result of \p raw (usable or not); NULL when
 *                    the input could not even be decompressed.
 * \param[in] raw     the report bytes as decompressed (or as received
 *                    when \p report is NULL), \p rawlen bytes.
 * \param[in] source  where it came from: "file:PATH", "mail:<Message-ID>",
 *                    "https:ADDR"; kept for the operator.
 * \param[in] reason  why it was rejected when \p report is NULL (else NULL).
 * \param[out] outcome  what happened.
 * \return MTS_OK (also for a rejection: the raw input is kept); MTS_EIO;
 * MTS_ENOMEM; MTS_EINVAL.
 */
MTS_API MTS_WUR enum mts_status
mts_rpt_store_add(struct mts_rpt_store *st, const struct mts_rpt_report *report,
                  const uint8_t *raw, size_t rawlen, const char *source,
                  const char *reason, enum mts_rpt_store_outcome *outcome);

/* Per UTC day, policy domain and sending organisation. */
struct mts_rpt_summary_row {
  int64_t day; /* 00:00Z of the UTC day */
  const char *policy_domain;
  const char *organization;
  uint64_t reports;
  uint64_t successful;
  uint64_t failed;
};
/* Failures per UTC day, domain, organisation, result type and MX host. */
struct mts_rpt_failure_row {
  int64_t day;
  const char *policy_domain;
  const char *organization;
  const char *result_type;
  const char *receiving_mx_hostname; /* "" when the report gave none */
  uint64_t sessions;
};
/* Pointers in rows are valid during the callback only. A non-zero return
 * stops the iteration. */
typedef int (*mts_rpt_summary_fn)(const struct mts_rpt_summary_row *row,
                                  void *arg);
typedef int (*mts_rpt_failure_fn)(const struct mts_rpt_failure_row *row,
                                  void *arg);

/*!
 * Iterate the stored rows with day >= \p since (0: all), for \p domain
 * (NULL: all), ordered by day, domain, organisation (failures also by
 * result type and MX host). Either callback may be NULL.
 * Policy domains are stored lower-case without a trailing dot, and
 * \p domain is compared the same way ("Example.COM." matches). A report
 * with policies for several domains counts once in each domain's row.
 * \return MTS_OK; MTS_EIO; MTS_EINVAL (st NULL).
 */
MTS_API MTS_WUR enum mts_status
mts_rpt_store_summary(struct mts_rpt_store *st, const char *domain,
                      int64_t since, mts_rpt_summary_fn on_summary,
                      mts_rpt_failure_fn on_failure, void *arg);

/* The "enforce readiness" verdict of one policy domain. */
struct mts_rpt_readiness {
  const char *policy_domain;
  unsigned senders;   /* distinct organisations that reported */
  unsigned days;      /* distinct UTC days covered */
  uint64_t successful;
  uint64_t failed;
  bool ready;         /* thresholds met and no failure */
  const char *reason; /* why not ready (static text), NULL when ready */
};
typedef int (*mts_rpt_readiness_fn)(const struct mts_rpt_readiness *r,
                                    void *arg);

/*!
 * Readiness per domain over the window of \p window_days UTC days
 * ending with the day of \p now: ready when at least \p min_senders
 * organisations reported on at least \p min_days distinct days and no
 * session failed. \p domain NULL: every domain in the store, in name
 * order (also those with nothing in the window: "no reports in the
 * window"); a \p domain nobody reported about gets one call with zeros.
 * `reason` is the first of: "no reports in the window", "sessions failed
 * in the window", "too few sending organisations", "too few days with
 * reports". Failures of every policy type count.
 * \return MTS_OK; MTS_EIO; MTS_EINVAL (st or fn NULL, window_days 0).
 */
MTS_API MTS_WUR enum mts_status
mts_rpt_store_readiness(struct mts_rpt_store *st, const char *domain,
                        int64_t now, unsigned window_days,
                        unsigned min_senders, unsigned min_days,
                        mts_rpt_readiness_fn fn, void *arg);

/* ---- The raw inputs (h3 extension): every input ever added ---- */

/* One stored input. Pointers are valid during the callback only. */
struct mts_rpt_raw_row {
  int64_t id;       /* the row id, increasing in the order added */
  int64_t received; /* the context clock when it was added */
  const char *source;
  const char *sha256; /* of the bytes, 64 lower-case hex digits */
  enum mts_rpt_store_outcome outcome;
  const char *reason;        /* rejected: why; else NULL */
  const char *report_id;     /* as parsed; NULL when unknown */
  const char *organization;  /* as parsed; NULL when unknown */
  const char *findings_json; /* the parser's findings, a JSON array of
                                {code, severity, line, col, message} */
  unsigned warnings; /* warning findings */
  const uint8_t *bytes; /* NULL unless asked for with \p with_bytes */
  size_t len;           /* the size of the bytes (always set) */
};
typedef int (*mts_rpt_raw_fn)(const struct mts_rpt_raw_row *row, void *arg);

/* Bits for \p outcomes of mts_rpt_store_raw(). */
#define MTS_RPT_STORE_WANT(outcome) (1u << (unsigned)(outcome))

/*!
 * Iterate the stored inputs with received >= \p since (0: all) whose
 * outcome is in \p outcomes (a mask of MTS_RPT_STORE_WANT(); 0: all),
 * in the order they were added. \p with_bytes: hand out the bytes too.
 * A non-zero return of \p fn stops the iteration.
 * \return MTS_OK; MTS_EIO; MTS_EINVAL (st or fn NULL).
 */
MTS_API MTS_WUR enum mts_status
mts_rpt_store_raw(struct mts_rpt_store *st, int64_t since, unsigned outcomes,
                  bool with_bytes, mts_rpt_raw_fn fn, void *arg);

/*!
 * Count the inputs received at or after \p since (the context clock)
 * whose source starts with \p source_prefix ("https:"; NULL: every
 * source), and the sum of their sizes in bytes. The HTTPS receiver's
 * daily quota is read this way.
 * \return MTS_OK; MTS_EIO; MTS_EINVAL (st NULL). Both outputs may be NULL.
 */
MTS_API MTS_WUR enum mts_status
mts_rpt_store_usage(struct mts_rpt_store *st, int64_t since,
                    const char *source_prefix, uint64_t *inputs,
                    uint64_t *bytes);

/*!
 * Retention: delete every input received before \p before (the context
 * clock), and the reports parsed from them with their policies and
 * failures, in one transaction (all or nothing). This is the one way
 * anything leaves the store: summaries, readiness and the page no longer
 * count what was pruned. A duplicate received after \p before of a
 * pruned report stays, no longer linked to it. The file does not shrink
 * (SQLite reuses the freed pages for new inputs).
 * \param[out] inputs   raw inputs deleted (may be NULL)
 * \param[out] reports  reports deleted (may be NULL)
 * \return MTS_OK; MTS_EIO (nothing deleted); MTS_EINVAL (st NULL).
 */
MTS_API MTS_WUR enum mts_status
mts_rpt_store_prune(struct mts_rpt_store *st, int64_t before,
                    uint64_t *inputs, uint64_t *reports);

/*! \return the UTC day (00:00Z) of \p t: the day a report starting at
 *  \p t is counted on. */
MTS_API int64_t mts_rpt_store_day(int64_t t);

#ifdef __cplusplus
}
#endif
#endif /* MTASTS_RPT_STORE_H */
