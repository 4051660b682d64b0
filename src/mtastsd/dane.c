/*
 * dane.c - DANE detection for mtastsd (RFC 8461 2, RFC 7672 2.2). See
 * dane.h; the choices are in docs/decisions.md.
 */
#include "dane.h"
#include "dhash.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mtasts/limits.h>

#define DANE_REASON_MAX 200
#define DANE_CAP_DEFAULT 10000u
/* "_25._tcp." + host (RFC 7672 3.1: SMTP, port 25). */
#define DANE_TLSA_PREFIX "_25._tcp."

struct mtastsd_dane_wait {
  struct mtastsd_dane_wait *prev;
  struct mtastsd_dane_wait *next;
  struct entry *e;
  mtastsd_dane_wait_cb cb;
  void *arg;
};

struct check;

struct entry {
  struct entry *hnext;                 /* hash chain */
  struct entry *lprev;                 /* LRU list, head: most recent */
  struct entry *lnext;
  struct check *check;                 /* in flight, or NULL */
  struct mtastsd_dane_wait *waiters;   /* only while the first check runs */
  enum mtastsd_dane_result result;     /* UNKNOWN until a check finished */
  uint64_t checked_ms;                 /* loop time of the last check */
  /* The latest reason: e->reason_buf (allocated to fit, owned) or, when
   * that allocation failed, a constant. Exact-size allocations keep a
   * cache of many domains small (was two fixed arrays, ~460 bytes). */
  const char *reason;
  char *reason_buf;
  char domain[]; /* exactly strlen + 1 */
};

struct tlsa_arg {
  struct check *c;
  size_t i;
};

/* One check: MX, then TLSA per host, in parallel. */
struct check {
  struct mtastsd_dane *d;
  struct entry *e; /* NULL once detached (destroy) */
  unsigned pending;
  size_t nhosts;
  enum mtastsd_dane_host res[MTASTSD_DANE_MAX_MX];
  struct tlsa_arg args[MTASTSD_DANE_MAX_MX];
  char hosts[MTASTSD_DANE_MAX_MX][MTS_DOMAIN_MAX + 1];
};

struct mtastsd_dane {
  uv_loop_t *loop;
  struct mts_net *net;
  size_t cap;
  size_t count;
  uint64_t recheck_ms;
  struct entry **buckets;
  size_t nbuckets; /* a power of two */
  struct entry *lru_head;
  struct entry *lru_tail;
  mtastsd_dane_notify_cb notify;
  void *notify_arg;
  unsigned inflight; /* checks not yet ended (also after destroy) */
  bool destroyed;
};

const char *mtastsd_dane_result_str(enum mtastsd_dane_result r) {
  switch (r) {
  case MTASTSD_DANE_UNKNOWN:
    return "unknown";
  case MTASTSD_DANE_NONE:
    return "none";
  case MTASTSD_DANE_PARTIAL:
    return "partial";
  case MTASTSD_DANE_ALL:
    return "dane";
  case MTASTSD_DANE_INCONCLUSIVE:
    return "inconclusive";
  }
  return "?";
}

/* ---- pure rules ---- */

enum mtastsd_dane_host mtastsd_dane_classify_tlsa(enum mts_status st,
                                                  size_t count, bool ad) {
  switch (st) {
  case MTS_OK:
    /* RFC 7672 2.2: only validated TLSA records count. */
    return count > 0 && ad ? MTASTSD_DANE_HOST_TLSA : MTASTSD_DANE_HOST_NONE;
  case MTS_ENODATA:
  case MTS_ENXDOMAIN:
    return MTASTSD_DANE_HOST_NONE;
  case MTS_ESERVFAIL:
    /* A validating resolver says SERVFAIL for bogus data: DANE for this
     * host is failing, and MTA-STS must not override that (DN-3). */
    return MTASTSD_DANE_HOST_FAILING;
  default:
    return MTASTSD_DANE_HOST_UNKNOWN;
  }
}

