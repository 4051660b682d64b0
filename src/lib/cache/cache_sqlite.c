/*
 * cache_sqlite.c - the embedded policy store (mts_cache_sqlite_create).
 *
 * Threading: one SQLite connection, opened and checked synchronously in
 * create (startup: the caller wants a clear yes or no), then owned by
 * one worker thread. The loop thread queues jobs under a mutex; the
 * worker runs them in order and posts them back with a uv_async_t, whose
 * callback runs the user callbacks on the loop thread. So callbacks are
 * never re-entrant, and puts to one domain apply in call order.
 *
 * The worker never touches the context (common.h: one thread at a time;
 * the test allocator is not thread-safe): every job is allocated on the
 * loop thread with room for its result, and the worker leaves log text
 * in the job for the loop thread to log.
 *
 * Durability (docs/internals/cache.md): WAL with synchronous=NORMAL. A
 * transaction is committed when its frames are written to the -wal file;
 * that write() is in the kernel once it returns, so kill -9 of the
 * process loses nothing committed. Only an OS crash or power loss can
 * lose the last transactions (never corrupting the file); FULL would fsync
 * on every commit to cover that, which a re-fetchable cache does not need.
 * A callback reports MTS_OK only after the COMMIT.
 *
 * Schema: PRAGMA application_id marks the file as ours, PRAGMA
 * user_version is the schema version (1); core/sqlite.c opens and checks
 * the file as it does the report stores'. A newer version, a foreign
 * database, a file that is not a database or cannot be written all make
 * create fail with MTS_EIO and a logged reason; the daemon then serves
 * from memory only.
 *
 * The file under a running store (docs/reliability.md): SQLite keeps
 * its descriptor and its page cache, so a file removed, replaced,
 * truncated or overwritten goes unnoticed, writes land in an unlinked
 * inode or a hole, and the next start finds nothing or garbage. The
 * worker looks before every write and at every check job (a timer,
 * every SQ_CHECK_S): SQLITE_FCNTL_HAS_MOVED for a removed or replaced
 * file, the first 16 bytes (read through SQLite's own descriptor:
 * opening and closing one of ours would drop SQLite's POSIX locks) for
 * a truncated or overwritten one, and any "malformed" or "not a
 * database" result. It then closes the connection (it is the only
 * thread using it) and renames a damaged file aside; while closed it
 * fails every job at once without touching the connection. The loop
 * thread, delivering that job, makes a new file (sq_reopen: the same
 * synchronous open as create, a few milliseconds, once per fault),
 * reopens the worker under the mutex, and runs the reset callback so
 * the owner writes back what it holds.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "cache/cache_int.h"
#include "cache/cache_record_int.h"
#include "core/ctx_int.h"
#include "core/sqlite_int.h"

#define SQ_SCHEMA_VERSION 1
#define SQ_APPLICATION_ID 0x4d545354 /* "MTST" */
#define SQ_BUSY_TIMEOUT_MS 5000
/* A scan hands records to the loop a page at a time; a page always has
 * room for at least one record of the largest size. */
#define SQ_PAGE_SIZE (256 * 1024)
#define SQ_ERR_MAX 512
/* How often the worker looks at a file that sees no writes; a file
 * that cannot be opened is tried again after SQ_CHECK_S, doubling up to
 * SQ_RETRY_MAX_S (each failure is logged: about 12 lines an hour). */
#define SQ_CHECK_S 10
#define SQ_RETRY_MAX_S 300

enum sq_op { SQ_GET, SQ_PUT, SQ_DEL, SQ_SCAN, SQ_CHECK };

/* What happened to the file under the store. */

struct sq_job {
  struct sq_job *next;
  enum sq_op op;
  enum mts_status st;
  mts_cache_get_cb get_cb;
  mts_cache_done_cb done_cb;
  mts_cache_each_cb each_cb;
  void *arg;
  /* get/del: the key; scan: the last domain read ("" at the start). */
  char domain[MTS_DOMAIN_MAX + 1];
  bool scan_more;    /* scan: rows may follow this page */
  enum mts_sqlite_lost lost; /* the worker found the file gone and closed it */
  bool damaged;      /* SQLite said "malformed" or "not a database" */
  unsigned skipped;  /* rows that failed the check */
  char err[SQ_ERR_MAX]; /* worker's message for the loop thread */
  size_t cap;        /* of buf */
  size_t len;        /* used in buf */
  uint8_t *buf;      /* put: the encoded record; get: the result;
                        scan: records, each as u32 length + encoding */
};

