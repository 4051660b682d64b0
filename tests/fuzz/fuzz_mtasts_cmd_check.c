/*
 * fuzz_mtasts_cmd_check.c - the two input parsers of `mtasts check`
 * (cmd_check.c), each over every input:
 *  - cmd_check_file_domains(): the -f FILE domain list, then each name
 *    through mts_idn_to_ascii() as cmd_check() does;
 *  - cmd_check_state_load(): the --state FILE document, read from a
 *    memfd through /proc/self/fd/N (nothing written to the file system).
 *
 * Invariants (abort() when broken):
 * - every domain is a non-empty string inside the buffer, after the
 *   previous one, without LF or '#' and without leading or trailing
 *   blanks (SP, TAB, CR); there are at most as many as lines;
 * - the state loads (non-NULL, an object) exactly when the bytes are a
 *   JSON document whose "domains" member is an object (json_loadb with
 *   the same flags).
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <mtasts/idn.h>
#include <mtasts/limits.h>

#include "cli.h"

#define FUZZ_MAX_INPUT 65536

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool blank(char ch) {
  return ch == ' ' || ch == '\t' || ch == '\r';
}

static void run_file_domains(const uint8_t *data, size_t size) {
  char *buf = malloc(size + 1);
  const char **v = NULL;
  const char *prev_end;
  size_t n = 0, i, lines = 1;

  if (buf == NULL) {
    abort();
  }
  memcpy(buf, data, size);
  for (i = 0; i < size; i++) {
    lines += data[i] == '\n';
  }
  if (!cmd_check_file_domains(buf, size, &v, &n)) {
    abort(); /* only on OOM, which the fuzzer does not inject */
  }
  if (n > lines || (n > 0 && v == NULL)) {
    abort();
  }
  prev_end = buf;
  for (i = 0; i < n; i++) {
    const char *s = v[i];
    size_t len;
    char out[MTS_DOMAIN_MAX + 1];

    if (s < prev_end || s >= buf + size + 1) {
      abort();
    }
    len = strlen(s);
    if (len == 0 || s + len > buf + size || memchr(s, '\n', len) != NULL ||
        memchr(s, '#', len) != NULL || blank(s[0]) || blank(s[len - 1])) {
      abort();
    }
    prev_end = s + len + 1;
    if (mts_idn_to_ascii(s, len, out, sizeof(out)) == MTS_OK &&
        strlen(out) > MTS_DOMAIN_MAX) {
      abort();
    }
  }
  free(v);
  free(buf);
}

static void run_state_load(const uint8_t *data, size_t size) {
  char path[64];
  json_t *d, *root;
  json_error_t err;
  bool want;
  int fd = memfd_create("fuzz_mtasts_cmd_check", MFD_CLOEXEC);

  if (fd < 0 || (size > 0 && write(fd, data, size) != (ssize_t)size)) {
    abort();
  }
  (void)snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
  d = cmd_check_state_load(path);
  root = json_loadb((const char *)data, size, 0, &err);
  want = root != NULL && json_is_object(json_object_get(root, "domains"));
  if ((d != NULL) != want || (d != NULL && !json_is_object(d))) {
    abort();
  }
  json_decref(root);
  json_decref(d);
  (void)close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > FUZZ_MAX_INPUT) {
    return 0;
  }
  run_file_domains(data, size);
  run_state_load(data, size);
  return 0;
}
