/* The HTTP API: /api/... and /metrics (server.h, docs/api.md). */
#include "server/server_internal.h"
#include "server/mqtt.h"
#include "server/natsdev.h"
#include "server/hoplog.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

typedef struct http_pss {
    char uri[512];
    int is_post, is_delete;
    char *body;
    size_t body_len;
    int body_too_big;
    char *resp;
    size_t resp_len, resp_off;
    int status;
    const char *ctype;
    int headers_sent;
    int retry_after_s;  /* > 0: a Retry-After header (429) */
    int routed;         /* route() ran: lws may still report an empty body complete */
    uint64_t auth_id;   /* the request waiting for the hasher (ictal__auth_req), or 0 */
} http_pss;

size_t ictal__http_pss_size(void)
{
    return sizeof(http_pss);
}

static void respond(struct lws *wsi, http_pss *p, int status, const char *ctype, char *body)
{
    free(p->resp);
    p->resp = body;
    p->resp_len = body ? strlen(body) : 0;
    p->resp_off = 0;
    p->status = status;
    p->ctype = ctype;
    p->headers_sent = 0;
    lws_callback_on_writable(wsi);
}

static void respond_json(struct lws *wsi, http_pss *p, int status, json_t *j)
{
    char *txt = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    size_t n = txt ? strlen(txt) : 0;
    char *body = malloc(n + 2);
    if (body) {
        memcpy(body, txt ? txt : "", n);
        body[n] = '\n';
        body[n + 1] = 0;
    }
    free(txt);
    respond(wsi, p, status, "application/json", body);
}

static void respond_error(struct lws *wsi, http_pss *p, int status, const char *msg)
{
    respond_json(wsi, p, status, json_pack("{s:s}", "error", msg));
}

/* The token of "Authorization: Bearer <token>" into auth (its start), or NULL. */
static const char *bearer(struct lws *wsi, char *auth, int size)
{
    if (lws_hdr_copy(wsi, auth, size, WSI_TOKEN_HTTP_AUTHORIZATION) <= 0 ||
        strncmp(auth, "Bearer ", 7) != 0)
        return NULL;
    return auth + 7;
}

/* The caller's role from its bearer token (an API token or a sign-in session). */
static int caller_role(struct lws *wsi, ictal_server *srv, char *name, size_t size)
{
    char auth[256];
    name[0] = 0;
    const char *token = bearer(wsi, auth, sizeof auth);
    return token ? ictal__store_token_role(&srv->store, token, name, size) : ICTAL_ROLE_NONE;
}

static const char *arg(struct lws *wsi, const char *name_eq, char *buf, int len)
{
    const char *v = lws_get_urlarg_by_name(wsi, name_eq, buf, len);
    return v && v[0] ? v : NULL;
}

static int arg_int(struct lws *wsi, const char *name_eq, int def, int lo, int hi)
{
    char buf[64];
    const char *v = arg(wsi, name_eq, buf, sizeof buf);
    if (v == NULL)
        return def;
    long x = strtol(v, NULL, 10);
    return x < lo ? lo : x > hi ? hi : (int)x;
}

static void append(char **buf, size_t *len, size_t *cap, const char *fmt, ...) ICTAL_PRINTF(4, 5);
static void append(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(*buf ? *buf + *len : NULL, *buf ? *cap - *len : 0, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if (*buf && *len + (size_t)n < *cap) {
            *len += (size_t)n;
            return;
        }
        size_t ncap = (*cap ? *cap * 2 : 4096) + (size_t)n;
        char *nb = realloc(*buf, ncap);
        if (nb == NULL)
            return;
        *buf = nb;
        *cap = ncap;
    }
}

