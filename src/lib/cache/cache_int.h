/*
 * cache_int.h - the store ops table and the base every backend embeds.
 * Internal.
 *
 * cache.c validates and normalises the arguments of the public calls
 * (the domain is lower-cased, a record is checked with
 * mts_cache_record_check()) and then dispatches through the ops table of
 * the store; a backend therefore sees only well-formed input. Backends
 * (cache_sqlite.c, cache_redis.c) define one `static const struct
 * mts_cache_ops` each, with designated initializers, and put a `struct
 * mts_cache` first in their own struct.
 *
 * Contract every backend keeps (docs/internals/cache.md):
 *  - an op that returns MTS_OK calls its callback exactly once, later,
 *    on the loop thread, never inside the call that started it;
 *  - an op that returns an error never calls its callback;
 *  - destroy runs the callbacks of every op still pending before it
 *    returns (SQLite: with the real result of each write; gets and scans
 *    MTS_ECANCELED. Redis: MTS_ECANCELED), then closes its handles; the
 *    memory goes away once the loop has run the close callbacks.
 */
#ifndef MTS_CACHE_INT_H
#define MTS_CACHE_INT_H

#include <mtasts/cache.h>

struct mts_cache_ops {
  const char *name;
  /* \p domain is valid and lower case, NUL-terminated. */
  enum mts_status (*get)(struct mts_cache *c, const char *domain,
                         mts_cache_get_cb cb, void *arg);
  /* \p rec passed mts_cache_record_check(); copy what is kept. */
  enum mts_status (*put)(struct mts_cache *c,
                         const struct mts_cache_record *rec,
                         mts_cache_done_cb cb, void *arg);
  enum mts_status (*del)(struct mts_cache *c, const char *domain,
                         mts_cache_done_cb cb, void *arg);
  enum mts_status (*scan)(struct mts_cache *c, mts_cache_each_cb each,
                          mts_cache_done_cb done, void *arg);
  void (*destroy)(struct mts_cache *c);
};

struct mts_cache {
  const struct mts_cache_ops *ops;
  struct mts_ctx *ctx;
  uv_loop_t *loop;
  mts_cache_reset_cb reset_cb; /* mts_cache_on_reset() */
  void *reset_arg;
};

#endif /* MTS_CACHE_INT_H */
