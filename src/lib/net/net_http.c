/*
 * net_http.c - HTTPS GET with the libcurl multi socket API on libuv.
 *
 * One GET = an address lookup through the net's c-ares channel (so the
 * configured resolver governs the policy host too), then one easy handle
 * pinned to those addresses with CURLOPT_RESOLVE, in a DNS cache of its
 * own (a CURLSH freed with the GET, see easy_setup). The transfer is the
 * classic multi-uv integration: CURLMOPT_SOCKETFUNCTION maps sockets to
 * uv_poll_t, CURLMOPT_TIMERFUNCTION drives one uv_timer_t, and
 * curl_multi_socket_action() is called from both.
 *
 * RFC 8461 3.3 / 7.1 rules enforced here (docs/decisions.md):
 *  - TLS 1.2 or newer, peer and host verified, SNI = host (FETCH-15);
 *  - DNS-ID only (FETCH-3): OpenSSL's own host check is turned on for the
 *    handshake with X509_CHECK_FLAG_NEVER_CHECK_SUBJECT, so a certificate
 *    without a matching dNSName SAN fails even where curl's check would
 *    fall back to the CN; NO_PARTIAL_WILDCARDS for FETCH-4;
 *  - no redirects (FETCH-7), no cache and no conditional headers
 *    (FETCH-8), no connection or TLS session reuse;
 *  - body cap while receiving (FETCH-10), no Accept-Encoding so the cap
 *    is the wire size.
 */
#include "net/net_int.h"
#include "net/net_tls_int.h"

#include <stdio.h>
#include <string.h>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define HTTP_PATH_MAX 2048
#define HTTP_USER_AGENT "mtasts/0.1"
/* Seconds libcurl reuses a CA store built from a bundle file. */
#define HTTP_CA_CACHE_S 3600L

struct http_op {
  struct mts_net_op link; /* first: the net's op list */
  struct mts_net *net;
  struct mts_ctx *ctx;
  mts_net_http_cb cb;
  void *arg;
  char *host;
  char *path;
  struct mts_net_dns_op *addr; /* the address lookup while it runs */
  CURL *easy;
  CURLSH *dns;                 /* this GET's own DNS cache (easy_setup) */
  struct curl_slist *resolve;
  uint8_t *body;
  size_t body_len;
  size_t body_cap;
  bool toobig;
  uint64_t start_ms;
  char errbuf[CURL_ERROR_SIZE];
  char errmsg[CURL_ERROR_SIZE + 128];
};

static void op_free(struct http_op *op) {
  struct mts_ctx *ctx = op->ctx;

  if (op->easy != NULL) {
    if (op->net->multi != NULL) {
      (void)curl_multi_remove_handle(op->net->multi, op->easy);
    }
    curl_easy_cleanup(op->easy);
  }
  if (op->dns != NULL) {
    (void)curl_share_cleanup(op->dns); /* after the easy handle */
  }
  curl_slist_free_all(op->resolve);
  mts_free(ctx, op->body);
  mts_free(ctx, op->host);
  mts_free(ctx, op->path);
  mts_free(ctx, op);
}

/* Unlink, deliver, free. The caller holds a net frame (enter/leave). */
static void op_finish(struct http_op *op, enum mts_status st,
                      const struct mts_http_response *resp,
                      const char *errmsg) {
  mts_net_op_unlink(op->net, &op->link);
  if (op->addr != NULL) {
    mts_net_dns_addr_cancel(op->addr);
    op->addr = NULL;
  }
  op->cb(op->arg, st, resp, st == MTS_OK ? NULL : errmsg);
  op_free(op);
}

static void op_fail(struct mts_net_op *link, enum mts_status st) {
  struct http_op *op = (struct http_op *)link;

  /* op_finish unlinks again: harmless on an unlinked op. */
  (void)snprintf(op->errmsg, sizeof(op->errmsg), "GET https://%s%s: %s",
                 op->host, op->path, mts_status_str(st));
  op_finish(op, st, NULL, op->errmsg);
}

/* ---- libcurl callbacks ---- */

