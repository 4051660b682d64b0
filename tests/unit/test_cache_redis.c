/*
 * test_cache_redis.c - the Redis store (cache_redis.c) against a real
 * redis-server started per test as a child process (UNIX socket in a
 * temp dir, or a free loopback port), killed by PID in teardown:
 * URL parsing, round trip, TTLs, the fleet case (two stores, AUTH and
 * SELECT), prefix isolation, damaged records, Redis down at start, killed
 * and restarted (fail fast, reconnect by itself), a stopped server
 * (command deadline), destroy with work pending, allocation failures.
 * Skipped when redis-server is not installed.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <hiredis/hiredis.h>

#include "cache_testutil.h"

#include "cache/cache_record_int.h"
#include "cache/cache_redis_int.h"

#define REDIS_BIN "/usr/bin/redis-server"

/* ================= a redis-server child ================= */

struct rsrv {
  pid_t pid;
  char dir[64];
  char sock[128];
  int port;               /* 0: UNIX socket only */
  const char *password;   /* NULL: none */
};

static int free_port(void) {
  struct sockaddr_in sa;
  socklen_t len = sizeof(sa);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int port;

  assert_true(fd >= 0);
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
  port = ntohs(sa.sin_port);
  close(fd);
  return port;
}

static redisContext *rsrv_sync(const struct rsrv *r) {
  struct timeval tv = {1, 0};
  redisContext *c = redisConnectUnixWithTimeout(r->sock, tv);
  redisReply *rep;

  if (c == NULL || c->err != 0) {
    if (c != NULL) {
      redisFree(c);
    }
    return NULL;
  }
  if (r->password != NULL) {
    rep = redisCommand(c, "AUTH %s", r->password);
    freeReplyObject(rep);
  }
  return c;
}

static void rsrv_spawn(struct rsrv *r) {
  char port[16], logf[160];

  snprintf(port, sizeof(port), "%d", r->port);
  snprintf(logf, sizeof(logf), "%s/redis.log", r->dir);
  r->pid = fork();
  assert_true(r->pid >= 0);
  if (r->pid == 0) {
    int fd = open(logf, O_WRONLY | O_CREAT | O_APPEND, 0600);

    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    if (r->password != NULL) {
      execl(REDIS_BIN, REDIS_BIN, "--port", port, "--bind", "127.0.0.1",
            "--unixsocket", r->sock, "--unixsocketperm", "700", "--save", "",
            "--appendonly", "no", "--daemonize", "no", "--dir", r->dir,
            "--requirepass", r->password, (char *)NULL);
    } else {
      execl(REDIS_BIN, REDIS_BIN, "--port", port, "--bind", "127.0.0.1",
            "--unixsocket", r->sock, "--unixsocketperm", "700", "--save", "",
            "--appendonly", "no", "--daemonize", "no", "--dir", r->dir,
            (char *)NULL);
    }
    _exit(127);
  }
}

/* Bounded readiness wait: PING over the socket answers PONG. */
static void rsrv_wait(struct rsrv *r) {
  uint64_t end = tnow_ms() + 10000;

  while (tnow_ms() < end) {
    redisContext *c = rsrv_sync(r);

    if (c != NULL) {
      redisReply *rep = redisCommand(c, "PING");
      bool ok = rep != NULL && rep->type == REDIS_REPLY_STATUS &&
                strcmp(rep->str, "PONG") == 0;

      freeReplyObject(rep);
      redisFree(c);
      if (ok) {
        return;
      }
    }
    {
      struct timespec ts = {0, 20000000};

      nanosleep(&ts, NULL);
    }
  }
  fail_msg("redis-server did not become ready in 10 s");
}

static void rsrv_start(struct rsrv *r, bool tcp, const char *password) {
  memset(r, 0, sizeof(*r));
  ttmpdir(r->dir, sizeof(r->dir));
  snprintf(r->sock, sizeof(r->sock), "%s/r.sock", r->dir);
  r->port = tcp ? free_port() : 0;
  r->password = password;
  rsrv_spawn(r);
  rsrv_wait(r);
}

static void rsrv_kill(struct rsrv *r, int sig) {
  int status;

  if (r->pid > 0) {
    kill(r->pid, sig);
    waitpid(r->pid, &status, 0);
    r->pid = 0;
  }
}

static void rsrv_stop(struct rsrv *r) {
  rsrv_kill(r, SIGKILL);
  trmtree(r->dir);
}

