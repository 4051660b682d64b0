/*
 * net_dns.c - TXT and address lookups through c-ares on the libuv loop.
 *
 * Queries are built with ares_create_query() (EDNS, RD and the AD bit
 * set, RFC 6840 5.7: "I understand AD") and sent with ares_send(), which
 * is what ares_query() does minus the search list and with our header
 * bits. The answer is read raw: the RCODE and AD bit from the header,
 * the TXT strings with ares_parse_txt_reply_ext() (record_start splits
 * RRs), addresses with ares_parse_a_reply()/ares_parse_aaaa_reply().
 *
 * Every op has a hard deadline (a uv timer at dns_timeout_ms) on top of
 * c-ares' own timeout and tries: the user callback runs exactly once,
 * whichever comes first. c-ares 1.18 cannot cancel one query, so an op
 * whose callback already ran stays allocated (refs) until c-ares
 * returns its queries, at the latest in ares_destroy().
 */
#include "net/net_int.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <mtasts/txt.h>

/* DNS header: byte 3 holds RA Z AD CD RCODE (RFC 1035 4.1.1, RFC 4035
 * 3.2.3 for AD). */
#define DNS_HDR_LEN 12
#define DNS_AD_BIT 0x20u
#define DNS_RCODE_MASK 0x0Fu
#define DNS_RCODE_SERVFAIL 2
#define DNS_RCODE_NXDOMAIN 3
#define DNS_RCODE_REFUSED 5
#define DNS_CLASS_IN 1
#define DNS_TYPE_A 1
#define DNS_TYPE_TXT 16
#define DNS_TYPE_AAAA 28
/* Addresses we keep per name and family: more is never useful for one
 * HTTPS fetch, and it bounds the CURLOPT_RESOLVE string. */
#define NET_ADDR_MAX 8
/* "[" + INET6_ADDRSTRLEN + "]," per address. */
#define NET_ADDRS_BUF (2 * NET_ADDR_MAX * (INET6_ADDRSTRLEN + 3))

enum dns_kind { DNS_TXT = 0, DNS_ADDR = 1 };

struct mts_net_dns_op {
  struct mts_net_op link; /* TXT ops only: pending user-visible op */
  struct mts_net *net;    /* valid while refs > 0 (see mts_net_destroy) */
  struct mts_ctx *ctx;
  enum dns_kind kind;
  bool done;     /* the callback ran, or the op was abandoned */
  bool starting; /* inside mts_net_dns_*(): completions are deferred */
  bool linked;
  unsigned refs; /* outstanding ares queries + the deadline timer */
  uv_timer_t deadline;
  /* A completion that happened during the start, delivered by the
   * deadline timer re-armed at 0 ms. */
  bool deferred;
  enum mts_status deferred_st;

  mts_net_dns_txt_cb txt_cb;
  mts_net_addr_cb addr_cb;
  void *arg;

  /* ADDR: per family (0: A, 1: AAAA) status; the collected addresses. */
  unsigned pending;
  enum mts_status fam_st[2];
  size_t naddrs;
  size_t addrs_len;
  char addrs[NET_ADDRS_BUF];

  char errmsg[MTS_DOMAIN_MAX + 128];
  char name[MTS_DOMAIN_MAX + 2];
};

enum mts_status mts_net_ares_status(int ast) {
  switch (ast) {
  case ARES_SUCCESS:
    return MTS_OK;
  case ARES_ENOTFOUND:
    return MTS_ENXDOMAIN;
  case ARES_ENODATA:
    return MTS_ENODATA;
  case ARES_ESERVFAIL:
  case ARES_EREFUSED:
  case ARES_ENOTIMP:
  case ARES_EFORMERR:
    return MTS_ESERVFAIL;
  case ARES_ETIMEOUT:
    return MTS_ETIMEOUT;
  case ARES_ECONNREFUSED:
    return MTS_ECONNECT;
  case ARES_ENOMEM:
    return MTS_ENOMEM;
  case ARES_EBADNAME:
  case ARES_EBADSTR:
    return MTS_EINVAL;
  case ARES_ECANCELLED:
  case ARES_EDESTRUCTION:
    return MTS_ECANCELED;
  case ARES_EBADRESP:
    return MTS_EIO;
  default:
    return MTS_EIO;
  }
}

