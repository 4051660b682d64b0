/*
 * test_net.c - mts_net: TXT lookups and HTTPS GETs on a libuv loop,
 * against the loopback fakes of fakenet.h (a UDP DNS responder and a TLS
 * server with certificates made at test time). The machine's resolver
 * is never used: every net gets options.resolver = the fake.
 *
 * Vector IDs are from /work/shared/RFC-CHECKLIST.md.
 */
#include "testutil.h"

#include "fakenet.h"

#include <mtasts/limits.h>
#include <mtasts/net.h>

/* ---------------------------------------------------------- fixtures */

static const struct fake_dns_entry dns_table[] = {
    {"_mta-sts.one.test", 16, 0, false, false, {{"v=STSv1; id=1;", NULL}}},
    /* T31/T32: one RR, two strings, no space added */
    {"_mta-sts.split.test", 16, 0, false, false, {{"v=STS", "v1; id=abc", NULL}}},
    /* T35: two RRs */
    {"_mta-sts.two.test",
     16,
     0,
     false,
     false,
     {{"v=spf1 -all", NULL}, {"v=STSv1; id=abc", NULL}}},
    {"_mta-sts.empty.test", 16, 0, false, false, {{"", NULL}}},
    {"_mta-sts.signed.test", 16, 0, false, true, {{"v=STSv1; id=s1", NULL}}},
    {"_mta-sts.nx.test", 16, 3, false, false, {{NULL}}},      /* T40 */
    {"_mta-sts.nodata.test", 16, 0, false, false, {{NULL}}},  /* T40 */
    {"_mta-sts.servfail.test", 16, 2, false, false, {{NULL}}},
    {"_mta-sts.refused.test", 16, 5, false, false, {{NULL}}},
    {"_mta-sts.silent.test", 16, 0, true, false, {{NULL}}},
    {"mta-sts.nxhost.test", 1, 3, false, false, {{NULL}}},
    {"mta-sts.nxhost.test", 28, 3, false, false, {{NULL}}},
    {"mta-sts.silenthost.test", 1, 0, true, false, {{NULL}}},
    {"mta-sts.silenthost.test", 28, 0, true, false, {{NULL}}},
};

#define GOOD_POLICY                                                           \
  "version: STSv1\r\nmode: enforce\r\nmx: mail.good.test\r\nmax_age: "        \
  "86400\r\n"

static struct fake_site sites[] = {
    {.host = "mta-sts.good.test", .cert = FAKE_CERT_GOOD},
    {.host = "mta-sts.notfound.test", .cert = FAKE_CERT_GOOD},
    {.host = "mta-sts.moved.test", .cert = FAKE_CERT_GOOD},
    {.host = "mta-sts.wild.test", .cert = FAKE_CERT_WILD},
    {.host = "mta-sts.deep.test", .cert = FAKE_CERT_WILD_DEEP},
    {.host = "mta-sts.partial.test", .cert = FAKE_CERT_PARTIAL},
    {.host = "mta-sts.cnonly.test", .cert = FAKE_CERT_CN_ONLY},
    {.host = "mta-sts.expired.test", .cert = FAKE_CERT_EXPIRED},
    {.host = "mta-sts.self.test", .cert = FAKE_CERT_SELF},
    {.host = "mta-sts.wrong.test", .cert = FAKE_CERT_WRONG_NAME},
    {.host = "mta-sts.big.test", .cert = FAKE_CERT_GOOD, .mode = FAKE_BIG,
     .big = 70000},
    {.host = "mta-sts.bigcl.test", .cert = FAKE_CERT_GOOD},
    {.host = "mta-sts.exact.test", .cert = FAKE_CERT_GOOD, .mode = FAKE_BIG,
     .big = MTS_POLICY_MAX_SIZE},
    {.host = "mta-sts.stall.test", .cert = FAKE_CERT_GOOD, .mode = FAKE_STALL},
};
#define NSITES (sizeof(sites) / sizeof(sites[0]))

static struct fake_dns dns;
static struct fake_tls tls;
static char resolver[32];
static char *responses[NSITES];

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

static void set_response(const char *host, char *r) {
  size_t i;

  for (i = 0; i < NSITES; i++) {
    if (strcmp(sites[i].host, host) == 0) {
      responses[i] = r;
      sites[i].response = r;
    }
  }
}

