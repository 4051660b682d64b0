/*
 * fuzz_rpt_txt.c - mts_rpt_txt_parse() over arbitrary TXT RRsets.
 *
 * Input encoding of the RRset (as fuzz_sts_txt.c): split on 0xFF into
 * RRs and each RR on 0xFE into character-strings; an empty input is an
 * empty RRset; strings longer than 255 octets are cut into 255-octet
 * pieces. 0xFE/0xFF never occur inside strings.
 *
 * Invariants (abort() when broken):
 * - the parse succeeds (the libc allocator does not fail);
 * - VALID <=> at least one rua URI; a VALID record has no error finding,
 *   an INVALID one has at least one;
 * - every rua URI is non-empty, has a scheme and ":", contains no blank,
 *   no "," "!" ";" (RFC 8460 3), every "%" is followed by two hex
 *   digits, and the reported scheme agrees with the URI's prefix
 *   (case-insensitively "mailto:" / "https:"); a mailto rua is one
 *   address (a URI of several, "%2C" between them, is split);
 * - the verdict agrees with an independent count of the discard rule
 *   (RRs beginning with the 11 octets "v=TLSRPTv1;");
 * - every finding has an "rpt-" code, a message, and a position inside
 *   the RRset;
 * - presentation round trip: tostr() of each RR read back gives the same
 *   verdict and the same URIs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mtasts/limits.h>
#include <mtasts/mtasts.h>

#define FUZZ_MAX_INPUT 8192

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct mts_txt_rrset *decode(struct mts_ctx *ctx, const uint8_t *data,
                                    size_t size) {
  struct mts_txt_rrset *set = NULL;
  size_t p = 0;

  if (mts_txt_rrset_create(ctx, &set) != MTS_OK) {
    abort();
  }
  if (size == 0) {
    return set;
  }
  if (mts_txt_rrset_add_rr(set) != MTS_OK) {
    abort();
  }
  while (p <= size) {
    size_t e = p;

    while (e < size && data[e] != 0xFE && data[e] != 0xFF) {
      e++;
    }
    do {
      size_t n = e - p > MTS_TXT_STRING_MAX ? MTS_TXT_STRING_MAX : e - p;

      if (mts_txt_rrset_add_string(set, data + p, n) != MTS_OK) {
        return set;
      }
      p += n;
    } while (p < e);
    if (e >= size) {
      break;
    }
    if (data[e] == 0xFF && mts_txt_rrset_add_rr(set) != MTS_OK) {
      return set;
    }
    p = e + 1;
  }
  return set;
}

static bool begins(const struct mts_txt_rrset *set, size_t rr,
                   const char *pfx) {
  uint8_t buf[16];
  size_t n = mts_txt_rrset_concat(set, rr, buf, sizeof(buf));
  size_t pl = strlen(pfx);

  return n >= pl && memcmp(buf, pfx, pl) == 0;
}

static bool hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
         (c >= 'A' && c <= 'F');
}

static bool prefix_ci(const char *s, const char *p) {
  for (; *p != '\0'; s++, p++) {
    char c = *s;

    if (c >= 'A' && c <= 'Z') {
      c = (char)(c - 'A' + 'a');
    }
    if (c != *p) {
      return false;
    }
  }
  return true;
}

static void check_uri(const char *u, enum mts_rpt_uri_scheme sch) {
  size_t i, n = strlen(u);
  const char *colon = strchr(u, ':');

  if (n == 0 || colon == NULL || colon == u) {
    abort();
  }
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)u[i];

    if (c <= 0x20 || c >= 0x7f || c == ',' || c == '!' || c == ';') {
      abort();
    }
    if (c == '%' && (i + 2 >= n || !hex(u[i + 1]) || !hex(u[i + 2]))) {
      abort();
    }
  }
  if ((sch == MTS_RPT_URI_MAILTO) != prefix_ci(u, "mailto:") ||
      (sch == MTS_RPT_URI_HTTPS) != prefix_ci(u, "https:")) {
    abort();
  }
  if (sch == MTS_RPT_URI_MAILTO) {
    size_t end = strcspn(u, "?#"); /* the path: before "?" or "#" */

    for (i = 0; i + 2 < end; i++) {
      if (u[i] == '%' && u[i + 1] == '2' && (u[i + 2] == 'C' || u[i + 2] == 'c')) {
        abort();
      }
    }
  }
}