struct cache_sqlite {
  struct mts_cache base;
  char *path;          /* ours; sql.path is the open connection's copy */
  /* The connection and its statements: the worker's while !closed, the
   * loop thread's (sq_reopen) while closed. */
  struct mts_sqlite sql;
  sqlite3_stmt *q_get, *q_put, *q_del, *q_scan;
  uv_thread_t thread;
  uv_mutex_t mu;
  uv_cond_t cv;
  uv_async_t async;
  uv_timer_t check_timer;
  /* under mu */
  struct sq_job *todo_head, *todo_tail;
  struct sq_job *done_head, *done_tail;
  bool stop;
  bool closed;         /* the file was lost: no connection */
  /* loop thread only */
  size_t pending;      /* jobs queued and not yet delivered */
  unsigned handles;    /* open uv handles (async, timer) */
  bool check_queued;   /* a check job is on its way */
  bool reopen_failing; /* the last sq_reopen failed */
  unsigned retry_s;    /* the wait after it */
  uint64_t retry_at;   /* uv_now() of the next try */
  bool delivering;     /* inside the async callback */
  bool closing;        /* destroy was called */
};

static const char sq_sql_schema[] =
    "CREATE TABLE policies ("
    " domain TEXT PRIMARY KEY NOT NULL,"
    " has_policy INTEGER NOT NULL,"
    " id TEXT NOT NULL,"
    " mode TEXT NOT NULL,"
    " max_age INTEGER NOT NULL,"
    " fetched_at INTEGER NOT NULL,"
    " failed_id TEXT NOT NULL,"
    " failed_at INTEGER NOT NULL,"
    " body BLOB,"
    " updated_at INTEGER NOT NULL"
    ") WITHOUT ROWID;";

#define SQ_COLS                                                               \
  "domain, has_policy, id, mode, max_age, fetched_at, failed_id, failed_at, " \
  "body, updated_at"

static const struct mts_sqlite_schema sq_schema = {
    .name = "cache sqlite",
    .kind = "an mtasts cache",
    .application_id = SQ_APPLICATION_ID,
    .version = SQ_SCHEMA_VERSION,
    .sql = sq_sql_schema,
    .busy_timeout_ms = SQ_BUSY_TIMEOUT_MS,
    .temp_in_memory = true,
};

/* Finalize the statements and close the connection; the path copy
 * stays (no context: the worker calls this). */
static void sq_close_db(struct cache_sqlite *s) {
  (void)sqlite3_finalize(s->q_get);
  (void)sqlite3_finalize(s->q_put);
  (void)sqlite3_finalize(s->q_del);
  (void)sqlite3_finalize(s->q_scan);
  s->q_get = s->q_put = s->q_del = s->q_scan = NULL;
  (void)sqlite3_close(s->sql.db);
  s->sql.db = NULL;
}

/* Open and check the file, then prepare the worker's statements (loop
 * thread, while the worker has no connection). On failure nothing is
 * left open. */
static enum mts_status sq_open(struct cache_sqlite *s) {
  sqlite3 *db;
  enum mts_status st;

