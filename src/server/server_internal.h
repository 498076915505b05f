/* Internals of the monitoring server shared by its files (not a public API). */
#ifndef ICTAL_SERVER_INTERNAL_H
#define ICTAL_SERVER_INTERNAL_H

#include <signal.h>
#include <stdint.h>

#include <jansson.h>
#include <libwebsockets.h>

#include "ictal/model.h"
#include "ictal/server.h"
#include "ictal/wire.h"
#include "server/analysis.h"
#include "server/hasher.h"
#include "server/netaddr.h"
#include "server/recorder.h"
#include "server/seslog.h"
#include "server/store.h"
#include "server/syncer.h"
#include "server/webhook.h"

#define ICTAL__ID_MAX 64
#define ICTAL__HISTORY_HOPS 1200   /* 10 minutes of hops at 0.5 s for the timeline */
#define ICTAL__BODY_MAX 65536      /* HTTP request body limit */
#define ICTAL__DASH_QUEUE_MAX 256  /* queued messages per dashboard before live data drops */
#define ICTAL__LAT_BUCKETS 9
#define ICTAL__LOGIN_SLOTS 256     /* source addresses whose failed sign-ins are counted */
#define ICTAL__LOGIN_FAILS_MAX 5   /* failed sign-ins per address and window ... */
#define ICTAL__LOGIN_WINDOW_S 60   /* ... before it gets 429 until the window ends */
#define ICTAL__AUTH_JOBS_MAX 16    /* sign-ins, user creations and password changes hashing
                                      at once (beyond: 503) */

/* A queued outgoing WebSocket message (LWS_PRE bytes of headroom before data). */
typedef struct ictal__msg {
    struct ictal__msg *next;
    size_t len;
    int64_t decided_us;   /* alarm messages: when the detector decided (monotonic) */
    int kind;             /* ICTAL__MSG_*: how a dashboard queue treats it */
    unsigned char buf[];  /* LWS_PRE + len */
} ictal__msg;

enum { ICTAL__MSG_LIVE = 0, ICTAL__MSG_ALARM = 1, ICTAL__MSG_STATUS = 2 };

typedef struct ictal__msgq {
    ictal__msg *head, *tail;
    int n;
} ictal__msgq;

typedef struct ictal__hist {
    float t_s, prob, burden;
} ictal__hist;

/* One device stream (a session), kept across reconnects. */
typedef struct ictal__stream {
    struct ictal__stream *next;
    ictal_server *srv;
    char device_id[ICTAL__ID_MAX + 1];
    char stream_id[ICTAL__ID_MAX + 1];
    char firmware[ICTAL__ID_MAX + 1];
    int64_t session_id;
    int n_channels;
    double rate_hz;
    json_t *labels;
    char log_path[4096];
    ictal__seslog log;
    char edf_path[4096];        /* sessions/<id>.edf, written live (recorder.h) */
    ictal__recorder *rec;       /* NULL until the first frame, or after a write failed */
    char hops_path[4096];       /* sessions/<id>.hops (hoplog.h) */
    int hops_fd;                /* -1 after a write failed */
    int rec_failed;
    uint32_t open_event;        /* detector event of the last alarm raised ... */
    int64_t open_alarm_id;      /* ... and its alarm row (for the resolve annotation) */
    ictal__analysis *an;
    int64_t start_time_us;
    struct ictal__devconn *conn; /* the device connection, or NULL */
    double bucket_samples, bucket_frames;
    int64_t bucket_us;
    ictal__hop_info last_hop;
    int have_hop;
    ictal__hist hist[ICTAL__HISTORY_HOPS];
    int hist_n, hist_head;
    int replaying;
    int64_t last_rx_us;         /* monotonic time of the last frame */
    int64_t disconnected_us;
    int64_t synced_seq;         /* last_seq saved to the sessions table */
    int64_t durable_seq;        /* last seq known to be on stable storage: what is acked */
    int sync_pending;           /* a sync of the log is queued on the syncer */
    uint64_t duplicates, seq_gaps, time_gaps;
} ictal__stream;

/*
 * One device connection, whatever carries it (WebSocket: server.c; MQTT: mqtt.c; NATS:
 * natsdev.c). The
 * core (device.c) validates the hello, resumes the session, checks and stores frames,
 * and decides what to send; the transport delivers messages to ictal__devconn_hello /
 * _frame and, after ops->kick, sends every message ictal__devconn_next returns.
 */
#define ICTAL__REORDER_WINDOW 8

typedef struct ictal__devconn ictal__devconn;

