/*
 * rpt_html.c - the static HTML page of received TLS reports; see
 * mtasts/rpt_html.h.
 *
 * The store's rows are read into memory first (strings in one arena),
 * then the page is written domain by domain into a growable buffer with
 * a sticky out-of-memory flag. Charts are inline SVG with integer
 * coordinates, and every number is formatted from integers (rates in
 * tenths of a percent), so the output does not depend on floating
 * point or the locale.
 */
#include <mtasts/rpt_html.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/arena_int.h"
#include "core/strbuf_int.h"

#define DAY 86400

/* The failure colour (the bars, and nothing else, so that a screenshot
 * test can find them) and the series
 * palette (colour-blind safe: Okabe-Ito, then greys). */
#define FAIL_COLOUR "#d62728"
static const char *const palette[MTS_RPT_HTML_MAX_SERIES + 1] = {
    "#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00",
    "#f0e442", "#000000", "#7f7f7f", "#8c564b", "#bbbbbb"};

/* The page is written into a struct mts_strbuf. Its first allocation:
 * a page with one domain is tens of KiB (the style sheet, the charts),
 * so start there and double. Only numbers and fixed text go through
 * mts_strbuf_printf(); untrusted strings go through esc(). */
#define PAGE_FIRST 65536

/* ---- escaping ---- */

typedef void (*put_fn)(void *arg, const char *s, size_t n);

/* Decode one UTF-8 sequence (RFC 3629: no overlongs, no surrogates,
 * at most U+10FFFF). \return its length, 0 when invalid. */
static size_t utf8_len(const uint8_t *s, size_t n, uint32_t *cp) {
  uint32_t c;
  size_t need, i;

  if (s[0] < 0x80) {
    *cp = s[0];
    return 1;
  }
  if (s[0] >= 0xc2 && s[0] <= 0xdf) {
    need = 2;
    c = s[0] & 0x1fu;
  } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
    need = 3;
    c = s[0] & 0x0fu;
  } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
    need = 4;
    c = s[0] & 0x07u;
  } else {
    return 0;
  }
  if (n < need) {
    return 0;
  }
  for (i = 1; i < need; i++) {
    if ((s[i] & 0xc0u) != 0x80u) {
      return 0;
    }
    c = (c << 6) | (s[i] & 0x3fu);
  }
  if ((need == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) ||
      (need == 4 && (c < 0x10000 || c > 0x10ffff))) {
    return 0;
  }
  *cp = c;
  return need;
}

static void escape(const char *str, size_t len, size_t maxcp, put_fn put,
                   void *arg) {
  const uint8_t *s = (const uint8_t *)str;
  size_t i = 0, cps = 0;

  while (i < len) {
    uint32_t cp = 0;
    size_t n = utf8_len(s + i, len - i, &cp);

    if (cps == maxcp) {
      put(arg, "...", 3);
      return;
    }
    cps++;
    if (n == 0 || cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0)) {
      put(arg, "\xef\xbf\xbd", 3); /* U+FFFD */
      i += n == 0 ? 1 : n;
      continue;
    }
    switch (cp) {
    case '&':
      put(arg, "&amp;", 5);
      break;
    case '<':
      put(arg, "&lt;", 4);
      break;
    case '>':
      put(arg, "&gt;", 4);
      break;
    case '"':
      put(arg, "&quot;", 6);
      break;
    case '\'':
      put(arg, "&#39;", 5);
      break;
    default:
      put(arg, str + i, n);
      break;
    }
    i += n;
  }
}

static void put_sb(void *arg, const char *s, size_t n) {
  mts_strbuf_put(arg, s, n);
}

/* Escaped, cut at MTS_RPT_HTML_STR_MAX code points. */
static void esc(struct mts_strbuf *b, const char *s) {
  escape(s, strlen(s), MTS_RPT_HTML_STR_MAX, put_sb, b);
}

/* Escaped, cut shorter (chart labels). */
static void esc_short(struct mts_strbuf *b, const char *s, size_t maxcp) {
  escape(s, strlen(s), maxcp, put_sb, b);
}

struct fixed {
  char *out;
  size_t cap, need;
};

static void put_fixed(void *arg, const char *s, size_t n) {
  struct fixed *f = arg;

  if (f->cap > 0 && f->need < f->cap - 1) {
    size_t room = f->cap - 1 - f->need;

    memcpy(f->out + f->need, s, n < room ? n : room);
  }
  f->need += n;
}

