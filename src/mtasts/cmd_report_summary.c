/*
 * cmd_report_summary.c - `mtasts report summary` and `mtasts report
 * ready`: what the stored TLS reports (mtasts/rpt_store.h) say about a
 * domain, and whether it looks ready to switch its MTA-STS policy from
 * testing to enforce.
 *
 * summary exit: 0; 2 the store cannot be read; 64 usage; 66 no store.
 * ready exit:   0 every domain asked about is ready; 1 some is not (or
 *               the store holds no report); 2 store; 64 usage; 66 no
 *               store.
 * The JSON output is documented in docs/report-summary.md.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <mtasts/rpt_store.h>

#include "cli.h"

#define SUM_EX_FAILED 2
#define DAY_SECS INT64_C(86400)
/* Defaults of `ready` (docs/decisions.md, "TLS reports: the store"). */
#define READY_WINDOW_DAYS 14u
#define READY_MIN_SENDERS 2u
#define READY_MIN_DAYS 7u

/* "YYYY-MM-DD" (a real date) to 00:00Z of that day. */
static bool parse_date(const char *s, int64_t *out) {
  return mts_utc_parse(s, MTS_UTC_DATE_ONLY, out) == MTS_OK;
}

static void fmt_day(int64_t t, char *out, size_t n) {
  time_t tt = (time_t)t;
  struct tm tm;

  if (gmtime_r(&tt, &tm) == NULL ||
      strftime(out, n, "%Y-%m-%d", &tm) == 0) {
    (void)snprintf(out, n, "@%lld", (long long)t);
  }
}

static void fmt_time(int64_t t, char *out, size_t n) {
  time_t tt = (time_t)t;
  struct tm tm;

  if (gmtime_r(&tt, &tm) == NULL ||
      strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
    (void)snprintf(out, n, "@%lld", (long long)t);
  }
}

static bool parse_uint(const char *s, unsigned min, unsigned max,
                       unsigned *out) {
  char *end = NULL;
  unsigned long v;

  if (s == NULL || s[0] < '0' || s[0] > '9') {
    return false;
  }
  errno = 0;
  v = strtoul(s, &end, 10);
  if (errno != 0 || *end != '\0' || v < min || v > max) {
    return false;
  }
  *out = (unsigned)v;
  return true;
}

/* JSON with rates to 6 significant digits. */
static void json_print6(json_t *j) {
  if (j == NULL) {
    cli_err("out of memory");
    return;
  }
  json_dumpf(j, stdout,
             JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
  fputc('\n', stdout);
  json_decref(j);
}

static json_t *rate_json(uint64_t failed, uint64_t sessions) {
  return sessions > 0 ? json_real((double)failed / (double)sessions)
                      : json_null();
}

static json_t *u64_json(uint64_t v) {
  return json_integer(v > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)v);
}

/* ================= summary ================= */

struct srow {
  int64_t day;
  char *domain, *org;
  uint64_t reports, ok, failed;
};
struct frow {
  int64_t day;
  char *domain, *org, *type, *mx;
  uint64_t sessions;
};
struct rows {
  struct srow *s;
  size_t ns, caps;
  struct frow *f;
  size_t nf, capf;
  bool oom;
};

static bool grow(void **v, size_t *cap, size_t n, size_t size) {
  if (n < *cap) {
    return true;
  }
  {
    size_t ncap = *cap != 0 ? *cap * 2 : 64;
    void *nv = realloc(*v, ncap * size);

    if (nv == NULL) {
      return false;
    }
    *v = nv;
    *cap = ncap;
  }
  return true;
}

static int on_summary(const struct mts_rpt_summary_row *r, void *arg) {
  struct rows *rs = arg;
  struct srow *s;

  if (!grow((void **)&rs->s, &rs->caps, rs->ns, sizeof(*rs->s))) {
    rs->oom = true;
    return 1;
  }
  s = &rs->s[rs->ns++];
  s->day = r->day;
  s->domain = strdup(r->policy_domain);
  s->org = strdup(r->organization);
  s->reports = r->reports;
  s->ok = r->successful;
  s->failed = r->failed;
  if (s->domain == NULL || s->org == NULL) {
    rs->oom = true;
    return 1;
  }
  return 0;
}

