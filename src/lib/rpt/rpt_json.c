/*
 * rpt_json.c - findings shared by the TLSRPT JSON parsers (see
 * rpt_json_int.h).
 */
#include "rpt/rpt_json_int.h"

#include <string.h>

#define SNIP 64

const char *mts_rpt_json_type_name(const json_t *v) {
  switch (json_typeof(v)) {
  case JSON_OBJECT:
    return "an object";
  case JSON_ARRAY:
    return "an array";
  case JSON_STRING:
    return "a string";
  case JSON_INTEGER:
    return "an integer";
  case JSON_REAL:
    return "a real number";
  case JSON_TRUE:
  case JSON_FALSE:
    return "a boolean";
  case JSON_NULL:
    return "null";
  }
  return "unknown";
}

static void add(struct mts_rpt_json_findings *jf, const char *code,
                enum mts_severity sev, const char *msg) {
  if (msg == NULL) {
    jf->findings->oom = true;
    return;
  }
  if (mts_findings_add(jf->findings, code, sev, 0, 0, "%s", msg) != MTS_OK) {
    return; /* remembered in findings->oom */
  }
}

void mts_rpt_json_kv(struct mts_rpt_json_findings *jf, const char *code,
                     enum mts_severity sev, const char *key, const char *what,
                     const char *val) {
  char snip[SNIP];

  if (val != NULL) {
    mts_findings_escape((const uint8_t *)val, strlen(val), snip, sizeof(snip));
    add(jf, code, sev,
        mts_arena_printf(jf->arena, "\"%s\": %s \"%s\"", key, what, snip));
  } else {
    add(jf, code, sev, mts_arena_printf(jf->arena, "\"%s\": %s", key, what));
  }
}

void mts_rpt_json_wrong_type(struct mts_rpt_json_findings *jf,
                             const char *key, const json_t *v,
                             const char *want) {
  add(jf, jf->code_wrong_type, MTS_SEV_ERROR,
      mts_arena_printf(jf->arena, "\"%s\" is %s, want %s", key,
                       mts_rpt_json_type_name(v), want));
}

void mts_rpt_json_missing(struct mts_rpt_json_findings *jf, const char *key,
                          const char *where) {
  add(jf, jf->code_missing, MTS_SEV_ERROR,
      mts_arena_printf(jf->arena, "\"%s\" missing in %s", key, where));
}

void mts_rpt_json_unknown_keys(struct mts_rpt_json_findings *jf, json_t *obj,
                               const char *const *known, const char *where) {
  const char *key;
  json_t *v;
  size_t i;
  char snip[SNIP];
  char *msg;

  json_object_foreach(obj, key, v) {
    bool hit = false;

    for (i = 0; known[i] != NULL; i++) {
      if (strcmp(key, known[i]) == 0) {
        hit = true;
        break;
      }
    }
    if (hit || jf->nunknown >= MTS_RPT_JSON_UNKNOWN_MAX) {
      continue;
    }
    jf->nunknown++;
    mts_findings_escape((const uint8_t *)key, strlen(key), snip, sizeof(snip));
    msg = mts_arena_printf(jf->arena, "unknown key \"%s\" in %s ignored", snip,
                           where);
    add(jf, jf->code_unknown, MTS_SEV_INFO, msg);
    if (msg == NULL) {
      return;
    }
  }
}
