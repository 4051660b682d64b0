/*
 * rpt_agg.c - the sending side's TLS report store; see rpt_agg.h.
 *
 * Keys. A policy is identified by its type and `pkey`, a self-delimiting
 * encoding of its strings and mx hosts: per list "N" (unknown) or
 * "L<count>" followed by "<len>:<bytes>" per element. A failure detail
 * is identified by `dkey`, the same encoding of its seven optional
 * strings ("N" or "S<len>:<bytes>" each). Lengths make the encodings
 * injective whatever bytes the strings hold, and pkey decodes back into
 * the arrays of the report.
 *
 * One connection, one thread; every public call is one transaction
 * (BEGIN IMMEDIATE for writes, so two processes sharing the file
 * serialise on SQLite's lock with a busy timeout).
 */
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>
#include <uv.h>

#include <mtasts/rpt_agg.h>
#include <mtasts/utc.h>
#include <mtasts/rpt_report_write.h>

#include "core/arena_int.h"
#include "core/ascii_int.h"
#include "core/ctx_int.h"
#include "core/sqlite_int.h"
#include "rpt/rpt_report_int.h"
#include "core/strbuf_int.h"

#define AG_SCHEMA_VERSION 1
/* "MTSA". Until 2026-11-28 this was "MTSR", the report store's id, so
 * each accepted the other's file and failed at the first query; no
 * release had it, so no file of the old id is migrated. */
#define AG_APPLICATION_ID 0x4d545341
#define AG_BUSY_TIMEOUT_MS 10000

struct mts_rpt_agg {
  struct mts_ctx *ctx;
  struct mts_sqlite sql;
  char *host;
};

static const char ag_sql_schema[] =
    "CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL)"
    " WITHOUT ROWID;"
    "CREATE TABLE seen (session_id TEXT NOT NULL, source INTEGER NOT NULL,"
    " day INTEGER NOT NULL, PRIMARY KEY (session_id, source)) WITHOUT ROWID;"
    "CREATE INDEX seen_day ON seen (day);"
    "CREATE TABLE policies (id INTEGER PRIMARY KEY, day INTEGER NOT NULL,"
    " domain TEXT NOT NULL, tlsrpt TEXT NOT NULL, ptype INTEGER NOT NULL,"
    " pdomain TEXT NOT NULL, pkey TEXT NOT NULL, host TEXT NOT NULL,"
    " success INTEGER NOT NULL DEFAULT 0, failure INTEGER NOT NULL DEFAULT 0,"
    " UNIQUE (day, domain, tlsrpt, ptype, pdomain, pkey, host));"
    "CREATE TABLE failures (policy INTEGER NOT NULL, dkey TEXT NOT NULL,"
    " result_type TEXT NOT NULL, sending_ip TEXT, mx_hostname TEXT,"
    " mx_helo TEXT, receiving_ip TEXT, additional TEXT, reason TEXT,"
    " count INTEGER NOT NULL, PRIMARY KEY (policy, dkey)) WITHOUT ROWID;"
    "CREATE TABLE reports (day INTEGER NOT NULL, domain TEXT NOT NULL,"
    " state INTEGER NOT NULL, next_at INTEGER NOT NULL,"
    " first_at INTEGER NOT NULL DEFAULT 0, last_error TEXT, json TEXT,"
    " PRIMARY KEY (day, domain)) WITHOUT ROWID;"
    "CREATE TABLE deliveries (day INTEGER NOT NULL, domain TEXT NOT NULL,"
    " rua TEXT NOT NULL, state TEXT NOT NULL,"
    " attempts INTEGER NOT NULL DEFAULT 0,"
    " first_at INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL,"
    " done_at INTEGER NOT NULL DEFAULT 0, last_error TEXT, lease_owner TEXT,"
    " lease_until INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY (day, domain, rua)) WITHOUT ROWID;";

/* ---- days ---- */

int64_t mts_rpt_agg_day(int64_t t) {
  int64_t d = t / MTS_RPT_DAY;

  if (t % MTS_RPT_DAY < 0) {
    d--;
  }
  return d * MTS_RPT_DAY;
}

void mts_rpt_agg_day_str(int64_t day, char buf[static 11]) {
  mts_utc_date_str(mts_rpt_agg_day(day), buf);
}

static bool dig(char c) { return c >= '0' && c <= '9'; }

enum mts_status mts_rpt_agg_day_parse(const char *s, int64_t *day) {
  return mts_utc_parse(s, MTS_UTC_DATE_ONLY, day);
}

/* ---- the failure-detail and policy keys (on core/strbuf) ---- */

static void b_fmt_len(struct mts_strbuf *b, char tag, size_t n) {
  mts_strbuf_printf(b, "%c%zu:", tag, n);
}

/* One optional string: "N" or "S<len>:<bytes>". */
static void b_opt(struct mts_strbuf *b, const char *s) {
  if (s == NULL) {
    mts_strbuf_put(b, "N", 1);
    return;
  }
  b_fmt_len(b, 'S', strlen(s));
  mts_strbuf_str(b, s);
}

/* One list: "N" or "L<count>:" then "<len>:<bytes>" per element. */
static void b_list(struct mts_strbuf *b, const char *const *v, size_t n,
                   bool known) {
  size_t i;

  if (!known) {
    mts_strbuf_put(b, "N", 1);
    return;
  }
  b_fmt_len(b, 'L', n);
  for (i = 0; i < n; i++) {
    const char *s = v[i] != NULL ? v[i] : "";

    mts_strbuf_printf(b, "%zu:", strlen(s));
    mts_strbuf_str(b, s);
  }
}

/* Decode a number up to ':' at *p. */
static bool d_num(const char **p, const char *end, size_t *out) {
  size_t v = 0;
  const char *s = *p;

  if (s >= end || !dig(*s)) {
    return false;
  }
  while (s < end && dig(*s)) {
    if (v > (SIZE_MAX - 9) / 10) {
      return false;
    }
    v = v * 10 + (size_t)(*s - '0');
    s++;
  }
  if (s >= end || *s != ':') {
    return false;
  }
  *p = s + 1;
  *out = v;
  return true;
}

/* Decode one list into the arena. \return 0 ok, -1 malformed, -2 OOM. */
static int d_list(struct mts_arena *a, const char **p, const char *end,
                  const char *const **out, size_t *n, bool *known) {
  size_t cnt, i;
  const char **v;

  *out = NULL;
  *n = 0;
  *known = false;
  if (*p >= end) {
    return -1;
  }
  if (**p == 'N') {
    (*p)++;
    return 0;
  }
  if (**p != 'L') {
    return -1;
  }
  (*p)++;
  if (!d_num(p, end, &cnt) || cnt > (size_t)(end - *p)) {
    return -1;
  }
  *known = true;
  if (cnt == 0) {
    return 0;
  }
  v = mts_arena_alloc(a, cnt * sizeof(*v));
  if (v == NULL) {
    return -2;
  }
  for (i = 0; i < cnt; i++) {
    size_t len;

    if (!d_num(p, end, &len) || len > (size_t)(end - *p)) {
      return -1;
    }
    v[i] = mts_arena_strndup(a, *p, len);
    if (v[i] == NULL) {
      return -2;
    }
    *p += len;
  }
  *out = v;
  *n = cnt;
  return 0;
}

