/*
 * test_mtastsd_tlsrpt.c - mtastsd's own TLSRPT events (tlsrpt.c): the
 * datagram is what libtlsrpt would write and what the collector's parser
 * accepts; only reportable answers are sent; sending never blocks and a
 * missing collector is logged once.
 */
#include "testutil.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "tlsrpt.h"

/* Test double for log.c: count lines per level, keep the last. */
static int log_lines[5];
static char log_last[512];

void mtastsd_log(struct mtastsd_log *lg, enum mtastsd_level lvl,
                 const char *name, const char *fmt, ...) {
  va_list ap;

  (void)lg;
  (void)name;
  if ((unsigned)lvl < 5) {
    log_lines[lvl]++;
  }
  va_start(ap, fmt);
  (void)vsnprintf(log_last, sizeof(log_last), fmt, ap);
  va_end(ap);
}

/* Parse \p buf with the library's datagram parser and check the one
 * failed sts policy it must hold. */
static void check_dgram(const char *buf, size_t n, const char *domain,
                        long code, const char *rt, const char *reason) {
  struct mts_test_alloc al;
  struct mts_ctx *ctx = mts_test_ctx(&al, 0);
  struct mts_rpt_datagram *dg = NULL;
  const struct mts_rpt_dgram_policy *p;

  assert_int_equal(mts_rpt_datagram_parse(ctx, (const uint8_t *)buf, n, &dg),
                   MTS_OK);
  assert_true(mts_rpt_datagram_usable(dg));
  assert_string_equal(mts_rpt_datagram_dpv(dg), "1");
  assert_string_equal(mts_rpt_datagram_domain(dg), domain);
  assert_string_equal(mts_rpt_datagram_policy_record(dg), "");
  assert_int_equal(mts_rpt_datagram_policy_count(dg), 1);
  p = mts_rpt_datagram_policy(dg, 0);
  assert_int_equal(p->type, MTS_RPT_POLICY_STS);
  assert_string_equal(p->domain, domain);
  assert_false(p->domain_defaulted);
  assert_true(p->failed);
  assert_int_equal(p->t, 1);
  assert_int_equal(p->nfailures, 1);
  assert_int_equal(p->failures[0].code, code);
  assert_string_equal(p->failures[0].result_type, rt);
  if (reason == NULL) {
    assert_null(p->failures[0].failure_reason);
  } else {
    assert_string_equal(p->failures[0].failure_reason, reason);
  }
  assert_null(p->failures[0].receiving_mx_hostname);
  mts_rpt_datagram_destroy(dg);
  mts_ctx_destroy(ctx);
}

static void test_format_layout(void **state) {
  char buf[MTASTSD_TLSRPT_DGRAM_MAX];
  size_t n;
  static const char want[] =
      "{\"dpv\": \"1\",\"d\": \"example.com\",\"pr\": \"\",\"policies\":"
      "[{\"policy-type\":2,\"policy-domain\": \"example.com\","
      "\"failure-details\":[{\"c\":301,\"f\": \"connect: refused\"}],"
      "\"t\":1,\"f\":1}]}";

  (void)state;
  n = mtastsd_tlsrpt_format(buf, sizeof(buf), "example.com",
                            "sts-policy-fetch-error", "connect: refused");
  assert_int_equal(n, strlen(want));
  assert_string_equal(buf, want);
  check_dgram(buf, n, "example.com", 301, "sts-policy-fetch-error",
              "connect: refused");
}

static void test_format_codes(void **state) {
  static const struct {
    const char *rt;
    long code;
  } rows[] = {
      {"sts-policy-fetch-error", 301},
      {"sts-policy-invalid", 302},
      {"sts-webpki-invalid", 303},
  };
  char buf[MTASTSD_TLSRPT_DGRAM_MAX];
  size_t i, n;

  (void)state;
  for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    n = mtastsd_tlsrpt_format(buf, sizeof(buf), "a.example", rows[i].rt, NULL);
    assert_true(n > 0);
    assert_null(strstr(buf, "\"f\": "));
    check_dgram(buf, n, "a.example", rows[i].code, rows[i].rt, NULL);
  }
  /* Not a policy failure: nothing to report. */
  assert_int_equal(mtastsd_tlsrpt_format(buf, sizeof(buf), "a.example",
                                         "starttls-not-supported", NULL),
                   0);
  assert_int_equal(
      mtastsd_tlsrpt_format(buf, sizeof(buf), "a.example", NULL, NULL), 0);
}

static void test_format_escaping(void **state) {
  char buf[MTASTSD_TLSRPT_DGRAM_MAX];
  size_t n;

  (void)state;
  n = mtastsd_tlsrpt_format(buf, sizeof(buf), "a.example",
                            "sts-policy-invalid",
                            "line 1: \"mode\" \\ bad\tvalue\x01 \xc3\xa9");
  assert_true(n > 0);
  check_dgram(buf, n, "a.example", 302, "sts-policy-invalid",
              "line 1: \"mode\" \\ bad\tvalue\x01 ??");
}

