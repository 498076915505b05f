/* The monitoring server: event loop, device ingest, dashboards (server.h). */
#include "server/server_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "server/db.h"
#include "server/hoplog.h"
#include "server/mqtt.h"
#include "server/natsdev.h"

const double ictal__lat_bounds_s[ICTAL__LAT_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025,
                                                        0.05,  0.1,    0.25,  1.0};

int64_t ictal__mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void ictal__log(ictal_server *srv, const char *fmt, ...)
{
    if (srv->opt.quiet)
        return;
    char ts[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(ts, sizeof ts, "%H:%M:%S", &tm);
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "ictal %s %s ", srv->opt.no_device_websocket ? "worker" : "serve", ts);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void ictal_server_options_init(ictal_server_options *opt)
{
    memset(opt, 0, sizeof *opt);
}

/* --- message queues ------------------------------------------------------------------ */

ictal__msg *ictal__msg_new(const char *data, size_t len)
{
    ictal__msg *m = malloc(sizeof *m + LWS_PRE + len);
    if (m == NULL)
        return NULL;
    m->next = NULL;
    m->len = len;
    m->decided_us = 0;
    memcpy(m->buf + LWS_PRE, data, len);
    return m;
}

void ictal__msgq_push(ictal__msgq *q, ictal__msg *m)
{
    if (q->tail)
        q->tail->next = m;
    else
        q->head = m;
    q->tail = m;
    q->n++;
}

ictal__msg *ictal__msgq_pop(ictal__msgq *q)
{
    ictal__msg *m = q->head;
    if (m) {
        q->head = m->next;
        if (q->head == NULL)
            q->tail = NULL;
        q->n--;
    }
    return m;
}

void ictal__msgq_free(ictal__msgq *q)
{
    ictal__msg *m;
    while ((m = ictal__msgq_pop(q)) != NULL)
        free(m);
}

/*
 * Dashboard queues keep alarms first (after the alarms already queued), so that an
 * alarm never waits behind live data, and hold at most one status (the newest).
 */
void ictal__dash_send(ictal__dash *d, json_t *j, int64_t decided_us)
{
    const char *type = json_string_value(json_object_get(j, "type"));
    int kind = type && strcmp(type, "alarm") == 0    ? ICTAL__MSG_ALARM
               : type && strcmp(type, "status") == 0 ? ICTAL__MSG_STATUS
                                                     : ICTAL__MSG_LIVE;
    /* Live data may be dropped for a slow dashboard; alarms never are. */
    if (kind == ICTAL__MSG_LIVE && d->out.n >= ICTAL__DASH_QUEUE_MAX)
        return;
    char *txt = json_dumps(j, JSON_COMPACT);
    if (txt == NULL)
        return;
    ictal__msg *m = ictal__msg_new(txt, strlen(txt));
    free(txt);
    if (m == NULL)
        return;
    m->decided_us = decided_us;
    m->kind = kind;
    if (kind == ICTAL__MSG_STATUS) {
        for (ictal__msg **pp = &d->out.head, *prev = NULL; *pp;) {
            ictal__msg *x = *pp;
            if (x->kind == ICTAL__MSG_STATUS) {
                *pp = x->next;
                if (d->out.tail == x)
                    d->out.tail = prev;
                d->out.n--;
                free(x);
                continue;
            }
            prev = x;
            pp = &x->next;
        }
        ictal__msgq_push(&d->out, m);
    } else if (kind == ICTAL__MSG_ALARM) {
        ictal__msg *after = NULL;
        for (ictal__msg *x = d->out.head; x && x->kind == ICTAL__MSG_ALARM; x = x->next)
            after = x;
        if (after == NULL) {
            m->next = d->out.head;
            d->out.head = m;
            if (d->out.tail == NULL)
                d->out.tail = m;
        } else {
            m->next = after->next;
            after->next = m;
            if (d->out.tail == after)
                d->out.tail = m;
        }
        d->out.n++;
    } else {
        ictal__msgq_push(&d->out, m);
    }
    lws_callback_on_writable(d->wsi);
}

void ictal__dash_broadcast(ictal_server *srv, json_t *j, const char *only_sub, int64_t decided_us)
{
    for (ictal__dash *d = srv->dashes; d; d = d->next) {
        if (d->role < ICTAL_ROLE_VIEWER)
            continue;
        if (only_sub && strcmp(d->sub, only_sub) != 0)
            continue;
        ictal__dash_send(d, j, decided_us);
    }
}

static int any_subscriber(ictal_server *srv, const char *device_id)
{
    for (ictal__dash *d = srv->dashes; d; d = d->next)
        if (d->role >= ICTAL_ROLE_VIEWER && strcmp(d->sub, device_id) == 0)
            return 1;
    return 0;
}

/* --- streams --------------------------------------------------------------------------- */

ictal__stream *ictal__stream_find(ictal_server *srv, const char *device_id)
{
    for (ictal__stream *s = srv->streams; s; s = s->next)
        if (strcmp(s->device_id, device_id) == 0)
            return s;
    return NULL;
}

/* Hands the log to the syncer (or, without one, syncs it here). */
static void stream_sync_log(ictal__stream *st)
{
    if (st->log.dirty && st->log.fd >= 0) {
        if (st->srv->syncer == NULL) {
            if (ictal__seslog_sync(&st->log) == 0)
                st->durable_seq = st->log.last_seq;
            if (st->hops_fd >= 0)
                fdatasync(st->hops_fd);
        } else if (!st->sync_pending) {
            int fd = dup(st->log.fd);
            if (fd >= 0) {
                st->log.dirty = 0;
                st->sync_pending = 1;
                ictal__syncer_push(st->srv->syncer, fd, st->session_id, st->log.last_seq);
                /* The hop log rides along; INT64_MIN: its completion acks nothing. */
                int hfd = st->hops_fd >= 0 ? dup(st->hops_fd) : -1;
                if (hfd >= 0)
                    ictal__syncer_push(st->srv->syncer, hfd, st->session_id, INT64_MIN);
            }
        }
    }
}

/* The log, and the session's progress in the database. */
void ictal__stream_sync(ictal__stream *st)
{
    stream_sync_log(st);
    if (st->synced_seq != st->log.last_seq) {
        ictal__store_session_progress(&st->srv->store, st->session_id, st->log.last_seq,
                                      st->log.frames, st->log.samples);
        st->synced_seq = st->log.last_seq;
    }
}

/* On the loop, after the syncer woke it: durable seqs become acks. */
static void syncs_done(ictal_server *srv)
{
    int64_t sid[256], seq[256];
    int n;
    while (srv->syncer && (n = ictal__syncer_done(srv->syncer, sid, seq, 256)) > 0) {
        for (int i = 0; i < n; i++) {
            for (ictal__stream *st = srv->streams; st; st = st->next) {
                if (st->session_id != sid[i])
                    continue;
                if (seq[i] == INT64_MIN)
                    break; /* the hop log's sync (stream_sync_log) */
                st->sync_pending = 0;
                if (seq[i] > st->durable_seq) {
                    st->durable_seq = seq[i];
                    if (st->conn)
                        st->conn->ops->kick(st->conn);
                }
                break;
            }
        }
    }
}

void ictal__server_wake(ictal_server *srv)
{
    syncs_done(srv);
    ictal__mqtt_poll(srv->mqtt);
    ictal__nats_poll(srv->nats);
}

/* Called by the syncer and the hasher threads. */
static void syncer_wake(void *user)
{
    ictal_server *srv = user;
    lws_cancel_service(srv->ctx); /* thread-safe: the loop gets EVENT_WAIT_CANCELLED */
}

static void stream_free(ictal__stream *st)
{
    ictal__stream_sync(st);
    if (st->srv->syncer)
        st->log.dirty = 0; /* the syncer has it */
    ictal__seslog_close(&st->log);
    if (st->hops_fd >= 0)
        close(st->hops_fd);
    ictal_diag d;
    ictal_diag_init(&d);
    if (ictal__recorder_close(st->rec, &d) != 0)
        ictal__log(st->srv, "device %s: closing %s: %s", st->device_id, st->edf_path, d.message);
    ictal__analysis_destroy(st->an);
    json_decref(st->labels);
    free(st);
}

static void stream_unlink(ictal_server *srv, ictal__stream *st)
{
    for (ictal__stream **pp = &srv->streams; *pp; pp = &(*pp)->next)
        if (*pp == st) {
            *pp = st->next;
            return;
        }
}

/* Labels of the montage channels the detector sees (all, or those in mask). */
static json_t *channel_names(const ictal__stream *st, uint32_t mask)
{
    json_t *a = json_array();
    int n = ictal__analysis_channels(st->an);
    for (int c = 0; c < n && c < 32; c++)
        if (mask & (1u << c))
            json_array_append_new(a, json_string(ictal__analysis_label(st->an, c)));
    return a;
}

static void on_hop(void *user, const ictal__hop_info *h)
{
    ictal__stream *st = user;
    st->last_hop = *h;
    st->have_hop = 1;
    ictal__hist *e = &st->hist[st->hist_head];
    e->t_s = (float)h->t_s;
    e->prob = h->prob;
    e->burden = h->burden;
    st->hist_head = (st->hist_head + 1) % ICTAL__HISTORY_HOPS;
    if (st->hist_n < ICTAL__HISTORY_HOPS)
        st->hist_n++;
    if (st->hops_fd >= 0) {
        /* One small write per hop, into the page cache: the syncer makes it durable. */
        unsigned char b[ICTAL__HOPLOG_ENTRY];
        ictal__hoplog_encode(b, (float)h->t_s, h->prob, h->burden);
        if (write(st->hops_fd, b, sizeof b) != (ssize_t)sizeof b) {
            ictal__log(st->srv, "device %s: writing %s failed: %s; its timeline stops here",
                       st->device_id, st->hops_path, strerror(errno));
            close(st->hops_fd);
            st->hops_fd = -1;
        }
    }
    if (st->replaying || !any_subscriber(st->srv, st->device_id))
        return;
    json_t *q = json_array();
    for (int c = 0; c < h->n_channels; c++)
        json_array_append_new(q, json_integer(h->quality[c]));
    json_t *rms = json_array();
    for (int c = 0; c < h->n_channels; c++)
        json_array_append_new(rms, json_real(round(h->rms_uv[c] * 10) / 10));
    json_t *j = json_pack("{s:s, s:s, s:f, s:o, s:o, s:o, s:s, s:o, s:o}", "type", "hop",
                          "device", st->device_id, "t_s", h->t_s, "prob",
                          isnan(h->prob) ? json_null() : json_real(h->prob), "burden",
                          isnan(h->burden) ? json_null() : json_real(h->burden), "threshold",
                          isnan(h->threshold) ? json_null() : json_real(h->threshold), "state",
                          h->state, "quality", q, "rms_uv", rms);
    ictal__dash_broadcast(st->srv, j, st->device_id, 0);
    json_decref(j);
}

static void on_event(void *user, const ictal__event_info *ev)
{
    ictal__stream *st = user;
    ictal_server *srv = st->srv;
    int64_t decided = ictal__mono_us();
    int64_t alarm_id = 0;
    int created = 0, rc;
    const char *kind;
    if (ev->kind == 1) {
        json_t *chans = channel_names(st, ev->channels);
        ictal__alarm_in a = {st->session_id, st->device_id, ev->id, ev->onset_s, ev->alarm_s,
                             ev->peak_prob, chans};
        rc = ictal__store_alarm_raise(&srv->store, &a, srv->opt.webhook_url, &alarm_id, &created);
        json_decref(chans);
        kind = "raised";
    } else {
        rc = ictal__store_alarm_resolve(&srv->store, st->session_id, ev->id, ev->offset_s,
                                        ev->peak_prob, srv->opt.webhook_url, &alarm_id);
        created = rc == 0;
        kind = "resolved";
        if (rc == ICTAL_ENOENT)
            rc = 0; /* resolved already (a replay after restart) */
    }
    if (rc != 0) {
        ictal__log(srv, "device %s: storing alarm failed: %s", st->device_id, ictal_strerror(rc));
        return;
    }
    /* Into the recording, also on a replay after a restart (that rewrites the file). */
    if (ev->kind == 1) {
        st->open_event = ev->id;
        st->open_alarm_id = alarm_id;
    } else if (alarm_id == 0 && st->open_event == ev->id) {
        alarm_id = st->open_alarm_id; /* resolved already: the replay's resolve */
    }
    if (st->rec && alarm_id > 0) {
        char text[96];
        ictal__recorder_alarm_text(text, sizeof text, alarm_id, ev->kind == 1, ev->alarm_s,
                                   ev->peak_prob);
        ictal_diag d;
        ictal_diag_init(&d);
        if (ictal__recorder_annotate(st->rec, ev->onset_s,
                                     ev->kind == 1 ? -1 : ev->offset_s - ev->onset_s, text, &d) != 0)
            ictal__log(srv, "device %s: annotation not recorded: %s", st->device_id, d.message);
    }
    if (!created)
        return;
    if (ev->kind == 1)
        srv->alarms_total++;
    ictal__log(srv, "device %s: alarm %lld %s (onset %.1f s)", st->device_id, (long long)alarm_id,
               kind, ev->onset_s);
    json_t *row = ictal__store_alarm_json(&srv->store, alarm_id);
    json_t *j = json_pack("{s:s, s:s, s:o}", "type", "alarm", "event", kind, "alarm",
                          row ? row : json_null());
    ictal__dash_broadcast(srv, j, NULL, decided);
    json_decref(j);
    json_t *detail = json_pack("{s:I, s:f}", "alarm_id", (json_int_t)alarm_id, "t_s",
                               ev->kind == 1 ? ev->alarm_s : ev->offset_s);
    ictal__store_event(&srv->store, st->device_id, st->session_id,
                       ev->kind == 1 ? "alarm_raised" : "alarm_resolved", detail);
    json_decref(detail);
}

/* Sends live samples of one frame to subscribed dashboards: the bipolar montage the
 * detector sees, averaged down to <= 128 Hz. */
static void push_samples(ictal__stream *st, const float *dev_uv, uint32_t n, double t_s)
{
    int k = (int)ceil(st->rate_hz / 128.0);
    if (k < 1)
        k = 1;
    int nc = ictal__analysis_channels(st->an);
    float *uv = st->srv->montage_uv;
    ictal__analysis_montage(st->an, dev_uv, n, uv);
    json_t *data = json_array();
    for (int c = 0; c < nc; c++) {
        json_t *ch = json_array();
        for (uint32_t i = 0; i + (uint32_t)k <= n; i += (uint32_t)k) {
            double sum = 0;
            for (int j = 0; j < k; j++)
                sum += uv[(i + (uint32_t)j) * (uint32_t)nc + (uint32_t)c];
            json_array_append_new(ch, json_real(round(sum / k * 10) / 10));
        }
        json_array_append_new(data, ch);
    }
    json_t *j = json_pack("{s:s, s:s, s:f, s:f, s:o}", "type", "samples", "device", st->device_id,
                          "t_s", t_s, "rate_hz", st->rate_hz / k, "data", data);
    ictal__dash_broadcast(st->srv, j, st->device_id, 0);
    json_decref(j);
}

/* Appends one stored frame to the session's EDF+ (opened at its first frame). A write
 * error stops the recording of this session, not the stream: the log still has it all
 * and the download rebuilds the file from it. */
static void record_frame(ictal__stream *st, const ictal_wire_frame *f, const float *uv)
{
    if (st->rec_failed)
        return;
    ictal_diag d;
    ictal_diag_init(&d);
    int rc = 0;
    if (st->rec == NULL) {
        ictal__recorder_session s = {st->session_id, st->device_id, st->labels, st->rate_hz,
                                     st->start_time_us};
        rc = ictal__recorder_open(&st->rec, st->edf_path, &s, f, &d);
    }
    if (rc == 0)
        rc = ictal__recorder_frame(st->rec, f, uv, &d);
    if (rc != 0) {
        ictal__log(st->srv, "device %s: recording to %s stopped: %s", st->device_id,
                   st->edf_path, d.message[0] ? d.message : ictal_strerror(rc));
        ictal__recorder_close(st->rec, NULL);
        st->rec = NULL;
        st->rec_failed = 1;
        unlink(st->edf_path); /* never serve it half-written: downloads rebuild it */
    }
}

/* Runs one stored frame through the analysis (live and on restart replay). */
void ictal__stream_analyse(ictal__stream *st, const ictal_wire_frame *f, int64_t expected_time_us)
{
    ictal_server *srv = st->srv;
    double t_s = (double)(f->device_time_us - st->start_time_us) * 1e-6;
    if (expected_time_us != INT64_MIN) {
        int64_t tol_us = (int64_t)(2e6 / st->rate_hz) + 20000;
        if (f->device_time_us > expected_time_us + tol_us) {
            st->time_gaps++;
            srv->time_gaps_total++;
            ictal__analysis_reset(st->an, t_s);
            if (!st->replaying) {
                json_t *detail = json_pack("{s:f, s:f}", "t_s", t_s, "gap_s",
                                           (double)(f->device_time_us - expected_time_us) * 1e-6);
                ictal__store_event(&srv->store, st->device_id, st->session_id, "gap", detail);
                json_decref(detail);
            }
        }
    }
    ictal_wire_decode_uv(f, srv->decode_uv);
    record_frame(st, f, srv->decode_uv);
    ictal__analysis_push(st->an, srv->decode_uv, f->n_samples);
    if (!st->replaying && any_subscriber(srv, st->device_id))
        push_samples(st, srv->decode_uv, f->n_samples, t_s);
}

typedef struct replay_ctx {
    ictal__stream *st;
    int64_t expected_us;
} replay_ctx;

static int replay_cb(void *user, const ictal_wire_frame *f)
{
    replay_ctx *r = user;
    ictal__stream_analyse(r->st, f, r->expected_us);
    r->expected_us = f->device_time_us + (int64_t)((double)f->n_samples * 1e6 / r->st->rate_hz);
    return 0;
}

static int make_dirs(const char *path)
{
    if (mkdir(path, 0750) != 0 && errno != EEXIST)
        return ICTAL_EIO;
    return 0;
}

/* Opens (or resumes) the stream of a hello. */
int ictal__stream_open(ictal_server *srv, const char *device_id, const char *stream_id,
                       json_t *labels, double rate_hz, const char *firmware, int64_t start_us,
                       ictal__stream **out, ictal_diag *d)
{
    ictal__stream *st = ictal__stream_find(srv, device_id);
    if (st && strcmp(st->stream_id, stream_id) == 0) {
        if (!json_equal(st->labels, labels) || st->rate_hz != rate_hz)
            return ictal_diag_error(d, ICTAL_EINVAL,
                                    "stream %s resumed with other channels or rate", stream_id);
        snprintf(st->firmware, sizeof st->firmware, "%s", firmware);
        *out = st;
        return 0;
    }
    if (st) { /* a new stream of the same device: the old session ends */
        stream_unlink(srv, st);
        ictal__store_session_end(&srv->store, st->session_id);
        stream_free(st);
    }
    int64_t session_id;
    int created;
    int rc = ictal__store_session_get(&srv->store, device_id, stream_id, labels, rate_hz, start_us,
                                      &session_id, &created);
    if (rc != 0)
        return ictal_diag_error(d, rc, "cannot open the session in the database");
    ictal__store_session_end_others(&srv->store, device_id, session_id);
    json_t *row = ictal__store_session_json(&srv->store, session_id);
    if (row == NULL)
        return ictal_diag_error(d, ICTAL_EIO, "session %lld vanished", (long long)session_id);
    if (!json_equal(json_object_get(row, "labels"), labels) ||
        json_real_value(json_object_get(row, "rate_hz")) != rate_hz) {
        json_decref(row);
        return ictal_diag_error(d, ICTAL_EINVAL,
                                "stream %s resumed with other channels or rate", stream_id);
    }
    int64_t stored_start = json_integer_value(json_object_get(row, "start_time_us"));
    json_decref(row);

    st = calloc(1, sizeof *st);
    if (st == NULL)
        return ICTAL_ENOMEM;
    st->srv = srv;
    snprintf(st->device_id, sizeof st->device_id, "%s", device_id);
    snprintf(st->stream_id, sizeof st->stream_id, "%s", stream_id);
    snprintf(st->firmware, sizeof st->firmware, "%s", firmware);
    st->session_id = session_id;
    st->n_channels = (int)json_array_size(labels);
    st->rate_hz = rate_hz;
    st->labels = json_incref(labels);
    st->start_time_us = stored_start;
    st->log.fd = -1;
    st->hops_fd = -1;
    st->bucket_us = ictal__mono_us();
    st->bucket_samples = rate_hz * srv->opt.max_speed * 60.0;
    st->bucket_frames = srv->opt.max_frames_per_s * 60.0;
    const char *lab[ICTAL__ANALYSIS_MAX_CHANNELS];
    for (int c = 0; c < st->n_channels; c++)
        lab[c] = json_string_value(json_array_get(labels, (size_t)c));
    ictal__analysis_cb cb = {on_hop, on_event, st};
    rc = ictal__analysis_create(&st->an, st->n_channels, lab, rate_hz,
                                srv->have_model ? &srv->model : NULL, &cb, d);
    if (rc == 0) {
        snprintf(st->log_path, sizeof st->log_path, "%s/sessions/%lld.frames", srv->data_dir,
                 (long long)session_id);
        rc = ictal__seslog_open(&st->log, st->log_path, rate_hz, d);
        snprintf(st->edf_path, sizeof st->edf_path, "%s/sessions/%lld.edf", srv->data_dir,
                 (long long)session_id);
    }
    if (rc == 0) {
        /* Truncated: a resumed session's hops are all rewritten by the replay below. */
        snprintf(st->hops_path, sizeof st->hops_path, "%s/sessions/%lld.hops", srv->data_dir,
                 (long long)session_id);
        st->hops_fd = open(st->hops_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
        if (st->hops_fd < 0)
            rc = ictal_diag_error(d, ICTAL_EIO, "cannot create %s: %s", st->hops_path,
                                  strerror(errno));
    }
    if (rc != 0) {
        st->log.fd = -1;
        stream_free(st);
        return rc;
    }
    st->synced_seq = -2;
    if (!created && st->log.frames > 0) {
        /* Resuming after a restart: rebuild the detector's state from the log. Alarms
         * it raises again are already stored (same session and detector event id).
         * The EDF+ file is rewritten from the log on the way (the recorder opens at the
         * first frame, truncating), so whatever the crash left in it (a record short, a
         * torn one, a stale header) is replaced by exactly what the log holds. */
        int64_t t0 = ictal__mono_us();
        st->replaying = 1;
        replay_ctx r = {st, INT64_MIN};
        rc = ictal__seslog_walk(st->log_path, replay_cb, &r, d);
        st->replaying = 0;
        ictal__log(srv, "device %s: session %lld resumed from its log (%llu frames, %.0f ms)",
                   device_id, (long long)session_id, (unsigned long long)st->log.frames,
                   (double)(ictal__mono_us() - t0) / 1000.0);
        if (rc != 0) {
            stream_free(st);
            return rc;
        }
    }
    /* What the log holds now (after a crash: maybe not yet synced) is made durable
     * before the welcome acknowledges it. */
    st->log.dirty = 1;
    ictal__seslog_sync(&st->log);
    st->durable_seq = st->log.last_seq;
    st->next = srv->streams;
    srv->streams = st;
    *out = st;
    return 0;
}

/* --- device connections over WebSocket ------------------------------------------------- */

typedef struct dev_pss {
    ictal__devconn c;
    struct lws *wsi;
    uint8_t *rx;
    size_t rx_len, rx_cap;
} dev_pss;

static void ws_kick(ictal__devconn *c)
{
    dev_pss *p = c->user;
    lws_callback_on_writable(p->wsi);
}

static void ws_drop(ictal__devconn *c)
{
    dev_pss *p = c->user;
    lws_set_timeout(p->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
}

static const ictal__devconn_ops ws_ops = {ws_kick, ws_drop};

static int dev_writeable(struct lws *wsi, dev_pss *p)
{
    ictal__devconn *c = &p->c;
    ictal__msg *m = ictal__devconn_next(c);
    if (m) {
        int n = lws_write(wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT);
        free(m);
        if (n < 0)
            return -1;
        if (c->out.head || ictal__devconn_ack_due(c) || c->close_status)
            lws_callback_on_writable(wsi);
        return 0;
    }
    if (c->close_status) {
        lws_close_reason(wsi, (enum lws_close_status)c->close_status,
                         (unsigned char *)c->close_reason, strlen(c->close_reason));
        return -1;
    }
    return 0;
}

static int cb_device(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len)
{
    ictal_server *srv = lws_context_user(lws_get_context(wsi));
    dev_pss *p = user;
    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED:
        memset(p, 0, sizeof *p);
        p->wsi = wsi;
        ictal__devconn_init(&p->c, srv, &ws_ops, p);
        p->c.transport = "websocket";
        srv->device_conns++;
        if (srv->device_conns > srv->opt.max_devices) {
            srv->rejected_total++;
            lws_close_reason(wsi, (enum lws_close_status)1013, (unsigned char *)"server full", 11);
            return -1;
        }
        break;
    case LWS_CALLBACK_RECEIVE: {
        if (p->c.close_status)
            return 0; /* closing: ignore the rest */
        int first = lws_is_first_fragment(wsi);
        if (first)
            p->rx_len = 0;
        if (p->rx_len + len > ICTAL_WIRE_MAX_FRAME_BYTES) {
            return ictal__devconn_reject(&p->c, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "too_large",
                                         "message exceeds %d bytes", ICTAL_WIRE_MAX_FRAME_BYTES);
        }
        if (p->rx_len + len > p->rx_cap) {
            size_t cap = p->rx_len + len;
            uint8_t *nb = realloc(p->rx, cap);
            if (nb == NULL)
                return -1;
            p->rx = nb;
            p->rx_cap = cap;
        }
        memcpy(p->rx + p->rx_len, in, len);
        p->rx_len += len;
        if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi) > 0)
            return 0;
        int binary = lws_frame_is_binary(wsi);
        if (!p->c.hello_done) {
            if (binary)
                return ictal__devconn_reject(&p->c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "no_hello",
                                             "the first message must be the JSON hello");
            return ictal__devconn_hello(&p->c, (const char *)p->rx, p->rx_len, NULL);
        }
        if (!binary)
            return ictal__devconn_reject(&p->c, LWS_CLOSE_STATUS_POLICY_VIOLATION,
                                         "unexpected_text",
                                         "after the hello only binary frames are accepted");
        return ictal__devconn_frame(&p->c, p->rx, p->rx_len);
    }
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return dev_writeable(wsi, p);
    case LWS_CALLBACK_CLOSED:
        srv->device_conns--;
        ictal__devconn_close(&p->c);
        free(p->rx);
        p->rx = NULL;
        break;
    default:
        break;
    }
    return 0;
}

