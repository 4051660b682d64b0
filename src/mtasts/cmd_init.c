/*
 * cmd_init.c - `mtasts init DOMAIN` (draft a policy and everything to
 * publish it) and `mtasts policy id FILE|-` (the content-derived id).
 *
 * init writes the policy file (canonical, CRLF, never overwriting an
 * existing file without --force) and prints on stdout, ready to paste:
 * the DNS records in zone-file syntax and an nginx server block. Every
 * input is checked with the library's own validators, and the generated
 * records are parsed back with the library parsers before anything is
 * printed, so init never proposes what `mtasts lint` would refuse.
 *
 * Exit (init): 0 written; 2 a pattern, URI or DNS answer is unusable;
 * 3 the MX lookup of --from-dns failed temporarily; 64 usage; 73 the
 * output file exists or cannot be created; 70 internal error.
 * Exit (policy id): 0 valid; 1 usable with deviations; 2 invalid (the id
 * is printed in every case); 64 usage; 66 unreadable file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define INIT_TTL 3600
#define INIT_MAX_PATTERNS 64
#define INIT_MAX_RUA 16
#define INIT_DEFAULT_OUTPUT "mta-sts.txt"
/* RFC 8461 3.2: "in the range of weeks or greater"; one week. */
#define INIT_DEFAULT_MAX_AGE 604800
/* RFC 8461 8.3: a policy being withdrawn (mode none) should expire soon. */
#define INIT_DEFAULT_MAX_AGE_NONE 86400

struct init_opts {
  const char *domain;
  const char *mx[INIT_MAX_PATTERNS];
  size_t nmx;
  const char *rua[INIT_MAX_RUA];
  size_t nrua;
  const char *mode;
  const char *max_age;
  const char *output;
  bool force;
  bool from_dns;
  struct cli_opts net;
};

/* Patterns and URIs after normalisation, owned by the command. */
struct init_state {
  char domain[MTS_DOMAIN_MAX + 1];
  char *mx[INIT_MAX_PATTERNS];
  size_t nmx;
  char *rua[INIT_MAX_RUA];
  size_t nrua;
  enum mts_sts_mode mode;
  int64_t max_age;
  /* --from-dns */
  enum mts_status mx_status;
  bool mx_done;
  bool mx_null;
  char *dns_mx[INIT_MAX_PATTERNS];
  size_t ndns_mx;
  bool dns_mx_truncated;
};

static const char INIT_USAGE[] =
    "usage: mtasts init DOMAIN (--mx PATTERN... | --from-dns) "
    "[--mode testing|enforce|none] [--max-age SECONDS] [--rua URI...] "
    "[--output FILE] [--force] [--resolver IP[:PORT]] [--timeout SECONDS]";

static bool is_opt(const char *a) {
  return a[0] == '-' && a[1] != '\0';
}

/* --name VALUE or --name=VALUE; returns the value or NULL (message printed). */
static const char *opt_value(int argc, char **argv, int *i, const char *name) {
  const char *a = argv[*i];
  size_t n = strlen(name);

  if (a[n] == '=') {
    return a + n + 1;
  }
  if (*i + 1 >= argc) {
    cli_err("init: option %s needs a value", name);
    return NULL;
  }
  return argv[++*i];
}

static bool opt_match(const char *a, const char *name) {
  size_t n = strlen(name);

  return strncmp(a, name, n) == 0 && (a[n] == '\0' || a[n] == '=');
}

/*
 * --mx and --rua take one or more values: the following arguments up to
 * the next option (so the DOMAIN goes before them or after another
 * option). "--mx=a" takes exactly one.
 */
static bool take_list(int argc, char **argv, int *i, const char *name,
                      const char **list, size_t *n, size_t max) {
  const char *a = argv[*i];
  size_t len = strlen(name);
  size_t before = *n;

  if (a[len] == '=') {
    if (*n >= max) {
      cli_err("init: too many %s values (at most %zu)", name, max);
      return false;
    }
    list[(*n)++] = a + len + 1;
    return true;
  }
  while (*i + 1 < argc && !is_opt(argv[*i + 1])) {
    if (*n >= max) {
      cli_err("init: too many %s values (at most %zu)", name, max);
      return false;
    }
    list[(*n)++] = argv[++*i];
  }
  if (*n == before) {
    cli_err("init: option %s needs a value", name);
    return false;
  }
  return true;
}