static size_t write_cb(char *data, size_t size, size_t nmemb, void *userp) {
  struct http_op *op = userp;
  size_t n = size * nmemb;

  if (nmemb != 0 && n / nmemb != size) {
    return 0;
  }
  if (n > op->net->max_body - op->body_len) {
    op->toobig = true;
    return 0; /* CURLE_WRITE_ERROR */
  }
  if (op->body_len + n > op->body_cap) {
    size_t cap = op->body_cap > 0 ? op->body_cap : 4096;
    uint8_t *nb;

    while (cap < op->body_len + n) {
      cap *= 2;
    }
    if (cap > op->net->max_body) {
      cap = op->net->max_body;
    }
    nb = mts_realloc(op->ctx, op->body, cap);
    if (nb == NULL) {
      return 0;
    }
    op->body = nb;
    op->body_cap = cap;
  }
  if (n > 0) {
    memcpy(op->body + op->body_len, data, n);
    op->body_len += n;
  }
  return n;
}

/* Whether libcurl was built with a default CA bundle file, so that
 * dropping its default CA directory still leaves the system's trust
 * anchors (without one, the directory is all there is: keep it). */
static bool system_bundle_only(void) {
  const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);

  return v != NULL && v->cainfo != NULL && v->cainfo[0] != '\0';
}

/* Runs before each TLS handshake: make OpenSSL's chain verification
 * check the host name against dNSName SANs only (FETCH-3, FETCH-4). */
static CURLcode ssl_ctx_cb(CURL *easy, void *sslctx, void *parm) {
  struct http_op *op = parm;
  X509_VERIFY_PARAM *vp = SSL_CTX_get0_param(sslctx);

  (void)easy;
  if (vp == NULL) {
    return CURLE_SSL_CERTPROBLEM;
  }
  if (mts_net_tls_dnsid(vp, op->host) != 1) {
    return CURLE_OUT_OF_MEMORY;
  }
  if (SSL_CTX_set_min_proto_version(sslctx, TLS1_2_VERSION) != 1) {
    return CURLE_SSL_CONNECT_ERROR;
  }
  return CURLE_OK;
}

static enum mts_status curl_status(CURLcode rc, bool toobig) {
  switch (rc) {
  case CURLE_OK:
    return MTS_OK;
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_ISSUER_ERROR:
  case CURLE_SSL_INVALIDCERTSTATUS:
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
  case CURLE_SSL_CRL_BADFILE:
    return MTS_ETLS;
  case CURLE_COULDNT_CONNECT:
    return MTS_ECONNECT;
  case CURLE_OPERATION_TIMEDOUT:
    return MTS_ETIMEOUT;
  case CURLE_FILESIZE_EXCEEDED:
    return MTS_ETOOBIG;
  case CURLE_WRITE_ERROR:
    return toobig ? MTS_ETOOBIG : MTS_ENOMEM;
  case CURLE_OUT_OF_MEMORY:
    return MTS_ENOMEM;
  default:
    return MTS_EIO;
  }
}

