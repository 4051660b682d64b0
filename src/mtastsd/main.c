/*
 * main.c - mtastsd: the MTA-STS policy daemon for Postfix
 * (smtp_tls_policy_maps = socketmap:inet:127.0.0.1:8461:postfix), a
 * drop-in replacement for postfix-mta-sts-resolver's mta-sts-daemon.
 *
 * Options are the peer's (POSTFIX-NOTES 1.2) plus -n and --version:
 *   -c/--config FILE      default /etc/mta-sts-daemon.yml; when that does
 *                         not exist (and no -c), built-in defaults
 *   -v/--verbosity LEVEL  debug, info (default), warn, error, fatal
 *   -l/--logfile FILE     default stderr; "syslog" logs to syslog (mail)
 *   -u/--user USER, -g/--group GROUP
 *                         drop privileges after binding (real and
 *                         effective IDs; the peer set only the effective
 *                         ones, before binding)
 *   -p/--pidfile FILE     written before dropping privileges
 *   -n                    check the configuration and exit 0/1
 *   --disable-uvloop      accepted and ignored (the peer's option)
 *
 * Exit status: 0 after a clean stop or a good -n; 1 for a bad
 * configuration or a start-up failure; 2 for bad usage.
 */
#define _DEFAULT_SOURCE 1 /* setgroups() */

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <mtasts/mtasts.h>

#include "config.h"
#include "daemon.h"
#include "log.h"
#include "sandbox.h"

#define M_LOG "MAIN"

struct opts {
  const char *config;
  const char *logfile;
  const char *user;
  const char *group;
  const char *pidfile;
  enum mtastsd_level level;
  bool check;
};

static void usage(FILE *out) {
  (void)fprintf(
      out,
      "usage: mtastsd [-h] [--version] [-n] [-v LEVEL] [-c FILE] [-l FILE]\n"
      "               [-u USER] [-g GROUP] [-p FILE] [--disable-uvloop]\n"
      "\n"
      "MTA-STS policy daemon for Postfix (socketmap).\n"
      "\n"
      "  -h, --help            show this help and exit\n"
      "      --version         show the version and exit\n"
      "  -n                    check the configuration, print \"configuration "
      "OK\"\n"
      "  -v, --verbosity LEVEL debug, info, warn, error or fatal (default "
      "info)\n"
      "  -c, --config FILE     configuration file (default " MTASTSD_DEFAULT_CONFIG
      ")\n"
      "  -l, --logfile FILE    log to FILE, or to syslog with \"syslog\" "
      "(default stderr)\n"
      "  -u, --user USER       run as USER after binding\n"
      "  -g, --group GROUP     run as GROUP after binding\n"
      "  -p, --pidfile FILE    write the process ID to FILE\n"
      "      --disable-uvloop  ignored (compatibility with mta-sts-daemon)\n");
}

/* \return 0 continue, or 1 + exit status. */
static int parse_args(int argc, char **argv, struct opts *o) {
  enum { OPT_VERSION = 256, OPT_UVLOOP };
  static const struct option longopts[] = {
      {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, OPT_VERSION},
      {"verbosity", required_argument, NULL, 'v'},
      {"config", required_argument, NULL, 'c'},
      {"logfile", required_argument, NULL, 'l'},
      {"user", required_argument, NULL, 'u'},
      {"group", required_argument, NULL, 'g'},
      {"pidfile", required_argument, NULL, 'p'},
      {"disable-uvloop", no_argument, NULL, OPT_UVLOOP},
      {NULL, 0, NULL, 0}};
  int ch;

  memset(o, 0, sizeof(*o));
  o->level = MTASTSD_INFO;
  while ((ch = getopt_long(argc, argv, "hnv:c:l:u:g:p:", longopts, NULL)) !=
         -1) {
    switch (ch) {
    case 'h':
      usage(stdout);
      return 1 + 0;
    case OPT_VERSION:
      (void)printf("mtastsd %s\n", MTS_VERSION_STR);
      return 1 + 0;
    case 'n':
      o->check = true;
      break;
    case 'v':
      if (!mtastsd_log_level_parse(optarg, &o->level)) {
        (void)fprintf(stderr,
                      "mtastsd: -v wants debug, info, warn, error or fatal, "
                      "not '%s'\n",
                      optarg);
        return 1 + 2;
      }
      break;
    case 'c':
      o->config = optarg;
      break;
    case 'l':
      o->logfile = optarg;
      break;
    case 'u':
      o->user = optarg;
      break;
    case 'g':
      o->group = optarg;
      break;
    case 'p':
      o->pidfile = optarg;
      break;
    case OPT_UVLOOP:
      break;
    default:
      usage(stderr);
      return 1 + 2;
    }
  }
  if (optind < argc) {
    (void)fprintf(stderr, "mtastsd: unexpected argument '%s'\n", argv[optind]);
    usage(stderr);
    return 1 + 2;
  }
  return 0;
}

