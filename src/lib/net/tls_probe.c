/*
 * tls_probe.c - SMTP STARTTLS / HTTPS TLS probe (mtasts/tls_probe.h).
 *
 * Design (docs/decisions.md): native non-blocking sockets on
 * the caller's loop, one uv_poll_t per address and one uv_timer_t per
 * probe, OpenSSL driven with SSL_do_handshake() on the socket itself.
 * No worker threads: the context allocator (and the tests' counting
 * allocator) need not be thread-safe, and mts_net_destroy() can end a
 * probe at any point.
 *
 * One op = the address lookup (the net's internal A/AAAA lookup, so
 * --resolver governs it), then every address probed in parallel under
 * one deadline. The timer first kicks the probes off (so a given address
 * never calls back from inside mts_tls_probe_start()), then is the
 * deadline. The op is freed when its last handle has closed, after the
 * callback; after delivery it never touches the net again.
 *
 * Verification: SSL_VERIFY_NONE with a verify callback that records
 * every error and lets the chain walk go on, so one probe reports all of
 * "untrusted", "expired" and "wrong name", and the handshake completes
 * to show the protocol version. TLS 1.0 and 1.1 are allowed (security
 * level 0) only so that a server limited to them is diagnosed as such.
 */
#include "net/net_int.h"
#include "net/net_tls_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <mtasts/tls_probe.h>

/* RFC 5321 4.5.3.1.5: a reply line is at most 512 octets; we allow a
 * lenient 1000 (the text line limit of 4.5.3.1.6). */
#define PROBE_LINE_MAX 1000
#define PROBE_TEXT_MAX 256
#define PROBE_EHLO_DEFAULT "mtasts.invalid"

struct probe_op;

struct addr_probe {
  struct probe_op *op;
  uv_poll_t poll;
  bool poll_init;
  int fd;
  SSL *ssl;
  enum mts_tls_probe_stage stage;
  bool done;
  uint64_t start_ms;
  size_t in_len;
  size_t out_len;
  size_t out_off;
  unsigned cert_errors;
  bool have_err;
  int first_err;
  struct mts_tls_probe_result r;
  char address[INET6_ADDRSTRLEN];
  char error[384];
  char banner[PROBE_TEXT_MAX];
  char ehlo[PROBE_TEXT_MAX];
  char version[32];
  char cipher[80];
  char issuer[PROBE_TEXT_MAX];
  char verify_error[160];
  char san_store[MTS_TLS_PROBE_SAN_MAX][MTS_DOMAIN_MAX + 1];
  const char *san[MTS_TLS_PROBE_SAN_MAX];
  char in[MTS_TLS_PROBE_REPLY_MAX];
  char out[PROBE_LINE_MAX + 16];
};

struct probe_op {
  struct mts_net_op link; /* first: the net's op list */
  struct mts_net *net;    /* not used after delivery */
  struct mts_ctx *ctx;
  uv_loop_t *loop;
  mts_tls_probe_cb cb;
  void *arg;
  enum mts_tls_probe_mode mode;
  uint16_t port;
  uint32_t timeout_ms;
  bool linked;
  bool started;     /* the probes exist; the timer is the deadline */
  bool delivered;   /* the callback ran */
  bool closing;     /* handles are being closed */
  unsigned handles; /* open handles (timer + polls) */
  struct mts_net_dns_op *lookup;
  SSL_CTX *sslctx;
  uv_timer_t timer;
  struct addr_probe *probes;
  struct mts_tls_probe_result *results;
  size_t n;
  size_t ndone;
  char host[MTS_DOMAIN_MAX + 1];
  char ehlo_name[MTS_DOMAIN_MAX + 1];
  char address[INET6_ADDRSTRLEN + 2];
  char errmsg[MTS_DOMAIN_MAX + 160];
};

void mts_tls_probe_options_init(struct mts_tls_probe_options *o) {
  memset(o, 0, sizeof(*o));
}

const char *mts_tls_probe_stage_str(enum mts_tls_probe_stage s) {
  switch (s) {
  case MTS_TLS_PROBE_CONNECT:
    return "connect";
  case MTS_TLS_PROBE_BANNER:
    return "banner";
  case MTS_TLS_PROBE_EHLO:
    return "ehlo";
  case MTS_TLS_PROBE_STARTTLS:
    return "starttls";
  case MTS_TLS_PROBE_HANDSHAKE:
    return "handshake";
  case MTS_TLS_PROBE_DONE:
    return "done";
  }
  return "unknown";
}

