/*
 * sts_txt.c - the `_mta-sts` TXT record (RFC 8461 3.1); see
 * mtasts/sts_txt.h. The grammar shared with the TLSRPT record lives in
 * core/txtrec.c; this file adds the `id` field and the codes.
 */
#include <mtasts/limits.h>
#include <mtasts/sts_txt.h>

#include <string.h>

#include "core/arena_int.h"
#include "core/ascii_int.h"
#include "core/findings_int.h"
#include "core/txtrec_int.h"

#define STS_VERSION "v=STSv1"

struct mts_sts_txt {
  struct mts_arena *arena;
  struct mts_findings findings;
  enum mts_sts_txt_verdict verdict;
  const char *id;
  const uint8_t *rec;
  size_t len;
};

static const struct mts_txtrec_codes sts_codes = {
    .no_record = "txt-no-record",
    .multiple = "txt-multiple-records",
    .discarded = "txt-discarded-record",
    .discarded_like = "txt-discarded-sts-like",
    .version_case = "txt-version-case",
    .bad_version = "txt-bad-version",
    .empty_field = "txt-empty-field",
    .bad_field = "txt-bad-field",
    .bad_extension = "txt-bad-extension",
    .trailing_garbage = "txt-trailing-garbage",
    .non_ascii = "txt-non-ascii",
    .nul = "txt-nul",
    .control = "txt-control-char",
    .unknown_field = "txt-unknown-field",
};

const char *mts_sts_txt_verdict_str(enum mts_sts_txt_verdict v) {
  switch (v) {
  case MTS_STS_TXT_VALID:
    return "valid";
  case MTS_STS_TXT_NONE:
    return "none";
  case MTS_STS_TXT_MULTIPLE:
    return "multiple";
  case MTS_STS_TXT_INVALID:
    return "invalid";
  }
  return "unknown";
}

/* sts-id = %s"id=" 1*32(ALPHA / DIGIT). \return true, or false with
 * *bad the offset of the first offending octet (len for "too long",
 * 0 for empty). */
static bool id_ok(const uint8_t *v, size_t len, size_t *bad) {
  size_t i;

  *bad = 0;
  if (len == 0) {
    return false;
  }
  for (i = 0; i < len; i++) {
    if (!mts_is_alnum(v[i])) {
      *bad = i;
      return false;
    }
  }
  if (len > MTS_STS_ID_LEN_MAX) {
    *bad = MTS_STS_ID_LEN_MAX;
    return false;
  }
  return true;
}

static bool is_id(const struct mts_txtrec_field *fld) {
  return fld->name_len == 2 && memcmp(fld->name, "id", 2) == 0;
}

/* The first `id` (AMBIG-TXT-2: first wins; TXT-12). */
static enum mts_status first_id(struct mts_sts_txt *t, uint32_t line,
                                const struct mts_txtrec_field *fld, bool *ok) {
  size_t bad;

  if (id_ok(fld->value, fld->value_len, &bad)) {
    t->id = mts_arena_strndup(t->arena, (const char *)fld->value,
                              fld->value_len);
    return t->id == NULL ? MTS_ENOMEM : MTS_OK;
  }
  *ok = false;
  if (fld->value_len == 0) {
    return mts_findings_add(&t->findings, "txt-bad-id", MTS_SEV_ERROR, line,
                            fld->value_col, "the id is empty");
  }
  if (bad == MTS_STS_ID_LEN_MAX) {
    return mts_findings_add(&t->findings, "txt-bad-id", MTS_SEV_ERROR, line,
                            fld->value_col + (uint32_t)bad,
                            "the id is %zu characters long; at most %d",
                            fld->value_len, MTS_STS_ID_LEN_MAX);
  }
  return mts_findings_add(
      &t->findings, "txt-bad-id", MTS_SEV_ERROR, line,
      fld->value_col + (uint32_t)bad,
      "octet 0x%02x in the id: only letters and digits are allowed",
      (unsigned)fld->value[bad]);
}

/* A later `id`: ignored, but it must still match sts-extension. */
static enum mts_status later_id(struct mts_sts_txt *t, uint32_t line,
                                const struct mts_txtrec_field *fld, bool *ok) {
  size_t bad;

  if (!mts_txtrec_ext_value_ok(fld->value, fld->value_len, &bad)) {
    *ok = false;
    return mts_findings_add(&t->findings, "txt-bad-id", MTS_SEV_ERROR, line,
                            fld->value_col + (uint32_t)bad,
                            "a repeated id field has a malformed value");
  }
  return mts_findings_add(&t->findings, "txt-duplicate-id", MTS_SEV_WARNING,
                          line, fld->name_col,
                          "repeated id field ignored: the first one counts");
}

