/*
 * fuzz_rpt_store.c - arbitrary bytes through the parser into the report
 * store (an in-memory SQLite database), twice, then every query.
 *
 * Invariants (abort() when broken):
 * - open, add, summary, readiness and the raw listing succeed;
 * - the first add is NEW when the report is usable, else REJECTED; the
 *   second is DUPLICATE when the first was NEW, else REJECTED again;
 * - exactly two raw rows come back, with the input's bytes and length,
 *   a 64-hex-digit SHA-256, a reason exactly when rejected, and the
 *   findings as JSON text that jansson reads as an array of as many
 *   objects as the parser found;
 * - a usable report gives summary rows whose sums equal the report's
 *   policy counts (each at most 2^53, so exact), failure rows whose
 *   sessions add up to its failure details' counts, and readiness rows
 *   for each of its domains; readiness asked for its first domain, in a
 *   window around its own days with thresholds of 1, gives exactly one
 *   row for that domain (lower case, no trailing dot), ready exactly
 *   when some sender reported on some day and nothing failed;
 * - the HTML page of that store (mtasts/rpt_html.h) renders, and the
 *   report's strings cannot change its markup: every '<' opens or closes
 *   one of the page's own elements (or is its DOCTYPE), no element has
 *   an on* attribute or a link out of the page (every href starts
 *   '#'), and every '&' starts one of the page's own character
 *   references;
 * - usage counts the two inputs and twice their bytes; a prune after
 *   them deletes both and the report (when usable), and leaves no
 *   summary, failure, readiness or raw row behind.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <mtasts/mtasts.h>

#define FUZZ_MAX_INPUT (1u << 18)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
  const uint8_t *data;
  size_t size;
  size_t nraw, nfindings;
  unsigned outcomes[2];
  uint64_t ok, failed, nsum, nready, fsessions;
  const char *domain; /* the domain asked for, or NULL */
  bool ready_seen;
};

static int on_raw(const struct mts_rpt_raw_row *r, void *arg) {
  struct seen *s = arg;
  json_error_t jerr;
  json_t *j;
  size_t i;

  if (s->nraw >= 2 || r->len != s->size || r->bytes == NULL ||
      memcmp(r->bytes, s->size > 0 ? s->data : (const uint8_t *)"", s->size) !=
          0 ||
      strlen(r->sha256) != 64 ||
      (r->outcome == MTS_RPT_STORE_REJECTED) != (r->reason != NULL)) {
    abort();
  }
  for (i = 0; i < 64; i++) {
    char c = r->sha256[i];

    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      abort();
    }
  }
  j = json_loads(r->findings_json, JSON_REJECT_DUPLICATES, &jerr);
  if (j == NULL || !json_is_array(j) || json_array_size(j) != s->nfindings) {
    abort();
  }
  json_decref(j);
  s->outcomes[s->nraw++] = (unsigned)r->outcome;
  return 0;
}

static int on_summary(const struct mts_rpt_summary_row *r, void *arg) {
  struct seen *s = arg;

  s->ok += r->successful;
  s->failed += r->failed;
  s->nsum++;
  if (r->reports != 1) {
    abort();
  }
  return 0;
}

static int on_failure(const struct mts_rpt_failure_row *r, void *arg) {
  struct seen *s = arg;

  if (r->result_type == NULL || r->receiving_mx_hostname == NULL) {
    abort();
  }
  if (s->fsessions < (UINT64_C(1) << 53)) {
    s->fsessions += r->sessions;
  }
  return 0;
}

/* \p a equals \p b lower-cased without one trailing dot. */
static bool same_domain(const char *a, const char *b) {
  size_t n = strlen(b), i;

  if (n > 0 && b[n - 1] == '.') {
    n--;
  }
  if (strlen(a) != n) {
    return false;
  }
  for (i = 0; i < n; i++) {
    char c = b[i] >= 'A' && b[i] <= 'Z' ? (char)(b[i] - 'A' + 'a') : b[i];

    if (a[i] != c) {
      return false;
    }
  }
  return true;
}

