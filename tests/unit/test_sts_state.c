/*
 * test_sts_state.c - the cache and refresh state machine (RFC 8461 3.1,
 * 3.3, 5.1, 10.2; RFC-CHECKLIST 3.5 vectors C01..C17, F25, FETCH-9..14,
 * AMBIG-CACHE-1, AMBIG-POL-5, AMBIG-TXT-3).
 *
 * Each scenario is a script of steps run against one entry; the clock is
 * an argument, so the scripts jump forward in time instead of sleeping.
 */
#include "testutil.h"

#define T0 INT64_C(1700000000)
#define DAY INT64_C(86400)
#define BACKOFF MTS_STS_FETCH_BACKOFF

enum step_op {
  END = 0,
  DECIDE,   /* decide(txt, id, t) -> want fetch, want apply_cached */
  FETCHED,  /* fetched(id, mode, max_age, t) -> want keep */
  FAILED,   /* fetch_failed(id, t) */
  VALID,    /* entry_valid(t) -> want */
  MAYFETCH, /* may_fetch(id, t) -> want */
  REFRESH,  /* refresh_due(interval = arg, t) -> want */
  ALERT,    /* alert_on_failure() -> want */
  EXPIRES,  /* entry_expires() == T0 + arg */
  CHECK     /* has_policy == want, id, mode, fetched_at == T0 + t */
};

struct step {
  enum step_op op;
  enum mts_sts_txt_outcome txt;
  const char *id;
  int64_t t;   /* time, as an offset from T0 */
  int64_t arg; /* max_age, refresh interval or expiry offset */
  enum mts_sts_mode mode;
  int want;    /* first expected boolean */
  int want2;   /* second expected boolean (DECIDE: apply_cached) */
};

