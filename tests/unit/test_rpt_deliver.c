/*
 * test_rpt_deliver.c - report delivery (rpt_deliver.h): the report mail
 * byte for byte, the tlsrpt-subject ABNF, header checks (RFC 8460 5.3:
 * D07, D08, D10), mailto: parsing, the sendmail pipe against stand-in
 * commands, the HTTPS argument checks, and the schedule numbers (D04,
 * D14) with fixed random values.
 */
#include "testutil.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mtasts/rpt_deliver.h>
#include <mtasts/rpt_report_write.h>

/* 2026-11-27T00:00:00Z */
#define DAY0 INT64_C(1795737600)

static const char *const LINES[] = {"version: STSv1", "mode: enforce",
                                    "mx: mail.example.net", "max_age: 86400"};
static const char *const MX[] = {"mail.example.net"};

static struct mts_rpt_policy POL = {
    "sts", "example.net", LINES, 4, true, MX, 1, 12, 3, NULL, 0};

static struct mts_rpt_report_data REP = {
    "Example Sender Inc.", DAY0, DAY0 + 86399, true, true,
    "tlsrpt@sender.example", "2026-11-27.example.net.0011223344556677@sender.example",
    &POL, 1};

static const uint8_t GZ[] = {0x1f, 0x8b, 0x08, 0x00, 0x01, 0x02, 0x03};

static struct mts_rpt_mail base_mail(void) {
  struct mts_rpt_mail m;

  memset(&m, 0, sizeof(m));
  m.from = "tlsrpt@sender.example";
  m.to = "reports@example.net";
  m.submitter = "sender.example";
  m.message_id = "1.2026-11-27.example.net@sender.example";
  m.date = DAY0 + 86400 + 3723; /* Sat, 28 Nov 2026 01:02:03 */
  m.boundary = "tlsrpt-b-1";
  m.report = &REP;
  m.gz = GZ;
  m.gzlen = sizeof(GZ);
  return m;
}

static const char WANT[] =
    "From: tlsrpt@sender.example\r\n"
    "To: reports@example.net\r\n"
    "Date: Sat, 28 Nov 2026 01:02:03 +0000\r\n"
    "Message-ID: <1.2026-11-27.example.net@sender.example>\r\n"
    "Subject: Report Domain: example.net Submitter: sender.example\r\n"
    " Report-ID: <2026-11-27.example.net.0011223344556677@sender.example>\r\n"
    "TLS-Report-Domain: example.net\r\n"
    "TLS-Report-Submitter: sender.example\r\n"
    "TLS-Required: No\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/report; report-type=\"tlsrpt\";\r\n"
    " boundary=\"tlsrpt-b-1\"\r\n"
    "\r\n"
    "This is a TLS report (RFC 8460) in MIME format.\r\n"
    "\r\n"
    "--tlsrpt-b-1\r\n"
    "Content-Type: text/plain; charset=us-ascii\r\n"
    "Content-Transfer-Encoding: 7bit\r\n"
    "\r\n"
    "This is an aggregate TLS report (RFC 8460, SMTP TLS Reporting)\r\n"
    "from Example Sender Inc.\r\n"
    "about mail sent to example.net\r\n"
    "on the UTC day 2026-11-27 (2026-11-27T00:00:00Z to "
    "2026-11-27T23:59:59Z).\r\n"
    "\r\n"
    "Successful TLS sessions: 12\r\n"
    "Failed TLS sessions:     3\r\n"
    "Policies:                1\r\n"
    "\r\n"
    "The report is attached as gzip-compressed JSON.\r\n"
    "\r\n"
    "--tlsrpt-b-1\r\n"
    "Content-Type: application/tlsrpt+gzip;\r\n"
    " name=\"sender.example!example.net!1795737600!1795823999.json.gz\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "Content-Disposition: attachment;\r\n"
    " filename=\"sender.example!example.net!1795737600!1795823999.json.gz\"\r\n"
    "\r\n"
    "H4sIAAECAw==\r\n"
    "\r\n"
    "--tlsrpt-b-1--\r\n";

static void test_mail_exact(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct mts_rpt_mail m = base_mail();
  char *msg = NULL;
  size_t len = 0;

  (void)state;
  assert_int_equal(mts_rpt_deliver_mail_build(ctx, &m, &msg, &len), MTS_OK);
  assert_int_equal(len, strlen(msg));
  assert_string_equal(msg, WANT);
  mts_rpt_deliver_free(ctx, msg);
  mts_ctx_destroy(ctx);
}

