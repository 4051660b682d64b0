/*
 * test_sts_policy.c - the MTA-STS policy file parser (RFC 8461 3.2).
 *
 * The table covers every P vector of RFC-CHECKLIST.md 3.2 (IDs Pnn) plus
 * our own cases (IDs Xnn), including P72 (a bad mx next to a good one)
 * and the AMBIG-POL decisions of docs/decisions.md.
 */
#include "testutil.h"

#include <stdlib.h>
#include <time.h>

#include <mtasts/limits.h>

/* `…` of checklist 3.2: the rest of a valid mode-none policy. */
#define HEAD_NONE "version: STSv1\nmode: none\n"
#define TPL_NONE HEAD_NONE "max_age: 86400"
#define TPL_MX(x) "version: STSv1\nmode: enforce\nmx: " x "\nmax_age: 86400\n"

#define E MTS_SEV_ERROR
#define W MTS_SEV_WARNING
#define I MTS_SEV_INFO

enum { M_UNK = MTS_STS_MODE_UNKNOWN, M_NONE = MTS_STS_MODE_NONE,
       M_TEST = MTS_STS_MODE_TESTING, M_ENF = MTS_STS_MODE_ENFORCE };

struct pcase {
  const char *id;
  const char *body;
  size_t len; /* 0: strlen(body) */
  bool valid;
  bool usable;
  int mode;
  int64_t max_age;
  const char *mx[4]; /* the valid mx patterns, NULL-terminated */
  /* a finding that must be present (NULL: no warning or error at all) */
  const char *code;
  enum mts_severity sev;
  uint32_t line;
  uint32_t col;
};

#define P01_BODY                                                              \
  "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\n"               \
  "mx: *.example.net\r\nmx: backupmx.example.com\r\nmax_age: 604800\r\n"
#define P01_MX {"mail.example.com", "*.example.net", "backupmx.example.com"}

