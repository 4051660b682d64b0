/*
 * follow.h - the Postfix log follower of mtasts-tlsrptd, for Postfix
 * without libtlsrpt (3.7 ... 3.9, or 3.10+ built without it): reads the
 * mail log, joins smtp(8)/tlsproxy(8) lines into TLS sessions
 * (mtasts/rpt_session.h) and hands one event per session to on_event.
 *
 * Two inputs:
 *  - a file (cfg.path: /var/log/mail.log, or Postfix's maillog_file):
 *    checked every cfg.interval_ms with stat(); new complete lines are
 *    read and fed in order. Rotation: when the path names another inode,
 *    the old file is read to its end first, then the new one from its
 *    start; truncation in place (copytruncate): read again from 0 (seen
 *    when the file is shorter than the read position at a check; a file
 *    truncated and written past that position between two checks is
 *    read from the old position: keep the interval short).
 *    The first start reads from the end (old lines are not counted)
 *    unless cfg.from_start. With cfg.state_file the position (inode and
 *    offset after the last complete line fed) is saved after each read
 *    (write to "<state>.tmp", rename) and a restart continues there if
 *    the inode is the same and the file is not shorter; so a restart
 *    does not count a line twice. A session cut by a restart (facts
 *    before, status line after) loses its facts: it is counted from the
 *    status line alone or not at all, never twice. A state file of
 *    another inode (rotated while stopped): the new file is read from
 *    its start (lines of the rotated file written while stopped are not
 *    read).
 *  - a command (cfg.command, e.g. {"journalctl", "-f", "-o",
 *    "short-iso", "--cursor-file=/var/lib/mtasts/journal.cursor", "-u",
 *    "postfix*", NULL}) whose standard output is the log; journalctl's
 *    cursor file keeps the position across restarts. Lines carry UTC
 *    offsets then. The command ending is counted (stats.command_exits);
 *    it is not restarted (the daemon decides).
 *
 * Lines longer than MTS_RPT_LOGLINE_MAX are skipped (stats.long_lines).
 * Time zone: local time stamps (RFC 3164) are converted with the offset
 * of the process's local time zone, refreshed at each read.
 *
 * Thread safety: the loop's thread only.
 */
#ifndef TLSRPTD_FOLLOW_H
#define TLSRPTD_FOLLOW_H

#include <stdbool.h>
#include <stdint.h>

#include <mtasts/rpt_session.h>
#include <uv.h>

#include "event.h"

struct tlsrptd_follow_cfg {
  struct mts_ctx *ctx;       /* required */
  const char *path;          /* log file, or NULL with command */
  const char *const *command; /* argv, NULL-terminated, or NULL */
  const char *state_file;    /* NULL: no saved position */
  bool from_start;           /* no usable state: read from offset 0 */
  unsigned interval_ms;      /* 0: 1000 */
  struct mts_rpt_session_cfg session; /* joiner bounds, exclusions */
  /* Fixed clock for tests: when set, "now" and offset 0 (UTC) are
   * used instead of time() and the local zone. */
  int64_t (*clock)(void *arg);
  void *clock_arg;
};

struct tlsrptd_follow_stats {
  uint64_t bytes;       /* read */
  uint64_t lines;       /* complete lines fed */
  uint64_t long_lines;  /* skipped */
  uint64_t rotations;   /* new inode */
  uint64_t truncations; /* same inode, shorter */
  uint64_t read_errors; /* open/read/stat failures (retried) */
  uint64_t enomem;      /* lines lost to allocation failure */
  uint64_t command_exits;
  struct mts_rpt_session_stats session;
};

struct tlsrptd_follow;

/*!
 * Start following on \p loop (the file is opened and positioned now;
 * a missing file is retried at each interval).
 * \return 0 or a negative errno (-EINVAL, -ENOMEM, uv errors for the
 * command).
 */
int tlsrptd_follow_start(uv_loop_t *loop, const struct tlsrptd_follow_cfg *cfg,
                         tlsrptd_event_fn on_event, void *arg,
                         struct tlsrptd_follow **out);
/*! Read what is there now (file mode), as the timer does. */
void tlsrptd_follow_poll(struct tlsrptd_follow *f);
/*! Stop: read what is there, save the position, close the sessions still
 *  open (mts_rpt_session_flush: emitted when their domain is known),
 *  close handles; memory is freed by the loop. NULL is a no-op. */
void tlsrptd_follow_stop(struct tlsrptd_follow *f);
/*! Copy the counters. */
void tlsrptd_follow_stats(const struct tlsrptd_follow *f,
                          struct tlsrptd_follow_stats *out);

#endif /* TLSRPTD_FOLLOW_H */