static bool parse_timeout(const char *s, unsigned *out) {
  unsigned long v;
  char *end = NULL;

  if (s == NULL || s[0] < '0' || s[0] > '9') {
    return false;
  }
  errno = 0;
  v = strtoul(s, &end, 10);
  if (errno != 0 || *end != '\0' || v < 1 || v > 3600) {
    return false;
  }
  *out = (unsigned)v;
  return true;
}

static bool init_parse_args(int argc, char **argv, struct init_opts *o) {
  int i;

  memset(o, 0, sizeof(*o));
  for (i = 0; i < argc; i++) {
    const char *a = argv[i];
    const char *v;

    if (!is_opt(a)) {
      if (o->domain != NULL) {
        cli_err("init: one DOMAIN only ('%s' and '%s'; patterns go after "
                "--mx)",
                o->domain, a);
        return false;
      }
      o->domain = a;
    } else if (opt_match(a, "--mx")) {
      if (!take_list(argc, argv, &i, "--mx", o->mx, &o->nmx,
                     INIT_MAX_PATTERNS)) {
        return false;
      }
    } else if (opt_match(a, "--rua")) {
      if (!take_list(argc, argv, &i, "--rua", o->rua, &o->nrua, INIT_MAX_RUA)) {
        return false;
      }
    } else if (strcmp(a, "--force") == 0) {
      o->force = true;
    } else if (strcmp(a, "--from-dns") == 0) {
      o->from_dns = true;
    } else if (opt_match(a, "--mode") || opt_match(a, "--max-age") ||
               opt_match(a, "--output") || opt_match(a, "-o") ||
               opt_match(a, "--resolver") || opt_match(a, "--timeout")) {
      const char *name = a[1] == 'o' ? "-o" : a;
      size_t n = strcspn(name, "=");
      char key[16];

      memcpy(key, name, n < sizeof(key) - 1 ? n : sizeof(key) - 1);
      key[n < sizeof(key) - 1 ? n : sizeof(key) - 1] = '\0';
      v = opt_value(argc, argv, &i, key);
      if (v == NULL) {
        return false;
      }
      if (strcmp(key, "--mode") == 0) {
        o->mode = v;
      } else if (strcmp(key, "--max-age") == 0) {
        o->max_age = v;
      } else if (strcmp(key, "--resolver") == 0) {
        o->net.resolver = v;
      } else if (strcmp(key, "--timeout") == 0) {
        if (!parse_timeout(v, &o->net.timeout_s)) {
          cli_err("init: --timeout wants whole seconds from 1 to 3600, not "
                  "'%s'",
                  v);
          return false;
        }
      } else {
        o->output = v;
      }
    } else {
      cli_err("init: unknown option '%s'", a);
      return false;
    }
  }
  if (o->domain == NULL || (o->nmx == 0 && !o->from_dns)) {
    cli_err("%s", INIT_USAGE);
    return false;
  }
  return true;
}

/* "604800", or with a unit: 90d, 2w, 12h, 30m, 45s. */
static bool parse_max_age(const char *s, int64_t *out) {
  uint64_t v = 0, mul = 1;
  size_t i = 0;

  if (s[0] < '0' || s[0] > '9') {
    return false;
  }
  for (; s[i] >= '0' && s[i] <= '9'; i++) {
    v = v * 10 + (uint64_t)(s[i] - '0');
    if (v > MTS_STS_MAX_AGE_MAX) {
      return false;
    }
  }
  if (s[i] != '\0') {
    switch (s[i]) {
    case 's':
      mul = 1;
      break;
    case 'm':
      mul = 60;
      break;
    case 'h':
      mul = 3600;
      break;
    case 'd':
      mul = 86400;
      break;
    case 'w':
      mul = 604800;
      break;
    default:
      return false;
    }
    if (s[i + 1] != '\0') {
      return false;
    }
  }
  if (v * mul > MTS_STS_MAX_AGE_MAX) {
    return false;
  }
  *out = (int64_t)(v * mul);
  return true;
}

/*
 * A pattern as the user typed it to the policy form: U-labels become
 * A-labels, ASCII is lower-cased, one trailing dot is dropped (RFC 8461
 * 3.2: A-labels, no trailing dot). Then it must pass the library's own
 * check. \return a malloc'd pattern or NULL (message printed).
 */
