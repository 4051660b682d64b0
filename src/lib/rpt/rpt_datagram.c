/*
 * rpt_datagram.c - one libtlsrpt datagram (TLSRPT-NOTES 1.2); see
 * mtasts/rpt_datagram.h.
 *
 * jansson does the JSON grammar (with JSON_REJECT_DUPLICATES); this
 * file checks the layout key by key. Input that is not UTF-8 is first
 * copied with U+FFFD for each bad byte, because jansson rejects it and
 * libtlsrpt passes raw bytes through (TLSRPT-NOTES 1.2, "Escaping").
 */
#include <mtasts/rpt_datagram.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "core/arena_int.h"
#include "core/ascii_int.h"
#include "core/findings_int.h"
#include "rpt/rpt_json_int.h"

#define SNIP 64
/* Unknown keys are reported as info findings up to this many. */

struct mts_rpt_datagram {
  struct mts_arena *arena;
  struct mts_findings findings;
  const char *dpv;
  const char *domain;
  const char *record;
  struct mts_rpt_dgram_policy *policies;
  size_t npolicies;
  struct mts_rpt_json_findings jf; /* findings helpers (rpt_json_int.h) */
};

static const struct {
  long code;
  const char *type;
} result_types[] = {
    {201, "starttls-not-supported"}, {202, "certificate-host-mismatch"},
    {203, "certificate-not-trusted"}, {204, "certificate-expired"},
    {205, "validation-failure"},      {301, "sts-policy-fetch-error"},
    {302, "sts-policy-invalid"},      {303, "sts-webpki-invalid"},
    {304, "tlsa-invalid"},            {305, "dnssec-invalid"},
    {306, "dane-required"},
};

const char *mts_rpt_datagram_result_type(long code) {
  size_t i;

  for (i = 0; i < sizeof(result_types) / sizeof(result_types[0]); i++) {
    if (result_types[i].code == code) {
      return result_types[i].type;
    }
  }
  return NULL;
}

const char *mts_rpt_datagram_policy_type_str(enum mts_rpt_policy_type type) {
  switch (type) {
  case MTS_RPT_POLICY_TLSA:
    return "tlsa";
  case MTS_RPT_POLICY_STS:
    return "sts";
  case MTS_RPT_POLICY_NO_POLICY_FOUND:
    return "no-policy-found";
  case MTS_RPT_POLICY_UNKNOWN:
    break;
  }
  return NULL;
}

/* Add a finding with a preformatted message; an allocation failure is
 * remembered in findings.oom and surfaces at the end of the parse. */
static void finding(struct mts_rpt_datagram *dg, const char *code,
                    enum mts_severity sev, uint32_t line, uint32_t col,
                    const char *msg) {
  if (mts_findings_add(&dg->findings, code, sev, line, col, "%s", msg) !=
      MTS_OK) {
    return;
  }
}

/* A finding whose message names a key and one escaped string value. */
static void finding_kv(struct mts_rpt_datagram *dg, const char *code,
                       enum mts_severity sev, const char *key,
                       const char *what, const char *val) {
  mts_rpt_json_kv(&dg->jf, code, sev, key, what, val);
}

/* ---- UTF-8 ---- */

/* \return the length of the valid UTF-8 sequence at s[0], or 0 (RFC 3629
 * 4: no overlongs, no surrogates, at most U+10FFFF). */
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
  if (len < n) {
    return 0;
  }
  if (s[1] < lo || s[1] > hi) {
    return 0;
  }
  for (i = 2; i < n; i++) {
    if (s[i] < 0x80 || s[i] > 0xBF) {
      return 0;
    }
  }
  return n;
}

/* \return the number of bytes that are not part of valid UTF-8. */
static size_t utf8_bad_count(const uint8_t *s, size_t len) {
  size_t i = 0, bad = 0, n;

  while (i < len) {
    n = utf8_seq(s + i, len - i);
    if (n == 0) {
      bad++;
      n = 1;
    }
    i += n;
  }
  return bad;
}