/* Every line at most 78 octets, CRLF only, base64 lines of 76. */
static void test_mail_lines(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct mts_rpt_mail m = base_mail();
  uint8_t big[1000];
  char *msg = NULL, *p, *body;
  size_t len = 0, i, b64lines = 0;

  (void)state;
  for (i = 0; i < sizeof(big); i++) {
    big[i] = (uint8_t)(i * 7);
  }
  m.gz = big;
  m.gzlen = sizeof(big);
  assert_int_equal(mts_rpt_deliver_mail_build(ctx, &m, &msg, &len), MTS_OK);
  for (p = msg; *p != '\0';) {
    char *e = strstr(p, "\r\n");

    assert_non_null(e);
    assert_true(e - p <= 78);
    assert_null(memchr(p, '\n', (size_t)(e - p)));
    p = e + 2;
  }
  body = strstr(msg, "Content-Transfer-Encoding: base64\r\n");
  assert_non_null(body);
  body = strstr(body, "\r\n\r\n") + 4;
  while (strncmp(body, "\r\n", 2) != 0) {
    char *e = strstr(body, "\r\n");

    b64lines++;
    if (b64lines < 18) {
      assert_int_equal(e - body, 76);
    } else {
      assert_int_equal(e - body, 44); /* 1000 - 17 * 57 = 31 bytes */
    }
    body = e + 2;
  }
  assert_int_equal(b64lines, 18); /* 1000 bytes = 17 lines of 57 + 31 */
  mts_rpt_deliver_free(ctx, msg);
  mts_ctx_destroy(ctx);
}

/* A long domain folds the subject before "Submitter:" too. */
static void test_subject_folding(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct mts_rpt_mail m = base_mail();
  struct mts_rpt_policy pol = POL;
  struct mts_rpt_report_data rep = REP;
  char *msg = NULL, *s;
  size_t len = 0;

  (void)state;
  pol.policy_domain =
      "a-rather-long-label-for-a-test.another-long-label.example.net";
  rep.policies = &pol;
  m.report = &rep;
  assert_int_equal(mts_rpt_deliver_mail_build(ctx, &m, &msg, &len), MTS_OK);
  s = strstr(msg, "Subject: ");
  assert_non_null(s);
  assert_int_equal(
      strncmp(s,
              "Subject: Report Domain: "
              "a-rather-long-label-for-a-test.another-long-label.example.net"
              "\r\n Submitter: sender.example\r\n Report-ID: <",
              strlen("Subject: Report Domain: "
                     "a-rather-long-label-for-a-test.another-long-label."
                     "example.net\r\n Submitter: sender.example\r\n "
                     "Report-ID: <")),
      0);
  mts_rpt_deliver_free(ctx, msg);
  mts_ctx_destroy(ctx);
}

static void test_subject(void **state) {
  char buf[256];

  (void)state;
  /* D10 */
  assert_int_equal(mts_rpt_deliver_subject("example.net",
                                           "mail.sender.example.com",
                                           "735ff.e317+bf22029@mailexample.net",
                                           buf, sizeof(buf)),
                   MTS_OK);
  assert_string_equal(buf, "Report Domain: example.net Submitter: "
                           "mail.sender.example.com Report-ID: "
                           "<735ff.e317+bf22029@mailexample.net>");
  assert_int_equal(mts_rpt_deliver_subject("example.net", "s.example",
                                           "no-at-sign", buf, sizeof(buf)),
                   MTS_EINVAL);
  assert_int_equal(mts_rpt_deliver_subject("example.net", "s.example",
                                           "a..b@c", buf, sizeof(buf)),
                   MTS_EINVAL);
  assert_int_equal(mts_rpt_deliver_subject("example.net", "s.example",
                                           "a b@c", buf, sizeof(buf)),
                   MTS_EINVAL);
  assert_int_equal(mts_rpt_deliver_subject("b\xc3\xbc" "cher.example",
                                           "s.example", "a@c", buf,
                                           sizeof(buf)),
                   MTS_EINVAL);
  assert_int_equal(mts_rpt_deliver_subject("example.net", "s.example", "a@c",
                                           buf, 20),
                   MTS_ETOOBIG);
}

