/*
 * mtasts/tls_probe.h - probe the TLS of a mail exchanger (SMTP STARTTLS,
 * RFC 3207) or of an HTTPS host, the way an MTA-STS sender sees it
 * (RFC 8461 4.2), and report what was negotiated and why the
 * certificate would fail validation. For diagnostics (`mtasts check`),
 * not for delivery decisions.
 *
 * Asynchronous on the caller's libuv loop, through a struct mts_net (its
 * resolver and CA file; nothing global is read): one call resolves the
 * host's A and AAAA records (or takes one address) and probes every
 * address in parallel over non-blocking sockets driven by uv_poll_t (no
 * threads). The callback runs exactly once, never from inside
 * mts_tls_probe_start(); mts_net_destroy() ends a pending probe with
 * MTS_ECANCELED.
 *
 * Per address, SMTP mode: connect, read the 220 greeting (multi-line
 * replies allowed), send "EHLO <name>", look for the STARTTLS keyword,
 * send STARTTLS, expect 220, then the TLS handshake; plain TLS mode
 * (HTTPS policy host): connect, handshake. The handshake sends SNI = the
 * host name and accepts TLS 1.0 and newer (so that an old server is
 * reported as "too old" instead of failing opaquely); the certificate is
 * verified against the CA file (or the system store) and the host name,
 * DNS-ID (dNSName SAN) only, no CN fallback, no partial wildcards
 * (RFC 8461 4.2 / RFC 6125), but a failure does not abort the handshake:
 * every verification error is recorded and classified as an RFC 8460
 * 4.3.2 result type. Nothing is sent after the handshake but QUIT.
 *
 * Limits: MTS_TLS_PROBE_ADDR_MAX addresses per host (per family 8), an
 * SMTP reply of at most MTS_TLS_PROBE_REPLY_MAX bytes, at most
 * MTS_TLS_PROBE_SAN_MAX SAN names reported.
 *
 * Thread safety: like struct mts_net (one thread, the loop's).
 */
#ifndef MTASTS_TLS_PROBE_H
#define MTASTS_TLS_PROBE_H

#include <mtasts/common.h>
#include <mtasts/net.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MTS_TLS_PROBE_TIMEOUT_MS_DEFAULT 30000
#define MTS_TLS_PROBE_ADDR_MAX 16
#define MTS_TLS_PROBE_REPLY_MAX 8192 /* one SMTP reply, all lines */
#define MTS_TLS_PROBE_SAN_MAX 32

enum mts_tls_probe_mode {
  MTS_TLS_PROBE_SMTP = 0, /* SMTP greeting, EHLO, STARTTLS, handshake */
  MTS_TLS_PROBE_TLS = 1   /* handshake right after connect (HTTPS) */
};

struct mts_tls_probe_options {
  enum mts_tls_probe_mode mode;
  /* Host name (A-labels, no trailing dot): SNI, the name the certificate
   * must hold, and (when address is NULL) the name resolved. */
  const char *host;
  /* One numeric IPv4/IPv6 address to probe; NULL: resolve host. */
  const char *address;
  uint16_t port;         /* 0: 25 (SMTP) or 443 (TLS) */
  const char *ehlo_name; /* NULL: "mtasts.invalid" */
  /* Per address, from the start of the connect to the end of the
   * handshake (the address lookup has the net's DNS deadline before
   * it). 0: MTS_TLS_PROBE_TIMEOUT_MS_DEFAULT. */
  uint32_t timeout_ms;
};

/*! Fill \p o with the defaults (all zero / NULL). */
MTS_API void mts_tls_probe_options_init(struct mts_tls_probe_options *o);

/* Where a probe of one address stopped. */
enum mts_tls_probe_stage {
  MTS_TLS_PROBE_CONNECT = 0,
  MTS_TLS_PROBE_BANNER,    /* waiting for / reading the 220 greeting */
  MTS_TLS_PROBE_EHLO,      /* EHLO sent */
  MTS_TLS_PROBE_STARTTLS,  /* STARTTLS sent */
  MTS_TLS_PROBE_HANDSHAKE, /* TLS handshake */
  MTS_TLS_PROBE_DONE       /* handshake complete */
};

/*! \return "connect", "banner", "ehlo", "starttls", "handshake", "done". */
MTS_API const char *mts_tls_probe_stage_str(enum mts_tls_probe_stage s);

