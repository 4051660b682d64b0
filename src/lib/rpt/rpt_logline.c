/*
 * rpt_logline.c - classify one Postfix smtp(8)/tlsproxy(8) log line;
 * see mtasts/rpt_logline.h. Formats: TLSRPT-NOTES 2.1-2.4 (Postfix
 * 3.7.11, with the 3.9-3.11 additions of 2.7 where cheap).
 *
 * A read cursor over [p, e); every helper either consumes what it
 * matched and returns true, or leaves the cursor alone.
 */
#include <mtasts/rpt_logline.h>
#include <mtasts/utc.h>

#include <string.h>

#include "core/arena_int.h"
#include "core/ascii_int.h"

/* Cap on a failure-reason-code taken from log text. */
#define REASON_MAX 128

struct mts_rpt_logline {
  struct mts_arena *arena;
  struct mts_rpt_log_event ev;
  bool oom;
};

struct cur {
  const char *p;
  const char *e;
};

const char *mts_rpt_logline_kind_str(enum mts_rpt_log_kind kind) {
  static const char *const names[] = {
      "other",          "malformed",         "tls-summary",
      "verify-failed",  "ssl-connect-error", "tls-lib-problem",
      "untrusted-reuse", "session-lookup",   "proxy-connect",
      "proxy-disconnect", "proxy-handshake-failed", "status",
      "nonfinal",       "tlsrpt"};

  if ((size_t)kind < sizeof(names) / sizeof(names[0])) {
    return names[kind];
  }
  return "unknown";
}

/* ---- cursor helpers ---- */

static bool at(const struct cur *c, const char *lit) {
  size_t n = strlen(lit);

  return (size_t)(c->e - c->p) >= n && memcmp(c->p, lit, n) == 0;
}

static bool eat(struct cur *c, const char *lit) {
  if (!at(c, lit)) {
    return false;
  }
  c->p += strlen(lit);
  return true;
}

/* Find \p lit in [c->p, c->e); NULL when absent. */
static const char *find(const struct cur *c, const char *lit) {
  size_t n = strlen(lit);
  const char *s;

  for (s = c->p; (size_t)(c->e - s) >= n; s++) {
    if (memcmp(s, lit, n) == 0) {
      return s;
    }
  }
  return NULL;
}

/* Up to \p max decimal digits (at least \p min) as a number. */
static bool digits(struct cur *c, size_t min, size_t max, long *out) {
  const char *s = c->p;
  long v = 0;
  size_t n = 0;

  while (s < c->e && n < max && mts_is_digit((uint8_t)*s)) {
    v = v * 10 + (*s - '0');
    s++;
    n++;
  }
  if (n < min) {
    return false;
  }
  c->p = s;
  *out = v;
  return true;
}

static const char *dup(struct mts_rpt_logline *ll, const char *s, size_t n) {
  char *o = mts_arena_strndup(ll->arena, s, n);

  if (o == NULL) {
    ll->oom = true;
  }
  return o;
}

static const char *dup_range(struct mts_rpt_logline *ll, const char *s,
                             const char *e) {
  return dup(ll, s, (size_t)(e - s));
}

static const char *dup_lower(struct mts_rpt_logline *ll, const char *s,
                             size_t n) {
  char *o = mts_arena_strndup(ll->arena, s, n);
  size_t i;

  if (o == NULL) {
    ll->oom = true;
    return NULL;
  }
  for (i = 0; i < n; i++) {
    o[i] = (char)mts_lower((uint8_t)o[i]);
  }
  return o;
}

/* A failure-reason-code from free text: blanks become "_" (as Postfix
 * 3.10 does with OpenSSL texts), other non-printables are dropped, at
 * most REASON_MAX bytes. */
static const char *reason(struct mts_rpt_logline *ll, const char *s,
                          size_t n) {
  char buf[REASON_MAX + 1];
  size_t i, j = 0;

  for (i = 0; i < n && j < REASON_MAX; i++) {
    uint8_t c = (uint8_t)s[i];

    if (c == ' ') {
      buf[j++] = '_';
    } else if (c > ' ' && c < 0x7f) {
      buf[j++] = (char)c;
    }
  }
  return dup(ll, buf, j);
}

