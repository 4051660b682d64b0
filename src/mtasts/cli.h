/*
 * cli.h - shared pieces of the mtasts command-line program.
 *
 * The program is a thin client of libmtasts' public API: it parses
 * arguments, calls the library, and prints what came back as text or
 * JSON. Nothing here knows an RFC rule.
 */
#ifndef MTS_CLI_H
#define MTS_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>
#include <mtasts/mtasts.h>

/* Exit codes (documented in mtasts(1)). */
enum {
  CLI_EX_OK = 0,
  CLI_EX_STORE = 2,     /* the report store cannot be used */
  CLI_EX_USAGE = 64,    /* EX_USAGE: bad command line */
  CLI_EX_NOINPUT = 66,  /* EX_NOINPUT: a file could not be read */
  CLI_EX_SOFTWARE = 70  /* EX_SOFTWARE: internal error */
};

/* Options common to the network commands. */
struct cli_opts {
  bool json;
  const char *resolver;
  const char *ca_file;
  unsigned timeout_s; /* 0: library defaults */
};

/* Parsed arguments: options removed, positionals kept in order. */
struct cli_args {
  struct cli_opts opts;
  const char **pos;
  int npos;
};

/*
 * Parse argv[0..argc) of a subcommand: the common options anywhere,
 * `--` ends options. \p allowed is a bitmask of CLI_OPT_*. Prints a
 * one-line error and returns false on a bad option. pos must have room
 * for argc entries.
 */
#define CLI_OPT_JSON 0x1u
#define CLI_OPT_NET 0x2u
bool cli_parse_args(const char *cmd, int argc, char **argv, unsigned allowed,
                    struct cli_args *out, const char **pos);

/* Print "mtasts: <fmt>" on stderr, terminal-safe (cli_safe_dup()): a
 * file or MIME part name from a report can reach it. */
void cli_err(const char *fmt, ...) MTS_PRINTF(1, 2);

/* Text from a sender, for a terminal: the C0 controls, DEL, the C1
 * controls (U+0080..U+009F; xterm reads U+009B as CSI) and bytes that
 * are not UTF-8 each become '?'; other UTF-8 stays. cli_safe_dup()
 * returns a malloc'd copy (NULL: out of memory), cli_print_safe() writes
 * it to \p out. */
char *cli_safe_dup(const char *s);
void cli_print_safe(FILE *out, const char *s);

/* The report store's path: \p opt (--db), else $MTASTS_REPORT_DB, else
 * ./tlsrpt.db. */
const char *cli_report_db(const char *opt);

/* Open the existing report store \p db for `report CMD` (never creates
 * one), with a context that logs warnings to stderr. \return 0, or the
 * exit code after a message: CLI_EX_NOINPUT (no such file),
 * CLI_EX_STORE, CLI_EX_SOFTWARE (out of memory). */
int cli_report_open(const char *cmd, const char *db, struct mts_ctx **ctx,
                    struct mts_rpt_store **st);

/* A context on the C library's allocator; NULL (and a message) on OOM. */
struct mts_ctx *cli_ctx(void);

/* Findings as a JSON array of {code, severity, message, line, col}. */
json_t *cli_findings_json(const struct mts_findings *f);
/* Findings as indented text lines; \p unit names what `line` counts:
 * "line" for policies, "RR" for TXT records (the RR's index). */
void cli_findings_print(FILE *out, const struct mts_findings *f,
                        const char *indent, const char *unit);
/* A byte string as printable ASCII: bytes outside 0x20..0x7e and the
 * backslash are written as \DDD, like dig. Returns a malloc'd string. */
char *cli_printable(const uint8_t *s, size_t len);
/* Dump \p j on stdout with a newline and release it. */
void cli_json_print(json_t *j);
/* Read all of a file (or stdin for "-") up to \p max bytes (+1 to detect
 * overflow). \return 0, or -1 with errno-style message printed. */
int cli_read_file(const char *path, size_t max, uint8_t **data, size_t *len);

int cmd_query(int argc, char **argv);
int cmd_lint(int argc, char **argv);
int cmd_match(int argc, char **argv);
int cmd_cache(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_policy(int argc, char **argv);
int cmd_check(int argc, char **argv);
/* `mtasts check`'s input parsers (cmd_check.c; non-static for the fuzz
 * target): the -f FILE domain list, cut in place in \p buf (len + 1
 * bytes), and the --state FILE document. */
bool cmd_check_file_domains(char *buf, size_t len, const char ***out,
                            size_t *n);
json_t *cmd_check_state_load(const char *path);
int cmd_report(int argc, char **argv);
/* `mtasts report` subcommands (cmd_report.c dispatches). */
int cmd_report_ingest(int argc, char **argv);  /* cmd_report_ingest.c */
int cmd_report_summary(int argc, char **argv); /* cmd_report_summary.c */
int cmd_report_ready(int argc, char **argv);   /* cmd_report_summary.c */
int cmd_report_html(int argc, char **argv);    /* cmd_report_html.c */
int cmd_report_serve(int argc, char **argv);   /* cmd_report_serve.c */
int cmd_report_prune(int argc, char **argv);   /* cmd_report_prune.c */
int cmd_report_show(int argc, char **argv);    /* cmd_report_outbound.c */
int cmd_report_send(int argc, char **argv);    /* cmd_report_outbound.c */
int cmd_report_dump(int argc, char **argv);    /* cmd_report_outbound.c */

#endif /* MTS_CLI_H */
