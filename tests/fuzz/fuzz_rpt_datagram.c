/*
 * fuzz_rpt_datagram.c - mts_rpt_datagram_parse() over arbitrary bytes
 * (the input is one datagram as it would arrive on the collector socket).
 *
 * Invariants (abort() when broken):
 * - the parse succeeds (the libc allocator does not fail);
 * - valid implies usable; usable <=> no error finding; unusable => no
 *   policies handed out;
 * - usable => `d` and `pr` present, at least one policy, every policy
 *   has a known type and a domain, `t` >= 0, every failure's
 *   result_type is the table's for its code;
 * - every string handed out is valid UTF-8 (RFC 3629) without NUL;
 * - every finding has a "dgram-" code and a message;
 * - round trip: a usable datagram written back in libtlsrpt's layout
 *   (TLSRPT-NOTES 1.2) parses usable with the same fields.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mtasts/rpt_datagram.h>

#define FUZZ_MAX_INPUT (MTS_RPT_DATAGRAM_MAX + 16)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_utf8(const char *s) {
  const uint8_t *p = (const uint8_t *)s;

  if (s == NULL) {
    return;
  }
  while (*p != 0) {
    size_t n, i;
    uint32_t cp;

    if (*p < 0x80) {
      p++;
      continue;
    }
    if (*p >= 0xC2 && *p <= 0xDF) {
      n = 2;
      cp = *p & 0x1Fu;
    } else if (*p >= 0xE0 && *p <= 0xEF) {
      n = 3;
      cp = *p & 0x0Fu;
    } else if (*p >= 0xF0 && *p <= 0xF4) {
      n = 4;
      cp = *p & 0x07u;
    } else {
      abort();
    }
    for (i = 1; i < n; i++) {
      if ((p[i] & 0xC0) != 0x80) {
        abort();
      }
      cp = (cp << 6) | (p[i] & 0x3Fu);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
      abort();
    }
    p += n;
  }
}

/* ---- a writer in libtlsrpt's layout ---- */

struct out {
  char *b;
  size_t n, cap;
};

static void put(struct out *o, const char *s, size_t n) {
  if (o->n + n + 1 > o->cap) {
    o->cap = (o->n + n + 1) * 2;
    o->b = realloc(o->b, o->cap);
    if (o->b == NULL) {
      abort();
    }
  }
  memcpy(o->b + o->n, s, n);
  o->n += n;
  o->b[o->n] = '\0';
}

static void puts_(struct out *o, const char *s) { put(o, s, strlen(s)); }

static void put_str(struct out *o, const char *s) {
  const uint8_t *p = (const uint8_t *)s;
  char esc[8];

  puts_(o, "\"");
  for (; *p != 0; p++) {
    if (*p == '"' || *p == '\\') {
      esc[0] = '\\';
      esc[1] = (char)*p;
      put(o, esc, 2);
    } else if (*p == '\n') {
      puts_(o, "\\n");
    } else if (*p == '\r') {
      puts_(o, "\\r");
    } else if (*p < 0x20 || *p == 0x7f) {
      snprintf(esc, sizeof(esc), "\\u%04x", *p);
      puts_(o, esc);
    } else {
      put(o, (const char *)p, 1);
    }
  }
  puts_(o, "\"");
}

static void put_kv(struct out *o, const char *k, const char *v, bool *first) {
  if (v == NULL) {
    return;
  }
  if (!*first) {
    puts_(o, ",");
  }
  *first = false;
  put_str(o, k);
  puts_(o, ": ");
  put_str(o, v);
}

static void put_arr(struct out *o, const char *k, const char *const *v,
                    size_t n) {
  size_t i;

  if (n == 0) {
    return;
  }
  puts_(o, ",");
  put_str(o, k);
  puts_(o, ":[");
  for (i = 0; i < n; i++) {
    if (i > 0) {
      puts_(o, ",");
    }
    put_str(o, v[i]);
  }
  puts_(o, "]");
}

