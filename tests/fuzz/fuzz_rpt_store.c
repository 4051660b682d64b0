/*
 * fuzz_rpt_store.c - arbitrary bytes through the parser into the report
 * store (an in-memory SQLite database), twice, then every query.
 *
 * Invariants (abort() when broken):
 * - open, add, summary, readiness and the raw listing succeed;
 * - the first add is NEW when the report is usable, else REJECTED; the
 *   second is DUPLICATE when the first was NEW, else REJECTED again;
 * - exactly two raw rows come back, with the input's bytes and length,
 *   a 64-hex-digit SHA-256, a reason exactly when rejected, and the
 *   findings as JSON text that jansson reads as an array of as many
 *   objects as the parser found;
 * - a usable report gives summary rows whose sums equal the report's
 *   policy counts (each at most 2^53, so exact), and readiness rows for
 *   each of its domains.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <mtasts/mtasts.h>

#define FUZZ_MAX_INPUT (1u << 18)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
  const uint8_t *data;
  size_t size;
  size_t nraw, nfindings;
  unsigned outcomes[2];
  uint64_t ok, failed, nsum, nready;
};

static int on_raw(const struct mts_rpt_raw_row *r, void *arg) {
  struct seen *s = arg;
  json_error_t jerr;
  json_t *j;
  size_t i;

  if (s->nraw >= 2 || r->len != s->size || r->bytes == NULL ||
      memcmp(r->bytes, s->size > 0 ? s->data : (const uint8_t *)"", s->size) !=
          0 ||
      strlen(r->sha256) != 64 ||
      (r->outcome == MTS_RPT_STORE_REJECTED) != (r->reason != NULL)) {
    abort();
  }
  for (i = 0; i < 64; i++) {
    char c = r->sha256[i];

    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      abort();
    }
  }
  j = json_loads(r->findings_json, JSON_REJECT_DUPLICATES, &jerr);
  if (j == NULL || !json_is_array(j) || json_array_size(j) != s->nfindings) {
    abort();
  }
  json_decref(j);
  s->outcomes[s->nraw++] = (unsigned)r->outcome;
  return 0;
}

static int on_summary(const struct mts_rpt_summary_row *r, void *arg) {
  struct seen *s = arg;

  s->ok += r->successful;
  s->failed += r->failed;
  s->nsum++;
  if (r->reports != 1) {
    abort();
  }
  return 0;
}

static int on_failure(const struct mts_rpt_failure_row *r, void *arg) {
  (void)arg;
  if (r->result_type == NULL || r->receiving_mx_hostname == NULL) {
    abort();
  }
  return 0;
}

static int on_ready(const struct mts_rpt_readiness *r, void *arg) {
  struct seen *s = arg;

  if (r->ready != (r->reason == NULL) || r->ready) {
    abort(); /* one sender on one day is never ready with these limits */
  }
  s->nready++;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct mts_ctx *ctx = NULL;
  struct mts_rpt_store *st = NULL;
  struct mts_rpt_report *r = NULL;
  enum mts_rpt_store_outcome o1, o2;
  struct seen s;
  bool usable;

  if (size > FUZZ_MAX_INPUT) {
    return 0;
  }
  memset(&s, 0, sizeof(s));
  s.data = data;
  s.size = size;
  if (mts_ctx_create(NULL, &ctx) != MTS_OK ||
      mts_rpt_store_open(ctx, ":memory:", &st) != MTS_OK ||
      mts_rpt_report_parse(ctx, data, size, &r) != MTS_OK) {
    abort();
  }
  usable = mts_rpt_report_usable(r);
  s.nfindings = mts_findings_count(mts_rpt_report_findings(r));
  if (mts_rpt_store_add(st, r, data, size, "fuzz", NULL, &o1) != MTS_OK ||
      mts_rpt_store_add(st, r, data, size, "fuzz", NULL, &o2) != MTS_OK) {
    abort();
  }
  if (o1 != (usable ? MTS_RPT_STORE_NEW : MTS_RPT_STORE_REJECTED) ||
      o2 != (usable ? MTS_RPT_STORE_DUPLICATE : MTS_RPT_STORE_REJECTED)) {
    abort();
  }
  if (mts_rpt_store_raw(st, 0, 0, true, on_raw, &s) != MTS_OK ||
      s.nraw != 2 || s.outcomes[0] != (unsigned)o1 ||
      s.outcomes[1] != (unsigned)o2) {
    abort();
  }
  if (mts_rpt_store_summary(st, NULL, INT64_MIN, on_summary, on_failure,
                            &s) != MTS_OK ||
      mts_rpt_store_readiness(st, NULL, 0, 1, 2, 2, on_ready, &s) !=
          MTS_OK) {
    abort();
  }
  if (usable) {
    const struct mts_rpt_report_data *d = mts_rpt_report_data(r);
    uint64_t ok = 0, failed = 0;
    size_t i;

    for (i = 0; i < d->npolicies; i++) {
      /* Stop adding once past 2^53 (no comparison then; no overflow). */
      if (ok < (UINT64_C(1) << 53)) {
        ok += d->policies[i].total_successful;
      }
      if (failed < (UINT64_C(1) << 53)) {
        failed += d->policies[i].total_failure;
      }
    }
    /* Sums of up to ~4000 policies of <= 2^53 each stay exact in a
     * double only while below 2^53: compare when they are. */
    if (ok < (UINT64_C(1) << 53) && failed < (UINT64_C(1) << 53) &&
        (s.ok != ok || s.failed != failed)) {
      abort();
    }
    if (s.nsum == 0 || s.nready == 0) {
      abort();
    }
  } else if (s.nsum != 0) {
    abort();
  }
  mts_rpt_report_destroy(r);
  mts_rpt_store_close(st);
  mts_ctx_destroy(ctx);
  return 0;
}
