/*
 * daemon.c - mtastsd's top level: requests to answers, start, stop,
 * reload. See daemon.h.
 */
#include "daemon.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <mtasts/socketmap.h>
#include <mtasts/sts_discover.h>
#include <mtasts/sts_policy.h>

#include "answer.h"
#include "mxcache.h"
#include "dane.h"

#define D_LOG "MAIN"
#define R_LOG "PF"

/* ---- small helpers ---- */

const char *mtastsd_daemon_config_path(const char *arg) {
  if (arg != NULL) {
    return arg;
  }
  if (access(MTASTSD_DEFAULT_CONFIG, F_OK) == 0) {
    return MTASTSD_DEFAULT_CONFIG;
  }
  return NULL;
}

const char *mtastsd_daemon_unsupported(const struct mtastsd_config *cfg) {
  switch (cfg->cache_type) {
  case MTASTSD_CACHE_REDIS_SENTINEL:
    return "cache type redis_sentinel is not supported by mtastsd: use redis "
           "(or sqlite)";
  case MTASTSD_CACHE_POSTGRES:
    return "cache type postgres is not supported by mtastsd: use sqlite or "
           "redis";
  case MTASTSD_CACHE_INTERNAL:
  case MTASTSD_CACHE_SQLITE:
  case MTASTSD_CACHE_REDIS:
    break;
  }
  return NULL;
}

void mtastsd_daemon_notify(struct mtastsd_log *lg, const char *msg) {
  const char *path = getenv("NOTIFY_SOCKET");
  struct sockaddr_un sun;
  size_t len;
  int fd;

  if (path == NULL || (path[0] != '/' && path[0] != '@')) {
    return;
  }
  len = strlen(path);
  if (len >= sizeof(sun.sun_path)) {
    return;
  }
  memset(&sun, 0, sizeof(sun));
  sun.sun_family = AF_UNIX;
  memcpy(sun.sun_path, path, len);
  if (path[0] == '@') {
    sun.sun_path[0] = '\0'; /* abstract namespace */
  }
  fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    mtastsd_log_errno(lg, MTASTSD_WARN, D_LOG, "sd_notify: socket");
    return;
  }
  if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sun,
             (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) < 0) {
    mtastsd_log_errno(lg, MTASTSD_WARN, D_LOG, "sd_notify %s", msg);
  }
  (void)close(fd);
}

/* The deadline of a lookup in zone \p z (daemon.h). */
static uint32_t zone_deadline_ms(const struct mtastsd_zone *z) {
  uint64_t ms = (uint64_t)z->timeout * 2000u + 1000u;

  return ms > MTASTSD_DEADLINE_MAX_MS ? MTASTSD_DEADLINE_MAX_MS : (uint32_t)ms;
}

/* ---- requests ---- */

/* One request waiting for the resolver. */
struct dreq {
  struct mtastsd_daemon *d;
  struct mtastsd_req *req;
  struct mts_sts_lookup *lookup;
  struct mtastsd_answer_opts opts;
  bool in_call;  /* inside mts_sts_resolver_lookup() */
  bool answered; /* the callback ran inside that call */
  bool lookup_done; /* the resolver's callback ran (lookup handle gone) */
  bool mx_ready;    /* opts.mx is the MX set (wildcard expansion, AN-2) */
  struct mtastsd_mxwait *mxwait; /* waiting for the MX set */
  bool dane;     /* config `dane` when the request came */
  /* Waiting for the first DANE check of the domain (dane.h): the
   * MTA-STS reply is held meanwhile. */
  struct mtastsd_dane_wait *dwait;
  char *held;
  size_t held_len;
  char zone[MTS_SOCKETMAP_NAME_MAX + 1];
  char domain[MTS_SOCKETMAP_NORM_MAX];
};

