/*
 * test_rpt_agg.c - the sending side's report store (rpt_agg.h): counts,
 * session de-duplication, UTC day boundaries, the report built exactly,
 * delivery state and lease (claim) semantics, an allocation sweep.
 */
#include "testutil.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mtasts/rpt_agg.h>
#include <mtasts/rpt_store.h>

/* 2026-11-27T00:00:00Z */
#define DAY0 INT64_C(1795737600)

struct fx {
  struct mts_test_alloc a;
  struct mts_ctx *ctx;
  char dir[64];
  char path[128];
};

static int fx_setup(void **state) {
  struct fx *f = calloc(1, sizeof(*f));

  assert_non_null(f);
  (void)snprintf(f->dir, sizeof(f->dir), "/tmp/test_rpt_agg.XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  (void)snprintf(f->path, sizeof(f->path), "%s/state.db", f->dir);
  f->ctx = mts_test_ctx(&f->a, 0);
  *state = f;
  return 0;
}

static int fx_teardown(void **state) {
  struct fx *f = *state;

  mts_ctx_destroy(f->ctx);
  mts_test_rm_db(f->path);
  (void)rmdir(f->dir);
  free(f);
  return 0;
}

static const char *const STS_LINES[] = {"version: STSv1", "mode: enforce",
                                        "mx: mail.example.com",
                                        "max_age: 86400"};
static const char *const STS_MX[] = {"mail.example.com"};
static const char *const STS_LINES2[] = {"version: STSv1", "mode: testing",
                                         "mx: *.example.com",
                                         "max_age: 86400"};
static const char *const STS_MX2[] = {"*.example.com"};

static const struct mts_rpt_failure F_CERT = {
    "certificate-expired", "192.0.2.1", "mail.example.com", NULL,
    "198.51.100.7",        0,           NULL,               NULL};
static const struct mts_rpt_failure F_STARTTLS = {
    "starttls-not-supported", NULL, "mail.example.com", "mail.example.com",
    "198.51.100.8",           0,    NULL,               NULL};

static struct mts_rpt_event ev_sts(int64_t t, bool ok,
                                   const struct mts_rpt_failure *fl, size_t n) {
  struct mts_rpt_event e;

  memset(&e, 0, sizeof(e));
  e.source = MTS_RPT_SRC_DATAGRAM;
  e.time = t;
  e.policy_domain = "example.com";
  e.policy_type = MTS_RPT_POLICY_STS;
  e.policy_strings = STS_LINES;
  e.npolicy_strings = 4;
  e.mx_hosts = STS_MX;
  e.nmx_hosts = 1;
  e.tlsrpt_record = "v=TLSRPTv1; rua=mailto:tlsrpt@example.com";
  e.success = ok;
  e.failures = fl;
  e.nfailures = n;
  return e;
}

static struct mts_rpt_agg *open_store(struct fx *f, const char *host) {
  struct mts_rpt_agg *g = NULL;

  assert_int_equal(mts_rpt_agg_open(f->ctx, f->path, host, &g), MTS_OK);
  assert_non_null(g);
  return g;
}

static void add(struct mts_rpt_agg *g, const struct mts_rpt_event *e,
                bool want_counted) {
  bool counted = !want_counted;

  assert_int_equal(mts_rpt_agg_add(g, e, &counted), MTS_OK);
  assert_int_equal(counted, want_counted);
}

/* ---- days ---- */

static void test_days(void **state) {
  static const struct {
    int64_t t, day;
    const char *str;
  } v[] = {
      {DAY0, DAY0, "2026-11-27"},
      {DAY0 + 86399, DAY0, "2026-11-27"},  /* 23:59:59Z */
      {DAY0 + 86400, DAY0 + 86400, "2026-11-28"}, /* 00:00:00Z */
      {DAY0 - 1, DAY0 - 86400, "2026-11-26"},
      {0, 0, "1970-01-01"},
      {-1, -86400, "0000-00-00"},
      {951782400 + 3600, 951782400, "2000-02-29"},
  };
  size_t i;
  int64_t d = 0;

  (void)state;
  for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
    char buf[11];

    assert_int_equal(mts_rpt_agg_day(v[i].t), v[i].day);
    if (v[i].day >= 0) {
      mts_rpt_agg_day_str(v[i].day, buf);
      assert_string_equal(buf, v[i].str);
      assert_int_equal(mts_rpt_agg_day_parse(v[i].str, &d), MTS_OK);
      assert_int_equal(d, v[i].day);
    }
  }
  assert_int_equal(mts_rpt_agg_day_parse("2026-02-29", &d), MTS_EINVAL);
  assert_int_equal(mts_rpt_agg_day_parse("2026-13-01", &d), MTS_EINVAL);
  assert_int_equal(mts_rpt_agg_day_parse("2026-1-01", &d), MTS_EINVAL);
  assert_int_equal(mts_rpt_agg_day_parse("2026-11-27Z", &d), MTS_EINVAL);
  assert_int_equal(mts_rpt_agg_day_parse("1969-12-31", &d), MTS_EINVAL);
}

/* ---- counts and days ---- */

struct rows {
  size_t n;
  struct {
    int64_t day;
    char domain[64];
    uint64_t ok, bad;
    size_t npol, nhosts;
  } r[8];
};

