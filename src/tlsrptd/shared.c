/*
 * shared.c - the fleet's shared Redis store; see shared.h.
 *
 * hiredis' synchronous API with a connect timeout and a command timeout
 * (redisConnectWithTimeout, redisSetTimeout), one connection per call
 * sequence (a worker job), closed at its end. hiredis writes with
 * write(2): the process ignores SIGPIPE (main.c).
 */
#include "shared.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#define KEY_MAX 700

/* ---- URL ---- */

static int url_err(char *err, size_t errsize, const char *msg) {
  (void)snprintf(err, errsize, "shared.url: %s", msg);
  return -1;
}

static bool copy_part(char *dst, size_t dstsize, const char *s, size_t n) {
  if (n >= dstsize) {
    return false;
  }
  memcpy(dst, s, n);
  dst[n] = '\0';
  return true;
}

static bool number(const char *s, size_t n, long lo, long hi, long *out) {
  long v = 0;
  size_t i;

  if (n == 0 || n > 9) {
    return false;
  }
  for (i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') {
      return false;
    }
    v = v * 10 + (s[i] - '0');
  }
  if (v < lo || v > hi) {
    return false;
  }
  *out = v;
  return true;
}

int tlsrptd_redis_url_parse(const char *url, struct tlsrptd_redis_url *u,
                            char *err, size_t errsize) {
  const char *p, *end, *slash, *at = NULL, *hs, *he, *q;
  long v;
  size_t i;

  memset(u, 0, sizeof(*u));
  u->port = 6379;
  if (url == NULL || url[0] == '\0') {
    return url_err(err, errsize, "missing");
  }
  for (i = 0; url[i] != '\0'; i++) {
    if ((unsigned char)url[i] <= ' ' || (unsigned char)url[i] >= 0x7f) {
      return url_err(err, errsize, "blanks, controls or 8-bit characters");
    }
  }
  if (strncmp(url, "unix:", 5) == 0) {
    p = url + 5;
    if (strncmp(p, "//", 2) == 0) {
      p += 2;
    }
    if (p[0] != '/' || p[1] == '\0' ||
        !copy_part(u->unix_path, sizeof(u->unix_path), p, strlen(p))) {
      return url_err(err, errsize, "unix: wants an absolute socket path");
    }
    return 0;
  }
  if (strncmp(url, "redis://", 8) != 0) {
    return url_err(err, errsize, "redis://host[:port][/db] or unix:/path");
  }
  p = url + 8;
  end = p + strlen(p);
  slash = strchr(p, '/');
  if (slash == NULL) {
    slash = end;
  }
  for (q = p; q < slash; q++) {
    if (*q == '@') {
      at = q;
    }
  }
  if (at != NULL) {
    const char *colon = memchr(p, ':', (size_t)(at - p));

    if (colon == NULL || colon + 1 == at ||
        !copy_part(u->user, sizeof(u->user), p, (size_t)(colon - p)) ||
        !copy_part(u->password, sizeof(u->password), colon + 1,
                   (size_t)(at - colon - 1))) {
      return url_err(err, errsize, "userinfo must be [user]:password");
    }
    p = at + 1;
  }
  if (*p == '[') {
    hs = p + 1;
    he = memchr(hs, ']', (size_t)(slash - hs));
    if (he == NULL) {
      return url_err(err, errsize, "unclosed [");
    }
    p = he + 1;
  } else {
    hs = p;
    for (he = p; he < slash && *he != ':'; he++) {
    }
    p = he;
  }
  if (he == hs || !copy_part(u->host, sizeof(u->host), hs, (size_t)(he - hs))) {
    return url_err(err, errsize, "no host");
  }
  for (i = 0; u->host[i] != '\0'; i++) {
    char c = u->host[i];

    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '.' || c == '-' || c == ':' ||
          c == '_')) {
      return url_err(err, errsize, "bad character in the host");
    }
  }
  if (*p == ':') {
    if (!number(p + 1, (size_t)(slash - p - 1), 1, 65535, &v)) {
      return url_err(err, errsize, "port 1-65535");
    }
    u->port = (int)v;
    p = slash;
  }
  if (p != slash) {
    return url_err(err, errsize, "junk after the host");
  }
  if (*p == '/' && p + 1 < end &&
      !number(p + 1, (size_t)(end - p - 1), 0, 1000000, &u->db)) {
    return url_err(err, errsize, "database: a number");
  }
  return 0;
}