/* A user or group given by name or number. */
static bool parse_id(const char *s, unsigned long *out) {
  unsigned long v = 0;

  if (*s == '\0') {
    return false;
  }
  for (; *s != '\0'; s++) {
    if (*s < '0' || *s > '9' || v > 0xfffffffful / 10) {
      return false;
    }
    v = v * 10 + (unsigned long)(*s - '0');
  }
  *out = v;
  return v < 0xfffffffful;
}

struct ids {
  bool set_uid, set_gid;
  uid_t uid;
  gid_t gid;
};

/* -u and -g into IDs. Without -g the group is the user's primary group
 * from its passwd entry, also for a number (getpwuid); a number without
 * an entry needs -g: keeping root's group (0) and supplementary groups
 * behind a dropped uid is never what was meant. */
static int resolve_ids(struct mtastsd_log *lg, const struct opts *o,
                       struct ids *ids) {
  unsigned long n;

  memset(ids, 0, sizeof(*ids));
  if (o->user != NULL) {
    const struct passwd *pw = getpwnam(o->user);

    if (pw == NULL && parse_id(o->user, &n)) {
      ids->uid = (uid_t)n;
      pw = getpwuid(ids->uid); /* NULL: no entry, -g is needed */
    } else if (pw == NULL) {
      LOG_E(lg, M_LOG, "-u %.100s: no such user", o->user);
      return -1;
    }
    if (pw != NULL) {
      ids->uid = pw->pw_uid;
      ids->gid = pw->pw_gid; /* the user's group unless -g says */
      ids->set_gid = true;
    }
    ids->set_uid = true;
  }
  if (o->group != NULL) {
    const struct group *gr = getgrnam(o->group);

    if (gr != NULL) {
      ids->gid = gr->gr_gid;
    } else if (parse_id(o->group, &n)) {
      ids->gid = (gid_t)n;
    } else {
      LOG_E(lg, M_LOG, "-g %.100s: no such group", o->group);
      return -1;
    }
    ids->set_gid = true;
  }
  if (ids->set_uid && !ids->set_gid) {
    LOG_E(lg, M_LOG, "-u %.100s has no passwd entry: give -g", o->user);
    return -1;
  }
  return 0;
}

/* Bind first, then drop: setgroups, setgid, setuid (real, effective and
 * saved IDs, so privileges cannot come back). */
static int drop_privileges(struct mtastsd_log *lg, const struct ids *ids) {
  if ((ids->set_uid || ids->set_gid) && geteuid() == 0 &&
      mtastsd_log_chown(lg, ids->set_uid ? ids->uid : (uid_t)-1,
                        ids->set_gid ? ids->gid : (gid_t)-1) != 0) {
    /* Not fatal: only a later SIGHUP cannot reopen the file. */
    mtastsd_log_errno(lg, MTASTSD_WARN, M_LOG,
                      "giving the log file to the run user");
  }
  if (ids->set_gid) {
    if (geteuid() == 0 && setgroups(1, &ids->gid) != 0) {
      mtastsd_log_errno(lg, MTASTSD_ERROR, M_LOG, "setgroups");
      return -1;
    }
    if (setgid(ids->gid) != 0) {
      mtastsd_log_errno(lg, MTASTSD_ERROR, M_LOG, "setgid %lu",
                        (unsigned long)ids->gid);
      return -1;
    }
  }
  if (ids->set_uid && setuid(ids->uid) != 0) {
    mtastsd_log_errno(lg, MTASTSD_ERROR, M_LOG, "setuid %lu",
                      (unsigned long)ids->uid);
    return -1;
  }
  if (ids->set_uid || ids->set_gid) {
    LOG_I(lg, M_LOG, "running as uid %lu gid %lu", (unsigned long)getuid(),
          (unsigned long)getgid());
  }
  return 0;
}

/* The directories Landlock will allow (resolved, without repeats). */
struct sbx_dirs {
  char dir[10][PATH_MAX];
  const char *path[11];
  size_t n;
  bool everywhere; /* one resolved to "/" */
};

/* Add the directory of \p file, resolved. A directory that does not
 * exist (yet) cannot be allowed: said, and left out. */
