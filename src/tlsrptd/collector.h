/*
 * collector.h - the libtlsrpt datagram collector of mtasts-tlsrptd: a
 * UNIX datagram socket at the path Postfix >= 3.10 is given
 * (smtp_tlsrpt_socket_name; TLSRPT-NOTES 1.1, 1.4, 4 items 1-7).
 *
 * - The socket is socket(AF_UNIX, SOCK_DGRAM) on the libuv loop through
 *   uv_poll (uv_udp has no AF_UNIX). A stale socket file (nobody bound:
 *   connect() refused) is removed; a live one (another collector) or a
 *   file that is not a socket is an error (EADDRINUSE / EEXIST). After
 *   bind the file gets cfg.mode and cfg.uid/gid (Postfix's smtp runs as
 *   "postfix" and must be able to write to it).
 * - Draining: on readable, recv() in a loop until EAGAIN (at most
 *   DRAIN_BATCH per wakeup, then back to the loop, which is
 *   level-triggered) with a buffer of MTS_RPT_DATAGRAM_MAX + 1 bytes;
 *   SO_RCVBUF is raised to cfg.rcvbuf (SO_RCVBUFFORCE first, which
 *   needs CAP_NET_ADMIN). The kernel queue of a UNIX datagram socket
 *   is also bounded in datagrams by the sysctl net.unix.max_dgram_qlen
 *   (default 10), which no socket option raises; libtlsrpt sends with
 *   MSG_DONTWAIT, so a busy host should raise that sysctl (docs).
 * - Each datagram is parsed (mts_rpt_datagram_parse); a usable one
 *   gives one event per policy (mts_rpt_event_from_datagram, time =
 *   receive time) to on_event; an unusable or oversized one is counted
 *   and written to cfg.quarantine_dir as
 *   "<utc seconds>-<seq>-<first error code>.dgram" (mode 0600), at
 *   most cfg.quarantine_max_files files / cfg.quarantine_max_bytes bytes
 *   in that directory (existing files count; above it only counted).
 *   Nothing in a datagram can stop the collector.
 *
 * Thread safety: the loop's thread only.
 */
#ifndef TLSRPTD_COLLECTOR_H
#define TLSRPTD_COLLECTOR_H

#include <stdint.h>
#include <sys/types.h>

#include <mtasts/common.h>
#include <uv.h>

#include "event.h"

struct tlsrptd_collector_cfg {
  struct mts_ctx *ctx;   /* library context (allocator, log); required */
  const char *path;      /* socket path (< 108 bytes); required */
  int mode;              /* chmod after bind; -1: leave (umask) */
  long uid, gid;         /* chown after bind; -1: leave */
  int rcvbuf;            /* SO_RCVBUF bytes; 0: 4 MiB */
  const char *quarantine_dir; /* NULL: rejects are only counted */
  size_t quarantine_max_files;   /* 0: 1000 */
  uint64_t quarantine_max_bytes; /* 0: 64 MiB */
  int64_t (*clock)(void *arg);   /* UTC seconds; NULL: time() */
  void *clock_arg;
};

struct tlsrptd_collector_stats {
  uint64_t datagrams;   /* received */
  uint64_t bytes;       /* received (as sent, also when truncated) */
  uint64_t usable;      /* turned into events */
  uint64_t events;      /* handed to on_event */
  uint64_t warnings;    /* usable but with a warning finding */
  uint64_t rejected;    /* unusable, oversized or failed to convert */
  uint64_t oversized;   /* of them larger than MTS_RPT_DATAGRAM_MAX */
  uint64_t quarantined; /* files written */
  uint64_t quarantine_skipped; /* rejects not written (limit, error) */
  uint64_t recv_errors; /* recv() errors other than EAGAIN */
  uint64_t enomem;      /* datagrams lost to allocation failure */
};

struct tlsrptd_collector;

/*!
 * Bind the socket and start polling it on \p loop.
 * \return 0, or a negative errno (-EINVAL for a bad cfg, -ENAMETOOLONG,
 * -EADDRINUSE when another process is bound, -EEXIST when the path is
 * not a socket, -ENOMEM, errors of socket/bind/chmod/chown).
 */
int tlsrptd_collector_start(uv_loop_t *loop,
                            const struct tlsrptd_collector_cfg *cfg,
                            tlsrptd_event_fn on_event, void *arg,
                            struct tlsrptd_collector **out);
/*! Stop polling, close and unlink the socket; the memory is freed by
 *  the loop (uv_close), so run the loop once more. NULL is a no-op. */
void tlsrptd_collector_stop(struct tlsrptd_collector *c);
/*! Copy the counters. */
void tlsrptd_collector_stats(const struct tlsrptd_collector *c,
                             struct tlsrptd_collector_stats *out);
/*! The bound socket's fd (for tests and diagnostics). */
int tlsrptd_collector_fd(const struct tlsrptd_collector *c);

#endif /* TLSRPTD_COLLECTOR_H */
