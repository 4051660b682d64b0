/*
 * rpt_report.c - the RFC 8460 aggregate report parser; see
 * mtasts/rpt_report.h and docs/decisions.md "TLS reports (RFC 8460
 * report format)".
 *
 * jansson does the JSON grammar (JSON_REJECT_DUPLICATES: I-JSON); this
 * file checks the layout key by key. Before jansson sees the input it
 * is checked for UTF-8 (I-JSON: not repaired, rejected), for the
 * nesting depth (a linear scan, so "[[[[..." never reaches jansson's
 * recursive descent) and, in the same scan, for the number of values
 * (so 32 MiB of "{}," never becomes a tree of 11 million objects).
 */
#include <mtasts/rpt_report.h>
#include <mtasts/utc.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "core/arena_int.h"
#include "core/ascii_int.h"
#include "core/findings_int.h"
#include "rpt/rpt_json_int.h"
#include "rpt/rpt_report_int.h"

#define SNIP 64
/* Unknown keys are reported as info findings up to this many. */
/* Largest count accepted: 2^53 (I-JSON: exact in an IEEE double). */
#define COUNT_MAX INT64_C(9007199254740992)

struct mts_rpt_report {
  struct mts_arena *arena;
  struct mts_findings findings;
  struct mts_rpt_report_data data;
  size_t items;        /* policies + details + strings + mx hosts */
  bool items_exceeded; /* the item bound was hit (reported once) */
  struct mts_rpt_json_findings jf; /* findings helpers (rpt_json_int.h) */
};

/* ---- shared helpers (rpt_report_int.h) ---- */

/* \return the length of the valid UTF-8 sequence at s[0], or 0. */
static size_t utf8_seq(const uint8_t *s, size_t len) {
  uint8_t c = s[0];
  size_t n, i;
  uint8_t lo = 0x80, hi = 0xBF;

  if (c < 0x80) {
    return 1;
  }
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) {
      lo = 0xA0;
    } else if (c == 0xED) {
      hi = 0x9F;
    }
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) {
      lo = 0x90;
    } else if (c == 0xF4) {
      hi = 0x8F;
    }
  } else {
    return 0;
  }
  if (len < n || s[1] < lo || s[1] > hi) {
    return 0;
  }
  for (i = 2; i < n; i++) {
    if (s[i] < 0x80 || s[i] > 0xBF) {
      return 0;
    }
  }
  return n;
}

/* Offset of the first byte that is not UTF-8, or len. */
static size_t utf8_first_bad(const uint8_t *s, size_t len) {
  size_t i = 0, n;

  while (i < len) {
    n = utf8_seq(s + i, len - i);
    if (n == 0) {
      return i;
    }
    i += n;
  }
  return len;
}

bool mts_rpt_utf8_ok(const uint8_t *s, size_t len) {
  return memchr(s, 0, len) == NULL && utf8_first_bad(s, len) == len;
}

bool mts_rpt_ldh_host(const char *s, size_t len, bool wildcard) {
  size_t i, lab = 0;

  if (wildcard && len >= 2 && s[0] == '*' && s[1] == '.') {
    s += 2;
    len -= 2;
  }
  if (len == 0 || len > 253) {
    return false;
  }
  for (i = 0; i < len; i++) {
    uint8_t c = (uint8_t)s[i];

    if (c == '.') {
      if (lab == 0 || s[i - 1] == '-') {
        return false;
      }
      lab = 0;
      continue;
    }
    if (!mts_is_alnum(c) && c != '-') {
      return false;
    }
    if (c == '-' && lab == 0) {
      return false;
    }
    if (++lab > 63) {
      return false;
    }
  }
  return lab > 0 && s[len - 1] != '-';
}

/* ---- findings ---- */

static void oom(struct mts_rpt_report *r) {
  r->findings.oom = true;
}

static void finding(struct mts_rpt_report *r, const char *code,
                    enum mts_severity sev, uint32_t line, uint32_t col,
                    const char *msg) {
  if (mts_findings_add(&r->findings, code, sev, line, col, "%s", msg) !=
      MTS_OK) {
    return; /* remembered in findings.oom */
  }
}

