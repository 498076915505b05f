/* Device ingest over NATS JetStream: pull consumers feeding the device core (natsdev.h). */
#include "server/natsdev.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nats/nats.h>

#include "server/inq.h"
#include "server/server_internal.h"

#define QUEUE_MAX_MSGS 4096
#define QUEUE_MAX_BYTES (64u << 20)
#define FETCH_BATCH 256
#define FETCH_WAIT_MS 500
#define MAX_ACK_PENDING 8192       /* per partition: unsettled messages the server hands out */
#define MAX_DELIVER 600            /* ~10 min of NAKs (1 s apart) for a device to say hello */
#define NAK_DELAY_MS 1000          /* a frame that cannot be stored yet comes back after 1 s */
#define IDLE_CLOSE_US 60000000
#define FORGET_US 600000000

/* A message from a fetch thread to the loop. */
typedef struct nats_in {
    ictal__inq_item q;          /* first: the queue's link */
    natsMsg *msg;
} nats_in;

typedef struct nats_part {
    ictal__nats *n;
    int k;
    natsSubscription *sub;
    pthread_t th;
    int started;
} nats_part;

/* A JetStream message waiting for its frame to be durable. */
typedef struct nats_pend {
    natsMsg *msg;
    int64_t seq;
} nats_pend;

/* One device known over NATS: its connection to the core lasts from a hello until an
 * error, a newer hello, or 60 s of silence. */
typedef struct nats_dev {
    struct nats_dev *next;
    ictal__nats *n;
    char device_id[ICTAL__ID_MAX + 1];
    char ctl[ICTAL__ID_MAX + 32];
    ictal__devconn c;
    int64_t last_rx_us;
    int kicked;
    int told_no_hello;           /* "no_hello" sent: frames wait (NAK) until a hello */
    nats_pend *pend;
    size_t pend_n, pend_cap;
} nats_dev;

struct ictal__nats {
    ictal_server *srv;
    struct lws_context *ctx;
    natsConnection *nc;
    jsCtx *js;
    nats_part *parts;
    int n_parts;
    /* From the fetch threads (inq.h); its mutex also guards msgs_in and bytes_in. */
    ictal__inq in;
    uint64_t msgs_in, bytes_in;
    /* Set by nats.c's callback thread, under mu. */
    pthread_mutex_t mu;
    pthread_cond_t closed_cv;
    int connected;
    int closed;                   /* nats.c's last callback for the connection ran */
    uint64_t reconnects, disconnects;
    /* The loop's own. */
    nats_dev *devs;
    int n_devs;
    uint64_t msgs_out, acks, naks, terms, redelivered, dropped, stale;
    lws_sorted_usec_list_t sul_flush;
};

/* --- the partition list ---------------------------------------------------------------- */

static int parse_uint(const char **p, long *out)
{
    const char *s = *p;
    if (*s < '0' || *s > '9')
        return -1;
    long v = 0;
    while (*s >= '0' && *s <= '9') {
        v = v * 10 + (*s - '0');
        if (v > 1000000)
            return -1;
        s++;
    }
    *p = s;
    *out = v;
    return 0;
}

int ictal__nats_partitions_parse(const char *list, int count, uint8_t *owned, ictal_diag *d)
{
    if (count < 1 || count > ICTAL__NATS_PARTITIONS_MAX)
        return ictal_diag_error(d, ICTAL_EINVAL, "the partition count must be 1..%d, not %d",
                                ICTAL__NATS_PARTITIONS_MAX, count);
    memset(owned, 0, (size_t)count);
    if (list == NULL || list[0] == 0)
        return ictal_diag_error(d, ICTAL_EINVAL, "the partition list is empty");
    if (strcmp(list, "all") == 0) {
        memset(owned, 1, (size_t)count);
        return count;
    }
    const char *p = list;
    int n = 0;
    for (;;) {
        long a, b;
        const char *item = p;
        if (parse_uint(&p, &a) != 0)
            return ictal_diag_error(d, ICTAL_EINVAL,
                                    "partition list, byte %d: expected a partition number",
                                    (int)(item - list));
        b = a;
        if (*p == '-') {
            p++;
            if (parse_uint(&p, &b) != 0)
                return ictal_diag_error(d, ICTAL_EINVAL,
                                        "partition list, byte %d: expected the end of a range",
                                        (int)(p - list));
            if (b < a)
                return ictal_diag_error(d, ICTAL_EINVAL,
                                        "partition list, byte %d: range %ld-%ld runs backwards",
                                        (int)(item - list), a, b);
        }
        if (b >= count)
            return ictal_diag_error(d, ICTAL_EINVAL,
                                    "partition list, byte %d: partition %ld is not in 0..%d",
                                    (int)(item - list), b, count - 1);
        for (long k = a; k <= b; k++) {
            if (owned[k])
                return ictal_diag_error(d, ICTAL_EINVAL,
                                        "partition list, byte %d: partition %ld is listed twice",
                                        (int)(item - list), k);
            owned[k] = 1;
            n++;
        }
        if (*p == 0)
            break;
        if (*p != ',')
            return ictal_diag_error(d, ICTAL_EINVAL,
                                    "partition list, byte %d: expected ',' or the end",
                                    (int)(p - list));
        p++;
    }
    return n;
}

