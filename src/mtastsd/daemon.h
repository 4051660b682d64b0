/*
 * daemon.h - the top-level struct of mtastsd: configuration, library
 * context, network, store, resolver, socketmap server and signals on one
 * libuv loop. No global state: everything hangs off struct mtastsd_daemon
 * (caller storage), and signals arrive through uv_signal_t.
 *
 * Life cycle (main.c):
 *   mtastsd_daemon_init()    loop, context, logging; takes the config
 *   mtastsd_daemon_listen()  bind the listeners (still as root)
 *   (main drops privileges)
 *   mtastsd_daemon_start()   net, store, resolver, signals
 *   mtastsd_daemon_run()     sd_notify READY=1, run until stopped
 *   mtastsd_daemon_cleanup()
 *
 * Signals: SIGTERM/SIGINT stop gracefully (listeners closed, in-flight
 * requests answered for up to shutdown_timeout seconds, then the rest
 * closed; a second signal closes everything at once); SIGHUP reopens the
 * log file and reloads the configuration (zones, overrides, on_tempfail
 * apply at once; listener, cache and network settings need a restart and
 * say so in the log); SIGPIPE is ignored.
 */
#ifndef MTASTSD_DAEMON_H
#define MTASTSD_DAEMON_H

#include <stdbool.h>

#include <uv.h>

#include <mtasts/cache.h>
#include <mtasts/net.h>
#include <mtasts/sts_resolver.h>

#include "config.h"
#include "control.h"
#include "tlsrpt.h"
#include "log.h"
#include "metrics_http.h"
#include "server.h"

/* The peer's default configuration file. */
#define MTASTSD_DEFAULT_CONFIG "/etc/mta-sts-daemon.yml"
/* A lookup's deadline: twice the zone timeout (DNS, then HTTPS, each
 * bounded by it) plus 1 s, never more than this: Postfix gives up on a
 * socketmap reply after 100 s. */
#define MTASTSD_DEADLINE_MAX_MS 60000u

struct mtastsd_daemon {
  uv_loop_t loop;
  bool loop_ok;
  struct mtastsd_log *log;
  char *config_arg;    /* -c as given, or NULL (default file or defaults) */
  struct mtastsd_config *boot_cfg; /* the config at start; kept to the end */
  struct mtastsd_config *cfg;      /* the current one (after reloads) */
  struct mts_ctx *ctx;
  struct mts_net *net;
  uint32_t net_timeout; /* s: the net's DNS and HTTPS timeout, the largest
                           zone timeout at start (a reload cannot change
                           it) */
  struct mts_cache *store;
  struct mts_sts_resolver *resolver;
  struct mtastsd_mxcache *mx; /* MX sets for wildcard expansion (AN-2) */
  struct mtastsd_dane *dane; /* DANE detection (dane.h; config `dane`) */
  struct mtastsd_server *srv;
  struct mtastsd_metrics_http *metrics; /* metrics_listen, or NULL */
  struct mtastsd_control *control;      /* control_socket, or NULL */
  struct mtastsd_tlsrpt *tlsrpt;        /* tlsrpt_socket, or NULL */
  uv_signal_t sig_term, sig_int, sig_hup;
  uv_timer_t stop_timer;
  bool handles_up; /* signals and stop_timer initialised */
  bool stopping;
  char *reply_buf; /* MTASTSD_ANSWER_BUF_MAX bytes, for answers */
};

/*!
 * Resolve which file to read: \p arg (-c) when given, else
 * MTASTSD_DEFAULT_CONFIG when it exists, else NULL (built-in defaults).
 */
const char *mtastsd_daemon_config_path(const char *arg);

/*! \return NULL when \p cfg can be served, else why not (cache types
 *  accepted only for compatibility). */
const char *mtastsd_daemon_unsupported(const struct mtastsd_config *cfg);

/*! Set up \p d; takes \p cfg (freed by cleanup, also on failure).
 *  \return 0 or -1 (logged). */
int mtastsd_daemon_init(struct mtastsd_daemon *d, struct mtastsd_log *lg,
                        const char *config_arg, struct mtastsd_config *cfg);

/*! Bind and listen per the config. \return 0 or -1 (logged). */
int mtastsd_daemon_listen(struct mtastsd_daemon *d);

/*! Create net, store, resolver; install signal handlers.
 *  \return 0 or -1 (logged). */
int mtastsd_daemon_start(struct mtastsd_daemon *d);

/*! Run until stopped. \return the exit status (0). */
int mtastsd_daemon_run(struct mtastsd_daemon *d);

/*! Release everything. Safe after a failed init or start. */
void mtastsd_daemon_cleanup(struct mtastsd_daemon *d);

/*! Send \p msg to systemd's $NOTIFY_SOCKET, if set (sd_notify(3) by
 *  hand: one datagram, no libsystemd). */
void mtastsd_daemon_notify(struct mtastsd_log *lg, const char *msg);

#endif /* MTASTSD_DAEMON_H */
