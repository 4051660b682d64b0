/*
 * txt.c - a DNS TXT RRset (mtasts/txt.h): the container, the
 * presentation-format reader (`dig +short` output) and writer.
 *
 * Storage: all string octets live in one growable byte array; each
 * string is an (offset, length) pair and each RR a (first string,
 * count) pair. Strings are always appended to the last RR, so the
 * strings of one RR are contiguous in the string array.
 *
 * Presentation format (RFC 1035 5.1, as dig prints TXT RDATA): see
 * parse_presentation() and docs/decisions.md (PRES-*).
 */
#include <mtasts/limits.h>
#include <mtasts/txt.h>

#include <string.h>

#include "ascii_int.h"
#include "ctx_int.h"

struct txt_str {
  size_t off; /* into bytes */
  size_t len;
};

struct txt_rr {
  size_t first; /* index into strs */
  size_t n;
};

struct mts_txt_rrset {
  struct mts_ctx *ctx;
  uint8_t *bytes;
  size_t nbytes, capbytes;
  struct txt_str *strs;
  size_t nstrs, capstrs;
  struct txt_rr *rrs;
  size_t nrrs, caprrs;
};

enum mts_status mts_txt_rrset_create(struct mts_ctx *ctx,
                                     struct mts_txt_rrset **out) {
  struct mts_txt_rrset *set;

  if (out == NULL) {
    return MTS_EINVAL;
  }
  *out = NULL;
  if (ctx == NULL) {
    return MTS_EINVAL;
  }
  set = mts_calloc(ctx, 1, sizeof(*set));
  if (set == NULL) {
    return MTS_ENOMEM;
  }
  set->ctx = ctx;
  *out = set;
  return MTS_OK;
}

void mts_txt_rrset_destroy(struct mts_txt_rrset *set) {
  if (set == NULL) {
    return;
  }
  mts_free(set->ctx, set->bytes);
  mts_free(set->ctx, set->strs);
  mts_free(set->ctx, set->rrs);
  mts_free(set->ctx, set);
}

/* Make room for \p nrrs more RRs, \p nstrs more strings and \p nbytes
 * more octets. Growing never changes what the set holds, so a failure
 * leaves it unchanged. The caller has checked the limits. */
static enum mts_status reserve(struct mts_txt_rrset *set, size_t nrrs,
                               size_t nstrs, size_t nbytes) {
  if (set->nrrs + nrrs > set->caprrs) {
    size_t cap = set->caprrs == 0 ? 4 : set->caprrs * 2;
    struct txt_rr *v;

    if (cap < set->nrrs + nrrs) {
      cap = set->nrrs + nrrs;
    }
    v = mts_reallocarray(set->ctx, set->rrs, cap, sizeof(*v));
    if (v == NULL) {
      return MTS_ENOMEM;
    }
    set->rrs = v;
    set->caprrs = cap;
  }
  if (set->nstrs + nstrs > set->capstrs) {
    size_t cap = set->capstrs == 0 ? 8 : set->capstrs * 2;
    struct txt_str *v;

    if (cap < set->nstrs + nstrs) {
      cap = set->nstrs + nstrs;
    }
    v = mts_reallocarray(set->ctx, set->strs, cap, sizeof(*v));
    if (v == NULL) {
      return MTS_ENOMEM;
    }
    set->strs = v;
    set->capstrs = cap;
  }
  if (set->nbytes + nbytes > set->capbytes) {
    size_t cap = set->capbytes == 0 ? 256 : set->capbytes * 2;
    uint8_t *v;

    if (cap < set->nbytes + nbytes) {
      cap = set->nbytes + nbytes;
    }
    v = mts_realloc(set->ctx, set->bytes, cap);
    if (v == NULL) {
      return MTS_ENOMEM;
    }
    set->bytes = v;
    set->capbytes = cap;
  }
  return MTS_OK;
}

/* Would adding these exceed the MTS_TXT_MAX_* limits? */
static bool over_limits(const struct mts_txt_rrset *set, size_t nrrs,
                        size_t nstrs, size_t nbytes) {
  return set->nrrs + nrrs > MTS_TXT_MAX_RRS ||
         set->nstrs + nstrs > MTS_TXT_MAX_STRINGS ||
         set->nbytes + nbytes > MTS_TXT_MAX_BYTES;
}

/* Append without checks: reserve() has made room. */
static void push_rr(struct mts_txt_rrset *set) {
  set->rrs[set->nrrs].first = set->nstrs;
  set->rrs[set->nrrs].n = 0;
  set->nrrs++;
}

static void push_string(struct mts_txt_rrset *set, const uint8_t *data,
                        size_t len) {
  if (len > 0) {
    memcpy(set->bytes + set->nbytes, data, len);
  }
  set->strs[set->nstrs].off = set->nbytes;
  set->strs[set->nstrs].len = len;
  set->nbytes += len;
  set->nstrs++;
  set->rrs[set->nrrs - 1].n++;
}

