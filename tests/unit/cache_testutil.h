/*
 * cache_testutil.h - helpers shared by test_cache_sqlite.c and
 * test_cache_redis.c: a captured log, bounded loop runs, a temp dir,
 * and a record builder.
 */
#ifndef MTS_CACHE_TESTUTIL_H
#define MTS_CACHE_TESTUTIL_H

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "testutil.h"

#include <mtasts/cache.h>

/* ---- a log sink that keeps the last lines ---- */
struct tlog {
  char text[8192];
  size_t len;
};

static inline void tlog_fn(void *arg, enum mts_log_level level,
                           const char *msg) {
  struct tlog *l = arg;
  size_t n = strlen(msg);

  (void)level;
  if (l->len + n + 2 > sizeof(l->text)) {
    l->len = 0; /* keep the latest lines */
  }
  memcpy(l->text + l->len, msg, n);
  l->len += n;
  l->text[l->len++] = '\n';
  l->text[l->len] = '\0';
}

static inline bool tlog_has(const struct tlog *l, const char *s) {
  return l->len > 0 && strstr(l->text, s) != NULL;
}

/* ---- monotonic milliseconds ---- */
static inline uint64_t tnow_ms(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- run the loop until *flag is true or ms pass ---- */
static inline void tdummy_timer_cb(uv_timer_t *t) { (void)t; }

static inline bool trun_until(uv_loop_t *loop, const bool *flag,
                              uint64_t ms) {
  uv_timer_t t;
  uint64_t end = tnow_ms() + ms;

  uv_timer_init(loop, &t);
  /* A referenced ticking timer, so UV_RUN_ONCE never blocks for long. */
  uv_timer_start(&t, tdummy_timer_cb, 10, 10);
  while (!*flag && tnow_ms() < end) {
    uv_run(loop, UV_RUN_ONCE);
  }
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
  return *flag;
}

/* Run until every handle is closed (after destroy), bounded. */
static inline void trun_close(uv_loop_t *loop) {
  int i;

  for (i = 0; i < 1000 && uv_run(loop, UV_RUN_NOWAIT) != 0; i++) {
    struct timespec ts = {0, 1000000};

    nanosleep(&ts, NULL);
  }
  uv_run(loop, UV_RUN_NOWAIT);
}

/* ---- temp dir ---- */
static inline void ttmpdir(char *buf, size_t n) {
  snprintf(buf, n, "/tmp/mts-cache-test-XXXXXX");
  assert_non_null(mkdtemp(buf));
}

static inline void trmtree(const char *dir) {
  char cmd[600];

  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

/* ---- records ---- */
static inline struct mts_cache_record trec(const char *domain, const char *id,
                                           enum mts_sts_mode mode,
                                           int64_t max_age,
                                           int64_t fetched_at,
                                           const char *body) {
  struct mts_cache_record r;

  memset(&r, 0, sizeof(r));
  mts_sts_entry_init(&r.entry);
  r.domain = domain;
  r.entry.has_policy = id[0] != '\0';
  snprintf(r.entry.id, sizeof(r.entry.id), "%s", id);
  r.entry.mode = mode;
  r.entry.max_age = max_age;
  r.entry.fetched_at = fetched_at;
  r.body = (const uint8_t *)body;
  r.body_len = body != NULL ? strlen(body) : 0;
  r.updated_at = fetched_at;
  return r;
}

/* ---- callback recorders ---- */
struct tget {
  bool done;
  bool in_call; /* set by the test around the call that started it */
  bool reentrant;
  int calls;
  enum mts_status st;
  struct mts_sts_entry entry;
  char domain[MTS_DOMAIN_MAX + 1];
  uint8_t body[MTS_POLICY_MAX_SIZE];
  size_t body_len;
  bool has_body;
  int64_t updated_at;
};

static inline void tget_cb(void *arg, enum mts_status st,
                           const struct mts_cache_record *rec) {
  struct tget *g = arg;

  g->calls++;
  g->reentrant |= g->in_call;
  g->st = st;
  if (st == MTS_OK) {
    assert_non_null(rec);
    g->entry = rec->entry;
    snprintf(g->domain, sizeof(g->domain), "%s", rec->domain);
    g->has_body = rec->body != NULL;
    g->body_len = rec->body_len;
    if (rec->body_len > 0) {
      memcpy(g->body, rec->body, rec->body_len);
    }
    g->updated_at = rec->updated_at;
  } else {
    assert_null(rec);
  }
  g->done = true;
}

struct tdone {
  bool done;
  bool in_call;
  bool reentrant;
  int calls;
  enum mts_status st;
};

static inline void tdone_cb(void *arg, enum mts_status st) {
  struct tdone *d = arg;

  d->calls++;
  d->reentrant |= d->in_call;
  d->st = st;
  d->done = true;
}

#endif /* MTS_CACHE_TESTUTIL_H */
