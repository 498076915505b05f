/* Simulated devices over WebSocket, MQTT or NATS JetStream (fleet.h). */
#include "server/fleet.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <jansson.h>
#include <libwebsockets.h>
#include <mosquitto.h>
#include <nats/nats.h>
#include <pthread.h>

#include "ictal/recording.h"
#include "ictal/wire.h"

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* --- sources ----------------------------------------------------------------------------- */

int ictal__sim_source_from_uv(ictal__sim_source *src, const float *uv, size_t n_samples,
                              int n_channels, const char *const *labels, double rate_hz,
                              uint32_t spf)
{
    memset(src, 0, sizeof *src);
    if (n_channels < 1 || n_channels > ICTAL_WIRE_MAX_CHANNELS || spf < 1 || n_samples < spf ||
        ictal_wire_frame_bytes(ICTAL_WIRE_INT16, n_channels, spf) == 0)
        return ICTAL_EINVAL;
    float peak = 0;
    for (size_t i = 0; i < n_samples * (size_t)n_channels; i++)
        if (isfinite(uv[i]) && fabsf(uv[i]) > peak)
            peak = fabsf(uv[i]);
    float scale = peak > 0 ? peak / 32767.0f : 1.0f;
    src->n_channels = n_channels;
    src->rate_hz = rate_hz;
    src->samples_per_frame = spf;
    src->n_frames = n_samples / spf;
    src->labels = calloc((size_t)n_channels, sizeof *src->labels);
    src->frames = calloc(src->n_frames, sizeof *src->frames);
    src->frame_bytes = calloc(src->n_frames, sizeof *src->frame_bytes);
    int16_t *payload = malloc((size_t)spf * (size_t)n_channels * 2);
    if (!src->labels || !src->frames || !src->frame_bytes || !payload) {
        free(payload);
        ictal__sim_source_free(src);
        return ICTAL_ENOMEM;
    }
    for (int c = 0; c < n_channels; c++)
        src->labels[c] = strdup(labels[c]);
    size_t bytes = ictal_wire_frame_bytes(ICTAL_WIRE_INT16, n_channels, spf);
    for (size_t k = 0; k < src->n_frames; k++) {
        const float *x = uv + k * spf * (size_t)n_channels;
        for (size_t i = 0; i < (size_t)spf * (size_t)n_channels; i++) {
            float v = isfinite(x[i]) ? x[i] / scale : 0;
            long q = lroundf(v);
            q = q > 32767 ? 32767 : q < -32768 ? -32768 : q;
            int16_t s = (int16_t)q;
            /* Little-endian on the wire whatever the host. */
            uint8_t *b = (uint8_t *)&payload[i];
            b[0] = (uint8_t)((uint16_t)s & 0xff);
            b[1] = (uint8_t)((uint16_t)s >> 8);
        }
        ictal_wire_frame f = {k, (int64_t)llround((double)k * spf * 1e6 / rate_hz),
                              ICTAL_WIRE_INT16, n_channels, spf, scale, (const uint8_t *)payload,
                              bytes - ICTAL_WIRE_HEADER_BYTES};
        src->frames[k] = malloc(bytes);
        if (src->frames[k] == NULL) {
            free(payload);
            ictal__sim_source_free(src);
            return ICTAL_ENOMEM;
        }
        ictal_wire_encode(src->frames[k], bytes, &f);
        src->frame_bytes[k] = bytes;
    }
    free(payload);
    return 0;
}

void ictal__sim_source_free(ictal__sim_source *src)
{
    for (int c = 0; src->labels && c < src->n_channels; c++)
        free(src->labels[c]);
    for (size_t k = 0; src->frames && k < src->n_frames; k++)
        free(src->frames[k]);
    free(src->labels);
    free(src->frames);
    free(src->frame_bytes);
    memset(src, 0, sizeof *src);
}

int ictal__sim_source_from_file(ictal__sim_source *src, const char *path, const char *channels,
                                double frame_ms, ictal_diag *d)
{
    ictal_recording *r = NULL;
    int rc = ictal_recording_open(&r, path, NULL, d);
    if (rc != 0)
        return rc;
    const ictal_recording_info *info = ictal_recording_get_info(r);
    int n_in = info->n_channels;
    double rate = info->sample_rate_hz;
    int sel[ICTAL_WIRE_MAX_CHANNELS], n = 0;
    if (channels && channels[0]) {
        char *copy = strdup(channels), *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t && rc == 0; t = strtok_r(NULL, ",", &save)) {
            int s = -1;
            for (int c = 0; c < n_in && s < 0; c++)
                if (strcmp(info->labels[c], t) == 0)
                    s = c;
            if (s < 0)
                rc = ictal_diag_error(d, ICTAL_ENOENT, "%s: no channel labelled \"%s\"", path, t);
            else if (n == ICTAL_WIRE_MAX_CHANNELS)
                rc = ictal_diag_error(d, ICTAL_ERANGE, "more than 32 channels selected");
            else
                sel[n++] = s;
        }
        free(copy);
    } else if (n_in > ICTAL_WIRE_MAX_CHANNELS) {
        rc = ictal_diag_error(d, ICTAL_ERANGE,
                              "%s: %d channels, a device sends at most 32: choose with --channels",
                              path, n_in);
    } else {
        for (int c = 0; c < n_in; c++)
            sel[n++] = c;
    }
    if (rc == 0 && !(rate >= 100 && rate <= 2048 && rate == floor(rate)))
        rc = ictal_diag_error(d, ICTAL_ENOTSUP,
                              "%s: %g Hz; the device protocol needs a whole number of Hz in"
                              " 100..2048", path, rate);
    /* Read everything (recordings replayed are minutes to hours long). */
    float *all = NULL, *chunk = NULL;
    size_t total = 0, cap = 0;
    const size_t step = 65536;
    if (rc == 0 && (chunk = malloc(step * (size_t)n_in * sizeof *chunk)) == NULL)
        rc = ICTAL_ENOMEM;
    while (rc == 0) {
        int64_t got = ictal_recording_read(r, chunk, (int64_t)step, d);
        if (got < 0) {
            rc = (int)got;
            break;
        }
        if (got == 0)
            break;
        if (total + (size_t)got > cap) {
            cap = (total + (size_t)got) * 2;
            float *na = realloc(all, cap * (size_t)n * sizeof *all);
            if (na == NULL) {
                rc = ICTAL_ENOMEM;
                break;
            }
            all = na;
        }
        for (int64_t f = 0; f < got; f++)
            for (int k = 0; k < n; k++)
                all[(total + (size_t)f) * (size_t)n + (size_t)k] = chunk[(size_t)f * (size_t)n_in + (size_t)sel[k]];
        total += (size_t)got;
    }
    const char *labels[ICTAL_WIRE_MAX_CHANNELS];
    for (int k = 0; rc == 0 && k < n; k++)
        labels[k] = info->labels[sel[k]];
    uint32_t spf = (uint32_t)lround(rate * frame_ms / 1000.0);
    if (spf < 1)
        spf = 1;
    if (rc == 0)
        rc = ictal__sim_source_from_uv(src, all, total, n, labels, rate, spf);
    if (rc == ICTAL_EINVAL)
        rc = ictal_diag_error(d, ICTAL_EINVAL, "%s: frames of %.0f ms do not fit the protocol,"
                              " or the recording is shorter than one frame", path, frame_ms);
    free(chunk);
    free(all);
    ictal_recording_close(r);
    return rc;
}

