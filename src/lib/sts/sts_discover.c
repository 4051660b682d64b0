/*
 * sts_discover.c - MTA-STS policy discovery (RFC 8461 3, 3.3): the TXT
 * lookup of `_mta-sts.<domain>`, the HTTPS GET of the policy and the
 * verdict, on a struct mts_net.
 *
 * A discovery is one heap object that carries the request while it runs
 * and becomes the result: everything it reports (strings, the body, the
 * RRset, the parsed record and policy) is a copy it owns, so the
 * callback may destroy the net and keep the result.
 */
#include <mtasts/idn.h>
#include <mtasts/sts_discover.h>

#include <stdio.h>
#include <string.h>

#include "core/arena_int.h"
#include "core/ascii_int.h"
#include "core/findings_int.h"
#include "net/net_int.h"

#define STS_TXT_PREFIX "_mta-sts."
#define STS_HOST_PREFIX "mta-sts."
#define STS_POLICY_PATH "/.well-known/mta-sts.txt"
/* Untrusted text (Content-Type, Location) quoted in a reason. */
#define STS_QUOTE_MAX 120

struct mts_sts_discovery {
  struct mts_ctx *ctx;
  struct mts_arena *arena;

  /* While running. */
  struct mts_net *net;
  mts_sts_discover_cb cb;
  void *arg;
  unsigned flags;
  uint64_t t_start;

  /* The result. */
  enum mts_status status;
  enum mts_sts_verdict verdict;
  const char *reason;
  char domain[MTS_DOMAIN_MAX + 1];
  char txt_name[MTS_DOMAIN_MAX + 2];
  char host[MTS_DOMAIN_MAX + 2];
  enum mts_status txt_status;
  struct mts_txt_rrset *rrset;
  struct mts_sts_txt *txt;
  bool authenticated;
  const char *url;
  long http_status;
  const char *content_type;
  const uint8_t *body;
  size_t body_len;
  struct mts_sts_policy *policy;
  uint64_t dns_ms;
  uint64_t fetch_ms;
};

const char *mts_sts_verdict_str(enum mts_sts_verdict v) {
  switch (v) {
  case MTS_STS_V_POLICY:
    return "policy";
  case MTS_STS_V_NO_POLICY:
    return "no-policy";
  case MTS_STS_V_TXT_INVALID:
    return "txt-invalid";
  case MTS_STS_V_DNS_TEMPFAIL:
    return "dns-temporary-failure";
  case MTS_STS_V_FETCH_ERROR:
    return "sts-policy-fetch-error";
  case MTS_STS_V_WEBPKI_INVALID:
    return "sts-webpki-invalid";
  case MTS_STS_V_POLICY_INVALID:
    return "sts-policy-invalid";
  default:
    return "unknown";
  }
}

/* RFC 8460 4.3.2.2 (policy failures) result types. */
const char *mts_sts_verdict_result_type(enum mts_sts_verdict v) {
  switch (v) {
  case MTS_STS_V_FETCH_ERROR:
    return "sts-policy-fetch-error";
  case MTS_STS_V_WEBPKI_INVALID:
    return "sts-webpki-invalid";
  case MTS_STS_V_POLICY_INVALID:
    return "sts-policy-invalid";
  default:
    return NULL;
  }
}

/* ---- building the result ---- */

static void set_reason(struct mts_sts_discovery *d, const char *fmt, ...)
    MTS_PRINTF(2, 3);

static void set_reason(struct mts_sts_discovery *d, const char *fmt, ...) {
  va_list ap;
  char *r;

  va_start(ap, fmt);
  r = mts_arena_vprintf(d->arena, fmt, ap);
  va_end(ap);
  if (r == NULL) {
    d->status = MTS_ENOMEM;
    d->reason = "out of memory while building the reason";
    return;
  }
  d->reason = r;
}

static void set_verdict(struct mts_sts_discovery *d, enum mts_sts_verdict v) {
  d->verdict = v;
}

