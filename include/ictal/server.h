/*
 * ictal/server.h - the monitoring server behind `ictal serve`.
 *
 * One process, one libwebsockets event loop serving:
 *   - devices over WebSocket (subprotocol "ictal-device-v1", docs/protocol.md): a
 *     JSON hello, then binary frames (ictal/wire.h) that are appended to the session's
 *     frame log, analysed, and acknowledged by sequence number;
 *   - dashboards over WebSocket (subprotocol "ictal-dashboard-v1"): live status,
 *     traces, probabilities and alarms pushed as JSON;
 *   - the HTTP API (/api/..., /metrics) and the dashboard's static files (web/).
 * Optionally devices also stream over MQTT through a broker (same messages, one MQTT
 * client whose network thread hands messages to the loop: src/server/mqtt.h).
 * Data lives in one directory: ictal.db (SQLite, WAL; or, with db_url, a PostgreSQL
 * database instead, which several servers may share), sessions/<id>.frames (the frame
 * logs: what is acknowledged), sessions/<id>.edf (the recordings as EDF+, written live,
 * rebuilt from the logs after a crash), admin.token (the first admin API token, mode
 * 0600).
 * People sign in with a user name and password (POST /api/login) for a session token
 * that expires; services use API tokens. Both are bearer tokens (docs/server.md).
 * Webhooks are sent from a persistent outbox with libcurl's multi interface, driven
 * by a timer of the same event loop. Two helper threads keep slow work off the loop:
 * one fdatasync()s session logs, so that the loop never waits on the disk
 * (src/server/syncer.h); one computes password hashes (src/server/hasher.h).
 * At scale devices publish to NATS JetStream instead: the stream is partitioned by
 * device, and each process (`ictal worker`: this server without the device WebSocket)
 * owns some partitions through durable pull consumers, acknowledging a message only
 * once its frame is stored, so a dead worker's successor gets the rest
 * (src/server/natsdev.h, docs/server.md).
 */
#ifndef ICTAL_SERVER_H
#define ICTAL_SERVER_H

#include <stddef.h>

#include "ictal/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ictal_server ictal_server;

typedef struct ictal_server_options {
    const char *host;            /* interface to listen on; NULL: "127.0.0.1" */
    int port;                    /* 0: 8080; -1: any free port (ictal_server_port) */
    const char *data_dir;        /* created when missing; NULL: "ictal-data" */
    const char *db_url;          /* "postgresql://..." or "postgres://..." (a libpq URI):
                                    the database is there; NULL: data_dir/ictal.db (SQLite).
                                    Never logged. Used at create only */
    const char *db_password;     /* PostgreSQL password; NULL: the URI's, or libpq's
                                    PGPASSWORD / PGPASSFILE. Used at create only */
    const char *web_dir;         /* dashboard files; NULL: look for ../web next to the binary */
    const char *model_path;      /* detector model file (ictal/model.h); NULL: model_data */
    const void *model_data;      /* the model's bytes, used when model_path is NULL (e.g. a
                                    copy built into the binary); copied at create, so the
                                    caller may free them afterwards. NULL with model_path
                                    NULL: signal quality only, no alarms */
    size_t model_size;           /* bytes at model_data */
    const char *webhook_url;     /* NULL: no webhooks */
    const char *webhook_secret;  /* HMAC-SHA256 key of the X-Ictal-Signature header */
    int closed_enrolment;        /* non-zero: unknown devices are refused (else the first
                                    hello of a device id registers its token) */
    double max_speed;            /* sustained samples per second per stream as a multiple
                                    of its rate (catch-up after a reconnect); 0: 32 */
    double max_frames_per_s;     /* sustained frames per second per stream; 0: 200 */
    int max_devices;             /* concurrent device connections; 0: 4096 */
    const char *tls_cert;        /* PEM certificate (chain): serve https:// and wss:// */
    const char *tls_key;         /* PEM private key; both or neither */
    const char *trusted_proxies; /* "ADDR[,ADDR...]": reverse proxies (IPv4/IPv6 addresses
                                    or CIDR ranges) whose X-Forwarded-For names the client
                                    (sign-in throttle, logs); NULL: the TCP peer is the
                                    client, the header is ignored */
    const char *mqtt_host;       /* non-NULL: also take devices over MQTT from this broker
                                    (docs/protocol.md); NULL: WebSocket only */
    int mqtt_port;               /* the broker's port (1883: plain, 8883: TLS usually) */
    const char *mqtt_client_id;  /* NULL: "ictal-serve" (one per server on a broker) */
    const char *mqtt_user;       /* broker credentials; NULL: anonymous */
    const char *mqtt_password;
    const char *mqtt_ca_file;    /* non-NULL: TLS to the broker, trusting this CA (PEM) */
    const char *nats_url;        /* non-NULL: also take devices from NATS JetStream
                                    (nats://HOST:PORT; docs/protocol.md), owning
                                    nats_partitions of the stream ICTAL */
    const char *nats_partitions; /* "0-3,6" or "all": the partitions this process owns */
    int nats_partition_count;    /* N of the NATS server's subject mapping; 0: 16 */
    const char *nats_creds_file; /* NATS credentials file, or NULL */
    const char *nats_user;       /* NATS user and password, or NULL */
    const char *nats_password;
    const char *nats_ca_file;    /* non-NULL: TLS to NATS, trusting this CA (PEM) */
    int nats_ack_wait_ms;        /* how long a dead worker's unacknowledged messages wait
                                    before redelivery; 0: 30000 */
    int no_device_websocket;     /* non-zero: devices only over MQTT or NATS (ictal worker) */
    int quiet;                   /* non-zero: no log lines on stderr */
} ictal_server_options;

void ictal_server_options_init(ictal_server_options *opt);

/* Opens the data directory and database, binds the port. d says what failed. */
int ictal_server_create(ictal_server **out, const ictal_server_options *opt, ictal_diag *d);

/* The bound TCP port (useful with port -1). */
int ictal_server_port(const ictal_server *srv);

/* Path of the admin token file (valid while srv lives). */
const char *ictal_server_admin_token_path(const ictal_server *srv);

/* Serves until ictal_server_stop(). Returns 0 or a negative ICTAL_E* code. */
int ictal_server_run(ictal_server *srv);

/* Asks ictal_server_run() to return; safe from a signal handler. */
void ictal_server_stop(ictal_server *srv);

/* Flushes session logs, closes the database, frees srv. */
void ictal_server_destroy(ictal_server *srv);

/*
 * Adds a user account to the database of opt (data_dir, created when missing, or db_url
 * and db_password; the other options are ignored), without a running server: how the
 * first account is made. name: 1-64 of [A-Za-z0-9._@-];
 * password: at least 10 characters (stored only as a salted scrypt hash); role:
 * "viewer", "clinician" or "admin". ICTAL_EINVAL (bad name, password or role) or
 * ICTAL_ESTATE (the name is taken), with d saying what.
 */
int ictal_server_add_user(const ictal_server_options *opt, const char *name, const char *password,
                          const char *role, ictal_diag *d);

#ifdef __cplusplus
}
#endif
#endif /* ICTAL_SERVER_H */
