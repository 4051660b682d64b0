/*
 * cmd_report_prune.c - `mtasts report prune`: retention for the report
 * store (mtasts/rpt_store.h, mts_rpt_store_prune()).
 *
 *   mtasts report prune [--db FILE] --older-than DAYS [--json]
 *
 * Deletes every input received more than DAYS days ago (the time it was
 * stored, not the report's date range), with the reports parsed from it,
 * in one transaction. Meant for a daily timer: the store otherwise keeps
 * everything ever received. Exit: 0 (also when nothing was old enough);
 * 2 the store failed (nothing deleted); 64 usage; 66 no store.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mtasts/rpt_store.h>

#include "cli.h"

#define PRUNE_DAY INT64_C(86400)
/* 100 years: a bound, not a policy. */
#define PRUNE_MAX_DAYS 36500ul

static void prune_usage(void) {
  cli_err("usage: mtasts report prune [--db FILE] --older-than DAYS "
          "[--json]");
}

int cmd_report_prune(int argc, char **argv) {
  const char *db = NULL, *days_arg = NULL;
  struct mts_ctx *ctx = NULL;
  struct mts_rpt_store *st = NULL;
  uint64_t inputs = 0, reports = 0;
  unsigned long days;
  bool json = false;
  char *end = NULL;
  char when[32];
  int64_t before;
  time_t tt;
  struct tm tm;
  int i, ret;

  for (i = 0; i < argc; i++) {
    const char *a = argv[i];

    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      prune_usage();
      return CLI_EX_OK;
    }
    if (strcmp(a, "--json") == 0) {
      json = true;
    } else if (strcmp(a, "--db") == 0 && i + 1 < argc) {
      db = argv[++i];
    } else if (strcmp(a, "--older-than") == 0 && i + 1 < argc) {
      days_arg = argv[++i];
    } else {
      cli_err("report prune: unknown option or missing value '%s'", a);
      prune_usage();
      return CLI_EX_USAGE;
    }
  }
  if (days_arg == NULL) {
    cli_err("report prune: --older-than DAYS is required");
    prune_usage();
    return CLI_EX_USAGE;
  }
  errno = 0;
  days = days_arg[0] >= '0' && days_arg[0] <= '9'
             ? strtoul(days_arg, &end, 10)
             : 0;
  if (end == NULL || *end != '\0' || errno != 0 || days == 0 ||
      days > PRUNE_MAX_DAYS) {
    cli_err("report prune: --older-than: 1..%lu days, not '%s'",
            PRUNE_MAX_DAYS, days_arg);
    return CLI_EX_USAGE;
  }
  db = cli_report_db(db);
  ret = cli_report_open("prune", db, &ctx, &st);
  if (ret != 0) {
    goto done;
  }
  before = mts_ctx_now(ctx) - (int64_t)days * PRUNE_DAY;
  if (mts_rpt_store_prune(st, before, &inputs, &reports) != MTS_OK) {
    cli_err("report prune: %s: nothing deleted", db);
    ret = CLI_EX_STORE;
    goto done;
  }
  tt = (time_t)before;
  if (gmtime_r(&tt, &tm) == NULL ||
      strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
    (void)snprintf(when, sizeof when, "@%lld", (long long)before);
  }
  if (json) {
    cli_json_print(json_pack("{s:s, s:I, s:I}", "before", when, "inputs",
                             (json_int_t)inputs, "reports",
                             (json_int_t)reports));
  } else {
    printf("%s: deleted %llu inputs and %llu reports received before %s\n",
           db, (unsigned long long)inputs, (unsigned long long)reports,
           when);
  }
  ret = CLI_EX_OK;
done:
  mts_rpt_store_close(st);
  mts_ctx_destroy(ctx);
  return ret;
}
