/*
 * test_socketmap.c - socketmap requests, key normalisation and replies
 * (mtasts/socketmap.h).
 *
 * Vector IDs: SR* requests, SK* keys, SP* replies. SK01..SK16 are the
 * key examples of POSTFIX-NOTES 2.1 (the peer's utils.filter_domain and
 * its [ran] observations) and the socketmap rows of tests/refdata.tsv;
 * the rest pin docs/decisions.md. socketmap.c allocates
 * nothing, so there is no allocation-failure sweep here (the reader's is
 * in test_netstring.c).
 */
#include <stdlib.h>

#include "testutil.h"

struct bytes {
  const char *p;
  size_t n;
};
#define B(s) {s, sizeof(s) - 1}

/* ---- Requests ---- */

struct req_case {
  const char *id;
  struct bytes in;
  enum mts_status want_st;
  struct bytes name;
  struct bytes key;
};

static const struct req_case req_cases[] = {
    {"SR01 test good.loc", B("test good.loc"), MTS_OK, B("test"),
     B("good.loc")},
    {"SR02 refdata test2", B("test2 [good.loc]:123"), MTS_OK, B("test2"),
     B("[good.loc]:123")},
    {"SR03 empty key", B("test "), MTS_OK, B("test"), B("")},
    {"SR04 split at the first space", B("test  a b"), MTS_OK, B("test"),
     B(" a b")},
    {"SR05 NUL in key", B("test a\0b"), MTS_OK, B("test"), B("a\0b")},
    {"SR06 no space", B("test"), MTS_EPARSE, B(""), B("")},
    {"SR07 empty name", B(" good.loc"), MTS_EPARSE, B(""), B("")},
    {"SR08 empty request", B(""), MTS_EPARSE, B(""), B("")},
    {"SR09 control in name", B("te\x01st good.loc"), MTS_EPARSE, B(""),
     B("")},
    {"SR10 non-ASCII name", B("t\xc3\xa9st good.loc"), MTS_EPARSE, B(""),
     B("")},
    {"SR11 NUL in name", B("te\0st good.loc"), MTS_EPARSE, B(""), B("")},
    {"SR12 tab is not the separator", B("test\tgood.loc"), MTS_EPARSE, B(""),
     B("")},
    {"SR13 postfix-style name", B("postfix good.loc"), MTS_OK, B("postfix"),
     B("good.loc")},
};

static void test_request_table(void **state) {
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(req_cases) / sizeof(req_cases[0]); i++) {
    const struct req_case *c = &req_cases[i];
    struct mts_socketmap_request rq;
    enum mts_status st = mts_socketmap_request_parse(
        (const uint8_t *)c->in.p, c->in.n, &rq);

    if (st != c->want_st) {
      fail_msg("%s: got %s, want %s", c->id, mts_status_name(st),
               mts_status_name(c->want_st));
    }
    if (st != MTS_OK) {
      assert_null(rq.name);
      assert_null(rq.key);
      assert_int_equal(rq.name_len + rq.key_len, 0);
      continue;
    }
    if (rq.name_len != c->name.n || memcmp(rq.name, c->name.p, c->name.n) ||
        rq.key_len != c->key.n || memcmp(rq.key, c->key.p, c->key.n)) {
      fail_msg("%s: got name \"%.*s\" key \"%.*s\", want \"%s\" \"%s\"",
               c->id, (int)rq.name_len, rq.name, (int)rq.key_len, rq.key,
               c->name.p, c->key.p);
    }
    /* slices borrow the input */
    assert_ptr_equal(rq.name, c->in.p);
    assert_ptr_equal(rq.key, c->in.p + c->name.n + 1);
  }
}

