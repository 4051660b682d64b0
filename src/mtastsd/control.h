/*
 * control.h - mtastsd's control socket (`control_socket`): operator
 * commands for `mtasts cache list|show|purge|refresh` against the
 * running daemon.
 *
 * A UNIX stream socket, mode 0600, created after privileges are dropped
 * (so it belongs to the daemon's user); only that user and root can
 * connect. Each connection carries one command line (at most
 * CONTROL_LINE_MAX bytes, ended by LF or by the client's EOF) and gets
 * one JSON document followed by LF; then the daemon closes it. The
 * protocol is docs/internals/control.md.
 *
 *   list              every in-memory record (most recently used first)
 *   show DOMAIN       one record, with the policy's mx patterns
 *   purge DOMAIN      forget it in memory and in the store
 *   refresh DOMAIN    re-discover it now (TXT and fetch), in the background
 *   stats             the resolver's counters
 *
 * Ownership: the control server owns its socket and connections, and
 * the resolver is fetched through a callback at each command (NULL while
 * the daemon is starting or stopping: the reply is then an error). Loop
 * thread only.
 */
#ifndef MTASTSD_CONTROL_H
#define MTASTSD_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include <mtasts/sts_resolver.h>

#include "log.h"

#define CONTROL_LINE_MAX 1024
#define CONTROL_TIMEOUT_MS 10000
#define CONTROL_CONNS 16
/* A `list` of 10,000 records is about 4 MB of JSON; beyond this cap the
 * reply is an error (raise cache_size and this together). */
#define CONTROL_REPLY_MAX ((size_t)64 * 1024 * 1024)

/* The resolver to act on now, or NULL. */
typedef struct mts_sts_resolver *(*mtastsd_control_resolver_fn)(void *arg);

struct mtastsd_control;

/*!
 * Listen on \p path (stale socket replaced, mode 0600). \p ctx
 * (borrowed) gives the clock for "expired".
 * \return 0, or -1 with the reason logged (\p *out NULL).
 */
int mtastsd_control_create(uv_loop_t *loop, struct mtastsd_log *lg,
                           struct mts_ctx *ctx, const char *path,
                           mtastsd_control_resolver_fn fn, void *arg,
                           struct mtastsd_control **out);

/*!
 * Run one command line \p line (\p len bytes, without the LF) against
 * \p r (may be NULL) at time \p now. Pure apart from what the command
 * does to \p r.
 * \return the malloc'd JSON reply with a final LF (\p *out_len bytes),
 * or NULL when out of memory.
 */
char *mtastsd_control_run(struct mts_sts_resolver *r, int64_t now,
                          const char *line, size_t len, size_t *out_len);

/*! Close the socket (its file is removed) and every connection; frees
 *  itself once they are closed (run the loop). NULL is a no-op. */
void mtastsd_control_close(struct mtastsd_control *c);

#endif /* MTASTSD_CONTROL_H */
