/*
 * cmd_check.c - `mtasts check DOMAIN...`: audit what a domain publishes
 * for MTA-STS (RFC 8461) and TLSRPT (RFC 8460), the way a sender will
 * see it, and say how to fix each problem.
 *
 * For every domain, three operations run concurrently on one loop (and
 * all domains at once): the library's discovery (`_mta-sts` TXT, HTTPS
 * fetch, policy parse), the MX lookup, and the `_smtp._tls` TXT lookup.
 * When the loop is idle, a second phase probes TLS (mtasts/tls_probe.h):
 * each MX host (or the implicit MX) over SMTP STARTTLS on --smtp-port,
 * its TLSA records, and every address of the policy host on 443. When
 * the loop is idle again, each domain's findings are derived from the
 * results in a fixed order, so output is deterministic.
 *
 * Findings have a stable code (docs/check.md lists all), a severity, a
 * message with the evidence, and a fix. Parser findings of the library
 * are passed through as "check-" + their own code (e.g. check-txt-bad-id,
 * check-policy-blank-line).
 *
 * Verdict per domain: not-deployed, broken, testing, ready-for-enforce,
 * enforcing. Exit: 0 no error or warning anywhere; 1 warnings; 2
 * errors; 3 the check itself failed (network set-up, out of memory);
 * 64 usage.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mtasts/net_cname.h>
#include <mtasts/tls_probe.h>
#include <openssl/evp.h>

#include "cli.h"

#define CHECK_EX_FAILED 3
/* A fetch slower than this is a warning: the RFC 8461 3.3 suggested
 * timeout is one minute, but senders may give up sooner. */
#define CHECK_SLOW_FETCH_MS 10000
/* max_age below a day is a warning (RFC 8461 3.2: "in the range of
 * weeks or greater"); below a week is worth an info. */
#define CHECK_MAX_AGE_WARN 86400
#define CHECK_MAX_AGE_INFO 604800
/* A certificate that expires within this many seconds is a warning. */
#define CHECK_CERT_SOON (14 * 86400)
/* MX hosts probed per domain (in MX record order). */
#define CHECK_MX_PROBE_MAX 10
/* Domains checked at once (a batch runs both phases to the end). */
#define CHECK_BATCH 32
/* Largest -f FILE and --state FILE read. */
#define CHECK_FILE_MAX (16u * 1024 * 1024)

enum area { A_STS, A_HOST, A_POLICY, A_MX, A_TLSRPT, A_COUNT };

static const char *const area_names[A_COUNT] = {"sts-record", "policy-host",
                                                "policy", "mx", "tlsrpt"};
static const char *const area_titles[A_COUNT] = {
    "_mta-sts TXT record", "policy host", "policy", "MX hosts",
    "_smtp._tls TXT record"};

struct finding {
  enum area area;
  enum mts_severity sev;
  char *code;
  char *message;
  char *fix; /* NULL: nothing to do */
};

/* One address's probe, copied out of the library's borrowed result. */
struct probe {
  char *address;
  enum mts_status status;
  enum mts_tls_probe_stage stage;
  char *error;
  char *banner;
  char *ehlo;
  bool starttls;
  char *tls_version;
  char *cipher;
  bool tls12;
  bool has_cert;
  int64_t not_before;
  int64_t not_after;
  char *issuer;
  char **san;
  size_t nsan;
  bool cert_ok;
  unsigned cert_errors;
  char *verify_error;
  char *result_type;
};

/* A probed host: an MX host (or the implicit MX), or the policy host. */
struct phost {
  char *host;
  struct dom *dm;
  bool done;
  enum mts_status st; /* the address lookup (or ECANCELED, ENOMEM) */
  char *errmsg;
  struct probe *p;
  size_t np;
  /* TLSA at _PORT._tcp.HOST (MX hosts only). */
  bool tlsa_started;
  bool tlsa_done;
  enum mts_status tlsa_st;
  size_t tlsa_n;
  bool tlsa_ad;
};

struct dom {
  const char *arg; /* as given */
  char name[MTS_DOMAIN_MAX + 1];
  bool idn_ok;
  struct ctl *ctl;
  /* discovery */
  struct mts_sts_discovery *d;
  /* MX */
  bool mx_done;
  enum mts_status mx_st;
  char **mx;
  size_t nmx;
  bool mx_null;
  bool mx_ad;
  /* _mta-sts CNAME (the first hop of a delegation; NULL: none) */
  char *sts_cname;
  /* _smtp._tls */
  bool rpt_done;
  enum mts_status rpt_st;
  struct mts_rpt_txt *rpt;
  /* TLS probes (second phase): the MX hosts, the policy host */
  struct phost *mxp;
  size_t nmxp;
  bool implicit_mx;    /* mxp[0] is the domain itself (RFC 5321 5.1) */
  struct phost *hostp; /* NULL: not probed */
  /* results */
  struct finding *f;
  size_t nf;
  size_t cap;
  bool failed; /* the check itself failed (ENOMEM, canceled) */
  const char *verdict;
};

struct ctl {
  struct mts_ctx *ctx;
  struct mts_net *net;
  uint16_t smtp_port;
  uint32_t probe_timeout_ms;
  int64_t now;
  json_t *state; /* --state: the "domains" object; NULL without */
  bool color;
};

/* ---------------------------------------------------------------- findings */

static char *vfmt(const char *fmt, va_list ap) MTS_PRINTF(1, 0);
static char *vfmt(const char *fmt, va_list ap) {
  va_list ap2;
  int n;
  char *s;

  va_copy(ap2, ap);
  n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0) {
    return NULL;
  }
  s = malloc((size_t)n + 1);
  if (s != NULL) {
    (void)vsnprintf(s, (size_t)n + 1, fmt, ap);
  }
  return s;
}

static char *fmt(const char *f, ...) MTS_PRINTF(1, 2);
static char *fmt(const char *f, ...) {
  va_list ap;
  char *s;

  va_start(ap, f);
  s = vfmt(f, ap);
  va_end(ap);
  return s;
}

/* Add a finding; \p fix may be NULL. The message is printf-formatted. */
static void add(struct dom *dm, enum area area, enum mts_severity sev,
                const char *code, const char *fix, const char *msgfmt, ...)
    MTS_PRINTF(6, 7);
static void add(struct dom *dm, enum area area, enum mts_severity sev,
                const char *code, const char *fix, const char *msgfmt, ...) {
  struct finding *f;
  va_list ap;

  if (dm->nf == dm->cap) {
    size_t cap = dm->cap ? dm->cap * 2 : 16;
    struct finding *n = realloc(dm->f, cap * sizeof(*n));

    if (n == NULL) {
      dm->failed = true;
      return;
    }
    dm->f = n;
    dm->cap = cap;
  }
  f = &dm->f[dm->nf];
  f->area = area;
  f->sev = sev;
  f->code = fmt("%s", code);
  f->fix = fix != NULL ? fmt("%s", fix) : NULL;
  va_start(ap, msgfmt);
  f->message = vfmt(msgfmt, ap);
  va_end(ap);
  if (f->code == NULL || f->message == NULL ||
      (fix != NULL && f->fix == NULL)) {
    free(f->code);
    free(f->fix);
    free(f->message);
    dm->failed = true;
    return;
  }
  dm->nf++;
}

/* Pass a parser's findings through as check-<code>. */
static void add_lib(struct dom *dm, enum area area,
                    const struct mts_findings *fs, const char *unit,
                    const char *fix) {
  size_t i, n = mts_findings_count(fs);

  for (i = 0; i < n; i++) {
    const struct mts_finding *fi = mts_findings_get(fs, i);
    char code[96];

    (void)snprintf(code, sizeof(code), "check-%s", fi->code);
    if (fi->line > 0) {
      add(dm, area, fi->severity, code,
          fi->severity == MTS_SEV_INFO ? NULL : fix, "%s (%s %u, col %u)",
          fi->message, unit, (unsigned)fi->line, (unsigned)fi->col);
    } else {
      add(dm, area, fi->severity, code,
          fi->severity == MTS_SEV_INFO ? NULL : fix, "%s", fi->message);
    }
  }
}

static size_t count_sev(const struct dom *dm, enum mts_severity sev) {
  size_t i, n = 0;

  for (i = 0; i < dm->nf; i++) {
    n += dm->f[i].sev == sev;
  }
  return n;
}

static size_t count_area_sev(const struct dom *dm, enum area a,
                             enum mts_severity sev) {
  size_t i, n = 0;

  for (i = 0; i < dm->nf; i++) {
    n += dm->f[i].area == a && dm->f[i].sev == sev;
  }
  return n;
}

/* ---------------------------------------------------------------- network */

static void on_discovered(void *arg, struct mts_sts_discovery *d) {
  struct dom *dm = arg;

  dm->d = d;
}

