/*
 * test_cache_sqlite.c - the record helpers (cache_record.c) and the
 * SQLite store (cache_sqlite.c) against real database files in a temp
 * dir: round trip, persistence, damaged and foreign files, a newer
 * schema, unwritable paths, ordering of concurrent puts, callbacks never
 * re-entrant, destroy with work pending, kill -9 durability, the file
 * removed, replaced, truncated or overwritten under a running store, and
 * an allocation-failure sweep over the records and over the whole store.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <sqlite3.h>

#include "cache_testutil.h"

#include "cache/cache_record_int.h"

/* ================= records ================= */

struct rec_case {
  const char *name;
  const char *domain;
  const char *id;
  int mode;
  int64_t max_age;
  size_t body_len; /* with a body of that many 'x' */
  bool null_body_with_len;
  enum mts_status want;
};

static const struct rec_case rec_cases[] = {
    {"R01 plain enforce", "example.com", "20240101", 3, 86400, 40, false,
     MTS_OK},
    {"R02 no policy (backoff record)", "example.com", "", 0, 0, 0, false,
     MTS_OK},
    {"R03 id 32 chars", "a.b", "0123456789abcdef0123456789ABCDEF", 2, 1, 0,
     false, MTS_OK},
    {"R04 upper-case domain", "Example.com", "1", 3, 1, 0, false,
     MTS_EINVAL},
    {"R05 domain with blank", "exa mple.com", "1", 3, 1, 0, false,
     MTS_EINVAL},
    {"R06 id not alphanumeric", "example.com", "ab-c", 3, 1, 0, false,
     MTS_EINVAL},
    {"R07 mode out of range", "example.com", "1", 9, 1, 0, false,
     MTS_EINVAL},
    {"R08 negative max_age", "example.com", "1", 3, -1, 0, false,
     MTS_EINVAL},
    {"R09 max_age over RFC max", "example.com", "1", 3, 31557601, 0, false,
     MTS_EINVAL},
    {"R10 body at 64 KiB", "example.com", "1", 3, 1, MTS_POLICY_MAX_SIZE,
     false, MTS_OK},
    {"R11 body over 64 KiB", "example.com", "1", 3, 1,
     MTS_POLICY_MAX_SIZE + 1, false, MTS_EINVAL},
    {"R12 length without body", "example.com", "1", 3, 1, 5, true,
     MTS_EINVAL},
    {"R13 empty domain", "", "1", 3, 1, 0, false, MTS_EINVAL},
};

static uint8_t big_body[MTS_POLICY_MAX_SIZE + 2];

static struct mts_cache_record rec_from_case(const struct rec_case *c) {
  struct mts_cache_record r;

  memset(&r, 0, sizeof(r));
  mts_sts_entry_init(&r.entry);
  r.domain = c->domain;
  r.entry.has_policy = c->id[0] != '\0';
  snprintf(r.entry.id, sizeof(r.entry.id), "%s", c->id);
  r.entry.mode = (enum mts_sts_mode)c->mode;
  r.entry.max_age = c->max_age;
  r.entry.fetched_at = 1700000000;
  snprintf(r.entry.failed_id, sizeof(r.entry.failed_id), "old1");
  r.entry.failed_at = 1699999000;
  r.updated_at = 1700000001;
  r.body = c->null_body_with_len ? NULL : big_body;
  r.body_len = c->body_len;
  return r;
}

static void test_record_check_table(void **state) {
  size_t i;

  (void)state;
  memset(big_body, 'x', sizeof(big_body));
  for (i = 0; i < sizeof(rec_cases) / sizeof(rec_cases[0]); i++) {
    const struct rec_case *c = &rec_cases[i];
    struct mts_cache_record r = rec_from_case(c), back;
    enum mts_status got = mts_cache_record_check(&r, NULL);
    static uint8_t buf[MTS_CACHE_RECORD_ENC_MAX];
    size_t len = 0, cut;

    if (got != c->want) {
      fail_msg("%s: check got %s, want %s", c->name, mts_status_name(got),
               mts_status_name(c->want));
    }
    if (got != MTS_OK) {
      continue;
    }
    /* Round trip through the flat encoding. */
    assert_int_equal(mts_cache_record_encode(&r, buf, sizeof(buf), &len),
                     MTS_OK);
    assert_int_equal(len, mts_cache_record_size(&r));
    assert_int_equal(mts_cache_record_decode(buf, len, &back, NULL), MTS_OK);
    assert_string_equal(back.domain, c->domain);
    assert_string_equal(back.entry.id, c->id);
    assert_string_equal(back.entry.failed_id, "old1");
    assert_int_equal(back.entry.mode, c->mode);
    assert_int_equal(back.entry.max_age, c->max_age);
    assert_int_equal(back.entry.fetched_at, 1700000000);
    assert_int_equal(back.entry.failed_at, 1699999000);
    assert_int_equal(back.updated_at, 1700000001);
    assert_int_equal(back.body_len, c->body_len);
    assert_memory_equal(back.body, big_body, c->body_len);
    /* Every truncation and one trailing octet are refused. */
    for (cut = 0; cut < len && cut < 400; cut++) {
      if (mts_cache_record_decode(buf, cut, &back, NULL) != MTS_EPARSE) {
        fail_msg("%s: decode of %zu/%zu octets accepted", c->name, cut, len);
      }
    }
    if (len < sizeof(buf)) {
      assert_int_equal(mts_cache_record_decode(buf, len + 1, &back, NULL),
                       MTS_EPARSE);
    }
    assert_int_equal(mts_cache_record_encode(&r, buf, len - 1, &len),
                     MTS_ETOOBIG);
  }
}

static void test_record_decode_no_body(void **state) {
  struct mts_cache_record r = trec("x.example", "", MTS_STS_MODE_UNKNOWN, 0,
                                   0, NULL), back;
  uint8_t buf[512];
  size_t len;
  const char *why = NULL;

  (void)state;
  assert_int_equal(mts_cache_record_encode(&r, buf, sizeof(buf), &len),
                   MTS_OK);
  assert_int_equal(mts_cache_record_decode(buf, len, &back, &why), MTS_OK);
  assert_null(back.body);
  assert_false(back.entry.has_policy);
  /* A damaged version octet. */
  buf[0] = 2;
  assert_int_equal(mts_cache_record_decode(buf, len, &back, &why), MTS_EPARSE);
  assert_non_null(why);
}

