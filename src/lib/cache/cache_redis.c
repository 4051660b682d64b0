/*
 * cache_redis.c - the shared policy store (mts_cache_redis_create):
 * hiredis' asynchronous API on the caller's libuv loop, so a fleet of
 * daemons fetches each policy once.
 *
 * Key layout (docs/internals/cache.md): `<prefix>policy:<domain>` is a
 * hash with the fields has_policy, id, mode, max_age, fetched_at,
 * failed_id, failed_at, updated_at and (when a body is cached) body.
 * A put is `MULTI; DEL; HSET; EXPIRE; EXEC`, so a reader never sees a
 * half-written record or a key without a TTL; the TTL is
 * mts_cache_record_ttl(): the remaining validity of the policy, or an
 * hour for a record that only carries fetch backoff state.
 *
 * Failure behaviour (the loop must never wait on Redis):
 *  - while there is no connection every call completes at once with
 *    MTS_EUNAVAIL, through a zero timer (never inside the call);
 *  - every command has a deadline (RD_CMD_TIMEOUT_MS); a command that
 *    misses it completes with MTS_ETIMEOUT and the connection is dropped
 *    (a server that does not answer one command will not answer the
 *    next), failing the other commands in flight with MTS_EUNAVAIL;
 *  - reconnection is automatic with exponential backoff (100 ms .. 10 s,
 *    reset after a successful handshake);
 *  - a host name is resolved with uv_getaddrinfo (hiredis would block
 *    in getaddrinfo);
 *  - a server that lost its data (restarted without persistence, or
 *    flushed) is told from a dropped connection by `<prefix>epoch`, a
 *    random token without TTL: each connection does `SET epoch TOKEN NX`
 *    and `GET epoch`; a value unlike the one seen before means the keys
 *    are gone, and the reset callback runs (mts_cache_on_reset()) so the
 *    owner writes back what it holds (docs/decisions.md CACHE-STORE-8).
 * Replies are outside input: every record read back is checked
 * (mts_cache_record_check) and a bad one is skipped with a log line.
 *
 * hiredis writes with write(2): the process must ignore SIGPIPE.
 * hiredis allocates with its own allocator (OWNERSHIP.md rule 9).
 */
#include <stdio.h>
#include <string.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wsign-conversion"
#pragma GCC diagnostic ignored "-Wmissing-prototypes"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wpedantic"
#include <hiredis/adapters/libuv.h>
#pragma GCC diagnostic pop

#include "cache/cache_int.h"
#include "cache/cache_record_int.h"
#include "cache/cache_redis_int.h"
#include "core/ascii_int.h"

#define RD_CMD_TIMEOUT_MS 1000
#define RD_CONNECT_TIMEOUT_MS 1000
#define RD_BACKOFF_MIN_MS 100
#define RD_BACKOFF_MAX_MS 10000
#define RD_TICK_MS 50
#define RD_SCAN_COUNT "100"
#define RD_PREFIX_MAX 128
#define RD_KEY_MAX (RD_PREFIX_MAX + 7 + MTS_DOMAIN_MAX + 1)

enum rd_kind { RD_GET, RD_PUT, RD_DEL, RD_SCAN, RD_HANDSHAKE, RD_EPOCH };

#define RD_EPOCH_LEN 32 /* hex digits of the token */

struct cache_redis;

struct rd_op {
  struct rd_op *prev, *next; /* in s->ops until completed */
  struct cache_redis *s;
  enum rd_kind kind;
  mts_cache_get_cb get_cb;
  mts_cache_done_cb done_cb;
  mts_cache_each_cb each_cb;
  void *arg;
  uint64_t deadline; /* uv_now() ms */
  int refs;          /* replies hiredis still owes us */
  bool completed;    /* the user callback has run */
  bool deferred;     /* complete from the zero timer with st */
  enum mts_status st;
  char domain[MTS_DOMAIN_MAX + 1];
  /* scan */
  char cursor[24];
  int scan_pending; /* HGETALL replies outstanding in this batch */
  bool scan_stopped;
};

struct cache_redis {
  struct mts_cache base;
  struct mts_cache_redis_url url;
  char *prefix;
  size_t prefix_len;
  redisAsyncContext *ac; /* NULL: no connection (attempt) */
  bool connected;        /* onConnect said OK */
  bool ever_failed_quiet; /* a failure was logged; log the next quietly */
  bool resolving;        /* gai in flight */
  bool closing;
  uint64_t backoff_ms;
  uv_timer_t retry_timer, conn_timer, tick_timer, defer_timer;
  uv_getaddrinfo_t gai;
  int open_handles; /* timers + gai not yet finished closing */
  struct rd_op *ops; /* pending, oldest first */
  struct rd_op *ops_tail;
  char epoch[RD_EPOCH_LEN + 1]; /* the server's token, "" before the first */
  /* The epoch check's op: part of the store, so a check never fails
   * for memory (it is best effort) and never makes a call fail. */
  struct rd_op epoch_op;
};

/* ---------------- URL ---------------- */

