/*
 * fakenet.h - loopback fakes for the network tests: a UDP DNS responder
 * and a TLS HTTP server, each in its own thread on 127.0.0.1 with an
 * ephemeral port. Nothing here touches the machine's resolver or the
 * network outside loopback.
 *
 * DNS: answers from a table of {name, type, rcode, TXT RRs, AD, drop},
 *   and (fake_dns_start_rrs) a table of MX and TLSA answers.
 *   A queries for names not in the table get 127.0.0.1, AAAA get NODATA,
 *   other types NXDOMAIN. The raw bytes of the last query are kept.
 * TLS: a CA and one certificate per site are made with the OpenSSL API
 *   at start; the server picks the site by SNI and sends its canned
 *   response (or stalls). The request of the last connection per site
 *   is kept for assertions.
 *
 * Links with OpenSSL (libssl, libcrypto) and pthreads.
 */
#ifndef MTS_FAKENET_H
#define MTS_FAKENET_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

/* ------------------------------------------------------------------ DNS */

#define FAKE_DNS_MAX_RRS 4
#define FAKE_DNS_MAX_STRS 4

struct fake_dns_entry {
  const char *name; /* lower case, no trailing dot */
  uint16_t type;    /* 16 TXT, 1 A, 28 AAAA */
  int rcode;        /* 0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, 5 REFUSED */
  bool drop;        /* never answer */
  bool ad;          /* set the AD bit */
  /* TXT: RRs of NULL-terminated strings; a NULL first string ends. */
  const char *txt[FAKE_DNS_MAX_RRS][FAKE_DNS_MAX_STRS + 1];
};

/* NOERROR answers with MX or TLSA records (fake_dns_start_rrs); names
 * in the main table win (use it for NXDOMAIN, SERVFAIL, drop, NODATA). */
struct fake_dns_rrs {
  const char *name; /* lower case, no trailing dot */
  uint16_t type;    /* 15 MX, 52 TLSA */
  bool ad;          /* set the AD bit */
  /* MX: exchanges, a NULL ends ("" is the null MX "."), with their
   * preferences. */
  const char *mx[FAKE_DNS_MAX_RRS];
  uint16_t mx_pref[FAKE_DNS_MAX_RRS];
  /* TLSA: this many records (3 1 1 + 32 bytes of 0xAB). */
  unsigned tlsa;
  /* The answer starts with "name CNAME cname" and the records are owned
   * by cname (a compression pointer into the CNAME's rdata). */
  const char *cname;
};

struct fake_dns {
  int fd;
  uint16_t port;
  pthread_t thread;
  atomic_int stop;
  const struct fake_dns_entry *table;
  size_t ntable;
  const struct fake_dns_rrs *rrs;
  size_t nrrs;
  atomic_int queries;
  pthread_mutex_t mu;
  uint8_t last_query[512];
  size_t last_query_len;
};

static inline bool fake_dns_name_eq(const char *a, const char *b) {
  size_t i;

  for (i = 0; a[i] != '\0' && b[i] != '\0'; i++) {
    char x = a[i] >= 'A' && a[i] <= 'Z' ? (char)(a[i] + 32) : a[i];
    char y = b[i] >= 'A' && b[i] <= 'Z' ? (char)(b[i] + 32) : b[i];

    if (x != y) {
      return false;
    }
  }
  return a[i] == b[i];
}

/* Append len bytes at *off of buf (cap 4096). */
static inline bool fake_put(uint8_t *buf, size_t *off, const void *p,
                            size_t len) {
  if (*off + len > 4096) {
    return false;
  }
  memcpy(buf + *off, p, len);
  *off += len;
  return true;
}

static inline bool fake_put16(uint8_t *buf, size_t *off, unsigned v) {
  uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};

  return fake_put(buf, off, b, 2);
}

/* Answer record header with a pointer to the question name. */
static inline bool fake_rr_hdr(uint8_t *buf, size_t *off, unsigned type,
                               unsigned rdlen) {
  uint8_t h[10] = {0xC0, 0x0C, (uint8_t)(type >> 8), (uint8_t)type, 0, 1,
                   0,    0,    0x01,                 0x2C};

  return fake_put(buf, off, h, sizeof(h)) && fake_put16(buf, off, rdlen);
}