/* ---- connection ---- */

static void set_err(char *err, size_t errsize, const char *what,
                    const redisContext *c, const redisReply *rep) {
  const char *why = "no reply";

  if (c != NULL && c->err != 0) {
    why = c->errstr;
  } else if (rep != NULL && rep->type == REDIS_REPLY_ERROR &&
             rep->str != NULL) {
    why = rep->str;
  } else if (rep != NULL) {
    why = "unexpected reply";
  }
  (void)snprintf(err, errsize, "redis: %s: %s", what, why);
}

/* argv command; \return the reply (freeReplyObject) or NULL with err. */
static redisReply *cmd(redisContext *c, const char *what, int argc,
                       const char **argv, const size_t *lens, char *err,
                       size_t errsize) {
  redisReply *rep = redisCommandArgv(c, argc, argv, lens);

  if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
    set_err(err, errsize, what, c, rep);
    if (rep != NULL) {
      freeReplyObject(rep);
    }
    return NULL;
  }
  return rep;
}

static redisContext *connect_redis(const struct tlsrptd_shared_opts *o,
                                   char *err, size_t errsize) {
  struct timeval tv;
  redisContext *c;
  redisReply *rep;
  const char *argv[3];
  size_t lens[3];
  char db[24];
  int n = 0;

  tv.tv_sec = (time_t)(o->timeout_ms / 1000u);
  tv.tv_usec = (suseconds_t)((o->timeout_ms % 1000u) * 1000u);
  c = o->url->unix_path[0] != '\0'
          ? redisConnectUnixWithTimeout(o->url->unix_path, tv)
          : redisConnectWithTimeout(o->url->host, o->url->port, tv);
  if (c == NULL || c->err != 0) {
    set_err(err, errsize, "connect", c, NULL);
    if (c != NULL) {
      redisFree(c);
    }
    return NULL;
  }
  if (redisSetTimeout(c, tv) != REDIS_OK) {
    set_err(err, errsize, "timeout", c, NULL);
    redisFree(c);
    return NULL;
  }
  if (o->url->password[0] != '\0') {
    argv[n] = "AUTH";
    lens[n++] = 4;
    if (o->url->user[0] != '\0') {
      argv[n] = o->url->user;
      lens[n] = strlen(o->url->user);
      n++;
    }
    argv[n] = o->url->password;
    lens[n] = strlen(o->url->password);
    n++;
    rep = cmd(c, "AUTH", n, argv, lens, err, errsize);
    if (rep == NULL) {
      redisFree(c);
      return NULL;
    }
    freeReplyObject(rep);
  }
  if (o->url->db != 0) {
    (void)snprintf(db, sizeof(db), "%ld", o->url->db);
    argv[0] = "SELECT";
    lens[0] = 6;
    argv[1] = db;
    lens[1] = strlen(db);
    rep = cmd(c, "SELECT", 2, argv, lens, err, errsize);
    if (rep == NULL) {
      redisFree(c);
      return NULL;
    }
    freeReplyObject(rep);
  }
  return c;
}

static bool key(char *buf, const struct tlsrptd_shared_opts *o,
                const char *kind, int64_t day, const char *domain) {
  char ds[11];
  int n;

  mts_rpt_agg_day_str(day, ds);
  n = snprintf(buf, KEY_MAX, "%s%s:%s:%s", o->prefix, kind, ds, domain);
  return n > 0 && n < KEY_MAX;
}

