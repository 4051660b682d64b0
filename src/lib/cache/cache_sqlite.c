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
 */
#include <stdio.h>
#include <string.h>

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
#define SQ_ERR_MAX 256

enum sq_op { SQ_GET, SQ_PUT, SQ_DEL, SQ_SCAN };

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
  unsigned skipped;  /* rows that failed the check */
  char err[SQ_ERR_MAX]; /* worker's message for the loop thread */
  size_t cap;        /* of buf */
  size_t len;        /* used in buf */
  uint8_t *buf;      /* put: the encoded record; get: the result;
                        scan: records, each as u32 length + encoding */
};

struct cache_sqlite {
  struct mts_cache base;
  struct mts_sqlite sql;
  sqlite3_stmt *q_get, *q_put, *q_del, *q_scan;
  uv_thread_t thread;
  uv_mutex_t mu;
  uv_cond_t cv;
  uv_async_t async;
  /* under mu */
  struct sq_job *todo_head, *todo_tail;
  struct sq_job *done_head, *done_tail;
  bool stop;
  /* loop thread only */
  size_t pending;      /* jobs queued and not yet delivered */
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
};

/* Open and check the file, then prepare the worker's statements (loop
 * thread, before the worker starts). */
static enum mts_status sq_open(struct cache_sqlite *s, const char *path) {
  sqlite3 *db;
  enum mts_status st;

  st = mts_sqlite_open(&s->sql, s->base.ctx, path, &sq_schema);
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

static void sq_job_err(struct cache_sqlite *s, struct sq_job *j,
                       const char *what) {
  (void)snprintf(j->err, sizeof(j->err), "%s: %s", what,
                 sqlite3_errmsg(s->sql.db));
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

static void sq_run(struct cache_sqlite *s, struct sq_job *j, bool stopping) {
  j->err[0] = '\0';
  if (stopping && (j->op == SQ_GET || j->op == SQ_SCAN)) {
    j->st = MTS_ECANCELED; /* writes are finished, reads are not */
    j->scan_more = false;
    return;
  }
  switch (j->op) {
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
}

static void sq_worker(void *arg) {
  struct cache_sqlite *s = arg;

  uv_mutex_lock(&s->mu);
  for (;;) {
    struct sq_job *j;
    bool stopping;

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
    uv_mutex_unlock(&s->mu);

    sq_run(s, j, stopping);

    uv_mutex_lock(&s->mu);
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

static void sq_deliver(struct cache_sqlite *s, struct sq_job *j) {
  struct mts_cache_record rec;

  s->pending--;
  if (j->err[0] != '\0') {
    mts_log(s->base.ctx, j->skipped > 0 ? MTS_LOG_WARNING : MTS_LOG_ERR,
            "cache sqlite: %.200s: %s%s", s->sql.path, j->err,
            j->skipped > 1 ? " (and more rows)" : "");
  }
  switch (j->op) {
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

  (void)sqlite3_finalize(s->q_get);
  (void)sqlite3_finalize(s->q_put);
  (void)sqlite3_finalize(s->q_del);
  (void)sqlite3_finalize(s->q_scan);
  mts_sqlite_close(&s->sql);
  mts_free(ctx, s);
}

static void sq_closed(uv_handle_t *h) {
  struct cache_sqlite *s = h->data;

  uv_cond_destroy(&s->cv);
  uv_mutex_destroy(&s->mu);
  sq_free(s);
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
  uv_close((uv_handle_t *)&s->async, sq_closed);
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

enum mts_status mts_cache_sqlite_create(struct mts_ctx *ctx, uv_loop_t *loop,
                                        const char *path,
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
  st = sq_open(s, path);
  if (st != MTS_OK) {
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
  if (uv_thread_create(&s->thread, sq_worker, s) != 0) {
    /* The handle is initialised: close it through the loop. */
    mts_log(ctx, MTS_LOG_ERR, "cache sqlite: cannot start the worker thread");
    s->closing = true;
    uv_close((uv_handle_t *)&s->async, sq_closed);
    return MTS_EINTERNAL;
  }
  mts_log(ctx, MTS_LOG_INFO, "cache sqlite: %.200s: open (schema %d, WAL)",
          path, SQ_SCHEMA_VERSION);
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
