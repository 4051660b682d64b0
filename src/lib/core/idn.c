/*
 * idn.c - domain names to lower-case A-label form (mtasts/idn.h).
 *
 * Two paths:
 *  - Pure ASCII input never goes through libidn2: it is checked label by
 *    label and lower-cased. Labels may hold letters, digits, '-' and '_'
 *    (DNS names such as "_mta-sts.example.com" contain '_', and the same
 *    function serves both user-typed domains and MX host names). A label
 *    that looks like an A-label ("xn--...") is passed through as it is:
 *    its Punycode is not decoded or checked (docs/decisions.md).
 *  - Input with a byte >= 0x80 goes through idn2_to_ascii_8z() with
 *    UTS#46 non-transitional mapping and NFC (so "BÜCHER" and fullwidth
 *    letters map to "xn--bcher-kva" / ASCII), and its output is then
 *    checked by the same ASCII rules: libidn2 lets spaces, '*' and empty
 *    labels through.
 *
 * libidn2 allocates with malloc() and cannot use the context allocator
 * (this function takes no context), so its output is copied into the
 * caller's buffer at once and released with idn2_free().
 */
#include <string.h>

#include <idn2.h>

#include <mtasts/idn.h>
#include <mtasts/limits.h>

#include "core/ascii_int.h"

/* Longest UTF-8 input handed to libidn2. A 253-octet A-label name has at
 * most 253 code points of up to 4 octets; UTS#46 may also delete code
 * points (soft hyphen), so an input longer than this is not a name
 * anyone means and is refused as MTS_EIDN. */
#define MTS_IDN_INPUT_MAX 1024

/* RFC 1035 2.3.1 LDH, plus '_' (RFC 8552 underscored node names). */
static bool idn_label_char(uint8_t c) {
  return mts_is_alnum(c) || c == '-' || c == '_';
}

/*
 * Check an ASCII name of len octets (one trailing dot already removed)
 * and write it lower-cased and NUL-terminated into out.
 */
static enum mts_status idn_ascii_copy(const uint8_t *s, size_t len, char *out,
                                      size_t outsize) {
  size_t i;
  size_t label = 0;

  if (len == 0 || len > MTS_DOMAIN_MAX) {
    return MTS_EIDN;
  }
  for (i = 0; i < len; i++) {
    if (s[i] == '.') {
      if (label == 0) {
        return MTS_EIDN; /* empty label: leading dot or ".." */
      }
      label = 0;
    } else if (idn_label_char(s[i])) {
      if (++label > MTS_LABEL_MAX) {
        return MTS_EIDN;
      }
    } else {
      return MTS_EIDN; /* NUL, space, control, '*', non-ASCII ... */
    }
  }
  if (label == 0) {
    return MTS_EIDN; /* ends with a dot: only one trailing dot is removed */
  }
  if (len >= outsize) {
    return MTS_ETOOBIG;
  }
  for (i = 0; i < len; i++) {
    out[i] = (char)mts_lower(s[i]);
  }
  out[len] = '\0';
  return MTS_OK;
}

/* Remove one trailing root dot: "example.com." names the same domain. */
static size_t idn_strip_dot(const uint8_t *s, size_t len) {
  return (len > 0 && s[len - 1] == '.') ? len - 1 : len;
}

enum mts_status mts_idn_to_ascii(const char *name, size_t len, char *out,
                                 size_t outsize) {
  const uint8_t *s = (const uint8_t *)name;
  char in[MTS_IDN_INPUT_MAX + 1];
  char *a = NULL;
  enum mts_status st = MTS_EIDN;
  bool ascii = true;
  size_t i;
  int rc;

  if (out == NULL || outsize == 0 || (name == NULL && len > 0)) {
    return MTS_EINVAL;
  }
  out[0] = '\0';
  for (i = 0; i < len; i++) {
    if (s[i] == 0) {
      return MTS_EIDN; /* embedded NUL: not a name, and fatal for libidn2 */
    }
    if (s[i] >= 0x80) {
      ascii = false;
    }
  }
  if (ascii) {
    st = idn_ascii_copy(s, idn_strip_dot(s, len), out, outsize);
    goto done;
  }
  if (len > MTS_IDN_INPUT_MAX) {
    goto done;
  }
  memcpy(in, name, len);
  in[len] = '\0';
  /* UTS#46 non-transitional: "ß" stays "ß" (IDNA2008), not "ss". */
  rc = idn2_to_ascii_8z(in, &a, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
  if (rc != IDN2_OK || a == NULL) {
    goto done; /* bad UTF-8, disallowed code point, bad bidi, ... */
  }
  /* Mapping may turn U+3002 into a trailing '.', so strip after it. */
  st = idn_ascii_copy((const uint8_t *)a,
                      idn_strip_dot((const uint8_t *)a, strlen(a)), out,
                      outsize);

done:
  idn2_free(a);
  if (st != MTS_OK) {
    out[0] = '\0';
  }
  return st;
}
