/*
 * config.c - mtasts-tlsrptd's YAML configuration; see config.h.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include <mtasts/mtasts.h>

#include "shared.h"

#define CONFIG_MAX_BYTES (1024 * 1024)

struct ld {
  yaml_document_t *doc;
  char *err;
  size_t errsize;
  bool failed;
  const yaml_node_t *key; /* the key being read: unknown keys name its line */
};

static void ld_err(struct ld *l, const yaml_node_t *n, const char *fmt, ...)
    MTS_PRINTF(3, 4);
static void ld_err(struct ld *l, const yaml_node_t *n, const char *fmt, ...) {
  char msg[256];
  va_list ap;

  if (l->failed) {
    return;
  }
  va_start(ap, fmt);
  (void)vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (n != NULL) {
    (void)snprintf(l->err, l->errsize, "line %zu: %s",
                   (size_t)n->start_mark.line + 1, msg);
  } else {
    (void)snprintf(l->err, l->errsize, "%s", msg);
  }
  l->failed = true;
}

static const char *scalar(const yaml_node_t *n) {
  return n != NULL && n->type == YAML_SCALAR_NODE
             ? (const char *)n->data.scalar.value
             : NULL;
}

static bool is_null(const yaml_node_t *n) {
  const char *s = scalar(n);

  return s != NULL && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
         (s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0);
}

static void set_str(struct ld *l, const yaml_node_t *n, const char *key,
                    char **out) {
  const char *s = scalar(n);

  if (s == NULL) {
    ld_err(l, n, "%s: a string is wanted", key);
    return;
  }
  free(*out);
  *out = NULL;
  if (is_null(n)) {
    return;
  }
  *out = strdup(s);
  if (*out == NULL) {
    ld_err(l, n, "out of memory");
  }
}

static void set_bool(struct ld *l, const yaml_node_t *n, const char *key,
                     bool *out) {
  const char *s = scalar(n);

  if (s != NULL && (strcmp(s, "true") == 0 || strcmp(s, "yes") == 0)) {
    *out = true;
  } else if (s != NULL && (strcmp(s, "false") == 0 || strcmp(s, "no") == 0)) {
    *out = false;
  } else {
    ld_err(l, n, "%s: true or false is wanted", key);
  }
}

static void set_u32(struct ld *l, const yaml_node_t *n, const char *key,
                    uint32_t max, int base, uint32_t *out) {
  const char *s = scalar(n);
  char *end = NULL;
  unsigned long v;

  errno = 0;
  v = s != NULL ? strtoul(s, &end, base) : 0;
  if (s == NULL || s[0] == '\0' || s[0] == '-' || end == s || *end != '\0' ||
      errno != 0 || v > max) {
    ld_err(l, n, "%s: a whole number from 0 to %u is wanted", key,
           (unsigned)max);
    return;
  }
  *out = (uint32_t)v;
}

/* log_level: mtasts-tlsrptd's names, and as aliases mtastsd's -v names of
 * the same levels; unset (or null): info. */
static const struct {
  const char *name;
  enum mts_log_level level;
} log_levels[] = {
    {"err", MTS_LOG_ERR},     {"warning", MTS_LOG_WARNING},
    {"info", MTS_LOG_INFO},   {"debug", MTS_LOG_DEBUG},
    {"error", MTS_LOG_ERR},   {"warn", MTS_LOG_WARNING},
};

static void set_log_level(struct ld *l, const yaml_node_t *n,
                          enum mts_log_level *out) {
  const char *s = scalar(n);
  size_t i;

  if (s == NULL) {
    ld_err(l, n, "log_level: a string is wanted");
    return;
  }
  *out = MTS_LOG_INFO;
  if (is_null(n)) {
    return;
  }
  for (i = 0; i < sizeof(log_levels) / sizeof(log_levels[0]); i++) {
    if (strcmp(s, log_levels[i].name) == 0) {
      *out = log_levels[i].level;
      return;
    }
  }
  ld_err(l, n,
         "log_level: '%.40s' is not one of err, warning, info, debug (or "
         "mtastsd's error, warn)",
         s);
}