static void check(const struct mts_txt_rrset *set, const struct mts_rpt_txt *t) {
  enum mts_rpt_txt_verdict v = mts_rpt_txt_verdict(t);
  const struct mts_findings *f = mts_rpt_txt_findings(t);
  size_t i, nrr = mts_txt_rrset_count(set), kept = 0, errors = 0;
  size_t nrua = mts_rpt_txt_rua_count(t);

  for (i = 0; i < mts_findings_count(f); i++) {
    const struct mts_finding *fi = mts_findings_get(f, i);

    if (fi == NULL || fi->code == NULL || fi->message == NULL ||
        strncmp(fi->code, "rpt-", 4) != 0 || fi->line > nrr ||
        (fi->line > 0 &&
         fi->col > mts_txt_rrset_concat(set, fi->line - 1, NULL, 0) + 1)) {
      abort();
    }
    errors += fi->severity == MTS_SEV_ERROR;
  }
  if ((v == MTS_RPT_TXT_VALID) != (nrua > 0)) {
    abort();
  }
  if ((v == MTS_RPT_TXT_VALID && errors != 0) ||
      (v == MTS_RPT_TXT_INVALID && errors == 0)) {
    abort();
  }
  for (i = 0; i < nrua; i++) {
    enum mts_rpt_uri_scheme sch;
    const char *u = mts_rpt_txt_rua(t, i, &sch);

    if (u == NULL) {
      abort();
    }
    check_uri(u, sch);
  }
  if (mts_rpt_txt_rua(t, nrua, NULL) != NULL) {
    abort();
  }
  if (nrr == 0 && v != MTS_RPT_TXT_NONE) {
    abort();
  }
  if (nrr == 1 && begins(set, 0, "v=TLSRPTv1") &&
      (v == MTS_RPT_TXT_NONE || v == MTS_RPT_TXT_MULTIPLE)) {
    abort();
  }
  if (nrr >= 2) {
    for (i = 0; i < nrr; i++) {
      kept += begins(set, i, "v=TLSRPTv1;");
    }
    if ((kept == 0 && v != MTS_RPT_TXT_NONE) ||
        (kept >= 2 && v != MTS_RPT_TXT_MULTIPLE) ||
        (kept == 1 && v != MTS_RPT_TXT_VALID && v != MTS_RPT_TXT_INVALID)) {
      abort();
    }
  }
}

static struct mts_txt_rrset *reread(struct mts_ctx *ctx,
                                    const struct mts_txt_rrset *set) {
  struct mts_txt_rrset *set2 = NULL;
  size_t i;

  if (mts_txt_rrset_create(ctx, &set2) != MTS_OK) {
    abort();
  }
  for (i = 0; i < mts_txt_rrset_count(set); i++) {
    size_t n = mts_txt_rrset_tostr(set, i, NULL, 0);
    char *buf = malloc(n + 1);

    if (buf == NULL) {
      abort();
    }
    (void)mts_txt_rrset_tostr(set, i, buf, n + 1);
    if (mts_txt_rrset_nstrings(set, i) == 0) {
      if (mts_txt_rrset_add_rr(set2) != MTS_OK) {
        abort();
      }
    } else if (mts_txt_rrset_add_presentation(set2, buf, n, NULL) != MTS_OK) {
      abort();
    }
    free(buf);
  }
  return set2;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct mts_ctx *ctx = NULL;
  struct mts_txt_rrset *set, *set2;
  struct mts_rpt_txt *t = NULL, *t2 = NULL;
  size_t i;

  if (size > FUZZ_MAX_INPUT) {
    return 0;
  }
  if (mts_ctx_create(NULL, &ctx) != MTS_OK) {
    abort();
  }
  set = decode(ctx, data, size);
  if (mts_rpt_txt_parse(ctx, set, &t) != MTS_OK || t == NULL) {
    abort();
  }
  check(set, t);
  set2 = reread(ctx, set);
  if (mts_rpt_txt_parse(ctx, set2, &t2) != MTS_OK) {
    abort();
  }
  if (mts_rpt_txt_verdict(t) != mts_rpt_txt_verdict(t2) ||
      mts_rpt_txt_rua_count(t) != mts_rpt_txt_rua_count(t2)) {
    abort();
  }
  for (i = 0; i < mts_rpt_txt_rua_count(t); i++) {
    if (strcmp(mts_rpt_txt_rua(t, i, NULL), mts_rpt_txt_rua(t2, i, NULL)) !=
        0) {
      abort();
    }
  }
  mts_rpt_txt_destroy(t2);
  mts_rpt_txt_destroy(t);
  mts_txt_rrset_destroy(set2);
  mts_txt_rrset_destroy(set);
  mts_ctx_destroy(ctx);
  return 0;
}
