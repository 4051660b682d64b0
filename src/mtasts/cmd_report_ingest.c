/*
 * cmd_report_ingest.c - `mtasts report ingest`: store TLS reports that
 * other senders sent (RFC 8460), from files, mail messages, mbox files,
 * Maildirs or stdin, in the report store (mtasts/rpt_store.h).
 *
 * The kind of input is decided by its bytes, never by its name: gzip,
 * zip and JSON by their first bytes (mts_rpt_unpack_detect), an mbox by
 * a first line "From ", a mail message by a header field first; a
 * directory with cur/ or new/ is a Maildir. Everything read is stored,
 * also what is rejected (with the reason), so nothing is lost.
 *
 * Exit: 0 every report stored (new or duplicate); 1 some report
 * rejected; 2 an input could not be read or the store failed; 64 usage.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <mtasts/rpt_mime.h>
#include <mtasts/rpt_store.h>
#include <mtasts/rpt_unpack.h>

#include "cli.h"

/* Largest input read whole (an mbox of a year of reports fits). */
#define INGEST_FILE_MAX (256u * 1024u * 1024u)
#define INGEST_EX_REJECTED 1
#define INGEST_EX_FAILED 2

struct ingest {
  struct mts_ctx *ctx;
  struct mts_rpt_store *st;
  bool json;
  bool verbose;
  json_t *reports; /* --json: one object per report */
  unsigned long n_new, n_dup, n_rej, n_warn, n_err;
  bool fatal; /* the store failed: stop */
};

static void ingest_log(void *arg, enum mts_log_level level, const char *msg) {
  (void)arg;
  cli_err("%s%s", level == MTS_LOG_WARNING ? "warning: " : "", msg);
}

static const char *outcome_str(enum mts_rpt_store_outcome o) {
  switch (o) {
  case MTS_RPT_STORE_NEW:
    return "new";
  case MTS_RPT_STORE_DUPLICATE:
    return "duplicate";
  case MTS_RPT_STORE_REJECTED:
    break;
  }
  return "rejected";
}

/* "code: message" of the first error finding, in \p buf. */
static const char *first_error(const struct mts_findings *f, char *buf,
                               size_t n) {
  size_t i, cnt = mts_findings_count(f);

  for (i = 0; i < cnt; i++) {
    const struct mts_finding *fi = mts_findings_get(f, i);

    if (fi->severity == MTS_SEV_ERROR) {
      (void)snprintf(buf, n, "%s: %s", fi->code, fi->message);
      return buf;
    }
  }
  return "not usable";
}

static unsigned count_warnings(const struct mts_findings *f) {
  size_t i, cnt = mts_findings_count(f);
  unsigned w = 0;

  for (i = 0; i < cnt; i++) {
    if (mts_findings_get(f, i)->severity == MTS_SEV_WARNING) {
      w++;
    }
  }
  return w;
}