/* ---- the SMTP reply scanner (pure) ---- */

int mts_tls_probe_reply_scan(const char *buf, size_t len, int *code,
                             size_t *used) {
  size_t pos = 0;
  int first = -1;

  *code = 0;
  *used = 0;
  while (pos < len) {
    const char *line = buf + pos;
    const char *nl = memchr(line, '\n', len - pos);
    size_t ll;
    int c;

    if (nl == NULL) {
      return len - pos > PROBE_LINE_MAX ? -1 : 0;
    }
    ll = (size_t)(nl - line);
    if (ll > PROBE_LINE_MAX) {
      return -1;
    }
    if (ll > 0 && line[ll - 1] == '\r') {
      ll--;
    }
    if (ll < 3 || line[0] < '1' || line[0] > '5' || line[1] < '0' ||
        line[1] > '9' || line[2] < '0' || line[2] > '9') {
      return -1;
    }
    c = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    if (first >= 0 && c != first) {
      return -1;
    }
    first = c;
    pos = (size_t)(nl - buf) + 1;
    if (ll == 3 || line[3] == ' ') {
      *code = c;
      *used = pos;
      return 1;
    }
    if (line[3] != '-') {
      return -1;
    }
  }
  return 0;
}

/* ---- helpers ---- */

/* Copy \p len bytes as printable ASCII ('?' for others), NUL-terminated,
 * truncated to \p cap - 1. */
static void copy_text(char *dst, size_t cap, const void *src, size_t len) {
  const unsigned char *s = src;
  size_t i;

  if (cap == 0) {
    return;
  }
  for (i = 0; i < len && i + 1 < cap; i++) {
    dst[i] = s[i] >= 0x20 && s[i] < 0x7F ? (char)s[i] : '?';
  }
  dst[i] = '\0';
}

/* The text of the first line of a reply (after "DDD-"). */
static void first_line(char *dst, size_t cap, const char *reply, size_t len) {
  const char *nl = memchr(reply, '\n', len);
  size_t ll = nl != NULL ? (size_t)(nl - reply) : len;

  if (ll > 0 && reply[ll - 1] == '\r') {
    ll--;
  }
  if (ll <= 4) {
    copy_text(dst, cap, "", 0);
    return;
  }
  copy_text(dst, cap, reply + 4, ll - 4);
}

static bool ascii_ieq(const char *a, size_t alen, const char *b) {
  size_t i;

  if (alen != strlen(b)) {
    return false;
  }
  for (i = 0; i < alen; i++) {
    char x = a[i] >= 'a' && a[i] <= 'z' ? (char)(a[i] - 32) : a[i];

    if (x != b[i]) {
      return false;
    }
  }
  return true;
}

/* Does an EHLO reply list the STARTTLS keyword (RFC 3207 4)? */
static bool ehlo_has_starttls(const char *reply, size_t len) {
  size_t pos = 0;

  while (pos < len) {
    const char *line = reply + pos;
    const char *nl = memchr(line, '\n', len - pos);
    size_t ll = nl != NULL ? (size_t)(nl - line) : len - pos;
    size_t k = 4;

    if (ll > 0 && line[ll - 1] == '\r') {
      ll--;
    }
    while (k < ll && line[k] != ' ') {
      k++;
    }
    if (ll > 4 && ascii_ieq(line + 4, k - 4, "STARTTLS")) {
      return true;
    }
    pos += (nl != NULL ? (size_t)(nl - line) + 1 : len - pos);
  }
  return false;
}

/* An LDH host name with dots (A-labels), and '_' for test names. */
static bool host_ok(const char *h) {
  size_t i;
  size_t len = strlen(h);

  if (len == 0 || len > MTS_DOMAIN_MAX) {
    return false;
  }
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)h[i];

    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_')) {
      return false;
    }
  }
  return true;
}

static bool ehlo_ok(const char *h) {
  size_t i;
  size_t len = strlen(h);

  if (len == 0 || len > MTS_DOMAIN_MAX) {
    return false;
  }
  for (i = 0; i < len; i++) {
    if ((unsigned char)h[i] <= 0x20 || (unsigned char)h[i] >= 0x7F) {
      return false;
    }
  }
  return true;
}

