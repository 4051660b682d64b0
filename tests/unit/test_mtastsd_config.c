/*
 * test_mtastsd_config.c - mtastsd.yml: the keys and defaults of
 * postfix-mta-sts-resolver (POSTFIX-NOTES 1.3) plus mtastsd's own,
 * YAML 1.1 scalars as PyYAML reads them, and every error as
 * "file:line: message" (STYLE 13).
 *
 * Vector IDs are ours (the RFC checklist has no configuration vectors):
 * CD defaults, CK keys set, CE errors, CM mode, CB booleans, CI integers,
 * CZ zones, CO overrides, CL load, CG generated man table.
 * Decisions: docs/decisions.md.
 *
 * The man page check: the block between the markers in
 * man/mtastsd.yml.5 must equal mtastsd_config_write_defaults_man().
 * To regenerate it after changing the table, run this test with
 * MTASTSD_REGEN_MAN=1 in the environment (it rewrites the block).
 */
#include "testutil.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

#define NAME "t.yml"

/* Parse `yaml`; *errs gets everything written to the error stream. */
static struct mtastsd_config *parse(const char *yaml, char **errs) {
  size_t n = 0;
  FILE *f = open_memstream(errs, &n);
  struct mtastsd_config *c;

  assert_non_null(f);
  c = mtastsd_config_parse(NAME, (const unsigned char *)yaml, strlen(yaml), f);
  fclose(f);
  return c;
}

/* Parse and require success with no output. */
static struct mtastsd_config *parse_ok(const char *id, const char *yaml) {
  char *errs = NULL;
  struct mtastsd_config *c = parse(yaml, &errs);

  if (c == NULL || errs[0] != '\0') {
    fail_msg("%s: got errors \"%s\", want none", id, errs);
  }
  free(errs);
  return c;
}

static void check_defaults(const char *id, const struct mtastsd_config *c) {
  if (strcmp(c->host, "127.0.0.1") != 0 || c->port != 8461 ||
      c->unix_path != NULL || c->unix_mode != -1 || c->unix_owner != NULL ||
      c->unix_group != NULL || !c->reuse_port || c->shutdown_timeout != 20 ||
      c->cache_grace != 60) {
    fail_msg("%s: listener defaults wrong (host %s port %u)", id, c->host,
             c->port);
  }
  if (c->refresh_enabled || c->refresh_interval != 86400 ||
      c->refresh_concurrency != 100 || c->refresh_grace_ratio != 2.0) {
    fail_msg("%s: proactive_policy_fetching defaults wrong", id);
  }
  if (c->cache_type != MTASTSD_CACHE_INTERNAL || c->cache_size != 10000 ||
      c->sqlite_filename != NULL || c->redis_url != NULL ||
      strcmp(c->redis_prefix, "mtasts:") != 0 ||
      c->redis_socket_timeout != 5.0 || c->redis_connect_timeout != 5.0) {
    fail_msg("%s: cache defaults wrong", id);
  }
  if (c->default_zone.name != NULL || c->default_zone.timeout != 4 ||
      c->default_zone.strict_testing || !c->default_zone.require_sni ||
      c->default_zone.tlsrpt || c->nzones != 0 || c->zones != NULL) {
    fail_msg("%s: zone defaults wrong", id);
  }
  if (c->resolver != NULL || c->ca_file != NULL || c->negative_ttl != 60 ||
      c->on_tempfail != MTASTSD_TEMPFAIL_NOTFOUND || !c->dane ||
      c->metrics_listen != NULL || c->noverrides != 0) {
    fail_msg("%s: mtastsd defaults wrong", id);
  }
}

/* ---- CD: files that mean "all defaults" ---- */

struct text_case {
  const char *id;
  const char *yaml;
};

static const struct text_case default_cases[] = {
    {"CD01 empty file", ""},
    {"CD02 comments only", "# nothing\n   # more\n\n"},
    {"CD03 document marker only", "---\n"},
    {"CD04 explicit null document", "~\n"},
    {"CD05 document end markers", "---\n...\n"},
    {"CD06 empty mapping", "{}\n"},
    {"CD07 null sections", "default_zone:\nzones:\ncache:\n"
                           "proactive_policy_fetching:\noverrides:\n"},
    {"CD08 empty sections", "default_zone: {}\nzones: {}\ncache: {}\n"},
    {"CD09 optional keys null", "path: ~\nmode:\nresolver: null\n"
                                "ca_file: Null\nmetrics_listen: NULL\n"},
    {"CD10 defaults spelled out",
     "host: 127.0.0.1\nport: 8461\nreuse_port: true\n"
     "shutdown_timeout: 20\ncache_grace: 60\n"
     "proactive_policy_fetching: {enabled: false, interval: 86400, "
     "concurrency_limit: 100, grace_ratio: 2.0}\n"
     "cache: {type: internal, options: {cache_size: 10000}}\n"
     "default_zone: {timeout: 4, strict_testing: false, require_sni: true, "
     "tlsrpt: false}\n"
     "negative_ttl: 60\non_tempfail: notfound\ndane: true\n"},
    {"CD11 BOM and CRLF", "\xef\xbb\xbf# c\r\nport: 8461\r\n"},
};

static void test_defaults(void **state) {
  size_t i;
  struct mtastsd_config *c;

  (void)state;
  for (i = 0; i < sizeof(default_cases) / sizeof(default_cases[0]); i++) {
    c = parse_ok(default_cases[i].id, default_cases[i].yaml);
    check_defaults(default_cases[i].id, c);
    mtastsd_config_free(c);
  }
  /* NULL data, and the "no file" load */
  c = mtastsd_config_parse(NAME, NULL, 0, NULL);
  assert_non_null(c);
  check_defaults("CD12 NULL data", c);
  assert_null(c->path);
  mtastsd_config_free(c);
  c = mtastsd_config_load(NULL, NULL);
  assert_non_null(c);
  check_defaults("CD13 load(NULL)", c);
  mtastsd_config_free(c);
  mtastsd_config_free(NULL);
}

/* ---- CK: Debian's shipped file, and every key set ---- */

static void test_debian(void **state) {
  /* /etc/mta-sts-daemon.yml of Debian 12's postfix-mta-sts-resolver */
  static const char debian[] = "#host: 127.0.0.1\n"
                               "#port: 8461\n"
                               "#reuse_port: true\n"
                               "#shutdown_timeout: 20\n"
                               "cache:\n"
                               "  type: sqlite\n"
                               "  options:\n"
                               "    filename: \"/var/lib/mta-sts/cache.db\"\n"
                               "#default_zone:\n"
                               "#  strict_testing: false\n"
                               "#  timeout: 4\n"
                               "#zones:\n"
                               "#  myzone:\n"
                               "#    strict_testing: false\n"
                               "#    timeout: 4\n";
  struct mtastsd_config *c = parse_ok("CK01 Debian", debian);

  (void)state;
  assert_int_equal(c->cache_type, MTASTSD_CACHE_SQLITE);
  assert_string_equal(c->sqlite_filename, "/var/lib/mta-sts/cache.db");
  assert_int_equal(c->port, 8461);
  assert_string_equal(c->host, "127.0.0.1");
  assert_int_equal(c->default_zone.timeout, 4);
  mtastsd_config_free(c);

  c = parse_ok("CK02 Debian flow style",
               "cache: {type: sqlite, options: {filename: "
               "\"/var/lib/mta-sts/cache.db\"}}\n");
  assert_int_equal(c->cache_type, MTASTSD_CACHE_SQLITE);
  assert_string_equal(c->sqlite_filename, "/var/lib/mta-sts/cache.db");
  mtastsd_config_free(c);
}