static void transfer_done(struct http_op *op, CURLcode rc) {
  struct mts_http_response resp;
  enum mts_status st = curl_status(rc, op->toobig);
  char *ct = NULL;
  char *loc = NULL;
  long code = 0;
  long os_errno = 0;

  /* A connection reset or closed during the handshake is also
   * CURLE_SSL_CONNECT_ERROR, but a network failure, not a TLS verdict
   * (RFC 8460: sts-policy-fetch-error, not sts-webpki-invalid). The
   * socket's errno tells them apart (tests/integration/test_netfaults.sh). */
  if (rc == CURLE_SSL_CONNECT_ERROR &&
      curl_easy_getinfo(op->easy, CURLINFO_OS_ERRNO, &os_errno) == CURLE_OK &&
      os_errno != 0) {
    st = MTS_EIO;
  }
  /* A header line over curl's limit: a fetch error with a backoff, not
   * a retry at every lookup (test_netfaults.sh, "a header line without
   * end"). */
  if (rc == CURLE_OUT_OF_MEMORY &&
      curl_easy_getinfo(op->easy, CURLINFO_RESPONSE_CODE, &code) ==
          CURLE_OK &&
      mts_net_curl_header_overflow(rc, code)) {
    st = MTS_EIO;
    (void)snprintf(op->errbuf, sizeof(op->errbuf), "%s",
                   MTS_NET_CURL_HEADER_OVERFLOW_MSG);
  }
  if (st != MTS_OK) {
    if (st == MTS_ETOOBIG) {
      (void)snprintf(op->errmsg, sizeof(op->errmsg),
                     "GET https://%s%s: body exceeds %zu bytes", op->host,
                     op->path, op->net->max_body);
    } else {
      (void)snprintf(op->errmsg, sizeof(op->errmsg), "GET https://%s%s: %s",
                     op->host, op->path,
                     op->errbuf[0] != '\0' ? op->errbuf
                                           : curl_easy_strerror(rc));
    }
    op_finish(op, st, NULL, op->errmsg);
    return;
  }
  (void)curl_easy_getinfo(op->easy, CURLINFO_RESPONSE_CODE, &code);
  (void)curl_easy_getinfo(op->easy, CURLINFO_CONTENT_TYPE, &ct);
  if (code >= 300 && code < 400) {
    (void)curl_easy_getinfo(op->easy, CURLINFO_REDIRECT_URL, &loc);
  }
  memset(&resp, 0, sizeof(resp));
  resp.status = code;
  resp.content_type = ct;
  resp.body = op->body != NULL ? op->body : (const uint8_t *)"";
  resp.body_len = op->body_len;
  resp.location = loc;
  resp.elapsed_ms = mts_net_now(op->net) - op->start_ms;
  op_finish(op, MTS_OK, &resp, NULL);
}

static void check_multi_info(struct mts_net *net) {
  CURLMsg *msg;
  int left;

  while (!net->torn_down && net->multi != NULL &&
         (msg = curl_multi_info_read(net->multi, &left)) != NULL) {
    CURL *easy = msg->easy_handle;
    CURLcode rc = msg->data.result;
    char *priv = NULL;

    if (msg->msg != CURLMSG_DONE) {
      continue;
    }
    (void)curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
    if (priv != NULL) {
      transfer_done((struct http_op *)(void *)priv, rc);
    }
  }
}

void mts_net_http_timer(uv_timer_t *t) {
  struct mts_net *net = t->data;
  int running = 0;

  mts_net_enter(net);
  if (!net->torn_down && net->multi != NULL) {
    (void)curl_multi_socket_action(net->multi, CURL_SOCKET_TIMEOUT, 0,
                                   &running);
    check_multi_info(net);
    mts_net_reap_oom(net);
  }
  mts_net_leave(net);
}

void mts_net_http_process(struct mts_net *net, int fd, int events,
                          int status) {
  int flags = 0;
  int running = 0;

  if (status < 0) {
    /* libuv says UV_EBADF for POLLERR: let curl read the socket too, so
     * that it reports the socket's error ("Connection reset by peer")
     * rather than "select/poll returned error". */
    flags = CURL_CSELECT_ERR | CURL_CSELECT_IN | CURL_CSELECT_OUT;
  } else {
    flags |= (events & UV_READABLE) ? CURL_CSELECT_IN : 0;
    flags |= (events & UV_WRITABLE) ? CURL_CSELECT_OUT : 0;
  }
  mts_net_enter(net);
  if (!net->torn_down && net->multi != NULL) {
    (void)curl_multi_socket_action(net->multi, fd, flags, &running);
    check_multi_info(net);
    mts_net_reap_oom(net);
  }
  mts_net_leave(net);
}

int mts_net_http_timer_cb(CURLM *multi, long timeout_ms, void *userp) {
  struct mts_net *net = userp;

  (void)multi;
  if (net->torn_down || !net->timers_init) {
    return 0;
  }
  if (timeout_ms < 0) {
    (void)uv_timer_stop(&net->curl_timer);
  } else {
    /* Never call back into curl from here: 0 ms runs on the next loop
     * iteration. */
    (void)uv_timer_start(&net->curl_timer, mts_net_http_timer,
                         (uint64_t)timeout_ms,
                         0);
  }
  return 0;
}

