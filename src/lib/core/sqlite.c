/*
 * sqlite.c - opening the library's SQLite stores; see sqlite_int.h.
 *
 * Why these settings (docs/internals/cache.md has the long form):
 *  - WAL with synchronous=NORMAL: a commit is in the kernel once its
 *    frames are written to the -wal file, so kill -9 of the process
 *    loses nothing committed; only an OS crash can drop the last
 *    transactions, never corrupting the file.
 *  - a busy timeout, so that two processes (the daemon and the CLI,
 *    two tlsrptd) can share a file by taking turns;
 *  - PRAGMA application_id marks the file as ours and PRAGMA
 *    user_version is its schema version. Version 1 is the first of each
 *    store: there is nothing to migrate from yet. A later version adds
 *    its steps to sl_schema, inside the same transaction.
 */
#include "sqlite_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void mts_sqlite_log(const struct mts_sqlite *s, const char *what) {
  mts_log(s->ctx, MTS_LOG_ERR, "%s: %.200s: %s: %s", s->name, s->path, what,
          sqlite3_errmsg(s->db));
}

enum mts_status mts_sqlite_status(int rc) {
  return (rc & 0xff) == SQLITE_NOMEM ? MTS_ENOMEM : MTS_EIO;
}

enum mts_status mts_sqlite_fail(const struct mts_sqlite *s, int rc,
                                const char *what) {
  if ((rc & 0xff) != SQLITE_NOMEM) {
    mts_sqlite_log(s, what);
  }
  return mts_sqlite_status(rc);
}

/* A store whose file was lost and not yet reopened (mts_sqlite_recover
 * logged why): fail without asking SQLite about a NULL handle. */
static bool sl_closed(const struct mts_sqlite *s) {
  if (s->db != NULL) {
    return false;
  }
  mts_log(s->ctx, MTS_LOG_ERR, "%s: %.200s: no usable file (see above)",
          s->name, s->path);
  return true;
}

enum mts_status mts_sqlite_exec(const struct mts_sqlite *s, const char *sql) {
  int rc;

  if (sl_closed(s)) {
    return MTS_EIO;
  }
  rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

  return rc == SQLITE_OK ? MTS_OK : mts_sqlite_fail(s, rc, sql);
}

enum mts_status mts_sqlite_begin(const struct mts_sqlite *s) {
  int rc;

  if (sl_closed(s)) {
    return MTS_EIO;
  }
  rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);

  return rc == SQLITE_OK ? MTS_OK
                         : mts_sqlite_fail(s, rc, "cannot begin a transaction");
}

enum mts_status mts_sqlite_end(const struct mts_sqlite *s, enum mts_status st) {
  if (st == MTS_OK) {
    int rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);

    if (rc == SQLITE_OK) {
      return MTS_OK;
    }
    st = mts_sqlite_fail(s, rc, "cannot commit");
  }
  /* Also after a failed COMMIT: the transaction may still be open. */
  (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
  return st;
}

enum mts_status mts_sqlite_prepare(const struct mts_sqlite *s, const char *sql,
                                   sqlite3_stmt **q) {
  int rc;

  if (sl_closed(s)) {
    *q = NULL;
    return MTS_EIO;
  }
  rc = sqlite3_prepare_v2(s->db, sql, -1, q, NULL);
  if (rc != SQLITE_OK) {
    *q = NULL;
    return mts_sqlite_fail(s, rc, "prepare");
  }
  return MTS_OK;
}

enum mts_status mts_sqlite_step_done(const struct mts_sqlite *s,
                                     sqlite3_stmt *q, const char *what) {
  int rc = sqlite3_step(q);

  return rc == SQLITE_DONE || rc == SQLITE_ROW ? MTS_OK
                                               : mts_sqlite_fail(s, rc, what);
}

void mts_sqlite_bind_text(sqlite3_stmt *q, int i, const char *text) {
  if (text != NULL) {
    (void)sqlite3_bind_text(q, i, text, -1, SQLITE_STATIC);
  } else {
    (void)sqlite3_bind_null(q, i);
  }
}

/* ---- open ---- */

/* Run one statement returning one integer (a PRAGMA, a count). */
static int sl_int_query(sqlite3 *db, const char *sql, int64_t *out) {
  sqlite3_stmt *q = NULL;
  int rc = sqlite3_prepare_v2(db, sql, -1, &q, NULL);

  if (rc == SQLITE_OK) {
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
      *out = sqlite3_column_int64(q, 0);
      rc = SQLITE_OK;
    }
  }
  (void)sqlite3_finalize(q);
  return rc;
}

