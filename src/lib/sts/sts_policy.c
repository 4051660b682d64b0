/*
 * sts_policy.c - the MTA-STS policy file parser (RFC 8461 3.2); see
 * include/mtasts/sts_policy.h for the contract and
 * docs/decisions.md for every reading of the RFC made here.
 *
 * Shape: one pre-scan counts lines (and lines that start with "mx:") so
 * the result arrays are allocated once, then one pass over the lines.
 * The body is copied once into the result's arena and every line
 * terminator is overwritten with NUL in the copy, so the raw lines cost
 * one allocation. Each line is classified and checked on its own; no
 * step looks back at earlier lines, so the work is linear in the size.
 *
 * Tests: tests/unit/test_sts_policy.c (vector IDs P01..P72 and X*).
 */
#include <mtasts/limits.h>
#include <mtasts/sts_match.h>
#include <mtasts/sts_policy.h>

#include <stdio.h>
#include <string.h>

#include "core/arena_int.h"
#include "core/ascii_int.h"
#include "core/findings_int.h"

/* At most this many findings with the same code are kept; more are
 * counted and summarised by one policy-findings-truncated finding, so a
 * 64 KiB body of 30000 blank or unknown lines cannot produce 30000
 * findings (and log lines) on every fetch. The first finding of each
 * code is always kept, so "no error finding" still means "usable". */
#define POLICY_FINDINGS_PER_CODE 16

/* Bytes of untrusted text quoted in one finding message. */
#define QUOTE_MAX 64

/* Every finding code this module emits (docs/findings.md). */
#define POLICY_CODES(X)                                                       \
  X(TOO_LARGE, "policy-too-large")                                            \
  X(EMPTY, "policy-empty")                                                    \
  X(NUL, "policy-nul")                                                        \
  X(BOM, "policy-bom")                                                        \
  X(BLANK_LINE, "policy-blank-line")                                          \
  X(TRAILING_NEWLINES, "policy-trailing-newlines")                            \
  X(BARE_CR, "policy-bare-cr")                                                \
  X(LEADING_WHITESPACE, "policy-leading-whitespace")                          \
  X(NO_COLON, "policy-no-colon")                                              \
  X(WHITESPACE_BEFORE_COLON, "policy-whitespace-before-colon")                \
  X(BAD_FIELD_NAME, "policy-bad-field-name")                                  \
  X(BAD_VALUE, "policy-bad-value")                                            \
  X(BAD_UTF8, "policy-bad-utf8")                                              \
  X(BAD_VERSION, "policy-bad-version")                                        \
  X(BAD_MODE, "policy-bad-mode")                                              \
  X(BAD_MAX_AGE, "policy-bad-max-age")                                        \
  X(MAX_AGE_TOO_LARGE, "policy-max-age-too-large")                            \
  X(MX_INVALID, "policy-mx-invalid")                                          \
  X(MISSING_VERSION, "policy-missing-version")                                \
  X(MISSING_MODE, "policy-missing-mode")                                      \
  X(MISSING_MAX_AGE, "policy-missing-max-age")                                \
  X(MISSING_MX, "policy-missing-mx")                                          \
  X(DUPLICATE_FIELD, "policy-duplicate-field")                                \
  X(UNKNOWN_FIELD, "policy-unknown-field")                                    \
  X(FINDINGS_TRUNCATED, "policy-findings-truncated")

enum pcode {
#define PCODE_ENUM_(name, str) PC_##name,
  POLICY_CODES(PCODE_ENUM_)
#undef PCODE_ENUM_
  PC_COUNT_
};

static const char *const pcode_str[PC_COUNT_] = {
#define PCODE_STR_(name, str) str,
    POLICY_CODES(PCODE_STR_)
#undef PCODE_STR_
};

/* The registered fields that may appear once (IANA "MTA-STS Policy
 * Fields", RFC 8461 9.3); `mx` is handled apart because it repeats. */
enum single_field { F_VERSION = 0, F_MODE, F_MAX_AGE, F_COUNT_ };