static void log_decision(struct mtastsd_daemon *d, const char *peer,
                         const char *zone, const char *domain,
                         const struct mts_sts_answer *a,
                         const struct mtastsd_reply *r) {
  enum mtastsd_level lvl = MTASTSD_DEBUG;
  const char *mode = "-";

  if (strcmp(r->why, "no usable mx pattern") == 0 ||
      strncmp(r->why, "answer too large", 16) == 0 ||
      strstr(r->why, "dropped") != NULL ||
      strstr(r->why, "unexpanded") != NULL ||
      strstr(r->why, "no MX host") != NULL) {
    lvl = MTASTSD_WARN;
  }
  if (!mtastsd_log_on(d->log, lvl)) {
    return;
  }
  if (a != NULL && a->policy != NULL) {
    mode = mts_sts_mode_str(mts_sts_policy_mode(a->policy));
  }
  mtastsd_log(d->log, lvl, R_LOG,
              "%s: zone=%s domain=%s id=%s mode=%s cached=%s verdict=%s "
              "answer=%s (%s)",
              peer, zone, domain, a != NULL && a->id != NULL ? a->id : "-",
              mode != NULL ? mode : "-",
              a != NULL && a->from_cache ? "yes" : "no",
              a != NULL ? mts_sts_verdict_str(a->last_verdict) : "-",
              r->kind == MTS_SOCKETMAP_REPLY_OK         ? "OK"
              : r->kind == MTS_SOCKETMAP_REPLY_NOTFOUND ? "NOTFOUND"
                                                        : "TEMP",
              r->why);
}

static void dreq_free(struct dreq *q) {
  free(q->held);
  free(q);
}

static void dreq_cancel(void *arg) {
  struct dreq *q = arg;

  if (q->lookup != NULL) {
    mts_sts_lookup_cancel(q->lookup);
  }
  mtastsd_dane_wait_cancel(q->dwait);
  mtastsd_mxwait_cancel(q->mxwait);
  dreq_free(q);
}

/* RFC 8461 2: MTA-STS must not override DANE. The reply when every MX
 * host has DNSSEC-validated TLSA records (dane.h, docs/decisions.md
 * DN-5: plain, no TLSRPT attributes, which Postfix refuses for a policy
 * other than secure). */
static const char dane_only[] = "dane-only";
#define DANE_WHY "dane-only: DNSSEC-validated TLSA records for every MX host"

/* The first DANE check of q's domain finished: send the held reply or
 * dane-only. Runs from the loop, never inside a call of ours. */
static void on_dane(void *arg, enum mtastsd_dane_result res,
                    const char *reason) {
  struct dreq *q = arg;
  struct mtastsd_daemon *d = q->d;
  bool dane = res == MTASTSD_DANE_ALL;

  q->dwait = NULL;
  LOG_D(d->log, R_LOG, "%s: zone=%s domain=%s answer=OK (%s; dane=%s: %s)",
        mtastsd_req_peer(q->req), q->zone, q->domain,
        dane ? DANE_WHY : "MTA-STS policy", mtastsd_dane_result_str(res),
        reason);
  if (dane) {
    mtastsd_req_reply(q->req, MTS_SOCKETMAP_REPLY_OK, dane_only,
                      sizeof(dane_only) - 1);
  } else {
    mtastsd_req_reply(q->req, MTS_SOCKETMAP_REPLY_OK, q->held, q->held_len);
  }
  dreq_free(q);
}

/* A DANE check finished (dane.h): log the domain's decision. */
static void on_dane_checked(void *arg, const char *domain,
                            enum mtastsd_dane_result res, const char *reason,
                            bool changed) {
  struct mtastsd_daemon *d = arg;
  enum mtastsd_level lvl = changed ? MTASTSD_INFO : MTASTSD_DEBUG;

  if (res == MTASTSD_DANE_INCONCLUSIVE ||
      (changed && res == MTASTSD_DANE_PARTIAL)) {
    lvl = MTASTSD_WARN;
  }
  if (mtastsd_log_on(d->log, lvl)) {
    mtastsd_log(d->log, lvl, D_LOG, "dane domain=%s result=%s answer=%s (%s)",
                domain, mtastsd_dane_result_str(res),
                res == MTASTSD_DANE_ALL ? "dane-only"
                : res == MTASTSD_DANE_INCONCLUSIVE
                    ? "unchanged"
                    : "mta-sts",
                reason);
  }
}

/* Apply RFC 8461 2 to an OK reply \p r (text in d->reply_buf) for \p a.
 * \return true when the reply is held until the domain's first DANE
 * check finishes (on_dane answers then). */
