/*
 * rpt_receiver.c - the HTTPS report receiver; see mtasts/rpt_receiver.h.
 *
 * libmicrohttpd calls handle() several times per request: once when the
 * headers are in (every check that needs no body is done there, so a
 * refused upload is never read), once per piece of body, and once more
 * at the end, when the body is unpacked, parsed and stored. All of it
 * runs on MHD's one internal thread; the counters and the connection
 * list are the only state another thread touches, under a mutex.
 *
 * MHD's timeout is an idle timeout, and handle() first runs once the
 * headers are complete, so a client that sends a header byte now and
 * then would hold its connection for ever. A watchdog thread closes
 * those: each connection is listed from MHD's "started" notification to
 * its "closed" one (MHD calls that before it closes the socket, and the
 * entry is removed under the mutex the watchdog holds while it calls
 * shutdown(), so the watchdog never touches a descriptor MHD has
 * closed); an entry waiting for headers longer than header_timeout_s is
 * shut down, and MHD then closes it. The watchdog does not log (the
 * context is MHD's thread's): the "closed" notification does.
 */
#include <mtasts/rpt_receiver.h>

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <mtasts/rpt_report.h>
#include <mtasts/rpt_unpack.h>

#include "core/ascii_int.h"
#include "core/ctx_int.h"

/* Token units per request: the bucket counts in 1/60 requests so that a
 * rate per minute refills an integer number of units per second. */
#define UNITS 60u
/* A request refused (a body past the limit, or any refusal decided on the
 * headers: 429, 405, 404, 415) has its body read and dropped, up to this
 * many times the limit, before the answer: a client that sends its whole
 * body before it reads (curl without "Expect: 100-continue", most
 * senders) would otherwise see the connection reset under the answer,
 * because closing a socket with unread data sends RST, and report a
 * transport error instead of the status. Larger bodies, declared or not,
 * are not read: a declared one is refused on its headers, an undeclared
 * one gets the connection closed without an answer. */
#define DISCARD_FACTOR 2u

struct bucket {
  uint8_t key[17]; /* family byte, then the IPv4 address or IPv6 /64 */
  bool used;
  int64_t last;    /* refilled up to this second */
  uint64_t units;  /* tokens * UNITS */
};

struct limiter {
  struct bucket *tab; /* open addressing, size a power of two */
  size_t cap;         /* slots */
  size_t count;       /* used slots */
  size_t max;         /* max_clients */
  struct bucket overflow;
  int64_t last_sweep;
  uint64_t rate;  /* units per second (= requests per minute) */
  uint64_t burst; /* units */
};

/* A connection, from MHD's "started" to its "closed" notification. */
struct conn {
  struct conn *prev, *next;
  int fd;
  uint64_t since_ms; /* accepted, or the last request completed */
  bool in_request;   /* headers complete, handle() has it */
  bool cut;          /* shut down by the watchdog */
  char client[INET6_ADDRSTRLEN + 8];
};

struct mts_rpt_receiver {
  struct mts_ctx *ctx;
  struct mts_rpt_store *store;
  struct MHD_Daemon *mhd;
  uint16_t port;
  char *path;
  char *cert;
  char *key;
  size_t max_body;
  uint64_t request_ms; /* headers to end of body, at most */
  struct limiter lim;
  uint64_t day_quota;  /* bytes from "https:" a UTC day may store */
  int64_t quota_day;   /* the UTC day used_today counts */
  uint64_t used_today; /* bytes stored from "https:" that day */
  pthread_mutex_t mu; /* stats, conns, stopping */
  struct mts_rpt_receiver_stats stats;
  struct conn *conns;
  uint64_t header_ms; /* accept or last request to headers, at most */
  pthread_t watchdog;
  pthread_cond_t wake; /* on CLOCK_MONOTONIC */
  bool watching;       /* the watchdog thread runs */
  bool stopping;
};

struct req {
  unsigned refusal;        /* decided, answered once the body is drained */
  const char *refusal_msg; /* static text for it */
  unsigned retry_after;    /* seconds, for a 507 over the quota */
  bool answered;           /* on the headers: MHD drops the rest */
  uint8_t *body;
  size_t len, cap;
  size_t dropped; /* bytes of a refused body read and dropped */
  char client[INET6_ADDRSTRLEN + 8];
  char ctype[64]; /* the media type, for messages */
  uint64_t deadline_ms; /* monotonic: the body must be in by then */
};

/* ---- the rate limiter ---- */

static uint64_t key_hash(const uint8_t *key) {
  uint64_t h = 1469598103934665603u; /* FNV-1a */
  size_t i;

  for (i = 0; i < 17; i++) {
    h ^= key[i];
    h *= 1099511628211u;
  }
  return h;
}

