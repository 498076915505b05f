/*
 * bench_login: how much password sign-ins delay everything else `ictal serve` does.
 * Starts the server (`--model none`), adds one user, then for S seconds keeps C
 * sign-ins in flight (POST /api/login, right password, each re-sent as soon as it is
 * answered) while a probe sends GET /api/health every 20 ms, one at a time: its
 * latency is what any request, frame ack or alarm push waits for the loop. The first
 * 2 s run the probe alone (the idle figure). Reports per run and the median of runs:
 * health p50 / p99 / max idle and under sign-ins, sign-ins answered per second and
 * their median latency.
 *
 * usage: bench_login [--clients C] [--seconds S] [--runs R]
 *   defaults: --clients 4 --seconds 10 --runs 3. Needs ICTAL (the ictal binary;
 *   default: ../ictal next to this program).
 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"

static const char *login_body = "{\"username\":\"bench\",\"password\":\"bench password 1\"}";

typedef struct req {
    CURL *c;
    int is_login;
    double t0;
} req;

static size_t discard(char *p, size_t sz, size_t n, void *u)
{
    (void)p;
    (void)u;
    return sz * n;
}

static void req_start(CURLM *m, req *r, int port, int is_login, struct curl_slist *auth)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, is_login ? "/api/login" : "/api/health");
    if (r->c == NULL)
        r->c = curl_easy_init();
    else
        curl_easy_reset(r->c);
    r->is_login = is_login;
    r->t0 = now_s();
    curl_easy_setopt(r->c, CURLOPT_URL, url);
    curl_easy_setopt(r->c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(r->c, CURLOPT_PRIVATE, r);
    curl_easy_setopt(r->c, CURLOPT_TIMEOUT, 60L);
    if (auth)
        curl_easy_setopt(r->c, CURLOPT_HTTPHEADER, auth);
    if (is_login) {
        curl_easy_setopt(r->c, CURLOPT_POST, 1L);
        curl_easy_setopt(r->c, CURLOPT_POSTFIELDS, login_body);
    }
    curl_multi_add_handle(m, r->c);
}

static double pct(double *v, int n, double q)
{
    if (n == 0)
        return -1;
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    return v[(int)((n - 1) * q)];
}

typedef struct result {
    double idle_p50, idle_p99, idle_max, busy_p50, busy_p99, busy_max, logins_per_s, login_p50;
} result;

static int run_one(const char *ictal, int clients, double seconds, int run, result *res)
{
    char dir[] = "/tmp/ictal-bench-login-XXXXXX";
    if (mkdtemp(dir) == NULL)
        return 1;
    char token[128], auth_h[200];
    int port;
    pid_t pid = bench_serve_start(ictal, dir, "none", &port, token, sizeof token);
    if (pid < 0)
        return 1;
    int rc = 1;
    CURL *c = curl_easy_init();
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/users", port);
    snprintf(auth_h, sizeof auth_h, "Authorization: Bearer %s", token);
    struct curl_slist *auth = curl_slist_append(NULL, auth_h);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, auth);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS,
                     "{\"username\":\"bench\",\"password\":\"bench password 1\",\"role\":\"viewer\"}");
    long status = 0;
    if (port > 0 && curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    if (status != 201) {
        fprintf(stderr, "bench_login: the server did not start or add the user (%ld)\n", status);
        goto done;
    }

    enum { MAX_SAMPLES = 20000 };
    static double idle[MAX_SAMPLES], busy[MAX_SAMPLES], login_lat[MAX_SAMPLES];
    int n_idle = 0, n_busy = 0, n_login = 0;
    CURLM *m = curl_multi_init();
    req *logins = calloc((size_t)clients, sizeof *logins);
    req probe = {0};
    double t0 = now_s(), t_busy = t0 + 2, t_end = t_busy + seconds, next_probe = t0;
    int probe_busy = 0, logins_on = 0, n_fail = 0;
    while (now_s() < t_end) {
        double now = now_s();
        if (!logins_on && now >= t_busy) {
            for (int i = 0; i < clients; i++)
                req_start(m, &logins[i], port, 1, NULL);
            logins_on = 1;
        }
        if (!probe_busy && now >= next_probe) {
            req_start(m, &probe, port, 0, NULL);
            probe_busy = 1;
            next_probe = now + 0.02;
        }
        int running;
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            req *r = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
            long st = 0;
            curl_easy_getinfo(r->c, CURLINFO_RESPONSE_CODE, &st);
            double dt = now_s() - r->t0;
            curl_multi_remove_handle(m, r->c);
            if (st != 200)
                n_fail++;
            if (r->is_login) {
                if (n_login < MAX_SAMPLES)
                    login_lat[n_login++] = dt;
                if (now_s() < t_end)
                    req_start(m, r, port, 1, NULL);
            } else {
                probe_busy = 0;
                if (r->t0 < t_busy && n_idle < MAX_SAMPLES)
                    idle[n_idle++] = dt;
                else if (r->t0 >= t_busy && n_busy < MAX_SAMPLES)
                    busy[n_busy++] = dt;
            }
        }
        curl_multi_poll(m, NULL, 0, 2, NULL);
    }
    for (int i = 0; i < clients; i++) {
        if (logins[i].c) {
            curl_multi_remove_handle(m, logins[i].c);
            curl_easy_cleanup(logins[i].c);
        }
    }
    if (probe.c) {
        curl_multi_remove_handle(m, probe.c);
        curl_easy_cleanup(probe.c);
    }
    curl_multi_cleanup(m);
    free(logins);
    res->idle_p50 = pct(idle, n_idle, 0.5) * 1e3;
    res->idle_p99 = pct(idle, n_idle, 0.99) * 1e3;
    res->idle_max = pct(idle, n_idle, 1.0) * 1e3;
    res->busy_p50 = pct(busy, n_busy, 0.5) * 1e3;
    res->busy_p99 = pct(busy, n_busy, 0.99) * 1e3;
    res->busy_max = pct(busy, n_busy, 1.0) * 1e3;
    res->logins_per_s = n_login / seconds;
    res->login_p50 = pct(login_lat, n_login, 0.5) * 1e3;
    printf("run %d: /api/health idle p50 %.2f ms p99 %.2f ms max %.1f ms (%d probes);"
           " with %d sign-ins in flight p50 %.2f ms p99 %.1f ms max %.1f ms (%d probes);"
           " %d sign-ins (%.1f/s, p50 %.0f ms); %d answers not 200\n",
           run, res->idle_p50, res->idle_p99, res->idle_max, n_idle, clients, res->busy_p50,
           res->busy_p99, res->busy_max, n_busy, n_login, res->logins_per_s, res->login_p50, n_fail);
    fflush(stdout);
    rc = 0;
done:
    curl_slist_free_all(auth);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_login: could not remove %s\n", dir);
    return rc;
}

int main(int argc, char **argv)
{
    int clients = 4, runs = 3;
    double seconds = 10;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--clients") == 0)
            clients = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--seconds") == 0)
            seconds = atof(argv[i + 1]);
        else if (strcmp(argv[i], "--runs") == 0)
            runs = atoi(argv[i + 1]);
    }
    if (clients < 1 || clients > 64 || seconds <= 0 || seconds > 600 || runs < 1 || runs > 9) {
        fprintf(stderr, "bench_login: --clients 1..64, --seconds 1..600, --runs 1..9\n");
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
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    printf("bench_login: %s, %d sign-ins kept in flight for %g s per run, /api/health every 20 ms\n",
           ictal, clients, seconds);
    double v[8][9];
    int n = 0;
    for (int r = 0; r < runs; r++) {
        result res;
        if (run_one(ictal, clients, seconds, r + 1, &res) != 0)
            continue;
        double x[8] = {res.idle_p50, res.idle_p99, res.idle_max, res.busy_p50, res.busy_p99,
                       res.busy_max, res.logins_per_s, res.login_p50};
        for (int k = 0; k < 8; k++)
            v[k][n] = x[k];
        n++;
    }
    if (n > 0) {
        double med[8];
        for (int k = 0; k < 8; k++)
            med[k] = median(v[k], n);
        printf("median of %d: /api/health idle p50 %.2f ms p99 %.2f ms max %.1f ms; with %d sign-ins"
               " in flight p50 %.2f ms p99 %.1f ms max %.1f ms (p50 ratio %.1fx idle);"
               " %.1f sign-ins/s, p50 %.0f ms\n",
               n, med[0], med[1], med[2], clients, med[3], med[4], med[5], med[3] / med[0], med[6],
               med[7]);
    }
    curl_global_cleanup();
    return n == runs ? 0 : 1;
}