/* Parse "192.0.2.1", "2001:db8::1" or "[2001:db8::1]" (len bytes). */
static bool addr_parse(const char *s, size_t len, struct sockaddr_storage *ss,
                       socklen_t *sslen, char *text, size_t textcap) {
  char buf[INET6_ADDRSTRLEN + 2];
  struct sockaddr_in *s4 = (struct sockaddr_in *)(void *)ss;
  struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)(void *)ss;

  if (len > 1 && s[0] == '[' && s[len - 1] == ']') {
    s++;
    len -= 2;
  }
  if (len == 0 || len >= sizeof(buf)) {
    return false;
  }
  memcpy(buf, s, len);
  buf[len] = '\0';
  memset(ss, 0, sizeof(*ss));
  if (inet_pton(AF_INET, buf, &s4->sin_addr) == 1) {
    s4->sin_family = AF_INET;
    *sslen = sizeof(*s4);
  } else if (inet_pton(AF_INET6, buf, &s6->sin6_addr) == 1) {
    s6->sin6_family = AF_INET6;
    *sslen = sizeof(*s6);
  } else {
    return false;
  }
  if (text != NULL) {
    copy_text(text, textcap, buf, len);
  }
  return true;
}

/* Days since 1970-01-01 of a civil date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  int64_t era;
  unsigned yoe, doy, doe;

  y -= m <= 2;
  era = (y >= 0 ? y : y - 399) / 400;
  yoe = (unsigned)(y - era * 400);
  doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

static int64_t asn1_time_unix(const ASN1_TIME *t) {
  struct tm tm;

  if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) {
    return 0;
  }
  return days_from_civil((int64_t)tm.tm_year + 1900, (unsigned)tm.tm_mon + 1,
                         (unsigned)tm.tm_mday) *
             86400 +
         (int64_t)tm.tm_hour * 3600 + (int64_t)tm.tm_min * 60 + tm.tm_sec;
}

static unsigned verify_class(int e) {
  switch (e) {
  case X509_V_ERR_CERT_HAS_EXPIRED:
    return MTS_TLS_CERT_EXPIRED;
  case X509_V_ERR_HOSTNAME_MISMATCH:
    return MTS_TLS_CERT_HOST_MISMATCH;
  case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
  case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
  case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
  case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
  case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
  case X509_V_ERR_CERT_UNTRUSTED:
  case X509_V_ERR_CERT_REJECTED:
    return MTS_TLS_CERT_NOT_TRUSTED;
  default:
    return MTS_TLS_CERT_OTHER;
  }
}

static const char *result_type(unsigned cls) {
  switch (cls) {
  case MTS_TLS_CERT_EXPIRED:
    return "certificate-expired";
  case MTS_TLS_CERT_NOT_TRUSTED:
    return "certificate-not-trusted";
  case MTS_TLS_CERT_HOST_MISMATCH:
    return "certificate-host-mismatch";
  default:
    return "validation-failure";
  }
}

/* Record every verification error and go on (see the file comment). */
static int verify_cb(int ok, X509_STORE_CTX *xs) {
  SSL *ssl =
      X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
  struct addr_probe *p = ssl != NULL ? SSL_get_app_data(ssl) : NULL;

  if (!ok && p != NULL) {
    int e = X509_STORE_CTX_get_error(xs);

    p->cert_errors |= verify_class(e);
    if (!p->have_err) {
      p->have_err = true;
      p->first_err = e;
    }
  }
  return 1;
}

/* ---- op lifetime ---- */

static void op_free(struct probe_op *op) {
  SSL_CTX_free(op->sslctx);
  mts_free(op->ctx, op->probes);
  mts_free(op->ctx, op->results);
  mts_free(op->ctx, op);
}

static void handle_closed(uv_handle_t *h) {
  struct probe_op *op = h->data;

  op->handles--;
  if (op->handles == 0 && op->closing) {
    op_free(op);
  }
}

static void poll_closed(uv_handle_t *h) {
  struct addr_probe *p = h->data;

  h->data = p->op;
  handle_closed(h);
}

/* End the probe of one address: its result is final, its socket closed. */
static void probe_finish(struct addr_probe *p, enum mts_status st,
                         const char *fmt, ...) MTS_PRINTF(3, 4);
static void probe_finish(struct addr_probe *p, enum mts_status st,
                         const char *fmt, ...) {
  struct probe_op *op = p->op;
  va_list ap;

  if (p->done) {
    return;
  }
  p->done = true;
  op->ndone++;
  p->r.status = st;
  p->r.stage = p->stage;
  p->r.elapsed_ms = uv_now(op->loop) - p->start_ms;
  if (st != MTS_OK && fmt != NULL) {
    va_start(ap, fmt);
    (void)vsnprintf(p->error, sizeof(p->error), fmt, ap);
    va_end(ap);
    p->r.error = p->error;
  }
  if (p->poll_init) {
    p->poll_init = false;
    (void)uv_poll_stop(&p->poll);
    uv_close((uv_handle_t *)&p->poll, poll_closed);
  }
  SSL_free(p->ssl);
  p->ssl = NULL;
  if (p->fd >= 0) {
    (void)close(p->fd);
    p->fd = -1;
  }
}

