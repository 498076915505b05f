/*
 * Device ingest over NATS JetStream (docs/protocol.md, "NATS JetStream transport"):
 * devices publish their hello and frames on ictal.v1.dev.{device_id}.{hello,frames};
 * the NATS server's subject mapping puts each device on one of N partitions
 * (ictal.v1.p.{k}.{device_id}.{kind}, captured by the stream ICTAL); a worker owns some
 * partitions through one durable pull consumer each, hands every message to the device
 * core (ictal__devconn, server_internal.h) in order, and answers on the device's
 * core-NATS subject ictal.v1.ctl.{device_id}. Only the transport differs from WebSocket
 * and MQTT.
 *
 * A JetStream message is acknowledged only once what it carries is settled: a frame
 * once the frame is on stable storage (the device's ack, durable_seq), a hello once
 * answered, a frame that can never be stored (bad_frame, too_large) at once (+TERM).
 * A frame that cannot be stored yet (no hello, a hole before it) is NAKed with a delay
 * and comes back. So a worker killed at any point leaves nothing acked that is not
 * stored, and its successor gets the rest again (duplicates are acked, not stored).
 *
 * Threading: nats.c runs its own threads. One thread per owned partition fetches
 * batches from its pull consumer into a bounded queue (inq.h) and wakes the event loop
 * (lws_cancel_service), which drains it in ictal__nats_poll; when the queue is full the
 * fetch threads wait (and the consumer's max_ack_pending holds the server back), so
 * nothing is dropped. Replies and acks are published from the loop (nats.c's publish
 * is thread-safe).
 */
#ifndef ICTAL_SERVER_NATSDEV_H
#define ICTAL_SERVER_NATSDEV_H

#include <stdint.h>

#include "ictal/error.h"

struct ictal_server;
struct lws_context;

#define ICTAL__NATS_STREAM "ICTAL"
#define ICTAL__NATS_DEV_PREFIX "ictal.v1.dev."   /* + {device_id}.hello | .frames */
#define ICTAL__NATS_PART_PREFIX "ictal.v1.p."    /* + {k}.{device_id}.{kind} (mapped) */
#define ICTAL__NATS_CTL_PREFIX "ictal.v1.ctl."   /* + {device_id} */
#define ICTAL__NATS_PARTITIONS_MAX 1024

typedef struct ictal__nats ictal__nats;

typedef struct ictal__nats_options {
    const char *url;            /* nats://HOST:PORT (or tls://), comma-separated for a cluster */
    const char *partitions;     /* the partitions owned: "0-3,6" or "all" */
    int partition_count;        /* N of the subject mapping's partition(N, 1); 0: 16 */
    const char *creds_file;     /* NATS credentials (JWT + NKey seed), or NULL */
    const char *user;           /* user and password, or NULL */
    const char *password;
    const char *ca_file;        /* non-NULL: TLS, trusting this CA (PEM) */
    int ack_wait_ms;            /* the consumers' AckWait: how long a message a dead worker
                                   held waits before redelivery; 0: 30000 */
    int64_t max_bytes;          /* the stream's size limit if ictal creates it; 0: 1 GiB */
} ictal__nats_options;

typedef struct ictal__nats_stats {
    int connected;
    uint64_t reconnects, disconnects;
    uint64_t msgs_in, bytes_in, msgs_out;
    uint64_t acks, naks, terms;  /* JetStream message outcomes */
    uint64_t redelivered;        /* messages delivered more than once */
    uint64_t dropped;            /* messages on a subject naming no valid device */
    uint64_t stale;              /* frames of a stream the device has since replaced */
    int devices;                 /* device connections (hello answered) over NATS now */
    int partitions;              /* owned */
} ictal__nats_stats;

/*
 * Parses a partition list ("all", or comma-separated K and A-B, each in 0..count-1, no
 * partition twice) into owned[count] (1: owned). Returns the number owned (>= 1), or
 * ICTAL_EINVAL with d saying where and what.
 */
int ictal__nats_partitions_parse(const char *list, int count, uint8_t *owned, ictal_diag *d);

/* Connects, creates the stream if missing and a durable pull consumer per owned
 * partition (ictal-p{k}), and starts fetching. wake(wake_user) is called from other
 * threads when messages wait. */
int ictal__nats_create(ictal__nats **out, struct ictal_server *srv, struct lws_context *ctx,
                       const ictal__nats_options *opt, void (*wake)(void *), void *wake_user,
                       ictal_diag *d);

/* On the loop: handles every queued message. */
void ictal__nats_poll(ictal__nats *n);

/* On the loop, once a second: closes device connections idle for 60 s. */
void ictal__nats_tick(ictal__nats *n);

void ictal__nats_stats_get(ictal__nats *n, ictal__nats_stats *s);

/* Stops fetching, NAKs what is not settled (redelivered 1 s later to the next owner),
 * closes every device connection and the NATS connection. NULL is a no-op. */
void ictal__nats_destroy(ictal__nats *n);

#endif
