/*
 * test_rpt_logline.c - Postfix smtp(8)/tlsproxy(8) log lines (TLSRPT-NOTES
 * 2). Vector ids name the notes' section: L21 = 2.1 (anatomy), L22 =
 * 2.2, L23 = 2.3 (formats and RFC 8460 meaning), L24 = 2.4 (tlsproxy),
 * L25 = 2.5 (queue id, next hop), L26 = 2.6, L27 = 2.7 (later
 * versions), L15 = 1.5 (3.10 "TLSRPT:" lines); BAD = hostile input.
 */
#include "testutil.h"

#include <mtasts/rpt_logline.h>

#define P "Mar  1 12:34:56 mail postfix/smtp[4242]: "
#define TP "Mar  1 12:34:56 mail postfix/tlsproxy[77]: "
#define QID "9E813A721D1: "

struct vec {
  const char *id;
  const char *line;
  enum mts_rpt_log_kind kind;
  enum mts_rpt_log_outcome outcome;
  const char *result_type;
  const char *reason;
  const char *host;
  const char *addr;
  unsigned port;
  const char *qid;
  bool provisional;
};

#define OK_ MTS_RPT_LOG_TLS_OK
#define UNV MTS_RPT_LOG_TLS_UNVERIFIED
#define FLD MTS_RPT_LOG_TLS_FAILED
#define UNK MTS_RPT_LOG_TLS_UNKNOWN
#define LOC MTS_RPT_LOG_TLS_LOCAL

