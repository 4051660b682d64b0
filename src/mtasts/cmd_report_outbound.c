/*
 * cmd_report_outbound.c - `mtasts report show|dump|send`: the sending
 * side's TLS reports (RFC 8460; issue 6) in the store mtasts-tlsrptd
 * writes (rpt_agg.h).
 *
 *   show [--state FILE] [--day DATE] [--domain D] [--json]
 *   dump [--state FILE] --domain D [--day DATE] [--gzip] [identity]
 *   send [--state FILE] [--day DATE] [--domain D] [--dry-run DIR]
 *        [--rua URI]... [--resolver IP[:PORT]] [--ca-file FILE]
 *        [--insecure] [--timeout S] [identity] [--sendmail CMD]
 *        [--from ADDR]
 *   identity: [--org NAME] [--contact ADDR] [--submitter DOMAIN]; each
 *   defaults to what the daemon stored (meta table).
 *
 * DATE is YYYY-MM-DD (UTC); the default is yesterday for dump, and for
 * send every finished day not yet reported.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "cli.h"

#define DEFAULT_STATE "/var/lib/mtasts-tlsrptd/state.db"
#define LEASE_S 900
#define MAX_RUAS 16

struct ob_opts {
  const char *state;
  const char *day;
  const char *domain;
  const char *dry_run;
  const char *org, *contact, *submitter, *sendmail, *from;
  const char *rua[MAX_RUAS];
  size_t nrua;
  bool json, gzip, insecure;
  struct cli_opts net;
};

static bool opt_val(int argc, char **argv, int *i, const char *name,
                    const char **out) {
  size_t n = strlen(name);

  if (strncmp(argv[*i], name, n) != 0) {
    return false;
  }
  if (argv[*i][n] == '=') {
    *out = argv[*i] + n + 1;
    return true;
  }
  if (argv[*i][n] != '\0') {
    return false;
  }
  if (*i + 1 >= argc) {
    cli_err("report: option %s needs a value", name);
    *out = NULL;
    return true;
  }
  *out = argv[++*i];
  return true;
}

/* \p allowed: a string of option letters: s(tate) d(ay) D(omain) j(son)
 * g(zip) r(un: send options) i(dentity). */
static bool parse_opts(const char *cmd, int argc, char **argv,
                       const char *allowed, struct ob_opts *o) {
  int i;

  memset(o, 0, sizeof(*o));
  o->state = DEFAULT_STATE;
  for (i = 0; i < argc; i++) {
    const char *v = NULL, *a = argv[i];
    bool ok = true;

#define HAS(c) (strchr(allowed, (c)) != NULL)
    if (HAS('s') && opt_val(argc, argv, &i, "--state", &v)) {
      o->state = v;
    } else if (HAS('d') && opt_val(argc, argv, &i, "--day", &v)) {
      o->day = v;
    } else if (HAS('D') && opt_val(argc, argv, &i, "--domain", &v)) {
      o->domain = v;
    } else if (HAS('j') && strcmp(a, "--json") == 0) {
      o->json = true;
      v = a;
    } else if (HAS('g') && strcmp(a, "--gzip") == 0) {
      o->gzip = true;
      v = a;
    } else if (HAS('i') && opt_val(argc, argv, &i, "--org", &v)) {
      o->org = v;
    } else if (HAS('i') && opt_val(argc, argv, &i, "--contact", &v)) {
      o->contact = v;
    } else if (HAS('i') && opt_val(argc, argv, &i, "--submitter", &v)) {
      o->submitter = v;
    } else if (HAS('r') && opt_val(argc, argv, &i, "--dry-run", &v)) {
      o->dry_run = v;
    } else if (HAS('r') && opt_val(argc, argv, &i, "--sendmail", &v)) {
      o->sendmail = v;
    } else if (HAS('r') && opt_val(argc, argv, &i, "--from", &v)) {
      o->from = v;
    } else if (HAS('r') && opt_val(argc, argv, &i, "--resolver", &v)) {
      o->net.resolver = v;
    } else if (HAS('r') && opt_val(argc, argv, &i, "--ca-file", &v)) {
      o->net.ca_file = v;
    } else if (HAS('r') && opt_val(argc, argv, &i, "--timeout", &v)) {
      char *end = NULL;
      long t = v != NULL ? strtol(v, &end, 10) : 0;

      if (v != NULL && (end == v || *end != '\0' || t < 1 || t > 3600)) {
        cli_err("%s: --timeout wants whole seconds from 1 to 3600", cmd);
        return false;
      }
      o->net.timeout_s = (unsigned)t;
    } else if (HAS('r') && strcmp(a, "--insecure") == 0) {
      o->insecure = true;
      v = a;
    } else if (HAS('r') && opt_val(argc, argv, &i, "--rua", &v)) {
      if (v != NULL) {
        if (o->nrua == MAX_RUAS) {
          cli_err("%s: at most %d --rua", cmd, MAX_RUAS);
          return false;
        }
        o->rua[o->nrua++] = v;
      }
    } else {
      cli_err("%s: unknown argument '%s' (see mtasts(1))", cmd, a);
      ok = false;
    }
#undef HAS
    if (!ok || v == NULL) {
      return false;
    }
  }
  return true;
}

