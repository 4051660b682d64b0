/*
 * mtasts/txt.h - a DNS TXT RRset as the parsers see it.
 *
 * A TXT RRset is a list of resource records; each RR is a list of
 * character-strings of 0..255 octets (RFC 1035 3.3.14). The boundaries
 * matter: RFC 8461 3.1 concatenates the strings of one RR without
 * spaces, and counts RRs, not strings. Strings are byte strings and may
 * contain NUL.
 *
 * The set copies everything added to it. It is filled by the DNS layer,
 * by the CLI from `dig +short` style arguments, and by tests.
 */
#ifndef MTASTS_TXT_H
#define MTASTS_TXT_H

#include <mtasts/common.h>

#ifdef __cplusplus
extern "C" {
#endif

struct mts_txt_rrset;

/*! Create an empty RRset. \return MTS_OK or MTS_ENOMEM. */
MTS_API MTS_WUR enum mts_status mts_txt_rrset_create(struct mts_ctx *ctx,
                                                     struct mts_txt_rrset **out);
/*! Destroy \p set; NULL is a no-op. */
MTS_API void mts_txt_rrset_destroy(struct mts_txt_rrset *set);

/*! Start a new, empty RR at the end of \p set. */
MTS_API MTS_WUR enum mts_status mts_txt_rrset_add_rr(struct mts_txt_rrset *set);

/*!
 * Append one character-string to the last RR (starting one if the set is
 * empty). \p data may contain NUL and may be NULL when \p len is 0.
 * \return MTS_ETOOBIG when \p len > 255 or the set would exceed
 * MTS_TXT_MAX_RRS RRs / MTS_TXT_MAX_STRINGS strings / MTS_TXT_MAX_BYTES
 * octets (the set is then unchanged), MTS_ENOMEM, MTS_EINVAL.
 */
MTS_API MTS_WUR enum mts_status
mts_txt_rrset_add_string(struct mts_txt_rrset *set, const uint8_t *data,
                         size_t len);

/*!
 * Parse one RR in DNS presentation form, as `dig +short` prints it, and
 * append it as a new RR: one or more quoted character-strings separated
 * by blanks, with `\"`, `\\`, `\X` (X any non-digit: X itself) and
 * `\DDD` (exactly 3 decimal digits, <= 255) escapes; a bare unquoted
 * word is one character-string (escapes work there too). Example:
 * `"v=STSv1; " "id=1"`. Blanks are SP, HTAB, CR, LF; leading and
 * trailing ones are ignored. Inside quotes other octets are literal.
 * Rejected (MTS_EPARSE): no string at all, an unterminated quote, a bad
 * `\DDD`, a backslash at the end, a quote not followed by a blank or the
 * end (`"a"x`, `"a""b"`), a `"` inside a bare word. A string of more than
 * 255 octets, or exceeding the set limits, is MTS_ETOOBIG.
 * See docs/decisions.md PRES-1..6.
 * \return MTS_OK, MTS_EPARSE or MTS_ETOOBIG (with \p err set to a static
 * message, when not NULL; NULL on success), MTS_EINVAL, or MTS_ENOMEM.
 * On error the set is unchanged.
 */
MTS_API MTS_WUR enum mts_status
mts_txt_rrset_add_presentation(struct mts_txt_rrset *set, const char *text,
                               size_t len, const char **err);

/*! \return the number of RRs. */
MTS_API size_t mts_txt_rrset_count(const struct mts_txt_rrset *set);
/*! \return the number of character-strings of RR \p rr (0 if out of range). */
MTS_API size_t mts_txt_rrset_nstrings(const struct mts_txt_rrset *set,
                                      size_t rr);
/*! Borrow string \p i of RR \p rr; \return NULL if out of range. */
MTS_API const uint8_t *mts_txt_rrset_string(const struct mts_txt_rrset *set,
                                            size_t rr, size_t i, size_t *len);

/*!
 * Concatenate the strings of RR \p rr without separators (RFC 8461 3.1,
 * RFC 8460 3) into \p buf of \p bufsize bytes (NUL-terminated).
 * \return the concatenated length (which may contain NULs); a value
 * >= bufsize means it was truncated. Borrowed-pointer free.
 */
MTS_API size_t mts_txt_rrset_concat(const struct mts_txt_rrset *set, size_t rr,
                                    uint8_t *buf, size_t bufsize);

/*!
 * Write RR \p rr in presentation form into \p buf (NUL-terminated when
 * \p bufsize > 0; \p buf may be NULL when \p bufsize is 0): every string
 * quoted, strings separated by one space, `\"` and `\\` escaped, `\DDD`
 * for octets outside 0x20..0x7E. mts_txt_rrset_add_presentation() reads
 * it back to the same strings. An out-of-range \p rr or an RR without
 * strings writes "".
 * \return the length needed (without the NUL), as snprintf.
 */
MTS_API size_t mts_txt_rrset_tostr(const struct mts_txt_rrset *set, size_t rr,
                                   char *buf, size_t bufsize);

#ifdef __cplusplus
}
#endif
#endif /* MTASTS_TXT_H */