/* A finding naming a key, with an optional escaped value. */
static void finding_kv(struct mts_rpt_report *r, const char *code,
                       enum mts_severity sev, const char *key,
                       const char *what, const char *val) {
  mts_rpt_json_kv(&r->jf, code, sev, key, what, val);
}

static void wrong_type(struct mts_rpt_report *r, const char *key,
                       const json_t *v, const char *want) {
  mts_rpt_json_wrong_type(&r->jf, key, v, want);
}

static void missing(struct mts_rpt_report *r, const char *key,
                    const char *where) {
  mts_rpt_json_missing(&r->jf, key, where);
}

/* Info finding for keys not in \p known (NULL-terminated). */
static void unknown_keys(struct mts_rpt_report *r, json_t *obj,
                         const char *const *known, const char *where) {
  mts_rpt_json_unknown_keys(&r->jf, obj, known, where);
}

/* Count \p n more items; false (and one error finding) past the bound. */
static bool items_add(struct mts_rpt_report *r, size_t n) {
  if (r->items_exceeded) {
    return false;
  }
  if (n > MTS_RPT_REPORT_MAX_ITEMS - r->items) {
    r->items_exceeded = true;
    finding(r, "report-too-many-items", MTS_SEV_ERROR, 0, 0,
            "more than MTS_RPT_REPORT_MAX_ITEMS policies, failure details, "
            "policy strings and mx hosts");
    return false;
  }
  r->items += n;
  return true;
}

static const char *dup_string(struct mts_rpt_report *r, const json_t *v) {
  const char *s =
      mts_arena_strndup(r->arena, json_string_value(v), json_string_length(v));

  if (s == NULL) {
    oom(r);
  }
  return s;
}

/* ---- values ---- */

enum presence { REQUIRED, OPTIONAL };

/* A string member. REQUIRED: absent, null, "" or another type is an
 * error. OPTIONAL: absent gives NULL silently; null or "" gives NULL
 * with a report-empty-value warning; another type is an error. */
static const char *get_string(struct mts_rpt_report *r, json_t *obj,
                              const char *key, const char *where,
                              enum presence pres) {
  json_t *v = json_object_get(obj, key);

  if (v == NULL) {
    if (pres == REQUIRED) {
      missing(r, key, where);
    }
    return NULL;
  }
  if (pres == OPTIONAL && json_is_null(v)) {
    finding_kv(r, "report-empty-value", MTS_SEV_WARNING, key,
               "null treated as absent", NULL);
    return NULL;
  }
  if (!json_is_string(v)) {
    wrong_type(r, key, v, "a string");
    return NULL;
  }
  if (json_string_length(v) == 0) {
    if (pres == REQUIRED) {
      finding_kv(r, "report-empty-required", MTS_SEV_ERROR, key, "empty string",
                 NULL);
    } else {
      finding_kv(r, "report-empty-value", MTS_SEV_WARNING, key,
                 "empty string treated as absent", NULL);
    }
    return NULL;
  }
  return dup_string(r, v);
}

/* A count: a JSON integer 0..2^53. false with an error otherwise. */
static bool get_count(struct mts_rpt_report *r, json_t *obj, const char *key,
                      const char *where, uint64_t *out) {
  json_t *v = json_object_get(obj, key);
  json_int_t n;
  char snip[SNIP];
  char *msg;

  *out = 0;
  if (v == NULL) {
    missing(r, key, where);
    return false;
  }
  if (json_is_string(v)) {
    mts_findings_escape((const uint8_t *)json_string_value(v),
                        json_string_length(v), snip, sizeof(snip));
    msg = mts_arena_printf(r->arena,
                           "\"%s\" is the string \"%s\", want a JSON integer",
                           key, snip);
  } else if (!json_is_integer(v)) {
    msg = mts_arena_printf(r->arena, "\"%s\" is %s, want a JSON integer", key,
                           mts_rpt_json_type_name(v));
  } else if ((n = json_integer_value(v)) < 0 || n > COUNT_MAX) {
    msg = mts_arena_printf(r->arena, "\"%s\" is %lld, want 0 to 2^53", key,
                           (long long)n);
  } else {
    *out = (uint64_t)n;
    return true;
  }
  if (msg == NULL) {
    oom(r);
    return false;
  }
  finding(r, "report-bad-count", MTS_SEV_ERROR, 0, 0, msg);
  return false;
}