/* SR20.. limits: name 255, key 10000 (MTS_SOCKETMAP_KEY_MAX). */
static void test_request_limits(void **state) {
  size_t n = MTS_SOCKETMAP_REQUEST_MAX + 2;
  uint8_t *buf = malloc(n);
  struct mts_socketmap_request rq;

  (void)state;
  assert_non_null(buf);
  memset(buf, 'a', n);
  /* SR20 name of 255, key of 10000: the largest request */
  buf[MTS_SOCKETMAP_NAME_MAX] = ' ';
  assert_int_equal(mts_socketmap_request_parse(buf, MTS_SOCKETMAP_REQUEST_MAX,
                                               &rq),
                   MTS_OK);
  assert_int_equal(rq.name_len, MTS_SOCKETMAP_NAME_MAX);
  assert_int_equal(rq.key_len, MTS_SOCKETMAP_KEY_MAX);
  /* SR21 key of 10001 */
  assert_int_equal(mts_socketmap_request_parse(
                       buf, MTS_SOCKETMAP_REQUEST_MAX + 1, &rq),
                   MTS_ETOOBIG);
  assert_null(rq.key);
  /* SR22 name of 256 */
  buf[MTS_SOCKETMAP_NAME_MAX] = 'a';
  buf[MTS_SOCKETMAP_NAME_MAX + 1] = ' ';
  assert_int_equal(mts_socketmap_request_parse(buf, 300, &rq), MTS_ETOOBIG);
  /* SR23 arguments */
  assert_int_equal(mts_socketmap_request_parse(buf, 10, NULL), MTS_EINVAL);
  assert_int_equal(mts_socketmap_request_parse(NULL, 10, &rq), MTS_EINVAL);
  assert_int_equal(mts_socketmap_request_parse(NULL, 0, &rq), MTS_EPARSE);
  free(buf);
}

/* ---- Key normalisation ---- */

#define DOM MTS_SOCKETMAP_KEY_DOMAIN
#define PAR MTS_SOCKETMAP_KEY_PARENT_PROBE
#define IPL MTS_SOCKETMAP_KEY_IP_LITERAL
#define INV MTS_SOCKETMAP_KEY_INVALID

struct key_case {
  const char *id;
  struct bytes key;
  enum mts_socketmap_key_kind want_kind;
  const char *want; /* normalised text */
};

