/*
 * rpt_store.c - the receiving side's report store; see mtasts/rpt_store.h.
 *
 * One SQLite file, used synchronously by one thread (a CLI run, the
 * HTTPS receiver's request handler), opened by core/sqlite.c as the
 * policy cache is: WAL with synchronous=NORMAL (a committed add survives
 * kill -9 of the process), a busy timeout so that `report ingest` and
 * `report serve` can share the file, PRAGMA application_id marks the
 * file as ours and PRAGMA user_version is the schema version. Every
 * SQLite failure is logged through the context with the file name and
 * SQLite's message.
 *
 * Schema (version 1):
 *  - raw:     every input ever added: the bytes, where they came from,
 *             when, their SHA-256, the outcome (new, duplicate,
 *             rejected), why it was rejected, and the parser's findings
 *             as JSON text. Nothing received is lost.
 *  - report:  one row per distinct (report_id, organization), pointing at
 *             the raw row it came from; `day` is the UTC day its
 *             date-range starts in (docs/decisions.md, "TLS reports: the
 *             store").
 *  - policy:  the report's `policies`, policy_domain lower-cased and
 *             without a trailing dot so that queries match however a
 *             sender spelled it.
 *  - failure: the `failure-details` of each policy.
 * An add runs in one IMMEDIATE transaction: the raw row and the report's
 * rows are committed together or not at all.
 *
 * Sums are read with SQLite's total() (a double) rather than sum():
 * sum() fails the whole query with "integer overflow" once a hostile
 * sender's counts (each up to 2^53) add up past 2^63, and a summary
 * must not be something a sender can break. Sums below 2^53 are exact.
 */
#include <mtasts/rpt_store.h>

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <sqlite3.h>

#include "core/ctx_int.h"
#include "core/sqlite_int.h"

#define RS_SCHEMA_VERSION 1
#define RS_APPLICATION_ID 0x4d545352 /* "MTSR" */
#define RS_BUSY_TIMEOUT_MS 5000
#define RS_DAY 86400
/* The largest raw input kept (SQLite binds lengths as int). Bigger than
 * MTS_RPT_REPORT_MAX so that an oversized report is still kept. */
#define RS_RAW_MAX ((size_t)INT_MAX)

static const char rs_sql_schema[] =
    "CREATE TABLE raw ("
    " id INTEGER PRIMARY KEY,"
    " received INTEGER NOT NULL,"
    " source TEXT NOT NULL,"
    " sha256 TEXT NOT NULL,"
    " size INTEGER NOT NULL,"
    " outcome TEXT NOT NULL CHECK (outcome IN ('new','duplicate','rejected')),"
    " reason TEXT,"
    " report_id TEXT,"
    " organization TEXT,"
    " duplicate_of INTEGER REFERENCES report(id),"
    " warnings INTEGER NOT NULL,"
    " findings TEXT NOT NULL,"
    " bytes BLOB NOT NULL"
    ");"
    "CREATE INDEX raw_received ON raw(received);"
    "CREATE TABLE report ("
    " id INTEGER PRIMARY KEY,"
    " report_id TEXT NOT NULL,"
    " organization TEXT NOT NULL,"
    " contact TEXT,"
    " start INTEGER NOT NULL,"
    " end INTEGER NOT NULL,"
    " day INTEGER NOT NULL,"
    " raw_id INTEGER NOT NULL REFERENCES raw(id),"
    " UNIQUE (report_id, organization)"
    ");"
    "CREATE INDEX report_day ON report(day);"
    "CREATE TABLE policy ("
    " id INTEGER PRIMARY KEY,"
    " report INTEGER NOT NULL REFERENCES report(id),"
    " idx INTEGER NOT NULL,"
    " policy_type TEXT NOT NULL,"
    " policy_domain TEXT NOT NULL,"
    " policy_strings TEXT,"
    " mx_hosts TEXT,"
    " successful INTEGER NOT NULL,"
    " failed INTEGER NOT NULL"
    ");"
    "CREATE INDEX policy_report ON policy(report);"
    "CREATE INDEX policy_domain ON policy(policy_domain);"
    "CREATE TABLE failure ("
    " id INTEGER PRIMARY KEY,"
    " policy INTEGER NOT NULL REFERENCES policy(id),"
    " result_type TEXT NOT NULL,"
    " sending_mta_ip TEXT,"
    " receiving_mx_hostname TEXT,"
    " receiving_mx_helo TEXT,"
    " receiving_ip TEXT,"
    " sessions INTEGER NOT NULL,"
    " additional_information TEXT,"
    " failure_reason_code TEXT"
    ");"
    "CREATE INDEX failure_policy ON failure(policy);";

