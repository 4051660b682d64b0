/*
 * fuzz_rpt_html_escape.c - mts_rpt_html_escape() over arbitrary bytes:
 * the one function every untrusted string of the report page goes
 * through (rpt_html.h).
 *
 * Invariants (abort() when broken):
 * - the output holds no '<', '>', '"' or '\'', and every '&' starts
 *   one of &amp; &lt; &gt; &quot; &#39;;
 * - the output is valid UTF-8 (RFC 3629) without C0/C1 controls or DEL;
 * - the return value is the full length, as snprintf; a smaller buffer
 *   gets a NUL-terminated prefix of the full output, and (NULL, 0) only
 *   the length;
 * - round trip: when the input is valid UTF-8 without controls,
 *   unescaping the output gives the input back.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mtasts/rpt_html.h>

#define FUZZ_MAX_INPUT 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Length of a valid UTF-8 sequence at p that is not a control; 0 if
 * invalid or a control. */
static size_t good_char(const uint8_t *p, size_t n) {
  uint32_t c;
  size_t need, i;

  if (p[0] < 0x80) {
    return p[0] >= 0x20 && p[0] != 0x7f ? 1 : 0;
  }
  if (p[0] >= 0xc2 && p[0] <= 0xdf) {
    need = 2;
    c = p[0] & 0x1fu;
  } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
    need = 3;
    c = p[0] & 0x0fu;
  } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
    need = 4;
    c = p[0] & 0x07u;
  } else {
    return 0;
  }
  if (n < need) {
    return 0;
  }
  for (i = 1; i < need; i++) {
    if ((p[i] & 0xc0u) != 0x80u) {
      return 0;
    }
    c = (c << 6) | (p[i] & 0x3fu);
  }
  if ((need == 2 && c < 0xa0) ||
      (need == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) ||
      (need == 4 && (c < 0x10000 || c > 0x10ffff))) {
    return 0;
  }
  return need;
}

static const char *const ents[] = {"&amp;", "&lt;", "&gt;", "&quot;",
                                   "&#39;"};
static const char plain[] = {'&', '<', '>', '"', '\''};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t cap, n, i, small, olen, j;
  char *out, *pre, *back;
  bool clean = true;

  if (size > FUZZ_MAX_INPUT) {
    return 0;
  }
  cap = size * 6 + 1;
  out = malloc(cap);
  back = malloc(cap); /* the unescaped output is never longer */
  if (out == NULL || back == NULL) {
    abort();
  }
  n = mts_rpt_html_escape((const char *)data, size, out, cap);
  olen = strlen(out);
  if (n != olen || n >= cap) {
    abort();
  }
  /* output checks and the unescaped form */
  j = 0;
  for (i = 0; i < olen;) {
    size_t g, k;

    if (out[i] == '<' || out[i] == '>' || out[i] == '"' || out[i] == '\'') {
      abort();
    }
    if (out[i] == '&') {
      for (k = 0; k < 5; k++) {
        if (strncmp(out + i, ents[k], strlen(ents[k])) == 0) {
          break;
        }
      }
      if (k == 5) {
        abort();
      }
      back[j++] = plain[k];
      i += strlen(ents[k]);
      continue;
    }
    g = good_char((const uint8_t *)out + i, olen - i);
    if (g == 0) {
      abort();
    }
    memcpy(back + j, out + i, g);
    j += g;
    i += g;
  }
  /* round trip for clean input */
  for (i = 0; i < size;) {
    size_t g = good_char(data + i, size - i);

    if (g == 0) {
      clean = false;
      break;
    }
    i += g;
  }
  if (clean && (j != size || memcmp(back, data, size) != 0)) {
    abort();
  }
  /* a small buffer: a prefix, NUL-terminated, same return value */
  small = size % 17;
  pre = malloc(small + 1);
  if (pre == NULL) {
    abort();
  }
  if (mts_rpt_html_escape((const char *)data, size, pre, small + 1) != n) {
    abort();
  }
  if (strlen(pre) != (small < n ? small : n) ||
      memcmp(pre, out, strlen(pre)) != 0) {
    abort();
  }
  free(pre);
  /* the size query: no buffer at all, same return value */
  if (mts_rpt_html_escape((const char *)data, size, NULL, 0) != n) {
    abort();
  }
  free(out);
  free(back);
  return 0;
}