static redisReply *rsrv_cmd(const struct rsrv *r, const char *fmt,
                            const char *a1, const char *a2) {
  redisContext *c = rsrv_sync(r);
  redisReply *rep;

  assert_non_null(c);
  rep = redisCommand(c, fmt, a1, a2);
  redisFree(c);
  assert_non_null(rep);
  return rep;
}

static int have_redis(void **state) {
  (void)state;
  return access(REDIS_BIN, X_OK) == 0 ? 0 : -1;
}

#define NEED_REDIS()                                                          \
  do {                                                                        \
    if (access(REDIS_BIN, X_OK) != 0) {                                       \
      skip();                                                                 \
    }                                                                         \
  } while (0)

/* ================= the URL parser ================= */

struct url_case {
  const char *name;
  const char *url;
  enum mts_status want;
  const char *host, *unix_path, *user, *password;
  int port;
  long db;
};

static const struct url_case url_cases[] = {
    {"U01 host", "redis://cache.example", MTS_OK, "cache.example", NULL, NULL,
     NULL, 6379, 0},
    {"U02 host port db", "redis://10.0.0.1:6380/4", MTS_OK, "10.0.0.1", NULL,
     NULL, NULL, 6380, 4},
    {"U03 password", "redis://:s%40cret@h:1/", MTS_OK, "h", NULL, NULL,
     "s@cret", 1, 0},
    {"U04 user and password", "redis://mta:pw@h", MTS_OK, "h", NULL, "mta",
     "pw", 6379, 0},
    {"U05 IPv6", "redis://[::1]:7000/2", MTS_OK, "::1", NULL, NULL, NULL, 7000,
     2},
    {"U06 unix", "unix:/run/redis/redis.sock", MTS_OK, NULL,
     "/run/redis/redis.sock", NULL, NULL, 6379, 0},
    {"U07 unix triple slash", "unix:///run/r.sock", MTS_OK, NULL,
     "/run/r.sock", NULL, NULL, 6379, 0},
    {"U08 wrong scheme", "http://h", MTS_EINVAL, NULL, NULL, NULL, NULL, 0, 0},
    {"U09 no host", "redis://:6379", MTS_EINVAL, NULL, NULL, NULL, NULL, 0, 0},
    {"U10 port 0", "redis://h:0", MTS_EINVAL, NULL, NULL, NULL, NULL, 0, 0},
    {"U11 port too big", "redis://h:65536", MTS_EINVAL, NULL, NULL, NULL, NULL,
     0, 0},
    {"U12 db not a number", "redis://h/x", MTS_EINVAL, NULL, NULL, NULL, NULL,
     0, 0},
    {"U13 user without password", "redis://user@h", MTS_EINVAL, NULL, NULL,
     NULL, NULL, 0, 0},
    {"U14 bad escape", "redis://:%zz@h", MTS_EINVAL, NULL, NULL, NULL, NULL, 0,
     0},
    {"U15 relative unix path", "unix:r.sock", MTS_EINVAL, NULL, NULL, NULL,
     NULL, 0, 0},
    {"U16 blank inside", "redis://h ost", MTS_EINVAL, NULL, NULL, NULL, NULL,
     0, 0},
    {"U17 query string", "redis://h/0?x=1", MTS_EINVAL, NULL, NULL, NULL, NULL,
     0, 0},
    {"U18 unclosed bracket", "redis://[::1", MTS_EINVAL, NULL, NULL, NULL,
     NULL, 0, 0},
    {"U19 empty password", "redis://:@h", MTS_EINVAL, NULL, NULL, NULL, NULL,
     0, 0},
};

static void check_str(const char *name, const char *field, const char *got,
                      const char *want) {
  if ((got == NULL) != (want == NULL) ||
      (got != NULL && strcmp(got, want) != 0)) {
    fail_msg("%s: %s got \"%s\", want \"%s\"", name, field,
             got ? got : "(null)", want ? want : "(null)");
  }
}

static void test_url_table(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(url_cases) / sizeof(url_cases[0]); i++) {
    const struct url_case *c = &url_cases[i];
    struct mts_cache_redis_url u;
    enum mts_status st = mts_cache_redis_url_parse(ctx, c->url, &u);

    if (st != c->want) {
      fail_msg("%s: got %s, want %s", c->name, mts_status_name(st),
               mts_status_name(c->want));
    }
    if (st == MTS_OK) {
      check_str(c->name, "host", u.host, c->host);
      check_str(c->name, "unix", u.unix_path, c->unix_path);
      check_str(c->name, "user", u.user, c->user);
      check_str(c->name, "password", u.password, c->password);
      assert_int_equal(u.port, c->port);
      assert_int_equal(u.db, c->db);
    } else {
      assert_null(u.host);
    }
    mts_cache_redis_url_cleanup(ctx, &u);
  }
  mts_ctx_destroy(ctx);
}