enum mts_status mts_txt_rrset_add_rr(struct mts_txt_rrset *set) {
  enum mts_status st;

  if (set == NULL) {
    return MTS_EINVAL;
  }
  if (over_limits(set, 1, 0, 0)) {
    return MTS_ETOOBIG;
  }
  st = reserve(set, 1, 0, 0);
  if (st != MTS_OK) {
    return st;
  }
  push_rr(set);
  return MTS_OK;
}

enum mts_status mts_txt_rrset_add_string(struct mts_txt_rrset *set,
                                         const uint8_t *data, size_t len) {
  enum mts_status st;
  size_t newrr;

  if (set == NULL || (data == NULL && len > 0)) {
    return MTS_EINVAL;
  }
  newrr = set->nrrs == 0 ? 1 : 0;
  if (len > MTS_TXT_STRING_MAX || over_limits(set, newrr, 1, len)) {
    return MTS_ETOOBIG;
  }
  st = reserve(set, newrr, 1, len);
  if (st != MTS_OK) {
    return st;
  }
  if (newrr) {
    push_rr(set);
  }
  push_string(set, data, len);
  return MTS_OK;
}

size_t mts_txt_rrset_count(const struct mts_txt_rrset *set) {
  return set == NULL ? 0 : set->nrrs;
}

size_t mts_txt_rrset_nstrings(const struct mts_txt_rrset *set, size_t rr) {
  if (set == NULL || rr >= set->nrrs) {
    return 0;
  }
  return set->rrs[rr].n;
}

const uint8_t *mts_txt_rrset_string(const struct mts_txt_rrset *set,
                                    size_t rr, size_t i, size_t *len) {
  const struct txt_str *s;
  static const uint8_t empty[1] = {0};

  if (len != NULL) {
    *len = 0;
  }
  if (set == NULL || rr >= set->nrrs || i >= set->rrs[rr].n) {
    return NULL;
  }
  s = &set->strs[set->rrs[rr].first + i];
  if (len != NULL) {
    *len = s->len;
  }
  /* An empty set may have no byte array yet; never return NULL for a
   * string that exists. */
  return set->bytes != NULL ? set->bytes + s->off : empty;
}

size_t mts_txt_rrset_concat(const struct mts_txt_rrset *set, size_t rr,
                            uint8_t *buf, size_t bufsize) {
  size_t i, total = 0;

  if (buf != NULL && bufsize > 0) {
    buf[0] = '\0';
  }
  if (set == NULL || rr >= set->nrrs) {
    return 0;
  }
  for (i = 0; i < set->rrs[rr].n; i++) {
    const struct txt_str *s = &set->strs[set->rrs[rr].first + i];

    if (buf != NULL && bufsize > 0 && total < bufsize - 1 && s->len > 0) {
      size_t room = bufsize - 1 - total;
      size_t n = s->len < room ? s->len : room;

      memcpy(buf + total, set->bytes + s->off, n);
      buf[total + n] = '\0';
    }
    total += s->len;
  }
  return total;
}

/* ---- the writer ---- */

/* Append one character to buf if it fits; count it regardless. */
static void out_ch(char *buf, size_t bufsize, size_t *pos, char c) {
  if (buf != NULL && *pos + 1 < bufsize) {
    buf[*pos] = c;
  }
  (*pos)++;
}

size_t mts_txt_rrset_tostr(const struct mts_txt_rrset *set, size_t rr,
                           char *buf, size_t bufsize) {
  size_t i, j, pos = 0;

  if (set != NULL && rr < set->nrrs) {
    for (i = 0; i < set->rrs[rr].n; i++) {
      const struct txt_str *s = &set->strs[set->rrs[rr].first + i];

      if (i > 0) {
        out_ch(buf, bufsize, &pos, ' ');
      }
      out_ch(buf, bufsize, &pos, '"');
      for (j = 0; j < s->len; j++) {
        uint8_t c = set->bytes[s->off + j];

        if (c == '"' || c == '\\') {
          out_ch(buf, bufsize, &pos, '\\');
          out_ch(buf, bufsize, &pos, (char)c);
        } else if (c < 0x20 || c > 0x7e) {
          out_ch(buf, bufsize, &pos, '\\');
          out_ch(buf, bufsize, &pos, (char)('0' + c / 100));
          out_ch(buf, bufsize, &pos, (char)('0' + (c / 10) % 10));
          out_ch(buf, bufsize, &pos, (char)('0' + c % 10));
        } else {
          out_ch(buf, bufsize, &pos, (char)c);
        }
      }
      out_ch(buf, bufsize, &pos, '"');
    }
  }
  if (buf != NULL && bufsize > 0) {
    buf[pos < bufsize ? pos : bufsize - 1] = '\0';
  }
  return pos;
}

/* ---- the presentation reader ---- */

