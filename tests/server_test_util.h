/*
 * Helpers for the tests that run the real server (`ictal serve`, env ICTAL) on
 * 127.0.0.1: start and stop it, HTTP calls with libcurl, a webhook receiver that
 * checks signatures, a check that a session's frame log is exactly a source, and one
 * that a stored EDF+ recording is exactly its frame log (ictal's reader and EDFlib).
 */
#ifndef ICTAL_SERVER_TEST_UTIL_H
#define ICTAL_SERVER_TEST_UTIL_H

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <edflib.h>

#include "ictal/edf.h"
#include "server/analysis.h"
#include "server/fleet.h"
#include "server/seslog.h"
#include "server/store.h"
#include "test.h"

typedef struct test_server {
    pid_t pid;
    int port;
    char dir[256];
    char token[128];
} test_server;

static inline void ts_sleep_ms(int ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* Starts `ictal CMD` (serve or worker) on a free port with data in dir; extra:
 * NULL-terminated args. */
static inline int ts_start_cmd(test_server *s, const char *cmd, const char *dir,
                               const char *const *extra)
{
    const char *ictal = getenv("ICTAL");
    if (ictal == NULL)
        return -1;
    snprintf(s->dir, sizeof s->dir, "%s", dir);
    mkdir(dir, 0700);
    char port_file[300];
    snprintf(port_file, sizeof port_file, "%s/port", dir);
    unlink(port_file);
    const char *argv[32] = {ictal, cmd, "--listen", "127.0.0.1:0", "--data", dir, "--port-file",
                            port_file, "--quiet"};
    int n = 9;
    for (int i = 0; extra && extra[i] && n < 31; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    s->pid = fork();
    if (s->pid == 0) {
        execv(ictal, (char *const *)argv);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) {
        FILE *f = fopen(port_file, "r");
        if (f) {
            int ok = fscanf(f, "%d", &s->port) == 1;
            fclose(f);
            if (ok && s->port > 0)
                break;
        }
        ts_sleep_ms(25);
    }
    char tp[300];
    snprintf(tp, sizeof tp, "%s/admin.token", dir);
    FILE *f = fopen(tp, "r");
    s->token[0] = 0;
    if (f) {
        if (fgets(s->token, sizeof s->token, f))
            s->token[strcspn(s->token, "\r\n")] = 0;
        fclose(f);
    }
    return s->port > 0 && s->token[0] ? 0 : -1;
}

/* Starts `ictal serve` on a free port with data in dir; extra: NULL-terminated args. */
static inline int ts_start(test_server *s, const char *dir, const char *const *extra)
{
    return ts_start_cmd(s, "serve", dir, extra);
}

/* A free TCP port on 127.0.0.1 (for a broker the test starts). */
static inline int ts_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t n = sizeof a;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &n) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

/* 1 when something accepts connections on 127.0.0.1:port. */
static inline int ts_port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* Stops the server: SIGTERM (clean) or SIGKILL (crash). Returns its exit status. */
static inline int ts_stop(test_server *s, int sig)
{
    if (s->pid <= 0)
        return -1;
    kill(s->pid, sig);
    int status = 0;
    waitpid(s->pid, &status, 0);
    s->pid = 0;
    return status;
}

typedef struct ts_buf {
    char *data;
    size_t len;
} ts_buf;

static inline size_t ts_write(char *p, size_t sz, size_t n, void *u)
{
    ts_buf *b = u;
    char *nb = realloc(b->data, b->len + sz * n + 1);
    if (nb == NULL)
        return 0;
    b->data = nb;
    memcpy(b->data + b->len, p, sz * n);
    b->len += sz * n;
    b->data[b->len] = 0;
    return sz * n;
}

/*
 * One HTTP request from source address src (NULL: the default) with extra request
 * headers (NULL-terminated "Name: value" lines, or NULL), each response header line
 * passed to on_header(line, 1, len, header_user) when on_header is not NULL; returns the
 * status, *body (malloc'd, may be NULL) the response.
 */
static inline long ts_http_hdrs(const test_server *s, const char *src, const char *const *headers,
                                const char *method, const char *path, const char *token,
                                const char *req_body,
                                size_t (*on_header)(char *, size_t, size_t, void *),
                                void *header_user, char **body, size_t *body_len)
{
    CURL *c = curl_easy_init();
    char url[512], auth[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", s->port, path);
    struct curl_slist *h = NULL;
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        h = curl_slist_append(h, auth);
    }
    for (int i = 0; headers && headers[i]; i++)
        h = curl_slist_append(h, headers[i]);
    ts_buf b = {NULL, 0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, ts_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    if (on_header) {
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, header_user);
    }
    if (src)
        curl_easy_setopt(c, CURLOPT_INTERFACE, src);
    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, req_body ? req_body : "");
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (body_len)
        *body_len = b.len;
    if (body)
        *body = b.data;
    else
        free(b.data);
    return status;
}