typedef struct ictal__devconn_ops {
    void (*kick)(ictal__devconn *c); /* messages are waiting: call ictal__devconn_next */
    void (*drop)(ictal__devconn *c); /* another connection of the device took over */
} ictal__devconn_ops;

struct ictal__devconn {
    ictal_server *srv;
    const ictal__devconn_ops *ops;
    void *user;                 /* the transport's */
    const char *transport;      /* for log lines */
    ictal__stream *st;          /* NULL until the hello, or once superseded */
    ictal__msgq out;            /* welcome, gap, error (acks are made when sent) */
    int64_t acked;              /* last seq acknowledged to the device */
    int64_t gap_expected;       /* a "gap" was sent for this expected seq: send it only once */
    /* Frames that arrived ahead of a missing one (reordered on their way), held until
     * the hole is filled: slot seq % ICTAL__REORDER_WINDOW. */
    uint8_t *held[ICTAL__REORDER_WINDOW];
    size_t held_len[ICTAL__REORDER_WINDOW];
    uint64_t held_seq[ICTAL__REORDER_WINDOW];
    int hello_done;
    int close_status;           /* non-zero: rejected; close (WebSocket status) once the
                                   queue is sent */
    char close_reason[124];
};

void ictal__devconn_init(ictal__devconn *c, ictal_server *srv, const ictal__devconn_ops *ops,
                         void *user);
/* The hello (JSON text). must_device: the device id the transport knows (MQTT topic), or
 * NULL. Errors are queued as messages and set close_status; returns 0 or -1 (no memory). */
int ictal__devconn_hello(ictal__devconn *c, const char *txt, size_t len, const char *must_device);
/* One binary frame message. Same return convention. */
int ictal__devconn_frame(ictal__devconn *c, const uint8_t *buf, size_t len);
/* Queues {"type":"error"} and sets close_status; returns 0. */
int ictal__devconn_reject(ictal__devconn *c, int status, const char *code, const char *fmt, ...)
    ICTAL_PRINTF(4, 5);
/* The next message to send (caller frees), the queued ones first, then an ack when one is
 * due; NULL: nothing. */
ictal__msg *ictal__devconn_next(ictal__devconn *c);
int ictal__devconn_ack_due(const ictal__devconn *c);
/* The connection ended: the stream is detached (kept for a resume), c is reset as by
 * ictal__devconn_init. */
void ictal__devconn_close(ictal__devconn *c);
int ictal__device_id_valid(const char *s);

typedef struct ictal__dash {
    struct ictal__dash *next;
    struct lws *wsi;
    int role;
    char token_id[17];          /* the id of the token it signed in with (revocation) */
    char sub[ICTAL__ID_MAX + 1];
    ictal__msgq out;
} ictal__dash;

/* Failed sign-ins from one source address in the current window. */
typedef struct ictal__login_fails {
    char addr[64];
    int64_t window_start_us;    /* monotonic */
    int n;
} ictal__login_fails;

/* What a request waiting for the hasher does (api.c). */
enum {
    ICTAL__AUTH_LOGIN = 0,      /* POST /api/login: verify, then open a session */
    ICTAL__AUTH_USER_NEW,       /* POST /api/users: hash, then insert the user */
    ICTAL__AUTH_PW_SELF,        /* a user's own password change: verify the current one
                                   (throttled like a sign-in), then hash the new one */
    ICTAL__AUTH_PW_SET          /* an admin sets a user's password: hash the new one */
};

/* A sign-in, user creation or password change waiting for the hasher thread (api.c). */
typedef struct ictal__auth_req {
    uint64_t id;                /* 0: a free slot */
    struct lws *wsi;            /* the client, NULL once it has gone (CLOSED_HTTP) */
    int kind;                   /* ICTAL__AUTH_* */
    int op;                     /* ICTAL__HASH_*: the hasher's current job */
    char name[ICTAL_USER_NAME_MAX + 1];
    int role;                   /* POST /api/users: the new user's role */
    char addr[64];              /* sign-ins: the source address (throttle) */
    int waiting;                /* a sign-in not yet on the hasher: its address has as
                                   many in flight as it has failures left (api.c) */
    char password[ICTAL_PASSWORD_MAX + 1]; /* a waiting sign-in's (wiped once hashed) */
    char new_password[ICTAL_PASSWORD_MAX + 1]; /* PW_SELF: hashed once the current one
                                                  checks out (wiped then) */
    char keep_id[17];           /* PW_SELF: the session that asked (kept signed in) */
} ictal__auth_req;