static bool digits(const char *s, size_t n, unsigned *out) {
  unsigned v = 0;
  size_t i;

  for (i = 0; i < n; i++) {
    if (!mts_is_digit((uint8_t)s[i])) {
      return false;
    }
    v = v * 10 + (unsigned)(s[i] - '0');
  }
  *out = v;
  return true;
}

static unsigned month_days(int64_t y, unsigned m) {
  static const unsigned dm[12] = {31, 28, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};

  if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) {
    return 29;
  }
  return dm[m - 1];
}

/*
 * RFC 3339 5.6 date-time: full-date "T" partial-time time-offset, with
 * "t"/"z" accepted (RFC 3339 5.6 NOTE), fractional seconds, second 60
 * (leap second, counted as the next second). A missing offset is
 * accepted (*zone false) and read as UTC. \return false when malformed.
 */
static bool parse_datetime(const char *s, size_t len, int64_t *out,
                           bool *zone) {
  unsigned y, mo, d, h, mi, sec, oh = 0, om = 0;
  size_t i = 19;
  int64_t t, off = 0;

  *zone = false;
  if (len < 19 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) ||
      s[7] != '-' || !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') ||
      !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi) ||
      s[16] != ':' || !digits(s + 17, 2, &sec)) {
    return false;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo) || h > 23 ||
      mi > 59 || sec > 60) {
    return false;
  }
  if (i < len && s[i] == '.') {
    i++;
    if (i >= len || !mts_is_digit((uint8_t)s[i])) {
      return false;
    }
    while (i < len && mts_is_digit((uint8_t)s[i])) {
      i++;
    }
  }
  if (i < len) {
    if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == len) {
      *zone = true;
    } else if ((s[i] == '+' || s[i] == '-') && len - i == 6 &&
               digits(s + i + 1, 2, &oh) && s[i + 3] == ':' &&
               digits(s + i + 4, 2, &om) && oh <= 23 && om <= 59) {
      off = ((int64_t)oh * 60 + om) * 60;
      if (s[i] == '-') {
        off = -off;
      }
      *zone = true;
    } else {
      return false;
    }
  }
  t = mts_utc_days_from_civil(y, mo, d) * 86400 + (int64_t)h * 3600 +
      (int64_t)mi * 60 + sec - off;
  if (t < MTS_RPT_TIME_MIN || t > MTS_RPT_TIME_MAX) {
    return false;
  }
  *out = t;
  return true;
}

static bool get_datetime(struct mts_rpt_report *r, json_t *obj, const char *key,
                         int64_t *out, bool *zone) {
  json_t *v = json_object_get(obj, key);

  *out = 0;
  *zone = false;
  if (v == NULL) {
    missing(r, key, "\"date-range\"");
    return false;
  }
  if (!json_is_string(v)) {
    wrong_type(r, key, v, "an RFC 3339 date-time string");
    return false;
  }
  if (!parse_datetime(json_string_value(v), json_string_length(v), out, zone)) {
    finding_kv(r, "report-bad-datetime", MTS_SEV_ERROR, key,
               "not an RFC 3339 date-time:", json_string_value(v));
    return false;
  }
  if (!*zone) {
    finding_kv(r, "report-datetime-no-zone", MTS_SEV_WARNING, key,
               "no time zone offset, read as UTC:", json_string_value(v));
  }
  return true;
}

/* An array of strings, or (when \p one_ok) one string with a warning
 * \p one_code. \return false when absent. */
