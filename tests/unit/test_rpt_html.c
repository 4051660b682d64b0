/*
 * test_rpt_html.c - the static report page (rpt_html.h): a store filled
 * with known reports, then exact checks of the page's structure,
 * numbers, plots, escaping of hostile report content, determinism, the
 * file written, and an allocation-failure sweep.
 */
#include "testutil.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mtasts/rpt_html.h>
#include <mtasts/rpt_report.h>
#include <mtasts/rpt_store.h>

#define NOV1 1793491200 /* 2026-11-01T00:00:00Z */
#define DAY 86400
#define GENERATED (NOV1 + 7 * DAY + 12 * 3600) /* 2026-11-08T12:00:00Z */

struct fixture {
  struct mts_test_alloc a;
  struct mts_ctx *ctx;
  char dir[64];
  char db[96];
  struct mts_rpt_store *store;
};

/* Add one report: \p org on day \p day (0 = Nov 1) for \p domain with
 * \p ok successful sessions and up to two failure details. */
struct fail {
  const char *type, *mx; /* JSON-escaped already */
  unsigned n;
};

static void add_report(struct fixture *f, const char *org, const char *id,
                       int day, const char *domain, unsigned ok,
                       const struct fail *fails, size_t nfails) {
  char json[4096], details[2048], date[24];
  size_t off = 0, i;
  unsigned nfail = 0;
  struct mts_rpt_report *rep = NULL;
  enum mts_rpt_store_outcome out;

  details[0] = '\0';
  for (i = 0; i < nfails; i++) {
    off += (size_t)snprintf(details + off, sizeof details - off,
                            "%s{\"result-type\":\"%s\","
                            "\"sending-mta-ip\":\"192.0.2.1\","
                            "\"receiving-mx-hostname\":\"%s\","
                            "\"failed-session-count\":%u}",
                            i > 0 ? "," : "", fails[i].type, fails[i].mx,
                            fails[i].n);
    nfail += fails[i].n;
  }
  snprintf(date, sizeof date, "2026-11-%02d", day + 1);
  snprintf(json, sizeof json,
           "{\"organization-name\":\"%s\","
           "\"date-range\":{\"start-datetime\":\"%sT00:00:00Z\","
           "\"end-datetime\":\"%sT23:59:59Z\"},"
           "\"contact-info\":\"tlsrpt@sender.example\","
           "\"report-id\":\"%s\","
           "\"policies\":[{\"policy\":{\"policy-type\":\"sts\","
           "\"policy-string\":[\"version: STSv1\",\"mode: testing\","
           "\"mx: *.%s\",\"max_age: 86400\"],"
           "\"policy-domain\":\"%s\"},"
           "\"summary\":{\"total-successful-session-count\":%u,"
           "\"total-failure-session-count\":%u},"
           "\"failure-details\":[%s]}]}",
           org, date, date, id, domain, domain, ok, nfail, details);
  assert_int_equal(mts_rpt_report_parse(f->ctx, (const uint8_t *)json,
                                        strlen(json), &rep),
                   MTS_OK);
  if (!mts_rpt_report_usable(rep)) {
    fail_msg("fixture report %s not usable: %s", id,
             mts_findings_get(mts_rpt_report_findings(rep), 0)->message);
  }
  assert_int_equal(mts_rpt_store_add(f->store, rep, (const uint8_t *)json,
                                     strlen(json), "test", NULL, &out),
                   MTS_OK);
  assert_int_equal(out, MTS_RPT_STORE_NEW);
  mts_rpt_report_destroy(rep);
}

/*
 * example.com: "Google Inc." on days 0-2 (90 ok + 10 certificate-expired
 * at mx1, each day), a hostile organisation on day 1 (0 ok, 4
 * starttls-not-supported at a hostile MX name); not ready (failures).
 * ready.example: two organisations on 7 days, no failure: ready.
 */