static void test_create_bad_url(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  uv_loop_t loop;
  struct mts_cache *c = (struct mts_cache *)&c;
  char longp[200];

  (void)state;
  uv_loop_init(&loop);
  assert_int_equal(mts_cache_redis_create(ctx, &loop, "redis//x", "", &c),
                   MTS_EINVAL);
  assert_null(c);
  memset(longp, 'p', sizeof(longp) - 1);
  longp[sizeof(longp) - 1] = '\0';
  assert_int_equal(mts_cache_redis_create(ctx, &loop, "unix:/x", longp, &c),
                   MTS_EINVAL);
  assert_int_equal(uv_loop_close(&loop), 0);
  mts_ctx_destroy(ctx);
}

/* ================= store fixtures ================= */

struct fx {
  struct mts_test_alloc a;
  struct mts_ctx *ctx;
  struct tlog log;
  uv_loop_t loop;
  struct rsrv srv;
};

static struct fx *fx_new(bool tcp, const char *password) {
  struct fx *f = calloc(1, sizeof(*f));

  assert_non_null(f);
  f->ctx = mts_test_ctx(&f->a, 0);
  mts_ctx_set_log(f->ctx, tlog_fn, &f->log, MTS_LOG_DEBUG);
  assert_int_equal(uv_loop_init(&f->loop), 0);
  rsrv_start(&f->srv, tcp, password);
  return f;
}

static void fx_free(struct fx *f) {
  trun_close(&f->loop);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  mts_ctx_destroy(f->ctx);
  rsrv_stop(&f->srv);
  free(f);
}

static struct mts_cache *fx_open_url(struct fx *f, const char *url,
                                     const char *prefix) {
  struct mts_cache *c = NULL;

  assert_int_equal(mts_cache_redis_create(f->ctx, &f->loop, url, prefix, &c),
                   MTS_OK);
  assert_string_equal(mts_cache_name(c), "redis");
  return c;
}

static struct mts_cache *fx_open(struct fx *f, const char *prefix) {
  char url[200];

  snprintf(url, sizeof(url), "unix:%s", f->srv.sock);
  return fx_open_url(f, url, prefix);
}

static void fx_close(struct fx *f, struct mts_cache *c) {
  mts_cache_destroy(c);
  trun_close(&f->loop);
}

static enum mts_status put_wait(struct fx *f, struct mts_cache *c,
                                const struct mts_cache_record *r) {
  struct tdone d = {0};

  d.in_call = true;
  assert_int_equal(mts_cache_put(c, r, tdone_cb, &d), MTS_OK);
  d.in_call = false;
  assert_false(d.done);
  assert_true(trun_until(&f->loop, &d.done, 5000));
  assert_false(d.reentrant);
  assert_int_equal(d.calls, 1);
  return d.st;
}

static struct tget *get_wait(struct fx *f, struct mts_cache *c,
                             const char *domain) {
  struct tget *g = calloc(1, sizeof(*g));

  assert_non_null(g);
  g->in_call = true;
  assert_int_equal(mts_cache_get(c, domain, tget_cb, g), MTS_OK);
  g->in_call = false;
  assert_false(g->done);
  assert_true(trun_until(&f->loop, &g->done, 5000));
  assert_false(g->reentrant);
  assert_int_equal(g->calls, 1);
  return g;
}

/* A get until the store is back (reconnect), bounded. */
static enum mts_status get_until_up(struct fx *f, struct mts_cache *c,
                                    const char *domain, uint64_t ms) {
  uint64_t end = tnow_ms() + ms;
  enum mts_status st = MTS_EUNAVAIL;

  while (tnow_ms() < end) {
    struct tget *g = get_wait(f, c, domain);
    bool never = false;

    st = g->st;
    free(g);
    if (st != MTS_EUNAVAIL && st != MTS_ETIMEOUT) {
      break;
    }
    trun_until(&f->loop, &never, 50);
  }
  return st;
}

struct tscan {
  struct tdone d;
  int seen;
  char first[MTS_DOMAIN_MAX + 1];
  bool in_call, reentrant;
};

static bool tscan_each(void *arg, const struct mts_cache_record *rec) {
  struct tscan *s = arg;

  s->reentrant |= s->in_call;
  if (s->seen++ == 0) {
    snprintf(s->first, sizeof(s->first), "%s", rec->domain);
  }
  return true;
}

static void tscan_done(void *arg, enum mts_status st) {
  tdone_cb(&((struct tscan *)arg)->d, st);
}

