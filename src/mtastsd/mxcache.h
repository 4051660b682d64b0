/*
 * mxcache.h - the MX host sets mtastsd expands policy wildcards into
 * (docs/decisions.md AN-2): per policy domain, resolved through
 * the daemon's net (mts_net_dns_mx) and cached in memory.
 *
 * Freshness: a set is fresh for min(MTASTSD_MX_TTL_MAX, the policy's
 * max_age), at least MTASTSD_MX_TTL_MIN seconds. A lookup that finds a
 * fresh set gets it at once (no DNS round trip); past half its lifetime
 * it is re-resolved in the background. A lookup without a fresh set
 * waits for the MX answer (bounded by the net's DNS timeout).
 *
 * Failures: NXDOMAIN and NODATA give the implicit MX (RFC 5321 5.1: the
 * domain itself); the null MX (RFC 7505) gives an empty set. Any other
 * failure (SERVFAIL, timeout) keeps the last known set, even expired,
 * and retries after MTASTSD_MX_RETRY seconds; without any known set the
 * waiters get NULL (the answer then carries `.suffix`, looser: a warning
 * is logged for each failed lookup).
 *
 * Ownership: the cache borrows the net and the log; a waiter holds a
 * copy of its resolver answer (the policy re-parsed from its lines), so
 * the resolver's borrowed answer may go. Destroy the cache before the
 * net or after it, in either order: lookups still pending are detached.
 * Loop thread only. Bounded: MTASTSD_MX_ENTRIES_MAX domains (least
 * recently used first out, never one being resolved).
 */
#ifndef MTASTSD_MXCACHE_H
#define MTASTSD_MXCACHE_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include <mtasts/net.h>
#include <mtasts/sts_resolver.h>

#include "answer.h"
#include "log.h"

#define MTASTSD_MX_TTL_MAX 300u  /* s: at most this long without a re-check */
#define MTASTSD_MX_TTL_MIN 30u   /* s: even for max_age 0 */
#define MTASTSD_MX_RETRY 30u     /* s after a failed lookup */
#define MTASTSD_MX_ENTRIES_MAX 10000u
#define MTASTSD_MX_HOSTS_MAX 64u /* MX hosts kept per domain */

struct mtastsd_mxcache;
struct mtastsd_mxwait;

/*! Create a cache resolving through \p net. \return NULL: out of memory. */
struct mtastsd_mxcache *mtastsd_mxcache_create(uv_loop_t *loop,
                                               struct mts_ctx *ctx,
                                               struct mts_net *net,
                                               struct mtastsd_log *lg);

/*! Free \p c; pending waits are dropped without their callback (their
 *  requests must be gone already). NULL is a no-op. */
void mtastsd_mxcache_destroy(struct mtastsd_mxcache *c);

/* A wait ended: \p a is the copy of the answer given to
 * mtastsd_mxcache_get(), \p set the MX set or NULL (lookup failed and
 * nothing known); both borrowed for the call. */
typedef void (*mtastsd_mx_cb)(void *arg, const struct mts_sts_answer *a,
                              const struct mtastsd_mxset *set);

/*!
 * The MX set of \p a->domain for expanding \p a's wildcards.
 * \return true: answered now, \p *set is the set (borrowed until control
 * returns to the loop) or NULL (not known: answer unexpanded); false:
 * \p cb(\p arg, ...) runs later from the loop, and \p *wait is a handle
 * for mtastsd_mxwait_cancel(), valid until the callback ran.
 */
bool mtastsd_mxcache_get(struct mtastsd_mxcache *c,
                         const struct mts_sts_answer *a,
                         const struct mtastsd_mxset **set, mtastsd_mx_cb cb,
                         void *arg, struct mtastsd_mxwait **wait);

/*! Cancel a pending wait: its callback will not run. */
void mtastsd_mxwait_cancel(struct mtastsd_mxwait *w);

#endif /* MTASTSD_MXCACHE_H */
