/*
 * ascii_int.h - locale-independent ASCII classification. Internal.
 *
 * <ctype.h> depends on the locale (a Turkish locale folds 'I' to a
 * dotless i) and is undefined for negative char values; RFC grammars are
 * defined on octets, so every parser uses these instead.
 */
#ifndef MTS_ASCII_INT_H
#define MTS_ASCII_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

static inline bool mts_is_alpha(uint8_t c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static inline bool mts_is_digit(uint8_t c) { return c >= '0' && c <= '9'; }
static inline bool mts_is_alnum(uint8_t c) {
  return mts_is_alpha(c) || mts_is_digit(c);
}
/* RFC 5234 WSP = SP / HTAB */
static inline bool mts_is_wsp(uint8_t c) { return c == ' ' || c == '\t'; }
static inline uint8_t mts_lower(uint8_t c) {
  return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + ('a' - 'A')) : c;
}
/* ASCII case-insensitive equality of two byte strings. */
static inline bool mts_ascii_caseeq(const uint8_t *a, size_t alen,
                                    const uint8_t *b, size_t blen) {
  size_t i;

  if (alen != blen) {
    return false;
  }
  for (i = 0; i < alen; i++) {
    if (mts_lower(a[i]) != mts_lower(b[i])) {
      return false;
    }
  }
  return true;
}

#endif /* MTS_ASCII_INT_H */