/* Create version sc->version in an empty file. */
static enum mts_status sl_create(struct mts_sqlite *s,
                                 const struct mts_sqlite_schema *sc) {
  char sql[128];

  (void)snprintf(sql, sizeof(sql),
                 "PRAGMA application_id = %ld; PRAGMA user_version = %d;",
                 (long)sc->application_id, sc->version);
  if (sqlite3_exec(s->db, sc->sql, NULL, NULL, NULL) != SQLITE_OK ||
      sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
    mts_sqlite_log(s, "cannot create the schema");
    return mts_sqlite_status(sqlite3_errcode(s->db));
  }
  return sc->init != NULL ? sc->init(s) : MTS_OK;
}

/* Check or create the schema inside one write transaction (which also
 * proves the file and its directory are writable). */
static enum mts_status sl_schema(struct mts_sqlite *s,
                                 const struct mts_sqlite_schema *sc) {
  int64_t version = 0, appid = 0, ntables = 0;
  enum mts_status st = MTS_EIO;

  if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
    mts_sqlite_log(s, "cannot write");
    return mts_sqlite_status(sqlite3_errcode(s->db));
  }
  if (sl_int_query(s->db, "PRAGMA user_version", &version) != SQLITE_OK ||
      sl_int_query(s->db, "PRAGMA application_id", &appid) != SQLITE_OK ||
      sl_int_query(s->db, "SELECT count(*) FROM sqlite_master", &ntables) !=
          SQLITE_OK) {
    mts_sqlite_log(s, "cannot read the schema");
    st = mts_sqlite_status(sqlite3_errcode(s->db));
    goto fail;
  }
  if (appid != sc->application_id && (appid != 0 || ntables != 0)) {
    mts_log(s->ctx, MTS_LOG_ERR,
            "%s: %.200s: not %s (application_id %lld, %lld tables); "
            "refusing to touch it",
            s->name, s->path, sc->kind, (long long)appid, (long long)ntables);
    goto fail;
  }
  if (version > sc->version) {
    mts_log(s->ctx, MTS_LOG_ERR,
            "%s: %.200s: schema version %lld is newer than this mtasts "
            "knows (%d); refusing to use it",
            s->name, s->path, (long long)version, sc->version);
    goto fail;
  }
  if (version == 0) {
    st = sl_create(s, sc);
    if (st != MTS_OK) {
      goto fail;
    }
  }
  if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
    mts_sqlite_log(s, "cannot commit the schema");
    st = mts_sqlite_status(sqlite3_errcode(s->db));
    goto fail;
  }
  return MTS_OK;
fail:
  (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
  return st;
}

/* WAL and synchronous=NORMAL (see the top of the file). */
/* SQLite's in-memory (":memory:") or temporary ("") database: no file
 * of ours to check, and no WAL. */
static bool sl_no_file(const char *path) {
  return path[0] == '\0' || strcmp(path, ":memory:") == 0;
}

static enum mts_status sl_journal(struct mts_sqlite *s) {
  sqlite3_stmt *q = NULL;
  const unsigned char *mode;
  enum mts_status st = MTS_OK;

  /* The first statement reads the header: a file that is not a database
   * fails here with "file is not a database". */
  if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &q, NULL) !=
          SQLITE_OK ||
      sqlite3_step(q) != SQLITE_ROW) {
    mts_sqlite_log(s, "cannot read it as an SQLite database");
    st = mts_sqlite_status(sqlite3_errcode(s->db));
    goto done;
  }
  mode = sqlite3_column_text(q, 0);
  if ((mode == NULL || strcmp((const char *)mode, "wal") != 0) &&
      !sl_no_file(s->path)) {
    mts_log(s->ctx, MTS_LOG_WARNING, "%s: %.200s: journal mode is %s, not wal",
            s->name, s->path, mode != NULL ? (const char *)mode : "?");
  }
  (void)sqlite3_finalize(q); /* no statement may stay open over COMMIT */
  q = NULL;
  if (sqlite3_exec(s->db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL) !=
      SQLITE_OK) {
    mts_sqlite_log(s, "cannot set synchronous");
    st = mts_sqlite_status(sqlite3_errcode(s->db));
  } else if (s->sc->temp_in_memory &&
             sqlite3_exec(s->db, "PRAGMA temp_store = MEMORY", NULL, NULL,
                          NULL) != SQLITE_OK) {
    mts_sqlite_log(s, "cannot set temp_store");
    st = mts_sqlite_status(sqlite3_errcode(s->db));
  }