struct ttl_case {
  const char *name;
  bool has_policy;
  int64_t max_age, fetched_at;
  const char *failed_id;
  int64_t failed_at;
  int64_t now;
  int64_t want;
};

static const struct ttl_case ttl_cases[] = {
    {"TTL1 remaining validity", true, 86400, 1000, "", 0, 1000 + 400, 86000},
    {"TTL2 expired -> minimum", true, 100, 1000, "", 0, 5000, 60},
    {"TTL3 no policy -> 1 h", false, 0, 0, "", 0, 5000, 3600},
    {"TTL4 backoff longer than validity", true, 100, 1000, "abc", 1090, 1095,
     295},
    {"TTL5 capped", true, 31557600, 10000, "", 0, 0,
     31557600 + 3600},
};

static void test_record_ttl_table(void **state) {
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(ttl_cases) / sizeof(ttl_cases[0]); i++) {
    const struct ttl_case *c = &ttl_cases[i];
    struct mts_cache_record r = trec("a.example", c->has_policy ? "i1" : "",
                                     MTS_STS_MODE_ENFORCE, c->max_age,
                                     c->fetched_at, NULL);
    int64_t got;

    snprintf(r.entry.failed_id, sizeof(r.entry.failed_id), "%s", c->failed_id);
    r.entry.failed_at = c->failed_at;
    got = mts_cache_record_ttl(&r, c->now);
    if (got != c->want) {
      fail_msg("%s: got %lld, want %lld", c->name, (long long)got,
               (long long)c->want);
    }
  }
}

static void test_record_parse_i64(void **state) {
  static const struct {
    const char *in;
    bool ok;
    int64_t want;
  } cases[] = {{"0", true, 0},
               {"-1", true, -1},
               {"9223372036854775807", true, INT64_MAX},
               {"-9223372036854775808", true, INT64_MIN},
               {"9223372036854775808", false, 0},
               {"", false, 0},
               {"-", false, 0},
               {"1a", false, 0},
               {" 1", false, 0},
               {"+1", false, 0}};
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    int64_t v = 42;
    bool ok = mts_cache_record_parse_i64((const uint8_t *)cases[i].in,
                                         strlen(cases[i].in), &v);

    if (ok != cases[i].ok || (ok && v != cases[i].want)) {
      fail_msg("i64 \"%s\": got %d/%lld, want %d/%lld", cases[i].in, ok,
               (long long)v, cases[i].ok, (long long)cases[i].want);
    }
  }
}

static enum mts_status dup_op(struct mts_ctx *ctx, void *arg) {
  struct mts_cache_record r = trec("dup.example", "id1", MTS_STS_MODE_TESTING,
                                   3600, 5, "version: STSv1\n"), back;
  uint8_t *buf = NULL;
  size_t len = 0;
  enum mts_status st;

  (void)arg;
  st = mts_cache_record_dup(ctx, &r, &buf, &len);
  if (st != MTS_OK) {
    assert_null(buf);
    return st;
  }
  assert_int_equal(mts_cache_record_decode(buf, len, &back, NULL), MTS_OK);
  assert_string_equal(back.domain, "dup.example");
  mts_free(ctx, buf);
  return MTS_OK;
}

static void test_record_alloc_sweep(void **state) {
  (void)state;
  assert_int_equal(mts_test_alloc_sweep(dup_op, NULL), 1);
}

/* ================= the SQLite store ================= */

struct fx {
  char dir[64];
  char path[128];
  struct mts_test_alloc a;
  struct mts_ctx *ctx;
  struct tlog log;
  uv_loop_t loop;
};

static struct fx *fx_new(void) {
  struct fx *f = calloc(1, sizeof(*f));

  assert_non_null(f);
  ttmpdir(f->dir, sizeof(f->dir));
  snprintf(f->path, sizeof(f->path), "%s/cache.db", f->dir);
  f->ctx = mts_test_ctx(&f->a, 0);
  mts_ctx_set_log(f->ctx, tlog_fn, &f->log, MTS_LOG_DEBUG);
  assert_int_equal(uv_loop_init(&f->loop), 0);
  return f;
}

static void fx_free(struct fx *f) {
  trun_close(&f->loop);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  mts_ctx_destroy(f->ctx);
  trmtree(f->dir);
  free(f);
}

static struct mts_cache *fx_open(struct fx *f) {
  struct mts_cache *c = NULL;
  enum mts_status st = mts_cache_sqlite_create(f->ctx, &f->loop, f->path, &c);

  if (st != MTS_OK) {
    fail_msg("open %s: got %s, want OK; log: %s", f->path,
             mts_status_name(st), f->log.text);
  }
  assert_string_equal(mts_cache_name(c), "sqlite");
  return c;
}

static void fx_close(struct fx *f, struct mts_cache *c) {
  mts_cache_destroy(c);
  trun_close(&f->loop);
}

static void put_sync(struct fx *f, struct mts_cache *c,
                     const struct mts_cache_record *r) {
  struct tdone d = {0};

  d.in_call = true;
  assert_int_equal(mts_cache_put(c, r, tdone_cb, &d), MTS_OK);
  d.in_call = false;
  assert_false(d.done); /* never inside the call */
  assert_true(trun_until(&f->loop, &d.done, 5000));
  assert_false(d.reentrant);
  assert_int_equal(d.calls, 1);
  if (d.st != MTS_OK) {
    fail_msg("put %s: got %s; log: %s", r->domain, mts_status_name(d.st),
             f->log.text);
  }
}

static struct tget *get_sync(struct fx *f, struct mts_cache *c,
                             const char *domain) {
  struct tget *g = calloc(1, sizeof(*g));

  assert_non_null(g);
  g->in_call = true;
  assert_int_equal(mts_cache_get(c, domain, tget_cb, g), MTS_OK);
  g->in_call = false;
  assert_false(g->done);
  assert_true(trun_until(&f->loop, &g->done, 5000));
  assert_false(g->reentrant);
  assert_int_equal(g->calls, 1);
  return g;
}

struct tscan {
  struct tdone d;
  int seen;
  int stop_after; /* 0: never */
  char order[64][MTS_DOMAIN_MAX + 1];
  size_t body_total;
  bool in_call;
  bool reentrant;
};