/* ---- opening ---- */

/* A new store's salt: part of every report-id it builds (ag_salt), so
 * that two stores never build the same one. */
static enum mts_status ag_init_salt(struct mts_sqlite *s) {
  uint8_t salt[8];
  char hex[17];
  sqlite3_stmt *q = NULL;
  enum mts_status st;
  size_t i;

  if (uv_random(NULL, NULL, salt, sizeof(salt), 0, NULL) != 0) {
    mts_log(s->ctx, MTS_LOG_ERR, "report store: %.200s: no random bytes",
            s->path);
    return MTS_EIO;
  }
  for (i = 0; i < sizeof(salt); i++) {
    (void)snprintf(hex + 2 * i, 3, "%02x", salt[i]);
  }
  st = mts_sqlite_prepare(s, "INSERT INTO meta VALUES ('salt', ?1)", &q);
  if (st == MTS_OK) {
    mts_sqlite_bind_text(q, 1, hex);
    st = mts_sqlite_step_done(s, q, "salt");
  }
  (void)sqlite3_finalize(q);
  return st;
}

static const struct mts_sqlite_schema ag_schema = {
    .name = "report store",
    .kind = "an mtasts report store",
    .application_id = AG_APPLICATION_ID,
    .version = AG_SCHEMA_VERSION,
    .sql = ag_sql_schema,
    .busy_timeout_ms = AG_BUSY_TIMEOUT_MS,
    .private_file = true,
    .init = ag_init_salt,
};

static bool host_ok(const char *h) {
  size_t n = h != NULL ? strlen(h) : 0;
  size_t i;

  if (n == 0 || n > 255) {
    return false;
  }
  for (i = 0; i < n; i++) {
    if ((unsigned char)h[i] <= 0x20 || (unsigned char)h[i] >= 0x7f) {
      return false;
    }
  }
  return true;
}

enum mts_status mts_rpt_agg_open(struct mts_ctx *ctx, const char *path,
                                 const char *host, struct mts_rpt_agg **out) {
  struct mts_rpt_agg *g;
  enum mts_status st = MTS_ENOMEM;

  if (out != NULL) {
    *out = NULL;
  }
  if (ctx == NULL || path == NULL || out == NULL || !host_ok(host)) {
    return MTS_EINVAL;
  }
  g = mts_calloc(ctx, 1, sizeof(*g));
  if (g == NULL) {
    return MTS_ENOMEM;
  }
  g->ctx = ctx;
  g->host = mts_strdup(ctx, host);
  if (g->host != NULL) {
    st = mts_sqlite_open(&g->sql, ctx, path, &ag_schema);
  }
  if (st != MTS_OK) {
    mts_rpt_agg_close(g);
    return st;
  }
  *out = g;
  return MTS_OK;
}

void mts_rpt_agg_close(struct mts_rpt_agg *g) {
  if (g == NULL) {
    return;
  }
  mts_sqlite_close(&g->sql);
  mts_free(g->ctx, g->host);
  mts_free(g->ctx, g);
}

void mts_rpt_agg_free(struct mts_rpt_agg *g, void *p) {
  if (g != NULL) {
    mts_free(g->ctx, p);
  }
}

/* A write transaction on a file that is still ours: a file removed,
 * replaced or damaged under the running collector is noticed here and
 * replaced, keeping what can be kept (mts_sqlite_recover). */
static enum mts_status ag_begin(struct mts_rpt_agg *g) {
  enum mts_status st = mts_sqlite_watch(&g->sql);

  return st == MTS_OK ? mts_sqlite_begin(&g->sql) : st;
}

/* ---- adding events ---- */

static bool domain_ok(const char *d) {
  size_t n = d != NULL ? strlen(d) : 0;
  size_t i;

  if (n == 0 || n > 253) {
    return false;
  }
  for (i = 0; i < n; i++) {
    char c = d[i];

    if (!((c >= 'a' && c <= 'z') || dig(c) || c == '-' || c == '.' ||
          c == '_')) {
      return false;
    }
  }
  return true;
}

/*
 * A host name as the report writer takes it (RFC 8460 4.4: a name;
 * rpt_report_write refuses anything else, and with it the whole report):
 * \p h when it is one, else lower-cased without one trailing dot when
 * that makes one, else NULL (left out, AGG-4). The inputs hand names as
 * the MTA saw them ("Mail.Example.", an underscore, a U-label); one of
 * them must not cost the domain its day's report. Done when an event
 * is added, so that the keys group the same name once, and again when
 * a report is built (stores written before).
 */
static const char *ag_host(struct mts_arena *a, const char *h, bool wildcard,
                           bool *oom) {
  size_t n, i;
  char *c;

  if (h == NULL || (h[0] == '\0' && !wildcard)) {
    return h; /* "": no name (left out by the writer) */
  }
  if (h[0] == '\0') {
    return NULL; /* an empty mx-host pattern: dropped */
  }
  if (mts_rpt_ldh_host(h, strlen(h), wildcard)) {
    return h;
  }
  n = strlen(h);
  if (n > 1 && h[n - 1] == '.') {
    n--;
  }
  c = mts_arena_alloc(a, n + 1);
  if (c == NULL) {
    *oom = true;
    return NULL;
  }
  for (i = 0; i < n; i++) {
    c[i] = (char)mts_lower((uint8_t)h[i]);
  }
  c[n] = '\0';
  return mts_rpt_ldh_host(c, n, wildcard) ? c : NULL;
}

/* The mx-host patterns of \p in (\p n) that ag_host() keeps, cleaned,
 * into an arena array (*out, *nout); the others left out.
 * \return false when out of memory. */
static bool ag_mx_hosts(struct mts_arena *a, const char *const *in, size_t n,
                        const char *const **out, size_t *nout) {
  const char **mx;
  bool oom = false;
  size_t i, k = 0;

  *out = in;
  *nout = n;
  if (n == 0) {
    return true;
  }
  mx = mts_arena_alloc(a, n * sizeof(*mx));
  if (mx == NULL) {
    return false;
  }
  for (i = 0; i < n; i++) {
    const char *h = ag_host(a, in[i], true, &oom);

    if (h != NULL) {
      mx[k++] = h;
    }
  }
  *out = mx;
  *nout = k;
  return !oom;
}

