/*
 * main.c - mtasts-tlsrptd: TLS reports for senders (RFC 8460; issue 6).
 *
 * One libuv loop:
 *  - inputs: the libtlsrpt datagram collector (collector.h) and/or the
 *    Postfix log follower (follow.h) hand events to the store
 *    (mts_rpt_agg_add);
 *  - a timer (every TICK_MS): schedules each finished (day, domain) at a
 *    random time within send_window after 00:00Z, looks up the domain's
 *    `_smtp._tls` record when its time comes (net.h, async), plans one
 *    delivery per rua, and hands due deliveries to a worker thread one at
 *    a time (sendmail and HTTPS block, bounded by report.timeout);
 *    failures are retried with exponential back-off for up to 24 h
 *    (rpt_deliver.h), every attempt is logged.
 *  - SIGTERM/SIGINT: stop the inputs and the timer, let a delivery in
 *    progress finish (bounded), close the store, exit 0.
 *
 * Several hosts may share one store: a delivery is claimed (lease)
 * before it is sent, so only one host sends it (rpt_agg.h).
 *
 * A fleet on several machines shares Redis instead (config `shared`,
 * shared.h): every host keeps its own SQLite store, pushes its own
 * report of every recent (day, domain) to Redis every hour (and at the
 * first tick of a new UTC day, at --once, after --events-from, and
 * before a send); when a report comes due, the host that wins the Redis
 * lock of (day, domain) sends the merge of all hosts' reports, the
 * others record the delivery as sent by that host. All Redis commands
 * run on the delivery worker thread. Redis unreachable: nothing is sent
 * for the day (a per-host report would make every host send its own);
 * the delivery is retried with the usual back-off.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include <mtasts/mtasts.h>

#include "collector.h"
#include "config.h"
#include "follow.h"
#include "shared.h"

#define TICK_MS 60000
#define LEASE_S 1800
#define LOOKUP_RETRY_S 900
#define MAX_RUAS 16
#define MAX_LOOKUPS 32
/* shared: push every hour; push the days from today - PUSH_DAYS on; a
 * day is not sent before its end + SHARED_SETTLE_S, so every host has
 * pushed after the day ended (it pushes at its first tick of the day). */
#define PUSH_EVERY_S 3600
#define PUSH_RETRY_S 300
#define PUSH_DAYS 2
#define SHARED_SETTLE_S 900

enum job_kind { JOB_DELIVER = 0, JOB_PUSH = 1 };

struct job {
  struct job *next;
  struct app *app;
  enum job_kind kind;
  struct tlsrptd_shared_item *items; /* JOB_PUSH */
  size_t nitems;
  struct tlsrptd_shared_result sr;   /* shared delivery: the outcome */
  int64_t day, first_at, at;
  uint32_t attempts;
  char domain[256];
  char *rua;
  char *json;
  size_t len;
  uint64_t rnd;
  enum mts_status st;
  char err[400];
};

struct lookup {
  struct app *app;
  int64_t day;
  char domain[256];
};

struct app {
  struct tlsrptd_config *cfg;
  struct mts_ctx *ctx;
  enum mts_log_level level;
  uv_loop_t *loop;
  struct mts_rpt_agg *agg;
  struct mts_net *net;
  struct tlsrptd_collector *col;
  struct tlsrptd_follow *fol;
  uv_timer_t timer;
  uv_signal_t sigterm, sigint;
  uv_work_t work;
  struct job *qhead, *qtail, *cur;
  size_t lookups;
  bool stopping, once;
  int64_t last_prune;
  uint64_t events, dropped, add_errors;
  char host[256];
  struct mts_rpt_agg_identity id;
  /* shared */
  bool shared;
  struct tlsrptd_redis_url rurl;
  struct tlsrptd_shared_opts sh;
  int64_t last_push;       /* last successful push; 0: never */
  int64_t push_not_before; /* after a failed push: no new one before */
  bool push_queued;
};

/* ---- logging ---- */

static const char *level_name(enum mts_log_level l) {
  static const char *const n[] = {"error", "warning", "info", "debug"};

  return (unsigned)l < 4 ? n[l] : "?";
}

static void log_sink(void *arg, enum mts_log_level level, const char *msg) {
  (void)arg;
  fprintf(stderr, "mtasts-tlsrptd: %s: %s\n", level_name(level), msg);
  (void)fflush(stderr);
}

static void app_log(struct app *a, enum mts_log_level level, const char *fmt,
                    ...) MTS_PRINTF(3, 4);
static void app_log(struct app *a, enum mts_log_level level, const char *fmt,
                    ...) {
  char msg[1024];
  va_list ap;

  if (level > a->level) {
    return;
  }
  va_start(ap, fmt);
  (void)vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  log_sink(NULL, level, msg);
}

static int64_t now_s(void) { return (int64_t)time(NULL); }

static uint64_t rnd64(void) {
  uint64_t v = 0;

  if (uv_random(NULL, NULL, &v, sizeof(v), 0, NULL) != 0) {
    v = (uint64_t)now_s() * 2654435761u ^ (uint64_t)getpid();
  }
  return v;
}

