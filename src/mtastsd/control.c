/*
 * control.c - the control socket: one command line in, one JSON
 * document out. See control.h and docs/internals/control.md.
 */
#include "control.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mtasts/socketmap.h>
#include <mtasts/sts_discover.h>
#include <mtasts/sts_policy.h>

#include "oneshot.h"

#define C_LOG "CTL"

struct mtastsd_control {
  struct mtastsd_oneshot *os;
  struct mtastsd_log *log;
  struct mts_ctx *ctx;
  mtastsd_control_resolver_fn fn;
  void *arg;
};

/* ---- a small JSON writer (the daemon does not link jansson) ---- */

struct jb {
  char *p;
  size_t len, cap;
  bool bad; /* out of memory or over CONTROL_REPLY_MAX: sticky */
};

static void jb_room(struct jb *b, size_t n) {
  size_t cap;
  char *p;

  if (b->bad) {
    return;
  }
  if (n > CONTROL_REPLY_MAX - b->len) {
    b->bad = true;
    return;
  }
  if (b->len + n < b->cap) {
    return;
  }
  cap = b->cap == 0 ? 4096 : b->cap;
  while (cap <= b->len + n) {
    cap *= 2;
  }
  p = realloc(b->p, cap);
  if (p == NULL) {
    b->bad = true;
    return;
  }
  b->p = p;
  b->cap = cap;
}

static void jb_raw(struct jb *b, const char *s, size_t n) {
  jb_room(b, n);
  if (!b->bad) {
    memcpy(b->p + b->len, s, n);
    b->len += n;
  }
}

static void jb_fmt(struct jb *b, const char *fmt, ...) MTS_PRINTF(2, 3);

static void jb_fmt(struct jb *b, const char *fmt, ...) {
  char tmp[64];
  va_list ap;
  int n;

  va_start(ap, fmt);
  n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof(tmp)) {
    b->bad = true;
    return;
  }
  jb_raw(b, tmp, (size_t)n);
}

/* A JSON string. Bytes outside printable ASCII become \u00XX: every
 * string here is ASCII already (A-labels, escaped reasons). */
