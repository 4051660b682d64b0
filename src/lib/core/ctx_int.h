/*
 * ctx_int.h - the library context and the allocation and logging
 * helpers every module uses. Internal.
 *
 * All library memory goes through mts_malloc()/mts_free() so that a
 * context's allocator (and the tests' failing allocator) sees it.
 */
#ifndef MTS_CTX_INT_H
#define MTS_CTX_INT_H

#include <stdarg.h>

#include <mtasts/common.h>

struct mts_ctx {
  struct mts_allocator alloc;
  mts_log_fn log_fn;
  void *log_arg;
  enum mts_log_level log_level;
  mts_clock_fn clock_fn;
  void *clock_arg;
};

void *mts_malloc(struct mts_ctx *ctx, size_t size);
/* calloc with an overflow check on nmemb * size. */
void *mts_calloc(struct mts_ctx *ctx, size_t nmemb, size_t size);
void *mts_realloc(struct mts_ctx *ctx, void *ptr, size_t size);
/* realloc of an array with an overflow check on nmemb * size. */
void *mts_reallocarray(struct mts_ctx *ctx, void *ptr, size_t nmemb,
                       size_t size);
void mts_free(struct mts_ctx *ctx, void *ptr);
/* Copy len bytes and append a NUL. */
char *mts_strndup(struct mts_ctx *ctx, const char *s, size_t len);
char *mts_strdup(struct mts_ctx *ctx, const char *s);

/* True when a message at level would be logged: check before formatting. */
static inline bool mts_log_enabled(const struct mts_ctx *ctx,
                                   enum mts_log_level level) {
  return ctx->log_fn != NULL && level <= ctx->log_level;
}

void mts_log(struct mts_ctx *ctx, enum mts_log_level level, const char *fmt,
             ...) MTS_PRINTF(3, 4);

#endif /* MTS_CTX_INT_H */