static bool collect_day(void *arg, const struct mts_rpt_agg_day_row *row) {
  struct rows *rs = arg;

  assert_true(rs->n < 8);
  rs->r[rs->n].day = row->day;
  (void)snprintf(rs->r[rs->n].domain, 64, "%s", row->domain);
  rs->r[rs->n].ok = row->successful;
  rs->r[rs->n].bad = row->failed;
  rs->r[rs->n].npol = row->npolicies;
  rs->r[rs->n].nhosts = row->nhosts;
  rs->n++;
  return true;
}

static void test_counts_and_boundary(void **state) {
  struct fx *f = *state;
  struct mts_rpt_agg *g = open_store(f, "mta1");
  struct mts_rpt_event e;
  struct rows rs;
  int i;

  for (i = 0; i < 3; i++) {
    e = ev_sts(DAY0 + 100 + i, true, NULL, 0);
    add(g, &e, true);
  }
  e = ev_sts(DAY0 + 86399, false, &F_CERT, 1); /* 23:59:59Z: day 0 */
  add(g, &e, true);
  e = ev_sts(DAY0 + 86400, false, &F_CERT, 1); /* 00:00:00Z: day 1 */
  add(g, &e, true);
  e = ev_sts(DAY0 + 90000, true, NULL, 0);
  e.policy_domain = "example.net";
  add(g, &e, true);

  memset(&rs, 0, sizeof(rs));
  assert_int_equal(mts_rpt_agg_days(g, -1, NULL, collect_day, &rs), MTS_OK);
  assert_int_equal(rs.n, 3);
  assert_int_equal(rs.r[0].day, DAY0);
  assert_string_equal(rs.r[0].domain, "example.com");
  assert_int_equal(rs.r[0].ok, 3);
  assert_int_equal(rs.r[0].bad, 1);
  assert_int_equal(rs.r[0].npol, 1);
  assert_int_equal(rs.r[0].nhosts, 1);
  assert_int_equal(rs.r[1].day, DAY0 + 86400);
  assert_string_equal(rs.r[1].domain, "example.com");
  assert_int_equal(rs.r[1].ok, 0);
  assert_int_equal(rs.r[1].bad, 1);
  assert_string_equal(rs.r[2].domain, "example.net");

  memset(&rs, 0, sizeof(rs));
  assert_int_equal(mts_rpt_agg_days(g, DAY0 + 86400, "example.com",
                                    collect_day, &rs),
                   MTS_OK);
  assert_int_equal(rs.n, 1);

  /* Bad input. */
  e = ev_sts(DAY0, true, NULL, 0);
  e.policy_domain = "Example.com";
  assert_int_equal(mts_rpt_agg_add(g, &e, NULL), MTS_EINVAL);
  e.policy_domain = NULL;
  assert_int_equal(mts_rpt_agg_add(g, &e, NULL), MTS_EINVAL);
  e = ev_sts(DAY0, true, NULL, 0);
  e.source = (enum mts_rpt_source)7;
  assert_int_equal(mts_rpt_agg_add(g, &e, NULL), MTS_EINVAL);
  mts_rpt_agg_close(g);
}

/* ---- de-duplication by session id ---- */

static void test_dedupe(void **state) {
  struct fx *f = *state;
  struct mts_rpt_agg *g = open_store(f, "mta1");
  struct mts_rpt_event e = ev_sts(DAY0 + 10, false, &F_CERT, 1);
  struct rows rs;

  e.session_id = "s1";
  add(g, &e, true);
  /* Same id, same source: a second policy of one datagram: counted. */
  add(g, &e, true);
  /* Same id from the log follower: the same session, dropped. */
  e.source = MTS_RPT_SRC_LOG;
  add(g, &e, false);
  e.source = MTS_RPT_SRC_DAEMON;
  add(g, &e, false);
  /* Another id from the log: counted. */
  e.source = MTS_RPT_SRC_LOG;
  e.session_id = "s2";
  add(g, &e, true);
  /* Then the datagram path sees s2: dropped. */
  e.source = MTS_RPT_SRC_DATAGRAM;
  add(g, &e, false);
  /* No id: always counted. */
  e.session_id = NULL;
  add(g, &e, true);
  add(g, &e, true);

  memset(&rs, 0, sizeof(rs));
  assert_int_equal(mts_rpt_agg_days(g, -1, NULL, collect_day, &rs), MTS_OK);
  assert_int_equal(rs.n, 1);
  assert_int_equal(rs.r[0].bad, 5);
  mts_rpt_agg_close(g);

  /* The seen ids survive a reopen; pruning forgets them with the day. */
  g = open_store(f, "mta1");
  e.session_id = "s1";
  e.source = MTS_RPT_SRC_LOG;
  add(g, &e, false);
  assert_int_equal(mts_rpt_agg_prune(g, DAY0 + 86400), MTS_OK);
  add(g, &e, true);
  memset(&rs, 0, sizeof(rs));
  assert_int_equal(mts_rpt_agg_days(g, -1, NULL, collect_day, &rs), MTS_OK);
  assert_int_equal(rs.n, 1);
  assert_int_equal(rs.r[0].bad, 1);
  mts_rpt_agg_close(g);
}

/* ---- the report ---- */

static const struct mts_rpt_agg_identity ID = {
    "Example Sender Inc.", "tlsrpt@sender.example", "sender.example"};

