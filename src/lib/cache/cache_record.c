/*
 * cache_record.c - checking and (de)serialising cache records
 * (cache_record_int.h). Everything read back from a store goes through
 * mts_cache_record_check() before use: the file or the server is outside
 * input.
 */
#include <string.h>

#include "cache/cache_record_int.h"
#include "core/ascii_int.h"

#define REC_VERSION 1

bool mts_cache_record_domain_ok(const char *d, size_t len) {
  size_t i;

  if (d == NULL || len == 0 || len > MTS_DOMAIN_MAX) {
    return false;
  }
  for (i = 0; i < len; i++) {
    uint8_t ch = (uint8_t)d[i];

    if (!((ch >= 'a' && ch <= 'z') || mts_is_digit(ch) || ch == '-' ||
          ch == '.' || ch == '_')) {
      return false;
    }
  }
  return true;
}

bool mts_cache_record_id_ok(const char *id, size_t len) {
  size_t i;

  if (len > MTS_STS_ID_MAX) {
    return false;
  }
  for (i = 0; i < len; i++) {
    if (!mts_is_alnum((uint8_t)id[i])) {
      return false;
    }
  }
  return true;
}

static bool rec_id_field_ok(const char field[MTS_STS_ID_MAX + 1]) {
  size_t n = strnlen(field, MTS_STS_ID_MAX + 1);

  return n <= MTS_STS_ID_MAX && mts_cache_record_id_ok(field, n);
}

enum mts_status mts_cache_record_check(const struct mts_cache_record *rec,
                                       const char **why) {
  const char *reason = NULL;
  size_t dlen;

  if (rec == NULL || rec->domain == NULL) {
    reason = "no domain";
    goto done;
  }
  dlen = strnlen(rec->domain, MTS_DOMAIN_MAX + 1);
  if (!mts_cache_record_domain_ok(rec->domain, dlen)) {
    reason = "bad domain";
  } else if (!rec_id_field_ok(rec->entry.id)) {
    reason = "bad id";
  } else if (!rec_id_field_ok(rec->entry.failed_id)) {
    reason = "bad failed_id";
  } else if ((int)rec->entry.mode < (int)MTS_STS_MODE_UNKNOWN ||
             (int)rec->entry.mode > (int)MTS_STS_MODE_ENFORCE) {
    reason = "bad mode";
  } else if (rec->entry.max_age < 0 ||
             rec->entry.max_age > MTS_STS_MAX_AGE_MAX) {
    reason = "bad max_age";
  } else if (rec->body_len > MTS_POLICY_MAX_SIZE) {
    reason = "body too large";
  } else if (rec->body == NULL && rec->body_len != 0) {
    reason = "body length without body";
  }
done:
  if (why != NULL) {
    *why = reason;
  }
  return reason == NULL ? MTS_OK : MTS_EINVAL;
}

size_t mts_cache_record_size(const struct mts_cache_record *rec) {
  return 3 + 1 + strnlen(rec->entry.id, MTS_STS_ID_MAX) + 1 +
         strnlen(rec->entry.failed_id, MTS_STS_ID_MAX) + 4 * 8 + 2 +
         strnlen(rec->domain, MTS_DOMAIN_MAX) + 1 + 1 + 4 + rec->body_len;
}

/* ---- writer: a cursor over a fixed buffer, checked once per field ---- */

struct rec_out {
  uint8_t *p;
  size_t cap;
  size_t len;
};

static void out_bytes(struct rec_out *o, const void *s, size_t n) {
  if (n > 0) {
    memcpy(o->p + o->len, s, n);
  }
  o->len += n;
}

static void out_u8(struct rec_out *o, unsigned v) {
  uint8_t b = (uint8_t)v;

  out_bytes(o, &b, 1);
}