/* --- the fleet --------------------------------------------------------------------------- */

typedef struct fleet fleet;

typedef struct simdev {
    fleet *fl;
    int idx;
    char id[96];
    char token[160];
    struct lws *wsi;
    int welcomed, hello_sent, want_drop, done, failed, closing;
    int64_t failed_us;
    size_t src_offset;          /* source frame streamed as seq 0 */
    uint64_t next_send;
    uint64_t max_sent_plus1;
    int64_t acked;
    int64_t swap_pending;
    int64_t conn_us, reconnect_at_us, t0_us, next_stall_us, stall_until_us;
    uint8_t *buf;
    /* MQTT: the device's own client (driven from fleet_tick, no thread). */
    struct mosquitto *mq;
    int mq_open;                /* connect sent, until the connection is lost or dropped */
    int mq_up;                  /* CONNACK received */
    int64_t hello_at_us, progress_us;
    /* NATS: the fleet's one connection (a gateway for every device). */
    int nt_up;                  /* "connected": hellos and frames may be published */
} simdev;

/* A ctl message for a device over NATS, from nats.c's thread to the loop. */
typedef struct nt_ctl {
    struct nt_ctl *next;
    int device;
    size_t len;
    char data[];
} nt_ctl;

struct fleet {
    const ictal__sim_source *src;
    ictal__fleet_options opt;
    ictal__fleet_result *res;
    struct lws_context *ctx;
    simdev *devs;
    char stream_id[80];
    int finished;
    int64_t drain_until_us;     /* non-zero: draining (no new frames) until then */
    uint64_t acked_total;
    uint32_t rng;
    int64_t started_us;
    lws_sorted_usec_list_t sul;
    /* NATS. */
    natsConnection *nc;
    jsCtx *js;
    natsSubscription *ctl_sub;
    pthread_mutex_t nt_mu;
    pthread_cond_t nt_done;
    int nt_sub_done;            /* the ctl subscription's last callback ran */
    nt_ctl *nt_head, *nt_tail;
    uint64_t nt_pub_errors, nt_pub_errors_told; /* error PubAcks (nats.c's thread), under nt_mu */
    char nt_pub_error[200];     /* the last one's text, under nt_mu */
};

static double frnd(fleet *fl)
{
    fl->rng = fl->rng * 1664525u + 1013904223u;
    return (double)(fl->rng >> 8) / 16777216.0;
}

static int64_t frame_due_us(const simdev *dv, uint64_t k)
{
    const ictal__sim_source *s = dv->fl->src;
    if (dv->fl->opt.speed <= 0)
        return dv->t0_us;
    return dv->t0_us + (int64_t)((double)(k + 1) * s->samples_per_frame * 1e6 / s->rate_hz /
                                 dv->fl->opt.speed);
}

/* The acks reached stop_after_frames: the fleet sends nothing more. */
static int stopping(const fleet *fl)
{
    return fl->opt.stop_after_frames && fl->acked_total >= fl->opt.stop_after_frames;
}

static int can_send(const simdev *dv, int64_t now)
{
    const ictal__sim_source *s = dv->fl->src;
    if (!dv->welcomed || dv->done || dv->failed || stopping(dv->fl))
        return 0;
    if (dv->swap_pending >= 0)
        return 1;
    if (dv->next_send >= s->n_frames || now < dv->stall_until_us)
        return 0;
    if (dv->fl->drain_until_us && dv->next_send >= dv->max_sent_plus1)
        return 0; /* draining: only resends */
    if ((int64_t)dv->next_send - dv->acked > ICTAL__FLEET_WINDOW_FRAMES)
        return 0;
    return now >= frame_due_us(dv, dv->next_send);
}

static void dev_connect(simdev *dv)
{
    fleet *fl = dv->fl;
    struct lws_client_connect_info i;
    memset(&i, 0, sizeof i);
    i.context = fl->ctx;
    i.address = fl->opt.host ? fl->opt.host : "127.0.0.1";
    i.port = fl->opt.port;
    i.path = "/device";
    i.host = i.address;
    i.origin = i.address;
    i.protocol = "ictal-device-v1";
    i.local_protocol_name = "ictal-device-v1";
    i.opaque_user_data = dv;
    if (fl->opt.tls)
        i.ssl_connection = LCCSCF_USE_SSL;
    dv->welcomed = dv->hello_sent = dv->want_drop = dv->closing = 0;
    dv->swap_pending = -1;
    dv->conn_us = mono_us();
    dv->wsi = lws_client_connect_via_info(&i);
    if (dv->wsi == NULL) {
        dv->wsi = NULL;
        dv->reconnect_at_us = mono_us() + 500000;
    }
}

