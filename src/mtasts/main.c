/*
 * main.c - the mtasts program: dispatch to the subcommands.
 */
#include <string.h>

#include "cli.h"

static void usage(FILE *out) {
  fputs("usage: mtasts <command> [arguments]\n"
        "\n"
        "commands:\n"
        "  query DOMAIN [--json] [--resolver IP[:PORT]] [--ca-file FILE]\n"
        "        [--timeout SECONDS]   discover and fetch DOMAIN's MTA-STS policy\n"
        "  lint policy [FILE|-] [--json]       check a policy file offline\n"
        "  lint sts-record RR... [--json]      check an _mta-sts TXT record\n"
        "  lint tlsrpt-record RR... [--json]   check an _smtp._tls TXT record\n"
        "  match PATTERN HOST                  does an mx pattern match HOST?\n"
        "  init DOMAIN (--mx PATTERN... | --from-dns) [--mode MODE]\n"
        "        [--max-age N] [--rua URI...] [--output FILE] [--force]\n"
        "        [--resolver IP[:PORT]] [--timeout SECONDS]\n"
        "                                      write a policy, print the DNS\n"
        "                                      records and an nginx block\n"
        "  policy id [FILE|-]                  the content-derived policy id\n"
        "  check DOMAIN... [-f FILE] [--json] [--state FILE]\n"
        "        [--color=auto|always|never] [--smtp-port PORT]\n"
        "        [--resolver IP[:PORT]] [--ca-file FILE] [--timeout SECONDS]\n"
        "                                      audit a domain's MTA-STS and TLSRPT\n"
        "  cache list|show DOMAIN|purge DOMAIN|refresh DOMAIN\n"
        "        [--socket PATH] [--json]      the running mtastsd's cache\n"
        "  cache list|show DOMAIN --sqlite FILE [--json]\n"
        "                                      a SQLite cache file, offline\n"
        "  report SUBCOMMAND ...               TLS reports (RFC 8460); see\n"
        "                                      'mtasts report --help'\n"
        "  version                             print the version\n"
        "\n"
        "See mtasts(1) for exit codes and output formats.\n",
        out);
}

int main(int argc, char **argv) {
  const char *cmd;

  if (argc < 2) {
    usage(stderr);
    return CLI_EX_USAGE;
  }
  cmd = argv[1];
  if (strcmp(cmd, "query") == 0) {
    return cmd_query(argc - 2, argv + 2);
  }
  if (strcmp(cmd, "lint") == 0) {
    return cmd_lint(argc - 2, argv + 2);
  }
  if (strcmp(cmd, "match") == 0) {
    return cmd_match(argc - 2, argv + 2);
  }
  if (strcmp(cmd, "init") == 0) {
    return cmd_init(argc - 2, argv + 2);
  }
  if (strcmp(cmd, "policy") == 0) {
    return cmd_policy(argc - 2, argv + 2);
  }
  if (strcmp(cmd, "check") == 0) {
    return cmd_check(argc - 2, argv + 2);
  }
  if (strcmp(cmd, "report") == 0) {
    return cmd_report(argc - 2, argv + 2);
  }
  if (strcmp(cmd, "cache") == 0) {
    return cmd_cache(argc - 2, argv + 2);
  }
  if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
    printf("mtasts %s\n", MTS_VERSION_STR);
    return CLI_EX_OK;
  }
  if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 ||
      strcmp(cmd, "-h") == 0) {
    usage(stdout);
    return CLI_EX_OK;
  }
  cli_err("unknown command '%s' (try 'mtasts --help')", cmd);
  return CLI_EX_USAGE;
}
