/*
 * mtasts/sts_resolver.h - the sender's policy resolver: which MTA-STS
 * policy applies to a Policy Domain right now.
 *
 * It joins discovery (sts_discover.h), the cache rules (sts_state.h) and
 * an optional store (cache.h) into what a policy daemon needs:
 *
 *  - Memory first. Every known domain has an in-memory record (LRU,
 *    bounded by cache_size). A lookup whose domain has a valid cached
 *    policy is answered at once, before returning to the loop's next
 *    iteration, and never waits on DNS, HTTPS or the store.
 *  - Background checks. When the last TXT id check of a cached domain is
 *    cache_grace or more ago (0: always), the lookup starts one in the
 *    background unless one is running for the domain; a changed id
 *    leads to a fetch (state machine), and the new policy replaces the
 *    old one only when it is usable.
 *  - Single flight. Concurrent lookups of one domain share one TXT query
 *    and one fetch.
 *  - Negative caching. "No MTA-STS" and failed discoveries without a
 *    cached policy are remembered for negative_ttl seconds (a DNS
 *    tempfail for at most 10 s; negative_ttl 0: neither is remembered,
 *    the next lookup asks DNS again); failed fetches also back off per
 *    id (MTS_STS_FETCH_BACKOFF), whatever negative_ttl is.
 *  - Deadlines. A lookup that must wait for discovery gets its answer
 *    by its deadline at the latest (MTS_ANSWER_TEMP then); the discovery
 *    goes on and its result is cached for the next lookup.
 *  - Proactive refresh (RFC 8461 3.3, 10.2). When enabled, cached
 *    policies are re-fetched (regardless of the TXT record) once they
 *    are older than refresh_interval / refresh_grace_ratio, at most
 *    refresh_concurrency at a time, with jitter; failures are logged
 *    as alerts unless the cached mode is none.
 *  - The store. At creation every record of the store is loaded into
 *    memory (SQLite); on a memory miss the store is asked before DNS
 *    (Redis, shared by a fleet); every change is written through. A
 *    store that fails is logged and ignored: answers come from memory.
 *
 * Each policy change and each failure is logged as one line through the
 * context's log callback: domain, id, mode, result, reason:
 *   INFO    policy domain=D id=I mode=M max_age=N mx=K
 *           result=new|changed|refreshed|once      (once: max_age 0)
 *   INFO    failure domain=D id=I result=VERDICT reason=R
 *   WARNING the same, when a cached testing/enforce policy exists
 *   WARNING refresh failed domain=D id=I mode=M result=VERDICT reason=R
 *           (INFO when the cached mode is none, RFC 8461 3.3)
 * Untrusted text (reasons) is escaped.
 *
 * Ownership and teardown: the net and the store are borrowed. Tear down
 * in this order: mts_sts_resolver_destroy(), mts_cache_destroy(),
 * mts_net_destroy(), then run the loop until it has no more handles.
 * Discoveries and store calls still in progress when the resolver is
 * destroyed are detached: their callbacks (run by the net or the store,
 * at the latest when those are destroyed) only free their own state.
 * The context must outlive all of them.
 *
 * Thread safety: loop thread only (the net's loop). The design is in
 * docs/internals/resolver.md, the choices in docs/decisions.md.
 */
#ifndef MTASTS_STS_RESOLVER_H
#define MTASTS_STS_RESOLVER_H

#include <mtasts/cache.h>
#include <mtasts/common.h>
#include <mtasts/net.h>
#include <mtasts/sts_discover.h>
#include <mtasts/sts_policy.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Start from mts_sts_resolver_options_init(): it sets the defaults
 * (shown as "default N"). A zero cache_grace or negative_ttl is a
 * setting, not "unset"; for the fields marked "0: N", 0 means N. */