static void fill_day(struct mts_rpt_agg *g) {
  struct mts_rpt_event e;
  struct mts_rpt_failure two[2];
  int i;

  /* sts policy 1: 5 successes, 2 failures certificate-expired (same
   * detail), 1 failure with two details. */
  for (i = 0; i < 5; i++) {
    e = ev_sts(DAY0 + 1000 + i, true, NULL, 0);
    add(g, &e, true);
  }
  for (i = 0; i < 2; i++) {
    e = ev_sts(DAY0 + 2000 + i, false, &F_CERT, 1);
    add(g, &e, true);
  }
  two[0] = F_STARTTLS;
  two[1] = F_CERT;
  e = ev_sts(DAY0 + 3000, false, two, 2);
  add(g, &e, true);
  /* sts policy 2 (testing mode, a validation failure counted as a
   * failure, decisions.md) and a no-policy-found success. */
  e = ev_sts(DAY0 + 4000, false, NULL, 0);
  e.policy_strings = STS_LINES2;
  e.mx_hosts = STS_MX2;
  add(g, &e, true);
  e = ev_sts(DAY0 + 5000, true, NULL, 0);
  e.policy_type = MTS_RPT_POLICY_NO_POLICY_FOUND;
  e.policy_strings = NULL;
  e.npolicy_strings = 0;
  e.mx_hosts = NULL;
  e.nmx_hosts = 0;
  add(g, &e, true);
  /* Another domain and another day: not in the report. */
  e = ev_sts(DAY0 + 6000, true, NULL, 0);
  e.policy_domain = "example.org";
  add(g, &e, true);
  e = ev_sts(DAY0 + 86400, true, NULL, 0);
  add(g, &e, true);
}

static void test_report_exact(void **state) {
  struct fx *f = *state;
  struct mts_rpt_agg *g = open_store(f, "mta1");
  struct mts_rpt_agg_report *r = NULL;
  const struct mts_rpt_report_data *d;
  const struct mts_rpt_policy *p;
  char *salt = NULL, want[200];

  fill_day(g);
  assert_int_equal(mts_rpt_agg_get(g, "salt", &salt), MTS_OK);
  assert_non_null(salt);
  assert_int_equal(strlen(salt), 16);
  assert_int_equal(mts_rpt_agg_report_build(g, DAY0, "example.com", &ID, &r),
                   MTS_OK);
  d = mts_rpt_agg_report_data(r);
  assert_string_equal(d->organization_name, "Example Sender Inc.");
  assert_string_equal(d->contact_info, "tlsrpt@sender.example");
  (void)snprintf(want, sizeof(want), "2026-11-27.example.com.%s@sender.example",
                 salt);
  assert_string_equal(d->report_id, want);
  assert_int_equal(d->start, DAY0);
  assert_int_equal(d->end, DAY0 + 86399);
  assert_int_equal(d->npolicies, 3);

  /* Ordered by type (sts 2 < npf 9) then key. */
  p = &d->policies[0];
  assert_string_equal(p->policy_type, "sts");
  assert_string_equal(p->policy_domain, "example.com");
  assert_true(p->has_policy_string);
  assert_int_equal(p->npolicy_strings, 4);
  assert_string_equal(p->policy_strings[1], "mode: enforce");
  assert_int_equal(p->nmx_hosts, 1);
  assert_string_equal(p->mx_hosts[0], "mail.example.com");
  assert_int_equal(p->total_successful, 5);
  assert_int_equal(p->total_failure, 3);
  assert_int_equal(p->nfailures, 2);
  assert_string_equal(p->failures[0].result_type, "certificate-expired");
  assert_int_equal(p->failures[0].failed_session_count, 3);
  assert_string_equal(p->failures[0].sending_mta_ip, "192.0.2.1");
  assert_string_equal(p->failures[0].receiving_ip, "198.51.100.7");
  assert_null(p->failures[0].receiving_mx_helo);
  assert_null(p->failures[0].failure_reason_code);
  assert_string_equal(p->failures[1].result_type, "starttls-not-supported");
  assert_int_equal(p->failures[1].failed_session_count, 1);
  assert_null(p->failures[1].sending_mta_ip);
  assert_string_equal(p->failures[1].receiving_mx_helo, "mail.example.com");

  p = &d->policies[1];
  assert_string_equal(p->policy_type, "sts");
  assert_string_equal(p->policy_strings[1], "mode: testing");
  assert_string_equal(p->mx_hosts[0], "*.example.com");
  assert_int_equal(p->total_successful, 0);
  assert_int_equal(p->total_failure, 1);
  assert_int_equal(p->nfailures, 0);

  p = &d->policies[2];
  assert_string_equal(p->policy_type, "no-policy-found");
  assert_false(p->has_policy_string);
  assert_int_equal(p->npolicy_strings, 0);
  assert_int_equal(p->nmx_hosts, 0);
  assert_int_equal(p->total_successful, 1);
  mts_rpt_agg_report_destroy(r);

  /* Nothing that day: ENOTFOUND. Bad arguments: EINVAL. */
  r = NULL;
  assert_int_equal(
      mts_rpt_agg_report_build(g, DAY0 - 86400, "example.com", &ID, &r),
      MTS_ENOTFOUND);
  assert_null(r);
  assert_int_equal(mts_rpt_agg_report_build(g, DAY0 + 1, "example.com", &ID, &r),
                   MTS_EINVAL);
  mts_rpt_agg_free(g, salt);
  mts_rpt_agg_close(g);
}

/* DANE-like: the policy domain (TLSA base) differs from the report
 * domain; one report of the report domain holds both policies. */
