/*
 * rpt_report_write.c - write an RFC 8460 report as JSON and gzip; see
 * mtasts/rpt_report_write.h.
 *
 * The report is checked first (everything the header lists as
 * refused), then built as a jansson tree in the skeleton's order of
 * RFC 8460 4.4 (jansson keeps insertion order) and dumped compactly
 * into a buffer from the context's allocator. gzip uses zlib with the
 * context's allocator (deflate with a gzip wrapper, RFC 1952).
 */
#include <mtasts/rpt_report_write.h>
#include <mtasts/utc.h>

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "core/ctx_int.h"
#include "core/strbuf_int.h"
#include "rpt/rpt_report_int.h"

#define COUNT_MAX UINT64_C(9007199254740992) /* 2^53, I-JSON */

/* ---- checks ---- */

static bool str_ok(const char *s) {
  return mts_rpt_utf8_ok((const uint8_t *)s, strlen(s));
}

/* An optional string: NULL or "" (both omitted), or UTF-8. */
static bool opt_ok(const char *s) {
  return s == NULL || str_ok(s);
}

static bool host_ok(const char *s, bool wildcard) {
  return s != NULL && mts_rpt_ldh_host(s, strlen(s), wildcard);
}

static bool policy_type_ok(const char *t) {
  return t != NULL && (strcmp(t, "sts") == 0 || strcmp(t, "tlsa") == 0 ||
                       strcmp(t, "no-policy-found") == 0);
}

static bool failure_ok(const struct mts_rpt_failure *f) {
  return f->result_type != NULL && f->result_type[0] != '\0' &&
         str_ok(f->result_type) && opt_ok(f->sending_mta_ip) &&
         (f->receiving_mx_hostname == NULL ||
          f->receiving_mx_hostname[0] == '\0' ||
          host_ok(f->receiving_mx_hostname, false)) &&
         opt_ok(f->receiving_mx_helo) && opt_ok(f->receiving_ip) &&
         f->failed_session_count <= COUNT_MAX &&
         opt_ok(f->additional_information) && opt_ok(f->failure_reason_code);
}

static bool policy_ok(const struct mts_rpt_policy *p) {
  size_t i;

  if (!policy_type_ok(p->policy_type) || !host_ok(p->policy_domain, false) ||
      p->total_successful > COUNT_MAX || p->total_failure > COUNT_MAX ||
      (p->npolicy_strings > 0 && p->policy_strings == NULL) ||
      (p->nmx_hosts > 0 && p->mx_hosts == NULL) ||
      (p->nfailures > 0 && p->failures == NULL)) {
    return false;
  }
  for (i = 0; i < p->npolicy_strings; i++) {
    if (p->policy_strings[i] == NULL || !str_ok(p->policy_strings[i])) {
      return false;
    }
  }
  for (i = 0; i < p->nmx_hosts; i++) {
    if (!host_ok(p->mx_hosts[i], true)) {
      return false;
    }
  }
  for (i = 0; i < p->nfailures; i++) {
    if (!failure_ok(&p->failures[i])) {
      return false;
    }
  }
  return true;
}

static bool report_ok(const struct mts_rpt_report_data *rep) {
  size_t i;

  if (rep->organization_name == NULL || rep->organization_name[0] == '\0' ||
      !str_ok(rep->organization_name) || rep->report_id == NULL ||
      rep->report_id[0] == '\0' || !str_ok(rep->report_id) ||
      !opt_ok(rep->contact_info) || rep->start > rep->end ||
      rep->start < MTS_RPT_TIME_MIN || rep->end > MTS_RPT_TIME_MAX ||
      rep->npolicies == 0 || rep->policies == NULL) {
    return false;
  }
  for (i = 0; i < rep->npolicies; i++) {
    if (!policy_ok(&rep->policies[i])) {
      return false;
    }
  }
  return true;
}

/* ---- the tree ---- */

/* Each setter returns false on allocation failure (jansson: malloc). */
static bool set_str(json_t *obj, const char *key, const char *v) {
  if (v == NULL || v[0] == '\0') {
    return true; /* optional: omitted, never "" */
  }
  return json_object_set_new_nocheck(obj, key,
                                     json_stringn_nocheck(v, strlen(v))) == 0;
}

static bool set_count(json_t *obj, const char *key, uint64_t n) {
  return json_object_set_new_nocheck(obj, key, json_integer((json_int_t)n)) ==
         0;
}

