/*
 * test_rpt_receiver.c - the HTTPS report receiver (rpt_receiver.h):
 * a real libmicrohttpd server on 127.0.0.1 (a free port), real POSTs
 * with libcurl, exact status codes and exact store contents.
 *
 * While a receiver runs, only its thread touches the context and the
 * store (the header's rule): the test posts with curl (plain malloc)
 * and reads the store after mts_rpt_receiver_destroy().
 */
#include "testutil.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <mtasts/rpt_receiver.h>
#include <mtasts/rpt_store.h>

/* A report in the RFC 8460 Appendix B shape; %s is the report-id. */
static const char report_fmt[] =
    "{\"organization-name\":\"Sender Inc.\","
    "\"date-range\":{\"start-datetime\":\"2026-11-01T00:00:00Z\","
    "\"end-datetime\":\"2026-11-01T23:59:59Z\"},"
    "\"contact-info\":\"tlsrpt@sender.example\","
    "\"report-id\":\"%s\","
    "\"policies\":[{\"policy\":{\"policy-type\":\"sts\","
    "\"policy-string\":[\"version: STSv1\",\"mode: testing\","
    "\"mx: mx.example.com\",\"max_age: 86400\"],"
    "\"policy-domain\":\"example.com\",\"mx-host\":[\"mx.example.com\"]},"
    "\"summary\":{\"total-successful-session-count\":10,"
    "\"total-failure-session-count\":2},"
    "\"failure-details\":[{\"result-type\":\"certificate-expired\","
    "\"sending-mta-ip\":\"192.0.2.1\","
    "\"receiving-mx-hostname\":\"mx.example.com\","
    "\"failed-session-count\":2}]}]}";

struct fixture {
  struct mts_test_alloc a;
  struct mts_test_clock clock;
  struct mts_ctx *ctx;
  char dir[64];
  char db[96];
  struct mts_rpt_store *store;
  struct mts_rpt_receiver *rcv;
  char url[128];
  const char *src; /* the client's source address (NULL: any) */
};

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof *f);

  assert_non_null(f);
  f->ctx = mts_test_ctx(&f->a, 0);
  f->clock.now = 1796083200; /* 2026-12-01T00:00:00Z */
  mts_ctx_set_clock(f->ctx, mts_test_clock_fn, &f->clock);
  snprintf(f->dir, sizeof f->dir, "/tmp/mts-rcv-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  snprintf(f->db, sizeof f->db, "%s/t.db", f->dir);
  assert_int_equal(mts_rpt_store_open(f->ctx, f->db, &f->store), MTS_OK);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;

  mts_rpt_receiver_destroy(f->rcv);
  mts_rpt_store_close(f->store);
  mts_ctx_destroy(f->ctx);
  unlink(f->db);
  rmdir(f->dir);
  free(f);
  return 0;
}

static void start(struct fixture *f, const struct mts_rpt_receiver_config *c) {
  assert_int_equal(mts_rpt_receiver_start(f->ctx, f->store, c, &f->rcv),
                   MTS_OK);
  assert_true(mts_rpt_receiver_port(f->rcv) != 0);
  snprintf(f->url, sizeof f->url, "http://127.0.0.1:%u",
           (unsigned)mts_rpt_receiver_port(f->rcv));
}

static size_t sink(char *p, size_t size, size_t n, void *arg) {
  (void)p;
  (void)arg;
  return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg) {
  long *retry = arg;
  size_t len = size * n;

  if (len > 13 && strncasecmp(p, "Retry-After: ", 13) == 0) {
    *retry = strtol(p + 13, NULL, 10);
  }
  return len;
}

/* POST (or \p method) \p body to \p path; \return the HTTP status;
 * with \p retry, *retry is the Retry-After (-1: none). */
static long request_h(const struct fixture *f, const char *method,
                      const char *path, const char *ctype, const void *body,
                      size_t len, bool chunked, long *retry) {
  CURL *c = curl_easy_init();
  struct curl_slist *h = NULL;
  char url[256], hdr[128];
  long code = -1;
  CURLcode rc;

  assert_non_null(c);
  snprintf(url, sizeof url, "%s%s", f->url, path);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
  if (retry != NULL) {
    *retry = -1;
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, retry);
  }
  if (f->src != NULL) {
    snprintf(hdr, sizeof hdr, "host!%s", f->src);
    curl_easy_setopt(c, CURLOPT_INTERFACE, hdr);
  }
  if (ctype != NULL) {
    snprintf(hdr, sizeof hdr, "Content-Type: %s", ctype);
    h = curl_slist_append(h, hdr);
  }
  h = curl_slist_append(h, "Expect:");
  if (chunked) {
    h = curl_slist_append(h, "Transfer-Encoding: chunked");
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  if (strcmp(method, "POST") == 0) {
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    if (!chunked) {
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
  } else if (strcmp(method, "GET") != 0) {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  }
  rc = curl_easy_perform(c);
  if (rc == CURLE_OK) {
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  }
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  return code;
}

static long request(const struct fixture *f, const char *method,
                    const char *path, const char *ctype, const void *body,
                    size_t len, bool chunked) {
  return request_h(f, method, path, ctype, body, len, chunked, NULL);
}

static long post(const struct fixture *f, const char *ctype, const void *body,
                 size_t len) {
  return request(f, "POST", "/", ctype, body, len, false);
}

static char *report_json(const char *id) {
  size_t n = sizeof report_fmt + strlen(id);
  char *s = malloc(n);

  assert_non_null(s);
  snprintf(s, n, report_fmt, id);
  return s;
}

/* gzip (RFC 1952) of \p s. */
static unsigned char *gzip(const char *s, size_t *outlen) {
  z_stream z;
  size_t cap = strlen(s) + 256;
  unsigned char *out = malloc(cap);

  assert_non_null(out);
  memset(&z, 0, sizeof z);
  assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY),
                   Z_OK);
  z.next_in = (unsigned char *)(uintptr_t)s;
  z.avail_in = (uInt)strlen(s);
  z.next_out = out;
  z.avail_out = (uInt)cap;
  assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
  *outlen = z.total_out;
  deflateEnd(&z);
  return out;
}

