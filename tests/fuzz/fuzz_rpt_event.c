/*
 * fuzz_rpt_event.c - mts_rpt_event_from_datagram() over arbitrary bytes
 * parsed as a libtlsrpt datagram.
 *
 * Invariants (abort() when broken):
 * - an unusable datagram gives MTS_EINVAL and no event; a usable one
 *   MTS_OK and exactly one event per policy;
 * - every event: source DATAGRAM, policy and report domain, TLSRPT record
 *   and session id present; a success has no failure detail; every
 *   detail has a result type and count 1.
 */
#include <stdint.h>
#include <stdlib.h>

#include <mtasts/rpt_event.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_event(const struct mts_rpt_event *ev, void *arg) {
  size_t *n = arg, i;

  if (ev->source != MTS_RPT_SRC_DATAGRAM || ev->policy_domain == NULL ||
      ev->report_domain == NULL || ev->tlsrpt_record == NULL ||
      ev->session_id == NULL || (ev->success && ev->nfailures != 0)) {
    abort();
  }
  for (i = 0; i < ev->nfailures; i++) {
    if (ev->failures[i].result_type == NULL ||
        ev->failures[i].failed_session_count != 1) {
      abort();
    }
  }
  (*n)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct mts_ctx *ctx = NULL;
  struct mts_rpt_datagram *dg = NULL;
  enum mts_status st;
  size_t n = 0;

  if (size > MTS_RPT_DATAGRAM_MAX + 16) {
    return 0;
  }
  if (mts_ctx_create(NULL, &ctx) != MTS_OK ||
      mts_rpt_datagram_parse(ctx, data, size, &dg) != MTS_OK) {
    abort();
  }
  st = mts_rpt_event_from_datagram(ctx, dg, 1772388000, on_event, &n);
  if (mts_rpt_datagram_usable(dg)
          ? (st != MTS_OK || n != mts_rpt_datagram_policy_count(dg))
          : (st != MTS_EINVAL || n != 0)) {
    abort();
  }
  mts_rpt_datagram_destroy(dg);
  mts_ctx_destroy(ctx);
  return 0;
}