done:
  (void)sqlite3_finalize(q);
  return st;
}

/* Refuse a file anyone may write: a local user could plant rows (a
 * policy sending mail to their MX, forged reports making a domain look
 * ready to enforce; docs/security.md), as OpenSMTPD refuses loose key
 * files. A missing file is created 0600 if the store asks. */
static enum mts_status sl_file(struct mts_sqlite *s,
                               const struct mts_sqlite_schema *sc) {
  struct stat sb;
  int fd;

  if (sl_no_file(s->path)) {
    return MTS_OK;
  }
  if (stat(s->path, &sb) == 0) {
    if ((sb.st_mode & S_IWOTH) != 0) {
      mts_log(s->ctx, MTS_LOG_ERR,
              "%s: %.200s: refused: the file is world-writable (chmod o-w "
              "it)",
              s->name, s->path);
      return MTS_EIO;
    }
    return MTS_OK;
  }
  if (errno == ENOENT && sc->private_file) {
    /* Failing here is SQLite's to report, with its message. */
    fd = open(s->path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0) {
      (void)close(fd);
    }
  }
  return MTS_OK;
}

void mts_sqlite_close(struct mts_sqlite *s) {
  if (s == NULL) {
    return;
  }
  /* The last connection to close checkpoints the WAL into the file. */
  (void)sqlite3_close(s->db);
  s->db = NULL;
  if (s->path != NULL) {
    mts_free(s->ctx, s->path);
    s->path = NULL;
  }
}

/* The longest path + suffix handled; longer ones are not touched. */
#define SL_PATH_MAX 4096

/* \p path + \p sfx into \p buf (SL_PATH_MAX); false when too long. */
static bool sl_join(char *buf, const char *path, const char *sfx) {
  int n = snprintf(buf, SL_PATH_MAX, "%s%s", path, sfx);

  return n >= 0 && n < SL_PATH_MAX;
}

/* Remember which file \p s->path + \p sfx is now (the connection's). */
static void sl_aux_note(const struct mts_sqlite *s, struct mts_sqlite_aux *x,
                        const char *sfx) {
  char a[SL_PATH_MAX];
  struct stat sb;

  x->known = sl_join(a, s->path, sfx) && stat(a, &sb) == 0;
  if (x->known) {
    x->dev = sb.st_dev;
    x->ino = sb.st_ino;
  }
}

/* Open the connection at s->path (ctx, name, path and sc set) and check
 * the file; on failure no connection is left. */
static enum mts_status sl_connect(struct mts_sqlite *s) {
  enum mts_status st;

  st = sl_file(s, s->sc);
  if (st != MTS_OK) {
    return st;
  }
  if (sqlite3_open_v2(s->path, &s->db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                      NULL) != SQLITE_OK) {
    if (s->db == NULL) {
      mts_log(s->ctx, MTS_LOG_ERR, "%s: %.200s: cannot open", s->name, s->path);
      st = MTS_ENOMEM;
    } else {
      mts_sqlite_log(s, "cannot open");
      st = MTS_EIO;
    }
    goto fail;
  }
  /* Plain result codes: callers compare with SQLITE_DONE and friends. */
  (void)sqlite3_extended_result_codes(s->db, 0);
  (void)sqlite3_busy_timeout(s->db, s->sc->busy_timeout_ms);
  st = sl_journal(s);
  if (st == MTS_OK) {
    st = sl_schema(s, s->sc);
  }
  if (st == MTS_OK) {
    /* WAL mode made both when the schema transaction ran. */
    sl_aux_note(s, &s->wal, "-wal");
    sl_aux_note(s, &s->shm, "-shm");
    return MTS_OK;
  }
fail:
  (void)sqlite3_close(s->db);
  s->db = NULL;
  return st;
}

enum mts_status mts_sqlite_open(struct mts_sqlite *s, struct mts_ctx *ctx,
                                const char *path,
                                const struct mts_sqlite_schema *sc) {
  enum mts_status st;

  memset(s, 0, sizeof(*s));
  s->ctx = ctx;
  s->name = sc->name;
  s->sc = sc;
  s->path = mts_strdup(ctx, path);
  if (s->path == NULL) {
    return MTS_ENOMEM;
  }
  st = sl_connect(s);
  if (st != MTS_OK) {
    mts_sqlite_close(s);
  }
  return st;
}

