/*
 * cmd_report_serve.c - `mtasts report serve`: the HTTPS receiver for
 * `rua=https://...` (mtasts/rpt_receiver.h), in the foreground.
 *
 *   mtasts report serve [--db FILE] --listen ADDR:PORT [--path P]
 *                       [--tls-cert F --tls-key F] [--max-size BYTES]
 *                       [--rate N[/MIN]] [--burst N]
 *                       [--max-conn-per-ip N] [--max-per-day SIZE] [-v]
 *
 * ADDR is numeric: 127.0.0.1, 0.0.0.0, [::1], [::]. PORT 0 takes a free
 * port; the line "listening on ADDR:PORT" on stdout says which.
 * --max-per-day bounds what POSTs add to the store in one UTC day
 * (bytes, or with a K, M or G suffix; 0: no bound; default 256M); past
 * it requests are answered 507 until the next UTC day. Without
 * --tls-cert the server speaks plain HTTP (for a TLS-terminating reverse
 * proxy in front). SIGTERM and SIGINT stop it cleanly: open requests
 * are finished or closed, the store is closed. Exit: 0 stopped by a
 * signal; 2 cannot start (bind, store, certificate); 64 usage; 66 a
 * certificate or key file cannot be read.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <mtasts/rpt_receiver.h>
#include <mtasts/rpt_store.h>

#include "cli.h"

#define SERVE_EX_FAILED 2
/* Largest certificate chain or key file read. */
#define PEM_MAX (1024u * 1024u)

static void serve_log(void *arg, enum mts_log_level level, const char *msg) {
  (void)arg;
  cli_err("%s%s",
          level == MTS_LOG_ERR       ? "error: "
          : level == MTS_LOG_WARNING ? "warning: "
                                     : "",
          msg);
}

static bool parse_u64(const char *s, uint64_t max, uint64_t *out) {
  uint64_t v = 0;
  size_t i;

  if (s[0] == '\0') {
    return false;
  }
  for (i = 0; s[i] != '\0'; i++) {
    if (s[i] < '0' || s[i] > '9') {
      return false;
    }
    if (v > (max - (uint64_t)(s[i] - '0')) / 10) {
      return false;
    }
    v = v * 10 + (uint64_t)(s[i] - '0');
  }
  *out = v;
  return true;
}

/* A byte count with an optional K, M or G (binary) suffix. */
static bool parse_size(const char *s, uint64_t *out) {
  char num[24];
  size_t n = strlen(s);
  unsigned shift = 0;
  uint64_t v;

  if (n > 0) {
    switch (s[n - 1]) {
    case 'k':
    case 'K':
      shift = 10;
      break;
    case 'm':
    case 'M':
      shift = 20;
      break;
    case 'g':
    case 'G':
      shift = 30;
      break;
    default:
      break;
    }
  }
  if (shift != 0) {
    n--;
  }
  if (n == 0 || n >= sizeof num) {
    return false;
  }
  memcpy(num, s, n);
  num[n] = '\0';
  if (!parse_u64(num, UINT64_MAX >> shift, &v)) {
    return false;
  }
  *out = v << shift;
  return true;
}

/* ADDR:PORT or [ADDR6]:PORT into \p addr (size \p n) and \p port. */
static bool parse_listen(const char *s, char *addr, size_t n,
                         uint16_t *port) {
  const char *colon;
  size_t alen;
  uint64_t p;

  if (s[0] == '[') {
    const char *end = strchr(s, ']');

    if (end == NULL || end[1] != ':') {
      return false;
    }
    alen = (size_t)(end - s - 1);
    s++;
    colon = end + 1;
  } else {
    colon = strrchr(s, ':');
    if (colon == NULL || strchr(s, ':') != colon) {
      return false;
    }
    alen = (size_t)(colon - s);
  }
  if (alen == 0 || alen >= n || !parse_u64(colon + 1, 65535, &p)) {
    return false;
  }
  memcpy(addr, s, alen);
  addr[alen] = '\0';
  *port = (uint16_t)p;
  return true;
}