static const char *const single_name[F_COUNT_] = {"version", "mode",
                                                  "max_age"};

struct mts_sts_policy {
  struct mts_arena *arena;
  struct mts_findings findings;
  bool valid;
  bool usable;
  const char *version; /* "STSv1" or NULL */
  enum mts_sts_mode mode;
  int64_t max_age; /* -1: missing or invalid */
  const char **mx;
  size_t mx_n;
  size_t mx_cap; /* from the pre-scan */
  const char **lines;
  size_t line_n;
  /* The body's copy that the lines live in, with each line's first
   * terminator byte overwritten by NUL; mts_sts_policy_text() puts the
   * terminators back: from where the next line starts, and for the last
   * line from last_term. NULL for a body refused before the split. */
  const uint8_t *text;
  size_t text_len;
  uint8_t last_term; /* the last line's terminator: 0, 1 (LF), 2 (CRLF) */
};

/* Parser state that does not outlive mts_sts_policy_parse(). */
struct pstate {
  struct mts_sts_policy *p;
  unsigned code_n[PC_COUNT_]; /* findings per code, kept or not */
  size_t suppressed;          /* findings dropped by the per-code cap */
  bool deviation;             /* a harmless deviation (BOM, empty lines) */
  bool error;                 /* a grammar break or missing field */
  bool seen[F_COUNT_];        /* the first occurrence was consumed */
  const uint8_t *first_val[F_COUNT_]; /* value of that first occurrence */
  size_t first_len[F_COUNT_];
  bool mx_line_seen; /* some `mx` line, valid or not */
  uint32_t blank_first; /* first line of a pending run of empty lines */
  uint32_t blank_n;     /* length of that run */
  bool field_seen;      /* a non-empty line was seen */
};

const char *mts_sts_mode_str(enum mts_sts_mode mode) {
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
  return "unknown";
}

/*
 * Record a finding. Errors and harmless deviations set the verdict flags
 * here, before the per-code cap, so the verdict never depends on which
 * findings were kept. \return MTS_OK or MTS_ENOMEM.
 */
static enum mts_status add(struct pstate *ps, enum pcode code,
                           enum mts_severity sev, uint32_t line, uint32_t col,
                           const char *fmt, ...) MTS_PRINTF(6, 7);

static enum mts_status add(struct pstate *ps, enum pcode code,
                           enum mts_severity sev, uint32_t line, uint32_t col,
                           const char *fmt, ...) {
  char msg[256];
  va_list ap;

  if (sev == MTS_SEV_ERROR) {
    ps->error = true;
  }
  if (++ps->code_n[code] > POLICY_FINDINGS_PER_CODE) {
    ps->suppressed++;
    return MTS_OK;
  }
  va_start(ap, fmt);
  (void)vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  return mts_findings_add(&ps->p->findings, pcode_str[code], sev, line, col,
                          "%s", msg);
}

/* Escape untrusted bytes for a message (mts_findings_escape). */
static const char *quote(const uint8_t *s, size_t len, char *buf,
                         size_t size) {
  return mts_findings_escape(s, len, buf, size);
}

/* sts-policy-ext-name = alphanum *31(alphanum / "_" / "-" / ".") */
static bool ext_name_valid(const uint8_t *s, size_t n) {
  size_t i;

  if (n == 0 || n > MTS_EXT_NAME_MAX || !mts_is_alnum(s[0])) {
    return false;
  }
  for (i = 1; i < n; i++) {
    if (!mts_is_alnum(s[i]) && s[i] != '_' && s[i] != '-' && s[i] != '.') {
      return false;
    }
  }
  return true;
}

/*
 * Length of the RFC 3629 UTF8-2/3/4 sequence at s (n bytes left), or 0
 * when it is not one: no overlong forms, no surrogates (U+D800..DFFF),
 * nothing above U+10FFFF, no truncated sequence.
 */
