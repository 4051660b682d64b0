/*
 * rpt_json_int.h - the findings side of the two TLSRPT JSON parsers
 * (rpt_datagram.c, rpt_report.c): a key of the wrong JSON type, a
 * missing key, unknown keys (info, at most MTS_RPT_JSON_UNKNOWN_MAX per
 * parse), and a finding naming a key with an escaped value. Each parser
 * passes its own finding codes. Messages live in the parse result's
 * arena; an allocation failure is remembered in findings->oom and
 * surfaces at the end of the parse. Internal.
 */
#ifndef MTS_RPT_JSON_INT_H
#define MTS_RPT_JSON_INT_H

#include <jansson.h>

#include "core/arena_int.h"
#include "core/findings_int.h"

#define MTS_RPT_JSON_UNKNOWN_MAX 8

struct mts_rpt_json_findings {
  struct mts_findings *findings;
  struct mts_arena *arena;
  const char *code_wrong_type; /* "dgram-wrong-type", ... */
  const char *code_missing;
  const char *code_unknown;
  unsigned nunknown; /* unknown-key findings so far */
};

/* "an object", "a string", ... for messages. */
const char *mts_rpt_json_type_name(const json_t *v);
/* "\"KEY\": WHAT \"VAL\"" (VAL escaped; without it when NULL). */
void mts_rpt_json_kv(struct mts_rpt_json_findings *jf, const char *code,
                     enum mts_severity sev, const char *key, const char *what,
                     const char *val);
/* Error: "\"KEY\" is <type of v>, want WANT". */
void mts_rpt_json_wrong_type(struct mts_rpt_json_findings *jf,
                             const char *key, const json_t *v,
                             const char *want);
/* Error: "\"KEY\" missing in WHERE". */
void mts_rpt_json_missing(struct mts_rpt_json_findings *jf, const char *key,
                          const char *where);
/* Info for each member of \p obj not in \p known (NULL-terminated). */
void mts_rpt_json_unknown_keys(struct mts_rpt_json_findings *jf, json_t *obj,
                               const char *const *known, const char *where);

#endif /* MTS_RPT_JSON_INT_H */