static bool set_strings(json_t *obj, const char *key, const char *const *v,
                        size_t n) {
  json_t *arr = json_array();
  size_t i;

  if (arr == NULL || json_object_set_new_nocheck(obj, key, arr) != 0) {
    return false;
  }
  for (i = 0; i < n; i++) {
    if (json_array_append_new(arr, json_stringn_nocheck(v[i], strlen(v[i]))) !=
        0) {
      return false;
    }
  }
  return true;
}

static bool set_time(json_t *obj, const char *key, int64_t t) {
  int64_t days = t / 86400, secs = t % 86400, y;
  unsigned m, d;
  char buf[32];

  if (secs < 0) {
    secs += 86400;
    days--;
  }
  mts_utc_civil_from_days(days, &y, &m, &d);
  snprintf(buf, sizeof(buf), "%04lld-%02u-%02uT%02u:%02u:%02uZ", (long long)y,
           m, d, (unsigned)(secs / 3600), (unsigned)(secs / 60 % 60),
           (unsigned)(secs % 60));
  return set_str(obj, key, buf);
}

static bool add_failure(json_t *arr, const struct mts_rpt_failure *f) {
  json_t *o = json_object();

  if (o == NULL || json_array_append_new(arr, o) != 0) {
    return false;
  }
  return set_str(o, "result-type", f->result_type) &&
         set_str(o, "sending-mta-ip", f->sending_mta_ip) &&
         set_str(o, "receiving-mx-hostname", f->receiving_mx_hostname) &&
         set_str(o, "receiving-mx-helo", f->receiving_mx_helo) &&
         set_str(o, "receiving-ip", f->receiving_ip) &&
         set_count(o, "failed-session-count", f->failed_session_count) &&
         set_str(o, "additional-information", f->additional_information) &&
         set_str(o, "failure-reason-code", f->failure_reason_code);
}

static bool add_policy(json_t *arr, const struct mts_rpt_policy *p) {
  json_t *el = json_object(), *pol, *sum, *fd;
  size_t i;

  if (el == NULL || json_array_append_new(arr, el) != 0) {
    return false;
  }
  pol = json_object();
  if (pol == NULL || json_object_set_new_nocheck(el, "policy", pol) != 0 ||
      !set_str(pol, "policy-type", p->policy_type)) {
    return false;
  }
  /* Always an array; for no-policy-found only when the caller has one
   * (RFC 8460 4.4 specifies no content for it). */
  if ((p->has_policy_string || p->npolicy_strings > 0 ||
       strcmp(p->policy_type, "no-policy-found") != 0) &&
      !set_strings(pol, "policy-string", p->policy_strings,
                   p->npolicy_strings)) {
    return false;
  }
  if (!set_str(pol, "policy-domain", p->policy_domain) ||
      (p->nmx_hosts > 0 &&
       !set_strings(pol, "mx-host", p->mx_hosts, p->nmx_hosts))) {
    return false;
  }
  sum = json_object();
  if (sum == NULL || json_object_set_new_nocheck(el, "summary", sum) != 0 ||
      !set_count(sum, "total-successful-session-count", p->total_successful) ||
      !set_count(sum, "total-failure-session-count", p->total_failure)) {
    return false;
  }
  if (p->nfailures == 0) {
    return true;
  }
  fd = json_array();
  if (fd == NULL ||
      json_object_set_new_nocheck(el, "failure-details", fd) != 0) {
    return false;
  }
  for (i = 0; i < p->nfailures; i++) {
    if (!add_failure(fd, &p->failures[i])) {
      return false;
    }
  }
  return true;
}

static json_t *build(const struct mts_rpt_report_data *rep) {
  json_t *root = json_object(), *dr, *arr;
  size_t i;

  if (root == NULL) {
    return NULL;
  }
  if (!set_str(root, "organization-name", rep->organization_name)) {
    goto fail;
  }
  dr = json_object();
  if (dr == NULL || json_object_set_new_nocheck(root, "date-range", dr) != 0 ||
      !set_time(dr, "start-datetime", rep->start) ||
      !set_time(dr, "end-datetime", rep->end) ||
      !set_str(root, "contact-info", rep->contact_info) ||
      !set_str(root, "report-id", rep->report_id)) {
    goto fail;
  }
  arr = json_array();
  if (arr == NULL || json_object_set_new_nocheck(root, "policies", arr) != 0) {
    goto fail;
  }
  for (i = 0; i < rep->npolicies; i++) {
    if (!add_policy(arr, &rep->policies[i])) {
      goto fail;
    }
  }
  return root;
fail:
  json_decref(root);
  return NULL;
}

