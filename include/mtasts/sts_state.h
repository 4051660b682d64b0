/*
 * mtasts/sts_state.h - the cache and refresh rules of RFC 8461 as a pure
 * state machine (sections 3.1 note, 3.3, 5.1, 10.2).
 *
 * The caller keeps one struct mts_sts_entry per Policy Domain (in memory,
 * SQLite or Redis) and asks these functions what to do; they never do
 * I/O and take the time as an argument, so tests move the clock instead
 * of sleeping. The policy body itself is stored by the caller next to
 * the entry.
 *
 * Rules (docs/decisions.md has the ambiguous ones):
 *  - A valid (unexpired) cached policy is applied when the TXT record is
 *    missing, invalid or unreachable, and when a fetch fails (3.3).
 *  - An expired cached policy is never applied, but stays stored: the
 *    absence of the TXT record alone does not remove it (10.2), and a
 *    later fetch replaces it.
 *  - With no valid cache and a TXT lookup that failed temporarily
 *    (AMBIG-TXT-3) nothing is fetched (there is no id) and nothing is
 *    applied; the caller decides by configuration whether to answer
 *    TEMP or "no policy".
 *  - A TXT id different from the cached one triggers a fetch (3.1);
 *    ids are compared for inequality only, case-sensitively.
 *  - Only a successful fetch sets fetched_at (AMBIG-CACHE-1): an
 *    unchanged id never extends the expiry.
 *  - After a failed fetch for an id, no new fetch for that same id for
 *    MTS_STS_FETCH_BACKOFF seconds (3.3, SHOULD); another id may be
 *    fetched at once.
 *  - max_age 0 is applied to the delivery at hand but not kept
 *    (AMBIG-POL-5).
 *  - mode none is kept (so a retired policy replaces an enforce one) and
 *    means "no active policy" (5, 8.3): apply_cached then tells the
 *    caller to apply "none", i.e. deliver as without MTA-STS.
 *
 * The caller stores the entry even when has_policy is false: it carries
 * the backoff record of a failed first fetch (C11). Only the last failed
 * id is remembered.
 *
 * Thread safety: the functions touch only the entry they are given.
 */
#ifndef MTASTS_STS_STATE_H
#define MTASTS_STS_STATE_H

#include <mtasts/common.h>
#include <mtasts/limits.h>
#include <mtasts/sts_policy.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Minimum wait after a failed fetch before fetching the same id again. */
#define MTS_STS_FETCH_BACKOFF 300
/* Longest id (RFC 8461 3.1: 1*32 alphanumerics). */
#define MTS_STS_ID_MAX MTS_STS_ID_LEN_MAX

/* What the caller learned from the `_mta-sts` TXT lookup. */
enum mts_sts_txt_outcome {
  MTS_STS_TXT_OUT_VALID = 0,    /* exactly one valid record with an id */
  MTS_STS_TXT_OUT_ABSENT = 1,   /* NXDOMAIN, NODATA, or no STS record */
  MTS_STS_TXT_OUT_INVALID = 2,  /* several STS records, or bad syntax */
  MTS_STS_TXT_OUT_TEMPFAIL = 3  /* SERVFAIL, timeout, network error */
};

/* The cached state for one Policy Domain. Plain data: copy it freely. */
struct mts_sts_entry {
  bool has_policy;            /* a policy is cached */
  char id[MTS_STS_ID_MAX + 1];/* id of the cached policy ("" if none) */
  enum mts_sts_mode mode;     /* mode of the cached policy */
  int64_t max_age;            /* its max_age, seconds */
  int64_t fetched_at;         /* time of the last successful fetch */
  char failed_id[MTS_STS_ID_MAX + 1]; /* id of the last failed fetch
                                         ("" : none failed) */
  int64_t failed_at;          /* when it failed (meaningful only when
                                 failed_id is not "") */
};