static void refill(const struct limiter *l, struct bucket *b, int64_t now) {
  if (now > b->last) {
    uint64_t secs = (uint64_t)(now - b->last);
    uint64_t room = l->burst - b->units;

    /* secs * rate >= room, without overflowing on a clock jump */
    if (l->rate == 0 || secs >= (room + l->rate - 1) / l->rate) {
      b->units = l->burst;
    } else {
      b->units += secs * l->rate;
    }
    b->last = now;
  }
}

static struct bucket *slot_for(struct limiter *l, const uint8_t *key,
                               bool *found) {
  size_t mask = l->cap - 1;
  size_t i = (size_t)key_hash(key) & mask;

  while (l->tab[i].used) {
    if (memcmp(l->tab[i].key, key, sizeof l->tab[i].key) == 0) {
      *found = true;
      return &l->tab[i];
    }
    i = (i + 1) & mask;
  }
  *found = false;
  return &l->tab[i];
}

/* Drop the buckets that are full again (their clients are idle): the
 * table is rebuilt in place from a copy-free two-pass over the slots. */
static void sweep(struct limiter *l, int64_t now) {
  size_t i;

  l->last_sweep = now;
  for (i = 0; i < l->cap; i++) {
    if (l->tab[i].used) {
      refill(l, &l->tab[i], now);
      if (l->tab[i].units >= l->burst) {
        l->tab[i].used = false;
        l->count--;
      }
    }
  }
  /* Reinsert the survivors so that no probe chain has a hole. */
  for (i = 0; i < l->cap; i++) {
    if (l->tab[i].used) {
      struct bucket b = l->tab[i];
      struct bucket *dst;
      bool found;

      l->tab[i].used = false;
      dst = slot_for(l, b.key, &found);
      *dst = b;
    }
  }
}

/* \return true when the client may go on (a token was taken). */
static bool limiter_take(struct limiter *l, const uint8_t *key, int64_t now) {
  bool found;
  struct bucket *b = slot_for(l, key, &found);

  if (!found) {
    if (l->count >= l->max && now != l->last_sweep) {
      sweep(l, now);
      b = slot_for(l, key, &found);
    }
    if (l->count >= l->max) {
      b = &l->overflow;
    } else {
      memcpy(b->key, key, sizeof b->key);
      b->used = true;
      b->last = now;
      b->units = l->burst;
      l->count++;
    }
  }
  refill(l, b, now);
  if (b->units < UNITS) {
    return false;
  }
  b->units -= UNITS;
  return true;
}

/* The limiter key and printable form of the client address. */
static bool client_of(struct MHD_Connection *conn, uint8_t *key, char *text,
                      size_t textlen) {
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  const struct sockaddr *sa = ci != NULL ? ci->client_addr : NULL;

  memset(key, 0, 17);
  if (sa == NULL) {
    return false;
  }
  if (sa->sa_family == AF_INET) {
    struct sockaddr_in sin;

    memcpy(&sin, sa, sizeof sin);
    key[0] = 4;
    memcpy(key + 1, &sin.sin_addr, 4);
    return inet_ntop(AF_INET, &sin.sin_addr, text, (socklen_t)textlen) !=
           NULL;
  }
  if (sa->sa_family == AF_INET6) {
    struct sockaddr_in6 sin6;
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0,
                                       0, 0, 0, 0, 0xff, 0xff};

    memcpy(&sin6, sa, sizeof sin6);
    if (memcmp(sin6.sin6_addr.s6_addr, mapped, sizeof mapped) == 0) {
      key[0] = 4;
      memcpy(key + 1, sin6.sin6_addr.s6_addr + 12, 4);
      return inet_ntop(AF_INET, sin6.sin6_addr.s6_addr + 12, text,
                       (socklen_t)textlen) != NULL;
    }
    key[0] = 6;
    memcpy(key + 1, sin6.sin6_addr.s6_addr, 8);
    return inet_ntop(AF_INET6, &sin6.sin6_addr, text, (socklen_t)textlen) !=
           NULL;
  }
  return false;
}

/* ---- requests ---- */

static bool media_type_ok(const char *ct) {
  static const char *const ok[] = {
      "application/tlsrpt+gzip", "application/tlsrpt+json",
      "application/gzip",        "application/x-gzip",
      "application/json",
  };
  size_t n = 0, i;

  if (ct == NULL) {
    return false;
  }
  while (mts_is_wsp((uint8_t)*ct)) {
    ct++;
  }
  while (ct[n] != '\0' && ct[n] != ';' && !mts_is_wsp((uint8_t)ct[n])) {
    n++;
  }
  for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    if (mts_ascii_caseeq((const uint8_t *)ct, n, (const uint8_t *)ok[i],
                         strlen(ok[i]))) {
      return true;
    }
  }
  return false;
}