static size_t utf8_seq(const uint8_t *s, size_t n) {
  uint8_t c = s[0];
  uint8_t lo = 0x80, hi = 0xbf;
  size_t need, i;

  if (c >= 0xc2 && c <= 0xdf) {
    need = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    need = 3;
    if (c == 0xe0) {
      lo = 0xa0; /* overlong */
    } else if (c == 0xed) {
      hi = 0x9f; /* surrogates */
    }
  } else if (c >= 0xf0 && c <= 0xf4) {
    need = 4;
    if (c == 0xf0) {
      lo = 0x90; /* overlong */
    } else if (c == 0xf4) {
      hi = 0x8f; /* above U+10FFFF */
    }
  } else {
    return 0; /* continuation byte, C0/C1 overlong lead, F5..FF */
  }
  if (n < need || s[1] < lo || s[1] > hi) {
    return 0;
  }
  for (i = 2; i < need; i++) {
    if (s[i] < 0x80 || s[i] > 0xbf) {
      return 0;
    }
  }
  return need;
}

/*
 * Check a value (already stripped of the WSP the record grammar allows
 * around it) against sts-policy-ext-value: non-empty, sts-policy-vchar
 * or SP inside, no CTL (HTAB included), valid UTF-8. The first and last
 * octet cannot be WSP because the caller stripped it.
 * \return MTS_OK (also when a finding was added) or MTS_ENOMEM; *ok says
 * whether the value conforms.
 */
static enum mts_status check_ext_value(struct pstate *ps, uint32_t line,
                                       uint32_t col, const uint8_t *v,
                                       size_t n, bool *ok) {
  char q[QUOTE_MAX];
  size_t i = 0;

  *ok = false;
  if (n == 0) {
    return add(ps, PC_BAD_VALUE, MTS_SEV_ERROR, line, col,
               "empty value (sts-policy-ext-value needs at least one "
               "character)");
  }
  while (i < n) {
    uint8_t c = v[i];
    size_t k;

    if (c >= 0x20 && c < 0x7f) {
      i++;
      continue;
    }
    if (c < 0x80) { /* CTL: HTAB inside the value, 0x01..0x1f, 0x7f */
      return add(ps, PC_BAD_VALUE, MTS_SEV_ERROR, line,
                 col + (uint32_t)i,
                 "control character 0x%02x in value '%s'", (unsigned)c,
                 quote(v, n, q, sizeof(q)));
    }
    k = utf8_seq(v + i, n - i);
    if (k == 0) {
      return add(ps, PC_BAD_UTF8, MTS_SEV_ERROR, line, col + (uint32_t)i,
                 "invalid UTF-8 at byte 0x%02x in value '%s'", (unsigned)c,
                 quote(v, n, q, sizeof(q)));
    }
    i += k;
  }
  *ok = true;
  return MTS_OK;
}

/* max_age: 1*10(DIGIT), decimal (leading zeros too), <= 31557600. */
static enum mts_status parse_max_age(struct pstate *ps, uint32_t line,
                                     uint32_t col, const uint8_t *v,
                                     size_t n) {
  char q[QUOTE_MAX];
  uint64_t val = 0;
  size_t i;

  for (i = 0; i < n; i++) {
    if (!mts_is_digit(v[i])) {
      break;
    }
  }
  if (n == 0 || i != n || n > MTS_STS_MAX_AGE_DIGITS) {
    return add(ps, PC_BAD_MAX_AGE, MTS_SEV_ERROR, line, col,
               "max_age '%s' is not 1 to %d decimal digits",
               quote(v, n, q, sizeof(q)), MTS_STS_MAX_AGE_DIGITS);
  }
  for (i = 0; i < n; i++) { /* 10 digits fit easily in 64 bits */
    val = val * 10u + (uint64_t)(v[i] - '0');
  }
  if (val > MTS_STS_MAX_AGE_MAX) {
    return add(ps, PC_MAX_AGE_TOO_LARGE, MTS_SEV_ERROR, line, col,
               "max_age %llu is above the maximum of %d (AMBIG-POL-2)",
               (unsigned long long)val, MTS_STS_MAX_AGE_MAX);
  }
  ps->p->max_age = (int64_t)val;
  return MTS_OK;
}

