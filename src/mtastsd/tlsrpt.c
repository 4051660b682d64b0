/*
 * tlsrpt.c - mtastsd's own TLS reporting events, as libtlsrpt datagrams
 * (see tlsrpt.h).
 */
#include "tlsrpt.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <mtasts/sts_discover.h>

#define T_LOG "tlsrpt"

struct mtastsd_tlsrpt {
  int fd;
  struct sockaddr_un addr;
  socklen_t addrlen;
  struct mtastsd_log *log;
  uint64_t sent, dropped;
  bool failing; /* the last send failed: log the next success */
};

int mtastsd_tlsrpt_create(const char *path, struct mtastsd_log *lg,
                          struct mtastsd_tlsrpt **out) {
  struct mtastsd_tlsrpt *t;
  size_t n = strlen(path);

  *out = NULL;
  t = calloc(1, sizeof(*t));
  if (t == NULL) {
    LOG_E(lg, T_LOG, "tlsrpt_socket: out of memory");
    return -1;
  }
  if (n == 0 || n >= sizeof(t->addr.sun_path)) {
    LOG_E(lg, T_LOG, "tlsrpt_socket: path too long (at most %zu bytes)",
          sizeof(t->addr.sun_path) - 1);
    free(t);
    return -1;
  }
  t->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (t->fd < 0) {
    LOG_E(lg, T_LOG, "tlsrpt_socket: socket: %s", strerror(errno));
    free(t);
    return -1;
  }
  t->addr.sun_family = AF_UNIX;
  memcpy(t->addr.sun_path, path, n + 1);
  t->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
  t->log = lg;
  *out = t;
  return 0;
}

void mtastsd_tlsrpt_destroy(struct mtastsd_tlsrpt *t) {
  if (t == NULL) {
    return;
  }
  (void)close(t->fd);
  free(t);
}

/* Append s as JSON string content: '"' and '\' escaped, controls as
 * \u00XX, bytes >= 0x80 as '?' (reasons are ASCII log text; a stray
 * byte must not make the datagram invalid UTF-8). */
static bool put_json(char *buf, size_t size, size_t *pos, const char *s) {
  for (; *s != '\0'; s++) {
    unsigned char c = (unsigned char)*s;
    char esc[8];
    size_t k;

    if (c == '"' || c == '\\') {
      esc[0] = '\\';
      esc[1] = (char)c;
      k = 2;
    } else if (c < 0x20 || c == 0x7f) {
      (void)snprintf(esc, sizeof(esc), "\\u%04x", c);
      k = 6;
    } else {
      esc[0] = c >= 0x80 ? '?' : (char)c;
      k = 1;
    }
    if (size - *pos <= k) {
      return false;
    }
    memcpy(buf + *pos, esc, k);
    *pos += k;
  }
  buf[*pos] = '\0';
  return true;
}

static bool put_raw(char *buf, size_t size, size_t *pos, const char *s) {
  size_t k = strlen(s);

  if (size - *pos <= k) {
    return false;
  }
  memcpy(buf + *pos, s, k + 1);
  *pos += k;
  return true;
}

static int result_code(const char *rt) {
  if (strcmp(rt, "sts-policy-fetch-error") == 0) {
    return 301;
  }
  if (strcmp(rt, "sts-policy-invalid") == 0) {
    return 302;
  }
  if (strcmp(rt, "sts-webpki-invalid") == 0) {
    return 303;
  }
  return 0;
}

size_t mtastsd_tlsrpt_format(char *buf, size_t size, const char *domain,
                             const char *result_type, const char *reason) {
  size_t pos = 0;
  char code[64];
  int c;

  if (buf == NULL || size == 0 || domain == NULL || result_type == NULL) {
    return 0;
  }
  c = result_code(result_type);
  if (c == 0) {
    return 0;
  }
  buf[0] = '\0';
  /* libtlsrpt's key order and spacing (TLSRPT-NOTES 1.2). */
  (void)snprintf(code, sizeof(code), "\"failure-details\":[{\"c\":%d", c);
  if (!put_raw(buf, size, &pos, "{\"dpv\": \"1\",\"d\": \"") ||
      !put_json(buf, size, &pos, domain) ||
      !put_raw(buf, size, &pos,
               "\",\"pr\": \"\",\"policies\":[{\"policy-type\":2,"
               "\"policy-domain\": \"") ||
      !put_json(buf, size, &pos, domain) || !put_raw(buf, size, &pos, "\",") ||
      !put_raw(buf, size, &pos, code)) {
    return 0;
  }
  if (reason != NULL && reason[0] != '\0' &&
      (!put_raw(buf, size, &pos, ",\"f\": \"") ||
       !put_json(buf, size, &pos, reason) || !put_raw(buf, size, &pos, "\""))) {
    return 0;
  }
  if (!put_raw(buf, size, &pos, "}],\"t\":1,\"f\":1}]}")) {
    return 0;
  }
  return pos;
}

bool mtastsd_tlsrpt_answer(struct mtastsd_tlsrpt *t,
                           const struct mts_sts_answer *a) {
  char buf[MTASTSD_TLSRPT_DGRAM_MAX];
  const char *rt;
  size_t n;

  if (t == NULL || a == NULL || a->kind != MTS_ANSWER_NONE ||
      a->policy != NULL || a->domain == NULL) {
    return false;
  }
  rt = mts_sts_verdict_result_type(a->last_verdict);
  if (rt == NULL) {
    return false;
  }
  n = mtastsd_tlsrpt_format(buf, sizeof(buf), a->domain, rt, a->reason);
  if (n == 0) {
    return false;
  }
  if (sendto(t->fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL,
             (const struct sockaddr *)&t->addr, t->addrlen) < 0) {
    t->dropped++;
    if (!t->failing) {
      t->failing = true;
      LOG_W(t->log, T_LOG,
            "cannot send a TLSRPT event to %s: %s (events are dropped "
            "until the collector takes them again)",
            t->addr.sun_path, strerror(errno));
    }
    return true;
  }
  if (t->failing) {
    t->failing = false;
    LOG_I(t->log, T_LOG, "TLSRPT events reach %s again", t->addr.sun_path);
  }
  t->sent++;
  return true;
}

uint64_t mtastsd_tlsrpt_sent(const struct mtastsd_tlsrpt *t) {
  return t != NULL ? t->sent : 0;
}

uint64_t mtastsd_tlsrpt_dropped(const struct mtastsd_tlsrpt *t) {
  return t != NULL ? t->dropped : 0;
}
