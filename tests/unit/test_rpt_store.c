/*
 * test_rpt_store.c - the received-report store (rpt_store.c) against real
 * SQLite files in a temp dir: schema and reopen, new / duplicate /
 * rejected (the raw input is kept, with its reason and findings), exact
 * summary and failure rows with the domain and day filters, the
 * readiness thresholds, one transaction per add (a failing insert leaves
 * nothing), damaged / foreign / newer / world-writable files refused
 * with a clear logged reason, a file removed or damaged under the open
 * store replaced, and an allocation-failure sweep.
 */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "testutil.h"

#define D10 INT64_C(1794268800) /* 2026-11-10T00:00:00Z */
#define DAY INT64_C(86400)

/* ---- helpers ---- */

static char tmpdir[64];
static char lastlog[512];

static void log_cb(void *arg, enum mts_log_level level, const char *msg) {
  (void)arg;
  if (level <= MTS_LOG_WARNING) {
    (void)snprintf(lastlog, sizeof(lastlog), "%s", msg);
  }
}

static void db_path(char *out, size_t n, const char *name) {
  (void)snprintf(out, n, "%s/%s", tmpdir, name);
}

static int setup(void **state) {
  (void)state;
  (void)snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_rpt_store.XXXXXX");
  assert_non_null(mkdtemp(tmpdir));
  return 0;
}

static int teardown(void **state) {
  char cmd[128];

  (void)state;
  (void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
  assert_int_equal(system(cmd), 0);
  return 0;
}

/* "YYYY-MM-DDT..Z" of day \p d after 2026-11-01 (d in 1..30). */
static void iso(char *out, size_t n, int day, const char *time) {
  (void)snprintf(out, n, "2026-11-%02dT%s", day, time);
}

/* One element of `policies`. \p failures: JSON array text or NULL. */
static void policy_json(char *out, size_t n, const char *domain,
                        unsigned long ok, unsigned long failed,
                        const char *failures) {
  (void)snprintf(out, n,
                 "{\"policy\":{\"policy-type\":\"sts\",\"policy-string\":["
                 "\"version: STSv1\",\"mode: testing\",\"mx: mx1.%s\","
                 "\"max_age: 86400\"],\"policy-domain\":\"%s\","
                 "\"mx-host\":[\"mx1.%s\"]},\"summary\":{"
                 "\"total-successful-session-count\":%lu,"
                 "\"total-failure-session-count\":%lu}%s%s}",
                 domain, domain, domain, ok, failed,
                 failures != NULL ? ",\"failure-details\":" : "",
                 failures != NULL ? failures : "");
}

static size_t report_json(char *out, size_t n, const char *org,
                          const char *id, int day, const char *time,
                          const char *policies) {
  char start[40], end[40];
  int len;

  iso(start, sizeof(start), day, time);
  iso(end, sizeof(end), day, "23:59:59Z");
  len = snprintf(out, n,
                 "{\"organization-name\":\"%s\",\"date-range\":{"
                 "\"start-datetime\":\"%s\",\"end-datetime\":\"%s\"},"
                 "\"contact-info\":\"tlsrpt@%s\",\"report-id\":\"%s\","
                 "\"policies\":[%s]}",
                 org, start, end, "sender.example", id, policies);
  assert_true(len > 0 && (size_t)len < n);
  return (size_t)len;
}

/* Parse \p json and add it; \return the outcome. */
static enum mts_rpt_store_outcome add_json(struct mts_ctx *ctx,
                                           struct mts_rpt_store *st,
                                           const char *json,
                                           const char *source) {
  struct mts_rpt_report *r = NULL;
  enum mts_rpt_store_outcome out = MTS_RPT_STORE_NEW;

  assert_int_equal(
      mts_rpt_report_parse(ctx, (const uint8_t *)json, strlen(json), &r),
      MTS_OK);
  assert_int_equal(mts_rpt_store_add(st, r, (const uint8_t *)json,
                                     strlen(json), source, NULL, &out),
                   MTS_OK);
  mts_rpt_report_destroy(r);
  return out;
}

/* A simple report: one STS policy of \p domain. */
static enum mts_rpt_store_outcome add_simple(struct mts_ctx *ctx,
                                             struct mts_rpt_store *st,
                                             const char *org, const char *id,
                                             int day, const char *domain,
                                             unsigned long ok,
                                             unsigned long failed) {
  char pol[1024], rep[2048], fd[256];

  (void)snprintf(fd, sizeof(fd),
                 "[{\"result-type\":\"certificate-expired\","
                 "\"receiving-mx-hostname\":\"mx1.%s\","
                 "\"failed-session-count\":%lu}]",
                 domain, failed);
  policy_json(pol, sizeof(pol), domain, ok, failed, failed > 0 ? fd : NULL);
  (void)report_json(rep, sizeof(rep), org, id, day, "00:00:00Z", pol);
  return add_json(ctx, st, rep, "file:test");
}

static int64_t sql_int(const char *path, const char *sql) {
  sqlite3 *db = NULL;
  sqlite3_stmt *q = NULL;
  int64_t v = -1;

  assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL),
                   SQLITE_OK);
  if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK) {
    fail_msg("%s: %s", sql, sqlite3_errmsg(db));
  }
  if (sqlite3_step(q) == SQLITE_ROW) {
    v = sqlite3_column_int64(q, 0);
  }
  (void)sqlite3_finalize(q);
  (void)sqlite3_close(db);
  return v;
}

static void sql_exec(const char *path, const char *sql) {
  sqlite3 *db = NULL;

  assert_int_equal(sqlite3_open_v2(path, &db,
                                   SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                                   NULL),
                   SQLITE_OK);
  if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
    fail_msg("%s: %s", sql, sqlite3_errmsg(db));
  }
  (void)sqlite3_close(db);
}

/* ---- tests ---- */

static void test_day(void **state) {
  static const struct {
    int64_t t, want;
  } cases[] = {
      {0, 0},           {1, 0},
      {86399, 0},       {86400, 86400},
      {-1, -86400},     {-86400, -86400},
      {D10 + 43200, D10}, {D10 + DAY - 1, D10},
  };
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    int64_t got = mts_rpt_store_day(cases[i].t);

    if (got != cases[i].want) {
      fail_msg("day(%lld): got %lld, want %lld", (long long)cases[i].t,
               (long long)got, (long long)cases[i].want);
    }
  }
}

