/*
 * test_rpt_unpack.c - JSON documents out of plain JSON, gzip and zip
 * (RFC-CHECKLIST 2.5 DLV-2/3/11, TLSRPT-NOTES 5). Inputs are built here
 * with zlib and libarchive's writer; the bombs (1 GiB of zeros in ~1 MiB
 * of gzip or zip) are made at run time (zero_bomb: one compressed MiB
 * repeated after full flushes) and never committed.
 */
#include "testutil.h"

#include <archive.h>
#include <dirent.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <time.h>
#include <zlib.h>

#include <mtasts/rpt_unpack.h>

#define REPORT_A                                                              \
  "{\"organization-name\":\"Example Inc.\",\"date-range\":{\"start-"         \
  "datetime\":\"2024-09-03T00:00:00Z\",\"end-datetime\":\"2024-09-03T23:59:" \
  "59Z\"},\"contact-info\":\"tlsrpt@example.com\",\"report-id\":\"a-1\","   \
  "\"policies\":[]}"
#define REPORT_B "{\"report-id\":\"b-2\",\"policies\":[]}\n"

/* ---- building inputs ---- */

struct bytes {
  uint8_t *p;
  size_t n;
};

static void bytes_free(struct bytes *b) {
  free(b->p);
  b->p = NULL;
  b->n = 0;
}

static void bytes_add(struct bytes *b, const void *p, size_t n) {
  b->p = realloc(b->p, b->n + n + 1);
  assert_non_null(b->p);
  memcpy(b->p + b->n, p, n);
  b->n += n;
}

/* Append one gzip member of \p n bytes of \p p (or \p zeros zero bytes
 * when p is NULL) to \p out. */
static void gz_member(struct bytes *out, const void *p, size_t n,
                      uint64_t zeros) {
  z_stream z;
  static uint8_t zbuf[1 << 16];
  uint8_t obuf[1 << 16];
  int flush;

  memset(&z, 0, sizeof(z));
  assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9,
                                Z_DEFAULT_STRATEGY),
                   Z_OK);
  if (p != NULL) {
    z.next_in = (Bytef *)(uintptr_t)p;
    z.avail_in = (uInt)n;
    zeros = 0;
  }
  do {
    if (p == NULL && z.avail_in == 0 && zeros > 0) {
      size_t k = zeros < sizeof(zbuf) ? (size_t)zeros : sizeof(zbuf);

      z.next_in = zbuf;
      z.avail_in = (uInt)k;
      zeros -= k;
    }
    flush = (z.avail_in == 0 && zeros == 0) ? Z_FINISH : Z_NO_FLUSH;
    z.next_out = obuf;
    z.avail_out = sizeof(obuf);
    assert_true(deflate(&z, flush) != Z_STREAM_ERROR);
    bytes_add(out, obuf, sizeof(obuf) - z.avail_out);
  } while (flush != Z_FINISH || z.avail_out == 0);
  deflateEnd(&z);
}

/* A deflate stream of \p chunks MiB of zeros, made fast: after a full
 * flush deflate forgets its history, so every further MiB compresses to
 * the same bytes; they are repeated instead of compressed again. With
 * \p gzip a gzip header and trailer wrap it, else it is raw (for zip).
 * \return the CRC-32 of the data in *crc. */
#define MIB (1024u * 1024u)

static void zero_bomb(struct bytes *out, unsigned chunks, bool gzip,
                      uint32_t *crc) {
  static uint8_t zbuf[MIB];
  uint8_t *first = malloc(2 * MIB), *rest = malloc(2 * MIB);
  size_t nfirst, nrest;
  uLong c1 = crc32(0L, zbuf, MIB), c = c1;
  z_stream z;
  unsigned i;

  assert_non_null(first);
  assert_non_null(rest);
  memset(&z, 0, sizeof(z));
  assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, gzip ? 15 + 16 : -15, 9,
                                Z_DEFAULT_STRATEGY),
                   Z_OK);
  z.next_in = zbuf;
  z.avail_in = MIB;
  z.next_out = first;
  z.avail_out = 2 * MIB;
  assert_int_equal(deflate(&z, Z_FULL_FLUSH), Z_OK);
  nfirst = 2 * MIB - z.avail_out;
  z.next_in = zbuf;
  z.avail_in = MIB;
  z.next_out = rest;
  z.avail_out = 2 * MIB;
  assert_int_equal(deflate(&z, Z_FULL_FLUSH), Z_OK);
  nrest = 2 * MIB - z.avail_out;
  deflateEnd(&z);
  bytes_add(out, first, nfirst);
  for (i = 1; i < chunks; i++) {
    bytes_add(out, rest, nrest);
    c = crc32_combine(c, c1, MIB);
  }
  bytes_add(out, "\x03\x00", 2); /* final empty fixed-Huffman block */
  if (gzip) {
    uint8_t t[8];
    uint32_t size = (uint32_t)((uint64_t)chunks * MIB);

    for (i = 0; i < 4; i++) {
      t[i] = (uint8_t)(c >> (8 * i));
      t[4 + i] = (uint8_t)(size >> (8 * i));
    }
    bytes_add(out, t, 8);
  }
  *crc = (uint32_t)c;
  free(first);
  free(rest);
}

static void le(uint8_t *p, uint64_t v, unsigned n) {
  unsigned i;

  for (i = 0; i < n; i++) {
    p[i] = (uint8_t)(v >> (8 * i));
  }
}

/* A zip (APPNOTE 4.3) of one member \p name: local header, the \p n
 * bytes \p data as they are, central directory, end record. The headers
 * say compression \p method, CRC \p crc and uncompressed size \p usize. */