/* ---- output ---- */

/* The compact JSON of a day's report: a few KiB first, then doubled. */
#define JSON_FIRST 4096

static int dump_cb(const char *s, size_t size, void *arg) {
  struct mts_strbuf *b = arg;

  mts_strbuf_put(b, s, size);
  return mts_strbuf_status(b) == MTS_OK ? 0 : -1;
}

enum mts_status mts_rpt_report_write_json(struct mts_ctx *ctx,
                                          const struct mts_rpt_report_data *rep,
                                          char **json, size_t *len) {
  struct mts_strbuf b;
  json_t *root;
  int rc;

  if (json != NULL) {
    *json = NULL;
  }
  if (len != NULL) {
    *len = 0;
  }
  if (ctx == NULL || rep == NULL || json == NULL || len == NULL) {
    return MTS_EINVAL;
  }
  if (!report_ok(rep)) {
    return MTS_EINVAL;
  }
  root = build(rep);
  if (root == NULL) {
    return MTS_ENOMEM;
  }
  mts_strbuf_init(&b, ctx, JSON_FIRST, MTS_STRBUF_NOMAX);
  rc =
      json_dump_callback(root, dump_cb, &b, JSON_PRESERVE_ORDER | JSON_COMPACT);
  json_decref(root);
  if (rc != 0 || b.p == NULL) {
    mts_strbuf_cleanup(&b);
    return MTS_ENOMEM; /* the callback's or jansson's allocation failed */
  }
  return mts_strbuf_take(&b, json, len);
}

static voidpf z_alloc(voidpf opaque, uInt items, uInt size) {
  return mts_calloc(opaque, items, size);
}

static void z_free(voidpf opaque, voidpf p) {
  mts_free(opaque, p);
}

enum mts_status mts_rpt_report_write_gzip(struct mts_ctx *ctx,
                                          const struct mts_rpt_report_data *rep,
                                          uint8_t **gz, size_t *len) {
  char *json = NULL;
  size_t jlen = 0;
  uint8_t *out = NULL;
  uLong bound;
  z_stream zs;
  enum mts_status st;
  int rc;

  if (gz != NULL) {
    *gz = NULL;
  }
  if (len != NULL) {
    *len = 0;
  }
  if (gz == NULL || len == NULL) {
    return MTS_EINVAL;
  }
  st = mts_rpt_report_write_json(ctx, rep, &json, &jlen);
  if (st != MTS_OK) {
    return st;
  }
  if (jlen > UINT32_MAX / 2) { /* one deflate() call: avail_* are uInt */
    mts_free(ctx, json);
    return MTS_ETOOBIG;
  }
  memset(&zs, 0, sizeof(zs));
  zs.zalloc = z_alloc;
  zs.zfree = z_free;
  zs.opaque = ctx;
  /* windowBits 15 + 16: a gzip wrapper (RFC 1952) instead of zlib's */
  rc = deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                    Z_DEFAULT_STRATEGY);
  if (rc != Z_OK) {
    mts_free(ctx, json);
    return rc == Z_MEM_ERROR ? MTS_ENOMEM : MTS_EINTERNAL;
  }
  bound = deflateBound(&zs, (uLong)jlen);
  out = mts_malloc(ctx, bound);
  if (out == NULL) {
    st = MTS_ENOMEM;
    goto done;
  }
  zs.next_in = (Bytef *)json;
  zs.avail_in = (uInt)jlen;
  zs.next_out = out;
  zs.avail_out = (uInt)bound;
  rc = deflate(&zs, Z_FINISH);
  if (rc != Z_STREAM_END) {
    st = rc == Z_MEM_ERROR ? MTS_ENOMEM : MTS_EINTERNAL;
    goto done;
  }
  *gz = out;
  *len = (size_t)zs.total_out;
  out = NULL;
done:
  deflateEnd(&zs);
  mts_free(ctx, out);
  mts_free(ctx, json);
  return st;
}

void mts_rpt_report_write_free(struct mts_ctx *ctx, void *out) {
  if (ctx != NULL && out != NULL) {
    mts_free(ctx, out);
  }
}