/* A record header owned by the name at offset \p owner (a pointer). */
static inline bool fake_rr_hdr_at(uint8_t *buf, size_t *off, size_t owner,
                                  unsigned type, unsigned rdlen) {
  uint8_t h[10] = {(uint8_t)(0xC0 | (owner >> 8)), (uint8_t)owner,
                   (uint8_t)(type >> 8), (uint8_t)type, 0, 1, 0, 0, 0x01,
                   0x2C};

  return fake_put(buf, off, h, sizeof(h)) && fake_put16(buf, off, rdlen);
}

/* Encoded length of \p name, uncompressed ("" is the root). */
static inline size_t fake_name_len(const char *name) {
  size_t n = strlen(name);

  if (n > 0 && name[n - 1] == '.') {
    n--;
  }
  return n == 0 ? 1 : n + 2;
}

/* Append \p name uncompressed. */
static inline bool fake_put_name(uint8_t *buf, size_t *off, const char *name) {
  const char *p = name;

  while (*p != '\0') {
    const char *dot = strchr(p, '.');
    size_t l = dot != NULL ? (size_t)(dot - p) : strlen(p);
    uint8_t lb = (uint8_t)l;

    if (!fake_put(buf, off, &lb, 1) || !fake_put(buf, off, p, l)) {
      return false;
    }
    p += l;
    if (*p == '.') {
      p++;
    }
  }
  return fake_put(buf, off, "", 1);
}

/* MX and TLSA answers (with the optional leading CNAME). */
static inline unsigned fake_dns_mx_tlsa(const struct fake_dns_rrs *e,
                                        unsigned qtype, uint8_t *out,
                                        size_t *off) {
  unsigned ancount = 0;
  size_t owner = 12;
  size_t r;

  if (e->cname != NULL) {
    (void)fake_rr_hdr_at(out, off, 12, 5, (unsigned)fake_name_len(e->cname));
    owner = *off;
    (void)fake_put_name(out, off, e->cname);
    ancount++;
  }
  if (qtype == 15) {
    for (r = 0; r < FAKE_DNS_MAX_RRS && e->mx[r] != NULL; r++) {
      (void)fake_rr_hdr_at(out, off, owner, 15,
                           (unsigned)(2 + fake_name_len(e->mx[r])));
      (void)fake_put16(out, off, e->mx_pref[r]);
      (void)fake_put_name(out, off, e->mx[r]);
      ancount++;
    }
  } else {
    for (r = 0; r < e->tlsa; r++) {
      uint8_t rd[35];

      memset(rd, 0xAB, sizeof(rd));
      rd[0] = 3;
      rd[1] = 1;
      rd[2] = 1;
      (void)fake_rr_hdr_at(out, off, owner, 52, sizeof(rd));
      (void)fake_put(out, off, rd, sizeof(rd));
      ancount++;
    }
  }
  return ancount;
}