/* ---- channel <-> loop ---- */

void mts_net_dns_rearm(struct mts_net *net) {
  struct timeval tv;
  struct timeval *tvp;
  uint64_t ms;

  if (net->torn_down || !net->timers_init) {
    return;
  }
  if (net->dns_oom) {
    (void)uv_timer_start(&net->ares_timer, mts_net_dns_timer, 0, 0);
    return;
  }
  if (!net->channel_ok) {
    return;
  }
  tvp = ares_timeout(net->channel, NULL, &tv);
  if (tvp == NULL) {
    (void)uv_timer_stop(&net->ares_timer);
    return;
  }
  ms = (uint64_t)tvp->tv_sec * 1000u + ((uint64_t)tvp->tv_usec + 999u) / 1000u;
  (void)uv_timer_start(&net->ares_timer, mts_net_dns_timer, ms, 0);
}

void mts_net_dns_sock_state(void *data, ares_socket_t fd, int readable,
                            int writable) {
  struct mts_net *net = data;
  struct mts_net_sock *s;
  int events = (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0);

  for (s = net->socks; s != NULL; s = s->next) {
    if (!s->curl && s->fd == fd) {
      break;
    }
  }
  if (events == 0) {
    if (s != NULL) {
      mts_net_sock_unwatch(s);
    }
    return;
  }
  if (net->torn_down) {
    return;
  }
    if (mts_net_sock_watch(net, s, fd, events, false) == NULL) {
    /* Out of memory: the channel is reset from the timer and its
     * queries end with MTS_ENOMEM (never a silent hang). */
    net->dns_oom = true;
  }
}

void mts_net_dns_process(struct mts_net *net, int fd, int events) {
  mts_net_enter(net);
  if (net->channel_ok && !net->torn_down) {
    ares_process_fd(net->channel,
                    (events & UV_READABLE) ? fd : ARES_SOCKET_BAD,
                    (events & UV_WRITABLE) ? fd : ARES_SOCKET_BAD);
    mts_net_dns_rearm(net);
  }
  mts_net_leave(net);
}

