/*
 * cache.c - the public store calls (mtasts/cache.h): argument checks and
 * normalisation, then dispatch through the store's ops table
 * (cache_int.h). Backends: cache_sqlite.c, cache_redis.c.
 */
#include <string.h>

#include "cache/cache_int.h"
#include "cache/cache_record_int.h"
#include "core/ascii_int.h"

/* Copy \p domain lower-cased into \p buf (MTS_DOMAIN_MAX + 1 octets).
 * \return false when it is not a usable domain. */
static bool cache_norm_domain(const char *domain,
                              char buf[MTS_DOMAIN_MAX + 1]) {
  size_t n, i;

  if (domain == NULL) {
    return false;
  }
  n = strnlen(domain, MTS_DOMAIN_MAX + 1);
  if (n > MTS_DOMAIN_MAX) {
    return false;
  }
  for (i = 0; i < n; i++) {
    buf[i] = (char)mts_lower((uint8_t)domain[i]);
  }
  buf[n] = '\0';
  return mts_cache_record_domain_ok(buf, n);
}

const char *mts_cache_name(const struct mts_cache *c) {
  return c != NULL ? c->ops->name : "none";
}

void mts_cache_on_reset(struct mts_cache *c, mts_cache_reset_cb cb,
                        void *arg) {
  if (c != NULL) {
    c->reset_cb = cb;
    c->reset_arg = arg;
  }
}

enum mts_status mts_cache_get(struct mts_cache *c, const char *domain,
                              mts_cache_get_cb cb, void *arg) {
  char d[MTS_DOMAIN_MAX + 1];

  if (c == NULL || cb == NULL || !cache_norm_domain(domain, d)) {
    return MTS_EINVAL;
  }
  return c->ops->get(c, d, cb, arg);
}

enum mts_status mts_cache_put(struct mts_cache *c,
                              const struct mts_cache_record *rec,
                              mts_cache_done_cb cb, void *arg) {
  char d[MTS_DOMAIN_MAX + 1];
  struct mts_cache_record r;
  const char *why = NULL;

  if (c == NULL || rec == NULL || !cache_norm_domain(rec->domain, d)) {
    return MTS_EINVAL;
  }
  r = *rec;
  r.domain = d;
  if (mts_cache_record_check(&r, &why) != MTS_OK) {
    mts_log(c->ctx, MTS_LOG_DEBUG, "cache %s: put %s refused: %s",
            c->ops->name, d, why);
    return MTS_EINVAL;
  }
  return c->ops->put(c, &r, cb, arg);
}

enum mts_status mts_cache_del(struct mts_cache *c, const char *domain,
                              mts_cache_done_cb cb, void *arg) {
  char d[MTS_DOMAIN_MAX + 1];

  if (c == NULL || !cache_norm_domain(domain, d)) {
    return MTS_EINVAL;
  }
  return c->ops->del(c, d, cb, arg);
}

enum mts_status mts_cache_scan(struct mts_cache *c, mts_cache_each_cb each,
                               mts_cache_done_cb done, void *arg) {
  if (c == NULL || each == NULL) {
    return MTS_EINVAL;
  }
  return c->ops->scan(c, each, done, arg);
}

void mts_cache_destroy(struct mts_cache *c) {
  if (c == NULL) {
    return;
  }
  c->ops->destroy(c);
}