static int rd_hex(uint8_t c) {
  if (mts_is_digit(c)) {
    return c - '0';
  }
  c = mts_lower(c);
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decode s[0..n) into a new string. NULL on a bad escape (or
 * ENOMEM: *nomem tells). */
static char *rd_pct_dup(struct mts_ctx *ctx, const char *s, size_t n,
                        bool *nomem) {
  char *out = mts_malloc(ctx, n + 1);
  size_t i, o = 0;

  if (out == NULL) {
    *nomem = true;
    return NULL;
  }
  for (i = 0; i < n; i++) {
    if (s[i] == '%') {
      int h, l;

      if (n - i < 3 || (h = rd_hex((uint8_t)s[i + 1])) < 0 ||
          (l = rd_hex((uint8_t)s[i + 2])) < 0 || (h == 0 && l == 0)) {
        mts_free(ctx, out);
        return NULL;
      }
      out[o++] = (char)(h * 16 + l);
      i += 2;
    } else {
      out[o++] = s[i];
    }
  }
  out[o] = '\0';
  return out;
}

void mts_cache_redis_url_cleanup(struct mts_ctx *ctx,
                                 struct mts_cache_redis_url *u) {
  mts_free(ctx, u->unix_path);
  mts_free(ctx, u->host);
  mts_free(ctx, u->user);
  mts_free(ctx, u->password);
  memset(u, 0, sizeof(*u));
  u->port = 6379;
}

/* Digits only, value in [lo, hi]. */
static bool rd_number(const char *s, size_t n, long lo, long hi, long *out) {
  long v = 0;
  size_t i;

  if (n == 0 || n > 9) {
    return false;
  }
  for (i = 0; i < n; i++) {
    if (!mts_is_digit((uint8_t)s[i])) {
      return false;
    }
    v = v * 10 + (s[i] - '0');
  }
  if (v < lo || v > hi) {
    return false;
  }
  *out = v;
  return true;
}

enum mts_status mts_cache_redis_url_parse(struct mts_ctx *ctx, const char *url,
                                          struct mts_cache_redis_url *u) {
  enum mts_status st = MTS_EINVAL;
  const char *p, *end, *at, *hs, *he, *slash;
  bool nomem = false;
  long v;
  size_t i;

  memset(u, 0, sizeof(*u));
  u->port = 6379;
  if (url == NULL) {
    goto done;
  }
  for (i = 0; url[i] != '\0'; i++) {
    if ((uint8_t)url[i] <= ' ' || (uint8_t)url[i] >= 0x7f) {
      goto done; /* no blanks, controls or 8-bit in a URL */
    }
  }
  if (strncmp(url, "unix:", 5) == 0) {
    p = url + 5;
    if (strncmp(p, "//", 2) == 0) {
      p += 2; /* unix:///path */
    }
    if (p[0] != '/' || strlen(p) < 2) {
      goto done;
    }
    u->unix_path = mts_strdup(ctx, p);
    st = u->unix_path == NULL ? MTS_ENOMEM : MTS_OK;
    goto done;
  }
  if (strncmp(url, "redis://", 8) != 0) {
    goto done;
  }
  p = url + 8;
  end = p + strlen(p);
  slash = strchr(p, '/');
  if (slash == NULL) {
    slash = end;
  }
  /* userinfo: everything up to the last '@' before the path. */
  at = NULL;
  for (hs = p; hs < slash; hs++) {
    if (*hs == '@') {
      at = hs;
    }
  }
  if (at != NULL) {
    const char *colon = memchr(p, ':', (size_t)(at - p));

    if (colon == NULL) {
      goto done; /* a user without a password */
    }
    if (colon > p) {
      u->user = rd_pct_dup(ctx, p, (size_t)(colon - p), &nomem);
      if (u->user == NULL) {
        goto done;
      }
    }
    u->password = rd_pct_dup(ctx, colon + 1, (size_t)(at - colon - 1), &nomem);
    if (u->password == NULL || u->password[0] == '\0') {
      goto done;
    }
    p = at + 1;
  }
  /* host */
  if (*p == '[') {
    hs = p + 1;
    he = memchr(hs, ']', (size_t)(slash - hs));
    if (he == NULL) {
      goto done;
    }
    p = he + 1;
  } else {
    hs = p;
    for (he = p; he < slash && *he != ':'; he++) {
    }
    p = he;
  }
  if (he == hs) {
    goto done;
  }
  for (i = 0; hs + i < he; i++) {
    uint8_t c = (uint8_t)hs[i];

    if (!(mts_is_alnum(c) || c == '.' || c == '-' || c == ':' || c == '_')) {
      goto done;
    }
  }
  if (*p == ':') {
    if (!rd_number(p + 1, (size_t)(slash - p - 1), 1, 65535, &v)) {
      goto done;
    }
    u->port = (int)v;
    p = slash;
  }
  if (p != slash) {
    goto done;
  }
  if (*p == '/' && p + 1 < end) {
    if (!rd_number(p + 1, (size_t)(end - p - 1), 0, 1000000, &u->db)) {
      goto done;
    }
  }
  u->host = mts_strndup(ctx, hs, (size_t)(he - hs));
  st = u->host == NULL ? MTS_ENOMEM : MTS_OK;
done:
  if (nomem) {
    st = MTS_ENOMEM;
  }
  if (st != MTS_OK) {
    mts_cache_redis_url_cleanup(ctx, u);
  }
  return st;
}

/* ---------------- ops ---------------- */

static void rd_tick_cb(uv_timer_t *t);
static void rd_drop(struct cache_redis *s, const char *why);

static void rd_list_add(struct cache_redis *s, struct rd_op *op) {
  op->next = NULL;
  op->prev = s->ops_tail;
  if (s->ops_tail != NULL) {
    s->ops_tail->next = op;
  } else {
    s->ops = op;
  }
  s->ops_tail = op;
  if (!uv_is_active((uv_handle_t *)&s->tick_timer)) {
    /* Referenced while ops are pending: uv_run() waits for them. */
    (void)uv_timer_start(&s->tick_timer, rd_tick_cb, RD_TICK_MS, RD_TICK_MS);
  }
}

static void rd_list_del(struct cache_redis *s, struct rd_op *op) {
  if (op->prev != NULL) {
    op->prev->next = op->next;
  } else {
    s->ops = op->next;
  }
  if (op->next != NULL) {
    op->next->prev = op->prev;
  } else {
    s->ops_tail = op->prev;
  }
  op->prev = op->next = NULL;
  if (s->ops == NULL) {
    (void)uv_timer_stop(&s->tick_timer);
  }
}

static struct rd_op *rd_op_new(struct cache_redis *s, enum rd_kind kind) {
  struct rd_op *op = mts_calloc(s->base.ctx, 1, sizeof(*op));

  if (op == NULL) {
    return NULL;
  }
  op->s = s;
  op->kind = kind;
  op->deadline = uv_now(s->base.loop) + RD_CMD_TIMEOUT_MS;
  return op;
}

static void rd_op_maybe_free(struct rd_op *op) {
  if (op->completed && op->refs == 0 && op != &op->s->epoch_op) {
    mts_free(op->s->base.ctx, op);
  }
}

/* Run the user callback once; the op lives on while replies are owed. */
static void rd_complete(struct rd_op *op, enum mts_status st,
                        const struct mts_cache_record *rec) {
  struct cache_redis *s = op->s;

  if (op->completed) {
    return;
  }
  op->completed = true;
  rd_list_del(s, op);
  switch (op->kind) {
  case RD_GET:
    op->get_cb(op->arg, st, st == MTS_OK ? rec : NULL);
    break;
  case RD_PUT:
  case RD_DEL:
  case RD_SCAN:
    if (op->done_cb != NULL) {
      op->done_cb(op->arg, st);
    }
    break;
  case RD_EPOCH:
    break; /* nothing waits for it */
  case RD_HANDSHAKE:
    if (st != MTS_OK && !s->closing) {
      mts_log(s->base.ctx, MTS_LOG_ERR,
              "cache redis: handshake (AUTH/SELECT) failed: %s",
              mts_status_str(st));
      rd_drop(s, NULL);
    } else if (st == MTS_OK) {
      s->backoff_ms = RD_BACKOFF_MIN_MS;
    }
    break;
  }
}

static void rd_defer_cb(uv_timer_t *t) {
  struct cache_redis *s = t->data;
  struct rd_op *op;

  /* Restart from the head after each callback: it may add or complete
   * other ops. */
  for (;;) {
    for (op = s->ops; op != NULL && !op->deferred; op = op->next) {
    }
    if (op == NULL) {
      break;
    }
    rd_complete(op, op->st, NULL);
    rd_op_maybe_free(op);
  }
}

/* Complete \p op with \p st from the loop, not inside the caller. */
static void rd_defer(struct cache_redis *s, struct rd_op *op,
                     enum mts_status st) {
  op->deferred = true;
  op->st = st;
  rd_list_add(s, op);
  (void)uv_timer_start(&s->defer_timer, rd_defer_cb, 0, 0);
}

static void rd_tick_cb(uv_timer_t *t) {
  struct cache_redis *s = t->data;
  uint64_t now = uv_now(s->base.loop);
  bool expired = false;
  struct rd_op *op;

  for (;;) {
    for (op = s->ops; op != NULL && (op->deferred || op->deadline > now);
         op = op->next) {
    }
    if (op == NULL) {
      break;
    }
    expired = true;
    rd_complete(op, MTS_ETIMEOUT, NULL);
    rd_op_maybe_free(op);
  }
  if (expired && !s->closing) {
    rd_drop(s, "command timed out");
  }
}

/* ---------------- connection ---------------- */

static void rd_connect(struct cache_redis *s);

static void rd_retry_cb(uv_timer_t *t) {
  struct cache_redis *s = t->data;

  if (!s->closing && s->ac == NULL && !s->resolving) {
    rd_connect(s);
  }
}

static void rd_schedule_retry(struct cache_redis *s) {
  if (s->closing) {
    return;
  }
  (void)uv_timer_start(&s->retry_timer, rd_retry_cb, s->backoff_ms, 0);
  s->backoff_ms *= 2;
  if (s->backoff_ms > RD_BACKOFF_MAX_MS) {
    s->backoff_ms = RD_BACKOFF_MAX_MS;
  }
}

/* Log a connection failure loudly once, then quietly until a success. */
static void rd_log_fail(struct cache_redis *s, const char *what,
                        const char *detail) {
  mts_log(s->base.ctx, s->ever_failed_quiet ? MTS_LOG_DEBUG : MTS_LOG_WARNING,
          "cache redis: %s: %.200s (serving from memory; retrying)", what,
          detail != NULL ? detail : "");
  s->ever_failed_quiet = true;
}

/* Drop the connection now: commands in flight fail (EUNAVAIL, or
 * ECANCELED when closing), a reconnect is scheduled. */
static void rd_drop(struct cache_redis *s, const char *why) {
  redisAsyncContext *ac = s->ac;

  if (why != NULL) {
    rd_log_fail(s, "connection dropped", why);
  }
  (void)uv_timer_stop(&s->conn_timer);
  s->ac = NULL;
  s->connected = false;
  if (ac != NULL) {
    redisAsyncFree(ac); /* NULL replies to every pending command */
  }
  rd_schedule_retry(s);
}

static void rd_conn_timeout_cb(uv_timer_t *t) {
  struct cache_redis *s = t->data;

  if (s->ac != NULL && !s->connected) {
    rd_drop(s, "connect timed out");
  }
}

static void rd_on_connect(const redisAsyncContext *ac, int status) {
  struct cache_redis *s = ac->data;

  if (s == NULL || s->ac != ac) {
    return;
  }
  (void)uv_timer_stop(&s->conn_timer);
  if (status != REDIS_OK) {
    /* hiredis frees the context after this callback. */
    rd_log_fail(s, "connect failed", ac->errstr);
    s->ac = NULL;
    rd_schedule_retry(s);
    return;
  }
  s->connected = true;
  mts_log(s->base.ctx, MTS_LOG_INFO, "cache redis: connected");
  s->ever_failed_quiet = false;
  if (s->url.password == NULL && s->url.db == 0) {
    s->backoff_ms = RD_BACKOFF_MIN_MS;
  }
}

static void rd_on_disconnect(const redisAsyncContext *ac, int status) {
  struct cache_redis *s = ac->data;

  if (s == NULL || s->ac != ac) {
    return; /* we dropped it ourselves */
  }
  s->ac = NULL;
  s->connected = false;
  if (!s->closing) {
    rd_log_fail(s, "connection lost",
                status == REDIS_OK ? "closed" : ac->errstr);
    rd_schedule_retry(s);
  }
}

static void rd_reply_cb(redisAsyncContext *ac, void *r, void *privdata);

static bool rd_send(struct cache_redis *s, struct rd_op *op, int argc,
                    const char **argv, const size_t *lens) {
  if (s->ac == NULL ||
      redisAsyncCommandArgv(s->ac, rd_reply_cb, op, argc, argv, lens) !=
          REDIS_OK) {
    return false;
  }
  op->refs++;
  return true;
}

static void rd_handshake(struct cache_redis *s) {
  struct rd_op *op;
  char db[24];
  const char *argv[3];
  size_t lens[3];
  int n = 0;

  if (s->url.password == NULL && s->url.db == 0) {
    return;
  }
  op = rd_op_new(s, RD_HANDSHAKE);
  if (op == NULL) {
    rd_drop(s, "out of memory");
    return;
  }
  rd_list_add(s, op);
  if (s->url.password != NULL) {
    argv[n] = "AUTH";
    lens[n++] = 4;
    if (s->url.user != NULL) {
      argv[n] = s->url.user;
      lens[n] = strlen(s->url.user);
      n++;
    }
    argv[n] = s->url.password;
    lens[n] = strlen(s->url.password);
    n++;
    if (!rd_send(s, op, n, argv, lens)) {
      goto fail;
    }
  }
  if (s->url.db != 0) {
    (void)snprintf(db, sizeof(db), "%ld", s->url.db);
    argv[0] = "SELECT";
    lens[0] = 6;
    argv[1] = db;
    lens[1] = strlen(db);
    if (!rd_send(s, op, 2, argv, lens)) {
      goto fail;
    }
  }
  return;
fail:
  rd_complete(op, MTS_EUNAVAIL, NULL);
  rd_op_maybe_free(op);
}

/* Ask for the server's epoch token, setting ours if it has none. */
static void rd_epoch(struct cache_redis *s) {
  static const char hex[] = "0123456789abcdef";
  struct rd_op *op = &s->epoch_op;
  uint8_t rnd[RD_EPOCH_LEN / 2];
  char key[RD_PREFIX_MAX + 6], tok[RD_EPOCH_LEN + 1];
  const char *argv[4] = {"SET", key, tok, "NX"};
  size_t lens[4] = {3, 0, RD_EPOCH_LEN, 2};
  size_t i;

  if (!op->completed || op->refs > 0 ||
      uv_random(NULL, NULL, rnd, sizeof(rnd), 0, NULL) != 0) {
    return; /* the last one still owes replies; or no check this time */
  }
  for (i = 0; i < sizeof(rnd); i++) {
    tok[2 * i] = hex[rnd[i] >> 4];
    tok[2 * i + 1] = hex[rnd[i] & 15];
  }
  tok[RD_EPOCH_LEN] = '\0';
  memcpy(key, s->prefix, s->prefix_len);
  memcpy(key + s->prefix_len, "epoch", 6);
  lens[1] = s->prefix_len + 5;
  memset(op, 0, sizeof(*op));
  op->s = s;
  op->kind = RD_EPOCH;
  op->deadline = uv_now(s->base.loop) + RD_CMD_TIMEOUT_MS;
  rd_list_add(s, op);
  if (!rd_send(s, op, 4, argv, lens)) {
    goto fail;
  }
  argv[0] = "GET";
  if (!rd_send(s, op, 2, argv, lens)) {
    goto fail;
  }
  return;
fail:
  rd_complete(op, MTS_EUNAVAIL, NULL);
  rd_op_maybe_free(op);
}

/* The GET epoch reply: a token unlike the last one seen means the keys
 * written before are gone. */
static void rd_on_epoch(struct cache_redis *s, const redisReply *reply) {
  if (reply->type != REDIS_REPLY_STRING || reply->len != RD_EPOCH_LEN) {
    return; /* an error, or not our token: no verdict */
  }
  if (s->epoch[0] != '\0' &&
      memcmp(s->epoch, reply->str, RD_EPOCH_LEN) != 0) {
    mts_log(s->base.ctx, MTS_LOG_WARNING,
            "cache redis: the server lost its keys (restarted without "
            "persistence, or flushed); writing back what this process "
            "holds");
    memcpy(s->epoch, reply->str, RD_EPOCH_LEN);
    if (s->base.reset_cb != NULL) {
      s->base.reset_cb(s->base.reset_arg);
    }
    return;
  }
  memcpy(s->epoch, reply->str, RD_EPOCH_LEN);
  s->epoch[RD_EPOCH_LEN] = '\0';
}

static void rd_connect_to(struct cache_redis *s, const char *ip) {
  redisAsyncContext *ac;

  ac = s->url.unix_path != NULL ? redisAsyncConnectUnix(s->url.unix_path)
                                : redisAsyncConnect(ip, s->url.port);
  if (ac == NULL || ac->err != 0) {
    rd_log_fail(s, "connect failed", ac != NULL ? ac->errstr : "no memory");
    if (ac != NULL) {
      redisAsyncFree(ac);
    }
    rd_schedule_retry(s);
    return;
  }
  ac->data = s;
  if (redisLibuvAttach(ac, s->base.loop) != REDIS_OK) {
    rd_log_fail(s, "connect failed", "cannot attach to the loop");
    redisAsyncFree(ac);
    rd_schedule_retry(s);
    return;
  }
  /* The poll handle must not keep the loop alive on its own: pending
   * ops do that (tick timer). */
  uv_unref((uv_handle_t *)&((redisLibuvEvents *)ac->ev.data)->handle);
  (void)redisAsyncSetConnectCallback(ac, rd_on_connect);
  (void)redisAsyncSetDisconnectCallback(ac, rd_on_disconnect);
  s->ac = ac;
  s->connected = false;
  (void)uv_timer_start(&s->conn_timer, rd_conn_timeout_cb,
                       RD_CONNECT_TIMEOUT_MS, 0);
  /* Commands queue behind the connect; AUTH and SELECT go first. */
  rd_handshake(s);
  if (s->ac != NULL) {
    rd_epoch(s);
  }
}

static void rd_maybe_free(struct cache_redis *s);

static void rd_gai_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  struct cache_redis *s = req->data;
  char ip[64] = "";

  s->resolving = false;
  if (status == 0 && res != NULL) {
    if (res->ai_family == AF_INET6) {
      (void)uv_ip6_name((const struct sockaddr_in6 *)(const void *)res->ai_addr,
                        ip, sizeof(ip));
    } else {
      (void)uv_ip4_name((const struct sockaddr_in *)(const void *)res->ai_addr,
                        ip, sizeof(ip));
    }
  }
  uv_freeaddrinfo(res);
  s->open_handles--;
  if (s->closing) {
    rd_maybe_free(s);
    return;
  }
  if (ip[0] == '\0') {
    rd_log_fail(s, "cannot resolve", s->url.host);
    rd_schedule_retry(s);
    return;
  }
  rd_connect_to(s, ip);
}