static void test_open_schema(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct mts_rpt_store *st = NULL;
  char path[128];

  (void)state;
  db_path(path, sizeof(path), "schema.db");
  assert_int_equal(mts_rpt_store_open(ctx, path, &st), MTS_OK);
  mts_rpt_store_close(st);
  assert_int_equal(sql_int(path, "PRAGMA user_version"), 1);
  assert_int_equal(sql_int(path, "PRAGMA application_id"), 0x4d545352);
  assert_int_equal(sql_int(path, "SELECT count(*) FROM pragma_journal_mode "
                                 "WHERE journal_mode = 'wal'"),
                   1);
  assert_int_equal(
      sql_int(path, "SELECT count(*) FROM sqlite_master WHERE type='table' "
                    "AND name IN ('raw','report','policy','failure')"),
      4);
  /* Reopen: the schema is kept, not recreated. */
  st = NULL;
  assert_int_equal(mts_rpt_store_open(ctx, path, &st), MTS_OK);
  mts_rpt_store_close(st);
  mts_rpt_store_close(NULL);
  /* Bad arguments. */
  assert_int_equal(mts_rpt_store_open(ctx, "", &st), MTS_EINVAL);
  assert_null(st);
  assert_int_equal(mts_rpt_store_open(NULL, path, &st), MTS_EINVAL);
  assert_int_equal(mts_rpt_store_open(ctx, NULL, &st), MTS_EINVAL);
  mts_ctx_destroy(ctx);
}

struct raw_seen {
  size_t n;
  struct mts_rpt_raw_row rows[8];
  char reason[8][200];
  char findings[8][600];
  char source[8][64];
  char bytes[8][64];
};

static int raw_cb(const struct mts_rpt_raw_row *row, void *arg) {
  struct raw_seen *s = arg;

  assert_true(s->n < 8);
  s->rows[s->n] = *row;
  (void)snprintf(s->reason[s->n], sizeof(s->reason[0]), "%s",
                 row->reason != NULL ? row->reason : "(null)");
  (void)snprintf(s->findings[s->n], sizeof(s->findings[0]), "%s",
                 row->findings_json);
  (void)snprintf(s->source[s->n], sizeof(s->source[0]), "%s", row->source);
  (void)snprintf(s->bytes[s->n], sizeof(s->bytes[0]), "%.*s",
                 (int)(row->len < 63 ? row->len : 63),
                 row->bytes != NULL ? (const char *)row->bytes : "");
  s->rows[s->n].reason = s->rows[s->n].source = NULL;
  s->rows[s->n].report_id = s->rows[s->n].organization = NULL;
  s->rows[s->n].findings_json = s->rows[s->n].sha256 = NULL;
  s->rows[s->n].bytes = NULL;
  s->n++;
  return 0;
}

