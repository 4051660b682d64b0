/*
 * cmd_report.c - `mtasts report <subcommand>`: TLS reports (RFC 8460).
 * Receiving side (issue 7): ingest, summary, ready, html, serve, prune.
 * Sending side (issue 6): show, send, dump.
 */
#include <string.h>

#include "cli.h"

struct report_cmd {
  const char *name;
  int (*fn)(int argc, char **argv);
  const char *usage;
};

static const struct report_cmd report_cmds[] = {
    {"ingest", cmd_report_ingest,
     "ingest [--db FILE] [--json] [-v] PATH|-...\n"
     "        store received reports (.json, .json.gz, .zip, mail, mbox,\n"
     "        Maildir)"},
    {"summary", cmd_report_summary,
     "summary [--db FILE] [--domain D] [--since YYYY-MM-DD] [--json]\n"
     "        sessions and failures per day, sender and MX host"},
    {"ready", cmd_report_ready,
     "ready [--db FILE] [--domain D] [--days N] [--min-senders N]\n"
     "        [--min-days N] [--date YYYY-MM-DD] [--json]\n"
     "        is the domain ready to go from testing to enforce?"},
    {"html", cmd_report_html,
     "html [--db FILE] --out DIR [--domain D] [--since DATE]\n"
     "        a static page with plots (no JavaScript)"},
    {"serve", cmd_report_serve,
     "serve [--db FILE] --listen ADDR:PORT [--tls-cert F --tls-key F]\n"
     "        [--max-size BYTES] [--rate N/MIN] [--max-per-day SIZE]\n"
     "        receive rua=https: POSTs"},
    {"prune", cmd_report_prune,
     "prune [--db FILE] --older-than DAYS [--json]\n"
     "        delete what was received more than DAYS days ago"},
    {"show", cmd_report_show,
     "show [--state FILE] [--day YYYY-MM-DD] [--domain D] [--json]\n"
     "        outbound: what this host's reports will say"},
    {"send", cmd_report_send,
     "send [--state FILE] [--day DATE] [--domain D] [--dry-run DIR]\n"
     "        [--rua URI] [--org NAME --contact ADDR --submitter DOMAIN]\n"
     "        [--sendmail CMD] [--from ADDR] [--resolver IP[:PORT]]\n"
     "        [--ca-file FILE] [--timeout S] [--insecure]\n"
     "        outbound: build and deliver (or write) the reports"},
    {"dump", cmd_report_dump,
     "dump [--state FILE] --domain D [--day DATE] [--gzip]\n"
     "        [--org NAME --contact ADDR --submitter DOMAIN]\n"
     "        outbound: print one report as it would be sent"},
};

static void report_usage(FILE *out) {
  size_t i;

  fputs("usage: mtasts report <subcommand> [arguments]\n\nsubcommands:\n",
        out);
  for (i = 0; i < sizeof report_cmds / sizeof report_cmds[0]; i++) {
    fprintf(out, "  %s\n", report_cmds[i].usage);
  }
}

int cmd_report(int argc, char **argv) {
  size_t i;

  if (argc < 1) {
    report_usage(stderr);
    return CLI_EX_USAGE;
  }
  if (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "help") == 0) {
    report_usage(stdout);
    return CLI_EX_OK;
  }
  for (i = 0; i < sizeof report_cmds / sizeof report_cmds[0]; i++) {
    if (strcmp(argv[0], report_cmds[i].name) == 0) {
      return report_cmds[i].fn(argc - 1, argv + 1);
    }
  }
  cli_err("unknown report subcommand '%s' (try 'mtasts report --help')",
          argv[0]);
  return CLI_EX_USAGE;
}
