/*
 * txtrec.c - the grammar shared by the `_mta-sts` and `_smtp._tls` TXT
 * records: RR selection, octet checks, version, delimiters, extension
 * fields. See txtrec_int.h.
 */
#include "txtrec_int.h"

#include <mtasts/limits.h>

#include <string.h>

#include "ascii_int.h"

/* Enough of an untrusted snippet for a message. */
#define SNIP 48

static uint32_t col_of(size_t off) {
  return off >= UINT32_MAX ? UINT32_MAX : (uint32_t)(off + 1);
}

static uint32_t line_of(size_t rr) {
  return rr >= UINT32_MAX ? UINT32_MAX : (uint32_t)(rr + 1);
}

/* Concatenate RR \p i into the arena (RFC 8461 3.1 TXT-9, RFC 8460 3:
 * strings are joined without spaces). */
static enum mts_status concat_rr(struct mts_arena *arena,
                                 const struct mts_txt_rrset *set, size_t i,
                                 uint8_t **rec, size_t *len) {
  size_t n = mts_txt_rrset_concat(set, i, NULL, 0);
  uint8_t *buf = mts_arena_alloc(arena, n + 1);

  *rec = NULL;
  *len = 0;
  if (buf == NULL) {
    return MTS_ENOMEM;
  }
  (void)mts_txt_rrset_concat(set, i, buf, n + 1);
  *rec = buf;
  *len = n;
  return MTS_OK;
}

static bool has_prefix(const uint8_t *s, size_t len, const char *p,
                       size_t plen) {
  return len >= plen && memcmp(s, p, plen) == 0;
}

/*
 * Does the RR look like a record of this type, so that a lone RR is
 * judged by the ABNF (VALID/INVALID) rather than classed NONE? Yes when
 * it begins with the version after optional blanks (` v=STSv1; ...`,
 * `v=STSv10`, `v=STSv1 ;...`), or when the version appears as a field of
 * its own (`id=abc; v=STSv1`): the publisher meant an STS record. The
 * version is matched case-sensitively (%s in the ABNF): `V=STSv1` is
 * not one (T13).
 */
static bool looks_like(const uint8_t *rec, size_t len, const char *version) {
  size_t vlen = strlen(version);
  size_t p;

  for (p = 0; p + vlen <= len; p++) {
    size_t q = p;

    if (memcmp(rec + p, version, vlen) != 0) {
      continue;
    }
    while (q > 0 && mts_is_wsp(rec[q - 1])) {
      q--;
    }
    if (q == 0 || rec[q - 1] == ';') {
      return true;
    }
  }
  return false;
}

/* Begins (after blanks) with the version in another letter case? */
static bool near_miss(const uint8_t *rec, size_t len, const char *version) {
  size_t vlen = strlen(version);
  size_t p = 0;

  while (p < len && mts_is_wsp(rec[p])) {
    p++;
  }
  return len - p >= vlen &&
         mts_ascii_caseeq(rec + p, vlen, (const uint8_t *)version, vlen) &&
         memcmp(rec + p, version, vlen) != 0;
}

static enum mts_status report_version_case(struct mts_findings *f,
                                           const struct mts_txtrec_codes *c,
                                           const char *version, size_t rr,
                                           const uint8_t *rec, size_t len) {
  char snip[SNIP];

  return mts_findings_add(
      f, c->version_case, MTS_SEV_WARNING, line_of(rr), 1,
      "TXT RR \"%s\" is not a record: \"%s\" is case-sensitive",
      mts_findings_escape(rec, len, snip, sizeof(snip)), version);
}