static bool dane_apply(struct dreq *q, const struct mts_sts_answer *a,
                       struct mtastsd_reply *r) {
  struct mtastsd_daemon *d = q->d;
  enum mtastsd_dane_result res;
  const char *reason;

  if (!q->dane || d->dane == NULL || r->kind != MTS_SOCKETMAP_REPLY_OK ||
      a->kind != MTS_ANSWER_POLICY || a->domain == NULL) {
    return false;
  }
  res = mtastsd_dane_get(d->dane, a->domain, on_dane, q, &q->dwait, &reason);
  if (q->dwait != NULL) {
    q->held = malloc(r->len + 1);
    if (q->held == NULL) {
      mtastsd_dane_wait_cancel(q->dwait); /* answer MTA-STS now */
      q->dwait = NULL;
      return false;
    }
    memcpy(q->held, d->reply_buf, r->len);
    q->held[r->len] = '\0';
    q->held_len = r->len;
    (void)snprintf(q->domain, sizeof(q->domain), "%s", a->domain);
    r->why = "MTA-STS policy; waiting for the domain's first DANE check";
    return true;
  }
  if (res == MTASTSD_DANE_ALL) {
    memcpy(d->reply_buf, dane_only, sizeof(dane_only));
    r->len = sizeof(dane_only) - 1;
    r->why = DANE_WHY;
  }
  return false;
}

static void on_answer(void *arg, const struct mts_sts_answer *a);

/* The MX set for q's wildcards is known (mxcache.h): answer now. \p a is
 * the cache's copy of the resolver's answer. Runs from the loop. */
static void on_mx_set(void *arg, const struct mts_sts_answer *a,
                      const struct mtastsd_mxset *mx) {
  struct dreq *q = arg;

  q->mxwait = NULL;
  q->mx_ready = true;
  q->opts.mx = mx;
  on_answer(q, a);
}

static void on_answer(void *arg, const struct mts_sts_answer *a) {
  struct dreq *q = arg;
  struct mtastsd_daemon *d = q->d;
  struct mtastsd_reply r;
  bool held;

  q->lookup = NULL; /* the handle ends with this callback */
  q->lookup_done = true;
  /* Wildcards are expanded into the MX host names they match (AN-2):
   * from the MX cache at once, or after one MX lookup (on_mx_set). */
  if (!q->mx_ready && mtastsd_answer_needs_mx(a, &q->opts)) {
    const struct mtastsd_mxset *mx = NULL;

    if (!mtastsd_mxcache_get(d->mx, a, &mx, on_mx_set, q, &q->mxwait)) {
      return;
    }
    q->opts.mx = mx;
  }
  mtastsd_answer_build(a, &q->opts, d->reply_buf, MTASTSD_ANSWER_BUF_MAX, &r);
  q->opts.mx = NULL; /* borrowed for the build only */
  held = dane_apply(q, a, &r);
  log_decision(d, mtastsd_req_peer(q->req), q->zone,
               a->domain != NULL ? a->domain : "?", a, &r);
  /* A delivery that goes ahead without the domain's policy because the
   * policy failed is a reportable failure (tlsrpt.h). */
  (void)mtastsd_tlsrpt_answer(d->tlsrpt, a);
  if (held) {
    return; /* on_dane answers and frees q */
  }
  mtastsd_req_reply(q->req, r.kind, d->reply_buf, r.len);
  if (q->in_call) {
    q->answered = true; /* freed by the caller */
    return;
  }
  free(q);
}

static const struct mtastsd_override *
find_override(const struct mtastsd_config *cfg, const char *domain) {
  size_t i;

  for (i = 0; i < cfg->noverrides; i++) {
    if (cfg->overrides[i].domain != NULL &&
        strcmp(cfg->overrides[i].domain, domain) == 0) {
      return &cfg->overrides[i];
    }
  }
  return NULL;
}