static bool tscan_each(void *arg, const struct mts_cache_record *rec) {
  struct tscan *s = arg;

  s->reentrant |= s->in_call;
  if (s->seen < 64) {
    snprintf(s->order[s->seen], sizeof(s->order[0]), "%s", rec->domain);
  }
  s->seen++;
  s->body_total += rec->body_len;
  return s->stop_after == 0 || s->seen < s->stop_after;
}

static void tscan_done(void *arg, enum mts_status st) {
  struct tscan *s = arg;

  tdone_cb(&s->d, st);
}

static void scan_sync(struct fx *f, struct mts_cache *c, struct tscan *s) {
  s->in_call = true;
  assert_int_equal(mts_cache_scan(c, tscan_each, tscan_done, s), MTS_OK);
  s->in_call = false;
  assert_true(trun_until(&f->loop, &s->d.done, 10000));
  assert_false(s->reentrant);
  assert_int_equal(s->d.calls, 1);
}

static void test_sqlite_roundtrip(void **state) {
  struct fx *f = fx_new();
  struct mts_cache *c = fx_open(f);
  struct mts_cache_record r1 = trec("b.example", "id1", MTS_STS_MODE_ENFORCE,
                                    86400, 1700000000,
                                    "version: STSv1\nmode: enforce\n");
  struct mts_cache_record r2 = trec("a.example", "", MTS_STS_MODE_UNKNOWN, 0,
                                    0, NULL);
  struct mts_cache_record r3 = trec("c.example", "id3", MTS_STS_MODE_NONE, 60,
                                    5, "");
  struct tget *g;
  struct tscan sc = {0};
  struct tdone d = {0};

  (void)state;
  snprintf(r2.entry.failed_id, sizeof(r2.entry.failed_id), "f00");
  r2.entry.failed_at = 1234;
  put_sync(f, c, &r1);
  put_sync(f, c, &r2);
  put_sync(f, c, &r3);

  /* Look-ups are case-insensitive (the key is stored lower case). */
  g = get_sync(f, c, "B.Example");
  assert_int_equal(g->st, MTS_OK);
  assert_string_equal(g->domain, "b.example");
  assert_true(g->entry.has_policy);
  assert_string_equal(g->entry.id, "id1");
  assert_int_equal(g->entry.mode, MTS_STS_MODE_ENFORCE);
  assert_int_equal(g->entry.max_age, 86400);
  assert_int_equal(g->entry.fetched_at, 1700000000);
  assert_string_equal(g->entry.failed_id, "");
  assert_int_equal(g->updated_at, 1700000000);
  assert_int_equal(g->body_len, r1.body_len);
  assert_memory_equal(g->body, r1.body, r1.body_len);
  free(g);

  g = get_sync(f, c, "a.example");
  assert_int_equal(g->st, MTS_OK);
  assert_false(g->entry.has_policy);
  assert_false(g->has_body); /* NULL body stays NULL */
  assert_string_equal(g->entry.failed_id, "f00");
  assert_int_equal(g->entry.failed_at, 1234);
  free(g);

  g = get_sync(f, c, "c.example");
  assert_int_equal(g->st, MTS_OK);
  assert_true(g->has_body); /* an empty body is not "no body" */
  assert_int_equal(g->body_len, 0);
  assert_int_equal(g->entry.mode, MTS_STS_MODE_NONE);
  free(g);

  g = get_sync(f, c, "missing.example");
  assert_int_equal(g->st, MTS_ENOTFOUND);
  free(g);

  d.in_call = true;
  assert_int_equal(mts_cache_del(c, "b.example", tdone_cb, &d), MTS_OK);
  d.in_call = false;
  assert_true(trun_until(&f->loop, &d.done, 5000));
  assert_false(d.reentrant);
  assert_int_equal(d.st, MTS_OK);
  g = get_sync(f, c, "b.example");
  assert_int_equal(g->st, MTS_ENOTFOUND);
  free(g);

  scan_sync(f, c, &sc);
  assert_int_equal(sc.d.st, MTS_OK);
  assert_int_equal(sc.seen, 2);
  assert_string_equal(sc.order[0], "a.example");
  assert_string_equal(sc.order[1], "c.example");

  /* A put with a NULL callback still happens. */
  assert_int_equal(mts_cache_put(c, &r1, NULL, NULL), MTS_OK);
  g = get_sync(f, c, "b.example");
  assert_int_equal(g->st, MTS_OK);
  free(g);

  fx_close(f, c);
  fx_free(f);
}

static void test_sqlite_invalid_args(void **state) {
  struct fx *f = fx_new();
  struct mts_cache *c = fx_open(f);
  struct mts_cache_record r = trec("ok.example", "1", MTS_STS_MODE_ENFORCE, 1,
                                   1, NULL);
  struct mts_cache *none = NULL;
  char longname[300];
  struct tget g;

  (void)state;
  memset(longname, 'a', sizeof(longname) - 1);
  longname[sizeof(longname) - 1] = '\0';
  assert_int_equal(mts_cache_get(c, "x.example", NULL, NULL), MTS_EINVAL);
  assert_int_equal(mts_cache_get(c, NULL, tget_cb, &g), MTS_EINVAL);
  assert_int_equal(mts_cache_get(c, longname, tget_cb, &g), MTS_EINVAL);
  assert_int_equal(mts_cache_get(c, "a b", tget_cb, &g), MTS_EINVAL);
  assert_int_equal(mts_cache_get(NULL, "a", tget_cb, &g), MTS_EINVAL);
  assert_int_equal(mts_cache_del(c, "", NULL, NULL), MTS_EINVAL);
  assert_int_equal(mts_cache_scan(c, NULL, NULL, NULL), MTS_EINVAL);
  r.entry.max_age = -5;
  assert_int_equal(mts_cache_put(c, &r, NULL, NULL), MTS_EINVAL);
  assert_int_equal(mts_cache_put(c, NULL, NULL, NULL), MTS_EINVAL);
  assert_string_equal(mts_cache_name(NULL), "none");
  mts_cache_destroy(NULL);
  assert_int_equal(mts_cache_sqlite_create(f->ctx, &f->loop, "", &none),
                   MTS_EINVAL);
  assert_null(none);
  fx_close(f, c);
  fx_free(f);
}