/* Copy \p s with each bad byte replaced by U+FFFD (EF BF BD). */
static uint8_t *utf8_repair(struct mts_ctx *ctx, const uint8_t *s, size_t len,
                            size_t bad, size_t *outlen) {
  uint8_t *o;
  size_t i = 0, j = 0, n;

  o = mts_malloc(ctx, len + 2 * bad + 1);
  if (o == NULL) {
    return NULL;
  }
  while (i < len) {
    n = utf8_seq(s + i, len - i);
    if (n == 0) {
      o[j++] = 0xEF;
      o[j++] = 0xBF;
      o[j++] = 0xBD;
      i++;
      continue;
    }
    memcpy(o + j, s + i, n);
    i += n;
    j += n;
  }
  *outlen = j;
  return o;
}

/* ---- values ---- */

/* A host name as Postfix writes it: LDH labels (`_` tolerated) of 1..63
 * octets, at most MTS_DOMAIN_MAX octets, one trailing dot allowed. */
static bool host_syntax(const char *s, size_t len) {
  size_t i, lab = 0;

  if (len > 0 && s[len - 1] == '.') {
    len--;
  }
  if (len == 0 || len > 253) {
    return false;
  }
  for (i = 0; i < len; i++) {
    uint8_t c = (uint8_t)s[i];

    if (c == '.') {
      if (lab == 0) {
        return false;
      }
      lab = 0;
      continue;
    }
    if (!mts_is_alnum(c) && c != '-' && c != '_') {
      return false;
    }
    if (++lab > 63) {
      return false;
    }
  }
  return lab > 0;
}

/* Lower-case copy without the trailing dot; NULL on OOM. */
static const char *host_norm(struct mts_arena *a, const char *s) {
  size_t len = strlen(s), i;
  char *o;

  if (len > 0 && s[len - 1] == '.') {
    len--;
  }
  o = mts_arena_strndup(a, s, len);
  if (o == NULL) {
    return NULL;
  }
  for (i = 0; i < len; i++) {
    o[i] = (char)mts_lower((uint8_t)o[i]);
  }
  return o;
}