#define L63 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static const struct key_case key_cases[] = {
    /* POSTFIX-NOTES 2.1 [ran]: all map to good.loc */
    {"SK01 GOOD.LOC", B("GOOD.LOC"), DOM, "good.loc"},
    {"SK02 [GOOD.loc]:25", B("[GOOD.loc]:25"), DOM, "good.loc"},
    {"SK03 good.loc:123", B("good.loc:123"), DOM, "good.loc"},
    {"SK04 good.loc..", B("good.loc.."), DOM, "good.loc"},
    {"SK05 ' good.loc'", B(" good.loc"), DOM, "good.loc"},
    /* refdata.tsv: OK rows */
    {"SK06 [good.loc]", B("[good.loc]"), DOM, "good.loc"},
    {"SK07 [good.loc]:123", B("[good.loc]:123"), DOM, "good.loc"},
    {"SK08 good.loc.", B("good.loc."), DOM, "good.loc"},
    /* short-circuits to NOTFOUND */
    {"SK09 .example.com parent probe", B(".example.com"), PAR,
     ".example.com"},
    {"SK10 .good.loc. parent probe", B(".good.loc."), PAR, ".good.loc"},
    {"SK11 [1.2.3.4]", B("[1.2.3.4]"), IPL, "1.2.3.4"},
    {"SK12 1.2.3.4:25", B("1.2.3.4:25"), IPL, "1.2.3.4"},
    {"SK13 [::1]", B("[::1]"), IPL, "::1"},
    {"SK14 [a:bb:ccc::dddd]:123", B("[a:bb:ccc::dddd]:123"), IPL,
     "a:bb:ccc::dddd"},
    /* peer bugs, fixed (POSTFIX-NOTES 2.1 "No further validation") */
    {"SK15 ::1 unbracketed (peer: _mta-sts.:)", B("::1"), IPL, "::1"},
    {"SK16 user@good.loc (peer queried it)", B("user@good.loc"), INV, ""},
    {"SK17 empty key (peer: _mta-sts.)", B(""), INV, ""},
    {"SK18 bucher.example U-label", B("b\xc3\xbc" "cher.example"), DOM,
     "xn--bcher-kva.example"},
    {"SK19 BUCHER.EXAMPLE upper U-label", B("B\xc3\x9c" "CHER.EXAMPLE."), DOM,
     "xn--bcher-kva.example"},
    {"SK20 U-label with port", B("[b\xc3\xbc" "cher.example]:25"), DOM,
     "xn--bcher-kva.example"},
    {"SK21 U-label parent probe", B(".b\xc3\xbc" "cher.example"), PAR,
     ".xn--bcher-kva.example"},
    {"SK22 A-label kept", B("XN--BCHER-KVA.example"), DOM,
     "xn--bcher-kva.example"},
    /* IP literals */
    {"SK23 IPv6 upper case", B("2001:DB8::1"), IPL, "2001:db8::1"},
    {"SK24 [IPv6:...] RFC 5321 tag", B("[IPv6:2001:db8::1]"), IPL,
     "2001:db8::1"},
    {"SK25 bare IPv4", B("192.0.2.1"), IPL, "192.0.2.1"},
    {"SK26 IPv4 trailing dot", B("192.0.2.1."), IPL, "192.0.2.1"},
    {"SK27 IPv4-mapped IPv6", B("[::FFFF:192.0.2.1]"), IPL,
     "::ffff:192.0.2.1"},
    {"SK28 IPv6 non-canonical", B("[2001:0db8:0:0:0:0:0:1]"), IPL,
     "2001:db8::1"},
    {"SK29 spaces inside brackets", B("[ 1.2.3.4 ]"), IPL, "1.2.3.4"},
    /* invalid */
    {"SK30 space inside", B("good loc.example"), INV, ""},
    {"SK31 NUL inside", B("good.loc\0x"), INV, ""},
    {"SK32 bad UTF-8", B("\xff.example"), INV, ""},
    {"SK33 label of 63", B(L63 ".example"), DOM, L63 ".example"},
    {"SK34 label of 64", B("a" L63 ".example"), INV, ""},
    {"SK35 inet_aton form 127.1", B("127.1"), INV, ""},
    {"SK36 all-numeric TLD", B("example.123"), INV, ""},
    {"SK37 []", B("[]"), INV, ""},
    {"SK38 :25", B(":25"), INV, ""},
    {"SK39 root only", B("."), INV, ""},
    {"SK40 dots only", B("..."), INV, ""},
    {"SK41 empty label in probe", B("..example.com"), INV, ""},
    {"SK42 two colons, not IPv6", B("a:b:c"), INV, ""},
    {"SK43 scoped IPv6", B("fe80::1%eth0"), INV, ""},
    {"SK44 wildcard", B("*.example.com"), INV, ""},
    {"SK45 unclosed bracket", B("[good.loc"), INV, ""},
    {"SK46 empty label", B("a..b"), INV, ""},
    {"SK47 control char", B("good\x01.loc"), INV, ""},
    {"SK48 whitespace only", B(" \t "), INV, ""},
    {"SK49 probe of IP", B(".1.2.3.4"), INV, ""},
    {"SK50 probe with space", B(". example.com"), INV, ""},
    {"SK51 '@' in brackets", B("[user@good.loc]"), INV, ""},
    /* tolerated */
    {"SK52 trailing tab", B("good.loc\t"), DOM, "good.loc"},
    {"SK53 empty port", B("good.loc:"), DOM, "good.loc"},
    {"SK54 port not digits (peer cuts it)", B("good.loc:smtp"), DOM,
     "good.loc"},
    {"SK55 underscore label", B("_mta-sts.Example.com"), DOM,
     "_mta-sts.example.com"},
    {"SK56 text after ]", B("[good.loc]junk"), DOM, "good.loc"},
    {"SK57 single label", B("localhost"), DOM, "localhost"},
    {"SK58 fullwidth dot", B("good\xe3\x80\x82loc"), DOM, "good.loc"},
};

