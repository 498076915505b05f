/* Device ingest over MQTT: a libmosquitto client feeding the device core (mqtt.h). */
#include "server/mqtt.h"

#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>

#include "server/inq.h"
#include "server/server_internal.h"

#define QUEUE_MAX_MSGS 2048
#define QUEUE_MAX_BYTES (32u << 20)
#define IDLE_CLOSE_US 60000000    /* a device silent this long is disconnected */
#define FORGET_US 600000000       /* ... and forgotten after this long without a hello */

enum { IN_HELLO, IN_FRAME, IN_CONNECTED, IN_DISCONNECTED };

/* A message from the network thread to the loop. */
typedef struct mqtt_in {
    ictal__inq_item q;            /* first: the queue's link */
    int kind;
    int rc;                       /* IN_CONNECTED / IN_DISCONNECTED: the broker's code */
    char device_id[ICTAL__ID_MAX + 1];
    size_t len;
    uint8_t data[];
} mqtt_in;

/* One device known on MQTT: its connection to the core lasts from a hello until an
 * error, a newer hello, a broker disconnection or 60 s of silence. */
typedef struct mqtt_dev {
    struct mqtt_dev *next;
    ictal__mqtt *m;
    char device_id[ICTAL__ID_MAX + 1];
    char ctl_topic[ICTAL__ID_MAX + 32];
    ictal__devconn c;
    int64_t last_rx_us;
    int kicked;
    int told_no_hello;            /* "no_hello" sent: frames are dropped until a hello */
} mqtt_dev;

struct ictal__mqtt {
    ictal_server *srv;
    struct lws_context *ctx;
    struct mosquitto *mosq;
    ictal__mqtt_options opt;
    char host[256], client_id[128], user[128], password[256], ca_file[1024];
    /* From the network thread (inq.h); its mutex also guards these counters. */
    ictal__inq in;
    uint64_t dropped, bytes_in, msgs_in;
    /* The loop's own. */
    mqtt_dev *devs;
    int n_devs;
    int connected;
    uint64_t connects, disconnects, msgs_out;
    lws_sorted_usec_list_t sul_flush;
};

/* --- network thread ---------------------------------------------------------------------- */

static void push(ictal__mqtt *m, mqtt_in *in)
{
    in->q.bytes = in->len;
    if (ictal__inq_push(&m->in, &in->q) != 0)
        free(in); /* stopping */
}

static mqtt_in *in_new(int kind, const char *device_id, const void *data, size_t len)
{
    mqtt_in *in = malloc(sizeof *in + len);
    if (in == NULL)
        return NULL;
    memset(in, 0, sizeof *in);
    in->kind = kind;
    if (device_id)
        snprintf(in->device_id, sizeof in->device_id, "%s", device_id);
    in->len = len;
    if (len)
        memcpy(in->data, data, len);
    return in;
}

static void on_connect(struct mosquitto *mosq, void *obj, int rc)
{
    ictal__mqtt *m = obj;
    if (rc == 0) {
        /* Every time: a broker that restarted without persistence forgot them. */
        mosquitto_subscribe(mosq, NULL, ICTAL__MQTT_TOPIC_PREFIX "+/hello", 1);
        mosquitto_subscribe(mosq, NULL, ICTAL__MQTT_TOPIC_PREFIX "+/frames", 1);
    }
    mqtt_in *in = in_new(IN_CONNECTED, NULL, NULL, 0);
    if (in) {
        in->rc = rc;
        push(m, in);
    }
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc)
{
    (void)mosq;
    ictal__mqtt *m = obj;
    mqtt_in *in = in_new(IN_DISCONNECTED, NULL, NULL, 0);
    if (in) {
        in->rc = rc;
        push(m, in);
    }
}

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg)
{
    (void)mosq;
    ictal__mqtt *m = obj;
    const char *t = msg->topic;
    size_t pl = strlen(ICTAL__MQTT_TOPIC_PREFIX);
    char id[ICTAL__ID_MAX + 1];
    const char *slash = strncmp(t, ICTAL__MQTT_TOPIC_PREFIX, pl) == 0 ? strchr(t + pl, '/') : NULL;
    int kind = -1;
    if (slash && (size_t)(slash - (t + pl)) <= ICTAL__ID_MAX) {
        memcpy(id, t + pl, (size_t)(slash - (t + pl)));
        id[slash - (t + pl)] = 0;
        if (strcmp(slash, "/hello") == 0)
            kind = IN_HELLO;
        else if (strcmp(slash, "/frames") == 0)
            kind = IN_FRAME;
    }
    if (kind < 0 || !ictal__device_id_valid(id) || msg->payloadlen < 0) {
        pthread_mutex_lock(&m->in.mu);
        m->dropped++;
        pthread_mutex_unlock(&m->in.mu);
        return;
    }
    /* Oversized payloads are cut one byte past the limit: enough for the core to
     * refuse them ("too_large") without holding them. */
    size_t len = (size_t)msg->payloadlen;
    if (len > ICTAL_WIRE_MAX_FRAME_BYTES + 1)
        len = ICTAL_WIRE_MAX_FRAME_BYTES + 1;
    mqtt_in *in = in_new(kind, id, msg->payload, len);
    if (in == NULL)
        return;
    pthread_mutex_lock(&m->in.mu);
    m->msgs_in++;
    m->bytes_in += (size_t)msg->payloadlen;
    pthread_mutex_unlock(&m->in.mu);
    push(m, in);
}