/* The first occurrence of version, mode or max_age. */
static enum mts_status parse_single(struct pstate *ps, enum single_field f,
                                    uint32_t line, uint32_t col,
                                    const uint8_t *v, size_t n) {
  char q[QUOTE_MAX];

  switch (f) {
  case F_VERSION:
    if (n == 5 && memcmp(v, "STSv1", 5) == 0) {
      ps->p->version = "STSv1";
      return MTS_OK;
    }
    return add(ps, PC_BAD_VERSION, MTS_SEV_ERROR, line, col,
               "version '%s' is not \"STSv1\" (case-sensitive)",
               quote(v, n, q, sizeof(q)));
  case F_MODE:
    if (n == 7 && memcmp(v, "enforce", 7) == 0) {
      ps->p->mode = MTS_STS_MODE_ENFORCE;
    } else if (n == 7 && memcmp(v, "testing", 7) == 0) {
      ps->p->mode = MTS_STS_MODE_TESTING;
    } else if (n == 4 && memcmp(v, "none", 4) == 0) {
      ps->p->mode = MTS_STS_MODE_NONE;
    } else {
      return add(ps, PC_BAD_MODE, MTS_SEV_ERROR, line, col,
                 "mode '%s' is not \"enforce\", \"testing\" or \"none\" "
                 "(case-sensitive)",
                 quote(v, n, q, sizeof(q)));
    }
    return MTS_OK;
  case F_MAX_AGE:
    return parse_max_age(ps, line, col, v, n);
  case F_COUNT_:
    break;
  }
  return MTS_EINTERNAL;
}

/* Which registered field a key names, exactly (case-sensitive). */
static int single_field_of(const uint8_t *k, size_t n) {
  int f;

  for (f = 0; f < F_COUNT_; f++) {
    if (strlen(single_name[f]) == n && memcmp(single_name[f], k, n) == 0) {
      return f;
    }
  }
  return -1;
}

/* The registered key a key equals when case is ignored, or NULL. */
static const char *case_hint(const uint8_t *k, size_t n) {
  int f;

  if (mts_ascii_caseeq(k, n, (const uint8_t *)"mx", 2)) {
    return "mx";
  }
  for (f = 0; f < F_COUNT_; f++) {
    if (mts_ascii_caseeq(k, n, (const uint8_t *)single_name[f],
                         strlen(single_name[f]))) {
      return single_name[f];
    }
  }
  return NULL;
}

/*
 * One non-empty line (terminator removed): c points into the arena
 * copy, n is its length. Any grammar break ends the line's processing:
 * its field is then not interpreted.
 */