/* --- dashboards ------------------------------------------------------------------------ */

typedef struct dash_pss {
    ictal__dash *d;
} dash_pss;

json_t *ictal__stream_history_json(const ictal__stream *st)
{
    json_t *a = json_array();
    for (int i = 0; i < st->hist_n; i++) {
        int k = (st->hist_head - st->hist_n + i + ICTAL__HISTORY_HOPS) % ICTAL__HISTORY_HOPS;
        const ictal__hist *e = &st->hist[k];
        json_array_append_new(a, json_pack("[f, o, o]", (double)e->t_s,
                                           isnan(e->prob) ? json_null() : json_real(e->prob),
                                           isnan(e->burden) ? json_null() : json_real(e->burden)));
    }
    return a;
}

static void dash_message(ictal_server *srv, ictal__dash *d, const char *txt, size_t len)
{
    json_t *j = json_loadb(txt, len, 0, NULL);
    const char *type = json_string_value(json_object_get(j, "type"));
    if (type && strcmp(type, "auth") == 0) {
        char name[128] = "";
        const char *token = json_string_value(json_object_get(j, "token"));
        d->role = ictal__store_token_role(&srv->store, token, name, sizeof name);
        snprintf(d->token_id, sizeof d->token_id, "%.16s", d->role >= ICTAL_ROLE_VIEWER ? token : "");
        json_t *r = json_pack("{s:s, s:s, s:s}", "type", "auth", "role", ictal__role_name(d->role),
                              "name", name);
        ictal__dash_send(d, r, 0);
        json_decref(r);
        if (d->role >= ICTAL_ROLE_VIEWER) {
            json_t *s = json_pack("{s:s, s:o}", "type", "status", "devices", ictal__status_json(srv, 1));
            ictal__dash_send(d, s, 0);
            json_decref(s);
        } else {
            srv->auth_failures++;
        }
    } else if (type && strcmp(type, "subscribe") == 0 && d->role >= ICTAL_ROLE_VIEWER) {
        const char *dev = json_string_value(json_object_get(j, "device"));
        snprintf(d->sub, sizeof d->sub, "%s", dev && ictal__device_id_valid(dev) ? dev : "");
        ictal__stream *st = d->sub[0] ? ictal__stream_find(srv, d->sub) : NULL;
        json_t *r = json_pack("{s:s, s:s, s:o, s:o, s:o}", "type", "subscribed", "device", d->sub,
                              "labels", st ? channel_names(st, 0xffffffffu) : json_array(), "rate_hz",
                              st ? json_real(st->rate_hz) : json_null(), "history",
                              st ? ictal__stream_history_json(st) : json_array());
        ictal__dash_send(d, r, 0);
        json_decref(r);
    }
    json_decref(j);
}

