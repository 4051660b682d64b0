/*
 * mtasts/net_cname.h - is a name a CNAME? One lookup of type CNAME on the
 * loop of a struct mts_net (mtasts/net.h), for tools that want to see a
 * delegation the resolver otherwise follows silently (e.g. `_mta-sts`
 * delegated to a hosting provider).
 */
#ifndef MTASTS_NET_CNAME_H
#define MTASTS_NET_CNAME_H

#include <mtasts/net.h>

#ifdef __cplusplus
extern "C" {
#endif

/*!
 * Result of mts_net_dns_cname(). \p st: MTS_OK (\p target is the
 * canonical name of the first CNAME record owned by the queried name,
 * absolute without the trailing dot, borrowed for the callback),
 * MTS_ENODATA (the name exists and is no CNAME), MTS_ENXDOMAIN,
 * MTS_ESERVFAIL, MTS_ETIMEOUT, MTS_ECANCELED (net destroyed), MTS_EIO
 * (malformed answer) or another error; \p target is NULL then and
 * \p errmsg says why. \p authenticated: the AD bit of the answer (kept
 * for NXDOMAIN and NODATA: an authenticated denial).
 */
typedef void (*mts_net_dns_cname_cb)(void *arg, enum mts_status st,
                                     const char *target, bool authenticated,
                                     const char *errmsg);

/*!
 * Ask the net's resolver for the CNAME record of \p name (one query,
 * QTYPE CNAME, RD and AD set, no search list); the callback runs exactly
 * once, from the loop, never from inside this call. Only the CNAME at
 * \p name itself is reported: a chain is not followed.
 * \return MTS_OK (started), MTS_EINVAL (bad name or NULL argument),
 * MTS_ECANCELED (net being destroyed), MTS_ENOMEM.
 */
MTS_API MTS_WUR enum mts_status mts_net_dns_cname(struct mts_net *net,
                                                  const char *name,
                                                  mts_net_dns_cname_cb cb,
                                                  void *arg);

#ifdef __cplusplus
}
#endif

#endif /* MTASTS_NET_CNAME_H */
