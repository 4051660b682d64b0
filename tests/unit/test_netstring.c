/*
 * test_netstring.c - the netstring push parser, one-shot parser and
 * writer (mtasts/socketmap.h). Vectors NS01..NS19 are
 * postfix-mta-sts-resolver's tests/test_netstring.py (POSTFIX-NOTES
 * "Netstring vectors") and its [ran] notes in 2.1; NS2x are ours.
 *
 * Every reader vector is run four ways that must agree: all at once,
 * byte by byte, split in two at every offset, and through repeated
 * mts_netstring_parse() calls.
 */
#include <stdlib.h>

#include "testutil.h"

#define MAXP 4 /* payloads a vector may yield */

struct bytes {
  const char *p;
  size_t n;
};
#define B(s) {s, sizeof(s) - 1}

struct reader_case {
  const char *id;
  struct bytes in;
  size_t max;
  size_t npay;             /* payloads expected before the end state */
  struct bytes pay[MAXP];  /* the payloads */
  enum mts_netstring_result end; /* NEED_MORE or ERROR */
  enum mts_netstring_error err;
};

#define NEED MTS_NETSTRING_NEED_MORE, MTS_NETSTRING_ENONE
#define ERR(e) MTS_NETSTRING_ERROR, MTS_NETSTRING_##e

static const struct reader_case reader_cases[] = {
    {"NS03 00:,", B("00:,"), 1024, 1, {B("")}, NEED},
    {"NS04 01:X,", B("01:X,"), 1024, 1, {B("X")}, NEED},
    {"NS05 00:,1:X, pipelined", B("00:,1:X,"), 1024, 2, {B(""), B("X")},
     NEED},
    {"NS06 nested netstring", B("17:5:Hello,6:World!,,"), 1024, 1,
     {B("5:Hello,6:World!,")}, NEED},
    {"NS07 empty length :,", B(":,"), 1024, 0, {{0}}, ERR(EBADLEN)},
    {"NS08 aaa:aaa (peer: BadLength)", B("aaa:aaa"), 1024, 0, {{0}},
     ERR(EGARBAGE)},
    {"NS09 incomplete 3", B("3"), 1024, 0, {{0}}, NEED},
    {"NS10 incomplete 3:", B("3:"), 1024, 0, {{0}}, NEED},
    {"NS11 incomplete 3:a", B("3:a"), 1024, 0, {{0}}, NEED},
    {"NS12 incomplete 3:aa", B("3:aa"), 1024, 0, {{0}}, NEED},
    {"NS13 incomplete 3:aaa", B("3:aaa"), 1024, 0, {{0}}, NEED},
    {"NS14 bad terminator 0:_", B("0:_"), 1024, 0, {{0}}, ERR(EBADTERM)},
    {"NS15 bad terminator 3:aaa_", B("3:aaa_"), 1024, 0, {{0}},
     ERR(EBADTERM)},
    {"NS16 limit 5, 6:123456,", B("6:123456,"), 5, 0, {{0}}, ERR(ETOOLONG)},
    {"NS17 limit 1024, 9999:aaa", B("9999:aaa"), 1024, 0, {{0}},
     ERR(ETOOLONG)},
    {"NS18 limit 1024, 9999:", B("9999:"), 1024, 0, {{0}}, ERR(ETOOLONG)},
    {"NS19 limit 1024, 9999 (before the ':')", B("9999"), 1024, 0, {{0}},
     ERR(ETOOLONG)},
    {"NS20 leading zeros 013:test good.loc,", B("013:test good.loc,"), 1024,
     1, {B("test good.loc")}, NEED},
    {"NS21 corrupt terminator 13:test good.loc!", B("13:test good.loc!"),
     1024, 0, {{0}}, ERR(EBADTERM)},
    {"NS22 non-digit in length 1a:", B("1a:a,"), 1024, 0, {{0}},
     ERR(EBADLEN)},
    {"NS23 leading garbage \\n3:abc,", B("\n3:abc,"), 1024, 0, {{0}},
     ERR(EGARBAGE)},
    {"NS24 garbage after a netstring", B("3:abc,\n3:def,"), 1024, 1,
     {B("abc")}, ERR(EGARBAGE)},
    {"NS25 negative length", B("-1:a,"), 1024, 0, {{0}}, ERR(EGARBAGE)},
    {"NS26 space before length", B(" 3:abc,"), 1024, 0, {{0}},
     ERR(EGARBAGE)},
    {"NS27 NUL in payload", B("3:a\0b,"), 1024, 1, {B("a\0b")}, NEED},
    {"NS28 payload is commas and colons", B("4:1:,,,"), 1024, 1,
     {B("1:,,")}, NEED},
    {"NS29 max 0 allows empty", B("0:,"), 0, 1, {B("")}, NEED},
    {"NS30 max 0 refuses 1", B("1:a,"), 0, 0, {{0}}, ERR(ETOOLONG)},
    {"NS31 payload exactly max", B("5:12345,"), 5, 1, {B("12345")}, NEED},
    {"NS32 20 length digits", B("00000000000000000003:abc,"), 1024, 1,
     {B("abc")}, NEED},
    {"NS33 21 length digits", B("000000000000000000003:abc,"), 1024, 0,
     {{0}}, ERR(ETOOLONG)},
    {"NS34 three pipelined then partial",
     B("4:test,0:,11:hello world,5:ab"), 1024, 3,
     {B("test"), B(""), B("hello world")}, NEED},
    {"NS35 missing comma, next length", B("1:a1:b,"), 1024, 0, {{0}},
     ERR(EBADTERM)},
    {"NS36 error after two good", B("1:a,1:b,x"), 1024, 2, {B("a"), B("b")},
     ERR(EGARBAGE)},
    {"NS37 empty input", B(""), 1024, 0, {{0}}, NEED},
    {"NS38 colon twice", B("3::ab,"), 1024, 1, {B(":ab")}, NEED},
    {"NS39 length then comma", B("3,"), 1024, 0, {{0}}, ERR(EBADLEN)},
};