static int on_failure(const struct mts_rpt_failure_row *r, void *arg) {
  struct rows *rs = arg;
  struct frow *f;

  if (!grow((void **)&rs->f, &rs->capf, rs->nf, sizeof(*rs->f))) {
    rs->oom = true;
    return 1;
  }
  f = &rs->f[rs->nf++];
  f->day = r->day;
  f->domain = strdup(r->policy_domain);
  f->org = strdup(r->organization);
  f->type = strdup(r->result_type);
  f->mx = strdup(r->receiving_mx_hostname);
  f->sessions = r->sessions;
  if (f->domain == NULL || f->org == NULL || f->type == NULL ||
      f->mx == NULL) {
    rs->oom = true;
    return 1;
  }
  return 0;
}

static void rows_free(struct rows *rs) {
  size_t i;

  for (i = 0; i < rs->ns; i++) {
    free(rs->s[i].domain);
    free(rs->s[i].org);
  }
  for (i = 0; i < rs->nf; i++) {
    free(rs->f[i].domain);
    free(rs->f[i].org);
    free(rs->f[i].type);
    free(rs->f[i].mx);
  }
  free(rs->s);
  free(rs->f);
}

/* Failure row \p f belongs to summary row \p s. */
static bool same_group(const struct srow *s, const struct frow *f) {
  return s->day == f->day && strcmp(s->domain, f->domain) == 0 &&
         strcmp(s->org, f->org) == 0;
}

struct raw_counts {
  uint64_t n[3];
  json_t *rejected; /* NULL for text */
};

static int on_raw(const struct mts_rpt_raw_row *r, void *arg) {
  struct raw_counts *c = arg;

  c->n[r->outcome]++;
  if (c->rejected != NULL && r->outcome == MTS_RPT_STORE_REJECTED) {
    json_t *o = json_object();
    char t[40];

    fmt_time(r->received, t, sizeof(t));
    json_object_set_new(o, "id", json_integer(r->id));
    json_object_set_new(o, "received", json_string(t));
    json_object_set_new(o, "source", json_string(r->source));
    json_object_set_new(o, "reason", json_string(r->reason != NULL
                                                     ? r->reason
                                                     : ""));
    json_object_set_new(o, "sha256", json_string(r->sha256));
    json_object_set_new(o, "size", u64_json(r->len));
    json_array_append_new(c->rejected, o);
  }
  return 0;
}

static void summary_json(const struct rows *rs, const char *db,
                         const char *domain, const char *since,
                         struct raw_counts *rc) {
  json_t *o = json_object(), *rows = json_array(), *t = json_object(),
         *in = json_object();
  uint64_t ok = 0, failed = 0;
  size_t i, j = 0;

  for (i = 0; i < rs->ns; i++) {
    const struct srow *s = &rs->s[i];
    json_t *r = json_object(), *fa = json_array();
    char day[32];

    fmt_day(s->day, day, sizeof(day));
    json_object_set_new(r, "day", json_string(day));
    json_object_set_new(r, "policy_domain", json_string(s->domain));
    json_object_set_new(r, "organization", json_string(s->org));
    json_object_set_new(r, "reports", u64_json(s->reports));
    json_object_set_new(r, "sessions", u64_json(s->ok + s->failed));
    json_object_set_new(r, "successful", u64_json(s->ok));
    json_object_set_new(r, "failed", u64_json(s->failed));
    json_object_set_new(r, "failure_rate", rate_json(s->failed, s->ok + s->failed));
    while (j < rs->nf && same_group(s, &rs->f[j])) {
      json_array_append_new(
          fa, json_pack("{s:s, s:s, s:o}", "result_type", rs->f[j].type,
                        "receiving_mx_hostname", rs->f[j].mx, "sessions",
                        u64_json(rs->f[j].sessions)));
      j++;
    }
    json_object_set_new(r, "failures", fa);
    json_array_append_new(rows, r);
    ok += s->ok;
    failed += s->failed;
  }
  json_object_set_new(o, "db", json_string(db));
  json_object_set_new(o, "domain", domain != NULL ? json_string(domain)
                                                  : json_null());
  json_object_set_new(o, "since", since != NULL ? json_string(since)
                                                : json_null());
  json_object_set_new(o, "rows", rows);
  json_object_set_new(t, "sessions", u64_json(ok + failed));
  json_object_set_new(t, "successful", u64_json(ok));
  json_object_set_new(t, "failed", u64_json(failed));
  json_object_set_new(t, "failure_rate", rate_json(failed, ok + failed));
  json_object_set_new(o, "totals", t);
  json_object_set_new(in, "new", u64_json(rc->n[MTS_RPT_STORE_NEW]));
  json_object_set_new(in, "duplicate",
                      u64_json(rc->n[MTS_RPT_STORE_DUPLICATE]));
  json_object_set_new(in, "rejected", u64_json(rc->n[MTS_RPT_STORE_REJECTED]));
  json_object_set_new(o, "inputs", in);
  json_object_set_new(o, "rejected", rc->rejected);
  rc->rejected = NULL;
  json_print6(o);
}

