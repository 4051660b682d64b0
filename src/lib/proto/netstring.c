/*
 * netstring.c - netstring push parser, one-shot parser and writer
 * (mtasts/socketmap.h).
 *
 * The rules follow Postfix src/util/netstring.c (netstring_get_length,
 * netstring_get_data, netstring_get_terminator): the length is digits
 * only; the overflow check comes before the multiplication and the size
 * check before any payload byte is read; the ',' is mandatory. Two
 * differences, both matching postfix-mta-sts-resolver: an empty length
 * (":") is an error (Postfix reads it as 0), and the length is checked
 * against the limit as each digit arrives, so "9999" with a limit of 1024
 * fails before the ':' (POSTFIX-NOTES netstring vectors).
 *
 * The reader and mts_netstring_parse() are written separately on
 * purpose: the fuzz target compares them (tests/fuzz/fuzz_netstring.c).
 */
#include <string.h>

#include <mtasts/socketmap.h>

#include "core/ascii_int.h"
#include "core/ctx_int.h"

/* Reader states. */
enum {
  NS_LEN = 0, /* reading length digits; digits == 0 at a netstring start */
  NS_DATA,    /* reading payload bytes */
  NS_TERM,    /* expecting ',' */
  NS_READY,   /* a payload waits for next() */
  NS_ERROR    /* sticky */
};

const char *mts_netstring_error_str(enum mts_netstring_error err) {
  switch (err) {
  case MTS_NETSTRING_ENONE:
    return "no error";
  case MTS_NETSTRING_EGARBAGE:
    return "netstring does not start with a digit";
  case MTS_NETSTRING_EBADLEN:
    return "empty length or non-digit in the length";
  case MTS_NETSTRING_ETOOLONG:
    return "netstring length exceeds the limit";
  case MTS_NETSTRING_EBADTERM:
    return "missing ',' after the payload";
  }
  return "unknown netstring error";
}

/*
 * Account for one length digit d: the shared rule of both parsers.
 * \return ENONE, or ETOOLONG when the digit count, size_t or max is
 * exceeded. Postfix checks overflow before multiplying; so do we.
 */
static enum mts_netstring_error ns_add_digit(size_t *len, unsigned *digits,
                                             uint8_t c, size_t max) {
  size_t d = (size_t)(c - '0');

  if (++*digits > MTS_NETSTRING_DIGITS_MAX) {
    return MTS_NETSTRING_ETOOLONG;
  }
  if (*len > (SIZE_MAX - d) / 10) {
    return MTS_NETSTRING_ETOOLONG;
  }
  *len = *len * 10 + d;
  if (*len > max) {
    return MTS_NETSTRING_ETOOLONG;
  }
  return MTS_NETSTRING_ENONE;
}

/*
 * Classify a non-digit byte met while reading the length: ':' ends a
 * non-empty length; anything else is an error (garbage when no digit has
 * been seen, a bad length otherwise).
 */
static enum mts_netstring_error ns_non_digit(uint8_t c, unsigned digits) {
  if (c == ':') {
    return digits == 0 ? MTS_NETSTRING_EBADLEN : MTS_NETSTRING_ENONE;
  }
  return digits == 0 ? MTS_NETSTRING_EGARBAGE : MTS_NETSTRING_EBADLEN;
}

enum mts_status mts_netstring_reader_init(struct mts_netstring_reader *r,
                                          struct mts_ctx *ctx,
                                          size_t max_payload) {
  if (r == NULL) {
    return MTS_EINVAL;
  }
  memset(r, 0, sizeof(*r));
  if (ctx == NULL) {
    return MTS_EINVAL;
  }
  /* One buffer of the largest payload: feed() never allocates, so a
   * connection costs a known amount of memory and OOM cannot happen in
   * the middle of a request. */
  r->buf = mts_malloc(ctx, max_payload == 0 ? 1 : max_payload);
  if (r->buf == NULL) {
    return MTS_ENOMEM;
  }
  r->ctx = ctx;
  r->max = max_payload;
  r->state = NS_LEN;
  return MTS_OK;
}

void mts_netstring_reader_cleanup(struct mts_netstring_reader *r) {
  if (r == NULL) {
    return;
  }
  if (r->ctx != NULL) {
    mts_free(r->ctx, r->buf);
  }
  memset(r, 0, sizeof(*r));
}

static size_t ns_fail(struct mts_netstring_reader *r,
                      enum mts_netstring_error err, size_t used) {
  r->state = NS_ERROR;
  r->error = err;
  return used;
}

