/*
 * rpt_unpack.c - the JSON documents inside a TLS report attachment or
 * upload: plain JSON, gzip, zip; see mtasts/rpt_unpack.h.
 *
 * zlib does gzip (windowBits 15 + 16: gzip wrapper only, CRC-32 and
 * ISIZE checked), with its allocator routed to the context. libarchive
 * reads zip archives from memory (its seekable reader only: the central
 * directory is authoritative, and an entry is skipped by seeking past
 * it, never by decompressing it). Output grows in a context-allocated
 * buffer whose capacity never exceeds the applicable limit + 1 byte, and
 * inflate is fed at most UNPACK_STEP bytes of output space per call so
 * that the ratio check runs often. Every byte produced (gunzipped, read
 * out of a zip member, or plain JSON handed out) is counted in
 * res.used against max_total, whether it becomes a document or not.
 */
#include <mtasts/rpt_unpack.h>

#include <archive.h>
#include <archive_entry.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "core/ascii_int.h"
#include "core/ctx_int.h"
#include "core/findings_int.h"
#include "core/strbuf_int.h"

/* Output space offered to one inflate() / archive_read_data() call. */
#define UNPACK_STEP (256u * 1024u)
/* Bytes libarchive gets per read callback: the granularity of the
 * per-member compressed-input count. */
#define ZIP_BLOCK 4096u
/* First output buffer size. */
#define UNPACK_INITIAL (64u * 1024u)

struct job {
  struct mts_ctx *ctx;
  const struct mts_rpt_unpack_hints *hints;
  size_t max_doc;
  size_t max_total;
  unsigned max_ratio;
  unsigned max_members;
  mts_rpt_unpack_cb cb;
  void *arg;
  struct mts_rpt_unpack_result res;
  struct mts_rpt_unpack_error *err;
};

static void set_err(struct job *j, enum mts_status st, const char *code,
                    const char *fmt, ...) MTS_PRINTF(4, 5);

static void set_err(struct job *j, enum mts_status st, const char *code,
                    const char *fmt, ...) {
  va_list ap;

  if (j->err == NULL || j->err->code != NULL) {
    return; /* keep the first reason */
  }
  j->err->status = st;
  j->err->code = code;
  va_start(ap, fmt);
  (void)vsnprintf(j->err->message, sizeof(j->err->message), fmt, ap);
  va_end(ap);
}

static enum mts_status oom(struct job *j) {
  set_err(j, MTS_ENOMEM, "unpack-nomem", "out of memory");
  return MTS_ENOMEM;
}

/* ---- detection ---- */

static size_t bom_len(const uint8_t *d, size_t len) {
  return (len >= 3 && d[0] == 0xEF && d[1] == 0xBB && d[2] == 0xBF) ? 3 : 0;
}

bool mts_rpt_unpack_looks_json(const uint8_t *data, size_t len) {
  size_t i;

  if (data == NULL) {
    return false;
  }
  for (i = bom_len(data, len); i < len; i++) {
    uint8_t c = data[i];

    if (c == '{') {
      return true;
    }
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
      return false;
    }
  }
  return false;
}

static bool is_gzip(const uint8_t *d, size_t len) {
  return len >= 2 && d[0] == 0x1f && d[1] == 0x8b;
}

static bool is_zip(const uint8_t *d, size_t len) {
  return len >= 4 && d[0] == 'P' && d[1] == 'K' &&
         ((d[2] == 3 && d[3] == 4) || (d[2] == 5 && d[3] == 6));
}

enum mts_rpt_unpack_format mts_rpt_unpack_detect(const uint8_t *data,
                                                 size_t len) {
  if (data == NULL) {
    return MTS_RPT_UNPACK_UNKNOWN;
  }
  if (is_gzip(data, len)) {
    return MTS_RPT_UNPACK_GZIP;
  }
  if (is_zip(data, len)) {
    return MTS_RPT_UNPACK_ZIP;
  }
  if (mts_rpt_unpack_looks_json(data, len)) {
    return MTS_RPT_UNPACK_JSON;
  }
  return MTS_RPT_UNPACK_UNKNOWN;
}

