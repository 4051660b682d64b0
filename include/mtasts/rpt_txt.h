/*
 * mtasts/rpt_txt.h - the `_smtp._tls` TLSRPT TXT record (RFC 8460 3).
 *
 * Same shape as sts_txt.h: the discard rule (RRs not beginning with
 * "v=TLSRPTv1;" are dropped), the exactly-one rule, the ABNF, and the
 * `rua` URIs (mailto: and https:, with `,` `!` `;` required to be
 * percent-encoded). Unknown fields are ignored; several `rua=` fields
 * are allowed and their URIs are joined in order.
 *
 * The shared rules (discard, exactly-one, lone-RR classification,
 * field-delim, extensions) are those of sts_txt.h with `v=TLSRPTv1`;
 * finding codes are `rpt-*`, positions as in sts_txt.h. A rua URI must
 * be an RFC 3986 URI with a scheme; `mailto:` needs `local@domain` and
 * `https:` a host (else INVALID). Another scheme is syntactically fine:
 * the URI is kept with MTS_RPT_URI_OTHER and a warning; a record whose
 * URIs are all OTHER is still VALID, with the warning
 * `rpt-no-supported-rua` (docs/decisions.md RPT-SCHEME-1).
 * Pure: no I/O.
 */
#ifndef MTASTS_RPT_TXT_H
#define MTASTS_RPT_TXT_H

#include <mtasts/common.h>
#include <mtasts/txt.h>

#ifdef __cplusplus
extern "C" {
#endif

enum mts_rpt_txt_verdict {
  MTS_RPT_TXT_VALID = 0,
  MTS_RPT_TXT_NONE = 1,
  MTS_RPT_TXT_MULTIPLE = 2,
  MTS_RPT_TXT_INVALID = 3
};

/*! \return "valid", "none", "multiple" or "invalid". */
MTS_API const char *mts_rpt_txt_verdict_str(enum mts_rpt_txt_verdict v);

enum mts_rpt_uri_scheme {
  MTS_RPT_URI_OTHER = 0, /* syntactically a URI, but not a scheme RFC 8460 defines */
  MTS_RPT_URI_MAILTO = 1,
  MTS_RPT_URI_HTTPS = 2
};

struct mts_rpt_txt;

/*!
 * Parse the `_smtp._tls` RRset \p set.
 * \return MTS_OK with *out set (whatever the verdict), or MTS_ENOMEM /
 * MTS_EINVAL with *out NULL.
 */
MTS_API MTS_WUR enum mts_status mts_rpt_txt_parse(struct mts_ctx *ctx,
                                                  const struct mts_txt_rrset *set,
                                                  struct mts_rpt_txt **out);
/*! Destroy \p txt; NULL is a no-op. */
MTS_API void mts_rpt_txt_destroy(struct mts_rpt_txt *txt);

MTS_API enum mts_rpt_txt_verdict mts_rpt_txt_verdict(const struct mts_rpt_txt *txt);
/*! \return the number of rua URIs (0 unless valid). */
MTS_API size_t mts_rpt_txt_rua_count(const struct mts_rpt_txt *txt);
/*! \return rua URI \p i as written in the record (still percent-encoded),
 *  NUL-terminated, valid until \p txt is destroyed; NULL when out of
 *  range. \p scheme (may be NULL) receives its scheme (OTHER when out of
 *  range). */
MTS_API const char *mts_rpt_txt_rua(const struct mts_rpt_txt *txt, size_t i,
                                    enum mts_rpt_uri_scheme *scheme);
MTS_API const struct mts_findings *mts_rpt_txt_findings(const struct mts_rpt_txt *txt);

#ifdef __cplusplus
}
#endif
#endif /* MTASTS_RPT_TXT_H */
