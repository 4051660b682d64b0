/*
 * rpt_mime.c - TLS reports out of report mail and mbox files with GMime
 * 3; see mtasts/rpt_mime.h.
 *
 * GMime builds the MIME tree (g_malloc); this file walks it, decodes
 * the report parts into context-allocated buffers (base64 with its own
 * strict decoder, quoted-printable and uuencode with GMime's decoders),
 * and hands them to rpt_unpack. Metadata strings are copied into a
 * per-message arena.
 *
 * GMime builds the whole tree before anything can be counted, with
 * g_malloc, which aborts when memory runs out; so a message is first
 * scanned for the lines every MIME entity needs (structure_lines) and
 * refused above a loose bound, as rpt_unpack pre-scans a zip's central
 * directory. Header fields (GMime keeps ~500 bytes each) are counted as
 * GMime parses them (field_guard): past the bound, the stream under the
 * parser is made to end there, so GMime stops reading. The unpack budget (bytes, documents) is one per message:
 * each report part gets what the parts before it left.
 */
#include <mtasts/rpt_mime.h>

#include <gmime/gmime.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/arena_int.h"
#include "core/ascii_int.h"
#include "core/ctx_int.h"
#include "core/findings_int.h"
#include "core/strbuf_int.h"

/* Raw part bytes read per g_mime_stream_read(). */
#define READ_CHUNK (64u * 1024u)

/* ---- the one process-wide initialisation ---- */

static pthread_once_t gmime_once = PTHREAD_ONCE_INIT;

static void gmime_init_once(void) { g_mime_init(); }

static void gmime_ensure(void) { (void)pthread_once(&gmime_once, gmime_init_once); }

/* ---- walking state ---- */

/* Why the message's budget ran out. */
enum budget_why { BUDGET_OK = 0, BUDGET_BYTES, BUDGET_DOCS };

struct walker {
  struct mts_ctx *ctx;
  struct mts_rpt_unpack_limits limits; /* the caller's, defaults filled */
  mts_rpt_mime_cb cb;
  void *arg;
  struct mts_rpt_mime_result res;
  struct mts_rpt_unpack_error *err; /* the caller's, may be NULL */
  bool mbox;
  /* per message */
  struct mts_arena *arena;
  struct mts_rpt_mime_meta meta;
  size_t leaf_index;
  size_t msg_docs;
  size_t msg_errors;
  enum mts_status msg_status; /* first error of the message */
  enum mts_status stop;       /* a callback status other than OK */
  const struct mts_rpt_mime_part *cur_part;
  /* the message's unpack budget: limits.max_total bytes and
   * limits.max_members documents over all its report parts */
  uint64_t msg_used;          /* unpack's `used`, summed over the parts */
  size_t budget_parts;        /* report parts skipped or cut short */
  enum budget_why budget_why; /* what ran out first */
  bool docs_full;             /* on_doc refused a document: no budget */
};

/* Hand an error to the callback; remember it as the first error. */
static void report_error(struct walker *w, const struct mts_rpt_mime_part *part,
                         const struct mts_rpt_unpack_error *e) {
  struct mts_rpt_mime_item it;
  enum mts_status st;

  w->res.nerrors++;
  w->msg_errors++;
  if (w->msg_status == MTS_OK) {
    w->msg_status = e->status;
  }
  if (w->err != NULL && w->err->code == NULL) {
    *w->err = *e;
  }
  memset(&it, 0, sizeof(it));
  it.meta = &w->meta;
  it.part = part;
  it.error = e;
  st = w->cb(w->arg, &it);
  if (st != MTS_OK && w->stop == MTS_OK) {
    w->stop = st;
  }
}

static void mime_error(struct walker *w, const struct mts_rpt_mime_part *part,
                       enum mts_status st, const char *code, const char *fmt,
                       ...) MTS_PRINTF(5, 6);

static void mime_error(struct walker *w, const struct mts_rpt_mime_part *part,
                       enum mts_status st, const char *code, const char *fmt,
                       ...) {
  struct mts_rpt_unpack_error e;
  va_list ap;

  memset(&e, 0, sizeof(e));
  e.status = st;
  e.code = code;
  va_start(ap, fmt);
  (void)vsnprintf(e.message, sizeof(e.message), fmt, ap);
  va_end(ap);
  report_error(w, part, &e);
}

/* ---- strings ---- */

static bool is_ws(uint8_t c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* \return the length of the valid UTF-8 sequence at s (RFC 3629: no
 * overlongs, no surrogates, at most U+10FFFF), or 0. */
static size_t utf8_seq(const uint8_t *s, size_t len) {
  uint8_t c = s[0], lo = 0x80, hi = 0xBF;
  size_t n, i;

  if (c < 0x80) {
    return 1;
  }
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    lo = c == 0xE0 ? 0xA0 : 0x80;
    hi = c == 0xED ? 0x9F : 0xBF;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    lo = c == 0xF0 ? 0x90 : 0x80;
    hi = c == 0xF4 ? 0x8F : 0xBF;
  } else {
    return 0;
  }
  if (len < n || s[1] < lo || s[1] > hi) {
    return 0;
  }
  for (i = 2; i < n; i++) {
    if ((s[i] & 0xC0) != 0x80) {
      return 0;
    }
  }
  return n;
}

/* Copy \p s trimmed of ASCII white space into the arena, each byte
 * that is not UTF-8 replaced by U+FFFD (raw 8-bit header bytes, mbox
 * "From " lines); NULL stays NULL. \return false on allocation
 * failure. */
