/*
 * Helpers for the tests that run the real server (`ictal serve`, env ICTAL) on
 * 127.0.0.1: start and stop it, HTTP calls with libcurl, a webhook receiver that
 * checks signatures, and a check that a session's frame log is exactly a source.
 */
#ifndef ICTAL_SERVER_TEST_UTIL_H
#define ICTAL_SERVER_TEST_UTIL_H

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
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

static void ts_sleep_ms(int ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* Starts `ictal serve` on a free port with data in dir; extra: NULL-terminated args. */
static int ts_start(test_server *s, const char *dir, const char *const *extra)
{
    const char *ictal = getenv("ICTAL");
    if (ictal == NULL)
        return -1;
    snprintf(s->dir, sizeof s->dir, "%s", dir);
    mkdir(dir, 0700);
    char port_file[300];
    snprintf(port_file, sizeof port_file, "%s/port", dir);
    unlink(port_file);
    const char *argv[32] = {ictal, "serve", "--listen", "127.0.0.1:0", "--data", dir, "--port-file",
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

/* Stops the server: SIGTERM (clean) or SIGKILL (crash). Returns its exit status. */
static int ts_stop(test_server *s, int sig)
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

static size_t ts_write(char *p, size_t sz, size_t n, void *u)
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

/* One HTTP request; returns the status, *body (malloc'd, may be NULL) the response. */
static long ts_http(const test_server *s, const char *method, const char *path, const char *token,
                    const char *req_body, char **body, size_t *body_len)
{
    CURL *c = curl_easy_init();
    char url[512], auth[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", s->port, path);
    struct curl_slist *h = NULL;
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        h = curl_slist_append(h, auth);
    }
    ts_buf b = {NULL, 0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, ts_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, req_body ? req_body : "");
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

/* GET path as JSON with the admin token (NULL on failure). */
static json_t *ts_get_json(const test_server *s, const char *path)
{
    char *body = NULL;
    long st = ts_http(s, "GET", path, s->token, NULL, &body, NULL);
    json_t *j = st == 200 && body ? json_loads(body, 0, NULL) : NULL;
    free(body);
    return j;
}

/* The session id of a device's newest session, or -1. */
static int64_t ts_session_of(const test_server *s, const char *device)
{
    char path[256];
    snprintf(path, sizeof path, "/api/sessions?device=%s", device);
    json_t *j = ts_get_json(s, path);
    int64_t id = json_integer_value(json_object_get(json_array_get(j, 0), "id"));
    json_decref(j);
    return id > 0 ? id : -1;
}

/* --- the frame log is exactly the source ------------------------------------------- */

typedef struct ts_cmp {
    const ictal__sim_source *src;
    uint64_t next;
    int mismatches;
} ts_cmp;

static int ts_cmp_cb(void *user, const ictal_wire_frame *f)
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
static int64_t ts_log_matches(const test_server *s, int64_t session_id, const ictal__sim_source *src)
{
    char path[400];
    snprintf(path, sizeof path, "%s/sessions/%lld.frames", s->dir, (long long)session_id);
    ts_cmp c = {src, 0, 0};
    if (ictal__seslog_walk(path, ts_cmp_cb, &c, NULL) != 0 || c.mismatches)
        return -1;
    return (int64_t)c.next;
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

static void *ts_hook_main(void *arg)
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

static int ts_hook_start(ts_hook *h, const char *secret, int fail_first)
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

static void ts_hook_stop(ts_hook *h)
{
    h->stop = 1;
    pthread_join(h->thread, NULL);
    close(h->fd);
    pthread_mutex_destroy(&h->mu);
}

/* Distinct events of a type received (receivers deduplicate on the event id). */
static int ts_hook_count(ts_hook *h, const char *type)
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

static const char *ts_source_edf(void)
{
    static char path[1024];
    const char *root = getenv("ICTAL_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/data/chb05_06_excerpt.edf", root ? root : "..");
    return path;
}

static const char *ts_model_path(void)
{
    return test_fixture_path("server/linelength.model");
}

#endif