const char *mts_rpt_unpack_format_str(enum mts_rpt_unpack_format f) {
  switch (f) {
  case MTS_RPT_UNPACK_JSON:
    return "json";
  case MTS_RPT_UNPACK_GZIP:
    return "gzip";
  case MTS_RPT_UNPACK_ZIP:
    return "zip";
  case MTS_RPT_UNPACK_UNKNOWN:
    break;
  }
  return "unknown";
}

/* ASCII case-insensitive suffix test on a NUL-terminated name. */
static bool name_ends(const char *name, const char *suffix) {
  size_t n, s;

  if (name == NULL) {
    return false;
  }
  n = strlen(name);
  s = strlen(suffix);
  return n >= s && mts_ascii_caseeq((const uint8_t *)name + n - s, s,
                                    (const uint8_t *)suffix, s);
}

/* ---- output buffer ---- */

/* What is left of the total budget (res.used counts every byte
 * produced, delivered or not). */
static size_t budget_left(const struct job *j) {
  return j->res.used < (uint64_t)j->max_total
             ? j->max_total - (size_t)j->res.used
             : 0;
}

/* The next output may use what is left of the total budget, at most
 * max_doc. */
static size_t doc_limit(const struct job *j) {
  size_t left = budget_left(j);

  return left < j->max_doc ? left : j->max_doc;
}

static enum mts_status too_big(struct job *j, size_t limit) {
  if (limit == j->max_doc) {
    set_err(j, MTS_ETOOBIG, "unpack-too-big",
            "a document exceeds %zu bytes decompressed", j->max_doc);
  } else {
    set_err(j, MTS_ETOOBIG, "unpack-total-too-big",
            "the data decompresses to more than %zu bytes in all "
            "(documents and skipped members)",
            j->max_total);
  }
  return MTS_ETOOBIG;
}

/* An output buffer for at most \p limit bytes: its capacity never
 * exceeds limit + 1, the one byte more that tells "too big". */
static void out_init(struct job *j, struct mts_strbuf *b, size_t limit) {
  mts_strbuf_init(b, j->ctx, UNPACK_INITIAL,
                  limit < MTS_STRBUF_NOMAX ? limit + 1 : MTS_STRBUF_NOMAX);
}

/* Room for at least one more byte, unless the limit is passed. */
static enum mts_status out_grow(struct job *j, struct mts_strbuf *b,
                                size_t limit) {
  if (b->len > limit) {
    return too_big(j, limit);
  }
  if (!mts_strbuf_reserve(b, 1)) {
    return oom(j);
  }
  return MTS_OK;
}

/* ---- handing out ---- */

/* Hand out \p len bytes that were already counted in res.used (by
 * whatever produced them, within doc_limit()). */
static enum mts_status deliver(struct job *j, const uint8_t *data, size_t len,
                               const char *name, bool gzipped,
                               unsigned flags) {
  struct mts_rpt_unpack_doc doc;
  size_t b = bom_len(data, len);
  enum mts_status st;

  if (len > j->max_doc) {
    return too_big(j, j->max_doc);
  }
  if (j->res.ndocs >= j->max_members) {
    set_err(j, MTS_ETOOBIG, "unpack-too-many-members",
            "more than %u documents", j->max_members);
    return MTS_ETOOBIG;
  }
  memset(&doc, 0, sizeof(doc));
  doc.data = data + b;
  doc.len = len - b;
  doc.name = name;
  doc.outer = j->res.format;
  doc.gzipped = gzipped;
  doc.flags = flags | (b > 0 ? MTS_RPT_UNPACK_F_BOM : 0u);
  doc.index = j->res.ndocs;
  j->res.ndocs++;
  j->res.total += len;
  st = j->cb(j->arg, &doc);
  if (st != MTS_OK) {
    set_err(j, st, "unpack-callback", "the callback stopped: %s",
            mts_status_name(st));
  }
  return st;
}

/* ---- gzip ---- */