/* Print and count one stored input. \p r may be NULL (then \p reason). */
static void ingest_report_line(struct ingest *g, const char *source,
                               const struct mts_rpt_report *r,
                               const char *reason,
                               enum mts_rpt_store_outcome out) {
  const struct mts_rpt_report_data *d = r != NULL ? mts_rpt_report_data(r)
                                                  : NULL;
  const struct mts_findings *f = r != NULL ? mts_rpt_report_findings(r)
                                           : NULL;
  unsigned warnings = count_warnings(f);
  char why[512];

  if (out == MTS_RPT_STORE_REJECTED && r != NULL) {
    reason = first_error(f, why, sizeof(why));
  }
  g->n_warn += warnings;
  switch (out) {
  case MTS_RPT_STORE_NEW:
    g->n_new++;
    break;
  case MTS_RPT_STORE_DUPLICATE:
    g->n_dup++;
    break;
  case MTS_RPT_STORE_REJECTED:
    g->n_rej++;
    break;
  }
  if (g->json) {
    json_t *o = json_object();

    json_object_set_new(o, "source", json_string(source));
    json_object_set_new(o, "outcome", json_string(outcome_str(out)));
    json_object_set_new(o, "organization",
                        d != NULL && d->organization_name != NULL
                            ? json_string(d->organization_name)
                            : json_null());
    json_object_set_new(o, "report_id", d != NULL && d->report_id != NULL
                                            ? json_string(d->report_id)
                                            : json_null());
    json_object_set_new(o, "reason", out == MTS_RPT_STORE_REJECTED
                                         ? json_string(reason)
                                         : json_null());
    json_object_set_new(o, "warnings", json_integer(warnings));
    json_object_set_new(o, "findings", cli_findings_json(f));
    json_array_append_new(g->reports, o);
    return;
  }
  if (out == MTS_RPT_STORE_REJECTED) {
    printf("rejected   ");
    cli_print_safe(stdout, source);
    printf(": ");
    cli_print_safe(stdout, reason);
    putchar('\n');
  } else {
    printf("%-10s ", outcome_str(out));
    cli_print_safe(stdout, source);
    printf(": ");
    cli_print_safe(stdout, d->organization_name != NULL ? d->organization_name
                                            : "(no name)");
    putchar(' ');
    cli_print_safe(stdout, d->report_id);
    if (warnings > 0) {
      printf(" (%u warning%s)", warnings, warnings == 1 ? "" : "s");
    }
    putchar('\n');
  }
  if (g->verbose) {
    cli_findings_print(stdout, f, "    ", "line");
  }
}

/* Parse one JSON document and store it. */
static void ingest_doc(struct ingest *g, const uint8_t *data, size_t len,
                       const char *source) {
  enum mts_rpt_store_outcome out = MTS_RPT_STORE_REJECTED;
  struct mts_rpt_report *r = NULL;
  enum mts_status st;

  if (g->fatal) {
    return;
  }
  st = mts_rpt_report_parse(g->ctx, data, len, &r);
  if (st != MTS_OK) {
    cli_err("%s: %s", source, mts_status_str(st));
    g->n_err++;
    g->fatal = true;
    return;
  }
  st = mts_rpt_store_add(g->st, r, data, len, source, NULL, &out);
  if (st != MTS_OK) {
    cli_err("%s: cannot store: %s", source, mts_status_str(st));
    g->n_err++;
    g->fatal = true;
  } else {
    ingest_report_line(g, source, r, NULL, out);
  }
  mts_rpt_report_destroy(r);
}

/* Keep an input that holds no readable report, with \p reason. */
static void ingest_reject(struct ingest *g, const uint8_t *data, size_t len,
                          const char *source, const char *reason) {
  enum mts_rpt_store_outcome out = MTS_RPT_STORE_REJECTED;
  enum mts_status st;

  if (g->fatal) {
    return;
  }
  st = mts_rpt_store_add(g->st, NULL, data, len, source, reason, &out);
  if (st != MTS_OK) {
    cli_err("%s: cannot store: %s", source, mts_status_str(st));
    g->n_err++;
    g->fatal = true;
    return;
  }
  ingest_report_line(g, source, NULL, reason, out);
}

struct unpack_arg {
  struct ingest *g;
  const char *source;
};

static enum mts_status unpack_cb(void *arg,
                                 const struct mts_rpt_unpack_doc *doc) {
  struct unpack_arg *u = arg;
  char source[1200];

  if (doc->outer == MTS_RPT_UNPACK_ZIP && doc->name != NULL) {
    (void)snprintf(source, sizeof(source), "%s!%s", u->source, doc->name);
  } else {
    (void)snprintf(source, sizeof(source), "%s", u->source);
  }
  ingest_doc(u->g, doc->data, doc->len, source);
  return u->g->fatal ? MTS_ECANCELED : MTS_OK;
}