static void check_key(const char *id, const uint8_t *key, size_t len,
                      enum mts_socketmap_key_kind want_kind,
                      const char *want) {
  char out[MTS_SOCKETMAP_NORM_MAX];
  char again[MTS_SOCKETMAP_NORM_MAX];
  enum mts_socketmap_key_kind kind, kind2;
  enum mts_status st;

  memset(out, 'X', sizeof(out));
  st = mts_socketmap_key_normalize(key, len, out, sizeof(out), &kind);
  if (st != MTS_OK || kind != want_kind || strcmp(out, want) != 0) {
    fail_msg("%s: got %s %s \"%s\", want OK %s \"%s\"", id,
             mts_status_name(st), mts_socketmap_key_kind_str(kind), out,
             mts_socketmap_key_kind_str(want_kind), want);
  }
  /* idempotent */
  st = mts_socketmap_key_normalize((const uint8_t *)out, strlen(out), again,
                                   sizeof(again), &kind2);
  if (st != MTS_OK || kind2 != kind || strcmp(out, again) != 0) {
    fail_msg("%s: not idempotent: \"%s\" %s -> \"%s\" %s", id, out,
             mts_socketmap_key_kind_str(kind), again,
             mts_socketmap_key_kind_str(kind2));
  }
}

static void test_key_table(void **state) {
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(key_cases) / sizeof(key_cases[0]); i++) {
    const struct key_case *c = &key_cases[i];

    check_key(c->id, (const uint8_t *)c->key.p, c->key.n, c->want_kind,
              c->want);
  }
}

/* Long keys: the peer closed the connection on a 1015-char label
 * (POSTFIX-NOTES 2.1); name length 253 / 254 (RFC 1035 2.3.4). */
static void test_key_long(void **state) {
  char *k = malloc(MTS_SOCKETMAP_KEY_MAX + 1);
  char want[300];
  size_t i;

  (void)state;
  assert_non_null(k);
  /* SK60 a 1015-char label */
  memset(k, 'a', 1015);
  memcpy(k + 1015, ".example", 8);
  check_key("SK60 1015-char label", (const uint8_t *)k, 1023, INV, "");
  /* SK61 a 10000-byte key */
  memset(k, 'a', MTS_SOCKETMAP_KEY_MAX);
  check_key("SK61 10000-byte key", (const uint8_t *)k, MTS_SOCKETMAP_KEY_MAX,
            INV, "");
  /* SK62 a 10000-byte non-ASCII key */
  for (i = 0; i + 1 < MTS_SOCKETMAP_KEY_MAX; i += 2) {
    k[i] = '\xc3';
    k[i + 1] = '\xbc';
  }
  check_key("SK62 10000-byte U-label key", (const uint8_t *)k,
            MTS_SOCKETMAP_KEY_MAX, INV, "");
  /* SK63 253 octets: 63.63.63.61 */
  for (i = 0; i < 4; i++) {
    memset(k + i * 64, 'a', 63);
    k[i * 64 + 63] = '.';
  }
  memcpy(want, k, 253);
  want[253] = '\0';
  check_key("SK63 253-octet name", (const uint8_t *)k, 253, DOM, want);
  /* SK64 the same plus a trailing dot is still 253 */
  k[253] = '.';
  check_key("SK64 253-octet name + root dot", (const uint8_t *)k, 254, DOM,
            want);
  /* SK65 254 octets */
  k[253] = 'a';
  check_key("SK65 254-octet name", (const uint8_t *)k, 254, INV, "");
  /* SK66 parent probe of a 253-octet name fits MTS_SOCKETMAP_NORM_MAX */
  k[0] = '.';
  memcpy(k + 1, want, 253);
  memcpy(want, k, 254);
  want[254] = '\0';
  check_key("SK66 parent probe of 253 octets", (const uint8_t *)k, 254, PAR,
            want);
  free(k);
}