  st = mts_sqlite_open(&s->sql, s->base.ctx, s->path, &sq_schema);
  if (st != MTS_OK) {
    return st;
  }
  db = s->sql.db;
  if (sqlite3_prepare_v2(db,
                         "SELECT " SQ_COLS " FROM policies WHERE domain = ?1",
                         -1, &s->q_get, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(db,
                         "INSERT OR REPLACE INTO policies (" SQ_COLS
                         ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                         -1, &s->q_put, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(db, "DELETE FROM policies WHERE domain = ?1", -1,
                         &s->q_del, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(db,
                         "SELECT " SQ_COLS " FROM policies WHERE domain > ?1 "
                         "ORDER BY domain",
                         -1, &s->q_scan, NULL) != SQLITE_OK) {
    mts_sqlite_log(&s->sql, "cannot prepare statements (damaged schema?)");
    sq_close_db(s);
    mts_sqlite_close(&s->sql);
    return MTS_EIO;
  }
  return MTS_OK;
}

/* ---- worker thread: no ctx, no log, no allocation of ours ---- */

static enum mts_status sq_rc_status(int rc) {
  switch (rc & 0xff) {
  case SQLITE_OK:
  case SQLITE_DONE:
  case SQLITE_ROW:
    return MTS_OK;
  case SQLITE_BUSY:
  case SQLITE_LOCKED:
    return MTS_EUNAVAIL;
  case SQLITE_NOMEM:
    return MTS_ENOMEM;
  default:
    return MTS_EIO;
  }
}

/* A result that says the file under us is no database any more. */
static bool sq_rc_damaged(int rc) {
  return (rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB;
}

static void sq_job_err(struct cache_sqlite *s, struct sq_job *j,
                       const char *what) {
  (void)snprintf(j->err, sizeof(j->err), "%s: %s", what,
                 sqlite3_errmsg(s->sql.db));
  j->damaged = sq_rc_damaged(sqlite3_errcode(s->sql.db));
}

/* The file was lost under job \p j (worker thread): close the
 * connection, move a damaged file aside with its -wal and -shm (a new
 * file must not meet the old WAL), and say so in the job. */
static void sq_lose(struct cache_sqlite *s, struct sq_job *j,
                    enum mts_sqlite_lost why) {
  char aside[4096];
  size_t n = strlen(j->err);
  int e = ENAMETOOLONG;

  sq_close_db(s);
  if (why != MTS_SQLITE_DAMAGED) {
    /* SQLite neither checkpoints nor deletes the WAL of a file that has
     * moved: left there, it would be replayed into the next file at the
     * path (seen: the old rows in the file that replaced it). */
    mts_sqlite_unlink_aux(&s->sql);
  }
  j->lost = why;
  if (j->st == MTS_OK) {
    j->st = MTS_EIO;
  }
  if (n > 0 && n < sizeof(j->err) - 2) {
    memcpy(j->err + n, "; ", 3);
    n += 2;
  }
  switch (why) {
  case MTS_SQLITE_REMOVED:
    (void)snprintf(j->err + n, sizeof(j->err) - n, "the file was removed");
    break;
  case MTS_SQLITE_REPLACED:
    (void)snprintf(j->err + n, sizeof(j->err) - n,
                   "the file was replaced by another");
    break;
  default:
    if (snprintf(aside, sizeof(aside), "%s.damaged-%lld", s->path,
                 (long long)time(NULL)) >= (int)sizeof(aside) ||
        (e = mts_sqlite_set_aside(s->path, aside)) != 0) {
      (void)snprintf(j->err + n, sizeof(j->err) - n,
                     "the file is damaged (truncated or overwritten) and "
                     "cannot be moved aside: %s",
                     mts_sqlite_strerror(e).s);
      break;
    }
    (void)snprintf(j->err + n, sizeof(j->err) - n,
                   "the file is damaged (truncated or overwritten); moved "
                   "to %.200s",
                   aside);
    break;
  }
}

/* Read the current row of \p q into \p rec (borrowing from the
 * statement) and check it. \return NULL or why it was refused. */
static const char *sq_row(sqlite3_stmt *q, struct mts_cache_record *rec) {
  static const uint8_t empty[1] = {0};
  const char *why = NULL;
  const unsigned char *t;
  int n, i;

  memset(rec, 0, sizeof(*rec));
  mts_sts_entry_init(&rec->entry);
  for (i = 0; i < 10; i++) {
    int type = sqlite3_column_type(q, i);
    bool want_int = i == 1 || i == 4 || i == 5 || i == 7 || i == 9;

    if (i == 8 ? (type != SQLITE_NULL && type != SQLITE_BLOB)
               : want_int ? type != SQLITE_INTEGER
                          : type != SQLITE_TEXT) {
      return "column of the wrong type";
    }
  }
  t = sqlite3_column_text(q, 0);
  n = sqlite3_column_bytes(q, 0);
  if (t == NULL || !mts_cache_record_domain_ok((const char *)t, (size_t)n)) {
    return "bad domain";
  }
  rec->domain = (const char *)t;
  if (sqlite3_column_int64(q, 1) != 0 && sqlite3_column_int64(q, 1) != 1) {
    return "bad has_policy";
  }
  rec->entry.has_policy = sqlite3_column_int64(q, 1) == 1;
  t = sqlite3_column_text(q, 2);
  n = sqlite3_column_bytes(q, 2);
  if (t == NULL || !mts_cache_record_id_ok((const char *)t, (size_t)n)) {
    return "bad id";
  }
  memcpy(rec->entry.id, t, (size_t)n);
  rec->entry.id[n] = '\0';
  t = sqlite3_column_text(q, 3);
  n = sqlite3_column_bytes(q, 3);
  if (t == NULL || !mts_cache_record_mode_parse(t, (size_t)n, &rec->entry.mode)) {
    return "bad mode";
  }
  rec->entry.max_age = sqlite3_column_int64(q, 4);
  rec->entry.fetched_at = sqlite3_column_int64(q, 5);
  t = sqlite3_column_text(q, 6);
  n = sqlite3_column_bytes(q, 6);
  if (t == NULL || !mts_cache_record_id_ok((const char *)t, (size_t)n)) {
    return "bad failed_id";
  }
  memcpy(rec->entry.failed_id, t, (size_t)n);
  rec->entry.failed_id[n] = '\0';
  rec->entry.failed_at = sqlite3_column_int64(q, 7);
  if (sqlite3_column_type(q, 8) == SQLITE_BLOB) {
    n = sqlite3_column_bytes(q, 8);
    if (n > MTS_POLICY_MAX_SIZE) {
      return "body too large";
    }
    rec->body = sqlite3_column_blob(q, 8);
    rec->body_len = (size_t)n;
    if (rec->body == NULL) {
      rec->body = empty; /* a zero-length blob */
    }
  }
  rec->updated_at = sqlite3_column_int64(q, 9);
  (void)mts_cache_record_check(rec, &why);
  return why;
}

static void sq_run_get(struct cache_sqlite *s, struct sq_job *j) {
  struct mts_cache_record rec;
  sqlite3_stmt *q = s->q_get;
  const char *why;
  int rc;

  (void)sqlite3_bind_text(q, 1, j->domain, -1, SQLITE_STATIC);
  rc = sqlite3_step(q);
  if (rc == SQLITE_DONE) {
    j->st = MTS_ENOTFOUND;
  } else if (rc != SQLITE_ROW) {
    j->st = sq_rc_status(rc);
    sq_job_err(s, j, "get");
  } else if ((why = sq_row(q, &rec)) != NULL) {
    /* A damaged row is a miss: the caller fetches and overwrites it. */
    j->st = MTS_ENOTFOUND;
    j->skipped = 1;
    (void)snprintf(j->err, sizeof(j->err), "row %.100s ignored: %s", j->domain,
                   why);
  } else {
    j->st = mts_cache_record_encode(&rec, j->buf, j->cap, &j->len);
  }
  (void)sqlite3_reset(q);
  (void)sqlite3_clear_bindings(q);
}

static void sq_run_put(struct cache_sqlite *s, struct sq_job *j) {
  struct mts_cache_record rec;
  sqlite3_stmt *q = s->q_put;
  int rc;

  j->st = mts_cache_record_decode(j->buf, j->len, &rec, NULL);
  if (j->st != MTS_OK) {
    j->st = MTS_EINTERNAL; /* encoded by us a moment ago */
    return;
  }
  (void)sqlite3_bind_text(q, 1, rec.domain, -1, SQLITE_STATIC);
  (void)sqlite3_bind_int(q, 2, rec.entry.has_policy ? 1 : 0);
  (void)sqlite3_bind_text(q, 3, rec.entry.id, -1, SQLITE_STATIC);
  (void)sqlite3_bind_text(q, 4, mts_sts_mode_str(rec.entry.mode), -1,
                          SQLITE_STATIC);
  (void)sqlite3_bind_int64(q, 5, rec.entry.max_age);
  (void)sqlite3_bind_int64(q, 6, rec.entry.fetched_at);
  (void)sqlite3_bind_text(q, 7, rec.entry.failed_id, -1, SQLITE_STATIC);
  (void)sqlite3_bind_int64(q, 8, rec.entry.failed_at);
  if (rec.body != NULL) {
    (void)sqlite3_bind_blob(q, 9, rec.body, (int)rec.body_len, SQLITE_STATIC);
  } else {
    (void)sqlite3_bind_null(q, 9);
  }
  (void)sqlite3_bind_int64(q, 10, rec.updated_at);
  rc = sqlite3_step(q);
  j->st = rc == SQLITE_DONE ? MTS_OK : sq_rc_status(rc);
  if (rc != SQLITE_DONE) {
    if (j->st == MTS_OK) {
      j->st = MTS_EIO;
    }
    sq_job_err(s, j, "put");
  }
  (void)sqlite3_reset(q);
  (void)sqlite3_clear_bindings(q);
}

static void sq_run_del(struct cache_sqlite *s, struct sq_job *j) {
  sqlite3_stmt *q = s->q_del;
  int rc;

  (void)sqlite3_bind_text(q, 1, j->domain, -1, SQLITE_STATIC);
  rc = sqlite3_step(q);
  j->st = rc == SQLITE_DONE ? MTS_OK : sq_rc_status(rc);
  if (rc != SQLITE_DONE) {
    if (j->st == MTS_OK) {
      j->st = MTS_EIO;
    }
    sq_job_err(s, j, "del");
  }
  (void)sqlite3_reset(q);
  (void)sqlite3_clear_bindings(q);
}

/* One page of a scan: rows after j->domain, in domain order, until the
 * page is full. Damaged rows are skipped (and counted). */
static void sq_run_scan(struct cache_sqlite *s, struct sq_job *j) {
  sqlite3_stmt *q = s->q_scan;
  struct mts_cache_record rec;
  int rc;

  j->len = 0;
  j->scan_more = false;
  j->st = MTS_OK;
  (void)sqlite3_bind_text(q, 1, j->domain, -1, SQLITE_TRANSIENT);
  while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
    const char *why = sq_row(q, &rec);
    const unsigned char *d = sqlite3_column_text(q, 0);
    size_t dn = (size_t)sqlite3_column_bytes(q, 0);
    size_t need, enc = 0;

    if (why == NULL) {
      need = 4 + mts_cache_record_size(&rec);
      if (need > j->cap - j->len) {
        j->scan_more = true; /* read this row again on the next page */
        break;
      }
      (void)mts_cache_record_encode(&rec, j->buf + j->len + 4,
                                    j->cap - j->len - 4, &enc);
      j->buf[j->len] = (uint8_t)(enc >> 24);
      j->buf[j->len + 1] = (uint8_t)(enc >> 16);
      j->buf[j->len + 2] = (uint8_t)(enc >> 8);
      j->buf[j->len + 3] = (uint8_t)enc;
      j->len += 4 + enc;
    } else {
      if (j->skipped++ == 0) {
        (void)snprintf(j->err, sizeof(j->err), "row %.100s ignored: %s",
                       d != NULL ? (const char *)d : "(null)", why);
      }
    }
    /* Keyset pagination: remember where we are. A key longer than a
     * domain cannot be kept; it is the last key we could see anyway only
     * if the table holds garbage, so stop there. */
    if (d == NULL || dn > MTS_DOMAIN_MAX) {
      break;
    }
    memcpy(j->domain, d, dn);
    j->domain[dn] = '\0';
  }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    j->st = sq_rc_status(rc);
    if (j->st == MTS_OK) {
      j->st = MTS_EIO;
    }
    sq_job_err(s, j, "scan");
  }
  (void)sqlite3_reset(q);
  (void)sqlite3_clear_bindings(q);
}

static void sq_run(struct cache_sqlite *s, struct sq_job *j, bool stopping,
                   bool closed) {
  enum mts_sqlite_lost lost;

  j->err[0] = '\0';
  j->st = MTS_OK;
  if (stopping && (j->op == SQ_GET || j->op == SQ_SCAN)) {
    j->st = MTS_ECANCELED; /* writes are finished, reads are not */
    j->scan_more = false;
    return;
  }
  if (closed) {
    /* The file was lost and no new one is open yet: answer at once. */
    j->st = j->op == SQ_CHECK ? MTS_OK : MTS_EUNAVAIL;
    j->scan_more = false;
    return;
  }
  if (j->op == SQ_PUT || j->op == SQ_DEL || j->op == SQ_CHECK) {
    lost = mts_sqlite_file_state(&s->sql);
    if (lost != MTS_SQLITE_KEPT) {
      sq_lose(s, j, lost);
      return;
    }
  }
  switch (j->op) {
  case SQ_CHECK:
    break;
  case SQ_GET:
    sq_run_get(s, j);
    break;
  case SQ_PUT:
    sq_run_put(s, j);
    break;
  case SQ_DEL:
    sq_run_del(s, j);
    break;
  case SQ_SCAN:
    sq_run_scan(s, j);
    break;
  }
  if (j->damaged) {
    j->scan_more = false;
    sq_lose(s, j, MTS_SQLITE_DAMAGED);
  }
}

static void sq_worker(void *arg) {
  struct cache_sqlite *s = arg;

  uv_mutex_lock(&s->mu);
  for (;;) {
    struct sq_job *j;
    bool stopping, closed;

    while (s->todo_head == NULL && !s->stop) {
      uv_cond_wait(&s->cv, &s->mu);
    }
    j = s->todo_head;
    if (j == NULL) {
      break; /* stopped and drained */
    }
    s->todo_head = j->next;
    if (s->todo_head == NULL) {
      s->todo_tail = NULL;
    }
    stopping = s->stop;
    closed = s->closed;
    uv_mutex_unlock(&s->mu);

    sq_run(s, j, stopping, closed);

    uv_mutex_lock(&s->mu);
    if (j->lost != MTS_SQLITE_KEPT) {
      s->closed = true; /* the connection is the loop thread's now */
    }
    j->next = NULL;
    if (s->done_tail != NULL) {
      s->done_tail->next = j;
    } else {
      s->done_head = j;
    }
    s->done_tail = j;
    (void)uv_async_send(&s->async);
  }
  uv_mutex_unlock(&s->mu);
}

/* ---- loop thread ---- */

static void sq_enqueue(struct cache_sqlite *s, struct sq_job *j) {
  j->next = NULL;
  uv_mutex_lock(&s->mu);
  if (s->todo_tail != NULL) {
    s->todo_tail->next = j;
  } else {
    s->todo_head = j;
  }
  s->todo_tail = j;
  uv_cond_signal(&s->cv);
  uv_mutex_unlock(&s->mu);
  /* The async handle keeps the loop alive only while jobs are pending,
   * so a tool can uv_run() until its last callback. */
  if (s->pending++ == 0) {
    uv_ref((uv_handle_t *)&s->async);
  }
}

static struct sq_job *sq_job_new(struct cache_sqlite *s, enum sq_op op,
                                 size_t cap) {
  struct sq_job *j = mts_malloc(s->base.ctx, sizeof(*j) + cap);

  if (j == NULL) {
    return NULL;
  }
  memset(j, 0, sizeof(*j));
  j->op = op;
  j->cap = cap;
  j->buf = (uint8_t *)(j + 1);
  return j;
}

static uint32_t sq_be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         (uint32_t)p[3];
}

/* Deliver a scan page. \return true when the job was queued again. */
static bool sq_deliver_scan(struct cache_sqlite *s, struct sq_job *j) {
  struct mts_cache_record rec;
  size_t pos = 0;
  bool stopped = false;

  while (j->st == MTS_OK && pos + 4 <= j->len && !stopped) {
    size_t n = sq_be32(j->buf + pos);

    if (n > j->len - pos - 4 ||
        mts_cache_record_decode(j->buf + pos + 4, n, &rec, NULL) != MTS_OK) {
      j->st = MTS_EINTERNAL;
      break;
    }
    stopped = !j->each_cb(j->arg, &rec);
    pos += 4 + n;
  }
  if (j->st == MTS_OK && j->scan_more && !stopped) {
    if (s->closing) {
      j->st = MTS_ECANCELED;
    } else {
      j->skipped = 0;
      sq_enqueue(s, j);
      return true;
    }
  }
  if (j->done_cb != NULL) {
    j->done_cb(j->arg, j->st);
  }
  return false;
}

/* Opening failed (logged by sq_open): answer from memory, try again. */
static void sq_retry_later(struct cache_sqlite *s, enum mts_status st) {
  s->retry_s = !s->reopen_failing ? SQ_CHECK_S
               : s->retry_s >= SQ_RETRY_MAX_S / 2 ? SQ_RETRY_MAX_S
                                                  : s->retry_s * 2;
  s->reopen_failing = true;
  s->retry_at = uv_now(s->base.loop) + (uint64_t)s->retry_s * 1000u;
  mts_log(s->base.ctx, MTS_LOG_ERR,
          "cache sqlite: %.200s: no usable file (%s); answering from memory, "
          "trying again in %u s",
          s->path, mts_status_str(st), s->retry_s);
}

/* Make a new file after the worker lost the old one (loop thread; the
 * worker has no connection and touches none until closed is cleared),
 * then have the owner write back what it holds. */
static void sq_reopen(struct cache_sqlite *s) {
  enum mts_status st;

  mts_sqlite_close(&s->sql); /* the worker closed the connection */
  st = sq_open(s);
  if (st != MTS_OK) {
    sq_retry_later(s, st);
    return;
  }
  s->reopen_failing = false;
  uv_mutex_lock(&s->mu);
  s->closed = false;
  uv_mutex_unlock(&s->mu);
  mts_log(s->base.ctx, MTS_LOG_WARNING,
          "cache sqlite: %.200s: a new file is open (schema %d, WAL); the "
          "records in memory are written back to it",
          s->path, SQ_SCHEMA_VERSION);
  if (s->base.reset_cb != NULL) {
    s->base.reset_cb(s->base.reset_arg);
  }
}

static bool sq_is_closed(struct cache_sqlite *s) {
  bool closed;

  uv_mutex_lock(&s->mu);
  closed = s->closed;
  uv_mutex_unlock(&s->mu);
  return closed;
}

static void sq_deliver(struct cache_sqlite *s, struct sq_job *j) {
  struct mts_cache_record rec;
  bool reopen = false;

  s->pending--;
  if (j->err[0] != '\0') {
    mts_log(s->base.ctx,
            j->skipped > 0 || j->lost != MTS_SQLITE_KEPT ? MTS_LOG_WARNING
                                                      : MTS_LOG_ERR,
            "cache sqlite: %.200s: %s%s%s", s->path, j->err,
            j->skipped > 1 ? " (and more rows)" : "",
            j->lost != MTS_SQLITE_KEPT ? "; making a new one" : "");
  }
  /* After the job's own callback: its failure first, then the reset. */
  reopen = j->lost != MTS_SQLITE_KEPT;
  switch (j->op) {
  case SQ_CHECK:
    s->check_queued = false;
    /* No file could be opened last time: try again when it is time. */
    reopen = reopen || (s->reopen_failing && sq_is_closed(s) &&
                        uv_now(s->base.loop) + 500 >= s->retry_at);
    break;
  case SQ_GET:
    if (j->st == MTS_OK &&
        mts_cache_record_decode(j->buf, j->len, &rec, NULL) != MTS_OK) {
      j->st = MTS_EINTERNAL;
    }
    j->get_cb(j->arg, j->st, j->st == MTS_OK ? &rec : NULL);
    break;
  case SQ_PUT:
  case SQ_DEL:
    if (j->done_cb != NULL) {
      j->done_cb(j->arg, j->st);
    }
    break;
  case SQ_SCAN:
    if (sq_deliver_scan(s, j)) {
      return; /* next page */
    }
    break;
  }
  mts_free(s->base.ctx, j);
  if (reopen && !s->closing) {
    sq_reopen(s);
  }
}

/* Run the callbacks of every finished job, in order. */
static void sq_drain(struct cache_sqlite *s) {
  for (;;) {
    struct sq_job *list;

    uv_mutex_lock(&s->mu);
    list = s->done_head;
    s->done_head = NULL;
    s->done_tail = NULL;
    uv_mutex_unlock(&s->mu);
    if (list == NULL) {
      break;
    }
    while (list != NULL) {
      struct sq_job *j = list;

      list = j->next;
      sq_deliver(s, j);
    }
  }
  if (s->pending == 0) {
    uv_unref((uv_handle_t *)&s->async);
  }
}

static void sq_finish(struct cache_sqlite *s);

static void sq_async_cb(uv_async_t *h) {
  struct cache_sqlite *s = h->data;

  if (s->closing) {
    return; /* destroy delivers what is left */
  }
  s->delivering = true;
  sq_drain(s);
  s->delivering = false;
  if (s->closing) {
    sq_finish(s); /* destroyed from inside a callback */
  }
}

static void sq_free(struct cache_sqlite *s) {
  struct mts_ctx *ctx = s->base.ctx;

  sq_close_db(s);
  mts_sqlite_close(&s->sql);
  mts_free(ctx, s->path);
  mts_free(ctx, s);
}

static void sq_closed(uv_handle_t *h) {
  struct cache_sqlite *s = h->data;

  if (--s->handles > 0) {
    return;
  }
  uv_cond_destroy(&s->cv);
  uv_mutex_destroy(&s->mu);
  sq_free(s);
}

static void sq_close_handles(struct cache_sqlite *s) {
  (void)uv_timer_stop(&s->check_timer);
  uv_close((uv_handle_t *)&s->check_timer, sq_closed);
  uv_close((uv_handle_t *)&s->async, sq_closed);
}

/* Every SQ_CHECK_S: have the worker look at the file, which may see no
 * write for hours. */
static void sq_check_cb(uv_timer_t *t) {
  struct cache_sqlite *s = t->data;
  struct sq_job *j;

  if (s->closing || s->check_queued) {
    return;
  }
  j = sq_job_new(s, SQ_CHECK, 0);
  if (j == NULL) {
    return; /* next time */
  }
  s->check_queued = true;
  sq_enqueue(s, j);
}

/* Stop the worker after it has run every queued job (reads are
 * cancelled, writes committed), deliver the results, close. */
static void sq_finish(struct cache_sqlite *s) {
  uv_mutex_lock(&s->mu);
  s->stop = true;
  uv_cond_signal(&s->cv);
  uv_mutex_unlock(&s->mu);
  (void)uv_thread_join(&s->thread);
  sq_drain(s);
  sq_close_handles(s);
}

static void sq_destroy(struct mts_cache *c) {
  struct cache_sqlite *s = (struct cache_sqlite *)c;

  if (s->closing) {
    return;
  }
  s->closing = true;
  if (!s->delivering) {
    sq_finish(s);
  }
}

static enum mts_status sq_get(struct mts_cache *c, const char *domain,
                              mts_cache_get_cb cb, void *arg) {
  struct cache_sqlite *s = (struct cache_sqlite *)c;
  struct sq_job *j;

  if (s->closing) {
    return MTS_ECANCELED;
  }
  j = sq_job_new(s, SQ_GET, MTS_CACHE_RECORD_ENC_MAX);
  if (j == NULL) {
    return MTS_ENOMEM;
  }
  (void)snprintf(j->domain, sizeof(j->domain), "%s", domain);
  j->get_cb = cb;
  j->arg = arg;
  sq_enqueue(s, j);
  return MTS_OK;
}

static enum mts_status sq_put(struct mts_cache *c,
                              const struct mts_cache_record *rec,
                              mts_cache_done_cb cb, void *arg) {
  struct cache_sqlite *s = (struct cache_sqlite *)c;
  struct sq_job *j;

  if (s->closing) {
    return MTS_ECANCELED;
  }
  j = sq_job_new(s, SQ_PUT, mts_cache_record_size(rec));
  if (j == NULL) {
    return MTS_ENOMEM;
  }
  if (mts_cache_record_encode(rec, j->buf, j->cap, &j->len) != MTS_OK) {
    mts_free(c->ctx, j);
    return MTS_EINTERNAL;
  }
  j->done_cb = cb;
  j->arg = arg;
  sq_enqueue(s, j);
  return MTS_OK;
}

static enum mts_status sq_del(struct mts_cache *c, const char *domain,
                              mts_cache_done_cb cb, void *arg) {
  struct cache_sqlite *s = (struct cache_sqlite *)c;
  struct sq_job *j;

  if (s->closing) {
    return MTS_ECANCELED;
  }
  j = sq_job_new(s, SQ_DEL, 0);
  if (j == NULL) {
    return MTS_ENOMEM;
  }
  (void)snprintf(j->domain, sizeof(j->domain), "%s", domain);
  j->done_cb = cb;
  j->arg = arg;
  sq_enqueue(s, j);
  return MTS_OK;
}

static enum mts_status sq_scan(struct mts_cache *c, mts_cache_each_cb each,
                               mts_cache_done_cb done, void *arg) {
  struct cache_sqlite *s = (struct cache_sqlite *)c;
  struct sq_job *j;

  if (s->closing) {
    return MTS_ECANCELED;
  }
  j = sq_job_new(s, SQ_SCAN, SQ_PAGE_SIZE);
  if (j == NULL) {
    return MTS_ENOMEM;
  }
  j->each_cb = each;
  j->done_cb = done;
  j->arg = arg;
  sq_enqueue(s, j);
  return MTS_OK;
}

static const struct mts_cache_ops sq_ops = {
    .name = "sqlite",
    .get = sq_get,
    .put = sq_put,
    .del = sq_del,
    .scan = sq_scan,
    .destroy = sq_destroy,
};

static enum mts_status sq_create(struct mts_ctx *ctx, uv_loop_t *loop,
                                 const char *path, bool retry,
                                 struct mts_cache **out) {
  struct cache_sqlite *s = NULL;
  enum mts_status st;
  bool mu = false, cv = false;