/* HSET P day:D:R host json; EXPIRE. */
static enum mts_status push_one(redisContext *c,
                                const struct tlsrptd_shared_opts *o,
                                int64_t day, const char *domain,
                                const char *json, size_t len, char *err,
                                size_t errsize) {
  char k[KEY_MAX], ttl[24];
  const char *argv[4];
  size_t lens[4];
  redisReply *rep;

  if (!key(k, o, "day", day, domain)) {
    (void)snprintf(err, errsize, "redis: key too long");
    return MTS_EINVAL;
  }
  argv[0] = "HSET";
  argv[1] = k;
  argv[2] = o->host;
  argv[3] = json;
  lens[0] = 4;
  lens[1] = strlen(k);
  lens[2] = strlen(o->host);
  lens[3] = len;
  rep = cmd(c, "HSET", 4, argv, lens, err, errsize);
  if (rep == NULL) {
    return MTS_EUNAVAIL;
  }
  freeReplyObject(rep);
  (void)snprintf(ttl, sizeof(ttl), "%d", TLSRPTD_SHARED_TTL_S);
  argv[0] = "EXPIRE";
  argv[2] = ttl;
  lens[0] = 6;
  lens[2] = strlen(ttl);
  rep = cmd(c, "EXPIRE", 3, argv, lens, err, errsize);
  if (rep == NULL) {
    return MTS_EUNAVAIL;
  }
  freeReplyObject(rep);
  return MTS_OK;
}

enum mts_status tlsrptd_shared_push(const struct tlsrptd_shared_opts *o,
                                    const struct tlsrptd_shared_item *items,
                                    size_t n, char *err, size_t errsize) {
  redisContext *c;
  enum mts_status st = MTS_OK;
  size_t i;

  if (n == 0) {
    return MTS_OK;
  }
  c = connect_redis(o, err, errsize);
  if (c == NULL) {
    return MTS_EUNAVAIL;
  }
  for (i = 0; i < n && st == MTS_OK; i++) {
    st = push_one(c, o, items[i].day, items[i].domain, items[i].json,
                  items[i].len, err, errsize);
  }
  redisFree(c);
  return st;
}

/* ---- the send side ---- */

/* SET lock NX EX; else GET: who holds it. */
static enum mts_status take_lock(redisContext *c,
                                 const struct tlsrptd_shared_opts *o,
                                 int64_t day, const char *domain,
                                 struct tlsrptd_shared_result *r, char *err,
                                 size_t errsize) {
  char k[KEY_MAX], ex[24];
  const char *argv[6];
  size_t lens[6];
  redisReply *rep;
  bool set;

  if (!key(k, o, "lock", day, domain)) {
    (void)snprintf(err, errsize, "redis: key too long");
    return MTS_EINVAL;
  }
  (void)snprintf(ex, sizeof(ex), "%d", TLSRPTD_SHARED_LOCK_S);
  argv[0] = "SET";
  argv[1] = k;
  argv[2] = o->host;
  argv[3] = "NX";
  argv[4] = "EX";
  argv[5] = ex;
  lens[0] = 3;
  lens[1] = strlen(k);
  lens[2] = strlen(o->host);
  lens[3] = 2;
  lens[4] = 2;
  lens[5] = strlen(ex);
  rep = cmd(c, "SET NX", 6, argv, lens, err, errsize);
  if (rep == NULL) {
    return MTS_EUNAVAIL;
  }
  set = rep->type == REDIS_REPLY_STATUS;
  freeReplyObject(rep);
  if (set) {
    r->ours = true;
    return MTS_OK;
  }
  argv[0] = "GET";
  lens[0] = 3;
  rep = cmd(c, "GET lock", 2, argv, lens, err, errsize);
  if (rep == NULL) {
    return MTS_EUNAVAIL;
  }
  if (rep->type == REDIS_REPLY_STRING) {
    (void)snprintf(r->owner, sizeof(r->owner), "%.*s",
                   (int)(rep->len < 255 ? rep->len : 255), rep->str);
    r->ours = strcmp(r->owner, o->host) == 0;
  } else {
    /* expired between SET and GET: try again next time */
    freeReplyObject(rep);
    (void)snprintf(err, errsize, "redis: the lock vanished; retry");
    return MTS_EUNAVAIL;
  }
  freeReplyObject(rep);
  return MTS_OK;
}