/* Writes frame k of the device (its seq, its clock, the test's mutation) at p; returns
 * its length. */
static size_t dev_build_frame(simdev *dv, uint64_t k, uint8_t *p)
{
    fleet *fl = dv->fl;
    const ictal__sim_source *s = fl->src;
    size_t src_k = (k + dv->src_offset) % s->n_frames;
    size_t len = s->frame_bytes[src_k];
    memcpy(p, s->frames[src_k], len);
    for (int b = 0; b < 8; b++)
        p[8 + b] = (uint8_t)(k >> (8 * b));
    /* The device's clock: the source's offset plus this fleet's start time. */
    int64_t t = fl->opt.start_time_us + (int64_t)llround((double)k * s->samples_per_frame * 1e6 /
                                                          s->rate_hz);
    for (int b = 0; b < 8; b++)
        p[16 + b] = (uint8_t)((uint64_t)t >> (8 * b));
    if (fl->opt.mutate) {
        size_t n = fl->opt.mutate(fl->opt.mutate_user, dv->idx, k, p, len,
                                  ICTAL_WIRE_MAX_FRAME_BYTES + 64);
        if (n)
            len = n;
    }
    return len;
}

static void dev_count_sent(simdev *dv, uint64_t k)
{
    fleet *fl = dv->fl;
    fl->res->frames_sent++;
    if (k + 1 <= dv->max_sent_plus1)
        fl->res->frames_resent++;
    else
        dv->max_sent_plus1 = k + 1;
}

static void dev_send_frame(simdev *dv, struct lws *wsi, uint64_t k)
{
    uint8_t *p = dv->buf + LWS_PRE;
    size_t len = dev_build_frame(dv, k, p);
    if (lws_write(wsi, p, len, LWS_WRITE_BINARY) < 0)
        return;
    dev_count_sent(dv, k);
}

/* The hello (malloc'd JSON text). */
static char *dev_hello_text(const simdev *dv)
{
    const fleet *fl = dv->fl;
    const ictal__sim_source *s = fl->src;
    json_t *ch = json_array();
    for (int c = 0; c < s->n_channels; c++)
        json_array_append_new(ch, json_string(s->labels[c]));
    json_t *h = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:f, s:I}", "type", "hello", "device_id",
                          dv->id, "token", dv->token, "stream_id", fl->stream_id, "firmware",
                          fl->opt.firmware ? fl->opt.firmware : "ictal-replay/0.1.0", "channels",
                          ch, "rate_hz", s->rate_hz, "start_time_us",
                          (json_int_t)fl->opt.start_time_us);
    char *txt = json_dumps(h, JSON_COMPACT);
    json_decref(h);
    return txt;
}

static void dev_text(simdev *dv, const char *txt, size_t len)
{
    fleet *fl = dv->fl;
    json_t *j = json_loadb(txt, len, 0, NULL);
    const char *type = json_string_value(json_object_get(j, "type"));
    if (type == NULL) {
        json_decref(j);
        return;
    }
    if (strcmp(type, "welcome") == 0) {
        int64_t ack = json_integer_value(json_object_get(j, "ack"));
        dv->acked = ack;
        dv->next_send = (uint64_t)(ack + 1);
        dv->welcomed = 1;
        fl->res->welcomes++;
        if (dv->idx == 0) {
            fl->res->last_welcome_ack = ack;
            if (ack > fl->res->last_ack)
                fl->res->last_ack = ack;
        }
        if ((size_t)(ack + 1) >= fl->src->n_frames && !dv->done) {
            dv->done = 1; /* the server has everything already */
            fl->res->devices_done++;
            dv->closing = 1;
        }
    } else if (strcmp(type, "ack") == 0) {
        int64_t seq = json_integer_value(json_object_get(j, "seq"));
        fl->res->acks++;
        if (seq > dv->acked) {
            fl->acked_total += (uint64_t)(seq - dv->acked);
            dv->acked = seq;
        }
        if (dv->idx == 0 && seq > fl->res->last_ack)
            fl->res->last_ack = seq;
        if ((size_t)(dv->acked + 1) >= fl->src->n_frames && !dv->done) {
            dv->done = 1;
            fl->res->devices_done++;
            dv->closing = 1;
        }
    } else if (strcmp(type, "gap") == 0) {
        uint64_t e = (uint64_t)json_integer_value(json_object_get(j, "expected"));
        fl->res->gaps++;
        if (e < dv->next_send)
            dv->next_send = e;
    } else if (strcmp(type, "error") == 0) {
        /* The server closes the connection next, with a status: wait for it. */
        dv->failed = 1;
        dv->failed_us = mono_us();
        if (!fl->opt.quiet)
            fprintf(stderr, "ictal replay: %s: server error: %s: %s\n", dv->id,
                    json_string_value(json_object_get(j, "code")),
                    json_string_value(json_object_get(j, "message")));
        if (dv->idx == 0)
            snprintf(fl->res->last_error, sizeof fl->res->last_error, "%s: %s",
                     json_string_value(json_object_get(j, "code")),
                     json_string_value(json_object_get(j, "message")));
    }
    json_decref(j);
}