static void on_mx(void *arg, enum mts_status st, const struct mts_net_mx *mx,
                  size_t n, bool authenticated, const char *errmsg) {
  struct dom *dm = arg;
  size_t i;

  (void)errmsg;
  dm->mx_done = true;
  dm->mx_st = st;
  dm->mx_ad = authenticated;
  if (st != MTS_OK) {
    return;
  }
  dm->mx = calloc(n, sizeof(*dm->mx));
  if (dm->mx == NULL) {
    dm->mx_st = MTS_ENOMEM;
    return;
  }
  for (i = 0; i < n; i++) {
    size_t k;
    bool dup = false;

    if (mx[i].exchange[0] == '\0') {
      dm->mx_null = true;
      continue;
    }
    for (k = 0; k < dm->nmx; k++) {
      dup = dup || strcmp(dm->mx[k], mx[i].exchange) == 0;
    }
    if (dup) {
      continue;
    }
    dm->mx[dm->nmx] = strdup(mx[i].exchange);
    if (dm->mx[dm->nmx] == NULL) {
      dm->mx_st = MTS_ENOMEM;
      return;
    }
    dm->nmx++;
  }
}

static void on_rpt(void *arg, enum mts_status st,
                   const struct mts_txt_rrset *set, bool authenticated,
                   const char *errmsg) {
  struct dom *dm = arg;

  (void)authenticated;
  (void)errmsg;
  dm->rpt_done = true;
  dm->rpt_st = st;
  if (st == MTS_OK &&
      mts_rpt_txt_parse(dm->ctl->ctx, set, &dm->rpt) != MTS_OK) {
    dm->rpt_st = MTS_ENOMEM;
  }
}

static void on_cname(void *arg, enum mts_status st, const char *target,
                     bool authenticated, const char *errmsg) {
  struct dom *dm = arg;

  (void)authenticated;
  (void)errmsg;
  if (st == MTS_OK) {
    dm->sts_cname = strdup(target);
    dm->failed = dm->failed || dm->sts_cname == NULL;
  }
}

/* Start the three operations of one domain, and the CNAME lookup of
 * _mta-sts (discovery follows a CNAME without saying so). \return false on
 * failure. */
static bool dom_start(struct dom *dm) {
  char name[MTS_DOMAIN_MAX + 16];
  enum mts_status st;

  st = mts_sts_discover(dm->ctl->net, dm->name, 0, on_discovered, dm);
  if (st != MTS_OK) {
    cli_err("check: %s: %s", dm->arg, mts_status_str(st));
    return false;
  }
  st = mts_net_dns_mx(dm->ctl->net, dm->name, on_mx, dm);
  if (st != MTS_OK) {
    cli_err("check: %s: MX lookup: %s", dm->arg, mts_status_str(st));
    return false;
  }
  (void)snprintf(name, sizeof(name), "_smtp._tls.%s", dm->name);
  st = mts_net_dns_txt(dm->ctl->net, name, on_rpt, dm);
  if (st != MTS_OK) {
    cli_err("check: %s: TXT lookup: %s", dm->arg, mts_status_str(st));
    return false;
  }
  (void)snprintf(name, sizeof(name), "_mta-sts.%s", dm->name);
  st = mts_net_dns_cname(dm->ctl->net, name, on_cname, dm);
  if (st != MTS_OK) {
    cli_err("check: %s: CNAME lookup: %s", dm->arg, mts_status_str(st));
    return false;
  }
  return true;
}

/* ---------------------------------------------------------------- probes */

/* strdup of a possibly NULL string; sets *oom on failure. */
static char *dup_opt(const char *s, bool *oom) {
  char *d;

  if (s == NULL) {
    return NULL;
  }
  d = strdup(s);
  if (d == NULL) {
    *oom = true;
  }
  return d;
}

static void probe_free(struct probe *p) {
  size_t i;

  free(p->address);
  free(p->error);
  free(p->banner);
  free(p->ehlo);
  free(p->tls_version);
  free(p->cipher);
  free(p->issuer);
  for (i = 0; i < p->nsan; i++) {
    free(p->san[i]);
  }
  free(p->san);
  free(p->verify_error);
  free(p->result_type);
}

static void phost_free(struct phost *h) {
  size_t i;

  for (i = 0; i < h->np; i++) {
    probe_free(&h->p[i]);
  }
  free(h->p);
  free(h->host);
  free(h->errmsg);
}

static bool probe_copy(struct probe *d, const struct mts_tls_probe_result *r) {
  bool oom = false;
  size_t i;

  memset(d, 0, sizeof(*d));
  d->address = dup_opt(r->address, &oom);
  d->status = r->status;
  d->stage = r->stage;
  d->error = dup_opt(r->error, &oom);
  d->banner = dup_opt(r->banner, &oom);
  d->ehlo = dup_opt(r->ehlo, &oom);
  d->starttls = r->starttls_offered;
  d->tls_version = dup_opt(r->tls_version, &oom);
  d->cipher = dup_opt(r->cipher, &oom);
  d->tls12 = r->tls12_or_newer;
  d->has_cert = r->has_cert;
  d->not_before = r->not_before;
  d->not_after = r->not_after;
  d->issuer = dup_opt(r->issuer, &oom);
  if (r->nsan > 0) {
    d->san = calloc(r->nsan, sizeof(*d->san));
    oom = oom || d->san == NULL;
    for (i = 0; d->san != NULL && i < r->nsan; i++) {
      d->san[i] = dup_opt(r->san[i], &oom);
      d->nsan++;
    }
  }
  d->cert_ok = r->cert_ok;
  d->cert_errors = r->cert_errors;
  d->verify_error = dup_opt(r->verify_error, &oom);
  d->result_type = dup_opt(r->result_type, &oom);
  return !oom;
}

static void on_probe(void *arg, enum mts_status st,
                     const struct mts_tls_probe_result *r, size_t n,
                     const char *errmsg) {
  struct phost *h = arg;
  size_t i;

  h->done = true;
  h->st = st;
  if (st != MTS_OK) {
    h->errmsg = strdup(errmsg != NULL ? errmsg : mts_status_str(st));
    h->dm->failed = h->dm->failed || h->errmsg == NULL || st == MTS_ENOMEM;
    return;
  }
  h->p = calloc(n, sizeof(*h->p));
  if (h->p == NULL) {
    h->dm->failed = true;
    return;
  }
  for (i = 0; i < n; i++) {
    bool ok = probe_copy(&h->p[i], &r[i]);

    h->np++;
    if (!ok) {
      h->dm->failed = true;
      return;
    }
  }
}

static void on_tlsa(void *arg, enum mts_status st, size_t count,
                    bool authenticated, const char *errmsg) {
  struct phost *h = arg;

  (void)errmsg;
  h->tlsa_done = true;
  h->tlsa_st = st;
  h->tlsa_n = count;
  h->tlsa_ad = authenticated;
}

static bool probe_host_start(struct dom *dm, struct phost *h,
                             enum mts_tls_probe_mode mode, uint16_t port) {
  struct mts_tls_probe_options o;
  enum mts_status st;

  mts_tls_probe_options_init(&o);
  o.mode = mode;
  o.host = h->host;
  o.port = port;
  o.timeout_ms = dm->ctl->probe_timeout_ms;
  h->dm = dm;
  st = mts_tls_probe_start(dm->ctl->net, &o, on_probe, h);
  if (st == MTS_EINVAL) {
    /* Not a host name we can probe (check-mx-bad-name says so). */
    h->done = true;
    h->st = MTS_EINVAL;
    h->errmsg = strdup("not a valid host name");
    return h->errmsg != NULL;
  }
  if (st != MTS_OK) {
    cli_err("check: %s: TLS probe of %s: %s", dm->arg, h->host,
            mts_status_str(st));
    return false;
  }
  return true;
}

/* Second phase: probe every MX host (or the implicit MX) over SMTP, look
 * up their TLSA records, and probe each address of the policy host. */
static bool dom_probe_start(struct dom *dm) {
  struct ctl *ctl = dm->ctl;
  size_t i, n;
  char name[MTS_DOMAIN_MAX + 32];

  if (dm->failed || !dm->mx_done) {
    return true;
  }
  if (dm->mx_st == MTS_OK) {
    n = dm->nmx < CHECK_MX_PROBE_MAX ? dm->nmx : CHECK_MX_PROBE_MAX;
  } else if (dm->mx_st == MTS_ENODATA) {
    n = 1;
    dm->implicit_mx = true;
  } else {
    n = 0;
  }
  if (n > 0) {
    dm->mxp = calloc(n, sizeof(*dm->mxp));
    if (dm->mxp == NULL) {
      return false;
    }
  }
  for (i = 0; i < n; i++) {
    struct phost *h = &dm->mxp[i];
    enum mts_status st;

    h->host = strdup(dm->implicit_mx ? dm->name : dm->mx[i]);
    if (h->host == NULL) {
      return false;
    }
    dm->nmxp++;
    if (!probe_host_start(dm, h, MTS_TLS_PROBE_SMTP, ctl->smtp_port)) {
      return false;
    }
    (void)snprintf(name, sizeof(name), "_%u._tcp.%s", (unsigned)ctl->smtp_port,
                   h->host);
    st = mts_net_dns_tlsa(ctl->net, name, on_tlsa, h);
    h->tlsa_started = st == MTS_OK;
  }
  if (dm->d != NULL && mts_sts_discovery_url(dm->d) != NULL) {
    dm->hostp = calloc(1, sizeof(*dm->hostp));
    if (dm->hostp == NULL) {
      return false;
    }
    (void)snprintf(name, sizeof(name), "mta-sts.%s", dm->name);
    dm->hostp->host = strdup(name);
    if (dm->hostp->host == NULL ||
        !probe_host_start(dm, dm->hostp, MTS_TLS_PROBE_TLS, 443)) {
      return false;
    }
  }
  return true;
}