static void rd_connect(struct cache_redis *s) {
  struct addrinfo hints;
  unsigned char buf[sizeof(struct in6_addr)];

  if (s->url.unix_path != NULL || uv_inet_pton(AF_INET, s->url.host, buf) == 0 ||
      uv_inet_pton(AF_INET6, s->url.host, buf) == 0) {
    rd_connect_to(s, s->url.host);
    return;
  }
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  s->gai.data = s;
  if (uv_getaddrinfo(s->base.loop, &s->gai, rd_gai_cb, s->url.host, NULL,
                     &hints) != 0) {
    rd_log_fail(s, "cannot resolve", s->url.host);
    rd_schedule_retry(s);
    return;
  }
  s->resolving = true;
  s->open_handles++;
}

/* ---------------- replies ---------------- */

static enum mts_status rd_reply_error(struct cache_redis *s,
                                      const redisReply *r, const char *what) {
  if (r->type == REDIS_REPLY_ERROR) {
    mts_log(s->base.ctx, MTS_LOG_ERR, "cache redis: %s: %.*s", what,
            (int)(r->len > 200 ? 200 : r->len), r->str);
    return MTS_EIO;
  }
  return MTS_OK;
}

/* Build a record from an HGETALL reply. \return NULL or why not. */
static const char *rd_parse_hash(const redisReply *r, const char *domain,
                                 struct mts_cache_record *rec) {
  unsigned seen = 0;
  const char *why = NULL;
  size_t i;

  memset(rec, 0, sizeof(*rec));
  mts_sts_entry_init(&rec->entry);
  rec->domain = domain;
  if (r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0) {
    return "not a hash";
  }
  for (i = 0; i < r->elements; i += 2) {
    const redisReply *k = r->element[i], *v = r->element[i + 1];
    const uint8_t *vs = (const uint8_t *)v->str;
    size_t vl = v->len;
    int64_t n = 0;
    bool num;

    if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) {
      return "not a hash of strings";
    }
    num = mts_cache_record_parse_i64(vs, vl, &n);
#define RD_FIELD(name) (k->len == sizeof(name) - 1 && memcmp(k->str, name, k->len) == 0)
    if (RD_FIELD("has_policy")) {
      if (!num || (n != 0 && n != 1)) {
        return "bad has_policy";
      }
      rec->entry.has_policy = n == 1;
      seen |= 1U;
    } else if (RD_FIELD("id") || RD_FIELD("failed_id")) {
      char *f = RD_FIELD("id") ? rec->entry.id : rec->entry.failed_id;

      if (!mts_cache_record_id_ok(v->str, vl)) {
        return "bad id";
      }
      memcpy(f, v->str, vl);
      f[vl] = '\0';
      seen |= f == rec->entry.id ? 2U : 4U;
    } else if (RD_FIELD("mode")) {
      if (!mts_cache_record_mode_parse(vs, vl, &rec->entry.mode)) {
        return "bad mode";
      }
      seen |= 8U;
    } else if (RD_FIELD("max_age") && num) {
      rec->entry.max_age = n;
      seen |= 16U;
    } else if (RD_FIELD("fetched_at") && num) {
      rec->entry.fetched_at = n;
      seen |= 32U;
    } else if (RD_FIELD("failed_at") && num) {
      rec->entry.failed_at = n;
      seen |= 64U;
    } else if (RD_FIELD("updated_at") && num) {
      rec->updated_at = n;
      seen |= 128U;
    } else if (RD_FIELD("body")) {
      if (vl > MTS_POLICY_MAX_SIZE) {
        return "body too large";
      }
      rec->body = vs != NULL ? vs : (const uint8_t *)"";
      rec->body_len = vl;
    }
#undef RD_FIELD
    /* Unknown fields are ignored: a newer writer may add some. */
  }
  if (seen != 255U) {
    return "missing or non-numeric field";
  }
  (void)mts_cache_record_check(rec, &why);
  return why;
}

