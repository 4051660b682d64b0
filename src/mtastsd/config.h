/*
 * config.h - mtastsd's configuration: the YAML file of
 * postfix-mta-sts-resolver (mta-sts-daemon.yml(5)), read with the same
 * keys and defaults, plus mtastsd's own keys. Immutable once loaded: a
 * reload (SIGHUP) builds a new one and swaps it in.
 *
 * Every key is one row of a declarative table in config.c (name, type,
 * default, min, max, offset, doc), which also produces the defaults
 * section of mtastsd.yml(5).
 *
 * Ownership: the loader returns one heap object; every string in it
 * belongs to it and is released by mtastsd_config_free(). Lifetime:
 * until that call. Thread safety: a loaded config is read-only and may
 * be shared; loading has no global state (libyaml has none either).
 * Limits: MTASTSD_CONFIG_MAX_BYTES per file. Semantics, the YAML 1.1
 * scalar rules and every decision: mtastsd.yml(5) and
 * docs/decisions.md. Tests: tests/unit/test_mtastsd_config.c.
 */
#ifndef MTASTSD_CONFIG_H
#define MTASTSD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <mtasts/common.h>

/* A zone: selected by the socketmap name (`socketmap:inet:h:p:NAME`). */
struct mtastsd_zone {
  char *name;          /* NULL for default_zone */
  uint32_t timeout;    /* s, DNS and HTTPS (each); peer default 4 */
  bool strict_testing; /* mode testing answered as enforce; false */
  bool require_sni;    /* append servername=hostname; true */
  bool tlsrpt;         /* append Postfix 3.10 TLSRPT attributes; false */
};

enum mtastsd_cache_type {
  MTASTSD_CACHE_INTERNAL = 0,
  MTASTSD_CACHE_SQLITE,
  MTASTSD_CACHE_REDIS,
  /* the next two are accepted for compatibility; the daemon refuses
   * them at start */
  MTASTSD_CACHE_REDIS_SENTINEL,
  MTASTSD_CACHE_POSTGRES
};

/* What to answer when discovery cannot finish in time and no cached
 * policy exists (mtastsd key `on_tempfail`). */
enum mtastsd_tempfail {
  MTASTSD_TEMPFAIL_NOTFOUND = 0, /* fail open, as the peer does (default) */
  MTASTSD_TEMPFAIL_TEMP          /* answer TEMP: Postfix defers and retries */
};

/* How a policy's `*.` patterns reach Postfix's match= (mtastsd key
 * `wildcard_match`; docs/decisions.md AN-2). */
enum mtastsd_wildcard {
  /* Each `*.suffix` becomes the domain's MX host names it matches (RFC
   * 8461 4.1: one label), resolved by the daemon (default). */
  MTASTSD_WILDCARD_EXPAND = 0,
  /* `.suffix`, as the peer: Postfix then accepts any depth of subdomain,
   * looser than the RFC. */
  MTASTSD_WILDCARD_POSTFIX
};

/* A per-domain override (mtastsd key `overrides`). */
struct mtastsd_override {
  char *domain; /* A-label, lower case */
  char *answer; /* NULL: force NOTFOUND; else the exact OK payload */
};

/* A configuration file larger than this is refused (a real one is a
 * few KiB; the cap bounds libyaml's work on a hostile file). */
#define MTASTSD_CONFIG_MAX_BYTES (1024 * 1024)

struct mtastsd_config {
  char *path;                 /* the file it was read from, or NULL */
  struct mts_allocator alloc; /* what the strings were allocated with */

  /* listener (peer keys) */
  char *host;                /* 127.0.0.1 */
  uint16_t port;             /* 8461 */
  char *unix_path;           /* key `path`: UNIX socket instead of TCP */
  int unix_mode;             /* key `mode`: chmod of the socket, -1 unset */
  char *unix_owner;          /* mtastsd key `owner`, NULL unset */
  char *unix_group;          /* mtastsd key `group`, NULL unset */
  bool reuse_port;           /* true */
  uint32_t shutdown_timeout; /* s, 20 */
  uint32_t cache_grace;      /* s, 60; 0: background check at every hit */

