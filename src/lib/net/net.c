/*
 * net.c - the network context: one c-ares channel and one libcurl multi
 * handle on the caller's libuv loop, plus the bookkeeping shared by
 * net_dns.c and net_http.c (poll handles, re-entrancy, teardown).
 *
 * Lifetime (docs/internals/net.md):
 *   create  -> channel, multi, two timers
 *   destroy -> every pending op's callback runs with MTS_ECANCELED, then
 *              (when no library frame is on the stack) the channel and
 *              the multi are released and every handle is uv_close()d;
 *              the struct is freed by the last close callback, so the
 *              caller must run the loop after destroy.
 */
#include "net/net_int.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <mtasts/limits.h>

/* Tries per query: with one server, c-ares waits timeout, then twice
 * the timeout (ares__send_query doubles per round), so the per-try
 * timeout is a third of the budget and the whole lookup fits in it. */
#define NET_DNS_TRIES 2
#define NET_DNS_TIMEOUT_DIV 3

void mts_net_options_init(struct mts_net_options *o) {
  memset(o, 0, sizeof(*o));
}

/* ---- re-entrancy and teardown ---- */

static void net_free(struct mts_net *net) {
  struct mts_ctx *ctx = net->ctx;

  if (net->curl_global) {
    curl_global_cleanup();
  }
  mts_free(ctx, net->resolver);
  mts_free(ctx, net->ca_file);
  mts_free(ctx, net);
}

static void net_handle_closed(uv_handle_t *h) {
  struct mts_net *net = h->data;

  net->closing--;
  if (net->closing == 0 && net->torn_down) {
    net_free(net);
  }
}

static void net_teardown(struct mts_net *net) {
  net->torn_down = true;
  /* ares_destroy() ends every outstanding query (ARES_EDESTRUCTION; the
   * ops are already canceled, so no user callback runs) and reports
   * each socket closed through the sock_state callback. */
  if (net->channel_ok) {
    net->channel_ok = false;
    ares_destroy(net->channel);
  }
  /* Every easy handle was removed by its op's cancel; this closes the
   * cached connections (the socket callback sees CURL_POLL_REMOVE). */
  if (net->multi != NULL) {
    (void)curl_multi_cleanup(net->multi);
    net->multi = NULL;
  }
  while (net->socks != NULL) {
    mts_net_sock_unwatch(net->socks);
  }
  if (net->timers_init) {
    net->timers_init = false;
    net->closing += 2;
    uv_close((uv_handle_t *)&net->ares_timer, net_handle_closed);
    uv_close((uv_handle_t *)&net->curl_timer, net_handle_closed);
  }
  if (net->closing == 0) {
    net_free(net);
  }
}

void mts_net_enter(struct mts_net *net) { net->depth++; }

void mts_net_leave(struct mts_net *net) {
  net->depth--;
  if (net->depth == 0 && net->destroying && !net->torn_down) {
    net_teardown(net);
  }
}

void mts_net_op_link(struct mts_net *net, struct mts_net_op *op) {
  op->prev = NULL;
  op->next = net->ops;
  if (net->ops != NULL) {
    net->ops->prev = op;
  }
  net->ops = op;
}

void mts_net_op_unlink(struct mts_net *net, struct mts_net_op *op) {
  if (op->prev != NULL) {
    op->prev->next = op->next;
  } else if (net->ops == op) {
    net->ops = op->next;
  }
  if (op->next != NULL) {
    op->next->prev = op->prev;
  }
  op->prev = NULL;
  op->next = NULL;
}

/* ---- socket watching ---- */

static void sock_closed(uv_handle_t *h) {
  struct mts_net_sock *s = h->data;
  struct mts_net *net = s->net;

  mts_free(net->ctx, s);
  net->closing--;
  if (net->closing == 0 && net->torn_down) {
    net_free(net);
  }
}

static void sock_event(uv_poll_t *h, int status, int events) {
  struct mts_net_sock *s = h->data;

  if (s->curl) {
    mts_net_http_process(s->net, s->fd, events, status);
  } else {
    /* On a poll error let c-ares read and write, so it sees the socket
     * error itself and moves the query on. */
    mts_net_dns_process(s->net, s->fd,
                        status < 0 ? (UV_READABLE | UV_WRITABLE) : events);
  }
}

struct mts_net_sock *mts_net_sock_watch(struct mts_net *net,
                                        struct mts_net_sock *cur, int fd,
                                        int events, bool curl) {
  struct mts_net_sock *s = cur;

  if (s == NULL) {
    s = mts_calloc(net->ctx, 1, sizeof(*s));
    if (s == NULL) {
      return NULL;
    }
    if (uv_poll_init_socket(net->loop, &s->poll, fd) != 0) {
      mts_free(net->ctx, s);
      return NULL;
    }
    s->poll.data = s;
    s->net = net;
    s->fd = fd;
    s->curl = curl;
    s->next = net->socks;
    if (net->socks != NULL) {
      net->socks->prev = s;
    }
    net->socks = s;
  }
  if (uv_poll_start(&s->poll, events, sock_event) != 0) {
    if (cur == NULL) {
      mts_net_sock_unwatch(s);
    }
    return NULL;
  }
  return s;
}