static void test_key_args(void **state) {
  char out[MTS_SOCKETMAP_NORM_MAX];
  enum mts_socketmap_key_kind kind = MTS_SOCKETMAP_KEY_DOMAIN;
  const uint8_t *k = (const uint8_t *)"good.loc";

  (void)state;
  /* SK70 out exactly large enough / one short */
  assert_int_equal(mts_socketmap_key_normalize(k, 8, out, 9, &kind), MTS_OK);
  assert_string_equal(out, "good.loc");
  assert_int_equal(kind, DOM);
  assert_int_equal(mts_socketmap_key_normalize(k, 8, out, 8, &kind),
                   MTS_ETOOBIG);
  assert_string_equal(out, "");
  assert_int_equal(kind, INV);
  /* SK71 invalid keys fit any out */
  assert_int_equal(mts_socketmap_key_normalize(k, 0, out, 1, &kind), MTS_OK);
  assert_int_equal(kind, INV);
  assert_int_equal(mts_socketmap_key_normalize(NULL, 0, out, 1, &kind),
                   MTS_OK);
  assert_int_equal(kind, INV);
  /* SK72 arguments */
  kind = DOM;
  assert_int_equal(mts_socketmap_key_normalize(NULL, 3, out, 9, &kind),
                   MTS_EINVAL);
  assert_int_equal(kind, INV);
  assert_int_equal(mts_socketmap_key_normalize(k, 8, NULL, 9, &kind),
                   MTS_EINVAL);
  assert_int_equal(mts_socketmap_key_normalize(k, 8, out, 0, &kind),
                   MTS_EINVAL);
  assert_int_equal(mts_socketmap_key_normalize(k, 8, out, 9, NULL),
                   MTS_EINVAL);

  assert_string_equal(mts_socketmap_key_kind_str(DOM), "domain");
  assert_string_equal(mts_socketmap_key_kind_str(PAR), "parent-probe");
  assert_string_equal(mts_socketmap_key_kind_str(IPL), "ip-literal");
  assert_string_equal(mts_socketmap_key_kind_str(INV), "invalid");
  assert_string_equal(
      mts_socketmap_key_kind_str((enum mts_socketmap_key_kind)42), "unknown");
}

/* ---- Replies ---- */

struct reply_case {
  const char *id;
  enum mts_socketmap_reply_kind kind;
  struct bytes text;
  struct bytes want; /* the whole frame */
};

static const struct reply_case reply_cases[] = {
    {"SP01 OK, refdata", MTS_SOCKETMAP_REPLY_OK,
     B("secure match=mail.loc servername=hostname"),
     B("44:OK secure match=mail.loc servername=hostname,")},
    {"SP02 OK, wildcard match", MTS_SOCKETMAP_REPLY_OK,
     B("secure match=.mail.loc:mail.loc"),
     B("34:OK secure match=.mail.loc:mail.loc,")},
    {"SP03 NOTFOUND with its space", MTS_SOCKETMAP_REPLY_NOTFOUND, B(""),
     B("9:NOTFOUND ,")},
    {"SP04 NOTFOUND ignores text", MTS_SOCKETMAP_REPLY_NOTFOUND,
     B("ignored"), B("9:NOTFOUND ,")},
    {"SP05 TEMP", MTS_SOCKETMAP_REPLY_TEMP, B("dns timeout"),
     B("16:TEMP dns timeout,")},
    {"SP06 TIMEOUT default reason", MTS_SOCKETMAP_REPLY_TIMEOUT, B(""),
     B("15:TIMEOUT timeout,")},
    {"SP07 PERM sanitised", MTS_SOCKETMAP_REPLY_PERM, B("bad\r\nzone"),
     B("14:PERM bad??zone,")},
    {"SP08 TEMP default reason", MTS_SOCKETMAP_REPLY_TEMP, B(""),
     B("22:TEMP temporary failure,")},
    {"SP09 PERM default reason", MTS_SOCKETMAP_REPLY_PERM, B(""),
     B("22:PERM permanent failure,")},
    {"SP10 TEMP non-ASCII, NUL", MTS_SOCKETMAP_REPLY_TEMP,
     B("\xc3\xa9t\0"), B("9:TEMP ??t?,")},
};

static void test_reply_table(void **state) {
  uint8_t buf[128];
  size_t i, w;

  (void)state;
  for (i = 0; i < sizeof(reply_cases) / sizeof(reply_cases[0]); i++) {
    const struct reply_case *c = &reply_cases[i];
    enum mts_status st;
    const uint8_t *p;
    size_t n, used;

    memset(buf, 0xAA, sizeof(buf));
    st = mts_socketmap_reply_write(buf, sizeof(buf), c->kind, c->text.p,
                                   c->text.n, &w);
    if (st != MTS_OK || w != c->want.n || memcmp(buf, c->want.p, w) != 0) {
      fail_msg("%s: got %s \"%.*s\", want \"%s\"", c->id, mts_status_name(st),
               (int)w, buf, c->want.p);
    }
    assert_int_equal(buf[w], 0xAA);
    /* it parses as one netstring of at most the reply limit */
    assert_int_equal(mts_netstring_parse(buf, w, MTS_SOCKETMAP_REPLY_MAX, &p,
                                         &n, &used, NULL),
                     MTS_NETSTRING_COMPLETE);
    assert_int_equal(used, w);
    /* exact buffer fits, one less does not */
    assert_int_equal(mts_socketmap_reply_write(buf, c->want.n, c->kind,
                                               c->text.p, c->text.n, &w),
                     MTS_OK);
    assert_int_equal(mts_socketmap_reply_write(buf, c->want.n - 1, c->kind,
                                               c->text.p, c->text.n, &w),
                     MTS_ETOOBIG);
    assert_int_equal(w, 0);
  }
}