/* --- nats.c's threads ------------------------------------------------------------------- */

static int stopping(ictal__nats *n)
{
    pthread_mutex_lock(&n->in.mu);
    int s = n->in.stop;
    pthread_mutex_unlock(&n->in.mu);
    return s;
}

static void push(ictal__nats *n, natsMsg *msg)
{
    nats_in *in = calloc(1, sizeof *in);
    if (in == NULL) {
        natsMsg_Destroy(msg); /* not acked: redelivered */
        return;
    }
    in->msg = msg;
    in->q.bytes = (size_t)natsMsg_GetDataLength(msg);
    pthread_mutex_lock(&n->in.mu);
    n->msgs_in++;
    n->bytes_in += in->q.bytes;
    pthread_mutex_unlock(&n->in.mu);
    if (ictal__inq_push(&n->in, &in->q) != 0) {
        natsMsg_Nak(msg, NULL); /* stopping: at once to the next owner */
        natsMsg_Destroy(msg);
        free(in);
    }
}

static void *fetch_main(void *arg)
{
    nats_part *p = arg;
    ictal__nats *n = p->n;
    while (!stopping(n)) {
        natsMsgList list = {0};
        natsStatus s = natsSubscription_Fetch(&list, p->sub, FETCH_BATCH, FETCH_WAIT_MS, NULL);
        if (s == NATS_OK) {
            for (int i = 0; i < list.Count; i++) {
                push(n, list.Msgs[i]);
                list.Msgs[i] = NULL;
            }
        }
        natsMsgList_Destroy(&list);
        if (s != NATS_OK && s != NATS_TIMEOUT) {
            /* Disconnected (nats.c reconnects) or the consumer is busy: try again soon. */
            struct timespec t = {0, 200000000L};
            nanosleep(&t, NULL);
        }
    }
    return NULL;
}

static void on_disconnected(natsConnection *nc, void *closure)
{
    (void)nc;
    ictal__nats *n = closure;
    pthread_mutex_lock(&n->mu);
    if (n->connected)
        n->disconnects++;
    n->connected = 0;
    pthread_mutex_unlock(&n->mu);
}

static void on_reconnected(natsConnection *nc, void *closure)
{
    (void)nc;
    ictal__nats *n = closure;
    pthread_mutex_lock(&n->mu);
    n->connected = 1;
    n->reconnects++;
    pthread_mutex_unlock(&n->mu);
}

/* The last callback nats.c makes for a connection (after any disconnected one, on the
 * same thread): once it ran, n may be freed. */
static void on_closed(natsConnection *nc, void *closure)
{
    (void)nc;
    ictal__nats *n = closure;
    pthread_mutex_lock(&n->mu);
    n->closed = 1;
    pthread_cond_broadcast(&n->closed_cv);
    pthread_mutex_unlock(&n->mu);
}

/* --- the loop --------------------------------------------------------------------------- */

static void dev_kick(ictal__devconn *c);
static void dev_drop(ictal__devconn *c);
static const ictal__devconn_ops nats_ops = {dev_kick, dev_drop};
static void flush_cb(lws_sorted_usec_list_t *sul);

static void msg_ack(ictal__nats *n, natsMsg *msg)
{
    natsMsg_Ack(msg, NULL);
    natsMsg_Destroy(msg);
    n->acks++;
}

static void msg_nak(ictal__nats *n, natsMsg *msg)
{
    natsMsg_NakWithDelay(msg, NAK_DELAY_MS, NULL);
    natsMsg_Destroy(msg);
    n->naks++;
}

