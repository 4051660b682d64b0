/*
 * sts_state.c - the RFC 8461 cache and refresh rules as pure functions
 * (mtasts/sts_state.h). No I/O, no clock: the caller passes `now`.
 *
 * The entry is plain data that the caller may have loaded from SQLite or
 * Redis, so nothing here trusts it: ids are read with a bound, and time
 * sums saturate instead of overflowing.
 *
 * Decisions pinned by tests (docs/decisions.md):
 *  - AMBIG-CACHE-1: an unchanged TXT id never moves fetched_at.
 *  - AMBIG-POL-5:   max_age 0 is applied once and not cached.
 *  - AMBIG-TXT-3:   no cache + TXT tempfail -> no fetch, nothing applied.
 */
#include <string.h>

#include <mtasts/limits.h>
#include <mtasts/sts_state.h>

/* a + b for b >= 0, saturating at INT64_MAX. */
static int64_t state_add(int64_t a, int64_t b) {
  if (b > 0 && a > INT64_MAX - b) {
    return INT64_MAX;
  }
  return a + b;
}

/* Length of a usable id (1..MTS_STS_ID_MAX octets), or 0 when id is NULL,
 * empty or too long. */
static size_t state_id_len(const char *id) {
  size_t n;

  if (id == NULL) {
    return 0;
  }
  n = strnlen(id, MTS_STS_ID_MAX + 1);
  return n > MTS_STS_ID_MAX ? 0 : n;
}

/* Is the stored id field (MTS_STS_ID_MAX + 1 octets) equal to id?
 * Case-sensitive: the id is opaque (RFC 8461 3.1; C16). */
static bool state_id_eq(const char field[MTS_STS_ID_MAX + 1], const char *id) {
  size_t flen = strnlen(field, MTS_STS_ID_MAX + 1);
  size_t ilen = state_id_len(id);

  return ilen != 0 && flen == ilen && memcmp(field, id, ilen) == 0;
}

static void state_id_set(char field[MTS_STS_ID_MAX + 1], const char *id,
                         size_t len) {
  memcpy(field, id, len);
  field[len] = '\0';
}

void mts_sts_entry_init(struct mts_sts_entry *e) {
  if (e == NULL) {
    return;
  }
  memset(e, 0, sizeof(*e));
  e->has_policy = false;
  e->mode = MTS_STS_MODE_UNKNOWN;
}

bool mts_sts_entry_valid(const struct mts_sts_entry *e, int64_t now) {
  if (e == NULL || !e->has_policy || e->max_age <= 0) {
    return false;
  }
  return now < state_add(e->fetched_at, e->max_age);
}

int64_t mts_sts_entry_expires(const struct mts_sts_entry *e) {
  if (e == NULL || !e->has_policy) {
    return 0;
  }
  return state_add(e->fetched_at, e->max_age > 0 ? e->max_age : 0);
}

bool mts_sts_state_may_fetch(const struct mts_sts_entry *e, const char *id,
                             int64_t now) {
  if (state_id_len(id) == 0) {
    return false; /* nothing to fetch without an id */
  }
  if (e == NULL || !state_id_eq(e->failed_id, id)) {
    return true; /* the backoff is per id (RFC 8461 3.3; F25) */
  }
  /* A clock that went back before the failure does not extend the
   * window. */
  return !(now >= e->failed_at &&
           now < state_add(e->failed_at, MTS_STS_FETCH_BACKOFF));
}

void mts_sts_state_decide(const struct mts_sts_entry *e,
                          enum mts_sts_txt_outcome txt, const char *txt_id,
                          int64_t now, struct mts_sts_decision *out) {
  bool valid;

  if (out == NULL) {
    return;
  }
  valid = mts_sts_entry_valid(e, now);
  out->fetch = false;
  /* RFC 8461 3.3: a valid cached policy applies whenever no live policy
   * can be had: TXT absent (not enough to drop a cached policy, 10.2),
   * invalid (C07), unreachable (C08), or a failed fetch (C04, C05). An
   * expired entry stays stored but is never applied (FETCH-11). */
  out->apply_cached = valid;
  if (txt != MTS_STS_TXT_OUT_VALID || state_id_len(txt_id) == 0) {
    /* AMBIG-TXT-3: with no valid cache and a TXT tempfail nothing is
     * fetched (there is no id to fetch) and nothing is applied; the
     * daemon answers TEMP or "no policy" by configuration. */
    return;
  }
  if (valid && state_id_eq(e->id, txt_id)) {
    return; /* C02: unchanged id, cache still valid; fetched_at untouched */
  }
  /* New id (C04, C16, C17), expired cache (C10) or no cache (C01, C11). */
  out->fetch = mts_sts_state_may_fetch(e, txt_id, now);
}

bool mts_sts_state_fetched(struct mts_sts_entry *e, const char *id,
                           enum mts_sts_mode mode, int64_t max_age,
                           int64_t now) {
  size_t len = state_id_len(id);

  if (e == NULL) {
    return false;
  }
  if (len == 0) {
    return false; /* no usable id (caller error): apply once, keep entry */
  }
  if (max_age <= 0) {
    /* AMBIG-POL-5: max_age 0 means "cache for 0 s": apply to this
     * delivery only. The new policy still supersedes the cached one,
     * so the entry is reset (a failure record goes with it). */
    mts_sts_entry_init(e);
    return false;
  }
  if (max_age > MTS_STS_MAX_AGE_MAX) {
    max_age = MTS_STS_MAX_AGE_MAX; /* the parser refuses these anyway */
  }
  e->has_policy = true;
  state_id_set(e->id, id, len);
  e->mode = mode; /* mode none is kept: it replaces enforce (C13, 8.3) */
  e->max_age = max_age;
  e->fetched_at = now; /* AMBIG-CACHE-1: only here does the expiry move */
  if (state_id_eq(e->failed_id, id)) {
    e->failed_id[0] = '\0';
    e->failed_at = 0;
  }
  return true;
}

void mts_sts_state_fetch_failed(struct mts_sts_entry *e, const char *id,
                                int64_t now) {
  size_t len = state_id_len(id);

  if (e == NULL || len == 0) {
    return;
  }
  state_id_set(e->failed_id, id, len);
  e->failed_at = now;
}

bool mts_sts_state_refresh_due(const struct mts_sts_entry *e, int64_t interval,
                               int64_t now) {
  int64_t half;
  int64_t wait;

  if (e == NULL || !e->has_policy) {
    return false;
  }
  half = e->max_age > 0 ? e->max_age / 2 : 0;
  wait = interval < 0 ? 0 : interval;
  if (half < wait) {
    wait = half;
  }
  return now >= state_add(e->fetched_at, wait);
}

bool mts_sts_state_alert_on_failure(const struct mts_sts_entry *e) {
  return e != NULL && e->has_policy && e->mode != MTS_STS_MODE_NONE;
}
