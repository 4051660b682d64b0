/*
 * mtasts/rpt_datagram.h - one libtlsrpt datagram (the JSON object that
 * Postfix >= 3.10 sends per TLS handshake to the TLSRPT collector
 * socket), parsed into a read-only struct.
 *
 * Layout (TLSRPT-NOTES 1.2, libtlsrpt 0.5.x): top level `dpv` (string
 * "1"; absent in 0.5.0rc1), `d` (TLSRPT policy domain), `pr` (the
 * `_smtp._tls` record text), `policies` (array of objects). Per policy:
 * `policy-type` (1 tlsa, 2 sts, 9 no-policy-found), optional
 * `policy-domain`, `policy-string[]`, `mx-host[]`, `failure-details[]`,
 * numbers `t` (failure entries added) and `f` (final result: 0 success,
 * 1 failure). Per failure: number `c` (libtlsrpt code, TLSRPT-NOTES
 * 1.3) and optional strings `s n h r a f`.
 *
 * Input arrives on a local socket from any local writer: it is hostile.
 * The parser never aborts, bounds the input at MTS_RPT_DATAGRAM_MAX
 * bytes (TLSRPT-NOTES 1.4: the kernel lets ~212960 bytes through), and
 * rejects duplicate keys (I-JSON, RFC 7493 2.3). Bytes that are not
 * UTF-8 (libtlsrpt copies bytes >= 0x80 raw) are replaced by U+FFFD
 * with a warning, so every string handed out is valid UTF-8 without
 * NUL (a "\u0000" escape is a JSON error). Unknown keys are ignored
 * (an info finding); a known key with the wrong JSON type is an error.
 *
 * Two verdicts (as sts_policy.h):
 *  - valid:  exactly the layout libtlsrpt writes (no warning, no error).
 *  - usable: no error finding; the datagram may be counted. Warnings
 *            mark deviations libtlsrpt passes through (t != number of
 *            details, success with details, unknown code, bad IP).
 * Findings: codes `dgram-*` (docs/findings.md); `line`
 * and `col` are jansson's (1-based) for JSON syntax errors, else 0.
 *
 * Normalisation: `d` and `policy-domain` must be LDH host names (A-labels;
 * `_` tolerated; a U-label or other bytes are an error because the
 * domain ends up in report file names); they are handed out in lower
 * case without a trailing dot. A missing `policy-domain` (Postfix
 * 3.10.0-3.10.4) is filled in with `d` (TLSRPT-NOTES 1.5, as 3.10.5+
 * does). Empty optional failure strings (Postfix may send `"s": ""`)
 * are treated as absent; `s` and `r` that are not IPv4/IPv6 text are
 * dropped with a warning.
 *
 * Memory: jansson's allocator is process-global, so the JSON tree is
 * built with malloc (setting jansson's hooks would be mutable global
 * state); it is freed before the call returns and a jansson
 * out-of-memory is reported as MTS_ENOMEM. Everything handed out lives
 * in the result's arena until mts_rpt_datagram_destroy().
 * Thread safety: as common.h. Cost: linear in the input size.
 */
#ifndef MTASTS_RPT_DATAGRAM_H
#define MTASTS_RPT_DATAGRAM_H

#include <mtasts/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Largest datagram parsed (TLSRPT-NOTES 1.4: the Linux default
 * SO_SNDBUF lets 212960 bytes through; read with >= 256 KiB). */
#define MTS_RPT_DATAGRAM_MAX 262144

/* `policy-type` numbers of libtlsrpt (TLSRPT-NOTES 1.3). */
enum mts_rpt_policy_type {
  MTS_RPT_POLICY_UNKNOWN = 0, /* only in unusable datagrams */
  MTS_RPT_POLICY_TLSA = 1,
  MTS_RPT_POLICY_STS = 2,
  MTS_RPT_POLICY_NO_POLICY_FOUND = 9
};

