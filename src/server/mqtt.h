/*
 * Device ingest over MQTT (docs/protocol.md, "MQTT"): the server is one MQTT client of a
 * broker, subscribed to every device's hello and frames topics, answering on each
 * device's ctl topic. The messages are those of the WebSocket protocol and are handled
 * by the same device core (ictal__devconn, server_internal.h): only the transport
 * differs.
 *
 * Threading: libmosquitto runs its own network thread (mosquitto_loop_start: keepalive,
 * QoS 1 retries, reconnection with backoff, TLS). Its callbacks copy each message into a
 * bounded queue (inq.h) and wake the event loop (lws_cancel_service), which drains it in
 * ictal__mqtt_poll; when the queue is full the network thread waits, so the broker
 * holds back (TCP backpressure) instead of messages being dropped. Replies are published
 * from the loop (mosquitto_publish is thread-safe).
 */
#ifndef ICTAL_SERVER_MQTT_H
#define ICTAL_SERVER_MQTT_H

#include <stdint.h>

#include "ictal/error.h"

struct ictal_server;
struct lws_context;

#define ICTAL__MQTT_TOPIC_PREFIX "ictal/v1/dev/"

typedef struct ictal__mqtt ictal__mqtt;

typedef struct ictal__mqtt_options {
    const char *host;
    int port;
    const char *client_id;      /* NULL: "ictal-serve" (a persistent session) */
    const char *user;           /* NULL: anonymous */
    const char *password;
    const char *ca_file;        /* non-NULL: TLS to the broker, trusting this CA (PEM) */
    int keepalive_s;            /* 0: 30 */
} ictal__mqtt_options;

typedef struct ictal__mqtt_stats {
    int connected;              /* to the broker, now */
    uint64_t connects;          /* successful connections (the first and every reconnect) */
    uint64_t disconnects;
    uint64_t msgs_in, msgs_out, bytes_in;
    uint64_t dropped;           /* messages on a topic that names no valid device */
    int devices;                /* device connections (hello answered) over MQTT now */
} ictal__mqtt_stats;

/* Starts the client (connecting in the background; an unreachable broker is retried).
 * wake(wake_user) is called from the network thread when messages wait. */
int ictal__mqtt_create(ictal__mqtt **out, struct ictal_server *srv, struct lws_context *ctx,
                       const ictal__mqtt_options *opt, void (*wake)(void *), void *wake_user,
                       ictal_diag *d);

/* On the loop: handles every queued message and connection change. */
void ictal__mqtt_poll(ictal__mqtt *m);

/* On the loop, once a second: closes device connections idle for 60 s. */
void ictal__mqtt_tick(ictal__mqtt *m);

void ictal__mqtt_stats_get(ictal__mqtt *m, ictal__mqtt_stats *s);

/* Disconnects, stops the thread, closes every device connection. NULL is a no-op. */
void ictal__mqtt_destroy(ictal__mqtt *m);

#endif
