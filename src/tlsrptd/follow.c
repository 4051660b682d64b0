/*
 * follow.c - the Postfix log follower; see follow.h.
 */
#include "follow.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mtasts/utc.h>

#define INTERVAL_DEFAULT 1000
#define CHUNK 65536

struct tlsrptd_follow {
  uv_loop_t *loop;
  uv_timer_t timer;
  uv_process_t proc;
  uv_pipe_t pipe;
  int open_handles;
  bool stopping;
  bool cmd;
  bool proc_alive;
  struct mts_ctx *ctx;
  struct mts_rpt_session *sess;
  tlsrptd_event_fn on_event;
  void *arg;
  char *path;
  char *state;
  bool from_start;
  bool initial; /* the first open positions by state / from_start */
  int fd;
  dev_t dev;
  ino_t ino;
  off_t pos;   /* read position */
  char *line;  /* partial line, MTS_RPT_LOGLINE_MAX bytes */
  size_t llen;
  bool skipping; /* in a line that is too long */
  bool have_saved;
  dev_t saved_dev;
  ino_t saved_ino;
  off_t saved_off;
  int64_t (*clock)(void *arg);
  void *clock_arg;
  struct tlsrptd_follow_stats st;
  char rbuf[CHUNK];
};

/* ---- time ---- */

static void set_clock(struct tlsrptd_follow *f) {
  time_t t;
  struct tm tm;
  int64_t local;

  if (f->clock != NULL) {
    mts_rpt_session_set_clock(f->sess, f->clock(f->clock_arg), 0);
    return;
  }
  t = time(NULL);
  if (localtime_r(&t, &tm) == NULL) {
    mts_rpt_session_set_clock(f->sess, (int64_t)t, 0);
    return;
  }
  local = mts_utc_days_from_civil(tm.tm_year + 1900, (unsigned)tm.tm_mon + 1,
                                  (unsigned)tm.tm_mday) *
              86400 +
          tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
  mts_rpt_session_set_clock(f->sess, (int64_t)t,
                            (int)((local - (int64_t)t) / 60));
}

/* ---- lines ---- */

static void feed(struct tlsrptd_follow *f, const char *s, size_t n) {
  enum mts_status st;

  f->st.lines++;
  st = mts_rpt_session_feed_line(f->sess, (const uint8_t *)s, n);
  if (st == MTS_ENOMEM) {
    f->st.enomem++;
  }
}

/* Split \p n bytes into lines; the rest stays in f->line. */
static void take(struct tlsrptd_follow *f, const char *b, size_t n) {
  size_t i = 0;

  f->st.bytes += n;
  while (i < n) {
    const char *nl = memchr(b + i, '\n', n - i);
    size_t k = nl != NULL ? (size_t)(nl - (b + i)) : n - i;

    if (f->skipping) {
      if (nl != NULL) {
        f->skipping = false;
      }
    } else if (f->llen + k > MTS_RPT_LOGLINE_MAX) {
      f->st.long_lines++;
      f->llen = 0;
      f->skipping = nl == NULL;
    } else if (nl != NULL) {
      if (f->llen == 0) {
        feed(f, b + i, k);
      } else {
        memcpy(f->line + f->llen, b + i, k);
        feed(f, f->line, f->llen + k);
        f->llen = 0;
      }
    } else {
      memcpy(f->line + f->llen, b + i, k);
      f->llen += k;
    }
    i += k + (nl != NULL ? 1 : 0);
  }
}

/* The writer is done with the current file: its last line is complete. */
static void take_rest(struct tlsrptd_follow *f) {
  if (f->llen > 0 && !f->skipping) {
    feed(f, f->line, f->llen);
  }
  f->llen = 0;
  f->skipping = false;
}

/* ---- the position ---- */

static void load_state(struct tlsrptd_follow *f) {
  FILE *fp;
  unsigned long long dev, ino;
  long long off;

  if (f->state == NULL || (fp = fopen(f->state, "r")) == NULL) {
    return;
  }
  if (fscanf(fp, "v1 %llu %llu %lld", &dev, &ino, &off) == 3 && off >= 0) {
    f->have_saved = true;
    f->saved_dev = (dev_t)dev;
    f->saved_ino = (ino_t)ino;
    f->saved_off = (off_t)off;
  }
  fclose(fp);
}

