/*
 * sandbox.h - Landlock for mtastsd: from the call on, the process and
 * every thread it makes later may create, write, truncate, rename or
 * remove files only beneath the paths it was given (its cache
 * directory, the directories of its sockets, its log file and pidfile;
 * /dev/null). Reading and executing are not restricted, nor are
 * sockets. It adds to the systemd unit's sandbox what a process can do
 * to itself, also where no unit applies (issue 5: "writes only its
 * cache"; docs/security.md 4).
 *
 * Landlock applies to the calling thread and the threads it creates
 * afterwards only: call it before any thread exists (mtastsd: after the
 * privilege drop, before mtastsd_daemon_start()). It sets
 * no_new_privs. It cannot be undone.
 */
#ifndef MTASTSD_SANDBOX_H
#define MTASTSD_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>

enum mtastsd_sandbox_result {
  MTASTSD_SANDBOX_ON = 0,          /* applied */
  MTASTSD_SANDBOX_UNAVAILABLE = 1, /* the kernel has no Landlock, or it is
                                      off, or a seccomp filter refuses it */
  MTASTSD_SANDBOX_FAILED = 2       /* nothing applied; \p why says why */
};

/*!
 * Restrict file writes to beneath \p paths (\p n of them; a directory
 * allows everything beneath it, a file such as /dev/null only writing
 * it; a path that does not exist is skipped).
 * \param[out] abi  the kernel's Landlock ABI version (0 when none)
 * \param[out] why  on FAILED (and UNAVAILABLE), a reason for the log
 */
enum mtastsd_sandbox_result mtastsd_sandbox_writes(const char *const *paths,
                                                   size_t n, int *abi,
                                                   char *why, size_t whylen);

/*! The directory part of \p path into \p out ("." for a bare name, "/"
 *  for a name in the root). \return false when it does not fit. */
bool mtastsd_sandbox_dirname(const char *path, char *out, size_t outlen);

#endif /* MTASTSD_SANDBOX_H */
