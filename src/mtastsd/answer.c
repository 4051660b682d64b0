/*
 * answer.c - socketmap reply payloads for resolver answers. See answer.h
 * and docs/decisions.md (AN-n).
 */
#include "answer.h"

#include <string.h>

#include <mtasts/limits.h>
#include <mtasts/sts_discover.h>
#include <mtasts/sts_match.h>
#include <mtasts/sts_policy.h>

/* A bounded string builder over the caller's buffer; `over` is sticky. */
struct out {
  char *p;
  size_t cap; /* bytes usable for text (NUL excluded) */
  size_t len;
  bool over;
};

static void out_init(struct out *o, char *buf, size_t bufsize) {
  o->p = buf;
  o->cap = bufsize > 0 ? bufsize - 1 : 0;
  /* Never more than Postfix reads (AN-6). */
  if (o->cap > MTS_SOCKETMAP_REPLY_MAX) {
    o->cap = MTS_SOCKETMAP_REPLY_MAX;
  }
  o->len = 0;
  o->over = bufsize == 0;
  if (bufsize > 0) {
    buf[0] = '\0';
  }
}

static void out_put(struct out *o, const char *s, size_t n) {
  if (o->over || n > o->cap - o->len) {
    o->over = true;
    return;
  }
  memcpy(o->p + o->len, s, n);
  o->len += n;
  o->p[o->len] = '\0';
}

static void out_str(struct out *o, const char *s) { out_put(o, s, strlen(s)); }

static char ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static bool is_ldh(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '-';
}

/* An RFC 5321 Domain of A-labels (LDH labels of 1..63, at most 253
 * octets, no trailing dot) whose last label is not all digits, so no IPv4
 * address passes (AN-3). */
static bool valid_host(const char *s) {
  size_t n = strlen(s), i, lab = 0;
  bool digits = true;

  if (n == 0 || n > MTS_DOMAIN_MAX) {
    return false;
  }
  for (i = 0; i < n; i++) {
    if (s[i] == '.') {
      if (lab == 0 || s[i - 1] == '-') {
        return false;
      }
      lab = 0;
      digits = true;
      continue;
    }
    if (!is_ldh(s[i]) || (lab == 0 && s[i] == '-') || ++lab > MTS_LABEL_MAX) {
      return false;
    }
    if (s[i] < '0' || s[i] > '9') {
      digits = false;
    }
  }
  return lab > 0 && s[n - 1] != '-' && !digits;
}

bool mtastsd_answer_match_pattern(const char *pat, char *out, size_t outsize) {
  const char *host = pat;
  size_t n, i, off = 0;

  if (pat == NULL || out == NULL || outsize == 0) {
    return false;
  }
  out[0] = '\0';
  if (pat[0] == '*' && pat[1] == '.') {
    host = pat + 2;
    off = 1; /* "*.x" -> ".x" */
  }
  if (!valid_host(host)) {
    return false;
  }
  n = strlen(host);
  if (off + n + 1 > outsize) {
    return false;
  }
  if (off == 1) {
    out[0] = '.';
  }
  for (i = 0; i < n; i++) {
    out[off + i] = ascii_lower(host[i]);
  }
  out[off + n] = '\0';
  return true;
}

static bool caseless_eq(const char *a, const char *b) {
  while (*a != '\0' && ascii_lower(*a) == ascii_lower(*b)) {
    a++;
    b++;
  }
  return ascii_lower(*a) == ascii_lower(*b);
}

/* Pattern i is usable and not a (case-insensitive) repeat of an earlier
 * usable one. Quadratic, but a policy is at most 64 KiB. */
static bool mx_wanted(const struct mts_sts_policy *p, size_t i, char *norm,
                      size_t normsize) {
  const char *mx = mts_sts_policy_mx(p, i);
  char tmp[MTS_DOMAIN_MAX + 2];
  size_t j;

  if (mx == NULL || !mtastsd_answer_match_pattern(mx, norm, normsize)) {
    return false;
  }
  for (j = 0; j < i; j++) {
    const char *prev = mts_sts_policy_mx(p, j);

    if (prev != NULL && caseless_eq(prev, mx) &&
        mtastsd_answer_match_pattern(prev, tmp, sizeof(tmp))) {
      return false;
    }
  }
  return true;
}