struct outcome {
  size_t npay;
  struct bytes pay[MAXP + 1];
  char store[MAXP + 1][2048];
  enum mts_netstring_result end;
  enum mts_netstring_error err;
};

static void outcome_add(struct outcome *o, const uint8_t *p, size_t n) {
  if (o->npay < MAXP + 1) {
    assert_true(n <= sizeof(o->store[0]));
    if (n > 0) {
      memcpy(o->store[o->npay], p, n);
    }
    o->pay[o->npay].p = o->store[o->npay];
    o->pay[o->npay].n = n;
  }
  o->npay++;
}

/* Drain every complete payload; return the first non-COMPLETE result. */
static enum mts_netstring_result drain(struct mts_netstring_reader *r,
                                       struct outcome *o) {
  const uint8_t *p;
  size_t n;
  enum mts_netstring_result res;

  while ((res = mts_netstring_reader_next(r, &p, &n)) ==
         MTS_NETSTRING_COMPLETE) {
    assert_non_null(p);
    outcome_add(o, p, n);
  }
  assert_null(p);
  assert_int_equal(n, 0);
  return res;
}

/* Feed in chunks: sizes[] cycles (0 entries: one chunk). The documented
 * server loop: feed from off, drain, until the input is used or error. */
static void run_reader(const struct reader_case *c, const size_t *cuts,
                       size_t ncuts, struct outcome *o) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct mts_netstring_reader r;
  const uint8_t *in = (const uint8_t *)c->in.p;
  size_t start = 0;
  size_t k;
  enum mts_netstring_result res = MTS_NETSTRING_NEED_MORE;

  memset(o, 0, sizeof(*o));
  assert_int_equal(mts_netstring_reader_init(&r, ctx, c->max), MTS_OK);
  for (k = 0; k <= ncuts; k++) {
    size_t end = k < ncuts ? cuts[k] : c->in.n;
    size_t off = start;

    for (;;) {
      size_t used = mts_netstring_reader_feed(&r, in + off, end - off);
      size_t before = o->npay;

      assert_true(used <= end - off);
      off += used;
      res = drain(&r, o);
      if (res == MTS_NETSTRING_ERROR || off == end) {
        break;
      }
      /* Contract: feed() stops only at the end of a netstring, so
       * NEED_MORE with input left over means a payload was just taken. */
      if (o->npay == before) {
        fail_msg("%s: NEED_MORE with %zu bytes unconsumed", c->id,
                 end - off);
      }
    }
    if (res == MTS_NETSTRING_ERROR) {
      break;
    }
    start = end;
  }
  o->end = res;
  o->err = mts_netstring_reader_error(&r);
  mts_netstring_reader_cleanup(&r);
  mts_ctx_destroy(ctx);
}