static void test_mail_refused(void **state) {
  static const struct {
    const char *id;
    int field;
    const char *value;
  } v[] = {
      {"D08-submitter-not-contact-domain", 0, "other.example"},
      {"from-crlf-injection", 1, "a@b.example\r\nBcc: x@y.z"},
      {"to-space", 2, "a b@example.net"},
      {"to-no-at", 2, "example.net"},
      {"msgid-bad", 3, "a@@b"},
      {"boundary-bad", 4, "has space"},
      {"boundary-long", 4,
       "0123456789012345678901234567890123456789012345678901234567890123456789"
       "x"},
  };
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
    struct mts_rpt_mail m = base_mail();
    char *msg = (char *)1;
    size_t len = 1;

    switch (v[i].field) {
    case 0:
      m.submitter = v[i].value;
      break;
    case 1:
      m.from = v[i].value;
      break;
    case 2:
      m.to = v[i].value;
      break;
    case 3:
      m.message_id = v[i].value;
      break;
    default:
      m.boundary = v[i].value;
      break;
    }
    if (mts_rpt_deliver_mail_build(ctx, &m, &msg, &len) != MTS_EINVAL) {
      fail_msg("%s: not refused", v[i].id);
    }
    assert_null(msg);
  }
  {
    /* A report-id outside the subject ABNF, or no policies. */
    struct mts_rpt_mail m = base_mail();
    struct mts_rpt_report_data rep = REP;
    char *msg = NULL;
    size_t len = 0;

    rep.report_id = "2026-11-27 example.net@sender.example";
    m.report = &rep;
    assert_int_equal(mts_rpt_deliver_mail_build(ctx, &m, &msg, &len),
                     MTS_EINVAL);
    rep = REP;
    rep.npolicies = 0;
    assert_int_equal(mts_rpt_deliver_mail_build(ctx, &m, &msg, &len),
                     MTS_EINVAL);
    /* The submitter matches contact-info's domain case-insensitively. */
    rep = REP;
    rep.contact_info = "tlsrpt@Sender.Example";
    assert_int_equal(mts_rpt_deliver_mail_build(ctx, &m, &msg, &len), MTS_OK);
    mts_rpt_deliver_free(ctx, msg);
  }
  mts_ctx_destroy(ctx);
}

static enum mts_status sweep_mail(struct mts_ctx *ctx, void *arg) {
  struct mts_rpt_mail m = base_mail();
  char *msg = NULL;
  size_t len = 0;
  enum mts_status st;

  (void)arg;
  st = mts_rpt_deliver_mail_build(ctx, &m, &msg, &len);
  mts_rpt_deliver_free(ctx, msg);
  return st;
}

static void test_mail_alloc_sweep(void **state) {
  (void)state;
  assert_true(mts_test_alloc_sweep(sweep_mail, NULL) >= 1);
}

static void test_mailto(void **state) {
  static const struct {
    const char *uri;
    enum mts_status st;
    const char *addr;
  } v[] = {
      {"mailto:tlsrpt@example.com", MTS_OK, "tlsrpt@example.com"},
      {"MAILTO:tlsrpt@example.com", MTS_OK, "tlsrpt@example.com"},
      {"mailto:tls%2Brpt@example.com", MTS_OK, "tls+rpt@example.com"},
      {"mailto:tlsrpt@example.com?subject=x", MTS_OK, "tlsrpt@example.com"},
      {"mailto:a%2Cb@example.com", MTS_EINVAL, NULL},
      {"mailto:tlsrpt@example.com%0D%0ABcc:x@y", MTS_EINVAL, NULL},
      {"mailto:-oQ/tmp@example.com", MTS_EINVAL, NULL},
      {"mailto:@example.com", MTS_EINVAL, NULL},
      {"mailto:x@", MTS_EINVAL, NULL},
      {"mailto:x@exa mple.com", MTS_EINVAL, NULL},
      {"mailto:x%zz@example.com", MTS_EINVAL, NULL},
      {"mailto:a@b.example%00junk", MTS_EINVAL, NULL},
      {"mailto:a%00@b.example", MTS_EINVAL, NULL},
      {"https://example.com/", MTS_EINVAL, NULL},
      {"mailto:", MTS_EINVAL, NULL},
  };
  char buf[64];
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
    enum mts_status st = mts_rpt_deliver_mailto(v[i].uri, buf, sizeof(buf));

    if (st != v[i].st) {
      fail_msg("%s: got %s", v[i].uri, mts_status_name(st));
    }
    if (st == MTS_OK) {
      assert_string_equal(buf, v[i].addr);
    }
  }
  assert_int_equal(mts_rpt_deliver_mailto("mailto:tlsrpt@example.com", buf, 8),
                   MTS_ETOOBIG);
  assert_string_equal(mts_rpt_deliver_addr_domain("a@b.example"), "b.example");
  assert_null(mts_rpt_deliver_addr_domain("ab.example"));
}

