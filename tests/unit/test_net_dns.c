/*
 * test_net_dns.c - mts_net_dns_mx() and mts_net_dns_tlsa() against the
 * loopback DNS fake of fakenet.h (the TXT lookups are in test_net.c).
 * The machine's resolver is never used.
 *
 * MX answers feed mtastsd's wildcard expansion (docs/decisions.md
 * AN-2): RFC 8461 4.1 patterns are matched against the MX host names,
 * and RFC 5321 5.1 (implicit MX) needs NXDOMAIN and NODATA told apart
 * from failures. TLSA answers are for DANE detection (RFC 7672 2.2).
 */
#include "testutil.h"

#include "fakenet.h"

#include <mtasts/limits.h>
#include <mtasts/net.h>

/* Negative answers and failures: {name, type, rcode, drop, ad, txt}. */
static const struct fake_dns_entry dns_table[] = {
    {"nx.test", 15, 3, false, false, {{NULL}}},
    {"nodata.test", 15, 0, false, false, {{NULL}}},
    {"servfail.test", 15, 2, false, false, {{NULL}}},
    {"refused.test", 15, 5, false, false, {{NULL}}},
    {"silent.test", 15, 0, true, false, {{NULL}}},
    {"_25._tcp.mx.nodata.test", 52, 0, false, true, {{NULL}}},
    {"_25._tcp.mx.nx.test", 52, 3, false, true, {{NULL}}},
    {"_25._tcp.mx.servfail.test", 52, 2, false, false, {{NULL}}},
    {"_25._tcp.mx.silent.test", 52, 0, true, false, {{NULL}}},
};

/* Answers with records. */
static const struct fake_dns_rrs dns_rrs[] = {
    {.name = "one.test", .type = 15, .mx = {"mail.one.test"}, .mx_pref = {10}},
    {.name = "two.test",
     .type = 15,
     .ad = true,
     .mx = {"B.MX.Two.Test.", "a.mx.two.test"},
     .mx_pref = {20, 5}},
    {.name = "nullmx.test", .type = 15, .mx = {""}, .mx_pref = {0}},
    {.name = "alias.test",
     .type = 15,
     .mx = {"mx.target.test"},
     .mx_pref = {1},
     .cname = "target.test"},
    {.name = "_25._tcp.mx.one.test", .type = 52, .ad = true, .tlsa = 2},
    {.name = "_25._tcp.mx.insecure.test", .type = 52, .tlsa = 1},
    {.name = "_25._tcp.mx.alias.test",
     .type = 52,
     .ad = true,
     .tlsa = 3,
     .cname = "_25._tcp.mx.target.test"},
    /* A CNAME and no TLSA after it: NODATA too. */
    {.name = "_25._tcp.mx.cnameonly.test",
     .type = 52,
     .cname = "_25._tcp.elsewhere.test"},
};

static struct fake_dns dns;
static char resolver[32];

static int group_setup(void **state) {
  (void)state;
  if (!fake_dns_start_rrs(&dns, dns_table,
                          sizeof(dns_table) / sizeof(dns_table[0]), dns_rrs,
                          sizeof(dns_rrs) / sizeof(dns_rrs[0]))) {
    return -1;
  }
  (void)snprintf(resolver, sizeof(resolver), "127.0.0.1:%u",
                 (unsigned)dns.port);
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  fake_dns_stop(&dns);
  return 0;
}

struct env {
  struct mts_test_alloc alloc;
  struct mts_ctx *ctx;
  uv_loop_t loop;
  struct mts_net *net;
};

static enum mts_status env_start(struct env *e, struct mts_ctx *ctx) {
  struct mts_net_options o;

  e->ctx = ctx;
  e->net = NULL;
  assert_int_equal(uv_loop_init(&e->loop), 0);
  mts_net_options_init(&o);
  o.resolver = resolver;
  o.dns_timeout_ms = mts_test_ms(600);
  return mts_net_create(e->ctx, &e->loop, &o, &e->net);
}

static void env_init(struct env *e) {
  memset(e, 0, sizeof(*e));
  assert_int_equal(env_start(e, mts_test_ctx(&e->alloc, 0)), MTS_OK);
}