/* The same through mts_netstring_parse() on the remaining input. */
static void run_parse(const struct reader_case *c, struct outcome *o) {
  const uint8_t *in = (const uint8_t *)c->in.p;
  size_t off = 0;

  memset(o, 0, sizeof(*o));
  for (;;) {
    const uint8_t *p;
    size_t n, used;
    enum mts_netstring_error err;
    enum mts_netstring_result res = mts_netstring_parse(
        in + off, c->in.n - off, c->max, &p, &n, &used, &err);

    if (res != MTS_NETSTRING_COMPLETE) {
      o->end = res;
      o->err = err;
      assert_null(p);
      assert_int_equal(used, 0);
      return;
    }
    assert_int_equal(err, MTS_NETSTRING_ENONE);
    assert_ptr_equal(p + n + 1, in + off + used);
    outcome_add(o, p, n);
    off += used;
  }
}

static void check_outcome(const struct reader_case *c, const char *how,
                          const struct outcome *o) {
  size_t i;

  if (o->npay != c->npay) {
    fail_msg("%s (%s): got %zu payloads, want %zu", c->id, how, o->npay,
             c->npay);
  }
  for (i = 0; i < c->npay; i++) {
    if (o->pay[i].n != c->pay[i].n ||
        memcmp(o->pay[i].p, c->pay[i].p, c->pay[i].n) != 0) {
      fail_msg("%s (%s): payload %zu: got \"%.*s\" (%zu), want \"%.*s\" (%zu)",
               c->id, how, i, (int)o->pay[i].n, o->pay[i].p, o->pay[i].n,
               (int)c->pay[i].n, c->pay[i].p, c->pay[i].n);
    }
  }
  if (o->end != c->end || o->err != c->err) {
    fail_msg("%s (%s): got end %d (%s), want %d (%s)", c->id, how, o->end,
             mts_netstring_error_str(o->err), c->end,
             mts_netstring_error_str(c->err));
  }
}

static void test_reader_table(void **state) {
  struct outcome o;
  size_t i, k;

  (void)state;
  for (i = 0; i < sizeof(reader_cases) / sizeof(reader_cases[0]); i++) {
    const struct reader_case *c = &reader_cases[i];
    size_t cuts[4096];

    /* all at once */
    run_reader(c, NULL, 0, &o);
    check_outcome(c, "one feed", &o);
    /* byte by byte */
    assert_true(c->in.n <= 4096);
    for (k = 0; k + 1 < c->in.n; k++) {
      cuts[k] = k + 1;
    }
    run_reader(c, cuts, c->in.n > 0 ? c->in.n - 1 : 0, &o);
    check_outcome(c, "byte by byte", &o);
    /* split in two at every offset */
    for (k = 0; k <= c->in.n; k++) {
      char how[64];

      cuts[0] = k;
      run_reader(c, cuts, 1, &o);
      (void)snprintf(how, sizeof(how), "split at %zu", k);
      check_outcome(c, how, &o);
    }
    /* one-shot parser */
    run_parse(c, &o);
    check_outcome(c, "mts_netstring_parse", &o);
  }
}

