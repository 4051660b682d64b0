/*
 * mtasts/rpt_mime.h - the TLS reports inside report mail (RFC 8460 5.3;
 * RFC-CHECKLIST 2.5 DLV-4..7; TLSRPT-NOTES 5), read with GMime 3.
 *
 * One RFC 5322 message (mts_rpt_mime_parse) or every message of an mbox
 * file (mts_rpt_mime_mbox_each; a Maildir is a directory of message
 * files: read each with mts_rpt_mime_parse). Every leaf part, in any
 * nesting of multiparts and attached message/rfc822 (forwarded
 * reports), is a report part when
 *  - its media type is application/tlsrpt+gzip, application/tlsrpt+json,
 *    application/tlsrpt+zip, application/gzip, application/x-gzip,
 *    application/zip, application/x-zip-compressed or application/json;
 *  - or its file name (Content-Disposition filename, else Content-Type
 *    name; RFC 2231 decoded) ends in .json, .json.gz, .gz or .zip,
 *    whatever its type (application/octet-stream, text/plain, ...);
 *  - or it is text/plain (any leaf, also the whole message body) whose
 *    decoded content looks like a JSON object (rpt_unpack.h).
 * The part's content is decoded (base64, quoted-printable, 7bit, 8bit,
 * binary; base64 strictly: a byte outside the alphabet is the error
 * "mime-base64-invalid", where GMime alone would skip it and hand on
 * corrupt data) and passed through mts_rpt_unpack_mem() with the part's
 * file name and media type as hints: each JSON document in it reaches
 * the callback with the message's metadata. The multipart/report
 * wrapper (DLV-4) is recorded, not required: real senders differ.
 *
 * Metadata (struct mts_rpt_mime_meta) is recorded, never judged: the
 * DKIM-Signature header field is noted (and its d= tag), not verified;
 * TLS-Report-Domain / -Submitter (DLV-5) and the Subject (DLV-7) are
 * handed out as sent (unfolded, RFC 2047 decoded) for the caller to
 * compare with the report (DLV-10: the report is authoritative).
 *
 * Bounds: a message of at most MTS_RPT_MIME_MESSAGE_MAX bytes (in an
 * mbox: each message), at most MTS_RPT_MIME_PARTS_MAX MIME entities
 * (counted before any part is unpacked), at most MTS_RPT_MIME_DEPTH_MAX
 * levels of nesting walked (GMime's own parser stops nesting at 1024).
 * GMime builds the whole tree before it can be counted (g_malloc, which
 * aborts the process when memory runs out), so each message is first
 * scanned: more than MTS_RPT_MIME_LINES_MAX lines starting with "--"
 * (boundaries) or with "Content-Type" (any case; attached messages) is
 * "mime-too-many-parts" without parsing (in an mbox, that message is
 * passed over and the next one read). Header fields are counted as GMime
 * parses them: past MTS_RPT_MIME_FIELDS_MAX the input is made to end
 * there and the message is "mime-too-many-fields" (in an mbox, the next
 * message is read). The unpack limits
 * (max_total bytes, max_members documents) are a budget per MESSAGE,
 * shared by its report parts in order: each part is unpacked with what
 * the parts before it left (bytes decompressed, delivered or not:
 * rpt_unpack.h `used`); the parts past the budget are not unpacked and
 * one "mime-total-too-big" error after the message's documents says how
 * many were skipped or cut short. max_doc and max_ratio apply per part.
 *
 * Errors: per part and per message, as struct mts_rpt_unpack_error with
 * a code "mime-*" or "unpack-*" (docs/findings.md), delivered to the
 * callback (item.error) and counted in the result.
 *
 * Process-wide initialisation: GMime must be initialised once per
 * process (g_mime_init()). This module does it itself, on first use,
 * under pthread_once(); it is the library's only process-wide state and
 * is never undone (g_mime_shutdown() is not called: another user of
 * GMime in the same process may still need it). A program that uses
 * GMime itself may call g_mime_init() before or after; GMime counts.
 *
 * Memory: GMime and GLib allocate with g_malloc, NOT the context's
 * allocator, and abort the process when memory runs out (GLib's
 * policy); their objects are freed before each call returns. The
 * decoded parts, the metadata strings and unpacking use the context
 * allocator. libarchive (zip) uses malloc (rpt_unpack.h).
 * Thread safety: as common.h; distinct contexts may be used from
 * distinct threads (GMime's parser objects are per call).
 * Cost: linear in the message size plus the unpacking.
 */
#ifndef MTASTS_RPT_MIME_H
#define MTASTS_RPT_MIME_H

#include <mtasts/common.h>
#include <mtasts/rpt_unpack.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Largest message read (one message, or each message of an mbox). */
#define MTS_RPT_MIME_MESSAGE_MAX (64u * 1024u * 1024u)
/* Most MIME entities (multiparts and leaves) in one message. */
#define MTS_RPT_MIME_PARTS_MAX 1000u
/* Deepest nesting of multiparts / attached messages walked. */
#define MTS_RPT_MIME_DEPTH_MAX 32u
/* Most lines starting "--", and most starting "Content-Type", in a
 * message handed to GMime. MTS_RPT_MIME_PARTS_MAX entities need at most
 * two boundary lines and one Content-Type line each; the rest is room
 * for content such lines (signature "-- ", PGP armour, rules of dashes)
 * that base64 never has. */
#define MTS_RPT_MIME_LINES_MAX (4u * MTS_RPT_MIME_PARTS_MAX)
/* Most header fields in a message (the message's, its parts' and
 * attached messages'), counted as GMime parses them: GMime keeps about
 * 500 bytes for each. Report mail has tens to a few hundred (Received,
 * DKIM, ARC). */