/* ---------------------------------------------------------------- areas */

static bool is_temp(enum mts_status st) {
  return st != MTS_OK && st != MTS_ENXDOMAIN && st != MTS_ENODATA;
}

/* RFC 3339 UTC time of \p t into \p buf. */
static const char *fmt_time(int64_t t, char *buf, size_t n) {
  time_t tt = (time_t)t;
  struct tm tm;

  if (gmtime_r(&tt, &tm) == NULL ||
      strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
    (void)snprintf(buf, n, "%lld", (long long)t);
  }
  return buf;
}

/* The SAN DNS names joined by ", " (malloc'd; NULL on OOM). */
static char *san_list(const struct probe *p) {
  size_t i, off = 0, len = sizeof("(none)");
  char *s;

  for (i = 0; i < p->nsan; i++) {
    len += strlen(p->san[i]) + 2;
  }
  s = malloc(len);
  if (s == NULL) {
    return NULL;
  }
  if (p->nsan == 0) {
    memcpy(s, "(none)", sizeof("(none)"));
    return s;
  }
  for (i = 0; i < p->nsan; i++) {
    size_t k = strlen(p->san[i]);

    if (i > 0) {
      memcpy(s + off, ", ", 2);
      off += 2;
    }
    memcpy(s + off, p->san[i], k);
    off += k;
  }
  s[off] = '\0';
  return s;
}

/* Returns true when an STS record is published (the other areas apply). */
static bool area_sts(struct dom *dm) {
  const struct mts_sts_discovery *d = dm->d;
  const struct mts_sts_txt *t = mts_sts_discovery_txt(d);
  enum mts_status st = mts_sts_discovery_txt_status(d);
  const char *fix_syntax =
      "publish exactly one record \"v=STSv1; id=<1-32 letters or digits>;\" "
      "(`mtasts init` prints one)";

  if (dm->sts_cname != NULL) {
    add(dm, A_STS, MTS_SEV_INFO, "check-txt-cname", NULL,
        "_mta-sts.%s is delegated to %s (CNAME): the record is published "
        "there, and changing the id needs whoever runs that zone",
        dm->name, dm->sts_cname);
  }
  if (is_temp(st)) {
    add(dm, A_STS, MTS_SEV_ERROR, "check-sts-txt-lookup-failed",
        "make the name servers of the domain answer for _mta-sts; senders "
        "treat a failed lookup as temporary and keep a cached policy",
        "TXT lookup of _mta-sts.%s failed: %s", dm->name, mts_status_str(st));
    return false;
  }
  if (t == NULL || mts_sts_txt_verdict(t) == MTS_STS_TXT_NONE) {
    const struct mts_txt_rrset *set = mts_sts_discovery_txt_rrset(d);

    add(dm, A_STS, MTS_SEV_WARNING, "check-sts-not-deployed",
        "deploy MTA-STS: `mtasts init DOMAIN --from-dns` drafts the policy "
        "and records",
        "no STS record at _mta-sts.%s (%s): senders cannot detect MTA-STS "
        "and mail can be downgraded to plaintext",
        dm->name,
        st == MTS_ENXDOMAIN ? "NXDOMAIN"
        : st == MTS_ENODATA
            ? "no TXT records"
            : (set != NULL ? "no RR begins with v=STSv1" : "no answer"));
    return false;
  }
  switch (mts_sts_txt_verdict(t)) {
  case MTS_STS_TXT_MULTIPLE:
    add(dm, A_STS, MTS_SEV_ERROR, "check-sts-txt-multiple", fix_syntax,
        "more than one STS record at _mta-sts.%s: senders ignore them all "
        "(RFC 8461 3.1)",
        dm->name);
    break;
  case MTS_STS_TXT_INVALID:
    add(dm, A_STS, MTS_SEV_ERROR, "check-sts-txt-invalid", fix_syntax,
        "the STS record at _mta-sts.%s is invalid: senders ignore it",
        dm->name);
    break;
  case MTS_STS_TXT_VALID:
    add(dm, A_STS, MTS_SEV_INFO, "check-sts-txt-ok", NULL,
        "one valid STS record, id %s", mts_sts_txt_id(t));
    break;
  case MTS_STS_TXT_NONE:
    break;
  }
  add_lib(dm, A_STS, mts_sts_txt_findings(t), "RR", fix_syntax);
  add(dm, A_STS, MTS_SEV_INFO,
      mts_sts_discovery_txt_authenticated(d) ? "check-sts-txt-dnssec"
                                             : "check-sts-txt-no-dnssec",
      NULL,
      mts_sts_discovery_txt_authenticated(d)
          ? "the answer was DNSSEC-validated (AD bit)"
          : "the answer was not DNSSEC-validated (no AD bit from the "
            "resolver); MTA-STS does not require DNSSEC");
  return true;
}

/* Returns true when a policy body was received. */
static bool area_host_fetch(struct dom *dm) {
  const struct mts_sts_discovery *d = dm->d;
  enum mts_sts_verdict v = mts_sts_discovery_verdict(d);
  const char *url = mts_sts_discovery_url(d);
  const char *reason = mts_sts_discovery_reason(d);
  long status = mts_sts_discovery_http_status(d);
  const char *ct = mts_sts_discovery_content_type(d);
  uint64_t ms = mts_sts_discovery_fetch_ms(d);
  size_t blen = 0;

  if (url == NULL) {
    return false; /* not fetched: the TXT area said why */
  }
  if (v == MTS_STS_V_WEBPKI_INVALID) {
    add(dm, A_HOST, MTS_SEV_ERROR, "check-policy-host-tls",
        "serve mta-sts.DOMAIN with a certificate from a public CA whose "
        "subjectAltName holds mta-sts.DOMAIN (not expired, full chain)",
        "%s", reason);
    return false;
  }
  if (status == 0) {
    /* The discovery reason is the only evidence of the transport error;
     * the size cap and the deadline get their own codes. */
    if (strstr(reason, "larger than the limit") != NULL) {
      add(dm, A_HOST, MTS_SEV_ERROR, "check-policy-host-too-large",
          "serve only the policy: at most 65536 bytes (RFC 8461 3.3)", "%s",
          reason);
    } else if (strstr(reason, "timed out") != NULL) {
      add(dm, A_HOST, MTS_SEV_ERROR, "check-policy-host-timeout",
          "make the policy host answer quickly (senders give up after "
          "about a minute, RFC 8461 3.3)",
          "%s", reason);
    } else {
      add(dm, A_HOST, MTS_SEV_ERROR, "check-policy-host-unreachable",
          "make mta-sts.DOMAIN resolve and accept HTTPS on port 443", "%s",
          reason);
    }
    return false;
  }
  if (status >= 300 && status < 400) {
    add(dm, A_HOST, MTS_SEV_ERROR, "check-policy-host-redirect",
        "serve the policy directly at /.well-known/mta-sts.txt: senders do "
        "not follow redirects (RFC 8461 3.3)",
        "%s", reason);
    return false;
  }
  if (status != 200) {
    add(dm, A_HOST, MTS_SEV_ERROR, "check-policy-host-status",
        "serve the policy file at /.well-known/mta-sts.txt with status 200",
        "%s", reason);
    return false;
  }
  if (v == MTS_STS_V_FETCH_ERROR) {
    add(dm, A_HOST, MTS_SEV_ERROR, "check-policy-host-content-type",
        "serve the file as Content-Type text/plain (nginx: `types { } "
        "default_type text/plain;`)",
        "%s", reason);
    return false;
  }
  (void)mts_sts_discovery_body(d, &blen);
  add(dm, A_HOST, MTS_SEV_INFO, "check-policy-host-ok", NULL,
      "%s: HTTP 200, Content-Type %s, %zu bytes", url, ct ? ct : "(none)",
      blen);
  if (ms > CHECK_SLOW_FETCH_MS) {
    add(dm, A_HOST, MTS_SEV_WARNING, "check-policy-host-slow",
        "make the policy host answer within a few seconds",
        "the fetch took %llu ms; senders may time out before the RFC 8461 "
        "3.3 suggested minute",
        (unsigned long long)ms);
  }
  return true;
}

static void host_probe_findings(struct dom *dm, bool fetched,
                                bool tls_reported);

/* The fetch, then the per-address TLS probe of the policy host. */
static bool area_host(struct dom *dm) {
  bool body = area_host_fetch(dm);

  if (mts_sts_discovery_url(dm->d) != NULL) {
    host_probe_findings(dm, mts_sts_discovery_http_status(dm->d) != 0,
                        mts_sts_discovery_verdict(dm->d) ==
                            MTS_STS_V_WEBPKI_INVALID);
  }
  return body;
}

/* True when pattern \p p is "*." + a single label ("*.com"). */
static bool wildcard_tld(const char *p) {
  return strncmp(p, "*.", 2) == 0 && strchr(p + 2, '.') == NULL;
}