static const struct vec vecs[] = {
    /* L23 handshake summaries */
    {"L23-verified",
     P "Verified TLS connection established to mx.ok.test[127.0.0.11]:25: "
       "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) "
       "key-exchange X25519 server-signature ECDSA (prime256v1) "
       "server-digest SHA256",
     MTS_RPT_LOG_TLS_SUMMARY, OK_, NULL, NULL, "mx.ok.test", "127.0.0.11", 25,
     NULL, false},
    {"L23-trusted",
     P "Trusted TLS connection established to mx.ok.test[127.0.0.11]:25: "
       "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)",
     MTS_RPT_LOG_TLS_SUMMARY, UNV, NULL, NULL, "mx.ok.test", "127.0.0.11", 25,
     NULL, false},
    {"L23-untrusted",
     P "Untrusted TLS connection established to mx.unknownca.test"
       "[127.0.0.16]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 "
       "(256/256 bits)",
     MTS_RPT_LOG_TLS_SUMMARY, UNV, NULL, NULL, "mx.unknownca.test",
     "127.0.0.16", 25, NULL, false},
    {"L23-anonymous",
     P "Anonymous TLS connection established to mx.anon.test[127.0.0.19]:25: "
       "TLSv1.2 with cipher ADH-AES256-GCM-SHA384 (256/256 bits)",
     MTS_RPT_LOG_TLS_SUMMARY, UNV, NULL, NULL, "mx.anon.test", "127.0.0.19",
     25, NULL, false},
    /* L23 verification failures */
    {"L23-untrusted-issuer",
     P "certificate verification failed for mx.unknownca.test[127.0.0.16]:25:"
       " untrusted issuer /CN=Lab Unknown Root CA",
     MTS_RPT_LOG_VERIFY_FAILED, FLD, "certificate-not-trusted",
     "untrusted_issuer", "mx.unknownca.test", "127.0.0.16", 25, NULL, false},
    {"L23-num62-mismatch",
     P "server certificate verification failed for mx.wrongname.test"
       "[127.0.0.14]:25: num=62:hostname mismatch",
     MTS_RPT_LOG_VERIFY_FAILED, FLD, "certificate-host-mismatch", NULL,
     "mx.wrongname.test", "127.0.0.14", 25, NULL, false},
    {"L23-expired",
     P "server certificate verification failed for mx.expired.test"
       "[127.0.0.15]:25: certificate has expired",
     MTS_RPT_LOG_VERIFY_FAILED, FLD, "certificate-expired", NULL,
     "mx.expired.test", "127.0.0.15", 25, NULL, false},
    {"L23-ca-expired",
     P "CA certificate verification failed for mx.expired.test"
       "[127.0.0.15]:25: certificate has expired",
     MTS_RPT_LOG_VERIFY_FAILED, FLD, "certificate-expired", NULL,
     "mx.expired.test", "127.0.0.15", 25, NULL, false},
    {"L23-not-yet-valid",
     P "server certificate verification failed for mx.future.test"
       "[127.0.0.17]:25: certificate not yet valid",
     MTS_RPT_LOG_VERIFY_FAILED, FLD, "validation-failure",
     "certificate_is_not_yet_valid", "mx.future.test", "127.0.0.17", 25, NULL,
     false},
    {"L23-self-signed",
     P "certificate verification failed for mx.self.test[127.0.0.20]:25: "
       "self-signed certificate",
     MTS_RPT_LOG_VERIFY_FAILED, FLD, "certificate-not-trusted",
     "self-signed_certificate", "mx.self.test", "127.0.0.20", 25, NULL, false},
    {"L23-not-trusted-27",
     P "certificate verification failed for mx.x.test[127.0.0.21]:25: "
       "not trusted by local or TLSA policy",
     MTS_RPT_LOG_VERIFY_FAILED, FLD, "certificate-not-trusted",
     "certificate_not_trusted", "mx.x.test", "127.0.0.21", 25, NULL, false},
    {"L23-purpose-26",
     P "certificate verification failed for mx.x.test[127.0.0.21]:25: "
       "not designated for use as a server certificate",
     MTS_RPT_LOG_VERIFY_FAILED, FLD, "validation-failure",
     "unsuitable_certificate_purpose", "mx.x.test", "127.0.0.21", 25, NULL,
     false},
    {"L23-chain-22",
     P "certificate verification failed for mx.x.test[127.0.0.21]:25: "
       "certificate chain longer than limit(1)",
     MTS_RPT_LOG_VERIFY_FAILED, FLD, "validation-failure",
     "certificate_chain_too_long", "mx.x.test", "127.0.0.21", 25, NULL,
     false},
    {"L23-num21-other",
     P "server certificate verification failed for mx.x.test[127.0.0.21]:25:"
       " num=21:unable to verify the first certificate",
     MTS_RPT_LOG_VERIFY_FAILED, FLD, "validation-failure",
     "unable_to_verify_the_first_certificate", "mx.x.test", "127.0.0.21", 25,
     NULL, false},
    {"L23-num65-dane",
     P "server certificate verification failed for mx.x.test[127.0.0.21]:25:"
       " num=65:no matching DANE TLSA records",
     MTS_RPT_LOG_VERIFY_FAILED, FLD, "validation-failure",
     "no_matching_DANE_TLSA_records", "mx.x.test", "127.0.0.21", 25, NULL,
     false},
    /* L23 STARTTLS and handshake failures */
    {"L23-not-offered-nonfinal",
     P QID "TLS is required, but was not offered by host "
           "mx.nostarttls.test[127.0.0.12]",
     MTS_RPT_LOG_NONFINAL, FLD, "starttls-not-supported", NULL,
     "mx.nostarttls.test", "127.0.0.12", 0, "9E813A721D1", false},
    {"L23-refused-status",
     P QID "to=<user@refuse.test>, relay=mx.refuse.test[127.0.0.13]:25, "
           "delay=0.1, delays=0.01/0/0.09/0, dsn=4.7.0, status=deferred (TLS "
           "is required, but host mx.refuse.test[127.0.0.13] refused to start "
           "TLS: 454 4.7.0 TLS not available due to local problem)",
     MTS_RPT_LOG_STATUS, FLD, "starttls-not-supported", NULL,
     "mx.refuse.test", "127.0.0.13", 25, "9E813A721D1", false},
    {"L23-not-offered-status",
     P QID "to=<user@nostarttls.test>, relay=mx.nostarttls.test"
           "[127.0.0.12]:25, delay=0.1, delays=0/0/0.1/0, dsn=4.7.4, "
           "status=deferred (TLS is required, but was not offered by host "
           "mx.nostarttls.test[127.0.0.12])",
     MTS_RPT_LOG_STATUS, FLD, "starttls-not-supported", NULL,
     "mx.nostarttls.test", "127.0.0.12", 25, "9E813A721D1", false},
    {"L23-ssl-connect-error",
     P "SSL_connect error to mx.garbage.test[127.0.0.18]:25: -1",
     MTS_RPT_LOG_SSL_CONNECT_ERROR, FLD, "validation-failure",
     "tls-handshake-failure", "mx.garbage.test", "127.0.0.18", 25, NULL,
     false},
    {"L23-ssl-connect-lost",
     P "SSL_connect error to mx.garbage.test[127.0.0.18]:25: lost connection",
     MTS_RPT_LOG_SSL_CONNECT_ERROR, FLD, "validation-failure",
     "tls-handshake-failure", "mx.garbage.test", "127.0.0.18", 25, NULL,
     false},
    {"L23-tls-lib-problem",
     P "warning: TLS library problem: error:0A00010B:SSL routines::wrong "
       "version number:../ssl/record/ssl3_record.c:350:",
     MTS_RPT_LOG_TLS_LIB_PROBLEM, UNK, NULL, NULL, NULL, NULL, 0, NULL, false},
    {"L23-cannot-start-tls",
     P QID "Cannot start TLS: handshake failure", MTS_RPT_LOG_NONFINAL, FLD,
     "validation-failure", "tls-handshake-failure", NULL, NULL, 0,
     "9E813A721D1", false},
    {"L23-not-verified-status",
     P QID "to=<user@expired.test>, relay=mx.expired.test[127.0.0.15]:25, "
           "delay=0.2, delays=0.01/0/0.19/0, dsn=4.7.5, status=deferred "
           "(Server certificate not verified)",
     MTS_RPT_LOG_STATUS, FLD, "certificate-not-trusted", NULL,
     "mx.expired.test", "127.0.0.15", 25, "9E813A721D1", true},
    {"L23-engine-unavailable",
     P QID "to=<u@x.test>, relay=none, delay=0, delays=0/0/0/0, dsn=4.7.5, "
           "status=deferred (TLS is required, but our TLS engine is "
           "unavailable)",
     MTS_RPT_LOG_STATUS, LOC, NULL, NULL, NULL, NULL, 0, "9E813A721D1", false},
    {"L23-unavailable",
     P QID "TLS is required, but unavailable", MTS_RPT_LOG_NONFINAL, LOC, NULL,
     NULL, NULL, NULL, 0, "9E813A721D1", false},
    {"L23-status-sent",
     P QID "to=<user@ok.test>, relay=mx.ok.test[127.0.0.11]:25, delay=0.2, "
           "delays=0.01/0/0.1/0.09, dsn=2.0.0, status=sent (250 2.0.0 Ok: "
           "queued as 1234)",
     MTS_RPT_LOG_STATUS, UNK, NULL, NULL, "mx.ok.test", "127.0.0.11", 25,
     "9E813A721D1", false},
    /* L22 */
    {"L22-untrusted-reuse",
     P "mx.x.test[127.0.0.21]:25: re-using session with untrusted "
       "certificate, look for details earlier in the log",
     MTS_RPT_LOG_UNTRUSTED_REUSE, FLD, "certificate-not-trusted", NULL,
     "mx.x.test", "127.0.0.21", 25, NULL, false},
    /* L24 tlsproxy */
    {"L24-proxy-connect", TP "CONNECT to [127.0.0.11]:25",
     MTS_RPT_LOG_PROXY_CONNECT, UNK, NULL, NULL, NULL, "127.0.0.11", 25, NULL,
     false},
    {"L24-proxy-disconnect", TP "DISCONNECT [127.0.0.11]:25",
     MTS_RPT_LOG_PROXY_DISCONNECT, UNK, NULL, NULL, NULL, "127.0.0.11", 25,
     NULL, false},
    {"L24-proxy-handshake-failed",
     TP "TLS handshake failed for service=smtp peer=[127.0.0.18]:25",
     MTS_RPT_LOG_PROXY_HANDSHAKE_FAILED, FLD, "validation-failure",
     "tls-handshake-failure", NULL, "127.0.0.18", 25, NULL, false},
    {"L24-proxy-reused",
     TP "Verified TLS connection reused to mx.ok.test[127.0.0.11]:25: "
        "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)",
     MTS_RPT_LOG_TLS_SUMMARY, OK_, NULL, NULL, "mx.ok.test", "127.0.0.11", 25,
     NULL, false},
    /* L25 */
    {"L25-session-lookup",
     P "looking for session smtp&example.com&mx.example.com&192.0.2.25&&"
       "B5C3A0F1 in smtp cache",
     MTS_RPT_LOG_SESSION_LOOKUP, UNK, NULL, NULL, "mx.example.com",
     "192.0.2.25", 0, NULL, false},
    {"L25-long-queue-id",
     P "4Xb7Rk1Zy5zB8Cq: to=<u@ok.test>, relay=mx.ok.test[2001:db8::25]:25, "
       "delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)",
     MTS_RPT_LOG_STATUS, UNK, NULL, NULL, "mx.ok.test", "2001:db8::25", 25,
     "4Xb7Rk1Zy5zB8Cq", false},
    {"L25-warning-is-no-qid", P "warning: something odd: x", MTS_RPT_LOG_OTHER,
     UNK, NULL, NULL, NULL, NULL, 0, NULL, false},
    /* L26 */
    {"L26-connect-refused-other",
     P "connect to mx.down.test[127.0.0.30]:25: Connection refused",
     MTS_RPT_LOG_OTHER, UNK, NULL, NULL, NULL, NULL, 0, NULL, false},
    {"L26-lost-connection-nonfinal",
     P QID "lost connection with mx.x.test[127.0.0.21] while receiving the "
           "initial server greeting",
     MTS_RPT_LOG_NONFINAL, UNK, NULL, NULL, NULL, NULL, 0, "9E813A721D1",
     false},
    /* L21 */
    {"L21-relay-tag",
     "Mar  1 12:34:56 mail postfix/relay/smtp[4242]: Verified TLS connection "
     "established to mx.ok.test[127.0.0.11]:25: TLSv1.3 with cipher X",
     MTS_RPT_LOG_TLS_SUMMARY, OK_, NULL, NULL, "mx.ok.test", "127.0.0.11", 25,
     NULL, false},
    {"L21-qmgr-other",
     "Mar  1 12:34:56 mail postfix/qmgr[99]: 9E813A721D1: from=<a@b.test>, "
     "size=300, nrcpt=1 (queue active)",
     MTS_RPT_LOG_OTHER, UNK, NULL, NULL, NULL, NULL, 0, NULL, false},
    {"L21-qmgr-suspended-is-not-a-session",
     "Mar  1 12:34:56 mail postfix/qmgr[99]: 9E813A721D1: to=<u@x.test>, "
     "relay=none, delay=1, delays=1/0/0/0, dsn=4.7.4, status=deferred "
     "(delivery temporarily suspended: TLS is required, but was not offered "
     "by host mx.x.test[127.0.0.12])",
     MTS_RPT_LOG_OTHER, UNK, NULL, NULL, NULL, NULL, 0, NULL, false},
    {"L21-kernel-other", "Mar  1 12:34:56 mail kernel: [1.0] x",
     MTS_RPT_LOG_OTHER, UNK, NULL, NULL, NULL, NULL, 0, NULL, false},
    /* L15: 3.10+ TLSRPT lines */
    {"L15-tlsrpt-success",
     P "TLSRPT: status=success, domain=example.com, "
       "receiving_mx=mail.example.com[192.0.2.1]",
     MTS_RPT_LOG_TLSRPT, OK_, NULL, NULL, "mail.example.com", "192.0.2.1", 0,
     NULL, false},
    {"L15-tlsrpt-failure",
     P "TLSRPT: status=failure, domain=example.com, "
       "receiving_mx=mail.example.com[192.0.2.1], "
       "failure_type=certificate_host_mismatch",
     MTS_RPT_LOG_TLSRPT, FLD, "certificate-host-mismatch", NULL,
     "mail.example.com", "192.0.2.1", 0, NULL, false},
    {"L15-tlsrpt-failure-reason",
     P "TLSRPT: status=failure, domain=example.com, "
       "receiving_mx=mail.example.com[192.0.2.1], "
       "failure_type=validation_failure, "
       "failure_reason=self-signed_certificate",
     MTS_RPT_LOG_TLSRPT, FLD, "validation-failure", "self-signed_certificate",
     "mail.example.com", "192.0.2.1", 0, NULL, false},
    {"L15-tlsrpt-unfinished",
     P "TLSRPT: status=failure, domain=example.com, "
       "receiving_mx=mail.example.com[192.0.2.1], "
       "failure_type=unfinished_policY",
     MTS_RPT_LOG_TLSRPT, FLD, NULL, NULL, "mail.example.com", "192.0.2.1", 0,
     NULL, false},
    /* BAD */
    {"BAD-summary-peer",
     P "Verified TLS connection established to garbage",
     MTS_RPT_LOG_MALFORMED, UNK, NULL, NULL, NULL, NULL, 0, NULL, false},
    {"BAD-status-no-status", P QID "to=<u@x.test>, relay=none",
     MTS_RPT_LOG_MALFORMED, UNK, NULL, NULL, NULL, NULL, 0, "9E813A721D1",
     false},
    {"BAD-port-too-big",
     P "SSL_connect error to mx.x.test[127.0.0.1]:99999: -1",
     MTS_RPT_LOG_MALFORMED, UNK, NULL, NULL, NULL, NULL, 0, NULL, false},
    {"BAD-empty", "", MTS_RPT_LOG_OTHER, UNK, NULL, NULL, NULL, NULL, 0, NULL,
     false},
};