enum mtastsd_dane_result
mtastsd_dane_combine(const enum mtastsd_dane_host *hosts, size_t n) {
  size_t i;
  size_t dane = 0;

  if (n == 0) {
    return MTASTSD_DANE_NONE;
  }
  for (i = 0; i < n; i++) {
    switch (hosts[i]) {
    case MTASTSD_DANE_HOST_UNKNOWN:
      return MTASTSD_DANE_INCONCLUSIVE;
    case MTASTSD_DANE_HOST_TLSA:
    case MTASTSD_DANE_HOST_FAILING:
      dane++;
      break;
    case MTASTSD_DANE_HOST_NONE:
      break;
    }
  }
  if (dane == n) {
    return MTASTSD_DANE_ALL;
  }
  return dane > 0 ? MTASTSD_DANE_PARTIAL : MTASTSD_DANE_NONE;
}

/* ---- the table ---- */

static struct entry **bucket(struct mtastsd_dane *d, const char *domain) {
  return &d->buckets[mtastsd_dhash(domain) & (d->nbuckets - 1)];
}

static struct entry *find(struct mtastsd_dane *d, const char *domain) {
  struct entry *e;

  for (e = *bucket(d, domain); e != NULL; e = e->hnext) {
    if (strcmp(e->domain, domain) == 0) {
      return e;
    }
  }
  return NULL;
}

static void lru_unlink(struct mtastsd_dane *d, struct entry *e) {
  if (e->lprev != NULL) {
    e->lprev->lnext = e->lnext;
  } else {
    d->lru_head = e->lnext;
  }
  if (e->lnext != NULL) {
    e->lnext->lprev = e->lprev;
  } else {
    d->lru_tail = e->lprev;
  }
  e->lprev = e->lnext = NULL;
}

static void lru_push(struct mtastsd_dane *d, struct entry *e) {
  e->lprev = NULL;
  e->lnext = d->lru_head;
  if (d->lru_head != NULL) {
    d->lru_head->lprev = e;
  } else {
    d->lru_tail = e;
  }
  d->lru_head = e;
}

/* Unlink \p e from the table and free it (no check, no waiters). */
static void entry_remove(struct mtastsd_dane *d, struct entry *e) {
  struct entry **pp;

  for (pp = bucket(d, e->domain); *pp != NULL; pp = &(*pp)->hnext) {
    if (*pp == e) {
      *pp = e->hnext;
      break;
    }
  }
  lru_unlink(d, e);
  d->count--;
  free(e->reason_buf);
  free(e);
}

/* Set \p e's reason to \p prefix \p reason, cut at DANE_REASON_MAX - 1
 * bytes like the fixed buffer it replaces. Never fails: without memory
 * the reason becomes a constant. */
static void entry_set_reason(struct entry *e, const char *prefix,
                             const char *reason) {
  size_t pl = strlen(prefix), rl = strlen(reason);
  size_t n = pl + rl < DANE_REASON_MAX ? pl + rl : DANE_REASON_MAX - 1;
  char *buf = malloc(n + 1);

  if (buf != NULL) {
    (void)snprintf(buf, n + 1, "%s%s", prefix, reason);
  }
  free(e->reason_buf);
  e->reason_buf = buf;
  e->reason = buf != NULL ? buf : "reason not recorded (out of memory)";
}

/* Make room for one more entry: drop the least recently used idle one. */
static void evict(struct mtastsd_dane *d) {
  struct entry *e;

  if (d->count < d->cap) {
    return;
  }
  for (e = d->lru_tail; e != NULL; e = e->lprev) {
    if (e->check == NULL && e->waiters == NULL) {
      entry_remove(d, e);
      return;
    }
  }
  /* Every entry has a check in flight: grow past cap for now. */
}

/* ---- waiters ---- */

static void waiter_unlink(struct mtastsd_dane_wait *w) {
  struct entry *e = w->e;

  if (w->prev != NULL) {
    w->prev->next = w->next;
  } else {
    e->waiters = w->next;
  }
  if (w->next != NULL) {
    w->next->prev = w->prev;
  }
  w->prev = w->next = NULL;
}

void mtastsd_dane_wait_cancel(struct mtastsd_dane_wait *w) {
  if (w == NULL) {
    return;
  }
  waiter_unlink(w);
  free(w);
}