static enum mts_status ag_add_failure(struct mts_rpt_agg *g, int64_t pid,
                                      const struct mts_rpt_failure *f) {
  struct mts_strbuf b;
  const char *rt = f->result_type != NULL && f->result_type[0] != '\0'
                       ? f->result_type
                       : "validation-failure";
  sqlite3_stmt *q = NULL;
  enum mts_status st;

  mts_strbuf_init(&b, g->ctx, 128, MTS_STRBUF_NOMAX);
  b_opt(&b, rt);
  b_opt(&b, f->sending_mta_ip);
  b_opt(&b, f->receiving_mx_hostname);
  b_opt(&b, f->receiving_mx_helo);
  b_opt(&b, f->receiving_ip);
  b_opt(&b, f->additional_information);
  b_opt(&b, f->failure_reason_code);
  if (mts_strbuf_status(&b) != MTS_OK) {
    mts_strbuf_cleanup(&b);
    return MTS_ENOMEM;
  }
  st = mts_sqlite_prepare(
      &g->sql,
      "INSERT INTO failures VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,"
      " ?9, 1) ON CONFLICT (policy, dkey) DO UPDATE SET"
      " count = count + 1",
      &q);
  if (st == MTS_OK) {
    (void)sqlite3_bind_int64(q, 1, pid);
    mts_sqlite_bind_text(q, 2, b.p);
    mts_sqlite_bind_text(q, 3, rt);
    mts_sqlite_bind_text(q, 4, f->sending_mta_ip);
    mts_sqlite_bind_text(q, 5, f->receiving_mx_hostname);
    mts_sqlite_bind_text(q, 6, f->receiving_mx_helo);
    mts_sqlite_bind_text(q, 7, f->receiving_ip);
    mts_sqlite_bind_text(q, 8, f->additional_information);
    mts_sqlite_bind_text(q, 9, f->failure_reason_code);
    st = mts_sqlite_step_done(&g->sql, q, "add failure");
  }
  (void)sqlite3_finalize(q);
  mts_strbuf_cleanup(&b);
  return st;
}

/* mts_rpt_agg_add() of an event whose host names are clean. */
static enum mts_status ag_add(struct mts_rpt_agg *g,
                              const struct mts_rpt_event *ev, bool *counted) {
  struct mts_strbuf key;
  sqlite3_stmt *q = NULL;
  enum mts_status st;
  int64_t day, pid = 0;
  size_t i;
  int rc;

  if (counted != NULL) {
    *counted = false;
  }
  if (g == NULL || ev == NULL || !domain_ok(ev->policy_domain) ||
      (ev->report_domain != NULL && !domain_ok(ev->report_domain)) ||
      ev->source < MTS_RPT_SRC_DATAGRAM || ev->source > MTS_RPT_SRC_DAEMON ||
      (ev->nfailures > 0 && ev->failures == NULL) ||
      (ev->npolicy_strings > 0 && ev->policy_strings == NULL) ||
      (ev->nmx_hosts > 0 && ev->mx_hosts == NULL) ||
      !mts_rpt_ldh_host(ev->policy_domain, strlen(ev->policy_domain), false) ||
      (ev->report_domain != NULL &&
       !mts_rpt_ldh_host(ev->report_domain, strlen(ev->report_domain),
                         false))) {
    /* a domain no report can name (the writer takes LDH names only) */
    return MTS_EINVAL;
  }
  day = mts_rpt_agg_day(ev->time);
  mts_strbuf_init(&key, g->ctx, 128, MTS_STRBUF_NOMAX);
  b_list(&key, ev->policy_strings, ev->npolicy_strings,
         ev->policy_strings != NULL);
  b_list(&key, ev->mx_hosts, ev->nmx_hosts, true);
  if (mts_strbuf_status(&key) != MTS_OK) {
    mts_strbuf_cleanup(&key);
    return MTS_ENOMEM;
  }
  st = ag_begin(g);
  if (st != MTS_OK) {
    mts_strbuf_cleanup(&key);
    return st;
  }
  if (ev->session_id != NULL && ev->session_id[0] != '\0') {
    st = mts_sqlite_prepare(
        &g->sql,
        "SELECT 1 FROM seen WHERE session_id = ?1 AND source <> ?2"
        " LIMIT 1",
        &q);
    if (st == MTS_OK) {
      mts_sqlite_bind_text(q, 1, ev->session_id);
      (void)sqlite3_bind_int(q, 2, (int)ev->source);
      rc = sqlite3_step(q);
      if (rc == SQLITE_ROW) {
        (void)sqlite3_finalize(q);
        mts_strbuf_cleanup(&key);
        return mts_sqlite_end(&g->sql, MTS_OK); /* counted by another input */
      }
      if (rc != SQLITE_DONE) {
        st = mts_sqlite_fail(&g->sql, rc, "seen");
      }
    }
    (void)sqlite3_finalize(q);
    q = NULL;
    if (st == MTS_OK) {
      st = mts_sqlite_prepare(
          &g->sql, "INSERT OR IGNORE INTO seen VALUES (?1, ?2, ?3)", &q);
    }
    if (st == MTS_OK) {
      mts_sqlite_bind_text(q, 1, ev->session_id);
      (void)sqlite3_bind_int(q, 2, (int)ev->source);
      (void)sqlite3_bind_int64(q, 3, day);
      st = mts_sqlite_step_done(&g->sql, q, "seen insert");
    }
    (void)sqlite3_finalize(q);
    q = NULL;
  }
  if (st == MTS_OK) {
    st = mts_sqlite_prepare(
        &g->sql,
        "INSERT INTO policies (day, domain, tlsrpt, ptype, pkey, host,"
        " success, failure, pdomain) VALUES (?1, ?2, ?3, ?4, ?5, ?6,"
        " ?7, ?8, ?9) ON CONFLICT (day, domain, tlsrpt, ptype,"
        " pdomain, pkey, host) DO"
        " UPDATE SET success = success + excluded.success,"
        " failure = failure + excluded.failure RETURNING id",
        &q);
  }
  if (st == MTS_OK) {
    (void)sqlite3_bind_int64(q, 1, day);
    mts_sqlite_bind_text(q, 2,
                         ev->report_domain != NULL ? ev->report_domain
                                                   : ev->policy_domain);
    mts_sqlite_bind_text(q, 3,
                         ev->tlsrpt_record != NULL ? ev->tlsrpt_record : "");
    mts_sqlite_bind_text(q, 9, ev->policy_domain);
    (void)sqlite3_bind_int(q, 4, (int)ev->policy_type);
    mts_sqlite_bind_text(q, 5, key.p);
    mts_sqlite_bind_text(q, 6, g->host);
    (void)sqlite3_bind_int(q, 7, ev->success ? 1 : 0);
    (void)sqlite3_bind_int(q, 8, ev->success ? 0 : 1);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
      pid = sqlite3_column_int64(q, 0);
      rc = sqlite3_step(q);
    }
    if (rc != SQLITE_DONE) {
      st = mts_sqlite_fail(&g->sql, rc, "add policy");
    }
  }
  (void)sqlite3_finalize(q);
  for (i = 0; st == MTS_OK && i < ev->nfailures; i++) {
    st = ag_add_failure(g, pid, &ev->failures[i]);
  }
  mts_strbuf_cleanup(&key);
  st = mts_sqlite_end(&g->sql, st);
  if (st == MTS_OK && counted != NULL) {
    *counted = true;
  }
  return st;
}

