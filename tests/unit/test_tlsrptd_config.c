/*
 * test_tlsrptd_config.c - mtasts-tlsrptd's configuration reader
 * (src/tlsrptd/config.c, mtasts-tlsrptd(8)): the shipped example loads
 * with its values; log_level takes the four names and mtastsd's two
 * aliases and refuses anything else (CFG-17: it used to mean "err",
 * silently); unknown keys, a submitter that is not contact-info's domain
 * (RFC 8460 5.3), a relative sendmail and a bad shared URL are refused
 * with the line where it helps; defaults are filled in.
 */
#include "testutil.h"

#include <stdlib.h>
#include <unistd.h>

#include "config.h"

/* The minimum that loads: the report identity. */
#define IDENT                                                                  \
  "report:\n"                                                                  \
  "  organization_name: Example Inc.\n"                                        \
  "  contact_info: tlsrpt@example.com\n"

struct fx {
  char dir[64];
  char path[96];
};

static int fx_setup(void **state) {
  struct fx *f = calloc(1, sizeof(*f));

  assert_non_null(f);
  (void)snprintf(f->dir, sizeof(f->dir), "/tmp/test_tlsrptd_config.XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  (void)snprintf(f->path, sizeof(f->path), "%s/t.yml", f->dir);
  *state = f;
  return 0;
}

static int fx_teardown(void **state) {
  struct fx *f = *state;

  (void)unlink(f->path);
  (void)rmdir(f->dir);
  free(f);
  return 0;
}

/* Load \p text; \p err gets the message of a refusal. */
static struct tlsrptd_config *load(struct fx *f, const char *text, char *err,
                                   size_t errsize) {
  FILE *fp = fopen(f->path, "w");

  assert_non_null(fp);
  assert_true(fputs(text, fp) >= 0);
  assert_int_equal(fclose(fp), 0);
  err[0] = '\0';
  return tlsrptd_config_load(f->path, err, errsize);
}

static void refused(struct fx *f, const char *text, const char *want) {
  char err[300];
  struct tlsrptd_config *c = load(f, text, err, sizeof(err));

  if (c != NULL) {
    tlsrptd_config_free(c);
    fail_msg("accepted, want a refusal with \"%s\":\n%s", want, text);
  }
  if (strstr(err, want) == NULL) {
    fail_msg("refused with \"%s\", want \"%s\"", err, want);
  }
}

static void test_example(void **state) {
  struct fx *f = *state;
  char err[300] = "";
  struct tlsrptd_config *c =
      tlsrptd_config_load(MTS_SOURCE_DIR "/etc/mtasts-tlsrptd.yml", err,
                          sizeof(err));

  (void)f;
  if (c == NULL) {
    fail_msg("etc/mtasts-tlsrptd.yml: %s", err);
  }
  assert_int_equal(c->log_level, MTS_LOG_INFO);
  assert_string_equal(c->socket, "/var/spool/postfix/tlsrpt/tlsrpt.sock");
  assert_int_equal(c->socket_mode, 0660);
  assert_string_equal(c->org, "Example Inc.");
  assert_string_equal(c->submitter, "example.com"); /* contact's domain */
  assert_string_equal(c->from, c->contact);
  assert_int_equal(c->send_window, 14400);
  tlsrptd_config_free(c);
}

static void test_log_level(void **state) {
  static const struct {
    const char *given;
    enum mts_log_level kept;
  } ok[] = {{"err", MTS_LOG_ERR},     {"warning", MTS_LOG_WARNING},
            {"info", MTS_LOG_INFO},   {"debug", MTS_LOG_DEBUG},
            {"error", MTS_LOG_ERR},   {"warn", MTS_LOG_WARNING},
            {"~", MTS_LOG_INFO}};
  static const char *const bad[] = {"WARN", "fatal", "notice", "", "2"};
  struct fx *f = *state;
  char text[300], err[300];
  size_t i;

  for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
    struct tlsrptd_config *c;

    (void)snprintf(text, sizeof(text), "log_level: %s\n" IDENT, ok[i].given);
    c = load(f, text, err, sizeof(err));
    if (c == NULL) {
      fail_msg("log_level %s: refused: %s", ok[i].given, err);
    }
    assert_int_equal(c->log_level, ok[i].kept);
    tlsrptd_config_free(c);
  }
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    (void)snprintf(text, sizeof(text), "log_level: \"%s\"\n" IDENT, bad[i]);
    refused(f, text, "line 1: log_level: '");
    refused(f, text, "is not one of err, warning, info, debug");
  }
  refused(f, "log_level: [info]\n" IDENT, "log_level: a string is wanted");
}

static void test_refusals(void **state) {
  struct fx *f = *state;

  refused(f, IDENT "colector:\n  socket: /x\n", "line 4: unknown key 'colector'");
  refused(f, IDENT "  submiter: example.com\n",
          "line 4: report: unknown key 'submiter'");
  refused(f, "log_level: info\n",
          "report.organization_name and report.contact_info are required");
  refused(f, IDENT "  submitter: example.net\n",
          "must equal the domain of report.contact_info");
  refused(f,
          "report:\n  organization_name: X\n  contact_info: Tlsrpt@Example.COM\n",
          "report.contact_info must be an address local@domain");
  refused(f, IDENT "  sendmail: sendmail -oi\n",
          "report.sendmail must start with an absolute path");
  refused(f, IDENT "  timeout: 0\n", "report.timeout: at least 1 second");
  refused(f, IDENT "shared:\n  type: redis\n  url: http://r.example\n",
          "redis");
  refused(f, IDENT "follow:\n  file: /var/log/mail.log\n  command: [journalctl]\n",
          "follow: give file or command, not both");
}

static void test_defaults(void **state) {
  struct fx *f = *state;
  char err[300];
  struct tlsrptd_config *c = load(f, IDENT, err, sizeof(err));

  if (c == NULL) {
    fail_msg("refused: %s", err);
  }
  assert_int_equal(c->log_level, MTS_LOG_INFO); /* unset: info */
  assert_string_equal(c->state_db, TLSRPTD_STATE_DEFAULT);
  assert_string_equal(c->submitter, "example.com");
  assert_string_equal(c->from, "tlsrpt@example.com");
  assert_null(c->shared_url);
  tlsrptd_config_free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_example, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_log_level, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_refusals, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_defaults, fx_setup, fx_teardown),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