static void test_report_domain(void **state) {
  struct fx *f = *state;
  struct mts_rpt_agg *g = open_store(f, "mta1");
  struct mts_rpt_agg_report *r = NULL;
  const struct mts_rpt_report_data *d;
  struct mts_rpt_event e = ev_sts(DAY0 + 5, true, NULL, 0);
  static const char *const tlsa[] = {"3 1 1 ABCDEF"};
  struct rows rs;

  add(g, &e, true);
  memset(&e, 0, sizeof(e));
  e.source = MTS_RPT_SRC_DATAGRAM;
  e.time = DAY0 + 6;
  e.policy_domain = "mx.provider.example";
  e.report_domain = "example.com";
  e.policy_type = MTS_RPT_POLICY_TLSA;
  e.policy_strings = tlsa;
  e.npolicy_strings = 1;
  e.success = false;
  e.failures = &F_CERT;
  e.nfailures = 1;
  add(g, &e, true);
  memset(&rs, 0, sizeof(rs));
  assert_int_equal(mts_rpt_agg_days(g, DAY0, NULL, collect_day, &rs), MTS_OK);
  assert_int_equal(rs.n, 1);
  assert_string_equal(rs.r[0].domain, "example.com");
  assert_int_equal(rs.r[0].npol, 2);
  assert_int_equal(mts_rpt_agg_report_build(g, DAY0, "example.com", &ID, &r),
                   MTS_OK);
  d = mts_rpt_agg_report_data(r);
  assert_int_equal(d->npolicies, 2);
  assert_string_equal(d->policies[0].policy_type, "tlsa");
  assert_string_equal(d->policies[0].policy_domain, "mx.provider.example");
  assert_string_equal(d->policies[0].policy_strings[0], "3 1 1 ABCDEF");
  assert_int_equal(d->policies[0].nfailures, 1);
  assert_int_equal(d->policies[0].failures[0].failed_session_count, 1);
  assert_string_equal(d->policies[1].policy_type, "sts");
  assert_string_equal(d->policies[1].policy_domain, "example.com");
  assert_int_equal(d->policies[1].nfailures, 0);
  mts_rpt_agg_report_destroy(r);
  r = NULL;
  assert_int_equal(
      mts_rpt_agg_report_build(g, DAY0, "mx.provider.example", &ID, &r),
      MTS_ENOTFOUND);
  mts_rpt_agg_close(g);
}

/* Two hosts feeding one store: one report sums both. */
static void test_shared_store_sums_hosts(void **state) {
  struct fx *f = *state;
  struct mts_rpt_agg *g1 = open_store(f, "mta1");
  struct mts_rpt_agg *g2 = open_store(f, "mta2");
  struct mts_rpt_agg_report *r = NULL;
  struct mts_rpt_event e = ev_sts(DAY0 + 5, true, NULL, 0);
  struct rows rs;

  add(g1, &e, true);
  add(g2, &e, true);
  e = ev_sts(DAY0 + 6, false, &F_CERT, 1);
  add(g2, &e, true);
  memset(&rs, 0, sizeof(rs));
  assert_int_equal(mts_rpt_agg_days(g1, DAY0, NULL, collect_day, &rs), MTS_OK);
  assert_int_equal(rs.n, 1);
  assert_int_equal(rs.r[0].nhosts, 2);
  assert_int_equal(rs.r[0].npol, 1);
  assert_int_equal(mts_rpt_agg_report_build(g1, DAY0, "example.com", &ID, &r),
                   MTS_OK);
  assert_int_equal(mts_rpt_agg_report_data(r)->npolicies, 1);
  assert_int_equal(mts_rpt_agg_report_data(r)->policies[0].total_successful, 2);
  assert_int_equal(mts_rpt_agg_report_data(r)->policies[0].total_failure, 1);
  mts_rpt_agg_report_destroy(r);
  mts_rpt_agg_close(g1);
  mts_rpt_agg_close(g2);
}

/* ---- settings ---- */

static void test_settings(void **state) {
  struct fx *f = *state;
  struct mts_rpt_agg *g = open_store(f, "mta1");
  char *v = NULL;

  assert_int_equal(mts_rpt_agg_get(g, "contact-info", &v), MTS_OK);
  assert_null(v);
  assert_int_equal(mts_rpt_agg_set(g, "contact-info", "a@b.example"), MTS_OK);
  assert_int_equal(mts_rpt_agg_get(g, "contact-info", &v), MTS_OK);
  assert_string_equal(v, "a@b.example");
  mts_rpt_agg_free(g, v);
  assert_int_equal(mts_rpt_agg_set(g, "contact-info", NULL), MTS_OK);
  assert_int_equal(mts_rpt_agg_get(g, "contact-info", &v), MTS_OK);
  assert_null(v);
  assert_int_equal(mts_rpt_agg_set(g, "salt", "x"), MTS_EINVAL);
  mts_rpt_agg_close(g);
}

/* ---- schedule, due, delivery state, claim ---- */

static int64_t first_at_fixed(void *arg, int64_t day, const char *domain) {
  (void)arg;
  return day + 86400 + (strcmp(domain, "example.com") == 0 ? 100 : 200);
}

struct due {
  size_t n;
  struct {
    int64_t day, next_at;
    char domain[64], rua[128];
    bool has_rua;
    uint32_t attempts;
  } v[8];
};

