/*
 * cli.c - argument parsing and output helpers shared by the commands.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

/* The length of the character at \p s (1 for a byte that is not
 * UTF-8); *keep says whether cli_safe_* copies it or writes one '?'. */
static size_t safe_len(const unsigned char *s, bool *keep) {
  uint32_t cp;
  size_t n, i;

  *keep = false;
  if (s[0] < 0x80) {
    *keep = s[0] >= 0x20 && s[0] != 0x7f;
    return 1;
  }
  n = s[0] >= 0xc2 && s[0] <= 0xdf   ? 2
      : s[0] >= 0xe0 && s[0] <= 0xef ? 3
      : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4
                                     : 0;
  if (n == 0) {
    return 1;
  }
  cp = s[0] & (0x7fu >> n);
  for (i = 1; i < n; i++) {
    if ((s[i] & 0xc0u) != 0x80u) {
      return 1;
    }
    cp = cp << 6 | (s[i] & 0x3fu);
  }
  if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
      (n == 4 && (cp < 0x10000 || cp > 0x10ffff))) {
    return 1; /* overlong forms and surrogates are not UTF-8 */
  }
  *keep = cp >= 0xa0; /* U+0080..U+009F: the C1 controls */
  return n;
}

char *cli_safe_dup(const char *s) {
  const unsigned char *p = (const unsigned char *)(s != NULL ? s : "");
  char *d = malloc(strlen((const char *)p) + 1), *o = d;

  if (d == NULL) {
    return NULL;
  }
  while (*p != '\0') {
    bool keep;
    size_t n = safe_len(p, &keep);

    if (keep) {
      memcpy(o, p, n);
      o += n;
    } else {
      *o++ = '?';
    }
    p += n;
  }
  *o = '\0';
  return d;
}

void cli_print_safe(FILE *out, const char *s) {
  char *d = cli_safe_dup(s);

  fputs(d != NULL ? d : "(out of memory)", out);
  free(d);
}

void cli_err(const char *fmt, ...) {
  char buf[4096];
  va_list ap;

  va_start(ap, fmt);
  (void)vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  fputs("mtasts: ", stderr);
  cli_print_safe(stderr, buf);
  fputc('\n', stderr);
}

/* Match "--name" or "--name=value"; *val is set for the latter. */
static bool opt_is(const char *arg, const char *name, const char **val) {
  size_t n = strlen(name);

  if (strncmp(arg, name, n) != 0) {
    return false;
  }
  if (arg[n] == '\0') {
    *val = NULL;
    return true;
  }
  if (arg[n] == '=') {
    *val = arg + n + 1;
    return true;
  }
  return false;
}

static bool parse_timeout(const char *s, unsigned *out) {
  char *end = NULL;
  unsigned long v;

  errno = 0;
  if (s == NULL || s[0] < '0' || s[0] > '9') {
    return false;
  }
  v = strtoul(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v < 1 || v > 3600) {
    return false;
  }
  *out = (unsigned)v;
  return true;
}

bool cli_parse_args(const char *cmd, int argc, char **argv, unsigned allowed,
                    struct cli_args *out, const char **pos) {
  bool opts_done = false;
  int i;

  memset(out, 0, sizeof(*out));
  out->pos = pos;
  for (i = 0; i < argc; i++) {
    const char *a = argv[i];
    const char *val = NULL;

    if (opts_done || a[0] != '-' || strcmp(a, "-") == 0) {
      pos[out->npos++] = a;
      continue;
    }
    if (strcmp(a, "--") == 0) {
      opts_done = true;
      continue;
    }
    if ((allowed & CLI_OPT_JSON) && strcmp(a, "--json") == 0) {
      out->opts.json = true;
      continue;
    }
    if ((allowed & CLI_OPT_NET) &&
        (opt_is(a, "--resolver", &val) || opt_is(a, "--ca-file", &val) ||
         opt_is(a, "--timeout", &val))) {
      const char *name = a;

      if (val == NULL) {
        if (i + 1 >= argc) {
          cli_err("%s: option %s needs a value", cmd, a);
          return false;
        }
        val = argv[++i];
      }
      if (strncmp(name, "--resolver", 10) == 0) {
        out->opts.resolver = val;
      } else if (strncmp(name, "--ca-file", 9) == 0) {
        out->opts.ca_file = val;
      } else if (!parse_timeout(val, &out->opts.timeout_s)) {
        cli_err("%s: --timeout wants whole seconds from 1 to 3600, not '%s'",
                cmd, val);
        return false;
      }
      continue;
    }
    cli_err("%s: unknown option '%s'", cmd, a);
    return false;
  }
  return true;
}

struct mts_ctx *cli_ctx(void) {
  struct mts_ctx *ctx = NULL;