/* ts_http_hdrs without extra request headers. */
static inline long ts_http_from(const test_server *s, const char *src, const char *method,
                                const char *path, const char *token, const char *req_body,
                                size_t (*on_header)(char *, size_t, size_t, void *),
                                void *header_user, char **body, size_t *body_len)
{
    return ts_http_hdrs(s, src, NULL, method, path, token, req_body, on_header, header_user, body,
                        body_len);
}

/* One HTTP request; returns the status, *body (malloc'd, may be NULL) the response. */
static inline long ts_http(const test_server *s, const char *method, const char *path, const char *token,
                    const char *req_body, char **body, size_t *body_len)
{
    return ts_http_from(s, NULL, method, path, token, req_body, NULL, NULL, body, body_len);
}

/* One counter or gauge from /metrics (Prometheus text), -1 when it is missing. */
static inline long ts_metric(const test_server *s, const char *name)
{
    char *m = NULL, key[128];
    ts_http(s, "GET", "/metrics", s->token, NULL, &m, NULL);
    snprintf(key, sizeof key, "\n%s ", name);
    const char *t = m ? strstr(m, key) : NULL;
    long v = t ? atol(t + strlen(key)) : -1;
    free(m);
    return v;
}

/* GET path as JSON with the admin token (NULL on failure). */
static inline json_t *ts_get_json(const test_server *s, const char *path)
{
    char *body = NULL;
    long st = ts_http(s, "GET", path, s->token, NULL, &body, NULL);
    json_t *j = st == 200 && body ? json_loads(body, 0, NULL) : NULL;
    free(body);
    return j;
}

/* The session id of a device's newest session, or -1. */
/* A JSON object's string member, "" when absent. */
static inline const char *ts_jstr(json_t *j, const char *k)
{
    const char *s = json_string_value(json_object_get(j, k));
    return s ? s : "";
}

/* A raw device hello (stream "raw-1") for src's channels, as text to free(). */
static inline char *ts_hello_text(const ictal__sim_source *src, const char *dev, const char *token)
{
    json_t *ch = json_array();
    for (int c = 0; c < src->n_channels; c++)
        json_array_append_new(ch, json_string(src->labels[c]));
    json_t *h = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:f}", "type", "hello", "device_id", dev,
                          "token", token, "stream_id", "raw-1", "firmware", "raw/1", "channels", ch,
                          "rate_hz", src->rate_hz);
    char *txt = json_dumps(h, JSON_COMPACT);
    json_decref(h);
    return txt;
}

/* The onsets of a device's alarms, as JSON (compared between transports). */
static inline json_t *ts_alarm_onsets(const test_server *s, const char *device)
{
    char path[128];
    snprintf(path, sizeof path, "/api/alarms?device=%s", device);
    json_t *a = ts_get_json(s, path), *out = json_array();
    size_t i;
    json_t *row;
    json_array_foreach(a, i, row) json_array_append(out, json_object_get(row, "onset_s"));
    json_decref(a);
    return out;
}