static void scan_wait(struct fx *f, struct mts_cache *c, struct tscan *s) {
  s->in_call = true;
  assert_int_equal(mts_cache_scan(c, tscan_each, tscan_done, s), MTS_OK);
  s->in_call = false;
  assert_true(trun_until(&f->loop, &s->d.done, 5000));
  assert_false(s->reentrant);
  assert_int_equal(s->d.calls, 1);
}

/* ================= tests ================= */

static void test_redis_roundtrip(void **state) {
  struct fx *f;
  struct mts_cache *c;
  static const uint8_t bin[] = "version: STSv1\nmode: enforce\n\0tail";
  struct mts_cache_record r1 = trec("b.example", "id1", MTS_STS_MODE_ENFORCE,
                                    86400, 1700000000, NULL);
  struct mts_cache_record r2 = trec("a.example", "", MTS_STS_MODE_UNKNOWN, 0,
                                    0, NULL);
  struct tget *g;
  struct tscan sc = {0};
  struct tdone d = {0};
  redisReply *rep;

  NEED_REDIS();
  (void)state;
  f = fx_new(false, NULL);
  c = fx_open(f, "mts:");
  r1.body = bin;
  r1.body_len = sizeof(bin); /* NUL inside: binary-safe */
  snprintf(r2.entry.failed_id, sizeof(r2.entry.failed_id), "f1");
  r2.entry.failed_at = 77;
  assert_int_equal(put_wait(f, c, &r1), MTS_OK);
  assert_int_equal(put_wait(f, c, &r2), MTS_OK);

  g = get_wait(f, c, "B.EXAMPLE");
  assert_int_equal(g->st, MTS_OK);
  assert_string_equal(g->domain, "b.example");
  assert_string_equal(g->entry.id, "id1");
  assert_int_equal(g->entry.mode, MTS_STS_MODE_ENFORCE);
  assert_int_equal(g->entry.max_age, 86400);
  assert_int_equal(g->entry.fetched_at, 1700000000);
  assert_int_equal(g->body_len, sizeof(bin));
  assert_memory_equal(g->body, bin, sizeof(bin));
  free(g);
  g = get_wait(f, c, "a.example");
  assert_int_equal(g->st, MTS_OK);
  assert_false(g->entry.has_policy);
  assert_false(g->has_body);
  assert_string_equal(g->entry.failed_id, "f1");
  assert_int_equal(g->entry.failed_at, 77);
  free(g);
  g = get_wait(f, c, "none.example");
  assert_int_equal(g->st, MTS_ENOTFOUND);
  free(g);

  /* The key layout: <prefix>policy:<domain>, a hash. */
  rep = rsrv_cmd(&f->srv, "HGET %s %s", "mts:policy:b.example", "mode");
  assert_int_equal(rep->type, REDIS_REPLY_STRING);
  assert_string_equal(rep->str, "enforce");
  freeReplyObject(rep);

  /* A later put without a body removes the old body. */
  r1.body = NULL;
  r1.body_len = 0;
  assert_int_equal(put_wait(f, c, &r1), MTS_OK);
  g = get_wait(f, c, "b.example");
  assert_false(g->has_body);
  free(g);

  scan_wait(f, c, &sc);
  assert_int_equal(sc.d.st, MTS_OK);
  assert_int_equal(sc.seen, 2);

  d.in_call = true;
  assert_int_equal(mts_cache_del(c, "b.example", tdone_cb, &d), MTS_OK);
  d.in_call = false;
  assert_true(trun_until(&f->loop, &d.done, 5000));
  assert_false(d.reentrant);
  assert_int_equal(d.st, MTS_OK);
  g = get_wait(f, c, "b.example");
  assert_int_equal(g->st, MTS_ENOTFOUND);
  free(g);
  fx_close(f, c);
  fx_free(f);
}

static long long key_ttl(struct fx *f, const char *key) {
  redisReply *rep = rsrv_cmd(&f->srv, "TTL %s", key, NULL);
  long long t;

  assert_int_equal(rep->type, REDIS_REPLY_INTEGER);
  t = rep->integer;
  freeReplyObject(rep);
  return t;
}

