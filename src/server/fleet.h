/*
 * A fleet of simulated devices: N WebSocket clients in one libwebsockets event loop (or
 * N MQTT clients driven from its timer, or N devices publishing to NATS JetStream over
 * one connection),
 * each streaming the same recording as a device would (docs/protocol.md), used by
 * `ictal replay`, the protocol tests and the benchmark. Each device resumes after a
 * dropped connection from the server's acknowledgement, and faults can be injected:
 * dropped connections, stalls, reordered frames, and arbitrary frame corruption
 * (tests).
 */
#ifndef ICTAL_SERVER_FLEET_H
#define ICTAL_SERVER_FLEET_H

#include <stddef.h>
#include <stdint.h>

#include "ictal/error.h"

/* Frames a device sends past its last acknowledgement at most (then it waits). */
#define ICTAL__FLEET_WINDOW_FRAMES 256

/* What every device streams: frames of samples_per_frame samples, int16 with a scale. */
typedef struct ictal__sim_source {
    int n_channels;
    double rate_hz;
    char **labels;             /* [n_channels] */
    uint32_t samples_per_frame;
    size_t n_frames;
    uint8_t **frames;          /* [n_frames] encoded wire frames, seq = index, time from 0 */
    size_t *frame_bytes;
} ictal__sim_source;

/* Builds a source from frame-major µV samples (n_samples frames of n_channels).
 * The int16 scale is chosen per recording from its largest magnitude. */
int ictal__sim_source_from_uv(ictal__sim_source *src, const float *uv, size_t n_samples,
                              int n_channels, const char *const *labels, double rate_hz,
                              uint32_t samples_per_frame);
void ictal__sim_source_free(ictal__sim_source *src);

/* Test hook: may rewrite the outgoing frame of a device in place (or return a new
 * length up to cap); returning 0 sends it unchanged. */
typedef size_t (*ictal__fleet_mutate_fn)(void *user, int device, uint64_t seq, uint8_t *frame,
                                         size_t len, size_t cap);

typedef struct ictal__fleet_options {
    const char *host;          /* NULL: 127.0.0.1 */
    int port;
    int tls;                   /* non-zero: wss:// (or MQTT over TLS) */
    int mqtt;                  /* non-zero: over MQTT, host:port being the broker's
                                  (docs/protocol.md); every device its own client */
    const char *mqtt_user;     /* broker credentials (MQTT or NATS); NULL: anonymous */
    const char *mqtt_password;
    const char *nats_url;      /* non-NULL: over NATS JetStream instead (nats://HOST:PORT;
                                  docs/protocol.md), the fleet being one connection */
    const char *nats_creds_file; /* NATS credentials file, or NULL */
    const char *ca_file;       /* wss, MQTT or NATS over TLS: PEM file of the CA (or self-signed
                                  certificate) to trust; NULL: the system's (wss only) */
    int n_devices;             /* 0: 1 */
    const char *device_prefix; /* device i is "<prefix>-<i>"; NULL: "sim" */
    const char *token;         /* NULL: "sim-token-<device id>" */
    const char *stream_id;     /* NULL: "replay-<unix seconds>" */
    const char *firmware;      /* NULL: "ictal-replay/0.1.0" */
    double speed;              /* x real time; <= 0: as fast as acks allow */
    int64_t start_time_us;     /* device time of the first sample; 0: now */
    double timeout_s;          /* give up after; 0: no limit */
    double drain_s;            /* at the timeout, send no new frame and wait up to drain_s
                                  for every frame sent to be acknowledged (resending what a
                                  reconnect needs), then stop; 0: stop at once */
    /* Faults. */
    double drop_every_s;       /* close each connection after this long (0: never) */
    double reconnect_delay_s;  /* wait before reconnecting; 0: 0.2 */
    double stall_every_s;      /* stop sending for stall_s every stall_every_s (0: never) */
    double stall_s;
    double reorder_prob;       /* chance to swap a frame with the next one (WebSocket) */
    uint32_t seed;
    ictal__fleet_mutate_fn mutate;
    void *mutate_user;
    double spread_s;           /* device i streams the source starting spread_s * i / N
                                  seconds in (wrapping around), so that N devices are not
                                  in lockstep (0: all from the start) */
    size_t stop_after_frames;  /* stop the whole fleet once this many frames are acked in
                                  total: no frame is sent after the ack that reaches it, so
                                  a device sent at most stop_after_frames - 1 +
                                  ICTAL__FLEET_WINDOW_FRAMES (0: stream everything) */
    int quiet;
} ictal__fleet_options;

typedef struct ictal__fleet_result {
    int devices_done;          /* devices whose every frame was acknowledged */
    uint64_t frames_sent, frames_resent, acks, reconnects, gaps, welcomes;
    uint64_t frames_distinct;  /* distinct sequence numbers sent, over all devices */
    uint64_t frames_unacked;   /* of those, not acknowledged when the run ended */
    int64_t last_welcome_ack;  /* device 0: ack in its last welcome */
    int64_t last_ack;          /* device 0: highest ack */
    int last_close_code;       /* device 0: close status sent by the server, or 0 */
    char last_error[256];      /* device 0: the server's last error message (or, over NATS,
                                  the stream's last refusal of a publish) */
    uint64_t publish_errors;   /* NATS: publishes JetStream refused (error PubAcks) */
    double elapsed_s;
} ictal__fleet_result;

/* Runs until every device is done, a device is rejected (no retry), or the timeout.
 * Returns 0, or ICTAL_ETRUNC on timeout, ICTAL_EFORMAT when a device was rejected. */
int ictal__fleet_run(const ictal__sim_source *src, const ictal__fleet_options *opt,
                     ictal__fleet_result *res);

#endif

/*
 * Builds a source from any recording ictal reads (ictal/recording.h: EDF family,
 * .npy, text, CSV): the channels named in channels (a comma-separated list of labels
 * as the file names them; NULL: all, at most 32), frame_ms of samples per frame. The
 * rate must be a whole number of Hz in 100..2048 (the protocol's rule).
 */
int ictal__sim_source_from_file(ictal__sim_source *src, const char *path, const char *channels,
                                double frame_ms, ictal_diag *d);
