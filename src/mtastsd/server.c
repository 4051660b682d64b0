/*
 * server.c - listeners and socketmap connections. See server.h.
 *
 * A connection's life: accepted -> reading (requests dispatched, replies
 * queued in order) -> closing (uv_close on the stream and the timer) ->
 * freed when both close callbacks have run. Requests still pending when
 * a connection closes are cancelled through their cancel callbacks;
 * replies already handed to uv_write are freed in the write callback,
 * which libuv runs (with UV_ECANCELED) before the close callback.
 *
 * Nothing is freed from inside mtastsd_req_reply(): a reply given while
 * its request is being dispatched is only queued, and a write error
 * closes the connection from the next loop iteration (the idle timer set
 * to 0), so a handler never sees its request vanish under it.
 */
#define _DEFAULT_SOURCE 1 /* SO_REUSEPORT */
#include "server.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define SRV_LOG "PF"
/* Bytes read at a time per connection. Reads go to one buffer of the
 * server's (the loop is single-threaded and parses each read at once);
 * only input left unparsed after a read (pipelined requests beyond the
 * limits) is copied to a buffer of the connection's own, freed once
 * parsed. Whole requests are parsed in place; a request split across
 * reads is kept in a netstring reader (MTS_SOCKETMAP_REQUEST_MAX bytes)
 * made for it and freed once it is whole. So an idle connection
 * (Postfix keeps them open) holds no buffer at all. */
#define IN_SIZE 16384
/* Reply frames up to this size live inside their request. */
#define REPLY_INLINE 200
/* Listen backlog (the peer's was 100). */
#define BACKLOG 1024
/* At most this many listening sockets (addresses of one host name). */
#define MAX_LISTENERS 16

struct listener {
  union {
    uv_handle_t h;
    uv_stream_t s;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } u;
  struct mtastsd_server *srv;
  bool is_unix;
};

struct conn;

struct mtastsd_req {
  struct conn *c;
  struct mtastsd_req *next;
  bool done;
  uint8_t *frame; /* the framed reply, once done */
  size_t frame_len;
  mtastsd_cancel_fn cancel;
  void *cancel_arg;
  uint64_t t0; /* uv_hrtime() at arrival, for the latency histogram */
  uv_write_t w;
  /* The frame when it fits (every usual reply), so a reply costs no
   * allocation of its own. */
  uint8_t small[REPLY_INLINE];
};

struct conn {
  union {
    uv_handle_t h;
    uv_stream_t s;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } u;
  uv_timer_t timer;
  struct mtastsd_server *srv;
  struct conn *prev, *next; /* srv->conns */
  /* Holds a request split across reads, and only then (rd.buf NULL
   * otherwise): whole requests are parsed in place (conn_process). */
  struct mts_netstring_reader rd;
  struct mtastsd_req *head, *tail; /* replies not yet handed to uv_write */
  unsigned npending;               /* requests in head..tail */
  unsigned nwrites;                /* uv_write calls not yet completed */
  int open_handles;                /* stream, timer: freed at 0 */
  bool reading;
  bool closing;
  bool draining;    /* shutdown: no new requests */
  bool eof;         /* the client shut down its side: answer, then close */
  bool dispatching; /* inside the handler: do not flush */
  bool doomed;      /* close at the next timer tick */
  size_t in_off, in_len;
  uint64_t last_io; /* uv_now() of the last read or write (idle timer) */
  char peer[INET6_ADDRSTRLEN + 8];
  uint8_t *in; /* NULL; srv->in inside on_read; or an own IN_SIZE buffer
                  holding unparsed input */
};

struct mtastsd_server {
  uv_loop_t *loop;
  struct mts_ctx *ctx;
  struct mtastsd_log *log;
  struct mtastsd_server_opts o;
  mtastsd_request_fn fn;
  void *arg;
  struct listener *listeners[MAX_LISTENERS];
  size_t nlisteners;
  size_t open_listeners; /* not yet closed */
  struct conn *conns;
  size_t nconns; /* open (not closing) connections */
  size_t nalloc; /* connection structs not yet freed */
  bool at_limit; /* logged "too many connections" */
  bool shutting_down;
  mtastsd_drained_fn drained;
  void *drained_arg;
  struct mtastsd_server_stats stats; /* conns is filled in on demand */
  uint8_t in[IN_SIZE]; /* shared read buffer (see IN_SIZE) */
};