void mts_net_sock_unwatch(struct mts_net_sock *s) {
  struct mts_net *net = s->net;

  if (s->prev != NULL) {
    s->prev->next = s->next;
  } else {
    net->socks = s->next;
  }
  if (s->next != NULL) {
    s->next->prev = s->prev;
  }
  s->prev = NULL;
  s->next = NULL;
  /* Stop now: the owner may close the fd as soon as we return. */
  (void)uv_poll_stop(&s->poll);
  net->closing++;
  uv_close((uv_handle_t *)&s->poll, sock_closed);
}

void mts_net_close_handle(uv_handle_t *h, uv_close_cb done) {
  if (!uv_is_closing(h)) {
    uv_close(h, done);
  }
}

/* ---- create / destroy ---- */

static bool port_ok(const char *p) {
  unsigned long v = 0;
  size_t i;

  for (i = 0; p[i] != '\0'; i++) {
    if (p[i] < '0' || p[i] > '9' || i >= 5) {
      return false;
    }
    v = v * 10 + (unsigned long)(p[i] - '0');
  }
  return i > 0 && v >= 1 && v <= 65535;
}

/* "IP", "IP:PORT", "[IPv6]:PORT", "[IPv6]" or a bare IPv6 address,
 * checked strictly here (c-ares 1.18 accepts "1.2.3" through
 * inet_addr); no lists. */
static bool resolver_ok(const char *s) {
  char buf[INET6_ADDRSTRLEN + 16];
  unsigned char addr[sizeof(struct in6_addr)];
  size_t len = strlen(s);
  const char *colon = strchr(s, ':');
  char *end;

  if (len == 0 || len >= sizeof(buf)) {
    return false;
  }
  memcpy(buf, s, len + 1);
  if (buf[0] == '[') {
    end = strchr(buf, ']');
    if (end == NULL) {
      return false;
    }
    *end = '\0';
    if (end[1] != '\0' && (end[1] != ':' || !port_ok(end + 2))) {
      return false;
    }
    return inet_pton(AF_INET6, buf + 1, addr) == 1;
  }
  if (colon != NULL && strchr(colon + 1, ':') != NULL) {
    return inet_pton(AF_INET6, buf, addr) == 1;
  }
  if (colon != NULL) {
    buf[colon - s] = '\0';
    if (!port_ok(buf + (colon - s) + 1)) {
      return false;
    }
  }
  return inet_pton(AF_INET, buf, addr) == 1;
}

static enum mts_status channel_create(struct mts_net *net) {
  struct ares_options ao;
  int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES |
             ARES_OPT_SOCK_STATE_CB | ARES_OPT_EDNSPSZ;
  uint32_t per_try = net->dns_timeout_ms / NET_DNS_TIMEOUT_DIV;
  int rc;

  memset(&ao, 0, sizeof(ao));
  /* EDNS so DNSSEC-aware answers (AD) and larger TXT sets fit in UDP;
   * no search list: names are always absolute. NOCHECKRESP: c-ares 1.18
   * reports a SERVFAIL or REFUSED answer, once all tries are spent, as
   * ARES_ECONNREFUSED; we want the answer itself and map its RCODE. */
  ao.flags = ARES_FLAG_EDNS | ARES_FLAG_NOSEARCH | ARES_FLAG_NOCHECKRESP;
  ao.timeout = per_try > 0 ? (int)per_try : 1;
  ao.tries = NET_DNS_TRIES;
  ao.ednspsz = NET_EDNS_PAYLOAD;
  ao.sock_state_cb = mts_net_dns_sock_state;
  ao.sock_state_cb_data = net;
  rc = ares_init_options(&net->channel, &ao, mask);
  if (rc != ARES_SUCCESS) {
    return rc == ARES_ENOMEM ? MTS_ENOMEM : MTS_EINTERNAL;
  }
  net->channel_ok = true;
  if (net->resolver != NULL) {
    rc = ares_set_servers_ports_csv(net->channel, net->resolver);
    if (rc != ARES_SUCCESS) {
      return rc == ARES_ENOMEM ? MTS_ENOMEM : MTS_EINVAL;
    }
  }
  return MTS_OK;
}

