/*
 * shared.h - mtasts-tlsrptd's shared Redis store for a fleet of MTA
 * hosts reporting as one organisation (config `shared:`; issue 6;
 * docs/decisions.md "TLS reports: a fleet sharing Redis").
 *
 * Keys (P = shared.prefix, D = YYYY-MM-DD, R = report domain):
 *  - P day:D:R    hash: host name -> that host's own report JSON for
 *                 (D, R), rewritten every hour and before a send; EXPIRE
 *                 TLSRPTD_SHARED_TTL_S;
 *  - P lock:D:R   the host that sends (D, R): SET NX EX 172800;
 *  - P final:D:R  the merged report JSON the lock holder sends, written
 *                 once at its first attempt so every rua and every retry
 *                 gets the same bytes; EX 172800.
 *
 * Every call here blocks (hiredis' synchronous API, connect and command
 * timeouts): call it from a worker thread, never from the event loop
 * (mts-tlsrptd runs them on its delivery worker). Nothing here touches
 * global state; one connection per call sequence.
 */
#ifndef TLSRPTD_SHARED_H
#define TLSRPTD_SHARED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mtasts/mtasts.h>

#define TLSRPTD_SHARED_TTL_S (4 * 86400)
#define TLSRPTD_SHARED_LOCK_S 172800
#define TLSRPTD_SHARED_PREFIX_DEFAULT "mtasts-tlsrpt:"

/* `redis://[[user]:password@]host[:port][/db]` or `unix:/path`
 * (`unix:///path`). No percent-decoding: a password with '@' or '/'
 * cannot be given. */
struct tlsrptd_redis_url {
  char unix_path[256]; /* "" for TCP */
  char host[256];
  int port; /* 6379 */
  long db;  /* 0: no SELECT */
  char user[128];
  char password[256]; /* "": no AUTH */
};

/*! \return 0, or -1 with a message in \p err. */
int tlsrptd_redis_url_parse(const char *url, struct tlsrptd_redis_url *u,
                            char *err, size_t errsize);

struct tlsrptd_shared_opts {
  const struct tlsrptd_redis_url *url;
  const char *prefix;
  uint32_t timeout_ms; /* connect and each command */
  const char *host;    /* this host: the hash field and the lock value */
};

/* One (day, domain) report of this host, for a push. */
struct tlsrptd_shared_item {
  int64_t day;
  char domain[256];
  char *json; /* malloc */
  size_t len;
};

/*! HSET + EXPIRE every item. \return MTS_OK; MTS_EUNAVAIL (cannot
 *  connect, a command failed: message in \p err). */
enum mts_status tlsrptd_shared_push(const struct tlsrptd_shared_opts *o,
                                    const struct tlsrptd_shared_item *items,
                                    size_t n, char *err, size_t errsize);

/* What tlsrptd_shared_prepare decided. */
struct tlsrptd_shared_result {
  bool ours;        /* we hold the lock: send final_json */
  char owner[256];  /* else: the host that holds it */
  char *final_json; /* malloc, when ours */
  size_t final_len;
  size_t nhosts; /* reports merged (when built now) */
  size_t nbad;   /* host reports skipped: unparsable, other day */
  bool reused;   /* final_json was already in Redis */
};

/*!
 * Before sending (\p day, \p domain): push this host's \p own JSON, take
 * the lock (SET NX EX; a lock that holds our name is ours), and when
 * ours hand out the final report: the stored one, or built now from
 * every host's report (own first, then by host name) merged with
 * mts_rpt_merge, the identity set from \p ovr, and stored.
 * \return MTS_OK (see \p r); MTS_EUNAVAIL (Redis: message in \p err);
 * MTS_EINVAL (own JSON unusable, or the merged report cannot be
 * written); MTS_ENOMEM.
 */
enum mts_status tlsrptd_shared_prepare(const struct tlsrptd_shared_opts *o,
                                       struct mts_ctx *ctx, int64_t day,
                                       const char *domain, const char *own,
                                       size_t own_len,
                                       const struct mts_rpt_merge_override *ovr,
                                       struct tlsrptd_shared_result *r,
                                       char *err, size_t errsize);

#endif /* TLSRPTD_SHARED_H */