static char *normalize_pattern(const char *in) {
  char a[MTS_DOMAIN_MAX + 1];
  bool wild = strncmp(in, "*.", 2) == 0;
  const char *host = wild ? in + 2 : in;
  size_t n;
  char *out;

  if (mts_idn_to_ascii(host, strlen(host), a, sizeof(a)) != MTS_OK) {
    cli_err("init: '%s' is not a valid mx pattern (RFC 8461 3.2: a host "
            "name, or *. and a host name)",
            in);
    return NULL;
  }
  n = strlen(a);
  out = malloc(n + 3);
  if (out == NULL) {
    cli_err("out of memory");
    return NULL;
  }
  if (wild) {
    memcpy(out, "*.", 2);
  }
  memcpy(out + (wild ? 2 : 0), a, n + 1);
  if (!mts_sts_match_pattern_valid(out, strlen(out))) {
    cli_err("init: '%s' is not a valid mx pattern (RFC 8461 3.2: a host "
            "name, or *. and a host name)",
            in);
    free(out);
    return NULL;
  }
  return out;
}

/* Add \p p (taking it) unless an equal pattern is there already. */
static bool add_pattern(struct init_state *s, char *p) {
  size_t i;

  for (i = 0; i < s->nmx; i++) {
    if (strcmp(s->mx[i], p) == 0) {
      free(p);
      return true;
    }
  }
  if (s->nmx >= INIT_MAX_PATTERNS) {
    cli_err("init: too many mx patterns (at most %d)", INIT_MAX_PATTERNS);
    free(p);
    return false;
  }
  s->mx[s->nmx++] = p;
  return true;
}

/* A wildcard over a TLD or a bare label ("*.com") matches far too much. */
static void warn_pattern(const char *p) {
  if (strncmp(p, "*.", 2) == 0 && strchr(p + 2, '.') == NULL) {
    cli_err("init: warning: '%s' matches every host under a top-level "
            "domain",
            p);
  }
}

/* "reports@example.com" is taken as mailto:; anything else as given. */
static char *normalize_rua(const char *in) {
  bool add_mailto = strchr(in, '@') != NULL && strchr(in, ':') == NULL;
  size_t n = strlen(in);
  char *out = malloc(n + 8);

  if (out == NULL) {
    cli_err("out of memory");
    return NULL;
  }
  if (add_mailto) {
    memcpy(out, "mailto:", 7);
  }
  memcpy(out + (add_mailto ? 7 : 0), in, n + 1);
  return out;
}

static void on_mx(void *arg, enum mts_status st, const struct mts_net_mx *mx,
                  size_t n, bool authenticated, const char *errmsg) {
  struct init_state *s = arg;
  size_t i, j, seen = 0;

  (void)authenticated;
  (void)errmsg;
  s->mx_done = true;
  s->mx_status = st;
  if (st != MTS_OK) {
    return;
  }
  /* In preference order (stable for equal preferences). */
  for (j = 0; j <= 65535 && seen < n; j++) {
    for (i = 0; i < n; i++) {
      if (mx[i].preference != j) {
        continue;
      }
      seen++;
      if (mx[i].exchange[0] == '\0') {
        s->mx_null = true; /* RFC 7505 "." */
        continue;
      }
      if (s->ndns_mx >= INIT_MAX_PATTERNS) {
        s->dns_mx_truncated = true;
        return;
      }
      s->dns_mx[s->ndns_mx] = strdup(mx[i].exchange);
      if (s->dns_mx[s->ndns_mx] == NULL) {
        s->mx_status = MTS_ENOMEM;
        return;
      }
      s->ndns_mx++;
    }
  }
}

/* Look up DOMAIN's MX records on a private loop. \return an exit code
 * (0: s->dns_mx filled). */
