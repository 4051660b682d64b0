/*
 * strbuf.c - growable NUL-terminated byte buffer; see strbuf_int.h.
 */
#include "strbuf_int.h"

#include <stdio.h>
#include <string.h>

void mts_strbuf_init(struct mts_strbuf *b, struct mts_ctx *ctx, size_t first,
                     size_t max) {
  b->ctx = ctx;
  b->p = NULL;
  b->len = 0;
  b->cap = 0;
  /* cap + 1 (the NUL) must not overflow, and doubling needs first > 0 */
  b->max = max < MTS_STRBUF_NOMAX ? max : MTS_STRBUF_NOMAX;
  b->first = first > 0 ? first : MTS_STRBUF_FIRST;
  b->oom = false;
  b->toobig = false;
}

void mts_strbuf_cleanup(struct mts_strbuf *b) {
  mts_free(b->ctx, b->p);
  b->p = NULL;
  b->len = 0;
  b->cap = 0;
  b->oom = false;
  b->toobig = false;
}

bool mts_strbuf_reserve(struct mts_strbuf *b, size_t n) {
  size_t want, cap;
  char *np;

  if (b->oom || b->toobig) {
    return false;
  }
  if (n > b->max - b->len) {
    b->toobig = true;
    return false;
  }
  want = b->len + n;
  if (b->p != NULL && want <= b->cap) {
    return true;
  }
  /* Doubling keeps appends amortised O(1); max bounds the last step so
   * that a limited buffer never allocates past its limit. */
  cap = b->p == NULL ? b->first : b->cap;
  while (cap < want) {
    cap = cap > b->max / 2 ? b->max : cap * 2;
  }
  if (cap > b->max) {
    cap = b->max; /* a first capacity above the limit */
  }
  np = mts_realloc(b->ctx, b->p, cap + 1);
  if (np == NULL) {
    b->oom = true;
    return false;
  }
  np[b->len] = '\0'; /* for a first allocation; len is still valid */
  b->p = np;
  b->cap = cap;
  return true;
}

void mts_strbuf_added(struct mts_strbuf *b, size_t n) {
  b->len += n;
  b->p[b->len] = '\0';
}

void mts_strbuf_truncate(struct mts_strbuf *b, size_t len) {
  if (len < b->len) {
    b->len = len;
    b->p[len] = '\0';
  }
}

void mts_strbuf_put(struct mts_strbuf *b, const void *s, size_t n) {
  if (!mts_strbuf_reserve(b, n)) {
    return;
  }
  if (n > 0) {
    memcpy(b->p + b->len, s, n);
  }
  mts_strbuf_added(b, n);
}

void mts_strbuf_str(struct mts_strbuf *b, const char *s) {
  mts_strbuf_put(b, s, strlen(s));
}

void mts_strbuf_vprintf(struct mts_strbuf *b, const char *fmt, va_list ap) {
  va_list ap2;
  int n;

  if (b->oom || b->toobig) {
    return;
  }
  /* Measure, then format in place: no temporary, no length limit. */
  va_copy(ap2, ap);
  n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0) {
    b->toobig = true;
    return;
  }
  if (!mts_strbuf_reserve(b, (size_t)n)) {
    return;
  }
  (void)vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
  b->len += (size_t)n;
}

void mts_strbuf_printf(struct mts_strbuf *b, const char *fmt, ...) {
  va_list ap;

  va_start(ap, fmt);
  mts_strbuf_vprintf(b, fmt, ap);
  va_end(ap);
}

enum mts_status mts_strbuf_status(const struct mts_strbuf *b) {
  if (b->oom) {
    return MTS_ENOMEM;
  }
  return b->toobig ? MTS_ETOOBIG : MTS_OK;
}

enum mts_status mts_strbuf_take(struct mts_strbuf *b, char **out, size_t *len) {
  enum mts_status st;

  *out = NULL;
  if (len != NULL) {
    *len = 0;
  }
  (void)mts_strbuf_reserve(b, 0); /* "" for an empty buffer */
  st = mts_strbuf_status(b);
  if (st != MTS_OK) {
    mts_strbuf_cleanup(b);
    return st;
  }
  *out = b->p;
  if (len != NULL) {
    *len = b->len;
  }
  b->p = NULL;
  b->len = 0;
  b->cap = 0;
  return MTS_OK;
}