static void test_sqlite_reopen_persists(void **state) {
  struct fx *f = fx_new();
  struct mts_cache *c = fx_open(f);
  struct mts_cache_record r = trec("persist.example", "v2",
                                   MTS_STS_MODE_TESTING, 604800, 1600000000,
                                   "version: STSv1\nmode: testing\n");
  struct tget *g;

  (void)state;
  put_sync(f, c, &r);
  fx_close(f, c);
  c = fx_open(f);
  g = get_sync(f, c, "persist.example");
  assert_int_equal(g->st, MTS_OK);
  assert_string_equal(g->entry.id, "v2");
  assert_int_equal(g->entry.mode, MTS_STS_MODE_TESTING);
  assert_memory_equal(g->body, r.body, r.body_len);
  free(g);
  fx_close(f, c);
  fx_free(f);
}

static void write_file(const char *path, const void *data, size_t n) {
  FILE *fp = fopen(path, "wb");

  assert_non_null(fp);
  assert_int_equal(fwrite(data, 1, n, fp), n);
  assert_int_equal(fclose(fp), 0);
}

static void expect_open_fails(struct fx *f, const char *path,
                              const char *log_part) {
  struct mts_cache *c = (struct mts_cache *)&c;
  enum mts_status st;

  f->log.len = 0;
  f->log.text[0] = '\0';
  st = mts_cache_sqlite_create(f->ctx, &f->loop, path, &c);
  if (st != MTS_EIO) {
    fail_msg("open %s: got %s, want EIO", path, mts_status_name(st));
  }
  assert_null(c);
  if (!tlog_has(&f->log, log_part)) {
    fail_msg("open %s: log lacks \"%s\": %s", path, log_part, f->log.text);
  }
}

static void test_sqlite_garbage_file(void **state) {
  struct fx *f = fx_new();
  uint8_t junk[8192];
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(junk); i++) {
    junk[i] = (uint8_t)(i * 7 + 3);
  }
  write_file(f->path, junk, sizeof(junk));
  expect_open_fails(f, f->path, "file is not a database");
  /* The file was left as it was. */
  {
    struct stat sb;

    assert_int_equal(stat(f->path, &sb), 0);
    assert_int_equal(sb.st_size, sizeof(junk));
  }
  fx_free(f);
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

static void test_sqlite_newer_schema(void **state) {
  struct fx *f = fx_new();
  struct mts_cache *c = fx_open(f);

  (void)state;
  fx_close(f, c);
  sql_exec(f->path, "PRAGMA user_version = 2");
  expect_open_fails(f, f->path, "schema version 2 is newer");
  fx_free(f);
}

static void test_sqlite_foreign_db(void **state) {
  struct fx *f = fx_new();

  (void)state;
  sql_exec(f->path, "CREATE TABLE t(x); INSERT INTO t VALUES(1);");
  expect_open_fails(f, f->path, "not an mtasts cache");
  fx_free(f);
}

static void test_sqlite_world_writable(void **state) {
  struct fx *f = fx_new();
  struct mts_cache *c = fx_open(f);

  (void)state;
  fx_close(f, c);
  assert_int_equal(chmod(f->path, 0666), 0);
  expect_open_fails(f, f->path, "world-writable");
  assert_int_equal(chmod(f->path, 0600), 0);
  c = fx_open(f); /* fine again once fixed */
  fx_close(f, c);
  fx_free(f);
}

static void test_sqlite_unwritable(void **state) {
  struct fx *f = fx_new();
  char path[256];
  pid_t pid;
  int status = -1;

  (void)state;
  snprintf(path, sizeof(path), "%s/no/such/dir/cache.db", f->dir);
  expect_open_fails(f, path, "unable to open database file");
  expect_open_fails(f, f->dir, "unable to open database file");

  /* A directory we may not write to: as root, drop to nobody in a child
   * (root ignores permission bits); otherwise chmod. */
  snprintf(path, sizeof(path), "%s/ro", f->dir);
  assert_int_equal(mkdir(path, 0555), 0);
  assert_int_equal(chmod(path, 0555), 0);
  snprintf(path, sizeof(path), "%s/ro/cache.db", f->dir);
  pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    struct mts_ctx *ctx = NULL;
    struct mts_cache *c = NULL;
    uv_loop_t loop;
    enum mts_status st;

    if (geteuid() == 0) {
      struct passwd *pw = getpwnam("nobody");

      if (pw == NULL || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
        _exit(3);
      }
    }
    if (mts_ctx_create(NULL, &ctx) != MTS_OK || uv_loop_init(&loop) != 0) {
      _exit(4);
    }
    st = mts_cache_sqlite_create(ctx, &loop, path, &c);
    _exit(st == MTS_EIO && c == NULL ? 0 : 10 + (int)st);
  }
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  if (WEXITSTATUS(status) != 0) {
    fail_msg("unwritable dir: child exit %d, want 0", WEXITSTATUS(status));
  }
  fx_free(f);
}

/* Many puts in flight at once, several per domain: every callback runs
 * once, not inside its call, and the last put of each domain wins. */
struct cput {
  struct tdone d[200];
};

static void test_sqlite_concurrent_puts(void **state) {
  struct fx *f = fx_new();
  struct mts_cache *c = fx_open(f);
  struct cput *cp = calloc(1, sizeof(*cp));
  char names[20][32];
  int i, v;
  bool all = false;
  uint64_t end;

  (void)state;
  assert_non_null(cp);
  for (v = 0; v < 10; v++) {
    for (i = 0; i < 20; i++) {
      char id[16];
      struct mts_cache_record r;
      struct tdone *d = &cp->d[v * 20 + i];

      snprintf(names[i], sizeof(names[i]), "d%02d.example", i);
      snprintf(id, sizeof(id), "v%d", v);
      r = trec(names[i], id, MTS_STS_MODE_ENFORCE, 100 + v, v, "body");
      d->in_call = true;
      assert_int_equal(mts_cache_put(c, &r, tdone_cb, d), MTS_OK);
      d->in_call = false;
    }
  }
  end = tnow_ms() + 10000;
  while (!all && tnow_ms() < end) {
    trun_until(&f->loop, &all, 20);
    all = true;
    for (i = 0; i < 200; i++) {
      all &= cp->d[i].done;
    }
  }
  assert_true(all);
  for (i = 0; i < 200; i++) {
    assert_int_equal(cp->d[i].calls, 1);
    assert_false(cp->d[i].reentrant);
    assert_int_equal(cp->d[i].st, MTS_OK);
  }
  for (i = 0; i < 20; i++) {
    struct tget *g = get_sync(f, c, names[i]);

    assert_int_equal(g->st, MTS_OK);
    assert_string_equal(g->entry.id, "v9");
    assert_int_equal(g->entry.max_age, 109);
    free(g);
  }
  free(cp);
  fx_close(f, c);
  fx_free(f);
}

