/*
 * sandbox.c - Landlock for mtastsd; see sandbox.h.
 *
 * Only the rights that change the file system are handled (the ruleset
 * says which rights it restricts; the others stay allowed everywhere):
 * write, truncate (ABI 3), create any kind of node, remove, and refer
 * (ABI 2, a rename or link across directories). The rights of a newer
 * kernel than these headers know are not asked for, so an old binary on
 * a new kernel restricts what it knows. glibc has no wrappers for the
 * three system calls (Debian 12), hence syscall().
 */
#define _GNU_SOURCE 1 /* syscall(), O_PATH */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13) /* ABI 2 */
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14) /* ABI 3 */
#endif

/* What a file (not a directory) can be given. */
#define SBX_FILE_RIGHTS                                                        \
  (LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_TRUNCATE)
/* ABI 1: everything that changes the file system. */
#define SBX_WRITE_RIGHTS_V1                                                    \
  (LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR |            \
   LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_CHAR |            \
   LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |                \
   LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO |              \
   LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_SYM)

static uint64_t sbx_handled(int abi) {
  uint64_t r = SBX_WRITE_RIGHTS_V1;

  if (abi >= 2) {
    r |= LANDLOCK_ACCESS_FS_REFER;
  }
  if (abi >= 3) {
    r |= LANDLOCK_ACCESS_FS_TRUNCATE;
  }
  return r;
}

bool mtastsd_sandbox_dirname(const char *path, char *out, size_t outlen) {
  const char *slash = strrchr(path, '/');
  size_t n;

  if (slash == NULL) {
    return snprintf(out, outlen, ".") < (int)outlen;
  }
  while (slash > path && slash[-1] == '/') {
    slash--; /* "a//b": "a" */
  }
  n = slash == path ? 1 : (size_t)(slash - path);
  if (n >= outlen) {
    return false;
  }
  memcpy(out, path, n);
  out[n] = '\0';
  return true;
}

enum mtastsd_sandbox_result mtastsd_sandbox_writes(const char *const *paths,
                                                   size_t n, int *abi,
                                                   char *why, size_t whylen) {
  struct landlock_ruleset_attr attr;
  long v;
  int rs, e;
  size_t i;

  *abi = 0;
  why[0] = '\0';
  v = syscall(SYS_landlock_create_ruleset, NULL, 0,
              LANDLOCK_CREATE_RULESET_VERSION);
  if (v < 1) {
    e = errno;
    (void)snprintf(why, whylen, "%s", strerror(e));
    /* ENOSYS: no Landlock in the kernel (or valgrind); EOPNOTSUPP: off
     * at boot; EPERM: a seccomp filter refuses it. */
    return e == ENOSYS || e == EOPNOTSUPP || e == EPERM
               ? MTASTSD_SANDBOX_UNAVAILABLE
               : MTASTSD_SANDBOX_FAILED;
  }
  *abi = (int)v;
  memset(&attr, 0, sizeof(attr));
  attr.handled_access_fs = sbx_handled(*abi);
  rs = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
  if (rs < 0) {
    (void)snprintf(why, whylen, "landlock_create_ruleset: %s",
                   strerror(errno));
    return MTASTSD_SANDBOX_FAILED;
  }
  for (i = 0; i < n; i++) {
    struct landlock_path_beneath_attr pb;
    struct stat st;
    int fd = open(paths[i], O_PATH | O_CLOEXEC);

    if (fd < 0) {
      if (errno == ENOENT) {
        continue; /* nothing there to write to */
      }
      (void)snprintf(why, whylen, "%.200s: %s", paths[i], strerror(errno));
      (void)close(rs);
      return MTASTSD_SANDBOX_FAILED;
    }
    if (fstat(fd, &st) != 0) {
      (void)snprintf(why, whylen, "%.200s: %s", paths[i], strerror(errno));
      (void)close(fd);
      (void)close(rs);
      return MTASTSD_SANDBOX_FAILED;
    }
    memset(&pb, 0, sizeof(pb));
    pb.parent_fd = fd;
    pb.allowed_access = attr.handled_access_fs;
    if (!S_ISDIR(st.st_mode)) {
      pb.allowed_access &= SBX_FILE_RIGHTS; /* directory rights: EINVAL */
    }
    if (syscall(SYS_landlock_add_rule, rs, LANDLOCK_RULE_PATH_BENEATH, &pb,
                0) != 0) {
      (void)snprintf(why, whylen, "%.200s: landlock_add_rule: %s", paths[i],
                     strerror(errno));
      (void)close(fd);
      (void)close(rs);
      return MTASTSD_SANDBOX_FAILED;
    }
    (void)close(fd);
  }
  /* Required to restrict oneself without CAP_SYS_ADMIN; mtastsd never
   * executes anything that would gain privileges anyway. */
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
      syscall(SYS_landlock_restrict_self, rs, 0) != 0) {
    (void)snprintf(why, whylen, "landlock_restrict_self: %s",
                   strerror(errno));
    (void)close(rs);
    return MTASTSD_SANDBOX_FAILED;
  }
  (void)close(rs);
  return MTASTSD_SANDBOX_ON;
}
