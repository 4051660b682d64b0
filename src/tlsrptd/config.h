/*
 * config.h - mtasts-tlsrptd's configuration (YAML, mtasts-tlsrptd(8)).
 *
 *   state_db: FILE                 the report store (rpt_agg.h)
 *   host_name: NAME                this host in a shared store
 *   log_level: err|warning|info|debug
 *   collector: {socket, mode, owner, group, quarantine_dir}
 *   follow: {file | command: [argv...], state_file, from_start,
 *            exclude_recipients: [...]}
 *   report: {organization_name, contact_info, submitter, from, sendmail,
 *            send_window, dry_run_dir, opt_out: [...], resolver, ca_file,
 *            https_verify, timeout, keep_days}
 *   shared: {type: redis, url, prefix, timeout}   a fleet's shared store
 *            (shared.h; mtasts-tlsrptd(8))
 *
 * Unknown keys are errors (a typo must not silently change behaviour).
 * Ownership: one heap object, freed by tlsrptd_config_free().
 */
#ifndef TLSRPTD_CONFIG_H
#define TLSRPTD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mtasts/common.h>

#define TLSRPTD_CONFIG_DEFAULT "/etc/mtasts/mtasts-tlsrptd.yml"
#define TLSRPTD_STATE_DEFAULT "/var/lib/mtasts-tlsrptd/state.db"

struct tlsrptd_list {
  char **v;
  size_t n;
};

struct tlsrptd_config {
  char *state_db;
  char *host_name; /* NULL: gethostname() */
  enum mts_log_level log_level; /* unset: MTS_LOG_INFO */
  /* collector */
  char *socket;
  int socket_mode; /* -1: leave */
  char *socket_owner, *socket_group;
  char *quarantine_dir;
  /* follower */
  char *follow_file;
  struct tlsrptd_list follow_command;
  char *follow_state;
  bool follow_from_start;
  struct tlsrptd_list exclude_recipients;
  /* reports */
  char *org, *contact, *submitter, *from, *sendmail;
  uint32_t send_window; /* s after 00:00Z */
  char *dry_run_dir;
  struct tlsrptd_list opt_out;
  char *resolver, *ca_file;
  bool https_verify;
  uint32_t timeout; /* s, per delivery (sendmail, HTTPS) and DNS */
  uint32_t keep_days;
  /* shared (NULL url: not shared) */
  char *shared_url;
  char *shared_prefix;     /* default TLSRPTD_SHARED_PREFIX_DEFAULT */
  uint32_t shared_timeout; /* s, connect and each command; default 5 */
};

/*! Load \p path. \return the config, or NULL with a message in \p err. */
struct tlsrptd_config *tlsrptd_config_load(const char *path, char *err,
                                           size_t errsize);
void tlsrptd_config_free(struct tlsrptd_config *c);

#endif /* TLSRPTD_CONFIG_H */
