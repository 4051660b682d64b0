/*
 * test_net_cname.c - mts_net_dns_cname() (src/lib/net/net_cname.c)
 * against the loopback DNS fake of fakenet.h. The machine's resolver is
 * never used. `mtasts check` uses it to report a delegated `_mta-sts`
 * (check-txt-cname).
 */
#include "testutil.h"

#include "fakenet.h"

#include <mtasts/limits.h>
#include <mtasts/net.h>
#include <mtasts/net_cname.h>

/* Negative answers and failures (type 5 = CNAME). */
static const struct fake_dns_entry dns_table[] = {
    {"_mta-sts.plain.test", 5, 0, false, false, {{NULL}}},
    {"_mta-sts.nx.test", 5, 3, false, true, {{NULL}}},
    {"_mta-sts.servfail.test", 5, 2, false, false, {{NULL}}},
    {"_mta-sts.refused.test", 5, 5, false, false, {{NULL}}},
    {"_mta-sts.silent.test", 5, 0, true, false, {{NULL}}},
};

/* Answers with a CNAME record (owner = the question name). */
static const struct fake_dns_rrs dns_rrs[] = {
    {.name = "_mta-sts.alias.test",
     .type = 5,
     .cname = "_mta-sts.alias.provider.test"},
    {.name = "_mta-sts.signed.test",
     .type = 5,
     .ad = true,
     .cname = "Sts.Provider.Test."},
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

static void guard_fired(uv_timer_t *t) {
  *(bool *)t->data = true;
}

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

struct got {
  int *pending;
  int calls;
  enum mts_status st;
  bool ad;
  char target[MTS_DOMAIN_MAX + 2];
  bool has_target;
  bool has_errmsg;
};

static void cname_cb(void *arg, enum mts_status st, const char *target, bool ad,
                     const char *errmsg) {
  struct got *g = arg;

  g->calls++;
  g->st = st;
  g->ad = ad;
  g->has_target = target != NULL;
  (void)snprintf(g->target, sizeof(g->target), "%s",
                 target != NULL ? target : "");
  g->has_errmsg = errmsg != NULL && errmsg[0] != '\0';
  if (g->pending != NULL) {
    (*g->pending)--;
  }
}

static const struct {
  const char *id;
  const char *name;
  enum mts_status want;
  const char *want_target;
  bool want_ad;
} cases[] = {
    {"CN-1 one CNAME", "_mta-sts.alias.test", MTS_OK,
     "_mta-sts.alias.provider.test", false},
    /* The target as c-ares expands it: no trailing dot; case kept; AD. */
    {"CN-2 AD bit, trailing dot", "_mta-sts.signed.test", MTS_OK,
     "Sts.Provider.Test", true},
    {"CN-3 owner case and trailing dot in the query", "_MTA-STS.Alias.Test.",
     MTS_OK, "_mta-sts.alias.provider.test", false},
    {"CN-4 no CNAME (NODATA)", "_mta-sts.plain.test", MTS_ENODATA, "", false},
    {"CN-5 NXDOMAIN, authenticated denial keeps AD", "_mta-sts.nx.test",
     MTS_ENXDOMAIN, "", true},
    {"CN-6 SERVFAIL", "_mta-sts.servfail.test", MTS_ESERVFAIL, "", false},
    {"CN-7 REFUSED", "_mta-sts.refused.test", MTS_ESERVFAIL, "", false},
    {"CN-8 no answer: deadline", "_mta-sts.silent.test", MTS_ETIMEOUT, "",
     false},
};

static void test_table(void **state) {
  struct env e;
  struct got g[sizeof(cases) / sizeof(cases[0])];
  int pending = 0;
  size_t i;

  (void)state;
  env_init(&e);
  memset(g, 0, sizeof(g));
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    g[i].pending = &pending;
    pending++;
    assert_int_equal(mts_net_dns_cname(e.net, cases[i].name, cname_cb, &g[i]),
                     MTS_OK);
    assert_int_equal(g[i].calls, 0); /* never from inside the call */
  }
  run_until(&e.loop, &pending);
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    if (g[i].calls != 1) {
      fail_msg("%s: %d callbacks, want 1", cases[i].id, g[i].calls);
    }
    if (g[i].st != cases[i].want) {
      fail_msg("%s: got %s, want %s", cases[i].id, mts_status_name(g[i].st),
               mts_status_name(cases[i].want));
    }
    if (strcmp(g[i].target, cases[i].want_target) != 0 ||
        g[i].has_target != (cases[i].want == MTS_OK)) {
      fail_msg("%s: target got \"%s\", want \"%s\"", cases[i].id, g[i].target,
               cases[i].want_target);
    }
    if (g[i].ad != cases[i].want_ad) {
      fail_msg("%s: AD got %d, want %d", cases[i].id, g[i].ad,
               cases[i].want_ad);
    }
    if ((g[i].st != MTS_OK) != g[i].has_errmsg) {
      fail_msg("%s: errmsg %s, want it only on failure", cases[i].id,
               g[i].has_errmsg ? "set" : "missing");
    }
  }
  env_done(&e);
}