static void str_check(const char *id, const char *what, const char *got,
                      const char *want) {
  if ((got == NULL) != (want == NULL) ||
      (got != NULL && strcmp(got, want) != 0)) {
    fail_msg("%s: %s got %s, want %s", id, what, got ? got : "NULL",
             want ? want : "NULL");
  }
}

static void test_vectors(void **state) {
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
    const struct vec *v = &vecs[i];
    struct mts_test_alloc a;
    struct mts_ctx *ctx = mts_test_ctx(&a, 0);
    struct mts_rpt_logline *ll = NULL;
    const struct mts_rpt_log_event *ev;

    assert_int_equal(mts_rpt_logline_parse(ctx, (const uint8_t *)v->line,
                                           strlen(v->line), &ll),
                     MTS_OK);
    ev = mts_rpt_logline_event(ll);
    if (ev->kind != v->kind) {
      fail_msg("%s: kind got %s, want %s (%s)", v->id,
               mts_rpt_logline_kind_str(ev->kind),
               mts_rpt_logline_kind_str(v->kind),
               ev->malformed ? ev->malformed : "");
    }
    if (ev->outcome != v->outcome) {
      fail_msg("%s: outcome got %d, want %d", v->id, ev->outcome, v->outcome);
    }
    str_check(v->id, "result_type", ev->result_type, v->result_type);
    str_check(v->id, "failure_reason", ev->failure_reason, v->reason);
    if (v->kind != MTS_RPT_LOG_MALFORMED) {
      str_check(v->id, "host", ev->host, v->host);
      str_check(v->id, "addr", ev->addr, v->addr);
      if (ev->port != v->port) {
        fail_msg("%s: port got %u, want %u", v->id, ev->port, v->port);
      }
    }
    str_check(v->id, "queue_id", ev->queue_id, v->qid);
    if (ev->provisional != v->provisional) {
      fail_msg("%s: provisional got %d, want %d", v->id, ev->provisional,
               v->provisional);
    }
    mts_rpt_logline_destroy(ll);
    mts_ctx_destroy(ctx);
  }
}