static void conn_close(struct conn *c);
static void conn_resume(struct conn *c);
static void on_timer(uv_timer_t *t);

/* Close \p c from the next loop iteration (see the top comment). */
static void conn_doom(struct conn *c) {
  c->doomed = true;
  (void)uv_timer_start(&c->timer, on_timer, 0, 0);
}

/* ---- shutdown bookkeeping ---- */

static void check_drained(struct mtastsd_server *s) {
  if (s->shutting_down && s->drained != NULL && s->nalloc == 0 &&
      s->open_listeners == 0) {
    mtastsd_drained_fn fn = s->drained;

    s->drained = NULL;
    fn(s->drained_arg);
  }
}

/* ---- requests and replies ---- */

static void req_free(struct mtastsd_req *r) {
  if (r->frame != r->small) {
    free(r->frame);
  }
  free(r);
}

static void on_write(uv_write_t *w, int status) {
  struct mtastsd_req *r = w->data;
  struct conn *c = r->c;

  req_free(r);
  c->nwrites--;
  if (status < 0 && status != UV_ECANCELED && !c->closing) {
    LOG_D(c->srv->log, SRV_LOG, "%s: write failed: %s", c->peer,
          uv_strerror(status));
    conn_close(c);
    return;
  }
  if (!c->closing) {
    c->last_io = uv_now(c->srv->loop); /* idle counts from the last I/O */
    conn_resume(c);
  }
}

/* Hand every answered request at the head of the queue to uv_write. */
static void conn_flush(struct conn *c) {
  while (!c->closing && c->head != NULL && c->head->done) {
    struct mtastsd_req *r = c->head;
    uv_buf_t b = uv_buf_init((char *)r->frame, (unsigned)r->frame_len);
    int rc;

    c->head = r->next;
    if (c->head == NULL) {
      c->tail = NULL;
    }
    c->npending--;
    /* Write at once when nothing is queued before it: no write request,
     * so no write callback and no epoll_ctl to drop POLLOUT again (libuv
     * does one per completed uv_write: a third of the syscalls of a
     * cached lookup). What does not go out now goes through uv_write. */
    rc = uv_try_write(&c->u.s, &b, 1);
    if (rc >= 0 && (size_t)rc == b.len) {
      req_free(r);
      c->last_io = uv_now(c->srv->loop);
      continue;
    }
    if (rc >= 0) {
      b = uv_buf_init(b.base + rc, (unsigned)(b.len - (size_t)rc));
    }
    if (rc >= 0 || rc == UV_EAGAIN) {
      r->w.data = r;
      rc = uv_write(&r->w, &c->u.s, &b, 1, on_write);
    }
    if (rc < 0) {
      LOG_D(c->srv->log, SRV_LOG, "%s: write failed: %s", c->peer,
            uv_strerror(rc));
      req_free(r);
      /* Close from the loop, not from under a handler (see top). */
      conn_doom(c);
      return;
    }
    c->nwrites++;
  }
}

void mtastsd_req_set_cancel(struct mtastsd_req *req, mtastsd_cancel_fn fn,
                            void *arg) {
  req->cancel = fn;
  req->cancel_arg = arg;
}

const char *mtastsd_req_peer(const struct mtastsd_req *req) {
  return req->c->peer;
}

static bool frame_reply(struct mtastsd_req *r,
                        enum mts_socketmap_reply_kind kind, const char *text,
                        size_t len) {
  /* "NOTFOUND " is the longest fixed prefix (9 bytes). */
  size_t cap = len + 16 + MTS_NETSTRING_OVERHEAD_MAX;
  size_t n = 0;

  if (len > MTS_SOCKETMAP_REPLY_MAX) {
    return false;
  }
  if (cap <= sizeof(r->small)) {
    r->frame = r->small;
  } else {
    r->frame = malloc(cap);
    if (r->frame == NULL) {
      return false;
    }
  }
  if (mts_socketmap_reply_write(r->frame, cap, kind, text, len, &n) != MTS_OK) {
    if (r->frame != r->small) {
      free(r->frame);
    }
    r->frame = NULL;
    return false;
  }
  r->frame_len = n;
  return true;
}

