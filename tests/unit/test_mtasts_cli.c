/*
 * test_mtasts_cli.c - the CLI's terminal-safe text (src/mtasts/cli.c):
 * what a report sender writes (an organisation name, a MIME or zip file
 * name) reaches the operator's terminal through `mtasts report ingest`,
 * `summary` and error lines. C0 controls, DEL, the C1 controls (UTF-8
 * C2 80..C2 9F; xterm reads U+009B as CSI) and bytes that are not UTF-8
 * become '?'; every other character stays as it is.
 */
#include "testutil.h"

#include <stdlib.h>

#include "cli.h"

static void test_safe_dup(void **state) {
  static const struct {
    const char *in, *out;
  } v[] = {
      {"Example Inc.", "Example Inc."},
      {"", ""},
      {"a\x1b[2Jb", "a?[2Jb"},             /* ESC: C0 */
      {"a\nb\rc\td", "a?b?c?d"},           /* line breaks, tab */
      {"a\x7f" "b", "a?b"},                /* DEL */
      {"a\xc2\x9b" "31mb", "a?31mb"},      /* U+009B CSI (C1): one '?' */
      {"\xc2\x80\xc2\x9f", "??"},          /* first and last C1 */
      {"caf\xc3\xa9 \xc2\xa0x", "caf\xc3\xa9 \xc2\xa0x"}, /* é, NBSP */
      {"\xf0\x9f\x93\xa7", "\xf0\x9f\x93\xa7"},           /* U+1F4E7 */
      {"\xe2\x80\xae" "evil", "\xe2\x80\xae" "evil"},     /* U+202E stays */
      {"a\x9b" "b", "a?b"},                /* a lone continuation byte */
      {"\xc0\x9b", "??"},                  /* overlong ESC */
      {"\xed\xa0\x80", "???"},             /* a surrogate */
      {"\xff", "?"},
      {"ab\xe2\x82", "ab??"},              /* cut short */
  };
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
    char *d = cli_safe_dup(v[i].in);

    assert_non_null(d);
    if (strcmp(d, v[i].out) != 0) {
      fail_msg("vector %zu: got \"%s\", want \"%s\"", i, d, v[i].out);
    }
    free(d);
  }
  {
    char *d = cli_safe_dup(NULL);

    assert_string_equal(d, "");
    free(d);
  }
}

/* cli_err() goes through the same filter. */
static void test_err_safe(void **state) {
  char *out = NULL;
  size_t len = 0;
  FILE *mem = open_memstream(&out, &len);
  FILE *saved = stderr;

  (void)state;
  assert_non_null(mem);
  stderr = mem;
  cli_err("%s: cannot store: %s", "report\x1b]0;pwned\x07.json", "I/O");
  stderr = saved;
  assert_int_equal(fclose(mem), 0);
  assert_string_equal(out, "mtasts: report?]0;pwned?.json: cannot store: I/O\n");
  free(out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_safe_dup),
      cmocka_unit_test(test_err_safe),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