static char *dup_clean(struct walker *w, const char *s) {
  const uint8_t *p;
  size_t n, i, o = 0;
  char *d;

  while (is_ws((uint8_t)*s)) {
    s++;
  }
  n = strlen(s);
  while (n > 0 && is_ws((uint8_t)s[n - 1])) {
    n--;
  }
  d = mts_arena_alloc(w->arena, n * 3 + 1); /* each byte may become 3 */
  if (d == NULL) {
    return NULL;
  }
  p = (const uint8_t *)s;
  for (i = 0; i < n;) {
    size_t k = utf8_seq(p + i, n - i);

    if (k == 0) {
      memcpy(d + o, "\xEF\xBF\xBD", 3);
      o += 3;
      i++;
    } else {
      memcpy(d + o, p + i, k);
      o += k;
      i += k;
    }
  }
  d[o] = '\0';
  return d;
}

static bool dup_trim(struct walker *w, const char *s, const char **out) {
  *out = s != NULL ? dup_clean(w, s) : NULL;
  return s == NULL || *out != NULL;
}

static char *dup_lower(struct walker *w, const char *s) {
  char *d = dup_clean(w, s);
  size_t i;

  if (d != NULL) {
    for (i = 0; d[i] != '\0'; i++) {
      d[i] = (char)mts_lower((uint8_t)d[i]);
    }
  }
  return d;
}

static bool ends_with_ci(const char *s, const char *suffix) {
  size_t n, k;

  if (s == NULL) {
    return false;
  }
  n = strlen(s);
  k = strlen(suffix);
  return n >= k && mts_ascii_caseeq((const uint8_t *)s + n - k, k,
                                    (const uint8_t *)suffix, k);
}

/* The d= tag of a DKIM-Signature value (RFC 6376 3.2 tag-list), with
 * folding white space removed and, like every string of the metadata,
 * bytes that are not UTF-8 replaced (raw 8-bit header bytes reach the
 * store, the JSON summary and the page otherwise: found by fuzzing). */
static bool dkim_domain(struct walker *w, const char *v, const char **out) {
  const char *p = v;

  *out = NULL;
  while (p != NULL && *p != '\0') {
    const char *tag, *val, *end;
    size_t tn;

    while (is_ws((uint8_t)*p)) {
      p++;
    }
    tag = p;
    while (*p != '\0' && *p != '=' && *p != ';' && !is_ws((uint8_t)*p)) {
      p++;
    }
    tn = (size_t)(p - tag);
    while (is_ws((uint8_t)*p)) {
      p++;
    }
    if (*p != '=') {
      p = strchr(p, ';');
      p = p != NULL ? p + 1 : NULL;
      continue;
    }
    val = ++p;
    end = strchr(val, ';');
    if (end == NULL) {
      end = val + strlen(val);
    }
    if (tn == 1 && (tag[0] == 'd' || tag[0] == 'D')) {
      char *d = mts_arena_alloc(w->arena, (size_t)(end - val) + 1);
      size_t n = 0;

      if (d == NULL) {
        return false;
      }
      for (; val < end; val++) {
        if (!is_ws((uint8_t)*val)) {
          d[n++] = *val;
        }
      }
      d[n] = '\0';
      *out = dup_clean(w, d);
      return *out != NULL;
    }
    p = *end == ';' ? end + 1 : end;
  }
  return true;
}

/* ---- metadata ---- */

static bool collect_meta(struct walker *w, GMimeMessage *msg) {
  GMimeObject *obj = GMIME_OBJECT(msg);
  GMimeObject *body = g_mime_message_get_mime_part(msg);
  InternetAddressList *from = g_mime_message_get_from(msg);
  GDateTime *dt = g_mime_message_get_date(msg);
  const char *dkim = g_mime_object_get_header(obj, "DKIM-Signature");
  struct mts_rpt_mime_meta *m = &w->meta;

  if (!dup_trim(w, g_mime_message_get_message_id(msg), &m->message_id) ||
      !dup_trim(w, g_mime_object_get_header(obj, "From"), &m->from) ||
      !dup_trim(w, g_mime_object_get_header(obj, "Date"), &m->date) ||
      !dup_trim(w, g_mime_message_get_subject(msg), &m->subject) ||
      !dup_trim(w, g_mime_object_get_header(obj, "TLS-Report-Domain"),
                &m->tls_report_domain) ||
      !dup_trim(w, g_mime_object_get_header(obj, "TLS-Report-Submitter"),
                &m->tls_report_submitter)) {
    return false;
  }
  if (from != NULL && internet_address_list_length(from) > 0) {
    InternetAddress *ia = internet_address_list_get_address(from, 0);

    if (ia != NULL && INTERNET_ADDRESS_IS_MAILBOX(ia) &&
        !dup_trim(w,
                  internet_address_mailbox_get_addr(
                      INTERNET_ADDRESS_MAILBOX(ia)),
                  &m->from_addr)) {
      return false;
    }
  }
  if (dt != NULL) {
    m->has_date = true;
    m->date_unix = (int64_t)g_date_time_to_unix(dt);
  }
  m->dkim_signature = dkim != NULL;
  if (dkim != NULL && !dkim_domain(w, dkim, &m->dkim_domain)) {
    return false;
  }
  if (body != NULL) {
    GMimeContentType *ct = g_mime_object_get_content_type(body);
    const char *rt = ct != NULL
                         ? g_mime_content_type_get_parameter(ct, "report-type")
                         : NULL;

    m->report_type_tlsrpt =
        ct != NULL && g_mime_content_type_is_type(ct, "multipart", "report") &&
        rt != NULL &&
        mts_ascii_caseeq((const uint8_t *)rt, strlen(rt),
                         (const uint8_t *)"tlsrpt", 6);
  }
  return true;
}

/* ---- counting the tree ---- */

/*
 * Before GMime sees the bytes: count the lines that start with "--"
 * (every boundary line does: each entity inside a multipart needs one,
 * each multipart one more to close) and the lines that start with
 * "Content-Type" in any case (an attached message, message/rfc822, is
 * an entity without a boundary line; each level of such nesting needs
 * one). GMime splits lines at LF only, so do we.
 */