static void rd_on_get(struct rd_op *op, const redisReply *r) {
  struct cache_redis *s = op->s;
  struct mts_cache_record rec;
  enum mts_status st = rd_reply_error(s, r, "get");
  const char *why;

  if (st != MTS_OK) {
    rd_complete(op, st, NULL);
    return;
  }
  if (r->type == REDIS_REPLY_ARRAY && r->elements == 0) {
    rd_complete(op, MTS_ENOTFOUND, NULL);
    return;
  }
  why = rd_parse_hash(r, op->domain, &rec);
  if (why != NULL) {
    /* A damaged record is a miss: the caller fetches and overwrites. */
    mts_log(s->base.ctx, MTS_LOG_WARNING,
            "cache redis: record %s ignored: %s", op->domain, why);
    rd_complete(op, MTS_ENOTFOUND, NULL);
    return;
  }
  rd_complete(op, MTS_OK, &rec);
}

static void rd_scan_next(struct rd_op *op);

static void rd_scan_keys(struct rd_op *op, const redisReply *r) {
  struct cache_redis *s = op->s;
  const redisReply *cur, *keys;
  size_t i;

  if (rd_reply_error(s, r, "scan") != MTS_OK) {
    rd_complete(op, MTS_EIO, NULL);
    return;
  }
  if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
      (cur = r->element[0])->type != REDIS_REPLY_STRING ||
      (keys = r->element[1])->type != REDIS_REPLY_ARRAY ||
      cur->len == 0 || cur->len >= sizeof(op->cursor)) {
    mts_log(s->base.ctx, MTS_LOG_ERR, "cache redis: scan: unexpected reply");
    rd_complete(op, MTS_EIO, NULL);
    return;
  }
  memcpy(op->cursor, cur->str, cur->len);
  op->cursor[cur->len] = '\0';
  op->deadline = uv_now(s->base.loop) + RD_CMD_TIMEOUT_MS;
  for (i = 0; i < keys->elements; i++) {
    const redisReply *k = keys->element[i];
    const char *argv[2] = {"HGETALL", NULL};
    size_t lens[2] = {7, 0};

    if (k->type != REDIS_REPLY_STRING) {
      continue;
    }
    argv[1] = k->str;
    lens[1] = k->len;
    if (!rd_send(s, op, 2, argv, lens)) {
      rd_complete(op, MTS_EUNAVAIL, NULL);
      return;
    }
    op->scan_pending++;
  }
  if (op->scan_pending == 0) {
    rd_scan_next(op);
  }
}

