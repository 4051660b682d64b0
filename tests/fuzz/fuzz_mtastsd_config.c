/*
 * fuzz_mtastsd_config.c - mtastsd_config_parse() over arbitrary YAML.
 *
 * Invariants (abort() when broken):
 * - NULL <=> at least one message; every message is one line beginning
 *   with "fuzz:" and, when it has a line number, that number is at most
 *   the number of lines of the input + 1;
 * - parsing is deterministic: a second parse writes the same messages;
 * - a valid config is usable: every value is within its documented
 *   range, defaulted strings are set, the cache type has its required
 *   option, each zone is found by its name, each override domain is a
 *   lower-case A-label that mts_idn_to_ascii() leaves unchanged and each
 *   answer is printable;
 * - round trip: the config written back as YAML (every field) parses
 *   to an equal config without messages.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mtasts/idn.h>
#include <mtasts/limits.h>

#include "config.h"

#define FUZZ_MAX_INPUT 65536

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct mtastsd_config *run(const uint8_t *data, size_t size,
                                  char **msgs) {
  size_t n = 0;
  FILE *f = open_memstream(msgs, &n);
  struct mtastsd_config *c;

  if (f == NULL) {
    abort();
  }
  c = mtastsd_config_parse("fuzz", data, size, f);
  if (fclose(f) != 0) {
    abort();
  }
  return c;
}

static void check_messages(const char *msgs, const uint8_t *data, size_t size) {
  size_t lines = 1, i;
  const char *p = msgs;

  for (i = 0; i < size; i++) {
    lines += data[i] == '\n' || data[i] == '\r';
  }
  while (*p != '\0') {
    const char *nl = strchr(p, '\n');
    unsigned long ln = 0;

    if (nl == NULL || strncmp(p, "fuzz:", 5) != 0) {
      abort();
    }
    p += 5;
    if (*p >= '0' && *p <= '9') {
      while (*p >= '0' && *p <= '9') {
        ln = ln * 10 + (unsigned long)(*p - '0');
        p++;
      }
      if (*p != ':' || ln == 0 || ln > lines + 1) {
        abort();
      }
    }
    p = nl + 1;
  }
}

static bool printable(const char *s) {
  for (; *s != '\0'; s++) {
    if ((unsigned char)*s < 0x20 || *s == 0x7f) {
      return false;
    }
  }
  return true;
}

static void check_config(const struct mtastsd_config *c) {
  size_t i;

  if (c->host == NULL || c->host[0] == '\0' || c->port == 0 ||
      c->unix_mode < -1 || c->unix_mode > 0777 || c->shutdown_timeout > 3600 ||
      c->cache_grace > MTS_STS_MAX_AGE_MAX || c->refresh_interval < 1 ||
      c->refresh_concurrency < 1 || c->refresh_concurrency > 10000 ||
      !(c->refresh_grace_ratio >= 0.01) || !(c->refresh_grace_ratio <= 1000) ||
      c->cache_size < 1 || c->cache_size > 10000000 ||
      c->redis_prefix == NULL || c->negative_ttl > 86400 ||
      (c->on_tempfail != MTASTSD_TEMPFAIL_NOTFOUND &&
       c->on_tempfail != MTASTSD_TEMPFAIL_TEMP)) {
    abort();
  }
  if ((c->unix_owner != NULL || c->unix_group != NULL) &&
      c->unix_path == NULL) {
    abort();
  }
  switch (c->cache_type) {
  case MTASTSD_CACHE_INTERNAL:
  case MTASTSD_CACHE_REDIS_SENTINEL:
  case MTASTSD_CACHE_POSTGRES:
    break;
  case MTASTSD_CACHE_SQLITE:
    if (c->sqlite_filename == NULL) {
      abort();
    }
    break;
  case MTASTSD_CACHE_REDIS:
    if (c->redis_url == NULL) {
      abort();
    }
    break;
  default:
    abort();
  }
  if (c->default_zone.name != NULL || c->default_zone.timeout < 1 ||
      c->default_zone.timeout > 3600) {
    abort();
  }
  for (i = 0; i < c->nzones; i++) {
    const struct mtastsd_zone *z = &c->zones[i];

    if (z->name == NULL || z->name[0] == '\0' || z->timeout < 1 ||
        z->timeout > 3600 ||
        mtastsd_config_zone(c, z->name, strlen(z->name)) != z) {
      abort();
    }
  }
  for (i = 0; i < c->noverrides; i++) {
    char out[MTS_DOMAIN_MAX + 1];
    const struct mtastsd_override *o = &c->overrides[i];

    if (mts_idn_to_ascii(o->domain, strlen(o->domain), out, sizeof(out)) !=
            MTS_OK ||
        strcmp(out, o->domain) != 0 ||
        (o->answer != NULL &&
         (!printable(o->answer) || o->answer[0] == '\0'))) {
      abort();
    }
  }
}

/* A YAML double-quoted string; non-ASCII as \\UXXXXXXXX escapes, since
 * raw NEL, LS and PS would be folded as line breaks. The input is valid
 * UTF-8 (libyaml checked it). */