static int lookup_mx(const struct init_opts *o, struct init_state *s,
                     struct mts_ctx *ctx) {
  struct mts_net_options no;
  struct mts_net *net = NULL;
  uv_loop_t loop;
  enum mts_status st;
  int rc = CLI_EX_SOFTWARE;

  if (uv_loop_init(&loop) != 0) {
    return rc;
  }
  mts_net_options_init(&no);
  no.resolver = o->net.resolver;
  no.dns_timeout_ms = o->net.timeout_s * 1000u;
  st = mts_net_create(ctx, &loop, &no, &net);
  if (st != MTS_OK) {
    cli_err("init: cannot set up the network: %s%s", mts_status_str(st),
            st == MTS_EINVAL ? " (check --resolver)" : "");
    rc = st == MTS_EINVAL ? CLI_EX_USAGE : CLI_EX_SOFTWARE;
    goto done;
  }
  st = mts_net_dns_mx(net, s->domain, on_mx, s);
  if (st != MTS_OK) {
    cli_err("init: MX lookup of %s: %s", s->domain, mts_status_str(st));
    goto done;
  }
  (void)uv_run(&loop, UV_RUN_DEFAULT);
  if (!s->mx_done) {
    cli_err("init: internal error: the MX lookup did not complete");
    goto done;
  }
  switch (s->mx_status) {
  case MTS_OK:
    rc = 0;
    break;
  case MTS_ENXDOMAIN:
    cli_err("init: --from-dns: %s does not exist (NXDOMAIN)", s->domain);
    rc = 2;
    break;
  case MTS_ENODATA:
    cli_err("init: --from-dns: %s has no MX records; give the mail hosts "
            "with --mx",
            s->domain);
    rc = 2;
    break;
  default:
    cli_err("init: --from-dns: MX lookup of %s failed: %s", s->domain,
            mts_status_str(s->mx_status));
    rc = s->mx_status == MTS_ENOMEM ? CLI_EX_SOFTWARE : 3;
    break;
  }
  if (rc == 0 && s->ndns_mx == 0) {
    cli_err("init: --from-dns: %s publishes a null MX (RFC 7505): it "
            "accepts no mail, so MTA-STS has nothing to protect",
            s->domain);
    rc = 2;
  }
  if (rc == 0 && s->dns_mx_truncated) {
    cli_err("init: warning: more than %d MX records; the rest are left out",
            INIT_MAX_PATTERNS);
  }
done:
  mts_net_destroy(net);
  (void)uv_run(&loop, UV_RUN_DEFAULT);
  (void)uv_loop_close(&loop);
  return rc;
}

/* Print one TXT RR in zone-file syntax, splitting the text into
 * character-strings of at most 255 octets (RFC 1035 3.3.14). */
static void print_txt_rr(FILE *out, const char *owner, const char *text) {
  size_t n = strlen(text), off = 0;

  fprintf(out, "%s. %d IN TXT", owner, INIT_TTL);
  while (off < n) {
    size_t k = n - off > MTS_TXT_STRING_MAX ? MTS_TXT_STRING_MAX : n - off;
    size_t i;

    fputs(" \"", out);
    for (i = off; i < off + k; i++) {
      if (text[i] == '"' || text[i] == '\\') {
        fputc('\\', out);
      }
      fputc(text[i], out);
    }
    fputc('"', out);
    off += k;
  }
  fputc('\n', out);
}

/* One record text as a one-RR set, split like print_txt_rr. */
static struct mts_txt_rrset *record_set(struct mts_ctx *ctx, const char *text) {
  struct mts_txt_rrset *set = NULL;
  size_t n = strlen(text), off = 0;

  if (mts_txt_rrset_create(ctx, &set) != MTS_OK ||
      mts_txt_rrset_add_rr(set) != MTS_OK) {
    mts_txt_rrset_destroy(set);
    return NULL;
  }
  while (off < n) {
    size_t k = n - off > MTS_TXT_STRING_MAX ? MTS_TXT_STRING_MAX : n - off;

    if (mts_txt_rrset_add_string(set, (const uint8_t *)text + off, k) !=
        MTS_OK) {
      mts_txt_rrset_destroy(set);
      return NULL;
    }
    off += k;
  }
  return set;
}

/* Check the generated `_mta-sts` record with the library parser. */
static bool sts_record_ok(struct mts_ctx *ctx, const char *text) {
  struct mts_txt_rrset *set = record_set(ctx, text);
  struct mts_sts_txt *t = NULL;
  bool ok = false;

  if (set != NULL && mts_sts_txt_parse(ctx, set, &t) == MTS_OK) {
    ok = mts_sts_txt_verdict(t) == MTS_STS_TXT_VALID;
  }
  mts_sts_txt_destroy(t);
  mts_txt_rrset_destroy(set);
  return ok;
}

