/*
 * test_rpt_mime.c - reports out of report mail (RFC-CHECKLIST 2.5
 * DLV-4..7, TLSRPT-NOTES 5) in the layouts real senders use. The
 * fixtures are the .eml files in tests/fixtures/tlsrpt/mail/, made by gen.py there
 * (google.eml is the real sample); each document is compared byte for
 * byte with the .json fixture it was made from.
 */
#include "testutil.h"

#include <fcntl.h>
#include <malloc.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include <mtasts/rpt_mime.h>

/* ---- fixtures ---- */

static char *fixture_path(const char *name) {
  /* __FILE__ is absolute in the CMake build: <repo>/tests/unit/... */
  const char *self = __FILE__;
  const char *cut = strstr(self, "tests/unit/test_rpt_mime.c");
  const char *dir = "tests/fixtures/tlsrpt/mail/";
  size_t n = cut != NULL ? (size_t)(cut - self) : 0;
  char *p = malloc(n + strlen(dir) + strlen(name) + 1);

  assert_non_null(p);
  memcpy(p, self, n);
  memcpy(p + n, dir, strlen(dir));
  memcpy(p + n + strlen(dir), name, strlen(name) + 1);
  return p;
}

static uint8_t *slurp(const char *name, size_t *len) {
  char *path = fixture_path(name);
  FILE *f = fopen(path, "rb");
  uint8_t *buf = NULL;
  size_t n = 0, cap = 0;

  if (f == NULL) {
    fail_msg("cannot open %s", path);
  }
  for (;;) {
    size_t r;

    if (cap - n < 65536) {
      cap = cap * 2 + 65536;
      buf = realloc(buf, cap);
      assert_non_null(buf);
    }
    r = fread(buf + n, 1, cap - n, f);
    if (r == 0) {
      break;
    }
    n += r;
  }
  fclose(f);
  free(path);
  *len = n;
  return buf;
}

/* ---- collecting what the callback sees ---- */

#define MAXITEMS 8

struct item {
  bool is_doc;
  char *data; /* document bytes, NUL added */
  size_t len;
  char ct[64], fn[96], enc[24];
  bool has_part;
  size_t index;
  unsigned depth;
  char code[40];
  enum mts_status st;
  size_t mbox_index;
};

struct got {
  size_t n;
  struct item it[MAXITEMS];
  /* metadata of the first item, copied */
  char message_id[96], from[96], from_addr[96], date[64], subject[160],
      domain[64], submitter[64], dkim_domain[64], marker[96];
  bool has_date, dkim, tlsrpt, seen_meta;
  int64_t date_unix;
  enum mts_status ret;
};

static void cp(char *dst, size_t n, const char *s) {
  (void)snprintf(dst, n, "%s", s != NULL ? s : "(null)");
}

static enum mts_status collect(void *arg, const struct mts_rpt_mime_item *x) {
  struct got *g = arg;
  struct item *it;

  assert_true(g->n < MAXITEMS);
  assert_non_null(x->meta);
  assert_true((x->doc == NULL) != (x->error == NULL));
  it = &g->it[g->n++];
  memset(it, 0, sizeof(*it));
  it->is_doc = x->doc != NULL;
  if (x->doc != NULL) {
    it->data = malloc(x->doc->len + 1);
    assert_non_null(it->data);
    memcpy(it->data, x->doc->data, x->doc->len);
    it->data[x->doc->len] = '\0';
    it->len = x->doc->len;
    assert_non_null(x->part);
  } else {
    cp(it->code, sizeof(it->code), x->error->code);
    it->st = x->error->status;
    assert_true(x->error->message[0] != '\0');
  }
  if (x->part != NULL) {
    it->has_part = true;
    cp(it->ct, sizeof(it->ct), x->part->content_type);
    cp(it->fn, sizeof(it->fn), x->part->filename);
    cp(it->enc, sizeof(it->enc), x->part->encoding);
    it->index = x->part->index;
    it->depth = x->part->depth;
  }
  it->mbox_index = x->meta->mbox_index;
  if (!g->seen_meta) {
    const struct mts_rpt_mime_meta *m = x->meta;

    g->seen_meta = true;
    cp(g->message_id, sizeof(g->message_id), m->message_id);
    cp(g->from, sizeof(g->from), m->from);
    cp(g->from_addr, sizeof(g->from_addr), m->from_addr);
    cp(g->date, sizeof(g->date), m->date);
    cp(g->subject, sizeof(g->subject), m->subject);
    cp(g->domain, sizeof(g->domain), m->tls_report_domain);
    cp(g->submitter, sizeof(g->submitter), m->tls_report_submitter);
    cp(g->dkim_domain, sizeof(g->dkim_domain), m->dkim_domain);
    cp(g->marker, sizeof(g->marker), m->mbox_marker);
    g->has_date = m->has_date;
    g->date_unix = m->date_unix;
    g->dkim = m->dkim_signature;
    g->tlsrpt = m->report_type_tlsrpt;
  }
  return g->ret;
}

static void got_free(struct got *g) {
  size_t i;

  for (i = 0; i < g->n; i++) {
    free(g->it[i].data);
  }
  memset(g, 0, sizeof(*g));
}

static enum mts_status parse_file(const char *name, struct got *g,
                                  struct mts_rpt_mime_result *res,
                                  struct mts_rpt_unpack_error *err) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  size_t len;
  uint8_t *msg = slurp(name, &len);
  enum mts_status st =
      mts_rpt_mime_parse(ctx, msg, len, NULL, collect, g, res, err);

  free(msg);
  mts_ctx_destroy(ctx);
  return st;
}

static void assert_doc(const struct item *it, const char *json_fixture) {
  size_t len;
  uint8_t *want = slurp(json_fixture, &len);

  assert_true(it->is_doc);
  if (it->len != len || memcmp(it->data, want, len) != 0) {
    fail_msg("document differs from %s: got %zu bytes \"%.80s\"",
             json_fixture, it->len, it->data);
  }
  free(want);
}

/* ---- the layouts ---- */

struct layout {
  const char *file;
  size_t ndocs;
  const char *json[2];
  const char *ct[2];
  const char *fn[2];
  const char *enc[2];
  size_t index[2];
  unsigned depth[2];
  bool tlsrpt;
};

