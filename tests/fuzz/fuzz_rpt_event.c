/*
 * fuzz_rpt_event.c - mts_rpt_event_from_datagram() over arbitrary bytes
 * parsed as a libtlsrpt datagram.
 *
 * Invariants (abort() when broken):
 * - an unusable datagram gives MTS_EINVAL and no event; a usable one
 *   MTS_OK and exactly one event per policy;
 * - every event: source DATAGRAM, policy and report domain, TLSRPT record
 *   and session id present; a success has no failure detail; every
 *   detail has a result type and count 1;
 * - the event's time is the receive time (which varies with the input's
 *   size); the policy domain is lower case without a trailing dot; the
 *   session id is "<time>/<report domain lower-cased, no trailing dot>/"
 *   then "-" for a success, and mts_rpt_event_session_id() gives the same
 *   id again with a buffer of exactly its size + 1, and MTS_ETOOBIG with
 *   "" with one byte less;
 * - a receiving-mx-helo is never a whole SMTP reply ("250-name x\r\n"),
 *   and an IPv6 address is in RFC 5952 text.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mtasts/rpt_event.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An IPv6 address in RFC 5952 text, or anything inet_pton does not read. */
static bool ip_canonical(const char *ip) {
  struct in6_addr in6;
  char text[INET6_ADDRSTRLEN];

  if (ip == NULL || inet_pton(AF_INET6, ip, &in6) != 1) {
    return true;
  }
  return inet_ntop(AF_INET6, &in6, text, sizeof(text)) != NULL &&
         strcmp(text, ip) == 0;
}

struct seen {
  int64_t received;
  size_t n;
};

static bool lower_no_dot(const char *d) {
  size_t i, n = strlen(d);

  for (i = 0; i < n; i++) {
    if (d[i] >= 'A' && d[i] <= 'Z') {
      return false;
    }
  }
  return n == 0 || d[n - 1] != '.';
}

static void check_session_id(const struct mts_rpt_event *ev, int64_t received) {
  char want[MTS_RPT_SESSION_ID_MAX], again[MTS_RPT_SESSION_ID_MAX];
  const char *ip;
  size_t i, n, len = strlen(ev->session_id);
  int w;

  w = snprintf(want, sizeof(want), "%" PRId64 "/", received);
  for (i = 0, n = strlen(ev->report_domain);
       i < n && (size_t)w + 1 < sizeof(want); i++) {
    char c = ev->report_domain[i];

    if (i + 1 == n && c == '.') {
      break;
    }
    want[w++] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
  }
  want[w++] = '/';
  want[w] = '\0';
  if (strncmp(ev->session_id, want, (size_t)w) != 0) {
    abort();
  }
  ip = ev->session_id + w;
  if ((ev->success && strcmp(ip, "-") != 0) || ip[0] == '\0') {
    abort();
  }
  if (mts_rpt_event_session_id(again, len + 1, ev->time, ev->report_domain,
                               ip, ev->success) != MTS_OK ||
      strcmp(again, ev->session_id) != 0 ||
      mts_rpt_event_session_id(again, len, ev->time, ev->report_domain, ip,
                               ev->success) != MTS_ETOOBIG ||
      again[0] != '\0') {
    abort();
  }
}

static void on_event(const struct mts_rpt_event *ev, void *arg) {
  struct seen *seen = arg;
  size_t i;

  if (ev->source != MTS_RPT_SRC_DATAGRAM || ev->policy_domain == NULL ||
      ev->report_domain == NULL || ev->tlsrpt_record == NULL ||
      ev->session_id == NULL || (ev->success && ev->nfailures != 0)) {
    abort();
  }
  for (i = 0; i < ev->nfailures; i++) {
    const char *h = ev->failures[i].receiving_mx_helo;

    if (h != NULL && h[0] >= '0' && h[0] <= '9' && h[1] >= '0' &&
        h[1] <= '9' && h[2] >= '0' && h[2] <= '9' &&
        (h[3] == '-' || h[3] == ' ') && strpbrk(h, " \t\r\n") != NULL) {
      abort(); /* a reply kept whole: its name should have been taken */
    }
    if (!ip_canonical(ev->failures[i].receiving_ip) ||
        !ip_canonical(ev->failures[i].sending_mta_ip)) {
      abort();
    }
    if (ev->failures[i].result_type == NULL ||
        ev->failures[i].failed_session_count != 1) {
      abort();
    }
  }
  if (ev->time != seen->received || !lower_no_dot(ev->policy_domain)) {
    abort();
  }
  check_session_id(ev, seen->received);
  seen->n++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct mts_ctx *ctx = NULL;
  struct mts_rpt_datagram *dg = NULL;
  enum mts_status st;
  struct seen seen;

  seen.received = 1772388000 + (int64_t)size * 7919;
  seen.n = 0;
  if (size > MTS_RPT_DATAGRAM_MAX + 16) {
    return 0;
  }
  if (mts_ctx_create(NULL, &ctx) != MTS_OK ||
      mts_rpt_datagram_parse(ctx, data, size, &dg) != MTS_OK) {
    abort();
  }
  st = mts_rpt_event_from_datagram(ctx, dg, seen.received, on_event, &seen);
  if (mts_rpt_datagram_usable(dg)
          ? (st != MTS_OK || seen.n != mts_rpt_datagram_policy_count(dg))
          : (st != MTS_EINVAL || seen.n != 0)) {
    abort();
  }
  mts_rpt_datagram_destroy(dg);
  mts_ctx_destroy(ctx);
  return 0;
}
