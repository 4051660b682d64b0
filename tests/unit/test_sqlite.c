/*
 * test_sqlite.c - the shared open path of the SQLite stores
 * (core/sqlite.c): a new file gets the schema, a reopen keeps it, and
 * files that are not ours (newer schema, other program, not a database,
 * world-writable) or cannot be written are refused with a clear logged
 * message and left as they were; a file removed, replaced or damaged
 * under an open store is noticed and replaced keeping what can be kept
 * (mts_sqlite_recover); an allocation sweep.
 */
#include "testutil.h"

#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/sqlite_int.h"

#define T_APPID 0x4d545458 /* "MTTX" */

static int init_calls;
static bool init_fails;

/* Like the aggregate's salt: a first row in the creating transaction. */
static enum mts_status t_init(struct mts_sqlite *s) {
  sqlite3_stmt *q = NULL;
  enum mts_status st;

  init_calls++;
  if (init_fails) {
    return MTS_EIO;
  }
  st = mts_sqlite_prepare(s, "INSERT INTO kv VALUES ('salt', ?1)", &q);
  if (st == MTS_OK) {
    mts_sqlite_bind_text(q, 1, "0123456789abcdef");
    st = mts_sqlite_step_done(s, q, "salt");
  }
  (void)sqlite3_finalize(q);
  return st;
}

static const struct mts_sqlite_schema t_schema = {
    .name = "test store",
    .kind = "an mtasts test store",
    .application_id = T_APPID,
    .version = 1,
    .sql = "CREATE TABLE kv (k TEXT PRIMARY KEY NOT NULL, v TEXT);",
    .busy_timeout_ms = 1000,
    .private_file = true,
    .init = t_init,
};

struct fx {
  struct mts_test_alloc a;
  struct mts_ctx *ctx;
  char dir[64];
  char path[128];
  char log[2048];
};

static void log_cb(void *arg, enum mts_log_level level, const char *msg) {
  struct fx *f = arg;
  size_t n = strlen(f->log);

  (void)level;
  (void)snprintf(f->log + n, sizeof(f->log) - n, "%s\n", msg);
}

static int fx_setup(void **state) {
  struct fx *f = calloc(1, sizeof(*f));

  assert_non_null(f);
  (void)snprintf(f->dir, sizeof(f->dir), "/tmp/test_sqlite.XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  (void)snprintf(f->path, sizeof(f->path), "%s/t.db", f->dir);
  f->ctx = mts_test_ctx(&f->a, 0);
  mts_ctx_set_log(f->ctx, log_cb, f, MTS_LOG_WARNING);
  init_calls = 0;
  init_fails = false;
  *state = f;
  return 0;
}

static int fx_teardown(void **state) {
  struct fx *f = *state;

  mts_ctx_destroy(f->ctx);
  mts_test_rm_db(f->path);
  (void)rmdir(f->dir);
  free(f);
  return 0;
}

/* One integer from a plain connection (not through the helper). */
static int64_t sql_int(const char *path, const char *sql) {
  sqlite3 *db = NULL;
  sqlite3_stmt *q = NULL;
  int64_t v = -1;

  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
  if (sqlite3_step(q) == SQLITE_ROW) {
    v = sqlite3_column_int64(q, 0);
  }
  sqlite3_finalize(q);
  sqlite3_close(db);
  return v;
}

static void sql_exec(const char *path, const char *sql) {
  sqlite3 *db = NULL;
  char *err = NULL;

  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
    fail_msg("sql %s: %s", sql, err);
  }
  sqlite3_close(db);
}

static void write_file(const char *path, const char *text, int times) {
  FILE *fp = fopen(path, "wb");
  int i;

  assert_non_null(fp);
  for (i = 0; i < times; i++) {
    assert_true(fputs(text, fp) >= 0);
  }
  assert_int_equal(fclose(fp), 0);
}

static void open_ok(struct fx *f) {
  struct mts_sqlite s;

  assert_int_equal(mts_sqlite_open(&s, f->ctx, f->path, &t_schema), MTS_OK);
  assert_non_null(s.db);
  assert_string_equal(s.path, f->path);
  mts_sqlite_close(&s);
  assert_null(s.db);
  assert_null(s.path);
}