static void test_redis_ttl(void **state) {
  struct fx *f;
  struct mts_cache *c;
  struct mts_test_clock clk = {1800000000};
  struct mts_cache_record r;
  long long t;

  NEED_REDIS();
  (void)state;
  f = fx_new(false, NULL);
  mts_ctx_set_clock(f->ctx, mts_test_clock_fn, &clk);
  c = fx_open(f, "");
  r = trec("valid.example", "i", MTS_STS_MODE_ENFORCE, 86400,
           clk.now - 400, "b");
  assert_int_equal(put_wait(f, c, &r), MTS_OK);
  t = key_ttl(f, "policy:valid.example");
  if (t < 86000 - 5 || t > 86000) {
    fail_msg("TTL of a valid policy: got %lld, want ~86000", t);
  }
  r = trec("nopol.example", "", MTS_STS_MODE_UNKNOWN, 0, 0, NULL);
  assert_int_equal(put_wait(f, c, &r), MTS_OK);
  t = key_ttl(f, "policy:nopol.example");
  if (t < 3600 - 5 || t > 3600) {
    fail_msg("TTL without policy: got %lld, want ~3600", t);
  }
  r = trec("old.example", "i", MTS_STS_MODE_ENFORCE, 100, clk.now - 1000,
           "b");
  assert_int_equal(put_wait(f, c, &r), MTS_OK);
  t = key_ttl(f, "policy:old.example");
  if (t < 55 || t > 60) {
    fail_msg("TTL of an expired policy: got %lld, want ~60", t);
  }
  fx_close(f, c);
  fx_free(f);
}

/* The fleet: two daemons (two stores) on one Redis, over TCP with AUTH
 * and SELECT, see each other's writes. A wrong password never connects. */
static void test_redis_fleet(void **state) {
  struct fx *f;
  struct mts_cache *c1, *c2, *bad;
  char url[200];
  struct mts_cache_record r = trec("shared.example", "fleet1",
                                   MTS_STS_MODE_TESTING, 3600, 0, "body");
  struct tget *g;
  struct tscan sc = {0};
  enum mts_status st;

  NEED_REDIS();
  (void)state;
  f = fx_new(true, "s3cret");
  r.entry.fetched_at = mts_ctx_now(f->ctx);
  snprintf(url, sizeof(url), "redis://:s3cret@127.0.0.1:%d/3", f->srv.port);
  c1 = fx_open_url(f, url, "fleet:");
  c2 = fx_open_url(f, url, "fleet:");
  assert_int_equal(put_wait(f, c1, &r), MTS_OK);
  g = get_wait(f, c2, "shared.example");
  assert_int_equal(g->st, MTS_OK);
  assert_string_equal(g->entry.id, "fleet1");
  free(g);
  scan_wait(f, c2, &sc);
  assert_int_equal(sc.seen, 1);
  assert_string_equal(sc.first, "shared.example");

  /* It went to database 3. */
  {
    redisContext *sc3 = rsrv_sync(&f->srv);
    redisReply *x;

    assert_non_null(sc3);
    x = redisCommand(sc3, "SELECT 3");
    freeReplyObject(x);
    x = redisCommand(sc3, "EXISTS fleet:policy:shared.example");
    assert_int_equal(x->integer, 1);
    freeReplyObject(x);
    x = redisCommand(sc3, "SELECT 0");
    freeReplyObject(x);
    x = redisCommand(sc3, "EXISTS fleet:policy:shared.example");
    assert_int_equal(x->integer, 0);
    freeReplyObject(x);
    redisFree(sc3);
  }

  snprintf(url, sizeof(url), "redis://:wrong@127.0.0.1:%d/3", f->srv.port);
  f->log.len = 0;
  bad = fx_open_url(f, url, "fleet:");
  g = get_wait(f, bad, "shared.example");
  st = g->st;
  free(g);
  if (st == MTS_OK || st == MTS_ENOTFOUND) {
    fail_msg("wrong password: got %s, want a failure", mts_status_name(st));
  }
  assert_true(tlog_has(&f->log, "handshake"));
  fx_close(f, bad);
  fx_close(f, c1);
  fx_close(f, c2);
  fx_free(f);
}

/* Prefixes keep stores apart, glob characters in a prefix included. */
static void test_redis_prefix(void **state) {
  struct fx *f;
  struct mts_cache *a, *b;
  struct mts_cache_record r = trec("p.example", "1", MTS_STS_MODE_ENFORCE, 60,
                                   0, NULL);
  struct tscan sa = {0}, sb = {0};
  struct tget *g;

  NEED_REDIS();
  (void)state;
  f = fx_new(false, NULL);
  a = fx_open(f, "a*:");
  b = fx_open(f, "ab:");
  r.entry.fetched_at = mts_ctx_now(f->ctx);
  assert_int_equal(put_wait(f, a, &r), MTS_OK);
  /* "a*:" must not match as a glob against "ab:". */
  r.domain = "other.example";
  assert_int_equal(put_wait(f, b, &r), MTS_OK);
  scan_wait(f, a, &sa);
  assert_int_equal(sa.seen, 1);
  assert_string_equal(sa.first, "p.example");
  scan_wait(f, b, &sb);
  assert_int_equal(sb.seen, 1);
  assert_string_equal(sb.first, "other.example");
  g = get_wait(f, b, "p.example");
  assert_int_equal(g->st, MTS_ENOTFOUND);
  free(g);
  fx_close(f, a);
  fx_close(f, b);
  fx_free(f);
}