static void area_policy(struct dom *dm) {
  const struct mts_sts_policy *p = mts_sts_discovery_policy(dm->d);
  const char *fix = "correct the policy file (`mtasts lint policy FILE` "
                    "shows each problem; `mtasts init` writes a clean one)";
  enum mts_sts_mode mode;
  int64_t max_age;
  size_t i, j, n;

  if (p == NULL) {
    return;
  }
  if (!mts_sts_policy_usable(p)) {
    add(dm, A_POLICY, MTS_SEV_ERROR, "check-policy-invalid", fix,
        "the policy is invalid: senders do not apply it "
        "(sts-policy-invalid)");
  } else if (!mts_sts_policy_valid(p)) {
    add(dm, A_POLICY, MTS_SEV_WARNING, "check-policy-deviation", fix,
        "the policy deviates from the RFC 8461 3.2 grammar; lenient senders "
        "apply it, strict ones may not");
  }
  add_lib(dm, A_POLICY, mts_sts_policy_findings(p), "line", fix);
  if (!mts_sts_policy_usable(p)) {
    return;
  }
  mode = mts_sts_policy_mode(p);
  max_age = mts_sts_policy_max_age(p);
  if (mode == MTS_STS_MODE_NONE) {
    add(dm, A_POLICY, MTS_SEV_WARNING, "check-policy-mode-none",
        "publish mode testing (or enforce) to protect mail; keep mode none "
        "only while withdrawing MTA-STS (RFC 8461 8.3)",
        "mode none: senders apply no MTA-STS protection");
  } else if (mode == MTS_STS_MODE_TESTING) {
    add(dm, A_POLICY, MTS_SEV_INFO, "check-policy-mode-testing",
        "when TLS reports show no failures, switch to mode enforce and "
        "change the id",
        "mode testing: failures are reported, not enforced");
  } else {
    add(dm, A_POLICY, MTS_SEV_INFO, "check-policy-mode-enforce", NULL,
        "mode enforce: senders refuse MX hosts that fail validation");
  }
  if (mode != MTS_STS_MODE_NONE && max_age < CHECK_MAX_AGE_WARN) {
    add(dm, A_POLICY, MTS_SEV_WARNING, "check-policy-max-age-short",
        "use max_age of a week (604800) or more once the policy is stable",
        "max_age %lld s is under a day: an attacker who blocks the "
        "policy host can strip MTA-STS soon after it expires",
        (long long)max_age);
  } else if (mode != MTS_STS_MODE_NONE && max_age < CHECK_MAX_AGE_INFO) {
    add(dm, A_POLICY, MTS_SEV_INFO, "check-policy-max-age-short",
        "RFC 8461 3.2 expects weeks or more", "max_age %lld s is under a week",
        (long long)max_age);
  }
  n = mts_sts_policy_mx_count(p);
  for (i = 0; i < n; i++) {
    const char *pat = mts_sts_policy_mx(p, i);

    if (wildcard_tld(pat)) {
      add(dm, A_POLICY, MTS_SEV_WARNING, "check-policy-mx-wildcard-tld",
          "list the mail hosts, or a wildcard under the domain that holds "
          "them",
          "mx: %s matches any host under a top-level domain", pat);
    }
    for (j = 0; j < i; j++) {
      if (strcmp(mts_sts_policy_mx(p, j), pat) == 0) {
        add(dm, A_POLICY, MTS_SEV_INFO, "check-policy-mx-duplicate",
            "remove the repeated line", "mx: %s is listed twice", pat);
        break;
      }
    }
    if (dm->mx_st == MTS_OK && dm->nmx > 0) {
      bool any = false;

      for (j = 0; j < dm->nmx && !any; j++) {
        bool m = false;

        any = mts_sts_match(pat, strlen(pat), dm->mx[j], strlen(dm->mx[j]),
                            &m) == MTS_OK &&
              m;
      }
      if (!any) {
        add(dm, A_POLICY, MTS_SEV_WARNING, "check-policy-mx-unused",
            "remove patterns of hosts that no longer receive mail, or check "
            "the spelling",
            "mx: %s matches none of the MX hosts", pat);
      }
    }
  }
}

/* Certificate findings of one handshake; \p what names the host and
 * address, \p fail is the severity of a failure. */
static void cert_findings(struct dom *dm, enum area area, const char *prefix,
                          const struct probe *p, const char *host,
                          const char *what, enum mts_severity fail,
                          bool errors) {
  char code[96];
  char when[48];
  char *sans = san_list(p);
  int64_t left = p->not_after - dm->ctl->now;
  const char *first = p->verify_error ? p->verify_error : "";
  const char *rt = p->result_type ? p->result_type : "validation-failure";

  if (sans == NULL) {
    dm->failed = true;
    return;
  }
  if (errors && (p->cert_errors & MTS_TLS_CERT_NOT_TRUSTED)) {
    (void)snprintf(code, sizeof(code), "%s-cert-untrusted", prefix);
    add(dm, area, fail, code,
        "use a certificate from a CA that senders trust (a public CA), and "
        "send the full chain",
        "%s: the certificate chain is not trusted (issuer %s; first error: "
        "%s, %s)",
        what, p->issuer ? p->issuer : "?", first, rt);
  }
  if (errors && (p->cert_errors & MTS_TLS_CERT_EXPIRED)) {
    (void)snprintf(code, sizeof(code), "%s-cert-expired", prefix);
    add(dm, area, fail, code, "renew the certificate",
        "%s: the certificate expired at %s (certificate-expired)", what,
        fmt_time(p->not_after, when, sizeof(when)));
  }
  if (errors && (p->cert_errors & MTS_TLS_CERT_HOST_MISMATCH)) {
    (void)snprintf(code, sizeof(code), "%s-cert-name-mismatch", prefix);
    add(dm, area, fail, code,
        "get a certificate whose subjectAltName holds the host name (a "
        "dNSName; the CN is not used)",
        "%s: no subjectAltName DNS name matches %s (SAN: %s; "
        "certificate-host-mismatch)",
        what, host, sans);
  }
  if (errors && (p->cert_errors & MTS_TLS_CERT_OTHER)) {
    (void)snprintf(code, sizeof(code), "%s-cert-invalid", prefix);
    add(dm, area, fail, code, "replace the certificate with a valid one",
        "%s: the certificate does not validate: %s (%s)", what, first, rt);
  }
  if (p->has_cert && !(p->cert_errors & MTS_TLS_CERT_EXPIRED) &&
      left < CHECK_CERT_SOON) {
    (void)snprintf(code, sizeof(code), "%s-cert-expires-soon", prefix);
    add(dm, area, MTS_SEV_WARNING, code,
        "renew the certificate now (and automate renewal)",
        "%s: the certificate expires at %s, in %lld day(s)", what,
        fmt_time(p->not_after, when, sizeof(when)),
        (long long)(left > 0 ? left / 86400 : 0));
  }
  free(sans);
}

/* "valid", or "invalid (RESULT-TYPE)". */
static const char *cert_verdict(const struct probe *p, char *buf, size_t n) {
  if (p->cert_ok) {
    return "valid";
  }
  (void)snprintf(buf, n, "invalid (%s)",
                 p->result_type ? p->result_type : "validation-failure");
  return buf;
}

/* Findings of one probed MX host (after its coverage finding). */
static void mx_probe_findings(struct dom *dm, const struct phost *h,
                              enum mts_severity fail) {
  size_t i;

  if (h->tlsa_done && h->tlsa_st == MTS_OK) {
    add(dm, A_MX, MTS_SEV_INFO, "check-mx-tlsa-present", NULL,
        "MX %s has %zu TLSA record(s) at _%u._tcp.%s (%s): senders that "
        "support DANE use it instead of MTA-STS for this host (RFC 8461 2)",
        h->host, h->tlsa_n, (unsigned)dm->ctl->smtp_port, h->host,
        h->tlsa_ad ? "DNSSEC-validated"
                   : "not DNSSEC-validated, so DANE senders ignore them");
  }
  if (!h->done || h->st == MTS_EINVAL) {
    return;
  }
  if (h->st != MTS_OK) {
    add(dm, A_MX, MTS_SEV_WARNING, "check-mx-unreachable",
        "give the MX host an A or AAAA record", "MX %s: %s", h->host,
        h->errmsg ? h->errmsg : mts_status_str(h->st));
    return;
  }
  for (i = 0; i < h->np; i++) {
    const struct probe *p = &h->p[i];
    char what[MTS_DOMAIN_MAX + 64];
    char when[48];
    char verdict[80];

    (void)snprintf(what, sizeof(what), "MX %s (%s)", h->host, p->address);
    switch (p->status) {
    case MTS_OK:
      break;
    case MTS_ECONNECT:
      add(dm, A_MX, MTS_SEV_WARNING, "check-mx-unreachable",
          "make the MX host accept SMTP connections on port 25", "%s: %s", what,
          p->error ? p->error : "connection failed");
      continue;
    case MTS_ETIMEOUT:
      if (p->stage <= MTS_TLS_PROBE_BANNER) {
        add(dm, A_MX, MTS_SEV_WARNING, "check-mx-unreachable",
            "make the MX host accept SMTP connections on port 25", "%s: %s",
            what, p->error ? p->error : "timed out");
      } else if (p->stage < MTS_TLS_PROBE_HANDSHAKE) {
        add(dm, A_MX, MTS_SEV_WARNING, "check-mx-smtp-error",
            "make the MX host answer EHLO and STARTTLS promptly", "%s: %s",
            what, p->error ? p->error : "timed out");
      } else {
        add(dm, A_MX, fail, "check-mx-tls-failed",
            "make the MX host complete the TLS handshake", "%s: %s", what,
            p->error ? p->error : "timed out");
      }
      continue;
    case MTS_EUNAVAIL:
      add(dm, A_MX, fail, "check-mx-no-starttls",
          "enable STARTTLS with a certificate for the MX host name (Postfix: "
          "smtpd_tls_security_level = may and smtpd_tls_chain_files)",
          "%s does not offer STARTTLS (EHLO %s): senders cannot use TLS%s",
          what, p->ehlo ? p->ehlo : "?",
          fail == MTS_SEV_ERROR ? ", so they refuse to deliver (enforce)" : "");
      continue;
    case MTS_ETLS:
      add(dm, A_MX, fail, "check-mx-tls-failed",
          "make the MX host complete a TLS 1.2 or newer handshake", "%s: %s",
          what, p->error ? p->error : "TLS handshake failed");
      continue;
    case MTS_EIO:
      add(dm, A_MX, MTS_SEV_WARNING, "check-mx-smtp-error",
          "make the MX host answer SMTP correctly (220 greeting, 250 to "
          "EHLO, 220 to STARTTLS)",
          "%s", p->error ? p->error : "SMTP protocol error");
      continue;
    default:
      add(dm, A_MX, MTS_SEV_WARNING, "check-mx-probe-failed",
          "run the check again", "%s: %s", what,
          p->error ? p->error : mts_status_str(p->status));
      continue;
    }
    if (!p->tls12) {
      add(dm, A_MX, fail, "check-mx-tls-too-old",
          "enable TLS 1.2 or newer on the MX host (RFC 8461 7.2, RFC 7525)",
          "%s negotiated %s: MTA-STS senders require TLS 1.2 or newer", what,
          p->tls_version ? p->tls_version : "?");
    }
    cert_findings(dm, A_MX, "check-mx", p, h->host, what, fail, true);
    add(dm, A_MX, MTS_SEV_INFO, "check-mx-tls", NULL,
        "%s: STARTTLS, %s %s, certificate %s, issuer %s, valid until %s", what,
        p->tls_version ? p->tls_version : "?", p->cipher ? p->cipher : "?",
        cert_verdict(p, verdict, sizeof(verdict)), p->issuer ? p->issuer : "?",
        fmt_time(p->not_after, when, sizeof(when)));
  }
}

