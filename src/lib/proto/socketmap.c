/*
 * socketmap.c - socketmap requests, key normalisation and replies
 * (mtasts/socketmap.h).
 *
 * Key normalisation reproduces postfix-mta-sts-resolver's
 * utils.filter_domain (POSTFIX-NOTES 2.1) and fixes where it goes wrong:
 * an unbracketed IPv6 address ("::1") is recognised instead of being cut
 * at its last ':' into garbage, and keys that cannot be domains (empty,
 * '@', over-long labels, invalid IDN) are classified here instead of
 * being sent to DNS or killing the connection. Decisions:
 * docs/decisions.md. Nothing here allocates.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include <mtasts/idn.h>
#include <mtasts/socketmap.h>

#include "core/ascii_int.h"

/* Longest text that can be an IP literal: "ipv6:" + INET6_ADDRSTRLEN. */
#define SM_IP_TEXT_MAX (5 + INET6_ADDRSTRLEN)

/* ---- Requests ---- */

enum mts_status mts_socketmap_request_parse(const uint8_t *in, size_t len,
                                            struct mts_socketmap_request *out) {
  const uint8_t *sp;
  size_t i, nlen;

  if (out == NULL) {
    return MTS_EINVAL;
  }
  memset(out, 0, sizeof(*out));
  if (in == NULL && len > 0) {
    return MTS_EINVAL;
  }
  sp = len > 0 ? memchr(in, ' ', len) : NULL;
  if (sp == NULL) {
    return MTS_EPARSE; /* Postfix always sends "name key" */
  }
  nlen = (size_t)(sp - in);
  if (nlen == 0) {
    return MTS_EPARSE;
  }
  if (nlen > MTS_SOCKETMAP_NAME_MAX || len - nlen - 1 > MTS_SOCKETMAP_KEY_MAX) {
    return MTS_ETOOBIG;
  }
  for (i = 0; i < nlen; i++) {
    if (in[i] < 0x21 || in[i] > 0x7e) {
      return MTS_EPARSE; /* not from main.cf; unsafe to log or look up */
    }
  }
  out->name = in;
  out->name_len = nlen;
  out->key = sp + 1;
  out->key_len = len - nlen - 1;
  return MTS_OK;
}

/* ---- Key normalisation ---- */

const char *mts_socketmap_key_kind_str(enum mts_socketmap_key_kind kind) {
  switch (kind) {
  case MTS_SOCKETMAP_KEY_DOMAIN:
    return "domain";
  case MTS_SOCKETMAP_KEY_PARENT_PROBE:
    return "parent-probe";
  case MTS_SOCKETMAP_KEY_IP_LITERAL:
    return "ip-literal";
  case MTS_SOCKETMAP_KEY_INVALID:
    return "invalid";
  }
  return "unknown";
}

/* Python str.strip() whitespace, ASCII part: SP HT LF VT FF CR. */
static bool sm_is_space(uint8_t c) {
  return c == ' ' || (c >= '\t' && c <= '\r');
}

/* Trim surrounding whitespace of [*p, *p + *len). */
static void sm_trim(const uint8_t **p, size_t *len) {
  while (*len > 0 && sm_is_space((*p)[0])) {
    (*p)++;
    (*len)--;
  }
  while (*len > 0 && sm_is_space((*p)[*len - 1])) {
    (*len)--;
  }
}

/*
 * Is s (len bytes) an IPv4 or IPv6 address in inet_pton() syntax? Also
 * accepts the RFC 5321 4.1.3 "IPv6:" tag (case-insensitive). On success
 * writes inet_ntop()'s canonical text into text (INET6_ADDRSTRLEN).
 */
