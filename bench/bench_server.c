/*
 * bench_server: N simulated 4-channel 256 Hz devices streaming at real time into
 * `ictal serve` on 127.0.0.1, plus one dashboard. Reports, per N: the server's CPU
 * use (percent of one core), its resident memory per stream, the frames stored (as a
 * share of real time when streaming stops; then, after the devices drain, every frame
 * sent counted in the session logs: all stored, once), and the alarm push latency (detector decision to the dashboard socket) p50 / p99 from
 * the server's /metrics. Every device streams the first 4 channels' worth of the
 * bundled CHB-MIT excerpt (FP1-F3, F3-C3, FP2-F4, F4-C4), whose seizure raises an
 * alarm (test model) about 25 s in. Device i starts spread * i / N seconds into the
 * recording, so the N alarms come over `spread` seconds (--spread 0: all at once, the
 * worst case: N alarms decided within one frame).
 *
 * With --logins 1, one client signs in over and over meanwhile (POST /api/login).
 *
 * usage: bench_server [--devices N,N,...] [--seconds S] [--runs R] [--spread S] [--logins 0|1]
 *   defaults: --devices 100,1000 --seconds 35 --runs 1 --spread 20 --logins 0. Needs ICTAL (the ictal
 *   binary; default: ../ictal next to this program) and ICTAL_SOURCE_DIR (default .).
 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <dirent.h>
#include <jansson.h>
#include <libgen.h>
#include <libwebsockets.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "server/fleet.h"
#include "server/seslog.h"

static double proc_cpu_s(pid_t pid)
{
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    double s = 0;
    if (f && fgets(line, sizeof line, f)) {
        char *r = strrchr(line, ')');
        unsigned long ut = 0, st = 0;
        if (r && sscanf(r + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2)
            s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
    }
    if (f)
        fclose(f);
    return s;
}

static long proc_rss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kb;
}

typedef struct buf {
    char *p;
    size_t n;
} buf;

static size_t on_data(char *d, size_t sz, size_t n, void *u)
{
    buf *b = u;
    char *q = realloc(b->p, b->n + sz * n + 1);
    if (!q)
        return 0;
    memcpy(q + b->n, d, sz * n);
    b->p = q;
    b->n += sz * n;
    q[b->n] = 0;
    return sz * n;
}

static double metric(const char *text, const char *name)
{
    const char *p = text ? strstr(text, name) : NULL;
    while (p && p != text && p[-1] != '\n')
        p = strstr(p + 1, name);
    return p ? atof(p + strlen(name)) : -1;
}

static char *get_metrics(int port, const char *token)
{
    CURL *c = curl_easy_init();
    char url[128], auth[200];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", port);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    struct curl_slist *h = curl_slist_append(NULL, auth);
    buf b = {NULL, 0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_perform(c);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return b.p;
}

/* --- one dashboard, in its own thread and lws context --------------------------------- */

typedef struct dash {
    int port;
    const char *token;
    volatile int stop;
    int alarms;
    struct lws_context *ctx;
} dash;

static int dash_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    dash *d = lws_get_opaque_user_data(wsi);
    (void)user;
    if (d == NULL)
        return 0;
    if (reason == LWS_CALLBACK_CLIENT_ESTABLISHED) {
        lws_callback_on_writable(wsi);
    } else if (reason == LWS_CALLBACK_CLIENT_WRITEABLE) {
        unsigned char b[LWS_PRE + 256];
        int n = snprintf((char *)b + LWS_PRE, 200, "{\"type\":\"auth\",\"token\":\"%s\"}", d->token);
        lws_write(wsi, b + LWS_PRE, (size_t)n, LWS_WRITE_TEXT);
    } else if (reason == LWS_CALLBACK_CLIENT_RECEIVE) {
        if (len > 20 && memmem(in, len < 40 ? len : 40, "\"alarm\"", 7))
            d->alarms++;
    }
    return 0;
}