static const struct mts_sqlite_schema rs_schema = {
    .name = "report store",
    .kind = "an mtasts report store",
    .application_id = RS_APPLICATION_ID,
    .version = RS_SCHEMA_VERSION,
    .sql = rs_sql_schema,
    .busy_timeout_ms = RS_BUSY_TIMEOUT_MS,
};

/* The prepared statements, in one array so open and close loop. */
enum rs_q {
  Q_FIND,
  Q_RAW,
  Q_REPORT,
  Q_POLICY,
  Q_FAILURE,
  Q_SUMMARY,
  Q_FAILURES,
  Q_READY,
  Q_RAWLIST,
  Q_USAGE,
  Q_PRUNE_FAILURE,
  Q_PRUNE_POLICY,
  Q_PRUNE_UNLINK,
  Q_PRUNE_REPORT,
  Q_PRUNE_RAW,
  Q_COUNT_
};

#define RS_DOMAIN_ARG "lower(rtrim(?2, '.'))"

/* The reports that a prune before ?1 deletes. */
#define RS_PRUNED_REPORTS                                                      \
  "SELECT r.id FROM report r JOIN raw w ON w.id = r.raw_id WHERE "            \
  "w.received < ?1"

static const char *const rs_sql[Q_COUNT_] = {
    [Q_FIND] = "SELECT id FROM report WHERE report_id = ?1 AND "
               "organization = ?2",
    [Q_RAW] = "INSERT INTO raw (received, source, sha256, size, outcome, "
              "reason, report_id, organization, duplicate_of, warnings, "
              "findings, bytes) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
              "?10, ?11, ?12)",
    [Q_REPORT] = "INSERT INTO report (report_id, organization, contact, "
                 "start, end, day, raw_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
                 "?7)",
    [Q_POLICY] = "INSERT INTO policy (report, idx, policy_type, "
                 "policy_domain, policy_strings, mx_hosts, successful, "
                 "failed) VALUES (?1, ?2, ?3, lower(rtrim(?4, '.')), ?5, ?6, "
                 "?7, ?8)",
    [Q_FAILURE] = "INSERT INTO failure (policy, result_type, sending_mta_ip, "
                  "receiving_mx_hostname, receiving_mx_helo, receiving_ip, "
                  "sessions, additional_information, failure_reason_code) "
                  "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [Q_SUMMARY] = "SELECT r.day, p.policy_domain, r.organization, "
                  "count(DISTINCT r.id), total(p.successful), "
                  "total(p.failed) FROM report r JOIN policy p ON "
                  "p.report = r.id WHERE r.day >= ?1 AND (?2 IS NULL OR "
                  "p.policy_domain = " RS_DOMAIN_ARG ") GROUP BY r.day, "
                  "p.policy_domain, r.organization ORDER BY r.day, "
                  "p.policy_domain, r.organization",
    [Q_FAILURES] = "SELECT r.day, p.policy_domain, r.organization, "
                   "f.result_type, coalesce(f.receiving_mx_hostname, ''), "
                   "total(f.sessions) FROM report r JOIN policy p ON "
                   "p.report = r.id JOIN failure f ON f.policy = p.id WHERE "
                   "r.day >= ?1 AND (?2 IS NULL OR p.policy_domain = "
                   RS_DOMAIN_ARG ") GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, "
                   "4, 5",
    /* Every domain ever reported, with what the window holds for it. */
    [Q_READY] = "SELECT d.policy_domain, count(DISTINCT r.organization), "
                "count(DISTINCT r.day), total(p.successful), "
                "total(p.failed) FROM (SELECT DISTINCT policy_domain FROM "
                "policy) d LEFT JOIN policy p ON p.policy_domain = "
                "d.policy_domain AND p.report IN (SELECT id FROM report "
                "WHERE day BETWEEN ?3 AND ?4) LEFT JOIN report r ON r.id = "
                "p.report WHERE ?2 IS NULL OR d.policy_domain = "
                RS_DOMAIN_ARG " GROUP BY d.policy_domain ORDER BY "
                "d.policy_domain",
    [Q_RAWLIST] = "SELECT id, received, source, sha256, outcome, reason, "
                  "report_id, organization, findings, warnings, size, "
                  "CASE WHEN ?2 THEN bytes END FROM raw WHERE received >= "
                  "?1 ORDER BY id",
    [Q_USAGE] = "SELECT count(*), total(size) FROM raw WHERE received >= ?1 "
                "AND (?2 IS NULL OR substr(source, 1, length(?2)) = ?2)",
    /* Prune: the reports parsed from inputs received before ?1, their
     * rows, then the inputs; a later duplicate of a pruned report stays,
     * unlinked. */
    [Q_PRUNE_FAILURE] = "DELETE FROM failure WHERE policy IN (SELECT id FROM "
                        "policy WHERE report IN (" RS_PRUNED_REPORTS "))",
    [Q_PRUNE_POLICY] = "DELETE FROM policy WHERE report IN ("
                       RS_PRUNED_REPORTS ")",
    [Q_PRUNE_UNLINK] = "UPDATE raw SET duplicate_of = NULL WHERE received >= "
                       "?1 AND duplicate_of IN (" RS_PRUNED_REPORTS ")",
    [Q_PRUNE_REPORT] = "DELETE FROM report WHERE id IN (" RS_PRUNED_REPORTS
                       ")",
    [Q_PRUNE_RAW] = "DELETE FROM raw WHERE received < ?1",
};