/* Hand the result to the caller. */
static void finish(struct mts_sts_discovery *d) {
  mts_sts_discover_cb cb = d->cb;
  void *arg = d->arg;

  d->net = NULL;
  cb(arg, d);
}

static void finish_enomem(struct mts_sts_discovery *d,
                          enum mts_sts_verdict v) {
  d->status = MTS_ENOMEM;
  set_verdict(d, v);
  d->reason = "out of memory";
  finish(d);
}

/* The first error finding, as "code: message", or a fallback. */
static const char *first_error(const struct mts_findings *f,
                               const char *fallback) {
  size_t i;

  for (i = 0; i < mts_findings_count(f); i++) {
    const struct mts_finding *x = mts_findings_get(f, i);

    if (x->severity == MTS_SEV_ERROR) {
      return x->message;
    }
  }
  return fallback;
}

static enum mts_status rrset_copy(struct mts_ctx *ctx,
                                  const struct mts_txt_rrset *src,
                                  struct mts_txt_rrset **out) {
  struct mts_txt_rrset *set = NULL;
  enum mts_status st;
  size_t rr;
  size_t i;

  *out = NULL;
  st = mts_txt_rrset_create(ctx, &set);
  for (rr = 0; st == MTS_OK && rr < mts_txt_rrset_count(src); rr++) {
    st = mts_txt_rrset_add_rr(set);
    for (i = 0; st == MTS_OK && i < mts_txt_rrset_nstrings(src, rr); i++) {
      size_t len = 0;
      const uint8_t *s = mts_txt_rrset_string(src, rr, i, &len);

      st = mts_txt_rrset_add_string(set, s, len);
    }
  }
  if (st != MTS_OK) {
    mts_txt_rrset_destroy(set);
    return st;
  }
  *out = set;
  return MTS_OK;
}

/* ---- the fetch ---- */

/* RFC 8461 3.2: media type text/plain; RFC 7231 3.1.1.1: type and
 * subtype are case-insensitive, parameters follow ';' (AMBIG-POL-7:
 * ignored, charset included). */
static bool media_type_ok(const char *ct) {
  static const char want[] = "text/plain";
  size_t n = 0;

  if (ct == NULL) {
    return false; /* AMBIG-POL-6: missing is rejected */
  }
  while (mts_is_wsp((uint8_t)*ct)) {
    ct++;
  }
  while (ct[n] != '\0' && ct[n] != ';') {
    n++;
  }
  while (n > 0 && mts_is_wsp((uint8_t)ct[n - 1])) {
    n--;
  }
  return mts_ascii_caseeq((const uint8_t *)ct, n, (const uint8_t *)want,
                          sizeof(want) - 1);
}