static enum mts_status parse_line(struct pstate *ps, uint32_t line,
                                  const uint8_t *c, size_t n) {
  struct mts_sts_policy *p = ps->p;
  char q[QUOTE_MAX];
  const uint8_t *hit, *v;
  size_t klen, vs, ve;
  uint32_t vcol;
  int f;
  bool ok;

  if ((hit = memchr(c, '\0', n)) != NULL) {
    return add(ps, PC_NUL, MTS_SEV_ERROR, line, (uint32_t)(hit - c) + 1,
               "NUL byte in line '%s'", quote(c, n, q, sizeof(q)));
  }
  if ((hit = memchr(c, '\r', n)) != NULL) {
    return add(ps, PC_BARE_CR, MTS_SEV_ERROR, line, (uint32_t)(hit - c) + 1,
               "CR not followed by LF (a bare CR is not a line terminator) "
               "in '%s'",
               quote(c, n, q, sizeof(q)));
  }
  if (mts_is_wsp(c[0])) {
    return add(ps, PC_LEADING_WHITESPACE, MTS_SEV_ERROR, line, 1,
               "line starts with whitespace: '%s'",
               quote(c, n, q, sizeof(q)));
  }
  if ((hit = memchr(c, ':', n)) == NULL) {
    return add(ps, PC_NO_COLON, MTS_SEV_ERROR, line, 1,
               "line is not a \"key: value\" field: '%s'",
               quote(c, n, q, sizeof(q)));
  }
  klen = (size_t)(hit - c);
  if (klen > 0 && mts_is_wsp(c[klen - 1])) {
    return add(ps, PC_WHITESPACE_BEFORE_COLON, MTS_SEV_ERROR, line,
               (uint32_t)klen, "whitespace before ':' in '%s'",
               quote(c, n, q, sizeof(q)));
  }
  /* registered names are valid ext-names, so this covers them too */
  if (!ext_name_valid(c, klen)) {
    return add(ps, PC_BAD_FIELD_NAME, MTS_SEV_ERROR, line, 1,
               "'%s' is not a field name (a letter or digit, then up to 31 "
               "letters, digits, '_', '-' or '.')",
               quote(c, klen, q, sizeof(q)));
  }
  /* sts-policy-field-delim = ":" *WSP; *WSP before the terminator */
  vs = klen + 1;
  while (vs < n && mts_is_wsp(c[vs])) {
    vs++;
  }
  ve = n;
  while (ve > vs && mts_is_wsp(c[ve - 1])) {
    ve--;
  }
  v = c + vs;
  vcol = (uint32_t)vs + 1;

  if (klen == 2 && memcmp(c, "mx", 2) == 0) {
    /* every mx line counts (POL-4); a bad one is an error
     * (AMBIG-POL-1, P72) */
    ps->mx_line_seen = true;
    if (!mts_sts_match_pattern_valid((const char *)v, ve - vs)) {
      return add(ps, PC_MX_INVALID, MTS_SEV_ERROR, line, vcol,
                 "mx '%s' is not \"*.\"-optional RFC 5321 Domain (A-labels, "
                 "no trailing dot, labels of 1-63, at most %d characters)",
                 quote(v, ve - vs, q, sizeof(q)), MTS_DOMAIN_MAX);
    }
    if (p->mx_n >= p->mx_cap) {
      return MTS_EINTERNAL; /* the pre-scan counts every "mx:" line */
    }
    p->mx[p->mx_n] = mts_arena_strndup(p->arena, (const char *)v, ve - vs);
    if (p->mx[p->mx_n] == NULL) {
      return MTS_ENOMEM;
    }
    p->mx_n++;
    return MTS_OK;
  }

  f = single_field_of(c, klen);
  if (f < 0) {
    const char *hint = case_hint(c, klen);
    enum mts_status st = check_ext_value(ps, line, vcol, v, ve - vs, &ok);

    if (st != MTS_OK || !ok) {
      return st;
    }
    return add(ps, PC_UNKNOWN_FIELD, MTS_SEV_INFO, line, 1,
               "unknown field '%s' ignored%s%s%s",
               quote(c, klen, q, sizeof(q)),
               hint != NULL ? " (field names are case-sensitive; did you "
                              "mean '"
                            : "",
               hint != NULL ? hint : "", hint != NULL ? "'?)" : "");
  }

  if (ps->seen[f]) {
    /* POL-8: all but the first are ignored; the line must still match
     * the grammar (as an sts-policy-extension), AMBIG-POL-4. */
    bool same;
    enum mts_status st = check_ext_value(ps, line, vcol, v, ve - vs, &ok);

    if (st != MTS_OK || !ok) {
      return st;
    }
    same = ps->first_len[f] == ve - vs &&
           memcmp(ps->first_val[f], v, ve - vs) == 0;
    return add(ps, PC_DUPLICATE_FIELD, same ? MTS_SEV_INFO : MTS_SEV_WARNING,
               line, 1, "duplicate '%s' field ignored (%s the first)",
               single_name[f], same ? "same value as" : "value differs from");
  }
  ps->seen[f] = true;
  ps->first_val[f] = v;
  ps->first_len[f] = ve - vs;
  return parse_single(ps, (enum single_field)f, line, vcol, v, ve - vs);
}

/* A run of empty lines ended by a field line (not the end of input). */
static enum mts_status flush_blank_run(struct pstate *ps) {
  enum mts_status st = MTS_OK;