/* Check the `_smtp._tls` record; print its problems. \return 0, 2 or 70. */
static int rpt_record_check(struct mts_ctx *ctx, const char *text) {
  struct mts_txt_rrset *set = record_set(ctx, text);
  struct mts_rpt_txt *t = NULL;
  const struct mts_findings *f;
  int rc = CLI_EX_SOFTWARE;
  size_t i;

  if (set == NULL || mts_rpt_txt_parse(ctx, set, &t) != MTS_OK) {
    cli_err("out of memory");
    goto done;
  }
  f = mts_rpt_txt_findings(t);
  for (i = 0; i < mts_findings_count(f); i++) {
    const struct mts_finding *fi = mts_findings_get(f, i);

    cli_err("init: --rua: %s %s: %s", mts_severity_str(fi->severity), fi->code,
            fi->message);
  }
  rc = mts_rpt_txt_verdict(t) == MTS_RPT_TXT_VALID ? 0 : 2;
done:
  mts_rpt_txt_destroy(t);
  mts_txt_rrset_destroy(set);
  return rc;
}

/* Write the policy to \p path: create it, never replace it unless
 * \p force. \return 0 or an exit code (message printed). */
static int write_policy_file(const char *path, bool force, const char *body,
                             size_t len) {
  int flags = O_WRONLY | O_CREAT | (force ? O_TRUNC : O_EXCL);
  int fd = open(path, flags, 0644);
  size_t off = 0;

  if (fd < 0) {
    if (errno == EEXIST) {
      cli_err("init: %s exists; use --force to replace it, or --output FILE",
              path);
    } else {
      cli_err("init: %s: %s", path, strerror(errno));
    }
    return 73; /* EX_CANTCREAT */
  }
  while (off < len) {
    ssize_t w = write(fd, body + off, len - off);

    if (w < 0) {
      if (errno == EINTR) {
        continue;
      }
      cli_err("init: %s: %s", path, strerror(errno));
      (void)close(fd);
      return 73;
    }
    off += (size_t)w;
  }
  if (close(fd) != 0) {
    cli_err("init: %s: %s", path, strerror(errno));
    return 73;
  }
  return 0;
}

static void print_publish(const struct init_state *s, const char *path,
                          const char *id, const char *rpt) {
  const char *d = s->domain;

  printf("; MTA-STS for %s: policy written to %s (id %s)\n", d, path, id);
  printf(";\n");
  printf("; 1. Serve %s, byte for byte, as\n", path);
  printf(";      https://mta-sts.%s/.well-known/mta-sts.txt\n", d);
  printf(";    with status 200, Content-Type text/plain and no redirect, "
         "over HTTPS\n");
  printf(";    with a certificate valid for mta-sts.%s (RFC 8461 3.3).\n", d);
  printf("; 2. Then publish these DNS records (zone-file syntax); change "
         "the\n");
  printf(";    policy first and the TXT record after (RFC 8461 8.1).\n");
  printf(";    `mtasts policy id %s` gives the id of a changed policy.\n",
         path);
  printf(";\n");
  printf("; The policy host must resolve to the web server, for example:\n");
  printf(";   mta-sts.%s. %d IN A     192.0.2.1\n", d, INIT_TTL);
  printf(";   mta-sts.%s. %d IN CNAME www.%s.\n", d, INIT_TTL, d);
  {
    char owner[MTS_DOMAIN_MAX + 16], txt[64];

    (void)snprintf(owner, sizeof(owner), "_mta-sts.%s", d);
    (void)snprintf(txt, sizeof(txt), "v=STSv1; id=%s;", id);
    print_txt_rr(stdout, owner, txt);
    (void)snprintf(owner, sizeof(owner), "_smtp._tls.%s", d);
    if (rpt != NULL) {
      print_txt_rr(stdout, owner, rpt);
    } else {
      printf("; No --rua: to receive TLS reports (RFC 8460), add e.g.\n");
      printf(";   %s. %d IN TXT \"v=TLSRPTv1; rua=mailto:tlsrpt@%s\"\n", owner,
             INIT_TTL, d);
    }
  }
  printf("\n");
  printf("# nginx: copy %s to /var/www/mta-sts.%s/.well-known/mta-sts.txt\n",
         path, d);
  printf("server {\n");
  printf("    listen 443 ssl;\n");
  printf("    listen [::]:443 ssl;\n");
  printf("    server_name mta-sts.%s;\n", d);
  printf("    ssl_certificate     /etc/ssl/mta-sts.%s/fullchain.pem;\n", d);
  printf("    ssl_certificate_key /etc/ssl/mta-sts.%s/privkey.pem;\n", d);
  printf("    root /var/www/mta-sts.%s;\n", d);
  printf("\n");
  printf("    location = /.well-known/mta-sts.txt {\n");
  printf("        types { }\n");
  printf("        default_type text/plain;\n");
  printf("    }\n");
  printf("    location / {\n");
  printf("        return 404;\n");
  printf("    }\n");
  printf("}\n");
}