void ictal__dash_recheck(ictal_server *srv)
{
    for (ictal__dash *d = srv->dashes; d; d = d->next) {
        if (d->role < ICTAL_ROLE_VIEWER)
            continue;
        char name[128] = "";
        int role = ictal__store_token_live(&srv->store, d->token_id, name, sizeof name);
        if (role == d->role)
            continue;
        /* Ended (signed out), or its user's role changed: it is told its new role. */
        d->role = role;
        if (role == ICTAL_ROLE_NONE) {
            d->token_id[0] = 0;
            d->sub[0] = 0;
            name[0] = 0;
        }
        json_t *r = json_pack("{s:s, s:s, s:s}", "type", "auth", "role", ictal__role_name(role),
                              "name", name);
        ictal__dash_send(d, r, 0);
        json_decref(r);
    }
}

static void record_latency(ictal_server *srv, int64_t decided_us)
{
    double s = (double)(ictal__mono_us() - decided_us) * 1e-6;
    srv->lat_count++;
    srv->lat_sum_s += s;
    for (int i = 0; i < ICTAL__LAT_BUCKETS; i++)
        if (s <= ictal__lat_bounds_s[i])
            srv->lat_bucket[i]++;
    srv->lat_recent[srv->lat_recent_n++ % 4096] = s;
}