enum mts_status mts_rpt_agg_add(struct mts_rpt_agg *g,
                                const struct mts_rpt_event *ev,
                                bool *counted) {
  struct mts_rpt_event e;
  struct mts_rpt_failure *f = NULL;
  struct mts_arena *a;
  bool oom = false;
  enum mts_status st;
  size_t i;

  if (counted != NULL) {
    *counted = false;
  }
  if (g == NULL || ev == NULL || (ev->nfailures > 0 && ev->failures == NULL) ||
      (ev->nmx_hosts > 0 && ev->mx_hosts == NULL)) {
    return MTS_EINVAL;
  }
  /* The host names as the writer will take them (ag_host), before the
   * keys are made: "MX.example." and "mx.example" are one name. */
  a = mts_arena_create(g->ctx);
  if (a == NULL) {
    return MTS_ENOMEM;
  }
  e = *ev;
  if (ev->nfailures > 0) {
    f = mts_arena_alloc(a, ev->nfailures * sizeof(*f));
    for (i = 0; f != NULL && i < ev->nfailures; i++) {
      f[i] = ev->failures[i];
      f[i].receiving_mx_hostname =
          ag_host(a, ev->failures[i].receiving_mx_hostname, false, &oom);
    }
    e.failures = f;
  }
  if (!ag_mx_hosts(a, ev->mx_hosts, ev->nmx_hosts, &e.mx_hosts,
                   &e.nmx_hosts) ||
      oom || (ev->nfailures > 0 && f == NULL)) {
    mts_arena_destroy(a);
    return MTS_ENOMEM;
  }
  st = ag_add(g, &e, counted);
  mts_arena_destroy(a);
  return st;
}

enum mts_status mts_rpt_agg_prune(struct mts_rpt_agg *g, int64_t before) {
  static const char *const sqls[] = {
      ("DELETE FROM failures WHERE policy IN (SELECT id FROM policies"
       " WHERE day < ?1)"),
      "DELETE FROM policies WHERE day < ?1",
      "DELETE FROM seen WHERE day < ?1",
      "DELETE FROM reports WHERE day < ?1",
      "DELETE FROM deliveries WHERE day < ?1",
  };
  enum mts_status st;
  size_t i;

  if (g == NULL) {
    return MTS_EINVAL;
  }
  st = ag_begin(g);
  if (st != MTS_OK) {
    return st;
  }
  for (i = 0; st == MTS_OK && i < sizeof(sqls) / sizeof(sqls[0]); i++) {
    sqlite3_stmt *q = NULL;

    st = mts_sqlite_prepare(&g->sql, sqls[i], &q);
    if (st == MTS_OK) {
      (void)sqlite3_bind_int64(q, 1, before);
      st = mts_sqlite_step_done(&g->sql, q, "prune");
    }
    (void)sqlite3_finalize(q);
  }
  return mts_sqlite_end(&g->sql, st);
}

/* ---- settings ---- */

enum mts_status mts_rpt_agg_set(struct mts_rpt_agg *g, const char *key,
                                const char *value) {
  sqlite3_stmt *q = NULL;
  enum mts_status st;

  if (g == NULL || key == NULL || strcmp(key, "salt") == 0) {
    return MTS_EINVAL;
  }
  st = mts_sqlite_watch(&g->sql);
  if (st != MTS_OK) {
    return st;
  }
  st = mts_sqlite_prepare(&g->sql,
                          value != NULL
                              ? "INSERT OR REPLACE INTO meta VALUES (?1, ?2)"
                              : "DELETE FROM meta WHERE key = ?1",
                          &q);
  if (st == MTS_OK) {
    mts_sqlite_bind_text(q, 1, key);
    if (value != NULL) {
      mts_sqlite_bind_text(q, 2, value);
    }
    st = mts_sqlite_step_done(&g->sql, q, "set");
  }
  (void)sqlite3_finalize(q);
  return st;
}

enum mts_status mts_rpt_agg_get(struct mts_rpt_agg *g, const char *key,
                                char **value) {
  sqlite3_stmt *q = NULL;
  enum mts_status st;
  int rc;

  if (value != NULL) {
    *value = NULL;
  }
  if (g == NULL || key == NULL || value == NULL) {
    return MTS_EINVAL;
  }
  st = mts_sqlite_prepare(&g->sql, "SELECT value FROM meta WHERE key = ?1", &q);
  if (st == MTS_OK) {
    mts_sqlite_bind_text(q, 1, key);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
      *value = mts_strdup(g->ctx, (const char *)sqlite3_column_text(q, 0));
      if (*value == NULL) {
        st = MTS_ENOMEM;
      }
    } else if (rc != SQLITE_DONE) {
      st = mts_sqlite_fail(&g->sql, rc, "get");
    }
  }
  (void)sqlite3_finalize(q);
  return st;
}

/* ---- listing ---- */

static const char *col_text(sqlite3_stmt *q, int i) {
  return (const char *)sqlite3_column_text(q, i);
}

enum mts_status mts_rpt_agg_days(struct mts_rpt_agg *g, int64_t day,
                                 const char *domain, mts_rpt_agg_day_fn fn,
                                 void *arg) {
  sqlite3_stmt *q = NULL;
  enum mts_status st;
  int rc;

  if (g == NULL || fn == NULL) {
    return MTS_EINVAL;
  }
  st = mts_sqlite_prepare(
      &g->sql,
      "SELECT p.day, p.domain, SUM(p.success), SUM(p.failure),"
      " COUNT(DISTINCT p.ptype || ' ' || p.pdomain || ' ' || p.pkey),"
      " COUNT(DISTINCT p.host),"
      " (SELECT r.state FROM reports r WHERE r.day = p.day AND"
      "  r.domain = p.domain)"
      " FROM policies p WHERE (?1 < 0 OR p.day = ?1) AND"
      " (?2 IS NULL OR p.domain = ?2) GROUP BY p.day, p.domain"
      " ORDER BY p.day, p.domain",
      &q);
  if (st != MTS_OK) {
    return st;
  }
  (void)sqlite3_bind_int64(q, 1, day);
  mts_sqlite_bind_text(q, 2, domain);
  while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
    struct mts_rpt_agg_day_row row;

    row.day = sqlite3_column_int64(q, 0);
    row.domain = col_text(q, 1);
    row.successful = (uint64_t)sqlite3_column_int64(q, 2);
    row.failed = (uint64_t)sqlite3_column_int64(q, 3);
    row.npolicies = (size_t)sqlite3_column_int64(q, 4);
    row.nhosts = (size_t)sqlite3_column_int64(q, 5);
    row.report_state =
        sqlite3_column_type(q, 6) == SQLITE_NULL
            ? NULL
            : mts_rpt_agg_rstate_str(
                  (enum mts_rpt_agg_rstate)sqlite3_column_int(q, 6));
    if (!fn(arg, &row)) {
      rc = SQLITE_DONE;
      break;
    }
  }
  if (rc != SQLITE_DONE) {
    st = mts_sqlite_fail(&g->sql, rc, "days");
  }
  (void)sqlite3_finalize(q);
  return st;
}

/* ---- reports ---- */

struct mts_rpt_agg_report {
  struct mts_arena *arena;
  struct mts_rpt_report_data data;
};

static const char *ptype_str(int t) {
  switch (t) {
  case MTS_RPT_POLICY_TLSA:
    return "tlsa";
  case MTS_RPT_POLICY_STS:
    return "sts";
  case MTS_RPT_POLICY_NO_POLICY_FOUND:
    return "no-policy-found";
  default:
    return NULL;
  }
}

