/*
 * findings_int.h - building a list of findings. Internal.
 *
 * A findings list lives inside a parse result; its messages are
 * allocated from the result's arena. Messages are sanitised: bytes
 * outside printable ASCII in untrusted text should be escaped by the
 * caller with mts_findings_escape() before they reach a message.
 */
#ifndef MTS_FINDINGS_INT_H
#define MTS_FINDINGS_INT_H

#include "arena_int.h"

struct mts_findings {
  struct mts_arena *arena;
  struct mts_finding *v;
  size_t n;
  size_t cap;
  bool oom; /* an add failed: the result must not be returned */
  /* mts_findings_limit(): 0 records every finding. */
  size_t limit;
  const char *trunc_code;        /* the truncation finding's code */
  size_t dropped;                /* findings past the limit */
  const char *dropped_worst;     /* code of the first of the worst of them */
  enum mts_severity dropped_sev; /* their worst severity */
};

void mts_findings_init(struct mts_findings *f, struct mts_arena *arena);
/* Frees the array (messages belong to the arena). */
void mts_findings_cleanup(struct mts_findings *f);

/*
 * Record at most \p limit findings (0: no limit, the default). Past it a
 * finding is not formatted or stored, only counted: the first one past
 * it appends one more finding with \p code (a string literal, the
 * parser's own prefix, e.g. "report-findings-truncated"), whose severity
 * is raised to the worst severity left out. So the list holds at most
 * limit + 1 findings and mts_findings_any() - and any reader that scans
 * the list for a severity - gives the same answer as for the whole list.
 * Call mts_findings_finish() at the end of the parse for its message.
 */
void mts_findings_limit(struct mts_findings *f, size_t limit, const char *code);

/*
 * Give the truncation finding (if any) its final message: how many
 * findings were left out and the first of the worst of them. No-op when
 * nothing was left out. On allocation failure sets f->oom.
 */
void mts_findings_finish(struct mts_findings *f);

/*
 * Append a finding. `code` must be a string literal (stable identifier).
 * \return MTS_OK or MTS_ENOMEM (also remembered in f->oom).
 */
MTS_WUR enum mts_status mts_findings_add(struct mts_findings *f,
                                         const char *code,
                                         enum mts_severity sev, uint32_t line,
                                         uint32_t col, const char *fmt, ...)
    MTS_PRINTF(6, 7);

/* \return true when some finding has severity \p sev or worse. */
bool mts_findings_any(const struct mts_findings *f, enum mts_severity sev);

/*
 * Write \p len bytes of untrusted \p s into \p out (NUL-terminated,
 * at most \p outsize bytes) with non-printable bytes as \xNN and the
 * result cut to fit with "..." at the end. \return out.
 */
char *mts_findings_escape(const uint8_t *s, size_t len, char *out,
                          size_t outsize);

#endif /* MTS_FINDINGS_INT_H */
