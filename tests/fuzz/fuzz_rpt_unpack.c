/*
 * fuzz_rpt_unpack.c - mts_rpt_unpack_mem() over arbitrary bytes (an
 * attachment or an HTTPS upload body: JSON, gzip, zip or garbage).
 *
 * Limits are lowered (1 MiB per document, 4 MiB in all) so that bombs
 * stop quickly; the invariants (abort() when broken):
 * - the status is OK exactly when no error code is set; OK means at
 *   least one document; every code starts with "unpack-";
 * - the result's counters match what the callback saw; each document
 *   is within the limit, looks like JSON, and its index is its order;
 * - plain JSON input is handed out unchanged (minus a BOM), gzip and
 *   zip outputs are gzipped / zipped documents;
 * - round trip: a document gzipped again unpacks to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <mtasts/rpt_unpack.h>

#define DOC_MAX (1024u * 1024u)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
  size_t n;
  uint64_t total;
  const uint8_t *in;
  size_t inlen;
  enum mts_rpt_unpack_format fmt;
  struct mts_ctx *ctx;
  bool roundtrip; /* this run is the round trip itself */
  const uint8_t *want;
  size_t wantlen;
};

static enum mts_status again(void *arg, const struct mts_rpt_unpack_doc *d) {
  struct seen *s = arg;

  if (d->len != s->wantlen || memcmp(d->data, s->want, d->len) != 0) {
    abort();
  }
  s->n++;
  return MTS_OK;
}

static void roundtrip(struct mts_ctx *ctx, const uint8_t *p, size_t n) {
  uLongf cap = compressBound((uLong)n) + 32;
  uint8_t *z = malloc(cap);
  z_stream zs;
  struct seen s;
  struct mts_rpt_unpack_error err;

  if (z == NULL) {
    abort();
  }
  memset(&zs, 0, sizeof(zs));
  if (deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    abort();
  }
  zs.next_in = (Bytef *)(uintptr_t)p;
  zs.avail_in = (uInt)n;
  zs.next_out = z;
  zs.avail_out = (uInt)cap;
  if (deflate(&zs, Z_FINISH) != Z_STREAM_END) {
    abort();
  }
  memset(&s, 0, sizeof(s));
  s.want = p;
  s.wantlen = n;
  if (mts_rpt_unpack_mem(ctx, z, zs.total_out, NULL, NULL, again, &s, NULL,
                         &err) != MTS_OK ||
      s.n != 1) {
    /* the ratio limit may reject a highly compressible document */
    if (err.code == NULL || strcmp(err.code, "unpack-ratio") != 0) {
      abort();
    }
  }
  deflateEnd(&zs);
  free(z);
}

static enum mts_status on_doc(void *arg, const struct mts_rpt_unpack_doc *d) {
  struct seen *s = arg;
  size_t bom = (d->flags & MTS_RPT_UNPACK_F_BOM) != 0 ? 3 : 0;

  if (d->index != s->n || d->len > DOC_MAX || d->outer != s->fmt ||
      !mts_rpt_unpack_looks_json(d->data, d->len) ||
      (d->data == NULL && d->len > 0)) {
    abort();
  }
  if (s->fmt == MTS_RPT_UNPACK_JSON &&
      (d->gzipped || d->len + bom != s->inlen ||
       memcmp(d->data, s->in + bom, d->len) != 0)) {
    abort();
  }
  if (s->fmt == MTS_RPT_UNPACK_GZIP && !d->gzipped) {
    abort();
  }
  s->n++;
  s->total += d->len + bom;
  if (d->len < 65536) {
    roundtrip(s->ctx, d->data, d->len);
  }
  return MTS_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct mts_ctx *ctx = NULL;
  struct mts_rpt_unpack_limits lim = {DOC_MAX, 4u * DOC_MAX, 0, 0};
  struct mts_rpt_unpack_result res;
  struct mts_rpt_unpack_error err;
  struct seen s;
  enum mts_status st;

  if (mts_ctx_create(NULL, &ctx) != MTS_OK) {
    abort();
  }
  memset(&s, 0, sizeof(s));
  s.in = data;
  s.inlen = size;
  s.fmt = mts_rpt_unpack_detect(data, size);
  s.ctx = ctx;
  st = mts_rpt_unpack_mem(ctx, data, size, NULL, &lim, on_doc, &s, &res,
                          &err);
  if ((st == MTS_OK) != (err.code == NULL) ||
      (err.code != NULL && (strncmp(err.code, "unpack-", 7) != 0 ||
                            err.status != st || err.message[0] == '\0')) ||
      (st == MTS_OK && res.ndocs == 0) || res.ndocs != s.n ||
      res.total != s.total || res.format != s.fmt ||
      st == MTS_EINTERNAL || st == MTS_ENOMEM) {
    abort();
  }
  mts_ctx_destroy(ctx);
  return 0;
}
