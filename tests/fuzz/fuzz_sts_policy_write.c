/*
 * fuzz_sts_policy_write.c - libFuzzer target for mts_sts_policy_write()
 * and mts_sts_policy_write_id() (mtasts/sts_policy_write.h).
 *
 * The input is parsed as a policy; the fields of any policy with a known
 * mode and max_age are handed to the writer. Invariants (abort() on a
 * break):
 *  - the writer accepts the fields of every usable policy;
 *  - what it writes parses as valid, with no finding at all, and with
 *    the same mode, max_age and mx list (round trip);
 *  - the size query (NULL, 0) gives the same length, and a buffer one
 *    byte short is MTS_ETOOBIG;
 *  - the id is 20 lower-case hex digits, the same for the same bytes,
 *    and differs between the input and the written text when they differ
 *    (a collision of 80 bits would be news).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mtasts/limits.h>
#include <mtasts/sts_policy.h>
#include <mtasts/sts_policy_write.h>

#define MAX_INPUT (MTS_POLICY_MAX_SIZE + 64)

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "invariant broken: %s (line %d)\n", #cond, __LINE__);    \
      abort();                                                                 \
    }                                                                          \
  } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_id(const uint8_t *s, size_t len, char *id) {
  char again[MTS_STS_POLICY_WRITE_ID_BUFSIZE];
  size_t i;

  CHECK(mts_sts_policy_write_id(s, len, id) == MTS_OK);
  CHECK(strlen(id) == MTS_STS_POLICY_WRITE_ID_LEN);
  for (i = 0; id[i] != '\0'; i++) {
    CHECK((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f'));
  }
  CHECK(mts_sts_policy_write_id(s, len, again) == MTS_OK);
  CHECK(strcmp(id, again) == 0);
}

static void round_trip(struct mts_ctx *ctx, const struct mts_sts_policy *p,
                       const uint8_t *in, size_t inlen) {
  size_t n = mts_sts_policy_mx_count(p), i, len = 0, len2 = 0;
  const char **mx = calloc(n + 1, sizeof(*mx));
  struct mts_sts_policy_fields f;
  struct mts_sts_policy *q = NULL;
  char *buf = NULL;
  char id1[MTS_STS_POLICY_WRITE_ID_BUFSIZE],
      id2[MTS_STS_POLICY_WRITE_ID_BUFSIZE];
  enum mts_status st;

  CHECK(mx != NULL);
  for (i = 0; i < n; i++) {
    mx[i] = mts_sts_policy_mx(p, i);
  }
  f.mode = mts_sts_policy_mode(p);
  f.max_age = mts_sts_policy_max_age(p);
  f.mx = mx;
  f.mx_count = n;
  st = mts_sts_policy_write(&f, NULL, 0, &len);
  if (mts_sts_policy_usable(p)) {
    CHECK(st == MTS_ETOOBIG);
  }
  if (st != MTS_ETOOBIG) {
    CHECK(st == MTS_EINVAL && len == 0);
    goto done;
  }
  buf = malloc(len + 1);
  CHECK(buf != NULL);
  if (len > 0) {
    CHECK(mts_sts_policy_write(&f, buf, len, &len2) == MTS_ETOOBIG);
    CHECK(len2 == len);
  }
  CHECK(mts_sts_policy_write(&f, buf, len + 1, &len2) == MTS_OK);
  CHECK(len2 == len && strlen(buf) == len);
  st = mts_sts_policy_parse(ctx, (const uint8_t *)buf, len, &q);
  if (st == MTS_ENOMEM) {
    goto done;
  }
  CHECK(st == MTS_OK);
  CHECK(mts_sts_policy_valid(q));
  CHECK(mts_findings_count(mts_sts_policy_findings(q)) == 0);
  CHECK(mts_sts_policy_mode(q) == f.mode);
  CHECK(mts_sts_policy_max_age(q) == f.max_age);
  CHECK(mts_sts_policy_mx_count(q) == n);
  for (i = 0; i < n; i++) {
    CHECK(strcmp(mts_sts_policy_mx(q, i), mx[i]) == 0);
  }
  check_id((const uint8_t *)buf, len, id1);
  check_id(in, inlen, id2);
  if (inlen != len || memcmp(in, buf, len) != 0) {
    CHECK(strcmp(id1, id2) != 0);
  }
done:
  mts_sts_policy_destroy(q);
  free(buf);
  free(mx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct mts_ctx *ctx = NULL;
  struct mts_sts_policy *p = NULL;
  char id[MTS_STS_POLICY_WRITE_ID_BUFSIZE];

  if (size > MAX_INPUT) {
    return 0;
  }
  check_id(data, size, id);
  if (mts_ctx_create(NULL, &ctx) != MTS_OK) {
    return 0;
  }
  if (mts_sts_policy_parse(ctx, data, size, &p) == MTS_OK) {
    round_trip(ctx, p, data, size);
  }
  mts_sts_policy_destroy(p);
  mts_ctx_destroy(ctx);
  return 0;
}
