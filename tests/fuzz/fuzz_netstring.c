/*
 * fuzz_netstring.c - the netstring push reader against the one-shot
 * parser, and the writer. Input: byte 0 picks max_payload, byte 1 seeds
 * the feed splits, the rest is the stream.
 *
 * Invariants (abort() on a break):
 *  - Feeding the stream in random chunks gives exactly the payloads,
 *    end state and error that repeated mts_netstring_parse() gives on
 *    the whole stream (the two are written independently).
 *  - Every payload is at most max_payload bytes.
 *  - feed() never reports more than it was given; when next() says
 *    NEED_MORE, the chunk was consumed entirely (after a payload was
 *    taken, feeding resumes at the returned offset).
 *  - An ERROR is sticky: feed() then consumes nothing.
 *  - write(payload) parses back to the payload, consuming the frame.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mtasts/mtasts.h>

#define FUZZ_MAX_INPUT 70000
#define FUZZ_MAX_PAYLOADS 4096

static const size_t maxes[8] = {0,  1,   3,    5,
                                16, 255, 1024, MTS_SOCKETMAP_REQUEST_MAX};

struct seen {
  size_t off; /* payload offset inside the stream (one-shot parser) */
  size_t len;
};

/* xorshift: the split sizes are derived from the input only. */
static uint32_t next_rand(uint32_t *s) {
  uint32_t x = *s;

  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  *s = x;
  return x;
}

static void check_round_trip(const uint8_t *p, size_t n) {
  uint8_t *buf;
  const uint8_t *q;
  size_t w, qn, used;
  size_t size = n + MTS_NETSTRING_OVERHEAD_MAX;

  buf = malloc(size);
  if (buf == NULL) {
    return;
  }
  if (mts_netstring_write(buf, size, p, n, &w) != MTS_OK ||
      w != mts_netstring_framed_len(n) ||
      mts_netstring_parse(buf, w, n, &q, &qn, &used, NULL) !=
          MTS_NETSTRING_COMPLETE ||
      used != w || qn != n || (n > 0 && memcmp(q, p, n) != 0)) {
    abort();
  }
  /* one byte short is a prefix: NEED_MORE, never an error */
  if (mts_netstring_parse(buf, w - 1, n, &q, &qn, &used, NULL) !=
      MTS_NETSTRING_NEED_MORE) {
    abort();
  }
  free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static struct seen want[FUZZ_MAX_PAYLOADS];
  struct mts_ctx *ctx = NULL;
  struct mts_netstring_reader r;
  enum mts_netstring_result want_end, res = MTS_NETSTRING_NEED_MORE;
  enum mts_netstring_error want_err = MTS_NETSTRING_ENONE;
  const uint8_t *in;
  size_t n, max, nwant = 0, ngot = 0, off = 0, start = 0;
  uint32_t seed;
  unsigned span;

  if (size < 2 || size > FUZZ_MAX_INPUT) {
    return 0;
  }
  max = maxes[data[0] & 7];
  seed = 0x9e3779b9u ^ (uint32_t)data[1] ^ ((uint32_t)size << 8);
  span = (data[1] >> 4) == 0 ? 1u : (unsigned)(data[1] >> 4) * 4u;
  in = data + 2;
  n = size - 2;

  /* The reference: one-shot parses from the start of each netstring. */
  for (;;) {
    const uint8_t *p;
    size_t plen, used;

    want_end = mts_netstring_parse(in + off, n - off, max, &p, &plen, &used,
                                   &want_err);
    if (want_end != MTS_NETSTRING_COMPLETE) {
      break;
    }
    if (plen > max || used == 0 || used > n - off ||
        p != in + off + used - 1 - plen || want_err != MTS_NETSTRING_ENONE) {
      abort();
    }
    if (nwant < FUZZ_MAX_PAYLOADS) {
      want[nwant].off = (size_t)(p - in);
      want[nwant].len = plen;
    }
    nwant++;
    check_round_trip(p, plen);
    off += used;
  }
  if ((want_end == MTS_NETSTRING_ERROR) != (want_err != MTS_NETSTRING_ENONE)) {
    abort();
  }

  /* The reader, fed in chunks of 1..span bytes. */
  if (mts_ctx_create(NULL, &ctx) != MTS_OK) {
    return 0;
  }
  if (mts_netstring_reader_init(&r, ctx, max) != MTS_OK) {
    mts_ctx_destroy(ctx);
    return 0;
  }
  while (start < n && res != MTS_NETSTRING_ERROR) {
    size_t end = start + 1 + next_rand(&seed) % span;

    if (end > n) {
      end = n;
    }
    off = start;
    for (;;) {
      const uint8_t *p;
      size_t plen;
      size_t used = mts_netstring_reader_feed(&r, in + off, end - off);
      size_t before = ngot;

      if (used > end - off) {
        abort();
      }
      off += used;
      while ((res = mts_netstring_reader_next(&r, &p, &plen)) ==
             MTS_NETSTRING_COMPLETE) {
        if (plen > max || p == NULL || ngot >= nwant) {
          abort();
        }
        if (ngot < FUZZ_MAX_PAYLOADS &&
            (plen != want[ngot].len ||
             (plen > 0 && memcmp(p, in + want[ngot].off, plen) != 0))) {
          abort();
        }
        ngot++;
      }
      if (res == MTS_NETSTRING_ERROR) {
        /* sticky */
        if (mts_netstring_reader_feed(&r, in, n) != 0 ||
            mts_netstring_reader_next(&r, &p, &plen) != MTS_NETSTRING_ERROR) {
          abort();
        }
        break;
      }
      if (off == end) {
        break;
      }
      if (ngot == before) {
        abort(); /* NEED_MORE with input left and nothing taken */
      }
    }
    start = end;
  }
  if (ngot != nwant || res != want_end ||
      mts_netstring_reader_error(&r) != want_err) {
    abort();
  }
  mts_netstring_reader_cleanup(&r);
  mts_ctx_destroy(ctx);
  return 0;
}
