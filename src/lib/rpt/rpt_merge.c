/*
 * rpt_merge.c - merge RFC 8460 reports of several hosts; see
 * mtasts/rpt_merge.h.
 *
 * Two passes. Pass 1 maps every input policy to a merged policy
 * through an open-addressing hash table (FNV-1a over the policy key)
 * and sums each merged policy's detail count, so pass 2 can give every
 * merged policy an arena array of the right size (the arena cannot
 * grow an allocation). Pass 2 maps every input detail through a second
 * table keyed by (merged policy, detail fields). The tables are
 * temporary (context allocator, freed before return); the result lives
 * in one arena.
 */
#include <mtasts/rpt_merge.h>

#include <string.h>

#include "core/arena_int.h"

struct mts_rpt_merge {
  struct mts_arena *arena;
  struct mts_rpt_report_data data;
  bool saturated;
  bool oom;
};

/* ---- hashing ---- */

#define FNV_OFF UINT64_C(14695981039346656037)
#define FNV_PRIME UINT64_C(1099511628211)

static uint64_t h_bytes(uint64_t h, const void *p, size_t n) {
  const uint8_t *b = p;
  size_t i;

  for (i = 0; i < n; i++) {
    h = (h ^ b[i]) * FNV_PRIME;
  }
  return h;
}

/* A string with its terminator; NULL hashes differently from "". */
static uint64_t h_str(uint64_t h, const char *s) {
  static const uint8_t null_mark[2] = {0xFF, 0xFE};

  if (s == NULL) {
    return h_bytes(h, null_mark, sizeof(null_mark));
  }
  return h_bytes(h, s, strlen(s) + 1);
}

static uint64_t h_size(uint64_t h, size_t n) {
  uint64_t v = (uint64_t)n;

  return h_bytes(h, &v, sizeof(v));
}

