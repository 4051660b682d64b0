/*
 * rpt_txt.c - the `_smtp._tls` TLSRPT TXT record (RFC 8460 3); see
 * mtasts/rpt_txt.h. The grammar shared with the `_mta-sts` record lives
 * in core/txtrec.c; this file adds the `rua` field and its URIs.
 *
 * A rua URI is checked against RFC 3986 `URI` (scheme ":" hier-part
 * ["?" query] ["#" fragment], percent-encoding, bracketed IP literals
 * only in the authority) with the RFC 8460 3 restriction that `,` `!`
 * and `;` are percent-encoded; then by scheme: mailto needs
 * `local@domain` (RFC 6068), https needs a host (RFC 9110 4.2.2).
 * Other schemes are valid syntax but unsupported (a warning).
 */
#include <mtasts/rpt_txt.h>

#include <string.h>

#include "core/arena_int.h"
#include "core/ascii_int.h"
#include "core/findings_int.h"
#include "core/txtrec_int.h"

#define RPT_VERSION "v=TLSRPTv1"
#define SNIP 64

struct rpt_uri {
  const char *uri;
  enum mts_rpt_uri_scheme scheme;
};

struct mts_rpt_txt {
  struct mts_arena *arena;
  struct mts_findings findings;
  enum mts_rpt_txt_verdict verdict;
  struct rpt_uri *rua;
  size_t nrua, caprua;
  const uint8_t *rec;
  size_t len;
};

static const struct mts_txtrec_codes rpt_codes = {
    .no_record = "rpt-no-record",
    .multiple = "rpt-multiple-records",
    .discarded = "rpt-discarded-record",
    .discarded_like = "rpt-discarded-tlsrpt-like",
    .version_case = "rpt-version-case",
    .bad_version = "rpt-bad-version",
    .empty_field = "rpt-empty-field",
    .bad_field = "rpt-bad-field",
    .bad_extension = "rpt-bad-extension",
    .trailing_garbage = "rpt-trailing-garbage",
    .non_ascii = "rpt-non-ascii",
    .nul = "rpt-nul",
    .control = "rpt-control-char",
    .unknown_field = "rpt-unknown-field",
};

const char *mts_rpt_txt_verdict_str(enum mts_rpt_txt_verdict v) {
  switch (v) {
  case MTS_RPT_TXT_VALID:
    return "valid";
  case MTS_RPT_TXT_NONE:
    return "none";
  case MTS_RPT_TXT_MULTIPLE:
    return "multiple";
  case MTS_RPT_TXT_INVALID:
    return "invalid";
  }
  return "unknown";
}