static int cb_client(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len)
{
    (void)user;
    simdev *dv = lws_get_opaque_user_data(wsi);
    if (dv == NULL)
        return 0;
    fleet *fl = dv->fl;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        lws_callback_on_writable(wsi);
        break;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (!lws_frame_is_binary(wsi))
            dev_text(dv, in, len);
        if (dv->closing || (dv->welcomed && can_send(dv, mono_us())))
            lws_callback_on_writable(wsi);
        break;
    case LWS_CALLBACK_CLIENT_WRITEABLE: {
        if (dv->want_drop || dv->closing)
            return -1;
        if (!dv->hello_sent) {
            char *txt = dev_hello_text(dv);
            if (txt == NULL)
                return -1;
            size_t n = strlen(txt);
            memcpy(dv->buf + LWS_PRE, txt, n);
            free(txt);
            if (lws_write(wsi, dv->buf + LWS_PRE, n, LWS_WRITE_TEXT) < 0)
                return -1;
            dv->hello_sent = 1;
            break;
        }
        int64_t now = mono_us();
        if (!can_send(dv, now))
            break;
        if (dv->swap_pending >= 0) {
            uint64_t k = (uint64_t)dv->swap_pending;
            dv->swap_pending = -1;
            dev_send_frame(dv, wsi, k);
        } else {
            uint64_t k = dv->next_send;
            if (fl->opt.reorder_prob > 0 && k + 1 < fl->src->n_frames &&
                now >= frame_due_us(dv, k + 1) && frnd(fl) < fl->opt.reorder_prob) {
                dev_send_frame(dv, wsi, k + 1);
                dv->swap_pending = (int64_t)k;
                dv->next_send = k + 2;
            } else {
                dev_send_frame(dv, wsi, k);
                dv->next_send = k + 1;
            }
        }
        if (can_send(dv, now))
            lws_callback_on_writable(wsi);
        break;
    }
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (dv->idx == 0 && len >= 2) {
            const uint8_t *b = in;
            fl->res->last_close_code = (b[0] << 8) | b[1];
        }
        break;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (dv->wsi == wsi) {
            dv->wsi = NULL;
            if (!dv->done && !dv->failed) {
                double delay = fl->opt.reconnect_delay_s > 0 ? fl->opt.reconnect_delay_s : 0.2;
                dv->reconnect_at_us = mono_us() + (int64_t)(delay * 1e6);
                fl->res->reconnects++;
            }
        }
        break;
    default:
        break;
    }
    return 0;
}

/* --- devices over MQTT ----------------------------------------------------------------------- */

/*
 * Each simulated device is its own MQTT client (clean session), driven from fleet_tick
 * with mosquitto_loop (no thread). It subscribes to its ctl topic, publishes the hello,
 * and streams frames once a welcome for its stream id arrives. It says hello again when
 * no welcome comes within 2 s (the server was away from the broker), when the server
 * answers "no_hello" (it lost the device's connection), and when acks stop for 3 s while
 * frames are unacknowledged; a welcome's ack is always safe to resume from.
 */
static void mq_topic(char *out, size_t size, const simdev *dv, const char *leaf)
{
    snprintf(out, size, "ictal/v1/dev/%s/%s", dv->id, leaf);
}

static void mq_hello(simdev *dv)
{
    char topic[160];
    mq_topic(topic, sizeof topic, dv, "hello");
    char *txt = dev_hello_text(dv);
    if (txt == NULL)
        return;
    mosquitto_publish(dv->mq, NULL, topic, (int)strlen(txt), txt, 1, false);
    free(txt);
    dv->hello_sent = 1;
    dv->welcomed = 0;
    dv->hello_at_us = mono_us();
}

static void mq_on_connect(struct mosquitto *mq, void *obj, int rc)
{
    simdev *dv = obj;
    if (rc != 0) {
        if (!dv->fl->opt.quiet)
            fprintf(stderr, "ictal replay: %s: broker refused: %s\n", dv->id,
                    mosquitto_connack_string(rc));
        return;
    }
    char topic[160];
    mq_topic(topic, sizeof topic, dv, "ctl");
    mosquitto_subscribe(mq, NULL, topic, 1);
    dv->mq_up = 1;
    dv->conn_us = mono_us();
    mq_hello(dv); /* after the subscription: the broker handles them in order */
}

/* A message on the device's ctl topic or subject (MQTT, NATS): like dev_text, except
 * that a welcome for another stream is ignored and "no_hello" means say hello again.
 * hello: how this transport says it. */
static void ctl_message(simdev *dv, const char *payload, size_t len, void (*hello)(simdev *))
{
    if (len == 0)
        return;
    json_t *j = json_loadb(payload, len, 0, NULL);
    const char *type = json_string_value(json_object_get(j, "type"));
    const char *code = json_string_value(json_object_get(j, "code"));
    const char *sid = json_string_value(json_object_get(j, "stream_id"));
    int welcome = type && strcmp(type, "welcome") == 0;
    int no_hello = type && code && strcmp(type, "error") == 0 && strcmp(code, "no_hello") == 0;
    int stale = welcome && sid && strcmp(sid, dv->fl->stream_id) != 0;
    json_decref(j);
    if (stale)
        return; /* the answer to another stream's hello */
    if (no_hello) {
        if (!dv->done && !dv->failed)
            hello(dv);
        return;
    }
    int64_t before = dv->acked;
    dev_text(dv, payload, len);
    if (welcome || dv->acked != before)
        dv->progress_us = mono_us();
}

static void mq_on_message(struct mosquitto *mq, void *obj, const struct mosquitto_message *msg)
{
    (void)mq;
    if (msg->payloadlen > 0)
        ctl_message(obj, msg->payload, (size_t)msg->payloadlen, mq_hello);
}

/* Says hello again when no welcome came within 2 s (the server was away) or when acks
 * stopped for 3 s while frames are unacknowledged (MQTT and NATS). */
static void brokered_retry(simdev *dv, int64_t now, void (*hello)(simdev *))
{
    if (dv->hello_sent && !dv->welcomed && now - dv->hello_at_us > 2000000)
        hello(dv);
    if (dv->welcomed && dv->acked + 1 < (int64_t)dv->max_sent_plus1 &&
        now - dv->progress_us > 3000000) {
        hello(dv);
        dv->progress_us = now;
    }
}