/* A report as sent: JSON, gzip or zip (one or more documents). */
static void ingest_blob(struct ingest *g, const uint8_t *data, size_t len,
                        const char *source, const char *filename,
                        const char *media_type) {
  struct mts_rpt_unpack_hints hints = {filename, media_type};
  struct mts_rpt_unpack_error err;
  struct mts_rpt_unpack_result res;
  struct unpack_arg u = {g, source};
  enum mts_status st;
  char reason[300];

  memset(&err, 0, sizeof(err));
  memset(&res, 0, sizeof(res));
  st = mts_rpt_unpack_mem(g->ctx, data, len, &hints, NULL, unpack_cb, &u, &res,
                          &err);
  if (st == MTS_OK || g->fatal) {
    return;
  }
  if (st == MTS_ENOMEM) {
    cli_err("%s: out of memory", source);
    g->n_err++;
    g->fatal = true;
    return;
  }
  /* Corrupt, truncated, a bomb, no report inside: keep it all. */
  (void)snprintf(reason, sizeof(reason), "%s: %s",
                 err.code != NULL ? err.code : mts_status_name(st),
                 err.message[0] != '\0' ? err.message : mts_status_str(st));
  ingest_reject(g, data, len, source, reason);
}

/* ---- mail ---- */

struct mail_arg {
  struct ingest *g;
  const char *path;
  const uint8_t *data; /* the message as read (kept when it fails) */
  size_t len;
  size_t mbox_index; /* 1-based message number in an mbox, 0: not */
  size_t items;      /* documents and errors delivered */
};

static void mail_source(const struct mail_arg *m,
                        const struct mts_rpt_mime_item *it, char *out,
                        size_t n) {
  const struct mts_rpt_mime_meta *meta = it->meta;
  const char *fn = it->part != NULL ? it->part->filename : NULL;
  int k;

  if (meta != NULL && meta->message_id != NULL &&
      meta->message_id[0] != '\0') {
    k = snprintf(out, n, "mail:<%.900s>", meta->message_id);
  } else if (m->mbox_index > 0) {
    k = snprintf(out, n, "mail:%.900s#%zu", m->path, m->mbox_index);
  } else {
    k = snprintf(out, n, "mail:%.900s", m->path);
  }
  if (fn != NULL && k > 0 && (size_t)k < n) {
    (void)snprintf(out + k, n - (size_t)k, "!%.200s", fn);
  }
}

static enum mts_status mail_cb(void *arg, const struct mts_rpt_mime_item *it) {
  struct mail_arg *m = arg;
  struct ingest *g = m->g;
  char source[1200], reason[300];

  m->items++;
  mail_source(m, it, source, sizeof(source));
  if (it->doc != NULL) {
    ingest_doc(g, it->doc->data, it->doc->len, source);
  } else if (it->error != NULL) {
    /* A part that cannot be decoded, or a message without a report:
     * the message is kept as it came. */
    (void)snprintf(reason, sizeof(reason), "%s: %s",
                   it->error->code != NULL ? it->error->code
                                           : mts_status_name(it->error->status),
                   it->error->message);
    ingest_reject(g, m->data, m->len, source, reason);
  }
  return g->fatal ? MTS_ECANCELED : MTS_OK;
}

/* One message: \p msg is handed to the MIME walker, \p raw (the bytes
 * as read) is what is kept when it fails. */
static void ingest_message(struct ingest *g, const uint8_t *msg, size_t len,
                           const uint8_t *raw, size_t rawlen,
                           const char *path, size_t mbox_index) {
  struct mail_arg m = {g, path, raw, rawlen, mbox_index, 0};
  struct mts_rpt_unpack_error err;
  struct mts_rpt_mime_result res;
  enum mts_status st;
  char source[1200], reason[300];

  memset(&err, 0, sizeof(err));
  memset(&res, 0, sizeof(res));
  st = mts_rpt_mime_parse(g->ctx, msg, len, NULL, mail_cb, &m, &res, &err);
  if (g->fatal || st == MTS_OK || m.items > 0) {
    return; /* every document and error went through mail_cb */
  }
  if (st == MTS_ENOMEM) {
    cli_err("%s: out of memory", path);
    g->n_err++;
    g->fatal = true;
    return;
  }
  if (mbox_index > 0) {
    (void)snprintf(source, sizeof(source), "mail:%.1000s#%zu", path,
                   mbox_index);
  } else {
    (void)snprintf(source, sizeof(source), "mail:%.1000s", path);
  }
  (void)snprintf(reason, sizeof(reason), "%s: %s",
                 err.code != NULL ? err.code : mts_status_name(st),
                 err.message[0] != '\0' ? err.message : mts_status_str(st));
  ingest_reject(g, raw, rawlen, source, reason);
}