static struct bytes zip_member(const char *name, uint16_t method, uint32_t crc,
                               const void *data, size_t n, uint32_t usize) {
  struct bytes out = {NULL, 0};
  uint8_t h[46];
  uint16_t nl = (uint16_t)strlen(name);
  size_t cd;

  memset(h, 0, sizeof(h));
  le(h, 0x04034b50, 4);
  le(h + 4, 20, 2); /* version needed */
  le(h + 8, method, 2);
  le(h + 14, crc, 4);
  le(h + 18, n, 4);
  le(h + 22, usize, 4);
  le(h + 26, nl, 2);
  bytes_add(&out, h, 30);
  bytes_add(&out, name, nl);
  bytes_add(&out, data, n);
  cd = out.n;
  memset(h, 0, sizeof(h));
  le(h, 0x02014b50, 4);
  le(h + 4, 20, 2);
  le(h + 6, 20, 2);
  le(h + 10, method, 2);
  le(h + 16, crc, 4);
  le(h + 20, n, 4);
  le(h + 24, usize, 4);
  le(h + 28, nl, 2);
  bytes_add(&out, h, 46);
  bytes_add(&out, name, nl);
  memset(h, 0, sizeof(h));
  le(h, 0x06054b50, 4);
  le(h + 8, 1, 2);
  le(h + 10, 1, 2);
  le(h + 12, 46 + nl, 4);
  le(h + 16, cd, 4);
  bytes_add(&out, h, 22);
  return out;
}

/* A zip with one deflated member \p name of \p chunks MiB of zeros. */
static struct bytes zip_bomb(const char *name, unsigned chunks) {
  struct bytes out, data = {NULL, 0};
  uint32_t crc;

  zero_bomb(&data, chunks, false, &crc);
  out = zip_member(name, 8, crc, data.p, data.n, (uint32_t)(chunks * MIB));
  bytes_free(&data);
  return out;
}

/* A zip of one member \p name whose local and central headers say
 * compression \p method, holding the \p n bytes \p data as they are
 * (for method 0 they are the member; for others whatever the decoder
 * would read first); \p usize is the uncompressed size claimed. */
static struct bytes zip_one(const char *name, uint16_t method, const void *data,
                            size_t n, uint32_t usize) {
  return zip_member(name, method, (uint32_t)crc32(0L, data, (uInt)n), data, n,
                    usize);
}

static struct bytes gz(const char *s) {
  struct bytes b = {NULL, 0};

  gz_member(&b, s, strlen(s), 0);
  return b;
}

struct zmember {
  const char *name;
  const void *data; /* NULL: `zeros` zero bytes; or a directory if dir */
  size_t len;
  uint64_t zeros;
  bool dir;
};

static la_ssize_t zw_write(struct archive *a, void *arg, const void *p,
                           size_t n) {
  (void)a;
  bytes_add(arg, p, n);
  return (la_ssize_t)n;
}

static struct bytes zip_of(const struct zmember *m, size_t nm) {
  struct bytes out = {NULL, 0};
  struct archive *a = archive_write_new();
  static uint8_t zbuf[1 << 16];
  size_t i;

  assert_non_null(a);
  assert_int_equal(archive_write_set_format_zip(a), ARCHIVE_OK);
  assert_int_equal(archive_write_set_bytes_in_last_block(a, 1), ARCHIVE_OK);
  assert_int_equal(archive_write_open2(a, &out, NULL, zw_write, NULL, NULL),
                   ARCHIVE_OK);
  for (i = 0; i < nm; i++) {
    struct archive_entry *e = archive_entry_new();
    uint64_t size = m[i].data != NULL ? m[i].len : m[i].zeros;

    archive_entry_set_pathname(e, m[i].name);
    archive_entry_set_filetype(e, m[i].dir ? AE_IFDIR : AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, m[i].dir ? 0 : (la_int64_t)size);
    assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
    if (!m[i].dir) {
      if (m[i].data != NULL) {
        assert_int_equal(archive_write_data(a, m[i].data, m[i].len),
                         (la_ssize_t)m[i].len);
      } else {
        uint64_t left = m[i].zeros;

        while (left > 0) {
          size_t k = left < sizeof(zbuf) ? (size_t)left : sizeof(zbuf);

          assert_int_equal(archive_write_data(a, zbuf, k), (la_ssize_t)k);
          left -= k;
        }
      }
    }
    archive_entry_free(e);
  }
  assert_int_equal(archive_write_close(a), ARCHIVE_OK);
  archive_write_free(a);
  return out;
}

/* ---- collecting documents ---- */

#define MAXDOCS 72

struct got {
  size_t n;
  char *data[MAXDOCS];
  size_t len[MAXDOCS];
  char name[MAXDOCS][64];
  bool gzipped[MAXDOCS];
  unsigned flags[MAXDOCS];
  enum mts_rpt_unpack_format outer[MAXDOCS];
  enum mts_status ret; /* what the callback returns */
};

static enum mts_status collect(void *arg, const struct mts_rpt_unpack_doc *d) {
  struct got *g = arg;

  assert_true(g->n < MAXDOCS);
  assert_int_equal(d->index, g->n);
  g->data[g->n] = malloc(d->len + 1);
  assert_non_null(g->data[g->n]);
  memcpy(g->data[g->n], d->data, d->len);
  g->data[g->n][d->len] = '\0';
  g->len[g->n] = d->len;
  (void)snprintf(g->name[g->n], sizeof(g->name[0]), "%s",
                 d->name != NULL ? d->name : "(null)");
  g->gzipped[g->n] = d->gzipped;
  g->flags[g->n] = d->flags;
  g->outer[g->n] = d->outer;
  g->n++;
  return g->ret;
}

