/*
 * test_mtastsd_dane.c - mtastsd's DANE detection (src/mtastsd/dane.c):
 * the pure rules, then whole checks against the loopback DNS fake of
 * fakenet.h (MX and TLSA answers with and without the AD bit). The
 * machine's resolver is never used. Decisions: docs/decisions.md
 * (DN-1 ... DN-7, cited per vector).
 */
#include "testutil.h"

#include "fakenet.h"

#include <mtasts/net.h>

#include "dane.h"

/* ---------------------------------------------------------------- pure */

static void test_classify(void **state) {
  static const struct {
    const char *id;
    enum mts_status st;
    size_t count;
    bool ad;
    enum mtastsd_dane_host want;
  } v[] = {
      {"DN-2 validated records", MTS_OK, 2, true, MTASTSD_DANE_HOST_TLSA},
      {"DN-2 records without AD", MTS_OK, 1, false, MTASTSD_DANE_HOST_NONE},
      {"DN-2 OK, zero records", MTS_OK, 0, true, MTASTSD_DANE_HOST_NONE},
      {"DN-2 NODATA", MTS_ENODATA, 0, true, MTASTSD_DANE_HOST_NONE},
      {"DN-2 NXDOMAIN", MTS_ENXDOMAIN, 0, true, MTASTSD_DANE_HOST_NONE},
      {"DN-3 SERVFAIL (bogus)", MTS_ESERVFAIL, 0, false,
       MTASTSD_DANE_HOST_FAILING},
      {"DN-6 timeout", MTS_ETIMEOUT, 0, false, MTASTSD_DANE_HOST_UNKNOWN},
      {"DN-6 connection refused", MTS_ECONNECT, 0, false,
       MTASTSD_DANE_HOST_UNKNOWN},
      {"DN-6 malformed", MTS_EIO, 0, false, MTASTSD_DANE_HOST_UNKNOWN},
      {"DN-6 cancelled", MTS_ECANCELED, 0, false, MTASTSD_DANE_HOST_UNKNOWN},
  };
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
    enum mtastsd_dane_host got =
        mtastsd_dane_classify_tlsa(v[i].st, v[i].count, v[i].ad);

    if (got != v[i].want) {
      fail_msg("%s: got %d, want %d", v[i].id, (int)got, (int)v[i].want);
    }
  }
}

static void test_combine(void **state) {
#define T MTASTSD_DANE_HOST_TLSA
#define F MTASTSD_DANE_HOST_FAILING
#define N MTASTSD_DANE_HOST_NONE
#define U MTASTSD_DANE_HOST_UNKNOWN
  static const struct {
    const char *id;
    size_t n;
    enum mtastsd_dane_host h[3];
    enum mtastsd_dane_result want;
  } v[] = {
      {"DN-4 one host with TLSA", 1, {T}, MTASTSD_DANE_ALL},
      {"DN-4 every host", 3, {T, T, T}, MTASTSD_DANE_ALL},
      {"DN-3 failing counts as DANE", 2, {T, F}, MTASTSD_DANE_ALL},
      {"DN-4 some hosts: partial", 2, {T, N}, MTASTSD_DANE_PARTIAL},
      {"DN-4 failing and none: partial", 2, {N, F}, MTASTSD_DANE_PARTIAL},
      {"DN-4 no host", 2, {N, N}, MTASTSD_DANE_NONE},
      {"DN-6 any unknown", 3, {T, U, T}, MTASTSD_DANE_INCONCLUSIVE},
      {"DN-6 unknown beats none", 2, {N, U}, MTASTSD_DANE_INCONCLUSIVE},
      {"no hosts at all", 0, {N}, MTASTSD_DANE_NONE},
  };
#undef T
#undef F
#undef N
#undef U
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
    enum mtastsd_dane_result got = mtastsd_dane_combine(v[i].h, v[i].n);

    if (got != v[i].want) {
      fail_msg("%s: got %s, want %s", v[i].id, mtastsd_dane_result_str(got),
               mtastsd_dane_result_str(v[i].want));
    }
  }
  assert_string_equal(mtastsd_dane_result_str(MTASTSD_DANE_ALL), "dane");
  assert_string_equal(mtastsd_dane_result_str(MTASTSD_DANE_PARTIAL), "partial");
}

