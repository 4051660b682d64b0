/*
 * config.c - read mtastsd.yml, the configuration file of
 * postfix-mta-sts-resolver (mta-sts-daemon.yml(5)) plus mtastsd's keys.
 *
 * Every key is one row of a declarative table (struct key): name, type,
 * storage offset, default (as YAML text), range, flags. The same rows
 * apply the defaults, validate the file and write the defaults table of
 * mtastsd.yml(5) (mtastsd_config_write_defaults_man), so the three
 * cannot drift apart.
 *
 * YAML is read with libyaml's document API (node marks give the line
 * numbers). Scalars are resolved the way the peer's PyYAML safe_load
 * resolves them (YAML 1.1): only plain scalars are implicitly typed;
 * `0666` is octal, `1:30` is sexagesimal 90, `yes`/`On`/`FALSE` are
 * booleans, `1e3` is a string. Every problem is reported as
 * "file:line: message" and parsing goes on, so the user sees all of
 * them at once (OpenSMTPD yyerror); then NULL is returned.
 * Decisions: docs/decisions.md. Tests: test_mtastsd_config.c.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#include <mtasts/idn.h>
#include <mtasts/limits.h>
#include <mtasts/socketmap.h>

/* ---- limits ---- */
#define CFG_STR_MAX 4096      /* any string value */
#define CFG_UNIX_PATH_MAX 107 /* sizeof(sun_path) - 1 on Linux */
#define CFG_ACCOUNT_MAX 256   /* owner/group: a name or a number */
#define CFG_ANSWER_MAX 2000   /* an override's OK payload */
#define CFG_SHOW_MAX 60       /* echoed input in a message */
#define CFG_PATH_MAX 160      /* dotted key path in a message */
#define CFG_MAX_ERRORS 100    /* then "too many errors" and stop */

#define YTAG_PREFIX "tag:yaml.org,2002:"

_Static_assert(sizeof(enum mtastsd_cache_type) == sizeof(int),
               "enum keys are stored as int");
_Static_assert(sizeof(enum mtastsd_tempfail) == sizeof(int),
               "enum keys are stored as int");

/* ---- the table ---- */

enum ktype {
  K_STR,       /* string; def NULL: optional, unset by default */
  K_BOOL,      /* YAML 1.1 boolean */
  K_UINT,      /* unsigned integer of `width` bytes, min..max */
  K_NUM,       /* double (integer or float), dmin..dmax */
  K_MODE,      /* int permission bits 0..0777, -1 unset */
  K_ENUM,      /* one of `names`, stored as int */
  K_SEQ,       /* a non-empty sequence, not stored */
  K_SECTION,   /* a mapping of `sub` keys at base + off */
  K_CACHE,     /* cache: {type, options} (options depend on type) */
  K_ZONES,     /* zones: NAME -> zone mapping */
  K_OVERRIDES, /* overrides: DOMAIN -> "none" | OK payload */
};

enum kcheck {
  C_NONE,
  C_HOST,      /* non-empty, no blanks */
  C_UNIX_PATH, /* fits in sun_path */
  C_ACCOUNT,   /* user or group name or number */
  C_HOSTPORT,  /* HOST:PORT or [V6]:PORT */
  C_RESOLVER,  /* IP, IP:PORT, [V6]:PORT */
  C_REDIS_URL, /* redis://, unix:/path, unix:///path */
};

#define F_REQUIRED 1u /* must be present */
#define F_IGNORED 2u  /* accepted for compatibility, checked, unused */
#define F_MTASTSD 4u  /* mtastsd's own key (the peer has none such) */

#define NOOFF ((size_t)-1)

struct key {
  const char *name;
  enum ktype type;
  size_t off;               /* from the section base; NOOFF: not stored */
  size_t width;             /* K_UINT: field size */
  long long min, max;       /* K_UINT, K_MODE */
  double dmin, dmax;        /* K_NUM */
  const char *def;          /* the default as YAML text; NULL: unset */
  const char *const *names; /* K_ENUM, NULL-terminated */
  const struct key *sub;    /* K_SECTION, K_CACHE, K_ZONES */
  enum kcheck check;
  unsigned flags;
  const char *note; /* man table note (the cache type, ...) */
};

#define CFG(f) offsetof(struct mtastsd_config, f)
#define UINTF(s, f) .off = offsetof(s, f), .width = sizeof(((s *)0)->f)

static const char *const cache_type_names[] = {
    "internal", "sqlite", "redis", "redis_sentinel", "postgres", NULL};
static const char *const tempfail_names[] = {"notfound", "temp", NULL};
static const char *const wildcard_names[] = {"expand", "postfix", NULL};

/* Postfix TLS security levels an override may answer (postconf(5),
 * smtp_tls_policy_maps); "none" alone means NOTFOUND instead. */
static const char *const tls_levels[] = {"may",       "encrypt",     "dane",
                                         "dane-only", "fingerprint", "verify",
                                         "secure",    NULL};

static const struct key zone_keys[] = {
    {.name = "timeout",
     .type = K_UINT,
     UINTF(struct mtastsd_zone, timeout),
     .min = 1,
     .max = 3600,
     .def = "4"},
    {.name = "strict_testing",
     .type = K_BOOL,
     .off = offsetof(struct mtastsd_zone, strict_testing),
     .def = "false"},
    {.name = "require_sni",
     .type = K_BOOL,
     .off = offsetof(struct mtastsd_zone, require_sni),
     .def = "true"},
    {.name = "tlsrpt",
     .type = K_BOOL,
     .off = offsetof(struct mtastsd_zone, tlsrpt),
     .def = "false"},
    {.name = NULL},
};

static const struct key refresh_keys[] = {
    {.name = "enabled",
     .type = K_BOOL,
     .off = CFG(refresh_enabled),
     .def = "false"},
    {.name = "interval",
     .type = K_UINT,
     UINTF(struct mtastsd_config, refresh_interval),
     .min = 1,
     .max = MTS_STS_MAX_AGE_MAX,
     .def = "86400"},
    {.name = "concurrency_limit",
     .type = K_UINT,
     UINTF(struct mtastsd_config, refresh_concurrency),
     .min = 1,
     .max = 10000,
     .def = "100"},
    {.name = "grace_ratio",
     .type = K_NUM,
     .off = CFG(refresh_grace_ratio),
     .dmin = 0.01,
     .dmax = 1000.0,
     .def = "2.0"},
    {.name = NULL},
};

static const struct key internal_keys[] = {
    {.name = "cache_size",
     .type = K_UINT,
     UINTF(struct mtastsd_config, cache_size),
     .min = 1,
     .max = 10000000,
     .def = "10000",
     .note = "internal"},
    {.name = NULL},
};

static const struct key sqlite_keys[] = {
    {.name = "filename",
     .type = K_STR,
     .off = CFG(sqlite_filename),
     .flags = F_REQUIRED,
     .note = "sqlite"},
    {.name = "threads",
     .type = K_UINT,
     .off = NOOFF,
     .min = 1,
     .max = 1024,
     .flags = F_IGNORED,
     .note = "sqlite"},
    {.name = "timeout",
     .type = K_UINT,
     .off = NOOFF,
     .min = 1,
     .max = 3600,
     .def = "5",
     .flags = F_IGNORED,
     .note = "sqlite"},
    {.name = NULL},
};

static const struct key redis_keys[] = {
    {.name = "url",
     .type = K_STR,
     .off = CFG(redis_url),
     .check = C_REDIS_URL,
     .flags = F_REQUIRED,
     .note = "redis"},
    {.name = "prefix",
     .type = K_STR,
     .off = CFG(redis_prefix),
     .def = "mtasts:",
     .flags = F_MTASTSD,
     .note = "redis"},
    {.name = "socket_timeout",
     .type = K_NUM,
     .off = CFG(redis_socket_timeout),
     .dmin = 0.001,
     .dmax = 3600.0,
     .def = "5",
     .note = "redis"},
    {.name = "socket_connect_timeout",
     .type = K_NUM,
     .off = CFG(redis_connect_timeout),
     .dmin = 0.001,
     .dmax = 3600.0,
     .def = "5",
     .note = "redis"},
    {.name = NULL},
};

static const struct key sentinel_keys[] = {
    {.name = "sentinels",
     .type = K_SEQ,
     .off = NOOFF,
     .flags = F_REQUIRED,
     .note = "redis_sentinel"},
    {.name = "sentinel_master_name",
     .type = K_STR,
     .off = NOOFF,
     .flags = F_REQUIRED,
     .note = "redis_sentinel"},
    {.name = "socket_timeout",
     .type = K_NUM,
     .off = NOOFF,
     .dmin = 0.001,
     .dmax = 3600.0,
     .def = "5",
     .note = "redis_sentinel"},
    {.name = "socket_connect_timeout",
     .type = K_NUM,
     .off = NOOFF,
     .dmin = 0.001,
     .dmax = 3600.0,
     .def = "5",
     .note = "redis_sentinel"},
    {.name = NULL},
};

static const struct key postgres_keys[] = {
    {.name = "dsn",
     .type = K_STR,
     .off = NOOFF,
     .flags = F_REQUIRED,
     .note = "postgres"},
    {.name = "timeout",
     .type = K_NUM,
     .off = NOOFF,
     .dmin = 0.001,
     .dmax = 3600.0,
     .def = "5",
     .note = "postgres"},
    {.name = NULL},
};

/* Indexed by enum mtastsd_cache_type. */
static const struct key *const cache_options[] = {
    internal_keys, sqlite_keys, redis_keys, sentinel_keys, postgres_keys};

static const struct key cache_keys[] = {
    {.name = "type",
     .type = K_ENUM,
     .off = CFG(cache_type),
     .names = cache_type_names,
     .def = "internal"},
    {.name = "options", .type = K_SECTION, .off = 0},
    {.name = NULL},
};

