/*
 * cmd_query.c - `mtasts query DOMAIN`: live discovery and fetch, the
 * way a sending MTA does it, with timings and every finding.
 *
 * Exit: 0 usable policy; 1 no MTA-STS; 2 published but broken (TXT,
 * fetch, certificate or policy); 3 temporary DNS failure; 64 usage;
 * 70 internal error.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

struct query {
  struct cli_opts *opts;
  struct mts_sts_discovery *d;
};

static void on_discovered(void *arg, struct mts_sts_discovery *d) {
  struct query *q = arg;

  q->d = d;
}

static const char *txt_status_str(enum mts_status st) {
  switch (st) {
  case MTS_OK:
    return "found";
  case MTS_ENXDOMAIN:
    return "nxdomain";
  case MTS_ENODATA:
    return "nodata";
  case MTS_ESERVFAIL:
    return "servfail";
  case MTS_ETIMEOUT:
    return "timeout";
  default:
    return "error";
  }
}

static int verdict_exit(enum mts_sts_verdict v) {
  switch (v) {
  case MTS_STS_V_POLICY:
    return 0;
  case MTS_STS_V_NO_POLICY:
    return 1;
  case MTS_STS_V_DNS_TEMPFAIL:
    return 3;
  case MTS_STS_V_TXT_INVALID:
  case MTS_STS_V_FETCH_ERROR:
  case MTS_STS_V_WEBPKI_INVALID:
  case MTS_STS_V_POLICY_INVALID:
    break;
  }
  return 2;
}

/* The RRs of the TXT answer, each as printable concatenated text. */
static json_t *records_json(const struct mts_txt_rrset *set) {
  json_t *arr = json_array();
  size_t i, n = mts_txt_rrset_count(set);

  for (i = 0; i < n; i++) {
    uint8_t buf[MTS_TXT_MAX_BYTES + 1];
    size_t len = mts_txt_rrset_concat(set, i, buf, sizeof(buf));
    char *p = cli_printable(buf, len < sizeof(buf) ? len : sizeof(buf) - 1);

    if (p != NULL) {
      json_array_append_new(arr, json_string(p));
      free(p);
    }
  }
  return arr;
}

/* The record verdict; an NXDOMAIN or NODATA answer means "none" too. */
static json_t *json_txt_verdict(const struct mts_sts_discovery *d) {
  const struct mts_sts_txt *txt = mts_sts_discovery_txt(d);
  enum mts_status st = mts_sts_discovery_txt_status(d);

  if (txt != NULL) {
    return json_string(mts_sts_txt_verdict_str(mts_sts_txt_verdict(txt)));
  }
  if (st == MTS_ENXDOMAIN || st == MTS_ENODATA) {
    return json_string(mts_sts_txt_verdict_str(MTS_STS_TXT_NONE));
  }
  return json_null();
}

static json_t *policy_json(const struct mts_sts_discovery *d) {
  const struct mts_sts_policy *p = mts_sts_discovery_policy(d);
  const char *ct = mts_sts_discovery_content_type(d);
  json_t *o = json_object();

  json_object_set_new(o, "url", json_string(mts_sts_discovery_url(d)));
  json_object_set_new(o, "http_status",
                      mts_sts_discovery_http_status(d) > 0
                          ? json_integer(mts_sts_discovery_http_status(d))
                          : json_null());
  json_object_set_new(o, "content_type", ct ? json_string(ct) : json_null());
  if (p != NULL) {
    json_t *mx = json_array();
    const char *ver = mts_sts_policy_version(p);
    enum mts_sts_mode mode = mts_sts_policy_mode(p);
    size_t i;

    for (i = 0; i < mts_sts_policy_mx_count(p); i++) {
      json_array_append_new(mx, json_string(mts_sts_policy_mx(p, i)));
    }
    json_object_set_new(o, "valid", json_boolean(mts_sts_policy_valid(p)));
    json_object_set_new(o, "usable", json_boolean(mts_sts_policy_usable(p)));
    json_object_set_new(o, "version", ver ? json_string(ver) : json_null());
    json_object_set_new(o, "mode", mode != MTS_STS_MODE_UNKNOWN
                                       ? json_string(mts_sts_mode_str(mode))
                                       : json_null());
    json_object_set_new(o, "max_age",
                        mts_sts_policy_max_age(p) >= 0
                            ? json_integer(mts_sts_policy_max_age(p))
                            : json_null());
    json_object_set_new(o, "mx", mx);
    json_object_set_new(o, "findings",
                        cli_findings_json(mts_sts_policy_findings(p)));
  }
  return o;
}