static bool from_line(const uint8_t *d, size_t len, size_t i) {
  return (i == 0 || d[i - 1] == '\n') && len - i >= 5 &&
         memcmp(d + i, "From ", 5) == 0;
}

/*
 * An mbox: a line starting "From " starts a message (mboxo/mboxrd; such
 * lines inside a body are quoted as ">From "). Split here rather than
 * by GMime's stream parser so that a message that fails is kept byte
 * for byte, and stdin needs no temporary file. The "From " line itself
 * is not part of the message; one '>' is removed from lines that start
 * with ">From ", ">>From ", ... (mboxrd).
 */
static void ingest_mbox(struct ingest *g, const uint8_t *d, size_t len,
                        const char *path) {
  size_t start = 0, k = 0;

  while (start < len && !g->fatal) {
    size_t end = start + 1, body, i, o = 0;
    uint8_t *msg;

    while (end < len && !from_line(d, len, end)) {
      end++;
    }
    k++;
    body = start;
    while (body < end && d[body] != '\n') {
      body++;
    }
    body += body < end ? 1 : 0;
    msg = malloc(end - body + 1);
    if (msg == NULL) {
      cli_err("%s: out of memory", path);
      g->n_err++;
      g->fatal = true;
      return;
    }
    for (i = body; i < end; i++) {
      if (d[i] == '>' && (i == body || d[i - 1] == '\n')) {
        size_t j = i;

        while (j < end && d[j] == '>') {
          j++;
        }
        if (end - j >= 5 && memcmp(d + j, "From ", 5) == 0) {
          continue; /* drop this '>' */
        }
      }
      msg[o++] = d[i];
    }
    ingest_message(g, msg, o, d + start, end - start, path, k);
    free(msg);
    start = end;
  }
}

static void ingest_mail(struct ingest *g, const uint8_t *data, size_t len,
                        const char *path, bool mbox) {
  if (mbox) {
    ingest_mbox(g, data, len, path);
  } else {
    ingest_message(g, data, len, data, len, path, 0);
  }
}

/* ---- inputs ---- */

/* A mail message starts with a header field: a name, then ':' (RFC 5322
 * 2.2 allows any printable character in the name; real ones are letters,
 * digits and '-', and a stricter test keeps JSON-ish junk away). */
static bool looks_mail(const uint8_t *d, size_t len) {
  size_t i;

  for (i = 0; i < len && i < 998; i++) {
    if (d[i] == ':') {
      return i > 0;
    }
    if (!((d[i] >= 'a' && d[i] <= 'z') || (d[i] >= 'A' && d[i] <= 'Z') ||
          (d[i] >= '0' && d[i] <= '9') || d[i] == '-' || d[i] == '_')) {
      return false;
    }
  }
  return false;
}

static bool looks_mbox(const uint8_t *d, size_t len) {
  return len >= 5 && memcmp(d, "From ", 5) == 0;
}

/* Read a whole file (or stdin for "-"). \return 0, or -1 (printed). */
static int read_all(const char *path, uint8_t **out, size_t *outlen) {
  FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
  uint8_t *buf = NULL;
  size_t len = 0, cap = 0;
  int rc = -1;

  *out = NULL;
  *outlen = 0;
  if (f == NULL) {
    cli_err("%s: %s", path, strerror(errno));
    return -1;
  }
  for (;;) {
    size_t r;

    if (len > INGEST_FILE_MAX) {
      cli_err("%s: larger than %u MiB; not read", path,
              INGEST_FILE_MAX / (1024u * 1024u));
      goto done;
    }
    if (cap - len < 65536) {
      /* Never more than the limit and one read beyond it. */
      size_t ncap = cap == 0 ? 262144 : cap * 2;
      uint8_t *nb;

      if (ncap > INGEST_FILE_MAX + 65536u) {
        ncap = INGEST_FILE_MAX + 65536u;
      }
      nb = realloc(buf, ncap + 1);
      if (nb == NULL) {
        cli_err("%s: out of memory", path);
        goto done;
      }
      buf = nb;
      cap = ncap;
    }
    r = fread(buf + len, 1, cap - len, f);
    len += r;
    if (r == 0) {
      break;
    }
  }
  if (ferror(f)) {
    cli_err("%s: read error: %s", path, strerror(errno));
    goto done;
  }
  *out = buf;
  *outlen = len;
  buf = NULL;
  rc = 0;
done:
  free(buf);
  if (f != stdin) {
    fclose(f);
  }
  return rc;
}