static bool collect_due(void *arg, const struct mts_rpt_agg_pending *p) {
  struct due *d = arg;

  assert_true(d->n < 8);
  d->v[d->n].day = p->day;
  d->v[d->n].next_at = p->next_at;
  (void)snprintf(d->v[d->n].domain, 64, "%s", p->domain);
  d->v[d->n].has_rua = p->rua != NULL;
  (void)snprintf(d->v[d->n].rua, 128, "%s", p->rua != NULL ? p->rua : "");
  d->v[d->n].attempts = p->attempts;
  d->n++;
  return true;
}

static void test_schedule_and_delivery(void **state) {
  struct fx *f = *state;
  struct mts_rpt_agg *g = open_store(f, "mta1");
  static const char *const ruas[] = {"mailto:tlsrpt@example.com",
                                     "https://rpt.example.com/v1"};
  struct due d;
  size_t n = 99;
  int64_t end = DAY0 + 86400;

  fill_day(g);
  /* "today" = day 0: nothing before it. */
  assert_int_equal(mts_rpt_agg_schedule(g, DAY0, first_at_fixed, NULL, &n),
                   MTS_OK);
  assert_int_equal(n, 0);
  /* today = day 1: example.com and example.org of day 0. */
  assert_int_equal(mts_rpt_agg_schedule(g, end, first_at_fixed, NULL, &n),
                   MTS_OK);
  assert_int_equal(n, 2);
  assert_int_equal(mts_rpt_agg_schedule(g, end, first_at_fixed, NULL, &n),
                   MTS_OK);
  assert_int_equal(n, 0); /* idempotent */

  memset(&d, 0, sizeof(d));
  assert_int_equal(mts_rpt_agg_due(g, end + 99, collect_due, &d), MTS_OK);
  assert_int_equal(d.n, 0);
  assert_int_equal(mts_rpt_agg_due(g, end + 150, collect_due, &d), MTS_OK);
  assert_int_equal(d.n, 1);
  assert_string_equal(d.v[0].domain, "example.com");
  assert_false(d.v[0].has_rua);
  assert_int_equal(d.v[0].next_at, end + 100);

  /* Record found: two deliveries due now. */
  assert_int_equal(mts_rpt_agg_set_rstate(g, DAY0, "example.com",
                                          MTS_RPT_AGG_R_PLANNED, ruas, 2,
                                          end + 150, 0, NULL),
                   MTS_OK);
  /* example.org: temporary DNS failure, again at end + 900. */
  assert_int_equal(mts_rpt_agg_set_rstate(g, DAY0, "example.org",
                                          MTS_RPT_AGG_R_WAIT, NULL, 0,
                                          end + 300, end + 900, "timeout"),
                   MTS_OK);
  memset(&d, 0, sizeof(d));
  assert_int_equal(mts_rpt_agg_due(g, end + 300, collect_due, &d), MTS_OK);
  assert_int_equal(d.n, 2);
  assert_string_equal(d.v[0].rua, "https://rpt.example.com/v1");
  assert_string_equal(d.v[1].rua, "mailto:tlsrpt@example.com");
  assert_int_equal(d.v[0].attempts, 0);

  /* A failed attempt: pending again later; a success: sent. */
  assert_int_equal(mts_rpt_agg_attempt(g, DAY0, "example.com", ruas[1],
                                       end + 300, false, "HTTP status 503",
                                       end + 600),
                   MTS_OK);
  assert_int_equal(mts_rpt_agg_attempt(g, DAY0, "example.com", ruas[0],
                                       end + 300, true, NULL, 0),
                   MTS_OK);
  memset(&d, 0, sizeof(d));
  assert_int_equal(mts_rpt_agg_due(g, end + 599, collect_due, &d), MTS_OK);
  assert_int_equal(d.n, 0);
  assert_int_equal(mts_rpt_agg_due(g, -1, collect_due, &d), MTS_OK);
  assert_int_equal(d.n, 2); /* example.org's lookup and the https retry */
  assert_false(d.v[0].has_rua);
  assert_string_equal(d.v[0].domain, "example.org");
  assert_int_equal(d.v[1].attempts, 1);
  assert_int_equal(d.v[1].next_at, end + 600);
  /* Gave up: failed, no longer due. */
  assert_int_equal(mts_rpt_agg_attempt(g, DAY0, "example.com", ruas[1],
                                       end + 600, false, "HTTP status 503",
                                       0),
                   MTS_OK);
  memset(&d, 0, sizeof(d));
  assert_int_equal(mts_rpt_agg_due(g, -1, collect_due, &d), MTS_OK);
  assert_int_equal(d.n, 1);
  assert_int_equal(mts_rpt_agg_attempt(g, DAY0, "example.com", "mailto:x@y.z",
                                       end, true, NULL, 0),
                   MTS_ENOTFOUND);
  assert_int_equal(mts_rpt_agg_set_rstate(g, DAY0, "example.org",
                                          MTS_RPT_AGG_R_PLANNED, NULL, 0,
                                          end, 0, NULL),
                   MTS_EINVAL);
  mts_rpt_agg_close(g);
}

struct dl {
  size_t n;
  char state[4][16];
  uint32_t attempts[4];
  int64_t first_at[4];
};

static bool collect_dl(void *arg, const struct mts_rpt_agg_delivery *x) {
  struct dl *d = arg;

  assert_true(d->n < 4);
  (void)snprintf(d->state[d->n], 16, "%s", x->state);
  d->attempts[d->n] = x->attempts;
  d->first_at[d->n] = x->first_at;
  d->n++;
  return true;
}