/* Run and free every waiter of \p e, one at a time (a callback may
 * cancel another waiter). */
static void wake(struct entry *e, enum mtastsd_dane_result r,
                 const char *reason) {
  struct mtastsd_dane_wait *w;

  while ((w = e->waiters) != NULL) {
    mtastsd_dane_wait_cb cb = w->cb;
    void *arg = w->arg;

    waiter_unlink(w);
    free(w);
    cb(arg, r, reason);
  }
}

/* ---- checks ---- */

static void check_end(struct check *c) {
  struct mtastsd_dane *d = c->d;

  free(c);
  d->inflight--;
  if (d->destroyed && d->inflight == 0) {
    free(d->buckets);
    free(d);
  }
}

/* The check of \p c's entry ended with \p r. */
static void check_finish(struct check *c, enum mtastsd_dane_result r,
                         const char *reason) {
  struct mtastsd_dane *d = c->d;
  struct entry *e = c->e;
  enum mtastsd_dane_result before;
  bool changed;

  if (e == NULL || d->destroyed) {
    check_end(c);
    return;
  }
  e->check = NULL;
  before = e->result;
  if (r != MTASTSD_DANE_INCONCLUSIVE) {
    e->result = r;
    entry_set_reason(e, "", reason);
  } else if (e->result == MTASTSD_DANE_UNKNOWN) {
    e->result = MTASTSD_DANE_NONE; /* fail toward the MTA-STS answer */
    entry_set_reason(e, "inconclusive: ", reason);
  }
  e->checked_ms = uv_now(d->loop);
  changed = before != e->result;
  if (d->notify != NULL) {
    d->notify(d->notify_arg, e->domain, r, reason, changed);
  }
  check_end(c);
  wake(e, e->result, e->reason);
}

static void hosts_done(struct check *c) {
  char reason[DANE_REASON_MAX];
  enum mtastsd_dane_result r = mtastsd_dane_combine(c->res, c->nhosts);
  size_t i;
  size_t with = 0;
  const char *first_without = NULL;
  const char *first_unknown = NULL;
  bool failing = false;

  for (i = 0; i < c->nhosts; i++) {
    switch (c->res[i]) {
    case MTASTSD_DANE_HOST_TLSA:
      with++;
      break;
    case MTASTSD_DANE_HOST_FAILING:
      with++;
      failing = true;
      break;
    case MTASTSD_DANE_HOST_NONE:
      if (first_without == NULL) {
        first_without = c->hosts[i];
      }
      break;
    case MTASTSD_DANE_HOST_UNKNOWN:
      if (first_unknown == NULL) {
        first_unknown = c->hosts[i];
      }
      break;
    }
  }
  switch (r) {
  case MTASTSD_DANE_ALL:
    (void)snprintf(reason, sizeof(reason),
                   "all %zu MX host(s) have DNSSEC-validated TLSA records%s",
                   c->nhosts, failing ? " (some lookups SERVFAIL: bogus)" : "");
    break;
  case MTASTSD_DANE_PARTIAL:
    (void)snprintf(reason, sizeof(reason),
                   "%zu of %zu MX hosts have validated TLSA records (%.80s "
                   "has none): MTA-STS kept",
                   with, c->nhosts, first_without);
    break;
  case MTASTSD_DANE_NONE:
    (void)snprintf(reason, sizeof(reason),
                   "no validated TLSA records for the %zu MX host(s)",
                   c->nhosts);
    break;
  case MTASTSD_DANE_INCONCLUSIVE:
  case MTASTSD_DANE_UNKNOWN:
    (void)snprintf(reason, sizeof(reason), "TLSA lookup of %.100s failed",
                   first_unknown != NULL ? first_unknown : "?");
    break;
  }
  check_finish(c, r, reason);
}

static void on_tlsa(void *arg, enum mts_status st, size_t count,
                    bool authenticated, const char *errmsg) {
  struct tlsa_arg *ta = arg;
  struct check *c = ta->c;

  (void)errmsg;
  c->res[ta->i] = mtastsd_dane_classify_tlsa(st, count, authenticated);
  c->pending--;
  if (c->pending == 0) {
    hosts_done(c);
  }
}

