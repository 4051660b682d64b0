/*
 * fuzz_sts_policy.c - libFuzzer target for mts_sts_policy_parse()
 * (RFC 8461 3.2). Invariants checked (abort() on a break):
 *  - valid implies usable; usable iff no error finding;
 *  - a usable policy has version STSv1, a known mode, 0 <= max_age <=
 *    31557600 and, unless mode is none, at least one mx;
 *  - a valid policy has no warning other than policy-duplicate-field;
 *  - every mx is an LDH name with an optional "*." of at most 253 bytes;
 *  - findings have "policy-" codes and printable-ASCII messages;
 *  - the raw lines put back together with the terminators of the body
 *    give the body again (without its BOM);
 *  - mts_sts_policy_text() gives the body back byte for byte (NULs,
 *    BOM and mixed terminators included), 0 bytes for a refused one;
 *  - round trip: a usable policy written canonically parses as valid
 *    with the same mode, max_age and mx list.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mtasts/limits.h>
#include <mtasts/sts_policy.h>

#define MAX_INPUT (MTS_POLICY_MAX_SIZE + 64)

#define CHECK(cond)                                                           \
  do {                                                                        \
    if (!(cond)) {                                                            \
      fprintf(stderr, "invariant broken: %s (line %d)\n", #cond, __LINE__);   \
      abort();                                                                \
    }                                                                         \
  } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_mx(const char *mx) {
  size_t n, i = 0;

  CHECK(mx != NULL);
  n = strlen(mx);
  CHECK(n > 0 && n <= MTS_DOMAIN_MAX);
  if (n >= 2 && mx[0] == '*' && mx[1] == '.') {
    i = 2;
  }
  CHECK(i < n && mx[i] != '.' && mx[i] != '-' && mx[n - 1] != '.' &&
        mx[n - 1] != '-');
  for (; i < n; i++) {
    char c = mx[i];
    CHECK((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '-' || c == '.');
    CHECK(!(c == '.' && mx[i + 1] == '.'));
  }
}

/* The lines joined with the body's own terminators are the body. */
static void check_lines(const struct mts_sts_policy *p, const uint8_t *data,
                        size_t size) {
  size_t i, n = mts_sts_policy_line_count(p), off = 0;

  if (size > MTS_POLICY_MAX_SIZE) {
    CHECK(n == 0);
    return;
  }
  if (size == 0) { /* the replay driver passes NULL for an empty file */
    CHECK(n == 0);
    return;
  }
  if (memchr(data, '\0', size) != NULL) {
    return; /* the C-string lines stop at the NUL */
  }
  if (size >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0) {
    off = 3;
  }
  for (i = 0; i < n; i++) {
    const char *l = mts_sts_policy_line(p, i);
    size_t ll;

    CHECK(l != NULL);
    ll = strlen(l);
    CHECK(off + ll <= size && memcmp(data + off, l, ll) == 0);
    off += ll;
    if (off + 2 <= size && data[off] == '\r' && data[off + 1] == '\n') {
      off += 2;
    } else if (off < size && data[off] == '\n') {
      off += 1;
    } else {
      CHECK(off == size && i == n - 1);
    }
  }
  CHECK(off == size);
  CHECK(mts_sts_policy_line(p, n) == NULL);
}

static void check_text(const struct mts_sts_policy *p, const uint8_t *data,
                       size_t size) {
  size_t n = mts_sts_policy_text(p, NULL, 0);
  uint8_t *b;

  if (size == 0 || size > MTS_POLICY_MAX_SIZE) {
    CHECK(n == 0);
    return;
  }
  CHECK(n == size);
  CHECK(mts_sts_policy_text(p, NULL, n - 1 + 1) == n); /* NULL: length */
  b = malloc(n);
  CHECK(b != NULL);
  memset(b, 0xa5, n);
  CHECK(mts_sts_policy_text(p, b, n - 1) == n); /* too small: untouched */
  CHECK(b[0] == 0xa5);
  CHECK(mts_sts_policy_text(p, b, n) == n);
  CHECK(memcmp(b, data, n) == 0);
  free(b);
}

