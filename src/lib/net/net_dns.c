/*
 * net_dns.c - TXT, MX, TLSA and address lookups through c-ares on the
 * libuv loop.
 *
 * Queries are built with ares_create_query() (EDNS, RD and the AD bit
 * set, RFC 6840 5.7: "I understand AD") and sent with ares_send(), which
 * is what ares_query() does minus the search list and with our header
 * bits. The answer is read raw: the RCODE and AD bit from the header,
 * the TXT strings with ares_parse_txt_reply_ext() (record_start splits
 * RRs), MX with ares_parse_mx_reply(), addresses with
 * ares_parse_a_reply()/ares_parse_aaaa_reply(). c-ares 1.18 has no TLSA
 * parser: tlsa_count() walks the RR headers of the answer section only
 * (names skipped with ares_expand_name(), every read bounded) and counts
 * type 52; the record contents are not read.
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
#define DNS_TYPE_MX 15
#define DNS_TYPE_TXT 16
#define DNS_TYPE_AAAA 28
#define DNS_TYPE_TLSA 52 /* RFC 6698 7.1 */
/* Answer records we walk looking for TLSA: far more than any real
 * answer (a CNAME chain plus an RRset), and a bound on the walk. */
#define DNS_TLSA_WALK_MAX 256
/* Addresses we keep per name and family: more is never useful for one
 * HTTPS fetch, and it bounds the CURLOPT_RESOLVE string. */
#define NET_ADDR_MAX 8
/* "[" + INET6_ADDRSTRLEN + "]," per address. */
#define NET_ADDRS_BUF (2 * NET_ADDR_MAX * (INET6_ADDRSTRLEN + 3))

enum dns_kind { DNS_TXT = 0, DNS_ADDR = 1, DNS_MX = 2, DNS_TLSA = 3 };