/* Separators between character-strings. Line ends are accepted as blanks
 * so that a line copied from `dig +short` with its newline parses. */
static bool is_blank(uint8_t c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * Read one character-string starting at text[*pos] (not a blank) into
 * \p out (at least MTS_TXT_STRING_MAX + 1 bytes). \return MTS_OK,
 * MTS_EPARSE or MTS_ETOOBIG with *err set.
 */
static enum mts_status read_string(const uint8_t *text, size_t len,
                                   size_t *pos, uint8_t *out, size_t *outlen,
                                   const char **err) {
  size_t p = *pos, n = 0;
  bool quoted = false;

  if (text[p] == '"') {
    quoted = true;
    p++;
  }
  for (;;) {
    uint8_t c;

    if (p >= len) {
      if (quoted) {
        *err = "unterminated quoted string";
        return MTS_EPARSE;
      }
      break;
    }
    c = text[p];
    if (quoted && c == '"') {
      p++;
      /* `"a"x` or `"a""b"`: a string must be followed by a blank or
       * the end (PRES-3). */
      if (p < len && !is_blank(text[p])) {
        *err = "garbage after a quoted string (a blank must separate "
               "character-strings)";
        return MTS_EPARSE;
      }
      break;
    }
    if (!quoted && is_blank(c)) {
      break;
    }
    if (!quoted && c == '"') {
      *err = "unescaped quote inside an unquoted word";
      return MTS_EPARSE;
    }
    if (c == '\\') {
      p++;
      if (p >= len) {
        *err = "backslash at the end of the input";
        return MTS_EPARSE;
      }
      if (mts_is_digit(text[p])) {
        unsigned v = 0;
        size_t k;

        for (k = 0; k < 3; k++) {
          if (p + k >= len || !mts_is_digit(text[p + k])) {
            *err = "\\DDD escape needs exactly three decimal digits";
            return MTS_EPARSE;
          }
          v = v * 10 + (unsigned)(text[p + k] - '0');
        }
        if (v > 255) {
          *err = "\\DDD escape above 255";
          return MTS_EPARSE;
        }
        c = (uint8_t)v;
        p += 3;
      } else {
        c = text[p]; /* \X: X literally (RFC 1035 5.1) */
        p++;
      }
    } else {
      p++;
    }
    if (n >= MTS_TXT_STRING_MAX) {
      *err = "character-string longer than 255 octets";
      return MTS_ETOOBIG;
    }
    out[n++] = c;
  }
  *pos = p;
  *outlen = n;
  return MTS_OK;
}

/*
 * Walk the text. With \p set NULL only count strings and octets; with a
 * set, append them (room has been reserved, so this cannot fail).
 */
static enum mts_status parse_presentation(const uint8_t *text, size_t len,
                                          struct mts_txt_rrset *set,
                                          size_t *nstrs, size_t *nbytes,
                                          const char **err) {
  uint8_t tmp[MTS_TXT_STRING_MAX + 1];
  size_t pos = 0;

  *nstrs = 0;
  *nbytes = 0;
  for (;;) {
    size_t n = 0;
    enum mts_status st;

    while (pos < len && is_blank(text[pos])) {
      pos++;
    }
    if (pos >= len) {
      break;
    }
    st = read_string(text, len, &pos, tmp, &n, err);
    if (st != MTS_OK) {
      return st;
    }
    if (set != NULL) {
      push_string(set, tmp, n);
    }
    (*nstrs)++;
    *nbytes += n;
  }
  if (*nstrs == 0) {
    *err = "no character-string";
    return MTS_EPARSE;
  }
  return MTS_OK;
}

enum mts_status mts_txt_rrset_add_presentation(struct mts_txt_rrset *set,
                                               const char *text, size_t len,
                                               const char **err) {
  const char *e = NULL;
  size_t nstrs, nbytes;
  enum mts_status st;

  if (set == NULL || (text == NULL && len > 0)) {
    e = "invalid argument";
    st = MTS_EINVAL;
    goto done;
  }
  /* Pass 1 validates and measures, so that the set stays unchanged on
   * error and pass 2 cannot fail. */
  st = parse_presentation((const uint8_t *)text, len, NULL, &nstrs, &nbytes,
                          &e);
  if (st != MTS_OK) {
    goto done;
  }
  if (over_limits(set, 1, nstrs, nbytes)) {
    e = "RRset exceeds the MTS_TXT_MAX_* limits";
    st = MTS_ETOOBIG;
    goto done;
  }
  st = reserve(set, 1, nstrs, nbytes);
  if (st != MTS_OK) {
    e = "out of memory";
    goto done;
  }
  push_rr(set);
  st = parse_presentation((const uint8_t *)text, len, set, &nstrs, &nbytes,
                          &e);
done:
  if (err != NULL) {
    *err = st == MTS_OK ? NULL : e;
  }
  return st;
}
