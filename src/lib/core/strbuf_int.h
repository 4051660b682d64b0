/*
 * strbuf_int.h - a growable byte buffer, always NUL-terminated, with a
 * sticky failure: what the report, page and mail writers append to
 * (curl's dynbuf, Postfix's VSTRING). Internal.
 *
 * The caller owns the struct (init/cleanup) and may read its fields.
 * After a failed append every later append is ignored, so a writer
 * appends everything and checks once, at the end: mts_strbuf_take() or
 * mts_strbuf_status(). Bytes may be binary (embedded NULs); the NUL
 * after them is for writers of text.
 */
#ifndef MTS_STRBUF_INT_H
#define MTS_STRBUF_INT_H

#include "ctx_int.h"

/* First capacity when mts_strbuf_init() is given 0. */
#define MTS_STRBUF_FIRST 256
/* "No maximum" for mts_strbuf_init(): as much as a size_t can count
 * with the NUL. */
#define MTS_STRBUF_NOMAX (SIZE_MAX - 1)

struct mts_strbuf {
  struct mts_ctx *ctx;
  char *p;      /* NULL until the first append or reserve */
  size_t len;   /* bytes held; p[len] is a NUL */
  size_t cap;   /* bytes p can hold (allocated: one more, for the NUL) */
  size_t first; /* the first allocation's capacity */
  size_t max;   /* len never passes this */
  bool oom;     /* an allocation failed */
  bool toobig;  /* an append would have passed max */
};

/*
 * An empty buffer that allocates nothing yet. The first allocation
 * holds \p first bytes (0: MTS_STRBUF_FIRST), later ones double, up to
 * \p max bytes held (MTS_STRBUF_NOMAX: no limit of the caller's).
 */
void mts_strbuf_init(struct mts_strbuf *b, struct mts_ctx *ctx, size_t first,
                     size_t max);
/* Free the bytes; \p b is then empty again (as after init), so that a
 * second cleanup is harmless. */
void mts_strbuf_cleanup(struct mts_strbuf *b);

/*
 * Room for \p n more bytes (and the NUL) at p + len, for a caller that
 * writes there itself and then calls mts_strbuf_added(). Allocates even
 * for n = 0 when nothing is allocated yet. \return false, with oom or
 * toobig set, when the buffer has failed or fails now.
 */
bool mts_strbuf_reserve(struct mts_strbuf *b, size_t n);
/* The caller wrote \p n bytes at p + len, within cap - len. */
void mts_strbuf_added(struct mts_strbuf *b, size_t n);
/* Keep the first \p len bytes (no-op when len >= b->len). */
void mts_strbuf_truncate(struct mts_strbuf *b, size_t len);

/* Append \p n bytes (binary safe). */
void mts_strbuf_put(struct mts_strbuf *b, const void *s, size_t n);
/* Append a C string. */
void mts_strbuf_str(struct mts_strbuf *b, const char *s);
/* Append formatted text, of any length. vsnprintf() fails only on more
 * than INT_MAX bytes (or a bad wide character): that sets toobig. */
void mts_strbuf_printf(struct mts_strbuf *b, const char *fmt, ...)
    MTS_PRINTF(2, 3);
void mts_strbuf_vprintf(struct mts_strbuf *b, const char *fmt, va_list ap)
    MTS_PRINTF(2, 0);

/* \return MTS_OK, MTS_ENOMEM (oom) or MTS_ETOOBIG (toobig). */
enum mts_status mts_strbuf_status(const struct mts_strbuf *b) MTS_WUR;

/*
 * Hand the bytes over: *out (free with mts_free(); "" when nothing was
 * appended) and their length in *len (may be NULL); \p b is empty
 * again. On failure (the buffer's, or allocating that "") the bytes
 * are freed, *out is NULL, *len 0, and the status is returned.
 */
enum mts_status mts_strbuf_take(struct mts_strbuf *b, char **out,
                                size_t *len) MTS_WUR;

#endif /* MTS_STRBUF_INT_H */
