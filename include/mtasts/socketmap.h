/*
 * mtasts/socketmap.h - the Postfix socketmap wire codec: netstrings, the
 * socketmap request, lookup-key normalisation and the replies.
 *
 * Protocol (Postfix socketmap_table(5), src/util/dict_sockmap.c): the
 * client sends one netstring "<socketmap-name> <key>"; the server answers
 * with one netstring "OK <data>", "NOTFOUND ", "TEMP <reason>",
 * "TIMEOUT <reason>" or "PERM <reason>". Netstrings are
 * "<decimal length>:<payload>," (D. J. Bernstein, netstrings.txt; Postfix
 * src/util/netstring.c).
 *
 * Everything here is I/O-free, so a non-blocking server (mtastsd) feeds
 * the bytes it read and writes the bytes it is given. The netstring
 * reader is a push parser in the style of hiredis redisReaderFeed():
 * feed() consumes bytes up to the end of one netstring, next() hands out
 * the payload. The other functions are pure and do not allocate.
 *
 * Ownership and lifetime:
 *  - struct mts_netstring_reader lives in caller storage (init/cleanup).
 *    It allocates one buffer of max_payload bytes through the context at
 *    init; feed() and next() never allocate. A payload returned by next()
 *    is borrowed from the reader and valid until the next call of
 *    feed(), next() or cleanup() on that reader.
 *  - struct mts_socketmap_request holds slices BORROWED from the parsed
 *    input (an exception to "inputs are copied", for a zero-copy server
 *    path); they are valid as long as that input is.
 *  - Writers fill a caller buffer and never keep pointers.
 *
 * Thread safety: a reader may be used by one thread at a time; the other
 * functions are pure and thread-safe (mts_idn_to_ascii() is).
 *
 * Design notes: docs/internals/socketmap.md. Decisions (which keys are
 * what, what a malformed request gets): docs/decisions.md.
 */
#ifndef MTASTS_SOCKETMAP_H
#define MTASTS_SOCKETMAP_H

#include <mtasts/common.h>
#include <mtasts/limits.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Limits ---- */

/* Postfix's socketmap client sends queries of at most 10,000 bytes
 * (longer keys become "not found" without being sent; POSTFIX-NOTES
 * "Client defaults"). We count that limit against the KEY and allow the
 * socketmap name and the separating space on top, so no query Postfix
 * may send is refused whichever way a Postfix version counts it. The peer
 * (postfix-mta-sts-resolver) refuses requests over 1024 bytes; that is
 * too small for a 10,000-byte key. */
#define MTS_SOCKETMAP_KEY_MAX 10000
/* Our bound on the socketmap name: it comes from the Postfix
 * configuration (socketmap:inet:host:port:NAME) and names a zone of our
 * own configuration, so 255 is generous. */
#define MTS_SOCKETMAP_NAME_MAX 255
/* The largest request payload mtastsd accepts: name, space, key. Use it
 * as the reader's max_payload. */
#define MTS_SOCKETMAP_REQUEST_MAX                                              \
  (MTS_SOCKETMAP_NAME_MAX + 1 + MTS_SOCKETMAP_KEY_MAX)
/* Postfix dict_sockmap.c DICT_SOCKMAP_DEF_MAX_REPLY: "Replies must be no
 * longer than 100000 characters (not including the netstring
 * encapsulation)". A longer reply is a lookup error on the client. */
#define MTS_SOCKETMAP_REPLY_MAX 100000
/* Reasons of TEMP/TIMEOUT/PERM are cut to this many bytes: Postfix logs
 * at most 200 characters of them (msg_warn "%.200s" in dict_sockmap.c). */
#define MTS_SOCKETMAP_REASON_MAX 200
/* Longest normalised key, NUL included: a parent-domain probe is "." and
 * a 253-octet name (RFC 1035 2.3.4); IPv6 text is at most 45 octets. */
#define MTS_SOCKETMAP_NORM_MAX (MTS_DOMAIN_MAX + 2)
/* Most length digits a netstring may have. Leading zeros are accepted
 * (the peer answers "013:test good.loc,"), but not without end: 20
 * digits hold any size_t value. */
#define MTS_NETSTRING_DIGITS_MAX 20
/* Framing bytes around a payload of n bytes: digits(n) + ':' + ','. A
 * buffer of n + MTS_NETSTRING_OVERHEAD_MAX bytes always fits the frame. */