static void save_state(struct tlsrptd_follow *f) {
  char tmp[4096];
  FILE *fp;
  off_t off;
  int ok;

  if (f->state == NULL || f->fd < 0) {
    return;
  }
  off = f->pos - (off_t)f->llen; /* a partial line is read again */
  if (f->skipping) {
    off = f->pos; /* do not come back into a line that is too long */
  }
  if (f->have_saved && f->saved_dev == f->dev && f->saved_ino == f->ino &&
      f->saved_off == off) {
    return;
  }
  if (snprintf(tmp, sizeof(tmp), "%s.tmp", f->state) >= (int)sizeof(tmp) ||
      (fp = fopen(tmp, "w")) == NULL) {
    f->st.read_errors++;
    return;
  }
  ok = fprintf(fp, "v1 %llu %llu %lld\n", (unsigned long long)f->dev,
               (unsigned long long)f->ino, (long long)off) > 0;
  if (fflush(fp) != 0 || fsync(fileno(fp)) != 0) {
    ok = 0;
  }
  if (fclose(fp) != 0 || !ok || rename(tmp, f->state) != 0) {
    f->st.read_errors++;
    (void)unlink(tmp);
    return;
  }
  f->have_saved = true;
  f->saved_dev = f->dev;
  f->saved_ino = f->ino;
  f->saved_off = off;
}

static bool open_file(struct tlsrptd_follow *f) {
  struct stat sb;
  int fd = open(f->path, O_RDONLY | O_CLOEXEC);
  off_t start = 0;

  if (fd < 0) {
    if (errno != ENOENT) {
      f->st.read_errors++;
    }
    f->initial = false; /* a file that appears later is read whole */
    return false;
  }
  if (fstat(fd, &sb) != 0) {
    f->st.read_errors++;
    close(fd);
    return false;
  }
  if (f->initial) {
    if (f->have_saved && f->saved_dev == sb.st_dev &&
        f->saved_ino == sb.st_ino && f->saved_off <= sb.st_size) {
      start = f->saved_off;
    } else if (f->have_saved || f->from_start) {
      start = 0;
    } else {
      start = sb.st_size;
    }
    f->initial = false;
  }
  if (lseek(fd, start, SEEK_SET) != start) {
    f->st.read_errors++;
    close(fd);
    return false;
  }
  f->fd = fd;
  f->dev = sb.st_dev;
  f->ino = sb.st_ino;
  f->pos = start;
  f->llen = 0;
  f->skipping = false;
  return true;
}

static void read_all(struct tlsrptd_follow *f) {
  for (;;) {
    ssize_t n = read(f->fd, f->rbuf, sizeof(f->rbuf));

    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      f->st.read_errors++;
      return;
    }
    if (n == 0) {
      return;
    }
    f->pos += n;
    take(f, f->rbuf, (size_t)n);
  }
}

void tlsrptd_follow_poll(struct tlsrptd_follow *f) {
  struct stat ps, fs;

  if (f == NULL || f->cmd) {
    return;
  }
  set_clock(f);
  if (f->fd < 0 && !open_file(f)) {
    return;
  }
  if (stat(f->path, &ps) == 0 && (ps.st_ino != f->ino || ps.st_dev != f->dev)) {
    /* rotated: finish the old file, then the new one from its start */
    read_all(f);
    take_rest(f);
    close(f->fd);
    f->fd = -1;
    f->st.rotations++;
    if (!open_file(f)) {
      return;
    }
  } else if (fstat(f->fd, &fs) == 0 && fs.st_size < f->pos) {
    f->st.truncations++;
    if (lseek(f->fd, 0, SEEK_SET) != 0) {
      f->st.read_errors++;
      return;
    }
    f->pos = 0;
    f->llen = 0;
    f->skipping = false;
  }
  read_all(f);
  save_state(f);
}

static void on_timer(uv_timer_t *t) { tlsrptd_follow_poll(t->data); }

/* ---- command mode ---- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  struct tlsrptd_follow *f = h->data;

  (void)suggested;
  buf->base = f->rbuf;
  buf->len = sizeof(f->rbuf);
}

static void on_closed(uv_handle_t *h);

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  struct tlsrptd_follow *f = s->data;

  if (n > 0) {
    set_clock(f);
    take(f, buf->base, (size_t)n);
  } else if (n < 0) {
    take_rest(f);
    uv_read_stop(s);
    if (!uv_is_closing((uv_handle_t *)s)) {
      uv_close((uv_handle_t *)s, on_closed);
    }
  }
}

static void on_exit_cb(uv_process_t *p, int64_t status, int sig) {
  struct tlsrptd_follow *f = p->data;

  (void)status;
  (void)sig;
  f->st.command_exits++;
  f->proc_alive = false;
  uv_close((uv_handle_t *)p, on_closed);
}

/* ---- life cycle ---- */

static void free_follow(struct tlsrptd_follow *f) {
  if (f->fd >= 0) {
    close(f->fd);
  }
  mts_rpt_session_destroy(f->sess);
  free(f->path);
  free(f->state);
  free(f->line);
  free(f);
}

static void on_closed(uv_handle_t *h) {
  struct tlsrptd_follow *f = h->data;

  if (--f->open_handles == 0 && f->stopping) {
    free_follow(f);
  }
}