/* --- the loop ------------------------------------------------------------------------------ */

static void dev_kick(ictal__devconn *c);
static void dev_drop(ictal__devconn *c);
static const ictal__devconn_ops mqtt_ops = {dev_kick, dev_drop};

static void flush_cb(lws_sorted_usec_list_t *sul);

/* The core has messages for this device: sent from a zero-delay timer, after the core
 * is done with the message at hand (an error must be queued in full first). */
static void dev_kick(ictal__devconn *c)
{
    mqtt_dev *d = c->user;
    d->kicked = 1;
    lws_sul_schedule(d->m->ctx, 0, &d->m->sul_flush, flush_cb, 1);
}

/* Another connection of the device (WebSocket or a newer one) took over; frames that
 * still arrive here get "superseded" from the core. */
static void dev_drop(ictal__devconn *c)
{
    (void)c;
}

static void dev_flush(mqtt_dev *d)
{
    ictal__mqtt *m = d->m;
    d->kicked = 0;
    ictal__msg *msg;
    while ((msg = ictal__devconn_next(&d->c)) != NULL) {
        if (mosquitto_publish(m->mosq, NULL, d->ctl_topic, (int)msg->len, msg->buf + LWS_PRE, 1,
                              false) == MOSQ_ERR_SUCCESS)
            m->msgs_out++;
        free(msg);
    }
    if (d->c.close_status) {
        /* Rejected: this connection ends as on WebSocket; the device starts again with a
         * hello. */
        ictal__devconn_close(&d->c);
        d->c.transport = "mqtt";
        d->told_no_hello = 1;
    }
}

static void flush_cb(lws_sorted_usec_list_t *sul)
{
    ictal__mqtt *m = lws_container_of(sul, ictal__mqtt, sul_flush);
    for (mqtt_dev *d = m->devs; d; d = d->next)
        if (d->kicked)
            dev_flush(d);
}

static mqtt_dev *dev_get(ictal__mqtt *m, const char *device_id)
{
    for (mqtt_dev *d = m->devs; d; d = d->next)
        if (strcmp(d->device_id, device_id) == 0)
            return d;
    if (m->n_devs >= m->srv->opt.max_devices)
        return NULL;
    mqtt_dev *d = calloc(1, sizeof *d);
    if (d == NULL)
        return NULL;
    d->m = m;
    snprintf(d->device_id, sizeof d->device_id, "%s", device_id);
    snprintf(d->ctl_topic, sizeof d->ctl_topic, ICTAL__MQTT_TOPIC_PREFIX "%s/ctl", device_id);
    ictal__devconn_init(&d->c, m->srv, &mqtt_ops, d);
    d->c.transport = "mqtt";
    d->next = m->devs;
    m->devs = d;
    m->n_devs++;
    return d;
}