static void test_format_too_small(void **state) {
  char buf[MTASTSD_TLSRPT_DGRAM_MAX];
  char big[4096];
  size_t cut;

  (void)state;
  memset(big, 'x', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  assert_int_equal(mtastsd_tlsrpt_format(buf, sizeof(buf), "a.example",
                                         "sts-policy-invalid", big),
                   0);
  /* Every truncation point fails cleanly, never overflows. */
  for (cut = 1; cut < 140; cut++) {
    size_t n = mtastsd_tlsrpt_format(buf, cut, "a.example",
                                     "sts-policy-fetch-error", "r");
    assert_true(n == 0 || n < cut);
  }
}

/* A bound collector socket in a temp dir. */
static int collector(char *path, size_t size) {
  struct sockaddr_un sa;
  int fd;
  char dir[] = "/tmp/mts-tlsrpt-XXXXXX";

  assert_non_null(mkdtemp(dir));
  (void)snprintf(path, size, "%s/c.sock", dir);
  fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  assert_true(fd >= 0);
  memset(&sa, 0, sizeof(sa));
  sa.sun_family = AF_UNIX;
  assert_true(strlen(path) < sizeof(sa.sun_path));
  memcpy(sa.sun_path, path, strlen(path) + 1);
  assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  return fd;
}

static void cleanup_collector(int fd, const char *path) {
  char dir[256];
  char *slash;

  (void)close(fd);
  (void)unlink(path);
  (void)snprintf(dir, sizeof(dir), "%s", path);
  slash = strrchr(dir, '/');
  if (slash != NULL) {
    *slash = '\0';
    (void)rmdir(dir);
  }
}

static void test_answer_filter_and_send(void **state) {
  char path[256], buf[4096];
  struct mtastsd_tlsrpt *t = NULL;
  struct mts_sts_answer a;
  struct mts_sts_policy *pol = NULL;
  struct mts_test_alloc al;
  struct mts_ctx *ctx = mts_test_ctx(&al, 0);
  static const char body[] =
      "version: STSv1\r\nmode: enforce\r\nmx: a.example\r\nmax_age: 86400\r\n";
  ssize_t n;
  int fd = collector(path, sizeof(path));

  (void)state;
  assert_int_equal(mtastsd_tlsrpt_create(path, NULL, &t), 0);
  memset(&a, 0, sizeof(a));
  a.domain = "a.example";
  a.reason = "HTTP status 404";

  /* A first contact whose fetch failed: reported. */
  a.kind = MTS_ANSWER_NONE;
  a.last_verdict = MTS_STS_V_FETCH_ERROR;
  assert_true(mtastsd_tlsrpt_answer(t, &a));
  n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
  assert_true(n > 0);
  check_dgram(buf, (size_t)n, "a.example", 301, "sts-policy-fetch-error",
              "HTTP status 404");

  /* No MTA-STS at all, a TEMP answer, or an applied (cached) policy whose
   * refresh failed: not reported. */
  a.last_verdict = MTS_STS_V_NO_POLICY;
  assert_false(mtastsd_tlsrpt_answer(t, &a));
  a.last_verdict = MTS_STS_V_FETCH_ERROR;
  a.kind = MTS_ANSWER_TEMP;
  assert_false(mtastsd_tlsrpt_answer(t, &a));
  assert_int_equal(mts_sts_policy_parse(ctx, (const uint8_t *)body,
                                        sizeof(body) - 1, &pol),
                   MTS_OK);
  a.kind = MTS_ANSWER_POLICY;
  a.policy = pol;
  assert_false(mtastsd_tlsrpt_answer(t, &a));
  /* A cached mode-none policy also means "applied". */
  a.kind = MTS_ANSWER_NONE;
  assert_false(mtastsd_tlsrpt_answer(t, &a));
  a.policy = NULL;
  n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
  assert_true(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
  assert_int_equal(mtastsd_tlsrpt_sent(t), 1);
  assert_int_equal(mtastsd_tlsrpt_dropped(t), 0);

  /* The collector's queue full (it does not read): sends never block;
   * the excess is dropped, counted, logged once. */
  memset(log_lines, 0, sizeof(log_lines));
  a.last_verdict = MTS_STS_V_WEBPKI_INVALID;
  for (int i = 0; i < 5000; i++) {
    assert_true(mtastsd_tlsrpt_answer(t, &a));
  }
  assert_true(mtastsd_tlsrpt_dropped(t) > 0);
  assert_int_equal(mtastsd_tlsrpt_sent(t) + mtastsd_tlsrpt_dropped(t), 5001);
  assert_int_equal(log_lines[MTASTSD_WARN], 1);
  assert_non_null(strstr(log_last, "cannot send a TLSRPT event"));
  n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
  assert_true(n > 0);
  check_dgram(buf, (size_t)n, "a.example", 303, "sts-webpki-invalid",
              "HTTP status 404");
  while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0) {
  }
  /* Drained: the next send succeeds and says so. */
  assert_true(mtastsd_tlsrpt_answer(t, &a));
  assert_int_equal(log_lines[MTASTSD_INFO], 1);

  /* The collector gone: dropped, no crash. */
  cleanup_collector(fd, path);
  {
    uint64_t d0 = mtastsd_tlsrpt_dropped(t);

    assert_true(mtastsd_tlsrpt_answer(t, &a));
    assert_int_equal(mtastsd_tlsrpt_dropped(t), d0 + 1);
  }
  mtastsd_tlsrpt_destroy(t);
  mts_sts_policy_destroy(pol);
  mts_ctx_destroy(ctx);
}

static void test_create_bad_path(void **state) {
  struct mtastsd_tlsrpt *t = NULL;
  char longp[200];

  (void)state;
  memset(longp, 'a', sizeof(longp) - 1);
  longp[sizeof(longp) - 1] = '\0';
  assert_int_equal(mtastsd_tlsrpt_create(longp, NULL, &t), -1);
  assert_null(t);
  assert_int_equal(mtastsd_tlsrpt_create("", NULL, &t), -1);
  mtastsd_tlsrpt_destroy(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_format_layout),
      cmocka_unit_test(test_format_codes),
      cmocka_unit_test(test_format_escaping),
      cmocka_unit_test(test_format_too_small),
      cmocka_unit_test(test_answer_filter_and_send),
      cmocka_unit_test(test_create_bad_path),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
