/* The device connection core, the same for every transport (server_internal.h). */
#include "server/server_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- device connections: the transport-independent core ---------------------------------- */

/*
 * Everything a device connection does (hello, frames, acks, gaps, errors) lives here,
 * on an ictal__devconn; the transports (WebSocket in server.c, MQTT in mqtt.c) only move
 * messages: they feed ictal__devconn_hello / _frame and send what ictal__devconn_next
 * returns whenever ops->kick says there is something.
 */

void ictal__devconn_init(ictal__devconn *c, ictal_server *srv, const ictal__devconn_ops *ops,
                         void *user)
{
    memset(c, 0, sizeof *c);
    c->srv = srv;
    c->ops = ops;
    c->user = user;
    c->acked = -1;
    c->gap_expected = -1;
}

static void dev_queue_json(ictal__devconn *c, json_t *j)
{
    char *txt = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (txt == NULL)
        return;
    ictal__msg *m = ictal__msg_new(txt, strlen(txt));
    free(txt);
    if (m)
        ictal__msgq_push(&c->out, m);
    c->ops->kick(c);
}

int ictal__devconn_reject(ictal__devconn *c, int status, const char *code, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ictal_server *srv = c->srv;
    srv->rejected_total++;
    ictal__log(srv, "device %s: rejected (%s): %s", c->st ? c->st->device_id : "?", code, msg);
    dev_queue_json(c, json_pack("{s:s, s:s, s:s}", "type", "error", "code", code, "message", msg));
    c->close_status = status;
    snprintf(c->close_reason, sizeof c->close_reason, "%s: %.100s", code, msg);
    return 0;
}

int ictal__device_id_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > ICTAL__ID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == ':'))
            return 0;
    }
    return 1;
}

int ictal__devconn_hello(ictal__devconn *c, const char *txt, size_t len, const char *must_device)
{
    ictal_server *srv = c->srv;
    json_error_t jerr;
    json_t *h = json_loadb(txt, len, 0, &jerr);
    if (h == NULL || !json_is_object(h)) {
        json_decref(h);
        return ictal__devconn_reject(c, LWS_CLOSE_STATUS_INVALID_PAYLOAD, "bad_hello",
                                     "hello is not a JSON object (%s)", jerr.text);
    }
    const char *type = json_string_value(json_object_get(h, "type"));
    const char *dev = json_string_value(json_object_get(h, "device_id"));
    const char *token = json_string_value(json_object_get(h, "token"));
    const char *stream = json_string_value(json_object_get(h, "stream_id"));
    const char *fw = json_string_value(json_object_get(h, "firmware"));
    json_t *chans = json_object_get(h, "channels");
    json_t *rate = json_object_get(h, "rate_hz");
    json_t *start = json_object_get(h, "start_time_us");
    int rc = 0;
    const char *why = NULL;
    if (type == NULL || strcmp(type, "hello") != 0)
        why = "\"type\" must be \"hello\"";
    else if (!ictal__device_id_valid(dev))
        why = "\"device_id\" must be 1-64 characters of A-Z a-z 0-9 - _ . :";
    else if (must_device && strcmp(dev, must_device) != 0)
        why = "\"device_id\" must be the device id of the topic";
    else if (token == NULL || strlen(token) < 8 || strlen(token) > 256)
        why = "\"token\" must be a string of 8-256 characters";
    else if (stream != NULL && !ictal__device_id_valid(stream))
        why = "\"stream_id\" must be 1-64 characters of A-Z a-z 0-9 - _ . :";
    else if (fw == NULL || strlen(fw) > ICTAL__ID_MAX)
        why = "\"firmware\" must be a string of at most 64 characters";
    else if (!json_is_number(rate) || !(json_number_value(rate) >= 100 &&
                                        json_number_value(rate) <= 2048) ||
             json_number_value(rate) != floor(json_number_value(rate)))
        why = "\"rate_hz\" must be a whole number of Hz in 100..2048";
    else if (!json_is_array(chans) || json_array_size(chans) < 1 ||
             json_array_size(chans) > ICTAL_WIRE_MAX_CHANNELS)
        why = "\"channels\" must be an array of 1-32 labels";
    else if (start != NULL && !json_is_integer(start))
        why = "\"start_time_us\" must be an integer (µs since the Unix epoch)";
    for (size_t i = 0; why == NULL && i < json_array_size(chans); i++) {
        const char *l = json_string_value(json_array_get(chans, i));
        if (l == NULL || l[0] == 0 || strlen(l) > 16)
            why = "each channel label must be a string of 1-16 bytes";
    }
    if (why) {
        ictal__devconn_reject(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "bad_hello", "%s", why);
        json_decref(h);
        return 0;
    }
    srv->hellos_total++;
    rc = ictal__store_device_auth(&srv->store, dev, token);
    if (rc == ICTAL_ENOENT && !srv->opt.closed_enrolment) {
        rc = ictal__store_device_add(&srv->store, dev, token);
        if (rc == 0)
            ictal__log(srv, "device %s: enrolled", dev);
    }
    if (rc == ICTAL_EIO) { /* the database is unreachable: not the device's fault */
        ictal__devconn_reject(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "unavailable",
                              "the server's database is unavailable; try again later");
        json_decref(h);
        return 0;
    }
    if (rc != 0) {
        srv->auth_failures++;
        ictal__devconn_reject(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "unauthorized",
                              "unknown device or wrong token");
        json_decref(h);
        return 0;
    }
    ictal__stream *st = ictal__stream_find(srv, dev);
    if (st && st->conn && st->conn != c) {
        /* The device reconnected before its old connection timed out: the new one wins. */
        ictal__devconn *old = st->conn;
        old->st = NULL;
        st->conn = NULL;
        old->ops->drop(old);
    }
    ictal_diag d;
    ictal_diag_init(&d);
    int64_t start_us = start ? (int64_t)json_integer_value(start) : (int64_t)(ictal__now_s() * 1e6);
    const char *stream_id = stream ? stream : "default";
    rc = ictal__stream_open(srv, dev, stream_id, chans, json_number_value(rate), fw, start_us, &st, &d);
    if (rc == ICTAL_EIO) {
        ictal__devconn_reject(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "unavailable", "%s",
                              d.message);
        json_decref(h);
        return 0;
    }
    if (rc != 0) {
        ictal__devconn_reject(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "session", "%s", d.message);
        json_decref(h);
        return 0;
    }
    ictal__store_device_seen(&srv->store, dev, fw, chans, json_number_value(rate));
    st->conn = c;
    st->disconnected_us = 0;
    c->st = st;
    c->hello_done = 1;
    c->acked = st->durable_seq;
    ictal__store_event(&srv->store, dev, st->session_id, "connected", NULL);
    ictal__log(srv, "device %s: connected (%s), session %lld, resume after seq %lld", dev,
               c->transport ? c->transport : "?", (long long)st->session_id,
               (long long)st->log.last_seq);
    /* stream_id: over MQTT, how the device knows which hello this welcome answers. */
    dev_queue_json(c, json_pack("{s:s, s:I, s:s, s:I, s:{s:i, s:i, s:i, s:f, s:f}}", "type",
                                "welcome", "session_id", (json_int_t)st->session_id, "stream_id",
                                stream_id, "ack", (json_int_t)st->durable_seq, "limits",
                                "max_frame_bytes", ICTAL_WIRE_MAX_FRAME_BYTES, "max_channels",
                                ICTAL_WIRE_MAX_CHANNELS, "max_samples", ICTAL_WIRE_MAX_SAMPLES,
                                "max_speed", srv->opt.max_speed, "max_frames_per_s",
                                srv->opt.max_frames_per_s));
    json_decref(h);
    return 0;
}

