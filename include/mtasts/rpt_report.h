/*
 * mtasts/rpt_report.h - the RFC 8460 aggregate report (section 4): one
 * data model shared by the sending side (issue 6 builds it from
 * aggregated sessions and writes it, see rpt_report_write.h) and the
 * receiving side (issue 7 parses what other senders send).
 *
 * The parser is tolerant where real senders deviate and strict where
 * data would be corrupted (RFC-CHECKLIST 2.2, 2.8; TLSRPT-NOTES 5):
 *  - tolerated, with a warning finding each: date-times without a zone
 *    (Microsoft; read as UTC), `mx-host` as a single string (RFC
 *    Appendix B), a missing or null `contact-info`, a missing
 *    `policy-string`, missing or empty `sending-mta-ip` (Google sends
 *    ""), `policies` given as one object instead of an array, unknown
 *    `policy-type` and `result-type` values (an info finding: the IANA
 *    registry grows), unknown keys (info);
 *  - rejected (error finding, report not usable): input that is not
 *    UTF-8 JSON, a top level that is not an object, duplicate member
 *    names (I-JSON), counts that are not non-negative integers (a string
 *    "5326", 1.5, -1, above 2^53), a missing `report-id`, a missing or
 *    unparsable `date-range`, start after end, no `policies`.
 * Findings use codes `report-*` (docs/findings.md); `line`/`col` are
 * jansson's for JSON syntax errors, else 0. In detail (docs/decisions.md
 * "TLS reports (RFC 8460 report format)"): a missing `policy-string` is
 * no finding for `no-policy-found`; any other optional string that is
 * "" or null is read as NULL with a warning, so "" is never handed out;
 * a known `policy-type`/`result-type` in another letter case ("STS") is
 * a warning; host names that are not A-labels and IPs that do not parse
 * are warnings (kept as sent); a missing or "" `policy-type`,
 * `policy-domain`, `summary`, `result-type` or `failed-session-count`
 * is an error, and so is an empty `policies` array.
 *
 * Two verdicts, as everywhere in the library:
 *  - valid:  exactly RFC 8460 (no warning, no error finding);
 *  - usable: no error finding; the rows may be stored and counted.
 *
 * Bounds: the input is at most MTS_RPT_REPORT_MAX bytes (larger input is
 * not parsed: one error finding), JSON nesting deeper than
 * MTS_RPT_REPORT_DEPTH and more than MTS_RPT_REPORT_MAX_TOKENS structural
 * characters are errors found by a linear scan before any JSON tree is
 * built (`report-too-deep`, `report-too-many-tokens`; not parsed), at
 * most MTS_RPT_REPORT_MAX_ITEMS policies + failure details + strings in
 * all. At most MTS_RPT_REPORT_MAX_FINDINGS findings are recorded; past
 * that one more, `report-findings-truncated`, says how many were left
 * out and has the worst severity among them, so valid and usable (and
 * any scan of the list for errors) are exactly as if all were kept.
 *
 * Ownership: everything handed out lives in the report's arena until
 * mts_rpt_report_destroy(). The JSON tree is built with malloc (jansson's
 * hooks are process-global) and freed before parse returns.
 * Thread safety: as common.h. Cost: linear in the input size.
 */
#ifndef MTASTS_RPT_REPORT_H
#define MTASTS_RPT_REPORT_H

#include <mtasts/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Largest report parsed (decompressed). Real daily reports of the
 * largest senders are a few hundred KiB; 32 MiB leaves room and bounds
 * a hostile upload. */
#define MTS_RPT_REPORT_MAX (32u * 1024u * 1024u)
/* Deepest JSON nesting accepted (a report needs 5). */
#define MTS_RPT_REPORT_DEPTH 32
/* Most policies + failure details + policy strings + mx hosts. Real
 * reports hold a handful; a few hundred KiB, the largest seen, is some
 * thousands (docs/decisions.md REP-10). */