enum mts_status mts_txtrec_select(struct mts_arena *arena,
                                  struct mts_findings *f,
                                  const struct mts_txt_rrset *set,
                                  const char *version,
                                  const struct mts_txtrec_codes *codes,
                                  struct mts_txtrec_sel *sel) {
  size_t n = mts_txt_rrset_count(set);
  size_t vlen = strlen(version);
  size_t i, kept = 0;
  enum mts_status st = MTS_OK;
  char snip[SNIP];

  memset(sel, 0, sizeof(*sel));
  if (n == 0) {
    st = mts_findings_add(f, codes->no_record, MTS_SEV_INFO, 0, 0,
                          "no TXT record: no %s record is published", version);
    goto done;
  }
  if (n == 1) {
    uint8_t *rec;
    size_t len;

    st = concat_rr(arena, set, 0, &rec, &len);
    if (st != MTS_OK) {
      goto done;
    }
    if (looks_like(rec, len, version)) {
      sel->pick = MTS_TXTREC_PICK_ONE;
      sel->rec = rec;
      sel->len = len;
      sel->line = 1;
      goto done;
    }
    if (near_miss(rec, len, version)) {
      st = report_version_case(f, codes, version, 0, rec, len);
      if (st != MTS_OK) {
        goto done;
      }
    }
    st = mts_findings_add(f, codes->no_record, MTS_SEV_INFO, 1, 0,
                          "the only TXT RR \"%s\" does not begin with %s",
                          mts_findings_escape(rec, len, snip, sizeof(snip)),
                          version);
    goto done;
  }
  /* Several RRs: keep those beginning with the literal "<version>;"
   * (RFC 8461 3.1 TXT-6, RFC 8460 3 RPT-TXT-4; AMBIG-TXT-1). */
  for (i = 0; i < n; i++) {
    uint8_t *rec;
    size_t len;

    st = concat_rr(arena, set, i, &rec, &len);
    if (st != MTS_OK) {
      goto done;
    }
    if (has_prefix(rec, len, version, vlen) && len > vlen &&
        rec[vlen] == ';') {
      if (kept++ == 0) {
        sel->rec = rec;
        sel->len = len;
        sel->line = line_of(i);
      }
      continue;
    }
    if (looks_like(rec, len, version)) {
      st = mts_findings_add(
          f, codes->discarded_like, MTS_SEV_WARNING, line_of(i), 1,
          "TXT RR \"%s\" was discarded: with several RRs only those "
          "beginning with \"%s;\" count",
          mts_findings_escape(rec, len, snip, sizeof(snip)), version);
    } else {
      if (near_miss(rec, len, version)) {
        st = report_version_case(f, codes, version, i, rec, len);
        if (st != MTS_OK) {
          goto done;
        }
      }
      st = mts_findings_add(f, codes->discarded, MTS_SEV_INFO, line_of(i), 1,
                            "TXT RR \"%s\" does not begin with \"%s;\" "
                            "(discarded)",
                            mts_findings_escape(rec, len, snip, sizeof(snip)),
                            version);
    }
    if (st != MTS_OK) {
      goto done;
    }
  }
  if (kept == 0) {
    sel->rec = NULL;
    sel->len = 0;
    sel->line = 0;
    st = mts_findings_add(f, codes->no_record, MTS_SEV_INFO, 0, 0,
                          "none of the %zu TXT RRs begins with \"%s;\"", n,
                          version);
  } else if (kept == 1) {
    sel->pick = MTS_TXTREC_PICK_ONE;
  } else {
    sel->pick = MTS_TXTREC_PICK_MULTIPLE;
    sel->rec = NULL;
    sel->len = 0;
    sel->line = 0;
    st = mts_findings_add(f, codes->multiple, MTS_SEV_ERROR, 0, 0,
                          "%zu TXT RRs begin with \"%s;\": there must be "
                          "exactly one",
                          kept, version);
  }
done:
  if (st != MTS_OK) {
    memset(sel, 0, sizeof(*sel));
  }
  return st;
}

/* ext-name = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".") */
static bool ext_name_ok(const uint8_t *s, size_t len) {
  size_t i;

  if (len == 0 || len > MTS_EXT_NAME_MAX || !mts_is_alnum(s[0])) {
    return false;
  }
  for (i = 1; i < len; i++) {
    if (!mts_is_alnum(s[i]) && s[i] != '_' && s[i] != '-' && s[i] != '.') {
      return false;
    }
  }
  return true;
}

bool mts_txtrec_ext_value_ok(const uint8_t *v, size_t len, size_t *bad) {
  size_t i;

  *bad = 0;
  if (len == 0) {
    return false;
  }
  for (i = 0; i < len; i++) {
    if (v[i] < 0x21 || v[i] > 0x7e || v[i] == ';' || v[i] == '=') {
      *bad = i;
      return false;
    }
  }
  return true;
}