static void print_json(const struct mts_sts_discovery *d) {
  enum mts_sts_verdict v = mts_sts_discovery_verdict(d);
  const char *rt = mts_sts_verdict_result_type(v);
  const struct mts_sts_txt *txt = mts_sts_discovery_txt(d);
  const struct mts_txt_rrset *set = mts_sts_discovery_txt_rrset(d);
  json_t *o = json_object(), *t = json_object();

  json_object_set_new(o, "domain", json_string(mts_sts_discovery_domain(d)));
  json_object_set_new(o, "verdict", json_string(mts_sts_verdict_str(v)));
  json_object_set_new(o, "result_type", rt ? json_string(rt) : json_null());
  json_object_set_new(o, "reason", json_string(mts_sts_discovery_reason(d)));

  json_object_set_new(t, "status", json_string(txt_status_str(
                                       mts_sts_discovery_txt_status(d))));
  json_object_set_new(t, "records", set ? records_json(set) : json_array());
  json_object_set_new(t, "verdict", json_txt_verdict(d));
  json_object_set_new(t, "id", txt && mts_sts_txt_id(txt)
                                   ? json_string(mts_sts_txt_id(txt))
                                   : json_null());
  json_object_set_new(t, "dnssec",
                      json_boolean(mts_sts_discovery_txt_authenticated(d)));
  json_object_set_new(t, "findings",
                      cli_findings_json(txt ? mts_sts_txt_findings(txt) : NULL));
  json_object_set_new(o, "txt", t);
  json_object_set_new(o, "policy", mts_sts_discovery_url(d) != NULL
                                       ? policy_json(d)
                                       : json_null());
  json_object_set_new(o, "timings_ms",
                      json_pack("{s:I, s:I}", "dns",
                                (json_int_t)mts_sts_discovery_dns_ms(d),
                                "fetch",
                                (json_int_t)mts_sts_discovery_fetch_ms(d)));
  cli_json_print(o);
}

static void print_text(const struct mts_sts_discovery *d) {
  enum mts_sts_verdict v = mts_sts_discovery_verdict(d);
  const struct mts_sts_txt *txt = mts_sts_discovery_txt(d);
  const struct mts_txt_rrset *set = mts_sts_discovery_txt_rrset(d);
  const struct mts_sts_policy *p = mts_sts_discovery_policy(d);
  const char *rt = mts_sts_verdict_result_type(v);
  size_t i;

  printf("domain:  %s\n", mts_sts_discovery_domain(d));
  printf("txt:     _mta-sts.%s: %s (%llu ms)%s\n",
         mts_sts_discovery_domain(d),
         txt_status_str(mts_sts_discovery_txt_status(d)),
         (unsigned long long)mts_sts_discovery_dns_ms(d),
         mts_sts_discovery_txt_authenticated(d) ? " dnssec" : "");
  for (i = 0; set != NULL && i < mts_txt_rrset_count(set); i++) {
    char buf[1024];

    (void)mts_txt_rrset_tostr(set, i, buf, sizeof(buf));
    printf("         TXT %s\n", buf);
  }
  if (txt != NULL) {
    printf("         record %s%s%s\n",
           mts_sts_txt_verdict_str(mts_sts_txt_verdict(txt)),
           mts_sts_txt_id(txt) ? ", id " : "",
           mts_sts_txt_id(txt) ? mts_sts_txt_id(txt) : "");
    cli_findings_print(stdout, mts_sts_txt_findings(txt), "         ", "RR");
  }
  if (mts_sts_discovery_url(d) != NULL) {
    const char *ct = mts_sts_discovery_content_type(d);

    printf("policy:  %s (%llu ms)\n", mts_sts_discovery_url(d),
           (unsigned long long)mts_sts_discovery_fetch_ms(d));
    if (mts_sts_discovery_http_status(d) > 0) {
      printf("         HTTP %ld, Content-Type %s\n",
             mts_sts_discovery_http_status(d), ct ? ct : "(none)");
    }
  }
  if (p != NULL) {
    printf("         version %s, mode %s, max_age %lld\n",
           mts_sts_policy_version(p) ? mts_sts_policy_version(p) : "(invalid)",
           mts_sts_mode_str(mts_sts_policy_mode(p)),
           (long long)mts_sts_policy_max_age(p));
    for (i = 0; i < mts_sts_policy_mx_count(p); i++) {
      printf("         mx %s\n", mts_sts_policy_mx(p, i));
    }
    cli_findings_print(stdout, mts_sts_policy_findings(p), "         ", "line");
  }
  printf("verdict: %s\n", mts_sts_verdict_str(v));
  printf("         %s\n", mts_sts_discovery_reason(d));
  if (p != NULL && v == MTS_STS_V_POLICY && !mts_sts_policy_valid(p)) {
    printf("         the policy deviates from the RFC 8461 grammar in "
           "harmless ways only: senders apply it\n");
  }
  if (rt != NULL) {
    printf("         RFC 8460 result type: %s\n", rt);
  }
}