static void got_free(struct got *g) {
  size_t i;

  for (i = 0; i < g->n; i++) {
    free(g->data[i]);
  }
  memset(g, 0, sizeof(*g));
}

/* Unpack \p in with \p lim; check the status and error code. */
static enum mts_status run(const struct bytes *in,
                           const struct mts_rpt_unpack_hints *h,
                           const struct mts_rpt_unpack_limits *lim,
                           struct got *g, struct mts_rpt_unpack_result *res,
                           struct mts_rpt_unpack_error *err) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  enum mts_status st =
      mts_rpt_unpack_mem(ctx, in->p, in->n, h, lim, collect, g, res, err);

  mts_ctx_destroy(ctx);
  if (st == MTS_OK) {
    assert_null(err->code);
  } else {
    assert_non_null(err->code);
    assert_int_equal(err->status, st);
    assert_true(err->message[0] != '\0');
  }
  return st;
}

static struct bytes of_str(const char *s) {
  struct bytes b = {NULL, 0};

  bytes_add(&b, s, strlen(s));
  return b;
}

/* ---- tests ---- */

static void test_detect(void **state) {
  static const struct {
    const char *in;
    size_t len;
    enum mts_rpt_unpack_format f;
  } v[] = {
      {"\x1f\x8b", 2, MTS_RPT_UNPACK_GZIP},
      {"\x1f", 1, MTS_RPT_UNPACK_UNKNOWN},
      {"PK\x03\x04", 4, MTS_RPT_UNPACK_ZIP},
      {"PK\x05\x06", 4, MTS_RPT_UNPACK_ZIP},
      {"PK\x01\x02", 4, MTS_RPT_UNPACK_UNKNOWN},
      {"{}", 2, MTS_RPT_UNPACK_JSON},
      {" \r\n\t{", 5, MTS_RPT_UNPACK_JSON},
      {"\xef\xbb\xbf{", 4, MTS_RPT_UNPACK_JSON},
      {"\xef\xbb\xbf \n{", 6, MTS_RPT_UNPACK_JSON},
      {"\xef\xbb{", 3, MTS_RPT_UNPACK_UNKNOWN},
      {"[{}]", 4, MTS_RPT_UNPACK_UNKNOWN},
      {"   ", 3, MTS_RPT_UNPACK_UNKNOWN},
      {"", 0, MTS_RPT_UNPACK_UNKNOWN},
      {"\v{", 2, MTS_RPT_UNPACK_UNKNOWN},
  };
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
    assert_int_equal(mts_rpt_unpack_detect((const uint8_t *)v[i].in, v[i].len),
                     v[i].f);
  }
  assert_int_equal(mts_rpt_unpack_detect(NULL, 0), MTS_RPT_UNPACK_UNKNOWN);
  assert_string_equal(mts_rpt_unpack_format_str(MTS_RPT_UNPACK_GZIP), "gzip");
  assert_string_equal(mts_rpt_unpack_format_str(MTS_RPT_UNPACK_ZIP), "zip");
  assert_string_equal(mts_rpt_unpack_format_str(MTS_RPT_UNPACK_JSON), "json");
  assert_string_equal(mts_rpt_unpack_format_str(MTS_RPT_UNPACK_UNKNOWN),
                      "unknown");
}

static void test_plain_json(void **state) {
  struct bytes in = of_str("\xef\xbb\xbf\n" REPORT_A);
  struct mts_rpt_unpack_hints h = {"x.json", "application/tlsrpt+json"};
  struct mts_rpt_unpack_result res;
  struct mts_rpt_unpack_error err;
  struct got g = {0};

  (void)state;
  assert_int_equal(run(&in, &h, NULL, &g, &res, &err), MTS_OK);
  assert_int_equal(g.n, 1);
  assert_string_equal(g.data[0], "\n" REPORT_A); /* BOM removed, ws kept */
  assert_string_equal(g.name[0], "x.json");
  assert_false(g.gzipped[0]);
  assert_int_equal(g.flags[0], MTS_RPT_UNPACK_F_BOM);
  assert_int_equal(g.outer[0], MTS_RPT_UNPACK_JSON);
  assert_int_equal(res.format, MTS_RPT_UNPACK_JSON);
  assert_int_equal(res.ndocs, 1);
  assert_int_equal(res.total, in.n); /* counted with the BOM */
  got_free(&g);
  bytes_free(&in);
}

static void test_gzip(void **state) {
  struct bytes in = gz(REPORT_A);
  struct mts_rpt_unpack_hints h = {"g.json.gz", NULL};
  struct mts_rpt_unpack_result res;
  struct mts_rpt_unpack_error err;
  struct got g = {0};

  (void)state;
  assert_int_equal(run(&in, &h, NULL, &g, &res, &err), MTS_OK);
  assert_int_equal(g.n, 1);
  assert_string_equal(g.data[0], REPORT_A);
  assert_string_equal(g.name[0], "g.json.gz");
  assert_true(g.gzipped[0]);
  assert_int_equal(g.flags[0], 0);
  assert_int_equal(res.format, MTS_RPT_UNPACK_GZIP);
  assert_int_equal(res.total, strlen(REPORT_A));
  got_free(&g);
  bytes_free(&in);
}