static int cb_dashboard(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                        size_t len)
{
    ictal_server *srv = lws_context_user(lws_get_context(wsi));
    dash_pss *p = user;
    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED:
        p->d = calloc(1, sizeof *p->d);
        if (p->d == NULL)
            return -1;
        p->d->wsi = wsi;
        p->d->next = srv->dashes;
        srv->dashes = p->d;
        srv->dash_conns++;
        break;
    case LWS_CALLBACK_RECEIVE:
        if (len > 4096 || !lws_is_final_fragment(wsi))
            return -1; /* dashboards send only small control messages */
        dash_message(srv, p->d, in, len);
        break;
    case LWS_CALLBACK_SERVER_WRITEABLE: {
        /* Drain as much as the socket takes now: a burst of alarms must not wait one
         * loop iteration per message behind the device traffic. */
        ictal__msg *m;
        while ((m = ictal__msgq_pop(&p->d->out)) != NULL) {
            int n = lws_write(wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT);
            if (m->decided_us > 0)
                record_latency(srv, m->decided_us);
            free(m);
            if (n < 0)
                return -1;
            if (lws_send_pipe_choked(wsi))
                break;
        }
        if (p->d->out.head)
            lws_callback_on_writable(wsi);
        break;
    }
    case LWS_CALLBACK_CLOSED:
        if (p->d) {
            for (ictal__dash **pp = &srv->dashes; *pp; pp = &(*pp)->next)
                if (*pp == p->d) {
                    *pp = p->d->next;
                    break;
                }
            ictal__msgq_free(&p->d->out);
            free(p->d);
            p->d = NULL;
            srv->dash_conns--;
        }
        break;
    default:
        break;
    }
    return 0;
}

