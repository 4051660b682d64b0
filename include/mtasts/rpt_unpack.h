/*
 * mtasts/rpt_unpack.h - the JSON documents inside whatever a TLS report
 * arrives in (RFC 8460 5.2/5.3; TLSRPT-NOTES 5): plain JSON, gzip
 * (RFC 1952, also several concatenated members) or a zip archive
 * (`application/tlsrpt+zip`, not standard but sent by some).
 *
 * The format is decided by the bytes, never by the hints (RFC 8460 5.6:
 * the report is authoritative, not the file name or media type):
 *  - gzip: the magic 1f 8b. The members are decompressed one after the
 *    other into ONE document, as gunzip does; trailing NUL padding after
 *    the last member is ignored, other trailing bytes are ignored with
 *    MTS_RPT_UNPACK_F_TRAILING set (gunzip: "trailing garbage ignored").
 *    The result must look like JSON (below).
 *  - zip: the magic "PK\3\4" (or "PK\5\6", an empty archive), read from
 *    memory with libarchive's seekable reader (the central directory is
 *    required and authoritative). Each regular member is a document when
 *    its name ends in ".json" (case-insensitive) or its bytes look like
 *    JSON; a member whose name ends in ".gz" or whose bytes start with
 *    the gzip magic is gunzipped first. Nested zip archives (by name),
 *    directories and links are skipped unread; other members are read
 *    and skipped when they are not reports (both counted in `skipped`).
 *    A member that is read must be stored or deflated: any other method
 *    (bzip2, LZMA, PPMd, ...) is MTS_EPARSE "unpack-zip-method" before
 *    its decoder starts.
 *  - plain JSON: optional UTF-8 BOM, optional JSON white space, then
 *    '{'. The BOM is not part of the document handed out; white space
 *    is.
 * Anything else is MTS_EPARSE with code "unpack-unknown-format".
 *
 * Bounds (struct mts_rpt_unpack_limits; 0 in a field means its default):
 *  - each document at most MTS_RPT_REPORT_MAX bytes decompressed;
 *  - all output of one input at most MTS_RPT_UNPACK_TOTAL_MAX bytes:
 *    every byte gunzipped or read out of a zip member counts, whether
 *    it becomes a document or the member is skipped, and plain JSON
 *    counts its own size (`used` in the result);
 *  - compression ratio: once a gzip stream has produced more than
 *    MTS_RPT_UNPACK_RATIO_FLOOR bytes, output / compressed input consumed
 *    so far must stay at most `max_ratio`; for a zip the ratio is taken
 *    over the whole archive (libarchive does not hand out a member's
 *    compressed size). Deflate reaches ~1030:1 on zeros, real reports
 *    10-30:1, so a bomb stops after about one MiB of output;
 *  - at most `max_members` zip entries (every entry counts, skipped ones
 *    too) and at most that many documents per input.
 * Decompression is streamed: memory is bounded by the limits, never by
 * what a header claims.
 *
 * Errors: a status (MTS_EPARSE for corrupt or unrecognised input,
 * MTS_ETOOBIG for a limit, MTS_ENOMEM, MTS_EINVAL, or the callback's
 * status) plus struct mts_rpt_unpack_error with a stable code
 * ("unpack-*", docs/findings.md) and a human-readable message.
 * Documents completed before an error have already been handed to the
 * callback (a zip whose second member is corrupt delivers the first).
 *
 * Memory: the output buffers and zlib's state go through the context
 * allocator. libarchive allocates its own state with malloc (it has no
 * allocator hooks); it is freed before the call returns.
 * Thread safety: as common.h (no global state). Cost: linear in the
 * decompressed size, which the limits bound.
 */
#ifndef MTASTS_RPT_UNPACK_H
#define MTASTS_RPT_UNPACK_H

#include <mtasts/common.h>
#include <mtasts/rpt_report.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Default bound on all documents of one input, decompressed. */
#define MTS_RPT_UNPACK_TOTAL_MAX (64u * 1024u * 1024u)
/* Default largest output:input ratio of compressed data. */
#define MTS_RPT_UNPACK_RATIO_MAX 250u
/* The ratio is checked only once a stream produced more than this. */
#define MTS_RPT_UNPACK_RATIO_FLOOR (1024u * 1024u)
/* Default most zip entries per archive (and documents per input). */
#define MTS_RPT_UNPACK_MEMBERS_MAX 64u

/* What the input was. */
enum mts_rpt_unpack_format {
  MTS_RPT_UNPACK_UNKNOWN = 0,
  MTS_RPT_UNPACK_JSON = 1,
  MTS_RPT_UNPACK_GZIP = 2,
  MTS_RPT_UNPACK_ZIP = 3
};

