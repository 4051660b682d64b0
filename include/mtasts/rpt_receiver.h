/*
 * mtasts/rpt_receiver.h - the HTTPS report receiver (RFC 8460 section
 * 5.4, issue 7): a small HTTP(S) server for `rua=https://...` that
 * accepts POSTed TLS reports and keeps them in a report store
 * (rpt_store.h).
 *
 * What it accepts: POST (to any path, or only to the configured path)
 * with Content-Type `application/tlsrpt+gzip` or
 * `application/tlsrpt+json` (RFC 8460 5.4, 6.4, 6.5), also tolerated:
 * `application/gzip`, `application/x-gzip`, `application/json`; media
 * type parameters are ignored. The body is decompressed by rpt_unpack
 * (the gzip magic 0x1f 0x8b decides, not the label), parsed by
 * rpt_report and added with source "https:<client address>". Each
 * document may be at most MTS_RPT_RECEIVER_MAX_DOC bytes decompressed
 * (not MTS_RPT_REPORT_MAX, which mail and files keep): a larger one is
 * answered 400 `unpack-too-big` and kept raw as sent, like any body that
 * cannot be unpacked.
 *
 * Nothing received is lost: a body that cannot be decompressed or
 * parsed is still stored raw, with the reason (rpt_store.h).
 *
 * Status codes (docs/decisions.md "TLS reports: HTML page and
 * receiver"):
 *   201 Created     a new report was stored;
 *   200 OK          a duplicate of a stored report (RFC 8460 5.4: a
 *                   "successful" response, so the sender stops retrying);
 *   400             the body is not a usable report (kept raw anyway);
 *   404             POST to another path than the configured one;
 *   405             not POST (Allow: POST);
 *   413             body larger than max_body;
 *   415             another Content-Type;
 *   429             the client address is over its rate (Retry-After);
 *   500             the store failed (the sender may retry);
 *   503             out of memory;
 *   507             the day's store quota is used up (Retry-After: the
 *                   seconds to the next UTC day; RFC 8460 5.5 senders
 *                   retry for 24 hours).
 * The response body is one line of text/plain. A refused request's body,
 * up to twice max_body, is read and dropped before the answer: a client
 * that writes its whole body before it reads would otherwise see a TCP
 * reset instead of the answer. A larger declared body, or a request with
 * "Expect: 100-continue", is answered on its headers.
 *
 * Rate limit: a token bucket per client address (IPv4, or IPv6 /64
 * prefix so one host cannot rotate through its /64), holding up to
 * `rate_burst` requests and refilled at `rate_per_min` per minute, on
 * the context's clock (seconds). Every request costs one token, also a
 * refused one. At most `max_clients` addresses are tracked; when the
 * table is full, idle (full) buckets are dropped, and if none is idle
 * the new address shares one overflow bucket (bounded memory under a
 * flood of addresses).
 *
 * Daily quota: what POSTs may add to the store in one UTC day (of the
 * context's clock) is bounded by `max_bytes_per_day`, counted as the
 * store counts it (the decompressed documents, or the body as sent when
 * it is kept raw) over every input whose source starts with "https:",
 * read from the store at start and on each new day, so a restart does
 * not reset it. Once the count reaches the quota, requests are answered
 * 507 (checked on the headers, and again when the body is in, before
 * anything is stored) and nothing more is stored that day; the one
 * request that crosses the quota is still stored whole (at most
 * max_body, or 64 MiB of documents decompressed, past it). Mail and files taken in by
 * `mtasts report ingest` are not counted: the MTA's limits bound those.
 *
 * TLS: with tls_cert_pem and tls_key_pem set, the server speaks HTTPS
 * (libmicrohttpd with GnuTLS); without them it speaks plain HTTP, for
 * use behind a TLS-terminating reverse proxy (then the client address
 * is the proxy's: forwarded headers are not trusted). RFC 8460 5.4
 * wants HTTPS on the public side either way.
 *
 * Slow clients: at most max_conn_per_ip connections per address; the
 * headers must be complete within header_timeout_s of the connection
 * (or of its previous request), and the body within request_timeout_s
 * of the headers; a connection idle for timeout_s is closed.
 *
 * Threads: libmicrohttpd runs one internal thread that handles every
 * connection (MHD_USE_INTERNAL_POLLING_THREAD, no thread per
 * connection), so the store and the context are used by that one
 * thread only; a watchdog thread only shuts down sockets of connections
 * past their header deadline. Between mts_rpt_receiver_start() and
 * mts_rpt_receiver_destroy() the caller must not use \p ctx or the
 * store; mts_rpt_receiver_port() and mts_rpt_receiver_stats() may be
 * called from any thread.
 */
#ifndef MTASTS_RPT_RECEIVER_H
#define MTASTS_RPT_RECEIVER_H

#include <limits.h>

#include <mtasts/common.h>
#include <mtasts/rpt_store.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Default body limit: 10 MiB, the limit commonly seen at receivers
 * (RFC-CHECKLIST DLV-3). */
#define MTS_RPT_RECEIVER_MAX_BODY (10u * 1024u * 1024u)
/* Largest document of a body, decompressed: 4 MiB. Real reports are 1 to
 * a few hundred KiB (docs/decisions.md REP-10); anyone on the internet
 * can POST, so the parser's own 32 MiB (MTS_RPT_REPORT_MAX) is not
 * offered here. */
#define MTS_RPT_RECEIVER_MAX_DOC (4u * 1024u * 1024u)
/* Default rate: 60 requests per minute per client, bursts of 60. */
#define MTS_RPT_RECEIVER_RATE 60u
/* Default number of client addresses tracked by the rate limiter. */
#define MTS_RPT_RECEIVER_MAX_CLIENTS 4096u
/* Default limit on simultaneous connections. */
#define MTS_RPT_RECEIVER_MAX_CONN 64u
/* Default idle timeout of a connection, seconds. */
#define MTS_RPT_RECEIVER_TIMEOUT 30u
/* Default limit on simultaneous connections from one address: one host
 * cannot take every connection (a slow client holds one for as long as
 * it sends a byte within each idle timeout). */