/* Deliver once; then close every handle (the op frees itself). */
static void op_deliver(struct probe_op *op, enum mts_status st,
                       const char *errmsg) {
  size_t i;
  mts_tls_probe_cb cb = op->cb;
  void *arg = op->arg;

  if (op->delivered) {
    return;
  }
  op->delivered = true;
  if (op->lookup != NULL) {
    mts_net_dns_addr_cancel(op->lookup);
    op->lookup = NULL;
  }
  if (op->linked) {
    op->linked = false;
    mts_net_op_unlink(op->net, &op->link);
  }
  op->net = NULL;
  for (i = 0; i < op->n; i++) {
    probe_finish(&op->probes[i], MTS_ECANCELED, "canceled");
    op->results[i] = op->probes[i].r;
  }
  (void)uv_timer_stop(&op->timer);
  if (st == MTS_OK && op->n > 0) {
    cb(arg, MTS_OK, op->results, op->n, NULL);
  } else {
    cb(arg, st == MTS_OK ? MTS_EINTERNAL : st, NULL, 0,
       errmsg != NULL ? errmsg : mts_status_str(st));
  }
  op->closing = true;
  uv_close((uv_handle_t *)&op->timer, handle_closed);
}

static void op_maybe_deliver(struct probe_op *op) {
  if (op->started && !op->delivered && op->ndone == op->n) {
    op_deliver(op, MTS_OK, NULL);
  }
}

/* ---- per-address state machine ---- */

static void on_poll(uv_poll_t *h, int status, int events);

static void want(struct addr_probe *p, int events) {
  if (uv_poll_start(&p->poll, events, on_poll) != 0) {
    probe_finish(p, MTS_EIO, "cannot watch the socket");
  }
}

/* Send what is queued; \return false when the probe ended. */
static bool flush_out(struct addr_probe *p) {
  while (p->out_off < p->out_len) {
    ssize_t n =
        send(p->fd, p->out + p->out_off, p->out_len - p->out_off, MSG_NOSIGNAL);

    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      break;
    }
    if (n <= 0) {
      probe_finish(p, MTS_EIO, "%s: send: %s", p->address, strerror(errno));
      return false;
    }
    p->out_off += (size_t)n;
  }
  want(p, UV_READABLE | (p->out_off < p->out_len ? UV_WRITABLE : 0));
  return !p->done;
}

static bool send_cmd(struct addr_probe *p, const char *cmd, const char *argx) {
  int n = snprintf(p->out, sizeof(p->out), "%s%s%s\r\n", cmd,
                   argx != NULL ? " " : "", argx != NULL ? argx : "");

  if (n < 0 || (size_t)n >= sizeof(p->out)) {
    probe_finish(p, MTS_EINTERNAL, "command too long");
    return false;
  }
  p->out_len = (size_t)n;
  p->out_off = 0;
  return flush_out(p);
}