static void on_request(void *arg, struct mtastsd_req *req,
                       const struct mts_socketmap_request *sm) {
  struct mtastsd_daemon *d = arg;
  const struct mtastsd_zone *z =
      mtastsd_config_zone(d->cfg, (const char *)sm->name, sm->name_len);
  char key[MTS_SOCKETMAP_NORM_MAX];
  char zone[MTS_SOCKETMAP_NAME_MAX + 1];
  enum mts_socketmap_key_kind kind = MTS_SOCKETMAP_KEY_INVALID;
  const struct mtastsd_override *ov;
  struct mts_sts_lookup *h = NULL;
  struct dreq *q;
  enum mts_status st;

  (void)mtastsd_log_printable(sm->name, sm->name_len, zone, sizeof(zone));
  st = mts_socketmap_key_normalize(sm->key, sm->key_len, key, sizeof(key),
                                   &kind);
  if (st != MTS_OK || kind != MTS_SOCKETMAP_KEY_DOMAIN) {
    if (mtastsd_log_on(d->log, MTASTSD_DEBUG)) {
      char shown[101];

      mtastsd_log(d->log, MTASTSD_DEBUG, R_LOG,
                  "%s: zone=%s key=\"%s\" (%s): NOTFOUND", mtastsd_req_peer(req),
                  zone,
                  mtastsd_log_printable(sm->key, sm->key_len, shown,
                                        sizeof(shown)),
                  st != MTS_OK ? mts_status_str(st)
                               : mts_socketmap_key_kind_str(kind));
    }
    mtastsd_req_reply(req, MTS_SOCKETMAP_REPLY_NOTFOUND, NULL, 0);
    return;
  }
  ov = find_override(d->cfg, key);
  if (ov != NULL) {
    LOG_D(d->log, R_LOG, "%s: zone=%s domain=%s answer=override",
          mtastsd_req_peer(req), zone, key);
    if (ov->answer == NULL || ov->answer[0] == '\0') {
      mtastsd_req_reply(req, MTS_SOCKETMAP_REPLY_NOTFOUND, NULL, 0);
    } else {
      mtastsd_req_reply(req, MTS_SOCKETMAP_REPLY_OK, ov->answer,
                        strlen(ov->answer));
    }
    return;
  }
  q = calloc(1, sizeof(*q));
  if (q == NULL) {
    static const char oom[] = "out of memory";

    mtastsd_req_reply(req, MTS_SOCKETMAP_REPLY_TEMP, oom, sizeof(oom) - 1);
    return;
  }
  q->d = d;
  q->req = req;
  q->dane = d->cfg->dane;
  mtastsd_answer_opts_init(&q->opts, z, d->cfg);
  memcpy(q->zone, zone, sizeof(zone));
  mtastsd_req_set_cancel(req, dreq_cancel, q);
  q->in_call = true;
  st = mts_sts_resolver_lookup(d->resolver, key, zone_deadline_ms(z), on_answer,
                               q, &h);
  q->in_call = false;
  if (q->answered) {
    free(q); /* answered from memory during the call */
    return;
  }
  if (st != MTS_OK) {
    struct mts_sts_answer a;

    LOG_W(d->log, R_LOG, "%s: lookup of %s failed to start: %s",
          mtastsd_req_peer(req), key, mts_status_str(st));
    memset(&a, 0, sizeof(a));
    a.kind = MTS_ANSWER_TEMP;
    a.domain = key;
    a.reason = mts_status_str(st);
    on_answer(q, &a); /* answers per on_tempfail and frees q */
    return;
  }
  if (!q->lookup_done) {
    q->lookup = h;
    LOG_D(d->log, R_LOG, "%s: zone=%s domain=%s: waiting for the lookup",
          mtastsd_req_peer(req), zone, key);
  }
}

/* ---- reload ---- */

static bool str_eq(const char *a, const char *b) {
  if (a == NULL || b == NULL) {
    return a == b;
  }
  return strcmp(a, b) == 0;
}

static bool listener_changed(const struct mtastsd_config *a,
                             const struct mtastsd_config *b) {
  return !str_eq(a->host, b->host) || a->port != b->port ||
         !str_eq(a->unix_path, b->unix_path) || a->unix_mode != b->unix_mode ||
         !str_eq(a->unix_owner, b->unix_owner) ||
         !str_eq(a->unix_group, b->unix_group) || a->reuse_port != b->reuse_port;
}

static bool backend_changed(const struct mtastsd_config *a,
                            const struct mtastsd_config *b) {
  return a->cache_type != b->cache_type || a->cache_size != b->cache_size ||
         !str_eq(a->sqlite_filename, b->sqlite_filename) ||
         !str_eq(a->redis_url, b->redis_url) ||
         !str_eq(a->redis_prefix, b->redis_prefix) ||
         !str_eq(a->resolver, b->resolver) || !str_eq(a->ca_file, b->ca_file) ||
         a->cache_grace != b->cache_grace ||
         a->negative_ttl != b->negative_ttl ||
         a->refresh_enabled != b->refresh_enabled ||
         a->refresh_interval != b->refresh_interval ||
         a->refresh_concurrency != b->refresh_concurrency ||
         a->refresh_grace_ratio != b->refresh_grace_ratio ||
         !str_eq(a->metrics_listen, b->metrics_listen) ||
         !str_eq(a->control_socket, b->control_socket) ||
         !str_eq(a->tlsrpt_socket, b->tlsrpt_socket);
}

/* The DNS and HTTPS timeout of the one net all zones share: the largest
 * zone timeout. Fixed at start; per zone, only the lookup deadline
 * follows the zone's own timeout (zone_deadline_ms). */
