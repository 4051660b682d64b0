/*
 * fuzz_sts_txt.c - mts_sts_txt_parse() over arbitrary TXT RRsets.
 *
 * Input encoding of the RRset: the input is split on 0xFF into RRs and
 * each RR on 0xFE into character-strings (so "v=STS\xfev1;id=a\xffv=spf1"
 * is [["v=STS", "v1;id=a"], ["v=spf1"]]). An empty input is an empty
 * RRset; strings longer than 255 octets are cut into 255-octet pieces.
 * Octets 0xFE/0xFF therefore never occur inside strings; 0x80-0xFD and
 * NUL do.
 *
 * Invariants (abort() when broken):
 * - the parse succeeds (the libc allocator does not fail);
 * - VALID <=> id != NULL; the id is 1-32 letters/digits; a VALID record
 *   has no error finding; an INVALID one has at least one;
 * - the record text is present exactly for VALID/INVALID, begins with
 *   "v=STSv1" (or blanks then it, or has it as a field) and has no
 *   octet the parser should have refused when VALID;
 * - the verdict agrees with an independent count of the discard rule
 *   (RRs beginning with the 8 octets "v=STSv1;");
 * - every finding has a "txt-" code, a message, and a position inside
 *   the RRset;
 * - presentation round trip: writing each RR with tostr() and reading it
 *   back gives an RRset with the same verdict and id.
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
    do { /* one string, cut into 255-octet pieces */
      size_t n = e - p > MTS_TXT_STRING_MAX ? MTS_TXT_STRING_MAX : e - p;

      if (mts_txt_rrset_add_string(set, data + p, n) != MTS_OK) {
        return set; /* a limit: keep what fits */
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

static void check(const struct mts_txt_rrset *set, const struct mts_sts_txt *t) {
  enum mts_sts_txt_verdict v = mts_sts_txt_verdict(t);
  const struct mts_findings *f = mts_sts_txt_findings(t);
  const char *id = mts_sts_txt_id(t);
  size_t i, len, nrr = mts_txt_rrset_count(set), kept = 0, errors = 0;
  const uint8_t *rec = mts_sts_txt_record(t, &len);

  for (i = 0; i < mts_findings_count(f); i++) {
    const struct mts_finding *fi = mts_findings_get(f, i);

    if (fi == NULL || fi->code == NULL || fi->message == NULL ||
        strncmp(fi->code, "txt-", 4) != 0 || fi->line > nrr ||
        (fi->line > 0 &&
         fi->col > mts_txt_rrset_concat(set, fi->line - 1, NULL, 0) + 1)) {
      abort();
    }
    errors += fi->severity == MTS_SEV_ERROR;
  }
  if ((v == MTS_STS_TXT_VALID) != (id != NULL)) {
    abort();
  }
  if (v == MTS_STS_TXT_VALID) {
    size_t n = strlen(id);

    if (n == 0 || n > MTS_STS_ID_LEN_MAX || errors != 0) {
      abort();
    }
    for (i = 0; i < n; i++) {
      uint8_t c = (uint8_t)id[i];

      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
            (c >= 'A' && c <= 'Z'))) {
        abort();
      }
    }
    if (rec == NULL || len < 7 || memcmp(rec, "v=STSv1", 7) != 0) {
      abort();
    }
    for (i = 0; i < len; i++) {
      if (rec[i] == 0 || rec[i] > 0x7e || (rec[i] < 0x20 && rec[i] != '\t')) {
        abort();
      }
    }
  }
  if (v == MTS_STS_TXT_INVALID && (errors == 0 || rec == NULL)) {
    abort();
  }
  if ((v == MTS_STS_TXT_NONE || v == MTS_STS_TXT_MULTIPLE) && rec != NULL) {
    abort();
  }
  /* the discard rule, counted independently */
  if (nrr == 0 && v != MTS_STS_TXT_NONE) {
    abort();
  }
  if (nrr == 1 && begins(set, 0, "v=STSv1") &&
      (v == MTS_STS_TXT_NONE || v == MTS_STS_TXT_MULTIPLE)) {
    abort();
  }
  if (nrr >= 2) {
    for (i = 0; i < nrr; i++) {
      kept += begins(set, i, "v=STSv1;");
    }
    if ((kept == 0 && v != MTS_STS_TXT_NONE) ||
        (kept >= 2 && v != MTS_STS_TXT_MULTIPLE) ||
        (kept == 1 && v != MTS_STS_TXT_VALID && v != MTS_STS_TXT_INVALID)) {
      abort();
    }
  }
}

/* Write every RR in presentation form and read it back. */
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
      /* an RR without strings has no presentation form; keep it empty */
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
  struct mts_sts_txt *t = NULL, *t2 = NULL;
  const char *id, *id2;

  if (size > FUZZ_MAX_INPUT) {
    return 0;
  }
  if (mts_ctx_create(NULL, &ctx) != MTS_OK) {
    abort();
  }
  set = decode(ctx, data, size);
  if (mts_sts_txt_parse(ctx, set, &t) != MTS_OK || t == NULL) {
    abort();
  }
  check(set, t);
  set2 = reread(ctx, set);
  if (mts_sts_txt_parse(ctx, set2, &t2) != MTS_OK) {
    abort();
  }
  id = mts_sts_txt_id(t);
  id2 = mts_sts_txt_id(t2);
  if (mts_sts_txt_verdict(t) != mts_sts_txt_verdict(t2) ||
      (id == NULL) != (id2 == NULL) || (id != NULL && strcmp(id, id2) != 0) ||
      mts_findings_count(mts_sts_txt_findings(t)) !=
          mts_findings_count(mts_sts_txt_findings(t2))) {
    abort();
  }
  mts_sts_txt_destroy(t2);
  mts_sts_txt_destroy(t);
  mts_txt_rrset_destroy(set2);
  mts_txt_rrset_destroy(set);
  mts_ctx_destroy(ctx);
  return 0;
}