/* Bodies large enough that a scan spans several pages; early stop. */
static void test_sqlite_scan_pages(void **state) {
  struct fx *f = fx_new();
  struct mts_cache *c = fx_open(f);
  struct tscan sc;
  char *body = malloc(60001);
  int i;

  (void)state;
  assert_non_null(body);
  memset(body, 'p', 60000);
  body[60000] = '\0';
  for (i = 0; i < 12; i++) {
    char name[32];
    struct mts_cache_record r;

    snprintf(name, sizeof(name), "s%02d.example", i);
    r = trec(name, "x", MTS_STS_MODE_ENFORCE, 1, 1, body);
    put_sync(f, c, &r);
  }
  memset(&sc, 0, sizeof(sc));
  scan_sync(f, c, &sc);
  assert_int_equal(sc.d.st, MTS_OK);
  assert_int_equal(sc.seen, 12);
  assert_int_equal(sc.body_total, 12 * 60000);
  for (i = 0; i < 12; i++) {
    char name[32];

    snprintf(name, sizeof(name), "s%02d.example", i);
    assert_string_equal(sc.order[i], name);
  }
  memset(&sc, 0, sizeof(sc));
  sc.stop_after = 5;
  scan_sync(f, c, &sc);
  assert_int_equal(sc.d.st, MTS_OK);
  assert_int_equal(sc.seen, 5);
  free(body);
  fx_close(f, c);
  fx_free(f);
}

/* Rows written behind our back are checked, not trusted. */
static void test_sqlite_bad_rows(void **state) {
  struct fx *f = fx_new();
  struct mts_cache *c = fx_open(f);
  struct mts_cache_record good = trec("good.example", "g1",
                                      MTS_STS_MODE_ENFORCE, 10, 10, "b");
  struct tscan sc = {0};
  struct tget *g;

  (void)state;
  put_sync(f, c, &good);
  sql_exec(f->path,
           "INSERT INTO policies VALUES('badmode.example',1,'a','strict',1,"
           "1,'',0,NULL,1);"
           "INSERT INTO policies VALUES('badid.example',1,"
           "'0123456789012345678901234567890123',"
           "'enforce',1,1,'',0,NULL,1);"
           "INSERT INTO policies VALUES('bigbody.example',1,'a','enforce',1,"
           "1,'',0,zeroblob(65537),1);"
           "INSERT INTO policies VALUES('type.example','yes','a','enforce',1,"
           "1,'',0,NULL,1);"
           "INSERT INTO policies VALUES('BAD DOMAIN',1,'a','enforce',1,"
           "1,'',0,NULL,1);"
           "INSERT INTO policies VALUES('age.example',1,'a','enforce',-7,"
           "1,'',0,NULL,1);");
  f->log.len = 0;
  scan_sync(f, c, &sc);
  assert_int_equal(sc.d.st, MTS_OK);
  assert_int_equal(sc.seen, 1);
  assert_string_equal(sc.order[0], "good.example");
  assert_true(tlog_has(&f->log, "ignored"));

  f->log.len = 0;
  g = get_sync(f, c, "badmode.example");
  assert_int_equal(g->st, MTS_ENOTFOUND);
  assert_true(tlog_has(&f->log, "bad mode"));
  free(g);
  g = get_sync(f, c, "bigbody.example");
  assert_int_equal(g->st, MTS_ENOTFOUND);
  free(g);
  g = get_sync(f, c, "badid.example");
  assert_int_equal(g->st, MTS_ENOTFOUND);
  free(g);
  fx_close(f, c);
  fx_free(f);
}

/* Two stores on one file (two daemons sharing a disk): WAL and the busy
 * timeout let both write, and each sees the other's rows. */
static void test_sqlite_two_stores(void **state) {
  struct fx *f = fx_new();
  struct mts_cache *c1 = fx_open(f);
  struct mts_cache *c2 = fx_open(f);
  struct mts_cache_record r1 = trec("one.example", "1", MTS_STS_MODE_ENFORCE,
                                    1, 1, "1");
  struct mts_cache_record r2 = trec("two.example", "2", MTS_STS_MODE_ENFORCE,
                                    1, 1, "2");
  struct tget *g;

  (void)state;
  put_sync(f, c1, &r1);
  put_sync(f, c2, &r2);
  g = get_sync(f, c2, "one.example");
  assert_int_equal(g->st, MTS_OK);
  free(g);
  g = get_sync(f, c1, "two.example");
  assert_int_equal(g->st, MTS_OK);
  free(g);
  fx_close(f, c1);
  fx_close(f, c2);
  fx_free(f);
}

/* destroy with work queued: writes finish (and report OK), every
 * callback has run once when destroy returns. */
static void test_sqlite_destroy_pending(void **state) {
  struct fx *f = fx_new();
  struct mts_cache *c = fx_open(f);
  struct tdone d[30];
  struct tget *g = calloc(1, sizeof(*g));
  struct tscan sc = {0};
  int i;

  (void)state;
  memset(d, 0, sizeof(d));
  for (i = 0; i < 30; i++) {
    char name[32];
    struct mts_cache_record r;

    snprintf(name, sizeof(name), "p%02d.example", i);
    r = trec(name, "x", MTS_STS_MODE_ENFORCE, 1, 1, "body");
    assert_int_equal(mts_cache_put(c, &r, tdone_cb, &d[i]), MTS_OK);
  }
  assert_int_equal(mts_cache_get(c, "p00.example", tget_cb, g), MTS_OK);
  assert_int_equal(mts_cache_scan(c, tscan_each, tscan_done, &sc), MTS_OK);
  mts_cache_destroy(c);
  for (i = 0; i < 30; i++) {
    assert_int_equal(d[i].calls, 1);
    assert_int_equal(d[i].st, MTS_OK);
  }
  assert_int_equal(g->calls, 1);
  assert_true(g->st == MTS_OK || g->st == MTS_ECANCELED);
  assert_int_equal(sc.d.calls, 1);
  assert_true(sc.d.st == MTS_OK || sc.d.st == MTS_ECANCELED);
  trun_close(&f->loop);
  free(g);

  c = fx_open(f);
  g = get_sync(f, c, "p29.example");
  assert_int_equal(g->st, MTS_OK);
  free(g);
  fx_close(f, c);
  fx_free(f);
}