static const char *a_col(struct mts_arena *a, sqlite3_stmt *q, int i,
                         bool *oom) {
  const char *s;
  char *c;

  if (sqlite3_column_type(q, i) == SQLITE_NULL) {
    return NULL;
  }
  s = col_text(q, i);
  if (s == NULL) {
    *oom = true;
    return NULL;
  }
  c = mts_arena_strndup(a, s, (size_t)sqlite3_column_bytes(q, i));
  if (c == NULL) {
    *oom = true;
  }
  return c;
}

static enum mts_status ag_salt(struct mts_rpt_agg *g, char salt[17]) {
  char *v = NULL;
  enum mts_status st = mts_rpt_agg_get(g, "salt", &v);

  if (st != MTS_OK) {
    return st;
  }
  if (v == NULL || strlen(v) != 16) {
    mts_free(g->ctx, v);
    mts_log(g->ctx, MTS_LOG_ERR, "report store: %.200s: no salt", g->sql.path);
    return MTS_EIO;
  }
  memcpy(salt, v, 17);
  mts_free(g->ctx, v);
  return MTS_OK;
}

/* Fill the failure details of policy group (ptype, pkey). */
static enum mts_status ag_failures(struct mts_rpt_agg *g, struct mts_arena *a,
                                   int64_t day, const char *domain, int ptype,
                                   const char *pdomain, const char *pkey,
                                   struct mts_rpt_policy *pol) {
  sqlite3_stmt *q = NULL;
  enum mts_status st;
  struct mts_rpt_failure *v = NULL;
  size_t n = 0, cap = 0;
  int rc;
  bool oom = false;

  st = mts_sqlite_prepare(
      &g->sql,
      "SELECT f.result_type, f.sending_ip, f.mx_hostname, f.mx_helo,"
      " f.receiving_ip, f.additional, f.reason, SUM(f.count),"
      " (SELECT COUNT(DISTINCT f2.dkey) FROM failures f2 JOIN"
      "  policies p2 ON f2.policy = p2.id WHERE p2.day = ?1 AND"
      "  p2.domain = ?2 AND p2.ptype = ?3 AND p2.pkey = ?4 AND"
      "  p2.pdomain = ?5)"
      " FROM failures f JOIN policies p ON f.policy = p.id"
      " WHERE p.day = ?1 AND p.domain = ?2 AND p.ptype = ?3 AND"
      " p.pkey = ?4 AND p.pdomain = ?5 GROUP BY f.dkey"
      " ORDER BY f.result_type, f.dkey",
      &q);
  if (st != MTS_OK) {
    return st;
  }
  (void)sqlite3_bind_int64(q, 1, day);
  mts_sqlite_bind_text(q, 2, domain);
  (void)sqlite3_bind_int(q, 3, ptype);
  mts_sqlite_bind_text(q, 4, pkey);
  mts_sqlite_bind_text(q, 5, pdomain);
  while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
    struct mts_rpt_failure *f;

    if (v == NULL) {
      cap = (size_t)sqlite3_column_int64(q, 8);
      if (cap == 0) {
        break;
      }
      v = mts_arena_alloc(a, cap * sizeof(*v));
      if (v == NULL) {
        st = MTS_ENOMEM;
        break;
      }
    }
    if (n >= cap) {
      break;
    }
    f = &v[n++];
    memset(f, 0, sizeof(*f));
    f->result_type = a_col(a, q, 0, &oom);
    f->sending_mta_ip = a_col(a, q, 1, &oom);
    f->receiving_mx_hostname = ag_host(a, a_col(a, q, 2, &oom), false, &oom);
    f->receiving_mx_helo = a_col(a, q, 3, &oom);
    f->receiving_ip = a_col(a, q, 4, &oom);
    f->additional_information = a_col(a, q, 5, &oom);
    f->failure_reason_code = a_col(a, q, 6, &oom);
    f->failed_session_count = (uint64_t)sqlite3_column_int64(q, 7);
    if (oom) {
      st = MTS_ENOMEM;
      break;
    }
  }
  if (st == MTS_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
    st = mts_sqlite_fail(&g->sql, rc, "failures");
  }
  (void)sqlite3_finalize(q);
  pol->failures = v;
  pol->nfailures = n;
  return st;
}

enum mts_status mts_rpt_agg_report_build(struct mts_rpt_agg *g, int64_t day,
                                         const char *domain,
                                         const struct mts_rpt_agg_identity *id,
                                         struct mts_rpt_agg_report **out) {
  struct mts_arena *a = NULL;
  struct mts_rpt_agg_report *r;
  struct mts_rpt_policy *pols = NULL;
  sqlite3_stmt *q = NULL;
  enum mts_status st;
  char salt[17], ds[11];
  size_t n = 0, cap = 0;
  int rc;
  bool oom = false;

  if (out != NULL) {
    *out = NULL;
  }
  if (g == NULL || out == NULL || id == NULL || !domain_ok(domain) ||
      id->organization_name == NULL || id->contact_info == NULL ||
      !domain_ok(id->submitter) || mts_rpt_agg_day(day) != day) {
    return MTS_EINVAL;
  }
  st = ag_salt(g, salt);
  if (st != MTS_OK) {
    return st;
  }
  r = mts_arena_create_object(g->ctx, sizeof(*r), &a);
  if (r == NULL) {
    return MTS_ENOMEM;
  }
  r->arena = a;
  mts_rpt_agg_day_str(day, ds);
  r->data.organization_name = mts_arena_strndup(
      a, id->organization_name, strlen(id->organization_name));
  r->data.contact_info =
      mts_arena_strndup(a, id->contact_info, strlen(id->contact_info));
  r->data.report_id =
      mts_arena_printf(a, "%s.%s.%s@%s", ds, domain, salt, id->submitter);
  r->data.start = day;
  r->data.end = day + MTS_RPT_DAY - 1;
  r->data.start_had_zone = r->data.end_had_zone = true;
  if (r->data.organization_name == NULL || r->data.contact_info == NULL ||
      r->data.report_id == NULL) {
    st = MTS_ENOMEM;
    goto done;
  }
  st = mts_sqlite_exec(&g->sql, "BEGIN");
  if (st != MTS_OK) {
    goto done;
  }
  st = mts_sqlite_prepare(
      &g->sql,
      "SELECT ptype, pkey, SUM(success), SUM(failure),"
      " (SELECT COUNT(DISTINCT p2.ptype || ' ' || p2.pdomain || ' '"
      "  || p2.pkey) FROM policies p2 WHERE p2.day = ?1 AND"
      "  p2.domain = ?2 AND p2.ptype <> 0), pdomain"
      " FROM policies WHERE day = ?1 AND domain = ?2 AND ptype <> 0"
      " GROUP BY ptype, pdomain, pkey ORDER BY ptype, pdomain, pkey",
      &q);
  if (st == MTS_OK) {
    (void)sqlite3_bind_int64(q, 1, day);
    mts_sqlite_bind_text(q, 2, domain);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
      struct mts_rpt_policy *p;
      const char *pkey = col_text(q, 1);
      const char *pend;
      int ptype = sqlite3_column_int(q, 0);
      bool known_strings, known_mx;
      int drc;

      if (pols == NULL) {
        cap = (size_t)sqlite3_column_int64(q, 4);
        pols = cap > 0 ? mts_arena_alloc(a, cap * sizeof(*pols)) : NULL;
        if (pols == NULL) {
          st = MTS_ENOMEM;
          break;
        }
      }
      if (n >= cap || pkey == NULL) {
        st = pkey == NULL ? MTS_ENOMEM : st;
        break;
      }
      p = &pols[n++];
      memset(p, 0, sizeof(*p));
      p->policy_type = ptype_str(ptype);
      p->policy_domain = a_col(a, q, 5, &oom);
      if (oom) {
        st = MTS_ENOMEM;
        break;
      }
      p->total_successful = (uint64_t)sqlite3_column_int64(q, 2);
      p->total_failure = (uint64_t)sqlite3_column_int64(q, 3);
      if (p->policy_type == NULL || p->policy_domain == NULL) {
        st = p->policy_domain == NULL ? MTS_ENOMEM : MTS_EIO;
        break;
      }
      pend = pkey + sqlite3_column_bytes(q, 1);
      drc = d_list(a, &pkey, pend, &p->policy_strings, &p->npolicy_strings,
                   &known_strings);
      if (drc == 0) {
        drc = d_list(a, &pkey, pend, &p->mx_hosts, &p->nmx_hosts, &known_mx);
      }
      if (drc != 0) {
        if (drc == -1) {
          mts_log(g->ctx, MTS_LOG_ERR, "report store: %.200s: bad policy key",
                  g->sql.path);
        }
        st = drc == -2 ? MTS_ENOMEM : MTS_EIO;
        break;
      }
      p->has_policy_string = known_strings;
      if (!ag_mx_hosts(a, p->mx_hosts, p->nmx_hosts, &p->mx_hosts,
                       &p->nmx_hosts)) {
        st = MTS_ENOMEM;
        break;
      }
      st = ag_failures(g, a, day, domain, ptype, p->policy_domain,
                       col_text(q, 1), p);
      if (st != MTS_OK) {
        break;
      }
    }
    if (st == MTS_OK && rc != SQLITE_DONE) {
      st = mts_sqlite_fail(&g->sql, rc, "report");
    }
  }
  (void)sqlite3_finalize(q);
  (void)sqlite3_exec(g->sql.db, "COMMIT", NULL, NULL, NULL);
  if (st == MTS_OK && n == 0) {
    st = MTS_ENOTFOUND;
  }
  r->data.policies = pols;
  r->data.npolicies = n;