static void set_list(struct ld *l, const yaml_node_t *n, const char *key,
                     struct tlsrptd_list *out) {
  yaml_node_item_t *it;
  size_t i = 0;

  if (n->type != YAML_SEQUENCE_NODE) {
    ld_err(l, n, "%s: a list is wanted", key);
    return;
  }
  out->n = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
  out->v = calloc(out->n + 1, sizeof(*out->v));
  if (out->v == NULL) {
    out->n = 0;
    ld_err(l, n, "out of memory");
    return;
  }
  for (it = n->data.sequence.items.start; it < n->data.sequence.items.top;
       it++, i++) {
    const yaml_node_t *e = yaml_document_get_node(l->doc, *it);
    const char *s = scalar(e);

    if (s == NULL || s[0] == '\0') {
      ld_err(l, e, "%s: items must be non-empty strings", key);
      return;
    }
    out->v[i] = strdup(s);
    if (out->v[i] == NULL) {
      ld_err(l, e, "out of memory");
      return;
    }
  }
}

static void list_free(struct tlsrptd_list *li) {
  size_t i;

  for (i = 0; i < li->n; i++) {
    free(li->v[i]);
  }
  free(li->v);
  li->v = NULL;
  li->n = 0;
}

typedef void (*section_fn)(struct ld *l, struct tlsrptd_config *c,
                           const char *key, const yaml_node_t *v);

static void each_pair(struct ld *l, struct tlsrptd_config *c,
                      const yaml_node_t *map, const char *where,
                      section_fn fn) {
  yaml_node_pair_t *p;

  if (map->type != YAML_MAPPING_NODE) {
    ld_err(l, map, "%s: a mapping is wanted", where);
    return;
  }
  for (p = map->data.mapping.pairs.start;
       p < map->data.mapping.pairs.top && !l->failed; p++) {
    const yaml_node_t *k = yaml_document_get_node(l->doc, p->key);
    const yaml_node_t *v = yaml_document_get_node(l->doc, p->value);
    const char *ks = scalar(k);

    if (ks == NULL || v == NULL) {
      ld_err(l, k, "%s: keys must be strings", where);
      return;
    }
    l->key = k;
    fn(l, c, ks, v);
  }
}

static void sec_collector(struct ld *l, struct tlsrptd_config *c,
                          const char *k, const yaml_node_t *v) {
  if (strcmp(k, "socket") == 0) {
    set_str(l, v, k, &c->socket);
  } else if (strcmp(k, "mode") == 0) {
    uint32_t m = 0;

    set_u32(l, v, "collector.mode", 07777, 8, &m);
    c->socket_mode = (int)m;
  } else if (strcmp(k, "owner") == 0) {
    set_str(l, v, k, &c->socket_owner);
  } else if (strcmp(k, "group") == 0) {
    set_str(l, v, k, &c->socket_group);
  } else if (strcmp(k, "quarantine_dir") == 0) {
    set_str(l, v, k, &c->quarantine_dir);
  } else {
    ld_err(l, l->key, "collector: unknown key '%s'", k);
  }
}

static void sec_follow(struct ld *l, struct tlsrptd_config *c, const char *k,
                       const yaml_node_t *v) {
  if (strcmp(k, "file") == 0) {
    set_str(l, v, k, &c->follow_file);
  } else if (strcmp(k, "command") == 0) {
    list_free(&c->follow_command);
    set_list(l, v, "follow.command", &c->follow_command);
  } else if (strcmp(k, "state_file") == 0) {
    set_str(l, v, k, &c->follow_state);
  } else if (strcmp(k, "from_start") == 0) {
    set_bool(l, v, k, &c->follow_from_start);
  } else if (strcmp(k, "exclude_recipients") == 0) {
    list_free(&c->exclude_recipients);
    set_list(l, v, "follow.exclude_recipients", &c->exclude_recipients);
  } else {
    ld_err(l, l->key, "follow: unknown key '%s'", k);
  }
}

static void sec_report(struct ld *l, struct tlsrptd_config *c, const char *k,
                       const yaml_node_t *v) {
  if (strcmp(k, "organization_name") == 0) {
    set_str(l, v, k, &c->org);
  } else if (strcmp(k, "contact_info") == 0) {
    set_str(l, v, k, &c->contact);
  } else if (strcmp(k, "submitter") == 0) {
    set_str(l, v, k, &c->submitter);
  } else if (strcmp(k, "from") == 0) {
    set_str(l, v, k, &c->from);
  } else if (strcmp(k, "sendmail") == 0) {
    set_str(l, v, k, &c->sendmail);
  } else if (strcmp(k, "send_window") == 0) {
    set_u32(l, v, "report.send_window", 86400, 10, &c->send_window);
  } else if (strcmp(k, "dry_run_dir") == 0) {
    set_str(l, v, k, &c->dry_run_dir);
  } else if (strcmp(k, "opt_out") == 0) {
    list_free(&c->opt_out);
    set_list(l, v, "report.opt_out", &c->opt_out);
  } else if (strcmp(k, "resolver") == 0) {
    set_str(l, v, k, &c->resolver);
  } else if (strcmp(k, "ca_file") == 0) {
    set_str(l, v, k, &c->ca_file);
  } else if (strcmp(k, "https_verify") == 0) {
    set_bool(l, v, k, &c->https_verify);
  } else if (strcmp(k, "timeout") == 0) {
    set_u32(l, v, "report.timeout", 600, 10, &c->timeout);
    if (c->timeout == 0) {
      ld_err(l, v, "report.timeout: at least 1 second");
    }
  } else if (strcmp(k, "keep_days") == 0) {
    set_u32(l, v, "report.keep_days", 3650, 10, &c->keep_days);
    if (c->keep_days < 2) {
      ld_err(l, v, "report.keep_days: at least 2");
    }
  } else {
    ld_err(l, l->key, "report: unknown key '%s'", k);
  }
}