static long self_rss_kb(double *cpu_s)
{
    long rss = 0;
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            rss = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    *cpu_s = 0;
    f = fopen("/proc/self/stat", "r");
    if (f) {
        unsigned long ut = 0, st = 0;
        /* Fields 14 and 15 (utime, stime) follow the ")" of the command name. */
        if (fgets(line, sizeof line, f)) {
            char *r = strrchr(line, ')');
            if (r && sscanf(r + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2)
                *cpu_s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
        }
        fclose(f);
    }
    return rss;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

char *ictal__metrics_text(ictal_server *srv)
{
    char *b = NULL;
    size_t len = 0, cap = 0;
    int streams = 0, connected = 0;
    for (ictal__stream *st = srv->streams; st; st = st->next) {
        streams++;
        connected += st->conn != NULL;
    }
    int64_t pending = 0, delivered = 0;
    ictal__store_outbox_counts(&srv->store, &pending, &delivered);
    double cpu_s;
    long rss_kb = self_rss_kb(&cpu_s);
#define COUNTER(name, help, v)                                                                   \
    append(&b, &len, &cap, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,  \
           (unsigned long long)(v))
#define GAUGE(name, help, fmt, v)                                                                \
    append(&b, &len, &cap, "# HELP %s %s\n# TYPE %s gauge\n%s " fmt "\n", name, help, name, name, v)
    COUNTER("ictal_frames_total", "Device frames stored.", srv->frames_total);
    COUNTER("ictal_samples_total", "Samples per channel stored.", srv->samples_total);
    COUNTER("ictal_frame_bytes_total", "Bytes of device frames stored.", srv->bytes_total);
    COUNTER("ictal_duplicate_frames_total", "Frames received again and not stored.",
            srv->duplicates_total);
    COUNTER("ictal_sequence_gaps_total", "Frames ahead of the next expected sequence number.",
            srv->seq_gaps_total);
    COUNTER("ictal_time_gaps_total", "Gaps in device time (EDF+D discontinuities).",
            srv->time_gaps_total);
    COUNTER("ictal_rejections_total", "Device connections closed for a protocol violation.",
            srv->rejected_total);
    COUNTER("ictal_hellos_total", "Device hellos received.", srv->hellos_total);
    COUNTER("ictal_auth_failures_total", "Rejected device or dashboard credentials.",
            srv->auth_failures);
    COUNTER("ictal_logins_total", "Successful password sign-ins.", srv->logins_total);
    COUNTER("ictal_login_failures_total",
            "Sign-ins refused for a wrong user name or password, and password changes for a"
            " wrong current password.",
            srv->login_failures_total);
    COUNTER("ictal_password_changes_total", "Passwords changed by their users or set by admins.",
            srv->password_changes_total);
    COUNTER("ictal_logins_throttled_total", "Sign-ins refused (429) after repeated failures.",
            srv->logins_throttled_total);
    COUNTER("ictal_auth_busy_total",
            "Sign-ins and user creations refused (503) while the password hasher was full.",
            srv->auth_busy_total);
    COUNTER("ictal_auth_abandoned_total",
            "Password hashes whose client left before the result (its answer dropped).",
            srv->auth_abandoned_total);
    GAUGE("ictal_auth_jobs", "Password hashes queued or running on the hasher thread.", "%d",
          srv->hasher ? ictal__hasher_held(srv->hasher) : 0);
    COUNTER("ictal_alarms_total", "Alarms raised since start.", srv->alarms_total);
    GAUGE("ictal_device_connections", "Open device connections.", "%d", connected);
    if (srv->mqtt) {
        ictal__mqtt_stats ms;
        ictal__mqtt_stats_get(srv->mqtt, &ms);
        GAUGE("ictal_mqtt_connected", "1 while connected to the MQTT broker.", "%d", ms.connected);
        COUNTER("ictal_mqtt_connects_total", "Connections to the broker (the first and reconnects).",
                ms.connects);
        COUNTER("ictal_mqtt_disconnects_total", "Connections to the broker lost.", ms.disconnects);
        COUNTER("ictal_mqtt_messages_in_total", "MQTT messages received from devices.", ms.msgs_in);
        COUNTER("ictal_mqtt_bytes_in_total", "Payload bytes of MQTT messages received.", ms.bytes_in);
        COUNTER("ictal_mqtt_messages_out_total", "MQTT messages published to devices (ctl).",
                ms.msgs_out);
        COUNTER("ictal_mqtt_dropped_total", "MQTT messages on topics naming no valid device.",
                ms.dropped);
        GAUGE("ictal_mqtt_devices", "Device connections over MQTT.", "%d", ms.devices);
    }
    if (srv->nats) {
        ictal__nats_stats ns;
        ictal__nats_stats_get(srv->nats, &ns);
        GAUGE("ictal_nats_connected", "1 while connected to NATS.", "%d", ns.connected);
        COUNTER("ictal_nats_reconnects_total", "Reconnections to NATS.", ns.reconnects);
        COUNTER("ictal_nats_disconnects_total", "Connections to NATS lost.", ns.disconnects);
        GAUGE("ictal_nats_partitions", "Partitions owned (one pull consumer each).", "%d",
              ns.partitions);
        COUNTER("ictal_nats_messages_in_total", "JetStream messages fetched.", ns.msgs_in);
        COUNTER("ictal_nats_bytes_in_total", "Payload bytes of JetStream messages fetched.",
                ns.bytes_in);
        COUNTER("ictal_nats_messages_out_total", "Messages published to devices (ctl).",
                ns.msgs_out);
        COUNTER("ictal_nats_acks_total", "JetStream messages acknowledged (stored or answered).",
                ns.acks);
        COUNTER("ictal_nats_naks_total", "JetStream messages handed back for later (no hello yet, "
                "a hole before them, shutdown).", ns.naks);
        COUNTER("ictal_nats_terms_total", "JetStream messages refused for good (bad frame).",
                ns.terms);
        COUNTER("ictal_nats_redelivered_total", "JetStream messages delivered more than once.",
                ns.redelivered);
        COUNTER("ictal_nats_dropped_total", "JetStream messages on subjects naming no valid device.",
                ns.dropped);
        COUNTER("ictal_nats_stale_total", "Frames of a stream the device had replaced (not stored).",
                ns.stale);
        GAUGE("ictal_nats_devices", "Device connections over NATS.", "%d", ns.devices);
    }
    GAUGE("ictal_streams", "Device streams held in memory.", "%d", streams);
    GAUGE("ictal_dashboard_connections", "Open dashboard connections.", "%d", srv->dash_conns);
    GAUGE("ictal_webhook_outbox_pending", "Webhook events not yet delivered.", "%lld",
          (long long)pending);
    COUNTER("ictal_webhook_delivered_total", "Webhook events delivered (all time).", delivered);
    GAUGE("ictal_process_resident_bytes", "Resident memory of the server.", "%ld", rss_kb * 1024);
    GAUGE("ictal_process_cpu_seconds", "CPU time used by the server.", "%.3f", cpu_s);
    GAUGE("ictal_uptime_seconds", "Seconds since start.", "%.1f",
          (double)(ictal__mono_us() - srv->started_us) * 1e-6);
    append(&b, &len, &cap,
           "# HELP ictal_alarm_push_seconds From the detector's decision to the alarm written to"
           " a dashboard socket.\n# TYPE ictal_alarm_push_seconds histogram\n");
    for (int i = 0; i < ICTAL__LAT_BUCKETS; i++)
        append(&b, &len, &cap, "ictal_alarm_push_seconds_bucket{le=\"%g\"} %llu\n",
               ictal__lat_bounds_s[i], (unsigned long long)srv->lat_bucket[i]);
    append(&b, &len, &cap, "ictal_alarm_push_seconds_bucket{le=\"+Inf\"} %llu\n",
           (unsigned long long)srv->lat_count);
    append(&b, &len, &cap, "ictal_alarm_push_seconds_sum %.6f\nictal_alarm_push_seconds_count %llu\n",
           srv->lat_sum_s, (unsigned long long)srv->lat_count);
    /* Quantiles over the last 4096 alarm pushes, for people and benchmarks. */
    int nl = srv->lat_recent_n < 4096 ? srv->lat_recent_n : 4096;
    if (nl > 0) {
        double *v = malloc((size_t)nl * sizeof *v);
        if (v) {
            memcpy(v, srv->lat_recent, (size_t)nl * sizeof *v);
            qsort(v, (size_t)nl, sizeof *v, cmp_double);
            append(&b, &len, &cap,
                   "# HELP ictal_alarm_push_recent_seconds Alarm push latency over the last 4096"
                   " alarms.\n# TYPE ictal_alarm_push_recent_seconds summary\n"
                   "ictal_alarm_push_recent_seconds{quantile=\"0.5\"} %.6f\n"
                   "ictal_alarm_push_recent_seconds{quantile=\"0.99\"} %.6f\n"
                   "ictal_alarm_push_recent_seconds_count %d\n",
                   v[(nl - 1) / 2], v[(int)((nl - 1) * 0.99)], nl);
            free(v);
        }
    }
#undef COUNTER
#undef GAUGE
    return b;
}

/* Workers sharing one database (--db) list every session, but a session's frame log,
 * hop log and recording are in the data directory of the worker that stored it: asked
 * of another worker, they are refused as not here rather than served empty. */
#define ELSEWHERE "the session's frame log, hop log and recording are not in this data" \
                  " directory (stored by another worker: ask that worker)"
static int session_files_here(const ictal_server *srv, long long id)
{
    char path[1200];
    struct stat sb;
    snprintf(path, sizeof path, "%s/sessions/%lld.frames", srv->data_dir, id);
    return stat(path, &sb) == 0;
}

/*
 * Sends the session's EDF+ recording (recorder.h). A live session's file is sent up to
 * its last complete record, with the header's record count set to match. A file that
 * no recorder holds and whose header still says -1 records was cut short by a crash
 * (or never written): it is rebuilt from the frame log first, with the alarms of the
 * database as annotations.
 */
static void serve_recording(struct lws *wsi, ictal_server *srv, http_pss *p, long long id)
{
    json_t *sess = ictal__store_session_json(&srv->store, id);
    if (sess == NULL) {
        respond_error(wsi, p, 404, "no such session");
        return;
    }
    if (!session_files_here(srv, id)) {
        json_decref(sess);
        respond_error(wsi, p, 404, ELSEWHERE);
        return;
    }
    const ictal__stream *live = NULL;
    for (const ictal__stream *st = srv->streams; st; st = st->next)
        if (st->session_id == id)
            live = st;
    char log_path[1200], tmp[1200], out[1200];
    snprintf(log_path, sizeof log_path, "%s/sessions/%lld.frames", srv->data_dir, id);
    snprintf(tmp, sizeof tmp, "%s/sessions/%lld.edf.tmp", srv->data_dir, id);
    snprintf(out, sizeof out, "%s/sessions/%lld.edf", srv->data_dir, id);
    ictal_diag d;
    ictal_diag_init(&d);
    int rc = 0;
    /* Rebuild when no recorder writes it (one failed, or none yet) and it is not a
     * cleanly closed file. */
    if (live ? live->rec == NULL : !ictal__recorder_is_closed(out)) {
        json_t *alarms = ictal__store_session_alarms_json(&srv->store, id);
        ictal__recorder_session rs = {
            id, json_string_value(json_object_get(sess, "device_id")),
            json_object_get(sess, "labels"), json_number_value(json_object_get(sess, "rate_hz")),
            json_integer_value(json_object_get(sess, "start_time_us"))};
        rc = ictal__recorder_rebuild(log_path, tmp, &rs, alarms, &d);
        json_decref(alarms);
        if (rc == 0 && rename(tmp, out) != 0)
            rc = ictal_diag_error(&d, ICTAL_EIO, "rename: %s", strerror(errno));
        if (rc != 0)
            unlink(tmp);
    }
    json_decref(sess);
    unsigned char *body = NULL;
    size_t len = 0;
    if (rc == 0)
        rc = ictal__recorder_snapshot(out, &body, &len, &d);
    if (rc != 0) {
        char msg[300];
        snprintf(msg, sizeof msg, "cannot write the recording: %s", d.message[0] ? d.message : ictal_strerror(rc));
        respond_error(wsi, p, rc == ICTAL_ENOENT ? 404 : 500, msg);
        return;
    }
    respond(wsi, p, 200, "application/octet-stream", (char *)body);
    p->resp_len = len;
}

static double arg_double(struct lws *wsi, const char *name_eq, double def)
{
    char buf[64];
    const char *v = arg(wsi, name_eq, buf, sizeof buf);
    if (v == NULL)
        return def;
    char *end;
    double x = strtod(v, &end);
    return end != v && isfinite(x) ? x : def;
}

/* GET /api/sessions/{id}/history[?from=&to=&max_points=]: the session's hops from its
 * hop log (hoplog.h), decimated keeping each bucket's highest probability. */
static void serve_session_history(struct lws *wsi, ictal_server *srv, http_pss *p, long long id)
{
    json_t *sess = ictal__store_session_json(&srv->store, id);
    if (sess == NULL) {
        respond_error(wsi, p, 404, "no such session");
        return;
    }
    json_decref(sess);
    char path[1200];
    snprintf(path, sizeof path, "%s/sessions/%lld.hops", srv->data_dir, id);
    double from_s = arg_double(wsi, "from=", -INFINITY), to_s = arg_double(wsi, "to=", INFINITY);
    int max_points = arg_int(wsi, "max_points=", 2000, 1, 100000);
    size_t hops;
    int rc;
    json_t *pts = ictal__hoplog_json(path, from_s, to_s, (size_t)max_points, &hops, &rc);
    if (pts == NULL && rc == ICTAL_ENOENT && !session_files_here(srv, id)) {
        respond_error(wsi, p, 404, ELSEWHERE);
        return;
    }
    if (pts == NULL && rc == ICTAL_ENOENT)
        pts = json_array(); /* a session without a hop log (before hop logs existed) */
    if (pts == NULL) {
        respond_error(wsi, p, 500, "cannot read the session's hop log");
        return;
    }
    respond_json(wsi, p, 200,
                 json_pack("{s:I, s:I, s:o, s:o}", "session_id", (json_int_t)id, "hops",
                           (json_int_t)hops, "threshold",
                           srv->have_model ? json_real(srv->model.info.post.threshold_on)
                                           : json_null(),
                           "points", pts));
}

/* --- sign-in ---------------------------------------------------------------------------- */

/* The client's address (netaddr.h): the TCP peer, or behind a trusted proxy the entry of
 * X-Forwarded-For it names. The throttle and the logs use it. */
static void client_addr(struct lws *wsi, ictal_server *srv, char out[ICTAL__ADDR_TEXT_MAX])
{
    char peer[ICTAL__ADDR_TEXT_MAX] = "", xff[4096];
    lws_get_peer_simple(wsi, peer, sizeof peer);
    int n = srv->proxies.n > 0 ? lws_hdr_copy(wsi, xff, sizeof xff, WSI_TOKEN_X_FORWARDED_FOR) : -1;
    ictal__client_addr(&srv->proxies, peer, n > 0 ? xff : NULL, out);
}

/*
 * Failed sign-ins are counted per source address in fixed windows; an address with
 * ICTAL__LOGIN_FAILS_MAX failures in its window gets 429 (without a password check)
 * until the window ends. A full table reuses the slot of the oldest window.
 */
static ictal__login_fails *login_slot(ictal_server *srv, const char *addr, int create)
{
    ictal__login_fails *oldest = &srv->login_fails[0];
    for (int i = 0; i < ICTAL__LOGIN_SLOTS; i++) {
        ictal__login_fails *f = &srv->login_fails[i];
        if (f->n > 0 && strcmp(f->addr, addr) == 0)
            return f;
        if (f->n == 0 || (oldest->n > 0 && f->window_start_us < oldest->window_start_us))
            oldest = f;
    }
    if (!create)
        return NULL;
    memset(oldest, 0, sizeof *oldest);
    snprintf(oldest->addr, sizeof oldest->addr, "%s", addr);
    return oldest;
}

/* Seconds until addr may try again, 0 when it may now. */
static int login_wait_s(ictal_server *srv, const char *addr)
{
    ictal__login_fails *f = login_slot(srv, addr, 0);
    if (f == NULL)
        return 0;
    int64_t left_us = f->window_start_us + (int64_t)ICTAL__LOGIN_WINDOW_S * 1000000 - ictal__mono_us();
    if (left_us <= 0) {
        f->n = 0; /* the window is over */
        return 0;
    }
    return f->n >= ICTAL__LOGIN_FAILS_MAX ? (int)(left_us / 1000000) + 1 : 0;
}

/* Failures of addr in its current window (after login_wait_s). */
static int login_fails_n(ictal_server *srv, const char *addr)
{
    ictal__login_fails *f = login_slot(srv, addr, 0);
    return f ? f->n : 0;
}

static void login_failed(ictal_server *srv, const char *addr)
{
    ictal__login_fails *f = login_slot(srv, addr, 1);
    int64_t now = ictal__mono_us();
    if (f->n == 0 || now - f->window_start_us >= (int64_t)ICTAL__LOGIN_WINDOW_S * 1000000) {
        f->n = 0;
        f->window_start_us = now;
    }
    f->n++;
}

/*
 * Password hashing runs on the hasher thread (hasher.h): a sign-in or user creation
 * gets an entry in srv->auth_reqs under a fresh request id and is answered by
 * ictal__auth_done once its hash is ready. A client that leaves meanwhile only clears
 * the wsi of its entry (auth_detach), so the answer is dropped without touching a freed
 * connection.
 */
static ictal__auth_req *auth_new(struct lws *wsi, ictal_server *srv, http_pss *p, int kind,
                                 int op, const char *name, int role, const char *addr)
{
    ictal__auth_req *r = NULL;
    for (int i = 0; i < ICTAL__AUTH_JOBS_MAX && r == NULL; i++)
        if (srv->auth_reqs[i].id == 0)
            r = &srv->auth_reqs[i];
    if (r == NULL) {
        srv->auth_busy_total++;
        respond_error(wsi, p, 503, "too many sign-ins at once; try again shortly");
        p->retry_after_s = 1;
        return NULL;
    }
    memset(r, 0, sizeof *r);
    r->id = ++srv->auth_next_id;
    r->wsi = wsi;
    r->kind = kind;
    r->op = op;
    r->role = role;
    snprintf(r->name, sizeof r->name, "%s", name ? name : "");
    snprintf(r->addr, sizeof r->addr, "%s", addr ? addr : "");
    p->auth_id = r->id;
    return r;
}

/* The request state of r's client, or NULL when it has gone. */
static http_pss *auth_client(const ictal__auth_req *r)
{
    http_pss *p = r->wsi ? lws_wsi_user(r->wsi) : NULL;
    return p && p->auth_id == r->id ? p : NULL;
}

/* Frees r (its password copy included); its client, if any, has its answer. */
static void auth_free(ictal__auth_req *r)
{
    http_pss *p = auth_client(r);
    if (p)
        p->auth_id = 0;
    OPENSSL_cleanse(r, sizeof *r);
}

/* Hands r's job to the hasher; 503 (and r freed) when it is full. */
static int auth_submit(ictal_server *srv, ictal__auth_req *r, const char *password,
                       const char *encoded)
{
    if (ictal__hasher_submit(srv->hasher, r->id, r->op, password, encoded) == 0)
        return 0;
    srv->auth_busy_total++;
    http_pss *p = auth_client(r);
    if (p) {
        respond_error(r->wsi, p, 503, "too many sign-ins at once; try again shortly");
        p->retry_after_s = 1;
    }
    auth_free(r);
    return -1;
}

/* The connection of p is gone or starts another request: its pending answer is dropped. */
static void auth_detach(ictal_server *srv, http_pss *p)
{
    if (p == NULL || p->auth_id == 0)
        return;
    for (int i = 0; i < ICTAL__AUTH_JOBS_MAX; i++)
        if (srv->auth_reqs[i].id == p->auth_id)
            srv->auth_reqs[i].wsi = NULL;
    p->auth_id = 0;
}

/* Wipes the request body and the parsed copies of its passwords. */
static void wipe_password(http_pss *p, json_t *body)
{
    static const char *const keys[] = {"password", "current_password", "new_password"};
    for (int i = 0; i < 3; i++) {
        const char *pass = json_string_value(json_object_get(body, keys[i]));
        if (pass)
            OPENSSL_cleanse((char *)pass, strlen(pass));
    }
    if (p->body)
        OPENSSL_cleanse(p->body, p->body_len);
}

/* A wrong password (a sign-in's, or the current one of a password change) from addr. */
static void login_refused(struct lws *wsi, ictal_server *srv, http_pss *p, const char *addr,
                          int kind)
{
    srv->auth_failures++;
    srv->login_failures_total++;
    login_failed(srv, addr);
    if (login_fails_n(srv, addr) == ICTAL__LOGIN_FAILS_MAX)
        ictal__log(srv, "%d wrong passwords from %s: its sign-ins wait %d s", ICTAL__LOGIN_FAILS_MAX,
                   addr, ICTAL__LOGIN_WINDOW_S);
    /* A session asking is signed in: 403, not 401 (which would sign a dashboard out). */
    if (wsi && kind == ICTAL__AUTH_PW_SELF)
        respond_error(wsi, p, 403, "the current password is wrong");
    /* One answer for an unknown user and a wrong password: no user enumeration. */
    else if (wsi)
        respond_error(wsi, p, 401, "wrong user name or password");
}

static void respond_throttled(struct lws *wsi, ictal_server *srv, http_pss *p, int wait_s)
{
    srv->logins_throttled_total++;
    respond_error(wsi, p, 429, "too many failed sign-ins from this address; try again later");
    p->retry_after_s = wait_s;
}

/*
 * Sends a waiting sign-in to the hasher, or answers it. An address may have at most as
 * many sign-ins on the hasher as it has failures left in its window; more wait here
 * for their outcome (they may be failures). So however many are sent at once, no more
 * than ICTAL__LOGIN_FAILS_MAX guesses per window reach a password check, and a right
 * password is refused only after as many failures: the throttle of sign-ins checked one
 * at a time.
 */
static void login_try(ictal_server *srv, ictal__auth_req *r)
{
    http_pss *p = auth_client(r);
    if (p == NULL) {
        srv->auth_abandoned_total++;
        auth_free(r);
        return;
    }
    int wait_s = login_wait_s(srv, r->addr);
    if (wait_s > 0) {
        respond_throttled(r->wsi, srv, p, wait_s);
        auth_free(r);
        return;
    }
    int in_flight = 0;
    for (int i = 0; i < ICTAL__AUTH_JOBS_MAX; i++) {
        const ictal__auth_req *o = &srv->auth_reqs[i];
        in_flight += o != r && o->id != 0 && !o->waiting && o->op != ICTAL__HASH_NEW &&
                     strcmp(o->addr, r->addr) == 0;
    }
    if (login_fails_n(srv, r->addr) + in_flight >= ICTAL__LOGIN_FAILS_MAX) {
        r->waiting = 1;
        return;
    }
    char stored[ICTAL_USER_NAME_MAX + 1], hash[ICTAL_PASSWORD_HASH_MAX];
    int role;
    int rc = ictal__store_user_lookup(&srv->store, r->name, stored, &role, hash);
    if (rc == 0 || rc == ICTAL_ENOENT) {
        r->waiting = 0;
        r->op = rc == 0 ? ICTAL__HASH_VERIFY : ICTAL__HASH_DUMMY;
        snprintf(r->name, sizeof r->name, "%s", rc == 0 ? stored : "");
        if (auth_submit(srv, r, r->password, rc == 0 ? hash : NULL) == 0)
            OPENSSL_cleanse(r->password, sizeof r->password);
    } else {
        respond_error(r->wsi, p, 500, "could not read the user");
        auth_free(r);
    }
    OPENSSL_cleanse(hash, sizeof hash);
}

/* Sign-ins waiting for their address's earlier ones, oldest first (after results). */
static void login_release(ictal_server *srv)
{
    uint64_t last = 0;
    for (;;) {
        ictal__auth_req *next = NULL;
        for (int i = 0; i < ICTAL__AUTH_JOBS_MAX; i++) {
            ictal__auth_req *o = &srv->auth_reqs[i];
            if (o->id > last && o->waiting && (next == NULL || o->id < next->id))
                next = o;
        }
        if (next == NULL)
            return;
        last = next->id;
        login_try(srv, next);
    }
}

/*
 * POST /api/login {"username","password"}: a sign-in session token. The throttle and
 * the user's row are checked here (login_try); the password on the hasher (an unknown
 * user costs the same hash), then login_done answers.
 */
static void login(struct lws *wsi, ictal_server *srv, http_pss *p)
{
    char addr[ICTAL__ADDR_TEXT_MAX];
    client_addr(wsi, srv, addr);
    int wait_s = login_wait_s(srv, addr);
    if (wait_s > 0) {
        respond_throttled(wsi, srv, p, wait_s);
        return;
    }
    json_t *body = p->body_len > 0 ? json_loadb(p->body, p->body_len, 0, NULL) : NULL;
    const char *user = json_string_value(json_object_get(body, "username"));
    const char *pass = json_string_value(json_object_get(body, "password"));
    ictal__auth_req *r = NULL;
    if (user == NULL || pass == NULL)
        respond_error(wsi, p, 400, "expected {\"username\": \"...\", \"password\": \"...\"}");
    else if (strlen(pass) > ICTAL_PASSWORD_MAX || strlen(user) > ICTAL_USER_NAME_MAX)
        login_refused(wsi, srv, p, addr, ICTAL__AUTH_LOGIN);
    else if ((r = auth_new(wsi, srv, p, ICTAL__AUTH_LOGIN, ICTAL__HASH_VERIFY, user, 0, addr)) != NULL)
        memcpy(r->password, pass, strlen(pass) + 1);
    wipe_password(p, body);
    json_decref(body);
    if (r)
        login_try(srv, r);
}

/* A sign-in's password was checked (wsi NULL: its client has gone). */
static void login_done(struct lws *wsi, ictal_server *srv, http_pss *p, const ictal__auth_req *r,
                       int rc)
{
    ictal__login in;
    if (rc == 0 && wsi == NULL)
        return; /* nobody to hand a session to: none is opened */
    if (rc == 0)
        rc = ictal__store_session_open(&srv->store, r->name, ICTAL_SESSION_TTL_S, &in);
    if (rc == ICTAL_EIO) {
        if (wsi)
            respond_error(wsi, p, 500, "could not open a session");
    } else if (rc != 0) {
        /* Counted even when the client left: disconnecting does not dodge the throttle. */
        login_refused(wsi, srv, p, r->addr, r->kind);
    } else {
        srv->logins_total++;
        respond_json(wsi, p, 200,
                     json_pack("{s:s, s:s, s:s, s:f}", "token", in.token, "role",
                               ictal__role_name(in.role), "name", in.name, "expires_at",
                               in.expires_at));
        OPENSSL_cleanse(in.token, sizeof in.token);
    }
}

/* A new user's password was hashed: the user is stored even when the admin who asked
 * has gone (the request was accepted). */
static void user_add_done(struct lws *wsi, ictal_server *srv, http_pss *p, const ictal__auth_req *r,
                          const ictal__hash_result *res)
{
    ictal_diag d;
    ictal_diag_init(&d);
    int rc = res->rc == 0 ? ictal__store_user_insert(&srv->store, r->name, r->role, res->encoded, &d)
                          : ictal_diag_error(&d, ICTAL_EIO, "cannot hash the password");
    if (wsi == NULL)
        return;
    if (rc == 0)
        respond_json(wsi, p, 201,
                     json_pack("{s:s, s:s}", "name", r->name, "role", ictal__role_name(r->role)));
    else
        respond_error(wsi, p, rc == ICTAL_ESTATE ? 409 : 500, d.message);
}

/* A password change's new password was hashed: stored, and the user's other sessions
 * end (all of them when an admin set it). Stored even when the client has gone. */
static void password_set_done(struct lws *wsi, ictal_server *srv, http_pss *p,
                              const ictal__auth_req *r, const ictal__hash_result *res)
{
    int rc = res->rc == 0 ? ictal__store_user_set_password(&srv->store, r->name, res->encoded,
                                                          r->keep_id[0] ? r->keep_id : NULL)
                          : ICTAL_EIO;
    if (rc == 0) {
        srv->password_changes_total++;
        ictal__dash_recheck(srv);
        ictal__log(srv, "user %s: password %s", r->name,
                   r->kind == ICTAL__AUTH_PW_SELF ? "changed by the user" : "set by an admin");
    }
    if (wsi == NULL)
        return;
    if (rc == 0)
        respond_json(wsi, p, 200, json_pack("{s:s, s:b}", "name", r->name, "password_changed", 1));
    else if (rc == ICTAL_ENOENT)
        respond_error(wsi, p, 404, "no such user");
    else
        respond_error(wsi, p, 500, "could not store the password");
}

/*
 * A user's own password change had its current password checked (rc 0: right): the new
 * one goes to the hasher in the same request slot. Returns 1 when r lives on.
 */
static int password_verified(struct lws *wsi, ictal_server *srv, http_pss *p, ictal__auth_req *r,
                             int rc)
{
    if (rc != 0) {
        if (rc == ICTAL_EINVAL || rc == ICTAL_EFORMAT)
            login_refused(wsi, srv, p, r->addr, r->kind);
        else if (wsi)
            respond_error(wsi, p, 500, "could not check the password");
        return 0;
    }
    r->op = ICTAL__HASH_NEW;
    int ok = auth_submit(srv, r, r->new_password, NULL) == 0;
    if (ok)
        OPENSSL_cleanse(r->new_password, sizeof r->new_password);
    return ok; /* else auth_submit answered 503 and freed r */
}

void ictal__auth_done(ictal_server *srv)
{
    ictal__hash_result res;
    int any = 0;
    while (srv->hasher && ictal__hasher_take(srv->hasher, &res)) {
        ictal__auth_req *r = NULL;
        for (int i = 0; i < ICTAL__AUTH_JOBS_MAX && r == NULL; i++)
            if (srv->auth_reqs[i].id == res.id)
                r = &srv->auth_reqs[i];
        if (r != NULL) {
            http_pss *p = auth_client(r);
            struct lws *wsi = p ? r->wsi : NULL;
            int keep = 0;
            if (r->kind == ICTAL__AUTH_USER_NEW)
                user_add_done(wsi, srv, p, r, &res);
            else if (r->kind == ICTAL__AUTH_LOGIN)
                login_done(wsi, srv, p, r, res.rc);
            else if (r->op == ICTAL__HASH_NEW)
                password_set_done(wsi, srv, p, r, &res);
            else
                keep = password_verified(wsi, srv, p, r, res.rc);
            if (p == NULL && !keep)
                srv->auth_abandoned_total++;
            if (!keep && r->id == res.id)
                auth_free(r);
            any = 1;
        }
        OPENSSL_cleanse(&res, sizeof res);
    }
    if (any)
        login_release(srv);
}

/* POST /api/logout: ends the caller's sign-in session. */
static void logout(struct lws *wsi, ictal_server *srv, http_pss *p)
{
    char auth[256];
    int rc = ictal__store_session_token_revoke(&srv->store, bearer(wsi, auth, sizeof auth));
    if (rc == ICTAL_ENOENT) {
        respond_error(wsi, p, 400, "this is an API token, not a sign-in session");
    } else if (rc != 0) {
        respond_error(wsi, p, 500, "could not end the session");
    } else {
        ictal__dash_recheck(srv);
        respond_json(wsi, p, 200, json_pack("{s:b}", "signed_out", 1));
    }
}

/* POST /api/users {"username","password","role"} (admin): checked here, hashed on the
 * hasher, stored by user_add_done. */
static void user_add(struct lws *wsi, ictal_server *srv, http_pss *p, json_t *body)
{
    const char *user = json_string_value(json_object_get(body, "username"));
    const char *pass = json_string_value(json_object_get(body, "password"));
    const char *role_name = json_string_value(json_object_get(body, "role"));
    int role = ictal__role_parse(role_name);
    ictal_diag d;
    ictal_diag_init(&d);
    ictal__auth_req *r = NULL;
    if (ictal__user_check(user, pass, role, &d) != 0)
        respond_error(wsi, p, 400, d.message);
    else if ((r = auth_new(wsi, srv, p, ICTAL__AUTH_USER_NEW, ICTAL__HASH_NEW, user, role, NULL)) != NULL)
        auth_submit(srv, r, pass, NULL);
    wipe_password(p, body);
}

/*
 * POST /api/users/{name}/password. A signed-in user changing its own password gives
 * {"current_password", "new_password"}: the current one is checked on the hasher and
 * throttled like a sign-in (login_try), then the new one is hashed; its other sessions
 * end. An admin (or an admin API token) setting another user's gives {"new_password"};
 * all of that user's sessions end.
 */
static void password_change(struct lws *wsi, ictal_server *srv, http_pss *p, json_t *body,
                            const char *name, int role)
{
    char auth[256], self[ICTAL_USER_NAME_MAX + 1], stored[ICTAL_USER_NAME_MAX + 1];
    const char *token = bearer(wsi, auth, sizeof auth);
    int is_self = ictal__store_session_user(&srv->store, token, self, sizeof self) == 0 &&
                  strcasecmp(self, name) == 0;
    const char *cur = json_string_value(json_object_get(body, "current_password"));
    const char *pass = json_string_value(json_object_get(body, "new_password"));
    int rc;
    ictal_diag d;
    ictal_diag_init(&d);
    ictal__auth_req *r = NULL;
    char addr[ICTAL__ADDR_TEXT_MAX];
    client_addr(wsi, srv, addr);
    int wait_s = is_self ? login_wait_s(srv, addr) : 0;
    if (!is_self && role < ICTAL_ROLE_ADMIN) {
        respond_error(wsi, p, 403, "only admins set another user's password");
    } else if (wait_s > 0) {
        respond_throttled(wsi, srv, p, wait_s);
    } else if (ictal__password_check(pass, &d) != 0) {
        respond_error(wsi, p, 400, pass ? d.message : "expected {\"new_password\": \"...\"}");
    } else if (is_self && (cur == NULL || strlen(cur) > ICTAL_PASSWORD_MAX)) {
        respond_error(wsi, p, 400, "changing your own password needs \"current_password\" too");
    } else if (!is_self && (rc = ictal__store_user_name(&srv->store, name, stored)) != 0) {
        respond_error(wsi, p, rc == ICTAL_ENOENT ? 404 : 500,
                      rc == ICTAL_ENOENT ? "no such user" : "could not read the user");
    } else if ((r = auth_new(wsi, srv, p, is_self ? ICTAL__AUTH_PW_SELF : ICTAL__AUTH_PW_SET,
                             is_self ? ICTAL__HASH_VERIFY : ICTAL__HASH_NEW,
                             is_self ? self : stored, 0, addr)) != NULL) {
        if (is_self) {
            snprintf(r->keep_id, sizeof r->keep_id, "%.16s", token);
            memcpy(r->password, cur, strlen(cur) + 1);
            memcpy(r->new_password, pass, strlen(pass) + 1);
        }
    }
    if (r && is_self)
        login_try(srv, r);
    else if (r)
        auth_submit(srv, r, pass, NULL);
    wipe_password(p, body);
}

static const char last_admin_msg[] =
    "this would leave no enabled admin: make another user admin first";

/* DELETE /api/users/{name} (admin): disables the user and ends its sessions. */
static void user_disable(struct lws *wsi, ictal_server *srv, http_pss *p, const char *name)
{
    int rc = ictal__store_user_disable(&srv->store, name);
    if (rc == ICTAL_ENOENT) {
        respond_error(wsi, p, 404, "no such user (or disabled already)");
    } else if (rc == ICTAL_ESTATE) {
        respond_error(wsi, p, 409, last_admin_msg);
    } else if (rc != 0) {
        respond_error(wsi, p, 500, "could not disable the user");
    } else {
        ictal__dash_recheck(srv);
        respond_json(wsi, p, 200, json_pack("{s:s, s:b}", "name", name, "disabled", 1));
    }
}

/* POST /api/users/{name}/enable (admin): a disabled user may sign in again. */
static void user_enable(struct lws *wsi, ictal_server *srv, http_pss *p, const char *name)
{
    int rc = ictal__store_user_enable(&srv->store, name);
    if (rc == ICTAL_ENOENT)
        respond_error(wsi, p, 404, "no such user (or enabled already)");
    else if (rc != 0)
        respond_error(wsi, p, 500, "could not enable the user");
    else
        respond_json(wsi, p, 200, json_pack("{s:s, s:b}", "name", name, "disabled", 0));
}

/* POST /api/users/{name}/role {"role"} (admin): its open sessions and dashboards follow. */
static void user_role(struct lws *wsi, ictal_server *srv, http_pss *p, const char *name, json_t *body)
{
    int role = ictal__role_parse(json_string_value(json_object_get(body, "role")));
    int rc = role == ICTAL_ROLE_NONE ? ICTAL_EINVAL : ictal__store_user_set_role(&srv->store, name, role);
    if (rc == ICTAL_EINVAL) {
        respond_error(wsi, p, 400, "expected {\"role\": \"viewer|clinician|admin\"}");
    } else if (rc == ICTAL_ENOENT) {
        respond_error(wsi, p, 404, "no such user");
    } else if (rc == ICTAL_ESTATE) {
        respond_error(wsi, p, 409, last_admin_msg);
    } else if (rc != 0) {
        respond_error(wsi, p, 500, "could not change the role");
    } else {
        ictal__dash_recheck(srv);
        respond_json(wsi, p, 200, json_pack("{s:s, s:s}", "name", name, "role", ictal__role_name(role)));
    }
}

/* POST /api/tokens {"name", "role", "expires_in_s"} (admin): the secret is shown once. */
static void token_create(struct lws *wsi, ictal_server *srv, http_pss *p, json_t *body)
{
    const char *tname = json_string_value(json_object_get(body, "name"));
    int trole = ictal__role_parse(json_string_value(json_object_get(body, "role")));
    json_t *ttl = json_object_get(body, "expires_in_s");
    double ttl_s = json_is_number(ttl) ? json_number_value(ttl) : 0;
    double expires_at = ttl ? ictal__now_s() + ttl_s : 0;
    char tok[96];
    if (tname == NULL || tname[0] == 0 || strlen(tname) > 64 || trole == ICTAL_ROLE_NONE ||
        (ttl && !(json_is_number(ttl) && ttl_s >= 1 && ttl_s <= 10 * 365 * 86400.0))) {
        respond_error(wsi, p, 400,
                      "expected {\"name\": \"...\", \"role\": \"viewer|clinician|admin\"} and"
                      " optionally \"expires_in_s\" (1 s to 10 years)");
    } else if (ictal__store_token_create(&srv->store, tname, trole, expires_at, tok, sizeof tok) != 0) {
        respond_error(wsi, p, 500, "could not store the token");
    } else {
        respond_json(wsi, p, 201,
                     json_pack("{s:s%, s:s, s:s, s:s, s:o}", "id", tok, (size_t)16, "name", tname,
                               "role", ictal__role_name(trole), "token", tok, "expires_at",
                               ttl ? json_real(expires_at) : json_null()));
        OPENSSL_cleanse(tok, sizeof tok);
    }
}

/* DELETE /api/tokens/{id} (admin): the token stops working at once, dashboards included. */
static void token_revoke(struct lws *wsi, ictal_server *srv, http_pss *p, const char *id)
{
    int rc = strlen(id) == 16 ? ictal__store_token_revoke(&srv->store, id) : ICTAL_ENOENT;
    if (rc == ICTAL_ENOENT) {
        respond_error(wsi, p, 404, "no API token has this id");
    } else if (rc != 0) {
        respond_error(wsi, p, 500, "could not revoke the token");
    } else {
        ictal__dash_recheck(srv);
        respond_json(wsi, p, 200, json_pack("{s:s, s:b}", "id", id, "revoked", 1));
    }
}

/* Routes a complete request. */
static void route(struct lws *wsi, ictal_server *srv, http_pss *p)
{
    const char *u = p->uri;
    char name[128], buf[128];
    if (!p->is_post && strcmp(u, "/api/health") == 0) {
        /* The password policy too, so that the dashboard's forms state the server's. */
        respond_json(wsi, p, 200,
                     json_pack("{s:s, s:s, s:f, s:i, s:b, s:{s:i, s:i}}", "status", "ok",
                               "version", "0.1.0", "uptime_s",
                               (double)(ictal__mono_us() - srv->started_us) * 1e-6,
                               "schema_version", ictal__store_user_version(&srv->store),
                               "detector_model", srv->have_model, "password_policy",
                               "min_length", ICTAL_PASSWORD_MIN, "max_length",
                               ICTAL_PASSWORD_MAX));
        return;
    }
    if (p->is_post && strcmp(u, "/api/login") == 0) {
        login(wsi, srv, p);
        return;
    }
    int role = caller_role(wsi, srv, name, sizeof name);
    if (role < ICTAL_ROLE_VIEWER) {
        srv->auth_failures++;
        respond_error(wsi, p, 401, "a bearer token is required (Authorization: Bearer <token>)");
        return;
    }
    long long id = 0;
    char tail[64] = "";
    if (p->is_delete) {
        int user = sscanf(u, "/api/users/%127[^/?]%63s", buf, tail) == 1;
        int tok = !user && sscanf(u, "/api/tokens/%127[^/?]%63s", buf, tail) == 1;
        if (!user && !tok)
            respond_error(wsi, p, 404, "no such resource");
        else if (role < ICTAL_ROLE_ADMIN)
            respond_error(wsi, p, 403, "this needs the admin role");
        else if (user)
            user_disable(wsi, srv, p, buf);
        else
            token_revoke(wsi, srv, p, buf);
        return;
    }
    if (!p->is_post) {
        if (strcmp(u, "/metrics") == 0) {
            respond(wsi, p, 200, "text/plain; version=0.0.4", ictal__metrics_text(srv));
        } else if (strcmp(u, "/api/devices") == 0) {
            respond_json(wsi, p, 200, ictal__store_devices_json(&srv->store));
        } else if (strcmp(u, "/api/users") == 0 || strcmp(u, "/api/tokens") == 0) {
            if (role < ICTAL_ROLE_ADMIN)
                respond_error(wsi, p, 403, "this needs the admin role");
            else
                respond_json(wsi, p, 200, u[5] == 'u' ? ictal__store_users_json(&srv->store)
                                                      : ictal__store_tokens_json(&srv->store));
        } else if (strcmp(u, "/api/status") == 0) {
            respond_json(wsi, p, 200, ictal__status_json(srv, 0));
        } else if (strcmp(u, "/api/sessions") == 0) {
            respond_json(wsi, p, 200,
                         ictal__store_sessions_json(&srv->store, arg(wsi, "device=", buf, sizeof buf),
                                                    arg_int(wsi, "limit=", 100, 1, 1000)));
        } else if (sscanf(u, "/api/sessions/%lld%63s", &id, tail) == 2 &&
                   strcmp(tail, "/recording.edf") == 0) {
            serve_recording(wsi, srv, p, id);
        } else if (sscanf(u, "/api/sessions/%lld%63s", &id, tail) == 2 &&
                   strcmp(tail, "/history") == 0) {
            serve_session_history(wsi, srv, p, id);
        } else if (sscanf(u, "/api/sessions/%lld%63s", &id, tail) >= 1 && tail[0] == 0) {
            json_t *s = ictal__store_session_json(&srv->store, id);
            if (s)
                respond_json(wsi, p, 200, s);
            else
                respond_error(wsi, p, 404, "no such session");
        } else if (strcmp(u, "/api/events") == 0) {
            respond_json(wsi, p, 200,
                         ictal__store_events_json(&srv->store, arg(wsi, "device=", buf, sizeof buf),
                                                  arg_int(wsi, "since=", 0, 0, 2147483647),
                                                  arg_int(wsi, "limit=", 100, 1, 1000)));
        } else if (strcmp(u, "/api/alarms") == 0) {
            respond_json(wsi, p, 200,
                         ictal__store_alarms_json(&srv->store, arg(wsi, "device=", buf, sizeof buf),
                                                  arg_int(wsi, "open=", 0, 0, 1),
                                                  arg_int(wsi, "limit=", 100, 1, 1000)));
        } else if (sscanf(u, "/api/alarms/%lld%63s", &id, tail) >= 1 && tail[0] == 0) {
            json_t *a = ictal__store_alarm_json(&srv->store, id);
            if (a)
                respond_json(wsi, p, 200, a);
            else
                respond_error(wsi, p, 404, "no such alarm");
        } else if (sscanf(u, "/api/devices/%127[^/]/history", buf) == 1) {
            ictal__stream *st = ictal__stream_find(srv, buf);
            if (st)
                respond_json(wsi, p, 200, ictal__stream_history_json(st));
            else
                respond_error(wsi, p, 404, "no live stream for this device");
        } else {
            respond_error(wsi, p, 404, "no such resource");
        }
        return;
    }
    /* POST */
    json_t *body = NULL;
    if (p->body_len > 0) {
        json_error_t err;
        body = json_loadb(p->body, p->body_len, 0, &err);
        if (body == NULL || !json_is_object(body)) {
            json_decref(body);
            snprintf(buf, sizeof buf, "body is not a JSON object: %.90s", err.text);
            respond_error(wsi, p, 400, buf);
            return;
        }
    }
    if (sscanf(u, "/api/alarms/%lld/ack%63s", &id, tail) == 1 && strcmp(u + strlen(u) - 4, "/ack") == 0) {
        if (role < ICTAL_ROLE_CLINICIAN) {
            respond_error(wsi, p, 403, "acknowledging needs the clinician or admin role");
        } else {
            const char *note = json_string_value(json_object_get(body, "note"));
            int rc = ictal__store_alarm_ack(&srv->store, id, name, note, srv->opt.webhook_url);
            if (rc == ICTAL_ENOENT) {
                respond_error(wsi, p, 404, "no such alarm");
            } else if (rc == ICTAL_ESTATE) {
                respond_error(wsi, p, 409, "alarm already acknowledged");
            } else if (rc != 0) {
                respond_error(wsi, p, 500, "could not store the acknowledgement");
            } else {
                json_t *row = ictal__store_alarm_json(&srv->store, id);
                json_t *push = json_pack("{s:s, s:s, s:O}", "type", "alarm", "event", "acknowledged",
                                         "alarm", row);
                ictal__dash_broadcast(srv, push, NULL, 0);
                json_decref(push);
                json_t *detail = json_pack("{s:I, s:s}", "alarm_id", (json_int_t)id, "by", name);
                ictal__store_event(&srv->store, json_string_value(json_object_get(row, "device_id")),
                                   json_integer_value(json_object_get(row, "session_id")),
                                   "alarm_acknowledged", detail);
                json_decref(detail);
                respond_json(wsi, p, 200, row);
            }
        }
    } else if (strcmp(u, "/api/logout") == 0) {
        logout(wsi, srv, p);
    } else if (strcmp(u, "/api/users") == 0) {
        if (role < ICTAL_ROLE_ADMIN)
            respond_error(wsi, p, 403, "this needs the admin role");
        else
            user_add(wsi, srv, p, body);
    } else if (sscanf(u, "/api/users/%127[^/?]%63s", buf, tail) == 2 &&
               strcmp(tail, "/password") == 0) {
        password_change(wsi, srv, p, body, buf, role);
    } else if (sscanf(u, "/api/users/%127[^/?]%63s", buf, tail) == 2 &&
               (strcmp(tail, "/enable") == 0 || strcmp(tail, "/role") == 0)) {
        if (role < ICTAL_ROLE_ADMIN)
            respond_error(wsi, p, 403, "this needs the admin role");
        else if (tail[1] == 'e')
            user_enable(wsi, srv, p, buf);
        else
            user_role(wsi, srv, p, buf, body);
    } else if (strcmp(u, "/api/devices") == 0 || strcmp(u, "/api/tokens") == 0) {
        if (role < ICTAL_ROLE_ADMIN) {
            respond_error(wsi, p, 403, "this needs the admin role");
        } else if (u[5] == 'd') {
            const char *dev = json_string_value(json_object_get(body, "device_id"));
            char tok[65];
            int rc = dev && strlen(dev) <= ICTAL__ID_MAX && ictal__random_hex(tok, 24) == 0
                         ? ictal__store_device_add(&srv->store, dev, tok)
                         : ICTAL_EINVAL;
            if (rc == ICTAL_ESTATE)
                respond_error(wsi, p, 409, "device exists already");
            else if (rc != 0)
                respond_error(wsi, p, 400, "expected {\"device_id\": \"...\"}");
            else
                respond_json(wsi, p, 201, json_pack("{s:s, s:s}", "device_id", dev, "token", tok));
        } else {
            token_create(wsi, srv, p, body);
        }
    } else {
        respond_error(wsi, p, 404, "no such resource");
    }
    json_decref(body);
}

int ictal__http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len)
{
    ictal_server *srv = lws_context_user(lws_get_context(wsi));
    http_pss *p = user;
    switch (reason) {
    case LWS_CALLBACK_HTTP: {
        auth_detach(srv, p);
        memset(p, 0, sizeof *p);
        int post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0;
        int get = lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0;
        int del = lws_hdr_total_length(wsi, WSI_TOKEN_DELETE_URI) > 0;
        int n = lws_hdr_copy(wsi, p->uri, sizeof p->uri,
                             post ? WSI_TOKEN_POST_URI : del ? WSI_TOKEN_DELETE_URI : WSI_TOKEN_GET_URI);
        if ((!post && !get && !del) || n <= 0) {
            p->routed = 1;
            respond_error(wsi, p, 405, "only GET, POST and DELETE are supported");
            return 0;
        }
        p->is_post = post;
        p->is_delete = del;
        char cl[32];
        long content_len = 0;
        if (lws_hdr_copy(wsi, cl, sizeof cl, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0)
            content_len = strtol(cl, NULL, 10);
        if (content_len > ICTAL__BODY_MAX) {
            p->routed = 1;
            respond_error(wsi, p, 413, "request body larger than 65536 bytes");
            return 0;
        }
        if (post && content_len > 0)
            return 0; /* wait for the body */
        p->routed = 1;
        route(wsi, srv, p);
        return 0;
    }
    case LWS_CALLBACK_HTTP_BODY:
        if (p->body_too_big || len == 0)
            return 0;
        if (p->body_len + len > ICTAL__BODY_MAX) {
            p->body_too_big = 1;
            return 0;
        } else {
            char *nb = realloc(p->body, p->body_len + len + 1);
            if (nb == NULL)
                return -1;
            p->body = nb;
            memcpy(p->body + p->body_len, in, len);
            p->body_len += len;
            p->body[p->body_len] = 0;
        }
        return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        /* With "Content-Length: 0" the request was routed already: once is enough (a
         * second run would answer a logout with 401, its token being gone). */
        if (p->routed)
            return 0;
        p->routed = 1;
        if (p->body_too_big)
            respond_error(wsi, p, 413, "request body larger than 65536 bytes");
        else
            route(wsi, srv, p);
        return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE: {
        if (p->status == 0)
            return 0;
        unsigned char hdr[LWS_PRE + 1024];
        if (!p->headers_sent) {
            unsigned char *start = hdr + LWS_PRE, *q = start, *end = hdr + sizeof hdr - 1;
            char retry[16];
            int nr = snprintf(retry, sizeof retry, "%d", p->retry_after_s);
            if (lws_add_http_common_headers(wsi, (unsigned)p->status, p->ctype, p->resp_len, &q, end) ||
                lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
                                            (const unsigned char *)"no-store", 8, &q, end) ||
                (p->retry_after_s > 0 &&
                 lws_add_http_header_by_name(wsi, (const unsigned char *)"retry-after:",
                                             (const unsigned char *)retry, nr, &q, end)) ||
                lws_finalize_write_http_header(wsi, start, &q, end))
                return -1;
            p->headers_sent = 1;
            if (p->resp_len > 0) {
                lws_callback_on_writable(wsi);
                return 0;
            }
        }
        if (p->resp_off < p->resp_len) {
            size_t chunk = p->resp_len - p->resp_off;
            if (chunk > 16384)
                chunk = 16384;
            unsigned char *buf = malloc(LWS_PRE + chunk);
            if (buf == NULL)
                return -1;
            memcpy(buf + LWS_PRE, p->resp + p->resp_off, chunk);
            int last = p->resp_off + chunk == p->resp_len;
            int n = lws_write(wsi, buf + LWS_PRE, chunk, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP);
            free(buf);
            if (n < 0)
                return -1;
            p->resp_off += chunk;
            if (!last) {
                lws_callback_on_writable(wsi);
                return 0;
            }
        }
        free(p->resp);
        p->resp = NULL;
        free(p->body);
        p->body = NULL;
        p->status = 0;
        if (lws_http_transaction_completed(wsi))
            return -1;
        return 0;
    }
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (srv) {
            ictal__server_wake(srv);
            ictal__auth_done(srv);
        }
        return 0;
    case LWS_CALLBACK_HTTP_FILE_COMPLETION:
        if (lws_http_transaction_completed(wsi))
            return -1;
        return 0;
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        if (srv)
            auth_detach(srv, p);
        break;
    case LWS_CALLBACK_CLOSED_HTTP:
        if (srv)
            auth_detach(srv, p);
        if (p) {
            free(p->resp);
            free(p->body);
            p->resp = p->body = NULL;
        }
        return 0;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}