static const char every_key[] = "host: ::1\n"
                                "port: 9461\n"
                                "path: /var/spool/postfix/mta-sts.sock\n"
                                "mode: 0660\n"
                                "owner: postfix\n"
                                "group: '1001'\n"
                                "reuse_port: no\n"
                                "shutdown_timeout: 0\n"
                                "cache_grace: 0\n"
                                "proactive_policy_fetching:\n"
                                "  enabled: Yes\n"
                                "  interval: 3600\n"
                                "  concurrency_limit: 7\n"
                                "  grace_ratio: 1.5\n"
                                "cache:\n"
                                "  options:\n"
                                "    url: \"redis://localhost/1\"\n"
                                "    prefix: \"sts:\"\n"
                                "    socket_timeout: 0.5\n"
                                "    socket_connect_timeout: 2\n"
                                "  type: redis\n"
                                "default_zone:\n"
                                "  timeout: 10\n"
                                "  strict_testing: on\n"
                                "  require_sni: off\n"
                                "  tlsrpt: TRUE\n"
                                "zones:\n"
                                "  strict:\n"
                                "    strict_testing: true\n"
                                "  nosni:\n"
                                "    require_sni: false\n"
                                "    timeout: 1:00\n"
                                "  empty:\n"
                                "resolver: \"[2001:db8::53]:5353\"\n"
                                "ca_file: /etc/ssl/certs/ca-certificates.crt\n"
                                "negative_ttl: 0x1e\n"
                                "on_tempfail: temp\n"
                                "dane: false\n"
                                "metrics_listen: \"127.0.0.1:9100\"\n"
                                "overrides:\n"
                                "  Example.COM.: none\n"
                                "  b\xc3\xbc"
                                "cher.example: \"secure match=mx.b\xc3\xbc"
                                "cher.example\"\n"
                                "  mail.test: dane-only\n";

static void test_every_key(void **state) {
  struct mtastsd_config *c = parse_ok("CK03 every key", every_key);
  const struct mtastsd_zone *z;

  (void)state;
  assert_string_equal(c->host, "::1");
  assert_int_equal(c->port, 9461);
  assert_string_equal(c->unix_path, "/var/spool/postfix/mta-sts.sock");
  assert_int_equal(c->unix_mode, 0660);
  assert_string_equal(c->unix_owner, "postfix");
  assert_string_equal(c->unix_group, "1001");
  assert_false(c->reuse_port);
  assert_int_equal(c->shutdown_timeout, 0);
  assert_int_equal(c->cache_grace, 0);
  assert_true(c->refresh_enabled);
  assert_int_equal(c->refresh_interval, 3600);
  assert_int_equal(c->refresh_concurrency, 7);
  assert_true(c->refresh_grace_ratio == 1.5);
  assert_int_equal(c->cache_type, MTASTSD_CACHE_REDIS);
  assert_string_equal(c->redis_url, "redis://localhost/1");
  assert_string_equal(c->redis_prefix, "sts:");
  assert_true(c->redis_socket_timeout == 0.5);
  assert_true(c->redis_connect_timeout == 2.0);
  assert_int_equal(c->cache_size, 10000);
  assert_int_equal(c->default_zone.timeout, 10);
  assert_true(c->default_zone.strict_testing);
  assert_false(c->default_zone.require_sni);
  assert_true(c->default_zone.tlsrpt);
  assert_int_equal(c->nzones, 3);
  /* zones do not inherit from default_zone (the peer's semantics) */
  z = mtastsd_config_zone(c, "strict", 6);
  assert_string_equal(z->name, "strict");
  assert_true(z->strict_testing);
  assert_int_equal(z->timeout, 4);
  assert_true(z->require_sni);
  assert_false(z->tlsrpt);
  z = mtastsd_config_zone(c, "nosni", 5);
  assert_string_equal(z->name, "nosni");
  assert_false(z->require_sni);
  assert_int_equal(z->timeout, 60); /* 1:00 is sexagesimal 60 */
  z = mtastsd_config_zone(c, "empty", 5);
  assert_string_equal(z->name, "empty");
  assert_int_equal(z->timeout, 4);
  assert_false(z->strict_testing);
  assert_string_equal(c->resolver, "[2001:db8::53]:5353");
  assert_string_equal(c->ca_file, "/etc/ssl/certs/ca-certificates.crt");
  assert_int_equal(c->negative_ttl, 30);
  assert_int_equal(c->on_tempfail, MTASTSD_TEMPFAIL_TEMP);
  assert_false(c->dane);
  assert_string_equal(c->metrics_listen, "127.0.0.1:9100");
  assert_int_equal(c->noverrides, 3);
  assert_string_equal(c->overrides[0].domain, "example.com");
  assert_null(c->overrides[0].answer);
  assert_string_equal(c->overrides[1].domain, "xn--bcher-kva.example");
  assert_string_equal(c->overrides[1].answer, "secure match=mx.b\xc3\xbc"
                                              "cher.example");
  assert_string_equal(c->overrides[2].domain, "mail.test");
  assert_string_equal(c->overrides[2].answer, "dane-only");
  mtastsd_config_free(c);
}