static voidpf z_alloc(voidpf opaque, uInt items, uInt size) {
  return mts_calloc(opaque, items, size);
}

static void z_free(voidpf opaque, voidpf p) { mts_free(opaque, p); }

static bool all_nul(const uint8_t *p, size_t n) {
  size_t i;

  for (i = 0; i < n; i++) {
    if (p[i] != 0) {
      return false;
    }
  }
  return true;
}

/*
 * Gunzip \p in (one or more members) into \p out, at most \p limit
 * bytes. \p what names the input in messages ("gzip data", a member).
 */
static enum mts_status gunzip(struct job *j, const uint8_t *in, size_t inlen,
                              size_t limit, struct mts_strbuf *out,
                              unsigned *flags, const char *what) {
  z_stream z;
  size_t pos = 0;
  enum mts_status st = MTS_OK;
  int rc;

  memset(&z, 0, sizeof(z));
  z.zalloc = z_alloc;
  z.zfree = z_free;
  z.opaque = j->ctx;
  rc = inflateInit2(&z, 15 + 16);
  if (rc == Z_MEM_ERROR) {
    return oom(j);
  }
  if (rc != Z_OK) {
    set_err(j, MTS_EINTERNAL, "unpack-internal", "zlib: inflateInit2 failed");
    return MTS_EINTERNAL;
  }
  for (;;) {
    size_t in_avail = inlen - pos, out_avail, used_in, made;

    st = out_grow(j, out, limit);
    if (st != MTS_OK) {
      break;
    }
    out_avail = out->cap - out->len;
    if (out_avail > UNPACK_STEP) {
      out_avail = UNPACK_STEP;
    }
    if (in_avail > UINT_MAX) {
      in_avail = UINT_MAX;
    }
    z.next_in = (Bytef *)(uintptr_t)(in + pos);
    z.avail_in = (uInt)in_avail;
    z.next_out = (Bytef *)out->p + out->len;
    z.avail_out = (uInt)out_avail;
    rc = inflate(&z, Z_NO_FLUSH);
    used_in = in_avail - z.avail_in;
    made = out_avail - z.avail_out;
    pos += used_in;
    mts_strbuf_added(out, made);
    if (rc == Z_MEM_ERROR) {
      st = oom(j);
      break;
    }
    if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT || rc == Z_STREAM_ERROR) {
      set_err(j, MTS_EPARSE, "unpack-gzip-corrupt", "%s: %s", what,
              z.msg != NULL ? z.msg : "corrupt deflate data");
      st = MTS_EPARSE;
      break;
    }
    if (out->len > MTS_RPT_UNPACK_RATIO_FLOOR &&
        (pos == 0 || out->len / pos > (size_t)j->max_ratio)) {
      set_err(j, MTS_ETOOBIG, "unpack-ratio",
              "%s: decompresses more than %u times its size (a bomb?)", what,
              j->max_ratio);
      st = MTS_ETOOBIG;
      break;
    }
    if (rc == Z_STREAM_END) {
      const uint8_t *rest = in + pos;
      size_t nrest = inlen - pos;

      if (nrest >= 2 && is_gzip(rest, nrest)) {
        if (inflateReset(&z) != Z_OK) {
          set_err(j, MTS_EINTERNAL, "unpack-internal", "zlib: reset failed");
          st = MTS_EINTERNAL;
          break;
        }
        continue; /* the next member */
      }
      if (nrest > 0 && !all_nul(rest, nrest)) {
        *flags |= MTS_RPT_UNPACK_F_TRAILING;
      }
      break;
    }
    if (used_in == 0 && made == 0) {
      if (pos == inlen) {
        set_err(j, MTS_EPARSE, "unpack-gzip-truncated",
                "%s: truncated (the data ends before the gzip trailer)",
                what);
        st = MTS_EPARSE;
        break;
      }
      if (out->len < out->cap) { /* zlib made no progress: never loop */
        set_err(j, MTS_EPARSE, "unpack-gzip-corrupt", "%s: stalled", what);
        st = MTS_EPARSE;
        break;
      }
      /* output full: the loop head grows it or reports the limit */
    }
  }
  (void)inflateEnd(&z);
  return st;
}