/* The store's raw inputs, in order. */
struct raws {
  int n;
  enum mts_rpt_store_outcome outcome[16];
  char source[16][64];
  char reason[16][128];
  size_t len[16];
  char report_id[16][64];
};

static int on_raw(const struct mts_rpt_raw_row *row, void *arg) {
  struct raws *r = arg;

  if (r->n < 16) {
    r->outcome[r->n] = row->outcome;
    snprintf(r->source[r->n], sizeof r->source[0], "%s", row->source);
    snprintf(r->reason[r->n], sizeof r->reason[0], "%s",
             row->reason != NULL ? row->reason : "");
    snprintf(r->report_id[r->n], sizeof r->report_id[0], "%s",
             row->report_id != NULL ? row->report_id : "");
    r->len[r->n] = row->len;
  }
  r->n++;
  return 0;
}

static void read_raws(struct fixture *f, struct raws *r) {
  memset(r, 0, sizeof *r);
  assert_int_equal(mts_rpt_store_raw(f->store, 0, 0, false, on_raw, r),
                   MTS_OK);
}

struct sums {
  uint64_t reports, successful, failed;
};

static int on_sum(const struct mts_rpt_summary_row *row, void *arg) {
  struct sums *s = arg;

  s->reports += row->reports;
  s->successful += row->successful;
  s->failed += row->failed;
  return 0;
}

/* Every status code, in one receiver, then the exact store contents. */
static void test_status_codes(void **state) {
  struct fixture *f = *state;
  struct mts_rpt_receiver_config c;
  struct mts_rpt_receiver_stats stats;
  char *r1 = report_json("r1"), *r2 = report_json("r2"),
       *r3 = report_json("r3");
  size_t gzlen, i;
  unsigned char *gz = gzip(r2, &gzlen);
  char big[9000];
  struct raws raws;
  struct sums sums = {0, 0, 0};

  memset(&c, 0, sizeof c);
  c.max_body = 8192;
  start(f, &c);

  /* D02: plain JSON */
  assert_int_equal(post(f, "application/tlsrpt+json", r1, strlen(r1)), 201);
  /* the same report again: successful (RFC 8460 5.4), not stored twice */
  assert_int_equal(post(f, "application/tlsrpt+json", r1, strlen(r1)), 200);
  /* D01: gzip, labelled so */
  assert_int_equal(post(f, "application/tlsrpt+gzip", gz, gzlen), 201);
  /* tolerated labels and parameters */
  assert_int_equal(
      post(f, "Application/JSON; charset=utf-8", r3, strlen(r3)), 201);
  /* too big: refused on Content-Length, nothing stored */
  memset(big, ' ', sizeof big);
  big[0] = '{';
  assert_int_equal(post(f, "application/tlsrpt+json", big, sizeof big), 413);
  /* too big without Content-Length (chunked) */
  big[sizeof big - 1] = '\0';
  assert_int_equal(request(f, "POST", "/", "application/tlsrpt+json", big, 0,
                           true),
                   413);
  /* wrong media type, no type */
  assert_int_equal(post(f, "text/plain", r1, strlen(r1)), 415);
  assert_int_equal(post(f, NULL, r1, strlen(r1)), 415);
  /* not POST */
  assert_int_equal(request(f, "GET", "/", NULL, NULL, 0, false), 405);
  assert_int_equal(request(f, "PUT", "/", NULL, NULL, 0, false), 405);
  /* garbage: 400, kept raw as sent */
  assert_int_equal(post(f, "application/tlsrpt+gzip", "hello", 5), 400);
  /* gzip magic, then corruption */
  assert_int_equal(post(f, "application/tlsrpt+gzip", "\x1f\x8b\x08zzzz", 7),
                   400);
  /* JSON but not a report: 400, kept with the parser's verdict */
  assert_int_equal(post(f, "application/tlsrpt+json", "{\"a\":1}", 7), 400);
  /* empty body */
  assert_int_equal(post(f, "application/tlsrpt+json", "", 0), 400);

  mts_rpt_receiver_stats(f->rcv, &stats);
  assert_int_equal(stats.requests, 14);
  assert_int_equal(stats.stored, 3);
  assert_int_equal(stats.duplicates, 1);
  assert_int_equal(stats.too_big, 2);
  assert_int_equal(stats.bad_type, 2);
  assert_int_equal(stats.rejected, 4);
  assert_int_equal(stats.limited, 0);
  assert_int_equal(stats.other, 2);
  mts_rpt_receiver_destroy(f->rcv);
  f->rcv = NULL;

  read_raws(f, &raws);
  assert_int_equal(raws.n, 8);
  assert_int_equal(raws.outcome[0], MTS_RPT_STORE_NEW);
  assert_string_equal(raws.report_id[0], "r1");
  assert_int_equal(raws.len[0], strlen(r1));
  assert_int_equal(raws.outcome[1], MTS_RPT_STORE_DUPLICATE);
  assert_int_equal(raws.outcome[2], MTS_RPT_STORE_NEW);
  assert_string_equal(raws.report_id[2], "r2");
  assert_int_equal(raws.len[2], strlen(r2)); /* kept decompressed */
  assert_int_equal(raws.outcome[3], MTS_RPT_STORE_NEW);
  for (i = 4; i < 8; i++) {
    assert_int_equal(raws.outcome[i], MTS_RPT_STORE_REJECTED);
  }
  assert_int_equal(raws.len[4], 5); /* "hello" as sent */
  assert_non_null(strstr(raws.reason[4], "unpack-"));
  assert_int_equal(raws.len[5], 7);
  assert_int_equal(raws.len[6], 7);
  assert_int_equal(raws.len[7], 0);
  for (i = 0; i < 8; i++) {
    assert_string_equal(raws.source[i], "https:127.0.0.1");
  }
  assert_int_equal(
      mts_rpt_store_summary(f->store, NULL, 0, on_sum, NULL, &sums), MTS_OK);
  assert_int_equal(sums.reports, 3);
  assert_int_equal(sums.successful, 30);
  assert_int_equal(sums.failed, 6);
  free(r1);
  free(r2);
  free(r3);
  free(gz);
}

