/*
 * fuzz_rpt_report.c - mts_rpt_report_parse() over arbitrary bytes (one
 * decompressed RFC 8460 report), then the writer on what was parsed.
 *
 * Invariants (abort() when broken):
 * - the parse succeeds (the libc allocator does not fail);
 * - valid implies usable; usable <=> no error finding; every finding
 *   has a "report-" code and a message;
 * - every string handed out is valid UTF-8 without NUL and not "";
 * - usable => report-id, a date range with start <= end, at least one
 *   policy, each with a type and a domain, counts <= 2^53;
 * - round trip: a usable report is written (JSON and gzip); the writer
 *   may refuse (MTS_EINVAL) only a report that is not valid or has a
 *   policy-type outside the three RFC values; what it writes parses
 *   usable (valid when the input was valid) with the same data, and the
 *   gzip output inflates to the JSON text.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <mtasts/rpt_report.h>
#include <mtasts/rpt_report_write.h>

#define FUZZ_MAX_INPUT (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_str(const char *s) {
  const uint8_t *p = (const uint8_t *)s;

  if (s == NULL) {
    return;
  }
  if (*p == 0) {
    abort(); /* "" is never handed out */
  }
  while (*p != 0) {
    size_t n, i;
    uint32_t cp;

    if (*p < 0x80) {
      p++;
      continue;
    }
    if (*p >= 0xC2 && *p <= 0xDF) {
      n = 2;
      cp = *p & 0x1Fu;
    } else if (*p >= 0xE0 && *p <= 0xEF) {
      n = 3;
      cp = *p & 0x0Fu;
    } else if (*p >= 0xF0 && *p <= 0xF4) {
      n = 4;
      cp = *p & 0x07u;
    } else {
      abort();
    }
    for (i = 1; i < n; i++) {
      if ((p[i] & 0xC0) != 0x80) {
        abort();
      }
      cp = (cp << 6) | (p[i] & 0x3Fu);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
      abort();
    }
    p += n;
  }
}