/* The connection is gone (lost, or dropped on purpose): reconnect after the delay. */
static void mq_lost(simdev *dv, int64_t now)
{
    fleet *fl = dv->fl;
    dv->mq_open = dv->mq_up = 0;
    dv->welcomed = dv->hello_sent = 0;
    double delay = fl->opt.reconnect_delay_s > 0 ? fl->opt.reconnect_delay_s : 0.2;
    dv->reconnect_at_us = now + (int64_t)(delay * 1e6);
    if (!dv->done && !dv->failed)
        fl->res->reconnects++;
}

static void mq_service(simdev *dv, int64_t now)
{
    fleet *fl = dv->fl;
    if (!dv->mq_open) {
        if (now < dv->reconnect_at_us)
            return;
        if (dv->mq == NULL) {
            char cid[128];
            snprintf(cid, sizeof cid, "ictal-replay-%s", dv->id);
            dv->mq = mosquitto_new(cid, true, dv);
            if (dv->mq == NULL) {
                dv->failed = 1;
                return;
            }
            if (fl->opt.mqtt_user)
                mosquitto_username_pw_set(dv->mq, fl->opt.mqtt_user, fl->opt.mqtt_password);
            if (fl->opt.tls &&
                mosquitto_tls_set(dv->mq, fl->opt.ca_file, NULL, NULL, NULL, NULL) != MOSQ_ERR_SUCCESS) {
                dv->failed = 1;
                snprintf(fl->res->last_error, sizeof fl->res->last_error,
                         "cannot use %s as the broker's CA", fl->opt.ca_file ? fl->opt.ca_file : "-");
                return;
            }
            mosquitto_max_inflight_messages_set(dv->mq, 64);
            mosquitto_connect_callback_set(dv->mq, mq_on_connect);
            mosquitto_message_callback_set(dv->mq, mq_on_message);
        }
        dv->mq_up = dv->welcomed = dv->hello_sent = 0;
        if (mosquitto_connect(dv->mq, fl->opt.host ? fl->opt.host : "127.0.0.1", fl->opt.port,
                              10) != MOSQ_ERR_SUCCESS) {
            dv->reconnect_at_us = now + 500000; /* the broker is down: try again */
            return;
        }
        dv->mq_open = 1;
        dv->conn_us = now;
    }
    if (mosquitto_loop(dv->mq, 0, 1) != MOSQ_ERR_SUCCESS) {
        mq_lost(dv, now);
        return;
    }
    if (!dv->mq_up || dv->done || dv->failed)
        return;
    if (fl->opt.drop_every_s > 0 && dv->welcomed &&
        now - dv->conn_us > (int64_t)(fl->opt.drop_every_s * 1e6)) {
        mosquitto_disconnect(dv->mq);
        mosquitto_loop(dv->mq, 0, 1);
        mq_lost(dv, now);
        return;
    }
    if (fl->opt.stall_every_s > 0 && now >= dv->next_stall_us) {
        dv->stall_until_us = now + (int64_t)(fl->opt.stall_s * 1e6);
        dv->next_stall_us = now + (int64_t)(fl->opt.stall_every_s * 1e6);
    }
    brokered_retry(dv, now, mq_hello);
    char topic[160];
    mq_topic(topic, sizeof topic, dv, "frames");
    for (int n = 0; n < 32 && can_send(dv, now); n++) {
        uint64_t k = dv->next_send;
        uint8_t *p = dv->buf + LWS_PRE;
        size_t len = dev_build_frame(dv, k, p);
        if (mosquitto_publish(dv->mq, NULL, topic, (int)len, p, 1, false) != MOSQ_ERR_SUCCESS)
            break;
        dev_count_sent(dv, k);
        dv->next_send = k + 1;
        if (dv->progress_us < dv->hello_at_us)
            dv->progress_us = now;
    }
}

/* --- devices over NATS JetStream ------------------------------------------------------------ */

/*
 * The fleet is one NATS connection (like a gateway for its devices): each device
 * publishes its hello and frames to JetStream (ictal.v1.dev.ID.hello / .frames, the
 * frames with a Nats-Msg-Id "ID/STREAM/SEQ" so that a resent frame the stream already
 * holds is dropped as a duplicate) and reads its ctl subject; ctl messages cross from
 * nats.c's thread to fleet_tick through a locked list. The hello rules are MQTT's.
 */
static void nt_on_ctl(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc;
    (void)sub;
    fleet *fl = closure;
    const char *subj = natsMsg_GetSubject(msg);
    const char *id = subj + strlen("ictal.v1.ctl.");
    const char *prefix = fl->opt.device_prefix ? fl->opt.device_prefix : "sim";
    size_t pl = strlen(prefix);
    int idx = -1;
    if (strncmp(subj, "ictal.v1.ctl.", 13) == 0 && strncmp(id, prefix, pl) == 0 &&
        id[pl] == '-' && id[pl + 1] >= '0' && id[pl + 1] <= '9') {
        char *end = NULL;
        long i = strtol(id + pl + 1, &end, 10);
        if (*end == 0 && i >= 0 && i < fl->opt.n_devices)
            idx = (int)i;
    }
    size_t len = (size_t)natsMsg_GetDataLength(msg);
    nt_ctl *c = idx >= 0 ? malloc(sizeof *c + len + 1) : NULL;
    if (c) {
        c->next = NULL;
        c->device = idx;
        c->len = len;
        memcpy(c->data, natsMsg_GetData(msg), len);
        c->data[len] = 0;
        pthread_mutex_lock(&fl->nt_mu);
        if (fl->nt_tail)
            fl->nt_tail->next = c;
        else
            fl->nt_head = c;
        fl->nt_tail = c;
        pthread_mutex_unlock(&fl->nt_mu);
    }
    natsMsg_Destroy(msg);
}

static void nt_on_ctl_done(void *closure)
{
    fleet *fl = closure;
    pthread_mutex_lock(&fl->nt_mu);
    fl->nt_sub_done = 1;
    pthread_cond_broadcast(&fl->nt_done);
    pthread_mutex_unlock(&fl->nt_mu);
}