static void sec_shared(struct ld *l, struct tlsrptd_config *c, const char *k,
                       const yaml_node_t *v) {
  const char *s = scalar(v);

  if (strcmp(k, "type") == 0) {
    if (s == NULL || strcmp(s, "redis") != 0) {
      ld_err(l, v, "shared.type: only redis is supported");
    }
  } else if (strcmp(k, "url") == 0) {
    set_str(l, v, k, &c->shared_url);
  } else if (strcmp(k, "prefix") == 0) {
    set_str(l, v, k, &c->shared_prefix);
    if (!l->failed && c->shared_prefix != NULL &&
        (strlen(c->shared_prefix) > 128 ||
         strpbrk(c->shared_prefix, " \t\r\n") != NULL)) {
      ld_err(l, v, "shared.prefix: at most 128 characters, no blanks");
    }
  } else if (strcmp(k, "timeout") == 0) {
    set_u32(l, v, "shared.timeout", 60, 10, &c->shared_timeout);
    if (c->shared_timeout == 0) {
      ld_err(l, v, "shared.timeout: at least 1 second");
    }
  } else {
    ld_err(l, l->key, "shared: unknown key '%s'", k);
  }
}

static void sec_top(struct ld *l, struct tlsrptd_config *c, const char *k,
                    const yaml_node_t *v) {
  if (strcmp(k, "state_db") == 0) {
    set_str(l, v, k, &c->state_db);
  } else if (strcmp(k, "host_name") == 0) {
    set_str(l, v, k, &c->host_name);
  } else if (strcmp(k, "log_level") == 0) {
    set_log_level(l, v, &c->log_level);
  } else if (strcmp(k, "collector") == 0) {
    if (!is_null(v)) {
      each_pair(l, c, v, "collector", sec_collector);
    }
  } else if (strcmp(k, "follow") == 0) {
    if (!is_null(v)) {
      each_pair(l, c, v, "follow", sec_follow);
    }
  } else if (strcmp(k, "report") == 0) {
    each_pair(l, c, v, "report", sec_report);
  } else if (strcmp(k, "shared") == 0) {
    if (!is_null(v)) {
      each_pair(l, c, v, "shared", sec_shared);
      if (!l->failed && c->shared_url == NULL) {
        ld_err(l, v, "shared: url is required");
      }
    }
  } else {
    ld_err(l, l->key, "unknown key '%s'", k);
  }
}

static bool domain_ok(const char *d) {
  size_t i, n = d != NULL ? strlen(d) : 0;

  if (n == 0 || n > 253) {
    return false;
  }
  for (i = 0; i < n; i++) {
    char ch = d[i];

    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
          ch == '-' || ch == '.')) {
      return false;
    }
  }
  return true;
}

/* Cross-field checks (RFC 8460 5.3: the submitter is contact-info's
 * domain). */