/* RFC 1952 2.2: a gzip file is a series of members: one document. */
static void test_gzip_members(void **state) {
  const char *s = REPORT_A;
  size_t half = strlen(s) / 2;
  struct bytes in = {NULL, 0};
  struct mts_rpt_unpack_result res;
  struct mts_rpt_unpack_error err;
  struct got g = {0};

  (void)state;
  gz_member(&in, s, half, 0);
  gz_member(&in, s + half, strlen(s) - half, 0);
  assert_int_equal(run(&in, NULL, NULL, &g, &res, &err), MTS_OK);
  assert_int_equal(g.n, 1);
  assert_string_equal(g.data[0], REPORT_A);
  assert_string_equal(g.name[0], "(null)");
  assert_int_equal(g.flags[0], 0);
  got_free(&g);

  /* NUL padding after the last member: silently ignored */
  bytes_add(&in, "\0\0\0\0", 4);
  assert_int_equal(run(&in, NULL, NULL, &g, &res, &err), MTS_OK);
  assert_int_equal(g.flags[0], 0);
  assert_string_equal(g.data[0], REPORT_A);
  got_free(&g);

  /* other trailing bytes: ignored, flagged (gunzip: "trailing garbage") */
  bytes_add(&in, "junk", 4);
  assert_int_equal(run(&in, NULL, NULL, &g, &res, &err), MTS_OK);
  assert_int_equal(g.flags[0], MTS_RPT_UNPACK_F_TRAILING);
  assert_string_equal(g.data[0], REPORT_A);
  got_free(&g);
  bytes_free(&in);
}

static void test_gzip_bad(void **state) {
  struct bytes in = gz(REPORT_A);
  struct mts_rpt_unpack_result res;
  struct mts_rpt_unpack_error err;
  struct got g = {0};
  struct bytes t = {NULL, 0};
  size_t cut;

  (void)state;
  /* truncated at every length from 2 to n-1 */
  for (cut = 2; cut < in.n; cut++) {
    t.p = in.p;
    t.n = cut;
    assert_int_equal(run(&t, NULL, NULL, &g, &res, &err), MTS_EPARSE);
    assert_int_equal(g.n, 0);
    if (strcmp(err.code, "unpack-gzip-truncated") != 0) {
      fail_msg("cut %zu: %s (%s)", cut, err.code, err.message);
    }
  }
  /* a flipped CRC byte */
  in.p[in.n - 6] ^= 0x55;
  assert_int_equal(run(&in, NULL, NULL, &g, &res, &err), MTS_EPARSE);
  assert_string_equal(err.code, "unpack-gzip-corrupt");
  assert_non_null(strstr(err.message, "incorrect data check"));
  assert_int_equal(g.n, 0);
  in.p[in.n - 6] ^= 0x55;
  /* a bad header (method 7) */
  in.p[2] = 7;
  assert_int_equal(run(&in, NULL, NULL, &g, &res, &err), MTS_EPARSE);
  assert_string_equal(err.code, "unpack-gzip-corrupt");
  bytes_free(&in);

  /* gzip of something that is not a JSON object */
  in = gz("[1,2,3]");
  assert_int_equal(run(&in, NULL, NULL, &g, &res, &err), MTS_EPARSE);
  assert_string_equal(err.code, "unpack-not-json");
  assert_int_equal(res.ndocs, 0);
  bytes_free(&in);
}

static void test_unknown(void **state) {
  struct bytes in = of_str("%PDF-1.4");
  struct mts_rpt_unpack_hints h = {NULL, "application/tlsrpt+gzip"};
  struct mts_rpt_unpack_result res;
  struct mts_rpt_unpack_error err;
  struct got g = {0};

  (void)state;
  assert_int_equal(run(&in, &h, NULL, &g, &res, &err), MTS_EPARSE);
  assert_string_equal(err.code, "unpack-unknown-format");
  assert_string_equal(err.message, "the data declared application/tlsrpt+gzip "
                                   "is neither JSON nor gzip nor zip");
  assert_int_equal(res.format, MTS_RPT_UNPACK_UNKNOWN);
  bytes_free(&in);
  in.p = NULL;
  in.n = 0;
  assert_int_equal(run(&in, NULL, NULL, &g, &res, &err), MTS_EPARSE);
  assert_string_equal(err.code, "unpack-unknown-format");
  assert_string_equal(err.message,
                      "empty input is neither JSON nor gzip nor zip");
}

static void test_zip(void **state) {
  struct bytes b = gz(REPORT_B);
  const struct zmember m[] = {
      {"reports/", NULL, 0, 0, true},
      {"reports/a.json", REPORT_A, strlen(REPORT_A), 0, false},
      {"README.txt", "hello", 5, 0, false},
      {"inner.zip", "PK\x03\x04junk", 8, 0, false},
      {"reports/b.JSON.GZ", b.p, b.n, 0, false},
      {"noext", " {\"x\":1}", 8, 0, false},
  };
  struct bytes in = zip_of(m, 6);
  struct mts_rpt_unpack_result res;
  struct mts_rpt_unpack_error err;
  struct got g = {0};

  (void)state;
  assert_int_equal(run(&in, NULL, NULL, &g, &res, &err), MTS_OK);
  assert_int_equal(g.n, 3);
  assert_string_equal(g.data[0], REPORT_A);
  assert_string_equal(g.name[0], "reports/a.json");
  assert_false(g.gzipped[0]);
  assert_string_equal(g.data[1], REPORT_B);
  assert_string_equal(g.name[1], "reports/b.JSON.GZ");
  assert_true(g.gzipped[1]);
  assert_string_equal(g.data[2], " {\"x\":1}");
  assert_int_equal(g.outer[2], MTS_RPT_UNPACK_ZIP);
  assert_int_equal(res.ndocs, 3);
  assert_int_equal(res.skipped, 3); /* dir, README, inner.zip */
  assert_int_equal(res.format, MTS_RPT_UNPACK_ZIP);
  assert_int_equal(res.total, strlen(REPORT_A) + strlen(REPORT_B) + 8);
  got_free(&g);
  bytes_free(&in);
  bytes_free(&b);
}