static inline void fake_dns_handle(struct fake_dns *s, const uint8_t *q,
                                   size_t qlen, struct sockaddr_in *from,
                                   socklen_t fromlen) {
  char name[300];
  size_t nlen = 0;
  size_t i = 12;
  unsigned qtype;
  const struct fake_dns_entry *e = NULL;
  const struct fake_dns_rrs *x = NULL;
  uint8_t out[4096];
  size_t off = 0;
  unsigned ancount = 0;
  int rcode = 0;
  size_t k;

  if (qlen < 17) {
    return;
  }
  pthread_mutex_lock(&s->mu);
  memcpy(s->last_query, q, qlen < sizeof(s->last_query) ? qlen : 0);
  s->last_query_len = qlen < sizeof(s->last_query) ? qlen : 0;
  pthread_mutex_unlock(&s->mu);
  atomic_fetch_add(&s->queries, 1);
  while (i < qlen && q[i] != 0) {
    size_t l = q[i];

    if (i + 1 + l > qlen || nlen + l + 2 > sizeof(name)) {
      return;
    }
    if (nlen > 0) {
      name[nlen++] = '.';
    }
    memcpy(name + nlen, q + i + 1, l);
    nlen += l;
    i += 1 + l;
  }
  name[nlen] = '\0';
  if (i + 5 > qlen) {
    return;
  }
  qtype = (unsigned)(q[i + 1] << 8 | q[i + 2]);
  i += 5; /* end of the question */
  for (k = 0; k < s->ntable; k++) {
    if (s->table[k].type == qtype && fake_dns_name_eq(s->table[k].name, name)) {
      e = &s->table[k];
      break;
    }
  }
  for (k = 0; e == NULL && k < s->nrrs; k++) {
    if (s->rrs[k].type == qtype && fake_dns_name_eq(s->rrs[k].name, name)) {
      x = &s->rrs[k];
      break;
    }
  }
  if (e != NULL && e->drop) {
    return;
  }
  (void)fake_put(out, &off, q, i);
  out[2] = (uint8_t)(0x80 | (q[2] & 0x01)); /* QR, RD echoed */
  out[3] = 0x80;                            /* RA */
  if ((e != NULL && e->ad) || (x != NULL && x->ad)) {
    out[3] |= 0x20;
  }
  out[10] = out[11] = 0; /* ARCOUNT: no OPT in the answer */
  if (e != NULL) {
    rcode = e->rcode;
    if (rcode == 0 && qtype == 16) {
      size_t r;

      for (r = 0; r < FAKE_DNS_MAX_RRS && e->txt[r][0] != NULL; r++) {
        size_t rdlen = 0;
        size_t j;

        for (j = 0; e->txt[r][j] != NULL; j++) {
          rdlen += 1 + strlen(e->txt[r][j]);
        }
        (void)fake_rr_hdr(out, &off, 16, (unsigned)rdlen);
        for (j = 0; e->txt[r][j] != NULL; j++) {
          uint8_t l = (uint8_t)strlen(e->txt[r][j]);

          (void)fake_put(out, &off, &l, 1);
          (void)fake_put(out, &off, e->txt[r][j], l);
        }
        ancount++;
      }
    }
  } else if (x != NULL) {
    ancount = fake_dns_mx_tlsa(x, qtype, out, &off);
  } else if (qtype == 1) {
    uint8_t a[4] = {127, 0, 0, 1};

    (void)fake_rr_hdr(out, &off, 1, 4);
    (void)fake_put(out, &off, a, 4);
    ancount++;
  } else if (qtype != 28) {
    rcode = 3;
  }
  out[3] = (uint8_t)(out[3] | (rcode & 0x0F));
  out[6] = (uint8_t)(ancount >> 8);
  out[7] = (uint8_t)ancount;
  (void)sendto(s->fd, out, off, 0, (struct sockaddr *)from, fromlen);
}

static inline void *fake_dns_main(void *arg) {
  struct fake_dns *s = arg;

  while (!atomic_load(&s->stop)) {
    struct pollfd p = {s->fd, POLLIN, 0};
    uint8_t q[1500];
    struct sockaddr_in from;
    socklen_t fromlen = sizeof(from);
    ssize_t n;

    if (poll(&p, 1, 50) <= 0) {
      continue;
    }
    n = recvfrom(s->fd, q, sizeof(q), 0, (struct sockaddr *)&from, &fromlen);
    if (n > 0) {
      fake_dns_handle(s, q, (size_t)n, &from, fromlen);
    }
  }
  return NULL;
}

static inline int fake_bind(int type, uint16_t *port) {
  struct sockaddr_in sa;
  socklen_t len = sizeof(sa);
  int fd = socket(AF_INET, type, 0);
  int one = 1;

  if (fd < 0) {
    return -1;
  }
  (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
      getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
    close(fd);
    return -1;
  }
  *port = ntohs(sa.sin_port);
  return fd;
}

static inline bool fake_dns_start_rrs(struct fake_dns *s,
                                      const struct fake_dns_entry *table,
                                      size_t ntable,
                                      const struct fake_dns_rrs *rrs,
                                      size_t nrrs) {
  memset(s, 0, sizeof(*s));
  s->table = table;
  s->ntable = ntable;
  s->rrs = rrs;
  s->nrrs = nrrs;
  pthread_mutex_init(&s->mu, NULL);
  s->fd = fake_bind(SOCK_DGRAM, &s->port);
  if (s->fd < 0) {
    return false;
  }
  return pthread_create(&s->thread, NULL, fake_dns_main, s) == 0;
}

static inline bool fake_dns_start(struct fake_dns *s,
                                  const struct fake_dns_entry *table,
                                  size_t ntable) {
  memset(s, 0, sizeof(*s));
  s->table = table;
  s->ntable = ntable;
  pthread_mutex_init(&s->mu, NULL);
  s->fd = fake_bind(SOCK_DGRAM, &s->port);
  if (s->fd < 0) {
    return false;
  }
  return pthread_create(&s->thread, NULL, fake_dns_main, s) == 0;
}