/* --- live status ------------------------------------------------------------------------ */

json_t *ictal__status_json(ictal_server *srv, int compact)
{
    json_t *open = ictal__store_open_alarm_counts(&srv->store);
    json_t *a = json_array();
    int64_t now = ictal__mono_us();
    for (ictal__stream *st = srv->streams; st; st = st->next) {
        const ictal__hop_info *h = &st->last_hop;
        json_t *q = json_array(), *rms = json_array();
        for (int c = 0; st->have_hop && c < h->n_channels; c++) {
            json_array_append_new(q, json_integer(h->quality[c]));
            json_array_append_new(rms, json_real(round(h->rms_uv[c] * 10) / 10));
        }
        int good = 0;
        for (int c = 0; st->have_hop && c < h->n_channels; c++)
            good += h->quality[c] == 0;
        json_t *o = json_pack(
            "{s:s, s:s, s:I, s:s, s:b, s:f, s:O, s:i, s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:s,"
            " s:o, s:o, s:o, s:o, s:f, s:I}",
            "device_id", st->device_id, "stream_id", st->stream_id, "session_id",
            (json_int_t)st->session_id, "firmware", st->firmware, "connected", st->conn != NULL,
            "rate_hz", st->rate_hz, "channels", st->labels, "n_channels", st->n_channels,
            "last_seq", (json_int_t)st->log.last_seq, "frames", (json_int_t)st->log.frames,
            "duplicates", (json_int_t)st->duplicates, "gaps", (json_int_t)(st->time_gaps),
            "t_s", st->have_hop ? json_real(h->t_s) : json_null(), "prob",
            st->have_hop && !isnan(h->prob) ? json_real(h->prob) : json_null(), "burden",
            st->have_hop && !isnan(h->burden) ? json_real(h->burden) : json_null(), "state",
            st->have_hop ? h->state : "waiting", "quality", q, "rms_uv", rms, "montage",
            channel_names(st, 0xffffffffu), "open_alarms", json_integer(json_integer_value(json_object_get(open, st->device_id))),
            "signal_quality", st->have_hop && h->n_channels ? (double)good / h->n_channels : 0.0,
            "last_frame_age_ms",
            (json_int_t)(st->last_rx_us ? (now - st->last_rx_us) / 1000 : -1));
        if (o && compact) {
            /* Dashboards get the per-channel detail of one device with its hops. */
            json_object_del(o, "channels");
            json_object_del(o, "montage");
            json_object_del(o, "quality");
            json_object_del(o, "rms_uv");
        }
        if (o)
            json_array_append_new(a, o);
    }
    json_decref(open);
    return a;
}