static void init_state_free(struct init_state *s) {
  size_t i;

  for (i = 0; i < s->nmx; i++) {
    free(s->mx[i]);
  }
  for (i = 0; i < s->nrua; i++) {
    free(s->rua[i]);
  }
  for (i = 0; i < s->ndns_mx; i++) {
    free(s->dns_mx[i]);
  }
}

/* "v=TLSRPTv1; rua=u1,u2" (RFC 8460 3), malloc'd. */
static char *build_rpt(const struct init_state *s) {
  static const char head[] = "v=TLSRPTv1; rua=";
  size_t i, n = sizeof(head), off = sizeof(head) - 1;
  char *out;

  for (i = 0; i < s->nrua; i++) {
    n += strlen(s->rua[i]) + 1;
  }
  out = malloc(n);
  if (out == NULL) {
    return NULL;
  }
  memcpy(out, head, off);
  for (i = 0; i < s->nrua; i++) {
    size_t k = strlen(s->rua[i]);

    if (i > 0) {
      out[off++] = ',';
    }
    memcpy(out + off, s->rua[i], k);
    off += k;
  }
  out[off] = '\0';
  return out;
}

int cmd_init(int argc, char **argv) {
  struct init_opts o;
  struct init_state s;
  struct mts_sts_policy_fields f;
  struct mts_sts_policy *p = NULL;
  struct mts_ctx *ctx = NULL;
  char id[MTS_STS_POLICY_WRITE_ID_BUFSIZE];
  char *body = NULL, *rpt = NULL;
  size_t len = 0, i;
  int rc = CLI_EX_USAGE;

  memset(&s, 0, sizeof(s));
  if (!init_parse_args(argc, argv, &o)) {
    goto done;
  }
  if (mts_idn_to_ascii(o.domain, strlen(o.domain), s.domain,
                       sizeof(s.domain)) != MTS_OK ||
      strlen(s.domain) + sizeof("_smtp._tls.") > MTS_DOMAIN_MAX ||
      strchr(s.domain, '.') == NULL) {
    cli_err("init: '%s' is not a domain name that can publish MTA-STS",
            o.domain);
    goto done;
  }
  s.mode = MTS_STS_MODE_TESTING; /* RFC 8461 5: start in testing */
  if (o.mode != NULL) {
    if (strcmp(o.mode, "testing") == 0) {
      s.mode = MTS_STS_MODE_TESTING;
    } else if (strcmp(o.mode, "enforce") == 0) {
      s.mode = MTS_STS_MODE_ENFORCE;
    } else if (strcmp(o.mode, "none") == 0) {
      s.mode = MTS_STS_MODE_NONE;
    } else {
      cli_err("init: --mode is testing, enforce or none, not '%s'", o.mode);
      goto done;
    }
  }
  s.max_age = s.mode == MTS_STS_MODE_NONE ? INIT_DEFAULT_MAX_AGE_NONE
                                          : INIT_DEFAULT_MAX_AGE;
  if (o.max_age != NULL && !parse_max_age(o.max_age, &s.max_age)) {
    cli_err("init: --max-age is 0 to 31557600 seconds (or with a unit s, "
            "m, h, d, w), not '%s'",
            o.max_age);
    goto done;
  }
  rc = 2;
  for (i = 0; i < o.nmx; i++) {
    char *pat = normalize_pattern(o.mx[i]);

    if (pat == NULL || !add_pattern(&s, pat)) {
      goto done;
    }
  }
  ctx = cli_ctx();
  if (ctx == NULL) {
    rc = CLI_EX_SOFTWARE;
    goto done;
  }
  if (o.from_dns) {
    rc = lookup_mx(&o, &s, ctx);
    if (rc != 0) {
      goto done;
    }
    rc = 2;
    for (i = 0; i < s.ndns_mx; i++) {
      char *pat;

      pat = normalize_pattern(s.dns_mx[i]);
      if (pat == NULL || !add_pattern(&s, pat)) {
        goto done;
      }
    }
  }
  for (i = 0; i < s.nmx; i++) {
    warn_pattern(s.mx[i]);
  }
  for (i = 0; i < o.nrua; i++) {
    s.rua[i] = normalize_rua(o.rua[i]);
    if (s.rua[i] == NULL) {
      rc = CLI_EX_SOFTWARE;
      goto done;
    }
    s.nrua++;
  }
  if (s.nrua > 0) {
    rpt = build_rpt(&s);
    if (rpt == NULL) {
      rc = CLI_EX_SOFTWARE;
      goto done;
    }
    rc = rpt_record_check(ctx, rpt);
    if (rc != 0) {
      goto done;
    }
  }

  /* The policy, checked back with the parser. */
  f.mode = s.mode;
  f.max_age = s.max_age;
  f.mx = (const char *const *)s.mx;
  f.mx_count = s.nmx;
  rc = CLI_EX_SOFTWARE;
  if (mts_sts_policy_write(&f, NULL, 0, &len) != MTS_ETOOBIG ||
      (body = malloc(len + 1)) == NULL ||
      mts_sts_policy_write(&f, body, len + 1, &len) != MTS_OK ||
      mts_sts_policy_parse(ctx, (const uint8_t *)body, len, &p) != MTS_OK ||
      !mts_sts_policy_valid(p) ||
      mts_sts_policy_write_id((const uint8_t *)body, len, id) != MTS_OK) {
    cli_err("init: internal error: cannot produce a valid policy");
    goto done;
  }
  {
    char txt[64];

    (void)snprintf(txt, sizeof(txt), "v=STSv1; id=%s;", id);
    if (!sts_record_ok(ctx, txt)) {
      cli_err("init: internal error: the _mta-sts record is not valid");
      goto done;
    }
  }
  if (o.output == NULL) {
    o.output = INIT_DEFAULT_OUTPUT;
  }
  rc = write_policy_file(o.output, o.force, body, len);
  if (rc != 0) {
    goto done;
  }
  print_publish(&s, o.output, id, rpt);
  rc = CLI_EX_OK;
done:
  mts_sts_policy_destroy(p);
  mts_ctx_destroy(ctx);
  init_state_free(&s);
  free(body);
  free(rpt);
  return rc;
}