/* Per-address TLS findings of the policy host. \p fetched: the discovery
 * got an HTTP response (so failures here are of some address only);
 * \p tls_reported: the discovery already reported a TLS failure. */
static void host_probe_findings(struct dom *dm, bool fetched,
                                bool tls_reported) {
  const struct phost *h = dm->hostp;
  size_t i;

  if (h == NULL || !h->done || h->st != MTS_OK) {
    return;
  }
  for (i = 0; i < h->np; i++) {
    const struct probe *p = &h->p[i];
    char what[MTS_DOMAIN_MAX + 64];
    char when[48];
    char verdict[80];

    (void)snprintf(what, sizeof(what), "%s (%s)", h->host, p->address);
    if (p->status != MTS_OK) {
      if (fetched) {
        add(dm, A_HOST, MTS_SEV_WARNING, "check-policy-host-address-failed",
            "make every address of the policy host serve the policy over "
            "HTTPS",
            "%s: %s", what, p->error ? p->error : mts_status_str(p->status));
      }
      continue;
    }
    if (!p->tls12) {
      add(dm, A_HOST, MTS_SEV_ERROR, "check-policy-host-tls-too-old",
          "enable TLS 1.2 or newer on the policy host (RFC 8461 3.3)",
          "%s negotiated %s: senders require TLS 1.2 or newer", what,
          p->tls_version ? p->tls_version : "?");
    }
    cert_findings(dm, A_HOST, "check-policy-host", p, h->host, what,
                  MTS_SEV_ERROR, !tls_reported);
    add(dm, A_HOST, MTS_SEV_INFO, "check-policy-host-tls-info", NULL,
        "%s: %s %s, certificate %s, issuer %s, valid until %s", what,
        p->tls_version ? p->tls_version : "?", p->cipher ? p->cipher : "?",
        cert_verdict(p, verdict, sizeof(verdict)), p->issuer ? p->issuer : "?",
        fmt_time(p->not_after, when, sizeof(when)));
  }
}

static enum mts_severity fail_sev(enum mts_sts_mode mode) {
  return mode == MTS_STS_MODE_ENFORCE ? MTS_SEV_ERROR : MTS_SEV_WARNING;
}

static void area_mx(struct dom *dm, bool have_policy) {
  const struct mts_sts_policy *p =
      have_policy ? mts_sts_discovery_policy(dm->d) : NULL;
  bool usable = p != NULL && mts_sts_policy_usable(p);
  enum mts_sts_mode mode =
      usable ? mts_sts_policy_mode(p) : MTS_STS_MODE_UNKNOWN;
  size_t i;

  if (dm->mx_st == MTS_ENXDOMAIN) {
    add(dm, A_MX, MTS_SEV_ERROR, "check-mx-nxdomain", "check the domain name",
        "%s does not exist (NXDOMAIN)", dm->name);
    return;
  }
  if (dm->mx_st == MTS_ENODATA) {
    add(dm, A_MX, MTS_SEV_WARNING, "check-mx-none",
        "publish MX records for the hosts that receive mail",
        "%s has no MX records: senders use the domain itself (RFC 5321 5.1)",
        dm->name);
    if (dm->nmxp > 0) {
      mx_probe_findings(dm, &dm->mxp[0], fail_sev(mode));
    }
    return;
  }
  if (dm->mx_st != MTS_OK) {
    add(dm, A_MX, MTS_SEV_ERROR, "check-mx-lookup-failed",
        "make the domain's name servers answer MX queries",
        "MX lookup of %s failed: %s", dm->name, mts_status_str(dm->mx_st));
    return;
  }
  if (dm->nmx == 0) {
    add(dm, A_MX, MTS_SEV_INFO, "check-mx-null", NULL,
        "%s publishes a null MX (RFC 7505): it accepts no mail", dm->name);
    return;
  }
  if (dm->mx_null) {
    add(dm, A_MX, MTS_SEV_WARNING, "check-mx-null-mixed",
        "a null MX must be the only MX record (RFC 7505 3)",
        "a null MX next to other MX records");
  }
  for (i = 0; i < dm->nmx; i++) {
    bool m = false;
    size_t idx = 0;
    enum mts_status st;

    if (!usable) {
      add(dm, A_MX, MTS_SEV_INFO, "check-mx-host", NULL, "MX %s", dm->mx[i]);
      if (i < dm->nmxp) {
        mx_probe_findings(dm, &dm->mxp[i], fail_sev(mode));
      }
      continue;
    }
    st = mts_sts_policy_match(p, dm->mx[i], strlen(dm->mx[i]), &m, &idx);
    if (st != MTS_OK) {
      add(dm, A_MX, MTS_SEV_ERROR, "check-mx-bad-name",
          "give the MX record a valid host name",
          "MX %s is not a valid host name", dm->mx[i]);
    } else if (m) {
      add(dm, A_MX, MTS_SEV_INFO, "check-mx-covered", NULL,
          "MX %s matches mx: %s", dm->mx[i], mts_sts_policy_mx(p, idx));
    } else if (mode == MTS_STS_MODE_NONE) {
      add(dm, A_MX, MTS_SEV_INFO, "check-mx-not-covered", NULL,
          "MX %s matches no mx pattern (mode none: no effect)", dm->mx[i]);
    } else {
      add(dm, A_MX,
          mode == MTS_STS_MODE_ENFORCE ? MTS_SEV_ERROR : MTS_SEV_WARNING,
          "check-mx-not-covered",
          "add an mx line for this host to the policy (and change the id)",
          "MX %s matches no mx pattern of the policy: %s", dm->mx[i],
          mode == MTS_STS_MODE_ENFORCE
              ? "senders refuse to deliver to it"
              : "senders will report failures for it, and refuse it under "
                "enforce");
    }
    if (i < dm->nmxp) {
      mx_probe_findings(dm, &dm->mxp[i], fail_sev(mode));
    }
  }
}

static void area_tlsrpt(struct dom *dm) {
  const char *fix = "publish one record \"v=TLSRPTv1; rua=mailto:ADDRESS\" "
                    "(RFC 8460 3; `mtasts init --rua` prints one)";
  size_t i, n;

  if (dm->rpt_st == MTS_ENXDOMAIN || dm->rpt_st == MTS_ENODATA ||
      (dm->rpt != NULL && mts_rpt_txt_verdict(dm->rpt) == MTS_RPT_TXT_NONE)) {
    add(dm, A_TLSRPT, MTS_SEV_WARNING, "check-tlsrpt-missing", fix,
        "no TLSRPT record at _smtp._tls.%s: you will not hear about "
        "failed deliveries",
        dm->name);
    return;
  }
  if (dm->rpt_st != MTS_OK || dm->rpt == NULL) {
    add(dm, A_TLSRPT, MTS_SEV_WARNING, "check-tlsrpt-lookup-failed",
        "make the name servers answer for _smtp._tls",
        "TXT lookup of _smtp._tls.%s failed: %s", dm->name,
        mts_status_str(dm->rpt_st));
    return;
  }
  switch (mts_rpt_txt_verdict(dm->rpt)) {
  case MTS_RPT_TXT_MULTIPLE:
    add(dm, A_TLSRPT, MTS_SEV_ERROR, "check-tlsrpt-multiple", fix,
        "more than one TLSRPT record: senders ignore them all (RFC 8460 3)");
    break;
  case MTS_RPT_TXT_INVALID:
    add(dm, A_TLSRPT, MTS_SEV_ERROR, "check-tlsrpt-invalid", fix,
        "the TLSRPT record is invalid: senders send no reports");
    break;
  case MTS_RPT_TXT_VALID:
  case MTS_RPT_TXT_NONE:
    break;
  }
  add_lib(dm, A_TLSRPT, mts_rpt_txt_findings(dm->rpt), "RR", fix);
  n = mts_rpt_txt_rua_count(dm->rpt);
  for (i = 0; i < n; i++) {
    enum mts_rpt_uri_scheme s;
    const char *u = mts_rpt_txt_rua(dm->rpt, i, &s);

    if (s == MTS_RPT_URI_OTHER) {
      add(dm, A_TLSRPT, MTS_SEV_WARNING, "check-tlsrpt-rua-scheme",
          "use a mailto: or https: URI (RFC 8460 3)",
          "rua %s: senders only know mailto: and https:", u);
    } else {
      add(dm, A_TLSRPT, MTS_SEV_INFO, "check-tlsrpt-rua", NULL,
          "reports go to %s", u);
    }
  }
}