static int on_ready_one(const struct mts_rpt_readiness *r, void *arg) {
  struct seen *s = arg;

  if (s->ready_seen || !same_domain(r->policy_domain, s->domain) ||
      r->ready != (r->senders >= 1 && r->days >= 1 && r->failed == 0) ||
      r->ready != (r->reason == NULL)) {
    abort();
  }
  s->ready_seen = true;
  return 0;
}

static bool word_in(const char *p, size_t n, const char *const *words) {
  for (; *words != NULL; words++) {
    if (strlen(*words) == n && strncmp(p, *words, n) == 0) {
      return true;
    }
  }
  return false;
}

/* The page's markup is its own (see the invariants above). */
static void check_page(const char *html, size_t len) {
  static const char *const tags[] = {
      "a",     "body",  "circle", "g",       "h1",    "h2",    "h3",
      "head",  "html",  "line",   "meta",    "p",     "polyline",
      "rect",  "section", "style", "svg",    "table", "tbody", "td",
      "text",  "th",    "thead",  "title",   "tr",    NULL};
  static const char *const refs[] = {"amp", "lt", "gt", "quot", "#39",
                                     "#8201", NULL};
  const char *p;

  if (strlen(html) != len) {
    abort();
  }
  for (p = html; (p = strchr(p, '<')) != NULL; p++) {
    const char *name = p + 1, *end, *q;

    if (strncmp(name, "!DOCTYPE html>", 14) == 0) {
      continue;
    }
    if (*name == '/') {
      name++;
    }
    for (end = name; (*end >= 'a' && *end <= 'z') || (*end >= '0' && *end <= '9');
         end++) {
    }
    if (!word_in(name, (size_t)(end - name), tags) ||
        (q = strchr(end, '>')) == NULL) {
      abort();
    }
    for (; end < q; end++) {
      if (((end[0] == ' ' || end[0] == '\n') && end[1] == 'o' &&
           end[2] == 'n') ||
          (strncmp(end, "href=\"", 6) == 0 && end[6] != '#')) {
        abort(); /* an event handler, or a link out of the page */
      }
    }
  }
  for (p = html; (p = strchr(p, '&')) != NULL; p++) {
    const char *semi = strchr(p, ';');

    if (semi == NULL || !word_in(p + 1, (size_t)(semi - p - 1), refs)) {
      abort();
    }
  }
}