/* destroy from inside a callback: the other callbacks still run once. */
struct dic {
  struct mts_cache *c;
  int calls;
  struct tdone later[5];
};

static void dic_get_cb(void *arg, enum mts_status st,
                       const struct mts_cache_record *rec) {
  struct dic *x = arg;

  (void)st;
  (void)rec;
  x->calls++;
  mts_cache_destroy(x->c);
  /* Calls after destroy are refused, not queued. */
  assert_int_equal(mts_cache_del(x->c, "a.example", NULL, NULL),
                   MTS_ECANCELED);
}

static void test_sqlite_destroy_in_callback(void **state) {
  struct fx *f = fx_new();
  struct dic x;
  int i;

  (void)state;
  memset(&x, 0, sizeof(x));
  x.c = fx_open(f);
  assert_int_equal(mts_cache_get(x.c, "a.example", dic_get_cb, &x), MTS_OK);
  for (i = 0; i < 5; i++) {
    struct mts_cache_record r = trec("z.example", "x", MTS_STS_MODE_ENFORCE,
                                     1, 1, NULL);

    assert_int_equal(mts_cache_put(x.c, &r, tdone_cb, &x.later[i]), MTS_OK);
  }
  /* Until the last call is answered (bounded), not a fixed time. */
  assert_true(trun_until(&f->loop, &x.later[4].done, mts_test_ms(10000)));
  assert_int_equal(x.calls, 1);
  for (i = 0; i < 5; i++) {
    assert_int_equal(x.later[i].calls, 1);
    assert_int_equal(x.later[i].st, MTS_OK);
  }
  fx_free(f);
}

/* kill -9 after the callbacks: every acknowledged record is there. */
#define KILL_N 200

static void kill_child(const char *path, int wfd) {
  struct mts_ctx *ctx = NULL;
  struct mts_cache *c = NULL;
  uv_loop_t loop;
  struct tdone *d = calloc(KILL_N, sizeof(*d));
  int i, ndone = 0;
  char ok = 'k';

  if (d == NULL || mts_ctx_create(NULL, &ctx) != MTS_OK ||
      uv_loop_init(&loop) != 0 ||
      mts_cache_sqlite_create(ctx, &loop, path, &c) != MTS_OK) {
    _exit(2);
  }
  for (i = 0; i < KILL_N; i++) {
    char name[32], id[16];
    struct mts_cache_record r;

    snprintf(name, sizeof(name), "k%03d.example", i);
    snprintf(id, sizeof(id), "id%d", i);
    r = trec(name, id, MTS_STS_MODE_ENFORCE, 86400, i, "version: STSv1\n");
    if (mts_cache_put(c, &r, tdone_cb, &d[i]) != MTS_OK) {
      _exit(3);
    }
  }
  while (ndone < KILL_N) {
    uv_run(&loop, UV_RUN_ONCE);
    for (ndone = 0, i = 0; i < KILL_N; i++) {
      if (d[i].done && d[i].st != MTS_OK) {
        _exit(4);
      }
      ndone += d[i].done ? 1 : 0;
    }
  }
  if (write(wfd, &ok, 1) != 1) {
    _exit(5);
  }
  for (;;) {
    pause(); /* wait for SIGKILL, store still open */
  }
}

static void test_sqlite_kill9_durability(void **state) {
  struct fx *f = fx_new();
  int fds[2];
  pid_t pid;
  struct pollfd pfd;
  char b = 0;
  int status, i;
  struct mts_cache *c;
  struct tscan sc = {0};

  (void)state;
  assert_int_equal(pipe(fds), 0);
  pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    kill_child(f->path, fds[1]);
  }
  close(fds[1]);
  pfd.fd = fds[0];
  pfd.events = POLLIN;
  if (poll(&pfd, 1, 30000) != 1 || read(fds[0], &b, 1) != 1 || b != 'k') {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    fail_msg("child did not acknowledge its puts (exit %d)",
             WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  }
  assert_int_equal(kill(pid, SIGKILL), 0);
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFSIGNALED(status));
  close(fds[0]);

  c = fx_open(f);
  scan_sync(f, c, &sc);
  assert_int_equal(sc.d.st, MTS_OK);
  assert_int_equal(sc.seen, KILL_N);
  for (i = 0; i < KILL_N; i += 37) {
    char name[32], id[16];
    struct tget *g;

    snprintf(name, sizeof(name), "k%03d.example", i);
    snprintf(id, sizeof(id), "id%d", i);
    g = get_sync(f, c, name);
    assert_int_equal(g->st, MTS_OK);
    assert_string_equal(g->entry.id, id);
    assert_int_equal(g->entry.fetched_at, i);
    free(g);
  }
  fx_close(f, c);
  fx_free(f);
}

/* The whole store under allocation failure: create, put, get, scan,
 * destroy; each injected failure surfaces as ENOMEM and leaks nothing
 * (cmocka checks the blocks at the end of the test). */
/* ---- the file lost under a running store ---- */

enum lose_how { LOSE_REMOVE, LOSE_TRUNCATE, LOSE_OVERWRITE, LOSE_REPLACE };

struct lose_case {
  const char *name;
  enum lose_how how;
  const char *log_part; /* why the store made a new file */
  bool aside;           /* the damaged file was kept next to it */
};

static const struct lose_case lose_cases[] = {
    {"removed (rm)", LOSE_REMOVE, "the file was removed; making a new one",
     false},
    {"truncated to 0", LOSE_TRUNCATE,
     "the file is damaged (truncated or overwritten); moved to", true},
    {"header overwritten", LOSE_OVERWRITE,
     "the file is damaged (truncated or overwritten); moved to", true},
    {"replaced by another store's file (mv)", LOSE_REPLACE,
     "the file was replaced by another; making a new one", false},
};

static void reset_cb(void *arg) { (*(int *)arg)++; }

/* Files in \p dir whose name starts with \p prefix. */
static int count_files(const char *dir, const char *prefix) {
  DIR *d = opendir(dir);
  struct dirent *e;
  int n = 0;

  assert_non_null(d);
  while ((e = readdir(d)) != NULL) {
    n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
  }
  (void)closedir(d);
  return n;
}