struct mts_sts_resolver_options {
  size_t cache_size;            /* in-memory records; 0: 10000 */
  uint32_t cache_grace;         /* s between background TXT id checks of
                                   a cached domain; default 60; 0: one at
                                   every hit (one at a time per domain) */
  uint32_t negative_ttl;        /* s to remember no-policy/failure (a DNS
                                   tempfail: at most 10 s); default 60;
                                   0: not remembered */
  bool refresh_enabled;         /* proactive refresh */
  uint32_t refresh_interval;    /* s; 0: 86400 */
  double refresh_grace_ratio;   /* refresh policies older than
                                   refresh_interval / this (below 1: longer
                                   than the interval); 0, NaN, negative or
                                   infinite: 2.0 */
  unsigned refresh_concurrency; /* 0: 100 */
  uint32_t refresh_jitter;      /* s of random delay per refresh; 0: none */
  struct mts_cache *store;      /* NULL: memory only ("internal") */
};

/*! Fill \p o with the defaults: cache_size 10000, cache_grace 60,
 *  negative_ttl 60, refresh off, refresh_interval 86400,
 *  refresh_grace_ratio 2.0, refresh_concurrency 100, no jitter, no store. */
MTS_API void mts_sts_resolver_options_init(struct mts_sts_resolver_options *o);

enum mts_sts_answer_kind {
  /* A policy applies: mode testing or enforce (the caller decides what
   * testing means to it). */
  MTS_ANSWER_POLICY = 0,
  /* No policy applies: no MTA-STS, a policy with mode none, or a first
   * contact whose discovery failed (RFC 8461 3.3: deliver as though the
   * domain had no MTA-STS). */
  MTS_ANSWER_NONE = 1,
  /* Not known in time: no cached policy, and discovery is still running
   * at the deadline or failed temporarily (DNS). */
  MTS_ANSWER_TEMP = 2
};

/* An answer; every pointer is borrowed for the duration of the callback. */
struct mts_sts_answer {
  enum mts_sts_answer_kind kind;
  const char *domain;                 /* A-label Policy Domain */
  const struct mts_sts_policy *policy;/* the applied policy (POLICY), or the
                                         cached mode-none policy, else NULL */
  const char *id;                     /* its id, or NULL */
  bool from_cache;                    /* answered from memory without waiting */
  /* The latest discovery outcome for the domain: MTS_STS_V_POLICY when it
   * succeeded; a failure verdict (e.g. MTS_STS_V_FETCH_ERROR) is what a
   * TLSRPT-aware MTA reports as policy_failure even when a cached policy
   * still applies. */
  enum mts_sts_verdict last_verdict;
  const char *reason;                 /* one line for logs */
};

typedef void (*mts_sts_resolver_cb)(void *arg, const struct mts_sts_answer *a);

struct mts_sts_resolver;

/*!
 * Create a resolver using \p net for discovery and \p o->store (may be
 * NULL). The store is borrowed: destroy the resolver first.
 */
MTS_API MTS_WUR enum mts_status
mts_sts_resolver_create(struct mts_ctx *ctx, struct mts_net *net,
                        const struct mts_sts_resolver_options *o,
                        struct mts_sts_resolver **out);

/*!
 * Destroy \p r: pending lookups get their callback with
 * MTS_ANSWER_TEMP first. Run the loop afterwards. NULL is a no-op.
 * May be called from a resolver callback: the teardown then happens
 * when the callback returns.
 */
MTS_API void mts_sts_resolver_destroy(struct mts_sts_resolver *r);

/* A pending lookup, for cancelling when its client goes away. */
struct mts_sts_lookup;

/*!
 * Which policy applies to \p domain (an A-label domain, lower case, no
 * trailing dot: normalise first)? \p cb runs exactly once: possibly
 * before this function returns (a cache hit), otherwise from the loop,
 * no later than \p deadline_ms from now.
 * \param[out] handle  set to a handle for mts_sts_lookup_cancel() when
 *                     the lookup is pending, else to NULL; may be NULL.
 *                     The handle is valid until the callback has run or
 *                     the lookup was cancelled.
 * \return MTS_OK (the callback runs exactly once); otherwise the
 * callback never runs: MTS_EINVAL (NULL arguments, empty or longer than
 * MTS_DOMAIN_MAX), MTS_EIDN (not a domain name), MTS_ECANCELED (the
 * resolver is being destroyed, or its net is), MTS_ENOMEM.
 * A pending lookup's answer is TEMP with reason "out of memory" when
 * memory ran out on the way.
 */