/* One HGETALL reply of a scan batch. The reply does not name its key,
 * so every hash also carries its domain (field "domain"). */
static void rd_scan_record(struct rd_op *op, const redisReply *r) {
  struct cache_redis *s = op->s;
  struct mts_cache_record rec;
  const char *why;
  size_t i;

  op->scan_pending--;
  if (op->scan_stopped || rd_reply_error(s, r, "scan") != MTS_OK ||
      (r->type == REDIS_REPLY_ARRAY && r->elements == 0)) {
    goto next; /* stopped, an error for one key, or expired meanwhile */
  }
  op->domain[0] = '\0';
  if (r->type == REDIS_REPLY_ARRAY) {
    for (i = 0; i + 1 < r->elements; i += 2) {
      const redisReply *k = r->element[i], *v = r->element[i + 1];

      if (k->type == REDIS_REPLY_STRING && v->type == REDIS_REPLY_STRING &&
          k->len == 6 && memcmp(k->str, "domain", 6) == 0 &&
          v->len <= MTS_DOMAIN_MAX) {
        memcpy(op->domain, v->str, v->len);
        op->domain[v->len] = '\0';
      }
    }
  }
  why = op->domain[0] == '\0' ? "no domain field"
                              : rd_parse_hash(r, op->domain, &rec);
  if (why != NULL) {
    mts_log(s->base.ctx, MTS_LOG_WARNING, "cache redis: record %.100s ignored: %s",
            op->domain[0] != '\0' ? op->domain : "?", why);
    goto next;
  }
  if (!op->each_cb(op->arg, &rec)) {
    op->scan_stopped = true;
  }
next:
  if (op->scan_pending == 0 && !op->completed) {
    rd_scan_next(op);
  }
}