static void yq(FILE *f, const char *s) {
  const unsigned char *p = (const unsigned char *)s;

  fputc('"', f);
  while (*p != '\0') {
    unsigned char ch = *p;

    if (ch >= 0x80) {
      unsigned long cp;
      int n = ch >= 0xf0 ? 3 : ch >= 0xe0 ? 2 : 1, k;

      cp = ch & (0x3fu >> n);
      for (k = 1; k <= n && p[k] != '\0'; k++) {
        cp = (cp << 6) | (p[k] & 0x3fu);
      }
      fprintf(f, "\\U%08lx", cp);
      p += k;
      continue;
    }
    if (ch == '"' || ch == '\\') {
      fprintf(f, "\\%c", ch);
    } else if (ch < 0x20 || ch == 0x7f) {
      fprintf(f, "\\x%02x", ch);
    } else {
      fputc(ch, f);
    }
    p++;
  }
  fputc('"', f);
}

static void ykey_str(FILE *f, const char *ind, const char *k, const char *v) {
  if (v != NULL) {
    fprintf(f, "%s%s: ", ind, k);
    yq(f, v);
    fputc('\n', f);
  }
}

static const char *yb(bool b) {
  return b ? "true" : "false";
}

static void write_zone(FILE *f, const char *ind, const struct mtastsd_zone *z) {
  fprintf(f,
          "%stimeout: %u\n%sstrict_testing: %s\n%srequire_sni: %s\n"
          "%stlsrpt: %s\n",
          ind, z->timeout, ind, yb(z->strict_testing), ind, yb(z->require_sni),
          ind, yb(z->tlsrpt));
}

static char *write_yaml(const struct mtastsd_config *c, size_t *len) {
  static const char *const types[] = {"internal", "sqlite", "redis",
                                      "redis_sentinel", "postgres"};
  char *out = NULL;
  FILE *f = open_memstream(&out, len);
  size_t i;

  if (f == NULL) {
    abort();
  }
  ykey_str(f, "", "host", c->host);
  fprintf(f, "port: %u\n", c->port);
  ykey_str(f, "", "path", c->unix_path);
  if (c->unix_mode >= 0) {
    fprintf(f, "mode: 0%o\n", (unsigned)c->unix_mode);
  }
  ykey_str(f, "", "owner", c->unix_owner);
  ykey_str(f, "", "group", c->unix_group);
  fprintf(f, "reuse_port: %s\nshutdown_timeout: %u\ncache_grace: %u\n",
          yb(c->reuse_port), c->shutdown_timeout, c->cache_grace);
  fprintf(f,
          "proactive_policy_fetching:\n  enabled: %s\n  interval: %u\n"
          "  concurrency_limit: %u\n  grace_ratio: %.17g\n",
          yb(c->refresh_enabled), c->refresh_interval, c->refresh_concurrency,
          c->refresh_grace_ratio);
  fprintf(f, "cache:\n  type: %s\n  options:\n", types[c->cache_type]);
  switch (c->cache_type) {
  case MTASTSD_CACHE_INTERNAL:
    fprintf(f, "    cache_size: %zu\n", c->cache_size);
    break;
  case MTASTSD_CACHE_SQLITE:
    ykey_str(f, "    ", "filename", c->sqlite_filename);
    break;
  case MTASTSD_CACHE_REDIS:
    ykey_str(f, "    ", "url", c->redis_url);
    ykey_str(f, "    ", "prefix", c->redis_prefix);
    fprintf(f, "    socket_timeout: %.17g\n    socket_connect_timeout: %.17g\n",
            c->redis_socket_timeout, c->redis_connect_timeout);
    break;
  case MTASTSD_CACHE_REDIS_SENTINEL:
    fputs("    sentinels: [[h, 1]]\n    sentinel_master_name: m\n", f);
    break;
  case MTASTSD_CACHE_POSTGRES:
    fputs("    dsn: d\n", f);
    break;
  }
  fputs("default_zone:\n", f);
  write_zone(f, "  ", &c->default_zone);
  fputs("zones:\n", f);
  for (i = 0; i < c->nzones; i++) {
    fputs("  ", f);
    yq(f, c->zones[i].name);
    fputs(":\n", f);
    write_zone(f, "    ", &c->zones[i]);
  }
  ykey_str(f, "", "resolver", c->resolver);
  ykey_str(f, "", "ca_file", c->ca_file);
  fprintf(f, "negative_ttl: %u\non_tempfail: %s\ndane: %s\n", c->negative_ttl,
          c->on_tempfail == MTASTSD_TEMPFAIL_TEMP ? "temp" : "notfound",
          yb(c->dane));
  ykey_str(f, "", "metrics_listen", c->metrics_listen);
  fputs("overrides:\n", f);
  for (i = 0; i < c->noverrides; i++) {
    fputs("  ", f);
    yq(f, c->overrides[i].domain);
    fputs(": ", f);
    yq(f, c->overrides[i].answer != NULL ? c->overrides[i].answer : "none");
    fputc('\n', f);
  }
  if (fclose(f) != 0) {
    abort();
  }
  return out;
}