/* Count \p req's reply (as \p kind; an encoding failure still counts as
 * what was asked) and its latency. */
static void count_reply(struct mtastsd_server *s, const struct mtastsd_req *req,
                        enum mts_socketmap_reply_kind kind) {
  static const uint64_t bounds[MTASTSD_LATENCY_NBUCKETS] =
      MTASTSD_LATENCY_BOUNDS_US;
  uint64_t us = (uv_hrtime() - req->t0) / 1000u;
  size_t i;

  if ((unsigned)kind < sizeof(s->stats.replies) / sizeof(s->stats.replies[0])) {
    s->stats.replies[kind]++;
  }
  for (i = 0; i < MTASTSD_LATENCY_NBUCKETS; i++) {
    if (us <= bounds[i]) {
      s->stats.lat_buckets[i]++;
      break;
    }
  }
  s->stats.lat_count++;
  s->stats.lat_sum_us += us;
}

void mtastsd_req_reply(struct mtastsd_req *req,
                       enum mts_socketmap_reply_kind kind, const char *text,
                       size_t len) {
  struct conn *c = req->c;
  static const char internal[] = "internal error";

  if (req->done) {
    return; /* a second answer: ignore */
  }
  if (!frame_reply(req, kind, text, len)) {
    LOG_E(c->srv->log, SRV_LOG, "%s: cannot encode a reply (kind %d, %zu bytes)",
          c->peer, (int)kind, len);
    if (!frame_reply(req, MTS_SOCKETMAP_REPLY_TEMP, internal,
                     sizeof(internal) - 1)) {
      /* Out of memory even for that: drop the connection. */
      req->done = true;
      conn_doom(c);
      return;
    }
  }
  req->done = true;
  req->cancel = NULL;
  count_reply(c->srv, req, kind);
  if (!c->dispatching) {
    conn_flush(c);
    conn_resume(c);
  }
}

/* ---- reading ---- */

/* Drop the input buffer once everything in it has been parsed. */
static void conn_release_in(struct conn *c) {
  if (c->in != NULL && c->in_off == c->in_len) {
    if (c->in != c->srv->in) {
      free(c->in);
    }
    c->in = NULL;
    c->in_off = c->in_len = 0;
  }
}

/* End of on_read: input still unparsed in the shared buffer moves to a
 * buffer of the connection's own (the next read of any connection
 * overwrites the shared one). */
static void conn_keep_in(struct conn *c) {
  uint8_t *own;

  conn_release_in(c);
  if (c->in != c->srv->in) {
    return;
  }
  if (c->closing) {
    c->in = NULL; /* closing: nothing more is parsed */
    c->in_off = c->in_len = 0;
    return;
  }
  own = malloc(IN_SIZE);
  if (own == NULL) {
    c->in = NULL;
    c->in_off = c->in_len = 0;
    LOG_E(c->srv->log, SRV_LOG, "%s: out of memory", c->peer);
    conn_close(c);
    return;
  }
  c->in_len -= c->in_off;
  memcpy(own, c->in + c->in_off, c->in_len);
  c->in_off = 0;
  c->in = own;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  struct conn *c = h->data;

  (void)suggested;
  conn_release_in(c);
  if (c->in == NULL) {
    c->in = c->srv->in; /* on_read moves what is left to an own buffer */
  }
  *buf = uv_buf_init((char *)c->in + c->in_len,
                     (unsigned)(IN_SIZE - c->in_len));
}