/* Records written behind our back are checked, not trusted. */
static void test_redis_bad_records(void **state) {
  struct fx *f;
  struct mts_cache *c;
  struct tget *g;
  struct tscan sc = {0};
  redisContext *s;
  redisReply *x;

  NEED_REDIS();
  (void)state;
  f = fx_new(false, NULL);
  c = fx_open(f, "");
  s = rsrv_sync(&f->srv);
  assert_non_null(s);
  x = redisCommand(s, "HSET policy:badmode.example domain badmode.example "
                      "has_policy 1 id a mode strict max_age 1 fetched_at 1 "
                      "failed_id x failed_at 0 updated_at 1");
  freeReplyObject(x);
  x = redisCommand(s, "HSET policy:missing.example domain missing.example "
                      "has_policy 1 id a mode enforce");
  freeReplyObject(x);
  x = redisCommand(s, "HSET policy:badid.example domain badid.example "
                      "has_policy 1 id a-b mode enforce max_age 1 "
                      "fetched_at 1 failed_id x failed_at 0 updated_at 1");
  freeReplyObject(x);
  x = redisCommand(s, "HSET policy:good.example domain good.example "
                      "has_policy 1 id a mode enforce max_age 1 "
                      "fetched_at 1 failed_id x failed_at 0 updated_at 1");
  freeReplyObject(x);
  x = redisCommand(s, "SET policy:string.example hello");
  freeReplyObject(x);
  redisFree(s);

  f->log.len = 0;
  g = get_wait(f, c, "badmode.example");
  assert_int_equal(g->st, MTS_ENOTFOUND);
  assert_true(tlog_has(&f->log, "bad mode"));
  free(g);
  g = get_wait(f, c, "missing.example");
  assert_int_equal(g->st, MTS_ENOTFOUND);
  free(g);
  g = get_wait(f, c, "badid.example");
  assert_int_equal(g->st, MTS_ENOTFOUND);
  free(g);
  g = get_wait(f, c, "string.example");
  assert_int_equal(g->st, MTS_EIO); /* WRONGTYPE */
  assert_true(tlog_has(&f->log, "WRONGTYPE"));
  free(g);
  g = get_wait(f, c, "good.example");
  assert_int_equal(g->st, MTS_OK);
  free(g);
  scan_wait(f, c, &sc);
  assert_int_equal(sc.d.st, MTS_OK);
  assert_int_equal(sc.seen, 1);
  assert_string_equal(sc.first, "good.example");
  fx_close(f, c);
  fx_free(f);
}

/* Redis down from the start: create succeeds, calls fail fast. */
static void test_redis_down_at_start(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  uv_loop_t loop;
  struct mts_cache *c = NULL;
  struct tget g;
  struct tdone d = {0};
  struct mts_cache_record r = trec("x.example", "1", MTS_STS_MODE_ENFORCE, 60,
                                   0, NULL);
  uint64_t t0;

  (void)state;
  memset(&g, 0, sizeof(g));
  uv_loop_init(&loop);
  assert_int_equal(mts_cache_redis_create(ctx, &loop,
                                          "unix:/nonexistent/mts-r.sock", "",
                                          &c),
                   MTS_OK);
  t0 = tnow_ms();
  g.in_call = true;
  assert_int_equal(mts_cache_get(c, "x.example", tget_cb, &g), MTS_OK);
  g.in_call = false;
  d.in_call = true;
  assert_int_equal(mts_cache_put(c, &r, tdone_cb, &d), MTS_OK);
  d.in_call = false;
  assert_false(g.done);
  assert_false(d.done);
  assert_true(trun_until(&loop, &g.done, 2000));
  assert_true(trun_until(&loop, &d.done, 2000));
  assert_true(tnow_ms() - t0 < 500);
  assert_false(g.reentrant);
  assert_false(d.reentrant);
  assert_int_equal(g.st, MTS_EUNAVAIL);
  assert_int_equal(d.st, MTS_EUNAVAIL);
  mts_cache_destroy(c);
  trun_close(&loop);
  assert_int_equal(uv_loop_close(&loop), 0);
  mts_ctx_destroy(ctx);
}

