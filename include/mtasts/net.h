/*
 * mtasts/net.h - asynchronous DNS (c-ares) and HTTPS (libcurl multi) on
 * the caller's libuv loop.
 *
 * The library never owns a loop: the program creates a uv_loop_t, makes
 * one struct mts_net on it, starts any number of lookups and fetches,
 * and runs the loop. Each operation has a deadline and ends in exactly
 * one callback. Nothing reads global state: the resolver address and
 * the CA file are options (defaults: /etc/resolv.conf and the system
 * trust store).
 *
 * The policy host's addresses are resolved through the same resolver
 * as the TXT record and handed to libcurl (CURLOPT_RESOLVE), so one
 * `--resolver` governs every lookup.
 */
#ifndef MTASTS_NET_H
#define MTASTS_NET_H

#include <uv.h>

#include <mtasts/common.h>
#include <mtasts/txt.h>

#ifdef __cplusplus
extern "C" {
#endif

struct mts_net_options {
  const char *resolver;     /* "IP", "IP:PORT", "[IPv6]:PORT"; NULL: system */
  const char *ca_file;      /* PEM CA bundle; NULL: system trust store */
  uint32_t dns_timeout_ms;  /* per lookup; 0: MTS_DNS_TIMEOUT_MS_DEFAULT */
  uint32_t http_timeout_ms; /* whole GET, host lookup included;
                               0: MTS_HTTP_TIMEOUT_MS_DEFAULT */
  size_t max_body;          /* 0: MTS_POLICY_MAX_SIZE */
  uint16_t https_port;      /* 0: 443 (tests may change it) */
};

/*! Fill \p o with the defaults (all zero / NULL). */
MTS_API void mts_net_options_init(struct mts_net_options *o);

struct mts_net;

/*!
 * Create a network context on \p loop. Options are copied.
 * \return MTS_OK; MTS_EINVAL for a malformed resolver address or an
 * unreadable CA file; MTS_ENOMEM; MTS_EINTERNAL if c-ares or libcurl
 * cannot be initialised.
 */
MTS_API MTS_WUR enum mts_status mts_net_create(struct mts_ctx *ctx,
                                               uv_loop_t *loop,
                                               const struct mts_net_options *o,
                                               struct mts_net **out);

/*!
 * Destroy \p net: every pending operation's callback runs with
 * MTS_ECANCELED before this returns, then the loop handles are closed.
 * The caller must run the loop afterwards (uv_run) so the handles
 * finish closing; memory is released then. NULL is a no-op.
 */
MTS_API void mts_net_destroy(struct mts_net *net);

/*!
 * TXT lookup result callback. \p st is MTS_OK (\p set holds the RRset,
 * CNAMEs already followed by the resolver), MTS_ENXDOMAIN, MTS_ENODATA,
 * MTS_ESERVFAIL, MTS_ETIMEOUT, MTS_ECONNECT, MTS_ECANCELED or another
 * error. \p set and \p errmsg are borrowed for the duration of the
 * callback. \p authenticated is the AD bit of the answer (DNSSEC).
 */
typedef void (*mts_net_dns_txt_cb)(void *arg, enum mts_status st,
                                   const struct mts_txt_rrset *set,
                                   bool authenticated, const char *errmsg);

/*! Look up the TXT RRset of \p name (ASCII, no trailing dot needed). */
MTS_API MTS_WUR enum mts_status mts_net_dns_txt(struct mts_net *net,
                                                const char *name,
                                                mts_net_dns_txt_cb cb,
                                                void *arg);

/* An HTTP response, borrowed for the duration of the callback. */
struct mts_http_response {
  long status;              /* HTTP status code */
  const char *content_type; /* Content-Type header value, or NULL */
  const uint8_t *body;      /* body bytes (not NUL-terminated) */
  size_t body_len;
  const char *location;     /* Location header of a redirect, or NULL */
  uint64_t elapsed_ms;      /* time from start to the end of the body */
};

/*!
 * HTTPS GET result callback. \p st is MTS_OK when a complete response
 * was received (any status code: the caller judges it), MTS_ETLS for a
 * TLS handshake or certificate failure (untrusted, expired, wrong name),
 * MTS_ECONNECT, MTS_ETIMEOUT, MTS_ETOOBIG (body over max_body, checked
 * while receiving), MTS_ENXDOMAIN/MTS_ENODATA/MTS_ESERVFAIL (the host's
 * address lookup), MTS_ECANCELED, or MTS_EIO. \p errmsg is a human
 * reason (NULL on success).
 */
typedef void (*mts_net_http_cb)(void *arg, enum mts_status st,
                                const struct mts_http_response *resp,
                                const char *errmsg);

/*!
 * GET https://\p host/\p path (path starts with '/'). TLS 1.2 or newer,
 * SNI = host, certificate verified against the CA file and host (DNS-ID),
 * no redirects followed, no HTTP cache, no conditional request.
 */
MTS_API MTS_WUR enum mts_status mts_net_http_get(struct mts_net *net,
                                                 const char *host,
                                                 const char *path,
                                                 mts_net_http_cb cb, void *arg);

#ifdef __cplusplus
}
#endif
#endif /* MTASTS_NET_H */
