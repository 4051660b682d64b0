/*
 * net_cname.c - one CNAME-type lookup through the net's c-ares channel
 * (mtasts/net_cname.h).
 *
 * Kept apart from net_dns.c on purpose: the same shape as its TLSA
 * lookup (query built with ares_create_query() with EDNS, RD and AD,
 * sent with ares_send(); a hard deadline timer; linked into the net's
 * pending ops so that mts_net_destroy() ends it with MTS_ECANCELED; a
 * completion during the start is deferred to the loop), but its own
 * small copy of the helpers, which are static there. The answer section
 * is walked by hand with every read bounded (c-ares 1.18 has no CNAME
 * parser that keeps the owner names): at most NET_CNAME_WALK_MAX RRs;
 * names are expanded with ares_expand_name(), which checks bounds and
 * compression loops.
 */
#include "net/net_int.h"

#include <stdio.h>
#include <string.h>

#include <mtasts/net_cname.h>

#define NET_CNAME_HDR_LEN 12
#define NET_CNAME_AD_BIT 0x20u
#define NET_CNAME_RCODE_MASK 0x0Fu
#define NET_CNAME_RCODE_NXDOMAIN 3
#define NET_CNAME_CLASS_IN 1
#define NET_CNAME_TYPE 5 /* RFC 1035 3.2.2 */
#define NET_CNAME_WALK_MAX 256

struct cname_op {
  struct mts_net_op link; /* first: the net's pending-op list */
  struct mts_net *net;
  struct mts_ctx *ctx;
  bool done;
  bool starting;
  bool linked;
  bool deferred;
  enum mts_status deferred_st;
  bool deferred_ad;
  unsigned refs; /* outstanding query + the deadline timer */
  uv_timer_t deadline;
  mts_net_dns_cname_cb cb;
  void *arg;
  char errmsg[MTS_DOMAIN_MAX + 128];
  char name[MTS_DOMAIN_MAX + 2];
  char target[MTS_DOMAIN_MAX + 2];
};

static void op_unref(struct cname_op *op) {
  op->refs--;
  if (op->refs == 0) {
    mts_free(op->ctx, op);
  }
}

static void deadline_closed(uv_handle_t *h) {
  op_unref(h->data);
}

static void set_errmsg(struct cname_op *op, enum mts_status st,
                       const char *detail) {
  (void)snprintf(op->errmsg, sizeof(op->errmsg), "%s: %s%s%s", op->name,
                 mts_status_str(st), detail != NULL ? ": " : "",
                 detail != NULL ? detail : "");
}

/* Run the callback once and release the op's deadline. */
static void deliver(struct cname_op *op, enum mts_status st, bool ad) {
  mts_net_dns_cname_cb cb = op->cb;
  void *arg = op->arg;

  op->done = true;
  if (op->linked) {
    op->linked = false;
    mts_net_op_unlink(op->net, &op->link);
  }
  mts_net_close_handle((uv_handle_t *)&op->deadline, deadline_closed);
  cb(arg, st, st == MTS_OK ? op->target : NULL, ad,
     st == MTS_OK ? NULL : op->errmsg);
}

static void link_fail(struct mts_net_op *link, enum mts_status st) {
  struct cname_op *op = (struct cname_op *)link;

  op->linked = false;
  set_errmsg(op, st, NULL);
  deliver(op, st, false);
}

static unsigned get16(const unsigned char *p) {
  return (unsigned)p[0] << 8 | (unsigned)p[1];
}

/* Expand the name at \p *pos into \p out (if not NULL) and skip it. */
static bool take_name(const unsigned char *abuf, int alen, size_t *pos,
                      char *out, size_t outsz) {
  char *name = NULL;
  long enclen = 0;
  bool ok;

  if (*pos >= (size_t)alen || ares_expand_name(abuf + *pos, abuf, alen, &name,
                                               &enclen) != ARES_SUCCESS) {
    return false;
  }
  ok = enclen > 0 && (size_t)enclen <= (size_t)alen - *pos &&
       (out == NULL || strlen(name) < outsz);
  if (ok && out != NULL) {
    memcpy(out, name, strlen(name) + 1);
  }
  ares_free_string(name);
  if (ok) {
    *pos += (size_t)enclen;
  }
  return ok;
}

/* Names equal ignoring ASCII case and one trailing dot. */
static bool same_name(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b), i;

  la -= la > 0 && a[la - 1] == '.';
  lb -= lb > 0 && b[lb - 1] == '.';
  if (la != lb) {
    return false;
  }
  for (i = 0; i < la; i++) {
    char x = a[i], y = b[i];

    x = (char)(x >= 'A' && x <= 'Z' ? x + 32 : x);
    y = (char)(y >= 'A' && y <= 'Z' ? y + 32 : y);
    if (x != y) {
      return false;
    }
  }
  return true;
}

/* Find the CNAME owned by op->name in the answer section. \return
 * MTS_OK (op->target set), MTS_ENODATA or MTS_EIO. */