static void test_add_duplicate_rejected(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct mts_test_clock clk = {D10 + 3 * DAY};
  struct mts_rpt_store *st = NULL;
  struct mts_rpt_report *r = NULL;
  enum mts_rpt_store_outcome out;
  static struct raw_seen seen;
  static const char bad[] = "{\"organization-name\":\"X\"}";
  static const uint8_t junk[] = {0x1f, 0x8b, 0x08, 0x00, 0xde, 0xad};
  char path[128];

  (void)state;
  mts_ctx_set_clock(ctx, mts_test_clock_fn, &clk);
  db_path(path, sizeof(path), "add.db");
  assert_int_equal(mts_rpt_store_open(ctx, path, &st), MTS_OK);

  /* New, then the same (report-id, organization) again: duplicate. */
  assert_int_equal(add_simple(ctx, st, "Org A", "id-1", 10, "example.com",
                              10, 0),
                   MTS_RPT_STORE_NEW);
  clk.now++;
  assert_int_equal(add_simple(ctx, st, "Org A", "id-1", 10, "example.com",
                              99, 0),
                   MTS_RPT_STORE_DUPLICATE);
  /* Same id from another organisation is another report. */
  assert_int_equal(add_simple(ctx, st, "Org B", "id-1", 10, "example.com",
                              5, 0),
                   MTS_RPT_STORE_NEW);

  /* Parsed but not usable: rejected with the first error finding. */
  assert_int_equal(mts_rpt_report_parse(ctx, (const uint8_t *)bad,
                                        strlen(bad), &r),
                   MTS_OK);
  assert_false(mts_rpt_report_usable(r));
  assert_int_equal(mts_rpt_store_add(st, r, (const uint8_t *)bad, strlen(bad),
                                     "mail:<m1@example>", NULL, &out),
                   MTS_OK);
  assert_int_equal(out, MTS_RPT_STORE_REJECTED);
  mts_rpt_report_destroy(r);

  /* Not even decompressible: rejected with the caller's reason. */
  assert_int_equal(mts_rpt_store_add(st, NULL, junk, sizeof(junk),
                                     "https:192.0.2.1", "gzip: truncated",
                                     &out),
                   MTS_OK);
  assert_int_equal(out, MTS_RPT_STORE_REJECTED);
  /* No reason given: a generic one. Zero bytes are fine. */
  assert_int_equal(mts_rpt_store_add(st, NULL, NULL, 0, "file:-", NULL, &out),
                   MTS_OK);
  assert_int_equal(out, MTS_RPT_STORE_REJECTED);

  /* Bad arguments. */
  assert_int_equal(mts_rpt_store_add(NULL, NULL, junk, 1, "x", NULL, &out),
                   MTS_EINVAL);
  assert_int_equal(mts_rpt_store_add(st, NULL, NULL, 1, "x", NULL, &out),
                   MTS_EINVAL);
  assert_int_equal(mts_rpt_store_add(st, NULL, junk, 1, NULL, NULL, &out),
                   MTS_EINVAL);
  assert_int_equal(mts_rpt_store_add(st, NULL, junk, 1, "x", NULL, NULL),
                   MTS_EINVAL);

  /* Every input is kept, in order, with its outcome. */
  memset(&seen, 0, sizeof(seen));
  assert_int_equal(mts_rpt_store_raw(st, 0, 0, true, raw_cb, &seen), MTS_OK);
  assert_int_equal(seen.n, 6);
  assert_int_equal(seen.rows[0].outcome, MTS_RPT_STORE_NEW);
  assert_int_equal(seen.rows[1].outcome, MTS_RPT_STORE_DUPLICATE);
  assert_int_equal(seen.rows[2].outcome, MTS_RPT_STORE_NEW);
  assert_int_equal(seen.rows[3].outcome, MTS_RPT_STORE_REJECTED);
  assert_int_equal(seen.rows[4].outcome, MTS_RPT_STORE_REJECTED);
  assert_int_equal(seen.rows[5].outcome, MTS_RPT_STORE_REJECTED);
  assert_int_equal(seen.rows[0].received, D10 + 3 * DAY);
  assert_int_equal(seen.rows[1].received, D10 + 3 * DAY + 1);
  assert_string_equal(seen.reason[0], "(null)");
  assert_string_equal(seen.reason[1], "(null)");
  /* The first error finding: code, colon, message. */
  assert_true(strncmp(seen.reason[3], "report-", 7) == 0);
  assert_non_null(strstr(seen.reason[3], ": "));
  assert_non_null(strstr(seen.findings[3], "\"severity\":\"error\""));
  assert_string_equal(seen.source[3], "mail:<m1@example>");
  assert_string_equal(seen.bytes[3], bad);
  assert_string_equal(seen.reason[4], "gzip: truncated");
  assert_string_equal(seen.findings[4], "[]");
  assert_string_equal(seen.source[4], "https:192.0.2.1");
  assert_int_equal(seen.rows[4].len, sizeof(junk));
  assert_string_equal(seen.reason[5], "unreadable input");
  assert_int_equal(seen.rows[5].len, 0);

  /* Filters: only the rejected ones, no bytes. */
  memset(&seen, 0, sizeof(seen));
  assert_int_equal(mts_rpt_store_raw(st, 0,
                                     MTS_RPT_STORE_WANT(MTS_RPT_STORE_REJECTED),
                                     false, raw_cb, &seen),
                   MTS_OK);
  assert_int_equal(seen.n, 3);
  assert_int_equal(seen.rows[0].len, strlen(bad));
  assert_string_equal(seen.bytes[0], "");
  /* received >= since. */
  memset(&seen, 0, sizeof(seen));
  assert_int_equal(mts_rpt_store_raw(st, D10 + 3 * DAY + 1,
                                     MTS_RPT_STORE_WANT(MTS_RPT_STORE_NEW) |
                                         MTS_RPT_STORE_WANT(
                                             MTS_RPT_STORE_DUPLICATE),
                                     false, raw_cb, &seen),
                   MTS_OK);
  assert_int_equal(seen.n, 2);
  assert_int_equal(seen.rows[0].outcome, MTS_RPT_STORE_DUPLICATE);
  assert_int_equal(mts_rpt_store_raw(st, 0, 0, false, NULL, NULL), MTS_EINVAL);
  mts_rpt_store_close(st);

  /* The tables: two reports, the duplicate points at the first, the
   * rejected ones have no report rows. */
  assert_int_equal(sql_int(path, "SELECT count(*) FROM report"), 2);
  assert_int_equal(sql_int(path, "SELECT count(*) FROM policy"), 2);
  assert_int_equal(sql_int(path, "SELECT count(*) FROM raw"), 6);
  assert_int_equal(sql_int(path, "SELECT duplicate_of FROM raw WHERE id=2"),
                   sql_int(path, "SELECT id FROM report WHERE "
                                 "organization='Org A'"));
  assert_int_equal(sql_int(path, "SELECT raw_id FROM report WHERE "
                                 "organization='Org B'"),
                   3);
  assert_int_equal(sql_int(path, "SELECT length(sha256) FROM raw WHERE id=5"),
                   64);
  /* The duplicate's counts (99) were not added. */
  assert_int_equal(sql_int(path, "SELECT sum(successful) FROM policy"), 15);
  mts_ctx_destroy(ctx);
}

/* ---- summary ---- */

struct sum_seen {
  size_t n, nf;
  char rows[16][160];
  char frows[16][200];
  int stop_after;
};

static int sum_cb(const struct mts_rpt_summary_row *r, void *arg) {
  struct sum_seen *s = arg;

  assert_true(s->n < 16);
  (void)snprintf(s->rows[s->n++], sizeof(s->rows[0]),
                 "%lld %s %s reports=%llu ok=%llu failed=%llu",
                 (long long)((r->day - D10) / DAY), r->policy_domain,
                 r->organization, (unsigned long long)r->reports,
                 (unsigned long long)r->successful,
                 (unsigned long long)r->failed);
  return s->stop_after != 0 && (int)s->n >= s->stop_after;
}

static int fail_cb(const struct mts_rpt_failure_row *r, void *arg) {
  struct sum_seen *s = arg;

  assert_true(s->nf < 16);
  (void)snprintf(s->frows[s->nf++], sizeof(s->frows[0]),
                 "%lld %s %s %s [%s] %llu",
                 (long long)((r->day - D10) / DAY), r->policy_domain,
                 r->organization, r->result_type, r->receiving_mx_hostname,
                 (unsigned long long)r->sessions);
  return 0;
}