static bool get_strings(struct mts_rpt_report *r, json_t *obj, const char *key,
                        bool one_ok, const char *one_code,
                        const char *const **out, size_t *n) {
  json_t *arr = json_object_get(obj, key), *v;
  const char **vec;
  size_t i, cnt;

  *out = NULL;
  *n = 0;
  if (arr == NULL) {
    return false;
  }
  if (one_ok && json_is_string(arr)) {
    finding_kv(r, one_code, MTS_SEV_WARNING, key,
               "one string instead of an array:", json_string_value(arr));
    if (!items_add(r, 1)) {
      return true;
    }
    vec = mts_arena_alloc(r->arena, sizeof(*vec));
    if (vec == NULL || (vec[0] = dup_string(r, arr)) == NULL) {
      oom(r);
      return true;
    }
    *out = vec;
    *n = 1;
    return true;
  }
  if (!json_is_array(arr)) {
    wrong_type(r, key, arr, "an array of strings");
    return true;
  }
  cnt = json_array_size(arr);
  if (cnt == 0 || !items_add(r, cnt)) {
    return true;
  }
  vec = mts_arena_alloc(r->arena, cnt * sizeof(*vec));
  if (vec == NULL) {
    oom(r);
    return true;
  }
  json_array_foreach(arr, i, v) {
    if (!json_is_string(v)) {
      wrong_type(r, key, v, "an array of strings");
      return true;
    }
    if ((vec[i] = dup_string(r, v)) == NULL) {
      return true;
    }
  }
  *out = vec;
  *n = cnt;
  return true;
}