static const struct pcase cases[] = {
    /* ---- structure, terminators, whitespace ---- */
    {"P01", P01_BODY, 0, true, true, M_ENF, 604800, P01_MX, NULL, 0, 0, 0},
    {"P02",
     "version: STSv1\nmode: enforce\nmx: mail.example.com\n"
     "mx: *.example.net\nmx: backupmx.example.com\nmax_age: 604800\n",
     0, true, true, M_ENF, 604800, P01_MX, NULL, 0, 0, 0},
    {"P04",
     "version: STSv1\r\nmode: testing\nmx: mx1.example.com\r\nmax_age: "
     "86400\n",
     0, true, true, M_TEST, 86400, {"mx1.example.com"}, NULL, 0, 0, 0},
    {"P05",
     "version: STSv1\rmode: testing\rmx: mx1.example.com\rmax_age: 86400\r", 0,
     false, false, M_UNK, -1, {NULL}, "policy-bare-cr", E, 1, 15},
    {"P07", TPL_NONE "\n\n", 0, false, true, M_NONE, 86400, {NULL},
     "policy-trailing-newlines", W, 4, 1},
    {"P08", "version: STSv1\n\nmode: none\nmax_age: 86400\n", 0, false, true,
     M_NONE, 86400, {NULL}, "policy-blank-line", W, 2, 1},
    {"P10", "version:STSv1\nmode:enforce\nmx:mail.example.com\nmax_age:86400",
     0, true, true, M_ENF, 86400, {"mail.example.com"}, NULL, 0, 0, 0},
    {"P11", "version : STSv1\nmode: none\nmax_age: 86400", 0, false, false,
     M_NONE, 86400, {NULL}, "policy-whitespace-before-colon", E, 1, 8},
    {"P13",
     "version: STSv1\nmode:\tenforce \t\nmx: mail.example.com \r\nmax_age: "
     "86400\t",
     0, true, true, M_ENF, 86400, {"mail.example.com"}, NULL, 0, 0, 0},
    /* ---- version ---- */
    {"P14", "Version: STSv1\nmode: none\nmax_age: 86400", 0, false, false,
     M_NONE, 86400, {NULL}, "policy-missing-version", E, 0, 0},
    {"P14b", "Version: STSv1\nmode: none\nmax_age: 86400", 0, false, false,
     M_NONE, 86400, {NULL}, "policy-unknown-field", I, 1, 1},
    {"P16", "version: STSv2\nmode: none\nmax_age: 86400", 0, false, false,
     M_NONE, 86400, {NULL}, "policy-bad-version", E, 1, 10},
    {"P17", "version: STSv1 beta\nmode: none\nmax_age: 86400", 0, false, false,
     M_NONE, 86400, {NULL}, "policy-bad-version", E, 1, 10},
    {"P20", "mode: enforce\nmx: a.example.com\nmax_age: 86400", 0, false,
     false, M_ENF, 86400, {"a.example.com"}, "policy-missing-version", E, 0,
     0},
    {"P43", "version: STSv2\nversion: STSv1\nmode: none\nmax_age: 86400", 0,
     false, false, M_NONE, 86400, {NULL}, "policy-bad-version", E, 1, 10},
    {"X01-AMBIG-POL-4", "version: STSv1\nversion: STSv2\nmode: none\nmax_age: "
                        "86400",
     0, true, true, M_NONE, 86400, {NULL}, "policy-duplicate-field", W, 2, 1},
    {"X02", "version: stsv1\nmode: none\nmax_age: 86400", 0, false, false,
     M_NONE, 86400, {NULL}, "policy-bad-version", E, 1, 10},
    /* ---- mode ---- */
    {"P19", "version: STSv1\nmode: report\nmx: a.example.com\nmax_age: 86400",
     0, false, false, M_UNK, 86400, {"a.example.com"}, "policy-bad-mode", E, 2,
     7},
    {"X03-AMBIG-POL-1", "version: STSv1\nmode: Enforce\nmx: a.example.com\n"
                        "max_age: 86400",
     0, false, false, M_UNK, 86400, {"a.example.com"}, "policy-bad-mode", E, 2,
     7},
    {"X04", "version: STSv1\nmode:\nmax_age: 86400", 0, false, false, M_UNK,
     86400, {NULL}, "policy-bad-mode", E, 2, 6},
    {"P40", "version: STSv1\nmode: testing\nmode: enforce\nmx: a.example.com\n"
            "max_age: 86400",
     0, true, true, M_TEST, 86400, {"a.example.com"},
     "policy-duplicate-field", W, 3, 1},
    {"X05", "version: STSv1\nmode: testing\nmode: Enforce\nmx: a.example.com\n"
            "max_age: 86400",
     0, true, true, M_TEST, 86400, {"a.example.com"},
     "policy-duplicate-field", W, 3, 1},
    {"X06", "version: STSv1\nmode: none\nmode:  none \nmax_age: 86400", 0, true,
     true, M_NONE, 86400, {NULL}, "policy-duplicate-field", I, 3, 1},
    {"X07", "version: STSv1\nmode: testing\nmode:\nmx: a.example.com\n"
            "max_age: 86400",
     0, false, false, M_TEST, 86400, {"a.example.com"}, "policy-bad-value", E,
     3, 6},
    /* ---- required fields ---- */
    {"P22", "version: STSv1\nmode: enforce\nmx: a.example.com", 0, false, false,
     M_ENF, -1, {"a.example.com"}, "policy-missing-max-age", E, 0, 0},
    {"P23", "version: STSv1\nmode: enforce\nmax_age: 86400", 0, false, false,
     M_ENF, 86400, {NULL}, "policy-missing-mx", E, 0, 0},
    {"X08", "version: STSv1\nmode: testing\nmax_age: 86400", 0, false, false,
     M_TEST, 86400, {NULL}, "policy-missing-mx", E, 0, 0},
    {"X09", "version: STSv1\nmx: a.example.com\nmax_age: 86400", 0, false,
     false, M_UNK, 86400, {"a.example.com"}, "policy-missing-mode", E, 0, 0},
    {"P25", TPL_NONE, 0, true, true, M_NONE, 86400, {NULL}, NULL, 0, 0, 0},
    {"P26", "version: STSv1\nmode: none\nmx: a.example.com\nmax_age: 86400", 0,
     true, true, M_NONE, 86400, {"a.example.com"}, NULL, 0, 0, 0},
    /* ---- max_age ---- */
    {"P28-AMBIG-POL-5", HEAD_NONE "max_age: 0", 0, true, true, M_NONE, 0,
     {NULL}, NULL, 0, 0, 0},
    {"P29", HEAD_NONE "max_age: 31557600", 0, true, true, M_NONE, 31557600,
     {NULL}, NULL, 0, 0, 0},
    {"P30-AMBIG-POL-2", HEAD_NONE "max_age: 31557601", 0, false, false, M_NONE,
     -1, {NULL}, "policy-max-age-too-large", E, 3, 10},
    {"P31", HEAD_NONE "max_age: 9999999999", 0, false, false, M_NONE, -1,
     {NULL}, "policy-max-age-too-large", E, 3, 10},
    {"P32", HEAD_NONE "max_age: 10000000000", 0, false, false, M_NONE, -1,
     {NULL}, "policy-bad-max-age", E, 3, 10},
    {"P34", HEAD_NONE "max_age: 0086400", 0, true, true, M_NONE, 86400, {NULL},
     NULL, 0, 0, 0},
    {"X10", HEAD_NONE "max_age: 0000086400", 0, true, true, M_NONE, 86400,
     {NULL}, NULL, 0, 0, 0},
    {"X11", HEAD_NONE "max_age: 7", 0, true, true, M_NONE, 7, {NULL}, NULL, 0,
     0, 0},
    {"P35", HEAD_NONE "max_age: -1", 0, false, false, M_NONE, -1, {NULL},
     "policy-bad-max-age", E, 3, 10},
    {"P37a", HEAD_NONE "max_age: 86400s", 0, false, false, M_NONE, -1, {NULL},
     "policy-bad-max-age", E, 3, 10},
    {"P37b", HEAD_NONE "max_age: 1e5", 0, false, false, M_NONE, -1, {NULL},
     "policy-bad-max-age", E, 3, 10},
    {"P37c", HEAD_NONE "max_age: 0x15180", 0, false, false, M_NONE, -1, {NULL},
     "policy-bad-max-age", E, 3, 10},
    {"P37d", HEAD_NONE "max_age: 86400.0", 0, false, false, M_NONE, -1, {NULL},
     "policy-bad-max-age", E, 3, 10},
    {"X12", HEAD_NONE "max_age: +86400", 0, false, false, M_NONE, -1, {NULL},
     "policy-bad-max-age", E, 3, 10},
    {"X13", HEAD_NONE "max_age: 86 400", 0, false, false, M_NONE, -1, {NULL},
     "policy-bad-max-age", E, 3, 10},
    {"P38", HEAD_NONE "max_age: \n", 0, false, false, M_NONE, -1, {NULL},
     "policy-bad-max-age", E, 3, 10},
    {"P41", TPL_NONE "\nmax_age: 604800", 0, true, true, M_NONE, 86400, {NULL},
     "policy-duplicate-field", W, 4, 1},
    /* ---- extension fields ---- */
    {"P44", TPL_NONE "\nfoo: bar", 0, true, true, M_NONE, 86400, {NULL},
     "policy-unknown-field", I, 4, 1},
    {"P46", TPL_NONE "\ncomment: caf\xc3\xa9", 0, true, true, M_NONE, 86400,
     {NULL}, "policy-unknown-field", I, 4, 1},
    {"P47", TPL_NONE "\ncomment: \xff\xfe", 0, false, false, M_NONE, 86400,
     {NULL}, "policy-bad-utf8", E, 4, 10},
    {"P49", TPL_NONE "\nfoo:", 0, false, false, M_NONE, 86400, {NULL},
     "policy-bad-value", E, 4, 5},
    {"X14", TPL_NONE "\nfoo: \t ", 0, false, false, M_NONE, 86400, {NULL},
     "policy-bad-value", E, 4, 8},
    {"P50", TPL_NONE "\n_foo: bar", 0, false, false, M_NONE, 86400, {NULL},
     "policy-bad-field-name", E, 4, 1},
    {"X15", TPL_NONE "\na2345678901234567890123456789012: x", 0, true, true,
     M_NONE, 86400, {NULL}, "policy-unknown-field", I, 4, 1},
    {"X16", TPL_NONE "\na23456789012345678901234567890123: x", 0, false, false,
     M_NONE, 86400, {NULL}, "policy-bad-field-name", E, 4, 1},
    {"X17", TPL_NONE "\n9a_b-c.d: x", 0, true, true, M_NONE, 86400, {NULL},
     "policy-unknown-field", I, 4, 1},
    {"X18", TPL_NONE "\n: x", 0, false, false, M_NONE, 86400, {NULL},
     "policy-bad-field-name", E, 4, 1},
    {"X19", TPL_NONE "\nf\xc3\xa9: x", 0, false, false, M_NONE, 86400, {NULL},
     "policy-bad-field-name", E, 4, 1},
    {"X20", TPL_NONE "\nfoo: a b  c: d", 0, true, true, M_NONE, 86400, {NULL},
     "policy-unknown-field", I, 4, 1},
    {"X21", TPL_NONE "\nfoo: a\tb", 0, false, false, M_NONE, 86400, {NULL},
     "policy-bad-value", E, 4, 7},
    {"X22", TPL_NONE "\nfoo: a\x01" "b", 0, false, false, M_NONE, 86400,
     {NULL}, "policy-bad-value", E, 4, 7},
    {"X23", TPL_NONE "\nfoo: a\x7f", 0, false, false, M_NONE, 86400, {NULL},
     "policy-bad-value", E, 4, 7},
    {"X24-overlong2", TPL_NONE "\nfoo: \xc0\x80", 0, false, false, M_NONE,
     86400, {NULL}, "policy-bad-utf8", E, 4, 6},
    {"X25-overlong3", TPL_NONE "\nfoo: \xe0\x80\x80", 0, false, false, M_NONE,
     86400, {NULL}, "policy-bad-utf8", E, 4, 6},
    {"X26-overlong4", TPL_NONE "\nfoo: \xf0\x80\x80\x80", 0, false, false,
     M_NONE, 86400, {NULL}, "policy-bad-utf8", E, 4, 6},
    {"X27-surrogate", TPL_NONE "\nfoo: x\xed\xa0\x80", 0, false, false, M_NONE,
     86400, {NULL}, "policy-bad-utf8", E, 4, 7},
    {"X28-above-10FFFF", TPL_NONE "\nfoo: \xf4\x90\x80\x80", 0, false, false,
     M_NONE, 86400, {NULL}, "policy-bad-utf8", E, 4, 6},
    {"X29-truncated", TPL_NONE "\nfoo: \xe2\x82", 0, false, false, M_NONE,
     86400, {NULL}, "policy-bad-utf8", E, 4, 6},
    {"X30-lone-cont", TPL_NONE "\nfoo: \x80", 0, false, false, M_NONE, 86400,
     {NULL}, "policy-bad-utf8", E, 4, 6},
    {"X31-utf8-ok",
     TPL_NONE "\nfoo: \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf \xed\x9f"
              "\xbf \xc2\x80",
     0, true, true, M_NONE, 86400, {NULL}, "policy-unknown-field", I, 4, 1},
    {"X32", "version: STSv1\nmode: enforce\nMX: a.example.com\nmx: "
            "b.example.com\nmax_age: 86400",
     0, true, true, M_ENF, 86400, {"b.example.com"}, "policy-unknown-field", I,
     3, 1},
    /* ---- lines that are not fields ---- */
    {"P52", TPL_NONE "\nthis line has no colon", 0, false, false, M_NONE,
     86400, {NULL}, "policy-no-colon", E, 4, 1},
    {"P53", "# MTA-STS policy\nversion: STSv1\nmode: none\nmax_age: 86400", 0,
     false, false, M_NONE, 86400, {NULL}, "policy-no-colon", E, 1, 1},
    {"P55", "version: STSv1\n\0mode: none\nmax_age: 86400", 41, false, false,
     M_UNK, 86400, {NULL}, "policy-nul", E, 2, 1},
    {"X33", TPL_NONE "\nfoo: a\0b", 41 + 8, false, false, M_NONE, 86400,
     {NULL}, "policy-nul", E, 4, 7},
    {"X34", "version: STSv1\n \nmode: none\nmax_age: 86400", 0, false, false,
     M_NONE, 86400, {NULL}, "policy-leading-whitespace", E, 2, 1},
    {"X35", " version: STSv1\nmode: none\nmax_age: 86400", 0, false, false,
     M_NONE, 86400, {NULL}, "policy-leading-whitespace", E, 1, 1},
    {"X36", TPL_NONE "\r", 0, false, false, M_NONE, -1, {NULL},
     "policy-bare-cr", E, 3, 15},
    {"X37", TPL_NONE " \r\n", 0, true, true, M_NONE, 86400, {NULL}, NULL, 0, 0,
     0},
    {"X38", "version: STSv1\nmode: none\nmax_age\t: 86400", 0, false, false,
     M_NONE, -1, {NULL}, "policy-whitespace-before-colon", E, 3, 8},
    {"P56", "", 0, false, false, M_UNK, -1, {NULL}, "policy-empty", E, 0, 0},
    {"P56b", "", 0, false, false, M_UNK, -1, {NULL}, "policy-missing-version",
     E, 0, 0},
    /* ---- harmless deviations (AMBIG-POL-3) ---- */
    {"X39", "\xef\xbb\xbf" TPL_NONE, 0, false, true, M_NONE, 86400, {NULL},
     "policy-bom", W, 1, 1},
    {"X40", "\xef\xbb\xbf\xef\xbb\xbf" TPL_NONE, 0, false, false, M_NONE, 86400,
     {NULL}, "policy-bad-field-name", E, 1, 1},
    {"X41", "\n\n" TPL_NONE, 0, false, true, M_NONE, 86400, {NULL},
     "policy-blank-line", W, 1, 1},
    {"X42", "version: STSv1\r\n\r\nmode: none\r\nmax_age: 86400\r\n\r\n\r\n", 0,
     false, true, M_NONE, 86400, {NULL}, "policy-blank-line", W, 2, 1},
    {"X43", "version: STSv1\r\n\r\nmode: none\r\nmax_age: 86400\r\n\r\n\r\n", 0,
     false, true, M_NONE, 86400, {NULL}, "policy-trailing-newlines", W, 5, 1},
    {"X44", "\xef\xbb\xbf\n" TPL_NONE "\n\n", 0, false, true, M_NONE, 86400,
     {NULL}, "policy-blank-line", W, 1, 1},
    {"X45", "\n", 0, false, false, M_UNK, -1, {NULL}, "policy-blank-line", W, 1,
     1},
    {"X46", "\n", 0, false, false, M_UNK, -1, {NULL}, "policy-missing-mode", E,
     0, 0},
    {"X47", "\xef\xbb\xbf", 0, false, false, M_UNK, -1, {NULL},
     "policy-missing-version", E, 0, 0},
    /* ---- mx (single-mx template P57-P68) ---- */
    {"P58", TPL_MX("*example.com"), 0, false, false, M_ENF, 86400, {NULL},
     "policy-mx-invalid", E, 3, 5},
    {"P59", TPL_MX("mail.*.example.com"), 0, false, false, M_ENF, 86400, {NULL},
     "policy-mx-invalid", E, 3, 5},
    {"P61a", TPL_MX("*"), 0, false, false, M_ENF, 86400, {NULL},
     "policy-mx-invalid", E, 3, 5},
    {"P61b", TPL_MX("*."), 0, false, false, M_ENF, 86400, {NULL},
     "policy-mx-invalid", E, 3, 5},
    {"P62", TPL_MX("MAIL.Example.COM"), 0, true, true, M_ENF, 86400,
     {"MAIL.Example.COM"}, NULL, 0, 0, 0},
    {"P64a", TPL_MX("-mail.example.com"), 0, false, false, M_ENF, 86400,
     {NULL}, "policy-mx-invalid", E, 3, 5},
    {"P64b", TPL_MX("mail-.example.com"), 0, false, false, M_ENF, 86400,
     {NULL}, "policy-mx-invalid", E, 3, 5},
    {"P65", TPL_MX("b\xc3\xbc" "cher.example"), 0, false, false, M_ENF, 86400,
     {NULL}, "policy-mx-invalid", E, 3, 5},
    {"P67", TPL_MX("a.example.com b.example.com"), 0, false, false, M_ENF,
     86400, {NULL}, "policy-mx-invalid", E, 3, 5},
    {"P68", TPL_MX("a.example.com,b.example.com"), 0, false, false, M_ENF,
     86400, {NULL}, "policy-mx-invalid", E, 3, 5},
    {"P71", TPL_MX("*.com"), 0, true, true, M_ENF, 86400, {"*.com"}, NULL, 0, 0,
     0},
    {"P72", "version: STSv1\nmode: enforce\nmx: good.example.com\n"
            "mx: bad.example.com.\nmax_age: 86400\n",
     0, false, false, M_ENF, 86400, {"good.example.com"}, "policy-mx-invalid",
     E, 4, 5},
    {"X48-trailing-dot", TPL_MX("a.example.com."), 0, false, false, M_ENF,
     86400, {NULL}, "policy-mx-invalid", E, 3, 5},
    {"X49", TPL_MX("mx_1.example.com"), 0, false, false, M_ENF, 86400, {NULL},
     "policy-mx-invalid", E, 3, 5},
    {"X50", TPL_MX("a..example.com"), 0, false, false, M_ENF, 86400, {NULL},
     "policy-mx-invalid", E, 3, 5},
    {"X51", TPL_MX(".example.com"), 0, false, false, M_ENF, 86400, {NULL},
     "policy-mx-invalid", E, 3, 5},
    {"X52", TPL_MX("*.*.example.com"), 0, false, false, M_ENF, 86400, {NULL},
     "policy-mx-invalid", E, 3, 5},
    {"X53", TPL_MX("a.example.com:25"), 0, false, false, M_ENF, 86400, {NULL},
     "policy-mx-invalid", E, 3, 5},
    {"X54", TPL_MX(""), 0, false, false, M_ENF, 86400, {NULL},
     "policy-mx-invalid", E, 3, 5},
    {"X55", TPL_MX("xn--bcher-kva.example"), 0, true, true, M_ENF, 86400,
     {"xn--bcher-kva.example"}, NULL, 0, 0, 0},
    {"X56", TPL_MX("a-b.1.2.3"), 0, true, true, M_ENF, 86400, {"a-b.1.2.3"},
     NULL, 0, 0, 0},
    {"X57", TPL_MX("localhost"), 0, true, true, M_ENF, 86400, {"localhost"},
     NULL, 0, 0, 0},
    {"X58", "version: STSv1\nmode: none\nmx: bad..example\nmax_age: 86400", 0,
     false, false, M_NONE, 86400, {NULL}, "policy-mx-invalid", E, 3, 5},
    {"X59", "version: STSv1\nmode: enforce\nmx: a.example.com\nmx: "
            "a.example.com\nmax_age: 86400",
     0, true, true, M_ENF, 86400, {"a.example.com", "a.example.com"}, NULL, 0,
     0, 0},
};

