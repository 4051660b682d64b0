/*
 * oneshot.h - a small request/response server for mtastsd's side
 * channels (the metrics endpoint and the control socket): accept, read
 * one request with a size cap and a timeout, write one response, close.
 *
 * Per connection: input is collected until the protocol's \p complete
 * predicate says the request is whole, the peer shuts down its side
 * (EOF), or \p max bytes arrived; then \p answer builds the response,
 * which is written before the connection is closed. A connection that
 * is silent for \p timeout_ms is closed without an answer. At most
 * \p max_conns connections are open at a time (more are accepted and
 * closed at once). Nothing here is reachable from the socketmap server:
 * a slow or hostile client of a side channel costs only its own slot.
 *
 * Ownership: the server owns its listeners and connections, and frees
 * itself when mtastsd_oneshot_close() has closed them all. Loop thread
 * only.
 */
#ifndef MTASTSD_ONESHOT_H
#define MTASTSD_ONESHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "log.h"

/* Is \p buf[0..len) a whole request? */
typedef bool (*mtastsd_oneshot_complete_fn)(const char *buf, size_t len);
/* Answer the request \p buf[0..len) (\p whole: the predicate said so;
 * false: EOF or the size cap came first). Set \p *resp to a malloc'd
 * response of \p *resp_len bytes, or to NULL to close without one. */
typedef void (*mtastsd_oneshot_answer_fn)(void *arg, const char *buf,
                                          size_t len, bool whole, char **resp,
                                          size_t *resp_len);

struct mtastsd_oneshot_opts {
  const char *name; /* for log lines: "metrics", "control" */
  size_t max;       /* request cap, bytes */
  uint64_t timeout_ms;
  size_t max_conns;
  mtastsd_oneshot_complete_fn complete;
  mtastsd_oneshot_answer_fn answer;
  void *arg;
};

struct mtastsd_oneshot;

/*! Create a server (no listener yet). \return 0 or -1 (out of memory). */
int mtastsd_oneshot_create(uv_loop_t *loop, struct mtastsd_log *lg,
                           const struct mtastsd_oneshot_opts *o,
                           struct mtastsd_oneshot **out);

/*! Listen on every address of \p hostport (`HOST:PORT`, `[IPv6]:PORT`).
 *  \return 0 when at least one address listens, else -1 (logged). */
int mtastsd_oneshot_listen_tcp(struct mtastsd_oneshot *s, const char *hostport);

/*! Listen on the UNIX socket \p path with mode \p mode: a stale socket
 *  file is replaced (anything else at \p path is an error); the socket
 *  is created under umask 0177 so it is never more open than \p mode.
 *  \return 0 or -1 (logged). */
int mtastsd_oneshot_listen_unix(struct mtastsd_oneshot *s, const char *path,
                                int mode);

/*! Close everything; the server frees itself when its handles have
 *  closed (run the loop). A UNIX socket file is removed. NULL: no-op. */
void mtastsd_oneshot_close(struct mtastsd_oneshot *s);

#endif /* MTASTSD_ONESHOT_H */
