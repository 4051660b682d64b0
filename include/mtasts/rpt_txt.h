/*
 * mtasts/rpt_txt.h - the `_smtp._tls` TLSRPT TXT record (RFC 8460 3).
 *
 * Same shape as sts_txt.h: the discard rule (RRs not beginning with
 * "v=TLSRPTv1;" are dropped), the exactly-one rule, the ABNF, and the
 * `rua` URIs (mailto: and https:, with `,` `!` `;` required to be
 * percent-encoded). Unknown fields are ignored; several `rua=` fields
 * are allowed and their URIs are joined in order.
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

MTS_API MTS_WUR enum mts_status mts_rpt_txt_parse(struct mts_ctx *ctx,
                                                  const struct mts_txt_rrset *set,
                                                  struct mts_rpt_txt **out);
MTS_API void mts_rpt_txt_destroy(struct mts_rpt_txt *txt);

MTS_API enum mts_rpt_txt_verdict mts_rpt_txt_verdict(const struct mts_rpt_txt *txt);
/*! \return the number of rua URIs (0 unless valid). */
MTS_API size_t mts_rpt_txt_rua_count(const struct mts_rpt_txt *txt);
/*! \return rua URI \p i as written in the record (still percent-encoded). */
MTS_API const char *mts_rpt_txt_rua(const struct mts_rpt_txt *txt, size_t i,
                                    enum mts_rpt_uri_scheme *scheme);
MTS_API const struct mts_findings *mts_rpt_txt_findings(const struct mts_rpt_txt *txt);

#ifdef __cplusplus
}
#endif
#endif /* MTASTS_RPT_TXT_H */
