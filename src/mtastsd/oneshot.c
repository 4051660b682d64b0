/*
 * oneshot.c - accept, read one request, write one response, close. See
 * oneshot.h.
 *
 * A connection: reading -> answering (uv_write) -> closing (stream and
 * timer) -> freed when both close callbacks ran. The server frees itself
 * once it is closed and its last handle is gone.
 */
#include "oneshot.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define OS_LOG "CTL"
#define OS_BACKLOG 64
#define OS_MAX_LISTENERS 8

union os_stream {
  uv_handle_t h;
  uv_stream_t s;
  uv_tcp_t tcp;
  uv_pipe_t pipe;
};

struct os_listener {
  union os_stream u;
  struct mtastsd_oneshot *srv;
  bool is_unix;
};

struct os_conn {
  union os_stream u;
  uv_timer_t timer;
  uv_write_t w;
  struct mtastsd_oneshot *srv;
  struct os_conn *prev, *next;
  char *resp;
  size_t resp_len;
  size_t len; /* of the request in buf */
  int open_handles;
  bool closing;
  bool answered;
  char buf[]; /* srv->o.max bytes */
};

struct mtastsd_oneshot {
  uv_loop_t *loop;
  struct mtastsd_log *log;
  struct mtastsd_oneshot_opts o;
  struct os_listener *listeners[OS_MAX_LISTENERS];
  size_t nlisteners;
  struct os_conn *conns;
  size_t nconns;
  unsigned handles; /* open handles: listeners, connections' */
  bool closed;
  char *unix_path; /* removed at close */
};

static void os_free_if_done(struct mtastsd_oneshot *s) {
  if (s->closed && s->handles == 0) {
    free(s->unix_path);
    free(s);
  }
}

/* ---- connections ---- */

static void on_conn_closed(uv_handle_t *h) {
  struct os_conn *c = h->data;
  struct mtastsd_oneshot *s = c->srv;

  s->handles--;
  if (--c->open_handles == 0) {
    free(c->resp);
    free(c);
  }
  os_free_if_done(s);
}

static void conn_close(struct os_conn *c) {
  struct mtastsd_oneshot *s = c->srv;

  if (c->closing) {
    return;
  }
  c->closing = true;
  if (c->prev != NULL) {
    c->prev->next = c->next;
  } else {
    s->conns = c->next;
  }
  if (c->next != NULL) {
    c->next->prev = c->prev;
  }
  s->nconns--;
  (void)uv_timer_stop(&c->timer);
  uv_close((uv_handle_t *)&c->timer, on_conn_closed);
  uv_close(&c->u.h, on_conn_closed);
}

static void on_written(uv_write_t *w, int status) {
  struct os_conn *c = w->data;

  (void)status;
  conn_close(c);
}

static void conn_answer(struct os_conn *c, bool whole) {
  struct mtastsd_oneshot *s = c->srv;
  uv_buf_t b;
  int rc;

  c->answered = true;
  (void)uv_read_stop(&c->u.s);
  s->o.answer(s->o.arg, c->buf, c->len, whole, &c->resp, &c->resp_len);
  if (c->resp == NULL) {
    conn_close(c);
    return;
  }
  b = uv_buf_init(c->resp, (unsigned)c->resp_len);
  c->w.data = c;
  rc = uv_write(&c->w, &c->u.s, &b, 1, on_written);
  if (rc != 0) {
    LOG_D(s->log, OS_LOG, "%s: write: %s", s->o.name, uv_strerror(rc));
    conn_close(c);
  }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  struct os_conn *c = h->data;

  (void)suggested;
  *buf = uv_buf_init(c->buf + c->len, (unsigned)(c->srv->o.max - c->len));
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf) {
  struct os_conn *c = st->data;

  (void)buf;
  if (c->closing || c->answered || n == 0) {
    return;
  }
  if (n < 0) {
    if (n == UV_EOF) {
      conn_answer(c, false);
    } else {
      conn_close(c);
    }
    return;
  }
  c->len += (size_t)n;
  if (c->srv->o.complete(c->buf, c->len)) {
    conn_answer(c, true);
  } else if (c->len >= c->srv->o.max) {
    conn_answer(c, false);
  }
}

static void on_timeout(uv_timer_t *t) {
  struct os_conn *c = t->data;

  LOG_D(c->srv->log, OS_LOG, "%s: client silent for %llu ms: closing",
        c->srv->o.name, (unsigned long long)c->srv->o.timeout_ms);
  conn_close(c);
}

