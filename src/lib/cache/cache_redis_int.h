/*
 * cache_redis_int.h - the Redis URL parser of cache_redis.c, exposed for
 * its table test. Internal.
 */
#ifndef MTS_CACHE_REDIS_INT_H
#define MTS_CACHE_REDIS_INT_H

#include "core/ctx_int.h"

/* A parsed store URL. Strings are owned (mts_free each). */
struct mts_cache_redis_url {
  char *unix_path; /* unix:/path; host is NULL then */
  char *host;      /* redis://host; IPv6 without brackets */
  int port;        /* default 6379 */
  char *user;      /* NULL: AUTH with the password alone */
  char *password;  /* NULL: no AUTH */
  long db;         /* 0: no SELECT */
};

/*!
 * Parse `redis://[[user]:password@]host[:port][/db]` (IPv6 host in
 * brackets; user and password percent-decoded) or `unix:/path`.
 * \return MTS_OK, MTS_EINVAL (malformed), MTS_ENOMEM; on failure \p u is
 * left empty.
 */
enum mts_status mts_cache_redis_url_parse(struct mts_ctx *ctx, const char *url,
                                          struct mts_cache_redis_url *u);
void mts_cache_redis_url_cleanup(struct mts_ctx *ctx,
                                 struct mts_cache_redis_url *u);

#endif /* MTS_CACHE_REDIS_INT_H */
