/*
 * fuzz_socketmap.c - mts_socketmap_request_parse(),
 * mts_socketmap_key_normalize() and mts_socketmap_reply_write(). Input:
 * a request payload "<name> <key>"; the whole input is also tried as a
 * key and as reply text.
 *
 * Invariants (abort() on a break):
 *  - A parsed request is name + ' ' + key = the input, the name is
 *    1..255 bytes of 0x21-0x7e, the key at most 10000 bytes.
 *  - Normalised output is lower-case printable ASCII without a trailing
 *    dot or whitespace; it is "" exactly for INVALID; a DOMAIN is a
 *    valid A-label name (mts_idn_to_ascii gives it back unchanged); a
 *    PARENT_PROBE is "." + such a name; an IP_LITERAL parses with
 *    inet_pton.
 *  - Normalising the output again gives the same output and kind.
 *  - Replies parse as one netstring of at most 100000 bytes that starts
 *    with its tag; TEMP/PERM text is printable and at most 200 bytes.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <mtasts/mtasts.h>

#define FUZZ_MAX_INPUT 12000

static void check_text(const char *s, enum mts_socketmap_key_kind kind) {
  size_t n = strlen(s);
  size_t i;
  char back[MTS_SOCKETMAP_NORM_MAX];
  unsigned char addr[16];

  if ((n == 0) != (kind == MTS_SOCKETMAP_KEY_INVALID)) {
    abort();
  }
  if (n > 0 && s[n - 1] == '.') {
    abort();
  }
  for (i = 0; i < n; i++) {
    if (s[i] <= 0x20 || s[i] > 0x7e || (s[i] >= 'A' && s[i] <= 'Z')) {
      abort();
    }
  }
  switch (kind) {
  case MTS_SOCKETMAP_KEY_DOMAIN:
    if (s[0] == '.' || mts_idn_to_ascii(s, n, back, sizeof(back)) != MTS_OK ||
        strcmp(back, s) != 0) {
      abort();
    }
    break;
  case MTS_SOCKETMAP_KEY_PARENT_PROBE:
    if (s[0] != '.' ||
        mts_idn_to_ascii(s + 1, n - 1, back, sizeof(back)) != MTS_OK ||
        strcmp(back, s + 1) != 0) {
      abort();
    }
    break;
  case MTS_SOCKETMAP_KEY_IP_LITERAL:
    if (inet_pton(AF_INET, s, addr) != 1 && inet_pton(AF_INET6, s, addr) != 1) {
      abort();
    }
    break;
  case MTS_SOCKETMAP_KEY_INVALID:
    break;
  default:
    abort();
  }
}

static void check_key(const uint8_t *key, size_t len) {
  char out[MTS_SOCKETMAP_NORM_MAX];
  char again[MTS_SOCKETMAP_NORM_MAX];
  enum mts_socketmap_key_kind kind, kind2;

  if (mts_socketmap_key_normalize(key, len, out, sizeof(out), &kind) !=
      MTS_OK) {
    abort();
  }
  check_text(out, kind);
  if (mts_socketmap_key_normalize((const uint8_t *)out, strlen(out), again,
                                  sizeof(again), &kind2) != MTS_OK ||
      kind2 != kind || strcmp(out, again) != 0) {
    abort();
  }
}

static void check_reply(enum mts_socketmap_reply_kind kind, const char *tag,
                        const uint8_t *text, size_t len) {
  static uint8_t buf[MTS_SOCKETMAP_REPLY_BUF_MAX];
  const uint8_t *p;
  size_t w, n, used, i, taglen = strlen(tag);
  enum mts_status st = mts_socketmap_reply_write(buf, sizeof(buf), kind,
                                                 (const char *)text, len, &w);

  if (st != MTS_OK) {
    /* only OK text may be refused, and only when empty or unprintable */
    if (kind != MTS_SOCKETMAP_REPLY_OK || st != MTS_EINVAL) {
      abort();
    }
    for (i = 0; i < len; i++) {
      if (text[i] < 0x20 || text[i] > 0x7e) {
        return;
      }
    }
    if (len != 0) {
      abort();
    }
    return;
  }
  if (mts_netstring_parse(buf, w, MTS_SOCKETMAP_REPLY_MAX, &p, &n, &used,
                          NULL) != MTS_NETSTRING_COMPLETE ||
      used != w || n < taglen || memcmp(p, tag, taglen) != 0) {
    abort();
  }
  if (kind == MTS_SOCKETMAP_REPLY_OK &&
      (n != taglen + len || memcmp(p + taglen, text, len) != 0)) {
    abort();
  }
  if (kind == MTS_SOCKETMAP_REPLY_NOTFOUND && n != taglen) {
    abort();
  }
  if (kind == MTS_SOCKETMAP_REPLY_TEMP || kind == MTS_SOCKETMAP_REPLY_PERM) {
    if (n == taglen || n - taglen > MTS_SOCKETMAP_REASON_MAX) {
      abort();
    }
    for (i = taglen; i < n; i++) {
      if (p[i] < 0x20 || p[i] > 0x7e) {
        abort();
      }
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct mts_socketmap_request rq;
  enum mts_status st;
  size_t i;

  if (size > FUZZ_MAX_INPUT) {
    return 0;
  }
  st = mts_socketmap_request_parse(data, size, &rq);
  if (st == MTS_OK) {
    if (rq.name != data || rq.name_len == 0 ||
        rq.name_len > MTS_SOCKETMAP_NAME_MAX ||
        rq.key_len > MTS_SOCKETMAP_KEY_MAX ||
        rq.name_len + 1 + rq.key_len != size || data[rq.name_len] != ' ' ||
        rq.key != data + rq.name_len + 1) {
      abort();
    }
    for (i = 0; i < rq.name_len; i++) {
      if (rq.name[i] < 0x21 || rq.name[i] > 0x7e) {
        abort();
      }
    }
    check_key(rq.key, rq.key_len);
  } else if (rq.name != NULL || rq.key != NULL ||
             (st != MTS_EPARSE && st != MTS_ETOOBIG)) {
    abort();
  }
  check_key(data, size);
  check_reply(MTS_SOCKETMAP_REPLY_OK, "OK ", data, size);
  check_reply(MTS_SOCKETMAP_REPLY_NOTFOUND, "NOTFOUND ", data, size);
  check_reply(MTS_SOCKETMAP_REPLY_TEMP, "TEMP ", data, size);
  check_reply(MTS_SOCKETMAP_REPLY_PERM, "PERM ", data, size);
  return 0;
}