static enum mts_status multi_create(struct mts_net *net) {
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    return MTS_EINTERNAL;
  }
  net->curl_global = true;
  net->multi = curl_multi_init();
  if (net->multi == NULL) {
    return MTS_ENOMEM;
  }
  if (curl_multi_setopt(net->multi, CURLMOPT_SOCKETFUNCTION,
                        mts_net_http_socket_cb) != CURLM_OK ||
      curl_multi_setopt(net->multi, CURLMOPT_SOCKETDATA, net) != CURLM_OK ||
      curl_multi_setopt(net->multi, CURLMOPT_TIMERFUNCTION,
                        mts_net_http_timer_cb) != CURLM_OK ||
      curl_multi_setopt(net->multi, CURLMOPT_TIMERDATA, net) != CURLM_OK) {
    return MTS_EINTERNAL;
  }
  return MTS_OK;
}

enum mts_status mts_net_create(struct mts_ctx *ctx, uv_loop_t *loop,
                               const struct mts_net_options *o,
                               struct mts_net **out) {
  struct mts_net_options defaults;
  struct mts_net *net = NULL;
  enum mts_status st;

  if (out != NULL) {
    *out = NULL;
  }
  if (ctx == NULL || loop == NULL || out == NULL) {
    return MTS_EINVAL;
  }
  if (o == NULL) {
    mts_net_options_init(&defaults);
    o = &defaults;
  }
  if (o->resolver != NULL && !resolver_ok(o->resolver)) {
    return MTS_EINVAL;
  }
  if (o->ca_file != NULL) {
    int fd = open(o->ca_file, O_RDONLY);

    if (fd < 0) {
      return MTS_EINVAL;
    }
    (void)close(fd);
  }
  net = mts_calloc(ctx, 1, sizeof(*net));
  if (net == NULL) {
    return MTS_ENOMEM;
  }
  net->ctx = ctx;
  net->loop = loop;
  net->dns_timeout_ms =
      o->dns_timeout_ms != 0 ? o->dns_timeout_ms : MTS_DNS_TIMEOUT_MS_DEFAULT;
  net->http_timeout_ms = o->http_timeout_ms != 0 ? o->http_timeout_ms
                                                 : MTS_HTTP_TIMEOUT_MS_DEFAULT;
  net->max_body = o->max_body != 0 ? o->max_body : MTS_POLICY_MAX_SIZE;
  net->https_port = o->https_port != 0 ? o->https_port : 443;
  st = MTS_ENOMEM;
  if (o->resolver != NULL &&
      (net->resolver = mts_strdup(ctx, o->resolver)) == NULL) {
    goto done;
  }
  if (o->ca_file != NULL &&
      (net->ca_file = mts_strdup(ctx, o->ca_file)) == NULL) {
    goto done;
  }
  st = channel_create(net);
  if (st != MTS_OK) {
    goto done;
  }
  st = multi_create(net);
  if (st != MTS_OK) {
    goto done;
  }
  /* Last: nothing below can fail, so no handle needs closing on error. */
  (void)uv_timer_init(loop, &net->ares_timer);
  (void)uv_timer_init(loop, &net->curl_timer);
  net->ares_timer.data = net;
  net->curl_timer.data = net;
  net->timers_init = true;
  *out = net;
  net = NULL;
  st = MTS_OK;
done:
  if (net != NULL) {
    if (net->multi != NULL) {
      (void)curl_multi_cleanup(net->multi);
    }
    if (net->channel_ok) {
      ares_destroy(net->channel);
    }
    net_free(net);
  }
  return st;
}

void mts_net_destroy(struct mts_net *net) {
  if (net == NULL || net->destroying) {
    return;
  }
  net->destroying = true;
  mts_net_enter(net);
  /* Each cancel unlinks its op (and may end others): pop from the head. */
  while (net->ops != NULL) {
    struct mts_net_op *op = net->ops;

    mts_net_op_unlink(net, op);
    op->fail(op, MTS_ECANCELED);
  }
  mts_net_leave(net);
}

void mts_net_reap_oom(struct mts_net *net) {
  struct mts_net_op *op;

  if (!net->http_oom) {
    return;
  }
  net->http_oom = false;
  op = net->ops;
  while (op != NULL) {
    if (op->oom) {
      mts_net_op_unlink(net, op);
      op->fail(op, MTS_ENOMEM);
      op = net->ops; /* the list may have changed */
    } else {
      op = op->next;
    }
  }
}

void mts_net_channel_reset(struct mts_net *net, enum mts_status st) {
  net->dns_oom = false;
  if (net->channel_ok) {
    net->channel_ok = false;
    net->ares_end_st = st;
    ares_destroy(net->channel);
    net->ares_end_st = MTS_OK;
  }
  if (channel_create(net) != MTS_OK && net->channel_ok) {
    net->channel_ok = false;
    ares_destroy(net->channel);
  }
}