struct mts_rpt_store {
  struct mts_ctx *ctx;
  struct mts_sqlite sql;
  sqlite3_stmt *q[Q_COUNT_];
};

static const char *const rs_outcome_str[] = {"new", "duplicate", "rejected"};

int64_t mts_rpt_store_day(int64_t t) {
  int64_t r = t % RS_DAY;

  return r < 0 ? t - r - RS_DAY : t - r;
}

static enum mts_status rs_prepare(struct mts_rpt_store *s) {
  int i;

  for (i = 0; i < Q_COUNT_; i++) {
    if (sqlite3_prepare_v2(s->sql.db, rs_sql[i], -1, &s->q[i], NULL) !=
        SQLITE_OK) {
      mts_sqlite_log(&s->sql, "cannot prepare statements (damaged schema?)");
      return MTS_EIO;
    }
  }
  return MTS_OK;
}

static void rs_finalize(struct mts_rpt_store *s) {
  int i;

  for (i = 0; i < Q_COUNT_; i++) {
    (void)sqlite3_finalize(s->q[i]);
    s->q[i] = NULL;
  }
}

/* Before a write: is the file still ours? A file removed, replaced or
 * damaged under a running receiver is noticed here and replaced,
 * keeping what can be kept (mts_sqlite_recover); the statements are
 * made again on the new connection. */
static enum mts_status rs_watch(struct mts_rpt_store *s) {
  enum mts_sqlite_lost why = MTS_SQLITE_KEPT;
  enum mts_status st;

  if (s->sql.db != NULL) {
    why = mts_sqlite_file_state(&s->sql);
    if (why == MTS_SQLITE_KEPT) {
      return MTS_OK;
    }
  }
  rs_finalize(s);
  st = s->sql.db != NULL ? mts_sqlite_recover(&s->sql, why)
                         : mts_sqlite_watch(&s->sql);
  if (st == MTS_OK) {
    st = rs_prepare(s);
    if (st != MTS_OK) {
      rs_finalize(s);
    }
  }
  return st;
}

void mts_rpt_store_close(struct mts_rpt_store *st) {
  if (st == NULL) {
    return;
  }
  rs_finalize(st);
  mts_sqlite_close(&st->sql);
  mts_free(st->ctx, st);
}

enum mts_status mts_rpt_store_open(struct mts_ctx *ctx, const char *path,
                                   struct mts_rpt_store **out) {
  struct mts_rpt_store *s;
  enum mts_status st;

  if (out != NULL) {
    *out = NULL;
  }
  if (ctx == NULL || path == NULL || path[0] == '\0' || out == NULL) {
    return MTS_EINVAL;
  }
  s = mts_calloc(ctx, 1, sizeof(*s));
  if (s == NULL) {
    return MTS_ENOMEM;
  }
  s->ctx = ctx;
  st = mts_sqlite_open(&s->sql, ctx, path, &rs_schema);
  if (st == MTS_OK) {
    st = rs_prepare(s);
  }
  if (st != MTS_OK) {
    mts_rpt_store_close(s);
    return st;
  }
  mts_log(ctx, MTS_LOG_DEBUG, "report store: %.200s: open (schema %d, WAL)",
          path, RS_SCHEMA_VERSION);
  *out = s;
  return MTS_OK;
}

/* ---- a small growable text buffer for the findings JSON ---- */

struct rs_buf {
  struct mts_ctx *ctx;
  char *p;
  size_t len, cap;
  bool oom;
};

static void rs_buf_add(struct rs_buf *b, const char *s, size_t n) {
  if (b->oom) {
    return;
  }
  if (n + 1 > b->cap - b->len) {
    size_t cap = b->cap != 0 ? b->cap : 256;
    char *p;

    while (n + 1 > cap - b->len) {
      if (cap > SIZE_MAX / 2) {
        b->oom = true;
        return;
      }
      cap *= 2;
    }
    p = mts_realloc(b->ctx, b->p, cap);
    if (p == NULL) {
      b->oom = true;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void rs_buf_str(struct rs_buf *b, const char *s) {
  rs_buf_add(b, s, strlen(s));
}

/* A JSON string. Findings messages are sanitised ASCII; any other byte
 * is escaped as \u00XX so the text is always valid JSON. */
static void rs_buf_json(struct rs_buf *b, const char *s) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *p = (const unsigned char *)(s != NULL ? s : "");

  rs_buf_add(b, "\"", 1);
  for (; *p != '\0'; p++) {
    char esc[6] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15]};

    if (*p == '"' || *p == '\\') {
      esc[1] = (char)*p;
      rs_buf_add(b, esc, 2);
    } else if (*p < 0x20 || *p >= 0x7f) {
      rs_buf_add(b, esc, 6);
    } else {
      rs_buf_add(b, (const char *)p, 1);
    }
  }
  rs_buf_add(b, "\"", 1);
}