#define MTS_RPT_REPORT_MAX_ITEMS 100000u
/* Most '{', '[' and ',' outside strings, counted before jansson builds
 * the tree: every JSON value and member but the first of each container
 * costs one, so this bounds the tree (measured: at most ~160 bytes per
 * token, ~65 MiB, plus copies of the strings). Real reports use 3 to 14
 * per item, ~7 in large ones: full failure details reach it at ~44,000
 * (~10 MB of JSON). */
#define MTS_RPT_REPORT_MAX_TOKENS (4u * MTS_RPT_REPORT_MAX_ITEMS)
/* Most findings recorded per report (then one report-findings-truncated). */
#define MTS_RPT_REPORT_MAX_FINDINGS 100u

/* One `failure-details` entry. Optional strings are NULL when absent. */
struct mts_rpt_failure {
  const char *result_type;           /* as sent (may be a future type) */
  const char *sending_mta_ip;        /* NULL when absent or "" */
  const char *receiving_mx_hostname;
  const char *receiving_mx_helo;
  const char *receiving_ip;
  uint64_t failed_session_count;
  const char *additional_information;
  const char *failure_reason_code;
};

/* One element of `policies`. */
struct mts_rpt_policy {
  const char *policy_type;   /* "sts", "tlsa", "no-policy-found", or as sent */
  const char *policy_domain; /* as sent (A-labels expected) */
  const char *const *policy_strings; /* in order */
  size_t npolicy_strings;
  bool has_policy_string;            /* the key was present */
  const char *const *mx_hosts;       /* `mx-host`, array or one string */
  size_t nmx_hosts;
  uint64_t total_successful; /* summary.total-successful-session-count */
  uint64_t total_failure;    /* summary.total-failure-session-count */
  const struct mts_rpt_failure *failures;
  size_t nfailures;
};

/* The whole report. Times are seconds since the epoch, UTC. */
struct mts_rpt_report_data {
  const char *organization_name;
  int64_t start; /* date-range.start-datetime */
  int64_t end;   /* date-range.end-datetime */
  bool start_had_zone, end_had_zone; /* false: read as UTC (a warning) */
  const char *contact_info; /* NULL when absent or null */
  const char *report_id;
  const struct mts_rpt_policy *policies;
  size_t npolicies;
};

struct mts_rpt_report;

/*!
 * Parse one report (JSON text, already decompressed).
 * \param[in] ctx   the context (allocator).
 * \param[in] data  \p len bytes; need not be NUL-terminated; not kept.
 * \param[out] out  the result whatever the verdict; NULL on failure.
 * \return MTS_OK; MTS_ENOMEM; MTS_EINVAL when ctx or out is NULL or data
 * is NULL with len > 0.
 */
MTS_API MTS_WUR enum mts_status
mts_rpt_report_parse(struct mts_ctx *ctx, const uint8_t *data, size_t len,
                     struct mts_rpt_report **out);
/*! Free \p r and everything borrowed from it. NULL is a no-op. */
MTS_API void mts_rpt_report_destroy(struct mts_rpt_report *r);
/*! \return the parsed data (never NULL for a non-NULL report; fields of
 *  an unusable report are what could be read, NULL/0 otherwise). */
MTS_API const struct mts_rpt_report_data *
mts_rpt_report_data(const struct mts_rpt_report *r);
/*! \return no warning or error finding (false for NULL). */
MTS_API bool mts_rpt_report_valid(const struct mts_rpt_report *r);
/*! \return no error finding (false for NULL). */
MTS_API bool mts_rpt_report_usable(const struct mts_rpt_report *r);
/*! \return the findings in the order found (NULL for NULL). */
MTS_API const struct mts_findings *
mts_rpt_report_findings(const struct mts_rpt_report *r);

#ifdef __cplusplus
}
#endif
#endif /* MTASTS_RPT_REPORT_H */