static bool ip_syntax(const char *s) {
  unsigned char buf[16];

  return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

static void wrong_type(struct mts_rpt_datagram *dg, const char *key,
                       const json_t *v, const char *want) {
  mts_rpt_json_wrong_type(&dg->jf, key, v, want);
}

static void missing(struct mts_rpt_datagram *dg, const char *key,
                    const char *where) {
  mts_rpt_json_missing(&dg->jf, key, where);
}

/* Info finding for keys not in \p known (NULL-terminated). */
static void unknown_keys(struct mts_rpt_datagram *dg, json_t *obj,
                         const char *const *known, const char *where) {
  mts_rpt_json_unknown_keys(&dg->jf, obj, known, where);
}

/* Copy string member \p key of \p obj into *out. Absent: *out stays
 * NULL, returns false. Wrong type: error finding. */
static bool get_string(struct mts_rpt_datagram *dg, json_t *obj,
                       const char *key, const char **out) {
  json_t *v = json_object_get(obj, key);

  *out = NULL;
  if (v == NULL) {
    return false;
  }
  if (!json_is_string(v)) {
    wrong_type(dg, key, v, "a string");
    return false;
  }
  *out = mts_arena_strndup(dg->arena, json_string_value(v),
                           json_string_length(v));
  if (*out == NULL) {
    dg->findings.oom = true;
    return false;
  }
  return true;
}

/* Integer member: false when absent (a missing-key error) or not an
 * integer (a wrong-type error). */
static bool get_int(struct mts_rpt_datagram *dg, json_t *obj, const char *key,
                    const char *where, long *out) {
  json_t *v = json_object_get(obj, key);
  json_int_t n;

  *out = 0;
  if (v == NULL) {
    missing(dg, key, where);
    return false;
  }
  if (!json_is_integer(v)) {
    wrong_type(dg, key, v, "an integer");
    return false;
  }
  n = json_integer_value(v);
  if (n < -2147483647 || n > 2147483647) {
    finding_kv(dg, "dgram-bad-value", MTS_SEV_ERROR, key, "out of range",
               NULL);
    return false;
  }
  *out = (long)n;
  return true;
}

/* Array of strings \p key of \p obj (absent: empty). */
static void get_strings(struct mts_rpt_datagram *dg, json_t *obj,
                        const char *key, const char *const **out,
                        size_t *n) {
  json_t *arr = json_object_get(obj, key), *v;
  const char **vec;
  size_t i, cnt;

  *out = NULL;
  *n = 0;
  if (arr == NULL) {
    return;
  }
  if (!json_is_array(arr)) {
    wrong_type(dg, key, arr, "an array of strings");
    return;
  }
  cnt = json_array_size(arr);
  if (cnt == 0) {
    return;
  }
  if (cnt > SIZE_MAX / sizeof(*vec)) {
    dg->findings.oom = true;
    return;
  }
  vec = mts_arena_alloc(dg->arena, cnt * sizeof(*vec));
  if (vec == NULL) {
    dg->findings.oom = true;
    return;
  }
  json_array_foreach(arr, i, v) {
    if (!json_is_string(v)) {
      wrong_type(dg, key, v, "an array of strings");
      return;
    }
    vec[i] = mts_arena_strndup(dg->arena, json_string_value(v),
                               json_string_length(v));
    if (vec[i] == NULL) {
      dg->findings.oom = true;
      return;
    }
  }
  *out = vec;
  *n = cnt;
}

/* ---- structure ---- */

static const char *const failure_keys[] = {"c", "s", "n", "h", "r", "a", "f",
                                           NULL};

/* An optional failure string: "" counts as absent (info). */
static const char *failure_string(struct mts_rpt_datagram *dg, json_t *obj,
                                  const char *key) {
  const char *s;

  if (!get_string(dg, obj, key, &s)) {
    return NULL;
  }
  if (s[0] == '\0') {
    finding_kv(dg, "dgram-empty-value", MTS_SEV_INFO, key,
               "empty string treated as absent", NULL);
    return NULL;
  }
  return s;
}

static const char *failure_ip(struct mts_rpt_datagram *dg, json_t *obj,
                              const char *key) {
  const char *s = failure_string(dg, obj, key);

  if (s != NULL && !ip_syntax(s)) {
    finding_kv(dg, "dgram-bad-ip", MTS_SEV_WARNING, key,
               "not an IP address, dropped:", s);
    return NULL;
  }
  return s;
}

static void parse_failure(struct mts_rpt_datagram *dg, json_t *obj,
                          struct mts_rpt_dgram_failure *f) {
  if (!json_is_object(obj)) {
    wrong_type(dg, "failure-details", obj, "an array of objects");
    return;
  }
  if (get_int(dg, obj, "c", "a failure entry", &f->code)) {
    f->result_type = mts_rpt_datagram_result_type(f->code);
    if (f->result_type == NULL) {
      finding_kv(dg, "dgram-unknown-code", MTS_SEV_WARNING, "c",
                 f->code == 901 ? "901 (libtlsrpt's internal unfinished policy)"
                                : "not a known failure code",
                 NULL);
    }
  }
  f->sending_ip = failure_ip(dg, obj, "s");
  f->receiving_mx_hostname = failure_string(dg, obj, "n");
  if (f->receiving_mx_hostname != NULL &&
      !host_syntax(f->receiving_mx_hostname,
                   strlen(f->receiving_mx_hostname))) {
    finding_kv(dg, "dgram-bad-mx-hostname", MTS_SEV_WARNING, "n",
               "not a host name:", f->receiving_mx_hostname);
  }
  f->receiving_mx_helo = failure_string(dg, obj, "h");
  f->receiving_ip = failure_ip(dg, obj, "r");
  f->additional_info = failure_string(dg, obj, "a");
  f->failure_reason = failure_string(dg, obj, "f");
  unknown_keys(dg, obj, failure_keys, "a failure entry");
}

static const char *const policy_keys[] = {
    "policy-type", "policy-domain", "policy-string", "mx-host",
    "failure-details", "t", "f", NULL};

static void parse_policy(struct mts_rpt_datagram *dg, json_t *obj,
                         struct mts_rpt_dgram_policy *p) {
  json_t *fd, *v;
  long type, fin;
  const char *dom;
  size_t i, cnt;
  struct mts_rpt_dgram_failure *fv;
  char msg[128];

  if (!json_is_object(obj)) {
    wrong_type(dg, "policies", obj, "an array of objects");
    return;
  }
  if (get_int(dg, obj, "policy-type", "a policy", &type)) {
    if (type == 1 || type == 2 || type == 9) {
      p->type = (enum mts_rpt_policy_type)type;
    } else {
      snprintf(msg, sizeof(msg), "\"policy-type\" %ld is not 1, 2 or 9", type);
      finding(dg, "dgram-bad-policy-type", MTS_SEV_ERROR, 0, 0, msg);
    }
  }
  if (get_string(dg, obj, "policy-domain", &dom)) {
    if (!host_syntax(dom, strlen(dom))) {
      finding_kv(dg, "dgram-bad-domain", MTS_SEV_ERROR, "policy-domain",
                 "not an A-label host name:", dom);
    } else if ((p->domain = host_norm(dg->arena, dom)) == NULL) {
      dg->findings.oom = true;
    }
  } else if (json_object_get(obj, "policy-domain") == NULL) {
    /* Postfix 3.10.0-3.10.4 (TLSRPT-NOTES 1.5): default to `d`. */
    p->domain = dg->domain;
    p->domain_defaulted = true;
    finding(dg, "dgram-no-policy-domain", MTS_SEV_INFO, 0, 0,
            "\"policy-domain\" absent; the TLSRPT domain \"d\" is used");
  }
  get_strings(dg, obj, "policy-string", &p->strings, &p->nstrings);
  get_strings(dg, obj, "mx-host", &p->mx_hosts, &p->nmx_hosts);
  if (get_int(dg, obj, "t", "a policy", &p->t) && p->t < 0) {
    finding(dg, "dgram-bad-value", MTS_SEV_ERROR, 0, 0,
            "\"t\" is negative");
  }
  if (get_int(dg, obj, "f", "a policy", &fin)) {
    if (fin == 0 || fin == 1) {
      p->failed = fin == 1;
    } else {
      snprintf(msg, sizeof(msg), "policy \"f\" %ld is not 0 or 1", fin);
      finding(dg, "dgram-bad-value", MTS_SEV_ERROR, 0, 0, msg);
    }
  }
  fd = json_object_get(obj, "failure-details");
  if (fd != NULL && !json_is_array(fd)) {
    wrong_type(dg, "failure-details", fd, "an array of objects");
  } else if (fd != NULL && (cnt = json_array_size(fd)) > 0) {
    if (cnt > SIZE_MAX / sizeof(*fv)) {
      dg->findings.oom = true;
      return;
    }
    fv = mts_arena_alloc(dg->arena, cnt * sizeof(*fv));
    if (fv == NULL) {
      dg->findings.oom = true;
      return;
    }
    memset(fv, 0, cnt * sizeof(*fv));
    json_array_foreach(fd, i, v) { parse_failure(dg, v, &fv[i]); }
    p->failures = fv;
    p->nfailures = cnt;
  }
  /* libtlsrpt does no plausibility checks (TLSRPT-NOTES 1.2): these are
   * passed through, counted by `f`, and flagged. */
  if (json_is_integer(json_object_get(obj, "t")) && p->t >= 0 &&
      (size_t)p->t != p->nfailures) {
    snprintf(msg, sizeof(msg), "\"t\" is %ld but %zu failure entries follow",
             p->t, p->nfailures);
    finding(dg, "dgram-count-mismatch", MTS_SEV_WARNING, 0, 0, msg);
  }
  if (!p->failed && p->nfailures > 0 &&
      json_is_integer(json_object_get(obj, "f"))) {
    finding(dg, "dgram-success-with-failures", MTS_SEV_WARNING, 0, 0,
            "final result success (f=0) with failure entries");
  }
  if (p->failed && p->nfailures == 0) {
    finding(dg, "dgram-failure-without-details", MTS_SEV_WARNING, 0, 0,
            "final result failure (f=1) without failure entries");
  }
  unknown_keys(dg, obj, policy_keys, "a policy");
}

static const char *const top_keys[] = {"dpv", "d", "pr", "policies", NULL};

static void parse_top(struct mts_rpt_datagram *dg, json_t *root) {
  json_t *pol, *v;
  const char *d;
  size_t i, cnt;

  if (!json_is_object(root)) {
    finding(dg, "dgram-not-object", MTS_SEV_ERROR, 0, 0,
            "the datagram is not a JSON object");
    return;
  }
  if (get_string(dg, root, "dpv", &dg->dpv)) {
    if (strcmp(dg->dpv, "1") != 0) {
      finding_kv(dg, "dgram-unknown-dpv", MTS_SEV_WARNING, "dpv",
                 "unknown datagram protocol version", dg->dpv);
    }
  } else if (json_object_get(root, "dpv") == NULL) {
    finding(dg, "dgram-no-dpv", MTS_SEV_INFO, 0, 0,
            "\"dpv\" absent (libtlsrpt 0.5.0rc1)");
  }
  if (get_string(dg, root, "d", &d)) {
    if (!host_syntax(d, strlen(d))) {
      finding_kv(dg, "dgram-bad-domain", MTS_SEV_ERROR, "d",
                 "not an A-label host name:", d);
    } else if ((dg->domain = host_norm(dg->arena, d)) == NULL) {
      dg->findings.oom = true;
    }
  } else if (json_object_get(root, "d") == NULL) {
    missing(dg, "d", "the datagram");
  }
  if (get_string(dg, root, "pr", &dg->record)) {
    if (strncmp(dg->record, "v=TLSRPTv1", 10) != 0) {
      finding_kv(dg, "dgram-bad-record", MTS_SEV_WARNING, "pr",
                 "does not start with v=TLSRPTv1:", dg->record);
    }
  } else if (json_object_get(root, "pr") == NULL) {
    missing(dg, "pr", "the datagram");
  }
  pol = json_object_get(root, "policies");
  if (pol == NULL) {
    missing(dg, "policies", "the datagram");
  } else if (!json_is_array(pol)) {
    wrong_type(dg, "policies", pol, "an array of objects");
  } else if ((cnt = json_array_size(pol)) == 0) {
    finding(dg, "dgram-no-policies", MTS_SEV_ERROR, 0, 0,
            "\"policies\" is empty");
  } else {
    if (cnt > SIZE_MAX / sizeof(*dg->policies)) {
      dg->findings.oom = true;
      return;
    }
    dg->policies = mts_arena_alloc(dg->arena, cnt * sizeof(*dg->policies));
    if (dg->policies == NULL) {
      dg->findings.oom = true;
      return;
    }
    memset(dg->policies, 0, cnt * sizeof(*dg->policies));
    dg->npolicies = cnt;
    json_array_foreach(pol, i, v) { parse_policy(dg, v, &dg->policies[i]); }
  }
  unknown_keys(dg, root, top_keys, "the datagram");
}

enum mts_status mts_rpt_datagram_parse(struct mts_ctx *ctx,
                                       const uint8_t *data, size_t len,
                                       struct mts_rpt_datagram **out) {
  struct mts_arena *arena = NULL;
  struct mts_rpt_datagram *dg = NULL;
  uint8_t *fixed = NULL;
  const uint8_t *in = data;
  size_t inlen = len, bad;
  json_t *root = NULL;
  json_error_t err;
  enum mts_status st = MTS_OK;
  char snip[SNIP];
  char *msg;

  if (out != NULL) {
    *out = NULL;
  }
  if (ctx == NULL || out == NULL || (data == NULL && len > 0)) {
    return MTS_EINVAL;
  }
  dg = mts_arena_create_object(ctx, sizeof(*dg), &arena);
  if (dg == NULL) {
    return MTS_ENOMEM;
  }
  dg->arena = arena;
  mts_findings_init(&dg->findings, arena);
  dg->jf.findings = &dg->findings;
  dg->jf.arena = arena;
  dg->jf.code_wrong_type = "dgram-wrong-type";
  dg->jf.code_missing = "dgram-missing-key";
  dg->jf.code_unknown = "dgram-unknown-key";

  if (len > MTS_RPT_DATAGRAM_MAX) {
    finding(dg, "dgram-too-big", MTS_SEV_ERROR, 0, 0,
            "datagram larger than MTS_RPT_DATAGRAM_MAX, not parsed");
    goto check;
  }
  bad = utf8_bad_count(data, len);
  if (bad > 0) {
    fixed = utf8_repair(ctx, data, len, bad, &inlen);
    if (fixed == NULL) {
      st = MTS_ENOMEM;
      goto done;
    }
    in = fixed;
    msg = mts_arena_printf(arena, "%zu bytes are not UTF-8; replaced by U+FFFD",
                           bad);
    if (msg == NULL) {
      st = MTS_ENOMEM;
      goto done;
    }
    finding(dg, "dgram-invalid-utf8", MTS_SEV_WARNING, 0, 0, msg);
  }
  root = json_loadb(in == NULL ? (const uint8_t *)"" : (const void *)in, inlen,
                    JSON_REJECT_DUPLICATES, &err);
  if (root == NULL) {
    enum json_error_code code = json_error_code(&err);

    if (code == json_error_out_of_memory) {
      st = MTS_ENOMEM;
      goto done;
    }
    mts_findings_escape((const uint8_t *)err.text, strnlen(err.text,
                                                           sizeof(err.text)),
                        snip, sizeof(snip));
    msg = mts_arena_printf(arena, "JSON: %s", snip);
    if (msg == NULL) {
      st = MTS_ENOMEM;
      goto done;
    }
    finding(dg,
            code == json_error_duplicate_key ? "dgram-duplicate-key"
                                             : "dgram-json",
            MTS_SEV_ERROR, err.line > 0 ? (uint32_t)err.line : 0,
            err.column > 0 ? (uint32_t)err.column : 0, msg);
    goto check;
  }
  parse_top(dg, root);
check:
  if (dg->findings.oom) {
    st = MTS_ENOMEM;
  }
done:
  json_decref(root);
  mts_free(ctx, fixed);
  if (st != MTS_OK) {
    mts_rpt_datagram_destroy(dg);
    return st;
  }
  if (!mts_rpt_datagram_usable(dg)) {
    /* Unusable: hand out no half-parsed policies. */
    dg->npolicies = 0;
  }
  *out = dg;
  return MTS_OK;
}

void mts_rpt_datagram_destroy(struct mts_rpt_datagram *dg) {
  if (dg == NULL) {
    return;
  }
  mts_findings_cleanup(&dg->findings);
  mts_arena_destroy(dg->arena);
}

bool mts_rpt_datagram_valid(const struct mts_rpt_datagram *dg) {
  return dg != NULL && !mts_findings_any(&dg->findings, MTS_SEV_WARNING);
}

bool mts_rpt_datagram_usable(const struct mts_rpt_datagram *dg) {
  return dg != NULL && !mts_findings_any(&dg->findings, MTS_SEV_ERROR);
}

const char *mts_rpt_datagram_dpv(const struct mts_rpt_datagram *dg) {
  return dg != NULL ? dg->dpv : NULL;
}

const char *mts_rpt_datagram_domain(const struct mts_rpt_datagram *dg) {
  return dg != NULL ? dg->domain : NULL;
}

const char *mts_rpt_datagram_policy_record(const struct mts_rpt_datagram *dg) {
  return dg != NULL ? dg->record : NULL;
}

size_t mts_rpt_datagram_policy_count(const struct mts_rpt_datagram *dg) {
  return dg != NULL ? dg->npolicies : 0;
}

const struct mts_rpt_dgram_policy *
mts_rpt_datagram_policy(const struct mts_rpt_datagram *dg, size_t i) {
  if (dg == NULL || i >= dg->npolicies) {
    return NULL;
  }
  return &dg->policies[i];
}

const struct mts_findings *
mts_rpt_datagram_findings(const struct mts_rpt_datagram *dg) {
  return dg != NULL ? &dg->findings : NULL;
}
