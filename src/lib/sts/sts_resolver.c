/*
 * sts_resolver.c - the sender's policy resolver (mtasts/sts_resolver.h):
 * memory records, single-flight discovery, negative caching, deadlines,
 * background TXT checks and proactive refresh on the net's libuv loop.
 *
 * Every cache decision is made by the pure state machine (sts_state.h);
 * this file only keeps the records, runs discoveries and applies what
 * the state machine says. docs/internals/resolver.md has the design,
 * docs/decisions.md the choices.
 *
 * Flights. Each record has at most one flight (single flight): a chain
 * of discoveries that always starts with a TXT_ONLY lookup, asks
 * mts_sts_state_decide() what to do, and fetches with SKIP_TXT under the
 * id of the TXT record that triggered the fetch (kept in the flight).
 * Waiters (pending lookups) hang on the record, not on the flight, and
 * are answered from the record's state when the flight ends.
 *
 * Re-entrancy. User callbacks run from lookups (cache hits), from the
 * flight completion, from deadline timers and from destroy. Every entry
 * into the resolver brackets its work with rs_enter()/rs_leave();
 * mts_sts_resolver_destroy() called at depth > 0 is deferred to the
 * outermost rs_leave(), so no frame ever runs on freed state. Records
 * are pinned while their waiters are answered.
 *
 * Ownership. Flights are detached ("orphaned") by destroy: their
 * discovery callbacks still run (from the net, or with MTS_ECANCELED
 * when the net is destroyed) and then only free themselves. The
 * resolver struct is freed when its last uv handle has closed.
 */
#include <mtasts/sts_resolver.h>
#include <mtasts/sts_state.h>

#include <float.h>
#include <string.h>

#include "core/ctx_int.h"
#include "core/findings_int.h"
#include "net/net_int.h"

#define RS_CACHE_SIZE_DEFAULT 10000
#define RS_GRACE_DEFAULT 60
#define RS_NEGATIVE_TTL_DEFAULT 60
#define RS_REFRESH_INTERVAL_DEFAULT 86400
#define RS_REFRESH_RATIO_DEFAULT 2.0
/* The refresh threshold is capped at this many seconds (a tiny ratio),
 * so that it converts to an integer and to milliseconds safely. */
#define RS_REFRESH_AFTER_MAX 1e12
#define RS_REFRESH_CONCURRENCY_DEFAULT 100
/* A DNS tempfail without a cached policy is remembered this long (at
 * most negative_ttl, so not at all with 0): long enough not to hammer a
 * dead resolver with every queued message, short enough to recover
 * quickly (docs/decisions.md). */
#define RS_TEMPFAIL_TTL 10
/* Refresh scan period bounds, milliseconds. */
#define RS_SCAN_MS_MIN 100
#define RS_SCAN_MS_MAX 60000
#define RS_BUCKETS_MIN 64
/* Untrusted text quoted in log lines. */
#define RS_LOG_QUOTE 200
/* The latest discovery reason kept per record (escaped, cut with "..."):
 * a fixed buffer, so that recording it never fails. */
#define RS_REASON_MAX 160

struct rs_record;
struct rs_flight;

/* A pending lookup. Freed in its timer's close callback. */
struct mts_sts_lookup {
  uv_timer_t timer;
  struct mts_sts_resolver *r;
  struct rs_record *rec; /* NULL once answered or cancelled */
  struct mts_sts_lookup *prev;
  struct mts_sts_lookup *next;
  mts_sts_resolver_cb cb;
  void *arg;
};

struct rs_record {
  struct rs_record *hnext;    /* hash chain */
  struct rs_record *lru_prev; /* towards most recently used */
  struct rs_record *lru_next;
  struct rs_record *rq_prev; /* refresh queue */
  struct rs_record *rq_next;
  uint64_t hash;

  struct mts_sts_entry entry; /* the state machine's view */
  /* The cached policy, parsed; its body, for the store, comes back from
   * it exactly (mts_sts_policy_text()): a second copy cost ~90 bytes a
   * domain. */
  struct mts_sts_policy *policy;

  bool txt_checked;
  int64_t txt_checked_at; /* last TXT id check (ctx clock) */
  int64_t neg_until;      /* negative record valid while now < this */
  enum mts_sts_answer_kind neg_kind;
  enum mts_sts_verdict last_verdict;
  /* The latest discovery reason (escaped), allocated to fit, or NULL
   * for none: a fixed array cost 160 bytes in each of 100,000 records,
   * most of which (cached policies) never show it. rec_reason(). */
  char *reason;
  bool reason_lost; /* the latest could not be kept (no memory) */
  /* neg_kind answers the lookups waiting on the flight that is ending,
   * and no later one (negative_ttl 0); rec_answer_waiters() clears it. */
  bool neg_once;

  struct rs_flight *flight; /* in-flight work (single flight) */
  struct mts_sts_lookup *w_head;
  struct mts_sts_lookup *w_tail;
  bool queued;       /* in the refresh queue */
  uint64_t rq_start; /* loop ms when the queued refresh may start */
  unsigned pinned;   /* waiters being answered: do not free */
  /* rs_evict(): a valid policy reached at the LRU tail with this set is
   * moved to the head once instead of evicted (second chance); set when
   * a lookup uses the record and when it gets a policy. */
  bool spare;
  size_t dlen;
  char domain[];
};

enum rs_stage { RS_STAGE_STORE = 0, RS_STAGE_TXT = 1, RS_STAGE_FETCH = 2 };

/* The resolver's handle on its store. Store callbacks may run after the
 * resolver is gone (the store is destroyed after it, and finishes its
 * pending calls then), so they get this link, which lives until the last
 * of them has run. */
struct rs_link {
  struct mts_sts_resolver *r; /* NULL once the resolver is destroyed */
  struct mts_ctx *ctx;
  unsigned pending; /* store calls whose callback is due */
};

struct rs_flight {
  struct mts_sts_resolver *r; /* NULL once orphaned by destroy */
  struct mts_ctx *ctx;
  struct rs_record *rec;
  struct rs_flight *prev;
  struct rs_flight *next;
  enum rs_stage stage;
  bool refresh;   /* fetch regardless of the TXT id (RFC 8461 10.2) */
  bool proactive; /* counts against refresh_concurrency */
  bool force;     /* operator refresh: ignore the fetch backoff */
  char id[MTS_STS_ID_MAX + 1]; /* id to store the fetched policy under */
};

struct mts_sts_resolver {
  struct mts_ctx *ctx;
  struct mts_net *net;
  uv_loop_t *loop;
  struct mts_sts_resolver_options o;
  uint32_t tempfail_ttl;
  struct mts_cache *store; /* borrowed, may be NULL */
  struct rs_link *link;    /* with a store */
  bool loading;            /* the startup scan is running */
  bool store_failing;      /* in a burst of store failures (logged once) */
  size_t loaded;           /* records loaded by the startup scan */
  /* Writing every record back (store_resync): after the store lost its
   * contents, or after writes failed, once it works again. */
  bool resync_wanted;      /* a write failed: resync on recovery */
  /* Counts purges and max_age-0 removals: a merge write whose read was
   * queued before one of them must not adopt what it read. */
  uint64_t removals;
  bool resync_after_load;  /* the store was reset: load, then resync */
  bool resyncing;          /* walking the buckets */
  size_t resync_next;      /* the next bucket to write */
  size_t resync_written;   /* records written back so far */

  uint64_t sip_k0; /* per-resolver hash key */
  uint64_t sip_k1;
  uint64_t rng; /* splitmix64 state for jitter */

  struct rs_record **buckets;
  size_t nbuckets; /* power of two */
  size_t nrecords;
  struct rs_record *lru_head; /* most recently used */
  struct rs_record *lru_tail;

  struct rs_flight *flights;
  struct rs_record *rq_head; /* refresh queue, FIFO */
  struct rs_record *rq_tail;
  unsigned refresh_running;

  uv_timer_t scan_timer;
  uv_timer_t pump_timer;
  bool timers_init;
  unsigned handles; /* open uv handles (timers, lookups) */

  unsigned depth;
  bool destroy_pending;
  bool destroyed;

  struct mts_sts_resolver_stats stats;
};

/* ------------------------------------------------------------- hashing */

#define RS_ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define RS_SIPROUND(v0, v1, v2, v3)                                            \
  do {                                                                         \
    v0 += v1;                                                                  \
    v1 = RS_ROTL(v1, 13);                                                      \
    v1 ^= v0;                                                                  \
    v0 = RS_ROTL(v0, 32);                                                      \
    v2 += v3;                                                                  \
    v3 = RS_ROTL(v3, 16);                                                      \
    v3 ^= v2;                                                                  \
    v0 += v3;                                                                  \
    v3 = RS_ROTL(v3, 21);                                                      \
    v3 ^= v0;                                                                  \
    v2 += v1;                                                                  \
    v1 = RS_ROTL(v1, 17);                                                      \
    v1 ^= v2;                                                                  \
    v2 = RS_ROTL(v2, 32);                                                      \
  } while (0)

/* SipHash-2-4 of \p len bytes with the resolver's random key: domain
 * names come from mail traffic, so the table must not be floodable. */