static enum mts_status do_gzip(struct job *j, const uint8_t *data,
                               size_t len) {
  struct mts_strbuf out;
  size_t limit = doc_limit(j);
  unsigned flags = 0;
  enum mts_status st;

  out_init(j, &out, limit);
  st = gunzip(j, data, len, limit, &out, &flags, "gzip data");
  j->res.used += out.len;
  if (st == MTS_OK) {
    if (!mts_rpt_unpack_looks_json((const uint8_t *)out.p, out.len)) {
      set_err(j, MTS_EPARSE, "unpack-not-json",
              "the gzip data does not hold a JSON object");
      st = MTS_EPARSE;
    } else {
      st = deliver(j, (const uint8_t *)out.p, out.len,
                   j->hints != NULL ? j->hints->filename : NULL, true, flags);
    }
  }
  mts_strbuf_cleanup(&out);
  return st;
}

/* ---- zip ---- */

static enum mts_status zip_corrupt(struct job *j, struct archive *a,
                                   const char *what) {
  const char *e = archive_error_string(a);

  set_err(j, MTS_EPARSE, "unpack-zip-corrupt", "zip: %s%s%s", what,
          e != NULL ? ": " : "", e != NULL ? e : "");
  return MTS_EPARSE;
}

/* The archive in memory, handed to libarchive in ZIP_BLOCK pieces so
 * that `fed` counts the compressed bytes it consumed. */
struct zsrc {
  const uint8_t *p;
  size_t len;
  size_t pos;
  uint64_t fed;     /* bytes handed out, re-reads included */
  uint64_t zip_out; /* member bytes read out of the archive */
};

static la_ssize_t zsrc_read(struct archive *a, void *arg, const void **buf) {
  struct zsrc *s = arg;
  size_t n = s->len - s->pos;

  (void)a;
  if (n > ZIP_BLOCK) {
    n = ZIP_BLOCK;
  }
  *buf = s->p + s->pos;
  s->pos += n;
  s->fed += n;
  return (la_ssize_t)n;
}

static la_int64_t zsrc_seek(struct archive *a, void *arg, la_int64_t off,
                            int whence) {
  struct zsrc *s = arg;
  la_int64_t base;

  (void)a;
  switch (whence) {
  case SEEK_SET:
    base = 0;
    break;
  case SEEK_CUR:
    base = (la_int64_t)s->pos;
    break;
  case SEEK_END:
    base = (la_int64_t)s->len;
    break;
  default:
    return ARCHIVE_FATAL;
  }
  if ((off < 0 && -off > base) ||
      (off > 0 && off > (la_int64_t)s->len - base)) {
    return ARCHIVE_FATAL;
  }
  s->pos = (size_t)(base + off);
  return (la_int64_t)s->pos;
}

static la_int64_t zsrc_skip(struct archive *a, void *arg, la_int64_t req) {
  struct zsrc *s = arg;
  size_t n = s->len - s->pos;

  (void)a;
  if (req <= 0) {
    return 0;
  }
  if ((uint64_t)req < (uint64_t)n) {
    n = (size_t)req;
  }
  s->pos += n;
  return (la_int64_t)n;
}

/* Read the current member's data into \p raw (at most \p limit bytes),
 * checking the ratio per member (output : compressed bytes consumed
 * since the member began, plus one block of slack) and over the whole
 * archive (all member output : archive size). */