static void count_line(const uint8_t *line, size_t avail, size_t *dashes,
                       size_t *types) {
  if (avail >= 2 && line[0] == '-' && line[1] == '-') {
    (*dashes)++;
  } else if (avail >= 12 &&
             mts_ascii_caseeq(line, 12, (const uint8_t *)"content-type", 12)) {
    (*types)++;
  }
}

/* The counts over \p len bytes, each stopping at \p stop + 1. Linear,
 * no allocation. */
static void structure_lines(const uint8_t *d, size_t len, size_t stop,
                            size_t *dashes, size_t *types) {
  size_t i = 0;

  *dashes = 0;
  *types = 0;
  while (i < len && *dashes <= stop && *types <= stop) {
    const uint8_t *nl;

    count_line(d + i, len - i, dashes, types);
    nl = memchr(d + i, '\n', len - i);
    if (nl == NULL) {
      break;
    }
    i = (size_t)(nl - d) + 1;
  }
}

/* Refuse a message whose structure lines pass MTS_RPT_MIME_LINES_MAX:
 * it could not be within MTS_RPT_MIME_PARTS_MAX entities, and GMime
 * would build every one of them first. \return true when refused. */
static bool too_many_lines(struct walker *w, size_t dashes, size_t types) {
  if (dashes <= MTS_RPT_MIME_LINES_MAX && types <= MTS_RPT_MIME_LINES_MAX) {
    return false;
  }
  mime_error(w, NULL, MTS_ETOOBIG, "mime-too-many-parts",
             "more than %u lines start with \"%s\" (%s): more than %u "
             "MIME parts; not parsed",
             MTS_RPT_MIME_LINES_MAX,
             dashes > MTS_RPT_MIME_LINES_MAX ? "--" : "Content-Type",
             dashes > MTS_RPT_MIME_LINES_MAX ? "boundaries"
                                             : "attached messages",
             MTS_RPT_MIME_PARTS_MAX);
  return true;
}

/* One message of an mbox file, as GMime's mbox parser will read it. */
struct mbox_span {
  gint64 from;          /* its "From " line; -1: no message */
  gint64 end;           /* the next message's "From " line, or the end */
  size_t dashes, types; /* as structure_lines(), not stopped */
  char marker[160];     /* the start of its "From " line */
};

/*
 * The message GMime's mbox parser reads next when it stands at \p off:
 * it skips to a line starting "From " and ends the message before the
 * next such line (checked against GMime 3.2: no empty line needed
 * before it). Read with pread() in \p bufsz pieces, not mapped: the
 * file may shrink under us. Lines before the first "From " line are not
 * counted (GMime skips them). \return false on a read error.
 */
static bool mbox_scan(int fd, gint64 off, gint64 size, uint8_t *buf,
                      size_t bufsz, struct mbox_span *sp) {
  gint64 pos = off;
  bool at_start = true; /* pos + i is at a line start */

  sp->from = -1;
  sp->end = size;
  sp->dashes = 0;
  sp->types = 0;
  sp->marker[0] = '\0';
  while (pos < size) {
    size_t want = size - pos < (gint64)bufsz ? (size_t)(size - pos) : bufsz;
    ssize_t n = pread(fd, buf, want, (off_t)pos);
    size_t i = 0, got;

    if (n <= 0) {
      return n == 0; /* the file shrank: it ends here */
    }
    got = (size_t)n;
    while (i < got) {
      const uint8_t *nl;

      if (at_start) {
        size_t avail = got - i;

        /* a line start is judged on its first 12 bytes: when fewer are
         * in the buffer, read again from the line start */
        if (avail < 12 && i > 0 && pos + (gint64)got < size) {
          break;
        }
        if (avail >= 5 && memcmp(buf + i, "From ", 5) == 0) {
          const uint8_t *eol;
          size_t k;

          if (sp->from >= 0) {
            sp->end = pos + (gint64)i;
            return true;
          }
          sp->from = pos + (gint64)i;
          eol = memchr(buf + i, '\n', avail);
          k = eol != NULL ? (size_t)(eol - (buf + i)) : avail;
          if (k >= sizeof(sp->marker)) {
            k = sizeof(sp->marker) - 1;
          }
          memcpy(sp->marker, buf + i, k);
          sp->marker[k] = '\0';
        } else if (sp->from >= 0) {
          count_line(buf + i, avail, &sp->dashes, &sp->types);
        }
      }
      nl = memchr(buf + i, '\n', got - i);
      if (nl == NULL) {
        i = got;
        at_start = false;
        break;
      }
      i = (size_t)(nl - buf) + 1;
      at_start = true;
    }
    pos += (gint64)i;
  }
  return true;
}

/*
 * Header fields, counted by GMime itself: a header callback for every
 * name (the regex "" matches all) counts them, wherever GMime finds them
 * (the message's, each part's, attached messages'; GMime also takes
 * names with blanks before the colon, and goes on after a line it
 * ignores, so a count of our own could be fooled). Past
 * MTS_RPT_MIME_FIELDS_MAX the stream's end bound is set where the parser
 * has read to: GMime sees the end of the input, finishes with what is
 * in its buffer (a few hundred fields at most) and returns; the message
 * is then refused. A 4 MB mail of a million "X:y" lines took 509 MB in
 * `mtasts report ingest` before; GLib aborts when memory runs out.
 */
struct field_guard {
  GMimeStream *stream; /* borrowed: the parser holds it */
  size_t count;
  bool cut;
};

static void on_field(GMimeParser *parser, const char *name, const char *value,
                     gint64 offset, gpointer data) {
  struct field_guard *g = data;

  (void)parser;
  (void)name;
  (void)value;
  (void)offset;
  if (++g->count > MTS_RPT_MIME_FIELDS_MAX && !g->cut) {
    g->cut = true;
    g_mime_stream_set_bounds(g->stream, g->stream->bound_start,
                             g_mime_stream_tell(g->stream));
  }
}

/* A parser over \p stream (the parser takes its own reference) that
 * counts fields into \p g. */