static uint32_t max_zone_timeout(const struct mtastsd_config *c) {
  uint32_t t = c->default_zone.timeout;
  size_t i;

  for (i = 0; i < c->nzones; i++) {
    if (c->zones[i].timeout > t) {
      t = c->zones[i].timeout;
    }
  }
  return t;
}

/* Load a config, logging each error line. */
static struct mtastsd_config *load_logged(struct mtastsd_daemon *d,
                                          const char *path) {
  char *text = NULL;
  size_t len = 0;
  FILE *errs = open_memstream(&text, &len);
  struct mtastsd_config *cfg;

  cfg = mtastsd_config_load(path, errs != NULL ? errs : stderr);
  if (errs != NULL) {
    char *line, *nl;

    (void)fclose(errs);
    for (line = text; line != NULL && *line != '\0'; line = nl) {
      nl = strchr(line, '\n');
      if (nl != NULL) {
        *nl++ = '\0';
      }
      if (*line != '\0') {
        LOG_E(d->log, D_LOG, "%s", line);
      }
    }
    free(text);
  }
  return cfg;
}

static void reload(struct mtastsd_daemon *d) {
  const char *path = mtastsd_daemon_config_path(d->config_arg);
  struct mtastsd_config *cfg;
  const char *why;

  if (mtastsd_log_reopen(d->log) != 0) {
    mtastsd_log_errno(d->log, MTASTSD_ERROR, D_LOG, "reopening the log file");
  }
  LOG_I(d->log, D_LOG, "SIGHUP: reloading %s",
        path != NULL ? path : "the built-in defaults");
  cfg = load_logged(d, path);
  if (cfg == NULL) {
    LOG_E(d->log, D_LOG, "reload failed: keeping the running configuration");
    return;
  }
  why = mtastsd_daemon_unsupported(cfg);
  if (why != NULL) {
    LOG_E(d->log, D_LOG, "reload refused: %s", why);
    mtastsd_config_free(cfg);
    return;
  }
  if (listener_changed(d->cfg, cfg)) {
    LOG_W(d->log, D_LOG, "listener settings changed: restart mtastsd to apply "
                         "them (still listening as before)");
  }
  if (backend_changed(d->cfg, cfg)) {
    LOG_W(d->log, D_LOG, "cache, resolver, CA or refresh settings changed: "
                         "restart mtastsd to apply them");
  }
  if (max_zone_timeout(cfg) != d->net_timeout) {
    /* Compared with what the net runs with, not with the previous file:
     * the warning stays until a restart applies the change. */
    LOG_W(d->log, D_LOG,
          "largest zone timeout changed (%u s, running with %u s): the DNS "
          "and HTTPS timeouts need a restart of mtastsd; lookup deadlines "
          "follow the zone timeouts now",
          (unsigned)max_zone_timeout(cfg), (unsigned)d->net_timeout);
  }
  /* Pending requests hold copies of their zone settings (answer.h), so
   * the old config can go now; the boot config stays (its strings were
   * given to the store and the network at start). */
  if (d->cfg != d->boot_cfg) {
    mtastsd_config_free(d->cfg);
  }
  d->cfg = cfg;
  LOG_I(d->log, D_LOG, "configuration reloaded: %zu zone(s), %zu override(s)",
        cfg->nzones, cfg->noverrides);
}

/* ---- stop ---- */

static void on_handle_closed(uv_handle_t *h) { (void)h; }

static void on_drained(void *arg) {
  struct mtastsd_daemon *d = arg;

  LOG_D(d->log, D_LOG, "all connections closed");
  (void)uv_timer_stop(&d->stop_timer);
  /* Close what keeps the loop alive; uv_run() then returns. */
  mtastsd_metrics_http_close(d->metrics);
  d->metrics = NULL;
  mtastsd_control_close(d->control);
  d->control = NULL;
  mtastsd_tlsrpt_destroy(d->tlsrpt);
  d->tlsrpt = NULL;
  mts_sts_resolver_destroy(d->resolver);
  d->resolver = NULL;
  mtastsd_mxcache_destroy(d->mx);
  d->mx = NULL;
  mts_cache_destroy(d->store);
  d->store = NULL;
  mtastsd_dane_destroy(d->dane);
  d->dane = NULL;
  mts_net_destroy(d->net);
  d->net = NULL;
  if (d->handles_up) {
    uv_close((uv_handle_t *)&d->sig_term, on_handle_closed);
    uv_close((uv_handle_t *)&d->sig_int, on_handle_closed);
    uv_close((uv_handle_t *)&d->sig_hup, on_handle_closed);
    uv_close((uv_handle_t *)&d->stop_timer, on_handle_closed);
    d->handles_up = false;
  }
}

