/*
 * mtasts/mtasts.h - libmtasts, an implementation of SMTP MTA Strict
 * Transport Security (RFC 8461) and SMTP TLS Reporting (RFC 8460).
 *
 * Include this umbrella header, or the module headers it lists.
 */
#ifndef MTASTS_MTASTS_H
#define MTASTS_MTASTS_H

#define MTS_VERSION_MAJOR 0
#define MTS_VERSION_MINOR 1
#define MTS_VERSION_PATCH 0
#define MTS_VERSION_STR "0.1.0"

#include <mtasts/common.h>
#include <mtasts/limits.h>
#include <mtasts/utc.h>
#include <mtasts/idn.h>
#include <mtasts/txt.h>
#include <mtasts/sts_txt.h>
#include <mtasts/sts_policy.h>
#include <mtasts/sts_policy_write.h>
#include <mtasts/sts_match.h>
#include <mtasts/sts_state.h>
#include <mtasts/rpt_txt.h>
#include <mtasts/rpt_datagram.h>
#include <mtasts/rpt_logline.h>
#include <mtasts/rpt_report.h>
#include <mtasts/rpt_report_write.h>
#include <mtasts/rpt_filename.h>
#include <mtasts/rpt_event.h>
#include <mtasts/rpt_session.h>
#include <mtasts/rpt_store.h>
#include <mtasts/rpt_html.h>
#include <mtasts/rpt_receiver.h>
#include <mtasts/rpt_unpack.h>
#include <mtasts/rpt_mime.h>
#include <mtasts/rpt_agg.h>
#include <mtasts/rpt_deliver.h>
#include <mtasts/rpt_merge.h>
#include <mtasts/net.h>
#include <mtasts/net_cname.h>
#include <mtasts/sts_discover.h>
#include <mtasts/cache.h>
#include <mtasts/sts_resolver.h>
#include <mtasts/socketmap.h>

#endif /* MTASTS_MTASTS_H */