static void env_finish(struct env *e) {
  mts_net_destroy(e->net);
  e->net = NULL;
  assert_int_equal(uv_run(&e->loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(uv_loop_close(&e->loop), 0);
}

static void env_done(struct env *e) {
  env_finish(e);
  mts_ctx_destroy(e->ctx);
}

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

/* ---------------------------------------------------------------- MX */

struct mx_got {
  int *pending;
  int calls;
  enum mts_status st;
  bool ad;
  size_t n;
  char joined[256]; /* "pref exchange|pref exchange" */
  bool has_errmsg;
};

static void mx_cb(void *arg, enum mts_status st, const struct mts_net_mx *mx,
                  size_t n, bool ad, const char *errmsg) {
  struct mx_got *g = arg;
  size_t i, off = 0;

  g->calls++;
  g->st = st;
  g->ad = ad;
  g->n = n;
  g->has_errmsg = errmsg != NULL && errmsg[0] != '\0';
  g->joined[0] = '\0';
  for (i = 0; i < n && mx != NULL; i++) {
    int w = snprintf(g->joined + off, sizeof(g->joined) - off, "%s%u %s",
                     i > 0 ? "|" : "", (unsigned)mx[i].preference,
                     mx[i].exchange);

    if (w > 0 && (size_t)w < sizeof(g->joined) - off) {
      off += (size_t)w;
    }
  }
  (*g->pending)--;
}

static const struct {
  const char *id;
  const char *name;
  enum mts_status want;
  size_t want_n;
  const char *want_joined;
  bool want_ad;
} mx_cases[] = {
    {"MX-1 one record", "one.test", MTS_OK, 1, "10 mail.one.test", false},
    /* Answer order kept, lower-cased, trailing dot dropped, AD reported. */
    {"MX-2 two records, case, AD", "two.test", MTS_OK, 2,
     "20 b.mx.two.test|5 a.mx.two.test", true},
    {"MX-3 null MX (RFC 7505)", "nullmx.test", MTS_OK, 1, "0 ", false},
    {"MX-4 CNAME followed", "alias.test", MTS_OK, 1, "1 mx.target.test", false},
    {"MX-5 trailing dot in the query", "one.test.", MTS_OK, 1,
     "10 mail.one.test", false},
    /* RFC 5321 5.1: these two are not failures for the caller. */
    {"MX-6 NXDOMAIN", "nx.test", MTS_ENXDOMAIN, 0, "", false},
    {"MX-7 NODATA", "nodata.test", MTS_ENODATA, 0, "", false},
    {"MX-8 SERVFAIL", "servfail.test", MTS_ESERVFAIL, 0, "", false},
    {"MX-9 REFUSED", "refused.test", MTS_ESERVFAIL, 0, "", false},
    {"MX-10 no answer: deadline", "silent.test", MTS_ETIMEOUT, 0, "", false},
};

static void check_mx(size_t i, const struct mx_got *g) {
  if (g->calls != 1) {
    fail_msg("%s: %d callbacks, want 1", mx_cases[i].id, g->calls);
  }
  if (g->st != mx_cases[i].want) {
    fail_msg("%s: got %s, want %s", mx_cases[i].id, mts_status_name(g->st),
             mts_status_name(mx_cases[i].want));
  }
  if (g->n != mx_cases[i].want_n ||
      strcmp(g->joined, mx_cases[i].want_joined) != 0) {
    fail_msg("%s: got %zu \"%s\", want %zu \"%s\"", mx_cases[i].id, g->n,
             g->joined, mx_cases[i].want_n, mx_cases[i].want_joined);
  }
  if (g->ad != mx_cases[i].want_ad) {
    fail_msg("%s: AD got %d, want %d", mx_cases[i].id, g->ad,
             mx_cases[i].want_ad);
  }
  if ((g->st != MTS_OK) != g->has_errmsg) {
    fail_msg("%s: errmsg %s, want it only on failure", mx_cases[i].id,
             g->has_errmsg ? "set" : "missing");
  }
}

static void test_mx_table(void **state) {
  struct env e;
  struct mx_got g[sizeof(mx_cases) / sizeof(mx_cases[0])];
  int pending = 0;
  size_t i;

  (void)state;
  env_init(&e);
  memset(g, 0, sizeof(g));
  for (i = 0; i < sizeof(mx_cases) / sizeof(mx_cases[0]); i++) {
    g[i].pending = &pending;
    pending++;
    assert_int_equal(mts_net_dns_mx(e.net, mx_cases[i].name, mx_cb, &g[i]),
                     MTS_OK);
    /* Never from inside the call. */
    assert_int_equal(g[i].calls, 0);
  }
  run_until(&e.loop, &pending);
  for (i = 0; i < sizeof(mx_cases) / sizeof(mx_cases[0]); i++) {
    check_mx(i, &g[i]);
  }
  env_done(&e);
}

/* The query: type MX, RD and AD set, EDNS OPT. */
static void test_mx_query_bits(void **state) {
  struct env e;
  struct mx_got g;
  int pending = 1;
  uint8_t q[512];
  size_t qlen;

  (void)state;
  env_init(&e);
  memset(&g, 0, sizeof(g));
  g.pending = &pending;
  assert_int_equal(mts_net_dns_mx(e.net, "one.test", mx_cb, &g), MTS_OK);
  run_until(&e.loop, &pending);
  assert_int_equal(g.st, MTS_OK);
  pthread_mutex_lock(&dns.mu);
  qlen = dns.last_query_len;
  memcpy(q, dns.last_query, qlen);
  pthread_mutex_unlock(&dns.mu);
  assert_true(qlen > 12 + 10 + 4);
  assert_true((q[2] & 0x01) != 0);            /* RD */
  assert_true((q[3] & 0x20) != 0);            /* AD */
  assert_int_equal(q[10] << 8 | q[11], 1);    /* OPT */
  assert_int_equal(q[12 + 10] << 8 | q[12 + 11], 15); /* "\3one\4test\0" */
  env_done(&e);
}

static void tlsa_cb(void *arg, enum mts_status st, size_t count, bool ad,
                    const char *errmsg);

static void test_bad_args(void **state) {
  struct env e;
  struct mx_got g;
  char longname[300];

  (void)state;
  env_init(&e);
  memset(&g, 0, sizeof(g));
  memset(longname, 'a', sizeof(longname) - 1);
  longname[sizeof(longname) - 1] = '\0';
  assert_int_equal(mts_net_dns_mx(e.net, "", mx_cb, &g), MTS_EINVAL);
  assert_int_equal(mts_net_dns_mx(e.net, "a b.test", mx_cb, &g), MTS_EINVAL);
  assert_int_equal(mts_net_dns_mx(e.net, longname, mx_cb, &g), MTS_EINVAL);
  assert_int_equal(mts_net_dns_mx(e.net, NULL, mx_cb, &g), MTS_EINVAL);
  assert_int_equal(mts_net_dns_mx(e.net, "x.test", NULL, &g), MTS_EINVAL);
  assert_int_equal(mts_net_dns_mx(NULL, "x.test", mx_cb, &g), MTS_EINVAL);
  assert_int_equal(mts_net_dns_tlsa(e.net, "", tlsa_cb, &g), MTS_EINVAL);
  assert_int_equal(mts_net_dns_tlsa(e.net, NULL, tlsa_cb, &g), MTS_EINVAL);
  assert_int_equal(mts_net_dns_tlsa(e.net, "x.test", NULL, &g), MTS_EINVAL);
  assert_int_equal(mts_net_dns_tlsa(NULL, "x.test", tlsa_cb, &g), MTS_EINVAL);
  assert_int_equal(g.calls, 0);
  env_done(&e);
}

/* ---------------------------------------------------------------- TLSA */

struct tlsa_got {
  int *pending;
  int calls;
  enum mts_status st;
  size_t count;
  bool ad;
};

static void tlsa_cb(void *arg, enum mts_status st, size_t count, bool ad,
                    const char *errmsg) {
  struct tlsa_got *g = arg;

  (void)errmsg;
  g->calls++;
  g->st = st;
  g->count = count;
  g->ad = ad;
  (*g->pending)--;
}

static const struct {
  const char *id;
  const char *name;
  enum mts_status want;
  size_t want_count;
  bool want_ad;
} tlsa_cases[] = {
    {"TLSA-1 two records, AD", "_25._tcp.mx.one.test", MTS_OK, 2, true},
    {"TLSA-2 one record, no AD", "_25._tcp.mx.insecure.test", MTS_OK, 1,
     false},
    /* The walk skips the CNAME RR and follows the compression pointer
     * of the TLSA owner names. */
    {"TLSA-3 behind a CNAME", "_25._tcp.mx.alias.test", MTS_OK, 3, true},
    {"TLSA-4 NODATA", "_25._tcp.mx.nodata.test", MTS_ENODATA, 0, true},
    {"TLSA-5 CNAME only", "_25._tcp.mx.cnameonly.test", MTS_ENODATA, 0, false},
    {"TLSA-6 NXDOMAIN", "_25._tcp.mx.nx.test", MTS_ENXDOMAIN, 0, true},
    {"TLSA-7 SERVFAIL", "_25._tcp.mx.servfail.test", MTS_ESERVFAIL, 0, false},
    {"TLSA-8 deadline", "_25._tcp.mx.silent.test", MTS_ETIMEOUT, 0, false},
};

static void test_tlsa_table(void **state) {
  struct env e;
  struct tlsa_got g[sizeof(tlsa_cases) / sizeof(tlsa_cases[0])];
  int pending = 0;
  size_t i;

  (void)state;
  env_init(&e);
  memset(g, 0, sizeof(g));
  for (i = 0; i < sizeof(tlsa_cases) / sizeof(tlsa_cases[0]); i++) {
    g[i].pending = &pending;
    pending++;
    assert_int_equal(mts_net_dns_tlsa(e.net, tlsa_cases[i].name, tlsa_cb,
                                      &g[i]),
                     MTS_OK);
  }
  run_until(&e.loop, &pending);
  for (i = 0; i < sizeof(tlsa_cases) / sizeof(tlsa_cases[0]); i++) {
    if (g[i].calls != 1 || g[i].st != tlsa_cases[i].want ||
        g[i].count != tlsa_cases[i].want_count ||
        g[i].ad != tlsa_cases[i].want_ad) {
      fail_msg("%s: got calls=%d %s count=%zu ad=%d, want 1 %s %zu %d",
               tlsa_cases[i].id, g[i].calls, mts_status_name(g[i].st),
               g[i].count, g[i].ad, mts_status_name(tlsa_cases[i].want),
               tlsa_cases[i].want_count, tlsa_cases[i].want_ad);
    }
  }
  env_done(&e);
}

/* Destroying the net ends pending MX and TLSA lookups with ECANCELED. */
static void test_destroy_cancels(void **state) {
  struct env e;
  struct mx_got m;
  struct tlsa_got t;
  int pending = 2;

  (void)state;
  env_init(&e);
  memset(&m, 0, sizeof(m));
  memset(&t, 0, sizeof(t));
  m.pending = t.pending = &pending;
  assert_int_equal(mts_net_dns_mx(e.net, "silent.test", mx_cb, &m), MTS_OK);
  assert_int_equal(
      mts_net_dns_tlsa(e.net, "_25._tcp.mx.silent.test", tlsa_cb, &t), MTS_OK);
  mts_net_destroy(e.net);
  e.net = NULL;
  assert_int_equal(pending, 0);
  assert_int_equal(m.st, MTS_ECANCELED);
  assert_int_equal(t.st, MTS_ECANCELED);
  assert_int_equal(mts_net_dns_mx(e.net, "one.test", mx_cb, &m), MTS_EINVAL);
  env_done(&e);
}

/* Every allocation of an MX lookup may fail: the lookup then fails with
 * MTS_ENOMEM (at start or in its callback), never crashes or leaks. */
struct sweep_arg {
  const char *name;
};

static enum mts_status sweep_mx(struct mts_ctx *ctx, void *arg) {
  const struct sweep_arg *a = arg;
  struct env e;
  struct mx_got g;
  int pending = 1;
  enum mts_status st;

  memset(&e, 0, sizeof(e));
  memset(&g, 0, sizeof(g));
  g.pending = &pending;
  st = env_start(&e, ctx);
  if (st == MTS_OK) {
    st = mts_net_dns_mx(e.net, a->name, mx_cb, &g);
    if (st == MTS_OK) {
      run_until(&e.loop, &pending);
      st = g.st;
    }
  }
  env_finish(&e);
  return st;
}

static void test_alloc_sweep(void **state) {
  struct sweep_arg a = {"two.test"};

  (void)state;
  assert_true(mts_test_alloc_sweep(sweep_mx, &a) > 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_mx_table),
      cmocka_unit_test(test_mx_query_bits),
      cmocka_unit_test(test_bad_args),
      cmocka_unit_test(test_tlsa_table),
      cmocka_unit_test(test_destroy_cancels),
      cmocka_unit_test(test_alloc_sweep),
  };

  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