static void jb_str(struct jb *b, const char *s) {
  static const char hex[] = "0123456789abcdef";

  jb_raw(b, "\"", 1);
  for (; s != NULL && *s != '\0'; s++) {
    unsigned char ch = (unsigned char)*s;

    if (ch == '"' || ch == '\\') {
      char e[2] = {'\\', (char)ch};

      jb_raw(b, e, 2);
    } else if (ch < 0x20 || ch >= 0x7f) {
      char e[6] = {'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 0xf]};

      jb_raw(b, e, 6);
    } else {
      jb_raw(b, (const char *)&ch, 1);
    }
  }
  jb_raw(b, "\"", 1);
}

static void jb_key(struct jb *b, const char *k, bool first) {
  if (!first) {
    jb_raw(b, ",", 1);
  }
  jb_str(b, k);
  jb_raw(b, ":", 1);
}

static void jb_kstr(struct jb *b, const char *k, const char *v) {
  jb_key(b, k, false);
  jb_str(b, v);
}

static void jb_kint(struct jb *b, const char *k, int64_t v) {
  jb_key(b, k, false);
  jb_fmt(b, "%" PRId64, v);
}

static void jb_kbool(struct jb *b, const char *k, bool v) {
  jb_key(b, k, false);
  jb_raw(b, v ? "true" : "false", v ? 4 : 5);
}

/* A time, or null when unset (0). */
static void jb_ktime(struct jb *b, const char *k, int64_t v, bool set) {
  jb_key(b, k, false);
  if (set) {
    jb_fmt(b, "%" PRId64, v);
  } else {
    jb_raw(b, "null", 4);
  }
}

/* ---- records ---- */

struct walk {
  struct jb *b;
  int64_t now;
  size_t n;
};

static void record_json(struct jb *b, const struct mts_sts_resolver_record *r,
                        int64_t now, bool with_mx) {
  const struct mts_sts_entry *e = r->entry;
  bool pol = e->has_policy;

  jb_key(b, "domain", true);
  jb_str(b, r->domain);
  jb_kbool(b, "policy", pol);
  jb_kstr(b, "id", pol ? e->id : "");
  jb_kstr(b, "mode", pol ? mts_sts_mode_str(e->mode) : "");
  jb_kint(b, "max_age", pol ? e->max_age : 0);
  jb_ktime(b, "fetched_at", e->fetched_at, pol);
  jb_ktime(b, "expires", r->expires, pol);
  jb_kbool(b, "expired", pol && now >= r->expires);
  jb_ktime(b, "txt_checked_at", r->txt_checked_at, r->txt_checked);
  jb_ktime(b, "negative_until", r->neg_until, r->neg_until > now);
  jb_kstr(b, "failed_id", e->failed_id);
  jb_ktime(b, "failed_at", e->failed_at, e->failed_id[0] != '\0');
  jb_kstr(b, "last_verdict", mts_sts_verdict_str(r->last_verdict));
  jb_kstr(b, "reason", r->reason);
  jb_kbool(b, "inflight", r->inflight);
  if (with_mx) {
    size_t i, n = r->policy != NULL ? mts_sts_policy_mx_count(r->policy) : 0;

    jb_key(b, "mx", false);
    jb_raw(b, "[", 1);
    for (i = 0; i < n; i++) {
      if (i > 0) {
        jb_raw(b, ",", 1);
      }
      jb_str(b, mts_sts_policy_mx(r->policy, i));
    }
    jb_raw(b, "]", 1);
  }
}

static bool list_each(void *arg, const struct mts_sts_resolver_record *r) {
  struct walk *w = arg;

  jb_raw(w->b, w->n > 0 ? ",{" : "{", w->n > 0 ? 2 : 1);
  record_json(w->b, r, w->now, false);
  jb_raw(w->b, "}", 1);
  w->n++;
  return !w->b->bad;
}

/* ---- commands ---- */

/* Replace whatever was written with an error; \p domain may be NULL. */
static void reply_error_domain(struct jb *b, const char *cmd,
                               const char *domain, const char *msg) {
  b->len = 0;
  b->bad = false;
  jb_raw(b, "{", 1);
  jb_key(b, "ok", true);
  jb_raw(b, "false", 5);
  jb_kstr(b, "command", cmd);
  if (domain != NULL) {
    jb_kstr(b, "domain", domain);
  }
  jb_kstr(b, "error", msg);
  jb_raw(b, "}", 1);
}

static void reply_error(struct jb *b, const char *cmd, const char *msg) {
  reply_error_domain(b, cmd, NULL, msg);
}

/* The argument as a normalised domain (as socketmap keys: case, one
 * trailing dot, U-labels), or NULL with an error written. */
static bool arg_domain(struct jb *b, const char *cmd, const char *arg,
                       size_t alen, char *out, size_t outsize) {
  enum mts_socketmap_key_kind kind = MTS_SOCKETMAP_KEY_INVALID;

  if (alen == 0) {
    reply_error(b, cmd, "a domain is required");
    return false;
  }
  if (mts_socketmap_key_normalize((const uint8_t *)arg, alen, out, outsize,
                                  &kind) != MTS_OK ||
      kind != MTS_SOCKETMAP_KEY_DOMAIN) {
    reply_error(b, cmd, "not a domain name");
    return false;
  }
  return true;
}

static void cmd_list(struct jb *b, struct mts_sts_resolver *r, int64_t now) {
  struct walk w = {b, now, 0};

  jb_raw(b, "{\"ok\":true,\"command\":\"list\"", 27);
  jb_kint(b, "now", now);
  jb_key(b, "records", false);
  jb_raw(b, "[", 1);
  mts_sts_resolver_each(r, list_each, &w);
  jb_raw(b, "]", 1);
  jb_kint(b, "count", (int64_t)w.n);
  jb_raw(b, "}", 1);
}

static void cmd_show(struct jb *b, struct mts_sts_resolver *r, int64_t now,
                     const char *domain) {
  struct mts_sts_resolver_record rec;

  if (mts_sts_resolver_get(r, domain, &rec) != MTS_OK) {
    reply_error_domain(b, "show", domain, "not in memory");
    return;
  }
  jb_raw(b, "{\"ok\":true,\"command\":\"show\"", 27);
  jb_kint(b, "now", now);
  jb_key(b, "record", false);
  jb_raw(b, "{", 1);
  record_json(b, &rec, now, true);
  jb_raw(b, "}}", 2);
}

static void cmd_stats(struct jb *b, struct mts_sts_resolver *r) {
  struct mts_sts_resolver_stats s;
  size_t i;

  mts_sts_resolver_stats(r, &s);
  jb_raw(b, "{\"ok\":true,\"command\":\"stats\"", 28);
  jb_kint(b, "lookups", (int64_t)s.lookups);
  jb_kint(b, "hits", (int64_t)s.hits);
  jb_kint(b, "answers_policy", (int64_t)s.answers[MTS_ANSWER_POLICY]);
  jb_kint(b, "answers_none", (int64_t)s.answers[MTS_ANSWER_NONE]);
  jb_kint(b, "answers_temp", (int64_t)s.answers[MTS_ANSWER_TEMP]);
  jb_kint(b, "txt_queries", (int64_t)s.txt_queries);
  jb_kint(b, "fetches", (int64_t)s.fetches);
  jb_key(b, "fetch_results", false);
  jb_raw(b, "{", 1);
  for (i = 0; i < sizeof(s.fetch_results) / sizeof(s.fetch_results[0]); i++) {
    jb_key(b, mts_sts_verdict_str((enum mts_sts_verdict)i), i == 0);
    jb_fmt(b, "%" PRIu64, s.fetch_results[i]);
  }
  jb_raw(b, "}", 1);
  jb_kint(b, "refresh_failures", (int64_t)s.refresh_failures);
  jb_kint(b, "store_errors", (int64_t)s.store_errors);
  jb_kint(b, "records", (int64_t)s.records);
  jb_kint(b, "inflight", (int64_t)s.inflight);
  jb_raw(b, "}", 1);
}

static void run(struct jb *b, struct mts_sts_resolver *r, int64_t now,
                const char *line, size_t len) {
  char domain[MTS_SOCKETMAP_NORM_MAX];
  const char *sp, *arg = "";
  size_t clen, alen = 0;
  char cmd[16];
  enum mts_status st;

  while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ')) {
    len--;
  }
  sp = memchr(line, ' ', len);
  clen = sp != NULL ? (size_t)(sp - line) : len;
  if (sp != NULL) {
    arg = sp + 1;
    alen = len - clen - 1;
  }
  if (clen == 0 || clen >= sizeof(cmd) || memchr(line, '\0', len) != NULL) {
    reply_error(b, "", "unknown command (list, show, purge, refresh, stats)");
    return;
  }
  memcpy(cmd, line, clen);
  cmd[clen] = '\0';
  if (r == NULL) {
    reply_error(b, cmd, "the daemon is starting or stopping");
    return;
  }
  if (strcmp(cmd, "list") == 0 && alen == 0) {
    cmd_list(b, r, now);
  } else if (strcmp(cmd, "stats") == 0 && alen == 0) {
    cmd_stats(b, r);
  } else if (strcmp(cmd, "show") == 0) {
    if (arg_domain(b, cmd, arg, alen, domain, sizeof(domain))) {
      cmd_show(b, r, now, domain);
    }
  } else if (strcmp(cmd, "purge") == 0 || strcmp(cmd, "refresh") == 0) {
    struct mts_sts_resolver_record rec;
    bool known;

    if (!arg_domain(b, cmd, arg, alen, domain, sizeof(domain))) {
      return;
    }
    known = mts_sts_resolver_get(r, domain, &rec) == MTS_OK;
    st = cmd[0] == 'p' ? mts_sts_resolver_purge(r, domain)
                       : mts_sts_resolver_refresh(r, domain);
    if (st != MTS_OK) {
      reply_error_domain(b, cmd, domain, mts_status_str(st));
      return;
    }
    jb_raw(b, "{\"ok\":true", 10);
    jb_kstr(b, "command", cmd);
    jb_kstr(b, "domain", domain);
    jb_kbool(b, "was_known", known);
    jb_raw(b, "}", 1);
  } else {
    reply_error(b, cmd,
                strcmp(cmd, "list") == 0 || strcmp(cmd, "stats") == 0
                    ? "no argument expected"
                    : "unknown command (list, show, purge, refresh, stats)");
  }
}