/* The other cache types and their options. */
static void test_cache_types(void **state) {
  struct mtastsd_config *c;

  (void)state;
  c = parse_ok("CK04 internal size", "cache: {type: internal, options: "
                                     "{cache_size: 10_000_000}}\n");
  assert_int_equal(c->cache_type, MTASTSD_CACHE_INTERNAL);
  assert_int_equal(c->cache_size, 10000000);
  mtastsd_config_free(c);
  c = parse_ok("CK05 sqlite compat keys",
               "cache:\n  type: sqlite\n  options:\n    filename: /x.db\n"
               "    threads: 4\n    timeout: 5\n");
  assert_int_equal(c->cache_type, MTASTSD_CACHE_SQLITE);
  assert_string_equal(c->sqlite_filename, "/x.db");
  mtastsd_config_free(c);
  c = parse_ok("CK06 redis_sentinel",
               "cache:\n  type: redis_sentinel\n  options:\n"
               "    sentinels: [[sentinel1, 26379], [sentinel2, 26379]]\n"
               "    sentinel_master_name: mymaster\n"
               "    socket_timeout: 1\n");
  assert_int_equal(c->cache_type, MTASTSD_CACHE_REDIS_SENTINEL);
  mtastsd_config_free(c);
  c = parse_ok("CK07 postgres",
               "cache:\n  type: postgres\n  options:\n"
               "    dsn: postgres://user@localhost/mta_sts\n    timeout: 5\n");
  assert_int_equal(c->cache_type, MTASTSD_CACHE_POSTGRES);
  mtastsd_config_free(c);
  c = parse_ok("CK08 unix urls",
               "cache: {type: redis, options: {url: 'unix:///run/r.sock'}}\n");
  assert_string_equal(c->redis_url, "unix:///run/r.sock");
  mtastsd_config_free(c);
  c = parse_ok("CK08b unix url, short form",
               "cache: {type: redis, options: {url: 'unix:/run/r.sock'}}\n");
  assert_string_equal(c->redis_url, "unix:/run/r.sock");
  mtastsd_config_free(c);
  c = parse_ok("CK09 tags and anchors",
               "port: !!int \"8000\"\ndane: !!bool 'no'\n"
               "default_zone: &z {timeout: 9}\nzones: {a: *z}\n"
               "proactive_policy_fetching: {grace_ratio: !!float 3}\n");
  assert_int_equal(c->port, 8000);
  assert_false(c->dane);
  assert_int_equal(mtastsd_config_zone(c, "a", 1)->timeout, 9);
  assert_true(c->refresh_grace_ratio == 3.0);
  mtastsd_config_free(c);
}

/* ---- CE: errors, with their exact text ---- */

struct err_case {
  const char *id;
  const char *yaml;
  const char *want; /* the exact error output */
};

