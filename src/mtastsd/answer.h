/*
 * answer.h - the socketmap reply for one lookup: from the resolver's
 * answer (struct mts_sts_answer) and the zone's settings to the reply
 * payload Postfix reads from smtp_tls_policy_maps.
 *
 * Replies (POSTFIX-NOTES 2.2-2.4; decisions in docs/decisions.md):
 *  - policy, mode enforce (or testing in a strict_testing zone):
 *      "OK secure match=P1:P2 [servername=hostname]"
 *    plus, in a tlsrpt zone, " policy_type=sts policy_domain=D
 *    mx_host_pattern=... { policy_string = LINE } ...";
 *  - mode testing (not strict), mode none, no policy: "NOTFOUND ";
 *  - not known in time (TEMP): "NOTFOUND " or "TEMP <reason>" (on_tempfail).
 *
 * Pure: no I/O, no allocation, no global state. The output goes to a
 * caller buffer; MTASTSD_ANSWER_BUF_MAX is always enough.
 */
#ifndef MTASTSD_ANSWER_H
#define MTASTSD_ANSWER_H

#include <stdbool.h>
#include <stddef.h>

#include <mtasts/socketmap.h>
#include <mtasts/sts_resolver.h>

#include "config.h"

/* The payload never exceeds Postfix's reply limit; one more byte holds
 * the NUL. */
#define MTASTSD_ANSWER_BUF_MAX (MTS_SOCKETMAP_REPLY_MAX + 1)

/* The name put in match= when wildcard expansion leaves no name at all
 * (every pattern is a wildcard and no MX host matches one): an exact
 * name under the reserved TLD .invalid (RFC 6761 6.4), which no
 * certificate of a public CA can hold, so Postfix's "secure" level
 * refuses every MX host and defers the mail, as RFC 8461 4.1 wants for
 * MX hosts outside the policy (AN-2). NOTFOUND would let Postfix deliver
 * with opportunistic TLS: looser. */
#define MTASTSD_NO_MX_MATCH "mx-not-in-policy.invalid"

/* The policy domain's MX host names for wildcard expansion (AN-2):
 * lower case, no trailing dot; the implicit MX (the domain itself) when
 * the domain has no MX records. Borrowed. */
struct mtastsd_mxset {
  const char *const *hosts;
  size_t n;
};

/* What of a zone (and of the config) shapes an answer. Copied by value
 * into every pending request, so a reload (SIGHUP) that frees the old
 * config cannot leave a pending request pointing into it. */
struct mtastsd_answer_opts {
  bool strict_testing;   /* zone: testing answered as enforce */
  bool require_sni;      /* zone: servername=hostname */
  bool tlsrpt;           /* zone: Postfix 3.10 TLSRPT attributes */
  enum mtastsd_tempfail on_tempfail;
  /* Send policy_failure=<type> when the latest discovery failed while a
   * cached policy still applies. Off: Postfix fails verification when it
   * gets the attribute, which would defer mail the cached policy allows
   * (RFC 8461 5.1). docs/decisions.md AN-4 (open). */
  bool policy_failure;
  /* Config `wildcard_match`: expand (default) or postfix (AN-2). */
  bool expand_wildcards;
  /* Set by the caller just before mtastsd_answer_build(): the MX set
   * each `*.suffix` pattern is expanded into; NULL: `.suffix` is sent
   * (wildcard_match postfix, or the MX lookup failed with no earlier
   * set: logged). Borrowed for the call. */
  const struct mtastsd_mxset *mx;
};

/*! Fill \p o from \p zone and \p cfg (either may be NULL: defaults). */
void mtastsd_answer_opts_init(struct mtastsd_answer_opts *o,
                              const struct mtastsd_zone *zone,
                              const struct mtastsd_config *cfg);

/* The answer, ready for mts_socketmap_reply_write(). */
struct mtastsd_reply {
  enum mts_socketmap_reply_kind kind; /* OK, NOTFOUND or TEMP */
  size_t len;                         /* bytes of text (OK data, TEMP reason) */
  /* Why the reply is what it is, for the decision log line: "enforce",
   * "testing (strict)", "mode testing", "mode none", "no policy",
   * "no usable mx pattern", "answer too large", "tempfail"; with
   * wildcard expansion also "enforce, no MX host matches the policy"
   * (match=MTASTSD_NO_MX_MATCH) and "..., wildcards unexpanded (no MX
   * set)" (the caller had no MX set: looser, logged). Static. */
  const char *why;
};

/*!
 * Build the reply for \p a under \p o into \p buf (\p bufsize bytes,
 * NUL-terminated; MTASTSD_ANSWER_BUF_MAX always suffices; a smaller
 * buffer turns answers that do not fit into NOTFOUND "answer too
 * large"). Never fails: every input gives a well-formed reply.
 */
void mtastsd_answer_build(const struct mts_sts_answer *a,
                          const struct mtastsd_answer_opts *o, char *buf,
                          size_t bufsize, struct mtastsd_reply *out);

/*!
 * \return true when \p a is a policy answered as "secure" under \p o
 * whose usable mx patterns include a wildcard and \p o asks for
 * expansion: the caller then needs the domain's MX set (o->mx).
 */
bool mtastsd_answer_needs_mx(const struct mts_sts_answer *a,
                             const struct mtastsd_answer_opts *o);

/*!
 * The Postfix match= form of the policy mx pattern \p pat, written into
 * \p out (\p outsize bytes, NUL included): "*.example.com" becomes
 * ".example.com" (Postfix: any number of labels, looser than the RFC's
 * one label; used as is only without an MX set: AN-2) and a host name
 * stays as it is, lower-cased. With an MX set, mtastsd_answer_build()
 * replaces each "*.x" by the MX host names it matches per RFC 8461 4.1
 * (mts_sts_match), in MX-set order, without duplicates.
 * \return false when \p pat is not a valid host name or "*." + host name
 * (IP addresses, empty, bad bytes), or does not fit: skip it.
 */
bool mtastsd_answer_match_pattern(const char *pat, char *out, size_t outsize);

/*!
 * Write one TLSRPT policy line as Postfix attribute text into \p out: a
 * tab becomes a space, other bytes outside 0x20-0x7e and '{' and '}'
 * become '?' (Postfix's "{ name = value }" syntax has no escape: AN-5);
 * surrounding blanks are dropped.
 * \return the length written (0: skip the line: empty, or no room).
 */
size_t mtastsd_answer_policy_string(const char *line, char *out,
                                    size_t outsize);

#endif /* MTASTSD_ANSWER_H */