static void round_trip(struct mts_ctx *ctx, const struct mts_sts_policy *p) {
  size_t cap = MTS_POLICY_MAX_SIZE, len = 0, i;
  struct mts_sts_policy *q = NULL;
  char *b = malloc(cap);
  int w;

  CHECK(b != NULL);
  w = snprintf(b, cap, "version: STSv1\nmode: %s\nmax_age: %lld\n",
               mts_sts_mode_str(mts_sts_policy_mode(p)),
               (long long)mts_sts_policy_max_age(p));
  CHECK(w > 0);
  len = (size_t)w;
  for (i = 0; i < mts_sts_policy_mx_count(p); i++) {
    const char *mx = mts_sts_policy_mx(p, i);
    size_t ml = strlen(mx);

    if (len + ml + 5 > cap) {
      free(b); /* cannot exceed the input, but stay safe */
      return;
    }
    memcpy(b + len, "mx: ", 4);
    memcpy(b + len + 4, mx, ml);
    b[len + 4 + ml] = '\n';
    len += ml + 5;
  }
  if (mts_sts_policy_parse(ctx, (const uint8_t *)b, len, &q) == MTS_OK) {
    CHECK(mts_sts_policy_valid(q));
    CHECK(mts_sts_policy_mode(q) == mts_sts_policy_mode(p));
    CHECK(mts_sts_policy_max_age(q) == mts_sts_policy_max_age(p));
    CHECK(mts_sts_policy_mx_count(q) == mts_sts_policy_mx_count(p));
    for (i = 0; i < mts_sts_policy_mx_count(p); i++) {
      CHECK(strcmp(mts_sts_policy_mx(q, i), mts_sts_policy_mx(p, i)) == 0);
    }
  }
  mts_sts_policy_destroy(q);
  free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct mts_ctx *ctx = NULL;
  struct mts_sts_policy *p = NULL;
  const struct mts_findings *fs;
  bool any_error = false, other_warning = false;
  size_t i;

  if (size > MAX_INPUT) {
    return 0;
  }
  if (mts_ctx_create(NULL, &ctx) != MTS_OK) {
    return 0;
  }
  if (mts_sts_policy_parse(ctx, data, size, &p) != MTS_OK) {
    mts_ctx_destroy(ctx);
    return 0;
  }
  fs = mts_sts_policy_findings(p);
  for (i = 0; i < mts_findings_count(fs); i++) {
    const struct mts_finding *f = mts_findings_get(fs, i);
    const char *m;

    CHECK(f != NULL && strncmp(f->code, "policy-", 7) == 0);
    for (m = f->message; *m != '\0'; m++) {
      CHECK((unsigned char)*m >= 0x20 && (unsigned char)*m < 0x7f);
    }
    /* a BOM-only body has a finding on line 1 and no lines */
    CHECK(f->line <= mts_sts_policy_line_count(p) || f->line == 1);
    any_error |= f->severity == MTS_SEV_ERROR;
    if (f->severity == MTS_SEV_WARNING &&
        strcmp(f->code, "policy-duplicate-field") != 0) {
      other_warning = true;
    }
  }
  CHECK(!mts_sts_policy_valid(p) || mts_sts_policy_usable(p));
  CHECK(mts_sts_policy_usable(p) == !any_error);
  CHECK(!mts_sts_policy_valid(p) || !other_warning);
  for (i = 0; i < mts_sts_policy_mx_count(p); i++) {
    check_mx(mts_sts_policy_mx(p, i));
  }
  CHECK(mts_sts_policy_mx(p, mts_sts_policy_mx_count(p)) == NULL);
  check_lines(p, data, size);
  check_text(p, data, size);
  if (mts_sts_policy_usable(p)) {
    enum mts_sts_mode mode = mts_sts_policy_mode(p);

    CHECK(mts_sts_policy_version(p) != NULL &&
          strcmp(mts_sts_policy_version(p), "STSv1") == 0);
    CHECK(mode == MTS_STS_MODE_NONE || mode == MTS_STS_MODE_TESTING ||
          mode == MTS_STS_MODE_ENFORCE);
    CHECK(mts_sts_policy_max_age(p) >= 0 &&
          mts_sts_policy_max_age(p) <= MTS_STS_MAX_AGE_MAX);
    CHECK(mode == MTS_STS_MODE_NONE || mts_sts_policy_mx_count(p) > 0);
    round_trip(ctx, p);
  }
  mts_sts_policy_destroy(p);
  mts_ctx_destroy(ctx);
  return 0;
}
