/*
 * cmd_cache.c - `mtasts cache list|show|purge|refresh`: the policy cache
 * of a running mtastsd, through its control socket (control_socket;
 * protocol: docs/internals/control.md), or, for list and show, the
 * SQLite store file itself when the daemon is not running (--sqlite).
 *
 * Exit: 0 done; 1 the daemon refused (e.g. show of an unknown domain);
 * 64 usage; 66 the store file cannot be read; 69 the daemon cannot be
 * reached; 70 internal error.
 */
#define _DEFAULT_SOURCE 1 /* SOCK_CLOEXEC, MSG_NOSIGNAL */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* EX_UNAVAILABLE: the daemon is not there. */
#define EX_UNAVAILABLE 69
/* The daemon's control_socket when the command line names none. */
#define DEFAULT_SOCKET "/run/mtastsd/control.sock"
/* Cap on a reply (the daemon caps at 64 MiB). */
#define REPLY_MAX ((size_t)64 * 1024 * 1024)
#define REPLY_TIMEOUT_S 30

struct cache_args {
  const char *verb;
  const char *domain;
  const char *socket;
  const char *sqlite;
  bool json;
};

static void usage_err(void) {
  cli_err("usage: mtasts cache list|show DOMAIN|purge DOMAIN|refresh DOMAIN "
          "[--socket PATH] [--json]; mtasts cache list|show DOMAIN "
          "--sqlite FILE [--json]");
}

static bool parse(int argc, char **argv, struct cache_args *a) {
  int i, npos = 0;
  const char *pos[2] = {NULL, NULL};

  memset(a, 0, sizeof(*a));
  a->socket = DEFAULT_SOCKET;
  for (i = 0; i < argc; i++) {
    const char *s = argv[i];

    if (strcmp(s, "--json") == 0) {
      a->json = true;
    } else if (strcmp(s, "--socket") == 0 || strcmp(s, "--sqlite") == 0) {
      if (i + 1 >= argc) {
        cli_err("cache: %s needs an argument", s);
        return false;
      }
      if (s[3] == 'o') {
        a->socket = argv[++i];
      } else {
        a->sqlite = argv[++i];
      }
    } else if (s[0] == '-' && s[1] != '\0') {
      cli_err("cache: unknown option '%s'", s);
      return false;
    } else if (npos < 2) {
      pos[npos++] = s;
    } else {
      usage_err();
      return false;
    }
  }
  a->verb = pos[0];
  a->domain = pos[1];
  if (a->verb == NULL) {
    usage_err();
    return false;
  }
  if (strcmp(a->verb, "list") == 0) {
    if (a->domain != NULL) {
      usage_err();
      return false;
    }
    return true;
  }
  if (strcmp(a->verb, "show") != 0 && strcmp(a->verb, "purge") != 0 &&
      strcmp(a->verb, "refresh") != 0) {
    cli_err("cache: unknown command '%s'", a->verb);
    usage_err();
    return false;
  }
  if (a->domain == NULL || a->domain[0] == '\0' ||
      strpbrk(a->domain, " \r\n") != NULL) {
    cli_err("cache %s: a domain is required", a->verb);
    return false;
  }
  if (a->sqlite != NULL && strcmp(a->verb, "show") != 0) {
    cli_err("cache %s: needs the running daemon (--sqlite is for list and "
            "show)",
            a->verb);
    return false;
  }
  return true;
}

/* ---- the control socket ---- */