done:
  if (st != MTS_OK) {
    mts_arena_destroy(a);
    return st;
  }
  *out = r;
  return MTS_OK;
}

const struct mts_rpt_report_data *
mts_rpt_agg_report_data(const struct mts_rpt_agg_report *r) {
  return r != NULL ? &r->data : NULL;
}

void mts_rpt_agg_report_destroy(struct mts_rpt_agg_report *r) {
  if (r != NULL) {
    mts_arena_destroy(r->arena);
  }
}

enum mts_status mts_rpt_agg_report_json(struct mts_rpt_agg *g, int64_t day,
                                        const char *domain,
                                        const struct mts_rpt_agg_identity *id,
                                        bool freeze, char **json,
                                        size_t *len) {
  sqlite3_stmt *q = NULL;
  struct mts_rpt_agg_report *r = NULL;
  char *w = NULL, *copy;
  size_t wlen = 0;
  enum mts_status st;
  int rc;

  if (json != NULL) {
    *json = NULL;
  }
  if (len != NULL) {
    *len = 0;
  }
  if (g == NULL || json == NULL || len == NULL || !domain_ok(domain)) {
    return MTS_EINVAL;
  }
  st = mts_sqlite_prepare(
      &g->sql,
      "SELECT json FROM reports WHERE day = ?1 AND domain = ?2"
      " AND json IS NOT NULL",
      &q);
  if (st != MTS_OK) {
    return st;
  }
  (void)sqlite3_bind_int64(q, 1, day);
  mts_sqlite_bind_text(q, 2, domain);
  rc = sqlite3_step(q);
  if (rc == SQLITE_ROW) {
    size_t n = (size_t)sqlite3_column_bytes(q, 0);
    const char *s = col_text(q, 0);

    *json = s != NULL ? mts_strndup(g->ctx, s, n) : NULL;
    *len = n;
    (void)sqlite3_finalize(q);
    return *json != NULL ? MTS_OK : MTS_ENOMEM;
  }
  (void)sqlite3_finalize(q);
  q = NULL;
  if (rc != SQLITE_DONE) {
    return mts_sqlite_fail(&g->sql, rc, "report json");
  }
  st = mts_rpt_agg_report_build(g, day, domain, id, &r);
  if (st != MTS_OK) {
    return st;
  }
  st = mts_rpt_report_write_json(g->ctx, &r->data, &w, &wlen);
  mts_rpt_agg_report_destroy(r);
  if (st != MTS_OK) {
    return st;
  }
  copy = mts_strndup(g->ctx, w, wlen);
  mts_rpt_report_write_free(g->ctx, w);
  if (copy == NULL) {
    return MTS_ENOMEM;
  }
  if (freeze) {
    st = mts_sqlite_prepare(
        &g->sql,
        "INSERT INTO reports (day, domain, state, next_at, json)"
        " VALUES (?1, ?2, 0, 0, ?3) ON CONFLICT (day, domain) DO"
        " UPDATE SET json = excluded.json WHERE json IS NULL",
        &q);
    if (st == MTS_OK) {
      (void)sqlite3_bind_int64(q, 1, day);
      mts_sqlite_bind_text(q, 2, domain);
      mts_sqlite_bind_text(q, 3, copy);
      st = mts_sqlite_step_done(&g->sql, q, "freeze");
    }
    (void)sqlite3_finalize(q);
    if (st != MTS_OK) {
      mts_free(g->ctx, copy);
      return st;
    }
  }
  *json = copy;
  *len = wlen;
  return MTS_OK;
}

/* ---- discovery and delivery state ---- */

const char *mts_rpt_agg_rstate_str(enum mts_rpt_agg_rstate s) {
  switch (s) {
  case MTS_RPT_AGG_R_WAIT:
    return "wait";
  case MTS_RPT_AGG_R_PLANNED:
    return "planned";
  case MTS_RPT_AGG_R_NORUA:
    return "norua";
  case MTS_RPT_AGG_R_OPTOUT:
    return "optout";
  case MTS_RPT_AGG_R_GAVEUP:
    return "gaveup";
  default:
    return "?";
  }
}

