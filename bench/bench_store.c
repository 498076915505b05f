/*
 * bench_store: what one store call costs the event loop, on SQLite and on PostgreSQL.
 * Every store call is one or a few statements, and with libpq every statement is a
 * round trip to the database server (a named prepared statement: one Bind/Execute),
 * where SQLite runs it in the process. Timed per call, median of --runs runs of --calls
 * calls each:
 *   auth:     ictal__store_device_auth (one SELECT, as at a device's hello)
 *   progress: ictal__store_session_progress (one UPDATE, committed alone)
 *   batch:    ictal__store_sessions_progress of 64 sessions in one transaction (a tick's)
 *   alarm:    ictal__store_alarm_raise without webhook + ictal__store_alarm_json (what
 *             runs between the detector's decision and the alarm's push)
 * SQLite: a file in a temporary directory (WAL, synchronous=NORMAL, as the server).
 * PostgreSQL: ICTAL_BENCH_DB=postgresql://... (an empty database; the server's
 * synchronous_commit applies to the commits).
 * usage: bench_store [--calls N] [--runs R]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"
#include "server/store.h"

int main(int argc, char **argv)
{
    int calls = 2000, runs = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--calls") == 0)
            calls = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--runs") == 0)
            runs = atoi(argv[i + 1]);
    }
    if (calls < 10 || calls > 1000000 || runs < 1 || runs > 99) {
        fprintf(stderr, "bench_store: --calls 10..1000000 --runs 1..99\n");
        return 2;
    }
    const char *url = getenv("ICTAL_BENCH_DB");
    char dir[] = "/tmp/ictal-bench-store-XXXXXX", path[64];
    if (mkdtemp(dir) == NULL)
        return 1;
    snprintf(path, sizeof path, "%s/ictal.db", dir);
    const char *target = url && url[0] ? url : path;
    ictal__store s;
    ictal_diag d;
    ictal_diag_init(&d);
    if (ictal__store_open(&s, target, NULL, &d) != 0) {
        fprintf(stderr, "bench_store: %s\n", d.message);
        return 1;
    }
    char dev[32];
    snprintf(dev, sizeof dev, "bench-%ld", (long)getpid());
    json_t *labels = json_pack("[s, s]", "F7-T7", "T7-P7");
    int64_t sid = 0;
    int created = 0;
    ictal__progress batch[ICTAL_PROGRESS_BATCH];
    int ok = ictal__store_device_add(&s, dev, "bench token") == 0;
    for (int i = 0; ok && i < ICTAL_PROGRESS_BATCH; i++) {
        char stream[32];
        snprintf(stream, sizeof stream, "s%d", i);
        ok = ictal__store_session_get(&s, dev, stream, labels, 256, 0, &batch[i].session_id,
                                      &created) == 0;
    }
    sid = batch[0].session_id;
    if (!ok) {
        fprintf(stderr, "bench_store: setting up failed\n");
        return 1;
    }
    double *t[4];
    for (int k = 0; k < 4; k++)
        t[k] = calloc((size_t)runs, sizeof(double));
    uint32_t event_id = 0;
    for (int r = 0; r < runs; r++) {
        double t0 = now_s();
        for (int i = 0; i < calls; i++)
            ok &= ictal__store_device_auth(&s, dev, "bench token") == 0;
        double t1 = now_s();
        for (int i = 0; i < calls; i++)
            ok &= ictal__store_session_progress(&s, sid, i, (uint64_t)i + 1, 64 * ((uint64_t)i + 1)) == 0;
        double t2 = now_s();
        int nb = calls / 20 > 0 ? calls / 20 : 1;
        for (int i = 0; i < nb; i++) {
            for (int k = 0; k < ICTAL_PROGRESS_BATCH; k++)
                batch[k] = (ictal__progress){batch[k].session_id, i, (uint64_t)i + 1, (uint64_t)i * 64};
            ok &= ictal__store_begin(&s) == 0;
            ok &= ictal__store_sessions_progress(&s, batch, ICTAL_PROGRESS_BATCH) == 0;
            ok &= ictal__store_commit(&s) == 0;
        }
        double t3 = now_s();
        int na = calls / 10 > 0 ? calls / 10 : 1;
        for (int i = 0; i < na; i++) {
            ictal__alarm_in a = {sid, dev, ++event_id, 10, 12, 0.9, labels};
            int64_t aid = 0;
            ok &= ictal__store_alarm_raise(&s, &a, NULL, &aid, &created) == 0 && created;
            json_t *row = ictal__store_alarm_json(&s, aid);
            ok &= row != NULL;
            json_decref(row);
        }
        double t4 = now_s();
        t[0][r] = (t1 - t0) / calls * 1e6;
        t[1][r] = (t2 - t1) / calls * 1e6;
        t[2][r] = (t3 - t2) / nb * 1e6;
        t[3][r] = (t4 - t3) / na * 1e6;
    }
    printf("bench_store: %s, %d calls, median of %d runs (us per call)\n",
           url && url[0] ? "PostgreSQL" : "SQLite", calls, runs);
    printf("  auth %8.1f   progress %8.1f   batch of %d %8.1f   alarm %8.1f   %s\n",
           median(t[0], runs), median(t[1], runs), ICTAL_PROGRESS_BATCH, median(t[2], runs),
           median(t[3], runs), ok ? "ok" : "SOME CALLS FAILED");
    for (int k = 0; k < 4; k++)
        free(t[k]);
    json_decref(labels);
    ictal__store_close(&s);
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_store: could not remove %s\n", dir);
    return ok ? 0 : 1;
}