static void dispatch(struct conn *c, const uint8_t *payload, size_t len) {
  struct mts_socketmap_request sm;
  struct mtastsd_req *r = calloc(1, sizeof(*r));
  enum mts_status st;

  if (r == NULL) {
    LOG_E(c->srv->log, SRV_LOG, "%s: out of memory", c->peer);
    conn_close(c);
    return;
  }
  r->c = c;
  r->t0 = uv_hrtime();
  if (c->tail != NULL) {
    c->tail->next = r;
  } else {
    c->head = r;
  }
  c->tail = r;
  c->npending++;

  st = mts_socketmap_request_parse(payload, len, &sm);
  c->dispatching = true;
  if (st != MTS_OK) {
    char shown[101];
    static const char why[] = "malformed socketmap request";

    /* The framing was fine, so the stream is still in sync: answer and
     * keep the connection (AN-7). */
    LOG_W(c->srv->log, SRV_LOG, "%s: malformed socketmap request (%s): \"%s\"",
          c->peer, mts_status_str(st),
          mtastsd_log_printable(payload, len, shown, sizeof(shown)));
    mtastsd_req_reply(r, MTS_SOCKETMAP_REPLY_PERM, why, sizeof(why) - 1);
  } else {
    c->srv->fn(c->srv->arg, r, &sm);
  }
  c->dispatching = false;
}

static bool over_limits(const struct conn *c) {
  return c->npending >= c->srv->o.max_pending ||
         uv_stream_get_write_queue_size(&c->u.s) > c->srv->o.write_hiwat;
}

/* Parse and dispatch buffered input while the limits allow; then flush
 * and start or stop reading to match. */
static void conn_process(struct conn *c) {
again:
  while (!c->closing && !c->draining && !c->doomed && c->in_off < c->in_len &&
         !over_limits(c)) {
    const uint8_t *payload = NULL;
    size_t len = 0;
    enum mts_netstring_result nr = MTS_NETSTRING_NEED_MORE;
    enum mts_netstring_error err = MTS_NETSTRING_ENONE;

    if (c->rd.buf == NULL) {
      /* No partial request: parse a whole one in place (no copy). */
      size_t used = 0;

      nr = mts_netstring_parse(c->in + c->in_off, c->in_len - c->in_off,
                               MTS_SOCKETMAP_REQUEST_MAX, &payload, &len,
                               &used, &err);
      if (nr == MTS_NETSTRING_COMPLETE) {
        c->in_off += used;
        dispatch(c, payload, len);
        continue;
      }
      if (nr == MTS_NETSTRING_NEED_MORE) {
        /* The start of a request: a reader keeps it until the rest
         * comes (its buffer is the request limit, so it lives only
         * while a request is split). */
        if (mts_netstring_reader_init(&c->rd, c->srv->ctx,
                                      MTS_SOCKETMAP_REQUEST_MAX) != MTS_OK) {
          LOG_E(c->srv->log, SRV_LOG, "%s: out of memory", c->peer);
          conn_close(c);
          return;
        }
      }
    }
    if (c->rd.buf != NULL) {
      c->in_off += mts_netstring_reader_feed(&c->rd, c->in + c->in_off,
                                             c->in_len - c->in_off);
      nr = mts_netstring_reader_next(&c->rd, &payload, &len);
      err = mts_netstring_reader_error(&c->rd);
    }
    if (nr == MTS_NETSTRING_ERROR) {
      LOG_W(c->srv->log, SRV_LOG,
            "%s: bad netstring (%s): closing the connection", c->peer,
            mts_netstring_error_str(err));
      conn_close(c);
      return;
    }
    if (nr == MTS_NETSTRING_NEED_MORE) {
      break; /* everything was consumed */
    }
    dispatch(c, payload, len);
    /* The split request is whole and answered or queued: drop the
     * reader (payload pointed into it, used only during dispatch). */
    mts_netstring_reader_cleanup(&c->rd);
  }
  conn_release_in(c);
  if (c->closing) {
    return;
  }
  conn_flush(c);
  /* Replies written at once (conn_flush) have no write callback to come
   * back here: when they made room, go on with the buffered input. */
  if (!c->closing && !c->draining && !c->doomed && c->in_off < c->in_len &&
      !over_limits(c)) {
    goto again;
  }
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);