static void fill_summary(struct mts_ctx *ctx, struct mts_rpt_store *st) {
  char p1[1024], p2[1024], rep[4096];

  /* R1: Google, day 10, Example.COM. (spelling normalised), two kinds of
   * failure on two MX hosts. */
  policy_json(p1, sizeof(p1), "Example.COM.", 100, 3,
              "[{\"result-type\":\"certificate-expired\","
              "\"receiving-mx-hostname\":\"mx1.example.com\","
              "\"failed-session-count\":2},"
              "{\"result-type\":\"starttls-not-supported\","
              "\"receiving-mx-hostname\":\"mx2.example.com\","
              "\"failed-session-count\":1}]");
  (void)report_json(rep, sizeof(rep), "Google Inc.", "r1", 10, "00:00:00Z",
                    p1);
  assert_int_equal(add_json(ctx, st, rep, "file:r1"), MTS_RPT_STORE_NEW);
  /* R2: Microsoft, day 10. */
  policy_json(p1, sizeof(p1), "example.com", 50, 0, NULL);
  (void)report_json(rep, sizeof(rep), "Microsoft", "r2", 10, "00:00:00Z", p1);
  assert_int_equal(add_json(ctx, st, rep, "file:r2"), MTS_RPT_STORE_NEW);
  /* R3: Google, day 11, two policy domains. */
  policy_json(p1, sizeof(p1), "example.com", 10, 1,
              "[{\"result-type\":\"certificate-expired\","
              "\"receiving-mx-hostname\":\"mx1.example.com\","
              "\"failed-session-count\":1}]");
  policy_json(p2, sizeof(p2), "other.example", 7, 0, NULL);
  {
    char both[2100];

    (void)snprintf(both, sizeof(both), "%s,%s", p1, p2);
    (void)report_json(rep, sizeof(rep), "Google Inc.", "r3", 11, "00:00:00Z",
                      both);
  }
  assert_int_equal(add_json(ctx, st, rep, "file:r3"), MTS_RPT_STORE_NEW);
  /* R3 again: a duplicate adds nothing. */
  assert_int_equal(add_json(ctx, st, rep, "file:r3-again"),
                   MTS_RPT_STORE_DUPLICATE);
  /* R5: Google, starts at noon of day 10 (counted on day 10), a failure
   * without an MX host name. */
  policy_json(p1, sizeof(p1), "example.com", 1, 1,
              "[{\"result-type\":\"certificate-expired\","
              "\"failed-session-count\":1}]");
  (void)report_json(rep, sizeof(rep), "Google Inc.", "r5", 10, "12:00:00Z",
                    p1);
  assert_int_equal(add_json(ctx, st, rep, "file:r5"), MTS_RPT_STORE_NEW);
}

static void check_rows(const char *what, char (*got)[160], size_t ngot,
                       const char *const *want) {
  size_t i, nwant = 0;

  while (want[nwant] != NULL) {
    nwant++;
  }
  for (i = 0; i < ngot || i < nwant; i++) {
    const char *g = i < ngot ? got[i] : "(none)";
    const char *w = i < nwant ? want[i] : "(none)";

    if (strcmp(g, w) != 0) {
      fail_msg("%s row %zu: got '%s', want '%s'", what, i, g, w);
    }
  }
}

static void check_frows(const char *what, char (*got)[200], size_t ngot,
                        const char *const *want) {
  size_t i, nwant = 0;

  while (want[nwant] != NULL) {
    nwant++;
  }
  for (i = 0; i < ngot || i < nwant; i++) {
    const char *g = i < ngot ? got[i] : "(none)";
    const char *w = i < nwant ? want[i] : "(none)";

    if (strcmp(g, w) != 0) {
      fail_msg("%s row %zu: got '%s', want '%s'", what, i, g, w);
    }
  }
}

static void test_summary_rows(void **state) {
  static const char *const all[] = {
      "0 example.com Google Inc. reports=2 ok=101 failed=4",
      "0 example.com Microsoft reports=1 ok=50 failed=0",
      "1 example.com Google Inc. reports=1 ok=10 failed=1",
      "1 other.example Google Inc. reports=1 ok=7 failed=0",
      NULL};
  static const char *const fall[] = {
      "0 example.com Google Inc. certificate-expired [] 1",
      "0 example.com Google Inc. certificate-expired [mx1.example.com] 2",
      "0 example.com Google Inc. starttls-not-supported [mx2.example.com] 1",
      "1 example.com Google Inc. certificate-expired [mx1.example.com] 1",
      NULL};
  static const char *const dom[] = {
      "0 example.com Google Inc. reports=2 ok=101 failed=4",
      "0 example.com Microsoft reports=1 ok=50 failed=0",
      "1 example.com Google Inc. reports=1 ok=10 failed=1", NULL};
  static const char *const since[] = {
      "1 example.com Google Inc. reports=1 ok=10 failed=1",
      "1 other.example Google Inc. reports=1 ok=7 failed=0", NULL};
  static const char *const fsince[] = {
      "1 example.com Google Inc. certificate-expired [mx1.example.com] 1",
      NULL};
  static const char *const other[] = {
      "1 other.example Google Inc. reports=1 ok=7 failed=0", NULL};
  static const char *const none[] = {NULL};
  static struct sum_seen s;
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct mts_rpt_store *st = NULL;
  char path[128];

  (void)state;
  db_path(path, sizeof(path), "summary.db");
  assert_int_equal(mts_rpt_store_open(ctx, path, &st), MTS_OK);
  fill_summary(ctx, st);

  memset(&s, 0, sizeof(s));
  assert_int_equal(mts_rpt_store_summary(st, NULL, 0, sum_cb, fail_cb, &s),
                   MTS_OK);
  check_rows("all", s.rows, s.n, all);
  check_frows("all failures", s.frows, s.nf, fall);

  /* The domain filter matches however it is spelled. */
  memset(&s, 0, sizeof(s));
  assert_int_equal(
      mts_rpt_store_summary(st, "EXAMPLE.com.", 0, sum_cb, fail_cb, &s),
      MTS_OK);
  check_rows("domain", s.rows, s.n, dom);
  check_frows("domain failures", s.frows, s.nf, fall);

  memset(&s, 0, sizeof(s));
  assert_int_equal(
      mts_rpt_store_summary(st, NULL, D10 + DAY, sum_cb, fail_cb, &s),
      MTS_OK);
  check_rows("since", s.rows, s.n, since);
  check_frows("since failures", s.frows, s.nf, fsince);

  memset(&s, 0, sizeof(s));
  assert_int_equal(
      mts_rpt_store_summary(st, "other.example", 0, sum_cb, fail_cb, &s),
      MTS_OK);
  check_rows("other", s.rows, s.n, other);
  check_frows("other failures", s.frows, s.nf, none);

  memset(&s, 0, sizeof(s));
  assert_int_equal(
      mts_rpt_store_summary(st, "nobody.example", 0, sum_cb, fail_cb, &s),
      MTS_OK);
  assert_int_equal(s.n + s.nf, 0);

  /* A callback stops the iteration; NULL callbacks are skipped. */
  memset(&s, 0, sizeof(s));
  s.stop_after = 2;
  assert_int_equal(mts_rpt_store_summary(st, NULL, 0, sum_cb, NULL, &s),
                   MTS_OK);
  assert_int_equal(s.n, 2);
  assert_int_equal(s.nf, 0);
  assert_int_equal(mts_rpt_store_summary(NULL, NULL, 0, sum_cb, NULL, &s),
                   MTS_EINVAL);
  mts_rpt_store_close(st);

  /* The stored details. */
  assert_int_equal(sql_int(path, "SELECT count(*) FROM failure"), 4);
  assert_int_equal(sql_int(path, "SELECT count(*) FROM policy WHERE "
                                 "policy_domain='example.com'"),
                   4);
  assert_int_equal(sql_int(path, "SELECT day FROM report WHERE "
                                 "report_id='r5'"),
                   D10);
  assert_int_equal(sql_int(path, "SELECT start FROM report WHERE "
                                 "report_id='r5'"),
                   D10 + 43200);
  assert_int_equal(sql_int(path, "SELECT count(*) FROM report WHERE "
                                 "contact='tlsrpt@sender.example'"),
                   4);
  assert_int_equal(
      sql_int(path, "SELECT count(*) FROM policy WHERE policy_strings = "
                    "'[\"version: STSv1\",\"mode: testing\",\"mx: "
                    "mx1.other.example\",\"max_age: 86400\"]' AND mx_hosts = "
                    "'[\"mx1.other.example\"]'"),
      1);
  mts_ctx_destroy(ctx);
}

