/*
 * dhash.h - the hash of a domain name for the daemon's per-domain
 * tables (dane.c, mxcache.c): FNV-1a over the lower-case A-label name,
 * and the bucket-count rule they share. Header only.
 */
#ifndef MTASTSD_DHASH_H
#define MTASTSD_DHASH_H

#include <stddef.h>
#include <stdint.h>

static inline size_t mtastsd_dhash(const char *s) {
  uint32_t h = 2166136261u; /* FNV-1a */

  for (; *s != '\0'; s++) {
    h ^= (uint8_t)*s;
    h *= 16777619u;
  }
  return (size_t)h;
}

/* A power of two near cap / 2 (chains of about two), at most 2^24. */
static inline size_t mtastsd_dhash_buckets(size_t cap) {
  size_t nb = 16;

  while (nb < cap / 2 && nb < ((size_t)1 << 24)) {
    nb *= 2;
  }
  return nb;
}

#endif /* MTASTSD_DHASH_H */