static enum mts_status parse_record(struct mts_sts_txt *t,
                                    const struct mts_txtrec_sel *sel) {
  struct mts_txtrec_field *fields;
  size_t i, nfields;
  bool ok, seen_id = false;
  enum mts_status st;

  st = mts_txtrec_split(t->arena, &t->findings, sel, STS_VERSION, &sts_codes,
                        &fields, &nfields, &ok);
  if (st != MTS_OK) {
    return st;
  }
  for (i = 0; i < nfields && st == MTS_OK; i++) {
    if (!is_id(&fields[i])) {
      st = mts_txtrec_check_ext(&t->findings, &sts_codes, sel->line,
                                &fields[i], &ok);
    } else if (!seen_id) {
      seen_id = true;
      st = first_id(t, sel->line, &fields[i], &ok);
    } else {
      st = later_id(t, sel->line, &fields[i], &ok);
    }
  }
  if (st != MTS_OK) {
    return st;
  }
  /* fields is NULL when the record was rejected before its fields (bad
   * octets, no version): then a missing id is not news. */
  if (!seen_id && fields != NULL) {
    ok = false;
    st = mts_findings_add(&t->findings, "txt-missing-id", MTS_SEV_ERROR,
                          sel->line, 0, "the required id field is missing");
  }
  ok = ok && seen_id && t->id != NULL;
  t->verdict = ok ? MTS_STS_TXT_VALID : MTS_STS_TXT_INVALID;
  return st;
}

enum mts_status mts_sts_txt_parse(struct mts_ctx *ctx,
                                  const struct mts_txt_rrset *set,
                                  struct mts_sts_txt **out) {
  struct mts_arena *arena = NULL;
  struct mts_sts_txt *t = NULL;
  struct mts_txtrec_sel sel;
  enum mts_status st;

  if (out != NULL) {
    *out = NULL;
  }
  if (ctx == NULL || set == NULL || out == NULL) {
    return MTS_EINVAL;
  }
  t = mts_arena_create_object(ctx, sizeof(*t), &arena);
  if (t == NULL) {
    return MTS_ENOMEM;
  }
  t->arena = arena;
  mts_findings_init(&t->findings, arena);
  t->verdict = MTS_STS_TXT_NONE;

  st = mts_txtrec_select(arena, &t->findings, set, STS_VERSION, &sts_codes,
                         &sel);
  if (st != MTS_OK) {
    goto done;
  }
  switch (sel.pick) {
  case MTS_TXTREC_PICK_NONE:
    t->verdict = MTS_STS_TXT_NONE;
    break;
  case MTS_TXTREC_PICK_MULTIPLE:
    t->verdict = MTS_STS_TXT_MULTIPLE;
    break;
  case MTS_TXTREC_PICK_ONE:
    t->rec = sel.rec;
    t->len = sel.len;
    st = parse_record(t, &sel);
    break;
  }
  if (st == MTS_OK && t->findings.oom) {
    st = MTS_ENOMEM;
  }
  if (st == MTS_OK && t->verdict != MTS_STS_TXT_VALID) {
    t->id = NULL;
  }
done:
  if (st != MTS_OK) {
    mts_sts_txt_destroy(t);
    return st;
  }
  *out = t;
  return MTS_OK;
}

void mts_sts_txt_destroy(struct mts_sts_txt *txt) {
  if (txt == NULL) {
    return;
  }
  mts_findings_cleanup(&txt->findings);
  mts_arena_destroy(txt->arena);
}

enum mts_sts_txt_verdict mts_sts_txt_verdict(const struct mts_sts_txt *txt) {
  return txt == NULL ? MTS_STS_TXT_NONE : txt->verdict;
}

const char *mts_sts_txt_id(const struct mts_sts_txt *txt) {
  return txt == NULL || txt->verdict != MTS_STS_TXT_VALID ? NULL : txt->id;
}

const uint8_t *mts_sts_txt_record(const struct mts_sts_txt *txt, size_t *len) {
  if (len != NULL) {
    *len = 0;
  }
  if (txt == NULL || txt->rec == NULL) {
    return NULL;
  }
  if (len != NULL) {
    *len = txt->len;
  }
  return txt->rec;
}

const struct mts_findings *mts_sts_txt_findings(const struct mts_sts_txt *txt) {
  return txt == NULL ? NULL : &txt->findings;
}