static const struct key top_keys[] = {
    {.name = "host",
     .type = K_STR,
     .off = CFG(host),
     .def = "127.0.0.1",
     .check = C_HOST},
    {.name = "port",
     .type = K_UINT,
     UINTF(struct mtastsd_config, port),
     .min = 1,
     .max = 65535,
     .def = "8461"},
    {.name = "path",
     .type = K_STR,
     .off = CFG(unix_path),
     .check = C_UNIX_PATH},
    {.name = "mode",
     .type = K_MODE,
     .off = CFG(unix_mode),
     .min = 0,
     .max = 0777},
    {.name = "owner",
     .type = K_STR,
     .off = CFG(unix_owner),
     .check = C_ACCOUNT,
     .flags = F_MTASTSD},
    {.name = "group",
     .type = K_STR,
     .off = CFG(unix_group),
     .check = C_ACCOUNT,
     .flags = F_MTASTSD},
    {.name = "reuse_port",
     .type = K_BOOL,
     .off = CFG(reuse_port),
     .def = "true"},
    {.name = "shutdown_timeout",
     .type = K_UINT,
     UINTF(struct mtastsd_config, shutdown_timeout),
     .min = 0,
     .max = 3600,
     .def = "20"},
    {.name = "cache_grace",
     .type = K_UINT,
     UINTF(struct mtastsd_config, cache_grace),
     .min = 0,
     .max = MTS_STS_MAX_AGE_MAX,
     .def = "60"},
    {.name = "proactive_policy_fetching",
     .type = K_SECTION,
     .off = 0,
     .sub = refresh_keys},
    {.name = "cache", .type = K_CACHE, .off = 0, .sub = cache_keys},
    {.name = "default_zone",
     .type = K_SECTION,
     .off = CFG(default_zone),
     .sub = zone_keys},
    {.name = "zones", .type = K_ZONES, .off = NOOFF, .sub = zone_keys},
    {.name = "resolver",
     .type = K_STR,
     .off = CFG(resolver),
     .check = C_RESOLVER,
     .flags = F_MTASTSD},
    {.name = "ca_file", .type = K_STR, .off = CFG(ca_file), .flags = F_MTASTSD},
    {.name = "negative_ttl",
     .type = K_UINT,
     UINTF(struct mtastsd_config, negative_ttl),
     .min = 0,
     .max = 86400,
     .def = "60",
     .flags = F_MTASTSD},
    {.name = "on_tempfail",
     .type = K_ENUM,
     .off = CFG(on_tempfail),
     .names = tempfail_names,
     .def = "notfound",
     .flags = F_MTASTSD},
    {.name = "wildcard_match",
     .type = K_ENUM,
     .off = CFG(wildcard_match),
     .names = wildcard_names,
     .def = "expand",
     .flags = F_MTASTSD},
    {.name = "dane",
     .type = K_BOOL,
     .off = CFG(dane),
     .def = "true",
     .flags = F_MTASTSD},
    {.name = "metrics_listen",
     .type = K_STR,
     .off = CFG(metrics_listen),
     .check = C_HOSTPORT,
     .flags = F_MTASTSD},
    {.name = "control_socket",
     .type = K_STR,
     .off = CFG(control_socket),
     .check = C_UNIX_PATH,
     .flags = F_MTASTSD},
    {.name = "tlsrpt_socket",
     .type = K_STR,
     .off = CFG(tlsrpt_socket),
     .check = C_UNIX_PATH,
     .flags = F_MTASTSD},
    {.name = "overrides",
     .type = K_OVERRIDES,
     .off = NOOFF,
     .flags = F_MTASTSD},
    {.name = NULL},
};

/* ---- parse state ---- */

struct st {
  const char *name; /* file name for messages */
  FILE *errs;       /* NULL: count only */
  const unsigned char *data;
  size_t len;
  struct mts_allocator al;
  yaml_document_t *doc;
  struct mtastsd_config *c;
  unsigned nerr;
  bool oom;
  size_t owner_line, group_line;
};

static void *std_malloc(size_t n, void *arg) {
  (void)arg;
  return malloc(n);
}
static void *std_realloc(void *p, size_t n, void *arg) {
  (void)arg;
  return realloc(p, n);
}
static void std_free(void *p, void *arg) {
  (void)arg;
  free(p);
}

static void *xmalloc(struct st *st, size_t n) {
  void *p = st->al.malloc_fn(n == 0 ? 1 : n, st->al.arg);

  if (p == NULL) {
    st->oom = true;
  }
  return p;
}

static char *xstrndup(struct st *st, const char *s, size_t n) {
  char *p = xmalloc(st, n + 1);

  if (p != NULL) {
    memcpy(p, s, n);
    p[n] = '\0';
  }
  return p;
}

static void xfree(const struct mts_allocator *al, void *p) {
  if (p != NULL) {
    al->free_fn(p, al->arg);
  }
}

__attribute__((format(printf, 3, 4))) static void
err_at(struct st *st, size_t line, const char *fmt, ...) {
  va_list ap;

  st->nerr++;
  if (st->errs == NULL || st->nerr > CFG_MAX_ERRORS + 1) {
    return;
  }
  if (st->nerr == CFG_MAX_ERRORS + 1) {
    fprintf(st->errs, "%s: too many errors, giving up\n", st->name);
    return;
  }
  if (line > 0) {
    fprintf(st->errs, "%s:%zu: ", st->name, line);
  } else {
    fprintf(st->errs, "%s: ", st->name);
  }
  va_start(ap, fmt);
  vfprintf(st->errs, fmt, ap);
  va_end(ap);
  fputc('\n', st->errs);
}

static size_t line_of(const yaml_node_t *n) {
  return n->start_mark.line + 1;
}

/* Give up walking: out of memory, or enough errors reported. */
static bool stop(const struct st *st) {
  return st->oom || st->nerr > CFG_MAX_ERRORS;
}

/* Echo untrusted text safely: printable ASCII as is, the rest as \xNN,
 * cut at CFG_SHOW_MAX octets with "...". */
static const char *show(const char *s, size_t len, char *buf, size_t size) {
  static const char hex[] = "0123456789abcdef";
  size_t i, o = 0;

  for (i = 0; i < len && o + 8 < size; i++) {
    unsigned char ch = (unsigned char)s[i];

    if (i >= CFG_SHOW_MAX) {
      memcpy(buf + o, "...", 3);
      o += 3;
      break;
    }
    if (ch >= 0x20 && ch < 0x7f && ch != '\\' && ch != '\'') {
      buf[o++] = (char)ch;
    } else {
      buf[o++] = '\\';
      buf[o++] = 'x';
      buf[o++] = hex[ch >> 4];
      buf[o++] = hex[ch & 15];
    }
  }
  buf[o] = '\0';
  return buf;
}

#define SHOWBUF (CFG_SHOW_MAX * 4 + 16)

static bool seq(const char *s, size_t len, const char *lit) {
  return strlen(lit) == len && memcmp(s, lit, len) == 0;
}

static bool is_digit(unsigned char c) {
  return c >= '0' && c <= '9';
}

/* ---- "did you mean": optimal string alignment distance ---- */

static size_t edit_distance(const char *a, size_t al, const char *b,
                            size_t bl) {
  size_t d[CFG_SHOW_MAX + 1][CFG_SHOW_MAX + 1];
  size_t i, j;

  if (al > CFG_SHOW_MAX || bl > CFG_SHOW_MAX) {
    return SIZE_MAX;
  }
  for (i = 0; i <= al; i++) {
    d[i][0] = i;
  }
  for (j = 0; j <= bl; j++) {
    d[0][j] = j;
  }
  for (i = 1; i <= al; i++) {
    for (j = 1; j <= bl; j++) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      size_t v = d[i - 1][j] + 1;

      if (d[i][j - 1] + 1 < v) {
        v = d[i][j - 1] + 1;
      }
      if (d[i - 1][j - 1] + cost < v) {
        v = d[i - 1][j - 1] + cost;
      }
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
          d[i - 2][j - 2] + 1 < v) {
        v = d[i - 2][j - 2] + 1;
      }
      d[i][j] = v;
    }
  }
  return d[al][bl];
}

/* The candidate nearest to s, if near enough to be a typo. */
static const char *nearest(const char *s, size_t len, const struct key *keys,
                           const char *const *names) {
  const char *best = NULL;
  size_t bestd = SIZE_MAX, i;

  for (i = 0;; i++) {
    const char *cand = keys != NULL ? keys[i].name : names[i];
    size_t cl, d, limit;

    if (cand == NULL) {
      break;
    }
    cl = strlen(cand);
    d = edit_distance(s, len, cand, cl);
    limit = cl <= 4 ? 1 : 2;
    if (d <= limit && d < cl && d < bestd) {
      best = cand;
      bestd = d;
    }
  }
  return best;
}

/* ---- YAML 1.1 scalar resolution (PyYAML's implicit resolvers) ---- */

enum ykind { Y_NULL, Y_BOOL, Y_INT, Y_BADINT, Y_FLOAT, Y_STR };

struct yval {
  enum ykind kind;
  bool quoted; /* a non-plain scalar: always a string */
  bool b;
  long long i;
  bool ovf; /* Y_INT out of long long */
  double d;
  bool octal_looking; /* decimal integer of octal digits, >= 8 */
  const char *s;
  size_t len;
};

static bool yaml_is_null(const char *s, size_t n) {
  return n == 0 || seq(s, n, "~") || seq(s, n, "null") || seq(s, n, "Null") ||
         seq(s, n, "NULL");
}