static void msg_term(ictal__nats *n, natsMsg *msg)
{
    natsMsg_Term(msg, NULL);
    natsMsg_Destroy(msg);
    n->terms++;
}

static void dev_kick(ictal__devconn *c)
{
    nats_dev *d = c->user;
    d->kicked = 1;
    lws_sul_schedule(d->n->ctx, 0, &d->n->sul_flush, flush_cb, 1);
}

static void dev_drop(ictal__devconn *c)
{
    (void)c; /* a WebSocket connection of the device took over: frames get "superseded" */
}

/* Acks the pending messages whose frames are durable now. */
static void settle(nats_dev *d)
{
    int64_t durable = d->c.st ? d->c.st->durable_seq : -1;
    size_t j = 0;
    for (size_t i = 0; i < d->pend_n; i++) {
        if (d->pend[i].seq <= durable)
            msg_ack(d->n, d->pend[i].msg);
        else
            d->pend[j++] = d->pend[i];
    }
    d->pend_n = j;
}

/* Ends the device connection: what is durable is acked, the rest comes back later. */
static void dev_close(nats_dev *d)
{
    settle(d);
    for (size_t i = 0; i < d->pend_n; i++)
        msg_nak(d->n, d->pend[i].msg);
    d->pend_n = 0;
    ictal__devconn_close(&d->c);
    d->c.transport = "nats";
}

static void dev_flush(nats_dev *d)
{
    ictal__nats *n = d->n;
    d->kicked = 0;
    ictal__msg *msg;
    while ((msg = ictal__devconn_next(&d->c)) != NULL) {
        if (natsConnection_Publish(n->nc, d->ctl, msg->buf + LWS_PRE, (int)msg->len) == NATS_OK)
            n->msgs_out++;
        free(msg);
    }
    settle(d);
    if (d->c.close_status) {
        /* Rejected: the device starts again with a hello. */
        dev_close(d);
        d->told_no_hello = 1;
    }
}

static void flush_cb(lws_sorted_usec_list_t *sul)
{
    ictal__nats *n = lws_container_of(sul, ictal__nats, sul_flush);
    for (nats_dev *d = n->devs; d; d = d->next)
        if (d->kicked)
            dev_flush(d);
}

static nats_dev *dev_get(ictal__nats *n, const char *device_id)
{
    for (nats_dev *d = n->devs; d; d = d->next)
        if (strcmp(d->device_id, device_id) == 0)
            return d;
    if (n->n_devs >= n->srv->opt.max_devices)
        return NULL;
    nats_dev *d = calloc(1, sizeof *d);
    if (d == NULL)
        return NULL;
    d->n = n;
    snprintf(d->device_id, sizeof d->device_id, "%s", device_id);
    snprintf(d->ctl, sizeof d->ctl, ICTAL__NATS_CTL_PREFIX "%s", device_id);
    ictal__devconn_init(&d->c, n->srv, &nats_ops, d);
    d->c.transport = "nats";
    d->next = n->devs;
    n->devs = d;
    n->n_devs++;
    return d;
}

static int pend_add(nats_dev *d, natsMsg *msg, int64_t seq)
{
    if (d->pend_n == d->pend_cap) {
        size_t cap = d->pend_cap ? 2 * d->pend_cap : 64;
        nats_pend *p = realloc(d->pend, cap * sizeof *p);
        if (p == NULL)
            return -1;
        d->pend = p;
        d->pend_cap = cap;
    }
    d->pend[d->pend_n].msg = msg;
    d->pend[d->pend_n].seq = seq;
    d->pend_n++;
    return 0;
}

/* The seq of a frame message (-1: not a frame header). */
static int64_t frame_seq(const uint8_t *p, size_t len)
{
    if (len < ICTAL_WIRE_HEADER_BYTES || memcmp(p, "ICTF", 4) != 0)
        return -1;
    uint64_t s = 0;
    for (int b = 7; b >= 0; b--)
        s = (s << 8) | p[8 + b];
    return s > (uint64_t)INT64_MAX / 2 ? -1 : (int64_t)s;
}