/* `mtasts policy id FILE|-` */
int cmd_policy(int argc, char **argv) {
  const char **pos = calloc((size_t)argc + 1, sizeof(*pos));
  char id[MTS_STS_POLICY_WRITE_ID_BUFSIZE];
  struct mts_sts_policy *p = NULL;
  struct mts_ctx *ctx = NULL;
  struct cli_args a;
  uint8_t *body = NULL;
  size_t len = 0;
  int rc = CLI_EX_USAGE;

  if (pos == NULL) {
    cli_err("out of memory");
    return CLI_EX_SOFTWARE;
  }
  if (!cli_parse_args("policy", argc, argv, 0, &a, pos)) {
    goto done;
  }
  if (a.npos < 1 || strcmp(a.pos[0], "id") != 0 || a.npos > 2) {
    cli_err("usage: mtasts policy id [FILE|-]");
    goto done;
  }
  if (cli_read_file(a.npos == 2 ? a.pos[1] : "-", MTS_POLICY_MAX_SIZE, &body,
                    &len) != 0) {
    rc = CLI_EX_NOINPUT;
    goto done;
  }
  rc = CLI_EX_SOFTWARE;
  ctx = cli_ctx();
  if (ctx == NULL || mts_sts_policy_parse(ctx, body, len, &p) != MTS_OK ||
      mts_sts_policy_write_id(body, len, id) != MTS_OK) {
    cli_err("policy id: internal error");
    goto done;
  }
  printf("%s\n", id);
  if (mts_sts_policy_valid(p)) {
    rc = 0;
  } else if (mts_sts_policy_usable(p)) {
    cli_err("policy id: warning: the policy deviates from RFC 8461 3.2 "
            "(see `mtasts lint policy`)");
    rc = 1;
  } else {
    cli_err("policy id: the policy is invalid; senders will not apply it "
            "(see `mtasts lint policy`)");
    rc = 2;
  }
done:
  mts_sts_policy_destroy(p);
  mts_ctx_destroy(ctx);
  free(body);
  free(pos);
  return rc;
}