static void count(struct mts_rpt_receiver *r, unsigned status) {
  pthread_mutex_lock(&r->mu);
  r->stats.requests++;
  switch (status) {
  case 201:
    r->stats.stored++;
    break;
  case 200:
    r->stats.duplicates++;
    break;
  case 400:
    r->stats.rejected++;
    break;
  case 413:
    r->stats.too_big++;
    break;
  case 415:
    r->stats.bad_type++;
    break;
  case 429:
    r->stats.limited++;
    break;
  case 507:
    r->stats.over_quota++;
    break;
  default:
    r->stats.other++;
    break;
  }
  pthread_mutex_unlock(&r->mu);
}

/* Answer \p status with \p msg; \p retry_after (seconds, 0: none) goes
 * in a Retry-After header (429 always says 60). */
static enum MHD_Result answer(struct mts_rpt_receiver *r,
                              struct MHD_Connection *conn, unsigned status,
                              const char *msg, unsigned retry_after) {
  char text[320], retry[24];
  int n = snprintf(text, sizeof text, "%u %.280s\n", status, msg);
  struct MHD_Response *resp;
  enum MHD_Result ret;

  if (n < 0) {
    n = 0;
  }
  if ((size_t)n >= sizeof text) {
    n = (int)sizeof text - 1;
    text[n - 1] = '\n';
  }
  count(r, status);
  if (status == 429 && retry_after == 0) {
    retry_after = 60;
  }
  snprintf(retry, sizeof retry, "%u", retry_after);
  resp = MHD_create_response_from_buffer((size_t)n, text,
                                         MHD_RESPMEM_MUST_COPY);
  if (resp == NULL) {
    return MHD_NO;
  }
  if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                              "text/plain; charset=utf-8") != MHD_YES ||
      (status == 405 &&
       MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "POST") !=
           MHD_YES) ||
      (retry_after != 0 &&
       MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, retry) !=
           MHD_YES)) {
    MHD_destroy_response(resp);
    return MHD_NO;
  }
  ret = MHD_queue_response(conn, status, resp);
  MHD_destroy_response(resp);
  return ret;
}

/* What the documents of one body came to. */
struct outcome {
  struct mts_rpt_receiver *r;
  const char *source;
  unsigned docs, fresh, dups, rejected;
  uint64_t bytes;      /* stored */
  enum mts_status err; /* first store failure */
  char reason[200];
};

/* The first error finding of a report, for the answer and the store. */
static void reason_of(const struct mts_rpt_report *rep, char *buf,
                      size_t len) {
  const struct mts_findings *f = mts_rpt_report_findings(rep);
  size_t i, n = mts_findings_count(f);

  snprintf(buf, len, "not a usable report");
  for (i = 0; i < n; i++) {
    const struct mts_finding *fi = mts_findings_get(f, i);

    if (fi != NULL && fi->severity == MTS_SEV_ERROR) {
      snprintf(buf, len, "%s: %.150s", fi->code, fi->message);
      return;
    }
  }
}

static enum mts_status store_doc(void *arg,
                                 const struct mts_rpt_unpack_doc *doc) {
  struct outcome *o = arg;
  const uint8_t *json = doc->data;
  size_t len = doc->len;
  struct mts_rpt_report *rep = NULL;
  enum mts_rpt_store_outcome out = MTS_RPT_STORE_REJECTED;
  enum mts_status st;

  o->docs++;
  st = mts_rpt_report_parse(o->r->ctx, json, len, &rep);
  if (st != MTS_OK) {
    return st;
  }
  st = mts_rpt_store_add(o->r->store, rep, json, len, o->source, NULL, &out);
  if (st != MTS_OK) {
    o->err = st;
  } else {
    o->bytes += len;
    if (out == MTS_RPT_STORE_NEW) {
      o->fresh++;
    } else if (out == MTS_RPT_STORE_DUPLICATE) {
      o->dups++;
    } else {
      o->rejected++;
      if (o->rejected == 1) {
        reason_of(rep, o->reason, sizeof o->reason);
      }
    }
  }
  mts_rpt_report_destroy(rep);
  return st;
}