/* --state: compare the policy body seen now with the one remembered for
 * the same id, then remember this one. An entry is
 * {"id", "sha256" (hex of the body), "first_seen", "last_seen"}; the
 * times are RFC 3339 UTC; first_seen restarts when the id or the body
 * changes. */
static void area_state(struct dom *dm) {
  json_t *st = dm->ctl->state, *old, *e;
  const struct mts_sts_txt *txt = mts_sts_discovery_txt(dm->d);
  const char *id = txt != NULL ? mts_sts_txt_id(txt) : NULL;
  const uint8_t *body;
  size_t len, i;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned mdlen = 0;
  char hex[2 * EVP_MAX_MD_SIZE + 1], now[48];
  const char *oid, *ohash, *ofirst;

  body = mts_sts_discovery_body(dm->d, &len);
  if (st == NULL || id == NULL || body == NULL ||
      EVP_Digest(body, len, md, &mdlen, EVP_sha256(), NULL) != 1) {
    return;
  }
  for (i = 0; i < mdlen; i++) {
    (void)snprintf(hex + 2 * i, 3, "%02x", md[i]);
  }
  hex[2 * mdlen] = '\0';
  (void)fmt_time(dm->ctl->now, now, sizeof(now));
  old = json_object_get(st, dm->name);
  oid = json_string_value(json_object_get(old, "id"));
  ohash = json_string_value(json_object_get(old, "sha256"));
  ofirst = json_string_value(json_object_get(old, "first_seen"));
  if (oid != NULL && ohash != NULL && strcmp(oid, id) == 0 &&
      strcmp(ohash, hex) != 0) {
    add(dm, A_POLICY, MTS_SEV_ERROR, "check-policy-changed-same-id",
        "publish a new id in the _mta-sts TXT record (`mtasts init` prints "
        "one) whenever the policy changes",
        "the policy body changed (sha256 %s, was %s%s%s) but the id %s did "
        "not: senders with a cached policy will not fetch the new one "
        "(RFC 8461 3.1)",
        hex, ohash, ofirst != NULL ? ", first seen " : "",
        ofirst != NULL ? ofirst : "", id);
  }
  if (oid == NULL || ohash == NULL || ofirst == NULL || strcmp(oid, id) != 0 ||
      strcmp(ohash, hex) != 0) {
    ofirst = now;
  }
  e = json_pack("{s:s, s:s, s:s, s:s}", "id", id, "sha256", hex, "first_seen",
                ofirst, "last_seen", now);
  if (e == NULL || json_object_set_new(st, dm->name, e) != 0) {
    dm->failed = true;
  }
}

/* Load --state FILE: a missing file is an empty state. \return the
 * "domains" object (new reference) or NULL after a message. */
json_t *cmd_check_state_load(const char *path) {
  json_error_t err;
  json_t *root, *d;

  root = json_load_file(path, 0, &err);
  if (root == NULL) {
    if (access(path, F_OK) != 0 && errno == ENOENT) {
      return json_object();
    }
    cli_err("check: --state %s: %s (line %d)", path, err.text, err.line);
    return NULL;
  }
  d = json_object_get(root, "domains");
  if (!json_is_object(d)) {
    cli_err("check: --state %s: not a state file (no \"domains\" object)",
            path);
    json_decref(root);
    return NULL;
  }
  json_incref(d);
  json_decref(root);
  return d;
}

/* Write the state atomically: a temporary file next to it, renamed. */
static bool state_save(const char *path, json_t *domains) {
  json_t *root = json_pack("{s:s, s:O}", "schema", "mtasts-check-state/1",
                           "domains", domains);
  size_t n = strlen(path) + 16;
  char *tmp = malloc(n);
  bool ok = false;

  if (root == NULL || tmp == NULL) {
    cli_err("check: --state %s: out of memory", path);
    goto done;
  }
  (void)snprintf(tmp, n, "%s.tmp%ld", path, (long)getpid());
  if (json_dump_file(root, tmp, JSON_INDENT(2) | JSON_SORT_KEYS) != 0 ||
      rename(tmp, path) != 0) {
    cli_err("check: --state %s: cannot write: %s", path, strerror(errno));
    (void)unlink(tmp);
    goto done;
  }
  ok = true;
done:
  json_decref(root);
  free(tmp);
  return ok;
}

static void dom_evaluate(struct dom *dm) {
  const struct mts_sts_policy *p;
  bool published, have_body = false;

  if (dm->d == NULL || mts_sts_discovery_status(dm->d) == MTS_ENOMEM ||
      mts_sts_discovery_status(dm->d) == MTS_ECANCELED || !dm->mx_done ||
      !dm->rpt_done || dm->mx_st == MTS_ENOMEM || dm->rpt_st == MTS_ENOMEM) {
    dm->failed = true;
    return;
  }
  published = area_sts(dm);
  if (published) {
    have_body = area_host(dm);
  }
  if (have_body) {
    area_policy(dm);
    area_state(dm);
  }
  area_mx(dm, have_body);
  area_tlsrpt(dm);

  p = have_body ? mts_sts_discovery_policy(dm->d) : NULL;
  if (!published) {
    dm->verdict =
        count_area_sev(dm, A_STS, MTS_SEV_ERROR) ? "broken" : "not-deployed";
  } else if (count_sev(dm, MTS_SEV_ERROR) > 0 || p == NULL ||
             !mts_sts_policy_usable(p)) {
    dm->verdict = "broken";
  } else if (mts_sts_policy_mode(p) == MTS_STS_MODE_NONE) {
    dm->verdict = "not-deployed";
  } else if (mts_sts_policy_mode(p) == MTS_STS_MODE_ENFORCE) {
    dm->verdict = "enforcing";
  } else {
    dm->verdict =
        count_sev(dm, MTS_SEV_WARNING) == 0 ? "ready-for-enforce" : "testing";
  }
}

/* ---------------------------------------------------------------- output */

/* ANSI SGR colours of the text output (--color). */
static const char *sev_color(enum mts_severity sev) {
  switch (sev) {
  case MTS_SEV_ERROR:
    return "\033[1;31m";
  case MTS_SEV_WARNING:
    return "\033[33m";
  case MTS_SEV_INFO:
    break;
  }
  return "\033[36m";
}

static const char *verdict_color(const char *v) {
  if (strcmp(v, "enforcing") == 0 || strcmp(v, "ready-for-enforce") == 0) {
    return "\033[1;32m";
  }
  if (strcmp(v, "testing") == 0) {
    return "\033[1;33m";
  }
  if (strcmp(v, "not-deployed") == 0) {
    return "\033[1m";
  }
  return "\033[1;31m";
}

static void print_text(const struct dom *dm) {
  bool c = dm->ctl->color;
  const char *v = dm->failed ? "check failed" : dm->verdict;
  const char *off = c ? "\033[0m" : "";
  int a;
  size_t i;

  printf("%s%s%s: %s%s%s (%zu error(s), %zu warning(s))\n", c ? "\033[1m" : "",
         dm->name, off, c ? verdict_color(v) : "", v, off,
         count_sev(dm, MTS_SEV_ERROR), count_sev(dm, MTS_SEV_WARNING));
  for (a = 0; a < A_COUNT; a++) {
    bool title = false;

    for (i = 0; i < dm->nf; i++) {
      const struct finding *f = &dm->f[i];

      if ((int)f->area != a) {
        continue;
      }
      if (!title) {
        printf("  %s\n", area_titles[a]);
        title = true;
      }
      printf("    %s%-7s%s %s: %s\n", c ? sev_color(f->sev) : "",
             mts_severity_str(f->sev), off, f->code, f->message);
      if (f->fix != NULL && f->sev != MTS_SEV_INFO) {
        printf("            fix: %s\n", f->fix);
      }
    }
  }
}

static json_t *str_or_null(const char *s) {
  return s != NULL ? json_string(s) : json_null();
}

