/*
 * rpt_event.c - the single event model of TLS reporting: session ids and
 * events from libtlsrpt datagrams; see mtasts/rpt_event.h.
 */
#include <mtasts/rpt_event.h>

#include <mtasts/limits.h>

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/arena_int.h"
#include "core/ascii_int.h"

enum mts_status mts_rpt_event_session_id(char *buf, size_t size, int64_t time,
                                         const char *domain,
                                         const char *receiving_ip,
                                         bool success) {
  char d[MTS_DOMAIN_MAX + 2];
  size_t n, i;
  int w;

  if (buf == NULL || domain == NULL) {
    return MTS_EINVAL;
  }
  if (size > 0) {
    buf[0] = '\0';
  }
  n = strlen(domain);
  if (n > 0 && domain[n - 1] == '.') {
    n--;
  }
  if (n >= sizeof(d)) {
    return MTS_ETOOBIG;
  }
  for (i = 0; i < n; i++) {
    d[i] = (char)mts_lower((uint8_t)domain[i]);
  }
  d[n] = '\0';
  if (success || receiving_ip == NULL || receiving_ip[0] == '\0') {
    receiving_ip = "-";
  }
  w = snprintf(buf, size, "%" PRId64 "/%s/%s", time, d, receiving_ip);
  if (w < 0 || (size_t)w >= size) {
    if (size > 0) {
      buf[0] = '\0';
    }
    return MTS_ETOOBIG;
  }
  return MTS_OK;
}

/* An IP address as RFC 8460 4.4 asks (RFC 5952 for IPv6: lower case,
 * zeros compressed): "2001:DB8:0::1" becomes "2001:db8::1". Anything
 * inet_pton() does not read stays as it is (the datagram reader checked
 * it already). NULL only when out of memory (*oom). */
static const char *ev_ip(struct mts_arena *a, const char *ip, bool *oom) {
  struct in6_addr in6;
  char text[INET6_ADDRSTRLEN];
  const char *c;

  if (ip == NULL || inet_pton(AF_INET6, ip, &in6) != 1 ||
      inet_ntop(AF_INET6, &in6, text, sizeof(text)) == NULL ||
      strcmp(text, ip) == 0) {
    return ip;
  }
  c = mts_arena_strndup(a, text, strlen(text));
  if (c == NULL) {
    *oom = true;
  }
  return c;
}

/* `receiving-mx-helo` is "the HELO/EHLO string" (RFC 8460 4.4): the name
 * the MX gave in its reply. libtlsrpt hands the whole reply, multi-line
 * and joined with CR LF ("250-mx.example.com Hello\r\n250 STARTTLS");
 * the name is the first line's first word after the reply code. Text
 * that is not a reply in that form stays as it is. */
static const char *ev_helo(struct mts_arena *a, const char *h, bool *oom) {
  size_t n;
  const char *c;

  if (h == NULL || !mts_is_digit((uint8_t)h[0]) ||
      !mts_is_digit((uint8_t)h[1]) || !mts_is_digit((uint8_t)h[2]) ||
      (h[3] != '-' && h[3] != ' ')) {
    return h;
  }
  h += 4;
  while (*h == ' ' || *h == '\t') {
    h++;
  }
  for (n = 0; h[n] != '\0' && h[n] != ' ' && h[n] != '\t' && h[n] != '\r' &&
              h[n] != '\n';
       n++) {
  }
  if (n == 0) {
    return NULL; /* a reply without a name: left out */
  }
  c = mts_arena_strndup(a, h, n);
  if (c == NULL) {
    *oom = true;
  }
  return c;
}

/* One event being built, with what it points to. */
struct ev_build {
  struct mts_rpt_event ev;
  struct mts_rpt_failure *failures;
  char id[MTS_RPT_SESSION_ID_MAX];
};