static void relay(const struct mts_rpt_event *ev, void *arg) {
  struct tlsrptd_follow *f = arg;

  f->on_event(ev, f->arg);
}

int tlsrptd_follow_start(uv_loop_t *loop, const struct tlsrptd_follow_cfg *cfg,
                         tlsrptd_event_fn on_event, void *arg,
                         struct tlsrptd_follow **out) {
  struct tlsrptd_follow *f;
  int rc;

  if (out != NULL) {
    *out = NULL;
  }
  if (loop == NULL || cfg == NULL || cfg->ctx == NULL || on_event == NULL ||
      out == NULL || (cfg->path == NULL) == (cfg->command == NULL) ||
      (cfg->command != NULL && cfg->command[0] == NULL)) {
    return -EINVAL;
  }
  f = calloc(1, sizeof(*f));
  if (f == NULL) {
    return -ENOMEM;
  }
  f->loop = loop;
  f->fd = -1;
  f->ctx = cfg->ctx;
  f->on_event = on_event;
  f->arg = arg;
  f->from_start = cfg->from_start;
  f->initial = true;
  f->clock = cfg->clock;
  f->clock_arg = cfg->clock_arg;
  f->line = malloc(MTS_RPT_LOGLINE_MAX);
  if (f->line == NULL ||
      (cfg->path != NULL && (f->path = strdup(cfg->path)) == NULL) ||
      (cfg->state_file != NULL &&
       (f->state = strdup(cfg->state_file)) == NULL) ||
      mts_rpt_session_create(cfg->ctx, &cfg->session, relay, f, &f->sess) !=
          MTS_OK) {
    free_follow(f);
    return -ENOMEM;
  }
  set_clock(f);
  if (cfg->command != NULL) {
    uv_process_options_t po;
    uv_stdio_container_t io[3];

    f->cmd = true;
    rc = uv_pipe_init(loop, &f->pipe, 0);
    if (rc != 0) {
      free_follow(f);
      return rc;
    }
    f->pipe.data = f;
    f->open_handles++;
    memset(&po, 0, sizeof(po));
    io[0].flags = UV_IGNORE;
    io[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    io[1].data.stream = (uv_stream_t *)&f->pipe;
    io[2].flags = UV_INHERIT_FD;
    io[2].data.fd = 2;
    po.file = cfg->command[0];
    po.args = (char **)(uintptr_t)cfg->command;
    po.stdio = io;
    po.stdio_count = 3;
    po.exit_cb = on_exit_cb;
    f->proc.data = f;
    rc = uv_spawn(loop, &f->proc, &po);
    if (rc != 0) {
      /* libuv: the process handle must be closed even when the spawn
       * failed, and f must outlive both closes (valgrind found libuv
       * reading the handle inside a freed f). */
      f->stopping = true;
      f->open_handles++;
      uv_close((uv_handle_t *)&f->proc, on_closed);
      uv_close((uv_handle_t *)&f->pipe, on_closed);
      return rc;
    }
    f->proc_alive = true;
    f->open_handles++;
    rc = uv_read_start((uv_stream_t *)&f->pipe, on_alloc, on_read);
    if (rc != 0) {
      tlsrptd_follow_stop(f);
      return rc;
    }
    *out = f;
    return 0;
  }
  load_state(f);
  (void)open_file(f);
  rc = uv_timer_init(loop, &f->timer);
  if (rc != 0) {
    free_follow(f);
    return rc;
  }
  f->timer.data = f;
  f->open_handles++;
  rc = uv_timer_start(&f->timer, on_timer, 0,
                      cfg->interval_ms > 0 ? cfg->interval_ms
                                           : INTERVAL_DEFAULT);
  if (rc != 0) {
    tlsrptd_follow_stop(f);
    return rc;
  }
  *out = f;
  return 0;
}

void tlsrptd_follow_stop(struct tlsrptd_follow *f) {
  if (f == NULL || f->stopping) {
    return;
  }
  if (!f->cmd) {
    tlsrptd_follow_poll(f);
  }
  mts_rpt_session_flush(f->sess);
  f->stopping = true;
  if (f->open_handles == 0) { /* the command and its pipe are gone */
    free_follow(f);
    return;
  }
  if (f->cmd) {
    if (f->proc_alive) {
      (void)uv_process_kill(&f->proc, SIGTERM);
    }
    if (!uv_is_closing((uv_handle_t *)&f->pipe)) {
      uv_read_stop((uv_stream_t *)&f->pipe);
      uv_close((uv_handle_t *)&f->pipe, on_closed);
    }
  } else {
    uv_close((uv_handle_t *)&f->timer, on_closed);
  }
}

void tlsrptd_follow_stats(const struct tlsrptd_follow *f,
                          struct tlsrptd_follow_stats *out) {
  if (f != NULL && out != NULL) {
    *out = f->st;
    mts_rpt_session_stats(f->sess, &out->session);
  }
}