static void out_be(struct rec_out *o, uint64_t v, unsigned n) {
  uint8_t b[8];
  unsigned i;

  for (i = 0; i < n; i++) {
    b[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
  }
  out_bytes(o, b, n);
}

enum mts_status mts_cache_record_encode(const struct mts_cache_record *rec,
                                        uint8_t *buf, size_t cap,
                                        size_t *len) {
  struct rec_out o = {buf, cap, 0};
  size_t idl = strnlen(rec->entry.id, MTS_STS_ID_MAX);
  size_t fidl = strnlen(rec->entry.failed_id, MTS_STS_ID_MAX);
  size_t dl = strnlen(rec->domain, MTS_DOMAIN_MAX);

  *len = 0;
  if (mts_cache_record_size(rec) > cap) {
    return MTS_ETOOBIG;
  }
  out_u8(&o, REC_VERSION);
  out_u8(&o, rec->entry.has_policy ? 1U : 0U);
  out_u8(&o, (unsigned)rec->entry.mode);
  out_u8(&o, (unsigned)idl);
  out_bytes(&o, rec->entry.id, idl);
  out_u8(&o, (unsigned)fidl);
  out_bytes(&o, rec->entry.failed_id, fidl);
  out_be(&o, (uint64_t)rec->entry.max_age, 8);
  out_be(&o, (uint64_t)rec->entry.fetched_at, 8);
  out_be(&o, (uint64_t)rec->entry.failed_at, 8);
  out_be(&o, (uint64_t)rec->updated_at, 8);
  out_be(&o, (uint64_t)dl, 2);
  out_bytes(&o, rec->domain, dl);
  out_u8(&o, 0);
  out_u8(&o, rec->body != NULL ? 1U : 0U);
  out_be(&o, (uint64_t)rec->body_len, 4);
  if (rec->body != NULL) {
    out_bytes(&o, rec->body, rec->body_len);
  }
  *len = o.len;
  return MTS_OK;
}

/* ---- reader: a cursor with a sticky error ---- */

struct rec_in {
  const uint8_t *p;
  size_t len;
  size_t pos;
  bool err;
};

static const uint8_t *in_bytes(struct rec_in *in, size_t n) {
  const uint8_t *s;

  if (in->err || n > in->len - in->pos) {
    in->err = true;
    return NULL;
  }
  s = in->p + in->pos;
  in->pos += n;
  return s;
}

static uint64_t in_be(struct rec_in *in, unsigned n) {
  const uint8_t *s = in_bytes(in, n);
  uint64_t v = 0;
  unsigned i;

  if (s == NULL) {
    return 0;
  }
  for (i = 0; i < n; i++) {
    v = (v << 8) | s[i];
  }
  return v;
}

/* Read a u8-length-prefixed id into a MTS_STS_ID_MAX + 1 field. */
static void in_id(struct rec_in *in, char field[MTS_STS_ID_MAX + 1]) {
  size_t n = (size_t)in_be(in, 1);
  const uint8_t *s;

  if (n > MTS_STS_ID_MAX) {
    in->err = true;
    return;
  }
  s = in_bytes(in, n);
  if (s != NULL) {
    memcpy(field, s, n);
    field[n] = '\0';
  }
}

enum mts_status mts_cache_record_decode(const uint8_t *buf, size_t len,
                                        struct mts_cache_record *rec,
                                        const char **why) {
  struct rec_in in = {buf, len, 0, false};
  uint64_t v, mode, dl, has_body, bl;
  const uint8_t *s;
  const char *reason = NULL;

  memset(rec, 0, sizeof(*rec));
  if (in_be(&in, 1) != REC_VERSION) {
    reason = "unknown encoding version";
    goto done;
  }
  v = in_be(&in, 1);
  mode = in_be(&in, 1);
  if (v > 1 || mode > (uint64_t)MTS_STS_MODE_ENFORCE) {
    reason = "bad flag or mode";
    goto done;
  }
  rec->entry.has_policy = v == 1;
  rec->entry.mode = (enum mts_sts_mode)mode;
  in_id(&in, rec->entry.id);
  in_id(&in, rec->entry.failed_id);
  rec->entry.max_age = (int64_t)in_be(&in, 8);
  rec->entry.fetched_at = (int64_t)in_be(&in, 8);
  rec->entry.failed_at = (int64_t)in_be(&in, 8);
  rec->updated_at = (int64_t)in_be(&in, 8);
  dl = in_be(&in, 2);
  s = in_bytes(&in, (size_t)dl + 1);
  if (s == NULL || s[dl] != 0) {
    reason = "truncated or unterminated domain";
    goto done;
  }
  rec->domain = (const char *)s;
  has_body = in_be(&in, 1);
  bl = in_be(&in, 4);
  if (has_body > 1 || bl > MTS_POLICY_MAX_SIZE) {
    reason = "bad body";
    goto done;
  }
  s = in_bytes(&in, (size_t)bl);
  if (in.err) {
    reason = "truncated";
    goto done;
  }
  if (in.pos != in.len) {
    reason = "trailing octets";
    goto done;
  }
  rec->body = has_body == 1 ? s : NULL;
  rec->body_len = has_body == 1 ? (size_t)bl : 0;
  if (has_body == 0 && bl != 0) {
    reason = "body length without body";
    goto done;
  }
  /* The domain must not contain a NUL before its end. */
  if (strlen(rec->domain) != (size_t)dl) {
    reason = "NUL in domain";
    goto done;
  }
  (void)mts_cache_record_check(rec, &reason);
done:
  if (why != NULL) {
    *why = reason;
  }
  if (reason != NULL) {
    memset(rec, 0, sizeof(*rec));
    return MTS_EPARSE;
  }
  return MTS_OK;
}

enum mts_status mts_cache_record_dup(struct mts_ctx *ctx,
                                     const struct mts_cache_record *rec,
                                     uint8_t **out, size_t *out_len) {
  enum mts_status st;
  uint8_t *buf = NULL;
  size_t n;

  *out = NULL;
  *out_len = 0;
  st = mts_cache_record_check(rec, NULL);
  if (st != MTS_OK) {
    goto done;
  }
  n = mts_cache_record_size(rec);
  buf = mts_malloc(ctx, n);
  if (buf == NULL) {
    st = MTS_ENOMEM;
    goto done;
  }
  st = mts_cache_record_encode(rec, buf, n, out_len);
  if (st == MTS_OK) {
    *out = buf;
    buf = NULL;
  }
done:
  mts_free(ctx, buf);
  return st;
}

bool mts_cache_record_mode_parse(const uint8_t *s, size_t len,
                                 enum mts_sts_mode *mode) {
  static const struct {
    const char *name;
    enum mts_sts_mode mode;
  } names[] = {{"none", MTS_STS_MODE_NONE},
               {"testing", MTS_STS_MODE_TESTING},
               {"enforce", MTS_STS_MODE_ENFORCE},
               {"unknown", MTS_STS_MODE_UNKNOWN}};
  size_t i;

  for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    if (strlen(names[i].name) == len && memcmp(names[i].name, s, len) == 0) {
      *mode = names[i].mode;
      return true;
    }
  }
  return false;
}