static void test_zip_bad(void **state) {
  const struct zmember none[] = {{"README.txt", "hello", 5, 0, false}};
  const struct zmember notjson[] = {
      {"a.json", REPORT_A, strlen(REPORT_A), 0, false},
      {"b.json", "hello", 5, 0, false}};
  const struct zmember four[] = {
      {"1.json", "{}", 2, 0, false}, {"2.json", "{}", 2, 0, false},
      {"3.json", "{}", 2, 0, false}, {"4.json", "{}", 2, 0, false}};
  struct mts_rpt_unpack_limits lim = {0, 0, 0, 3};
  struct bytes in;
  struct mts_rpt_unpack_result res;
  struct mts_rpt_unpack_error err;
  struct got g = {0};

  (void)state;
  in = zip_of(none, 1);
  assert_int_equal(run(&in, NULL, NULL, &g, &res, &err), MTS_EPARSE);
  assert_string_equal(err.code, "unpack-no-report");
  assert_int_equal(res.skipped, 1);
  bytes_free(&in);

  /* a .json member that is not JSON: the first one was delivered */
  in = zip_of(notjson, 2);
  assert_int_equal(run(&in, NULL, NULL, &g, &res, &err), MTS_EPARSE);
  assert_string_equal(err.code, "unpack-not-json");
  assert_string_equal(err.message, "zip member b.json does not hold a JSON "
                                   "object");
  assert_int_equal(g.n, 1);
  assert_int_equal(res.ndocs, 1);
  got_free(&g);
  bytes_free(&in);

  in = zip_of(four, 4);
  assert_int_equal(run(&in, NULL, &lim, &g, &res, &err), MTS_ETOOBIG);
  assert_string_equal(err.code, "unpack-too-many-members");
  assert_string_equal(err.message, "zip: more than 3 entries");
  assert_int_equal(g.n, 3);
  got_free(&g);
  /* a central directory far beyond the limit: refused before libarchive
   * reads it (4 * 3 + 64 = 76 signatures allowed) */
  {
    struct zmember many[100];
    char names[100][16];
    struct bytes big;
    size_t i;

    for (i = 0; i < 100; i++) {
      (void)snprintf(names[i], sizeof(names[i]), "%zu.json", i);
      many[i].name = names[i];
      many[i].data = "{}";
      many[i].len = 2;
      many[i].zeros = 0;
      many[i].dir = false;
    }
    big = zip_of(many, 100);
    assert_int_equal(run(&big, NULL, &lim, &g, &res, &err), MTS_ETOOBIG);
    assert_string_equal(err.code, "unpack-too-many-members");
    assert_string_equal(err.message,
                        "zip: the central directory has more than 76 entries");
    assert_int_equal(g.n, 0);
    /* with the default limit (64) the per-entry count stops it */
    assert_int_equal(run(&big, NULL, NULL, &g, &res, &err), MTS_ETOOBIG);
    assert_string_equal(err.message, "zip: more than 64 entries");
    assert_int_equal(g.n, 64);
    got_free(&g);
    bytes_free(&big);
  }
  /* corrupt: truncate the archive in the middle */
  in.n = in.n / 2;
  assert_int_equal(run(&in, NULL, NULL, &g, &res, &err), MTS_EPARSE);
  assert_string_equal(err.code, "unpack-zip-corrupt");
  got_free(&g);
  bytes_free(&in);

  /* an encrypted member (general purpose flag bit 0, APPNOTE 4.4.4) */
  in = zip_of(notjson, 1);
  {
    size_t i;

    for (i = 0; i + 10 < in.n; i++) {
      if (memcmp(in.p + i, "PK\x03\x04", 4) == 0) {
        in.p[i + 6] |= 1;
      } else if (memcmp(in.p + i, "PK\x01\x02", 4) == 0) {
        in.p[i + 8] |= 1;
      }
    }
  }
  assert_int_equal(run(&in, NULL, NULL, &g, &res, &err), MTS_EPARSE);
  assert_string_equal(err.code, "unpack-zip-encrypted");
  assert_int_equal(g.n, 0);
  bytes_free(&in);

  in = of_str("PK\x03\x04 this is not a zip");
  assert_int_equal(run(&in, NULL, NULL, &g, &res, &err), MTS_EPARSE);
  assert_string_equal(err.code, "unpack-zip-corrupt");
  assert_int_equal(g.n, 0);
  bytes_free(&in);
}