/* ---- time stamps ---- */

static bool leap(long y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int mdays(long y, long m) {
  static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

  return (m == 2 && leap(y)) ? 29 : d[m - 1];
}

/* "hh:mm:ss[.frac]" */
static bool hms(struct cur *c, struct mts_rpt_log_time *t) {
  struct cur s = *c;
  long h, mi, se, f = 0;
  size_t nf = 0;

  if (!digits(&s, 2, 2, &h) || !eat(&s, ":") || !digits(&s, 2, 2, &mi) ||
      !eat(&s, ":") || !digits(&s, 2, 2, &se)) {
    return false;
  }
  if (h > 23 || mi > 59 || se > 60) {
    return false;
  }
  if (eat(&s, ".")) {
    while (s.p < s.e && mts_is_digit((uint8_t)*s.p)) {
      if (nf < 6) {
        f = f * 10 + (*s.p - '0');
      }
      nf++;
      s.p++;
    }
    if (nf == 0) {
      return false;
    }
    for (; nf < 6; nf++) {
      f *= 10;
    }
  }
  t->hour = (int)h;
  t->minute = (int)mi;
  t->second = (int)se;
  t->usec = f;
  *c = s;
  return true;
}

static bool time_rfc3164(struct cur *c, struct mts_rpt_log_time *t) {
  static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
  struct cur s = *c;
  long m, d;

  if (s.e - s.p < 15) {
    return false;
  }
  for (m = 0; m < 12; m++) {
    if (memcmp(s.p, months + 3 * m, 3) == 0) {
      break;
    }
  }
  if (m == 12 || s.p[3] != ' ') {
    return false;
  }
  s.p += 4;
  if (*s.p == ' ') { /* "Mar  1" */
    s.p++;
    if (!digits(&s, 1, 1, &d)) {
      return false;
    }
  } else if (!digits(&s, 1, 2, &d)) {
    return false;
  }
  if (d < 1 || d > mdays(2000, m + 1) || !eat(&s, " ") || !hms(&s, t) ||
      !eat(&s, " ")) {
    return false;
  }
  t->kind = MTS_RPT_LOG_TIME_RFC3164;
  t->month = (int)m + 1;
  t->day = (int)d;
  *c = s;
  return true;
}

static bool time_iso(struct cur *c, struct mts_rpt_log_time *t) {
  struct cur s = *c;
  long y, m, d, oh = 0, om = 0;
  int sign = 1;

  if (!digits(&s, 4, 4, &y) || !eat(&s, "-") || !digits(&s, 2, 2, &m) ||
      !eat(&s, "-") || !digits(&s, 2, 2, &d) ||
      !(eat(&s, "T") || eat(&s, "t")) || !hms(&s, t)) {
    return false;
  }
  if (m < 1 || m > 12 || d < 1 || d > mdays(y, m)) {
    return false;
  }
  t->has_offset = false;
  if (eat(&s, "Z") || eat(&s, "z")) {
    t->has_offset = true;
  } else if (at(&s, "+") || at(&s, "-")) {
    sign = *s.p == '-' ? -1 : 1;
    s.p++;
    if (!digits(&s, 2, 2, &oh)) {
      return false;
    }
    (void)eat(&s, ":");
    if (!digits(&s, 2, 2, &om) || oh > 23 || om > 59) {
      return false;
    }
    t->has_offset = true;
  }
  if (!eat(&s, " ")) {
    return false;
  }
  t->kind = MTS_RPT_LOG_TIME_ISO8601;
  t->year = (int)y;
  t->month = (int)m;
  t->day = (int)d;
  t->offset_min = sign * (int)(oh * 60 + om);
  if (t->has_offset) {
    t->utc = mts_utc_days_from_civil(y, (unsigned)m, (unsigned)d) * 86400 + t->hour * 3600 +
             t->minute * 60 + (t->second > 59 ? 59 : t->second) -
             (int64_t)t->offset_min * 60;
  }
  *c = s;
  return true;
}

/* ---- the tag "<syslog_name>/<program>[pid]: " ---- */

static bool tag(struct mts_rpt_logline *ll, struct cur *c) {
  struct cur s = *c;
  const char *start = s.p, *lb = NULL, *slash = NULL;
  long pid;

  while (s.p < s.e && *s.p != ' ' && *s.p != '[') {
    if (*s.p == '/') {
      slash = s.p;
    }
    s.p++;
  }
  if (s.p == start || s.p >= s.e || *s.p != '[') {
    return false;
  }
  lb = s.p++;
  if (!digits(&s, 1, 10, &pid) || !eat(&s, "]: ")) {
    return false;
  }
  if (slash != NULL) {
    ll->ev.syslog_name = dup_range(ll, start, slash);
    ll->ev.program = dup_range(ll, slash + 1, lb);
  } else {
    ll->ev.program = dup_range(ll, start, lb);
  }
  ll->ev.pid = pid;
  *c = s;
  return true;
}

static bool prefix(struct mts_rpt_logline *ll, struct cur *c) {
  struct cur s = *c;
  const char *h;

  if (!time_rfc3164(&s, &ll->ev.time)) {
    memset(&ll->ev.time, 0, sizeof(ll->ev.time));
    if (!time_iso(&s, &ll->ev.time)) {
      memset(&ll->ev.time, 0, sizeof(ll->ev.time));
    }
  }
  if (tag(ll, &s)) {
    *c = s;
    return true;
  }
  if (ll->ev.time.kind == MTS_RPT_LOG_TIME_NONE) {
    return false; /* a host name needs a time stamp before it */
  }
  h = s.p;
  while (s.p < s.e && *s.p != ' ') {
    s.p++;
  }
  if (s.p == h || !eat(&s, " ")) {
    return false;
  }
  ll->ev.hostname = dup_range(ll, h, s.p - 1);
  if (!tag(ll, &s)) {
    return false;
  }
  *c = s;
  return true;
}

/* ---- H[A]:P ---- */

/* "H[A]" with optional ":P"; \p need_host false accepts "[A]:P". */
static bool namaddr(struct mts_rpt_logline *ll, struct cur *c, bool need_host) {
  struct cur s = *c;
  const char *h = s.p, *a;
  long port = 0;

  while (s.p < s.e && *s.p != '[' && *s.p != ' ' && *s.p != ']') {
    s.p++;
  }
  if ((need_host && s.p == h) || !eat(&s, "[")) {
    return false;
  }
  a = s.p;
  while (s.p < s.e && *s.p != ']' && *s.p != ' ' && *s.p != '[') {
    s.p++;
  }
  if (s.p == a || !at(&s, "]")) {
    return false;
  }
  if (s.p > h + 0 && a - 1 > h) {
    ll->ev.host = dup_range(ll, h, a - 1);
  }
  ll->ev.addr = dup_range(ll, a, s.p);
  s.p++;
  if (at(&s, ":") && s.e - s.p > 1 && mts_is_digit((uint8_t)s.p[1])) {
    s.p++;
    if (!digits(&s, 1, 5, &port) || port > 65535) {
      return false;
    }
  }
  ll->ev.port = (unsigned)port;
  *c = s;
  return true;
}

static void fail(struct mts_rpt_logline *ll, const char *type,
                 const char *why, size_t whylen, bool provisional) {
  ll->ev.outcome = MTS_RPT_LOG_TLS_FAILED;
  ll->ev.result_type = type;
  ll->ev.failure_reason = why != NULL ? reason(ll, why, whylen) : NULL;
  ll->ev.provisional = provisional;
}

static void malformed(struct mts_rpt_logline *ll, const char *why) {
  ll->ev.kind = MTS_RPT_LOG_MALFORMED;
  ll->ev.malformed = why;
  ll->ev.outcome = MTS_RPT_LOG_TLS_UNKNOWN;
  ll->ev.result_type = NULL;
  ll->ev.failure_reason = NULL;
}

/* ---- message texts ---- */

static const char *const trust_words[] = {"Anonymous", "Untrusted", "Trusted",
                                          "Verified"};

static bool summary(struct mts_rpt_logline *ll, struct cur *c) {
  struct cur s = *c;
  size_t i;
  const char *w;

  for (i = 0; i < 4; i++) {
    if (eat(&s, trust_words[i]) && eat(&s, " TLS connection ")) {
      break;
    }
    s = *c;
  }
  if (i == 4) {
    return false;
  }
  ll->ev.kind = MTS_RPT_LOG_TLS_SUMMARY;
  ll->ev.trust = (enum mts_rpt_log_trust)(i + 1);
  if (eat(&s, "reused ")) {
    ll->ev.reused = true;
  } else if (!eat(&s, "established ")) {
    malformed(ll, "summary: neither established nor reused");
    return true;
  }
  if (!eat(&s, "to ") || !namaddr(ll, &s, true) || !eat(&s, ": ")) {
    malformed(ll, "summary: bad peer");
    return true;
  }
  w = s.p;
  while (s.p < s.e && *s.p != ' ') {
    s.p++;
  }
  ll->ev.protocol = dup_range(ll, w, s.p);
  if (eat(&s, " with cipher ")) {
    w = s.p;
    while (s.p < s.e && *s.p != ' ') {
      s.p++;
    }
    ll->ev.cipher = dup_range(ll, w, s.p);
  }
  ll->ev.outcome = i == 3 ? MTS_RPT_LOG_TLS_OK : MTS_RPT_LOG_TLS_UNVERIFIED;
  return true;
}

/* TLSRPT-NOTES 2.3 verification table and 4 item 10. */
static void verify_reason(struct mts_rpt_logline *ll, const char *r,
                          size_t n) {
  struct cur s = {r, r + n};
  long num;

  if (eat(&s, "num=")) {
    if (!digits(&s, 1, 4, &num) || !eat(&s, ":")) {
      fail(ll, "validation-failure", r, n, false);
      return;
    }
    if (num == 62) {
      fail(ll, "certificate-host-mismatch", NULL, 0, false);
    } else if (num == 10 || num == 14) {
      fail(ll, "certificate-expired", NULL, 0, false);
    } else if (num == 18 || num == 19 || num == 20 || num == 27) {
      fail(ll, "certificate-not-trusted", s.p, (size_t)(s.e - s.p), false);
    } else {
      fail(ll, "validation-failure", s.p, (size_t)(s.e - s.p), false);
    }
  } else if (at(&s, "certificate has expired")) {
    fail(ll, "certificate-expired", NULL, 0, false);
  } else if (at(&s, "certificate not yet valid")) {
    fail(ll, "validation-failure", "certificate is not yet valid", 28, false);
  } else if (at(&s, "self-signed certificate") ||
             at(&s, "self signed certificate")) {
    fail(ll, "certificate-not-trusted", "self-signed certificate", 23, false);
  } else if (at(&s, "untrusted issuer")) {
    /* X509 errors 19 and 20 look the same (TLSRPT-NOTES 2.6). */
    fail(ll, "certificate-not-trusted", "untrusted issuer", 16, false);
  } else if (at(&s, "not trusted by local or TLSA policy")) {
    fail(ll, "certificate-not-trusted", "certificate not trusted", 23, false);
  } else if (at(&s, "not designated for use as a server certificate")) {
    fail(ll, "validation-failure", "unsuitable certificate purpose", 30,
         false);
  } else if (at(&s, "certificate chain longer than limit")) {
    fail(ll, "validation-failure", "certificate chain too long", 26, false);
  } else {
    fail(ll, "validation-failure", r, n, false);
  }
}

static bool verify_failed(struct mts_rpt_logline *ll, struct cur *c) {
  struct cur s = *c;
  const char *k = find(&s, "certificate verification failed for ");
  const char *w;

  if (k == NULL) {
    return false;
  }
  /* at most one word before it: "server", "CA", "TLSA" */
  for (w = s.p; w < k; w++) {
    if (*w == ' ' && w + 1 != k) {
      return false;
    }
  }
  if (k != s.p && k[-1] != ' ') {
    return false;
  }
  ll->ev.kind = MTS_RPT_LOG_VERIFY_FAILED;
  s.p = k + strlen("certificate verification failed for ");
  if (!namaddr(ll, &s, true) || !eat(&s, ": ")) {
    malformed(ll, "verification failure: bad peer");
    return true;
  }
  ll->ev.text = dup_range(ll, s.p, s.e);
  verify_reason(ll, s.p, (size_t)(s.e - s.p));
  return true;
}

/* Texts of delivery status and non-final lines (TLSRPT-NOTES 2.3). */
static void status_text(struct mts_rpt_logline *ll, const char *t, size_t n,
                        bool take_host) {
  struct cur s = {t, t + n};
  const char *h = ll->ev.host, *a = ll->ev.addr;
  unsigned p = ll->ev.port;

  if (eat(&s, "TLS is required, but was not offered by host ")) {
    if (take_host && !namaddr(ll, &s, true)) {
      malformed(ll, "STARTTLS not offered: bad host");
      return;
    }
    fail(ll, "starttls-not-supported", NULL, 0, false);
  } else if (eat(&s, "TLS is required, but host ")) {
    const char *r = find(&s, " refused to start TLS");

    if (r == NULL) {
      return; /* some other text */
    }
    if (take_host && !namaddr(ll, &s, true)) {
      malformed(ll, "STARTTLS refused: bad host");
      return;
    }
    s.p = r + strlen(" refused to start TLS");
    if (eat(&s, ": ")) {
      ll->ev.detail = dup_range(ll, s.p, s.e);
    }
    fail(ll, "starttls-not-supported", NULL, 0, false);
  } else if (at(&s, "TLS is required, but our TLS engine is unavailable") ||
             at(&s, "TLS is required, but unavailable")) {
    ll->ev.outcome = MTS_RPT_LOG_TLS_LOCAL;
  } else if (at(&s, "Cannot start TLS: handshake failure")) {
    fail(ll, "validation-failure", "tls-handshake-failure", 21, false);
  } else if (at(&s, "Server certificate not verified")) {
    fail(ll, "certificate-not-trusted", NULL, 0, true);
  }
  if (!take_host) {
    ll->ev.host = h;
    ll->ev.addr = a;
    ll->ev.port = p;
  }
}

/* Postfix queue ids: short = upper-case hex; long (enable_long_queue_ids)
 * = base-52 time, "z", base-52 inode, where base 52 has no vowels and no
 * "z" (global/mail_queue.h). */
static bool long_qid_char(uint8_t c) {
  return mts_is_digit(c) ||
         (mts_is_alpha(c) && strchr("AEIOUaeiouz", c) == NULL);
}

static bool queue_id(struct cur *c, const char **qs, size_t *qn) {
  const char *s = c->p, *e;
  bool hex = true, lng = true;
  size_t z = 0, n;

  for (e = s; e < c->e && mts_is_alnum((uint8_t)*e); e++) {
    uint8_t ch = (uint8_t)*e;

    if (!mts_is_digit(ch) && !(ch >= 'A' && ch <= 'F')) {
      hex = false;
    }
    if (ch == 'z') {
      z++;
    } else if (!long_qid_char(ch)) {
      lng = false;
    }
  }
  n = (size_t)(e - s);
  if (n < 5 || n > 32 || (size_t)(c->e - e) < 2 || e[0] != ':' ||
      e[1] != ' ') {
    return false;
  }
  if (!hex && !(lng && z == 1 && s[0] != 'z' && e[-1] != 'z')) {
    return false;
  }
  *qs = s;
  *qn = n;
  c->p = e + 2;
  return true;
}

/* "to=<r>, [orig_to=<o>, ]relay=R, [conn_use=N, ]delay=.., delays=..,
 * [tls=.., ]dsn=X, status=S (text)" (global/log_adhoc.c). */
static void status_line(struct mts_rpt_logline *ll, struct cur *s) {
  const char *r, *at_sign = NULL, *q;
  long n;

  ll->ev.kind = MTS_RPT_LOG_STATUS;
  if (!eat(s, "to=<") || (r = find(s, ">, ")) == NULL) {
    malformed(ll, "status: bad to=<>");
    return;
  }
  ll->ev.recipient = dup_range(ll, s->p, r);
  for (q = s->p; q < r; q++) {
    if (*q == '@') {
      at_sign = q;
    }
  }
  if (at_sign != NULL && at_sign + 1 < r) {
    size_t dl = (size_t)(r - at_sign - 1);

    if (at_sign[dl] == '.') {
      dl--;
    }
    ll->ev.recipient_domain = dup_lower(ll, at_sign + 1, dl);
  }
  s->p = r + 3;
  while (s->p < s->e && !at(s, "status=")) {
    const char *end = find(s, ", ");

    if (end == NULL) {
      malformed(ll, "status: no status=");
      return;
    }
    if (eat(s, "relay=")) {
      struct cur v = {s->p, end};

      if (at(&v, "none") && v.e - v.p == 4) {
        /* no host */
      } else if (!namaddr(ll, &v, true) || v.p != end) {
        ll->ev.host = dup_range(ll, s->p, end);
      }
    } else if (eat(s, "conn_use=")) {
      if (!digits(s, 1, 9, &n) || s->p != end) {
        malformed(ll, "status: bad conn_use=");
        return;
      }
      ll->ev.conn_use = n;
    } else if (eat(s, "dsn=")) {
      ll->ev.dsn = dup_range(ll, s->p, end);
    } else if (eat(s, "tls=")) {
      ll->ev.tls_features = dup_range(ll, s->p, end);
    }
    s->p = end + 2;
  }
  if (!eat(s, "status=")) {
    malformed(ll, "status: no status=");
    return;
  }
  q = s->p;
  while (s->p < s->e && *s->p != ' ') {
    s->p++;
  }
  if (s->p == q) {
    malformed(ll, "status: empty status");
    return;
  }
  ll->ev.status = dup_range(ll, q, s->p);
  if (eat(s, " (") && s->e > s->p && s->e[-1] == ')') {
    ll->ev.text = dup_range(ll, s->p, s->e - 1);
    status_text(ll, s->p, (size_t)(s->e - 1 - s->p), false);
  }
}

/* 3.10+ "TLSRPT: status=..., domain=D, receiving_mx=H[A][, failure_type=T
 * [, failure_reason=R]]" (TLSRPT-NOTES 1.5). */
static void tlsrpt_line(struct mts_rpt_logline *ll, struct cur *s) {
  bool ok;
  const char *d, *t;
  char type[64];
  size_t i, n;
  static const char *const known[] = {
      "starttls-not-supported", "certificate-host-mismatch",
      "certificate-not-trusted", "certificate-expired", "validation-failure",
      "sts-policy-fetch-error", "sts-policy-invalid", "sts-webpki-invalid",
      "tlsa-invalid", "dnssec-invalid", "dane-required"};

  ll->ev.kind = MTS_RPT_LOG_TLSRPT;
  if (eat(s, "status=success, domain=")) {
    ok = true;
  } else if (eat(s, "status=failure, domain=")) {
    ok = false;
  } else {
    malformed(ll, "TLSRPT: bad status");
    return;
  }
  d = s->p;
  if ((t = find(s, ", receiving_mx=")) == NULL) {
    malformed(ll, "TLSRPT: no receiving_mx");
    return;
  }
  ll->ev.nexthop = dup_lower(ll, d, (size_t)(t - d));
  s->p = t + strlen(", receiving_mx=");
  if (!namaddr(ll, s, false)) {
    malformed(ll, "TLSRPT: bad receiving_mx");
    return;
  }
  if (ok) {
    ll->ev.outcome = MTS_RPT_LOG_TLS_OK;
    return;
  }
  if (!eat(s, ", failure_type=")) {
    malformed(ll, "TLSRPT: failure without failure_type");
    return;
  }
  t = s->p;
  while (s->p < s->e && *s->p != ',') {
    s->p++;
  }
  n = (size_t)(s->p - t);
  if (n >= sizeof(type)) {
    n = sizeof(type) - 1;
  }
  for (i = 0; i < n; i++) {
    type[i] = t[i] == '_' ? '-' : t[i];
  }
  type[n] = '\0';
  fail(ll, NULL, NULL, 0, false);
  for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
    if (strcmp(type, known[i]) == 0) {
      ll->ev.result_type = known[i];
    }
  }
  if (eat(s, ", failure_reason=")) {
    ll->ev.failure_reason = reason(ll, s->p, (size_t)(s->e - s->p));
  }
}