static void rs_findings_json(struct rs_buf *b, const struct mts_findings *f,
                             unsigned *warnings) {
  size_t i, n = mts_findings_count(f);
  char num[64];

  *warnings = 0;
  rs_buf_add(b, "[", 1);
  for (i = 0; i < n; i++) {
    const struct mts_finding *fi = mts_findings_get(f, i);

    if (fi->severity == MTS_SEV_WARNING) {
      (*warnings)++;
    }
    rs_buf_str(b, i > 0 ? ",{\"code\":" : "{\"code\":");
    rs_buf_json(b, fi->code);
    rs_buf_str(b, ",\"severity\":");
    rs_buf_json(b, mts_severity_str(fi->severity));
    (void)snprintf(num, sizeof(num), ",\"line\":%u,\"col\":%u,\"message\":",
                   (unsigned)fi->line, (unsigned)fi->col);
    rs_buf_str(b, num);
    rs_buf_json(b, fi->message);
    rs_buf_add(b, "}", 1);
  }
  rs_buf_add(b, "]", 1);
}

/* A JSON array of strings, or NULL text (nothing bound) when absent. */
static void rs_strings_json(struct rs_buf *b, const char *const *v, size_t n) {
  size_t i;

  rs_buf_add(b, "[", 1);
  for (i = 0; i < n; i++) {
    if (i > 0) {
      rs_buf_add(b, ",", 1);
    }
    rs_buf_json(b, v[i]);
  }
  rs_buf_add(b, "]", 1);
}

/* ---- add ---- */

static void rs_sha256_hex(const uint8_t *raw, size_t len, char out[65]) {
  static const char hex[] = "0123456789abcdef";
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0, i;

  /* EVP_Digest wants a non-NULL pointer even for 0 bytes. */
  if (EVP_Digest(raw != NULL ? raw : (const uint8_t *)"", len, md, &mdlen,
                 EVP_sha256(), NULL) != 1 ||
      mdlen != 32) {
    (void)snprintf(out, 65, "%s", "unknown");
    return;
  }
  for (i = 0; i < 32; i++) {
    out[2 * i] = hex[md[i] >> 4];
    out[2 * i + 1] = hex[md[i] & 15];
  }
  out[64] = '\0';
}

static void rs_bind_u64(sqlite3_stmt *q, int i, uint64_t v) {
  /* The parser bounds counts by 2^53; saturate anything else. */
  (void)sqlite3_bind_int64(q, i, v > (uint64_t)INT64_MAX ? INT64_MAX
                                                         : (int64_t)v);
}

