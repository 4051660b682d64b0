/*
 * fuzz_rpt_deliver.c - the report mail's inputs: mts_rpt_deliver_mailto()
 * on an arbitrary rua URI, and mts_rpt_deliver_mail_build() with the
 * recipient it returns and arbitrary From, Message-ID, boundary,
 * submitter, report-id and policy domain (all come from configuration
 * or DNS: a rua is chosen by the receiving domain).
 *
 * Input: fields separated by 0x00: URI, from, message-id, boundary,
 * submitter, report-id, policy-domain, contact-info, organization name,
 * report domain (empty: the policy domain), then the attachment: every
 * byte after the tenth 0x00, NULs included (missing fields take a valid
 * default; no attachment field: a fixed 9-byte one).
 *
 * Invariants (abort() when broken):
 * - mailto: OK gives a NUL-terminated address with exactly one '@', no
 *   byte <= 0x20 or >= 0x7f, none of <>()[],;:\" and not starting '-',
 *   equal to the URI's part before '?' percent-decoded independently
 *   here (so a decoded NUL cannot cut the address short);
 * - a built message: every line ends CRLF, no bare CR or LF, no line
 *   over 998 octets; the header section (up to the first empty line)
 *   holds exactly the 11 fields written, each name once, in order, and
 *   continuation lines only inside Subject and Content-Type (no header
 *   injection); the boundary line appears exactly 3 times (2 + close);
 *   the "from ORG" line is there exactly when ORG is printable ASCII of
 *   at most 60 octets; the attachment's base64 lines are at most 76
 *   octets and decode to the attachment's bytes exactly.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mtasts/mtasts.h>

#define NF 10

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

static int hexv(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

/* The mailto: URI's address as this harness reads RFC 6068 (the scheme
 * already matched): \return false when it cannot be decoded to a string
 * without NUL. */
static bool decode_mailto(const char *uri, char *out, size_t size) {
  size_t o = 0;
  const char *p;

  for (p = uri + 7; *p != '\0' && *p != '?'; p++) {
    int c = (unsigned char)*p;

    if (c == '%') {
      if (hexv(p[1]) < 0 || hexv(p[2]) < 0) {
        return false;
      }
      c = hexv(p[1]) * 16 + hexv(p[2]);
      p += 2;
    }
    if (c == 0 || o + 1 >= size) {
      return false;
    }
    out[o++] = (char)c;
  }
  out[o] = '\0';
  return true;
}

static int b64v(char c) {
  static const char tab[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const char *q = c != '\0' ? strchr(tab, c) : NULL;

  return q != NULL ? (int)(q - tab) : -1;
}

/* The attachment: from the blank line after its part's headers to the
 * closing boundary, base64 in lines of at most 76 octets; it must decode
 * to exactly \p att. */
static void check_attachment(const char *msg, size_t len, const char *boundary,
                             const uint8_t *att, size_t attlen) {
  static const char disp[] = "Content-Disposition: attachment;\r\n";
  const char *p = strstr(msg, disp), *end;
  char close[128];
  size_t o = 0, q = 0, pad = 0;
  uint32_t v = 0;

  if (p == NULL || (p = strstr(p, "\r\n\r\n")) == NULL) {
    abort();
  }
  p += 4;
  (void)snprintf(close, sizeof(close), "\r\n--%s--\r\n", boundary);
  end = msg + len - strlen(close);
  if (end < p || strcmp(end, close) != 0) {
    abort();
  }
  while (p < end) {
    const char *e = strstr(p, "\r\n");

    if (e == NULL || e > end || e - p > 76 || e == p) {
      abort();
    }
    for (; p < e; p++) {
      int d = *p == '=' ? 0 : b64v(*p);

      if (d < 0 || (pad > 0 && *p != '=')) {
        abort();
      }
      pad += *p == '=';
      v = v << 6 | (uint32_t)d;
      if (++q == 4) {
        uint8_t b[3] = {(uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
        size_t k;

        if (pad > 2) {
          abort();
        }
        for (k = 0; k < 3 - pad; k++) {
          if (o >= attlen || b[k] != att[o]) {
            abort();
          }
          o++;
        }
        q = 0;
        v = 0;
      }
    }
    p = e + 2;
  }
  if (q != 0 || o != attlen) {
    abort();
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

/* "from ORG" is written exactly when ORG is printable and short. */
static void check_org(const char *msg, const char *org) {
  char line[128];
  bool want = strlen(org) <= 60;
  size_t i;

  for (i = 0; org[i] != '\0'; i++) {
    want = want && org[i] >= 0x20 && org[i] < 0x7f;
  }
  if (!want) {
    /* no "from" line at all after the fixed first line */
    const char *p = strstr(msg, "(RFC 8460, SMTP TLS Reporting)\r\n");

    if (p == NULL || strncmp(strstr(p, "\r\n") + 2, "from ", 5) == 0) {
      abort();
    }
    return;
  }
  (void)snprintf(line, sizeof(line), "Reporting)\r\nfrom %s\r\nabout ", org);
  if (strstr(msg, line) == NULL) {
    abort();
  }
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
      "tlsrpt@sender.example",
      "org",
      ""};
  static const char *const lines[] = {"version: STSv1", "mode: enforce"};
  static const uint8_t gz[] = {0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5};
  const char *f[NF];
  const uint8_t *att = gz;
  size_t attlen = sizeof(gz);
  char *copy;
  size_t i, k = 0, start = 0;
  char rcpt[320], want[320];
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
  if (k == NF && start <= size) {
    att = data + start; /* the rest, NULs and all */
    attlen = size - start;
  }
  if (mts_rpt_deliver_mailto(f[0], rcpt, sizeof(rcpt)) == MTS_OK) {
    check_addr(rcpt);
    if (!decode_mailto(f[0], want, sizeof(want)) || strcmp(want, rcpt) != 0) {
      abort();
    }
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
    rep.organization_name = f[8];
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
    m.report_domain = f[9][0] != '\0' ? f[9] : NULL;
    m.gz = att;
    m.gzlen = attlen;
    if (mts_rpt_deliver_mail_build(ctx, &m, &msg, &len) == MTS_OK) {
      check_message(msg, len, f[3]);
      check_attachment(msg, len, f[3], att, attlen);
      check_org(msg, f[8]);
      if (mts_rpt_deliver_subject(m.report_domain != NULL ? f[9] : f[6], f[4],
                                  f[5], subj, sizeof(subj)) !=
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