static void on_reject_closed(uv_handle_t *h) {
  free(h);
}

static void on_connection(uv_stream_t *ls, int status) {
  struct os_listener *l = ls->data;
  struct mtastsd_oneshot *s = l->srv;
  struct os_conn *c;
  int rc;

  if (status < 0 || s->closed) {
    return;
  }
  c = s->nconns < s->o.max_conns ? calloc(1, sizeof(*c) + s->o.max) : NULL;
  if (c == NULL) {
    union os_stream *tmp = malloc(sizeof(*tmp));

    LOG_W(s->log, OS_LOG, "%s: %zu connections open: refusing one", s->o.name,
          s->nconns);
    if (tmp != NULL && (l->is_unix ? uv_pipe_init(s->loop, &tmp->pipe, 0)
                                   : uv_tcp_init(s->loop, &tmp->tcp)) == 0) {
      (void)uv_accept(ls, &tmp->s);
      uv_close(&tmp->h, on_reject_closed);
    } else {
      free(tmp);
    }
    return;
  }
  c->srv = s;
  rc = l->is_unix ? uv_pipe_init(s->loop, &c->u.pipe, 0)
                  : uv_tcp_init(s->loop, &c->u.tcp);
  if (rc != 0) {
    free(c);
    return;
  }
  (void)uv_timer_init(s->loop, &c->timer);
  c->u.h.data = c;
  c->timer.data = c;
  c->open_handles = 2;
  s->handles += 2;
  c->next = s->conns;
  if (s->conns != NULL) {
    s->conns->prev = c;
  }
  s->conns = c;
  s->nconns++;
  rc = uv_accept(ls, &c->u.s);
  if (rc == 0) {
    rc = uv_read_start(&c->u.s, on_alloc, on_read);
  }
  if (rc != 0) {
    LOG_D(s->log, OS_LOG, "%s: accept: %s", s->o.name, uv_strerror(rc));
    conn_close(c);
    return;
  }
  (void)uv_timer_start(&c->timer, on_timeout, s->o.timeout_ms, 0);
}

/* ---- listeners ---- */

static void on_listener_closed(uv_handle_t *h) {
  struct os_listener *l = h->data;
  struct mtastsd_oneshot *s = l->srv;

  free(l);
  s->handles--;
  os_free_if_done(s);
}

static struct os_listener *listener_new(struct mtastsd_oneshot *s,
                                        bool is_unix) {
  struct os_listener *l;

  if (s->nlisteners >= OS_MAX_LISTENERS) {
    LOG_E(s->log, OS_LOG, "%s: too many listening sockets", s->o.name);
    return NULL;
  }
  l = calloc(1, sizeof(*l));
  if (l == NULL) {
    LOG_E(s->log, OS_LOG, "out of memory");
    return NULL;
  }
  l->srv = s;
  l->is_unix = is_unix;
  l->u.h.data = l;
  return l;
}

/* \p l's handle is initialised: keep it (listening) or close it. */
static int listener_done(struct mtastsd_oneshot *s, struct os_listener *l,
                         int rc, const char *shown) {
  s->handles++;
  if (rc == 0) {
    rc = uv_listen(&l->u.s, OS_BACKLOG, on_connection);
  }
  if (rc != 0) {
    LOG_E(s->log, OS_LOG, "%s: listen on %.200s: %s", s->o.name, shown,
          uv_strerror(rc));
    uv_close(&l->u.h, on_listener_closed);
    return -1;
  }
  s->listeners[s->nlisteners++] = l;
  LOG_I(s->log, OS_LOG, "%s: listening on %.200s", s->o.name, shown);
  return 0;
}