struct ictal_server {
    ictal_server_options opt;
    char data_dir[1024];
    char web_dir[4096];
    char token_path[4200];
    char host[256];
    struct lws_context *ctx;
    struct lws_http_mount mounts[3];
    struct lws_protocols protocols[4];
    ictal__store store;
    ictal__webhook *webhook;
    ictal__syncer *syncer;
    ictal__hasher *hasher;
    struct ictal__mqtt *mqtt;   /* device ingest over MQTT (mqtt.h), or NULL */
    struct ictal__nats *nats;   /* device ingest over NATS JetStream (natsdev.h), or NULL */
    ictal__auth_req auth_reqs[ICTAL__AUTH_JOBS_MAX];
    uint64_t auth_next_id;
    ictal__stream *streams;
    ictal__dash *dashes;
    int port;
    volatile sig_atomic_t stop;
    lws_sorted_usec_list_t sul_tick, sul_webhook;
    int64_t started_us;
    unsigned ticks;
    float *decode_uv;           /* shared scratch: one frame decoded (single thread) */
    float *montage_uv;          /* shared scratch: that frame in the montage */
    unsigned char *model_bytes; /* the model file, viewed by model */
    ictal_model model;
    int have_model;
    /* Metrics. */
    uint64_t frames_total, samples_total, bytes_total, rejected_total, duplicates_total;
    uint64_t seq_gaps_total, time_gaps_total, alarms_total, hellos_total, auth_failures;
    uint64_t logins_total, login_failures_total, logins_throttled_total;
    uint64_t auth_busy_total, auth_abandoned_total, password_changes_total;
    ictal__login_fails login_fails[ICTAL__LOGIN_SLOTS];
    ictal__proxies proxies;     /* --trust-proxy (netaddr.h) */
    int device_conns, dash_conns;
    uint64_t lat_count, lat_bucket[ICTAL__LAT_BUCKETS];
    double lat_sum_s;
    double lat_recent[4096];
    int lat_recent_n;
};

extern const double ictal__lat_bounds_s[ICTAL__LAT_BUCKETS];

/* Message queues (server.c): a message carries LWS_PRE bytes of headroom. */
ictal__msg *ictal__msg_new(const char *data, size_t len);
void ictal__msgq_push(ictal__msgq *q, ictal__msg *m);
ictal__msg *ictal__msgq_pop(ictal__msgq *q);
void ictal__msgq_free(ictal__msgq *q);

/* Streams (server.c). _open opens or resumes the stream of a hello (a resume after a
 * restart replays its log through the detector); _analyse runs one stored frame through
 * recording and detector (expected_time_us: where it should start, INT64_MIN: unknown);
 * _sync hands the log to the syncer and writes the progress to the database. */
int ictal__stream_open(ictal_server *srv, const char *device_id, const char *stream_id,
                       json_t *labels, double rate_hz, const char *firmware, int64_t start_us,
                       ictal__stream **out, ictal_diag *d);
void ictal__stream_analyse(ictal__stream *st, const ictal_wire_frame *f, int64_t expected_time_us);
void ictal__stream_sync(ictal__stream *st);

int64_t ictal__mono_us(void);
void ictal__log(ictal_server *srv, const char *fmt, ...) ICTAL_PRINTF(2, 3);

/* Queues a JSON message for one dashboard / every dashboard (those subscribed to
 * device when only_sub). json is borrowed. decided_us > 0 marks alarm messages. */
void ictal__dash_send(ictal__dash *d, json_t *j, int64_t decided_us);
void ictal__dash_broadcast(ictal_server *srv, json_t *j, const char *only_sub, int64_t decided_us);

/* Live state of every stream as JSON (for /api/status and the dashboards). */
json_t *ictal__status_json(ictal_server *srv, int compact);
json_t *ictal__stream_history_json(const ictal__stream *st);
ictal__stream *ictal__stream_find(ictal_server *srv, const char *device_id);

/* Signs out every dashboard whose token no longer counts (logged out, user disabled,
 * password changed, token revoked, session expired): it gets
 * {"type":"auth","role":"none"} and no more data. One whose user's role changed gets
 * {"type":"auth","role":<new>,"name"} and keeps its data. */
void ictal__dash_recheck(ictal_server *srv);

/* Called on the loop when the syncer woke it (LWS_CALLBACK_EVENT_WAIT_CANCELLED). */
void ictal__server_wake(ictal_server *srv);

/* HTTP API (api.c). ictal__auth_done completes the requests whose hashes are ready
 * (called on the loop when the hasher woke it). */
void ictal__auth_done(ictal_server *srv);
int ictal__http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len);
size_t ictal__http_pss_size(void);
char *ictal__metrics_text(ictal_server *srv);

#endif