/* ---- sendmail against stand-in commands ---- */

struct smfx {
  char dir[64];
  char script[128];
  char out[128];
};

static void write_script(struct smfx *s, const char *body) {
  FILE *f = fopen(s->script, "w");

  assert_non_null(f);
  fprintf(f, "#!/bin/sh\n%s\n", body);
  (void)fclose(f);
  assert_int_equal(chmod(s->script, 0700), 0);
}

static char *slurp(const char *path) {
  static char buf[8192];
  FILE *f = fopen(path, "rb");
  size_t n;

  assert_non_null(f);
  n = fread(buf, 1, sizeof(buf) - 1, f);
  buf[n] = '\0';
  (void)fclose(f);
  return buf;
}

static void test_sendmail(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct smfx s;
  char cmd[300], body[600], err[200], *got;
  static const char msg[] = "Subject: x\r\n\r\nhello\r\n";
  enum mts_status st;
  /* The deadline of the runs that must finish: under valgrind
   * (--trace-children) the script's shell runs under memcheck too. */
  const uint32_t tmo = mts_test_ms(5000);

  (void)state;
  (void)snprintf(s.dir, sizeof(s.dir), "/tmp/test_rpt_deliver.XXXXXX");
  assert_non_null(mkdtemp(s.dir));
  (void)snprintf(s.script, sizeof(s.script), "%s/sendmail", s.dir);
  (void)snprintf(s.out, sizeof(s.out), "%s/out", s.dir);

  /* Success: the arguments and the message arrive as given. */
  (void)snprintf(body, sizeof(body),
                 "for a in \"$@\"; do printf '[%%s]' \"$a\"; done >%s.args\n"
                 "cat >%s\nexit 0",
                 s.out, s.out);
  write_script(&s, body);
  (void)snprintf(cmd, sizeof(cmd), "%s  -oi\t-X", s.script);
  st = mts_rpt_deliver_sendmail(ctx, cmd, "tlsrpt@sender.example",
                                "reports@example.net", msg, strlen(msg), tmo,
                                err, sizeof(err));
  assert_int_equal(st, MTS_OK);
  assert_string_equal(slurp(s.out), msg);
  (void)snprintf(body, sizeof(body), "%s.args", s.out);
  got = slurp(body);
  assert_string_equal(got, "[-oi][-X][-f][tlsrpt@sender.example][--]"
                           "[reports@example.net]");
  (void)unlink(body);

  /* A temporary failure: the exit status and the first line reported. */
  write_script(&s, "cat >/dev/null\necho 'sendmail: fatal: queue full' >&2\n"
                   "echo second line >&2\nexit 75");
  st = mts_rpt_deliver_sendmail(ctx, s.script, "a@b.example", "c@d.example",
                                msg, strlen(msg), tmo, err, sizeof(err));
  assert_int_equal(st, MTS_EIO);
  assert_non_null(strstr(err, "exit status 75: sendmail: fatal: queue full"));
  assert_null(strstr(err, "second"));

  /* A command that never reads nor exits: killed at the deadline. */
  write_script(&s, "exec sleep 30");
  st = mts_rpt_deliver_sendmail(ctx, s.script, "a@b.example", "c@d.example",
                                msg, strlen(msg), 300, err, sizeof(err));
  assert_int_equal(st, MTS_ETIMEOUT);
  assert_non_null(strstr(err, "timed out"));

  /* A command that exits 0 without reading a large message. */
  {
    size_t big = 4 * 1024 * 1024;
    char *m = malloc(big);

    assert_non_null(m);
    memset(m, 'x', big);
    write_script(&s, "exit 0");
    st = mts_rpt_deliver_sendmail(ctx, s.script, "a@b.example", "c@d.example",
                                  m, big, tmo, err, sizeof(err));
    assert_int_equal(st, MTS_EIO);
    free(m);
  }

  /* No such program; refused arguments. */
  (void)snprintf(cmd, sizeof(cmd), "%s/nonexistent -oi", s.dir);
  st = mts_rpt_deliver_sendmail(ctx, cmd, "a@b.example", "c@d.example", msg,
                                strlen(msg), tmo, err, sizeof(err));
  assert_int_equal(st, MTS_EIO);
  assert_non_null(strstr(err, "exit status 127"));
  assert_int_equal(mts_rpt_deliver_sendmail(ctx, "sendmail", "a@b.example",
                                            "c@d.example", msg, strlen(msg),
                                            tmo, err, sizeof(err)),
                   MTS_EINVAL);
  assert_int_equal(mts_rpt_deliver_sendmail(ctx, "  ", "a@b.example",
                                            "c@d.example", msg, strlen(msg),
                                            tmo, err, sizeof(err)),
                   MTS_EINVAL);
  assert_int_equal(mts_rpt_deliver_sendmail(ctx, s.script, "-oQ@b.example",
                                            "c@d.example", msg, strlen(msg),
                                            tmo, err, sizeof(err)),
                   MTS_EINVAL);

  (void)unlink(s.script);
  (void)unlink(s.out);
  (void)rmdir(s.dir);
  mts_ctx_destroy(ctx);
}

