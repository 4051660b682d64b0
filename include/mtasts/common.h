/*
 * mtasts/common.h - status codes, findings, the library context.
 *
 * Every libmtasts call takes a struct mts_ctx: it carries the allocator,
 * the log callback and the clock, so the library has no global state and
 * tests can inject failing allocators and a fake clock.
 *
 * Ownership: objects returned through `**out` parameters belong to the
 * caller and are released with the matching *_destroy() function, which
 * accepts NULL. Borrowed pointers (const char * getters, findings) stay
 * valid until the object they were obtained from is destroyed.
 *
 * Thread safety: a context and the objects made with it may be used by
 * one thread at a time. Distinct contexts are independent.
 */
#ifndef MTASTS_COMMON_H
#define MTASTS_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define MTS_API __attribute__((visibility("default")))
#define MTS_WUR __attribute__((warn_unused_result))
#define MTS_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define MTS_API
#define MTS_WUR
#define MTS_PRINTF(f, a)
#endif

/*
 * Status codes. MTS_OK is 0. "Not found" conditions that are normal
 * outcomes (no MTA-STS record) are reported in results, not as errors;
 * the E* codes below are for calls that could not do their work.
 * TEMP-like failures (timeout, SERVFAIL) are kept apart from PERM-like
 * ones because the socketmap answer depends on it.
 */
#define MTS_STATUS_MAP(X)                                                     \
  X(OK, "success")                                                           \
  X(ENOMEM, "out of memory")                                                 \
  X(EINVAL, "invalid argument")                                              \
  X(ETOOBIG, "input exceeds a limit")                                        \
  X(EPARSE, "syntax error")                                                  \
  X(EIDN, "invalid internationalized domain name")                           \
  X(ENXDOMAIN, "domain name does not exist")                                 \
  X(ENODATA, "no record of the requested type")                              \
  X(ESERVFAIL, "DNS server failure")                                         \
  X(ETIMEOUT, "timed out")                                                   \
  X(ECONNECT, "connection failed")                                           \
  X(ETLS, "TLS handshake or certificate verification failed")                \
  X(EHTTP, "unacceptable HTTP response")                                     \
  X(EIO, "I/O error")                                                        \
  X(ECANCELED, "operation canceled")                                         \
  X(ENOTFOUND, "no such entry")                                              \
  X(EUNAVAIL, "service unavailable")                                         \
  X(EINTERNAL, "internal error")

enum mts_status {
#define MTS_STATUS_ENUM_(name, str) MTS_##name,
  MTS_STATUS_MAP(MTS_STATUS_ENUM_)
#undef MTS_STATUS_ENUM_
  MTS_STATUS_MAX_
};

/*! \return a static, human readable description of \p st; never NULL. */
MTS_API const char *mts_status_str(enum mts_status st);
/*! \return the symbolic name of \p st ("ENOMEM"); never NULL. */
MTS_API const char *mts_status_name(enum mts_status st);

/* ---- Findings: what a parser or check noticed, with a stable code ---- */

enum mts_severity {
  MTS_SEV_INFO = 0,
  MTS_SEV_WARNING = 1,
  MTS_SEV_ERROR = 2
};

/*! \return "info", "warning" or "error". */
MTS_API const char *mts_severity_str(enum mts_severity sev);

/*
 * One finding. `code` is a stable, documented identifier such as
 * "policy-blank-line" (see docs/findings.md); `message` is for humans and
 * may change between releases. `line` and `col` are 1-based positions in
 * the parsed input, or 0 when they do not apply. All pointers are
 * borrowed from the object the finding came from.
 */
struct mts_finding {
  const char *code;
  enum mts_severity severity;
  uint32_t line;
  uint32_t col;
  const char *message;
};

/* An ordered list of findings, owned by a parse result. */
struct mts_findings;

/*! \return the number of findings in \p f (0 for NULL). */
MTS_API size_t mts_findings_count(const struct mts_findings *f);
/*! \return finding \p i, or NULL when out of range. */
MTS_API const struct mts_finding *mts_findings_get(const struct mts_findings *f,
                                                   size_t i);
/*! \return the first finding with code \p code, or NULL. */
MTS_API const struct mts_finding *
mts_findings_find(const struct mts_findings *f, const char *code);

/* ---- The context ---- */

/*
 * Allocator hooks. All library memory goes through them. Any hook may
 * fail (return NULL); the library then returns MTS_ENOMEM and leaks
 * nothing.
 */
struct mts_allocator {
  void *(*malloc_fn)(size_t size, void *arg);
  void *(*realloc_fn)(void *ptr, size_t size, void *arg);
  void (*free_fn)(void *ptr, void *arg);
  void *arg;
};

enum mts_log_level {
  MTS_LOG_ERR = 0,
  MTS_LOG_WARNING = 1,
  MTS_LOG_INFO = 2,
  MTS_LOG_DEBUG = 3
};

/* A log sink. \p msg is a NUL-terminated line without a newline. */
typedef void (*mts_log_fn)(void *arg, enum mts_log_level level,
                           const char *msg);

/* A clock: seconds since the UNIX epoch (UTC). */
typedef int64_t (*mts_clock_fn)(void *arg);

struct mts_ctx;

/*!
 * Create a context.
 * \param[in] alloc  allocator hooks, copied; NULL means the C library's.
 * \param[out] out   the new context, or NULL on failure.
 * \return MTS_OK or MTS_ENOMEM.
 */
MTS_API MTS_WUR enum mts_status mts_ctx_create(const struct mts_allocator *alloc,
                                               struct mts_ctx **out);
/*! Destroy a context made by mts_ctx_create(). NULL is a no-op. Every
 *  object created with the context must be destroyed first. */
MTS_API void mts_ctx_destroy(struct mts_ctx *ctx);
/*! Route library log lines up to \p max_level to \p fn (NULL: discard). */
MTS_API void mts_ctx_set_log(struct mts_ctx *ctx, mts_log_fn fn, void *arg,
                             enum mts_log_level max_level);
/*! Replace the clock (NULL restores the system clock). Tests use this to
 *  move time forward instead of sleeping. */
MTS_API void mts_ctx_set_clock(struct mts_ctx *ctx, mts_clock_fn fn, void *arg);
/*! \return the context clock's current time in seconds since the epoch. */
MTS_API int64_t mts_ctx_now(const struct mts_ctx *ctx);

#ifdef __cplusplus
}
#endif
#endif /* MTASTS_COMMON_H */