enum mts_status mts_txtrec_check_ext(struct mts_findings *f,
                                     const struct mts_txtrec_codes *codes,
                                     uint32_t line,
                                     const struct mts_txtrec_field *fld,
                                     bool *ok) {
  char name[SNIP];
  size_t bad;

  mts_findings_escape(fld->name, fld->name_len, name, sizeof(name));
  if (!mts_txtrec_ext_value_ok(fld->value, fld->value_len, &bad)) {
    *ok = false;
    if (fld->value_len == 0) {
      return mts_findings_add(f, codes->bad_extension, MTS_SEV_ERROR, line,
                              fld->value_col,
                              "extension field \"%s\" has an empty value",
                              name);
    }
    return mts_findings_add(
        f, codes->bad_extension, MTS_SEV_ERROR, line,
        fld->value_col + (uint32_t)bad,
        "extension field \"%s\": octet 0x%02x is not allowed in a value "
        "(blanks, \";\", \"=\" and controls are excluded)",
        name, (unsigned)fld->value[bad]);
  }
  return mts_findings_add(f, codes->unknown_field, MTS_SEV_INFO, line,
                          fld->name_col, "unknown field \"%s\" ignored",
                          name);
}

/* Report the first NUL, non-ASCII octet and other CTL (TXT-2). */
static enum mts_status check_octets(struct mts_findings *f,
                                    const struct mts_txtrec_sel *sel,
                                    const struct mts_txtrec_codes *codes,
                                    bool *ok) {
  size_t i, nul = SIZE_MAX, high = SIZE_MAX, ctl = SIZE_MAX;
  enum mts_status st = MTS_OK;

  for (i = 0; i < sel->len; i++) {
    uint8_t c = sel->rec[i];

    if (c == 0 && nul == SIZE_MAX) {
      nul = i;
    } else if (c >= 0x80 && high == SIZE_MAX) {
      high = i;
    } else if (c != 0 && ((c < 0x20 && c != '\t') || c == 0x7f) &&
               ctl == SIZE_MAX) {
      ctl = i;
    }
  }
  if (nul != SIZE_MAX) {
    *ok = false;
    st = mts_findings_add(f, codes->nul, MTS_SEV_ERROR, sel->line,
                          col_of(nul), "the record contains a NUL octet");
  }
  if (st == MTS_OK && high != SIZE_MAX) {
    *ok = false;
    st = mts_findings_add(f, codes->non_ascii, MTS_SEV_ERROR, sel->line,
                          col_of(high),
                          "octet 0x%02x: the record must be US-ASCII",
                          (unsigned)sel->rec[high]);
  }
  if (st == MTS_OK && ctl != SIZE_MAX) {
    *ok = false;
    st = mts_findings_add(f, codes->control, MTS_SEV_ERROR, sel->line,
                          col_of(ctl), "control character 0x%02x",
                          (unsigned)sel->rec[ctl]);
  }
  return st;
}

static size_t find_semi(const uint8_t *s, size_t from, size_t len) {
  const uint8_t *p = from < len ? memchr(s + from, ';', len - from) : NULL;

  return p == NULL ? len : (size_t)(p - s);
}

/* One field segment [a, b) (trimmed, non-empty): check `name=` and add
 * it to the list. */
static enum mts_status split_field(struct mts_findings *f,
                                   const struct mts_txtrec_sel *sel,
                                   const struct mts_txtrec_codes *codes,
                                   size_t a, size_t b,
                                   struct mts_txtrec_field *out, size_t *n,
                                   bool *ok) {
  const uint8_t *rec = sel->rec;
  const uint8_t *eqp = memchr(rec + a, '=', b - a);
  char snip[SNIP];
  size_t eq, nlen;

  if (eqp == NULL) {
    *ok = false;
    return mts_findings_add(
        f, codes->bad_field, MTS_SEV_ERROR, sel->line, col_of(a),
        "field \"%s\" is not name=value",
        mts_findings_escape(rec + a, b - a, snip, sizeof(snip)));
  }
  eq = (size_t)(eqp - rec);
  nlen = eq - a;
  if ((nlen > 0 && mts_is_wsp(rec[eq - 1])) ||
      (eq + 1 < b && mts_is_wsp(rec[eq + 1]))) {
    *ok = false;
    return mts_findings_add(f, codes->bad_field, MTS_SEV_ERROR, sel->line,
                            col_of(eq),
                            "blanks around \"=\" are not allowed");
  }
  if (!ext_name_ok(rec + a, nlen)) {
    *ok = false;
    return mts_findings_add(
        f, codes->bad_extension, MTS_SEV_ERROR, sel->line, col_of(a),
        "bad field name \"%s\" (1-32 letters, digits, \"_\", \"-\", \".\", "
        "beginning with a letter or digit)",
        mts_findings_escape(rec + a, nlen, snip, sizeof(snip)));
  }
  out[*n].name = rec + a;
  out[*n].name_len = nlen;
  out[*n].name_col = col_of(a);
  out[*n].value = rec + eq + 1;
  out[*n].value_len = b - eq - 1;
  out[*n].value_col = col_of(eq + 1);
  (*n)++;
  return MTS_OK;
}