static const struct layout layouts[] = {
    {"google.eml", 1, {"google.json"}, {"application/tlsrpt+gzip"},
     {"google.com!cardinalhealth.ca!1725321600!1725407999!001.json.gz"},
     {"base64"}, {1}, {1}, true},
    {"microsoft.eml", 1, {"report-ms.json"}, {"application/tlsrpt+gzip"},
     {"microsoft.com!example.com!1725321600!1725408000!133944884956529435."
      "json.gz"},
     {"base64"}, {1}, {1}, true},
    {"zip.eml", 1, {"report-ms.json"}, {"application/zip"}, {"report.zip"},
     {"base64"}, {1}, {1}, false},
    {"body-json.eml", 1, {"report-b.json"}, {"text/plain"}, {"(null)"},
     {"7bit"}, {0}, {0}, false},
    {"appjson.eml", 1, {"report-b.json"}, {"application/json"}, {"(null)"},
     {"7bit"}, {1}, {1}, false},
    {"octet-gz.eml", 1, {"report-b.json"}, {"application/octet-stream"},
     {"sender.example!example.net!1725321600!1725407999.json.gz"},
     {"base64"}, {1}, {1}, false},
    {"nested.eml", 1, {"report-ms.json"}, {"application/tlsrpt+gzip"},
     {"r.json.gz"}, {"base64"}, {1}, {2}, false},
    {"qp.eml", 1, {"report-qp.json"}, {"application/tlsrpt+json"},
     {"qp.example!example.org!1725321600!1725407999.json"},
     {"quoted-printable"}, {1}, {1}, true},
    {"two.eml", 2, {"report-ms.json", "report-b.json"},
     {"application/tlsrpt+gzip", "application/tlsrpt+json"},
     {"a.json.gz", "b.json"}, {"base64", "base64"}, {1, 2}, {1, 1}, true},
};

static void test_layouts(void **state) {
  size_t i, k;

  (void)state;
  for (i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++) {
    const struct layout *l = &layouts[i];
    struct got g = {0};
    struct mts_rpt_mime_result res;
    struct mts_rpt_unpack_error err;
    enum mts_status st = parse_file(l->file, &g, &res, &err);

    if (st != MTS_OK) {
      fail_msg("%s: %s %s: %s", l->file, mts_status_name(st),
               err.code != NULL ? err.code : "-", err.message);
    }
    assert_null(err.code);
    assert_int_equal(g.n, l->ndocs);
    assert_int_equal(res.ndocs, l->ndocs);
    assert_int_equal(res.nparts, l->ndocs);
    assert_int_equal(res.nerrors, 0);
    assert_int_equal(res.nmessages, 1);
    for (k = 0; k < l->ndocs; k++) {
      assert_doc(&g.it[k], l->json[k]);
      assert_string_equal(g.it[k].ct, l->ct[k]);
      assert_string_equal(g.it[k].fn, l->fn[k]);
      assert_string_equal(g.it[k].enc, l->enc[k]);
      assert_int_equal(g.it[k].index, l->index[k]);
      assert_int_equal(g.it[k].depth, l->depth[k]);
    }
    if (g.tlsrpt != l->tlsrpt) {
      fail_msg("%s: report_type_tlsrpt %d", l->file, g.tlsrpt);
    }
    assert_string_equal(g.marker, "(null)");
    got_free(&g);
  }
}

/* The real Google mail: every metadata field. */
static void test_google_meta(void **state) {
  struct got g = {0};
  struct mts_rpt_mime_result res;
  struct mts_rpt_unpack_error err;

  (void)state;
  assert_int_equal(parse_file("google.eml", &g, &res, &err), MTS_OK);
  assert_string_equal(g.message_id,
                      "66d83c20.050a0220.a0566.1e8dtls@google.com");
  assert_string_equal(g.from, "noreply-smtp-tls-reporting@google.com");
  assert_string_equal(g.from_addr, "noreply-smtp-tls-reporting@google.com");
  assert_string_equal(g.date, "Wed, 04 Sep 2024 03:53:20 -0700");
  assert_true(g.has_date);
  assert_int_equal(g.date_unix, 1725447200);
  assert_string_equal(g.subject,
                      "Report Domain: cardinalhealth.ca Submitter: google.com "
                      "Report-ID: <2024.09.03T00.00.00Z+cardinalhealth.ca@"
                      "google.com>");
  assert_string_equal(g.domain, "cardinalhealth.ca");
  assert_string_equal(g.submitter, "google.com");
  assert_true(g.dkim);
  assert_string_equal(g.dkim_domain, "google.com");
  assert_true(g.tlsrpt);
  got_free(&g);
}

/* The generated Microsoft-style mail: display name, folded Subject. */
static void test_microsoft_meta(void **state) {
  struct got g = {0};
  struct mts_rpt_mime_result res;
  struct mts_rpt_unpack_error err;

  (void)state;
  assert_int_equal(parse_file("microsoft.eml", &g, &res, &err), MTS_OK);
  assert_string_equal(g.message_id, "ms-1@microsoft.test");
  assert_string_equal(g.from, "TLS Report <tlsrpt-noreply@microsoft.com>");
  assert_string_equal(g.from_addr, "tlsrpt-noreply@microsoft.com");
  assert_int_equal(g.date_unix, 1725447200);
  assert_string_equal(g.subject,
                      "Report Domain: example.com Submitter: microsoft.com "
                      "Report-ID: <133944884956529435+example.com@"
                      "microsoft.com>");
  assert_string_equal(g.domain, "example.com");
  assert_string_equal(g.submitter, "microsoft.com");
  assert_true(g.dkim);
  assert_string_equal(g.dkim_domain, "microsoft.com");
  got_free(&g);

  /* no DKIM-Signature */
  assert_int_equal(parse_file("zip.eml", &g, &res, &err), MTS_OK);
  assert_false(g.dkim);
  assert_string_equal(g.dkim_domain, "(null)");
  assert_string_equal(g.from, "reports@zip.example");
  assert_string_equal(g.submitter, "zip.example");
  got_free(&g);
}

/* Raw 8-bit bytes in the DKIM d= tag (and the subject) come out as
 * U+FFFD, as the header promises for every string: the d= tag was
 * copied raw (fuzz_rpt_mime, 2026-11-29; its input is in the corpus). */
static void test_dkim_8bit(void **state) {
  static const char msg[] =
      "DKIM-Signature: v=1; d=ex\xf6\xbc\x90\x8d" "ample.com; s=x\r\n"
      "Subject: a \xff b\r\n"
      "Content-Type: application/tlsrpt+json\r\n"
      "\r\n"
      "{}\r\n";
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct got g;
  struct mts_rpt_mime_result res;
  struct mts_rpt_unpack_error err;

  (void)state;
  memset(&g, 0, sizeof(g));
  assert_int_equal(mts_rpt_mime_parse(ctx, (const uint8_t *)msg,
                                      sizeof(msg) - 1, NULL, collect, &g, &res,
                                      &err),
                   MTS_OK);
  assert_true(g.seen_meta);
  assert_true(g.dkim);
  assert_string_equal(g.dkim_domain,
                      "ex\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"
                      "ample.com");
  assert_null(strstr(g.subject, "\xff"));
  got_free(&g);
  mts_ctx_destroy(ctx);
}

/* ---- malformed mail ---- */

struct bad {
  const char *file;
  enum mts_status st;
  const char *code;
  bool part; /* the error names a part */
};

