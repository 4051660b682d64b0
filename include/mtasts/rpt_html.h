/*
 * mtasts/rpt_html.h - a static HTML page of the received TLS reports
 * (issue 7): one self-contained file, readable without JavaScript.
 *
 * What the page holds, per policy domain (in the store's order):
 *  - the "enforce readiness" verdict (mts_rpt_store_readiness(): ready
 *    when enough senders reported on enough days and no session failed);
 *  - the failure rate over time per sending organisation (an SVG line
 *    chart, days on the x axis, 0-100 % on the y axis);
 *  - failed sessions by result type and by MX host (SVG bar charts);
 *  - under each plot a table with the same numbers, so the page reads
 *    without images and with a screen reader.
 * The SVG is generated here, inline; there is no script, no external
 * resource (no stylesheet, image or web font) and a Content Security
 * Policy meta element forbids loading any.
 *
 * Untrusted text: organisation names, domains, MX names and result
 * types come from reports anyone can send. Every string is escaped
 * for HTML (& < > " ' become character references), bytes that are not
 * UTF-8 and control characters become U+FFFD, and long strings are cut
 * at MTS_RPT_HTML_STR_MAX code points (with "..."), in text and in
 * attributes alike.
 *
 * Deterministic: the same store contents, options and `generated_at`
 * give the same bytes (rows come in the store's order; ties in the bar
 * charts are broken by name; numbers are formatted without locale).
 *
 * Bounds: at most MTS_RPT_HTML_MAX_SERIES organisations get their own
 * line (the others are summed into "other senders"), at most
 * MTS_RPT_HTML_MAX_BARS bars per chart (the rest summed into "other"),
 * at most MTS_RPT_HTML_MAX_ROWS rows per table (a note says how many
 * were left out).
 *
 * Memory: the page is built in memory through the context allocator.
 * Thread safety: as common.h (the store's thread).
 */
#ifndef MTASTS_RPT_HTML_H
#define MTASTS_RPT_HTML_H

#include <mtasts/common.h>
#include <mtasts/rpt_store.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MTS_RPT_HTML_STR_MAX 200u
#define MTS_RPT_HTML_MAX_SERIES 10u
#define MTS_RPT_HTML_MAX_BARS 15u
#define MTS_RPT_HTML_MAX_ROWS 500u

/* Readiness defaults, the same as `mtasts report ready`. */
#define MTS_RPT_HTML_WINDOW_DAYS 14u
#define MTS_RPT_HTML_MIN_SENDERS 2u
#define MTS_RPT_HTML_MIN_DAYS 7u

struct mts_rpt_html_opts {
  const char *domain;    /* one policy domain; NULL: all */
  int64_t since;         /* only days >= since (seconds); 0: all */
  int64_t generated_at;  /* shown on the page and the readiness "now" */
  unsigned window_days;  /* readiness window; 0: MTS_RPT_HTML_WINDOW_DAYS */
  unsigned min_senders;  /* 0: MTS_RPT_HTML_MIN_SENDERS */
  unsigned min_days;     /* 0: MTS_RPT_HTML_MIN_DAYS */
  const char *title;     /* NULL: "TLS reports" */
};

/*!
 * Render the page.
 * \param[in] ctx    the context (allocator).
 * \param[in] st     the store to read.
 * \param[in] opts   options; NULL: all defaults with generated_at = now.
 * \param[out] html  the page (NUL-terminated UTF-8), freed with
 *                   mts_rpt_html_free(); NULL on failure.
 * \param[out] len   its length without the NUL.
 * \return MTS_OK; MTS_ENOMEM; MTS_EIO (the store); MTS_EINVAL.
 */
MTS_API MTS_WUR enum mts_status
mts_rpt_html_render(struct mts_ctx *ctx, struct mts_rpt_store *st,
                    const struct mts_rpt_html_opts *opts, char **html,
                    size_t *len);

/*!
 * Render and write \p dir/index.html (the directory is created with
 * mode 0755 when missing; the file is written to a temporary name and
 * renamed, so a reader never sees half a page).
 * \return as mts_rpt_html_render(); MTS_EIO also when the file cannot
 * be written (logged).
 */
MTS_API MTS_WUR enum mts_status
mts_rpt_html_write_dir(struct mts_ctx *ctx, struct mts_rpt_store *st,
                       const struct mts_rpt_html_opts *opts, const char *dir);

/*! Free a page from mts_rpt_html_render(). NULL is a no-op. */
MTS_API void mts_rpt_html_free(struct mts_ctx *ctx, char *html);

/*!
 * Append \p s (\p len bytes) HTML-escaped to \p out (capacity \p cap,
 * always NUL-terminated when cap > 0): the escaping the page uses, for
 * tests and other writers. \return the length the full escaped text
 * needs (without NUL), as snprintf.
 */
MTS_API size_t mts_rpt_html_escape(const char *s, size_t len, char *out,
                                   size_t cap);

#ifdef __cplusplus
}
#endif
#endif /* MTASTS_RPT_HTML_H */