static bool in_list(const struct tlsrptd_list *li, const char *s) {
  size_t i;

  for (i = 0; i < li->n; i++) {
    if (strcmp(li->v[i], s) == 0) {
      return true;
    }
  }
  return false;
}

/* ---- events ---- */

static void on_event(const struct mts_rpt_event *ev, void *arg) {
  struct app *a = arg;
  bool counted = false;
  enum mts_status st = mts_rpt_agg_add(a->agg, ev, &counted);

  if (st != MTS_OK) {
    a->add_errors++;
    app_log(a, MTS_LOG_ERR, "cannot count a session of %s: %s",
            ev->policy_domain != NULL ? ev->policy_domain : "?",
            mts_status_str(st));
    return;
  }
  if (counted) {
    a->events++;
  } else {
    a->dropped++;
  }
}

/* ---- deliveries (worker thread) ---- */

static void start_next_job(struct app *a);
static void tick(struct app *a);

/* shared: push, lock, merge (worker thread). \return false when there
 * is nothing to deliver here (j->st and j->sr say why). */
static bool shared_prepare(struct job *j, struct mts_ctx *ctx) {
  struct app *a = j->app;
  struct mts_rpt_merge_override ovr;
  const char *rid = NULL;
  struct mts_rpt_report *own = NULL;

  memset(&ovr, 0, sizeof(ovr));
  ovr.organization_name = a->cfg->org;
  ovr.contact_info = a->cfg->contact;
  /* the report-id: this host's (stable for its store), which is also the
   * first report's; named here so the identity is all from our config */
  if (mts_rpt_report_parse(ctx, (const uint8_t *)j->json, j->len, &own) ==
          MTS_OK &&
      mts_rpt_report_usable(own)) {
    rid = mts_rpt_report_data(own)->report_id;
  }
  ovr.report_id = rid;
  j->st = tlsrptd_shared_prepare(&a->sh, ctx, j->day, j->domain, j->json,
                                 j->len, &ovr, &j->sr, j->err, sizeof(j->err));
  mts_rpt_report_destroy(own);
  if (j->st != MTS_OK || !j->sr.ours) {
    return false;
  }
  free(j->json);
  j->json = j->sr.final_json;
  j->len = j->sr.final_len;
  j->sr.final_json = NULL;
  return true;
}

static void work_cb(uv_work_t *w) {
  struct job *j = w->data;
  const struct tlsrptd_config *c = j->app->cfg;
  struct mts_rpt_deliver_config dc;
  struct mts_ctx *ctx = NULL;

  if (j->kind == JOB_PUSH) {
    j->st = tlsrptd_shared_push(&j->app->sh, j->items, j->nitems, j->err,
                                sizeof(j->err));
    return;
  }
  /* A context of its own: contexts are one thread at a time. */
  if (mts_ctx_create(NULL, &ctx) != MTS_OK) {
    j->st = MTS_ENOMEM;
    (void)snprintf(j->err, sizeof(j->err), "out of memory");
    return;
  }
  if (j->app->shared && !shared_prepare(j, ctx)) {
    mts_ctx_destroy(ctx);
    return;
  }
  memset(&dc, 0, sizeof(dc));
  dc.from = c->from;
  dc.submitter = c->submitter;
  dc.sendmail = c->sendmail;
  dc.sendmail_timeout_ms = c->timeout * 1000u;
  dc.post.ca_file = c->ca_file;
  dc.post.insecure = !c->https_verify;
  dc.post.timeout_ms = c->timeout * 1000u;
  dc.dry_run_dir = c->dry_run_dir;
  dc.now = j->at;
  dc.rnd = j->rnd;
  j->st = mts_rpt_deliver_report(ctx, &dc, j->domain, j->rua, j->json, j->len,
                                 j->err, sizeof(j->err));
  mts_ctx_destroy(ctx);
  /* The pool thread lives on: drop OpenSSL's per-thread state now. */
  mts_rpt_deliver_thread_done();
}

static void items_free(struct tlsrptd_shared_item *items, size_t n) {
  size_t i;

  for (i = 0; items != NULL && i < n; i++) {
    free(items[i].json);
  }
  free(items);
}

static void job_free(struct job *j) {
  if (j != NULL) {
    free(j->rua);
    free(j->json);
    free(j->sr.final_json);
    items_free(j->items, j->nitems);
    free(j);
  }
}

/* A push job finished. */
static void after_push(struct app *a, struct job *j) {
  a->push_queued = false;
  if (j->st == MTS_OK) {
    a->last_push = j->at;
    a->push_not_before = 0;
    app_log(a, MTS_LOG_DEBUG, "shared: pushed %zu report(s) of host %s",
            j->nitems, a->host);
  } else {
    /* Again in 5 minutes. (This once set last_push back 55 minutes,
     * which in the first 55 minutes of a UTC day fell on the day before:
     * "the day changed", so the push was retried at once, forever, and
     * --once never ended while the shared store was down.) */
    a->push_not_before = j->at + PUSH_RETRY_S;
    app_log(a, MTS_LOG_WARNING,
            "shared: cannot push this host's reports: %s; no report is sent "
            "for a shared day until the shared store answers",
            j->err);
  }
}