static void write_dg(const struct mts_rpt_datagram *dg, struct out *o) {
  size_t i, j;
  char num[64];
  bool first = true;

  puts_(o, "{");
  put_kv(o, "dpv", mts_rpt_datagram_dpv(dg), &first);
  put_kv(o, "d", mts_rpt_datagram_domain(dg), &first);
  put_kv(o, "pr", mts_rpt_datagram_policy_record(dg), &first);
  puts_(o, ",\"policies\":[");
  for (i = 0; i < mts_rpt_datagram_policy_count(dg); i++) {
    const struct mts_rpt_dgram_policy *p = mts_rpt_datagram_policy(dg, i);

    if (i > 0) {
      puts_(o, ",");
    }
    snprintf(num, sizeof(num), "{\"policy-type\":%d", (int)p->type);
    puts_(o, num);
    if (!p->domain_defaulted) {
      puts_(o, ",\"policy-domain\": ");
      put_str(o, p->domain);
    }
    put_arr(o, "policy-string", p->strings, p->nstrings);
    put_arr(o, "mx-host", p->mx_hosts, p->nmx_hosts);
    if (p->nfailures > 0) {
      puts_(o, ",\"failure-details\":[");
      for (j = 0; j < p->nfailures; j++) {
        const struct mts_rpt_dgram_failure *f = &p->failures[j];
        bool ff = false;

        snprintf(num, sizeof(num), "%s{\"c\":%ld", j > 0 ? "," : "", f->code);
        puts_(o, num);
        put_kv(o, "s", f->sending_ip, &ff);
        put_kv(o, "n", f->receiving_mx_hostname, &ff);
        put_kv(o, "h", f->receiving_mx_helo, &ff);
        put_kv(o, "r", f->receiving_ip, &ff);
        put_kv(o, "a", f->additional_info, &ff);
        put_kv(o, "f", f->failure_reason, &ff);
        puts_(o, "}");
      }
      puts_(o, "]");
    }
    snprintf(num, sizeof(num), ",\"t\":%ld,\"f\":%d}", p->t, p->failed ? 1 : 0);
    puts_(o, num);
  }
  puts_(o, "]}");
}

