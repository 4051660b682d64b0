/*
 * cmd_lint.c - `mtasts lint policy|sts-record|tlsrpt-record`: offline
 * checks of what a domain owner publishes.
 *
 * Exit: 0 valid; 1 policy usable but not strictly valid; 2 invalid;
 * 64 usage; 66 unreadable file; 70 internal error.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int lint_policy(const struct cli_args *a) {
  const char *path = a->npos >= 2 ? a->pos[1] : "-";
  struct mts_sts_policy *p = NULL;
  struct mts_ctx *ctx = NULL;
  uint8_t *body = NULL;
  size_t len = 0, i, nmx;
  int rc = CLI_EX_SOFTWARE;

  if (a->npos > 2) {
    cli_err("lint policy: one FILE at most");
    return CLI_EX_USAGE;
  }
  if (cli_read_file(path, MTS_POLICY_MAX_SIZE, &body, &len) != 0) {
    return CLI_EX_NOINPUT;
  }
  ctx = cli_ctx();
  if (ctx == NULL) {
    goto done;
  }
  if (mts_sts_policy_parse(ctx, body, len, &p) != MTS_OK) {
    cli_err("lint policy: out of memory");
    goto done;
  }
  nmx = mts_sts_policy_mx_count(p);
  if (a->opts.json) {
    json_t *o = json_object(), *mx = json_array();
    const char *ver = mts_sts_policy_version(p);
    int64_t max_age = mts_sts_policy_max_age(p);
    enum mts_sts_mode mode = mts_sts_policy_mode(p);

    for (i = 0; i < nmx; i++) {
      json_array_append_new(mx, json_string(mts_sts_policy_mx(p, i)));
    }
    json_object_set_new(o, "valid", json_boolean(mts_sts_policy_valid(p)));
    json_object_set_new(o, "usable", json_boolean(mts_sts_policy_usable(p)));
    json_object_set_new(o, "version", ver ? json_string(ver) : json_null());
    json_object_set_new(o, "mode", mode != MTS_STS_MODE_UNKNOWN
                                       ? json_string(mts_sts_mode_str(mode))
                                       : json_null());
    json_object_set_new(o, "max_age",
                        max_age >= 0 ? json_integer(max_age) : json_null());
    json_object_set_new(o, "mx", mx);
    json_object_set_new(o, "findings",
                        cli_findings_json(mts_sts_policy_findings(p)));
    cli_json_print(o);
  } else {
    printf("%s: %s\n", strcmp(path, "-") == 0 ? "<stdin>" : path,
           mts_sts_policy_valid(p)    ? "valid"
           : mts_sts_policy_usable(p) ? "usable (with deviations)"
                                      : "invalid");
    printf("  version: %s\n", mts_sts_policy_version(p)
                                  ? mts_sts_policy_version(p)
                                  : "(missing or invalid)");
    printf("  mode:    %s\n", mts_sts_mode_str(mts_sts_policy_mode(p)));
    if (mts_sts_policy_max_age(p) >= 0) {
      printf("  max_age: %lld\n", (long long)mts_sts_policy_max_age(p));
    } else {
      printf("  max_age: (missing or invalid)\n");
    }
    for (i = 0; i < nmx; i++) {
      printf("  mx:      %s\n", mts_sts_policy_mx(p, i));
    }
    cli_findings_print(stdout, mts_sts_policy_findings(p), "  ", "line");
  }
  rc = mts_sts_policy_valid(p) ? 0 : mts_sts_policy_usable(p) ? 1 : 2;
done:
  mts_sts_policy_destroy(p);
  mts_ctx_destroy(ctx);
  free(body);
  return rc;
}

/* Build an RRset from RR arguments in `dig +short` form. */
static int build_rrset(struct mts_ctx *ctx, const struct cli_args *a,
                       const char *cmd, struct mts_txt_rrset **out) {
  struct mts_txt_rrset *set = NULL;
  int i;

  if (a->npos < 2) {
    cli_err("lint %s: give at least one TXT RR, e.g. '\"v=STSv1; id=1\"'",
            cmd);
    return CLI_EX_USAGE;
  }
  if (mts_txt_rrset_create(ctx, &set) != MTS_OK) {
    cli_err("out of memory");
    return CLI_EX_SOFTWARE;
  }
  for (i = 1; i < a->npos; i++) {
    const char *err = NULL;
    enum mts_status st = mts_txt_rrset_add_presentation(
        set, a->pos[i], strlen(a->pos[i]), &err);

    if (st != MTS_OK) {
      cli_err("lint %s: argument %d: %s", cmd, i,
              err != NULL ? err : mts_status_str(st));
      mts_txt_rrset_destroy(set);
      return st == MTS_ENOMEM ? CLI_EX_SOFTWARE : CLI_EX_USAGE;
    }
  }
  *out = set;
  return 0;
}