static void on_stop_timeout(uv_timer_t *t) {
  struct mtastsd_daemon *d = t->data;

  LOG_W(d->log, D_LOG,
        "shutdown_timeout reached: closing %zu connection(s) with requests "
        "in flight",
        mtastsd_server_conns(d->srv));
  mtastsd_server_abort(d->srv);
}

static void on_signal(uv_signal_t *s, int signum) {
  struct mtastsd_daemon *d = s->data;

  if (signum == SIGHUP) {
    if (!d->stopping) {
      reload(d);
    }
    return;
  }
  if (d->stopping) {
    LOG_W(d->log, D_LOG, "second signal: closing every connection now");
    mtastsd_server_abort(d->srv);
    return;
  }
  d->stopping = true;
  LOG_I(d->log, D_LOG, "%s: stopping (up to %u s for requests in flight)",
        signum == SIGTERM ? "SIGTERM" : "SIGINT", d->cfg->shutdown_timeout);
  mtastsd_daemon_notify(d->log, "STOPPING=1");
  (void)uv_timer_start(&d->stop_timer, on_stop_timeout,
                       (uint64_t)d->cfg->shutdown_timeout * 1000u, 0);
  mtastsd_server_shutdown(d->srv, on_drained, d);
}

/* ---- life cycle ---- */

int mtastsd_daemon_init(struct mtastsd_daemon *d, struct mtastsd_log *lg,
                        const char *config_arg, struct mtastsd_config *cfg) {
  memset(d, 0, sizeof(*d));
  d->log = lg;
  d->boot_cfg = d->cfg = cfg;
  if (config_arg != NULL) {
    d->config_arg = strdup(config_arg);
    if (d->config_arg == NULL) {
      LOG_E(lg, D_LOG, "out of memory");
      return -1;
    }
  }
  d->reply_buf = malloc(MTASTSD_ANSWER_BUF_MAX);
  if (d->reply_buf == NULL) {
    LOG_E(lg, D_LOG, "out of memory");
    return -1;
  }
  if (uv_loop_init(&d->loop) != 0) {
    LOG_E(lg, D_LOG, "cannot create the event loop");
    return -1;
  }
  d->loop_ok = true;
  if (mts_ctx_create(NULL, &d->ctx) != MTS_OK) {
    LOG_E(lg, D_LOG, "out of memory");
    return -1;
  }
  mts_ctx_set_log(d->ctx, mtastsd_log_lib, lg, mtastsd_log_lib_level(lg->level));
  if (mtastsd_server_create(&d->loop, d->ctx, lg, NULL, on_request, d,
                            &d->srv) != 0) {
    LOG_E(lg, D_LOG, "out of memory");
    return -1;
  }
  return 0;
}

static int lookup_owner(struct mtastsd_daemon *d, uid_t *uid, gid_t *gid) {
  const struct mtastsd_config *c = d->cfg;

  *uid = (uid_t)-1;
  *gid = (gid_t)-1;
  if (c->unix_owner != NULL) {
    const struct passwd *pw = getpwnam(c->unix_owner);

    if (pw == NULL) {
      LOG_E(d->log, D_LOG, "socket owner %.100s: no such user", c->unix_owner);
      return -1;
    }
    *uid = pw->pw_uid;
  }
  if (c->unix_group != NULL) {
    const struct group *gr = getgrnam(c->unix_group);

    if (gr == NULL) {
      LOG_E(d->log, D_LOG, "socket group %.100s: no such group", c->unix_group);
      return -1;
    }
    *gid = gr->gr_gid;
  }
  return 0;
}

/* ---- side channels: metrics and control (metrics_http.h, control.h) ---- */

static void collect_metrics(void *arg, struct mtastsd_metrics *out) {
  struct mtastsd_daemon *d = arg;

  mts_sts_resolver_stats(d->resolver, &out->rs); /* zero without one */
  mtastsd_server_stats(d->srv, &out->srv);
}

static struct mts_sts_resolver *control_resolver(void *arg) {
  struct mtastsd_daemon *d = arg;

  return d->stopping ? NULL : d->resolver;
}

