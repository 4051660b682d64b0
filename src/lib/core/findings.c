/*
 * findings.c - the ordered list of findings a parser reports, optionally
 * capped (mts_findings_limit(), findings_int.h).
 */
#include "findings_int.h"

#include <stdio.h>
#include <string.h>

void mts_findings_init(struct mts_findings *f, struct mts_arena *arena) {
  memset(f, 0, sizeof(*f));
  f->arena = arena;
}

void mts_findings_cleanup(struct mts_findings *f) {
  if (f->v != NULL) {
    mts_free(mts_arena_ctx(f->arena), f->v);
  }
  f->v = NULL;
  f->n = f->cap = 0;
}

void mts_findings_limit(struct mts_findings *f, size_t limit,
                        const char *code) {
  f->limit = limit;
  f->trunc_code = code;
}

/* Room for one more entry in f->v. */
static enum mts_status grow(struct mts_findings *f) {
  size_t ncap;
  struct mts_finding *nv;

  if (f->n < f->cap) {
    return MTS_OK;
  }
  ncap = f->cap == 0 ? 8 : f->cap * 2;
  nv = mts_reallocarray(mts_arena_ctx(f->arena), f->v, ncap, sizeof(*nv));
  if (nv == NULL) {
    f->oom = true;
    return MTS_ENOMEM;
  }
  f->v = nv;
  f->cap = ncap;
  return MTS_OK;
}

/* A finding past the limit: counted, and carried by the one truncation
 * finding (appended for the first, at index f->limit). */
static enum mts_status drop(struct mts_findings *f, const char *code,
                            enum mts_severity sev) {
  struct mts_finding *fi;

  if (f->dropped == 0 || sev > f->dropped_sev) {
    f->dropped_sev = sev;
    f->dropped_worst = code;
  }
  f->dropped++;
  if (f->n == f->limit) {
    if (grow(f) != MTS_OK) {
      return MTS_ENOMEM;
    }
    fi = &f->v[f->n++];
    fi->code = f->trunc_code;
    fi->line = 0;
    fi->col = 0;
    fi->message = "more findings, not recorded";
  }
  f->v[f->limit].severity = f->dropped_sev;
  return MTS_OK;
}

enum mts_status mts_findings_add(struct mts_findings *f, const char *code,
                                 enum mts_severity sev, uint32_t line,
                                 uint32_t col, const char *fmt, ...) {
  struct mts_finding *fi;
  va_list ap;
  char *msg;

  if (f->limit != 0 && f->n >= f->limit) {
    return drop(f, code, sev);
  }
  if (grow(f) != MTS_OK) {
    return MTS_ENOMEM;
  }
  va_start(ap, fmt);
  msg = mts_arena_vprintf(f->arena, fmt, ap);
  va_end(ap);
  if (msg == NULL) {
    f->oom = true;
    return MTS_ENOMEM;
  }
  fi = &f->v[f->n++];
  fi->code = code;
  fi->severity = sev;
  fi->line = line;
  fi->col = col;
  fi->message = msg;
  return MTS_OK;
}

void mts_findings_finish(struct mts_findings *f) {
  char *msg;

  if (f->dropped == 0 || f->n <= f->limit) {
    return;
  }
  msg = mts_arena_printf(f->arena,
                         "%zu more finding%s after the first %zu not "
                         "recorded; the first of the worst: %s %s",
                         f->dropped, f->dropped == 1 ? "" : "s", f->limit,
                         mts_severity_str(f->dropped_sev), f->dropped_worst);
  if (msg == NULL) {
    f->oom = true;
    return;
  }
  f->v[f->limit].message = msg;
}

bool mts_findings_any(const struct mts_findings *f, enum mts_severity sev) {
  size_t i;

  for (i = 0; i < f->n; i++) {
    if (f->v[i].severity >= sev) {
      return true;
    }
  }
  return false;
}

char *mts_findings_escape(const uint8_t *s, size_t len, char *out,
                          size_t outsize) {
  static const char hex[] = "0123456789abcdef";
  size_t i, o = 0;

  if (outsize == 0) {
    return out;
  }
  for (i = 0; i < len; i++) {
    unsigned char c = s[i];
    size_t w = (c >= 0x20 && c < 0x7f && c != '\\') ? 1 : 4;

    if (o + w + 4 > outsize) { /* keep room for "..." and NUL */
      if (o + 4 <= outsize) {
        memcpy(out + o, "...", 3);
        o += 3;
      }
      break;
    }
    if (w == 1) {
      out[o++] = (char)c;
    } else {
      out[o++] = '\\';
      out[o++] = 'x';
      out[o++] = hex[c >> 4];
      out[o++] = hex[c & 0xf];
    }
  }
  out[o] = '\0';
  return out;
}

size_t mts_findings_count(const struct mts_findings *f) {
  return f == NULL ? 0 : f->n;
}

const struct mts_finding *mts_findings_get(const struct mts_findings *f,
                                           size_t i) {
  if (f == NULL || i >= f->n) {
    return NULL;
  }
  return &f->v[i];
}

const struct mts_finding *mts_findings_find(const struct mts_findings *f,
                                            const char *code) {
  size_t i;

  if (f == NULL || code == NULL) {
    return NULL;
  }
  for (i = 0; i < f->n; i++) {
    if (strcmp(f->v[i].code, code) == 0) {
      return &f->v[i];
    }
  }
  return NULL;
}