static int yaml_bool(const char *s, size_t n) {
  static const char *const t[] = {"yes",  "Yes", "YES", "true", "True",
                                  "TRUE", "on",  "On",  "ON",   NULL};
  static const char *const f[] = {"no",    "No",  "NO",  "false", "False",
                                  "FALSE", "off", "Off", "OFF",   NULL};
  size_t i;

  for (i = 0; t[i] != NULL; i++) {
    if (seq(s, n, t[i])) {
      return 1;
    }
  }
  for (i = 0; f[i] != NULL; i++) {
    if (seq(s, n, f[i])) {
      return 0;
    }
  }
  return -1;
}

static bool all_in(const char *s, size_t n, const char *set) {
  size_t i;

  for (i = 0; i < n; i++) {
    if (s[i] == '\0' || strchr(set, s[i]) == NULL) {
      return false;
    }
  }
  return true;
}

/* Does s match PyYAML's int regexp (sign already removed)? */
static bool int_syntax(const char *s, size_t n) {
  size_t i;

  if (n == 0) {
    return false;
  }
  if (n > 2 && s[0] == '0' && s[1] == 'b') {
    return all_in(s + 2, n - 2, "01_");
  }
  if (n > 2 && s[0] == '0' && s[1] == 'x') {
    return all_in(s + 2, n - 2, "0123456789abcdefABCDEF_");
  }
  if (s[0] == '0') {
    return n == 1 || all_in(s + 1, n - 1, "01234567_");
  }
  if (s[0] < '1' || s[0] > '9') {
    return false;
  }
  for (i = 1; i < n && (is_digit((unsigned char)s[i]) || s[i] == '_'); i++) {
  }
  if (i == n) {
    return true;
  }
  /* sexagesimal: [1-9][0-9_]*(:[0-5]?[0-9])+ */
  while (i < n) {
    if (s[i] != ':') {
      return false;
    }
    i++;
    if (i + 1 < n && s[i] >= '0' && s[i] <= '5' &&
        is_digit((unsigned char)s[i + 1])) {
      i += 2;
    } else if (i < n && is_digit((unsigned char)s[i])) {
      i++;
    } else {
      return false;
    }
  }
  return true;
}

static bool acc(unsigned long long *v, unsigned base, unsigned digit) {
  if (*v > (ULLONG_MAX - digit) / base) {
    return false;
  }
  *v = *v * base + digit;
  return true;
}

static unsigned hexval(char c) {
  if (c >= '0' && c <= '9') {
    return (unsigned)(c - '0');
  }
  if (c >= 'a' && c <= 'f') {
    return (unsigned)(c - 'a' + 10);
  }
  return (unsigned)(c - 'A' + 10);
}

/* PyYAML construct_yaml_int on a string int_syntax() accepted. */
static void int_value(const char *s, size_t n, bool neg, struct yval *v) {
  char buf[CFG_STR_MAX];
  size_t i, m = 0, start = 0;
  unsigned base = 10;
  unsigned long long u = 0, part = 0;
  bool ok = true;

  for (i = 0; i < n && m < sizeof(buf); i++) {
    if (s[i] != '_') {
      buf[m++] = s[i];
    }
  }
  v->kind = Y_INT;
  if (m >= 2 && buf[0] == '0' && (buf[1] == 'b' || buf[1] == 'x')) {
    base = buf[1] == 'b' ? 2 : 16;
    start = 2;
    if (m == 2) { /* "0b_": Python's int('', 2) raises */
      v->kind = Y_BADINT;
      return;
    }
  } else if (m >= 1 && buf[0] == '0') {
    base = 8;
  } else if (memchr(buf, ':', m) != NULL) {
    /* sexagesimal: ((p0 * 60) + p1) * 60 + ... (PyYAML) */
    for (i = 0; i < m && ok; i++) {
      if (buf[i] == ':') {
        ok = u <= (ULLONG_MAX - part) / 60;
        u = ok ? u * 60 + part : u;
        part = 0;
      } else {
        ok = acc(&part, 10, (unsigned)(buf[i] - '0'));
      }
    }
    ok = ok && u <= (ULLONG_MAX - part) / 60;
    if (ok) {
      u = u * 60 + part;
    }
    goto out;
  }
  for (i = start; i < m && ok; i++) {
    ok = acc(&u, base, hexval(buf[i]));
  }
out:
  if (!ok || u > (unsigned long long)LLONG_MAX) {
    v->ovf = true;
    v->i = neg ? LLONG_MIN : LLONG_MAX;
    return;
  }
  v->i = neg ? -(long long)u : (long long)u;
  if (base == 10 && !neg && u >= 8 && memchr(buf, ':', m) == NULL &&
      all_in(buf, m, "01234567")) {
    v->octal_looking = true;
  }
}

/* Does s match PyYAML's float regexp? (whole string, sign included) */
static bool float_syntax(const char *s, size_t n) {
  size_t i = 0;
  bool sign = n > 0 && (s[0] == '+' || s[0] == '-');

  if (sign) {
    i = 1;
  }
  if (seq(s + i, n - i, ".inf") || seq(s + i, n - i, ".Inf") ||
      seq(s + i, n - i, ".INF")) {
    return true;
  }
  if (seq(s, n, ".nan") || seq(s, n, ".NaN") || seq(s, n, ".NAN")) {
    return true;
  }
  if (i < n && s[i] == '.') { /* \.[0-9][0-9_]* exp?, no sign allowed */
    if (sign) {
      return false;
    }
    i++;
    if (i >= n || !is_digit((unsigned char)s[i])) {
      return false;
    }
    while (i < n && (is_digit((unsigned char)s[i]) || s[i] == '_')) {
      i++;
    }
  } else {
    if (i >= n || !is_digit((unsigned char)s[i])) {
      return false;
    }
    i++;
    while (i < n && (is_digit((unsigned char)s[i]) || s[i] == '_')) {
      i++;
    }
    if (i < n && s[i] == ':') { /* sexagesimal float, no exponent */
      while (i < n && s[i] == ':') {
        i++;
        if (i + 1 < n && s[i] >= '0' && s[i] <= '5' &&
            is_digit((unsigned char)s[i + 1])) {
          i += 2;
        } else if (i < n && is_digit((unsigned char)s[i])) {
          i++;
        } else {
          return false;
        }
      }
      if (i >= n || s[i] != '.') {
        return false;
      }
      i++;
      return all_in(s + i, n - i, "0123456789_");
    }
    if (i >= n || s[i] != '.') {
      return false;
    }
    i++;
    while (i < n && (is_digit((unsigned char)s[i]) || s[i] == '_')) {
      i++;
    }
  }
  if (i == n) {
    return true;
  }
  if (s[i] != 'e' && s[i] != 'E') {
    return false;
  }
  i++;
  if (i >= n || (s[i] != '+' && s[i] != '-')) {
    return false;
  }
  i++;
  return i < n && all_in(s + i, n - i, "0123456789");
}

/* Locale-free decimal conversion of a float_syntax() string. */
static double float_value(const char *s, size_t n) {
  double mant = 0.0, scale = 1.0, sixty = 0.0;
  long exp10 = 0, e = 0;
  bool neg = false, frac = false, eneg = false, inexp = false;
  size_t i = 0;

  if (n > 0 && (s[0] == '+' || s[0] == '-')) {
    neg = s[0] == '-';
    i = 1;
  }
  if (i < n && s[i] == '.' && i + 1 < n &&
      (s[i + 1] == 'i' || s[i + 1] == 'I')) {
    return neg ? -(double)INFINITY : (double)INFINITY;
  }
  if (i < n && s[i] == '.' && i + 1 < n &&
      (s[i + 1] == 'n' || s[i + 1] == 'N')) {
    return (double)NAN;
  }
  for (; i < n; i++) {
    char ch = s[i];

    if (inexp) {
      if (ch == '-') {
        eneg = true;
      } else if (is_digit((unsigned char)ch) && e < 100000) {
        e = e * 10 + (ch - '0');
      }
    } else if (ch == '_') {
      continue;
    } else if (ch == ':') {
      sixty = (sixty + mant) * 60.0;
      mant = 0.0;
    } else if (ch == '.') {
      frac = true;
    } else if (ch == 'e' || ch == 'E') {
      inexp = true;
    } else if (is_digit((unsigned char)ch)) {
      if (mant < 1e18) {
        mant = mant * 10.0 + (ch - '0');
        if (frac) {
          exp10--;
        }
      } else if (!frac) {
        exp10++;
      }
    }
  }
  exp10 += eneg ? -e : e;
  while (exp10 > 0) {
    scale *= 10.0;
    exp10--;
    if (scale > 1e308) {
      break;
    }
  }
  while (exp10 < 0) {
    scale /= 10.0;
    exp10++;
    if (scale == 0.0) {
      break;
    }
  }
  mant = sixty + mant * scale;
  return neg ? -mant : mant;
}

/* Resolve text as PyYAML resolves an untagged plain scalar. */
static void resolve_plain(const char *s, size_t n, struct yval *v) {
  int b;

  memset(v, 0, sizeof(*v));
  v->s = s;
  v->len = n;
  if (yaml_is_null(s, n)) {
    v->kind = Y_NULL;
    return;
  }
  b = yaml_bool(s, n);
  if (b >= 0) {
    v->kind = Y_BOOL;
    v->b = b == 1;
    return;
  }
  if (float_syntax(s, n)) {
    v->kind = Y_FLOAT;
    v->d = float_value(s, n);
    return;
  }
  if (n > 0 && (s[0] == '+' || s[0] == '-') ? int_syntax(s + 1, n - 1)
                                            : int_syntax(s, n)) {
    bool neg = s[0] == '-';
    size_t k = (s[0] == '+' || s[0] == '-') ? 1 : 0;

    int_value(s + k, n - k, neg, v);
    return;
  }
  v->kind = Y_STR;
}

