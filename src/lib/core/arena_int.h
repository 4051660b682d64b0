/*
 * arena_int.h - a bump allocator: everything one parse result owns is
 * allocated here and released by one mts_arena_destroy() (the pattern of
 * unbound's regional). Internal.
 */
#ifndef MTS_ARENA_INT_H
#define MTS_ARENA_INT_H

#include "ctx_int.h"

struct mts_arena;

/* \return NULL on allocation failure. */
struct mts_arena *mts_arena_create(struct mts_ctx *ctx);
void mts_arena_destroy(struct mts_arena *a);
/*
 * The shape of every parse result: a new arena with a zeroed object of
 * \p size bytes as its first allocation, so destroying the arena frees
 * the object too. \return the object (its arena in *arena), or NULL
 * with nothing allocated.
 */
void *mts_arena_create_object(struct mts_ctx *ctx, size_t size,
                              struct mts_arena **arena);
/*
 * The same, for a caller that knows about how much it will allocate:
 * the first chunk holds \p expect bytes (the object included; each
 * allocation rounded up to 16) instead of the default 512, so a
 * result of known shape costs one allocation of its own size. More
 * than \p expect still works (further chunks).
 */
void *mts_arena_create_object_sized(struct mts_ctx *ctx, size_t size,
                                    size_t expect, struct mts_arena **arena);
/* \p n rounded up to the arena's alignment, for computing \p expect. */
size_t mts_arena_round(size_t n);
struct mts_ctx *mts_arena_ctx(const struct mts_arena *a);
/* 16-byte aligned; NULL on allocation failure or overflow. */
void *mts_arena_alloc(struct mts_arena *a, size_t size);
/* Copy len bytes and append a NUL. */
char *mts_arena_strndup(struct mts_arena *a, const char *s, size_t len);
char *mts_arena_printf(struct mts_arena *a, const char *fmt, ...)
    MTS_PRINTF(2, 3);
char *mts_arena_vprintf(struct mts_arena *a, const char *fmt, va_list ap)
    MTS_PRINTF(2, 0);

#endif /* MTS_ARENA_INT_H */