static inline int64_t ts_session_of(const test_server *s, const char *device)
{
    char path[256];
    snprintf(path, sizeof path, "/api/sessions?device=%s", device);
    json_t *j = ts_get_json(s, path);
    int64_t id = json_integer_value(json_object_get(json_array_get(j, 0), "id"));
    json_decref(j);
    return id > 0 ? id : -1;
}

/* Options for simulated devices streaming to s as fast as acks allow, without faults;
 * stream_id NULL: a fresh stream. The caller sets what else it needs. */
static inline void ts_fleet_options(ictal__fleet_options *o, const test_server *s,
                                    const char *device_prefix, const char *stream_id,
                                    double timeout_s)
{
    memset(o, 0, sizeof *o);
    o->host = "127.0.0.1";
    o->port = s->port;
    o->device_prefix = device_prefix;
    o->stream_id = stream_id;
    o->quiet = 1;
    o->timeout_s = timeout_s;
}

/* GET a session's recording (EDF+) with token; returns the status, *body (malloc'd,
 * may be NULL) the file. */
static inline long ts_get_recording(const test_server *s, const char *token, int64_t session_id,
                                    char **body, size_t *body_len)
{
    char path[128];
    snprintf(path, sizeof path, "/api/sessions/%lld/recording.edf", (long long)session_id);
    return ts_http(s, "GET", path, token, NULL, body, body_len);
}

/* --- the frame log is exactly the source ------------------------------------------- */

typedef struct ts_cmp {
    const ictal__sim_source *src;
    uint64_t next;
    int mismatches;
} ts_cmp;

static inline int ts_cmp_cb(void *user, const ictal_wire_frame *f)
{
    ts_cmp *c = user;
    if (f->seq != c->next || f->seq >= c->src->n_frames ||
        f->payload_bytes != c->src->frame_bytes[f->seq] - ICTAL_WIRE_HEADER_BYTES ||
        memcmp(f->payload, c->src->frames[f->seq] + ICTAL_WIRE_HEADER_BYTES, f->payload_bytes) != 0)
        c->mismatches++;
    c->next = f->seq + 1;
    return 0;
}

/* Number of frames in the log if every one is the source's frame of the same index,
 * in order, once; -1 otherwise. */
static inline int64_t ts_log_matches(const test_server *s, int64_t session_id, const ictal__sim_source *src)
{
    char path[400];
    snprintf(path, sizeof path, "%s/sessions/%lld.frames", s->dir, (long long)session_id);
    ts_cmp c = {src, 0, 0};
    if (ictal__seslog_walk(path, ts_cmp_cb, &c, NULL) != 0 || c.mismatches)
        return -1;
    return (int64_t)c.next;
}


/* --- the EDF+ recording is exactly the frame log ------------------------------------ */

typedef struct ts_frames {
    size_t n, cap;
    int n_channels;
    uint32_t spf;
    int64_t *time_us;
    int16_t *samples;  /* frame-major, as on the wire: n * spf * n_channels */
    int bad;
} ts_frames;

static inline int ts_frames_cb(void *user, const ictal_wire_frame *f)
{
    ts_frames *c = user;
    if (c->n == 0) {
        c->n_channels = f->n_channels;
        c->spf = f->n_samples;
    }
    if (f->format != ICTAL_WIRE_INT16 || f->n_samples != c->spf || f->n_channels != c->n_channels) {
        c->bad = 1;
        return 1;
    }
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 256;
        c->time_us = realloc(c->time_us, c->cap * sizeof *c->time_us);
        c->samples = realloc(c->samples, c->cap * c->spf * (size_t)c->n_channels * sizeof *c->samples);
    }
    c->time_us[c->n] = f->device_time_us;
    int16_t *dst = c->samples + c->n * c->spf * (size_t)c->n_channels;
    for (size_t i = 0; i < (size_t)c->spf * (size_t)c->n_channels; i++)
        dst[i] = (int16_t)(f->payload[2 * i] | (f->payload[2 * i + 1] << 8));
    c->n++;
    return 0;
}

