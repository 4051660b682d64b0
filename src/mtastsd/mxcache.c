/*
 * mxcache.c - per-domain MX host sets for wildcard expansion. See
 * mxcache.h and docs/decisions.md AN-2.
 *
 * Entries live on one list, most recently used first (for eviction, at
 * MTASTSD_MX_ENTRIES_MAX), and in a hash index by domain: a lookup is
 * made on every answer, so it must not walk the list (the benchmark saw
 * cached lookups fall to 3k/s with a linear search over 10,000 domains).
 */
#include "mxcache.h"
#include "dhash.h"

#include <stdlib.h>
#include <string.h>

#include <mtasts/limits.h>
#include <mtasts/sts_policy.h>

#define M_LOG "MX"

struct entry;

/* An MX query in flight; detached (c NULL) when the cache goes first. */
struct mxop {
  struct mtastsd_mxcache *c;
  struct mxop *prev, *next;
  char domain[MTS_DOMAIN_MAX + 1];
};

struct mtastsd_mxwait {
  struct mtastsd_mxwait *prev, *next;
  struct entry *e;
  mtastsd_mx_cb cb;
  void *arg;
  struct mts_sts_answer a; /* a copy; its strings and policy below */
  struct mts_sts_policy *policy;
  char *domain, *id, *reason;
};

/* Sized to its domain, and its set is one block (the host pointers, then
 * the names): about 150 bytes per domain with one MX host, against 850
 * with fixed arrays (heaptrack, 20,000 cached domains). */
struct entry {
  struct entry *prev, *next; /* LRU list, head: most recent */
  struct entry *hnext;       /* hash chain */
  struct mtastsd_mxset set;  /* hosts: the block below, or NULL */
  char **block;              /* set.n pointers, then the names */
  bool have;            /* set holds a resolved set */
  uint64_t fetched_ms;  /* when it was resolved */
  uint64_t ttl_ms;      /* its lifetime (from the latest policy) */
  uint64_t retry_ms;    /* after a failure: no new lookup before this */
  struct mxop *op;      /* in flight */
  struct mtastsd_mxwait *waiters;
  char domain[];
};

struct mtastsd_mxcache {
  uv_loop_t *loop;
  struct mts_ctx *ctx;
  struct mts_net *net;
  struct mtastsd_log *log;
  struct entry *head, *tail;
  size_t n;
  struct entry **buckets; /* index by domain (a power of two of them) */
  size_t nbuckets;
  struct mxop *ops;
};

static struct entry **bucket(struct mtastsd_mxcache *c, const char *domain) {
  return &c->buckets[mtastsd_dhash(domain) & (c->nbuckets - 1)];
}

/* ---- entries ---- */

static void set_hosts_free(struct entry *e) {
  free(e->block);
  e->block = NULL;
  e->set.hosts = NULL;
  e->set.n = 0;
}

static void lru_unlink(struct mtastsd_mxcache *c, struct entry *e) {
  if (e->prev != NULL) {
    e->prev->next = e->next;
  } else {
    c->head = e->next;
  }
  if (e->next != NULL) {
    e->next->prev = e->prev;
  } else {
    c->tail = e->prev;
  }
  e->prev = e->next = NULL;
}

static void lru_front(struct mtastsd_mxcache *c, struct entry *e) {
  e->next = c->head;
  e->prev = NULL;
  if (c->head != NULL) {
    c->head->prev = e;
  } else {
    c->tail = e;
  }
  c->head = e;
}

static void wait_free(struct mtastsd_mxwait *w) {
  mts_sts_policy_destroy(w->policy);
  free(w->domain);
  free(w->id);
  free(w->reason);
  free(w);
}

static void wait_unlink(struct mtastsd_mxwait *w) {
  if (w->prev != NULL) {
    w->prev->next = w->next;
  } else if (w->e != NULL) {
    w->e->waiters = w->next;
  }
  if (w->next != NULL) {
    w->next->prev = w->prev;
  }
  w->prev = w->next = NULL;
  w->e = NULL;
}