static void after_work_cb(uv_work_t *w, int status) {
  struct job *j = w->data;
  struct app *a = j->app;
  char ds[11];
  enum mts_status st;

  a->cur = NULL;
  mts_rpt_agg_day_str(j->day, ds);
  if (status != 0) {
    j->st = MTS_ECANCELED;
    (void)snprintf(j->err, sizeof(j->err), "canceled");
  }
  if (j->kind == JOB_PUSH) {
    after_push(a, j);
    st = MTS_OK;
  } else if (a->shared && j->st == MTS_OK && !j->sr.ours) {
    /* Another host of the fleet sends it: recorded as sent here. */
    char note[400];

    (void)snprintf(note, sizeof(note), "sent by host %s (shared)",
                   j->sr.owner);
    app_log(a, MTS_LOG_INFO, "report %s %s to %s: %s", ds, j->domain, j->rua,
            note);
    st = mts_rpt_agg_attempt(a->agg, j->day, j->domain, j->rua, now_s(), true,
                             note, 0);
  } else if (j->st == MTS_OK) {
    if (a->shared && j->sr.reused) {
      app_log(a, MTS_LOG_INFO,
              "report %s %s: shared: the merged report stored at the first "
              "attempt",
              ds, j->domain);
    } else if (a->shared) {
      app_log(a, MTS_LOG_INFO,
              "report %s %s: shared: merged now (%zu host report(s) merged, "
              "%zu skipped)",
              ds, j->domain, j->sr.nhosts, j->sr.nbad);
    }
    app_log(a, MTS_LOG_INFO, "report %s %s to %s: %s (attempt %u)", ds,
            j->domain, j->rua,
            a->cfg->dry_run_dir != NULL ? "written (dry run)" : "delivered",
            j->attempts + 1);
    st = mts_rpt_agg_attempt(a->agg, j->day, j->domain, j->rua, now_s(), true,
                             NULL, 0);
  } else {
    int64_t first = j->first_at > 0 ? j->first_at : j->at;
    int64_t next = j->st == MTS_EINVAL
                       ? 0
                       : mts_rpt_deliver_next_attempt(first, now_s(),
                                                      j->attempts + 1,
                                                      rnd64());
    char nb[32] = "never";

    if (next > 0) {
      time_t tt = (time_t)next;
      struct tm tm;

      (void)gmtime_r(&tt, &tm);
      (void)strftime(nb, sizeof(nb), "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    app_log(a, next > 0 ? MTS_LOG_WARNING : MTS_LOG_ERR,
            "report %s %s to %s: attempt %u failed: %s; %s %s", ds, j->domain,
            j->rua, j->attempts + 1, j->err,
            next > 0 ? "next attempt at" : "giving up:",
            next > 0 ? nb : (j->st == MTS_EINVAL ? "permanent error"
                                                 : "24 hours passed"));
    st = mts_rpt_agg_attempt(a->agg, j->day, j->domain, j->rua, now_s(),
                             false, j->err, next);
  }
  if (st != MTS_OK) {
    app_log(a, MTS_LOG_ERR, "cannot record the attempt: %s",
            mts_status_str(st));
  }
  job_free(j);
  start_next_job(a);
  if (a->qhead == NULL && a->cur == NULL && a->once && !a->stopping) {
    tick(a); /* --once: go on until nothing is due */
  }
}

/* Claim the delivery and freeze its report just before it is sent (a
 * lease taken when it was queued could run out while it waits). \return
 * false when it is not ours to send now. */
static bool prepare_job(struct app *a, struct job *j) {
  bool claimed = false;
  char *json = NULL;
  size_t len = 0;
  enum mts_status st;
  int64_t now = now_s();

  st = mts_rpt_agg_claim(a->agg, j->day, j->domain, j->rua, now, LEASE_S,
                         &claimed);
  if (st != MTS_OK || !claimed) {
    if (st != MTS_OK) {
      app_log(a, MTS_LOG_ERR, "claim %s %s: %s", j->domain, j->rua,
              mts_status_str(st));
    } else {
      app_log(a, MTS_LOG_DEBUG, "%s %s: another host holds it", j->domain,
              j->rua);
    }
    return false;
  }
  /* shared: this host's part, never frozen (the merged report is frozen
   * in the shared store by the host that sends it) */
  st = mts_rpt_agg_report_json(a->agg, j->day, j->domain, &a->id, !a->shared,
                               &json, &len);
  if (st == MTS_OK) {
    j->json = malloc(len + 1);
    if (j->json != NULL) {
      memcpy(j->json, json, len + 1);
      j->len = len;
    } else {
      st = MTS_ENOMEM;
    }
  }
  mts_rpt_agg_free(a->agg, json);
  if (st != MTS_OK) {
    app_log(a, MTS_LOG_ERR, "cannot build the report of %s: %s", j->domain,
            mts_status_str(st));
    st = mts_rpt_agg_attempt(a->agg, j->day, j->domain, j->rua, now, false,
                             "cannot build the report", now + 600);
    if (st != MTS_OK) {
      app_log(a, MTS_LOG_ERR, "cannot record the attempt: %s",
              mts_status_str(st));
    }
    return false;
  }
  j->at = now;
  j->rnd = rnd64();
  return true;
}

static void start_next_job(struct app *a) {
  struct job *j;

  while (a->cur == NULL && (j = a->qhead) != NULL) {
    a->qhead = j->next;
    if (a->qhead == NULL) {
      a->qtail = NULL;
    }
    j->next = NULL;
    if (a->stopping || (j->kind == JOB_DELIVER && !prepare_job(a, j))) {
      if (j->kind == JOB_PUSH) {
        a->push_queued = false;
      }
      job_free(j);
      continue;
    }
    a->cur = j;
    a->work.data = j;
    if (uv_queue_work(a->loop, &a->work, work_cb, after_work_cb) != 0) {
      app_log(a, MTS_LOG_ERR, "cannot start a delivery");
      a->cur = NULL;
      if (j->kind == JOB_PUSH) {
        a->push_queued = false;
      }
      job_free(j);
    }
  }
}

static void queue_delivery(struct app *a, const struct mts_rpt_agg_pending *p) {
  struct job *j = calloc(1, sizeof(*j));

  if (j == NULL) {
    return;
  }
  j->app = a;
  j->day = p->day;
  j->first_at = p->first_at;
  j->attempts = p->attempts;
  (void)snprintf(j->domain, sizeof(j->domain), "%s", p->domain);
  j->rua = strdup(p->rua);
  if (j->rua == NULL) {
    job_free(j);
    return;
  }
  if (a->qtail != NULL) {
    a->qtail->next = j;
  } else {
    a->qhead = j;
  }
  a->qtail = j;
}

/* ---- rua lookups ---- */

static void set_rstate(struct app *a, int64_t day, const char *domain,
                       enum mts_rpt_agg_rstate s, const char *const *ruas,
                       size_t n, int64_t next_at, const char *why) {
  enum mts_status st = mts_rpt_agg_set_rstate(a->agg, day, domain, s, ruas, n,
                                              now_s(), next_at, why);

  if (st != MTS_OK) {
    app_log(a, MTS_LOG_ERR, "cannot record the report state of %s: %s",
            domain, mts_status_str(st));
  }
}

static void on_txt(void *arg, enum mts_status st,
                   const struct mts_txt_rrset *set, bool authenticated,
                   const char *errmsg) {
  struct lookup *lk = arg;
  struct app *a = lk->app;
  struct mts_rpt_txt *txt = NULL;
  const char *ruas[MAX_RUAS];
  size_t n = 0;
  char ds[11];

  (void)authenticated;
  a->lookups--;
  mts_rpt_agg_day_str(lk->day, ds);
  if (st == MTS_ECANCELED || a->stopping) {
    free(lk);
    return;
  }
  if (st == MTS_OK && mts_rpt_txt_parse(a->ctx, set, &txt) == MTS_OK &&
      mts_rpt_txt_verdict(txt) == MTS_RPT_TXT_VALID) {
    size_t i, cnt = mts_rpt_txt_rua_count(txt);

    for (i = 0; i < cnt && n < MAX_RUAS; i++) {
      enum mts_rpt_uri_scheme sc;
      const char *u = mts_rpt_txt_rua(txt, i, &sc);

      if (u != NULL && sc != MTS_RPT_URI_OTHER) {
        ruas[n++] = u;
      }
    }
  }
  if (n > 0) {
    app_log(a, MTS_LOG_INFO, "report %s %s: %zu rua destination(s)", ds,
            lk->domain, n);
    set_rstate(a, lk->day, lk->domain, MTS_RPT_AGG_R_PLANNED, ruas, n, 0,
               NULL);
  } else if (st == MTS_OK || st == MTS_ENXDOMAIN || st == MTS_ENODATA) {
    app_log(a, MTS_LOG_INFO, "report %s %s: no usable _smtp._tls record%s%s",
            ds, lk->domain, txt != NULL ? ": " : "",
            txt != NULL ? mts_rpt_txt_verdict_str(mts_rpt_txt_verdict(txt))
                        : "");
    set_rstate(a, lk->day, lk->domain, MTS_RPT_AGG_R_NORUA, NULL, 0, 0,
               "no usable _smtp._tls record");
  } else if (now_s() > lk->day + 2 * MTS_RPT_DAY + a->cfg->send_window) {
    app_log(a, MTS_LOG_WARNING,
            "report %s %s: _smtp._tls lookup failed for a day (%s); giving up",
            ds, lk->domain, errmsg != NULL ? errmsg : mts_status_str(st));
    set_rstate(a, lk->day, lk->domain, MTS_RPT_AGG_R_GAVEUP, NULL, 0, 0,
               errmsg != NULL ? errmsg : mts_status_str(st));
  } else {
    app_log(a, MTS_LOG_WARNING, "report %s %s: _smtp._tls lookup: %s; retry",
            ds, lk->domain, errmsg != NULL ? errmsg : mts_status_str(st));
    set_rstate(a, lk->day, lk->domain, MTS_RPT_AGG_R_WAIT, NULL, 0,
               now_s() + LOOKUP_RETRY_S,
               errmsg != NULL ? errmsg : mts_status_str(st));
  }
  mts_rpt_txt_destroy(txt);
  free(lk);
  if (a->lookups == 0 && !a->stopping) {
    tick(a); /* plan the deliveries now */
  }
}

static void start_lookup(struct app *a, const struct mts_rpt_agg_pending *p) {
  struct lookup *lk;
  char name[300];
  enum mts_status st;

  if (in_list(&a->cfg->opt_out, p->domain)) {
    app_log(a, MTS_LOG_INFO, "report for %s: opted out", p->domain);
    set_rstate(a, p->day, p->domain, MTS_RPT_AGG_R_OPTOUT, NULL, 0, 0,
               "opted out");
    return;
  }
  if (a->lookups >= MAX_LOOKUPS) {
    return; /* the next tick */
  }
  lk = calloc(1, sizeof(*lk));
  if (lk == NULL) {
    return;
  }
  lk->app = a;
  lk->day = p->day;
  (void)snprintf(lk->domain, sizeof(lk->domain), "%s", p->domain);
  (void)snprintf(name, sizeof(name), "_smtp._tls.%s", p->domain);
  st = mts_net_dns_txt(a->net, name, on_txt, lk);
  if (st != MTS_OK) {
    app_log(a, MTS_LOG_ERR, "lookup %s: %s", name, mts_status_str(st));
    free(lk);
    return;
  }
  a->lookups++;
}

/* ---- the timer ---- */

static int64_t first_at_fn(void *arg, int64_t day, const char *domain) {
  struct app *a = arg;

  int64_t at;

  (void)domain;
  at = mts_rpt_deliver_first_at(day, a->once ? 0 : a->cfg->send_window,
                                rnd64());
  if (a->shared && !a->once && at < day + MTS_RPT_DAY + SHARED_SETTLE_S) {
    at = day + MTS_RPT_DAY + SHARED_SETTLE_S;
  }
  return at;
}

static bool on_due(void *arg, const struct mts_rpt_agg_pending *p) {
  struct app *a = arg;

  if (p->rua == NULL) {
    start_lookup(a, p);
  } else {
    queue_delivery(a, p);
  }
  return true;
}

/* ---- shared: this host's reports to the shared store ---- */

struct days_acc {
  int64_t from;
  struct tlsrptd_shared_item *items;
  size_t n, cap;
  bool oom;
};

static bool on_day_row(void *arg, const struct mts_rpt_agg_day_row *row) {
  struct days_acc *d = arg;

  if (row->day < d->from) {
    return true;
  }
  if (d->n == d->cap) {
    size_t cap = d->cap > 0 ? d->cap * 2 : 16;
    struct tlsrptd_shared_item *v =
        cap < SIZE_MAX / sizeof(*v) ? realloc(d->items, cap * sizeof(*v))
                                    : NULL;

    if (v == NULL) {
      d->oom = true;
      return false;
    }
    d->items = v;
    d->cap = cap;
  }
  memset(&d->items[d->n], 0, sizeof(d->items[d->n]));
  d->items[d->n].day = row->day;
  (void)snprintf(d->items[d->n].domain, sizeof(d->items[d->n].domain), "%s",
                 row->domain);
  d->n++;
  return true;
}

/* This host's own (unfrozen) report of every (day, domain) from today -
 * PUSH_DAYS on. \return 0, or -1 (logged). */
static int build_push_items(struct app *a, struct tlsrptd_shared_item **items,
                            size_t *n) {
  struct days_acc d;
  enum mts_status st;
  size_t i, k = 0;

  memset(&d, 0, sizeof(d));
  d.from = mts_rpt_agg_day(now_s()) - PUSH_DAYS * MTS_RPT_DAY;
  st = mts_rpt_agg_days(a->agg, -1, NULL, on_day_row, &d);
  if (st != MTS_OK || d.oom) {
    app_log(a, MTS_LOG_ERR, "shared: cannot list the days: %s",
            d.oom ? "out of memory" : mts_status_str(st));
    items_free(d.items, d.n);
    return -1;
  }
  for (i = 0; i < d.n; i++) {
    char *json = NULL;
    size_t len = 0;

    st = mts_rpt_agg_report_json(a->agg, d.items[i].day, d.items[i].domain,
                                 &a->id, false, &json, &len);
    if (st == MTS_OK) {
      d.items[k] = d.items[i];
      d.items[k].json = malloc(len + 1);
      if (d.items[k].json != NULL) {
        memcpy(d.items[k].json, json, len + 1);
        d.items[k].len = len;
        k++;
      }
    } else if (st != MTS_ENOTFOUND) {
      app_log(a, MTS_LOG_WARNING, "shared: cannot build the report of %s: %s",
              d.items[i].domain, mts_status_str(st));
    }
    mts_rpt_agg_free(a->agg, json);
  }
  *items = d.items;
  *n = k;
  return 0;
}

/* Queue a push (first in line) when an hour passed or the day changed. */
static void maybe_push(struct app *a, int64_t now) {
  struct job *j;

  if (!a->shared || a->push_queued || now < a->push_not_before ||
      (a->last_push != 0 && now - a->last_push < PUSH_EVERY_S &&
       mts_rpt_agg_day(a->last_push) == mts_rpt_agg_day(now))) {
    return;
  }
  j = calloc(1, sizeof(*j));
  if (j == NULL) {
    return;
  }
  j->app = a;
  j->kind = JOB_PUSH;
  j->at = now;
  if (build_push_items(a, &j->items, &j->nitems) != 0) {
    job_free(j);
    return;
  }
  if (j->nitems == 0) {
    a->last_push = now;
    job_free(j);
    return;
  }
  j->next = a->qhead;
  a->qhead = j;
  if (a->qtail == NULL) {
    a->qtail = j;
  }
  a->push_queued = true;
  start_next_job(a);
}

/* --events-from: push right away (no loop; blocking is fine here). */
static void push_sync(struct app *a) {
  struct tlsrptd_shared_item *items = NULL;
  size_t n = 0;
  char err[400];

  if (build_push_items(a, &items, &n) != 0) {
    return;
  }
  if (tlsrptd_shared_push(&a->sh, items, n, err, sizeof(err)) != MTS_OK) {
    app_log(a, MTS_LOG_WARNING,
            "shared: cannot push this host's reports: %s; no report is sent "
            "for a shared day until the shared store answers",
            err);
  } else {
    app_log(a, MTS_LOG_INFO, "shared: pushed %zu report(s) of host %s", n,
            a->host);
  }
  items_free(items, n);
}

static void stop_all(struct app *a);

static void tick(struct app *a) {
  int64_t now = now_s();
  int64_t today = mts_rpt_agg_day(now);
  size_t n = 0;
  enum mts_status st;

  if (a->stopping) {
    return;
  }
  st = mts_rpt_agg_schedule(a->agg, today, first_at_fn, a, &n);
  if (st != MTS_OK) {
    app_log(a, MTS_LOG_ERR, "cannot schedule reports: %s", mts_status_str(st));
  } else if (n > 0) {
    app_log(a, MTS_LOG_INFO, "%zu report(s) scheduled", n);
  }
  if (a->last_prune != today) {
    st = mts_rpt_agg_prune(a->agg, today - (int64_t)a->cfg->keep_days *
                                               MTS_RPT_DAY);
    if (st == MTS_OK) {
      a->last_prune = today;
    }
  }
  maybe_push(a, now);
  if (a->lookups == 0 && a->cur == NULL && a->qhead == NULL) {
    st = mts_rpt_agg_due(a->agg, now, on_due, a);
    if (st != MTS_OK) {
      app_log(a, MTS_LOG_ERR, "cannot read due reports: %s",
              mts_status_str(st));
    }
    start_next_job(a);
  }
  if (a->once && a->lookups == 0 && a->cur == NULL && a->qhead == NULL) {
    app_log(a, MTS_LOG_INFO, "--once: nothing more is due; exiting");
    stop_all(a);
  }
}

static void on_timer(uv_timer_t *t) { tick(t->data); }

/* ---- start and stop ---- */

static void on_signal(uv_signal_t *s, int signum) {
  struct app *a = s->data;

  app_log(a, MTS_LOG_INFO, "signal %d: stopping", signum);
  stop_all(a);
}

static void stop_all(struct app *a) {
  struct job *j, *next;

  if (a->stopping) {
    return;
  }
  a->stopping = true;
  (void)uv_timer_stop(&a->timer);
  uv_close((uv_handle_t *)&a->timer, NULL);
  uv_close((uv_handle_t *)&a->sigterm, NULL);
  uv_close((uv_handle_t *)&a->sigint, NULL);
  tlsrptd_collector_stop(a->col);
  a->col = NULL;
  tlsrptd_follow_stop(a->fol);
  a->fol = NULL;
  mts_net_destroy(a->net);
  a->net = NULL;
  /* Queued deliveries keep their lease until it expires; the one in
   * progress finishes (bounded by report.timeout). */
  for (j = a->qhead; j != NULL; j = next) {
    next = j->next;
    job_free(j);
  }
  a->qhead = a->qtail = NULL;
}

static int ingest(struct app *a, const char *path) {
  FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
  char *line = NULL;
  size_t cap = 0, lineno = 0, bad = 0;
  ssize_t n;

  if (f == NULL) {
    app_log(a, MTS_LOG_ERR, "%s: %s", path, strerror(errno));
    return 1;
  }
  /* Each line: [UTC-SECONDS SP] datagram JSON (the collector's input). */
  while ((n = getline(&line, &cap, f)) > 0) {
    struct mts_rpt_datagram *dg = NULL;
    char *json = line, *end = NULL;
    int64_t t = now_s();

    lineno++;
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) {
      line[--n] = '\0';
    }
    if (n == 0) {
      continue;
    }
    if (line[0] >= '0' && line[0] <= '9') {
      long long v = strtoll(line, &end, 10);

      if (end != NULL && *end == ' ') {
        t = (int64_t)v;
        json = end + 1;
      }
    }
    if (mts_rpt_datagram_parse(a->ctx, (const uint8_t *)json, strlen(json),
                               &dg) != MTS_OK ||
        !mts_rpt_datagram_usable(dg) ||
        mts_rpt_event_from_datagram(a->ctx, dg, t, on_event, a) != MTS_OK) {
      bad++;
      app_log(a, MTS_LOG_WARNING, "%s: line %zu: not a usable datagram", path,
              lineno);
    }
    mts_rpt_datagram_destroy(dg);
  }
  free(line);
  if (f != stdin) {
    (void)fclose(f);
  }
  printf("ingested %zu line(s): %llu session(s) counted, %llu duplicate(s), "
         "%zu rejected\n",
         lineno, (unsigned long long)a->events, (unsigned long long)a->dropped,
         bad);
  if (a->shared) {
    push_sync(a);
  }
  return bad > 0 || a->add_errors > 0 ? 1 : 0;
}