/* Certificate verification problems (bits of cert_errors). */
#define MTS_TLS_CERT_EXPIRED 0x1u       /* a certificate has expired */
#define MTS_TLS_CERT_NOT_TRUSTED 0x2u   /* no chain to a trusted CA */
#define MTS_TLS_CERT_HOST_MISMATCH 0x4u /* no dNSName SAN matches host */
#define MTS_TLS_CERT_OTHER                                                     \
  0x8u /* any other error (not yet valid,                                      \
          bad signature, bad purpose...) */

/* The probe of one address. Every pointer is borrowed for the duration of
 * the callback; strings are printable ASCII (other bytes shown as '?'). */
struct mts_tls_probe_result {
  const char *address; /* numeric, as probed */
  /* MTS_OK: the handshake completed (the certificate may still have
   * failed verification: see cert_errors). Otherwise: MTS_ECONNECT
   * (refused, unreachable), MTS_ETIMEOUT (the deadline, at `stage`),
   * MTS_EUNAVAIL (SMTP: STARTTLS not offered in the EHLO response),
   * MTS_EIO (SMTP protocol: not 220/250, malformed or oversized reply,
   * data pipelined after the STARTTLS reply, connection closed), MTS_ETLS
   * (the handshake failed: no common protocol or cipher, alert),
   * MTS_ECANCELED, MTS_ENOMEM. */
  enum mts_status status;
  enum mts_tls_probe_stage stage;
  const char *error; /* human reason, NULL when status is MTS_OK */
  uint64_t elapsed_ms;

  /* SMTP mode (NULL / false / 0 otherwise or when not reached). */
  const char *banner; /* first line of the greeting, after the code */
  const char *ehlo;   /* first line of the EHLO reply, after the code */
  bool starttls_offered;
  int smtp_code; /* the last reply code read, 0: none */

  /* The handshake (status MTS_OK). */
  const char *tls_version; /* "TLSv1.3", "TLSv1.2", ... */
  const char *cipher;      /* OpenSSL name */
  bool tls12_or_newer;

  /* The leaf certificate (has_cert: the server sent one). */
  bool has_cert;
  int64_t not_before; /* seconds since the epoch (UTC) */
  int64_t not_after;
  const char *issuer;     /* one-line issuer DN */
  const char *const *san; /* dNSName SANs as sent, in order */
  size_t nsan;
  /* Verification: cert_ok when the chain is trusted, valid now and a
   * SAN matches host. Otherwise cert_errors has one bit per kind seen,
   * verify_error the first error's text (OpenSSL's), and result_type the
   * RFC 8460 4.3.2 result type of the first error:
   * "certificate-expired", "certificate-not-trusted",
   * "certificate-host-mismatch" or "validation-failure". */
  bool cert_ok;
  unsigned cert_errors;
  const char *verify_error;
  const char *result_type;
};

/*!
 * Probe callback. \p st is MTS_OK when \p r holds \p n >= 1 results (one
 * per address, A records first, in answer order; each with its own
 * status); otherwise the address lookup's failure (MTS_ENXDOMAIN,
 * MTS_ENODATA, MTS_ESERVFAIL, MTS_ETIMEOUT, MTS_ECONNECT), MTS_ECANCELED
 * or MTS_ENOMEM, with \p r NULL and \p n 0. \p r and \p errmsg are
 * borrowed for the duration of the callback.
 */
typedef void (*mts_tls_probe_cb)(void *arg, enum mts_status st,
                                 const struct mts_tls_probe_result *r, size_t n,
                                 const char *errmsg);

/*!
 * Start a probe of \p o->host (options are copied).
 * \return MTS_OK (\p cb will run once); MTS_EINVAL (NULL argument, host
 * not an LDH name, address not numeric, ehlo_name not printable);
 * MTS_ECANCELED (the net is being destroyed); MTS_ENOMEM; MTS_EINTERNAL
 * (OpenSSL could not be set up, or the CA file could not be loaded).
 */
MTS_API MTS_WUR enum mts_status
mts_tls_probe_start(struct mts_net *net, const struct mts_tls_probe_options *o,
                    mts_tls_probe_cb cb, void *arg);

#ifdef __cplusplus
}
#endif
#endif /* MTASTS_TLS_PROBE_H */