int mtastsd_oneshot_listen_tcp(struct mtastsd_oneshot *s,
                               const char *hostport) {
  struct addrinfo hints, *res = NULL, *ai;
  char host[256], ip[INET6_ADDRSTRLEN], shown[INET6_ADDRSTRLEN + 16];
  const char *colon = strrchr(hostport, ':');
  const char *h = hostport;
  size_t hlen;
  int rc, ok = 0;

  if (colon == NULL) {
    LOG_E(s->log, OS_LOG, "%s: %.200s: not HOST:PORT", s->o.name, hostport);
    return -1;
  }
  hlen = (size_t)(colon - hostport);
  if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
    h++;
    hlen -= 2;
  }
  if (hlen == 0 || hlen >= sizeof(host)) {
    LOG_E(s->log, OS_LOG, "%s: %.200s: bad host", s->o.name, hostport);
    return -1;
  }
  memcpy(host, h, hlen);
  host[hlen] = '\0';
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  rc = getaddrinfo(host, colon + 1, &hints, &res);
  if (rc != 0) {
    LOG_E(s->log, OS_LOG, "%s: cannot resolve %.200s: %s", s->o.name, hostport,
          gai_strerror(rc));
    return -1;
  }
  for (ai = res; ai != NULL; ai = ai->ai_next) {
    struct os_listener *l;
    unsigned flags = 0;

    if (ai->ai_family == AF_INET6) {
      (void)uv_ip6_name((const struct sockaddr_in6 *)ai->ai_addr, ip,
                        sizeof(ip));
      (void)snprintf(shown, sizeof(shown), "[%s]:%s", ip, colon + 1);
      flags = UV_TCP_IPV6ONLY;
    } else if (ai->ai_family == AF_INET) {
      (void)uv_ip4_name((const struct sockaddr_in *)ai->ai_addr, ip,
                        sizeof(ip));
      (void)snprintf(shown, sizeof(shown), "%s:%s", ip, colon + 1);
    } else {
      continue;
    }
    l = listener_new(s, false);
    if (l == NULL) {
      break;
    }
    if (uv_tcp_init(s->loop, &l->u.tcp) != 0) {
      free(l);
      break;
    }
    rc = uv_tcp_bind(&l->u.tcp, ai->ai_addr, flags);
    if (listener_done(s, l, rc, shown) == 0) {
      ok++;
    }
  }
  freeaddrinfo(res);
  return ok > 0 ? 0 : -1;
}

int mtastsd_oneshot_listen_unix(struct mtastsd_oneshot *s, const char *path,
                                int mode) {
  struct os_listener *l;
  struct stat st;
  mode_t old;
  int rc;

  if (lstat(path, &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      LOG_E(s->log, OS_LOG, "%s: %.200s exists and is not a socket", s->o.name,
            path);
      return -1;
    }
    if (unlink(path) != 0) {
      mtastsd_log_errno(s->log, MTASTSD_ERROR, OS_LOG, "unlink %.200s", path);
      return -1;
    }
  }
  free(s->unix_path);
  s->unix_path = strdup(path);
  l = listener_new(s, true);
  if (s->unix_path == NULL || l == NULL ||
      uv_pipe_init(s->loop, &l->u.pipe, 0) != 0) {
    free(l);
    return -1;
  }
  /* Never more open than asked, not even between bind and chmod. */
  old = umask(0177);
  rc = uv_pipe_bind(&l->u.pipe, path);
  (void)umask(old);
  if (rc == 0 && chmod(path, (mode_t)mode) != 0) {
    rc = UV_EPERM;
    mtastsd_log_errno(s->log, MTASTSD_ERROR, OS_LOG, "chmod %.200s", path);
  }
  return listener_done(s, l, rc, path);
}

/* ---- life cycle ---- */

int mtastsd_oneshot_create(uv_loop_t *loop, struct mtastsd_log *lg,
                           const struct mtastsd_oneshot_opts *o,
                           struct mtastsd_oneshot **out) {
  struct mtastsd_oneshot *s = calloc(1, sizeof(*s));

  *out = NULL;
  if (s == NULL) {
    return -1;
  }
  s->loop = loop;
  s->log = lg;
  s->o = *o;
  *out = s;
  return 0;
}

void mtastsd_oneshot_close(struct mtastsd_oneshot *s) {
  size_t i;

  if (s == NULL || s->closed) {
    return;
  }
  s->closed = true;
  for (i = 0; i < s->nlisteners; i++) {
    uv_close(&s->listeners[i]->u.h, on_listener_closed);
  }
  s->nlisteners = 0;
  while (s->conns != NULL) {
    conn_close(s->conns);
  }
  /* libuv unlinks a bound pipe's file when it closes it; this is for
   * the case it did not. */
  if (s->unix_path != NULL && unlink(s->unix_path) != 0 && errno != ENOENT) {
    LOG_D(s->log, OS_LOG, "%s: cannot remove %.200s", s->o.name, s->unix_path);
  }
  os_free_if_done(s);
}
