/*
 * event.h - what the tlsrptd inputs (collector.c: libtlsrpt datagrams,
 * follow.c: the Postfix log) hand to the aggregation: one struct
 * mts_rpt_event per TLS session (mtasts/rpt_event.h). The event and
 * everything it points to are valid during the call only.
 */
#ifndef TLSRPTD_EVENT_H
#define TLSRPTD_EVENT_H

#include <mtasts/rpt_event.h>

typedef void (*tlsrptd_event_fn)(const struct mts_rpt_event *ev, void *arg);

#endif /* TLSRPTD_EVENT_H */
