/*
 * The at-scale deployment (DESIGN.md section 2) end to end: one real nats-server
 * (JetStream, the partition mapping of docs/nats-server.conf, 8 partitions), one real
 * PostgreSQL cluster, two `ictal worker` processes owning half of the partitions each,
 * both on the same PostgreSQL database (--db) with data directories of their own, and
 * 12 simulated devices (the fleet of `ictal replay --nats`) streaming the chb05_06
 * excerpt with the test model, which raises one alarm per stream. Checks: every
 * device's frame log is on exactly one worker, its partition's owner, and is exactly the
 * source (every frame once); the session's frames and last_seq, as both workers' APIs
 * give them, are what was sent; both workers list every device, session and alarm (one
 * database); an alarm raised on one worker is acknowledged through the other's API and
 * shows acknowledged on both; a worker killed with SIGKILL mid-stream and started again
 * loses nothing and stores nothing twice (frames, sessions, alarms).
 * Skips (77) when nats-server or the PostgreSQL programs are absent.
 */
#define _GNU_SOURCE /* strcasestr in the webhook receiver (server_test_util.h) */
#include "nats_test_util.h"
#include "pg_test_util.h"

#define N_DEVICES 12
#define N_PARTITIONS 8

static ictal__sim_source src;

/* The worker (0: A, partitions 0-3; 1: B, 4-7) owning a device's partition. */
static int owner_of(const char *dev)
{
    return tn_partition_of(dev, N_PARTITIONS) < N_PARTITIONS / 2 ? 0 : 1;
}

static json_t *session_row(const test_server *s, const char *dev)
{
    char path[160];
    snprintf(path, sizeof path, "/api/sessions?device=%s", dev);
    json_t *j = ts_get_json(s, path);
    json_t *row = json_incref(json_array_get(j, 0));
    json_decref(j);
    return row;
}

static int64_t jint(json_t *j, const char *k)
{
    json_t *v = json_object_get(j, k);
    return json_is_integer(v) ? json_integer_value(v) : INT64_MIN;
}

/* 1 when both workers' APIs give the device one session, the same, with all the
 * source's frames (the progress reaches the database shortly after the acks: waits). */
static int api_session_complete(const test_server *w, const char *dev, int64_t *sid)
{
    int64_t n = (int64_t)src.n_frames;
    for (int tries = 0; tries < 100; tries++) {
        int ok = 1;
        *sid = -1;
        for (int k = 0; k < 2; k++) {
            char path[160];
            snprintf(path, sizeof path, "/api/sessions?device=%s", dev);
            json_t *j = ts_get_json(&w[k], path);
            json_t *row = json_array_get(j, 0);
            if (json_array_size(j) != 1 || jint(row, "frames") != n || jint(row, "last_seq") != n - 1 ||
                (*sid > 0 && jint(row, "id") != *sid))
                ok = 0;
            *sid = jint(row, "id");
            json_decref(j);
        }
        if (ok)
            return 1;
        ts_sleep_ms(100);
    }
    json_t *a = session_row(&w[0], dev), *b = session_row(&w[1], dev);
    char *ta = json_dumps(a, JSON_COMPACT), *tb = json_dumps(b, JSON_COMPACT);
    fprintf(stderr, "%s: session on A %s, on B %s (want %lld frames)\n", dev, ta ? ta : "-",
            tb ? tb : "-", (long long)n);
    free(ta);
    free(tb);
    json_decref(a);
    json_decref(b);
    return 0;
}

/* Each device: one session in the database, complete in both APIs; its frame log on
 * its partition's owner only, exactly the source; one alarm. Returns the devices that
 * pass. */
static int check_devices(const test_server *w, const char *prefix)
{
    int ok = 0;
    for (int i = 0; i < N_DEVICES; i++) {
        char dev[64], path[400], q[128];
        snprintf(dev, sizeof dev, "%s-%d", prefix, i);
        int owner = owner_of(dev);
        int64_t sid = -1;
        int api_ok = api_session_complete(w, dev, &sid);
        int64_t n = sid > 0 ? ts_log_matches(&w[owner], sid, &src) : -2;
        struct stat sb;
        snprintf(path, sizeof path, "%s/sessions/%lld.frames", w[!owner].dir, (long long)sid);
        int elsewhere = stat(path, &sb) == 0;
        snprintf(q, sizeof q, "/api/alarms?device=%s", dev);
        json_t *aa = ts_get_json(&w[0], q), *ab = ts_get_json(&w[1], q);
        int alarms_ok = json_array_size(aa) == 1 && json_equal(aa, ab);
        json_decref(aa);
        json_decref(ab);
        if (api_ok && n == (int64_t)src.n_frames && !elsewhere && alarms_ok)
            ok++;
        else
            fprintf(stderr, "%s: owner %c, session %lld, log %lld, log on the other worker %d, alarms ok %d\n",
                    dev, owner ? 'B' : 'A', (long long)sid, (long long)n, elsewhere, alarms_ok);
    }
    return ok;
}