static bool str_eq(const char *a, const char *b) {
  return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static bool strs_eq(const char *const *a, size_t na, const char *const *b,
                    size_t nb) {
  size_t i;

  if (na != nb) {
    return false;
  }
  for (i = 0; i < na; i++) {
    if (!str_eq(a[i], b[i])) {
      return false;
    }
  }
  return true;
}

static uint64_t policy_hash(const struct mts_rpt_policy *p) {
  uint64_t h = FNV_OFF;
  size_t i;

  h = h_str(h, p->policy_type);
  h = h_str(h, p->policy_domain);
  h = h_size(h, p->npolicy_strings);
  for (i = 0; i < p->npolicy_strings; i++) {
    h = h_str(h, p->policy_strings[i]);
  }
  h = h_size(h, p->nmx_hosts);
  for (i = 0; i < p->nmx_hosts; i++) {
    h = h_str(h, p->mx_hosts[i]);
  }
  return h;
}

static bool policy_eq(const struct mts_rpt_policy *a,
                      const struct mts_rpt_policy *b) {
  return str_eq(a->policy_type, b->policy_type) &&
         str_eq(a->policy_domain, b->policy_domain) &&
         strs_eq(a->policy_strings, a->npolicy_strings, b->policy_strings,
                 b->npolicy_strings) &&
         strs_eq(a->mx_hosts, a->nmx_hosts, b->mx_hosts, b->nmx_hosts);
}

static uint64_t failure_hash(size_t pol, const struct mts_rpt_failure *f) {
  uint64_t h = h_size(FNV_OFF, pol);

  h = h_str(h, f->result_type);
  h = h_str(h, f->sending_mta_ip);
  h = h_str(h, f->receiving_mx_hostname);
  h = h_str(h, f->receiving_mx_helo);
  h = h_str(h, f->receiving_ip);
  h = h_str(h, f->additional_information);
  return h_str(h, f->failure_reason_code);
}

static bool failure_eq(const struct mts_rpt_failure *a,
                       const struct mts_rpt_failure *b) {
  return str_eq(a->result_type, b->result_type) &&
         str_eq(a->sending_mta_ip, b->sending_mta_ip) &&
         str_eq(a->receiving_mx_hostname, b->receiving_mx_hostname) &&
         str_eq(a->receiving_mx_helo, b->receiving_mx_helo) &&
         str_eq(a->receiving_ip, b->receiving_ip) &&
         str_eq(a->additional_information, b->additional_information) &&
         str_eq(a->failure_reason_code, b->failure_reason_code);
}

/* Slots for n keys: a power of two >= 2n (>= 8); 0 on overflow. */
static size_t table_size(size_t n) {
  size_t s = 8;

  while (s / 2 < n) {
    if (s > SIZE_MAX / 4) {
      return 0;
    }
    s *= 2;
  }
  return s;
}

/* ---- copying ---- */

static const char *dup(struct mts_rpt_merge *m, const char *s) {
  char *c;

  if (s == NULL) {
    return NULL;
  }
  c = mts_arena_strndup(m->arena, s, strlen(s));
  if (c == NULL) {
    m->oom = true;
  }
  return c;
}

static const char *const *dup_strs(struct mts_rpt_merge *m,
                                   const char *const *v, size_t n) {
  const char **c;
  size_t i;

  if (n == 0) {
    return NULL;
  }
  c = mts_arena_alloc(m->arena, n * sizeof(*c));
  if (c == NULL) {
    m->oom = true;
    return NULL;
  }
  for (i = 0; i < n; i++) {
    c[i] = dup(m, v[i]);
  }
  return c;
}

/* a + b, capped at MTS_RPT_MERGE_COUNT_MAX (each operand too). */
static uint64_t sat_add(struct mts_rpt_merge *m, uint64_t a, uint64_t b) {
  const uint64_t max = MTS_RPT_MERGE_COUNT_MAX;

  if (a > max) {
    a = max;
    m->saturated = true;
  }
  if (b > max) {
    b = max;
    m->saturated = true;
  }
  if (a > max - b) {
    m->saturated = true;
    return max;
  }
  return a + b;
}

/* ---- the merge ---- */

struct work {
  struct mts_ctx *ctx;
  struct mts_rpt_merge *m;
  struct mts_rpt_policy *pols; /* merged, capacity npol_in */
  size_t npols;
  size_t *fcap; /* per merged policy: details mapped to it */
  size_t *ptab; /* merged policy index + 1; 0 empty */
  size_t ptsize;
  size_t *pmap; /* per input policy (global order): merged index */
  struct mts_rpt_failure **fails; /* per merged policy, capacity fcap */
  size_t *fpol; /* per failure slot: merged policy + 1; 0 empty */
  size_t *fidx; /* per failure slot: index in fails[fpol - 1] */
  size_t ftsize;
};

static bool args_ok(const struct mts_rpt_report_data *const *reps, size_t n,
                    size_t *npol, size_t *nfail) {
  size_t i, j;

  *npol = 0;
  *nfail = 0;
  for (i = 0; i < n; i++) {
    const struct mts_rpt_report_data *r = reps[i];

    if (r == NULL || (r->npolicies > 0 && r->policies == NULL)) {
      return false;
    }
    if (r->npolicies > SIZE_MAX / 2 - *npol) {
      return false;
    }
    *npol += r->npolicies;
    for (j = 0; j < r->npolicies; j++) {
      const struct mts_rpt_policy *p = &r->policies[j];

      if ((p->nfailures > 0 && p->failures == NULL) ||
          (p->npolicy_strings > 0 && p->policy_strings == NULL) ||
          (p->nmx_hosts > 0 && p->mx_hosts == NULL) ||
          p->nfailures > SIZE_MAX / 2 - *nfail) {
        return false;
      }
      *nfail += p->nfailures;
    }
  }
  return true;
}

/* Pass 1: map every input policy to a merged one. */
static enum mts_status
pass_policies(struct work *w, const struct mts_rpt_report_data *const *reps,
              size_t n) {
  size_t i, j, g = 0;

  for (i = 0; i < n; i++) {
    for (j = 0; j < reps[i]->npolicies; j++, g++) {
      const struct mts_rpt_policy *p = &reps[i]->policies[j];
      size_t s = (size_t)policy_hash(p) & (w->ptsize - 1);
      struct mts_rpt_policy *q;

      while (w->ptab[s] != 0 && !policy_eq(&w->pols[w->ptab[s] - 1], p)) {
        s = (s + 1) & (w->ptsize - 1);
      }
      if (w->ptab[s] != 0) {
        q = &w->pols[w->ptab[s] - 1];
        q->total_successful =
            sat_add(w->m, q->total_successful, p->total_successful);
        q->total_failure = sat_add(w->m, q->total_failure, p->total_failure);
        q->has_policy_string = q->has_policy_string || p->has_policy_string;
        w->pmap[g] = w->ptab[s] - 1;
        w->fcap[w->ptab[s] - 1] += p->nfailures;
        continue;
      }
      q = &w->pols[w->npols];
      q->policy_type = dup(w->m, p->policy_type);
      q->policy_domain = dup(w->m, p->policy_domain);
      q->policy_strings = dup_strs(w->m, p->policy_strings, p->npolicy_strings);
      q->npolicy_strings = p->npolicy_strings;
      q->has_policy_string = p->has_policy_string;
      q->mx_hosts = dup_strs(w->m, p->mx_hosts, p->nmx_hosts);
      q->nmx_hosts = p->nmx_hosts;
      q->total_successful = sat_add(w->m, 0, p->total_successful);
      q->total_failure = sat_add(w->m, 0, p->total_failure);
      if (w->m->oom) {
        return MTS_ENOMEM;
      }
      /* the key is compared through q's copies from now on */
      w->fcap[w->npols] = p->nfailures;
      w->pmap[g] = w->npols;
      w->ptab[s] = ++w->npols;
    }
  }
  return MTS_OK;
}

/* Pass 2: the failure details. */
static enum mts_status
pass_failures(struct work *w, const struct mts_rpt_report_data *const *reps,
              size_t n) {
  size_t i, j, k, g = 0;

  for (i = 0; i < w->npols; i++) {
    if (w->fcap[i] > 0) {
      w->fails[i] =
          mts_arena_alloc(w->m->arena, w->fcap[i] * sizeof(*w->fails[i]));
      if (w->fails[i] == NULL) {
        return MTS_ENOMEM;
      }
    }
  }
  for (i = 0; i < n; i++) {
    for (j = 0; j < reps[i]->npolicies; j++, g++) {
      const struct mts_rpt_policy *p = &reps[i]->policies[j];
      size_t mp = w->pmap[g];
      struct mts_rpt_policy *q = &w->pols[mp];

      for (k = 0; k < p->nfailures; k++) {
        const struct mts_rpt_failure *f = &p->failures[k];
        size_t s = (size_t)failure_hash(mp, f) & (w->ftsize - 1);
        struct mts_rpt_failure *d;

        while (w->fpol[s] != 0 && !(w->fpol[s] == mp + 1 &&
                                    failure_eq(&w->fails[mp][w->fidx[s]], f))) {
          s = (s + 1) & (w->ftsize - 1);
        }
        if (w->fpol[s] != 0) {
          d = &w->fails[mp][w->fidx[s]];
          d->failed_session_count =
              sat_add(w->m, d->failed_session_count, f->failed_session_count);
          continue;
        }
        d = &w->fails[mp][q->nfailures];
        d->result_type = dup(w->m, f->result_type);
        d->sending_mta_ip = dup(w->m, f->sending_mta_ip);
        d->receiving_mx_hostname = dup(w->m, f->receiving_mx_hostname);
        d->receiving_mx_helo = dup(w->m, f->receiving_mx_helo);
        d->receiving_ip = dup(w->m, f->receiving_ip);
        d->additional_information = dup(w->m, f->additional_information);
        d->failure_reason_code = dup(w->m, f->failure_reason_code);
        d->failed_session_count = sat_add(w->m, 0, f->failed_session_count);
        if (w->m->oom) {
          return MTS_ENOMEM;
        }
        w->fpol[s] = mp + 1;
        w->fidx[s] = q->nfailures++;
      }
    }
  }
  for (i = 0; i < w->npols; i++) {
    w->pols[i].failures = w->fails[i];
  }
  return MTS_OK;
}

static enum mts_status identity(struct mts_rpt_merge *m,
                                const struct mts_rpt_report_data *first,
                                const struct mts_rpt_merge_override *ovr) {
  const char *org = first->organization_name, *contact = first->contact_info,
             *rid = first->report_id;

  if (ovr != NULL) {
    org = ovr->organization_name != NULL ? ovr->organization_name : org;
    contact = ovr->contact_info != NULL ? ovr->contact_info : contact;
    rid = ovr->report_id != NULL ? ovr->report_id : rid;
  }
  m->data.organization_name = dup(m, org);
  m->data.contact_info = dup(m, contact);
  m->data.report_id = dup(m, rid);
  m->data.start = first->start;
  m->data.end = first->end;
  m->data.start_had_zone = first->start_had_zone;
  m->data.end_had_zone = first->end_had_zone;
  return m->oom ? MTS_ENOMEM : MTS_OK;
}

static enum mts_status run(struct work *w,
                           const struct mts_rpt_report_data *const *reps,
                           size_t n, size_t npol, size_t nfail) {
  struct mts_ctx *ctx = w->ctx;
  enum mts_status st;

  w->ptsize = table_size(npol);
  w->ftsize = table_size(nfail);
  if (w->ptsize == 0 || w->ftsize == 0) {
    return MTS_ENOMEM;
  }
  if (npol > 0) {
    w->pols = mts_arena_alloc(w->m->arena, npol * sizeof(*w->pols));
    if (w->pols == NULL) {
      return MTS_ENOMEM;
    }
    memset(w->pols, 0, npol * sizeof(*w->pols));
  }
  w->fcap = mts_calloc(ctx, npol + 1, sizeof(*w->fcap));
  w->pmap = mts_calloc(ctx, npol + 1, sizeof(*w->pmap));
  w->fails = mts_calloc(ctx, npol + 1, sizeof(*w->fails));
  w->ptab = mts_calloc(ctx, w->ptsize, sizeof(*w->ptab));
  w->fpol = mts_calloc(ctx, w->ftsize, sizeof(*w->fpol));
  w->fidx = mts_calloc(ctx, w->ftsize, sizeof(*w->fidx));
  if (w->fcap == NULL || w->pmap == NULL || w->fails == NULL ||
      w->ptab == NULL || w->fpol == NULL || w->fidx == NULL) {
    return MTS_ENOMEM;
  }
  st = pass_policies(w, reps, n);
  if (st == MTS_OK) {
    st = pass_failures(w, reps, n);
  }
  return st;
}

enum mts_status mts_rpt_merge(struct mts_ctx *ctx,
                              const struct mts_rpt_report_data *const *reps,
                              size_t n,
                              const struct mts_rpt_merge_override *ovr,
                              struct mts_rpt_merge **out) {
  struct mts_arena *arena = NULL;
  struct mts_rpt_merge *m;
  struct work w;
  size_t npol, nfail;
  enum mts_status st;

  if (out != NULL) {
    *out = NULL;
  }
  if (ctx == NULL || reps == NULL || out == NULL || n == 0 ||
      !args_ok(reps, n, &npol, &nfail)) {
    return MTS_EINVAL;
  }
  m = mts_arena_create_object(ctx, sizeof(*m), &arena);
  if (m == NULL) {
    return MTS_ENOMEM;
  }
  m->arena = arena;
  memset(&w, 0, sizeof(w));
  w.ctx = ctx;
  w.m = m;
  st = identity(m, reps[0], ovr);
  if (st == MTS_OK) {
    st = run(&w, reps, n, npol, nfail);
  }
  mts_free(ctx, w.fcap);
  mts_free(ctx, w.pmap);
  mts_free(ctx, w.fails);
  mts_free(ctx, w.ptab);
  mts_free(ctx, w.fpol);
  mts_free(ctx, w.fidx);
  if (st != MTS_OK) {
    mts_arena_destroy(arena);
    return st;
  }
  m->data.policies = w.pols;
  m->data.npolicies = w.npols;
  *out = m;
  return MTS_OK;
}

const struct mts_rpt_report_data *
mts_rpt_merge_data(const struct mts_rpt_merge *m) {
  return m != NULL ? &m->data : NULL;
}

bool mts_rpt_merge_saturated(const struct mts_rpt_merge *m) {
  return m != NULL && m->saturated;
}

void mts_rpt_merge_destroy(struct mts_rpt_merge *m) {
  if (m != NULL) {
    mts_arena_destroy(m->arena);
  }
}
