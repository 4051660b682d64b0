/*
 * collector.c - the libtlsrpt datagram collector; see collector.h.
 */
#include "collector.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <mtasts/rpt_datagram.h>

/* Datagrams read per wakeup before the loop gets a turn. */
#define DRAIN_BATCH 4096
#define RCVBUF_DEFAULT (4 * 1024 * 1024)
#define QFILES_DEFAULT 1000
#define QBYTES_DEFAULT (64u * 1024u * 1024u)
/* Linux's SO_RCVBUFFORCE (asm-generic/socket.h), hidden by
 * _POSIX_C_SOURCE; setsockopt() fails harmlessly where it is unknown. */
#if defined(__linux__) && !defined(SO_RCVBUFFORCE)
#define SO_RCVBUFFORCE 33
#endif

struct tlsrptd_collector {
  uv_poll_t poll;
  int fd;
  struct mts_ctx *ctx;
  char *path;
  char *qdir;
  size_t qmax_files;
  uint64_t qmax_bytes;
  size_t qfiles;
  uint64_t qbytes;
  uint64_t seq;
  int64_t (*clock)(void *arg);
  void *clock_arg;
  tlsrptd_event_fn on_event;
  void *arg;
  uint8_t *buf; /* MTS_RPT_DATAGRAM_MAX + 1 */
  struct tlsrptd_collector_stats st;
  uint64_t nev; /* events of the datagram being converted */
};

static int64_t now(const struct tlsrptd_collector *c) {
  return c->clock != NULL ? c->clock(c->clock_arg) : (int64_t)time(NULL);
}

/* Count the files already in the quarantine directory. */
static void quarantine_scan(struct tlsrptd_collector *c) {
  DIR *d = opendir(c->qdir);
  struct dirent *e;

  if (d == NULL) {
    return;
  }
  while ((e = readdir(d)) != NULL) {
    char p[4096];
    struct stat sb;

    if (e->d_name[0] == '.') {
      continue;
    }
    if (snprintf(p, sizeof(p), "%s/%s", c->qdir, e->d_name) <
            (int)sizeof(p) &&
        stat(p, &sb) == 0 && S_ISREG(sb.st_mode)) {
      c->qfiles++;
      c->qbytes += (uint64_t)sb.st_size;
    }
  }
  closedir(d);
}

static void quarantine(struct tlsrptd_collector *c, const uint8_t *data,
                       size_t len, const char *why) {
  char p[4096], code[64];
  size_t i;
  int fd, n;
  ssize_t w;

  if (c->qdir == NULL || c->qfiles >= c->qmax_files ||
      c->qbytes + len > c->qmax_bytes) {
    c->st.quarantine_skipped++;
    return;
  }
  /* the code goes into a file name: keep [a-z0-9-] only */
  for (i = 0; why[i] != '\0' && i + 1 < sizeof(code); i++) {
    char ch = why[i];

    code[i] = ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
               ch == '-')
                  ? ch
                  : '_';
  }
  code[i] = '\0';
  n = snprintf(p, sizeof(p), "%s/%" PRId64 "-%" PRIu64 "-%s.dgram", c->qdir,
               now(c), ++c->seq, code);
  if (n < 0 || (size_t)n >= sizeof(p)) {
    c->st.quarantine_skipped++;
    return;
  }
  fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    c->st.quarantine_skipped++;
    return;
  }
  w = len > 0 ? write(fd, data, len) : 0;
  close(fd);
  if (w < 0 || (size_t)w != len) {
    unlink(p);
    c->st.quarantine_skipped++;
    return;
  }
  c->qfiles++;
  c->qbytes += len;
  c->st.quarantined++;
}

static void relay_event(const struct mts_rpt_event *ev, void *arg) {
  struct tlsrptd_collector *c = arg;

  c->nev++;
  c->on_event(ev, c->arg);
}

/* The code of the first error finding, for the quarantine file name. */
static const char *first_error(const struct mts_rpt_datagram *dg) {
  const struct mts_findings *fs = mts_rpt_datagram_findings(dg);
  size_t i;

  for (i = 0; i < mts_findings_count(fs); i++) {
    const struct mts_finding *f = mts_findings_get(fs, i);

    if (f->severity == MTS_SEV_ERROR) {
      return f->code;
    }
  }
  return "dgram-unusable";
}

static void handle(struct tlsrptd_collector *c, const uint8_t *data,
                   size_t len, size_t full) {
  struct mts_rpt_datagram *dg = NULL;
  enum mts_status st;

  c->st.datagrams++;
  c->st.bytes += full;
  if (full > MTS_RPT_DATAGRAM_MAX) {
    c->st.oversized++;
    c->st.rejected++;
    quarantine(c, data, len, "dgram-too-big");
    return;
  }
  st = mts_rpt_datagram_parse(c->ctx, data, len, &dg);
  if (st != MTS_OK) {
    c->st.enomem++;
    return;
  }
  if (!mts_rpt_datagram_usable(dg)) {
    c->st.rejected++;
    quarantine(c, data, len, first_error(dg));
    mts_rpt_datagram_destroy(dg);
    return;
  }
  if (!mts_rpt_datagram_valid(dg)) {
    c->st.warnings++;
  }
  c->nev = 0;
  st = mts_rpt_event_from_datagram(c->ctx, dg, now(c), relay_event, c);
  if (st == MTS_OK) {
    c->st.usable++;
    c->st.events += c->nev;
  } else if (st == MTS_ENOMEM) {
    c->st.enomem++;
  } else {
    c->st.rejected++;
    quarantine(c, data, len, "dgram-no-events");
  }
  mts_rpt_datagram_destroy(dg);
}