static void lose_file(struct fx *f, const struct lose_case *lc) {
  char other[160];
  struct mts_cache *c2;
  struct mts_cache_record x = trec("other.example", "o1",
                                   MTS_STS_MODE_ENFORCE, 86400, 1600000000,
                                   "version: STSv1\nmode: enforce\n");
  int fd;

  switch (lc->how) {
  case LOSE_REMOVE:
    assert_int_equal(unlink(f->path), 0);
    break;
  case LOSE_TRUNCATE:
    assert_int_equal(truncate(f->path, 0), 0);
    break;
  case LOSE_OVERWRITE:
    fd = open(f->path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "garbage garbage garbage", 23, 0), 23);
    assert_int_equal(close(fd), 0);
    break;
  case LOSE_REPLACE:
    /* A valid store with other contents moved over the path. */
    snprintf(other, sizeof(other), "%s/other.db", f->dir);
    assert_int_equal(mts_cache_sqlite_create(f->ctx, &f->loop, other, &c2),
                     MTS_OK);
    put_sync(f, c2, &x);
    fx_close(f, c2);
    assert_int_equal(rename(other, f->path), 0);
    break;
  }
}

/* The store notices at the next write, makes a new file (or opens the
 * one moved in), asks its owner to write back, and works again; the
 * new file persists. */
static void test_sqlite_file_lost_table(void **state) {
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(lose_cases) / sizeof(lose_cases[0]); i++) {
    const struct lose_case *lc = &lose_cases[i];
    struct fx *f = fx_new();
    struct mts_cache *c = fx_open(f);
    struct mts_cache_record a = trec("a.example", "a1", MTS_STS_MODE_ENFORCE,
                                     86400, 1600000000, "A");
    struct mts_cache_record b = trec("b.example", "b1", MTS_STS_MODE_TESTING,
                                     86400, 1600000000, "B");
    struct tdone d = {0};
    struct tget *g;
    int resets = 0;

    mts_cache_on_reset(c, reset_cb, &resets);
    put_sync(f, c, &a);
    lose_file(f, lc);
    f->log.len = 0;
    f->log.text[0] = '\0';
    /* The write that finds the loss fails; the reset follows it. */
    assert_int_equal(mts_cache_put(c, &b, tdone_cb, &d), MTS_OK);
    assert_true(trun_until(&f->loop, &d.done, 5000));
    if (d.st != MTS_EIO || resets != 1 || !tlog_has(&f->log, lc->log_part) ||
        !tlog_has(&f->log, "a new file is open")) {
      fail_msg("%s: put %s, %d reset(s); log: %s", lc->name,
               mts_status_name(d.st), resets, f->log.text);
    }
    assert_int_equal(count_files(f->dir, "cache.db.damaged-"),
                     lc->aside ? 1 : 0);
    /* Written back by the owner, as the resolver does. */
    put_sync(f, c, &b);
    g = get_sync(f, c, "a.example");
    if (g->st != MTS_ENOTFOUND) { /* the old contents are gone */
      fail_msg("%s: a.example in the new file: %s", lc->name,
               mts_status_name(g->st));
    }
    free(g);
    g = get_sync(f, c, "other.example");
    assert_int_equal(g->st, lc->how == LOSE_REPLACE ? MTS_OK : MTS_ENOTFOUND);
    free(g);
    mts_cache_on_reset(c, NULL, NULL);
    fx_close(f, c);
    c = fx_open(f);
    g = get_sync(f, c, "b.example");
    if (g->st != MTS_OK) {
      fail_msg("%s: b.example after reopening: %s", lc->name,
               mts_status_name(g->st));
    }
    free(g);
    assert_int_equal(resets, 1);
    fx_close(f, c);
    fx_free(f);
  }
}

/* Two stores on one file, the file removed: the first makes a new file;
 * the second, finding a file that is not the one it opened, opens it
 * and leaves its WAL alone (removing it would lose the first's commits). */
static void test_sqlite_file_lost_shared(void **state) {
  struct fx *f = fx_new();
  struct mts_cache *c1 = fx_open(f), *c2 = fx_open(f);
  struct mts_cache_record a = trec("a.example", "a1", MTS_STS_MODE_ENFORCE,
                                   86400, 1600000000, "A");
  struct mts_cache_record b = trec("b.example", "b1", MTS_STS_MODE_ENFORCE,
                                   86400, 1600000000, "B");
  struct tdone d1 = {0}, d2 = {0};
  struct tget *g;
  int r1 = 0, r2 = 0;

  (void)state;
  mts_cache_on_reset(c1, reset_cb, &r1);
  mts_cache_on_reset(c2, reset_cb, &r2);
  put_sync(f, c1, &a);
  assert_int_equal(unlink(f->path), 0);
  assert_int_equal(mts_cache_put(c1, &a, tdone_cb, &d1), MTS_OK);
  assert_true(trun_until(&f->loop, &d1.done, 5000));
  assert_int_equal(r1, 1); /* c1 made the new file */
  put_sync(f, c1, &a);
  assert_int_equal(mts_cache_put(c2, &b, tdone_cb, &d2), MTS_OK);
  assert_true(trun_until(&f->loop, &d2.done, 5000));
  assert_int_equal(r2, 1); /* c2 opened it */
  if (!tlog_has(&f->log, "the file was replaced by another")) {
    fail_msg("log: %s", f->log.text);
  }
  put_sync(f, c2, &b);
  put_sync(f, c1, &b);
  g = get_sync(f, c2, "a.example"); /* c1's commit, seen by c2 */
  assert_int_equal(g->st, MTS_OK);
  free(g);
  mts_cache_on_reset(c1, NULL, NULL);
  mts_cache_on_reset(c2, NULL, NULL);
  fx_close(f, c1);
  fx_close(f, c2);
  c1 = fx_open(f);
  g = get_sync(f, c1, "a.example");
  assert_int_equal(g->st, MTS_OK);
  free(g);
  g = get_sync(f, c1, "b.example");
  assert_int_equal(g->st, MTS_OK);
  free(g);
  fx_close(f, c1);
  fx_free(f);
}

struct reset_flag {
  int n;
  bool done;
};

static void reset_flag_cb(void *arg) {
  struct reset_flag *rf = arg;

  rf->n++;
  rf->done = true;
}

/* A store that cannot open its file: made closed by the retrying create
 * (calls fail at once with EUNAVAIL), opened by itself once the file can
 * be made, with a reset; then a directory takes the path: no new file
 * can be made, and calls fail at once again, never touching a closed
 * connection. */