/* ---- readiness ---- */

struct ready_seen {
  size_t n;
  char rows[16][200];
};

static int ready_cb(const struct mts_rpt_readiness *r, void *arg) {
  struct ready_seen *s = arg;

  assert_true(s->n < 16);
  assert_true(r->ready == (r->reason == NULL));
  (void)snprintf(s->rows[s->n++], sizeof(s->rows[0]),
                 "%s senders=%u days=%u ok=%llu failed=%llu %s",
                 r->policy_domain, r->senders, r->days,
                 (unsigned long long)r->successful,
                 (unsigned long long)r->failed,
                 r->ready ? "READY" : r->reason);
  return 0;
}

static void check_ready(const char *what, const struct ready_seen *s,
                        const char *const *want) {
  size_t i, nwant = 0;

  while (want[nwant] != NULL) {
    nwant++;
  }
  for (i = 0; i < s->n || i < nwant; i++) {
    const char *g = i < s->n ? s->rows[i] : "(none)";
    const char *w = i < nwant ? want[i] : "(none)";

    if (strcmp(g, w) != 0) {
      fail_msg("%s row %zu: got '%s', want '%s'", what, i, g, w);
    }
  }
}

static void test_readiness(void **state) {
  static const char *const want[] = {
      "fail.example senders=2 days=7 ok=70 failed=1 sessions failed in the "
      "window",
      "few.example senders=1 days=7 ok=70 failed=0 too few sending "
      "organisations",
      "old.example senders=0 days=0 ok=0 failed=0 no reports in the window",
      "ready.example senders=2 days=7 ok=80 failed=0 READY",
      "short.example senders=2 days=3 ok=40 failed=0 too few days with "
      "reports",
      NULL};
  static const char *const relaxed[] = {
      "few.example senders=1 days=7 ok=70 failed=0 READY", NULL};
  static const char *const nobody[] = {
      "Nobody.example senders=0 days=0 ok=0 failed=0 no reports in the "
      "window",
      NULL};
  static const char *const narrow[] = {
      "ready.example senders=1 days=2 ok=20 failed=0 too few sending "
      "organisations",
      NULL};
  static struct ready_seen s;
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct mts_rpt_store *st = NULL;
  const int64_t now = D10 + 10 * DAY + 43200; /* 2026-11-20T12:00Z */
  char path[128], id[32];
  int day;

  (void)state;
  db_path(path, sizeof(path), "ready.db");
  assert_int_equal(mts_rpt_store_open(ctx, path, &st), MTS_OK);
  /* The 14-day window ending 2026-11-20 starts on 2026-11-07. */
  for (day = 10; day <= 16; day++) {
    (void)snprintf(id, sizeof(id), "a-%d", day);
    assert_int_equal(add_simple(ctx, st, "Org A", id, day, "ready.example",
                                10, 0),
                     MTS_RPT_STORE_NEW);
    assert_int_equal(add_simple(ctx, st, "Org A", id, day, "few.example", 10,
                                0),
                     MTS_RPT_STORE_DUPLICATE);
    (void)snprintf(id, sizeof(id), "f-%d", day);
    assert_int_equal(add_simple(ctx, st, "Org A", id, day, "few.example", 10,
                                0),
                     MTS_RPT_STORE_NEW);
    (void)snprintf(id, sizeof(id), "x-%d", day);
    assert_int_equal(add_simple(ctx, st, "Org B", id, day, "fail.example", 10,
                                day == 13 ? 1 : 0),
                     MTS_RPT_STORE_NEW);
  }
  assert_int_equal(add_simple(ctx, st, "Org B", "b-1", 10, "ready.example",
                              10, 0),
                   MTS_RPT_STORE_NEW);
  assert_int_equal(add_simple(ctx, st, "Org C", "c-1", 12, "fail.example", 0,
                              0),
                   MTS_RPT_STORE_NEW);
  /* Failures before the window (2026-11-01, 11-06) do not count. */
  assert_int_equal(add_simple(ctx, st, "Org B", "b-old", 1, "ready.example",
                              10, 5),
                   MTS_RPT_STORE_NEW);
  assert_int_equal(add_simple(ctx, st, "Org B", "b-old2", 6, "ready.example",
                              10, 5),
                   MTS_RPT_STORE_NEW);
  assert_int_equal(add_simple(ctx, st, "Org A", "o-1", 1, "old.example", 10,
                              0),
                   MTS_RPT_STORE_NEW);
  for (day = 10; day <= 12; day++) {
    (void)snprintf(id, sizeof(id), "s-%d", day);
    assert_int_equal(add_simple(ctx, st, "Org A", id, day, "short.example",
                                10, 0),
                     MTS_RPT_STORE_NEW);
    (void)snprintf(id, sizeof(id), "t-%d", day);
    assert_int_equal(add_simple(ctx, st, day == 10 ? "Org B" : "Org A", id,
                                day, "short.example", day == 10 ? 10 : 0, 0),
                     MTS_RPT_STORE_NEW);
  }

  memset(&s, 0, sizeof(s));
  assert_int_equal(mts_rpt_store_readiness(st, NULL, now, 14, 2, 7, ready_cb,
                                           &s),
                   MTS_OK);
  check_ready("defaults", &s, want);

  memset(&s, 0, sizeof(s));
  assert_int_equal(mts_rpt_store_readiness(st, "FEW.example.", now, 14, 1, 7,
                                           ready_cb, &s),
                   MTS_OK);
  check_ready("one sender enough", &s, relaxed);

  memset(&s, 0, sizeof(s));
  assert_int_equal(mts_rpt_store_readiness(st, "Nobody.example", now, 14, 2,
                                           7, ready_cb, &s),
                   MTS_OK);
  check_ready("nobody", &s, nobody);

  /* A 2-day window ending on 11-16: only Org A's days 15 and 16. */
  memset(&s, 0, sizeof(s));
  assert_int_equal(mts_rpt_store_readiness(st, "ready.example",
                                           D10 + 6 * DAY + 1, 2, 2, 2,
                                           ready_cb, &s),
                   MTS_OK);
  check_ready("narrow", &s, narrow);

  assert_int_equal(mts_rpt_store_readiness(st, NULL, now, 0, 2, 7, ready_cb,
                                           &s),
                   MTS_EINVAL);
  assert_int_equal(mts_rpt_store_readiness(st, NULL, now, 14, 2, 7, NULL,
                                           &s),
                   MTS_EINVAL);
  mts_rpt_store_close(st);
  mts_ctx_destroy(ctx);
}