static void on_readable(uv_poll_t *h, int status, int events) {
  struct tlsrptd_collector *c = h->data;
  int i;

  (void)events;
  if (status < 0) {
    c->st.recv_errors++;
    return;
  }
  for (i = 0; i < DRAIN_BATCH; i++) {
    ssize_t n = recv(c->fd, c->buf, MTS_RPT_DATAGRAM_MAX + 1,
                     MSG_DONTWAIT | MSG_TRUNC);

    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        c->st.recv_errors++;
      }
      return;
    }
    handle(c, c->buf,
           (size_t)n > MTS_RPT_DATAGRAM_MAX + 1 ? MTS_RPT_DATAGRAM_MAX + 1
                                                : (size_t)n,
           (size_t)n);
  }
}

static void free_collector(struct tlsrptd_collector *c) {
  free(c->path);
  free(c->qdir);
  free(c->buf);
  free(c);
}

static void on_closed(uv_handle_t *h) {
  struct tlsrptd_collector *c = h->data;

  close(c->fd);
  free_collector(c);
}

/* A socket file nobody is bound to is removed; anything else stays. */
static int clear_stale(const char *path) {
  struct stat sb;
  struct sockaddr_un sa;
  int fd, rc;

  if (lstat(path, &sb) != 0) {
    return errno == ENOENT ? 0 : -errno;
  }
  if (!S_ISSOCK(sb.st_mode)) {
    return -EEXIST;
  }
  fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return -errno;
  }
  memset(&sa, 0, sizeof(sa));
  sa.sun_family = AF_UNIX;
  memcpy(sa.sun_path, path, strlen(path) + 1);
  rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
  close(fd);
  if (rc == 0) {
    return -EADDRINUSE;
  }
  if (errno != ECONNREFUSED) {
    return -errno;
  }
  return unlink(path) == 0 ? 0 : -errno;
}

int tlsrptd_collector_start(uv_loop_t *loop,
                            const struct tlsrptd_collector_cfg *cfg,
                            tlsrptd_event_fn on_event, void *arg,
                            struct tlsrptd_collector **out) {
  struct tlsrptd_collector *c;
  struct sockaddr_un sa;
  int rc, size;

  if (out != NULL) {
    *out = NULL;
  }
  if (loop == NULL || cfg == NULL || cfg->ctx == NULL || cfg->path == NULL ||
      cfg->path[0] == '\0' || on_event == NULL || out == NULL) {
    return -EINVAL;
  }
  if (strlen(cfg->path) >= sizeof(sa.sun_path)) {
    return -ENAMETOOLONG;
  }
  c = calloc(1, sizeof(*c));
  if (c == NULL) {
    return -ENOMEM;
  }
  c->fd = -1;
  c->ctx = cfg->ctx;
  c->on_event = on_event;
  c->arg = arg;
  c->clock = cfg->clock;
  c->clock_arg = cfg->clock_arg;
  c->qmax_files =
      cfg->quarantine_max_files > 0 ? cfg->quarantine_max_files : QFILES_DEFAULT;
  c->qmax_bytes =
      cfg->quarantine_max_bytes > 0 ? cfg->quarantine_max_bytes : QBYTES_DEFAULT;
  c->path = strdup(cfg->path);
  c->buf = malloc(MTS_RPT_DATAGRAM_MAX + 1);
  if (c->path == NULL || c->buf == NULL ||
      (cfg->quarantine_dir != NULL &&
       (c->qdir = strdup(cfg->quarantine_dir)) == NULL)) {
    free_collector(c);
    return -ENOMEM;
  }
  if (c->qdir != NULL) {
    quarantine_scan(c);
  }
  rc = clear_stale(c->path);
  if (rc != 0) {
    free_collector(c);
    return rc;
  }
  c->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (c->fd < 0) {
    rc = -errno;
    free_collector(c);
    return rc;
  }
  size = cfg->rcvbuf > 0 ? cfg->rcvbuf : RCVBUF_DEFAULT;
#ifdef SO_RCVBUFFORCE
  if (setsockopt(c->fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) !=
      0)
#endif
  {
    (void)setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
  }
  memset(&sa, 0, sizeof(sa));
  sa.sun_family = AF_UNIX;
  memcpy(sa.sun_path, c->path, strlen(c->path) + 1);
  if (bind(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
      (cfg->mode >= 0 && chmod(c->path, (mode_t)cfg->mode) != 0) ||
      ((cfg->uid >= 0 || cfg->gid >= 0) &&
       chown(c->path, (uid_t)cfg->uid, (gid_t)cfg->gid) != 0)) {
    rc = -errno;
    close(c->fd);
    (void)unlink(c->path);
    free_collector(c);
    return rc;
  }
  rc = uv_poll_init(loop, &c->poll, c->fd);
  if (rc == 0) {
    c->poll.data = c;
    rc = uv_poll_start(&c->poll, UV_READABLE, on_readable);
    if (rc != 0) {
      (void)unlink(c->path);
      uv_close((uv_handle_t *)&c->poll, on_closed);
      return rc;
    }
  } else {
    close(c->fd);
    (void)unlink(c->path);
    free_collector(c);
    return rc;
  }
  *out = c;
  return 0;
}

void tlsrptd_collector_stop(struct tlsrptd_collector *c) {
  if (c == NULL) {
    return;
  }
  uv_poll_stop(&c->poll);
  (void)unlink(c->path);
  uv_close((uv_handle_t *)&c->poll, on_closed);
}

void tlsrptd_collector_stats(const struct tlsrptd_collector *c,
                             struct tlsrptd_collector_stats *out) {
  if (c != NULL && out != NULL) {
    *out = c->st;
  }
}

int tlsrptd_collector_fd(const struct tlsrptd_collector *c) {
  return c != NULL ? c->fd : -1;
}