#define MTS_RPT_MIME_FIELDS_MAX 10000u

/* The message a report came in. Strings are valid UTF-8 (GMime decodes
 * RFC 2047 words; any byte still not UTF-8 becomes U+FFFD), trimmed,
 * NUL-terminated, NULL when the field is absent; borrowed, valid during
 * the callback only. */
struct mts_rpt_mime_meta {
  const char *message_id; /* Message-ID without the angle brackets */
  const char *from;       /* the From field, unfolded and decoded */
  const char *from_addr;  /* addr-spec of the first From mailbox */
  const char *date;       /* the Date field as sent (unfolded) */
  bool has_date;          /* Date parsed */
  int64_t date_unix;      /* the Date, seconds since the epoch (UTC) */
  const char *subject;
  const char *tls_report_domain;    /* TLS-Report-Domain (DLV-5) */
  const char *tls_report_submitter; /* TLS-Report-Submitter (DLV-5) */
  bool dkim_signature;     /* a DKIM-Signature field is present */
  const char *dkim_domain; /* its d= tag (first signature), not verified */
  bool report_type_tlsrpt; /* top level multipart/report;
                              report-type=tlsrpt (DLV-4) */
  size_t mbox_index;       /* 0-based message number in an mbox, else 0 */
  const char *mbox_marker; /* the mbox "From " line, NULL outside an mbox */
};

/* One report part. Strings as in the metadata; borrowed, valid during
 * the callback only. */
struct mts_rpt_mime_part {
  const char *content_type; /* "type/subtype", lower case */
  const char *filename;     /* NULL when none */
  const char *encoding;     /* "base64", "quoted-printable", "7bit", ... */
  size_t index;             /* 0-based leaf number, depth first */
  unsigned depth;           /* 0: the message body itself */
};

/* What the callback gets: a document, or an error. */
struct mts_rpt_mime_item {
  const struct mts_rpt_mime_meta *meta;
  /* The part; NULL for an error about the whole message ("mime-*"
   * codes such as mime-no-report, mime-too-many-parts). */
  const struct mts_rpt_mime_part *part;
  const struct mts_rpt_unpack_doc *doc;     /* NULL for an error */
  const struct mts_rpt_unpack_error *error; /* NULL for a document */
};

/* Return MTS_OK to go on; any other status stops everything and is
 * returned. */
typedef enum mts_status (*mts_rpt_mime_cb)(void *arg,
                                           const struct mts_rpt_mime_item *it);

struct mts_rpt_mime_result {
  size_t nmessages; /* messages read */
  size_t nparts;    /* report parts found */
  size_t ndocs;     /* documents handed to the callback */
  size_t nerrors;   /* errors handed to the callback */
};

/*!
 * The reports in one message.
 * \param[in] ctx     the context.
 * \param[in] msg     \p len bytes of one RFC 5322 message (CRLF or LF);
 *                    not kept.
 * \param[in] limits  unpack limits: max_total and max_members for the
 *                    whole message, the others per part (NULL:
 *                    defaults).
 * \param[in] cb      documents and errors, in message order; not NULL.
 * \param[out] res    optional counts.
 * \param[out] err    optional: the first error (code NULL when none).
 * \return MTS_OK when at least one document was found and no part
 *  failed; else the first error's status: MTS_ENOTFOUND
 *  ("mime-no-report"), MTS_ETOOBIG ("mime-too-big",
 *  "mime-too-many-parts", "mime-total-too-big", unpack limits), MTS_EPARSE
 *  ("mime-base64-invalid", unpack errors), MTS_ENOMEM, MTS_EINVAL, or
 *  the callback's status. Documents of good parts are delivered even
 *  when another part fails.
 */
MTS_API MTS_WUR enum mts_status
mts_rpt_mime_parse(struct mts_ctx *ctx, const uint8_t *msg, size_t len,
                   const struct mts_rpt_unpack_limits *limits,
                   mts_rpt_mime_cb cb, void *arg,
                   struct mts_rpt_mime_result *res,
                   struct mts_rpt_unpack_error *err);

/*!
 * The reports in every message of an mbox file, split by GMime's mbox
 * parser (a "From " line starts a message; ">From " lines, mboxrd
 * quoting, are unquoted in report parts before decoding). The file is
 * read through a GMime file stream, not loaded: parts stay on disk until
 * decoded. Message-level errors ("mime-no-report", "mime-too-big", ...)
 * are handed to the callback per message and do not stop the mbox. Each
 * message is scanned (pread) before GMime reads it: one too big or with
 * too many structure lines is refused unparsed. The mbox is read up to
 * its size at the call (messages appended meanwhile wait for the next).
 * \param[in] fd  a readable regular file; it is read from offset 0
 *                through a dup() (not closed; the shared file offset is
 *                left anywhere).
 * Other parameters as mts_rpt_mime_parse().
 * \return MTS_OK when the mbox was read to its end (see res->nerrors
 *  and err for the messages that failed); MTS_EPARSE ("mime-not-mbox")
 *  when it holds no message; MTS_EIO; MTS_EINVAL (not a regular file);
 *  MTS_ENOMEM; or the callback's status.
 */
MTS_API MTS_WUR enum mts_status
mts_rpt_mime_mbox_each(struct mts_ctx *ctx, int fd,
                       const struct mts_rpt_unpack_limits *limits,
                       mts_rpt_mime_cb cb, void *arg,
                       struct mts_rpt_mime_result *res,
                       struct mts_rpt_unpack_error *err);

#ifdef __cplusplus
}
#endif
#endif /* MTASTS_RPT_MIME_H */