static void test_claim(void **state) {
  struct fx *f = *state;
  struct mts_rpt_agg *a = open_store(f, "mta1");
  struct mts_rpt_agg *b = open_store(f, "mta2");
  static const char *const ruas[] = {"mailto:tlsrpt@example.com"};
  const int64_t now = DAY0 + 90000;
  bool claimed = true;
  struct dl dl;

  fill_day(a);
  assert_int_equal(mts_rpt_agg_claim(a, DAY0, "example.com", ruas[0], now, 60,
                                     &claimed),
                   MTS_ENOTFOUND);
  assert_false(claimed);
  assert_int_equal(mts_rpt_agg_set_rstate(a, DAY0, "example.com",
                                          MTS_RPT_AGG_R_PLANNED, ruas, 1, now,
                                          0, NULL),
                   MTS_OK);
  /* A takes it; B may not while A's lease runs; A may renew. */
  assert_int_equal(
      mts_rpt_agg_claim(a, DAY0, "example.com", ruas[0], now, 60, &claimed),
      MTS_OK);
  assert_true(claimed);
  assert_int_equal(mts_rpt_agg_claim(b, DAY0, "example.com", ruas[0], now + 59,
                                     60, &claimed),
                   MTS_OK);
  assert_false(claimed);
  assert_int_equal(mts_rpt_agg_claim(a, DAY0, "example.com", ruas[0], now + 30,
                                     60, &claimed),
                   MTS_OK);
  assert_true(claimed); /* lease now until now + 90 */
  assert_int_equal(mts_rpt_agg_claim(b, DAY0, "example.com", ruas[0], now + 89,
                                     60, &claimed),
                   MTS_OK);
  assert_false(claimed);
  /* A died: the lease expires and B takes over. */
  assert_int_equal(mts_rpt_agg_claim(b, DAY0, "example.com", ruas[0], now + 90,
                                     60, &claimed),
                   MTS_OK);
  assert_true(claimed);
  assert_int_equal(mts_rpt_agg_claim(a, DAY0, "example.com", ruas[0], now + 91,
                                     60, &claimed),
                   MTS_OK);
  assert_false(claimed);
  /* B sends it: nobody may claim it again, lease released. */
  assert_int_equal(mts_rpt_agg_attempt(b, DAY0, "example.com", ruas[0],
                                       now + 95, true, NULL, 0),
                   MTS_OK);
  assert_int_equal(mts_rpt_agg_claim(a, DAY0, "example.com", ruas[0],
                                     now + 500, 60, &claimed),
                   MTS_OK);
  assert_false(claimed);
  memset(&dl, 0, sizeof(dl));
  assert_int_equal(mts_rpt_agg_deliveries(a, DAY0, NULL, collect_dl, &dl),
                   MTS_OK);
  assert_int_equal(dl.n, 1);
  assert_string_equal(dl.state[0], "sent");
  assert_int_equal(dl.attempts[0], 1);
  assert_int_equal(dl.first_at[0], now + 95);
  mts_rpt_agg_close(a);
  mts_rpt_agg_close(b);
}

/* The frozen JSON: built once, the same bytes afterwards even when more
 * events arrive. */
static void test_report_json_freeze(void **state) {
  struct fx *f = *state;
  struct mts_rpt_agg *g = open_store(f, "mta1");
  struct mts_rpt_event e;
  char *j1 = NULL, *j2 = NULL, *j3 = NULL;
  size_t l1 = 0, l2 = 0, l3 = 0;

  fill_day(g);
  assert_int_equal(mts_rpt_agg_report_json(g, DAY0, "example.com", &ID, false,
                                           &j1, &l1),
                   MTS_OK);
  assert_non_null(strstr(j1, "\"total-successful-session-count\":5"));
  assert_int_equal(strlen(j1), l1);
  assert_int_equal(mts_rpt_agg_report_json(g, DAY0, "example.com", &ID, true,
                                           &j2, &l2),
                   MTS_OK);
  assert_string_equal(j1, j2);
  e = ev_sts(DAY0 + 7000, true, NULL, 0);
  add(g, &e, true);
  assert_int_equal(mts_rpt_agg_report_json(g, DAY0, "example.com", &ID, true,
                                           &j3, &l3),
                   MTS_OK);
  assert_string_equal(j2, j3);
  mts_rpt_agg_free(g, j1);
  mts_rpt_agg_free(g, j2);
  mts_rpt_agg_free(g, j3);
  mts_rpt_agg_close(g);
}

/* Host names as MTAs hand them (a trailing dot, capitals, an underscore,
 * a U-label) must not cost the domain its day's report: the writer
 * refused the whole report for one of them, for ever (an RFC 8460
 * review). Now they are lower-cased without the dot when that makes a
 * name, else left out. */
