/*
 * fuzz_mtastsd_answer.c - libFuzzer target for mtastsd's reply builder
 * (src/mtastsd/answer.c). Input: one byte of zone flags, one byte of
 * answer kind and last verdict, then a policy body (any bytes; parsed
 * with mts_sts_policy_parse, applied even when not usable, which the
 * resolver never does: the builder must cope anyway).
 * Invariants checked (abort() on a break):
 *  - the kind is OK, NOTFOUND or TEMP; TEMP only with on_tempfail temp;
 *  - the text is NUL-terminated, r.len == strlen, at most 100000 bytes;
 *  - OK text: printable ASCII, starts "secure match=" followed by a
 *    non-empty list of LDH patterns (optional leading '.') separated by
 *    ':', no IPv4 address; braces balanced, never nested, each group is
 *    "{ policy_string = ... }"; policy_type only in a tlsrpt zone;
 *  - mts_socketmap_reply_write() accepts the reply and the netstring it
 *    writes parses back to the same payload.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mtasts/limits.h>
#include <mtasts/mtasts.h>
#include <mtasts/socketmap.h>
#include <mtasts/sts_discover.h>
#include <mtasts/sts_policy.h>

#include "answer.h"

#define FUZZ_MAX_INPUT (MTS_POLICY_MAX_SIZE + 2)

#define CHECK(cond)                                                           \
  do {                                                                        \
    if (!(cond)) {                                                            \
      fprintf(stderr, "invariant broken: %s (line %d)\n", #cond, __LINE__);   \
      abort();                                                                \
    }                                                                         \
  } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_match_list(const char *s, size_t n) {
  size_t i, lab = 0;
  bool digits = true;

  CHECK(n > 0);
  for (i = 0; i < n; i++) {
    char c = s[i];

    if (c == ':') {
      CHECK(lab > 0 && !digits);
      lab = 0;
      digits = true;
      continue;
    }
    if (c == '.') {
      digits = true;
      continue;
    }
    CHECK((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-');
    if (c < '0' || c > '9') {
      digits = false;
    }
    lab++;
  }
  CHECK(lab > 0 && !digits);
}

static void check_ok(const char *t, size_t len, bool tlsrpt) {
  static const char pfx[] = "secure match=";
  const char *sp;
  size_t i, depth = 0;

  CHECK(len > 0);
  for (i = 0; i < len; i++) {
    CHECK(t[i] >= 0x20 && t[i] <= 0x7e);
    if (t[i] == '{') {
      CHECK(depth == 0);
      CHECK(strncmp(t + i, "{ policy_string = ", 18) == 0);
      depth++;
    } else if (t[i] == '}') {
      CHECK(depth == 1 && t[i - 1] == ' ');
      depth--;
    }
  }
  CHECK(depth == 0);
  CHECK(strncmp(t, pfx, sizeof(pfx) - 1) == 0);
  sp = strchr(t + sizeof(pfx) - 1, ' ');
  check_match_list(t + sizeof(pfx) - 1,
                   sp != NULL ? (size_t)(sp - t) - (sizeof(pfx) - 1)
                              : len - (sizeof(pfx) - 1));
  CHECK(tlsrpt || strstr(t, "policy_type=") == NULL);
}

static void check_wire(const struct mtastsd_reply *r, const char *text) {
  static uint8_t frame[MTS_SOCKETMAP_REPLY_BUF_MAX];
  const uint8_t *payload = NULL;
  size_t n = 0, plen = 0, used = 0;

  CHECK(mts_socketmap_reply_write(frame, sizeof(frame), r->kind, text, r->len,
                                  &n) == MTS_OK);
  CHECK(mts_netstring_parse(frame, n, MTS_SOCKETMAP_REPLY_MAX, &payload, &plen,
                            &used, NULL) == MTS_NETSTRING_COMPLETE);
  CHECK(used == n);
  if (r->kind == MTS_SOCKETMAP_REPLY_OK) {
    CHECK(plen == r->len + 3 && memcmp(payload, "OK ", 3) == 0 &&
          memcmp(payload + 3, text, r->len) == 0);
  } else if (r->kind == MTS_SOCKETMAP_REPLY_NOTFOUND) {
    CHECK(plen == 9 && memcmp(payload, "NOTFOUND ", 9) == 0);
  } else {
    CHECK(plen > 5 && memcmp(payload, "TEMP ", 5) == 0);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static char buf[MTASTSD_ANSWER_BUF_MAX];
  struct mts_ctx *ctx = NULL;
  struct mts_sts_policy *p = NULL;
  struct mts_sts_answer a;
  struct mtastsd_answer_opts o;
  struct mtastsd_reply r;
  uint8_t flags, kind;

  if (size < 2 || size > FUZZ_MAX_INPUT) {
    return 0;
  }
  flags = data[0];
  kind = data[1];
  if (mts_ctx_create(NULL, &ctx) != MTS_OK) {
    return 0;
  }
  if (mts_sts_policy_parse(ctx, data + 2, size - 2, &p) != MTS_OK) {
    mts_ctx_destroy(ctx);
    return 0;
  }
  memset(&a, 0, sizeof(a));
  a.kind = (enum mts_sts_answer_kind)(kind % 3);
  a.domain = (kind & 0x80) ? "example.com" : "xn--bcher-kva.example";
  a.policy = (kind & 0x40) ? NULL : p;
  a.last_verdict = (enum mts_sts_verdict)((kind >> 2) % 7);
  mtastsd_answer_opts_init(&o, NULL, NULL);
  o.require_sni = (flags & 1) != 0;
  o.strict_testing = (flags & 2) != 0;
  o.tlsrpt = (flags & 4) != 0;
  o.on_tempfail =
      (flags & 8) ? MTASTSD_TEMPFAIL_TEMP : MTASTSD_TEMPFAIL_NOTFOUND;
  o.policy_failure = (flags & 16) != 0;

  mtastsd_answer_build(&a, &o, buf, (flags & 32) ? 200 : sizeof(buf), &r);
  CHECK(r.why != NULL);
  CHECK(r.len == strlen(buf) && r.len <= MTS_SOCKETMAP_REPLY_MAX);
  switch (r.kind) {
  case MTS_SOCKETMAP_REPLY_OK:
    CHECK(a.kind == MTS_ANSWER_POLICY && a.policy != NULL);
    check_ok(buf, r.len, o.tlsrpt);
    break;
  case MTS_SOCKETMAP_REPLY_NOTFOUND:
    CHECK(r.len == 0);
    break;
  case MTS_SOCKETMAP_REPLY_TEMP:
    CHECK(a.kind == MTS_ANSWER_TEMP && o.on_tempfail == MTASTSD_TEMPFAIL_TEMP);
    CHECK(r.len > 0);
    break;
  case MTS_SOCKETMAP_REPLY_TIMEOUT:
  case MTS_SOCKETMAP_REPLY_PERM:
    CHECK(0);
    break;
  }
  check_wire(&r, buf);

  mts_sts_policy_destroy(p);
  mts_ctx_destroy(ctx);
  return 0;
}