  if (mts_ctx_create(NULL, &ctx) != MTS_OK) {
    cli_err("out of memory");
    return NULL;
  }
  return ctx;
}

json_t *cli_findings_json(const struct mts_findings *f) {
  json_t *arr = json_array();
  size_t i, n = mts_findings_count(f);

  for (i = 0; i < n; i++) {
    const struct mts_finding *fi = mts_findings_get(f, i);
    json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:I}", "code", fi->code,
                          "severity", mts_severity_str(fi->severity),
                          "message", fi->message, "line", (json_int_t)fi->line,
                          "col", (json_int_t)fi->col);

    if (o != NULL) {
      json_array_append_new(arr, o);
    }
  }
  return arr;
}

void cli_findings_print(FILE *out, const struct mts_findings *f,
                        const char *indent, const char *unit) {
  size_t i, n = mts_findings_count(f);

  for (i = 0; i < n; i++) {
    const struct mts_finding *fi = mts_findings_get(f, i);

    if (fi->line > 0) {
      fprintf(out, "%s%-7s %s (%s %u, col %u): %s\n", indent,
              mts_severity_str(fi->severity), fi->code, unit,
              (unsigned)fi->line, (unsigned)fi->col, fi->message);
    } else if (fi->col > 0) {
      fprintf(out, "%s%-7s %s (col %u): %s\n", indent,
              mts_severity_str(fi->severity), fi->code, (unsigned)fi->col,
              fi->message);
    } else {
      fprintf(out, "%s%-7s %s: %s\n", indent, mts_severity_str(fi->severity),
              fi->code, fi->message);
    }
  }
}

char *cli_printable(const uint8_t *s, size_t len) {
  char *out;
  size_t i, o = 0;

  if (len > (SIZE_MAX - 1) / 4) {
    return NULL;
  }
  out = malloc(len * 4 + 1);
  if (out == NULL) {
    return NULL;
  }
  for (i = 0; i < len; i++) {
    if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\\') {
      out[o++] = (char)s[i];
    } else {
      out[o++] = '\\';
      out[o++] = (char)('0' + s[i] / 100);
      out[o++] = (char)('0' + s[i] / 10 % 10);
      out[o++] = (char)('0' + s[i] % 10);
    }
  }
  out[o] = '\0';
  return out;
}

void cli_json_print(json_t *j) {
  if (j == NULL) {
    cli_err("out of memory");
    return;
  }
  json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
  fputc('\n', stdout);
  json_decref(j);
}

int cli_read_file(const char *path, size_t max, uint8_t **data, size_t *len) {
  FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
  uint8_t *buf;
  size_t n = 0;

  *data = NULL;
  *len = 0;
  if (f == NULL) {
    cli_err("%s: %s", path, strerror(errno));
    return -1;
  }
  buf = malloc(max + 1);
  if (buf == NULL) {
    cli_err("out of memory");
    if (f != stdin) {
      fclose(f);
    }
    return -1;
  }
  /* Read one byte more than the limit so the parser can see "too big". */
  while (n < max + 1) {
    size_t r = fread(buf + n, 1, max + 1 - n, f);

    if (r == 0) {
      break;
    }
    n += r;
  }
  if (ferror(f)) {
    cli_err("%s: read error", path);
    free(buf);
    if (f != stdin) {
      fclose(f);
    }
    return -1;
  }
  if (f != stdin) {
    fclose(f);
  }
  *data = buf;
  *len = n;
  return 0;
}

const char *cli_report_db(const char *opt) {
  const char *env = getenv("MTASTS_REPORT_DB");

  if (opt != NULL) {
    return opt;
  }
  return env != NULL && env[0] != '\0' ? env : "tlsrpt.db";
}

static void cli_report_log(void *arg, enum mts_log_level level,
                           const char *msg) {
  (void)arg;
  cli_err("%s%s", level == MTS_LOG_WARNING ? "warning: " : "", msg);
}

int cli_report_open(const char *cmd, const char *db, struct mts_ctx **ctx,
                    struct mts_rpt_store **st) {
  struct stat sb;

  *ctx = NULL;
  *st = NULL;
  if (stat(db, &sb) != 0) {
    cli_err("report %s: %s: %s (ingest reports first, or give --db)", cmd,
            db, strerror(errno));
    return CLI_EX_NOINPUT;
  }
  *ctx = cli_ctx();
  if (*ctx == NULL) {
    return CLI_EX_SOFTWARE;
  }
  mts_ctx_set_log(*ctx, cli_report_log, NULL, MTS_LOG_WARNING);
  if (mts_rpt_store_open(*ctx, db, st) != MTS_OK) {
    cli_err("report %s: cannot use the report store %s", cmd, db);
    return CLI_EX_STORE;
  }
  return 0;
}