/* "N", "N/min", "N/MIN" requests per minute. */
static bool parse_rate(const char *s, unsigned *out) {
  char num[16];
  const char *slash = strchr(s, '/');
  size_t len = slash != NULL ? (size_t)(slash - s) : strlen(s);
  uint64_t v;

  if (len == 0 || len >= sizeof num) {
    return false;
  }
  if (slash != NULL && strcmp(slash, "/min") != 0 &&
      strcmp(slash, "/MIN") != 0 && strcmp(slash, "/m") != 0) {
    return false;
  }
  memcpy(num, s, len);
  num[len] = '\0';
  if (!parse_u64(num, 1000000, &v) || v == 0) {
    return false;
  }
  *out = (unsigned)v;
  return true;
}

/* A PEM file as a NUL-terminated string (malloc'd). */
static char *read_pem(const char *path) {
  uint8_t *data = NULL;
  size_t len = 0;
  char *s;

  if (cli_read_file(path, PEM_MAX, &data, &len) != 0) {
    return NULL;
  }
  if (len > PEM_MAX || memchr(data, '\0', len) != NULL) {
    cli_err("report serve: %s: not a PEM file", path);
    free(data);
    return NULL;
  }
  s = malloc(len + 1);
  if (s == NULL) {
    free(data);
    return NULL;
  }
  memcpy(s, data, len);
  s[len] = '\0';
  free(data);
  return s;
}

static void serve_usage(void) {
  cli_err("usage: mtasts report serve [--db FILE] --listen ADDR:PORT "
          "[--path P] [--tls-cert FILE --tls-key FILE] [--max-size BYTES] "
          "[--rate N/MIN] [--burst N] [--max-conn-per-ip N] "
          "[--max-per-day SIZE] [-v]");
}