static const struct mts_rpt_log_event *parse(struct mts_ctx *ctx,
                                             const char *line,
                                             struct mts_rpt_logline **ll) {
  assert_int_equal(
      mts_rpt_logline_parse(ctx, (const uint8_t *)line, strlen(line), ll),
      MTS_OK);
  return mts_rpt_logline_event(*ll);
}

/* L21: the syslog prefix in its forms. */
static void test_prefix(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct mts_rpt_logline *ll = NULL;
  const struct mts_rpt_log_event *ev;

  (void)state;
  ev = parse(ctx, P QID "Cannot start TLS: handshake failure\n", &ll);
  assert_int_equal(ev->time.kind, MTS_RPT_LOG_TIME_RFC3164);
  assert_int_equal(ev->time.year, 0);
  assert_int_equal(ev->time.month, 3);
  assert_int_equal(ev->time.day, 1);
  assert_int_equal(ev->time.hour, 12);
  assert_int_equal(ev->time.minute, 34);
  assert_int_equal(ev->time.second, 56);
  assert_false(ev->time.has_offset);
  assert_string_equal(ev->hostname, "mail");
  assert_string_equal(ev->syslog_name, "postfix");
  assert_string_equal(ev->program, "smtp");
  assert_int_equal(ev->pid, 4242);
  assert_string_equal(ev->text, "Cannot start TLS: handshake failure");
  mts_rpt_logline_destroy(ll);

  /* rsyslog RFC 3339 high precision */
  ev = parse(ctx,
             "2025-03-01T12:34:56.123456+01:00 mail postfix/relay/smtp[7]: "
             QID "Cannot start TLS: handshake failure\r\n",
             &ll);
  assert_int_equal(ev->kind, MTS_RPT_LOG_NONFINAL);
  assert_int_equal(ev->time.kind, MTS_RPT_LOG_TIME_ISO8601);
  assert_int_equal(ev->time.year, 2025);
  assert_int_equal(ev->time.usec, 123456);
  assert_true(ev->time.has_offset);
  assert_int_equal(ev->time.offset_min, 60);
  assert_int_equal(ev->time.utc, 1740828896); /* 2025-03-01T11:34:56Z */
  assert_string_equal(ev->syslog_name, "postfix/relay");
  assert_string_equal(ev->program, "smtp");
  mts_rpt_logline_destroy(ll);

  /* journalctl -o short-iso: +hhmm */
  ev = parse(ctx,
             "2025-03-01T12:34:56-0230 mail postfix-out/smtp[7]: " QID
             "Cannot start TLS: handshake failure",
             &ll);
  assert_int_equal(ev->time.offset_min, -150);
  assert_int_equal(ev->time.utc, 1740828896 + 3 * 3600 + 30 * 60); /* 15:04:56Z */
  assert_string_equal(ev->syslog_name, "postfix-out");
  mts_rpt_logline_destroy(ll);

  /* Z, no fraction; a local ISO time without zone */
  ev = parse(ctx, "2024-02-29T23:59:59Z h postfix/smtp[1]: x", &ll);
  assert_int_equal(ev->time.utc, 1709251199);
  mts_rpt_logline_destroy(ll);
  ev = parse(ctx, "2024-02-29T23:59:59 h postfix/smtp[1]: x", &ll);
  assert_int_equal(ev->time.kind, MTS_RPT_LOG_TIME_ISO8601);
  assert_false(ev->time.has_offset);
  assert_int_equal(ev->time.utc, 0);
  mts_rpt_logline_destroy(ll);

  /* journal message without prefix */
  ev = parse(ctx, "postfix/smtp[4242]: " QID "Cannot start TLS: handshake "
                  "failure", &ll);
  assert_int_equal(ev->time.kind, MTS_RPT_LOG_TIME_NONE);
  assert_null(ev->hostname);
  assert_int_equal(ev->kind, MTS_RPT_LOG_NONFINAL);
  mts_rpt_logline_destroy(ll);

  /* maillog_file with fraction; two-digit day */
  ev = parse(ctx, "Dec 31 23:59:59.5 mail postfix/smtp[1]: x", &ll);
  assert_int_equal(ev->time.month, 12);
  assert_int_equal(ev->time.day, 31);
  assert_int_equal(ev->time.usec, 500000);
  mts_rpt_logline_destroy(ll);

  /* bad dates: no time stamp recognised, so no host name either */
  ev = parse(ctx, "Mar 32 12:34:56 mail postfix/smtp[1]: x", &ll);
  assert_int_equal(ev->time.kind, MTS_RPT_LOG_TIME_NONE);
  assert_null(ev->program);
  mts_rpt_logline_destroy(ll);
  ev = parse(ctx, "2023-02-29T00:00:00Z mail postfix/smtp[1]: x", &ll);
  assert_int_equal(ev->time.kind, MTS_RPT_LOG_TIME_NONE);
  mts_rpt_logline_destroy(ll);
  ev = parse(ctx, "2023-01-01T24:00:00Z mail postfix/smtp[1]: x", &ll);
  assert_int_equal(ev->time.kind, MTS_RPT_LOG_TIME_NONE);
  mts_rpt_logline_destroy(ll);
  mts_ctx_destroy(ctx);
}

