/*
 * rpt_filename.c - the RFC 8460 5.1 report file name; see
 * mtasts/rpt_filename.h.
 *
 * The name is taken apart from the end: the extension follows the
 * first "." after the last "!" (neither a time stamp nor a unique-id
 * contains a "."), and the rest splits at "!" into 4 or 5 fields.
 */
#include <mtasts/rpt_filename.h>

#include <stdio.h>
#include <string.h>

#include "core/ascii_int.h"
#include "rpt/rpt_report_int.h"

/* A domain field: an A-label host name, copied lower-cased. */
static bool domain_field(const char *s, size_t len, char *out, size_t size) {
  size_t i;

  if (len >= size || !mts_rpt_ldh_host(s, len, false)) {
    return false;
  }
  for (i = 0; i < len; i++) {
    out[i] = (char)mts_lower((uint8_t)s[i]);
  }
  out[len] = '\0';
  return true;
}

/* 1*DIGIT seconds since the epoch, within int64_t. */
static bool time_field(const char *s, size_t len, int64_t *out) {
  int64_t v = 0;
  size_t i;

  if (len == 0) {
    return false;
  }
  for (i = 0; i < len; i++) {
    int d;

    if (!mts_is_digit((uint8_t)s[i])) {
      return false;
    }
    d = s[i] - '0';
    if (v > (INT64_MAX - d) / 10) {
      return false;
    }
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

static bool uid_ok(const char *s, size_t len) {
  size_t i;

  if (len == 0) {
    return false;
  }
  for (i = 0; i < len; i++) {
    if (!mts_is_alnum((uint8_t)s[i])) {
      return false;
    }
  }
  return true;
}

enum mts_status mts_rpt_filename_parse(const char *name,
                                       struct mts_rpt_filename *out) {
  const char *bang, *dot, *field[5], *end;
  size_t flen[5], n = 0;
  struct mts_rpt_filename fn;
  const char *p;

  if (out != NULL) {
    memset(out, 0, sizeof(*out));
  }
  if (name == NULL || out == NULL) {
    return MTS_EINVAL;
  }
  memset(&fn, 0, sizeof(fn));
  bang = strrchr(name, '!');
  if (bang == NULL) {
    return MTS_EINVAL;
  }
  dot = strchr(bang, '.');
  if (dot == NULL) {
    return MTS_EINVAL;
  }
  if (strcmp(dot, ".json") == 0) {
    fn.gzip = false;
  } else if (strcmp(dot, ".json.gz") == 0) {
    fn.gzip = true;
  } else {
    return MTS_EINVAL;
  }
  end = dot;
  p = name;
  for (;;) {
    const char *q = memchr(p, '!', (size_t)(end - p));

    if (n == 5) {
      return MTS_EINVAL;
    }
    field[n] = p;
    flen[n] = (size_t)((q != NULL ? q : end) - p);
    n++;
    if (q == NULL) {
      break;
    }
    p = q + 1;
  }
  if (n < 4 || !domain_field(field[0], flen[0], fn.sender, sizeof(fn.sender)) ||
      !domain_field(field[1], flen[1], fn.policy_domain,
                    sizeof(fn.policy_domain)) ||
      !time_field(field[2], flen[2], &fn.begin) ||
      !time_field(field[3], flen[3], &fn.end)) {
    return MTS_EINVAL;
  }
  if (n == 5) {
    if (!uid_ok(field[4], flen[4]) || flen[4] >= sizeof(fn.unique_id)) {
      return MTS_EINVAL;
    }
    memcpy(fn.unique_id, field[4], flen[4]);
    fn.unique_id[flen[4]] = '\0';
  }
  *out = fn;
  return MTS_OK;
}

enum mts_status mts_rpt_filename_format(const struct mts_rpt_filename *fn,
                                        char *buf, size_t size) {
  char sender[sizeof(fn->sender)], domain[sizeof(fn->policy_domain)];
  size_t ulen;
  int n;

  if (buf != NULL && size > 0) {
    buf[0] = '\0';
  }
  if (fn == NULL || buf == NULL || size == 0) {
    return MTS_EINVAL;
  }
  ulen = strnlen(fn->unique_id, sizeof(fn->unique_id));
  if (!domain_field(fn->sender, strnlen(fn->sender, sizeof(fn->sender)), sender,
                    sizeof(sender)) ||
      !domain_field(fn->policy_domain,
                    strnlen(fn->policy_domain, sizeof(fn->policy_domain)),
                    domain, sizeof(domain)) ||
      fn->begin < 0 || fn->end < 0 || ulen >= sizeof(fn->unique_id) ||
      (ulen > 0 && !uid_ok(fn->unique_id, ulen))) {
    return MTS_EINVAL;
  }
  n = snprintf(buf, size, "%s!%s!%lld!%lld%s%s.%s", sender, domain,
               (long long)fn->begin, (long long)fn->end, ulen > 0 ? "!" : "",
               fn->unique_id, fn->gzip ? "json.gz" : "json");
  if (n < 0 || (size_t)n >= size) {
    buf[0] = '\0';
    return MTS_ETOOBIG;
  }
  return MTS_OK;
}
