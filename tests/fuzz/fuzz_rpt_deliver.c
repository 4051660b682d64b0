/*
 * fuzz_rpt_deliver.c - the report mail's inputs: mts_rpt_deliver_mailto()
 * on an arbitrary rua URI, and mts_rpt_deliver_mail_build() with the
 * recipient it returns and arbitrary From, Message-ID, boundary,
 * submitter, report-id and policy domain (all come from configuration
 * or DNS: a rua is chosen by the receiving domain).
 *
 * Input: fields separated by 0x00: URI, from, message-id, boundary,
 * submitter, report-id, policy-domain, contact-info (missing fields take
 * a valid default).
 *
 * Invariants (abort() when broken):
 * - mailto: OK gives a NUL-terminated address with exactly one '@', no
 *   byte <= 0x20 or >= 0x7f, none of <>()[],;:\" and not starting '-';
 * - a built message: every line ends CRLF, no bare CR or LF, no line
 *   over 998 octets; the header section (up to the first empty line)
 *   holds exactly the 11 fields written, each name once, in order, and
 *   continuation lines only inside Subject and Content-Type (no header
 *   injection); the boundary line appears exactly 3 times (2 + close).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mtasts/mtasts.h>

#define NF 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_addr(const char *a) {
  const char *at = strchr(a, '@');
  size_t i;

  if (at == NULL || strchr(at + 1, '@') != NULL || a[0] == '-') {
    abort();
  }
  for (i = 0; a[i] != '\0'; i++) {
    unsigned char c = (unsigned char)a[i];

    if (c <= 0x20 || c >= 0x7f || strchr("<>()[],;:\\\"", (int)c) != NULL) {
      abort();
    }
  }
}

static void check_message(const char *msg, size_t len, const char *boundary) {
  static const char *const names[] = {
      "From:", "To:", "Date:", "Message-ID:", "Subject:", "TLS-Report-Domain:",
      "TLS-Report-Submitter:", "TLS-Required:", "MIME-Version:",
      "Content-Type:"};
  size_t nnames = sizeof(names) / sizeof(names[0]);
  size_t i, line = 0, next_name = 0, nb = 0, blen;
  const char *p = msg, *end = msg + len;
  bool in_header = true, cont_ok = false;
  char bl[128];

  if (strlen(msg) != len) {
    abort();
  }
  blen = (size_t)snprintf(bl, sizeof(bl), "--%s", boundary);
  while (p < end) {
    const char *e = p;

    while (e < end && *e != '\r' && *e != '\n') {
      e++;
    }
    if (e + 1 >= end || e[0] != '\r' || e[1] != '\n') {
      abort(); /* every line ends CRLF */
    }
    if ((size_t)(e - p) > 998) {
      abort();
    }
    if (in_header) {
      if (e == p) {
        in_header = false;
        if (next_name != nnames) {
          abort();
        }
      } else if (*p == ' ' || *p == '\t') {
        if (!cont_ok) {
          abort();
        }
      } else {
        if (next_name >= nnames ||
            strncmp(p, names[next_name], strlen(names[next_name])) != 0) {
          abort();
        }
        cont_ok = strcmp(names[next_name], "Subject:") == 0 ||
                  strcmp(names[next_name], "Content-Type:") == 0;
        next_name++;
      }
    } else if ((size_t)(e - p) >= blen && strncmp(p, bl, blen) == 0 &&
               ((size_t)(e - p) == blen ||
                ((size_t)(e - p) == blen + 2 && p[blen] == '-' &&
                 p[blen + 1] == '-'))) {
      nb++;
    }
    line++;
    p = e + 2;
  }
  if (nb != 3) {
    abort();
  }
  (void)line;
  (void)i;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const defaults[NF] = {
      "mailto:tlsrpt@example.net",
      "tlsrpt@sender.example",
      "1.x@sender.example",
      "b-1",
      "sender.example",
      "2026-11-27.example.net.00@sender.example",
      "example.net",
      "tlsrpt@sender.example"};
  static const char *const lines[] = {"version: STSv1", "mode: enforce"};
  static const uint8_t gz[] = {0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5};
  const char *f[NF];
  char *copy;
  size_t i, k = 0, start = 0;
  char rcpt[320];
  struct mts_ctx *ctx = NULL;

  if (size > 4096) {
    return 0;
  }
  copy = malloc(size + 1);
  if (copy == NULL) {
    return 0;
  }
  memcpy(copy, data, size);
  copy[size] = '\0';
  for (i = 0; i < NF; i++) {
    f[i] = defaults[i];
  }
  for (i = 0; i <= size && k < NF; i++) {
    if (i == size || copy[i] == '\0') {
      copy[i] = '\0';
      f[k++] = copy + start;
      start = i + 1;
    }
  }
  if (mts_rpt_deliver_mailto(f[0], rcpt, sizeof(rcpt)) == MTS_OK) {
    check_addr(rcpt);
  } else {
    (void)snprintf(rcpt, sizeof(rcpt), "tlsrpt@example.net");
  }
  if (mts_ctx_create(NULL, &ctx) == MTS_OK) {
    struct mts_rpt_policy pol;
    struct mts_rpt_report_data rep;
    struct mts_rpt_mail m;
    char *msg = NULL;
    size_t len = 0;
    char subj[1200];

    memset(&pol, 0, sizeof(pol));
    pol.policy_type = "sts";
    pol.policy_domain = f[6];
    pol.policy_strings = lines;
    pol.npolicy_strings = 2;
    pol.has_policy_string = true;
    memset(&rep, 0, sizeof(rep));
    rep.organization_name = "org";
    rep.start = 1795737600;
    rep.end = 1795737600 + 86399;
    rep.contact_info = f[7];
    rep.report_id = f[5];
    rep.policies = &pol;
    rep.npolicies = 1;
    memset(&m, 0, sizeof(m));
    m.from = f[1];
    m.to = rcpt;
    m.submitter = f[4];
    m.message_id = f[2];
    m.date = 1795824000;
    m.boundary = f[3];
    m.report = &rep;
    m.gz = gz;
    m.gzlen = sizeof(gz);
    if (mts_rpt_deliver_mail_build(ctx, &m, &msg, &len) == MTS_OK) {
      check_message(msg, len, f[3]);
      if (mts_rpt_deliver_subject(f[6], f[4], f[5], subj, sizeof(subj)) !=
          MTS_OK) {
        abort(); /* the mail's checks imply the subject's */
      }
    }
    mts_rpt_deliver_free(ctx, msg);
    mts_ctx_destroy(ctx);
  }
  free(copy);
  return 0;
}