/* The peer accepts 1024 and refuses 1025 ([ran], POSTFIX-NOTES 2.1); so
 * do we with max 1024, and the request limit takes a 10000-byte key. */
static void test_reader_limits(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct mts_netstring_reader r;
  size_t sizes[] = {1024, 1025, MTS_SOCKETMAP_REQUEST_MAX,
                    MTS_SOCKETMAP_REQUEST_MAX + 1};
  size_t maxes[] = {1024, 1024, MTS_SOCKETMAP_REQUEST_MAX,
                    MTS_SOCKETMAP_REQUEST_MAX};
  bool ok[] = {true, false, true, false};
  uint8_t *msg = malloc(MTS_SOCKETMAP_REQUEST_MAX + 64);
  uint8_t *pay = malloc(MTS_SOCKETMAP_REQUEST_MAX + 1);
  size_t i;

  (void)state;
  assert_non_null(msg);
  assert_non_null(pay);
  memset(pay, 'k', MTS_SOCKETMAP_REQUEST_MAX + 1);
  for (i = 0; i < 4; i++) {
    const uint8_t *p;
    size_t n, w, used;

    assert_int_equal(mts_netstring_write(msg, MTS_SOCKETMAP_REQUEST_MAX + 64,
                                         pay, sizes[i], &w),
                     MTS_OK);
    assert_int_equal(mts_netstring_reader_init(&r, ctx, maxes[i]), MTS_OK);
    used = mts_netstring_reader_feed(&r, msg, w);
    if (ok[i]) {
      assert_int_equal(used, w);
      assert_int_equal(mts_netstring_reader_next(&r, &p, &n),
                       MTS_NETSTRING_COMPLETE);
      assert_int_equal(n, sizes[i]);
      assert_memory_equal(p, pay, n);
    } else {
      /* refused at the last length digit, before any payload */
      assert_true(used < 6);
      assert_int_equal(mts_netstring_reader_next(&r, &p, &n),
                       MTS_NETSTRING_ERROR);
      assert_int_equal(mts_netstring_reader_error(&r), MTS_NETSTRING_ETOOLONG);
    }
    mts_netstring_reader_cleanup(&r);
  }
  free(msg);
  free(pay);
  mts_ctx_destroy(ctx);
}