static uint64_t rs_hash(const struct mts_sts_resolver *r, const char *s,
                        size_t len) {
  uint64_t v0 = r->sip_k0 ^ 0x736f6d6570736575ULL;
  uint64_t v1 = r->sip_k1 ^ 0x646f72616e646f6dULL;
  uint64_t v2 = r->sip_k0 ^ 0x6c7967656e657261ULL;
  uint64_t v3 = r->sip_k1 ^ 0x7465646279746573ULL;
  uint64_t b = (uint64_t)len << 56;
  const uint8_t *p = (const uint8_t *)s;
  size_t i;
  size_t j;

  for (i = 0; i + 8 <= len; i += 8) {
    uint64_t m = 0;

    for (j = 0; j < 8; j++) {
      m |= (uint64_t)p[i + j] << (8 * j);
    }
    v3 ^= m;
    RS_SIPROUND(v0, v1, v2, v3);
    RS_SIPROUND(v0, v1, v2, v3);
    v0 ^= m;
  }
  for (j = 0; i + j < len; j++) {
    b |= (uint64_t)p[i + j] << (8 * j);
  }
  v3 ^= b;
  RS_SIPROUND(v0, v1, v2, v3);
  RS_SIPROUND(v0, v1, v2, v3);
  v0 ^= b;
  v2 ^= 0xff;
  for (j = 0; j < 4; j++) {
    RS_SIPROUND(v0, v1, v2, v3);
  }
  return v0 ^ v1 ^ v2 ^ v3;
}