static void test_report_odd_hosts(void **state) {
  static const char *const MX[] = {"Mail.Example.COM.", "mx_1.example.com",
                                   "m\xc3\xa4il.example.com",
                                   "*.Backup.example.com"};
  static const struct mts_rpt_failure F[] = {
      {"certificate-expired", NULL, "Mail.Example.COM.", NULL, NULL, 0, NULL,
       NULL},
      {"certificate-not-trusted", NULL, "mx_1.example.com", NULL, NULL, 0,
       NULL, NULL},
      {"starttls-not-supported", NULL, "m\xc3\xa4il.example.com", NULL, NULL,
       0, NULL, NULL}};
  struct fx *f = *state;
  struct mts_rpt_agg *g = open_store(f, "mta1");
  struct mts_rpt_event e = ev_sts(DAY0 + 60, false, F, 3);
  char *j = NULL;
  size_t l = 0;

  e.mx_hosts = MX;
  e.nmx_hosts = 4;
  add(g, &e, true);
  assert_int_equal(mts_rpt_agg_report_json(g, DAY0, "example.com", &ID, false,
                                           &j, &l),
                   MTS_OK);
  /* a name the writer takes stays as sent (capitals are fine) */
  assert_non_null(strstr(j, "\"mx-host\":[\"mail.example.com\","
                            "\"*.Backup.example.com\"]"));
  assert_non_null(
      strstr(j, "\"receiving-mx-hostname\":\"mail.example.com\""));
  assert_null(strstr(j, "mx_1"));
  assert_null(strstr(j, "\xc3\xa4"));
  /* the details without a usable name are still there, without it */
  assert_non_null(strstr(j, "\"result-type\":\"certificate-not-trusted\""));
  assert_non_null(strstr(j, "\"result-type\":\"starttls-not-supported\""));
  mts_rpt_agg_free(g, j);
  mts_rpt_agg_close(g);
}

/* Cleaned when added, so the keys group one name once: "MX.f.example."
 * and "mx.f.example" are one failure detail of count 2, and an empty
 * mx-host pattern is dropped; a domain no report can name is refused
 * (a review: the report writer refused the whole day for it). */
static void test_add_cleans_names(void **state) {
  static const char *const MX1[] = {"mx.example.com", ""};
  static const char *const MX2[] = {"mx.example.com"};
  static const struct mts_rpt_failure F1[] = {
      {"certificate-expired", NULL, "MX.example.com.", NULL, NULL, 0, NULL,
       NULL}};
  static const struct mts_rpt_failure F2[] = {
      {"certificate-expired", NULL, "mx.example.com", NULL, NULL, 0, NULL,
       NULL}};
  struct fx *f = *state;
  struct mts_rpt_agg *g = open_store(f, "mta1");
  struct mts_rpt_event e = ev_sts(DAY0 + 60, false, F1, 1);
  bool counted = true;
  char *j = NULL;
  size_t l = 0;

  e.mx_hosts = MX1;
  e.nmx_hosts = 2;
  add(g, &e, true);
  e = ev_sts(DAY0 + 61, false, F2, 1);
  e.mx_hosts = MX2;
  e.nmx_hosts = 1;
  add(g, &e, true);
  assert_int_equal(mts_rpt_agg_report_json(g, DAY0, "example.com", &ID, false,
                                           &j, &l),
                   MTS_OK);
  /* one policy (the same mx-host list once cleaned), both failures */
  assert_non_null(strstr(j, "\"mx-host\":[\"mx.example.com\"]},"
                            "\"summary\":{\"total-successful-session-count\""
                            ":0,\"total-failure-session-count\":2}"));
  assert_null(strstr(j, "\"mx-host\":[\"mail.example.com\"]"));
  assert_non_null(strstr(j, "\"receiving-mx-hostname\":\"mx.example.com\","
                            "\"failed-session-count\":2"));
  mts_rpt_agg_free(g, j);
  e = ev_sts(DAY0 + 62, true, NULL, 0);
  e.policy_domain = "a_b.example.com";
  assert_int_equal(mts_rpt_agg_add(g, &e, &counted), MTS_EINVAL);
  assert_false(counted);
  e.policy_domain = "-x.example.com";
  assert_int_equal(mts_rpt_agg_add(g, &e, &counted), MTS_EINVAL);
  e.policy_domain = "example.com";
  e.report_domain = "a_b.example.com";
  assert_int_equal(mts_rpt_agg_add(g, &e, &counted), MTS_EINVAL);
  mts_rpt_agg_close(g);
}

/* ---- allocation failures ---- */

static int64_t first_at_zero(void *arg, int64_t day, const char *domain) {
  (void)arg;
  (void)domain;
  return day;
}

static bool count_due(void *arg, const struct mts_rpt_agg_pending *p) {
  (void)p;
  (*(size_t *)arg)++;
  return true;
}

struct sweep_arg {
  const char *path;
};

static enum mts_status sweep_op(struct mts_ctx *ctx, void *arg) {
  struct sweep_arg *sa = arg;
  struct mts_rpt_agg *g = NULL;
  struct mts_rpt_agg_report *r = NULL;
  struct mts_rpt_event e;
  struct mts_rpt_failure two[2] = {F_CERT, F_STARTTLS};
  enum mts_status st;
  char *v = NULL;