/* feed() stops after each netstring; errors are sticky. */
static void test_reader_contract(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct mts_netstring_reader r;
  const uint8_t *in = (const uint8_t *)"3:abc,3:def,x";
  const uint8_t *p = (const uint8_t *)"junk";
  size_t n = 99;

  (void)state;
  assert_int_equal(mts_netstring_reader_init(&r, ctx, 16), MTS_OK);
  assert_int_equal(mts_netstring_reader_next(&r, &p, &n),
                   MTS_NETSTRING_NEED_MORE);
  assert_null(p);
  assert_int_equal(n, 0);
  assert_int_equal(mts_netstring_reader_feed(&r, NULL, 0), 0);
  assert_int_equal(mts_netstring_reader_feed(&r, NULL, 5), 0);
  /* stops after the first ',' */
  assert_int_equal(mts_netstring_reader_feed(&r, in, 13), 6);
  /* a completed payload blocks further input until next() */
  assert_int_equal(mts_netstring_reader_feed(&r, in + 6, 7), 0);
  assert_int_equal(mts_netstring_reader_next(&r, &p, &n),
                   MTS_NETSTRING_COMPLETE);
  assert_int_equal(n, 3);
  assert_memory_equal(p, "abc", 3);
  assert_int_equal(mts_netstring_reader_feed(&r, in + 6, 7), 6);
  assert_int_equal(mts_netstring_reader_next(&r, &p, &n),
                   MTS_NETSTRING_COMPLETE);
  assert_memory_equal(p, "def", 3);
  /* the bad byte is not consumed */
  assert_int_equal(mts_netstring_reader_feed(&r, in + 12, 1), 0);
  assert_int_equal(mts_netstring_reader_error(&r), MTS_NETSTRING_EGARBAGE);
  /* sticky */
  assert_int_equal(mts_netstring_reader_next(&r, &p, &n),
                   MTS_NETSTRING_ERROR);
  assert_int_equal(mts_netstring_reader_feed(&r, in, 6), 0);
  assert_int_equal(mts_netstring_reader_next(&r, &p, &n),
                   MTS_NETSTRING_ERROR);
  assert_int_equal(mts_netstring_reader_error(&r), MTS_NETSTRING_EGARBAGE);
  mts_netstring_reader_cleanup(&r);
  mts_netstring_reader_cleanup(&r); /* twice is harmless */

  /* bad arguments */
  assert_int_equal(mts_netstring_reader_init(NULL, ctx, 1), MTS_EINVAL);
  assert_int_equal(mts_netstring_reader_init(&r, NULL, 1), MTS_EINVAL);
  mts_netstring_reader_cleanup(&r);
  mts_netstring_reader_cleanup(NULL);
  assert_int_equal(mts_netstring_reader_feed(NULL, in, 3), 0);
  assert_int_equal(mts_netstring_reader_feed(&r, in, 3), 0); /* cleaned */
  assert_int_equal(mts_netstring_reader_next(&r, &p, &n), MTS_NETSTRING_ERROR);
  assert_int_equal(mts_netstring_reader_next(NULL, &p, &n),
                   MTS_NETSTRING_ERROR);
  assert_int_equal(mts_netstring_reader_error(NULL), MTS_NETSTRING_ENONE);
  assert_int_equal(mts_netstring_reader_init(&r, ctx, 4), MTS_OK);
  assert_int_equal(mts_netstring_reader_next(&r, NULL, &n),
                   MTS_NETSTRING_ERROR);
  assert_int_equal(mts_netstring_reader_next(&r, &p, NULL),
                   MTS_NETSTRING_ERROR);
  /* a NULL argument leaves the reader untouched */
  assert_int_equal(mts_netstring_reader_feed(&r, in, 6), 6);
  assert_int_equal(mts_netstring_reader_next(&r, NULL, NULL),
                   MTS_NETSTRING_ERROR);
  assert_int_equal(mts_netstring_reader_next(&r, &p, &n),
                   MTS_NETSTRING_COMPLETE);
  mts_netstring_reader_cleanup(&r);
  mts_ctx_destroy(ctx);

  assert_string_equal(mts_netstring_error_str(MTS_NETSTRING_EBADTERM),
                      "missing ',' after the payload");
  assert_string_equal(mts_netstring_error_str((enum mts_netstring_error)77),
                      "unknown netstring error");
}

/* mts_netstring_parse() overflow and argument checks: no allocation, so
 * max SIZE_MAX can be used. */