/* What to do after a TXT lookup. */
struct mts_sts_decision {
  bool fetch;        /* fetch the policy over HTTPS now */
  bool apply_cached; /* apply the cached policy (now, and if the fetch fails) */
};

/*! Initialise \p e as "nothing cached". */
MTS_API void mts_sts_entry_init(struct mts_sts_entry *e);

/*! \return true when \p e holds a policy that has not expired at \p now
 *  (now < fetched_at + max_age). */
MTS_API bool mts_sts_entry_valid(const struct mts_sts_entry *e, int64_t now);

/*! \return the expiry time of the cached policy (fetched_at + max_age),
 *  or 0 when nothing is cached. */
MTS_API int64_t mts_sts_entry_expires(const struct mts_sts_entry *e);

/*!
 * Decide what to do after the TXT lookup for this domain.
 *  - apply_cached is true exactly when the entry is valid at \p now.
 *  - fetch is true only for a VALID TXT whose id differs from the cached
 *    one, or whose cache has expired or is absent, and which is not in
 *    its backoff window (mts_sts_state_may_fetch()).
 * If the fetch fails the caller applies the cached policy when
 * apply_cached is set, and otherwise delivers as without MTA-STS.
 * \param txt_id  the id from the TXT record when \p txt is
 *                MTS_STS_TXT_OUT_VALID, else ignored (may be NULL). A
 *                VALID outcome with a NULL, empty or over-long id is
 *                treated as INVALID.
 */
MTS_API void mts_sts_state_decide(const struct mts_sts_entry *e,
                                  enum mts_sts_txt_outcome txt,
                                  const char *txt_id, int64_t now,
                                  struct mts_sts_decision *out);

/*! \return false while a fetch of \p id is in its backoff window
 *  (failed_id equals \p id and failed_at <= now < failed_at +
 *  MTS_STS_FETCH_BACKOFF), and for a NULL, empty or over-long id. */
MTS_API bool mts_sts_state_may_fetch(const struct mts_sts_entry *e,
                                     const char *id, int64_t now);

/*!
 * Record a successful fetch of a usable policy (id from the TXT record).
 * Sets fetched_at to \p now (the only function that does), clears a
 * backoff record for the same id, clamps max_age to MTS_STS_MAX_AGE_MAX.
 * \return true when the entry now holds the policy (keep it), false when
 * the policy must be applied once but not cached (max_age 0: the entry
 * is then reset to "nothing cached", since the new policy supersedes any
 * older one; or an unusable id: the entry is left as it is).
 */
MTS_API bool mts_sts_state_fetched(struct mts_sts_entry *e, const char *id,
                                   enum mts_sts_mode mode, int64_t max_age,
                                   int64_t now);

/*! Record a failed fetch (fetch error, invalid policy, bad certificate)
 *  of \p id at \p now; the cached policy, if any, is left as it is
 *  (fetched_at does not move). A NULL, empty or over-long id is ignored. */
MTS_API void mts_sts_state_fetch_failed(struct mts_sts_entry *e, const char *id,
                                        int64_t now);

/*!
 * Is a proactive refresh due (10.2, 3.3 "SHOULD proactively refresh")?
 * True when a policy is cached and \p now >= fetched_at + min(\p interval,
 * max_age / 2): daily by default, and at half-life for policies whose
 * max_age is shorter than two intervals. Also true for an expired entry
 * and for mode none. A negative \p interval counts as 0 (always due).
 * The refresh fetches regardless of the TXT id (10.2, C14); the caller
 * still honours mts_sts_state_may_fetch().
 */
MTS_API bool mts_sts_state_refresh_due(const struct mts_sts_entry *e,
                                       int64_t interval, int64_t now);

/*! \return true when failures of a refresh should alert the operator:
 *  a policy is cached and its mode is not none (3.3). */
MTS_API bool mts_sts_state_alert_on_failure(const struct mts_sts_entry *e);

#ifdef __cplusplus
}
#endif
#endif /* MTASTS_STS_STATE_H */
