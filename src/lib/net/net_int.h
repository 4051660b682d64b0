/*
 * net_int.h - the shared state of net.c, net_dns.c and net_http.c.
 * Internal. See docs/internals/net.md for the design.
 *
 * One struct mts_net owns one c-ares channel and one libcurl multi
 * handle, both driven by the caller's libuv loop through uv_poll_t (one
 * per socket) and one uv_timer_t each.
 *
 * Re-entrancy: every entry from the loop (poll, timer) and every public
 * call brackets its work with mts_net_enter()/mts_net_leave(). A user
 * callback may call mts_net_destroy() at any depth; the c-ares channel
 * and the curl multi are only torn down when the depth is back to zero,
 * so no library frame ever runs on freed state.
 */
#ifndef MTS_NET_INT_H
#define MTS_NET_INT_H

/* c-ares 1.18 uses fd_set in ares.h without including its header. */
#include <sys/select.h>

#include <ares.h>
#include <curl/curl.h>
#include <uv.h>

#include <mtasts/limits.h>
#include <mtasts/net.h>

#include "core/ctx_int.h"

/* RFC 6891 UDP payload size, as recommended by DNS flag day 2020. */
#define NET_EDNS_PAYLOAD 1232

/* A pending user-visible operation (TXT lookup or HTTPS GET). */
struct mts_net_op {
  struct mts_net_op *prev;
  struct mts_net_op *next;
  /* End the op with \p st (MTS_ECANCELED on destroy, MTS_ENOMEM when a
   * socket of its transfer could not be watched): deliver the callback
   * and release everything. The op is already unlinked when this runs. */
  void (*fail)(struct mts_net_op *op, enum mts_status st);
  bool oom; /* a socket of this op could not be watched */
};

/* A socket watched for c-ares or libcurl. */
struct mts_net_sock {
  uv_poll_t poll;
  struct mts_net *net;
  struct mts_net_sock *prev;
  struct mts_net_sock *next;
  int fd;
  bool curl; /* owned by libcurl (else c-ares) */
};

struct mts_net {
  struct mts_ctx *ctx;
  uv_loop_t *loop;
  /* Options, resolved to their effective values. */
  char *resolver;
  char *ca_file;
  uint32_t dns_timeout_ms;
  uint32_t http_timeout_ms;
  size_t max_body;
  uint16_t https_port;

  ares_channel channel;
  bool channel_ok;
  CURLM *multi;
  bool curl_global; /* curl_global_init() succeeded: pair with cleanup */

  uv_timer_t ares_timer;
  uv_timer_t curl_timer;
  bool timers_init;

  struct mts_net_sock *socks; /* live poll handles */
  struct mts_net_op *ops;     /* pending user-visible operations */

  /* A c-ares socket could not be watched (out of memory): the channel is
   * reset from the timer and its queries end with ares_end_st. */
  bool dns_oom;
  enum mts_status ares_end_st;
  bool http_oom; /* some op has oom set */

  unsigned depth;    /* nesting of library frames on the stack */
  bool destroying;   /* mts_net_destroy() was called */
  bool torn_down;    /* channel and multi released */
  unsigned closing;  /* handles whose close callback is pending */
};

/* ---- net.c: shared plumbing ---- */

void mts_net_enter(struct mts_net *net);
/* Leaves a library frame; tears the net down when destroy was requested
 * and this was the outermost frame. Must be the last use of \p net. */
void mts_net_leave(struct mts_net *net);

void mts_net_op_link(struct mts_net *net, struct mts_net_op *op);
void mts_net_op_unlink(struct mts_net *net, struct mts_net_op *op);

/* Start watching \p fd with \p events (UV_READABLE | UV_WRITABLE) for
 * c-ares (curl false) or libcurl (curl true). \p cur is the existing
 * handle or NULL. \return the handle, or NULL on failure. */
struct mts_net_sock *mts_net_sock_watch(struct mts_net *net,
                                        struct mts_net_sock *cur, int fd,
                                        int events, bool curl);
/* Stop watching and close the handle (freed in its close callback). */
void mts_net_sock_unwatch(struct mts_net_sock *s);

/* Replace the c-ares channel: every query ends with \p st. */
void mts_net_channel_reset(struct mts_net *net, enum mts_status st);
/* End every op whose socket could not be watched with MTS_ENOMEM. */
void mts_net_reap_oom(struct mts_net *net);

/* Close a timer owned by an operation: \p done runs from the close
 * callback. */
void mts_net_close_handle(uv_handle_t *h, uv_close_cb done);

/* Milliseconds on the loop clock. */
static inline uint64_t mts_net_now(const struct mts_net *net) {
  return uv_now(net->loop);
}

/* ---- net_dns.c ---- */

/* c-ares hooks used by net.c. */
void mts_net_dns_sock_state(void *data, ares_socket_t fd, int readable,
                            int writable);
void mts_net_dns_process(struct mts_net *net, int fd, int events);
void mts_net_dns_timer(uv_timer_t *t);
void mts_net_dns_rearm(struct mts_net *net);

/*
 * Address lookup of \p name (A and AAAA in parallel through the net's
 * channel). \p addrs is a comma-separated list in CURLOPT_RESOLVE form
 * ("192.0.2.1,[2001:db8::1]"), borrowed for the callback. \p st is
 * MTS_OK (at least one address), MTS_ENXDOMAIN, MTS_ENODATA,
 * MTS_ESERVFAIL, MTS_ETIMEOUT, MTS_ECONNECT or another error.
 */
typedef void (*mts_net_addr_cb)(void *arg, enum mts_status st,
                                const char *addrs, const char *errmsg);
struct mts_net_dns_op;
MTS_WUR enum mts_status mts_net_dns_addr(struct mts_net *net, const char *name,
                                         mts_net_addr_cb cb, void *arg,
                                         struct mts_net_dns_op **out);
/* Abandon an address lookup: its callback never runs. */
void mts_net_dns_addr_cancel(struct mts_net_dns_op *op);

/* Map an ares status to ours. */
enum mts_status mts_net_ares_status(int ast);

/* ---- net_http.c ---- */

int mts_net_http_socket_cb(CURL *easy, curl_socket_t s, int what, void *userp,
                           void *socketp);
int mts_net_http_timer_cb(CURLM *multi, long timeout_ms, void *userp);
void mts_net_http_process(struct mts_net *net, int fd, int events, int status);
void mts_net_http_timer(uv_timer_t *t);

/* curl 7.88 reports a response header line over its 100 KB limit
 * (CURL_MAX_HTTP_HEADER; CURLE_TOO_LARGE from 8.6) as
 * CURLE_OUT_OF_MEMORY. Once the status line is in (\p code != 0) that is
 * the server's doing, not our memory: \return true then. Policy fetches
 * and report deliveries both use it. */
static inline bool mts_net_curl_header_overflow(CURLcode rc, long code) {
  return rc == CURLE_OUT_OF_MEMORY && code != 0;
}
#define MTS_NET_CURL_HEADER_OVERFLOW_MSG                                       \
  "a response header line over curl's limit (100 KB)"

#endif /* MTS_NET_INT_H */