/* A configured path: other paths are 404 and store nothing. */
static void test_path(void **state) {
  struct fixture *f = *state;
  struct mts_rpt_receiver_config c;
  char *r1 = report_json("p1");
  struct raws raws;

  memset(&c, 0, sizeof c);
  c.path = "/tlsrpt";
  start(f, &c);
  assert_int_equal(request(f, "POST", "/other", "application/tlsrpt+json", r1,
                           strlen(r1), false),
                   404);
  assert_int_equal(request(f, "POST", "/tlsrpt", "application/tlsrpt+json",
                           r1, strlen(r1), false),
                   201);
  mts_rpt_receiver_destroy(f->rcv);
  f->rcv = NULL;
  read_raws(f, &raws);
  assert_int_equal(raws.n, 1);
  free(r1);
}

/* Token bucket: a burst of 3, 60 per minute (one a second) on the
 * context's clock. */
static void test_rate_limit(void **state) {
  struct fixture *f = *state;
  struct mts_rpt_receiver_config c;
  struct mts_rpt_receiver_stats stats;
  char *r[6];
  int i;
  struct raws raws;

  for (i = 0; i < 6; i++) {
    char id[8];

    snprintf(id, sizeof id, "q%d", i);
    r[i] = report_json(id);
  }
  memset(&c, 0, sizeof c);
  c.rate_per_min = 60;
  c.rate_burst = 3;
  start(f, &c);
  for (i = 0; i < 3; i++) {
    assert_int_equal(
        post(f, "application/tlsrpt+json", r[i], strlen(r[i])), 201);
  }
  assert_int_equal(post(f, "application/tlsrpt+json", r[3], strlen(r[3])),
                   429);
  /* a refused request costs a token too; GETs count */
  assert_int_equal(request(f, "GET", "/", NULL, NULL, 0, false), 429);
  f->clock.now += 1; /* one token back */
  assert_int_equal(post(f, "application/tlsrpt+json", r[3], strlen(r[3])),
                   201);
  assert_int_equal(post(f, "application/tlsrpt+json", r[4], strlen(r[4])),
                   429);
  f->clock.now += 3600; /* refilled to the burst, not beyond */
  for (i = 0; i < 3; i++) {
    assert_int_equal(request(f, "GET", "/", NULL, NULL, 0, false), 405);
  }
  assert_int_equal(post(f, "application/tlsrpt+json", r[5], strlen(r[5])),
                   429);
  mts_rpt_receiver_stats(f->rcv, &stats);
  assert_int_equal(stats.limited, 4);
  assert_int_equal(stats.stored, 4);
  mts_rpt_receiver_destroy(f->rcv);
  f->rcv = NULL;
  read_raws(f, &raws);
  assert_int_equal(raws.n, 4); /* refused requests store nothing */
  for (i = 0; i < 6; i++) {
    free(r[i]);
  }
}

/* With the client table full of busy clients, new addresses share the
 * overflow bucket: still limited, memory bounded. All requests here
 * come from 127.0.0.1, so this checks max_clients = 1 keeps working. */
static void test_rate_table_small(void **state) {
  struct fixture *f = *state;
  struct mts_rpt_receiver_config c;
  int i;

  memset(&c, 0, sizeof c);
  c.rate_per_min = 1;
  c.rate_burst = 2;
  c.max_clients = 1;
  start(f, &c);
  for (i = 0; i < 2; i++) {
    assert_int_equal(request(f, "GET", "/", NULL, NULL, 0, false), 405);
  }
  assert_int_equal(request(f, "GET", "/", NULL, NULL, 0, false), 429);
  f->clock.now += 60;
  assert_int_equal(request(f, "GET", "/", NULL, NULL, 0, false), 405);
  assert_int_equal(request(f, "GET", "/", NULL, NULL, 0, false), 429);
  mts_rpt_receiver_destroy(f->rcv);
  f->rcv = NULL;
}

/* Distinct client addresses (127.0.0.x are all local on Linux): each
 * has its own bucket until the table is full; then new ones share the
 * overflow bucket; idle buckets are dropped when the table is full. */
static void test_rate_many_clients(void **state) {
  struct fixture *f = *state;
  struct mts_rpt_receiver_config c;
  struct mts_rpt_receiver_stats stats;

  memset(&c, 0, sizeof c);
  c.rate_per_min = 1;
  c.rate_burst = 1;
  c.max_clients = 2;
  start(f, &c);
  f->src = "127.0.0.1";
  assert_int_equal(request(f, "GET", "/", NULL, NULL, 0, false), 405);
  assert_int_equal(request(f, "GET", "/", NULL, NULL, 0, false), 429);
  f->src = "127.0.0.2";
  assert_int_equal(request(f, "GET", "/", NULL, NULL, 0, false), 405);
  f->src = "127.0.0.3"; /* table full, nobody idle: the overflow bucket */
  assert_int_equal(request(f, "GET", "/", NULL, NULL, 0, false), 405);
  f->src = "127.0.0.4"; /* the overflow bucket is empty now */
  assert_int_equal(request(f, "GET", "/", NULL, NULL, 0, false), 429);
  f->clock.now += 60; /* everyone idle: .1 and .2 are dropped */
  assert_int_equal(request(f, "GET", "/", NULL, NULL, 0, false), 405);
  assert_int_equal(request(f, "GET", "/", NULL, NULL, 0, false), 429);
  f->src = "127.0.0.5"; /* a fresh bucket of its own */
  assert_int_equal(request(f, "GET", "/", NULL, NULL, 0, false), 405);
  f->src = "127.0.0.6"; /* full again (.4, .5 busy): overflow, refilled */
  assert_int_equal(request(f, "GET", "/", NULL, NULL, 0, false), 405);
  f->src = "127.0.0.7";
  assert_int_equal(request(f, "GET", "/", NULL, NULL, 0, false), 429);
  f->src = NULL;
  mts_rpt_receiver_stats(f->rcv, &stats);
  assert_int_equal(stats.limited, 4);
  assert_int_equal(stats.other, 6);
  mts_rpt_receiver_destroy(f->rcv);
  f->rcv = NULL;
}

