/*
 * test_sts_discover.c - MTA-STS discovery end to end on loopback: the
 * fake DNS responder serves `_mta-sts` TXT records, the fake TLS server
 * serves the policy hosts (fakenet.h). Vector IDs are from
 * /work/shared/RFC-CHECKLIST.md.
 */
#include "testutil.h"

#include "fakenet.h"

#include <mtasts/limits.h>
#include <mtasts/sts_discover.h>

#define GOOD_POLICY                                                           \
  "version: STSv1\r\nmode: enforce\r\nmx: mail.example.test\r\nmax_age: "     \
  "86400\r\n"

#define STS(id) {{"v=STSv1; id=" id ";", NULL}}

static const struct fake_dns_entry dns_table[] = {
    {"_mta-sts.good.test", 16, 0, false, false, STS("good1")},
    {"_mta-sts.xn--bcher-kva.test", 16, 0, false, false, STS("idn1")},
    {"_mta-sts.signed.test", 16, 0, false, true, STS("sig1")},
    {"_mta-sts.nx.test", 16, 3, false, false, {{NULL}}},
    {"_mta-sts.nodata.test", 16, 0, false, false, {{NULL}}},
    {"_mta-sts.spf.test", 16, 0, false, false, {{"v=spf1 -all", NULL}}},
    {"_mta-sts.multi.test",
     16,
     0,
     false,
     false,
     {{"v=STSv1; id=a", NULL}, {"v=STSv1; id=b", NULL}}},
    {"_mta-sts.badtxt.test", 16, 0, false, false, {{"v=STSv1;", NULL}}},
    {"_mta-sts.split.test", 16, 0, false, false, {{"v=STS", "v1; id=sp1", NULL}}},
    {"_mta-sts.servfail.test", 16, 2, false, false, {{NULL}}},
    {"_mta-sts.silent.test", 16, 0, true, false, {{NULL}}},
    {"_mta-sts.notfound.test", 16, 0, false, false, STS("x")},
    {"_mta-sts.moved.test", 16, 0, false, false, STS("x")},
    {"_mta-sts.nocontent.test", 16, 0, false, false, STS("x")},
    {"_mta-sts.notmod.test", 16, 0, false, false, STS("x")},
    {"_mta-sts.html.test", 16, 0, false, false, STS("x")},
    {"_mta-sts.noctype.test", 16, 0, false, false, STS("x")},
    {"_mta-sts.charset.test", 16, 0, false, false, STS("x")},
    {"_mta-sts.expired.test", 16, 0, false, false, STS("x")},
    {"_mta-sts.self.test", 16, 0, false, false, STS("x")},
    {"_mta-sts.cnonly.test", 16, 0, false, false, STS("x")},
    {"_mta-sts.deep.test", 16, 0, false, false, STS("x")},
    {"_mta-sts.wild.test", 16, 0, false, false, STS("x")},
    {"_mta-sts.big.test", 16, 0, false, false, STS("x")},
    {"_mta-sts.badpolicy.test", 16, 0, false, false, STS("x")},
    {"_mta-sts.stall.test", 16, 0, false, false, STS("x")},
    {"_mta-sts.nohost.test", 16, 0, false, false, STS("x")},
    {"mta-sts.nohost.test", 1, 3, false, false, {{NULL}}},
    {"mta-sts.nohost.test", 28, 3, false, false, {{NULL}}},
};