size_t mts_rpt_html_escape(const char *s, size_t len, char *out, size_t cap) {
  struct fixed f = {out, cap, 0};

  if (s != NULL) {
    escape(s, len, SIZE_MAX, put_fixed, &f);
  }
  if (cap > 0) {
    out[f.need < cap - 1 ? f.need : cap - 1] = '\0';
  }
  return f.need;
}

/* ---- the data, read from the store ---- */

struct srow {
  int64_t day;
  const char *domain, *org;
  uint64_t reports, ok, fail;
};
struct frow {
  int64_t day;
  const char *domain, *org, *type, *mx;
  uint64_t n;
};
struct rrow {
  const char *domain;
  unsigned senders, days;
  uint64_t ok, fail;
  bool ready;
  const char *reason;
};

struct data {
  struct mts_ctx *ctx;
  struct mts_arena *arena;
  struct srow *s;
  size_t ns, caps;
  struct frow *f;
  size_t nf, capf;
  struct rrow *r;
  size_t nr, capr;
  bool oom;
};

static const char *keep(struct data *d, const char *s) {
  char *c;

  if (s == NULL) {
    s = "";
  }
  c = mts_arena_strndup(d->arena, s, strlen(s));
  if (c == NULL) {
    d->oom = true;
  }
  return c;
}

/* Make room for one more element of *arr (n used, *cap allocated). */
static bool grow(struct data *d, void **arr, size_t n, size_t *cap,
                 size_t size) {
  void *p;
  size_t ncap;

  if (n < *cap) {
    return true;
  }
  ncap = *cap == 0 ? 64 : *cap * 2;
  p = mts_reallocarray(d->ctx, *arr, ncap, size);
  if (p == NULL) {
    d->oom = true;
    return false;
  }
  *arr = p;
  *cap = ncap;
  return true;
}

static int on_summary(const struct mts_rpt_summary_row *row, void *arg) {
  struct data *d = arg;
  struct srow *s;

  if (!grow(d, (void **)&d->s, d->ns, &d->caps, sizeof *d->s)) {
    return 1;
  }
  s = &d->s[d->ns];
  s->day = row->day;
  s->domain = keep(d, row->policy_domain);
  s->org = keep(d, row->organization);
  s->reports = row->reports;
  s->ok = row->successful;
  s->fail = row->failed;
  if (d->oom) {
    return 1;
  }
  d->ns++;
  return 0;
}

static int on_failure(const struct mts_rpt_failure_row *row, void *arg) {
  struct data *d = arg;
  struct frow *f;

  if (!grow(d, (void **)&d->f, d->nf, &d->capf, sizeof *d->f)) {
    return 1;
  }
  f = &d->f[d->nf];
  f->day = row->day;
  f->domain = keep(d, row->policy_domain);
  f->org = keep(d, row->organization);
  f->type = keep(d, row->result_type);
  f->mx = keep(d, row->receiving_mx_hostname);
  f->n = row->sessions;
  if (d->oom) {
    return 1;
  }
  d->nf++;
  return 0;
}

static int on_ready(const struct mts_rpt_readiness *r, void *arg) {
  struct data *d = arg;
  struct rrow *o;

  if (!grow(d, (void **)&d->r, d->nr, &d->capr, sizeof *d->r)) {
    return 1;
  }
  o = &d->r[d->nr];
  o->domain = keep(d, r->policy_domain);
  o->senders = r->senders;
  o->days = r->days;
  o->ok = r->successful;
  o->fail = r->failed;
  o->ready = r->ready;
  o->reason = r->reason != NULL ? keep(d, r->reason) : NULL;
  if (d->oom) {
    return 1;
  }
  d->nr++;
  return 0;
}

/* ---- helpers for numbers and names ---- */

/* A rate in tenths of a percent, rounded half up. */
static unsigned permille(uint64_t fail, uint64_t total) {
  if (total == 0) {
    return 0;
  }
  if (fail > UINT64_MAX / 2000) { /* keep 2000 * fail in range */
    fail /= total / 1000 + 1;
    total /= total / 1000 + 1;
    if (total == 0) {
      return 1000;
    }
  }
  return (unsigned)((fail * 2000 + total) / (2 * total));
}

static void put_rate(struct mts_strbuf *b, unsigned pm) {
  mts_strbuf_printf(b, "%u.%u&#8201;%%", pm / 10, pm % 10);
}