static void check(struct ld *l, struct tlsrptd_config *c) {
  const char *cd;

  if (c->org == NULL || c->contact == NULL) {
    ld_err(l, NULL, "report.organization_name and report.contact_info are "
                    "required");
    return;
  }
  cd = strrchr(c->contact, '@');
  if (cd == NULL || cd == c->contact || !domain_ok(cd + 1)) {
    ld_err(l, NULL, "report.contact_info must be an address "
                    "local@domain (A-label, lower case)");
    return;
  }
  if (c->submitter == NULL) {
    c->submitter = strdup(cd + 1);
    if (c->submitter == NULL) {
      ld_err(l, NULL, "out of memory");
      return;
    }
  } else if (strcmp(c->submitter, cd + 1) != 0) {
    ld_err(l, NULL,
           "report.submitter (%.100s) must equal the domain of "
           "report.contact_info (%.100s): RFC 8460 5.3",
           c->submitter, cd + 1);
    return;
  }
  if (c->from == NULL) {
    c->from = strdup(c->contact);
    if (c->from == NULL) {
      ld_err(l, NULL, "out of memory");
      return;
    }
  }
  if (c->sendmail != NULL && c->sendmail[0] != '/') {
    ld_err(l, NULL, "report.sendmail must start with an absolute path");
    return;
  }
  if (c->follow_file != NULL && c->follow_command.n > 0) {
    ld_err(l, NULL, "follow: give file or command, not both");
    return;
  }
  if (c->shared_url != NULL) {
    struct tlsrptd_redis_url u;
    char e[200];

    if (tlsrptd_redis_url_parse(c->shared_url, &u, e, sizeof(e)) != 0) {
      ld_err(l, NULL, "%s", e);
      return;
    }
    if (c->shared_prefix == NULL) {
      c->shared_prefix = strdup(TLSRPTD_SHARED_PREFIX_DEFAULT);
      if (c->shared_prefix == NULL) {
        ld_err(l, NULL, "out of memory");
      }
    }
  }
}

struct tlsrptd_config *tlsrptd_config_load(const char *path, char *err,
                                           size_t errsize) {
  struct tlsrptd_config *c = calloc(1, sizeof(*c));
  yaml_parser_t parser;
  yaml_document_t doc;
  struct ld l;
  FILE *f;
  yaml_node_t *root;

  if (c == NULL) {
    (void)snprintf(err, errsize, "out of memory");
    return NULL;
  }
  c->socket_mode = -1;
  c->log_level = MTS_LOG_INFO;
  c->send_window = MTS_RPT_SEND_WINDOW;
  c->https_verify = true;
  c->timeout = 60;
  c->keep_days = 14;
  c->shared_timeout = 5;
  f = fopen(path, "rb");
  if (f == NULL) {
    (void)snprintf(err, errsize, "%s: %s", path, strerror(errno));
    tlsrptd_config_free(c);
    return NULL;
  }
  if (!yaml_parser_initialize(&parser)) {
    (void)fclose(f);
    (void)snprintf(err, errsize, "out of memory");
    tlsrptd_config_free(c);
    return NULL;
  }
  yaml_parser_set_input_file(&parser, f);
  if (!yaml_parser_load(&parser, &doc)) {
    (void)snprintf(err, errsize, "%s: line %zu: %s", path,
                   (size_t)parser.problem_mark.line + 1,
                   parser.problem != NULL ? parser.problem : "YAML error");
    yaml_parser_delete(&parser);
    (void)fclose(f);
    tlsrptd_config_free(c);
    return NULL;
  }
  memset(&l, 0, sizeof(l));
  l.doc = &doc;
  l.err = err;
  l.errsize = errsize;
  root = yaml_document_get_root_node(&doc);
  if (root == NULL) {
    ld_err(&l, NULL, "empty configuration");
  } else {
    each_pair(&l, c, root, "top level", sec_top);
  }
  if (!l.failed) {
    check(&l, c);
  }
  if (!l.failed && c->state_db == NULL) {
    c->state_db = strdup(TLSRPTD_STATE_DEFAULT);
  }
  yaml_document_delete(&doc);
  yaml_parser_delete(&parser);
  if (ftell(f) > CONFIG_MAX_BYTES && !l.failed) {
    (void)snprintf(err, errsize, "%s: larger than %d bytes", path,
                   CONFIG_MAX_BYTES);
    l.failed = true;
  }
  (void)fclose(f);
  if (l.failed || c->state_db == NULL) {
    if (!l.failed) {
      (void)snprintf(err, errsize, "out of memory");
    }
    tlsrptd_config_free(c);
    return NULL;
  }
  return c;
}

void tlsrptd_config_free(struct tlsrptd_config *c) {
  if (c == NULL) {
    return;
  }
  free(c->state_db);
  free(c->host_name);
  free(c->socket);
  free(c->socket_owner);
  free(c->socket_group);
  free(c->quarantine_dir);
  free(c->follow_file);
  list_free(&c->follow_command);
  free(c->follow_state);
  list_free(&c->exclude_recipients);
  free(c->org);
  free(c->contact);
  free(c->submitter);
  free(c->from);
  free(c->sendmail);
  free(c->dry_run_dir);
  list_free(&c->opt_out);
  free(c->resolver);
  free(c->ca_file);
  free(c->shared_url);
  free(c->shared_prefix);
  free(c);
}