/* splitmix64: jitter only, no security role. */
static uint64_t rs_random(struct mts_sts_resolver *r) {
  uint64_t z = (r->rng += 0x9e3779b97f4a7c15ULL);

  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static struct rs_record *rs_find(const struct mts_sts_resolver *r,
                                 const char *domain, size_t len) {
  uint64_t h = rs_hash(r, domain, len);
  struct rs_record *rec = r->buckets[h & (r->nbuckets - 1)];

  for (; rec != NULL; rec = rec->hnext) {
    if (rec->hash == h && rec->dlen == len &&
        memcmp(rec->domain, domain, len) == 0) {
      return rec;
    }
  }
  return NULL;
}

/* Double the table when the load passes 1; a failed resize only makes
 * chains longer. */
static void rs_grow(struct mts_sts_resolver *r) {
  struct rs_record **nb;
  size_t n = r->nbuckets * 2;
  size_t i;

  if (r->nrecords <= r->nbuckets || n < r->nbuckets) {
    return;
  }
  nb = mts_calloc(r->ctx, n, sizeof(*nb));
  if (nb == NULL) {
    return;
  }
  for (i = 0; i < r->nbuckets; i++) {
    struct rs_record *rec = r->buckets[i];

    while (rec != NULL) {
      struct rs_record *next = rec->hnext;

      rec->hnext = nb[rec->hash & (n - 1)];
      nb[rec->hash & (n - 1)] = rec;
      rec = next;
    }
  }
  mts_free(r->ctx, r->buckets);
  r->buckets = nb;
  r->nbuckets = n;
}

/* ------------------------------------------------------------- records */

static void lru_unlink(struct mts_sts_resolver *r, struct rs_record *rec) {
  if (rec->lru_prev != NULL) {
    rec->lru_prev->lru_next = rec->lru_next;
  } else {
    r->lru_head = rec->lru_next;
  }
  if (rec->lru_next != NULL) {
    rec->lru_next->lru_prev = rec->lru_prev;
  } else {
    r->lru_tail = rec->lru_prev;
  }
  rec->lru_prev = rec->lru_next = NULL;
}

static void lru_push(struct mts_sts_resolver *r, struct rs_record *rec) {
  rec->lru_prev = NULL;
  rec->lru_next = r->lru_head;
  if (r->lru_head != NULL) {
    r->lru_head->lru_prev = rec;
  } else {
    r->lru_tail = rec;
  }
  r->lru_head = rec;
}

static void lru_touch(struct mts_sts_resolver *r, struct rs_record *rec) {
  if (r->lru_head != rec) {
    lru_unlink(r, rec);
    lru_push(r, rec);
  }
}

static void rq_unlink(struct mts_sts_resolver *r, struct rs_record *rec) {
  if (!rec->queued) {
    return;
  }
  if (rec->rq_prev != NULL) {
    rec->rq_prev->rq_next = rec->rq_next;
  } else {
    r->rq_head = rec->rq_next;
  }
  if (rec->rq_next != NULL) {
    rec->rq_next->rq_prev = rec->rq_prev;
  } else {
    r->rq_tail = rec->rq_prev;
  }
  rec->rq_prev = rec->rq_next = NULL;
  rec->queued = false;
}

static bool rec_busy(const struct rs_record *rec) {
  return rec->flight != NULL || rec->w_head != NULL || rec->queued ||
         rec->pinned > 0;
}

static const char *rec_reason(const struct rs_record *rec) {
  if (rec->reason != NULL) {
    return rec->reason;
  }
  if (rec->reason_lost) {
    return "(reason not kept: out of memory)";
  }
  return rec->last_verdict == MTS_STS_V_POLICY ? "cached policy" : "";
}

static void rec_drop_reason(struct mts_sts_resolver *r, struct rs_record *rec) {
  mts_free(r->ctx, rec->reason);
  rec->reason = NULL;
  rec->reason_lost = false;
}

/* Forget the cached policy and every negative/check state. */
static void rec_clear(struct mts_sts_resolver *r, struct rs_record *rec) {
  mts_sts_entry_init(&rec->entry);
  mts_sts_policy_destroy(rec->policy);
  rec->policy = NULL;
  rec->txt_checked = false;
  rec->txt_checked_at = 0;
  rec->neg_until = 0;
  rec->neg_kind = MTS_ANSWER_NONE;
  rec->last_verdict = MTS_STS_V_NO_POLICY;
  rec_drop_reason(r, rec);
}

/* Unlink and free an idle record. */
static void rec_remove(struct mts_sts_resolver *r, struct rs_record *rec) {
  struct rs_record **pp = &r->buckets[rec->hash & (r->nbuckets - 1)];

  while (*pp != NULL && *pp != rec) {
    pp = &(*pp)->hnext;
  }
  if (*pp == rec) {
    *pp = rec->hnext;
  }
  lru_unlink(r, rec);
  rq_unlink(r, rec);
  rec_clear(r, rec);
  r->nrecords--;
  mts_free(r->ctx, rec);
}

/* Evict idle records down to cache_size, from the least recently used
 * end; \p keep is never evicted. Records with in-flight work stay (the
 * table may then exceed cache_size for a while). A record with a valid
 * policy that was used since it last reached the tail (spare) is moved
 * to the head once instead (second chance, as CLOCK), so a burst of
 * lookups of domains without MTA-STS evicts those records and not the
 * policies that must keep applying; amortised O(1): a policy is passed
 * over at most once per use. While the store is behind memory (failing
 * writes, a write-back pending or running), a valid policy may exist
 * nowhere else: none is evicted until the table holds twice cache_size,
 * looking at most RS_EVICT_LOOK records for another to evict. */
#define RS_EVICT_LOOK 64

static void rs_evict(struct mts_sts_resolver *r, const struct rs_record *keep) {
  int64_t now = mts_ctx_now(r->ctx);
  bool guard = r->store != NULL &&
               (r->store_failing || r->resync_wanted || r->resyncing) &&
               r->nrecords < 2 * r->o.cache_size;
  struct rs_record *rec = r->lru_tail;
  size_t steps = 0, bound = guard ? RS_EVICT_LOOK : 2 * r->nrecords + 2;

  while (r->nrecords > r->o.cache_size && rec != NULL && steps++ < bound) {
    struct rs_record *prev = rec->lru_prev;

    if (rec != keep && !rec_busy(rec)) {
      if (!mts_sts_entry_valid(&rec->entry, now)) {
        rec_remove(r, rec);
      } else if (guard) {
        /* kept: the store may not have it */
      } else if (rec->spare) {
        rec->spare = false;
        lru_touch(r, rec);
      } else {
        rec_remove(r, rec);
      }
    }
    rec = prev;
  }
}

static struct rs_record *rec_create(struct mts_sts_resolver *r,
                                    const char *domain, size_t len) {
  struct rs_record *rec;
  size_t b;

  if (len > SIZE_MAX - sizeof(*rec) - 1) {
    return NULL;
  }
  rec = mts_calloc(r->ctx, 1, sizeof(*rec) + len + 1);
  if (rec == NULL) {
    return NULL;
  }
  memcpy(rec->domain, domain, len);
  rec->domain[len] = '\0';
  rec->dlen = len;
  rec->hash = rs_hash(r, domain, len);
  mts_sts_entry_init(&rec->entry);
  rec->neg_kind = MTS_ANSWER_NONE;
  rec->last_verdict = MTS_STS_V_NO_POLICY;
  b = rec->hash & (r->nbuckets - 1);
  rec->hnext = r->buckets[b];
  r->buckets[b] = rec;
  lru_push(r, rec);
  r->nrecords++;
  rs_grow(r);
  rs_evict(r, rec);
  return rec;
}

/* The reason of a failure or a negative answer (escaped). A successful
 * fetch keeps none (rec_reason() says "cached policy"): most records
 * hold a policy and never show one. Out of memory keeps a constant that
 * says so; the answer does not depend on the reason. */
static void rec_set_reason(struct mts_sts_resolver *r, struct rs_record *rec,
                           const char *reason) {
  char buf[RS_REASON_MAX];
  size_t n;
  char *p;

  (void)mts_findings_escape((const uint8_t *)reason, strlen(reason), buf,
                            sizeof(buf));
  if (rec->reason != NULL && strcmp(rec->reason, buf) == 0) {
    return;
  }
  n = strlen(buf);
  p = mts_malloc(r->ctx, n + 1);
  rec_drop_reason(r, rec);
  if (p == NULL) {
    rec->reason_lost = true;
    return;
  }
  memcpy(p, buf, n + 1);
  rec->reason = p;
}

/* ------------------------------------------------------------- helpers */

static void rs_teardown(struct mts_sts_resolver *r);

static void rs_enter(struct mts_sts_resolver *r) {
  r->depth++;
}

static void rs_free_if_done(struct mts_sts_resolver *r) {
  if (r->destroyed && r->handles == 0 && r->depth == 0) {
    mts_free(r->ctx, r);
  }
}

/* Must be the last use of \p r by the caller. */
static void rs_leave(struct mts_sts_resolver *r) {
  if (--r->depth == 0 && r->destroy_pending && !r->destroyed) {
    rs_teardown(r);
    rs_free_if_done(r);
  }
}

static const char *esc(const char *s, char *buf, size_t n) {
  if (s == NULL) {
    s = "";
  }
  return mts_findings_escape((const uint8_t *)s, strlen(s), buf, n);
}

static enum mts_sts_answer_kind kind_of_mode(enum mts_sts_mode m) {
  return m == MTS_STS_MODE_TESTING || m == MTS_STS_MODE_ENFORCE
             ? MTS_ANSWER_POLICY
             : MTS_ANSWER_NONE;
}

/* The answer the record gives now, without waiting, when it has one:
 * a valid cached policy or a valid negative record. */
static bool rec_answer_now(const struct rs_record *rec, int64_t now,
                           struct mts_sts_answer *a) {
  memset(a, 0, sizeof(*a));
  a->domain = rec->domain;
  a->last_verdict = rec->last_verdict;
  if (mts_sts_entry_valid(&rec->entry, now) && rec->policy != NULL) {
    a->kind = kind_of_mode(rec->entry.mode);
    a->policy = rec->policy;
    a->id = rec->entry.id;
    a->reason =
        rec->last_verdict == MTS_STS_V_POLICY ? "cached policy"
                                              : rec_reason(rec);
    return true;
  }
  if (now < rec->neg_until) {
    a->kind = rec->neg_kind;
    a->reason = rec_reason(rec);
    return true;
  }
  return false;
}

static void rs_count_answer(struct mts_sts_resolver *r,
                            const struct mts_sts_answer *a) {
  if ((unsigned)a->kind < 3) {
    r->stats.answers[a->kind]++;
  }
}

/* ------------------------------------------------------------- waiters */

static void waiter_closed(uv_handle_t *h) {
  struct mts_sts_lookup *w = h->data;
  struct mts_sts_resolver *r = w->r;

  mts_free(r->ctx, w);
  r->handles--;
  rs_free_if_done(r);
}

static void waiter_unlink(struct mts_sts_lookup *w) {
  struct rs_record *rec = w->rec;

  if (w->prev != NULL) {
    w->prev->next = w->next;
  } else {
    rec->w_head = w->next;
  }
  if (w->next != NULL) {
    w->next->prev = w->prev;
  } else {
    rec->w_tail = w->prev;
  }
  w->prev = w->next = NULL;
  w->rec = NULL;
  (void)uv_timer_stop(&w->timer);
  uv_close((uv_handle_t *)&w->timer, waiter_closed);
}

/* Answer and release \p w (already attached to a record). */
static void waiter_answer(struct mts_sts_lookup *w,
                          const struct mts_sts_answer *a) {
  mts_sts_resolver_cb cb = w->cb;
  void *arg = w->arg;

  rs_count_answer(w->r, a);
  waiter_unlink(w);
  cb(arg, a);
}

static void waiter_deadline(uv_timer_t *t) {
  struct mts_sts_lookup *w = t->data;
  struct mts_sts_resolver *r = w->r;
  struct rs_record *rec = w->rec;
  struct mts_sts_answer a;

  if (rec == NULL) {
    return;
  }
  rs_enter(r);
  memset(&a, 0, sizeof(a));
  a.kind = MTS_ANSWER_TEMP;
  a.domain = rec->domain;
  a.last_verdict = rec->last_verdict;
  a.reason = "no answer by the deadline; discovery goes on";
  rec->pinned++;
  waiter_answer(w, &a);
  rec->pinned--;
  rs_leave(r);
}

/* Answer every waiter of \p rec: with \p once when given (a policy that
 * is applied but not kept), else from the record, else TEMP. */
static void rec_answer_waiters(struct mts_sts_resolver *r,
                               struct rs_record *rec,
                               const struct mts_sts_answer *once,
                               const char *temp_reason) {
  rec->pinned++;
  while (rec->w_head != NULL && !r->destroyed) {
    struct mts_sts_answer a;

    if (once != NULL) {
      a = *once;
    } else if (!rec_answer_now(rec, mts_ctx_now(r->ctx), &a)) {
      memset(&a, 0, sizeof(a));
      a.domain = rec->domain;
      a.last_verdict = rec->last_verdict;
      if (rec->neg_once) {
        a.kind = rec->neg_kind;
        a.reason = rec_reason(rec);
      } else {
        a.kind = MTS_ANSWER_TEMP;
        a.reason = temp_reason != NULL ? temp_reason : "no answer";
      }
    }
    waiter_answer(rec->w_head, &a);
  }
  rec->neg_once = false; /* the next lookup asks again */
  rec->pinned--;
}

/* ------------------------------------------------------------- store */

static void link_release(struct rs_link *l) {
  if (l->r == NULL && l->pending == 0) {
    mts_free(l->ctx, l);
  }
}

static void store_resync(struct mts_sts_resolver *r);

/* A store call failed: count it, and log the first of a burst. A failed
 * write leaves the store behind memory: catch up once it works. */
static void store_failed(struct mts_sts_resolver *r, const char *what,
                         enum mts_status st) {
  r->stats.store_errors++;
  if (strcmp(what, "write") == 0) {
    r->resync_wanted = true;
  }
  if (!r->store_failing) {
    r->store_failing = true;
    mts_log(r->ctx, MTS_LOG_WARNING,
            "store %s: %s failed: %s (answering from memory; further "
            "failures are not logged until it recovers)",
            mts_cache_name(r->store), what, mts_status_str(st));
  }
}

/* A store call succeeded. \p wrote: it was a write. After failed writes
 * only a write proves recovery: a store that reads but cannot write (a
 * full disk, a read-only replica) would otherwise "recover" at every
 * read and start a write-back that fails again. */
static void store_ok(struct mts_sts_resolver *r, bool wrote) {
  if (!wrote && r->resync_wanted) {
    return;
  }
  if (r->store_failing) {
    r->store_failing = false;
    mts_log(r->ctx, MTS_LOG_INFO, "store %s: recovered",
            mts_cache_name(r->store));
    if (r->resync_wanted && !r->resyncing) {
      store_resync(r);
    }
  }
}

static void store_resync_step(struct mts_sts_resolver *r);

static void store_done(void *arg, enum mts_status st) {
  struct rs_link *l = arg;

  l->pending--;
  if (l->r != NULL) {
    if (st == MTS_OK || st == MTS_ENOTFOUND) {
      store_ok(l->r, true);
    } else {
      store_failed(l->r, "write", st);
    }
    if (l->r->resyncing) {
      store_resync_step(l->r);
    }
  }
  link_release(l);
}

/* Write \p rec through to the store (fire and forget): a put of the
 * entry and body, or a del when the entry holds nothing any more. */
static void store_sync(struct mts_sts_resolver *r,
                       const struct rs_record *rec) {
  struct mts_cache_record c;
  enum mts_status st;
  uint8_t *body = NULL;
  size_t blen = 0;

  if (r->store == NULL) {
    return;
  }
  if (!rec->entry.has_policy && rec->entry.failed_id[0] == '\0') {
    st = mts_cache_del(r->store, rec->domain, store_done, r->link);
  } else {
    memset(&c, 0, sizeof(c));
    c.domain = rec->domain;
    c.entry = rec->entry;
    c.updated_at = mts_ctx_now(r->ctx);
    st = MTS_OK;
    if (rec->entry.has_policy && rec->policy != NULL) {
      /* The body back from the parse, for the store to copy. */
      blen = mts_sts_policy_text(rec->policy, NULL, 0);
      body = mts_malloc(r->ctx, blen > 0 ? blen : 1);
      if (body == NULL) {
        st = MTS_ENOMEM;
      } else {
        (void)mts_sts_policy_text(rec->policy, body, blen);
        c.body = body;
        c.body_len = blen;
      }
    }
    if (st == MTS_OK) {
      st = mts_cache_put(r->store, &c, store_done, r->link);
    }
    mts_free(r->ctx, body);
  }
  if (st == MTS_OK) {
    r->link->pending++;
  } else if (st == MTS_EINVAL) {
    /* Our record, not the store: a domain the store cannot key. */
    mts_log(r->ctx, MTS_LOG_DEBUG, "store %s: %s not stored",
            mts_cache_name(r->store), rec->domain);
  } else {
    store_failed(r, "write", st);
  }
}

static enum mts_status rec_adopt(struct mts_sts_resolver *r,
                                 struct rs_record *rec,
                                 const struct mts_cache_record *c);

/* A merge write in flight: the stored record is read first. */
struct rs_mwrite {
  struct rs_link *link;
  uint64_t removals; /* r->removals when the read was queued */
  size_t len;
  char domain[];
};

static void merge_got(void *arg, enum mts_status st,
                      const struct mts_cache_record *c) {
  struct rs_mwrite *m = arg;
  struct rs_link *l = m->link;
  struct mts_sts_resolver *r = l->r;

  l->pending--;
  if (r != NULL) {
    struct rs_record *rec = rs_find(r, m->domain, m->len);

    if (st == MTS_OK || st == MTS_ENOTFOUND) {
      /* No store_ok() here: a store that reads but cannot write has not
       * recovered (the put's store_done() says when it has). What was
       * read before a purge or a max_age-0 removal is not adopted.
       * Write only what includes the stored record: a failed adoption
       * (out of memory) writes nothing rather than overwrite it. */
      bool stale = r->removals != m->removals;

      if (rec != NULL && (st != MTS_OK || c == NULL || stale ||
                          rec_adopt(r, rec, c) == MTS_OK)) {
        store_sync(r, rec);
      }
    } else if (st != MTS_ECANCELED) {
      store_failed(r, "write", st); /* merged and written on recovery */
    }
    if (r->resyncing) {
      store_resync_step(r);
    }
  }
  mts_free(l->ctx, m);
  link_release(l);
}

/* Write \p rec to the store without losing what the store knows and
 * memory does not. A record without a policy (a failed fetch's backoff)
 * written blindly would replace a policy that memory never saw: one
 * stored before the store could be read, or by another daemon of the
 * fleet since. So such a record is merged: the stored record is read,
 * adopted where it is newer (rec_adopt: a policy fetched later, a later
 * backoff), then the merge is written. A record with a policy is put at
 * once, as after a successful fetch: it loses no policy (at worst an
 * older valid one replaces a newer valid one until the TXT id check),
 * and a put, unlike a read, is finished when the store is destroyed, so
 * a shutdown during a write-back keeps every policy. */
static void store_merge_sync(struct mts_sts_resolver *r,
                             const struct rs_record *rec) {
  struct rs_mwrite *m;
  enum mts_status st;

  if (r->store == NULL) {
    return;
  }
  if (rec->entry.has_policy) {
    store_sync(r, rec);
    return;
  }
  m = mts_malloc(r->ctx, sizeof(*m) + rec->dlen + 1);
  if (m == NULL) {
    store_failed(r, "write", MTS_ENOMEM);
    return;
  }
  m->link = r->link;
  m->removals = r->removals;
  m->len = rec->dlen;
  memcpy(m->domain, rec->domain, rec->dlen + 1);
  st = mts_cache_get(r->store, m->domain, merge_got, m);
  if (st == MTS_OK) {
    r->link->pending++;
    return;
  }
  mts_free(r->ctx, m);
  if (st == MTS_EINVAL) {
    mts_log(r->ctx, MTS_LOG_DEBUG, "store %s: %s not stored",
            mts_cache_name(r->store), rec->domain);
  } else {
    store_failed(r, "write", st);
  }
}

/* Write every record back to the store, a bucket at a time with at most
 * RS_RESYNC_INFLIGHT store calls pending, so that 100,000 records do
 * not become 100,000 queued jobs at once; store_done takes the next
 * step. A rehash during the walk may write a record twice, never skips
 * one; a record changed meanwhile is written by its own change too.
 * Records evicted from memory (max_records) cannot be written back. */
#define RS_RESYNC_INFLIGHT 32

static void store_resync_step(struct mts_sts_resolver *r) {
  while (r->resyncing && r->link->pending < RS_RESYNC_INFLIGHT) {
    struct rs_record *rec;

    if (r->resync_next >= r->nbuckets) {
      r->resyncing = false;
      mts_log(r->ctx, MTS_LOG_INFO, "store %s: %zu record(s) written back",
              mts_cache_name(r->store), r->resync_written);
      break;
    }
    for (rec = r->buckets[r->resync_next++]; rec != NULL; rec = rec->hnext) {
      if (rec->entry.has_policy || rec->entry.failed_id[0] != '\0') {
        store_merge_sync(r, rec);
        r->resync_written++;
      }
    }
  }
}

static void store_resync(struct mts_sts_resolver *r) {
  mts_log(r->ctx, MTS_LOG_INFO,
          "store %s: writing the %zu record(s) in memory back",
          mts_cache_name(r->store), r->nrecords);
  r->resync_wanted = false;
  r->resyncing = true;
  r->resync_next = 0;
  r->resync_written = 0;
  store_resync_step(r);
}

static bool load_each(void *arg, const struct mts_cache_record *c);
static void load_done(void *arg, enum mts_status st);

/* The store's contents changed under us (mts_cache_on_reset()): a new,
 * empty file, one moved in, or a store that opened at last. Load what it
 * holds (memory wins where it knows the domain), then write back all
 * that memory holds. */
static void store_reset(void *arg) {
  struct mts_sts_resolver *r = arg;
  enum mts_status st;

  if (r->destroyed) {
    return;
  }
  r->resync_after_load = true;
  if (r->loading) {
    return; /* the running load resyncs when done */
  }
  r->loaded = 0;
  st = mts_cache_scan(r->store, load_each, load_done, r->link);
  if (st == MTS_OK) {
    r->link->pending++;
    r->loading = true;
  } else {
    r->resync_after_load = false;
    store_resync(r);
  }
}

/* Adopt a stored record into \p rec when it knows more: a policy when
 * memory has none or an older one, a fetch backoff that is newer. A
 * stored body that is not a usable policy is ignored (the store is
 * outside input). \return MTS_OK or MTS_ENOMEM. */
static enum mts_status rec_adopt(struct mts_sts_resolver *r,
                                 struct rs_record *rec,
                                 const struct mts_cache_record *c) {
  int64_t now = mts_ctx_now(r->ctx), fetched_at;
  struct mts_sts_policy *p = NULL;

  if (c->entry.failed_id[0] != '\0' &&
      (rec->entry.failed_id[0] == '\0' ||
       c->entry.failed_at > rec->entry.failed_at)) {
    memcpy(rec->entry.failed_id, c->entry.failed_id,
           sizeof(rec->entry.failed_id));
    rec->entry.failed_id[MTS_STS_ID_MAX] = '\0';
    rec->entry.failed_at = c->entry.failed_at;
  }
  /* A writer whose clock ran ahead: its fetch counts as made now, or
   * the policy would outlive its max_age here and win every merge. */
  fetched_at = c->entry.fetched_at < now ? c->entry.fetched_at : now;
  if (!c->entry.has_policy || c->body == NULL ||
      (rec->entry.has_policy && fetched_at <= rec->entry.fetched_at)) {
    return MTS_OK;
  }
  /* The parse keeps its own copy of the body. */
  if (mts_sts_policy_parse(r->ctx, c->body, c->body_len, &p) != MTS_OK) {
    return MTS_ENOMEM;
  }
  if (!mts_sts_policy_usable(p) || mts_sts_policy_mode(p) != c->entry.mode) {
    mts_log(r->ctx, MTS_LOG_INFO,
            "store %s: stored policy of %s ignored: not usable",
            mts_cache_name(r->store), rec->domain);
    mts_sts_policy_destroy(p);
    return MTS_OK;
  }
  mts_sts_policy_destroy(rec->policy);
  rec->policy = p;
  rec->entry.has_policy = true;
  memcpy(rec->entry.id, c->entry.id, sizeof(rec->entry.id));
  rec->entry.id[MTS_STS_ID_MAX] = '\0';
  rec->entry.mode = c->entry.mode;
  rec->entry.max_age = c->entry.max_age;
  rec->entry.fetched_at = fetched_at;
  /* The writer checked the TXT id no later than it wrote the record. */
  rec->txt_checked = true;
  rec->txt_checked_at = c->updated_at < now ? c->updated_at : now;
  rec->last_verdict = MTS_STS_V_POLICY;
  rec->neg_until = 0;
  rec->spare = true;
  return MTS_OK;
}

/* One record of the startup scan. */
static bool load_each(void *arg, const struct mts_cache_record *c) {
  struct rs_link *l = arg;
  struct mts_sts_resolver *r = l->r;
  struct rs_record *rec;
  size_t len;

  if (r == NULL) {
    return false;
  }
  if (r->nrecords >= r->o.cache_size) {
    return false; /* memory is full: the rest is asked for on a miss */
  }
  len = strnlen(c->domain, MTS_DOMAIN_MAX + 1);
  if (len == 0 || len > MTS_DOMAIN_MAX) {
    return true;
  }
  rec = rs_find(r, c->domain, len);
  if (rec != NULL) {
    /* Discovered meanwhile (during the load, or before a store that
     * opened late or was replaced): keep whichever is newer of each
     * part, so the write-back after a reset cannot replace a stored
     * policy with a memory record that never saw it. */
    if (rec_adopt(r, rec, c) != MTS_OK) {
      store_failed(r, "load (out of memory)", MTS_ENOMEM);
      return false;
    }
    return true;
  }
  rec = rec_create(r, c->domain, len);
  if (rec == NULL || rec_adopt(r, rec, c) != MTS_OK) {
    if (rec != NULL) {
      rec_remove(r, rec);
    }
    store_failed(r, "load (out of memory)", MTS_ENOMEM);
    return false;
  }
  if (!rec->entry.has_policy && rec->entry.failed_id[0] == '\0') {
    rec_remove(r, rec);
    return true;
  }
  r->loaded++;
  return true;
}

static void load_done(void *arg, enum mts_status st) {
  struct rs_link *l = arg;
  struct mts_sts_resolver *r = l->r;

  l->pending--;
  if (r != NULL) {
    r->loading = false;
    if (st != MTS_OK) {
      store_failed(r, "load", st);
    }
    mts_log(r->ctx, MTS_LOG_INFO, "store %s: loaded %zu record(s)%s",
            mts_cache_name(r->store), r->loaded,
            st == MTS_OK ? "" : " before failing");
    if (r->resync_after_load && !r->destroyed) {
      r->resync_after_load = false;
      store_resync(r);
    }
  }
  link_release(l);
}

/* ------------------------------------------------------------- logging */

static void log_policy(struct mts_sts_resolver *r, const struct rs_record *rec,
                       const char *id, const struct mts_sts_policy *p,
                       const char *result) {
  char qd[RS_LOG_QUOTE];
  char qi[RS_LOG_QUOTE];

  if (!mts_log_enabled(r->ctx, MTS_LOG_INFO)) {
    return;
  }
  mts_log(r->ctx, MTS_LOG_INFO,
          "policy domain=%s id=%s mode=%s max_age=%lld mx=%zu result=%s",
          esc(rec->domain, qd, sizeof(qd)), esc(id, qi, sizeof(qi)),
          mts_sts_mode_str(mts_sts_policy_mode(p)),
          (long long)mts_sts_policy_max_age(p), mts_sts_policy_mx_count(p),
          result);
}

/* One line per failure; WARNING when the operator must hear of it (a
 * cached policy of mode testing/enforce could not be refreshed, RFC
 * 8461 3.3), else INFO. */
static void log_failure(struct mts_sts_resolver *r, const struct rs_record *rec,
                        const char *id, enum mts_sts_verdict v,
                        const char *reason, bool refresh) {
  char qd[RS_LOG_QUOTE];
  char qi[RS_LOG_QUOTE];
  char qr[RS_LOG_QUOTE];
  bool alert = mts_sts_state_alert_on_failure(&rec->entry);
  enum mts_log_level lvl = alert ? MTS_LOG_WARNING : MTS_LOG_INFO;

  if (!mts_log_enabled(r->ctx, lvl)) {
    return;
  }
  if (refresh) {
    mts_log(r->ctx, lvl,
            "refresh failed domain=%s id=%s mode=%s result=%s reason=%s",
            esc(rec->domain, qd, sizeof(qd)),
            esc(id != NULL && id[0] != '\0' ? id : "-", qi, sizeof(qi)),
            rec->entry.has_policy ? mts_sts_mode_str(rec->entry.mode) : "-",
            mts_sts_verdict_str(v), esc(reason, qr, sizeof(qr)));
  } else {
    mts_log(r->ctx, lvl, "failure domain=%s id=%s result=%s reason=%s",
            esc(rec->domain, qd, sizeof(qd)),
            esc(id != NULL && id[0] != '\0' ? id : "-", qi, sizeof(qi)),
            mts_sts_verdict_str(v), esc(reason, qr, sizeof(qr)));
  }
}

/* ------------------------------------------------------------- flights */

static void flight_done(void *arg, struct mts_sts_discovery *d);
static void rs_pump(struct mts_sts_resolver *r);

static void flight_unlink(struct mts_sts_resolver *r, struct rs_flight *f) {
  if (f->prev != NULL) {
    f->prev->next = f->next;
  } else {
    r->flights = f->next;
  }
  if (f->next != NULL) {
    f->next->prev = f->prev;
  }
  f->prev = f->next = NULL;
}

/* Start the TXT stage of a new flight for \p rec. */
static void store_got(void *arg, enum mts_status st,
                      const struct mts_cache_record *c);

static enum mts_status flight_start(struct mts_sts_resolver *r,
                                    struct rs_record *rec, bool refresh,
                                    bool proactive, bool force,
                                    bool ask_store) {
  struct rs_flight *f;
  enum mts_status st;

  f = mts_calloc(r->ctx, 1, sizeof(*f));
  if (f == NULL) {
    return MTS_ENOMEM;
  }
  f->r = r;
  f->ctx = r->ctx;
  f->rec = rec;
  f->stage = RS_STAGE_TXT;
  f->refresh = refresh;
  f->proactive = proactive;
  f->force = force;
  st = MTS_EUNAVAIL;
  if (ask_store && r->store != NULL) {
    /* A memory miss asks the store first (part of the single flight):
     * another daemon of the fleet, or the startup load still running,
     * may know the domain. */
    f->stage = RS_STAGE_STORE;
    st = mts_cache_get(r->store, rec->domain, store_got, f);
    if (st != MTS_OK && st != MTS_EINVAL) {
      store_failed(r, "get", st);
    }
  }
  if (st != MTS_OK) {
    f->stage = RS_STAGE_TXT;
    st = mts_sts_discover(r->net, rec->domain, MTS_DISCOVER_TXT_ONLY,
                          flight_done, f);
    if (st != MTS_OK) {
      mts_free(r->ctx, f);
      return st;
    }
    r->stats.txt_queries++;
  }
  f->next = r->flights;
  if (r->flights != NULL) {
    r->flights->prev = f;
  }
  r->flights = f;
  rec->flight = f;
  if (proactive) {
    r->refresh_running++;
  }
  return MTS_OK;
}

/* The flight is over: release it and answer the waiters. */
static void flight_end(struct mts_sts_resolver *r, struct rs_flight *f,
                       const struct mts_sts_answer *once,
                       const char *temp_reason) {
  struct rs_record *rec = f->rec;
  bool proactive = f->proactive;

  flight_unlink(r, f);
  rec->flight = NULL;
  if (proactive) {
    r->refresh_running--;
  }
  /* \p once may borrow f->id: free f after the answers. */
  rec_answer_waiters(r, rec, once, temp_reason);
  mts_free(r->ctx, f);
  if (!r->destroyed) {
    rs_evict(r, NULL);
    if (proactive) {
      rs_pump(r);
    }
  }
}

/* Remember a negative answer for \p ttl seconds. \p ttl 0 (negative_ttl
 * 0: negative caching off) answers only the lookups waiting on the
 * current flight; the next lookup asks again. */
static void set_negative(struct mts_sts_resolver *r, struct rs_record *rec,
                         enum mts_sts_answer_kind kind, uint32_t ttl,
                         int64_t now) {
  rec->neg_kind = kind;
  rec->neg_until = ttl > 0 ? now + (int64_t)ttl : 0;
  rec->neg_once = ttl == 0;
  (void)r;
}

/* After the TXT stage: decide, and fetch or end. */
static void flight_txt(struct mts_sts_resolver *r, struct rs_flight *f,
                       struct mts_sts_discovery *d) {
  struct rs_record *rec = f->rec;
  int64_t now = mts_ctx_now(r->ctx);
  enum mts_sts_verdict v = mts_sts_discovery_verdict(d);
  enum mts_status dst = mts_sts_discovery_status(d);
  enum mts_sts_txt_outcome out;
  const char *txt_id = NULL;
  const char *fetch_id = NULL;
  struct mts_sts_decision dec;
  enum mts_status st;

  if (dst == MTS_ECANCELED || dst == MTS_ENOMEM) {
    /* Not an answer from the domain: nothing is recorded. */
    flight_end(r, f, NULL,
               dst == MTS_ENOMEM ? "out of memory" : "discovery canceled");
    return;
  }
  switch (v) {
  case MTS_STS_V_POLICY:
    out = MTS_STS_TXT_OUT_VALID;
    txt_id = mts_sts_txt_id(mts_sts_discovery_txt(d));
    break;
  case MTS_STS_V_NO_POLICY:
    out = MTS_STS_TXT_OUT_ABSENT;
    break;
  case MTS_STS_V_TXT_INVALID:
    out = MTS_STS_TXT_OUT_INVALID;
    break;
  default:
    out = MTS_STS_TXT_OUT_TEMPFAIL;
    break;
  }
  rec->txt_checked = true;
  rec->txt_checked_at = now;
  if (out != MTS_STS_TXT_OUT_VALID) {
    rec->last_verdict = v;
    rec_set_reason(r, rec, mts_sts_discovery_reason(d));
  }
  mts_sts_state_decide(&rec->entry, out, txt_id, now, &dec);
  if (dec.fetch) {
    fetch_id = txt_id;
  } else if (f->refresh) {
    /* RFC 8461 10.2: refresh regardless of the TXT record; the policy is
     * stored under the current id when the TXT lookup gave one, else
     * under the cached id (docs/decisions.md). */
    fetch_id = out == MTS_STS_TXT_OUT_VALID ? txt_id
               : rec->entry.has_policy      ? rec->entry.id
                                            : NULL;
    if (fetch_id != NULL && !f->force &&
        !mts_sts_state_may_fetch(&rec->entry, fetch_id, now)) {
      fetch_id = NULL;
    }
    if (fetch_id != NULL && fetch_id[0] == '\0') {
      fetch_id = NULL;
    }
  } else if (f->force && out == MTS_STS_TXT_OUT_VALID) {
    fetch_id = txt_id;
  }
  if (fetch_id != NULL) {
    size_t n = strnlen(fetch_id, MTS_STS_ID_MAX + 1);

    if (n > MTS_STS_ID_MAX) {
      n = MTS_STS_ID_MAX; /* cannot happen: decide/may_fetch refuse it */
    }
    memcpy(f->id, fetch_id, n);
    f->id[n] = '\0';
    f->stage = RS_STAGE_FETCH;
    st = mts_sts_discover(r->net, rec->domain, MTS_DISCOVER_SKIP_TXT,
                          flight_done, f);
    if (st == MTS_OK) {
      r->stats.fetches++;
      return;
    }
    flight_end(r, f, NULL,
               st == MTS_ENOMEM ? "out of memory" : "cannot start the fetch");
    return;
  }
  if (!mts_sts_entry_valid(&rec->entry, now)) {
    /* No policy applies. RFC 8461 3.3: without a valid cache, deliver as
     * though the domain has no MTA-STS; a DNS tempfail is TEMP
     * (AMBIG-TXT-3) and remembered briefly. */
    if (out == MTS_STS_TXT_OUT_TEMPFAIL) {
      set_negative(r, rec, MTS_ANSWER_TEMP, r->tempfail_ttl, now);
    } else {
      set_negative(r, rec, MTS_ANSWER_NONE, r->o.negative_ttl, now);
      if (out == MTS_STS_TXT_OUT_VALID) {
        /* FETCH-9: the id is in its fetch backoff. */
        rec->last_verdict = MTS_STS_V_FETCH_ERROR;
        rec_set_reason(r, rec, "the policy fetch for this id failed less "
                            "than 5 minutes ago (backoff)");
      }
    }
  }
  if (out == MTS_STS_TXT_OUT_INVALID || out == MTS_STS_TXT_OUT_TEMPFAIL) {
    log_failure(r, rec, NULL, v, mts_sts_discovery_reason(d), false);
  }
  flight_end(r, f, NULL, NULL);
}

/* After the fetch stage: record the policy or the failure. */
/* Whether the cached policy's body is \p body, byte for byte (for the
 * log: "refreshed" or "changed"). Out of memory says "changed". */
static bool rec_same_body(struct mts_sts_resolver *r,
                          const struct rs_record *rec, const uint8_t *body,
                          size_t blen) {
  size_t n = mts_sts_policy_text(rec->policy, NULL, 0);
  uint8_t *b;
  bool same;

  if (rec->policy == NULL || n != blen) {
    return false;
  }
  b = mts_malloc(r->ctx, n > 0 ? n : 1);
  if (b == NULL) {
    return false;
  }
  (void)mts_sts_policy_text(rec->policy, b, n);
  same = n == 0 || memcmp(b, body, n) == 0;
  mts_free(r->ctx, b);
  return same;
}

static void flight_fetch(struct mts_sts_resolver *r, struct rs_flight *f,
                         struct mts_sts_discovery *d) {
  struct rs_record *rec = f->rec;
  int64_t now = mts_ctx_now(r->ctx);
  enum mts_sts_verdict v = mts_sts_discovery_verdict(d);
  enum mts_status dst = mts_sts_discovery_status(d);
  const struct mts_sts_policy *p = mts_sts_discovery_policy(d);
  struct mts_sts_policy *np = NULL;
  const uint8_t *body;
  size_t blen = 0;
  bool had;
  bool same;
  enum mts_sts_mode mode;
  int64_t max_age;

  if (dst == MTS_ECANCELED || dst == MTS_ENOMEM) {
    flight_end(r, f, NULL,
               dst == MTS_ENOMEM ? "out of memory" : "discovery canceled");
    return;
  }
  if ((unsigned)v < 7) {
    r->stats.fetch_results[v]++;
  }
  if (v != MTS_STS_V_POLICY || p == NULL || !mts_sts_policy_usable(p)) {
    bool was_valid;

    if (v == MTS_STS_V_POLICY) {
      v = MTS_STS_V_POLICY_INVALID; /* cannot happen: discover checks */
    }
    /* C04, C05, C11, F25: back off this id; the cached policy (if any,
     * and valid) keeps applying. */
    mts_sts_state_fetch_failed(&rec->entry, f->id, now);
    rec->last_verdict = v;
    rec_set_reason(r, rec, mts_sts_discovery_reason(d));
    if (f->refresh) {
      r->stats.refresh_failures++;
    }
    log_failure(r, rec, f->id, v, mts_sts_discovery_reason(d), f->refresh);
    /* The backoff, for a restart and for the fleet, merged with what
     * the store holds (it may know a policy this memory does not). */
    store_merge_sync(r, rec);
    was_valid = mts_sts_entry_valid(&rec->entry, now);
    if (!was_valid) {
      /* FETCH-11: deliver as though no MTA-STS. */
      set_negative(r, rec, MTS_ANSWER_NONE, r->o.negative_ttl, now);
    }
    flight_end(r, f, NULL, NULL);
    return;
  }
  body = mts_sts_discovery_body(d, &blen);
  mode = mts_sts_policy_mode(p);
  max_age = mts_sts_policy_max_age(p);
  had = rec->entry.has_policy;
  same = had && strcmp(rec->entry.id, f->id) == 0 &&
         rec_same_body(r, rec, body, blen);
  if (max_age > 0) {
    /* Our own parse (with its own copy of the body): the discovery's
     * goes with the discovery. */
    if (mts_sts_policy_parse(r->ctx, body, blen, &np) != MTS_OK) {
      goto oom;
    }
  }
  if (mts_sts_state_fetched(&rec->entry, f->id, mode, max_age, now)) {
    mts_sts_policy_destroy(rec->policy);
    rec->policy = np;
    rec->spare = true;
    rec->neg_until = 0;
    rec->last_verdict = MTS_STS_V_POLICY;
    rec_drop_reason(r, rec);
    log_policy(r, rec, f->id, p, !had ? "new" : same ? "refreshed" : "changed");
    store_sync(r, rec);
    flight_end(r, f, NULL, NULL);
    return;
  }
  /* AMBIG-POL-5: max_age 0 is applied to the waiting lookups only; the
   * state machine has reset the entry (the new policy supersedes any
   * cached one). */
  mts_sts_policy_destroy(np);
  mts_sts_policy_destroy(rec->policy);
  rec->policy = NULL;
  rec->neg_until = 0;
  rec->last_verdict = MTS_STS_V_POLICY;
  rec_drop_reason(r, rec);
  log_policy(r, rec, f->id, p, "once");
  r->removals++; /* a merge read queued before this must not undo it */
  store_sync(r, rec); /* the superseded policy goes from the store too */
  {
    struct mts_sts_answer a;

    memset(&a, 0, sizeof(a));
    a.kind = kind_of_mode(mode);
    a.domain = rec->domain;
    a.policy = p;
    a.id = f->id;
    a.last_verdict = MTS_STS_V_POLICY;
    a.reason = "policy with max_age 0: applied, not cached";
    flight_end(r, f, &a, NULL);
  }
  return;
oom:
  mts_sts_policy_destroy(np);
  flight_end(r, f, NULL, "out of memory");
}

/* The store's answer on a memory miss: adopt what it knows; a valid
 * policy ends the flight, anything else goes on to DNS. */
static void store_got(void *arg, enum mts_status st,
                      const struct mts_cache_record *c) {
  struct rs_flight *f = arg;
  struct mts_sts_resolver *r = f->r;
  struct rs_record *rec;
  enum mts_status dst;

  if (r == NULL) {
    mts_free(f->ctx, f);
    return;
  }
  rs_enter(r);
  rec = f->rec;
  if (st == MTS_OK && c != NULL) {
    store_ok(r, false);
    if (rec_adopt(r, rec, c) != MTS_OK) {
      flight_end(r, f, NULL, "out of memory");
      goto done;
    }
  } else if (st == MTS_ENOTFOUND) {
    store_ok(r, false);
  } else if (st != MTS_ECANCELED) {
    store_failed(r, "get", st);
  }
  if (mts_sts_entry_valid(&rec->entry, mts_ctx_now(r->ctx))) {
    flight_end(r, f, NULL, NULL);
    goto done;
  }
  f->stage = RS_STAGE_TXT;
  dst = mts_sts_discover(r->net, rec->domain, MTS_DISCOVER_TXT_ONLY,
                         flight_done, f);
  if (dst != MTS_OK) {
    flight_end(r, f, NULL,
               dst == MTS_ENOMEM ? "out of memory" : "cannot start discovery");
    goto done;
  }
  r->stats.txt_queries++;
done:
  rs_leave(r);
}

/* Discovery completion (TXT and fetch stages). Owns \p d. */
static void flight_done(void *arg, struct mts_sts_discovery *d) {
  struct rs_flight *f = arg;
  struct mts_sts_resolver *r = f->r;

  if (r == NULL) {
    /* The resolver is gone: drop the result. */
    mts_free(f->ctx, f);
    mts_sts_discovery_destroy(d);
    return;
  }
  rs_enter(r);
  if (f->stage == RS_STAGE_TXT) {
    flight_txt(r, f, d);
  } else {
    flight_fetch(r, f, d);
  }
  mts_sts_discovery_destroy(d);
  rs_leave(r);
}

/* ------------------------------------------------------------- refresh */

static void pump_fired(uv_timer_t *t) {
  struct mts_sts_resolver *r = t->data;

  rs_enter(r);
  rs_pump(r);
  rs_leave(r);
}

/* Start queued refreshes whose jitter has passed, up to the concurrency
 * limit; re-arm the pump for the next one. */
static void rs_pump(struct mts_sts_resolver *r) {
  uint64_t now = uv_now(r->loop);
  uint64_t next = UINT64_MAX;
  struct rs_record *rec = r->rq_head;

  while (rec != NULL && r->refresh_running < r->o.refresh_concurrency) {
    struct rs_record *nx = rec->rq_next;

    if (rec->rq_start <= now) {
      rq_unlink(r, rec);
      if (rec->flight == NULL &&
          flight_start(r, rec, true, true, false, false) != MTS_OK) {
        r->stats.refresh_failures++;
      }
    } else if (rec->rq_start < next) {
      next = rec->rq_start;
    }
    rec = nx;
  }
  if (next != UINT64_MAX && r->refresh_running < r->o.refresh_concurrency) {
    (void)uv_timer_start(&r->pump_timer, pump_fired, next - now, 0);
  }
}

/* The refresh threshold: refresh_interval / refresh_grace_ratio seconds
 * (longer than the interval when the ratio is below 1). */
static int64_t rs_refresh_after(const struct mts_sts_resolver *r) {
  double t = (double)r->o.refresh_interval / r->o.refresh_grace_ratio;

  return (int64_t)(t < RS_REFRESH_AFTER_MAX ? t : RS_REFRESH_AFTER_MAX);
}

static void scan_fired(uv_timer_t *t) {
  struct mts_sts_resolver *r = t->data;
  int64_t now = mts_ctx_now(r->ctx);
  int64_t after = rs_refresh_after(r);
  uint64_t jmax = (uint64_t)r->o.refresh_jitter * 1000u;
  struct rs_record *rec;

  rs_enter(r);
  for (rec = r->lru_head; rec != NULL; rec = rec->lru_next) {
    /* Skip while the cached id, or the last id that failed (maybe a
     * newer one from the TXT record), is in its fetch backoff: the
     * refresh could not fetch it anyway. */
    if (rec->flight != NULL || rec->queued ||
        !mts_sts_state_refresh_due(&rec->entry, after, now) ||
        !mts_sts_state_may_fetch(&rec->entry, rec->entry.id, now) ||
        (rec->entry.failed_id[0] != '\0' &&
         !mts_sts_state_may_fetch(&rec->entry, rec->entry.failed_id, now))) {
      continue;
    }
    rec->queued = true;
    rec->rq_start =
        uv_now(r->loop) + (jmax > 0 ? rs_random(r) % (jmax + 1) : 0);
    rec->rq_next = NULL;
    rec->rq_prev = r->rq_tail;
    if (r->rq_tail != NULL) {
      r->rq_tail->rq_next = rec;
    } else {
      r->rq_head = rec;
    }
    r->rq_tail = rec;
  }
  rs_pump(r);
  rs_leave(r);
}

/* ------------------------------------------------------------- public */

void mts_sts_resolver_options_init(struct mts_sts_resolver_options *o) {
  if (o == NULL) {
    return;
  }
  memset(o, 0, sizeof(*o));
  o->cache_size = RS_CACHE_SIZE_DEFAULT;
  o->cache_grace = RS_GRACE_DEFAULT;
  o->negative_ttl = RS_NEGATIVE_TTL_DEFAULT;
  o->refresh_enabled = false;
  o->refresh_interval = RS_REFRESH_INTERVAL_DEFAULT;
  o->refresh_grace_ratio = RS_REFRESH_RATIO_DEFAULT;
  o->refresh_concurrency = RS_REFRESH_CONCURRENCY_DEFAULT;
  o->refresh_jitter = 0;
  o->store = NULL;
}

static void timer_closed(uv_handle_t *h) {
  struct mts_sts_resolver *r = h->data;

  r->handles--;
  rs_free_if_done(r);
}

enum mts_status
mts_sts_resolver_create(struct mts_ctx *ctx, struct mts_net *net,
                        const struct mts_sts_resolver_options *o,
                        struct mts_sts_resolver **out) {
  struct mts_sts_resolver *r = NULL;
  uint64_t seed[3];
  enum mts_status st = MTS_OK;

  if (out != NULL) {
    *out = NULL;
  }
  if (ctx == NULL || net == NULL || out == NULL) {
    return MTS_EINVAL;
  }
  r = mts_calloc(ctx, 1, sizeof(*r));
  if (r == NULL) {
    return MTS_ENOMEM;
  }
  r->ctx = ctx;
  r->net = net;
  r->loop = net->loop;
  if (o != NULL) {
    r->o = *o;
  } else {
    mts_sts_resolver_options_init(&r->o);
  }
  /* cache_grace 0 (a TXT id check at every hit, in the background) and
   * negative_ttl 0 (no negative caching) are settings, not "unset": the
   * defaults come from mts_sts_resolver_options_init(). */
  if (r->o.cache_size == 0) {
    r->o.cache_size = RS_CACHE_SIZE_DEFAULT;
  }
  if (r->o.refresh_interval == 0) {
    r->o.refresh_interval = RS_REFRESH_INTERVAL_DEFAULT;
  }
  if (!(r->o.refresh_grace_ratio > 0.0 &&
        r->o.refresh_grace_ratio <= DBL_MAX)) {
    /* 0 (and nonsense: NaN, negative, infinite) mean the default. Below
     * 1 is a setting: the threshold is then longer than the interval. */
    r->o.refresh_grace_ratio = RS_REFRESH_RATIO_DEFAULT;
  }
  if (r->o.refresh_concurrency == 0) {
    r->o.refresh_concurrency = RS_REFRESH_CONCURRENCY_DEFAULT;
  }
  r->tempfail_ttl =
      r->o.negative_ttl < RS_TEMPFAIL_TTL ? r->o.negative_ttl : RS_TEMPFAIL_TTL;
  if (uv_random(NULL, NULL, seed, sizeof(seed), 0, NULL) != 0) {
    st = MTS_EINTERNAL;
    goto done;
  }
  r->sip_k0 = seed[0];
  r->sip_k1 = seed[1];
  r->rng = seed[2];
  r->nbuckets = RS_BUCKETS_MIN;
  r->buckets = mts_calloc(ctx, r->nbuckets, sizeof(*r->buckets));
  if (r->buckets == NULL) {
    st = MTS_ENOMEM;
    goto done;
  }
  r->store = r->o.store;
  if (r->store != NULL) {
    enum mts_status sst;

    r->link = mts_calloc(ctx, 1, sizeof(*r->link));
    if (r->link == NULL) {
      st = MTS_ENOMEM;
      goto done;
    }
    r->link->r = r;
    r->link->ctx = ctx;
    mts_cache_on_reset(r->store, store_reset, r);
    /* Load every stored record. Lookups do not wait for the load: a
     * memory miss asks the store itself (docs/decisions.md). */
    sst = mts_cache_scan(r->store, load_each, load_done, r->link);
    if (sst == MTS_OK) {
      r->link->pending++;
      r->loading = true;
    } else {
      store_failed(r, "load", sst);
    }
  }
  if (r->o.refresh_enabled) {
    uint64_t ms = (uint64_t)rs_refresh_after(r) * 1000u / 2u;

    if (ms < RS_SCAN_MS_MIN) {
      ms = RS_SCAN_MS_MIN;
    }
    if (ms > RS_SCAN_MS_MAX) {
      ms = RS_SCAN_MS_MAX;
    }
    (void)uv_timer_init(r->loop, &r->scan_timer);
    (void)uv_timer_init(r->loop, &r->pump_timer);
    r->scan_timer.data = r;
    r->pump_timer.data = r;
    r->timers_init = true;
    r->handles += 2;
    (void)uv_timer_start(&r->scan_timer, scan_fired, ms, ms);
  }
  *out = r;
  r = NULL;
done:
  if (r != NULL) {
    mts_free(ctx, r->link);
    mts_free(ctx, r->buckets);
    mts_free(ctx, r);
  }
  return st;
}

/* Answer every pending lookup with TEMP, orphan the flights, free the
 * records, close the timers. \p r is freed when its handles have closed. */
static void rs_teardown(struct mts_sts_resolver *r) {
  struct rs_flight *f;
  struct rs_record *rec;

  r->destroyed = true;
  r->depth++; /* callbacks below may call in; keep r alive */
  for (rec = r->lru_head; rec != NULL; rec = rec->lru_next) {
    rec->pinned++;
    while (rec->w_head != NULL) {
      struct mts_sts_answer a;

      memset(&a, 0, sizeof(a));
      a.kind = MTS_ANSWER_TEMP;
      a.domain = rec->domain;
      a.last_verdict = rec->last_verdict;
      a.reason = "resolver shutting down";
      waiter_answer(rec->w_head, &a);
    }
    rec->pinned--;
  }
  for (f = r->flights; f != NULL; f = f->next) {
    f->r = NULL; /* flight_done frees it later */
    f->rec = NULL;
  }
  r->flights = NULL;
  while (r->lru_head != NULL) {
    rec = r->lru_head;
    rec->flight = NULL;
    rec_remove(r, rec);
  }
  mts_free(r->ctx, r->buckets);
  r->buckets = NULL;
  r->resyncing = false;
  mts_cache_on_reset(r->store, NULL, NULL);
  if (r->link != NULL) {
    r->link->r = NULL; /* store callbacks still due free it */
    link_release(r->link);
    r->link = NULL;
  }
  if (r->timers_init) {
    uv_close((uv_handle_t *)&r->scan_timer, timer_closed);
    uv_close((uv_handle_t *)&r->pump_timer, timer_closed);
  }
  r->depth--;
}

void mts_sts_resolver_destroy(struct mts_sts_resolver *r) {
  if (r == NULL || r->destroyed) {
    return;
  }
  r->destroy_pending = true;
  if (r->depth > 0) {
    return; /* from a callback: rs_leave() finishes it */
  }
  rs_teardown(r);
  rs_free_if_done(r);
}

static bool domain_ok(const char *domain, size_t *len) {
  *len = domain != NULL ? strnlen(domain, MTS_DOMAIN_MAX + 1) : 0;
  return *len > 0 && *len <= MTS_DOMAIN_MAX;
}

enum mts_status mts_sts_resolver_lookup(struct mts_sts_resolver *r,
                                        const char *domain,
                                        uint32_t deadline_ms,
                                        mts_sts_resolver_cb cb, void *arg,
                                        struct mts_sts_lookup **handle) {
  struct rs_record *rec;
  struct mts_sts_lookup *w = NULL;
  struct mts_sts_answer a;
  enum mts_status st = MTS_OK;
  bool created = false;
  int64_t now;
  size_t len;

  if (handle != NULL) {
    *handle = NULL;
  }
  if (r == NULL || cb == NULL || !domain_ok(domain, &len)) {
    return MTS_EINVAL;
  }
  if (r->destroy_pending) {
    return MTS_ECANCELED;
  }
  rs_enter(r);
  now = mts_ctx_now(r->ctx);
  r->stats.lookups++;
  rec = rs_find(r, domain, len);
  if (rec != NULL) {
    lru_touch(r, rec);
    rec->spare = true; /* used: a second chance at the LRU tail */
    if (rec_answer_now(rec, now, &a)) {
      /* A hit. With a valid policy whose TXT id was last checked
       * cache_grace or more ago (cache_grace 0: at every hit), check it
       * in the background (single flight: not while one runs); the
       * answer does not wait for it. */
      if (a.policy != NULL && rec->flight == NULL &&
          (!rec->txt_checked ||
           now - rec->txt_checked_at >= (int64_t)r->o.cache_grace)) {
        (void)flight_start(r, rec, false, false, false, false);
      }
      a.from_cache = true;
      r->stats.hits++;
      rs_count_answer(r, &a);
      rec->pinned++;
      cb(arg, &a);
      rec->pinned--;
      goto done;
    }
  } else {
    rec = rec_create(r, domain, len);
    if (rec == NULL) {
      st = MTS_ENOMEM;
      goto done;
    }
    created = true;
  }
  w = mts_calloc(r->ctx, 1, sizeof(*w));
  if (w == NULL) {
    st = MTS_ENOMEM;
    goto fail;
  }
  if (rec->flight == NULL) {
    st = flight_start(r, rec, false, false, false, true);
    if (st != MTS_OK) {
      goto fail;
    }
  }
  (void)uv_timer_init(r->loop, &w->timer);
  r->handles++;
  w->timer.data = w;
  w->r = r;
  w->rec = rec;
  w->cb = cb;
  w->arg = arg;
  w->prev = rec->w_tail;
  if (rec->w_tail != NULL) {
    rec->w_tail->next = w;
  } else {
    rec->w_head = w;
  }
  rec->w_tail = w;
  (void)uv_timer_start(&w->timer, waiter_deadline, deadline_ms, 0);
  if (handle != NULL) {
    *handle = w;
  }
  goto done;
fail:
  mts_free(r->ctx, w);
  if (created && !rec_busy(rec)) {
    rec_remove(r, rec);
  }
done:
  rs_leave(r);
  return st;
}

void mts_sts_lookup_cancel(struct mts_sts_lookup *l) {
  if (l == NULL || l->rec == NULL) {
    return;
  }
  waiter_unlink(l);
}

enum mts_status mts_sts_resolver_purge(struct mts_sts_resolver *r,
                                       const char *domain) {
  struct rs_record *rec;
  size_t len;

  if (r == NULL || !domain_ok(domain, &len)) {
    return MTS_EINVAL;
  }
  if (r->destroy_pending) {
    return MTS_ECANCELED;
  }
  if (r->store != NULL) {
    enum mts_status st = mts_cache_del(r->store, domain, store_done, r->link);

    if (st == MTS_OK) {
      r->link->pending++;
    } else if (st != MTS_EINVAL) {
      store_failed(r, "delete", st);
    }
  }
  r->removals++; /* a merge read queued before this must not undo it */
  rec = rs_find(r, domain, len);
  if (rec == NULL) {
    return MTS_OK;
  }
  rq_unlink(r, rec);
  if (rec_busy(rec)) {
    /* A running flight still lands its result in this record. */
    rec_clear(r, rec);
  } else {
    rec_remove(r, rec);
  }
  return MTS_OK;
}

enum mts_status mts_sts_resolver_refresh(struct mts_sts_resolver *r,
                                         const char *domain) {
  struct rs_record *rec;
  enum mts_status st = MTS_OK;
  bool created = false;
  size_t len;

  if (r == NULL || !domain_ok(domain, &len)) {
    return MTS_EINVAL;
  }
  if (r->destroy_pending) {
    return MTS_ECANCELED;
  }
  rs_enter(r);
  rec = rs_find(r, domain, len);
  if (rec == NULL) {
    rec = rec_create(r, domain, len);
    if (rec == NULL) {
      st = MTS_ENOMEM;
      goto done;
    }
    created = true;
  }
  rec->neg_until = 0;
  rq_unlink(r, rec);
  if (rec->flight == NULL) {
    st = flight_start(r, rec, rec->entry.has_policy, false, true, false);
    if (st != MTS_OK && created && !rec_busy(rec)) {
      rec_remove(r, rec);
    }
  }
done:
  rs_leave(r);
  return st;
}

/* The public view of \p rec (borrowed pointers into it). */
static void rec_view(const struct rs_record *rec,
                     struct mts_sts_resolver_record *out) {
  memset(out, 0, sizeof(*out));
  out->domain = rec->domain;
  out->entry = &rec->entry;
  out->policy = rec->entry.has_policy ? rec->policy : NULL;
  if (rec->entry.has_policy) {
    out->expires = rec->entry.fetched_at > INT64_MAX - rec->entry.max_age
                       ? INT64_MAX
                       : rec->entry.fetched_at + rec->entry.max_age;
  }
  out->txt_checked = rec->txt_checked;
  out->txt_checked_at = rec->txt_checked_at;
  out->neg_until = rec->neg_until;
  out->last_verdict = rec->last_verdict;
  out->reason = rec_reason(rec);
  out->inflight = rec->flight != NULL;
}

void mts_sts_resolver_each(const struct mts_sts_resolver *r,
                           mts_sts_resolver_each_cb cb, void *arg) {
  const struct rs_record *rec;
  struct mts_sts_resolver_record v;

  if (r == NULL || cb == NULL) {
    return;
  }
  for (rec = r->lru_head; rec != NULL; rec = rec->lru_next) {
    rec_view(rec, &v);
    if (!cb(arg, &v)) {
      break;
    }
  }
}

enum mts_status mts_sts_resolver_get(const struct mts_sts_resolver *r,
                                     const char *domain,
                                     struct mts_sts_resolver_record *out) {
  const struct rs_record *rec;
  size_t len;

  if (out != NULL) {
    memset(out, 0, sizeof(*out));
  }
  if (r == NULL || out == NULL || !domain_ok(domain, &len)) {
    return MTS_EINVAL;
  }
  rec = rs_find(r, domain, len);
  if (rec == NULL) {
    return MTS_ENOTFOUND;
  }
  rec_view(rec, out);
  return MTS_OK;
}

void mts_sts_resolver_stats(const struct mts_sts_resolver *r,
                            struct mts_sts_resolver_stats *out) {
  const struct rs_record *rec;

  if (out == NULL) {
    return;
  }
  memset(out, 0, sizeof(*out));
  if (r == NULL) {
    return;
  }
  *out = r->stats;
  memset(out->policies, 0, sizeof(out->policies));
  for (rec = r->lru_head; rec != NULL; rec = rec->lru_next) {
    if (rec->entry.has_policy && (unsigned)rec->entry.mode < 4) {
      out->policies[rec->entry.mode]++;
    }
    if (rec->flight != NULL) {
      out->inflight++;
    }
  }
  out->records = r->nrecords;
}