static void put_day(struct mts_strbuf *b, int64_t day) {
  time_t t = (time_t)day;
  struct tm tm;

  if (gmtime_r(&t, &tm) == NULL) {
    mts_strbuf_str(b, "?");
    return;
  }
  mts_strbuf_printf(b, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                    tm.tm_mday);
}

/* A named total. */
struct agg {
  const char *name;
  uint64_t n;
  uint64_t ok; /* series only */
};

static bool agg_add(struct data *d, struct agg **a, size_t *n, size_t *cap,
                    const char *name, uint64_t v, uint64_t ok) {
  size_t i;

  for (i = 0; i < *n; i++) {
    if (strcmp((*a)[i].name, name) == 0) {
      (*a)[i].n += v;
      (*a)[i].ok += ok;
      return true;
    }
  }
  if (!grow(d, (void **)a, *n, cap, sizeof **a)) {
    return false;
  }
  (*a)[*n].name = name;
  (*a)[*n].n = v;
  (*a)[*n].ok = ok;
  (*n)++;
  return true;
}

/* Larger first, then by name: a total order, so the output is stable. */
static int agg_cmp(const void *x, const void *y) {
  const struct agg *a = x, *b = y;

  if (a->n != b->n) {
    return a->n > b->n ? -1 : 1;
  }
  return strcmp(a->name, b->name);
}

static int str_cmp(const void *x, const void *y) {
  return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static int day_cmp(const void *x, const void *y) {
  int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;

  return a < b ? -1 : a > b;
}

/* ---- the page ---- */

static const char css[] =
    "body{font-family:sans-serif;margin:1.5em;color:#222;max-width:1100px}"
    "h1{font-size:1.6em}h2{margin-top:2em;border-bottom:2px solid #ccc}"
    "h3{font-size:1.1em;margin-top:1.5em}"
    "table{border-collapse:collapse;margin:.5em 0 1em 0;font-size:.9em}"
    "th,td{border:1px solid #ccc;padding:2px 8px;text-align:left}"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}"
    ".verdict{padding:.6em 1em;border-radius:4px;font-weight:bold;"
    "display:inline-block}"
    ".ready{background:#d9f2d9;border:2px solid #2ca02c}"
    ".not-ready{background:#fbe3e3;border:2px solid #a01010}"
    "svg{display:block;margin:.5em 0}svg text{font-family:sans-serif;"
    "font-size:12px;fill:#222}"
    ".note{color:#555;font-size:.9em}";

/* A table's rows beyond the limit are left out, with a note. */
static void rows_note(struct mts_strbuf *b, size_t total) {
  if (total > MTS_RPT_HTML_MAX_ROWS) {
    mts_strbuf_printf(
        b,
        "<p class=\"note\">%zu more rows left out (the page shows "
        "%u).</p>\n",
        total - MTS_RPT_HTML_MAX_ROWS, MTS_RPT_HTML_MAX_ROWS);
  }
}

/* A horizontal bar chart of \p a (sorted), with its table. */
static void bar_chart(struct mts_strbuf *b, const char *id, const char *what,
                      const char *col, struct agg *a, size_t n,
                      uint64_t total) {
  size_t shown = n, i;
  uint64_t other = 0, max = 1;
  const int left = 260, width = 760, barw = 400, rowh = 22, top = 8;
  int height;

  if (shown > MTS_RPT_HTML_MAX_BARS) {
    shown = MTS_RPT_HTML_MAX_BARS - 1;
    for (i = shown; i < n; i++) {
      other += a[i].n;
    }
  }
  for (i = 0; i < shown; i++) {
    if (a[i].n > max) {
      max = a[i].n;
    }
  }
  if (other > max) {
    max = other;
  }
  height = top * 2 + rowh * (int)(shown + (other > 0 ? 1 : 0));
  mts_strbuf_printf(
      b,
      "<svg id=\"%s\" role=\"img\" width=\"%d\" height=\"%d\" "
      "viewBox=\"0 0 %d %d\" xmlns=\"http://www.w3.org/2000/svg\">"
      "<title>Failed sessions by %s</title>\n",
      id, width, height, width, height, what);
  for (i = 0; i < shown + (other > 0 ? 1 : 0); i++) {
    const char *name = i < shown ? a[i].name : "other";
    uint64_t v = i < shown ? a[i].n : other;
    int y = top + (int)i * rowh;
    int w = (int)((v * (uint64_t)barw + max - 1) / max);

    mts_strbuf_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">",
                      left - 8, y + 15);
    esc_short(b, name[0] != '\0' ? name : "(none given)", 38);
    mts_strbuf_printf(
        b,
        "</text><rect class=\"fail\" x=\"%d\" y=\"%d\" width=\"%d\" "
        "height=\"%d\" fill=\"" FAIL_COLOUR "\"><title>",
        left, y + 3, w, rowh - 6);
    esc(b, name);
    mts_strbuf_printf(
        b, ": %llu</title></rect><text x=\"%d\" y=\"%d\">%llu</text>\n",
        (unsigned long long)v, left + w + 6, y + 15, (unsigned long long)v);
  }
  mts_strbuf_str(b, "</svg>\n");
  mts_strbuf_printf(b,
                    "<table id=\"%s-table\"><thead><tr><th>%s</th><th>failed "
                    "sessions</th><th>share</th></tr></thead><tbody>\n",
                    id, col);
  for (i = 0; i < n && i < MTS_RPT_HTML_MAX_ROWS; i++) {
    mts_strbuf_str(b, "<tr><td>");
    esc(b, a[i].name[0] != '\0' ? a[i].name : "(none given)");
    mts_strbuf_printf(b, "</td><td class=\"n\">%llu</td><td class=\"n\">",
                      (unsigned long long)a[i].n);
    put_rate(b, permille(a[i].n, total));
    mts_strbuf_str(b, "</td></tr>\n");
  }
  mts_strbuf_str(b, "</tbody></table>\n");
  rows_note(b, n);
}