static void ingest_file(struct ingest *g, const char *path) {
  const char *name = strcmp(path, "-") == 0 ? NULL : path;
  uint8_t *data = NULL;
  size_t len = 0;
  char source[1100];

  if (read_all(path, &data, &len) != 0) {
    g->n_err++;
    return;
  }
  (void)snprintf(source, sizeof(source), "file:%s",
                 name != NULL ? name : "-");
  if (name != NULL) {
    const char *slash = strrchr(name, '/');

    name = slash != NULL ? slash + 1 : name;
  }
  if (mts_rpt_unpack_detect(data, len) != MTS_RPT_UNPACK_UNKNOWN) {
    ingest_blob(g, data, len, source, name, NULL);
  } else if (looks_mbox(data, len)) {
    ingest_mail(g, data, len, path, true);
  } else if (looks_mail(data, len)) {
    ingest_mail(g, data, len, path, false);
  } else {
    /* Not recognisably anything: the parser says precisely why it is
     * not a report (a top-level array, binary junk), and it is kept. */
    ingest_doc(g, data, len, source);
  }
  free(data);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The messages of a Maildir's new/ and cur/, each in name order. */
static void ingest_maildir(struct ingest *g, const char *dir) {
  static const char *const subs[] = {"new", "cur"};
  size_t s;

  for (s = 0; s < 2 && !g->fatal; s++) {
    char sub[1024];
    char **names = NULL;
    size_t n = 0, cap = 0, i;
    struct dirent *e;
    DIR *d;

    (void)snprintf(sub, sizeof(sub), "%s/%s", dir, subs[s]);
    d = opendir(sub);
    if (d == NULL) {
      if (errno != ENOENT) {
        cli_err("%s: %s", sub, strerror(errno));
        g->n_err++;
      }
      continue;
    }
    while ((e = readdir(d)) != NULL) {
      if (e->d_name[0] == '.') {
        continue;
      }
      if (n == cap) {
        char **nn = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof(*nn));

        if (nn == NULL) {
          break;
        }
        names = nn;
      }
      names[n] = strdup(e->d_name);
      if (names[n] != NULL) {
        n++;
      }
    }
    closedir(d);
    if (n > 0) {
      qsort(names, n, sizeof(*names), cmp_str);
    }
    for (i = 0; i < n; i++) {
      char path[2048];
      struct stat sb;

      (void)snprintf(path, sizeof(path), "%s/%s", sub, names[i]);
      if (!g->fatal && stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
        uint8_t *data = NULL;
        size_t len = 0;

        if (read_all(path, &data, &len) != 0) {
          g->n_err++;
        } else {
          ingest_mail(g, data, len, path, false);
          free(data);
        }
      }
      free(names[i]);
    }
    free(names);
  }
}

static void ingest_path(struct ingest *g, const char *path) {
  struct stat sb;

  if (strcmp(path, "-") != 0 && stat(path, &sb) == 0 &&
      S_ISDIR(sb.st_mode)) {
    char sub[1024];
    struct stat ss;
    bool cur, nw;

    (void)snprintf(sub, sizeof(sub), "%s/cur", path);
    cur = stat(sub, &ss) == 0 && S_ISDIR(ss.st_mode);
    (void)snprintf(sub, sizeof(sub), "%s/new", path);
    nw = stat(sub, &ss) == 0 && S_ISDIR(ss.st_mode);
    if (!cur && !nw) {
      cli_err("%s: a directory but not a Maildir (no cur/ or new/)", path);
      g->n_err++;
      return;
    }
    ingest_maildir(g, path);
    return;
  }
  ingest_file(g, path);
}