static void test_reply_limits(void **state) {
  uint8_t *buf = malloc(MTS_SOCKETMAP_REPLY_BUF_MAX);
  char *text = malloc(MTS_SOCKETMAP_REPLY_MAX);
  const uint8_t *p;
  size_t w, n, used;

  (void)state;
  assert_non_null(buf);
  assert_non_null(text);
  memset(text, 'r', MTS_SOCKETMAP_REPLY_MAX);
  /* SP20 reasons are cut to 200 */
  assert_int_equal(mts_socketmap_reply_write(buf, MTS_SOCKETMAP_REPLY_BUF_MAX,
                                             MTS_SOCKETMAP_REPLY_TEMP, text,
                                             300, &w),
                   MTS_OK);
  assert_int_equal(w, 4 + 5 + MTS_SOCKETMAP_REASON_MAX + 1);
  assert_memory_equal(buf, "205:TEMP rrr", 12);
  assert_int_equal(buf[w - 2], 'r');
  assert_int_equal(buf[w - 1], ',');
  /* SP21 OK payload of exactly 100000 (3 + 99997) */
  assert_int_equal(mts_socketmap_reply_write(buf, MTS_SOCKETMAP_REPLY_BUF_MAX,
                                             MTS_SOCKETMAP_REPLY_OK, text,
                                             MTS_SOCKETMAP_REPLY_MAX - 3, &w),
                   MTS_OK);
  assert_int_equal(w, MTS_SOCKETMAP_REPLY_BUF_MAX);
  assert_int_equal(mts_netstring_parse(buf, w, MTS_SOCKETMAP_REPLY_MAX, &p, &n,
                                       &used, NULL),
                   MTS_NETSTRING_COMPLETE);
  assert_int_equal(n, MTS_SOCKETMAP_REPLY_MAX);
  assert_memory_equal(p, "OK rrr", 6);
  /* SP22 one more is too big for Postfix, whatever the buffer */
  assert_int_equal(mts_socketmap_reply_write(buf, MTS_SOCKETMAP_REPLY_BUF_MAX,
                                             MTS_SOCKETMAP_REPLY_OK, text,
                                             MTS_SOCKETMAP_REPLY_MAX - 2, &w),
                   MTS_ETOOBIG);
  assert_int_equal(w, 0);
  /* SP23 a long reason never makes the reply too big */
  assert_int_equal(mts_socketmap_reply_write(buf, MTS_SOCKETMAP_REPLY_BUF_MAX,
                                             MTS_SOCKETMAP_REPLY_PERM, text,
                                             MTS_SOCKETMAP_REPLY_MAX, &w),
                   MTS_OK);
  assert_int_equal(w, 4 + 5 + MTS_SOCKETMAP_REASON_MAX + 1);
  free(buf);
  free(text);
}