static bool sm_ip_literal(const uint8_t *s, size_t len, char *text) {
  char buf[SM_IP_TEXT_MAX + 1];
  struct in6_addr a6;
  struct in_addr a4;
  const char *p = buf;

  if (len == 0 || len > SM_IP_TEXT_MAX) {
    return false;
  }
  memcpy(buf, s, len);
  buf[len] = '\0';
  if (memchr(buf, '\0', len) != NULL) {
    return false; /* inet_pton would stop at an embedded NUL */
  }
  if (inet_pton(AF_INET, p, &a4) == 1) {
    return inet_ntop(AF_INET, &a4, text, INET6_ADDRSTRLEN) != NULL;
  }
  if (len > 5 && mts_ascii_caseeq(s, 5, (const uint8_t *)"ipv6:", 5)) {
    p += 5;
  }
  if (inet_pton(AF_INET6, p, &a6) == 1) {
    return inet_ntop(AF_INET6, &a6, text, INET6_ADDRSTRLEN) != NULL;
  }
  return false;
}

/*
 * True when the last label of the A-label name s is all digits. No TLD
 * is all-numeric (RFC 3696 2), so such a name is not a domain anyone can
 * have an MTA-STS policy for; it also catches the inet_aton() forms
 * ("127.1", "1.2.3") that getaddrinfo(AI_NUMERICHOST) would have taken
 * for addresses in the peer.
 */
static bool sm_numeric_tld(const char *s) {
  const char *dot = strrchr(s, '.');
  const char *p = dot == NULL ? s : dot + 1;

  if (*p == '\0') {
    return false;
  }
  for (; *p != '\0'; p++) {
    if (!mts_is_digit((uint8_t)*p)) {
      return false;
    }
  }
  return true;
}

/* Strip surrounding whitespace and all trailing dots. */
static void sm_trim_dots(const uint8_t **p, size_t *len) {
  sm_trim(p, len);
  while (*len > 0 && (*p)[*len - 1] == '.') {
    (*len)--;
  }
}

enum mts_status mts_socketmap_key_normalize(const uint8_t *key, size_t len,
                                            char *out, size_t outsize,
                                            enum mts_socketmap_key_kind *kind) {
  enum mts_socketmap_key_kind k = MTS_SOCKETMAP_KEY_INVALID;
  enum mts_status st = MTS_OK;
  char res[MTS_SOCKETMAP_NORM_MAX];
  const uint8_t *p = key;
  const uint8_t *rb;
  size_t n = len;
  size_t i, rlen;

  if (kind != NULL) {
    *kind = MTS_SOCKETMAP_KEY_INVALID;
  }
  if (out == NULL || outsize == 0 || kind == NULL || (key == NULL && len > 0)) {
    return MTS_EINVAL;
  }
  out[0] = '\0';
  res[0] = '\0';
  sm_trim(&p, &n);

  /* An unbracketed IPv6 address is not "host:port": cutting "::1" at its
   * last ':' would leave ":" (the peer then queried "_mta-sts.:"). */
  if (sm_ip_literal(p, n, res)) {
    k = MTS_SOCKETMAP_KEY_IP_LITERAL;
    goto done;
  }
  rb = n > 0 ? memchr(p, ']', n) : NULL;
  if (rb != NULL) {
    /* "[host]" or "[host]:port": the text before the first ']', one
     * leading '[' removed. */
    n = (size_t)(rb - p);
    if (n > 0 && p[0] == '[') {
      p++;
      n--;
    }
  } else {
    /* "host:port": cut at the last ':'. */
    for (i = n; i > 0; i--) {
      if (p[i - 1] == ':') {
        n = i - 1;
        break;
      }
    }
  }
  sm_trim_dots(&p, &n);
  if (n == 0) {
    goto done; /* empty key, "[]", ":25", "..." */
  }
  if (sm_ip_literal(p, n, res)) {
    k = MTS_SOCKETMAP_KEY_IP_LITERAL;
    goto done;
  }
  /* '@' and inner spaces are refused by mts_idn_to_ascii() as well; they
   * are named here because they are what a confused client sends. */
  for (i = 0; i < n; i++) {
    if (p[i] == '@' || sm_is_space(p[i])) {
      goto done;
    }
  }
  if (p[0] == '.') {
    /* A Postfix parent-domain probe: "." + a valid domain. */
    if (mts_idn_to_ascii((const char *)p + 1, n - 1, res + 1,
                         sizeof(res) - 1) != MTS_OK ||
        sm_numeric_tld(res + 1)) {
      res[0] = '\0';
      goto done;
    }
    res[0] = '.';
    k = MTS_SOCKETMAP_KEY_PARENT_PROBE;
    goto done;
  }
  /* IDN failure (label > 63, name > 253, bad UTF-8, '*', NUL ...) is a
   * classification, never an error that drops the connection (the peer
   * closed it: POSTFIX-NOTES 2.1, 1015-char label). */
  if (mts_idn_to_ascii((const char *)p, n, res, sizeof(res)) != MTS_OK ||
      sm_numeric_tld(res)) {
    res[0] = '\0';
    goto done;
  }
  k = MTS_SOCKETMAP_KEY_DOMAIN;

done:
  if (k == MTS_SOCKETMAP_KEY_INVALID) {
    res[0] = '\0';
  }
  rlen = strlen(res);
  if (rlen >= outsize) {
    k = MTS_SOCKETMAP_KEY_INVALID;
    st = MTS_ETOOBIG;
  } else {
    memcpy(out, res, rlen + 1);
  }
  *kind = k;
  return st;
}