int cmd_query(int argc, char **argv) {
  const char **pos = calloc((size_t)argc + 1, sizeof(*pos));
  struct mts_net_options no;
  struct mts_net *net = NULL;
  struct mts_ctx *ctx = NULL;
  struct query q = {0};
  struct cli_args a;
  uv_loop_t loop;
  bool loop_ok = false;
  enum mts_status st;
  int rc = CLI_EX_USAGE;

  if (pos == NULL) {
    cli_err("out of memory");
    return CLI_EX_SOFTWARE;
  }
  if (!cli_parse_args("query", argc, argv, CLI_OPT_JSON | CLI_OPT_NET, &a,
                      pos)) {
    goto done;
  }
  if (a.npos != 1) {
    cli_err("usage: mtasts query DOMAIN [--json] [--resolver IP[:PORT]] "
            "[--ca-file FILE] [--timeout SECONDS]");
    goto done;
  }
  rc = CLI_EX_SOFTWARE;
  q.opts = &a.opts;
  ctx = cli_ctx();
  if (ctx == NULL || uv_loop_init(&loop) != 0) {
    goto done;
  }
  loop_ok = true;
  mts_net_options_init(&no);
  no.resolver = a.opts.resolver;
  no.ca_file = a.opts.ca_file;
  no.dns_timeout_ms = a.opts.timeout_s * 1000u;
  no.http_timeout_ms = a.opts.timeout_s * 1000u;
  st = mts_net_create(ctx, &loop, &no, &net);
  if (st != MTS_OK) {
    cli_err("query: cannot set up the network: %s%s", mts_status_str(st),
            st == MTS_EINVAL ? " (check --resolver and --ca-file)" : "");
    rc = st == MTS_EINVAL ? CLI_EX_USAGE : CLI_EX_SOFTWARE;
    goto done;
  }
  st = mts_sts_discover(net, a.pos[0], 0, on_discovered, &q);
  if (st != MTS_OK) {
    cli_err("query: '%s': %s", a.pos[0], mts_status_str(st));
    rc = st == MTS_EIDN ? CLI_EX_USAGE : CLI_EX_SOFTWARE;
    goto done;
  }
  (void)uv_run(&loop, UV_RUN_DEFAULT);
  if (q.d == NULL) {
    cli_err("query: internal error: discovery did not complete");
    goto done;
  }
  if (a.opts.json) {
    print_json(q.d);
  } else {
    print_text(q.d);
  }
  rc = verdict_exit(mts_sts_discovery_verdict(q.d));
done:
  mts_sts_discovery_destroy(q.d);
  mts_net_destroy(net);
  if (loop_ok) {
    (void)uv_run(&loop, UV_RUN_DEFAULT); /* let handles finish closing */
    (void)uv_loop_close(&loop);
  }
  mts_ctx_destroy(ctx);
  free(pos);
  return rc;
}