/* L23/L25/L27: the fields of a status line. */
static void test_status_fields(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct mts_rpt_logline *ll = NULL;
  const struct mts_rpt_log_event *ev;

  (void)state;
  ev = parse(ctx,
             P QID "to=<b@OK.test.>, orig_to=<alias@ok.test>, relay=mx.ok.test"
                   "[127.0.0.11]:25, conn_use=2, delay=0.2, "
                   "delays=0.01/0/0/0.1, tls=may:none, dsn=2.0.0, status=sent "
                   "(250 2.0.0 Ok)",
             &ll);
  assert_int_equal(ev->kind, MTS_RPT_LOG_STATUS);
  assert_string_equal(ev->recipient, "b@OK.test.");
  assert_string_equal(ev->recipient_domain, "ok.test");
  assert_int_equal(ev->conn_use, 2);
  assert_string_equal(ev->tls_features, "may:none");
  assert_string_equal(ev->dsn, "2.0.0");
  assert_string_equal(ev->status, "sent");
  assert_string_equal(ev->text, "250 2.0.0 Ok");
  mts_rpt_logline_destroy(ll);

  ev = parse(ctx,
             P QID "to=<user@refuse.test>, relay=mx.refuse.test[127.0.0.13]:25,"
                   " delay=0.1, delays=0.01/0/0.09/0, dsn=4.7.0, "
                   "status=deferred (TLS is required, but host mx.refuse.test"
                   "[127.0.0.13] refused to start TLS: 454 4.7.0 TLS not "
                   "available due to local problem)",
             &ll);
  assert_string_equal(ev->detail,
                      "454 4.7.0 TLS not available due to local problem");
  assert_int_equal(ev->conn_use, 0);
  mts_rpt_logline_destroy(ll);

  /* L25: the next hop of the session cache lookup */
  ev = parse(ctx,
             P "looking for session smtp&[relay.example]:587&mx.example.com&"
               "192.0.2.25&&B5C3 in smtp cache",
             &ll);
  assert_string_equal(ev->nexthop, "[relay.example]:587");
  mts_rpt_logline_destroy(ll);

  /* L23: the OpenSSL reason of a library problem */
  ev = parse(ctx,
             P "warning: TLS library problem: error:0A00010B:SSL routines::"
               "wrong version number:../ssl/record/ssl3_record.c:350:",
             &ll);
  assert_string_equal(ev->detail, "wrong version number");
  mts_rpt_logline_destroy(ll);

  /* L15: the TLSRPT domain */
  ev = parse(ctx,
             P "TLSRPT: status=success, domain=Example.com, "
               "receiving_mx=mail.example.com[192.0.2.1]",
             &ll);
  assert_string_equal(ev->nexthop, "example.com");
  mts_rpt_logline_destroy(ll);

  /* summary details */
  ev = parse(ctx,
             P "Verified TLS connection established to mx.ok.test"
               "[127.0.0.11]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 "
               "(256/256 bits)",
             &ll);
  assert_int_equal(ev->trust, MTS_RPT_LOG_TRUST_VERIFIED);
  assert_false(ev->reused);
  assert_string_equal(ev->protocol, "TLSv1.3");
  assert_string_equal(ev->cipher, "TLS_AES_256_GCM_SHA384");
  mts_rpt_logline_destroy(ll);
  mts_ctx_destroy(ctx);
}