static struct fake_site sites[] = {
    {.host = "mta-sts.good.test", .cert = FAKE_CERT_GOOD},
    {.host = "mta-sts.xn--bcher-kva.test", .cert = FAKE_CERT_GOOD},
    {.host = "mta-sts.signed.test", .cert = FAKE_CERT_GOOD},
    {.host = "mta-sts.nx.test", .cert = FAKE_CERT_GOOD},
    {.host = "mta-sts.split.test", .cert = FAKE_CERT_GOOD},
    {.host = "mta-sts.notfound.test", .cert = FAKE_CERT_GOOD},
    {.host = "mta-sts.moved.test", .cert = FAKE_CERT_GOOD},
    {.host = "mta-sts.nocontent.test", .cert = FAKE_CERT_GOOD},
    {.host = "mta-sts.notmod.test", .cert = FAKE_CERT_GOOD},
    {.host = "mta-sts.html.test", .cert = FAKE_CERT_GOOD},
    {.host = "mta-sts.noctype.test", .cert = FAKE_CERT_GOOD},
    {.host = "mta-sts.charset.test", .cert = FAKE_CERT_GOOD},
    {.host = "mta-sts.expired.test", .cert = FAKE_CERT_EXPIRED},
    {.host = "mta-sts.self.test", .cert = FAKE_CERT_SELF},
    {.host = "mta-sts.cnonly.test", .cert = FAKE_CERT_CN_ONLY},
    {.host = "mta-sts.deep.test", .cert = FAKE_CERT_WILD_DEEP},
    {.host = "mta-sts.wild.test", .cert = FAKE_CERT_WILD},
    {.host = "mta-sts.big.test", .cert = FAKE_CERT_GOOD, .mode = FAKE_BIG,
     .big = 70000},
    {.host = "mta-sts.badpolicy.test", .cert = FAKE_CERT_GOOD},
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
  static const char *const good[] = {
      "mta-sts.good.test", "mta-sts.xn--bcher-kva.test", "mta-sts.signed.test",
      "mta-sts.nx.test",   "mta-sts.split.test",         "mta-sts.expired.test",
      "mta-sts.self.test", "mta-sts.cnonly.test",        "mta-sts.deep.test",
      "mta-sts.wild.test"};
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    set_response(good[i],
                 fake_response("200 OK", "text/plain", NULL, GOOD_POLICY));
  }
  set_response("mta-sts.notfound.test",
               fake_response("404 Not Found", "text/plain", NULL, "no"));
  set_response("mta-sts.moved.test",
               fake_response("302 Found", "text/plain",
                             "Location: https://elsewhere.test/policy.txt",
                             GOOD_POLICY));
  set_response("mta-sts.nocontent.test",
               strdup("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"));
  set_response("mta-sts.notmod.test",
               strdup("HTTP/1.1 304 Not Modified\r\nConnection: close\r\n\r\n"));
  set_response("mta-sts.html.test",
               fake_response("200 OK", "text/html", NULL, GOOD_POLICY));
  set_response("mta-sts.noctype.test",
               fake_response("200 OK", NULL, NULL, GOOD_POLICY));
  set_response("mta-sts.charset.test",
               fake_response("200 OK", "Text/Plain ; charset=iso-8859-1", NULL,
                             GOOD_POLICY));
  set_response("mta-sts.badpolicy.test",
               fake_response("200 OK", "text/plain", NULL,
                             "version: STSv1\r\nmode: bogus\r\n"));
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

struct env {
  struct mts_test_alloc alloc;
  struct mts_ctx *ctx;
  uv_loop_t loop;
  struct mts_net *net;
  uint32_t dns_timeout_ms;  /* 0: 600 ms */
  uint32_t http_timeout_ms; /* 0: 1500 ms */
};

static enum mts_status env_net_st(struct env *e) {
  struct mts_net_options o;

  assert_int_equal(uv_loop_init(&e->loop), 0);
  mts_net_options_init(&o);
  o.resolver = resolver;
  o.ca_file = tls.ca_file;
  o.https_port = tls.port;
  o.dns_timeout_ms =
      mts_test_ms(e->dns_timeout_ms != 0 ? e->dns_timeout_ms : 600);
  o.http_timeout_ms =
      mts_test_ms(e->http_timeout_ms != 0 ? e->http_timeout_ms : 1500);
  return mts_net_create(e->ctx, &e->loop, &o, &e->net);
}

static void env_net(struct env *e) {
  assert_int_equal(env_net_st(e), MTS_OK);
}

/* \p dns_ms, \p http_ms: the DNS and HTTPS timeouts, 0 for 600 and
 * 1500 ms. */
static void env_init_t(struct env *e, uint32_t dns_ms, uint32_t http_ms) {
  memset(e, 0, sizeof(*e));
  e->ctx = mts_test_ctx(&e->alloc, 0);
  e->dns_timeout_ms = dns_ms;
  e->http_timeout_ms = http_ms;
  env_net(e);
}

static void env_init(struct env *e) { env_init_t(e, 0, 0); }

static void guard_fired(uv_timer_t *t) { *(bool *)t->data = true; }

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
    fail_msg("loop did not finish: %d discovery(ies) pending", *pending);
  }
}