/* Both workers list the same devices (all of them) and the same alarms. */
static void check_same_lists(const test_server *w, size_t n_devices, size_t n_alarms)
{
    json_t *da = ts_get_json(&w[0], "/api/devices"), *db = ts_get_json(&w[1], "/api/devices");
    CHECK_EQ_INT(json_array_size(da), n_devices);
    CHECK_EQ_INT(json_array_size(db), n_devices);
    json_decref(da);
    json_decref(db);
    json_t *aa = ts_get_json(&w[0], "/api/alarms?limit=1000"), *ab = ts_get_json(&w[1], "/api/alarms?limit=1000");
    CHECK_EQ_INT(json_array_size(aa), n_alarms);
    CHECK(json_equal(aa, ab));
    json_decref(aa);
    json_decref(ab);
}

static void run(const char *dir, const tn_server *t, const char *db_url)
{
    char data_a[128], data_b[128];
    snprintf(data_a, sizeof data_a, "%s/a", dir);
    snprintf(data_b, sizeof data_b, "%s/b", dir);
    const char *args_a[] = {"--db", db_url, "--model", ts_model_path(), "--nats", t->url,
                            "--partitions", "0-3", "--partition-count", "8",
                            "--nats-ack-wait-s", "2", NULL};
    const char *args_b[] = {"--db", db_url, "--model", ts_model_path(), "--nats", t->url,
                            "--partitions", "4-7", "--partition-count", "8",
                            "--nats-ack-wait-s", "2", NULL};
    test_server w[2];
    CHECK_EQ_INT(ts_start_cmd(&w[0], "worker", data_a, args_a), 0);
    CHECK_EQ_INT(ts_start_cmd(&w[1], "worker", data_b, args_b), 0);
    CHECK(ts_metric(&w[0], "ictal_nats_partitions") == 4);
    CHECK(ts_metric(&w[1], "ictal_nats_partitions") == 4);
    /* No SQLite file: the database is PostgreSQL. */
    struct stat sb;
    char lite[300];
    snprintf(lite, sizeof lite, "%s/ictal.db", data_a);
    CHECK(stat(lite, &sb) != 0);

    /* 1. The fleet as fast as acks allow: each device on its partition's worker, every
     * frame once; one database behind both APIs. */
    ictal__fleet_options o;
    ictal__fleet_result r;
    ts_fleet_options(&o, &w[0], "sc", "s1", 60);
    o.nats_url = t->url;
    o.n_devices = N_DEVICES;
    CHECK_EQ_INT(ictal__fleet_run(&src, &o, &r), 0);
    CHECK_EQ_INT(r.devices_done, N_DEVICES);
    CHECK_EQ_INT(check_devices(w, "sc"), N_DEVICES);
    long frames_a = ts_metric(&w[0], "ictal_frames_total"), frames_b = ts_metric(&w[1], "ictal_frames_total");
    CHECK_EQ_INT(frames_a + frames_b, N_DEVICES * (long)src.n_frames);
    CHECK(frames_a > 0 && frames_b > 0);
    check_same_lists(w, N_DEVICES, N_DEVICES);
    fprintf(stderr, "%d devices on 2 workers and PostgreSQL: %.0f frames/s (%zu frames each, %.2f s)\n",
            N_DEVICES, N_DEVICES * (double)src.n_frames / r.elapsed_s, src.n_frames, r.elapsed_s);

    /* 2. An alarm raised on A (its device's owner), acknowledged through B's API: shown
     * acknowledged on both; a second acknowledgement, through A, is a conflict. */
    int64_t aid = -1;
    for (int i = 0; i < N_DEVICES && aid < 0; i++) {
        char dev[64], q[128];
        snprintf(dev, sizeof dev, "sc-%d", i);
        if (owner_of(dev) != 0)
            continue;
        snprintf(q, sizeof q, "/api/alarms?device=%s", dev);
        json_t *al = ts_get_json(&w[0], q);
        aid = jint(json_array_get(al, 0), "id");
        json_decref(al);
    }
    CHECK(aid > 0);
    char req[96];
    snprintf(req, sizeof req, "/api/alarms/%lld/ack", (long long)aid);
    CHECK_EQ_INT(ts_http(&w[1], "POST", req, w[1].token, "{\"note\":\"seen on B\"}", NULL, NULL), 200);
    CHECK_EQ_INT(ts_http(&w[0], "POST", req, w[0].token, NULL, NULL, NULL), 409);
    snprintf(req, sizeof req, "/api/alarms/%lld", (long long)aid);
    for (int k = 0; k < 2; k++) {
        json_t *one = ts_get_json(&w[k], req);
        CHECK(json_is_number(json_object_get(one, "acked_at")));
        CHECK_STR(json_string_value(json_object_get(one, "acked_by")), "admin");
        CHECK_STR(json_string_value(json_object_get(one, "ack_note")), "seen on B");
        json_decref(one);
    }
    /* Its session's hop history and recording are on A, the worker that stored it; B
     * says so rather than serving them empty. */
    json_t *al = ts_get_json(&w[0], req);
    int64_t sid = jint(al, "session_id");
    json_decref(al);
    char hist[128];
    snprintf(hist, sizeof hist, "/api/sessions/%lld/history", (long long)sid);
    json_t *h = ts_get_json(&w[0], hist);
    CHECK(jint(h, "hops") > 0);
    json_decref(h);
    char *body = NULL;
    size_t len = 0;
    CHECK_EQ_INT(ts_http(&w[1], "GET", hist, w[1].token, NULL, &body, NULL), 404);
    CHECK(body && strstr(body, "another worker") != NULL);
    free(body);
    body = NULL;
    CHECK_EQ_INT(ts_get_recording(&w[0], w[0].token, sid, &body, &len), 200);
    CHECK(len > 256 && memcmp(body, "0       ", 8) == 0);
    free(body);
    body = NULL;
    CHECK_EQ_INT(ts_get_recording(&w[1], w[1].token, sid, &body, &len), 404);
    CHECK(body && strstr(body, "another worker") != NULL);
    free(body);

    /* 3. A dies (SIGKILL) mid-stream and starts again 1 s later on the same data,
     * partitions and database: nothing lost, nothing stored twice, no alarm twice. */
    tn_crash_job job = {&w[0], data_a, args_a, 2500, 1000, 0};
    pthread_t th;
    pthread_create(&th, NULL, tn_crash_main, &job);
    ts_fleet_options(&o, &w[1], "sk", "s2", 90);
    o.nats_url = t->url;
    o.n_devices = N_DEVICES;
    o.speed = 25; /* the 181 s recording in about 7 s */
    CHECK_EQ_INT(ictal__fleet_run(&src, &o, &r), 0);
    pthread_join(th, NULL);
    CHECK(job.restarted);
    CHECK_EQ_INT(r.devices_done, N_DEVICES);
    CHECK_EQ_INT(check_devices(w, "sk"), N_DEVICES);
    CHECK(ts_metric(&w[0], "ictal_nats_redelivered_total") + ts_metric(&w[0], "ictal_nats_naks_total") > 0);
    /* The first run's devices are untouched, and both workers still agree. */
    CHECK_EQ_INT(check_devices(w, "sc"), N_DEVICES);
    check_same_lists(w, 2 * N_DEVICES, 2 * N_DEVICES);
    json_t *sa = ts_get_json(&w[0], "/api/sessions?limit=1000");
    CHECK_EQ_INT(json_array_size(sa), 2 * N_DEVICES);
    json_decref(sa);

    for (int i = 0; i < 2; i++) {
        int status = ts_stop(&w[i], SIGTERM);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
}

int main(void)
{
    if (getenv("ICTAL") == NULL)
        TEST_SKIP("ICTAL (path of the ictal binary) is not set");
    if (tn_nats_server_path() == NULL)
        TEST_SKIP("nats-server is not installed (Debian package nats-server)");
    char bin[256];
    if (tpg_find_bin(bin, sizeof bin) != 0)
        TEST_SKIP("PostgreSQL is not installed (Debian package postgresql)");
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    ictal_diag d;
    ictal_diag_init(&d);
    if (ictal__sim_source_from_file(&src, ts_source_edf(), NULL, 250, &d) != 0) {
        fprintf(stderr, "%s\n", d.message);
        return 1;
    }
    test_pg pg;
    if (tpg_start(&pg) != 0) {
        tpg_stop(&pg);
        return 1;
    }
    char dir[64], db_url[512];
    snprintf(dir, sizeof dir, "/tmp/ictal-scale-XXXXXX");
    if (mkdtemp(dir) == NULL || tpg_createdb(&pg, "ictal", db_url, sizeof db_url) != 0) {
        tpg_stop(&pg);
        return 1;
    }
    tn_server t;
    CHECK_EQ_INT(tn_create(&t, dir, N_PARTITIONS), 0);
    if (t.pid > 0)
        run(dir, &t, db_url);
    tn_kill(&t);
    tpg_stop(&pg);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
    ictal__sim_source_free(&src);
    curl_global_cleanup();
    return test_summary();
}
