/*
 * test_mtastsd_metrics.c - the Prometheus exposition text of mtastsd
 * (src/mtastsd/metrics.c): names, labels, counts, the histogram's
 * cumulative buckets, and the snprintf-like truncation contract.
 * Vector IDs MX-xx are in docs/internals/control.md ("Metrics").
 */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include <mtasts/sts_discover.h>
#include <mtasts/sts_policy.h>

#include "metrics.h"

#define BUF 16384

/* A sample with every counter distinct, so a swapped label shows. */
static void sample(struct mtastsd_metrics *m) {
  memset(m, 0, sizeof(*m));
  m->rs.answers[MTS_ANSWER_POLICY] = 11;
  m->rs.answers[MTS_ANSWER_NONE] = 12;
  m->rs.answers[MTS_ANSWER_TEMP] = 13;
  m->rs.hits = 14;
  m->rs.txt_queries = 15;
  m->rs.fetches = 16;
  m->rs.fetch_results[MTS_STS_V_POLICY] = 17;
  m->rs.fetch_results[MTS_STS_V_FETCH_ERROR] = 18;
  m->rs.fetch_results[MTS_STS_V_WEBPKI_INVALID] = 19;
  m->rs.fetch_results[MTS_STS_V_POLICY_INVALID] = 20;
  m->rs.refresh_failures = 21;
  m->rs.store_errors = 22;
  m->rs.policies[MTS_STS_MODE_ENFORCE] = 23;
  m->rs.policies[MTS_STS_MODE_TESTING] = 24;
  m->rs.policies[MTS_STS_MODE_NONE] = 25;
  m->rs.records = 26;
  m->rs.inflight = 27;
  m->srv.conns = 28;
  m->srv.replies[MTS_SOCKETMAP_REPLY_OK] = 29;
  m->srv.replies[MTS_SOCKETMAP_REPLY_NOTFOUND] = 30;
  m->srv.replies[MTS_SOCKETMAP_REPLY_TEMP] = 31;
  m->srv.replies[MTS_SOCKETMAP_REPLY_TIMEOUT] = 1;
  m->srv.replies[MTS_SOCKETMAP_REPLY_PERM] = 33;
  m->srv.lat_buckets[0] = 2;  /* <= 0.0001 */
  m->srv.lat_buckets[1] = 3;  /* <= 0.00025 */
  m->srv.lat_buckets[12] = 4; /* <= 1 */
  m->srv.lat_count = 10;      /* 1 beyond 60 s */
  m->srv.lat_sum_us = 61250000u;
}

struct line_vec {
  const char *id;
  const char *line; /* a whole line that must be present */
};

static const struct line_vec lines[] = {
    {"MX-01 lookups policy", "mtastsd_lookups_total{answer=\"policy\"} 11"},
    {"MX-01 lookups none", "mtastsd_lookups_total{answer=\"none\"} 12"},
    {"MX-01 lookups temp", "mtastsd_lookups_total{answer=\"temp\"} 13"},
    {"MX-02 hits", "mtastsd_cache_hits_total 14"},
    {"MX-03 txt", "mtastsd_txt_queries_total 15"},
    {"MX-04 fetches started", "mtastsd_fetches_started_total 16"},
    {"MX-04 fetch policy", "mtastsd_fetches_total{result=\"policy\"} 17"},
    {"MX-04 fetch error",
     "mtastsd_fetches_total{result=\"sts-policy-fetch-error\"} 18"},
    {"MX-04 webpki", "mtastsd_fetches_total{result=\"sts-webpki-invalid\"} 19"},
    {"MX-04 invalid",
     "mtastsd_fetches_total{result=\"sts-policy-invalid\"} 20"},
    {"MX-05 refresh failures", "mtastsd_refresh_failures_total 21"},
    {"MX-05 store errors", "mtastsd_store_errors_total 22"},
    {"MX-06 enforce", "mtastsd_policies{mode=\"enforce\"} 23"},
    {"MX-06 testing", "mtastsd_policies{mode=\"testing\"} 24"},
    {"MX-06 none", "mtastsd_policies{mode=\"none\"} 25"},
    {"MX-07 records", "mtastsd_records 26"},
    {"MX-07 inflight", "mtastsd_discoveries_inflight 27"},
    {"MX-07 connections", "mtastsd_connections 28"},
    {"MX-08 ok", "mtastsd_requests_total{reply=\"ok\"} 29"},
    {"MX-08 notfound", "mtastsd_requests_total{reply=\"notfound\"} 30"},
    {"MX-08 temp (+timeout)", "mtastsd_requests_total{reply=\"temp\"} 32"},
    {"MX-08 perm", "mtastsd_requests_total{reply=\"perm\"} 33"},
    {"MX-09 type", "# TYPE mtastsd_lookup_duration_seconds histogram"},
    {"MX-09 first bucket",
     "mtastsd_lookup_duration_seconds_bucket{le=\"0.0001\"} 2"},
    {"MX-09 cumulative",
     "mtastsd_lookup_duration_seconds_bucket{le=\"0.00025\"} 5"},
    {"MX-09 flat", "mtastsd_lookup_duration_seconds_bucket{le=\"0.5\"} 5"},
    {"MX-09 one second", "mtastsd_lookup_duration_seconds_bucket{le=\"1\"} 9"},
    {"MX-09 last bound", "mtastsd_lookup_duration_seconds_bucket{le=\"60\"} 9"},
    {"MX-09 +Inf", "mtastsd_lookup_duration_seconds_bucket{le=\"+Inf\"} 10"},
    {"MX-09 sum", "mtastsd_lookup_duration_seconds_sum 61.25"},
    {"MX-09 count", "mtastsd_lookup_duration_seconds_count 10"},
    {"MX-10 counter type", "# TYPE mtastsd_cache_hits_total counter"},
    {"MX-10 gauge type", "# TYPE mtastsd_records gauge"},
};

