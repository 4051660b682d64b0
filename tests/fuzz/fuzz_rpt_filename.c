/*
 * fuzz_rpt_filename.c - mts_rpt_filename_parse() over arbitrary bytes
 * (NUL-terminated copy), then format.
 *
 * Invariants (abort() when broken):
 * - a failed parse leaves *out zeroed;
 * - a parsed name has A-label (LDH, lower-case) domains, times >= 0, an
 *   alphanumeric unique-id of at most 63 octets;
 * - round trip: format() of a parsed name succeeds, is at most as long
 *   as the input, and parses back to the same struct; when the input is
 *   already canonical (lower-case domains, no leading zeros) format()
 *   gives it back byte for byte;
 * - format() of a struct built from the raw bytes (the input split at
 *   '!': sender, policy domain, begin and end from 8 raw bytes each, so
 *   negative too, unique-id; gzip from the size) succeeds exactly when
 *   the name assembled here by hand from the same fields parses (checked
 *   when no field holds a '!'), and then parses back to those fields
 *   with the domains lower-cased; with a buffer one byte short it says
 *   MTS_ETOOBIG and leaves "".
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mtasts/rpt_filename.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_domain(const char *s) {
  size_t i, n = strnlen(s, 256);

  if (n == 0 || n > 253) {
    abort();
  }
  for (i = 0; i < n; i++) {
    char c = s[i];

    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '.')) {
      abort();
    }
  }
}

/* Field \p k of \p in split at '!' (raw bytes, NULs included). */
static size_t field(const uint8_t *in, size_t size, int k, const uint8_t **f) {
  size_t i = 0, start = 0;
  int at = 0;

  for (i = 0; i <= size; i++) {
    if (i == size || in[i] == '!') {
      if (at == k) {
        *f = in + start;
        return i - start;
      }
      at++;
      start = i + 1;
    }
  }
  *f = in;
  return 0;
}

static bool copy_field(const uint8_t *in, size_t size, int k, char *out,
                       size_t outsize) {
  const uint8_t *f;
  size_t n = field(in, size, k, &f);

  n = strnlen((const char *)f, n); /* a C string ends at its first NUL */
  if (n >= outsize) {
    n = outsize - 1;
  }
  memcpy(out, f, n);
  out[n] = '\0';
  return memchr(out, '!', strlen(out)) == NULL;
}

static int64_t raw_time(const uint8_t *in, size_t size, int k) {
  const uint8_t *f;
  size_t n = field(in, size, k, &f);
  uint64_t v = 0;
  size_t i;

  for (i = 0; i < n && i < 8; i++) {
    v = v << 8 | f[i];
  }
  return (int64_t)v;
}

static void lower(char *s) {
  for (; *s != '\0'; s++) {
    if (*s >= 'A' && *s <= 'Z') {
      *s = (char)(*s - 'A' + 'a');
    }
  }
}

static void from_raw(const uint8_t *data, size_t size) {
  struct mts_rpt_filename fn, back;
  char buf[1024], hand[1024];
  bool plain;
  enum mts_status st;
  int n;

  memset(&fn, 0, sizeof(fn));
  plain = copy_field(data, size, 0, fn.sender, sizeof(fn.sender));
  plain &= copy_field(data, size, 1, fn.policy_domain, sizeof(fn.policy_domain));
  fn.begin = raw_time(data, size, 2);
  fn.end = raw_time(data, size, 3);
  plain &= copy_field(data, size, 4, fn.unique_id, sizeof(fn.unique_id));
  fn.gzip = (size & 1) != 0;
  st = mts_rpt_filename_format(&fn, buf, sizeof(buf));
  if (st != MTS_OK) {
    if (st != MTS_EINVAL || buf[0] != '\0') {
      abort();
    }
  } else {
    size_t len = strlen(buf);
    char small[1024];

    if (mts_rpt_filename_parse(buf, &back) != MTS_OK) {
      abort();
    }
    lower(fn.sender);
    lower(fn.policy_domain);
    if (memcmp(&fn, &back, sizeof(fn)) != 0) {
      abort();
    }
    if (mts_rpt_filename_format(&fn, small, len) != MTS_ETOOBIG ||
        small[0] != '\0' ||
        mts_rpt_filename_format(&fn, small, len + 1) != MTS_OK ||
        strcmp(small, buf) != 0) {
      abort();
    }
  }
  if (!plain) {
    return;
  }
  n = snprintf(hand, sizeof(hand), "%s!%s!%lld!%lld%s%s.%s", fn.sender,
               fn.policy_domain, (long long)fn.begin, (long long)fn.end,
               fn.unique_id[0] != '\0' ? "!" : "", fn.unique_id,
               fn.gzip ? "json.gz" : "json");
  if (n < 0 || (size_t)n >= sizeof(hand)) {
    return;
  }
  if ((mts_rpt_filename_parse(hand, &back) == MTS_OK) != (st == MTS_OK)) {
    abort();
  }
}

/* Lower-case domains and no leading zero in a time stamp. */
static bool canonical(const char *name) {
  const char *p;
  int bang = 0;

  for (p = name; *p != '\0'; p++) {
    if (*p == '!') {
      bang++;
      if ((bang == 2 || bang == 3) && p[1] == '0' && p[2] >= '0' &&
          p[2] <= '9') {
        return false;
      }
    } else if (bang < 2 && *p >= 'A' && *p <= 'Z') {
      return false;
    }
  }
  return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct mts_rpt_filename fn, fn2, zero;
  char *name, buf[1024];
  size_t i;

  if (size > 4096) {
    return 0;
  }
  name = malloc(size + 1);
  if (name == NULL) {
    abort();
  }
  memcpy(name, data, size);
  name[size] = '\0';
  memset(&zero, 0, sizeof(zero));
  from_raw(data, size);
  if (mts_rpt_filename_parse(name, &fn) != MTS_OK) {
    if (memcmp(&fn, &zero, sizeof(fn)) != 0) {
      abort();
    }
    free(name);
    return 0;
  }
  check_domain(fn.sender);
  check_domain(fn.policy_domain);
  if (fn.begin < 0 || fn.end < 0 || strnlen(fn.unique_id, 64) > 63) {
    abort();
  }
  for (i = 0; fn.unique_id[i] != '\0'; i++) {
    char c = fn.unique_id[i];

    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9'))) {
      abort();
    }
  }
  if (mts_rpt_filename_format(&fn, buf, sizeof(buf)) != MTS_OK ||
      strlen(buf) > strlen(name) ||
      mts_rpt_filename_parse(buf, &fn2) != MTS_OK ||
      memcmp(&fn, &fn2, sizeof(fn)) != 0 ||
      (canonical(name) && strcmp(buf, name) != 0)) {
    abort();
  }
  free(name);
  return 0;
}