static json_t *probe_json(const struct probe *p, bool smtp) {
  json_t *o = json_object();
  char when[48];

  json_object_set_new(o, "address", str_or_null(p->address));
  json_object_set_new(o, "status", json_string(mts_status_name(p->status)));
  json_object_set_new(o, "stage",
                      json_string(mts_tls_probe_stage_str(p->stage)));
  json_object_set_new(o, "error", str_or_null(p->error));
  if (smtp) {
    json_object_set_new(
        o, "smtp",
        json_pack("{s:o, s:o, s:b}", "banner", str_or_null(p->banner), "ehlo",
                  str_or_null(p->ehlo), "starttls", (int)p->starttls));
  }
  if (p->status == MTS_OK) {
    json_object_set_new(o, "tls",
                        json_pack("{s:o, s:o, s:b}", "version",
                                  str_or_null(p->tls_version), "cipher",
                                  str_or_null(p->cipher), "tls12_or_newer",
                                  (int)p->tls12));
  } else {
    json_object_set_new(o, "tls", json_null());
  }
  if (p->status == MTS_OK && p->has_cert) {
    json_t *c = json_object(), *san = json_array(), *errs = json_array();
    size_t i;

    for (i = 0; i < p->nsan; i++) {
      json_array_append_new(san, json_string(p->san[i]));
    }
    if (p->cert_errors & MTS_TLS_CERT_NOT_TRUSTED) {
      json_array_append_new(errs, json_string("certificate-not-trusted"));
    }
    if (p->cert_errors & MTS_TLS_CERT_EXPIRED) {
      json_array_append_new(errs, json_string("certificate-expired"));
    }
    if (p->cert_errors & MTS_TLS_CERT_HOST_MISMATCH) {
      json_array_append_new(errs, json_string("certificate-host-mismatch"));
    }
    if (p->cert_errors & MTS_TLS_CERT_OTHER) {
      json_array_append_new(errs, json_string("validation-failure"));
    }
    json_object_set_new(c, "ok", json_boolean(p->cert_ok));
    json_object_set_new(c, "result_types", errs);
    json_object_set_new(c, "verify_error", str_or_null(p->verify_error));
    json_object_set_new(
        c, "not_before",
        json_string(fmt_time(p->not_before, when, sizeof(when))));
    json_object_set_new(
        c, "not_after",
        json_string(fmt_time(p->not_after, when, sizeof(when))));
    json_object_set_new(c, "issuer", str_or_null(p->issuer));
    json_object_set_new(c, "san", san);
    json_object_set_new(o, "certificate", c);
  } else {
    json_object_set_new(o, "certificate", json_null());
  }
  return o;
}

static json_t *phost_json(const struct phost *h, bool smtp) {
  json_t *o = json_object(), *arr = json_array();
  size_t i;

  json_object_set_new(o, "host", json_string(h->host));
  json_object_set_new(
      o, "lookup", json_string(h->done ? mts_status_name(h->st) : "ECANCELED"));
  json_object_set_new(o, "lookup_error",
                      str_or_null(h->st != MTS_OK ? h->errmsg : NULL));
  if (smtp) {
    json_object_set_new(o, "tlsa",
                        h->tlsa_done ? json_pack("{s:s, s:I, s:b}", "status",
                                                 mts_status_name(h->tlsa_st),
                                                 "count", (json_int_t)h->tlsa_n,
                                                 "dnssec", (int)h->tlsa_ad)
                                     : json_null());
  }
  for (i = 0; i < h->np; i++) {
    json_array_append_new(arr, probe_json(&h->p[i], smtp));
  }
  json_object_set_new(o, "addresses", arr);
  return o;
}

static json_t *dom_json(const struct dom *dm) {
  json_t *o = json_object(), *arr = json_array();
  size_t i;

  json_object_set_new(o, "domain", json_string(dm->name));
  json_object_set_new(o, "verdict",
                      json_string(dm->failed ? "check-failed" : dm->verdict));
  json_object_set_new(
      o, "counts",
      json_pack("{s:I, s:I, s:I}", "error",
                (json_int_t)count_sev(dm, MTS_SEV_ERROR), "warning",
                (json_int_t)count_sev(dm, MTS_SEV_WARNING), "info",
                (json_int_t)count_sev(dm, MTS_SEV_INFO)));
  for (i = 0; i < dm->nf; i++) {
    const struct finding *f = &dm->f[i];

    json_array_append_new(
        arr, json_pack("{s:s, s:s, s:s, s:s, s:o}", "area", area_names[f->area],
                       "code", f->code, "severity", mts_severity_str(f->sev),
                       "message", f->message, "fix",
                       f->fix ? json_string(f->fix) : json_null()));
  }
  json_object_set_new(o, "findings", arr);
  arr = json_array();
  for (i = 0; i < dm->nmxp; i++) {
    json_t *h = phost_json(&dm->mxp[i], true);

    json_object_set_new(h, "implicit", json_boolean(dm->implicit_mx));
    json_array_append_new(arr, h);
  }
  json_object_set_new(o, "mx_hosts", arr);
  json_object_set_new(o, "policy_host_tls",
                      dm->hostp ? phost_json(dm->hostp, false) : json_null());
  json_object_set_new(
      o, "timings_ms",
      dm->d ? json_pack("{s:I, s:I}", "dns",
                        (json_int_t)mts_sts_discovery_dns_ms(dm->d), "fetch",
                        (json_int_t)mts_sts_discovery_fetch_ms(dm->d))
            : json_null());
  return o;
}

static void dom_free(struct dom *dm) {
  size_t i;

  for (i = 0; i < dm->nf; i++) {
    free(dm->f[i].code);
    free(dm->f[i].message);
    free(dm->f[i].fix);
  }
  free(dm->f);
  free(dm->sts_cname);
  for (i = 0; i < dm->nmx; i++) {
    free(dm->mx[i]);
  }
  free(dm->mx);
  for (i = 0; i < dm->nmxp; i++) {
    phost_free(&dm->mxp[i]);
  }
  free(dm->mxp);
  if (dm->hostp != NULL) {
    phost_free(dm->hostp);
    free(dm->hostp);
  }
  mts_rpt_txt_destroy(dm->rpt);
  mts_sts_discovery_destroy(dm->d);
}

/* The options of check the common parser does not know. */
struct xopts {
  uint16_t smtp_port;
  const char *state; /* --state FILE */
  const char *file;  /* -f FILE */
  int color;         /* 0 auto, 1 always, 2 never */
};

/* Match "NAME VALUE" or "NAME=VALUE" at argv[*i]; advances *i over a
 * separate value. \return 1 matched (*val set), 0 not this option, -1
 * missing value (message printed). */
static int take_val(int argc, char **argv, int *i, const char *name,
                    const char **val) {
  size_t n = strlen(name);
  const char *a = argv[*i];

  if (strcmp(a, name) == 0) {
    if (*i + 1 >= argc) {
      cli_err("check: option %s needs a value", name);
      return -1;
    }
    *val = argv[++*i];
    return 1;
  }
  if (strncmp(a, name, n) == 0 && a[n] == '=' && name[1] == '-') {
    *val = a + n + 1;
    return 1;
  }
  return 0;
}

/* Take --smtp-port, --state, -f/--file and --color out of argv (before
 * "--"). \return false on a bad value (message printed). */
static bool take_opts(int *argc, char **argv, struct xopts *x) {
  static const char *const names[] = {"--smtp-port", "--state", "-f", "--file",
                                      "--color"};
  int i, o = 0;
  bool done = false;

  for (i = 0; i < *argc; i++) {
    const char *val = NULL;
    size_t k;
    int r = 0;
    char *end = NULL;
    unsigned long v;

    if (!done && strcmp(argv[i], "--") == 0) {
      done = true;
    }
    for (k = 0; !done && r == 0 && k < sizeof(names) / sizeof(names[0]); k++) {
      r = take_val(*argc, argv, &i, names[k], &val);
    }
    if (r < 0) {
      return false;
    }
    if (r == 0) {
      argv[o++] = argv[i];
      continue;
    }
    k--;
    if (k == 1) {
      x->state = val;
    } else if (k == 2 || k == 3) {
      x->file = val;
    } else if (k == 4) {
      if (strcmp(val, "auto") == 0) {
        x->color = 0;
      } else if (strcmp(val, "always") == 0) {
        x->color = 1;
      } else if (strcmp(val, "never") == 0) {
        x->color = 2;
      } else {
        cli_err("check: --color wants always, never or auto, not '%s'", val);
        return false;
      }
    } else {
      errno = 0;
      v = val[0] >= '0' && val[0] <= '9' ? strtoul(val, &end, 10) : 0;
      if (errno != 0 || end == NULL || *end != '\0' || v < 1 || v > 65535) {
        cli_err("check: --smtp-port wants a port from 1 to 65535, not '%s'",
                val);
        return false;
      }
      x->smtp_port = (uint16_t)v;
    }
  }
  *argc = o;
  return true;
}

/* The domains of -f FILE: one a line, '#' starts a comment, blanks
 * ignored. Lines are cut in place in \p buf; pointers go to *out
 * (malloc'd). \return false on OOM. */
