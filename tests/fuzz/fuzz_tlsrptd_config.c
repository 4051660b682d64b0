/*
 * fuzz_tlsrptd_config.c - tlsrptd_config_load() (mtasts-tlsrptd's YAML
 * configuration) over arbitrary bytes. The loader takes a path, as the
 * daemon does with -c: the input goes into a memfd and the loader opens
 * /proc/self/fd/N, so nothing is written to the file system.
 *
 * Invariants (abort() when broken):
 * - NULL <=> a non-empty message;
 * - loading is deterministic: a second load gives the same message or
 *   an equal config;
 * - a valid config keeps its documented ranges and cross-field rules:
 *   state_db, submitter and from are set, submitter is contact_info's
 *   domain (RFC 8460 5.3), sendmail is absolute, file and command are
 *   not both given, a shared url has a prefix, list items are non-empty.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"

#define FUZZ_MAX_INPUT 65536

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool streq(const char *a, const char *b) {
  return (a == NULL && b == NULL) ||
         (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static bool list_ok(const struct tlsrptd_list *li) {
  size_t i;

  if (li->n > 0 && li->v == NULL) {
    return false;
  }
  for (i = 0; i < li->n; i++) {
    if (li->v[i] == NULL || li->v[i][0] == '\0') {
      return false;
    }
  }
  return true;
}

static bool list_eq(const struct tlsrptd_list *a, const struct tlsrptd_list *b) {
  size_t i;

  if (a->n != b->n) {
    return false;
  }
  for (i = 0; i < a->n; i++) {
    if (strcmp(a->v[i], b->v[i]) != 0) {
      return false;
    }
  }
  return true;
}

static void check_config(const struct tlsrptd_config *c) {
  const char *at;

  if (c->state_db == NULL || c->org == NULL || c->contact == NULL ||
      c->submitter == NULL || c->from == NULL || c->socket_mode < -1 ||
      c->socket_mode > 07777 || c->send_window > 86400 || c->timeout < 1 ||
      c->timeout > 600 || c->keep_days < 2 || c->keep_days > 3650 ||
      c->shared_timeout < 1 || c->shared_timeout > 60 ||
      (c->sendmail != NULL && c->sendmail[0] != '/') ||
      (c->follow_file != NULL && c->follow_command.n > 0) ||
      (c->shared_url != NULL && c->shared_prefix == NULL) ||
      !list_ok(&c->follow_command) || !list_ok(&c->exclude_recipients) ||
      !list_ok(&c->opt_out)) {
    abort();
  }
  at = strrchr(c->contact, '@');
  if (at == NULL || at == c->contact || strcmp(at + 1, c->submitter) != 0) {
    abort();
  }
}

static void compare(const struct tlsrptd_config *a,
                    const struct tlsrptd_config *b) {
  if (!streq(a->state_db, b->state_db) || !streq(a->host_name, b->host_name) ||
      a->log_level != b->log_level || !streq(a->socket, b->socket) ||
      a->socket_mode != b->socket_mode ||
      !streq(a->socket_owner, b->socket_owner) ||
      !streq(a->socket_group, b->socket_group) ||
      !streq(a->quarantine_dir, b->quarantine_dir) ||
      !streq(a->follow_file, b->follow_file) ||
      !list_eq(&a->follow_command, &b->follow_command) ||
      !streq(a->follow_state, b->follow_state) ||
      a->follow_from_start != b->follow_from_start ||
      !list_eq(&a->exclude_recipients, &b->exclude_recipients) ||
      !streq(a->org, b->org) || !streq(a->contact, b->contact) ||
      !streq(a->submitter, b->submitter) || !streq(a->from, b->from) ||
      !streq(a->sendmail, b->sendmail) || a->send_window != b->send_window ||
      !streq(a->dry_run_dir, b->dry_run_dir) ||
      !list_eq(&a->opt_out, &b->opt_out) || !streq(a->resolver, b->resolver) ||
      !streq(a->ca_file, b->ca_file) || a->https_verify != b->https_verify ||
      a->timeout != b->timeout || a->keep_days != b->keep_days ||
      !streq(a->shared_url, b->shared_url) ||
      !streq(a->shared_prefix, b->shared_prefix) ||
      a->shared_timeout != b->shared_timeout) {
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct tlsrptd_config *c, *c2;
  char path[64], e1[512], e2[512];
  int fd;

  if (size > FUZZ_MAX_INPUT) {
    return 0;
  }
  fd = memfd_create("fuzz_tlsrptd_config", MFD_CLOEXEC);
  if (fd < 0 || (size > 0 && write(fd, data, size) != (ssize_t)size)) {
    abort();
  }
  (void)snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
  e1[0] = e2[0] = '\0';
  c = tlsrptd_config_load(path, e1, sizeof(e1));
  c2 = tlsrptd_config_load(path, e2, sizeof(e2));
  if ((c == NULL) != (e1[0] != '\0') || (c2 == NULL) != (c == NULL) ||
      strcmp(e1, e2) != 0) {
    abort();
  }
  if (c != NULL) {
    check_config(c);
    compare(c, c2);
  }
  tlsrptd_config_free(c2);
  tlsrptd_config_free(c);
  (void)close(fd);
  return 0;
}