  if (ps->blank_n > 0) {
    ps->deviation = true;
    st = add(ps, PC_BLANK_LINE, MTS_SEV_WARNING, ps->blank_first, 1,
             "%u empty line%s (not in the RFC 8461 3.2 grammar; ignored)",
             (unsigned)ps->blank_n, ps->blank_n == 1 ? "" : "s");
    ps->blank_n = 0;
  }
  return st;
}

/* The required fields (RFC 8461 3.2 ABNF comments, POL-9). */
static enum mts_status check_required(struct pstate *ps) {
  struct mts_sts_policy *p = ps->p;
  enum mts_status st = MTS_OK;

  if (!ps->seen[F_VERSION]) {
    st = add(ps, PC_MISSING_VERSION, MTS_SEV_ERROR, 0, 0,
             "required field 'version' is missing");
  }
  if (st == MTS_OK && !ps->seen[F_MODE]) {
    st = add(ps, PC_MISSING_MODE, MTS_SEV_ERROR, 0, 0,
             "required field 'mode' is missing");
  }
  if (st == MTS_OK && !ps->seen[F_MAX_AGE]) {
    st = add(ps, PC_MISSING_MAX_AGE, MTS_SEV_ERROR, 0, 0,
             "required field 'max_age' is missing");
  }
  if (st == MTS_OK && !ps->mx_line_seen &&
      (p->mode == MTS_STS_MODE_TESTING || p->mode == MTS_STS_MODE_ENFORCE)) {
    st = add(ps, PC_MISSING_MX, MTS_SEV_ERROR, 0, 0,
             "mode '%s' requires at least one 'mx' field",
             mts_sts_mode_str(p->mode));
  }
  return st;
}

/* Count lines (as the split in parse_body() makes them, from \p pos on)
 * and lines that start with "mx:", the upper bound of the mx array;
 * \p mx_bytes (may be NULL): what the mx values take in the arena at
 * most (each value is shorter than its line after "mx:"). */
static void prescan(const uint8_t *b, size_t len, size_t pos, size_t *lines,
                    size_t *mx, size_t *mx_bytes) {
  size_t bytes = 0;

  *lines = *mx = 0;
  while (pos < len) {
    const uint8_t *lf = memchr(b + pos, '\n', len - pos);
    size_t end = lf != NULL ? (size_t)(lf - b) : len;

    if (end - pos >= 3 && memcmp(b + pos, "mx:", 3) == 0) {
      (*mx)++;
      bytes += mts_arena_round(end - pos - 3 + 1);
    }
    (*lines)++;
    pos = end + 1;
  }
  if (mx_bytes != NULL) {
    *mx_bytes = bytes;
  }
}