/* Unpack, parse and store the body; \return the HTTP status. */
static unsigned process(struct mts_rpt_receiver *r, struct req *q,
                        const char **msg, char *buf, size_t buflen) {
  char source[sizeof q->client + 8];
  struct outcome o;
  struct mts_rpt_unpack_hints hints = {NULL, q->ctype};
  struct mts_rpt_unpack_limits limits;
  struct mts_rpt_unpack_error err;
  enum mts_status st;

  memset(&o, 0, sizeof o);
  memset(&limits, 0, sizeof limits);
  limits.max_doc = MTS_RPT_RECEIVER_MAX_DOC;
  memset(&err, 0, sizeof err);
  o.r = r;
  snprintf(source, sizeof source, "https:%s", q->client);
  o.source = source;
  /* One POST is one report (RFC 8460 5.4); a zip of several is taken
   * too, since unpack reads it. */
  st = mts_rpt_unpack_mem(r->ctx, q->body, q->len, &hints, &limits,
                          store_doc, &o, NULL, &err);
  r->used_today += o.bytes;
  if (st == MTS_ENOMEM || o.err == MTS_ENOMEM) {
    *msg = "out of memory";
    return 503;
  }
  if (o.err != MTS_OK) {
    *msg = "store failed, try again later";
    return 500;
  }
  if (st != MTS_OK && o.docs == 0) {
    /* Not decompressible or not JSON: keep the bytes as sent. */
    enum mts_rpt_store_outcome out;
    enum mts_status sst;

    snprintf(buf, buflen, "%s: %.160s",
             err.code != NULL ? err.code : mts_status_name(st),
             err.message[0] != '\0' ? err.message : mts_status_str(st));
    sst = mts_rpt_store_add(r->store, NULL, q->body, q->len, source, buf,
                            &out);
    if (sst != MTS_OK) {
      *msg = "store failed, try again later";
      return sst == MTS_ENOMEM ? 503 : 500;
    }
    r->used_today += q->len;
    *msg = buf;
    return 400;
  }
  if (st != MTS_OK) {
    /* Some documents of a zip were stored, then it broke: keep the
     * whole body too, so that nothing is lost. */
    enum mts_rpt_store_outcome out;

    snprintf(buf, buflen, "%s: %.160s",
             err.code != NULL ? err.code : mts_status_name(st), err.message);
    if (mts_rpt_store_add(r->store, NULL, q->body, q->len, source, buf,
                          &out) != MTS_OK) {
      *msg = "store failed, try again later";
      return 500;
    }
    r->used_today += q->len;
    *msg = buf;
    return 400;
  }
  if (o.rejected > 0) {
    snprintf(buf, buflen, "rejected (kept): %s", o.reason);
    *msg = buf;
    return 400;
  }
  if (o.fresh > 0) {
    *msg = "stored";
    return 201;
  }
  *msg = "duplicate of a stored report";
  return 200;
}

/* The declared Content-Length; false when there is none. Digits only, as
 * MHD checked; a value past UINT64_MAX / 20 stops the parse, which still
 * leaves it past any limit. */
static bool content_length(struct MHD_Connection *conn, uint64_t *out) {
  const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                               MHD_HTTP_HEADER_CONTENT_LENGTH);
  uint64_t v = 0;
  size_t i;

  if (cl == NULL) {
    return false;
  }
  for (i = 0; cl[i] != '\0'; i++) {
    if (!mts_is_digit((uint8_t)cl[i]) || v > UINT64_MAX / 20) {
      break;
    }
    v = v * 10 + (uint64_t)(cl[i] - '0');
  }
  *out = v;
  return true;
}

/* Whether a refusal decided on the headers is answered only after the
 * body is read and dropped (DISCARD_FACTOR): when a body follows, small
 * enough to drain (declared up to DISCARD_FACTOR times the limit, or
 * chunked, which append() cuts off there), and the client does not wait
 * for "100 Continue" before sending it. */
static bool drain_first(const struct mts_rpt_receiver *r,
                        struct MHD_Connection *conn) {
  uint64_t v;

  if (MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                  MHD_HTTP_HEADER_EXPECT) != NULL) {
    return false;
  }
  if (content_length(conn, &v)) {
    return v > 0 && v <= (uint64_t)DISCARD_FACTOR * r->max_body;
  }
  return MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                     MHD_HTTP_HEADER_TRANSFER_ENCODING) !=
         NULL;
}

static const char quota_msg[] =
    "the store's quota for today is used up, try again tomorrow";

/* Whether today's quota is used up; on a new UTC day the count is read
 * from the store again (another receiver may share it). \p retry: the
 * seconds to the next UTC day. */
static bool over_quota(struct mts_rpt_receiver *r, unsigned *retry) {
  int64_t now = mts_ctx_now(r->ctx);
  int64_t day = mts_rpt_store_day(now);

  if (r->day_quota == UINT64_MAX) {
    return false;
  }
  if (day != r->quota_day) {
    uint64_t used = 0;

    if (mts_rpt_store_usage(r->store, day, "https:", NULL, &used) ==
        MTS_OK) {
      r->quota_day = day;
      r->used_today = used;
    } else {
      /* Logged by the store (busy, damaged): count from zero rather
       * than refuse, and read again at the next request. */
      r->used_today = 0;
    }
  }
  if (r->used_today < r->day_quota) {
    return false;
  }
  *retry = (unsigned)(day + 86400 - now);
  return true;
}

