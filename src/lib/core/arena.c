/*
 * arena.c - chunked bump allocator; see arena_int.h.
 */
#include "arena_int.h"

#include <stdio.h>
#include <string.h>

/* Chunks start small and double up to ARENA_CHUNK: a daemon keeps one
 * parsed policy (one arena) per cached domain, most of them a few
 * hundred bytes, so a fixed 4 KiB first chunk would dominate its memory. */
#define ARENA_FIRST_CHUNK 512
#define ARENA_CHUNK 4096
#define ARENA_ALIGN 16

struct chunk {
  struct chunk *next;
  size_t size; /* usable bytes after the header */
  size_t used;
  /* data follows, aligned */
};

struct mts_arena {
  struct mts_ctx *ctx;
  struct chunk *head;
  size_t next_chunk; /* size of the next regular chunk, header included */
};

#define CHUNK_HDR                                                             \
  ((sizeof(struct chunk) + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN)

struct mts_arena *mts_arena_create(struct mts_ctx *ctx) {
  struct mts_arena *a = mts_malloc(ctx, sizeof(*a));

  if (a != NULL) {
    a->ctx = ctx;
    a->head = NULL;
    a->next_chunk = ARENA_FIRST_CHUNK;
  }
  return a;
}

void mts_arena_destroy(struct mts_arena *a) {
  struct chunk *c, *next;

  if (a == NULL) {
    return;
  }
  for (c = a->head; c != NULL; c = next) {
    next = c->next;
    mts_free(a->ctx, c);
  }
  mts_free(a->ctx, a);
}

size_t mts_arena_round(size_t n) {
  if (n > SIZE_MAX - ARENA_ALIGN) {
    return SIZE_MAX;
  }
  return n == 0 ? ARENA_ALIGN : (n + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
}

void *mts_arena_create_object(struct mts_ctx *ctx, size_t size,
                              struct mts_arena **arena) {
  return mts_arena_create_object_sized(ctx, size, 0, arena);
}

void *mts_arena_create_object_sized(struct mts_ctx *ctx, size_t size,
                                    size_t expect, struct mts_arena **arena) {
  struct mts_arena *a = mts_arena_create(ctx);
  void *obj;

  *arena = NULL;
  if (a == NULL) {
    return NULL;
  }
  /* A first chunk of exactly the expected size (never smaller than the
   * object). Bounded by the oversize rule of mts_arena_alloc(): a hint
   * above ARENA_CHUNK makes a first chunk of that size, then regular
   * chunks follow. */
  if (expect > 0 && expect <= SIZE_MAX - CHUNK_HDR) {
    size_t first = mts_arena_round(expect < size ? size : expect);

    if (first <= SIZE_MAX - CHUNK_HDR) {
      a->next_chunk = CHUNK_HDR + first;
    }
  }
  obj = mts_arena_alloc(a, size);
  if (obj == NULL) {
    mts_arena_destroy(a);
    return NULL;
  }
  if (a->next_chunk > ARENA_CHUNK) {
    a->next_chunk = ARENA_CHUNK; /* a large hint sizes the first only */
  }
  memset(obj, 0, size);
  *arena = a;
  return obj;
}

struct mts_ctx *mts_arena_ctx(const struct mts_arena *a) { return a->ctx; }

void *mts_arena_alloc(struct mts_arena *a, size_t size) {
  struct chunk *c = a->head;
  size_t need, csize;
  void *p;

  if (size > SIZE_MAX - ARENA_ALIGN - CHUNK_HDR) {
    return NULL;
  }
  need = (size + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
  if (need == 0) {
    need = ARENA_ALIGN;
  }
  if (c == NULL || c->size - c->used < need) {
    bool oversize = need > a->next_chunk - CHUNK_HDR;

    csize = oversize ? need : a->next_chunk - CHUNK_HDR;
    if (!oversize && a->next_chunk < ARENA_CHUNK) {
      a->next_chunk *= 2;
    }
    c = mts_malloc(a->ctx, CHUNK_HDR + csize);
    if (c == NULL) {
      return NULL;
    }
    c->size = csize;
    c->used = 0;
    /* An oversize one-off allocation goes behind the current chunk so
     * the current chunk's free space is not wasted. */
    if (a->head != NULL && oversize) {
      c->next = a->head->next;
      a->head->next = c;
    } else {
      c->next = a->head;
      a->head = c;
    }
  }
  p = (unsigned char *)c + CHUNK_HDR + c->used;
  c->used += need;
  return p;
}

char *mts_arena_strndup(struct mts_arena *a, const char *s, size_t len) {
  char *p;

  if (len == SIZE_MAX) {
    return NULL;
  }
  p = mts_arena_alloc(a, len + 1);
  if (p != NULL) {
    if (len > 0) {
      memcpy(p, s, len);
    }
    p[len] = '\0';
  }
  return p;
}

char *mts_arena_vprintf(struct mts_arena *a, const char *fmt, va_list ap) {
  va_list ap2;
  int n;
  char *p;

  va_copy(ap2, ap);
  n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0) {
    return NULL;
  }
  p = mts_arena_alloc(a, (size_t)n + 1);
  if (p != NULL) {
    (void)vsnprintf(p, (size_t)n + 1, fmt, ap);
  }
  return p;
}

char *mts_arena_printf(struct mts_arena *a, const char *fmt, ...) {
  va_list ap;
  char *p;

  va_start(ap, fmt);
  p = mts_arena_vprintf(a, fmt, ap);
  va_end(ap);
  return p;
}
