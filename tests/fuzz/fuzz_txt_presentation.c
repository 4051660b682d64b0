/*
 * fuzz_txt_presentation.c - mts_txt_rrset_add_presentation() and its
 * inverse mts_txt_rrset_tostr().
 *
 * Input: the presentation text of one RR, as `dig +short` prints it.
 * Invariants (abort() when broken):
 * - on error the set is unchanged (no RR added) and err is set;
 * - on success there is one RR with >= 1 string, each <= 255 octets,
 *   and concat() returns the sum of the string lengths;
 * - round trip: add_presentation(tostr(rr)) gives the same strings, and
 *   tostr() of that is the same text (the writer is canonical);
 * - tostr() into a short buffer returns the same length and a prefix.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mtasts/limits.h>
#include <mtasts/mtasts.h>

#define FUZZ_MAX_INPUT 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same_rr(const struct mts_txt_rrset *set,
                    const struct mts_txt_rrset *set2) {
  size_t i, n = mts_txt_rrset_nstrings(set, 0);

  if (n != mts_txt_rrset_nstrings(set2, 0)) {
    abort();
  }
  for (i = 0; i < n; i++) {
    size_t l1, l2;
    const uint8_t *s1 = mts_txt_rrset_string(set, 0, i, &l1);
    const uint8_t *s2 = mts_txt_rrset_string(set2, 0, i, &l2);

    if (s1 == NULL || s2 == NULL || l1 != l2 ||
        (l1 > 0 && memcmp(s1, s2, l1) != 0)) {
      abort();
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct mts_ctx *ctx = NULL;
  struct mts_txt_rrset *set = NULL, *set2 = NULL;
  const char *err = NULL;
  char *out = NULL, small[16];
  size_t i, n, n2, total = 0;
  enum mts_status st;

  if (size > FUZZ_MAX_INPUT) {
    return 0;
  }
  if (mts_ctx_create(NULL, &ctx) != MTS_OK ||
      mts_txt_rrset_create(ctx, &set) != MTS_OK) {
    abort();
  }
  st = mts_txt_rrset_add_presentation(set, (const char *)data, size, &err);
  if (st != MTS_OK) {
    if (err == NULL || mts_txt_rrset_count(set) != 0 ||
        (st != MTS_EPARSE && st != MTS_ETOOBIG)) {
      abort();
    }
    goto done;
  }
  if (err != NULL || mts_txt_rrset_count(set) != 1 ||
      mts_txt_rrset_nstrings(set, 0) == 0) {
    abort();
  }
  for (i = 0; i < mts_txt_rrset_nstrings(set, 0); i++) {
    size_t len;

    if (mts_txt_rrset_string(set, 0, i, &len) == NULL ||
        len > MTS_TXT_STRING_MAX) {
      abort();
    }
    total += len;
  }
  if (mts_txt_rrset_concat(set, 0, NULL, 0) != total) {
    abort();
  }
  n = mts_txt_rrset_tostr(set, 0, NULL, 0);
  out = malloc(n + 1);
  if (out == NULL) {
    abort();
  }
  if (mts_txt_rrset_tostr(set, 0, out, n + 1) != n || strlen(out) != n) {
    abort();
  }
  if (mts_txt_rrset_tostr(set, 0, small, sizeof(small)) != n ||
      strncmp(small, out, sizeof(small) - 1) != 0) {
    abort();
  }
  /* a fresh set: the round trip must not hit the per-set limits */
  if (mts_txt_rrset_create(ctx, &set2) != MTS_OK ||
      mts_txt_rrset_add_presentation(set2, out, n, &err) != MTS_OK) {
    abort();
  }
  same_rr(set, set2);
  {
    char *out2 = malloc(n + 1);

    if (out2 == NULL) {
      abort();
    }
    n2 = mts_txt_rrset_tostr(set2, 0, out2, n + 1);
    if (n2 != n || memcmp(out, out2, n) != 0) {
      abort();
    }
    free(out2);
  }
done:
  free(out);
  mts_txt_rrset_destroy(set2);
  mts_txt_rrset_destroy(set);
  mts_ctx_destroy(ctx);
  return 0;
}