static void handle(ictal__mqtt *m, mqtt_in *in)
{
    ictal_server *srv = m->srv;
    if (in->kind == IN_CONNECTED) {
        if (in->rc == 0) {
            m->connected = 1;
            m->connects++;
            ictal__log(srv, "mqtt: connected to %s:%d", m->host, m->opt.port);
        } else {
            ictal__log(srv, "mqtt: %s:%d refused the connection: %s", m->host, m->opt.port,
                       mosquitto_connack_string(in->rc));
        }
        return;
    }
    if (in->kind == IN_DISCONNECTED) {
        if (m->connected) {
            m->disconnects++;
            ictal__log(srv, "mqtt: connection to %s:%d lost (%s); reconnecting", m->host,
                       m->opt.port, mosquitto_strerror(in->rc));
        }
        m->connected = 0;
        /* Like a dropped WebSocket: every device connection over it ends. Devices say
         * hello again and resend from the welcome's ack. */
        for (mqtt_dev *d = m->devs; d; d = d->next) {
            if (d->c.hello_done)
                d->told_no_hello = 0;
            ictal__devconn_close(&d->c);
            d->c.transport = "mqtt";
        }
        return;
    }
    mqtt_dev *d = dev_get(m, in->device_id);
    if (d == NULL) {
        srv->rejected_total++;
        return;
    }
    d->last_rx_us = ictal__mono_us();
    if (in->kind == IN_HELLO) {
        /* A hello starts a new connection of this device (the device reconnected). */
        if (d->c.hello_done || d->c.close_status) {
            ictal__devconn_close(&d->c);
            d->c.transport = "mqtt";
        }
        d->told_no_hello = 0;
        if (in->len > ICTAL_WIRE_MAX_FRAME_BYTES)
            ictal__devconn_reject(&d->c, 1009, "too_large", "message exceeds %d bytes",
                                  ICTAL_WIRE_MAX_FRAME_BYTES);
        else
            ictal__devconn_hello(&d->c, (const char *)in->data, in->len, d->device_id);
    } else {
        if (!d->c.hello_done && d->told_no_hello)
            return; /* told once already: frames in flight before the hello are dropped */
        ictal__devconn_frame(&d->c, in->data, in->len);
    }
}

void ictal__mqtt_poll(ictal__mqtt *m)
{
    if (m == NULL)
        return;
    ictal__inq_item *list = ictal__inq_take(&m->in);
    while (list) {
        mqtt_in *in = (mqtt_in *)list;
        list = list->next;
        handle(m, in);
        free(in);
    }
}

void ictal__mqtt_tick(ictal__mqtt *m)
{
    if (m == NULL)
        return;
    int64_t now = ictal__mono_us();
    for (mqtt_dev **pp = &m->devs; *pp;) {
        mqtt_dev *d = *pp;
        if (d->c.hello_done && now - d->last_rx_us > IDLE_CLOSE_US) {
            ictal__devconn_close(&d->c);
            d->c.transport = "mqtt";
        }
        if (!d->c.hello_done && now - d->last_rx_us > FORGET_US) {
            *pp = d->next;
            ictal__devconn_close(&d->c);
            free(d);
            m->n_devs--;
            continue;
        }
        pp = &d->next;
    }
}

void ictal__mqtt_stats_get(ictal__mqtt *m, ictal__mqtt_stats *s)
{
    memset(s, 0, sizeof *s);
    if (m == NULL)
        return;
    s->connected = m->connected;
    s->connects = m->connects;
    s->disconnects = m->disconnects;
    s->msgs_out = m->msgs_out;
    for (mqtt_dev *d = m->devs; d; d = d->next)
        s->devices += d->c.hello_done && d->c.st != NULL;
    pthread_mutex_lock(&m->in.mu);
    s->msgs_in = m->msgs_in;
    s->bytes_in = m->bytes_in;
    s->dropped = m->dropped;
    pthread_mutex_unlock(&m->in.mu);
}

/* --- lifecycle ----------------------------------------------------------------------------- */