static void tls_collect(struct addr_probe *p) {
  X509 *x = SSL_get0_peer_certificate(p->ssl);
  int v = SSL_version(p->ssl);

  copy_text(p->version, sizeof(p->version), SSL_get_version(p->ssl),
            strlen(SSL_get_version(p->ssl)));
  p->r.tls_version = p->version;
  copy_text(p->cipher, sizeof(p->cipher), SSL_get_cipher_name(p->ssl),
            strlen(SSL_get_cipher_name(p->ssl)));
  p->r.cipher = p->cipher;
  p->r.tls12_or_newer = v >= TLS1_2_VERSION;
  if (x != NULL) {
    GENERAL_NAMES *gens;
    int i, ng;

    p->r.has_cert = true;
    p->r.not_before = asn1_time_unix(X509_get0_notBefore(x));
    p->r.not_after = asn1_time_unix(X509_get0_notAfter(x));
    if (X509_NAME_oneline(X509_get_issuer_name(x), p->issuer,
                          (int)sizeof(p->issuer)) != NULL) {
      p->r.issuer = p->issuer;
    }
    gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    ng = gens != NULL ? sk_GENERAL_NAME_num(gens) : 0;
    for (i = 0; i < ng && p->r.nsan < MTS_TLS_PROBE_SAN_MAX; i++) {
      const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);

      if (g->type == GEN_DNS) {
        copy_text(p->san_store[p->r.nsan], sizeof(p->san_store[0]),
                  ASN1_STRING_get0_data(g->d.dNSName),
                  (size_t)ASN1_STRING_length(g->d.dNSName));
        p->san[p->r.nsan] = p->san_store[p->r.nsan];
        p->r.nsan++;
      }
    }
    GENERAL_NAMES_free(gens);
    p->r.san = p->san;
  }
  if (x == NULL && !p->have_err) {
    p->have_err = true;
    p->first_err = X509_V_ERR_UNSPECIFIED;
    p->cert_errors |= MTS_TLS_CERT_OTHER;
  }
  p->r.cert_errors = p->cert_errors;
  p->r.cert_ok = p->cert_errors == 0;
  if (p->have_err) {
    const char *s = x != NULL ? X509_verify_cert_error_string(p->first_err)
                              : "no certificate";

    copy_text(p->verify_error, sizeof(p->verify_error), s, strlen(s));
    p->r.verify_error = p->verify_error;
    p->r.result_type = result_type(verify_class(p->first_err));
  }
}

static void tls_step(struct addr_probe *p) {
  int rc, e;
  unsigned long ee;
  char buf[200];

  ERR_clear_error();
  rc = SSL_do_handshake(p->ssl);
  if (rc == 1) {
    p->stage = MTS_TLS_PROBE_DONE;
    tls_collect(p);
    /* Best effort, never waited for: end the session politely. */
    if (p->op->mode == MTS_TLS_PROBE_SMTP) {
      (void)SSL_write(p->ssl, "QUIT\r\n", 6);
    } else {
      (void)SSL_shutdown(p->ssl);
    }
    probe_finish(p, MTS_OK, NULL);
    return;
  }
  e = SSL_get_error(p->ssl, rc);
  if (e == SSL_ERROR_WANT_READ) {
    want(p, UV_READABLE);
    return;
  }
  if (e == SSL_ERROR_WANT_WRITE) {
    want(p, UV_WRITABLE);
    return;
  }
  ee = ERR_peek_last_error();
  if (ee != 0) {
    ERR_error_string_n(ee, buf, sizeof(buf));
  } else if (e == SSL_ERROR_SYSCALL && errno != 0) {
    (void)snprintf(buf, sizeof(buf), "%s", strerror(errno));
  } else {
    (void)snprintf(buf, sizeof(buf), "connection closed by the server");
  }
  ERR_clear_error();
  probe_finish(p, MTS_ETLS, "%s: TLS handshake with %s failed: %s", p->address,
               p->op->host, buf);
}

static void tls_begin(struct addr_probe *p) {
  struct probe_op *op = p->op;

  p->stage = MTS_TLS_PROBE_HANDSHAKE;
  p->ssl = SSL_new(op->sslctx);
  if (p->ssl == NULL || SSL_set_fd(p->ssl, p->fd) != 1 ||
      SSL_set_tlsext_host_name(p->ssl, op->host) != 1 ||
      mts_net_tls_dnsid(SSL_get0_param(p->ssl), op->host) != 1) {
    ERR_clear_error();
    probe_finish(p, MTS_ENOMEM, "cannot set up TLS");
    return;
  }
  SSL_set_app_data(p->ssl, p);
  SSL_set_verify(p->ssl, SSL_VERIFY_NONE, verify_cb);
  SSL_set_connect_state(p->ssl);
  tls_step(p);
}