enum mts_status mts_txtrec_split(struct mts_arena *arena,
                                 struct mts_findings *f,
                                 const struct mts_txtrec_sel *sel,
                                 const char *version,
                                 const struct mts_txtrec_codes *codes,
                                 struct mts_txtrec_field **fields,
                                 size_t *nfields, bool *ok) {
  const uint8_t *rec = sel->rec;
  size_t len = sel->len;
  size_t vlen = strlen(version);
  struct mts_txtrec_field *v = NULL;
  size_t i, nsemi = 0, n = 0, p, end0;
  enum mts_status st = MTS_OK;

  *fields = NULL;
  *nfields = 0;
  *ok = true;
  st = check_octets(f, sel, codes, ok);
  if (st != MTS_OK || !*ok) {
    goto done; /* one report per bad octet kind; the rest would be noise */
  }
  /* TXT-5 / RPT-TXT-2: the record begins with the version, exactly. */
  if (!has_prefix(rec, len, version, vlen)) {
    *ok = false;
    st = mts_findings_add(f, codes->bad_version, MTS_SEV_ERROR, sel->line, 1,
                          "the record must begin with \"%s\"", version);
    goto done;
  }
  for (i = vlen; i < len; i++) {
    nsemi += rec[i] == ';';
  }
  v = mts_arena_alloc(arena, (nsemi + 1) * sizeof(*v));
  if (v == NULL) {
    st = MTS_ENOMEM;
    goto done;
  }
  /* Between the version and the first ";": only blanks. */
  p = vlen;
  end0 = find_semi(rec, p, len);
  if (p < end0) {
    size_t q = p;

    while (q < end0 && mts_is_wsp(rec[q])) {
      q++;
    }
    if (q == p) {
      *ok = false;
      st = mts_findings_add(f, codes->bad_version, MTS_SEV_ERROR, sel->line,
                            col_of(p),
                            "the version must be exactly \"%s\" followed by "
                            "\";\"",
                            version);
    } else if (q < end0) {
      *ok = false;
      st = mts_findings_add(f, codes->trailing_garbage, MTS_SEV_ERROR,
                            sel->line, col_of(q),
                            "unexpected text after the version");
    } else if (end0 == len) {
      *ok = false;
      st = mts_findings_add(f, codes->trailing_garbage, MTS_SEV_ERROR,
                            sel->line, col_of(p),
                            "blanks at the end of the record without \";\"");
    }
    if (st != MTS_OK) {
      goto done;
    }
  }
  /* The fields: each segment between ";" is *WSP field *WSP; the last
   * may be blanks only (the optional trailing field-delim), and a last
   * field may not be followed by blanks (no ";" to attach them to). */
  p = end0;
  while (p < len) {
    size_t s = p + 1;
    size_t e = find_semi(rec, s, len);
    bool last = e == len;
    size_t a = s, b = e;

    while (a < e && mts_is_wsp(rec[a])) {
      a++;
    }
    while (b > a && mts_is_wsp(rec[b - 1])) {
      b--;
    }
    if (a == e) {
      if (!last) {
        *ok = false;
        st = mts_findings_add(f, codes->empty_field, MTS_SEV_ERROR, sel->line,
                              col_of(e), "empty field (\";;\")");
      }
      /* A blank last segment is the optional trailing delimiter; with no
       * field before it (`v=STSv1;`) the caller reports the missing
       * required field. */
    } else {
      if (last && b < e) {
        *ok = false;
        st = mts_findings_add(f, codes->trailing_garbage, MTS_SEV_ERROR,
                              sel->line, col_of(b),
                              "blanks at the end of the record without "
                              "\";\"");
      }
      if (st == MTS_OK) {
        st = split_field(f, sel, codes, a, b, v, &n, ok);
      }
    }
    if (st != MTS_OK) {
      goto done;
    }
    p = e;
  }
  *fields = v;
  *nfields = n;
done:
  if (st != MTS_OK) {
    *fields = NULL;
    *nfields = 0;
  }
  return st;
}
