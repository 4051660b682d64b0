/*
 * test_sts_resolver.c - the sender's policy resolver end to end on
 * loopback: the fake DNS responder and TLS server of fakenet.h serve the
 * `_mta-sts` TXT records and policies, and answers are changed between
 * lookups. The policy clock is the context's fake clock (expiry, grace,
 * backoff, negative records); deadlines and the refresh scan run on real
 * libuv timers, kept short. Every wait is bounded by a guard timer.
 *
 * Where postfix-mta-sts-resolver behaves differently (POSTFIX-NOTES.md
 * 3.5), the test says what the peer does; each such test fails on the
 * peer's behaviour. Vector IDs are from RFC-CHECKLIST.md.
 *
 * A slow DNS server is simulated by holding the fake DNS server's mutex:
 * its thread blocks on it before answering (fakenet.h fake_dns_handle).
 */
#include "testutil.h"

#include "fakenet.h"

#include <mtasts/limits.h>
#include <mtasts/sts_resolver.h>

#define T0 1700000000

#define POLICY(mode, mx, age)                                                  \
  "version: STSv1\r\nmode: " mode "\r\nmx: " mx "\r\nmax_age: " age "\r\n"

#define STS(id)                                                                \
  {                                                                            \
    { "v=STSv1; id=" id ";", NULL }                                            \
  }
#define NOTXT                                                                  \
  {                                                                            \
    { NULL }                                                                   \
  }

/* Mutable: tests change answers between lookups. */
static struct fake_dns_entry dns_table[] = {
    {"_mta-sts.hit.test", 16, 0, false, false, STS("h1")},
    {"_mta-sts.flight.test", 16, 0, false, false, STS("f1")},
    {"_mta-sts.nx.test", 16, 3, false, false, NOTXT},
    {"_mta-sts.fetchfail.test", 16, 0, false, false, STS("a")},
    {"_mta-sts.vanish.test", 16, 0, false, false, STS("v1")},
    {"_mta-sts.expire.test", 16, 0, false, false, STS("e1")},
    {"_mta-sts.change.test", 16, 0, false, false, STS("a")},
    {"_mta-sts.slow.test", 16, 0, false, false, STS("s1")},
    {"_mta-sts.retire.test", 16, 0, false, false, STS("a")},
    {"_mta-sts.zero.test", 16, 0, false, false, STS("z1")},
    {"_mta-sts.lru-a.test", 16, 3, false, false, NOTXT},
    {"_mta-sts.lru-b.test", 16, 3, false, false, NOTXT},
    {"_mta-sts.lru-c.test", 16, 3, false, false, NOTXT},
    {"_mta-sts.refresh.test", 16, 0, false, false, STS("r1")},
    {"_mta-sts.alert.test", 16, 0, false, false, STS("a1")},
    {"_mta-sts.quiet.test", 16, 0, false, false, STS("q1")},
    {"_mta-sts.cancel.test", 16, 0, false, false, STS("c1")},
    {"_mta-sts.destroy.test", 16, 0, false, false, STS("d1")},
    {"_mta-sts.servfail.test", 16, 2, false, false, NOTXT},
    {"_mta-sts.firstfail.test", 16, 0, false, false, STS("x1")},
    {"_mta-sts.purge.test", 16, 0, false, false, STS("p1")},
    {"_mta-sts.sweep.test", 16, 0, false, false, STS("w1")},
    {"_mta-sts.nx0.test", 16, 3, false, false, NOTXT},
    {"_mta-sts.servfail0.test", 16, 2, false, false, NOTXT},
    {"_mta-sts.ff0.test", 16, 0, false, false, STS("n1")},
    {"_mta-sts.grace0.test", 16, 0, false, false, STS("g1")},
    {"_mta-sts.ratio.test", 16, 0, false, false, STS("q1")},
    {"_mta-sts.fleet.test", 16, 0, false, false, STS("f1")},
    {"_mta-sts.reset.test", 16, 0, false, false, STS("n1")},
    {"_mta-sts.keep.test", 16, 0, false, false, STS("k1")},
    {"_mta-sts.purged.test", 16, 0, false, false, STS("u1")},
};
#define NDNS (sizeof(dns_table) / sizeof(dns_table[0]))

static struct fake_site sites[] = {
    {.host = "mta-sts.hit.test"},       {.host = "mta-sts.flight.test"},
    {.host = "mta-sts.fetchfail.test"}, {.host = "mta-sts.vanish.test"},
    {.host = "mta-sts.expire.test"},    {.host = "mta-sts.change.test"},
    {.host = "mta-sts.slow.test"},      {.host = "mta-sts.retire.test"},
    {.host = "mta-sts.zero.test"},      {.host = "mta-sts.refresh.test"},
    {.host = "mta-sts.alert.test"},     {.host = "mta-sts.quiet.test"},
    {.host = "mta-sts.cancel.test"},    {.host = "mta-sts.destroy.test"},
    {.host = "mta-sts.firstfail.test"}, {.host = "mta-sts.purge.test"},
    {.host = "mta-sts.sweep.test"},     {.host = "mta-sts.ff0.test"},
    {.host = "mta-sts.grace0.test"},    {.host = "mta-sts.ratio.test"},
    {.host = "mta-sts.fleet.test"},     {.host = "mta-sts.reset.test"},
    {.host = "mta-sts.keep.test"},      {.host = "mta-sts.purged.test"},
};
#define NSITES (sizeof(sites) / sizeof(sites[0]))

static struct fake_dns dns;
static struct fake_tls tls;
static char resolver[32];
/* Every canned response ever made, freed at the end (a response may be
 * in use by a server thread when a test replaces it). */
static char *pool[256];
static size_t npool;

static struct fake_site *site(const char *host) {
  size_t i;

  for (i = 0; i < NSITES; i++) {
    if (strcmp(sites[i].host, host) == 0) {
      return &sites[i];
    }
  }
  fail_msg("no site %s", host);
  return NULL;
}

static int site_hits(const char *host) {
  struct fake_site *s = site(host);

  return s != NULL ? atomic_load(&s->hits) : -1;
}

static int dns_queries(void) {
  return atomic_load(&dns.queries);
}

static void set_response(const char *host, char *resp) {
  struct fake_site *s = site(host);

  assert_true(npool < sizeof(pool) / sizeof(pool[0]));
  pool[npool++] = resp;
  if (s != NULL) {
    s->response = resp;
  }
}

static void set_policy(const char *host, const char *body) {
  set_response(host, fake_response("200 OK", "text/plain", NULL, body));
}

static void set_status(const char *host, const char *status) {
  set_response(host, fake_response(status, "text/plain", NULL, "gone"));
}

/* rr NULL: no RRs. */
static void set_txt(const char *name, int rcode, const char *rr) {
  size_t i;

  for (i = 0; i < NDNS; i++) {
    if (strcmp(dns_table[i].name, name) == 0) {
      dns_table[i].rcode = rcode;
      dns_table[i].txt[0][0] = rr;
      dns_table[i].txt[0][1] = NULL;
      return;
    }
  }
  fail_msg("no DNS entry %s", name);
}

static int group_setup(void **state) {
  size_t i;

  (void)state;
  for (i = 0; i < NSITES; i++) {
    char mx[128];
    char body[256];

    /* mx mail.<domain>, enforce, one day */
    (void)snprintf(mx, sizeof(mx), "mail.%s", sites[i].host + 8);
    (void)snprintf(body, sizeof(body),
                   "version: STSv1\r\nmode: enforce\r\nmx: %s\r\n"
                   "max_age: 86400\r\n",
                   mx);
    pool[npool++] = fake_response("200 OK", "text/plain", NULL, body);
    sites[i].response = pool[npool - 1];
  }
  if (!fake_dns_start(&dns, dns_table, NDNS) ||
      !fake_tls_start(&tls, sites, NSITES)) {
    return -1;
  }
  (void)snprintf(resolver, sizeof(resolver), "127.0.0.1:%u",
                 (unsigned)dns.port);
  return 0;
}

static int group_teardown(void **state) {
  size_t i;

  (void)state;
  fake_dns_stop(&dns);
  fake_tls_stop(&tls);
  for (i = 0; i < npool; i++) {
    free(pool[i]);
  }
  return 0;
}

/* ---------------------------------------------------------- the env */

#define LOG_MAX 64

struct logcap {
  int n;
  enum mts_log_level lvl[LOG_MAX];
  char line[LOG_MAX][512];
};

static void log_fn(void *arg, enum mts_log_level level, const char *msg) {
  struct logcap *l = arg;

  if (l->n < LOG_MAX) {
    l->lvl[l->n] = level;
    (void)snprintf(l->line[l->n], sizeof(l->line[0]), "%s", msg);
    l->n++;
  }
}

/* The first line at \p lvl (or any level when lvl < 0) containing all of
 * \p a and \p b (b may be NULL), or -1. */
static int log_find(const struct logcap *l, int lvl, const char *a,
                    const char *b) {
  int i;

  for (i = 0; i < l->n; i++) {
    if ((lvl < 0 || (int)l->lvl[i] == lvl) && strstr(l->line[i], a) != NULL &&
        (b == NULL || strstr(l->line[i], b) != NULL)) {
      return i;
    }
  }
  return -1;
}

static void log_dump(const struct logcap *l) {
  int i;

  for (i = 0; i < l->n; i++) {
    print_message("log[%d] %d: %s\n", i, (int)l->lvl[i], l->line[i]);
  }
}

struct env {
  struct mts_test_alloc alloc;
  struct mts_ctx *ctx;
  struct mts_test_clock clk;
  struct logcap log;
  uv_loop_t loop;
  struct mts_net *net;
  struct mts_cache *store;
  struct mts_sts_resolver *r;
};

static enum mts_status env_net_st(struct env *e) {
  struct mts_net_options o;

  mts_net_options_init(&o);
  o.resolver = resolver;
  o.ca_file = tls.ca_file;
  o.https_port = tls.port;
  /* No name here is dropped, so no test needs a DNS timeout to fire; a
   * short one only made a descheduled thread count as a lost query (a
   * retry, one more packet: the exact query counts below). */
  o.dns_timeout_ms = mts_test_ms(5000);
  o.http_timeout_ms = mts_test_ms(1500);
  return mts_net_create(e->ctx, &e->loop, &o, &e->net);
}