static void nt_publish(simdev *dv, const char *leaf, const void *p, size_t len, uint64_t seq)
{
    fleet *fl = dv->fl;
    char subj[160], msgid[200];
    snprintf(subj, sizeof subj, "ictal.v1.dev.%s.%s", dv->id, leaf);
    natsMsg *m = NULL;
    if (natsMsg_Create(&m, subj, NULL, p, (int)len) != NATS_OK)
        return;
    if (seq != UINT64_MAX) {
        snprintf(msgid, sizeof msgid, "%s/%s/%llu", dv->id, fl->stream_id, (unsigned long long)seq);
        natsMsgHeader_Set(m, "Nats-Msg-Id", msgid);
    }
    /* Asynchronous: the stream's acks come back on nats.c's thread; a publish that
     * failed is covered by the device's own rule (no ack within 3 s: hello, resend). */
    if (js_PublishMsgAsync(fl->js, &m, NULL) != NATS_OK)
        natsMsg_Destroy(m);
}

static void nt_hello(simdev *dv)
{
    char *txt = dev_hello_text(dv);
    if (txt == NULL)
        return;
    nt_publish(dv, "hello", txt, strlen(txt), UINT64_MAX);
    free(txt);
    dv->hello_sent = 1;
    dv->welcomed = 0;
    dv->hello_at_us = mono_us();
}

static void nt_service(simdev *dv, int64_t now)
{
    fleet *fl = dv->fl;
    if (!dv->nt_up) {
        if (now < dv->reconnect_at_us)
            return;
        dv->nt_up = 1;
        dv->conn_us = now;
        nt_hello(dv);
        return;
    }
    if (fl->opt.drop_every_s > 0 && dv->welcomed &&
        now - dv->conn_us > (int64_t)(fl->opt.drop_every_s * 1e6)) {
        /* "Reconnecting": silence, then a new hello (as a device that lost its link). */
        dv->nt_up = dv->welcomed = dv->hello_sent = 0;
        double delay = fl->opt.reconnect_delay_s > 0 ? fl->opt.reconnect_delay_s : 0.2;
        dv->reconnect_at_us = now + (int64_t)(delay * 1e6);
        fl->res->reconnects++;
        return;
    }
    if (fl->opt.stall_every_s > 0 && now >= dv->next_stall_us) {
        dv->stall_until_us = now + (int64_t)(fl->opt.stall_s * 1e6);
        dv->next_stall_us = now + (int64_t)(fl->opt.stall_every_s * 1e6);
    }
    brokered_retry(dv, now, nt_hello);
    for (int n = 0; n < 32 && can_send(dv, now); n++) {
        uint64_t k = dv->next_send;
        uint8_t *p = dv->buf + LWS_PRE;
        size_t len = dev_build_frame(dv, k, p);
        nt_publish(dv, "frames", p, len, k);
        dev_count_sent(dv, k);
        dv->next_send = k + 1;
        if (dv->progress_us < dv->hello_at_us)
            dv->progress_us = now;
    }
}

/* An error PubAck (nats.c's thread): the stream refused a publish (no stream, full,
 * ...). The device's own rule resends; the run reports it (nt_drain). */
static void nt_on_pub_error(jsCtx *js, jsPubAckErr *pae, void *closure)
{
    (void)js;
    fleet *fl = closure;
    const char *subj = pae->Msg ? natsMsg_GetSubject(pae->Msg) : NULL;
    pthread_mutex_lock(&fl->nt_mu);
    fl->nt_pub_errors++;
    const char *why =
        pae->ErrText && pae->ErrText[0] ? pae->ErrText : natsStatus_GetText(pae->Err);
    if (pae->ErrCode)
        snprintf(fl->nt_pub_error, sizeof fl->nt_pub_error, "%s: %s (JetStream error %d)",
                 subj ? subj : "?", why, (int)pae->ErrCode);
    else
        snprintf(fl->nt_pub_error, sizeof fl->nt_pub_error, "%s: %s", subj ? subj : "?", why);
    pthread_mutex_unlock(&fl->nt_mu);
}

/* The ctl messages received since the last tick, in order; the publish errors since. */
static void nt_drain(fleet *fl)
{
    pthread_mutex_lock(&fl->nt_mu);
    nt_ctl *list = fl->nt_head;
    fl->nt_head = fl->nt_tail = NULL;
    if (fl->nt_pub_errors != fl->nt_pub_errors_told) {
        fl->nt_pub_errors_told = fl->nt_pub_errors;
        fl->res->publish_errors = fl->nt_pub_errors;
        snprintf(fl->res->last_error, sizeof fl->res->last_error,
                 "NATS refused %llu publish(es), the last %s",
                 (unsigned long long)fl->nt_pub_errors, fl->nt_pub_error);
        if (!fl->opt.quiet)
            fprintf(stderr, "replay: %s\n", fl->res->last_error);
    }
    pthread_mutex_unlock(&fl->nt_mu);
    while (list) {
        nt_ctl *c = list;
        list = c->next;
        simdev *dv = &fl->devs[c->device];
        if (!dv->done && !dv->failed)
            ctl_message(dv, c->data, c->len, nt_hello);
        free(c);
    }
}