/* Send one command, read the whole reply. \return 0, or an exit code. */
static int control_call(const char *path, const char *line, char **out) {
  struct sockaddr_un sun;
  struct timeval tv = {REPLY_TIMEOUT_S, 0};
  size_t plen = strlen(path), llen = strlen(line), len = 0, cap = 0;
  char *buf = NULL;
  int fd, rc = EX_UNAVAILABLE;

  *out = NULL;
  if (plen >= sizeof(sun.sun_path)) {
    cli_err("cache: %s: path too long for a UNIX socket", path);
    return CLI_EX_USAGE;
  }
  memset(&sun, 0, sizeof(sun));
  sun.sun_family = AF_UNIX;
  memcpy(sun.sun_path, path, plen);
  fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    cli_err("cache: socket: %s", strerror(errno));
    return CLI_EX_SOFTWARE;
  }
  (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
    cli_err("cache: cannot reach mtastsd at %s: %s (is control_socket set, "
            "and the daemon running? --socket PATH, or --sqlite FILE "
            "offline)",
            path, strerror(errno));
    goto done;
  }
  if (send(fd, line, llen, MSG_NOSIGNAL) != (ssize_t)llen) {
    cli_err("cache: %s: write: %s", path, strerror(errno));
    goto done;
  }
  (void)shutdown(fd, SHUT_WR);
  for (;;) {
    ssize_t n;

    if (cap - len < 4096) {
      char *nb;

      cap = cap == 0 ? 65536 : cap * 2;
      if (cap > REPLY_MAX + 1 || (nb = realloc(buf, cap)) == NULL) {
        cli_err("cache: reply too large");
        rc = CLI_EX_SOFTWARE;
        goto done;
      }
      buf = nb;
    }
    n = recv(fd, buf + len, cap - len - 1, 0);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      cli_err("cache: %s: read: %s", path,
              errno == EAGAIN ? "no reply in time" : strerror(errno));
      goto done;
    }
    if (n == 0) {
      break;
    }
    len += (size_t)n;
  }
  if (len == 0) {
    cli_err("cache: %s: the daemon closed without a reply", path);
    goto done;
  }
  buf[len] = '\0';
  *out = buf;
  buf = NULL;
  rc = 0;
done:
  free(buf);
  (void)close(fd);
  return rc;
}

/* ---- offline: the SQLite store ---- */

struct offline {
  struct mts_ctx *ctx;
  json_t *records;
  json_t *record; /* show */
  enum mts_status st;
  bool done;
  int64_t now;
};

static json_t *time_or_null(int64_t t, bool set) {
  return set ? json_integer((json_int_t)t) : json_null();
}

/* The same fields as the daemon's, from a stored record. */
static json_t *store_record_json(struct mts_ctx *ctx,
                                 const struct mts_cache_record *r, int64_t now,
                                 bool with_mx) {
  const struct mts_sts_entry *e = &r->entry;
  bool pol = e->has_policy;
  int64_t expires = pol ? e->fetched_at + e->max_age : 0;
  json_t *o = json_object();

  json_object_set_new(o, "domain", json_string(r->domain));
  json_object_set_new(o, "policy", json_boolean(pol));
  json_object_set_new(o, "id", json_string(pol ? e->id : ""));
  json_object_set_new(o, "mode",
                      json_string(pol ? mts_sts_mode_str(e->mode) : ""));
  json_object_set_new(o, "max_age", json_integer(pol ? e->max_age : 0));
  json_object_set_new(o, "fetched_at", time_or_null(e->fetched_at, pol));
  json_object_set_new(o, "expires", time_or_null(expires, pol));
  json_object_set_new(o, "expired", json_boolean(pol && now >= expires));
  json_object_set_new(o, "failed_id", json_string(e->failed_id));
  json_object_set_new(o, "failed_at",
                      time_or_null(e->failed_at, e->failed_id[0] != '\0'));
  json_object_set_new(o, "updated_at", json_integer(r->updated_at));
  if (with_mx) {
    json_t *mx = json_array();
    struct mts_sts_policy *p = NULL;

    if (r->body != NULL &&
        mts_sts_policy_parse(ctx, r->body, r->body_len, &p) == MTS_OK) {
      size_t i, n = mts_sts_policy_mx_count(p);

      for (i = 0; i < n; i++) {
        json_array_append_new(mx, json_string(mts_sts_policy_mx(p, i)));
      }
    }
    mts_sts_policy_destroy(p);
    json_object_set_new(o, "mx", mx);
  }
  return o;
}

static bool offline_each(void *arg, const struct mts_cache_record *rec) {
  struct offline *q = arg;

  json_array_append_new(q->records,
                        store_record_json(q->ctx, rec, q->now, false));
  return true;
}

static void offline_done(void *arg, enum mts_status st) {
  struct offline *q = arg;

  q->st = st;
  q->done = true;
}

static void offline_got(void *arg, enum mts_status st,
                        const struct mts_cache_record *rec) {
  struct offline *q = arg;

  q->st = st;
  q->done = true;
  if (st == MTS_OK) {
    q->record = store_record_json(q->ctx, rec, q->now, true);
  }
}