  /* proactive_policy_fetching */
  bool refresh_enabled;         /* false (peer default) */
  uint32_t refresh_interval;    /* 86400 */
  unsigned refresh_concurrency; /* 100 */
  double refresh_grace_ratio;   /* 2.0; below 1: threshold > interval */

  /* cache */
  enum mtastsd_cache_type cache_type; /* internal */
  size_t cache_size;                  /* internal: options.cache_size, 10000 */
  char *sqlite_filename;              /* sqlite: options.filename (required) */
  char *redis_url;                    /* redis: options.url (required) */
  char *redis_prefix;                 /* mtastsd: options.prefix, "mtasts:" */
  double redis_socket_timeout;        /* redis: options.socket_timeout, 5 s */
  double redis_connect_timeout;       /* redis: socket_connect_timeout, 5 s */

  struct mtastsd_zone default_zone;
  struct mtastsd_zone *zones;
  size_t nzones;

  /* mtastsd's own keys */
  char *resolver;        /* IP[:PORT], NULL: /etc/resolv.conf */
  char *ca_file;         /* NULL: system trust store */
  uint32_t negative_ttl; /* s, 60; 0: off */
  enum mtastsd_tempfail on_tempfail;
  enum mtastsd_wildcard wildcard_match; /* expand */
  bool dane;            /* answer dane-only when MX hosts have
                           DNSSEC-validated TLSA records; true */
  char *metrics_listen; /* host:port of the Prometheus endpoint, NULL off */
  char *control_socket; /* UNIX socket for `mtasts cache`, NULL off */
  char *tlsrpt_socket;  /* TLSRPT collector's datagram socket, NULL off */
  struct mtastsd_override *overrides;
  size_t noverrides;
};

/*!
 * Read and validate the YAML file \p path (NULL: defaults only). Every
 * problem is reported to \p errs as "file:line: message" (all of them,
 * not just the first; at most 100, then "file: too many errors, giving
 * up"). A file that cannot be opened, is not a regular file, is
 * world-writable or is larger than MTASTSD_CONFIG_MAX_BYTES is refused
 * with one "file: message" line. \p errs may be NULL.
 * \return the config (c->path is a copy of \p path), or NULL when there
 * was any error (or on out of memory).
 */
struct mtastsd_config *mtastsd_config_load(const char *path, FILE *errs);

/*! Parse YAML from memory; \p name is used in messages. As above.
 *  \p errs may be NULL (count only). */
struct mtastsd_config *mtastsd_config_parse(const char *name,
                                            const unsigned char *data,
                                            size_t len, FILE *errs);

/*! As mtastsd_config_parse(), allocating the config through \p alloc
 *  (NULL: the C library's). Tests use it for allocation-failure sweeps;
 *  an allocation failure reports "name: out of memory" and returns NULL.
 *  (libyaml's own allocations always use malloc.) */
struct mtastsd_config *
mtastsd_config_parse_with(const struct mts_allocator *alloc, const char *name,
                          const unsigned char *data, size_t len, FILE *errs);

/*! Release \p c and everything in it. NULL is a no-op. */
void mtastsd_config_free(struct mtastsd_config *c);

/*! The zone for socketmap name \p name (\p len octets, compared
 *  exactly, case-sensitively as the peer's dict lookup), or
 *  &c->default_zone when no zone has that name. Borrowed from \p c. */
const struct mtastsd_zone *mtastsd_config_zone(const struct mtastsd_config *c,
                                               const char *name, size_t len);

/*! Write the defaults as a tbl(1) table for mtastsd.yml(5): one row per
 *  key of the table (key, type, default, range). The page holds this
 *  text between the markers `.\" BEGIN GENERATED DEFAULTS` and
 *  `.\" END GENERATED DEFAULTS`; test_mtastsd_config checks it. */
void mtastsd_config_write_defaults_man(FILE *out);

#endif /* MTASTSD_CONFIG_H */