static int64_t now_s(void) { return (int64_t)time(NULL); }

/* A state write that failed is reported; the run goes on. */
static void state_ok(enum mts_status st) {
  if (st != MTS_OK) {
    cli_err("report: cannot write the state: %s", mts_status_str(st));
  }
}

static struct mts_rpt_agg *open_state(struct mts_ctx *ctx, const char *path) {
  struct mts_rpt_agg *g = NULL;
  char host[300], name[400];
  enum mts_status st;

  if (access(path, R_OK) != 0) {
    cli_err("report: %s: no such state file (see --state)", path);
    return NULL;
  }
  if (gethostname(host, sizeof(host)) != 0) {
    (void)snprintf(host, sizeof(host), "localhost");
  }
  host[sizeof(host) - 1] = '\0';
  (void)snprintf(name, sizeof(name), "%s:cli:%ld", host, (long)getpid());
  st = mts_rpt_agg_open(ctx, path, name, &g);
  if (st != MTS_OK) {
    cli_err("report: %s: cannot open the state: %s", path,
            mts_status_str(st));
    return NULL;
  }
  return g;
}

static void fmt_time(int64_t t, char *buf, size_t size) {
  struct tm tm;
  time_t tt = (time_t)t;

  if (t <= 0) {
    (void)snprintf(buf, size, "-");
    return;
  }
  memset(&tm, 0, sizeof(tm));
  (void)gmtime_r(&tt, &tm);
  (void)strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static bool parse_day_opt(const char *s, int64_t *day) {
  if (s == NULL) {
    return true;
  }
  if (mts_rpt_agg_day_parse(s, day) != MTS_OK) {
    cli_err("report: --day wants YYYY-MM-DD (UTC), not '%s'", s);
    return false;
  }
  return true;
}

/* ---- show ---- */

struct show_ctx {
  bool json;
  json_t *arr;
  size_t n;
};

static bool show_day(void *arg, const struct mts_rpt_agg_day_row *r) {
  struct show_ctx *s = arg;
  char ds[11];

  mts_rpt_agg_day_str(r->day, ds);
  if (s->json) {
    (void)json_array_append_new(
        s->arr,
        json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:s?}", "day", ds, "domain",
                  r->domain, "successful", (json_int_t)r->successful,
                  "failed", (json_int_t)r->failed, "policies",
                  (json_int_t)r->npolicies, "hosts", (json_int_t)r->nhosts,
                  "report", r->report_state));
  } else {
    if (s->n == 0) {
      printf("%-10s  %-32s %10s %10s %8s %5s  %s\n", "DAY", "DOMAIN",
             "SUCCESSFUL", "FAILED", "POLICIES", "HOSTS", "REPORT");
    }
    printf("%-10s  %-32s %10llu %10llu %8zu %5zu  %s\n", ds, r->domain,
           (unsigned long long)r->successful, (unsigned long long)r->failed,
           r->npolicies, r->nhosts,
           r->report_state != NULL ? r->report_state : "-");
  }
  s->n++;
  return true;
}