/* The value of a scalar node, honouring the explicit core tags. */
static bool node_value(struct st *st, const yaml_node_t *n, const char *path,
                       struct yval *v) {
  const char *s = (const char *)n->data.scalar.value;
  size_t len = n->data.scalar.length;
  const char *tag = (const char *)n->tag;
  bool plain = n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ||
               n->data.scalar.style == YAML_ANY_SCALAR_STYLE;
  char b[SHOWBUF];

  if (s == NULL) {
    s = "";
  }
  if (tag == NULL || strcmp(tag, YTAG_PREFIX "str") == 0) {
    /* libyaml gives untagged scalars the str tag: an explicit !!str on
     * a plain scalar cannot be told apart (docs/decisions.md) */
    if (plain) {
      resolve_plain(s, len, v);
    } else {
      memset(v, 0, sizeof(*v));
      v->kind = Y_STR;
      v->quoted = true;
      v->s = s;
      v->len = len;
    }
    return true;
  }
  if (strcmp(tag, YTAG_PREFIX "int") == 0 ||
      strcmp(tag, YTAG_PREFIX "bool") == 0 ||
      strcmp(tag, YTAG_PREFIX "float") == 0 ||
      strcmp(tag, YTAG_PREFIX "null") == 0) {
    enum ykind want = tag[sizeof(YTAG_PREFIX) - 1] == 'i'   ? Y_INT
                      : tag[sizeof(YTAG_PREFIX) - 1] == 'b' ? Y_BOOL
                      : tag[sizeof(YTAG_PREFIX) - 1] == 'f' ? Y_FLOAT
                                                            : Y_NULL;

    resolve_plain(s, len, v);
    if (want == Y_FLOAT && v->kind == Y_INT) { /* !!float 5 */
      v->kind = Y_FLOAT;
      v->d = (double)v->i;
    }
    if (v->kind != want) {
      err_at(st, line_of(n), "%s: '%s' is not a valid %s", path,
             show(s, len, b, sizeof(b)), tag + sizeof(YTAG_PREFIX) - 1);
      return false;
    }
    return true;
  }
  err_at(st, line_of(n), "%s: unsupported YAML tag '%s'", path,
         show(tag, strlen(tag), b, sizeof(b)));
  return false;
}

static const char *node_kind(const yaml_node_t *n) {
  switch (n->type) {
  case YAML_MAPPING_NODE:
    return "a mapping";
  case YAML_SEQUENCE_NODE:
    return "a sequence";
  default:
    return "a scalar";
  }
}

static bool is_null_node(const yaml_node_t *n) {
  const char *tag = (const char *)n->tag;

  if (n->type != YAML_SCALAR_NODE) {
    return false;
  }
  if (tag != NULL && strcmp(tag, YTAG_PREFIX "null") == 0) {
    return true;
  }
  return (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ||
          n->data.scalar.style == YAML_ANY_SCALAR_STYLE) &&
         (tag == NULL || strcmp(tag, YTAG_PREFIX "str") == 0) &&
         yaml_is_null((const char *)n->data.scalar.value,
                      n->data.scalar.length);
}

/* ---- storing values ---- */

static void store_uint(char *base, const struct key *k, unsigned long long u) {
  if (k->off == NOOFF) {
    return;
  }
  if (k->width == sizeof(uint16_t)) {
    uint16_t x = (uint16_t)u;
    memcpy(base + k->off, &x, sizeof(x));
  } else if (k->width == sizeof(uint32_t)) {
    uint32_t x = (uint32_t)u;
    memcpy(base + k->off, &x, sizeof(x));
  } else {
    uint64_t x = (uint64_t)u;
    memcpy(base + k->off, &x, sizeof(x));
  }
}

static bool inet_ok(const char *s, size_t n) {
  char buf[INET6_ADDRSTRLEN + 8];
  unsigned char out[sizeof(struct in6_addr)];

  if (n == 0 || n >= sizeof(buf)) {
    return false;
  }
  memcpy(buf, s, n);
  buf[n] = '\0';
  return inet_pton(AF_INET, buf, out) == 1 ||
         inet_pton(AF_INET6, buf, out) == 1;
}

static bool port_ok(const char *s, size_t n) {
  unsigned long v = 0;
  size_t i;

  if (n == 0 || n > 5) {
    return false;
  }
  for (i = 0; i < n; i++) {
    if (!is_digit((unsigned char)s[i])) {
      return false;
    }
    v = v * 10 + (unsigned long)(s[i] - '0');
  }
  return v >= 1 && v <= 65535;
}

/* HOST:PORT ([V6]:PORT); with `ip`, HOST must be an address and the
 * port may be left out. */
static bool hostport_ok(const char *s, size_t n, bool ip) {
  const char *colon;
  size_t hl;

  if (n > 0 && s[0] == '[') {
    const char *rb = memchr(s, ']', n);

    if (rb == NULL) {
      return false;
    }
    hl = (size_t)(rb - s) - 1;
    if (!inet_ok(s + 1, hl) || memchr(s + 1, ':', hl) == NULL) {
      return false;
    }
    if ((size_t)(rb - s) + 1 == n) {
      return ip;
    }
    return rb[1] == ':' && port_ok(rb + 2, n - (size_t)(rb - s) - 2);
  }
  if (ip && inet_ok(s, n)) {
    return true;
  }
  colon = NULL;
  for (hl = 0; hl < n; hl++) {
    if (s[hl] == ':') {
      colon = s + hl;
    }
  }
  if (colon == NULL || colon == s) {
    return false;
  }
  hl = (size_t)(colon - s);
  if (memchr(s, ':', hl) != NULL) { /* a bare IPv6 needs [] with a port */
    return false;
  }
  if (ip ? !inet_ok(s, hl) : false) {
    return false;
  }
  return port_ok(colon + 1, n - hl - 1);
}

static bool str_check(struct st *st, const struct key *k, const char *s,
                      size_t n, size_t line, const char *path) {
  char b[SHOWBUF];
  size_t i;

  switch (k->check) {
  case C_NONE:
    return true;
  case C_HOST:
    for (i = 0; i < n; i++) {
      if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f) {
        err_at(st, line, "%s: '%s' is not a host name or address", path,
               show(s, n, b, sizeof(b)));
        return false;
      }
    }
    return true;
  case C_UNIX_PATH:
    if (n > CFG_UNIX_PATH_MAX) {
      err_at(st, line,
             "%s: longer than %d bytes (the limit of a UNIX socket address)",
             path, CFG_UNIX_PATH_MAX);
      return false;
    }
    return true;
  case C_ACCOUNT:
    for (i = 0; i < n; i++) {
      if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f || s[i] == ':') {
        break;
      }
    }
    if (i < n || n > CFG_ACCOUNT_MAX) {
      err_at(st, line, "%s: '%s' is not a user or group name or number", path,
             show(s, n, b, sizeof(b)));
      return false;
    }
    return true;
  case C_HOSTPORT:
    if (!hostport_ok(s, n, false)) {
      err_at(st, line, "%s: '%s' is not HOST:PORT (or [IPv6]:PORT)", path,
             show(s, n, b, sizeof(b)));
      return false;
    }
    return true;
  case C_RESOLVER:
    if (!hostport_ok(s, n, true)) {
      err_at(st, line,
             "%s: '%s' is not an IP address with an optional :PORT "
             "([IPv6]:PORT)",
             path, show(s, n, b, sizeof(b)));
      return false;
    }
    return true;
  case C_REDIS_URL:
    /* The store speaks plain Redis (hiredis 0.14 has no TLS), so a
     * rediss:// URL the peer would accept is refused here, at -n time,
     * rather than failing at every connection attempt. */
    if (n > 9 && memcmp(s, "rediss://", 9) == 0) {
      err_at(st, line,
             "%s: '%s': TLS to Redis (rediss://) is not supported; use "
             "redis:// over a trusted network or a unix: socket",
             path, show(s, n, b, sizeof(b)));
      return false;
    }
    if (!(n > 8 && memcmp(s, "redis://", 8) == 0) &&
        !(n > 5 && memcmp(s, "unix:", 5) == 0)) {
      err_at(st, line, "%s: '%s' is not a redis:// or unix: URL", path,
             show(s, n, b, sizeof(b)));
      return false;
    }
    return true;
  }
  return true;
}

static const char *expect_text(enum ktype t) {
  switch (t) {
  case K_BOOL:
    return "a boolean (true/false, yes/no, on/off)";
  case K_UINT:
    return "an integer";
  case K_NUM:
    return "a number";
  case K_MODE:
    return "an octal mode such as 0660";
  case K_ENUM:
    return "a keyword";
  default:
    return "a string";
  }
}

