/*
 * fuzz_rpt_logline.c - mts_rpt_logline_parse() over arbitrary bytes (one
 * log line, as a log follower would hand it over).
 *
 * Invariants (abort() when broken):
 * - the parse succeeds (the libc allocator does not fail);
 * - kind, trust, outcome and time kind are in range; MALFORMED has a
 *   reason; STATUS and NONFINAL have a queue id; a queue id appears on
 *   no other kind; trust is set exactly on TLS_SUMMARY;
 * - outcome FAILED only on the kinds that can fail; result_type, when
 *   set, is one of the eleven RFC 8460 4.3 strings; failure_reason has
 *   no blank and no byte outside printable ASCII;
 * - port <= 65535; time fields in range; an ISO time with offset has a
 *   UTC value consistent with its fields;
 * - the same line with "\n" appended gives the same kind and outcome.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mtasts/rpt_logline.h>

#define FUZZ_MAX_INPUT 8192

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const types[] = {
    "starttls-not-supported", "certificate-host-mismatch",
    "certificate-not-trusted", "certificate-expired", "validation-failure",
    "sts-policy-fetch-error", "sts-policy-invalid", "sts-webpki-invalid",
    "tlsa-invalid", "dnssec-invalid", "dane-required"};

static void check(const struct mts_rpt_log_event *ev) {
  size_t i;
  bool known = false;

  if (ev == NULL || ev->kind > MTS_RPT_LOG_TLSRPT ||
      ev->outcome > MTS_RPT_LOG_TLS_LOCAL ||
      ev->trust > MTS_RPT_LOG_TRUST_VERIFIED ||
      ev->time.kind > MTS_RPT_LOG_TIME_ISO8601 || ev->port > 65535) {
    abort();
  }
  if ((ev->kind == MTS_RPT_LOG_MALFORMED) != (ev->malformed != NULL)) {
    abort();
  }
  if ((ev->kind == MTS_RPT_LOG_STATUS || ev->kind == MTS_RPT_LOG_NONFINAL) &&
      ev->queue_id == NULL) {
    abort();
  }
  if (ev->queue_id != NULL && ev->kind != MTS_RPT_LOG_STATUS &&
      ev->kind != MTS_RPT_LOG_NONFINAL && ev->kind != MTS_RPT_LOG_MALFORMED) {
    abort();
  }
  if ((ev->kind == MTS_RPT_LOG_TLS_SUMMARY) !=
      (ev->trust != MTS_RPT_LOG_TRUST_NONE)) {
    if (!(ev->kind == MTS_RPT_LOG_MALFORMED)) {
      abort();
    }
  }
  if (ev->outcome == MTS_RPT_LOG_TLS_FAILED) {
    switch (ev->kind) {
    case MTS_RPT_LOG_VERIFY_FAILED:
    case MTS_RPT_LOG_SSL_CONNECT_ERROR:
    case MTS_RPT_LOG_UNTRUSTED_REUSE:
    case MTS_RPT_LOG_PROXY_HANDSHAKE_FAILED:
    case MTS_RPT_LOG_STATUS:
    case MTS_RPT_LOG_NONFINAL:
    case MTS_RPT_LOG_TLSRPT:
      break;
    default:
      abort();
    }
  } else if (ev->result_type != NULL || ev->failure_reason != NULL) {
    abort();
  }
  if (ev->result_type != NULL) {
    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
      known |= strcmp(ev->result_type, types[i]) == 0;
    }
    if (!known) {
      abort();
    }
  }
  if (ev->failure_reason != NULL) {
    for (i = 0; ev->failure_reason[i] != '\0'; i++) {
      uint8_t c = (uint8_t)ev->failure_reason[i];

      if (c <= ' ' || c >= 0x7f) {
        abort();
      }
    }
  }
  if (ev->kind == MTS_RPT_LOG_OTHER &&
      (ev->host != NULL || ev->addr != NULL ||
       ev->outcome != MTS_RPT_LOG_TLS_UNKNOWN)) {
    abort();
  }
  if (ev->time.kind != MTS_RPT_LOG_TIME_NONE) {
    const struct mts_rpt_log_time *t = &ev->time;

    if (t->month < 1 || t->month > 12 || t->day < 1 || t->day > 31 ||
        t->hour < 0 || t->hour > 23 || t->minute < 0 || t->minute > 59 ||
        t->second < 0 || t->second > 60 || t->usec < 0 || t->usec > 999999) {
      abort();
    }
    if (t->has_offset) {
      int64_t local = t->utc + (int64_t)t->offset_min * 60;
      int64_t sod = ((local % 86400) + 86400) % 86400;

      if (sod / 3600 != t->hour || (sod / 60) % 60 != t->minute) {
        abort();
      }
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct mts_ctx *ctx = NULL;
  struct mts_rpt_logline *a = NULL, *b = NULL;
  const struct mts_rpt_log_event *ea, *eb;
  uint8_t *nl;

  if (size > FUZZ_MAX_INPUT) {
    return 0;
  }
  if (mts_ctx_create(NULL, &ctx) != MTS_OK) {
    abort();
  }
  if (mts_rpt_logline_parse(ctx, data, size, &a) != MTS_OK || a == NULL) {
    abort();
  }
  ea = mts_rpt_logline_event(a);
  check(ea);
  nl = malloc(size + 1);
  if (nl == NULL) {
    abort();
  }
  if (size > 0) {
    memcpy(nl, data, size);
  }
  nl[size] = '\n';
  if (mts_rpt_logline_parse(ctx, nl, size + 1, &b) != MTS_OK) {
    abort();
  }
  eb = mts_rpt_logline_event(b);
  /* Only compare when the input did not already end a line: "x\n" and
   * "x\n\n" differ on purpose (one terminator is stripped). */
  if ((size == 0 || (data[size - 1] != '\n' && data[size - 1] != '\r')) &&
      (ea->kind != eb->kind || ea->outcome != eb->outcome)) {
    abort();
  }
  free(nl);
  mts_rpt_logline_destroy(a);
  mts_rpt_logline_destroy(b);
  mts_ctx_destroy(ctx);
  return 0;
}