static void entry_free(struct mtastsd_mxcache *c, struct entry *e) {
  struct mtastsd_mxwait *w;
  struct entry **pp;

  for (pp = bucket(c, e->domain); *pp != NULL; pp = &(*pp)->hnext) {
    if (*pp == e) {
      *pp = e->hnext;
      break;
    }
  }
  lru_unlink(c, e);
  c->n--;
  while ((w = e->waiters) != NULL) {
    wait_unlink(w);
    wait_free(w);
  }
  set_hosts_free(e);
  free(e);
}

static struct entry *find(struct mtastsd_mxcache *c, const char *domain) {
  struct entry *e;

  for (e = *bucket(c, domain); e != NULL; e = e->hnext) {
    if (strcmp(e->domain, domain) == 0) {
      return e;
    }
  }
  return NULL;
}

static struct entry *insert(struct mtastsd_mxcache *c, const char *domain) {
  struct entry *e;
  size_t len = strlen(domain);

  if (len > MTS_DOMAIN_MAX) {
    return NULL;
  }
  /* Make room: the least recently used idle entry goes. */
  for (e = c->tail; c->n >= MTASTSD_MX_ENTRIES_MAX && e != NULL;) {
    struct entry *prev = e->prev;

    if (e->op == NULL && e->waiters == NULL) {
      entry_free(c, e);
    }
    e = prev;
  }
  e = calloc(1, sizeof(*e) + len + 1);
  if (e == NULL) {
    return NULL;
  }
  memcpy(e->domain, domain, len + 1);
  e->hnext = *bucket(c, domain);
  *bucket(c, domain) = e;
  lru_front(c, e);
  c->n++;
  return e;
}

/* ---- the MX answer ---- */

/* Whether mx[i]'s name is kept: not a null MX, not seen before i. */
static bool kept(const struct mts_net_mx *mx, size_t i) {
  const char *h = mx[i].exchange;
  size_t j;

  if (h == NULL || h[0] == '\0') {
    return false; /* null MX (RFC 7505): no host */
  }
  for (j = 0; j < i; j++) {
    if (mx[j].exchange != NULL && strcmp(mx[j].exchange, h) == 0) {
      return false;
    }
  }
  return true;
}

/* Replace e's set by \p names (NULL-safe strings). \return false: out of
 * memory (the old set is gone then: e->have false). */
static bool set_replace(struct entry *e, const struct mts_net_mx *mx, size_t n,
                        const char *implicit) {
  size_t i, k = 0, bytes = 0;
  char *p;

  set_hosts_free(e);
  e->have = false;
  /* Count the names kept (at most MTASTSD_MX_HOSTS_MAX) and their bytes. */
  if (implicit != NULL) {
    k = 1;
    bytes = strlen(implicit) + 1;
  } else {
    for (i = 0; i < n && k < MTASTSD_MX_HOSTS_MAX; i++) {
      if (kept(mx, i)) {
        k++;
        bytes += strlen(mx[i].exchange) + 1;
      }
    }
  }
  if (k > 0) {
    e->block = malloc(k * sizeof(char *) + bytes);
    if (e->block == NULL) {
      return false;
    }
    p = (char *)(e->block + k);
    if (implicit != NULL) {
      e->block[0] = p;
      memcpy(p, implicit, bytes);
    } else {
      for (i = 0, k = 0; i < n && k < MTASTSD_MX_HOSTS_MAX; i++) {
        size_t len;

        if (!kept(mx, i)) {
          continue;
        }
        len = strlen(mx[i].exchange) + 1;
        e->block[k++] = p;
        memcpy(p, mx[i].exchange, len);
        p += len;
      }
    }
    e->set.hosts = (const char *const *)e->block;
  }
  e->set.n = k;
  e->have = true;
  return true;
}

static void deliver(struct entry *e) {
  struct mtastsd_mxwait *w;

  while ((w = e->waiters) != NULL) {
    const struct mtastsd_mxset *set = e->have ? &e->set : NULL;

    wait_unlink(w);
    w->cb(w->arg, &w->a, set);
    wait_free(w);
  }
}