static void fmt_rate(uint64_t failed, uint64_t sessions, char *out, size_t n) {
  if (sessions == 0) {
    (void)snprintf(out, n, "-");
  } else {
    (void)snprintf(out, n, "%.2f%%",
                   100.0 * (double)failed / (double)sessions);
  }
}

static int cmp_fail(const void *a, const void *b) {
  const struct frow *x = *(const struct frow *const *)a;
  const struct frow *y = *(const struct frow *const *)b;

  if (x->sessions != y->sessions) {
    return x->sessions > y->sessions ? -1 : 1;
  }
  return x < y ? -1 : x > y; /* stable: store order */
}

/* The failure rows of summary row \p s (from index \p j), most sessions
 * first, at most TEXT_FAILURES_MAX. \return the index after them. */
#define TEXT_FAILURES_MAX 10
static size_t summary_text_failures(const struct rows *rs,
                                    const struct srow *s, size_t j) {
  const struct frow **v;
  size_t k, n = 0;

  while (j + n < rs->nf && same_group(s, &rs->f[j + n])) {
    n++;
  }
  if (n == 0) {
    return j;
  }
  v = calloc(n, sizeof(*v));
  if (v == NULL) {
    return j + n;
  }
  for (k = 0; k < n; k++) {
    v[k] = &rs->f[j + k];
  }
  qsort(v, n, sizeof(*v), cmp_fail);
  for (k = 0; k < n && k < TEXT_FAILURES_MAX; k++) {
    char *type = cli_safe_dup(v[k]->type), *mx = cli_safe_dup(v[k]->mx);

    printf("            failed %llu: %s%s%s\n",
           (unsigned long long)v[k]->sessions, type != NULL ? type : "",
           mx != NULL && mx[0] != '\0' ? " at " : "", mx != NULL ? mx : "");
    free(type);
    free(mx);
  }
  if (n > TEXT_FAILURES_MAX) {
    printf("            ... and %zu more (--json lists all)\n",
           n - TEXT_FAILURES_MAX);
  }
  free(v);
  return j + n;
}

static void summary_text(const struct rows *rs, const struct raw_counts *rc) {
  int wd = 6, wo = 12;
  uint64_t ok = 0, failed = 0;
  size_t i, j = 0;
  char rate[32];

  for (i = 0; i < rs->ns; i++) {
    int l = (int)strlen(rs->s[i].domain);

    wd = l > wd ? (l > 40 ? 40 : l) : wd;
    l = (int)strlen(rs->s[i].org);
    wo = l > wo ? (l > 40 ? 40 : l) : wo;
  }
  if (rs->ns == 0) {
    printf("no reports match\n");
  } else {
    printf("%-10s  %-*s  %-*s  %7s  %10s  %10s  %7s\n", "DAY", wd, "DOMAIN",
           wo, "ORGANIZATION", "REPORTS", "SESSIONS", "FAILED", "RATE");
  }
  for (i = 0; i < rs->ns; i++) {
    const struct srow *s = &rs->s[i];
    char day[32], *dom = cli_safe_dup(s->domain);
    char *org = cli_safe_dup(s->org[0] != '\0' ? s->org : "(none)");

    fmt_day(s->day, day, sizeof(day));
    fmt_rate(s->failed, s->ok + s->failed, rate, sizeof(rate));
    printf("%-10s  %-*s  %-*s  %7llu  %10llu  %10llu  %7s\n", day, wd,
           dom != NULL ? dom : "", wo, org != NULL ? org : "",
           (unsigned long long)s->reports,
           (unsigned long long)(s->ok + s->failed),
           (unsigned long long)s->failed, rate);
    free(dom);
    free(org);
    j = summary_text_failures(rs, s, j);
    ok += s->ok;
    failed += s->failed;
  }
  fmt_rate(failed, ok + failed, rate, sizeof(rate));
  printf("total: %llu sessions, %llu failed (%s); inputs stored: %llu new, "
         "%llu duplicate, %llu rejected\n",
         (unsigned long long)(ok + failed), (unsigned long long)failed, rate,
         (unsigned long long)rc->n[MTS_RPT_STORE_NEW],
         (unsigned long long)rc->n[MTS_RPT_STORE_DUPLICATE],
         (unsigned long long)rc->n[MTS_RPT_STORE_REJECTED]);
}