static void judge_response(struct mts_sts_discovery *d,
                           const struct mts_http_response *resp) {
  char q[STS_QUOTE_MAX];
  enum mts_status st;

  d->http_status = resp->status;
  if (resp->content_type != NULL) {
    d->content_type = mts_arena_strndup(d->arena, resp->content_type,
                                        strlen(resp->content_type));
    if (d->content_type == NULL) {
      finish_enomem(d, MTS_STS_V_FETCH_ERROR);
      return;
    }
  }
  if (resp->status != 200) {
    /* FETCH-6: 200 only; FETCH-7: a redirect is not followed. */
    set_verdict(d, MTS_STS_V_FETCH_ERROR);
    if (resp->location != NULL) {
      set_reason(d, "HTTP status %ld from %s (redirect to %s not followed)",
                 resp->status, d->url,
                 mts_findings_escape((const uint8_t *)resp->location,
                                     strlen(resp->location), q, sizeof(q)));
    } else {
      set_reason(d, "HTTP status %ld from %s (only 200 is valid)",
                 resp->status, d->url);
    }
    finish(d);
    return;
  }
  if (resp->body_len > 0) {
    uint8_t *b = mts_arena_alloc(d->arena, resp->body_len);

    if (b == NULL) {
      finish_enomem(d, MTS_STS_V_FETCH_ERROR);
      return;
    }
    memcpy(b, resp->body, resp->body_len);
    d->body = b;
  } else {
    d->body = (const uint8_t *)"";
  }
  d->body_len = resp->body_len;
  if (!media_type_ok(resp->content_type)) {
    set_verdict(d, MTS_STS_V_FETCH_ERROR);
    if (resp->content_type == NULL) {
      set_reason(d, "no Content-Type from %s (text/plain required)", d->url);
    } else {
      set_reason(d, "Content-Type \"%s\" from %s (text/plain required)",
                 mts_findings_escape((const uint8_t *)resp->content_type,
                                     strlen(resp->content_type), q,
                                     sizeof(q)),
                 d->url);
    }
    finish(d);
    return;
  }
  st = mts_sts_policy_parse(d->ctx, d->body, d->body_len, &d->policy);
  if (st != MTS_OK) {
    finish_enomem(d, MTS_STS_V_FETCH_ERROR);
    return;
  }
  if (!mts_sts_policy_usable(d->policy)) {
    set_verdict(d, MTS_STS_V_POLICY_INVALID);
    set_reason(d, "policy from %s is invalid: %s", d->url,
               first_error(mts_sts_policy_findings(d->policy),
                           "not a usable policy"));
    finish(d);
    return;
  }
  set_verdict(d, MTS_STS_V_POLICY);
  set_reason(d, "policy from %s: mode %s, max_age %lld, %zu mx pattern(s)",
             d->url, mts_sts_mode_str(mts_sts_policy_mode(d->policy)),
             (long long)mts_sts_policy_max_age(d->policy),
             mts_sts_policy_mx_count(d->policy));
  finish(d);
}

static void http_done(void *arg, enum mts_status st,
                      const struct mts_http_response *resp,
                      const char *errmsg) {
  struct mts_sts_discovery *d = arg;

  d->fetch_ms = mts_net_now(d->net) - d->t_start;
  if (st == MTS_OK && resp != NULL) {
    judge_response(d, resp);
    return;
  }
  if (st == MTS_ECANCELED || st == MTS_ENOMEM) {
    d->status = st;
  }
  if (st == MTS_ETLS) {
    set_verdict(d, MTS_STS_V_WEBPKI_INVALID);
    set_reason(d, "TLS with %s failed: %s", d->host,
               errmsg != NULL ? errmsg : mts_status_str(st));
  } else if (st == MTS_ETOOBIG) {
    set_verdict(d, MTS_STS_V_FETCH_ERROR);
    set_reason(d, "policy from %s is larger than the limit (%s)", d->url,
               errmsg != NULL ? errmsg : mts_status_str(st));
  } else {
    set_verdict(d, MTS_STS_V_FETCH_ERROR);
    set_reason(d, "fetching %s failed: %s (%s)", d->url, mts_status_str(st),
               errmsg != NULL ? errmsg : mts_status_name(st));
  }
  finish(d);
}

/* Start the GET. \return MTS_OK or the reason it could not start. */
static enum mts_status fetch_start(struct mts_sts_discovery *d) {
  uint16_t port = d->net->https_port;

  if (port == 443) {
    d->url = mts_arena_printf(d->arena, "https://%s%s", d->host,
                              STS_POLICY_PATH);
  } else {
    d->url = mts_arena_printf(d->arena, "https://%s:%u%s", d->host,
                              (unsigned)port, STS_POLICY_PATH);
  }
  if (d->url == NULL) {
    return MTS_ENOMEM;
  }
  d->t_start = mts_net_now(d->net);
  return mts_net_http_get(d->net, d->host, STS_POLICY_PATH, http_done, d);
}

/* ---- the TXT record ---- */

