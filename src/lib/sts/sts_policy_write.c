/*
 * sts_policy_write.c - the canonical MTA-STS policy writer and the
 * content-derived policy id (mtasts/sts_policy_write.h).
 *
 * "Emit conservatively" (STYLE.md 8): exactly the RFC 8461 3.2 example's
 * shape, CRLF after every line, nothing the parser would flag, not even
 * an info finding. Inputs are checked against the same rules the parser
 * applies, so a written policy is always valid (round trip tested in
 * tests/unit/test_sts_policy_write.c).
 */
#include <string.h>

#include <openssl/evp.h>

#include <mtasts/limits.h>
#include <mtasts/sts_match.h>
#include <mtasts/sts_policy_write.h>

/* An output cursor that counts what it could not store (snprintf-like). */
struct wbuf {
  char *buf;
  size_t size; /* capacity, NUL included */
  size_t len;  /* bytes wanted so far */
};

static void wbuf_put(struct wbuf *w, const char *s, size_t n) {
  if (w->len < w->size) {
    size_t room = w->size - w->len;
    size_t k = n < room ? n : room;

    memcpy(w->buf + w->len, s, k);
  }
  w->len += n;
}

static void wbuf_puts(struct wbuf *w, const char *s) {
  wbuf_put(w, s, strlen(s));
}

/* A non-negative decimal without leading zeros (max_age, POL-2). */
static void wbuf_putu(struct wbuf *w, uint64_t v) {
  char tmp[24];
  size_t i = sizeof(tmp);

  do {
    tmp[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v > 0);
  wbuf_put(w, tmp + i, sizeof(tmp) - i);
}

static const char *write_mode_value(enum mts_sts_mode mode) {
  switch (mode) {
  case MTS_STS_MODE_NONE:
    return "none";
  case MTS_STS_MODE_TESTING:
    return "testing";
  case MTS_STS_MODE_ENFORCE:
    return "enforce";
  case MTS_STS_MODE_UNKNOWN:
    break;
  }
  return NULL;
}

/* Refuse what the parser would refuse (POL-9, AMBIG-POL-1, AMBIG-POL-2). */
static bool write_fields_ok(const struct mts_sts_policy_fields *f) {
  size_t i;

  if (write_mode_value(f->mode) == NULL || f->max_age < 0 ||
      f->max_age > MTS_STS_MAX_AGE_MAX) {
    return false;
  }
  if (f->mx_count > 0 && f->mx == NULL) {
    return false;
  }
  if (f->mx_count == 0 && f->mode != MTS_STS_MODE_NONE) {
    return false; /* POL-9: mx required unless mode is none */
  }
  for (i = 0; i < f->mx_count; i++) {
    if (f->mx[i] == NULL ||
        !mts_sts_match_pattern_valid(f->mx[i], strlen(f->mx[i]))) {
      return false;
    }
  }
  return true;
}

enum mts_status mts_sts_policy_write(const struct mts_sts_policy_fields *fields,
                                     char *buf, size_t bufsize, size_t *len) {
  struct wbuf w = {buf, bufsize, 0};
  enum mts_status st = MTS_EINVAL;
  size_t i;

  if (len != NULL) {
    *len = 0;
  }
  if (bufsize > 0 && buf != NULL) {
    buf[0] = '\0';
  }
  if (fields == NULL || len == NULL || (buf == NULL && bufsize > 0) ||
      !write_fields_ok(fields)) {
    goto done;
  }
  /* RFC 8461 3.2 example order; "CRLF-separated key/value pairs". */
  wbuf_puts(&w, "version: STSv1\r\nmode: ");
  wbuf_puts(&w, write_mode_value(fields->mode));
  wbuf_puts(&w, "\r\n");
  for (i = 0; i < fields->mx_count; i++) {
    wbuf_puts(&w, "mx: ");
    wbuf_puts(&w, fields->mx[i]);
    wbuf_puts(&w, "\r\n");
  }
  wbuf_puts(&w, "max_age: ");
  wbuf_putu(&w, (uint64_t)fields->max_age);
  wbuf_puts(&w, "\r\n");
  if (w.len > MTS_POLICY_MAX_SIZE) {
    goto done; /* a sender would not even parse it (FETCH-10) */
  }
  *len = w.len;
  if (w.len >= bufsize) {
    if (bufsize > 0) {
      buf[0] = '\0';
    }
    st = MTS_ETOOBIG;
    goto done;
  }
  buf[w.len] = '\0';
  st = MTS_OK;
done:
  return st;
}

enum mts_status
mts_sts_policy_write_id(const uint8_t *policy, size_t len,
                        char id[MTS_STS_POLICY_WRITE_ID_BUFSIZE]) {
  static const char hex[] = "0123456789abcdef";
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  size_t i;

  if (id == NULL) {
    return MTS_EINVAL;
  }
  id[0] = '\0';
  if (policy == NULL && len > 0) {
    return MTS_EINVAL;
  }
  /* EVP_Digest wants a non-NULL pointer even for 0 bytes. */
  if (EVP_Digest(policy != NULL ? policy : (const uint8_t *)"", len, md, &mdlen,
                 EVP_sha256(), NULL) != 1 ||
      mdlen * 2u < MTS_STS_POLICY_WRITE_ID_LEN) {
    return MTS_EINTERNAL;
  }
  for (i = 0; i < MTS_STS_POLICY_WRITE_ID_LEN / 2; i++) {
    id[2 * i] = hex[md[i] >> 4];
    id[2 * i + 1] = hex[md[i] & 0x0f];
  }
  id[MTS_STS_POLICY_WRITE_ID_LEN] = '\0';
  return MTS_OK;
}
