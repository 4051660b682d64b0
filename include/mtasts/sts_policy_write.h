/*
 * mtasts/sts_policy_write.h - write a canonical MTA-STS policy file
 * (RFC 8461 3.2) and derive an `_mta-sts` id from a policy's bytes.
 *
 * The writer emits conservatively: the fields in the order of the RFC's
 * example (version, mode, every mx in the order given, max_age), one
 * ": " after each key, CRLF after every line (the prose of 3.2 says
 * "CRLF-separated"; the ABNF allows one terminator after the last
 * field). What it writes parses as valid with the same fields
 * (round trip: tests/unit/test_sts_policy_write.c).
 *
 * The id (RFC 8461 3.1: "a short string used to track policy updates",
 * 1*32 ALPHA/DIGIT) is the first MTS_STS_POLICY_WRITE_ID_LEN lower-case
 * hex digits of SHA-256 over the exact policy bytes, so the id changes
 * exactly when the served bytes change (docs/decisions.md
 * INIT-ID-1). `mtasts policy id FILE` prints it.
 *
 * Pure and thread-safe: no context, no allocation of ours (OpenSSL's
 * EVP digest may allocate internally and frees before returning).
 */
#ifndef MTASTS_STS_POLICY_WRITE_H
#define MTASTS_STS_POLICY_WRITE_H

#include <mtasts/common.h>
#include <mtasts/sts_policy.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Hex digits of the id: 80 bits of SHA-256, well inside 1*32. */
#define MTS_STS_POLICY_WRITE_ID_LEN 20
/* Room for the id and its NUL. */
#define MTS_STS_POLICY_WRITE_ID_BUFSIZE (MTS_STS_POLICY_WRITE_ID_LEN + 1)

/* What to write. All pointers are borrowed for the call. */
struct mts_sts_policy_fields {
  enum mts_sts_mode mode; /* NONE, TESTING or ENFORCE */
  int64_t max_age;        /* 0..MTS_STS_MAX_AGE_MAX seconds */
  const char *const *mx;  /* mx_count NUL-terminated patterns, each valid
                             for mts_sts_match_pattern_valid() */
  size_t mx_count;        /* >= 1 unless mode is NONE */
};

/*!
 * Write the policy for \p fields into \p buf (\p bufsize bytes), like
 * snprintf: NUL-terminated when \p bufsize > 0; \p buf may be NULL when
 * \p bufsize is 0.
 * \param[out] len  the policy's length without the NUL (also when the
 *                  buffer was too small: allocate len + 1 and call again).
 * \return MTS_OK; MTS_ETOOBIG when \p bufsize <= *len (nothing useful in
 * \p buf); MTS_EINVAL for a NULL \p fields or \p len, an unknown mode, a
 * max_age out of range, a NULL or invalid pattern (AMBIG-POL-1: the
 * parser would reject it), no pattern with mode testing/enforce
 * (POL-9), or a policy over MTS_POLICY_MAX_SIZE bytes (*len is then 0).
 */
MTS_API MTS_WUR enum mts_status
mts_sts_policy_write(const struct mts_sts_policy_fields *fields, char *buf,
                     size_t bufsize, size_t *len);

/*!
 * The content-derived id of a policy: the first 20 lower-case hex digits
 * of SHA-256(\p policy). Any bytes are accepted (the caller decides
 * whether they are a valid policy).
 * \param[in] policy  \p len bytes, may contain NUL; NULL when len is 0.
 * \param[out] id     MTS_STS_POLICY_WRITE_ID_BUFSIZE bytes: the id and a NUL
 *                    ("" on failure).
 * \return MTS_OK; MTS_EINVAL for a NULL \p id, or NULL \p policy with
 * \p len > 0; MTS_EINTERNAL when OpenSSL's digest fails.
 */
MTS_API MTS_WUR enum mts_status
mts_sts_policy_write_id(const uint8_t *policy, size_t len,
                        char id[MTS_STS_POLICY_WRITE_ID_BUFSIZE]);

#ifdef __cplusplus
}
#endif
#endif /* MTASTS_STS_POLICY_WRITE_H */
