/*
 * test_strbuf.c - the growable byte buffer of core/strbuf_int.h.
 */
#include "testutil.h"

#include "core/strbuf_int.h"

/* One append of a table row: a string, or bytes with their length. */
struct step {
  const char *s;
  size_t n; /* 0: strlen(s) through mts_strbuf_str() */
};

struct append_case {
  const char *name;
  size_t first;
  struct step steps[6];
  const char *want;
  size_t wantlen;
};

/* First capacities of 1 and 3 force a reallocation on nearly every
 * append; 0 is the default. */
static const struct append_case append_cases[] = {
    {"one byte first",
     1,
     {{"ab", 0}, {"cdefgh", 0}, {"", 0}, {"i", 0}},
     "abcdefghi",
     9},
    {"three bytes first",
     3,
     {{"hello", 0}, {", ", 0}, {"world", 0}, {"!!", 1}},
     "hello, world!",
     13},
    {"default first", 0, {{"x", 0}}, "x", 1},
    {"embedded NULs", 2, {{"a\0b", 3}, {"c", 0}, {"\0", 1}}, "a\0bc\0", 5},
    {"nothing appended but an empty string", 4, {{"", 0}}, "", 0},
};

static void test_append_table(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  size_t i, k;

  (void)state;
  for (i = 0; i < sizeof(append_cases) / sizeof(append_cases[0]); i++) {
    const struct append_case *c = &append_cases[i];
    struct mts_strbuf b;
    char *out = NULL;
    size_t len = 0;

    mts_strbuf_init(&b, ctx, c->first, MTS_STRBUF_NOMAX);
    for (k = 0; k < 6 && c->steps[k].s != NULL; k++) {
      if (c->steps[k].n > 0) {
        mts_strbuf_put(&b, c->steps[k].s, c->steps[k].n);
      } else {
        mts_strbuf_str(&b, c->steps[k].s);
      }
      /* the NUL is always there, and there is room for it */
      assert_non_null(b.p);
      assert_true(b.len <= b.cap);
      assert_int_equal(b.p[b.len], '\0');
    }
    assert_int_equal(mts_strbuf_status(&b), MTS_OK);
    assert_int_equal(b.len, c->wantlen);
    assert_memory_equal(b.p, c->want, c->wantlen);
    assert_int_equal(mts_strbuf_take(&b, &out, &len), MTS_OK);
    assert_non_null(out);
    assert_int_equal(len, c->wantlen);
    assert_memory_equal(out, c->want, c->wantlen + 1);
    assert_null(b.p); /* handed over: b is empty again */
    assert_int_equal(b.len, 0);
    mts_free(ctx, out);
    mts_strbuf_cleanup(&b);
  }
  mts_ctx_destroy(ctx);
}

/* Longer than any temporary a formatter might use (the copies this
 * replaced had 512 and 1024 bytes). */
static void test_printf_long(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct mts_strbuf b;
  char *big = test_malloc(5001);
  size_t i;

  (void)state;
  for (i = 0; i < 5000; i++) {
    big[i] = (char)('a' + i % 26);
  }
  big[5000] = '\0';
  mts_strbuf_init(&b, ctx, 16, MTS_STRBUF_NOMAX);
  mts_strbuf_str(&b, "<");
  mts_strbuf_printf(&b, "%s|%d|%zu", big, -42, (size_t)7);
  mts_strbuf_printf(&b, "%s", "");
  mts_strbuf_str(&b, ">");
  assert_int_equal(mts_strbuf_status(&b), MTS_OK);
  assert_int_equal(b.len, 1 + 5000 + strlen("|-42|7") + 1);
  assert_int_equal(b.p[0], '<');
  assert_memory_equal(b.p + 1, big, 5000);
  assert_string_equal(b.p + 5001, "|-42|7>");
  mts_strbuf_cleanup(&b);
  test_free(big);
  mts_ctx_destroy(ctx);
}

static void test_take_and_cleanup(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct mts_strbuf b;
  char *out = NULL;
  size_t len = 99;

  (void)state;
  /* nothing appended: "" all the same */
  mts_strbuf_init(&b, ctx, 8, MTS_STRBUF_NOMAX);
  assert_null(b.p);
  assert_int_equal(mts_strbuf_take(&b, &out, &len), MTS_OK);
  assert_string_equal(out, "");
  assert_int_equal(len, 0);
  mts_free(ctx, out);
  /* reusable after take; len may be NULL */
  mts_strbuf_str(&b, "again");
  assert_int_equal(mts_strbuf_take(&b, &out, NULL), MTS_OK);
  assert_string_equal(out, "again");
  mts_free(ctx, out);
  /* cleanup frees, twice is harmless, and the buffer is usable after */
  mts_strbuf_str(&b, "dropped");
  mts_strbuf_cleanup(&b);
  mts_strbuf_cleanup(&b);
  assert_null(b.p);
  mts_strbuf_str(&b, "kept");
  assert_string_equal(b.p, "kept");
  mts_strbuf_cleanup(&b);
  mts_ctx_destroy(ctx); /* cmocka: nothing leaked */
}