static enum mts_status parse_body(struct pstate *ps, const uint8_t *body,
                                  size_t len) {
  struct mts_sts_policy *p = ps->p;
  enum mts_status st = MTS_OK;
  size_t nlines, nmx, pos = 0;
  uint8_t *copy;
  uint32_t lineno = 0;

  /* One leading UTF-8 BOM: a harmless deviation (AMBIG-POL-3). It is
   * not part of the text, so line 1 (and its columns) starts after it. */
  if (len >= 3 && body[0] == 0xef && body[1] == 0xbb && body[2] == 0xbf) {
    ps->deviation = true;
    st = add(ps, PC_BOM, MTS_SEV_WARNING, 1, 1,
             "UTF-8 byte order mark at the start (not in the grammar; "
             "ignored)");
    if (st != MTS_OK) {
      return st;
    }
    pos = 3;
  }
  prescan(body, len, pos, &nlines, &nmx, NULL);
  copy = (uint8_t *)mts_arena_strndup(p->arena, (const char *)body, len);
  if (copy == NULL) {
    return MTS_ENOMEM;
  }
  p->text = copy;
  p->text_len = len;
  if (nlines > 0) {
    p->lines = mts_arena_alloc(p->arena, nlines * sizeof(*p->lines));
    if (p->lines == NULL) {
      return MTS_ENOMEM;
    }
  }
  if (nmx > 0) {
    p->mx = mts_arena_alloc(p->arena, nmx * sizeof(*p->mx));
    if (p->mx == NULL) {
      return MTS_ENOMEM;
    }
    p->mx_cap = nmx;
  }
  while (st == MTS_OK && pos < len) {
    uint8_t *lf = memchr(copy + pos, '\n', len - pos);
    size_t end = lf != NULL ? (size_t)(lf - copy) : len;
    size_t n = end - pos;
    uint8_t *c = copy + pos;

    lineno++;
    p->last_term = lf != NULL ? 1 : 0;
    if (lf != NULL && n > 0 && c[n - 1] == '\r') {
      n--; /* CRLF */
      p->last_term = 2;
    }
    c[n] = '\0'; /* the copy becomes the line store */
    p->lines[p->line_n++] = (const char *)c;
    pos = end + 1;
    if (n == 0) {
      if (ps->blank_n++ == 0) {
        ps->blank_first = lineno;
      }
      continue;
    }
    st = flush_blank_run(ps);
    if (st == MTS_OK) {
      ps->field_seen = true;
      st = parse_line(ps, lineno, c, n);
    }
  }
  if (st == MTS_OK && ps->blank_n > 0) {
    /* `[sts-policy-term]`: one terminator after the last field; every
     * empty line here is one more. A body of nothing but empty lines
     * is reported as blank lines. */
    if (ps->field_seen) {
      ps->deviation = true;
      st = add(ps, PC_TRAILING_NEWLINES, MTS_SEV_WARNING, ps->blank_first, 1,
               "%u extra line terminator%s at the end (ignored)",
               (unsigned)ps->blank_n, ps->blank_n == 1 ? "" : "s");
      ps->blank_n = 0;
    } else {
      st = flush_blank_run(ps);
    }
  }
  return st;
}

/* What parse_body() allocates in the arena for a body without findings:
 * the object, the copy, the line and mx arrays and the mx values (with a
 * BOM, a little less). A daemon keeps one parsed policy per cached domain, and
 * a first chunk of this size instead of the default 512 bytes saves about
 * 200 bytes of each (bench/README.md). Findings, when there are any, go
 * into further chunks. */
static size_t expected_size(const uint8_t *body, size_t len) {
  size_t nlines, nmx, mx_bytes;

  if (len == 0 || len > MTS_POLICY_MAX_SIZE) {
    return 0;
  }
  prescan(body, len, 0, &nlines, &nmx, &mx_bytes);
  return mts_arena_round(sizeof(struct mts_sts_policy)) +
         mts_arena_round(len + 1) +
         mts_arena_round(nlines * sizeof(const char *)) +
         (nmx > 0 ? mts_arena_round(nmx * sizeof(const char *)) : 0) +
         mx_bytes;
}

enum mts_status mts_sts_policy_parse(struct mts_ctx *ctx, const uint8_t *body,
                                     size_t len,
                                     struct mts_sts_policy **out) {
  struct mts_arena *arena = NULL;
  struct mts_sts_policy *p = NULL;
  struct pstate ps;
  enum mts_status st;

  if (out != NULL) {
    *out = NULL;
  }
  if (ctx == NULL || out == NULL || (body == NULL && len > 0)) {
    return MTS_EINVAL;
  }
  p = mts_arena_create_object_sized(ctx, sizeof(*p), expected_size(body, len),
                                    &arena);
  if (p == NULL) {
    return MTS_ENOMEM;
  }
  p->arena = arena;
  p->mode = MTS_STS_MODE_UNKNOWN;
  p->max_age = -1;
  mts_findings_init(&p->findings, arena);
  memset(&ps, 0, sizeof(ps));
  ps.p = p;

  if (len > MTS_POLICY_MAX_SIZE) {
    /* RFC 8461 3.3 suggests 64 KiB: refuse without looking further. */
    st = add(&ps, PC_TOO_LARGE, MTS_SEV_ERROR, 0, 0,
             "policy body of %zu bytes exceeds the limit of %d bytes", len,
             MTS_POLICY_MAX_SIZE);
    goto done;
  }
  if (len == 0) {
    st = add(&ps, PC_EMPTY, MTS_SEV_ERROR, 0, 0, "policy body is empty");
    if (st == MTS_OK) {
      st = check_required(&ps);
    }
    goto done;
  }
  st = parse_body(&ps, body, len);
  if (st == MTS_OK) {
    st = check_required(&ps);
  }

done:
  if (st == MTS_OK && ps.suppressed > 0) {
    st = mts_findings_add(&p->findings, pcode_str[PC_FINDINGS_TRUNCATED],
                          MTS_SEV_INFO, 0, 0,
                          "%zu more findings not listed (at most %d per code)",
                          ps.suppressed, POLICY_FINDINGS_PER_CODE);
  }
  if (st != MTS_OK) {
    mts_sts_policy_destroy(p);
    return st;
  }
  p->usable = !ps.error;
  p->valid = p->usable && !ps.deviation;
  *out = p;
  return MTS_OK;
}