static bool streq(const char *a, const char *b) {
  return (a == NULL && b == NULL) ||
         (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static bool near(double a, double b) {
  return fabs(a - b) <= 1e-9 * fabs(a);
}

static bool zone_eq(const struct mtastsd_zone *a,
                    const struct mtastsd_zone *b) {
  return streq(a->name, b->name) && a->timeout == b->timeout &&
         a->strict_testing == b->strict_testing &&
         a->require_sni == b->require_sni && a->tlsrpt == b->tlsrpt;
}

static void compare(const struct mtastsd_config *a,
                    const struct mtastsd_config *b) {
  size_t i;

  if (!streq(a->host, b->host) || a->port != b->port ||
      !streq(a->unix_path, b->unix_path) || a->unix_mode != b->unix_mode ||
      !streq(a->unix_owner, b->unix_owner) ||
      !streq(a->unix_group, b->unix_group) || a->reuse_port != b->reuse_port ||
      a->shutdown_timeout != b->shutdown_timeout ||
      a->cache_grace != b->cache_grace ||
      a->refresh_enabled != b->refresh_enabled ||
      a->refresh_interval != b->refresh_interval ||
      a->refresh_concurrency != b->refresh_concurrency ||
      !near(a->refresh_grace_ratio, b->refresh_grace_ratio) ||
      a->cache_type != b->cache_type ||
      (a->cache_type == MTASTSD_CACHE_INTERNAL &&
       a->cache_size != b->cache_size) ||
      !streq(a->sqlite_filename, b->sqlite_filename) ||
      !streq(a->redis_url, b->redis_url) ||
      (a->cache_type == MTASTSD_CACHE_REDIS &&
       (!streq(a->redis_prefix, b->redis_prefix) ||
        !near(a->redis_socket_timeout, b->redis_socket_timeout) ||
        !near(a->redis_connect_timeout, b->redis_connect_timeout))) ||
      !zone_eq(&a->default_zone, &b->default_zone) || a->nzones != b->nzones ||
      !streq(a->resolver, b->resolver) || !streq(a->ca_file, b->ca_file) ||
      a->negative_ttl != b->negative_ttl || a->on_tempfail != b->on_tempfail ||
      a->dane != b->dane || !streq(a->metrics_listen, b->metrics_listen) ||
      a->noverrides != b->noverrides) {
    abort();
  }
  for (i = 0; i < a->nzones; i++) {
    if (!zone_eq(&a->zones[i], &b->zones[i])) {
      abort();
    }
  }
  for (i = 0; i < a->noverrides; i++) {
    if (!streq(a->overrides[i].domain, b->overrides[i].domain) ||
        !streq(a->overrides[i].answer, b->overrides[i].answer)) {
      abort();
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct mtastsd_config *c, *c2, *c3;
  char *m1 = NULL, *m2 = NULL, *m3 = NULL, *yaml;
  size_t ylen = 0;

  if (size > FUZZ_MAX_INPUT) {
    return 0;
  }
  c = run(data, size, &m1);
  if ((c == NULL) != (m1[0] != '\0')) {
    abort();
  }
  check_messages(m1, data, size);
  c2 = run(data, size, &m2);
  if (strcmp(m1, m2) != 0 || (c2 == NULL) != (c == NULL)) {
    abort();
  }
  if (c != NULL) {
    check_config(c);
    compare(c, c2);
    yaml = write_yaml(c, &ylen);
    c3 = run((const uint8_t *)yaml, ylen, &m3);
    if (c3 == NULL || m3[0] != '\0') {
      fprintf(stderr, "round trip failed:\n%s\n%s", yaml, m3);
      abort();
    }
    compare(c, c3);
    mtastsd_config_free(c3);
    free(m3);
    free(yaml);
  }
  mtastsd_config_free(c2);
  mtastsd_config_free(c);
  free(m2);
  free(m1);
  return 0;
}
