/*
 * Helpers shared by the benchmarks: a monotonic clock, the median of a set of run times,
 * and an `ictal serve` to measure. Included by one benchmark each (static functions).
 */
#ifndef ICTAL_BENCH_UTIL_H
#define ICTAL_BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <limits.h>
#include <unistd.h>

/* Seconds on the monotonic clock. */
static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of v[0..n) (n >= 1); sorts v. */
static inline double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), bench_cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/*
 * Starts `ictal serve` on a free port of 127.0.0.1 with its data in dir and the given
 * model ("none": no detection) and waits up to 10 s for it to listen. Returns its pid
 * (or -1); *port is 0 when it did not start; token receives the admin API token.
 */
static inline pid_t bench_serve_start(const char *ictal, const char *dir, const char *model,
                                      int *port, char *token, size_t token_cap)
{
    char port_file[PATH_MAX], token_path[PATH_MAX];
    snprintf(port_file, sizeof port_file, "%s/port", dir);
    snprintf(token_path, sizeof token_path, "%s/admin.token", dir);
    *port = 0;
    token[0] = '\0';
    /* ICTAL_BENCH_DB=postgresql://...: the database on PostgreSQL (an empty one per run) */
    const char *db = getenv("ICTAL_BENCH_DB");
    pid_t pid = fork();
    if (pid == 0) {
        if (db && db[0])
            execl(ictal, ictal, "serve", "--listen", "127.0.0.1:0", "--data", dir, "--port-file",
                  port_file, "--model", model, "--quiet", "--db", db, (char *)NULL);
        else
            execl(ictal, ictal, "serve", "--listen", "127.0.0.1:0", "--data", dir, "--port-file",
                  port_file, "--model", model, "--quiet", (char *)NULL);
        _exit(127);
    }
    if (pid < 0)
        return -1;
    for (int i = 0; i < 400 && *port <= 0; i++) {
        FILE *f = fopen(port_file, "r");
        if (f) {
            if (fscanf(f, "%d", port) != 1)
                *port = 0;
            fclose(f);
        }
        usleep(25000);
    }
    FILE *tf = fopen(token_path, "r");
    if (tf) {
        if (fgets(token, (int)token_cap, tf))
            token[strcspn(token, "\n")] = 0;
        fclose(tf);
    }
    return pid;
}

#endif