struct mts_net_dns_op {
  struct mts_net_op link; /* TXT/MX/TLSA ops: pending user-visible op */
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
  mts_net_dns_mx_cb mx_cb;
  mts_net_dns_tlsa_cb tlsa_cb;
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

static void mx_deliver(struct mts_net_dns_op *op, enum mts_status st,
                       const struct mts_net_mx *mx, size_t n, bool ad) {
  mts_net_dns_mx_cb cb = op->mx_cb;
  void *arg = op->arg;

  op_finish(op);
  cb(arg, st, st == MTS_OK ? mx : NULL, st == MTS_OK ? n : 0, ad,
     st == MTS_OK ? NULL : op->errmsg);
}

static void tlsa_deliver(struct mts_net_dns_op *op, enum mts_status st,
                         size_t count, bool ad) {
  mts_net_dns_tlsa_cb cb = op->tlsa_cb;
  void *arg = op->arg;

  op_finish(op);
  cb(arg, st, st == MTS_OK ? count : 0, ad,
     st == MTS_OK ? NULL : op->errmsg);
}

/* Deliver a result without data: a failure, or a deferred status. */
static void op_deliver_empty(struct mts_net_dns_op *op, enum mts_status st) {
  switch (op->kind) {
  case DNS_TXT:
    txt_deliver(op, st, NULL, false);
    break;
  case DNS_ADDR:
    addr_deliver(op, st);
    break;
  case DNS_MX:
    mx_deliver(op, st == MTS_OK ? MTS_EIO : st, NULL, 0, false);
    break;
  case DNS_TLSA:
    tlsa_deliver(op, st == MTS_OK ? MTS_EIO : st, 0, false);
    break;
  }
}

static void op_fail(struct mts_net_dns_op *op, enum mts_status st) {
  if (op->starting) {
    if (!op->deferred) {
      op->deferred = true;
      op->deferred_st = st;
    }
    return;
  }
  op_deliver_empty(op, st);
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

/* ---- MX ---- */

/* A negative answer (RFC 2308) whose AD bit means something: an
 * authenticated denial of existence (RFC 4035 3.2.3). */
static bool is_denial(enum mts_status st) {
  return st == MTS_ENXDOMAIN || st == MTS_ENODATA;
}

static char lower_ascii(char c) {
  return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* The records of \p abuf as one allocation: the array, then the
 * strings (lower case, trailing dot dropped). */
static enum mts_status mx_build(struct mts_ctx *ctx, const unsigned char *abuf,
                                int alen, struct mts_net_mx **out,
                                size_t *nout) {
  struct ares_mx_reply *mx = NULL;
  const struct ares_mx_reply *m;
  struct mts_net_mx *arr = NULL;
  size_t n = 0, strbytes = 0, off, i, len;
  char *strs;
  enum mts_status st;
  int rc;

  *out = NULL;
  *nout = 0;
  rc = ares_parse_mx_reply(abuf, alen, &mx);
  if (rc != ARES_SUCCESS) {
    st = mts_net_ares_status(rc);
    goto done;
  }
  for (m = mx; m != NULL; m = m->next) {
    len = m->host != NULL ? strlen(m->host) : 0;
    if (len > MTS_DOMAIN_MAX + 1 || n >= 65535) {
      st = MTS_EIO; /* c-ares bounds names already; never trust it */
      goto done;
    }
    n++;
    strbytes += len + 1;
  }
  if (n == 0) {
    st = MTS_ENODATA;
    goto done;
  }
  /* n <= 65535 and each string <= 255 bytes: no overflow. */
  arr = mts_malloc(ctx, n * sizeof(*arr) + strbytes);
  if (arr == NULL) {
    st = MTS_ENOMEM;
    goto done;
  }
  strs = (char *)(arr + n);
  off = 0;
  for (m = mx, i = 0; m != NULL; m = m->next, i++) {
    len = m->host != NULL ? strlen(m->host) : 0;
    if (len > 0 && m->host[len - 1] == '.') {
      len--;
    }
    arr[i].preference = m->priority;
    arr[i].exchange = strs + off;
    for (size_t k = 0; k < len; k++) {
      strs[off + k] = lower_ascii(m->host[k]);
    }
    strs[off + len] = '\0';
    off += len + 1;
  }
  *out = arr;
  *nout = n;
  arr = NULL;
  st = MTS_OK;
done:
  if (mx != NULL) {
    ares_free_data(mx);
  }
  mts_free(ctx, arr);
  return st;
}

static void mx_answer(void *arg, int status, int timeouts, unsigned char *abuf,
                      int alen) {
  struct mts_net_dns_op *op = arg;
  struct mts_net_mx *mx = NULL;
  size_t n = 0;
  enum mts_status st;
  bool ad;

  (void)timeouts;
  if (op->done) {
    goto done;
  }
  st = answer_rcode(status, op->net->ares_end_st, abuf, alen, &ad);
  if (st == MTS_OK) {
    st = mx_build(op->ctx, abuf, alen, &mx, &n);
  }
  if (is_denial(st) && !op->starting) {
    set_errmsg(op, st, NULL);
    mx_deliver(op, st, NULL, 0, ad); /* authenticated denial: keep AD */
    goto done;
  }
  if (st != MTS_OK || op->starting) {
    set_errmsg(op, st, NULL);
    op_fail(op, st != MTS_OK ? st : MTS_EIO);
    goto done;
  }
  mx_deliver(op, MTS_OK, mx, n, ad);
done:
  mts_free(op->ctx, mx);
  op_unref(op);
}

/* ---- TLSA ---- */

/* Skip the (possibly compressed) name at \p *pos: ares_expand_name()
 * checks labels, bounds and pointer loops. */
static bool skip_name(const unsigned char *abuf, int alen, size_t *pos) {
  char *name = NULL;
  long enclen = 0;

  if (*pos >= (size_t)alen ||
      ares_expand_name(abuf + *pos, abuf, alen, &name, &enclen) !=
          ARES_SUCCESS) {
    return false;
  }
  ares_free_string(name);
  if (enclen <= 0 || (size_t)enclen > (size_t)alen - *pos) {
    return false;
  }
  *pos += (size_t)enclen;
  return true;
}

static unsigned get16(const unsigned char *p) {
  return (unsigned)p[0] << 8 | (unsigned)p[1];
}

/* Count the TLSA (type 52, class IN) records of the answer section.
 * c-ares 1.18 has no TLSA parser; only the RR headers are read, every
 * read bounded by \p alen. \return MTS_OK, MTS_ENODATA or MTS_EIO. */
static enum mts_status tlsa_count(const unsigned char *abuf, int alen,
                                  size_t *count) {
  size_t pos = DNS_HDR_LEN, len = (size_t)alen;
  unsigned qd, an, i;

  *count = 0;
  if (alen < DNS_HDR_LEN) {
    return MTS_EIO;
  }
  qd = get16(abuf + 4);
  an = get16(abuf + 6);
  if (qd != 1 || an > DNS_TLSA_WALK_MAX) {
    return MTS_EIO; /* our query has one question */
  }
  if (!skip_name(abuf, alen, &pos) || len - pos < 4) {
    return MTS_EIO;
  }
  pos += 4; /* QTYPE, QCLASS */
  for (i = 0; i < an; i++) {
    unsigned type, class, rdlen;

    if (!skip_name(abuf, alen, &pos) || len - pos < 10) {
      return MTS_EIO;
    }
    type = get16(abuf + pos);
    class = get16(abuf + pos + 2);
    rdlen = get16(abuf + pos + 8);
    pos += 10;
    if (rdlen > len - pos) {
      return MTS_EIO;
    }
    pos += rdlen;
    if (type == DNS_TYPE_TLSA && class == DNS_CLASS_IN) {
      (*count)++;
    }
  }
  return *count > 0 ? MTS_OK : MTS_ENODATA;
}

static void tlsa_answer(void *arg, int status, int timeouts,
                        unsigned char *abuf, int alen) {
  struct mts_net_dns_op *op = arg;
  size_t count = 0;
  enum mts_status st;
  bool ad;

  (void)timeouts;
  if (op->done) {
    goto done;
  }
  st = answer_rcode(status, op->net->ares_end_st, abuf, alen, &ad);
  if (st == MTS_OK) {
    st = tlsa_count(abuf, alen, &count);
  }
  if (is_denial(st) && !op->starting) {
    set_errmsg(op, st, NULL);
    tlsa_deliver(op, st, 0, ad); /* authenticated denial: keep AD */
    goto done;
  }
  if (st != MTS_OK || op->starting) {
    set_errmsg(op, st, st == MTS_EIO ? "malformed answer" : NULL);
    op_fail(op, st != MTS_OK ? st : MTS_EIO);
    goto done;
  }
  tlsa_deliver(op, MTS_OK, count, ad);
done:
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
  op_deliver_empty(op, st);
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

/* The callbacks of an op: the one of its kind is set. */
struct op_cbs {
  mts_net_dns_txt_cb txt;
  mts_net_addr_cb addr;
  mts_net_dns_mx_cb mx;
  mts_net_dns_tlsa_cb tlsa;
};

static enum mts_status op_start(struct mts_net *net, enum dns_kind kind,
                                const char *name, const struct op_cbs *cbs,
                                void *arg, struct mts_net_dns_op **out) {
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
  op->txt_cb = cbs->txt;
  op->addr_cb = cbs->addr;
  op->mx_cb = cbs->mx;
  op->tlsa_cb = cbs->tlsa;
  op->arg = arg;
  memcpy(op->name, name, strlen(name) + 1);
  (void)uv_timer_init(net->loop, &op->deadline);
  op->deadline.data = op;
  op->refs = 1; /* the deadline timer, released in its close callback */
  op->starting = true;
  mts_net_enter(net);
  if (kind == DNS_TXT) {
    st = send_query(op, DNS_TYPE_TXT, txt_answer);
  } else if (kind == DNS_MX) {
    st = send_query(op, DNS_TYPE_MX, mx_answer);
  } else if (kind == DNS_TLSA) {
    st = send_query(op, DNS_TYPE_TLSA, tlsa_answer);
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

/* A pending user-visible op ends early (net destroyed, socket OOM). */
static void link_fail(struct mts_net_op *link, enum mts_status st) {
  struct mts_net_dns_op *op = (struct mts_net_dns_op *)link;

  op->linked = false;
  set_errmsg(op, st, NULL);
  op_deliver_empty(op, st);
}

/* Start a user-visible lookup (TXT, MX, TLSA): linked, so that
 * mts_net_destroy() ends it with MTS_ECANCELED. */
static enum mts_status linked_start(struct mts_net *net, enum dns_kind kind,
                                    const char *name, const struct op_cbs *cbs,
                                    void *arg) {
  struct mts_net_dns_op *op = NULL;
  enum mts_status st;

  if (net == NULL || name == NULL) {
    return MTS_EINVAL;
  }
  st = op_start(net, kind, name, cbs, arg, &op);
  if (st != MTS_OK) {
    return st;
  }
  op->link.fail = link_fail;
  op->linked = true;
  mts_net_op_link(net, &op->link);
  return MTS_OK;
}

enum mts_status mts_net_dns_txt(struct mts_net *net, const char *name,
                                mts_net_dns_txt_cb cb, void *arg) {
  struct op_cbs cbs = {.txt = cb};

  if (cb == NULL) {
    return MTS_EINVAL;
  }
  return linked_start(net, DNS_TXT, name, &cbs, arg);
}

enum mts_status mts_net_dns_mx(struct mts_net *net, const char *name,
                               mts_net_dns_mx_cb cb, void *arg) {
  struct op_cbs cbs = {.mx = cb};

  if (cb == NULL) {
    return MTS_EINVAL;
  }
  return linked_start(net, DNS_MX, name, &cbs, arg);
}

enum mts_status mts_net_dns_tlsa(struct mts_net *net, const char *name,
                                 mts_net_dns_tlsa_cb cb, void *arg) {
  struct op_cbs cbs = {.tlsa = cb};

  if (cb == NULL) {
    return MTS_EINVAL;
  }
  return linked_start(net, DNS_TLSA, name, &cbs, arg);
}

enum mts_status mts_net_dns_addr(struct mts_net *net, const char *name,
                                 mts_net_addr_cb cb, void *arg,
                                 struct mts_net_dns_op **out) {
  struct mts_net_dns_op *op = NULL;
  struct op_cbs cbs = {.addr = cb};
  enum mts_status st;

  *out = NULL;
  st = op_start(net, DNS_ADDR, name, &cbs, arg, &op);
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
