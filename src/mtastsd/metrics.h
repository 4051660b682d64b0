/*
 * metrics.h - mtastsd's Prometheus metrics: the text exposition format
 * (version 0.0.4) of the resolver's counters and the server's reply
 * counters and latency histogram.
 *
 * Pure: mtastsd_metrics_format() only formats what it is given (no I/O,
 * no clock), so tests/unit/test_mtastsd_metrics.c checks the text
 * exactly. The HTTP endpoint that serves it is metrics_http.h.
 *
 * The metrics (docs/internals/control.md has the list with meanings):
 *   mtastsd_lookups_total{answer="policy|none|temp"}      counter
 *   mtastsd_cache_hits_total                               counter
 *   mtastsd_txt_queries_total                              counter
 *   mtastsd_fetches_total{result="<verdict>"}              counter
 *   mtastsd_refresh_failures_total                         counter
 *   mtastsd_store_errors_total                             counter
 *   mtastsd_policies{mode="enforce|testing|none"}          gauge
 *   mtastsd_records                                        gauge
 *   mtastsd_discoveries_inflight                           gauge
 *   mtastsd_connections                                    gauge
 *   mtastsd_requests_total{reply="ok|notfound|temp|perm"}  counter
 *   mtastsd_lookup_duration_seconds                        histogram
 */
#ifndef MTASTSD_METRICS_H
#define MTASTSD_METRICS_H

#include <stddef.h>

#include <mtasts/sts_resolver.h>

#include "server.h"

/* The Content-Type of the exposition format. */
#define MTASTSD_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct mtastsd_metrics {
  struct mts_sts_resolver_stats rs; /* zero when there is no resolver */
  struct mtastsd_server_stats srv;
};

/*!
 * Write \p m as exposition text into \p buf (\p cap bytes, NUL
 * terminated when \p cap > 0), like snprintf.
 * \return the length of the whole text (without the NUL); when it is
 * >= \p cap the text was cut: call again with a larger buffer.
 */
size_t mtastsd_metrics_format(const struct mtastsd_metrics *m, char *buf,
                              size_t cap);

#endif /* MTASTSD_METRICS_H */