static int on_ready(const struct mts_rpt_readiness *r, void *arg) {
  struct seen *s = arg;

  if (r->ready != (r->reason == NULL) || r->ready) {
    abort(); /* one sender on one day is never ready with these limits */
  }
  s->nready++;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct mts_ctx *ctx = NULL;
  struct mts_rpt_store *st = NULL;
  struct mts_rpt_report *r = NULL;
  enum mts_rpt_store_outcome o1, o2;
  struct seen s;
  bool usable;

  if (size > FUZZ_MAX_INPUT) {
    return 0;
  }
  memset(&s, 0, sizeof(s));
  s.data = data;
  s.size = size;
  if (mts_ctx_create(NULL, &ctx) != MTS_OK ||
      mts_rpt_store_open(ctx, ":memory:", &st) != MTS_OK ||
      mts_rpt_report_parse(ctx, data, size, &r) != MTS_OK) {
    abort();
  }
  usable = mts_rpt_report_usable(r);
  s.nfindings = mts_findings_count(mts_rpt_report_findings(r));
  if (mts_rpt_store_add(st, r, data, size, "fuzz", NULL, &o1) != MTS_OK ||
      mts_rpt_store_add(st, r, data, size, "fuzz", NULL, &o2) != MTS_OK) {
    abort();
  }
  if (o1 != (usable ? MTS_RPT_STORE_NEW : MTS_RPT_STORE_REJECTED) ||
      o2 != (usable ? MTS_RPT_STORE_DUPLICATE : MTS_RPT_STORE_REJECTED)) {
    abort();
  }
  if (mts_rpt_store_raw(st, 0, 0, true, on_raw, &s) != MTS_OK ||
      s.nraw != 2 || s.outcomes[0] != (unsigned)o1 ||
      s.outcomes[1] != (unsigned)o2) {
    abort();
  }
  if (mts_rpt_store_summary(st, NULL, INT64_MIN, on_summary, on_failure,
                            &s) != MTS_OK ||
      mts_rpt_store_readiness(st, NULL, 0, 1, 2, 2, on_ready, &s) !=
          MTS_OK) {
    abort();
  }
  if (usable) {
    const struct mts_rpt_report_data *d = mts_rpt_report_data(r);
    uint64_t ok = 0, failed = 0;
    size_t i;

    for (i = 0; i < d->npolicies; i++) {
      /* Stop adding once past 2^53 (no comparison then; no overflow). */
      if (ok < (UINT64_C(1) << 53)) {
        ok += d->policies[i].total_successful;
      }
      if (failed < (UINT64_C(1) << 53)) {
        failed += d->policies[i].total_failure;
      }
    }
    /* Sums of up to ~4000 policies of <= 2^53 each stay exact in a
     * double only while below 2^53: compare when they are. */
    if (ok < (UINT64_C(1) << 53) && failed < (UINT64_C(1) << 53) &&
        (s.ok != ok || s.failed != failed)) {
      abort();
    }
    if (s.nsum == 0 || s.nready == 0) {
      abort();
    }
    {
      uint64_t fs = 0;
      size_t j;

      for (i = 0; i < d->npolicies; i++) {
        for (j = 0; j < d->policies[i].nfailures; j++) {
          if (fs < (UINT64_C(1) << 53)) {
            fs += d->policies[i].failures[j].failed_session_count;
          }
        }
      }
      if (fs < (UINT64_C(1) << 53) && s.fsessions != fs) {
        abort();
      }
    }
    s.domain = d->policies[0].policy_domain;
    if (mts_rpt_store_readiness(st, s.domain, d->start, 14, 1, 1,
                                on_ready_one, &s) != MTS_OK ||
        !s.ready_seen) {
      abort();
    }
  } else if (s.nsum != 0) {
    abort();
  }
  {
    struct mts_rpt_html_opts ho;
    char *html = NULL;
    size_t hlen = 0;

    memset(&ho, 0, sizeof(ho));
    ho.generated_at = usable ? mts_rpt_report_data(r)->start : 1795737600;
    if (mts_rpt_html_render(ctx, st, &ho, &html, &hlen) != MTS_OK) {
      abort();
    }
    check_page(html, hlen);
    mts_rpt_html_free(ctx, html);
  }
  {
    uint64_t n = 0, bytes = 0, inputs = 0, reports = 0;

    if (mts_rpt_store_usage(st, INT64_MIN, "fuzz", &n, &bytes) != MTS_OK ||
        n != 2 || bytes != 2 * (uint64_t)size ||
        mts_rpt_store_prune(st, mts_ctx_now(ctx) + 1, &inputs, &reports) !=
            MTS_OK ||
        inputs != 2 || reports != (usable ? 1u : 0u) ||
        mts_rpt_store_usage(st, INT64_MIN, NULL, &n, &bytes) != MTS_OK ||
        n != 0 || bytes != 0) {
      abort();
    }
    memset(&s, 0, sizeof(s));
    if (mts_rpt_store_raw(st, 0, 0, false, on_raw, &s) != MTS_OK ||
        mts_rpt_store_summary(st, NULL, INT64_MIN, on_summary, on_failure,
                              &s) != MTS_OK ||
        mts_rpt_store_readiness(st, NULL, 0, 1, 2, 2, on_ready, &s) !=
            MTS_OK ||
        s.nraw != 0 || s.nsum != 0 || s.fsessions != 0 || s.nready != 0) {
      abort();
    }
  }
  mts_rpt_report_destroy(r);
  mts_rpt_store_close(st);
  mts_ctx_destroy(ctx);
  return 0;
}
