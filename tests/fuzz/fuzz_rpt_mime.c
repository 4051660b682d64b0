/*
 * fuzz_rpt_mime.c - mts_rpt_mime_parse() over arbitrary bytes as one
 * mail message, and, when the input starts with "From ", also
 * mts_rpt_mime_mbox_each() over it as an mbox file.
 *
 * Unpack limits are lowered (1 MiB per document) so bombs stop fast.
 * Invariants (abort() when broken):
 * - OK exactly when documents were found and no error was handed out;
 *   every error code starts with "mime-" or "unpack-" and agrees with
 *   the status; ENOMEM/EINTERNAL never happen with the libc allocator;
 * - each item is a document or an error, never both; documents have a
 *   part, a lower-case "type/subtype" and look like JSON; the counters
 *   match what the callback saw; every metadata string and file name is
 *   valid UTF-8 (GMime decodes RFC 2047 / RFC 2231 and converts raw
 *   8-bit header bytes).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mtasts/rpt_mime.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
  size_t docs, errors;
  size_t sum; /* of string lengths: forces every byte to be read */
};

/* Abort unless \p s is valid UTF-8 (RFC 3629). */
static void check_utf8(const char *s) {
  const uint8_t *p = (const uint8_t *)s;

  while (*p != 0) {
    size_t n, i;
    uint32_t cp;

    if (*p < 0x80) {
      p++;
      continue;
    }
    if (*p >= 0xC2 && *p <= 0xDF) {
      n = 2;
      cp = *p & 0x1Fu;
    } else if (*p >= 0xE0 && *p <= 0xEF) {
      n = 3;
      cp = *p & 0x0Fu;
    } else if (*p >= 0xF0 && *p <= 0xF4) {
      n = 4;
      cp = *p & 0x07u;
    } else {
      abort();
    }
    for (i = 1; i < n; i++) {
      if ((p[i] & 0xC0) != 0x80) {
        abort();
      }
      cp = (cp << 6) | (p[i] & 0x3Fu);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
      abort();
    }
    p += n;
  }
}

static void str(struct seen *s, const char *p) {
  if (p != NULL) {
    s->sum += strlen(p);
    check_utf8(p);
  }
}

static enum mts_status on_item(void *arg, const struct mts_rpt_mime_item *it) {
  struct seen *s = arg;
  const struct mts_rpt_mime_meta *m = it->meta;

  if (m == NULL || (it->doc == NULL) == (it->error == NULL)) {
    abort();
  }
  str(s, m->message_id);
  str(s, m->from);
  str(s, m->from_addr);
  str(s, m->date);
  str(s, m->subject);
  str(s, m->tls_report_domain);
  str(s, m->tls_report_submitter);
  str(s, m->dkim_domain);
  str(s, m->mbox_marker);
  if (it->part != NULL) {
    const char *c;

    if (it->part->content_type == NULL || it->part->encoding == NULL ||
        strchr(it->part->content_type, '/') == NULL) {
      abort();
    }
    for (c = it->part->content_type; *c != '\0'; c++) {
      if (*c >= 'A' && *c <= 'Z') {
        abort();
      }
    }
    str(s, it->part->filename);
  }
  if (it->doc != NULL) {
    if (it->part == NULL ||
        !mts_rpt_unpack_looks_json(it->doc->data, it->doc->len)) {
      abort();
    }
    s->docs++;
  } else {
    const char *c = it->error->code;

    if (c == NULL || (strncmp(c, "mime-", 5) != 0 &&
                      strncmp(c, "unpack-", 7) != 0) ||
        it->error->message[0] == '\0') {
      abort();
    }
    s->errors++;
  }
  return MTS_OK;
}

static void check(enum mts_status st, const struct seen *s,
                  const struct mts_rpt_mime_result *res,
                  const struct mts_rpt_unpack_error *err, bool mbox) {
  if (st == MTS_ENOMEM || st == MTS_EINTERNAL || res->ndocs != s->docs ||
      res->nerrors != s->errors) {
    abort();
  }
  if (!mbox && ((st == MTS_OK) != (s->docs > 0 && s->errors == 0) ||
                (st == MTS_OK) != (err->code == NULL))) {
    abort();
  }
  if (err->code != NULL && (strncmp(err->code, "mime-", 5) != 0 &&
                            strncmp(err->code, "unpack-", 7) != 0)) {
    abort();
  }
  if (s->errors > 0 && err->code == NULL) {
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct mts_ctx *ctx = NULL;
  struct mts_rpt_unpack_limits lim = {1024u * 1024u, 4u * 1024u * 1024u, 0,
                                      0};
  struct mts_rpt_mime_result res;
  struct mts_rpt_unpack_error err;
  struct seen s;
  enum mts_status st;

  if (size > 1024u * 1024u) {
    return 0;
  }
  if (mts_ctx_create(NULL, &ctx) != MTS_OK) {
    abort();
  }
  memset(&s, 0, sizeof(s));
  st = mts_rpt_mime_parse(ctx, data, size, &lim, on_item, &s, &res, &err);
  check(st, &s, &res, &err, false);
  if (res.nmessages != 1) {
    abort();
  }
  if (size >= 5 && memcmp(data, "From ", 5) == 0) {
    FILE *f = tmpfile();

    if (f == NULL || fwrite(data, 1, size, f) != size || fflush(f) != 0) {
      abort();
    }
    memset(&s, 0, sizeof(s));
    st = mts_rpt_mime_mbox_each(ctx, fileno(f), &lim, on_item, &s, &res,
                                &err);
    check(st, &s, &res, &err, true);
    if (st == MTS_OK && res.nmessages == 0) {
      abort();
    }
    fclose(f);
  }
  mts_ctx_destroy(ctx);
  return 0;
}