void mts_net_dns_timer(uv_timer_t *t) {
  struct mts_net *net = t->data;

  mts_net_enter(net);
  if (net->dns_oom && !net->torn_down && !net->destroying) {
    mts_net_channel_reset(net, MTS_ENOMEM);
  }
  if (net->channel_ok && !net->torn_down) {
    ares_process_fd(net->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    mts_net_dns_rearm(net);
  }
  mts_net_leave(net);
}

/* ---- op lifetime ---- */

static void op_unref(struct mts_net_dns_op *op) {
  op->refs--;
  if (op->refs == 0) {
    mts_free(op->ctx, op);
  }
}

static void deadline_closed(uv_handle_t *h) {
  op_unref(h->data);
}

/* Mark \p op finished: no further callback, the deadline is closed. */
static void op_finish(struct mts_net_dns_op *op) {
  op->done = true;
  if (op->linked) {
    op->linked = false;
    mts_net_op_unlink(op->net, &op->link);
  }
  mts_net_close_handle((uv_handle_t *)&op->deadline, deadline_closed);
}

static void txt_deliver(struct mts_net_dns_op *op, enum mts_status st,
                        const struct mts_txt_rrset *set, bool ad) {
  mts_net_dns_txt_cb cb = op->txt_cb;
  void *arg = op->arg;

  op_finish(op);
  cb(arg, st, set, ad, st == MTS_OK ? NULL : op->errmsg);
}

static void addr_deliver(struct mts_net_dns_op *op, enum mts_status st) {
  mts_net_addr_cb cb = op->addr_cb;
  void *arg = op->arg;

  op_finish(op);
  cb(arg, st, st == MTS_OK ? op->addrs : NULL, st == MTS_OK ? NULL : op->errmsg);
}

static void op_fail(struct mts_net_dns_op *op, enum mts_status st) {
  if (op->starting) {
    if (!op->deferred) {
      op->deferred = true;
      op->deferred_st = st;
    }
    return;
  }
  if (op->kind == DNS_TXT) {
    txt_deliver(op, st, NULL, false);
  } else {
    addr_deliver(op, st);
  }
}

static void set_errmsg(struct mts_net_dns_op *op, enum mts_status st,
                       const char *detail) {
  (void)snprintf(op->errmsg, sizeof(op->errmsg), "%s: %s%s%s", op->name,
                 mts_status_str(st), detail != NULL ? ": " : "",
                 detail != NULL ? detail : "");
}

/* Status of a raw answer from its header; MTS_OK means NOERROR. */
static enum mts_status answer_rcode(int ast, enum mts_status end_st,
                                    const unsigned char *abuf, int alen,
                                    bool *ad) {
  unsigned rcode;

  *ad = false;
  if (ast == ARES_EDESTRUCTION && end_st != MTS_OK) {
    return end_st;
  }
  if (ast != ARES_SUCCESS) {
    return mts_net_ares_status(ast);
  }
  if (abuf == NULL || alen < DNS_HDR_LEN) {
    return MTS_EIO;
  }
  *ad = (abuf[3] & DNS_AD_BIT) != 0;
  rcode = abuf[3] & DNS_RCODE_MASK;
  switch (rcode) {
  case 0:
    return MTS_OK;
  case DNS_RCODE_NXDOMAIN:
    return MTS_ENXDOMAIN;
  case DNS_RCODE_SERVFAIL:
  case DNS_RCODE_REFUSED:
  default:
    return MTS_ESERVFAIL;
  }
}

/* ---- TXT ---- */

static enum mts_status txt_build(struct mts_ctx *ctx, const unsigned char *abuf,
                                 int alen, struct mts_txt_rrset **out) {
  struct ares_txt_ext *txt = NULL;
  struct ares_txt_ext *t;
  struct mts_txt_rrset *set = NULL;
  enum mts_status st;
  int rc;

  *out = NULL;
  rc = ares_parse_txt_reply_ext(abuf, alen, &txt);
  if (rc != ARES_SUCCESS) {
    st = mts_net_ares_status(rc);
    goto done;
  }
  st = mts_txt_rrset_create(ctx, &set);
  if (st != MTS_OK) {
    goto done;
  }
  for (t = txt; t != NULL; t = t->next) {
    if (t->record_start || t == txt) {
      st = mts_txt_rrset_add_rr(set);
      if (st != MTS_OK) {
        goto done;
      }
    }
    st = mts_txt_rrset_add_string(set, t->txt, t->length);
    if (st != MTS_OK) {
      goto done;
    }
  }
  *out = set;
  set = NULL;
  st = MTS_OK;
done:
  if (txt != NULL) {
    ares_free_data(txt);
  }
  mts_txt_rrset_destroy(set);
  return st;
}

static void txt_answer(void *arg, int status, int timeouts,
                       unsigned char *abuf, int alen) {
  struct mts_net_dns_op *op = arg;
  struct mts_txt_rrset *set = NULL;
  enum mts_status st;
  bool ad;

  (void)timeouts;
  if (op->done) {
    goto done;
  }
  st = answer_rcode(status, op->net->ares_end_st, abuf, alen, &ad);
  if (st == MTS_OK) {
    st = txt_build(op->ctx, abuf, alen, &set);
  }
  if (st != MTS_OK || op->starting) {
    set_errmsg(op, st, NULL);
    op_fail(op, st != MTS_OK ? st : MTS_EIO);
    goto done;
  }
  txt_deliver(op, MTS_OK, set, ad);
done:
  mts_txt_rrset_destroy(set);
  op_unref(op);
}

/* ---- A / AAAA ---- */

static void addr_append(struct mts_net_dns_op *op, int af, const void *a) {
  char text[INET6_ADDRSTRLEN];
  int n;

  if (op->naddrs >= 2 * NET_ADDR_MAX ||
      inet_ntop(af, a, text, sizeof(text)) == NULL) {
    return;
  }
  n = snprintf(op->addrs + op->addrs_len, sizeof(op->addrs) - op->addrs_len,
               af == AF_INET6 ? "%s[%s]" : "%s%s",
               op->addrs_len > 0 ? "," : "", text);
  if (n > 0 && (size_t)n < sizeof(op->addrs) - op->addrs_len) {
    op->addrs_len += (size_t)n;
    op->naddrs++;
  } else {
    op->addrs[op->addrs_len] = '\0';
  }
}

static enum mts_status addr_parse(struct mts_net_dns_op *op, bool v6,
                                  const unsigned char *abuf, int alen) {
  int i;
  int n = NET_ADDR_MAX;
  int rc;

  if (v6) {
    struct ares_addr6ttl a6[NET_ADDR_MAX];

    rc = ares_parse_aaaa_reply(abuf, alen, NULL, a6, &n);
    for (i = 0; rc == ARES_SUCCESS && i < n; i++) {
      addr_append(op, AF_INET6, &a6[i].ip6addr);
    }
  } else {
    struct ares_addrttl a4[NET_ADDR_MAX];

    rc = ares_parse_a_reply(abuf, alen, NULL, a4, &n);
    for (i = 0; rc == ARES_SUCCESS && i < n; i++) {
      addr_append(op, AF_INET, &a4[i].ipaddr);
    }
  }
  return mts_net_ares_status(rc);
}

/* The overall status once both families are in: any address is
 * success; a hard failure (SERVFAIL, timeout) beats a negative answer,
 * because it may hide addresses. */
static enum mts_status addr_status(const struct mts_net_dns_op *op) {
  enum mts_status a = op->fam_st[0];
  enum mts_status b = op->fam_st[1];

  if (op->naddrs > 0) {
    return MTS_OK;
  }
  if (a != MTS_ENXDOMAIN && a != MTS_ENODATA && a != MTS_OK) {
    return a;
  }
  if (b != MTS_ENXDOMAIN && b != MTS_ENODATA && b != MTS_OK) {
    return b;
  }
  if (a == MTS_OK) {
    return MTS_ENODATA;
  }
  return a;
}

static void addr_answer(struct mts_net_dns_op *op, bool v6, int status,
                        const unsigned char *abuf, int alen) {
  enum mts_status st;
  bool ad;

  if (op->done) {
    goto done;
  }
  st = answer_rcode(status, op->net->ares_end_st, abuf, alen, &ad);
  if (st == MTS_OK) {
    st = addr_parse(op, v6, abuf, alen);
  }
  op->fam_st[v6 ? 1 : 0] = st;
  op->pending--;
  if (op->pending > 0) {
    goto done;
  }
  st = addr_status(op);
  if (st != MTS_OK) {
    set_errmsg(op, st, NULL);
    op_fail(op, st);
    goto done;
  }
  if (op->starting) {
    op_fail(op, MTS_OK); /* needs I/O, so never; but stay correct */
    goto done;
  }
  addr_deliver(op, MTS_OK);
done:
  op_unref(op);
}

static void a_answer(void *arg, int status, int timeouts, unsigned char *abuf,
                     int alen) {
  (void)timeouts;
  addr_answer(arg, false, status, abuf, alen);
}

static void aaaa_answer(void *arg, int status, int timeouts,
                        unsigned char *abuf, int alen) {
  (void)timeouts;
  addr_answer(arg, true, status, abuf, alen);
}

/* ---- deadline ---- */

static void deadline_fired(uv_timer_t *t) {
  struct mts_net_dns_op *op = t->data;
  struct mts_net *net = op->net;
  enum mts_status st;

  if (op->done) {
    return;
  }
  mts_net_enter(net);
  if (op->deferred) {
    st = op->deferred_st;
  } else if (op->kind == DNS_ADDR && op->naddrs > 0) {
    st = MTS_OK; /* one family answered: good enough */
  } else {
    st = MTS_ETIMEOUT;
    set_errmsg(op, st, "no answer within the deadline");
  }
  if (op->kind == DNS_TXT) {
    txt_deliver(op, st, NULL, false);
  } else {
    addr_deliver(op, st);
  }
  mts_net_leave(net);
}

/* ---- starting an op ---- */

static enum mts_status send_query(struct mts_net_dns_op *op, int type,
                                  ares_callback cb) {
  unsigned char *q = NULL;
  int qlen = 0;
  int rc;

  rc = ares_create_query(op->name, DNS_CLASS_IN, type, 0, 1, &q, &qlen,
                         NET_EDNS_PAYLOAD);
  if (rc != ARES_SUCCESS) {
    return mts_net_ares_status(rc);
  }
  if (qlen >= DNS_HDR_LEN) {
    q[3] = (unsigned char)(q[3] | DNS_AD_BIT);
  }
  op->refs++;
  ares_send(op->net->channel, q, qlen, cb, op);
  ares_free_string(q);
  return MTS_OK;
}

static bool name_ok(const char *name) {
  size_t len = strlen(name);
  size_t i;

  if (len == 0 || len > MTS_DOMAIN_MAX + 1 ||
      (len == MTS_DOMAIN_MAX + 1 && name[len - 1] != '.')) {
    return false;
  }
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)name[i];

    if (c <= 0x20 || c >= 0x7F) {
      return false;
    }
  }
  return true;
}