static void txt_verdict(struct mts_sts_discovery *d) {
  const char *id;

  switch (mts_sts_txt_verdict(d->txt)) {
  case MTS_STS_TXT_VALID:
    break;
  case MTS_STS_TXT_NONE:
    set_verdict(d, MTS_STS_V_NO_POLICY);
    set_reason(d, "no STS record among %zu TXT record(s) at %s",
               mts_txt_rrset_count(d->rrset), d->txt_name);
    return;
  case MTS_STS_TXT_MULTIPLE:
    set_verdict(d, MTS_STS_V_TXT_INVALID);
    set_reason(d, "more than one STS record at %s (RFC 8461 3.1)",
               d->txt_name);
    return;
  case MTS_STS_TXT_INVALID:
  default:
    set_verdict(d, MTS_STS_V_TXT_INVALID);
    set_reason(d, "STS record at %s is invalid: %s", d->txt_name,
               first_error(mts_sts_txt_findings(d->txt), "syntax error"));
    return;
  }
  id = mts_sts_txt_id(d->txt);
  set_verdict(d, MTS_STS_V_POLICY);
  set_reason(d, "STS record at %s is valid, id=%s", d->txt_name,
             id != NULL ? id : "");
}

static void txt_done(void *arg, enum mts_status st,
                     const struct mts_txt_rrset *set, bool authenticated,
                     const char *errmsg) {
  struct mts_sts_discovery *d = arg;
  enum mts_status fst;

  d->dns_ms = mts_net_now(d->net) - d->t_start;
  d->txt_status = st;
  d->authenticated = authenticated;
  switch (st) {
  case MTS_OK:
    break;
  case MTS_ENXDOMAIN:
  case MTS_ENODATA:
    /* T40: no record, no policy. */
    set_verdict(d, MTS_STS_V_NO_POLICY);
    set_reason(d, "%s: %s", d->txt_name, mts_status_str(st));
    finish(d);
    return;
  default:
    /* AMBIG-TXT-3: SERVFAIL, timeout, unreachable resolver are
     * temporary; the caller applies a cached policy or defers. */
    if (st == MTS_ECANCELED || st == MTS_ENOMEM) {
      d->status = st;
    }
    set_verdict(d, MTS_STS_V_DNS_TEMPFAIL);
    set_reason(d, "TXT lookup of %s failed: %s", d->txt_name,
               errmsg != NULL ? errmsg : mts_status_str(st));
    finish(d);
    return;
  }
  if (rrset_copy(d->ctx, set, &d->rrset) != MTS_OK ||
      mts_sts_txt_parse(d->ctx, d->rrset, &d->txt) != MTS_OK) {
    finish_enomem(d, MTS_STS_V_DNS_TEMPFAIL);
    return;
  }
  txt_verdict(d);
  if (d->verdict != MTS_STS_V_POLICY || (d->flags & MTS_DISCOVER_TXT_ONLY)) {
    finish(d);
    return;
  }
  fst = fetch_start(d);
  if (fst != MTS_OK) {
    d->status = fst == MTS_ENOMEM || fst == MTS_ECANCELED ? fst : MTS_OK;
    set_verdict(d, MTS_STS_V_FETCH_ERROR);
    set_reason(d, "cannot fetch from %s: %s", d->host, mts_status_str(fst));
    finish(d);
  }
}

/* ---- public ---- */