/* \p store_path: an SQLite store file, or NULL for memory only. */
static void env_init_store(struct env *e,
                           const struct mts_sts_resolver_options *o,
                           const char *store_path) {
  struct mts_sts_resolver_options oo = *o;

  memset(e, 0, sizeof(*e));
  e->ctx = mts_test_ctx(&e->alloc, 0);
  e->clk.now = T0;
  mts_ctx_set_clock(e->ctx, mts_test_clock_fn, &e->clk);
  mts_ctx_set_log(e->ctx, log_fn, &e->log, MTS_LOG_DEBUG);
  assert_int_equal(uv_loop_init(&e->loop), 0);
  assert_int_equal(env_net_st(e), MTS_OK);
  if (store_path != NULL) {
    assert_int_equal(
        mts_cache_sqlite_create(e->ctx, &e->loop, store_path, &e->store),
        MTS_OK);
    oo.store = e->store;
  }
  assert_int_equal(mts_sts_resolver_create(e->ctx, e->net, &oo, &e->r), MTS_OK);
}

static void env_init_opts(struct env *e,
                          const struct mts_sts_resolver_options *o) {
  env_init_store(e, o, NULL);
}

static void env_init(struct env *e) {
  struct mts_sts_resolver_options o;

  mts_sts_resolver_options_init(&o);
  env_init_opts(e, &o);
}