/* Store the scalar v for key k; line 0: a built-in default. */
static void set_scalar(struct st *st, const struct key *k, char *base,
                       const struct yval *v, size_t line, const char *path) {
  char b[SHOWBUF];
  const char *txt = show(v->s, v->len, b, sizeof(b));
  struct yval uq;

  if (v->kind == Y_NULL &&
      !(k->type == K_STR && k->def == NULL && !(k->flags & F_REQUIRED)) &&
      k->type != K_MODE) {
    err_at(st, line, "%s: missing value (expected %s)", path,
           expect_text(k->type));
    return;
  }
  switch (k->type) {
  case K_BOOL:
    if (v->kind != Y_BOOL) {
      break;
    }
    if (k->off != NOOFF) {
      memcpy(base + k->off, &v->b, sizeof(bool));
    }
    return;
  case K_UINT:
    if (v->kind == Y_BADINT) {
      err_at(st, line, "%s: '%s' is not a valid integer", path, txt);
      return;
    }
    if (v->kind != Y_INT) {
      break;
    }
    if (v->ovf || v->i < k->min || v->i > k->max) {
      err_at(st, line, "%s: %s is out of range (%lld..%lld)", path, txt, k->min,
             k->max);
      return;
    }
    store_uint(base, k, (unsigned long long)v->i);
    return;
  case K_NUM:
    if (v->kind == Y_BADINT) {
      err_at(st, line, "%s: '%s' is not a valid number", path, txt);
      return;
    }
    if (v->kind != Y_INT && v->kind != Y_FLOAT) {
      break;
    }
    {
      double d = v->kind == Y_INT ? (double)v->i : v->d;

      if (v->ovf || !(d >= k->dmin && d <= k->dmax)) {
        err_at(st, line, "%s: %s is out of range (%g..%g)", path, txt, k->dmin,
               k->dmax);
        return;
      }
      if (k->off != NOOFF) {
        memcpy(base + k->off, &d, sizeof(d));
      }
    }
    return;
  case K_MODE: {
    int m = -1;

    if (v->kind == Y_NULL) { /* unset: the umask decides */
      memcpy(base + k->off, &m, sizeof(m));
      return;
    }
    if (v->kind == Y_BADINT) {
      err_at(st, line, "%s: '%s' is not a valid integer", path, txt);
      return;
    }
    if (v->kind != Y_INT) {
      break;
    }
    if (v->octal_looking) {
      /* YAML 1.1 reads 666 as decimal 666 (the peer chmods 01232);
       * 600 or 400 are in range as decimals but never meant so. */
      err_at(st, line,
             "%s: %s is decimal in YAML, not octal; did you mean 0%s? "
             "(a mode needs a leading 0)",
             path, txt, txt);
      return;
    }
    if (v->ovf || v->i < k->min || v->i > k->max) {
      err_at(st, line, "%s: %s is out of range (0..0777)", path, txt);
      return;
    }
    m = (int)v->i;
    memcpy(base + k->off, &m, sizeof(m));
    return;
  }
  case K_ENUM: {
    size_t i;
    const char *near;

    if (v->kind == Y_NULL) {
      break;
    }
    for (i = 0; k->names[i] != NULL; i++) {
      if (seq(v->s, v->len, k->names[i])) {
        int x = (int)i;

        memcpy(base + k->off, &x, sizeof(x));
        return;
      }
    }
    near = nearest(v->s, v->len, NULL, k->names);
    if (k->names == cache_type_names) {
      err_at(st, line,
             "%s: '%s' is not one of internal, sqlite, redis, "
             "redis_sentinel, postgres%s%s%s",
             path, txt, near ? " (did you mean '" : "", near ? near : "",
             near ? "'?)" : "");
    } else {
      err_at(st, line, "%s: '%s' is not one of notfound, temp%s%s%s", path, txt,
             near ? " (did you mean '" : "", near ? near : "",
             near ? "'?)" : "");
    }
    return;
  }
  case K_STR: {
    char **dst = k->off == NOOFF ? NULL : (char **)(void *)(base + k->off);

    if (v->kind == Y_NULL) { /* optional: unset */
      if (dst != NULL) {
        xfree(&st->al, *dst);
        *dst = NULL;
      }
      return;
    }
    if (v->len == 0) {
      err_at(st, line, "%s: empty string", path);
      return;
    }
    if (memchr(v->s, '\0', v->len) != NULL) {
      err_at(st, line, "%s: contains a NUL character", path);
      return;
    }
    if (v->len > CFG_STR_MAX) {
      err_at(st, line, "%s: longer than %d bytes", path, CFG_STR_MAX);
      return;
    }
    if (!str_check(st, k, v->s, v->len, line, path)) {
      return;
    }
    if (dst != NULL) {
      char *p = xstrndup(st, v->s, v->len);

      if (p != NULL) {
        xfree(&st->al, *dst);
        *dst = p;
      }
    }
    return;
  }
  default:
    return;
  }
  /* wrong type; say so, and hint when only the quotes are wrong */
  if (v->quoted) {
    resolve_plain(v->s, v->len, &uq);
    if ((k->type == K_BOOL && uq.kind == Y_BOOL) ||
        ((k->type == K_UINT || k->type == K_MODE) && uq.kind == Y_INT) ||
        (k->type == K_NUM && (uq.kind == Y_INT || uq.kind == Y_FLOAT))) {
      err_at(st, line,
             "%s: expected %s, got the quoted string '%s' "
             "(remove the quotes)",
             path, expect_text(k->type), txt);
      return;
    }
  }
  err_at(st, line, "%s: expected %s, got '%s'", path, expect_text(k->type),
         txt);
}

/* ---- defaults ---- */

static void apply_defaults(struct st *st, const struct key *keys, char *base) {
  size_t i;

  for (i = 0; keys[i].name != NULL; i++) {
    const struct key *k = &keys[i];
    struct yval v;

    switch (k->type) {
    case K_SECTION:
      if (k->sub != NULL) {
        apply_defaults(st, k->sub, base + k->off);
      }
      continue;
    case K_CACHE: {
      size_t t;

      apply_defaults(st, k->sub, base);
      for (t = 0; t < sizeof(cache_options) / sizeof(cache_options[0]); t++) {
        apply_defaults(st, cache_options[t], base);
      }
      continue;
    }
    case K_ZONES:
    case K_OVERRIDES:
    case K_SEQ:
      continue;
    default:
      break;
    }
    if (k->off == NOOFF || (k->type == K_STR && k->def == NULL)) {
      continue; /* not stored, or unset (NULL from the memset) */
    }
    resolve_plain(k->def != NULL ? k->def : "",
                  k->def != NULL ? strlen(k->def) : 0, &v);
    set_scalar(st, k, base, &v, 0, k->name);
  }
}

/* ---- mappings ---- */

static yaml_node_t *node(struct st *st, int id) {
  return yaml_document_get_node(st->doc, id);
}

/* Path helper: "prefix.name" into buf (sanitised, truncated). */
static const char *join(char *buf, size_t size, const char *prefix,
                        const char *name, size_t nlen) {
  char b[SHOWBUF];

  if (prefix == NULL || prefix[0] == '\0') {
    snprintf(buf, size, "%s", show(name, nlen, b, sizeof(b)));
  } else {
    snprintf(buf, size, "%s.%s", prefix, show(name, nlen, b, sizeof(b)));
  }
  return buf;
}

/* A key node usable as a name: a non-empty scalar. */
static bool key_ok(struct st *st, const yaml_node_t *kn, const char *where) {
  if (kn->type != YAML_SCALAR_NODE) {
    err_at(st, line_of(kn), "%s%sa key must be a scalar, not %s", where,
           where[0] ? ": " : "", node_kind(kn));
    return false;
  }
  if (kn->data.scalar.length == 0 || is_null_node(kn)) {
    err_at(st, line_of(kn), "%s%sempty key", where, where[0] ? ": " : "");
    return false;
  }
  if (kn->data.scalar.length == 2 &&
      memcmp(kn->data.scalar.value, "<<", 2) == 0 &&
      kn->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
    err_at(st, line_of(kn), "%s%sYAML merge keys (<<) are not supported", where,
           where[0] ? ": " : "");
    return false;
  }
  return true;
}

/* Duplicate detection in O(n log n): sort (text, index) and give every
 * item the index of the first item with the same text. A YAML file may
 * hold thousands of keys, and aliases may repeat a mapping. */
struct sitem {
  const char *s;
  size_t len;
  size_t idx;
};

