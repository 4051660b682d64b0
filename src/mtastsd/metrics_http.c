/*
 * metrics_http.c - `GET /metrics` over HTTP/1.0 on the oneshot server.
 * See metrics_http.h.
 */
#include "metrics_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oneshot.h"

/* The first try at the body; a larger one is made when it does not fit. */
#define BODY_FIRST 16384

struct mtastsd_metrics_http {
  struct mtastsd_oneshot *os;
  mtastsd_metrics_collect_fn fn;
  void *arg;
};

/* The head ends with an empty line (CRLF CRLF, or bare LFs). */
static bool head_complete(const char *buf, size_t len) {
  size_t i;

  for (i = 1; i < len; i++) {
    if (buf[i] == '\n' &&
        (buf[i - 1] == '\n' ||
         (i >= 2 && buf[i - 1] == '\r' && buf[i - 2] == '\n'))) {
      return true;
    }
  }
  return false;
}

/* Is the request line `GET /metrics[?...] HTTP/x`? */
static bool is_get_metrics(const char *buf, size_t len) {
  static const char get[] = "GET /metrics";
  size_t n = sizeof(get) - 1;

  return len > n && memcmp(buf, get, n) == 0 &&
         (buf[n] == ' ' || buf[n] == '?' || buf[n] == '\r' || buf[n] == '\n');
}

static char *response(const char *status, const char *type, const char *body,
                      size_t blen, size_t *out_len) {
  char head[256];
  int n = snprintf(head, sizeof(head),
                   "HTTP/1.0 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                   "Connection: close\r\n\r\n",
                   status, type, blen);
  char *r;

  if (n < 0 || (size_t)n >= sizeof(head)) {
    return NULL;
  }
  r = malloc((size_t)n + blen);
  if (r == NULL) {
    return NULL;
  }
  memcpy(r, head, (size_t)n);
  memcpy(r + n, body, blen);
  *out_len = (size_t)n + blen;
  return r;
}

static void answer(void *arg, const char *buf, size_t len, bool whole,
                   char **resp, size_t *resp_len) {
  struct mtastsd_metrics_http *m = arg;
  struct mtastsd_metrics cur;
  char *body;
  size_t cap = BODY_FIRST, n;

  *resp = NULL;
  if (!whole && memchr(buf, '\n', len) == NULL) {
    static const char bad[] = "bad request\n";

    *resp = response("400 Bad Request", "text/plain", bad, sizeof(bad) - 1,
                     resp_len);
    return;
  }
  if (!is_get_metrics(buf, len)) {
    static const char nf[] = "not found: try GET /metrics\n";

    *resp =
        response("404 Not Found", "text/plain", nf, sizeof(nf) - 1, resp_len);
    return;
  }
  memset(&cur, 0, sizeof(cur));
  m->fn(m->arg, &cur);
  for (;;) {
    body = malloc(cap);
    if (body == NULL) {
      return;
    }
    n = mtastsd_metrics_format(&cur, body, cap);
    if (n < cap) {
      break;
    }
    free(body);
    cap = n + 1;
  }
  *resp = response("200 OK", MTASTSD_METRICS_CONTENT_TYPE, body, n, resp_len);
  free(body);
}

int mtastsd_metrics_http_create(uv_loop_t *loop, struct mtastsd_log *lg,
                                const char *hostport,
                                mtastsd_metrics_collect_fn fn, void *arg,
                                struct mtastsd_metrics_http **out) {
  struct mtastsd_metrics_http *m = calloc(1, sizeof(*m));
  struct mtastsd_oneshot_opts o;

  *out = NULL;
  if (m == NULL) {
    LOG_E(lg, "CTL", "out of memory");
    return -1;
  }
  m->fn = fn;
  m->arg = arg;
  memset(&o, 0, sizeof(o));
  o.name = "metrics";
  o.max = METRICS_HEAD_MAX;
  o.timeout_ms = METRICS_TIMEOUT_MS;
  o.max_conns = METRICS_CONNS;
  o.complete = head_complete;
  o.answer = answer;
  o.arg = m;
  if (mtastsd_oneshot_create(loop, lg, &o, &m->os) != 0) {
    LOG_E(lg, "CTL", "out of memory");
    free(m);
    return -1;
  }
  if (mtastsd_oneshot_listen_tcp(m->os, hostport) != 0) {
    mtastsd_metrics_http_close(m);
    return -1;
  }
  *out = m;
  return 0;
}

void mtastsd_metrics_http_close(struct mtastsd_metrics_http *m) {
  if (m == NULL) {
    return;
  }
  mtastsd_oneshot_close(m->os); /* no answer() runs after this */
  free(m);
}