/* ---- the file changed under the connection ---- */

struct mts_sqlite_errbuf mts_sqlite_strerror(int e) {
  struct mts_sqlite_errbuf b;

  if (strerror_r(e, b.s, sizeof(b.s)) != 0) {
    (void)snprintf(b.s, sizeof(b.s), "errno %d", e);
  }
  return b;
}

enum mts_sqlite_lost mts_sqlite_file_state(const struct mts_sqlite *s) {
  static const char magic[16] = "SQLite format 3"; /* and its NUL */
  sqlite3_file *f = NULL;
  struct stat sb;
  char hdr[sizeof(magic)];
  int moved = 0, rc;

  if (sqlite3_file_control(s->db, "main", SQLITE_FCNTL_HAS_MOVED, &moved) ==
          SQLITE_OK &&
      moved) {
    return stat(s->path, &sb) != 0 && errno == ENOENT ? MTS_SQLITE_REMOVED
                                                      : MTS_SQLITE_REPLACED;
  }
  if (sqlite3_file_control(s->db, "main", SQLITE_FCNTL_FILE_POINTER, &f) !=
          SQLITE_OK ||
      f == NULL || f->pMethods == NULL) {
    return MTS_SQLITE_KEPT;
  }
  rc = f->pMethods->xRead(f, hdr, (int)sizeof(hdr), 0);
  if ((rc & 0xff) == SQLITE_IOERR && rc != SQLITE_IOERR_SHORT_READ) {
    return MTS_SQLITE_KEPT;
  }
  /* A short read fills the rest with zeros: truncated. */
  return memcmp(hdr, magic, sizeof(magic)) == 0 ? MTS_SQLITE_KEPT
                                                : MTS_SQLITE_DAMAGED;
}

/* Remove s->path + \p sfx if it is still the file \p x noted. */
static void sl_unlink_ours(const struct mts_sqlite *s, const char *sfx,
                           const struct mts_sqlite_aux *x) {
  char a[SL_PATH_MAX];
  struct stat sb;

  if (x->known && sl_join(a, s->path, sfx) && stat(a, &sb) == 0 &&
      sb.st_dev == x->dev && sb.st_ino == x->ino) {
    (void)unlink(a);
  }
}

void mts_sqlite_unlink_aux(const struct mts_sqlite *s) {
  sl_unlink_ours(s, "-wal", &s->wal);
  sl_unlink_ours(s, "-shm", &s->shm);
}

/* Rename \p from + \p sfx to \p to + \p sfx; \return 0 or errno. */
static int sl_rename(const char *from, const char *to, const char *sfx) {
  char a[SL_PATH_MAX], b[SL_PATH_MAX];

  if (!sl_join(a, from, sfx) || !sl_join(b, to, sfx)) {
    return ENAMETOOLONG;
  }
  return rename(a, b) == 0 ? 0 : errno;
}

int mts_sqlite_set_aside(const char *path, const char *aside) {
  int e = sl_rename(path, aside, "");

  if (e == 0) {
    (void)sl_rename(path, aside, "-wal");
    (void)sl_rename(path, aside, "-shm");
  }
  return e;
}

/* Copy the whole database, as this connection sees it, into the new
 * file \p to (which must not exist). */
static bool sl_vacuum_into(const struct mts_sqlite *s, const char *to) {
  sqlite3_stmt *q = NULL;
  int rc, fd;

  /* VACUUM INTO accepts an empty file: made here with the store's mode. */
  fd = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
            s->sc->private_file ? 0600 : 0644);
  if (fd < 0) {
    mts_log(s->ctx, MTS_LOG_ERR, "%s: %.200s: cannot create %.200s: %s",
            s->name, s->path, to, mts_sqlite_strerror(errno).s);
    return false;
  }
  (void)close(fd);
  rc = sqlite3_prepare_v2(s->db, "VACUUM INTO ?1", -1, &q, NULL);
  if (rc == SQLITE_OK) {
    (void)sqlite3_bind_text(q, 1, to, -1, SQLITE_STATIC);
    rc = sqlite3_step(q);
  }
  (void)sqlite3_finalize(q);
  if (rc != SQLITE_DONE && rc != SQLITE_OK) {
    mts_sqlite_log(s, "cannot copy the lost file");
    (void)unlink(to);
    return false;
  }
  return true;
}

/* Open the path again after a loss; on failure wait before the next
 * try (each logs why). */