static const struct err_case err_cases[] = {
    {"CE01 unknown key with suggestion", "prot: 25\n",
     NAME ":1: unknown key 'prot' (did you mean 'port'?)\n"},
    {"CE02 unknown key, no suggestion", "port: 25\nbogus: 1\n",
     NAME ":2: unknown key 'bogus'\n"},
    {"CE03 unknown key in a section", "default_zone:\n  timout: 3\n",
     NAME ":2: unknown key 'timout' in default_zone (did you mean "
          "'timeout'?)\n"},
    {"CE04 key in the wrong section", "timeout: 3\n",
     NAME ":1: unknown key 'timeout' (it belongs in default_zone or "
          "zones.NAME)\n"},
    {"CE05 option of another cache type",
     "cache:\n  type: redis\n  options:\n    url: redis://h\n"
     "    filename: /x\n",
     NAME ":5: unknown key 'filename' in cache.options (it is an option of "
          "cache type sqlite)\n"},
    {"CE06 duplicate key", "port: 1\nhost: h\nport: 2\n",
     NAME ":3: duplicate key 'port' (first at line 1)\n"},
    {"CE07 duplicate key in a zone",
     "zones:\n  z:\n    timeout: 1\n"
     "    timeout: 2\n",
     NAME ":4: zones.z: duplicate key 'timeout' (first at line 3)\n"},
    {"CE08 duplicate zone", "zones:\n  z: {}\n  z: {}\n",
     NAME ":3: zones: duplicate key 'z' (first at line 2)\n"},
    {"CE09 sequence for a mapping", "default_zone:\n  - timeout: 4\n",
     NAME ":2: default_zone: expected a mapping, got a sequence\n"},
    {"CE10 mapping for a scalar", "port:\n  a: 1\n",
     NAME ":2: port: expected an integer, got a mapping\n"},
    {"CE11 port out of range", "port: 65536\n",
     NAME ":1: port: 65536 is out of range (1..65535)\n"},
    {"CE12 port zero", "port: 0\n",
     NAME ":1: port: 0 is out of range (1..65535)\n"},
    {"CE13 negative", "cache_grace: -1\n",
     NAME ":1: cache_grace: -1 is out of range (0..31557600)\n"},
    {"CE14 huge integer", "port: 99999999999999999999999\n",
     NAME ":1: port: 99999999999999999999999 is out of range (1..65535)\n"},
    {"CE15 not an integer", "port: smtp\n",
     NAME ":1: port: expected an integer, got 'smtp'\n"},
    {"CE16 quoted integer", "port: \"25\"\n",
     NAME ":1: port: expected an integer, got the quoted string '25' "
          "(remove the quotes)\n"},
    {"CE17 float for an integer", "default_zone: {timeout: 2.5}\n",
     NAME ":1: default_zone.timeout: expected an integer, got '2.5'\n"},
    {"CE18 timeout range", "zones: {z: {timeout: 3601}}\n",
     NAME ":1: zones.z.timeout: 3601 is out of range (1..3600)\n"},
    {"CE19 bad boolean", "reuse_port: maybe\n",
     NAME ":1: reuse_port: expected a boolean (true/false, yes/no, on/off), "
          "got 'maybe'\n"},
    {"CE20 y is not a YAML 1.1 boolean for PyYAML", "dane: y\n",
     NAME ":1: dane: expected a boolean (true/false, yes/no, on/off), "
          "got 'y'\n"},
    {"CE21 quoted boolean", "dane: 'false'\n",
     NAME ":1: dane: expected a boolean (true/false, yes/no, on/off), got "
          "the quoted string 'false' (remove the quotes)\n"},
    {"CE22 missing value", "port:\n",
     NAME ":1: port: missing value (expected an integer)\n"},
    {"CE23 host null", "host: ~\n",
     NAME ":1: host: missing value (expected a string)\n"},
    {"CE24 empty string", "host: ''\n", NAME ":1: host: empty string\n"},
    {"CE25 cache type", "cache: {type: sqlit}\n",
     NAME ":1: cache.type: 'sqlit' is not one of internal, sqlite, redis, "
          "redis_sentinel, postgres (did you mean 'sqlite'?)\n"},
    {"CE26 sqlite without options", "cache:\n  type: sqlite\n",
     NAME ":2: cache.options: missing required key 'filename' for cache type "
          "sqlite\n"},
    {"CE27 sqlite without filename",
     "cache:\n  type: sqlite\n  options:\n    threads: 2\n",
     NAME ":4: cache.options: missing required key 'filename' for cache type "
          "sqlite\n"},
    {"CE28 redis without url", "cache: {type: redis, options: {}}\n",
     NAME ":1: cache.options: missing required key 'url' for cache type "
          "redis\n"},
    {"CE29 redis bad url",
     "cache: {type: redis, options: {url: 'localhost:6379'}}\n",
     NAME ":1: cache.options.url: 'localhost:6379' is not a redis:// or "
          "unix: URL\n"},
    {"CE29b rediss refused",
     "cache: {type: redis, options: {url: 'rediss://r.example:6380'}}\n",
     NAME ":1: cache.options.url: 'rediss://r.example:6380': TLS to Redis "
          "(rediss://) is not supported; use redis:// over a trusted network "
          "or a unix: socket\n"},
    {"CE30 sentinel requirements",
     "cache: {type: redis_sentinel, "
     "options: {sentinels: []}}\n",
     NAME ":1: cache.options.sentinels: expected a non-empty sequence, got "
          "an empty one\n" NAME ":1: cache.options: missing required key "
          "'sentinel_master_name' for cache type redis_sentinel\n"},
    {"CE31 postgres without dsn",
     "cache:\n  type: postgres\n"
     "  options: {timeout: 5}\n",
     NAME ":3: cache.options: missing required key 'dsn' for cache type "
          "postgres\n"},
    {"CE32 cache_size range", "cache: {options: {cache_size: 0}}\n",
     NAME ":1: cache.options.cache_size: 0 is out of range (1..10000000)\n"},
    {"CE33 sqlite threads range",
     "cache: {type: sqlite, options: {filename: f, threads: 0}}\n",
     NAME ":1: cache.options.threads: 0 is out of range (1..1024)\n"},
    {"CE34 unknown cache key", "cache: {typ: redis}\n",
     NAME ":1: unknown key 'typ' in cache (did you mean 'type'?)\n"},
    {"CE35 grace_ratio zero", "proactive_policy_fetching: {grace_ratio: 0}\n",
     NAME ":1: proactive_policy_fetching.grace_ratio: 0 is out of range "
          "(0.01..1000)\n"},
    {"CE36 grace_ratio inf", "proactive_policy_fetching: {grace_ratio: .inf}\n",
     NAME ":1: proactive_policy_fetching.grace_ratio: .inf is out of range "
          "(0.01..1000)\n"},
    {"CE37 on_tempfail", "on_tempfail: tmp\n",
     NAME ":1: on_tempfail: 'tmp' is not one of notfound, temp (did you mean "
          "'temp'?)\n"},
    {"CE38 path too long",
     "path: /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
     NAME ":1: path: longer than 107 bytes (the limit of a UNIX socket "
          "address)\n"},
    {"CE39 owner without path", "owner: postfix\n",
     NAME ":1: owner: only used with path (a UNIX socket)\n"},
    {"CE40 bad owner", "path: /s\ngroup: 'a b'\n",
     NAME ":2: group: 'a b' is not a user or group name or number\n"},
    {"CE41 bad resolver", "resolver: dns.example\n",
     NAME ":1: resolver: 'dns.example' is not an IP address with an optional "
          ":PORT ([IPv6]:PORT)\n"},
    {"CE42 bad metrics_listen", "metrics_listen: 9100\n",
     NAME ":1: metrics_listen: '9100' is not HOST:PORT (or [IPv6]:PORT)\n"},
    {"CE43 top level is a sequence", "- a\n- b\n",
     NAME ":1: the file must be a mapping of keys, not a sequence\n"},
    {"CE44 top level is a scalar", "hello\n",
     NAME ":1: the file must be a mapping of keys, not a scalar\n"},
    {"CE45 syntax error", "port: 1\n  host: x\n",
     NAME ":2: YAML syntax error: mapping values are not allowed in this "
          "context\n"},
    {"CE46 unclosed flow", "default_zone: {timeout: 4\n",
     NAME ":2: YAML syntax error: did not find expected ',' or '}' while "
          "parsing a flow mapping\n"},
    {"CE47 tab indentation", "cache:\n\ttype: sqlite\n",
     NAME ":2: YAML syntax error: found character that cannot start any "
          "token while scanning for the next token\n"},
    {"CE48 two documents", "port: 1\n---\nport: 2\n",
     NAME ":3: a second YAML document; the file must hold one\n"},
    {"CE49 invalid UTF-8", "host: a\nca_file: \xff\n",
     NAME ":2: invalid input: invalid leading UTF-8 octet\n"},
    {"CE50 NUL in a string", "ca_file: \"a\\0b\"\n",
     NAME ":1: ca_file: contains a NUL character\n"},
    {"CE51 sequence as a key", "[a]: 1\n",
     NAME ":1: a key must be a scalar, not a sequence\n"},
    {"CE52 empty key", "'': 1\n", NAME ":1: empty key\n"},
    {"CE53 merge key",
     "default_zone: &d {timeout: 3}\n"
     "zones: {a: {<<: *d}}\n",
     NAME ":2: zones.a: YAML merge keys (<<) are not supported\n"},
    {"CE54 unknown tag", "port: !port 25\n",
     NAME ":1: port: unsupported YAML tag '!port'\n"},
    {"CE55 bad int tag", "port: !!int abc\n",
     NAME ":1: port: 'abc' is not a valid int\n"},
    {"CE56 zone name with a blank", "zones: {'a b': {}}\n",
     NAME ":1: zones: 'a b' is not a socketmap name (1-255 printable ASCII "
          "octets, no blanks)\n"},
    {"CE57 zones a list", "zones:\n  - a\n",
     NAME ":2: zones: expected a mapping, got a sequence\n"},
    {"CE58 cache a scalar", "cache: sqlite\n",
     NAME ":1: cache: expected a mapping, got a scalar\n"},
    {"CE59 0b without digits", "port: 0b_\n",
     NAME ":1: port: '0b_' is not a valid integer\n"},
    {"CE60 all errors reported, in order",
     "prot: 1\nport: 0\ndefault_zone:\n  timeout: x\n  tlsrpt: 5\n"
     "zones: {z: {strict_testing: 2}}\nmode: 644\n",
     NAME ":1: unknown key 'prot' (did you mean 'port'?)\n" NAME
          ":2: port: 0 is out of range (1..65535)\n" NAME
          ":4: default_zone.timeout: expected an integer, got 'x'\n" NAME
          ":5: default_zone.tlsrpt: expected a boolean (true/false, yes/no, "
          "on/off), got '5'\n" NAME
          ":6: zones.z.strict_testing: expected a boolean (true/false, "
          "yes/no, on/off), got '2'\n" NAME
          ":7: mode: 644 is decimal in YAML, not octal; did you mean 0644? "
          "(a mode needs a leading 0)\n"},
    {"CE61 unprintable key echoed safely", "\"a\\x01'\": 1\n",
     NAME ":1: unknown key 'a\\x01\\x27'\n"},
    {"CE62 value with a sequence", "host: [a, b]\n",
     NAME ":1: host: expected a string, got a sequence\n"},
    {"CE63 unknown in proactive", "proactive_policy_fetching: {enable: yes}\n",
     NAME ":1: unknown key 'enable' in proactive_policy_fetching (did you "
          "mean 'enabled'?)\n"},
    {"CE64 key at top that belongs in cache.options", "filename: /x\n",
     NAME ":1: unknown key 'filename' (it belongs in sqlite)\n"},
};

static void test_errors(void **state) {
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++) {
    char *errs = NULL;
    struct mtastsd_config *c = parse(err_cases[i].yaml, &errs);

    if (c != NULL) {
      mtastsd_config_free(c);
      fail_msg("%s: got a config, want NULL", err_cases[i].id);
    }
    if (strcmp(errs, err_cases[i].want) != 0) {
      fail_msg("%s:\n got: %s\nwant: %s", err_cases[i].id, errs,
               err_cases[i].want);
    }
    free(errs);
  }
}