static void *dash_main(void *arg)
{
    dash *d = arg;
    struct lws_protocols protocols[] = {{"ictal-dashboard-v1", dash_cb, 0, 65536, 0, NULL, 0},
                                        {NULL, NULL, 0, 0, 0, NULL, 0}};
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    d->ctx = lws_create_context(&info);
    struct lws_client_connect_info i;
    memset(&i, 0, sizeof i);
    i.context = d->ctx;
    i.address = "127.0.0.1";
    i.port = d->port;
    i.path = "/dashboard";
    i.host = i.address;
    i.origin = i.address;
    i.protocol = "ictal-dashboard-v1";
    i.local_protocol_name = "ictal-dashboard-v1";
    i.opaque_user_data = d;
    lws_client_connect_via_info(&i);
    while (!d->stop)
        lws_service(d->ctx, 100);
    lws_context_destroy(d->ctx);
    return NULL;
}

static double spread_s = 20;
static int logins_on;

/* --logins: one client signing in over and over (POST /api/login, right password). */
typedef struct login_client {
    int port;
    volatile int stop;
    int n, ok;
} login_client;

static long post(int port, const char *path, const char *token, const char *body)
{
    CURL *c = curl_easy_init();
    char url[128], auth[200];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token ? token : "");
    struct curl_slist *h = token ? curl_slist_append(NULL, auth) : NULL;
    buf b = {NULL, 0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    free(b.p);
    return status;
}

static void *login_main(void *arg)
{
    login_client *lc = arg;
    while (!lc->stop) {
        lc->ok += post(lc->port, "/api/login", NULL,
                       "{\"username\":\"bench\",\"password\":\"bench password 1\"}") == 200;
        lc->n++;
    }
    return NULL;
}

typedef struct result {
    double cpu_pct, kb_per_stream, p50_ms, p99_ms, realtime_pct;
    uint64_t sent, stored, unacked;
    int bad_logs;
} result;

/* Samples the server's CPU time, RSS and stored frames when streaming stops (the
 * fleet then drains: its devices send nothing new and wait for their acks). */
typedef struct sampler {
    pid_t pid;
    int port;
    const char *token;
    double at_s, t1, cpu1, frames1;
    long rss1;
} sampler;

static void *sampler_main(void *arg)
{
    sampler *sa = arg;
    while (now_s() < sa->at_s)
        usleep(10000);
    sa->t1 = now_s();
    sa->cpu1 = proc_cpu_s(sa->pid);
    sa->rss1 = proc_rss_kb(sa->pid);
    char *m = get_metrics(sa->port, sa->token);
    sa->frames1 = metric(m, "ictal_frames_total ");
    free(m);
    return NULL;
}

/* Counts the frames of every session log in dir/sessions; a log whose sequence numbers
 * are not exactly 0, 1, 2, ... (a frame missing or stored twice) counts as bad. */
typedef struct log_count {
    uint64_t frames;
    int bad;
} log_count;

static int count_cb(void *user, const ictal_wire_frame *f)
{
    log_count *c = user;
    if (f->seq != c->frames)
        c->bad = 1;
    c->frames++;
    return 0;
}

static uint64_t count_stored(const char *dir, int *bad_logs)
{
    char sessions[128];
    snprintf(sessions, sizeof sessions, "%s/sessions", dir);
    DIR *dd = opendir(sessions);
    uint64_t total = 0;
    *bad_logs = 0;
    for (struct dirent *e; dd && (e = readdir(dd)) != NULL;) {
        size_t n = strlen(e->d_name);
        if (n < 8 || strcmp(e->d_name + n - 7, ".frames") != 0)
            continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", sessions, e->d_name);
        log_count c = {0, 0};
        if (ictal__seslog_walk(path, count_cb, &c, NULL) != 0 || c.bad)
            (*bad_logs)++;
        total += c.frames;
    }
    if (dd)
        closedir(dd);
    return total;
}