/* Options shared by summary and ready. */
struct sopts {
  const char *db, *domain, *since_s, *date_s;
  int64_t since, date;
  bool json, has_date;
  unsigned days, min_senders, min_days;
};

static int parse_opts(const char *cmd, int argc, char **argv, bool ready,
                      struct sopts *o) {
  int i;

  for (i = 0; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    bool ok = true;

    if (strcmp(a, "--json") == 0) {
      o->json = true;
      continue;
    }
    if (v == NULL || strncmp(a, "--", 2) != 0) {
      cli_err("report %s: unexpected argument '%s'", cmd, a);
      return CLI_EX_USAGE;
    }
    i++;
    if (strcmp(a, "--db") == 0) {
      o->db = v;
    } else if (strcmp(a, "--domain") == 0) {
      o->domain = v;
    } else if (!ready && strcmp(a, "--since") == 0) {
      o->since_s = v;
      ok = parse_date(v, &o->since);
    } else if (ready && strcmp(a, "--date") == 0) {
      o->date_s = v;
      ok = parse_date(v, &o->date);
      o->has_date = true;
    } else if (ready && strcmp(a, "--days") == 0) {
      ok = parse_uint(v, 1, 3660, &o->days);
    } else if (ready && strcmp(a, "--min-senders") == 0) {
      ok = parse_uint(v, 0, 1000000, &o->min_senders);
    } else if (ready && strcmp(a, "--min-days") == 0) {
      ok = parse_uint(v, 0, 3660, &o->min_days);
    } else {
      cli_err("report %s: unknown option '%s'", cmd, a);
      return CLI_EX_USAGE;
    }
    if (!ok) {
      cli_err("report %s: bad value for %s: '%s'", cmd, a, v);
      return CLI_EX_USAGE;
    }
  }
  o->db = cli_report_db(o->db);
  return 0;
}

int cmd_report_summary(int argc, char **argv) {
  struct raw_counts rc;
  struct sopts o;
  struct rows rs;
  struct mts_ctx *ctx = NULL;
  struct mts_rpt_store *st = NULL;
  int ret;

  memset(&o, 0, sizeof(o));
  memset(&rs, 0, sizeof(rs));
  memset(&rc, 0, sizeof(rc));
  ret = parse_opts("summary", argc, argv, false, &o);
  if (ret != 0) {
    return ret;
  }
  ret = cli_report_open("summary", o.db, &ctx, &st);
  if (ret != 0) {
    goto done;
  }
  ret = SUM_EX_FAILED;
  if (mts_rpt_store_summary(st, o.domain, o.since_s != NULL ? o.since : 0,
                            on_summary, on_failure, &rs) != MTS_OK) {
    cli_err("report summary: cannot read %s", o.db);
    goto done;
  }
  if (rs.oom) {
    cli_err("out of memory");
    ret = CLI_EX_SOFTWARE;
    goto done;
  }
  rc.rejected = o.json ? json_array() : NULL;
  if (mts_rpt_store_raw(st, 0, 0, false, on_raw, &rc) != MTS_OK) {
    cli_err("report summary: cannot read %s", o.db);
    goto done;
  }
  if (o.json) {
    summary_json(&rs, o.db, o.domain, o.since_s, &rc);
  } else {
    summary_text(&rs, &rc);
  }
  ret = CLI_EX_OK;
done:
  json_decref(rc.rejected);
  rows_free(&rs);
  mts_rpt_store_close(st);
  mts_ctx_destroy(ctx);
  return ret;
}

/* ================= ready ================= */

struct ready_out {
  bool json;
  json_t *domains;
  unsigned n, nready;
};