static void usage(FILE *out) {
  fputs("usage: mtasts-tlsrptd [-c FILE] [-t] [--once] [--events-from FILE]\n"
        "  -c FILE             configuration (default " TLSRPTD_CONFIG_DEFAULT
        ")\n"
        "  -t                  check the configuration and exit\n"
        "  --once              send every finished day now and exit\n"
        "  --events-from FILE  count libtlsrpt datagrams ([SECONDS ] JSON per\n"
        "                      line) into the store and exit\n"
        "See mtasts-tlsrptd(8).\n",
        out);
}

static void write_meta(struct app *a) {
  const struct tlsrptd_config *c = a->cfg;
  char optout[4096];
  size_t i, o = 0;

  optout[0] = '\0';
  for (i = 0; i < c->opt_out.n; i++) {
    int k = snprintf(optout + o, sizeof(optout) - o, "%s%s", o > 0 ? " " : "",
                     c->opt_out.v[i]);

    if (k < 0 || (size_t)k >= sizeof(optout) - o) {
      break;
    }
    o += (size_t)k;
  }
  if (mts_rpt_agg_set(a->agg, "organization-name", c->org) != MTS_OK ||
      mts_rpt_agg_set(a->agg, "contact-info", c->contact) != MTS_OK ||
      mts_rpt_agg_set(a->agg, "submitter", c->submitter) != MTS_OK ||
      mts_rpt_agg_set(a->agg, "from", c->from) != MTS_OK ||
      mts_rpt_agg_set(a->agg, "sendmail", c->sendmail) != MTS_OK ||
      mts_rpt_agg_set(a->agg, "opt-out", o > 0 ? optout : NULL) != MTS_OK) {
    app_log(a, MTS_LOG_WARNING, "cannot store the report identity");
  }
}

