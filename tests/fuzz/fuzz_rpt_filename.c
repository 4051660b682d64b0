/*
 * fuzz_rpt_filename.c - mts_rpt_filename_parse() over arbitrary bytes
 * (NUL-terminated copy), then format.
 *
 * Invariants (abort() when broken):
 * - a failed parse leaves *out zeroed;
 * - a parsed name has A-label (LDH, lower-case) domains, times >= 0, an
 *   alphanumeric unique-id of at most 63 octets;
 * - round trip: format() of a parsed name succeeds, is at most as long
 *   as the input, and parses back to the same struct.
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
      memcmp(&fn, &fn2, sizeof(fn)) != 0) {
    abort();
  }
  free(name);
  return 0;
}