static void fill(struct fixture *f) {
  static const struct fail ce = {"certificate-expired", "mx1.example.com",
                                 10};
  static const struct fail hostile[] = {
      {"starttls-not-supported", "\\\"><svg onload=alert(2)>", 3},
      {"validation-failure", "mx2.example.com", 1}};
  char id[32];
  int d;

  for (d = 0; d < 3; d++) {
    snprintf(id, sizeof id, "g%d", d);
    add_report(f, "Google Inc.", id, d, "example.com", 90, &ce, 1);
  }
  add_report(f, "<script>alert(1)</script> & Co", "h1", 1, "example.com", 0,
             hostile, 2);
  for (d = 0; d < 7; d++) {
    snprintf(id, sizeof id, "a%d", d);
    add_report(f, "Alpha", id, d, "ready.example", 5, NULL, 0);
    snprintf(id, sizeof id, "b%d", d);
    add_report(f, "Beta", id, d, "ready.example", 7, NULL, 0);
  }
}

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof *f);

  assert_non_null(f);
  f->ctx = mts_test_ctx(&f->a, 0);
  snprintf(f->dir, sizeof f->dir, "/tmp/mts-html-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  snprintf(f->db, sizeof f->db, "%s/t.db", f->dir);
  assert_int_equal(mts_rpt_store_open(f->ctx, f->db, &f->store), MTS_OK);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  char p[160];

  mts_rpt_store_close(f->store);
  mts_ctx_destroy(f->ctx);
  unlink(f->db);
  snprintf(p, sizeof p, "%s/out/index.html", f->dir);
  unlink(p);
  snprintf(p, sizeof p, "%s/out", f->dir);
  rmdir(p);
  rmdir(f->dir);
  free(f);
  return 0;
}

static struct mts_rpt_html_opts opts_at(int64_t now) {
  struct mts_rpt_html_opts o;

  memset(&o, 0, sizeof o);
  o.generated_at = now;
  return o;
}

static char *render(struct fixture *f, const struct mts_rpt_html_opts *o,
                    size_t *len) {
  char *html = NULL;

  assert_int_equal(mts_rpt_html_render(f->ctx, f->store, o, &html, len),
                   MTS_OK);
  assert_non_null(html);
  assert_int_equal(strlen(html), *len);
  return html;
}

static void has(const char *html, const char *want) {
  if (strstr(html, want) == NULL) {
    fail_msg("page lacks: %s", want);
  }
}

static void lacks(const char *html, const char *bad) {
  if (strstr(html, bad) != NULL) {
    fail_msg("page has: %s", bad);
  }
}

static size_t occurrences(const char *html, const char *s) {
  size_t n = 0;
  const char *p = html;

  while ((p = strstr(p, s)) != NULL) {
    n++;
    p += strlen(s);
  }
  return n;
}