/* ---- Replies ---- */

static bool sm_printable(uint8_t c) {
  return c >= 0x20 && c <= 0x7e;
}

enum mts_status mts_socketmap_reply_write(uint8_t *buf, size_t bufsize,
                                          enum mts_socketmap_reply_kind kind,
                                          const char *text, size_t len,
                                          size_t *written) {
  const uint8_t *t = (const uint8_t *)text;
  const char *tag;
  const char *dflt = NULL;
  size_t taglen, plen, total, off, i;
  bool sanitize = true;

  if (written != NULL) {
    *written = 0;
  }
  if (buf == NULL || written == NULL || (text == NULL && len > 0)) {
    return MTS_EINVAL;
  }
  switch (kind) {
  case MTS_SOCKETMAP_REPLY_OK:
    tag = "OK ";
    sanitize = false;
    if (len == 0) {
      return MTS_EINVAL; /* never a bare "OK" */
    }
    for (i = 0; i < len; i++) {
      if (!sm_printable(t[i])) {
        return MTS_EINVAL;
      }
    }
    break;
  case MTS_SOCKETMAP_REPLY_NOTFOUND:
    tag = "NOTFOUND ";
    len = 0;
    break;
  case MTS_SOCKETMAP_REPLY_TEMP:
    tag = "TEMP ";
    dflt = "temporary failure";
    break;
  case MTS_SOCKETMAP_REPLY_TIMEOUT:
    tag = "TIMEOUT ";
    dflt = "timeout";
    break;
  case MTS_SOCKETMAP_REPLY_PERM:
    tag = "PERM ";
    dflt = "permanent failure";
    break;
  default:
    return MTS_EINVAL;
  }
  if (dflt != NULL) {
    if (len == 0) {
      t = (const uint8_t *)dflt;
      len = strlen(dflt);
    }
    if (len > MTS_SOCKETMAP_REASON_MAX) {
      len = MTS_SOCKETMAP_REASON_MAX;
    }
  }
  taglen = strlen(tag);
  if (len > MTS_SOCKETMAP_REPLY_MAX - taglen) {
    return MTS_ETOOBIG;
  }
  plen = taglen + len;
  total = mts_netstring_framed_len(plen);
  if (total > bufsize) {
    return MTS_ETOOBIG;
  }
  /* The frame's prefix length is known, so build the payload in place. */
  off = total - plen - 1;
  memcpy(buf + off, tag, taglen);
  for (i = 0; i < len; i++) {
    buf[off + taglen + i] =
        (sanitize && !sm_printable(t[i])) ? (uint8_t)'?' : t[i];
  }
  return mts_netstring_write(buf, bufsize, buf + off, plen, written);
}