static size_t case_len(const struct pcase *c) {
  return c->len != 0 ? c->len : strlen(c->body);
}

static void check_case(const struct pcase *c) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct mts_sts_policy *p = NULL;
  const struct mts_findings *fs;
  const struct mts_finding *f;
  size_t i, nmx = 0;
  bool any_error = false, any_warning = false;

  assert_int_equal(mts_sts_policy_parse(ctx, (const uint8_t *)c->body,
                                        case_len(c), &p),
                   MTS_OK);
  assert_non_null(p);
  fs = mts_sts_policy_findings(p);
  for (i = 0; i < mts_findings_count(fs); i++) {
    f = mts_findings_get(fs, i);
    any_error |= f->severity == MTS_SEV_ERROR;
    any_warning |= f->severity == MTS_SEV_WARNING;
    assert_true(strncmp(f->code, "policy-", 7) == 0);
  }
  if (mts_sts_policy_valid(p) != c->valid) {
    fail_msg("%s: valid got %d, want %d", c->id, mts_sts_policy_valid(p),
             c->valid);
  }
  if (mts_sts_policy_usable(p) != c->usable) {
    fail_msg("%s: usable got %d, want %d", c->id, mts_sts_policy_usable(p),
             c->usable);
  }
  if (any_error == c->usable) {
    fail_msg("%s: error findings %d but usable %d", c->id, any_error,
             c->usable);
  }
  if ((int)mts_sts_policy_mode(p) != c->mode) {
    fail_msg("%s: mode got %s, want %s", c->id,
             mts_sts_mode_str(mts_sts_policy_mode(p)),
             mts_sts_mode_str((enum mts_sts_mode)c->mode));
  }
  if (mts_sts_policy_max_age(p) != c->max_age) {
    fail_msg("%s: max_age got %lld, want %lld", c->id,
             (long long)mts_sts_policy_max_age(p), (long long)c->max_age);
  }
  if (c->valid &&
      (mts_sts_policy_version(p) == NULL ||
       strcmp(mts_sts_policy_version(p), "STSv1") != 0)) {
    fail_msg("%s: version got NULL, want STSv1", c->id);
  }
  while (nmx < 4 && c->mx[nmx] != NULL) {
    nmx++;
  }
  if (mts_sts_policy_mx_count(p) != nmx) {
    fail_msg("%s: mx count got %zu, want %zu", c->id,
             mts_sts_policy_mx_count(p), nmx);
  }
  for (i = 0; i < nmx; i++) {
    if (strcmp(mts_sts_policy_mx(p, i), c->mx[i]) != 0) {
      fail_msg("%s: mx[%zu] got '%s', want '%s'", c->id, i,
               mts_sts_policy_mx(p, i), c->mx[i]);
    }
  }
  assert_null(mts_sts_policy_mx(p, nmx));
  if (c->code == NULL) {
    if (any_error || any_warning) {
      fail_msg("%s: got finding %s, want no warning or error", c->id,
               mts_findings_get(fs, 0)->code);
    }
  } else {
    f = mts_findings_find(fs, c->code);
    if (f == NULL) {
      fail_msg("%s: finding %s missing (got %zu findings, first %s)", c->id,
               c->code, mts_findings_count(fs),
               mts_findings_count(fs) > 0 ? mts_findings_get(fs, 0)->code
                                          : "-");
    }
    if (f->severity != c->sev || f->line != c->line || f->col != c->col) {
      fail_msg("%s: %s got %s at %u:%u, want %s at %u:%u (%s)", c->id,
               c->code, mts_severity_str(f->severity), f->line, f->col,
               mts_severity_str(c->sev), c->line, c->col, f->message);
    }
  }
  mts_sts_policy_destroy(p);
  mts_ctx_destroy(ctx);
}