static int run_one(const char *ictal, const char *src_dir, const ictal__sim_source *src, int n,
                   double seconds, int run, result *res)
{
    char dir[] = "/tmp/ictal-bench-XXXXXX";
    if (mkdtemp(dir) == NULL)
        return 1;
    char model[PATH_MAX], token[128];
    snprintf(model, sizeof model, "%s/tests/fixtures/server/linelength.model", src_dir);
    int port;
    pid_t pid = bench_serve_start(ictal, dir, model, &port, token, sizeof token);
    if (pid < 0)
        return 1;
    if (port <= 0) {
        fprintf(stderr, "bench_server: the server did not start\n");
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return 1;
    }
    dash d = {port, token, 0, 0, NULL};
    pthread_t th;
    pthread_create(&th, NULL, dash_main, &d);
    login_client lc = {port, 0, 0, 0};
    pthread_t lth;
    if (logins_on) {
        if (post(port, "/api/users", token,
                 "{\"username\":\"bench\",\"password\":\"bench password 1\",\"role\":\"viewer\"}") != 201)
            fprintf(stderr, "bench_server: could not add the sign-in user\n");
        pthread_create(&lth, NULL, login_main, &lc);
    }
    long rss0 = proc_rss_kb(pid);
    double cpu0 = proc_cpu_s(pid), t0 = now_s();
    sampler sa = {pid, port, token, t0 + seconds, 0, 0, 0, 0};
    pthread_t sth;
    pthread_create(&sth, NULL, sampler_main, &sa);

    ictal__fleet_options o;
    memset(&o, 0, sizeof o);
    o.host = "127.0.0.1";
    o.port = port;
    o.n_devices = n;
    o.device_prefix = "bench";
    o.speed = 1;
    o.spread_s = spread_s;
    o.timeout_s = seconds;
    o.drain_s = 10;
    o.quiet = 1;
    ictal__fleet_result r;
    ictal__fleet_run(src, &o, &r);
    pthread_join(sth, NULL);
    double cpu1 = sa.cpu1, t1 = sa.t1, frames = sa.frames1;
    long rss1 = sa.rss1;
    usleep(300000);
    char *m = get_metrics(port, token);
    double conns_max = n;
    double alarms = metric(m, "ictal_alarms_total ");
    double p50 = metric(m, "ictal_alarm_push_recent_seconds{quantile=\"0.5\"} ");
    double p99 = metric(m, "ictal_alarm_push_recent_seconds{quantile=\"0.99\"} ");
    double rejected = metric(m, "ictal_rejections_total ");
    free(m);
    double expected_frames = (double)n * (t1 - t0) * src->rate_hz / src->samples_per_frame;
    printf("run %d devices %5d  wall %5.1f s  server CPU %5.1f %% of a core  RSS %6.1f MB"
           " (%5.1f KB/stream)  frames %8.0f (%.0f%% of real time)  alarms %4.0f (dashboard saw %d)"
           "  alarm push p50 %.2f ms p99 %.2f ms  rejected %.0f\n",
           run, n, t1 - t0, 100.0 * (cpu1 - cpu0) / (t1 - t0), rss1 / 1024.0,
           (double)(rss1 - rss0) / conns_max, frames, 100.0 * frames / expected_frames, alarms,
           d.alarms, p50 * 1e3, p99 * 1e3, rejected);
    fflush(stdout);
    res->cpu_pct = 100.0 * (cpu1 - cpu0) / (t1 - t0);
    res->kb_per_stream = (double)(rss1 - rss0) / conns_max;
    res->p50_ms = p50 * 1e3;
    res->p99_ms = p99 * 1e3;
    res->realtime_pct = 100.0 * frames / expected_frames;
    d.stop = 1;
    pthread_join(th, NULL);
    if (logins_on) {
        lc.stop = 1;
        pthread_join(lth, NULL);
        printf("run %d devices %5d  sign-ins meanwhile: %d (%d answered 200)\n", run, n, lc.n, lc.ok);
    }
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    /* After the drain: every distinct frame the devices sent is in a log, once. */
    res->sent = r.frames_distinct;
    res->unacked = r.frames_unacked;
    res->stored = count_stored(dir, &res->bad_logs);
    printf("run %d devices %5d  after drain: frames sent %llu, stored %llu (%s), unacked %llu,"
           " logs out of sequence %d\n",
           run, n, (unsigned long long)res->sent, (unsigned long long)res->stored,
           res->stored == res->sent ? "all, once" : "MISMATCH", (unsigned long long)res->unacked,
           res->bad_logs);
    fflush(stdout);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_server: could not remove %s\n", dir);
    return 0;
}