size_t mtastsd_answer_policy_string(const char *line, char *out,
                                    size_t outsize) {
  size_t n, start = 0, i;

  if (line == NULL || out == NULL || outsize == 0) {
    return 0;
  }
  n = strlen(line);
  while (start < n && (line[start] == ' ' || line[start] == '\t')) {
    start++;
  }
  while (n > start && (line[n - 1] == ' ' || line[n - 1] == '\t' ||
                       line[n - 1] == '\r')) {
    n--;
  }
  if (n == start || n - start + 1 > outsize) {
    out[0] = '\0';
    return 0;
  }
  for (i = start; i < n; i++) {
    unsigned char c = (unsigned char)line[i];

    if (c == '\t') {
      out[i - start] = ' '; /* WSP: the reply must be printable */
    } else if (c < 0x20 || c > 0x7e || c == '{' || c == '}') {
      out[i - start] = '?';
    } else {
      out[i - start] = (char)c;
    }
  }
  out[n - start] = '\0';
  return n - start;
}

/* \p name is already one of the ':'-separated names written since
 * \p start. */
static bool listed(const struct out *w, size_t start, const char *name) {
  size_t n = strlen(name), i = start;

  while (i < w->len) {
    size_t j = i;

    while (j < w->len && w->p[j] != ':') {
      j++;
    }
    if (j - i == n && memcmp(w->p + i, name, n) == 0) {
      return true;
    }
    i = j + 1;
  }
  return false;
}

static void put_name(struct out *w, size_t start, const char *name,
                     size_t *used) {
  if (listed(w, start, name)) {
    return;
  }
  if ((*used)++ > 0) {
    out_str(w, ":");
  }
  out_str(w, name);
}

/* Each MX host of \p set that the wildcard \p pat matches (RFC 8461
 * 4.1: exactly one label), in set order (AN-2). */
static void put_expanded(struct out *w, size_t start, const char *pat,
                         const struct mtastsd_mxset *set, size_t *used) {
  size_t k;

  for (k = 0; k < set->n; k++) {
    const char *h = set->hosts[k];
    bool m = false;

    if (h != NULL && valid_host(h) &&
        mts_sts_match(pat, strlen(pat), h, strlen(h), &m) == MTS_OK && m) {
      put_name(w, start, h, used);
    }
  }
}

bool mtastsd_answer_needs_mx(const struct mts_sts_answer *a,
                             const struct mtastsd_answer_opts *o) {
  enum mts_sts_mode mode;
  char norm[MTS_DOMAIN_MAX + 2];
  size_t i, n;

  if (a == NULL || o == NULL || !o->expand_wildcards ||
      a->kind != MTS_ANSWER_POLICY || a->policy == NULL) {
    return false;
  }
  mode = mts_sts_policy_mode(a->policy);
  if (mode != MTS_STS_MODE_ENFORCE &&
      !(mode == MTS_STS_MODE_TESTING && o->strict_testing)) {
    return false;
  }
  n = mts_sts_policy_mx_count(a->policy);
  for (i = 0; i < n; i++) {
    if (mtastsd_answer_match_pattern(mts_sts_policy_mx(a->policy, i), norm,
                                     sizeof(norm)) &&
        norm[0] == '.') {
      return true;
    }
  }
  return false;
}

/* "OK secure match=... [servername=hostname] [TLSRPT attributes]" as the
 * data of an OK reply (without "OK "). \return the number of names in
 * match= (0: no usable pattern); \p *nomatch: the patterns were all
 * wildcards matching no MX host, and match= holds MTASTSD_NO_MX_MATCH. */
static size_t build_secure(const struct mts_sts_answer *a,
                           const struct mtastsd_answer_opts *o, bool tlsrpt,
                           struct out *w, bool *nomatch) {
  const struct mts_sts_policy *p = a->policy;
  size_t i, n = mts_sts_policy_mx_count(p), used = 0, usable = 0, start;
  char norm[MTS_DOMAIN_MAX + 2];
  char line[MTS_POLICY_MAX_SIZE + 1];

  *nomatch = false;
  out_str(w, "secure match=");
  start = w->len;
  for (i = 0; i < n; i++) {
    if (mx_wanted(p, i, norm, sizeof(norm))) {
      usable++;
      if (norm[0] == '.' && o->mx != NULL) {
        put_expanded(w, start, mts_sts_policy_mx(p, i), o->mx, &used);
      } else {
        put_name(w, start, norm, &used);
      }
    }
  }
  if (usable == 0) {
    return 0;
  }
  if (used == 0) {
    /* Only wildcards, none matching an MX host: refuse every MX rather
     * than answer NOTFOUND (opportunistic TLS). AN-2. */
    out_str(w, MTASTSD_NO_MX_MATCH);
    used = 1;
    *nomatch = true;
  }
  if (o->require_sni) {
    out_str(w, " servername=hostname");
  }
  if (!tlsrpt) {
    return used;
  }
  /* Postfix 3.10 TLSRPT attributes (AN-2, AN-5): policy_domain must be a
   * valid host name, which a normalised lookup key is. */
  out_str(w, " policy_type=sts policy_domain=");
  out_str(w, a->domain != NULL ? a->domain : "");
  for (i = 0; i < n; i++) {
    if (mx_wanted(p, i, norm, sizeof(norm))) {
      out_str(w, " mx_host_pattern=");
      out_str(w, norm[0] == '.' ? "*" : "");
      out_str(w, norm);
    }
  }
  n = mts_sts_policy_line_count(p);
  for (i = 0; i < n; i++) {
    size_t len = mtastsd_answer_policy_string(mts_sts_policy_line(p, i), line,
                                              sizeof(line));

    if (len > 0) {
      out_str(w, " { policy_string = ");
      out_put(w, line, len);
      out_str(w, " }");
    }
  }
  if (o->policy_failure) {
    const char *rt = mts_sts_verdict_result_type(a->last_verdict);

    if (rt != NULL) {
      out_str(w, " policy_failure=");
      out_str(w, rt);
    }
  }
  return used;
}

