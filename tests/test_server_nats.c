/*
 * Devices over NATS JetStream, against a real nats-server (started here with
 * JetStream on a free 127.0.0.1 port, a temporary store and the mapping of
 * docs/nats-server.conf): `ictal serve --nats` owning every partition, simulated devices
 * (the fleet of `ictal replay --nats`) streaming the real chb05_06 excerpt. Checks: the
 * stored session is exactly the source, frame for frame, and raises the alarms the same
 * recording raises over WebSocket; devices that go silent and say hello again resume
 * with nothing lost or stored twice; a nats-server killed and restarted mid-stream is
 * survived with nothing lost or stored twice; malformed, oversized and misaddressed
 * messages and a wrong token are refused with the protocol's errors, and the server
 * goes on. Skips (77) when nats-server or the shared data are absent.
 */
#define _GNU_SOURCE /* strcasestr in the webhook receiver (server_test_util.h) */
#include "nats_test_util.h"

static void nats_fleet(ictal__fleet_options *o, const test_server *s, const tn_server *t,
                       const char *prefix, const char *stream, double timeout_s)
{
    ts_fleet_options(o, s, prefix, stream, timeout_s);
    o->nats_url = t->url;
}

int main(void)
{
    if (getenv("ICTAL") == NULL)
        TEST_SKIP("ICTAL (path of the ictal binary) is not set");
    curl_global_init(CURL_GLOBAL_DEFAULT);
    ictal__sim_source src;
    char dir[64];
    tn_server t;
    if (tn_begin("nats", 4, &src, dir, &t) != 0)
        return 1;

    char data[128];
    snprintf(data, sizeof data, "%s/data", dir);
    test_server s;
    const char *args[] = {"--model", ts_model_path(), "--nats", t.url, "--partitions", "all",
                          "--partition-count", "4", "--nats-ack-wait-s", "2", NULL};
    CHECK_EQ_INT(ts_start(&s, data, args), 0);
    CHECK(ts_metric(&s, "ictal_nats_connected") == 1);
    CHECK(ts_metric(&s, "ictal_nats_partitions") == 4);

    /* 1. The recording over NATS: stored exactly, alarms as over WebSocket. */
    ictal__fleet_options o;
    ictal__fleet_result r;
    ts_fleet_options(&o, &s, "ws", "w1", 60);
    CHECK_EQ_INT(ictal__fleet_run(&src, &o, &r), 0);
    nats_fleet(&o, &s, &t, "nt", "n1", 60);
    CHECK_EQ_INT(ictal__fleet_run(&src, &o, &r), 0);
    CHECK_EQ_INT(r.devices_done, 1);
    CHECK_EQ_INT((long)r.frames_resent, 0);
    int64_t sid = ts_session_of(&s, "nt-0");
    CHECK(sid > 0);
    CHECK_EQ_INT(ts_log_matches(&s, sid, &src), (int64_t)src.n_frames);
    json_t *want = ts_alarm_onsets(&s, "ws-0"), *got = ts_alarm_onsets(&s, "nt-0");
    CHECK(json_array_size(got) >= 1);
    CHECK(json_equal(want, got));
    json_decref(want);
    json_decref(got);
    CHECK(ts_metric(&s, "ictal_nats_acks_total") >= (long)src.n_frames + 1);

    /* 2. Devices that go silent and say hello again: resumed, nothing lost or doubled. */
    nats_fleet(&o, &s, &t, "drop", "d1", 90);
    o.speed = 40;
    o.drop_every_s = 0.7;
    o.reconnect_delay_s = 0.1;
    CHECK_EQ_INT(ictal__fleet_run(&src, &o, &r), 0);
    CHECK(r.reconnects >= 3);
    CHECK(r.welcomes >= 4);
    sid = ts_session_of(&s, "drop-0");
    CHECK_EQ_INT(ts_log_matches(&s, sid, &src), (int64_t)src.n_frames);

    /* 3. nats-server dies (kill -9) mid-stream and comes back on the same store: the
     * stream and consumers survive, server and device reconnect, nothing lost. */
    tn_restart_job job = {&t, 2000, 1000, 0};
    pthread_t th;
    pthread_create(&th, NULL, tn_restart_main, &job);
    nats_fleet(&o, &s, &t, "brk", "b1", 120);
    o.speed = 25;
    CHECK_EQ_INT(ictal__fleet_run(&src, &o, &r), 0);
    pthread_join(th, NULL);
    CHECK(job.restarted);
    CHECK_EQ_INT(r.devices_done, 1);
    sid = ts_session_of(&s, "brk-0");
    CHECK_EQ_INT(ts_log_matches(&s, sid, &src), (int64_t)src.n_frames);
    CHECK(ts_metric(&s, "ictal_nats_disconnects_total") >= 1);
    CHECK(ts_metric(&s, "ictal_nats_reconnects_total") >= 1);
    CHECK(ts_metric(&s, "ictal_nats_connected") == 1);

    /* 4. Malformed messages: the protocol's errors on ctl, the server goes on. */
    tn_raw nh;
    CHECK_EQ_INT(tn_raw_open(&nh, t.url, "raw-nohello"), 0);
    json_t *j = tn_raw_req(&nh, NULL, "frames", "garbage", 7, NULL, 5000);
    CHECK_STR(ts_jstr(j, "code"), "no_hello");
    json_decref(j);
    tn_raw_close(&nh);
    tn_raw rw;
    CHECK_EQ_INT(tn_raw_open(&rw, t.url, "raw-0"), 0);
    j = tn_raw_req(&rw, NULL, "hello", "{not json", 9, NULL, 5000);
    CHECK_STR(ts_jstr(j, "code"), "bad_hello");
    json_decref(j);
    char *hello = ts_hello_text(&src, "someone-else", "raw-token-0001");
    j = tn_raw_req(&rw, NULL, "hello", hello, strlen(hello), NULL, 5000);
    CHECK_STR(ts_jstr(j, "code"), "bad_hello"); /* the device id is not the subject's */
    CHECK(strstr(ts_jstr(j, "message"), "device id") != NULL);
    json_decref(j);
    free(hello);
    hello = ts_hello_text(&src, "raw-0", "raw-token-0001");
    j = tn_raw_req(&rw, NULL, "hello", hello, strlen(hello), NULL, 5000);
    CHECK_STR(ts_jstr(j, "type"), "welcome");
    CHECK_STR(ts_jstr(j, "stream_id"), "raw-1");
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "ack")), -1);
    json_decref(j);
    static uint8_t frame[ICTAL_WIRE_MAX_FRAME_BYTES + 8000];
    memcpy(frame, src.frames[0], src.frame_bytes[0]);
    frame[0] = 'X';
    j = tn_raw_req(&rw, NULL, "frames", frame, src.frame_bytes[0], NULL, 5000);
    CHECK_STR(ts_jstr(j, "code"), "bad_frame");
    CHECK(strstr(ts_jstr(j, "message"), "magic") != NULL);
    json_decref(j);
    j = tn_raw_req(&rw, NULL, "hello", hello, strlen(hello), NULL, 5000);
    CHECK_STR(ts_jstr(j, "type"), "welcome");
    json_decref(j);
    /* Over the stream's limit (a frame and its headers): JetStream refuses the publish. */
    memset(frame, 0x55, sizeof frame);
    j = tn_raw_req(&rw, NULL, "frames", frame, sizeof frame, NULL, 1000);
    CHECK(j == NULL);
    CHECK(strstr(rw.last_error, "size") != NULL || strstr(rw.last_error, "maximum") != NULL);
    json_decref(j);
    /* Over the protocol's limit, within the stream's: the server's too_large. */
    j = tn_raw_req(&rw, NULL, "frames", frame, ICTAL_WIRE_MAX_FRAME_BYTES + 100, NULL, 5000);
    CHECK_STR(ts_jstr(j, "code"), "too_large");
    json_decref(j);
    j = tn_raw_req(&rw, NULL, "hello", hello, strlen(hello), NULL, 5000);
    CHECK_STR(ts_jstr(j, "type"), "welcome");
    json_decref(j);
    memcpy(frame, src.frames[0], src.frame_bytes[0]);
    j = tn_raw_req(&rw, NULL, "frames", frame, src.frame_bytes[0] - 3, NULL, 5000); /* truncated */
    CHECK_STR(ts_jstr(j, "code"), "bad_frame");
    json_decref(j);
    /* A frame of another stream of the device (a redelivery from before a reboot): not
     * stored in this session; the same frame of this stream is. */
    j = tn_raw_req(&rw, NULL, "hello", hello, strlen(hello), NULL, 5000);
    CHECK_STR(ts_jstr(j, "type"), "welcome");
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "ack")), -1);
    json_decref(j);
    j = tn_raw_req(&rw, NULL, "frames", src.frames[0], src.frame_bytes[0], "raw-0/old-boot/0", 1500);
    CHECK(j == NULL);
    json_decref(j);
    CHECK(ts_metric(&s, "ictal_nats_stale_total") >= 1);
    j = tn_raw_req(&rw, NULL, "frames", src.frames[0], src.frame_bytes[0], "raw-0/raw-1/0", 5000);
    CHECK_STR(ts_jstr(j, "type"), "ack");
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "seq")), 0);
    json_decref(j);
    long dropped0 = ts_metric(&s, "ictal_nats_dropped_total");
    j = tn_raw_req(&rw, "bad,id", "hello", hello, strlen(hello), NULL, 1500);
    CHECK(j == NULL); /* no valid device: no answer, counted */
    json_decref(j);
    for (int i = 0; i < 40 && ts_metric(&s, "ictal_nats_dropped_total") < dropped0 + 1; i++)
        ts_sleep_ms(50);
    CHECK(ts_metric(&s, "ictal_nats_dropped_total") >= dropped0 + 1);
    CHECK(ts_metric(&s, "ictal_nats_terms_total") >= 3);
    free(hello);
    /* 5. A wrong token: refused, exactly as over WebSocket. */
    hello = ts_hello_text(&src, "raw-0", "not-the-token-0001");
    j = tn_raw_req(&rw, NULL, "hello", hello, strlen(hello), NULL, 5000);
    CHECK_STR(ts_jstr(j, "code"), "unauthorized");
    json_decref(j);
    free(hello);
    tn_raw_close(&rw);
    nats_fleet(&o, &s, &t, "nt", "n2", 30);
    o.token = "a-wrong-token-here";
    CHECK_EQ_INT(ictal__fleet_run(&src, &o, &r), ICTAL_EFORMAT);
    CHECK(strncmp(r.last_error, "unauthorized", 12) == 0);
    CHECK(ts_metric(&s, "ictal_auth_failures_total") >= 2);
    CHECK(ts_metric(&s, "ictal_nats_messages_in_total") >= 3 * (double)src.n_frames);
    /* A device id NATS cannot carry as one subject token is refused by the fleet. */
    nats_fleet(&o, &s, &t, "dotted.id", "n3", 5);
    CHECK_EQ_INT(ictal__fleet_run(&src, &o, &r), ICTAL_EINVAL);
    CHECK(strstr(r.last_error, "'.'") != NULL);

    /* The server is alive and stops cleanly. */
    json_t *st = ts_get_json(&s, "/api/status");
    CHECK(st != NULL);
    json_decref(st);
    int status = ts_stop(&s, SIGTERM);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    tn_kill(&t);
    test_remove_dir(dir);
    ictal__sim_source_free(&src);
    curl_global_cleanup();
    return test_summary();
}