/* A complete SMTP reply of \p used bytes with \p code is in p->in. */
static void smtp_reply(struct addr_probe *p, int code, size_t used) {
  struct probe_op *op = p->op;

  p->r.smtp_code = code;
  switch (p->stage) {
  case MTS_TLS_PROBE_BANNER:
    first_line(p->banner, sizeof(p->banner), p->in, used);
    p->r.banner = p->banner;
    if (code != 220) {
      probe_finish(p, MTS_EIO, "%s: greeting %d %s (want 220)", p->address,
                   code, p->banner);
      return;
    }
    p->stage = MTS_TLS_PROBE_EHLO;
    (void)send_cmd(p, "EHLO", op->ehlo_name);
    break;
  case MTS_TLS_PROBE_EHLO:
    if (code != 250) {
      first_line(p->ehlo, sizeof(p->ehlo), p->in, used);
      probe_finish(p, MTS_EIO, "%s: EHLO answered %d %s (want 250)", p->address,
                   code, p->ehlo);
      return;
    }
    first_line(p->ehlo, sizeof(p->ehlo), p->in, used);
    p->r.ehlo = p->ehlo;
    p->r.starttls_offered = ehlo_has_starttls(p->in, used);
    if (!p->r.starttls_offered) {
      (void)send(p->fd, "QUIT\r\n", 6, MSG_NOSIGNAL);
      probe_finish(p, MTS_EUNAVAIL,
                   "%s: STARTTLS is not offered in the EHLO response",
                   p->address);
      return;
    }
    p->stage = MTS_TLS_PROBE_STARTTLS;
    (void)send_cmd(p, "STARTTLS", NULL);
    break;
  case MTS_TLS_PROBE_STARTTLS:
    if (code != 220) {
      char t[PROBE_TEXT_MAX];

      first_line(t, sizeof(t), p->in, used);
      probe_finish(p, MTS_EIO, "%s: STARTTLS answered %d %s (want 220)",
                   p->address, code, t);
      return;
    }
    if (p->in_len > used) {
      /* Plaintext after the 220 would be read as TLS data or, worse,
       * as if it came over TLS (the CVE-2011-0411 class). */
      probe_finish(p, MTS_EIO,
                   "%s: data after the STARTTLS reply, before the handshake",
                   p->address);
      return;
    }
    p->in_len = 0;
    tls_begin(p);
    return;
  default:
    return;
  }
  if (!p->done) {
    memmove(p->in, p->in + used, p->in_len - used);
    p->in_len -= used;
  }
}

static void smtp_read(struct addr_probe *p) {
  for (;;) {
    ssize_t n;
    int code = 0;
    size_t used = 0;
    int rc;

    if (p->in_len == sizeof(p->in)) {
      probe_finish(p, MTS_EIO, "%s: SMTP reply longer than %d bytes",
                   p->address, MTS_TLS_PROBE_REPLY_MAX);
      return;
    }
    n = recv(p->fd, p->in + p->in_len, sizeof(p->in) - p->in_len, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      return;
    }
    if (n < 0) {
      probe_finish(p, MTS_EIO, "%s: recv: %s", p->address, strerror(errno));
      return;
    }
    if (n == 0) {
      probe_finish(p, MTS_EIO, "%s: connection closed by the server (%s)",
                   p->address, mts_tls_probe_stage_str(p->stage));
      return;
    }
    p->in_len += (size_t)n;
    /* Replies that arrived together are handled one by one. */
    while (!p->done && p->stage != MTS_TLS_PROBE_HANDSHAKE &&
           p->stage != MTS_TLS_PROBE_DONE &&
           (rc = mts_tls_probe_reply_scan(p->in, p->in_len, &code, &used)) !=
               0) {
      if (rc < 0) {
        probe_finish(p, MTS_EIO, "%s: malformed SMTP reply (%s)", p->address,
                     mts_tls_probe_stage_str(p->stage));
        return;
      }
      smtp_reply(p, code, used);
    }
    if (p->done || p->stage == MTS_TLS_PROBE_HANDSHAKE) {
      return;
    }
  }
}

static void connected(struct addr_probe *p) {
  int err = 0;
  socklen_t len = sizeof(err);

  if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
    err = errno;
  }
  if (err != 0) {
    probe_finish(p, MTS_ECONNECT, "connect to %s port %u: %s", p->address,
                 (unsigned)p->op->port, strerror(err));
    return;
  }
  if (p->op->mode == MTS_TLS_PROBE_SMTP) {
    p->stage = MTS_TLS_PROBE_BANNER;
    want(p, UV_READABLE);
  } else {
    tls_begin(p);
  }
}

static void probe_io(struct addr_probe *p, int status, int events) {
  if (p->done) {
    return;
  }
  switch (p->stage) {
  case MTS_TLS_PROBE_CONNECT:
    connected(p);
    return;
  case MTS_TLS_PROBE_BANNER:
  case MTS_TLS_PROBE_EHLO:
  case MTS_TLS_PROBE_STARTTLS:
    if ((events & UV_WRITABLE) && !flush_out(p)) {
      return;
    }
    if ((events & UV_READABLE) || status < 0) {
      smtp_read(p);
    }
    return;
  case MTS_TLS_PROBE_HANDSHAKE:
    tls_step(p);
    return;
  case MTS_TLS_PROBE_DONE:
    return;
  }
}