/* CE65: at most 100 messages, then one "too many errors" line. */
static void test_too_many_errors(void **state) {
  char *yaml = malloc(150 * 16), *errs = NULL, *p;
  size_t o = 0, i, lines = 0;
  struct mtastsd_config *c;

  (void)state;
  assert_non_null(yaml);
  for (i = 0; i < 150; i++) {
    o += (size_t)snprintf(yaml + o, 16, "bogus%zu: 1\n", i);
  }
  c = parse(yaml, &errs);
  assert_null(c);
  for (p = errs; *p != '\0'; p++) {
    lines += *p == '\n';
  }
  if (lines != 101) {
    fail_msg("CE65: got %zu lines, want 101", lines);
  }
  assert_non_null(strstr(errs, NAME ":100: unknown key 'bogus99'\n" NAME
                                    ": too many errors, giving up\n"));
  free(errs);
  free(yaml);
}

/* CE66: many keys stay fast (duplicates are found by sorting), and an
 * aliased mapping repeated many times is parsed each time. */
static void test_many_keys(void **state) {
  size_t n = 20000, i, o = 0;
  char *yaml = malloc(n * 40 + 64), *errs = NULL;
  struct mtastsd_config *c;
  char name[32];

  (void)state;
  assert_non_null(yaml);
  o += (size_t)snprintf(yaml + o, 64,
                        "default_zone: &z {timeout: 9}\n"
                        "zones:\n");
  for (i = 0; i < n; i++) {
    o += (size_t)snprintf(yaml + o, 40, "  z%zu: *z\n", i);
  }
  c = parse(yaml, &errs);
  assert_non_null(c);
  assert_int_equal(c->nzones, n);
  snprintf(name, sizeof(name), "z%zu", n - 1);
  assert_int_equal(mtastsd_config_zone(c, name, strlen(name))->timeout, 9);
  mtastsd_config_free(c);
  free(errs);
  /* the same name at the end: one duplicate error naming the first */
  o -= 1;
  o += (size_t)snprintf(yaml + o, 40, "\n  z7: {}\n");
  c = parse(yaml, &errs);
  assert_null(c);
  assert_string_equal(errs, NAME ":20003: zones: duplicate key 'z7' (first "
                                 "at line 10)\n");
  free(errs);
  free(yaml);
}

/* ---- CM mode, CB booleans, CI integers: one key, many spellings ---- */

struct scalar_case {
  const char *id;
  const char *yaml; /* one line */
  long long want;   /* the value read, or -2: an error */
};

static const struct scalar_case mode_cases[] = {
    {"CM01 octal", "mode: 0666", 0666},
    {"CM02 octal 0660", "mode: 0660", 0660},
    {"CM03 zero", "mode: 0", 0},
    {"CM04 0777", "mode: 0777", 0777},
    {"CM05 decimal 438 is 0666", "mode: 438", 0666},
    {"CM06 hex", "mode: 0x1b6", 0666},
    {"CM07 666 decimal refused", "mode: 666", -2},
    {"CM08 600 decimal refused (ambiguous)", "mode: 600", -2},
    {"CM09 01000 too big", "mode: 01000", -2},
    {"CM10 0888 is a string", "mode: 0888", -2},
    {"CM11 quoted", "mode: '0666'", -2},
    {"CM12 null is unset", "mode: ~", -1},
    {"CM13 7 is the same either way", "mode: 7", 7},
    {"CM14 negative", "mode: -0666", -2},
    {"CM15 underscores", "mode: 0_6_6_0", 0660},
    {"CM16 binary", "mode: 0b110110110", 0666},
};

static const struct scalar_case bool_cases[] = {
    {"CB01", "dane: true", 1},       {"CB02", "dane: True", 1},
    {"CB03", "dane: TRUE", 1},       {"CB04", "dane: yes", 1},
    {"CB05", "dane: Yes", 1},        {"CB06", "dane: YES", 1},
    {"CB07", "dane: on", 1},         {"CB08", "dane: On", 1},
    {"CB09", "dane: ON", 1},         {"CB10", "dane: false", 0},
    {"CB11", "dane: False", 0},      {"CB12", "dane: FALSE", 0},
    {"CB13", "dane: no", 0},         {"CB14", "dane: No", 0},
    {"CB15", "dane: NO", 0},         {"CB16", "dane: off", 0},
    {"CB17", "dane: Off", 0},        {"CB18", "dane: OFF", 0},
    {"CB19 tRUE", "dane: tRUE", -2}, {"CB20 1", "dane: 1", -2},
    {"CB21 y", "dane: y", -2},       {"CB22 n", "dane: n", -2},
    {"CB23 yEs", "dane: yEs", -2},   {"CB24 quoted", "dane: \"yes\"", -2},
    {"CB25 empty", "dane:", -2},     {"CB26 tagged", "dane: !!bool on", 1},
};

static const struct scalar_case int_cases[] = {
    {"CI01 decimal", "negative_ttl: 300", 300},
    {"CI02 underscores", "negative_ttl: 1_000", 1000},
    {"CI03 octal", "negative_ttl: 010", 8},
    {"CI04 hex", "negative_ttl: 0xFF", 255},
    {"CI05 binary", "negative_ttl: 0b101", 5},
    {"CI06 sexagesimal", "negative_ttl: 1:30", 90},
    {"CI07 sexagesimal 3 parts", "negative_ttl: 1:00:00", 3600},
    {"CI08 plus sign", "negative_ttl: +5", 5},
    {"CI09 minus zero", "negative_ttl: -0", 0},
    {"CI10 0_", "negative_ttl: 0_", 0},
    {"CI11 1e3 is a string", "negative_ttl: 1e3", -2},
    {"CI12 08 is a string", "negative_ttl: 08", -2},
    {"CI13 0o17 is a string", "negative_ttl: 0o17", -2},
    {"CI14 float", "negative_ttl: 5.0", -2},
    {"CI15 max", "negative_ttl: 86400", 86400},
    {"CI16 over max", "negative_ttl: 86401", -2},
    {"CI17 bad sexagesimal", "negative_ttl: 1:60", -2},
    {"CI18 tagged quoted", "negative_ttl: !!int '42'", 42},
    {"CI19 leading blanks are YAML's", "negative_ttl:    7   ", 7},
    {"CI20 sexagesimal overflow", "negative_ttl: 999999999999999999:59:59", -2},
};