int ictal__mqtt_create(ictal__mqtt **out, ictal_server *srv, struct lws_context *ctx,
                       const ictal__mqtt_options *opt, void (*wake)(void *), void *wake_user,
                       ictal_diag *d)
{
    *out = NULL;
    if (opt->host == NULL || opt->host[0] == 0 || opt->port <= 0 || opt->port > 65535)
        return ictal_diag_error(d, ICTAL_EINVAL, "--mqtt needs HOST:PORT");
    ictal__mqtt *m = calloc(1, sizeof *m);
    if (m == NULL)
        return ICTAL_ENOMEM;
    m->srv = srv;
    m->ctx = ctx;
    m->opt = *opt;
    ictal__inq_init(&m->in, QUEUE_MAX_MSGS, QUEUE_MAX_BYTES, wake, wake_user);
    snprintf(m->host, sizeof m->host, "%s", opt->host);
    snprintf(m->client_id, sizeof m->client_id, "%s", opt->client_id ? opt->client_id : "ictal-serve");
    m->opt.host = m->host;
    m->opt.client_id = m->client_id;
    mosquitto_lib_init();
    /* A persistent session (clean_session false): QoS 1 frames published while the
     * server was away from the broker are kept for it. */
    m->mosq = mosquitto_new(m->client_id, false, m);
    int rc = 0;
    if (m->mosq == NULL)
        rc = ictal_diag_error(d, ICTAL_ENOMEM, "mqtt: cannot create the client");
    if (rc == 0 && opt->user) {
        if (mosquitto_username_pw_set(m->mosq, opt->user, opt->password) != MOSQ_ERR_SUCCESS)
            rc = ictal_diag_error(d, ICTAL_EINVAL, "mqtt: bad user name or password");
    }
    if (rc == 0 && opt->ca_file) {
        int e = mosquitto_tls_set(m->mosq, opt->ca_file, NULL, NULL, NULL, NULL);
        if (e != MOSQ_ERR_SUCCESS)
            rc = ictal_diag_error(d, ICTAL_EINVAL, "mqtt: TLS with CA %s: %s", opt->ca_file,
                                  mosquitto_strerror(e));
    }
    if (rc == 0) {
        mosquitto_int_option(m->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
        mosquitto_max_inflight_messages_set(m->mosq, 100);
        mosquitto_reconnect_delay_set(m->mosq, 1, 30, true);
        mosquitto_connect_callback_set(m->mosq, on_connect);
        mosquitto_disconnect_callback_set(m->mosq, on_disconnect);
        mosquitto_message_callback_set(m->mosq, on_message);
        int e = mosquitto_connect_async(m->mosq, m->host, opt->port,
                                        opt->keepalive_s > 0 ? opt->keepalive_s : 30);
        if (e != MOSQ_ERR_SUCCESS && e != MOSQ_ERR_ERRNO)
            rc = ictal_diag_error(d, ICTAL_EINVAL, "mqtt: %s:%d: %s", m->host, opt->port,
                                  mosquitto_strerror(e));
        /* MOSQ_ERR_ERRNO (broker down): the network thread keeps retrying. */
    }
    if (rc == 0)
        ictal__log(srv, "mqtt: connecting to %s:%d%s as %s (client id %s)", m->host, opt->port,
                   opt->ca_file ? " over TLS" : "", opt->user ? opt->user : "anonymous",
                   m->client_id);
    if (rc == 0 && mosquitto_loop_start(m->mosq) != MOSQ_ERR_SUCCESS)
        rc = ictal_diag_error(d, ICTAL_EIO, "mqtt: cannot start the network thread");
    if (rc != 0) {
        if (m->mosq)
            mosquitto_destroy(m->mosq);
        m->mosq = NULL;
        ictal__mqtt_destroy(m);
        return rc;
    }
    *out = m;
    return 0;
}

void ictal__mqtt_destroy(ictal__mqtt *m)
{
    if (m == NULL)
        return;
    if (m->mosq) {
        ictal__inq_stop(&m->in);
        mosquitto_disconnect(m->mosq);
        mosquitto_loop_stop(m->mosq, false);
        mosquitto_destroy(m->mosq);
    }
    lws_sul_cancel(&m->sul_flush);
    ictal__inq_item *left = ictal__inq_destroy(&m->in);
    while (left) {
        ictal__inq_item *it = left;
        left = it->next;
        free(it);
    }
    while (m->devs) {
        mqtt_dev *d = m->devs;
        m->devs = d->next;
        ictal__devconn_close(&d->c);
        free(d);
    }
    mosquitto_lib_cleanup();
    free(m);
}