/* "looking for session smtp&<nexthop>&<host>&<addr>&... in smtp cache"
 * (smtp/smtp_key.c; fields are joined with "&"). */
static void session_lookup(struct mts_rpt_logline *ll, struct cur *s) {
  const char *end = find(s, " in smtp cache"), *f[4];
  size_t nf = 0;
  const char *q;

  ll->ev.kind = MTS_RPT_LOG_SESSION_LOOKUP;
  if (end == NULL) {
    malformed(ll, "session lookup: no \"in smtp cache\"");
    return;
  }
  f[0] = s->p;
  nf = 1;
  for (q = s->p; q < end && nf < 4; q++) {
    if (*q == '&') {
      f[nf++] = q + 1;
    }
  }
  if (nf < 4 || memchr(f[3], '&', (size_t)(end - f[3])) == NULL) {
    malformed(ll, "session lookup: fewer than 5 fields");
    return;
  }
  ll->ev.nexthop = dup_lower(ll, f[1], (size_t)(f[2] - 1 - f[1]));
  ll->ev.host = dup_range(ll, f[2], f[3] - 1);
  ll->ev.addr = dup(ll, f[3], (size_t)((const char *)memchr(
                                           f[3], '&', (size_t)(end - f[3])) -
                                       f[3]));
}