static void ingest_usage(void) {
  cli_err("usage: mtasts report ingest [--db FILE] [--json] [-v] "
          "FILE|MAILDIR|-...");
}

int cmd_report_ingest(int argc, char **argv) {
  struct ingest g;
  const char *db = NULL;
  const char **paths;
  int i, npaths = 0, rc = INGEST_EX_FAILED;
  bool opts_done = false;

  memset(&g, 0, sizeof(g));
  paths = calloc((size_t)argc + 1, sizeof(*paths));
  if (paths == NULL) {
    cli_err("out of memory");
    return CLI_EX_SOFTWARE;
  }
  for (i = 0; i < argc; i++) {
    const char *a = argv[i];

    if (opts_done || a[0] != '-' || strcmp(a, "-") == 0) {
      paths[npaths++] = a;
    } else if (strcmp(a, "--") == 0) {
      opts_done = true;
    } else if (strcmp(a, "--json") == 0) {
      g.json = true;
    } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
      g.verbose = true;
    } else if (strcmp(a, "--db") == 0 && i + 1 < argc) {
      db = argv[++i];
    } else if (strncmp(a, "--db=", 5) == 0) {
      db = a + 5;
    } else {
      cli_err("report ingest: unknown option or missing value '%s'", a);
      ingest_usage();
      free(paths);
      return CLI_EX_USAGE;
    }
  }
  if (npaths == 0) {
    ingest_usage();
    free(paths);
    return CLI_EX_USAGE;
  }
  db = cli_report_db(db);
  g.ctx = cli_ctx();
  if (g.ctx == NULL) {
    free(paths);
    return CLI_EX_SOFTWARE;
  }
  mts_ctx_set_log(g.ctx, ingest_log, NULL, MTS_LOG_WARNING);
  if (mts_rpt_store_open(g.ctx, db, &g.st) != MTS_OK) {
    cli_err("report ingest: cannot use the report store %s", db);
    goto done;
  }
  g.reports = json_array();
  for (i = 0; i < npaths && !g.fatal; i++) {
    ingest_path(&g, paths[i]);
  }
  if (g.json) {
    json_t *o = json_object(), *t = json_object();

    json_object_set_new(o, "db", json_string(db));
    json_object_set_new(o, "reports", json_incref(g.reports));
    json_object_set_new(t, "reports",
                        json_integer((json_int_t)(g.n_new + g.n_dup +
                                                  g.n_rej)));
    json_object_set_new(t, "new", json_integer((json_int_t)g.n_new));
    json_object_set_new(t, "duplicate", json_integer((json_int_t)g.n_dup));
    json_object_set_new(t, "rejected", json_integer((json_int_t)g.n_rej));
    json_object_set_new(t, "warnings", json_integer((json_int_t)g.n_warn));
    json_object_set_new(t, "errors", json_integer((json_int_t)g.n_err));
    json_object_set_new(o, "totals", t);
    cli_json_print(o);
  } else {
    printf("total: %lu report%s: %lu new, %lu duplicate, %lu rejected; "
           "%lu warning%s",
           g.n_new + g.n_dup + g.n_rej,
           g.n_new + g.n_dup + g.n_rej == 1 ? "" : "s", g.n_new, g.n_dup,
           g.n_rej, g.n_warn, g.n_warn == 1 ? "" : "s");
    if (g.n_err > 0) {
      printf("; %lu input%s not read", g.n_err, g.n_err == 1 ? "" : "s");
    }
    putchar('\n');
  }
  rc = g.n_err > 0 ? INGEST_EX_FAILED
       : g.n_rej > 0 ? INGEST_EX_REJECTED
                     : CLI_EX_OK;
done:
  json_decref(g.reports);
  mts_rpt_store_close(g.st);
  mts_ctx_destroy(g.ctx);
  free(paths);
  return rc;
}