enum mts_status mts_sts_discover(struct mts_net *net, const char *domain,
                                 unsigned flags, mts_sts_discover_cb cb,
                                 void *arg) {
  struct mts_sts_discovery *d = NULL;
  struct mts_ctx *ctx;
  enum mts_status st;
  size_t dlen;

  if (net == NULL || domain == NULL || cb == NULL) {
    return MTS_EINVAL;
  }
  ctx = net->ctx;
  d = mts_calloc(ctx, 1, sizeof(*d));
  if (d == NULL) {
    return MTS_ENOMEM;
  }
  d->ctx = ctx;
  d->net = net;
  d->cb = cb;
  d->arg = arg;
  d->flags = flags;
  d->status = MTS_OK;
  d->txt_status = MTS_OK;
  st = mts_idn_to_ascii(domain, strlen(domain), d->domain, sizeof(d->domain));
  if (st != MTS_OK) {
    st = st == MTS_ENOMEM ? st : MTS_EIDN;
    goto done;
  }
  dlen = strlen(d->domain);
  if (dlen == 0 || dlen + sizeof(STS_TXT_PREFIX) - 1 > MTS_DOMAIN_MAX) {
    st = MTS_EIDN;
    goto done;
  }
  /* The precision bounds what gcc's -Wformat-truncation sees at -O0 (the
   * length check above already guarantees the whole name fits). */
  (void)snprintf(d->txt_name, sizeof(d->txt_name), "%s%.*s", STS_TXT_PREFIX,
                 (int)(sizeof(d->txt_name) - sizeof(STS_TXT_PREFIX)),
                 d->domain);
  (void)snprintf(d->host, sizeof(d->host), "%s%.*s", STS_HOST_PREFIX,
                 (int)(sizeof(d->host) - sizeof(STS_HOST_PREFIX)), d->domain);
  d->arena = mts_arena_create(ctx);
  if (d->arena == NULL) {
    st = MTS_ENOMEM;
    goto done;
  }
  d->t_start = mts_net_now(net);
  if (flags & MTS_DISCOVER_SKIP_TXT) {
    st = fetch_start(d);
  } else {
    st = mts_net_dns_txt(net, d->txt_name, txt_done, d);
  }
  if (st == MTS_OK) {
    d = NULL;
  }
done:
  mts_sts_discovery_destroy(d);
  return st;
}

void mts_sts_discovery_destroy(struct mts_sts_discovery *d) {
  if (d == NULL) {
    return;
  }
  mts_sts_policy_destroy(d->policy);
  mts_sts_txt_destroy(d->txt);
  mts_txt_rrset_destroy(d->rrset);
  if (d->arena != NULL) {
    mts_arena_destroy(d->arena);
  }
  mts_free(d->ctx, d);
}

enum mts_sts_verdict mts_sts_discovery_verdict(const struct mts_sts_discovery *d) {
  return d->verdict;
}

enum mts_status mts_sts_discovery_status(const struct mts_sts_discovery *d) {
  return d->status;
}

const char *mts_sts_discovery_reason(const struct mts_sts_discovery *d) {
  return d->reason != NULL ? d->reason : "";
}

const char *mts_sts_discovery_domain(const struct mts_sts_discovery *d) {
  return d->domain;
}

enum mts_status mts_sts_discovery_txt_status(const struct mts_sts_discovery *d) {
  return d->txt_status;
}

const struct mts_txt_rrset *
mts_sts_discovery_txt_rrset(const struct mts_sts_discovery *d) {
  return d->rrset;
}

const struct mts_sts_txt *
mts_sts_discovery_txt(const struct mts_sts_discovery *d) {
  return d->txt;
}

bool mts_sts_discovery_txt_authenticated(const struct mts_sts_discovery *d) {
  return d->authenticated;
}

const char *mts_sts_discovery_url(const struct mts_sts_discovery *d) {
  return d->url;
}

long mts_sts_discovery_http_status(const struct mts_sts_discovery *d) {
  return d->http_status;
}

const char *mts_sts_discovery_content_type(const struct mts_sts_discovery *d) {
  return d->content_type;
}

const uint8_t *mts_sts_discovery_body(const struct mts_sts_discovery *d,
                                      size_t *len) {
  if (len != NULL) {
    *len = d->body != NULL ? d->body_len : 0;
  }
  return d->body;
}

const struct mts_sts_policy *
mts_sts_discovery_policy(const struct mts_sts_discovery *d) {
  return d->policy;
}

uint64_t mts_sts_discovery_dns_ms(const struct mts_sts_discovery *d) {
  return d->dns_ms;
}

uint64_t mts_sts_discovery_fetch_ms(const struct mts_sts_discovery *d) {
  return d->fetch_ms;
}
