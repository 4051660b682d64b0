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

/* One MX record (RFC 1035 3.3.9), borrowed for the duration of the
 * callback. */
struct mts_net_mx {
  uint16_t preference;
  /* The exchange host name: lower case (ASCII), no trailing dot, as sent
   * (A-labels; not otherwise validated). "" for the null MX "." of
   * RFC 7505 ("this domain accepts no mail"). */
  const char *exchange;
};

/*!
 * MX lookup result callback. \p st is MTS_OK (\p mx holds \p n >= 1
 * records in the order of the answer, CNAMEs followed by the resolver;
 * not sorted, duplicates kept), MTS_ENXDOMAIN (the name does not exist),
 * MTS_ENODATA (the name exists without MX records: for mail, RFC 5321
 * 5.1's implicit MX applies), MTS_ESERVFAIL, MTS_ETIMEOUT,
 * MTS_ECONNECT, MTS_ECANCELED, MTS_ENOMEM or another error (then \p mx
 * is NULL and \p n 0). \p mx, its strings and \p errmsg are borrowed for
 * the duration of the callback. \p authenticated is the AD bit of the
 * answer, also for MTS_ENXDOMAIN and MTS_ENODATA (an authenticated
 * denial of existence, RFC 4035 3.2.3); false for every other failure.
 * DNSSEC: only meaningful with a validating resolver on a trusted path.
 */
typedef void (*mts_net_dns_mx_cb)(void *arg, enum mts_status st,
                                  const struct mts_net_mx *mx, size_t n,
                                  bool authenticated, const char *errmsg);

/*!
 * Look up the MX RRset of \p name (ASCII, no trailing dot needed), with
 * the same deadline, query bits (RD, AD, EDNS) and cancellation rules as
 * mts_net_dns_txt(): \p cb runs exactly once, never from inside this
 * call. \return MTS_OK; MTS_EINVAL (NULL argument, empty, too long or
 * non-printable name); MTS_ECANCELED (the net is being destroyed);
 * MTS_ENOMEM.
 */
MTS_API MTS_WUR enum mts_status mts_net_dns_mx(struct mts_net *net,
                                               const char *name,
                                               mts_net_dns_mx_cb cb,
                                               void *arg);

/*!
 * TLSA lookup result callback (for DANE detection, RFC 7672 2.2). \p st
 * is MTS_OK when the answer section holds \p count >= 1 TLSA records
 * (type 52, class IN; the records' contents are not parsed or checked),
 * MTS_ENODATA (the name exists, or an answer came, without TLSA records),
 * MTS_ENXDOMAIN, MTS_ESERVFAIL, MTS_ETIMEOUT, MTS_ECONNECT, MTS_EIO (a
 * malformed answer), MTS_ECANCELED or another error (\p count 0).
 * \p authenticated is the AD bit, also for MTS_ENODATA and MTS_ENXDOMAIN
 * (authenticated denial: RFC 7672 2.2 treats the MX as "no DANE" only
 * then); false for other failures. RFC 7672 2.2 wants TLSA records used
 * only when the answer is DNSSEC-validated ("secure"), so a caller
 * building DANE on this must require it (and trust the path to its
 * validating resolver). \p errmsg is borrowed for the callback.
 */
typedef void (*mts_net_dns_tlsa_cb)(void *arg, enum mts_status st,
                                    size_t count, bool authenticated,
                                    const char *errmsg);

/*!
 * Look up the TLSA RRset of \p name, e.g. "_25._tcp.mx.example.com"
 * (the caller builds the name: RFC 6698 3). Same rules as
 * mts_net_dns_mx(). \return as mts_net_dns_mx().
 */
MTS_API MTS_WUR enum mts_status mts_net_dns_tlsa(struct mts_net *net,
                                                 const char *name,
                                                 mts_net_dns_tlsa_cb cb,
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