static void sbx_add(struct mtastsd_log *lg, struct sbx_dirs *d,
                    const char *file) {
  char dir[PATH_MAX], real[PATH_MAX];
  size_t i;

  if (!mtastsd_sandbox_dirname(file, dir, sizeof(dir))) {
    return;
  }
  if (realpath(dir, real) == NULL) {
    LOG_W(lg, M_LOG,
          "landlock: %.200s: %s: left out, so files there cannot be "
          "written (restart mtastsd once it is there)",
          dir, strerror(errno));
    return;
  }
  if (strcmp(real, "/") == 0) {
    d->everywhere = true;
    return;
  }
  for (i = 0; i < d->n; i++) {
    if (strcmp(d->dir[i], real) == 0) {
      return;
    }
  }
  if (d->n < sizeof(d->dir) / sizeof(d->dir[0])) {
    (void)snprintf(d->dir[d->n], sizeof(d->dir[d->n]), "%s", real);
    d->path[d->n] = d->dir[d->n];
    d->n++;
  }
}

/* \p file's directory, and that of the file a symbolic link points to
 * (SQLite and fopen follow it). */
static void sbx_add_file(struct mtastsd_log *lg, struct sbx_dirs *d,
                         const char *file) {
  char real[PATH_MAX];

  sbx_add(lg, d, file);
  if (realpath(file, real) != NULL) {
    sbx_add(lg, d, real);
  } else {
    /* a link to a file not made yet: the directory it points into */
    char target[PATH_MAX], dir[PATH_MAX], joined[PATH_MAX];
    ssize_t n = readlink(file, target, sizeof(target) - 1);

    if (n > 0) {
      target[n] = '\0';
      if (target[0] == '/' ||
          !mtastsd_sandbox_dirname(file, dir, sizeof(dir))) {
        sbx_add(lg, d, target);
      } else if (snprintf(joined, sizeof(joined), "%s/%s", dir, target) <
                 (int)sizeof(joined)) {
        sbx_add(lg, d, joined);
      }
    }
  }
}

/* The log: its directory (a rotated log is made again); none for a log
 * that is no regular file (-l /dev/stderr, a FIFO): it is open already,
 * is not rotated, and its directory would be /dev. */
static void sbx_add_log(struct mtastsd_log *lg, struct sbx_dirs *d,
                        const char *file) {
  struct stat st;

  if (stat(file, &st) != 0 || S_ISREG(st.st_mode)) {
    sbx_add_file(lg, d, file);
  }
}

/* Landlock (sandbox.h): from here on, files are written only beneath
 * the SQLite cache's directory, the UNIX sockets' directories (a socket
 * is removed at exit) and the log file's and pidfile's (reopened after
 * rotation; removed at exit), and /dev/null. Before any thread exists.
 * Not fatal: without Landlock the service's sandbox is what there is. */
static void sandbox(struct mtastsd_log *lg, const struct opts *o,
                    const struct mtastsd_config *c) {
  struct sbx_dirs d;
  char why[300], list[700];
  size_t i, used = 0;
  int abi = 0;
  enum mtastsd_sandbox_result r;

  memset(&d, 0, sizeof(d));
  if (c->cache_type == MTASTSD_CACHE_SQLITE && c->sqlite_filename != NULL) {
    if (strncmp(c->sqlite_filename, "file:", 5) == 0) {
      LOG_W(lg, M_LOG,
            "landlock not applied: the cache's filename is a URI "
            "(%.200s): give a path",
            c->sqlite_filename);
      return;
    }
    if (c->sqlite_filename[0] != '\0' &&
        strcmp(c->sqlite_filename, ":memory:") != 0) {
      sbx_add_file(lg, &d, c->sqlite_filename);
    }
  }
  if (c->unix_path != NULL) {
    sbx_add_file(lg, &d, c->unix_path);
  }
  if (c->control_socket != NULL) {
    sbx_add_file(lg, &d, c->control_socket);
  }
  if (o->logfile != NULL && strcmp(o->logfile, "syslog") != 0 &&
      strcmp(o->logfile, "-") != 0) {
    sbx_add_log(lg, &d, o->logfile);
  }
  if (o->pidfile != NULL) {
    sbx_add_file(lg, &d, o->pidfile);
  }
  if (d.everywhere) {
    LOG_W(lg, M_LOG, "landlock not applied: a file of mtastsd's is in / "
                     "(or in a working directory that is /): it would "
                     "allow writes everywhere");
    return;
  }
  d.path[d.n] = "/dev/null";
  r = mtastsd_sandbox_writes(d.path, d.n + 1, &abi, why, sizeof(why));
  if (r == MTASTSD_SANDBOX_UNAVAILABLE) {
    LOG_I(lg, M_LOG, "landlock not available (%s): file writes are limited "
                     "by the service's sandbox only",
          why);
    return;
  }
  if (r != MTASTSD_SANDBOX_ON) {
    LOG_W(lg, M_LOG, "landlock not applied: %s", why);
    return;
  }
  list[0] = '\0';
  for (i = 0; i <= d.n; i++) {
    int k = snprintf(list + used, sizeof(list) - used, "%s%.150s",
                     i > 0 ? " " : "", d.path[i]);

    if (k < 0 || (size_t)k >= sizeof(list) - used) {
      break;
    }
    used += (size_t)k;
  }
  LOG_I(lg, M_LOG, "landlock (ABI %d): files are written only beneath %s",
        abi, list);
}