static void run_scalar(const struct scalar_case *cases, size_t n,
                       long long (*get)(const struct mtastsd_config *)) {
  size_t i;

  for (i = 0; i < n; i++) {
    char *errs = NULL;
    char yaml[256];
    struct mtastsd_config *c;

    snprintf(yaml, sizeof(yaml), "%s\n", cases[i].yaml);
    c = parse(yaml, &errs);
    if (cases[i].want == -2) {
      if (c != NULL || errs[0] == '\0') {
        fail_msg("%s: got a config, want an error", cases[i].id);
      }
    } else if (c == NULL) {
      fail_msg("%s: got error %s, want %lld", cases[i].id, errs, cases[i].want);
    } else if (get(c) != cases[i].want) {
      fail_msg("%s: got %lld, want %lld", cases[i].id, get(c), cases[i].want);
    }
    mtastsd_config_free(c);
    free(errs);
  }
}

static long long get_mode(const struct mtastsd_config *c) {
  return c->unix_mode;
}
static long long get_dane(const struct mtastsd_config *c) {
  return c->dane;
}
static long long get_negttl(const struct mtastsd_config *c) {
  return c->negative_ttl;
}

static void test_mode(void **state) {
  char *errs = NULL;
  struct mtastsd_config *c;

  (void)state;
  run_scalar(mode_cases, sizeof(mode_cases) / sizeof(mode_cases[0]), get_mode);
  /* the hint of the brief: 666 -> "did you mean 0666?" */
  c = parse("path: /s\nmode: 666\n", &errs);
  assert_null(c);
  assert_string_equal(errs, NAME ":2: mode: 666 is decimal in YAML, not "
                                 "octal; did you mean 0666? (a mode needs a "
                                 "leading 0)\n");
  free(errs);
  c = parse("mode: 01000\n", &errs);
  assert_null(c);
  assert_string_equal(errs, NAME ":1: mode: 01000 is out of range (0..0777)\n");
  free(errs);
}

static void test_booleans(void **state) {
  (void)state;
  run_scalar(bool_cases, sizeof(bool_cases) / sizeof(bool_cases[0]), get_dane);
}

static void test_integers(void **state) {
  (void)state;
  run_scalar(int_cases, sizeof(int_cases) / sizeof(int_cases[0]), get_negttl);
}

/* Floats for grace_ratio, as PyYAML reads them. */
struct float_case {
  const char *id;
  const char *yaml;
  double want; /* < 0: an error */
};

static const struct float_case float_cases[] = {
    {"CF01", "2.5", 2.5},
    {"CF02 int", "3", 3.0},
    {"CF03 .5", ".5", 0.5},
    {"CF04 2.", "2.", 2.0},
    {"CF05 exp", "1.0e+2", 100.0},
    {"CF06 exp neg", "5.0e-1", 0.5},
    {"CF07 underscore", "1_0.2_5", 10.25},
    {"CF08 sexagesimal float", "1:00.5", 60.5},
    {"CF09 1e2 is a string", "1e2", -1},
    {"CF10 -.5 is a string", "-.5", -1},
    {"CF11 nan", ".nan", -1},
    {"CF12 too big", "1000.5", -1},
    {"CF13 max", "1000", 1000.0},
    {"CF14 min", "0.01", 0.01},
    {"CF15 too small", "0.001", -1},
    {"CF16 ._1 is a string (a digit must follow the dot)", "._1", -1},
    {"CF17 .1_ is a float", ".1_", 0.1},
};

static void test_floats(void **state) {
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(float_cases) / sizeof(float_cases[0]); i++) {
    char yaml[128], *errs = NULL;
    struct mtastsd_config *c;
    double got, d;

    snprintf(yaml, sizeof(yaml),
             "proactive_policy_fetching:\n"
             "  grace_ratio: %s\n",
             float_cases[i].yaml);
    c = parse(yaml, &errs);
    if (float_cases[i].want < 0) {
      if (c != NULL) {
        fail_msg("%s: got %g, want an error", float_cases[i].id,
                 c->refresh_grace_ratio);
      }
    } else {
      if (c == NULL) {
        fail_msg("%s: got error %s", float_cases[i].id, errs);
      }
      got = c->refresh_grace_ratio;
      d = got - float_cases[i].want;
      if (d > 1e-9 || d < -1e-9) {
        fail_msg("%s: got %g, want %g", float_cases[i].id, got,
                 float_cases[i].want);
      }
    }
    mtastsd_config_free(c);
    free(errs);
  }
}

/* ---- CZ: zone lookup ---- */

static void test_zones(void **state) {
  struct mtastsd_config *c = parse_ok(
      "CZ01", "default_zone: {timeout: 7}\n"
              "zones:\n  postfix: {timeout: 2}\n  Test: {require_sni: no}\n"
              "  '1': ~\n");
  const struct mtastsd_zone *z;

  (void)state;
  assert_int_equal(c->nzones, 3);
  z = mtastsd_config_zone(c, "postfix", 7);
  assert_string_equal(z->name, "postfix");
  assert_int_equal(z->timeout, 2);
  /* case-sensitive, exact length (a Python dict lookup) */
  assert_ptr_equal(mtastsd_config_zone(c, "test", 4), &c->default_zone);
  assert_ptr_equal(mtastsd_config_zone(c, "postfi", 6), &c->default_zone);
  assert_ptr_equal(mtastsd_config_zone(c, "postfixx", 8), &c->default_zone);
  assert_ptr_equal(mtastsd_config_zone(c, "", 0), &c->default_zone);
  z = mtastsd_config_zone(c, "Test", 4);
  assert_false(z->require_sni);
  assert_int_equal(z->timeout, 4); /* CZ02: not default_zone's 7 */
  z = mtastsd_config_zone(c, "1", 1);
  assert_string_equal(z->name, "1");
  assert_int_equal(z->timeout, 4);
  z = mtastsd_config_zone(c, "unknown", 7);
  assert_ptr_equal(z, &c->default_zone);
  assert_null(z->name);
  assert_int_equal(z->timeout, 7);
  /* a name with a NUL inside does not match a prefix */
  assert_ptr_equal(mtastsd_config_zone(c, "postfix\0x", 9), &c->default_zone);
  mtastsd_config_free(c);
}

/* ---- CO: overrides ---- */

struct override_case {
  const char *id;
  const char *yaml;            /* the value of `overrides:` */
  const char *domain, *answer; /* the one override; NULL domain: error */
  const char *err;
};