/*
 * Checks the EDF+ file edf_path against the session's frame log: one record per frame,
 * each starting at the frame's device time (from the first frame's), holding exactly
 * its int16 samples; read with ictal's reader and with EDFlib (which only says EDF+D
 * files are EDF+D). Returns the records
 * matched (= frames in the log) or -1, saying why on stderr. n_gaps: the gaps expected.
 */
static inline int64_t ts_edf_matches_log(const char *edf_path, const test_server *s, int64_t session_id,
                                  size_t n_gaps)
{
    char log[400];
    snprintf(log, sizeof log, "%s/sessions/%lld.frames", s->dir, (long long)session_id);
    ts_frames fr;
    memset(&fr, 0, sizeof fr);
    int64_t result = -1;
    int32_t *dig = NULL;
    int *edfdig = NULL;
    ictal_edf *edf = NULL;
    ictal_diag d;
    ictal_diag_init(&d);
    if (ictal__seslog_walk(log, ts_frames_cb, &fr, NULL) != 0 || fr.bad || fr.n == 0) {
        fprintf(stderr, "%s: unreadable or not uniform int16\n", log);
        goto done;
    }
    size_t per_ch = fr.n * fr.spf;
    dig = malloc(per_ch * sizeof *dig);
    edfdig = malloc(per_ch * sizeof *edfdig);
    if (ictal_edf_open(&edf, edf_path, NULL, &d) != 0) {
        fprintf(stderr, "%s: %s\n", edf_path, d.message);
        goto done;
    }
    const ictal_edf_info *in = ictal_edf_get_info(edf);
    if (in->n_records != (int64_t)fr.n || in->header_n_records != (int64_t)fr.n ||
        in->n_data_signals != fr.n_channels || in->n_gaps != n_gaps || in->truncated_bytes != 0) {
        fprintf(stderr, "%s: %lld records (header %lld), %d signals, %zu gaps; the log has %zu frames of %d channels\n",
                edf_path, (long long)in->n_records, (long long)in->header_n_records,
                in->n_data_signals, in->n_gaps, fr.n, fr.n_channels);
        goto done;
    }
    for (size_t k = 0; k < fr.n; k++) {
        double t = 0;
        ictal_edf_record_start(edf, (int64_t)k, &t);
        if (fabs(t - (double)(fr.time_us[k] - fr.time_us[0]) * 1e-6) > 1e-6) {
            fprintf(stderr, "%s: record %zu starts at %.6f s, its frame at %.6f s\n", edf_path, k,
                    t, (double)(fr.time_us[k] - fr.time_us[0]) * 1e-6);
            goto done;
        }
    }
    for (int c = 0; c < fr.n_channels; c++) {
        size_t nr = 0;
        if (ictal_edf_read_digital(edf, c, 0, per_ch, dig, &nr, &d) != 0 || nr != per_ch)
            goto done;
        for (size_t i = 0; i < per_ch; i++)
            if (dig[i] != fr.samples[i * (size_t)fr.n_channels + (size_t)c]) {
                fprintf(stderr, "%s: signal %d sample %zu: %d, sent %d\n", edf_path, c, i,
                        (int)dig[i], (int)fr.samples[i * (size_t)fr.n_channels + (size_t)c]);
                goto done;
            }
    }
    /* EDFlib, the reference reader: it refuses a file whose size and header disagree.
     * It does not read EDF+D, but says that it is one. */
    struct edf_hdr_struct h;
    int erc = edfopen_file_readonly(edf_path, &h, EDFLIB_READ_ALL_ANNOTATIONS);
    if (n_gaps > 0) {
        if (erc == 0)
            edfclose_file(h.handle);
        if (erc == 0 || h.filetype != EDFLIB_FILE_IS_DISCONTINUOUS) {
            fprintf(stderr, "%s: EDFlib does not see EDF+D (%d)\n", edf_path, h.filetype);
            goto done;
        }
        result = (int64_t)fr.n;
        goto done;
    }
    if (erc != 0) {
        fprintf(stderr, "%s: EDFlib refuses it (error %d)\n", edf_path, h.filetype);
        goto done;
    }
    int ok = h.filetype == EDFLIB_FILETYPE_EDFPLUS && h.edfsignals == fr.n_channels &&
             h.datarecords_in_file == (long long)fr.n &&
             h.annotations_in_file == (long long)in->n_annotations;
    for (int c = 0; ok && c < fr.n_channels; c++) {
        edfseek(h.handle, c, 0, EDFSEEK_SET);
        ok = edfread_digital_samples(h.handle, c, (int)per_ch, edfdig) == (int)per_ch;
        for (size_t i = 0; ok && i < per_ch; i++)
            ok = edfdig[i] == fr.samples[i * (size_t)fr.n_channels + (size_t)c];
    }
    edfclose_file(h.handle);
    if (!ok) {
        fprintf(stderr, "%s: EDFlib reads other records, annotations or samples\n", edf_path);
        goto done;
    }
    result = (int64_t)fr.n;
done:
    if (edf)
        ictal_edf_close(edf);
    free(dig);
    free(edfdig);
    free(fr.time_us);
    free(fr.samples);
    return result;
}