static char *dup_mem(const char *s, size_t n) {
  char *p = malloc(n + 1);

  if (p != NULL) {
    memcpy(p, s, n);
    p[n] = '\0';
  }
  return p;
}

/* GET final: \return MTS_OK with r->final_json set, or left NULL. */
static enum mts_status get_final(redisContext *c, const char *k,
                                 struct tlsrptd_shared_result *r, char *err,
                                 size_t errsize) {
  const char *argv[2] = {"GET", k};
  size_t lens[2] = {3, strlen(k)};
  redisReply *rep = cmd(c, "GET final", 2, argv, lens, err, errsize);

  if (rep == NULL) {
    return MTS_EUNAVAIL;
  }
  if (rep->type == REDIS_REPLY_STRING && rep->len > 0) {
    r->final_json = dup_mem(rep->str, rep->len);
    if (r->final_json == NULL) {
      freeReplyObject(rep);
      return MTS_ENOMEM;
    }
    r->final_len = rep->len;
    r->reused = true;
  }
  freeReplyObject(rep);
  return MTS_OK;
}

struct field {
  const char *host;
  const char *json;
  size_t len;
};

static int field_cmp(const void *x, const void *y) {
  return strcmp(((const struct field *)x)->host,
                ((const struct field *)y)->host);
}

/* HGETALL, parse, merge (own first), write. */
static enum mts_status
build_final(redisContext *c, const struct tlsrptd_shared_opts *o,
            struct mts_ctx *ctx, int64_t day, const char *domain,
            const char *own, size_t own_len,
            const struct mts_rpt_merge_override *ovr,
            struct tlsrptd_shared_result *r, char *err, size_t errsize) {
  char k[KEY_MAX];
  const char *argv[2];
  size_t lens[2], i, nf = 0, nr = 0;
  redisReply *rep;
  struct field *fs = NULL;
  struct mts_rpt_report **reps = NULL;
  const struct mts_rpt_report_data **data = NULL;
  struct mts_rpt_merge *m = NULL;
  char *json = NULL;
  size_t jlen = 0;
  enum mts_status st;

  if (!key(k, o, "day", day, domain)) {
    return MTS_EINVAL;
  }
  argv[0] = "HGETALL";
  argv[1] = k;
  lens[0] = 7;
  lens[1] = strlen(k);
  rep = cmd(c, "HGETALL", 2, argv, lens, err, errsize);
  if (rep == NULL) {
    return MTS_EUNAVAIL;
  }
  if (rep->type != REDIS_REPLY_ARRAY) { /* RESP2: field, value, ... */
    freeReplyObject(rep);
    (void)snprintf(err, errsize, "redis: HGETALL: unexpected reply");
    return MTS_EUNAVAIL;
  }
  fs = calloc(rep->elements / 2 + 1, sizeof(*fs));
  reps = calloc(rep->elements / 2 + 1, sizeof(*reps));
  data = calloc(rep->elements / 2 + 1, sizeof(*data));
  if (fs == NULL || reps == NULL || data == NULL) {
    st = MTS_ENOMEM;
    goto out;
  }
  for (i = 0; i + 1 < rep->elements; i += 2) {
    const redisReply *f = rep->element[i], *v = rep->element[i + 1];

    if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING ||
        strlen(f->str) != f->len) {
      r->nbad++;
      continue;
    }
    if (strcmp(f->str, o->host) == 0) {
      continue; /* ours: the job's copy goes first */
    }
    fs[nf].host = f->str;
    fs[nf].json = v->str;
    fs[nf].len = v->len;
    nf++;
  }
  qsort(fs, nf, sizeof(*fs), field_cmp);
  st = mts_rpt_report_parse(ctx, (const uint8_t *)own, own_len, &reps[0]);
  if (st != MTS_OK) {
    goto out;
  }
  if (!mts_rpt_report_usable(reps[0])) {
    (void)snprintf(err, errsize, "this host's report is not usable");
    st = MTS_EINVAL;
    nr = 1;
    goto out;
  }
  data[0] = mts_rpt_report_data(reps[0]);
  nr = 1;
  for (i = 0; i < nf; i++) {
    st = mts_rpt_report_parse(ctx, (const uint8_t *)fs[i].json, fs[i].len,
                              &reps[nr]);
    if (st != MTS_OK) {
      goto out;
    }
    if (!mts_rpt_report_usable(reps[nr]) ||
        mts_rpt_report_data(reps[nr])->start != data[0]->start ||
        mts_rpt_report_data(reps[nr])->end != data[0]->end) {
      r->nbad++;
      mts_rpt_report_destroy(reps[nr]);
      reps[nr] = NULL;
      continue;
    }
    data[nr] = mts_rpt_report_data(reps[nr]);
    nr++;
  }
  st = mts_rpt_merge(ctx, data, nr, ovr, &m);
  if (st == MTS_OK) {
    st = mts_rpt_report_write_json(ctx, mts_rpt_merge_data(m), &json, &jlen);
    if (st == MTS_EINVAL) {
      (void)snprintf(err, errsize, "the merged report cannot be written");
    }
  }
  if (st == MTS_OK) {
    r->final_json = dup_mem(json, jlen);
    r->final_len = jlen;
    r->nhosts = nr;
    st = r->final_json == NULL ? MTS_ENOMEM : MTS_OK;
  }
