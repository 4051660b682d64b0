/*
 * metrics.c - the Prometheus text exposition format. See metrics.h.
 */
#include "metrics.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include <mtasts/sts_discover.h>
#include <mtasts/sts_policy.h>

/* An snprintf accumulator that keeps counting past the end. */
struct out {
  char *buf;
  size_t cap;
  size_t len;
};

static void put(struct out *o, const char *fmt, ...) MTS_PRINTF(2, 3);

static void put(struct out *o, const char *fmt, ...) {
  va_list ap;
  int n;

  va_start(ap, fmt);
  n = vsnprintf(o->len < o->cap ? o->buf + o->len : NULL,
                o->len < o->cap ? o->cap - o->len : 0, fmt, ap);
  va_end(ap);
  if (n > 0) {
    o->len += (size_t)n;
  }
}

static void head(struct out *o, const char *name, const char *type,
                 const char *help) {
  put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void counter(struct out *o, const char *name, const char *help,
                    uint64_t v) {
  head(o, name, "counter", help);
  put(o, "%s %" PRIu64 "\n", name, v);
}

static void gauge(struct out *o, const char *name, const char *help,
                  uint64_t v) {
  head(o, name, "gauge", help);
  put(o, "%s %" PRIu64 "\n", name, v);
}

/* Microseconds as seconds, exactly ("0.00025", "60"). */
static void put_seconds(struct out *o, uint64_t us) {
  uint64_t frac = us % 1000000u;
  int digits = 6;

  if (frac == 0) {
    put(o, "%" PRIu64, us / 1000000u);
    return;
  }
  while (frac % 10u == 0) {
    frac /= 10u;
    digits--;
  }
  put(o, "%" PRIu64 ".%0*" PRIu64, us / 1000000u, digits, frac);
}

static void histogram(struct out *o, const struct mtastsd_server_stats *s) {
  static const uint64_t bounds[MTASTSD_LATENCY_NBUCKETS] =
      MTASTSD_LATENCY_BOUNDS_US;
  static const char name[] = "mtastsd_lookup_duration_seconds";
  uint64_t cum = 0;
  size_t i;

  head(o, name, "histogram",
       "Time from a socketmap request's arrival to its reply.");
  for (i = 0; i < MTASTSD_LATENCY_NBUCKETS; i++) {
    cum += s->lat_buckets[i];
    put(o, "%s_bucket{le=\"", name);
    put_seconds(o, bounds[i]);
    put(o, "\"} %" PRIu64 "\n", cum);
  }
  put(o, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, s->lat_count);
  put(o, "%s_sum ", name);
  put_seconds(o, s->lat_sum_us);
  put(o, "\n%s_count %" PRIu64 "\n", name, s->lat_count);
}

size_t mtastsd_metrics_format(const struct mtastsd_metrics *m, char *buf,
                              size_t cap) {
  static const char *const answers[3] = {"policy", "none", "temp"};
  /* enum mts_sts_mode order: the labels come from mts_sts_mode_str(). */
  static const enum mts_sts_mode modes[3] = {
      MTS_STS_MODE_ENFORCE, MTS_STS_MODE_TESTING, MTS_STS_MODE_NONE};
  const struct mts_sts_resolver_stats *rs = &m->rs;
  const struct mtastsd_server_stats *sv = &m->srv;
  struct out o = {buf, cap, 0};
  size_t i;

  if (cap > 0) {
    buf[0] = '\0';
  }
  head(&o, "mtastsd_lookups_total", "counter",
       "Policy lookups answered by the resolver, by answer.");
  for (i = 0; i < 3; i++) {
    put(&o, "mtastsd_lookups_total{answer=\"%s\"} %" PRIu64 "\n", answers[i],
        rs->answers[i]);
  }
  counter(&o, "mtastsd_cache_hits_total",
          "Lookups answered from memory without waiting.", rs->hits);
  counter(&o, "mtastsd_txt_queries_total", "_mta-sts TXT queries sent.",
          rs->txt_queries);
  head(&o, "mtastsd_fetches_total", "counter",
       "HTTPS policy fetches finished, by result.");
  for (i = 0; i < sizeof(rs->fetch_results) / sizeof(rs->fetch_results[0]);
       i++) {
    /* Only what a fetch can end in: a policy or an RFC 8460 failure. */
    if (i != MTS_STS_V_POLICY &&
        mts_sts_verdict_result_type((enum mts_sts_verdict)i) == NULL) {
      continue;
    }
    put(&o, "mtastsd_fetches_total{result=\"%s\"} %" PRIu64 "\n",
        mts_sts_verdict_str((enum mts_sts_verdict)i), rs->fetch_results[i]);
  }
  counter(&o, "mtastsd_fetches_started_total", "HTTPS policy fetches started.",
          rs->fetches);
  counter(&o, "mtastsd_refresh_failures_total",
          "Proactive policy refreshes that failed.", rs->refresh_failures);
  counter(&o, "mtastsd_store_errors_total",
          "Cache store (SQLite, Redis) calls that failed.", rs->store_errors);
  head(&o, "mtastsd_policies", "gauge",
       "Cached policies in memory (expired ones too), by mode.");
  for (i = 0; i < 3; i++) {
    put(&o, "mtastsd_policies{mode=\"%s\"} %" PRIu64 "\n",
        mts_sts_mode_str(modes[i]),
        (unsigned)modes[i] < 4 ? rs->policies[modes[i]] : 0);
  }
  gauge(&o, "mtastsd_records", "Domains known in memory.",
        (uint64_t)rs->records);
  gauge(&o, "mtastsd_discoveries_inflight",
        "Domains with a discovery in progress.", (uint64_t)rs->inflight);
  gauge(&o, "mtastsd_connections", "Open socketmap connections.",
        (uint64_t)sv->conns);
  head(&o, "mtastsd_requests_total", "counter",
       "Socketmap requests answered, by reply.");
  put(&o, "mtastsd_requests_total{reply=\"ok\"} %" PRIu64 "\n",
      sv->replies[MTS_SOCKETMAP_REPLY_OK]);
  put(&o, "mtastsd_requests_total{reply=\"notfound\"} %" PRIu64 "\n",
      sv->replies[MTS_SOCKETMAP_REPLY_NOTFOUND]);
  /* TIMEOUT is a TEMP to Postfix (DICT_ERR_RETRY). */
  put(&o, "mtastsd_requests_total{reply=\"temp\"} %" PRIu64 "\n",
      sv->replies[MTS_SOCKETMAP_REPLY_TEMP] +
          sv->replies[MTS_SOCKETMAP_REPLY_TIMEOUT]);
  put(&o, "mtastsd_requests_total{reply=\"perm\"} %" PRIu64 "\n",
      sv->replies[MTS_SOCKETMAP_REPLY_PERM]);
  histogram(&o, sv);
  return o.len;
}