/* Checks on the headers alone; \return 0 or the refusal status. */
static unsigned check_headers(struct mts_rpt_receiver *r,
                              struct MHD_Connection *conn, const char *url,
                              const char *method, struct req *q,
                              const char **msg) {
  uint8_t key[17];
  const char *ct;
  uint64_t v;

  if (!client_of(conn, key, q->client, sizeof q->client)) {
    snprintf(q->client, sizeof q->client, "unknown");
  }
  if (!limiter_take(&r->lim, key, mts_ctx_now(r->ctx))) {
    *msg = "too many requests";
    return 429;
  }
  if (strcmp(method, MHD_HTTP_METHOD_POST) != 0) {
    *msg = "only POST";
    return 405;
  }
  if (r->path != NULL && strcmp(url, r->path) != 0) {
    *msg = "not found";
    return 404;
  }
  ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                   MHD_HTTP_HEADER_CONTENT_TYPE);
  if (!media_type_ok(ct)) {
    *msg = "Content-Type must be application/tlsrpt+gzip or "
           "application/tlsrpt+json";
    return 415;
  }
  snprintf(q->ctype, sizeof q->ctype, "%s", ct);
  if (content_length(conn, &v) && v > r->max_body) {
    *msg = "report too large";
    return 413;
  }
  if (over_quota(r, &q->retry_after)) {
    *msg = quota_msg;
    return 507;
  }
  return 0;
}

/* Milliseconds of a clock that only goes forward (not the context's
 * clock: a network deadline is real time). */