/* Re-evaluate reading after a reply, a write or new input. */
static void conn_resume(struct conn *c) {
  bool want;

  if (c->closing) {
    return;
  }
  conn_process(c);
  if (c->closing) {
    return;
  }
  if (c->draining || c->eof) {
    /* At shutdown buffered requests are dropped (Postfix retries once
     * after EOF); after the client's EOF they are still answered. */
    if (c->npending == 0 && c->nwrites == 0 &&
        (c->draining || c->in_off == c->in_len || c->doomed)) {
      conn_close(c);
    }
    return;
  }
  want = c->in_off == c->in_len && !over_limits(c) && !c->doomed;
  if (want && !c->reading) {
    if (uv_read_start(&c->u.s, on_alloc, on_read) == 0) {
      c->reading = true;
    }
  } else if (!want && c->reading) {
    (void)uv_read_stop(&c->u.s);
    c->reading = false;
  }
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
  struct conn *c = st->data;

  (void)buf;
  if (nread > 0) {
    c->in_len += (size_t)nread;
    c->last_io = uv_now(c->srv->loop);
    conn_resume(c);
  } else if (nread < 0 && nread != UV_EOF) {
    LOG_D(c->srv->log, SRV_LOG, "%s: read failed: %s", c->peer,
          uv_strerror((int)nread));
    conn_close(c);
  } else if (nread < 0) {
    /* EOF: the client sends no more, but may still read (a half-close,
     * as `nc` does): answer what was asked, then close. */
    (void)uv_read_stop(&c->u.s);
    c->reading = false;
    c->eof = true;
    conn_resume(c);
  }
  conn_keep_in(c); /* also after nread == 0 (EAGAIN) */
}

static void on_timer(uv_timer_t *t) {
  struct conn *c = t->data;

  if (c->closing) {
    return;
  }
  if (c->doomed) {
    conn_close(c);
    return;
  }
  {
    /* The timer is not moved on every read and write (a timer heap
     * update each): it fires idle_ms after it was set, and waits again
     * for what is left when there was I/O meanwhile. */
    uint64_t idle = uv_now(c->srv->loop) - c->last_io;

    if (idle < c->srv->o.idle_ms) {
      (void)uv_timer_start(&c->timer, on_timer, c->srv->o.idle_ms - idle, 0);
      return;
    }
  }
  if (c->npending == 0 && c->nwrites == 0) {
    LOG_D(c->srv->log, SRV_LOG, "%s: idle for %llu ms: closing", c->peer,
          (unsigned long long)c->srv->o.idle_ms);
    conn_close(c);
    return;
  }
  /* Requests in flight: they end by their deadline; wait again. */
  (void)uv_timer_start(&c->timer, on_timer, c->srv->o.idle_ms, 0);
}

/* ---- closing ---- */

static void on_conn_handle_closed(uv_handle_t *h) {
  struct conn *c = h->data;
  struct mtastsd_server *s = c->srv;

  if (--c->open_handles > 0) {
    return;
  }
  mts_netstring_reader_cleanup(&c->rd);
  if (c->in != s->in) {
    free(c->in);
  }
  free(c);
  s->nalloc--;
  check_drained(s);
}

static void conn_close(struct conn *c) {
  struct mtastsd_server *s = c->srv;
  struct mtastsd_req *r, *next;

  if (c->closing) {
    return;
  }
  c->closing = true;
  /* Pending requests: tell their owners; answered ones: drop. */
  for (r = c->head; r != NULL; r = next) {
    next = r->next;
    if (!r->done && r->cancel != NULL) {
      r->cancel(r->cancel_arg);
    }
    req_free(r);
  }
  c->head = c->tail = NULL;
  c->npending = 0;
  if (c->prev != NULL) {
    c->prev->next = c->next;
  } else {
    s->conns = c->next;
  }
  if (c->next != NULL) {
    c->next->prev = c->prev;
  }
  s->nconns--;
  if (s->at_limit && s->nconns < s->o.max_conns) {
    s->at_limit = false;
  }
  (void)uv_timer_stop(&c->timer);
  uv_close((uv_handle_t *)&c->timer, on_conn_handle_closed);
  uv_close(&c->u.h, on_conn_handle_closed);
}

/* ---- accepting ---- */