static void test_limits(void **state) {
  const struct zmember two[] = {{"a.json", NULL, 0, 0, false},
                                {"b.json", NULL, 0, 0, false}};
  struct zmember m[2];
  char doc[601];
  struct mts_rpt_unpack_limits lim = {50, 0, 0, 0};
  struct bytes in = of_str(REPORT_A);
  struct mts_rpt_unpack_result res;
  struct mts_rpt_unpack_error err;
  struct got g = {0};

  (void)state;
  assert_int_equal(run(&in, NULL, &lim, &g, &res, &err), MTS_ETOOBIG);
  assert_string_equal(err.code, "unpack-too-big");
  assert_string_equal(err.message,
                      "a document exceeds 50 bytes decompressed");
  bytes_free(&in);
  in = gz(REPORT_A);
  assert_int_equal(run(&in, NULL, &lim, &g, &res, &err), MTS_ETOOBIG);
  assert_string_equal(err.code, "unpack-too-big");
  assert_int_equal(g.n, 0);
  bytes_free(&in);
  /* exactly at the limit passes */
  lim.max_doc = strlen(REPORT_A);
  in = gz(REPORT_A);
  assert_int_equal(run(&in, NULL, &lim, &g, &res, &err), MTS_OK);
  got_free(&g);
  bytes_free(&in);

  /* the total budget: the first 600-byte document fits, the second not */
  memset(doc, ' ', sizeof(doc));
  doc[0] = '{';
  doc[598] = '}';
  doc[599] = '\n';
  memcpy(m, two, sizeof(m));
  m[0].data = m[1].data = doc;
  m[0].len = m[1].len = 600;
  in = zip_of(m, 2);
  lim.max_doc = 0;
  lim.max_total = 1000;
  assert_int_equal(run(&in, NULL, &lim, &g, &res, &err), MTS_ETOOBIG);
  assert_string_equal(err.code, "unpack-total-too-big");
  assert_int_equal(g.n, 1);
  assert_int_equal(res.total, 600);
  got_free(&g);
  bytes_free(&in);
}

/* Members that are not reports still cost their decompression: every
 * byte read out of a member counts against the total (here 3.5 MiB; the
 * ratio check is off), so eight 1 MiB members of zeros stop in the
 * fourth and the report after them is never reached. Before, skipped
 * members were not counted: 64 of them could inflate 2 GiB from 8 MiB. */
static void test_zip_skipped_count(void **state) {
  struct zmember m[9];
  char names[8][16];
  struct mts_rpt_unpack_limits lim = {0, 3 * MIB + MIB / 2, 1000000u, 0};
  struct mts_rpt_unpack_result res;
  struct mts_rpt_unpack_error err;
  struct got g = {0};
  struct bytes in;
  size_t i;

  (void)state;
  for (i = 0; i < 8; i++) {
    (void)snprintf(names[i], sizeof(names[i]), "junk-%zu.txt", i);
    m[i].name = names[i];
    m[i].data = NULL;
    m[i].len = 0;
    m[i].zeros = MIB;
    m[i].dir = false;
  }
  m[8].name = "r.json";
  m[8].data = REPORT_A;
  m[8].len = strlen(REPORT_A);
  m[8].zeros = 0;
  m[8].dir = false;
  in = zip_of(m, 9);
  assert_true(in.n < 64u * 1024); /* 8 MiB of zeros deflate to ~8 KiB */
  assert_int_equal(run(&in, NULL, &lim, &g, &res, &err), MTS_ETOOBIG);
  assert_string_equal(err.code, "unpack-total-too-big");
  assert_string_equal(err.message,
                      "the data decompresses to more than 3670016 bytes in "
                      "all (documents and skipped members)");
  assert_int_equal(g.n, 0);
  assert_int_equal(res.skipped, 3);
  assert_true(res.used >= lim.max_total && res.used <= lim.max_total + 1);
  assert_int_equal(res.total, 0);
  /* the same members under the default total are all read and skipped;
   * what they cost is in `used`, the report in `total` */
  lim.max_total = 0;
  assert_int_equal(run(&in, NULL, &lim, &g, &res, &err), MTS_OK);
  assert_int_equal(g.n, 1);
  assert_int_equal(res.skipped, 8);
  assert_int_equal(res.used, 8 * MIB + strlen(REPORT_A));
  assert_int_equal(res.total, strlen(REPORT_A));
  got_free(&g);
  bytes_free(&in);
}

/* Only stored and deflated members are read. Another method is refused
 * before its decoder starts: PPMd (98) would allocate the 256 MiB its
 * 2-byte header asks for (f3 0f: order 4, 256 MiB), bzip2 (12) a few
 * MiB, and every decoder is attack surface. The members are built by
 * hand with the method in both headers. */
static void test_zip_method(void **state) {
  static const struct {
    uint16_t method;
    const char *name; /* in libarchive's name, NULL: not checked */
  } v[] = {
      {98, "ppmd"},        {12, "bzip"}, {14, "lzma"}, {95, "xz"}, {93, NULL},
      {9, "deflation-64"}, {1, NULL},    {6, NULL},    {20, NULL},
  };
  static const char head[] = "zip member a.json: compression method ";
  static const char tail[] = " is not read (only stored and deflate)";
  static const uint8_t ppmd[] = {0xf3, 0x0f, 0x00, 0x00, 0x00, 0x00,
                                 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
  struct mts_rpt_unpack_result res;
  struct mts_rpt_unpack_error err;
  struct got g = {0};
  struct bytes in;
  size_t i;

  (void)state;
  /* the hand-made layout is right: stored, it is read */
  in = zip_one("a.json", 0, REPORT_B, strlen(REPORT_B),
               (uint32_t)strlen(REPORT_B));
  assert_int_equal(run(&in, NULL, NULL, &g, &res, &err), MTS_OK);
  assert_int_equal(g.n, 1);
  assert_string_equal(g.data[0], REPORT_B);
  got_free(&g);
  bytes_free(&in);
  for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
    size_t ml;

    in = zip_one("a.json", v[i].method, ppmd, sizeof(ppmd), 1u << 20);
    assert_int_equal(run(&in, NULL, NULL, &g, &res, &err), MTS_EPARSE);
    if (strcmp(err.code, "unpack-zip-method") != 0) {
      fail_msg("method %u: %s (%s)", v[i].method, err.code, err.message);
    }
    ml = strlen(err.message);
    assert_true(ml > strlen(head) + strlen(tail));
    assert_memory_equal(err.message, head, strlen(head));
    assert_string_equal(err.message + ml - strlen(tail), tail);
    if (v[i].name != NULL && strstr(err.message, v[i].name) == NULL) {
      fail_msg("method %u: %s", v[i].method, err.message);
    }
    assert_int_equal(g.n, 0);
    assert_int_equal(res.used, 0);
    bytes_free(&in);
  }
  /* a directory or nested archive is skipped unread, whatever its
   * method: no decoder runs for it */
  {
    struct bytes dir = zip_one("inner.zip", 98, ppmd, sizeof(ppmd), 1u << 20);

    assert_int_equal(run(&dir, NULL, NULL, &g, &res, &err), MTS_EPARSE);
    assert_string_equal(err.code, "unpack-no-report");
    assert_int_equal(res.skipped, 1);
    bytes_free(&dir);
  }
}