static void test_table(void **state) {
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    check_case(&cases[i]);
  }
}

/* Parse a NUL-free body; the caller destroys. */
static struct mts_sts_policy *parse_ok(struct mts_ctx *ctx, const char *body,
                                       size_t len) {
  struct mts_sts_policy *p = NULL;

  assert_int_equal(
      mts_sts_policy_parse(ctx, (const uint8_t *)body, len, &p), MTS_OK);
  assert_non_null(p);
  return p;
}

static bool mx_ok(struct mts_ctx *ctx, const char *pattern) {
  char body[600];
  struct mts_sts_policy *p;
  bool ok;
  int n = snprintf(body, sizeof(body),
                   "version: STSv1\nmode: enforce\nmx: %s\nmax_age: 1\n",
                   pattern);

  assert_true(n > 0 && (size_t)n < sizeof(body));
  p = parse_ok(ctx, body, (size_t)n);
  ok = mts_sts_policy_valid(p);
  assert_int_equal(mts_sts_policy_mx_count(p), ok ? 1 : 0);
  mts_sts_policy_destroy(p);
  return ok;
}

/* Label of n 'a'. */
static void fill(char *dst, size_t n, char ch) {
  memset(dst, ch, n);
  dst[n] = '\0';
}

/* X60: label and name lengths (RFC 1035 2.3.4: 63 and 253). */
static void test_mx_lengths(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  char pat[300], label[70];
  size_t i;

  (void)state;
  fill(label, 63, 'a');
  snprintf(pat, sizeof(pat), "%s.example", label);
  assert_true(mx_ok(ctx, pat));
  snprintf(pat, sizeof(pat), "*.%s.example", label);
  assert_true(mx_ok(ctx, pat));
  fill(label, 64, 'a');
  snprintf(pat, sizeof(pat), "%s.example", label);
  assert_false(mx_ok(ctx, pat));
  snprintf(pat, sizeof(pat), "x.%s", label);
  assert_false(mx_ok(ctx, pat));
  /* 253 characters: 4 labels "aaa...a." of 63 + 1 and a last of 1 */
  for (i = 0; i < 253; i++) {
    pat[i] = (i % 64 == 63) ? '.' : 'a';
  }
  pat[253] = '\0';
  assert_true(mx_ok(ctx, pat));
  pat[253] = 'b'; /* 254: last label "ab" */
  pat[254] = '\0';
  assert_false(mx_ok(ctx, pat));
  /* the "*." counts toward 253 */
  pat[0] = '*';
  pat[1] = '.';
  pat[253] = '\0';
  assert_true(mx_ok(ctx, pat));
  pat[253] = 'b';
  assert_false(mx_ok(ctx, pat));
  mts_ctx_destroy(ctx);
}