static void test_parse_overflow(void **state) {
  static const struct {
    const char *id;
    const char *in;
    enum mts_netstring_result want;
    enum mts_netstring_error err;
  } cases[] = {
      {"NS40 SIZE_MAX digits, no payload", "18446744073709551615:",
       MTS_NETSTRING_NEED_MORE, MTS_NETSTRING_ENONE},
      {"NS41 SIZE_MAX + 1 overflows", "18446744073709551616:",
       MTS_NETSTRING_ERROR, MTS_NETSTRING_ETOOLONG},
      {"NS42 20 nines overflow", "99999999999999999999",
       MTS_NETSTRING_ERROR, MTS_NETSTRING_ETOOLONG},
      {"NS43 21 digits", "000000000000000000001:", MTS_NETSTRING_ERROR,
       MTS_NETSTRING_ETOOLONG},
  };
  const uint8_t *p;
  size_t n, used, i;
  enum mts_netstring_error err;

  (void)state;
  assert_int_equal(sizeof(size_t), 8);
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    enum mts_netstring_result res =
        mts_netstring_parse((const uint8_t *)cases[i].in, strlen(cases[i].in),
                            SIZE_MAX, &p, &n, &used, &err);

    if (res != cases[i].want || err != cases[i].err) {
      fail_msg("%s: got %d/%s, want %d/%s", cases[i].id, res,
               mts_netstring_error_str(err), cases[i].want,
               mts_netstring_error_str(cases[i].err));
    }
  }
  assert_int_equal(mts_netstring_parse(NULL, 0, 5, &p, &n, &used, NULL),
                   MTS_NETSTRING_NEED_MORE);
  assert_int_equal(mts_netstring_parse(NULL, 3, 5, &p, &n, &used, &err),
                   MTS_NETSTRING_ERROR);
  assert_int_equal(err, MTS_NETSTRING_ENONE);
  assert_int_equal(
      mts_netstring_parse((const uint8_t *)"0:,", 3, 5, NULL, &n, &used, NULL),
      MTS_NETSTRING_ERROR);
  assert_int_equal(
      mts_netstring_parse((const uint8_t *)"0:,", 3, 5, &p, NULL, &used, NULL),
      MTS_NETSTRING_ERROR);
  assert_int_equal(
      mts_netstring_parse((const uint8_t *)"0:,", 3, 5, &p, &n, NULL, NULL),
      MTS_NETSTRING_ERROR);
  assert_int_equal(
      mts_netstring_parse((const uint8_t *)"0:,x", 4, 5, &p, &n, &used, NULL),
      MTS_NETSTRING_COMPLETE);
  assert_int_equal(used, 3);
  assert_int_equal(n, 0);
  assert_non_null(p);
}

struct write_case {
  const char *id;
  struct bytes payload;
  struct bytes want;
};

static const struct write_case write_cases[] = {
    {"NS01 encode ''", B(""), B("0:,")},
    {"NS02 encode 'X'", B("X"), B("1:X,")},
    {"NS44 request", B("test good.loc"), B("13:test good.loc,")},
    {"NS45 NUL and comma", B("a\0,"), B("3:a\0,,")},
    {"NS46 ten bytes", B("0123456789"), B("10:0123456789,")},
    {"NS47 NOTFOUND reply", B("NOTFOUND "), B("9:NOTFOUND ,")},
};

static void test_write_table(void **state) {
  uint8_t buf[64];
  size_t i, w;

  (void)state;
  for (i = 0; i < sizeof(write_cases) / sizeof(write_cases[0]); i++) {
    const struct write_case *c = &write_cases[i];

    memset(buf, 0xAA, sizeof(buf));
    assert_int_equal(mts_netstring_write(buf, sizeof(buf),
                                         (const uint8_t *)c->payload.p,
                                         c->payload.n, &w),
                     MTS_OK);
    if (w != c->want.n || memcmp(buf, c->want.p, w) != 0) {
      fail_msg("%s: got \"%.*s\", want \"%.*s\"", c->id, (int)w, buf,
               (int)c->want.n, c->want.p);
    }
    assert_int_equal(buf[w], 0xAA); /* not NUL-terminated, no overrun */
    assert_int_equal(mts_netstring_framed_len(c->payload.n), c->want.n);
    /* exact size fits; one less does not */
    assert_int_equal(mts_netstring_write(buf, c->want.n,
                                         (const uint8_t *)c->payload.p,
                                         c->payload.n, &w),
                     MTS_OK);
    assert_int_equal(w, c->want.n);
    assert_int_equal(mts_netstring_write(buf, c->want.n - 1,
                                         (const uint8_t *)c->payload.p,
                                         c->payload.n, &w),
                     MTS_ETOOBIG);
    assert_int_equal(w, 0);
  }
  assert_int_equal(mts_netstring_framed_len(SIZE_MAX), 0);
  assert_true(mts_netstring_framed_len(SIZE_MAX - 22) == SIZE_MAX);
  assert_int_equal(mts_netstring_framed_len(SIZE_MAX - 21), 0);
  assert_int_equal(mts_netstring_framed_len(99999), 99999 + 7);
  assert_int_equal(mts_netstring_framed_len(100000), 100000 + 8);
  assert_int_equal(mts_netstring_write(NULL, 5, NULL, 0, &w), MTS_EINVAL);
  assert_int_equal(mts_netstring_write(buf, 5, NULL, 0, NULL), MTS_EINVAL);
  assert_int_equal(mts_netstring_write(buf, 5, NULL, 1, &w), MTS_EINVAL);
  assert_int_equal(mts_netstring_write(buf, 5, NULL, 0, &w), MTS_OK);
  assert_memory_equal(buf, "0:,", 3);
  /* in place: a payload already inside buf */
  memcpy(buf, "hello", 5);
  assert_int_equal(mts_netstring_write(buf, sizeof(buf), buf, 5, &w), MTS_OK);
  assert_int_equal(w, 8);
  assert_memory_equal(buf, "5:hello,", 8);
}

