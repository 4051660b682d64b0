/*
 * test_tls_probe.c - mts_tls_probe_*: the SMTP reply scanner (table), and
 * probes on a libuv loop against loopback fakes: fakenet.h's DNS
 * responder and TLS server (its CA and per-site certificates, chosen by
 * SNI), plus a scripted SMTP server thread here that speaks the greeting,
 * EHLO and STARTTLS and then hands the socket to OpenSSL with the fake's
 * site contexts.
 *
 * IDs: TP-n are this module's cases (docs/decisions.md).
 */
#include "testutil.h"

#include "fakenet.h"

#include <mtasts/limits.h>
#include <mtasts/net.h>
#include <mtasts/tls_probe.h>

#include "net/net_tls_int.h"

/* ---------------------------------------------------------- scanner */

struct scan_case {
  const char *id;
  const char *in;
  int want_rc;
  int want_code;
  size_t want_used; /* 0: strlen(in) when complete */
};

static const struct scan_case scan_cases[] = {
    {"TP-1 one line", "220 mx.test ESMTP\r\n", 1, 220, 0},
    {"TP-1 bare LF", "220 mx.test\n", 1, 220, 0},
    {"TP-1 code only", "220\r\n", 1, 220, 0},
    {"TP-2 multi-line", "250-mx.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n", 1,
     250, 0},
    {"TP-2 two replies: the first", "220 a\r\n250 b\r\n", 1, 220, 7},
    {"TP-3 incomplete line", "220 mx.te", 0, 0, 0},
    {"TP-3 continuation pending", "250-mx.test\r\n250-SIZE\r\n", 0, 0, 0},
    {"TP-3 empty", "", 0, 0, 0},
    {"TP-4 code mismatch", "250-a\r\n251 b\r\n", -1, 0, 0},
    {"TP-4 not digits", "2x0 hello\r\n", -1, 0, 0},
    {"TP-4 bad separator", "220/hello\r\n", -1, 0, 0},
    {"TP-4 short", "22\r\n", -1, 0, 0},
    {"TP-4 first digit 6", "600 x\r\n", -1, 0, 0},
    {"TP-4 HTTP", "HTTP/1.1 400 Bad\r\n", -1, 0, 0},
};

static void test_reply_scan(void **state) {
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(scan_cases) / sizeof(scan_cases[0]); i++) {
    const struct scan_case *c = &scan_cases[i];
    int code = -7;
    size_t used = 99;
    int rc = mts_tls_probe_reply_scan(c->in, strlen(c->in), &code, &used);
    size_t want_used =
        c->want_rc == 1 ? (c->want_used ? c->want_used : strlen(c->in)) : 0;

    if (rc != c->want_rc ||
        (rc == 1 && (code != c->want_code || used != want_used))) {
      fail_msg("%s: got rc %d code %d used %zu, want rc %d code %d used %zu",
               c->id, rc, code, used, c->want_rc, c->want_code, want_used);
    }
  }
}

/* A line over 1000 bytes without LF is malformed, not "need more". */
static void test_reply_scan_long(void **state) {
  char buf[1200];
  int code;
  size_t used;

  (void)state;
  memset(buf, 'x', sizeof(buf));
  memcpy(buf, "220 ", 4);
  assert_int_equal(mts_tls_probe_reply_scan(buf, sizeof(buf), &code, &used),
                   -1);
  assert_int_equal(mts_tls_probe_reply_scan(buf, 900, &code, &used), 0);
  /* NUL bytes are text like any other. */
  assert_int_equal(mts_tls_probe_reply_scan("220 a\0b\r\n", 9, &code, &used),
                   1);
  assert_int_equal(used, 9);
}

/* ---------------------------------------------------------- fakes */

static const struct fake_dns_entry dns_table[] = {
    {"nx.test", 1, 3, false, false, {{NULL}}},
    {"nx.test", 28, 3, false, false, {{NULL}}},
};