static void op_unlink(struct mtastsd_mxcache *c, struct mxop *op) {
  if (op->prev != NULL) {
    op->prev->next = op->next;
  } else if (c != NULL) {
    c->ops = op->next;
  }
  if (op->next != NULL) {
    op->next->prev = op->prev;
  }
}

static void on_mx(void *arg, enum mts_status st, const struct mts_net_mx *mx,
                  size_t n, bool ad, const char *errmsg) {
  struct mxop *op = arg;
  struct mtastsd_mxcache *c = op->c;
  struct entry *e;
  uint64_t now;
  bool ok = true;

  (void)ad;
  op_unlink(c, op);
  if (c == NULL) {
    free(op);
    return;
  }
  e = find(c, op->domain);
  if (e == NULL || e->op != op) {
    free(op);
    return;
  }
  e->op = NULL;
  free(op);
  now = uv_now(c->loop);
  if (st == MTS_OK) {
    ok = set_replace(e, mx, n, NULL);
  } else if (st == MTS_ENXDOMAIN || st == MTS_ENODATA) {
    /* RFC 5321 5.1: no MX records, the domain itself is the MX host. */
    ok = set_replace(e, NULL, 0, e->domain);
  } else if (st != MTS_ECANCELED) {
    LOG_W(c->log, M_LOG,
          "MX lookup of %s failed (%s): %s", e->domain,
          errmsg != NULL ? errmsg : mts_status_str(st),
          e->have ? "its wildcard patterns are expanded from the last known "
                    "MX set"
                  : "its wildcard patterns are answered as .suffix, looser "
                    "than RFC 8461 4.1 (any depth of subdomain)");
    e->retry_ms = now + MTASTSD_MX_RETRY * 1000u;
    deliver(e);
    return;
  }
  if (!ok) {
    LOG_W(c->log, M_LOG, "out of memory for the MX set of %s", e->domain);
    e->retry_ms = now + MTASTSD_MX_RETRY * 1000u;
  } else if (st != MTS_ECANCELED) {
    e->fetched_ms = now;
    e->retry_ms = 0;
    LOG_D(c->log, M_LOG, "MX set of %s: %zu host(s)%s", e->domain, e->set.n,
          st == MTS_OK ? "" : " (implicit MX)");
  }
  deliver(e);
}

/* Start resolving e. \return false when it could not start. */
static bool start(struct mtastsd_mxcache *c, struct entry *e) {
  struct mxop *op = calloc(1, sizeof(*op));
  enum mts_status st;

  if (op == NULL) {
    return false;
  }
  op->c = c;
  memcpy(op->domain, e->domain, strlen(e->domain) + 1);
  st = mts_net_dns_mx(c->net, e->domain, on_mx, op);
  if (st != MTS_OK) {
    LOG_W(c->log, M_LOG, "MX lookup of %s not started: %s", e->domain,
          mts_status_str(st));
    free(op);
    return false;
  }
  op->next = c->ops;
  if (c->ops != NULL) {
    c->ops->prev = op;
  }
  c->ops = op;
  e->op = op;
  return true;
}

/* ---- waits ---- */

static char *dup_or_null(const char *s, bool *oom) {
  char *d;

  if (s == NULL) {
    return NULL;
  }
  d = strdup(s);
  if (d == NULL) {
    *oom = true;
  }
  return d;
}

/* The policy again, from its exact text (the resolver's is borrowed). */
static struct mts_sts_policy *policy_copy(struct mts_ctx *ctx,
                                          const struct mts_sts_policy *p) {
  size_t len = mts_sts_policy_text(p, NULL, 0);
  struct mts_sts_policy *out = NULL;
  uint8_t *body = malloc(len > 0 ? len : 1);

  if (body == NULL) {
    return NULL;
  }
  (void)mts_sts_policy_text(p, body, len);
  if (mts_sts_policy_parse(ctx, body, len, &out) != MTS_OK) {
    out = NULL;
  }
  free(body);
  return out;
}