/* reserve/added for callers that write in place, and truncate. */
static void test_reserve_in_place(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct mts_strbuf b;

  (void)state;
  mts_strbuf_init(&b, ctx, 4, MTS_STRBUF_NOMAX);
  assert_true(mts_strbuf_reserve(&b, 0)); /* allocates the first */
  assert_non_null(b.p);
  assert_int_equal(b.cap, 4);
  assert_true(mts_strbuf_reserve(&b, 10));
  assert_int_equal(b.cap, 16); /* doubled until it fits */
  memcpy(b.p, "0123456789", 10);
  mts_strbuf_added(&b, 10);
  assert_string_equal(b.p, "0123456789");
  mts_strbuf_truncate(&b, 4);
  assert_string_equal(b.p, "0123");
  mts_strbuf_truncate(&b, 40); /* never longer */
  assert_int_equal(b.len, 4);
  mts_strbuf_cleanup(&b);
  mts_ctx_destroy(ctx);
}

/* A maximum bounds the capacity and fails appends past it, stickily. */
static void test_max(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct mts_strbuf b;
  char dummy[] = "x";
  char *out = dummy;
  size_t len = 1;

  (void)state;
  mts_strbuf_init(&b, ctx, 4, 10);
  mts_strbuf_put(&b, "123456789", 9);
  assert_int_equal(b.cap, 10); /* 4, 8, then the maximum, not 16 */
  mts_strbuf_put(&b, "0", 1);
  assert_int_equal(mts_strbuf_status(&b), MTS_OK);
  assert_false(mts_strbuf_reserve(&b, 1));
  assert_true(b.toobig);
  assert_false(b.oom);
  mts_strbuf_str(&b, ""); /* ignored, like everything after a failure */
  mts_strbuf_printf(&b, "%d", 1);
  assert_int_equal(b.len, 10);
  assert_int_equal(mts_strbuf_status(&b), MTS_ETOOBIG);
  assert_int_equal(mts_strbuf_take(&b, &out, &len), MTS_ETOOBIG);
  assert_null(out);
  assert_int_equal(len, 0);
  assert_null(b.p);
  mts_ctx_destroy(ctx);
}

/* Growth from one byte through several doublings, formatted appends
 * and a take: every allocation failure must surface as MTS_ENOMEM. */
static enum mts_status grow_op(struct mts_ctx *ctx, void *arg) {
  struct mts_strbuf b;
  char *out = NULL;
  size_t len = 0, i;
  enum mts_status st;

  (void)arg;
  mts_strbuf_init(&b, ctx, 1, MTS_STRBUF_NOMAX);
  for (i = 0; i < 20; i++) {
    mts_strbuf_printf(&b, "line %zu: %s\n", i, "0123456789abcdef");
    mts_strbuf_put(&b, "\0", 1);
  }
  if (b.oom) {
    /* sticky: later appends do nothing, and the status says so */
    size_t was = b.len;

    mts_strbuf_str(&b, "more");
    assert_int_equal(b.len, was);
    assert_int_equal(mts_strbuf_status(&b), MTS_ENOMEM);
  }
  st = mts_strbuf_take(&b, &out, &len);
  if (st != MTS_OK) {
    assert_null(out);
    assert_null(b.p);
    return st;
  }
  assert_int_equal(len, 20 * (strlen("line 0: 0123456789abcdef\n") + 1) + 10);
  assert_memory_equal(out + len - 27, "line 19: 0123456789abcdef\n\0", 27);
  mts_free(ctx, out);
  return MTS_OK;
}

/* take of a buffer that never allocated must allocate "": that can
 * fail too. */
static enum mts_status empty_take_op(struct mts_ctx *ctx, void *arg) {
  struct mts_strbuf b;
  char *out = NULL;
  enum mts_status st;

  (void)arg;
  mts_strbuf_init(&b, ctx, 0, MTS_STRBUF_NOMAX);
  st = mts_strbuf_take(&b, &out, NULL);
  if (st == MTS_OK) {
    assert_string_equal(out, "");
    mts_free(ctx, out);
  }
  return st;
}

static void test_alloc_sweep(void **state) {
  (void)state;
  assert_true(mts_test_alloc_sweep(grow_op, NULL) > 5);
  assert_int_equal(mts_test_alloc_sweep(empty_take_op, NULL), 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_append_table),
      cmocka_unit_test(test_printf_long),
      cmocka_unit_test(test_take_and_cleanup),
      cmocka_unit_test(test_reserve_in_place),
      cmocka_unit_test(test_max),
      cmocka_unit_test(test_alloc_sweep),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