static enum mts_status op_start(struct mts_net *net, enum dns_kind kind,
                                const char *name, mts_net_dns_txt_cb txt_cb,
                                mts_net_addr_cb addr_cb, void *arg,
                                struct mts_net_dns_op **out) {
  struct mts_net_dns_op *op;
  enum mts_status st = MTS_OK;

  *out = NULL;
  if (net->destroying) {
    return MTS_ECANCELED;
  }
  if (!name_ok(name)) {
    return MTS_EINVAL;
  }
  op = mts_calloc(net->ctx, 1, sizeof(*op));
  if (op == NULL) {
    return MTS_ENOMEM;
  }
  op->net = net;
  op->ctx = net->ctx;
  op->kind = kind;
  op->txt_cb = txt_cb;
  op->addr_cb = addr_cb;
  op->arg = arg;
  memcpy(op->name, name, strlen(name) + 1);
  (void)uv_timer_init(net->loop, &op->deadline);
  op->deadline.data = op;
  op->refs = 1; /* the deadline timer, released in its close callback */
  op->starting = true;
  mts_net_enter(net);
  if (kind == DNS_TXT) {
    st = send_query(op, DNS_TYPE_TXT, txt_answer);
  } else {
    op->pending = 2;
    op->fam_st[0] = op->fam_st[1] = MTS_ETIMEOUT;
    st = send_query(op, DNS_TYPE_A, a_answer);
    if (st == MTS_OK) {
      st = send_query(op, DNS_TYPE_AAAA, aaaa_answer);
    } else {
      op->pending = 0;
    }
    /* When A is out but AAAA could not be built, the op is abandoned
     * below and the A answer finds it done. */
  }
  op->starting = false;
  if (st != MTS_OK) {
    /* Nothing was handed to the caller: abandon quietly. */
    op->done = true;
    mts_net_close_handle((uv_handle_t *)&op->deadline, deadline_closed);
    mts_net_dns_rearm(net);
    mts_net_leave(net);
    return st;
  }
  /* A completion during the start (no server, ENOMEM in c-ares) is
   * delivered from the loop, never from inside this call. */
  (void)uv_timer_start(&op->deadline, deadline_fired,
                       op->deferred ? 0 : net->dns_timeout_ms, 0);
  mts_net_dns_rearm(net);
  *out = op;
  mts_net_leave(net);
  return MTS_OK;
}