/* Without a central directory (a truncated or streamed-only archive) a
 * zip is not read: the seekable reader needs it, and the streaming
 * reader would inflate a skipped entry of unknown length to find its
 * end. */
static void test_zip_needs_directory(void **state) {
  struct bytes in = zip_one("a.json", 0, REPORT_B, strlen(REPORT_B),
                            (uint32_t)strlen(REPORT_B));
  struct mts_rpt_unpack_result res;
  struct mts_rpt_unpack_error err;
  struct got g = {0};

  (void)state;
  in.n = 30 + strlen("a.json") + strlen(REPORT_B); /* local header + data */
  assert_int_equal(run(&in, NULL, NULL, &g, &res, &err), MTS_EPARSE);
  assert_string_equal(err.code, "unpack-zip-corrupt");
  assert_int_equal(g.n, 0);
  bytes_free(&in);
}

static double now_s(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 1 GiB of zeros gzip'd to ~1 MiB: stops on the ratio after ~1 MiB of
 * output, without a gigabyte of work or memory. */
static void test_gzip_bomb(void **state) {
  struct bytes in = {NULL, 0};
  struct mts_rpt_unpack_result res;
  struct mts_rpt_unpack_error err;
  struct got g = {0};
  double t0;
  uint32_t crc;
  struct mts_rpt_unpack_limits nolimit = {0, 0, 1000000u, 0};

  (void)state;
  zero_bomb(&in, 1024, true, &crc);
  assert_true(in.n < 2u * 1024 * 1024);
  assert_true(in.n > 512u * 1024);
  /* it is a real stream: without the ratio limit the 32 MiB cap stops it */
  assert_int_equal(run(&in, NULL, &nolimit, &g, &res, &err), MTS_ETOOBIG);
  assert_string_equal(err.code, "unpack-too-big");
  t0 = now_s();
  assert_int_equal(run(&in, NULL, NULL, &g, &res, &err), MTS_ETOOBIG);
  assert_true(now_s() - t0 < 2.0);
  assert_string_equal(err.code, "unpack-ratio");
  assert_string_equal(err.message, "gzip data: decompresses more than 250 "
                                   "times its size (a bomb?)");
  assert_int_equal(g.n, 0);
  assert_int_equal(res.total, 0);
  bytes_free(&in);
}

/* The same inside a zip, as a member named like a report. */
static void test_zip_bomb(void **state) {
  struct bytes in = zip_bomb("bomb.json", 1024);
  struct mts_rpt_unpack_limits nolimit = {0, 0, 1000000u, 0};
  struct mts_rpt_unpack_result res;
  struct mts_rpt_unpack_error err;
  struct got g = {0};
  double t0;

  (void)state;
  assert_true(in.n < 2u * 1024 * 1024);
  assert_int_equal(run(&in, NULL, &nolimit, &g, &res, &err), MTS_ETOOBIG);
  assert_string_equal(err.code, "unpack-too-big");
  t0 = now_s();
  assert_int_equal(run(&in, NULL, NULL, &g, &res, &err), MTS_ETOOBIG);
  assert_true(now_s() - t0 < 2.0);
  assert_string_equal(err.code, "unpack-ratio");
  assert_int_equal(g.n, 0);
  bytes_free(&in);
}


/* Every report fixture of tests/fixtures/tlsrpt/reports/ (another
 * module's, read when present): plain and gzipped, it comes out byte
 * for byte, or is refused as not JSON when it does not start like a
 * JSON object. */
static void test_report_fixtures(void **state) {
  const char *self = __FILE__; /* absolute in the CMake build */
  const char *cut = strstr(self, "tests/unit/test_rpt_unpack.c");
  char dir[1024];
  DIR *d;
  struct dirent *e;
  size_t nfiles = 0;

  (void)state;
  (void)snprintf(dir, sizeof(dir), "%.*stests/fixtures/tlsrpt/reports",
                 cut != NULL ? (int)(cut - self) : 0, self);
  d = opendir(dir);
  if (d == NULL) {
    skip();
  }
  while ((e = readdir(d)) != NULL) {
    char path[1400];
    struct bytes in = {NULL, 0}, z;
    uint8_t buf[65536];
    FILE *f;
    size_t r, nl = strlen(e->d_name);
    struct mts_rpt_unpack_result res;
    struct mts_rpt_unpack_error err;
    struct got g = {0};
    size_t bom;

    if (nl < 5 || strcmp(e->d_name + nl - 5, ".json") != 0) {
      continue;
    }
    (void)snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
    f = fopen(path, "rb");
    assert_non_null(f);
    while ((r = fread(buf, 1, sizeof(buf), f)) > 0) {
      bytes_add(&in, buf, r);
    }
    fclose(f);
    if (in.p == NULL) {
      bytes_add(&in, "", 0);
    }
    nfiles++;
    bom = (in.n >= 3 && memcmp(in.p, "\xef\xbb\xbf", 3) == 0) ? 3 : 0;
    z.p = NULL;
    z.n = 0;
    gz_member(&z, in.p, in.n, 0);
    if (!mts_rpt_unpack_looks_json(in.p, in.n)) {
      assert_int_equal(run(&in, NULL, NULL, &g, &res, &err), MTS_EPARSE);
      assert_string_equal(err.code, "unpack-unknown-format");
      assert_int_equal(run(&z, NULL, NULL, &g, &res, &err), MTS_EPARSE);
      assert_string_equal(err.code, "unpack-not-json");
    } else {
      assert_int_equal(run(&in, NULL, NULL, &g, &res, &err), MTS_OK);
      assert_int_equal(g.n, 1);
      assert_int_equal(g.len[0], in.n - bom);
      assert_memory_equal(g.data[0], in.p + bom, in.n - bom);
      got_free(&g);
      assert_int_equal(run(&z, NULL, NULL, &g, &res, &err), MTS_OK);
      assert_int_equal(g.n, 1);
      assert_int_equal(g.len[0], in.n - bom);
      assert_memory_equal(g.data[0], in.p + bom, in.n - bom);
    }
    got_free(&g);
    bytes_free(&in);
    bytes_free(&z);
  }
  closedir(d);
  assert_true(nfiles > 0);
}

static void test_callback_stops(void **state) {
  const struct zmember two[] = {{"a.json", "{}", 2, 0, false},
                                {"b.json", "{}", 2, 0, false}};
  struct bytes in = zip_of(two, 2);
  struct mts_rpt_unpack_result res;
  struct mts_rpt_unpack_error err;
  struct got g = {0};

  (void)state;
  g.ret = MTS_EIO;
  assert_int_equal(run(&in, NULL, NULL, &g, &res, &err), MTS_EIO);
  assert_string_equal(err.code, "unpack-callback");
  assert_int_equal(g.n, 1);
  got_free(&g);
  bytes_free(&in);
}

static void test_args(void **state) {
  struct mts_test_alloc a;
  struct mts_ctx *ctx = mts_test_ctx(&a, 0);
  struct mts_rpt_unpack_error err;
  struct got g = {0};

  (void)state;
  assert_int_equal(mts_rpt_unpack_mem(NULL, (const uint8_t *)"{}", 2, NULL,
                                      NULL, collect, &g, NULL, &err),
                   MTS_EINVAL);
  assert_string_equal(err.code, "unpack-invalid");
  assert_int_equal(mts_rpt_unpack_mem(ctx, (const uint8_t *)"{}", 2, NULL,
                                      NULL, NULL, &g, NULL, NULL),
                   MTS_EINVAL);
  assert_int_equal(
      mts_rpt_unpack_mem(ctx, NULL, 2, NULL, NULL, collect, &g, NULL, NULL),
      MTS_EINVAL);
  /* res and err are optional */
  assert_int_equal(mts_rpt_unpack_mem(ctx, (const uint8_t *)"{}", 2, NULL,
                                      NULL, collect, &g, NULL, NULL),
                   MTS_OK);
  assert_int_equal(g.n, 1);
  got_free(&g);
  assert_false(mts_rpt_unpack_looks_json(NULL, 0));
  mts_ctx_destroy(ctx);
}

/* Every allocation failure surfaces as ENOMEM, with nothing leaked. */
static enum mts_status sweep_op(struct mts_ctx *ctx, void *arg) {
  const struct bytes *in = arg;
  struct got g = {0};
  struct mts_rpt_unpack_error err;
  enum mts_status st = mts_rpt_unpack_mem(ctx, in->p, in->n, NULL, NULL,
                                          collect, &g, NULL, &err);

  if (st == MTS_ENOMEM) {
    assert_string_equal(err.code, "unpack-nomem");
  }
  got_free(&g);
  return st;
}

static void test_alloc_sweep(void **state) {
  struct bytes b = gz(REPORT_B);
  const struct zmember m[] = {
      {"a.json", REPORT_A, strlen(REPORT_A), 0, false},
      {"b.json.gz", b.p, b.n, 0, false}};
  struct bytes z = zip_of(m, 2);

  (void)state;
  assert_true(mts_test_alloc_sweep(sweep_op, &b) > 0);
  assert_true(mts_test_alloc_sweep(sweep_op, &z) > 0);
  bytes_free(&b);
  bytes_free(&z);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_detect),
      cmocka_unit_test(test_plain_json),
      cmocka_unit_test(test_gzip),
      cmocka_unit_test(test_gzip_members),
      cmocka_unit_test(test_gzip_bad),
      cmocka_unit_test(test_unknown),
      cmocka_unit_test(test_zip),
      cmocka_unit_test(test_zip_bad),
      cmocka_unit_test(test_limits),
      cmocka_unit_test(test_zip_skipped_count),
      cmocka_unit_test(test_zip_method),
      cmocka_unit_test(test_zip_needs_directory),
      cmocka_unit_test(test_gzip_bomb),
      cmocka_unit_test(test_zip_bomb),
      cmocka_unit_test(test_report_fixtures),
      cmocka_unit_test(test_callback_stops),
      cmocka_unit_test(test_args),
      cmocka_unit_test(test_alloc_sweep),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