#define MTS_NETSTRING_OVERHEAD_MAX (MTS_NETSTRING_DIGITS_MAX + 2)
/* A buffer this large fits any reply mts_socketmap_reply_write() makes:
 * the 100000-byte payload, 6 length digits, ':' and ','. */
#define MTS_SOCKETMAP_REPLY_BUF_MAX (MTS_SOCKETMAP_REPLY_MAX + 8)

/* ---- Netstrings ---- */

/* What next() (and mts_netstring_parse()) report. */
enum mts_netstring_result {
  MTS_NETSTRING_NEED_MORE = 0, /* no complete netstring yet */
  MTS_NETSTRING_COMPLETE = 1,  /* a payload is available */
  MTS_NETSTRING_ERROR = -1     /* malformed stream; sticky */
};

/* Why a stream is malformed. After any of these the stream cannot be
 * resynchronised: the server closes the connection. */
enum mts_netstring_error {
  MTS_NETSTRING_ENONE = 0,
  /* A netstring does not start with a digit ("aaa:", "\n3:abc,", a
   * second netstring after garbage). */
  MTS_NETSTRING_EGARBAGE,
  /* The length is empty (":,") or holds a non-digit ("1a:", "3x"). */
  MTS_NETSTRING_EBADLEN,
  /* The declared length exceeds max_payload, or the length has more than
   * MTS_NETSTRING_DIGITS_MAX digits. Detected as soon as the digit that
   * makes it too long arrives, before the payload is read. */
  MTS_NETSTRING_ETOOLONG,
  /* The byte after the payload is not ','. */
  MTS_NETSTRING_EBADTERM
};

/*! \return a static description of \p err ("missing ',' after the
 *  payload"); never NULL. */
MTS_API const char *mts_netstring_error_str(enum mts_netstring_error err);

/*
 * Push parser state. Caller storage; the fields are private: use the
 * functions below.
 */
struct mts_netstring_reader {
  struct mts_ctx *ctx;
  uint8_t *buf;    /* max_payload bytes (at least 1), owned */
  size_t max;      /* max_payload */
  size_t len;      /* declared length of the current netstring */
  size_t have;     /* payload bytes received so far */
  unsigned digits; /* length digits seen */
  int state;       /* private state machine */
  enum mts_netstring_error error;
};

/*!
 * Initialise \p r to read netstrings whose payload is at most
 * \p max_payload bytes (mtastsd: MTS_SOCKETMAP_REQUEST_MAX). Allocates
 * one buffer of max_payload bytes, so internal buffering never exceeds
 * it: the length prefix is not buffered, and feed() stops at the end of
 * each netstring until next() has taken it.
 * \return MTS_OK; MTS_ENOMEM (then \p r needs no cleanup, but cleanup is
 * harmless); MTS_EINVAL for a NULL \p r or \p ctx.
 */
MTS_API MTS_WUR enum mts_status
mts_netstring_reader_init(struct mts_netstring_reader *r, struct mts_ctx *ctx,
                          size_t max_payload);

/*! Release the buffer of \p r. NULL and a zeroed or cleaned-up reader are
 *  no-ops; a second cleanup is harmless. */
MTS_API void mts_netstring_reader_cleanup(struct mts_netstring_reader *r);

/*!
 * Give \p len bytes of input to \p r.
 * \return how many bytes were consumed. Consumption stops right after the
 * ',' of a complete netstring (the caller calls next() and feeds the
 * rest), at the byte that made the stream malformed (that byte is not
 * counted), and is 0 while a completed payload waits for next() or after
 * an error. When next() then reports NEED_MORE, everything given was
 * consumed. A NULL \p r, or NULL \p data with \p len > 0, consumes 0.
 */
MTS_API size_t mts_netstring_reader_feed(struct mts_netstring_reader *r,
                                         const uint8_t *data, size_t len);

/*!
 * Take the next complete payload.
 * \param[out] payload  on COMPLETE, the payload (borrowed: valid until the
 *                      next feed/next/cleanup on \p r; not NUL-terminated,
 *                      may contain NUL; non-NULL even when empty); NULL
 *                      otherwise.
 * \param[out] len      on COMPLETE its length (<= max_payload); 0 otherwise.
 * \return COMPLETE; NEED_MORE; ERROR when the stream is malformed, for
 * good (mts_netstring_reader_error() says why). A NULL argument gives
 * ERROR with the reader untouched.
 *
 * The server loop: `off += feed(r, in + off, n - off)`, then next() until
 * it returns NEED_MORE (feed again from off) or ERROR (close).
 */