/* Step an INSERT (or a one-row SELECT with \p row), then reset. */
static int rs_step(struct mts_rpt_store *s, sqlite3_stmt *q, const char *what,
                   int64_t *row) {
  int rc = sqlite3_step(q);

  if (rc == SQLITE_ROW && row != NULL) {
    *row = sqlite3_column_int64(q, 0);
  } else if (rc == SQLITE_DONE && row == NULL) {
    rc = SQLITE_OK;
  } else if (rc == SQLITE_DONE) {
    *row = 0;
  } else {
    mts_sqlite_log(&s->sql, what);
  }
  (void)sqlite3_reset(q);
  (void)sqlite3_clear_bindings(q);
  return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* The rows of a usable report. */
static int rs_add_rows(struct mts_rpt_store *s,
                       const struct mts_rpt_report_data *d, int64_t raw_id,
                       struct rs_buf *b) {
  sqlite3_stmt *q = s->q[Q_REPORT];
  int64_t report = 0;
  size_t i, j;
  int rc;

  mts_sqlite_bind_text(q, 1, d->report_id);
  mts_sqlite_bind_text(
      q, 2, d->organization_name != NULL ? d->organization_name : "");
  mts_sqlite_bind_text(q, 3, d->contact_info);
  (void)sqlite3_bind_int64(q, 4, d->start);
  (void)sqlite3_bind_int64(q, 5, d->end);
  (void)sqlite3_bind_int64(q, 6, mts_rpt_store_day(d->start));
  (void)sqlite3_bind_int64(q, 7, raw_id);
  rc = rs_step(s, q, "cannot insert the report", NULL);
  if (rc != SQLITE_OK) {
    return rc;
  }
  report = sqlite3_last_insert_rowid(s->sql.db);
  for (i = 0; i < d->npolicies; i++) {
    const struct mts_rpt_policy *p = &d->policies[i];
    size_t strings_at, mx_at;
    int64_t policy;

    /* Both JSON arrays go in one buffer, NUL-separated. */
    b->len = 0;
    strings_at = 0;
    if (p->has_policy_string) {
      rs_strings_json(b, p->policy_strings, p->npolicy_strings);
    }
    rs_buf_add(b, "", 0);
    if (b->oom) {
      return SQLITE_NOMEM;
    }
    b->len++; /* keep the NUL */
    mx_at = b->len;
    if (p->nmx_hosts > 0) {
      rs_strings_json(b, p->mx_hosts, p->nmx_hosts);
    }
    rs_buf_add(b, "", 0);
    if (b->oom) {
      return SQLITE_NOMEM;
    }
    q = s->q[Q_POLICY];
    (void)sqlite3_bind_int64(q, 1, report);
    (void)sqlite3_bind_int64(q, 2, (int64_t)i);
    mts_sqlite_bind_text(q, 3, p->policy_type != NULL ? p->policy_type : "");
    mts_sqlite_bind_text(q, 4,
                         p->policy_domain != NULL ? p->policy_domain : "");
    mts_sqlite_bind_text(q, 5, p->has_policy_string ? b->p + strings_at : NULL);
    mts_sqlite_bind_text(q, 6, p->nmx_hosts > 0 ? b->p + mx_at : NULL);
    rs_bind_u64(q, 7, p->total_successful);
    rs_bind_u64(q, 8, p->total_failure);
    rc = rs_step(s, q, "cannot insert a policy", NULL);
    if (rc != SQLITE_OK) {
      return rc;
    }
    policy = sqlite3_last_insert_rowid(s->sql.db);
    for (j = 0; j < p->nfailures; j++) {
      const struct mts_rpt_failure *f = &p->failures[j];

      q = s->q[Q_FAILURE];
      (void)sqlite3_bind_int64(q, 1, policy);
      mts_sqlite_bind_text(q, 2, f->result_type != NULL ? f->result_type : "");
      mts_sqlite_bind_text(q, 3, f->sending_mta_ip);
      mts_sqlite_bind_text(q, 4, f->receiving_mx_hostname);
      mts_sqlite_bind_text(q, 5, f->receiving_mx_helo);
      mts_sqlite_bind_text(q, 6, f->receiving_ip);
      rs_bind_u64(q, 7, f->failed_session_count);
      mts_sqlite_bind_text(q, 8, f->additional_information);
      mts_sqlite_bind_text(q, 9, f->failure_reason_code);
      rc = rs_step(s, q, "cannot insert a failure", NULL);
      if (rc != SQLITE_OK) {
        return rc;
      }
    }
  }
  return SQLITE_OK;
}

/* The first error finding as "code: message", in \p b. */
static const char *rs_first_error(const struct mts_rpt_report *report,
                                  struct rs_buf *b) {
  const struct mts_findings *f = mts_rpt_report_findings(report);
  size_t i, n = mts_findings_count(f);

  for (i = 0; i < n; i++) {
    const struct mts_finding *fi = mts_findings_get(f, i);

    if (fi->severity == MTS_SEV_ERROR) {
      b->len = 0;
      rs_buf_str(b, fi->code);
      rs_buf_str(b, ": ");
      rs_buf_str(b, fi->message);
      return b->oom ? NULL : b->p;
    }
  }
  return "not usable";
}

enum mts_status mts_rpt_store_add(struct mts_rpt_store *st,
                                  const struct mts_rpt_report *report,
                                  const uint8_t *raw, size_t rawlen,
                                  const char *source, const char *reason,
                                  enum mts_rpt_store_outcome *outcome) {
  const struct mts_rpt_report_data *d =
      report != NULL ? mts_rpt_report_data(report) : NULL;
  enum mts_rpt_store_outcome out = MTS_RPT_STORE_REJECTED;
  struct rs_buf fj, rb, pb;
  enum mts_status ret = MTS_EIO;
  const char *why = NULL;
  unsigned warnings = 0;
  int64_t dup = 0, raw_id;
  char sha[65];
  sqlite3_stmt *q;
  int rc;

  if (outcome != NULL) {
    *outcome = MTS_RPT_STORE_REJECTED;
  }
  if (st == NULL || (raw == NULL && rawlen > 0) || source == NULL ||
      outcome == NULL || rawlen > RS_RAW_MAX) {
    return MTS_EINVAL;
  }
  memset(&fj, 0, sizeof(fj));
  memset(&rb, 0, sizeof(rb));
  memset(&pb, 0, sizeof(pb));
  fj.ctx = rb.ctx = pb.ctx = st->ctx;

  /* Everything that allocates is done before the transaction. */
  rs_findings_json(&fj, report != NULL ? mts_rpt_report_findings(report)
                                       : NULL,
                   &warnings);
  if (report == NULL) {
    why = reason != NULL ? reason : "unreadable input";
  } else if (!mts_rpt_report_usable(report)) {
    why = rs_first_error(report, &rb);
  } else if (d->report_id == NULL) {
    why = "report-id missing"; /* the parser makes this an error */
  }
  if (fj.oom || rb.oom) {
    ret = MTS_ENOMEM;
    goto done;
  }
  rs_sha256_hex(raw, rawlen, sha);

  ret = rs_watch(st);
  if (ret == MTS_OK) {
    ret = mts_sqlite_begin(&st->sql);
  }
  if (ret != MTS_OK) {
    goto done;
  }
  if (why == NULL) {
    q = st->q[Q_FIND];
    mts_sqlite_bind_text(q, 1, d->report_id);
    mts_sqlite_bind_text(
        q, 2, d->organization_name != NULL ? d->organization_name : "");
    rc = rs_step(st, q, "cannot look for a duplicate", &dup);
    if (rc != SQLITE_OK) {
      goto rollback;
    }
    out = dup != 0 ? MTS_RPT_STORE_DUPLICATE : MTS_RPT_STORE_NEW;
  }
  q = st->q[Q_RAW];
  (void)sqlite3_bind_int64(q, 1, mts_ctx_now(st->ctx));
  mts_sqlite_bind_text(q, 2, source);
  mts_sqlite_bind_text(q, 3, sha);
  (void)sqlite3_bind_int64(q, 4, (int64_t)rawlen);
  mts_sqlite_bind_text(q, 5, rs_outcome_str[out]);
  mts_sqlite_bind_text(q, 6, why);
  mts_sqlite_bind_text(q, 7, d != NULL ? d->report_id : NULL);
  mts_sqlite_bind_text(q, 8, d != NULL ? d->organization_name : NULL);
  if (dup != 0) {
    (void)sqlite3_bind_int64(q, 9, dup);
  } else {
    (void)sqlite3_bind_null(q, 9);
  }
  (void)sqlite3_bind_int64(q, 10, warnings);
  mts_sqlite_bind_text(q, 11, fj.p);
  (void)sqlite3_bind_blob(q, 12, raw != NULL ? (const void *)raw : "",
                          (int)rawlen, SQLITE_STATIC);
  rc = rs_step(st, q, "cannot store the raw input", NULL);
  if (rc != SQLITE_OK) {
    goto rollback;
  }
  raw_id = sqlite3_last_insert_rowid(st->sql.db);
  if (out == MTS_RPT_STORE_NEW) {
    rc = rs_add_rows(st, d, raw_id, &pb);
    if (rc != SQLITE_OK) {
      goto rollback;
    }
  }
  ret = mts_sqlite_end(&st->sql, MTS_OK);
  if (ret == MTS_OK) {
    *outcome = out;
  }
  goto done;
rollback:
  ret = mts_sqlite_end(&st->sql, pb.oom ? MTS_ENOMEM : mts_sqlite_status(rc));
done:
  mts_free(st->ctx, fj.p);
  mts_free(st->ctx, rb.p);
  mts_free(st->ctx, pb.p);
  return ret;
}

/* ---- queries ---- */

static uint64_t rs_col_u64(sqlite3_stmt *q, int i) {
  double v = sqlite3_column_double(q, i);

  if (!(v > 0)) {
    return 0;
  }
  if (v >= 18446744073709551615.0) {
    return UINT64_MAX;
  }
  return (uint64_t)v;
}

static const char *rs_col_text(sqlite3_stmt *q, int i) {
  const unsigned char *t = sqlite3_column_text(q, i);

  return t != NULL ? (const char *)t : "";
}

/* Finish a query loop: \p rc is the last step's code. */
static enum mts_status rs_end_query(struct mts_rpt_store *s, sqlite3_stmt *q,
                                    int rc, const char *what) {
  enum mts_status st = MTS_OK;

  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    mts_sqlite_log(&s->sql, what);
    st = mts_sqlite_status(rc);
  }
  (void)sqlite3_reset(q);
  (void)sqlite3_clear_bindings(q);
  return st;
}

