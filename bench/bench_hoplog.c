/*
 * bench_hoplog: what keeping every hop of 1,000 streams durably costs the event loop.
 * Hops come at 2 per second per stream (0.5 s hop), so 2,000 per second for 1,000
 * streams. Compared, per second of hops, on the loop thread (syncing is the syncer
 * thread's job in both cases and is not counted):
 *   hoplog: one 12-byte write() per hop to the stream's own file (src/server/hoplog.h);
 *   sqlite: one batched transaction per second inserting the 2,000 rows into a WAL
 *           database with synchronous=OFF (the syncer would checkpoint and sync).
 * Reports the median of --runs runs (default 5) of 20 simulated seconds each, and the
 * ratio. usage: bench_hoplog [--streams N] [--runs R]
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "server/hoplog.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

#define SECONDS 20

/* Seconds of loop time per simulated second. */
static double run_hoplog(const char *dir, int n)
{
    int *fd = malloc((size_t)n * sizeof *fd);
    char path[512];
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%d.hops", dir, i);
        fd[i] = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0640);
        if (fd[i] < 0) {
            perror(path);
            exit(1);
        }
    }
    unsigned char b[ICTAL__HOPLOG_ENTRY];
    double t0 = now_s();
    for (int s = 0; s < SECONDS * 2; s++)
        for (int i = 0; i < n; i++) {
            ictal__hoplog_encode(b, (float)s * 0.5f, 0.25f, 0.01f);
            if (write(fd[i], b, sizeof b) != (ssize_t)sizeof b)
                exit(1);
        }
    double dt = now_s() - t0;
    for (int i = 0; i < n; i++)
        close(fd[i]);
    free(fd);
    return dt / SECONDS;
}

static double run_sqlite(const char *dir, int n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/hops.db", dir);
    unlink(path);
    sqlite3 *db;
    if (sqlite3_open(path, &db) != SQLITE_OK ||
        sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;"
                         "PRAGMA wal_autocheckpoint=0;"
                         "CREATE TABLE hops(session INTEGER, t REAL, p REAL, b REAL);"
                         "CREATE INDEX hops_st ON hops(session, t);",
                     NULL, NULL, NULL) != SQLITE_OK) {
        fprintf(stderr, "sqlite: %s\n", sqlite3_errmsg(db));
        exit(1);
    }
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "INSERT INTO hops VALUES(?1, ?2, ?3, ?4)", -1, &st, NULL);
    double t0 = now_s();
    for (int s = 0; s < SECONDS; s++) {
        sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
        for (int h = 0; h < 2; h++)
            for (int i = 0; i < n; i++) {
                sqlite3_bind_int(st, 1, i);
                sqlite3_bind_double(st, 2, s + h * 0.5);
                sqlite3_bind_double(st, 3, 0.25);
                sqlite3_bind_double(st, 4, 0.01);
                sqlite3_step(st);
                sqlite3_reset(st);
            }
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    }
    double dt = now_s() - t0;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return dt / SECONDS;
}

int main(int argc, char **argv)
{
    int n = 1000, runs = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--streams") == 0)
            n = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--runs") == 0)
            runs = atoi(argv[i + 1]);
    }
    if (n < 1 || runs < 1 || runs > 99)
        return 2;
    char dir[] = "/tmp/bench-hoplog-XXXXXX";
    if (mkdtemp(dir) == NULL)
        return 1;
    double a[99], b[99];
    for (int r = 0; r < runs; r++) {
        a[r] = run_hoplog(dir, n);
        b[r] = run_sqlite(dir, n);
    }
    qsort(a, (size_t)runs, sizeof *a, cmp_double);
    qsort(b, (size_t)runs, sizeof *b, cmp_double);
    double ma = a[runs / 2], mb = b[runs / 2];
    printf("%d streams, 2 hops/s each, median of %d runs, loop time per second of hops:\n", n, runs);
    printf("  hoplog (12-byte write per hop):      %7.2f ms\n", ma * 1e3);
    printf("  sqlite (one transaction per second): %7.2f ms\n", mb * 1e3);
    printf("  ratio sqlite / hoplog: %.1fx\n", mb / ma);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) != 0;
}