/* Build the reply document the daemon would send, from the file. */
static int offline_call(const struct cache_args *a, json_t **out) {
  struct offline q;
  struct mts_cache *store = NULL;
  uv_loop_t loop;
  struct stat sb;
  enum mts_status st;
  int rc = CLI_EX_SOFTWARE;

  *out = NULL;
  /* mts_cache_sqlite_create() makes a missing file: do not. */
  if (stat(a->sqlite, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    cli_err("cache: %s: %s", a->sqlite,
            errno != 0 ? strerror(errno) : "not a regular file");
    return CLI_EX_NOINPUT;
  }
  memset(&q, 0, sizeof(q));
  q.ctx = cli_ctx();
  if (q.ctx == NULL) {
    return CLI_EX_SOFTWARE;
  }
  q.now = mts_ctx_now(q.ctx);
  if (uv_loop_init(&loop) != 0) {
    mts_ctx_destroy(q.ctx);
    return CLI_EX_SOFTWARE;
  }
  st = mts_cache_sqlite_create(q.ctx, &loop, a->sqlite, &store);
  if (st != MTS_OK) {
    cli_err("cache: %s: cannot open the store: %s", a->sqlite,
            mts_status_str(st));
    rc = CLI_EX_NOINPUT;
    goto done;
  }
  if (strcmp(a->verb, "list") == 0) {
    q.records = json_array();
    st = mts_cache_scan(store, offline_each, offline_done, &q);
  } else {
    char dom[MTS_SOCKETMAP_NORM_MAX];
    enum mts_socketmap_key_kind kind = MTS_SOCKETMAP_KEY_INVALID;

    if (mts_socketmap_key_normalize((const uint8_t *)a->domain,
                                    strlen(a->domain), dom, sizeof(dom),
                                    &kind) != MTS_OK ||
        kind != MTS_SOCKETMAP_KEY_DOMAIN) {
      cli_err("cache show: %s: not a domain name", a->domain);
      rc = CLI_EX_USAGE;
      goto done;
    }
    st = mts_cache_get(store, dom, offline_got, &q);
  }
  if (st != MTS_OK) {
    cli_err("cache: %s: %s", a->sqlite, mts_status_str(st));
    goto done;
  }
  while (!q.done && uv_run(&loop, UV_RUN_ONCE) != 0) {
  }
  if (q.records != NULL && q.st == MTS_OK) {
    *out =
        json_pack("{s:b, s:s, s:s, s:I, s:O, s:I}", "ok", 1, "command", "list",
                  "source", "sqlite", "now", (json_int_t)q.now, "records",
                  q.records, "count", (json_int_t)json_array_size(q.records));
  } else if (q.record != NULL) {
    *out = json_pack("{s:b, s:s, s:s, s:I, s:O}", "ok", 1, "command", "show",
                     "source", "sqlite", "now", (json_int_t)q.now, "record",
                     q.record);
  } else if (q.st == MTS_ENOTFOUND) {
    *out = json_pack("{s:b, s:s, s:s, s:s}", "ok", 0, "command", "show",
                     "domain", a->domain, "error", "not in the store");
  } else {
    cli_err("cache: %s: %s", a->sqlite, mts_status_str(q.st));
    goto done;
  }
  rc = *out != NULL ? 0 : CLI_EX_SOFTWARE;
done:
  json_decref(q.records);
  json_decref(q.record);
  mts_cache_destroy(store);
  (void)uv_run(&loop, UV_RUN_DEFAULT);
  (void)uv_loop_close(&loop);
  mts_ctx_destroy(q.ctx);
  return rc;
}

/* ---- output ---- */

/* A time as "2026-01-02T03:04:05Z", or "-". */
static const char *iso(const json_t *v, char *buf, size_t n) {
  struct tm tm;
  time_t t;

  if (!json_is_integer(v)) {
    return "-";
  }
  t = (time_t)json_integer_value(v);
  if (gmtime_r(&t, &tm) == NULL ||
      strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
    return "?";
  }
  return buf;
}

static const char *str_or(const json_t *o, const char *k, const char *dflt) {
  const char *s = json_string_value(json_object_get(o, k));

  return s != NULL && s[0] != '\0' ? s : dflt;
}

static void print_list(const json_t *doc) {
  const json_t *recs = json_object_get(doc, "records");
  size_t i;
  char t[32];

  printf("%-40s %-8s %-24s %-20s %s\n", "DOMAIN", "MODE", "ID", "EXPIRES",
         "LAST");
  for (i = 0; i < json_array_size(recs); i++) {
    const json_t *r = json_array_get(recs, i);
    const char *last = str_or(r, "last_verdict", "-");

    printf("%-40s %-8s %-24s %-20s %s%s\n", str_or(r, "domain", "?"),
           str_or(r, "mode", "-"), str_or(r, "id", "-"),
           iso(json_object_get(r, "expires"), t, sizeof(t)), last,
           json_is_true(json_object_get(r, "expired")) ? " (expired)" : "");
  }
  printf("%zu record(s)\n", json_array_size(recs));
}

static void print_show(const json_t *doc) {
  const json_t *r = json_object_get(doc, "record");
  const json_t *mx = json_object_get(r, "mx");
  static const char *const times[] = {"fetched_at",     "expires",
                                      "txt_checked_at", "negative_until",
                                      "failed_at",      "updated_at"};
  char t[32];
  size_t i;

  printf("domain:         %s\n", str_or(r, "domain", "?"));
  printf("policy:         %s\n",
         json_is_true(json_object_get(r, "policy")) ? "yes" : "no");
  printf("id:             %s\n", str_or(r, "id", "-"));
  printf("mode:           %s\n", str_or(r, "mode", "-"));
  printf("max_age:        %lld\n",
         (long long)json_integer_value(json_object_get(r, "max_age")));
  for (i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
    const json_t *v = json_object_get(r, times[i]);

    if (v != NULL) {
      char label[24];

      (void)snprintf(label, sizeof(label), "%s:", times[i]);
      printf("%-15s %s\n", label, iso(v, t, sizeof(t)));
    }
  }
  printf("expired:        %s\n",
         json_is_true(json_object_get(r, "expired")) ? "yes" : "no");
  printf("failed_id:      %s\n", str_or(r, "failed_id", "-"));
  if (json_object_get(r, "last_verdict") != NULL) {
    printf("last_verdict:   %s\n", str_or(r, "last_verdict", "-"));
    printf("reason:         %s\n", str_or(r, "reason", "-"));
    printf("inflight:       %s\n",
           json_is_true(json_object_get(r, "inflight")) ? "yes" : "no");
  }
  for (i = 0; i < json_array_size(mx); i++) {
    printf("mx:             %s\n", json_string_value(json_array_get(mx, i)));
  }
}

int cmd_cache(int argc, char **argv) {
  struct cache_args a;
  json_t *doc = NULL;
  json_error_t jerr;
  int rc;

  if (!parse(argc, argv, &a)) {
    return CLI_EX_USAGE;
  }
  if (a.sqlite != NULL) {
    rc = offline_call(&a, &doc);
    if (rc != 0) {
      return rc;
    }
  } else {
    char line[600];
    char *reply = NULL;
    int n =
        snprintf(line, sizeof(line), "%s%s%s\n", a.verb,
                 a.domain != NULL ? " " : "", a.domain != NULL ? a.domain : "");

    if (n < 0 || (size_t)n >= sizeof(line)) {
      cli_err("cache: domain too long");
      return CLI_EX_USAGE;
    }
    rc = control_call(a.socket, line, &reply);
    if (rc != 0) {
      return rc;
    }
    doc = json_loads(reply, 0, &jerr);
    free(reply);
    if (doc == NULL) {
      cli_err("cache: the daemon's reply is not JSON: %s", jerr.text);
      return CLI_EX_SOFTWARE;
    }
  }
  if (!json_is_true(json_object_get(doc, "ok"))) {
    rc = 1;
    if (!a.json) {
      cli_err("cache %s%s%s: %s", a.verb, a.domain != NULL ? " " : "",
              a.domain != NULL ? a.domain : "", str_or(doc, "error", "failed"));
    }
  }
  if (a.json) {
    cli_json_print(doc);
    return rc;
  }
  if (rc == 0) {
    if (strcmp(a.verb, "list") == 0) {
      print_list(doc);
    } else if (strcmp(a.verb, "show") == 0) {
      print_show(doc);
    } else if (strcmp(a.verb, "purge") == 0) {
      printf("purged %s%s\n", str_or(doc, "domain", a.domain),
             json_is_true(json_object_get(doc, "was_known"))
                 ? ""
                 : " (it was not in memory)");
    } else {
      printf("refresh of %s started\n", str_or(doc, "domain", a.domain));
    }
  }
  json_decref(doc);
  return rc;
}