/* Splits "ictal.v1.p.{k}.{device}.{kind}": 0 (hello), 1 (frames) or -1. */
static int parse_subject(const char *subj, char *device, size_t size)
{
    size_t pl = strlen(ICTAL__NATS_PART_PREFIX);
    if (subj == NULL || strncmp(subj, ICTAL__NATS_PART_PREFIX, pl) != 0)
        return -1;
    const char *k = subj + pl;
    const char *dot = strchr(k, '.');
    if (dot == NULL || dot == k)
        return -1;
    const char *dev = dot + 1;
    const char *dot2 = strchr(dev, '.');
    if (dot2 == NULL || (size_t)(dot2 - dev) >= size)
        return -1;
    memcpy(device, dev, (size_t)(dot2 - dev));
    device[dot2 - dev] = 0;
    if (!ictal__device_id_valid(device))
        return -1;
    if (strcmp(dot2 + 1, "hello") == 0)
        return 0;
    if (strcmp(dot2 + 1, "frames") == 0)
        return 1;
    return -1;
}

/* 1 when the frame's Nats-Msg-Id ("device/stream/seq") names another stream than the
 * connection's: a redelivery from before the device started a new stream (a reboot),
 * which must not be stored in the new session. */
static int other_stream(natsMsg *msg, const ictal__stream *st)
{
    const char *id = NULL;
    if (st == NULL || natsMsgHeader_Get(msg, "Nats-Msg-Id", &id) != NATS_OK || id == NULL)
        return 0;
    const char *a = strchr(id, '/');
    const char *b = a ? strchr(a + 1, '/') : NULL;
    if (b == NULL)
        return 0;
    size_t n = (size_t)(b - (a + 1));
    return n != strlen(st->stream_id) || memcmp(a + 1, st->stream_id, n) != 0;
}

static int close_code_is(const ictal__devconn *c, const char *code)
{
    size_t n = strlen(code);
    return strncmp(c->close_reason, code, n) == 0 && c->close_reason[n] == ':';
}

static void handle(ictal__nats *n, natsMsg *msg)
{
    ictal_server *srv = n->srv;
    char id[ICTAL__ID_MAX + 1];
    int kind = parse_subject(natsMsg_GetSubject(msg), id, sizeof id);
    if (kind < 0) {
        n->dropped++;
        msg_term(n, msg);
        return;
    }
    jsMsgMetaData *meta = NULL;
    if (natsMsg_GetMetaData(&meta, msg) == NATS_OK) {
        if (meta->NumDelivered > 1)
            n->redelivered++;
        jsMsgMetaData_Destroy(meta);
    }
    nats_dev *d = dev_get(n, id);
    if (d == NULL) {
        srv->rejected_total++;
        msg_nak(n, msg); /* the worker is full: another may take it... after a restart */
        return;
    }
    d->last_rx_us = ictal__mono_us();
    const uint8_t *data = (const uint8_t *)natsMsg_GetData(msg);
    size_t len = (size_t)natsMsg_GetDataLength(msg);
    if (kind == 0) {
        /* A hello starts a new connection of this device. */
        if (d->c.hello_done || d->c.close_status)
            dev_close(d);
        d->told_no_hello = 0;
        if (len > ICTAL_WIRE_MAX_FRAME_BYTES)
            ictal__devconn_reject(&d->c, 1009, "too_large", "message exceeds %d bytes",
                                  ICTAL_WIRE_MAX_FRAME_BYTES);
        else
            ictal__devconn_hello(&d->c, (const char *)data, len, d->device_id);
        msg_ack(n, msg);
        return;
    }
    if ((!d->c.hello_done && d->told_no_hello) || d->c.close_status) {
        msg_nak(n, msg); /* told (or refused) already: it waits for the next hello */
        return;
    }
    if (d->c.hello_done && other_stream(msg, d->c.st)) {
        n->stale++;
        msg_term(n, msg);
        return;
    }
    int64_t seq = frame_seq(data, len);
    if (ictal__devconn_frame(&d->c, data, len) != 0) {
        msg_nak(n, msg); /* no memory: later */
        return;
    }
    ictal__stream *st = d->c.st;
    if (d->c.close_status) {
        /* Refused: what may succeed later (after a hello, within the rate) comes back;
         * what never will is terminated. */
        if (close_code_is(&d->c, "no_hello") || close_code_is(&d->c, "rate_limit") ||
            close_code_is(&d->c, "storage") || close_code_is(&d->c, "superseded"))
            msg_nak(n, msg);
        else
            msg_term(n, msg);
        return;
    }
    int held = 0;
    if (seq >= 0) {
        int k = (int)(seq % ICTAL__REORDER_WINDOW);
        held = d->c.held[k] != NULL && d->c.held_seq[k] == (uint64_t)seq;
    }
    if (st && seq >= 0 && (seq <= st->log.last_seq || held)) {
        if (pend_add(d, msg, seq) != 0)
            msg_nak(n, msg);
        else if (seq <= st->durable_seq)
            settle(d);
    } else {
        msg_nak(n, msg); /* beyond a hole ("gap" told): comes back once it may fit */
    }
}