static enum mts_status cname_find(struct cname_op *op,
                                  const unsigned char *abuf, int alen) {
  size_t pos = NET_CNAME_HDR_LEN, len = (size_t)alen;
  unsigned qd, an, i;
  char owner[MTS_DOMAIN_MAX + 2];

  if (alen < NET_CNAME_HDR_LEN) {
    return MTS_EIO;
  }
  qd = get16(abuf + 4);
  an = get16(abuf + 6);
  if (qd != 1 || an > NET_CNAME_WALK_MAX) {
    return MTS_EIO;
  }
  if (!take_name(abuf, alen, &pos, NULL, 0) || len - pos < 4) {
    return MTS_EIO;
  }
  pos += 4;
  for (i = 0; i < an; i++) {
    unsigned type, class, rdlen;
    size_t rd;

    if (!take_name(abuf, alen, &pos, owner, sizeof(owner)) || len - pos < 10) {
      return MTS_EIO;
    }
    type = get16(abuf + pos);
    class = get16(abuf + pos + 2);
    rdlen = get16(abuf + pos + 8);
    pos += 10;
    if (rdlen > len - pos) {
      return MTS_EIO;
    }
    rd = pos;
    pos += rdlen;
    if (type == NET_CNAME_TYPE && class == NET_CNAME_CLASS_IN &&
        same_name(owner, op->name)) {
      if (!take_name(abuf, alen, &rd, op->target, sizeof(op->target)) ||
          rd > pos) {
        return MTS_EIO;
      }
      return MTS_OK;
    }
  }
  return MTS_ENODATA;
}

static void on_answer(void *arg, int status, int timeouts, unsigned char *abuf,
                      int alen) {
  struct cname_op *op = arg;
  enum mts_status st;
  bool ad = false;

  (void)timeouts;
  if (op->done) {
    goto done;
  }
  if (status == ARES_EDESTRUCTION && op->net->ares_end_st != MTS_OK) {
    st = op->net->ares_end_st;
  } else if (status != ARES_SUCCESS) {
    st = mts_net_ares_status(status);
  } else if (abuf == NULL || alen < NET_CNAME_HDR_LEN) {
    st = MTS_EIO;
  } else {
    unsigned rcode = abuf[3] & NET_CNAME_RCODE_MASK;

    ad = (abuf[3] & NET_CNAME_AD_BIT) != 0;
    st = rcode == 0                          ? cname_find(op, abuf, alen)
         : rcode == NET_CNAME_RCODE_NXDOMAIN ? MTS_ENXDOMAIN
                                             : MTS_ESERVFAIL;
  }
  if (st != MTS_OK) {
    set_errmsg(op, st, st == MTS_EIO ? "malformed answer" : NULL);
  }
  if (op->starting) {
    op->deferred = true;
    op->deferred_st = st;
    op->deferred_ad = ad;
    goto done;
  }
  deliver(op, st, ad);
done:
  op_unref(op);
}

static void deadline_fired(uv_timer_t *t) {
  struct cname_op *op = t->data;
  struct mts_net *net = op->net;
  enum mts_status st;
  bool ad = false;

  if (op->done) {
    return;
  }
  mts_net_enter(net);
  if (op->deferred) {
    st = op->deferred_st; /* the answer came during the start */
    ad = op->deferred_ad;
  } else {
    st = MTS_ETIMEOUT;
    set_errmsg(op, st, "no answer within the deadline");
  }
  deliver(op, st, ad);
  mts_net_leave(net);
}

static bool name_ok(const char *name) {
  size_t len = strlen(name), i;

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

enum mts_status mts_net_dns_cname(struct mts_net *net, const char *name,
                                  mts_net_dns_cname_cb cb, void *arg) {
  struct cname_op *op;
  unsigned char *q = NULL;
  int qlen = 0, rc;

  if (net == NULL || name == NULL || cb == NULL || !name_ok(name)) {
    return MTS_EINVAL;
  }
  if (net->destroying) {
    return MTS_ECANCELED;
  }
  op = mts_calloc(net->ctx, 1, sizeof(*op));
  if (op == NULL) {
    return MTS_ENOMEM;
  }
  op->net = net;
  op->ctx = net->ctx;
  op->cb = cb;
  op->arg = arg;
  memcpy(op->name, name, strlen(name) + 1);
  rc = ares_create_query(op->name, NET_CNAME_CLASS_IN, NET_CNAME_TYPE, 0, 1, &q,
                         &qlen, NET_EDNS_PAYLOAD);
  if (rc != ARES_SUCCESS) {
    mts_free(net->ctx, op);
    return rc == ARES_ENOMEM ? MTS_ENOMEM : MTS_EINVAL;
  }
  if (qlen >= NET_CNAME_HDR_LEN) {
    q[3] = (unsigned char)(q[3] | NET_CNAME_AD_BIT);
  }
  (void)uv_timer_init(net->loop, &op->deadline);
  op->deadline.data = op;
  op->refs = 2; /* the deadline timer and the query */
  op->starting = true;
  mts_net_enter(net);
  ares_send(net->channel, q, qlen, on_answer, op);
  ares_free_string(q);
  op->starting = false;
  if (!op->done) {
    (void)uv_timer_start(&op->deadline, deadline_fired,
                         op->deferred ? 0 : net->dns_timeout_ms, 0);
    op->link.fail = link_fail;
    op->linked = true;
    mts_net_op_link(net, &op->link);
  }
  mts_net_dns_rearm(net);
  mts_net_leave(net);
  return MTS_OK;
}
