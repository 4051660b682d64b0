/*
 * cmd_match.c - `mtasts match PATTERN HOST`: RFC 8461 4.1 matching.
 *
 * Exit: 0 match; 1 no match; 2 invalid pattern or host; 64 usage.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cmd_match(int argc, char **argv) {
  const char *pos[3];
  struct cli_args a;
  enum mts_status st;
  bool matched = false;

  if (argc > 3 || !cli_parse_args("match", argc, argv, 0, &a, pos) ||
      a.npos != 2) {
    if (argc <= 3) {
      cli_err("usage: mtasts match PATTERN HOST");
    } else {
      cli_err("match: too many arguments (usage: mtasts match PATTERN HOST)");
    }
    return CLI_EX_USAGE;
  }
  st = mts_sts_match(a.pos[0], strlen(a.pos[0]), a.pos[1], strlen(a.pos[1]),
                     &matched);
  if (st == MTS_EPARSE) {
    cli_err("match: '%s' is not a valid mx pattern (RFC 8461 3.2: a host "
            "name, or *. and a host name)",
            a.pos[0]);
    return 2;
  }
  if (st != MTS_OK) {
    cli_err("match: '%s' is not a valid host name: %s", a.pos[1],
            mts_status_str(st));
    return 2;
  }
  printf("%s\n", matched ? "match" : "no match");
  return matched ? 0 : 1;
}