static int sitem_cmp(const void *pa, const void *pb) {
  const struct sitem *a = pa, *b = pb;
  int r;

  if (a->len != b->len) {
    return a->len < b->len ? -1 : 1;
  }
  r = a->len > 0 ? memcmp(a->s, b->s, a->len) : 0;
  if (r != 0) {
    return r;
  }
  return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* items[0..n) are sorted in place; first[] (total entries, all set to
 * their own index beforehand) gets the first index of each repeat. */
static void mark_firsts(struct sitem *items, size_t n, size_t *first) {
  size_t i, run = 0;

  qsort(items, n, sizeof(*items), sitem_cmp);
  for (i = 1; i < n; i++) {
    if (items[i].len == items[run].len &&
        memcmp(items[i].s, items[run].s, items[i].len) == 0) {
      first[items[i].idx] = items[run].idx;
    } else {
      run = i;
    }
  }
}

/* For each pair of `map`, the index of the first pair with the same
 * (scalar) key; NULL on out of memory. Free with xfree. */
static size_t *key_firsts(struct st *st, const yaml_node_t *map) {
  yaml_node_pair_t *pairs = map->data.mapping.pairs.start;
  size_t n = (size_t)(map->data.mapping.pairs.top - pairs), i, m = 0;
  size_t *first = NULL;
  struct sitem *items = NULL;

  if (n > SIZE_MAX / sizeof(struct sitem)) {
    st->oom = true;
    return NULL;
  }
  first = xmalloc(st, n * sizeof(*first));
  items = xmalloc(st, n * sizeof(*items));
  if (first == NULL || items == NULL) {
    xfree(&st->al, first);
    xfree(&st->al, items);
    return NULL;
  }
  for (i = 0; i < n; i++) {
    const yaml_node_t *kn = node(st, pairs[i].key);

    first[i] = i;
    if (kn != NULL && kn->type == YAML_SCALAR_NODE) {
      items[m].s = (const char *)kn->data.scalar.value;
      items[m].len = kn->data.scalar.length;
      items[m].idx = i;
      m++;
    }
  }
  mark_firsts(items, m, first);
  xfree(&st->al, items);
  return first;
}

/* Is pair i's key a repeat of an earlier one? Reports it. */
static bool duplicate(struct st *st, const yaml_node_t *map, size_t i,
                      const size_t *first, const char *where) {
  yaml_node_pair_t *pairs = map->data.mapping.pairs.start;
  const yaml_node_t *kn, *kj;
  char b[SHOWBUF];

  if (first[i] == i) {
    return false;
  }
  kn = node(st, pairs[i].key);
  kj = node(st, pairs[first[i]].key);
  err_at(st, line_of(kn), "%s%sduplicate key '%s' (first at line %zu)", where,
         where[0] ? ": " : "",
         show((const char *)kn->data.scalar.value, kn->data.scalar.length, b,
              sizeof(b)),
         line_of(kj));
  return true;
}

/* Where else a key name exists, for an "unknown key" hint. */
static const char *home_of(const char *s, size_t n) {
  size_t i, t;

  for (i = 0; top_keys[i].name != NULL; i++) {
    if (seq(s, n, top_keys[i].name)) {
      return "the top level";
    }
  }
  for (i = 0; zone_keys[i].name != NULL; i++) {
    if (seq(s, n, zone_keys[i].name)) {
      return "default_zone or zones.NAME";
    }
  }
  for (i = 0; refresh_keys[i].name != NULL; i++) {
    if (seq(s, n, refresh_keys[i].name)) {
      return "proactive_policy_fetching";
    }
  }
  if (seq(s, n, "type") || seq(s, n, "options")) {
    return "cache";
  }
  for (t = 0; t < sizeof(cache_options) / sizeof(cache_options[0]); t++) {
    for (i = 0; cache_options[t][i].name != NULL; i++) {
      if (seq(s, n, cache_options[t][i].name)) {
        return cache_type_names[t];
      }
    }
  }
  return NULL;
}

static void unknown_key(struct st *st, const yaml_node_t *kn,
                        const struct key *keys, const char *where,
                        bool options) {
  const char *s = (const char *)kn->data.scalar.value;
  size_t n = kn->data.scalar.length;
  const char *near = nearest(s, n, keys, NULL);
  const char *home = home_of(s, n);
  char b[SHOWBUF], in[CFG_PATH_MAX + 8];

  if (where[0] != '\0') {
    snprintf(in, sizeof(in), " in %s", where);
  } else {
    in[0] = '\0';
  }
  if (near != NULL) {
    err_at(st, line_of(kn), "unknown key '%s'%s (did you mean '%s'?)",
           show(s, n, b, sizeof(b)), in, near);
  } else if (home != NULL && options) {
    err_at(st, line_of(kn),
           "unknown key '%s'%s (it is an option of cache "
           "type %s)",
           show(s, n, b, sizeof(b)), in, home);
  } else if (home != NULL && !options) {
    err_at(st, line_of(kn), "unknown key '%s'%s (it belongs in %s)",
           show(s, n, b, sizeof(b)), in, home);
  } else {
    err_at(st, line_of(kn), "unknown key '%s'%s", show(s, n, b, sizeof(b)), in);
  }
}

static void parse_value(struct st *st, const struct key *k, char *base,
                        const yaml_node_t *kn, const yaml_node_t *vn,
                        const char *path);

/*
 * Parse mapping node `map` (NULL or null: empty) against `keys`, storing
 * at base; `where` names the section ("" for the top), `at` is the line
 * of the section's key (for missing required keys).
 */
static void parse_mapping(struct st *st, const yaml_node_t *map,
                          const struct key *keys, char *base, const char *where,
                          size_t at, bool options) {
  size_t npairs = 0, i, r, *first = NULL;
  yaml_node_pair_t *pairs = NULL;
  char path[CFG_PATH_MAX];

  if (map != NULL && !is_null_node(map)) {
    if (map->type != YAML_MAPPING_NODE && where[0] == '\0') {
      err_at(st, line_of(map), "the file must be a mapping of keys, not %s",
             node_kind(map));
      return;
    }
    if (map->type != YAML_MAPPING_NODE) {
      err_at(st, line_of(map), "%s: expected a mapping, got %s", where,
             node_kind(map));
      return;
    }
    pairs = map->data.mapping.pairs.start;
    npairs = (size_t)(map->data.mapping.pairs.top - pairs);
    if (npairs > 0 && (first = key_firsts(st, map)) == NULL) {
      return;
    }
  }
  for (i = 0; i < npairs && !stop(st); i++) {
    const yaml_node_t *kn = node(st, pairs[i].key);
    const yaml_node_t *vn = node(st, pairs[i].value);
    const struct key *k = NULL;
    size_t j;

    if (kn == NULL || vn == NULL || !key_ok(st, kn, where) ||
        duplicate(st, map, i, first, where)) {
      continue;
    }
    for (j = 0; keys[j].name != NULL; j++) {
      if (seq((const char *)kn->data.scalar.value, kn->data.scalar.length,
              keys[j].name)) {
        k = &keys[j];
        break;
      }
    }
    if (k == NULL) {
      unknown_key(st, kn, keys, where, options);
      continue;
    }
    parse_value(st, k, base, kn, vn,
                join(path, sizeof(path), where, k->name, strlen(k->name)));
  }
  /* required keys */
  for (r = 0; keys[r].name != NULL; r++) {
    bool seen = false;

    if (!(keys[r].flags & F_REQUIRED)) {
      continue;
    }
    for (i = 0; i < npairs && !seen; i++) {
      const yaml_node_t *kn = node(st, pairs[i].key);

      seen = kn != NULL && kn->type == YAML_SCALAR_NODE &&
             seq((const char *)kn->data.scalar.value, kn->data.scalar.length,
                 keys[r].name);
    }
    if (!seen) {
      err_at(st, map != NULL ? line_of(map) : at,
             "%s: missing required key '%s'%s%s", where, keys[r].name,
             keys[r].note ? " for cache type " : "",
             keys[r].note ? keys[r].note : "");
    }
  }
  xfree(&st->al, first);
}

static void parse_cache(struct st *st, const yaml_node_t *kn,
                        const yaml_node_t *vn) {
  struct mtastsd_config *c = st->c;
  yaml_node_pair_t *pairs = NULL;
  size_t npairs = 0, i, *first = NULL;
  const yaml_node_t *type_n = NULL, *opt_n = NULL, *opt_k = NULL;
  bool type_ok = true;
  unsigned before;

  if (!is_null_node(vn)) {
    if (vn->type != YAML_MAPPING_NODE) {
      err_at(st, line_of(vn), "cache: expected a mapping, got %s",
             node_kind(vn));
      return;
    }
    pairs = vn->data.mapping.pairs.start;
    npairs = (size_t)(vn->data.mapping.pairs.top - pairs);
    if (npairs > 0 && (first = key_firsts(st, vn)) == NULL) {
      return;
    }
  }
  for (i = 0; i < npairs && !stop(st); i++) {
    const yaml_node_t *k = node(st, pairs[i].key);
    const yaml_node_t *v = node(st, pairs[i].value);

    if (k == NULL || v == NULL || !key_ok(st, k, "cache") ||
        duplicate(st, vn, i, first, "cache")) {
      continue;
    }
    if (seq((const char *)k->data.scalar.value, k->data.scalar.length,
            "type")) {
      type_n = v;
    } else if (seq((const char *)k->data.scalar.value, k->data.scalar.length,
                   "options")) {
      opt_n = v;
      opt_k = k;
    } else {
      unknown_key(st, k, cache_keys, "cache", false);
    }
  }
  xfree(&st->al, first);
  if (type_n != NULL) {
    before = st->nerr;
    parse_value(st, &cache_keys[0], (char *)c, kn, type_n, "cache.type");
    type_ok = st->nerr == before;
  }
  if (!type_ok) {
    return; /* options cannot be checked against an unknown type */
  }
  parse_mapping(
      st, opt_n, cache_options[c->cache_type], (char *)c, "cache.options",
      opt_k != NULL ? line_of(opt_k)
                    : (type_n != NULL ? line_of(type_n) : line_of(kn)),
      true);
}

static bool zone_name_ok(const char *s, size_t n) {
  size_t i;

  if (n == 0 || n > MTS_SOCKETMAP_NAME_MAX) {
    return false;
  }
  for (i = 0; i < n; i++) { /* Postfix splits the request at a space */
    if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f) {
      return false;
    }
  }
  return true;
}

static void parse_zones(struct st *st, const struct key *k,
                        const yaml_node_t *vn) {
  struct mtastsd_config *c = st->c;
  yaml_node_pair_t *pairs;
  size_t npairs, i, *first = NULL;
  char b[SHOWBUF], where[CFG_PATH_MAX];

  if (is_null_node(vn)) {
    return;
  }
  if (vn->type != YAML_MAPPING_NODE) {
    err_at(st, line_of(vn), "zones: expected a mapping, got %s", node_kind(vn));
    return;
  }
  pairs = vn->data.mapping.pairs.start;
  npairs = (size_t)(vn->data.mapping.pairs.top - pairs);
  if (npairs == 0) {
    return;
  }
  first = key_firsts(st, vn);
  if (first == NULL || npairs > SIZE_MAX / sizeof(*c->zones)) {
    st->oom = true;
    goto done;
  }
  c->zones = xmalloc(st, npairs * sizeof(*c->zones));
  if (c->zones == NULL) {
    goto done;
  }
  for (i = 0; i < npairs && !stop(st); i++) {
    const yaml_node_t *zk = node(st, pairs[i].key);
    const yaml_node_t *zv = node(st, pairs[i].value);
    struct mtastsd_zone *z;
    const char *s;
    size_t n;

    if (zk == NULL || zv == NULL || !key_ok(st, zk, "zones") ||
        duplicate(st, vn, i, first, "zones")) {
      continue;
    }
    s = (const char *)zk->data.scalar.value;
    n = zk->data.scalar.length;
    if (!zone_name_ok(s, n)) {
      err_at(st, line_of(zk),
             "zones: '%s' is not a socketmap name (1-%d printable ASCII "
             "octets, no blanks)",
             show(s, n, b, sizeof(b)), MTS_SOCKETMAP_NAME_MAX);
      continue;
    }
    z = &c->zones[c->nzones];
    memset(z, 0, sizeof(*z));
    z->name = xstrndup(st, s, n);
    if (z->name == NULL) {
      goto done;
    }
    c->nzones++;
    /* no inheritance from default_zone: the peer's behaviour */
    apply_defaults(st, k->sub, (char *)z);
    parse_mapping(st, zv, k->sub, (char *)z,
                  join(where, sizeof(where), "zones", s, n), line_of(zk),
                  false);
  }

done:
  xfree(&st->al, first);
}