enum mts_status mts_rpt_store_summary(struct mts_rpt_store *st,
                                      const char *domain, int64_t since,
                                      mts_rpt_summary_fn on_summary,
                                      mts_rpt_failure_fn on_failure,
                                      void *arg) {
  enum mts_status ret;
  sqlite3_stmt *q;
  int rc = SQLITE_DONE;

  if (st == NULL) {
    return MTS_EINVAL;
  }
  ret = rs_watch(st);
  if (ret != MTS_OK) {
    return ret;
  }
  if (on_summary != NULL) {
    q = st->q[Q_SUMMARY];
    (void)sqlite3_bind_int64(q, 1, since);
    mts_sqlite_bind_text(q, 2, domain);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
      struct mts_rpt_summary_row r;

      r.day = sqlite3_column_int64(q, 0);
      r.policy_domain = rs_col_text(q, 1);
      r.organization = rs_col_text(q, 2);
      r.reports = (uint64_t)sqlite3_column_int64(q, 3);
      r.successful = rs_col_u64(q, 4);
      r.failed = rs_col_u64(q, 5);
      if (on_summary(&r, arg) != 0) {
        rc = SQLITE_DONE;
        break;
      }
    }
    ret = rs_end_query(st, q, rc, "cannot read the summary");
    if (ret != MTS_OK) {
      return ret;
    }
  }
  if (on_failure != NULL) {
    q = st->q[Q_FAILURES];
    (void)sqlite3_bind_int64(q, 1, since);
    mts_sqlite_bind_text(q, 2, domain);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
      struct mts_rpt_failure_row r;

      r.day = sqlite3_column_int64(q, 0);
      r.policy_domain = rs_col_text(q, 1);
      r.organization = rs_col_text(q, 2);
      r.result_type = rs_col_text(q, 3);
      r.receiving_mx_hostname = rs_col_text(q, 4);
      r.sessions = rs_col_u64(q, 5);
      if (on_failure(&r, arg) != 0) {
        rc = SQLITE_DONE;
        break;
      }
    }
    ret = rs_end_query(st, q, rc, "cannot read the failures");
    if (ret != MTS_OK) {
      return ret;
    }
  }
  return MTS_OK;
}