static void peer_name(struct conn *c, bool is_unix) {
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  char ip[INET6_ADDRSTRLEN] = "?";

  if (is_unix) {
    (void)snprintf(c->peer, sizeof(c->peer), "unix");
    return;
  }
  if (uv_tcp_getpeername(&c->u.tcp, (struct sockaddr *)&ss, &len) != 0) {
    (void)snprintf(c->peer, sizeof(c->peer), "?");
    return;
  }
  if (ss.ss_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;

    (void)uv_ip6_name(a, ip, sizeof(ip));
    (void)snprintf(c->peer, sizeof(c->peer), "[%s]:%u", ip,
                   (unsigned)ntohs(a->sin6_port));
  } else {
    const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;

    (void)uv_ip4_name(a, ip, sizeof(ip));
    (void)snprintf(c->peer, sizeof(c->peer), "%s:%u", ip,
                   (unsigned)ntohs(a->sin_port));
  }
}

static void on_reject_closed(uv_handle_t *h) { free(h); }

/* Over the connection cap: accept and close at once, so the client gets
 * EOF (and retries later) instead of hanging in the backlog. */
static void reject(struct listener *l) {
  struct mtastsd_server *s = l->srv;
  union {
    uv_handle_t h;
    uv_stream_t st;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } *tmp = malloc(sizeof(*tmp));

  if (!s->at_limit) {
    LOG_W(s->log, SRV_LOG, "%zu connections: refusing new ones", s->nconns);
    s->at_limit = true;
  }
  if (tmp == NULL) {
    return;
  }
  if ((l->is_unix ? uv_pipe_init(s->loop, &tmp->pipe, 0)
                  : uv_tcp_init(s->loop, &tmp->tcp)) != 0) {
    free(tmp);
    return;
  }
  (void)uv_accept(&l->u.s, &tmp->st);
  uv_close(&tmp->h, on_reject_closed);
}

static void on_connection(uv_stream_t *ls, int status) {
  struct listener *l = ls->data;
  struct mtastsd_server *s = l->srv;
  struct conn *c;
  int rc;

  if (status < 0) {
    LOG_W(s->log, SRV_LOG, "accept: %s", uv_strerror(status));
    return;
  }
  if (s->shutting_down) {
    return;
  }
  if (s->nconns >= s->o.max_conns) {
    reject(l);
    return;
  }
  c = calloc(1, sizeof(*c));
  if (c == NULL) {
    reject(l);
    return;
  }
  c->srv = s;
  s->nalloc++;
  rc = l->is_unix ? uv_pipe_init(s->loop, &c->u.pipe, 0)
                  : uv_tcp_init(s->loop, &c->u.tcp);
  if (rc != 0) {
    free(c);
    s->nalloc--;
    reject(l);
    return;
  }
  c->u.h.data = c;
  c->open_handles = 1;
  (void)uv_timer_init(s->loop, &c->timer);
  c->timer.data = c;
  c->open_handles = 2;
  /* Linked first, so conn_close() below finds it. */
  c->next = s->conns;
  if (s->conns != NULL) {
    s->conns->prev = c;
  }
  s->conns = c;
  s->nconns++;
  rc = uv_accept(ls, &c->u.s);
  if (rc != 0) {
    LOG_W(s->log, SRV_LOG, "accept: %s", uv_strerror(rc));
    conn_close(c);
    return;
  }
  peer_name(c, l->is_unix);
  if (!l->is_unix) {
    (void)uv_tcp_nodelay(&c->u.tcp, 1);
  }
  LOG_D(s->log, SRV_LOG, "%s: connected (%zu open)", c->peer, s->nconns);
  c->last_io = uv_now(s->loop);
  (void)uv_timer_start(&c->timer, on_timer, s->o.idle_ms, 0);
  conn_resume(c);
}

/* ---- listeners ---- */

static void on_listener_closed(uv_handle_t *h) {
  struct listener *l = h->data;
  struct mtastsd_server *s = l->srv;

  free(l);
  s->open_listeners--;
  check_drained(s);
}

static struct listener *listener_new(struct mtastsd_server *s, bool is_unix) {
  struct listener *l;

  if (s->nlisteners >= MAX_LISTENERS) {
    LOG_E(s->log, SRV_LOG, "too many listening sockets (at most %d)",
          MAX_LISTENERS);
    return NULL;
  }
  l = calloc(1, sizeof(*l));
  if (l == NULL) {
    LOG_E(s->log, SRV_LOG, "out of memory");
    return NULL;
  }
  l->srv = s;
  l->is_unix = is_unix;
  l->u.h.data = l;
  return l;
}