static void test_https_args(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  long status = 99;
  char err[100];

  (void)state;
  assert_int_equal(mts_rpt_deliver_https(ctx, "http://example.net/r", NULL, GZ,
                                         sizeof(GZ), &status, err,
                                         sizeof(err)),
                   MTS_EINVAL);
  assert_int_equal(status, 0);
  assert_int_equal(mts_rpt_deliver_https(ctx, "mailto:a@b", NULL, GZ,
                                         sizeof(GZ), &status, err,
                                         sizeof(err)),
                   MTS_EINVAL);
  /* Nothing listens on port 1 of loopback: a connection failure. */
  {
    struct mts_rpt_post_options o = {NULL, false, 2000, NULL};

    assert_int_equal(mts_rpt_deliver_https(ctx, "https://127.0.0.1:1/r", &o,
                                           GZ, sizeof(GZ), &status, err,
                                           sizeof(err)),
                     MTS_ECONNECT);
    assert_int_equal(status, 0);
    assert_true(err[0] != '\0');
  }
  mts_ctx_destroy(ctx);
}

/* ---- one report to one rua: dry run, refusals ---- */

static void test_deliver_report_dry_run(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct mts_rpt_deliver_config cfg;
  static const char *const excl[] = {"excluded.example"};
  char dir[64], path[400], err[300], *json = NULL;
  size_t len = 0;
  FILE *f;
  uint8_t magic[2] = {0, 0};
  char line[64];

  (void)state;
  (void)snprintf(dir, sizeof(dir), "/tmp/test_rpt_deliver_dry.XXXXXX");
  assert_non_null(mkdtemp(dir));
  assert_int_equal(mts_rpt_report_write_json(ctx, &REP, &json, &len), MTS_OK);
  memset(&cfg, 0, sizeof(cfg));
  cfg.from = "tlsrpt@sender.example";
  cfg.submitter = "sender.example";
  cfg.dry_run_dir = dir;
  cfg.exclude_domains = excl;
  cfg.nexclude = 1;
  cfg.now = DAY0 + 90000;
  cfg.rnd = 0x1234;
  assert_int_equal(mts_rpt_deliver_report(ctx, &cfg, NULL,
                                          "mailto:reports@example.net", json,
                                          len, err, sizeof(err)),
                   MTS_OK);
  (void)snprintf(path, sizeof(path),
                 "%s/sender.example!example.net!1795737600!1795823999.json.gz",
                 dir);
  f = fopen(path, "rb");
  assert_non_null(f);
  assert_int_equal(fread(magic, 1, 2, f), 2);
  (void)fclose(f);
  assert_int_equal(magic[0], 0x1f);
  assert_int_equal(magic[1], 0x8b);
  (void)unlink(path);
  (void)snprintf(
      path, sizeof(path),
      "%s/sender.example!example.net!1795737600!1795823999.json.gz."
      "reports@example.net.eml",
      dir);
  f = fopen(path, "rb");
  assert_non_null(f);
  assert_non_null(fgets(line, sizeof(line), f));
  (void)fclose(f);
  assert_string_equal(line, "From: tlsrpt@sender.example\r\n");
  (void)unlink(path);
  /* https: the gzip and the URL. */
  assert_int_equal(mts_rpt_deliver_report(ctx, &cfg, "example.net",
                                          "https://r.example.net/x", json,
                                          len, err, sizeof(err)),
                   MTS_OK);
  (void)snprintf(path, sizeof(path),
                 "%s/sender.example!example.net!1795737600!1795823999.json.gz",
                 dir);
  assert_int_equal(unlink(path), 0);
  (void)snprintf(
      path, sizeof(path),
      "%s/sender.example!example.net!1795737600!1795823999.json.gz.https",
      dir);
  assert_int_equal(unlink(path), 0);

  /* Permanent refusals: EINVAL, nothing written. */
  assert_int_equal(mts_rpt_deliver_report(ctx, &cfg, NULL,
                                          "mailto:x@excluded.example", json,
                                          len, err, sizeof(err)),
                   MTS_EINVAL);
  assert_non_null(strstr(err, "excluded"));
  assert_int_equal(mts_rpt_deliver_report(ctx, &cfg, NULL,
                                          "ftp://example.net/", json, len,
                                          err, sizeof(err)),
                   MTS_EINVAL);
  assert_int_equal(mts_rpt_deliver_report(ctx, &cfg, NULL,
                                          "mailto:a@b.example", "{}", 2, err,
                                          sizeof(err)),
                   MTS_EINVAL);
  cfg.submitter = "other.example"; /* D08: not contact-info's domain */
  assert_int_equal(mts_rpt_deliver_report(ctx, &cfg, NULL,
                                          "mailto:a@b.example", json, len,
                                          err, sizeof(err)),
                   MTS_EINVAL);
  mts_rpt_report_write_free(ctx, json);
  assert_int_equal(rmdir(dir), 0); /* empty: nothing else was written */
  mts_ctx_destroy(ctx);
}