bool cmd_check_file_domains(char *buf, size_t len, const char ***out,
                            size_t *n) {
  size_t i, cap = 0, start = 0;
  const char **v = NULL;

  *n = 0;
  for (i = 0; i <= len; i++) {
    char *line, *e;

    if (i < len && buf[i] != '\n') {
      continue;
    }
    buf[i] = '\0'; /* buf has len + 1 bytes */
    line = buf + start;
    start = i + 1;
    e = strchr(line, '#');
    if (e != NULL) {
      *e = '\0';
    }
    while (*line == ' ' || *line == '\t' || *line == '\r') {
      line++;
    }
    e = line + strlen(line);
    while (e > line && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r')) {
      *--e = '\0';
    }
    if (*line == '\0') {
      continue;
    }
    if (*n == cap) {
      const char **nv;

      cap = cap ? cap * 2 : 64;
      nv = realloc(v, cap * sizeof(*v));
      if (nv == NULL) {
        free(v);
        return false;
      }
      v = nv;
    }
    v[(*n)++] = line;
  }
  *out = v;
  return true;
}

/* Exit status contribution of one evaluated domain. */
static int dom_rc(const struct dom *dm) {
  if (dm->failed) {
    return CHECK_EX_FAILED;
  }
  if (count_sev(dm, MTS_SEV_ERROR) > 0) {
    return 2;
  }
  return count_sev(dm, MTS_SEV_WARNING) > 0 ? 1 : 0;
}

static int worse(int rc, int r) {
  return rc == CHECK_EX_FAILED || r == CHECK_EX_FAILED ? CHECK_EX_FAILED
         : r > rc                                      ? r
                                                       : rc;
}

static void progress(size_t done, size_t total) {
  char bar[41];
  size_t i, k = total ? done * 40 / total : 40;

  for (i = 0; i < 40; i++) {
    bar[i] = i < k ? '#' : '.';
  }
  bar[40] = '\0';
  fprintf(stderr, "\r[%s] %zu/%zu%s", bar, done, total,
          done == total ? "\n" : "");
  fflush(stderr);
}

/* One JSON Lines record: the mtasts-check/1 document of one domain. */
static void print_jsonl(const struct dom *dm) {
  json_t *o = json_pack("{s:s, s:[o], s:i}", "schema", "mtasts-check/1",
                        "domains", dom_json(dm), "exit", dom_rc(dm));

  if (o != NULL) {
    char *t = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);

    if (t != NULL) {
      printf("%s\n", t);
      free(t);
    }
    json_decref(o);
  }
  fflush(stdout);
}

int cmd_check(int argc, char **argv) {
  const char **pos = calloc((size_t)argc + 1, sizeof(*pos));
  const char **names = NULL, **fnames = NULL;
  uint8_t *fbuf = NULL;
  size_t fnn = 0, nd = 0, i, b, e;
  struct dom *doms = NULL;
  struct mts_net_options no;
  struct ctl ctl = {NULL, NULL, 25, 0, 0, NULL, false};
  struct xopts x = {25, NULL, NULL, 0};
  struct cli_args a;
  uv_loop_t loop;
  bool loop_ok = false, bar;
  enum mts_status st;
  int rc = CLI_EX_USAGE;
  const char *nc;

  if (pos == NULL) {
    cli_err("out of memory");
    return CHECK_EX_FAILED;
  }
  if (!take_opts(&argc, argv, &x) ||
      !cli_parse_args("check", argc, argv, CLI_OPT_JSON | CLI_OPT_NET, &a,
                      pos)) {
    goto done;
  }
  ctl.smtp_port = x.smtp_port;
  nc = getenv("NO_COLOR");
  ctl.color = x.color == 1 || (x.color == 0 && isatty(STDOUT_FILENO) &&
                               (nc == NULL || nc[0] == '\0'));
  if (x.file != NULL) {
    size_t flen;

    if (cli_read_file(x.file, CHECK_FILE_MAX, &fbuf, &flen) != 0) {
      rc = CLI_EX_NOINPUT;
      goto done;
    }
    if (flen > CHECK_FILE_MAX) {
      cli_err("check: %s: larger than %u bytes", x.file, CHECK_FILE_MAX);
      rc = CLI_EX_NOINPUT;
      goto done;
    }
    {
      uint8_t *nb = realloc(fbuf, flen + 1);

      if (nb == NULL ||
          !cmd_check_file_domains((char *)nb, flen, &fnames, &fnn)) {
        free(nb != NULL ? nb : fbuf);
        fbuf = NULL;
        rc = CHECK_EX_FAILED;
        goto done;
      }
      fbuf = nb;
    }
  }
  nd = (size_t)a.npos + fnn;
  if (nd < 1) {
    cli_err("usage: mtasts check DOMAIN... [-f FILE] [--json] [--state FILE] "
            "[--color=auto|always|never] [--resolver IP[:PORT]] "
            "[--ca-file FILE] [--timeout SECONDS] [--smtp-port PORT]");
    goto done;
  }
  names = calloc(nd, sizeof(*names));
  doms = calloc(nd, sizeof(*doms));
  if (doms == NULL || names == NULL) {
    rc = CHECK_EX_FAILED;
    goto done;
  }
  for (i = 0; i < nd; i++) {
    names[i] = i < (size_t)a.npos ? a.pos[i] : fnames[i - (size_t)a.npos];
    doms[i].arg = names[i];
    doms[i].ctl = &ctl;
    if (mts_idn_to_ascii(names[i], strlen(names[i]), doms[i].name,
                         sizeof(doms[i].name)) != MTS_OK ||
        strlen(doms[i].name) + sizeof("_smtp._tls.") > MTS_DOMAIN_MAX) {
      cli_err("check: '%s' is not a valid domain name", names[i]);
      goto done;
    }
  }
  rc = CHECK_EX_FAILED;
  if (x.state != NULL &&
      (ctl.state = cmd_check_state_load(x.state)) == NULL) {
    goto done;
  }
  ctl.ctx = cli_ctx();
  if (ctl.ctx == NULL || uv_loop_init(&loop) != 0) {
    goto done;
  }
  loop_ok = true;
  mts_net_options_init(&no);
  no.resolver = a.opts.resolver;
  no.ca_file = a.opts.ca_file;
  no.dns_timeout_ms = a.opts.timeout_s * 1000u;
  no.http_timeout_ms = a.opts.timeout_s * 1000u;
  st = mts_net_create(ctl.ctx, &loop, &no, &ctl.net);
  if (st != MTS_OK) {
    cli_err("check: cannot set up the network: %s%s", mts_status_str(st),
            st == MTS_EINVAL ? " (check --resolver and --ca-file)" : "");
    rc = st == MTS_EINVAL ? CLI_EX_USAGE : CHECK_EX_FAILED;
    goto done;
  }
  ctl.probe_timeout_ms = a.opts.timeout_s * 1000u;
  bar = x.file != NULL && isatty(STDERR_FILENO);
  rc = 0;
  /* At most CHECK_BATCH domains at once; each batch runs both phases. */
  for (b = 0; b < nd; b = e) {
    e = nd - b > CHECK_BATCH ? b + CHECK_BATCH : nd;
    if (bar) {
      progress(b, nd);
    }
    for (i = b; i < e; i++) {
      if (!dom_start(&doms[i])) {
        rc = CHECK_EX_FAILED;
        goto done;
      }
    }
    (void)uv_run(&loop, UV_RUN_DEFAULT);
    /* Second phase, once the MX hosts and the policy host are known: the
     * TLS probes (each address under its own deadline). */
    for (i = b; i < e; i++) {
      if (!dom_probe_start(&doms[i])) {
        rc = CHECK_EX_FAILED;
        goto done;
      }
    }
    (void)uv_run(&loop, UV_RUN_DEFAULT);
    ctl.now = mts_ctx_now(ctl.ctx);
    for (i = b; i < e; i++) {
      dom_evaluate(&doms[i]);
      rc = worse(rc, dom_rc(&doms[i]));
      if (x.file != NULL) {
        /* JSON Lines, streamed: one document per domain. */
        if (bar) {
          fputs("\r\033[K", stderr); /* the bar is redrawn below */
        }
        print_jsonl(&doms[i]);
        if (bar && i + 1 < nd) {
          progress(i + 1, nd);
        }
        dom_free(&doms[i]);
        memset(&doms[i], 0, sizeof(doms[i]));
      }
    }
  }
  if (bar) {
    progress(nd, nd);
  }
  if (x.file != NULL) {
    /* printed above */
  } else if (a.opts.json) {
    json_t *o = json_object(), *arr = json_array();

    json_object_set_new(o, "schema", json_string("mtasts-check/1"));
    for (i = 0; i < nd; i++) {
      json_array_append_new(arr, dom_json(&doms[i]));
    }
    json_object_set_new(o, "domains", arr);
    json_object_set_new(o, "exit", json_integer(rc));
    cli_json_print(o);
  } else {
    for (i = 0; i < nd; i++) {
      if (i > 0) {
        printf("\n");
      }
      print_text(&doms[i]);
    }
  }
  if (ctl.state != NULL && !state_save(x.state, ctl.state)) {
    rc = CHECK_EX_FAILED;
  }
done:
  /* Cancel what is pending first: the callbacks write into doms. */
  mts_net_destroy(ctl.net);
  if (loop_ok) {
    (void)uv_run(&loop, UV_RUN_DEFAULT);
    (void)uv_loop_close(&loop);
  }
  for (i = 0; doms != NULL && i < nd; i++) {
    dom_free(&doms[i]);
  }
  json_decref(ctl.state);
  mts_ctx_destroy(ctl.ctx);
  free(doms);
  free(names);
  free(fnames);
  free(fbuf);
  free(pos);
  return rc;
}