/* Opening \p path fails with EIO, leaves nothing open, and logs
 * \p want together with the path. */
static void expect_refused(struct fx *f, const char *path, const char *want) {
  struct mts_sqlite s;
  enum mts_status st;

  f->log[0] = '\0';
  st = mts_sqlite_open(&s, f->ctx, path, &t_schema);
  if (st != MTS_EIO) {
    fail_msg("open %s: got %s, want EIO", path, mts_status_name(st));
  }
  assert_null(s.db);
  assert_null(s.path);
  if (strstr(f->log, want) == NULL || strstr(f->log, path) == NULL ||
      strstr(f->log, "test store: ") == NULL) {
    fail_msg("open %s: log lacks \"%s\" or the path: %s", path, want, f->log);
  }
  mts_sqlite_close(&s); /* harmless after a failure */
}

static void test_new_file(void **state) {
  struct fx *f = *state;
  struct stat sb;

  open_ok(f);
  assert_int_equal(init_calls, 1);
  assert_int_equal(sql_int(f->path, "PRAGMA application_id"), T_APPID);
  assert_int_equal(sql_int(f->path, "PRAGMA user_version"), 1);
  assert_int_equal(
      sql_int(f->path, "SELECT journal_mode = 'wal' FROM pragma_journal_mode"),
      1);
  assert_int_equal(sql_int(f->path, "SELECT count(*) FROM kv"), 1);
  /* private_file: created 0600, not 0644 less umask. */
  assert_int_equal(stat(f->path, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0600);
  assert_string_equal(f->log, "");
}

/* ":memory:" is SQLite's in-memory database, not a file of that name in
 * the working directory: none is created (private_file asks for one),
 * and a world-writable one there is not the store's business. */
static void test_memory(void **state) {
  struct fx *f = *state;
  struct mts_sqlite s;
  struct stat sb;
  char cwd[4096], planted[4200];

  assert_non_null(getcwd(cwd, sizeof(cwd)));
  assert_int_equal(chdir(f->dir), 0);
  assert_int_equal(mts_sqlite_open(&s, f->ctx, ":memory:", &t_schema), MTS_OK);
  assert_int_equal(mts_sqlite_exec(&s, "INSERT INTO kv VALUES ('m', 1)"),
                   MTS_OK);
  mts_sqlite_close(&s);
  assert_int_equal(stat(":memory:", &sb), -1);
  write_file(":memory:", "x", 1);
  assert_int_equal(chmod(":memory:", 0666), 0);
  assert_int_equal(mts_sqlite_open(&s, f->ctx, ":memory:", &t_schema), MTS_OK);
  mts_sqlite_close(&s);
  (void)snprintf(planted, sizeof(planted), "%s/:memory:", f->dir);
  assert_int_equal(chdir(cwd), 0);
  assert_int_equal(unlink(planted), 0);
  assert_string_equal(f->log, "");
}

/* temp_in_memory: the connection keeps temporary tables and indexes in
 * memory (PRAGMA temp_store 2), also after a recovery reopens it;
 * without it, SQLite's default (0: as compiled, a file). */
/* PRAGMA temp_store of a store opened with \p sc. */
static int temp_store_of(struct fx *f, const struct mts_sqlite_schema *sc) {
  struct mts_sqlite s;
  sqlite3_stmt *q = NULL;
  int v;

  assert_int_equal(mts_sqlite_open(&s, f->ctx, f->path, sc), MTS_OK);
  assert_int_equal(sqlite3_prepare_v2(s.db, "PRAGMA temp_store", -1, &q, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  v = sqlite3_column_int(q, 0);
  (void)sqlite3_finalize(q);
  mts_sqlite_close(&s);
  return v;
}

/* temp_in_memory: the connection keeps temporary tables and indexes in
 * memory (PRAGMA temp_store 2); without it, SQLite's default (0: as
 * compiled, a file). */
static void test_temp_in_memory(void **state) {
  struct fx *f = *state;
  struct mts_sqlite_schema mem = t_schema;

  mem.temp_in_memory = true;
  assert_int_equal(temp_store_of(f, &mem), 2);
  assert_int_equal(temp_store_of(f, &t_schema), 0);
}

static void test_reopen(void **state) {
  struct fx *f = *state;

  open_ok(f);
  sql_exec(f->path, "INSERT INTO kv VALUES ('x', 'y')");
  open_ok(f);
  /* The schema is not created again, nor the first rows. */
  assert_int_equal(init_calls, 1);
  assert_int_equal(sql_int(f->path, "SELECT count(*) FROM kv"), 2);
  assert_string_equal(f->log, "");
}

static void test_newer_version(void **state) {
  struct fx *f = *state;

  open_ok(f);
  sql_exec(f->path, "PRAGMA user_version = 2");
  expect_refused(f, f->path,
                 "schema version 2 is newer than this mtasts knows (1); "
                 "refusing to use it");
  assert_int_equal(sql_int(f->path, "PRAGMA user_version"), 2);
}

static void test_not_sqlite(void **state) {
  struct fx *f = *state;
  struct stat sb;

  write_file(f->path, "this is not an SQLite file ", 200);
  expect_refused(f, f->path,
                 "cannot read it as an SQLite database: file is not a "
                 "database");
  assert_int_equal(stat(f->path, &sb), 0);
  assert_int_equal(sb.st_size, 200 * 27); /* untouched */
  assert_int_equal(init_calls, 0);
}

static void test_foreign(void **state) {
  struct fx *f = *state;

  sql_exec(f->path, "CREATE TABLE t (x); INSERT INTO t VALUES (1);");
  expect_refused(f, f->path,
                 "not an mtasts test store (application_id 0, 1 tables); "
                 "refusing to touch it");
  assert_int_equal(sql_int(f->path, "SELECT count(*) FROM t"), 1);
  /* Another of our stores (another application_id) is foreign too. */
  mts_test_rm_db(f->path);
  sql_exec(f->path, "PRAGMA application_id = 1297371988;");
  expect_refused(f, f->path, "(application_id 1297371988, 0 tables)");
}

static void test_world_writable(void **state) {
  struct fx *f = *state;

  open_ok(f);
  assert_int_equal(chmod(f->path, 0666), 0);
  expect_refused(f, f->path,
                 "refused: the file is world-writable (chmod o-w it)");
  assert_int_equal(chmod(f->path, 0600), 0);
  open_ok(f);
}

static void test_unwritable(void **state) {
  struct fx *f = *state;
  char path[192];

  (void)snprintf(path, sizeof(path), "%s/no/such/dir/t.db", f->dir);
  expect_refused(f, path, "cannot open: unable to open database file");
  /* A directory where the file should be. */
  expect_refused(f, f->dir, "unable to open database file");
  /* A file where the directory should be. */
  write_file(f->path, "x", 1);
  (void)snprintf(path, sizeof(path), "%s/t.db", f->path);
  expect_refused(f, path, "unable to open database file");
  mts_test_rm_db(f->path);
  /* A read-only directory (root writes anyway: nothing to test). */
  if (geteuid() != 0) {
    assert_int_equal(chmod(f->dir, 0500), 0);
    expect_refused(f, f->path, "unable to open database file");
    assert_int_equal(chmod(f->dir, 0700), 0);
  }
}

/* A failing first-rows step rolls the whole creation back. */
static void test_init_fails(void **state) {
  struct fx *f = *state;
  struct mts_sqlite s;

  init_fails = true;
  assert_int_equal(mts_sqlite_open(&s, f->ctx, f->path, &t_schema), MTS_EIO);
  assert_null(s.db);
  assert_int_equal(sql_int(f->path, "PRAGMA user_version"), 0);
  assert_int_equal(sql_int(f->path, "SELECT count(*) FROM sqlite_master"), 0);
  init_fails = false;
  open_ok(f);
  assert_int_equal(init_calls, 2);
}

/* The statement helpers: failures are logged with the path and SQLite's
 * message; end() commits or rolls back. */
static void test_helpers(void **state) {
  struct fx *f = *state;
  struct mts_sqlite s;
  sqlite3_stmt *q = (sqlite3_stmt *)&s;

  assert_int_equal(mts_sqlite_open(&s, f->ctx, f->path, &t_schema), MTS_OK);
  assert_int_equal(mts_sqlite_prepare(&s, "SELECT * FROM nope", &q), MTS_EIO);
  assert_null(q);
  assert_non_null(strstr(f->log, "test store: "));
  assert_non_null(strstr(f->log, ": prepare: no such table: nope"));
  f->log[0] = '\0';
  assert_int_equal(mts_sqlite_exec(&s, "DROP TABLE nope"), MTS_EIO);
  assert_non_null(strstr(f->log, "DROP TABLE nope: no such table: nope"));
  assert_int_equal(mts_sqlite_status(SQLITE_NOMEM), MTS_ENOMEM);
  assert_int_equal(mts_sqlite_status(SQLITE_CORRUPT), MTS_EIO);

  assert_int_equal(mts_sqlite_begin(&s), MTS_OK);
  assert_int_equal(mts_sqlite_exec(&s, "INSERT INTO kv VALUES ('a', NULL)"),
                   MTS_OK);
  assert_int_equal(mts_sqlite_end(&s, MTS_ENOTFOUND), MTS_ENOTFOUND);
  assert_int_equal(mts_sqlite_begin(&s), MTS_OK);
  assert_int_equal(
      mts_sqlite_prepare(&s, "INSERT INTO kv VALUES ('b', ?1)", &q), MTS_OK);
  mts_sqlite_bind_text(q, 1, NULL);
  assert_int_equal(mts_sqlite_step_done(&s, q, "insert"), MTS_OK);
  (void)sqlite3_reset(q);
  /* The same key again: a constraint failure, logged with its what. */
  f->log[0] = '\0';
  assert_int_equal(mts_sqlite_step_done(&s, q, "insert again"), MTS_EIO);
  assert_non_null(strstr(f->log, ": insert again: UNIQUE constraint"));
  (void)sqlite3_finalize(q);
  assert_int_equal(mts_sqlite_end(&s, MTS_OK), MTS_OK);
  mts_sqlite_close(&s);
  assert_int_equal(sql_int(f->path, "SELECT count(*) FROM kv WHERE k = 'a'"),
                   0);
  assert_int_equal(
      sql_int(f->path, "SELECT count(*) FROM kv WHERE k = 'b' AND v IS NULL"),
      1);
}

/* ---- files changed under the store ---- */

/* One write as the stores do it: watch, then a transaction. */
static enum mts_status put(struct mts_sqlite *s, const char *k) {
  sqlite3_stmt *q = NULL;
  enum mts_status st = mts_sqlite_watch(s);

  if (st != MTS_OK) {
    return st;
  }
  st = mts_sqlite_begin(s);
  if (st != MTS_OK) {
    return st;
  }
  st = mts_sqlite_prepare(s, "INSERT INTO kv VALUES (?1, 'v')", &q);
  if (st == MTS_OK) {
    mts_sqlite_bind_text(q, 1, k);
    st = mts_sqlite_step_done(s, q, "insert");
  }
  (void)sqlite3_finalize(q);
  return mts_sqlite_end(s, st);
}

static int64_t keys(const char *path) {
  return sql_int(path, "SELECT count(*) FROM kv WHERE k != 'salt'");
}

/* The one file in \p dir whose name holds \p part (asserted unique), as
 * a path in \p out; "" when there is none. */
static void find_kept(const struct fx *f, const char *part, char *out,
                      size_t outlen) {
  DIR *d = opendir(f->dir);
  struct dirent *e;
  int n = 0;

  assert_non_null(d);
  out[0] = '\0';
  while ((e = readdir(d)) != NULL) {
    if (strstr(e->d_name, part) != NULL && strstr(e->d_name, "-wal") == NULL &&
        strstr(e->d_name, "-shm") == NULL) {
      (void)snprintf(out, outlen, "%s/%s", f->dir, e->d_name);
      n++;
    }
  }
  closedir(d);
  assert_true(n <= 1);
}

static void open_with_rows(struct fx *f, struct mts_sqlite *s,
                           struct mts_test_clock *clock) {
  clock->now = 1796083200;
  mts_ctx_set_clock(f->ctx, mts_test_clock_fn, clock);
  assert_int_equal(mts_sqlite_open(s, f->ctx, f->path, &t_schema), MTS_OK);
  assert_int_equal(put(s, "a"), MTS_OK);
  assert_int_equal(put(s, "b"), MTS_OK);
  assert_int_equal(mts_sqlite_file_state(s), MTS_SQLITE_KEPT);
  f->log[0] = '\0';
}

/* rm of the file, or of the file with its -wal and -shm (rm t.db*): all
 * the file held is copied into a new file at the path, whose new WAL is
 * not the old one (the old rows are not replayed twice). */
static void test_lost_removed(void **state) {
  struct fx *f = *state;
  int all;

  for (all = 0; all < 2; all++) {
    struct mts_test_clock clock;
    struct mts_sqlite s;
    char kept[512];
    struct stat sb;

    open_with_rows(f, &s, &clock);
    if (all) {
      mts_test_rm_db(f->path);
    } else {
      assert_int_equal(unlink(f->path), 0);
    }
    assert_int_equal(mts_sqlite_file_state(&s), MTS_SQLITE_REMOVED);
    assert_int_equal(put(&s, "c"), MTS_OK);
    assert_non_null(strstr(f->log, "removed under us; all it held is copied"));
    assert_int_equal(mts_sqlite_file_state(&s), MTS_SQLITE_KEPT);
    assert_int_equal(keys(f->path), 3);
    assert_int_equal(stat(f->path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600); /* private_file kept */
    find_kept(f, ".rescue-", kept, sizeof(kept));
    assert_string_equal(kept, ""); /* linked into place, then removed */
    mts_sqlite_close(&s);
    assert_int_equal(keys(f->path), 3);
    assert_int_equal(
        sql_int(f->path, "SELECT count(*) FROM kv WHERE k = 'salt'"), 1);
    mts_test_rm_db(f->path);
  }
}

/* Two processes share the file (hosts of a fleet on one disk) and it is
 * removed: the first to write copies it back; the second finds that new
 * file at the path, uses it (its old view kept aside, a copy of the
 * same rows), and its own old WAL removal does not touch the new WAL. */
static void test_lost_removed_shared(void **state) {
  struct fx *f = *state;
  struct mts_test_clock clock;
  struct mts_sqlite s, t;
  char kept[512];

  open_with_rows(f, &s, &clock);
  assert_int_equal(mts_sqlite_open(&t, f->ctx, f->path, &t_schema), MTS_OK);
  assert_int_equal(unlink(f->path), 0);
  assert_int_equal(put(&s, "c"), MTS_OK);
  assert_int_equal(mts_sqlite_file_state(&t), MTS_SQLITE_REPLACED);
  assert_int_equal(put(&t, "d"), MTS_OK);
  assert_int_equal(put(&s, "e"), MTS_OK); /* s's WAL survived t's recovery */
  mts_sqlite_close(&t);
  mts_sqlite_close(&s);
  assert_int_equal(keys(f->path), 5);
  find_kept(f, ".replaced-", kept, sizeof(kept));
  assert_string_not_equal(kept, "");
  assert_int_equal(keys(kept), 2);
  assert_int_equal(unlink(kept), 0);
}

/* Another file moved over the path: it is used, and what the old one
 * held is kept beside it. */
static void test_lost_replaced(void **state) {
  struct fx *f = *state;
  struct mts_test_clock clock;
  struct mts_sqlite s, o;
  char other[160], kept[512];

  (void)snprintf(other, sizeof(other), "%s/other.db", f->dir);
  open_with_rows(f, &s, &clock);
  assert_int_equal(mts_sqlite_open(&o, f->ctx, other, &t_schema), MTS_OK);
  assert_int_equal(put(&o, "x"), MTS_OK);
  mts_sqlite_close(&o);
  assert_int_equal(rename(other, f->path), 0);
  assert_int_equal(mts_sqlite_file_state(&s), MTS_SQLITE_REPLACED);
  assert_int_equal(put(&s, "c"), MTS_OK);
  assert_non_null(strstr(f->log, "replaced by another; using the new one, "
                                 "what the old one held is kept in "));
  mts_sqlite_close(&s);
  assert_int_equal(keys(f->path), 2); /* x, c */
  assert_int_equal(sql_int(f->path, "SELECT count(*) FROM kv WHERE k = 'x'"),
                   1);
  find_kept(f, ".replaced-1796083200", kept, sizeof(kept));
  assert_string_not_equal(kept, "");
  assert_int_equal(keys(kept), 2); /* a, b */
  assert_int_equal(unlink(kept), 0);
  mts_test_rm_db(other);
}

/* Truncated or overwritten in place: moved aside, a new file made. */
static void test_lost_damaged(void **state) {
  static const char *const how[] = {"truncate", "overwrite"};
  struct fx *f = *state;
  size_t i;

  for (i = 0; i < sizeof(how) / sizeof(how[0]); i++) {
    struct mts_test_clock clock;
    struct mts_sqlite s;
    char kept[512];

    open_with_rows(f, &s, &clock);
    if (i == 0) {
      assert_int_equal(truncate(f->path, 0), 0);
    } else {
      FILE *fp = fopen(f->path, "r+b");

      assert_non_null(fp);
      assert_int_equal(fwrite("this is no database", 1, 19, fp), 19);
      assert_int_equal(fclose(fp), 0);
    }
    assert_int_equal(mts_sqlite_file_state(&s), MTS_SQLITE_DAMAGED);
    assert_int_equal(put(&s, "c"), MTS_OK);
    assert_non_null(strstr(f->log, "damaged (truncated or overwritten); "
                                   "moved to "));
    mts_sqlite_close(&s);
    assert_int_equal(keys(f->path), 1); /* c */
    find_kept(f, ".damaged-", kept, sizeof(kept));
    assert_string_not_equal(kept, "");
    mts_test_rm_db(kept);
    mts_test_rm_db(f->path);
    (void)how;
  }
}

/* The whole directory removed: nothing can be copied or opened; writes
 * fail, with no retry before 10 s; once the directory is back, the next
 * write after that opens a new file. */
static void test_lost_closed_then_back(void **state) {
  struct fx *f = *state;
  struct mts_test_clock clock;
  struct mts_sqlite s;

  open_with_rows(f, &s, &clock);
  mts_test_rm_db(f->path);
  assert_int_equal(rmdir(f->dir), 0);
  assert_int_equal(put(&s, "c"), MTS_EIO);
  assert_null(s.db);
  assert_non_null(strstr(f->log, "removed under us; what it held is lost"));
  assert_non_null(strstr(f->log, "no usable file; writes fail"));
  assert_int_equal(mkdir(f->dir, 0700), 0);
  f->log[0] = '\0';
  clock.now += 9;
  assert_int_equal(put(&s, "d"), MTS_EIO); /* too early to retry */
  assert_int_equal(access(f->path, F_OK), -1);
  /* the helpers refuse a closed store with a message of their own */
  assert_int_equal(mts_sqlite_begin(&s), MTS_EIO);
  assert_non_null(strstr(f->log, "no usable file (see above)"));
  clock.now += 1;
  assert_int_equal(put(&s, "e"), MTS_OK);
  mts_sqlite_close(&s);
  assert_int_equal(keys(f->path), 1);
}

static enum mts_status sweep_op(struct mts_ctx *ctx, void *arg) {
  const char *path = arg;
  struct mts_sqlite s;
  enum mts_status st;

  mts_test_rm_db(path);
  st = mts_sqlite_open(&s, ctx, path, &t_schema);
  if (st == MTS_OK) {
    assert_non_null(s.db);
    mts_sqlite_close(&s);
  } else {
    assert_null(s.db);
    assert_null(s.path);
  }
  return st;
}

static void test_alloc_sweep(void **state) {
  struct fx *f = *state;

  assert_true(mts_test_alloc_sweep(sweep_op, f->path) >= 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_new_file, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_memory, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_temp_in_memory, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_reopen, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_newer_version, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_not_sqlite, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_foreign, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_world_writable, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_unwritable, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_init_fails, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_helpers, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_lost_removed, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_lost_removed_shared, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_lost_replaced, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_lost_damaged, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_lost_closed_then_back, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_alloc_sweep, fx_setup, fx_teardown),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
