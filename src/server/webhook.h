/*
 * Webhook delivery from the persistent outbox (store.h): libcurl's multi interface,
 * driven without blocking from the server's event loop (ictal__webhook_tick on a
 * timer). Each POST carries
 *   Content-Type: application/json
 *   X-Ictal-Event-Id: <uuid>         (unique per event: receivers deduplicate on it)
 *   X-Ictal-Timestamp: <unix seconds>
 *   X-Ictal-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>
 * A 2xx answer marks the entry delivered; anything else is retried after
 * min(2^attempts, 300) s. Entries survive restarts: nothing is lost, a receiver may
 * see an event twice (at-least-once) and must deduplicate on the event id.
 */
#ifndef ICTAL_SERVER_WEBHOOK_H
#define ICTAL_SERVER_WEBHOOK_H

#include "server/store.h"

#define ICTAL__WEBHOOK_MAX_INFLIGHT 8

typedef struct ictal__webhook ictal__webhook;

int ictal__webhook_create(ictal__webhook **out, ictal__store *store, const char *secret);
/* Starts due deliveries, advances transfers, records results. Returns the number of
 * transfers still in flight (the caller ticks faster while there are some). */
int ictal__webhook_tick(ictal__webhook *w);
void ictal__webhook_destroy(ictal__webhook *w);

typedef struct ictal__webhook_stats {
    unsigned long delivered, failed_attempts;
} ictal__webhook_stats;
void ictal__webhook_stats_get(const ictal__webhook *w, ictal__webhook_stats *st);

#endif