/* Token buckets: 60 s of burst, refilled at max_speed x the rate and max_frames_per_s. */
static int rate_ok(ictal_server *srv, ictal__stream *st, uint32_t n_samples)
{
    int64_t now = ictal__mono_us();
    double dt = (double)(now - st->bucket_us) * 1e-6;
    st->bucket_us = now;
    double cap_s = st->rate_hz * srv->opt.max_speed * 60.0;
    double cap_f = srv->opt.max_frames_per_s * 60.0;
    st->bucket_samples += dt * st->rate_hz * srv->opt.max_speed;
    st->bucket_frames += dt * srv->opt.max_frames_per_s;
    if (st->bucket_samples > cap_s)
        st->bucket_samples = cap_s;
    if (st->bucket_frames > cap_f)
        st->bucket_frames = cap_f;
    if (st->bucket_samples < n_samples || st->bucket_frames < 1)
        return 0;
    st->bucket_samples -= n_samples;
    st->bucket_frames -= 1;
    return 1;
}

/* Stores one in-sequence frame: rate limit, session log, analysis (the ack follows
 * once the syncer has made the log durable). */
static int store_frame(ictal__devconn *c, const uint8_t *buf, size_t len,
                       const ictal_wire_frame *fp)
{
    ictal_server *srv = c->srv;
    ictal__stream *st = c->st;
    ictal_wire_frame f = *fp;
    int rc;
    if (!rate_ok(srv, st, f.n_samples))
        return ictal__devconn_reject(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "rate_limit",
                                     "more than %.0f x real time or %.0f frames/s",
                                     srv->opt.max_speed, srv->opt.max_frames_per_s);
    if (st->log.frames == 0 && st->start_time_us != f.device_time_us) {
        /* The session's time origin is its first sample (kept for restarts and exports). */
        st->start_time_us = f.device_time_us;
        ictal__store_session_start(&srv->store, st->session_id, f.device_time_us);
    }
    int64_t expected = st->log.last_time_us;
    rc = ictal__seslog_append(&st->log, buf, len, &f, st->rate_hz);
    if (rc != 0)
        return ictal__devconn_reject(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "storage",
                                     "cannot store the frame: %s", ictal_strerror(rc));
    srv->frames_total++;
    srv->samples_total += f.n_samples;
    srv->bytes_total += len;
    st->last_rx_us = ictal__mono_us();
    ictal__stream_analyse(st, &f, expected);
    c->ops->kick(c);
    return 0;
}