/* --- timers ----------------------------------------------------------------------------- */

/* Every 200 ms: every stream written to is handed to the syncer (acks follow its
 * syncs), a fifth of the streams get their progress written (one transaction, one
 * statement per ICTAL_PROGRESS_BATCH streams: a round trip each on PostgreSQL);
 * every second the status goes to the dashboards. */
static void tick(lws_sorted_usec_list_t *sul)
{
    ictal_server *srv = lws_container_of(sul, ictal_server, sul_tick);
    int64_t now = ictal__mono_us();
    unsigned slot = srv->ticks++ % 5, i = 0;
    ictal__progress prog[ICTAL_PROGRESS_BATCH];
    int n_prog = 0;
    ictal__store_begin(&srv->store);
    for (ictal__stream **pp = &srv->streams; *pp; i++) {
        ictal__stream *st = *pp;
        stream_sync_log(st); /* acks wait for it: every tick */
        if (i % 5 == slot && st->synced_seq != st->log.last_seq) { /* as ictal__stream_sync */
            prog[n_prog++] = (ictal__progress){st->session_id, st->log.last_seq, st->log.frames,
                                               st->log.samples};
            st->synced_seq = st->log.last_seq;
            if (n_prog == ICTAL_PROGRESS_BATCH) {
                ictal__store_sessions_progress(&srv->store, prog, n_prog);
                n_prog = 0;
            }
        }
        /* Streams gone for 10 minutes are closed; a later hello reopens them from the log. */
        if (st->conn == NULL && st->disconnected_us && now - st->disconnected_us > 600000000) {
            *pp = st->next;
            stream_free(st);
            continue;
        }
        pp = &st->next;
    }
    if (n_prog > 0)
        ictal__store_sessions_progress(&srv->store, prog, n_prog);
    ictal__store_commit(&srv->store);
    if (slot == 0) {
        ictal__mqtt_tick(srv->mqtt);
        ictal__nats_tick(srv->nats);
    }
    /* Sign-in sessions expire: once a minute, dashboards whose session ended stop. */
    if (srv->dashes && srv->ticks % 300 == 1)
        ictal__dash_recheck(srv);
    if (srv->dashes && slot == 0) {
        json_t *s = json_pack("{s:s, s:o}", "type", "status", "devices", ictal__status_json(srv, 1));
        ictal__dash_broadcast(srv, s, NULL, 0);
        json_decref(s);
    }
    lws_sul_schedule(srv->ctx, 0, &srv->sul_tick, tick, 200000);
}

static void webhook_tick(lws_sorted_usec_list_t *sul)
{
    ictal_server *srv = lws_container_of(sul, ictal_server, sul_webhook);
    int inflight = ictal__webhook_tick(srv->webhook);
    lws_sul_schedule(srv->ctx, 0, &srv->sul_webhook, webhook_tick, inflight ? 10000 : 100000);
}

/* --- lifecycle ----------------------------------------------------------------------------- */

static int find_web_dir(char *out, size_t size)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    const char *cands[3] = {NULL, NULL, "web"};
    char a[PATH_MAX + 32], b[PATH_MAX + 32];
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = 0;
        snprintf(a, sizeof a, "%s/../web", exe);
        snprintf(b, sizeof b, "%s/../../web", exe);
        cands[0] = a;
        cands[1] = b;
    }
    for (int i = 0; i < 3; i++) {
        char idx[PATH_MAX + 64];
        if (cands[i] == NULL)
            continue;
        snprintf(idx, sizeof idx, "%s/index.html", cands[i]);
        if (access(idx, R_OK) == 0 && realpath(cands[i], exe) != NULL) {
            snprintf(out, size, "%s", exe);
            return 0;
        }
    }
    return ICTAL_ENOENT;
}

/* Parses a model from bytes the server owns from now on (the model views them). */
static int adopt_model(ictal_server *srv, unsigned char *buf, size_t n, ictal_diag *d)
{
    int rc = ictal_model_parse(&srv->model, buf, n, d);
    if (rc != 0) {
        free(buf);
        return rc;
    }
    srv->model_bytes = buf;
    srv->have_model = 1;
    return 0;
}

static int load_model_bytes(ictal_server *srv, const void *data, size_t n, ictal_diag *d)
{
    if (n == 0 || n > (64u << 20))
        return ictal_diag_error(d, ICTAL_EINVAL, "model_data: %zu bytes (1 byte to 64 MB)", n);
    unsigned char *buf = malloc(n);
    if (buf == NULL)
        return ictal_diag_error(d, ICTAL_ENOMEM, "out of memory");
    memcpy(buf, data, n);
    int named = d && d->source == NULL;
    if (named)
        d->source = "model_data";
    int rc = adopt_model(srv, buf, n, d);
    if (named && rc == 0)
        d->source = NULL; /* later errors (listening, the database) are not the model's */
    return rc;
}