/* Send SCAN <cursor> MATCH <escaped prefix>policy:* COUNT n. */
static bool rd_scan_send(struct rd_op *op) {
  struct cache_redis *s = op->s;
  char pat[2 * RD_PREFIX_MAX + 16];
  const char *argv[6] = {"SCAN", op->cursor, "MATCH", pat, "COUNT",
                         RD_SCAN_COUNT};
  size_t lens[6];
  size_t i, n = 0;

  /* MATCH is a glob: escape the prefix's special characters. */
  for (i = 0; i < s->prefix_len; i++) {
    char c = s->prefix[i];

    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') {
      pat[n++] = '\\';
    }
    pat[n++] = c;
  }
  memcpy(pat + n, "policy:*", 8);
  n += 8;
  pat[n] = '\0'; /* strlen() below must not run off pat (valgrind) */
  for (i = 0; i < 6; i++) {
    lens[i] = strlen(argv[i]);
  }
  return rd_send(s, op, 6, argv, lens);
}

static void rd_scan_next(struct rd_op *op) {
  if (op->scan_stopped || strcmp(op->cursor, "0") == 0) {
    rd_complete(op, MTS_OK, NULL);
    return;
  }
  if (!rd_scan_send(op)) {
    rd_complete(op, MTS_EUNAVAIL, NULL);
  }
}

static void rd_reply_cb(redisAsyncContext *ac, void *r, void *privdata) {
  struct rd_op *op = privdata;
  struct cache_redis *s = op->s;
  const redisReply *reply = r;

  (void)ac;
  op->refs--;
  if (op->completed) {
    goto done; /* timed out or failed already: ignore the late reply */
  }
  if (reply == NULL) {
    rd_complete(op, s->closing ? MTS_ECANCELED : MTS_EUNAVAIL, NULL);
    goto done;
  }
  switch (op->kind) {
  case RD_GET:
    rd_on_get(op, reply);
    break;
  case RD_PUT:
  case RD_DEL:
  case RD_HANDSHAKE:
    /* Several replies (MULTI .. EXEC; AUTH, SELECT): remember the first
     * error, report on the last. */
    if (op->st == MTS_OK) {
      op->st = rd_reply_error(s, reply, op->kind == RD_HANDSHAKE ? "handshake"
                                       : op->kind == RD_PUT ? "put" : "del");
      if (op->st == MTS_OK && op->kind == RD_PUT && op->refs == 0 &&
          reply->type != REDIS_REPLY_ARRAY) {
        op->st = MTS_EIO; /* EXEC aborted (nil) */
      }
      if (op->st == MTS_OK && op->kind == RD_PUT && op->refs == 0) {
        size_t i;

        for (i = 0; i < reply->elements; i++) {
          if (rd_reply_error(s, reply->element[i], "put") != MTS_OK) {
            op->st = MTS_EIO;
          }
        }
      }
    }
    if (op->refs == 0) {
      rd_complete(op, op->st, NULL);
    }
    break;
  case RD_SCAN:
    if (op->scan_pending > 0) {
      rd_scan_record(op, reply);
    } else {
      rd_scan_keys(op, reply);
    }
    break;
  case RD_EPOCH:
    if (op->refs == 0) {
      rd_complete(op, MTS_OK, NULL); /* before the reset: it may call in */
      rd_on_epoch(s, reply);
    }
    break;
  }
done:
  rd_op_maybe_free(op);
}