MTS_API MTS_WUR enum mts_netstring_result
mts_netstring_reader_next(struct mts_netstring_reader *r,
                          const uint8_t **payload, size_t *len);

/*! \return why \p r failed; MTS_NETSTRING_ENONE while it has not. */
MTS_API enum mts_netstring_error
mts_netstring_reader_error(const struct mts_netstring_reader *r);

/*!
 * One-shot parse of the netstring at the start of \p in (\p len bytes),
 * with the same rules as the reader; no allocation, no copy.
 * \param[out] payload   on COMPLETE, points into \p in; NULL otherwise.
 * \param[out] plen      payload length on COMPLETE; 0 otherwise.
 * \param[out] consumed  on COMPLETE, the bytes of the whole netstring
 *                       (prefix, payload and ','); 0 otherwise.
 * \param[out] err       optional; the reason on ERROR, ENONE otherwise.
 * \return COMPLETE, NEED_MORE (a prefix of a valid netstring), or ERROR
 * (also for NULL \p payload, \p plen or \p consumed, or NULL \p in with
 * \p len > 0).
 */
MTS_API MTS_WUR enum mts_netstring_result
mts_netstring_parse(const uint8_t *in, size_t len, size_t max_payload,
                    const uint8_t **payload, size_t *plen, size_t *consumed,
                    enum mts_netstring_error *err);

/*! \return the size of the netstring framing \p len payload bytes
 *  (digits + ':' + payload + ','), or 0 when that overflows size_t. */
MTS_API size_t mts_netstring_framed_len(size_t len);

/*!
 * Frame \p payload (\p len bytes, may contain NUL) as a netstring into
 * \p buf of \p bufsize bytes: "<len>:<payload>," with no leading zeros,
 * not NUL-terminated. Postfix netstring_put().
 * \param[out] written  bytes written on MTS_OK; 0 otherwise.
 * \return MTS_OK; MTS_ETOOBIG when \p bufsize is too small (nothing
 * useful is written); MTS_EINVAL for a NULL \p buf or \p written, or a
 * NULL \p payload with \p len > 0.
 */
MTS_API MTS_WUR enum mts_status
mts_netstring_write(uint8_t *buf, size_t bufsize, const uint8_t *payload,
                    size_t len, size_t *written);

/* ---- Socketmap requests ---- */

/* A parsed request "<name> <key>". Both are slices borrowed from the
 * parsed input, not NUL-terminated. */
struct mts_socketmap_request {
  const uint8_t *name; /* the socketmap name: 1..NAME_MAX bytes 0x21-0x7e */
  size_t name_len;
  const uint8_t *key; /* everything after the first space; may be empty,
                         may contain spaces, NUL or any byte */
  size_t key_len;
};

/*!
 * Split a request payload at its first space into name and key.
 * \return MTS_OK; MTS_EPARSE when there is no space, the name is empty or
 * holds a byte outside 0x21-0x7e (Postfix names come from main.cf and
 * cannot: docs/decisions.md SM-2); MTS_ETOOBIG when the name
 * exceeds MTS_SOCKETMAP_NAME_MAX or the key MTS_SOCKETMAP_KEY_MAX;
 * MTS_EINVAL for a NULL \p out, or NULL \p in with \p len > 0. On failure
 * \p out is zeroed.
 */
MTS_API MTS_WUR enum mts_status
mts_socketmap_request_parse(const uint8_t *in, size_t len,
                            struct mts_socketmap_request *out);

/* What a lookup key is, after normalisation. Only DOMAIN is looked up;
 * the daemon answers "NOTFOUND " for every other kind. */
enum mts_socketmap_key_kind {
  /* A domain: out holds its lower-case A-label form (mts_idn_to_ascii),
   * without a trailing dot. */
  MTS_SOCKETMAP_KEY_DOMAIN = 0,
  /* Starts with '.': a Postfix parent-domain probe (".example.com").
   * out holds "." + the A-label form of the rest. */
  MTS_SOCKETMAP_KEY_PARENT_PROBE,
  /* An IPv4 or IPv6 address (inet_pton), with or without brackets and
   * port ("[1.2.3.4]", "1.2.3.4:25", "::1", "[IPv6:::1]"). out holds the
   * address as inet_ntop() writes it (lower-case, canonical). */
  MTS_SOCKETMAP_KEY_IP_LITERAL,
  /* Anything else: empty, '@', inner space, control or other bad octet,
   * label > 63, name > 253, invalid IDN, an all-numeric last label.
   * out holds "". */
  MTS_SOCKETMAP_KEY_INVALID
};