static bool has_line(const char *text, const char *line) {
  size_t n = strlen(line);
  const char *p = text;

  while ((p = strstr(p, line)) != NULL) {
    if ((p == text || p[-1] == '\n') && p[n] == '\n') {
      return true;
    }
    p++;
  }
  return false;
}

static void test_lines(void **state) {
  struct mtastsd_metrics m;
  char *buf = malloc(BUF);
  size_t i, n;

  (void)state;
  assert_non_null(buf);
  sample(&m);
  n = mtastsd_metrics_format(&m, buf, BUF);
  assert_true(n < BUF);
  assert_int_equal(strlen(buf), n);
  for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
    if (!has_line(buf, lines[i].line)) {
      fail_msg("%s: line \"%s\" missing; got:\n%s", lines[i].id, lines[i].line,
               buf);
    }
  }
  free(buf);
}

/* MX-11: every line is a comment or "name[{labels}] value", the text
 * ends with a newline, and each metric family has HELP and TYPE once. */
static void test_syntax(void **state) {
  struct mtastsd_metrics m;
  char *buf = malloc(BUF);
  const char *p, *nl;
  size_t n, types = 0;

  (void)state;
  assert_non_null(buf);
  sample(&m);
  n = mtastsd_metrics_format(&m, buf, BUF);
  assert_true(n > 0 && buf[n - 1] == '\n');
  for (p = buf; *p != '\0'; p = nl + 1) {
    const char *sp;

    nl = strchr(p, '\n');
    assert_non_null(nl);
    if (strncmp(p, "# TYPE ", 7) == 0) {
      types++;
      continue;
    }
    if (strncmp(p, "# HELP ", 7) == 0) {
      continue;
    }
    if (strncmp(p, "mtastsd_", 8) != 0) {
      fail_msg("MX-11: line does not start with mtastsd_: %.*s", (int)(nl - p),
               p);
    }
    sp = memchr(p, ' ', (size_t)(nl - p));
    if (sp == NULL || sp + 1 == nl || sp[1] < '0' || sp[1] > '9') {
      fail_msg("MX-11: no value: %.*s", (int)(nl - p), p);
    }
  }
  /* 13 families (metrics.h). */
  if (types != 13) {
    fail_msg("MX-11: got %zu TYPE lines, want 13", types);
  }
  free(buf);
}

/* MX-12: all zeros still lists every series (Prometheus wants them). */
static void test_zero(void **state) {
  struct mtastsd_metrics m;
  char *buf = malloc(BUF);

  (void)state;
  assert_non_null(buf);
  memset(&m, 0, sizeof(m));
  (void)mtastsd_metrics_format(&m, buf, BUF);
  assert_true(has_line(buf, "mtastsd_lookups_total{answer=\"temp\"} 0"));
  assert_true(
      has_line(buf, "mtastsd_lookup_duration_seconds_bucket{le=\"+Inf\"} 0"));
  assert_true(has_line(buf, "mtastsd_lookup_duration_seconds_sum 0"));
  /* MX-04: a fetch never ends in "no-policy" (a TXT verdict). */
  assert_null(strstr(buf, "result=\"no-policy\""));
  assert_null(strstr(buf, "result=\"dns-temporary-failure\""));
  free(buf);
}

/* MX-13: a short buffer: the full length comes back, the buffer holds a
 * NUL-terminated prefix; cap 0 writes nothing. */
static void test_truncation(void **state) {
  struct mtastsd_metrics m;
  char *full = malloc(BUF);
  char small[64];
  size_t n, n2, n0;

  (void)state;
  assert_non_null(full);
  sample(&m);
  n = mtastsd_metrics_format(&m, full, BUF);
  memset(small, 'x', sizeof(small));
  n2 = mtastsd_metrics_format(&m, small, sizeof(small));
  assert_int_equal(n2, n);
  assert_int_equal(strlen(small), sizeof(small) - 1);
  assert_memory_equal(small, full, sizeof(small) - 1);
  n0 = mtastsd_metrics_format(&m, NULL, 0);
  assert_int_equal(n0, n);
  free(full);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lines),
      cmocka_unit_test(test_syntax),
      cmocka_unit_test(test_zero),
      cmocka_unit_test(test_truncation),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