static void test_page(void **state) {
  struct fixture *f = *state;
  struct mts_rpt_html_opts o = opts_at(GENERATED);
  size_t len, len2;
  char *html, *again;

  fill(f);
  html = render(f, &o, &len);

  /* frame */
  assert_memory_equal(html, "<!DOCTYPE html>\n", 16);
  has(html, "<meta charset=\"utf-8\">");
  has(html, "content=\"default-src 'none'; style-src 'unsafe-inline'\"");
  has(html, "<p id=\"generated\">Generated at 2026-11-08T12:00:00Z. 2 policy "
            "domains, 18 reports, 354 successful and 34 failed sessions.</p>");
  /* sections in name order, verdicts */
  has(html, "<section id=\"d0\" class=\"domain\">\n<h2>example.com</h2>");
  has(html, "<section id=\"d1\" class=\"domain\">\n<h2>ready.example</h2>");
  assert_true(strstr(html, "id=\"d0\"") < strstr(html, "id=\"d1\""));
  has(html, "<p id=\"d0-verdict\" class=\"verdict not-ready\">Not ready to "
            "enforce: ");
  has(html, "<p id=\"d1-verdict\" class=\"verdict ready\">Ready to "
            "enforce</p>");
  has(html, "<tr><td><a href=\"#d1\">ready.example</a></td><td>ready</td>"
            "<td class=\"n\">2</td><td class=\"n\">7</td>"
            "<td class=\"n\">84</td><td class=\"n\">0</td></tr>");
  /* rate table rows: 10 of 100 failed; the hostile sender 4 of 4 */
  has(html, "<tr><td>2026-11-01</td><td>Google Inc.</td><td class=\"n\">1"
            "</td><td class=\"n\">90</td><td class=\"n\">10</td>"
            "<td class=\"n\">10.0&#8201;%</td></tr>");
  has(html, "<tr><td>2026-11-02</td><td>&lt;script&gt;alert(1)&lt;/script"
            "&gt; &amp; Co</td><td class=\"n\">1</td><td class=\"n\">0</td>"
            "<td class=\"n\">4</td><td class=\"n\">100.0&#8201;%</td></tr>");
  /* the line chart: Google at 10 % on three days (x 56, 366, 676;
   * y = 12 + 220 - 100 * 220 / 1000 = 210), the other at 100 % */
  has(html, "<polyline fill=\"none\" stroke-width=\"2\" "
            "points=\"56,210 366,210 676,210\"/>");
  has(html, "<polyline fill=\"none\" stroke-width=\"2\" "
            "points=\"366,12\"/>");
  has(html, "<title>Google Inc. 2026-11-03: 10.0&#8201;%</title>");
  /* ready.example: 14 points at 0 % (two series of 7 days) */
  has(html, "points=\"56,232 159,232 262,232 366,232 469,232 572,232 "
            "676,232\"");
  /* failures by result type, sorted by count: 30, 3, 1 of 34 */
  has(html, "<tr><td>certificate-expired</td><td class=\"n\">30</td>"
            "<td class=\"n\">88.2&#8201;%</td></tr>\n"
            "<tr><td>starttls-not-supported</td><td class=\"n\">3</td>"
            "<td class=\"n\">8.8&#8201;%</td></tr>\n"
            "<tr><td>validation-failure</td><td class=\"n\">1</td>"
            "<td class=\"n\">2.9&#8201;%</td></tr>");
  /* bars: the longest is 400 wide, in the failure colour */
  has(html, "<rect class=\"fail\" x=\"260\" y=\"11\" width=\"400\" "
            "height=\"16\" fill=\"#d62728\">");
  has(html, "<rect class=\"fail\" x=\"260\" y=\"33\" width=\"40\" ");
  /* by MX host, with the hostile name escaped */
  has(html, "<tr><td>mx1.example.com</td><td class=\"n\">30</td>");
  has(html, "<tr><td>&quot;&gt;&lt;svg onload=alert(2)&gt;</td>"
            "<td class=\"n\">3</td>");
  /* ready.example had no failure */
  assert_int_equal(occurrences(html, "No failed session."), 2);
  /* nothing active or external */
  lacks(html, "<script");
  lacks(html, "<svg onload");
  lacks(html, "<img");
  lacks(html, "<link");
  lacks(html, "src=");
  lacks(html, "url(");
  lacks(html, "@import");
  lacks(html, "https://");
  assert_int_equal(occurrences(html, "http://"),
                   occurrences(html, "xmlns=\"http://www.w3.org/2000/svg\""));
  /* one line chart and two bar charts per domain with data */
  assert_int_equal(occurrences(html, "<svg "), 4);

  /* deterministic */
  again = render(f, &o, &len2);
  assert_int_equal(len, len2);
  assert_memory_equal(html, again, len);
  mts_rpt_html_free(f->ctx, again);
  /* a different time is visible, the rest stays */
  o.generated_at += 1;
  again = render(f, &o, &len2);
  has(again, "Generated at 2026-11-08T12:00:01Z.");
  assert_int_equal(len, len2);
  mts_rpt_html_free(f->ctx, again);
  mts_rpt_html_free(f->ctx, html);
}

