/*
 * fuzz_rpt_merge.c - mts_rpt_merge() over two reports parsed from the
 * input, split at its first NUL byte (JSON text never holds one; no NUL:
 * the whole input is both reports).
 *
 * Invariants (abort() when broken), when both parse usable:
 * - merge(a, b) and merge(a, a) succeed; merge(a, a) has exactly as
 *   many policies as merge(a) and twice its counts (unless saturated);
 * - merge(a, b) has at most a's + b's policies, every policy at most
 *   the inputs' details, and (unless saturated) the policy sums and the
 *   failed-session-count sums of both inputs;
 * - the identity and date range are a's;
 * - merging merge(a, b) alone changes nothing (same policies, details
 *   and sums: the first merge left no two policies or details equal);
 * - merge(a, b, a) with an override of the organisation and report-id
 *   (contact kept) has a's contact and date range, the override's
 *   organisation and report-id, and (unless saturated) the sums of
 *   2a + b with no more policies or details than merge(a, b);
 * - written (mts_rpt_report_write_json) it parses back usable, and
 *   valid when a and b were valid with known policy types; the writer
 *   may refuse (MTS_EINVAL) only when a or b was not valid or had an
 *   unknown policy type or no policy.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mtasts/rpt_merge.h>
#include <mtasts/rpt_report.h>
#include <mtasts/rpt_report_write.h>

#define FUZZ_MAX_INPUT (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct sums {
  uint64_t ok, bad, det;
  size_t npol, ndet;
};

static void sum(const struct mts_rpt_report_data *d, struct sums *s) {
  size_t i, j;

  for (i = 0; i < d->npolicies; i++) {
    s->ok += d->policies[i].total_successful;
    s->bad += d->policies[i].total_failure;
    for (j = 0; j < d->policies[i].nfailures; j++) {
      s->det += d->policies[i].failures[j].failed_session_count;
    }
    s->ndet += d->policies[i].nfailures;
  }
  s->npol += d->npolicies;
}

static bool known(const struct mts_rpt_report_data *d) {
  size_t i;

  for (i = 0; i < d->npolicies; i++) {
    const char *t = d->policies[i].policy_type;

    if (strcmp(t, "sts") != 0 && strcmp(t, "tlsa") != 0 &&
        strcmp(t, "no-policy-found") != 0) {
      return false;
    }
  }
  return d->npolicies > 0;
}

static bool str_eq(const char *a, const char *b) {
  return (a == NULL && b == NULL) ||
         (a != NULL && b != NULL && strcmp(a, b) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct mts_ctx *ctx = NULL;
  struct mts_rpt_report *ra = NULL, *rb = NULL, *rr = NULL;
  struct mts_rpt_merge *m1 = NULL, *m2 = NULL, *mab = NULL;
  const struct mts_rpt_report_data *a, *b, *reps[2];
  const uint8_t *sep;
  size_t alen, blen;
  const uint8_t *bdata;
  struct sums sa = {0}, sb = {0}, s1 = {0}, s2 = {0}, sab = {0};
  char *json = NULL;
  size_t jlen = 0;
  enum mts_status st;
  bool good;

  if (size > FUZZ_MAX_INPUT) {
    return 0;
  }
  sep = memchr(data, 0, size);
  if (sep != NULL) {
    alen = (size_t)(sep - data);
    bdata = sep + 1;
    blen = size - alen - 1;
  } else {
    alen = blen = size;
    bdata = data;
  }
  if (mts_ctx_create(NULL, &ctx) != MTS_OK) {
    abort();
  }
  if (mts_rpt_report_parse(ctx, data, alen, &ra) != MTS_OK ||
      mts_rpt_report_parse(ctx, bdata, blen, &rb) != MTS_OK) {
    abort();
  }
  if (!mts_rpt_report_usable(ra) || !mts_rpt_report_usable(rb)) {
    goto out;
  }
  a = mts_rpt_report_data(ra);
  b = mts_rpt_report_data(rb);
  reps[0] = a;
  reps[1] = a;
  if (mts_rpt_merge(ctx, reps, 1, NULL, &m1) != MTS_OK ||
      mts_rpt_merge(ctx, reps, 2, NULL, &m2) != MTS_OK) {
    abort();
  }
  sum(mts_rpt_merge_data(m1), &s1);
  sum(mts_rpt_merge_data(m2), &s2);
  if (s1.npol != s2.npol || s1.ndet != s2.ndet || s1.npol > a->npolicies ||
      (!mts_rpt_merge_saturated(m2) &&
       (s2.ok != 2 * s1.ok || s2.bad != 2 * s1.bad || s2.det != 2 * s1.det))) {
    abort();
  }
  reps[1] = b;
  if (mts_rpt_merge(ctx, reps, 2, NULL, &mab) != MTS_OK) {
    abort();
  }
  /* the inputs' contents stay usable; the merged data is copied */
  sum(a, &sa);
  sum(b, &sb);
  sum(mts_rpt_merge_data(mab), &sab);
  if (sab.npol > sa.npol + sb.npol || sab.ndet > sa.ndet + sb.ndet ||
      (!mts_rpt_merge_saturated(mab) &&
       (sab.ok != sa.ok + sb.ok || sab.bad != sa.bad + sb.bad ||
        sab.det != sa.det + sb.det))) {
    abort();
  }
  {
    const struct mts_rpt_report_data *d = mts_rpt_merge_data(mab);

    if (!str_eq(d->report_id, a->report_id) ||
        !str_eq(d->organization_name, a->organization_name) ||
        !str_eq(d->contact_info, a->contact_info) || d->start != a->start ||
        d->end != a->end) {
      abort();
    }
    {
      const struct mts_rpt_report_data *r3[3] = {a, b, a};
      struct mts_rpt_merge_override ovr = {"override org", NULL,
                                           b->report_id};
      struct mts_rpt_merge *again = NULL, *three = NULL;
      const struct mts_rpt_report_data *t;
      struct sums sg = {0}, s3 = {0};

      if (mts_rpt_merge(ctx, &d, 1, NULL, &again) != MTS_OK ||
          mts_rpt_merge(ctx, r3, 3, &ovr, &three) != MTS_OK) {
        abort();
      }
      sum(mts_rpt_merge_data(again), &sg);
      if (sg.npol != sab.npol || sg.ndet != sab.ndet || sg.ok != sab.ok ||
          sg.bad != sab.bad || sg.det != sab.det) {
        abort();
      }
      t = mts_rpt_merge_data(three);
      sum(t, &s3);
      if (!str_eq(t->organization_name, "override org") ||
          !str_eq(t->report_id, b->report_id) ||
          !str_eq(t->contact_info, a->contact_info) || t->start != a->start ||
          t->end != a->end || s3.npol != sab.npol || s3.ndet != sab.ndet ||
          (!mts_rpt_merge_saturated(three) &&
           (s3.ok != 2 * sa.ok + sb.ok || s3.bad != 2 * sa.bad + sb.bad ||
            s3.det != 2 * sa.det + sb.det))) {
        abort();
      }
      mts_rpt_merge_destroy(three);
      mts_rpt_merge_destroy(again);
    }
    good = mts_rpt_report_valid(ra) && mts_rpt_report_valid(rb) && known(a) &&
           known(b);
    st = mts_rpt_report_write_json(ctx, d, &json, &jlen);
    if (st == MTS_EINVAL) {
      if (good) {
        abort();
      }
    } else if (st != MTS_OK) {
      abort();
    } else {
      if (mts_rpt_report_parse(ctx, (const uint8_t *)json, jlen, &rr) !=
              MTS_OK ||
          !mts_rpt_report_usable(rr) || (good && !mts_rpt_report_valid(rr))) {
        abort();
      }
      mts_rpt_report_write_free(ctx, json);
    }
  }
out:
  mts_rpt_report_destroy(rr);
  mts_rpt_merge_destroy(mab);
  mts_rpt_merge_destroy(m2);
  mts_rpt_merge_destroy(m1);
  mts_rpt_report_destroy(rb);
  mts_rpt_report_destroy(ra);
  mts_ctx_destroy(ctx);
  return 0;
}
