/*
 * ctx.c - the library context: allocator, log sink, clock.
 */
#include "ctx_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void *libc_malloc(size_t size, void *arg) {
  (void)arg;
  return malloc(size);
}

static void *libc_realloc(void *ptr, size_t size, void *arg) {
  (void)arg;
  return realloc(ptr, size);
}

static void libc_free(void *ptr, void *arg) {
  (void)arg;
  free(ptr);
}

static int64_t system_clock(void *arg) {
  (void)arg;
  return (int64_t)time(NULL);
}

enum mts_status mts_ctx_create(const struct mts_allocator *alloc,
                               struct mts_ctx **out) {
  struct mts_allocator a = {libc_malloc, libc_realloc, libc_free, NULL};
  struct mts_ctx *ctx;

  if (out == NULL) {
    return MTS_EINVAL;
  }
  *out = NULL;
  if (alloc != NULL) {
    if (alloc->malloc_fn == NULL || alloc->realloc_fn == NULL ||
        alloc->free_fn == NULL) {
      return MTS_EINVAL;
    }
    a = *alloc;
  }
  ctx = a.malloc_fn(sizeof(*ctx), a.arg);
  if (ctx == NULL) {
    return MTS_ENOMEM;
  }
  memset(ctx, 0, sizeof(*ctx));
  ctx->alloc = a;
  ctx->log_level = MTS_LOG_INFO;
  ctx->clock_fn = system_clock;
  *out = ctx;
  return MTS_OK;
}

void mts_ctx_destroy(struct mts_ctx *ctx) {
  if (ctx == NULL) {
    return;
  }
  ctx->alloc.free_fn(ctx, ctx->alloc.arg);
}

void mts_ctx_set_log(struct mts_ctx *ctx, mts_log_fn fn, void *arg,
                     enum mts_log_level max_level) {
  ctx->log_fn = fn;
  ctx->log_arg = arg;
  ctx->log_level = max_level;
}

void mts_ctx_set_clock(struct mts_ctx *ctx, mts_clock_fn fn, void *arg) {
  ctx->clock_fn = fn != NULL ? fn : system_clock;
  ctx->clock_arg = fn != NULL ? arg : NULL;
}

int64_t mts_ctx_now(const struct mts_ctx *ctx) {
  return ctx->clock_fn(ctx->clock_arg);
}

void *mts_malloc(struct mts_ctx *ctx, size_t size) {
  return ctx->alloc.malloc_fn(size == 0 ? 1 : size, ctx->alloc.arg);
}

void *mts_calloc(struct mts_ctx *ctx, size_t nmemb, size_t size) {
  void *p;

  if (size != 0 && nmemb > SIZE_MAX / size) {
    return NULL;
  }
  p = mts_malloc(ctx, nmemb * size);
  if (p != NULL) {
    memset(p, 0, nmemb * size);
  }
  return p;
}

void *mts_realloc(struct mts_ctx *ctx, void *ptr, size_t size) {
  return ctx->alloc.realloc_fn(ptr, size == 0 ? 1 : size, ctx->alloc.arg);
}

void *mts_reallocarray(struct mts_ctx *ctx, void *ptr, size_t nmemb,
                       size_t size) {
  if (size != 0 && nmemb > SIZE_MAX / size) {
    return NULL;
  }
  return mts_realloc(ctx, ptr, nmemb * size);
}

void mts_free(struct mts_ctx *ctx, void *ptr) {
  if (ptr != NULL) {
    ctx->alloc.free_fn(ptr, ctx->alloc.arg);
  }
}

char *mts_strndup(struct mts_ctx *ctx, const char *s, size_t len) {
  char *p;

  if (len == SIZE_MAX) {
    return NULL;
  }
  p = mts_malloc(ctx, len + 1);
  if (p != NULL) {
    if (len > 0) {
      memcpy(p, s, len);
    }
    p[len] = '\0';
  }
  return p;
}

char *mts_strdup(struct mts_ctx *ctx, const char *s) {
  return mts_strndup(ctx, s, strlen(s));
}

void mts_log(struct mts_ctx *ctx, enum mts_log_level level, const char *fmt,
             ...) {
  char line[1024];
  va_list ap;

  if (!mts_log_enabled(ctx, level)) {
    return;
  }
  va_start(ap, fmt);
  (void)vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  ctx->log_fn(ctx->log_arg, level, line);
}
