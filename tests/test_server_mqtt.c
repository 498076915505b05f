/*
 * Devices over MQTT, against a real broker: a mosquitto started here on a free
 * 127.0.0.1 port, `ictal serve --mqtt` subscribed to it, simulated devices (the fleet
 * of `ictal replay --mqtt`) streaming the real chb05_06 excerpt through it. Checks:
 * the stored session is exactly the source and raises the alarms the same recording
 * raises over WebSocket; a device whose connection drops resumes with nothing lost or
 * stored twice; a broker restart mid-stream (kill, start again on the same port) is
 * survived by server and device with nothing lost; malformed and oversized payloads
 * get an error on ctl and leave the server running; a wrong token is refused.
 * Skips (77) when the mosquitto binary or the shared data are absent.
 */
#define _GNU_SOURCE /* strcasestr in the webhook receiver (server_test_util.h) */
#include <fcntl.h>
#include <mosquitto.h>

#include "server_test_util.h"

static const char *mosquitto_path(void)
{
    static const char *cands[] = {"/usr/sbin/mosquitto", "/usr/bin/mosquitto",
                                  "/usr/local/sbin/mosquitto", "/usr/local/bin/mosquitto"};
    for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++)
        if (access(cands[i], X_OK) == 0)
            return cands[i];
    return NULL;
}

typedef struct broker {
    pid_t pid;
    int port;
    char conf[300];
} broker;

static int broker_start(broker *b)
{
    b->pid = fork();
    if (b->pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) {
            dup2(null, 1);
            dup2(null, 2);
        }
        execl(mosquitto_path(), "mosquitto", "-c", b->conf, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) {
        if (ts_port_open(b->port))
            return 0;
        ts_sleep_ms(25);
    }
    return -1;
}

static void broker_kill(broker *b)
{
    if (b->pid > 0) {
        kill(b->pid, SIGKILL);
        waitpid(b->pid, NULL, 0);
        b->pid = 0;
    }
}

/* Kills the broker after delay_ms, starts it again gap_ms later (a thread, while the
 * fleet streams). */
typedef struct restart_job {
    broker *b;
    int delay_ms, gap_ms, restarted;
} restart_job;

static void *restart_main(void *arg)
{
    restart_job *j = arg;
    ts_sleep_ms(j->delay_ms);
    broker_kill(j->b);
    ts_sleep_ms(j->gap_ms);
    j->restarted = broker_start(j->b) == 0;
    return NULL;
}

/* --- a raw MQTT device, for payloads the fleet would never send ------------------------ */

typedef struct raw {
    struct mosquitto *m;
    char dev[96];
    char last[4096];
    int got;
} raw;

static void raw_on_message(struct mosquitto *m, void *user, const struct mosquitto_message *msg)
{
    (void)m;
    raw *r = user;
    snprintf(r->last, sizeof r->last, "%.*s", msg->payloadlen, (const char *)msg->payload);
    r->got++;
}

static int raw_open(raw *r, int port, const char *dev)
{
    memset(r, 0, sizeof *r);
    snprintf(r->dev, sizeof r->dev, "%s", dev);
    r->m = mosquitto_new(NULL, true, r);
    if (r->m == NULL)
        return -1;
    mosquitto_message_callback_set(r->m, raw_on_message);
    if (mosquitto_connect(r->m, "127.0.0.1", port, 10) != MOSQ_ERR_SUCCESS)
        return -1;
    char t[200];
    snprintf(t, sizeof t, "ictal/v1/dev/%s/ctl", dev);
    mosquitto_subscribe(r->m, NULL, t, 1);
    for (int i = 0; i < 10; i++)
        mosquitto_loop(r->m, 20, 1);
    return 0;
}

/* Publishes on the device's topic leaf; returns the next ctl message (within 5 s) as
 * JSON, or NULL when none came. */
static json_t *raw_req(raw *r, const char *topic_dev, const char *leaf, const void *p, size_t n)
{
    char t[200];
    snprintf(t, sizeof t, "ictal/v1/dev/%s/%s", topic_dev ? topic_dev : r->dev, leaf);
    int before = r->got;
    if (mosquitto_publish(r->m, NULL, t, (int)n, p, 1, false) != MOSQ_ERR_SUCCESS)
        return NULL;
    for (int i = 0; i < 100 && r->got == before; i++)
        mosquitto_loop(r->m, 50, 1);
    return r->got > before ? json_loads(r->last, 0, NULL) : NULL;
}