static GMimeParser *guarded_parser(GMimeStream *stream,
                                   struct field_guard *g) {
  GMimeParser *parser = g_mime_parser_new_with_stream(stream);

  g->stream = stream;
  g->count = 0;
  g->cut = false;
  g_mime_parser_set_header_regex(parser, "", on_field, g);
  return parser;
}

static void too_many_fields(struct walker *w) {
  mime_error(w, NULL, MTS_ETOOBIG, "mime-too-many-fields",
             "more than %u header fields; not parsed",
             MTS_RPT_MIME_FIELDS_MAX);
}

/* Count entities up to limit + 1 and the deepest level. */
static void count_tree(GMimeObject *obj, unsigned depth, size_t *n,
                       unsigned *maxdepth) {
  if (obj == NULL || *n > MTS_RPT_MIME_PARTS_MAX ||
      *maxdepth > MTS_RPT_MIME_DEPTH_MAX) {
    return;
  }
  (*n)++;
  if (depth > *maxdepth) {
    *maxdepth = depth;
  }
  if (GMIME_IS_MULTIPART(obj)) {
    GMimeMultipart *mp = GMIME_MULTIPART(obj);
    int i, c = g_mime_multipart_get_count(mp);

    for (i = 0; i < c; i++) {
      count_tree(g_mime_multipart_get_part(mp, i), depth + 1, n, maxdepth);
    }
  } else if (GMIME_IS_MESSAGE_PART(obj)) {
    GMimeMessage *m = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));

    if (m != NULL) {
      count_tree(g_mime_message_get_mime_part(m), depth + 1, n, maxdepth);
    }
  }
}

/* ---- decoding ---- */

static int b64_val(uint8_t c) {
  if (c >= 'A' && c <= 'Z') {
    return c - 'A';
  }
  if (c >= 'a' && c <= 'z') {
    return c - 'a' + 26;
  }
  if (c >= '0' && c <= '9') {
    return c - '0' + 52;
  }
  if (c == '+') {
    return 62;
  }
  if (c == '/') {
    return 63;
  }
  return -1;
}

/*
 * Strict base64 (RFC 2045 6.8) in place: white space is skipped; any
 * other byte outside the alphabet, data after the padding, or a lone
 * final character is an error. Missing padding is tolerated.
 * \return NULL, or a static reason with *at the offending offset.
 */
static const char *b64_decode(struct mts_strbuf *b, size_t *at) {
  uint8_t *p = (uint8_t *)b->p;
  uint32_t acc = 0;
  size_t i, o = 0;
  unsigned q = 0, pad = 0;

  for (i = 0; i < b->len; i++) {
    uint8_t c = p[i];
    int v;

    if (is_ws(c)) {
      continue;
    }
    if (c == '=') {
      if (q < 2 || q + pad >= 4) {
        *at = i;
        return "misplaced '='";
      }
      pad++;
      continue;
    }
    v = b64_val(c);
    if (v < 0) {
      *at = i;
      return "a byte outside the base64 alphabet";
    }
    if (pad > 0) {
      *at = i;
      return "data after the '=' padding";
    }
    acc = (acc << 6) | (uint32_t)v;
    if (++q == 4) {
      p[o++] = (uint8_t)(acc >> 16);
      p[o++] = (uint8_t)(acc >> 8);
      p[o++] = (uint8_t)acc;
      q = 0;
      acc = 0;
    }
  }
  if (q == 1) {
    *at = b->len;
    return "a lone final character (truncated)";
  }
  if (q == 2) {
    p[o++] = (uint8_t)(acc >> 4);
  } else if (q == 3) {
    p[o++] = (uint8_t)(acc >> 10);
    p[o++] = (uint8_t)(acc >> 2);
  }
  mts_strbuf_truncate(b, o);
  return NULL;
}

/* mboxrd (and mboxo for single '>'): a line ">From " or ">>From " loses
 * one '>'. In place. */
static void mbox_unquote(struct mts_strbuf *b) {
  char *p = b->p;
  size_t i = 0, o = 0;

  while (i < b->len) {
    size_t j = i;

    /* at a line start */
    while (j < b->len && p[j] == '>') {
      j++;
    }
    if (j > i && b->len - j >= 5 && memcmp(p + j, "From ", 5) == 0) {
      i++; /* drop one '>' */
    }
    while (i < b->len) {
      char c = p[i++];

      p[o++] = c;
      if (c == '\n') {
        break;
      }
    }
  }
  mts_strbuf_truncate(b, o);
}

/* Read the part's raw (encoded) content. \return MTS_OK, MTS_ENOMEM,
 * MTS_ETOOBIG or MTS_EIO. */
static enum mts_status read_raw(GMimeStream *s, struct mts_strbuf *b) {
  gint64 len = g_mime_stream_length(s);

  if (len > (gint64)MTS_RPT_MIME_MESSAGE_MAX) {
    return MTS_ETOOBIG;
  }
  if (g_mime_stream_reset(s) != 0) {
    return MTS_EIO;
  }
  for (;;) {
    ssize_t n;

    if (b->cap - b->len < READ_CHUNK) {
      if (b->len > MTS_RPT_MIME_MESSAGE_MAX) {
        return MTS_ETOOBIG;
      }
      if (!mts_strbuf_reserve(b, READ_CHUNK)) {
        return MTS_ENOMEM;
      }
    }
    /* a bounded GMimeStreamFs returns -1 at its end: ask eos first */
    if (g_mime_stream_eos(s)) {
      break;
    }
    n = g_mime_stream_read(s, b->p + b->len, READ_CHUNK);
    if (n < 0) {
      if (g_mime_stream_eos(s)) {
        break;
      }
      return MTS_EIO;
    }
    if (n == 0) {
      break;
    }
    mts_strbuf_added(b, (size_t)n);
  }
  return b->len > MTS_RPT_MIME_MESSAGE_MAX ? MTS_ETOOBIG : MTS_OK;
}