static const struct override_case override_cases[] = {
    {"CO01 none", "{example.com: none}", "example.com", NULL, NULL},
    {"CO02 quoted none", "{example.com: 'none'}", "example.com", NULL, NULL},
    {"CO03 payload", "{example.com: \"secure match=mx.example.com\"}",
     "example.com", "secure match=mx.example.com", NULL},
    {"CO04 upper case and root dot", "{EXAMPLE.Com.: may}", "example.com",
     "may", NULL},
    {"CO05 IDN",
     "{\"B\xc3\x9c"
     "CHER.example\": encrypt}",
     "xn--bcher-kva.example", "encrypt", NULL},
    {"CO06 A-label kept", "{xn--bcher-kva.example: none}",
     "xn--bcher-kva.example", NULL, NULL},
    {"CO07 verify with attrs", "{a.example: verify match=hostname:nexthop}",
     "a.example", "verify match=hostname:nexthop", NULL},
    {"CO08 bad level", "{example.com: 'strict'}", NULL, NULL,
     NAME ":1: overrides.example.com: 'strict' is neither \"none\" nor a "
          "Postfix policy (may, encrypt, dane, dane-only, fingerprint, "
          "verify or secure, then attributes)\n"},
    {"CO09 bad domain", "{'exa mple.com': none}", NULL, NULL,
     NAME ":1: overrides: 'exa mple.com' is not a valid domain name\n"},
    {"CO10 same domain twice after IDN/case",
     "\n  example.com: none\n  EXAMPLE.COM: may\n", NULL, NULL,
     NAME ":3: overrides: 'EXAMPLE.COM' is example.com again (first at line "
          "2)\n"},
    {"CO11 null value", "{example.com: }", NULL, NULL,
     NAME ":1: overrides.example.com: missing value (\"none\" or a Postfix "
          "policy such as \"secure match=mx.example.com\")\n"},
    {"CO12 mapping value", "{example.com: {a: b}}", NULL, NULL,
     NAME ":1: overrides.example.com: expected a string, got a mapping\n"},
    {"CO13 newline in payload", "{example.com: \"secure\\nx\"}", NULL, NULL,
     NAME ":1: overrides.example.com: 'secure\\x0ax' is neither \"none\" "
          "nor a Postfix policy (may, encrypt, dane, dane-only, fingerprint, "
          "verify or secure, then attributes)\n"},
    {"CO14 a list", "[example.com]", NULL, NULL,
     NAME ":1: overrides: expected a mapping, got a sequence\n"},
    {"CO15 boolean no is not a policy", "{example.com: no}", NULL, NULL,
     NAME ":1: overrides.example.com: 'no' is neither \"none\" nor a Postfix "
          "policy (may, encrypt, dane, dane-only, fingerprint, verify or "
          "secure, then attributes)\n"},
    {"CO16 empty domain label", "{'a..b': none}", NULL, NULL,
     NAME ":1: overrides: 'a..b' is not a valid domain name\n"},
};

static void test_overrides(void **state) {
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(override_cases) / sizeof(override_cases[0]); i++) {
    const struct override_case *t = &override_cases[i];
    char yaml[512], *errs = NULL;
    struct mtastsd_config *c;

    snprintf(yaml, sizeof(yaml), "overrides: %s\n", t->yaml);
    c = parse(yaml, &errs);
    if (t->domain == NULL) {
      if (c != NULL || strcmp(errs, t->err) != 0) {
        fail_msg("%s:\n got: %s\nwant: %s", t->id, errs, t->err);
      }
    } else {
      if (c == NULL) {
        fail_msg("%s: got error %s", t->id, errs);
      }
      assert_int_equal(c->noverrides, 1);
      if (strcmp(c->overrides[0].domain, t->domain) != 0) {
        fail_msg("%s: got domain %s, want %s", t->id, c->overrides[0].domain,
                 t->domain);
      }
      if ((t->answer == NULL) != (c->overrides[0].answer == NULL) ||
          (t->answer != NULL &&
           strcmp(t->answer, c->overrides[0].answer) != 0)) {
        fail_msg("%s: got answer %s, want %s", t->id,
                 c->overrides[0].answer ? c->overrides[0].answer : "(none)",
                 t->answer ? t->answer : "(none)");
      }
    }
    mtastsd_config_free(c);
    free(errs);
  }
}

/* ---- CL: loading files ---- */

static char *load_errs(const char *path, struct mtastsd_config **out) {
  char *errs = NULL;
  size_t n = 0;
  FILE *f = open_memstream(&errs, &n);

  assert_non_null(f);
  *out = mtastsd_config_load(path, f);
  fclose(f);
  return errs;
}

static void write_file(const char *path, const char *text, mode_t mode) {
  FILE *f = fopen(path, "w");

  assert_non_null(f);
  assert_int_equal(fputs(text, f) >= 0, 1);
  assert_int_equal(fclose(f), 0);
  assert_int_equal(chmod(path, mode), 0);
}

static void test_load(void **state) {
  char dir[] = "/tmp/test_mtastsd_config.XXXXXX";
  char path[128], want[1024], *errs;
  struct mtastsd_config *c;

  (void)state;
  assert_non_null(mkdtemp(dir));

  /* CL01 missing file: one clear message */
  snprintf(path, sizeof(path), "%s/missing.yml", dir);
  errs = load_errs(path, &c);
  assert_null(c);
  snprintf(want, sizeof(want),
           "%s: cannot open the configuration file: No such file or "
           "directory\n",
           path);
  assert_string_equal(errs, want);
  free(errs);

  /* CL02 a good file: path recorded */
  snprintf(path, sizeof(path), "%s/good.yml", dir);
  write_file(path, "port: 1234\n", 0640);
  errs = load_errs(path, &c);
  assert_non_null(c);
  assert_string_equal(errs, "");
  assert_string_equal(c->path, path);
  assert_int_equal(c->port, 1234);
  mtastsd_config_free(c);
  free(errs);

  /* CL03 messages carry the file name */
  write_file(path, "\nport: 0\n", 0600);
  errs = load_errs(path, &c);
  assert_null(c);
  snprintf(want, sizeof(want), "%s:2: port: 0 is out of range (1..65535)\n",
           path);
  assert_string_equal(errs, want);
  free(errs);

  /* CL04 world-writable: refused (STYLE 11) */
  write_file(path, "port: 1234\n", 0666);
  errs = load_errs(path, &c);
  assert_null(c);
  snprintf(want, sizeof(want),
           "%s: refusing a world-writable configuration file (mode 0666); "
           "run: chmod o-w %s\n",
           path, path);
  assert_string_equal(errs, want);
  free(errs);
  assert_int_equal(unlink(path), 0);

  /* CL05 a directory */
  errs = load_errs(dir, &c);
  assert_null(c);
  snprintf(want, sizeof(want), "%s: not a regular file\n", dir);
  assert_string_equal(errs, want);
  free(errs);

  /* CL06 unreadable (not as root, who reads anything) */
  if (geteuid() != 0) {
    snprintf(path, sizeof(path), "%s/secret.yml", dir);
    write_file(path, "port: 1\n", 0);
    errs = load_errs(path, &c);
    assert_null(c);
    assert_non_null(strstr(errs, "cannot open the configuration file"));
    free(errs);
    assert_int_equal(unlink(path), 0);
  }
  assert_int_equal(rmdir(dir), 0);
}

/* ---- allocation failures ---- */

