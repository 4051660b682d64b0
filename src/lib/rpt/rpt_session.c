/*
 * rpt_session.c - join Postfix smtp(8)/tlsproxy(8) log lines into TLS
 * sessions; see mtasts/rpt_session.h. Rules: TLSRPT-NOTES 2.3-2.6 and
 * the "What a follower must join" list in mtasts/rpt_logline.h.
 *
 * All per-session strings live in fixed buffers inside the pid table
 * (host names are at most 253 octets), so the only allocation after
 * create is growing that table.
 */
#include <mtasts/rpt_session.h>
#include <mtasts/utc.h>

#include <arpa/inet.h>
#include <mtasts/idn.h>
#include <mtasts/limits.h>
#include <string.h>

#include "core/ctx_int.h"
#include "core/ascii_int.h"

#define HOST_MAX 256
#define ADDR_MAX 64
#define QID_MAX 40
#define TYPE_MAX 40
#define REASON_MAX 160
/* Sessions closed by a non-final line that wait for the status line of
 * their queue id (smtp_mx_address_limit defaults to 5). */
#define AWAIT_MAX 8
/* More status lines of one delivery (one per recipient) follow within
 * this many seconds; a retry of the same queue file comes after
 * minimal_backoff_time (300 s by default). */
#define CONTINUATION_SECS 60
/* Recipients remembered per delivery: a recipient seen again is a retry
 * (a new session), not one more recipient of the same one. */
#define GROUP_RCPTS 32
/* A tlsproxy handshake failure is joined into a non-final line without
 * peer only when it is the only one this recent. */
#define PROXY_GUESS_SECS 10

struct sess {
  int64_t time;          /* first line of the session */
  char host[HOST_MAX];   /* "" unknown */
  char addr[ADDR_MAX];   /* "" unknown */
  unsigned port;         /* 0 unknown */
  char nexthop[HOST_MAX]; /* session lookup / TLSRPT domain; "" unknown */
  char qid[QID_MAX];     /* "" until a closing line names it */
  enum mts_rpt_log_trust trust; /* NONE: no summary seen */
  bool reused;           /* "TLS connection reused" */
  bool failed, provisional;
  char type[TYPE_MAX];   /* result type; "" for an unknown 3.10 type */
  char reason[REASON_MAX];
  bool tlsrpt, tlsrpt_ok; /* 3.10+ "TLSRPT:" verdict */
};

struct pidst {
  long pid;      /* -1: free slot */
  char loghost[64]; /* syslog host field: one log may hold many hosts */
  int64_t last;  /* log time of the pid's last line */
  uint64_t seq;  /* feed counter at the last line (LRU) */
  bool has_cur;
  struct sess cur;
  struct sess await[AWAIT_MAX];
  size_t nawait;
  /* The last status line: more recipients of the same delivery. */
  bool last_valid;
  int64_t last_time;
  char last_qid[QID_MAX];
  char last_addr[ADDR_MAX];
  uint64_t rcpts[GROUP_RCPTS]; /* FNV-1a of the delivery's recipients */
  size_t nrcpts;
};

struct proxy {
  bool used;
  int64_t time;
  char addr[ADDR_MAX];
  unsigned port;
  char host[HOST_MAX];
  enum mts_rpt_log_trust trust;
  bool failed;
  char type[TYPE_MAX];
  char reason[REASON_MAX];
};

struct mts_rpt_session {
  struct mts_ctx *ctx;
  mts_rpt_event_fn fn;
  void *arg;
  size_t max_pids;
  int64_t max_age;
  char **exclude;
  size_t nexclude;
  char *sending_ip;
  int64_t now;
  int tz;
  int64_t log_now;
  int64_t last_scan;
  uint64_t seq;
  struct pidst *pids;
  size_t npids, cap;
  struct proxy proxies[MTS_RPT_SESSION_PROXY_MAX];
  struct mts_rpt_session_stats st;
};

/* ---- small helpers ---- */

static void cpy(char *dst, size_t size, const char *src) {
  size_t n;

  if (src == NULL) {
    dst[0] = '\0';
    return;
  }
  n = strlen(src);
  if (n >= size) {
    n = size - 1;
  }
  memcpy(dst, src, n);
  dst[n] = '\0';
}

