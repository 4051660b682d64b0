/*
 * mtasts/cache.h - persistent and shared stores for cached policies.
 *
 * The sender keeps its working set in memory (see sts_resolver.h); a
 * store makes it survive restarts (SQLite, the embedded default) or
 * shares it across a fleet of MTAs (Redis). Every store is an ops table
 * behind this one interface, one file per backend (cache_sqlite.c,
 * cache_redis.c), all asynchronous on the caller's libuv loop: a store
 * never blocks the loop for network I/O, and a store that is down makes
 * its calls fail fast (MTS_EUNAVAIL) so the caller keeps serving from
 * memory.
 *
 * A record is the state-machine entry (sts_state.h) plus the raw policy
 * body as fetched; the body is re-parsed when loaded, so a store never
 * needs to know the policy format.
 */
#ifndef MTASTS_CACHE_H
#define MTASTS_CACHE_H

#include <uv.h>

#include <mtasts/common.h>
#include <mtasts/limits.h>
#include <mtasts/sts_state.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One cached domain. In callbacks every pointer is borrowed for the
 * duration of the callback. */
struct mts_cache_record {
  const char *domain;     /* A-label Policy Domain, lower case */
  struct mts_sts_entry entry;
  const uint8_t *body;    /* raw policy body, NULL when none is cached */
  size_t body_len;
  int64_t updated_at;     /* when the record was written (seconds) */
};

struct mts_cache;

/* Completion of a get: MTS_OK with \p rec, MTS_ENOTFOUND, MTS_EUNAVAIL
 * (store down), MTS_ECANCELED (store destroyed), or another error. */
typedef void (*mts_cache_get_cb)(void *arg, enum mts_status st,
                                 const struct mts_cache_record *rec);
/* Completion of a put, del or scan. */
typedef void (*mts_cache_done_cb)(void *arg, enum mts_status st);
/* One record of a scan. Return false to stop the scan early. */
typedef bool (*mts_cache_each_cb)(void *arg, const struct mts_cache_record *rec);

/*!
 * Open (creating if needed) an SQLite store at \p path: WAL journal, a
 * versioned schema, writes committed before their callback runs (so a
 * kill -9 loses no acknowledged record). Writes run on a worker thread;
 * the loop never waits on the disk.
 * \return MTS_OK; MTS_EIO with a logged reason when the file cannot be
 * opened, is not a database, or has a newer schema.
 */
MTS_API MTS_WUR enum mts_status mts_cache_sqlite_create(struct mts_ctx *ctx,
                                                        uv_loop_t *loop,
                                                        const char *path,
                                                        struct mts_cache **out);

/*!
 * Connect to Redis at \p url (`redis://[:password@]host[:port][/db]` or
 * `unix:/path`), asynchronously with hiredis on \p loop. Keys are
 * `<prefix>policy:<domain>` hashes with a TTL derived from max_age.
 * Reconnects by itself; while disconnected every call fails at once
 * with MTS_EUNAVAIL. \return MTS_OK (even if Redis is not up yet),
 * MTS_EINVAL for a malformed URL, MTS_ENOMEM.
 */
MTS_API MTS_WUR enum mts_status mts_cache_redis_create(struct mts_ctx *ctx,
                                                       uv_loop_t *loop,
                                                       const char *url,
                                                       const char *prefix,
                                                       struct mts_cache **out);

/*! \return "sqlite" or "redis". */
MTS_API const char *mts_cache_name(const struct mts_cache *c);

MTS_API MTS_WUR enum mts_status mts_cache_get(struct mts_cache *c,
                                              const char *domain,
                                              mts_cache_get_cb cb, void *arg);
/*! Store \p rec (copied before return). \p cb may be NULL. */
MTS_API MTS_WUR enum mts_status mts_cache_put(struct mts_cache *c,
                                              const struct mts_cache_record *rec,
                                              mts_cache_done_cb cb, void *arg);
MTS_API MTS_WUR enum mts_status mts_cache_del(struct mts_cache *c,
                                              const char *domain,
                                              mts_cache_done_cb cb, void *arg);
/*! Visit every record (startup load, `mtasts cache list`). */
MTS_API MTS_WUR enum mts_status mts_cache_scan(struct mts_cache *c,
                                               mts_cache_each_cb each,
                                               mts_cache_done_cb done,
                                               void *arg);
/*!
 * Destroy \p c: pending writes are finished (SQLite) or dropped after
 * their callbacks run with MTS_ECANCELED (Redis); then handles close.
 * Run the loop afterwards so they finish closing. NULL is a no-op.
 */
MTS_API void mts_cache_destroy(struct mts_cache *c);

#ifdef __cplusplus
}
#endif
#endif /* MTASTS_CACHE_H */