static bool show_dl(void *arg, const struct mts_rpt_agg_delivery *d) {
  struct show_ctx *s = arg;
  char ds[11], t1[32], t2[32], t3[32];

  mts_rpt_agg_day_str(d->day, ds);
  fmt_time(d->first_at, t1, sizeof(t1));
  fmt_time(d->next_at, t2, sizeof(t2));
  fmt_time(d->done_at, t3, sizeof(t3));
  if (s->json) {
    (void)json_array_append_new(
        s->arr,
        json_pack("{s:s, s:s, s:s, s:s, s:I, s:s?, s:s?, s:s?, s:s?, s:s?}",
                  "day", ds, "domain", d->domain, "rua", d->rua, "state",
                  d->state, "attempts", (json_int_t)d->attempts,
                  "first_attempt", d->first_at > 0 ? t1 : NULL,
                  "next_attempt",
                  strcmp(d->state, "pending") == 0 && d->next_at > 0 ? t2
                                                                     : NULL,
                  "done", d->done_at > 0 ? t3 : NULL, "last_error",
                  d->last_error, "lease_owner", d->lease_owner));
  } else {
    if (s->n == 0) {
      printf("\n%-10s  %-24s %-8s %3s  %-20s  %s\n", "DAY", "DOMAIN",
             "STATE", "TRY", "NEXT/DONE", "RUA");
    }
    printf("%-10s  %-24s %-8s %3u  %-20s  %s%s%s\n", ds, d->domain, d->state,
           d->attempts, strcmp(d->state, "pending") == 0 ? t2 : t3, d->rua,
           d->last_error != NULL ? "  last error: " : "",
           d->last_error != NULL ? d->last_error : "");
  }
  s->n++;
  return true;
}

int cmd_report_show(int argc, char **argv) {
  struct ob_opts o;
  struct mts_ctx *ctx = NULL;
  struct mts_rpt_agg *g = NULL;
  struct show_ctx s;
  int64_t day = -1;
  json_t *top = NULL;
  int rc = CLI_EX_SOFTWARE;

  if (!parse_opts("report show", argc, argv, "sdDj", &o) ||
      !parse_day_opt(o.day, &day)) {
    return CLI_EX_USAGE;
  }
  ctx = cli_ctx();
  if (ctx == NULL) {
    return CLI_EX_SOFTWARE;
  }
  g = open_state(ctx, o.state);
  if (g == NULL) {
    mts_ctx_destroy(ctx);
    return CLI_EX_NOINPUT;
  }
  memset(&s, 0, sizeof(s));
  s.json = o.json;
  if (o.json) {
    top = json_object();
    s.arr = json_array();
  }
  if (mts_rpt_agg_days(g, day, o.domain, show_day, &s) != MTS_OK) {
    cli_err("report show: cannot read the state");
    goto done;
  }
  if (o.json) {
    (void)json_object_set_new(top, "aggregates", s.arr);
    s.arr = json_array();
  } else if (s.n == 0) {
    printf("no TLS sessions recorded%s\n", o.day != NULL ? " that day" : "");
  }
  s.n = 0;
  if (mts_rpt_agg_deliveries(g, day, o.domain, show_dl, &s) != MTS_OK) {
    cli_err("report show: cannot read the state");
    goto done;
  }
  if (o.json) {
    (void)json_object_set_new(top, "deliveries", s.arr);
    s.arr = NULL;
    cli_json_print(top);
    top = NULL;
  }
  rc = CLI_EX_OK;
done:
  json_decref(s.arr);
  json_decref(top);
  mts_rpt_agg_close(g);
  mts_ctx_destroy(ctx);
  return rc;
}

/* ---- identity ---- */

struct ident {
  char *org, *contact, *submitter, *sendmail, *from, *optout, *exclude;
};

static void ident_free(struct mts_rpt_agg *g, struct ident *id) {
  mts_rpt_agg_free(g, id->org);
  mts_rpt_agg_free(g, id->contact);
  mts_rpt_agg_free(g, id->submitter);
  mts_rpt_agg_free(g, id->sendmail);
  mts_rpt_agg_free(g, id->from);
  mts_rpt_agg_free(g, id->optout);
  mts_rpt_agg_free(g, id->exclude);
  memset(id, 0, sizeof(*id));
}