/* Static text: readers keep the pointer. */
static const char *rs_not_ready(const struct mts_rpt_readiness *r,
                                unsigned min_senders, unsigned min_days) {
  if (r->senders == 0) {
    return "no reports in the window";
  }
  if (r->failed > 0) {
    return "sessions failed in the window";
  }
  if (r->senders < min_senders) {
    return "too few sending organisations";
  }
  if (r->days < min_days) {
    return "too few days with reports";
  }
  return NULL;
}

enum mts_status mts_rpt_store_readiness(struct mts_rpt_store *st,
                                        const char *domain, int64_t now,
                                        unsigned window_days,
                                        unsigned min_senders,
                                        unsigned min_days,
                                        mts_rpt_readiness_fn fn, void *arg) {
  int64_t last, first;
  sqlite3_stmt *q;
  bool seen = false;
  enum mts_status w;
  int rc;

  if (st == NULL || fn == NULL || window_days == 0 || window_days > 36600) {
    return MTS_EINVAL;
  }
  w = rs_watch(st);
  if (w != MTS_OK) {
    return w;
  }
  last = mts_rpt_store_day(now);
  first = last - (int64_t)(window_days - 1) * RS_DAY;
  q = st->q[Q_READY];
  mts_sqlite_bind_text(q, 2, domain);
  (void)sqlite3_bind_int64(q, 3, first);
  (void)sqlite3_bind_int64(q, 4, last);
  while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
    struct mts_rpt_readiness r;
    int64_t n;

    memset(&r, 0, sizeof(r));
    r.policy_domain = rs_col_text(q, 0);
    n = sqlite3_column_int64(q, 1);
    r.senders = n > 0 && n < UINT32_MAX ? (unsigned)n : 0;
    n = sqlite3_column_int64(q, 2);
    r.days = n > 0 && n < UINT32_MAX ? (unsigned)n : 0;
    r.successful = rs_col_u64(q, 3);
    r.failed = rs_col_u64(q, 4);
    r.reason = rs_not_ready(&r, min_senders, min_days);
    r.ready = r.reason == NULL;
    seen = true;
    if (fn(&r, arg) != 0) {
      rc = SQLITE_DONE;
      break;
    }
  }
  if (rs_end_query(st, q, rc, "cannot read the readiness") != MTS_OK) {
    return mts_sqlite_status(rc);
  }
  if (!seen && domain != NULL) {
    /* A domain nobody reported about: not ready, said explicitly. */
    struct mts_rpt_readiness r;

    memset(&r, 0, sizeof(r));
    r.policy_domain = domain;
    r.reason = rs_not_ready(&r, min_senders, min_days);
    (void)fn(&r, arg);
  }
  return MTS_OK;
}