static enum mts_status sl_reconnect(struct mts_sqlite *s) {
  enum mts_status st = sl_connect(s);

  if (st != MTS_OK) {
    s->retry_at = mts_ctx_now(s->ctx) + 10;
    mts_log(s->ctx, MTS_LOG_ERR,
            "%s: %.200s: no usable file; writes fail until it can be "
            "opened (tried again in 10 s at the earliest)",
            s->name, s->path);
  }
  return st;
}

enum mts_status mts_sqlite_recover(struct mts_sqlite *s,
                                   enum mts_sqlite_lost why) {
  char keep[SL_PATH_MAX], sfx[64];
  long long now = (long long)mts_ctx_now(s->ctx);
  bool kept = false, restored = false;
  int e = 0;

  if (s->db == NULL || why == MTS_SQLITE_KEPT) {
    return s->db != NULL ? MTS_OK : MTS_EIO;
  }
  switch (why) {
  case MTS_SQLITE_REMOVED:
    /* The unlinked file is still readable through the connection. */
    /* The pid: two processes sharing the file may both get here. */
    (void)snprintf(sfx, sizeof(sfx), ".rescue-%lld-%ld", now, (long)getpid());
    kept = sl_join(keep, s->path, sfx) && sl_vacuum_into(s, keep);
    break;
  case MTS_SQLITE_REPLACED:
    (void)snprintf(sfx, sizeof(sfx), ".replaced-%lld", now);
    kept = sl_join(keep, s->path, sfx) && sl_vacuum_into(s, keep);
    break;
  default:
    (void)snprintf(sfx, sizeof(sfx), ".damaged-%lld", now);
    e = sl_join(keep, s->path, sfx) ? mts_sqlite_set_aside(s->path, keep)
                                    : ENAMETOOLONG;
    kept = e == 0;
    break;
  }
  (void)sqlite3_close(s->db);
  s->db = NULL;
  if (why != MTS_SQLITE_DAMAGED) {
    mts_sqlite_unlink_aux(s);
  }
  if (why == MTS_SQLITE_REMOVED && kept) {
    /* link(), not rename(): a file someone made at the path meanwhile
     * is theirs and stays. */
    restored = link(keep, s->path) == 0;
    if (restored) {
      (void)unlink(keep);
    }
  }
  switch (why) {
  case MTS_SQLITE_REMOVED:
    if (restored) {
      mts_log(s->ctx, MTS_LOG_WARNING,
              "%s: %.200s: the file was removed under us; all it held is "
              "copied into a new file at the path",
              s->name, s->path);
    } else if (kept) {
      mts_log(s->ctx, MTS_LOG_WARNING,
              "%s: %.200s: the file was removed under us; a new file is "
              "there already, what the old one held is kept in %.200s",
              s->name, s->path, keep);
    } else {
      mts_log(s->ctx, MTS_LOG_WARNING,
              "%s: %.200s: the file was removed under us; what it held is "
              "lost",
              s->name, s->path);
    }
    break;
  case MTS_SQLITE_REPLACED:
    if (kept) {
      mts_log(s->ctx, MTS_LOG_WARNING,
              "%s: %.200s: the file was replaced by another; using the new "
              "one, what the old one held is kept in %.200s",
              s->name, s->path, keep);
    } else {
      mts_log(s->ctx, MTS_LOG_WARNING,
              "%s: %.200s: the file was replaced by another; using the new "
              "one, what the old one held is lost",
              s->name, s->path);
    }
    break;
  default:
    if (kept) {
      mts_log(s->ctx, MTS_LOG_WARNING,
              "%s: %.200s: the file is damaged (truncated or overwritten); "
              "moved to %.200s, making a new one",
              s->name, s->path, keep);
    } else {
      mts_log(s->ctx, MTS_LOG_ERR,
              "%s: %.200s: the file is damaged (truncated or overwritten) "
              "and cannot be moved aside: %s",
              s->name, s->path, mts_sqlite_strerror(e).s);
      s->retry_at = mts_ctx_now(s->ctx) + 10;
      return MTS_EIO; /* a new file at a damaged path would fail too */
    }
    break;
  }
  return sl_reconnect(s);
}

enum mts_status mts_sqlite_watch(struct mts_sqlite *s) {
  if (s->db == NULL) {
    if (mts_ctx_now(s->ctx) < s->retry_at) {
      return MTS_EIO;
    }
    return sl_reconnect(s);
  }
  return mts_sqlite_recover(s, mts_sqlite_file_state(s));
}