/* ---- schedule ---- */

static void test_schedule_numbers(void **state) {
  static const struct {
    int64_t first_at, now;
    uint32_t attempts;
    uint64_t rnd;
    int64_t want;
  } v[] = {
      {1000, 1000, 1, 0, 1300},       /* 5 min */
      {1000, 1000, 1, 7, 1307},       /* + jitter 7 mod 76 */
      {1000, 1000, 1, 76, 1300},      /* 76 mod 76 = 0 */
      {1000, 1300, 2, 0, 1900},       /* 10 min */
      {1000, 1900, 3, 0, 3100},       /* 20 min */
      {1000, 5000, 6, 0, 5000 + 9600},        /* 160 min */
      {1000, 20000, 7, 0, 20000 + 14400},     /* capped at 4 h */
      {1000, 20000, 40, 3599, 20000 + 14400 + 3599 % 3601},
      {0, 80000, 3, 0, 81200},        /* still within 24 h */
      {0, 86000, 3, 0, 0},            /* past 24 h after the first: give up */
      {0, 85100, 1, 0, 85400},
      {0, 86100, 1, 0, 86400},        /* exactly 24 h: still tried */
      {0, 86101, 1, 0, 0},
  };
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
    int64_t got = mts_rpt_deliver_next_attempt(v[i].first_at, v[i].now,
                                               v[i].attempts, v[i].rnd);
    if (got != v[i].want) {
      fail_msg("row %zu: got %lld want %lld", i, (long long)got,
               (long long)v[i].want);
    }
  }
  /* The whole schedule with no jitter: attempts until 24 h. */
  {
    int64_t t = 0, first = 0;
    uint32_t n = 1;

    for (;;) {
      int64_t next = mts_rpt_deliver_next_attempt(first, t, n, 0);

      if (next == 0) {
        break;
      }
      t = next;
      n++;
    }
    /* 0, 5, 15, 35, 75, 155, 315 min, then every 240 min: 555, 795,
     * 1035, 1275 min (21.25 h); the next (25.25 h) is past 24 h. */
    assert_int_equal(n, 11);
    assert_int_equal(t, 1275 * 60);
  }
  assert_int_equal(mts_rpt_deliver_first_at(DAY0, 14400, 0), DAY0 + 86400);
  assert_int_equal(mts_rpt_deliver_first_at(DAY0, 14400, 5), DAY0 + 86405);
  assert_int_equal(mts_rpt_deliver_first_at(DAY0, 14400, 14400),
                   DAY0 + 86400 + 14400);
  assert_int_equal(mts_rpt_deliver_first_at(DAY0, 14400, 14401), DAY0 + 86400);
  assert_int_equal(mts_rpt_deliver_first_at(DAY0, 0, 12345), DAY0 + 86400);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_mail_exact),
      cmocka_unit_test(test_mail_lines),
      cmocka_unit_test(test_subject_folding),
      cmocka_unit_test(test_subject),
      cmocka_unit_test(test_mail_refused),
      cmocka_unit_test(test_mail_alloc_sweep),
      cmocka_unit_test(test_mailto),
      cmocka_unit_test(test_sendmail),
      cmocka_unit_test(test_https_args),
      cmocka_unit_test(test_deliver_report_dry_run),
      cmocka_unit_test(test_schedule_numbers),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