static const struct bad bads[] = {
    {"bad-base64.eml", MTS_EPARSE, "mime-base64-invalid", true},
    {"truncated-gz.eml", MTS_EPARSE, "unpack-gzip-truncated", true},
    {"zip-bomb.eml", MTS_ETOOBIG, "unpack-ratio", true},
    {"gzip-bomb.eml", MTS_ETOOBIG, "unpack-ratio", true},
    {"many-parts.eml", MTS_ETOOBIG, "mime-too-many-parts", false},
    {"no-report.eml", MTS_ENOTFOUND, "mime-no-report", false},
};

static void test_malformed(void **state) {
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
    struct got g = {0};
    struct mts_rpt_mime_result res;
    struct mts_rpt_unpack_error err;
    enum mts_status st = parse_file(bads[i].file, &g, &res, &err);

    if (st != bads[i].st || err.code == NULL ||
        strcmp(err.code, bads[i].code) != 0) {
      fail_msg("%s: got %s %s (%s)", bads[i].file, mts_status_name(st),
               err.code != NULL ? err.code : "-", err.message);
    }
    assert_int_equal(err.status, bads[i].st);
    assert_int_equal(g.n, 1);
    assert_false(g.it[0].is_doc);
    assert_string_equal(g.it[0].code, bads[i].code);
    assert_int_equal(g.it[0].st, bads[i].st);
    assert_int_equal(g.it[0].has_part, bads[i].part);
    assert_int_equal(res.ndocs, 0);
    assert_int_equal(res.nerrors, 1);
    assert_int_equal(res.nparts, bads[i].part ? 1 : 0);
    got_free(&g);
  }
}

static void test_bad_base64_message(void **state) {
  struct got g = {0};
  struct mts_rpt_mime_result res;
  struct mts_rpt_unpack_error err;

  (void)state;
  assert_int_equal(parse_file("bad-base64.eml", &g, &res, &err), MTS_EPARSE);
  assert_string_equal(err.message, "part 1: invalid base64: a byte outside "
                                   "the base64 alphabet at offset 40");
  assert_string_equal(g.it[0].ct, "application/tlsrpt+gzip");
  got_free(&g);
}

/* Nesting deeper than MTS_RPT_MIME_DEPTH_MAX (built here: 2000 levels;
 * GMime itself stops at 1024). */
static void test_too_deep(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  char *m = malloc(2000 * 80 + 200);
  size_t n = 0, i;
  struct got g = {0};
  struct mts_rpt_mime_result res;
  struct mts_rpt_unpack_error err;

  (void)state;
  assert_non_null(m);
  n += (size_t)snprintf(m + n, 200, "From: a@b.example\nSubject: deep\n");
  for (i = 0; i < 2000; i++) {
    n += (size_t)snprintf(m + n, 80,
                          "Content-Type: multipart/mixed; boundary=b%zu\n\n"
                          "--b%zu\n",
                          i, i);
  }
  n += (size_t)snprintf(m + n, 80, "Content-Type: text/plain\n\n{}\n");
  assert_int_equal(mts_rpt_mime_parse(ctx, (const uint8_t *)m, n, NULL,
                                      collect, &g, &res, &err),
                   MTS_ETOOBIG);
  assert_string_equal(err.code, "mime-too-deep");
  assert_int_equal(g.n, 1);
  got_free(&g);
  free(m);
  mts_ctx_destroy(ctx);
}

/* One part fails, the other is still delivered; callback stops. */
static void test_partial_and_stop(void **state) {
  static const char msg[] =
      "From: x@y.example\nContent-Type: multipart/mixed; boundary=B\n\n"
      "--B\nContent-Type: application/json\n\n{\"a\":1}\n"
      "--B\nContent-Type: application/gzip\n\nnot gzip\n"
      "--B\nContent-Type: text/plain\n\n  {\"b\":2}\n--B--\n";
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct got g = {0};
  struct mts_rpt_mime_result res;
  struct mts_rpt_unpack_error err;

  (void)state;
  assert_int_equal(mts_rpt_mime_parse(ctx, (const uint8_t *)msg,
                                      sizeof(msg) - 1, NULL, collect, &g, &res,
                                      &err),
                   MTS_EPARSE);
  assert_string_equal(err.code, "unpack-unknown-format");
  assert_int_equal(g.n, 3);
  assert_string_equal(g.it[0].data, "{\"a\":1}");
  assert_string_equal(g.it[1].code, "unpack-unknown-format");
  assert_string_equal(g.it[1].ct, "application/gzip");
  assert_string_equal(g.it[2].data, "  {\"b\":2}");
  assert_string_equal(g.it[2].ct, "text/plain");
  assert_int_equal(res.ndocs, 2);
  assert_int_equal(res.nparts, 3);
  assert_int_equal(res.nerrors, 1);
  got_free(&g);

  g.ret = MTS_ECANCELED;
  assert_int_equal(mts_rpt_mime_parse(ctx, (const uint8_t *)msg,
                                      sizeof(msg) - 1, NULL, collect, &g, &res,
                                      &err),
                   MTS_ECANCELED);
  assert_int_equal(g.n, 1);
  got_free(&g);
  /* bad arguments */
  assert_int_equal(mts_rpt_mime_parse(ctx, NULL, 1, NULL, collect, &g, &res,
                                      &err),
                   MTS_EINVAL);
  assert_string_equal(err.code, "mime-invalid");
  assert_int_equal(mts_rpt_mime_parse(ctx, (const uint8_t *)msg, 3, NULL,
                                      NULL, &g, NULL, NULL),
                   MTS_EINVAL);
  assert_int_equal(mts_rpt_mime_mbox_each(ctx, -1, NULL, collect, &g, NULL,
                                          &err),
                   MTS_EINVAL);
  mts_ctx_destroy(ctx);
}


/* Strict base64 (RFC 2045 6.8) on an application/json part. */
static void test_base64_strict(void **state) {
  static const struct {
    const char *b64;
    const char *doc; /* NULL: mime-base64-invalid */
  } v[] = {
      {"e30=", "{}"},
      {"e30", "{}"},             /* missing padding tolerated */
      {"e3\n0=\r\n", "{}"},    /* white space skipped */
      {"eyJhIjoxfQ==", "{\"a\":1}"},
      {"eyJhIjoxfQ", "{\"a\":1}"},
      {"e30=\n\n", "{}"},
      {"e3=0", NULL},            /* data after the padding */
      {"e30==", NULL},           /* too much padding */
      {"e", NULL},               /* a lone final character */
      {"e30*", NULL},            /* outside the alphabet */
      {"=e30", NULL},
      {"e30=e30=", NULL},        /* two encodings run together */
  };
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
    char msg[512];
    int n = snprintf(msg, sizeof(msg),
                     "From: x@y.example\nContent-Type: application/json\n"
                     "Content-Transfer-Encoding: base64\n\n%s",
                     v[i].b64);
    struct got g = {0};
    struct mts_rpt_unpack_error err;
    enum mts_status st = mts_rpt_mime_parse(ctx, (const uint8_t *)msg,
                                            (size_t)n, NULL, collect, &g,
                                            NULL, &err);

    if (v[i].doc != NULL) {
      if (st != MTS_OK || g.n != 1 || strcmp(g.it[0].data, v[i].doc) != 0) {
        fail_msg("vector %zu: %s %s", i, mts_status_name(st),
                 err.code != NULL ? err.code : "-");
      }
    } else if (st != MTS_EPARSE || err.code == NULL ||
               strcmp(err.code, "mime-base64-invalid") != 0) {
      fail_msg("vector %zu: %s %s", i, mts_status_name(st),
               err.code != NULL ? err.code : "-");
    }
    got_free(&g);
  }
  mts_ctx_destroy(ctx);
}