int mts_net_http_socket_cb(CURL *easy, curl_socket_t s, int what, void *userp,
                           void *socketp) {
  struct mts_net *net = userp;
  struct mts_net_sock *sock = socketp;
  struct mts_net_sock *ns;
  int events = 0;

  switch (what) {
  case CURL_POLL_IN:
  case CURL_POLL_OUT:
  case CURL_POLL_INOUT:
    if (net->torn_down) {
      return 0;
    }
    events |= (what & CURL_POLL_IN) ? UV_READABLE : 0;
    events |= (what & CURL_POLL_OUT) ? UV_WRITABLE : 0;
    ns = mts_net_sock_watch(net, sock, s, events, true);
    if (ns == NULL) {
      /* Not -1: that kills the whole multi for good (multi->dead). End
       * this transfer with MTS_ENOMEM once curl has returned. */
      char *priv = NULL;

      if (easy != NULL &&
          curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv) == CURLE_OK &&
          priv != NULL) {
        ((struct http_op *)(void *)priv)->link.oom = true;
        net->http_oom = true;
      }
      return 0;
    }
    if (sock == NULL) {
      (void)curl_multi_assign(net->multi, s, ns);
    }
    break;
  case CURL_POLL_REMOVE:
    if (sock != NULL) {
      mts_net_sock_unwatch(sock);
      if (!net->torn_down) {
        (void)curl_multi_assign(net->multi, s, NULL);
      }
    }
    break;
  default:
    break;
  }
  return 0;
}

/* ---- starting a GET ---- */

static enum mts_status easy_setup(struct http_op *op, const char *addrs) {
  struct mts_net *net = op->net;
  CURL *e;
  char *url = NULL;
  char *res = NULL;
  size_t n;
  uint64_t spent = mts_net_now(net) - op->start_ms;
  long left;
  enum mts_status st = MTS_ENOMEM;
  int bad = 0;

  n = strlen(op->host) + strlen(op->path) + strlen(addrs) + 32;
  url = mts_malloc(op->ctx, n);
  res = mts_malloc(op->ctx, n);
  if (url == NULL || res == NULL) {
    goto done;
  }
  if (net->https_port == 443) {
    (void)snprintf(url, n, "https://%s%s", op->host, op->path);
  } else {
    (void)snprintf(url, n, "https://%s:%u%s", op->host,
                   (unsigned)net->https_port, op->path);
  }
  /* "+" makes the entry an ordinary, expiring DNS cache entry: without it
   * libcurl keeps every pinned host forever in the multi handle's shared
   * DNS cache and walks them all on each transfer (found by the
   * benchmark: 80% of the daemon's CPU after 100,000 distinct hosts). */
  (void)snprintf(res, n, "+%s:%u:%s", op->host, (unsigned)net->https_port,
                 addrs);
  op->resolve = curl_slist_append(NULL, res);
  /* A DNS cache of this GET's own, holding the one pinned entry and freed
   * with it. In the multi handle's shared cache, even expiring ("+")
   * entries live dns_cache_timeout (60 s), and libcurl walks the whole
   * cache on every transfer: 20% of the daemon's CPU at 100 fetches/s
   * (perf, bench/README.md). */
  op->dns = curl_share_init();
  if (op->dns != NULL &&
      curl_share_setopt(op->dns, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) !=
          CURLSHE_OK) {
    (void)curl_share_cleanup(op->dns);
    op->dns = NULL;
  }
  e = curl_easy_init();
  if (op->resolve == NULL || op->dns == NULL || e == NULL) {
    curl_easy_cleanup(e);
    goto done;
  }
  op->easy = e;
  /* The whole GET, address lookup included, has http_timeout_ms. */
  left = spent >= net->http_timeout_ms
             ? 1
             : (long)(net->http_timeout_ms - (uint32_t)spent);
  bad |= curl_easy_setopt(e, CURLOPT_URL, url) != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_SHARE, op->dns) != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_RESOLVE, op->resolve) != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)(void *)op) != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https") != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_SSLVERSION,
                          (long)CURL_SSLVERSION_TLSv1_2) != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, ssl_ctx_cb) != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_SSL_CTX_DATA, op) != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_SSL_SESSIONID_CACHE, 0L) != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L) != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L) != CURLE_OK;
  if (net->ca_file != NULL) {
    /* Only this bundle: no system CA directory next to it. */
    bad |= curl_easy_setopt(e, CURLOPT_CAINFO, net->ca_file) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_CAPATH, NULL) != CURLE_OK;
  } else if (system_bundle_only()) {
    /* The system trust store: its bundle file alone, without the CA
     * directory. libcurl caches a store built from a file only (no
     * CApath), in the multi handle: loading the system bundle costs
     * ~20 ms of CPU, once per fetch otherwise (measured). Debian's
     * bundle and directory hold the same certificates. */
    bad |= curl_easy_setopt(e, CURLOPT_CAPATH, NULL) != CURLE_OK;
  }