static int nt_open(fleet *fl)
{
    const ictal__fleet_options *o = &fl->opt;
    natsOptions *no = NULL;
    if (natsOptions_Create(&no) != NATS_OK)
        return ICTAL_ENOMEM;
    natsOptions_SetURL(no, o->nats_url);
    natsOptions_SetName(no, "ictal-replay");
    natsOptions_SetMaxReconnect(no, -1);
    natsOptions_SetReconnectWait(no, 250);
    natsOptions_SetReconnectBufSize(no, 64 << 20);
    natsStatus s = NATS_OK;
    const char *what = o->nats_url;
    if (o->mqtt_user)
        s = natsOptions_SetUserInfo(no, o->mqtt_user, o->mqtt_password);
    if (s == NATS_OK && o->nats_creds_file)
        s = natsOptions_SetUserCredentialsFromFiles(no, o->nats_creds_file, NULL);
    if (s == NATS_OK && o->ca_file) {
        what = o->ca_file; /* the CA file that did not load, not "no secure connection" */
        s = natsOptions_SetSecure(no, true);
        if (s == NATS_OK)
            s = natsOptions_LoadCATrustedCertificates(no, o->ca_file);
        if (s == NATS_OK)
            what = o->nats_url;
    }
    if (s == NATS_OK)
        s = natsConnection_Connect(&fl->nc, no);
    natsOptions_Destroy(no);
    if (s == NATS_OK) {
        jsOptions jo;
        jsOptions_Init(&jo);
        jo.PublishAsync.MaxPending = 4096; /* then js_PublishMsgAsync waits: backpressure */
        jo.PublishAsync.ErrHandler = nt_on_pub_error;
        jo.PublishAsync.ErrHandlerClosure = fl;
        s = natsConnection_JetStream(&fl->js, fl->nc, &jo);
    }
    if (s == NATS_OK)
        s = natsConnection_Subscribe(&fl->ctl_sub, fl->nc, "ictal.v1.ctl.*", nt_on_ctl, fl);
    if (s == NATS_OK)
        s = natsSubscription_SetPendingLimits(fl->ctl_sub, -1, -1); /* never drop a reply */
    if (s == NATS_OK)
        s = natsSubscription_SetOnCompleteCB(fl->ctl_sub, nt_on_ctl_done, fl);
    if (s == NATS_OK)
        s = natsConnection_Flush(fl->nc); /* subscribed before the first hello */
    if (s != NATS_OK) {
        const char *e = nats_GetLastError(NULL);
        snprintf(fl->res->last_error, sizeof fl->res->last_error, "nats %s: %s", what,
                 e && e[0] ? e : natsStatus_GetText(s));
        return ICTAL_EIO;
    }
    return 0;
}

static void nt_close(fleet *fl)
{
    if (fl->ctl_sub) {
        /* nt_on_ctl runs on nats.c's thread and uses fl: wait for its last call. */
        if (natsSubscription_Unsubscribe(fl->ctl_sub) == NATS_OK) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += 5;
            pthread_mutex_lock(&fl->nt_mu);
            while (!fl->nt_sub_done &&
                   pthread_cond_timedwait(&fl->nt_done, &fl->nt_mu, &until) == 0)
                ;
            pthread_mutex_unlock(&fl->nt_mu);
        }
        natsSubscription_Destroy(fl->ctl_sub);
    }
    if (fl->js) {
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.MaxWait = 2000;
        js_PublishAsyncComplete(fl->js, &po);
        jsCtx_Destroy(fl->js);
    }
    if (fl->nc) {
        natsConnection_Close(fl->nc);
        natsConnection_Destroy(fl->nc);
    }
    while (fl->nt_head) {
        nt_ctl *c = fl->nt_head;
        fl->nt_head = c->next;
        free(c);
    }
}

static void fleet_tick(lws_sorted_usec_list_t *sul)
{
    fleet *fl = lws_container_of(sul, fleet, sul);
    int64_t now = mono_us();
    int active = 0;
    if (fl->opt.nats_url)
        nt_drain(fl);
    for (int i = 0; i < fl->opt.n_devices; i++) {
        simdev *dv = &fl->devs[i];
        if (fl->opt.nats_url) {
            if (dv->done || dv->failed)
                continue;
            active++;
            nt_service(dv, now);
            continue;
        }
        if (fl->opt.mqtt) {
            if (dv->done || dv->failed) {
                if (dv->mq_open) {
                    mosquitto_disconnect(dv->mq);
                    mosquitto_loop(dv->mq, 0, 1);
                    dv->mq_open = 0;
                }
                continue;
            }
            active++;
            mq_service(dv, now);
            continue;
        }
        if (dv->done)
            continue; /* its connection is closed by the context at the end */
        if (dv->failed) {
            if (dv->wsi && now - dv->failed_us < 2000000)
                active++; /* until the server's close arrives */
            continue;
        }
        active++;
        if (dv->wsi == NULL) {
            if (now >= dv->reconnect_at_us)
                dev_connect(dv);
            continue;
        }
        if (fl->opt.drop_every_s > 0 && dv->welcomed &&
            now - dv->conn_us > (int64_t)(fl->opt.drop_every_s * 1e6)) {
            dv->want_drop = 1;
            lws_callback_on_writable(dv->wsi);
            continue;
        }
        if (fl->opt.stall_every_s > 0 && now >= dv->next_stall_us) {
            dv->stall_until_us = now + (int64_t)(fl->opt.stall_s * 1e6);
            dv->next_stall_us = now + (int64_t)(fl->opt.stall_every_s * 1e6);
        }
        if (can_send(dv, now))
            lws_callback_on_writable(dv->wsi);
    }
    int timed_out = fl->opt.timeout_s > 0 && now - fl->started_us > (int64_t)(fl->opt.timeout_s * 1e6);
    if (timed_out && fl->opt.drain_s > 0 && active > 0) {
        if (fl->drain_until_us == 0)
            fl->drain_until_us = now + (int64_t)(fl->opt.drain_s * 1e6);
        int pending = 0;
        for (int i = 0; i < fl->opt.n_devices; i++) {
            const simdev *dv = &fl->devs[i];
            pending += !dv->failed && dv->acked + 1 < (int64_t)dv->max_sent_plus1;
        }
        timed_out = pending == 0 || now >= fl->drain_until_us;
    }
    if (active == 0 || timed_out || stopping(fl)) {
        fl->finished = 1;
        lws_cancel_service(fl->ctx); /* wake lws_service, which has nothing else to wait for */
        return;
    }
    lws_sul_schedule(fl->ctx, 0, &fl->sul, fleet_tick, 2000);
}