static uint64_t mono_ms(void) {
  struct timespec ts;

  (void)clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static bool append(struct mts_rpt_receiver *r, struct req *q,
                   const char *data, size_t len) {
  if (q->refusal != 0 || len > r->max_body - q->len) {
    if (q->refusal == 0) {
      q->refusal = 413;
      q->refusal_msg = "report too large";
    }
    q->dropped += len;
    return q->dropped <= (size_t)DISCARD_FACTOR * r->max_body;
  }
  if (q->len + len > q->cap) {
    size_t ncap = q->cap == 0 ? 16384 : q->cap;
    uint8_t *nb;

    while (ncap < q->len + len) {
      ncap = ncap > r->max_body / 2 ? r->max_body : ncap * 2;
    }
    nb = mts_realloc(r->ctx, q->body, ncap);
    if (nb == NULL) {
      return false;
    }
    q->body = nb;
    q->cap = ncap;
  }
  memcpy(q->body + q->len, data, len);
  q->len += len;
  return true;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn,
                              const char *url, const char *method,
                              const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls) {
  struct mts_rpt_receiver *r = cls;
  struct req *q = *con_cls;
  const char *msg = "";
  char buf[256];
  unsigned status;

  (void)version;
  if (q == NULL) {
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct conn *c = ci != NULL ? ci->socket_context : NULL;

    if (c != NULL) {
      pthread_mutex_lock(&r->mu);
      c->in_request = true;
      pthread_mutex_unlock(&r->mu);
    }
    q = mts_calloc(r->ctx, 1, sizeof *q);
    if (q == NULL) {
      return answer(r, conn, 503, "out of memory", 0);
    }
    *con_cls = q;
    q->deadline_ms = mono_ms() + r->request_ms;
    status = check_headers(r, conn, url, method, q, &msg);
    if (status != 0 && !drain_first(r, conn)) {
      q->answered = true;
      return answer(r, conn, status, msg, q->retry_after);
    }
    q->refusal = status;
    q->refusal_msg = msg;
    return MHD_YES;
  }
  if (q->answered) {
    /* Answered already; MHD drops what is left of the body. */
    *upload_data_size = 0;
    return MHD_YES;
  }
  if (mono_ms() > q->deadline_ms) {
    /* Bytes now and then keep a connection under the idle timeout for
     * ever; the whole body gets request_timeout_s. */
    mts_log(r->ctx, MTS_LOG_WARNING,
            "tlsrpt receiver: %s: body not complete within %llu s, "
            "connection closed",
            q->client, (unsigned long long)(r->request_ms / 1000u));
    return MHD_NO;
  }
  if (*upload_data_size > 0) {
    bool ok = append(r, q, upload_data, *upload_data_size);

    *upload_data_size = 0;
    if (!ok) {
      mts_log(r->ctx, MTS_LOG_WARNING,
              "tlsrpt receiver: %s: body too large or out of memory, "
              "connection closed",
              q->client);
      return MHD_NO;
    }
    return MHD_YES;
  }
  q->answered = true;
  if (q->refusal != 0) {
    return answer(r, conn, q->refusal, q->refusal_msg, q->retry_after);
  }
  if (over_quota(r, &q->retry_after)) {
    /* Again now that the body is in: requests whose headers came
     * before another's body was stored all passed the first check. */
    return answer(r, conn, 507, quota_msg, q->retry_after);
  }
  status = process(r, q, &msg, buf, sizeof buf);
  if (mts_log_enabled(r->ctx, MTS_LOG_INFO)) {
    mts_log(r->ctx, MTS_LOG_INFO, "tlsrpt receiver: %s: %zu bytes: %u %.200s",
            q->client, q->len, status, msg);
  }
  return answer(r, conn, status, msg, 0);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe) {
  struct mts_rpt_receiver *r = cls;
  struct req *q = *con_cls;
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  struct conn *c = ci != NULL ? ci->socket_context : NULL;

  (void)toe;
  if (c != NULL) {
    /* a kept-alive connection waits for the next request's headers */
    pthread_mutex_lock(&r->mu);
    c->in_request = false;
    c->since_ms = mono_ms();
    pthread_mutex_unlock(&r->mu);
  }
  if (q != NULL) {
    mts_free(r->ctx, q->body);
    mts_free(r->ctx, q);
    *con_cls = NULL;
  }
}

/* MHD's connection notifications: list the connection, or unlist it. A
 * connection that cannot be listed for want of memory is shut down (it
 * could not be watched). */
static void notify(void *cls, struct MHD_Connection *conn,
                   void **socket_context, enum MHD_ConnectionNotificationCode
                                              code) {
  struct mts_rpt_receiver *r = cls;
  struct conn *c = *socket_context;

  if (code == MHD_CONNECTION_NOTIFY_STARTED) {
    const union MHD_ConnectionInfo *fi =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    uint8_t key[17];

    c = mts_calloc(r->ctx, 1, sizeof *c);
    if (c == NULL || fi == NULL) {
      mts_free(r->ctx, c);
      if (fi != NULL) {
        (void)shutdown(fi->connect_fd, SHUT_RDWR);
      }
      return;
    }
    c->fd = fi->connect_fd;
    c->since_ms = mono_ms();
    if (!client_of(conn, key, c->client, sizeof c->client)) {
      snprintf(c->client, sizeof c->client, "unknown");
    }
    pthread_mutex_lock(&r->mu);
    c->next = r->conns;
    if (r->conns != NULL) {
      r->conns->prev = c;
    }
    r->conns = c;
    pthread_mutex_unlock(&r->mu);
    *socket_context = c;
    return;
  }
  if (c == NULL) {
    return;
  }
  pthread_mutex_lock(&r->mu);
  if (c->prev != NULL) {
    c->prev->next = c->next;
  } else {
    r->conns = c->next;
  }
  if (c->next != NULL) {
    c->next->prev = c->prev;
  }
  pthread_mutex_unlock(&r->mu);
  if (c->cut) {
    mts_log(r->ctx, MTS_LOG_WARNING,
            "tlsrpt receiver: %s: headers not complete within %llu s, "
            "connection closed",
            c->client, (unsigned long long)(r->header_ms / 1000u));
  }
  mts_free(r->ctx, c);
  *socket_context = NULL;
}

/* The watchdog: four times a second, shut down the connections that
 * have waited for their headers too long. */
static void *watch(void *arg) {
  struct mts_rpt_receiver *r = arg;
  struct timespec ts;

  pthread_mutex_lock(&r->mu);
  while (!r->stopping) {
    uint64_t now = mono_ms();
    struct conn *c;

    for (c = r->conns; c != NULL; c = c->next) {
      if (!c->in_request && !c->cut && now - c->since_ms > r->header_ms) {
        (void)shutdown(c->fd, SHUT_RDWR);
        c->cut = true;
        r->stats.header_timeouts++;
      }
    }
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_nsec += 250000000L;
    if (ts.tv_nsec >= 1000000000L) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000L;
    }
    (void)pthread_cond_timedwait(&r->wake, &r->mu, &ts);
  }
  pthread_mutex_unlock(&r->mu);
  return NULL;
}

/* Start the watchdog; false when it cannot be. */
static bool watch_start(struct mts_rpt_receiver *r) {
  pthread_condattr_t ca;
  bool ok;

  if (pthread_condattr_init(&ca) != 0) {
    return false;
  }
  ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
       pthread_cond_init(&r->wake, &ca) == 0;
  (void)pthread_condattr_destroy(&ca);
  if (!ok) {
    return false;
  }
  if (pthread_create(&r->watchdog, NULL, watch, r) != 0) {
    (void)pthread_cond_destroy(&r->wake);
    return false;
  }
  r->watching = true;
  return true;
}

static void watch_stop(struct mts_rpt_receiver *r) {
  if (!r->watching) {
    return;
  }
  pthread_mutex_lock(&r->mu);
  r->stopping = true;
  (void)pthread_cond_signal(&r->wake);
  pthread_mutex_unlock(&r->mu);
  (void)pthread_join(r->watchdog, NULL);
  (void)pthread_cond_destroy(&r->wake);
  r->watching = false;
}