static void env_done(struct env *e, bool destroy_ctx) {
  mts_net_destroy(e->net);
  e->net = NULL;
  assert_int_equal(uv_run(&e->loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(uv_loop_close(&e->loop), 0);
  if (destroy_ctx) {
    mts_ctx_destroy(e->ctx);
  }
}

struct got {
  int *pending;
  int calls;
  struct mts_sts_discovery *d;
};

static void got_cb(void *arg, struct mts_sts_discovery *d) {
  struct got *g = arg;

  g->calls++;
  g->d = d;
  (*g->pending)--;
}

/* ---------------------------------------------------------- the table */

struct disc_case {
  const char *id;
  const char *domain;
  unsigned flags;
  enum mts_sts_verdict want;
  const char *want_reason; /* substring */
  const char *want_domain;
  long want_http;          /* -1: do not check */
  bool want_fetch;         /* a URL was set */
  bool want_policy;
  bool want_ad;
};

static const struct disc_case cases[] = {
    {"C01", "good.test", 0, MTS_STS_V_POLICY, "mode enforce", "good.test", 200,
     true, true, false},
    {"F01", "GOOD.Test.", 0, MTS_STS_V_POLICY, "mode enforce", "good.test",
     200, true, true, false},
    {"F02", "b\xc3\xbc" "cher.test", 0, MTS_STS_V_POLICY, "xn--bcher-kva",
     "xn--bcher-kva.test", 200, true, true, false},
    {"AD", "signed.test", 0, MTS_STS_V_POLICY, "mode", "signed.test", 200,
     true, true, true},
    {"T31", "split.test", 0, MTS_STS_V_POLICY, "mode", "split.test", 200,
     true, true, false},
    {"T40-nx", "nx.test", 0, MTS_STS_V_NO_POLICY, "does not exist", "nx.test",
     0, false, false, false},
    {"T40-nodata", "nodata.test", 0, MTS_STS_V_NO_POLICY, "no record",
     "nodata.test", 0, false, false, false},
    {"T35-none", "spf.test", 0, MTS_STS_V_NO_POLICY, "no STS record",
     "spf.test", 0, false, false, false},
    {"T34", "multi.test", 0, MTS_STS_V_TXT_INVALID, "more than one",
     "multi.test", 0, false, false, false},
    {"T07", "badtxt.test", 0, MTS_STS_V_TXT_INVALID, "invalid", "badtxt.test",
     0, false, false, false},
    {"AMBIG-TXT-3-servfail", "servfail.test", 0, MTS_STS_V_DNS_TEMPFAIL,
     "DNS server failure", "servfail.test", 0, false, false, false},
    {"AMBIG-TXT-3-timeout", "silent.test", 0, MTS_STS_V_DNS_TEMPFAIL,
     "timed out", "silent.test", 0, false, false, false},
    {"F05", "notfound.test", 0, MTS_STS_V_FETCH_ERROR, "status 404",
     "notfound.test", 404, true, false, false},
    {"F04", "moved.test", 0, MTS_STS_V_FETCH_ERROR,
     "redirect to https://elsewhere.test/policy.txt not followed",
     "moved.test", 302, true, false, false},
    {"F07", "nocontent.test", 0, MTS_STS_V_FETCH_ERROR, "status 204",
     "nocontent.test", 204, true, false, false},
    {"F08", "notmod.test", 0, MTS_STS_V_FETCH_ERROR, "status 304",
     "notmod.test", 304, true, false, false},
    {"F10", "html.test", 0, MTS_STS_V_FETCH_ERROR, "\"text/html\"",
     "html.test", 200, true, false, false},
    {"F11", "noctype.test", 0, MTS_STS_V_FETCH_ERROR, "no Content-Type",
     "noctype.test", 200, true, false, false},
    {"F13", "charset.test", 0, MTS_STS_V_POLICY, "mode enforce",
     "charset.test", 200, true, true, false},
    {"F22", "expired.test", 0, MTS_STS_V_WEBPKI_INVALID, "expired",
     "expired.test", 0, true, false, false},
    {"F23", "self.test", 0, MTS_STS_V_WEBPKI_INVALID, "TLS",
     "self.test", 0, true, false, false},
    {"F20", "cnonly.test", 0, MTS_STS_V_WEBPKI_INVALID, "TLS",
     "cnonly.test", 0, true, false, false},
    {"F19", "deep.test", 0, MTS_STS_V_WEBPKI_INVALID, "TLS", "deep.test", 0,
     true, false, false},
    {"F17", "wild.test", 0, MTS_STS_V_POLICY, "mode enforce", "wild.test",
     200, true, true, false},
    {"P70", "big.test", 0, MTS_STS_V_FETCH_ERROR, "larger than the limit",
     "big.test", 0, true, false, false},
    {"policy-invalid", "badpolicy.test", 0, MTS_STS_V_POLICY_INVALID,
     "invalid", "badpolicy.test", 200, true, false, false},
    {"F14", "stall.test", 0, MTS_STS_V_FETCH_ERROR, "timed out",
     "stall.test", 0, true, false, false},
    {"host-nx", "nohost.test", 0, MTS_STS_V_FETCH_ERROR, "address lookup",
     "nohost.test", 0, true, false, false},
    {"TXT_ONLY", "good.test", MTS_DISCOVER_TXT_ONLY, MTS_STS_V_POLICY,
     "id=good1", "good.test", 0, false, false, false},
    {"SKIP_TXT", "nx.test", MTS_DISCOVER_SKIP_TXT, MTS_STS_V_POLICY,
     "mode enforce", "nx.test", 200, true, true, false},
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

static void check_case(const struct disc_case *c,
                       const struct mts_sts_discovery *d) {
  const char *reason = mts_sts_discovery_reason(d);
  enum mts_sts_verdict v = mts_sts_discovery_verdict(d);
  size_t blen = 0;

  if (v != c->want) {
    fail_msg("%s: verdict got %s (%s), want %s", c->id, mts_sts_verdict_str(v),
             reason, mts_sts_verdict_str(c->want));
  }
  if (mts_sts_discovery_status(d) != MTS_OK) {
    fail_msg("%s: status got %s, want OK", c->id,
             mts_status_name(mts_sts_discovery_status(d)));
  }
  if (strstr(reason, c->want_reason) == NULL) {
    fail_msg("%s: reason \"%s\" lacks \"%s\"", c->id, reason, c->want_reason);
  }
  if (strcmp(mts_sts_discovery_domain(d), c->want_domain) != 0) {
    fail_msg("%s: domain got %s, want %s", c->id, mts_sts_discovery_domain(d),
             c->want_domain);
  }
  if (c->want_http >= 0 && mts_sts_discovery_http_status(d) != c->want_http) {
    fail_msg("%s: HTTP status got %ld, want %ld", c->id,
             mts_sts_discovery_http_status(d), c->want_http);
  }
  if ((mts_sts_discovery_url(d) != NULL) != c->want_fetch) {
    fail_msg("%s: url %s, want %s", c->id,
             mts_sts_discovery_url(d) ? mts_sts_discovery_url(d) : "(none)",
             c->want_fetch ? "set" : "none");
  }
  if (c->want_fetch) {
    char want_url[300];

    (void)snprintf(want_url, sizeof(want_url),
                   "https://mta-sts.%s:%u/.well-known/mta-sts.txt",
                   c->want_domain, (unsigned)tls.port);
    if (strcmp(mts_sts_discovery_url(d), want_url) != 0) {
      fail_msg("%s: url got %s, want %s", c->id, mts_sts_discovery_url(d),
               want_url);
    }
  }
  if ((mts_sts_discovery_policy(d) != NULL &&
       mts_sts_policy_usable(mts_sts_discovery_policy(d))) != c->want_policy) {
    fail_msg("%s: usable policy %s", c->id, c->want_policy ? "missing" : "set");
  }
  if (c->want_policy) {
    const uint8_t *b = mts_sts_discovery_body(d, &blen);

    if (b == NULL || blen != sizeof(GOOD_POLICY) - 1 ||
        memcmp(b, GOOD_POLICY, blen) != 0) {
      fail_msg("%s: body not the served policy (len %zu)", c->id, blen);
    }
    assert_int_equal(mts_sts_policy_mode(mts_sts_discovery_policy(d)),
                     MTS_STS_MODE_ENFORCE);
    assert_non_null(mts_sts_discovery_content_type(d));
  }
  if (mts_sts_discovery_txt_authenticated(d) != c->want_ad) {
    fail_msg("%s: AD got %d, want %d", c->id,
             mts_sts_discovery_txt_authenticated(d), c->want_ad);
  }
  if (c->flags & MTS_DISCOVER_SKIP_TXT) {
    assert_null(mts_sts_discovery_txt(d));
    assert_null(mts_sts_discovery_txt_rrset(d));
  }
  if (c->want == MTS_STS_V_TXT_INVALID || c->want == MTS_STS_V_FETCH_ERROR) {
    assert_non_null(mts_sts_discovery_txt_rrset(d));
  }
}

static void test_discover_table(void **state) {
  size_t i;

  (void)state;
  for (i = 0; i < NCASES; i++) {
    struct env e;
    int pending = 1;
    struct got g = {&pending, 0, NULL};

    env_init(&e);
    assert_int_equal(mts_sts_discover(e.net, cases[i].domain, cases[i].flags,
                                      got_cb, &g),
                     MTS_OK);
    assert_int_equal(g.calls, 0); /* never from inside the call */
    run_until(&e.loop, &pending);
    assert_int_equal(g.calls, 1);
    /* The result outlives the net. */
    env_done(&e, false);
    check_case(&cases[i], g.d);
    mts_sts_discovery_destroy(g.d);
    mts_ctx_destroy(e.ctx);
  }
}

/* Every case at once on one net. */
static void test_discover_concurrent(void **state) {
  struct env e;
  struct got g[NCASES];
  int pending = 0;
  size_t i;

  (void)state;
  /* Every handshake at once, against one fake server: 3 s, not 1.5, or a
   * slow machine (valgrind, which runs one thread at a time) times out
   * the last ones. stall.test then takes the 3 s. */
  env_init_t(&e, 0, 3000);
  for (i = 0; i < NCASES; i++) {
    g[i].pending = &pending;
    g[i].calls = 0;
    g[i].d = NULL;
    pending++;
    assert_int_equal(mts_sts_discover(e.net, cases[i].domain, cases[i].flags,
                                      got_cb, &g[i]),
                     MTS_OK);
  }
  run_until(&e.loop, &pending);
  for (i = 0; i < NCASES; i++) {
    assert_int_equal(g[i].calls, 1);
    check_case(&cases[i], g[i].d);
    mts_sts_discovery_destroy(g[i].d);
  }
  env_done(&e, true);
}

/* TXT_ONLY never touches the policy host. */
static void test_txt_only_no_fetch(void **state) {
  struct env e;
  int pending = 1;
  struct got g = {&pending, 0, NULL};
  int before = atomic_load(&site("mta-sts.good.test")->hits);

  (void)state;
  env_init(&e);
  assert_int_equal(mts_sts_discover(e.net, "good.test", MTS_DISCOVER_TXT_ONLY,
                                    got_cb, &g),
                   MTS_OK);
  run_until(&e.loop, &pending);
  assert_int_equal(atomic_load(&site("mta-sts.good.test")->hits), before);
  assert_string_equal(mts_sts_txt_id(mts_sts_discovery_txt(g.d)), "good1");
  assert_int_equal(mts_sts_discovery_txt_status(g.d), MTS_OK);
  assert_null(mts_sts_discovery_policy(g.d));
  mts_sts_discovery_destroy(g.d);
  env_done(&e, true);
}

static void test_discover_bad_domain(void **state) {
  static const char *const bad[] = {"", "a..test", "-a.test\xff", "a b.test"};
  struct env e;
  int pending = 0;
  struct got g = {&pending, 0, NULL};
  char longname[260];
  size_t i;

  (void)state;
  env_init(&e);
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    enum mts_status st = mts_sts_discover(e.net, bad[i], 0, got_cb, &g);

    if (st != MTS_EIDN) {
      fail_msg("bad domain %zu: got %s, want EIDN", i, mts_status_name(st));
    }
  }
  /* 245 octets: valid, but `_mta-sts.` makes it too long. */
  for (i = 0; i < 245; i++) {
    longname[i] = (i % 50 == 49) ? '.' : 'a';
  }
  longname[245] = '\0';
  assert_int_equal(mts_sts_discover(e.net, longname, 0, got_cb, &g), MTS_EIDN);
  assert_int_equal(mts_sts_discover(e.net, NULL, 0, got_cb, &g), MTS_EINVAL);
  assert_int_equal(g.calls, 0);
  env_done(&e, true);
}

/* Destroying the net ends pending discoveries with status ECANCELED;
 * the results are still valid. */
static void test_discover_canceled(void **state) {
  struct env e;
  int pending = 2;
  struct got g1 = {&pending, 0, NULL};
  struct got g2 = {&pending, 0, NULL};
  int before = atomic_load(&site("mta-sts.stall.test")->hits);

  (void)state;
  /* silent.test must still be waiting when stall.test's fetch has begun
   * (TXT, A, AAAA, TLS): a long DNS timeout, not 600 ms. */
  env_init_t(&e, 10000, 0);
  assert_int_equal(mts_sts_discover(e.net, "silent.test", 0, got_cb, &g1),
                   MTS_OK);
  assert_int_equal(mts_sts_discover(e.net, "stall.test", 0, got_cb, &g2),
                   MTS_OK);
  while (atomic_load(&site("mta-sts.stall.test")->hits) == before) {
    (void)uv_run(&e.loop, UV_RUN_ONCE);
  }
  mts_net_destroy(e.net);
  e.net = NULL;
  assert_int_equal(pending, 0);
  assert_int_equal(mts_sts_discovery_status(g1.d), MTS_ECANCELED);
  assert_int_equal(mts_sts_discovery_verdict(g1.d), MTS_STS_V_DNS_TEMPFAIL);
  assert_int_equal(mts_sts_discovery_status(g2.d), MTS_ECANCELED);
  assert_int_equal(mts_sts_discovery_verdict(g2.d), MTS_STS_V_FETCH_ERROR);
  assert_int_equal(mts_sts_discover(NULL, "good.test", 0, got_cb, &g1),
                   MTS_EINVAL);
  mts_sts_discovery_destroy(g1.d);
  mts_sts_discovery_destroy(g2.d);
  env_done(&e, true);
}

static void test_verdict_strings(void **state) {
  static const struct {
    enum mts_sts_verdict v;
    const char *str;
    const char *rt;
  } t[] = {
      {MTS_STS_V_POLICY, "policy", NULL},
      {MTS_STS_V_NO_POLICY, "no-policy", NULL},
      {MTS_STS_V_TXT_INVALID, "txt-invalid", NULL},
      {MTS_STS_V_DNS_TEMPFAIL, "dns-temporary-failure", NULL},
      {MTS_STS_V_FETCH_ERROR, "sts-policy-fetch-error", "sts-policy-fetch-error"},
      {MTS_STS_V_WEBPKI_INVALID, "sts-webpki-invalid", "sts-webpki-invalid"},
      {MTS_STS_V_POLICY_INVALID, "sts-policy-invalid", "sts-policy-invalid"},
  };
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
    assert_string_equal(mts_sts_verdict_str(t[i].v), t[i].str);
    if (t[i].rt == NULL) {
      assert_null(mts_sts_verdict_result_type(t[i].v));
    } else {
      assert_string_equal(mts_sts_verdict_result_type(t[i].v), t[i].rt);
    }
  }
  assert_string_equal(mts_sts_verdict_str((enum mts_sts_verdict)99), "unknown");
}

/* A full discovery with allocation N failing: either the start returns
 * ENOMEM, or the result reports status ENOMEM. */
static enum mts_status discover_op(struct mts_ctx *ctx, void *arg) {
  struct env e;
  int pending = 1;
  struct got g = {&pending, 0, NULL};
  enum mts_status st;
  const char *domain = arg;

  memset(&e, 0, sizeof(e));
  e.ctx = ctx;
  st = env_net_st(&e);
  if (st == MTS_OK) {
    st = mts_sts_discover(e.net, domain, 0, got_cb, &g);
  } else {
    pending = 0;
  }
  if (st == MTS_OK) {
    run_until(&e.loop, &pending);
    st = mts_sts_discovery_status(g.d);
    if (st == MTS_OK &&
        mts_sts_discovery_verdict(g.d) != MTS_STS_V_POLICY) {
      fail_msg("sweep: verdict %s (%s)",
               mts_sts_verdict_str(mts_sts_discovery_verdict(g.d)),
               mts_sts_discovery_reason(g.d));
    }
    mts_sts_discovery_destroy(g.d);
  }
  env_done(&e, false);
  return st;
}

static void test_alloc_sweep(void **state) {
  char domain[] = "good.test";

  (void)state;
  assert_true(mts_test_alloc_sweep(discover_op, domain) > 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_verdict_strings),
      cmocka_unit_test(test_discover_table),
      cmocka_unit_test(test_discover_concurrent),
      cmocka_unit_test(test_txt_only_no_fetch),
      cmocka_unit_test(test_discover_bad_domain),
      cmocka_unit_test(test_discover_canceled),
      cmocka_unit_test(test_alloc_sweep),
  };

  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
