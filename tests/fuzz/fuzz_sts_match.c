/*
 * fuzz_sts_match.c - mts_sts_match(), mts_sts_match_pattern_valid() and
 * mts_idn_to_ascii(). Input: pattern NUL host (no NUL: the whole input
 * is the host and also the pattern).
 *
 * Invariants (abort() on a break):
 *  - EPARSE exactly when the pattern is invalid; a match only with OK.
 *  - mts_idn_to_ascii() output is lower-case LDH/underscore ASCII, at
 *    most 253 octets, without empty labels or a trailing dot, and
 *    converting it again gives it back (idempotent).
 *  - A match means: the normalised host equals the lower-cased pattern,
 *    or (wildcard) its first label is followed by exactly the pattern
 *    after "*.".
 *  - A valid non-wildcard pattern matches itself; "*.X" matches "a.X".
 *  - Exact matching is symmetric when both sides are valid patterns.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mtasts/mtasts.h>

#define FUZZ_MAX_INPUT 4096

static char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? (char)(c + ('a' - 'A')) : c;
}

static void check_normalised(const char *s) {
  size_t n = strlen(s);
  size_t i;
  size_t label = 0;

  if (n == 0 || n > MTS_DOMAIN_MAX) {
    abort();
  }
  for (i = 0; i < n; i++) {
    char c = s[i];

    if (c == '.') {
      if (label == 0) {
        abort();
      }
      label = 0;
      continue;
    }
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_')) {
      abort();
    }
    if (++label > MTS_LABEL_MAX) {
      abort();
    }
  }
  if (label == 0) {
    abort();
  }
}

static bool caseeq(const char *a, size_t alen, const char *b, size_t blen) {
  size_t i;

  if (alen != blen) {
    return false;
  }
  for (i = 0; i < alen; i++) {
    if (lower(a[i]) != lower(b[i])) {
      return false;
    }
  }
  return true;
}

static void check_idn(const char *s, size_t len) {
  char out[MTS_DOMAIN_MAX + 1];
  char again[MTS_DOMAIN_MAX + 1];

  if (mts_idn_to_ascii(s, len, out, sizeof(out)) != MTS_OK) {
    if (out[0] != '\0') {
      abort();
    }
    return;
  }
  check_normalised(out);
  if (mts_idn_to_ascii(out, strlen(out), again, sizeof(again)) != MTS_OK ||
      strcmp(out, again) != 0) {
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *in = (const char *)data;
  const char *pat;
  const char *host;
  const uint8_t *nul;
  size_t plen, hlen;
  char norm[MTS_DOMAIN_MAX + 1];
  char buf[MTS_DOMAIN_MAX + 3];
  bool valid, m = false, m2 = false;
  enum mts_status st;

  if (size > FUZZ_MAX_INPUT) {
    return 0;
  }
  nul = size > 0 ? memchr(data, 0, size) : NULL;
  if (nul != NULL) {
    pat = in;
    plen = (size_t)(nul - data);
    host = (const char *)nul + 1;
    hlen = size - plen - 1;
  } else {
    pat = in;
    plen = size;
    host = in;
    hlen = size;
  }

  check_idn(in, size);
  check_idn(host, hlen);

  valid = mts_sts_match_pattern_valid(pat, plen);
  st = mts_sts_match(pat, plen, host, hlen, &m);
  if ((st == MTS_EPARSE) != !valid) {
    abort();
  }
  if (m && st != MTS_OK) {
    abort();
  }
  if (st == MTS_OK) {
    size_t nlen;

    if (mts_idn_to_ascii(host, hlen, norm, sizeof(norm)) != MTS_OK) {
      abort(); /* OK from match implies the host converts */
    }
    nlen = strlen(norm);
    if (plen >= 2 && pat[0] == '*' && pat[1] == '.') {
      const char *dot = memchr(norm, '.', nlen);
      bool want = dot != NULL &&
                  caseeq(pat + 2, plen - 2, dot + 1,
                         nlen - (size_t)(dot + 1 - norm));

      if (m != want) {
        abort();
      }
    } else {
      if (m != caseeq(pat, plen, norm, nlen)) {
        abort();
      }
      /* symmetric when the host is itself a valid pattern */
      if (mts_sts_match_pattern_valid(host, hlen)) {
        if (mts_sts_match(host, hlen, pat, plen, &m2) != MTS_OK || m2 != m) {
          abort();
        }
      }
    }
  }
  if (valid) {
    if (plen >= 2 && pat[0] == '*' && pat[1] == '.') {
      /* "*.X" matches "a.X" whenever "a.X" is a name */
      if (plen <= MTS_DOMAIN_MAX) {
        buf[0] = 'a';
        memcpy(buf + 1, pat + 1, plen - 1);
        if (mts_sts_match(pat, plen, buf, plen, &m2) != MTS_OK || !m2) {
          abort();
        }
        /* ... and never "X" itself */
        if (mts_sts_match(pat, plen, pat + 2, plen - 2, &m2) != MTS_OK || m2) {
          abort();
        }
      }
    } else if (mts_sts_match(pat, plen, pat, plen, &m2) != MTS_OK || !m2) {
      abort();
    }
  }
  return 0;
}