static enum mts_status build(struct mts_arena *a,
                             const struct mts_rpt_datagram *dg,
                             const struct mts_rpt_dgram_policy *p,
                             int64_t received, struct ev_build *b) {
  const char *d = mts_rpt_datagram_domain(dg);
  const char *ip = NULL;
  bool oom = false;
  size_t i;

  memset(&b->ev, 0, sizeof(b->ev));
  b->ev.source = MTS_RPT_SRC_DATAGRAM;
  b->ev.time = received;
  b->ev.policy_domain = p->domain;
  b->ev.report_domain = d;
  b->ev.policy_type = p->type;
  b->ev.policy_strings = p->strings;
  b->ev.npolicy_strings = p->nstrings;
  b->ev.mx_hosts = p->mx_hosts;
  b->ev.nmx_hosts = p->nmx_hosts;
  b->ev.tlsrpt_record = mts_rpt_datagram_policy_record(dg);
  b->ev.success = !p->failed;
  if (p->failed && p->nfailures > 0) {
    b->failures = mts_arena_alloc(a, p->nfailures * sizeof(*b->failures));
    if (b->failures == NULL) {
      return MTS_ENOMEM;
    }
    for (i = 0; i < p->nfailures; i++) {
      const struct mts_rpt_dgram_failure *f = &p->failures[i];
      struct mts_rpt_failure *o = &b->failures[i];

      memset(o, 0, sizeof(*o));
      o->result_type = f->result_type;
      o->failure_reason_code = f->failure_reason;
      if (o->result_type == NULL) {
        o->result_type = "validation-failure";
        o->failure_reason_code =
            f->failure_reason != NULL
                ? mts_arena_printf(a, "tlsrpt-code-%ld %s", f->code,
                                   f->failure_reason)
                : mts_arena_printf(a, "tlsrpt-code-%ld", f->code);
        if (o->failure_reason_code == NULL) {
          return MTS_ENOMEM;
        }
      } else if (o->failure_reason_code == NULL &&
                 (strcmp(o->result_type, "certificate-not-trusted") == 0 ||
                  strcmp(o->result_type, "validation-failure") == 0)) {
        /* RFC 8460 4.3.1: a reporter SHOULD give a reason with these
         * two; without libtlsrpt's text, its code is what there is */
        o->failure_reason_code =
            mts_arena_printf(a, "tlsrpt-code-%ld", f->code);
        if (o->failure_reason_code == NULL) {
          return MTS_ENOMEM;
        }
      }
      o->sending_mta_ip = ev_ip(a, f->sending_ip, &oom);
      o->receiving_mx_hostname = f->receiving_mx_hostname;
      o->receiving_mx_helo = ev_helo(a, f->receiving_mx_helo, &oom);
      o->receiving_ip = ev_ip(a, f->receiving_ip, &oom);
      if (oom) {
        return MTS_ENOMEM;
      }
      o->additional_information = f->additional_info;
      o->failed_session_count = 1;
      if (ip == NULL) {
        ip = o->receiving_ip;
      }
    }
    b->ev.failures = b->failures;
    b->ev.nfailures = p->nfailures;
  }
  if (mts_rpt_event_session_id(b->id, sizeof(b->id), received, d, ip,
                               b->ev.success) == MTS_OK) {
    b->ev.session_id = b->id;
  }
  return MTS_OK;
}

enum mts_status mts_rpt_event_from_datagram(struct mts_ctx *ctx,
                                            const struct mts_rpt_datagram *dg,
                                            int64_t received,
                                            mts_rpt_event_fn fn, void *arg) {
  struct mts_arena *a;
  struct ev_build *b;
  size_t n, i;
  enum mts_status st = MTS_OK;

  if (ctx == NULL || dg == NULL || fn == NULL ||
      !mts_rpt_datagram_usable(dg) || mts_rpt_datagram_domain(dg) == NULL) {
    return MTS_EINVAL;
  }
  n = mts_rpt_datagram_policy_count(dg);
  if (n == 0) {
    return MTS_EINVAL;
  }
  a = mts_arena_create(ctx);
  if (a == NULL) {
    return MTS_ENOMEM;
  }
  b = n <= SIZE_MAX / sizeof(*b) ? mts_arena_alloc(a, n * sizeof(*b)) : NULL;
  if (b == NULL) {
    st = MTS_ENOMEM;
  }
  for (i = 0; st == MTS_OK && i < n; i++) {
    st = build(a, dg, mts_rpt_datagram_policy(dg, i), received, &b[i]);
  }
  for (i = 0; st == MTS_OK && i < n; i++) {
    fn(&b[i].ev, arg);
  }
  mts_arena_destroy(a);
  return st;
}
