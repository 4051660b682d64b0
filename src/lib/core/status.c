/*
 * status.c - names and descriptions of enum mts_status and severities,
 * generated from the MTS_STATUS_MAP X-macro so they cannot drift.
 */
#include <mtasts/common.h>

const char *mts_status_str(enum mts_status st) {
  switch (st) {
#define MTS_STATUS_STR_(name, str)                                            \
  case MTS_##name:                                                            \
    return str;
    MTS_STATUS_MAP(MTS_STATUS_STR_)
#undef MTS_STATUS_STR_
  case MTS_STATUS_MAX_:
    break;
  }
  return "unknown status";
}

const char *mts_status_name(enum mts_status st) {
  switch (st) {
#define MTS_STATUS_NAME_(name, str)                                           \
  case MTS_##name:                                                            \
    return #name;
    MTS_STATUS_MAP(MTS_STATUS_NAME_)
#undef MTS_STATUS_NAME_
  case MTS_STATUS_MAX_:
    break;
  }
  return "UNKNOWN";
}

const char *mts_severity_str(enum mts_severity sev) {
  switch (sev) {
  case MTS_SEV_INFO:
    return "info";
  case MTS_SEV_WARNING:
    return "warning";
  case MTS_SEV_ERROR:
    return "error";
  }
  return "unknown";
}