static int load_model(ictal_server *srv, const char *path, ictal_diag *d)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return ictal_diag_error(d, ICTAL_EIO, "%s: %s", path, strerror(errno));
    unsigned char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 65536;
            unsigned char *nb = cap <= (64u << 20) ? realloc(buf, cap) : NULL;
            if (nb == NULL) {
                free(buf);
                fclose(f);
                return ictal_diag_error(d, ICTAL_ENOMEM, "%s: model larger than 64 MB", path);
            }
            buf = nb;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    fclose(f);
    if (d)
        d->source = path;
    int rc = adopt_model(srv, buf, n, d);
    if (d && rc == 0)
        d->source = NULL;
    return rc;
}

static int write_admin_token(ictal_server *srv, ictal_diag *d)
{
    snprintf(srv->token_path, sizeof srv->token_path, "%s/admin.token", srv->data_dir);
    if (access(srv->token_path, R_OK) == 0)
        return 0;
    char tok[96];
    int rc = ictal__store_token_create(&srv->store, "admin", ICTAL_ROLE_ADMIN, 0, tok, sizeof tok);
    if (rc != 0)
        return ictal_diag_error(d, rc, "cannot create the admin token");
    FILE *f = fopen(srv->token_path, "wx");
    if (f == NULL)
        return ictal_diag_error(d, ICTAL_EIO, "%s: %s", srv->token_path, strerror(errno));
    chmod(srv->token_path, 0600);
    fprintf(f, "%s\n", tok);
    fclose(f);
    return 0;
}

int ictal_server_add_user(const ictal_server_options *opt, const char *name, const char *password,
                          const char *role, ictal_diag *d)
{
    char db[4200];
    const char *data_dir = opt->data_dir;
    if (data_dir == NULL)
        data_dir = "ictal-data";
    if (strlen(data_dir) >= 1024)
        return ictal_diag_error(d, ICTAL_ERANGE, "data directory path too long");
    int r = ictal__role_parse(role);
    int rc = ictal__user_check(name, password, r, d);
    if (rc != 0)
        return rc;
    if (opt->db_url && !ictal__db_is_url(opt->db_url))
        return ictal_diag_error(d, ICTAL_EINVAL, "the database is a postgresql:// or postgres:// URI");
    if (make_dirs(data_dir) != 0)
        return ictal_diag_error(d, ICTAL_EIO, "cannot create %s: %s", data_dir, strerror(errno));
    snprintf(db, sizeof db, "%s/ictal.db", data_dir);
    ictal__store s;
    rc = ictal__store_open(&s, opt->db_url ? opt->db_url : db, opt->db_password, d);
    if (rc != 0)
        return rc;
    rc = ictal__store_user_add(&s, name, password, r, d);
    ictal__store_close(&s);
    return rc;
}