static bool str_eq(const char *a, const char *b) {
  return (a == NULL && b == NULL) ||
         (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void same(const struct mts_rpt_datagram *a,
                 const struct mts_rpt_datagram *b) {
  size_t i, j;

  if (!str_eq(mts_rpt_datagram_dpv(a), mts_rpt_datagram_dpv(b)) ||
      !str_eq(mts_rpt_datagram_domain(a), mts_rpt_datagram_domain(b)) ||
      !str_eq(mts_rpt_datagram_policy_record(a),
              mts_rpt_datagram_policy_record(b)) ||
      mts_rpt_datagram_policy_count(a) != mts_rpt_datagram_policy_count(b)) {
    abort();
  }
  for (i = 0; i < mts_rpt_datagram_policy_count(a); i++) {
    const struct mts_rpt_dgram_policy *p = mts_rpt_datagram_policy(a, i);
    const struct mts_rpt_dgram_policy *q = mts_rpt_datagram_policy(b, i);

    if (p->type != q->type || !str_eq(p->domain, q->domain) ||
        p->domain_defaulted != q->domain_defaulted ||
        p->nstrings != q->nstrings || p->nmx_hosts != q->nmx_hosts ||
        p->nfailures != q->nfailures || p->t != q->t ||
        p->failed != q->failed) {
      abort();
    }
    for (j = 0; j < p->nstrings; j++) {
      if (!str_eq(p->strings[j], q->strings[j])) {
        abort();
      }
    }
    for (j = 0; j < p->nmx_hosts; j++) {
      if (!str_eq(p->mx_hosts[j], q->mx_hosts[j])) {
        abort();
      }
    }
    for (j = 0; j < p->nfailures; j++) {
      const struct mts_rpt_dgram_failure *f = &p->failures[j];
      const struct mts_rpt_dgram_failure *g = &q->failures[j];

      if (f->code != g->code || !str_eq(f->result_type, g->result_type) ||
          !str_eq(f->sending_ip, g->sending_ip) ||
          !str_eq(f->receiving_mx_hostname, g->receiving_mx_hostname) ||
          !str_eq(f->receiving_mx_helo, g->receiving_mx_helo) ||
          !str_eq(f->receiving_ip, g->receiving_ip) ||
          !str_eq(f->additional_info, g->additional_info) ||
          !str_eq(f->failure_reason, g->failure_reason)) {
        abort();
      }
    }
  }
}

static void check(const struct mts_rpt_datagram *dg) {
  const struct mts_findings *fs = mts_rpt_datagram_findings(dg);
  bool err = false;
  size_t i, j, k;

  for (i = 0; i < mts_findings_count(fs); i++) {
    const struct mts_finding *f = mts_findings_get(fs, i);

    if (f == NULL || strncmp(f->code, "dgram-", 6) != 0 || f->message == NULL) {
      abort();
    }
    err |= f->severity == MTS_SEV_ERROR;
  }
  if (mts_rpt_datagram_usable(dg) == err) {
    abort();
  }
  if (mts_rpt_datagram_valid(dg) && !mts_rpt_datagram_usable(dg)) {
    abort();
  }
  check_utf8(mts_rpt_datagram_dpv(dg));
  check_utf8(mts_rpt_datagram_domain(dg));
  check_utf8(mts_rpt_datagram_policy_record(dg));
  if (!mts_rpt_datagram_usable(dg)) {
    if (mts_rpt_datagram_policy_count(dg) != 0) {
      abort();
    }
    return;
  }
  if (mts_rpt_datagram_domain(dg) == NULL ||
      mts_rpt_datagram_policy_record(dg) == NULL ||
      mts_rpt_datagram_policy_count(dg) == 0) {
    abort();
  }
  for (i = 0; i < mts_rpt_datagram_policy_count(dg); i++) {
    const struct mts_rpt_dgram_policy *p = mts_rpt_datagram_policy(dg, i);

    if (mts_rpt_datagram_policy_type_str(p->type) == NULL ||
        p->domain == NULL || p->t < 0) {
      abort();
    }
    check_utf8(p->domain);
    for (j = 0; j < p->nstrings; j++) {
      check_utf8(p->strings[j]);
    }
    for (j = 0; j < p->nmx_hosts; j++) {
      check_utf8(p->mx_hosts[j]);
    }
    for (j = 0; j < p->nfailures; j++) {
      const struct mts_rpt_dgram_failure *f = &p->failures[j];
      const char *s[] = {f->sending_ip, f->receiving_mx_hostname,
                         f->receiving_mx_helo, f->receiving_ip,
                         f->additional_info, f->failure_reason};

      if (!str_eq(f->result_type, mts_rpt_datagram_result_type(f->code))) {
        abort();
      }
      for (k = 0; k < 6; k++) {
        check_utf8(s[k]);
        if (s[k] != NULL && s[k][0] == '\0') {
          abort();
        }
      }
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct mts_ctx *ctx = NULL;
  struct mts_rpt_datagram *dg = NULL, *dg2 = NULL;
  struct out o = {NULL, 0, 0};

  if (size > FUZZ_MAX_INPUT) {
    return 0;
  }
  if (mts_ctx_create(NULL, &ctx) != MTS_OK) {
    abort();
  }
  if (mts_rpt_datagram_parse(ctx, data, size, &dg) != MTS_OK || dg == NULL) {
    abort();
  }
  check(dg);
  if (mts_rpt_datagram_usable(dg)) {
    write_dg(dg, &o);
    if (o.n > MTS_RPT_DATAGRAM_MAX) { /* U+FFFD repairs can grow it */
      free(o.b);
      goto out;
    }
    if (mts_rpt_datagram_parse(ctx, (const uint8_t *)o.b, o.n, &dg2) !=
            MTS_OK ||
        !mts_rpt_datagram_usable(dg2)) {
      abort();
    }
    same(dg, dg2);
    mts_rpt_datagram_destroy(dg2);
    free(o.b);
  }
out:
  mts_rpt_datagram_destroy(dg);
  mts_ctx_destroy(ctx);
  return 0;
}