/* Limits; a zero field takes the default named beside it. */
struct mts_rpt_unpack_limits {
  size_t max_doc;      /* MTS_RPT_REPORT_MAX */
  size_t max_total;    /* MTS_RPT_UNPACK_TOTAL_MAX */
  unsigned max_ratio;  /* MTS_RPT_UNPACK_RATIO_MAX */
  unsigned max_members; /* MTS_RPT_UNPACK_MEMBERS_MAX */
};

/* Optional hints; used only for names and messages, never to decide the
 * format. Either field may be NULL. */
struct mts_rpt_unpack_hints {
  const char *filename;   /* e.g. "google.com!example.com!1!2!001.json.gz" */
  const char *media_type; /* e.g. "application/tlsrpt+gzip" */
};

/* Flags of a document. */
#define MTS_RPT_UNPACK_F_TRAILING 0x1u /* bytes after the last gzip member ignored */
#define MTS_RPT_UNPACK_F_BOM 0x2u      /* a UTF-8 BOM was removed */

/* One document, handed to the callback. Everything is borrowed and
 * valid only during the callback. */
struct mts_rpt_unpack_doc {
  const uint8_t *data; /* the JSON bytes; not NUL-terminated */
  size_t len;
  /* The zip member name (as stored, may contain '/'), or for gzip and
   * plain JSON the hint's filename; NULL when none. */
  const char *name;
  enum mts_rpt_unpack_format outer; /* the input's format */
  bool gzipped;   /* the bytes were gunzipped (alone or inside a zip) */
  unsigned flags; /* MTS_RPT_UNPACK_F_* */
  size_t index;   /* 0-based document number within this input */
};

/* Why an input failed. `code` is a static stable string ("unpack-..."),
 * NULL after success; `message` is for humans. */
struct mts_rpt_unpack_error {
  enum mts_status status;
  const char *code;
  char message[192];
};

/* What one input held. */
struct mts_rpt_unpack_result {
  enum mts_rpt_unpack_format format;
  size_t ndocs;   /* documents handed to the callback */
  size_t skipped; /* zip entries that were not reports */
  uint64_t total; /* decompressed bytes handed out */
  /* Bytes counted against max_total: all output produced, delivered or
   * not (may pass the limit by one byte, the byte that told it). A
   * caller that splits one budget over several inputs (the MIME walker
   * over a message's parts) subtracts this. */
  uint64_t used;
};

/* Return MTS_OK to go on; any other status stops the unpacking and is
 * returned (error code "unpack-callback"). */
typedef enum mts_status (*mts_rpt_unpack_cb)(void *arg,
                                             const struct mts_rpt_unpack_doc *doc);

/*! \return the format the first bytes of \p data announce (magic bytes;
 *  JSON as described above), or MTS_RPT_UNPACK_UNKNOWN. */
MTS_API enum mts_rpt_unpack_format
mts_rpt_unpack_detect(const uint8_t *data, size_t len);

/*! \return "json", "gzip", "zip" or "unknown". */
MTS_API const char *mts_rpt_unpack_format_str(enum mts_rpt_unpack_format f);

/*! \return true when \p data is optional UTF-8 BOM, optional JSON white
 *  space, then '{'. */
MTS_API bool mts_rpt_unpack_looks_json(const uint8_t *data, size_t len);

/*!
 * Hand every JSON document inside \p data to \p cb, in order.
 * \param[in] ctx     the context (allocator).
 * \param[in] data    \p len bytes (a whole attachment or HTTP body); not
 *                    kept. May be NULL when len is 0 (then EPARSE).
 * \param[in] hints   optional (NULL).
 * \param[in] limits  optional (NULL: all defaults).
 * \param[in] cb      called once per document; must not be NULL.
 * \param[out] res    optional: what was found, also on failure.
 * \param[out] err    optional: the reason on failure (code NULL on OK).
 * \return MTS_OK when the input was read completely and held at least
 *  one document; MTS_EPARSE (corrupt, truncated, unknown format, a zip
 *  with no report); MTS_ETOOBIG (a limit); MTS_ENOMEM; MTS_EINVAL (ctx
 *  or cb NULL, data NULL with len > 0); or the callback's status.
 */
MTS_API MTS_WUR enum mts_status
mts_rpt_unpack_mem(struct mts_ctx *ctx, const uint8_t *data, size_t len,
                   const struct mts_rpt_unpack_hints *hints,
                   const struct mts_rpt_unpack_limits *limits,
                   mts_rpt_unpack_cb cb, void *arg,
                   struct mts_rpt_unpack_result *res,
                   struct mts_rpt_unpack_error *err);

#ifdef __cplusplus
}
#endif
#endif /* MTASTS_RPT_UNPACK_H */