enum mts_status mts_rpt_agg_schedule(struct mts_rpt_agg *g, int64_t today,
                                     mts_rpt_agg_first_at_fn first_at_fn,
                                     void *arg, size_t *nout) {
  sqlite3_stmt *sel = NULL, *ins = NULL;
  enum mts_status st;
  size_t n = 0;
  int rc;

  if (nout != NULL) {
    *nout = 0;
  }
  if (g == NULL || first_at_fn == NULL) {
    return MTS_EINVAL;
  }
  st = ag_begin(g);
  if (st != MTS_OK) {
    return st;
  }
  st = mts_sqlite_prepare(
      &g->sql,
      "SELECT DISTINCT p.day, p.domain FROM policies p WHERE"
      " p.day < ?1 AND NOT EXISTS (SELECT 1 FROM reports r WHERE"
      " r.day = p.day AND r.domain = p.domain) ORDER BY p.day,"
      " p.domain",
      &sel);
  if (st == MTS_OK) {
    st = mts_sqlite_prepare(
        &g->sql,
        "INSERT OR IGNORE INTO reports (day, domain, state, next_at)"
        " VALUES (?1, ?2, 0, ?3)",
        &ins);
  }
  if (st == MTS_OK) {
    (void)sqlite3_bind_int64(sel, 1, today);
    while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
      int64_t day = sqlite3_column_int64(sel, 0);
      const char *dom = col_text(sel, 1);

      (void)sqlite3_reset(ins);
      (void)sqlite3_bind_int64(ins, 1, day);
      mts_sqlite_bind_text(ins, 2, dom);
      (void)sqlite3_bind_int64(ins, 3, first_at_fn(arg, day, dom));
      st = mts_sqlite_step_done(&g->sql, ins, "schedule");
      if (st != MTS_OK) {
        break;
      }
      n++;
    }
    if (st == MTS_OK && rc != SQLITE_DONE) {
      st = mts_sqlite_fail(&g->sql, rc, "schedule");
    }
  }
  (void)sqlite3_finalize(sel);
  (void)sqlite3_finalize(ins);
  st = mts_sqlite_end(&g->sql, st);
  if (st == MTS_OK && nout != NULL) {
    *nout = n;
  }
  return st;
}

enum mts_status mts_rpt_agg_due(struct mts_rpt_agg *g, int64_t now,
                                mts_rpt_agg_pending_fn fn, void *arg) {
  /* The rows are read into memory first, so fn may change the store. */
  struct item {
    int64_t day, first_at, next_at;
    uint32_t attempts;
    char *domain, *rua;
  } *items = NULL;
  static const char *const sqls[2] = {
      "SELECT day, domain, NULL, 0, first_at, next_at FROM reports WHERE"
      " state = 0 AND (?1 < 0 OR next_at <= ?1) ORDER BY next_at, day, domain",
      "SELECT day, domain, rua, attempts, first_at, next_at FROM deliveries"
      " WHERE state = 'pending' AND (?1 < 0 OR next_at <= ?1)"
      " ORDER BY next_at, day, domain, rua"};
  size_t n = 0, cap = 0, i, k;
  enum mts_status st = MTS_OK;
  bool go = true;

  if (g == NULL || fn == NULL) {
    return MTS_EINVAL;
  }
  for (k = 0; k < 2 && st == MTS_OK; k++) {
    sqlite3_stmt *q = NULL;
    int rc;

    st = mts_sqlite_prepare(&g->sql, sqls[k], &q);
    if (st != MTS_OK) {
      break;
    }
    (void)sqlite3_bind_int64(q, 1, now);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
      struct item *it;

      if (n == cap) {
        size_t nc = cap == 0 ? 8 : cap * 2;
        struct item *ni = mts_reallocarray(g->ctx, items, nc, sizeof(*ni));

        if (ni == NULL) {
          st = MTS_ENOMEM;
          break;
        }
        items = ni;
        cap = nc;
      }
      it = &items[n];
      it->day = sqlite3_column_int64(q, 0);
      it->domain = mts_strdup(g->ctx, col_text(q, 1) != NULL ? col_text(q, 1)
                                                             : "");
      it->rua = NULL;
      if (sqlite3_column_type(q, 2) != SQLITE_NULL) {
        it->rua = mts_strdup(g->ctx, col_text(q, 2));
        if (it->rua == NULL) {
          mts_free(g->ctx, it->domain);
          it->domain = NULL;
        }
      }
      if (it->domain == NULL) {
        mts_free(g->ctx, it->rua);
        st = MTS_ENOMEM;
        break;
      }
      n++;
      it->attempts = (uint32_t)sqlite3_column_int64(q, 3);
      it->first_at = sqlite3_column_int64(q, 4);
      it->next_at = sqlite3_column_int64(q, 5);
    }
    if (st == MTS_OK && rc != SQLITE_DONE) {
      st = mts_sqlite_fail(&g->sql, rc, "due");
    }
    (void)sqlite3_finalize(q);
  }
  for (i = 0; i < n; i++) {
    if (st == MTS_OK && go) {
      struct mts_rpt_agg_pending p;

      p.day = items[i].day;
      p.domain = items[i].domain;
      p.rua = items[i].rua;
      p.attempts = items[i].attempts;
      p.first_at = items[i].first_at;
      p.next_at = items[i].next_at;
      go = fn(arg, &p);
    }
    mts_free(g->ctx, items[i].domain);
    mts_free(g->ctx, items[i].rua);
  }
  mts_free(g->ctx, items);
  return st;
}

enum mts_status mts_rpt_agg_set_rstate(struct mts_rpt_agg *g, int64_t day,
                                       const char *domain,
                                       enum mts_rpt_agg_rstate state,
                                       const char *const *ruas, size_t n,
                                       int64_t now, int64_t next_at,
                                       const char *why) {
  sqlite3_stmt *q = NULL;
  enum mts_status st;
  size_t i;

  if (g == NULL || !domain_ok(domain) || state > MTS_RPT_AGG_R_GAVEUP ||
      (state == MTS_RPT_AGG_R_PLANNED && (n == 0 || ruas == NULL))) {
    return MTS_EINVAL;
  }
  for (i = 0; i < n; i++) {
    if (ruas[i] == NULL) {
      return MTS_EINVAL;
    }
  }
  st = ag_begin(g);
  if (st != MTS_OK) {
    return st;
  }
  st = mts_sqlite_prepare(
      &g->sql,
      "INSERT INTO reports (day, domain, state, next_at, first_at,"
      " last_error) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
      " ON CONFLICT (day, domain) DO UPDATE SET state = ?3,"
      " next_at = ?4, first_at = CASE WHEN first_at = 0 THEN ?5"
      " ELSE first_at END, last_error = ?6",
      &q);
  if (st == MTS_OK) {
    (void)sqlite3_bind_int64(q, 1, day);
    mts_sqlite_bind_text(q, 2, domain);
    (void)sqlite3_bind_int(q, 3, (int)state);
    (void)sqlite3_bind_int64(q, 4, state == MTS_RPT_AGG_R_WAIT ? next_at : 0);
    (void)sqlite3_bind_int64(q, 5, now);
    mts_sqlite_bind_text(q, 6, why);
    st = mts_sqlite_step_done(&g->sql, q, "report state");
  }
  (void)sqlite3_finalize(q);
  q = NULL;
  if (st == MTS_OK && state == MTS_RPT_AGG_R_PLANNED) {
    st = mts_sqlite_prepare(
        &g->sql,
        "INSERT OR IGNORE INTO deliveries (day, domain, rua, state,"
        " next_at) VALUES (?1, ?2, ?3, 'pending', ?4)",
        &q);
    for (i = 0; st == MTS_OK && i < n; i++) {
      (void)sqlite3_reset(q);
      (void)sqlite3_bind_int64(q, 1, day);
      mts_sqlite_bind_text(q, 2, domain);
      mts_sqlite_bind_text(q, 3, ruas[i]);
      (void)sqlite3_bind_int64(q, 4, now);
      st = mts_sqlite_step_done(&g->sql, q, "plan");
    }
    (void)sqlite3_finalize(q);
  }
  return mts_sqlite_end(&g->sql, st);
}