/* --domain and --since narrow the page. */
static void test_filters(void **state) {
  struct fixture *f = *state;
  struct mts_rpt_html_opts o = opts_at(GENERATED);
  size_t len;
  char *html;

  fill(f);
  o.domain = "ready.example";
  html = render(f, &o, &len);
  has(html, "<h2>ready.example</h2>");
  lacks(html, "example.com");
  has(html, "1 policy domains, 14 reports, 84 successful and 0 failed");
  mts_rpt_html_free(f->ctx, html);

  o.domain = "example.com";
  o.since = NOV1 + 2 * DAY;
  html = render(f, &o, &len);
  has(html, "reports from 2026-11-03 on. 1 policy domains, 1 reports, 90 "
            "successful and 10 failed sessions.");
  lacks(html, "2026-11-02</td>");
  lacks(html, "alert(1)");
  has(html, "points=\"366,210\"/>"); /* one day: the middle */
  mts_rpt_html_free(f->ctx, html);
}

static void test_empty(void **state) {
  struct fixture *f = *state;
  struct mts_rpt_html_opts o = opts_at(GENERATED);
  size_t len;
  char *html = render(f, &o, &len);

  has(html, "No reports received yet.");
  has(html, "0 policy domains, 0 reports");
  lacks(html, "<svg");
  has(html, "</html>\n");
  mts_rpt_html_free(f->ctx, html);
  o.title = "Reports for <b>us</b>";
  html = render(f, &o, &len);
  has(html, "<title>Reports for &lt;b&gt;us&lt;/b&gt;</title>");
  has(html, "<h1>Reports for &lt;b&gt;us&lt;/b&gt;</h1>");
  mts_rpt_html_free(f->ctx, html);
}

/* Very long names are cut at MTS_RPT_HTML_STR_MAX code points. */
static void test_long_name(void **state) {
  struct fixture *f = *state;
  struct mts_rpt_html_opts o = opts_at(GENERATED);
  char org[400], want[240];
  size_t len;
  char *html;

  memset(org, 'x', 300);
  org[300] = '\0';
  add_report(f, org, "long", 0, "example.com", 1, NULL, 0);
  html = render(f, &o, &len);
  memset(want, 'x', MTS_RPT_HTML_STR_MAX);
  memcpy(want + MTS_RPT_HTML_STR_MAX, "...</td>", 9);
  has(html, want);
  memset(want, 'x', MTS_RPT_HTML_STR_MAX + 1);
  want[MTS_RPT_HTML_STR_MAX + 1] = '\0';
  lacks(html, want);
  mts_rpt_html_free(f->ctx, html);
}

static void test_escape(void **state) {
  static const struct {
    const char *in;
    size_t len;
    const char *want;
  } cases[] = {
      {"plain", 5, "plain"},
      {"<script>", 8, "&lt;script&gt;"},
      {"a&b\"c'd", 7, "a&amp;b&quot;c&#39;d"},
      {"caf\xc3\xa9", 5, "caf\xc3\xa9"},              /* UTF-8 kept */
      {"\xff\xfe", 2, "\xef\xbf\xbd\xef\xbf\xbd"},    /* bad bytes */
      {"\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd"},    /* overlong '/' */
      {"\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* D800 */
      {"a\nb\x7f", 4, "a\xef\xbf\xbd" "b\xef\xbf\xbd"}, /* controls */
      {"\xc2\x85", 2, "\xef\xbf\xbd"},                /* C1 NEL */
      {"x\0y", 3, "x\xef\xbf\xbdy"},                   /* NUL */
      {"\xe2\x82", 2, "\xef\xbf\xbd\xef\xbf\xbd"},    /* truncated */
  };
  char out[64];
  size_t i, n;

  (void)state;
  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    n = mts_rpt_html_escape(cases[i].in, cases[i].len, out, sizeof out);
    if (strcmp(out, cases[i].want) != 0 || n != strlen(cases[i].want)) {
      fail_msg("case %zu: got '%s' (%zu), want '%s'", i, out, n,
               cases[i].want);
    }
  }
  /* truncation of the output buffer, snprintf-like */
  n = mts_rpt_html_escape("<<<", 3, out, 6);
  assert_int_equal(n, 12);
  assert_string_equal(out, "&lt;&");
  assert_int_equal(mts_rpt_html_escape("<", 1, NULL, 0), 4);
}