static void count_reset(void *arg) { (*(int *)arg)++; }

/* kill -9 the server: calls fail fast; restart: the store reconnects,
 * and tells its owner once that the keys are gone (the epoch token).
 * A dropped connection to a server that kept its keys does not. */
static void test_redis_kill_restart(void **state) {
  struct fx *f;
  struct mts_cache *c;
  struct mts_cache_record r = trec("k.example", "1", MTS_STS_MODE_ENFORCE, 60,
                                   0, NULL);
  redisReply *rep;
  int i, resets = 0;

  NEED_REDIS();
  (void)state;
  f = fx_new(false, NULL);
  c = fx_open(f, "");
  mts_cache_on_reset(c, count_reset, &resets);
  r.entry.fetched_at = mts_ctx_now(f->ctx);
  assert_int_equal(put_wait(f, c, &r), MTS_OK);
  /* The connection dropped by the server, its keys kept: no reset. */
  rep = rsrv_cmd(&f->srv, "CLIENT KILL TYPE normal", NULL, NULL);
  freeReplyObject(rep);
  (void)get_until_up(f, c, "k.example", 15000);
  assert_int_equal(put_wait(f, c, &r), MTS_OK);
  assert_true(tlog_has(&f->log, "connection lost"));
  assert_int_equal(resets, 0);
  rsrv_kill(&f->srv, SIGKILL);
  for (i = 0; i < 5; i++) {
    uint64_t t0 = tnow_ms();
    struct tget *g = get_wait(f, c, "k.example");
    uint64_t dt = tnow_ms() - t0;

    if (g->st != MTS_EUNAVAIL || dt > 500) {
      fail_msg("get %d with Redis killed: got %s in %llu ms, want EUNAVAIL "
               "fast", i, mts_status_name(g->st), (unsigned long long)dt);
    }
    free(g);
  }
  rsrv_spawn(&f->srv);
  rsrv_wait(&f->srv);
  /* No persistence: the restarted server is empty. */
  assert_int_equal(get_until_up(f, c, "k.example", 15000), MTS_ENOTFOUND);
  assert_int_equal(put_wait(f, c, &r), MTS_OK);
  if (resets != 1 ||
      !tlog_has(&f->log, "the server lost its keys (restarted without")) {
    fail_msg("%d reset(s) after the restart; log: %s", resets, f->log.text);
  }
  mts_cache_on_reset(c, NULL, NULL);
  fx_close(f, c);
  fx_free(f);
}

/* A server that accepts but never answers: the deadline fires. */
static void test_redis_deadline(void **state) {
  struct fx *f;
  struct mts_cache *c;
  struct tget *g;
  uint64_t t0, dt;

  NEED_REDIS();
  (void)state;
  f = fx_new(false, NULL);
  c = fx_open(f, "");
  g = get_wait(f, c, "warm.example");
  assert_int_equal(g->st, MTS_ENOTFOUND);
  free(g);
  kill(f->srv.pid, SIGSTOP);
  t0 = tnow_ms();
  g = get_wait(f, c, "slow.example");
  dt = tnow_ms() - t0;
  assert_int_equal(g->st, MTS_ETIMEOUT);
  if (dt < 900 || dt > 4000) {
    fail_msg("deadline: %llu ms, want about 1000", (unsigned long long)dt);
  }
  free(g);
  kill(f->srv.pid, SIGCONT);
  assert_int_equal(get_until_up(f, c, "slow.example", 15000), MTS_ENOTFOUND);
  fx_close(f, c);
  fx_free(f);
}

/* destroy with commands in flight: each callback runs once, ECANCELED,
 * before destroy returns. */
static void test_redis_destroy_pending(void **state) {
  struct fx *f;
  struct mts_cache *c;
  struct tdone d[10];
  struct tget *g = calloc(1, sizeof(*g));
  struct tscan sc = {0};
  bool connected = false;
  int i;

  NEED_REDIS();
  (void)state;
  f = fx_new(false, NULL);
  c = fx_open(f, "");
  trun_until(&f->loop, &connected, 200); /* let it connect */
  memset(d, 0, sizeof(d));
  for (i = 0; i < 10; i++) {
    struct mts_cache_record r = trec("d.example", "1", MTS_STS_MODE_ENFORCE,
                                     60, 0, NULL);

    assert_int_equal(mts_cache_put(c, &r, tdone_cb, &d[i]), MTS_OK);
  }
  assert_int_equal(mts_cache_get(c, "d.example", tget_cb, g), MTS_OK);
  assert_int_equal(mts_cache_scan(c, tscan_each, tscan_done, &sc), MTS_OK);
  mts_cache_destroy(c);
  for (i = 0; i < 10; i++) {
    assert_int_equal(d[i].calls, 1);
    assert_int_equal(d[i].st, MTS_ECANCELED);
  }
  assert_int_equal(g->calls, 1);
  assert_int_equal(g->st, MTS_ECANCELED);
  assert_int_equal(sc.d.calls, 1);
  assert_int_equal(sc.d.st, MTS_ECANCELED);
  free(g);
  fx_free(f);
}