enum mts_status mts_rpt_agg_claim(struct mts_rpt_agg *g, int64_t day,
                                  const char *domain, const char *rua,
                                  int64_t now, int64_t lease_s,
                                  bool *claimed) {
  sqlite3_stmt *q = NULL;
  enum mts_status st;
  int rc;

  if (claimed != NULL) {
    *claimed = false;
  }
  if (g == NULL || domain == NULL || rua == NULL || claimed == NULL ||
      lease_s <= 0) {
    return MTS_EINVAL;
  }
  st = ag_begin(g);
  if (st != MTS_OK) {
    return st;
  }
  st = mts_sqlite_prepare(
      &g->sql,
      "SELECT state, lease_owner, lease_until FROM deliveries WHERE"
      " day = ?1 AND domain = ?2 AND rua = ?3",
      &q);
  if (st == MTS_OK) {
    (void)sqlite3_bind_int64(q, 1, day);
    mts_sqlite_bind_text(q, 2, domain);
    mts_sqlite_bind_text(q, 3, rua);
    rc = sqlite3_step(q);
    if (rc == SQLITE_DONE) {
      st = MTS_ENOTFOUND;
    } else if (rc != SQLITE_ROW) {
      st = mts_sqlite_fail(&g->sql, rc, "claim");
    } else {
      const char *state = col_text(q, 0);
      const char *owner = col_text(q, 1);
      int64_t until = sqlite3_column_int64(q, 2);

      *claimed = state != NULL && strcmp(state, "pending") == 0 &&
                 (owner == NULL || strcmp(owner, g->host) == 0 ||
                  until <= now);
    }
  }
  (void)sqlite3_finalize(q);
  q = NULL;
  if (st == MTS_OK && *claimed) {
    st = mts_sqlite_prepare(
        &g->sql,
        "UPDATE deliveries SET lease_owner = ?4, lease_until = ?5"
        " WHERE day = ?1 AND domain = ?2 AND rua = ?3",
        &q);
    if (st == MTS_OK) {
      (void)sqlite3_bind_int64(q, 1, day);
      mts_sqlite_bind_text(q, 2, domain);
      mts_sqlite_bind_text(q, 3, rua);
      mts_sqlite_bind_text(q, 4, g->host);
      (void)sqlite3_bind_int64(q, 5, now + lease_s);
      st = mts_sqlite_step_done(&g->sql, q, "claim update");
    }
    (void)sqlite3_finalize(q);
  }
  if (st == MTS_ENOTFOUND) {
    (void)mts_sqlite_end(&g->sql, st); /* rolls back */
    return MTS_ENOTFOUND;
  }
  st = mts_sqlite_end(&g->sql, st);
  if (st != MTS_OK) {
    *claimed = false;
  }
  return st;
}

enum mts_status mts_rpt_agg_attempt(struct mts_rpt_agg *g, int64_t day,
                                    const char *domain, const char *rua,
                                    int64_t now, bool ok, const char *err,
                                    int64_t next_at) {
  sqlite3_stmt *q = NULL;
  enum mts_status st;

  if (g == NULL || domain == NULL || rua == NULL) {
    return MTS_EINVAL;
  }
  st = mts_sqlite_watch(&g->sql);
  if (st != MTS_OK) {
    return st;
  }
  st = mts_sqlite_prepare(
      &g->sql,
      "UPDATE deliveries SET attempts = attempts + 1,"
      " first_at = CASE WHEN first_at = 0 THEN ?4 ELSE first_at END,"
      " state = ?5, next_at = ?6, done_at = CASE WHEN ?5 = 'pending'"
      " THEN 0 ELSE ?4 END, last_error = ?7, lease_owner = NULL,"
      " lease_until = 0 WHERE day = ?1 AND domain = ?2 AND rua = ?3",
      &q);
  if (st == MTS_OK) {
    (void)sqlite3_bind_int64(q, 1, day);
    mts_sqlite_bind_text(q, 2, domain);
    mts_sqlite_bind_text(q, 3, rua);
    (void)sqlite3_bind_int64(q, 4, now);
    mts_sqlite_bind_text(q, 5,
                         ok            ? "sent"
                         : next_at > 0 ? "pending"
                                       : "failed");
    (void)sqlite3_bind_int64(q, 6, ok ? 0 : next_at);
    mts_sqlite_bind_text(q, 7, ok ? NULL : err);
    st = mts_sqlite_step_done(&g->sql, q, "attempt");
    if (st == MTS_OK && sqlite3_changes(g->sql.db) == 0) {
      st = MTS_ENOTFOUND;
    }
  }
  (void)sqlite3_finalize(q);
  return st;
}

enum mts_status mts_rpt_agg_deliveries(struct mts_rpt_agg *g, int64_t day,
                                       const char *domain,
                                       mts_rpt_agg_delivery_fn fn, void *arg) {
  sqlite3_stmt *q = NULL;
  enum mts_status st;
  int rc;

  if (g == NULL || fn == NULL) {
    return MTS_EINVAL;
  }
  st = mts_sqlite_prepare(
      &g->sql,
      "SELECT day, domain, rua, state, attempts, first_at, next_at,"
      " done_at, last_error, lease_owner, lease_until FROM"
      " deliveries WHERE (?1 < 0 OR day = ?1) AND (?2 IS NULL OR"
      " domain = ?2) ORDER BY day, domain, rua",
      &q);
  if (st != MTS_OK) {
    return st;
  }
  (void)sqlite3_bind_int64(q, 1, day);
  mts_sqlite_bind_text(q, 2, domain);
  while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
    struct mts_rpt_agg_delivery d;

    d.day = sqlite3_column_int64(q, 0);
    d.domain = col_text(q, 1);
    d.rua = col_text(q, 2);
    d.state = col_text(q, 3);
    d.attempts = (uint32_t)sqlite3_column_int64(q, 4);
    d.first_at = sqlite3_column_int64(q, 5);
    d.next_at = sqlite3_column_int64(q, 6);
    d.done_at = sqlite3_column_int64(q, 7);
    d.last_error = col_text(q, 8);
    d.lease_owner = col_text(q, 9);
    d.lease_until = sqlite3_column_int64(q, 10);
    if (!fn(arg, &d)) {
      rc = SQLITE_DONE;
      break;
    }
  }
  if (rc != SQLITE_DONE) {
    st = mts_sqlite_fail(&g->sql, rc, "deliveries");
  }
  (void)sqlite3_finalize(q);
  return st;
}