/* ---- one transaction per add ---- */

static void test_add_atomic(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct mts_rpt_store *st = NULL;
  struct mts_rpt_report *r = NULL;
  enum mts_rpt_store_outcome out = MTS_RPT_STORE_NEW;
  char path[128], pol[1024], rep[2048];

  (void)state;
  db_path(path, sizeof(path), "atomic.db");
  assert_int_equal(mts_rpt_store_open(ctx, path, &st), MTS_OK);
  mts_rpt_store_close(st);
  /* Make the last insert of an add (a failure detail) fail. */
  sql_exec(path, "CREATE TRIGGER boom BEFORE INSERT ON failure BEGIN "
                 "SELECT RAISE(ABORT, 'injected'); END;");
  st = NULL;
  assert_int_equal(mts_rpt_store_open(ctx, path, &st), MTS_OK);
  mts_ctx_set_log(ctx, log_cb, NULL, MTS_LOG_WARNING);
  policy_json(pol, sizeof(pol), "example.com", 1, 1,
              "[{\"result-type\":\"certificate-expired\","
              "\"failed-session-count\":1}]");
  (void)report_json(rep, sizeof(rep), "Org", "atomic-1", 10, "00:00:00Z",
                    pol);
  assert_int_equal(mts_rpt_report_parse(ctx, (const uint8_t *)rep,
                                        strlen(rep), &r),
                   MTS_OK);
  lastlog[0] = '\0';
  assert_int_equal(mts_rpt_store_add(st, r, (const uint8_t *)rep, strlen(rep),
                                     "file:x", NULL, &out),
                   MTS_EIO);
  assert_int_equal(out, MTS_RPT_STORE_REJECTED);
  assert_non_null(strstr(lastlog, "cannot insert a failure: injected"));
  /* The store still works for a report without failures. */
  assert_int_equal(add_simple(ctx, st, "Org", "atomic-2", 10, "example.com",
                              3, 0),
                   MTS_RPT_STORE_NEW);
  mts_rpt_report_destroy(r);
  mts_rpt_store_close(st);
  /* Nothing of the failed add remains: no raw, report or policy row. */
  assert_int_equal(sql_int(path, "SELECT count(*) FROM raw"), 1);
  assert_int_equal(sql_int(path, "SELECT count(*) FROM report"), 1);
  assert_int_equal(sql_int(path, "SELECT count(*) FROM policy"), 1);
  assert_int_equal(sql_int(path, "SELECT count(*) FROM report WHERE "
                                 "report_id='atomic-1'"),
                   0);
  mts_ctx_destroy(ctx);
}

/* A receiver's store whose file is removed, then damaged, while open:
 * the statements are made again on the new file, nothing received
 * before the removal is lost, the damaged file is kept aside. */
static void test_file_lost(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct mts_rpt_store *st = NULL;
  char path[128], cmd[256];

  (void)state;
  db_path(path, sizeof(path), "lost.db");
  assert_int_equal(mts_rpt_store_open(ctx, path, &st), MTS_OK);
  mts_ctx_set_log(ctx, log_cb, NULL, MTS_LOG_WARNING);
  assert_int_equal(add_simple(ctx, st, "Org", "l-1", 10, "example.com", 3, 0),
                   MTS_RPT_STORE_NEW);
  assert_int_equal(unlink(path), 0);
  lastlog[0] = '\0';
  assert_int_equal(add_simple(ctx, st, "Org", "l-2", 10, "example.com", 4, 0),
                   MTS_RPT_STORE_NEW);
  assert_non_null(strstr(lastlog, "removed under us; all it held is copied"));
  /* a duplicate of a report received before the removal is still known */
  assert_int_equal(add_simple(ctx, st, "Org", "l-1", 10, "example.com", 3, 0),
                   MTS_RPT_STORE_DUPLICATE);
  assert_int_equal(sql_int(path, "SELECT count(*) FROM report"), 2);

  assert_int_equal(truncate(path, 0), 0);
  lastlog[0] = '\0';
  assert_int_equal(add_simple(ctx, st, "Org", "l-3", 10, "example.com", 5, 0),
                   MTS_RPT_STORE_NEW);
  assert_non_null(strstr(lastlog, "damaged (truncated or overwritten); "
                                  "moved to "));
  mts_rpt_store_close(st);
  assert_int_equal(sql_int(path, "SELECT count(*) FROM report"), 1);
  (void)snprintf(cmd, sizeof(cmd), "ls %s/lost.db.damaged-*[0-9] >/dev/null",
                 tmpdir);
  assert_int_equal(system(cmd), 0);
  mts_ctx_destroy(ctx);
}

/* ---- files that are not ours ---- */

struct bad_case {
  const char *name;
  const char *want_log;
};