#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#endif
static void mhd_log(void *cls, const char *fmt, va_list ap) {
  struct mts_rpt_receiver *r = cls;
  char line[256];
  size_t n;

  if (!mts_log_enabled(r->ctx, MTS_LOG_WARNING)) {
    return;
  }
  vsnprintf(line, sizeof line, fmt, ap);
  n = strlen(line);
  while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) {
    line[--n] = '\0';
  }
  mts_log(r->ctx, MTS_LOG_WARNING, "tlsrpt receiver: libmicrohttpd: %s",
          line);
}
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

/* ---- lifetime ---- */

bool mts_rpt_receiver_tls_supported(void) {
  return MHD_is_feature_supported(MHD_FEATURE_TLS) == MHD_YES;
}

static void free_receiver(struct mts_rpt_receiver *r) {
  struct mts_ctx *ctx = r->ctx;

  mts_free(ctx, r->lim.tab);
  mts_free(ctx, r->path);
  mts_free(ctx, r->cert);
  if (r->key != NULL) {
    memset(r->key, 0, strlen(r->key));
  }
  mts_free(ctx, r->key);
  pthread_mutex_destroy(&r->mu);
  mts_free(ctx, r);
}

enum mts_status
mts_rpt_receiver_start(struct mts_ctx *ctx, struct mts_rpt_store *store,
                       const struct mts_rpt_receiver_config *cfg,
                       struct mts_rpt_receiver **out) {
  struct mts_rpt_receiver *r;
  struct sockaddr_in sin;
  struct sockaddr_in6 sin6;
  const struct sockaddr *sa;
  /* One internal thread, epoll or poll as available (not select: no
   * FD_SETSIZE limit). */
  unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
  const char *addr;
  const union MHD_DaemonInfo *di;
  size_t cap;
  unsigned rate, burst, clients;

  if (out != NULL) {
    *out = NULL;
  }
  if (ctx == NULL || store == NULL || cfg == NULL || out == NULL ||
      (cfg->tls_cert_pem == NULL) != (cfg->tls_key_pem == NULL)) {
    return MTS_EINVAL;
  }
  if (cfg->tls_cert_pem != NULL && !mts_rpt_receiver_tls_supported()) {
    return MTS_EUNAVAIL;
  }
  addr = cfg->addr != NULL ? cfg->addr : "127.0.0.1";
  memset(&sin, 0, sizeof sin);
  memset(&sin6, 0, sizeof sin6);
  if (inet_pton(AF_INET, addr, &sin.sin_addr) == 1) {
    sin.sin_family = AF_INET;
    sin.sin_port = htons(cfg->port);
    sa = (const struct sockaddr *)&sin;
  } else if (inet_pton(AF_INET6, addr, &sin6.sin6_addr) == 1) {
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(cfg->port);
    sa = (const struct sockaddr *)&sin6;
    /* "::" takes IPv4 too (clients then appear as ::ffff:a.b.c.d,
     * which client_of() maps back); a specific address only IPv6. */
    flags |= IN6_IS_ADDR_UNSPECIFIED(&sin6.sin6_addr) ? MHD_USE_DUAL_STACK
                                                       : MHD_USE_IPv6;
  } else {
    return MTS_EINVAL;
  }
  r = mts_calloc(ctx, 1, sizeof *r);
  if (r == NULL) {
    return MTS_ENOMEM;
  }
  r->ctx = ctx;
  r->store = store;
  if (pthread_mutex_init(&r->mu, NULL) != 0) {
    mts_free(ctx, r);
    return MTS_ENOMEM;
  }
  r->max_body = cfg->max_body != 0 ? cfg->max_body : MTS_RPT_RECEIVER_MAX_BODY;
  r->header_ms = (uint64_t)(cfg->header_timeout_s != 0
                                ? cfg->header_timeout_s
                                : MTS_RPT_RECEIVER_HEADER_TIMEOUT) *
                 1000u;
  r->request_ms = (uint64_t)(cfg->request_timeout_s != 0
                                 ? cfg->request_timeout_s
                                 : MTS_RPT_RECEIVER_REQUEST_TIMEOUT) *
                  1000u;
  if (r->max_body > MTS_RPT_REPORT_MAX) {
    r->max_body = MTS_RPT_REPORT_MAX;
  }
  rate = cfg->rate_per_min != 0 ? cfg->rate_per_min : MTS_RPT_RECEIVER_RATE;
  burst = cfg->rate_burst != 0 ? cfg->rate_burst : rate;
  clients =
      cfg->max_clients != 0 ? cfg->max_clients : MTS_RPT_RECEIVER_MAX_CLIENTS;
  if (clients > (1u << 24)) {
    clients = 1u << 24;
  }
  for (cap = 16; cap < 2 * (size_t)clients; cap *= 2) {
  }
  r->lim.cap = cap;
  r->lim.max = clients;
  r->lim.rate = rate;
  r->lim.burst = (uint64_t)burst * UNITS;
  r->lim.overflow.units = r->lim.burst;
  r->lim.overflow.last = mts_ctx_now(ctx);
  r->lim.last_sweep = INT64_MIN;
  r->day_quota = cfg->max_bytes_per_day != 0 ? cfg->max_bytes_per_day
                                             : MTS_RPT_RECEIVER_DAY_QUOTA;
  r->quota_day = mts_rpt_store_day(mts_ctx_now(ctx));
  if (r->day_quota != UINT64_MAX &&
      mts_rpt_store_usage(store, r->quota_day, "https:", NULL,
                          &r->used_today) != MTS_OK) {
    free_receiver(r);
    return MTS_EIO;
  }
  r->lim.tab = mts_calloc(ctx, cap, sizeof *r->lim.tab);
  if (r->lim.tab == NULL ||
      (cfg->path != NULL &&
       (r->path = mts_strdup(ctx, cfg->path)) == NULL) ||
      (cfg->tls_cert_pem != NULL &&
       ((r->cert = mts_strdup(ctx, cfg->tls_cert_pem)) == NULL ||
        (r->key = mts_strdup(ctx, cfg->tls_key_pem)) == NULL))) {
    free_receiver(r);
    return MTS_ENOMEM;
  }
  if (r->cert != NULL) {
    flags |= MHD_USE_TLS;
  }
  {
    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_SOCK_ADDR, 0, (void *)(uintptr_t)sa},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)(uintptr_t)completed, r},
        {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)(uintptr_t)notify, r},
        {MHD_OPTION_CONNECTION_LIMIT,
         (intptr_t)(cfg->max_connections != 0 ? cfg->max_connections
                                              : MTS_RPT_RECEIVER_MAX_CONN),
         NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT,
         (intptr_t)(cfg->timeout_s != 0 ? cfg->timeout_s
                                        : MTS_RPT_RECEIVER_TIMEOUT),
         NULL},
        {MHD_OPTION_PER_IP_CONNECTION_LIMIT, /* MHD: 0 is no limit */
         (intptr_t)(cfg->max_conn_per_ip == MTS_RPT_RECEIVER_UNLIMITED ? 0u
                    : cfg->max_conn_per_ip != 0
                        ? cfg->max_conn_per_ip
                        : MTS_RPT_RECEIVER_MAX_CONN_PER_IP),
         NULL},
        {MHD_OPTION_END, 0, NULL}, /* or the cert, with TLS */
        {MHD_OPTION_END, 0, NULL}, /* or the key */
        {MHD_OPTION_END, 0, NULL},
    };

    if (r->cert != NULL) {
      opts[6].option = MHD_OPTION_HTTPS_MEM_CERT;
      opts[6].ptr_value = r->cert;
      opts[7].option = MHD_OPTION_HTTPS_MEM_KEY;
      opts[7].ptr_value = r->key;
    }
    /* The logger first: MHD logs options parsed before it to stderr. */
    r->mhd = MHD_start_daemon(flags, cfg->port, NULL, NULL, handle, r,
                              MHD_OPTION_EXTERNAL_LOGGER, mhd_log, r,
                              MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
  }
  if (r->mhd == NULL) {
    mts_log(ctx, MTS_LOG_ERR, "tlsrpt receiver: cannot listen on %.100s port %u",
            addr, (unsigned)cfg->port);
    free_receiver(r);
    return MTS_EIO;
  }
  if (!watch_start(r)) {
    mts_log(ctx, MTS_LOG_ERR, "tlsrpt receiver: cannot start its watchdog");
    MHD_stop_daemon(r->mhd);
    free_receiver(r);
    return MTS_ENOMEM;
  }
  di = MHD_get_daemon_info(r->mhd, MHD_DAEMON_INFO_BIND_PORT);
  r->port = di != NULL ? di->port : cfg->port;
  *out = r;
  return MTS_OK;
}

uint16_t mts_rpt_receiver_port(const struct mts_rpt_receiver *r) {
  return r != NULL ? r->port : 0;
}

void mts_rpt_receiver_stats(struct mts_rpt_receiver *r,
                            struct mts_rpt_receiver_stats *out) {
  if (r == NULL || out == NULL) {
    return;
  }
  pthread_mutex_lock(&r->mu);
  *out = r->stats;
  pthread_mutex_unlock(&r->mu);
}

void mts_rpt_receiver_destroy(struct mts_rpt_receiver *r) {
  if (r == NULL) {
    return;
  }
  watch_stop(r);
  MHD_stop_daemon(r->mhd);
  free_receiver(r);
}
