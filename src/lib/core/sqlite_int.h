/*
 * sqlite_int.h - what the library's SQLite stores (the policy cache,
 * the report store, the outbound report aggregate) share: opening a
 * file with the same checks, pragmas and versioned schema, and
 * reporting SQLite errors the same way. Internal.
 *
 * Every message is "<name>: <path>: <what>[: <SQLite's message>]",
 * logged at ERR through the context.
 */
#ifndef MTS_SQLITE_INT_H
#define MTS_SQLITE_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <sqlite3.h>

#include "ctx_int.h"

/* A -wal or -shm file as the connection found it when it opened. */
struct mts_sqlite_aux {
  bool known;
  dev_t dev;
  ino_t ino;
};

/* One open database. The fields are for reading; open fills them. */
struct mts_sqlite {
  struct mts_ctx *ctx;
  const char *name; /* the log prefix: static text from the schema */
  char *path;       /* a copy */
  sqlite3 *db;      /* NULL after a loss whose new file would not open */
  const struct mts_sqlite_schema *sc;
  struct mts_sqlite_aux wal, shm; /* ours: only these are ever removed */
  int64_t retry_at; /* while db is NULL: when to try the path again */
};

/* What became of the file under an open connection. */
enum mts_sqlite_lost {
  MTS_SQLITE_KEPT,     /* still at its path, still a database */
  MTS_SQLITE_REMOVED,  /* unlinked: the connection holds the only copy */
  MTS_SQLITE_REPLACED, /* another file is at the path now */
  MTS_SQLITE_DAMAGED   /* truncated or its header overwritten in place */
};

/* What a store's file must hold. Static data of the store's module. */
struct mts_sqlite_schema {
  const char *name;       /* log prefix: "cache sqlite", "report store" */
  const char *kind;       /* what a foreign file is not: "an mtasts cache" */
  int32_t application_id; /* PRAGMA application_id: "this file is ours" */
  int version;            /* PRAGMA user_version of \p sql */
  const char *sql;        /* creates schema \p version in an empty file */
  int busy_timeout_ms;    /* how long to wait for another process's lock */
  /* Create a missing file 0600 (SQLite would make it 0644 less umask):
   * for stores whose rows are nobody else's business. */
  bool private_file;
  /* PRAGMA temp_store = MEMORY: temporary tables and indexes never go to
   * a file in the temp directory (mtastsd may write only its own
   * directories: src/mtastsd/sandbox.h). */
  bool temp_in_memory;
  /* Optional: fill a new file's first rows, inside the transaction
   * that creates the schema; logs its own failures. */
  enum mts_status (*init)(struct mts_sqlite *s);
};

/*
 * Open \p path read-write (creating it), refuse a world-writable file,
 * switch to WAL with synchronous=NORMAL, then check or create the
 * schema in one BEGIN IMMEDIATE transaction (which also proves the file
 * can be written). A file of another program (other application_id, or
 * tables without ours), a newer schema version, or a file that is not a
 * database is refused and left untouched.
 * \return MTS_OK with \p s filled; MTS_ENOMEM; MTS_EIO (logged). On
 * failure \p s holds nothing to release.
 */
MTS_WUR enum mts_status mts_sqlite_open(struct mts_sqlite *s,
                                        struct mts_ctx *ctx, const char *path,
                                        const struct mts_sqlite_schema *sc);
/* Close the connection (finalize the caller's statements first) and
 * free the path. A zeroed or failed \p s is a no-op. */
void mts_sqlite_close(struct mts_sqlite *s);

/*
 * Files changed under a running store (docs/decisions.md CACHE-STORE-8).
 * SQLite notices none of it by itself: writes go on into an unlinked
 * inode or into a file whose header is gone, and the next start finds
 * nothing.
 */

/* Is the open file still at the path, the same file, and a database?
 * SQLITE_FCNTL_HAS_MOVED, then the header read through SQLite's own
 * descriptor. Uses no context: any thread that owns the connection. A
 * failure to look is no verdict (SQLite reports real I/O errors). */