static bool answer_ok(const char *s, size_t n) {
  size_t i, w;

  for (i = 0; i < n; i++) {
    if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
      return false;
    }
  }
  for (w = 0; w < n && s[w] != ' '; w++) {
  }
  for (i = 0; tls_levels[i] != NULL; i++) {
    if (seq(s, w, tls_levels[i])) {
      return true;
    }
  }
  return false;
}

/*
 * overrides: DOMAIN -> "none" | payload. Two passes: first every key is
 * converted to its A-label (silently), so that repeats of one domain in
 * different spellings (case, U-label, root dot) are found by sorting;
 * then the errors are reported in file order.
 */
static void parse_overrides(struct st *st, const yaml_node_t *vn) {
  struct mtastsd_config *c = st->c;
  yaml_node_pair_t *pairs;
  size_t npairs, i, m = 0, *first = NULL, *nfirst = NULL;
  char **dom = NULL;
  struct sitem *items = NULL;
  char b[SHOWBUF], path[CFG_PATH_MAX];

  if (is_null_node(vn)) {
    return;
  }
  if (vn->type != YAML_MAPPING_NODE) {
    err_at(st, line_of(vn), "overrides: expected a mapping, got %s",
           node_kind(vn));
    return;
  }
  pairs = vn->data.mapping.pairs.start;
  npairs = (size_t)(vn->data.mapping.pairs.top - pairs);
  if (npairs == 0) {
    return;
  }
  if (npairs > SIZE_MAX / sizeof(struct sitem)) {
    st->oom = true;
    return;
  }
  first = key_firsts(st, vn);
  nfirst = xmalloc(st, npairs * sizeof(*nfirst));
  dom = xmalloc(st, npairs * sizeof(*dom));
  items = xmalloc(st, npairs * sizeof(*items));
  c->overrides = xmalloc(st, npairs * sizeof(*c->overrides));
  if (dom != NULL) {
    memset(dom, 0, npairs * sizeof(*dom)); /* all NULL for the cleanup */
  }
  if (first == NULL || nfirst == NULL || dom == NULL || items == NULL ||
      c->overrides == NULL) {
    goto done;
  }
  for (i = 0; i < npairs; i++) { /* pass 1: A-labels */
    const yaml_node_t *dk = node(st, pairs[i].key);
    char a[MTS_DOMAIN_MAX + 1];

    dom[i] = NULL;
    nfirst[i] = i;
    if (dk == NULL || dk->type != YAML_SCALAR_NODE ||
        mts_idn_to_ascii((const char *)dk->data.scalar.value,
                         dk->data.scalar.length, a, sizeof(a)) != MTS_OK) {
      continue;
    }
    dom[i] = xstrndup(st, a, strlen(a));
    if (dom[i] == NULL) {
      goto done;
    }
    items[m].s = dom[i];
    items[m].len = strlen(a);
    items[m].idx = i;
    m++;
  }
  mark_firsts(items, m, nfirst);
  for (i = 0; i < npairs && !stop(st); i++) { /* pass 2: report, store */
    const yaml_node_t *dk = node(st, pairs[i].key);
    const yaml_node_t *dv = node(st, pairs[i].value);
    struct mtastsd_override *o;
    const char *s, *a;
    size_t n, an;

    if (dk == NULL || dv == NULL || !key_ok(st, dk, "overrides") ||
        duplicate(st, vn, i, first, "overrides")) {
      continue;
    }
    s = (const char *)dk->data.scalar.value;
    n = dk->data.scalar.length;
    join(path, sizeof(path), "overrides", s, n);
    if (dom[i] == NULL) {
      err_at(st, line_of(dk), "overrides: '%s' is not a valid domain name",
             show(s, n, b, sizeof(b)));
      continue;
    }
    if (nfirst[i] != i) {
      err_at(st, line_of(dk), "overrides: '%s' is %s again (first at line %zu)",
             show(s, n, b, sizeof(b)), dom[i],
             line_of(node(st, pairs[nfirst[i]].key)));
      continue;
    }
    if (dv->type != YAML_SCALAR_NODE) {
      err_at(st, line_of(dv), "%s: expected a string, got %s", path,
             node_kind(dv));
      continue;
    }
    a = (const char *)dv->data.scalar.value;
    an = dv->data.scalar.length;
    if (is_null_node(dv) || an == 0) {
      err_at(st, line_of(dv),
             "%s: missing value (\"none\" or a Postfix policy such as "
             "\"secure match=mx.example.com\")",
             path);
      continue;
    }
    if (an > CFG_ANSWER_MAX || (!seq(a, an, "none") && !answer_ok(a, an))) {
      err_at(st, line_of(dv),
             "%s: '%s' is neither \"none\" nor a Postfix policy "
             "(may, encrypt, dane, dane-only, fingerprint, verify or secure, "
             "then attributes)",
             path, show(a, an, b, sizeof(b)));
      continue;
    }
    o = &c->overrides[c->noverrides++];
    o->domain = dom[i]; /* moved */
    dom[i] = NULL;
    o->answer = NULL;
    if (!seq(a, an, "none")) {
      o->answer = xstrndup(st, a, an);
    }
  }

done:
  if (dom != NULL) {
    for (i = 0; i < npairs; i++) {
      xfree(&st->al, dom[i]);
    }
  }
  xfree(&st->al, dom);
  xfree(&st->al, items);
  xfree(&st->al, nfirst);
  xfree(&st->al, first);
}

static void parse_value(struct st *st, const struct key *k, char *base,
                        const yaml_node_t *kn, const yaml_node_t *vn,
                        const char *path) {
  struct yval v;

  switch (k->type) {
  case K_SECTION:
    parse_mapping(st, vn, k->sub, base + k->off, path, line_of(kn), false);
    return;
  case K_CACHE:
    parse_cache(st, kn, vn);
    return;
  case K_ZONES:
    parse_zones(st, k, vn);
    return;
  case K_OVERRIDES:
    parse_overrides(st, vn);
    return;
  case K_SEQ:
    if (vn->type != YAML_SEQUENCE_NODE ||
        vn->data.sequence.items.top == vn->data.sequence.items.start) {
      err_at(st, line_of(vn), "%s: expected a non-empty sequence, got %s", path,
             vn->type == YAML_SEQUENCE_NODE ? "an empty one" : node_kind(vn));
    }
    return;
  default:
    break;
  }
  if (vn->type != YAML_SCALAR_NODE) {
    err_at(st, line_of(vn), "%s: expected %s, got %s", path,
           expect_text(k->type), node_kind(vn));
    return;
  }
  if (!node_value(st, vn, path, &v)) {
    return;
  }
  if (k->check == C_ACCOUNT) { /* for the check that path is set */
    if (strcmp(k->name, "owner") == 0) {
      st->owner_line = line_of(vn);
    } else {
      st->group_line = line_of(vn);
    }
  }
  set_scalar(st, k, base, &v, line_of(vn), path);
}

/* ---- entry points ---- */

static size_t line_at_offset(const unsigned char *data, size_t len,
                             size_t off) {
  size_t i, line = 1;

  for (i = 0; i < off && i < len; i++) {
    line += data[i] == '\n';
  }
  return line;
}

static void syntax_error(struct st *st, const yaml_parser_t *p) {
  const char *problem = p->problem != NULL ? p->problem : "syntax error";

  switch (p->error) {
  case YAML_MEMORY_ERROR:
    st->oom = true;
    return;
  case YAML_READER_ERROR:
    err_at(st, line_at_offset(st->data, st->len, p->problem_offset),
           "invalid input: %s", problem);
    return;
  default:
    if (p->context != NULL) {
      err_at(st, p->problem_mark.line + 1, "YAML syntax error: %s %s", problem,
             p->context);
    } else {
      err_at(st, p->problem_mark.line + 1, "YAML syntax error: %s", problem);
    }
    return;
  }
}

struct mtastsd_config *
mtastsd_config_parse_with(const struct mts_allocator *alloc, const char *name,
                          const unsigned char *data, size_t len, FILE *errs) {
  static const unsigned char empty[1] = {0};
  struct st st;
  struct mtastsd_config *c = NULL;
  yaml_parser_t parser;
  yaml_document_t doc, doc2;
  bool have_parser = false, have_doc = false, have_doc2 = false;
  const yaml_node_t *root;

  memset(&st, 0, sizeof(st));
  st.name = name != NULL ? name : "(config)";
  st.errs = errs;
  st.data = data != NULL ? data : empty;
  st.len = data != NULL ? len : 0;
  if (alloc != NULL) {
    st.al = *alloc;
  } else {
    st.al.malloc_fn = std_malloc;
    st.al.realloc_fn = std_realloc;
    st.al.free_fn = std_free;
  }
  c = xmalloc(&st, sizeof(*c));
  if (c == NULL) {
    goto done;
  }
  memset(c, 0, sizeof(*c));
  c->alloc = st.al;
  c->unix_mode = -1;
  st.c = c;
  apply_defaults(&st, top_keys, (char *)c);
  if (st.oom || st.nerr > 0) {
    goto done;
  }

  if (!yaml_parser_initialize(&parser)) {
    st.oom = true;
    goto done;
  }
  have_parser = true;
  yaml_parser_set_input_string(&parser, st.data, st.len);
  if (!yaml_parser_load(&parser, &doc)) {
    syntax_error(&st, &parser);
    goto done;
  }
  have_doc = true;
  st.doc = &doc;
  root = yaml_document_get_root_node(&doc);
  if (root != NULL) {
    parse_mapping(&st, root, top_keys, (char *)c, "", line_of(root), false);
  }
  /* one document only, as PyYAML's safe_load */
  if (!yaml_parser_load(&parser, &doc2)) {
    syntax_error(&st, &parser);
    goto done;
  }
  have_doc2 = true;
  root = yaml_document_get_root_node(&doc2);
  if (root != NULL) {
    err_at(&st, line_of(root),
           "a second YAML document; the file must hold one");
  }
  if (c->unix_path == NULL && c->unix_owner != NULL) {
    err_at(&st, st.owner_line, "owner: only used with path (a UNIX socket)");
  }
  if (c->unix_path == NULL && c->unix_group != NULL) {
    err_at(&st, st.group_line, "group: only used with path (a UNIX socket)");
  }

done:
  if (have_doc2) {
    yaml_document_delete(&doc2);
  }
  if (have_doc) {
    yaml_document_delete(&doc);
  }
  if (have_parser) {
    yaml_parser_delete(&parser);
  }
  if (st.oom) {
    st.nerr++;
    if (errs != NULL) {
      fprintf(errs, "%s: out of memory\n", st.name);
    }
  }
  if (st.nerr > 0) {
    mtastsd_config_free(c);
    return NULL;
  }
  return c;
}