bool mts_cache_record_parse_i64(const uint8_t *s, size_t len, int64_t *out) {
  bool neg = false;
  uint64_t v = 0;
  uint64_t lim;
  size_t i = 0;

  if (len > 0 && s[0] == '-') {
    neg = true;
    i = 1;
  }
  if (i == len || len - i > 19) {
    return false;
  }
  lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
  for (; i < len; i++) {
    if (!mts_is_digit(s[i])) {
      return false;
    }
    if (v > (lim - (uint64_t)(s[i] - '0')) / 10) {
      return false;
    }
    v = v * 10 + (uint64_t)(s[i] - '0');
  }
  if (neg) {
    *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
  } else {
    *out = (int64_t)v;
  }
  return true;
}

/* b - a for times, saturating (records are outside input). */
static int64_t rec_sub(int64_t b, int64_t a) {
  if (a < 0 && b > INT64_MAX + a) {
    return INT64_MAX;
  }
  if (a > 0 && b < INT64_MIN + a) {
    return INT64_MIN;
  }
  return b - a;
}

static int64_t rec_add(int64_t a, int64_t b) {
  if (b > 0 && a > INT64_MAX - b) {
    return INT64_MAX;
  }
  if (b < 0 && a < INT64_MIN - b) {
    return INT64_MIN;
  }
  return a + b;
}

int64_t mts_cache_record_ttl(const struct mts_cache_record *rec, int64_t now) {
  int64_t ttl = MTS_CACHE_TTL_NO_POLICY;
  const int64_t max = (int64_t)MTS_STS_MAX_AGE_MAX + MTS_CACHE_TTL_NO_POLICY;

  if (rec->entry.has_policy) {
    ttl = rec_sub(rec_add(rec->entry.fetched_at, rec->entry.max_age), now);
  }
  if (rec->entry.failed_id[0] != '\0') {
    int64_t b = rec_sub(rec_add(rec->entry.failed_at, MTS_STS_FETCH_BACKOFF),
                        now);

    if (b > ttl) {
      ttl = b;
    }
  }
  if (ttl < MTS_CACHE_TTL_MIN) {
    ttl = MTS_CACHE_TTL_MIN;
  }
  if (ttl > max) {
    ttl = max;
  }
  return ttl;
}