/* Decode quoted-printable or uuencode with GMime into a new buffer. */
static enum mts_status gmime_decode(struct walker *w, GMimeContentEncoding enc,
                                    struct mts_strbuf *b) {
  GMimeEncoding st;
  struct mts_strbuf out;
  size_t outlen;

  g_mime_encoding_init_decode(&st, enc);
  outlen = g_mime_encoding_outlen(&st, b->len);
  mts_strbuf_init(&out, w->ctx, outlen, MTS_STRBUF_NOMAX);
  if (!mts_strbuf_reserve(&out, outlen)) {
    return mts_strbuf_status(&out);
  }
  mts_strbuf_added(&out,
                   g_mime_encoding_flush(&st, b->p, b->len, out.p + out.len));
  mts_strbuf_cleanup(b);
  *b = out;
  return MTS_OK;
}

/* ---- report parts ---- */

static const char *const report_types[] = {
    "application/tlsrpt+gzip", "application/tlsrpt+json",
    "application/tlsrpt+zip",  "application/gzip",
    "application/x-gzip",      "application/zip",
    "application/x-zip-compressed", "application/json",
};

static bool report_type(const char *ct) {
  size_t i;

  for (i = 0; i < sizeof(report_types) / sizeof(report_types[0]); i++) {
    if (strcmp(ct, report_types[i]) == 0) {
      return true;
    }
  }
  return false;
}

static bool report_name(const char *fn) {
  return ends_with_ci(fn, ".json") || ends_with_ci(fn, ".gz") ||
         ends_with_ci(fn, ".zip");
}

static enum mts_status on_doc(void *arg, const struct mts_rpt_unpack_doc *doc) {
  struct walker *w = arg;
  struct mts_rpt_mime_item it;
  enum mts_status st;

  if (w->msg_docs >= w->limits.max_members) {
    w->docs_full = true; /* unpack_part() tells it from a caller's stop */
    return MTS_ETOOBIG;
  }
  memset(&it, 0, sizeof(it));
  it.meta = &w->meta;
  it.part = w->cur_part;
  it.doc = doc;
  w->res.ndocs++;
  w->msg_docs++;
  st = w->cb(w->arg, &it);
  if (st != MTS_OK) {
    w->stop = st;
  }
  return st;
}

/* The part's unpacking was stopped by the message's budget, not by a
 * fault of its own: the budget given (\p left bytes) was smaller than
 * the caller's limit that was hit. */
static bool budget_stop(const struct walker *w, enum mts_status st,
                        const struct mts_rpt_unpack_error *e, size_t left) {
  size_t max_doc = w->limits.max_doc < w->limits.max_total
                       ? w->limits.max_doc
                       : w->limits.max_total;

  if (w->docs_full) {
    return true;
  }
  if (st != MTS_ETOOBIG || e->code == NULL) {
    return false;
  }
  return (strcmp(e->code, "unpack-total-too-big") == 0 &&
          left < w->limits.max_total) ||
         (strcmp(e->code, "unpack-too-big") == 0 && left < max_doc);
}

/* Unpack one report part with what is left of the message's budget.
 * Parts past the budget are counted, reported once by do_message(). */
static enum mts_status unpack_part(struct walker *w,
                                   const struct mts_rpt_mime_part *part,
                                   const struct mts_strbuf *b) {
  struct mts_rpt_unpack_hints hints;
  struct mts_rpt_unpack_limits lim = w->limits;
  struct mts_rpt_unpack_result ures;
  struct mts_rpt_unpack_error uerr;
  size_t left = w->msg_used < (uint64_t)w->limits.max_total
                    ? w->limits.max_total - (size_t)w->msg_used
                    : 0;
  enum mts_status st;

  if (left == 0 || w->msg_docs >= w->limits.max_members) {
    if (w->budget_why == BUDGET_OK) {
      w->budget_why = left == 0 ? BUDGET_BYTES : BUDGET_DOCS;
    }
    w->budget_parts++;
    return MTS_OK;
  }
  lim.max_total = left; /* never 0 here: 0 would mean the default */
  hints.filename = part->filename;
  hints.media_type = part->content_type;
  w->cur_part = part;
  w->docs_full = false;
  st = mts_rpt_unpack_mem(w->ctx, (const uint8_t *)(b->len > 0 ? b->p : ""),
                          b->len, &hints, &lim, on_doc, w, &ures, &uerr);
  w->cur_part = NULL;
  w->msg_used += ures.used;
  if (w->stop != MTS_OK) {
    return w->stop;
  }
  if (st == MTS_ENOMEM) {
    return st; /* surfaces as the call's status */
  }
  if (st != MTS_OK && budget_stop(w, st, &uerr, left)) {
    if (w->budget_why == BUDGET_OK) {
      w->budget_why = w->docs_full ? BUDGET_DOCS : BUDGET_BYTES;
    }
    w->budget_parts++;
    return MTS_OK;
  }
  if (st != MTS_OK) {
    report_error(w, part, &uerr);
  }
  return w->stop;
}

static enum mts_status leaf(struct walker *w, GMimePart *gp, unsigned depth) {
  GMimeObject *obj = GMIME_OBJECT(gp);
  GMimeContentType *ct = g_mime_object_get_content_type(obj);
  GMimeDataWrapper *dw = g_mime_part_get_content(gp);
  struct mts_rpt_mime_part part;
  struct mts_strbuf b;
  GMimeContentEncoding enc;
  const char *es;
  char *ctbuf;
  bool by_type, text;
  enum mts_status st = MTS_OK;