/* Add \p host (lower case, no trailing dot) unless already there.
 * \return false when the host table is full. */
static bool add_host(struct check *c, const char *host) {
  size_t i;
  size_t len = strlen(host);

  while (len > 0 && host[len - 1] == '.') {
    len--;
  }
  for (i = 0; i < c->nhosts; i++) {
    if (strlen(c->hosts[i]) == len && memcmp(c->hosts[i], host, len) == 0) {
      return true;
    }
  }
  if (c->nhosts >= MTASTSD_DANE_MAX_MX || len > MTS_DOMAIN_MAX) {
    return false;
  }
  memcpy(c->hosts[c->nhosts], host, len);
  c->hosts[c->nhosts][len] = '\0';
  c->nhosts++;
  return true;
}

static void start_tlsa(struct check *c) {
  char name[sizeof(DANE_TLSA_PREFIX) + MTS_DOMAIN_MAX];
  size_t i;

  for (i = 0; i < c->nhosts; i++) {
    c->res[i] = MTASTSD_DANE_HOST_UNKNOWN;
    c->args[i].c = c;
    c->args[i].i = i;
  }
  c->pending = 1; /* held while starting: no early finish */
  for (i = 0; i < c->nhosts; i++) {
    int n = snprintf(name, sizeof(name), "%s%s", DANE_TLSA_PREFIX, c->hosts[i]);

    if (n < 0 || (size_t)n > MTS_DOMAIN_MAX) {
      /* Longer than a DNS name can be: no TLSA can exist there. */
      c->res[i] = MTASTSD_DANE_HOST_NONE;
      continue;
    }
    if (mts_net_dns_tlsa(c->d->net, name, on_tlsa, &c->args[i]) == MTS_OK) {
      c->pending++;
    }
  }
  c->pending--;
  if (c->pending == 0) {
    hosts_done(c); /* nothing could start */
  }
}

static void on_mx(void *arg, enum mts_status st, const struct mts_net_mx *mx,
                  size_t n, bool authenticated, const char *errmsg) {
  struct check *c = arg;
  char reason[DANE_REASON_MAX];
  size_t i;

  if (c->e == NULL || c->d->destroyed) {
    check_end(c);
    return;
  }
  switch (st) {
  case MTS_OK:
    if (!authenticated) {
      check_finish(c, MTASTSD_DANE_NONE,
                   "MX RRset not DNSSEC-validated (no AD bit)");
      return;
    }
    for (i = 0; i < n; i++) {
      if (mx[i].exchange == NULL || mx[i].exchange[0] == '\0') {
        check_finish(c, MTASTSD_DANE_NONE, "null MX (RFC 7505)");
        return;
      }
      if (!add_host(c, mx[i].exchange)) {
        check_finish(c, MTASTSD_DANE_INCONCLUSIVE,
                     "more MX hosts than mtastsd checks");
        return;
      }
    }
    break;
  case MTS_ENODATA:
    if (!authenticated) {
      check_finish(c, MTASTSD_DANE_NONE,
                   "no MX records, answer not DNSSEC-validated");
      return;
    }
    /* RFC 5321 5.1: the implicit MX is the domain itself. */
    (void)add_host(c, c->e->domain);
    break;
  case MTS_ENXDOMAIN:
    check_finish(c, MTASTSD_DANE_NONE, "MX lookup: no such domain");
    return;
  default:
    (void)snprintf(reason, sizeof(reason), "MX lookup: %.150s",
                   errmsg != NULL ? errmsg : mts_status_str(st));
    check_finish(c, MTASTSD_DANE_INCONCLUSIVE, reason);
    return;
  }
  start_tlsa(c);
}

/* Start a check of \p e. \return false when it could not start. */
static bool check_start(struct mtastsd_dane *d, struct entry *e) {
  struct check *c = calloc(1, sizeof(*c));

  if (c == NULL) {
    return false;
  }
  c->d = d;
  c->e = e;
  if (mts_net_dns_mx(d->net, e->domain, on_mx, c) != MTS_OK) {
    free(c);
    return false;
  }
  d->inflight++;
  e->check = c;
  return true;
}