out:
  mts_rpt_report_write_free(ctx, json);
  mts_rpt_merge_destroy(m);
  for (i = 0; reps != NULL && i < nf + 1; i++) {
    mts_rpt_report_destroy(reps[i]);
  }
  free(data);
  free(reps);
  free(fs);
  freeReplyObject(rep);
  return st;
}

static enum mts_status store_final(redisContext *c, const char *k,
                                   const struct tlsrptd_shared_result *r,
                                   char *err, size_t errsize) {
  char ex[24];
  const char *argv[5];
  size_t lens[5];
  redisReply *rep;

  (void)snprintf(ex, sizeof(ex), "%d", TLSRPTD_SHARED_LOCK_S);
  argv[0] = "SET";
  argv[1] = k;
  argv[2] = r->final_json;
  argv[3] = "EX";
  argv[4] = ex;
  lens[0] = 3;
  lens[1] = strlen(k);
  lens[2] = r->final_len;
  lens[3] = 2;
  lens[4] = strlen(ex);
  rep = cmd(c, "SET final", 5, argv, lens, err, errsize);
  if (rep == NULL) {
    return MTS_EUNAVAIL;
  }
  freeReplyObject(rep);
  return MTS_OK;
}

enum mts_status tlsrptd_shared_prepare(const struct tlsrptd_shared_opts *o,
                                       struct mts_ctx *ctx, int64_t day,
                                       const char *domain, const char *own,
                                       size_t own_len,
                                       const struct mts_rpt_merge_override *ovr,
                                       struct tlsrptd_shared_result *r,
                                       char *err, size_t errsize) {
  redisContext *c;
  char k[KEY_MAX];
  enum mts_status st;

  memset(r, 0, sizeof(*r));
  if (!key(k, o, "final", day, domain)) {
    (void)snprintf(err, errsize, "redis: key too long");
    return MTS_EINVAL;
  }
  c = connect_redis(o, err, errsize);
  if (c == NULL) {
    return MTS_EUNAVAIL;
  }
  st = push_one(c, o, day, domain, own, own_len, err, errsize);
  if (st == MTS_OK) {
    st = take_lock(c, o, day, domain, r, err, errsize);
  }
  if (st == MTS_OK && r->ours) {
    st = get_final(c, k, r, err, errsize);
    if (st == MTS_OK && r->final_json == NULL) {
      st = build_final(c, o, ctx, day, domain, own, own_len, ovr, r, err,
                       errsize);
      if (st == MTS_OK) {
        st = store_final(c, k, r, err, errsize);
      }
    }
  }
  redisFree(c);
  if (st != MTS_OK) {
    free(r->final_json);
    r->final_json = NULL;
    r->final_len = 0;
  }
  return st;
}