static void smtp_message(struct mts_rpt_logline *ll, struct cur *s) {
  const char *qs;
  size_t qn;
  struct cur t;

  if (summary(ll, s) || verify_failed(ll, s)) {
    return;
  }
  if (eat(s, "SSL_connect error to ")) {
    ll->ev.kind = MTS_RPT_LOG_SSL_CONNECT_ERROR;
    if (!namaddr(ll, s, true) || !eat(s, ": ")) {
      malformed(ll, "SSL_connect error: bad peer");
      return;
    }
    ll->ev.text = dup_range(ll, s->p, s->e);
    fail(ll, "validation-failure", "tls-handshake-failure", 21, false);
    return;
  }
  if (eat(s, "warning: TLS library problem: ")) {
    /* error:0A00010B:SSL routines::wrong version number:file:line: */
    const char *q = s->p, *f[5];
    size_t nf = 0;

    ll->ev.kind = MTS_RPT_LOG_TLS_LIB_PROBLEM;
    ll->ev.text = dup_range(ll, s->p, s->e);
    for (; q < s->e && nf < 5; q++) {
      if (*q == ':') {
        f[nf++] = q;
      }
    }
    if (nf == 5) {
      ll->ev.detail = dup_range(ll, f[3] + 1, f[4]);
    }
    return;
  }
  if (eat(s, "looking for session ")) {
    session_lookup(ll, s);
    return;
  }
  if (eat(s, "TLSRPT: ")) {
    tlsrpt_line(ll, s);
    return;
  }
  if (eat(s, "CONNECT to ")) {
    ll->ev.kind = MTS_RPT_LOG_PROXY_CONNECT;
    if (!namaddr(ll, s, false)) {
      malformed(ll, "CONNECT: bad peer");
    }
    return;
  }
  if (eat(s, "DISCONNECT ")) {
    ll->ev.kind = MTS_RPT_LOG_PROXY_DISCONNECT;
    if (!namaddr(ll, s, false)) {
      malformed(ll, "DISCONNECT: bad peer");
    }
    return;
  }
  if (eat(s, "TLS handshake failed for service=")) {
    const char *p = find(s, " peer=");

    ll->ev.kind = MTS_RPT_LOG_PROXY_HANDSHAKE_FAILED;
    if (p == NULL) {
      malformed(ll, "tlsproxy handshake failure: no peer");
      return;
    }
    s->p = p + 6;
    if (!namaddr(ll, s, false)) {
      malformed(ll, "tlsproxy handshake failure: bad peer");
      return;
    }
    fail(ll, "validation-failure", "tls-handshake-failure", 21, false);
    return;
  }
  t = *s;
  if (namaddr(ll, &t, true) && eat(&t, ": re-using session with untrusted ")) {
    ll->ev.kind = MTS_RPT_LOG_UNTRUSTED_REUSE;
    /* Postfix 3.10 reports this as a generic 203 (TLSRPT-NOTES 1.5). */
    fail(ll, "certificate-not-trusted", NULL, 0, false);
    return;
  }
  ll->ev.host = NULL;
  ll->ev.addr = NULL;
  ll->ev.port = 0;
  if (queue_id(s, &qs, &qn)) {
    ll->ev.queue_id = dup(ll, qs, qn);
    if (at(s, "to=")) {
      status_line(ll, s);
      return;
    }
    ll->ev.kind = MTS_RPT_LOG_NONFINAL;
    ll->ev.text = dup_range(ll, s->p, s->e);
    status_text(ll, s->p, (size_t)(s->e - s->p), true);
  }
}

