/*
 * log.c - mtastsd's log sinks: stderr, file, syslog. See log.h.
 */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <syslog.h>
#include <time.h>

/* A log line is cut at this many bytes (messages carry at most 100 bytes
 * of untrusted text each, STYLE.md 12). */
#define LOG_LINE_MAX 2048

static const char *const level_names[] = {"CRITICAL", "ERROR", "WARNING",
                                          "INFO", "DEBUG"};
static const char *const level_opts[] = {"fatal", "error", "warn", "info",
                                         "debug"};

bool mtastsd_log_level_parse(const char *s, enum mtastsd_level *out) {
  size_t i;

  for (i = 0; i < sizeof(level_opts) / sizeof(level_opts[0]); i++) {
    if (strcmp(s, level_opts[i]) == 0) {
      *out = (enum mtastsd_level)i;
      return true;
    }
  }
  return false;
}

static int open_file(struct mtastsd_log *lg) {
  FILE *f = fopen(lg->path, "a");

  if (f == NULL) {
    return -1;
  }
  setvbuf(f, NULL, _IOLBF, 0);
  lg->file = f;
  lg->owned = true;
  return 0;
}

int mtastsd_log_init(struct mtastsd_log *lg, enum mtastsd_level level,
                     const char *dest) {
  memset(lg, 0, sizeof(*lg));
  lg->level = level;
  lg->file = stderr;
  if (dest == NULL || strcmp(dest, "-") == 0) {
    return 0;
  }
  if (strcmp(dest, "syslog") == 0) {
    lg->syslog = true;
    lg->file = NULL;
    openlog("mtastsd", LOG_PID | LOG_NDELAY, LOG_MAIL);
    return 0;
  }
  lg->path = strdup(dest);
  if (lg->path == NULL) {
    return -1;
  }
  if (open_file(lg) != 0) {
    int e = errno;

    lg->file = stderr;
    errno = e;
    return -1;
  }
  return 0;
}

int mtastsd_log_chown(struct mtastsd_log *lg, uid_t uid, gid_t gid) {
  if (lg->path == NULL || !lg->owned || lg->file == NULL) {
    return 0;
  }
  return fchown(fileno(lg->file), uid, gid);
}

int mtastsd_log_reopen(struct mtastsd_log *lg) {
  FILE *old = lg->file;

  if (lg->path == NULL || !lg->owned) {
    return 0;
  }
  if (open_file(lg) != 0) {
    return -1; /* keep writing to the old file */
  }
  if (old != NULL && old != stderr) {
    (void)fclose(old);
  }
  return 0;
}

void mtastsd_log_cleanup(struct mtastsd_log *lg) {
  if (lg->owned && lg->file != NULL) {
    (void)fclose(lg->file);
  }
  if (lg->syslog) {
    closelog();
  }
  free(lg->path);
  memset(lg, 0, sizeof(*lg));
  lg->file = stderr;
}

static int syslog_prio(enum mtastsd_level level) {
  switch (level) {
  case MTASTSD_FATAL:
    return LOG_CRIT;
  case MTASTSD_ERROR:
    return LOG_ERR;
  case MTASTSD_WARN:
    return LOG_WARNING;
  case MTASTSD_INFO:
    return LOG_INFO;
  case MTASTSD_DEBUG:
    break;
  }
  return LOG_DEBUG;
}

static void emit(struct mtastsd_log *lg, enum mtastsd_level level,
                 const char *name, const char *msg) {
  char ts[32];
  struct tm tm;
  time_t now = time(NULL);

  if (lg->syslog) {
    syslog(syslog_prio(level), "%s: %s", name, msg);
    return;
  }
  if (localtime_r(&now, &tm) == NULL ||
      strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", &tm) == 0) {
    ts[0] = '\0';
  }
  (void)fprintf(lg->file != NULL ? lg->file : stderr, "%s %s %s: %s\n", ts,
                level_names[level], name, msg);
}

static void vlog(struct mtastsd_log *lg, enum mtastsd_level level,
                 const char *name, const char *suffix, const char *fmt,
                 va_list ap) MTS_PRINTF(5, 0);

static void vlog(struct mtastsd_log *lg, enum mtastsd_level level,
                 const char *name, const char *suffix, const char *fmt,
                 va_list ap) {
  char line[LOG_LINE_MAX];
  int n;

  /* Each level's name is in level_names: clamp a corrupt value. */
  if (level > MTASTSD_DEBUG) {
    level = MTASTSD_DEBUG;
  }
  n = vsnprintf(line, sizeof(line), fmt, ap);
  if (n < 0) {
    return;
  }
  if (suffix != NULL && (size_t)n < sizeof(line)) {
    (void)snprintf(line + n, sizeof(line) - (size_t)n, ": %s", suffix);
  }
  emit(lg, level, name, line);
}

void mtastsd_log(struct mtastsd_log *lg, enum mtastsd_level level,
                 const char *name, const char *fmt, ...) {
  va_list ap;

  if (!mtastsd_log_on(lg, level)) {
    return;
  }
  va_start(ap, fmt);
  vlog(lg, level, name, NULL, fmt, ap);
  va_end(ap);
}

void mtastsd_log_errno(struct mtastsd_log *lg, enum mtastsd_level level,
                       const char *name, const char *fmt, ...) {
  int e = errno;
  va_list ap;

  if (mtastsd_log_on(lg, level)) {
    va_start(ap, fmt);
    vlog(lg, level, name, strerror(e), fmt, ap);
    va_end(ap);
  }
  errno = e;
}

void mtastsd_log_lib(void *arg, enum mts_log_level level, const char *msg) {
  struct mtastsd_log *lg = arg;
  enum mtastsd_level l = MTASTSD_DEBUG;

  switch (level) {
  case MTS_LOG_ERR:
    l = MTASTSD_ERROR;
    break;
  case MTS_LOG_WARNING:
    l = MTASTSD_WARN;
    break;
  case MTS_LOG_INFO:
    l = MTASTSD_INFO;
    break;
  case MTS_LOG_DEBUG:
    break;
  }
  if (mtastsd_log_on(lg, l)) {
    emit(lg, l, "STS", msg);
  }
}

enum mts_log_level mtastsd_log_lib_level(enum mtastsd_level level) {
  switch (level) {
  case MTASTSD_FATAL:
  case MTASTSD_ERROR:
    return MTS_LOG_ERR;
  case MTASTSD_WARN:
    return MTS_LOG_WARNING;
  case MTASTSD_INFO:
    return MTS_LOG_INFO;
  case MTASTSD_DEBUG:
    break;
  }
  return MTS_LOG_DEBUG;
}

char *mtastsd_log_printable(const void *s, size_t len, char *out,
                            size_t outsize) {
  const unsigned char *p = s;
  size_t i;

  if (outsize == 0) {
    return out;
  }
  if (len > outsize - 1) {
    len = outsize - 1;
  }
  for (i = 0; i < len; i++) {
    out[i] = (p[i] >= 0x20 && p[i] <= 0x7e) ? (char)p[i] : '?';
  }
  out[len] = '\0';
  return out;
}