size_t mts_netstring_reader_feed(struct mts_netstring_reader *r,
                                 const uint8_t *data, size_t len) {
  size_t i = 0;

  if (r == NULL || r->buf == NULL || (data == NULL && len > 0)) {
    return 0;
  }
  while (i < len) {
    uint8_t c = data[i];
    enum mts_netstring_error err;
    size_t n;

    switch (r->state) {
    case NS_LEN:
      if (mts_is_digit(c)) {
        err = ns_add_digit(&r->len, &r->digits, c, r->max);
      } else {
        err = ns_non_digit(c, r->digits);
        if (err == MTS_NETSTRING_ENONE) { /* ':' */
          r->have = 0;
          r->state = r->len == 0 ? NS_TERM : NS_DATA;
        }
      }
      if (err != MTS_NETSTRING_ENONE) {
        return ns_fail(r, err, i);
      }
      i++;
      break;
    case NS_DATA:
      n = r->len - r->have;
      if (n > len - i) {
        n = len - i;
      }
      memcpy(r->buf + r->have, data + i, n);
      r->have += n;
      i += n;
      if (r->have == r->len) {
        r->state = NS_TERM;
      }
      break;
    case NS_TERM:
      if (c != ',') {
        return ns_fail(r, MTS_NETSTRING_EBADTERM, i);
      }
      r->state = NS_READY;
      return i + 1; /* stop: next() must take the payload first */
    default:
      /* NS_READY, NS_ERROR: consume nothing */
      return i;
    }
  }
  return i;
}

enum mts_netstring_result
mts_netstring_reader_next(struct mts_netstring_reader *r,
                          const uint8_t **payload, size_t *len) {
  if (payload != NULL) {
    *payload = NULL;
  }
  if (len != NULL) {
    *len = 0;
  }
  if (r == NULL || payload == NULL || len == NULL || r->buf == NULL) {
    return MTS_NETSTRING_ERROR;
  }
  switch (r->state) {
  case NS_READY:
    *payload = r->buf;
    *len = r->len;
    r->state = NS_LEN;
    r->len = 0;
    r->digits = 0;
    r->have = 0;
    return MTS_NETSTRING_COMPLETE;
  case NS_ERROR:
    return MTS_NETSTRING_ERROR;
  default:
    return MTS_NETSTRING_NEED_MORE;
  }
}

enum mts_netstring_error
mts_netstring_reader_error(const struct mts_netstring_reader *r) {
  return r == NULL ? MTS_NETSTRING_ENONE : r->error;
}

enum mts_netstring_result mts_netstring_parse(const uint8_t *in, size_t len,
                                              size_t max_payload,
                                              const uint8_t **payload,
                                              size_t *plen, size_t *consumed,
                                              enum mts_netstring_error *err) {
  enum mts_netstring_error e = MTS_NETSTRING_ENONE;
  enum mts_netstring_result res = MTS_NETSTRING_NEED_MORE;
  size_t n = 0;
  size_t i;
  unsigned digits = 0;

  if (payload != NULL) {
    *payload = NULL;
  }
  if (plen != NULL) {
    *plen = 0;
  }
  if (consumed != NULL) {
    *consumed = 0;
  }
  if (payload == NULL || plen == NULL || consumed == NULL ||
      (in == NULL && len > 0)) {
    res = MTS_NETSTRING_ERROR;
    goto done;
  }
  /* The length: digits up to ':'. */
  for (i = 0; i < len && in[i] != ':'; i++) {
    if (!mts_is_digit(in[i])) {
      e = ns_non_digit(in[i], digits);
      goto done;
    }
    e = ns_add_digit(&n, &digits, in[i], max_payload);
    if (e != MTS_NETSTRING_ENONE) {
      goto done;
    }
  }
  if (i == len) {
    goto done; /* no ':' yet */
  }
  e = ns_non_digit(':', digits);
  if (e != MTS_NETSTRING_ENONE) {
    goto done;
  }
  i++;
  /* The size check was made digit by digit; now there must be n payload
   * bytes and the ','. */
  if (len - i <= n) {
    goto done;
  }
  if (in[i + n] != ',') {
    e = MTS_NETSTRING_EBADTERM;
    goto done;
  }
  *payload = in + i;
  *plen = n;
  *consumed = i + n + 1;
  res = MTS_NETSTRING_COMPLETE;

done:
  if (e != MTS_NETSTRING_ENONE) {
    res = MTS_NETSTRING_ERROR;
  }
  if (err != NULL) {
    *err = e;
  }
  return res;
}

/* Number of decimal digits of n (1 for 0). */
static size_t ns_digits(size_t n) {
  size_t d = 1;

  while (n >= 10) {
    n /= 10;
    d++;
  }
  return d;
}

size_t mts_netstring_framed_len(size_t len) {
  size_t over = ns_digits(len) + 2;

  return len > SIZE_MAX - over ? 0 : len + over;
}

enum mts_status mts_netstring_write(uint8_t *buf, size_t bufsize,
                                    const uint8_t *payload, size_t len,
                                    size_t *written) {
  size_t total = mts_netstring_framed_len(len);
  size_t d, i;
  size_t v = len;

  if (written != NULL) {
    *written = 0;
  }
  if (buf == NULL || written == NULL || (payload == NULL && len > 0)) {
    return MTS_EINVAL;
  }
  if (total == 0 || total > bufsize) {
    return MTS_ETOOBIG;
  }
  d = ns_digits(len);
  /* Move the payload first: it may already live inside buf (a caller
   * that built it in place), and the prefix must not clobber it. */
  if (len > 0) {
    memmove(buf + d + 1, payload, len);
  }
  for (i = d; i > 0; i--) {
    buf[i - 1] = (uint8_t)('0' + v % 10);
    v /= 10;
  }
  buf[d] = ':';
  buf[d + 1 + len] = ',';
  *written = total;
  return MTS_OK;
}