/* write -> reader for lengths around each digit-count boundary. */
static void test_round_trip(void **state) {
  static const size_t lens[] = {0, 1, 9, 10, 99, 100, 999, 1000, 9999, 10000,
                                99999, 100000};
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  uint8_t *pay = malloc(100000);
  uint8_t *buf = malloc(100000 + MTS_NETSTRING_OVERHEAD_MAX);
  size_t i, j;

  (void)state;
  assert_non_null(pay);
  assert_non_null(buf);
  for (j = 0; j < 100000; j++) {
    pay[j] = (uint8_t)(j * 7 + 3);
  }
  for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
    struct mts_netstring_reader r;
    const uint8_t *p;
    size_t n, w;

    assert_int_equal(mts_netstring_write(buf,
                                         100000 + MTS_NETSTRING_OVERHEAD_MAX,
                                         pay, lens[i], &w),
                     MTS_OK);
    assert_int_equal(w, mts_netstring_framed_len(lens[i]));
    assert_int_equal(mts_netstring_reader_init(&r, ctx, lens[i]), MTS_OK);
    assert_int_equal(mts_netstring_reader_feed(&r, buf, w), w);
    assert_int_equal(mts_netstring_reader_next(&r, &p, &n),
                     MTS_NETSTRING_COMPLETE);
    assert_int_equal(n, lens[i]);
    if (n > 0) {
      assert_memory_equal(p, pay, n);
    }
    mts_netstring_reader_cleanup(&r);
  }
  free(pay);
  free(buf);
  mts_ctx_destroy(ctx);
}

/* init is the only allocation; every failure must be ENOMEM, no leak. */
static enum mts_status reader_op(struct mts_ctx *ctx, void *arg) {
  struct mts_netstring_reader r;
  const uint8_t *in = (const uint8_t *)"13:test good.loc,";
  const uint8_t *p;
  size_t n;
  enum mts_status st;

  (void)arg;
  st = mts_netstring_reader_init(&r, ctx, MTS_SOCKETMAP_REQUEST_MAX);
  if (st != MTS_OK) {
    assert_null(r.buf);
    mts_netstring_reader_cleanup(&r);
    return st;
  }
  assert_int_equal(mts_netstring_reader_feed(&r, in, 17), 17);
  assert_int_equal(mts_netstring_reader_next(&r, &p, &n),
                   MTS_NETSTRING_COMPLETE);
  assert_int_equal(n, 13);
  mts_netstring_reader_cleanup(&r);
  return MTS_OK;
}

static void test_alloc_sweep(void **state) {
  (void)state;
  assert_int_equal(mts_test_alloc_sweep(reader_op, NULL), 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reader_table),
      cmocka_unit_test(test_reader_limits),
      cmocka_unit_test(test_reader_contract),
      cmocka_unit_test(test_parse_overflow),
      cmocka_unit_test(test_write_table),
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_alloc_sweep),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