/* One `failure-details` entry. Strings are NULL when absent. */
struct mts_rpt_dgram_failure {
  long code;                         /* `c`, as sent */
  const char *result_type;           /* RFC 8460 4.3 string; NULL for an unknown code */
  const char *sending_ip;            /* `s` */
  const char *receiving_mx_hostname; /* `n` */
  const char *receiving_mx_helo;     /* `h` (CR LF joins EHLO lines) */
  const char *receiving_ip;          /* `r` */
  const char *additional_info;       /* `a` */
  const char *failure_reason;        /* `f` */
};

/* One element of `policies`. */
struct mts_rpt_dgram_policy {
  enum mts_rpt_policy_type type;
  const char *domain;    /* normalised; `d` when the key was absent */
  bool domain_defaulted; /* `policy-domain` was absent */
  const char *const *strings; /* `policy-string`, in order */
  size_t nstrings;
  const char *const *mx_hosts; /* `mx-host`, as sent */
  size_t nmx_hosts;
  const struct mts_rpt_dgram_failure *failures;
  size_t nfailures;
  long t;      /* `t`: failure entries libtlsrpt counted */
  bool failed; /* `f` == 1: the session counts as a failure */
};

struct mts_rpt_datagram;

/*!
 * Parse one datagram.
 * \param[in] ctx   the context (allocator).
 * \param[in] data  \p len bytes, exactly one datagram; need not be
 *                  NUL-terminated, may contain NUL; not kept.
 * \param[out] out  the result, whatever the verdict (a datagram above
 *                  MTS_RPT_DATAGRAM_MAX is not parsed: one error
 *                  finding); NULL on failure.
 * \return MTS_OK; MTS_ENOMEM; MTS_EINVAL when ctx or out is NULL or
 * data is NULL with len > 0.
 */
MTS_API MTS_WUR enum mts_status
mts_rpt_datagram_parse(struct mts_ctx *ctx, const uint8_t *data, size_t len,
                       struct mts_rpt_datagram **out);
/*! Free \p dg and everything borrowed from it. NULL is a no-op. */
MTS_API void mts_rpt_datagram_destroy(struct mts_rpt_datagram *dg);

/*! \return no finding of warning or error severity (false for NULL). */
MTS_API bool mts_rpt_datagram_valid(const struct mts_rpt_datagram *dg);
/*! \return no error finding: may be counted (false for NULL). */
MTS_API bool mts_rpt_datagram_usable(const struct mts_rpt_datagram *dg);
/*! \return `dpv` as sent, or NULL when absent (libtlsrpt 0.5.0rc1) or
 *  not a string. */
MTS_API const char *mts_rpt_datagram_dpv(const struct mts_rpt_datagram *dg);
/*! \return `d` normalised (lower case, no trailing dot), or NULL when
 *  missing or invalid. */
MTS_API const char *mts_rpt_datagram_domain(const struct mts_rpt_datagram *dg);
/*! \return `pr`, the TLSRPT record text, or NULL when missing. */
MTS_API const char *
mts_rpt_datagram_policy_record(const struct mts_rpt_datagram *dg);
/*! \return the number of policies parsed (0 when unusable at the top). */
MTS_API size_t mts_rpt_datagram_policy_count(const struct mts_rpt_datagram *dg);
/*! \return policy \p i, or NULL when out of range. */
MTS_API const struct mts_rpt_dgram_policy *
mts_rpt_datagram_policy(const struct mts_rpt_datagram *dg, size_t i);
/*! \return the findings in the order found (NULL for NULL). */
MTS_API const struct mts_findings *
mts_rpt_datagram_findings(const struct mts_rpt_datagram *dg);

/*! \return the RFC 8460 4.3 result-type for libtlsrpt failure code
 *  \p code (201-205, 301-306; TLSRPT-NOTES 1.3), or NULL (901 and
 *  unknown codes). */
MTS_API const char *mts_rpt_datagram_result_type(long code);
/*! \return "tlsa", "sts", "no-policy-found", or NULL for UNKNOWN. */
MTS_API const char *
mts_rpt_datagram_policy_type_str(enum mts_rpt_policy_type type);

#ifdef __cplusplus
}
#endif
#endif /* MTASTS_RPT_DATAGRAM_H */