int main(int argc, char **argv)
{
    const char *devices = "100,1000";
    double seconds = 35;
    int runs = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--devices") == 0)
            devices = argv[i + 1];
        else if (strcmp(argv[i], "--seconds") == 0)
            seconds = atof(argv[i + 1]);
        else if (strcmp(argv[i], "--runs") == 0)
            runs = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--spread") == 0)
            spread_s = atof(argv[i + 1]);
        else if (strcmp(argv[i], "--logins") == 0)
            logins_on = atoi(argv[i + 1]) != 0;
    }
    if (seconds <= 0 || seconds > 600 || runs < 1 || runs > 9) {
        fprintf(stderr, "bench_server: --seconds 1..600, --runs 1..9\n");
        return 2;
    }
    char ictal[PATH_MAX];
    if (getenv("ICTAL")) {
        snprintf(ictal, sizeof ictal, "%s", getenv("ICTAL"));
    } else {
        char self[PATH_MAX];
        ssize_t k = readlink("/proc/self/exe", self, sizeof self - 1);
        self[k > 0 ? k : 0] = 0;
        snprintf(ictal, sizeof ictal, "%s/../ictal", dirname(self));
    }
    const char *src_dir = getenv("ICTAL_SOURCE_DIR") ? getenv("ICTAL_SOURCE_DIR") : ".";
    char edf[PATH_MAX];
    snprintf(edf, sizeof edf, "%s/data/chb05_06_excerpt.edf", src_dir);
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    lws_set_log_level(LLL_ERR, NULL);
    ictal__sim_source src;
    ictal_diag d;
    ictal_diag_init(&d);
    if (ictal__sim_source_from_file(&src, edf, "FP1-F3,F3-C3,FP2-F4,F4-C4", 250, &d) != 0) {
        fprintf(stderr, "bench_server: %s (set ICTAL_SOURCE_DIR)\n", d.message);
        return 1;
    }
    printf("bench_server: %s, 4 channels at 256 Hz, 250 ms frames, %g s per run, real time,"
           " alarms spread over %g s\n", edf, seconds, spread_s);
    char *list = strdup(devices);
    double base_cpu = 0;
    int base_n = 0;
    for (char *save = NULL, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int n = atoi(t);
        double cpu[9], kb[9], p50[9], p99[9], rt[9];
        uint64_t sent = 0, stored = 0;
        int exact = 0;
        for (int r = 0; r < runs; r++) {
            result res = {0, 0, -1, -1, 0, 0, 0, 0, 0};
            run_one(ictal, src_dir, &src, n, seconds, r + 1, &res);
            cpu[r] = res.cpu_pct;
            kb[r] = res.kb_per_stream;
            p50[r] = res.p50_ms;
            p99[r] = res.p99_ms;
            rt[r] = res.realtime_pct;
            sent += res.sent;
            stored += res.stored;
            exact += res.sent == res.stored && res.bad_logs == 0;
        }
        double mc = median(cpu, runs);
        printf("median of %d: devices %5d  server CPU %5.1f %% of a core (%.1f %% per 100 streams)"
               "  %5.1f KB/stream  %5.1f %% of real time stored  alarm push p50 %.2f ms p99 %.2f ms",
               runs, n, mc, 100.0 * mc / n, median(kb, runs), median(rt, runs), median(p50, runs),
               median(p99, runs));
        printf("  after drain: %llu of %llu frames sent stored exactly once (%d of %d runs)",
               (unsigned long long)stored, (unsigned long long)sent, exact, runs);
        if (base_n)
            printf("  CPU ratio vs %d devices %.2f for %.1fx the streams", base_n, mc / base_cpu,
                   (double)n / base_n);
        printf("\n");
        if (!base_n) {
            base_n = n;
            base_cpu = mc;
        }
    }
    free(list);
    ictal__sim_source_free(&src);
    curl_global_cleanup();
    return 0;
}