  memset(&part, 0, sizeof(part));
  mts_strbuf_init(&b, w->ctx, READ_CHUNK, MTS_STRBUF_NOMAX);
  part.index = w->leaf_index++;
  part.depth = depth;
  ctbuf = mts_arena_printf(
      w->arena, "%s/%s",
      ct != NULL && g_mime_content_type_get_media_type(ct) != NULL
          ? g_mime_content_type_get_media_type(ct)
          : "text",
      ct != NULL && g_mime_content_type_get_media_subtype(ct) != NULL
          ? g_mime_content_type_get_media_subtype(ct)
          : "plain");
  part.content_type = ctbuf != NULL ? dup_lower(w, ctbuf) : NULL;
  if (part.content_type == NULL ||
      !dup_trim(w, g_mime_part_get_filename(gp), &part.filename)) {
    return MTS_ENOMEM;
  }
  by_type = report_type(part.content_type) || report_name(part.filename);
  text = strcmp(part.content_type, "text/plain") == 0;
  if (!by_type && !text) {
    return MTS_OK;
  }
  if (by_type) {
    w->res.nparts++;
  }
  enc = dw != NULL ? g_mime_data_wrapper_get_encoding(dw)
                   : GMIME_CONTENT_ENCODING_DEFAULT;
  es = g_mime_content_encoding_to_string(enc);
  part.encoding = es != NULL ? es : "7bit";
  if (dw != NULL && g_mime_data_wrapper_get_stream(dw) != NULL) {
    st = read_raw(g_mime_data_wrapper_get_stream(dw), &b);
  }
  if (st == MTS_ETOOBIG) {
    if (by_type) {
      mime_error(w, &part, MTS_ETOOBIG, "mime-too-big",
                 "part %zu is larger than %u bytes", part.index,
                 MTS_RPT_MIME_MESSAGE_MAX);
    }
    st = MTS_OK;
    goto out;
  }
  if (st == MTS_EIO) {
    mime_error(w, &part, MTS_EIO, "mime-io", "part %zu cannot be read",
               part.index);
    st = MTS_OK;
    goto out;
  }
  if (st != MTS_OK) {
    goto out;
  }
  if (w->mbox) {
    mbox_unquote(&b);
  }
  if (enc == GMIME_CONTENT_ENCODING_BASE64) {
    size_t at = 0;
    const char *why = b64_decode(&b, &at);

    if (why != NULL) {
      if (by_type) {
        mime_error(w, &part, MTS_EPARSE, "mime-base64-invalid",
                   "part %zu: invalid base64: %s at offset %zu", part.index,
                   why, at);
      }
      goto out;
    }
  } else if (enc == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE ||
             enc == GMIME_CONTENT_ENCODING_UUENCODE) {
    st = gmime_decode(w, enc, &b);
    if (st != MTS_OK) {
      goto out;
    }
  }
  if (!by_type) {
    if (!mts_rpt_unpack_looks_json((const uint8_t *)b.p, b.len)) {
      goto out; /* a text part that is not a report */
    }
    w->res.nparts++;
  }
  st = unpack_part(w, &part, &b);
out:
  mts_strbuf_cleanup(&b);
  return st != MTS_OK ? st : w->stop;
}

static enum mts_status walk(struct walker *w, GMimeObject *obj,
                            unsigned depth) {
  enum mts_status st = MTS_OK;

  if (obj == NULL || depth > MTS_RPT_MIME_DEPTH_MAX) {
    return MTS_OK;
  }
  if (GMIME_IS_MULTIPART(obj)) {
    GMimeMultipart *mp = GMIME_MULTIPART(obj);
    int i, c = g_mime_multipart_get_count(mp);

    for (i = 0; i < c && st == MTS_OK; i++) {
      st = walk(w, g_mime_multipart_get_part(mp, i), depth + 1);
    }
  } else if (GMIME_IS_MESSAGE_PART(obj)) {
    GMimeMessage *m = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));

    if (m != NULL) {
      st = walk(w, g_mime_message_get_mime_part(m), depth + 1);
    }
  } else if (GMIME_IS_PART(obj)) {
    st = leaf(w, GMIME_PART(obj), depth);
  }
  return st;
}

/* Start a message: a fresh arena and metadata. */
static enum mts_status msg_begin(struct walker *w, size_t index,
                                 const char *marker) {
  w->arena = mts_arena_create(w->ctx);
  if (w->arena == NULL) {
    return MTS_ENOMEM;
  }
  memset(&w->meta, 0, sizeof(w->meta));
  w->meta.mbox_index = index;
  w->leaf_index = 0;
  w->msg_docs = 0;
  w->msg_errors = 0;
  w->msg_status = MTS_OK;
  w->msg_used = 0;
  w->budget_parts = 0;
  w->budget_why = BUDGET_OK;
  w->res.nmessages++;
  if (marker != NULL && !dup_trim(w, marker, &w->meta.mbox_marker)) {
    return MTS_ENOMEM;
  }
  return MTS_OK;
}

static void msg_end(struct walker *w) {
  mts_arena_destroy(w->arena);
  w->arena = NULL;
}

/* Walk one parsed message. \return MTS_OK, MTS_ENOMEM or a callback
 * stop; the message's own verdict is in w->msg_status. */
static enum mts_status do_message(struct walker *w, GMimeMessage *msg) {
  GMimeObject *body = g_mime_message_get_mime_part(msg);
  size_t n = 0;
  unsigned maxdepth = 0;
  enum mts_status st;