/* One policy domain's section. */
static void domain_section(struct mts_strbuf *b, struct data *d,
                           const char *dom, size_t idx, const struct rrow *rd,
                           const struct mts_rpt_html_opts *o) {
  int64_t *days = NULL;
  size_t ndays = 0, capdays = 0, i, j;
  struct agg *orgs = NULL, *types = NULL, *mxs = NULL;
  size_t norgs = 0, caporgs = 0, ntypes = 0, captypes = 0, nmx = 0, capmx = 0;
  size_t nseries;
  uint64_t *ok = NULL, *fail = NULL, tfail = 0, tok = 0, treports = 0;
  size_t nrows = 0;
  char id[32];

  /* days and organisations of this domain */
  for (i = 0; i < d->ns && !d->oom; i++) {
    const struct srow *s = &d->s[i];

    if (strcmp(s->domain, dom) != 0) {
      continue;
    }
    nrows++;
    tok += s->ok;
    tfail += s->fail;
    treports += s->reports;
    if (ndays == 0 || days[ndays - 1] != s->day) {
      for (j = 0; j < ndays && days[j] != s->day; j++) {
      }
      if (j == ndays) {
        if (!grow(d, (void **)&days, ndays, &capdays, sizeof *days)) {
          break;
        }
        days[ndays++] = s->day;
      }
    }
    if (!agg_add(d, &orgs, &norgs, &caporgs, s->org, s->ok + s->fail, s->ok)) {
      break;
    }
  }
  for (i = 0; i < d->nf && !d->oom; i++) {
    const struct frow *f = &d->f[i];

    if (strcmp(f->domain, dom) != 0) {
      continue;
    }
    if (!agg_add(d, &types, &ntypes, &captypes, f->type, f->n, 0) ||
        !agg_add(d, &mxs, &nmx, &capmx, f->mx, f->n, 0)) {
      break;
    }
  }
  if (d->oom) {
    goto done;
  }
  if (ndays > 0) {
    qsort(days, ndays, sizeof *days, day_cmp);
  }
  if (norgs > 0) {
    qsort(orgs, norgs, sizeof *orgs, agg_cmp);
  }
  if (ntypes > 0) {
    qsort(types, ntypes, sizeof *types, agg_cmp);
  }
  if (nmx > 0) {
    qsort(mxs, nmx, sizeof *mxs, agg_cmp);
  }
  nseries = norgs <= MTS_RPT_HTML_MAX_SERIES ? norgs
                                              : MTS_RPT_HTML_MAX_SERIES - 1;

  snprintf(id, sizeof id, "d%zu", idx);
  mts_strbuf_printf(b, "<section id=\"%s\" class=\"domain\">\n<h2>", id);
  esc(b, dom);
  mts_strbuf_str(b, "</h2>\n");

  /* the verdict */
  if (rd != NULL) {
    mts_strbuf_printf(b, "<p id=\"%s-verdict\" class=\"verdict %s\">", id,
                      rd->ready ? "ready" : "not-ready");
    if (rd->ready) {
      mts_strbuf_str(b, "Ready to enforce");
    } else {
      mts_strbuf_str(b, "Not ready to enforce: ");
      esc(b, rd->reason != NULL ? rd->reason : "unknown");
    }
    mts_strbuf_printf(
        b,
        "</p>\n<p class=\"note\">Last %u days: %u sending "
        "organisations on %u days, %llu successful and %llu failed "
        "sessions (ready needs at least %u organisations, %u days and "
        "no failure).</p>\n",
        o->window_days, rd->senders, rd->days, (unsigned long long)rd->ok,
        (unsigned long long)rd->fail, o->min_senders, o->min_days);
  }
  mts_strbuf_printf(b,
                    "<p>Shown: %llu reports, %llu successful and %llu failed "
                    "sessions (failure rate ",
                    (unsigned long long)treports, (unsigned long long)tok,
                    (unsigned long long)tfail);
  put_rate(b, permille(tfail, tok + tfail));
  mts_strbuf_str(b, ").</p>\n");

  /* failure rate over time per sender */
  mts_strbuf_str(b,
                 "<h3>Failure rate over time, per sending organisation</h3>\n");
  if (ndays > 0 && norgs > 0) {
    const int left = 56, top = 12, pw = 620, ph = 220, width = 960;
    const int height = top + ph + 48;
    size_t ns1 = nseries + (norgs > nseries ? 1 : 0), k, step;

    ok = mts_calloc(d->ctx, ndays * ns1, sizeof *ok);
    fail = mts_calloc(d->ctx, ndays * ns1, sizeof *fail);
    if (ok == NULL || fail == NULL) {
      d->oom = true;
      goto done;
    }
    for (i = 0; i < d->ns; i++) {
      const struct srow *s = &d->s[i];
      size_t di, si;

      if (strcmp(s->domain, dom) != 0) {
        continue;
      }
      for (di = 0; days[di] != s->day; di++) {
      }
      for (si = 0; si < nseries && strcmp(orgs[si].name, s->org) != 0; si++) {
      }
      ok[di * ns1 + si] += s->ok;
      fail[di * ns1 + si] += s->fail;
    }
    mts_strbuf_printf(
        b,
        "<svg id=\"%s-rate\" role=\"img\" width=\"%d\" height=\"%d\" "
        "viewBox=\"0 0 %d %d\" xmlns=\"http://www.w3.org/2000/svg\">"
        "<title>Failure rate per day and sending organisation"
        "</title>\n",
        id, width, height, width, height);
    for (k = 0; k <= 4; k++) {
      int y = top + ph - (int)k * ph / 4;

      mts_strbuf_printf(b,
                        "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
                        "stroke=\"#ddd\"/><text x=\"%d\" y=\"%d\" "
                        "text-anchor=\"end\">%zu%%</text>\n",
                        left, y, left + pw, y, left - 6, y + 4, k * 25);
    }
    mts_strbuf_printf(b,
                      "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
                      "stroke=\"#888\"/>\n",
                      left, top + ph, left + pw, top + ph);
    step = (ndays + 6) / 7;
    for (i = 0; i < ndays; i++) {
      int x = ndays == 1 ? left + pw / 2
                         : left + (int)(i * (size_t)pw / (ndays - 1));

      if (i % step == 0 || i == ndays - 1) {
        mts_strbuf_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">",
                          x, top + ph + 18);
        put_day(b, days[i]);
        mts_strbuf_str(b, "</text>\n");
      }
    }
    for (k = 0; k < ns1; k++) {
      const char *name = k < nseries ? orgs[k].name : "other senders";
      const char *colour =
          palette[k < nseries ? k : MTS_RPT_HTML_MAX_SERIES];
      bool first = true;

      mts_strbuf_printf(b, "<g class=\"series\" stroke=\"%s\" fill=\"%s\">",
                        colour, colour);
      mts_strbuf_str(b, "<polyline fill=\"none\" stroke-width=\"2\" points=\"");
      for (i = 0; i < ndays; i++) {
        uint64_t t = ok[i * ns1 + k] + fail[i * ns1 + k];
        int x = ndays == 1 ? left + pw / 2
                           : left + (int)(i * (size_t)pw / (ndays - 1));

        if (t == 0) {
          continue;
        }
        mts_strbuf_printf(
            b, "%s%d,%d", first ? "" : " ", x,
            top + ph -
                (int)(permille(fail[i * ns1 + k], t) * (unsigned)ph / 1000));
        first = false;
      }
      mts_strbuf_str(b, "\"/>\n");
      for (i = 0; i < ndays; i++) {
        uint64_t t = ok[i * ns1 + k] + fail[i * ns1 + k];
        int x = ndays == 1 ? left + pw / 2
                           : left + (int)(i * (size_t)pw / (ndays - 1));
        unsigned pm;

        if (t == 0) {
          continue;
        }
        pm = permille(fail[i * ns1 + k], t);
        mts_strbuf_printf(b, "<circle cx=\"%d\" cy=\"%d\" r=\"4\"><title>", x,
                          top + ph - (int)(pm * (unsigned)ph / 1000));
        esc(b, name);
        mts_strbuf_str(b, " ");
        put_day(b, days[i]);
        mts_strbuf_str(b, ": ");
        put_rate(b, pm);
        mts_strbuf_str(b, "</title></circle>\n");
      }
      mts_strbuf_str(b, "</g>\n");
      /* legend */
      mts_strbuf_printf(b,
                        "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" "
                        "fill=\"%s\"/><text x=\"%d\" y=\"%d\">",
                        left + pw + 20, top + (int)k * 20, colour,
                        left + pw + 38, top + (int)k * 20 + 11);
      esc_short(b, name, 36);
      mts_strbuf_str(b, "</text>\n");
    }
    mts_strbuf_str(b, "</svg>\n");
  } else {
    mts_strbuf_str(b, "<p class=\"note\">No sessions reported.</p>\n");
  }
  mts_strbuf_printf(
      b,
      "<table id=\"%s-rate-table\"><thead><tr><th>day (UTC)</th>"
      "<th>sending organisation</th><th>reports</th><th>successful"
      "</th><th>failed</th><th>failure rate</th></tr></thead>"
      "<tbody>\n",
      id);
  j = 0;
  for (i = 0; i < d->ns; i++) {
    const struct srow *s = &d->s[i];

    if (strcmp(s->domain, dom) != 0) {
      continue;
    }
    if (j++ >= MTS_RPT_HTML_MAX_ROWS) {
      break;
    }
    mts_strbuf_str(b, "<tr><td>");
    put_day(b, s->day);
    mts_strbuf_str(b, "</td><td>");
    esc(b, s->org);
    mts_strbuf_printf(b,
                      "</td><td class=\"n\">%llu</td><td class=\"n\">%llu</td>"
                      "<td class=\"n\">%llu</td><td class=\"n\">",
                      (unsigned long long)s->reports, (unsigned long long)s->ok,
                      (unsigned long long)s->fail);
    put_rate(b, permille(s->fail, s->ok + s->fail));
    mts_strbuf_str(b, "</td></tr>\n");
  }
  mts_strbuf_str(b, "</tbody></table>\n");
  rows_note(b, nrows);

  mts_strbuf_str(b, "<h3>Failed sessions by result type</h3>\n");
  if (ntypes > 0) {
    char sid[40];

    snprintf(sid, sizeof sid, "%s-types", id);
    bar_chart(b, sid, "result type", "result type", types, ntypes, tfail);
  } else {
    mts_strbuf_str(b, "<p class=\"note\">No failed session.</p>\n");
  }
  mts_strbuf_str(b, "<h3>Failed sessions by MX host</h3>\n");
  if (nmx > 0) {
    char sid[40];

    snprintf(sid, sizeof sid, "%s-mx", id);
    bar_chart(b, sid, "MX host", "MX host", mxs, nmx, tfail);
  } else {
    mts_strbuf_str(b, "<p class=\"note\">No failed session.</p>\n");
  }
  mts_strbuf_str(b, "</section>\n");