static void test_bad_files(void **state) {
  static const struct bad_case cases[] = {
      {"corrupt", "cannot read it as an SQLite database: file is not a "
                  "database"},
      {"foreign", "not an mtasts report store"},
      {"newer", "schema version 2 is newer"},
      {"world-writable", "world-writable"},
      {"policy-cache", "not an mtasts report store (application_id "
                       "1297371988"},
      {"no-dir", "cannot open"},
  };
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  size_t i;

  (void)state;
  mts_ctx_set_log(ctx, log_cb, NULL, MTS_LOG_WARNING);
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    const struct bad_case *c = &cases[i];
    struct mts_rpt_store *st = (struct mts_rpt_store *)&a;
    char path[128];
    FILE *f;

    db_path(path, sizeof(path), c->name);
    if (strcmp(c->name, "corrupt") == 0) {
      f = fopen(path, "wb");
      assert_non_null(f);
      for (int k = 0; k < 200; k++) {
        fputs("this is not an SQLite file ", f);
      }
      fclose(f);
    } else if (strcmp(c->name, "foreign") == 0) {
      sql_exec(path, "CREATE TABLE t (x); INSERT INTO t VALUES (1);");
    } else if (strcmp(c->name, "newer") == 0) {
      struct mts_rpt_store *ok = NULL;

      assert_int_equal(mts_rpt_store_open(ctx, path, &ok), MTS_OK);
      mts_rpt_store_close(ok);
      sql_exec(path, "PRAGMA user_version = 2;");
    } else if (strcmp(c->name, "world-writable") == 0) {
      struct mts_rpt_store *ok = NULL;

      assert_int_equal(mts_rpt_store_open(ctx, path, &ok), MTS_OK);
      mts_rpt_store_close(ok);
      assert_int_equal(chmod(path, 0666), 0);
    } else if (strcmp(c->name, "policy-cache") == 0) {
      sql_exec(path, "PRAGMA application_id = 1297371988; CREATE TABLE "
                     "policies (domain TEXT);");
    } else {
      db_path(path, sizeof(path), "no-such-dir/x.db");
    }
    lastlog[0] = '\0';
    assert_int_equal(mts_rpt_store_open(ctx, path, &st), MTS_EIO);
    assert_null(st);
    if (strstr(lastlog, c->want_log) == NULL ||
        strstr(lastlog, path) == NULL) {
      fail_msg("%s: log '%s' lacks '%s' or the path", c->name, lastlog,
               c->want_log);
    }
  }
  mts_ctx_destroy(ctx);
}

/* ---- allocation failures ---- */

static enum mts_status sweep_op(struct mts_ctx *ctx, void *arg) {
  const char *path = arg;
  struct mts_rpt_store *st = NULL;
  struct mts_rpt_report *r = NULL;
  enum mts_rpt_store_outcome out;
  static struct sum_seen s;
  static struct ready_seen rs;
  static struct raw_seen raws;
  enum mts_status ret;
  char pol[1024], rep[2048];
  static const char bad[] = "{\"report-id\":1}";

  mts_test_rm_db(path);
  policy_json(pol, sizeof(pol), "example.com", 5, 1,
              "[{\"result-type\":\"certificate-expired\","
              "\"receiving-mx-hostname\":\"mx1.example.com\","
              "\"failed-session-count\":1}]");
  (void)report_json(rep, sizeof(rep), "Org", "sweep-1", 10, "00:00:00Z",
                    pol);
  ret = mts_rpt_store_open(ctx, path, &st);
  if (ret != MTS_OK) {
    return ret;
  }
  ret = mts_rpt_report_parse(ctx, (const uint8_t *)rep, strlen(rep), &r);
  if (ret != MTS_OK) {
    goto done;
  }
  ret = mts_rpt_store_add(st, r, (const uint8_t *)rep, strlen(rep), "file:s",
                          NULL, &out);
  if (ret != MTS_OK) {
    goto done;
  }
  assert_int_equal(out, MTS_RPT_STORE_NEW);
  ret = mts_rpt_store_add(st, r, (const uint8_t *)rep, strlen(rep), "file:s",
                          NULL, &out);
  if (ret != MTS_OK) {
    goto done;
  }
  assert_int_equal(out, MTS_RPT_STORE_DUPLICATE);
  mts_rpt_report_destroy(r);
  r = NULL;
  ret = mts_rpt_report_parse(ctx, (const uint8_t *)bad, strlen(bad), &r);
  if (ret != MTS_OK) {
    goto done;
  }
  ret = mts_rpt_store_add(st, r, (const uint8_t *)bad, strlen(bad), "file:b",
                          NULL, &out);
  if (ret != MTS_OK) {
    goto done;
  }
  assert_int_equal(out, MTS_RPT_STORE_REJECTED);
  memset(&s, 0, sizeof(s));
  ret = mts_rpt_store_summary(st, NULL, 0, sum_cb, fail_cb, &s);
  if (ret != MTS_OK) {
    goto done;
  }
  assert_int_equal(s.n, 1);
  assert_int_equal(s.nf, 1);
  memset(&rs, 0, sizeof(rs));
  ret = mts_rpt_store_readiness(st, NULL, D10, 14, 2, 7, ready_cb, &rs);
  if (ret != MTS_OK) {
    goto done;
  }
  assert_int_equal(rs.n, 1);
  memset(&raws, 0, sizeof(raws));
  ret = mts_rpt_store_raw(st, 0, 0, true, raw_cb, &raws);
  if (ret != MTS_OK) {
    goto done;
  }
  assert_int_equal(raws.n, 3);
done:
  mts_rpt_report_destroy(r);
  mts_rpt_store_close(st);
  return ret;
}

/* Usage counts by time and source prefix; prune deletes the inputs
 * received before the cut and what was parsed from them, leaves no row
 * behind that points at a deleted one, and is all or nothing. */