void ictal__nats_poll(ictal__nats *n)
{
    if (n == NULL)
        return;
    ictal__inq_item *list = ictal__inq_take(&n->in);
    while (list) {
        nats_in *in = (nats_in *)list;
        list = list->next;
        handle(n, in->msg);
        free(in);
    }
}

void ictal__nats_tick(ictal__nats *n)
{
    if (n == NULL)
        return;
    int64_t now = ictal__mono_us();
    for (nats_dev **pp = &n->devs; *pp;) {
        nats_dev *d = *pp;
        if (d->c.hello_done && now - d->last_rx_us > IDLE_CLOSE_US)
            dev_close(d);
        if (!d->c.hello_done && now - d->last_rx_us > FORGET_US) {
            *pp = d->next;
            dev_close(d);
            free(d->pend);
            free(d);
            n->n_devs--;
            continue;
        }
        pp = &d->next;
    }
}

void ictal__nats_stats_get(ictal__nats *n, ictal__nats_stats *s)
{
    memset(s, 0, sizeof *s);
    if (n == NULL)
        return;
    s->msgs_out = n->msgs_out;
    s->acks = n->acks;
    s->naks = n->naks;
    s->terms = n->terms;
    s->redelivered = n->redelivered;
    s->dropped = n->dropped;
    s->stale = n->stale;
    s->partitions = n->n_parts;
    for (nats_dev *d = n->devs; d; d = d->next)
        s->devices += d->c.hello_done && d->c.st != NULL;
    pthread_mutex_lock(&n->mu);
    s->connected = n->connected;
    s->reconnects = n->reconnects;
    s->disconnects = n->disconnects;
    pthread_mutex_unlock(&n->mu);
    pthread_mutex_lock(&n->in.mu);
    s->msgs_in = n->msgs_in;
    s->bytes_in = n->bytes_in;
    pthread_mutex_unlock(&n->in.mu);
}

/* --- lifecycle ----------------------------------------------------------------------------- */

static int nats_fail(ictal_diag *d, const char *what, natsStatus s, jsErrCode jerr)
{
    const char *last = nats_GetLastError(NULL);
    if (jerr)
        return ictal_diag_error(d, ICTAL_EIO, "nats: %s: %s (JetStream error %d)", what,
                                last && last[0] ? last : natsStatus_GetText(s), (int)jerr);
    return ictal_diag_error(d, ICTAL_EIO, "nats: %s: %s", what,
                            last && last[0] ? last : natsStatus_GetText(s));
}