static void test_hostile(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct mts_rpt_logline *ll = (struct mts_rpt_logline *)&a;
  static const char nul[] = P QID "Cannot start\0 TLS";
  uint8_t *big;

  (void)state;
  assert_int_equal(mts_rpt_logline_parse(NULL, NULL, 0, &ll), MTS_EINVAL);
  assert_null(ll);
  assert_int_equal(mts_rpt_logline_parse(ctx, NULL, 1, &ll), MTS_EINVAL);
  assert_int_equal(mts_rpt_logline_parse(ctx, NULL, 0, NULL), MTS_EINVAL);
  assert_int_equal(mts_rpt_logline_parse(ctx, (const uint8_t *)nul,
                                         sizeof(nul) - 1, &ll),
                   MTS_OK);
  assert_int_equal(mts_rpt_logline_event(ll)->kind, MTS_RPT_LOG_MALFORMED);
  mts_rpt_logline_destroy(ll);
  big = test_malloc(MTS_RPT_LOGLINE_MAX + 1);
  memset(big, 'a', MTS_RPT_LOGLINE_MAX + 1);
  assert_int_equal(
      mts_rpt_logline_parse(ctx, big, MTS_RPT_LOGLINE_MAX + 1, &ll), MTS_OK);
  assert_int_equal(mts_rpt_logline_event(ll)->kind, MTS_RPT_LOG_MALFORMED);
  mts_rpt_logline_destroy(ll);
  test_free(big);
  mts_rpt_logline_destroy(NULL);
  assert_null(mts_rpt_logline_event(NULL));
  assert_string_equal(mts_rpt_logline_kind_str(MTS_RPT_LOG_TLSRPT), "tlsrpt");
  mts_ctx_destroy(ctx);
}

struct sweep_arg {
  const char *line;
};

static enum mts_status sweep_op(struct mts_ctx *ctx, void *arg) {
  const char *line = ((struct sweep_arg *)arg)->line;
  struct mts_rpt_logline *ll = NULL;
  enum mts_status st =
      mts_rpt_logline_parse(ctx, (const uint8_t *)line, strlen(line), &ll);

  if (st != MTS_OK) {
    assert_null(ll);
  }
  mts_rpt_logline_destroy(ll);
  return st;
}

static void test_alloc_sweep(void **state) {
  size_t i;
  struct sweep_arg sa;

  (void)state;
  for (i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
    sa.line = vecs[i].line;
    assert_true(mts_test_alloc_sweep(sweep_op, &sa) >= 1);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_vectors),
      cmocka_unit_test(test_prefix),
      cmocka_unit_test(test_status_fields),
      cmocka_unit_test(test_hostile),
      cmocka_unit_test(test_alloc_sweep),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
