/*
 * `ictal worker` refusing NATS setups it cannot work with, each with a clear message
 * and no crash, against a real nats-server: JetStream not enabled; an existing stream
 * ICTAL with limits retention (acked messages would never leave it), one that discards
 * old messages when full (unstored frames would be lost), one that does not capture the
 * partition subjects; a --partition-count below the mapping's while consumers of the
 * partitions beyond it hold messages. Skips (77) when nats-server is absent.
 */
#define _GNU_SOURCE /* strcasestr in the webhook receiver (server_test_util.h) */
#include "nats_test_util.h"

/* Runs `ictal worker` on t (it must exit at once); returns its exit status, *err its
 * stderr (static). */
static int run_worker(const char *dir, const tn_server *t, const char **err)
{
    static char text[4096];
    char cmd[1024], path[300];
    snprintf(path, sizeof path, "%s/worker.err", dir);
    snprintf(cmd, sizeof cmd,
             "timeout 20 '%s' worker --listen 127.0.0.1:0 --data '%s/w' --quiet --model none "
             "--nats '%s' --partitions all --partition-count 4 >/dev/null 2>'%s'",
             getenv("ICTAL"), dir, t->url, path);
    int st = system(cmd);
    text[0] = 0;
    FILE *f = fopen(path, "r");
    if (f) {
        size_t n = fread(text, 1, sizeof text - 1, f);
        text[n] = 0;
        fclose(f);
    }
    printf("%s", text);
    *err = text;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* Replaces the stream ICTAL by one with subject subj, retention ret, discard disc. */
static int make_stream(const tn_server *t, const char *subj, jsRetentionPolicy ret,
                       jsDiscardPolicy disc)
{
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    int rc = -1;
    if (natsConnection_ConnectTo(&nc, t->url) == NATS_OK &&
        natsConnection_JetStream(&js, nc, NULL) == NATS_OK) {
        js_DeleteStream(js, "ICTAL", NULL, NULL);
        jsStreamConfig sc;
        jsStreamConfig_Init(&sc);
        sc.Name = "ICTAL";
        sc.Subjects = &subj;
        sc.SubjectsLen = 1;
        sc.Retention = ret;
        sc.Discard = disc;
        jsStreamInfo *si = NULL;
        rc = js_AddStream(&si, js, &sc, NULL, NULL) == NATS_OK ? 0 : -1;
        jsStreamInfo_Destroy(si);
    }
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    return rc;
}

int main(void)
{
    if (getenv("ICTAL") == NULL)
        TEST_SKIP("ICTAL (path of the ictal binary) is not set");
    if (tn_nats_server_path() == NULL)
        TEST_SKIP("nats-server is not installed (Debian package nats-server)");
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/ictal-natserr-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return 1;
    const char *err = NULL;

    /* 1. A nats-server without JetStream. */
    tn_server t;
    memset(&t, 0, sizeof t);
    t.port = ts_free_port();
    snprintf(t.url, sizeof t.url, "nats://127.0.0.1:%d", t.port);
    snprintf(t.conf, sizeof t.conf, "%s/plain.conf", dir);
    FILE *f = fopen(t.conf, "w");
    CHECK(f != NULL);
    if (f == NULL)
        return test_summary();
    fprintf(f, "listen: 127.0.0.1:%d\n", t.port);
    fclose(f);
    CHECK_EQ_INT(tn_start(&t), 0);
    int rc = run_worker(dir, &t, &err);
    CHECK(rc != 0 && rc < 124);
    CHECK(strstr(err, "JetStream is not enabled") != NULL);
    tn_kill(&t);

    /* 2. A stream ICTAL configured otherwise. */
    CHECK_EQ_INT(tn_create(&t, dir, 4), 0);
    CHECK_EQ_INT(make_stream(&t, "ictal.v1.p.>", js_LimitsPolicy, js_DiscardNew), 0);
    rc = run_worker(dir, &t, &err);
    CHECK(rc != 0 && rc < 124);
    CHECK(strstr(err, "limits retention") != NULL);

    CHECK_EQ_INT(make_stream(&t, "ictal.v1.p.>", js_WorkQueuePolicy, js_DiscardOld), 0);
    rc = run_worker(dir, &t, &err);
    CHECK(rc != 0 && rc < 124);
    CHECK(strstr(err, "discards old messages") != NULL);

    CHECK_EQ_INT(make_stream(&t, "other.>", js_WorkQueuePolicy, js_DiscardNew), 0);
    rc = run_worker(dir, &t, &err);
    CHECK(rc != 0 && rc < 124);
    CHECK(strstr(err, "does not capture the partition subjects") != NULL);

    /* 3. The stream as the worker makes it is accepted again once the bad one is gone. */
    CHECK_EQ_INT(make_stream(&t, "ictal.v1.p.>", js_WorkQueuePolicy, js_DiscardNew), 0);
    test_server w;
    char wdir[128];
    snprintf(wdir, sizeof wdir, "%s/w2", dir);
    const char *args[] = {"--model", "none", "--nats", t.url, "--partitions", "all",
                          "--partition-count", "4", NULL};
    CHECK_EQ_INT(ts_start_cmd(&w, "worker", wdir, args), 0);
    CHECK(ts_metric(&w, "ictal_nats_connected") == 1);
    ts_stop(&w, SIGTERM);

    tn_kill(&t);

    /* 4. The mapping has 8 partitions, consumers ictal-p0..7 exist (a worker of count 8
     * ran), a device of partition >= 4 has a message waiting: a worker told 4 would
     * never read it, and refuses, naming the consumer; told 8, it starts. */
    char dir8[128];
    snprintf(dir8, sizeof dir8, "%s/m8", dir);
    mkdir(dir8, 0700);
    CHECK_EQ_INT(tn_create(&t, dir8, 8), 0);
    const char *args8[] = {"--model", "none", "--nats", t.url, "--partitions", "all",
                           "--partition-count", "8", NULL};
    snprintf(wdir, sizeof wdir, "%s/w8", dir);
    CHECK_EQ_INT(ts_start_cmd(&w, "worker", wdir, args8), 0);
    ts_stop(&w, SIGTERM);
    char dev[32] = "";
    for (int i = 0; i < 100 && dev[0] == 0; i++) {
        char c[32];
        snprintf(c, sizeof c, "far-%d", i);
        if (tn_partition_of(c, 8) >= 4)
            snprintf(dev, sizeof dev, "%s", c);
    }
    tn_raw raw;
    CHECK_EQ_INT(tn_raw_open(&raw, t.url, dev), 0);
    json_t *j = tn_raw_req(&raw, NULL, "hello", "{}", 2, NULL, 10);
    CHECK(j == NULL && raw.last_error[0] == 0); /* stored by the stream, no worker */
    json_decref(j);
    tn_raw_close(&raw);
    rc = run_worker(dir, &t, &err);
    CHECK(rc != 0 && rc < 124);
    CHECK(strstr(err, "beyond --partition-count 4") != NULL);
    CHECK(strstr(err, "ictal-p") != NULL);
    CHECK_EQ_INT(ts_start_cmd(&w, "worker", wdir, args8), 0);
    CHECK(ts_metric(&w, "ictal_nats_partitions") == 8);
    ts_stop(&w, SIGTERM);
    tn_kill(&t);
    test_remove_dir(dir);
    return test_summary();
}