/* ---- API ---- */

int mtastsd_dane_create(uv_loop_t *loop, struct mts_net *net, size_t cap,
                        uint32_t recheck_s, mtastsd_dane_notify_cb notify,
                        void *notify_arg, struct mtastsd_dane **out) {
  struct mtastsd_dane *d;
  size_t nb;

  *out = NULL;
  d = calloc(1, sizeof(*d));
  if (d == NULL) {
    return -1;
  }
  d->loop = loop;
  d->net = net;
  d->cap = cap != 0 ? cap : DANE_CAP_DEFAULT;
  d->recheck_ms = (uint64_t)recheck_s * 1000u; /* 0: at every get */
  d->notify = notify;
  d->notify_arg = notify_arg;
  nb = mtastsd_dhash_buckets(d->cap);
  d->nbuckets = nb;
  d->buckets = calloc(nb, sizeof(*d->buckets));
  if (d->buckets == NULL) {
    free(d);
    return -1;
  }
  *out = d;
  return 0;
}

void mtastsd_dane_destroy(struct mtastsd_dane *d) {
  struct entry *e;

  if (d == NULL || d->destroyed) {
    return;
  }
  d->destroyed = true;
  while ((e = d->lru_head) != NULL) {
    if (e->check != NULL) {
      e->check->e = NULL; /* ends by itself when the net ends it */
      e->check = NULL;
    }
    wake(e, MTASTSD_DANE_NONE, "shutting down");
    entry_remove(d, e);
  }
  if (d->inflight == 0) {
    free(d->buckets);
    free(d);
  }
}

enum mtastsd_dane_result mtastsd_dane_get(struct mtastsd_dane *d,
                                          const char *domain,
                                          mtastsd_dane_wait_cb cb, void *arg,
                                          struct mtastsd_dane_wait **wait,
                                          const char **reason) {
  struct entry *e;
  struct mtastsd_dane_wait *w;
  size_t len;

  if (wait != NULL) {
    *wait = NULL;
  }
  *reason = "not checked yet";
  if (d == NULL || d->destroyed || domain == NULL) {
    return MTASTSD_DANE_UNKNOWN;
  }
  len = strlen(domain);
  if (len == 0 || len > MTS_DOMAIN_MAX) {
    return MTASTSD_DANE_UNKNOWN;
  }
  e = find(d, domain);
  if (e != NULL) {
    lru_unlink(d, e);
    lru_push(d, e);
    if (e->result != MTASTSD_DANE_UNKNOWN) {
      if (e->check == NULL &&
          uv_now(d->loop) - e->checked_ms >= d->recheck_ms) {
        (void)check_start(d, e); /* stale: re-check in the background */
      }
      *reason = e->reason;
      return e->result;
    }
  } else {
    evict(d);
    e = calloc(1, sizeof(*e) + len + 1);
    if (e == NULL) {
      return MTASTSD_DANE_UNKNOWN;
    }
    e->reason = "not checked yet";
    memcpy(e->domain, domain, len + 1);
    e->hnext = *bucket(d, domain);
    *bucket(d, domain) = e;
    lru_push(d, e);
    d->count++;
    if (!check_start(d, e)) {
      entry_remove(d, e);
      return MTASTSD_DANE_UNKNOWN;
    }
  }
  /* The first check of this domain is running. */
  if (cb == NULL || wait == NULL) {
    return MTASTSD_DANE_UNKNOWN;
  }
  w = calloc(1, sizeof(*w));
  if (w == NULL) {
    return MTASTSD_DANE_UNKNOWN;
  }
  w->e = e;
  w->cb = cb;
  w->arg = arg;
  w->next = e->waiters;
  if (e->waiters != NULL) {
    e->waiters->prev = w;
  }
  e->waiters = w;
  *wait = w;
  return MTASTSD_DANE_UNKNOWN;
}

size_t mtastsd_dane_count(const struct mtastsd_dane *d) {
  return d != NULL ? d->count : 0;
}