static inline void fake_dns_stop(struct fake_dns *s) {
  atomic_store(&s->stop, 1);
  pthread_join(s->thread, NULL);
  close(s->fd);
  pthread_mutex_destroy(&s->mu);
}

/* ------------------------------------------------------------------ TLS */

enum fake_cert {
  FAKE_CERT_GOOD = 0,    /* SAN DNS:<host> */
  FAKE_CERT_WILD,        /* SAN DNS:*.<parent of host> (F17) */
  FAKE_CERT_WILD_DEEP,   /* SAN DNS:*.<host> (F19) */
  FAKE_CERT_PARTIAL,     /* SAN DNS:mta*.<parent> (FETCH-4) */
  FAKE_CERT_CN_ONLY,     /* no SAN, CN=<host> (F20) */
  FAKE_CERT_EXPIRED,     /* SAN ok, expired yesterday (F22) */
  FAKE_CERT_SELF,        /* SAN ok, self-signed (F23) */
  FAKE_CERT_WRONG_NAME   /* SAN DNS:other.test */
};

enum fake_mode {
  FAKE_RESPOND = 0, /* send `response` and close */
  FAKE_STALL,       /* send `response` (headers) and then nothing */
  FAKE_BIG          /* 200 text/plain, `big` bytes, no Content-Length */
};

struct fake_site {
  const char *host;
  enum fake_cert cert;
  enum fake_mode mode;
  const char *response; /* raw HTTP response */
  size_t big;
  /* filled by the server */
  SSL_CTX *ctx;
  char last_request[2048];
  atomic_int hits;
};

#define FAKE_MAX_CONN 64

struct fake_tls {
  int fd;
  uint16_t port;
  pthread_t thread;
  atomic_int stop;
  struct fake_site *sites;
  size_t nsites;
  pthread_mutex_t mu;
  pthread_t conn[FAKE_MAX_CONN];
  size_t nconn;
  EVP_PKEY *ca_key;
  X509 *ca;
  char ca_file[64];
};

struct fake_conn {
  struct fake_tls *srv;
  int fd;
};

static inline EVP_PKEY *fake_key(void) { return EVP_EC_gen("P-256"); }

static inline X509 *fake_cert_make(EVP_PKEY *key, const char *cn,
                                   const char *san, X509 *issuer,
                                   EVP_PKEY *issuer_key, bool ca,
                                   long not_before, long not_after) {
  X509 *x = X509_new();
  X509_NAME *n;
  X509V3_CTX v3;
  X509_EXTENSION *ext;
  static atomic_long serial = 1;

  (void)X509_set_version(x, 2);
  (void)ASN1_INTEGER_set(X509_get_serialNumber(x), atomic_fetch_add(&serial, 1));
  (void)X509_gmtime_adj(X509_getm_notBefore(x), not_before);
  (void)X509_gmtime_adj(X509_getm_notAfter(x), not_after);
  (void)X509_set_pubkey(x, key);
  n = X509_get_subject_name(x);
  (void)X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
                                   (const unsigned char *)cn, -1, -1, 0);
  (void)X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer)
                                               : n);
  X509V3_set_ctx(&v3, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
  ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints,
                            ca ? "critical,CA:TRUE" : "CA:FALSE");
  (void)X509_add_ext(x, ext, -1);
  X509_EXTENSION_free(ext);
  if (ca) {
    ext = X509V3_EXT_conf_nid(NULL, &v3, NID_key_usage,
                              "critical,keyCertSign,cRLSign");
    (void)X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_key_identifier, "hash");
    (void)X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
  }
  if (san != NULL) {
    ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
    (void)X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
  }
  (void)X509_sign(x, issuer_key, EVP_sha256());
  return x;
}

