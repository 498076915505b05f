/*
 * `ictal worker` at scale, against a real nats-server with 8 partitions: two workers
 * each owning half of them (their own data directories), 20 simulated devices
 * streaming the real chb05_06 excerpt over JetStream. Checks: every device is handled
 * by exactly one worker, the one owning its partition (FNV-1a of the device id mod 8,
 * as nats-server's partition() computes it), and every frame is stored exactly once;
 * a worker killed with SIGKILL mid-stream and started again on the same data and
 * partitions loses nothing and stores nothing twice (its unacknowledged messages are
 * redelivered to it); malformed partition lists are refused with a usage error.
 * Skips (77) when nats-server or the shared data are absent.
 */
#define _GNU_SOURCE /* strcasestr in the webhook receiver (server_test_util.h) */
#include "nats_test_util.h"

#define N_DEVICES 20
#define N_PARTITIONS 8

static void worker_args(const char **args, const tn_server *t, const char *partitions)
{
    const char *a[] = {"--model", "none", "--nats", t->url, "--partitions", partitions,
                       "--partition-count", "8", "--nats-ack-wait-s", "2", NULL};
    memcpy(args, a, sizeof a);
}

/* Each device is in exactly one worker's data, the one owning its partition, and its
 * frame log is exactly the source. Returns the devices that pass. */
static int check_devices(const test_server *w, const char *prefix, const ictal__sim_source *src)
{
    int ok = 0;
    for (int i = 0; i < N_DEVICES; i++) {
        char dev[64];
        snprintf(dev, sizeof dev, "%s-%d", prefix, i);
        int64_t sa = ts_session_of(&w[0], dev), sb = ts_session_of(&w[1], dev);
        int owner = tn_partition_of(dev, N_PARTITIONS) < N_PARTITIONS / 2 ? 0 : 1;
        int64_t sid = owner == 0 ? sa : sb, other = owner == 0 ? sb : sa;
        int64_t n = sid > 0 ? ts_log_matches(&w[owner], sid, src) : -2;
        if (sid > 0 && other < 0 && n == (int64_t)src->n_frames)
            ok++;
        else
            fprintf(stderr, "%s: worker A session %lld, B %lld (owner %c), log %lld\n", dev,
                    (long long)sa, (long long)sb, owner ? 'B' : 'A', (long long)n);
    }
    return ok;
}

/* `ictal worker` with this partition list: its exit status (2: usage). */
static int worker_status(const tn_server *t, const char *partitions, const char *count)
{
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0)
            dup2(null, 2);
        execl(getenv("ICTAL"), "ictal", "worker", "--nats", t->url, "--partitions", partitions,
              "--partition-count", count, "--data", "/nonexistent/never-created", (char *)NULL);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int main(void)
{
    if (getenv("ICTAL") == NULL)
        TEST_SKIP("ICTAL (path of the ictal binary) is not set");
    curl_global_init(CURL_GLOBAL_DEFAULT);
    ictal__sim_source src;
    char dir[64];
    tn_server t;
    if (tn_begin("natsw", N_PARTITIONS, &src, dir, &t) != 0)
        return 1;

    /* Malformed partition lists: a usage error before anything starts. */
    CHECK_EQ_INT(worker_status(&t, "3-1", "8"), 2);
    CHECK_EQ_INT(worker_status(&t, "0-3,3", "8"), 2);
    CHECK_EQ_INT(worker_status(&t, "8", "8"), 2);
    CHECK_EQ_INT(worker_status(&t, "0,,1", "8"), 2);
    CHECK_EQ_INT(worker_status(&t, "x", "8"), 2);
    CHECK_EQ_INT(worker_status(&t, "", "8"), 2);
    CHECK_EQ_INT(worker_status(&t, "0-3", "0"), 2);
    struct stat sb;
    CHECK(stat("/nonexistent/never-created", &sb) != 0);

    /* Two workers, half of the partitions each. */
    char data_a[128], data_b[128];
    snprintf(data_a, sizeof data_a, "%s/a", dir);
    snprintf(data_b, sizeof data_b, "%s/b", dir);
    const char *args_a[16], *args_b[16];
    worker_args(args_a, &t, "0-3");
    worker_args(args_b, &t, "4,5,6-7");
    test_server w[2];
    CHECK_EQ_INT(ts_start_cmd(&w[0], "worker", data_a, args_a), 0);
    CHECK_EQ_INT(ts_start_cmd(&w[1], "worker", data_b, args_b), 0);
    CHECK(ts_metric(&w[0], "ictal_nats_partitions") == 4);
    CHECK(ts_metric(&w[1], "ictal_nats_partitions") == 4);
    /* A worker takes no device over WebSocket. */
    ictal__fleet_options o;
    ictal__fleet_result r;
    ts_fleet_options(&o, &w[0], "ws", "w1", 2);
    CHECK(ictal__fleet_run(&src, &o, &r) != 0);
    CHECK_EQ_INT(r.welcomes, 0);

    /* 1. 20 devices as fast as acks allow: each on its partition's worker, once. */
    ts_fleet_options(&o, &w[0], "pa", "s1", 120);
    o.nats_url = t.url;
    o.n_devices = N_DEVICES;
    CHECK_EQ_INT(ictal__fleet_run(&src, &o, &r), 0);
    CHECK_EQ_INT(r.devices_done, N_DEVICES);
    CHECK_EQ_INT(check_devices(w, "pa", &src), N_DEVICES);
    long frames_a = ts_metric(&w[0], "ictal_frames_total");
    long frames_b = ts_metric(&w[1], "ictal_frames_total");
    CHECK_EQ_INT(frames_a + frames_b, N_DEVICES * (long)src.n_frames);
    CHECK(frames_a > 0 && frames_b > 0);
    fprintf(stderr, "20 devices: %.0f frames/s (%zu frames each, %.2f s)\n",
            N_DEVICES * (double)src.n_frames / r.elapsed_s, src.n_frames, r.elapsed_s);

    /* 2. Worker A dies (SIGKILL) mid-stream and starts again 1 s later: its messages
     * not acknowledged come back to it; nothing lost, nothing stored twice. */
    tn_crash_job job = {&w[0], data_a, args_a, 2500, 1000, 0};
    pthread_t th;
    pthread_create(&th, NULL, tn_crash_main, &job);
    ts_fleet_options(&o, &w[1], "pk", "s2", 120);
    o.nats_url = t.url;
    o.n_devices = N_DEVICES;
    o.speed = 20; /* the 181 s recording in about 9 s */
    CHECK_EQ_INT(ictal__fleet_run(&src, &o, &r), 0);
    pthread_join(th, NULL);
    CHECK(job.restarted);
    CHECK_EQ_INT(r.devices_done, N_DEVICES);
    CHECK_EQ_INT(check_devices(w, "pk", &src), N_DEVICES);
    CHECK(ts_metric(&w[0], "ictal_nats_redelivered_total") + ts_metric(&w[0], "ictal_nats_naks_total") > 0);
    /* The first run's devices are untouched by the crash. */
    CHECK_EQ_INT(check_devices(w, "pa", &src), N_DEVICES);

    for (int i = 0; i < 2; i++) {
        int status = ts_stop(&w[i], SIGTERM);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    tn_kill(&t);
    test_remove_dir(dir);
    ictal__sim_source_free(&src);
    curl_global_cleanup();
    return test_summary();
}