int main(void)
{
    if (getenv("ICTAL") == NULL)
        TEST_SKIP("ICTAL (path of the ictal binary) is not set");
    if (mosquitto_path() == NULL)
        TEST_SKIP("the mosquitto broker is not installed (Debian package mosquitto)");
    const char *edf = test_shared_path("data/chbmit-continuous/chb05_06_excerpt.edf");
    if (edf == NULL)
        TEST_SKIP("needs ../shared/data/chbmit-continuous/chb05_06_excerpt.edf");
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    mosquitto_lib_init();
    ictal__sim_source src;
    CHECK_EQ_INT(ictal__sim_source_from_file(&src, edf, NULL, 250, NULL), 0);

    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/ictal-mqtt-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return 1;
    broker b;
    memset(&b, 0, sizeof b);
    b.port = ts_free_port();
    snprintf(b.conf, sizeof b.conf, "%s/mosquitto.conf", dir);
    FILE *cf = fopen(b.conf, "w");
    fprintf(cf, "listener %d 127.0.0.1\nallow_anonymous true\n", b.port);
    fclose(cf);
    CHECK_EQ_INT(broker_start(&b), 0);

    char mqtt_arg[64], data[128];
    snprintf(mqtt_arg, sizeof mqtt_arg, "127.0.0.1:%d", b.port);
    snprintf(data, sizeof data, "%s/data", dir);
    test_server s;
    const char *args[] = {"--model", ts_model_path(), "--mqtt", mqtt_arg, "--mqtt-client-id",
                          "ictal-serve-test", NULL};
    CHECK_EQ_INT(ts_start(&s, data, args), 0);
    for (int i = 0; i < 100 && ts_metric(&s, "ictal_mqtt_connected") != 1; i++)
        ts_sleep_ms(50);
    CHECK(ts_metric(&s, "ictal_mqtt_connected") == 1);

    /* 1. The recording over MQTT: stored exactly, alarms as over WebSocket. */
    ictal__fleet_options o;
    ictal__fleet_result r;
    ts_fleet_options(&o, &s, "ws", "w1", 60);
    CHECK_EQ_INT(ictal__fleet_run(&src, &o, &r), 0);
    ts_fleet_options(&o, &s, "mq", "m1", 60);
    o.mqtt = 1;
    o.port = b.port;
    int rc = ictal__fleet_run(&src, &o, &r);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(r.devices_done, 1);
    int64_t sid = ts_session_of(&s, "mq-0");
    CHECK(sid > 0);
    CHECK_EQ_INT(ts_log_matches(&s, sid, &src), (int64_t)src.n_frames);
    json_t *want = ts_alarm_onsets(&s, "ws-0"), *got = ts_alarm_onsets(&s, "mq-0");
    CHECK(json_array_size(got) >= 1);
    CHECK(json_equal(want, got));
    json_decref(want);
    json_decref(got);

    /* 2. Dropped connections: resumed from the welcome's ack, nothing lost or doubled. */
    ts_fleet_options(&o, &s, "drop", "d1", 90);
    o.mqtt = 1;
    o.port = b.port;
    o.speed = 40;
    o.drop_every_s = 0.7;
    o.reconnect_delay_s = 0.1;
    CHECK_EQ_INT(ictal__fleet_run(&src, &o, &r), 0);
    CHECK(r.reconnects >= 3);
    CHECK(r.welcomes >= 4);
    sid = ts_session_of(&s, "drop-0");
    CHECK_EQ_INT(ts_log_matches(&s, sid, &src), (int64_t)src.n_frames);

    /* 3. The broker restarts mid-stream: server and device reconnect, nothing lost. */
    long connects0 = ts_metric(&s, "ictal_mqtt_connects_total");
    restart_job job = {&b, 2000, 1000, 0};
    pthread_t th;
    pthread_create(&th, NULL, restart_main, &job);
    ts_fleet_options(&o, &s, "brk", "b1", 120);
    o.mqtt = 1;
    o.port = b.port;
    o.speed = 25;
    CHECK_EQ_INT(ictal__fleet_run(&src, &o, &r), 0);
    pthread_join(th, NULL);
    CHECK(job.restarted);
    CHECK(r.reconnects >= 1);
    sid = ts_session_of(&s, "brk-0");
    CHECK_EQ_INT(ts_log_matches(&s, sid, &src), (int64_t)src.n_frames);
    CHECK(ts_metric(&s, "ictal_mqtt_disconnects_total") >= 1);
    CHECK(ts_metric(&s, "ictal_mqtt_connects_total") >= connects0 + 1);
    CHECK(ts_metric(&s, "ictal_mqtt_connected") == 1);

    /* 4. Malformed payloads: an error on ctl, the server goes on. */
    raw rw;
    CHECK_EQ_INT(raw_open(&rw, b.port, "raw-0"), 0);
    json_t *j = raw_req(&rw, NULL, "frames", "garbage", 7);
    CHECK_STR(ts_jstr(j, "code"), "no_hello");
    json_decref(j);
    j = raw_req(&rw, NULL, "hello", "{not json", 9);
    CHECK_STR(ts_jstr(j, "code"), "bad_hello");
    json_decref(j);
    char *hello = ts_hello_text(&src, "someone-else", "raw-token-0001");
    j = raw_req(&rw, NULL, "hello", hello, strlen(hello));
    CHECK_STR(ts_jstr(j, "code"), "bad_hello"); /* the device id is not the topic's */
    CHECK(strstr(ts_jstr(j, "message"), "topic") != NULL);
    json_decref(j);
    free(hello);
    hello = ts_hello_text(&src, "raw-0", "raw-token-0001");
    j = raw_req(&rw, NULL, "hello", hello, strlen(hello));
    CHECK_STR(ts_jstr(j, "type"), "welcome");
    CHECK_STR(ts_jstr(j, "stream_id"), "raw-1");
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "ack")), -1);
    json_decref(j);
    uint8_t frame[ICTAL_WIRE_MAX_FRAME_BYTES + 100];
    memcpy(frame, src.frames[0], src.frame_bytes[0]);
    frame[0] = 'X';
    j = raw_req(&rw, NULL, "frames", frame, src.frame_bytes[0]);
    CHECK_STR(ts_jstr(j, "code"), "bad_frame");
    CHECK(strstr(ts_jstr(j, "message"), "magic") != NULL);
    json_decref(j);
    j = raw_req(&rw, NULL, "hello", hello, strlen(hello));
    CHECK_STR(ts_jstr(j, "type"), "welcome");
    json_decref(j);
    memset(frame, 0x55, sizeof frame);
    j = raw_req(&rw, NULL, "frames", frame, sizeof frame);
    CHECK_STR(ts_jstr(j, "code"), "too_large");
    json_decref(j);
    j = raw_req(&rw, NULL, "hello", hello, strlen(hello));
    CHECK_STR(ts_jstr(j, "type"), "welcome");
    json_decref(j);
    memcpy(frame, src.frames[0], src.frame_bytes[0]);
    j = raw_req(&rw, NULL, "frames", frame, src.frame_bytes[0] - 3); /* truncated */
    CHECK_STR(ts_jstr(j, "code"), "bad_frame");
    json_decref(j);
    long dropped0 = ts_metric(&s, "ictal_mqtt_dropped_total");
    j = raw_req(&rw, "bad id with spaces", "hello", hello, strlen(hello));
    CHECK(j == NULL); /* no valid device: no answer, counted */
    json_decref(j);
    CHECK(ts_metric(&s, "ictal_mqtt_dropped_total") >= dropped0 + 1);
    free(hello);
    /* 5. A wrong token: refused, exactly as over WebSocket. */
    hello = ts_hello_text(&src, "raw-0", "not-the-token-0001");
    j = raw_req(&rw, NULL, "hello", hello, strlen(hello));
    CHECK_STR(ts_jstr(j, "code"), "unauthorized");
    json_decref(j);
    free(hello);
    mosquitto_disconnect(rw.m);
    mosquitto_destroy(rw.m);
    ts_fleet_options(&o, &s, "mq", "m2", 30);
    o.mqtt = 1;
    o.port = b.port;
    o.token = "a-wrong-token-here";
    CHECK_EQ_INT(ictal__fleet_run(&src, &o, &r), ICTAL_EFORMAT);
    CHECK(strncmp(r.last_error, "unauthorized", 12) == 0);
    CHECK(ts_metric(&s, "ictal_auth_failures_total") >= 2);
    CHECK(ts_metric(&s, "ictal_mqtt_messages_in_total") >= 3 * (double)src.n_frames);
    CHECK(ts_metric(&s, "ictal_mqtt_messages_out_total") > 10);

    /* The server is alive and stops cleanly. */
    json_t *st = ts_get_json(&s, "/api/status");
    CHECK(st != NULL);
    json_decref(st);
    int status = ts_stop(&s, SIGTERM);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    broker_kill(&b);
    ictal__sim_source_free(&src);
    mosquitto_lib_cleanup();
    curl_global_cleanup();
    return test_summary();
}