static struct fake_site sites[] = {
    {.host = "mx.good.test", .cert = FAKE_CERT_GOOD},
    {.host = "mx.expired.test", .cert = FAKE_CERT_EXPIRED},
    {.host = "mx.wrong.test", .cert = FAKE_CERT_WRONG_NAME},
    {.host = "mx.self.test", .cert = FAKE_CERT_SELF},
    {.host = "mx.cnonly.test", .cert = FAKE_CERT_CN_ONLY},
    {.host = "mta-sts.good.test", .cert = FAKE_CERT_GOOD},
};
#define NSITES (sizeof(sites) / sizeof(sites[0]))

static struct fake_dns dns;
static struct fake_tls tls;
static char resolver[32];
static char *https_response;

enum smtp_mode {
  SM_GOOD = 0,  /* multi-line greeting, STARTTLS offered, TLS */
  SM_NOTLS,     /* EHLO without STARTTLS */
  SM_554,       /* greeting 554 */
  SM_PIPELINED, /* extra line after the STARTTLS 220 */
  SM_SILENT,    /* never greets */
  SM_TLS11,     /* TLS 1.1 at most */
  SM_EHLO_500,  /* EHLO refused */
  SM_GARBAGE    /* not SMTP */
};

struct fake_smtp {
  int fd;
  uint16_t port;
  pthread_t thread;
  atomic_int stop;
  enum smtp_mode mode;
  char ehlo[512]; /* the client's EHLO line */
};

static void smtp_send(int fd, const char *s) {
  (void)send(fd, s, strlen(s), MSG_NOSIGNAL);
}

/* Read one line (up to LF) into buf; false on EOF/timeout. */
static bool smtp_line(int fd, char *buf, size_t cap) {
  size_t n = 0;

  while (n + 1 < cap) {
    char c;

    if (recv(fd, &c, 1, 0) != 1) {
      return false;
    }
    buf[n++] = c;
    if (c == '\n') {
      break;
    }
  }
  buf[n] = '\0';
  return true;
}

static void smtp_wait_close(struct fake_smtp *s, int fd) {
  while (!atomic_load(&s->stop)) {
    struct pollfd p = {fd, POLLIN, 0};
    char b[64];

    if (poll(&p, 1, 50) > 0 && recv(fd, b, sizeof(b), 0) <= 0) {
      return;
    }
  }
}

static void smtp_conn(struct fake_smtp *s, int fd) {
  char line[512];
  SSL *ssl;

  if (s->mode == SM_SILENT) {
    smtp_wait_close(s, fd);
    return;
  }
  if (s->mode == SM_554) {
    smtp_send(fd, "554 mx.test no service\r\n");
    smtp_wait_close(s, fd);
    return;
  }
  if (s->mode == SM_GARBAGE) {
    smtp_send(fd, "SSH-2.0-OpenSSH_9.2\r\n");
    smtp_wait_close(s, fd);
    return;
  }
  smtp_send(fd, "220-mx.test ESMTP fake\r\n220 welcome\r\n");
  if (!smtp_line(fd, line, sizeof(line))) {
    return;
  }
  (void)snprintf(s->ehlo, sizeof(s->ehlo), "%s", line);
  if (s->mode == SM_EHLO_500) {
    smtp_send(fd, "500 what\r\n");
    smtp_wait_close(s, fd);
    return;
  }
  if (s->mode == SM_NOTLS) {
    smtp_send(fd, "250-mx.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n");
    smtp_wait_close(s, fd);
    return;
  }
  smtp_send(fd, "250-mx.test\r\n250-PIPELINING\r\n250-starttls\r\n250 "
                "8BITMIME\r\n");
  if (!smtp_line(fd, line, sizeof(line)) || strcmp(line, "STARTTLS\r\n") != 0) {
    return;
  }
  if (s->mode == SM_PIPELINED) {
    smtp_send(fd, "220 go ahead\r\n250 injected\r\n");
    smtp_wait_close(s, fd);
    return;
  }
  smtp_send(fd, "220 go ahead\r\n");
  ssl = SSL_new(tls.sites[0].ctx);
  SSL_set_fd(ssl, fd);
  if (s->mode == SM_TLS11) {
    SSL_set_security_level(ssl, 0);
    (void)SSL_set_cipher_list(ssl, "DEFAULT:@SECLEVEL=0");
    (void)SSL_set_min_proto_version(ssl, TLS1_VERSION);
    (void)SSL_set_max_proto_version(ssl, TLS1_1_VERSION);
  }
  if (SSL_accept(ssl) == 1) {
    while (SSL_read(ssl, line, sizeof(line)) > 0) {
    }
  }
  SSL_free(ssl);
}