static inline int fake_sni_cb(SSL *ssl, int *al, void *arg) {
  struct fake_tls *srv = arg;
  const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  size_t i;

  (void)al;
  if (name == NULL) {
    return SSL_TLSEXT_ERR_NOACK;
  }
  for (i = 0; i < srv->nsites; i++) {
    if (fake_dns_name_eq(srv->sites[i].host, name)) {
      (void)SSL_set_SSL_CTX(ssl, srv->sites[i].ctx);
      SSL_set_app_data(ssl, &srv->sites[i]);
      return SSL_TLSEXT_ERR_OK;
    }
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL;
}

static inline SSL_CTX *fake_site_ctx(struct fake_tls *srv,
                                     const struct fake_site *site) {
  char san[400];
  char cn[300];
  const char *parent = strchr(site->host, '.');
  const char *sanp = san;
  EVP_PKEY *key = fake_key();
  X509 *x;
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  long nb = -3600;
  long na = 86400;
  X509 *issuer = srv->ca;
  EVP_PKEY *ikey = srv->ca_key;

  parent = parent != NULL ? parent + 1 : site->host;
  (void)snprintf(cn, sizeof(cn), "%s", site->host);
  switch (site->cert) {
  case FAKE_CERT_WILD:
    (void)snprintf(san, sizeof(san), "DNS:*.%s", parent);
    break;
  case FAKE_CERT_WILD_DEEP:
    (void)snprintf(san, sizeof(san), "DNS:*.%s", site->host);
    break;
  case FAKE_CERT_PARTIAL:
    (void)snprintf(san, sizeof(san), "DNS:mta*.%s", parent);
    break;
  case FAKE_CERT_CN_ONLY:
    sanp = NULL;
    break;
  case FAKE_CERT_WRONG_NAME:
    (void)snprintf(san, sizeof(san), "DNS:other.test");
    (void)snprintf(cn, sizeof(cn), "other.test");
    break;
  case FAKE_CERT_EXPIRED:
    nb = -2 * 86400;
    na = -86400;
    (void)snprintf(san, sizeof(san), "DNS:%s", site->host);
    break;
  case FAKE_CERT_SELF:
    issuer = NULL;
    ikey = key;
    (void)snprintf(san, sizeof(san), "DNS:%s", site->host);
    break;
  case FAKE_CERT_GOOD:
  default:
    (void)snprintf(san, sizeof(san), "DNS:%s", site->host);
    break;
  }
  x = fake_cert_make(key, cn, sanp, issuer, ikey, false, nb, na);
  (void)SSL_CTX_use_certificate(ctx, x);
  (void)SSL_CTX_use_PrivateKey(ctx, key);
  X509_free(x);
  EVP_PKEY_free(key);
  return ctx;
}

static inline void fake_write_all(SSL *ssl, const char *p, size_t len) {
  while (len > 0) {
    int n = SSL_write(ssl, p, len > 16384 ? 16384 : (int)len);

    if (n <= 0) {
      return;
    }
    p += n;
    len -= (size_t)n;
  }
}

/* Wait until the client goes away or the server stops. */
static inline void fake_wait_close(struct fake_tls *srv, int fd) {
  while (!atomic_load(&srv->stop)) {
    struct pollfd p = {fd, POLLIN, 0};
    char b[256];

    if (poll(&p, 1, 50) > 0) {
      if (recv(fd, b, sizeof(b), 0) <= 0) {
        return;
      }
    }
  }
}

static inline void *fake_conn_main(void *arg) {
  struct fake_conn *c = arg;
  struct fake_tls *srv = c->srv;
  SSL *ssl = SSL_new(srv->sites[0].ctx);
  struct fake_site *site;
  char req[2048];
  size_t rlen = 0;
  struct timeval tv = {5, 0};

  (void)setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  SSL_set_fd(ssl, c->fd);
  if (SSL_accept(ssl) != 1) {
    goto done;
  }
  site = SSL_get_app_data(ssl);
  if (site == NULL) {
    goto done;
  }
  while (rlen < sizeof(req) - 1) {
    int n = SSL_read(ssl, req + rlen, (int)(sizeof(req) - 1 - rlen));

    if (n <= 0) {
      break;
    }
    rlen += (size_t)n;
    req[rlen] = '\0';
    if (strstr(req, "\r\n\r\n") != NULL) {
      break;
    }
  }
  req[rlen] = '\0';
  pthread_mutex_lock(&srv->mu);
  (void)snprintf(site->last_request, sizeof(site->last_request), "%s", req);
  pthread_mutex_unlock(&srv->mu);
  atomic_fetch_add(&site->hits, 1);
  if (site->mode == FAKE_BIG) {
    static const char hdr[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                              "Connection: close\r\n\r\n";
    char *body = malloc(site->big);

    memset(body, 'x', site->big);
    fake_write_all(ssl, hdr, sizeof(hdr) - 1);
    fake_write_all(ssl, body, site->big);
    free(body);
  } else {
    fake_write_all(ssl, site->response, strlen(site->response));
    if (site->mode == FAKE_STALL) {
      fake_wait_close(srv, c->fd);
    }
  }
  (void)SSL_shutdown(ssl);
done:
  SSL_free(ssl);
  close(c->fd);
  free(c);
  return NULL;
}

static inline void *fake_tls_main(void *arg) {
  struct fake_tls *srv = arg;

  while (!atomic_load(&srv->stop)) {
    struct pollfd p = {srv->fd, POLLIN, 0};
    struct fake_conn *c;
    int fd;

    if (poll(&p, 1, 50) <= 0) {
      continue;
    }
    fd = accept(srv->fd, NULL, NULL);
    if (fd < 0) {
      continue;
    }
    c = malloc(sizeof(*c));
    c->srv = srv;
    c->fd = fd;
    pthread_mutex_lock(&srv->mu);
    if (srv->nconn < FAKE_MAX_CONN &&
        pthread_create(&srv->conn[srv->nconn], NULL, fake_conn_main, c) == 0) {
      srv->nconn++;
    } else {
      close(fd);
      free(c);
    }
    pthread_mutex_unlock(&srv->mu);
  }
  return NULL;
}

static inline bool fake_tls_start(struct fake_tls *srv, struct fake_site *sites,
                                  size_t nsites) {
  FILE *f;
  int tfd;
  size_t i;

  /* The client may close mid-response (timeouts, cancel tests). */
  (void)signal(SIGPIPE, SIG_IGN);
  memset(srv, 0, sizeof(*srv));
  srv->sites = sites;
  srv->nsites = nsites;
  pthread_mutex_init(&srv->mu, NULL);
  srv->ca_key = fake_key();
  srv->ca = fake_cert_make(srv->ca_key, "mtasts test CA", NULL, NULL,
                           srv->ca_key, true, -3600, 86400);
  (void)snprintf(srv->ca_file, sizeof(srv->ca_file), "/tmp/mts-ca-XXXXXX");
  tfd = mkstemp(srv->ca_file);
  if (tfd < 0) {
    return false;
  }
  f = fdopen(tfd, "w");
  (void)PEM_write_X509(f, srv->ca);
  (void)fclose(f);
  for (i = 0; i < nsites; i++) {
    sites[i].ctx = fake_site_ctx(srv, &sites[i]);
    SSL_CTX_set_tlsext_servername_callback(sites[i].ctx, fake_sni_cb);
    SSL_CTX_set_tlsext_servername_arg(sites[i].ctx, srv);
    atomic_store(&sites[i].hits, 0);
    sites[i].last_request[0] = '\0';
  }
  srv->fd = fake_bind(SOCK_STREAM, &srv->port);
  if (srv->fd < 0 || listen(srv->fd, 64) != 0) {
    return false;
  }
  return pthread_create(&srv->thread, NULL, fake_tls_main, srv) == 0;
}

static inline void fake_tls_stop(struct fake_tls *srv) {
  size_t i;

  atomic_store(&srv->stop, 1);
  pthread_join(srv->thread, NULL);
  for (i = 0; i < srv->nconn; i++) {
    pthread_join(srv->conn[i], NULL);
  }
  close(srv->fd);
  for (i = 0; i < srv->nsites; i++) {
    SSL_CTX_free(srv->sites[i].ctx);
  }
  X509_free(srv->ca);
  EVP_PKEY_free(srv->ca_key);
  (void)unlink(srv->ca_file);
  pthread_mutex_destroy(&srv->mu);
}

/* A canned response: status line, optional Content-Type, optional extra
 * header line (without CRLF), body. Returns a malloc'd string. */
static inline char *fake_response(const char *status, const char *ctype,
                                  const char *extra, const char *body) {
  size_t n = strlen(status) + (ctype ? strlen(ctype) : 0) +
             (extra ? strlen(extra) : 0) + strlen(body) + 200;
  char *r = malloc(n);

  (void)snprintf(r, n, "HTTP/1.1 %s\r\n%s%s%s%s%sContent-Length: %zu\r\n"
                       "Connection: close\r\n\r\n%s",
                 status, ctype ? "Content-Type: " : "", ctype ? ctype : "",
                 ctype ? "\r\n" : "", extra ? extra : "", extra ? "\r\n" : "",
                 strlen(body), body);
  return r;
}

#endif /* MTS_FAKENET_H */