static void test_bad_config(void **state) {
  struct fixture *f = *state;
  struct mts_rpt_receiver_config c;
  struct mts_rpt_receiver *r = NULL;

  memset(&c, 0, sizeof c);
  c.addr = "not an address";
  assert_int_equal(mts_rpt_receiver_start(f->ctx, f->store, &c, &r),
                   MTS_EINVAL);
  assert_null(r);
  c.addr = NULL;
  c.tls_cert_pem = "-----BEGIN CERTIFICATE-----\n";
  assert_int_equal(mts_rpt_receiver_start(f->ctx, f->store, &c, &r),
                   MTS_EINVAL); /* a cert without a key */
  assert_int_equal(mts_rpt_receiver_start(f->ctx, NULL, &c, &r), MTS_EINVAL);
  /* Debian's libmicrohttpd is built with GnuTLS */
  assert_true(mts_rpt_receiver_tls_supported());
  /* a port in use */
  memset(&c, 0, sizeof c);
  start(f, &c);
  c.port = mts_rpt_receiver_port(f->rcv);
  assert_int_equal(mts_rpt_receiver_start(f->ctx, f->store, &c, &r), MTS_EIO);
  assert_null(r);
  mts_rpt_receiver_destroy(f->rcv);
  f->rcv = NULL;
  mts_rpt_receiver_destroy(NULL);
  assert_int_equal(mts_rpt_receiver_port(NULL), 0);
}

/* Every allocation of a request (state, body, unpack, parse) failing in
 * turn: the answer is 503 (or the connection is closed when the body
 * buffer cannot grow), nothing is stored, nothing leaks; the run that
 * hits no failure stores the report. */
static void test_alloc_sweep_request(void **state) {
  struct fixture *f = *state;
  struct mts_rpt_receiver_config c;
  struct mts_test_alloc a;
  struct raws raws;
  long n, code;
  char want[32];

  memset(&c, 0, sizeof c);
  for (n = 1; n < 10000; n++) {
    struct mts_ctx *ctx = mts_test_ctx(&a, 0);
    struct mts_rpt_receiver *r = NULL;
    char id[32], *rep;

    snprintf(id, sizeof id, "sweep%ld", n);
    rep = report_json(id);
    assert_int_equal(mts_rpt_receiver_start(ctx, f->store, &c, &r), MTS_OK);
    snprintf(f->url, sizeof f->url, "http://127.0.0.1:%u",
             (unsigned)mts_rpt_receiver_port(r));
    a.count = 0;
    a.fail_at = n;
    code = post(f, "application/tlsrpt+json", rep, strlen(rep));
    a.fail_at = 0;
    mts_rpt_receiver_destroy(r);
    mts_ctx_destroy(ctx);
    free(rep);
    if (!a.failed) {
      assert_int_equal(code, 201);
      break;
    }
    if (code != 503 && code != -1) {
      fail_msg("allocation %ld failed: got HTTP %ld, want 503", n, code);
    }
  }
  print_message("request sweep: %ld allocations\n", n - 1);
  assert_true(n > 3);
  read_raws(f, &raws);
  assert_int_equal(raws.n, 1);
  snprintf(want, sizeof want, "sweep%ld", n);
  assert_string_equal(raws.report_id[0], want);
}

/* Starting fails cleanly on every allocation failure. */
static enum mts_status start_op(struct mts_ctx *ctx, void *arg) {
  struct fixture *f = arg;
  struct mts_rpt_receiver_config c;
  struct mts_rpt_receiver *r = NULL;
  enum mts_status st;

  memset(&c, 0, sizeof c);
  c.path = "/tlsrpt";
  st = mts_rpt_receiver_start(ctx, f->store, &c, &r);
  if (st != MTS_OK) {
    assert_null(r);
  }
  mts_rpt_receiver_destroy(r);
  return st;
}

static void test_alloc_sweep_start(void **state) {
  assert_true(mts_test_alloc_sweep(start_op, *state) >= 3);
}

/* A raw HTTP/1.1 client: connect, send the request head. */
static int raw_connect(const struct fixture *f) {
  struct sockaddr_in sin;
  int fd = socket(AF_INET, SOCK_STREAM, 0);

  assert_true(fd >= 0);
  memset(&sin, 0, sizeof sin);
  sin.sin_family = AF_INET;
  sin.sin_port = htons(mts_rpt_receiver_port(f->rcv));
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
  return fd;
}

static int raw_open(const struct fixture *f, const char *head) {
  int fd = raw_connect(f);

  assert_int_equal(send(fd, head, strlen(head), MSG_NOSIGNAL),
                   (ssize_t)strlen(head));
  return fd;
}

/* Whether \p fd has something to read (or EOF) within \p ms. */
static bool raw_readable(int fd, int ms) {
  struct pollfd p = {.fd = fd, .events = POLLIN, .revents = 0};

  return poll(&p, 1, ms) == 1;
}