static int write_pidfile(struct mtastsd_log *lg, const char *path) {
  FILE *f = fopen(path, "w");

  if (f == NULL) {
    mtastsd_log_errno(lg, MTASTSD_ERROR, M_LOG, "pidfile %.200s", path);
    return -1;
  }
  (void)fprintf(f, "%ld\n", (long)getpid());
  if (fclose(f) != 0) {
    mtastsd_log_errno(lg, MTASTSD_ERROR, M_LOG, "pidfile %.200s", path);
    return -1;
  }
  return 0;
}

int main(int argc, char **argv) {
  struct opts o;
  struct mtastsd_log lg;
  struct mtastsd_daemon d;
  struct mtastsd_config *cfg;
  struct ids ids;
  const char *path, *why;
  int rc = parse_args(argc, argv, &o);
  bool pid_written = false, daemon_up = false;

  if (rc != 0) {
    return rc - 1;
  }
  path = mtastsd_daemon_config_path(o.config);
  if (o.check) {
    cfg = mtastsd_config_load(path, stderr);
    if (cfg == NULL) {
      return 1;
    }
    why = mtastsd_daemon_unsupported(cfg);
    mtastsd_config_free(cfg);
    if (why != NULL) {
      (void)fprintf(stderr, "%s: %s\n", path != NULL ? path : "defaults", why);
      return 1;
    }
    (void)printf("configuration OK\n");
    return 0;
  }

  if (mtastsd_log_init(&lg, o.level, o.logfile) != 0) {
    (void)fprintf(stderr, "mtastsd: cannot open log file %s: %s\n", o.logfile,
                  strerror(errno));
    mtastsd_log_cleanup(&lg);
    return 1;
  }
  rc = 1;
  cfg = mtastsd_config_load(path, stderr);
  if (cfg == NULL) {
    LOG_E(&lg, M_LOG, "bad configuration %.200s: not starting",
          path != NULL ? path : "(defaults)");
    goto done;
  }
  if (path == NULL) {
    LOG_I(&lg, M_LOG, "no %s: running on built-in defaults",
          MTASTSD_DEFAULT_CONFIG);
  } else {
    LOG_I(&lg, M_LOG, "configuration %.200s", path);
  }
  why = mtastsd_daemon_unsupported(cfg);
  if (why != NULL) {
    LOG_E(&lg, M_LOG, "%s", why);
    mtastsd_config_free(cfg);
    goto done;
  }
  if (resolve_ids(&lg, &o, &ids) != 0) {
    mtastsd_config_free(cfg);
    goto done;
  }
  daemon_up = true;
  if (mtastsd_daemon_init(&d, &lg, o.config, cfg) != 0 ||
      mtastsd_daemon_listen(&d) != 0) {
    goto done;
  }
  if (o.pidfile != NULL) {
    if (write_pidfile(&lg, o.pidfile) != 0) {
      goto done;
    }
    pid_written = true;
  }
  if (drop_privileges(&lg, &ids) != 0) {
    goto done;
  }
  sandbox(&lg, &o, cfg);
  if (mtastsd_daemon_start(&d) != 0) {
    goto done;
  }
  rc = mtastsd_daemon_run(&d);

done:
  if (daemon_up) {
    mtastsd_daemon_cleanup(&d);
  }
  if (pid_written && unlink(o.pidfile) != 0 && errno != ENOENT) {
    /* After dropping privileges the directory may not be ours. */
    LOG_D(&lg, M_LOG, "cannot remove pidfile %.200s", o.pidfile);
  }
  mtastsd_log_cleanup(&lg);
  return rc;
}