enum mts_status mts_rpt_logline_parse(struct mts_ctx *ctx, const uint8_t *line,
                                      size_t len,
                                      struct mts_rpt_logline **out) {
  struct mts_arena *arena = NULL;
  struct mts_rpt_logline *ll;
  struct cur c;

  if (out != NULL) {
    *out = NULL;
  }
  if (ctx == NULL || out == NULL || (line == NULL && len > 0)) {
    return MTS_EINVAL;
  }
  ll = mts_arena_create_object(ctx, sizeof(*ll), &arena);
  if (ll == NULL) {
    return MTS_ENOMEM;
  }
  ll->arena = arena;
  ll->ev.pid = -1;
  if (len > MTS_RPT_LOGLINE_MAX) {
    malformed(ll, "line too long");
    goto done;
  }
  if (len > 0 && memchr(line, '\0', len) != NULL) {
    malformed(ll, "NUL byte in the line");
    goto done;
  }
  c.p = (const char *)line;
  c.e = c.p + len;
  if (c.e > c.p && c.e[-1] == '\n') {
    c.e--;
  }
  if (c.e > c.p && c.e[-1] == '\r') {
    c.e--;
  }
  if (len == 0 || !prefix(ll, &c) || ll->ev.program == NULL) {
    goto done;
  }
  if (strcmp(ll->ev.program, "smtp") == 0 ||
      strcmp(ll->ev.program, "tlsproxy") == 0) {
    smtp_message(ll, &c);
  }
  if (ll->ev.kind == MTS_RPT_LOG_OTHER) {
    /* nothing for TLS reporting: no peer fields either */
    ll->ev.host = NULL;
    ll->ev.addr = NULL;
    ll->ev.port = 0;
    ll->ev.outcome = MTS_RPT_LOG_TLS_UNKNOWN;
  }
done:
  if (ll->oom) {
    mts_arena_destroy(arena);
    return MTS_ENOMEM;
  }
  *out = ll;
  return MTS_OK;
}

void mts_rpt_logline_destroy(struct mts_rpt_logline *ll) {
  if (ll != NULL) {
    mts_arena_destroy(ll->arena);
  }
}

const struct mts_rpt_log_event *
mts_rpt_logline_event(const struct mts_rpt_logline *ll) {
  return ll != NULL ? &ll->ev : NULL;
}
