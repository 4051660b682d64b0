/*
 * fuzz_tlsrptd_follow.c - the log follower's restart state (load_state:
 * "v1 DEV INO OFFSET") and its line splitting, through the public API
 * as the daemon uses it: tlsrptd_follow_start() with a state file and a
 * log file, tlsrptd_follow_poll(), tlsrptd_follow_stop().
 *
 * Input: one flag byte, the state file's bytes up to the first NUL, the
 * log's bytes after it. Flags: 1 from_start; 2 the state file starts
 * with "v1 DEV INO " of the real log file, so that the fuzzed bytes are
 * the offset (an inode cannot be guessed). Files live in a directory of
 * this process under TMPDIR, emptied after each input and removed at
 * exit; the clock is fixed; no network.
 *
 * Invariants (abort() when broken):
 * - bytes read at the first poll: 0 without a usable state (not
 *   from_start), the whole log with from_start or a state of another
 *   inode or beyond the end, the rest after OFFSET with a usable one;
 *   checked exactly when the fuzzed offset is plain digits;
 * - lines fed <= LFs in the log; events <= lines;
 * - after stop the state file holds "v1 DEV INO OFF" of the log with
 *   0 <= OFF <= its size.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "follow.h"

#define FUZZ_MAX_INPUT 131072 /* a line longer than MTS_RPT_LOGLINE_MAX */
#define NOW_MAR 1772388000 /* 2026-03-01T18:00:00Z */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[256], log_path[300], state_path[300], tmp_path[310];
static size_t events;

static void cleanup(void) {
  (void)unlink(log_path);
  (void)unlink(state_path);
  (void)unlink(tmp_path);
  (void)rmdir(dir);
}

static void setup(void) {
  const char *t = getenv("TMPDIR");

  if (dir[0] != '\0') {
    return;
  }
  if (t == NULL || t[0] == '\0') {
    t = "/tmp";
  }
  if ((size_t)snprintf(dir, sizeof(dir), "%s/fuzz-follow-XXXXXX", t) >=
          sizeof(dir) ||
      mkdtemp(dir) == NULL) {
    abort();
  }
  (void)snprintf(log_path, sizeof(log_path), "%s/mail.log", dir);
  (void)snprintf(state_path, sizeof(state_path), "%s/follow.state", dir);
  (void)snprintf(tmp_path, sizeof(tmp_path), "%s.tmp", state_path);
  (void)atexit(cleanup);
}

static void write_file(const char *path, const char *pre, const uint8_t *p,
                       size_t n) {
  FILE *f = fopen(path, "wb");

  if (f == NULL || fputs(pre, f) < 0 || (n > 0 && fwrite(p, 1, n, f) != n) ||
      fclose(f) != 0) {
    abort();
  }
}

static void on_event(const struct mts_rpt_event *ev, void *arg) {
  (void)ev;
  (void)arg;
  events++;
}

static int64_t fixed_clock(void *arg) {
  (void)arg;
  return NOW_MAR;
}

/* The offset when the fuzzed state bytes are plain digits (at most 18,
 * so no overflow), else -1. */
static long long plain_offset(const uint8_t *p, size_t n) {
  long long v = 0;
  size_t i;

  if (n == 0 || n > 18) {
    return -1;
  }
  for (i = 0; i < n; i++) {
    if (p[i] < '0' || p[i] > '9') {
      return -1;
    }
    v = v * 10 + (p[i] - '0');
  }
  return v;
}

static void check_saved(const struct stat *sb) {
  FILE *f = fopen(state_path, "r");
  unsigned long long dev, ino;
  long long off;

  if (f == NULL || fscanf(f, "v1 %llu %llu %lld", &dev, &ino, &off) != 3 ||
      dev != (unsigned long long)sb->st_dev ||
      ino != (unsigned long long)sb->st_ino || off < 0 || off > sb->st_size) {
    abort();
  }
  (void)fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct tlsrptd_follow_cfg cfg;
  struct tlsrptd_follow_stats st;
  struct tlsrptd_follow *f = NULL;
  struct stat sb;
  const uint8_t *state, *log, *nul;
  size_t slen, llen, i, lfs = 0;
  char pre[64] = "";
  uint8_t flags;
  long long off;
  struct mts_ctx *ctx;
  uv_loop_t loop;

  if (size < 1 || size > FUZZ_MAX_INPUT) {
    return 0;
  }
  setup();
  flags = data[0];
  state = data + 1;
  nul = memchr(state, '\0', size - 1);
  slen = nul != NULL ? (size_t)(nul - state) : size - 1;
  log = nul != NULL ? nul + 1 : data + size;
  llen = (size_t)(data + size - log);
  for (i = 0; i < llen; i++) {
    lfs += log[i] == '\n';
  }
  write_file(log_path, "", log, llen);
  if (stat(log_path, &sb) != 0) {
    abort();
  }
  if (flags & 2) {
    (void)snprintf(pre, sizeof(pre), "v1 %llu %llu ",
                   (unsigned long long)sb.st_dev,
                   (unsigned long long)sb.st_ino);
  }
  write_file(state_path, pre, state, slen);

  if (mts_ctx_create(NULL, &ctx) != MTS_OK || uv_loop_init(&loop) != 0) {
    abort();
  }
  memset(&cfg, 0, sizeof(cfg));
  cfg.ctx = ctx;
  cfg.path = log_path;
  cfg.state_file = state_path;
  cfg.from_start = (flags & 1) != 0;
  cfg.interval_ms = 3600000; /* polled by hand */
  cfg.clock = fixed_clock;
  events = 0;
  if (tlsrptd_follow_start(&loop, &cfg, on_event, NULL, &f) != 0) {
    abort();
  }
  tlsrptd_follow_poll(f);
  tlsrptd_follow_stats(f, &st);
  if (st.lines > lfs || events > st.lines || st.bytes > llen) {
    abort();
  }
  if (slen == 0 && !(flags & 2) &&
      st.bytes != ((flags & 1) ? llen : 0)) {
    abort();
  }
  off = (flags & 2) ? plain_offset(state, slen) : -1;
  if (off >= 0 &&
      st.bytes != (off <= (long long)llen ? llen - (size_t)off : llen)) {
    abort();
  }
  tlsrptd_follow_stop(f);
  (void)uv_run(&loop, UV_RUN_NOWAIT);
  if (uv_loop_close(&loop) != 0) {
    abort();
  }
  check_saved(&sb);
  mts_ctx_destroy(ctx);
  (void)unlink(log_path);
  (void)unlink(state_path);
  return 0;
}