static void test_write_dir(void **state) {
  struct fixture *f = *state;
  struct mts_rpt_html_opts o = opts_at(GENERATED);
  char out[128], path[160], *html, *file;
  size_t len;
  FILE *fp;
  long flen;

  fill(f);
  snprintf(out, sizeof out, "%s/out", f->dir);
  assert_int_equal(mts_rpt_html_write_dir(f->ctx, f->store, &o, out), MTS_OK);
  /* twice: the directory exists, the file is replaced */
  assert_int_equal(mts_rpt_html_write_dir(f->ctx, f->store, &o, out), MTS_OK);
  snprintf(path, sizeof path, "%s/index.html", out);
  fp = fopen(path, "rb");
  assert_non_null(fp);
  assert_int_equal(fseek(fp, 0, SEEK_END), 0);
  flen = ftell(fp);
  rewind(fp);
  html = render(f, &o, &len);
  assert_int_equal((size_t)flen, len);
  file = malloc(len);
  assert_non_null(file);
  assert_int_equal(fread(file, 1, len, fp), len);
  fclose(fp);
  assert_memory_equal(file, html, len);
  free(file);
  mts_rpt_html_free(f->ctx, html);
  /* a directory that cannot be made */
  assert_int_equal(
      mts_rpt_html_write_dir(f->ctx, f->store, &o, "/proc/nonexistent/x"),
      MTS_EIO);
  assert_int_equal(mts_rpt_html_write_dir(f->ctx, f->store, &o, NULL),
                   MTS_EINVAL);
}

struct sweep_arg {
  struct mts_rpt_store *store;
};

static enum mts_status sweep_op(struct mts_ctx *ctx, void *arg) {
  struct sweep_arg *s = arg;
  struct mts_rpt_html_opts o = opts_at(GENERATED);
  char *html = NULL;
  size_t len = 0;
  enum mts_status st = mts_rpt_html_render(ctx, s->store, &o, &html, &len);

  if (st == MTS_OK) {
    assert_non_null(html);
  } else {
    assert_null(html);
  }
  mts_rpt_html_free(ctx, html);
  return st;
}

static void test_alloc_sweep(void **state) {
  struct fixture *f = *state;
  struct sweep_arg s = {f->store};

  fill(f);
  assert_true(mts_test_alloc_sweep(sweep_op, &s) > 10);
}

static void test_args(void **state) {
  struct fixture *f = *state;
  char *html = (char *)1;
  size_t len = 7;

  assert_int_equal(mts_rpt_html_render(f->ctx, NULL, NULL, &html, &len),
                   MTS_EINVAL);
  assert_null(html);
  assert_int_equal(len, 0);
  assert_int_equal(mts_rpt_html_render(NULL, f->store, NULL, &html, &len),
                   MTS_EINVAL);
  mts_rpt_html_free(f->ctx, NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_page, setup, teardown),
      cmocka_unit_test_setup_teardown(test_filters, setup, teardown),
      cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
      cmocka_unit_test_setup_teardown(test_long_name, setup, teardown),
      cmocka_unit_test(test_escape),
      cmocka_unit_test_setup_teardown(test_write_dir, setup, teardown),
      cmocka_unit_test_setup_teardown(test_alloc_sweep, setup, teardown),
      cmocka_unit_test_setup_teardown(test_args, setup, teardown),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