  if (out != NULL) {
    *out = NULL;
  }
  if (ctx == NULL || loop == NULL || path == NULL || path[0] == '\0' ||
      out == NULL) {
    return MTS_EINVAL;
  }
  s = mts_calloc(ctx, 1, sizeof(*s));
  if (s == NULL) {
    return MTS_ENOMEM;
  }
  s->base.ops = &sq_ops;
  s->base.ctx = ctx;
  s->base.loop = loop;
  s->path = mts_strdup(ctx, path);
  if (s->path == NULL) {
    st = MTS_ENOMEM;
    goto fail;
  }
  st = sq_open(s);
  if (st == MTS_EIO && retry) {
    s->closed = true; /* the worker starts without a connection */
  } else if (st != MTS_OK) {
    goto fail;
  }
  st = MTS_EINTERNAL;
  if (uv_mutex_init(&s->mu) != 0) {
    goto fail;
  }
  mu = true;
  if (uv_cond_init(&s->cv) != 0) {
    goto fail;
  }
  cv = true;
  if (uv_async_init(loop, &s->async, sq_async_cb) != 0) {
    goto fail;
  }
  s->async.data = s;
  uv_unref((uv_handle_t *)&s->async);
  s->handles = 1;
  if (uv_timer_init(loop, &s->check_timer) != 0) {
    s->closing = true;
    uv_close((uv_handle_t *)&s->async, sq_closed);
    return MTS_EINTERNAL;
  }
  s->check_timer.data = s;
  s->handles = 2;
  if (uv_thread_create(&s->thread, sq_worker, s) != 0) {
    /* The handles are initialised: close them through the loop. */
    mts_log(ctx, MTS_LOG_ERR, "cache sqlite: cannot start the worker thread");
    s->closing = true;
    sq_close_handles(s);
    return MTS_EINTERNAL;
  }
  (void)uv_timer_start(&s->check_timer, sq_check_cb, SQ_CHECK_S * 1000,
                       SQ_CHECK_S * 1000);
  uv_unref((uv_handle_t *)&s->check_timer);
  if (s->closed) {
    sq_retry_later(s, MTS_EIO);
  } else {
    mts_log(ctx, MTS_LOG_INFO, "cache sqlite: %.200s: open (schema %d, WAL)",
            path, SQ_SCHEMA_VERSION);
  }
  *out = &s->base;
  return MTS_OK;
fail:
  if (cv) {
    uv_cond_destroy(&s->cv);
  }
  if (mu) {
    uv_mutex_destroy(&s->mu);
  }
  sq_free(s);
  return st;
}

enum mts_status mts_cache_sqlite_create(struct mts_ctx *ctx, uv_loop_t *loop,
                                        const char *path,
                                        struct mts_cache **out) {
  return sq_create(ctx, loop, path, false, out);
}

enum mts_status mts_cache_sqlite_create_retrying(struct mts_ctx *ctx,
                                                 uv_loop_t *loop,
                                                 const char *path,
                                                 struct mts_cache **out) {
  return sq_create(ctx, loop, path, true, out);
}
