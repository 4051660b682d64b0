/*
 * fuzz_tls_probe_reply.c - libFuzzer target for the SMTP reply scanner of
 * the TLS probe (mts_tls_probe_reply_scan, src/lib/net/tls_probe.c),
 * which reads what an MX host sends before STARTTLS.
 * Invariants checked (abort() on a break):
 *  - the result is -1, 0 or 1;
 *  - complete (1): 0 < used <= size, the code is 100..599 and equals the
 *    first three bytes, the reply ends with LF, and scanning exactly the
 *    first `used` bytes gives the same answer (a reply does not depend on
 *    what follows it);
 *  - need more (0): no LF-terminated final line exists; scanning any
 *    prefix also needs more or is complete never (prefix-monotonic check
 *    on size - 1);
 *  - replies are consumed in a loop (as the probe does) without going
 *    past the end.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/net_tls_int.h"

#define FUZZ_MAX_INPUT 16384

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "invariant broken: %s (line %d)\n", #cond, __LINE__);    \
      abort();                                                                 \
    }                                                                          \
  } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char empty[1] = {0};
  /* The replay driver hands an empty input over as NULL; "buf + off" on
   * NULL is undefined even for off 0. */
  const char *buf = size > 0 ? (const char *)data : empty;
  size_t off = 0;
  int rounds = 0;

  if (size > FUZZ_MAX_INPUT) {
    return 0;
  }
  while (off <= size && rounds++ < 64) {
    int code = -1, code2 = -1;
    size_t used = 0, used2 = 0;
    int rc = mts_tls_probe_reply_scan(buf + off, size - off, &code, &used);

    CHECK(rc == -1 || rc == 0 || rc == 1);
    if (rc != 1) {
      CHECK(used == 0);
      if (rc == 0 && size - off > 0) {
        /* Less input can never make a reply complete or malformed. */
        int rc2 =
            mts_tls_probe_reply_scan(buf + off, size - off - 1, &code2, &used2);
        CHECK(rc2 == 0);
      }
      break;
    }
    CHECK(used > 0 && used <= size - off);
    CHECK(code >= 100 && code <= 599);
    CHECK(code == (buf[off] - '0') * 100 + (buf[off + 1] - '0') * 10 +
                      (buf[off + 2] - '0'));
    CHECK(buf[off + used - 1] == '\n');
    CHECK(mts_tls_probe_reply_scan(buf + off, used, &code2, &used2) == 1);
    CHECK(code2 == code && used2 == used);
    off += used;
  }
  return 0;
}