static int start_inputs(struct app *a) {
  const struct tlsrptd_config *c = a->cfg;
  int rc;

  if (c->socket != NULL) {
    struct tlsrptd_collector_cfg cc;

    memset(&cc, 0, sizeof(cc));
    cc.ctx = a->ctx;
    cc.path = c->socket;
    cc.mode = c->socket_mode;
    cc.uid = -1;
    cc.gid = -1;
    cc.quarantine_dir = c->quarantine_dir;
    if (c->socket_owner != NULL) {
      struct passwd *pw = getpwnam(c->socket_owner);

      if (pw == NULL) {
        app_log(a, MTS_LOG_ERR, "collector.owner: no user %s",
                c->socket_owner);
        return -1;
      }
      cc.uid = (long)pw->pw_uid;
    }
    if (c->socket_group != NULL) {
      struct group *gr = getgrnam(c->socket_group);

      if (gr == NULL) {
        app_log(a, MTS_LOG_ERR, "collector.group: no group %s",
                c->socket_group);
        return -1;
      }
      cc.gid = (long)gr->gr_gid;
    }
    rc = tlsrptd_collector_start(a->loop, &cc, on_event, a, &a->col);
    if (rc != 0) {
      app_log(a, MTS_LOG_ERR, "collector %s: %s", c->socket, strerror(-rc));
      return -1;
    }
    app_log(a, MTS_LOG_INFO, "collecting libtlsrpt datagrams on %s",
            c->socket);
  }
  if (c->follow_file != NULL || c->follow_command.n > 0) {
    struct tlsrptd_follow_cfg fc;

    memset(&fc, 0, sizeof(fc));
    fc.ctx = a->ctx;
    fc.path = c->follow_file;
    fc.command = c->follow_command.n > 0
                     ? (const char *const *)c->follow_command.v
                     : NULL;
    fc.state_file = c->follow_state;
    fc.from_start = c->follow_from_start;
    fc.session.exclude = (const char *const *)c->exclude_recipients.v;
    fc.session.nexclude = c->exclude_recipients.n;
    rc = tlsrptd_follow_start(a->loop, &fc, on_event, a, &a->fol);
    if (rc != 0) {
      app_log(a, MTS_LOG_ERR, "follow: %s", strerror(-rc));
      return -1;
    }
    app_log(a, MTS_LOG_INFO, "following %s",
            c->follow_file != NULL ? c->follow_file : c->follow_command.v[0]);
    app_log(a, MTS_LOG_WARNING,
            "follow: sessions from the mail log are counted and shown "
            "(mtasts report show) but not yet reported: the log does not "
            "give their policy type, which RFC 8460 needs "
            "(mtasts-tlsrptd(8))");
  }
  return 0;
}