static bool ip_syntax(const char *s) {
  unsigned char buf[16];

  return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

static void check_ip(struct mts_rpt_report *r, const char *key, const char *v) {
  if (v != NULL && !ip_syntax(v)) {
    finding_kv(r, "report-bad-ip", MTS_SEV_WARNING, key,
               "not an IP address:", v);
  }
}

static void check_host(struct mts_rpt_report *r, const char *key, const char *v,
                       bool wildcard) {
  if (v != NULL && !mts_rpt_ldh_host(v, strlen(v), wildcard)) {
    finding_kv(r, "report-bad-host", MTS_SEV_WARNING, key,
               "not an A-label host name:", v);
  }
}

/* ---- structure ---- */

static const char *const result_types[] = {
    "starttls-not-supported", "certificate-host-mismatch",
    "certificate-expired",    "certificate-not-trusted",
    "validation-failure",     "tlsa-invalid",
    "dnssec-invalid",         "dane-required",
    "sts-policy-fetch-error", "sts-policy-invalid",
    "sts-webpki-invalid",     NULL};

static const char *const policy_types[] = {"tlsa", "sts", "no-policy-found",
                                           NULL};

/* \return 1 when \p s is in \p list, 2 when only in another letter
 * case, 0 otherwise. */
static int in_list(const char *const *list, const char *s) {
  size_t i;
  int hit = 0;

  for (i = 0; list[i] != NULL; i++) {
    if (strcmp(list[i], s) == 0) {
      return 1;
    }
    if (mts_ascii_caseeq((const uint8_t *)list[i], strlen(list[i]),
                         (const uint8_t *)s, strlen(s))) {
      hit = 2;
    }
  }
  return hit;
}

static const char *const failure_keys[] = {"result-type",
                                           "sending-mta-ip",
                                           "receiving-mx-hostname",
                                           "receiving-mx-helo",
                                           "receiving-ip",
                                           "failed-session-count",
                                           "additional-information",
                                           "failure-reason-code",
                                           NULL};

static void parse_failure(struct mts_rpt_report *r, json_t *obj,
                          struct mts_rpt_failure *f) {
  const char *where = "a \"failure-details\" entry";
  json_t *ip;

  if (!json_is_object(obj)) {
    wrong_type(r, "failure-details", obj, "an array of objects");
    return;
  }
  f->result_type = get_string(r, obj, "result-type", where, REQUIRED);
  if (f->result_type != NULL) {
    switch (in_list(result_types, f->result_type)) {
    case 1:
      break;
    case 2:
      finding_kv(r, "report-result-type-case", MTS_SEV_WARNING, "result-type",
                 "a known type in another letter case (case-sensitive):",
                 f->result_type);
      break;
    default:
      finding_kv(r, "report-unknown-result-type", MTS_SEV_INFO, "result-type",
                 "not in RFC 8460 4.3, kept:", f->result_type);
      break;
    }
  }
  ip = json_object_get(obj, "sending-mta-ip");
  if (ip == NULL) {
    finding(r, "report-no-sending-ip", MTS_SEV_WARNING, 0, 0,
            "\"sending-mta-ip\" missing in a \"failure-details\" entry");
  } else if (json_is_string(ip) && json_string_length(ip) == 0) {
    finding(r, "report-no-sending-ip", MTS_SEV_WARNING, 0, 0,
            "\"sending-mta-ip\" is \"\" in a \"failure-details\" entry");
  } else if (json_is_null(ip)) {
    finding(r, "report-no-sending-ip", MTS_SEV_WARNING, 0, 0,
            "\"sending-mta-ip\" is null in a \"failure-details\" entry");
  } else {
    f->sending_mta_ip = get_string(r, obj, "sending-mta-ip", where, OPTIONAL);
    check_ip(r, "sending-mta-ip", f->sending_mta_ip);
  }
  f->receiving_mx_hostname =
      get_string(r, obj, "receiving-mx-hostname", where, OPTIONAL);
  check_host(r, "receiving-mx-hostname", f->receiving_mx_hostname, false);
  f->receiving_mx_helo =
      get_string(r, obj, "receiving-mx-helo", where, OPTIONAL);
  f->receiving_ip = get_string(r, obj, "receiving-ip", where, OPTIONAL);
  check_ip(r, "receiving-ip", f->receiving_ip);
  (void)get_count(r, obj, "failed-session-count", where,
                  &f->failed_session_count);
  f->additional_information =
      get_string(r, obj, "additional-information", where, OPTIONAL);
  f->failure_reason_code =
      get_string(r, obj, "failure-reason-code", where, OPTIONAL);
  unknown_keys(r, obj, failure_keys, where);
}

static const char *const policy_keys[] = {"policy-type", "policy-string",
                                          "policy-domain", "mx-host", NULL};
static const char *const summary_keys[] = {"total-successful-session-count",
                                           "total-failure-session-count", NULL};
static const char *const element_keys[] = {"policy", "summary",
                                           "failure-details", NULL};

static void parse_policy(struct mts_rpt_report *r, json_t *el,
                         struct mts_rpt_policy *p) {
  json_t *pol, *sum, *fd, *v;
  struct mts_rpt_failure *fv;
  size_t i, cnt, j;

  if (!json_is_object(el)) {
    wrong_type(r, "policies", el, "an array of objects");
    return;
  }
  pol = json_object_get(el, "policy");
  if (pol == NULL) {
    missing(r, "policy", "a \"policies\" element");
  } else if (!json_is_object(pol)) {
    wrong_type(r, "policy", pol, "an object");
  } else {
    p->policy_type = get_string(r, pol, "policy-type", "\"policy\"", REQUIRED);
    if (p->policy_type != NULL) {
      switch (in_list(policy_types, p->policy_type)) {
      case 1:
        break;
      case 2:
        finding_kv(r, "report-policy-type-case", MTS_SEV_WARNING, "policy-type",
                   "a known type in another letter case (case-sensitive):",
                   p->policy_type);
        break;
      default:
        finding_kv(r, "report-unknown-policy-type", MTS_SEV_INFO, "policy-type",
                   "not tlsa, sts or no-policy-found, kept:", p->policy_type);
        break;
      }
    }
    p->policy_domain =
        get_string(r, pol, "policy-domain", "\"policy\"", REQUIRED);
    check_host(r, "policy-domain", p->policy_domain, false);
    p->has_policy_string = get_strings(r, pol, "policy-string", false, NULL,
                                       &p->policy_strings, &p->npolicy_strings);
    if (!p->has_policy_string &&
        (p->policy_type == NULL ||
         strcmp(p->policy_type, "no-policy-found") != 0)) {
      finding(r, "report-no-policy-string", MTS_SEV_WARNING, 0, 0,
              "\"policy-string\" missing in \"policy\"");
    }
    (void)get_strings(r, pol, "mx-host", true, "report-mx-host-string",
                      &p->mx_hosts, &p->nmx_hosts);
    for (j = 0; j < p->nmx_hosts; j++) {
      check_host(r, "mx-host", p->mx_hosts[j], true);
    }
    unknown_keys(r, pol, policy_keys, "\"policy\"");
  }
  sum = json_object_get(el, "summary");
  if (sum == NULL) {
    missing(r, "summary", "a \"policies\" element");
  } else if (!json_is_object(sum)) {
    wrong_type(r, "summary", sum, "an object");
  } else {
    (void)get_count(r, sum, "total-successful-session-count", "\"summary\"",
                    &p->total_successful);
    (void)get_count(r, sum, "total-failure-session-count", "\"summary\"",
                    &p->total_failure);
    unknown_keys(r, sum, summary_keys, "\"summary\"");
  }
  fd = json_object_get(el, "failure-details");
  if (fd != NULL && !json_is_array(fd)) {
    wrong_type(r, "failure-details", fd, "an array of objects");
  } else if (fd != NULL && (cnt = json_array_size(fd)) > 0 &&
             items_add(r, cnt)) {
    fv = mts_arena_alloc(r->arena, cnt * sizeof(*fv));
    if (fv == NULL) {
      oom(r);
      return;
    }
    memset(fv, 0, cnt * sizeof(*fv));
    json_array_foreach(fd, i, v) {
      parse_failure(r, v, &fv[i]);
    }
    p->failures = fv;
    p->nfailures = cnt;
  }
  unknown_keys(r, el, element_keys, "a \"policies\" element");
}

static const char *const top_keys[] = {"organization-name", "date-range",
                                       "contact-info",      "report-id",
                                       "policies",          NULL};
static const char *const range_keys[] = {"start-datetime", "end-datetime",
                                         NULL};

static void parse_top(struct mts_rpt_report *r, json_t *root) {
  struct mts_rpt_report_data *d = &r->data;
  struct mts_rpt_policy *pv;
  json_t *dr, *pol, *ci, *v;
  size_t i, cnt;
  bool s_ok, e_ok;

  if (!json_is_object(root)) {
    finding(r, "report-not-object", MTS_SEV_ERROR, 0, 0,
            "the report is not a JSON object");
    return;
  }
  if (json_object_get(root, "organization-name") == NULL) {
    finding(r, "report-no-organization", MTS_SEV_WARNING, 0, 0,
            "\"organization-name\" missing");
  } else {
    d->organization_name =
        get_string(r, root, "organization-name", "the report", OPTIONAL);
  }
  dr = json_object_get(root, "date-range");
  if (dr == NULL) {
    missing(r, "date-range", "the report");
  } else if (!json_is_object(dr)) {
    wrong_type(r, "date-range", dr, "an object");
  } else {
    s_ok = get_datetime(r, dr, "start-datetime", &d->start, &d->start_had_zone);
    e_ok = get_datetime(r, dr, "end-datetime", &d->end, &d->end_had_zone);
    if (s_ok && e_ok && d->start > d->end) {
      finding(r, "report-date-order", MTS_SEV_ERROR, 0, 0,
              "\"start-datetime\" is after \"end-datetime\"");
    }
    unknown_keys(r, dr, range_keys, "\"date-range\"");
  }
  ci = json_object_get(root, "contact-info");
  if (ci == NULL || json_is_null(ci)) {
    finding(r, "report-no-contact-info", MTS_SEV_WARNING, 0, 0,
            ci == NULL ? "\"contact-info\" missing"
                       : "\"contact-info\" is null");
  } else {
    d->contact_info =
        get_string(r, root, "contact-info", "the report", OPTIONAL);
  }
  d->report_id = get_string(r, root, "report-id", "the report", REQUIRED);
  pol = json_object_get(root, "policies");
  if (pol == NULL) {
    missing(r, "policies", "the report");
  } else if (json_is_object(pol)) {
    finding(r, "report-policies-object", MTS_SEV_WARNING, 0, 0,
            "\"policies\" is one object, not an array (RFC 8460 4 MUST)");
    if (items_add(r, 1)) {
      pv = mts_arena_alloc(r->arena, sizeof(*pv));
      if (pv == NULL) {
        oom(r);
        return;
      }
      memset(pv, 0, sizeof(*pv));
      d->policies = pv;
      d->npolicies = 1;
      parse_policy(r, pol, pv);
    }
  } else if (!json_is_array(pol)) {
    wrong_type(r, "policies", pol, "an array of objects");
  } else if ((cnt = json_array_size(pol)) == 0) {
    finding(r, "report-no-policies", MTS_SEV_ERROR, 0, 0,
            "\"policies\" is empty");
  } else if (items_add(r, cnt)) {
    pv = mts_arena_alloc(r->arena, cnt * sizeof(*pv));
    if (pv == NULL) {
      oom(r);
      return;
    }
    memset(pv, 0, cnt * sizeof(*pv));
    d->policies = pv;
    d->npolicies = cnt;
    json_array_foreach(pol, i, v) {
      parse_policy(r, v, &pv[i]);
    }
  }
  unknown_keys(r, root, top_keys, "the report");
}

enum prescan { PRESCAN_OK, PRESCAN_DEEP, PRESCAN_TOKENS };

/* One linear scan before jansson: PRESCAN_DEEP when the nesting of [
 * and { outside strings exceeds MTS_RPT_REPORT_DEPTH (jansson recurses),
 * PRESCAN_TOKENS when '{', '[' and ',' outside strings are more than
 * MTS_RPT_REPORT_MAX_TOKENS (jansson builds the whole tree before any
 * item is counted; each value or member but a container's first costs
 * one of these). Whichever comes first in the input. */
static enum prescan prescan(const uint8_t *s, size_t len) {
  size_t i, depth = 0, tokens = 0;
  bool str = false;

  for (i = 0; i < len; i++) {
    uint8_t c = s[i];

    if (str) {
      if (c == '\\') {
        i++;
      } else if (c == '"') {
        str = false;
      }
    } else if (c == '"') {
      str = true;
    } else if (c == '[' || c == '{') {
      if (++depth > MTS_RPT_REPORT_DEPTH) {
        return PRESCAN_DEEP;
      }
      if (++tokens > MTS_RPT_REPORT_MAX_TOKENS) {
        return PRESCAN_TOKENS;
      }
    } else if (c == ',') {
      if (++tokens > MTS_RPT_REPORT_MAX_TOKENS) {
        return PRESCAN_TOKENS;
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      depth--;
    }
  }
  return PRESCAN_OK;
}

/* Load the JSON tree (NULL with a finding or oom set). */
static json_t *load(struct mts_rpt_report *r, const uint8_t *data, size_t len,
                    enum mts_status *st) {
  json_error_t err;
  json_t *root;
  size_t bad;
  char snip[SNIP];
  char *msg;

  if (len > MTS_RPT_REPORT_MAX) {
    finding(r, "report-too-big", MTS_SEV_ERROR, 0, 0,
            "report larger than MTS_RPT_REPORT_MAX, not parsed");
    return NULL;
  }
  bad = utf8_first_bad(data, len);
  if (bad < len) {
    msg = mts_arena_printf(r->arena,
                           "byte %zu (0x%02x) is not UTF-8 (I-JSON, RFC 7493)",
                           bad, data[bad]);
    if (msg == NULL) {
      oom(r);
      return NULL;
    }
    finding(r, "report-invalid-utf8", MTS_SEV_ERROR, 0, 0, msg);
    return NULL;
  }
  switch (prescan(data, len)) {
  case PRESCAN_DEEP:
    finding(r, "report-too-deep", MTS_SEV_ERROR, 0, 0,
            "JSON nesting deeper than MTS_RPT_REPORT_DEPTH");
    return NULL;
  case PRESCAN_TOKENS:
    finding(r, "report-too-many-tokens", MTS_SEV_ERROR, 0, 0,
            "more than MTS_RPT_REPORT_MAX_TOKENS JSON values ('{', '[' and "
            "',' outside strings), not parsed");
    return NULL;
  case PRESCAN_OK:
    break;
  }
  root = json_loadb(len == 0 ? "" : (const char *)data, len,
                    JSON_REJECT_DUPLICATES, &err);
  if (root != NULL) {
    return root;
  }
  if (json_error_code(&err) == json_error_out_of_memory) {
    *st = MTS_ENOMEM;
    return NULL;
  }
  mts_findings_escape((const uint8_t *)err.text,
                      strnlen(err.text, sizeof(err.text)), snip, sizeof(snip));
  msg = mts_arena_printf(r->arena, "JSON: %s", snip);
  if (msg == NULL) {
    oom(r);
    return NULL;
  }
  finding(r,
          json_error_code(&err) == json_error_duplicate_key
              ? "report-duplicate-key"
              : "report-json",
          MTS_SEV_ERROR, err.line > 0 ? (uint32_t)err.line : 0,
          err.column > 0 ? (uint32_t)err.column : 0, msg);
  return NULL;
}

enum mts_status mts_rpt_report_parse(struct mts_ctx *ctx, const uint8_t *data,
                                     size_t len, struct mts_rpt_report **out) {
  struct mts_arena *arena = NULL;
  struct mts_rpt_report *r;
  json_t *root;
  enum mts_status st = MTS_OK;

  if (out != NULL) {
    *out = NULL;
  }
  if (ctx == NULL || out == NULL || (data == NULL && len > 0)) {
    return MTS_EINVAL;
  }
  r = mts_arena_create_object(ctx, sizeof(*r), &arena);
  if (r == NULL) {
    return MTS_ENOMEM;
  }
  r->arena = arena;
  mts_findings_init(&r->findings, arena);
  mts_findings_limit(&r->findings, MTS_RPT_REPORT_MAX_FINDINGS,
                     "report-findings-truncated");
  r->jf.findings = &r->findings;
  r->jf.arena = arena;
  r->jf.code_wrong_type = "report-wrong-type";
  r->jf.code_missing = "report-missing-key";
  r->jf.code_unknown = "report-unknown-key";
  root = load(r, data == NULL ? (const uint8_t *)"" : data, len, &st);
  if (root != NULL) {
    parse_top(r, root);
    json_decref(root);
  }
  mts_findings_finish(&r->findings);
  if (st == MTS_OK && r->findings.oom) {
    st = MTS_ENOMEM;
  }
  if (st != MTS_OK) {
    mts_rpt_report_destroy(r);
    return st;
  }
  *out = r;
  return MTS_OK;
}

void mts_rpt_report_destroy(struct mts_rpt_report *r) {
  if (r == NULL) {
    return;
  }
  mts_findings_cleanup(&r->findings);
  mts_arena_destroy(r->arena);
}

const struct mts_rpt_report_data *
mts_rpt_report_data(const struct mts_rpt_report *r) {
  return r != NULL ? &r->data : NULL;
}

bool mts_rpt_report_valid(const struct mts_rpt_report *r) {
  return r != NULL && !mts_findings_any(&r->findings, MTS_SEV_WARNING);
}

bool mts_rpt_report_usable(const struct mts_rpt_report *r) {
  return r != NULL && !mts_findings_any(&r->findings, MTS_SEV_ERROR);
}

const struct mts_findings *
mts_rpt_report_findings(const struct mts_rpt_report *r) {
  return r != NULL ? &r->findings : NULL;
}
