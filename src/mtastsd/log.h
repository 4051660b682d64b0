/*
 * log.h - mtastsd's logging: one line per event to stderr (the default,
 * for systemd's journal), a file (-l FILE), or syslog (-l syslog).
 *
 * Lines written to stderr or a file have the peer's format
 * (postfix-mta-sts-resolver): "YYYY-mm-dd HH:MM:SS LEVEL NAME: message",
 * NAME being the subsystem ("MAIN", "PF" for the socketmap server,
 * "STS" for the library). Syslog gets "NAME: message" at the matching
 * priority, facility mail.
 *
 * The level is checked before anything is formatted (STYLE.md 12).
 * Untrusted text (keys, peer names) must be sanitised by the caller with
 * mtastsd_log_printable() and cut with "%.100s".
 *
 * Ownership: struct mtastsd_log lives in caller storage (init/cleanup).
 * No global state: the library's log callback gets the struct as its arg
 * (mtastsd_log_lib()). Not thread-safe: the daemon is single-threaded.
 */
#ifndef MTASTSD_LOG_H
#define MTASTSD_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include <mtasts/common.h>

/* The peer's levels (-v), most severe first. */
enum mtastsd_level {
  MTASTSD_FATAL = 0,
  MTASTSD_ERROR = 1,
  MTASTSD_WARN = 2,
  MTASTSD_INFO = 3,
  MTASTSD_DEBUG = 4
};

struct mtastsd_log {
  enum mtastsd_level level; /* lines above this are dropped */
  FILE *file;               /* stderr or the -l file; NULL: syslog */
  char *path;               /* -l FILE, reopened by mtastsd_log_reopen() */
  bool syslog;              /* -l syslog */
  bool owned;               /* file was opened by us */
};

/*! Parse a -v value ("debug" ... "fatal"). \return false if unknown. */
bool mtastsd_log_level_parse(const char *s, enum mtastsd_level *out);

/*!
 * Initialise \p lg at \p level writing to \p dest: NULL for stderr,
 * "syslog" for syslog, else a file opened for appending.
 * \return 0, or -1 with errno set when the file cannot be opened (\p lg
 * then writes to stderr).
 */
int mtastsd_log_init(struct mtastsd_log *lg, enum mtastsd_level level,
                     const char *dest);

/*! Reopen the log file (after rotation, on SIGHUP). \return 0 or -1. */
/* Give the log file to \p uid / \p gid ((uid_t)-1, (gid_t)-1: leave
 * as is) before root is dropped, so that SIGHUP can reopen it (as
 * unbound does for its logfile). A no-op without a log file of ours.
 * \return 0, or -1 with errno. */
int mtastsd_log_chown(struct mtastsd_log *lg, uid_t uid, gid_t gid);
int mtastsd_log_reopen(struct mtastsd_log *lg);

/*! Close the file or syslog; a zeroed \p lg is a no-op. */
void mtastsd_log_cleanup(struct mtastsd_log *lg);

/*! \return true when \p level would be written. */
static inline bool mtastsd_log_on(const struct mtastsd_log *lg,
                                  enum mtastsd_level level) {
  return level <= lg->level;
}

/*! Write one line (no newline in \p fmt). */
void mtastsd_log(struct mtastsd_log *lg, enum mtastsd_level level,
                 const char *name, const char *fmt, ...) MTS_PRINTF(4, 5);

/*! As mtastsd_log(), with ": strerror(errno)" appended; errno is kept. */
void mtastsd_log_errno(struct mtastsd_log *lg, enum mtastsd_level level,
                       const char *name, const char *fmt, ...)
    MTS_PRINTF(4, 5);

/* The library's log callback (mts_ctx_set_log(ctx, mtastsd_log_lib, lg,
 * ...)): lines are written under the name "STS". */
void mtastsd_log_lib(void *arg, enum mts_log_level level, const char *msg);

/*! \return the library level matching \p level (for mts_ctx_set_log). */
enum mts_log_level mtastsd_log_lib_level(enum mtastsd_level level);

/*!
 * Copy at most \p len bytes of \p s into \p out (\p outsize bytes,
 * NUL-terminated) for a log line: bytes outside 0x20-0x7e become '?'.
 * \return out.
 */
char *mtastsd_log_printable(const void *s, size_t len, char *out,
                            size_t outsize);

/* Shorthands. */
#define LOG_D(lg, name, ...)                                                   \
  do {                                                                         \
    if (mtastsd_log_on((lg), MTASTSD_DEBUG)) {                                 \
      mtastsd_log((lg), MTASTSD_DEBUG, (name), __VA_ARGS__);                   \
    }                                                                          \
  } while (0)
#define LOG_I(lg, name, ...) mtastsd_log((lg), MTASTSD_INFO, (name), __VA_ARGS__)
#define LOG_W(lg, name, ...) mtastsd_log((lg), MTASTSD_WARN, (name), __VA_ARGS__)
#define LOG_E(lg, name, ...)                                                   \
  mtastsd_log((lg), MTASTSD_ERROR, (name), __VA_ARGS__)

#endif /* MTASTSD_LOG_H */