/* A forwarded report: message/rfc822 inside multipart/mixed; the
 * metadata stays the outer message's. */
static void test_forwarded(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  size_t len, n;
  uint8_t *inner = slurp("microsoft.eml", &len);
  static const char head[] =
      "From: postmaster@example.com\nSubject: Fwd: report\n"
      "Message-ID: <fwd@example.com>\n"
      "Content-Type: multipart/mixed; boundary=FWD\n\n"
      "--FWD\nContent-Type: text/plain\n\nSee attached.\n\n"
      "--FWD\nContent-Type: message/rfc822\n\n";
  static const char tail[] = "\n--FWD--\n";
  char *msg = malloc(sizeof(head) + len + sizeof(tail));
  struct got g = {0};
  struct mts_rpt_mime_result res;
  struct mts_rpt_unpack_error err;

  (void)state;
  assert_non_null(msg);
  memcpy(msg, head, sizeof(head) - 1);
  n = sizeof(head) - 1;
  memcpy(msg + n, inner, len);
  n += len;
  memcpy(msg + n, tail, sizeof(tail) - 1);
  n += sizeof(tail) - 1;
  assert_int_equal(mts_rpt_mime_parse(ctx, (const uint8_t *)msg, n, NULL,
                                      collect, &g, &res, &err),
                   MTS_OK);
  assert_int_equal(g.n, 1);
  assert_doc(&g.it[0], "report-ms.json");
  assert_int_equal(g.it[0].depth, 3); /* mixed > rfc822 > report > part */
  assert_string_equal(g.message_id, "fwd@example.com");
  assert_null(strstr(g.subject, "Report Domain"));
  assert_false(g.dkim);
  got_free(&g);
  free(msg);
  free(inner);
  mts_ctx_destroy(ctx);
}

/* A message above MTS_RPT_MIME_MESSAGE_MAX is not parsed. */
static void test_too_big(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  size_t n = (size_t)MTS_RPT_MIME_MESSAGE_MAX + 1;
  uint8_t *m = malloc(n);
  struct got g = {0};
  struct mts_rpt_mime_result res;
  struct mts_rpt_unpack_error err;

  (void)state;
  assert_non_null(m);
  memset(m, 'a', n);
  assert_int_equal(
      mts_rpt_mime_parse(ctx, m, n, NULL, collect, &g, &res, &err),
      MTS_ETOOBIG);
  assert_string_equal(err.code, "mime-too-big");
  assert_int_equal(g.n, 1);
  assert_false(g.it[0].has_part);
  got_free(&g);
  free(m);
  mts_ctx_destroy(ctx);
}


static enum mts_status ct_len(void *arg, const struct mts_rpt_mime_item *x) {
  *(size_t *)arg = strlen(x->part->content_type);
  return MTS_OK;
}

/* Fuzz regression: a media type longer than any fixed buffer is handed
 * out whole (it was cut before its '/'). */
static void test_long_content_type(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  char msg[1024], want[400];
  struct got g = {0};
  struct mts_rpt_unpack_error err;
  int n;

  (void)state;
  memset(want, 0, sizeof(want));
  memcpy(want, "application/", 12);
  memset(want + 12, 'x', 300);
  n = snprintf(msg, sizeof(msg),
               "From: x@y.example\nContent-Type: application/%s; "
               "name=r.json\n\n{}\n",
               want + 12);
  assert_int_equal(mts_rpt_mime_parse(ctx, (const uint8_t *)msg, (size_t)n,
                                      NULL, collect, &g, NULL, &err),
                   MTS_OK);
  assert_int_equal(g.n, 1);
  want[63] = '\0'; /* the collector keeps 63 bytes */
  assert_string_equal(g.it[0].ct, want);
  assert_string_equal(g.it[0].fn, "r.json");
  got_free(&g);
  {
    size_t len = 0;

    assert_int_equal(mts_rpt_mime_parse(ctx, (const uint8_t *)msg, (size_t)n,
                                        NULL, ct_len, &len, NULL, NULL),
                     MTS_OK);
    assert_int_equal(len, 12 + 300);
  }
  mts_ctx_destroy(ctx);
}

/* ---- bounds on one message ---- */

/* A growing message text. */
struct text {
  char *p;
  size_t n, cap;
};

static void text_add(struct text *t, const void *p, size_t n) {
  if (t->cap - t->n < n + 1) {
    t->cap = (t->cap + n + 1) * 2;
    t->p = realloc(t->p, t->cap);
    assert_non_null(t->p);
  }
  memcpy(t->p + t->n, p, n);
  t->n += n;
  t->p[t->n] = '\0';
}

static void text_str(struct text *t, const char *s) {
  text_add(t, s, strlen(s));
}