/* ---------------------------------------------------------------- DNS */

/* Negative answers and silence: {name, type, rcode, drop, ad, txt}. */
static const struct fake_dns_entry dns_table[] = {
    {"_25._tcp.mx2.partial.test", 52, 3, false, true, {{NULL}}},
    {"_25._tcp.mx.none.test", 52, 3, false, true, {{NULL}}},
    /* No MX (NODATA): the implicit MX is the domain (RFC 5321 5.1). */
    {"implicit.test", 15, 0, false, true, {{NULL}}},
    {"implicitinsecure.test", 15, 0, false, false, {{NULL}}},
    {"nx.test", 15, 3, false, true, {{NULL}}},
    {"_25._tcp.mx.bogus.test", 52, 2, false, false, {{NULL}}},
    {"silent.test", 15, 0, true, false, {{NULL}}},
    {"mxservfail.test", 15, 2, false, false, {{NULL}}},
    {"_25._tcp.mx.slowtlsa.test", 52, 0, true, false, {{NULL}}},
};

/* Records: {name, type, ad, mx, mx_pref, tlsa, cname}. */
static const struct fake_dns_rrs dns_rrs[] = {
    {"all.test", 15, true, {"mx1.all.test", "MX2.all.test."}, {10, 20}, 0,
     NULL},
    {"_25._tcp.mx1.all.test", 52, true, {NULL}, {0}, 1, NULL},
    {"_25._tcp.mx2.all.test", 52, true, {NULL}, {0}, 2, NULL},
    {"partial.test", 15, true, {"mx1.partial.test", "mx2.partial.test"},
     {10, 20}, 0, NULL},
    {"_25._tcp.mx1.partial.test", 52, true, {NULL}, {0}, 1, NULL},
    {"none.test", 15, true, {"mx.none.test"}, {10}, 0, NULL},
    /* TLSA validated, but found through an MX RRset that is not. */
    {"insecuremx.test", 15, false, {"mx.insecuremx.test"}, {10}, 0, NULL},
    {"_25._tcp.mx.insecuremx.test", 52, true, {NULL}, {0}, 1, NULL},
    {"insecuretlsa.test", 15, true, {"mx.insecuretlsa.test"}, {10}, 0, NULL},
    {"_25._tcp.mx.insecuretlsa.test", 52, false, {NULL}, {0}, 1, NULL},
    {"_25._tcp.implicit.test", 52, true, {NULL}, {0}, 1, NULL},
    {"_25._tcp.implicitinsecure.test", 52, true, {NULL}, {0}, 1, NULL},
    {"nullmx.test", 15, true, {""}, {0}, 0, NULL},
    {"bogus.test", 15, true, {"mx.bogus.test"}, {10}, 0, NULL},
    {"slowtlsa.test", 15, true, {"mx.slowtlsa.test"}, {10}, 0, NULL},
    /* The same host twice (preferences differ): one TLSA lookup. */
    {"dup.test", 15, true, {"mx.dup.test", "mx.dup.test."}, {10, 20}, 0,
     NULL},
    {"_25._tcp.mx.dup.test", 52, true, {NULL}, {0}, 1, NULL},
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

struct note {
  int calls;
  enum mtastsd_dane_result last;
  bool changed;
  char domain[64];
};

struct env {
  struct mts_test_alloc alloc;
  struct mts_ctx *ctx;
  uv_loop_t loop;
  struct mts_net *net;
  struct mtastsd_dane *dane;
  struct note note;
};

static void on_note(void *arg, const char *domain,
                    enum mtastsd_dane_result r, const char *reason,
                    bool changed) {
  struct note *n = arg;

  assert_non_null(reason);
  assert_true(reason[0] != '\0');
  n->calls++;
  n->last = r;
  n->changed = changed;
  (void)snprintf(n->domain, sizeof(n->domain), "%s", domain);
}

/* \p dns_ms: the DNS timeout (400 ms lets the DN-6 rows time out). */
static void env_init_dns(struct env *e, size_t cap, uint32_t recheck_s,
                         uint32_t dns_ms) {
  struct mts_net_options o;

  memset(e, 0, sizeof(*e));
  e->ctx = mts_test_ctx(&e->alloc, 0);
  assert_int_equal(uv_loop_init(&e->loop), 0);
  mts_net_options_init(&o);
  o.resolver = resolver;
  o.dns_timeout_ms = mts_test_ms(dns_ms);
  assert_int_equal(mts_net_create(e->ctx, &e->loop, &o, &e->net), MTS_OK);
  assert_int_equal(mtastsd_dane_create(&e->loop, e->net, cap, recheck_s,
                                       on_note, &e->note, &e->dane),
                   0);
}

static void env_init(struct env *e, size_t cap, uint32_t recheck_s) {
  env_init_dns(e, cap, recheck_s, 400);
}

static void env_done(struct env *e) {
  mtastsd_dane_destroy(e->dane);
  mts_net_destroy(e->net);
  assert_int_equal(uv_run(&e->loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(uv_loop_close(&e->loop), 0);
  mts_ctx_destroy(e->ctx);
}

static void guard_fired(uv_timer_t *t) { *(bool *)t->data = true; }

/* Run the loop until *count reaches want (10 s cap). The guard keeps the
 * loop alive: with nothing else pending, it is what ends the wait (an
 * unreferenced guard made uv_run() return at once, and this spin). */
static void run_until(uv_loop_t *loop, const int *count, int want) {
  uv_timer_t guard;
  bool expired = false;

  assert_int_equal(uv_timer_init(loop, &guard), 0);
  guard.data = &expired;
  assert_int_equal(uv_timer_start(&guard, guard_fired, mts_test_ms(10000), 0),
                   0);
  while (*count < want && !expired) {
    (void)uv_run(loop, UV_RUN_ONCE);
  }
  uv_close((uv_handle_t *)&guard, NULL);
  (void)uv_run(loop, UV_RUN_NOWAIT);
  if (expired) {
    fail_msg("loop did not finish: %d of %d", *count, want);
  }
}

struct woke {
  int calls;
  enum mtastsd_dane_result r;
  char reason[256];
};

static void on_wake(void *arg, enum mtastsd_dane_result r, const char *reason) {
  struct woke *w = arg;

  w->calls++;
  w->r = r;
  (void)snprintf(w->reason, sizeof(w->reason), "%s", reason);
}

static const struct {
  const char *id;
  const char *domain;
  enum mtastsd_dane_result want;  /* the cached result */
  enum mtastsd_dane_result note;  /* what the check reported */
  const char *reason_has;
} check_cases[] = {
    {"DN-4 every MX host has validated TLSA", "all.test", MTASTSD_DANE_ALL,
     MTASTSD_DANE_ALL, "all 2 MX host(s)"},
    {"DN-4 one of two hosts: partial", "partial.test", MTASTSD_DANE_PARTIAL,
     MTASTSD_DANE_PARTIAL, "mx2.partial.test has none"},
    {"DN-2 no TLSA", "none.test", MTASTSD_DANE_NONE, MTASTSD_DANE_NONE,
     "no validated TLSA"},
    {"DN-1 MX RRset without AD", "insecuremx.test", MTASTSD_DANE_NONE,
     MTASTSD_DANE_NONE, "not DNSSEC-validated"},
    {"DN-2 TLSA without AD", "insecuretlsa.test", MTASTSD_DANE_NONE,
     MTASTSD_DANE_NONE, "no validated TLSA"},
    {"DN-1 implicit MX, validated NODATA", "implicit.test", MTASTSD_DANE_ALL,
     MTASTSD_DANE_ALL, "all 1 MX host(s)"},
    {"DN-1 implicit MX, NODATA without AD", "implicitinsecure.test",
     MTASTSD_DANE_NONE, MTASTSD_DANE_NONE, "not DNSSEC-validated"},
    {"DN-1 NXDOMAIN", "nx.test", MTASTSD_DANE_NONE, MTASTSD_DANE_NONE,
     "no such domain"},
    {"DN-1 null MX", "nullmx.test", MTASTSD_DANE_NONE, MTASTSD_DANE_NONE,
     "null MX"},
    {"DN-3 TLSA SERVFAIL (bogus)", "bogus.test", MTASTSD_DANE_ALL,
     MTASTSD_DANE_ALL, "bogus"},
    {"DN-6 MX timeout", "silent.test", MTASTSD_DANE_NONE,
     MTASTSD_DANE_INCONCLUSIVE, "inconclusive"},
    {"DN-6 MX SERVFAIL", "mxservfail.test", MTASTSD_DANE_NONE,
     MTASTSD_DANE_INCONCLUSIVE, "inconclusive"},
    {"DN-6 TLSA timeout", "slowtlsa.test", MTASTSD_DANE_NONE,
     MTASTSD_DANE_INCONCLUSIVE, "mx.slowtlsa.test"},
    {"DN-4 duplicate MX host", "dup.test", MTASTSD_DANE_ALL, MTASTSD_DANE_ALL,
     "all 1 MX host(s)"},
};

/* Each case: the first get waits; the waiter gets the result; a second
 * get answers at once from the cache, without a new check. */
static void test_checks(void **state) {
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(check_cases) / sizeof(check_cases[0]); i++) {
    struct env e;
    struct woke w;
    struct mtastsd_dane_wait *h = NULL;
    const char *reason = NULL;
    enum mtastsd_dane_result r;

    memset(&w, 0, sizeof(w));
    env_init(&e, 0, 60);
    r = mtastsd_dane_get(e.dane, check_cases[i].domain, on_wake, &w, &h,
                         &reason);
    if (r != MTASTSD_DANE_UNKNOWN || h == NULL || w.calls != 0) {
      fail_msg("%s: first get: got %s (wait %p, %d calls), want unknown, "
               "waiting",
               check_cases[i].id, mtastsd_dane_result_str(r), (void *)h,
               w.calls);
    }
    run_until(&e.loop, &w.calls, 1);
    if (w.r != check_cases[i].want ||
        strstr(w.reason, check_cases[i].reason_has) == NULL) {
      fail_msg("%s: got %s \"%s\", want %s with \"%s\"", check_cases[i].id,
               mtastsd_dane_result_str(w.r), w.reason,
               mtastsd_dane_result_str(check_cases[i].want),
               check_cases[i].reason_has);
    }
    if (e.note.calls != 1 || e.note.last != check_cases[i].note ||
        strcmp(e.note.domain, check_cases[i].domain) != 0) {
      fail_msg("%s: notify got %d call(s), %s for %s, want 1, %s",
               check_cases[i].id, e.note.calls,
               mtastsd_dane_result_str(e.note.last), e.note.domain,
               mtastsd_dane_result_str(check_cases[i].note));
    }
    r = mtastsd_dane_get(e.dane, check_cases[i].domain, on_wake, &w, &h,
                         &reason);
    if (r != check_cases[i].want || h != NULL || w.calls != 1) {
      fail_msg("%s: cached get: got %s (wait %p), want %s at once",
               check_cases[i].id, mtastsd_dane_result_str(r), (void *)h,
               mtastsd_dane_result_str(check_cases[i].want));
    }
    assert_int_equal(mtastsd_dane_count(e.dane), 1);
    env_done(&e);
  }
}

/* DN-7: concurrent first lookups share one check; a cancelled waiter is
 * never called; a get without a callback never waits. */
static void test_waiters(void **state) {
  struct env e;
  struct woke a, b, c;
  struct mtastsd_dane_wait *ha = NULL, *hb = NULL, *hc = NULL;
  const char *reason;
  int before;

  (void)state;
  memset(&a, 0, sizeof(a));
  memset(&b, 0, sizeof(b));
  memset(&c, 0, sizeof(c));
  /* Exact query counts: a 400 ms timeout (133 ms a try) would count a
   * descheduled thread's retry as one more query. */
  env_init_dns(&e, 0, 60, 5000);
  before = atomic_load(&dns.queries);
  assert_int_equal(mtastsd_dane_get(e.dane, "all.test", on_wake, &a, &ha,
                                    &reason),
                   MTASTSD_DANE_UNKNOWN);
  assert_int_equal(mtastsd_dane_get(e.dane, "all.test", on_wake, &b, &hb,
                                    &reason),
                   MTASTSD_DANE_UNKNOWN);
  assert_int_equal(mtastsd_dane_get(e.dane, "all.test", on_wake, &c, &hc,
                                    &reason),
                   MTASTSD_DANE_UNKNOWN);
  assert_int_equal(mtastsd_dane_get(e.dane, "all.test", NULL, NULL, NULL,
                                    &reason),
                   MTASTSD_DANE_UNKNOWN);
  assert_non_null(ha);
  assert_non_null(hb);
  assert_non_null(hc);
  mtastsd_dane_wait_cancel(hb);
  run_until(&e.loop, &e.note.calls, 1);
  assert_int_equal(a.calls, 1);
  assert_int_equal(b.calls, 0);
  assert_int_equal(c.calls, 1);
  assert_int_equal(a.r, MTASTSD_DANE_ALL);
  assert_int_equal(c.r, MTASTSD_DANE_ALL);
  /* One MX query and two TLSA queries for all of them. */
  assert_int_equal(atomic_load(&dns.queries) - before, 3);
  env_done(&e);
}

static void sleep_fired(uv_timer_t *t) { *(int *)t->data = 1; }

/* DN-5: a stale result is answered at once and re-checked in the
 * background. */
static void test_stale_recheck(void **state) {
  struct env e;
  struct woke w;
  struct mtastsd_dane_wait *h = NULL;
  const char *reason;
  uv_timer_t t;
  int slept = 0;

  (void)state;
  memset(&w, 0, sizeof(w));
  env_init(&e, 0, 1);
  (void)mtastsd_dane_get(e.dane, "all.test", on_wake, &w, &h, &reason);
  run_until(&e.loop, &w.calls, 1);
  assert_int_equal(e.note.calls, 1);
  assert_true(e.note.changed);
  /* Fresh: no new check. */
  assert_int_equal(mtastsd_dane_get(e.dane, "all.test", on_wake, &w, &h,
                                    &reason),
                   MTASTSD_DANE_ALL);
  assert_null(h);
  assert_int_equal(uv_timer_init(&e.loop, &t), 0);
  t.data = &slept;
  assert_int_equal(uv_timer_start(&t, sleep_fired, 1100, 0), 0);
  run_until(&e.loop, &slept, 1);
  uv_close((uv_handle_t *)&t, NULL);
  /* Stale: answered at once, a background check runs. */
  assert_int_equal(mtastsd_dane_get(e.dane, "all.test", on_wake, &w, &h,
                                    &reason),
                   MTASTSD_DANE_ALL);
  assert_null(h);
  assert_string_equal(reason, "all 2 MX host(s) have DNSSEC-validated TLSA "
                              "records");
  run_until(&e.loop, &e.note.calls, 2);
  assert_false(e.note.changed);
  assert_int_equal(w.calls, 1);
  env_done(&e);
}

/* cache_grace 0 (recheck_s 0): every get of a known domain is answered
 * from the cache at once and starts a background re-check, but only one
 * at a time per domain (gets while it runs start none). Before the fix,
 * 0 meant 60 s: no re-check ran and this timed out. */
static void test_recheck_every_get(void **state) {
  struct env e;
  struct woke w;
  struct mtastsd_dane_wait *h = NULL;
  const char *reason;
  int before;
  int i;

  (void)state;
  memset(&w, 0, sizeof(w));
  /* Exact query counts: a long DNS timeout (no retried query). */
  env_init_dns(&e, 0, 0, 5000);
  before = atomic_load(&dns.queries);
  (void)mtastsd_dane_get(e.dane, "all.test", on_wake, &w, &h, &reason);
  run_until(&e.loop, &w.calls, 1);
  assert_int_equal(e.note.calls, 1);
  assert_int_equal(atomic_load(&dns.queries) - before, 3);
  /* Three gets in a row: all answered at once, one re-check. */
  for (i = 0; i < 3; i++) {
    h = NULL;
    assert_int_equal(mtastsd_dane_get(e.dane, "all.test", on_wake, &w, &h,
                                      &reason),
                     MTASTSD_DANE_ALL);
    assert_null(h);
  }
  run_until(&e.loop, &e.note.calls, 2);
  assert_false(e.note.changed);
  assert_int_equal(atomic_load(&dns.queries) - before, 6);
  /* The re-check is over: the next get starts another. */
  assert_int_equal(
      mtastsd_dane_get(e.dane, "all.test", NULL, NULL, NULL, &reason),
      MTASTSD_DANE_ALL);
  run_until(&e.loop, &e.note.calls, 3);
  assert_int_equal(atomic_load(&dns.queries) - before, 9);
  assert_int_equal(w.calls, 1);
  env_done(&e);
}

/* The table stays within cap: the least recently used idle entry goes. */
static void test_cap(void **state) {
  static const char *const domains[] = {"none.test", "all.test", "nx.test"};
  struct env e;
  const char *reason;
  size_t i;

  (void)state;
  env_init(&e, 2, 60);
  for (i = 0; i < 3; i++) {
    (void)mtastsd_dane_get(e.dane, domains[i], NULL, NULL, NULL, &reason);
    run_until(&e.loop, &e.note.calls, (int)i + 1);
  }
  assert_int_equal(mtastsd_dane_count(e.dane), 2);
  /* none.test was evicted; all.test is still known. */
  assert_int_equal(
      mtastsd_dane_get(e.dane, "all.test", NULL, NULL, NULL, &reason),
      MTASTSD_DANE_ALL);
  env_done(&e);
}

/* Destroy with a check in flight and a waiter: the waiter gets NONE at
 * once, the check frees itself when the net ends it (ASan/valgrind
 * check the "no leak" part). */
static void test_destroy_in_flight(void **state) {
  struct env e;
  struct woke w;
  struct mtastsd_dane_wait *h = NULL;
  const char *reason;

  (void)state;
  memset(&w, 0, sizeof(w));
  env_init(&e, 0, 60);
  (void)mtastsd_dane_get(e.dane, "silent.test", on_wake, &w, &h, &reason);
  (void)mtastsd_dane_get(e.dane, "all.test", NULL, NULL, NULL, &reason);
  assert_non_null(h);
  mtastsd_dane_destroy(e.dane);
  assert_int_equal(w.calls, 1);
  assert_int_equal(w.r, MTASTSD_DANE_NONE);
  e.dane = NULL;
  env_done(&e);
  assert_int_equal(e.note.calls, 0);
}

static void test_bad_input(void **state) {
  struct env e;
  const char *reason = NULL;
  char longname[300];

  (void)state;
  env_init(&e, 0, 60);
  memset(longname, 'a', sizeof(longname) - 1);
  longname[sizeof(longname) - 1] = '\0';
  assert_int_equal(mtastsd_dane_get(e.dane, "", NULL, NULL, NULL, &reason),
                   MTASTSD_DANE_UNKNOWN);
  assert_int_equal(
      mtastsd_dane_get(e.dane, longname, NULL, NULL, NULL, &reason),
      MTASTSD_DANE_UNKNOWN);
  assert_int_equal(mtastsd_dane_get(e.dane, NULL, NULL, NULL, NULL, &reason),
                   MTASTSD_DANE_UNKNOWN);
  assert_int_equal(mtastsd_dane_get(NULL, "x.test", NULL, NULL, NULL, &reason),
                   MTASTSD_DANE_UNKNOWN);
  /* Not a name c-ares will send: no entry is kept. */
  assert_int_equal(
      mtastsd_dane_get(e.dane, "a b.test", NULL, NULL, NULL, &reason),
      MTASTSD_DANE_UNKNOWN);
  assert_int_equal(mtastsd_dane_count(e.dane), 0);
  mtastsd_dane_destroy(NULL);
  mtastsd_dane_wait_cancel(NULL);
  env_done(&e);
}

int main(void) {
  const struct CMUnitTest pure[] = {
      cmocka_unit_test(test_classify),
      cmocka_unit_test(test_combine),
  };
  const struct CMUnitTest dns_tests[] = {
      cmocka_unit_test(test_checks),
      cmocka_unit_test(test_waiters),
      cmocka_unit_test(test_stale_recheck),
      cmocka_unit_test(test_recheck_every_get),
      cmocka_unit_test(test_cap),
      cmocka_unit_test(test_destroy_in_flight),
      cmocka_unit_test(test_bad_input),
  };
  int rc = cmocka_run_group_tests_name("dane rules", pure, NULL, NULL);

  rc += cmocka_run_group_tests_name("dane checks", dns_tests, group_setup,
                                    group_teardown);
  return rc;
}