done:
  mts_free(d->ctx, days);
  mts_free(d->ctx, orgs);
  mts_free(d->ctx, types);
  mts_free(d->ctx, mxs);
  mts_free(d->ctx, ok);
  mts_free(d->ctx, fail);
}

enum mts_status mts_rpt_html_render(struct mts_ctx *ctx,
                                    struct mts_rpt_store *st,
                                    const struct mts_rpt_html_opts *opts,
                                    char **html, size_t *len) {
  struct mts_rpt_html_opts o;
  struct data d;
  struct mts_strbuf b;
  const char **doms = NULL;
  size_t ndoms = 0, capdoms = 0, i, j;
  enum mts_status ret;
  time_t gt;
  struct tm tm;
  uint64_t tok = 0, tfail = 0, treports = 0;

  if (html != NULL) {
    *html = NULL;
  }
  if (len != NULL) {
    *len = 0;
  }
  if (ctx == NULL || st == NULL || html == NULL || len == NULL) {
    return MTS_EINVAL;
  }
  memset(&o, 0, sizeof o);
  if (opts != NULL) {
    o = *opts;
  } else {
    o.generated_at = mts_ctx_now(ctx);
  }
  if (o.window_days == 0) {
    o.window_days = MTS_RPT_HTML_WINDOW_DAYS;
  }
  if (o.min_senders == 0) {
    o.min_senders = MTS_RPT_HTML_MIN_SENDERS;
  }
  if (o.min_days == 0) {
    o.min_days = MTS_RPT_HTML_MIN_DAYS;
  }
  if (o.title == NULL) {
    o.title = "TLS reports";
  }
  memset(&d, 0, sizeof d);
  mts_strbuf_init(&b, ctx, PAGE_FIRST, MTS_STRBUF_NOMAX);
  d.ctx = ctx;
  d.arena = mts_arena_create(ctx);
  if (d.arena == NULL) {
    return MTS_ENOMEM;
  }
  ret = mts_rpt_store_summary(st, o.domain, o.since, on_summary, on_failure,
                              &d);
  if (ret == MTS_OK && !d.oom) {
    ret = mts_rpt_store_readiness(st, o.domain, o.generated_at,
                                  o.window_days, o.min_senders, o.min_days,
                                  on_ready, &d);
  }
  if (d.oom) {
    ret = MTS_ENOMEM;
  }
  if (ret != MTS_OK) {
    goto done;
  }

  /* the domains: those with rows and those with a verdict, sorted */
  for (i = 0; i < d.ns + d.nr && !d.oom; i++) {
    const char *name = i < d.ns ? d.s[i].domain : d.r[i - d.ns].domain;

    for (j = 0; j < ndoms && strcmp(doms[j], name) != 0; j++) {
    }
    if (j == ndoms && grow(&d, (void **)&doms, ndoms, &capdoms, sizeof *doms)) {
      doms[ndoms++] = name;
    }
  }
  if (d.oom) {
    ret = MTS_ENOMEM;
    goto done;
  }
  if (ndoms > 0) {
    qsort(doms, ndoms, sizeof *doms, str_cmp);
  }
  for (i = 0; i < d.ns; i++) {
    tok += d.s[i].ok;
    tfail += d.s[i].fail;
    treports += d.s[i].reports;
  }

  mts_strbuf_str(&b,
                 "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
                 "<meta charset=\"utf-8\">\n"
                 "<meta http-equiv=\"Content-Security-Policy\" "
                 "content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
                 "<meta name=\"viewport\" content=\"width=device-width\">\n"
                 "<title>");
  esc(&b, o.title);
  mts_strbuf_str(&b, "</title>\n<style>");
  mts_strbuf_str(&b, css);
  mts_strbuf_str(&b, "</style>\n</head>\n<body>\n<h1>");
  esc(&b, o.title);
  mts_strbuf_str(&b, "</h1>\n<p id=\"generated\">Generated at ");
  gt = (time_t)o.generated_at;
  if (gmtime_r(&gt, &tm) != NULL) {
    mts_strbuf_printf(&b, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                      tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                      tm.tm_sec);
  }
  if (o.since > 0) {
    mts_strbuf_str(&b, ", reports from ");
    put_day(&b, o.since - o.since % DAY);
    mts_strbuf_str(&b, " on");
  }
  mts_strbuf_printf(
      &b,
      ". %zu policy domains, %llu reports, %llu successful and %llu "
      "failed sessions.</p>\n",
      ndoms, (unsigned long long)treports, (unsigned long long)tok,
      (unsigned long long)tfail);
  if (ndoms == 0) {
    mts_strbuf_str(&b, "<p class=\"note\">No reports received yet.</p>\n");
  } else {
    /* a summary table with the verdicts, linking to each section */
    mts_strbuf_str(&b,
                   "<table id=\"verdicts\"><thead><tr><th>policy domain</th>"
                   "<th>verdict</th><th>senders</th><th>days</th>"
                   "<th>successful</th><th>failed</th></tr></thead><tbody>\n");
    for (i = 0; i < ndoms; i++) {
      const struct rrow *rd = NULL;

      for (j = 0; j < d.nr; j++) {
        if (strcmp(d.r[j].domain, doms[i]) == 0) {
          rd = &d.r[j];
        }
      }
      mts_strbuf_printf(&b, "<tr><td><a href=\"#d%zu\">", i);
      esc(&b, doms[i]);
      mts_strbuf_str(&b, "</a></td><td>");
      if (rd == NULL) {
        mts_strbuf_str(
            &b, "no data</td><td></td><td></td><td></td><td></td></tr>\n");
        continue;
      }
      mts_strbuf_str(&b, rd->ready ? "ready" : "not ready: ");
      if (!rd->ready) {
        esc(&b, rd->reason != NULL ? rd->reason : "unknown");
      }
      mts_strbuf_printf(
          &b,
          "</td><td class=\"n\">%u</td><td class=\"n\">%u</td>"
          "<td class=\"n\">%llu</td><td class=\"n\">%llu</td></tr>\n",
          rd->senders, rd->days, (unsigned long long)rd->ok,
          (unsigned long long)rd->fail);
    }
    mts_strbuf_str(&b, "</tbody></table>\n");
  }
  for (i = 0; i < ndoms && !d.oom && mts_strbuf_status(&b) == MTS_OK; i++) {
    const struct rrow *rd = NULL;

    for (j = 0; j < d.nr; j++) {
      if (strcmp(d.r[j].domain, doms[i]) == 0) {
        rd = &d.r[j];
      }
    }
    domain_section(&b, &d, doms[i], i, rd, &o);
  }
  mts_strbuf_str(&b, "<p class=\"note\">Made by mtasts from RFC 8460 reports; "
                     "days are UTC, a report counts on the day its range "
                     "starts.</p>\n</body>\n</html>\n");
  if (d.oom) {
    ret = MTS_ENOMEM;
    goto done;
  }
  ret = mts_strbuf_take(&b, html, len);

done:
  mts_strbuf_cleanup(&b);
  mts_free(ctx, doms);
  mts_free(ctx, d.s);
  mts_free(ctx, d.f);
  mts_free(ctx, d.r);
  mts_arena_destroy(d.arena);
  return ret;
}