static void on_poll(uv_poll_t *h, int status, int events) {
  struct addr_probe *p = h->data;
  struct probe_op *op = p->op;
  struct mts_net *net = op->net;

  if (net == NULL) {
    return; /* delivered: the handle is closing */
  }
  mts_net_enter(net);
  probe_io(p, status, events);
  op_maybe_deliver(op);
  mts_net_leave(net);
}

static void probe_begin(struct addr_probe *p, const struct sockaddr *sa,
                        socklen_t salen) {
  struct probe_op *op = p->op;

  p->start_ms = uv_now(op->loop);
  p->stage = MTS_TLS_PROBE_CONNECT;
  p->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (p->fd < 0) {
    probe_finish(p, MTS_ECONNECT, "%s: socket: %s", p->address,
                 strerror(errno));
    return;
  }
  if (uv_poll_init_socket(op->loop, &p->poll, p->fd) != 0) {
    probe_finish(p, MTS_ENOMEM, "%s: cannot watch the socket", p->address);
    return;
  }
  p->poll.data = p;
  p->poll_init = true;
  op->handles++;
  if (connect(p->fd, sa, salen) == 0) {
    connected(p);
  } else if (errno == EINPROGRESS) {
    want(p, UV_WRITABLE);
  } else {
    probe_finish(p, MTS_ECONNECT, "connect to %s port %u: %s", p->address,
                 (unsigned)op->port, strerror(errno));
  }
}

static void deadline_fired(uv_timer_t *t);

/* Create and start one probe per address of \p list ("a,b,[c]"). */
static void probes_start(struct probe_op *op, const char *list) {
  const char *s = list;
  size_t n = 1, i;

  for (i = 0; list[i] != '\0'; i++) {
    n += list[i] == ',';
  }
  if (n > MTS_TLS_PROBE_ADDR_MAX) {
    n = MTS_TLS_PROBE_ADDR_MAX;
  }
  op->probes = mts_calloc(op->ctx, n, sizeof(*op->probes));
  op->results = mts_calloc(op->ctx, n, sizeof(*op->results));
  if (op->probes == NULL || op->results == NULL) {
    op_deliver(op, MTS_ENOMEM, "out of memory");
    return;
  }
  op->n = n;
  for (i = 0; i < n; i++) {
    op->probes[i].op = op;
    op->probes[i].fd = -1;
  }
  op->started = true;
  (void)uv_timer_start(&op->timer, deadline_fired, op->timeout_ms, 0);
  for (i = 0; i < n; i++) {
    struct addr_probe *p = &op->probes[i];
    const char *end = strchr(s, ',');
    size_t len = end != NULL ? (size_t)(end - s) : strlen(s);
    struct sockaddr_storage ss;
    socklen_t sslen = 0;

    p->r.address = p->address;
    if (!addr_parse(s, len, &ss, &sslen, p->address, sizeof(p->address))) {
      copy_text(p->address, sizeof(p->address), s, len);
      probe_finish(p, MTS_EINVAL, "not an address: %s", p->address);
    } else {
      if (ss.ss_family == AF_INET) {
        ((struct sockaddr_in *)(void *)&ss)->sin_port = htons(op->port);
      } else {
        ((struct sockaddr_in6 *)(void *)&ss)->sin6_port = htons(op->port);
      }
      probe_begin(p, (const struct sockaddr *)&ss, sslen);
    }
    s = end != NULL ? end + 1 : s + len;
  }
  op_maybe_deliver(op);
}

static void deadline_fired(uv_timer_t *t) {
  struct probe_op *op = t->data;
  struct mts_net *net = op->net;
  size_t i;

  if (net == NULL || op->delivered) {
    return;
  }
  mts_net_enter(net);
  if (!op->started) {
    /* The kick of a probe of a given address. */
    probes_start(op, op->address);
  } else {
    for (i = 0; i < op->n; i++) {
      struct addr_probe *p = &op->probes[i];

      probe_finish(p, MTS_ETIMEOUT, "%s: no progress within %u ms (%s)",
                   p->address, (unsigned)op->timeout_ms,
                   mts_tls_probe_stage_str(p->stage));
    }
    op_maybe_deliver(op);
  }
  mts_net_leave(net);
}

