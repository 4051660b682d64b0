/*
 * testutil.h - shared helpers for the cmocka unit tests.
 *
 * - A context whose allocator is cmocka's (so every test checks for
 *   leaks) and which can be told to fail the Nth allocation.
 * - mts_test_alloc_sweep(): run an operation with allocation N failing,
 *   for N = 1, 2, ... until it succeeds without hitting the failure; it
 *   must return MTS_ENOMEM (never crash, never leak) each time it fails
 *   (curl's torture tests, c-ares SetAllocFail).
 * - A settable fake clock.
 * - mts_test_ms(): a time budget stretched by MTS_TEST_TIME_SCALE.
 */
#ifndef MTS_TESTUTIL_H
#define MTS_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <mtasts/mtasts.h>

struct mts_test_alloc {
  long fail_at; /* 1-based allocation index to fail; 0: never */
  long count;   /* allocations so far */
  bool failed;  /* the failure was injected */
};

static inline void *mts_test_malloc_(size_t n, void *arg) {
  struct mts_test_alloc *a = arg;

  if (++a->count == a->fail_at) {
    a->failed = true;
    return NULL;
  }
  return test_malloc(n);
}

static inline void *mts_test_realloc_(void *p, size_t n, void *arg) {
  struct mts_test_alloc *a = arg;

  if (++a->count == a->fail_at) {
    a->failed = true;
    return NULL;
  }
  return test_realloc(p, n);
}

static inline void mts_test_free_(void *p, void *arg) {
  (void)arg;
  test_free(p);
}

/* A context on cmocka's allocator; fail_at 0 never fails. */
static inline struct mts_ctx *mts_test_ctx(struct mts_test_alloc *a,
                                           long fail_at) {
  struct mts_allocator al = {mts_test_malloc_, mts_test_realloc_,
                             mts_test_free_, a};
  struct mts_ctx *ctx = NULL;

  a->fail_at = 0; /* the context itself never fails */
  a->count = 0;
  a->failed = false;
  assert_int_equal(mts_ctx_create(&al, &ctx), MTS_OK);
  a->count = 0;
  a->fail_at = fail_at;
  return ctx;
}

/* The operation under test: returns its status; must free what it made. */
typedef enum mts_status (*mts_test_op)(struct mts_ctx *ctx, void *arg);

/* Run \p op with allocation 1, 2, ... failing until it completes with no
 * failure injected. Every injected failure must surface as MTS_ENOMEM.
 * \return the number of allocations the successful run made. */
static inline long mts_test_alloc_sweep(mts_test_op op, void *arg) {
  struct mts_test_alloc a;
  long n;

  for (n = 1; n < 100000; n++) {
    struct mts_ctx *ctx = mts_test_ctx(&a, n);
    enum mts_status st = op(ctx, arg);

    mts_ctx_destroy(ctx);
    if (!a.failed) {
      assert_int_equal(st, MTS_OK);
      return a.count;
    }
    if (st != MTS_ENOMEM) {
      fail_msg("allocation %ld failed: got status %s, want ENOMEM", n,
               mts_status_name(st));
    }
  }
  fail_msg("allocation sweep did not finish");
  return -1;
}

/* A fake clock for the context: set `now` and pass &clock. */
struct mts_test_clock {
  int64_t now;
};

static inline int64_t mts_test_clock_fn(void *arg) {
  return ((struct mts_test_clock *)arg)->now;
}

/* Remove an SQLite database and its WAL and shared-memory files. */
static inline void mts_test_rm_db(const char *path) {
  char p[4096];

  (void)unlink(path);
  (void)snprintf(p, sizeof(p), "%s-wal", path);
  (void)unlink(p);
  (void)snprintf(p, sizeof(p), "%s-shm", path);
  (void)unlink(p);
}

/* MTS_TEST_TIME_SCALE: a whole number 1..100, anything else (or unset) is
 * 1. Under valgrind the programs run 10-50 times slower, and budgets
 * measured for a native run (a 600 ms DNS timeout against an in-process
 * server) are not met; scripts/valgrind-suite sets it. Read on each call:
 * no state kept between tests. */
static inline uint32_t mts_test_time_scale(void) {
  const char *s = getenv("MTS_TEST_TIME_SCALE");
  uint32_t v = 0;

  if (s == NULL || *s == '\0') {
    return 1;
  }
  for (; *s != '\0'; s++) {
    if (*s < '0' || *s > '9') {
      return 1;
    }
    v = v * 10 + (uint32_t)(*s - '0');
    if (v > 100) {
      return 1;
    }
  }
  return v == 0 ? 1 : v;
}

/* \p ms times the scale: for every budget a test gives work to finish
 * (DNS and HTTP timeouts handed to the library, loop guards, "answered
 * within" waits). A timeout that must fire still fires, later. With the
 * variable unset, exactly \p ms. */
static inline uint32_t mts_test_ms(uint32_t ms) {
  uint32_t k = mts_test_time_scale();

  return ms > UINT32_MAX / k ? UINT32_MAX : ms * k;
}

/* Build an RRset from NULL-terminated groups: each RR is given as an
 * array of C strings ending with NULL; rrs ends with NULL. Strings
 * cannot contain NUL here; use mts_txt_rrset_add_string for that. */
static inline struct mts_txt_rrset *mts_test_rrset(struct mts_ctx *ctx,
                                                   const char *const *const *rrs) {
  struct mts_txt_rrset *set = NULL;
  size_t i, j;

  assert_int_equal(mts_txt_rrset_create(ctx, &set), MTS_OK);
  for (i = 0; rrs[i] != NULL; i++) {
    assert_int_equal(mts_txt_rrset_add_rr(set), MTS_OK);
    for (j = 0; rrs[i][j] != NULL; j++) {
      assert_int_equal(mts_txt_rrset_add_string(set, (const uint8_t *)rrs[i][j],
                                                strlen(rrs[i][j])),
                       MTS_OK);
    }
  }
  return set;
}

#endif /* MTS_TESTUTIL_H */