/* Raw lines for the TLSRPT policy-string: terminators removed, BOM
 * stripped, empty lines kept, no line after the final terminator. */
static void test_lines(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct mts_sts_policy *p;
  static const char *const want01[] = {
      "version: STSv1", "mode: enforce", "mx: mail.example.com",
      "mx: *.example.net", "mx: backupmx.example.com", "max_age: 604800"};
  size_t i;

  (void)state;
  p = parse_ok(ctx, P01_BODY, strlen(P01_BODY));
  assert_int_equal(mts_sts_policy_line_count(p), 6);
  for (i = 0; i < 6; i++) {
    assert_string_equal(mts_sts_policy_line(p, i), want01[i]);
  }
  assert_null(mts_sts_policy_line(p, 6));
  mts_sts_policy_destroy(p);

  p = parse_ok(ctx, "\xef\xbb\xbfversion: STSv1\r\n\nmode: none \t\n\n",
               strlen("\xef\xbb\xbfversion: STSv1\r\n\nmode: none \t\n\n"));
  assert_int_equal(mts_sts_policy_line_count(p), 4);
  assert_string_equal(mts_sts_policy_line(p, 0), "version: STSv1");
  assert_string_equal(mts_sts_policy_line(p, 1), "");
  assert_string_equal(mts_sts_policy_line(p, 2), "mode: none \t");
  assert_string_equal(mts_sts_policy_line(p, 3), "");
  mts_sts_policy_destroy(p);

  p = parse_ok(ctx, "a\rb", 3); /* bare CR stays in the line */
  assert_int_equal(mts_sts_policy_line_count(p), 1);
  assert_string_equal(mts_sts_policy_line(p, 0), "a\rb");
  mts_sts_policy_destroy(p);

  p = parse_ok(ctx, "", 0);
  assert_int_equal(mts_sts_policy_line_count(p), 0);
  assert_null(mts_sts_policy_line(p, 0));
  mts_sts_policy_destroy(p);
  mts_ctx_destroy(ctx);
}