static void *smtp_main(void *arg) {
  struct fake_smtp *s = arg;

  while (!atomic_load(&s->stop)) {
    struct pollfd p = {s->fd, POLLIN, 0};
    struct timeval tv = {5, 0};
    int fd;

    if (poll(&p, 1, 50) <= 0) {
      continue;
    }
    fd = accept(s->fd, NULL, NULL);
    if (fd < 0) {
      continue;
    }
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    smtp_conn(s, fd);
    close(fd);
  }
  return NULL;
}

static void smtp_start(struct fake_smtp *s, enum smtp_mode mode) {
  memset(s, 0, sizeof(*s));
  s->mode = mode;
  s->fd = fake_bind(SOCK_STREAM, &s->port);
  assert_true(s->fd >= 0);
  assert_int_equal(listen(s->fd, 16), 0);
  assert_int_equal(pthread_create(&s->thread, NULL, smtp_main, s), 0);
}

static void smtp_stop(struct fake_smtp *s) {
  atomic_store(&s->stop, 1);
  pthread_join(s->thread, NULL);
  close(s->fd);
}

static int group_setup(void **state) {
  (void)state;
  https_response = fake_response("200 OK", "text/plain", NULL, "x");
  sites[NSITES - 1].response = https_response;
  if (!fake_dns_start(&dns, dns_table,
                      sizeof(dns_table) / sizeof(dns_table[0])) ||
      !fake_tls_start(&tls, sites, NSITES)) {
    return -1;
  }
  (void)snprintf(resolver, sizeof(resolver), "127.0.0.1:%u",
                 (unsigned)dns.port);
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  fake_dns_stop(&dns);
  fake_tls_stop(&tls);
  free(https_response);
  return 0;
}

/* ---------------------------------------------------------- env */

struct env {
  struct mts_test_alloc alloc;
  struct mts_ctx *ctx;
  uv_loop_t loop;
  struct mts_net *net;
};

static enum mts_status env_init(struct env *e, long fail_at) {
  struct mts_net_options o;

  memset(e, 0, sizeof(*e));
  e->ctx = mts_test_ctx(&e->alloc, fail_at);
  assert_int_equal(uv_loop_init(&e->loop), 0);
  mts_net_options_init(&o);
  o.resolver = resolver;
  o.ca_file = tls.ca_file;
  o.dns_timeout_ms = mts_test_ms(1000);
  return mts_net_create(e->ctx, &e->loop, &o, &e->net);
}