#define S_DECIDE(txt, id, t, fetch, apply)                                     \
  {DECIDE, MTS_STS_TXT_OUT_##txt, id, t, 0, MTS_STS_MODE_UNKNOWN, fetch, apply}
#define S_FETCHED(id, mode, max_age, t, keep)                                  \
  {FETCHED, MTS_STS_TXT_OUT_VALID, id, t, max_age, MTS_STS_MODE_##mode, keep, 0}
#define S_FAILED(id, t)                                                        \
  {FAILED, MTS_STS_TXT_OUT_VALID, id, t, 0, MTS_STS_MODE_UNKNOWN, 0, 0}
#define S_VALID(t, want)                                                       \
  {VALID, MTS_STS_TXT_OUT_VALID, NULL, t, 0, MTS_STS_MODE_UNKNOWN, want, 0}
#define S_MAYFETCH(id, t, want)                                                \
  {MAYFETCH, MTS_STS_TXT_OUT_VALID, id, t, 0, MTS_STS_MODE_UNKNOWN, want, 0}
#define S_REFRESH(interval, t, want)                                           \
  {REFRESH, MTS_STS_TXT_OUT_VALID, NULL, t, interval, MTS_STS_MODE_UNKNOWN,    \
   want, 0}
#define S_ALERT(want)                                                          \
  {ALERT, MTS_STS_TXT_OUT_VALID, NULL, 0, 0, MTS_STS_MODE_UNKNOWN, want, 0}
#define S_EXPIRES(off)                                                         \
  {EXPIRES, MTS_STS_TXT_OUT_VALID, NULL, 0, off, MTS_STS_MODE_UNKNOWN, 0, 0}
#define S_CHECK(has, id, mode, fetched_off)                                    \
  {CHECK, MTS_STS_TXT_OUT_VALID, id, fetched_off, 0, MTS_STS_MODE_##mode,      \
   has, 0}
#define S_END {END, MTS_STS_TXT_OUT_VALID, NULL, 0, 0, MTS_STS_MODE_UNKNOWN, 0, 0}

/* A cached enforce policy "A" fetched at T0 with max_age one day. */
#define CACHE_A_DAY S_FETCHED("A", ENFORCE, DAY, 0, 1)

struct scenario {
  const char *name;
  struct step steps[16];
};

static const struct scenario scenarios[] = {
    {"C01 no cache, TXT A, GET OK -> cached and applied",
     {S_VALID(0, 0), S_DECIDE(VALID, "A", 0, 1, 0),
      S_FETCHED("A", ENFORCE, DAY, 0, 1), S_CHECK(1, "A", ENFORCE, 0),
      S_EXPIRES(DAY), S_VALID(0, 1), S_VALID(DAY - 1, 1), S_VALID(DAY, 0),
      S_ALERT(1), S_END}},
    {"C02 valid cache, same id -> apply cached, no fetch",
     {CACHE_A_DAY, S_DECIDE(VALID, "A", 3600, 0, 1),
      S_DECIDE(VALID, "A", DAY - 1, 0, 1), S_CHECK(1, "A", ENFORCE, 0),
      S_END}},
    {"C04 F25 valid cache, new id B, GET fails -> apply A, back off B",
     {CACHE_A_DAY, S_DECIDE(VALID, "B", 100, 1, 1), S_FAILED("B", 100),
      S_CHECK(1, "A", ENFORCE, 0), S_VALID(100, 1),
      S_DECIDE(VALID, "B", 101, 0, 1),
      S_DECIDE(VALID, "B", 100 + BACKOFF - 1, 0, 1),
      S_DECIDE(VALID, "B", 100 + BACKOFF, 1, 1), S_ALERT(1), S_END}},
    {"C05 valid cache, new id B, body invalid -> apply A",
     {CACHE_A_DAY, S_DECIDE(VALID, "B", 50, 1, 1), S_FAILED("B", 50),
      S_CHECK(1, "A", ENFORCE, 0), S_DECIDE(VALID, "B", 60, 0, 1),
      S_EXPIRES(DAY), S_END}},
    {"C07 valid cache, two TXT records (invalid) -> apply A",
     {CACHE_A_DAY, S_DECIDE(INVALID, NULL, 10, 0, 1), S_END}},
    {"C08 valid cache, TXT SERVFAIL -> apply A",
     {CACHE_A_DAY, S_DECIDE(TEMPFAIL, NULL, 10, 0, 1), S_END}},
    {"FETCH-12 valid cache, TXT absent -> apply A",
     {CACHE_A_DAY, S_DECIDE(ABSENT, NULL, DAY - 1, 0, 1),
      S_CHECK(1, "A", ENFORCE, 0), S_END}},
    {"C10 expired cache, TXT A, GET fails -> no MTA-STS",
     {CACHE_A_DAY, S_DECIDE(VALID, "A", DAY, 1, 0), S_FAILED("A", DAY),
      S_DECIDE(VALID, "A", DAY + 1, 0, 0), S_CHECK(1, "A", ENFORCE, 0),
      S_DECIDE(VALID, "A", DAY + BACKOFF, 1, 0), S_END}},
    {"C11 FETCH-9 no cache, TXT A, GET fails -> no MTA-STS, back off",
     {S_DECIDE(VALID, "A", 0, 1, 0), S_FAILED("A", 0),
      S_CHECK(0, "", UNKNOWN, -T0), S_DECIDE(VALID, "A", BACKOFF - 1, 0, 0),
      S_MAYFETCH("A", BACKOFF - 1, 0), S_DECIDE(VALID, "A", BACKOFF, 1, 0),
      S_ALERT(0), S_END}},
    {"C13 new id fetches mode none -> replaces enforce, no alerts",
     {CACHE_A_DAY, S_DECIDE(VALID, "B", 10, 1, 1),
      S_FETCHED("B", NONE, 3600, 10, 1), S_CHECK(1, "B", NONE, 10),
      S_ALERT(0), S_DECIDE(VALID, "B", 20, 0, 1), S_VALID(3609, 1),
      S_VALID(3610, 0), S_REFRESH(DAY, 1810, 1), S_END}},
    {"C14 daily refresh, same id, GET OK -> expiry extended",
     {S_FETCHED("A", ENFORCE, 30 * DAY, 0, 1), S_REFRESH(DAY, DAY - 1, 0),
      S_REFRESH(DAY, DAY, 1), S_DECIDE(VALID, "A", DAY, 0, 1),
      S_FETCHED("A", ENFORCE, 30 * DAY, DAY, 1), S_CHECK(1, "A", ENFORCE, DAY),
      S_EXPIRES(31 * DAY), S_REFRESH(DAY, DAY + 1, 0),
      S_REFRESH(DAY, 2 * DAY, 1), S_END}},
    {"C16 ids compare case-sensitively: abc vs ABC -> fetch",
     {S_FETCHED("abc", ENFORCE, DAY, 0, 1), S_DECIDE(VALID, "ABC", 10, 1, 1),
      S_DECIDE(VALID, "abc", 10, 0, 1), S_END}},
    {"C17 no implied ordering: 20180102 -> 20170101 fetches",
     {S_FETCHED("20180102", ENFORCE, DAY, 0, 1),
      S_DECIDE(VALID, "20170101", 10, 1, 1), S_END}},
    {"F25 backoff is per id: C may be fetched while B backs off",
     {S_FAILED("B", 0), S_MAYFETCH("B", 0, 0), S_MAYFETCH("B", BACKOFF - 1, 0),
      S_MAYFETCH("C", 0, 1), S_DECIDE(VALID, "C", 1, 1, 0),
      S_MAYFETCH("B", BACKOFF, 1), S_MAYFETCH("b", 1, 1), S_END}},
    {"F25 the last failed id is remembered, success of another keeps it",
     {CACHE_A_DAY, S_FAILED("C", 10), S_FETCHED("B", ENFORCE, DAY, 20, 1),
      S_MAYFETCH("C", 21, 0), S_FETCHED("C", ENFORCE, DAY, 30, 1),
      S_MAYFETCH("C", 31, 1), S_END}},
    {"FETCH-9 a clock that went back does not extend the backoff",
     {S_FAILED("B", 0), S_MAYFETCH("B", -1, 1), S_END}},
    {"AMBIG-CACHE-1 an unchanged id never extends the expiry",
     /* postfix-mta-sts-resolver bumps the timestamp on NOT_CHANGED; then
      * the decision at T0+DAY would still apply the cache. */
     {CACHE_A_DAY, S_DECIDE(VALID, "A", DAY / 2, 0, 1),
      S_DECIDE(VALID, "A", DAY - 1, 0, 1), S_CHECK(1, "A", ENFORCE, 0),
      S_EXPIRES(DAY), S_DECIDE(VALID, "A", DAY, 1, 0), S_VALID(DAY, 0),
      S_FAILED("A", DAY), S_CHECK(1, "A", ENFORCE, 0), S_EXPIRES(DAY),
      S_END}},
    {"AMBIG-POL-5 max_age 0 is applied once and not cached",
     {S_DECIDE(VALID, "A", 0, 1, 0), S_FETCHED("A", ENFORCE, 0, 0, 0),
      S_CHECK(0, "", UNKNOWN, -T0), S_VALID(0, 0), S_EXPIRES(-T0),
      S_DECIDE(VALID, "A", 1, 1, 0), S_REFRESH(DAY, 1, 0), S_END}},
    {"AMBIG-POL-5 max_age 0 supersedes a cached policy",
     {CACHE_A_DAY, S_DECIDE(VALID, "B", 10, 1, 1),
      S_FETCHED("B", ENFORCE, 0, 10, 0), S_CHECK(0, "", UNKNOWN, -T0),
      S_DECIDE(VALID, "B", 11, 1, 0), S_DECIDE(ABSENT, NULL, 11, 0, 0),
      S_END}},
    {"AMBIG-TXT-3 no cache, TXT tempfail -> no fetch, nothing applied",
     {S_DECIDE(TEMPFAIL, NULL, 0, 0, 0), S_DECIDE(INVALID, NULL, 0, 0, 0),
      S_DECIDE(ABSENT, NULL, 0, 0, 0), S_END}},
    {"expired cache, TXT absent/tempfail -> kept, not applied",
     {CACHE_A_DAY, S_DECIDE(ABSENT, NULL, DAY, 0, 0),
      S_DECIDE(TEMPFAIL, NULL, DAY + 1, 0, 0), S_CHECK(1, "A", ENFORCE, 0),
      S_ALERT(1), S_REFRESH(DAY, DAY + 1, 1), S_END}},
    {"valid TXT outcome without a usable id counts as invalid",
     {CACHE_A_DAY, S_DECIDE(VALID, NULL, 10, 0, 1),
      S_DECIDE(VALID, "", 10, 0, 1),
      S_DECIDE(VALID, "123456789012345678901234567890123", 10, 0, 1),
      S_DECIDE(VALID, "12345678901234567890123456789012", 10, 1, 1),
      S_MAYFETCH(NULL, 10, 0), S_MAYFETCH("", 10, 0), S_END}},
    {"unusable id is neither cached nor recorded as failed",
     {CACHE_A_DAY, S_FETCHED(NULL, ENFORCE, DAY, 10, 0),
      S_FETCHED("", ENFORCE, DAY, 10, 0), S_CHECK(1, "A", ENFORCE, 0),
      S_FAILED("", 10), S_FAILED(NULL, 10), S_MAYFETCH("B", 11, 1), S_END}},
    {"refresh at half-life for short max_age, never without policy",
     {S_REFRESH(DAY, 0, 0), S_FETCHED("A", TESTING, 3600, 0, 1),
      S_REFRESH(DAY, 1799, 0), S_REFRESH(DAY, 1800, 1),
      S_REFRESH(-5, 0, 1), S_REFRESH(0, 0, 1), S_ALERT(1), S_END}},
    {"successful fetch of the failed id clears its backoff",
     {S_FAILED("B", 0), S_FETCHED("B", ENFORCE, DAY, 1, 1),
      S_MAYFETCH("B", 2, 1), S_CHECK(1, "B", ENFORCE, 1), S_END}},
    {"max_age above 31557600 is clamped",
     {S_FETCHED("A", ENFORCE, INT64_C(9999999999), 0, 1),
      S_EXPIRES(MTS_STS_MAX_AGE_MAX), S_VALID(MTS_STS_MAX_AGE_MAX - 1, 1),
      S_VALID(MTS_STS_MAX_AGE_MAX, 0), S_END}},
};

/* Local: mts_sts_mode_str() lives in sts_policy.c, which this test does
 * not need. */
static const char *mode_name(enum mts_sts_mode m) {
  static const char *const names[] = {"unknown", "none", "testing",
                                      "enforce"};

  return (unsigned)m < 4 ? names[m] : "?";
}

static void run_scenario(const struct scenario *sc) {
  struct mts_sts_entry e;
  size_t i;

  mts_sts_entry_init(&e);
  for (i = 0; sc->steps[i].op != END; i++) {
    const struct step *s = &sc->steps[i];
    int64_t now = T0 + s->t;
    struct mts_sts_decision d = {true, true};
    int got;

    switch (s->op) {
    case DECIDE:
      mts_sts_state_decide(&e, s->txt, s->id, now, &d);
      if ((int)d.fetch != s->want || (int)d.apply_cached != s->want2) {
        fail_msg("%s: step %zu decide(%s, t0%+lld): got fetch=%d apply=%d, "
                 "want fetch=%d apply=%d",
                 sc->name, i, s->id ? s->id : "-", (long long)s->t,
                 (int)d.fetch, (int)d.apply_cached, s->want, s->want2);
      }
      break;
    case FETCHED:
      got = mts_sts_state_fetched(&e, s->id, s->mode, s->arg, now);
      if (got != s->want) {
        fail_msg("%s: step %zu fetched: got keep=%d, want %d", sc->name, i,
                 got, s->want);
      }
      break;
    case FAILED:
      mts_sts_state_fetch_failed(&e, s->id, now);
      break;
    case VALID:
      got = mts_sts_entry_valid(&e, now);
      if (got != s->want) {
        fail_msg("%s: step %zu valid(t0%+lld): got %d, want %d", sc->name, i,
                 (long long)s->t, got, s->want);
      }
      break;
    case MAYFETCH:
      got = mts_sts_state_may_fetch(&e, s->id, now);
      if (got != s->want) {
        fail_msg("%s: step %zu may_fetch(%s, t0%+lld): got %d, want %d",
                 sc->name, i, s->id ? s->id : "-", (long long)s->t, got,
                 s->want);
      }
      break;
    case REFRESH:
      got = mts_sts_state_refresh_due(&e, s->arg, now);
      if (got != s->want) {
        fail_msg("%s: step %zu refresh_due(%lld, t0%+lld): got %d, want %d",
                 sc->name, i, (long long)s->arg, (long long)s->t, got,
                 s->want);
      }
      break;
    case ALERT:
      got = mts_sts_state_alert_on_failure(&e);
      if (got != s->want) {
        fail_msg("%s: step %zu alert: got %d, want %d", sc->name, i, got,
                 s->want);
      }
      break;
    case EXPIRES:
      if (mts_sts_entry_expires(&e) != T0 + s->arg) {
        fail_msg("%s: step %zu expires: got t0%+lld, want t0%+lld", sc->name,
                 i, (long long)(mts_sts_entry_expires(&e) - T0),
                 (long long)s->arg);
      }
      break;
    case CHECK:
      if ((int)e.has_policy != s->want || strcmp(e.id, s->id) != 0 ||
          e.mode != s->mode || e.fetched_at != T0 + s->t) {
        fail_msg("%s: step %zu entry: got {%d, \"%s\", %s, t0%+lld}, "
                 "want {%d, \"%s\", %s, t0%+lld}",
                 sc->name, i, (int)e.has_policy, e.id,
                 mode_name(e.mode), (long long)(e.fetched_at - T0),
                 s->want, s->id, mode_name(s->mode), (long long)s->t);
      }
      break;
    case END:
      break;
    }
  }
}

static void test_state_scenarios(void **state) {
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
    run_scenario(&scenarios[i]);
  }
}

static void test_state_init(void **state) {
  struct mts_sts_entry e;

  (void)state;
  memset(&e, 0x5a, sizeof(e));
  mts_sts_entry_init(&e);
  assert_false(e.has_policy);
  assert_string_equal(e.id, "");
  assert_string_equal(e.failed_id, "");
  assert_int_equal(e.failed_at, 0);
  assert_int_equal(mts_sts_entry_expires(&e), 0);
  assert_false(mts_sts_entry_valid(&e, T0));
  assert_false(mts_sts_state_alert_on_failure(&e));
  assert_false(mts_sts_state_refresh_due(&e, DAY, T0));
  /* A failure at t = 0 is a failure: failed_at 0 is not "never". */
  mts_sts_state_fetch_failed(&e, "A", 0);
  assert_false(mts_sts_state_may_fetch(&e, "A", 10));
}

/* Entries come back from SQLite/Redis: corrupt ones must not crash,
 * overflow or read past the id fields. */
static void test_state_corrupt_entry(void **state) {
  struct mts_sts_entry e;
  struct mts_sts_decision d;

  (void)state;
  mts_sts_entry_init(&e);
  e.has_policy = true;
  memset(e.id, 'a', sizeof(e.id)); /* no NUL */
  memset(e.failed_id, 'b', sizeof(e.failed_id));
  e.fetched_at = INT64_MAX - 10;
  e.max_age = INT64_MAX;
  e.failed_at = INT64_MAX - 1;
  assert_int_equal(mts_sts_entry_expires(&e), INT64_MAX);
  assert_true(mts_sts_entry_valid(&e, T0));
  mts_sts_state_decide(&e, MTS_STS_TXT_OUT_VALID,
                       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", T0, &d);
  assert_true(d.fetch); /* an unterminated id equals nothing */
  assert_true(d.apply_cached);
  assert_true(mts_sts_state_may_fetch(&e, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
                                      INT64_MAX));
  assert_false(mts_sts_state_refresh_due(&e, DAY, T0));
  e.max_age = -5;
  assert_false(mts_sts_entry_valid(&e, T0));
  assert_int_equal(mts_sts_entry_expires(&e), INT64_MAX - 10);
  assert_true(mts_sts_state_refresh_due(&e, DAY, INT64_MAX - 10));
  /* NULL entry and decision */
  mts_sts_state_decide(NULL, MTS_STS_TXT_OUT_VALID, "A", T0, &d);
  assert_true(d.fetch);
  assert_false(d.apply_cached);
  mts_sts_state_decide(&e, MTS_STS_TXT_OUT_VALID, "A", T0, NULL);
  assert_false(mts_sts_entry_valid(NULL, T0));
  assert_false(mts_sts_state_fetched(NULL, "A", MTS_STS_MODE_ENFORCE, 1, T0));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_state_scenarios),
      cmocka_unit_test(test_state_init),
      cmocka_unit_test(test_state_corrupt_entry),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