  st = mts_rpt_agg_open(ctx, sa->path, "mta1", &g);
  if (st != MTS_OK) {
    return st;
  }
  e = ev_sts(DAY0 + 10, false, two, 2);
  e.session_id = "sweep";
  st = mts_rpt_agg_add(g, &e, NULL);
  if (st == MTS_OK) {
    e.policy_type = MTS_RPT_POLICY_NO_POLICY_FOUND;
    e.policy_strings = NULL;
    e.npolicy_strings = 0;
    st = mts_rpt_agg_add(g, &e, NULL);
  }
  if (st == MTS_OK) {
    st = mts_rpt_agg_report_build(g, DAY0, "example.com", &ID, &r);
  }
  mts_rpt_agg_report_destroy(r);
  if (st == MTS_OK) {
    st = mts_rpt_agg_get(g, "salt", &v);
    mts_rpt_agg_free(g, v);
  }
  if (st == MTS_OK) {
    char *json = NULL;
    size_t len = 0;

    st = mts_rpt_agg_report_json(g, DAY0, "example.com", &ID, false, &json,
                                 &len);
    mts_rpt_agg_free(g, json);
  }
  if (st == MTS_OK) {
    static const char *const ruas[] = {"mailto:a@example.com"};

    st = mts_rpt_agg_set_rstate(g, DAY0, "example.com", MTS_RPT_AGG_R_PLANNED,
                                ruas, 1, DAY0 + 86400, 0, NULL);
  }
  if (st == MTS_OK) {
    size_t n = 0;

    st = mts_rpt_agg_due(g, -1, count_due, &n);
  }
  if (st == MTS_OK) {
    bool claimed = false;

    st = mts_rpt_agg_claim(g, DAY0, "example.com", "mailto:a@example.com",
                           DAY0 + 86400, 60, &claimed);
  }
  if (st == MTS_OK) {
    st = mts_rpt_agg_attempt(g, DAY0, "example.com", "mailto:a@example.com",
                             DAY0 + 86400, false, "x", DAY0 + 90000);
  }
  if (st == MTS_OK) {
    size_t n = 0;

    st = mts_rpt_agg_schedule(g, DAY0 + 2 * 86400, first_at_zero, NULL, &n);
  }
  if (st == MTS_OK) {
    struct rows rs;

    memset(&rs, 0, sizeof(rs));
    st = mts_rpt_agg_days(g, -1, NULL, collect_day, &rs);
  }
  mts_rpt_agg_close(g);
  return st;
}

static void test_alloc_sweep(void **state) {
  struct fx *f = *state;
  struct sweep_arg sa = {f->path};

  assert_true(mts_test_alloc_sweep(sweep_op, &sa) > 5);
}

static void test_refuses_foreign_and_world_writable(void **state) {
  struct fx *f = *state;
  struct mts_rpt_agg *g = NULL;
  FILE *fp = fopen(f->path, "wb");

  assert_non_null(fp);
  assert_int_equal(fputs("not a database at all, just some text......", fp) >= 0, 1);
  (void)fclose(fp);
  assert_int_equal(mts_rpt_agg_open(f->ctx, f->path, "mta1", &g), MTS_EIO);
  assert_null(g);
  mts_test_rm_db(f->path);
  g = open_store(f, "mta1");
  mts_rpt_agg_close(g);
  assert_int_equal(chmod(f->path, 0666), 0);
  assert_int_equal(mts_rpt_agg_open(f->ctx, f->path, "mta1", &g), MTS_EIO);
  assert_int_equal(chmod(f->path, 0600), 0);
  assert_int_equal(mts_rpt_agg_open(f->ctx, f->path, "bad host", &g),
                   MTS_EINVAL);
  /* The report store's file (received reports) is not an aggregate,
   * nor the other way round: each has its own application_id. */
  mts_test_rm_db(f->path);
  {
    struct mts_rpt_store *rs = NULL;

    assert_int_equal(mts_rpt_store_open(f->ctx, f->path, &rs), MTS_OK);
    mts_rpt_store_close(rs);
    assert_int_equal(mts_rpt_agg_open(f->ctx, f->path, "mta1", &g), MTS_EIO);
    assert_null(g);
    mts_test_rm_db(f->path);
    g = open_store(f, "mta1");
    mts_rpt_agg_close(g);
    rs = NULL;
    assert_int_equal(mts_rpt_store_open(f->ctx, f->path, &rs), MTS_EIO);
    assert_null(rs);
  }
}

/* The state file removed under the running collector: the next event
 * notices it, and the day's counts are all in the new file, read back by
 * a second process (a fresh open) as after a restart. */
static void test_file_removed(void **state) {
  struct fx *f = *state;
  struct mts_rpt_agg *g = open_store(f, "mta1");
  struct mts_rpt_event e;
  struct rows rs;

  e = ev_sts(DAY0 + 100, true, NULL, 0);
  add(g, &e, true);
  e = ev_sts(DAY0 + 200, false, &F_CERT, 1);
  add(g, &e, true);
  assert_int_equal(unlink(f->path), 0);
  e = ev_sts(DAY0 + 300, true, NULL, 0);
  add(g, &e, true);
  mts_rpt_agg_close(g);

  g = open_store(f, "mta1");
  memset(&rs, 0, sizeof(rs));
  assert_int_equal(mts_rpt_agg_days(g, -1, NULL, collect_day, &rs), MTS_OK);
  assert_int_equal(rs.n, 1);
  assert_int_equal(rs.r[0].ok, 2);
  assert_int_equal(rs.r[0].bad, 1);
  mts_rpt_agg_close(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_days),
      cmocka_unit_test_setup_teardown(test_counts_and_boundary, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_dedupe, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_report_exact, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_report_domain, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_shared_store_sums_hosts, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_settings, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_schedule_and_delivery, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_claim, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_file_removed, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_report_odd_hosts, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_add_cleans_names, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_report_json_freeze, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_alloc_sweep, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_refuses_foreign_and_world_writable,
                                      fx_setup, fx_teardown),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