/* P70: a valid policy padded with an extension line. */
static char *padded(size_t total) {
  const char *head = "version: STSv1\nmode: enforce\nmx: a.example.com\n"
                     "max_age: 86400\npad: ";
  size_t hl = strlen(head);
  char *b = malloc(total);

  assert_non_null(b);
  assert_true(total > hl + 1);
  memcpy(b, head, hl);
  memset(b + hl, 'x', total - hl);
  return b;
}

static void test_size_limit(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct mts_sts_policy *p;
  const struct mts_finding *f;
  char *b;

  (void)state;
  b = padded(MTS_POLICY_MAX_SIZE);
  p = parse_ok(ctx, b, MTS_POLICY_MAX_SIZE);
  assert_true(mts_sts_policy_valid(p));
  assert_int_equal(mts_sts_policy_line_count(p), 5);
  mts_sts_policy_destroy(p);
  free(b);

  b = padded(MTS_POLICY_MAX_SIZE + 1);
  p = parse_ok(ctx, b, MTS_POLICY_MAX_SIZE + 1);
  assert_false(mts_sts_policy_usable(p));
  f = mts_findings_find(mts_sts_policy_findings(p), "policy-too-large");
  assert_non_null(f);
  assert_int_equal(f->severity, MTS_SEV_ERROR);
  /* not parsed further */
  assert_int_equal(mts_sts_policy_line_count(p), 0);
  assert_int_equal(mts_sts_policy_mode(p), MTS_STS_MODE_UNKNOWN);
  assert_int_equal(mts_findings_count(mts_sts_policy_findings(p)), 1);
  mts_sts_policy_destroy(p);
  free(b);

  b = padded(70000); /* P70 */
  p = parse_ok(ctx, b, 70000);
  assert_false(mts_sts_policy_valid(p));
  assert_false(mts_sts_policy_usable(p));
  mts_sts_policy_destroy(p);
  free(b);
  mts_ctx_destroy(ctx);
}

/* Messages quote untrusted text escaped. */
static void test_messages_escaped(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  const char *body = TPL_NONE "\ncomment: \xff\xfe";
  struct mts_sts_policy *p = parse_ok(ctx, body, strlen(body));
  const struct mts_finding *f =
      mts_findings_find(mts_sts_policy_findings(p), "policy-bad-utf8");
  size_t i;

  (void)state;
  assert_non_null(f);
  assert_non_null(strstr(f->message, "'\\xff\\xfe'"));
  for (i = 0; f->message[i] != '\0'; i++) {
    assert_true((unsigned char)f->message[i] >= 0x20 &&
                (unsigned char)f->message[i] < 0x7f);
  }
  mts_sts_policy_destroy(p);

  p = parse_ok(ctx, "Mode: none\n", 11);
  f = mts_findings_find(mts_sts_policy_findings(p), "policy-unknown-field");
  assert_non_null(f);
  assert_non_null(strstr(f->message, "did you mean 'mode'"));
  mts_sts_policy_destroy(p);
  mts_ctx_destroy(ctx);
}

/* Build a body of `head` followed by `line` repeated to about `size`. */
static char *repeat(const char *head, const char *line, size_t size,
                    size_t *len, size_t *reps) {
  size_t hl = strlen(head), ll = strlen(line), n = 0;
  char *b = malloc(size + 16); /* room for a caller's tail */

  assert_non_null(b);
  memcpy(b, head, hl);
  *len = hl;
  while (*len + ll <= size) {
    memcpy(b + *len, line, ll);
    *len += ll;
    n++;
  }
  *reps = n;
  return b;
}