struct mtastsd_config *mtastsd_config_parse(const char *name,
                                            const unsigned char *data,
                                            size_t len, FILE *errs) {
  return mtastsd_config_parse_with(NULL, name, data, len, errs);
}

struct mtastsd_config *mtastsd_config_load(const char *path, FILE *errs) {
  struct mtastsd_config *c = NULL;
  unsigned char *buf = NULL;
  struct stat sb;
  size_t got = 0;
  int fd = -1;

  if (path == NULL) {
    return mtastsd_config_parse(NULL, NULL, 0, errs);
  }
  fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    if (errs != NULL) {
      fprintf(errs, "%s: cannot open the configuration file: %s\n", path,
              strerror(errno));
    }
    goto done;
  }
  if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    if (errs != NULL) {
      fprintf(errs, "%s: not a regular file\n", path);
    }
    goto done;
  }
  if (sb.st_mode & S_IWOTH) {
    /* anyone could point the daemon at their resolver or overrides */
    if (errs != NULL) {
      fprintf(errs,
              "%s: refusing a world-writable configuration file (mode "
              "%04o); run: chmod o-w %s\n",
              path, (unsigned)(sb.st_mode & 07777), path);
    }
    goto done;
  }
  if (sb.st_size > MTASTSD_CONFIG_MAX_BYTES) {
    if (errs != NULL) {
      fprintf(errs, "%s: larger than %d bytes\n", path,
              MTASTSD_CONFIG_MAX_BYTES);
    }
    goto done;
  }
  buf = malloc((size_t)sb.st_size + 1);
  if (buf == NULL) {
    if (errs != NULL) {
      fprintf(errs, "%s: out of memory\n", path);
    }
    goto done;
  }
  for (;;) {
    ssize_t r = read(fd, buf + got, (size_t)sb.st_size + 1 - got);

    if (r < 0 && errno == EINTR) {
      continue;
    }
    if (r < 0) {
      if (errs != NULL) {
        fprintf(errs, "%s: read error: %s\n", path, strerror(errno));
      }
      goto done;
    }
    if (r == 0) {
      break;
    }
    got += (size_t)r;
    if (got > (size_t)sb.st_size) {
      if (errs != NULL) {
        fprintf(errs, "%s: the file changed while it was read\n", path);
      }
      goto done;
    }
  }
  c = mtastsd_config_parse(path, buf, got, errs);
  if (c != NULL) {
    c->path = c->alloc.malloc_fn(strlen(path) + 1, c->alloc.arg);
    if (c->path == NULL) {
      if (errs != NULL) {
        fprintf(errs, "%s: out of memory\n", path);
      }
      mtastsd_config_free(c);
      c = NULL;
      goto done;
    }
    memcpy(c->path, path, strlen(path) + 1);
  }

done:
  if (fd >= 0) {
    close(fd);
  }
  free(buf);
  return c;
}

void mtastsd_config_free(struct mtastsd_config *c) {
  const struct mts_allocator *al;
  size_t i;

  if (c == NULL) {
    return;
  }
  al = &c->alloc;
  for (i = 0; i < c->nzones; i++) {
    xfree(al, c->zones[i].name);
  }
  xfree(al, c->zones);
  for (i = 0; i < c->noverrides; i++) {
    xfree(al, c->overrides[i].domain);
    xfree(al, c->overrides[i].answer);
  }
  xfree(al, c->overrides);
  xfree(al, c->host);
  xfree(al, c->unix_path);
  xfree(al, c->unix_owner);
  xfree(al, c->unix_group);
  xfree(al, c->sqlite_filename);
  xfree(al, c->redis_url);
  xfree(al, c->redis_prefix);
  xfree(al, c->resolver);
  xfree(al, c->ca_file);
  xfree(al, c->metrics_listen);
  xfree(al, c->control_socket);
  xfree(al, c->tlsrpt_socket);
  xfree(al, c->path);
  al->free_fn(c, al->arg);
}

const struct mtastsd_zone *mtastsd_config_zone(const struct mtastsd_config *c,
                                               const char *name, size_t len) {
  size_t i;

  for (i = 0; i < c->nzones; i++) {
    if (strlen(c->zones[i].name) == len &&
        (len == 0 || memcmp(c->zones[i].name, name, len) == 0)) {
      return &c->zones[i];
    }
  }
  return &c->default_zone;
}

/* ---- mtastsd.yml(5) defaults table ---- */

static void man_text(FILE *out, const char *s) {
  for (; *s != '\0'; s++) {
    if (*s == '-') {
      fputs("\\-", out);
    } else if (*s == '\\') {
      fputs("\\e", out);
    } else {
      fputc(*s, out);
    }
  }
}

static const char *man_type(const struct key *k) {
  switch (k->type) {
  case K_STR:
    return "string";
  case K_BOOL:
    return "boolean";
  case K_UINT:
    return "integer";
  case K_NUM:
    return "number";
  case K_MODE:
    return "octal mode";
  case K_ENUM:
    return "keyword";
  case K_SEQ:
    return "sequence";
  default:
    return "mapping";
  }
}

static void man_row(FILE *out, const char *prefix, const struct key *k) {
  char range[256] = "";
  size_t i, o;

  fputs("T{\n\\%", out); /* \% : do not hyphenate the key */
  if (prefix[0] != '\0') {
    man_text(out, prefix);
    fputc('.', out);
  }
  man_text(out, k->name);
  fputs("\nT}|", out);
  man_text(out, man_type(k));
  fputc('|', out);
  if (k->flags & F_REQUIRED) {
    fputs("(required)", out);
  } else if (k->def == NULL) {
    fputs("(unset)", out);
  } else {
    man_text(out, k->def);
  }
  fputs("|T{\n", out);
  switch (k->type) {
  case K_UINT:
  case K_MODE:
    if (k->type == K_MODE) {
      snprintf(range, sizeof(range), "0..0777");
    } else {
      snprintf(range, sizeof(range), "%lld..%lld", k->min, k->max);
    }
    break;
  case K_NUM:
    snprintf(range, sizeof(range), "%g..%g", k->dmin, k->dmax);
    break;
  case K_ENUM:
    for (i = 0, o = 0; k->names[i] != NULL && o < sizeof(range); i++) {
      int w = snprintf(range + o, sizeof(range) - o, "%s%s", i ? ", " : "",
                       k->names[i]);
      o += w > 0 ? (size_t)w : 0;
    }
    break;
  default:
    break;
  }
  if (k->note != NULL) {
    size_t o2 = strlen(range);

    snprintf(range + o2, sizeof(range) - o2, "%stype %s only", o2 ? "; " : "",
             k->note);
  }
  if (k->flags & F_IGNORED) {
    size_t o2 = strlen(range);

    snprintf(range + o2, sizeof(range) - o2, "%saccepted, ignored",
             o2 ? "; " : "");
  }
  if (k->flags & F_MTASTSD) {
    size_t o2 = strlen(range);

    snprintf(range + o2, sizeof(range) - o2, "%smtastsd only", o2 ? "; " : "");
  }
  man_text(out, range[0] != '\0' ? range : "-");
  fputs("\nT}\n", out);
}

static void man_keys(FILE *out, const char *prefix, const struct key *keys) {
  char sub[CFG_PATH_MAX];
  size_t i, t;

  for (i = 0; keys[i].name != NULL; i++) {
    const struct key *k = &keys[i];

    switch (k->type) {
    case K_SECTION:
      if (k->sub != NULL) {
        man_keys(out, join(sub, sizeof(sub), prefix, k->name, strlen(k->name)),
                 k->sub);
      }
      break;
    case K_CACHE:
      man_row(out, "cache", &cache_keys[0]);
      for (t = 0; t < sizeof(cache_options) / sizeof(cache_options[0]); t++) {
        man_keys(out, "cache.options", cache_options[t]);
      }
      break;
    case K_ZONES:
      man_keys(out, "zones.NAME", k->sub);
      break;
    case K_OVERRIDES:
      fputs("T{\n\\%overrides.DOMAIN\nT}|string|(none)|T{\n\"none\", or a "
            "Postfix policy; mtastsd only\nT}\n",
            out);
      break;
    default:
      man_row(out, prefix, k);
      break;
    }
  }
}

void mtastsd_config_write_defaults_man(FILE *out) {
  fputs(".TS\n"
        "tab(|) allbox;\n"
        "lb lb lb lb\n"
        "l l l l.\n"
        "Key|Type|Default|Range, notes\n",
        out);
  man_keys(out, "", top_keys);
  fputs(".TE\n", out);
}