/* The documented order: resolver, store, net, then run the loop. */
static void env_done(struct env *e) {
  mts_sts_resolver_destroy(e->r);
  e->r = NULL;
  mts_cache_destroy(e->store);
  e->store = NULL;
  mts_net_destroy(e->net);
  e->net = NULL;
  assert_int_equal(uv_run(&e->loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(uv_loop_close(&e->loop), 0);
  mts_ctx_destroy(e->ctx);
}

static void guard_fired(uv_timer_t *t) {
  *(bool *)t->data = true;
}

typedef bool (*pred_fn)(struct env *e, void *arg);

/* Run the loop until \p pred holds; fail after \p ms (scaled). */
static void run_until(struct env *e, pred_fn pred, void *arg, uint32_t ms,
                      const char *what) {
  uv_timer_t guard;
  bool expired = false;

  assert_int_equal(uv_timer_init(&e->loop, &guard), 0);
  guard.data = &expired;
  assert_int_equal(uv_timer_start(&guard, guard_fired, mts_test_ms(ms), 0), 0);
  while (!pred(e, arg) && !expired) {
    (void)uv_run(&e->loop, UV_RUN_ONCE);
  }
  uv_close((uv_handle_t *)&guard, NULL);
  (void)uv_run(&e->loop, UV_RUN_NOWAIT);
  if (expired && !pred(e, arg)) {
    log_dump(&e->log);
    fail_msg("timed out waiting for %s", what);
  }
}

/* Run the loop for \p ms (scaled) of real time: long enough for the work
 * the test waits for (a store load, a refresh scan) also under valgrind. */
static bool never(struct env *e, void *arg) {
  (void)e;
  (void)arg;
  return false;
}

static void run_for(struct env *e, uint32_t ms) {
  uv_timer_t guard;
  bool expired = false;

  assert_int_equal(uv_timer_init(&e->loop, &guard), 0);
  guard.data = &expired;
  assert_int_equal(uv_timer_start(&guard, guard_fired, mts_test_ms(ms), 0), 0);
  while (!expired) {
    (void)uv_run(&e->loop, UV_RUN_ONCE);
  }
  uv_close((uv_handle_t *)&guard, NULL);
  (void)uv_run(&e->loop, UV_RUN_NOWAIT);
  (void)never;
}

static struct mts_sts_resolver_stats stats(struct env *e) {
  struct mts_sts_resolver_stats s;

  mts_sts_resolver_stats(e->r, &s);
  return s;
}

static bool is_idle(struct env *e, void *arg) {
  (void)arg;
  return stats(e).inflight == 0;
}

/* Wait until no discovery is in progress. */
static void wait_idle(struct env *e) {
  run_until(e, is_idle, NULL, 10000, "background discovery");
}

/* ---------------------------------------------------------- answers */

struct res {
  int calls;
  enum mts_sts_answer_kind kind;
  bool from_cache;
  enum mts_sts_verdict last_verdict;
  bool has_policy;
  enum mts_sts_mode mode;
  int64_t max_age;
  char id[40];
  char mx[128];
  char domain[260];
  char reason[400];
};

static void res_cb(void *arg, const struct mts_sts_answer *a) {
  struct res *x = arg;

  x->calls++;
  x->kind = a->kind;
  x->from_cache = a->from_cache;
  x->last_verdict = a->last_verdict;
  x->has_policy = a->policy != NULL;
  x->mode =
      a->policy != NULL ? mts_sts_policy_mode(a->policy) : MTS_STS_MODE_UNKNOWN;
  x->max_age = a->policy != NULL ? mts_sts_policy_max_age(a->policy) : -1;
  (void)snprintf(x->id, sizeof(x->id), "%s", a->id != NULL ? a->id : "");
  (void)snprintf(x->mx, sizeof(x->mx), "%s",
                 a->policy != NULL && mts_sts_policy_mx_count(a->policy) > 0
                     ? mts_sts_policy_mx(a->policy, 0)
                     : "");
  (void)snprintf(x->domain, sizeof(x->domain), "%s", a->domain);
  (void)snprintf(x->reason, sizeof(x->reason), "%s",
                 a->reason != NULL ? a->reason : "");
}

static const char *kind_str(enum mts_sts_answer_kind k) {
  return k == MTS_ANSWER_POLICY ? "POLICY"
         : k == MTS_ANSWER_NONE ? "NONE"
                                : "TEMP";
}

static bool res_done(struct env *e, void *arg) {
  (void)e;
  return ((struct res *)arg)->calls > 0;
}

/* A lookup that must be answered from memory before the call returns. */
static struct res lookup_sync(struct env *e, const char *domain) {
  struct res x;
  struct mts_sts_lookup *h = (struct mts_sts_lookup *)&x;

  memset(&x, 0, sizeof(x));
  assert_int_equal(mts_sts_resolver_lookup(e->r, domain, 5000, res_cb, &x, &h),
                   MTS_OK);
  if (x.calls != 1 || h != NULL) {
    log_dump(&e->log);
    fail_msg("%s: not answered synchronously (calls %d)", domain, x.calls);
  }
  assert_true(x.from_cache);
  return x;
}

/* A lookup that must wait (a miss); runs the loop until it is answered.
 * \p deadline_ms is scaled. */
static struct res lookup_wait(struct env *e, const char *domain,
                              uint32_t deadline_ms) {
  struct res x;
  struct mts_sts_lookup *h = NULL;

  memset(&x, 0, sizeof(x));
  assert_int_equal(mts_sts_resolver_lookup(
                       e->r, domain, mts_test_ms(deadline_ms), res_cb, &x, &h),
                   MTS_OK);
  if (x.calls != 0 || h == NULL) {
    fail_msg("%s: answered at once, want a miss (%s)", domain,
             kind_str(x.kind));
  }
  run_until(e, res_done, &x, 10000, domain);
  assert_int_equal(x.calls, 1);
  assert_false(x.from_cache);
  return x;
}

static void want(const struct res *x, const char *vec,
                 enum mts_sts_answer_kind kind, const char *id,
                 const char *mx) {
  if (x->kind != kind) {
    fail_msg("%s: %s: kind got %s, want %s (%s)", vec, x->domain,
             kind_str(x->kind), kind_str(kind), x->reason);
  }
  if (id != NULL && strcmp(x->id, id) != 0) {
    fail_msg("%s: %s: id got \"%s\", want \"%s\"", vec, x->domain, x->id, id);
  }
  if (mx != NULL && strcmp(x->mx, mx) != 0) {
    fail_msg("%s: %s: mx got \"%s\", want \"%s\"", vec, x->domain, x->mx, mx);
  }
}

/* ---------------------------------------------------------- tests */

/* A cached policy is answered before lookup returns, with no DNS query
 * and no fetch; the first lookup logs the new policy. */
static void test_hit_sync(void **state) {
  struct env e;
  struct res x;
  struct mts_sts_resolver_stats s;
  int q;
  int h;

  (void)state;
  env_init(&e);
  x = lookup_wait(&e, "hit.test", 5000);
  want(&x, "C01", MTS_ANSWER_POLICY, "h1", "mail.hit.test");
  assert_int_equal(x.last_verdict, MTS_STS_V_POLICY);
  assert_int_equal(x.mode, MTS_STS_MODE_ENFORCE);
  assert_string_equal(x.domain, "hit.test");
  wait_idle(&e);
  q = dns_queries();
  h = site_hits("mta-sts.hit.test");
  x = lookup_sync(&e, "hit.test");
  want(&x, "hit", MTS_ANSWER_POLICY, "h1", "mail.hit.test");
  run_for(&e, 50);
  assert_int_equal(dns_queries(), q);
  assert_int_equal(site_hits("mta-sts.hit.test"), h);
  s = stats(&e);
  assert_int_equal(s.lookups, 2);
  assert_int_equal(s.hits, 1);
  assert_int_equal(s.answers[MTS_ANSWER_POLICY], 2);
  assert_int_equal(s.txt_queries, 1);
  assert_int_equal(s.fetches, 1);
  assert_int_equal(s.fetch_results[MTS_STS_V_POLICY], 1);
  assert_int_equal(s.policies[MTS_STS_MODE_ENFORCE], 1);
  assert_int_equal(s.records, 1);
  assert_int_equal(s.inflight, 0);
  if (log_find(&e.log, MTS_LOG_INFO,
               "policy domain=hit.test id=h1 mode=enforce max_age=86400 mx=1 "
               "result=new",
               NULL) < 0) {
    log_dump(&e.log);
    fail_msg("no policy log line");
  }
  env_done(&e);
}

/* 50 concurrent lookups of one uncached domain share one TXT query and
 * one GET (the peer made 26 of each). A fetch costs the policy host's A
 * and AAAA lookups on top of the TXT query. */
static void test_single_flight(void **state) {
  enum { N = 50 };
  struct env e;
  struct res x[N];
  int q = dns_queries();
  int h = site_hits("mta-sts.flight.test");
  int i;

  (void)state;
  env_init(&e);
  memset(x, 0, sizeof(x));
  for (i = 0; i < N; i++) {
    assert_int_equal(mts_sts_resolver_lookup(e.r, "flight.test",
                                             mts_test_ms(5000), res_cb, &x[i],
                                             NULL),
                     MTS_OK);
    assert_int_equal(x[i].calls, 0);
  }
  run_until(&e, res_done, &x[N - 1], 10000, "50 lookups");
  for (i = 0; i < N; i++) {
    assert_int_equal(x[i].calls, 1);
    want(&x[i], "single-flight", MTS_ANSWER_POLICY, "f1", "mail.flight.test");
  }
  assert_int_equal(site_hits("mta-sts.flight.test") - h, 1);
  assert_int_equal(dns_queries() - q, 3); /* TXT + A + AAAA */
  assert_int_equal(stats(&e).txt_queries, 1);
  assert_int_equal(stats(&e).fetches, 1);
  env_done(&e);
}

/* NXDOMAIN is remembered for negative_ttl: three lookups, one query (the
 * peer made three). */
static void test_negative_nx(void **state) {
  struct env e;
  struct res x;
  int q = dns_queries();

  (void)state;
  env_init(&e);
  x = lookup_wait(&e, "nx.test", 5000);
  want(&x, "T40", MTS_ANSWER_NONE, "", NULL);
  assert_int_equal(x.last_verdict, MTS_STS_V_NO_POLICY);
  assert_false(x.has_policy);
  x = lookup_sync(&e, "nx.test");
  want(&x, "negative", MTS_ANSWER_NONE, "", NULL);
  x = lookup_sync(&e, "nx.test");
  want(&x, "negative", MTS_ANSWER_NONE, "", NULL);
  assert_int_equal(dns_queries() - q, 1);
  /* negative_ttl (60 s) later the domain is asked again. */
  e.clk.now += 60;
  x = lookup_wait(&e, "nx.test", 5000);
  want(&x, "negative-expired", MTS_ANSWER_NONE, "", NULL);
  assert_int_equal(dns_queries() - q, 2);
  env_done(&e);
}

/* negative_ttl 0 turns negative caching off: "no policy" (NXDOMAIN), a
 * DNS tempfail and a failed first fetch answer the lookups waiting for
 * them (NONE, TEMP, NONE: not TEMP "no answer"), and the next lookup, at
 * the same second, asks DNS again; the failed id still backs off (no
 * second GET). Before the fix 0 meant 60 s: the second lookup was
 * answered from memory. */
static void test_negative_ttl_zero(void **state) {
  struct env e;
  struct res x;
  struct mts_sts_resolver_options o;
  struct mts_sts_resolver_record rr;
  int q = dns_queries();
  int h;

  (void)state;
  set_status("mta-sts.ff0.test", "404 Not Found");
  mts_sts_resolver_options_init(&o);
  o.negative_ttl = 0;
  env_init_opts(&e, &o);
  x = lookup_wait(&e, "nx0.test", 5000);
  want(&x, "negative_ttl 0", MTS_ANSWER_NONE, "", NULL);
  assert_int_equal(x.last_verdict, MTS_STS_V_NO_POLICY);
  assert_int_equal(dns_queries() - q, 1);
  x = lookup_wait(&e, "nx0.test", 5000);
  want(&x, "negative_ttl 0 again", MTS_ANSWER_NONE, "", NULL);
  assert_int_equal(dns_queries() - q, 2);
  assert_int_equal(mts_sts_resolver_get(e.r, "nx0.test", &rr), MTS_OK);
  assert_int_equal(rr.neg_until, 0);

  x = lookup_wait(&e, "servfail0.test", 5000);
  want(&x, "negative_ttl 0 tempfail", MTS_ANSWER_TEMP, "", NULL);
  assert_int_equal(x.last_verdict, MTS_STS_V_DNS_TEMPFAIL);
  assert_string_not_equal(x.reason, "no answer");
  x = lookup_wait(&e, "servfail0.test", 5000);
  want(&x, "negative_ttl 0 tempfail again", MTS_ANSWER_TEMP, "", NULL);

  h = site_hits("mta-sts.ff0.test");
  x = lookup_wait(&e, "ff0.test", 5000);
  want(&x, "negative_ttl 0 fetch", MTS_ANSWER_NONE, "", NULL);
  assert_int_equal(x.last_verdict, MTS_STS_V_FETCH_ERROR);
  assert_int_equal(site_hits("mta-sts.ff0.test") - h, 1);
  x = lookup_wait(&e, "ff0.test", 5000);
  want(&x, "negative_ttl 0 fetch backoff", MTS_ANSWER_NONE, "", NULL);
  assert_int_equal(site_hits("mta-sts.ff0.test") - h, 1);
  /* nx0 twice, servfail0 twice, ff0's TXT twice (its A and AAAA once). */
  assert_int_equal(stats(&e).txt_queries, 6);
  env_done(&e);
}

/* AMBIG-TXT-3: a TXT tempfail without a cached policy answers TEMP and is
 * remembered for 10 s only. */
static void test_tempfail_no_cache(void **state) {
  struct env e;
  struct res x;
  int q = dns_queries();

  (void)state;
  env_init(&e);
  x = lookup_wait(&e, "servfail.test", 5000);
  want(&x, "AMBIG-TXT-3", MTS_ANSWER_TEMP, "", NULL);
  assert_int_equal(x.last_verdict, MTS_STS_V_DNS_TEMPFAIL);
  x = lookup_sync(&e, "servfail.test");
  want(&x, "AMBIG-TXT-3 remembered", MTS_ANSWER_TEMP, "", NULL);
  e.clk.now += 9;
  x = lookup_sync(&e, "servfail.test");
  e.clk.now += 1;
  x = lookup_wait(&e, "servfail.test", 5000);
  want(&x, "AMBIG-TXT-3 retried", MTS_ANSWER_TEMP, "", NULL);
  /* c-ares may retry a SERVFAIL on its own; count lookups, not packets */
  assert_int_equal(stats(&e).txt_queries, 2);
  assert_true(dns_queries() - q >= 2);
  assert_true(log_find(&e.log, -1, "failure domain=servfail.test",
                       "result=dns-temporary-failure") >= 0);
  env_done(&e);
}

/* C11/FETCH-11: first contact, valid TXT, failed fetch: NONE, negative
 * record, and the id backs off for 5 minutes (F25) even after the
 * negative record has expired. */
static void test_first_fetch_fails(void **state) {
  struct env e;
  struct res x;
  int h;
  int q;

  (void)state;
  set_status("mta-sts.firstfail.test", "404 Not Found");
  env_init(&e);
  h = site_hits("mta-sts.firstfail.test");
  x = lookup_wait(&e, "firstfail.test", 5000);
  want(&x, "C11", MTS_ANSWER_NONE, "", NULL);
  assert_int_equal(x.last_verdict, MTS_STS_V_FETCH_ERROR);
  assert_int_equal(site_hits("mta-sts.firstfail.test") - h, 1);
  x = lookup_sync(&e, "firstfail.test");
  want(&x, "C11 negative", MTS_ANSWER_NONE, "", NULL);
  /* No cached policy: the failure is not an alert. */
  assert_true(log_find(&e.log, MTS_LOG_INFO, "failure domain=firstfail.test",
                       "result=sts-policy-fetch-error") >= 0);
  assert_int_equal(log_find(&e.log, MTS_LOG_WARNING, "firstfail.test", NULL),
                   -1);
  /* After negative_ttl: the TXT is asked again, the GET is not (F25). */
  e.clk.now += 61;
  q = dns_queries();
  x = lookup_wait(&e, "firstfail.test", 5000);
  want(&x, "F25 backoff", MTS_ANSWER_NONE, "", NULL);
  assert_int_equal(dns_queries() - q, 1);
  assert_int_equal(site_hits("mta-sts.firstfail.test") - h, 1);
  /* Past the backoff, the fetch is tried again and now succeeds. */
  set_policy("mta-sts.firstfail.test",
             POLICY("testing", "mx.firstfail.test", "3600"));
  e.clk.now += 300;
  x = lookup_wait(&e, "firstfail.test", 5000);
  want(&x, "F25 retry", MTS_ANSWER_POLICY, "x1", "mx.firstfail.test");
  assert_int_equal(x.mode, MTS_STS_MODE_TESTING);
  assert_int_equal(site_hits("mta-sts.firstfail.test") - h, 2);
  env_done(&e);
}

/* C04 + F25: the TXT id changes, the fetch of the new id fails: the
 * cached policy still applies, the failure is an alert, and the GET for
 * the failed id is not repeated for 5 minutes (the peer repeated the GET
 * on every stale lookup). */
static void test_fetch_error_keeps_cache(void **state) {
  struct env e;
  struct res x;
  int h;
  int q;

  (void)state;
  set_txt("_mta-sts.fetchfail.test", 0, "v=STSv1; id=a;");
  set_policy("mta-sts.fetchfail.test",
             POLICY("enforce", "mail-a.fetchfail.test", "86400"));
  env_init(&e);
  x = lookup_wait(&e, "fetchfail.test", 5000);
  want(&x, "C01", MTS_ANSWER_POLICY, "a", "mail-a.fetchfail.test");
  set_txt("_mta-sts.fetchfail.test", 0, "v=STSv1; id=b;");
  set_status("mta-sts.fetchfail.test", "404 Not Found");
  h = site_hits("mta-sts.fetchfail.test");
  e.clk.now += 61; /* past cache_grace: the id is checked */
  x = lookup_sync(&e, "fetchfail.test");
  want(&x, "C04", MTS_ANSWER_POLICY, "a", "mail-a.fetchfail.test");
  wait_idle(&e);
  assert_int_equal(site_hits("mta-sts.fetchfail.test") - h, 1);
  assert_int_equal(stats(&e).fetch_results[MTS_STS_V_FETCH_ERROR], 1);
  x = lookup_sync(&e, "fetchfail.test");
  want(&x, "C04 cached", MTS_ANSWER_POLICY, "a", "mail-a.fetchfail.test");
  assert_int_equal(x.last_verdict, MTS_STS_V_FETCH_ERROR);
  if (log_find(&e.log, MTS_LOG_WARNING, "failure domain=fetchfail.test id=b",
               "result=sts-policy-fetch-error") < 0) {
    log_dump(&e.log);
    fail_msg("C04: no alert for the failed fetch");
  }
  /* Another grace period later (122 s after the failure): TXT checked,
   * no GET. */
  e.clk.now += 61;
  q = dns_queries();
  x = lookup_sync(&e, "fetchfail.test");
  want(&x, "F25", MTS_ANSWER_POLICY, "a", NULL);
  wait_idle(&e);
  assert_int_equal(dns_queries() - q, 1);
  assert_int_equal(site_hits("mta-sts.fetchfail.test") - h, 1);
  /* 5 minutes after the failure the GET is tried again; it works now. */
  set_policy("mta-sts.fetchfail.test",
             POLICY("enforce", "mail-b.fetchfail.test", "86400"));
  e.clk.now += 300 - 61 + 1;
  x = lookup_sync(&e, "fetchfail.test");
  want(&x, "F25 retry", MTS_ANSWER_POLICY, "a", NULL);
  wait_idle(&e);
  assert_int_equal(site_hits("mta-sts.fetchfail.test") - h, 2);
  x = lookup_sync(&e, "fetchfail.test");
  want(&x, "F25 new", MTS_ANSWER_POLICY, "b", "mail-b.fetchfail.test");
  assert_int_equal(x.last_verdict, MTS_STS_V_POLICY);
  env_done(&e);
}

/* C08/TXT-8: the TXT record vanishes (NXDOMAIN), then the DNS fails: the
 * valid cached policy keeps applying, and nothing is fetched. */
static void test_txt_vanishes(void **state) {
  struct env e;
  struct res x;
  int h;

  (void)state;
  set_txt("_mta-sts.vanish.test", 0, "v=STSv1; id=v1;");
  env_init(&e);
  x = lookup_wait(&e, "vanish.test", 5000);
  want(&x, "C01", MTS_ANSWER_POLICY, "v1", "mail.vanish.test");
  h = site_hits("mta-sts.vanish.test");
  set_txt("_mta-sts.vanish.test", 3, NULL);
  e.clk.now += 61;
  x = lookup_sync(&e, "vanish.test");
  wait_idle(&e);
  x = lookup_sync(&e, "vanish.test");
  want(&x, "TXT-8", MTS_ANSWER_POLICY, "v1", "mail.vanish.test");
  assert_int_equal(x.last_verdict, MTS_STS_V_NO_POLICY);
  set_txt("_mta-sts.vanish.test", 2, NULL);
  e.clk.now += 61;
  x = lookup_sync(&e, "vanish.test");
  wait_idle(&e);
  x = lookup_sync(&e, "vanish.test");
  want(&x, "C08", MTS_ANSWER_POLICY, "v1", "mail.vanish.test");
  assert_int_equal(x.last_verdict, MTS_STS_V_DNS_TEMPFAIL);
  assert_int_equal(site_hits("mta-sts.vanish.test"), h);
  assert_int_equal(stats(&e).txt_queries, 3);
  env_done(&e);
}

/* AMBIG-CACHE-1: an unchanged TXT id never extends the expiry. max_age
 * 10, TXT checked at +6 (same id, no fetch); at +11 the policy has
 * expired: the lookup waits for a fresh fetch. The peer renews the
 * timestamp on "not changed" and answers from the cache with no GET. */
static void test_unchanged_id_no_extend(void **state) {
  struct env e;
  struct res x;
  struct mts_sts_resolver_options o;
  int h;

  (void)state;
  set_policy("mta-sts.expire.test",
             POLICY("enforce", "mail.expire.test", "10"));
  mts_sts_resolver_options_init(&o);
  o.cache_grace = 5;
  env_init_opts(&e, &o);
  h = site_hits("mta-sts.expire.test");
  x = lookup_wait(&e, "expire.test", 5000);
  want(&x, "C01", MTS_ANSWER_POLICY, "e1", NULL);
  assert_int_equal(x.max_age, 10);
  e.clk.now += 6;
  x = lookup_sync(&e, "expire.test");
  wait_idle(&e);
  assert_int_equal(stats(&e).txt_queries, 2);
  assert_int_equal(site_hits("mta-sts.expire.test") - h, 1); /* C02 */
  e.clk.now += 5; /* T0 + 11: expired, same id */
  x = lookup_wait(&e, "expire.test", 5000);
  want(&x, "AMBIG-CACHE-1", MTS_ANSWER_POLICY, "e1", NULL);
  assert_int_equal(site_hits("mta-sts.expire.test") - h, 2);
  assert_true(log_find(&e.log, MTS_LOG_INFO, "policy domain=expire.test",
                       "result=refreshed") >= 0);
  env_done(&e);
}

/* C16: a changed id is fetched in the background; the old policy
 * answers meanwhile, the new one afterwards. */
static void test_changed_id(void **state) {
  struct env e;
  struct res x;

  (void)state;
  set_txt("_mta-sts.change.test", 0, "v=STSv1; id=a;");
  set_policy("mta-sts.change.test",
             POLICY("enforce", "mail-a.change.test", "86400"));
  env_init(&e);
  x = lookup_wait(&e, "change.test", 5000);
  want(&x, "C01", MTS_ANSWER_POLICY, "a", "mail-a.change.test");
  set_txt("_mta-sts.change.test", 0, "v=STSv1; id=A;");
  set_policy("mta-sts.change.test",
             POLICY("testing", "mail-b.change.test", "86400"));
  /* Within cache_grace nothing is checked. */
  e.clk.now += 59;
  x = lookup_sync(&e, "change.test");
  assert_int_equal(stats(&e).inflight, 0);
  e.clk.now += 1;
  x = lookup_sync(&e, "change.test");
  want(&x, "C16 old", MTS_ANSWER_POLICY, "a", "mail-a.change.test");
  wait_idle(&e);
  x = lookup_sync(&e, "change.test");
  want(&x, "C16 new", MTS_ANSWER_POLICY, "A", "mail-b.change.test");
  assert_int_equal(x.mode, MTS_STS_MODE_TESTING);
  assert_true(log_find(&e.log, MTS_LOG_INFO, "policy domain=change.test id=A",
                       "result=changed") >= 0);
  env_done(&e);
}

/* cache_grace 0: every hit is answered from memory at once and starts a
 * background TXT id check, one at a time per domain (hits while it runs
 * start none); an unchanged id fetches nothing. Before the fix 0 meant
 * 60 s: no check ran. */
static void test_cache_grace_zero(void **state) {
  struct env e;
  struct res x;
  struct mts_sts_resolver_options o;
  int h;

  (void)state;
  mts_sts_resolver_options_init(&o);
  o.cache_grace = 0;
  env_init_opts(&e, &o);
  h = site_hits("mta-sts.grace0.test");
  x = lookup_wait(&e, "grace0.test", 5000);
  want(&x, "C01", MTS_ANSWER_POLICY, "g1", "mail.grace0.test");
  wait_idle(&e);
  assert_int_equal(stats(&e).txt_queries, 1);
  /* Same second: a hit, and a check starts. */
  x = lookup_sync(&e, "grace0.test");
  want(&x, "cache_grace 0", MTS_ANSWER_POLICY, "g1", NULL);
  assert_int_equal(stats(&e).inflight, 1);
  /* While it runs, more hits start nothing. */
  x = lookup_sync(&e, "grace0.test");
  x = lookup_sync(&e, "grace0.test");
  want(&x, "cache_grace 0 single flight", MTS_ANSWER_POLICY, "g1", NULL);
  wait_idle(&e);
  assert_int_equal(stats(&e).txt_queries, 2);
  /* The next hit checks again. */
  x = lookup_sync(&e, "grace0.test");
  wait_idle(&e);
  assert_int_equal(stats(&e).txt_queries, 3);
  assert_int_equal(stats(&e).fetches, 1);
  assert_int_equal(site_hits("mta-sts.grace0.test") - h, 1);
  env_done(&e);
}

/* A slow DNS server: the lookup gets TEMP at its deadline, discovery goes
 * on, and the next lookup is a hit. */
static void test_slow_deadline(void **state) {
  struct env e;
  struct res x;
  struct mts_sts_lookup *hd = NULL;
  uint64_t t;

  (void)state;
  env_init(&e);
  memset(&x, 0, sizeof(x));
  pthread_mutex_lock(&dns.mu);
  t = uv_now(&e.loop);
  assert_int_equal(mts_sts_resolver_lookup(e.r, "slow.test", mts_test_ms(300),
                                           res_cb, &x, &hd),
                   MTS_OK);
  assert_non_null(hd);
  run_until(&e, res_done, &x, 5000, "deadline");
  pthread_mutex_unlock(&dns.mu);
  uv_update_time(&e.loop);
  assert_true(uv_now(&e.loop) - t >= mts_test_ms(290));
  want(&x, "deadline", MTS_ANSWER_TEMP, "", NULL);
  assert_false(x.from_cache);
  assert_int_equal(stats(&e).answers[MTS_ANSWER_TEMP], 1);
  wait_idle(&e);
  x = lookup_sync(&e, "slow.test");
  want(&x, "after deadline", MTS_ANSWER_POLICY, "s1", "mail.slow.test");
  env_done(&e);
}

/* C13: a new id with mode none replaces an enforce policy; the answer is
 * NONE with the mode-none policy, and it is counted as such. */
static void test_mode_none_retires(void **state) {
  struct env e;
  struct res x;
  struct mts_sts_resolver_stats s;

  (void)state;
  set_txt("_mta-sts.retire.test", 0, "v=STSv1; id=a;");
  env_init(&e);
  x = lookup_wait(&e, "retire.test", 5000);
  want(&x, "C01", MTS_ANSWER_POLICY, "a", NULL);
  assert_int_equal(stats(&e).policies[MTS_STS_MODE_ENFORCE], 1);
  set_txt("_mta-sts.retire.test", 0, "v=STSv1; id=b;");
  set_policy("mta-sts.retire.test",
             "version: STSv1\r\nmode: none\r\nmax_age: 86400\r\n");
  e.clk.now += 61;
  x = lookup_sync(&e, "retire.test");
  want(&x, "C13 before", MTS_ANSWER_POLICY, "a", NULL);
  wait_idle(&e);
  x = lookup_sync(&e, "retire.test");
  want(&x, "C13", MTS_ANSWER_NONE, "b", NULL);
  assert_true(x.has_policy);
  assert_int_equal(x.mode, MTS_STS_MODE_NONE);
  s = stats(&e);
  assert_int_equal(s.policies[MTS_STS_MODE_ENFORCE], 0);
  assert_int_equal(s.policies[MTS_STS_MODE_NONE], 1);
  env_done(&e);
}

/* AMBIG-POL-5: max_age 0 is applied to the waiting lookups and not kept:
 * the next lookup fetches again. */
static void test_max_age_zero(void **state) {
  struct env e;
  struct res x;
  int h;

  (void)state;
  set_policy("mta-sts.zero.test", POLICY("enforce", "mail.zero.test", "0"));
  env_init(&e);
  h = site_hits("mta-sts.zero.test");
  x = lookup_wait(&e, "zero.test", 5000);
  want(&x, "AMBIG-POL-5", MTS_ANSWER_POLICY, "z1", "mail.zero.test");
  assert_int_equal(x.max_age, 0);
  assert_int_equal(stats(&e).policies[MTS_STS_MODE_ENFORCE], 0);
  x = lookup_wait(&e, "zero.test", 5000);
  want(&x, "AMBIG-POL-5 again", MTS_ANSWER_POLICY, "z1", NULL);
  assert_int_equal(site_hits("mta-sts.zero.test") - h, 2);
  assert_true(log_find(&e.log, MTS_LOG_INFO, "policy domain=zero.test",
                       "result=once") >= 0);
  env_done(&e);
}

/* LRU eviction at cache_size: the least recently used record goes. */
static void test_lru(void **state) {
  struct env e;
  struct res x;
  struct mts_sts_resolver_options o;
  int q;

  (void)state;
  mts_sts_resolver_options_init(&o);
  o.cache_size = 2;
  env_init_opts(&e, &o);
  x = lookup_wait(&e, "lru-a.test", 5000);
  x = lookup_wait(&e, "lru-b.test", 5000);
  x = lookup_sync(&e, "lru-a.test"); /* a is now the most recent */
  x = lookup_wait(&e, "lru-c.test", 5000);
  want(&x, "lru", MTS_ANSWER_NONE, "", NULL);
  assert_int_equal(stats(&e).records, 2);
  q = dns_queries();
  x = lookup_sync(&e, "lru-a.test");
  x = lookup_sync(&e, "lru-c.test");
  assert_int_equal(dns_queries(), q);
  x = lookup_wait(&e, "lru-b.test", 5000); /* evicted: asked again */
  assert_int_equal(dns_queries() - q, 1);
  assert_int_equal(stats(&e).records, 2);
  env_done(&e);
}

static struct mts_sts_resolver_options refresh_opts(void) {
  struct mts_sts_resolver_options o;

  mts_sts_resolver_options_init(&o);
  o.refresh_enabled = true;
  o.refresh_interval = 2; /* refresh after 2 / 2 = 1 s; scan every 0.5 s */
  o.refresh_grace_ratio = 2.0;
  o.refresh_concurrency = 1;
  return o;
}

struct hits_want {
  const char *host;
  int n;
};

static bool hits_reached(struct env *e, void *arg) {
  struct hits_want *w = arg;

  return site_hits(w->host) >= w->n && is_idle(e, NULL);
}

/* C14/FETCH-13: proactive refresh re-fetches before expiry and extends
 * it; not before refresh_interval / refresh_grace_ratio. */
static void test_refresh(void **state) {
  struct env e;
  struct res x;
  struct mts_sts_resolver_options o = refresh_opts();
  struct hits_want hw = {"mta-sts.refresh.test", 0};
  int h;

  (void)state;
  set_policy("mta-sts.refresh.test",
             POLICY("enforce", "mail.refresh.test", "100"));
  env_init_opts(&e, &o);
  h = site_hits("mta-sts.refresh.test");
  x = lookup_wait(&e, "refresh.test", 5000);
  want(&x, "C01", MTS_ANSWER_POLICY, "r1", NULL);
  run_for(&e, 700); /* a scan or more: not due yet */
  assert_int_equal(site_hits("mta-sts.refresh.test") - h, 1);
  e.clk.now += 1;
  hw.n = h + 2;
  run_until(&e, hits_reached, &hw, 5000, "refresh");
  assert_true(log_find(&e.log, MTS_LOG_INFO, "policy domain=refresh.test",
                       "result=refreshed") >= 0);
  e.clk.now = T0 + 100; /* the first fetch's expiry; the refresh moved it */
  x = lookup_sync(&e, "refresh.test");
  want(&x, "C14", MTS_ANSWER_POLICY, "r1", NULL);
  assert_int_equal(stats(&e).refresh_failures, 0);
  env_done(&e);
}

/* grace_ratio below 1 is honoured (the peer's interval / grace_ratio):
 * interval 1 s, ratio 0.5: refreshed once 2 s old, not at 1 s. Before
 * the fix a ratio below 1 became 2.0 (threshold 0.5 s: refreshed at
 * once, and again at every scan). */
static void test_refresh_ratio_below_one(void **state) {
  struct env e;
  struct res x;
  struct mts_sts_resolver_options o = refresh_opts();
  struct hits_want hw = {"mta-sts.ratio.test", 0};
  int h;

  (void)state;
  o.refresh_interval = 1;
  o.refresh_grace_ratio = 0.5; /* threshold 2 s; scan every 1 s */
  env_init_opts(&e, &o);
  h = site_hits("mta-sts.ratio.test");
  x = lookup_wait(&e, "ratio.test", 5000);
  want(&x, "C01", MTS_ANSWER_POLICY, "q1", NULL);
  e.clk.now += 1;
  run_for(&e, 1500); /* a scan or more: 1 s old, not due */
  assert_int_equal(site_hits("mta-sts.ratio.test") - h, 1);
  e.clk.now += 1;
  hw.n = h + 2;
  run_until(&e, hits_reached, &hw, 5000, "refresh at 2 s");
  assert_int_equal(site_hits("mta-sts.ratio.test") - h, 2);
  assert_true(log_find(&e.log, MTS_LOG_INFO, "policy domain=ratio.test",
                       "result=refreshed") >= 0);
  env_done(&e);
}

static bool refresh_failed2(struct env *e, void *arg) {
  (void)arg;
  return stats(e).refresh_failures >= 2 && is_idle(e, NULL);
}

/* FETCH-14: a failed refresh is an alert (WARNING), unless the cached mode
 * is none; the cached policies keep applying. */
static void test_refresh_failure_alert(void **state) {
  struct env e;
  struct res x;
  struct mts_sts_resolver_options o = refresh_opts();

  (void)state;
  set_policy("mta-sts.quiet.test",
             "version: STSv1\r\nmode: none\r\nmax_age: 86400\r\n");
  env_init_opts(&e, &o);
  x = lookup_wait(&e, "alert.test", 5000);
  want(&x, "C01", MTS_ANSWER_POLICY, "a1", NULL);
  x = lookup_wait(&e, "quiet.test", 5000);
  want(&x, "C13", MTS_ANSWER_NONE, "q1", NULL);
  set_status("mta-sts.alert.test", "500 Internal Server Error");
  set_status("mta-sts.quiet.test", "500 Internal Server Error");
  e.clk.now += 1;
  run_until(&e, refresh_failed2, NULL, 5000, "two refresh failures");
  if (log_find(&e.log, MTS_LOG_WARNING,
               "refresh failed domain=alert.test id=a1 mode=enforce",
               "result=sts-policy-fetch-error") < 0) {
    log_dump(&e.log);
    fail_msg("FETCH-14: no alert for alert.test");
  }
  if (log_find(&e.log, MTS_LOG_WARNING, "quiet.test", NULL) >= 0) {
    log_dump(&e.log);
    fail_msg("FETCH-14: mode none alerted");
  }
  assert_true(log_find(&e.log, MTS_LOG_INFO,
                       "refresh failed domain=quiet.test id=q1 mode=none",
                       NULL) >= 0);
  x = lookup_sync(&e, "alert.test");
  want(&x, "FETCH-12", MTS_ANSWER_POLICY, "a1", NULL);
  assert_int_equal(x.last_verdict, MTS_STS_V_FETCH_ERROR);
  x = lookup_sync(&e, "quiet.test");
  want(&x, "mode none", MTS_ANSWER_NONE, "q1", NULL);
  env_done(&e);
}

/* A cancelled lookup never gets its callback; the discovery it started
 * goes on and is cached; other waiters are answered. */
static void test_cancel(void **state) {
  struct env e;
  struct res x1;
  struct res x2;
  struct res x;
  struct mts_sts_lookup *h1 = NULL;

  (void)state;
  env_init(&e);
  memset(&x1, 0, sizeof(x1));
  memset(&x2, 0, sizeof(x2));
  pthread_mutex_lock(&dns.mu);
  assert_int_equal(mts_sts_resolver_lookup(e.r, "cancel.test",
                                           mts_test_ms(5000), res_cb, &x1, &h1),
                   MTS_OK);
  assert_int_equal(mts_sts_resolver_lookup(e.r, "cancel.test",
                                           mts_test_ms(5000), res_cb, &x2,
                                           NULL),
                   MTS_OK);
  assert_non_null(h1);
  mts_sts_lookup_cancel(h1);
  mts_sts_lookup_cancel(NULL);
  pthread_mutex_unlock(&dns.mu);
  run_until(&e, res_done, &x2, 10000, "second waiter");
  wait_idle(&e);
  assert_int_equal(x1.calls, 0);
  want(&x2, "cancel", MTS_ANSWER_POLICY, "c1", NULL);
  x = lookup_sync(&e, "cancel.test");
  want(&x, "cancel cached", MTS_ANSWER_POLICY, "c1", NULL);
  env_done(&e);
}

/* Destroy with lookups pending: each gets TEMP during destroy; the
 * discovery is cancelled by the net; nothing leaks (cmocka + ASan). */
static void test_destroy_pending(void **state) {
  struct env e;
  struct res x[3];
  int i;

  (void)state;
  env_init(&e);
  memset(x, 0, sizeof(x));
  pthread_mutex_lock(&dns.mu);
  for (i = 0; i < 3; i++) {
    assert_int_equal(mts_sts_resolver_lookup(e.r, "destroy.test",
                                             mts_test_ms(5000), res_cb, &x[i],
                                             NULL),
                     MTS_OK);
  }
  run_for(&e, 20);
  mts_sts_resolver_destroy(e.r);
  e.r = NULL;
  for (i = 0; i < 3; i++) {
    assert_int_equal(x[i].calls, 1);
    want(&x[i], "destroy", MTS_ANSWER_TEMP, "", NULL);
  }
  pthread_mutex_unlock(&dns.mu);
  env_done(&e);
}

struct destroy_arg {
  struct env *e;
  int calls;
};

static void destroy_cb(void *arg, const struct mts_sts_answer *a) {
  struct destroy_arg *d = arg;

  (void)a;
  d->calls++;
  mts_sts_resolver_destroy(d->e->r);
  d->e->r = NULL;
}

/* Destroy from inside a callback: from a cache hit (inside lookup) and
 * from a flight's completion, with another waiter still pending. */
static void test_destroy_in_callback(void **state) {
  struct env e;
  struct destroy_arg d;
  struct res x;

  (void)state;
  env_init(&e);
  d.e = &e;
  d.calls = 0;
  x = lookup_wait(&e, "hit.test", 5000);
  wait_idle(&e);
  assert_int_equal(mts_sts_resolver_lookup(e.r, "hit.test", mts_test_ms(5000),
                                           destroy_cb, &d, NULL),
                   MTS_OK);
  assert_int_equal(d.calls, 1);
  assert_null(e.r);
  env_done(&e);

  env_init(&e);
  d.e = &e;
  d.calls = 0;
  memset(&x, 0, sizeof(x));
  assert_int_equal(mts_sts_resolver_lookup(e.r, "hit.test", mts_test_ms(5000),
                                           destroy_cb, &d, NULL),
                   MTS_OK);
  assert_int_equal(mts_sts_resolver_lookup(e.r, "hit.test", mts_test_ms(5000),
                                           res_cb, &x, NULL),
                   MTS_OK);
  while (d.calls == 0) {
    (void)uv_run(&e.loop, UV_RUN_ONCE);
  }
  assert_int_equal(x.calls, 1); /* answered, before or by the teardown */
  env_done(&e);
}

/* Purge forgets a domain; refresh re-discovers it at once. */
static void test_purge_refresh(void **state) {
  struct env e;
  struct res x;
  int h;

  (void)state;
  env_init(&e);
  h = site_hits("mta-sts.purge.test");
  x = lookup_wait(&e, "purge.test", 5000);
  want(&x, "C01", MTS_ANSWER_POLICY, "p1", NULL);
  assert_int_equal(mts_sts_resolver_purge(e.r, "purge.test"), MTS_OK);
  assert_int_equal(mts_sts_resolver_purge(e.r, "unknown.test"), MTS_OK);
  assert_int_equal(stats(&e).records, 0);
  x = lookup_wait(&e, "purge.test", 5000);
  want(&x, "purged", MTS_ANSWER_POLICY, "p1", NULL);
  assert_int_equal(site_hits("mta-sts.purge.test") - h, 2);
  /* Operator refresh: re-fetch now although the id is unchanged. */
  assert_int_equal(mts_sts_resolver_refresh(e.r, "purge.test"), MTS_OK);
  wait_idle(&e);
  assert_int_equal(site_hits("mta-sts.purge.test") - h, 3);
  x = lookup_sync(&e, "purge.test");
  want(&x, "refreshed", MTS_ANSWER_POLICY, "p1", NULL);
  /* Refresh of an unknown domain discovers it. */
  assert_int_equal(mts_sts_resolver_refresh(e.r, "nx.test"), MTS_OK);
  wait_idle(&e);
  x = lookup_sync(&e, "nx.test");
  want(&x, "refresh nx", MTS_ANSWER_NONE, "", NULL);
  env_done(&e);
}

struct each_acc {
  int n;
  int stop_after;
  char first[64];
};

static bool each_count(void *arg, const struct mts_sts_resolver_record *rec) {
  struct each_acc *a = arg;

  if (a->n == 0) {
    (void)snprintf(a->first, sizeof(a->first), "%s", rec->domain);
  }
  a->n++;
  return a->n != a->stop_after;
}

/* Operator view (`mtasts cache list|show`): each/get see the in-memory
 * records, most recently used first, with the entry's fields; a failure
 * keeps its verdict; get of an unknown domain is MTS_ENOTFOUND. */
static void test_each_get(void **state) {
  struct env e;
  struct res x;
  struct mts_sts_resolver_record rec;
  struct each_acc acc;

  (void)state;
  env_init(&e);
  x = lookup_wait(&e, "purge.test", 5000);
  want(&x, "C01", MTS_ANSWER_POLICY, "p1", NULL);
  x = lookup_wait(&e, "nx.test", 5000);
  want(&x, "nx", MTS_ANSWER_NONE, "", NULL);
  assert_int_equal(mts_sts_resolver_get(e.r, "purge.test", &rec), MTS_OK);
  assert_string_equal(rec.domain, "purge.test");
  assert_non_null(rec.entry);
  assert_true(rec.entry->has_policy);
  assert_string_equal(rec.entry->id, "p1");
  assert_non_null(rec.policy);
  assert_int_equal(rec.expires, rec.entry->fetched_at + rec.entry->max_age);
  assert_int_equal(rec.last_verdict, MTS_STS_V_POLICY);
  assert_false(rec.inflight);
  assert_true(rec.txt_checked);
  assert_int_equal(mts_sts_resolver_get(e.r, "nx.test", &rec), MTS_OK);
  assert_false(rec.entry->has_policy);
  assert_null(rec.policy);
  assert_int_equal(rec.expires, 0);
  assert_int_equal(rec.last_verdict, MTS_STS_V_NO_POLICY);
  assert_int_equal(mts_sts_resolver_get(e.r, "unknown.test", &rec),
                   MTS_ENOTFOUND);
  assert_null(rec.domain);
  assert_int_equal(mts_sts_resolver_get(e.r, "", &rec), MTS_EINVAL);
  assert_int_equal(mts_sts_resolver_get(NULL, "nx.test", &rec), MTS_EINVAL);
  memset(&acc, 0, sizeof(acc));
  mts_sts_resolver_each(e.r, each_count, &acc);
  if (acc.n != 2 || strcmp(acc.first, "nx.test") != 0) {
    fail_msg("each: got %d records, first %s; want 2, nx.test (MRU)", acc.n,
             acc.first);
  }
  memset(&acc, 0, sizeof(acc));
  acc.stop_after = 1;
  mts_sts_resolver_each(e.r, each_count, &acc);
  assert_int_equal(acc.n, 1);
  mts_sts_resolver_each(NULL, each_count, &acc);
  mts_sts_resolver_each(e.r, NULL, NULL);
  env_done(&e);
}

static bool records_loaded(struct env *e, void *arg) {
  return stats(e).records >= *(size_t *)arg;
}

/* The SQLite store: a policy survives a restart (the new resolver loads
 * it and answers from memory with no DNS query); during the load a miss
 * asks the store instead of DNS; purge deletes from the store too. */
static void test_store_restart(void **state) {
  struct mts_sts_resolver_options o;
  struct env e;
  struct res x;
  char dir[] = "/tmp/mts-resolver-XXXXXX";
  char path[64];
  size_t one = 1;
  int q;
  int h;

  (void)state;
  assert_non_null(mkdtemp(dir));
  (void)snprintf(path, sizeof(path), "%s/cache.db", dir);
  mts_sts_resolver_options_init(&o);

  env_init_store(&e, &o, path);
  x = lookup_wait(&e, "hit.test", 5000);
  want(&x, "store C01", MTS_ANSWER_POLICY, "h1", "mail.hit.test");
  x = lookup_wait(&e, "nx.test", 5000); /* negative: memory only */
  env_done(&e);                         /* the store commits pending writes */

  q = dns_queries();
  h = site_hits("mta-sts.hit.test");
  env_init_store(&e, &o, path);
  run_until(&e, records_loaded, &one, 5000, "store load");
  assert_int_equal(stats(&e).records, 1);
  x = lookup_sync(&e, "hit.test");
  want(&x, "restart", MTS_ANSWER_POLICY, "h1", "mail.hit.test");
  run_for(&e, 50);
  assert_int_equal(dns_queries(), q);
  assert_int_equal(site_hits("mta-sts.hit.test"), h);
  assert_true(log_find(&e.log, MTS_LOG_INFO, "loaded 1 record", NULL) >= 0);
  env_done(&e);

  /* Lookup before the load has delivered anything: the miss asks the
   * store, not DNS. */
  env_init_store(&e, &o, path);
  x = lookup_wait(&e, "hit.test", 5000);
  want(&x, "load race", MTS_ANSWER_POLICY, "h1", "mail.hit.test");
  assert_int_equal(dns_queries(), q);
  assert_int_equal(stats(&e).txt_queries, 0);
  /* Purge: gone from memory and from the store. */
  assert_int_equal(mts_sts_resolver_purge(e.r, "hit.test"), MTS_OK);
  env_done(&e);

  env_init_store(&e, &o, path);
  run_for(&e, 100);
  assert_int_equal(stats(&e).records, 0);
  x = lookup_wait(&e, "hit.test", 5000);
  want(&x, "purged", MTS_ANSWER_POLICY, "h1", NULL);
  assert_int_equal(site_hits("mta-sts.hit.test") - h, 1);
  assert_int_equal(stats(&e).store_errors, 0);
  env_done(&e);

  (void)unlink(path);
  {
    char aux[80];

    (void)snprintf(aux, sizeof(aux), "%s-wal", path);
    (void)unlink(aux);
    (void)snprintf(aux, sizeof(aux), "%s-shm", path);
    (void)unlink(aux);
  }
  (void)rmdir(dir);
}

/* The store's file is removed under a running resolver: the store
 * makes a new one at the next write (here a purge's delete) and the
 * resolver writes back what it holds, so a restart still finds it. */
static void test_store_file_removed(void **state) {
  struct mts_sts_resolver_options o;
  struct env e;
  struct res x;
  char dir[] = "/tmp/mts-resolver-XXXXXX";
  char path[64];
  size_t one = 1;
  int q, i;

  (void)state;
  assert_non_null(mkdtemp(dir));
  (void)snprintf(path, sizeof(path), "%s/cache.db", dir);
  mts_sts_resolver_options_init(&o);

  env_init_store(&e, &o, path);
  x = lookup_wait(&e, "hit.test", 5000);
  want(&x, "before", MTS_ANSWER_POLICY, "h1", "mail.hit.test");
  run_for(&e, 50); /* the write of hit.test */
  assert_int_equal(unlink(path), 0);
  assert_int_equal(mts_sts_resolver_purge(e.r, "other.test"), MTS_OK);
  for (i = 0; i < 100; i++) {
    run_for(&e, 20);
    if (log_find(&e.log, MTS_LOG_INFO, "1 record(s) written back", NULL) >=
        0) {
      break;
    }
  }
  if (log_find(&e.log, MTS_LOG_WARNING, "the file was removed", NULL) < 0 ||
      log_find(&e.log, MTS_LOG_INFO, "1 record(s) written back", NULL) < 0) {
    fail_msg("no removal and write-back in the log");
  }
  env_done(&e);

  q = dns_queries();
  env_init_store(&e, &o, path);
  run_until(&e, records_loaded, &one, 5000, "store load");
  x = lookup_sync(&e, "hit.test");
  want(&x, "after", MTS_ANSWER_POLICY, "h1", "mail.hit.test");
  assert_int_equal(dns_queries(), q);
  env_done(&e);
  mts_test_rm_db(path);
  (void)rmdir(dir);
}

struct wb_count {
  int puts_done;
  int seen;
  bool done;
};

static void wb_put_done(void *arg, enum mts_status st) {
  assert_int_equal(st, MTS_OK);
  ((struct wb_count *)arg)->puts_done++;
}

static bool wb_each(void *arg, const struct mts_cache_record *rec) {
  (void)rec;
  ((struct wb_count *)arg)->seen++;
  return true;
}

static void wb_scan_done(void *arg, enum mts_status st) {
  assert_int_equal(st, MTS_OK);
  ((struct wb_count *)arg)->done = true;
}

#define WB_N 1000

/* Fill \p path with WB_N policies, or count what it holds (\p fill
 * false). \return the count. */
static int wb_store(const char *path, bool fill) {
  static const char body[] =
      "version: STSv1\nmode: enforce\nmx: mail.example.net\nmax_age: 86400\n";
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct mts_cache *c = NULL;
  struct wb_count n = {0};
  uv_loop_t loop;
  int i;

  assert_int_equal(uv_loop_init(&loop), 0);
  assert_int_equal(mts_cache_sqlite_create(ctx, &loop, path, &c), MTS_OK);
  for (i = 0; fill && i < WB_N; i++) {
    struct mts_cache_record r;
    char d[32];

    (void)snprintf(d, sizeof(d), "d%04d.test", i);
    memset(&r, 0, sizeof(r));
    mts_sts_entry_init(&r.entry);
    r.domain = d;
    r.entry.has_policy = true;
    (void)snprintf(r.entry.id, sizeof(r.entry.id), "id%d", i);
    r.entry.mode = MTS_STS_MODE_ENFORCE;
    r.entry.max_age = 86400;
    r.entry.fetched_at = T0;
    r.body = (const uint8_t *)body;
    r.body_len = sizeof(body) - 1;
    r.updated_at = T0;
    assert_int_equal(mts_cache_put(c, &r, wb_put_done, &n), MTS_OK);
  }
  assert_int_equal(mts_cache_scan(c, wb_each, wb_scan_done, &n), MTS_OK);
  while (!n.done) {
    (void)uv_run(&loop, UV_RUN_ONCE);
  }
  assert_int_equal(n.puts_done, fill ? WB_N : 0);
  mts_cache_destroy(c);
  assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(uv_loop_close(&loop), 0);
  mts_ctx_destroy(ctx);
  return n.seen;
}

/* 1,000 policies loaded from the store, whose file is then removed:
 * all of them are written back to the new file, at most
 * RS_RESYNC_INFLIGHT store calls at a time. */
static void test_store_writeback_many(void **state) {
  struct mts_sts_resolver_options o;
  struct env e;
  char dir[] = "/tmp/mts-resolver-XXXXXX";
  char path[64];
  size_t n = WB_N;
  int i;

  (void)state;
  assert_non_null(mkdtemp(dir));
  (void)snprintf(path, sizeof(path), "%s/cache.db", dir);
  assert_int_equal(wb_store(path, true), WB_N);
  mts_sts_resolver_options_init(&o);
  env_init_store(&e, &o, path);
  run_until(&e, records_loaded, &n, 10000, "store load");
  assert_int_equal(unlink(path), 0);
  assert_int_equal(mts_sts_resolver_purge(e.r, "other.test"), MTS_OK);
  for (i = 0; i < 500; i++) {
    run_for(&e, 20);
    if (log_find(&e.log, MTS_LOG_INFO, "1000 record(s) written back", NULL) >=
        0) {
      break;
    }
  }
  if (log_find(&e.log, MTS_LOG_INFO, "1000 record(s) written back", NULL) <
      0) {
    fail_msg("the 1000 records were not written back");
  }
  assert_int_equal(stats(&e).store_errors, 1); /* the purge that found it */
  env_done(&e);
  assert_int_equal(wb_store(path, false), WB_N);
  mts_test_rm_db(path);
  (void)rmdir(dir);
}

/* ---- the store never loses a policy to a record that did not see it */

struct sread {
  bool done, found, has_policy;
  char id[MTS_STS_ID_MAX + 1], failed_id[MTS_STS_ID_MAX + 1];
  int64_t fetched_at;
};

static void sread_got(void *arg, enum mts_status st,
                      const struct mts_cache_record *c) {
  struct sread *x = arg;

  x->done = true;
  x->found = st == MTS_OK && c != NULL;
  if (x->found) {
    x->has_policy = c->entry.has_policy;
    (void)snprintf(x->id, sizeof(x->id), "%s", c->entry.id);
    (void)snprintf(x->failed_id, sizeof(x->failed_id), "%s",
                   c->entry.failed_id);
    x->fetched_at = c->entry.fetched_at;
  }
}

static void sput_done(void *arg, enum mts_status st) {
  assert_int_equal(st, MTS_OK);
  *(bool *)arg = true;
}

static bool flag_set(struct env *e, void *arg) {
  (void)e;
  return *(bool *)arg;
}

/* Through a second handle on the file at \p path (another daemon of the
 * fleet sharing it), on the test's loop: put an enforce policy with id
 * \p id fetched at \p fetched_at for \p domain (\p id NULL: read only),
 * then read the domain's record back into \p out. */
static void other_daemon(struct env *e, const char *path, const char *domain,
                         const char *id, int64_t fetched_at,
                         struct sread *out) {
  static const char body[] = POLICY("enforce", "mail.other.test", "86400");
  struct mts_cache *c = NULL;
  bool put = false;

  memset(out, 0, sizeof(*out));
  assert_int_equal(mts_cache_sqlite_create(e->ctx, &e->loop, path, &c),
                   MTS_OK);
  if (id != NULL) {
    struct mts_cache_record r;

    memset(&r, 0, sizeof(r));
    mts_sts_entry_init(&r.entry);
    r.domain = domain;
    r.entry.has_policy = true;
    (void)snprintf(r.entry.id, sizeof(r.entry.id), "%s", id);
    r.entry.mode = MTS_STS_MODE_ENFORCE;
    r.entry.max_age = 86400;
    r.entry.fetched_at = fetched_at;
    r.body = (const uint8_t *)body;
    r.body_len = sizeof(body) - 1;
    r.updated_at = fetched_at;
    assert_int_equal(mts_cache_put(c, &r, sput_done, &put), MTS_OK);
    run_until(e, flag_set, &put, 5000, "the other daemon's put");
  }
  assert_int_equal(mts_cache_get(c, domain, sread_got, out), MTS_OK);
  run_until(e, flag_set, &out->done, 5000, "the store read");
  mts_cache_destroy(c);
  run_for(e, 20);
}

static bool txt_asked(struct env *e, void *arg) {
  return stats(e).txt_queries >= *(uint64_t *)arg;
}

/* Two daemons share a store. This one misses (the store has nothing),
 * and while its discovery runs the other stores a valid policy. This
 * one's fetch then fails: its backoff must be merged with the stored
 * policy, not written over it (a blind put left the fleet with no
 * policy for the domain until the next successful fetch), and the
 * policy it learns that way applies here too. */
static void test_store_fleet_merge(void **state) {
  struct mts_sts_resolver_options o;
  struct env e;
  struct res x;
  struct sread got;
  struct mts_sts_lookup *h = NULL;
  char dir[] = "/tmp/mts-resolver-XXXXXX";
  char path[64];
  uint64_t one = 1;

  (void)state;
  assert_non_null(mkdtemp(dir));
  (void)snprintf(path, sizeof(path), "%s/cache.db", dir);
  mts_sts_resolver_options_init(&o);
  set_status("mta-sts.fleet.test", "404 Not Found");
  env_init_store(&e, &o, path);
  memset(&x, 0, sizeof(x));
  pthread_mutex_lock(&dns.mu); /* hold the TXT answer */
  assert_int_equal(mts_sts_resolver_lookup(e.r, "fleet.test", mts_test_ms(5000),
                                           res_cb, &x, &h),
                   MTS_OK);
  run_until(&e, txt_asked, &one, 5000, "the store miss, then the TXT query");
  other_daemon(&e, path, "fleet.test", "f2", T0 - 60, &got);
  assert_true(got.found && got.has_policy);
  pthread_mutex_unlock(&dns.mu);
  run_until(&e, res_done, &x, 10000, "fleet.test");
  want(&x, "fleet: this daemon's fetch failed", MTS_ANSWER_NONE, "", NULL);
  wait_idle(&e);
  run_for(&e, 200); /* the merge: a read, then the write */
  other_daemon(&e, path, "fleet.test", NULL, 0, &got);
  if (!got.found || !got.has_policy || strcmp(got.id, "f2") != 0 ||
      got.fetched_at != T0 - 60 || strcmp(got.failed_id, "f1") != 0) {
    log_dump(&e.log);
    fail_msg("stored: found %d policy %d id \"%s\" fetched_at %lld failed_id "
             "\"%s\"; want the other daemon's policy f2 and this one's "
             "backoff f1",
             got.found, got.has_policy, got.id, (long long)got.fetched_at,
             got.failed_id);
  }
  x = lookup_sync(&e, "fleet.test");
  want(&x, "fleet: the merged policy applies", MTS_ANSWER_POLICY, "f2",
       "mail.other.test");
  assert_int_equal(stats(&e).store_errors, 0);
  env_done(&e);
  set_policy("mta-sts.fleet.test",
             POLICY("enforce", "mail.fleet.test", "86400"));
  mts_test_rm_db(path);
  (void)rmdir(dir);
}

struct purge_in_cb {
  struct env *e;
  struct res x;
};

/* The answer of a lookup whose fetch failed: purge the domain at once,
 * while the failure's merge read of the store is still queued. */
static void purge_cb(void *arg, const struct mts_sts_answer *a) {
  struct purge_in_cb *p = arg;

  res_cb(&p->x, a);
  assert_int_equal(mts_sts_resolver_purge(p->e->r, "purged.test"), MTS_OK);
}

/* A purge between a merge write's read and its callback: what the read
 * found (a policy another daemon stored) must not come back, neither in
 * memory nor in the store. */
static void test_store_merge_after_purge(void **state) {
  struct mts_sts_resolver_options o;
  struct env e;
  struct purge_in_cb p;
  struct sread got;
  struct mts_sts_lookup *h = NULL;
  char dir[] = "/tmp/mts-resolver-XXXXXX";
  char path[64];
  uint64_t one = 1;
  int q;

  (void)state;
  assert_non_null(mkdtemp(dir));
  (void)snprintf(path, sizeof(path), "%s/cache.db", dir);
  mts_sts_resolver_options_init(&o);
  set_status("mta-sts.purged.test", "404 Not Found");
  env_init_store(&e, &o, path);
  memset(&p, 0, sizeof(p));
  p.e = &e;
  pthread_mutex_lock(&dns.mu);
  assert_int_equal(mts_sts_resolver_lookup(e.r, "purged.test",
                                           mts_test_ms(5000), purge_cb, &p, &h),
                   MTS_OK);
  run_until(&e, txt_asked, &one, 5000, "the store miss, then the TXT query");
  other_daemon(&e, path, "purged.test", "u0", T0 - 60, &got);
  pthread_mutex_unlock(&dns.mu);
  run_until(&e, res_done, &p.x, 10000, "purged.test");
  want(&p.x, "purge: the fetch failed", MTS_ANSWER_NONE, "", NULL);
  wait_idle(&e);
  run_for(&e, 200);
  other_daemon(&e, path, "purged.test", NULL, 0, &got);
  if (got.found) {
    log_dump(&e.log);
    fail_msg("purged.test is in the store again (policy %d id \"%s\")",
             got.has_policy, got.id);
  }
  q = dns_queries();
  memset(&p.x, 0, sizeof(p.x));
  {
    struct res x = lookup_wait(&e, "purged.test", 5000);

    want(&x, "purge: asked again", MTS_ANSWER_NONE, "", NULL);
  }
  assert_true(dns_queries() > q);
  env_done(&e);
  set_policy("mta-sts.purged.test",
             POLICY("enforce", "mail.purged.test", "86400"));
  mts_test_rm_db(path);
  (void)rmdir(dir);
}

/* The store's file is replaced by one that holds a policy for a domain
 * whose record in memory is only a failed fetch's backoff: the load that
 * follows the reset merges the two, and the write-back keeps the policy
 * (it used to skip every domain memory knew, then write memory's
 * backoff-only record over the stored policy). */
static void test_store_reset_merge(void **state) {
  struct mts_sts_resolver_options o;
  struct env e;
  struct res x;
  struct sread got;
  char dir[] = "/tmp/mts-resolver-XXXXXX";
  char path[64], other[80];
  int i;

  (void)state;
  assert_non_null(mkdtemp(dir));
  (void)snprintf(path, sizeof(path), "%s/cache.db", dir);
  (void)snprintf(other, sizeof(other), "%s/other.db", dir);
  mts_sts_resolver_options_init(&o);
  set_status("mta-sts.reset.test", "404 Not Found");
  env_init_store(&e, &o, path);
  x = lookup_wait(&e, "reset.test", 5000);
  want(&x, "reset: the fetch fails", MTS_ANSWER_NONE, "", NULL);
  wait_idle(&e);
  run_for(&e, 100);
  /* Another file, holding a policy for the domain, moved over it. */
  other_daemon(&e, other, "reset.test", "n0", T0 - 60, &got);
  assert_true(got.has_policy);
  assert_int_equal(rename(other, path), 0);
  assert_int_equal(mts_sts_resolver_purge(e.r, "other.test"), MTS_OK);
  for (i = 0; i < 200; i++) {
    run_for(&e, 20);
    if (log_find(&e.log, MTS_LOG_INFO, "record(s) written back", NULL) >= 0) {
      break;
    }
  }
  run_for(&e, 200); /* the merge writes of the write-back */
  other_daemon(&e, path, "reset.test", NULL, 0, &got);
  if (!got.found || !got.has_policy || strcmp(got.id, "n0") != 0 ||
      strcmp(got.failed_id, "n1") != 0) {
    log_dump(&e.log);
    fail_msg("stored after the reset: found %d policy %d id \"%s\" failed_id "
             "\"%s\"; want the moved-in policy n0 and the backoff n1",
             got.found, got.has_policy, got.id, got.failed_id);
  }
  x = lookup_sync(&e, "reset.test");
  want(&x, "reset: the moved-in policy applies", MTS_ANSWER_POLICY, "n0", NULL);
  env_done(&e);
  set_policy("mta-sts.reset.test",
             POLICY("enforce", "mail.reset.test", "86400"));
  mts_test_rm_db(path);
  (void)rmdir(dir);
}

/* Memory only, cache_size 2: a policy, then two domains without
 * MTA-STS. Eviction takes a negative record, not the policy that must
 * keep applying until its max_age ends (plain LRU took the policy). */
static void test_lru_keeps_policies(void **state) {
  struct env e;
  struct res x;
  struct mts_sts_resolver_options o;

  (void)state;
  mts_sts_resolver_options_init(&o);
  o.cache_size = 2;
  env_init_opts(&e, &o);
  x = lookup_wait(&e, "keep.test", 5000);
  want(&x, "keep", MTS_ANSWER_POLICY, "k1", "mail.keep.test");
  x = lookup_wait(&e, "lru-a.test", 5000);
  x = lookup_wait(&e, "lru-b.test", 5000);
  assert_int_equal(stats(&e).records, 2);
  x = lookup_sync(&e, "keep.test"); /* still in memory */
  want(&x, "keep after two negatives", MTS_ANSWER_POLICY, "k1", NULL);
  x = lookup_sync(&e, "lru-b.test"); /* the newer negative stayed */
  want(&x, "lru-b", MTS_ANSWER_NONE, "", NULL);
  env_done(&e);
}

static void noop_cb(void *arg, const struct mts_sts_answer *a) {
  (void)arg;
  (void)a;
  fail_msg("callback must not run");
}

static void test_bad_args(void **state) {
  struct env e;
  char longname[300];
  struct mts_sts_resolver *r = (struct mts_sts_resolver *)&e;
  struct mts_sts_lookup *h = (struct mts_sts_lookup *)&e;
  struct mts_sts_resolver_stats s;

  (void)state;
  env_init(&e);
  memset(longname, 'a', sizeof(longname) - 1);
  longname[sizeof(longname) - 1] = '\0';
  assert_int_equal(mts_sts_resolver_lookup(e.r, "", 100, noop_cb, NULL, &h),
                   MTS_EINVAL);
  assert_null(h);
  assert_int_equal(mts_sts_resolver_lookup(e.r, NULL, 100, noop_cb, NULL, NULL),
                   MTS_EINVAL);
  assert_int_equal(
      mts_sts_resolver_lookup(e.r, longname, 100, noop_cb, NULL, NULL),
      MTS_EINVAL);
  assert_int_equal(
      mts_sts_resolver_lookup(e.r, "a.test", 100, NULL, NULL, NULL),
      MTS_EINVAL);
  assert_int_equal(
      mts_sts_resolver_lookup(NULL, "a.test", 100, noop_cb, NULL, NULL),
      MTS_EINVAL);
  /* Not a valid name: discovery refuses it, no callback, no record. */
  assert_int_equal(
      mts_sts_resolver_lookup(e.r, "a..test", 100, noop_cb, NULL, NULL),
      MTS_EIDN);
  assert_int_equal(stats(&e).records, 0);
  assert_int_equal(mts_sts_resolver_purge(e.r, NULL), MTS_EINVAL);
  assert_int_equal(mts_sts_resolver_refresh(NULL, "a.test"), MTS_EINVAL);
  assert_int_equal(mts_sts_resolver_create(NULL, e.net, NULL, &r), MTS_EINVAL);
  assert_null(r);
  mts_sts_resolver_stats(NULL, &s);
  assert_int_equal(s.lookups, 0);
  mts_sts_resolver_destroy(NULL);
  env_done(&e);
}

static void test_options_init(void **state) {
  struct mts_sts_resolver_options o;

  (void)state;
  mts_sts_resolver_options_init(&o);
  assert_int_equal(o.cache_size, 10000);
  assert_int_equal(o.cache_grace, 60);
  assert_int_equal(o.negative_ttl, 60);
  assert_false(o.refresh_enabled);
  assert_int_equal(o.refresh_interval, 86400);
  assert_true(o.refresh_grace_ratio == 2.0);
  assert_int_equal(o.refresh_concurrency, 100);
  assert_int_equal(o.refresh_jitter, 0);
  assert_null(o.store);
}

/* Allocation failure N: create, a full lookup and a hit either succeed
 * or report ENOMEM (from a call, or as a TEMP answer "out of memory"),
 * and never leak. */
static enum mts_status sweep_op(struct mts_ctx *ctx, void *arg) {
  struct env e;
  struct res x;
  enum mts_status st;

  (void)arg;
  memset(&e, 0, sizeof(e));
  memset(&x, 0, sizeof(x));
  e.ctx = ctx;
  assert_int_equal(uv_loop_init(&e.loop), 0);
  st = env_net_st(&e);
  if (st == MTS_OK) {
    st = mts_sts_resolver_create(ctx, e.net, NULL, &e.r);
  }
  if (st == MTS_OK) {
    st = mts_sts_resolver_lookup(e.r, "sweep.test", mts_test_ms(5000), res_cb,
                                 &x, NULL);
  }
  if (st == MTS_OK) {
    run_until(&e, res_done, &x, 10000, "sweep lookup");
    if (x.kind == MTS_ANSWER_TEMP && strstr(x.reason, "memory") != NULL) {
      st = MTS_ENOMEM;
    } else if (x.kind != MTS_ANSWER_POLICY) {
      fail_msg("sweep: got %s (%s)", kind_str(x.kind), x.reason);
    }
  }
  if (st == MTS_OK) {
    memset(&x, 0, sizeof(x));
    st = mts_sts_resolver_lookup(e.r, "sweep.test", mts_test_ms(5000), res_cb,
                                 &x, NULL);
    if (st == MTS_OK && (x.calls != 1 || x.kind != MTS_ANSWER_POLICY)) {
      fail_msg("sweep: second lookup not a hit");
    }
  }
  mts_sts_resolver_destroy(e.r);
  mts_net_destroy(e.net);
  assert_int_equal(uv_run(&e.loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(uv_loop_close(&e.loop), 0);
  return st;
}

static void test_alloc_sweep(void **state) {
  long n;

  (void)state;
  n = mts_test_alloc_sweep(sweep_op, NULL);

  print_message("alloc sweep: %ld allocations\n", n);
  assert_true(n > 20);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_options_init),
      cmocka_unit_test(test_bad_args),
      cmocka_unit_test(test_hit_sync),
      cmocka_unit_test(test_single_flight),
      cmocka_unit_test(test_negative_nx),
      cmocka_unit_test(test_negative_ttl_zero),
      cmocka_unit_test(test_tempfail_no_cache),
      cmocka_unit_test(test_first_fetch_fails),
      cmocka_unit_test(test_fetch_error_keeps_cache),
      cmocka_unit_test(test_txt_vanishes),
      cmocka_unit_test(test_unchanged_id_no_extend),
      cmocka_unit_test(test_changed_id),
      cmocka_unit_test(test_cache_grace_zero),
      cmocka_unit_test(test_slow_deadline),
      cmocka_unit_test(test_mode_none_retires),
      cmocka_unit_test(test_max_age_zero),
      cmocka_unit_test(test_lru),
      cmocka_unit_test(test_refresh),
      cmocka_unit_test(test_refresh_ratio_below_one),
      cmocka_unit_test(test_refresh_failure_alert),
      cmocka_unit_test(test_cancel),
      cmocka_unit_test(test_destroy_pending),
      cmocka_unit_test(test_destroy_in_callback),
      cmocka_unit_test(test_purge_refresh),
      cmocka_unit_test(test_each_get),
      cmocka_unit_test(test_store_restart),
      cmocka_unit_test(test_store_file_removed),
      cmocka_unit_test(test_store_writeback_many),
      cmocka_unit_test(test_store_fleet_merge),
      cmocka_unit_test(test_store_reset_merge),
      cmocka_unit_test(test_store_merge_after_purge),
      cmocka_unit_test(test_lru_keeps_policies),
      cmocka_unit_test(test_alloc_sweep),
  };

  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