/* Many findings are capped per code; the verdict is unaffected. And no
 * quadratic behaviour on 64 KiB bodies of thousands of lines. */
static void test_big_bodies(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct mts_sts_policy *p;
  size_t len, reps;
  char *b;
  clock_t t0 = clock();

  (void)state;
  b = repeat(TPL_NONE "\n", "foo: bar\n", MTS_POLICY_MAX_SIZE, &len, &reps);
  p = parse_ok(ctx, b, len);
  assert_true(mts_sts_policy_valid(p));
  assert_int_equal(mts_sts_policy_line_count(p), 3 + reps);
  /* 16 unknown-field infos and one summary */
  assert_int_equal(mts_findings_count(mts_sts_policy_findings(p)), 17);
  assert_non_null(mts_findings_find(mts_sts_policy_findings(p),
                                    "policy-findings-truncated"));
  mts_sts_policy_destroy(p);
  free(b);

  b = repeat("version: STSv1\nmode: enforce\nmax_age: 86400\n",
             "mx: mx.example.com\n", MTS_POLICY_MAX_SIZE, &len, &reps);
  p = parse_ok(ctx, b, len);
  assert_true(mts_sts_policy_valid(p));
  assert_int_equal(mts_sts_policy_mx_count(p), reps);
  assert_string_equal(mts_sts_policy_mx(p, reps - 1), "mx.example.com");
  mts_sts_policy_destroy(p);
  free(b);

  b = repeat(TPL_NONE, "\n", MTS_POLICY_MAX_SIZE, &len, &reps);
  p = parse_ok(ctx, b, len);
  assert_true(mts_sts_policy_usable(p));
  assert_false(mts_sts_policy_valid(p));
  assert_int_equal(mts_sts_policy_line_count(p), 2 + reps);
  mts_sts_policy_destroy(p);
  free(b);

  /* errors past the cap still make the policy unusable: 100 blank-line
   * runs, then one error */
  b = repeat(TPL_NONE "\n", "\nx: y\n", 700, &len, &reps);
  memcpy(b + len, "bad\n", 4);
  p = parse_ok(ctx, b, len + 4);
  assert_false(mts_sts_policy_usable(p));
  assert_non_null(
      mts_findings_find(mts_sts_policy_findings(p), "policy-no-colon"));
  mts_sts_policy_destroy(p);
  free(b);

  /* generous: the whole test takes milliseconds when linear */
  assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 5.0);
  mts_ctx_destroy(ctx);
}

static void test_api_edges(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct mts_sts_policy *p = (struct mts_sts_policy *)&a;

  (void)state;
  assert_int_equal(mts_sts_policy_parse(NULL, (const uint8_t *)"x", 1, &p),
                   MTS_EINVAL);
  assert_null(p);
  assert_int_equal(mts_sts_policy_parse(ctx, (const uint8_t *)"x", 1, NULL),
                   MTS_EINVAL);
  assert_int_equal(mts_sts_policy_parse(ctx, NULL, 1, &p), MTS_EINVAL);
  assert_int_equal(mts_sts_policy_parse(ctx, NULL, 0, &p), MTS_OK);
  assert_non_null(mts_findings_find(mts_sts_policy_findings(p),
                                    "policy-empty"));
  mts_sts_policy_destroy(p);

  mts_sts_policy_destroy(NULL);
  assert_false(mts_sts_policy_valid(NULL));
  assert_false(mts_sts_policy_usable(NULL));
  assert_null(mts_sts_policy_version(NULL));
  assert_int_equal(mts_sts_policy_mode(NULL), MTS_STS_MODE_UNKNOWN);
  assert_int_equal(mts_sts_policy_max_age(NULL), -1);
  assert_int_equal(mts_sts_policy_mx_count(NULL), 0);
  assert_null(mts_sts_policy_mx(NULL, 0));
  assert_int_equal(mts_sts_policy_line_count(NULL), 0);
  assert_null(mts_sts_policy_line(NULL, 0));
  assert_null(mts_sts_policy_findings(NULL));

  assert_string_equal(mts_sts_mode_str(MTS_STS_MODE_NONE), "none");
  assert_string_equal(mts_sts_mode_str(MTS_STS_MODE_TESTING), "testing");
  assert_string_equal(mts_sts_mode_str(MTS_STS_MODE_ENFORCE), "enforce");
  assert_string_equal(mts_sts_mode_str(MTS_STS_MODE_UNKNOWN), "unknown");
  assert_string_equal(mts_sts_mode_str((enum mts_sts_mode)42), "unknown");
  mts_ctx_destroy(ctx);
}

/* ---- allocation-failure sweep ---- */

struct sweep_arg {
  const char *body;
  size_t len;
  bool valid;
  bool usable;
};

static enum mts_status sweep_op(struct mts_ctx *ctx, void *arg) {
  const struct sweep_arg *s = arg;
  struct mts_sts_policy *p = (struct mts_sts_policy *)ctx;
  enum mts_status st =
      mts_sts_policy_parse(ctx, (const uint8_t *)s->body, s->len, &p);

  if (st != MTS_OK) {
    assert_null(p);
    return st;
  }
  assert_int_equal(mts_sts_policy_valid(p), s->valid);
  assert_int_equal(mts_sts_policy_usable(p), s->usable);
  mts_sts_policy_destroy(p);
  return st;
}

