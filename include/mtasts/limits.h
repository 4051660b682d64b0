/*
 * mtasts/limits.h - every size and time limit of libmtasts, with the
 * section of the RFC (or the reason) it comes from.
 */
#ifndef MTASTS_LIMITS_H
#define MTASTS_LIMITS_H

/* RFC 1035 2.3.4: 255 octets on the wire = 253 characters in text form
 * without the trailing dot. */
#define MTS_DOMAIN_MAX 253
/* RFC 1035 2.3.4: labels are 63 octets or less. */
#define MTS_LABEL_MAX 63
/* RFC 1035 3.3.14: a character-string is at most 255 octets. */
#define MTS_TXT_STRING_MAX 255
/* A DNS message is at most 65535 octets (RFC 1035 4.2.2, TCP length),
 * so an RRset can hold no more than this many octets of strings. */
#define MTS_TXT_MAX_BYTES 65535
/* Bounds on what we keep of one RRset; a real answer has far fewer. */
#define MTS_TXT_MAX_RRS 256
#define MTS_TXT_MAX_STRINGS 1024

/* RFC 8461 3.3: "a suggested maximum policy size is 64 kilobytes"; we
 * read kilobytes as KiB (docs/decisions.md, FETCH-10). */
#define MTS_POLICY_MAX_SIZE 65536
/* RFC 8461 3.2: "maximum value of 31557600" (AMBIG-POL-2: larger is
 * invalid). */
#define MTS_STS_MAX_AGE_MAX 31557600
/* RFC 8461 3.2 ABNF: sts-policy-max-age-value = 1*10(DIGIT). */
#define MTS_STS_MAX_AGE_DIGITS 10
/* RFC 8461 3.1 ABNF: sts-id = 1*32(ALPHA / DIGIT). */
#define MTS_STS_ID_LEN_MAX 32
/* RFC 8461 3.1 / 3.2 ABNF: extension names are 1 + *31 characters. */
#define MTS_EXT_NAME_MAX 32

/* RFC 8461 3.3: "A suggested timeout is one minute". */
#define MTS_HTTP_TIMEOUT_MS_DEFAULT 60000
/* Our default per DNS query (the resolver retries within it). */
#define MTS_DNS_TIMEOUT_MS_DEFAULT 5000

#endif /* MTASTS_LIMITS_H */