static void notfound(char *buf, size_t bufsize, struct mtastsd_reply *r,
                     const char *why) {
  if (bufsize > 0) {
    buf[0] = '\0';
  }
  r->kind = MTS_SOCKETMAP_REPLY_NOTFOUND;
  r->len = 0;
  r->why = why;
}

void mtastsd_answer_opts_init(struct mtastsd_answer_opts *o,
                              const struct mtastsd_zone *zone,
                              const struct mtastsd_config *cfg) {
  memset(o, 0, sizeof(*o));
  o->require_sni = true;
  o->on_tempfail = MTASTSD_TEMPFAIL_NOTFOUND;
  if (zone != NULL) {
    o->strict_testing = zone->strict_testing;
    o->require_sni = zone->require_sni;
    o->tlsrpt = zone->tlsrpt;
  }
  o->expand_wildcards = true;
  if (cfg != NULL) {
    o->on_tempfail = cfg->on_tempfail;
    o->expand_wildcards = cfg->wildcard_match == MTASTSD_WILDCARD_EXPAND;
  }
}

void mtastsd_answer_build(const struct mts_sts_answer *a,
                          const struct mtastsd_answer_opts *o, char *buf,
                          size_t bufsize, struct mtastsd_reply *r) {
  struct out w;
  enum mts_sts_mode mode;
  const char *why;
  bool nomatch = false;

  if (a == NULL || o == NULL) {
    notfound(buf, bufsize, r, "no policy");
    return;
  }
  if (a->kind == MTS_ANSWER_TEMP) {
    if (o->on_tempfail != MTASTSD_TEMPFAIL_TEMP) {
      notfound(buf, bufsize, r, "tempfail");
      return;
    }
    out_init(&w, buf, bufsize);
    out_str(&w, "MTA-STS policy not available in time");
    r->kind = MTS_SOCKETMAP_REPLY_TEMP;
    r->len = w.over ? 0 : w.len;
    r->why = "tempfail";
    return;
  }
  if (a->kind != MTS_ANSWER_POLICY || a->policy == NULL) {
    notfound(buf, bufsize, r,
             a->policy != NULL ? "mode none" : "no policy");
    return;
  }
  mode = mts_sts_policy_mode(a->policy);
  if (mode == MTS_STS_MODE_ENFORCE) {
    why = "enforce";
  } else if (mode == MTS_STS_MODE_TESTING && o->strict_testing) {
    why = "testing (strict)";
  } else {
    notfound(buf, bufsize, r,
             mode == MTS_STS_MODE_TESTING ? "mode testing" : "mode none");
    return;
  }

  out_init(&w, buf, bufsize);
  if (build_secure(a, o, o->tlsrpt, &w, &nomatch) == 0) {
    /* Never "match=" with nothing after it (AN-3). */
    notfound(buf, bufsize, r, "no usable mx pattern");
    return;
  }
  if (w.over && o->tlsrpt) {
    /* Too large with the TLSRPT attributes: answer without them rather
     * than drop the policy (AN-6). */
    out_init(&w, buf, bufsize);
    (void)build_secure(a, o, false, &w, &nomatch);
    why = "enforce, TLSRPT attributes dropped (too large)";
  } else if (nomatch) {
    why = mode == MTS_STS_MODE_ENFORCE
              ? "enforce, no MX host matches the policy"
              : "testing (strict), no MX host matches the policy";
  } else if (o->expand_wildcards && o->mx == NULL &&
             mtastsd_answer_needs_mx(a, o)) {
    why = mode == MTS_STS_MODE_ENFORCE
              ? "enforce, wildcards unexpanded (no MX set)"
              : "testing (strict), wildcards unexpanded (no MX set)";
  }
  if (w.over) {
    notfound(buf, bufsize, r, "answer too large");
    return;
  }
  r->kind = MTS_SOCKETMAP_REPLY_OK;
  r->len = w.len;
  r->why = why;
}