static enum mts_status zip_read_member(struct job *j, struct archive *a,
                                       size_t limit, struct mts_strbuf *raw,
                                       struct zsrc *src, const char *name) {
  uint64_t fed0 = src->fed;

  for (;;) {
    size_t room;
    la_ssize_t n;
    enum mts_status st = out_grow(j, raw, limit);

    if (st != MTS_OK) {
      return st;
    }
    room = raw->cap - raw->len;
    if (room > UNPACK_STEP) {
      room = UNPACK_STEP;
    }
    n = archive_read_data(a, raw->p + raw->len, room);
    if (n < 0) {
      return zip_corrupt(j, a, name);
    }
    if (n == 0) {
      return MTS_OK;
    }
    mts_strbuf_added(raw, (size_t)n);
    src->zip_out += (uint64_t)n;
    if (raw->len > MTS_RPT_UNPACK_RATIO_FLOOR &&
        (uint64_t)raw->len / (src->fed - fed0 + ZIP_BLOCK) >
            (uint64_t)j->max_ratio) {
      set_err(j, MTS_ETOOBIG, "unpack-ratio",
              "%s: decompresses more than %u times its size (a bomb?)", name,
              j->max_ratio);
      return MTS_ETOOBIG;
    }
    if (src->zip_out > MTS_RPT_UNPACK_RATIO_FLOOR &&
        src->zip_out / src->len > (uint64_t)j->max_ratio) {
      set_err(j, MTS_ETOOBIG, "unpack-ratio",
              "zip: members decompress to more than %u times the archive "
              "size (a bomb?)",
              j->max_ratio);
      return MTS_ETOOBIG;
    }
  }
}

/*
 * The compression method libarchive will use for the member whose header
 * was just read, as libarchive names it. libarchive 3.6 has no accessor
 * for a zip entry's method; its zip reader names it in the format name,
 * "ZIP 2.0 (deflation)", set from the local file header it has just read
 * (the method it will decompress with, whatever the central directory
 * says). \return true for "uncompressed" (stored, 0) and "deflation"
 * (deflate, 8), the only methods read; \p name gets the name, escaped.
 * A format name of another shape (another libarchive) refuses every
 * member: loudly wrong, never silently permissive.
 */
static bool zip_method_ok(struct archive *a, char *name, size_t n) {
  const char *f = archive_format_name(a);
  const char *lpar = f != NULL ? strrchr(f, '(') : NULL;
  const char *rpar = lpar != NULL ? strchr(lpar, ')') : NULL;
  size_t k;

  if (rpar == NULL) {
    (void)snprintf(name, n, "unknown");
    return false;
  }
  k = (size_t)(rpar - lpar - 1);
  mts_findings_escape((const uint8_t *)lpar + 1, k, name, n);
  return (k == 12 && memcmp(lpar + 1, "uncompressed", 12) == 0) ||
         (k == 9 && memcmp(lpar + 1, "deflation", 9) == 0);
}

static enum mts_status zip_member(struct job *j, struct archive *a,
                                  struct archive_entry *e, struct zsrc *src) {
  const char *name = archive_entry_pathname(e);
  struct mts_strbuf raw, out;
  const uint8_t *rp, *op;
  size_t limit;
  unsigned flags = 0;
  enum mts_status st;
  char what[96], method[32];

  if (name == NULL) {
    name = "";
  }
  if (archive_entry_filetype(e) != AE_IFREG || name_ends(name, ".zip")) {
    /* directories, links, nested archives: libarchive's seekable
     * reader skips them by seeking, never decompressing */
    j->res.skipped++;
    return MTS_OK;
  }
  if (archive_entry_is_encrypted(e)) {
    set_err(j, MTS_EPARSE, "unpack-zip-encrypted",
            "zip: member is encrypted");
    return MTS_EPARSE;
  }
  {
    char esc[64];

    mts_findings_escape((const uint8_t *)name, strlen(name), esc, sizeof(esc));
    (void)snprintf(what, sizeof(what), "zip member %s", esc);
  }
  /* before any data is read: the decoders of the other methods (PPMd
   * allocates up to 256 MiB on a 2-byte header) never start */
  if (!zip_method_ok(a, method, sizeof(method))) {
    set_err(j, MTS_EPARSE, "unpack-zip-method",
            "%s: compression method %s is not read (only stored and "
            "deflate)",
            what, method);
    return MTS_EPARSE;
  }
  /* Every byte read out counts against the total, also when the
   * member turns out not to be a report. */
  limit = doc_limit(j);
  out_init(j, &raw, limit);
  out_init(j, &out, 0);
  st = zip_read_member(j, a, limit, &raw, src, what);
  j->res.used += raw.len;
  if (st != MTS_OK) {
    goto done;
  }
  rp = (const uint8_t *)raw.p;
  if (is_gzip(rp, raw.len) || name_ends(name, ".gz")) {
    limit = doc_limit(j);
    out_init(j, &out, limit);
    st = gunzip(j, rp, raw.len, limit, &out, &flags, what);
    j->res.used += out.len;
    if (st != MTS_OK) {
      goto done;
    }
    op = (const uint8_t *)out.p;
    if (!mts_rpt_unpack_looks_json(op, out.len)) {
      if (name_ends(name, ".json.gz")) {
        set_err(j, MTS_EPARSE, "unpack-not-json",
                "%s does not hold a JSON object", what);
        st = MTS_EPARSE;
      } else {
        j->res.skipped++;
      }
      goto done;
    }
    st = deliver(j, op, out.len, name, true, flags);
  } else if (mts_rpt_unpack_looks_json(rp, raw.len)) {
    st = deliver(j, rp, raw.len, name, false, 0);
  } else if (name_ends(name, ".json")) {
    set_err(j, MTS_EPARSE, "unpack-not-json",
            "%s does not hold a JSON object", what);
    st = MTS_EPARSE;
  } else {
    j->res.skipped++; /* a README, a nested zip by content, ... */
  }
done:
  mts_strbuf_cleanup(&raw);
  mts_strbuf_cleanup(&out);
  return st;
}

