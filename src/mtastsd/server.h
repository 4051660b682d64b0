/*
 * server.h - mtastsd's socketmap server: listeners (TCP, UNIX) and
 * connections on one libuv loop.
 *
 * Per connection (STYLE.md 10, sized to Postfix's client, POSTFIX-NOTES
 * "Client defaults"):
 *  - a netstring reader capped at MTS_SOCKETMAP_REQUEST_MAX; a malformed
 *    netstring is logged (peer, reason) and closes that connection only;
 *  - pipelining: requests are handed to the handler as they arrive and
 *    the replies are written strictly in request order, whatever order
 *    the lookups finish in (a FIFO of pending replies);
 *  - back-pressure: at most max_pending requests outstanding and at most
 *    write_hiwat bytes queued for writing; beyond either, reading stops
 *    until they drain;
 *  - an idle timeout: a connection with nothing pending and no input for
 *    idle_ms is closed (Postfix closes its side after 10 s idle);
 *  - a cap on connections: beyond max_conns a new connection is accepted
 *    and closed at once.
 * A well-framed request that is not "<name> <key>" gets "PERM ..." and
 * the connection stays open (docs/decisions.md AN-7).
 *
 * Ownership: the server owns its listeners and connections. A request
 * (struct mtastsd_req) is owned by the server; the handler answers it
 * once with mtastsd_req_reply(), or is told through its cancel callback
 * that the connection went away (then it must not answer).
 *
 * Not thread-safe; everything runs on the loop thread.
 */
#ifndef MTASTSD_SERVER_H
#define MTASTSD_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <uv.h>

#include <mtasts/socketmap.h>

#include "log.h"

/* Defaults (see the header comment for what each bounds). */
#define MTASTSD_MAX_CONNS 10000
/* The peer's QUEUE_LIMIT: outstanding requests per connection. */
#define MTASTSD_MAX_PENDING 128
/* Idle close: Postfix keeps an idle socket 10 s and a socket at most
 * 100 s, so a client idle for 100 s is gone or broken. */
#define MTASTSD_IDLE_MS 100000
/* Replies queued for writing before reading stops: a client that sends
 * but does not read cannot make us buffer without bound. */
#define MTASTSD_WRITE_HIWAT (256 * 1024)

struct mtastsd_server_opts {
  size_t max_conns;     /* 0: MTASTSD_MAX_CONNS */
  unsigned max_pending; /* 0: MTASTSD_MAX_PENDING */
  uint64_t idle_ms;     /* 0: MTASTSD_IDLE_MS */
  size_t write_hiwat;   /* 0: MTASTSD_WRITE_HIWAT */
};

/* Upper bounds (microseconds) of the request latency histogram
 * (mtastsd_lookup_duration_seconds, 0.0001 s .. 60 s: the lookup
 * deadline's cap). */
#define MTASTSD_LATENCY_BOUNDS_US                                              \
  {100u,    250u,     500u,     1000u,    2500u,    5000u,                   \
   10000u,  25000u,   50000u,   100000u,  250000u,  500000u,                 \
   1000000u, 2500000u, 5000000u, 10000000u, 30000000u, 60000000u}
#define MTASTSD_LATENCY_NBUCKETS 18

/* Counters of answered requests (for metrics). */
struct mtastsd_server_stats {
  uint64_t replies[5]; /* by enum mts_socketmap_reply_kind */
  /* Requests answered within bound i (and above bound i-1); slow ones,
   * beyond the last bound, are counted only in lat_count. */
  uint64_t lat_buckets[MTASTSD_LATENCY_NBUCKETS];
  uint64_t lat_count;
  uint64_t lat_sum_us;
  size_t conns; /* open connections */
};

struct mtastsd_server;
struct mtastsd_req;

/* A request arrived: \p sm's slices are valid only during the call. The
 * handler must answer \p req with mtastsd_req_reply() exactly once (now
 * or later), unless its cancel callback runs first. */
typedef void (*mtastsd_request_fn)(void *arg, struct mtastsd_req *req,
                                   const struct mts_socketmap_request *sm);
/* The connection of a pending request closed: forget the request. */
typedef void (*mtastsd_cancel_fn)(void *arg);
/* Every listener and connection is closed (after mtastsd_server_shutdown). */
typedef void (*mtastsd_drained_fn)(void *arg);

/*! Create a server on \p loop; requests go to \p fn(\p arg, ...).
 *  \p ctx (borrowed) allocates the netstring readers.
 *  \return 0, or -1 (out of memory). */
int mtastsd_server_create(uv_loop_t *loop, struct mts_ctx *ctx,
                          struct mtastsd_log *lg,
                          const struct mtastsd_server_opts *o,
                          mtastsd_request_fn fn, void *arg,
                          struct mtastsd_server **out);

/*!
 * Listen on every address of \p host (numeric or a name) at \p port;
 * with \p reuse_port, SO_REUSEPORT is set so several daemons may share
 * the port (libuv 1.44 has no UV_TCP_REUSEPORT: the socket is made here
 * and given to uv_tcp_open()). \return 0 when at least one address is
 * listening, -1 with the reason logged.
 */
int mtastsd_server_listen_tcp(struct mtastsd_server *s, const char *host,
                              uint16_t port, bool reuse_port);

/*!
 * Listen on the UNIX socket \p path: a stale socket file is removed
 * first (anything else at \p path is an error), then \p mode (>= 0) is
 * applied with chmod and \p uid / \p gid (not (uid_t)-1 / (gid_t)-1)
 * with chown. \return 0 or -1 with the reason logged.
 */
int mtastsd_server_listen_unix(struct mtastsd_server *s, const char *path,
                               int mode, uid_t uid, gid_t gid);

/*!
 * Graceful stop: close the listeners, stop reading from every
 * connection, and close each one once its pending replies are written.
 * \p fn(\p arg) runs when everything is closed and freed: from a close
 * callback, or before this returns when nothing was open.
 */
void mtastsd_server_shutdown(struct mtastsd_server *s, mtastsd_drained_fn fn,
                             void *arg);

/*! Close every connection now (pending requests are cancelled). */
void mtastsd_server_abort(struct mtastsd_server *s);

/*! Free the server; only after its drained callback ran. NULL: no-op. */
void mtastsd_server_free(struct mtastsd_server *s);

/*! \return the number of open connections. */
size_t mtastsd_server_conns(const struct mtastsd_server *s);

/*! Copy the reply counters and the latency histogram (measured from a
 *  request's arrival to its mtastsd_req_reply()) into \p out. */
void mtastsd_server_stats(const struct mtastsd_server *s,
                          struct mtastsd_server_stats *out);

/*! Register \p fn(\p arg) to run if \p req's connection closes first. */
void mtastsd_req_set_cancel(struct mtastsd_req *req, mtastsd_cancel_fn fn,
                            void *arg);

/*! \return the peer of \p req's connection ("127.0.0.1:41234", "unix"),
 *  for log lines. */
const char *mtastsd_req_peer(const struct mtastsd_req *req);

/*!
 * Answer \p req: \p kind and \p text as for mts_socketmap_reply_write().
 * The reply is sent when every earlier request of the connection has
 * been answered. If it cannot be encoded (a bug), "TEMP internal error"
 * is sent instead and logged. \p req must not be used afterwards.
 */
void mtastsd_req_reply(struct mtastsd_req *req,
                       enum mts_socketmap_reply_kind kind, const char *text,
                       size_t len);

#endif /* MTASTSD_SERVER_H */
