/*
 * fuzz_sts_policy_write.c - libFuzzer target for mts_sts_policy_write()
 * and mts_sts_policy_write_id() (mtasts/sts_policy_write.h).
 *
 * Two ways into the writer on every input:
 *  - parsed: the input is parsed as a policy; the fields of any policy
 *    with a known mode and max_age are handed to the writer;
 *  - raw: the fields are taken from the bytes themselves: byte 0 picks
 *    the mode (one value in four is not a mode), bytes 1-4 the max_age
 *    (mostly 0..MTS_STS_MAX_AGE_MAX + 1; negative or huge when byte 1 has
 *    its top bit), the rest split at LF gives the mx patterns as they
 *    are (CR, ':', spaces, 8-bit bytes; a piece that is the single byte
 *    0x01 is a NULL pointer), so the writer's refusals run too.
 * Invariants (abort() on a break):
 *  - the writer accepts the fields of every usable policy unless the
 *    text would exceed MTS_POLICY_MAX_SIZE (computed here);
 *  - raw fields that are plainly fine (a known mode, max_age in range,
 *    patterns of lower-case letters and digits in 2 to 4 short labels,
 *    at least one unless mode none) are accepted unless too big;
 *  - whatever it accepts (parsed or raw) it writes as text that parses
 *    as valid, with no finding at all, and with the same mode, max_age
 *    and mx list (round trip; a raw pattern holding CR LF and "mode:"
 *    would show here as a header injection);
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

/* The length of the text the writer should produce for \p f. */
static size_t text_size(const struct mts_sts_policy_fields *f) {
  static const char *const modes[] = {"none", "testing", "enforce"};
  char age[24];
  size_t n, i;
  const char *m = f->mode == MTS_STS_MODE_NONE      ? modes[0]
                  : f->mode == MTS_STS_MODE_TESTING ? modes[1]
                                                    : modes[2];

  n = strlen("version: STSv1\r\nmode: \r\nmax_age: \r\n") + strlen(m);
  (void)snprintf(age, sizeof(age), "%lld", (long long)f->max_age);
  n += strlen(age);
  for (i = 0; i < f->mx_count; i++) {
    n += strlen("mx: \r\n") + strlen(f->mx[i]);
  }
  return n;
}

/* \p s: 2 to 4 labels of 1 to 20 lower-case letters or digits. */
static bool plain_pattern(const char *s) {
  size_t labels = 1, run = 0;

  if (s == NULL) {
    return false;
  }
  for (; *s != '\0'; s++) {
    if (*s == '.') {
      if (run == 0 || run > 20) {
        return false;
      }
      labels++;
      run = 0;
    } else if ((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')) {
      run++;
    } else {
      return false;
    }
  }
  return run >= 1 && run <= 20 && labels >= 2 && labels <= 4;
}

static void round_trip(struct mts_ctx *ctx,
                       const struct mts_sts_policy_fields *fields,
                       bool must_accept, const uint8_t *in, size_t inlen) {
  size_t n = fields->mx_count, i, len = 0, len2 = 0;
  const char *const *mx = fields->mx;
  struct mts_sts_policy_fields f = *fields;
  struct mts_sts_policy *q = NULL;
  char *buf = NULL;
  char id1[MTS_STS_POLICY_WRITE_ID_BUFSIZE],
      id2[MTS_STS_POLICY_WRITE_ID_BUFSIZE];
  enum mts_status st;

  st = mts_sts_policy_write(&f, NULL, 0, &len);
  if (must_accept && text_size(&f) <= MTS_POLICY_MAX_SIZE) {
    CHECK(st == MTS_ETOOBIG);
  }
  if (st != MTS_ETOOBIG) {
    CHECK(st == MTS_EINVAL && len == 0);
    goto done;
  }
  CHECK(len == text_size(&f) && len <= MTS_POLICY_MAX_SIZE);
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
}

static void from_parsed(struct mts_ctx *ctx, const struct mts_sts_policy *p,
                        const uint8_t *in, size_t inlen) {
  size_t n = mts_sts_policy_mx_count(p), i;
  const char **mx = calloc(n + 1, sizeof(*mx));
  struct mts_sts_policy_fields f;

  CHECK(mx != NULL);
  for (i = 0; i < n; i++) {
    mx[i] = mts_sts_policy_mx(p, i);
  }
  f.mode = mts_sts_policy_mode(p);
  f.max_age = mts_sts_policy_max_age(p);
  f.mx = mx;
  f.mx_count = n;
  round_trip(ctx, &f, mts_sts_policy_usable(p), in, inlen);
  free(mx);
}

static void from_raw(struct mts_ctx *ctx, const uint8_t *in, size_t inlen) {
  static const enum mts_sts_mode modes[4] = {
      MTS_STS_MODE_NONE, MTS_STS_MODE_TESTING, MTS_STS_MODE_ENFORCE,
      MTS_STS_MODE_UNKNOWN};
  struct mts_sts_policy_fields f;
  const char **mx;
  char *rest;
  size_t n = 0, i, restlen;
  uint32_t v = 0;
  bool plain = true;

  if (inlen < 5) {
    return;
  }
  f.mode = modes[in[0] & 3];
  for (i = 1; i < 5; i++) {
    v = v << 8 | in[i];
  }
  f.max_age = (in[1] & 0x80) != 0
                  ? (int64_t)(int32_t)v * 16
                  : (int64_t)(v % ((uint32_t)MTS_STS_MAX_AGE_MAX + 2));
  restlen = inlen - 5;
  rest = malloc(restlen + 1);
  mx = calloc(restlen + 1, sizeof(*mx));
  CHECK(rest != NULL && mx != NULL);
  memcpy(rest, in + 5, restlen);
  rest[restlen] = '\0';
  if (restlen > 0) {
    char *p = rest;

    for (i = 0; i <= restlen; i++) {
      if (i == restlen || rest[i] == '\n') {
        rest[i] = '\0';
        mx[n++] = p[0] == 0x01 && p[1] == '\0' ? NULL : p;
        p = rest + i + 1;
      }
    }
  }
  for (i = 0; i < n; i++) {
    plain = plain && plain_pattern(mx[i]);
  }
  f.mx = mx;
  f.mx_count = n;
  round_trip(ctx, &f,
             plain && f.mode != MTS_STS_MODE_UNKNOWN && f.max_age >= 0 &&
                 f.max_age <= MTS_STS_MAX_AGE_MAX &&
                 (n > 0 || f.mode == MTS_STS_MODE_NONE),
             in, inlen);
  free(mx);
  free(rest);
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
    from_parsed(ctx, p, data, size);
  }
  from_raw(ctx, data, size);
  mts_sts_policy_destroy(p);
  mts_ctx_destroy(ctx);
  return 0;
}