/* Append \p n bytes as base64 lines of 76 characters. */
static void text_b64(struct text *t, const uint8_t *p, size_t n) {
  static const char a[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t i, col = 0;

  for (i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16;
    char q[4];

    if (i + 1 < n) {
      v |= (uint32_t)p[i + 1] << 8;
    }
    if (i + 2 < n) {
      v |= p[i + 2];
    }
    q[0] = a[(v >> 18) & 63];
    q[1] = a[(v >> 12) & 63];
    q[2] = i + 1 < n ? a[(v >> 6) & 63] : '=';
    q[3] = i + 2 < n ? a[v & 63] : '=';
    text_add(t, q, 4);
    col += 4;
    if (col == 76) {
      text_add(t, "\n", 1);
      col = 0;
    }
  }
  text_add(t, "\n", 1);
}

/* gzip (RFC 1952) of \p n bytes, in a malloc'd buffer. */
static uint8_t *gzip_of(const char *p, size_t n, size_t *outlen) {
  z_stream z;
  uLong cap = compressBound((uLong)n) + 64;
  uint8_t *out = malloc(cap);

  assert_non_null(out);
  memset(&z, 0, sizeof(z));
  assert_int_equal(
      deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  z.next_in = (Bytef *)(uintptr_t)p;
  z.avail_in = (uInt)n;
  z.next_out = out;
  z.avail_out = (uInt)cap;
  assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
  *outlen = z.total_out;
  deflateEnd(&z);
  return out;
}

/* A multipart/report mail of \p nparts application/tlsrpt+gzip parts,
 * part i holding a JSON document of \p doclen bytes. */
static struct text gzip_parts_mail(size_t nparts, size_t doclen) {
  struct text t = {NULL, 0, 0};
  char *doc = malloc(doclen + 1);
  size_t i;

  assert_non_null(doc);
  assert_true(doclen >= 32);
  text_str(&t, "From: reports@sender.example\nSubject: many\n"
               "Content-Type: multipart/report; report-type=tlsrpt; "
               "boundary=\"B\"\n\n--B\nContent-Type: text/plain\n\n"
               "Reports attached.\n");
  for (i = 0; i < nparts; i++) {
    int k = snprintf(doc, doclen + 1, "{\"report-id\":\"%zu\",\"x\":\"", i);
    size_t zl, j;
    uint8_t *z;
    char head[160];

    for (j = (size_t)k; j + 2 < doclen; j++) {
      doc[j] = (char)('a' + (i * 7 + j * 13 + j / 5) % 26);
    }
    doc[doclen - 2] = '"';
    doc[doclen - 1] = '}';
    z = gzip_of(doc, doclen, &zl);
    (void)snprintf(head, sizeof(head),
                   "--B\nContent-Type: application/tlsrpt+gzip\n"
                   "Content-Disposition: attachment; filename=r%zu.json.gz\n"
                   "Content-Transfer-Encoding: base64\n\n",
                   i);
    text_str(&t, head);
    text_b64(&t, z, zl);
    free(z);
  }
  text_str(&t, "--B--\n");
  free(doc);
  return t;
}

/* Counts only: these messages have more items than struct got holds. */
struct tally {
  size_t docs, errors, bytes;
  char code[40];
  char message[200];
  bool part;   /* the last error names a part */
  size_t heap; /* bytes in use at the first error (mallinfo2) */
};

static size_t heap_in_use(void) {
  struct mallinfo2 mi = mallinfo2();

  return mi.uordblks + mi.hblkhd;
}

static enum mts_status tally(void *arg, const struct mts_rpt_mime_item *x) {
  struct tally *t = arg;

  if (x->doc != NULL) {
    t->docs++;
    t->bytes += x->doc->len;
  } else {
    if (t->errors == 0) {
      t->heap = heap_in_use();
    }
    t->errors++;
    cp(t->code, sizeof(t->code), x->error->code);
    cp(t->message, sizeof(t->message), x->error->message);
    t->part = x->part != NULL;
  }
  return MTS_OK;
}

/* The unpack budget is one per message: each report part gets what the
 * parts before it left. Ten parts of 20,000 bytes under a 64 KiB total:
 * three are delivered, the fourth is cut short, six are not unpacked;
 * one error after the documents says so. Before, each part had the
 * whole budget again (a 64 MiB mail of 500 gzip parts delivered ~500
 * documents of 32 MiB). */
static void test_budget_bytes(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct mts_rpt_unpack_limits lim = {0, 65536, 0, 0};
  struct text m = gzip_parts_mail(10, 20000);
  struct tally t;
  struct mts_rpt_mime_result res;
  struct mts_rpt_unpack_error err;

  (void)state;
  memset(&t, 0, sizeof(t));
  assert_int_equal(mts_rpt_mime_parse(ctx, (const uint8_t *)m.p, m.n, &lim,
                                      tally, &t, &res, &err),
                   MTS_ETOOBIG);
  assert_int_equal(t.docs, 3);
  assert_true(t.bytes <= 65536);
  assert_int_equal(t.errors, 1);
  assert_false(t.part);
  assert_string_equal(t.code, "mime-total-too-big");
  assert_string_equal(t.message,
                      "7 report parts skipped or cut short: the message's "
                      "reports decompress to more than 65536 bytes in all");
  assert_string_equal(err.code, "mime-total-too-big");
  assert_int_equal(res.ndocs, 3);
  assert_int_equal(res.nparts, 10);
  assert_int_equal(res.nerrors, 1);
  /* within the budget nothing changes */
  memset(&t, 0, sizeof(t));
  lim.max_total = 200000;
  assert_int_equal(mts_rpt_mime_parse(ctx, (const uint8_t *)m.p, m.n, &lim,
                                      tally, &t, &res, &err),
                   MTS_OK);
  assert_int_equal(t.docs, 10);
  assert_int_equal(t.errors, 0);
  free(m.p);
  mts_ctx_destroy(ctx);
}

/* The documents' budget (max_members, 64 by default) is per message
 * too: of 70 report parts, 64 are delivered. */
static void test_budget_docs(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct text m = gzip_parts_mail(70, 40);
  struct tally t;
  struct mts_rpt_mime_result res;
  struct mts_rpt_unpack_error err;

  (void)state;
  memset(&t, 0, sizeof(t));
  assert_int_equal(mts_rpt_mime_parse(ctx, (const uint8_t *)m.p, m.n, NULL,
                                      tally, &t, &res, &err),
                   MTS_ETOOBIG);
  assert_int_equal(t.docs, MTS_RPT_UNPACK_MEMBERS_MAX);
  assert_int_equal(t.errors, 1);
  assert_string_equal(t.code, "mime-total-too-big");
  assert_string_equal(t.message,
                      "6 report parts skipped or cut short: the message's "
                      "reports hold more than 64 documents in all");
  assert_int_equal(res.nparts, 70);
  free(m.p);
  mts_ctx_destroy(ctx);
}

static double now_s(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 100,000 empty parts (500 KB): refused before GMime builds them. GMime
 * took ~1.3 KiB per part (140 MB here; a 64 MiB message of them is
 * ~13 M parts, and GLib aborts on out-of-memory). The error reaches the
 * callback while nothing of GMime's is allocated: the heap in use then
 * is checked (glibc's count; 0 under ASan, which has its own). */
static void test_many_parts_refused_early(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct text m = {NULL, 0, 0};
  struct tally t;
  struct mts_rpt_mime_result res;
  struct mts_rpt_unpack_error err;
  size_t i, base;
  double t0;

  (void)state;
  text_str(&m, "From: a@b.example\nContent-Type: multipart/mixed; "
               "boundary=b\n\n");
  for (i = 0; i < 100000; i++) {
    text_add(&m, "--b\n\n", 5);
  }
  text_str(&m, "--b--\n");
  memset(&t, 0, sizeof(t));
  base = heap_in_use();
  t0 = now_s();
  assert_int_equal(mts_rpt_mime_parse(ctx, (const uint8_t *)m.p, m.n, NULL,
                                      tally, &t, &res, &err),
                   MTS_ETOOBIG);
  assert_int_equal(t.errors, 1);
  if (t.heap > base + 16u * 1024 * 1024) {
    fail_msg("%zu bytes in use at the error", t.heap - base);
  }
  assert_true(now_s() - t0 < 1.0);
  assert_string_equal(t.code, "mime-too-many-parts");
  assert_string_equal(t.message,
                      "more than 4000 lines start with \"--\" (boundaries): "
                      "more than 1000 MIME parts; not parsed");
  free(m.p);

  /* attached messages need no boundary line: 50 chains of 100 nested
   * message/rfc822 (GMime nests them up to ~1000 deep, ~2 KiB each) */
  m.p = NULL;
  m.n = m.cap = 0;
  text_str(&m, "From: a@b.example\nContent-Type: multipart/mixed; "
               "boundary=b\n\n");
  for (i = 0; i < 50; i++) {
    size_t d;

    text_str(&m, "--b\n");
    for (d = 0; d < 100; d++) {
      text_str(&m, "content-TYPE: message/rfc822\n\n");
    }
    text_str(&m, "x\n");
  }
  text_str(&m, "--b--\n");
  memset(&t, 0, sizeof(t));
  assert_int_equal(mts_rpt_mime_parse(ctx, (const uint8_t *)m.p, m.n, NULL,
                                      tally, &t, &res, &err),
                   MTS_ETOOBIG);
  assert_string_equal(t.code, "mime-too-many-parts");
  assert_string_equal(t.message,
                      "more than 4000 lines start with \"Content-Type\" "
                      "(attached messages): more than 1000 MIME parts; not "
                      "parsed");
  free(m.p);
  mts_ctx_destroy(ctx);
}

/* What the pre-scan must not refuse: a report with a signature, PGP
 * armour and rules of dashes in its text; and 900 parts (under the
 * 1000-entity cap) with 1500 more lines of dashes in a text part. */
static void test_many_lines_still_parse(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct text m = gzip_parts_mail(2, 64);
  struct text big = {NULL, 0, 0};
  struct tally t;
  struct mts_rpt_mime_result res;
  struct mts_rpt_unpack_error err;
  size_t i;

  (void)state;
  /* the text part before the reports gets a few "--" lines */
  {
    const char *at = strstr(m.p, "Reports attached.\n");
    struct text n = {NULL, 0, 0};

    assert_non_null(at);
    text_add(&n, m.p, (size_t)(at - m.p));
    text_str(&n, "Reports attached.\n\n----------------------------\n"
                 "-----BEGIN PGP SIGNATURE-----\niQEz\n"
                 "-----END PGP SIGNATURE-----\n-- \nThe sender\n");
    text_str(&n, at + strlen("Reports attached.\n"));
    free(m.p);
    m = n;
  }
  memset(&t, 0, sizeof(t));
  assert_int_equal(mts_rpt_mime_parse(ctx, (const uint8_t *)m.p, m.n, NULL,
                                      tally, &t, &res, &err),
                   MTS_OK);
  assert_int_equal(t.docs, 2);
  assert_int_equal(t.errors, 0);

  text_str(&big, "From: a@b.example\nContent-Type: multipart/mixed; "
                 "boundary=b\n\n--b\nContent-Type: text/plain\n\n");
  for (i = 0; i < 1500; i++) {
    text_str(&big, "----------\n");
  }
  for (i = 0; i < 898; i++) {
    text_str(&big, "--b\nContent-Type: text/plain\n\nhello\n");
  }
  text_str(&big, "--b\nContent-Type: application/json\n\n{\"a\":1}\n--b--\n");
  memset(&t, 0, sizeof(t));
  assert_int_equal(mts_rpt_mime_parse(ctx, (const uint8_t *)big.p, big.n, NULL,
                                      tally, &t, &res, &err),
                   MTS_OK);
  assert_int_equal(t.docs, 1);
  free(big.p);
  free(m.p);
  mts_ctx_destroy(ctx);
}

/* A message with \p head, then \p n copies of \p line, then \p tail. */
static struct text repeat_mail(const char *head, const char *line, size_t n,
                               const char *tail) {
  struct text m = {NULL, 0, 0};
  size_t i;

  text_str(&m, head);
  for (i = 0; i < n; i++) {
    text_str(&m, line);
  }
  text_str(&m, tail);
  return m;
}

/* Parse \p m; \return the status, with the tally in \p t. */
static enum mts_status parse_text(struct mts_ctx *ctx, struct text *m,
                                  struct tally *t) {
  struct mts_rpt_mime_result res;
  struct mts_rpt_unpack_error err;
  enum mts_status st;

  memset(t, 0, sizeof(*t));
  st = mts_rpt_mime_parse(ctx, (const uint8_t *)m->p, m->n, NULL, tally, t,
                          &res, &err);
  free(m->p);
  m->p = NULL;
  return st;
}

/* Header fields are counted as GMime parses them (~500 bytes each: a
 * 4 MB mail of "X:y" lines took 509 MB in `mtasts report ingest`):
 * 10,000 in a message pass, one more is refused, and a million stop
 * GMime early, wherever they are (the message's headers, a part's, an
 * attached message's, a digest's) and whatever their shape; lines that
 * look like fields in a body are not counted. */
static void test_many_fields(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct text m;
  struct tally t;
  size_t base;

  (void)state;
  /* the message's own: From, Content-Type and 9,998 more */
  m = repeat_mail("From: a@b.example\nContent-Type: application/json\n",
                  "X:y\n", MTS_RPT_MIME_FIELDS_MAX - 2, "\n{\"a\":1}\n");
  assert_int_equal(parse_text(ctx, &m, &t), MTS_OK);
  assert_int_equal(t.docs, 1);
  assert_int_equal(t.errors, 0);
  m = repeat_mail("From: a@b.example\nContent-Type: application/json\n",
                  "X:y\n", 1000000, "\n{\"a\":1}\n");
  base = heap_in_use();
  assert_int_equal(parse_text(ctx, &m, &t), MTS_ETOOBIG);
  if (t.heap > base + 16u * 1024 * 1024) {
    fail_msg("%zu bytes in use at the error", t.heap - base);
  }
  assert_int_equal(t.docs, 0);
  assert_int_equal(t.errors, 1);
  assert_string_equal(t.code, "mime-too-many-fields");
  assert_string_equal(t.message,
                      "more than 10000 header fields; not parsed");
  m = repeat_mail("From: a@b.example\nContent-Type: application/json\n",
                  "X:y\n", MTS_RPT_MIME_FIELDS_MAX - 1, "\n{\"a\":1}\n");
  assert_int_equal(parse_text(ctx, &m, &t), MTS_ETOOBIG);
  assert_string_equal(t.code, "mime-too-many-fields");
  /* refused wherever the fields are and whatever their shape */
  {
#define J "From: a@b.example\nContent-Type: application/json\n"
#define MP "From: a@b.example\nContent-Type: multipart/mixed; boundary=b\n\n"
    static const struct {
      const char *head, *line;
      size_t n;
      const char *tail;
    } refused[] = {
        /* names GMime takes: empty, "{x", blanks before the colon */
        {J, ":y\n", 200000, "\n{\"a\":1}\n"},
        {J, "{\"x\":y\n", 200000, "\n{\"a\":1}\n"},
        {J, "X :y\n", 200000, "\n{\"a\":1}\n"},
        {J, "X\t:y\n", 200000, "\n{\"a\":1}\n"},
        /* fields after a line GMime ignores (a count of our own missed
         * these: 114 MB for 200,000) */
        {J "junk\n", "X:y\n", 200000, "\n{\"a\":1}\n"},
        {MP "--b\njunk\n", "X:y\n", 200000, "\n{\"a\":1}\n--b--\n"},
        /* a digest's parts are messages by default: their headers follow
         * an empty part header */
        {"From: a@b.example\nContent-Type: multipart/digest; "
         "boundary=b\n\n--b\n\n",
         "X:y\n", 200000, "\nbody\n--b--\n"},
        /* a part's headers: 2 + 10,000 + one Content-Type */
        {MP "--b\n", "X-A:y\n", MTS_RPT_MIME_FIELDS_MAX,
         "Content-Type: application/json\n\n{\"a\":1}\n--b--\n"},
        /* an attached message's, after its part's headers */
        {MP "--b\nContent-Type: message/rfc822\n\n", "X:y\n",
         MTS_RPT_MIME_FIELDS_MAX, "\nbody\n--b--\n"},
    };
#undef J
#undef MP
    size_t k;

    for (k = 0; k < sizeof(refused) / sizeof(refused[0]); k++) {
      m = repeat_mail(refused[k].head, refused[k].line, refused[k].n,
                      refused[k].tail);
      assert_int_equal(parse_text(ctx, &m, &t), MTS_ETOOBIG);
      assert_string_equal(t.code, "mime-too-many-fields");
    }
  }

  /* body lines with colons: not fields, the report is read */
  m = repeat_mail("From: a@b.example\nContent-Type: multipart/mixed; "
                  "boundary=b\n\n--b\nContent-Type: text/plain\n\nHello\n",
                  "Policy-Domain: example.com\n", 2 * MTS_RPT_MIME_FIELDS_MAX,
                  "--b\nContent-Type: application/json\n\n{\"a\":1}\n"
                  "--b--\n");
  assert_int_equal(parse_text(ctx, &m, &t), MTS_OK);
  assert_int_equal(t.docs, 1);
  mts_ctx_destroy(ctx);
}

/* ---- mbox ---- */

static void test_mbox(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  char *path = fixture_path("three.mbox");
  int fd = open(path, O_RDONLY);
  struct got g = {0};
  struct mts_rpt_mime_result res;
  struct mts_rpt_unpack_error err;

  (void)state;
  assert_true(fd >= 0);
  assert_int_equal(
      mts_rpt_mime_mbox_each(ctx, fd, NULL, collect, &g, &res, &err), MTS_OK);
  if (err.code != NULL) {
    fail_msg("%s: %s (%zu items, %zu messages)", err.code, err.message, g.n,
             res.nmessages);
  }
  assert_int_equal(res.nmessages, 3);
  assert_int_equal(res.ndocs, 3);
  assert_int_equal(res.nerrors, 0);
  assert_int_equal(g.n, 3);
  assert_doc(&g.it[0], "google.json");
  assert_int_equal(g.it[0].mbox_index, 0);
  /* the QP line that began "From " was quoted ">From " in the mbox */
  assert_doc(&g.it[1], "report-qp.json");
  assert_int_equal(g.it[1].mbox_index, 1);
  assert_string_equal(g.it[1].enc, "quoted-printable");
  /* the last message keeps the mbox's closing empty line (GMime strips
   * the line end before a "From " line only): one more LF, harmless to
   * JSON */
  {
    size_t len;
    uint8_t *want = slurp("report-b.json", &len);

    assert_int_equal(g.it[2].len, len + 1);
    assert_memory_equal(g.it[2].data, want, len);
    assert_int_equal(g.it[2].data[len], '\n');
    free(want);
  }
  assert_int_equal(g.it[2].mbox_index, 2);
  assert_string_equal(g.marker, "From noreply-smtp-tls-reporting@google.com Wed "
                                "Sep  4 10:53:20 2024");
  assert_string_equal(g.submitter, "google.com");
  got_free(&g);
  /* the fd stays open and usable */
  assert_true(lseek(fd, 0, SEEK_SET) == 0);
  close(fd);
  free(path);

  /* not an mbox: a single message file */
  path = fixture_path("microsoft.eml");
  fd = open(path, O_RDONLY);
  assert_true(fd >= 0);
  assert_int_equal(
      mts_rpt_mime_mbox_each(ctx, fd, NULL, collect, &g, &res, &err),
      MTS_EPARSE);
  assert_string_equal(err.code, "mime-not-mbox");
  assert_int_equal(g.n, 0);
  close(fd);
  free(path);
  mts_ctx_destroy(ctx);
}

/* An mbox whose messages fail: errors per message, the mbox goes on. */
static void test_mbox_errors(void **state) {
  static const char mbox[] =
      "From a\xff@b Thu Jan  1 00:00:00 1970\nSubject: one\n\nhello\n\n"
      "From a@b Thu Jan  1 00:00:00 1970\nSubject: two\n"
      "Content-Type: application/json\n\n{\"x\":1}\n";
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  FILE *f = tmpfile();
  struct got g = {0};
  struct mts_rpt_mime_result res;
  struct mts_rpt_unpack_error err;

  (void)state;
  assert_non_null(f);
  assert_int_equal(fwrite(mbox, 1, sizeof(mbox) - 1, f), sizeof(mbox) - 1);
  fflush(f);
  assert_int_equal(
      mts_rpt_mime_mbox_each(ctx, fileno(f), NULL, collect, &g, &res, &err),
      MTS_OK);
  assert_int_equal(res.nmessages, 2);
  assert_int_equal(res.nerrors, 1);
  assert_int_equal(res.ndocs, 1);
  assert_string_equal(err.code, "mime-no-report");
  assert_int_equal(g.n, 2);
  assert_string_equal(g.it[0].code, "mime-no-report");
  assert_int_equal(g.it[0].mbox_index, 0);
  /* a byte that is not UTF-8 is handed out as U+FFFD */
  assert_string_equal(g.marker,
                      "From a\xef\xbf\xbd@b Thu Jan  1 00:00:00 1970");
  assert_string_equal(g.it[1].data, "{\"x\":1}\n");
  assert_int_equal(g.it[1].mbox_index, 1);
  got_free(&g);
  fclose(f);
  mts_ctx_destroy(ctx);
}

struct got_heap {
  struct got g;
  size_t heap; /* bytes in use at the last error */
};

static enum mts_status collect_heap(void *arg,
                                    const struct mts_rpt_mime_item *x) {
  struct got_heap *h = arg;

  if (x->error != NULL) {
    h->heap = heap_in_use();
  }
  return collect(&h->g, x);
}

/* In an mbox too, a message of 100,000 empty parts is refused before
 * GMime builds it (GMime's mbox parser cannot skip a message: the one
 * after it is read by a new parser from its "From " line); the messages
 * around it are read as before. */
static void test_mbox_many_parts(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct text m = {NULL, 0, 0};
  FILE *f = tmpfile();
  struct got_heap h;
  struct got *g = &h.g;
  struct mts_rpt_mime_result res;
  struct mts_rpt_unpack_error err;
  size_t i, base;

  (void)state;
  assert_non_null(f);
  memset(&h, 0, sizeof(h));
  text_str(&m, "From a@b Thu Jan  1 00:00:00 1970\nSubject: one\n"
               "Content-Type: application/json\n\n{\"n\":1}\n\n");
  text_str(&m, "From bomb@b Thu Jan  1 00:00:00 1970\nContent-Type: "
               "multipart/mixed; boundary=b\n\n");
  for (i = 0; i < 100000; i++) {
    text_add(&m, "--b\n\n", 5);
  }
  text_str(&m, "--b--\n\n");
  text_str(&m, "From c@b Thu Jan  1 00:00:00 1970\nSubject: three\n"
               "Content-Type: application/json\n\n{\"n\":3}\n");
  assert_int_equal(fwrite(m.p, 1, m.n, f), m.n);
  fflush(f);
  base = heap_in_use();
  assert_int_equal(mts_rpt_mime_mbox_each(ctx, fileno(f), NULL, collect_heap,
                                          &h, &res, &err),
                   MTS_OK);
  /* GMime had not built the message when its error was handed out
   * (glibc's count; 0 under ASan) */
  if (h.heap > base + 16u * 1024 * 1024) {
    fail_msg("%zu bytes in use at the error", h.heap - base);
  }
  assert_int_equal(res.nmessages, 3);
  assert_int_equal(res.ndocs, 2);
  assert_int_equal(res.nerrors, 1);
  assert_int_equal(g->n, 3);
  assert_string_equal(g->it[0].data, "{\"n\":1}\n");
  assert_int_equal(g->it[0].mbox_index, 0);
  assert_false(g->it[1].is_doc);
  assert_string_equal(g->it[1].code, "mime-too-many-parts");
  assert_int_equal(g->it[1].mbox_index, 1);
  assert_string_equal(g->it[2].data, "{\"n\":3}\n");
  assert_int_equal(g->it[2].mbox_index, 2);
  assert_string_equal(err.code, "mime-too-many-parts");
  assert_string_equal(err.message,
                      "more than 4000 lines start with \"--\" (boundaries): "
                      "more than 1000 MIME parts; not parsed");
  got_free(g);
  fclose(f);
  free(m.p);
  mts_ctx_destroy(ctx);
}

/* In an mbox, fields are counted per message (lines of ~100 bytes,
 * 1 MB per message): exactly 10,000 pass, 10,001 are refused and the
 * next message is read by a new parser. */
static void test_mbox_many_fields(void **state) {
  static const char field[] =
      "X-Padding-Field-Name-To-Cross-Buffers: "
      "0123456789012345678901234567890123456789012345678901234567\n";
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct text m = {NULL, 0, 0};
  FILE *f = tmpfile();
  struct got g;
  struct mts_rpt_mime_result res;
  struct mts_rpt_unpack_error err;
  size_t i;

  (void)state;
  assert_non_null(f);
  memset(&g, 0, sizeof(g));
  /* From, Content-Type and 9,998: 10,000 */
  text_str(&m, "From a@b Thu Jan  1 00:00:00 1970\nFrom: a@b.example\n"
               "Content-Type: application/json\n");
  for (i = 0; i < MTS_RPT_MIME_FIELDS_MAX - 2; i++) {
    text_str(&m, field);
  }
  text_str(&m, "\n{\"n\":1}\n\n");
  text_str(&m, "From b@b Thu Jan  1 00:00:00 1970\nFrom: a@b.example\n"
               "Content-Type: application/json\n");
  for (i = 0; i < MTS_RPT_MIME_FIELDS_MAX - 1; i++) {
    text_str(&m, field);
  }
  text_str(&m, "\n{\"n\":2}\n\n");
  text_str(&m, "From c@b Thu Jan  1 00:00:00 1970\nSubject: three\n"
               "Content-Type: application/json\n\n{\"n\":3}\n");
  assert_int_equal(fwrite(m.p, 1, m.n, f), m.n);
  fflush(f);
  assert_int_equal(mts_rpt_mime_mbox_each(ctx, fileno(f), NULL, collect, &g,
                                          &res, &err),
                   MTS_OK);
  assert_int_equal(res.nmessages, 3);
  assert_int_equal(g.n, 3);
  assert_string_equal(g.it[0].data, "{\"n\":1}\n");
  assert_false(g.it[1].is_doc);
  assert_string_equal(g.it[1].code, "mime-too-many-fields");
  assert_int_equal(g.it[1].mbox_index, 1);
  assert_string_equal(g.it[2].data, "{\"n\":3}\n");
  got_free(&g);
  fclose(f);
  free(m.p);
  mts_ctx_destroy(ctx);
}

/* ---- allocation failures ---- */

static enum mts_status sweep_op(struct mts_ctx *ctx, void *arg) {
  const char *name = arg;
  size_t len;
  uint8_t *msg = slurp(name, &len);
  struct got g = {0};
  struct mts_rpt_unpack_error err;
  enum mts_status st =
      mts_rpt_mime_parse(ctx, msg, len, NULL, collect, &g, NULL, &err);

  if (st == MTS_ENOMEM) {
    assert_non_null(err.code);
  }
  got_free(&g);
  free(msg);
  return st;
}

static void test_alloc_sweep(void **state) {
  static char files[][16] = {"google.eml", "zip.eml", "qp.eml", "two.eml"};
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
    assert_true(mts_test_alloc_sweep(sweep_op, files[i]) > 0);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_layouts),
      cmocka_unit_test(test_google_meta),
      cmocka_unit_test(test_microsoft_meta),
      cmocka_unit_test(test_dkim_8bit),
      cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_bad_base64_message),
      cmocka_unit_test(test_too_deep),
      cmocka_unit_test(test_base64_strict),
      cmocka_unit_test(test_forwarded),
      cmocka_unit_test(test_too_big),
      cmocka_unit_test(test_long_content_type),
      cmocka_unit_test(test_partial_and_stop),
      cmocka_unit_test(test_budget_bytes),
      cmocka_unit_test(test_budget_docs),
      cmocka_unit_test(test_many_parts_refused_early),
      cmocka_unit_test(test_many_lines_still_parse),
      cmocka_unit_test(test_many_fields),
      cmocka_unit_test(test_mbox),
      cmocka_unit_test(test_mbox_errors),
      cmocka_unit_test(test_mbox_many_parts),
      cmocka_unit_test(test_mbox_many_fields),
      cmocka_unit_test(test_alloc_sweep),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
