/*
 * txtrec_int.h - what the `_mta-sts` (RFC 8461 3.1) and `_smtp._tls`
 * (RFC 8460 3) TXT records have in common. Internal.
 *
 * Both records are `version 1*(field-delim field) [field-delim]` with
 * field-delim = *WSP ";" *WSP, extension fields `name=value` with the
 * same ext-name / ext-value productions, the same "discard RRs that do
 * not begin with `<version>;`" rule when there are several RRs, and the
 * same exactly-one rule. sts_txt.c and rpt_txt.c differ only in the
 * version literal, their one known field (`id` / `rua`) and the prefix
 * of their finding codes, which is why the codes come in a table.
 *
 * Positions in findings: `line` is the 1-based index of the RR in the
 * RRset (0 when no single RR is meant), `col` the 1-based octet offset
 * into that RR's concatenated text.
 */
#ifndef MTS_TXTREC_INT_H
#define MTS_TXTREC_INT_H

#include <mtasts/txt.h>

#include "findings_int.h"

/* The finding codes one record type uses (string literals). */
struct mts_txtrec_codes {
  const char *no_record;        /* info: no RR is a record of this type */
  const char *multiple;         /* error: >1 record after the discard rule */
  const char *discarded;        /* info: an unrelated RR was discarded */
  const char *discarded_like;   /* warning: a look-alike RR was discarded */
  const char *version_case;     /* warning: version literal in the wrong case */
  const char *bad_version;      /* error: not exactly `<version>` first */
  const char *empty_field;      /* error: `;;` */
  const char *bad_field;        /* error: no `=`, or blanks around `=` */
  const char *bad_extension;    /* error: bad ext-name or ext-value */
  const char *trailing_garbage; /* error: junk after a value or the version */
  const char *non_ascii;        /* error: octet > 0x7E */
  const char *nul;              /* error: NUL octet */
  const char *control;          /* error: other CTL (not HTAB) */
  const char *unknown_field;    /* info: an extension field, ignored */
};

enum mts_txtrec_pick {
  MTS_TXTREC_PICK_NONE = 0,
  MTS_TXTREC_PICK_ONE = 1,
  MTS_TXTREC_PICK_MULTIPLE = 2
};

struct mts_txtrec_sel {
  enum mts_txtrec_pick pick;
  const uint8_t *rec; /* PICK_ONE: the concatenated RR (arena, NUL after) */
  size_t len;
  uint32_t line; /* PICK_ONE: 1-based index of the RR */
};

/*
 * Choose the record out of \p set (RFC 8461 3.1, RFC 8460 3):
 * - no RR: NONE;
 * - one RR: ONE when it "looks like" a record of this type (begins with
 *   \p version after optional blanks, or has \p version as a field), so
 *   that the ABNF decides VALID/INVALID; otherwise NONE
 *   (docs/decisions.md, TXT-CLASS-1);
 * - several RRs: those not beginning with the octets "<version>;" are
 *   discarded (literally, AMBIG-TXT-1); 0 left: NONE, 1: ONE, more:
 *   MULTIPLE.
 * Reports findings to \p f (no_record, multiple, discarded*, version_case).
 * \return MTS_OK or MTS_ENOMEM.
 */
MTS_WUR enum mts_status mts_txtrec_select(struct mts_arena *arena,
                                          struct mts_findings *f,
                                          const struct mts_txt_rrset *set,
                                          const char *version,
                                          const struct mts_txtrec_codes *codes,
                                          struct mts_txtrec_sel *sel);

struct mts_txtrec_field {
  const uint8_t *name;
  size_t name_len;
  uint32_t name_col;
  const uint8_t *value; /* the octets between "=" and the delimiter */
  size_t value_len;
  uint32_t value_col;
};

/*
 * Check the octets of the selected record (US-ASCII, no CTL but HTAB),
 * the leading version, the delimiters, and each field's `name=` part
 * (ext-name syntax, no blanks around "="). Fields whose `name=` part is
 * bad are reported and left out of \p fields; their values are not
 * checked here (callers check known fields themselves and call
 * mts_txtrec_check_ext() for the others).
 * \p *ok is false when any error was reported. \p *fields is allocated
 * from \p arena; it is NULL when the record was rejected before its
 * fields (bad octets, or it does not begin with the version), so that
 * callers do not report a missing required field on top.
 * \return MTS_OK or MTS_ENOMEM.
 */
MTS_WUR enum mts_status mts_txtrec_split(struct mts_arena *arena,
                                         struct mts_findings *f,
                                         const struct mts_txtrec_sel *sel,
                                         const char *version,
                                         const struct mts_txtrec_codes *codes,
                                         struct mts_txtrec_field **fields,
                                         size_t *nfields, bool *ok);

/*
 * ext-value = 1*(%x21-3A / %x3C / %x3E-7E). \return true when \p v is
 * one; otherwise false with *bad the offset of the first bad octet (0
 * for an empty value).
 */
bool mts_txtrec_ext_value_ok(const uint8_t *v, size_t len, size_t *bad);

/*
 * Check an extension field's value and report it: bad_extension (error,
 * *ok set false) or unknown_field (info). \return MTS_OK or MTS_ENOMEM.
 */
MTS_WUR enum mts_status mts_txtrec_check_ext(struct mts_findings *f,
                                             const struct mts_txtrec_codes *codes,
                                             uint32_t line,
                                             const struct mts_txtrec_field *fld,
                                             bool *ok);

#endif /* MTS_TXTREC_INT_H */