static bool streq(const char *a, const char *b) {
  return a != NULL && b != NULL && strcmp(a, b) == 0;
}

static bool caseeq(const char *a, const char *b) {
  size_t na = strlen(a), nb = strlen(b);

  return mts_ascii_caseeq((const uint8_t *)a, na, (const uint8_t *)b, nb);
}

/* ---- time ---- */

static int64_t year_of_days(int64_t z) {
  int64_t y;
  unsigned m, d;

  mts_utc_civil_from_days(z, &y, &m, &d);
  return y;
}

static bool leap(int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int64_t floordiv(int64_t a, int64_t b) {
  int64_t q = a / b;

  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

int64_t mts_rpt_session_log_time(const struct mts_rpt_log_time *t, int64_t now,
                                 int tz_offset_min) {
  int64_t off = (int64_t)tz_offset_min * 60, hms, local_now, y, yy;
  int64_t best = 0, bestdiff = -1;
  int sec;

  if (t == NULL || t->kind == MTS_RPT_LOG_TIME_NONE) {
    return now;
  }
  sec = t->second > 59 ? 59 : t->second;
  hms = (int64_t)t->hour * 3600 + t->minute * 60 + sec;
  if (t->kind == MTS_RPT_LOG_TIME_ISO8601) {
    if (t->has_offset) {
      return t->utc;
    }
    return mts_utc_days_from_civil(t->year, (unsigned)t->month, (unsigned)t->day) * 86400 + hms - off;
  }
  local_now = now + off;
  y = year_of_days(floordiv(local_now, 86400));
  for (yy = y - 1; yy <= y + 1; yy++) {
    int64_t cand, diff;

    if (t->month == 2 && t->day == 29 && !leap(yy)) {
      continue;
    }
    cand = mts_utc_days_from_civil(yy, (unsigned)t->month, (unsigned)t->day) * 86400 + hms;
    diff = cand > local_now ? cand - local_now : local_now - cand;
    if (bestdiff < 0 || diff < bestdiff) {
      bestdiff = diff;
      best = cand;
    }
  }
  return best - off;
}

/* ---- configuration ---- */

void mts_rpt_session_set_clock(struct mts_rpt_session *s, int64_t now,
                               int tz_offset_min) {
  if (s != NULL) {
    s->now = now;
    s->tz = tz_offset_min;
  }
}

void mts_rpt_session_destroy(struct mts_rpt_session *s) {
  size_t i;

  if (s == NULL) {
    return;
  }
  for (i = 0; i < s->nexclude; i++) {
    mts_free(s->ctx, s->exclude[i]);
  }
  mts_free(s->ctx, s->exclude);
  mts_free(s->ctx, s->sending_ip);
  mts_free(s->ctx, s->pids);
  mts_free(s->ctx, s);
}

enum mts_status mts_rpt_session_create(struct mts_ctx *ctx,
                                       const struct mts_rpt_session_cfg *cfg,
                                       mts_rpt_event_fn fn, void *arg,
                                       struct mts_rpt_session **out) {
  struct mts_rpt_session *s;
  size_t i, j;

  if (out != NULL) {
    *out = NULL;
  }
  if (ctx == NULL || fn == NULL || out == NULL) {
    return MTS_EINVAL;
  }
  if (cfg != NULL) {
    for (i = 0; i < cfg->nexclude; i++) {
      if (cfg->exclude == NULL || cfg->exclude[i] == NULL ||
          cfg->exclude[i][0] == '\0') {
        return MTS_EINVAL;
      }
    }
  }
  s = mts_calloc(ctx, 1, sizeof(*s));
  if (s == NULL) {
    return MTS_ENOMEM;
  }
  s->ctx = ctx;
  s->fn = fn;
  s->arg = arg;
  s->max_pids = MTS_RPT_SESSION_PIDS_DEFAULT;
  s->max_age = MTS_RPT_SESSION_AGE_DEFAULT;
  s->now = ctx->clock_fn != NULL ? ctx->clock_fn(ctx->clock_arg) : 0;
  if (cfg != NULL) {
    if (cfg->max_pids > 0) {
      s->max_pids = cfg->max_pids;
    }
    if (cfg->max_age > 0) {
      s->max_age = cfg->max_age;
    }
    if (cfg->nexclude > 0) {
      s->exclude = mts_calloc(ctx, cfg->nexclude, sizeof(*s->exclude));
      if (s->exclude == NULL) {
        goto oom;
      }
      for (i = 0; i < cfg->nexclude; i++) {
        const char *e = cfg->exclude[i];

        s->exclude[i] = mts_strdup(ctx, e[0] == '@' ? e + 1 : e);
        if (s->exclude[i] == NULL) {
          goto oom;
        }
        s->nexclude = i + 1;
        for (j = 0; s->exclude[i][j] != '\0'; j++) {
          s->exclude[i][j] = (char)mts_lower((uint8_t)s->exclude[i][j]);
        }
      }
    }
    if (cfg->sending_ip != NULL &&
        (s->sending_ip = mts_strdup(ctx, cfg->sending_ip)) == NULL) {
      goto oom;
    }
  }
  *out = s;
  return MTS_OK;
oom:
  mts_rpt_session_destroy(s);
  return MTS_ENOMEM;
}

void mts_rpt_session_stats(const struct mts_rpt_session *s,
                           struct mts_rpt_session_stats *out) {
  if (s != NULL && out != NULL) {
    *out = s->st;
  }
}

/* ---- the tlsproxy table ---- */

static struct proxy *proxy_find(struct mts_rpt_session *s, const char *addr,
                                unsigned port) {
  size_t i;

  for (i = 0; i < MTS_RPT_SESSION_PROXY_MAX; i++) {
    struct proxy *p = &s->proxies[i];

    if (p->used && strcmp(p->addr, addr) == 0 &&
        (port == 0 || p->port == 0 || p->port == port)) {
      return p;
    }
  }
  return NULL;
}

static struct proxy *proxy_get(struct mts_rpt_session *s, const char *addr,
                               unsigned port, int64_t t, bool reset) {
  struct proxy *p = proxy_find(s, addr, port), *oldest = NULL;
  size_t i;

  if (p == NULL) {
    for (i = 0; i < MTS_RPT_SESSION_PROXY_MAX; i++) {
      struct proxy *q = &s->proxies[i];

      if (!q->used) {
        p = q;
        break;
      }
      if (oldest == NULL || q->time < oldest->time) {
        oldest = q;
      }
    }
    if (p == NULL) {
      p = oldest;
    }
    reset = true;
  }
  if (reset) {
    memset(p, 0, sizeof(*p));
    p->used = true;
    p->time = t;
    cpy(p->addr, sizeof(p->addr), addr);
    p->port = port;
  }
  return p;
}

static void proxy_event(struct mts_rpt_session *s,
                        const struct mts_rpt_log_event *ev, int64_t t) {
  struct proxy *p;

  if (ev->addr == NULL) {
    return;
  }
  switch (ev->kind) {
  case MTS_RPT_LOG_PROXY_CONNECT:
    (void)proxy_get(s, ev->addr, ev->port, t, true);
    break;
  case MTS_RPT_LOG_VERIFY_FAILED:
  case MTS_RPT_LOG_PROXY_HANDSHAKE_FAILED:
  case MTS_RPT_LOG_SSL_CONNECT_ERROR:
    p = proxy_get(s, ev->addr, ev->port, t, false);
    if (!p->failed && ev->outcome == MTS_RPT_LOG_TLS_FAILED) {
      p->failed = true;
      cpy(p->type, sizeof(p->type), ev->result_type);
      cpy(p->reason, sizeof(p->reason), ev->failure_reason);
    }
    if (ev->host != NULL) {
      cpy(p->host, sizeof(p->host), ev->host);
    }
    break;
  case MTS_RPT_LOG_TLS_SUMMARY:
    p = proxy_get(s, ev->addr, ev->port, t, false);
    p->trust = ev->trust;
    cpy(p->host, sizeof(p->host), ev->host);
    break;
  default:
    break;
  }
}

/* ---- emitting ---- */

static bool excluded(const struct mts_rpt_session *s, const char *rcpt,
                     const char *rdom) {
  size_t i;

  for (i = 0; i < s->nexclude; i++) {
    const char *e = s->exclude[i];

    if (strchr(e, '@') != NULL) {
      if (rcpt != NULL && caseeq(e, rcpt)) {
        return true;
      }
    } else if (rdom != NULL && caseeq(e, rdom)) {
      return true;
    }
  }
  return false;
}

/* The report domain of \p x: the next hop without "[]" and ":port", or
 * the recipient domain; false when none or an address literal. */
static bool session_domain(const struct sess *x, const char *rdom,
                           char *out, size_t size) {
  char tmp[HOST_MAX];
  const char *src = x->nexthop[0] != '\0' ? x->nexthop : rdom;
  size_t n;
  struct in6_addr a6;

  if (src == NULL || src[0] == '\0') {
    return false;
  }
  cpy(tmp, sizeof(tmp), src[0] == '[' ? src + 1 : src);
  if (src[0] == '[') {
    char *rb = strchr(tmp, ']');

    if (rb == NULL) {
      return false;
    }
    *rb = '\0';
  } else {
    char *colon = strchr(tmp, ':');

    if (colon != NULL) {
      *colon = '\0';
    }
  }
  n = strlen(tmp);
  if (n > 0 && tmp[n - 1] == '.') {
    tmp[--n] = '\0';
  }
  if (n == 0 || inet_pton(AF_INET, tmp, &a6) == 1 ||
      inet_pton(AF_INET6, tmp, &a6) == 1 || strncmp(tmp, "ipv6:", 5) == 0) {
    return false;
  }
  return mts_idn_to_ascii(tmp, n, out, size) == MTS_OK;
}

/* Close \p x for good: decide its outcome and hand it out. */
static void finish(struct mts_rpt_session *s, struct sess *x,
                   const char *rcpt, const char *rdom) {
  struct mts_rpt_event ev;
  struct mts_rpt_failure f;
  char dom[MTS_DOMAIN_MAX + 2], id[MTS_RPT_SESSION_ID_MAX];
  bool ok;

  /* tlsproxy: its verification line / handshake failure belong here */
  if (x->addr[0] != '\0') {
    struct proxy *p = proxy_find(s, x->addr, x->port);

    if (p != NULL) {
      if (p->failed && (!x->failed || x->provisional) && !x->tlsrpt) {
        x->failed = true;
        x->provisional = false;
        cpy(x->type, sizeof(x->type), p->type);
        cpy(x->reason, sizeof(x->reason), p->reason);
      }
      if (x->trust == MTS_RPT_LOG_TRUST_NONE) {
        x->trust = p->trust;
      }
      if (x->host[0] == '\0') {
        cpy(x->host, sizeof(x->host), p->host);
      }
      p->used = false;
      s->st.proxy_joined++;
    }
  }
  if (x->tlsrpt) {
    ok = x->tlsrpt_ok;
  } else if (x->failed) {
    ok = false;
    if (x->provisional) {
      cpy(x->type, sizeof(x->type),
          x->trust == MTS_RPT_LOG_TRUST_TRUSTED ? "certificate-host-mismatch"
                                                : "certificate-not-trusted");
    }
  } else if (x->reused) {
    s->st.reused++;
    return;
  } else if (x->trust != MTS_RPT_LOG_TRUST_NONE) {
    ok = true;
  } else {
    s->st.unknown++;
    return;
  }
  if (excluded(s, rcpt, rdom)) {
    s->st.excluded++;
    return;
  }
  if (!session_domain(x, rdom, dom, sizeof(dom))) {
    s->st.no_domain++;
    return;
  }
  memset(&ev, 0, sizeof(ev));
  memset(&f, 0, sizeof(f));
  ev.source = MTS_RPT_SRC_LOG;
  ev.time = x->time;
  ev.policy_domain = dom;
  ev.report_domain = dom;
  ev.policy_type = MTS_RPT_POLICY_UNKNOWN;
  ev.success = ok;
  if (!ok) {
    f.result_type = x->type[0] != '\0' ? x->type : "validation-failure";
    f.sending_mta_ip = s->sending_ip;
    f.receiving_mx_hostname = x->host[0] != '\0' ? x->host : NULL;
    f.receiving_ip = x->addr[0] != '\0' ? x->addr : NULL;
    f.failure_reason_code = x->reason[0] != '\0' ? x->reason : NULL;
    f.failed_session_count = 1;
    ev.failures = &f;
    ev.nfailures = 1;
  } else if (!x->tlsrpt && x->trust != MTS_RPT_LOG_TRUST_VERIFIED &&
             x->trust != MTS_RPT_LOG_TRUST_NONE) {
    f.result_type = x->trust == MTS_RPT_LOG_TRUST_TRUSTED
                        ? "certificate-host-mismatch"
                        : "certificate-not-trusted";
    f.sending_mta_ip = s->sending_ip;
    f.receiving_mx_hostname = x->host[0] != '\0' ? x->host : NULL;
    f.receiving_ip = x->addr[0] != '\0' ? x->addr : NULL;
    f.failed_session_count = 1;
    ev.unverified = &f;
  }
  if (mts_rpt_event_session_id(id, sizeof(id), x->time, dom,
                               x->addr[0] != '\0' ? x->addr : NULL,
                               ok) == MTS_OK) {
    ev.session_id = id;
  }
  s->st.sessions++;
  if (ok) {
    s->st.successes++;
  } else {
    s->st.failures++;
  }
  s->fn(&ev, s->arg);
}

/* ---- per-pid state ---- */

static void sess_open(struct sess *x, const struct mts_rpt_log_event *ev,
                      int64_t t) {
  memset(x, 0, sizeof(*x));
  x->time = t;
  cpy(x->host, sizeof(x->host), ev->host);
  cpy(x->addr, sizeof(x->addr), ev->addr);
  x->port = ev->port;
}

/* Record the failure of \p ev in \p x: the first non-provisional one
 * wins; a provisional one never replaces a real one. */
static void sess_fail(struct sess *x, const struct mts_rpt_log_event *ev) {
  if (ev->outcome != MTS_RPT_LOG_TLS_FAILED || x->tlsrpt) {
    return;
  }
  if (x->failed && (!x->provisional || ev->provisional)) {
    return;
  }
  x->failed = true;
  x->provisional = ev->provisional;
  cpy(x->type, sizeof(x->type), ev->result_type);
  cpy(x->reason, sizeof(x->reason), ev->failure_reason);
}

/* Move the open session to the waiting list (its queue id may be ""). */
static void cur_to_await(struct mts_rpt_session *s, struct pidst *p,
                         const char *qid) {
  if (!p->has_cur) {
    return;
  }
  p->has_cur = false;
  if (qid != NULL) {
    cpy(p->cur.qid, sizeof(p->cur.qid), qid);
  }
  if (p->nawait == AWAIT_MAX) {
    /* should not happen: close the oldest with what is known */
    finish(s, &p->await[0], NULL, NULL);
    memmove(&p->await[0], &p->await[1],
            (AWAIT_MAX - 1) * sizeof(p->await[0]));
    p->nawait--;
  }
  p->await[p->nawait++] = p->cur;
}

/* Close everything of \p p (end of the pid, expiry, eviction). */
static void pid_close(struct mts_rpt_session *s, struct pidst *p) {
  size_t i;

  cur_to_await(s, p, NULL);
  for (i = 0; i < p->nawait; i++) {
    finish(s, &p->await[i], NULL, NULL);
  }
  p->nawait = 0;
  p->pid = -1;
  p->last_valid = false;
}

static struct pidst *pid_get(struct mts_rpt_session *s, long pid,
                             const char *host, int64_t t) {
  struct pidst *p = NULL, *lru = NULL;
  char hk[sizeof(p->loghost)];
  size_t i;

  cpy(hk, sizeof(hk), host);
  for (i = 0; i < s->npids; i++) {
    if (s->pids[i].pid == pid && strcmp(s->pids[i].loghost, hk) == 0) {
      p = &s->pids[i];
      break;
    }
    if (s->pids[i].pid == -1 && p == NULL) {
      lru = &s->pids[i]; /* a free slot beats eviction */
    }
  }
  if (p == NULL && lru == NULL) {
    if (s->npids < s->max_pids) {
      if (s->npids == s->cap) {
        size_t ncap = s->cap == 0 ? 8 : s->cap * 2;
        struct pidst *np;

        if (ncap > s->max_pids) {
          ncap = s->max_pids;
        }
        np = mts_reallocarray(s->ctx, s->pids, ncap, sizeof(*np));
        if (np == NULL) {
          return NULL;
        }
        s->pids = np;
        s->cap = ncap;
      }
      lru = &s->pids[s->npids++];
      lru->pid = -1;
    } else {
      for (i = 0; i < s->npids; i++) {
        if (lru == NULL || s->pids[i].seq < lru->seq) {
          lru = &s->pids[i];
        }
      }
      if (lru == NULL) {
        return NULL;
      }
      pid_close(s, lru);
      s->st.evicted++;
    }
  }
  if (p == NULL) {
    p = lru;
    memset(p, 0, sizeof(*p));
    p->pid = pid;
    memcpy(p->loghost, hk, sizeof(hk));
  }
  p->last = t;
  p->seq = ++s->seq;
  return p;
}

/* The open session for a TLS fact about \p ev's peer; a different peer,
 * or a second summary/verification after a summary, starts a new one. */
static struct sess *cur_for(struct mts_rpt_session *s, struct pidst *p,
                            const struct mts_rpt_log_event *ev, int64_t t) {
  struct sess *x = &p->cur;

  p->last_valid = false;
  if (p->has_cur) {
    bool same = ev->addr == NULL || x->addr[0] == '\0' ||
                strcmp(ev->addr, x->addr) == 0;

    if (same && ev->port != 0 && x->port != 0 && ev->port != x->port) {
      same = false;
    }
    if (same && x->trust != MTS_RPT_LOG_TRUST_NONE &&
        (ev->kind == MTS_RPT_LOG_TLS_SUMMARY ||
         ev->kind == MTS_RPT_LOG_VERIFY_FAILED ||
         ev->kind == MTS_RPT_LOG_SESSION_LOOKUP)) {
      same = false;
    }
    if (same) {
      if (x->addr[0] == '\0') {
        cpy(x->addr, sizeof(x->addr), ev->addr);
      }
      if (x->host[0] == '\0') {
        cpy(x->host, sizeof(x->host), ev->host);
      }
      if (x->port == 0) {
        x->port = ev->port;
      }
      return x;
    }
    cur_to_await(s, p, NULL);
  }
  sess_open(x, ev, t);
  p->has_cur = true;
  return x;
}

/* Hand out the waiting sessions of queue id \p qid (and those without
 * one) with the recipient of a status line. */
static void resolve(struct mts_rpt_session *s, struct pidst *p,
                    const struct mts_rpt_log_event *ev) {
  size_t i, j = 0;

  for (i = 0; i < p->nawait; i++) {
    struct sess *x = &p->await[i];

    if (x->qid[0] == '\0' || streq(x->qid, ev->queue_id)) {
      finish(s, x, ev->recipient, ev->recipient_domain);
    } else {
      if (j != i) {
        p->await[j] = *x;
      }
      j++;
    }
  }
  p->nawait = j;
}

static bool peer_differs(const struct sess *x,
                         const struct mts_rpt_log_event *ev) {
  if (ev->addr == NULL || x->addr[0] == '\0') {
    return false;
  }
  if (strcmp(ev->addr, x->addr) != 0) {
    return true;
  }
  return ev->port != 0 && x->port != 0 && ev->port != x->port;
}

/* A tlsproxy handshake failure for a non-final line without peer: only
 * when exactly one is recent. */
static void proxy_guess(struct mts_rpt_session *s, struct sess *x, int64_t t) {
  struct proxy *hit = NULL;
  size_t i, n = 0;

  for (i = 0; i < MTS_RPT_SESSION_PROXY_MAX; i++) {
    struct proxy *q = &s->proxies[i];

    if (q->used && q->failed && t - q->time <= PROXY_GUESS_SECS &&
        q->time - t <= PROXY_GUESS_SECS) {
      hit = q;
      n++;
    }
  }
  if (n == 1) {
    cpy(x->addr, sizeof(x->addr), hit->addr);
    x->port = hit->port;
  }
}

static void on_nonfinal(struct mts_rpt_session *s, struct pidst *p,
                        const struct mts_rpt_log_event *ev, int64_t t) {
  p->last_valid = false;
  if (ev->outcome == MTS_RPT_LOG_TLS_LOCAL) {
    s->st.local++;
    cur_to_await(s, p, ev->queue_id);
    return;
  }
  if (p->has_cur && ev->outcome == MTS_RPT_LOG_TLS_FAILED &&
      peer_differs(&p->cur, ev)) {
    cur_to_await(s, p, ev->queue_id);
  }
  if (p->has_cur) {
    sess_fail(&p->cur, ev);
    cur_to_await(s, p, ev->queue_id);
  } else if (ev->outcome == MTS_RPT_LOG_TLS_FAILED) {
    sess_open(&p->cur, ev, t);
    p->has_cur = true;
    sess_fail(&p->cur, ev);
    if (p->cur.addr[0] == '\0') {
      proxy_guess(s, &p->cur, t);
    }
    cur_to_await(s, p, ev->queue_id);
  }
}

static uint64_t fnv1a(const char *str) {
  uint64_t h = 14695981039346656037ull;

  for (; str != NULL && *str != '\0'; str++) {
    h = (h ^ (uint8_t)*str) * 1099511628211ull;
  }
  return h;
}

static void on_status(struct mts_rpt_session *s, struct pidst *p,
                      const struct mts_rpt_log_event *ev, int64_t t) {
  uint64_t rh = fnv1a(ev->recipient);
  bool cont = p->last_valid && streq(p->last_qid, ev->queue_id) &&
              (ev->addr == NULL || strcmp(p->last_addr, ev->addr) == 0) &&
              t - p->last_time <= CONTINUATION_SECS;
  size_t i;

  for (i = 0; cont && i < p->nrcpts; i++) {
    if (p->rcpts[i] == rh) {
      cont = false; /* the same recipient again: a retry */
    }
  }

  if (p->has_cur && peer_differs(&p->cur, ev)) {
    cur_to_await(s, p, NULL);
  }
  if (ev->outcome == MTS_RPT_LOG_TLS_LOCAL) {
    s->st.local++;
    cur_to_await(s, p, ev->queue_id);
  } else if (p->has_cur) {
    sess_fail(&p->cur, ev);
    if (p->cur.addr[0] == '\0') {
      cpy(p->cur.addr, sizeof(p->cur.addr), ev->addr);
      cpy(p->cur.host, sizeof(p->cur.host), ev->host);
      p->cur.port = ev->port;
    }
    cur_to_await(s, p, ev->queue_id);
  } else if (cont) {
    /* another recipient of the same delivery */
  } else if (ev->conn_use >= 2) {
    s->st.reused++;
  } else if (ev->outcome == MTS_RPT_LOG_TLS_FAILED) {
    sess_open(&p->cur, ev, t);
    p->has_cur = true;
    sess_fail(&p->cur, ev);
    cur_to_await(s, p, ev->queue_id);
  } else {
    s->st.unknown++; /* no TLS line: plaintext, or loglevel 0 */
  }
  resolve(s, p, ev);
  if (!cont) {
    p->nrcpts = 0;
  }
  if (p->nrcpts < GROUP_RCPTS) {
    p->rcpts[p->nrcpts++] = rh;
  }
  p->last_valid = true;
  p->last_time = t;
  cpy(p->last_qid, sizeof(p->last_qid), ev->queue_id);
  cpy(p->last_addr, sizeof(p->last_addr), ev->addr);
}

static void smtp_event(struct mts_rpt_session *s, struct pidst *p,
                       const struct mts_rpt_log_event *ev, int64_t t) {
  struct sess *x;

  switch (ev->kind) {
  case MTS_RPT_LOG_SESSION_LOOKUP:
    x = cur_for(s, p, ev, t);
    cpy(x->nexthop, sizeof(x->nexthop), ev->nexthop);
    break;
  case MTS_RPT_LOG_TLS_SUMMARY:
    x = cur_for(s, p, ev, t);
    x->trust = ev->trust;
    if (ev->reused) {
      x->reused = true;
    }
    break;
  case MTS_RPT_LOG_VERIFY_FAILED:
  case MTS_RPT_LOG_SSL_CONNECT_ERROR:
  case MTS_RPT_LOG_UNTRUSTED_REUSE:
    x = cur_for(s, p, ev, t);
    sess_fail(x, ev);
    break;
  case MTS_RPT_LOG_TLSRPT:
    x = cur_for(s, p, ev, t);
    x->time = t; /* when Postfix sent its datagram too (session id) */
    x->tlsrpt = true;
    x->tlsrpt_ok = ev->outcome == MTS_RPT_LOG_TLS_OK;
    x->failed = !x->tlsrpt_ok;
    x->provisional = false;
    cpy(x->type, sizeof(x->type), ev->result_type);
    cpy(x->reason, sizeof(x->reason), ev->failure_reason);
    cpy(x->nexthop, sizeof(x->nexthop), ev->nexthop);
    break;
  case MTS_RPT_LOG_NONFINAL:
    on_nonfinal(s, p, ev, t);
    break;
  case MTS_RPT_LOG_STATUS:
    on_status(s, p, ev, t);
    break;
  default:
    break;
  }
}

/* Close sessions idle for max_age seconds of log time. */
static void expire(struct mts_rpt_session *s) {
  size_t i;

  for (i = 0; i < s->npids; i++) {
    struct pidst *p = &s->pids[i];

    if (p->pid != -1 && p->last < s->log_now - s->max_age) {
      s->st.expired += p->nawait + (p->has_cur ? 1 : 0);
      pid_close(s, p);
    }
  }
  for (i = 0; i < MTS_RPT_SESSION_PROXY_MAX; i++) {
    if (s->proxies[i].used &&
        s->proxies[i].time < s->log_now - s->max_age) {
      s->proxies[i].used = false;
    }
  }
}

enum mts_status mts_rpt_session_feed(struct mts_rpt_session *s,
                                     const struct mts_rpt_log_event *ev) {
  int64_t t;
  struct pidst *p;
  bool smtp, proxy;

  if (s == NULL || ev == NULL) {
    return MTS_EINVAL;
  }
  s->st.lines++;
  t = mts_rpt_session_log_time(&ev->time, s->now, s->tz);
  if (ev->time.kind != MTS_RPT_LOG_TIME_NONE && t > s->log_now) {
    s->log_now = t;
    if (s->log_now - s->last_scan >= 10) {
      s->last_scan = s->log_now;
      expire(s);
    }
  }
  if (ev->kind == MTS_RPT_LOG_MALFORMED) {
    s->st.malformed++;
    return MTS_OK;
  }
  if (ev->kind == MTS_RPT_LOG_OTHER || ev->program == NULL) {
    return MTS_OK;
  }
  smtp = strcmp(ev->program, "smtp") == 0;
  proxy = strcmp(ev->program, "tlsproxy") == 0;
  if (!smtp && !proxy) {
    return MTS_OK;
  }
  s->st.tls_lines++;
  if (proxy) {
    proxy_event(s, ev, t);
    return MTS_OK;
  }
  if (ev->kind == MTS_RPT_LOG_TLS_LIB_PROBLEM) {
    return MTS_OK; /* detail only: the SSL_connect line carries the fact */
  }
  p = pid_get(s, ev->pid, ev->hostname, t);
  if (p == NULL) {
    return MTS_ENOMEM;
  }
  smtp_event(s, p, ev, t);
  return MTS_OK;
}

enum mts_status mts_rpt_session_feed_line(struct mts_rpt_session *s,
                                          const uint8_t *line, size_t len) {
  struct mts_rpt_logline *ll = NULL;
  enum mts_status st;

  if (s == NULL || (line == NULL && len > 0)) {
    return MTS_EINVAL;
  }
  st = mts_rpt_logline_parse(s->ctx, line, len, &ll);
  if (st != MTS_OK) {
    return st;
  }
  st = mts_rpt_session_feed(s, mts_rpt_logline_event(ll));
  mts_rpt_logline_destroy(ll);
  return st;
}

void mts_rpt_session_flush(struct mts_rpt_session *s) {
  size_t i;

  if (s == NULL) {
    return;
  }
  for (i = 0; i < s->npids; i++) {
    if (s->pids[i].pid != -1) {
      pid_close(s, &s->pids[i]);
    }
  }
}