static void txt_fail(struct mts_net_op *link, enum mts_status st) {
  struct mts_net_dns_op *op = (struct mts_net_dns_op *)link;

  op->linked = false;
  set_errmsg(op, st, NULL);
  txt_deliver(op, st, NULL, false);
}

enum mts_status mts_net_dns_txt(struct mts_net *net, const char *name,
                                mts_net_dns_txt_cb cb, void *arg) {
  struct mts_net_dns_op *op = NULL;
  enum mts_status st;

  if (net == NULL || name == NULL || cb == NULL) {
    return MTS_EINVAL;
  }
  st = op_start(net, DNS_TXT, name, cb, NULL, arg, &op);
  if (st != MTS_OK) {
    return st;
  }
  op->link.fail = txt_fail;
  op->linked = true;
  mts_net_op_link(net, &op->link);
  return MTS_OK;
}

enum mts_status mts_net_dns_addr(struct mts_net *net, const char *name,
                                 mts_net_addr_cb cb, void *arg,
                                 struct mts_net_dns_op **out) {
  struct mts_net_dns_op *op = NULL;
  enum mts_status st;

  *out = NULL;
  st = op_start(net, DNS_ADDR, name, NULL, cb, arg, &op);
  if (st != MTS_OK) {
    return st;
  }
  *out = op;
  return MTS_OK;
}

void mts_net_dns_addr_cancel(struct mts_net_dns_op *op) {
  if (op != NULL && !op->done) {
    op_finish(op);
  }
}