/* The status code of the answer on \p fd (bounded wait), or -1. */
static long raw_status(int fd) {
  char buf[512];
  ssize_t n;
  long code = -1;

  if (!raw_readable(fd, 10000)) {
    return -1;
  }
  n = read(fd, buf, sizeof buf - 1);
  if (n > 9 && memcmp(buf, "HTTP/1.1 ", 9) == 0) {
    char *end;

    buf[n] = '\0';
    code = strtol(buf + 9, &end, 10);
    if (end != buf + 12 || *end != ' ') {
      code = -1;
    }
  }
  return code;
}

/* Sends \p head, checks that no answer comes before the body, sends the
 * \p len bytes of \p body, \return the status. */
static long raw_after_body(const struct fixture *f, const char *head,
                           const char *body, size_t len) {
  int fd = raw_open(f, head);
  long code;

  assert_false(raw_readable(fd, 300));
  assert_int_equal(write(fd, body, len), (ssize_t)len);
  code = raw_status(fd);
  close(fd);
  return code;
}

/*
 * A declared body over the limit: a client that sends its whole body
 * before it reads must get the 413, so the server drains up to twice the
 * limit before it answers; closing with unread data would send a reset
 * under the answer (the flake test_report_html once showed). A client
 * that waits for "100 Continue", or a body past twice the limit, is
 * refused on the headers.
 */
static void test_too_big_drained(void **state) {
  struct fixture *f = *state;
  struct mts_rpt_receiver_config c;
  struct mts_rpt_receiver_stats stats;
  static char body[12000];
  char head[256];
  int fd;

  memset(&c, 0, sizeof c);
  c.max_body = 8192;
  start(f, &c);
  memset(body, ' ', sizeof body);

  /* 12,000 of 8,192 bytes declared, no Expect: no answer before the body */
  snprintf(head, sizeof head,
           "POST / HTTP/1.1\r\nHost: x\r\n"
           "Content-Type: application/tlsrpt+json\r\n"
           "Content-Length: %zu\r\n\r\n",
           sizeof body);
  assert_int_equal(raw_after_body(f, head, body, sizeof body), 413);

  /* the same with "Expect: 100-continue": refused at once */
  snprintf(head, sizeof head,
           "POST / HTTP/1.1\r\nHost: x\r\n"
           "Content-Type: application/tlsrpt+json\r\n"
           "Expect: 100-continue\r\n"
           "Content-Length: %zu\r\n\r\n",
           sizeof body);
  fd = raw_open(f, head);
  assert_int_equal(raw_status(fd), 413);
  close(fd);

  /* past twice the limit: refused at once, nothing read */
  fd = raw_open(f, "POST / HTTP/1.1\r\nHost: x\r\n"
                   "Content-Type: application/tlsrpt+json\r\n"
                   "Content-Length: 16385\r\n\r\n");
  assert_int_equal(raw_status(fd), 413);
  close(fd);

  /* and through curl, twenty times */
  for (int i = 0; i < 20; i++) {
    assert_int_equal(post(f, "application/tlsrpt+json", body, sizeof body),
                     413);
  }
  mts_rpt_receiver_stats(f->rcv, &stats);
  assert_int_equal(stats.too_big, 23);
  assert_int_equal(stats.stored, 0);
  mts_rpt_receiver_destroy(f->rcv);
  f->rcv = NULL;
}

/*
 * Every refusal decided on the headers (429, 405, 404, 415) waits for the
 * body like the 413 does, for the same reason: answered before the body
 * is read, the answer may be lost under a reset. A request without a body
 * is answered at once.
 */