static void test_sqlite_retrying(void **state) {
  struct fx *f = fx_new();
  struct mts_cache *c = NULL;
  struct mts_cache_record a = trec("a.example", "a1", MTS_STS_MODE_ENFORCE,
                                   86400, 1600000000, "A");
  struct tdone d = {0}, d2 = {0};
  struct tget *g;
  struct reset_flag rf = {0};
  char sub[96];

  (void)state;
  snprintf(sub, sizeof(sub), "%.64s/later", f->dir);
  snprintf(f->path, sizeof(f->path), "%s/cache.db", sub);
  assert_int_equal(mts_cache_sqlite_create(f->ctx, &f->loop, f->path, &c),
                   MTS_EIO);
  assert_null(c);
  assert_int_equal(
      mts_cache_sqlite_create_retrying(f->ctx, &f->loop, f->path, &c), MTS_OK);
  assert_non_null(c);
  if (!tlog_has(&f->log, "no usable file (I/O error); answering from memory, "
                         "trying again in 10 s")) {
    fail_msg("log: %s", f->log.text);
  }
  mts_cache_on_reset(c, reset_flag_cb, &rf);
  g = get_sync(f, c, "a.example");
  assert_int_equal(g->st, MTS_EUNAVAIL);
  free(g);
  assert_int_equal(mkdir(sub, 0700), 0);
  /* The check every 10 s finds it can open the file now. */
  assert_true(trun_until(&f->loop, &rf.done, 15000));
  assert_int_equal(rf.n, 1);
  put_sync(f, c, &a);

  /* A directory takes the path of the file. */
  mts_cache_on_reset(c, reset_cb, &rf.n);
  assert_int_equal(unlink(f->path), 0);
  assert_int_equal(mkdir(f->path, 0700), 0);
  f->log.len = 0;
  f->log.text[0] = '\0';
  assert_int_equal(mts_cache_put(c, &a, tdone_cb, &d), MTS_OK);
  assert_true(trun_until(&f->loop, &d.done, 5000));
  assert_int_equal(d.st, MTS_EIO);
  assert_int_equal(rf.n, 1);
  if (!tlog_has(&f->log, "the file was replaced by another") ||
      !tlog_has(&f->log, "no usable file")) {
    fail_msg("log: %s", f->log.text);
  }
  assert_int_equal(mts_cache_put(c, &a, tdone_cb, &d2), MTS_OK);
  assert_true(trun_until(&f->loop, &d2.done, 5000));
  assert_int_equal(d2.st, MTS_EUNAVAIL);
  g = get_sync(f, c, "a.example");
  assert_int_equal(g->st, MTS_EUNAVAIL);
  free(g);
  fx_close(f, c);
  assert_int_equal(rmdir(f->path), 0);
  fx_free(f);
}

struct sweep_arg {
  char path[128];
};

static enum mts_status store_op(struct mts_ctx *ctx, void *arg) {
  struct sweep_arg *sa = arg;
  uv_loop_t loop;
  struct mts_cache *c = NULL;
  struct mts_cache_record r = trec("sweep.example", "s1",
                                   MTS_STS_MODE_ENFORCE, 10, 10, "body");
  struct tdone d = {0};
  struct tget *g = calloc(1, sizeof(*g));
  struct tscan *sc = calloc(1, sizeof(*sc));
  enum mts_status st;

  assert_non_null(g);
  assert_non_null(sc);
  assert_int_equal(uv_loop_init(&loop), 0);
  st = mts_cache_sqlite_create(ctx, &loop, sa->path, &c);
  if (st != MTS_OK) {
    goto done;
  }
  st = mts_cache_put(c, &r, tdone_cb, &d);
  if (st != MTS_OK) {
    goto done;
  }
  trun_until(&loop, &d.done, 5000);
  assert_int_equal(d.st, MTS_OK);
  st = mts_cache_get(c, "sweep.example", tget_cb, g);
  if (st != MTS_OK) {
    goto done;
  }
  trun_until(&loop, &g->done, 5000);
  assert_int_equal(g->st, MTS_OK);
  st = mts_cache_scan(c, tscan_each, tscan_done, sc);
  if (st != MTS_OK) {
    goto done;
  }
  trun_until(&loop, &sc->d.done, 5000);
  assert_int_equal(sc->seen, 1);
done:
  mts_cache_destroy(c);
  trun_close(&loop);
  assert_int_equal(uv_loop_close(&loop), 0);
  free(g);
  free(sc);
  return st;
}

static void test_sqlite_alloc_sweep(void **state) {
  struct sweep_arg sa;
  char dir[64];

  (void)state;
  ttmpdir(dir, sizeof(dir));
  snprintf(sa.path, sizeof(sa.path), "%s/sweep.db", dir);
  assert_true(mts_test_alloc_sweep(store_op, &sa) >= 5);
  trmtree(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_record_check_table),
      cmocka_unit_test(test_record_decode_no_body),
      cmocka_unit_test(test_record_ttl_table),
      cmocka_unit_test(test_record_parse_i64),
      cmocka_unit_test(test_record_alloc_sweep),
      cmocka_unit_test(test_sqlite_roundtrip),
      cmocka_unit_test(test_sqlite_invalid_args),
      cmocka_unit_test(test_sqlite_reopen_persists),
      cmocka_unit_test(test_sqlite_garbage_file),
      cmocka_unit_test(test_sqlite_newer_schema),
      cmocka_unit_test(test_sqlite_foreign_db),
      cmocka_unit_test(test_sqlite_world_writable),
      cmocka_unit_test(test_sqlite_unwritable),
      cmocka_unit_test(test_sqlite_concurrent_puts),
      cmocka_unit_test(test_sqlite_scan_pages),
      cmocka_unit_test(test_sqlite_bad_rows),
      cmocka_unit_test(test_sqlite_two_stores),
      cmocka_unit_test(test_sqlite_destroy_pending),
      cmocka_unit_test(test_sqlite_destroy_in_callback),
      cmocka_unit_test(test_sqlite_kill9_durability),
      cmocka_unit_test(test_sqlite_file_lost_table),
      cmocka_unit_test(test_sqlite_file_lost_shared),
      cmocka_unit_test(test_sqlite_retrying),
      cmocka_unit_test(test_sqlite_alloc_sweep),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