/* Writes a downloaded body to dir/name; returns the path (static buffer). */
static inline const char *ts_save(const char *dir, const char *name, const void *body, size_t len)
{
    static char path[400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return path;
    fwrite(body, 1, len, f);
    fclose(f);
    return path;
}

/* Texts of the annotations of an EDF file (';'-joined, in a static buffer). */
static inline const char *ts_edf_annotations(const char *edf_path)
{
    static char buf[4096];
    buf[0] = 0;
    ictal_edf *edf = NULL;
    if (ictal_edf_open(&edf, edf_path, NULL, NULL) != 0)
        return buf;
    const ictal_edf_info *in = ictal_edf_get_info(edf);
    for (size_t i = 0; i < in->n_annotations; i++) {
        size_t n = strlen(buf);
        snprintf(buf + n, sizeof buf - n, "%s@%.3f/%.3f;", in->annotations[i].text,
                 in->annotations[i].onset_s, in->annotations[i].duration_s);
    }
    ictal_edf_close(edf);
    return buf;
}

/* --- a webhook receiver ------------------------------------------------------------ */

#define TS_HOOK_MAX 64

typedef struct ts_hook {
    int fd, port;
    const char *secret;
    int fail_first;        /* answer the first N requests with 503 */
    int requests, bad_signatures;
    int n;
    char event_id[TS_HOOK_MAX][64];
    char type[TS_HOOK_MAX][32];
    pthread_t thread;
    volatile int stop;
    pthread_mutex_t mu;
} ts_hook;

static inline void *ts_hook_main(void *arg)
{
    ts_hook *h = arg;
    while (!h->stop) {
        int c = accept(h->fd, NULL, NULL);
        if (c < 0)
            continue;
        char req[65536];
        size_t len = 0;
        char *body = NULL;
        long clen = -1;
        while (len < sizeof req - 1) {
            ssize_t r = read(c, req + len, sizeof req - 1 - len);
            if (r <= 0)
                break;
            len += (size_t)r;
            req[len] = 0;
            char *hdr_end = strstr(req, "\r\n\r\n");
            if (hdr_end && clen < 0) {
                char *cl = strcasestr(req, "Content-Length:");
                clen = cl ? strtol(cl + 15, NULL, 10) : 0;
                body = hdr_end + 4;
            }
            if (body && (long)(len - (size_t)(body - req)) >= clen)
                break;
        }
        char id[64] = "", ts[32] = "", sig[80] = "";
        char *p;
        if ((p = strcasestr(req, "X-Ictal-Event-Id: ")))
            sscanf(p + 18, "%63s", id);
        if ((p = strcasestr(req, "X-Ictal-Timestamp: ")))
            sscanf(p + 19, "%31s", ts);
        if ((p = strcasestr(req, "X-Ictal-Signature: sha256=")))
            sscanf(p + 26, "%79s", sig);
        pthread_mutex_lock(&h->mu);
        int fail = h->requests++ < h->fail_first;
        if (body && !fail) {
            size_t blen = (size_t)clen;
            char *msg = malloc(strlen(ts) + 1 + blen + 1);
            sprintf(msg, "%s.", ts);
            memcpy(msg + strlen(ts) + 1, body, blen);
            char want[65];
            ictal__hmac_sha256_hex(h->secret, msg, strlen(ts) + 1 + blen, want);
            free(msg);
            if (strcmp(want, sig) != 0) {
                h->bad_signatures++;
            } else if (h->n < TS_HOOK_MAX) {
                json_t *j = json_loadb(body, blen, 0, NULL);
                snprintf(h->event_id[h->n], sizeof h->event_id[0], "%s", id);
                snprintf(h->type[h->n], 32, "%s", json_string_value(json_object_get(j, "type")));
                json_decref(j);
                h->n++;
            }
        }
        pthread_mutex_unlock(&h->mu);
        const char *resp = fail ? "HTTP/1.1 503 Busy\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                                : "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        if (write(c, resp, strlen(resp)) < 0)
            perror("webhook receiver");
        close(c);
    }
    return NULL;
}

static inline int ts_hook_start(ts_hook *h, const char *secret, int fail_first)
{
    memset(h, 0, sizeof *h);
    h->secret = secret;
    h->fail_first = fail_first;
    pthread_mutex_init(&h->mu, NULL);
    h->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (bind(h->fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(h->fd, 16) != 0 ||
        getsockname(h->fd, (struct sockaddr *)&a, &al) != 0)
        return -1;
    struct timeval tv = {0, 200000};
    setsockopt(h->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    h->port = ntohs(a.sin_port);
    return pthread_create(&h->thread, NULL, ts_hook_main, h);
}

static inline void ts_hook_stop(ts_hook *h)
{
    h->stop = 1;
    pthread_join(h->thread, NULL);
    close(h->fd);
    pthread_mutex_destroy(&h->mu);
}

/* Distinct events of a type received (receivers deduplicate on the event id). */
static inline int ts_hook_count(ts_hook *h, const char *type)
{
    int n = 0;
    pthread_mutex_lock(&h->mu);
    for (int i = 0; i < h->n; i++) {
        if (strcmp(h->type[i], type) != 0)
            continue;
        int dup = 0;
        for (int k = 0; k < i; k++)
            dup |= strcmp(h->event_id[k], h->event_id[i]) == 0;
        n += !dup;
    }
    pthread_mutex_unlock(&h->mu);
    return n;
}

static inline const char *ts_source_edf(void)
{
    static char path[1024];
    const char *root = getenv("ICTAL_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/data/chb05_06_excerpt.edf", root ? root : "..");
    return path;
}

static inline const char *ts_model_path(void)
{
    return test_fixture_path("server/linelength.model");
}

/* --- the session's hop log is what libictal yields over its frame log ---------------- */

typedef struct ts_hops {
    ictal__analysis *an;
    json_t *hops;      /* [t_s, prob, burden] per hop, as the API gives them */
    float *uv;
    size_t uv_cap;
    int64_t start_us, expected_us;
    double rate_hz;
    int bad;
} ts_hops;

static inline void ts_hops_on_hop(void *user, const ictal__hop_info *h)
{
    ts_hops *c = user;
    json_t *e = json_array();
    json_array_append_new(e, json_real((float)h->t_s));
    json_array_append_new(e, isnan(h->prob) ? json_null() : json_real(h->prob));
    json_array_append_new(e, isnan(h->burden) ? json_null() : json_real(h->burden));
    json_array_append_new(c->hops, e);
}

static inline int ts_hops_cb(void *user, const ictal_wire_frame *f)
{
    ts_hops *c = user;
    size_t need = (size_t)f->n_samples * f->n_channels;
    if (need > c->uv_cap) {
        float *nu = realloc(c->uv, need * sizeof *nu);
        if (nu == NULL) {
            c->bad = 1;
            return 1;
        }
        c->uv = nu;
        c->uv_cap = need;
    }
    if (c->start_us == INT64_MIN)
        c->start_us = f->device_time_us;
    /* A jump in device time restarts the detector, as the server does. */
    int64_t tol_us = (int64_t)(2e6 / c->rate_hz) + 20000;
    if (c->expected_us != INT64_MIN && f->device_time_us > c->expected_us + tol_us)
        ictal__analysis_reset(c->an, (double)(f->device_time_us - c->start_us) * 1e-6);
    c->expected_us = f->device_time_us + (int64_t)((double)f->n_samples * 1e6 / c->rate_hz);
    ictal_wire_decode_uv(f, c->uv);
    if (ictal__analysis_push(c->an, c->uv, f->n_samples) != 0)
        c->bad = 1;
    return 0;
}

/* The hops a fresh detector (the test model) produces over a session's frame log, or
 * NULL. labels: the session's channel labels. */
static inline json_t *ts_hops_expected(const test_server *s, int64_t session_id, json_t *labels,
                                       double rate_hz)
{
    FILE *f = fopen(ts_model_path(), "rb");
    static unsigned char bytes[1 << 16];
    size_t n = f ? fread(bytes, 1, sizeof bytes, f) : 0;
    if (f)
        fclose(f);
    ictal_model m;
    if (n == 0 || ictal_model_parse(&m, bytes, n, NULL) != 0)
        return NULL;
    const char *lab[ICTAL__ANALYSIS_MAX_CHANNELS];
    int nc = (int)json_array_size(labels);
    for (int c = 0; c < nc && c < ICTAL__ANALYSIS_MAX_CHANNELS; c++)
        lab[c] = json_string_value(json_array_get(labels, (size_t)c));
    ts_hops c = {NULL, json_array(), NULL, 0, INT64_MIN, INT64_MIN, rate_hz, 0};
    ictal__analysis_cb cb = {ts_hops_on_hop, NULL, &c};
    char path[400];
    snprintf(path, sizeof path, "%s/sessions/%lld.frames", s->dir, (long long)session_id);
    if (ictal__analysis_create(&c.an, nc, lab, rate_hz, &m, &cb, NULL) != 0 ||
        ictal__seslog_walk(path, ts_hops_cb, &c, NULL) != 0)
        c.bad = 1;
    ictal__analysis_destroy(c.an);
    free(c.uv);
    if (c.bad) {
        json_decref(c.hops);
        return NULL;
    }
    return c.hops;
}

/* Checks GET /api/sessions/{id}/history (undecimated) against ts_hops_expected: the
 * same hops, once each, in order, with the same values. Returns the hop count or -1. */
static inline int64_t ts_history_matches(const test_server *s, int64_t session_id)
{
    char path[160];
    snprintf(path, sizeof path, "/api/sessions/%lld", (long long)session_id);
    json_t *sess = ts_get_json(s, path);
    snprintf(path, sizeof path, "/api/sessions/%lld/history?max_points=100000",
             (long long)session_id);
    json_t *h = ts_get_json(s, path);
    json_t *want = sess ? ts_hops_expected(s, session_id, json_object_get(sess, "labels"),
                                           json_real_value(json_object_get(sess, "rate_hz")))
                        : NULL;
    json_t *got = json_object_get(h, "points");
    int64_t n = -1;
    if (want && got && json_array_size(want) == json_array_size(got) &&
        json_integer_value(json_object_get(h, "hops")) == (json_int_t)json_array_size(want)) {
        n = (int64_t)json_array_size(want);
        for (size_t i = 0; i < json_array_size(want); i++)
            for (size_t k = 0; k < 3; k++) {
                json_t *ja = json_array_get(json_array_get(want, i), k);
                json_t *jb = json_array_get(json_array_get(got, i), k);
                double a = json_number_value(ja), b = json_number_value(jb);
                if (json_is_null(ja) != json_is_null(jb) || !(fabs(a - b) <= 1e-6 * (1 + fabs(a))))
                    n = -1;
            }
    }
    json_decref(sess);
    json_decref(h);
    json_decref(want);
    return n;
}

#endif