  if (!collect_meta(w, msg)) {
    return MTS_ENOMEM;
  }
  count_tree(body, 0, &n, &maxdepth);
  if (n > MTS_RPT_MIME_PARTS_MAX) {
    mime_error(w, NULL, MTS_ETOOBIG, "mime-too-many-parts",
               "more than %u MIME parts", MTS_RPT_MIME_PARTS_MAX);
    return w->stop;
  }
  if (maxdepth > MTS_RPT_MIME_DEPTH_MAX) {
    mime_error(w, NULL, MTS_ETOOBIG, "mime-too-deep",
               "MIME parts nested deeper than %u levels",
               MTS_RPT_MIME_DEPTH_MAX);
    return w->stop;
  }
  st = walk(w, body, 0);
  if (st != MTS_OK) {
    return st;
  }
  if (w->budget_parts > 0 && w->budget_why == BUDGET_DOCS) {
    mime_error(w, NULL, MTS_ETOOBIG, "mime-total-too-big",
               "%zu report part%s skipped or cut short: the message's "
               "reports hold more than %u documents in all",
               w->budget_parts, w->budget_parts == 1 ? "" : "s",
               w->limits.max_members);
  } else if (w->budget_parts > 0) {
    mime_error(w, NULL, MTS_ETOOBIG, "mime-total-too-big",
               "%zu report part%s skipped or cut short: the message's "
               "reports decompress to more than %zu bytes in all",
               w->budget_parts, w->budget_parts == 1 ? "" : "s",
               w->limits.max_total);
  }
  if (w->stop != MTS_OK) {
    return w->stop;
  }
  if (w->msg_docs == 0 && w->msg_errors == 0) {
    mime_error(w, NULL, MTS_ENOTFOUND, "mime-no-report",
               "no report part in the message");
  }
  return w->stop;
}

static bool walker_init(struct walker *w, struct mts_ctx *ctx,
                        const struct mts_rpt_unpack_limits *limits,
                        mts_rpt_mime_cb cb, void *arg,
                        struct mts_rpt_mime_result *res,
                        struct mts_rpt_unpack_error *err) {
  if (err != NULL) {
    memset(err, 0, sizeof(*err));
  }
  if (res != NULL) {
    memset(res, 0, sizeof(*res));
  }
  memset(w, 0, sizeof(*w));
  w->ctx = ctx;
  if (limits != NULL) {
    w->limits = *limits;
  }
  if (w->limits.max_doc == 0) {
    w->limits.max_doc = MTS_RPT_REPORT_MAX;
  }
  if (w->limits.max_total == 0) {
    w->limits.max_total = MTS_RPT_UNPACK_TOTAL_MAX;
  }
  if (w->limits.max_members == 0) {
    w->limits.max_members = MTS_RPT_UNPACK_MEMBERS_MAX;
  }
  w->cb = cb;
  w->arg = arg;
  w->err = err;
  return ctx != NULL && cb != NULL;
}

static void set_err(struct mts_rpt_unpack_error *err, enum mts_status st,
                    const char *code, const char *msg) {
  if (err != NULL && err->code == NULL) {
    err->status = st;
    err->code = code;
    (void)snprintf(err->message, sizeof(err->message), "%s", msg);
  }
}

enum mts_status mts_rpt_mime_parse(struct mts_ctx *ctx, const uint8_t *msg,
                                   size_t len,
                                   const struct mts_rpt_unpack_limits *limits,
                                   mts_rpt_mime_cb cb, void *arg,
                                   struct mts_rpt_mime_result *res,
                                   struct mts_rpt_unpack_error *err) {
  struct walker w;
  struct field_guard guard;
  GMimeStream *stream;
  GMimeParser *parser;
  GMimeMessage *m;
  enum mts_status st;

  if (!walker_init(&w, ctx, limits, cb, arg, res, err) ||
      (msg == NULL && len > 0)) {
    set_err(err, MTS_EINVAL, "mime-invalid", "invalid argument");
    return MTS_EINVAL;
  }
  st = msg_begin(&w, 0, NULL);
  if (st != MTS_OK) {
    goto done;
  }
  if (len > MTS_RPT_MIME_MESSAGE_MAX) {
    mime_error(&w, NULL, MTS_ETOOBIG, "mime-too-big",
               "the message is larger than %u bytes",
               MTS_RPT_MIME_MESSAGE_MAX);
    st = w.stop;
    goto done;
  }
  {
    size_t dashes, types;

    structure_lines(msg, len, MTS_RPT_MIME_LINES_MAX, &dashes, &types);
    if (too_many_lines(&w, dashes, types)) {
      st = w.stop;
      goto done;
    }
  }
  gmime_ensure();
  stream = g_mime_stream_mem_new_with_buffer(len > 0 ? (const char *)msg : "",
                                             len);
  parser = guarded_parser(stream, &guard);
  g_object_unref(stream);
  g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
  m = g_mime_parser_construct_message(parser, NULL);
  g_object_unref(parser);
  if (guard.cut) {
    if (m != NULL) {
      g_object_unref(m);
    }
    too_many_fields(&w);
    st = w.stop;
    goto done;
  }
  if (m == NULL) {
    mime_error(&w, NULL, MTS_EPARSE, "mime-parse",
               "GMime could not parse the message");
    st = w.stop;
    goto done;
  }
  st = do_message(&w, m);
  g_object_unref(m);
done:
  msg_end(&w);
  if (res != NULL) {
    *res = w.res;
  }
  if (st == MTS_ENOMEM) {
    set_err(err, MTS_ENOMEM, "mime-nomem", "out of memory");
    return MTS_ENOMEM;
  }
  if (st != MTS_OK) {
    return st; /* the callback stopped */
  }
  return w.msg_status;
}

/* A GMime mbox parser over bytes [\p start, \p end) of \p fd (through
 * a dup(), which the stream owns), counting fields into \p g; NULL when
 * the dup fails. */
static GMimeParser *mbox_parser(int fd, gint64 start, gint64 end,
                                struct field_guard *g) {
  GMimeStream *stream;
  GMimeParser *parser;
  int fd2 = dup(fd);

  if (fd2 < 0) {
    return NULL;
  }
  stream = g_mime_stream_fs_new_with_bounds(fd2, start, end);
  parser = guarded_parser(stream, g);
  g_object_unref(stream);
  g_mime_parser_set_format(parser, GMIME_FORMAT_MBOX);
  return parser;
}

/* Go on at \p from with a new parser (GMime cannot skip a message).
 * \return false, with *st and \p err set, when it cannot be made
 * (*parser is then NULL). */