int ictal__devconn_frame(ictal__devconn *c, const uint8_t *buf, size_t len)
{
    ictal_server *srv = c->srv;
    if (len > ICTAL_WIRE_MAX_FRAME_BYTES)
        return ictal__devconn_reject(c, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "too_large",
                                     "message exceeds %d bytes", ICTAL_WIRE_MAX_FRAME_BYTES);
    if (!c->hello_done)
        return ictal__devconn_reject(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "no_hello",
                                     "the first message must be the JSON hello");
    if (c->st == NULL)
        return ictal__devconn_reject(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "superseded",
                                     "this device connected again elsewhere");
    ictal__stream *st = c->st;
    ictal_wire_frame f;
    ictal_diag d;
    ictal_diag_init(&d);
    int rc = ictal_wire_parse(buf, len, &f, &d);
    if (rc != 0)
        return ictal__devconn_reject(c, LWS_CLOSE_STATUS_INVALID_PAYLOAD, "bad_frame",
                                     "byte %lld, field %s: %s", (long long)d.offset,
                                     d.field ? d.field : "-", d.message);
    if (f.n_channels != st->n_channels)
        return ictal__devconn_reject(c, LWS_CLOSE_STATUS_INVALID_PAYLOAD, "bad_frame",
                                     "frame has %d channels, the hello announced %d",
                                     f.n_channels, st->n_channels);
    if ((int64_t)f.seq <= st->log.last_seq) {
        /* Already stored (a resend after a lost ack): acknowledge again, store nothing. */
        st->duplicates++;
        srv->duplicates_total++;
        c->acked = -2; /* force an ack */
        c->ops->kick(c);
        return 0;
    }
    if ((int64_t)f.seq != st->log.last_seq + 1) {
        st->seq_gaps++;
        srv->seq_gaps_total++;
        if ((int64_t)f.seq <= st->log.last_seq + ICTAL__REORDER_WINDOW) {
            int k = (int)(f.seq % ICTAL__REORDER_WINDOW);
            if (c->held[k] == NULL || c->held_seq[k] != f.seq) {
                uint8_t *copy = realloc(c->held[k], len);
                if (copy == NULL)
                    return -1;
                memcpy(copy, buf, len);
                c->held[k] = copy;
                c->held_len[k] = len;
                c->held_seq[k] = f.seq;
            }
            return 0;
        }
        /* Too far ahead: one notice per hole, so the device rewinds once, not once per
         * frame in flight. */
        if (c->gap_expected == st->log.last_seq + 1)
            return 0;
        c->gap_expected = st->log.last_seq + 1;
        dev_queue_json(c, json_pack("{s:s, s:I}", "type", "gap", "expected",
                                    (json_int_t)(st->log.last_seq + 1)));
        return 0;
    }
    rc = store_frame(c, buf, len, &f);
    /* The hole is filled: store the frames held behind it, in order. */
    while (rc == 0 && !c->close_status) {
        uint64_t next = (uint64_t)(st->log.last_seq + 1);
        int k = (int)(next % ICTAL__REORDER_WINDOW);
        if (c->held[k] == NULL || c->held_seq[k] != next)
            break;
        ictal_wire_frame h;
        if (ictal_wire_parse(c->held[k], c->held_len[k], &h, NULL) != 0)
            break;
        rc = store_frame(c, c->held[k], c->held_len[k], &h);
        free(c->held[k]);
        c->held[k] = NULL;
    }
    return rc;
}

int ictal__devconn_ack_due(const ictal__devconn *c)
{
    return c->st && c->hello_done && !c->close_status && c->acked != c->st->durable_seq;
}

ictal__msg *ictal__devconn_next(ictal__devconn *c)
{
    ictal__msg *m = ictal__msgq_pop(&c->out);
    if (m || !ictal__devconn_ack_due(c))
        return m;
    char txt[64];
    int n = snprintf(txt, sizeof txt, "{\"type\":\"ack\",\"seq\":%lld}",
                     (long long)c->st->durable_seq);
    m = ictal__msg_new(txt, (size_t)n);
    if (m)
        c->acked = c->st->durable_seq;
    return m;
}

void ictal__devconn_close(ictal__devconn *c)
{
    ictal_server *srv = c->srv;
    if (c->st && c->st->conn == c) {
        ictal__stream *st = c->st;
        st->conn = NULL;
        st->disconnected_us = ictal__mono_us();
        ictal__stream_sync(st);
        ictal__store_event(&srv->store, st->device_id, st->session_id, "disconnected", NULL);
        ictal__log(srv, "device %s: disconnected (%s) after seq %lld", st->device_id,
                   c->transport ? c->transport : "?", (long long)st->log.last_seq);
    }
    c->st = NULL;
    ictal__msgq_free(&c->out);
    for (int k = 0; k < ICTAL__REORDER_WINDOW; k++) {
        free(c->held[k]);
        c->held[k] = NULL;
    }
    const char *transport = c->transport;
    ictal__devconn_init(c, srv, c->ops, c->user);
    c->transport = transport;
}