int ictal_server_create(ictal_server **out, const ictal_server_options *opt, ictal_diag *d)
{
    *out = NULL;
    ictal_server *srv = calloc(1, sizeof *srv);
    if (srv == NULL)
        return ICTAL_ENOMEM;
    srv->opt = *opt;
    if (srv->opt.max_speed <= 0)
        srv->opt.max_speed = 32;
    if (srv->opt.max_frames_per_s <= 0)
        srv->opt.max_frames_per_s = 200;
    if (srv->opt.max_devices <= 0)
        srv->opt.max_devices = 4096;
    snprintf(srv->host, sizeof srv->host, "%s", opt->host ? opt->host : "127.0.0.1");
    if (opt->data_dir && strlen(opt->data_dir) >= sizeof srv->data_dir) {
        free(srv);
        return ictal_diag_error(d, ICTAL_ERANGE, "data directory path too long");
    }
    snprintf(srv->data_dir, sizeof srv->data_dir, "%s", opt->data_dir ? opt->data_dir : "ictal-data");
    srv->opt.host = srv->host;
    srv->opt.data_dir = srv->data_dir;
    srv->opt.trusted_proxies = NULL; /* parsed into srv->proxies: the caller's string is not kept */
    srv->opt.db_url = NULL;          /* used below only; the password is not kept */
    srv->opt.db_password = NULL;
    srv->started_us = ictal__mono_us();
    srv->decode_uv = malloc((size_t)ICTAL_WIRE_MAX_FRAME_BYTES / 2 * sizeof(float));
    srv->montage_uv = malloc((size_t)ICTAL_WIRE_MAX_FRAME_BYTES / 2 * sizeof(float));
    char sess[4200], db[4200];
    snprintf(sess, sizeof sess, "%s/sessions", srv->data_dir);
    snprintf(db, sizeof db, "%s/ictal.db", srv->data_dir);
    int rc = 0;
    if (srv->decode_uv == NULL || srv->montage_uv == NULL)
        rc = ICTAL_ENOMEM;
    else if ((rc = ictal__proxies_parse(&srv->proxies, opt->trusted_proxies, d)) != 0)
        ; /* d says which entry */
    else if (make_dirs(srv->data_dir) != 0 || make_dirs(sess) != 0)
        rc = ictal_diag_error(d, ICTAL_EIO, "cannot create %s: %s", sess, strerror(errno));
    if (rc == 0 && opt->model_path)
        rc = load_model(srv, opt->model_path, d);
    else if (rc == 0 && opt->model_data)
        rc = load_model_bytes(srv, opt->model_data, opt->model_size, d);
    if (rc == 0 && opt->db_url && !ictal__db_is_url(opt->db_url))
        rc = ictal_diag_error(d, ICTAL_EINVAL, "the database is a postgresql:// or postgres:// URI");
    if (rc == 0)
        rc = ictal__store_open(&srv->store, opt->db_url ? opt->db_url : db, opt->db_password, d);
    if (rc == 0)
        rc = write_admin_token(srv, d);
    if (rc == 0 && ictal__webhook_create(&srv->webhook, &srv->store, opt->webhook_secret) != 0)
        rc = ictal_diag_error(d, ICTAL_ENOMEM, "cannot start libcurl");
    if (rc == 0)
        rc = ictal__store_manual_checkpoints(&srv->store);
    /* The syncer also checkpoints SQLite's WAL; PostgreSQL has none of ours. */
    if (rc == 0 && ictal__syncer_create(&srv->syncer, ictal__store_is_postgres(&srv->store) ? NULL : db,
                                        syncer_wake, srv) != 0)
        rc = ictal_diag_error(d, ICTAL_ENOMEM, "cannot start the log syncer");
    if (rc == 0 && ictal__hasher_create(&srv->hasher, ICTAL__AUTH_JOBS_MAX, syncer_wake, srv) != 0)
        rc = ictal_diag_error(d, ICTAL_ENOMEM, "cannot start the password hasher");
    if (rc != 0) {
        ictal_server_destroy(srv);
        return rc;
    }
    /* Each device connection holds a socket and its session log open. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    if (opt->web_dir)
        snprintf(srv->web_dir, sizeof srv->web_dir, "%s", opt->web_dir);
    else if (find_web_dir(srv->web_dir, sizeof srv->web_dir) != 0)
        srv->web_dir[0] = 0;

    struct lws_http_mount *m = srv->mounts;
    m[0].mountpoint = "/api";
    m[0].mountpoint_len = 4;
    m[0].origin = "http";
    m[0].origin_protocol = LWSMPRO_CALLBACK;
    m[1].mountpoint = "/metrics";
    m[1].mountpoint_len = 8;
    m[1].origin = "http";
    m[1].origin_protocol = LWSMPRO_CALLBACK;
    m[0].mount_next = &m[1];
    if (srv->web_dir[0]) {
        m[2].mountpoint = "/";
        m[2].mountpoint_len = 1;
        m[2].origin = srv->web_dir;
        m[2].def = "index.html";
        m[2].origin_protocol = LWSMPRO_FILE;
        m[1].mount_next = &m[2];
    }
    struct lws_protocols *p = srv->protocols;
    p[0] = (struct lws_protocols){"http", ictal__http_callback, ictal__http_pss_size(), 0, 0, NULL, 0};
    p[1] = (struct lws_protocols){"ictal-dashboard-v1", cb_dashboard, sizeof(dash_pss), 4096, 0,
                                  NULL, 0};
    /* ictal worker: devices come only through NATS, the subprotocol is not offered. */
    if (!opt->no_device_websocket)
        p[2] = (struct lws_protocols){"ictal-device-v1", cb_device, sizeof(dev_pss),
                                      ICTAL_WIRE_MAX_FRAME_BYTES, 0, NULL, 0};

    lws_set_log_level(LLL_ERR, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = opt->port == 0 ? 8080 : opt->port < 0 ? 0 : opt->port;
    info.iface = srv->host;
    info.protocols = srv->protocols;
    info.mounts = srv->mounts;
    info.user = srv;
    info.max_http_header_data = 4096;
    info.options = LWS_SERVER_OPTION_VALIDATE_UTF8;
    if ((opt->tls_cert == NULL) != (opt->tls_key == NULL)) {
        rc = ictal_diag_error(d, ICTAL_EINVAL, "TLS needs both a certificate and a key");
        ictal_server_destroy(srv);
        return rc;
    }
    if (opt->tls_cert) {
        /* The same port then speaks only TLS: https:// for the API and the dashboard,
         * wss:// for devices and dashboards. */
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_cert_filepath = opt->tls_cert;
        info.ssl_private_key_filepath = opt->tls_key;
    }
    info.count_threads = 1;
    info.timeout_secs = 30;
    /* Dead peers (a device that lost power) are noticed by TCP keepalive. */
    info.ka_time = 30;
    info.ka_probes = 3;
    info.ka_interval = 5;
    srv->ctx = lws_create_context(&info);
    if (srv->ctx == NULL) {
        rc = ictal_diag_error(d, ICTAL_EIO, "cannot listen on %s:%d (in use?)", srv->host, info.port);
        ictal_server_destroy(srv);
        return rc;
    }
    struct lws_vhost *vh = lws_get_vhost_by_name(srv->ctx, "default");
    srv->port = vh ? lws_get_vhost_listen_port(vh) : info.port;
    lws_sul_schedule(srv->ctx, 0, &srv->sul_tick, tick, 1000000);
    lws_sul_schedule(srv->ctx, 0, &srv->sul_webhook, webhook_tick, 100000);
    if (opt->mqtt_host) {
        ictal__mqtt_options mo = {opt->mqtt_host, opt->mqtt_port, opt->mqtt_client_id,
                                  opt->mqtt_user, opt->mqtt_password, opt->mqtt_ca_file, 0};
        rc = ictal__mqtt_create(&srv->mqtt, srv, srv->ctx, &mo, syncer_wake, srv, d);
        if (rc != 0) {
            ictal_server_destroy(srv);
            return rc;
        }
    }
    if (opt->nats_url) {
        ictal__nats_options no = {opt->nats_url, opt->nats_partitions, opt->nats_partition_count,
                                  opt->nats_creds_file, opt->nats_user, opt->nats_password,
                                  opt->nats_ca_file, opt->nats_ack_wait_ms, 0};
        rc = ictal__nats_create(&srv->nats, srv, srv->ctx, &no, syncer_wake, srv, d);
        if (rc != 0) {
            ictal_server_destroy(srv);
            return rc;
        }
    }
    *out = srv;
    return 0;
}

int ictal_server_port(const ictal_server *srv)
{
    return srv->port;
}

const char *ictal_server_admin_token_path(const ictal_server *srv)
{
    return srv->token_path;
}

int ictal_server_run(ictal_server *srv)
{
    while (!srv->stop)
        if (lws_service(srv->ctx, 0) < 0)
            return ICTAL_EIO;
    return 0;
}

void ictal_server_stop(ictal_server *srv)
{
    srv->stop = 1;
    if (srv->ctx)
        lws_cancel_service(srv->ctx);
}

void ictal_server_destroy(ictal_server *srv)
{
    if (srv == NULL)
        return;
    /* The helper threads first (they may wake the loop): the MQTT client disconnects
     * (its device connections end), the hasher finishes the hash in progress and drops
     * the rest; then logs are synced inline. */
    ictal__mqtt_destroy(srv->mqtt);
    srv->mqtt = NULL;
    ictal__nats_destroy(srv->nats);
    srv->nats = NULL;
    ictal__hasher_destroy(srv->hasher);
    srv->hasher = NULL;
    ictal__syncer_destroy(srv->syncer);
    srv->syncer = NULL;
    if (srv->ctx) {
        lws_sul_cancel(&srv->sul_tick);
        lws_sul_cancel(&srv->sul_webhook);
        lws_context_destroy(srv->ctx);
    }
    while (srv->streams) {
        ictal__stream *st = srv->streams;
        srv->streams = st->next;
        stream_free(st);
    }
    ictal__webhook_destroy(srv->webhook);
    ictal__store_close(&srv->store);
    free(srv->decode_uv);
    free(srv->montage_uv);
    free(srv->model_bytes);
    OPENSSL_cleanse(srv->auth_reqs, sizeof srv->auth_reqs); /* waiting sign-ins' passwords */
    free(srv);
}