static void test_usage_prune(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct mts_test_clock clk = {D10};
  struct mts_rpt_store *st = NULL;
  static const uint8_t junk[] = {0x1f, 0x8b, 0x08, 0x00, 0xde, 0xad};
  enum mts_rpt_store_outcome out;
  static struct raw_seen seen;
  uint64_t n = 99, bytes = 99, reports = 99;
  int64_t total;
  char path[128];

  (void)state;
  mts_ctx_set_clock(ctx, mts_test_clock_fn, &clk);
  db_path(path, sizeof(path), "prune.db");
  assert_int_equal(mts_rpt_store_open(ctx, path, &st), MTS_OK);

  /* Day 10: report A (with a failure row) and junk over HTTPS. */
  assert_int_equal(add_simple(ctx, st, "Org A", "id-a", 10, "example.com",
                              8, 2),
                   MTS_RPT_STORE_NEW);
  clk.now++;
  assert_int_equal(mts_rpt_store_add(st, NULL, junk, sizeof(junk),
                                     "https:192.0.2.1", "gzip: truncated",
                                     &out),
                   MTS_OK);
  /* Day 12: a copy of A, and report B. */
  clk.now = D10 + 2 * DAY;
  assert_int_equal(add_simple(ctx, st, "Org A", "id-a", 10, "example.com",
                              8, 2),
                   MTS_RPT_STORE_DUPLICATE);
  assert_int_equal(add_simple(ctx, st, "Org B", "id-b", 11, "example.com",
                              5, 0),
                   MTS_RPT_STORE_NEW);
  total = sql_int(path, "SELECT sum(size) FROM raw");

  assert_int_equal(mts_rpt_store_usage(st, 0, NULL, &n, &bytes), MTS_OK);
  assert_int_equal(n, 4);
  assert_int_equal(bytes, (uint64_t)total);
  assert_int_equal(mts_rpt_store_usage(st, D10, "https:", &n, &bytes),
                   MTS_OK);
  assert_int_equal(n, 1);
  assert_int_equal(bytes, sizeof(junk));
  assert_int_equal(mts_rpt_store_usage(st, D10 + DAY, "file:", &n, &bytes),
                   MTS_OK);
  assert_int_equal(n, 2);
  assert_int_equal(mts_rpt_store_usage(st, D10 + 3 * DAY, NULL, &n, &bytes),
                   MTS_OK);
  assert_int_equal(n, 0);
  assert_int_equal(bytes, 0);
  assert_int_equal(mts_rpt_store_usage(st, 0, "https", NULL, NULL), MTS_OK);
  assert_int_equal(mts_rpt_store_usage(NULL, 0, NULL, &n, &bytes),
                   MTS_EINVAL);

  /* A prune that fails half-way deletes nothing. */
  sql_exec(path, "CREATE TRIGGER nodel BEFORE DELETE ON raw BEGIN "
                 "SELECT RAISE(ABORT, 'refused'); END");
  lastlog[0] = '\0';
  mts_ctx_set_log(ctx, log_cb, NULL, MTS_LOG_WARNING);
  assert_int_equal(mts_rpt_store_prune(st, D10 + DAY, &n, &reports),
                   MTS_EIO);
  assert_int_equal(n, 0);
  assert_int_equal(reports, 0);
  assert_non_null(strstr(lastlog, "cannot prune"));
  assert_int_equal(sql_int(path, "SELECT count(*) FROM report"), 2);
  assert_int_equal(sql_int(path, "SELECT count(*) FROM failure"), 1);
  assert_int_equal(sql_int(path, "SELECT count(*) FROM raw"), 4);
  sql_exec(path, "DROP TRIGGER nodel");

  /* Before day 11: A and the junk go; A's copy stays, unlinked. */
  assert_int_equal(mts_rpt_store_prune(st, D10 + DAY, &n, &reports), MTS_OK);
  assert_int_equal(n, 2);
  assert_int_equal(reports, 1);
  assert_int_equal(sql_int(path, "SELECT count(*) FROM report"), 1);
  assert_int_equal(sql_int(path, "SELECT count(*) FROM policy"), 1);
  assert_int_equal(sql_int(path, "SELECT count(*) FROM failure"), 0);
  assert_int_equal(sql_int(path, "SELECT count(*) FROM policy WHERE report "
                                 "NOT IN (SELECT id FROM report)"),
                   0);
  assert_int_equal(sql_int(path, "SELECT count(*) FROM raw WHERE "
                                 "duplicate_of IS NOT NULL"),
                   0);
  memset(&seen, 0, sizeof(seen));
  assert_int_equal(mts_rpt_store_raw(st, 0, 0, false, raw_cb, &seen), MTS_OK);
  assert_int_equal(seen.n, 2);
  assert_int_equal(seen.rows[0].outcome, MTS_RPT_STORE_DUPLICATE);
  assert_int_equal(seen.rows[1].outcome, MTS_RPT_STORE_NEW);
  /* Nothing more before that cut; A sent again is new again. */
  assert_int_equal(mts_rpt_store_prune(st, D10 + DAY, &n, &reports), MTS_OK);
  assert_int_equal(n, 0);
  assert_int_equal(reports, 0);
  assert_int_equal(add_simple(ctx, st, "Org A", "id-a", 10, "example.com",
                              8, 2),
                   MTS_RPT_STORE_NEW);
  /* Everything. */
  assert_int_equal(mts_rpt_store_prune(st, D10 + 3 * DAY, NULL, NULL),
                   MTS_OK);
  assert_int_equal(sql_int(path, "SELECT count(*) FROM raw"), 0);
  assert_int_equal(sql_int(path, "SELECT count(*) FROM report"), 0);
  assert_int_equal(sql_int(path, "SELECT count(*) FROM policy"), 0);
  assert_int_equal(sql_int(path, "SELECT count(*) FROM failure"), 0);
  assert_int_equal(mts_rpt_store_prune(NULL, 0, &n, &reports), MTS_EINVAL);

  mts_rpt_store_close(st);
  mts_ctx_destroy(ctx);
}

static void test_alloc_sweep(void **state) {
  char path[128];
  long n;

  (void)state;
  db_path(path, sizeof(path), "sweep.db");
  n = mts_test_alloc_sweep(sweep_op, path);
  assert_true(n > 4);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_day),
      cmocka_unit_test(test_open_schema),
      cmocka_unit_test(test_add_duplicate_rejected),
      cmocka_unit_test(test_summary_rows),
      cmocka_unit_test(test_readiness),
      cmocka_unit_test(test_add_atomic),
      cmocka_unit_test(test_file_lost),
      cmocka_unit_test(test_bad_files),
      cmocka_unit_test(test_usage_prune),
      cmocka_unit_test(test_alloc_sweep),
  };

  return cmocka_run_group_tests(tests, setup, teardown);
}
