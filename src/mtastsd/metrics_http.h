/*
 * metrics_http.h - the Prometheus endpoint of mtastsd (`metrics_listen`):
 * a tiny HTTP/1.0 server on the daemon's loop that answers
 * `GET /metrics` with mtastsd_metrics_format()'s text and closes.
 *
 * Per connection: the request head is read up to METRICS_HEAD_MAX bytes
 * (the request line and headers, up to the blank line) within
 * METRICS_TIMEOUT_MS; then 200 (text/plain; version=0.0.4) for
 * `GET /metrics` (a query string is ignored), 404 for any other path or
 * method, 400 for a head that is too long or has no request line; then
 * the connection is closed. No keep-alive, no TLS, no authentication:
 * bind it to loopback or a management network. At most METRICS_CONNS
 * connections at a time (more are accepted and closed).
 *
 * Ownership: the endpoint owns its listeners and connections; it frees
 * itself once mtastsd_metrics_http_close() has closed every handle. Loop
 * thread only.
 */
#ifndef MTASTSD_METRICS_HTTP_H
#define MTASTSD_METRICS_HTTP_H

#include <uv.h>

#include "log.h"
#include "metrics.h"

#define METRICS_HEAD_MAX 8192
#define METRICS_TIMEOUT_MS 10000
#define METRICS_CONNS 64

/* Fill \p out with the current counters. */
typedef void (*mtastsd_metrics_collect_fn)(void *arg,
                                           struct mtastsd_metrics *out);

struct mtastsd_metrics_http;

/*!
 * Listen on \p hostport (`HOST:PORT` or `[IPv6]:PORT`; every address of
 * HOST) and serve the counters \p fn(\p arg) returns.
 * \return 0, or -1 with the reason logged (\p *out NULL).
 */
int mtastsd_metrics_http_create(uv_loop_t *loop, struct mtastsd_log *lg,
                                const char *hostport,
                                mtastsd_metrics_collect_fn fn, void *arg,
                                struct mtastsd_metrics_http **out);

/*! Close the listeners and every connection; the object frees itself
 *  when its handles have closed (run the loop). NULL is a no-op. */
void mtastsd_metrics_http_close(struct mtastsd_metrics_http *m);

#endif /* MTASTSD_METRICS_HTTP_H */