/* ---------------- the ops table ---------------- */

static size_t rd_key(const struct cache_redis *s, const char *domain,
                     char key[RD_KEY_MAX]) {
  size_t dl = strlen(domain);

  memcpy(key, s->prefix, s->prefix_len);
  memcpy(key + s->prefix_len, "policy:", 7);
  memcpy(key + s->prefix_len + 7, domain, dl);
  key[s->prefix_len + 7 + dl] = '\0';
  return s->prefix_len + 7 + dl;
}

/* Queue \p op, or fail it soon when there is no connection. */
static void rd_start(struct cache_redis *s, struct rd_op *op, int argc,
                     const char **argv, const size_t *lens) {
  if (s->ac == NULL) {
    rd_defer(s, op, MTS_EUNAVAIL);
    return;
  }
  rd_list_add(s, op);
  if (!rd_send(s, op, argc, argv, lens)) {
    op->deferred = true;
    op->st = MTS_EUNAVAIL;
    (void)uv_timer_start(&s->defer_timer, rd_defer_cb, 0, 0);
  }
}

static enum mts_status rd_get(struct mts_cache *c, const char *domain,
                              mts_cache_get_cb cb, void *arg) {
  struct cache_redis *s = (struct cache_redis *)c;
  struct rd_op *op;
  char key[RD_KEY_MAX];
  const char *argv[2] = {"HGETALL", key};
  size_t lens[2] = {7, 0};

  if (s->closing) {
    return MTS_ECANCELED;
  }
  op = rd_op_new(s, RD_GET);
  if (op == NULL) {
    return MTS_ENOMEM;
  }
  (void)snprintf(op->domain, sizeof(op->domain), "%s", domain);
  op->get_cb = cb;
  op->arg = arg;
  lens[1] = rd_key(s, domain, key);
  rd_start(s, op, 2, argv, lens);
  return MTS_OK;
}

static enum mts_status rd_put(struct mts_cache *c,
                              const struct mts_cache_record *rec,
                              mts_cache_done_cb cb, void *arg) {
  struct cache_redis *s = (struct cache_redis *)c;
  struct rd_op *op;
  char key[RD_KEY_MAX], nums[5][24], ttl[24];
  const char *argv[24];
  size_t lens[24];
  int n = 0, i;
  size_t keylen;
  const char *multi[1] = {"MULTI"}, *exec[1] = {"EXEC"};
  size_t multil[1] = {5}, execl[1] = {4};
  const char *del[2] = {"DEL", key};
  size_t dell[2] = {3, 0};
  const char *expire[3] = {"EXPIRE", key, ttl};
  size_t expl[3] = {6, 0, 0};

  if (s->closing) {
    return MTS_ECANCELED;
  }
  op = rd_op_new(s, RD_PUT);
  if (op == NULL) {
    return MTS_ENOMEM;
  }
  op->done_cb = cb;
  op->arg = arg;
  if (s->ac == NULL) {
    rd_defer(s, op, MTS_EUNAVAIL);
    return MTS_OK;
  }
  keylen = rd_key(s, rec->domain, key);
  dell[1] = expl[1] = keylen;
  (void)snprintf(nums[0], sizeof(nums[0]), "%d", rec->entry.has_policy ? 1 : 0);
  (void)snprintf(nums[1], sizeof(nums[1]), "%lld", (long long)rec->entry.max_age);
  (void)snprintf(nums[2], sizeof(nums[2]), "%lld",
                 (long long)rec->entry.fetched_at);
  (void)snprintf(nums[3], sizeof(nums[3]), "%lld",
                 (long long)rec->entry.failed_at);
  (void)snprintf(nums[4], sizeof(nums[4]), "%lld", (long long)rec->updated_at);
  (void)snprintf(ttl, sizeof(ttl), "%lld",
                 (long long)mts_cache_record_ttl(rec, mts_ctx_now(c->ctx)));
  expl[2] = strlen(ttl);
  argv[n++] = "HSET";
  argv[n++] = key;
#define RD_KV(k, v)                                                           \
  do {                                                                        \
    argv[n++] = (k);                                                          \
    argv[n++] = (v);                                                          \
  } while (0)
  RD_KV("domain", rec->domain);
  RD_KV("has_policy", nums[0]);
  RD_KV("id", rec->entry.id);
  RD_KV("mode", mts_sts_mode_str(rec->entry.mode));
  RD_KV("max_age", nums[1]);
  RD_KV("fetched_at", nums[2]);
  RD_KV("failed_id", rec->entry.failed_id);
  RD_KV("failed_at", nums[3]);
  RD_KV("updated_at", nums[4]);
#undef RD_KV
  for (i = 0; i < n; i++) {
    lens[i] = strlen(argv[i]);
  }
  lens[1] = keylen;
  if (rec->body != NULL) {
    argv[n] = "body";
    lens[n++] = 4;
    argv[n] = (const char *)rec->body;
    lens[n++] = rec->body_len;
  }
  rd_list_add(s, op);
  /* Pipelined on one connection: the replies come back in this order. */
  if (!rd_send(s, op, 1, multi, multil) || !rd_send(s, op, 2, del, dell) ||
      !rd_send(s, op, n, argv, lens) || !rd_send(s, op, 3, expire, expl) ||
      !rd_send(s, op, 1, exec, execl)) {
    op->deferred = true;
    op->st = MTS_EUNAVAIL;
    (void)uv_timer_start(&s->defer_timer, rd_defer_cb, 0, 0);
  }
  return MTS_OK;
}