static bool ident_load(struct mts_rpt_agg *g, const struct ob_opts *o,
                       struct ident *id, struct mts_rpt_agg_identity *out) {
  memset(id, 0, sizeof(*id));
  if (mts_rpt_agg_get(g, "organization-name", &id->org) != MTS_OK ||
      mts_rpt_agg_get(g, "contact-info", &id->contact) != MTS_OK ||
      mts_rpt_agg_get(g, "submitter", &id->submitter) != MTS_OK ||
      mts_rpt_agg_get(g, "sendmail", &id->sendmail) != MTS_OK ||
      mts_rpt_agg_get(g, "from", &id->from) != MTS_OK ||
      mts_rpt_agg_get(g, "opt-out", &id->optout) != MTS_OK ||
      mts_rpt_agg_get(g, "exclude-recipient-domains", &id->exclude) !=
          MTS_OK) {
    cli_err("report: cannot read the state");
    return false;
  }
  out->organization_name = o->org != NULL ? o->org : id->org;
  out->contact_info = o->contact != NULL ? o->contact : id->contact;
  out->submitter = o->submitter != NULL ? o->submitter : id->submitter;
  if (out->submitter == NULL && out->contact_info != NULL) {
    out->submitter = mts_rpt_deliver_addr_domain(out->contact_info);
  }
  if (out->organization_name == NULL || out->contact_info == NULL ||
      out->submitter == NULL) {
    cli_err("report: no report identity in the state (start mtasts-tlsrptd "
            "once, or give --org, --contact and --submitter)");
    return false;
  }
  return true;
}

/* \return whether \p word is one of the space-separated words of \p list. */
static bool in_list(const char *list, const char *word) {
  size_t n = strlen(word);
  const char *p = list;

  while (p != NULL && *p != '\0') {
    const char *e;

    while (*p == ' ') {
      p++;
    }
    e = strchr(p, ' ');
    if (e == NULL) {
      e = p + strlen(p);
    }
    if ((size_t)(e - p) == n && strncmp(p, word, n) == 0) {
      return true;
    }
    p = e;
  }
  return false;
}

/* ---- dump ---- */

int cmd_report_dump(int argc, char **argv) {
  struct ob_opts o;
  struct mts_ctx *ctx = NULL;
  struct mts_rpt_agg *g = NULL;
  struct mts_rpt_agg_identity idv;
  struct ident id;
  int64_t day = mts_rpt_agg_day(now_s()) - MTS_RPT_DAY;
  char *json = NULL;
  size_t len = 0;
  enum mts_status st;
  int rc = CLI_EX_SOFTWARE;

  memset(&id, 0, sizeof(id));
  if (!parse_opts("report dump", argc, argv, "sdDgi", &o) ||
      !parse_day_opt(o.day, &day)) {
    return CLI_EX_USAGE;
  }
  if (o.domain == NULL) {
    cli_err("usage: mtasts report dump [--state FILE] --domain D "
            "[--day YYYY-MM-DD] [--gzip]");
    return CLI_EX_USAGE;
  }
  if (o.gzip && isatty(1)) {
    cli_err("report dump: --gzip writes binary; redirect the output");
    return CLI_EX_USAGE;
  }
  ctx = cli_ctx();
  if (ctx == NULL) {
    return CLI_EX_SOFTWARE;
  }
  g = open_state(ctx, o.state);
  if (g == NULL) {
    mts_ctx_destroy(ctx);
    return CLI_EX_NOINPUT;
  }
  if (!ident_load(g, &o, &id, &idv)) {
    rc = CLI_EX_USAGE;
    goto done;
  }
  st = mts_rpt_agg_report_json(g, day, o.domain, &idv, false, &json, &len);
  if (st == MTS_ENOTFOUND) {
    cli_err("report dump: no sessions for %s that day", o.domain);
    rc = 1;
    goto done;
  }
  if (st != MTS_OK) {
    cli_err("report dump: %s", mts_status_str(st));
    goto done;
  }
  if (o.gzip) {
    struct mts_rpt_report *rep = NULL;
    uint8_t *gz = NULL;
    size_t gzlen = 0;

    st = mts_rpt_report_parse(ctx, (const uint8_t *)json, len, &rep);
    if (st == MTS_OK) {
      st = mts_rpt_report_write_gzip(ctx, mts_rpt_report_data(rep), &gz,
                                     &gzlen);
    }
    mts_rpt_report_destroy(rep);
    if (st != MTS_OK || fwrite(gz, 1, gzlen, stdout) != gzlen) {
      mts_rpt_report_write_free(ctx, gz);
      cli_err("report dump: cannot write the gzip");
      goto done;
    }
    mts_rpt_report_write_free(ctx, gz);
  } else {
    printf("%s\n", json);
  }
  rc = fflush(stdout) == 0 ? CLI_EX_OK : CLI_EX_SOFTWARE;
done:
  mts_rpt_agg_free(g, json);
  ident_free(g, &id);
  mts_rpt_agg_close(g);
  mts_ctx_destroy(ctx);
  return rc;
}