static void test_alloc_sweep(void **state) {
  struct mts_test_alloc a;
  struct mts_allocator al = {mts_test_malloc_, mts_test_realloc_,
                             mts_test_free_, &a};
  long n;

  (void)state;
  for (n = 1; n < 10000; n++) {
    struct mtastsd_config *c;

    a.count = 0;
    a.fail_at = n;
    a.failed = false;
    c = mtastsd_config_parse_with(&al, NAME, (const unsigned char *)every_key,
                                  strlen(every_key), NULL);
    if (!a.failed) {
      if (c == NULL) {
        fail_msg("allocation sweep: no failure injected at %ld but NULL", n);
      }
      assert_int_equal(c->noverrides, 3);
      assert_int_equal(c->nzones, 3);
      mtastsd_config_free(c);
      return;
    }
    if (c != NULL) {
      fail_msg("allocation %ld failed: got a config, want NULL", n);
    }
  }
  fail_msg("allocation sweep did not finish");
}

static void test_oom_message(void **state) {
  struct mts_test_alloc a = {1, 0, false};
  struct mts_allocator al = {mts_test_malloc_, mts_test_realloc_,
                             mts_test_free_, &a};
  char *errs = NULL;
  size_t n = 0;
  FILE *f = open_memstream(&errs, &n);

  (void)state;
  assert_null(mtastsd_config_parse_with(&al, NAME, NULL, 0, f));
  fclose(f);
  assert_string_equal(errs, NAME ": out of memory\n");
  free(errs);
}

/* ---- CG: the man page and the example carry the table ---- */

static char *repo_file(const char *rel) {
  /* __FILE__ is absolute in the CMake build: <repo>/tests/unit/... */
  const char *self = __FILE__;
  const char *cut = strstr(self, "tests/unit/test_mtastsd_config.c");
  size_t n = cut != NULL ? (size_t)(cut - self) : 0;
  char *p = malloc(n + strlen(rel) + 1);

  assert_non_null(p);
  memcpy(p, self, n);
  memcpy(p + n, rel, strlen(rel) + 1);
  return p;
}

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  char *buf = NULL;
  size_t n = 0;

  if (f == NULL) {
    fail_msg("cannot open %s", path);
  }
  buf = malloc(1 << 20);
  assert_non_null(buf);
  n = fread(buf, 1, (1 << 20) - 1, f);
  fclose(f);
  buf[n] = '\0';
  *len = n;
  return buf;
}

#define MAN_BEGIN ".\\\" BEGIN GENERATED DEFAULTS\n"
#define MAN_END ".\\\" END GENERATED DEFAULTS\n"

static void test_man_table(void **state) {
  char *path = repo_file("man/mtastsd.yml.5");
  char *page, *table = NULL, *b, *e;
  size_t plen, tlen = 0;
  FILE *f = open_memstream(&table, &tlen);

  (void)state;
  assert_non_null(f);
  mtastsd_config_write_defaults_man(f);
  fclose(f);
  page = slurp(path, &plen);
  b = strstr(page, MAN_BEGIN);
  e = strstr(page, MAN_END);
  if (b == NULL || e == NULL || e < b) {
    fail_msg("CG01 %s: markers missing", path);
  }
  b += strlen(MAN_BEGIN);
  if (getenv("MTASTSD_REGEN_MAN") != NULL) {
    FILE *w = fopen(path, "wb");

    assert_non_null(w);
    fwrite(page, 1, (size_t)(b - page), w);
    fwrite(table, 1, tlen, w);
    fwrite(e, 1, plen - (size_t)(e - page), w);
    assert_int_equal(fclose(w), 0);
  } else if ((size_t)(e - b) != tlen || memcmp(b, table, tlen) != 0) {
    fail_msg("CG02 %s: the defaults table differs from "
             "mtastsd_config_write_defaults_man(); regenerate it with "
             "MTASTSD_REGEN_MAN=1 test_mtastsd_config",
             path);
  }
  /* CG03 spot checks of the generated text */
  assert_non_null(
      strstr(table, "T{\n\\%port\nT}|integer|8461|T{\n1..65535\nT}"));
  assert_non_null(strstr(table, "T{\n\\%mode\nT}|octal mode|(unset)|"));
  assert_non_null(strstr(table, "T{\n\\%cache.options.filename\nT}|string|"
                                "(required)|T{\ntype sqlite only\nT}"));
  assert_non_null(strstr(table, "T{\n\\%zones.NAME.require_sni\nT}|boolean|"
                                "true|"));
  assert_non_null(strstr(table, "T{\n\\%on_tempfail\nT}|keyword|notfound|"
                                "T{\nnotfound, temp; mtastsd only\nT}"));
  free(table);
  free(page);
  free(path);
}

/* The example configuration parses, and shows every key of the table. */
static void test_example(void **state) {
  static const char *const keys[] = {"host:",
                                     "port:",
                                     "path:",
                                     "mode:",
                                     "owner:",
                                     "group:",
                                     "reuse_port:",
                                     "shutdown_timeout:",
                                     "cache_grace:",
                                     "proactive_policy_fetching:",
                                     "enabled:",
                                     "interval:",
                                     "concurrency_limit:",
                                     "grace_ratio:",
                                     "cache:",
                                     "type:",
                                     "options:",
                                     "cache_size:",
                                     "filename:",
                                     "threads:",
                                     "url:",
                                     "prefix:",
                                     "socket_timeout:",
                                     "socket_connect_timeout:",
                                     "sentinels:",
                                     "sentinel_master_name:",
                                     "dsn:",
                                     "default_zone:",
                                     "timeout:",
                                     "strict_testing:",
                                     "require_sni:",
                                     "tlsrpt:",
                                     "zones:",
                                     "resolver:",
                                     "ca_file:",
                                     "negative_ttl:",
                                     "on_tempfail:",
                                     "dane:",
                                     "metrics_listen:",
                                     "overrides:",
                                     NULL};
  char *path = repo_file("etc/mtastsd.yml");
  size_t len, i;
  char *text = slurp(path, &len);
  char *errs = NULL;
  struct mtastsd_config *c;

  (void)state;
  c = parse(text, &errs);
  if (c == NULL) {
    fail_msg("CG04 etc/mtastsd.yml: %s", errs);
  }
  for (i = 0; keys[i] != NULL; i++) {
    if (strstr(text, keys[i]) == NULL) {
      fail_msg("CG05 etc/mtastsd.yml does not show %s", keys[i]);
    }
  }
  mtastsd_config_free(c);
  free(errs);
  free(text);
  free(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_debian),
      cmocka_unit_test(test_every_key),
      cmocka_unit_test(test_cache_types),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_too_many_errors),
      cmocka_unit_test(test_many_keys),
      cmocka_unit_test(test_mode),
      cmocka_unit_test(test_booleans),
      cmocka_unit_test(test_integers),
      cmocka_unit_test(test_floats),
      cmocka_unit_test(test_zones),
      cmocka_unit_test(test_overrides),
      cmocka_unit_test(test_load),
      cmocka_unit_test(test_alloc_sweep),
      cmocka_unit_test(test_oom_message),
      cmocka_unit_test(test_man_table),
      cmocka_unit_test(test_example),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
