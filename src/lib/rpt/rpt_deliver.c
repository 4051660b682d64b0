/*
 * rpt_deliver.c - report mail, sendmail pipe, HTTPS POST, retry
 * schedule; see rpt_deliver.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include <mtasts/rpt_deliver.h>
#include <mtasts/rpt_filename.h>
#include <mtasts/rpt_report_write.h>

#include "core/ctx_int.h"
#include "core/strbuf_int.h"
#include "net/net_int.h"

/* ---- small checks ---- */

static bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* RFC 5322 atext. */
static bool is_atext(char c) {
  return is_alpha(c) || is_digit(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* dot-atom-text of [s, s + n). */
static bool dot_atom(const char *s, size_t n) {
  size_t i;

  if (n == 0 || s[0] == '.' || s[n - 1] == '.') {
    return false;
  }
  for (i = 0; i < n; i++) {
    if (s[i] == '.') {
      if (s[i + 1] == '.') {
        return false;
      }
    } else if (!is_atext(s[i])) {
      return false;
    }
  }
  return true;
}

/* id-left "@" id-right, both dot-atom-text (RFC 5322 3.6.4, no obs-),
 * at most MSG_ID_MAX octets (it must fit a header line). */
#define MSG_ID_MAX 512
static bool msg_id_ok(const char *id) {
  const char *at = id != NULL ? strchr(id, '@') : NULL;

  return at != NULL && strlen(id) <= MSG_ID_MAX && strchr(at + 1, '@') == NULL &&
         dot_atom(id, (size_t)(at - id)) && dot_atom(at + 1, strlen(at + 1));
}

/* An LDH domain name (A-labels). */
static bool domain_ok(const char *d) {
  size_t n = d != NULL ? strlen(d) : 0, i;

  if (n == 0 || n > 253 || d[0] == '.' || d[n - 1] == '.') {
    return false;
  }
  for (i = 0; i < n; i++) {
    if (!(is_alpha(d[i]) || is_digit(d[i]) || d[i] == '-' || d[i] == '.' ||
          d[i] == '_')) {
      return false;
    }
  }
  return true;
}

/* A header-safe addr-spec: printable ASCII, no space, no specials that
 * would need quoting, exactly one '@' with both sides non-empty. */
static bool addr_ok(const char *a) {
  const char *at;
  size_t i;

  if (a == NULL || a[0] == '\0' || a[0] == '-' || strlen(a) > 254) {
    return false;
  }
  for (i = 0; a[i] != '\0'; i++) {
    unsigned char c = (unsigned char)a[i];

    if (c <= 0x20 || c >= 0x7f || strchr("<>(),;:\"[]\\", (int)c) != NULL) {
      return false;
    }
  }
  at = strrchr(a, '@');
  return at != NULL && at != a && at[1] != '\0' && strchr(a, '@') == at;
}

const char *mts_rpt_deliver_addr_domain(const char *addr) {
  const char *at = addr != NULL ? strrchr(addr, '@') : NULL;

  return at != NULL && at[1] != '\0' ? at + 1 : NULL;
}

/* Case-insensitive ASCII compare of the first n bytes. */
static bool ieq_n(const char *a, const char *b, size_t n) {
  size_t i;

  for (i = 0; i < n; i++) {
    char x = a[i], y = b[i];

    if (x >= 'A' && x <= 'Z') {
      x = (char)(x - 'A' + 'a');
    }
    if (y >= 'A' && y <= 'Z') {
      y = (char)(y - 'A' + 'a');
    }
    if (x != y || x == '\0') {
      return x == y;
    }
  }
  return true;
}

static bool ieq(const char *a, const char *b) {
  for (; *a != '\0' && *b != '\0'; a++, b++) {
    char x = *a, y = *b;

    if (x >= 'A' && x <= 'Z') {
      x = (char)(x - 'A' + 'a');
    }
    if (y >= 'A' && y <= 'Z') {
      y = (char)(y - 'A' + 'a');
    }
    if (x != y) {
      return false;
    }
  }
  return *a == *b;
}

static int hexval(char c) {
  if (is_digit(c)) {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

enum mts_status mts_rpt_deliver_mailto(const char *uri, char *buf,
                                       size_t size) {
  size_t o = 0;
  const char *p;

  if (uri == NULL || buf == NULL || size == 0) {
    return MTS_EINVAL;
  }
  buf[0] = '\0';
  if (strlen(uri) < 7 || !(ieq_n(uri, "mailto:", 7))) {
    return MTS_EINVAL;
  }
  /* the address ends at the header fields ("?") or a fragment ("#") */
  for (p = uri + 7; *p != '\0' && *p != '?' && *p != '#'; p++) {
    char c = *p;

    if (c == '%') {
      int h = hexval(p[1]), l = h >= 0 ? hexval(p[2]) : -1;

      if (h < 0 || l < 0 || (h == 0 && l == 0)) {
        /* %00 would end the address early: "a@b%00junk" is not a@b. */
        return MTS_EINVAL;
      }
      c = (char)(h * 16 + l);
      p += 2;
    }
    if (o + 1 >= size) {
      return MTS_ETOOBIG;
    }
    buf[o++] = c;
  }
  buf[o] = '\0';
  if (!addr_ok(buf) || !domain_ok(mts_rpt_deliver_addr_domain(buf))) {
    buf[0] = '\0';
    return MTS_EINVAL;
  }
  return MTS_OK;
}

enum mts_status mts_rpt_deliver_subject(const char *policy_domain,
                                        const char *submitter,
                                        const char *report_id, char *buf,
                                        size_t size) {
  int n;

  if (!domain_ok(policy_domain) || !domain_ok(submitter) ||
      !msg_id_ok(report_id) || buf == NULL) {
    return MTS_EINVAL;
  }
  n = snprintf(buf, size, "Report Domain: %s Submitter: %s Report-ID: <%s>",
               policy_domain, submitter, report_id);
  return n < 0 || (size_t)n >= size ? MTS_ETOOBIG : MTS_OK;
}

/* ---- the message ---- */

/* The message is short (headers, a summary, the report in base64):
 * a first allocation of 1 KiB, doubled as the attachment needs. */
#define MAIL_FIRST 1024

static void rfc5322_date(int64_t t, char *buf, size_t size) {
  static const char *const wd[7] = {"Sun", "Mon", "Tue", "Wed",
                                    "Thu", "Fri", "Sat"};
  static const char *const mo[12] = {"Jan", "Feb", "Mar", "Apr",
                                     "May", "Jun", "Jul", "Aug",
                                     "Sep", "Oct", "Nov", "Dec"};
  struct tm tm;
  time_t tt = (time_t)t;

  memset(&tm, 0, sizeof(tm));
  (void)gmtime_r(&tt, &tm);
  (void)snprintf(buf, size, "%s, %02d %s %04d %02d:%02d:%02d +0000",
                 wd[tm.tm_wday % 7], tm.tm_mday, mo[tm.tm_mon % 12],
                 tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void rfc3339(int64_t t, char *buf, size_t size) {
  struct tm tm;
  time_t tt = (time_t)t;

  memset(&tm, 0, sizeof(tm));
  (void)gmtime_r(&tt, &tm);
  (void)snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02dZ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec);
}

/* "Subject: " + value, folded at the spaces before "Submitter:" and
 * "Report-ID:" when a line would pass 78 octets (FWS of the ABNF). */
static void m_subject(struct mts_strbuf *b, const char *dom, const char *sub,
                      const char *rid) {
  char p1[300], p2[300], p3[1100];
  size_t col;

  (void)snprintf(p1, sizeof(p1), "Subject: Report Domain: %s", dom);
  (void)snprintf(p2, sizeof(p2), "Submitter: %s", sub);
  (void)snprintf(p3, sizeof(p3), "Report-ID: <%s>", rid);
  mts_strbuf_str(b, p1);
  col = strlen(p1);
  if (col + 1 + strlen(p2) > 78) {
    mts_strbuf_str(b, "\r\n ");
    col = 1;
  } else {
    mts_strbuf_str(b, " ");
    col++;
  }
  mts_strbuf_str(b, p2);
  col += strlen(p2);
  if (col + 1 + strlen(p3) > 78) {
    mts_strbuf_str(b, "\r\n ");
  } else {
    mts_strbuf_str(b, " ");
  }
  mts_strbuf_str(b, p3);
  mts_strbuf_str(b, "\r\n");
}

static void m_base64(struct mts_strbuf *b, const uint8_t *d, size_t n) {
  static const char tab[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  char line[80];
  size_t i, o = 0;

  for (i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)d[i] << 16;
    size_t rem = n - i;

    if (rem > 1) {
      v |= (uint32_t)d[i + 1] << 8;
    }
    if (rem > 2) {
      v |= d[i + 2];
    }
    line[o++] = tab[(v >> 18) & 63];
    line[o++] = tab[(v >> 12) & 63];
    line[o++] = rem > 1 ? tab[(v >> 6) & 63] : '=';
    line[o++] = rem > 2 ? tab[v & 63] : '=';
    if (o == 76) {
      mts_strbuf_put(b, line, o);
      mts_strbuf_put(b, "\r\n", 2);
      o = 0;
    }
  }
  if (o > 0) {
    mts_strbuf_put(b, line, o);
    mts_strbuf_put(b, "\r\n", 2);
  }
}

static bool boundary_ok(const char *s) {
  size_t n = s != NULL ? strlen(s) : 0, i;

  if (n == 0 || n > 70) {
    return false;
  }
  for (i = 0; i < n; i++) {
    if (!(is_alpha(s[i]) || is_digit(s[i]) || strchr("._=-", s[i]) != NULL)) {
      return false;
    }
  }
  return true;
}

static bool ascii_printable(const char *s) {
  for (; *s != '\0'; s++) {
    if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e) {
      return false;
    }
  }
  return true;
}

enum mts_status mts_rpt_deliver_mail_build(struct mts_ctx *ctx,
                                           const struct mts_rpt_mail *m,
                                           char **msg, size_t *len) {
  const struct mts_rpt_report_data *r;
  struct mts_strbuf b;
  struct mts_rpt_filename fn;
  char fname[600], date[96], t1[96], t2[96], day[16];
  const char *dom, *cdom;
  uint64_t ok = 0, bad = 0;
  size_t i;

  if (msg != NULL) {
    *msg = NULL;
  }
  if (len != NULL) {
    *len = 0;
  }
  if (ctx == NULL || m == NULL || msg == NULL || len == NULL ||
      m->report == NULL || (m->gz == NULL && m->gzlen > 0)) {
    return MTS_EINVAL;
  }
  r = m->report;
  if (r->npolicies == 0 || r->policies == NULL || r->report_id == NULL ||
      r->contact_info == NULL) {
    return MTS_EINVAL;
  }
  dom = m->report_domain != NULL ? m->report_domain
                                 : r->policies[0].policy_domain;
  cdom = mts_rpt_deliver_addr_domain(r->contact_info);
  if (!addr_ok(m->from) || !addr_ok(m->to) || !domain_ok(dom) ||
      !domain_ok(m->submitter) || !msg_id_ok(m->message_id) ||
      !msg_id_ok(r->report_id) || !boundary_ok(m->boundary) ||
      cdom == NULL || !ieq(cdom, m->submitter)) {
    return MTS_EINVAL;
  }
  memset(&fn, 0, sizeof(fn));
  (void)snprintf(fn.sender, sizeof(fn.sender), "%s", m->submitter);
  (void)snprintf(fn.policy_domain, sizeof(fn.policy_domain), "%s", dom);
  fn.begin = r->start;
  fn.end = r->end;
  fn.gzip = true;
  if (mts_rpt_filename_format(&fn, fname, sizeof(fname)) != MTS_OK) {
    return MTS_EINVAL;
  }
  for (i = 0; i < r->npolicies; i++) {
    ok += r->policies[i].total_successful;
    bad += r->policies[i].total_failure;
  }
  rfc5322_date(m->date, date, sizeof(date));
  rfc3339(r->start, t1, sizeof(t1));
  rfc3339(r->end, t2, sizeof(t2));
  memcpy(day, t1, 10);
  day[10] = '\0';

  mts_strbuf_init(&b, ctx, MAIL_FIRST, MTS_STRBUF_NOMAX);
  mts_strbuf_printf(&b, "From: %s\r\n", m->from);
  mts_strbuf_printf(&b, "To: %s\r\n", m->to);
  mts_strbuf_printf(&b, "Date: %s\r\n", date);
  mts_strbuf_printf(&b, "Message-ID: <%s>\r\n", m->message_id);
  m_subject(&b, dom, m->submitter, r->report_id);
  mts_strbuf_printf(&b, "TLS-Report-Domain: %s\r\n", dom);
  mts_strbuf_printf(&b, "TLS-Report-Submitter: %s\r\n", m->submitter);
  mts_strbuf_str(&b, "TLS-Required: No\r\n");
  mts_strbuf_str(&b, "MIME-Version: 1.0\r\n");
  mts_strbuf_printf(
      &b,
      "Content-Type: multipart/report; report-type=\"tlsrpt\";\r\n"
      " boundary=\"%s\"\r\n",
      m->boundary);
  mts_strbuf_str(&b, "\r\nThis is a TLS report (RFC 8460) in MIME format.\r\n");
  mts_strbuf_printf(&b, "\r\n--%s\r\n", m->boundary);
  mts_strbuf_str(&b, "Content-Type: text/plain; charset=us-ascii\r\n"
                     "Content-Transfer-Encoding: 7bit\r\n\r\n");
  mts_strbuf_str(
      &b, "This is an aggregate TLS report (RFC 8460, SMTP TLS Reporting)\r\n");
  if (r->organization_name != NULL && ascii_printable(r->organization_name) &&
      strlen(r->organization_name) <= 60) {
    mts_strbuf_printf(&b, "from %s\r\n", r->organization_name);
  }
  mts_strbuf_printf(&b, "about mail sent to %s\r\n", dom);
  mts_strbuf_printf(&b, "on the UTC day %s (%s to %s).\r\n\r\n", day, t1, t2);
  mts_strbuf_printf(&b, "Successful TLS sessions: %llu\r\n",
                    (unsigned long long)ok);
  mts_strbuf_printf(&b, "Failed TLS sessions:     %llu\r\n",
                    (unsigned long long)bad);
  mts_strbuf_printf(&b, "Policies:                %zu\r\n\r\n", r->npolicies);
  mts_strbuf_str(&b, "The report is attached as gzip-compressed JSON.\r\n");
  mts_strbuf_printf(&b, "\r\n--%s\r\n", m->boundary);
  mts_strbuf_printf(
      &b,
      "Content-Type: application/tlsrpt+gzip;\r\n name=\"%s\"\r\n"
      "Content-Transfer-Encoding: base64\r\n"
      "Content-Disposition: attachment;\r\n filename=\"%s\"\r\n\r\n",
      fname, fname);
  m_base64(&b, m->gz, m->gzlen);
  mts_strbuf_printf(&b, "\r\n--%s--\r\n", m->boundary);
  return mts_strbuf_take(&b, msg, len);
}

void mts_rpt_deliver_free(struct mts_ctx *ctx, void *p) {
  if (ctx != NULL) {
    mts_free(ctx, p);
  }
}

/* ---- sendmail ---- */

#define SM_MAX_WORDS 32

static int64_t mono_ms(void) {
  struct timespec ts;

  (void)clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_err(char *err, size_t errsize, const char *fmt, ...)
    MTS_PRINTF(3, 4);
static void set_err(char *err, size_t errsize, const char *fmt, ...) {
  va_list ap;

  if (err == NULL || errsize == 0) {
    return;
  }
  va_start(ap, fmt);
  (void)vsnprintf(err, errsize, fmt, ap);
  va_end(ap);
}

enum mts_status mts_rpt_deliver_sendmail(struct mts_ctx *ctx,
                                         const char *command, const char *from,
                                         const char *rcpt, const char *msg,
                                         size_t len, uint32_t timeout_ms,
                                         char *err, size_t errsize) {
  char *words = NULL, *tail, *argv[SM_MAX_WORDS + 5];
  size_t clen, flen;
  char out[512];
  size_t nout = 0, sent = 0, nw = 0, i;
  int sv[2] = {-1, -1}, op[2] = {-1, -1};
  int64_t deadline;
  enum mts_status st = MTS_EIO;
  pid_t pid;
  int status = 0;
  bool reaped = false, out_open = true;

  if (err != NULL && errsize > 0) {
    err[0] = '\0';
  }
  if (ctx == NULL || command == NULL || !addr_ok(from) || !addr_ok(rcpt) ||
      (msg == NULL && len > 0)) {
    return MTS_EINVAL;
  }
  /* One buffer: the command's words, then "-f\0FROM\0--\0RCPT\0". */
  clen = strlen(command);
  flen = strlen(from);
  words = mts_malloc(ctx, clen + 1 + 3 + flen + 1 + 3 + strlen(rcpt) + 1);
  if (words == NULL) {
    return MTS_ENOMEM;
  }
  memcpy(words, command, clen + 1);
  tail = words + clen + 1;
  memcpy(tail, "-f", 3);
  memcpy(tail + 3, from, flen + 1);
  memcpy(tail + 4 + flen, "--", 3);
  memcpy(tail + 7 + flen, rcpt, strlen(rcpt) + 1);
  for (i = 0; words[i] != '\0';) {
    while (words[i] == ' ' || words[i] == '\t') {
      words[i++] = '\0';
    }
    if (words[i] == '\0') {
      break;
    }
    if (nw == SM_MAX_WORDS) {
      mts_free(ctx, words);
      return MTS_EINVAL;
    }
    argv[nw++] = &words[i];
    while (words[i] != '\0' && words[i] != ' ' && words[i] != '\t') {
      i++;
    }
  }
  if (nw == 0 || argv[0][0] != '/') {
    mts_free(ctx, words);
    set_err(err, errsize, "the sendmail command must be an absolute path");
    return MTS_EINVAL;
  }
  argv[nw++] = tail;
  argv[nw++] = tail + 3;
  argv[nw++] = tail + 4 + flen;
  argv[nw++] = tail + 7 + flen;
  argv[nw] = NULL;
  deadline = mono_ms() + (timeout_ms > 0 ? timeout_ms : 60000);

  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0 || pipe(op) != 0) {
    set_err(err, errsize, "socketpair/pipe: %s", strerror(errno));
    goto done;
  }
  for (i = 0; i < 2; i++) {
    (void)fcntl(sv[i], F_SETFD, FD_CLOEXEC);
    (void)fcntl(op[i], F_SETFD, FD_CLOEXEC);
  }
  pid = fork();
  if (pid < 0) {
    set_err(err, errsize, "fork: %s", strerror(errno));
    goto done;
  }
  if (pid == 0) {
    /* Child: async-signal-safe calls only. */
    struct sigaction sa;
    sigset_t none;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    (void)sigaction(SIGPIPE, &sa, NULL);
    (void)sigemptyset(&none);
    (void)sigprocmask(SIG_SETMASK, &none, NULL);
    if (dup2(sv[1], 0) < 0 || dup2(op[1], 1) < 0 || dup2(op[1], 2) < 0) {
      _exit(127);
    }
    execv(argv[0], argv);
    _exit(127);
  }
  (void)close(sv[1]);
  sv[1] = -1;
  (void)close(op[1]);
  op[1] = -1;
  (void)fcntl(sv[0], F_SETFL, O_NONBLOCK);
  (void)fcntl(op[0], F_SETFL, O_NONBLOCK);

  /* Write the message and read what the command says, until both are
   * done or the deadline passes. */
  while (sv[0] >= 0 || out_open) {
    struct pollfd pf[2];
    int np = 0, left = (int)(deadline - mono_ms());

    if (left <= 0) {
      break;
    }
    if (sv[0] >= 0) {
      pf[np].fd = sv[0];
      pf[np].events = POLLOUT;
      pf[np].revents = 0;
      np++;
    }
    if (out_open) {
      pf[np].fd = op[0];
      pf[np].events = POLLIN;
      pf[np].revents = 0;
      np++;
    }
    if (poll(pf, (nfds_t)np, left) < 0) {
      if (errno == EINTR) {
        continue;
      }
      break;
    }
    if (sv[0] >= 0 && pf[0].revents != 0) {
      ssize_t w = len > sent ? send(sv[0], msg + sent, len - sent,
                                    MSG_NOSIGNAL | MSG_DONTWAIT)
                             : 0;

      if (w > 0) {
        sent += (size_t)w;
      }
      if (sent >= len || (w < 0 && errno != EAGAIN && errno != EINTR)) {
        (void)close(sv[0]); /* EOF for the command */
        sv[0] = -1;
      }
    }
    if (out_open) {
      struct pollfd *po = &pf[np - 1];

      if (po->revents != 0) {
        char tmp[512];
        ssize_t r = read(op[0], tmp, sizeof(tmp));

        if (r > 0) {
          size_t take = (size_t)r;

          if (take > sizeof(out) - 1 - nout) {
            take = sizeof(out) - 1 - nout;
          }
          memcpy(out + nout, tmp, take);
          nout += take;
        } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
          out_open = false;
        }
      }
    }
  }
  out[nout] = '\0';
  /* Reap, bounded. */
  for (;;) {
    pid_t w = waitpid(pid, &status, WNOHANG);

    if (w == pid) {
      reaped = true;
      break;
    }
    if (w < 0 && errno != EINTR) {
      break;
    }
    if (mono_ms() >= deadline) {
      break;
    }
    (void)poll(NULL, 0, 10);
  }
  if (!reaped) {
    (void)kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    set_err(err, errsize, "%s: timed out after %u ms (killed)", argv[0],
            (unsigned)(timeout_ms > 0 ? timeout_ms : 60000));
    st = MTS_ETIMEOUT;
    goto done;
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    st = sent >= len ? MTS_OK : MTS_EIO;
    if (st != MTS_OK) {
      set_err(err, errsize, "%s: exited before reading the message",
              argv[0]);
    }
    goto done;
  }
  {
    char *nl = strpbrk(out, "\r\n");

    if (nl != NULL) {
      *nl = '\0';
    }
    for (i = 0; out[i] != '\0'; i++) {
      if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] > 0x7e) {
        out[i] = '?';
      }
    }
    if (WIFEXITED(status)) {
      set_err(err, errsize, "%s: exit status %d%s%s", argv[0],
              WEXITSTATUS(status), out[0] != '\0' ? ": " : "", out);
    } else {
      set_err(err, errsize, "%s: killed by signal %d", argv[0],
              WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    }
  }
  st = MTS_EIO;
done:
  for (i = 0; i < 2; i++) {
    if (sv[i] >= 0) {
      (void)close(sv[i]);
    }
    if (op[i] >= 0) {
      (void)close(op[i]);
    }
  }
  mts_free(ctx, words);
  return st;
}

/* ---- HTTPS ---- */

static size_t discard_cb(char *p, size_t size, size_t n, void *arg) {
  size_t *total = arg;

  (void)p;
  *total += size * n;
  return *total > 65536 ? 0 : size * n; /* a bounded answer */
}

enum mts_status mts_rpt_deliver_https(struct mts_ctx *ctx, const char *url,
                                      const struct mts_rpt_post_options *o,
                                      const uint8_t *body, size_t len,
                                      long *status, char *err,
                                      size_t errsize) {
  CURL *c;
  struct curl_slist *hdrs = NULL, *h2;
  char ebuf[CURL_ERROR_SIZE];
  size_t got = 0;
  CURLcode rc;
  long code = 0;
  enum mts_status st;
  uint32_t tmo = o != NULL && o->timeout_ms > 0 ? o->timeout_ms : 60000;

  if (status != NULL) {
    *status = 0;
  }
  if (err != NULL && errsize > 0) {
    err[0] = '\0';
  }
  if (ctx == NULL || url == NULL || strlen(url) < 9 ||
      !ieq_n(url, "https://", 8) || (body == NULL && len > 0)) {
    return MTS_EINVAL;
  }
  c = curl_easy_init();
  if (c == NULL) {
    return MTS_ENOMEM;
  }
  hdrs = curl_slist_append(NULL, "Content-Type: application/tlsrpt+gzip");
  h2 = hdrs != NULL ? curl_slist_append(hdrs, "Expect:") : NULL;
  if (h2 == NULL) {
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    return MTS_ENOMEM;
  }
  hdrs = h2;
  ebuf[0] = '\0';
  (void)curl_easy_setopt(c, CURLOPT_URL, url);
  (void)curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
  (void)curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https");
  (void)curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  (void)curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  (void)curl_easy_setopt(c, CURLOPT_POST, 1L);
  (void)curl_easy_setopt(c, CURLOPT_POSTFIELDS, body != NULL ? (const void *)body : (const void *)"");
  (void)curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
  (void)curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
  (void)curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)tmo);
  (void)curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                         (long)(tmo < 15000 ? tmo : 15000));
  (void)curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
  (void)curl_easy_setopt(c, CURLOPT_USERAGENT,
                         o != NULL && o->user_agent != NULL ? o->user_agent
                                                            : "mtasts-tlsrpt");
  (void)curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard_cb);
  (void)curl_easy_setopt(c, CURLOPT_WRITEDATA, &got);
  (void)curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
  if (o != NULL && o->ca_file != NULL) {
    (void)curl_easy_setopt(c, CURLOPT_CAINFO, o->ca_file);
  }
  if (o != NULL && o->insecure) {
    (void)curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    (void)curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  rc = curl_easy_perform(c);
  (void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  if (status != NULL) {
    *status = code;
  }
  switch (rc) {
  case CURLE_OK:
  case CURLE_WRITE_ERROR: /* our bound on the answer body */
    if (code >= 200 && code <= 299) {
      st = MTS_OK;
    } else {
      st = MTS_EHTTP;
      set_err(err, errsize, "HTTP status %ld", code);
    }
    break;
  case CURLE_OPERATION_TIMEDOUT:
    st = MTS_ETIMEOUT;
    break;
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_CONNECT:
    st = MTS_ECONNECT;
    break;
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_ISSUER_ERROR:
    st = MTS_ETLS;
    break;
  case CURLE_OUT_OF_MEMORY:
    if (mts_net_curl_header_overflow(rc, code)) {
      st = MTS_EIO;
      (void)snprintf(ebuf, sizeof ebuf, "%s", MTS_NET_CURL_HEADER_OVERFLOW_MSG);
    } else {
      st = MTS_ENOMEM;
    }
    break;
  default:
    st = MTS_EIO;
    break;
  }
  if (st != MTS_OK && st != MTS_EHTTP) {
    set_err(err, errsize, "%s", ebuf[0] != '\0' ? ebuf : curl_easy_strerror(rc));
  }
  curl_slist_free_all(hdrs);
  curl_easy_cleanup(c);
  return st;
}

/* ---- one report to one rua ---- */

static enum mts_status write_file(const char *dir, const char *name,
                                  const void *data, size_t len, char *err,
                                  size_t errsize) {
  char path[1200];
  FILE *f;
  int n = snprintf(path, sizeof(path), "%s/%s", dir, name);

  if (n < 0 || (size_t)n >= sizeof(path)) {
    set_err(err, errsize, "dry-run path too long");
    return MTS_ETOOBIG;
  }
  f = fopen(path, "wb");
  if (f == NULL) {
    set_err(err, errsize, "%s: %s", path, strerror(errno));
    return MTS_EIO;
  }
  if (len > 0 && fwrite(data, 1, len, f) != len) {
    (void)fclose(f);
    set_err(err, errsize, "%s: write failed", path);
    return MTS_EIO;
  }
  if (fclose(f) != 0) {
    set_err(err, errsize, "%s: %s", path, strerror(errno));
    return MTS_EIO;
  }
  return MTS_OK;
}

enum mts_status mts_rpt_deliver_report(struct mts_ctx *ctx,
                                       const struct mts_rpt_deliver_config *cfg,
                                       const char *report_domain,
                                       const char *rua, const char *json,
                                       size_t len, char *err, size_t errsize) {
  struct mts_rpt_report *rep = NULL;
  const struct mts_rpt_report_data *d;
  uint8_t *gz = NULL;
  size_t gzlen = 0, i;
  char *msg = NULL;
  size_t msglen = 0;
  char rcpt[320], fname[600], mid[400], boundary[40];
  struct mts_rpt_filename fn;
  enum mts_status st;
  bool is_mail;

  if (err != NULL && errsize > 0) {
    err[0] = '\0';
  }
  if (ctx == NULL || cfg == NULL || rua == NULL || json == NULL ||
      cfg->from == NULL || !domain_ok(cfg->submitter)) {
    set_err(err, errsize, "bad arguments");
    return MTS_EINVAL;
  }
  is_mail = strlen(rua) >= 7 && ieq_n(rua, "mailto:", 7);
  if (!is_mail && !(strlen(rua) > 8 && ieq_n(rua, "https://", 8))) {
    set_err(err, errsize, "unsupported rua scheme");
    return MTS_EINVAL;
  }
  if (is_mail) {
    const char *rd;

    if (mts_rpt_deliver_mailto(rua, rcpt, sizeof(rcpt)) != MTS_OK) {
      set_err(err, errsize, "malformed mailto: URI");
      return MTS_EINVAL;
    }
    rd = mts_rpt_deliver_addr_domain(rcpt);
    for (i = 0; i < cfg->nexclude; i++) {
      if (cfg->exclude_domains[i] != NULL && ieq(rd, cfg->exclude_domains[i])) {
        set_err(err, errsize, "recipient domain %s is excluded", rd);
        return MTS_EINVAL;
      }
    }
  }
  st = mts_rpt_report_parse(ctx, (const uint8_t *)json, len, &rep);
  if (st != MTS_OK) {
    set_err(err, errsize, "report: %s", mts_status_str(st));
    return st;
  }
  if (!mts_rpt_report_usable(rep)) {
    mts_rpt_report_destroy(rep);
    set_err(err, errsize, "the stored report is not usable");
    return MTS_EINVAL;
  }
  d = mts_rpt_report_data(rep);
  st = mts_rpt_report_write_gzip(ctx, d, &gz, &gzlen);
  if (st != MTS_OK) {
    mts_rpt_report_destroy(rep);
    set_err(err, errsize, "gzip: %s", mts_status_str(st));
    return st == MTS_ENOMEM ? st : MTS_EINVAL;
  }
  memset(&fn, 0, sizeof(fn));
  (void)snprintf(fn.sender, sizeof(fn.sender), "%s", cfg->submitter);
  (void)snprintf(fn.policy_domain, sizeof(fn.policy_domain), "%s",
                 report_domain != NULL ? report_domain
                 : d->npolicies > 0 && d->policies[0].policy_domain != NULL
                     ? d->policies[0].policy_domain
                     : "");
  fn.begin = d->start;
  fn.end = d->end;
  fn.gzip = true;
  if (mts_rpt_filename_format(&fn, fname, sizeof(fname)) != MTS_OK) {
    set_err(err, errsize, "no RFC 8460 file name for this report");
    st = MTS_EINVAL;
    goto done;
  }
  if (is_mail) {
    struct mts_rpt_mail m;

    (void)snprintf(mid, sizeof(mid), "%016llx.%s",
                   (unsigned long long)cfg->rnd,
                   d->report_id != NULL ? d->report_id : "");
    (void)snprintf(boundary, sizeof(boundary), "tlsrpt-%016llx",
                   (unsigned long long)cfg->rnd);
    memset(&m, 0, sizeof(m));
    m.from = cfg->from;
    m.to = rcpt;
    m.submitter = cfg->submitter;
    m.report_domain = report_domain;
    m.message_id = mid;
    m.date = cfg->now;
    m.boundary = boundary;
    m.report = d;
    m.gz = gz;
    m.gzlen = gzlen;
    st = mts_rpt_deliver_mail_build(ctx, &m, &msg, &msglen);
    if (st != MTS_OK) {
      set_err(err, errsize, "cannot build the mail: %s%s",
              mts_status_str(st),
              st == MTS_EINVAL ? " (is the submitter contact-info's domain?)"
                               : "");
      goto done;
    }
  }
  if (cfg->dry_run_dir != NULL) {
    char extra[1000];

    st = write_file(cfg->dry_run_dir, fname, gz, gzlen, err, errsize);
    if (st == MTS_OK && is_mail) {
      (void)snprintf(extra, sizeof(extra), "%s.%s.eml", fname, rcpt);
      st = write_file(cfg->dry_run_dir, extra, msg, msglen, err, errsize);
    } else if (st == MTS_OK) {
      (void)snprintf(extra, sizeof(extra), "%s.https", fname);
      st = write_file(cfg->dry_run_dir, extra, rua, strlen(rua), err,
                      errsize);
    }
    goto done;
  }
  if (is_mail) {
    st = mts_rpt_deliver_sendmail(
        ctx, cfg->sendmail != NULL ? cfg->sendmail : "/usr/sbin/sendmail -oi",
        cfg->from, rcpt, msg, msglen, cfg->sendmail_timeout_ms, err, errsize);
    if (st == MTS_EINVAL) {
      st = MTS_EIO; /* a configuration problem: retry after fixing it */
    }
  } else {
    long status = 0;

    st = mts_rpt_deliver_https(ctx, rua, &cfg->post, gz, gzlen, &status, err,
                               errsize);
    if (st == MTS_EINVAL) {
      set_err(err, errsize, "malformed https: URI");
    }
  }
done:
  mts_free(ctx, msg);
  mts_rpt_report_write_free(ctx, gz);
  mts_rpt_report_destroy(rep);
  return st;
}

/* ---- schedule ---- */

int64_t mts_rpt_deliver_first_at(int64_t day, uint32_t window_s,
                                 uint64_t rnd) {
  return day + 86400 + (int64_t)(rnd % ((uint64_t)window_s + 1));
}

int64_t mts_rpt_deliver_next_attempt(int64_t first_at, int64_t now,
                                     uint32_t attempts, uint64_t rnd) {
  int64_t delay = MTS_RPT_RETRY_BASE, next;
  uint32_t i;

  for (i = 1; i < attempts && delay < MTS_RPT_RETRY_CAP; i++) {
    delay *= 2;
  }
  if (delay > MTS_RPT_RETRY_CAP) {
    delay = MTS_RPT_RETRY_CAP;
  }
  next = now + delay + (int64_t)(rnd % (uint64_t)(delay / 4 + 1));
  return next > first_at + MTS_RPT_RETRY_LIMIT ? 0 : next;
}

void mts_rpt_deliver_thread_done(void) {
  OPENSSL_thread_stop();
}