void mts_sts_policy_destroy(struct mts_sts_policy *policy) {
  struct mts_arena *arena;

  if (policy == NULL) {
    return;
  }
  arena = policy->arena; /* policy itself lives in the arena */
  mts_findings_cleanup(&policy->findings);
  mts_arena_destroy(arena);
}

size_t mts_sts_policy_text(const struct mts_sts_policy *policy, uint8_t *out,
                           size_t cap) {
  size_t i, next;

  if (policy == NULL || policy->text == NULL) {
    return 0;
  }
  if (out == NULL || cap < policy->text_len) {
    return policy->text_len;
  }
  memcpy(out, policy->text, policy->text_len);
  /* Line i ended where line i + 1 starts: an LF there was overwritten
   * (copy[next - 1] is NUL), or the CR of a CRLF (the LF is intact). */
  for (i = 0; i + 1 < policy->line_n; i++) {
    next = (size_t)((const uint8_t *)policy->lines[i + 1] - policy->text);
    if (policy->text[next - 1] == '\n') {
      out[next - 2] = '\r';
    } else {
      out[next - 1] = '\n';
    }
  }
  if (policy->last_term == 1) {
    out[policy->text_len - 1] = '\n';
  } else if (policy->last_term == 2) {
    out[policy->text_len - 2] = '\r';
  }
  return policy->text_len;
}

bool mts_sts_policy_valid(const struct mts_sts_policy *policy) {
  return policy != NULL && policy->valid;
}

bool mts_sts_policy_usable(const struct mts_sts_policy *policy) {
  return policy != NULL && policy->usable;
}

const char *mts_sts_policy_version(const struct mts_sts_policy *policy) {
  return policy == NULL ? NULL : policy->version;
}

enum mts_sts_mode mts_sts_policy_mode(const struct mts_sts_policy *policy) {
  return policy == NULL ? MTS_STS_MODE_UNKNOWN : policy->mode;
}

int64_t mts_sts_policy_max_age(const struct mts_sts_policy *policy) {
  return policy == NULL ? -1 : policy->max_age;
}

size_t mts_sts_policy_mx_count(const struct mts_sts_policy *policy) {
  return policy == NULL ? 0 : policy->mx_n;
}

const char *mts_sts_policy_mx(const struct mts_sts_policy *policy, size_t i) {
  if (policy == NULL || i >= policy->mx_n) {
    return NULL;
  }
  return policy->mx[i];
}

size_t mts_sts_policy_line_count(const struct mts_sts_policy *policy) {
  return policy == NULL ? 0 : policy->line_n;
}

const char *mts_sts_policy_line(const struct mts_sts_policy *policy,
                                size_t i) {
  if (policy == NULL || i >= policy->line_n) {
    return NULL;
  }
  return policy->lines[i];
}

const struct mts_findings *
mts_sts_policy_findings(const struct mts_sts_policy *policy) {
  return policy == NULL ? NULL : &policy->findings;
}
