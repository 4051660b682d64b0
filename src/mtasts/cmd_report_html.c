/*
 * cmd_report_html.c - `mtasts report html`: write a static page of the
 * received TLS reports (mtasts/rpt_html.h) to DIR/index.html.
 *
 *   mtasts report html [--db FILE] --out DIR [--domain D] [--since DATE]
 *                      [--now TIME] [--title T] [--window DAYS]
 *                      [--min-senders N] [--min-days N]
 *
 * DATE is YYYY-MM-DD (UTC); TIME is YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ
 * and replaces the current time on the page and for the readiness
 * window (reproducible pages). Exit: 0 written; 2 the store or the
 * directory failed; 64 usage; 66 no store file.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mtasts/rpt_html.h>
#include <mtasts/rpt_store.h>

#include "cli.h"

#define HTML_EX_FAILED 2

static void html_log(void *arg, enum mts_log_level level, const char *msg) {
  (void)arg;
  cli_err("%s%s", level == MTS_LOG_WARNING ? "warning: " : "", msg);
}

/* YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ, UTC. \return false when invalid. */
static bool parse_time(const char *s, int64_t *out) {
  return mts_utc_parse(s, 0, out) == MTS_OK;
}

static bool parse_uint(const char *s, unsigned max, unsigned *out) {
  unsigned long v = 0;
  size_t i;

  if (s[0] == '\0') {
    return false;
  }
  for (i = 0; s[i] != '\0'; i++) {
    if (s[i] < '0' || s[i] > '9') {
      return false;
    }
    v = v * 10 + (unsigned long)(s[i] - '0');
    if (v > max) {
      return false;
    }
  }
  *out = (unsigned)v;
  return true;
}

static void html_usage(void) {
  cli_err("usage: mtasts report html [--db FILE] --out DIR [--domain D] "
          "[--since DATE] [--now TIME] [--title T] [--window DAYS] "
          "[--min-senders N] [--min-days N]");
}

int cmd_report_html(int argc, char **argv) {
  struct mts_rpt_html_opts o;
  const char *db = NULL, *out = NULL;
  struct mts_ctx *ctx = NULL;
  struct mts_rpt_store *st = NULL;
  enum mts_status rc;
  bool have_now = false;
  int i;

  memset(&o, 0, sizeof o);
  for (i = 0; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;

    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      html_usage();
      return CLI_EX_OK;
    }
    if (v == NULL) {
      cli_err("report html: unknown option or missing value '%s'", a);
      html_usage();
      return CLI_EX_USAGE;
    }
    i++;
    if (strcmp(a, "--db") == 0) {
      db = v;
    } else if (strcmp(a, "--out") == 0) {
      out = v;
    } else if (strcmp(a, "--domain") == 0) {
      o.domain = v;
    } else if (strcmp(a, "--title") == 0) {
      o.title = v;
    } else if (strcmp(a, "--since") == 0) {
      if (!parse_time(v, &o.since)) {
        cli_err("report html: --since: not a date YYYY-MM-DD: '%s'", v);
        return CLI_EX_USAGE;
      }
    } else if (strcmp(a, "--now") == 0) {
      if (!parse_time(v, &o.generated_at)) {
        cli_err("report html: --now: not YYYY-MM-DD[THH:MM:SSZ]: '%s'", v);
        return CLI_EX_USAGE;
      }
      have_now = true;
    } else if (strcmp(a, "--window") == 0) {
      if (!parse_uint(v, 36600, &o.window_days) || o.window_days == 0) {
        cli_err("report html: --window: 1..36600 days, not '%s'", v);
        return CLI_EX_USAGE;
      }
    } else if (strcmp(a, "--min-senders") == 0) {
      if (!parse_uint(v, 1000000, &o.min_senders)) {
        cli_err("report html: --min-senders: not a number: '%s'", v);
        return CLI_EX_USAGE;
      }
    } else if (strcmp(a, "--min-days") == 0) {
      if (!parse_uint(v, 36600, &o.min_days)) {
        cli_err("report html: --min-days: not a number: '%s'", v);
        return CLI_EX_USAGE;
      }
    } else {
      cli_err("report html: unknown option '%s'", a);
      html_usage();
      return CLI_EX_USAGE;
    }
  }
  if (out == NULL) {
    cli_err("report html: --out DIR is required");
    html_usage();
    return CLI_EX_USAGE;
  }
  db = cli_report_db(db);
  if (access(db, R_OK) != 0) {
    cli_err("report html: no report store %s (see 'mtasts report ingest')",
            db);
    return CLI_EX_NOINPUT;
  }
  ctx = cli_ctx();
  if (ctx == NULL) {
    return CLI_EX_SOFTWARE;
  }
  mts_ctx_set_log(ctx, html_log, NULL, MTS_LOG_WARNING);
  if (!have_now) {
    o.generated_at = mts_ctx_now(ctx);
  }
  if (mts_rpt_store_open(ctx, db, &st) != MTS_OK) {
    cli_err("report html: cannot use the report store %s", db);
    mts_ctx_destroy(ctx);
    return HTML_EX_FAILED;
  }
  rc = mts_rpt_html_write_dir(ctx, st, &o, out);
  mts_rpt_store_close(st);
  mts_ctx_destroy(ctx);
  if (rc != MTS_OK) {
    cli_err("report html: %s: %s", out, mts_status_str(rc));
    return rc == MTS_EINVAL ? CLI_EX_USAGE : HTML_EX_FAILED;
  }
  printf("wrote %s/index.html\n", out);
  return CLI_EX_OK;
}