/*! \return "domain", "parent-probe", "ip-literal" or "invalid". */
MTS_API const char *
mts_socketmap_key_kind_str(enum mts_socketmap_key_kind kind);

/*!
 * Normalise a lookup key the way postfix-mta-sts-resolver does
 * (utils.filter_domain, POSTFIX-NOTES 2.1), then classify it:
 *  1. strip surrounding whitespace;
 *  2. a whole unbracketed IPv6 address ("::1") is an IP literal as is;
 *  3. if the key contains ']', take the text before the first ']' and
 *     strip one leading '['; otherwise cut at the last ':' (":port");
 *  4. strip surrounding whitespace and all trailing dots;
 *  5. classify (see enum mts_socketmap_key_kind); ASCII is lower-cased
 *     and U-labels become A-labels ("bücher.example" is
 *     "xn--bcher-kva.example"). Non-ASCII never makes an error.
 * Invariant (fuzzed): out is lower-case printable ASCII without a
 * trailing dot, and normalising out again gives out and the same kind.
 * \param[in] key  \p len bytes, any octets.
 * \param[out] out  NUL-terminated result; \p outsize bytes
 *                  (MTS_SOCKETMAP_NORM_MAX is always enough).
 * \param[out] kind the classification.
 * \return MTS_OK (whatever the kind: an invalid key is a result, not an
 * error); MTS_ETOOBIG when the result does not fit \p outsize (out is
 * "", kind INVALID); MTS_EINVAL for NULL \p out or \p kind, \p outsize 0,
 * or NULL \p key with \p len > 0. No allocation.
 */
MTS_API MTS_WUR enum mts_status
mts_socketmap_key_normalize(const uint8_t *key, size_t len, char *out,
                            size_t outsize, enum mts_socketmap_key_kind *kind);

/* ---- Socketmap replies ---- */

enum mts_socketmap_reply_kind {
  MTS_SOCKETMAP_REPLY_OK = 0,   /* "OK <data>" */
  MTS_SOCKETMAP_REPLY_NOTFOUND, /* "NOTFOUND " */
  MTS_SOCKETMAP_REPLY_TEMP,     /* "TEMP <reason>": Postfix DICT_ERR_RETRY */
  MTS_SOCKETMAP_REPLY_TIMEOUT,  /* "TIMEOUT <reason>": DICT_ERR_RETRY */
  MTS_SOCKETMAP_REPLY_PERM      /* "PERM <reason>": DICT_ERR_CONFIG */
};

/*!
 * Build a reply and frame it as a netstring into \p buf.
 *  - OK: \p text is the data, sent as is. It must be non-empty (a bare
 *    "OK" is mishandled by some Postfix versions) and printable ASCII
 *    (0x20-0x7e; it is a policy string made by us, so anything else is a
 *    bug, not something to paper over).
 *  - NOTFOUND: \p text is ignored; the payload is "NOTFOUND " with its
 *    trailing space, byte for byte what the peer sends.
 *  - TEMP, TIMEOUT, PERM: \p text is the reason. It is sanitised: bytes
 *    outside 0x20-0x7e become '?', and it is cut to
 *    MTS_SOCKETMAP_REASON_MAX bytes. An empty reason is replaced by a
 *    generic one ("temporary failure", "timeout", "permanent failure") so
 *    that there is always text after the space.
 * The payload is at most MTS_SOCKETMAP_REPLY_MAX bytes.
 * \param[out] written  bytes written on MTS_OK, 0 otherwise.
 * \return MTS_OK; MTS_ETOOBIG when the payload would exceed
 * MTS_SOCKETMAP_REPLY_MAX or the frame \p bufsize
 * (MTS_SOCKETMAP_REPLY_BUF_MAX always suffices); MTS_EINVAL for an
 * unknown \p kind, an empty or non-printable OK text, a NULL \p buf or
 * \p written, or a NULL \p text with \p len > 0.
 */
MTS_API MTS_WUR enum mts_status
mts_socketmap_reply_write(uint8_t *buf, size_t bufsize,
                          enum mts_socketmap_reply_kind kind, const char *text,
                          size_t len, size_t *written);

#ifdef __cplusplus
}
#endif
#endif /* MTASTS_SOCKETMAP_H */