static bool str_eq(const char *a, const char *b) {
  return (a == NULL && b == NULL) ||
         (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static bool known_type(const char *t) {
  return t != NULL && (strcmp(t, "sts") == 0 || strcmp(t, "tlsa") == 0 ||
                       strcmp(t, "no-policy-found") == 0);
}

static void check(const struct mts_rpt_report *r) {
  const struct mts_findings *fs = mts_rpt_report_findings(r);
  const struct mts_rpt_report_data *d = mts_rpt_report_data(r);
  bool err = false;
  size_t i, j;

  for (i = 0; i < mts_findings_count(fs); i++) {
    const struct mts_finding *f = mts_findings_get(fs, i);

    if (f == NULL || strncmp(f->code, "report-", 7) != 0 ||
        f->message == NULL) {
      abort();
    }
    err |= f->severity == MTS_SEV_ERROR;
  }
  if (mts_rpt_report_usable(r) == err ||
      (mts_rpt_report_valid(r) && !mts_rpt_report_usable(r))) {
    abort();
  }
  check_str(d->organization_name);
  check_str(d->contact_info);
  check_str(d->report_id);
  for (i = 0; i < d->npolicies; i++) {
    const struct mts_rpt_policy *p = &d->policies[i];

    check_str(p->policy_type);
    check_str(p->policy_domain);
    for (j = 0; j < p->npolicy_strings; j++) {
      if (p->policy_strings[j] == NULL) {
        abort();
      }
      if (p->policy_strings[j][0] != '\0') {
        check_str(p->policy_strings[j]);
      }
    }
    for (j = 0; j < p->nmx_hosts; j++) {
      if (p->mx_hosts[j] == NULL) {
        abort();
      }
      if (p->mx_hosts[j][0] != '\0') {
        check_str(p->mx_hosts[j]);
      }
    }
    for (j = 0; j < p->nfailures; j++) {
      const struct mts_rpt_failure *f = &p->failures[j];

      check_str(f->result_type);
      check_str(f->sending_mta_ip);
      check_str(f->receiving_mx_hostname);
      check_str(f->receiving_mx_helo);
      check_str(f->receiving_ip);
      check_str(f->additional_information);
      check_str(f->failure_reason_code);
      if (mts_rpt_report_usable(r) &&
          (f->result_type == NULL ||
           f->failed_session_count > 9007199254740992ULL)) {
        abort();
      }
    }
    if (mts_rpt_report_usable(r) &&
        (p->policy_type == NULL || p->policy_domain == NULL ||
         p->total_successful > 9007199254740992ULL ||
         p->total_failure > 9007199254740992ULL)) {
      abort();
    }
  }
  if (mts_rpt_report_usable(r) &&
      (d->report_id == NULL || d->npolicies == 0 || d->start > d->end)) {
    abort();
  }
}

static void same(const struct mts_rpt_report_data *a,
                 const struct mts_rpt_report_data *b) {
  size_t i, j;

  if (!str_eq(a->organization_name, b->organization_name) ||
      a->start != b->start || a->end != b->end || !b->start_had_zone ||
      !b->end_had_zone || !str_eq(a->contact_info, b->contact_info) ||
      !str_eq(a->report_id, b->report_id) || a->npolicies != b->npolicies) {
    abort();
  }
  for (i = 0; i < a->npolicies; i++) {
    const struct mts_rpt_policy *p = &a->policies[i], *q = &b->policies[i];

    if (!str_eq(p->policy_type, q->policy_type) ||
        !str_eq(p->policy_domain, q->policy_domain) ||
        q->has_policy_string !=
            (p->has_policy_string ||
             strcmp(p->policy_type, "no-policy-found") != 0) ||
        p->npolicy_strings != q->npolicy_strings ||
        p->nmx_hosts != q->nmx_hosts ||
        p->total_successful != q->total_successful ||
        p->total_failure != q->total_failure || p->nfailures != q->nfailures) {
      abort();
    }
    for (j = 0; j < p->npolicy_strings; j++) {
      if (!str_eq(p->policy_strings[j], q->policy_strings[j])) {
        abort();
      }
    }
    for (j = 0; j < p->nmx_hosts; j++) {
      if (!str_eq(p->mx_hosts[j], q->mx_hosts[j])) {
        abort();
      }
    }
    for (j = 0; j < p->nfailures; j++) {
      const struct mts_rpt_failure *f = &p->failures[j], *g = &q->failures[j];

      if (!str_eq(f->result_type, g->result_type) ||
          !str_eq(f->sending_mta_ip, g->sending_mta_ip) ||
          !str_eq(f->receiving_mx_hostname, g->receiving_mx_hostname) ||
          !str_eq(f->receiving_mx_helo, g->receiving_mx_helo) ||
          !str_eq(f->receiving_ip, g->receiving_ip) ||
          f->failed_session_count != g->failed_session_count ||
          !str_eq(f->additional_information, g->additional_information) ||
          !str_eq(f->failure_reason_code, g->failure_reason_code)) {
        abort();
      }
    }
  }
}

static void check_gzip(struct mts_ctx *ctx, const struct mts_rpt_report_data *d,
                       const char *json, size_t jlen) {
  uint8_t *gz = NULL, *plain;
  size_t glen = 0;
  z_stream zs;

  if (mts_rpt_report_write_gzip(ctx, d, &gz, &glen) != MTS_OK || glen < 18 ||
      gz[0] != 0x1f || gz[1] != 0x8b) {
    abort();
  }
  plain = malloc(jlen + 1);
  if (plain == NULL) {
    abort();
  }
  memset(&zs, 0, sizeof(zs));
  if (inflateInit2(&zs, 15 + 16) != Z_OK) {
    abort();
  }
  zs.next_in = gz;
  zs.avail_in = (uInt)glen;
  zs.next_out = plain;
  zs.avail_out = (uInt)(jlen + 1);
  if (inflate(&zs, Z_FINISH) != Z_STREAM_END || zs.total_out != jlen ||
      memcmp(plain, json, jlen) != 0) {
    abort();
  }
  inflateEnd(&zs);
  free(plain);
  mts_rpt_report_write_free(ctx, gz);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct mts_ctx *ctx = NULL;
  struct mts_rpt_report *r = NULL, *r2 = NULL;
  const struct mts_rpt_report_data *d;
  char *json = NULL;
  size_t jlen = 0, i;
  enum mts_status st;
  bool known = true;

  if (size > FUZZ_MAX_INPUT) {
    return 0;
  }
  if (mts_ctx_create(NULL, &ctx) != MTS_OK) {
    abort();
  }
  if (mts_rpt_report_parse(ctx, data, size, &r) != MTS_OK || r == NULL) {
    abort();
  }
  check(r);
  d = mts_rpt_report_data(r);
  if (mts_rpt_report_usable(r)) {
    for (i = 0; i < d->npolicies; i++) {
      known = known && known_type(d->policies[i].policy_type);
    }
    st = mts_rpt_report_write_json(ctx, d, &json, &jlen);
    if (st == MTS_EINVAL) {
      if (mts_rpt_report_valid(r) && known) {
        abort(); /* a valid report must be writable */
      }
    } else if (st != MTS_OK || json == NULL || strlen(json) != jlen) {
      abort();
    } else {
      if (mts_rpt_report_parse(ctx, (const uint8_t *)json, jlen, &r2) !=
              MTS_OK ||
          !mts_rpt_report_usable(r2) ||
          (mts_rpt_report_valid(r) && !mts_rpt_report_valid(r2))) {
        abort();
      }
      same(d, mts_rpt_report_data(r2));
      mts_rpt_report_destroy(r2);
      check_gzip(ctx, d, json, jlen);
      mts_rpt_report_write_free(ctx, json);
    }
  }
  mts_rpt_report_destroy(r);
  mts_ctx_destroy(ctx);
  return 0;
}