static void test_reply_invalid(void **state) {
  uint8_t buf[64];
  size_t w = 7;

  (void)state;
  /* SP30 never a bare OK */
  assert_int_equal(mts_socketmap_reply_write(buf, sizeof(buf),
                                             MTS_SOCKETMAP_REPLY_OK, "", 0, &w),
                   MTS_EINVAL);
  assert_int_equal(w, 0);
  assert_int_equal(mts_socketmap_reply_write(buf, sizeof(buf),
                                             MTS_SOCKETMAP_REPLY_OK, NULL, 0,
                                             &w),
                   MTS_EINVAL);
  /* SP31 OK data is ours: non-printable is a bug, refused */
  assert_int_equal(mts_socketmap_reply_write(buf, sizeof(buf),
                                             MTS_SOCKETMAP_REPLY_OK, "a\nb", 3,
                                             &w),
                   MTS_EINVAL);
  assert_int_equal(mts_socketmap_reply_write(buf, sizeof(buf),
                                             MTS_SOCKETMAP_REPLY_OK,
                                             "secure\xc3\xa9", 8, &w),
                   MTS_EINVAL);
  /* SP32 arguments */
  assert_int_equal(
      mts_socketmap_reply_write(buf, sizeof(buf),
                                (enum mts_socketmap_reply_kind)9, "x", 1, &w),
      MTS_EINVAL);
  assert_int_equal(mts_socketmap_reply_write(NULL, 9,
                                             MTS_SOCKETMAP_REPLY_NOTFOUND, NULL,
                                             0, &w),
                   MTS_EINVAL);
  assert_int_equal(mts_socketmap_reply_write(buf, sizeof(buf),
                                             MTS_SOCKETMAP_REPLY_NOTFOUND, NULL,
                                             0, NULL),
                   MTS_EINVAL);
  assert_int_equal(mts_socketmap_reply_write(buf, sizeof(buf),
                                             MTS_SOCKETMAP_REPLY_TEMP, NULL, 4,
                                             &w),
                   MTS_EINVAL);
  assert_int_equal(mts_socketmap_reply_write(buf, sizeof(buf),
                                             MTS_SOCKETMAP_REPLY_NOTFOUND, NULL,
                                             0, &w),
                   MTS_OK);
  assert_int_equal(w, 12);
  assert_memory_equal(buf, "9:NOTFOUND ,", 12);
}

/* SR30 end to end: request frame -> reader -> parse -> normalise. */
static void test_request_pipeline(void **state) {
  static const char wire[] = "18:test [GOOD.loc]:25,11:test ::1:25,"
                             "9:test .LOC,5:test ,";
  static const struct {
    enum mts_socketmap_key_kind kind;
    const char *norm;
  } want[] = {{DOM, "good.loc"},
              /* "::1:25" is itself an IPv6 address (SM-4), which glibc
               * prints in the old IPv4-compatible form */
              {IPL, "::0.1.0.37"},
              {PAR, ".loc"},
              {INV, ""}};
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct mts_netstring_reader r;
  size_t off = 0, i = 0;

  (void)state;
  assert_int_equal(
      mts_netstring_reader_init(&r, ctx, MTS_SOCKETMAP_REQUEST_MAX), MTS_OK);
  while (off < sizeof(wire) - 1) {
    const uint8_t *p;
    size_t n;
    struct mts_socketmap_request rq;
    char out[MTS_SOCKETMAP_NORM_MAX];
    enum mts_socketmap_key_kind kind;

    off += mts_netstring_reader_feed(&r, (const uint8_t *)wire + off,
                                     sizeof(wire) - 1 - off);
    assert_int_equal(mts_netstring_reader_next(&r, &p, &n),
                     MTS_NETSTRING_COMPLETE);
    assert_int_equal(mts_socketmap_request_parse(p, n, &rq), MTS_OK);
    assert_memory_equal(rq.name, "test", 4);
    assert_int_equal(mts_socketmap_key_normalize(rq.key, rq.key_len, out,
                                                 sizeof(out), &kind),
                     MTS_OK);
    if (kind != want[i].kind || strcmp(out, want[i].norm) != 0) {
      fail_msg("SR30 request %zu: got %s \"%s\", want %s \"%s\"", i,
               mts_socketmap_key_kind_str(kind), out,
               mts_socketmap_key_kind_str(want[i].kind), want[i].norm);
    }
    i++;
  }
  assert_int_equal(i, 4);
  mts_netstring_reader_cleanup(&r);
  mts_ctx_destroy(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_request_table),
      cmocka_unit_test(test_request_limits),
      cmocka_unit_test(test_key_table),
      cmocka_unit_test(test_key_long),
      cmocka_unit_test(test_key_args),
      cmocka_unit_test(test_reply_table),
      cmocka_unit_test(test_reply_limits),
      cmocka_unit_test(test_reply_invalid),
      cmocka_unit_test(test_request_pipeline),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