static void lookup_done(void *arg, enum mts_status st, const char *addrs,
                        const char *errmsg) {
  struct probe_op *op = arg;
  struct mts_net *net = op->net;

  op->lookup = NULL; /* over; it frees itself */
  mts_net_enter(net);
  if (st != MTS_OK) {
    (void)snprintf(op->errmsg, sizeof(op->errmsg), "address lookup of %s: %s",
                   op->host, errmsg != NULL ? errmsg : mts_status_str(st));
    op_deliver(op, st, op->errmsg);
  } else {
    probes_start(op, addrs);
  }
  mts_net_leave(net);
}

/* mts_net_destroy(): the op is unlinked already. */
static void op_cancel(struct mts_net_op *link, enum mts_status st) {
  struct probe_op *op = (struct probe_op *)link;

  op->linked = false;
  (void)snprintf(op->errmsg, sizeof(op->errmsg), "probe of %s: %s", op->host,
                 mts_status_str(st));
  op_deliver(op, st, op->errmsg);
}

static enum mts_status sslctx_make(struct mts_net *net, SSL_CTX **out) {
  SSL_CTX *c = SSL_CTX_new(TLS_client_method());
  enum mts_status st = MTS_EINTERNAL;

  *out = NULL;
  if (c == NULL) {
    goto done;
  }
  /* TLS 1.0 and 1.1 need security level 0 in OpenSSL 3; allowed only so
   * that such a server is reported as too old (decision TP-A2). */
  SSL_CTX_set_security_level(c, 0);
  if (SSL_CTX_set_min_proto_version(c, TLS1_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(c, "DEFAULT:@SECLEVEL=0") != 1) {
    goto done;
  }
  (void)SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
  if (net->ca_file != NULL) {
    if (SSL_CTX_load_verify_locations(c, net->ca_file, NULL) != 1) {
      goto done;
    }
  } else if (SSL_CTX_set_default_verify_paths(c) != 1) {
    goto done;
  }
  *out = c;
  c = NULL;
  st = MTS_OK;
done:
  SSL_CTX_free(c);
  ERR_clear_error();
  return st;
}

enum mts_status mts_tls_probe_start(struct mts_net *net,
                                    const struct mts_tls_probe_options *o,
                                    mts_tls_probe_cb cb, void *arg) {
  struct probe_op *op = NULL;
  struct sockaddr_storage ss;
  socklen_t sslen;
  enum mts_status st;
  const char *ehlo;

  if (net == NULL || o == NULL || cb == NULL || o->host == NULL ||
      !host_ok(o->host) ||
      (o->mode != MTS_TLS_PROBE_SMTP && o->mode != MTS_TLS_PROBE_TLS)) {
    return MTS_EINVAL;
  }
  ehlo = o->ehlo_name != NULL ? o->ehlo_name : PROBE_EHLO_DEFAULT;
  if (!ehlo_ok(ehlo) ||
      (o->address != NULL &&
       !addr_parse(o->address, strlen(o->address), &ss, &sslen, NULL, 0))) {
    return MTS_EINVAL;
  }
  if (net->destroying) {
    return MTS_ECANCELED;
  }
  op = mts_calloc(net->ctx, 1, sizeof(*op));
  if (op == NULL) {
    return MTS_ENOMEM;
  }
  op->net = net;
  op->ctx = net->ctx;
  op->loop = net->loop;
  op->cb = cb;
  op->arg = arg;
  op->mode = o->mode;
  op->port =
      o->port != 0 ? o->port : (o->mode == MTS_TLS_PROBE_SMTP ? 25 : 443);
  op->timeout_ms =
      o->timeout_ms != 0 ? o->timeout_ms : MTS_TLS_PROBE_TIMEOUT_MS_DEFAULT;
  op->link.fail = op_cancel;
  memcpy(op->host, o->host, strlen(o->host) + 1);
  memcpy(op->ehlo_name, ehlo, strlen(ehlo) + 1);
  if (o->address != NULL) {
    (void)snprintf(op->address, sizeof(op->address), "%s", o->address);
  }
  st = sslctx_make(net, &op->sslctx);
  if (st != MTS_OK) {
    op_free(op);
    return st;
  }
  if (o->address == NULL) {
    st = mts_net_dns_addr(net, op->host, lookup_done, op, &op->lookup);
    if (st != MTS_OK) {
      op_free(op);
      return st;
    }
  }
  (void)uv_timer_init(net->loop, &op->timer);
  op->timer.data = op;
  op->handles = 1;
  if (o->address != NULL) {
    /* Kick from the loop: never call back from inside this call. */
    (void)uv_timer_start(&op->timer, deadline_fired, 0, 0);
  }
  op->linked = true;
  mts_net_op_link(net, &op->link);
  return MTS_OK;
}