int mtastsd_daemon_listen(struct mtastsd_daemon *d) {
  const struct mtastsd_config *c = d->cfg;
  uid_t uid;
  gid_t gid;

  /* The metrics port is bound here, as root, like the socketmap one. */
  if (c->metrics_listen != NULL &&
      mtastsd_metrics_http_create(&d->loop, d->log, c->metrics_listen,
                                  collect_metrics, d, &d->metrics) != 0) {
    return -1;
  }
  if (c->unix_path != NULL) {
    if (lookup_owner(d, &uid, &gid) != 0) {
      return -1;
    }
    return mtastsd_server_listen_unix(d->srv, c->unix_path, c->unix_mode, uid,
                                      gid);
  }
  return mtastsd_server_listen_tcp(d->srv,
                                   c->host != NULL ? c->host : "127.0.0.1",
                                   c->port, c->reuse_port);
}

static void open_store(struct mtastsd_daemon *d) {
  const struct mtastsd_config *c = d->cfg;
  enum mts_status st = MTS_OK;

  switch (c->cache_type) {
  case MTASTSD_CACHE_SQLITE:
    /* A file that cannot be opened now (logged) does not stop mail: the
     * store answers from memory and opens the file when it can. */
    st = mts_cache_sqlite_create_retrying(d->ctx, &d->loop,
                                          c->sqlite_filename, &d->store);
    if (st != MTS_OK) {
      LOG_E(d->log, D_LOG,
            "cannot open the sqlite cache %.200s (%s): serving from memory "
            "only",
            c->sqlite_filename != NULL ? c->sqlite_filename : "(unset)",
            mts_status_str(st));
    } else {
      LOG_I(d->log, D_LOG, "cache: sqlite %.200s", c->sqlite_filename);
    }
    break;
  case MTASTSD_CACHE_REDIS:
    st = mts_cache_redis_create(d->ctx, &d->loop, c->redis_url,
                                c->redis_prefix != NULL ? c->redis_prefix
                                                        : "mtasts:",
                                &d->store);
    if (st != MTS_OK) {
      LOG_E(d->log, D_LOG,
            "cannot use the redis cache (%s): serving from memory only",
            mts_status_str(st));
    } else {
      LOG_I(d->log, D_LOG, "cache: redis");
    }
    break;
  case MTASTSD_CACHE_INTERNAL:
  case MTASTSD_CACHE_REDIS_SENTINEL:
  case MTASTSD_CACHE_POSTGRES:
    LOG_I(d->log, D_LOG, "cache: internal (memory, %zu entries)",
          c->cache_size);
    break;
  }
  if (st != MTS_OK) {
    d->store = NULL;
  }
}

int mtastsd_daemon_start(struct mtastsd_daemon *d) {
  const struct mtastsd_config *c = d->cfg;
  struct mts_net_options no;
  struct mts_sts_resolver_options ro;
  enum mts_status st;
  uint32_t t = max_zone_timeout(c);

  /* After the privilege drop, so the socket belongs to the daemon's
   * user; before any thread exists (the socket is made under a umask). */
  if (c->control_socket != NULL &&
      mtastsd_control_create(&d->loop, d->log, d->ctx, c->control_socket,
                             control_resolver, d, &d->control) != 0) {
    return -1;
  }
  if (c->tlsrpt_socket != NULL &&
      mtastsd_tlsrpt_create(c->tlsrpt_socket, d->log, &d->tlsrpt) != 0) {
    return -1;
  }
  mts_net_options_init(&no);
  no.resolver = c->resolver;
  no.ca_file = c->ca_file;
  no.dns_timeout_ms = t * 1000u;
  no.http_timeout_ms = t * 1000u;
  d->net_timeout = t;
  st = mts_net_create(d->ctx, &d->loop, &no, &d->net);
  if (st != MTS_OK) {
    LOG_E(d->log, D_LOG, "cannot set up DNS and HTTPS (resolver %s, CA %s): %s",
          c->resolver != NULL ? c->resolver : "system",
          c->ca_file != NULL ? c->ca_file : "system", mts_status_str(st));
    return -1;
  }
  open_store(d);
  mts_sts_resolver_options_init(&ro);
  ro.cache_size = c->cache_size;
  ro.cache_grace = c->cache_grace;
  ro.negative_ttl = c->negative_ttl;
  ro.refresh_enabled = c->refresh_enabled;
  ro.refresh_interval = c->refresh_interval;
  ro.refresh_grace_ratio = c->refresh_grace_ratio;
  ro.refresh_concurrency = c->refresh_concurrency;
  ro.store = d->store;
  st = mts_sts_resolver_create(d->ctx, d->net, &ro, &d->resolver);
  if (st != MTS_OK) {
    LOG_E(d->log, D_LOG, "cannot create the policy resolver: %s",
          mts_status_str(st));
    return -1;
  }
  /* MX sets for wildcard expansion (mxcache.h, AN-2). */
  d->mx = mtastsd_mxcache_create(&d->loop, d->ctx, d->net, d->log);
  if (d->mx == NULL) {
    LOG_E(d->log, D_LOG, "out of memory");
    return -1;
  }
  /* Always created, so a reload can turn `dane` on; used only while it
   * is. Re-checks at the TXT id check cadence (cache_grace). */
  if (mtastsd_dane_create(&d->loop, d->net, c->cache_size, c->cache_grace,
                          on_dane_checked, d, &d->dane) != 0) {
    LOG_E(d->log, D_LOG, "out of memory");
    return -1;
  }
  LOG_I(d->log, D_LOG, "dane: %s",
        c->dane ? "on (dane-only for domains whose MX hosts all have "
                  "DNSSEC-validated TLSA records)"
                : "off");

  (void)signal(SIGPIPE, SIG_IGN);
  (void)uv_signal_init(&d->loop, &d->sig_term);
  (void)uv_signal_init(&d->loop, &d->sig_int);
  (void)uv_signal_init(&d->loop, &d->sig_hup);
  (void)uv_timer_init(&d->loop, &d->stop_timer);
  d->sig_term.data = d->sig_int.data = d->sig_hup.data = d;
  d->stop_timer.data = d;
  d->handles_up = true;
  if (uv_signal_start(&d->sig_term, on_signal, SIGTERM) != 0 ||
      uv_signal_start(&d->sig_int, on_signal, SIGINT) != 0 ||
      uv_signal_start(&d->sig_hup, on_signal, SIGHUP) != 0) {
    LOG_E(d->log, D_LOG, "cannot install signal handlers");
    return -1;
  }
  return 0;
}

