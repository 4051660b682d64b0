/*
 * test_core.c - the context, arena, findings and status helpers.
 */
#include "testutil.h"

#include "core/arena_int.h"
#include "core/findings_int.h"

static void test_status_names(void **state) {
  (void)state;
  assert_string_equal(mts_status_name(MTS_OK), "OK");
  assert_string_equal(mts_status_name(MTS_ENOMEM), "ENOMEM");
  assert_string_equal(mts_status_str(MTS_ETIMEOUT), "timed out");
  assert_string_equal(mts_status_str(MTS_STATUS_MAX_), "unknown status");
  assert_string_equal(mts_severity_str(MTS_SEV_WARNING), "warning");
}

static void test_clock_injected(void **state) {
  struct mts_test_alloc a;
  struct mts_test_clock clk = {1000};
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);

  (void)state;
  mts_ctx_set_clock(ctx, mts_test_clock_fn, &clk);
  assert_int_equal(mts_ctx_now(ctx), 1000);
  clk.now += 86400;
  assert_int_equal(mts_ctx_now(ctx), 87400);
  mts_ctx_set_clock(ctx, NULL, NULL);
  assert_true(mts_ctx_now(ctx) > 1600000000);
  mts_ctx_destroy(ctx);
}

static enum mts_status arena_op(struct mts_ctx *ctx, void *arg) {
  struct mts_arena *ar = mts_arena_create(ctx);
  struct mts_findings f;
  enum mts_status st = MTS_OK;
  int i;

  (void)arg;
  if (ar == NULL) {
    return MTS_ENOMEM;
  }
  mts_findings_init(&f, ar);
  for (i = 0; i < 40 && st == MTS_OK; i++) {
    st = mts_findings_add(&f, "test-code", MTS_SEV_WARNING, (uint32_t)i, 1,
                          "finding %d", i);
  }
  if (st == MTS_OK && mts_arena_alloc(ar, 10000) == NULL) {
    st = MTS_ENOMEM;
  }
  if (st == MTS_OK) {
    assert_int_equal(mts_findings_count(&f), 40);
    assert_string_equal(mts_findings_get(&f, 39)->message, "finding 39");
    assert_null(mts_findings_get(&f, 40));
    assert_non_null(mts_findings_find(&f, "test-code"));
    assert_null(mts_findings_find(&f, "other"));
    assert_true(mts_findings_any(&f, MTS_SEV_WARNING));
    assert_false(mts_findings_any(&f, MTS_SEV_ERROR));
  }
  mts_findings_cleanup(&f);
  mts_arena_destroy(ar);
  return st;
}

static void test_arena_findings_alloc_sweep(void **state) {
  (void)state;
  assert_true(mts_test_alloc_sweep(arena_op, NULL) > 3);
}

/* A sized arena makes one chunk of the expected size: the object and
 * allocations up to the expectation cost no further malloc; one more
 * byte makes a regular chunk, and a large hint does not make every
 * later chunk large. */
static void test_arena_sized(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct mts_arena *ar = NULL;
  long base;
  char *o;

  (void)state;
  base = a.count;
  o = mts_arena_create_object_sized(ctx, 40, 48 + 64 + 96, &ar);
  assert_non_null(o);
  assert_non_null(ar);
  assert_int_equal(o[0] + o[39], 0); /* zeroed */
  assert_int_equal(a.count - base, 2); /* the arena, its first chunk */
  assert_non_null(mts_arena_alloc(ar, 64));
  assert_non_null(mts_arena_alloc(ar, 90)); /* rounded to 96 */
  assert_int_equal(a.count - base, 2);
  assert_non_null(mts_arena_alloc(ar, 1));
  assert_int_equal(a.count - base, 3);
  mts_arena_destroy(ar);

  /* A hint below the object's size still fits the object. */
  base = a.count;
  o = mts_arena_create_object_sized(ctx, 100, 8, &ar);
  assert_non_null(o);
  assert_int_equal(a.count - base, 2);
  mts_arena_destroy(ar);

  /* 64 KiB expected: one chunk for it; allocations beyond it get
   * regular (4 KiB) chunks, so 4 KiB more is one more chunk. */
  base = a.count;
  o = mts_arena_create_object_sized(ctx, 16, 65536, &ar);
  assert_non_null(o);
  assert_non_null(mts_arena_alloc(ar, 65536 - 16));
  assert_int_equal(a.count - base, 2);
  assert_non_null(mts_arena_alloc(ar, 100));
  assert_non_null(mts_arena_alloc(ar, 100));
  assert_int_equal(a.count - base, 3);
  mts_arena_destroy(ar);

  assert_int_equal(mts_arena_round(0), 16);
  assert_int_equal(mts_arena_round(17), 32);
  assert_int_equal(mts_arena_round(SIZE_MAX - 3), SIZE_MAX);
  mts_ctx_destroy(ctx);
}

static void test_escape(void **state) {
  char out[16];

  (void)state;
  assert_string_equal(
      mts_findings_escape((const uint8_t *)"a\0b\\", 4, out, sizeof(out)),
      "a\\x00b\\x5c");
  assert_string_equal(mts_findings_escape((const uint8_t *)"0123456789abcdefgh",
                                          18, out, sizeof(out)),
                      "0123456789ab...");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_status_names),
      cmocka_unit_test(test_clock_injected),
      cmocka_unit_test(test_arena_findings_alloc_sweep),
      cmocka_unit_test(test_arena_sized),
      cmocka_unit_test(test_escape),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