int cmd_report_serve(int argc, char **argv) {
  struct mts_rpt_receiver_config cfg;
  struct mts_rpt_receiver_stats stats;
  const char *db = NULL, *listen = NULL, *cert_file = NULL, *key_file = NULL;
  char addr[64];
  char *cert = NULL, *key = NULL;
  struct mts_ctx *ctx = NULL;
  struct mts_rpt_store *st = NULL;
  struct mts_rpt_receiver *r = NULL;
  enum mts_status rc;
  sigset_t set, old;
  bool verbose = false;
  int i, sig = 0, ret = SERVE_EX_FAILED;

  memset(&cfg, 0, sizeof cfg);
  for (i = 0; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    uint64_t n;

    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      serve_usage();
      return CLI_EX_OK;
    }
    if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
      verbose = true;
      continue;
    }
    if (v == NULL) {
      cli_err("report serve: unknown option or missing value '%s'", a);
      serve_usage();
      return CLI_EX_USAGE;
    }
    i++;
    if (strcmp(a, "--db") == 0) {
      db = v;
    } else if (strcmp(a, "--listen") == 0) {
      listen = v;
    } else if (strcmp(a, "--path") == 0) {
      if (v[0] != '/') {
        cli_err("report serve: --path must start with '/'");
        return CLI_EX_USAGE;
      }
      cfg.path = v;
    } else if (strcmp(a, "--tls-cert") == 0) {
      cert_file = v;
    } else if (strcmp(a, "--tls-key") == 0) {
      key_file = v;
    } else if (strcmp(a, "--max-size") == 0) {
      if (!parse_u64(v, MTS_RPT_REPORT_MAX, &n) || n == 0) {
        cli_err("report serve: --max-size: 1..%u bytes, not '%s'",
                MTS_RPT_REPORT_MAX, v);
        return CLI_EX_USAGE;
      }
      cfg.max_body = (size_t)n;
    } else if (strcmp(a, "--rate") == 0) {
      if (!parse_rate(v, &cfg.rate_per_min)) {
        cli_err("report serve: --rate: N/MIN (1..1000000), not '%s'", v);
        return CLI_EX_USAGE;
      }
    } else if (strcmp(a, "--burst") == 0) {
      if (!parse_u64(v, 1000000, &n) || n == 0) {
        cli_err("report serve: --burst: 1..1000000, not '%s'", v);
        return CLI_EX_USAGE;
      }
      cfg.rate_burst = (unsigned)n;
    } else if (strcmp(a, "--max-conn-per-ip") == 0) {
      if (!parse_u64(v, 100000, &n)) {
        cli_err("report serve: --max-conn-per-ip: 0..100000 (0: no limit), "
                "not '%s'",
                v);
        return CLI_EX_USAGE;
      }
      cfg.max_conn_per_ip = n == 0 ? MTS_RPT_RECEIVER_UNLIMITED : (unsigned)n;
    } else if (strcmp(a, "--max-per-day") == 0) {
      if (!parse_size(v, &n)) {
        cli_err("report serve: --max-per-day: bytes, or with a K, M or G "
                "suffix (0: no limit), not '%s'",
                v);
        return CLI_EX_USAGE;
      }
      cfg.max_bytes_per_day = n == 0 ? MTS_RPT_RECEIVER_NO_QUOTA : n;
    } else {
      cli_err("report serve: unknown option '%s'", a);
      serve_usage();
      return CLI_EX_USAGE;
    }
  }
  if (listen == NULL || !parse_listen(listen, addr, sizeof addr, &cfg.port)) {
    cli_err("report serve: --listen ADDR:PORT is required (e.g. "
            "127.0.0.1:8025 or [::]:443)");
    serve_usage();
    return CLI_EX_USAGE;
  }
  cfg.addr = addr;
  if ((cert_file == NULL) != (key_file == NULL)) {
    cli_err("report serve: --tls-cert and --tls-key go together");
    return CLI_EX_USAGE;
  }
  if (cert_file != NULL) {
    if (!mts_rpt_receiver_tls_supported()) {
      cli_err("report serve: this libmicrohttpd has no TLS support; run "
              "plain HTTP behind a TLS reverse proxy");
      return SERVE_EX_FAILED;
    }
    cert = read_pem(cert_file);
    key = cert != NULL ? read_pem(key_file) : NULL;
    if (key == NULL) {
      free(cert);
      return CLI_EX_NOINPUT;
    }
    cfg.tls_cert_pem = cert;
    cfg.tls_key_pem = key;
  }
  db = cli_report_db(db);
  ctx = cli_ctx();
  if (ctx == NULL) {
    goto done;
  }
  mts_ctx_set_log(ctx, serve_log, NULL,
                  verbose ? MTS_LOG_INFO : MTS_LOG_WARNING);
  if (mts_rpt_store_open(ctx, db, &st) != MTS_OK) {
    cli_err("report serve: cannot use the report store %s", db);
    goto done;
  }
  /* Block the stop signals before the server thread starts, so that it
   * inherits the mask and only sigwait() below sees them. */
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  if (pthread_sigmask(SIG_BLOCK, &set, &old) != 0) {
    cli_err("report serve: cannot block signals");
    goto done;
  }
  rc = mts_rpt_receiver_start(ctx, st, &cfg, &r);
  if (cert != NULL) {
    memset(key, 0, strlen(key));
  }
  if (rc != MTS_OK) {
    cli_err("report serve: cannot start on %s: %s", listen,
            mts_status_str(rc));
    (void)pthread_sigmask(SIG_SETMASK, &old, NULL);
    goto done;
  }
  printf("listening on %s%s%s:%u (%s)\n", strchr(addr, ':') ? "[" : "", addr,
         strchr(addr, ':') ? "]" : "", (unsigned)mts_rpt_receiver_port(r),
         cert != NULL ? "https" : "http");
  fflush(stdout);
  for (;;) {
    int e = sigwait(&set, &sig);

    if (e != 0 && e != EINTR) {
      break;
    }
    if (e == 0 && sig != SIGHUP) {
      break;
    }
  }
  mts_rpt_receiver_stats(r, &stats);
  mts_rpt_receiver_destroy(r);
  r = NULL;
  (void)pthread_sigmask(SIG_SETMASK, &old, NULL);
  printf("stopped (signal %d): %llu requests, %llu stored, %llu duplicate, "
         "%llu rejected, %llu too big, %llu wrong type, %llu rate-limited, "
         "%llu over the daily quota, %llu other; %llu connections cut "
         "waiting for headers\n",
         sig, (unsigned long long)stats.requests,
         (unsigned long long)stats.stored,
         (unsigned long long)stats.duplicates,
         (unsigned long long)stats.rejected,
         (unsigned long long)stats.too_big,
         (unsigned long long)stats.bad_type,
         (unsigned long long)stats.limited,
         (unsigned long long)stats.over_quota,
         (unsigned long long)stats.other,
         (unsigned long long)stats.header_timeouts);
  ret = CLI_EX_OK;

done:
  mts_rpt_receiver_destroy(r);
  mts_rpt_store_close(st);
  mts_ctx_destroy(ctx);
  free(cert);
  free(key);
  return ret;
}