MTS_API MTS_WUR enum mts_status
mts_sts_resolver_lookup(struct mts_sts_resolver *r, const char *domain,
                        uint32_t deadline_ms, mts_sts_resolver_cb cb, void *arg,
                        struct mts_sts_lookup **handle);

/*! Cancel a pending lookup: its callback will not run. The discovery it
 *  started goes on (its result is cached). */
MTS_API void mts_sts_lookup_cancel(struct mts_sts_lookup *l);

/* Operator control (`mtasts cache ...`). */

/*! Forget \p domain in memory and in the store. A discovery in progress
 *  for it still lands its result. Do not purge the domain of an answer
 *  from inside its callback (the answer's pointers would dangle). */
MTS_API MTS_WUR enum mts_status mts_sts_resolver_purge(struct mts_sts_resolver *r,
                                                       const char *domain);
/*! Re-discover \p domain now (TXT and fetch), whatever its state: a
 *  cached policy is re-fetched even with an unchanged id and inside the
 *  fetch backoff; does nothing when a discovery is already running. */
MTS_API MTS_WUR enum mts_status mts_sts_resolver_refresh(struct mts_sts_resolver *r,
                                                         const char *domain);

/* One in-memory record as seen by `mtasts cache list|show`. Every pointer
 * is borrowed from the resolver: valid during the mts_sts_resolver_each()
 * callback, or after mts_sts_resolver_get() until the next call into the
 * resolver or the next run of its loop. */
struct mts_sts_resolver_record {
  const char *domain;                  /* A-label, lower case */
  const struct mts_sts_entry *entry;   /* id, mode, max_age, fetched_at,
                                          failed_id, failed_at */
  const struct mts_sts_policy *policy; /* the cached policy, or NULL */
  int64_t expires;        /* fetched_at + max_age; 0 when no policy */
  bool txt_checked;       /* a TXT id check happened */
  int64_t txt_checked_at; /* when (ctx clock) */
  int64_t neg_until;      /* a negative answer holds while now < this */
  enum mts_sts_verdict last_verdict; /* latest discovery outcome
                                        (MTS_STS_V_NO_POLICY before any) */
  const char *reason;     /* its reason, escaped ("" when none) */
  bool inflight;          /* a discovery is running */
};

/* Return false to stop the walk. The callback must not call into the
 * resolver. */
typedef bool (*mts_sts_resolver_each_cb)(
    void *arg, const struct mts_sts_resolver_record *rec);

/*! Visit every in-memory record, most recently used first (the store is
 *  not consulted: see mts_cache_scan() for that). NULL \p r or \p cb: no-op. */
MTS_API void mts_sts_resolver_each(const struct mts_sts_resolver *r,
                                   mts_sts_resolver_each_cb cb, void *arg);

/*! The in-memory record of \p domain (exact, lower case), into \p out;
 *  does not touch the LRU order. \return MTS_OK, MTS_ENOTFOUND, or
 *  MTS_EINVAL (NULL arguments, empty or too long domain); \p out is
 *  zeroed unless MTS_OK. */
MTS_API MTS_WUR enum mts_status
mts_sts_resolver_get(const struct mts_sts_resolver *r, const char *domain,
                     struct mts_sts_resolver_record *out);

/* Counters for metrics. */
struct mts_sts_resolver_stats {
  uint64_t lookups;          /* lookups started */
  uint64_t hits;             /* answered from memory at once */
  uint64_t answers[3];       /* by enum mts_sts_answer_kind */
  uint64_t txt_queries;      /* TXT lookups sent */
  uint64_t fetches;          /* HTTPS fetches started */
  uint64_t fetch_results[7]; /* by enum mts_sts_verdict of fetches */
  uint64_t refresh_failures; /* proactive refreshes that failed */
  uint64_t store_errors;     /* store calls that failed */
  uint64_t policies[4];      /* cached policies (expired ones too) by
                                enum mts_sts_mode */
  size_t records;            /* in-memory records */
  size_t inflight;           /* records with a discovery in progress */
};

MTS_API void mts_sts_resolver_stats(const struct mts_sts_resolver *r,
                                    struct mts_sts_resolver_stats *out);

#ifdef __cplusplus
}
#endif
#endif /* MTASTS_STS_RESOLVER_H */