static bool is_hex(uint8_t c) {
  return mts_is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* RFC 3986 2.2/2.3: unreserved / sub-delims / ":" / "@" / "/" / "?";
 * "%" "#" "[" "]" are handled by the caller. */
static bool uri_char(uint8_t c) {
  return mts_is_alnum(c) || strchr("-._~!$&'()*+,;=:@/?", c) != NULL;
}

static const uint8_t *find_any(const uint8_t *s, size_t len, const char *set,
                               size_t *at) {
  size_t i;

  for (i = 0; i < len; i++) {
    if (s[i] != 0 && strchr(set, s[i]) != NULL) {
      *at = i;
      return s + i;
    }
  }
  *at = len;
  return NULL;
}

/* A finding about a URI at offset \p off of it. */
static enum mts_status uri_finding(struct mts_rpt_txt *t, const char *code,
                                   enum mts_severity sev, uint32_t line,
                                   uint32_t col, size_t off, const uint8_t *u,
                                   size_t ulen, const char *why) {
  char snip[SNIP];

  return mts_findings_add(&t->findings, code, sev, line, col + (uint32_t)off,
                          "rua URI \"%s\": %s",
                          mts_findings_escape(u, ulen, snip, sizeof(snip)),
                          why);
}

/*
 * Check the authority [a, e) of \p u: userinfo "@" host [":" port] with
 * host an IP-literal in brackets or a reg-name. \return NULL when fine,
 * else the reason; *bad is the offending offset; *hostlen the host's.
 */
static const char *check_authority(const uint8_t *u, size_t a, size_t e,
                                   size_t *bad, size_t *hostlen) {
  size_t h = a, i, hend;

  for (i = a; i < e; i++) {
    if (u[i] == '@') {
      h = i + 1; /* the last "@" ends the userinfo */
    }
  }
  for (i = a; i < h; i++) {
    if (u[i] == '[' || u[i] == ']') {
      *bad = i;
      return "\"[\" and \"]\" are only allowed around an IP literal host";
    }
  }
  if (h < e && u[h] == '[') {
    const uint8_t *close = memchr(u + h, ']', e - h);

    if (close == NULL) {
      *bad = h;
      return "unterminated \"[\" in the host";
    }
    hend = (size_t)(close - u) + 1;
    for (i = h + 1; i + 1 < hend; i++) {
      if (u[i] == '[') {
        *bad = i;
        return "\"[\" inside an IP literal";
      }
    }
  } else {
    hend = h;
    while (hend < e && u[hend] != ':') {
      if (u[hend] == '[' || u[hend] == ']') {
        *bad = hend;
        return "\"[\" and \"]\" are only allowed around an IP literal host";
      }
      hend++;
    }
  }
  *hostlen = hend - h;
  if (hend < e) {
    if (u[hend] != ':') {
      *bad = hend;
      return "unexpected text after the host";
    }
    for (i = hend + 1; i < e; i++) {
      if (!mts_is_digit(u[i])) {
        *bad = i;
        return "the port must be digits";
      }
    }
  }
  return NULL;
}

/* The next address of a mailto path (RFC 6068: `to = addr-spec *("%2C"
 * addr-spec)` once the comma is encoded, as RFC 8460 3 requires): its
 * length before "%2C" or the end. */
static size_t mailto_next(const uint8_t *p, size_t len) {
  size_t i;

  for (i = 0; i + 2 < len; i++) {
    if (p[i] == '%' && p[i + 1] == '2' && (p[i + 2] == 'C' || p[i + 2] == 'c')) {
      return i;
    }
  }
  return len;
}

/* One address: addr-spec-like `local@domain`. */
static bool mailto_addr_ok(const uint8_t *p, size_t len) {
  const uint8_t *at = memchr(p, '@', len);
  size_t l;

  if (at == NULL) {
    return false;
  }
  l = (size_t)(at - p);
  return l > 0 && l + 1 < len && memchr(at + 1, '@', len - l - 1) == NULL &&
         memchr(p, '/', len) == NULL;
}

/* mailto (RFC 6068): one or more addresses separated by "%2C". */
static bool mailto_ok(const uint8_t *p, size_t len) {
  for (;;) {
    size_t n = mailto_next(p, len);

    if (!mailto_addr_ok(p, n)) {
      return false;
    }
    if (n == len) {
      return true;
    }
    p += n + 3;
    len -= n + 3;
  }
}

static enum mts_status add_uri(struct mts_rpt_txt *t, const uint8_t *u,
                               size_t len, enum mts_rpt_uri_scheme scheme);
static enum mts_status rua_push(struct mts_rpt_txt *t, char *uri,
                                enum mts_rpt_uri_scheme scheme);

/* A mailto URI, checked: one rua per address ("mailto:a@x%2Cb@y" is two
 * recipients, and so two destinations, each "mailto:ADDR"); the
 * header fields after "?" are not kept (RFC 8460 gives them no use). */
static enum mts_status add_mailto(struct mts_rpt_txt *t, const uint8_t *u,
                                  size_t len) {
  const uint8_t *p = u + 7; /* "mailto:", any case */
  size_t rest = len - 7, pathend, n;
  enum mts_status st = MTS_OK;

  (void)find_any(p, rest, "?#", &pathend);
  if (mailto_next(p, pathend) == pathend) {
    return add_uri(t, u, len, MTS_RPT_URI_MAILTO); /* one: as written */
  }
  while (st == MTS_OK) {
    n = mailto_next(p, pathend);
    st = rua_push(t, mts_arena_printf(t->arena, "mailto:%.*s", (int)n, p),
                  MTS_RPT_URI_MAILTO);
    if (n == pathend) {
      break;
    }
    p += n + 3;
    pathend -= n + 3;
  }
  return st;
}

/*
 * Check one rua URI \p u of \p ulen octets at column \p col. On success
 * *scheme is set; on a syntax error it is reported and *ok set false.
 */
static enum mts_status check_uri(struct mts_rpt_txt *t, uint32_t line,
                                 uint32_t col, const uint8_t *u, size_t ulen,
                                 enum mts_rpt_uri_scheme *scheme, bool *ok) {
  size_t i, s, rest, pathend, bad = 0, hostlen = 0;
  bool hash = false, auth = false;
  const char *why = NULL;

  *scheme = MTS_RPT_URI_OTHER;
  /* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":" */
  for (s = 0; s < ulen && u[s] != ':'; s++) {
    if (!(mts_is_alpha(u[s]) ||
          (s > 0 && (mts_is_digit(u[s]) || u[s] == '+' || u[s] == '-' ||
                     u[s] == '.')))) {
      break;
    }
  }
  if (s == 0 || s >= ulen || u[s] != ':') {
    *ok = false;
    return uri_finding(t, "rpt-bad-uri", MTS_SEV_ERROR, line, col, 0, u, ulen,
                       "not a URI: it must begin with a scheme and \":\"");
  }
  rest = s + 1;
  for (i = rest; i < ulen && why == NULL; i++) {
    uint8_t c = u[i];

    if (c == '%') {
      if (i + 2 >= ulen || !is_hex(u[i + 1]) || !is_hex(u[i + 2])) {
        *ok = false;
        return uri_finding(t, "rpt-bad-percent", MTS_SEV_ERROR, line, col, i,
                           u, ulen, "\"%\" must be followed by two hex digits");
      }
      i += 2;
    } else if (c == '!' || c == ',' || c == ';') {
      *ok = false;
      return uri_finding(t, "rpt-unencoded-char", MTS_SEV_ERROR, line, col, i,
                         u, ulen,
                         "\",\", \"!\" and \";\" must be percent-encoded "
                         "(RFC 8460 3)");
    } else if (c == '#') {
      if (hash) {
        bad = i;
        why = "a second \"#\"";
      }
      hash = true;
    } else if (c == '[' || c == ']') {
      /* checked with the authority below */
    } else if (!uri_char(c)) {
      bad = i;
      why = mts_is_wsp(c) ? "blanks are not allowed inside a URI"
                          : "octet not allowed in a URI";
    }
  }
  /* hier-part: "//" authority path-abempty, or a path without one. */
  (void)find_any(u + rest, ulen - rest, "?#", &pathend);
  pathend += rest;
  if (why == NULL && pathend - rest >= 2 && u[rest] == '/' &&
      u[rest + 1] == '/') {
    size_t ae;

    auth = true;
    (void)find_any(u + rest + 2, pathend - rest - 2, "/", &ae);
    ae += rest + 2;
    why = check_authority(u, rest + 2, ae, &bad, &hostlen);
    if (why == NULL) {
      const uint8_t *br;
      size_t at;

      br = find_any(u + ae, ulen - ae, "[]", &at);
      if (br != NULL) {
        bad = ae + at;
        why = "\"[\" and \"]\" are only allowed around an IP literal host";
      }
    }
  } else if (why == NULL) {
    const uint8_t *br;
    size_t at;

    br = find_any(u + rest, ulen - rest, "[]", &at);
    if (br != NULL) {
      bad = rest + at;
      why = "\"[\" and \"]\" are only allowed around an IP literal host";
    }
  }
  if (why != NULL) {
    *ok = false;
    return uri_finding(t, "rpt-bad-uri", MTS_SEV_ERROR, line, col, bad, u,
                       ulen, why);
  }
  if (mts_ascii_caseeq(u, s, (const uint8_t *)"mailto", 6)) {
    *scheme = MTS_RPT_URI_MAILTO;
    if (!mailto_ok(u + rest, pathend - rest)) {
      *ok = false;
      return uri_finding(t, "rpt-bad-mailto", MTS_SEV_ERROR, line, col, rest,
                         u, ulen, "a mailto URI needs an address local@domain");
    }
  } else if (mts_ascii_caseeq(u, s, (const uint8_t *)"https", 5)) {
    *scheme = MTS_RPT_URI_HTTPS;
    if (!auth || hostlen == 0) {
      *ok = false;
      return uri_finding(t, "rpt-bad-https", MTS_SEV_ERROR, line, col, rest, u,
                         ulen, "an https URI needs a host (https://host/...)");
    }
  } else {
    return uri_finding(t, "rpt-unsupported-scheme", MTS_SEV_WARNING, line, col,
                       0, u, ulen,
                       "RFC 8460 defines only mailto: and https: reporting");
  }
  return MTS_OK;
}

/* Append \p uri (in the arena; NULL: out of memory) to the rua list. */
static enum mts_status rua_push(struct mts_rpt_txt *t, char *uri,
                                enum mts_rpt_uri_scheme scheme) {
  if (uri == NULL) {
    return MTS_ENOMEM;
  }
  if (t->nrua == t->caprua) {
    size_t cap = t->caprua == 0 ? 4 : t->caprua * 2;
    struct rpt_uri *v = mts_arena_alloc(t->arena, cap * sizeof(*v));

    if (v == NULL) {
      return MTS_ENOMEM;
    }
    if (t->nrua > 0) {
      memcpy(v, t->rua, t->nrua * sizeof(*v));
    }
    t->rua = v;
    t->caprua = cap;
  }
  t->rua[t->nrua].uri = uri;
  t->rua[t->nrua].scheme = scheme;
  t->nrua++;
  return MTS_OK;
}

static enum mts_status add_uri(struct mts_rpt_txt *t, const uint8_t *u,
                               size_t len, enum mts_rpt_uri_scheme scheme) {
  return rua_push(t, mts_arena_strndup(t->arena, (const char *)u, len),
                  scheme);
}

/* tlsrpt-rua = %s"rua=" tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri) */
static enum mts_status parse_rua(struct mts_rpt_txt *t, uint32_t line,
                                 const struct mts_txtrec_field *fld,
                                 bool *ok) {
  const uint8_t *v = fld->value;
  size_t len = fld->value_len, p = 0;
  enum mts_status st = MTS_OK;

  if (len == 0) {
    *ok = false;
    return mts_findings_add(&t->findings, "rpt-empty-uri", MTS_SEV_ERROR, line,
                            fld->value_col, "rua= has no URI");
  }
  while (st == MTS_OK) {
    const uint8_t *comma = p < len ? memchr(v + p, ',', len - p) : NULL;
    size_t e = comma == NULL ? len : (size_t)(comma - v);
    size_t a = p, b = e;
    enum mts_rpt_uri_scheme scheme;
    bool uri_ok = true;

    while (a < b && mts_is_wsp(v[a])) {
      a++;
    }
    while (b > a && mts_is_wsp(v[b - 1])) {
      b--;
    }
    if (a == b) {
      *ok = false;
      st = mts_findings_add(&t->findings, "rpt-empty-uri", MTS_SEV_ERROR, line,
                            fld->value_col + (uint32_t)p,
                            "empty URI in the rua list");
    } else {
      st = check_uri(t, line, fld->value_col + (uint32_t)a, v + a, b - a,
                     &scheme, &uri_ok);
      if (st == MTS_OK && uri_ok && scheme == MTS_RPT_URI_MAILTO) {
        st = add_mailto(t, v + a, b - a);
      } else if (st == MTS_OK && uri_ok) {
        st = add_uri(t, v + a, b - a, scheme);
      }
      *ok = *ok && uri_ok;
    }
    if (comma == NULL) {
      break;
    }
    p = e + 1;
  }
  return st;
}

static enum mts_status parse_record(struct mts_rpt_txt *t,
                                    const struct mts_txtrec_sel *sel) {
  struct mts_txtrec_field *fields;
  size_t i, nfields, supported = 0;
  bool ok, seen_rua = false;
  enum mts_status st;

  st = mts_txtrec_split(t->arena, &t->findings, sel, RPT_VERSION, &rpt_codes,
                        &fields, &nfields, &ok);
  if (st != MTS_OK) {
    return st;
  }
  for (i = 0; i < nfields && st == MTS_OK; i++) {
    if (fields[i].name_len == 3 && memcmp(fields[i].name, "rua", 3) == 0) {
      /* RPT-TXT-8: several rua fields are grammatical; join them. */
      seen_rua = true;
      st = parse_rua(t, sel->line, &fields[i], &ok);
    } else {
      st = mts_txtrec_check_ext(&t->findings, &rpt_codes, sel->line,
                                &fields[i], &ok);
    }
  }
  if (st != MTS_OK) {
    return st;
  }
  if (!seen_rua && fields != NULL) {
    ok = false;
    st = mts_findings_add(&t->findings, "rpt-missing-rua", MTS_SEV_ERROR,
                          sel->line, 0, "the required rua field is missing");
  }
  for (i = 0; i < t->nrua; i++) {
    supported += t->rua[i].scheme != MTS_RPT_URI_OTHER;
  }
  ok = ok && t->nrua > 0;
  if (st == MTS_OK && ok && supported == 0) {
    /* Valid syntax, but nothing a reporter can deliver to
     * (docs/decisions.md, RPT-SCHEME-1). */
    st = mts_findings_add(&t->findings, "rpt-no-supported-rua",
                          MTS_SEV_WARNING, sel->line, 0,
                          "no rua URI uses mailto: or https:; reports cannot "
                          "be delivered");
  }
  t->verdict = ok ? MTS_RPT_TXT_VALID : MTS_RPT_TXT_INVALID;
  return st;
}

enum mts_status mts_rpt_txt_parse(struct mts_ctx *ctx,
                                  const struct mts_txt_rrset *set,
                                  struct mts_rpt_txt **out) {
  struct mts_arena *arena = NULL;
  struct mts_rpt_txt *t = NULL;
  struct mts_txtrec_sel sel;
  enum mts_status st;

  if (out != NULL) {
    *out = NULL;
  }
  if (ctx == NULL || set == NULL || out == NULL) {
    return MTS_EINVAL;
  }
  t = mts_arena_create_object(ctx, sizeof(*t), &arena);
  if (t == NULL) {
    return MTS_ENOMEM;
  }
  t->arena = arena;
  mts_findings_init(&t->findings, arena);
  t->verdict = MTS_RPT_TXT_NONE;

  st = mts_txtrec_select(arena, &t->findings, set, RPT_VERSION, &rpt_codes,
                         &sel);
  if (st != MTS_OK) {
    goto done;
  }
  switch (sel.pick) {
  case MTS_TXTREC_PICK_NONE:
    t->verdict = MTS_RPT_TXT_NONE;
    break;
  case MTS_TXTREC_PICK_MULTIPLE:
    t->verdict = MTS_RPT_TXT_MULTIPLE;
    break;
  case MTS_TXTREC_PICK_ONE:
    t->rec = sel.rec;
    t->len = sel.len;
    st = parse_record(t, &sel);
    break;
  }
  if (st == MTS_OK && t->findings.oom) {
    st = MTS_ENOMEM;
  }
  if (st == MTS_OK && t->verdict != MTS_RPT_TXT_VALID) {
    t->nrua = 0;
  }
done:
  if (st != MTS_OK) {
    mts_rpt_txt_destroy(t);
    return st;
  }
  *out = t;
  return MTS_OK;
}

void mts_rpt_txt_destroy(struct mts_rpt_txt *txt) {
  if (txt == NULL) {
    return;
  }
  mts_findings_cleanup(&txt->findings);
  mts_arena_destroy(txt->arena);
}

enum mts_rpt_txt_verdict mts_rpt_txt_verdict(const struct mts_rpt_txt *txt) {
  return txt == NULL ? MTS_RPT_TXT_NONE : txt->verdict;
}

size_t mts_rpt_txt_rua_count(const struct mts_rpt_txt *txt) {
  return txt == NULL || txt->verdict != MTS_RPT_TXT_VALID ? 0 : txt->nrua;
}

const char *mts_rpt_txt_rua(const struct mts_rpt_txt *txt, size_t i,
                            enum mts_rpt_uri_scheme *scheme) {
  if (scheme != NULL) {
    *scheme = MTS_RPT_URI_OTHER;
  }
  if (i >= mts_rpt_txt_rua_count(txt)) {
    return NULL;
  }
  if (scheme != NULL) {
    *scheme = txt->rua[i].scheme;
  }
  return txt->rua[i].uri;
}

const struct mts_findings *mts_rpt_txt_findings(const struct mts_rpt_txt *txt) {
  return txt == NULL ? NULL : &txt->findings;
}