int ictal__fleet_run(const ictal__sim_source *src, const ictal__fleet_options *opt,
                     ictal__fleet_result *res)
{
    memset(res, 0, sizeof *res);
    res->last_welcome_ack = -2;
    res->last_ack = -1;
    fleet fl;
    memset(&fl, 0, sizeof fl);
    fl.src = src;
    fl.opt = *opt;
    fl.res = res;
    if (fl.opt.n_devices <= 0)
        fl.opt.n_devices = 1;
    if (fl.opt.start_time_us == 0)
        fl.opt.start_time_us = (int64_t)time(NULL) * 1000000;
    fl.rng = opt->seed ? opt->seed : 12345u;
    snprintf(fl.stream_id, sizeof fl.stream_id, "%s",
             opt->stream_id ? opt->stream_id : "replay");
    if (opt->stream_id == NULL)
        snprintf(fl.stream_id, sizeof fl.stream_id, "replay-%lld", (long long)time(NULL));

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    struct lws_protocols protocols[] = {
        {"ictal-device-v1", cb_client, 0, 4096, 0, NULL, 0},
        {NULL, NULL, 0, 0, 0, NULL, 0}};
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.count_threads = 1;
    info.timeout_secs = 10;
    if (opt->tls) {
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.client_ssl_ca_filepath = opt->ca_file;
    }
    lws_set_log_level(LLL_ERR, NULL);
    fl.ctx = lws_create_context(&info);
    if (fl.ctx == NULL)
        return ICTAL_EIO;
    fl.devs = calloc((size_t)fl.opt.n_devices, sizeof *fl.devs);
    if (fl.devs == NULL) {
        lws_context_destroy(fl.ctx);
        return ICTAL_ENOMEM;
    }
    fl.started_us = mono_us();
    if (fl.opt.mqtt)
        mosquitto_lib_init();
    pthread_mutex_init(&fl.nt_mu, NULL);
    pthread_cond_init(&fl.nt_done, NULL);
    int rc = 0;
    for (int i = 0; i < fl.opt.n_devices && rc == 0; i++) {
        simdev *dv = &fl.devs[i];
        dv->fl = &fl;
        dv->idx = i;
        dv->acked = -1;
        dv->swap_pending = -1;
        snprintf(dv->id, sizeof dv->id, "%s-%d", opt->device_prefix ? opt->device_prefix : "sim", i);
        if (opt->token)
            snprintf(dv->token, sizeof dv->token, "%s", opt->token);
        else
            snprintf(dv->token, sizeof dv->token, "sim-token-%s", dv->id);
        dv->buf = malloc(LWS_PRE + ICTAL_WIRE_MAX_FRAME_BYTES + 64);
        if (dv->buf == NULL)
            rc = ICTAL_ENOMEM;
        /* Spread the devices' schedules over one frame so they do not send in lockstep. */
        int64_t spread = (int64_t)((double)src->samples_per_frame * 1e6 / src->rate_hz *
                                   ((double)i / fl.opt.n_devices));
        dv->t0_us = fl.started_us + spread;
        if (opt->spread_s > 0)
            dv->src_offset = (size_t)(opt->spread_s * src->rate_hz / src->samples_per_frame *
                                      ((double)i / fl.opt.n_devices)) % src->n_frames;
        dv->reconnect_at_us = fl.started_us + spread / 4;
        dv->next_stall_us = fl.started_us + (int64_t)(fl.opt.stall_every_s * 1e6);
    }
    for (int i = 0; fl.opt.nats_url && rc == 0 && i < fl.opt.n_devices; i++)
        if (strchr(fl.devs[i].id, '.') || strchr(fl.devs[i].id, '*') || strchr(fl.devs[i].id, '>')) {
            snprintf(res->last_error, sizeof res->last_error,
                     "device id %s: '.' cannot be in a NATS subject token", fl.devs[i].id);
            rc = ICTAL_EINVAL;
        }
    if (rc == 0 && fl.opt.nats_url)
        rc = nt_open(&fl);
    if (rc == 0) {
        lws_sul_schedule(fl.ctx, 0, &fl.sul, fleet_tick, 1000);
        while (!fl.finished)
            if (lws_service(fl.ctx, 0) < 0)
                break;
    }
    lws_sul_cancel(&fl.sul);
    int failed = 0;
    for (int i = 0; i < fl.opt.n_devices; i++) {
        const simdev *dv = &fl.devs[i];
        failed += dv->failed;
        res->frames_distinct += dv->max_sent_plus1;
        if (dv->acked + 1 < (int64_t)dv->max_sent_plus1)
            res->frames_unacked += dv->max_sent_plus1 - (uint64_t)(dv->acked + 1);
    }
    /* Destroying the context closes the connections (callbacks still see dv). */
    lws_context_destroy(fl.ctx);
    for (int i = 0; i < fl.opt.n_devices; i++)
        if (fl.devs[i].mq) {
            if (fl.devs[i].mq_open)
                mosquitto_disconnect(fl.devs[i].mq);
            mosquitto_destroy(fl.devs[i].mq);
        }
    if (fl.opt.mqtt)
        mosquitto_lib_cleanup();
    nt_close(&fl);
    pthread_mutex_lock(&fl.nt_mu);
    if (fl.nt_pub_errors != fl.nt_pub_errors_told) { /* refused while closing */
        res->publish_errors = fl.nt_pub_errors;
        snprintf(res->last_error, sizeof res->last_error,
                 "NATS refused %llu publish(es), the last %s",
                 (unsigned long long)fl.nt_pub_errors, fl.nt_pub_error);
    }
    pthread_mutex_unlock(&fl.nt_mu);
    pthread_mutex_destroy(&fl.nt_mu);
    pthread_cond_destroy(&fl.nt_done);
    for (int i = 0; i < fl.opt.n_devices; i++)
        free(fl.devs[i].buf);
    free(fl.devs);
    res->elapsed_s = (double)(mono_us() - fl.started_us) * 1e-6;
    if (rc != 0)
        return rc;
    if (failed)
        return ICTAL_EFORMAT;
    if (res->devices_done < fl.opt.n_devices && !opt->stop_after_frames)
        return ICTAL_ETRUNC;
    return 0;
}