static void test_refusals_drained(void **state) {
  struct fixture *f = *state;
  struct mts_rpt_receiver_config c;
  struct mts_rpt_receiver_stats stats;
  static char body[4001];
  char head[256], chunked[4200];
  int fd;

  memset(&c, 0, sizeof c);
  c.max_body = 8192;
  c.path = "/in";
  c.rate_per_min = 60;
  c.rate_burst = 5;
  start(f, &c);
  memset(body, '{', sizeof body - 1);

  snprintf(head, sizeof head,
           "PUT /in HTTP/1.1\r\nHost: x\r\n"
           "Content-Type: application/tlsrpt+json\r\n"
           "Content-Length: %zu\r\n\r\n",
           strlen(body));
  assert_int_equal(raw_after_body(f, head, body, strlen(body)), 405);
  snprintf(head, sizeof head,
           "POST /other HTTP/1.1\r\nHost: x\r\n"
           "Content-Type: application/tlsrpt+json\r\n"
           "Content-Length: %zu\r\n\r\n",
           strlen(body));
  assert_int_equal(raw_after_body(f, head, body, strlen(body)), 404);
  snprintf(head, sizeof head,
           "POST /in HTTP/1.1\r\nHost: x\r\n"
           "Content-Type: text/plain\r\n"
           "Content-Length: %zu\r\n\r\n",
           strlen(body));
  assert_int_equal(raw_after_body(f, head, body, strlen(body)), 415);
  /* chunked, no length declared */
  snprintf(chunked, sizeof chunked, "%zx\r\n%s\r\n0\r\n\r\n",
           strlen(body), body);
  assert_int_equal(raw_after_body(f,
                                  "POST /in HTTP/1.1\r\nHost: x\r\n"
                                  "Content-Type: text/plain\r\n"
                                  "Transfer-Encoding: chunked\r\n\r\n",
                                  chunked, strlen(chunked)),
                   415);
  /* no body: at once */
  fd = raw_open(f, "GET /in HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_int_equal(raw_status(fd), 405);
  close(fd);
  /* the burst of 5 is spent: 429, after the body too */
  snprintf(head, sizeof head,
           "POST /in HTTP/1.1\r\nHost: x\r\n"
           "Content-Type: application/tlsrpt+json\r\n"
           "Content-Length: %zu\r\n\r\n",
           strlen(body));
  assert_int_equal(raw_after_body(f, head, body, strlen(body)), 429);
  mts_rpt_receiver_stats(f->rcv, &stats);
  assert_int_equal(stats.requests, 6);
  assert_int_equal(stats.limited, 1);
  assert_int_equal(stats.bad_type, 2);
  assert_int_equal(stats.stored + stats.rejected + stats.duplicates, 0);
  mts_rpt_receiver_destroy(f->rcv);
  f->rcv = NULL;
}

/* report_json(\p id) grown to exactly \p size bytes by an unknown key
 * holding pseudo-random hex (compresses ~2:1, so no ratio limit trips). */
static char *padded_json(const char *id, size_t size) {
  static const char key[] = "\"x-pad\":\"\",";
  char *base = report_json(id), *s = malloc(size + 1);
  size_t blen = strlen(base), pad, i;
  uint32_t x = 2463534242u;

  assert_non_null(s);
  assert_true(size > blen + sizeof key);
  pad = size - blen - (sizeof key - 1);
  s[0] = '{';
  memcpy(s + 1, key, 9); /* "x-pad":" */
  for (i = 0; i < pad; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    s[10 + i] = "0123456789abcdef"[x & 15];
  }
  memcpy(s + 10 + pad, "\",", 2);
  memcpy(s + 12 + pad, base + 1, blen); /* the rest, with the NUL */
  assert_int_equal(strlen(s), size);
  free(base);
  return s;
}

/*
 * Each document of a body is at most MTS_RPT_RECEIVER_MAX_DOC bytes
 * decompressed, not the parser's MTS_RPT_REPORT_MAX: exactly that much
 * is stored; one byte more, gzipped or plain, is 400 unpack-too-big and
 * kept raw as sent.
 */
static void test_doc_limit(void **state) {
  struct fixture *f = *state;
  struct mts_rpt_receiver_config c;
  struct raws raws;
  char *ok = padded_json("d1", MTS_RPT_RECEIVER_MAX_DOC);
  char *big = padded_json("d2", MTS_RPT_RECEIVER_MAX_DOC + 1);
  size_t oklen, biglen;
  unsigned char *okgz = gzip(ok, &oklen), *biggz = gzip(big, &biglen);

  memset(&c, 0, sizeof c);
  start(f, &c);
  assert_true(biglen < MTS_RPT_RECEIVER_MAX_BODY);
  assert_int_equal(post(f, "application/tlsrpt+gzip", okgz, oklen), 201);
  assert_int_equal(post(f, "application/tlsrpt+gzip", biggz, biglen), 400);
  assert_int_equal(post(f, "application/tlsrpt+json", big, strlen(big)), 400);
  mts_rpt_receiver_destroy(f->rcv);
  f->rcv = NULL;

  read_raws(f, &raws);
  assert_int_equal(raws.n, 3);
  assert_int_equal(raws.outcome[0], MTS_RPT_STORE_NEW);
  assert_string_equal(raws.report_id[0], "d1");
  assert_int_equal(raws.len[0], MTS_RPT_RECEIVER_MAX_DOC);
  assert_int_equal(raws.outcome[1], MTS_RPT_STORE_REJECTED);
  assert_non_null(strstr(raws.reason[1], "unpack-too-big"));
  assert_int_equal(raws.len[1], biglen); /* as sent */
  assert_int_equal(raws.outcome[2], MTS_RPT_STORE_REJECTED);
  assert_non_null(strstr(raws.reason[2], "unpack-too-big"));
  assert_int_equal(raws.len[2], MTS_RPT_RECEIVER_MAX_DOC + 1);
  free(ok);
  free(big);
  free(okgz);
  free(biggz);
}

/* IPv6 loopback, when the host has it. */
/* One address gets at most max_conn_per_ip connections (the next is
 * closed at once), and a body trickled to stay under the idle timeout is
 * cut off at request_timeout_s. */
static void test_slow_clients(void **state) {
  static const char head[] = "POST / HTTP/1.1\r\nHost: x\r\n"
                             "Content-Type: application/tlsrpt+json\r\n"
                             "Content-Length: 100\r\n\r\n";
  struct fixture *f = *state;
  struct mts_rpt_receiver_config c;
  int fd[3], i, t;
  char b;
  bool closed = false;

  memset(&c, 0, sizeof c);
  c.max_conn_per_ip = 2;
  c.request_timeout_s = 1;
  c.timeout_s = 30;
  start(f, &c);
  fd[0] = raw_open(f, head);
  fd[1] = raw_open(f, head);
  fd[2] = raw_connect(f); /* closed at once: nothing may be sent on it */
  /* The third: closed without an answer; the first two stay open. */
  assert_true(raw_readable(fd[2], 5000));
  assert_true(read(fd[2], &b, 1) <= 0); /* EOF or a reset */
  assert_false(raw_readable(fd[0], 200));
  assert_false(raw_readable(fd[1], 10));
  /* A byte every 200 ms: never idle, but past the 1 s deadline. */
  for (t = 0; t < 40 && !closed; t++) {
    if (send(fd[0], "{", 1, MSG_NOSIGNAL) != 1) {
      break; /* closed already */
    }
    closed = raw_readable(fd[0], 200);
  }
  closed = closed || raw_readable(fd[0], 1000);
  assert_true(closed);
  assert_true(t >= 4); /* not before the deadline */
  assert_true(read(fd[0], &b, 1) <= 0);
  for (i = 0; i < 2; i++) {
    close(fd[i]);
  }
  close(fd[2]);
  mts_rpt_receiver_destroy(f->rcv);
  f->rcv = NULL;
}

/* Headers trickled a byte at a time, never idle for the 30 s timeout:
 * the connection is closed at header_timeout_s (1 s here), logged and
 * counted; a client that sent its headers at once is not touched, and
 * a kept-alive connection gets the deadline again for its next
 * request. Before, only the idle timeout applied. */
static void test_slow_headers(void **state) {
  static const char head[] = "POST / HTTP/1.1\r\nHost: x\r\n"
                             "Content-Type: application/tlsrpt+json\r\n"
                             "Content-Length: 100\r\n\r\n";
  struct fixture *f = *state;
  struct mts_rpt_receiver_config c;
  struct mts_rpt_receiver_stats stats;
  int slow, fast, idle, t;
  bool closed = false;
  char b;

  memset(&c, 0, sizeof c);
  c.header_timeout_s = 1;
  c.request_timeout_s = 30;
  c.timeout_s = 30;
  start(f, &c);
  slow = raw_open(f, "POST / HTTP/1.1\r\nHost: x\r\n");
  fast = raw_open(f, head); /* headers complete, body pending */
  idle = raw_connect(f);    /* sends nothing: cut too */
  for (t = 0; t < 40 && !closed; t++) {
    if (send(slow, "X", 1, MSG_NOSIGNAL) != 1) {
      break; /* closed already */
    }
    closed = raw_readable(slow, 200);
  }
  closed = closed || raw_readable(slow, 1000);
  assert_true(closed);
  assert_true(t >= 4); /* not before the deadline */
  assert_true(read(slow, &b, 1) <= 0);
  assert_true(raw_readable(idle, 2000));
  assert_true(read(idle, &b, 1) <= 0);
  /* the one past its headers is waiting for its body, untouched */
  assert_false(raw_readable(fast, 300));
  close(slow);
  close(idle);
  close(fast);
  mts_rpt_receiver_destroy(f->rcv);
  f->rcv = NULL;
  /* nothing of the kind with the default (30 s) */
  memset(&c, 0, sizeof c);
  start(f, &c);
  slow = raw_open(f, "POST / HTTP/1.1\r\nHost: x\r\n");
  assert_false(raw_readable(slow, 1500));
  mts_rpt_receiver_stats(f->rcv, &stats);
  assert_int_equal(stats.header_timeouts, 0);
  close(slow);
  mts_rpt_receiver_destroy(f->rcv);
  f->rcv = NULL;
}

/* A kept-alive connection: its second request gets the header deadline
 * again, counted from the end of the first. */
static void test_keepalive_header_deadline(void **state) {
  struct fixture *f = *state;
  struct mts_rpt_receiver_config c;
  struct mts_rpt_receiver_stats stats;
  char *rep = report_json("ka1");
  char head[2048], buf[512];
  int fd, n;
  char b;

  memset(&c, 0, sizeof c);
  c.header_timeout_s = 1;
  start(f, &c);
  snprintf(head, sizeof head,
           "POST / HTTP/1.1\r\nHost: x\r\n"
           "Content-Type: application/tlsrpt+json\r\n"
           "Content-Length: %zu\r\n\r\n%s",
           strlen(rep), rep);
  assert_true(strlen(head) < sizeof head - 1);
  fd = raw_open(f, head);
  assert_true(raw_readable(fd, 10000));
  n = (int)read(fd, buf, sizeof buf - 1);
  assert_true(n > 12);
  buf[n] = '\0';
  assert_non_null(strstr(buf, "HTTP/1.1 201"));
  /* kept alive; no next request: closed after about a second */
  assert_false(raw_readable(fd, 500));
  assert_true(raw_readable(fd, 3000));
  assert_true(read(fd, &b, 1) <= 0);
  close(fd);
  mts_rpt_receiver_stats(f->rcv, &stats);
  assert_int_equal(stats.header_timeouts, 1);
  assert_int_equal(stats.stored, 1);
  mts_rpt_receiver_destroy(f->rcv);
  f->rcv = NULL;
  free(rep);
}

/* MTS_RPT_RECEIVER_UNLIMITED lifts the per-address limit (a reverse
 * proxy in front): 12 connections from one address all stay open. */
static void test_unlimited_per_ip(void **state) {
  static const char head[] = "POST / HTTP/1.1\r\nHost: x\r\n"
                             "Content-Type: application/tlsrpt+json\r\n"
                             "Content-Length: 100\r\n\r\n";
  struct fixture *f = *state;
  struct mts_rpt_receiver_config c;
  int fd[12], i;

  memset(&c, 0, sizeof c);
  c.max_conn_per_ip = MTS_RPT_RECEIVER_UNLIMITED;
  start(f, &c);
  for (i = 0; i < 12; i++) {
    fd[i] = raw_open(f, head);
  }
  for (i = 0; i < 12; i++) {
    assert_false(raw_readable(fd[i], i == 0 ? 300 : 1));
  }
  for (i = 0; i < 12; i++) {
    close(fd[i]);
  }
  mts_rpt_receiver_destroy(f->rcv);
  f->rcv = NULL;
}

/* POST \p body; \return the status, *retry the Retry-After (-1: none). */
static long post_retry(const struct fixture *f, const char *body,
                       long *retry) {
  return request_h(f, "POST", "/", "application/tlsrpt+json", body,
                   strlen(body), false, retry);
}

/* The daily quota: the POST that crosses it is stored, the next gets 507
 * with the seconds to the next UTC day; a new UTC day starts from zero;
 * a restarted receiver reads the day's count from the store; inputs from
 * other sources do not count; NO_QUOTA is none. */
static void test_day_quota(void **state) {
  struct fixture *f = *state;
  struct mts_rpt_receiver_config c;
  struct mts_rpt_receiver_stats stats;
  enum mts_rpt_store_outcome out;
  char *r[6];
  size_t len;
  long retry;
  int i;
  struct raws raws;

  for (i = 0; i < 6; i++) {
    char id[8];

    snprintf(id, sizeof id, "d%d", i);
    r[i] = report_json(id);
  }
  len = strlen(r[0]);
  f->clock.now += 3600; /* 2026-12-01T01:00:00Z */
  /* A big input from a file the same day counts for nothing here. */
  assert_int_equal(mts_rpt_store_add(f->store, NULL, (const uint8_t *)r[5],
                                     len, "file:big", "test", &out),
                   MTS_OK);
  memset(&c, 0, sizeof c);
  c.max_bytes_per_day = len + 1;
  start(f, &c);
  assert_int_equal(post_retry(f, r[0], &retry), 201);
  assert_int_equal(retry, -1);
  assert_int_equal(post_retry(f, r[1], &retry), 201); /* crosses it */
  assert_int_equal(post_retry(f, r[2], &retry), 507);
  assert_int_equal(retry, 23 * 3600);
  f->clock.now += 23 * 3600 - 1; /* 23:59:59Z, still used up */
  assert_int_equal(post_retry(f, r[2], &retry), 507);
  assert_int_equal(retry, 1);
  f->clock.now += 1; /* the next UTC day */
  assert_int_equal(post_retry(f, r[2], &retry), 201);
  mts_rpt_receiver_stats(f->rcv, &stats);
  assert_int_equal(stats.over_quota, 2);
  assert_int_equal(stats.stored, 3);
  mts_rpt_receiver_destroy(f->rcv);
  f->rcv = NULL;

  /* A restart the same day: r2's bytes are read back from the store. */
  start(f, &c);
  assert_int_equal(post_retry(f, r[3], &retry), 201);
  assert_int_equal(post_retry(f, r[4], &retry), 507);
  mts_rpt_receiver_destroy(f->rcv);
  f->rcv = NULL;

  /* No quota. */
  c.max_bytes_per_day = MTS_RPT_RECEIVER_NO_QUOTA;
  start(f, &c);
  assert_int_equal(post_retry(f, r[4], &retry), 201);
  mts_rpt_receiver_destroy(f->rcv);
  f->rcv = NULL;

  read_raws(f, &raws);
  assert_int_equal(raws.n, 6); /* refused POSTs store nothing */
  assert_string_equal(raws.report_id[5], "d4");
  for (i = 0; i < 6; i++) {
    free(r[i]);
  }
}

/* Requests whose headers all came in before any body was stored: the
 * quota is checked again when each body is in, so only the body that
 * crosses it is stored past it. Before, all four were stored. */
static void test_day_quota_concurrent(void **state) {
  struct fixture *f = *state;
  struct mts_rpt_receiver_config c;
  char head[256];
  char *r[4];
  int fd[4], i;
  struct raws raws;

  for (i = 0; i < 4; i++) {
    char id[8];

    snprintf(id, sizeof id, "c%d", i);
    r[i] = report_json(id);
  }
  memset(&c, 0, sizeof c);
  c.max_bytes_per_day = strlen(r[0]) + 1;
  start(f, &c);
  snprintf(head, sizeof head,
           "POST / HTTP/1.1\r\nHost: x\r\n"
           "Content-Type: application/tlsrpt+json\r\n"
           "Content-Length: %zu\r\n\r\n",
           strlen(r[0]));
  for (i = 0; i < 4; i++) {
    fd[i] = raw_open(f, head);
  }
  assert_false(raw_readable(fd[3], 300)); /* all waiting for bodies */
  for (i = 0; i < 4; i++) {
    assert_int_equal(send(fd[i], r[i], strlen(r[i]), MSG_NOSIGNAL),
                     (ssize_t)strlen(r[i]));
    assert_int_equal(raw_status(fd[i]), i < 2 ? 201 : 507);
    close(fd[i]);
  }
  mts_rpt_receiver_destroy(f->rcv);
  f->rcv = NULL;
  read_raws(f, &raws);
  assert_int_equal(raws.n, 2);
  for (i = 0; i < 4; i++) {
    free(r[i]);
  }
}

static void test_ipv6(void **state) {
  struct fixture *f = *state;
  struct mts_rpt_receiver_config c;
  char *r1 = report_json("v6");
  struct raws raws;

  memset(&c, 0, sizeof c);
  c.addr = "::1";
  if (mts_rpt_receiver_start(f->ctx, f->store, &c, &f->rcv) != MTS_OK) {
    free(r1);
    skip();
  }
  snprintf(f->url, sizeof f->url, "http://[::1]:%u",
           (unsigned)mts_rpt_receiver_port(f->rcv));
  assert_int_equal(post(f, "application/tlsrpt+json", r1, strlen(r1)), 201);
  mts_rpt_receiver_destroy(f->rcv);
  f->rcv = NULL;
  read_raws(f, &raws);
  assert_int_equal(raws.n, 1);
  assert_string_equal(raws.source[0], "https:::1");
  free(r1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_status_codes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_too_big_drained, setup, teardown),
      cmocka_unit_test_setup_teardown(test_refusals_drained, setup, teardown),
      cmocka_unit_test_setup_teardown(test_path, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rate_limit, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rate_table_small, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rate_many_clients, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_config, setup, teardown),
      cmocka_unit_test_setup_teardown(test_slow_clients, setup, teardown),
      cmocka_unit_test_setup_teardown(test_slow_headers, setup, teardown),
      cmocka_unit_test_setup_teardown(test_keepalive_header_deadline, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_unlimited_per_ip, setup, teardown),
      cmocka_unit_test_setup_teardown(test_ipv6, setup, teardown),
      cmocka_unit_test_setup_teardown(test_day_quota, setup, teardown),
      cmocka_unit_test_setup_teardown(test_day_quota_concurrent, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_doc_limit, setup, teardown),
      cmocka_unit_test_setup_teardown(test_alloc_sweep_request, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_alloc_sweep_start, setup, teardown),
  };
  int rc;

  curl_global_init(CURL_GLOBAL_DEFAULT);
  rc = cmocka_run_group_tests(tests, NULL, NULL);
  curl_global_cleanup();
  return rc;
}