static int lint_sts_record(const struct cli_args *a) {
  struct mts_txt_rrset *set = NULL;
  struct mts_sts_txt *t = NULL;
  struct mts_ctx *ctx = cli_ctx();
  int rc = CLI_EX_SOFTWARE;
  const uint8_t *rec;
  size_t reclen = 0;
  char *prec = NULL;

  if (ctx == NULL) {
    return rc;
  }
  rc = build_rrset(ctx, a, "sts-record", &set);
  if (rc != 0) {
    goto done;
  }
  rc = CLI_EX_SOFTWARE;
  if (mts_sts_txt_parse(ctx, set, &t) != MTS_OK) {
    cli_err("lint sts-record: out of memory");
    goto done;
  }
  rec = mts_sts_txt_record(t, &reclen);
  prec = rec != NULL ? cli_printable(rec, reclen) : NULL;
  if (a->opts.json) {
    json_t *o = json_object();
    const char *id = mts_sts_txt_id(t);

    json_object_set_new(o, "valid",
                        json_boolean(mts_sts_txt_verdict(t) == MTS_STS_TXT_VALID));
    json_object_set_new(o, "verdict",
                        json_string(mts_sts_txt_verdict_str(mts_sts_txt_verdict(t))));
    json_object_set_new(o, "id", id ? json_string(id) : json_null());
    json_object_set_new(o, "record", prec ? json_string(prec) : json_null());
    json_object_set_new(o, "findings", cli_findings_json(mts_sts_txt_findings(t)));
    cli_json_print(o);
  } else {
    printf("_mta-sts record: %s\n",
           mts_sts_txt_verdict_str(mts_sts_txt_verdict(t)));
    if (prec != NULL) {
      printf("  record: %s\n", prec);
    }
    if (mts_sts_txt_id(t) != NULL) {
      printf("  id:     %s\n", mts_sts_txt_id(t));
    }
    cli_findings_print(stdout, mts_sts_txt_findings(t), "  ", "RR");
  }
  rc = mts_sts_txt_verdict(t) == MTS_STS_TXT_VALID ? 0 : 2;
done:
  free(prec);
  mts_sts_txt_destroy(t);
  mts_txt_rrset_destroy(set);
  mts_ctx_destroy(ctx);
  return rc;
}

static const char *scheme_str(enum mts_rpt_uri_scheme s) {
  switch (s) {
  case MTS_RPT_URI_MAILTO:
    return "mailto";
  case MTS_RPT_URI_HTTPS:
    return "https";
  case MTS_RPT_URI_OTHER:
    break;
  }
  return "other";
}

static int lint_tlsrpt_record(const struct cli_args *a) {
  struct mts_txt_rrset *set = NULL;
  struct mts_rpt_txt *t = NULL;
  struct mts_ctx *ctx = cli_ctx();
  int rc = CLI_EX_SOFTWARE;
  size_t i, n;

  if (ctx == NULL) {
    return rc;
  }
  rc = build_rrset(ctx, a, "tlsrpt-record", &set);
  if (rc != 0) {
    goto done;
  }
  rc = CLI_EX_SOFTWARE;
  if (mts_rpt_txt_parse(ctx, set, &t) != MTS_OK) {
    cli_err("lint tlsrpt-record: out of memory");
    goto done;
  }
  n = mts_rpt_txt_rua_count(t);
  if (a->opts.json) {
    json_t *o = json_object(), *rua = json_array();

    for (i = 0; i < n; i++) {
      json_array_append_new(rua, json_string(mts_rpt_txt_rua(t, i, NULL)));
    }
    json_object_set_new(o, "valid",
                        json_boolean(mts_rpt_txt_verdict(t) == MTS_RPT_TXT_VALID));
    json_object_set_new(o, "verdict",
                        json_string(mts_rpt_txt_verdict_str(mts_rpt_txt_verdict(t))));
    json_object_set_new(o, "rua", rua);
    json_object_set_new(o, "findings", cli_findings_json(mts_rpt_txt_findings(t)));
    cli_json_print(o);
  } else {
    printf("_smtp._tls record: %s\n",
           mts_rpt_txt_verdict_str(mts_rpt_txt_verdict(t)));
    for (i = 0; i < n; i++) {
      enum mts_rpt_uri_scheme s;
      const char *u = mts_rpt_txt_rua(t, i, &s);

      printf("  rua:    %s (%s)\n", u, scheme_str(s));
    }
    cli_findings_print(stdout, mts_rpt_txt_findings(t), "  ", "RR");
  }
  rc = mts_rpt_txt_verdict(t) == MTS_RPT_TXT_VALID ? 0 : 2;
done:
  mts_rpt_txt_destroy(t);
  mts_txt_rrset_destroy(set);
  mts_ctx_destroy(ctx);
  return rc;
}

int cmd_lint(int argc, char **argv) {
  const char **pos = calloc((size_t)argc + 1, sizeof(*pos));
  struct cli_args a;
  int rc = CLI_EX_USAGE;

  if (pos == NULL) {
    cli_err("out of memory");
    return CLI_EX_SOFTWARE;
  }
  if (!cli_parse_args("lint", argc, argv, CLI_OPT_JSON, &a, pos)) {
    goto done;
  }
  if (a.npos < 1) {
    cli_err("lint: what? policy, sts-record or tlsrpt-record");
  } else if (strcmp(a.pos[0], "policy") == 0) {
    rc = lint_policy(&a);
  } else if (strcmp(a.pos[0], "sts-record") == 0) {
    rc = lint_sts_record(&a);
  } else if (strcmp(a.pos[0], "tlsrpt-record") == 0) {
    rc = lint_tlsrpt_record(&a);
  } else {
    cli_err("lint: unknown kind '%s' (policy, sts-record, tlsrpt-record)",
            a.pos[0]);
  }
done:
  free(pos);
  return rc;
}