#define MTS_RPT_RECEIVER_MAX_CONN_PER_IP 8u
/* max_conn_per_ip: no per-address limit. */
#define MTS_RPT_RECEIVER_UNLIMITED UINT_MAX
/* Default time from the end of a request's headers to the end of its
 * body, seconds: 10 MiB at 100 KB/s fits; a client that sends a byte
 * now and then to stay under the idle timeout is cut off here. */
#define MTS_RPT_RECEIVER_REQUEST_TIMEOUT 120u
/* Default time from accepting a connection (or the end of its last
 * request) to the end of the next request's headers, TLS handshake
 * included, seconds: a sender sends them at once; a client that sends a
 * header byte now and then to stay under the idle timeout is cut off
 * here. */
#define MTS_RPT_RECEIVER_HEADER_TIMEOUT 30u
/* Default daily quota of stored bytes from POSTs: 256 MiB. Real reports
 * are a few KiB each (docs/decisions.md REP-10), so this holds tens of
 * thousands a day; a flood fills a disk no faster than this. */
#define MTS_RPT_RECEIVER_DAY_QUOTA (256ull * 1024u * 1024u)
/* max_bytes_per_day: no quota. */
#define MTS_RPT_RECEIVER_NO_QUOTA UINT64_MAX

struct mts_rpt_receiver_config {
  const char *addr;          /* numeric IPv4 or IPv6 ("::" also takes
                                IPv4); NULL: 127.0.0.1 */
  uint16_t port;             /* 0: any free port (see _port()) */
  const char *path;          /* only this path ("/tlsrpt"); NULL: any */
  const char *tls_cert_pem;  /* PEM text (NUL-terminated); NULL: HTTP */
  const char *tls_key_pem;   /* PEM text of the key; with the cert */
  size_t max_body;           /* 0: MTS_RPT_RECEIVER_MAX_BODY; also capped
                                at MTS_RPT_REPORT_MAX */
  unsigned rate_per_min;     /* 0: MTS_RPT_RECEIVER_RATE */
  unsigned rate_burst;       /* 0: rate_per_min */
  unsigned max_clients;      /* 0: MTS_RPT_RECEIVER_MAX_CLIENTS */
  unsigned max_connections;  /* 0: MTS_RPT_RECEIVER_MAX_CONN */
  unsigned timeout_s;        /* 0: MTS_RPT_RECEIVER_TIMEOUT */
  unsigned max_conn_per_ip;  /* 0: MTS_RPT_RECEIVER_MAX_CONN_PER_IP;
                                MTS_RPT_RECEIVER_UNLIMITED: no limit (a
                                reverse proxy in front: every connection
                                comes from its address) */
  unsigned request_timeout_s; /* 0: MTS_RPT_RECEIVER_REQUEST_TIMEOUT */
  unsigned header_timeout_s;  /* 0: MTS_RPT_RECEIVER_HEADER_TIMEOUT */
  uint64_t max_bytes_per_day; /* 0: MTS_RPT_RECEIVER_DAY_QUOTA;
                                 MTS_RPT_RECEIVER_NO_QUOTA: none */
};

/* Counters since start. */
struct mts_rpt_receiver_stats {
  uint64_t requests;   /* every request answered */
  uint64_t stored;     /* 201 */
  uint64_t duplicates; /* 200 */
  uint64_t rejected;   /* 400 */
  uint64_t too_big;    /* 413 */
  uint64_t bad_type;   /* 415 */
  uint64_t limited;    /* 429 */
  uint64_t other;      /* 404, 405, 500, 503 */
  uint64_t over_quota; /* 507 */
  uint64_t header_timeouts; /* connections closed waiting for headers */
};

struct mts_rpt_receiver;

/*!
 * Start the receiver: bind, listen and serve in a background thread.
 * \param[in] ctx    the context (allocator, log, clock); see "Threads".
 * \param[in] store  the store the reports go to; borrowed, must outlive
 *                   the receiver.
 * \param[in] cfg    the configuration; copied (the PEM texts too).
 * \param[out] out   the running receiver; NULL on failure.
 * \return MTS_OK; MTS_EINVAL (bad address, cert without key, NULL
 * argument); MTS_EUNAVAIL (TLS asked for but libmicrohttpd was built
 * without it); MTS_EIO (cannot bind or start, or cannot read the day's
 * usage from the store; logged); MTS_ENOMEM.
 */
MTS_API MTS_WUR enum mts_status
mts_rpt_receiver_start(struct mts_ctx *ctx, struct mts_rpt_store *store,
                       const struct mts_rpt_receiver_config *cfg,
                       struct mts_rpt_receiver **out);

/*! \return the port listened on (the chosen one when cfg->port was 0). */
MTS_API uint16_t mts_rpt_receiver_port(const struct mts_rpt_receiver *r);

/*! Copy the counters (any thread). */
MTS_API void mts_rpt_receiver_stats(struct mts_rpt_receiver *r,
                                    struct mts_rpt_receiver_stats *out);

/*! \return true when this libmicrohttpd can serve HTTPS. */
MTS_API bool mts_rpt_receiver_tls_supported(void);

/*! Stop serving (open connections are closed), join the thread, free.
 *  NULL is a no-op. */
MTS_API void mts_rpt_receiver_destroy(struct mts_rpt_receiver *r);

#ifdef __cplusplus
}
#endif
#endif /* MTASTS_RPT_RECEIVER_H */
