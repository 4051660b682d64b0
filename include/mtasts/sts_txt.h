/*
 * mtasts/sts_txt.h - the `_mta-sts` TXT record (RFC 8461 3.1).
 *
 * mts_sts_txt_parse() takes the whole TXT RRset of `_mta-sts.<domain>`,
 * applies the discard rule (RRs that do not begin with "v=STSv1;" are
 * dropped when there are several), the exactly-one rule, and the ABNF.
 * See docs/decisions.md (docs/decisions.md) for AMBIG-TXT-1 (a
 * single RR beginning "v=STSv1 ;" is parsed by the ABNF; with several RRs
 * the literal "v=STSv1;" filter applies), AMBIG-TXT-2 (first `id` wins, a
 * later one is a warning) and TXT-CLASS-1 (a lone RR is INVALID when it
 * begins with, or has a field, "v=STSv1"; otherwise it is not an STS
 * record: NONE).
 *
 * Findings (docs/findings.md, codes `txt-*`): `line` is the 1-based
 * index of the RR in the set (0: the whole set), `col` the 1-based octet
 * offset into the RR's concatenated text (0: the whole RR). The verdict
 * is VALID exactly when there is no finding of severity error.
 *
 * Pure: no I/O, bounded by MTS_TXT_MAX_* limits.
 */
#ifndef MTASTS_STS_TXT_H
#define MTASTS_STS_TXT_H

#include <mtasts/common.h>
#include <mtasts/txt.h>

#ifdef __cplusplus
extern "C" {
#endif

enum mts_sts_txt_verdict {
  /* Exactly one STS record, syntactically valid: `id` is set. */
  MTS_STS_TXT_VALID = 0,
  /* No RR is an STS record: the domain publishes no MTA-STS. */
  MTS_STS_TXT_NONE = 1,
  /* More than one STS record remained after the discard rule. */
  MTS_STS_TXT_MULTIPLE = 2,
  /* One STS record, but it breaks the ABNF (or is not US-ASCII). */
  MTS_STS_TXT_INVALID = 3
};

/*! \return "valid", "none", "multiple" or "invalid". */
MTS_API const char *mts_sts_txt_verdict_str(enum mts_sts_txt_verdict v);

struct mts_sts_txt;

/*!
 * Parse the `_mta-sts` RRset \p set.
 * \return MTS_OK with *out set (whatever the verdict), or MTS_ENOMEM /
 * MTS_EINVAL with *out NULL.
 */
MTS_API MTS_WUR enum mts_status mts_sts_txt_parse(struct mts_ctx *ctx,
                                                  const struct mts_txt_rrset *set,
                                                  struct mts_sts_txt **out);
/*! Destroy \p txt; NULL is a no-op. */
MTS_API void mts_sts_txt_destroy(struct mts_sts_txt *txt);

MTS_API enum mts_sts_txt_verdict mts_sts_txt_verdict(const struct mts_sts_txt *txt);
/*! \return the policy id (1..32 alphanumerics) when valid, else NULL. */
MTS_API const char *mts_sts_txt_id(const struct mts_sts_txt *txt);
/*! \return the chosen STS record's text (concatenated, followed by a NUL
 *  not counted in \p len), or NULL when the verdict is NONE or MULTIPLE.
 *  May contain NUL; length in \p len. Valid until \p txt is destroyed. */
MTS_API const uint8_t *mts_sts_txt_record(const struct mts_sts_txt *txt,
                                          size_t *len);
MTS_API const struct mts_findings *mts_sts_txt_findings(const struct mts_sts_txt *txt);

#ifdef __cplusplus
}
#endif
#endif /* MTASTS_STS_TXT_H */
