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
 *
 * Callback contract (every store, docs/internals/cache.md):
 *  - a call that returns MTS_OK runs its callback exactly once, later,
 *    on the loop thread, never inside the call itself; a call that
 *    returns an error never runs it;
 *  - domains are matched ASCII case-insensitively (stored lower case);
 *    a domain that is not 1..253 octets of letters, digits, '-', '.',
 *    '_' is MTS_EINVAL;
 *  - records read back are checked like input (id, mode, max_age, body
 *    size); a damaged record is skipped with a log line and a get of it
 *    reports MTS_ENOTFOUND, so the caller re-fetches and overwrites it;
 *  - deleting an absent domain is MTS_OK;
 *  - calls made after mts_cache_destroy() (from a callback it runs)
 *    return MTS_ECANCELED.
 *
 * Thread safety: one loop thread uses a store (the SQLite store's worker
 * thread is internal and never touches the context). The Redis store
 * writes to sockets with write(2): the process must ignore SIGPIPE.
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
/* The store lost what was written to it and starts empty (see
 * mts_cache_on_reset()). */
typedef void (*mts_cache_reset_cb)(void *arg);

/*!
 * Open (creating if needed) an SQLite store at \p path: WAL journal, a
 * versioned schema, writes committed before their callback runs (so a
 * kill -9 loses no acknowledged record). Writes run on a worker thread;
 * the loop never waits on the disk.
 * The file is opened and checked here, synchronously (startup), inside
 * a write transaction, so an unwritable file or directory fails now
 * rather than at the first put.
 * \return MTS_OK; MTS_EIO with a logged reason when the file cannot be
 * opened or written, is not a database, belongs to another program
 * (PRAGMA application_id), or has a newer schema (PRAGMA user_version);
 * the file is then left untouched and the caller serves from memory.
 * MTS_EINVAL, MTS_ENOMEM.
 *
 * Once open, the file is watched (before every write and every 10 s):
 * a file removed, replaced by another, truncated or overwritten is not
 * noticed by SQLite itself, which keeps its own descriptor and cache,
 * until a restart finds nothing or garbage. When that happens the
 * connection is closed, a damaged file is renamed `<path>.damaged-<unix
 * time>` (with its -wal and -shm) for inspection, a new file is made at
 * \p path, and the reset callback (mts_cache_on_reset()) runs so that
 * the owner writes back what it holds. Until the new file is open,
 * calls fail with MTS_EUNAVAIL; the worker tries again every 10 s. An
 * SQLite result of "malformed" or "not a database" counts as damage.
 */
MTS_API MTS_WUR enum mts_status mts_cache_sqlite_create(struct mts_ctx *ctx,
                                                        uv_loop_t *loop,
                                                        const char *path,
                                                        struct mts_cache **out);

/*!
 * As mts_cache_sqlite_create(), for a daemon that must not depend on the
 * file: when it cannot be opened now (each reason logged as create logs
 * it: unwritable, a missing directory, a full disk, a world-writable,
 * foreign or newer file, not a database), the store is made anyway,
 * closed. Every call then fails at once with MTS_EUNAVAIL, and opening
 * is tried again after 10 s, the wait doubling up to 5 minutes; once it
 * opens, the reset callback runs (mts_cache_on_reset()), so the owner
 * loads and writes back. \return MTS_OK, MTS_EINVAL, MTS_ENOMEM,
 * MTS_EINTERNAL.
 */
MTS_API MTS_WUR enum mts_status mts_cache_sqlite_create_retrying(
    struct mts_ctx *ctx, uv_loop_t *loop, const char *path,
    struct mts_cache **out);

/*!
 * Connect to Redis at \p url (`redis://[:password@]host[:port][/db]` or
 * `unix:/path`), asynchronously with hiredis on \p loop. Keys are
 * `<prefix>policy:<domain>` hashes with a TTL derived from max_age.
 * Reconnects by itself (backoff 100 ms .. 10 s); while disconnected
 * every call fails at once with MTS_EUNAVAIL. Every command has a 1 s
 * deadline (MTS_ETIMEOUT, and the connection is dropped and re-made).
 * `redis://user:password@...` sends AUTH user password (Redis 6 ACL);
 * user and password are percent-decoded. \p prefix may be NULL ("");
 * at most 128 octets.
 * \return MTS_OK (even if Redis is not up yet), MTS_EINVAL for a
 * malformed URL or prefix, MTS_ENOMEM.
 */
MTS_API MTS_WUR enum mts_status mts_cache_redis_create(struct mts_ctx *ctx,
                                                       uv_loop_t *loop,
                                                       const char *url,
                                                       const char *prefix,
                                                       struct mts_cache **out);

/*! \return "sqlite" or "redis" ("none" for NULL). */
MTS_API const char *mts_cache_name(const struct mts_cache *c);

/*!
 * Ask to be told, on the loop thread, when \p c has lost every record
 * written to it before, or holds other ones: the SQLite store's file was
 * removed, replaced or damaged and a new one was made, or a store
 * created closed opened at last; a Redis server came back without its
 * keys (its `<prefix>epoch` token changed). \p cb then loads what the
 * store holds and writes back what it holds itself. One callback per
 * store; \p cb NULL removes it (do so before \p arg goes away). NULL
 * \p c is a no-op.
 */
MTS_API void mts_cache_on_reset(struct mts_cache *c, mts_cache_reset_cb cb,
                                void *arg);

/*! Look up \p domain; \p cb is required. \return MTS_OK (\p cb will
 *  run), MTS_EINVAL, MTS_ENOMEM, or MTS_ECANCELED. */
MTS_API MTS_WUR enum mts_status mts_cache_get(struct mts_cache *c,
                                              const char *domain,
                                              mts_cache_get_cb cb, void *arg);
/*! Store \p rec (checked, then copied before return; MTS_EINVAL for a
 *  malformed record: bad domain, id or mode, max_age outside
 *  0..MTS_STS_MAX_AGE_MAX, body over MTS_POLICY_MAX_SIZE). Replaces
 *  the whole record. \p cb may be NULL. */
MTS_API MTS_WUR enum mts_status mts_cache_put(struct mts_cache *c,
                                              const struct mts_cache_record *rec,
                                              mts_cache_done_cb cb, void *arg);
/*! Remove \p domain (absent is MTS_OK). \p cb may be NULL. */
MTS_API MTS_WUR enum mts_status mts_cache_del(struct mts_cache *c,
                                              const char *domain,
                                              mts_cache_done_cb cb, void *arg);
/*! Visit every record (startup load, `mtasts cache list`), SQLite in
 *  domain order, Redis in SCAN order (a record written during the scan
 *  may or may not be seen). \p each is required, \p done may be NULL;
 *  \p done runs once at the end (MTS_OK also when \p each stopped it). */
MTS_API MTS_WUR enum mts_status mts_cache_scan(struct mts_cache *c,
                                               mts_cache_each_cb each,
                                               mts_cache_done_cb done,
                                               void *arg);
/*!
 * Destroy \p c. Every pending callback has run once when it returns:
 * SQLite finishes the queued writes (their callbacks get the real
 * result, MTS_OK once committed) and cancels queued reads; Redis drops
 * everything with MTS_ECANCELED. Then handles close: run the loop
 * afterwards so they finish closing, before destroying the context.
 * May be called from inside one of the store's callbacks. NULL is a
 * no-op.
 */
MTS_API void mts_cache_destroy(struct mts_cache *c);

#ifdef __cplusplus
}
#endif
#endif /* MTASTS_CACHE_H */