static void env_done(struct env *e) {
  mts_net_destroy(e->net);
  e->net = NULL;
  assert_int_equal(uv_run(&e->loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(uv_loop_close(&e->loop), 0);
  mts_ctx_destroy(e->ctx);
}

/* What a probe callback saw (copied: the result is borrowed). */
struct got {
  int calls;
  enum mts_status st;
  size_t n;
  char errmsg[256];
  enum mts_status pst;
  enum mts_tls_probe_stage stage;
  char address[64];
  char error[400];
  char banner[256];
  char ehlo[256];
  bool starttls;
  int smtp_code;
  char version[32];
  bool tls12;
  bool has_cert;
  int64_t not_after;
  bool cert_ok;
  unsigned cert_errors;
  char result_type[64];
  char san0[256];
  size_t nsan;
  bool destroy_in_cb;
  struct mts_net **net;
};

static void cp(char *d, size_t cap, const char *s) {
  (void)snprintf(d, cap, "%s", s != NULL ? s : "(null)");
}

static void on_probe(void *arg, enum mts_status st,
                     const struct mts_tls_probe_result *r, size_t n,
                     const char *errmsg) {
  struct got *g = arg;

  g->calls++;
  g->st = st;
  g->n = n;
  cp(g->errmsg, sizeof(g->errmsg), errmsg);
  if (n > 0) {
    g->pst = r[0].status;
    g->stage = r[0].stage;
    cp(g->address, sizeof(g->address), r[0].address);
    cp(g->error, sizeof(g->error), r[0].error);
    cp(g->banner, sizeof(g->banner), r[0].banner);
    cp(g->ehlo, sizeof(g->ehlo), r[0].ehlo);
    g->starttls = r[0].starttls_offered;
    g->smtp_code = r[0].smtp_code;
    cp(g->version, sizeof(g->version), r[0].tls_version);
    g->tls12 = r[0].tls12_or_newer;
    g->has_cert = r[0].has_cert;
    g->not_after = r[0].not_after;
    g->cert_ok = r[0].cert_ok;
    g->cert_errors = r[0].cert_errors;
    cp(g->result_type, sizeof(g->result_type), r[0].result_type);
    g->nsan = r[0].nsan;
    cp(g->san0, sizeof(g->san0), r[0].nsan > 0 ? r[0].san[0] : NULL);
  }
  if (g->destroy_in_cb) {
    mts_net_destroy(*g->net);
    *g->net = NULL;
  }
}

/* Probe host (SNI) at 127.0.0.1:port, or resolve it when addr is NULL;
 * \p timeout_ms is scaled (testutil.h). */
static void probe(struct env *e, enum mts_tls_probe_mode mode, const char *host,
                  const char *addr, uint16_t port, uint32_t timeout_ms,
                  struct got *g) {
  struct mts_tls_probe_options o;

  memset(g, 0, sizeof(*g));
  mts_tls_probe_options_init(&o);
  o.mode = mode;
  o.host = host;
  o.address = addr;
  o.port = port;
  o.ehlo_name = "probe.test";
  o.timeout_ms = mts_test_ms(timeout_ms);
  assert_int_equal(mts_tls_probe_start(e->net, &o, on_probe, g), MTS_OK);
  assert_int_equal(g->calls, 0); /* never from inside the call */
  (void)uv_run(&e->loop, UV_RUN_DEFAULT);
  assert_int_equal(g->calls, 1);
}

/* ---------------------------------------------------------- SMTP cases */

struct smtp_case {
  const char *id;
  enum smtp_mode mode;
  const char *host;
  enum mts_status want_st;
  enum mts_tls_probe_stage want_stage;
  bool want_starttls;
  bool want_tls12;
  bool want_cert_ok;
  unsigned want_errors;
  const char *want_result_type; /* "(null)" when none */
  const char *want_error_part;  /* substring of error, or NULL */
};

static const struct smtp_case smtp_cases[] = {
    {"TP-5 good", SM_GOOD, "mx.good.test", MTS_OK, MTS_TLS_PROBE_DONE, true,
     true, true, 0, "(null)", NULL},
    {"TP-6 expired", SM_GOOD, "mx.expired.test", MTS_OK, MTS_TLS_PROBE_DONE,
     true, true, false, MTS_TLS_CERT_EXPIRED, "certificate-expired", NULL},
    {"TP-6 wrong name", SM_GOOD, "mx.wrong.test", MTS_OK, MTS_TLS_PROBE_DONE,
     true, true, false, MTS_TLS_CERT_HOST_MISMATCH, "certificate-host-mismatch",
     NULL},
    {"TP-6 self-signed", SM_GOOD, "mx.self.test", MTS_OK, MTS_TLS_PROBE_DONE,
     true, true, false, MTS_TLS_CERT_NOT_TRUSTED, "certificate-not-trusted",
     NULL},
    /* No SAN: the CN is never used (DNS-ID only, like the policy fetch). */
    {"TP-7 CN only", SM_GOOD, "mx.cnonly.test", MTS_OK, MTS_TLS_PROBE_DONE,
     true, true, false, MTS_TLS_CERT_HOST_MISMATCH, "certificate-host-mismatch",
     NULL},
    {"TP-8 no STARTTLS", SM_NOTLS, "mx.good.test", MTS_EUNAVAIL,
     MTS_TLS_PROBE_EHLO, false, false, false, 0, "(null)", "STARTTLS"},
    {"TP-9 greeting 554", SM_554, "mx.good.test", MTS_EIO, MTS_TLS_PROBE_BANNER,
     false, false, false, 0, "(null)", "554"},
    {"TP-9 EHLO 500", SM_EHLO_500, "mx.good.test", MTS_EIO, MTS_TLS_PROBE_EHLO,
     false, false, false, 0, "(null)", "500"},
    {"TP-9 not SMTP", SM_GARBAGE, "mx.good.test", MTS_EIO, MTS_TLS_PROBE_BANNER,
     false, false, false, 0, "(null)", "malformed"},
    {"TP-10 pipelined after STARTTLS", SM_PIPELINED, "mx.good.test", MTS_EIO,
     MTS_TLS_PROBE_STARTTLS, true, false, false, 0, "(null)",
     "after the STARTTLS"},
    {"TP-11 TLS 1.1 only", SM_TLS11, "mx.good.test", MTS_OK, MTS_TLS_PROBE_DONE,
     true, false, true, 0, "(null)", NULL},
    {"TP-12 silent", SM_SILENT, "mx.good.test", MTS_ETIMEOUT,
     MTS_TLS_PROBE_BANNER, false, false, false, 0, "(null)", "no progress"},
};

static void test_smtp_cases(void **state) {
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(smtp_cases) / sizeof(smtp_cases[0]); i++) {
    const struct smtp_case *c = &smtp_cases[i];
    struct fake_smtp s;
    struct env e;
    struct got g;
    int64_t now = (int64_t)time(NULL);

    smtp_start(&s, c->mode);
    assert_int_equal(env_init(&e, 0), MTS_OK);
    probe(&e, MTS_TLS_PROBE_SMTP, c->host, "127.0.0.1", s.port, 1500, &g);
    env_done(&e);
    smtp_stop(&s);
    if (g.st != MTS_OK || g.n != 1) {
      fail_msg("%s: got st %s n %zu, want OK 1", c->id, mts_status_name(g.st),
               g.n);
    }
    if (g.pst != c->want_st || g.stage != c->want_stage ||
        g.starttls != c->want_starttls) {
      fail_msg("%s: got %s at %s starttls %d (%s), want %s at %s starttls %d",
               c->id, mts_status_name(g.pst), mts_tls_probe_stage_str(g.stage),
               g.starttls, g.error, mts_status_name(c->want_st),
               mts_tls_probe_stage_str(c->want_stage), c->want_starttls);
    }
    if (c->want_error_part != NULL &&
        strstr(g.error, c->want_error_part) == NULL) {
      fail_msg("%s: error '%s' lacks '%s'", c->id, g.error, c->want_error_part);
    }
    if (c->want_st == MTS_OK) {
      if (g.tls12 != c->want_tls12 || g.cert_ok != c->want_cert_ok ||
          g.cert_errors != c->want_errors ||
          strcmp(g.result_type, c->want_result_type) != 0 || !g.has_cert) {
        fail_msg("%s: got %s tls12 %d cert_ok %d errors %#x type %s, want "
                 "tls12 %d cert_ok %d errors %#x type %s",
                 c->id, g.version, g.tls12, g.cert_ok, g.cert_errors,
                 g.result_type, c->want_tls12, c->want_cert_ok, c->want_errors,
                 c->want_result_type);
      }
      /* fakenet certificates: valid one day (expired: until yesterday). */
      if (c->want_errors == MTS_TLS_CERT_EXPIRED
              ? !(g.not_after < now && g.not_after > now - 2 * 86400)
              : !(g.not_after > now + 86000 && g.not_after < now + 87000)) {
        fail_msg("%s: not_after %lld, now %lld", c->id, (long long)g.not_after,
                 (long long)now);
      }
    }
    if (c->mode == SM_GOOD || c->mode == SM_TLS11) {
      if (strcmp(g.banner, "mx.test ESMTP fake") != 0 ||
          strcmp(g.ehlo, "mx.test") != 0 ||
          strcmp(s.ehlo, "EHLO probe.test\r\n") != 0) {
        fail_msg("%s: banner '%s' ehlo '%s' sent '%s'", c->id, g.banner, g.ehlo,
                 s.ehlo);
      }
    }
  }
}

/* TP-5: the SAN list and the SNI (the fake picks the site by SNI). */
static void test_smtp_san(void **state) {
  struct fake_smtp s;
  struct env e;
  struct got g;

  (void)state;
  smtp_start(&s, SM_GOOD);
  assert_int_equal(env_init(&e, 0), MTS_OK);
  probe(&e, MTS_TLS_PROBE_SMTP, "mx.wrong.test", "127.0.0.1", s.port, 3000, &g);
  env_done(&e);
  smtp_stop(&s);
  assert_int_equal(g.nsan, 1);
  assert_string_equal(g.san0, "other.test");
  assert_int_equal(g.smtp_code, 220);
}

/* ---------------------------------------------------------- TLS mode */

static void test_tls_mode(void **state) {
  struct env e;
  struct got g;

  (void)state;
  assert_int_equal(env_init(&e, 0), MTS_OK);
  probe(&e, MTS_TLS_PROBE_TLS, "mta-sts.good.test", "127.0.0.1", tls.port, 3000,
        &g);
  env_done(&e);
  assert_int_equal(g.pst, MTS_OK);
  assert_true(g.cert_ok);
  assert_true(g.tls12);
  assert_string_equal(g.version, "TLSv1.3");
  assert_string_equal(g.banner, "(null)");
  assert_string_equal(g.san0, "mta-sts.good.test");
}

/* TP-13: the address comes from the net's resolver (the fake answers A
 * 127.0.0.1 for unknown names, AAAA NODATA). */
static void test_resolve(void **state) {
  struct fake_smtp s;
  struct env e;
  struct got g;

  (void)state;
  smtp_start(&s, SM_GOOD);
  assert_int_equal(env_init(&e, 0), MTS_OK);
  probe(&e, MTS_TLS_PROBE_SMTP, "mx.good.test", NULL, s.port, 3000, &g);
  assert_int_equal(g.st, MTS_OK);
  assert_int_equal(g.n, 1);
  assert_string_equal(g.address, "127.0.0.1");
  assert_int_equal(g.pst, MTS_OK);
  probe(&e, MTS_TLS_PROBE_SMTP, "nx.test", NULL, s.port, 3000, &g);
  assert_int_equal(g.st, MTS_ENXDOMAIN);
  assert_int_equal(g.n, 0);
  assert_non_null(strstr(g.errmsg, "nx.test"));
  env_done(&e);
  smtp_stop(&s);
}

/* TP-14: connection refused. */
static void test_refused(void **state) {
  struct env e;
  struct got g;
  uint16_t port = 0;
  int fd = fake_bind(SOCK_STREAM, &port);

  (void)state;
  close(fd); /* nothing listens there now */
  assert_int_equal(env_init(&e, 0), MTS_OK);
  probe(&e, MTS_TLS_PROBE_SMTP, "mx.good.test", "127.0.0.1", port, 3000, &g);
  env_done(&e);
  assert_int_equal(g.pst, MTS_ECONNECT);
  assert_int_equal(g.stage, MTS_TLS_PROBE_CONNECT);
  assert_non_null(strstr(g.error, "refused"));
}

/* TP-15: destroy ends a pending probe with ECANCELED; destroy from the
 * callback is allowed. */
static void test_cancel(void **state) {
  struct fake_smtp s;
  struct env e;
  struct got g;
  struct mts_tls_probe_options o;

  (void)state;
  smtp_start(&s, SM_SILENT);
  assert_int_equal(env_init(&e, 0), MTS_OK);
  memset(&g, 0, sizeof(g));
  mts_tls_probe_options_init(&o);
  o.host = "mx.good.test";
  o.address = "127.0.0.1";
  o.port = s.port;
  assert_int_equal(mts_tls_probe_start(e.net, &o, on_probe, &g), MTS_OK);
  (void)uv_run(&e.loop, UV_RUN_NOWAIT);
  (void)uv_run(&e.loop, UV_RUN_NOWAIT);
  mts_net_destroy(e.net);
  assert_int_equal(g.calls, 1);
  assert_int_equal(g.st, MTS_ECANCELED);
  assert_int_equal(mts_tls_probe_start(e.net, &o, on_probe, &g), MTS_ECANCELED);
  e.net = NULL;
  env_done(&e);

  /* Destroy from inside the callback (a refused connection). */
  assert_int_equal(env_init(&e, 0), MTS_OK);
  memset(&g, 0, sizeof(g));
  g.destroy_in_cb = true;
  g.net = &e.net;
  o.port = 1; /* nothing listens on port 1 */
  assert_int_equal(mts_tls_probe_start(e.net, &o, on_probe, &g), MTS_OK);
  (void)uv_run(&e.loop, UV_RUN_DEFAULT);
  assert_int_equal(g.calls, 1);
  assert_null(e.net);
  env_done(&e);
  smtp_stop(&s);
}

/* TP-16: bad arguments. */
static void test_einval(void **state) {
  struct env e;
  struct got g;
  struct mts_tls_probe_options o;

  (void)state;
  assert_int_equal(env_init(&e, 0), MTS_OK);
  mts_tls_probe_options_init(&o);
  assert_int_equal(mts_tls_probe_start(e.net, &o, on_probe, &g), MTS_EINVAL);
  o.host = "bad host";
  assert_int_equal(mts_tls_probe_start(e.net, &o, on_probe, &g), MTS_EINVAL);
  o.host = "mx.good.test";
  o.address = "mx.good.test";
  assert_int_equal(mts_tls_probe_start(e.net, &o, on_probe, &g), MTS_EINVAL);
  o.address = "127.0.0.1";
  o.ehlo_name = "two words";
  assert_int_equal(mts_tls_probe_start(e.net, &o, on_probe, &g), MTS_EINVAL);
  o.ehlo_name = NULL;
  assert_int_equal(mts_tls_probe_start(e.net, &o, NULL, &g), MTS_EINVAL);
  assert_int_equal(mts_tls_probe_start(NULL, &o, on_probe, &g), MTS_EINVAL);
  o.mode = (enum mts_tls_probe_mode)7;
  assert_int_equal(mts_tls_probe_start(e.net, &o, on_probe, &g), MTS_EINVAL);
  assert_string_equal(mts_tls_probe_stage_str(MTS_TLS_PROBE_STARTTLS),
                      "starttls");
  env_done(&e);
}

/* Allocation failures: every one surfaces as MTS_ENOMEM (from create,
 * start or the callback), nothing leaks (cmocka checks at exit). */
static uint16_t sweep_port;

static enum mts_status sweep_op(struct mts_ctx *ctx, void *arg) {
  struct mts_net_options o;
  struct mts_tls_probe_options po;
  struct mts_net *net = NULL;
  uv_loop_t loop;
  struct got g;
  enum mts_status st;

  (void)arg;
  assert_int_equal(uv_loop_init(&loop), 0);
  mts_net_options_init(&o);
  o.resolver = resolver;
  o.ca_file = tls.ca_file;
  st = mts_net_create(ctx, &loop, &o, &net);
  if (st == MTS_OK) {
    memset(&g, 0, sizeof(g));
    mts_tls_probe_options_init(&po);
    po.host = "mx.good.test";
    po.address = "127.0.0.1";
    po.port = sweep_port;
    po.timeout_ms = mts_test_ms(3000);
    st = mts_tls_probe_start(net, &po, on_probe, &g);
    if (st == MTS_OK) {
      (void)uv_run(&loop, UV_RUN_DEFAULT);
      assert_int_equal(g.calls, 1);
      st = g.st != MTS_OK ? g.st : g.pst;
    }
  }
  mts_net_destroy(net);
  (void)uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
  return st;
}

static void test_alloc_sweep(void **state) {
  struct fake_smtp s;

  (void)state;
  smtp_start(&s, SM_GOOD);
  sweep_port = s.port;
  assert_true(mts_test_alloc_sweep(sweep_op, NULL) > 0);
  smtp_stop(&s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reply_scan), cmocka_unit_test(test_reply_scan_long),
      cmocka_unit_test(test_smtp_cases), cmocka_unit_test(test_smtp_san),
      cmocka_unit_test(test_tls_mode),   cmocka_unit_test(test_resolve),
      cmocka_unit_test(test_refused),    cmocka_unit_test(test_cancel),
      cmocka_unit_test(test_einval),     cmocka_unit_test(test_alloc_sweep),
  };

  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