int mtastsd_daemon_run(struct mtastsd_daemon *d) {
  LOG_I(d->log, D_LOG, "mtastsd ready (pid %ld)", (long)getpid());
  mtastsd_daemon_notify(d->log, "READY=1");
  (void)uv_run(&d->loop, UV_RUN_DEFAULT);
  LOG_I(d->log, D_LOG, "stopped");
  return 0;
}

static void walk_close(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h)) {
    uv_close(h, NULL);
  }
}

void mtastsd_daemon_cleanup(struct mtastsd_daemon *d) {
  if (d->loop_ok) {
    /* After a failed start: close what is open, let it finish. */
    if (d->srv != NULL) {
      mtastsd_server_abort(d->srv);
      mtastsd_server_shutdown(d->srv, NULL, NULL);
    }
    mtastsd_metrics_http_close(d->metrics);
    d->metrics = NULL;
    mtastsd_control_close(d->control);
    d->control = NULL;
    mtastsd_tlsrpt_destroy(d->tlsrpt);
    d->tlsrpt = NULL;
    mts_sts_resolver_destroy(d->resolver);
    mtastsd_mxcache_destroy(d->mx);
    d->mx = NULL;
    mts_cache_destroy(d->store);
    mtastsd_dane_destroy(d->dane);
    d->dane = NULL;
    mts_net_destroy(d->net);
    d->resolver = NULL;
    d->store = NULL;
    d->net = NULL;
    if (d->handles_up) {
      uv_close((uv_handle_t *)&d->sig_term, NULL);
      uv_close((uv_handle_t *)&d->sig_int, NULL);
      uv_close((uv_handle_t *)&d->sig_hup, NULL);
      uv_close((uv_handle_t *)&d->stop_timer, NULL);
      d->handles_up = false;
    }
    (void)uv_run(&d->loop, UV_RUN_DEFAULT);
    uv_walk(&d->loop, walk_close, NULL);
    (void)uv_run(&d->loop, UV_RUN_DEFAULT);
    (void)uv_loop_close(&d->loop);
    d->loop_ok = false;
  }
  mtastsd_server_free(d->srv);
  d->srv = NULL;
  mts_ctx_destroy(d->ctx);
  d->ctx = NULL;
  if (d->cfg != d->boot_cfg) {
    mtastsd_config_free(d->cfg);
  }
  mtastsd_config_free(d->boot_cfg);
  d->cfg = d->boot_cfg = NULL;
  free(d->config_arg);
  free(d->reply_buf);
  d->config_arg = NULL;
  d->reply_buf = NULL;
}
