/*
 * cache_record_int.h - checking and (de)serialising cache records.
 * Internal.
 *
 * A store file or a Redis server is outside input: a record read back is
 * checked field by field (mts_cache_record_check) before anything uses
 * it, exactly like a record the caller hands to put.
 *
 * The flat encoding (version 1) carries a record between the loop thread
 * and the SQLite worker thread, which may not touch the context's
 * allocator (common.h: one thread at a time). All integers big-endian:
 *
 *   u8  version (1)       u8  has_policy (0/1)     u8 mode (0..3)
 *   u8  id length  (<=32)  id octets
 *   u8  failed_id length (<=32)  failed_id octets
 *   i64 max_age  i64 fetched_at  i64 failed_at  i64 updated_at
 *   u16 domain length (1..253)  domain octets  0x00
 *   u8  has_body (0/1)  u32 body length (<= MTS_POLICY_MAX_SIZE)  body
 *
 * Decoding borrows: the record's domain and body point into the buffer.
 */
#ifndef MTS_CACHE_RECORD_INT_H
#define MTS_CACHE_RECORD_INT_H

#include <mtasts/cache.h>

#include "core/ctx_int.h"

/* The largest encoding: fixed fields + both ids + domain + NUL + body. */
#define MTS_CACHE_RECORD_ENC_MAX                                             \
  (3 + 1 + MTS_STS_ID_MAX + 1 + MTS_STS_ID_MAX + 4 * 8 + 2 + MTS_DOMAIN_MAX + \
   1 + 1 + 4 + MTS_POLICY_MAX_SIZE)

/* TTL in Redis of a record that carries no policy (backoff state only). */
#define MTS_CACHE_TTL_NO_POLICY 3600
/* Shortest TTL we ever set, so a record written just before its expiry
 * is not gone before the next reader sees it. */
#define MTS_CACHE_TTL_MIN 60

/*! \return true for 1..253 octets of lower-case letters, digits, '-',
 *  '.' and '_' (what the resolver stores: A-labels, lower case). */
bool mts_cache_record_domain_ok(const char *d, size_t len);

/*! \return true for "" or 1..32 ASCII alphanumerics (RFC 8461 3.1). */
bool mts_cache_record_id_ok(const char *id, size_t len);

/*!
 * Check a record: domain (mts_cache_record_domain_ok, NUL-terminated),
 * both ids NUL-terminated within MTS_STS_ID_MAX + 1 and alphanumeric,
 * mode in range, 0 <= max_age <= MTS_STS_MAX_AGE_MAX, body length <=
 * MTS_POLICY_MAX_SIZE (and a non-NULL body when the length is not 0).
 * \param[out] why  a static reason on failure (may be NULL).
 * \return MTS_OK or MTS_EINVAL.
 */
enum mts_status mts_cache_record_check(const struct mts_cache_record *rec,
                                       const char **why);

/*! \return the size of the encoding of \p rec (checked records only). */
size_t mts_cache_record_size(const struct mts_cache_record *rec);

/*! Encode a checked \p rec into \p buf of \p cap octets.
 *  \return MTS_OK with *len set, or MTS_ETOOBIG. */
enum mts_status mts_cache_record_encode(const struct mts_cache_record *rec,
                                        uint8_t *buf, size_t cap,
                                        size_t *len);

/*! Decode and check; \p rec borrows from \p buf.
 *  \return MTS_OK, or MTS_EPARSE (truncated, trailing octets, bad field;
 *  *why says which). */
enum mts_status mts_cache_record_decode(const uint8_t *buf, size_t len,
                                        struct mts_cache_record *rec,
                                        const char **why);

/*! Encode into a new allocation of the context (freed with mts_free).
 *  \return MTS_OK, MTS_EINVAL (record fails the check), MTS_ENOMEM. */
enum mts_status mts_cache_record_dup(struct mts_ctx *ctx,
                                     const struct mts_cache_record *rec,
                                     uint8_t **out, size_t *out_len);

/*! Mode from its policy-file spelling ("none", "testing", "enforce",
 *  "unknown"). \return false for anything else. */
bool mts_cache_record_mode_parse(const uint8_t *s, size_t len,
                                 enum mts_sts_mode *mode);

/*! Parse a decimal int64 ("-"? digits, no blanks, no overflow).
 *  \return false on any deviation. */
bool mts_cache_record_parse_i64(const uint8_t *s, size_t len, int64_t *out);

/*!
 * How long a shared store (Redis) should keep \p rec, in seconds, at
 * \p now: with a policy, the remaining validity (fetched_at + max_age -
 * now); without one, MTS_CACHE_TTL_NO_POLICY; in both cases at least the
 * remaining fetch backoff of a failed id and at least MTS_CACHE_TTL_MIN,
 * at most MTS_STS_MAX_AGE_MAX + MTS_CACHE_TTL_NO_POLICY.
 */
int64_t mts_cache_record_ttl(const struct mts_cache_record *rec, int64_t now);

#endif /* MTS_CACHE_RECORD_INT_H */