/* destroy from inside a reply callback. */
struct dic {
  struct mts_cache *c;
  int calls;
  struct tdone later[3];
};

static void dic_cb(void *arg, enum mts_status st,
                   const struct mts_cache_record *rec) {
  struct dic *x = arg;

  (void)st;
  (void)rec;
  x->calls++;
  mts_cache_destroy(x->c);
}

static void test_redis_destroy_in_callback(void **state) {
  struct fx *f;
  struct dic x;
  bool never = false;
  int i;

  NEED_REDIS();
  (void)state;
  f = fx_new(false, NULL);
  memset(&x, 0, sizeof(x));
  x.c = fx_open(f, "");
  trun_until(&f->loop, &never, 100);
  assert_int_equal(mts_cache_get(x.c, "a.example", dic_cb, &x), MTS_OK);
  for (i = 0; i < 3; i++) {
    assert_int_equal(mts_cache_del(x.c, "a.example", tdone_cb, &x.later[i]),
                     MTS_OK);
  }
  /* Until the last call is answered (bounded): a fixed 300 ms was too
   * short for redis-server on a busy machine. */
  assert_true(trun_until(&f->loop, &x.later[2].done, mts_test_ms(10000)));
  assert_int_equal(x.calls, 1);
  for (i = 0; i < 3; i++) {
    assert_int_equal(x.later[i].calls, 1);
    assert_int_equal(x.later[i].st, MTS_ECANCELED);
  }
  fx_free(f);
}

/* Allocation failures in create, put and get surface as ENOMEM. */
struct sweep_arg {
  char url[200];
};

static enum mts_status store_op(struct mts_ctx *ctx, void *arg) {
  struct sweep_arg *sa = arg;
  uv_loop_t loop;
  struct mts_cache *c = NULL;
  struct mts_cache_record r = trec("sw.example", "1", MTS_STS_MODE_ENFORCE,
                                   60, 0, "b");
  struct tdone d = {0};
  struct tget *g = calloc(1, sizeof(*g));
  enum mts_status st;

  assert_non_null(g);
  uv_loop_init(&loop);
  st = mts_cache_redis_create(ctx, &loop, sa->url, "sw:", &c);
  if (st != MTS_OK) {
    goto done;
  }
  st = mts_cache_put(c, &r, tdone_cb, &d);
  if (st != MTS_OK) {
    goto done;
  }
  trun_until(&loop, &d.done, 3000);
  assert_int_equal(d.st, MTS_OK);
  st = mts_cache_get(c, "sw.example", tget_cb, g);
  if (st != MTS_OK) {
    goto done;
  }
  trun_until(&loop, &g->done, 3000);
  assert_int_equal(g->st, MTS_OK);
done:
  mts_cache_destroy(c);
  trun_close(&loop);
  assert_int_equal(uv_loop_close(&loop), 0);
  free(g);
  return st;
}

static void test_redis_alloc_sweep(void **state) {
  struct rsrv srv;
  struct sweep_arg sa;

  NEED_REDIS();
  (void)state;
  rsrv_start(&srv, false, NULL);
  snprintf(sa.url, sizeof(sa.url), "unix:%s", srv.sock);
  assert_true(mts_test_alloc_sweep(store_op, &sa) >= 4);
  rsrv_stop(&srv);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_url_table),
      cmocka_unit_test(test_create_bad_url),
      cmocka_unit_test(test_redis_down_at_start),
      cmocka_unit_test(test_redis_roundtrip),
      cmocka_unit_test(test_redis_ttl),
      cmocka_unit_test(test_redis_fleet),
      cmocka_unit_test(test_redis_prefix),
      cmocka_unit_test(test_redis_bad_records),
      cmocka_unit_test(test_redis_kill_restart),
      cmocka_unit_test(test_redis_deadline),
      cmocka_unit_test(test_redis_destroy_pending),
      cmocka_unit_test(test_redis_destroy_in_callback),
      cmocka_unit_test(test_redis_alloc_sweep),
  };

  (void)have_redis;
  /* hiredis writes with write(2): a dead server must not kill us. */
  signal(SIGPIPE, SIG_IGN);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