static struct mtastsd_mxwait *wait_make(struct mtastsd_mxcache *c,
                                        const struct mts_sts_answer *a) {
  struct mtastsd_mxwait *w = calloc(1, sizeof(*w));
  bool oom = false;

  if (w == NULL) {
    return NULL;
  }
  w->a = *a;
  w->domain = dup_or_null(a->domain, &oom);
  w->id = dup_or_null(a->id, &oom);
  w->reason = dup_or_null(a->reason, &oom);
  w->policy = policy_copy(c->ctx, a->policy);
  if (oom || w->policy == NULL) {
    wait_free(w);
    return NULL;
  }
  w->a.domain = w->domain;
  w->a.id = w->id;
  w->a.reason = w->reason;
  w->a.policy = w->policy;
  return w;
}

bool mtastsd_mxcache_get(struct mtastsd_mxcache *c,
                         const struct mts_sts_answer *a,
                         const struct mtastsd_mxset **set, mtastsd_mx_cb cb,
                         void *arg, struct mtastsd_mxwait **wait) {
  struct entry *e;
  struct mtastsd_mxwait *w;
  uint64_t now, ttl;
  int64_t max_age;

  *set = NULL;
  *wait = NULL;
  if (c == NULL || a == NULL || a->domain == NULL || a->policy == NULL) {
    return true;
  }
  now = uv_now(c->loop);
  max_age = mts_sts_policy_max_age(a->policy);
  ttl = max_age < (int64_t)MTASTSD_MX_TTL_MIN   ? MTASTSD_MX_TTL_MIN
        : max_age > (int64_t)MTASTSD_MX_TTL_MAX ? MTASTSD_MX_TTL_MAX
                                                : (uint64_t)max_age;
  e = find(c, a->domain);
  if (e == NULL) {
    e = insert(c, a->domain);
    if (e == NULL) {
      return true; /* out of memory: unexpanded (logged by the caller) */
    }
  } else {
    lru_unlink(c, e);
    lru_front(c, e);
  }
  e->ttl_ms = ttl * 1000u;
  if (e->have && now < e->fetched_ms + e->ttl_ms) {
    /* Fresh: answer now; past half its life, re-resolve behind it. */
    if (now >= e->fetched_ms + e->ttl_ms / 2 && e->op == NULL &&
        now >= e->retry_ms) {
      (void)start(c, e);
    }
    *set = &e->set;
    return true;
  }
  if (now < e->retry_ms || (e->op == NULL && !start(c, e))) {
    /* Failed lately, or cannot resolve: the last known set (logged
     * when the lookup failed), else unexpanded. */
    *set = e->have ? &e->set : NULL;
    return true;
  }
  w = wait_make(c, a);
  if (w == NULL) {
    *set = e->have ? &e->set : NULL;
    return true;
  }
  w->cb = cb;
  w->arg = arg;
  w->e = e;
  w->next = e->waiters;
  if (e->waiters != NULL) {
    e->waiters->prev = w;
  }
  e->waiters = w;
  *wait = w;
  return false;
}

void mtastsd_mxwait_cancel(struct mtastsd_mxwait *w) {
  if (w != NULL) {
    wait_unlink(w);
    wait_free(w);
  }
}

/* ---- life cycle ---- */

struct mtastsd_mxcache *mtastsd_mxcache_create(uv_loop_t *loop,
                                               struct mts_ctx *ctx,
                                               struct mts_net *net,
                                               struct mtastsd_log *lg) {
  struct mtastsd_mxcache *c = calloc(1, sizeof(*c));

  if (c == NULL) {
    return NULL;
  }
  c->nbuckets = mtastsd_dhash_buckets(MTASTSD_MX_ENTRIES_MAX);
  c->buckets = calloc(c->nbuckets, sizeof(*c->buckets));
  if (c->buckets == NULL) {
    free(c);
    return NULL;
  }
  c->loop = loop;
  c->ctx = ctx;
  c->net = net;
  c->log = lg;
  return c;
}

void mtastsd_mxcache_destroy(struct mtastsd_mxcache *c) {
  struct mxop *op;

  if (c == NULL) {
    return;
  }
  for (op = c->ops; op != NULL; op = op->next) {
    op->c = NULL; /* detached: its callback only frees it */
  }
  while (c->head != NULL) {
    entry_free(c, c->head);
  }
  free(c->buckets);
  free(c);
}