/* Occurrences of the central directory header signature "PK\1\2": an
 * upper bound of the entries libarchive's seekable reader would load
 * (it reads the whole central directory before the first entry), up to
 * \p stop. */
static size_t cd_signatures(const uint8_t *d, size_t len, size_t stop) {
  size_t i, n = 0;

  for (i = 0; i + 4 <= len && n <= stop; i++) {
    if (d[i] == 'P' && d[i + 1] == 'K' && d[i + 2] == 1 && d[i + 3] == 2) {
      n++;
    }
  }
  return n;
}

static enum mts_status do_zip(struct job *j, const uint8_t *data, size_t len) {
  struct archive *a = archive_read_new();
  struct archive_entry *e;
  enum mts_status st = MTS_OK;
  unsigned entries = 0;
  struct zsrc src;
  int r;

  if (a == NULL) {
    return oom(j);
  }
  /* Refuse a central directory of many thousands of entries before
   * libarchive allocates one record per entry. The bound is loose (4x
   * + 64): a stored nested zip or compressed bytes may hold the
   * signature too; the exact count is checked per entry below. */
  if (cd_signatures(data, len, 4u * j->max_members + 64u) >
      4u * j->max_members + 64u) {
    set_err(j, MTS_ETOOBIG, "unpack-too-many-members",
            "zip: the central directory has more than %u entries",
            4u * j->max_members + 64u);
    st = MTS_ETOOBIG;
    goto out;
  }
  /* The seekable reader only: it needs the central directory and
   * skips an entry by seeking past it. The streaming reader would skip
   * a deflated entry of unknown length by inflating it, unbounded. */
  if (archive_read_support_format_zip_seekable(a) != ARCHIVE_OK) {
    set_err(j, MTS_EINTERNAL, "unpack-internal", "libarchive: no zip support");
    st = MTS_EINTERNAL;
    goto out;
  }
  memset(&src, 0, sizeof(src));
  src.p = data;
  src.len = len;
  if (archive_read_set_read_callback(a, zsrc_read) != ARCHIVE_OK ||
      archive_read_set_seek_callback(a, zsrc_seek) != ARCHIVE_OK ||
      archive_read_set_skip_callback(a, zsrc_skip) != ARCHIVE_OK ||
      archive_read_set_callback_data(a, &src) != ARCHIVE_OK) {
    set_err(j, MTS_EINTERNAL, "unpack-internal", "libarchive: setup failed");
    st = MTS_EINTERNAL;
    goto out;
  }
  if (archive_read_open1(a) != ARCHIVE_OK) {
    st = zip_corrupt(j, a, "cannot open");
    goto out;
  }
  for (;;) {
    r = archive_read_next_header(a, &e);
    if (r == ARCHIVE_EOF) {
      break;
    }
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
      st = zip_corrupt(j, a, "bad entry");
      break;
    }
    if (++entries > j->max_members) {
      set_err(j, MTS_ETOOBIG, "unpack-too-many-members",
              "zip: more than %u entries", j->max_members);
      st = MTS_ETOOBIG;
      break;
    }
    st = zip_member(j, a, e, &src);
    if (st != MTS_OK) {
      break;
    }
  }
  if (st == MTS_OK && j->res.ndocs == 0) {
    set_err(j, MTS_EPARSE, "unpack-no-report",
            "zip: no JSON report among %u entries", entries);
    st = MTS_EPARSE;
  }