static bool mbox_next(GMimeParser **parser, int fd, gint64 from, gint64 size,
                      struct field_guard *g, enum mts_status *st,
                      struct mts_rpt_unpack_error *err) {
  g_object_unref(*parser);
  *parser = mbox_parser(fd, from, size, g);
  if (*parser == NULL) {
    *st = MTS_EIO;
    set_err(err, MTS_EIO, "mime-io", "cannot duplicate the file descriptor");
    return false;
  }
  return true;
}

/* Refuse the next message of an mbox from its span, before GMime builds
 * it: too big, or too many structure lines. \return true when refused
 * (the error went to the callback; *st is a stop or ENOMEM). */
static bool mbox_refuse(struct walker *w, const struct mbox_span *sp,
                        enum mts_status *st) {
  bool big = sp->end - sp->from > (gint64)MTS_RPT_MIME_MESSAGE_MAX;

  if (sp->from < 0 || (!big && sp->dashes <= MTS_RPT_MIME_LINES_MAX &&
                       sp->types <= MTS_RPT_MIME_LINES_MAX)) {
    return false;
  }
  *st = msg_begin(w, w->res.nmessages, sp->marker);
  if (*st == MTS_OK) {
    if (big) {
      mime_error(w, NULL, MTS_ETOOBIG, "mime-too-big",
                 "message %zu is larger than %u bytes", w->meta.mbox_index,
                 MTS_RPT_MIME_MESSAGE_MAX);
    } else {
      (void)too_many_lines(w, sp->dashes, sp->types);
    }
    *st = w->stop;
  }
  msg_end(w);
  return true;
}

enum mts_status mts_rpt_mime_mbox_each(struct mts_ctx *ctx, int fd,
                                       const struct mts_rpt_unpack_limits *limits,
                                       mts_rpt_mime_cb cb, void *arg,
                                       struct mts_rpt_mime_result *res,
                                       struct mts_rpt_unpack_error *err) {
  struct walker w;
  struct field_guard guard;
  struct stat sb;
  GMimeParser *parser;
  enum mts_status st = MTS_OK;
  uint8_t *buf;
  gint64 size;

  if (!walker_init(&w, ctx, limits, cb, arg, res, err) || fd < 0 ||
      fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    set_err(err, MTS_EINVAL, "mime-invalid",
            "invalid argument (the mbox must be a regular file)");
    return MTS_EINVAL;
  }
  w.mbox = true;
  size = (gint64)sb.st_size; /* the file as it is now; appends wait */
  buf = mts_malloc(ctx, READ_CHUNK);
  if (buf == NULL) {
    set_err(err, MTS_ENOMEM, "mime-nomem", "out of memory");
    return MTS_ENOMEM;
  }
  gmime_ensure();
  parser = mbox_parser(fd, 0, size, &guard);
  if (parser == NULL) {
    mts_free(ctx, buf);
    set_err(err, MTS_EIO, "mime-io", "cannot duplicate the file descriptor");
    return MTS_EIO;
  }
  while (!g_mime_parser_eos(parser)) {
    GMimeMessage *m;
    struct mbox_span sp;
    char *marker;
    gint64 start, end;

    /* GMime builds a whole message before it can be counted, and cannot
     * skip one: a message refused here is passed by a new parser */
    if (!mbox_scan(fd, g_mime_parser_tell(parser), size, buf, READ_CHUNK,
                   &sp)) {
      st = MTS_EIO;
      set_err(err, MTS_EIO, "mime-io", "the mbox cannot be read");
      break;
    }
    if (mbox_refuse(&w, &sp, &st)) {
      if (st != MTS_OK || !mbox_next(&parser, fd, sp.end, size, &guard,
                                     &st, err)) {
        break;
      }
      continue;
    }
    guard.count = 0;
    m = g_mime_parser_construct_message(parser, NULL);
    if (guard.cut) {
      /* the stream ends at the cut: refuse the message, go on after it
       * with a new parser, as mbox_refuse() does */
      if (m != NULL) {
        g_object_unref(m);
      }
      st = msg_begin(&w, w.res.nmessages, sp.marker);
      if (st == MTS_OK) {
        too_many_fields(&w);
        st = w.stop;
      }
      msg_end(&w);
      if (st != MTS_OK || !mbox_next(&parser, fd, sp.end, size, &guard,
                                     &st, err)) {
        break;
      }
      continue;
    }
    if (m == NULL) {
      break;
    }
    marker = g_mime_parser_get_mbox_marker(parser);
    start = g_mime_parser_get_mbox_marker_offset(parser);
    end = g_mime_parser_tell(parser);
    st = msg_begin(&w, w.res.nmessages, marker);
    g_free(marker);
    if (st == MTS_OK) {
      if (start >= 0 && end - start > (gint64)MTS_RPT_MIME_MESSAGE_MAX) {
        mime_error(&w, NULL, MTS_ETOOBIG, "mime-too-big",
                   "message %zu is larger than %u bytes", w.meta.mbox_index,
                   MTS_RPT_MIME_MESSAGE_MAX);
        st = w.stop;
      } else {
        st = do_message(&w, m);
      }
    }
    msg_end(&w);
    g_object_unref(m);
    if (st != MTS_OK) {
      break;
    }
  }
  if (parser != NULL) {
    g_object_unref(parser);
  }
  mts_free(ctx, buf);
  if (res != NULL) {
    *res = w.res;
  }
  if (st == MTS_ENOMEM) {
    set_err(err, MTS_ENOMEM, "mime-nomem", "out of memory");
    return MTS_ENOMEM;
  }
  if (st != MTS_OK) {
    return st;
  }
  if (w.res.nmessages == 0) {
    set_err(err, MTS_EPARSE, "mime-not-mbox",
            "no message (an mbox starts with a \"From \" line)");
    return MTS_EPARSE;
  }
  return MTS_OK;
}