/* 1 when a stream subject captures every partition subject (ictal.v1.p.>). */
static int subject_covers_parts(const char *subj)
{
    static const char *const ok[] = {">", "ictal.>", "ictal.v1.>", ICTAL__NATS_PART_PREFIX ">"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (strcmp(subj, ok[i]) == 0)
            return 1;
    return 0;
}

/* An existing stream ICTAL must hold the partition subjects until a worker acks them:
 * with another retention or discard policy, messages would be kept forever or dropped
 * unprocessed when the stream is full. */
static int check_stream(const jsStreamConfig *c, ictal_diag *d)
{
    int covered = 0;
    for (int i = 0; c && i < c->SubjectsLen; i++)
        covered |= c->Subjects[i] && subject_covers_parts(c->Subjects[i]);
    if (c == NULL || !covered)
        return ictal_diag_error(d, ICTAL_EIO,
                                "nats: the existing stream " ICTAL__NATS_STREAM
                                " does not capture the partition subjects " ICTAL__NATS_PART_PREFIX
                                "> (its subjects: %s%s): delete it or add that subject",
                                c && c->SubjectsLen > 0 ? c->Subjects[0] : "none",
                                c && c->SubjectsLen > 1 ? ", ..." : "");
    if (c->Retention != js_WorkQueuePolicy)
        return ictal_diag_error(d, ICTAL_EIO,
                                "nats: the existing stream " ICTAL__NATS_STREAM
                                " has %s retention, not workqueue: acknowledged messages would "
                                "never leave it (delete it: ictal creates it as it needs)",
                                c->Retention == js_InterestPolicy ? "interest" : "limits");
    if (c->Discard != js_DiscardNew)
        return ictal_diag_error(d, ICTAL_EIO,
                                "nats: the existing stream " ICTAL__NATS_STREAM
                                " discards old messages when full: frames not yet stored would "
                                "be lost (set its discard policy to new)");
    return 0;
}

/* The stream: created when missing; an existing one (another worker's, or configured by
 * hand) is used as it is when check_stream accepts it. */
static int ensure_stream(ictal__nats *n, const ictal__nats_options *opt, ictal_diag *d)
{
    jsStreamConfig sc;
    jsStreamConfig_Init(&sc);
    const char *subjects[] = {ICTAL__NATS_PART_PREFIX ">"};
    sc.Name = ICTAL__NATS_STREAM;
    sc.Description = "ictal device messages (docs/protocol.md, NATS JetStream transport)";
    sc.Subjects = subjects;
    sc.SubjectsLen = 1;
    sc.Retention = js_WorkQueuePolicy;       /* a message is gone once its worker acked it */
    sc.Storage = js_FileStorage;
    sc.Discard = js_DiscardNew;              /* full: publishers are refused, nothing lost */
    sc.MaxBytes = opt->max_bytes > 0 ? opt->max_bytes : (int64_t)1 << 30;
    sc.MaxAge = (int64_t)24 * 3600 * 1000000000LL;
    sc.MaxMsgSize = ICTAL_WIRE_MAX_FRAME_BYTES + 1024; /* a frame and its headers */
    sc.Duplicates = (int64_t)120 * 1000000000LL;      /* Nats-Msg-Id window: 2 min */
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetStreamInfo(&si, n->js, ICTAL__NATS_STREAM, NULL, &jerr);
    if (s == NATS_OK) {
        int rc = check_stream(si->Config, d);
        jsStreamInfo_Destroy(si);
        return rc;
    }
    if (jerr == JSNotEnabledErr || jerr == JSNotEnabledForAccountErr || s == NATS_NO_RESPONDERS)
        return ictal_diag_error(d, ICTAL_EIO,
                                "nats: %s: JetStream is not enabled on this NATS server (or for "
                                "this account): add a jetstream block to its configuration "
                                "(docs/nats-server.conf)",
                                opt->url);
    jerr = 0;
    s = js_AddStream(&si, n->js, &sc, NULL, &jerr);
    if (s == NATS_OK || jerr == JSStreamNameExistErr) {
        jsStreamInfo_Destroy(si);
        if (s == NATS_OK)
            ictal__log(n->srv, "nats: created the stream %s", ICTAL__NATS_STREAM);
        return 0;
    }
    return nats_fail(d, "cannot create the stream " ICTAL__NATS_STREAM, s, jerr);
}

/* Consumers ictal-p{K} with K >= count (left by workers of a larger --partition-count,
 * or this one's count is not the mapping's N) hold messages no worker of this count
 * would ever read: refused, rather than leaving those frames unstored in silence. */
static int check_stranded(ictal__nats *n, int count, ictal_diag *d)
{
    jsConsumerInfoList *list = NULL;
    if (js_Consumers(&list, n->js, ICTAL__NATS_STREAM, NULL, NULL) != NATS_OK || list == NULL)
        return 0; /* none (or unlisted): nothing to say */
    int rc = 0;
    for (int i = 0; rc == 0 && i < list->Count; i++) {
        const jsConsumerInfo *ci = list->List[i];
        int k = -1, end = 0;
        if (ci == NULL || ci->Name == NULL || sscanf(ci->Name, "ictal-p%d%n", &k, &end) != 1 ||
            ci->Name[end] != 0 || k < count)
            continue;
        uint64_t held = ci->NumPending + (uint64_t)(ci->NumAckPending > 0 ? ci->NumAckPending : 0);
        if (held > 0)
            rc = ictal_diag_error(d, ICTAL_EIO,
                                  "nats: the consumer %s still holds %llu message(s) of partition "
                                  "%d, beyond --partition-count %d: run with the NATS server "
                                  "mapping's partition count (docs/nats-server.conf), or drain "
                                  "them with the old count first",
                                  ci->Name, (unsigned long long)held, k, count);
        else
            ictal__log(n->srv, "nats: consumer %s (partition %d >= --partition-count %d) is "
                       "empty and unused", ci->Name, k, count);
    }
    jsConsumerInfoList_Destroy(list);
    return rc;
}

static int bind_partition(ictal__nats *n, nats_part *p, int ack_wait_ms, ictal_diag *d)
{
    char durable[32], filter[64];
    snprintf(durable, sizeof durable, "ictal-p%d", p->k);
    snprintf(filter, sizeof filter, ICTAL__NATS_PART_PREFIX "%d.>", p->k);
    jsConsumerConfig cc;
    jsConsumerConfig_Init(&cc);
    cc.Durable = durable;
    cc.Description = "ictal worker partition";
    cc.FilterSubject = filter;
    cc.AckPolicy = js_AckExplicit;
    cc.DeliverPolicy = js_DeliverAll;
    cc.AckWait = (int64_t)ack_wait_ms * 1000000LL;
    cc.MaxDeliver = MAX_DELIVER;
    cc.MaxAckPending = MAX_ACK_PENDING;
    jsConsumerInfo *ci = NULL;
    jsErrCode jerr = 0;
    /* Created here and bound below, so that closing the subscription never deletes the
     * durable consumer: it outlives the worker for its successor. */
    natsStatus s = js_AddConsumer(&ci, n->js, ICTAL__NATS_STREAM, &cc, NULL, &jerr);
    jsConsumerInfo_Destroy(ci);
    ci = NULL;
    if (s != NATS_OK && jerr == JSConsumerNameExistErr) {
        /* It exists with other settings (another --nats-ack-wait-s): take ours. */
        jerr = 0;
        s = js_UpdateConsumer(&ci, n->js, ICTAL__NATS_STREAM, &cc, NULL, &jerr);
        jsConsumerInfo_Destroy(ci);
        if (s != NATS_OK)
            ictal__log(n->srv, "nats: consumer %s keeps its own settings (%s)", durable,
                       nats_GetLastError(NULL));
        s = NATS_OK;
    }
    if (s != NATS_OK)
        return nats_fail(d, "cannot create the consumer", s, jerr);
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = ICTAL__NATS_STREAM;
    so.Consumer = durable;
    so.ManualAck = true;
    jerr = 0;
    s = js_PullSubscribe(&p->sub, n->js, filter, durable, NULL, &so, &jerr);
    if (s != NATS_OK)
        return nats_fail(d, "cannot bind the consumer", s, jerr);
    return 0;
}

int ictal__nats_create(ictal__nats **out, ictal_server *srv, struct lws_context *ctx,
                       const ictal__nats_options *opt, void (*wake)(void *), void *wake_user,
                       ictal_diag *d)
{
    *out = NULL;
    int count = opt->partition_count > 0 ? opt->partition_count : 16;
    uint8_t owned[ICTAL__NATS_PARTITIONS_MAX];
    int n_owned = ictal__nats_partitions_parse(opt->partitions, count, owned, d);
    if (n_owned < 0)
        return n_owned;
    if (opt->url == NULL || opt->url[0] == 0)
        return ictal_diag_error(d, ICTAL_EINVAL, "--nats needs a URL (nats://HOST:PORT)");
    ictal__nats *n = calloc(1, sizeof *n);
    if (n == NULL)
        return ICTAL_ENOMEM;
    n->srv = srv;
    n->ctx = ctx;
    ictal__inq_init(&n->in, QUEUE_MAX_MSGS, QUEUE_MAX_BYTES, wake, wake_user);
    pthread_mutex_init(&n->mu, NULL);
    pthread_cond_init(&n->closed_cv, NULL);
    n->parts = calloc((size_t)n_owned, sizeof *n->parts);
    int rc = n->parts ? 0 : ICTAL_ENOMEM;
    natsOptions *no = NULL;
    natsStatus s = NATS_OK;
    if (rc == 0 && natsOptions_Create(&no) != NATS_OK)
        rc = ICTAL_ENOMEM;
    if (rc == 0) {
        natsOptions_SetURL(no, opt->url);
        natsOptions_SetName(no, "ictal-worker");
        natsOptions_SetMaxReconnect(no, -1);       /* forever: the worker outlives outages */
        natsOptions_SetReconnectWait(no, 250);
        natsOptions_SetReconnectBufSize(no, 32 << 20); /* acks and replies while away */
        natsOptions_SetDisconnectedCB(no, on_disconnected, n);
        natsOptions_SetReconnectedCB(no, on_reconnected, n);
        natsOptions_SetClosedCB(no, on_closed, n);
        if (opt->user && natsOptions_SetUserInfo(no, opt->user, opt->password) != NATS_OK)
            rc = ictal_diag_error(d, ICTAL_EINVAL, "nats: bad user name or password");
        if (rc == 0 && opt->creds_file &&
            (s = natsOptions_SetUserCredentialsFromFiles(no, opt->creds_file, NULL)) != NATS_OK)
            rc = nats_fail(d, "credentials file", s, 0);
        if (rc == 0 && opt->ca_file &&
            ((s = natsOptions_SetSecure(no, true)) != NATS_OK ||
             (s = natsOptions_LoadCATrustedCertificates(no, opt->ca_file)) != NATS_OK))
            rc = nats_fail(d, "TLS CA file", s, 0);
    }
    if (rc == 0 && (s = natsConnection_Connect(&n->nc, no)) != NATS_OK)
        rc = nats_fail(d, opt->url, s, 0);
    natsOptions_Destroy(no);
    if (rc == 0) {
        n->connected = 1;
        jsOptions jo;
        jsOptions_Init(&jo);
        if ((s = natsConnection_JetStream(&n->js, n->nc, &jo)) != NATS_OK)
            rc = nats_fail(d, "JetStream", s, 0);
    }
    if (rc == 0)
        rc = ensure_stream(n, opt, d);
    if (rc == 0)
        rc = check_stranded(n, count, d);
    int ack_wait_ms = opt->ack_wait_ms > 0 ? opt->ack_wait_ms : 30000;
    for (int k = 0; rc == 0 && k < count; k++) {
        if (!owned[k])
            continue;
        nats_part *p = &n->parts[n->n_parts];
        p->n = n;
        p->k = k;
        rc = bind_partition(n, p, ack_wait_ms, d);
        if (rc == 0)
            n->n_parts++;
    }
    for (int i = 0; rc == 0 && i < n->n_parts; i++) {
        if (pthread_create(&n->parts[i].th, NULL, fetch_main, &n->parts[i]) != 0)
            rc = ictal_diag_error(d, ICTAL_EIO, "nats: cannot start a fetch thread");
        else
            n->parts[i].started = 1;
    }
    if (rc != 0) {
        ictal__nats_destroy(n);
        return rc;
    }
    ictal__log(srv, "nats: %s, partitions %s of %d (%d owned), ack wait %d ms", opt->url,
               opt->partitions, count, n_owned, ack_wait_ms);
    *out = n;
    return 0;
}

void ictal__nats_destroy(ictal__nats *n)
{
    if (n == NULL)
        return;
    ictal__inq_stop(&n->in);
    for (int i = 0; i < n->n_parts; i++)
        if (n->parts[i].started)
            pthread_join(n->parts[i].th, NULL);
    if (n->ctx)
        lws_sul_cancel(&n->sul_flush);
    ictal__inq_item *left = ictal__inq_destroy(&n->in);
    while (left) {
        nats_in *in = (nats_in *)left;
        left = left->next;
        msg_nak(n, in->msg);
        free(in);
    }
    while (n->devs) {
        nats_dev *dv = n->devs;
        n->devs = dv->next;
        dev_close(dv);
        free(dv->pend);
        free(dv);
    }
    /* The acks and NAKs above reach the server (not waited for when it is away: what
     * they settle is redelivered instead). */
    if (n->nc && natsConnection_Status(n->nc) == NATS_CONN_STATUS_CONNECTED)
        natsConnection_FlushTimeout(n->nc, 2000);
    for (int i = 0; i < n->n_parts; i++)
        natsSubscription_Destroy(n->parts[i].sub);
    jsCtx_Destroy(n->js);
    if (n->nc) {
        natsConnection_Close(n->nc);
        /* Its callbacks run on nats.c's thread and use n: wait for the last one. */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 5;
        pthread_mutex_lock(&n->mu);
        while (!n->closed && pthread_cond_timedwait(&n->closed_cv, &n->mu, &until) != ETIMEDOUT)
            ;
        int closed = n->closed;
        pthread_mutex_unlock(&n->mu);
        natsConnection_Destroy(n->nc);
        /* Its last callback has not run yet and may still come: n stays allocated (a
         * leak at shutdown) rather than be used after it is freed. */
        if (!closed)
            return;
    }
    free(n->parts);
    pthread_cond_destroy(&n->closed_cv);
    pthread_mutex_destroy(&n->mu);
    free(n);
}