char *mtastsd_control_run(struct mts_sts_resolver *r, int64_t now,
                          const char *line, size_t len, size_t *out_len) {
  struct jb b;

  memset(&b, 0, sizeof(b));
  run(&b, r, now, line, len);
  if (b.bad) {
    reply_error(&b, "", "reply too large or out of memory");
  }
  jb_raw(&b, "\n", 1);
  if (b.bad) {
    free(b.p);
    *out_len = 0;
    return NULL;
  }
  *out_len = b.len;
  return b.p;
}

/* ---- the socket ---- */

static bool line_complete(const char *buf, size_t len) {
  return memchr(buf, '\n', len) != NULL;
}

static void answer(void *arg, const char *buf, size_t len, bool whole,
                   char **resp, size_t *resp_len) {
  struct mtastsd_control *c = arg;
  const char *nl = memchr(buf, '\n', len);
  char shown[101];

  (void)whole;
  if (nl != NULL) {
    len = (size_t)(nl - buf);
  } else if (len >= CONTROL_LINE_MAX) {
    static const char big[] =
        "{\"ok\":false,\"command\":\"\",\"error\":\"command line too long\"}\n";

    *resp = malloc(sizeof(big) - 1);
    if (*resp != NULL) {
      memcpy(*resp, big, sizeof(big) - 1);
      *resp_len = sizeof(big) - 1;
    }
    return;
  }
  LOG_I(c->log, C_LOG, "control: %s",
        mtastsd_log_printable(buf, len, shown, sizeof(shown)));
  *resp = mtastsd_control_run(c->fn(c->arg), mts_ctx_now(c->ctx), buf, len,
                              resp_len);
}

