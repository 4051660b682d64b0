/*
 * test_tlsrptd_shared.c - mtasts-tlsrptd's `shared.url` parser
 * (src/tlsrptd/shared.c): a table of accepted URLs with every field
 * checked, and of refused ones. The Redis side (push, lock, merge) is
 * tested end to end against a real redis-server by
 * tests/integration/test_tlsrpt_fleet.sh.
 */
#include "testutil.h"

#include "shared.h"

struct ok_case {
  const char *url;
  const char *unix_path, *host;
  int port;
  long db;
  const char *user, *password;
};

static const struct ok_case oks[] = {
    {"unix:/run/redis.sock", "/run/redis.sock", "", 6379, 0, "", ""},
    {"unix:///run/redis.sock", "/run/redis.sock", "", 6379, 0, "", ""},
    {"redis://127.0.0.1", "", "127.0.0.1", 6379, 0, "", ""},
    {"redis://redis.example:6380/3", "", "redis.example", 6380, 3, "", ""},
    {"redis://[2001:db8::1]:7000/", "", "2001:db8::1", 7000, 0, "", ""},
    {"redis://:s3cret@r.example", "", "r.example", 6379, 0, "", "s3cret"},
    {"redis://acl:pw@r.example:1/15", "", "r.example", 1, 15, "acl", "pw"},
};

static const char *const bads[] = {
    "",
    "http://r.example",
    "redis://",
    "redis://r.example:0",
    "redis://r.example:65536",
    "redis://r.example:x",
    "redis://r.example/db",
    "redis://user@r.example",
    "redis://user:@r.example",
    "redis://[::1",
    "redis://r example",
    "redis://r.exa$mple",
    "unix:",
    "unix:relative.sock",
    "unix:/",
    "redis://r.example:6379junk",
};

static void test_ok(void **state) {
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(oks) / sizeof(oks[0]); i++) {
    struct tlsrptd_redis_url u;
    char err[200] = "";

    if (tlsrptd_redis_url_parse(oks[i].url, &u, err, sizeof(err)) != 0) {
      fail_msg("%s: refused: %s", oks[i].url, err);
    }
    assert_string_equal(u.unix_path, oks[i].unix_path);
    assert_string_equal(u.host, oks[i].host);
    assert_int_equal(u.port, oks[i].port);
    assert_int_equal(u.db, oks[i].db);
    assert_string_equal(u.user, oks[i].user);
    assert_string_equal(u.password, oks[i].password);
  }
}

static void test_bad(void **state) {
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
    struct tlsrptd_redis_url u;
    char err[200] = "";

    if (tlsrptd_redis_url_parse(bads[i], &u, err, sizeof(err)) == 0) {
      fail_msg("%s: accepted", bads[i]);
    }
    assert_true(strncmp(err, "shared.url: ", 12) == 0);
  }
  {
    struct tlsrptd_redis_url u;
    char err[200] = "";

    assert_int_equal(tlsrptd_redis_url_parse(NULL, &u, err, sizeof(err)), -1);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ok),
      cmocka_unit_test(test_bad),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