enum mts_sqlite_lost mts_sqlite_file_state(const struct mts_sqlite *s);
/* After the connection is closed: remove path-wal and path-shm if they
 * are still the files it opened. SQLite neither checkpoints nor deletes
 * the WAL of a moved file, and a new file at the path would replay it;
 * another process sharing the path may have made new ones, which stay. */
void mts_sqlite_unlink_aux(const struct mts_sqlite *s);
/* strerror() for any thread (strerror() itself is not thread-safe). */
struct mts_sqlite_errbuf {
  char s[128];
};
struct mts_sqlite_errbuf mts_sqlite_strerror(int e);
/* Rename \p path, then its -wal and -shm, to \p aside (+ suffix).
 * \return 0 or the errno of the main file's rename. No context. */
int mts_sqlite_set_aside(const char *path, const char *aside);
/*
 * For stores used from one thread: check the file and, when it was
 * lost, save what can be saved and open a new file at the path, with a
 * WARNING that says what happened. Removed: the connection still reads
 * the unlinked file, so its whole content is copied (VACUUM INTO) into
 * the new file. Replaced: the file now at the path is used and the old
 * content kept as <path>.replaced-<time>. Damaged: the file is moved to
 * <path>.damaged-<time> and a new one made. If the new file cannot be
 * opened, db stays NULL and every call fails (MTS_EIO) until a later
 * watch, at most every 10 s, opens it. The caller finalizes its own
 * statements first (mts_sqlite_file_state() tells it when).
 * \return MTS_OK when a usable connection is open.
 */
MTS_WUR enum mts_status mts_sqlite_recover(struct mts_sqlite *s,
                                           enum mts_sqlite_lost why);
/* mts_sqlite_file_state(), then mts_sqlite_recover() when it says so,
 * or the retry of a closed store: for stores that keep no statements. */
MTS_WUR enum mts_status mts_sqlite_watch(struct mts_sqlite *s);

/* Log "<what>: <SQLite's last message>" for \p s. */
void mts_sqlite_log(const struct mts_sqlite *s, const char *what);
/* The status for an SQLite result code: MTS_ENOMEM or MTS_EIO. */
enum mts_status mts_sqlite_status(int rc);
/* A failed call: log it (an out-of-memory is not logged, the caller
 * reports it) and \return mts_sqlite_status(rc). */
enum mts_status mts_sqlite_fail(const struct mts_sqlite *s, int rc,
                                const char *what);

/* Run SQL without results; a failure is logged with the SQL. */
MTS_WUR enum mts_status mts_sqlite_exec(const struct mts_sqlite *s,
                                        const char *sql);
/* BEGIN IMMEDIATE: take the write lock now, waiting up to the busy
 * timeout, rather than fail half-way through. */
MTS_WUR enum mts_status mts_sqlite_begin(const struct mts_sqlite *s);
/* End a transaction: COMMIT when \p st is MTS_OK, else (or when the
 * commit fails) ROLLBACK. \return \p st, or the commit's failure (a
 * caller that rolls back may ignore it). */
enum mts_status mts_sqlite_end(const struct mts_sqlite *s, enum mts_status st);
/* Prepare one statement; *q is NULL on failure (logged). */
MTS_WUR enum mts_status mts_sqlite_prepare(const struct mts_sqlite *s,
                                           const char *sql, sqlite3_stmt **q);
/* Step a statement for its effect: a row or the end is success. */
MTS_WUR enum mts_status mts_sqlite_step_done(const struct mts_sqlite *s,
                                             sqlite3_stmt *q, const char *what);
/* Bind text that must outlive the statement's step; NULL binds NULL. */
void mts_sqlite_bind_text(sqlite3_stmt *q, int i, const char *text);

#endif /* MTS_SQLITE_INT_H */