int main(int argc, char **argv) {
  const char *conf = TLSRPTD_CONFIG_DEFAULT, *events = NULL;
  struct mts_net_options no;
  struct app a;
  uv_loop_t loop;
  char err[512];
  bool test_only = false;
  enum mts_status st;
  int i, rc = 1;

  memset(&a, 0, sizeof(a));
  for (i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
      conf = argv[++i];
    } else if (strcmp(argv[i], "-t") == 0) {
      test_only = true;
    } else if (strcmp(argv[i], "--once") == 0) {
      a.once = true;
    } else if (strcmp(argv[i], "--events-from") == 0 && i + 1 < argc) {
      events = argv[++i];
    } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
      usage(stdout);
      return 0;
    } else {
      usage(stderr);
      return 64;
    }
  }
  a.cfg = tlsrptd_config_load(conf, err, sizeof(err));
  if (a.cfg == NULL) {
    fprintf(stderr, "mtasts-tlsrptd: %s\n", err);
    return 78; /* EX_CONFIG */
  }
  if (test_only) {
    printf("%s: ok\n", conf);
    tlsrptd_config_free(a.cfg);
    return 0;
  }
  a.level = a.cfg->log_level;
  if (a.cfg->host_name != NULL) {
    (void)snprintf(a.host, sizeof(a.host), "%s", a.cfg->host_name);
  } else if (gethostname(a.host, sizeof(a.host)) != 0) {
    (void)snprintf(a.host, sizeof(a.host), "localhost");
  }
  a.host[sizeof(a.host) - 1] = '\0';
  a.id.organization_name = a.cfg->org;
  a.id.contact_info = a.cfg->contact;
  a.id.submitter = a.cfg->submitter;
  if (a.cfg->shared_url != NULL) {
    char e[200];

    if (tlsrptd_redis_url_parse(a.cfg->shared_url, &a.rurl, e, sizeof(e)) !=
        0) {
      fprintf(stderr, "mtasts-tlsrptd: %s\n", e);
      tlsrptd_config_free(a.cfg);
      return 78;
    }
    a.shared = true;
    signal(SIGPIPE, SIG_IGN); /* hiredis writes with write(2) */
    a.sh.url = &a.rurl;
    a.sh.prefix = a.cfg->shared_prefix;
    a.sh.timeout_ms = a.cfg->shared_timeout * 1000u;
    a.sh.host = a.host;
  }
  if (mts_ctx_create(NULL, &a.ctx) != MTS_OK) {
    tlsrptd_config_free(a.cfg);
    return 1;
  }
  mts_ctx_set_log(a.ctx, log_sink, NULL, a.level);
  st = mts_rpt_agg_open(a.ctx, a.cfg->state_db, a.host, &a.agg);
  if (st != MTS_OK) {
    app_log(&a, MTS_LOG_ERR, "%s: cannot open the report store: %s",
            a.cfg->state_db, mts_status_str(st));
    goto out;
  }
  write_meta(&a);
  if (events != NULL) {
    rc = ingest(&a, events);
    goto out;
  }
  if (uv_loop_init(&loop) != 0) {
    goto out;
  }
  a.loop = &loop;
  mts_net_options_init(&no);
  no.resolver = a.cfg->resolver;
  no.dns_timeout_ms = a.cfg->timeout * 1000u;
  st = mts_net_create(a.ctx, &loop, &no, &a.net);
  if (st != MTS_OK) {
    app_log(&a, MTS_LOG_ERR, "cannot set up DNS: %s", mts_status_str(st));
    (void)uv_loop_close(&loop);
    goto out;
  }
  (void)uv_timer_init(&loop, &a.timer);
  a.timer.data = &a;
  (void)uv_signal_init(&loop, &a.sigterm);
  (void)uv_signal_init(&loop, &a.sigint);
  a.sigterm.data = a.sigint.data = &a;
  (void)uv_signal_start(&a.sigterm, on_signal, SIGTERM);
  (void)uv_signal_start(&a.sigint, on_signal, SIGINT);
  signal(SIGPIPE, SIG_IGN);
  rc = 0;
  if (!a.once && start_inputs(&a) != 0) {
    rc = 1;
    stop_all(&a);
  } else {
    app_log(&a, MTS_LOG_INFO, "started (store %s, host %s%s)",
            a.cfg->state_db, a.host,
            a.cfg->dry_run_dir != NULL ? ", dry run" : "");
    (void)uv_timer_start(&a.timer, on_timer, a.once ? 0 : 1000, TICK_MS);
  }
  (void)uv_run(&loop, UV_RUN_DEFAULT);
  (void)uv_run(&loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&loop) != 0) {
    app_log(&a, MTS_LOG_WARNING, "handles still open at exit");
  }
  app_log(&a, MTS_LOG_INFO,
          "stopped: %llu session(s) counted, %llu duplicate(s) dropped",
          (unsigned long long)a.events, (unsigned long long)a.dropped);
out:
  mts_rpt_agg_close(a.agg);
  mts_ctx_destroy(a.ctx);
  tlsrptd_config_free(a.cfg);
  return rc;
}