void mts_rpt_html_free(struct mts_ctx *ctx, char *html) {
  if (ctx != NULL) {
    mts_free(ctx, html);
  }
}

enum mts_status mts_rpt_html_write_dir(struct mts_ctx *ctx,
                                       struct mts_rpt_store *st,
                                       const struct mts_rpt_html_opts *opts,
                                       const char *dir) {
  char *html = NULL;
  size_t len = 0, off = 0;
  char path[4096], tmp[4096];
  enum mts_status ret;
  int fd;
  int n1, n2;

  if (dir == NULL) {
    return MTS_EINVAL;
  }
  n1 = snprintf(path, sizeof path, "%s/index.html", dir);
  n2 = snprintf(tmp, sizeof tmp, "%s/.index.html.%ld", dir, (long)getpid());
  if (n1 < 0 || n2 < 0 || (size_t)n1 >= sizeof path ||
      (size_t)n2 >= sizeof tmp) {
    return MTS_EINVAL;
  }
  ret = mts_rpt_html_render(ctx, st, opts, &html, &len);
  if (ret != MTS_OK) {
    return ret;
  }
  if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
    mts_log(ctx, MTS_LOG_ERR, "report html: %.200s: %s", dir,
            strerror(errno));
    mts_rpt_html_free(ctx, html);
    return MTS_EIO;
  }
  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    mts_log(ctx, MTS_LOG_ERR, "report html: %.200s: %s", tmp,
            strerror(errno));
    mts_rpt_html_free(ctx, html);
    return MTS_EIO;
  }
  while (off < len) {
    ssize_t w = write(fd, html + off, len - off);

    if (w < 0 && errno == EINTR) {
      continue;
    }
    if (w <= 0) {
      break;
    }
    off += (size_t)w;
  }
  mts_rpt_html_free(ctx, html);
  if (off != len || fsync(fd) != 0) {
    off = len + 1; /* failed */
  }
  if (close(fd) != 0 || off != len) {
    mts_log(ctx, MTS_LOG_ERR, "report html: %.200s: write failed", tmp);
    (void)unlink(tmp);
    return MTS_EIO;
  }
  if (rename(tmp, path) != 0) {
    mts_log(ctx, MTS_LOG_ERR, "report html: %.200s: %s", path,
            strerror(errno));
    (void)unlink(tmp);
    return MTS_EIO;
  }
  return MTS_OK;
}