/* The query: QTYPE CNAME, RD and AD set, EDNS OPT. */
static void test_query_bits(void **state) {
  struct env e;
  struct got g;
  int pending = 1;
  uint8_t q[512];
  size_t qlen, qt;

  (void)state;
  env_init(&e);
  memset(&g, 0, sizeof(g));
  g.pending = &pending;
  assert_int_equal(
      mts_net_dns_cname(e.net, "_mta-sts.alias.test", cname_cb, &g), MTS_OK);
  run_until(&e.loop, &pending);
  assert_int_equal(g.st, MTS_OK);
  pthread_mutex_lock(&dns.mu);
  qlen = dns.last_query_len;
  memcpy(q, dns.last_query, qlen);
  pthread_mutex_unlock(&dns.mu);
  qt = 12 + sizeof("_mta-sts.alias.test") + 1; /* labels + root */
  assert_true(qlen > qt + 4);
  assert_true((q[2] & 0x01) != 0);             /* RD */
  assert_true((q[3] & 0x20) != 0);             /* AD */
  assert_int_equal(q[10] << 8 | q[11], 1);     /* OPT */
  assert_int_equal(q[qt] << 8 | q[qt + 1], 5); /* CNAME */
  env_done(&e);
}

static void test_bad_args(void **state) {
  struct env e;
  struct got g;
  char longname[300];

  (void)state;
  env_init(&e);
  memset(&g, 0, sizeof(g));
  memset(longname, 'a', sizeof(longname) - 1);
  longname[sizeof(longname) - 1] = '\0';
  assert_int_equal(mts_net_dns_cname(e.net, "", cname_cb, &g), MTS_EINVAL);
  assert_int_equal(mts_net_dns_cname(e.net, "a b.test", cname_cb, &g),
                   MTS_EINVAL);
  assert_int_equal(mts_net_dns_cname(e.net, longname, cname_cb, &g),
                   MTS_EINVAL);
  assert_int_equal(mts_net_dns_cname(e.net, NULL, cname_cb, &g), MTS_EINVAL);
  assert_int_equal(mts_net_dns_cname(e.net, "x.test", NULL, &g), MTS_EINVAL);
  assert_int_equal(mts_net_dns_cname(NULL, "x.test", cname_cb, &g), MTS_EINVAL);
  assert_int_equal(g.calls, 0);
  env_done(&e);
}

/* Destroying the net ends a pending lookup with MTS_ECANCELED, once. */
static void test_destroy_cancels(void **state) {
  struct env e;
  struct got g;

  (void)state;
  env_init(&e);
  memset(&g, 0, sizeof(g));
  assert_int_equal(
      mts_net_dns_cname(e.net, "_mta-sts.silent.test", cname_cb, &g), MTS_OK);
  mts_net_destroy(e.net);
  e.net = NULL;
  assert_int_equal(g.calls, 1);
  assert_int_equal(g.st, MTS_ECANCELED);
  assert_false(g.has_target);
  assert_int_equal(uv_run(&e.loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(g.calls, 1);
  assert_int_equal(uv_loop_close(&e.loop), 0);
  mts_ctx_destroy(e.ctx);
}

static enum mts_status sweep_cname(struct mts_ctx *ctx, void *arg) {
  struct env e;
  struct got g;
  int pending = 1;
  enum mts_status st;

  (void)arg;
  memset(&e, 0, sizeof(e));
  memset(&g, 0, sizeof(g));
  g.pending = &pending;
  st = env_start(&e, ctx);
  if (st == MTS_OK) {
    st = mts_net_dns_cname(e.net, "_mta-sts.alias.test", cname_cb, &g);
    if (st == MTS_OK) {
      run_until(&e.loop, &pending);
      st = g.st;
      if (st == MTS_OK &&
          strcmp(g.target, "_mta-sts.alias.provider.test") != 0) {
        fail_msg("sweep: target got \"%s\"", g.target);
      }
    }
  }
  env_finish(&e);
  return st;
}

static void test_alloc_sweep(void **state) {
  (void)state;
  assert_true(mts_test_alloc_sweep(sweep_cname, NULL) > 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_table),
      cmocka_unit_test(test_query_bits),
      cmocka_unit_test(test_bad_args),
      cmocka_unit_test(test_destroy_cancels),
      cmocka_unit_test(test_alloc_sweep),
  };

  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