static enum mts_status rd_del(struct mts_cache *c, const char *domain,
                              mts_cache_done_cb cb, void *arg) {
  struct cache_redis *s = (struct cache_redis *)c;
  struct rd_op *op;
  char key[RD_KEY_MAX];
  const char *argv[2] = {"DEL", key};
  size_t lens[2] = {3, 0};

  if (s->closing) {
    return MTS_ECANCELED;
  }
  op = rd_op_new(s, RD_DEL);
  if (op == NULL) {
    return MTS_ENOMEM;
  }
  op->done_cb = cb;
  op->arg = arg;
  lens[1] = rd_key(s, domain, key);
  rd_start(s, op, 2, argv, lens);
  return MTS_OK;
}

static enum mts_status rd_scan(struct mts_cache *c, mts_cache_each_cb each,
                               mts_cache_done_cb done, void *arg) {
  struct cache_redis *s = (struct cache_redis *)c;
  struct rd_op *op;

  if (s->closing) {
    return MTS_ECANCELED;
  }
  op = rd_op_new(s, RD_SCAN);
  if (op == NULL) {
    return MTS_ENOMEM;
  }
  op->each_cb = each;
  op->done_cb = done;
  op->arg = arg;
  if (s->ac == NULL) {
    rd_defer(s, op, MTS_EUNAVAIL);
    return MTS_OK;
  }
  rd_list_add(s, op);
  memcpy(op->cursor, "0", 2);
  if (!rd_scan_send(op)) {
    op->deferred = true;
    op->st = MTS_EUNAVAIL;
    (void)uv_timer_start(&s->defer_timer, rd_defer_cb, 0, 0);
  }
  return MTS_OK;
}

/* ---------------- lifetime ---------------- */

static void rd_free(struct cache_redis *s) {
  struct mts_ctx *ctx = s->base.ctx;

  mts_cache_redis_url_cleanup(ctx, &s->url);
  mts_free(ctx, s->prefix);
  mts_free(ctx, s);
}

static void rd_maybe_free(struct cache_redis *s) {
  if (s->closing && s->open_handles == 0) {
    rd_free(s);
  }
}

static void rd_closed(uv_handle_t *h) {
  struct cache_redis *s = h->data;

  s->open_handles--;
  rd_maybe_free(s);
}

static void rd_destroy(struct mts_cache *c) {
  struct cache_redis *s = (struct cache_redis *)c;
  redisAsyncContext *ac = s->ac;

  if (s->closing) {
    return;
  }
  s->closing = true;
  s->ac = NULL;
  if (ac != NULL) {
    /* Pending commands get NULL replies: ECANCELED. Inside a hiredis
     * callback the free happens when that callback returns. */
    redisAsyncFree(ac);
  }
  while (s->ops != NULL) {
    struct rd_op *op = s->ops;

    rd_complete(op, MTS_ECANCELED, NULL);
    rd_op_maybe_free(op);
  }
  if (s->resolving) {
    (void)uv_cancel((uv_req_t *)&s->gai);
  }
  uv_close((uv_handle_t *)&s->retry_timer, rd_closed);
  uv_close((uv_handle_t *)&s->conn_timer, rd_closed);
  uv_close((uv_handle_t *)&s->tick_timer, rd_closed);
  uv_close((uv_handle_t *)&s->defer_timer, rd_closed);
}

static const struct mts_cache_ops rd_ops = {
    .name = "redis",
    .get = rd_get,
    .put = rd_put,
    .del = rd_del,
    .scan = rd_scan,
    .destroy = rd_destroy,
};

enum mts_status mts_cache_redis_create(struct mts_ctx *ctx, uv_loop_t *loop,
                                       const char *url, const char *prefix,
                                       struct mts_cache **out) {
  struct cache_redis *s = NULL;
  enum mts_status st;
  uv_timer_t *timers[4];
  size_t i;

  if (out != NULL) {
    *out = NULL;
  }
  if (ctx == NULL || loop == NULL || url == NULL || out == NULL) {
    return MTS_EINVAL;
  }
  if (prefix == NULL) {
    prefix = "";
  }
  if (strlen(prefix) > RD_PREFIX_MAX) {
    return MTS_EINVAL;
  }
  s = mts_calloc(ctx, 1, sizeof(*s));
  if (s == NULL) {
    return MTS_ENOMEM;
  }
  s->base.ops = &rd_ops;
  s->base.ctx = ctx;
  s->base.loop = loop;
  s->backoff_ms = RD_BACKOFF_MIN_MS;
  st = mts_cache_redis_url_parse(ctx, url, &s->url);
  if (st != MTS_OK) {
    if (st == MTS_EINVAL) {
      mts_log(ctx, MTS_LOG_ERR, "cache redis: malformed URL (want "
              "redis://[:password@]host[:port][/db] or unix:/path)");
    }
    goto fail;
  }
  s->epoch_op.s = s;
  s->epoch_op.completed = true; /* free for the first check */
  s->prefix_len = strlen(prefix);
  s->prefix = mts_strndup(ctx, prefix, s->prefix_len);
  if (s->prefix == NULL) {
    st = MTS_ENOMEM;
    goto fail;
  }
  timers[0] = &s->retry_timer;
  timers[1] = &s->conn_timer;
  timers[2] = &s->tick_timer;
  timers[3] = &s->defer_timer;
  for (i = 0; i < 4; i++) {
    (void)uv_timer_init(loop, timers[i]);
    timers[i]->data = s;
    s->open_handles++;
    if (i != 2) {
      /* Only pending ops (the tick timer) keep the loop alive. */
      uv_unref((uv_handle_t *)timers[i]);
    }
  }
  *out = &s->base;
  rd_connect(s);
  return MTS_OK;
fail:
  rd_free(s);
  return st;
}