/* ---- send ---- */

struct target {
  int64_t day;
  char domain[256];
  /* lookup */
  bool done;
  enum mts_status st;
  char err[200];
  char *ruas[MAX_RUAS];
  size_t nruas;
};

struct targets {
  struct target *v;
  size_t n, cap;
  int64_t today;
  bool day_given;
  bool oom;
};

static bool collect_target(void *arg, const struct mts_rpt_agg_day_row *r) {
  struct targets *t = arg;

  if (!t->day_given && r->day >= t->today) {
    return true; /* today is not finished */
  }
  if (!t->day_given && r->report_state != NULL &&
      strcmp(r->report_state, "wait") != 0 &&
      strcmp(r->report_state, "planned") != 0) {
    return true; /* settled: norua, optout, gaveup */
  }
  if (t->n == t->cap) {
    size_t nc = t->cap == 0 ? 16 : t->cap * 2;
    struct target *nv = realloc(t->v, nc * sizeof(*nv));

    if (nv == NULL) {
      t->oom = true;
      return false;
    }
    t->v = nv;
    t->cap = nc;
  }
  memset(&t->v[t->n], 0, sizeof(t->v[t->n]));
  t->v[t->n].day = r->day;
  (void)snprintf(t->v[t->n].domain, sizeof(t->v[t->n].domain), "%s",
                 r->domain);
  t->n++;
  return true;
}

struct lookup {
  struct mts_ctx *ctx;
  struct target *t;
  size_t pending;
};

struct lookup_one {
  struct lookup *l;
  struct target *t;
};

static void on_txt(void *arg, enum mts_status st,
                   const struct mts_txt_rrset *set, bool authenticated,
                   const char *errmsg) {
  struct lookup_one *lo = arg;
  struct target *t = lo->t;
  struct mts_rpt_txt *txt = NULL;

  (void)authenticated;
  t->done = true;
  t->st = st;
  if (errmsg != NULL) {
    (void)snprintf(t->err, sizeof(t->err), "%s", errmsg);
  }
  if (st == MTS_OK && mts_rpt_txt_parse(lo->l->ctx, set, &txt) == MTS_OK) {
    if (mts_rpt_txt_verdict(txt) == MTS_RPT_TXT_VALID) {
      size_t i, n = mts_rpt_txt_rua_count(txt);

      for (i = 0; i < n && t->nruas < MAX_RUAS; i++) {
        enum mts_rpt_uri_scheme sc;
        const char *u = mts_rpt_txt_rua(txt, i, &sc);

        if (u != NULL && sc != MTS_RPT_URI_OTHER) {
          t->ruas[t->nruas] = strdup(u);
          if (t->ruas[t->nruas] != NULL) {
            t->nruas++;
          }
        }
      }
    } else {
      (void)snprintf(t->err, sizeof(t->err), "_smtp._tls record: %s",
                     mts_rpt_txt_verdict_str(mts_rpt_txt_verdict(txt)));
    }
  }
  mts_rpt_txt_destroy(txt);
  free(lo);
}

/* Look the rua of every target up at once. \return false on a setup
 * failure (printed). */