enum mts_status mts_rpt_store_raw(struct mts_rpt_store *st, int64_t since,
                                  unsigned outcomes, bool with_bytes,
                                  mts_rpt_raw_fn fn, void *arg) {
  sqlite3_stmt *q;
  enum mts_status w;
  int rc;

  if (st == NULL || fn == NULL) {
    return MTS_EINVAL;
  }
  w = rs_watch(st);
  if (w != MTS_OK) {
    return w;
  }
  q = st->q[Q_RAWLIST];
  (void)sqlite3_bind_int64(q, 1, since);
  (void)sqlite3_bind_int(q, 2, with_bytes ? 1 : 0);
  while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
    struct mts_rpt_raw_row r;
    const char *o = rs_col_text(q, 4);
    int64_t n;

    memset(&r, 0, sizeof(r));
    r.outcome = strcmp(o, "new") == 0         ? MTS_RPT_STORE_NEW
                : strcmp(o, "duplicate") == 0 ? MTS_RPT_STORE_DUPLICATE
                                              : MTS_RPT_STORE_REJECTED;
    if (outcomes != 0 && (outcomes & MTS_RPT_STORE_WANT(r.outcome)) == 0) {
      continue;
    }
    r.id = sqlite3_column_int64(q, 0);
    r.received = sqlite3_column_int64(q, 1);
    r.source = rs_col_text(q, 2);
    r.sha256 = rs_col_text(q, 3);
    r.reason = (const char *)sqlite3_column_text(q, 5);
    r.report_id = (const char *)sqlite3_column_text(q, 6);
    r.organization = (const char *)sqlite3_column_text(q, 7);
    r.findings_json = rs_col_text(q, 8);
    n = sqlite3_column_int64(q, 9);
    r.warnings = n > 0 && n < UINT32_MAX ? (unsigned)n : 0;
    n = sqlite3_column_int64(q, 10);
    r.len = n > 0 ? (size_t)n : 0;
    if (with_bytes) {
      r.bytes = sqlite3_column_blob(q, 11);
      r.len = (size_t)sqlite3_column_bytes(q, 11);
      if (r.bytes == NULL) {
        r.bytes = (const uint8_t *)"";
      }
    }
    if (fn(&r, arg) != 0) {
      rc = SQLITE_DONE;
      break;
    }
  }
  return rs_end_query(st, q, rc, "cannot read the raw inputs");
}

enum mts_status mts_rpt_store_usage(struct mts_rpt_store *st, int64_t since,
                                    const char *source_prefix,
                                    uint64_t *inputs, uint64_t *bytes) {
  sqlite3_stmt *q;
  enum mts_status w;
  int rc;

  if (inputs != NULL) {
    *inputs = 0;
  }
  if (bytes != NULL) {
    *bytes = 0;
  }
  if (st == NULL) {
    return MTS_EINVAL;
  }
  w = rs_watch(st);
  if (w != MTS_OK) {
    return w;
  }
  q = st->q[Q_USAGE];
  (void)sqlite3_bind_int64(q, 1, since);
  mts_sqlite_bind_text(q, 2, source_prefix);
  rc = sqlite3_step(q);
  if (rc == SQLITE_ROW) {
    if (inputs != NULL) {
      *inputs = rs_col_u64(q, 0);
    }
    if (bytes != NULL) {
      *bytes = rs_col_u64(q, 1);
    }
    rc = SQLITE_DONE;
  }
  return rs_end_query(st, q, rc, "cannot count the stored inputs");
}

enum mts_status mts_rpt_store_prune(struct mts_rpt_store *st, int64_t before,
                                    uint64_t *inputs, uint64_t *reports) {
  static const enum rs_q steps[] = {Q_PRUNE_FAILURE, Q_PRUNE_POLICY,
                                    Q_PRUNE_UNLINK, Q_PRUNE_REPORT,
                                    Q_PRUNE_RAW};
  uint64_t nreports = 0, ninputs = 0;
  enum mts_status ret;
  size_t i;
  int rc = SQLITE_OK;

  if (inputs != NULL) {
    *inputs = 0;
  }
  if (reports != NULL) {
    *reports = 0;
  }
  if (st == NULL) {
    return MTS_EINVAL;
  }
  ret = rs_watch(st);
  if (ret == MTS_OK) {
    ret = mts_sqlite_begin(&st->sql);
  }
  if (ret != MTS_OK) {
    return ret;
  }
  for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
    sqlite3_stmt *q = st->q[steps[i]];
    sqlite3_int64 changed;

    (void)sqlite3_bind_int64(q, 1, before);
    rc = rs_step(st, q, "cannot prune the store", NULL);
    if (rc != SQLITE_OK) {
      return mts_sqlite_end(&st->sql, mts_sqlite_status(rc));
    }
    changed = sqlite3_changes64(st->sql.db);
    if (steps[i] == Q_PRUNE_REPORT) {
      nreports = changed > 0 ? (uint64_t)changed : 0;
    } else if (steps[i] == Q_PRUNE_RAW) {
      ninputs = changed > 0 ? (uint64_t)changed : 0;
    }
  }
  ret = mts_sqlite_end(&st->sql, MTS_OK);
  if (ret == MTS_OK) {
    if (inputs != NULL) {
      *inputs = ninputs;
    }
    if (reports != NULL) {
      *reports = nreports;
    }
  }
  return ret;
}
