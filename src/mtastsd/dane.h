/*
 * dane.h - does a Policy Domain use DANE (RFC 7672)? mtastsd's answer to
 * RFC 8461 2: "senders who implement MTA-STS validation MUST NOT allow
 * MTA-STS Policy validation to override a failing DANE validation".
 *
 * For a domain whose MTA-STS answer would be "secure match=...", the
 * daemon asks this module; when every MX host of the domain has TLSA
 * records in DNSSEC-validated answers, it answers "dane-only" instead,
 * so Postfix applies DANE (its own TLSA lookup and verification) and the
 * MTA-STS policy cannot override it. The rules (docs/decisions.md):
 *
 *  - MX RRset (mts_net_dns_mx): must carry the AD bit (RFC 7672 2.2.1:
 *    TLSA records of MX hosts found through an insecure MX RRset are not
 *    used). NODATA with AD: the implicit MX, the domain itself (RFC 5321
 *    5.1). NXDOMAIN, a null MX (RFC 7505) or no AD: no DANE.
 *  - Each MX host (at most MTASTSD_DANE_MAX_MX, duplicates once):
 *    _25._tcp.<host> TLSA (mts_net_dns_tlsa). Records with the AD bit:
 *    the host has DANE. SERVFAIL (a validating resolver's "bogus") also
 *    counts: DANE for that host is failing, which is exactly what MTA-STS
 *    must not override (Postfix with dane-only then defers, as RFC 7672
 *    2.2 wants). NODATA/NXDOMAIN, or records without AD: no DANE there.
 *  - DANE: every host has DANE. PARTIAL: some do (the MTA-STS answer is
 *    kept and a warning logged: Postfix's policy is per destination, and
 *    dane-only would make the other MX hosts unusable). NONE: none do,
 *    or the MX RRset is not validated.
 *  - A timeout or other error on the way is INCONCLUSIVE: the previous
 *    result is kept (NONE when there is none) and the check is retried
 *    after the re-check interval.
 *
 * Caching: one entry per domain (LRU, at most `cap` entries), re-checked
 * in the background once `recheck_s` seconds old (0: at every get; one
 * check at a time per domain); the stale result is used meanwhile, so a
 * domain whose DANE state is known never waits for DNS. Only a domain
 * never checked in this process (no entry) can wait, and only when the
 * caller asks for it.
 *
 * Ownership: the net and the loop are borrowed and must outlive the
 * checker until mtastsd_dane_destroy() returns and the net is destroyed
 * (checks in flight end with MTS_ECANCELED then, and free themselves).
 * Loop thread only. Memory: libc (a program module, as daemon.c).
 */
#ifndef MTASTSD_DANE_H
#define MTASTSD_DANE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include <mtasts/net.h>

/* MX hosts checked per domain; a domain with more distinct MX hosts is
 * INCONCLUSIVE (far more than real domains have; bounds the queries). */
#define MTASTSD_DANE_MAX_MX 16

enum mtastsd_dane_result {
  MTASTSD_DANE_UNKNOWN = 0, /* never checked (no entry) */
  MTASTSD_DANE_NONE,        /* no DANE: answer MTA-STS */
  MTASTSD_DANE_PARTIAL,     /* some MX hosts only: answer MTA-STS, warn */
  MTASTSD_DANE_ALL,         /* every MX host: answer dane-only */
  MTASTSD_DANE_INCONCLUSIVE /* only reported to the notify callback */
};

/*! "unknown", "none", "partial", "dane", "inconclusive". */
const char *mtastsd_dane_result_str(enum mtastsd_dane_result r);

/* What one TLSA (or MX) lookup said, for mtastsd_dane_combine(). */
enum mtastsd_dane_host {
  MTASTSD_DANE_HOST_TLSA = 0,   /* validated TLSA records */
  MTASTSD_DANE_HOST_FAILING,    /* SERVFAIL: DANE failing (bogus) */
  MTASTSD_DANE_HOST_NONE,       /* no TLSA, or not validated */
  MTASTSD_DANE_HOST_UNKNOWN     /* timeout, other error */
};

/*!
 * Pure: classify one TLSA lookup result (\p st, \p count, \p ad as given
 * to mts_net_dns_tlsa_cb).
 */
enum mtastsd_dane_host mtastsd_dane_classify_tlsa(enum mts_status st,
                                                  size_t count, bool ad);

/*!
 * Pure: the domain's result from its hosts' results (\p n >= 1): any
 * UNKNOWN gives INCONCLUSIVE; all TLSA/FAILING gives ALL; some gives
 * PARTIAL; none gives NONE.
 */
enum mtastsd_dane_result
mtastsd_dane_combine(const enum mtastsd_dane_host *hosts, size_t n);

/* Called once per finished check (background or not): domain, result
 * (INCONCLUSIVE included), one-line reason, whether the cached result
 * changed. Strings borrowed for the call. For logging. */
typedef void (*mtastsd_dane_notify_cb)(void *arg, const char *domain,
                                       enum mtastsd_dane_result result,
                                       const char *reason, bool changed);

struct mtastsd_dane;
struct mtastsd_dane_wait;

/*!
 * Create a checker on \p loop using \p net. \p cap: maximum cached
 * domains (0: 10000); \p recheck_s: re-check interval (0: a get of a
 * known domain always starts a background re-check, unless one runs).
 * \return 0, or -1 (out of memory).
 */
int mtastsd_dane_create(uv_loop_t *loop, struct mts_net *net, size_t cap,
                        uint32_t recheck_s, mtastsd_dane_notify_cb notify,
                        void *notify_arg, struct mtastsd_dane **out);

/*!
 * Free every idle entry; pending waiters get their callback with
 * MTASTSD_DANE_NONE. Checks in flight free themselves when the net ends
 * them (destroy the net after this). NULL is a no-op.
 */
void mtastsd_dane_destroy(struct mtastsd_dane *d);

/* A waiter's callback: the check of the domain finished. \p reason is
 * borrowed for the call. */
typedef void (*mtastsd_dane_wait_cb)(void *arg,
                                     enum mtastsd_dane_result result,
                                     const char *reason);

/*!
 * The DANE result for \p domain (A-label, lower case, no trailing dot).
 * Known (fresh or stale): returned at once, with \p *reason (borrowed,
 * valid until the next call into the checker); a stale entry is
 * re-checked in the background. Unknown: a check starts; with \p wait
 * non-NULL, \p cb will run once from the loop (never inside this call)
 * and \p *wait is set to a handle for mtastsd_dane_wait_cancel();
 * the return value is then MTASTSD_DANE_UNKNOWN. With \p cb NULL, or
 * when the check cannot start, UNKNOWN is returned and \p *wait is NULL.
 */
enum mtastsd_dane_result mtastsd_dane_get(struct mtastsd_dane *d,
                                          const char *domain,
                                          mtastsd_dane_wait_cb cb, void *arg,
                                          struct mtastsd_dane_wait **wait,
                                          const char **reason);

/*! Cancel a waiter: its callback will not run. NULL is a no-op. */
void mtastsd_dane_wait_cancel(struct mtastsd_dane_wait *w);

/*! Number of cached domains (tests, metrics). */
size_t mtastsd_dane_count(const struct mtastsd_dane *d);

#endif /* MTASTSD_DANE_H */