static bool lookup_all(struct mts_ctx *ctx, const struct ob_opts *o,
                       struct targets *ts) {
  struct mts_net_options no;
  struct mts_net *net = NULL;
  struct lookup l;
  uv_loop_t loop;
  enum mts_status st;
  size_t i;
  bool ok = true;

  if (uv_loop_init(&loop) != 0) {
    return false;
  }
  mts_net_options_init(&no);
  no.resolver = o->net.resolver;
  no.dns_timeout_ms = o->net.timeout_s * 1000u;
  st = mts_net_create(ctx, &loop, &no, &net);
  if (st != MTS_OK) {
    cli_err("report send: cannot set up DNS: %s%s", mts_status_str(st),
            st == MTS_EINVAL ? " (check --resolver)" : "");
    ok = false;
  }
  l.ctx = ctx;
  for (i = 0; ok && i < ts->n; i++) {
    char name[300];
    struct lookup_one *lo;

    if (ts->v[i].done) {
      continue; /* opted out */
    }
    lo = malloc(sizeof(*lo));
    if (lo == NULL) {
      ok = false;
      break;
    }
    lo->l = &l;
    lo->t = &ts->v[i];
    (void)snprintf(name, sizeof(name), "_smtp._tls.%s", ts->v[i].domain);
    st = mts_net_dns_txt(net, name, on_txt, lo);
    if (st != MTS_OK) {
      free(lo);
      ts->v[i].done = true;
      ts->v[i].st = st;
      (void)snprintf(ts->v[i].err, sizeof(ts->v[i].err), "%s",
                     mts_status_str(st));
    }
  }
  if (ok) {
    (void)uv_run(&loop, UV_RUN_DEFAULT);
  }
  mts_net_destroy(net);
  (void)uv_run(&loop, UV_RUN_DEFAULT);
  (void)uv_loop_close(&loop);
  return ok;
}

struct send_state {
  struct mts_ctx *ctx;
  struct mts_rpt_agg *g;
  struct mts_rpt_deliver_config cfg;
  const struct mts_rpt_agg_identity *id;
  int64_t day;
  const char *domain;
  size_t sent, failed;
};

static uint64_t rnd64(void) {
  uint64_t v = 0;

  if (uv_random(NULL, NULL, &v, sizeof(v), 0, NULL) != 0) {
    v = (uint64_t)now_s() ^ ((uint64_t)getpid() << 32);
  }
  return v;
}

/* A pending delivery, copied out of the store before acting on it. */
struct pend {
  int64_t day, first_at;
  uint32_t attempts;
  char domain[256];
  char *rua;
};

struct pends {
  struct pend *v;
  size_t n, cap;
  bool oom;
};

static bool collect_pending(void *arg, const struct mts_rpt_agg_delivery *d) {
  struct pends *p = arg;

  if (strcmp(d->state, "pending") != 0) {
    return true;
  }
  if (p->n == p->cap) {
    size_t nc = p->cap == 0 ? 8 : p->cap * 2;
    struct pend *nv = realloc(p->v, nc * sizeof(*nv));

    if (nv == NULL) {
      p->oom = true;
      return false;
    }
    p->v = nv;
    p->cap = nc;
  }
  p->v[p->n].day = d->day;
  p->v[p->n].first_at = d->first_at;
  p->v[p->n].attempts = d->attempts;
  (void)snprintf(p->v[p->n].domain, sizeof(p->v[p->n].domain), "%s",
                 d->domain);
  p->v[p->n].rua = strdup(d->rua);
  if (p->v[p->n].rua == NULL) {
    p->oom = true;
    return false;
  }
  p->n++;
  return true;
}

static void send_one(struct send_state *s, const struct pend *d) {
  char ds[11], err[300];
  char *json = NULL;
  size_t len = 0;
  bool claimed = false;
  enum mts_status st;
  int64_t now = now_s();

  mts_rpt_agg_day_str(d->day, ds);
  if (mts_rpt_agg_claim(s->g, d->day, d->domain, d->rua, now, LEASE_S,
                        &claimed) != MTS_OK ||
      !claimed) {
    printf("busy    %s %s %s (another sender holds it)\n", ds, d->domain,
           d->rua);
    return;
  }
  st = mts_rpt_agg_report_json(s->g, d->day, d->domain, s->id, true, &json,
                               &len);
  if (st != MTS_OK) {
    (void)snprintf(err, sizeof(err), "cannot build the report: %s",
                   mts_status_str(st));
  } else {
    s->cfg.now = now;
    s->cfg.rnd = rnd64();
    st = mts_rpt_deliver_report(s->ctx, &s->cfg, d->domain, d->rua, json, len,
                                err, sizeof(err));
  }
  mts_rpt_agg_free(s->g, json);
  if (st == MTS_OK) {
    s->sent++;
    printf("sent    %s %s %s\n", ds, d->domain, d->rua);
    state_ok(mts_rpt_agg_attempt(s->g, d->day, d->domain, d->rua, now, true,
                              NULL, 0));
  } else {
    int64_t first = d->first_at > 0 ? d->first_at : now;
    int64_t next = st == MTS_EINVAL ? 0
                                    : mts_rpt_deliver_next_attempt(
                                          first, now, d->attempts + 1,
                                          rnd64());

    s->failed++;
    printf("%s %s %s %s: %s\n", next > 0 ? "retry  " : "failed ", ds,
           d->domain, d->rua, err);
    state_ok(mts_rpt_agg_attempt(s->g, d->day, d->domain, d->rua, now, false,
                              err, next));
  }
}