int mtastsd_control_create(uv_loop_t *loop, struct mtastsd_log *lg,
                           struct mts_ctx *ctx, const char *path,
                           mtastsd_control_resolver_fn fn, void *arg,
                           struct mtastsd_control **out) {
  struct mtastsd_control *c = calloc(1, sizeof(*c));
  struct mtastsd_oneshot_opts o;

  *out = NULL;
  if (c == NULL) {
    LOG_E(lg, C_LOG, "out of memory");
    return -1;
  }
  c->log = lg;
  c->ctx = ctx;
  c->fn = fn;
  c->arg = arg;
  memset(&o, 0, sizeof(o));
  o.name = "control";
  o.max = CONTROL_LINE_MAX;
  o.timeout_ms = CONTROL_TIMEOUT_MS;
  o.max_conns = CONTROL_CONNS;
  o.complete = line_complete;
  o.answer = answer;
  o.arg = c;
  if (mtastsd_oneshot_create(loop, lg, &o, &c->os) != 0) {
    LOG_E(lg, C_LOG, "out of memory");
    free(c);
    return -1;
  }
  if (mtastsd_oneshot_listen_unix(c->os, path, 0600) != 0) {
    mtastsd_control_close(c);
    return -1;
  }
  *out = c;
  return 0;
}

void mtastsd_control_close(struct mtastsd_control *c) {
  if (c == NULL) {
    return;
  }
  mtastsd_oneshot_close(c->os);
  free(c);
}