static void listener_add(struct mtastsd_server *s, struct listener *l) {
  s->listeners[s->nlisteners++] = l;
  s->open_listeners++;
}

/* A listener whose handle was initialised but that failed later. */
static void listener_discard(struct listener *l) {
  l->srv->open_listeners++;
  uv_close(&l->u.h, on_listener_closed);
}

static int listen_addr(struct mtastsd_server *s, const struct addrinfo *ai,
                       bool reuse_port, const char *shown) {
  struct listener *l;
  int fd, one = 1, rc;

  fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
              ai->ai_protocol);
  if (fd < 0) {
    mtastsd_log_errno(s->log, MTASTSD_ERROR, SRV_LOG, "socket for %s", shown);
    return -1;
  }
  /* The peer sets SO_REUSEADDR and SO_REUSEPORT (reuse_port: true). */
  (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (reuse_port &&
      setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
    mtastsd_log_errno(s->log, MTASTSD_WARN, SRV_LOG, "SO_REUSEPORT on %s",
                      shown);
  }
  if (ai->ai_family == AF_INET6) {
    (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  }
  if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
    mtastsd_log_errno(s->log, MTASTSD_ERROR, SRV_LOG, "bind %s", shown);
    (void)close(fd);
    return -1;
  }
  l = listener_new(s, false);
  if (l == NULL || uv_tcp_init(s->loop, &l->u.tcp) != 0) {
    free(l);
    (void)close(fd);
    return -1;
  }
  rc = uv_tcp_open(&l->u.tcp, fd);
  if (rc != 0) {
    /* libuv did not take the descriptor */
    (void)close(fd);
  } else {
    rc = uv_listen(&l->u.s, BACKLOG, on_connection);
  }
  if (rc != 0) {
    LOG_E(s->log, SRV_LOG, "listen %s: %s", shown, uv_strerror(rc));
    listener_discard(l); /* closes the descriptor if libuv has it */
    return -1;
  }
  listener_add(s, l);
  LOG_I(s->log, SRV_LOG, "listening on %s%s", shown,
        reuse_port ? " (SO_REUSEPORT)" : "");
  return 0;
}

int mtastsd_server_listen_tcp(struct mtastsd_server *s, const char *host,
                              uint16_t port, bool reuse_port) {
  struct addrinfo hints, *res = NULL, *ai;
  char portstr[8], shown[INET6_ADDRSTRLEN + 16], ip[INET6_ADDRSTRLEN];
  int rc, ok = 0;

  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  (void)snprintf(portstr, sizeof(portstr), "%u", (unsigned)port);
  rc = getaddrinfo(host, portstr, &hints, &res);
  if (rc != 0) {
    LOG_E(s->log, SRV_LOG, "cannot resolve listen address %.100s: %s",
          host != NULL ? host : "*", gai_strerror(rc));
    return -1;
  }
  for (ai = res; ai != NULL; ai = ai->ai_next) {
    if (ai->ai_family == AF_INET6) {
      (void)uv_ip6_name((const struct sockaddr_in6 *)ai->ai_addr, ip,
                        sizeof(ip));
      (void)snprintf(shown, sizeof(shown), "[%s]:%u", ip, (unsigned)port);
    } else if (ai->ai_family == AF_INET) {
      (void)uv_ip4_name((const struct sockaddr_in *)ai->ai_addr, ip,
                        sizeof(ip));
      (void)snprintf(shown, sizeof(shown), "%s:%u", ip, (unsigned)port);
    } else {
      continue;
    }
    if (listen_addr(s, ai, reuse_port, shown) == 0) {
      ok++;
    }
  }
  freeaddrinfo(res);
  return ok > 0 ? 0 : -1;
}