static int group_setup(void **state) {
  (void)state;
  set_response("mta-sts.good.test",
               fake_response("200 OK", "text/plain", NULL, GOOD_POLICY));
  set_response("mta-sts.notfound.test",
               fake_response("404 Not Found", "text/html", NULL, "nope"));
  set_response("mta-sts.moved.test",
               fake_response("301 Moved Permanently", "text/html",
                             "Location: https://elsewhere.test/p.txt", "m"));
  set_response("mta-sts.wild.test",
               fake_response("200 OK", "text/plain", NULL, GOOD_POLICY));
  set_response("mta-sts.bigcl.test",
               strdup("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                      "Content-Length: 70000\r\n\r\n"));
  set_response("mta-sts.stall.test",
               strdup("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                      "Content-Length: 100\r\n\r\nversion: STSv1\r\n"));
  if (!fake_dns_start(&dns, dns_table, sizeof(dns_table) / sizeof(dns_table[0])) ||
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
  for (i = 0; i < NSITES; i++) {
    free(responses[i]);
  }
  return 0;
}

/* A loop, a context and a net pointed at the fakes. */
struct env {
  struct mts_test_alloc alloc;
  struct mts_ctx *ctx;
  uv_loop_t loop;
  struct mts_net *net;
  struct mts_net_options opt;
};

static void env_options(struct env *e) {
  mts_net_options_init(&e->opt);
  e->opt.resolver = resolver;
  e->opt.ca_file = tls.ca_file;
  e->opt.https_port = tls.port;
  e->opt.dns_timeout_ms = mts_test_ms(600);
  e->opt.http_timeout_ms = mts_test_ms(5000);
}

/* \p dns_ms: the DNS timeout, 0 for the 600 ms of env_options. */
static void env_init_dns(struct env *e, uint32_t dns_ms) {
  memset(e, 0, sizeof(*e));
  e->ctx = mts_test_ctx(&e->alloc, 0);
  assert_int_equal(uv_loop_init(&e->loop), 0);
  env_options(e);
  if (dns_ms != 0) {
    e->opt.dns_timeout_ms = mts_test_ms(dns_ms);
  }
  assert_int_equal(mts_net_create(e->ctx, &e->loop, &e->opt, &e->net), MTS_OK);
}

static void env_init(struct env *e) { env_init_dns(e, 0); }

static void guard_fired(uv_timer_t *t) { *(bool *)t->data = true; }

/* Run the loop until *pending is 0 (15 s cap, scaled). */
static void run_until(uv_loop_t *loop, const int *pending) {
  uv_timer_t guard;
  bool expired = false;

  assert_int_equal(uv_timer_init(loop, &guard), 0);
  guard.data = &expired;
  assert_int_equal(uv_timer_start(&guard, guard_fired, mts_test_ms(15000), 0),
                   0);
  uv_unref((uv_handle_t *)&guard);
  while (*pending > 0 && !expired) {
    (void)uv_run(loop, UV_RUN_ONCE);
  }
  uv_close((uv_handle_t *)&guard, NULL);
  (void)uv_run(loop, UV_RUN_NOWAIT);
  if (expired) {
    fail_msg("loop did not finish: %d operation(s) pending", *pending);
  }
}

/* Destroy the net, drain the loop, check every handle closed. */
static void env_done(struct env *e) {
  mts_net_destroy(e->net);
  e->net = NULL;
  assert_int_equal(uv_run(&e->loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(uv_loop_close(&e->loop), 0);
  mts_ctx_destroy(e->ctx);
}

/* ---------------------------------------------------------- DNS */

struct txt_got {
  int *pending;
  bool called;
  int calls;
  enum mts_status st;
  bool ad;
  size_t nrr;
  char rr[4][64]; /* strings of each RR joined with '|' */
  char errmsg[256];
  uint64_t at;
  uv_loop_t *loop;
  struct mts_net **destroy; /* destroy this net from the callback */
};

static void txt_cb(void *arg, enum mts_status st,
                   const struct mts_txt_rrset *set, bool ad,
                   const char *errmsg) {
  struct txt_got *g = arg;
  size_t r;
  size_t i;

  g->called = true;
  g->calls++;
  g->st = st;
  g->ad = ad;
  g->at = g->loop != NULL ? uv_now(g->loop) : 0;
  if (errmsg != NULL) {
    (void)snprintf(g->errmsg, sizeof(g->errmsg), "%s", errmsg);
  }
  if (set != NULL) {
    g->nrr = mts_txt_rrset_count(set);
    for (r = 0; r < g->nrr && r < 4; r++) {
      size_t off = 0;

      for (i = 0; i < mts_txt_rrset_nstrings(set, r); i++) {
        size_t len = 0;
        const uint8_t *s = mts_txt_rrset_string(set, r, i, &len);
        int n = snprintf(g->rr[r] + off, sizeof(g->rr[r]) - off, "%s%.*s",
                         i > 0 ? "|" : "", (int)len, (const char *)s);

        off += n > 0 ? (size_t)n : 0;
        if (off >= sizeof(g->rr[r])) {
          break;
        }
      }
    }
  }
  (*g->pending)--;
  if (g->destroy != NULL && *g->destroy != NULL) {
    mts_net_destroy(*g->destroy);
    *g->destroy = NULL;
  }
}

struct txt_case {
  const char *id; /* checklist vector or a local name */
  const char *name;
  enum mts_status want;
  size_t want_nrr;
  const char *want_rr0;
  const char *want_rr1;
  bool want_ad;
};

static const struct txt_case txt_cases[] = {
    {"T01", "_mta-sts.one.test", MTS_OK, 1, "v=STSv1; id=1;", NULL, false},
    {"T31/T32", "_mta-sts.split.test", MTS_OK, 1, "v=STS|v1; id=abc", NULL, false},
    {"T35", "_mta-sts.two.test", MTS_OK, 2, "v=spf1 -all", "v=STSv1; id=abc", false},
    {"empty-string", "_mta-sts.empty.test", MTS_OK, 1, "", NULL, false},
    {"AD", "_mta-sts.signed.test", MTS_OK, 1, "v=STSv1; id=s1", NULL, true},
    {"T40-nx", "_mta-sts.nx.test", MTS_ENXDOMAIN, 0, NULL, NULL, false},
    {"T40-nodata", "_mta-sts.nodata.test", MTS_ENODATA, 0, NULL, NULL, false},
    {"T40-unlisted", "_mta-sts.unlisted.test", MTS_ENXDOMAIN, 0, NULL, NULL, false},
    {"servfail", "_mta-sts.servfail.test", MTS_ESERVFAIL, 0, NULL, NULL, false},
    {"refused", "_mta-sts.refused.test", MTS_ESERVFAIL, 0, NULL, NULL, false},
    {"timeout", "_mta-sts.silent.test", MTS_ETIMEOUT, 0, NULL, NULL, false},
    {"trailing-dot", "_mta-sts.one.test.", MTS_OK, 1, "v=STSv1; id=1;", NULL, false},
    {"case", "_MTA-STS.One.TEST", MTS_OK, 1, "v=STSv1; id=1;", NULL, false},
};
#define NTXT (sizeof(txt_cases) / sizeof(txt_cases[0]))

static void check_txt(const struct txt_case *c, const struct txt_got *g) {
  if (g->calls != 1) {
    fail_msg("%s: callback ran %d times, want 1", c->id, g->calls);
  }
  if (g->st != c->want) {
    fail_msg("%s: got %s (%s), want %s", c->id, mts_status_name(g->st),
             g->errmsg, mts_status_name(c->want));
  }
  if (c->want != MTS_OK) {
    if (g->errmsg[0] == '\0') {
      fail_msg("%s: no errmsg", c->id);
    }
    return;
  }
  if (g->nrr != c->want_nrr) {
    fail_msg("%s: got %zu RRs, want %zu", c->id, g->nrr, c->want_nrr);
  }
  if (c->want_rr0 != NULL && strcmp(g->rr[0], c->want_rr0) != 0) {
    fail_msg("%s: RR 0 got \"%s\", want \"%s\"", c->id, g->rr[0], c->want_rr0);
  }
  if (c->want_rr1 != NULL && strcmp(g->rr[1], c->want_rr1) != 0) {
    fail_msg("%s: RR 1 got \"%s\", want \"%s\"", c->id, g->rr[1], c->want_rr1);
  }
  if (g->ad != c->want_ad) {
    fail_msg("%s: AD got %d, want %d", c->id, g->ad, c->want_ad);
  }
}

/* Every case, one at a time. */
static void test_txt_table(void **state) {
  size_t i;

  (void)state;
  for (i = 0; i < NTXT; i++) {
    struct env e;
    int pending = 1;
    struct txt_got g;
    uint64_t t0;

    env_init(&e);
    memset(&g, 0, sizeof(g));
    g.pending = &pending;
    g.loop = &e.loop;
    t0 = uv_now(&e.loop);
    assert_int_equal(mts_net_dns_txt(e.net, txt_cases[i].name, txt_cb, &g),
                     MTS_OK);
    /* Never from inside the call. */
    assert_false(g.called);
    run_until(&e.loop, &pending);
    check_txt(&txt_cases[i], &g);
    if (txt_cases[i].want == MTS_ETIMEOUT) {
      /* The deadline holds: 600 ms budget, some slack for the loop. */
      uint64_t max = mts_test_ms(600) + mts_test_ms(300);

      if (g.at - t0 > max) {
        fail_msg("%s: timed out after %llu ms, want <= %llu", txt_cases[i].id,
                 (unsigned long long)(g.at - t0), (unsigned long long)max);
      }
    }
    env_done(&e);
  }
}

/* All cases at once on one net: the channel multiplexes. */
static void test_txt_concurrent(void **state) {
  struct env e;
  struct txt_got g[NTXT * 3];
  int pending = 0;
  size_t i;

  (void)state;
  env_init(&e);
  memset(g, 0, sizeof(g));
  for (i = 0; i < NTXT * 3; i++) {
    g[i].pending = &pending;
    pending++;
    assert_int_equal(
        mts_net_dns_txt(e.net, txt_cases[i % NTXT].name, txt_cb, &g[i]), MTS_OK);
  }
  run_until(&e.loop, &pending);
  for (i = 0; i < NTXT * 3; i++) {
    check_txt(&txt_cases[i % NTXT], &g[i]);
  }
  env_done(&e);
}

/* The query asks for DNSSEC-aware answers: AD bit set (RFC 6840 5.7)
 * and an EDNS OPT record (ARCOUNT 1). */
static void test_txt_query_bits(void **state) {
  struct env e;
  int pending = 1;
  struct txt_got g;
  uint8_t q[512];
  size_t qlen;

  (void)state;
  env_init(&e);
  memset(&g, 0, sizeof(g));
  g.pending = &pending;
  assert_int_equal(mts_net_dns_txt(e.net, "_mta-sts.one.test", txt_cb, &g),
                   MTS_OK);
  run_until(&e.loop, &pending);
  assert_int_equal(g.st, MTS_OK);
  pthread_mutex_lock(&dns.mu);
  qlen = dns.last_query_len;
  memcpy(q, dns.last_query, qlen);
  pthread_mutex_unlock(&dns.mu);
  assert_true(qlen > 12);
  assert_true((q[2] & 0x01) != 0);   /* RD */
  assert_true((q[3] & 0x20) != 0);   /* AD */
  assert_int_equal(q[10] << 8 | q[11], 1); /* OPT */
  env_done(&e);
}

static void test_txt_bad_args(void **state) {
  struct env e;
  struct txt_got g;
  char longname[300];

  (void)state;
  env_init(&e);
  memset(&g, 0, sizeof(g));
  memset(longname, 'a', sizeof(longname) - 1);
  longname[sizeof(longname) - 1] = '\0';
  assert_int_equal(mts_net_dns_txt(e.net, "", txt_cb, &g), MTS_EINVAL);
  assert_int_equal(mts_net_dns_txt(e.net, "a b.test", txt_cb, &g), MTS_EINVAL);
  assert_int_equal(mts_net_dns_txt(e.net, longname, txt_cb, &g), MTS_EINVAL);
  assert_int_equal(mts_net_dns_txt(e.net, NULL, txt_cb, &g), MTS_EINVAL);
  assert_int_equal(mts_net_dns_txt(NULL, "x.test", txt_cb, &g), MTS_EINVAL);
  assert_false(g.called);
  env_done(&e);
}

/* No server listens: ICMP port unreachable or silence; either way a
 * failure well within the deadline and never a hang. */
static void test_txt_no_server(void **state) {
  struct env e;
  int pending = 1;
  struct txt_got g;
  uint16_t port = 0;
  int fd = fake_bind(SOCK_DGRAM, &port);
  char res[32];

  (void)state;
  assert_true(fd >= 0);
  close(fd); /* the port is now (very likely) closed */
  (void)snprintf(res, sizeof(res), "127.0.0.1:%u", (unsigned)port);
  memset(&e, 0, sizeof(e));
  e.ctx = mts_test_ctx(&e.alloc, 0);
  assert_int_equal(uv_loop_init(&e.loop), 0);
  env_options(&e);
  e.opt.resolver = res;
  assert_int_equal(mts_net_create(e.ctx, &e.loop, &e.opt, &e.net), MTS_OK);
  memset(&g, 0, sizeof(g));
  g.pending = &pending;
  assert_int_equal(mts_net_dns_txt(e.net, "_mta-sts.one.test", txt_cb, &g),
                   MTS_OK);
  run_until(&e.loop, &pending);
  if (g.st != MTS_ECONNECT && g.st != MTS_ETIMEOUT) {
    fail_msg("no-server: got %s, want ECONNECT or ETIMEOUT",
             mts_status_name(g.st));
  }
  env_done(&e);
}

/* ---------------------------------------------------------- create */

static void test_create_options(void **state) {
  static const struct {
    const char *id;
    const char *resolver;
    const char *ca_file;
    enum mts_status want;
  } cases[] = {
      {"ipv4", "127.0.0.1", NULL, MTS_OK},
      {"ipv4-port", "127.0.0.1:5353", NULL, MTS_OK},
      {"ipv6-port", "[::1]:5353", NULL, MTS_OK},
      {"ipv6", "::1", NULL, MTS_OK},
      {"name", "dns.example", NULL, MTS_EINVAL},
      {"list", "127.0.0.1,127.0.0.2", NULL, MTS_EINVAL},
      {"empty", "", NULL, MTS_EINVAL},
      {"bad-ip", "1.2.3", NULL, MTS_EINVAL},
      {"ca-missing", "127.0.0.1", "/nonexistent/ca.pem", MTS_EINVAL},
  };
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct mts_test_alloc a;
    struct mts_ctx *ctx = mts_test_ctx(&a, 0);
    uv_loop_t loop;
    struct mts_net_options o;
    struct mts_net *net = (struct mts_net *)&o; /* must be reset to NULL */
    enum mts_status st;

    assert_int_equal(uv_loop_init(&loop), 0);
    mts_net_options_init(&o);
    o.resolver = cases[i].resolver;
    o.ca_file = cases[i].ca_file;
    st = mts_net_create(ctx, &loop, &o, &net);
    if (st != cases[i].want) {
      fail_msg("%s: got %s, want %s", cases[i].id, mts_status_name(st),
               mts_status_name(cases[i].want));
    }
    if (st != MTS_OK) {
      assert_null(net);
    }
    mts_net_destroy(net);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
    mts_ctx_destroy(ctx);
  }
}

static enum mts_status create_op(struct mts_ctx *ctx, void *arg) {
  uv_loop_t loop;
  struct mts_net *net = NULL;
  enum mts_status st;

  (void)arg;
  assert_int_equal(uv_loop_init(&loop), 0);
  st = mts_net_create(ctx, &loop, NULL, &net);
  mts_net_destroy(net);
  assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(uv_loop_close(&loop), 0);
  return st;
}

/* A TXT lookup and a GET with allocation N failing. */
struct sweep_got {
  int pending;
  enum mts_status txt;
  enum mts_status http;
};

static void sweep_txt_cb(void *arg, enum mts_status st,
                         const struct mts_txt_rrset *set, bool ad,
                         const char *errmsg) {
  struct sweep_got *g = arg;

  (void)set;
  (void)ad;
  (void)errmsg;
  g->txt = st;
  g->pending--;
}

static void sweep_http_cb(void *arg, enum mts_status st,
                          const struct mts_http_response *resp,
                          const char *errmsg) {
  struct sweep_got *g = arg;

  (void)errmsg;
  g->http = st;
  if (st == MTS_OK && resp->status != 200) {
    g->http = MTS_EHTTP;
  }
  g->pending--;
}

static enum mts_status lookup_op(struct mts_ctx *ctx, void *arg) {
  uv_loop_t loop;
  struct mts_net *net = NULL;
  struct mts_net_options o;
  struct sweep_got g = {0, MTS_OK, MTS_OK};
  enum mts_status st;

  (void)arg;
  assert_int_equal(uv_loop_init(&loop), 0);
  mts_net_options_init(&o);
  o.resolver = resolver;
  o.ca_file = tls.ca_file;
  o.https_port = tls.port;
  st = mts_net_create(ctx, &loop, &o, &net);
  if (st == MTS_OK) {
    st = mts_net_dns_txt(net, "_mta-sts.two.test", sweep_txt_cb, &g);
    if (st == MTS_OK) {
      g.pending++;
    }
  }
  if (st == MTS_OK) {
    st = mts_net_http_get(net, "mta-sts.good.test", "/.well-known/mta-sts.txt",
                          sweep_http_cb, &g);
    if (st == MTS_OK) {
      g.pending++;
    }
  }
  if (g.pending > 0) {
    run_until(&loop, &g.pending);
  }
  if (st == MTS_OK) {
    st = g.txt != MTS_OK ? g.txt : g.http;
  }
  mts_net_destroy(net);
  assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(uv_loop_close(&loop), 0);
  return st;
}

static void test_alloc_sweep(void **state) {
  (void)state;
  assert_true(mts_test_alloc_sweep(create_op, NULL) > 0);
  assert_true(mts_test_alloc_sweep(lookup_op, NULL) > 0);
}

/* ---------------------------------------------------------- HTTPS */

struct http_got {
  int *pending;
  int calls;
  enum mts_status st;
  long status;
  char ctype[128];
  char location[256];
  size_t body_len;
  char body[256];
  char errmsg[512];
  struct mts_net **destroy;
};

static void http_cb(void *arg, enum mts_status st,
                    const struct mts_http_response *resp, const char *errmsg) {
  struct http_got *g = arg;

  g->calls++;
  g->st = st;
  if (resp != NULL) {
    g->status = resp->status;
    (void)snprintf(g->ctype, sizeof(g->ctype), "%s",
                   resp->content_type != NULL ? resp->content_type : "");
    (void)snprintf(g->location, sizeof(g->location), "%s",
                   resp->location != NULL ? resp->location : "");
    g->body_len = resp->body_len;
    (void)snprintf(g->body, sizeof(g->body), "%.*s",
                   (int)(resp->body_len < 255 ? resp->body_len : 255),
                   (const char *)resp->body);
  }
  if (errmsg != NULL) {
    (void)snprintf(g->errmsg, sizeof(g->errmsg), "%s", errmsg);
  }
  (*g->pending)--;
  if (g->destroy != NULL && *g->destroy != NULL) {
    mts_net_destroy(*g->destroy);
    *g->destroy = NULL;
  }
}

struct http_case {
  const char *id;
  const char *host;
  enum mts_status want;
  long want_status;
  const char *want_ctype;
  const char *want_body;     /* prefix */
  const char *want_location;
  const char *want_err;      /* substring of errmsg */
  size_t want_len;
};

static const struct http_case http_cases[] = {
    {"F16", "mta-sts.good.test", MTS_OK, 200, "text/plain", "version: STSv1",
     NULL, NULL, sizeof(GOOD_POLICY) - 1},
    {"F05", "mta-sts.notfound.test", MTS_OK, 404, "text/html", "nope", NULL,
     NULL, 4},
    {"F04", "mta-sts.moved.test", MTS_OK, 301, "text/html", "m",
     "https://elsewhere.test/p.txt", NULL, 1},
    {"F17", "mta-sts.wild.test", MTS_OK, 200, "text/plain", "version", NULL,
     NULL, sizeof(GOOD_POLICY) - 1},
    {"F19", "mta-sts.deep.test", MTS_ETLS, 0, NULL, NULL, NULL, "SSL", 0},
    {"FETCH-4", "mta-sts.partial.test", MTS_ETLS, 0, NULL, NULL, NULL, "SSL", 0},
    {"F20", "mta-sts.cnonly.test", MTS_ETLS, 0, NULL, NULL, NULL, "SSL", 0},
    {"F22", "mta-sts.expired.test", MTS_ETLS, 0, NULL, NULL, NULL, "expired", 0},
    {"F23", "mta-sts.self.test", MTS_ETLS, 0, NULL, NULL, NULL, "SSL", 0},
    {"wrong-name", "mta-sts.wrong.test", MTS_ETLS, 0, NULL, NULL, NULL, "SSL", 0},
    {"P70-stream", "mta-sts.big.test", MTS_ETOOBIG, 0, NULL, NULL, NULL,
     "exceeds 65536", 0},
    {"P70-length", "mta-sts.bigcl.test", MTS_ETOOBIG, 0, NULL, NULL, NULL,
     "exceeds 65536", 0},
    {"FETCH-10-exact", "mta-sts.exact.test", MTS_OK, 200, "text/plain", "xxx",
     NULL, NULL, MTS_POLICY_MAX_SIZE},
    {"F14", "mta-sts.stall.test", MTS_ETIMEOUT, 0, NULL, NULL, NULL, NULL, 0},
    {"host-nx", "mta-sts.nxhost.test", MTS_ENXDOMAIN, 0, NULL, NULL, NULL,
     "address lookup", 0},
    {"host-timeout", "mta-sts.silenthost.test", MTS_ETIMEOUT, 0, NULL, NULL,
     NULL, "address lookup", 0},
};
#define NHTTP (sizeof(http_cases) / sizeof(http_cases[0]))

static void check_http(const struct http_case *c, const struct http_got *g) {
  if (g->calls != 1) {
    fail_msg("%s: callback ran %d times, want 1", c->id, g->calls);
  }
  if (g->st != c->want) {
    fail_msg("%s: got %s (%s), want %s", c->id, mts_status_name(g->st),
             g->errmsg, mts_status_name(c->want));
  }
  if (c->want_err != NULL && strstr(g->errmsg, c->want_err) == NULL) {
    fail_msg("%s: errmsg \"%s\" lacks \"%s\"", c->id, g->errmsg, c->want_err);
  }
  if (c->want != MTS_OK) {
    return;
  }
  if (g->status != c->want_status) {
    fail_msg("%s: status got %ld, want %ld", c->id, g->status, c->want_status);
  }
  if (strcmp(g->ctype, c->want_ctype) != 0) {
    fail_msg("%s: content type got \"%s\", want \"%s\"", c->id, g->ctype,
             c->want_ctype);
  }
  if (strncmp(g->body, c->want_body, strlen(c->want_body)) != 0) {
    fail_msg("%s: body got \"%s\", want prefix \"%s\"", c->id, g->body,
             c->want_body);
  }
  if (g->body_len != c->want_len) {
    fail_msg("%s: body length got %zu, want %zu", c->id, g->body_len,
             c->want_len);
  }
  if (strcmp(g->location, c->want_location != NULL ? c->want_location : "") !=
      0) {
    fail_msg("%s: location got \"%s\", want \"%s\"", c->id, g->location,
             c->want_location != NULL ? c->want_location : "");
  }
}

static void test_http_table(void **state) {
  size_t i;

  (void)state;
  for (i = 0; i < NHTTP; i++) {
    struct env e;
    int pending = 1;
    struct http_got g;

    memset(&e, 0, sizeof(e));
    e.ctx = mts_test_ctx(&e.alloc, 0);
    assert_int_equal(uv_loop_init(&e.loop), 0);
    env_options(&e);
    e.opt.http_timeout_ms = mts_test_ms(1500); /* F14: the stalled server */
    assert_int_equal(mts_net_create(e.ctx, &e.loop, &e.opt, &e.net), MTS_OK);
    memset(&g, 0, sizeof(g));
    g.pending = &pending;
    assert_int_equal(mts_net_http_get(e.net, http_cases[i].host,
                                      "/.well-known/mta-sts.txt", http_cb, &g),
                     MTS_OK);
    assert_int_equal(g.calls, 0);
    run_until(&e.loop, &pending);
    check_http(&http_cases[i], &g);
    env_done(&e);
  }
}

/* FETCH-8, FETCH-15, FETCH-10: what went over the wire. */
static void test_http_request(void **state) {
  struct env e;
  int pending = 1;
  struct http_got g;
  struct fake_site *s = site("mta-sts.good.test");
  char req[2048];
  char host_hdr[80];

  (void)state;
  env_init(&e);
  memset(&g, 0, sizeof(g));
  g.pending = &pending;
  assert_int_equal(mts_net_http_get(e.net, "mta-sts.good.test",
                                    "/.well-known/mta-sts.txt", http_cb, &g),
                   MTS_OK);
  run_until(&e.loop, &pending);
  assert_int_equal(g.st, MTS_OK);
  pthread_mutex_lock(&tls.mu);
  (void)snprintf(req, sizeof(req), "%s", s->last_request);
  pthread_mutex_unlock(&tls.mu);
  (void)snprintf(host_hdr, sizeof(host_hdr), "Host: mta-sts.good.test:%u\r\n",
                 (unsigned)tls.port);
  assert_non_null(strstr(req, "GET /.well-known/mta-sts.txt HTTP/1.1\r\n"));
  assert_non_null(strstr(req, host_hdr));
  assert_non_null(strstr(req, "User-Agent: mtasts/0.1\r\n"));
  assert_null(strstr(req, "If-"));              /* no conditional request */
  assert_null(strstr(req, "Accept-Encoding")); /* identity: cap = wire */
  env_done(&e);
}

/* Connection refused on the HTTPS port: ECONNECT. */
static void test_http_refused(void **state) {
  struct env e;
  int pending = 1;
  struct http_got g;
  uint16_t port = 0;
  int fd = fake_bind(SOCK_STREAM, &port);

  (void)state;
  assert_true(fd >= 0);
  close(fd);
  memset(&e, 0, sizeof(e));
  e.ctx = mts_test_ctx(&e.alloc, 0);
  assert_int_equal(uv_loop_init(&e.loop), 0);
  env_options(&e);
  e.opt.https_port = port;
  assert_int_equal(mts_net_create(e.ctx, &e.loop, &e.opt, &e.net), MTS_OK);
  memset(&g, 0, sizeof(g));
  g.pending = &pending;
  assert_int_equal(mts_net_http_get(e.net, "mta-sts.good.test", "/x", http_cb,
                                    &g),
                   MTS_OK);
  run_until(&e.loop, &pending);
  if (g.st != MTS_ECONNECT) {
    fail_msg("refused: got %s (%s), want ECONNECT", mts_status_name(g.st),
             g.errmsg);
  }
  env_done(&e);
}

static void test_http_bad_args(void **state) {
  struct env e;
  struct http_got g;

  (void)state;
  env_init(&e);
  memset(&g, 0, sizeof(g));
  assert_int_equal(mts_net_http_get(e.net, "a/b.test", "/", http_cb, &g),
                   MTS_EINVAL);
  assert_int_equal(mts_net_http_get(e.net, "a:1.test", "/", http_cb, &g),
                   MTS_EINVAL);
  assert_int_equal(mts_net_http_get(e.net, "a.test", "x", http_cb, &g),
                   MTS_EINVAL);
  assert_int_equal(mts_net_http_get(e.net, "a.test", "/a b", http_cb, &g),
                   MTS_EINVAL);
  assert_int_equal(mts_net_http_get(e.net, "", "/", http_cb, &g), MTS_EINVAL);
  assert_int_equal(g.calls, 0);
  env_done(&e);
}

/* Many GETs and lookups at once on one net. */
static void test_http_concurrent(void **state) {
  struct env e;
  struct http_got g[NHTTP];
  struct txt_got t[NTXT];
  int pending = 0;
  size_t i;

  (void)state;
  memset(&e, 0, sizeof(e));
  e.ctx = mts_test_ctx(&e.alloc, 0);
  assert_int_equal(uv_loop_init(&e.loop), 0);
  env_options(&e);
  e.opt.http_timeout_ms = mts_test_ms(1500);
  assert_int_equal(mts_net_create(e.ctx, &e.loop, &e.opt, &e.net), MTS_OK);
  memset(g, 0, sizeof(g));
  memset(t, 0, sizeof(t));
  for (i = 0; i < NHTTP; i++) {
    g[i].pending = &pending;
    pending++;
    assert_int_equal(mts_net_http_get(e.net, http_cases[i].host,
                                      "/.well-known/mta-sts.txt", http_cb,
                                      &g[i]),
                     MTS_OK);
  }
  for (i = 0; i < NTXT; i++) {
    t[i].pending = &pending;
    pending++;
    assert_int_equal(mts_net_dns_txt(e.net, txt_cases[i].name, txt_cb, &t[i]),
                     MTS_OK);
  }
  run_until(&e.loop, &pending);
  for (i = 0; i < NHTTP; i++) {
    check_http(&http_cases[i], &g[i]);
  }
  for (i = 0; i < NTXT; i++) {
    check_txt(&txt_cases[i], &t[i]);
  }
  env_done(&e);
}

/* ---------------------------------------------------------- cancel */

/* Destroy with operations in every phase: each callback runs once with
 * ECANCELED before destroy returns; the loop then drains. */
static void test_destroy_cancels(void **state) {
  struct env e;
  struct txt_got t;
  struct http_got h1;
  struct http_got h2;
  int pending = 0;

  (void)state;
  /* The silent names must still be waiting when the stalled GET has
   * begun: a long DNS timeout, not 600 ms. */
  env_init_dns(&e, 10000);
  memset(&t, 0, sizeof(t));
  memset(&h1, 0, sizeof(h1));
  memset(&h2, 0, sizeof(h2));
  t.pending = h1.pending = h2.pending = &pending;
  pending = 3;
  assert_int_equal(mts_net_dns_txt(e.net, "_mta-sts.silent.test", txt_cb, &t),
                   MTS_OK);
  assert_int_equal(mts_net_http_get(e.net, "mta-sts.silenthost.test", "/",
                                    http_cb, &h1),
                   MTS_OK);
  assert_int_equal(mts_net_http_get(e.net, "mta-sts.stall.test", "/", http_cb,
                                    &h2),
                   MTS_OK);
  /* Let the stalled GET reach its transfer phase. */
  while (atomic_load(&site("mta-sts.stall.test")->hits) == 0) {
    (void)uv_run(&e.loop, UV_RUN_ONCE);
  }
  mts_net_destroy(e.net);
  assert_int_equal(pending, 0);
  assert_int_equal(t.st, MTS_ECANCELED);
  assert_int_equal(h1.st, MTS_ECANCELED);
  assert_int_equal(h2.st, MTS_ECANCELED);
  assert_int_equal(t.calls, 1);
  assert_int_equal(h1.calls, 1);
  assert_int_equal(h2.calls, 1);
  assert_int_equal(uv_run(&e.loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(uv_loop_close(&e.loop), 0);
  mts_ctx_destroy(e.ctx);
}

/* A callback that destroys the net (from inside c-ares and libcurl
 * processing) cancels the rest and leaves nothing dangling. */
static void test_destroy_from_callback(void **state) {
  struct env e;
  struct txt_got t1;
  struct txt_got t2;
  struct http_got h;
  int pending = 3;

  (void)state;
  /* _mta-sts.silent.test must not time out before the others complete. */
  env_init_dns(&e, 10000);
  memset(&t1, 0, sizeof(t1));
  memset(&t2, 0, sizeof(t2));
  memset(&h, 0, sizeof(h));
  t1.pending = t2.pending = h.pending = &pending;
  t1.destroy = &e.net;
  assert_int_equal(mts_net_dns_txt(e.net, "_mta-sts.one.test", txt_cb, &t1),
                   MTS_OK);
  assert_int_equal(mts_net_dns_txt(e.net, "_mta-sts.silent.test", txt_cb, &t2),
                   MTS_OK);
  assert_int_equal(mts_net_http_get(e.net, "mta-sts.stall.test", "/", http_cb,
                                    &h),
                   MTS_OK);
  run_until(&e.loop, &pending);
  assert_null(e.net);
  assert_int_equal(t1.st, MTS_OK);
  assert_int_equal(t2.st, MTS_ECANCELED);
  assert_int_equal(h.st, MTS_ECANCELED);
  assert_int_equal(uv_run(&e.loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(uv_loop_close(&e.loop), 0);
  mts_ctx_destroy(e.ctx);

  /* The same from an HTTP completion. */
  env_init_dns(&e, 10000);
  memset(&t2, 0, sizeof(t2));
  memset(&h, 0, sizeof(h));
  pending = 2;
  t2.pending = h.pending = &pending;
  h.destroy = &e.net;
  assert_int_equal(mts_net_dns_txt(e.net, "_mta-sts.silent.test", txt_cb, &t2),
                   MTS_OK);
  assert_int_equal(mts_net_http_get(e.net, "mta-sts.good.test", "/", http_cb,
                                    &h),
                   MTS_OK);
  run_until(&e.loop, &pending);
  assert_null(e.net);
  assert_int_equal(h.st, MTS_OK);
  assert_int_equal(t2.st, MTS_ECANCELED);
  assert_int_equal(uv_run(&e.loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(uv_loop_close(&e.loop), 0);
  mts_ctx_destroy(e.ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_create_options),
      cmocka_unit_test(test_txt_table),
      cmocka_unit_test(test_txt_concurrent),
      cmocka_unit_test(test_txt_query_bits),
      cmocka_unit_test(test_txt_bad_args),
      cmocka_unit_test(test_txt_no_server),
      cmocka_unit_test(test_http_table),
      cmocka_unit_test(test_http_request),
      cmocka_unit_test(test_http_refused),
      cmocka_unit_test(test_http_bad_args),
      cmocka_unit_test(test_http_concurrent),
      cmocka_unit_test(test_destroy_cancels),
      cmocka_unit_test(test_destroy_from_callback),
      cmocka_unit_test(test_alloc_sweep),
  };

  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