int cmd_report_send(int argc, char **argv) {
  struct ob_opts o;
  struct mts_ctx *ctx = NULL;
  struct mts_rpt_agg *g = NULL;
  struct mts_rpt_agg_identity idv;
  struct ident id;
  struct targets ts;
  struct send_state ss;
  const char *excl[64];
  size_t nexcl = 0, i, j;
  int64_t day = -1;
  int rc = CLI_EX_SOFTWARE;
  bool any_fail = false;

  memset(&id, 0, sizeof(id));
  memset(&ts, 0, sizeof(ts));
  if (!parse_opts("report send", argc, argv, "sdDri", &o) ||
      !parse_day_opt(o.day, &day)) {
    return CLI_EX_USAGE;
  }
  ctx = cli_ctx();
  if (ctx == NULL) {
    return CLI_EX_SOFTWARE;
  }
  g = open_state(ctx, o.state);
  if (g == NULL) {
    mts_ctx_destroy(ctx);
    return CLI_EX_NOINPUT;
  }
  if (!ident_load(g, &o, &id, &idv)) {
    rc = CLI_EX_USAGE;
    goto done;
  }
  ts.today = mts_rpt_agg_day(now_s());
  ts.day_given = o.day != NULL;
  if (mts_rpt_agg_days(g, day, o.domain, collect_target, &ts) != MTS_OK ||
      ts.oom) {
    cli_err("report send: cannot read the state");
    goto done;
  }
  if (ts.n == 0) {
    printf("nothing to send\n");
    rc = CLI_EX_OK;
    goto done;
  }
  /* Opted-out domains are settled without a lookup. */
  for (i = 0; i < ts.n; i++) {
    if (id.optout != NULL && in_list(id.optout, ts.v[i].domain)) {
      ts.v[i].done = true;
      ts.v[i].st = MTS_ECANCELED;
    }
  }
  if (o.nrua > 0) {
    for (i = 0; i < ts.n; i++) {
      if (ts.v[i].done) {
        continue;
      }
      ts.v[i].done = true;
      ts.v[i].st = MTS_OK;
      for (j = 0; j < o.nrua; j++) {
        ts.v[i].ruas[ts.v[i].nruas++] = strdup(o.rua[j]);
        if (ts.v[i].ruas[ts.v[i].nruas - 1] == NULL) {
          ts.v[i].nruas--;
        }
      }
    }
  } else if (!lookup_all(ctx, &o, &ts)) {
    goto done;
  }

  memset(&ss, 0, sizeof(ss));
  ss.ctx = ctx;
  ss.g = g;
  ss.id = &idv;
  ss.cfg.from = o.from != NULL ? o.from
                : id.from != NULL ? id.from
                                  : idv.contact_info;
  ss.cfg.submitter = idv.submitter;
  ss.cfg.sendmail = o.sendmail != NULL ? o.sendmail : id.sendmail;
  ss.cfg.post.ca_file = o.net.ca_file;
  ss.cfg.post.insecure = o.insecure;
  ss.cfg.post.timeout_ms = o.net.timeout_s * 1000u;
  ss.cfg.dry_run_dir = o.dry_run;
  if (id.exclude != NULL) {
    char *p = id.exclude;

    while (*p != '\0' && nexcl < 64) {
      while (*p == ' ') {
        *p++ = '\0';
      }
      if (*p == '\0') {
        break;
      }
      excl[nexcl++] = p;
      while (*p != '\0' && *p != ' ') {
        p++;
      }
    }
  }
  ss.cfg.exclude_domains = excl;
  ss.cfg.nexclude = nexcl;

  for (i = 0; i < ts.n; i++) {
    struct target *t = &ts.v[i];
    char ds[11];
    int64_t now = now_s();

    mts_rpt_agg_day_str(t->day, ds);
    if (t->st == MTS_ECANCELED) {
      printf("opt-out %s %s\n", ds, t->domain);
      if (o.dry_run == NULL) {
        state_ok(mts_rpt_agg_set_rstate(g, t->day, t->domain,
                                     MTS_RPT_AGG_R_OPTOUT, NULL, 0, now, 0,
                                     "opted out"));
      }
      continue;
    }
    if (t->st != MTS_OK && t->st != MTS_ENXDOMAIN && t->st != MTS_ENODATA) {
      printf("retry   %s %s: _smtp._tls lookup: %s\n", ds, t->domain,
             t->err[0] != '\0' ? t->err : mts_status_str(t->st));
      any_fail = true;
      if (o.dry_run == NULL) {
        state_ok(mts_rpt_agg_set_rstate(g, t->day, t->domain, MTS_RPT_AGG_R_WAIT,
                                     NULL, 0, now, now + 600, t->err));
      }
      continue;
    }
    if (t->nruas == 0) {
      printf("no-rua  %s %s%s%s\n", ds, t->domain, t->err[0] != '\0' ? ": " : "",
             t->err);
      if (o.dry_run == NULL) {
        state_ok(mts_rpt_agg_set_rstate(g, t->day, t->domain,
                                     MTS_RPT_AGG_R_NORUA, NULL, 0, now, 0,
                                     "no usable _smtp._tls record"));
      }
      continue;
    }
    if (o.dry_run != NULL) {
      char *json = NULL, err[300];
      size_t len = 0;
      enum mts_status st =
          mts_rpt_agg_report_json(g, t->day, t->domain, &idv, false, &json,
                                  &len);

      for (j = 0; st == MTS_OK && j < t->nruas; j++) {
        enum mts_status ds_st;

        ss.cfg.now = now;
        ss.cfg.rnd = rnd64();
        ds_st = mts_rpt_deliver_report(ctx, &ss.cfg, t->domain, t->ruas[j],
                                       json, len, err, sizeof(err));
        if (ds_st == MTS_OK) {
          printf("written %s %s %s -> %s\n", ds, t->domain, t->ruas[j],
                 o.dry_run);
        } else {
          printf("failed  %s %s %s: %s\n", ds, t->domain, t->ruas[j], err);
          any_fail = true;
        }
      }
      if (st != MTS_OK) {
        printf("failed  %s %s: cannot build the report: %s\n", ds, t->domain,
               mts_status_str(st));
        any_fail = true;
      }
      mts_rpt_agg_free(g, json);
      continue;
    }
    if (mts_rpt_agg_set_rstate(g, t->day, t->domain, MTS_RPT_AGG_R_PLANNED,
                               (const char *const *)t->ruas, t->nruas, now, 0,
                               NULL) != MTS_OK) {
      cli_err("report send: cannot write the state");
      goto done;
    }
    ss.day = t->day;
    ss.domain = t->domain;
    {
      struct pends ps;
      bool ok;

      memset(&ps, 0, sizeof(ps));
      ok = mts_rpt_agg_deliveries(g, t->day, t->domain, collect_pending,
                                  &ps) == MTS_OK &&
           !ps.oom;
      for (j = 0; ok && j < ps.n; j++) {
        send_one(&ss, &ps.v[j]);
      }
      for (j = 0; j < ps.n; j++) {
        free(ps.v[j].rua);
      }
      free(ps.v);
      if (!ok) {
        cli_err("report send: cannot read the state");
        goto done;
      }
    }
  }
  if (o.dry_run == NULL) {
    any_fail = any_fail || ss.failed > 0;
  }
  rc = any_fail ? 1 : CLI_EX_OK;
done:
  for (i = 0; i < ts.n; i++) {
    for (j = 0; j < ts.v[i].nruas; j++) {
      free(ts.v[i].ruas[j]);
    }
  }
  free(ts.v);
  ident_free(g, &id);
  mts_rpt_agg_close(g);
  mts_ctx_destroy(ctx);
  return rc;
}
