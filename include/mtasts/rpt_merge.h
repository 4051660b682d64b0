/*
 * mtasts/rpt_merge.h - merge several RFC 8460 reports about the same
 * UTC day and report domain (one per MTA host of one organisation) into
 * the one report that goes out (issue 6: "one report per day comes out,
 * not one per host"; docs/decisions.md "TLS reports: a fleet sharing
 * Redis").
 *
 * Rules:
 *  - two policies are the same when policy_type, policy_domain, the
 *    policy strings (in order) and the mx hosts (in order) are equal
 *    (byte-wise; NULL equals only NULL); their total_successful and
 *    total_failure are summed; has_policy_string is true when any input
 *    had it;
 *  - within a merged policy, two failure details are the same when
 *    result_type, sending_mta_ip, receiving_mx_hostname,
 *    receiving_mx_helo, receiving_ip, additional_information and
 *    failure_reason_code are equal; their failed_session_count are
 *    summed;
 *  - order is deterministic: policies in order of first appearance
 *    (reports in the order given, policies in report order), details of
 *    a policy likewise;
 *  - the identity (organization_name, contact_info, report_id) and the
 *    date range (start, end, *_had_zone) are the first report's, unless
 *    \p ovr overrides them. The date ranges of the others are NOT
 *    checked: the caller groups reports by (day, report domain);
 *  - sums saturate at MTS_RPT_MERGE_COUNT_MAX (2^53, the largest count
 *    I-JSON and the writer accept; an input count above it counts as
 *    2^53), and mts_rpt_merge_saturated() then says so. Saturation is
 *    not an error: a daily count of 2^53 sessions cannot happen, and a
 *    report that is wrong in one count is better than none.
 *
 * Cost: linear in the total number of policies, strings and details
 * (hash tables). Ownership: every string of the result is copied into
 * the result's arena; the inputs may be destroyed right after the call.
 * Thread safety: as common.h.
 */
#ifndef MTASTS_RPT_MERGE_H
#define MTASTS_RPT_MERGE_H

#include <mtasts/common.h>
#include <mtasts/rpt_report.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Largest summed count: 2^53. */
#define MTS_RPT_MERGE_COUNT_MAX UINT64_C(9007199254740992)

/* What replaces the first report's identity; NULL members keep it. */
struct mts_rpt_merge_override {
  const char *organization_name;
  const char *contact_info;
  const char *report_id;
};

struct mts_rpt_merge;

/*!
 * Merge \p n >= 1 reports.
 * \param[in] ctx   the context (allocator).
 * \param[in] reps  \p n non-NULL reports; not kept.
 * \param[in] ovr   identity to set (may be NULL: keep the first's).
 * \param[out] out  the merged report; NULL on failure.
 * \return MTS_OK; MTS_ENOMEM; MTS_EINVAL (ctx, reps or out NULL, n 0, a
 * NULL report, a policy or detail array NULL with a count > 0).
 */
MTS_API MTS_WUR enum mts_status
mts_rpt_merge(struct mts_ctx *ctx,
              const struct mts_rpt_report_data *const *reps, size_t n,
              const struct mts_rpt_merge_override *ovr,
              struct mts_rpt_merge **out);
/*! \return the merged data (NULL for NULL), borrowed from \p m. */
MTS_API const struct mts_rpt_report_data *
mts_rpt_merge_data(const struct mts_rpt_merge *m);
/*! \return true when a sum was capped at MTS_RPT_MERGE_COUNT_MAX. */
MTS_API bool mts_rpt_merge_saturated(const struct mts_rpt_merge *m);
/*! Free \p m and everything borrowed from it. NULL is a no-op. */
MTS_API void mts_rpt_merge_destroy(struct mts_rpt_merge *m);

#ifdef __cplusplus
}
#endif
#endif /* MTASTS_RPT_MERGE_H */