static int on_ready(const struct mts_rpt_readiness *r, void *arg) {
  struct ready_out *ro = arg;

  ro->n++;
  ro->nready += r->ready ? 1 : 0;
  if (ro->json) {
    json_t *o = json_object();

    json_object_set_new(o, "policy_domain", json_string(r->policy_domain));
    json_object_set_new(o, "ready", json_boolean(r->ready));
    json_object_set_new(o, "reason", r->reason != NULL
                                         ? json_string(r->reason)
                                         : json_null());
    json_object_set_new(o, "senders", json_integer(r->senders));
    json_object_set_new(o, "days", json_integer(r->days));
    json_object_set_new(o, "sessions", u64_json(r->successful + r->failed));
    json_object_set_new(o, "successful", u64_json(r->successful));
    json_object_set_new(o, "failed", u64_json(r->failed));
    json_array_append_new(ro->domains, o);
  } else {
    char *dom = cli_safe_dup(r->policy_domain);

    printf("%s: %s%s%s: %u sender%s, %u day%s, %llu sessions, %llu "
           "failed\n",
           dom != NULL ? dom : "", r->ready ? "READY" : "NOT READY",
           r->ready ? "" : " - ", r->ready ? "" : r->reason, r->senders,
           r->senders == 1 ? "" : "s", r->days, r->days == 1 ? "" : "s",
           (unsigned long long)(r->successful + r->failed),
           (unsigned long long)r->failed);
    free(dom);
  }
  return 0;
}

int cmd_report_ready(int argc, char **argv) {
  struct ready_out ro;
  struct sopts o;
  struct mts_ctx *ctx = NULL;
  struct mts_rpt_store *st = NULL;
  char first[32], last[32];
  int64_t now, lastday;
  int ret;

  memset(&o, 0, sizeof(o));
  memset(&ro, 0, sizeof(ro));
  o.days = READY_WINDOW_DAYS;
  o.min_senders = READY_MIN_SENDERS;
  o.min_days = READY_MIN_DAYS;
  ret = parse_opts("ready", argc, argv, true, &o);
  if (ret != 0) {
    return ret;
  }
  ret = cli_report_open("ready", o.db, &ctx, &st);
  if (ret != 0) {
    goto done;
  }
  now = o.has_date ? o.date : mts_ctx_now(ctx);
  lastday = mts_rpt_store_day(now);
  fmt_day(lastday - (int64_t)(o.days - 1) * DAY_SECS, first, sizeof(first));
  fmt_day(lastday, last, sizeof(last));
  ro.json = o.json;
  ro.domains = json_array();
  if (!o.json) {
    printf("window %s to %s (%u day%s); ready when at least %u sending "
           "organisation%s reported on at least %u day%s and no session "
           "failed\n",
           first, last, o.days, o.days == 1 ? "" : "s", o.min_senders,
           o.min_senders == 1 ? "" : "s", o.min_days,
           o.min_days == 1 ? "" : "s");
  }
  if (mts_rpt_store_readiness(st, o.domain, now, o.days, o.min_senders,
                              o.min_days, on_ready, &ro) != MTS_OK) {
    cli_err("report ready: cannot read %s", o.db);
    ret = SUM_EX_FAILED;
    goto done;
  }
  if (o.json) {
    json_t *j = json_object(), *w = json_object(), *t = json_object();

    json_object_set_new(j, "db", json_string(o.db));
    json_object_set_new(w, "first", json_string(first));
    json_object_set_new(w, "last", json_string(last));
    json_object_set_new(w, "days", json_integer(o.days));
    json_object_set_new(j, "window", w);
    json_object_set_new(t, "min_senders", json_integer(o.min_senders));
    json_object_set_new(t, "min_days", json_integer(o.min_days));
    json_object_set_new(t, "max_failed", json_integer(0));
    json_object_set_new(j, "thresholds", t);
    json_object_set_new(j, "ready", json_boolean(ro.n > 0 &&
                                                 ro.nready == ro.n));
    json_object_set_new(j, "domains", json_incref(ro.domains));
    cli_json_print(j);
  } else if (ro.n == 0) {
    printf("no reports in the store\n");
  }
  ret = ro.n > 0 && ro.nready == ro.n ? CLI_EX_OK : 1;
done:
  json_decref(ro.domains);
  mts_rpt_store_close(st);
  mts_ctx_destroy(ctx);
  return ret;
}