static void test_alloc_sweep(void **state) {
  struct sweep_arg s;
  size_t reps;
  char *b;

  (void)state;
  s = (struct sweep_arg){P01_BODY, strlen(P01_BODY), true, true};
  assert_true(mts_test_alloc_sweep(sweep_op, &s) >= 2);
  s = (struct sweep_arg){"", 0, false, false};
  assert_true(mts_test_alloc_sweep(sweep_op, &s) >= 3);
  s.body = "\xef\xbb\xbf\nversion: STSv1\nmode: none\nfoo: bar\n"
           "mode: testing\nmax_age: 1\n\n";
  s.len = strlen(s.body);
  s.valid = false;
  s.usable = true;
  assert_true(mts_test_alloc_sweep(sweep_op, &s) >= 3);
  /* many findings (findings array grows, summary added) */
  b = repeat("version: STSv1\nmode: enforce\nmx: a..b\nmax_age: 1\n",
             "foo: \xff\n", 4000, &s.len, &reps);
  s.body = b;
  s.valid = s.usable = false;
  assert_true(mts_test_alloc_sweep(sweep_op, &s) >= 5);
  free(b);
  b = padded(MTS_POLICY_MAX_SIZE + 1);
  s = (struct sweep_arg){b, MTS_POLICY_MAX_SIZE + 1, false, false};
  assert_true(mts_test_alloc_sweep(sweep_op, &s) >= 3);
  free(b);
}

/* A policy without findings is two allocations (the arena and one chunk
 * sized by the pre-scan, bench/README.md): a daemon keeps one per cached
 * domain. With a BOM, a finding, or 30 mx lines it still parses. */
static void test_alloc_count(void **state) {
  static const char *bodies[] = {
      ("version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\n"
       "mx: *.example.net\r\nmax_age: 604800\r\n"),
      "version: STSv1\nmode: testing\nmx: a.b\nmax_age: 86400",
      "version: STSv1\nmode: none\nmax_age: 86400\n",
  };
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct mts_sts_policy *p;
  char big[2048];
  size_t i, off;
  long base;

  (void)state;
  for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
    base = a.count;
    assert_int_equal(mts_sts_policy_parse(ctx, (const uint8_t *)bodies[i],
                                          strlen(bodies[i]), &p),
                     MTS_OK);
    assert_true(mts_sts_policy_valid(p));
    assert_int_equal(a.count - base, 2);
    mts_sts_policy_destroy(p);
  }
  off = (size_t)snprintf(big, sizeof(big), "version: STSv1\nmode: enforce\n");
  for (i = 0; i < 30; i++) {
    off += (size_t)snprintf(big + off, sizeof(big) - off,
                            "mx: mx%zu.a-rather-long-name.example.com\n", i);
  }
  off += (size_t)snprintf(big + off, sizeof(big) - off, "max_age: 86400\n");
  base = a.count;
  assert_int_equal(mts_sts_policy_parse(ctx, (const uint8_t *)big, off, &p),
                   MTS_OK);
  assert_int_equal(mts_sts_policy_mx_count(p), 30);
  assert_int_equal(a.count - base, 2);
  mts_sts_policy_destroy(p);
  /* A finding needs more (its array, its message): still correct. */
  base = a.count;
  {
    static const char bom[] = "\xef\xbb\xbfversion: STSv1\nmode: enforce\n"
                              "mx: a.b\nmax_age: 86400\nfoo: bar\n";

    assert_int_equal(mts_sts_policy_parse(ctx, (const uint8_t *)bom,
                                          strlen(bom), &p),
                     MTS_OK);
  }
  assert_true(mts_sts_policy_usable(p));
  assert_false(mts_sts_policy_valid(p));
  assert_true(a.count - base > 2);
  mts_sts_policy_destroy(p);
  mts_ctx_destroy(ctx);
}

/* mts_sts_policy_text() gives back exactly the bytes parsed: a cache
 * store keeps them, and the resolver no longer keeps a second copy. */
static void test_text(void **state) {
  static const struct {
    const char *body;
    size_t len;
  } v[] = {
      {"version: STSv1\nmode: enforce\nmx: a.b\nmax_age: 86400\n", 0},
      {"version: STSv1\r\nmode: enforce\r\nmx: a.b\r\nmax_age: 86400\r\n", 0},
      {"version: STSv1\nmode: enforce\r\nmx: a.b\nmax_age: 86400", 0},
      {"\xef\xbb\xbfversion: STSv1\nmode: none\nmax_age: 1\n\n\r\n", 0},
      {"\n", 0},
      {"\r\n", 0},
      {"\r", 0},
      {"x", 0},
      {"a\0b\nc\0\r\n\0", 10}, /* NULs inside and at the end */
      {"mx: a\r\r\n\n\nmx: b\r", 0},
  };
  struct mts_ctx *ctx = NULL;
  struct mts_sts_policy *p = NULL;
  uint8_t out[128];
  size_t i;

  (void)state;
  assert_int_equal(mts_ctx_create(NULL, &ctx), MTS_OK);
  for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
    size_t len = v[i].len != 0 ? v[i].len : strlen(v[i].body);

    assert_int_equal(
        mts_sts_policy_parse(ctx, (const uint8_t *)v[i].body, len, &p), MTS_OK);
    assert_int_equal(mts_sts_policy_text(p, NULL, 0), len);
    memset(out, 0, sizeof(out));
    assert_int_equal(mts_sts_policy_text(p, out, sizeof(out)), len);
    if (memcmp(out, v[i].body, len) != 0) {
      fail_msg("text %zu differs", i);
    }
    mts_sts_policy_destroy(p);
  }
  /* Refused before the split: no text. */
  assert_int_equal(mts_sts_policy_parse(ctx, (const uint8_t *)"", 0, &p),
                   MTS_OK);
  assert_int_equal(mts_sts_policy_text(p, out, sizeof(out)), 0);
  mts_sts_policy_destroy(p);
  assert_int_equal(mts_sts_policy_text(NULL, out, sizeof(out)), 0);
  mts_ctx_destroy(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_text),
      cmocka_unit_test(test_alloc_count),
      cmocka_unit_test(test_table),
      cmocka_unit_test(test_mx_lengths),
      cmocka_unit_test(test_lines),
      cmocka_unit_test(test_size_limit),
      cmocka_unit_test(test_messages_escaped),
      cmocka_unit_test(test_big_bodies),
      cmocka_unit_test(test_api_edges),
      cmocka_unit_test(test_alloc_sweep),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