int mtastsd_server_listen_unix(struct mtastsd_server *s, const char *path,
                               int mode, uid_t uid, gid_t gid) {
  struct listener *l;
  struct stat st;
  int rc;

  if (lstat(path, &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      LOG_E(s->log, SRV_LOG, "%.200s exists and is not a socket: not removed",
            path);
      return -1;
    }
    /* A stale socket from an earlier run (the peer leaves it behind). */
    if (unlink(path) != 0) {
      mtastsd_log_errno(s->log, MTASTSD_ERROR, SRV_LOG, "unlink %.200s", path);
      return -1;
    }
  }
  l = listener_new(s, true);
  if (l == NULL || uv_pipe_init(s->loop, &l->u.pipe, 0) != 0) {
    free(l);
    return -1;
  }
  rc = uv_pipe_bind(&l->u.pipe, path);
  if (rc != 0) {
    LOG_E(s->log, SRV_LOG, "bind %.200s: %s", path, uv_strerror(rc));
    listener_discard(l);
    return -1;
  }
  if (mode >= 0 && chmod(path, (mode_t)mode) != 0) {
    mtastsd_log_errno(s->log, MTASTSD_ERROR, SRV_LOG, "chmod %.200s", path);
    listener_discard(l);
    return -1;
  }
  if ((uid != (uid_t)-1 || gid != (gid_t)-1) && chown(path, uid, gid) != 0) {
    mtastsd_log_errno(s->log, MTASTSD_ERROR, SRV_LOG, "chown %.200s", path);
    listener_discard(l);
    return -1;
  }
  rc = uv_listen(&l->u.s, BACKLOG, on_connection);
  if (rc != 0) {
    LOG_E(s->log, SRV_LOG, "listen %.200s: %s", path, uv_strerror(rc));
    listener_discard(l);
    return -1;
  }
  listener_add(s, l);
  LOG_I(s->log, SRV_LOG, "listening on unix:%.200s", path);
  return 0;
}

/* ---- life cycle ---- */

int mtastsd_server_create(uv_loop_t *loop, struct mts_ctx *ctx,
                          struct mtastsd_log *lg,
                          const struct mtastsd_server_opts *o,
                          mtastsd_request_fn fn, void *arg,
                          struct mtastsd_server **out) {
  struct mtastsd_server *s = calloc(1, sizeof(*s));

  *out = NULL;
  if (s == NULL) {
    return -1;
  }
  s->loop = loop;
  s->ctx = ctx;
  s->log = lg;
  if (o != NULL) {
    s->o = *o;
  }
  if (s->o.max_conns == 0) {
    s->o.max_conns = MTASTSD_MAX_CONNS;
  }
  if (s->o.max_pending == 0) {
    s->o.max_pending = MTASTSD_MAX_PENDING;
  }
  if (s->o.idle_ms == 0) {
    s->o.idle_ms = MTASTSD_IDLE_MS;
  }
  if (s->o.write_hiwat == 0) {
    s->o.write_hiwat = MTASTSD_WRITE_HIWAT;
  }
  s->fn = fn;
  s->arg = arg;
  *out = s;
  return 0;
}

static void close_listeners(struct mtastsd_server *s) {
  size_t i;

  for (i = 0; i < s->nlisteners; i++) {
    uv_close(&s->listeners[i]->u.h, on_listener_closed);
    s->listeners[i] = NULL;
  }
  s->nlisteners = 0;
}

void mtastsd_server_shutdown(struct mtastsd_server *s, mtastsd_drained_fn fn,
                             void *arg) {
  struct conn *c, *next;

  s->shutting_down = true;
  s->drained = fn;
  s->drained_arg = arg;
  close_listeners(s);
  for (c = s->conns; c != NULL; c = next) {
    next = c->next;
    c->draining = true;
    if (c->reading) {
      (void)uv_read_stop(&c->u.s);
      c->reading = false;
    }
    if (c->npending == 0 && c->nwrites == 0) {
      conn_close(c);
    }
  }
  /* Usually from a close callback; with nothing open, right now. */
  check_drained(s);
}

void mtastsd_server_abort(struct mtastsd_server *s) {
  while (s->conns != NULL) {
    conn_close(s->conns);
  }
}

void mtastsd_server_free(struct mtastsd_server *s) { free(s); }

size_t mtastsd_server_conns(const struct mtastsd_server *s) {
  return s->nconns;
}

void mtastsd_server_stats(const struct mtastsd_server *s,
                          struct mtastsd_server_stats *out) {
  *out = s->stats;
  out->conns = s->nconns;
}