out:
  archive_read_free(a);
  return st;
}

/* ---- entry point ---- */

enum mts_status mts_rpt_unpack_mem(struct mts_ctx *ctx, const uint8_t *data,
                                   size_t len,
                                   const struct mts_rpt_unpack_hints *hints,
                                   const struct mts_rpt_unpack_limits *limits,
                                   mts_rpt_unpack_cb cb, void *arg,
                                   struct mts_rpt_unpack_result *res,
                                   struct mts_rpt_unpack_error *err) {
  struct job j;
  enum mts_status st;

  if (err != NULL) {
    memset(err, 0, sizeof(*err));
  }
  if (res != NULL) {
    memset(res, 0, sizeof(*res));
  }
  memset(&j, 0, sizeof(j));
  j.err = err;
  if (ctx == NULL || cb == NULL || (data == NULL && len > 0)) {
    set_err(&j, MTS_EINVAL, "unpack-invalid", "invalid argument");
    return MTS_EINVAL;
  }
  j.ctx = ctx;
  j.hints = hints;
  j.cb = cb;
  j.arg = arg;
  j.max_doc = MTS_RPT_REPORT_MAX;
  j.max_total = MTS_RPT_UNPACK_TOTAL_MAX;
  j.max_ratio = MTS_RPT_UNPACK_RATIO_MAX;
  j.max_members = MTS_RPT_UNPACK_MEMBERS_MAX;
  if (limits != NULL) {
    j.max_doc = limits->max_doc != 0 ? limits->max_doc : j.max_doc;
    j.max_total = limits->max_total != 0 ? limits->max_total : j.max_total;
    j.max_ratio = limits->max_ratio != 0 ? limits->max_ratio : j.max_ratio;
    j.max_members =
        limits->max_members != 0 ? limits->max_members : j.max_members;
  }
  /* a document can never be larger than the total budget */
  if (j.max_doc > j.max_total) {
    j.max_doc = j.max_total;
  }
  j.res.format = mts_rpt_unpack_detect(data, len);
  switch (j.res.format) {
  case MTS_RPT_UNPACK_GZIP:
    st = do_gzip(&j, data, len);
    break;
  case MTS_RPT_UNPACK_ZIP:
    st = do_zip(&j, data, len);
    break;
  case MTS_RPT_UNPACK_JSON:
    /* handed out as is: it counts like decompressed output */
    if (len > doc_limit(&j)) {
      st = too_big(&j, doc_limit(&j));
      break;
    }
    j.res.used += len;
    st = deliver(&j, data, len, hints != NULL ? hints->filename : NULL, false,
                 0);
    break;
  case MTS_RPT_UNPACK_UNKNOWN:
  default: {
    char mt[48] = "";

    if (hints != NULL && hints->media_type != NULL) {
      mts_findings_escape((const uint8_t *)hints->media_type,
                          strlen(hints->media_type), mt, sizeof(mt));
    }
    set_err(&j, MTS_EPARSE, "unpack-unknown-format",
            "%s%s%s is neither JSON nor gzip nor zip",
            len == 0 ? "empty input" : "the data", mt[0] != 0 ? " declared " : "",
            mt);
    st = MTS_EPARSE;
    break;
  }
  }
  if (res != NULL) {
    *res = j.res;
  }
  return st;
}