#if LIBCURL_VERSION_NUM >= 0x075700
  /* Rebuild the cached store hourly, so that a changed bundle is seen. */
  bad |= curl_easy_setopt(e, CURLOPT_CA_CACHE_TIMEOUT, HTTP_CA_CACHE_S) !=
         CURLE_OK;
#endif
  bad |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, left) != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_USERAGENT, HTTP_USER_AGENT) != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
                          (curl_off_t)net->max_body) != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb) != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_WRITEDATA, op) != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, op->errbuf) != CURLE_OK;
  if (bad) {
    st = MTS_EINTERNAL;
    goto done;
  }
  if (curl_multi_add_handle(net->multi, e) != CURLM_OK) {
    st = MTS_EINTERNAL;
    curl_easy_cleanup(e);
    op->easy = NULL;
    goto done;
  }
  st = op->link.oom ? MTS_ENOMEM : MTS_OK;
done:
  mts_free(op->ctx, url);
  mts_free(op->ctx, res);
  return st;
}

static void addr_done(void *arg, enum mts_status st, const char *addrs,
                      const char *errmsg) {
  struct http_op *op = arg;
  struct mts_net *net = op->net;

  op->addr = NULL; /* the lookup is over and frees itself */
  mts_net_enter(net);
  if (st != MTS_OK) {
    (void)snprintf(op->errmsg, sizeof(op->errmsg),
                   "address lookup of %s: %s", op->host,
                   errmsg != NULL ? errmsg : mts_status_str(st));
    op_finish(op, st, NULL, op->errmsg);
  } else {
    st = easy_setup(op, addrs);
    if (st != MTS_OK) {
      (void)snprintf(op->errmsg, sizeof(op->errmsg), "GET https://%s%s: %s",
                     op->host, op->path, mts_status_str(st));
      op_finish(op, st, NULL, op->errmsg);
    }
  }
  mts_net_leave(net);
}

/* An LDH host name with dots (A-labels), and '_' for test names. */
static bool host_ok(const char *h) {
  size_t i;
  size_t len = strlen(h);

  if (len == 0 || len > MTS_DOMAIN_MAX) {
    return false;
  }
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)h[i];

    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_')) {
      return false;
    }
  }
  return true;
}

/* Visible ASCII only: the path goes into the request line verbatim. */
static bool path_ok(const char *p) {
  size_t i;

  if (p[0] != '/') {
    return false;
  }
  for (i = 0; p[i] != '\0'; i++) {
    if ((unsigned char)p[i] <= 0x20 || (unsigned char)p[i] >= 0x7F ||
        p[i] == '#' || i >= HTTP_PATH_MAX) {
      return false;
    }
  }
  return true;
}

enum mts_status mts_net_http_get(struct mts_net *net, const char *host,
                                 const char *path, mts_net_http_cb cb,
                                 void *arg) {
  struct http_op *op;
  enum mts_status st;

  if (net == NULL || host == NULL || path == NULL || cb == NULL ||
      !host_ok(host) || !path_ok(path)) {
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
  op->link.fail = op_fail;
  op->start_ms = mts_net_now(net);
  op->host = mts_strdup(net->ctx, host);
  op->path = mts_strdup(net->ctx, path);
  if (op->host == NULL || op->path == NULL) {
    op_free(op);
    return MTS_ENOMEM;
  }
  st = mts_net_dns_addr(net, host, addr_done, op, &op->addr);
  if (st != MTS_OK) {
    op_free(op);
    return st;
  }
  mts_net_op_link(net, &op->link);
  return MTS_OK;
}
