/*
 * The device protocol and the HTTP API against the real server on 127.0.0.1:
 * hello, frames and acks; resume after a dropped connection with no loss and no
 * duplicate; faults (drops, stalls, reordering); every rejection; alarms from the
 * detector, acknowledged over the API, delivered as signed webhooks with retries;
 * the recording as EDF+ (written live, exactly the frame log); the model passed as
 * bytes. Uses the bundled data/chb05_06_excerpt.edf (CHB-MIT).
 */
#define _GNU_SOURCE /* strcasestr in the webhook receiver */
#include "server_test_model.h"
#include "server_test_util.h"

#include "ictal/edf.h"
#include "ictal/server.h"

static ictal__sim_source src4, src23;
static test_server srv;
static char dir[64];
static int64_t sid_full, sid_gappy, sid_faulty;

/* Downloads a session's recording into dir/name; returns its path, or NULL. */
static const char *download(int64_t sid, const char *name)
{
    char *body = NULL;
    size_t len = 0;
    long st = ts_get_recording(&srv, srv.token, sid, &body, &len);
    CHECK_EQ_INT(st, 200);
    const char *out = st == 200 ? ts_save(dir, name, body, len) : NULL;
    free(body);
    return out;
}

static int run(const char *prefix, const char *stream, ictal__fleet_options *o, ictal__fleet_result *r)
{
    o->host = "127.0.0.1";
    o->port = srv.port;
    o->device_prefix = prefix;
    o->stream_id = stream;
    o->quiet = 1;
    if (o->timeout_s == 0)
        o->timeout_s = 60;
    /* One device clock across runs (a device resuming keeps its clock): 2024-11-24. */
    if (o->start_time_us == 0)
        o->start_time_us = 1732406400000000;
    return ictal__fleet_run(&src4, o, r);
}

/* Frames the server ignored as already stored, on device's stream (/api/status); -1 if
 * the stream is not there. */
static int64_t stream_duplicates(const char *device)
{
    json_t *st = ts_get_json(&srv, "/api/status");
    int64_t n = -1;
    for (size_t i = 0; i < json_array_size(st); i++) {
        json_t *o = json_array_get(st, i);
        if (strcmp(json_string_value(json_object_get(o, "device_id")), device) == 0)
            n = json_integer_value(json_object_get(o, "duplicates"));
    }
    json_decref(st);
    return n;
}

static void test_stream_and_resume(void)
{
    /* A whole recording, all 23 channels, as fast as acks allow. */
    ictal__fleet_options o;
    ictal__fleet_result r;
    ts_fleet_options(&o, &srv, "full", "s1", 60);
    CHECK_EQ_INT(ictal__fleet_run(&src23, &o, &r), 0);
    CHECK_EQ_INT(r.devices_done, 1);
    CHECK_EQ_INT(r.last_welcome_ack, -1);
    CHECK_EQ_INT(r.last_ack, (int64_t)src23.n_frames - 1);
    int64_t sid = ts_session_of(&srv, "full-0");
    CHECK(sid > 0);
    CHECK_EQ_INT(ts_log_matches(&srv, sid, &src23), (int64_t)src23.n_frames);

    /* Stop half way, come back with the same stream: the welcome says where to resume. */
    memset(&o, 0, sizeof o);
    o.stop_after_frames = 300;
    CHECK_EQ_INT(run("resume", "s1", &o, &r), 0);
    CHECK(r.last_ack >= 299 && r.last_ack < (int64_t)src4.n_frames - 1);
    /* It stopped at the ack that reached 300, with at most a window of frames beyond the
     * ack before it in flight, so there is something left to resume. */
    CHECK((int64_t)r.frames_distinct <= 300 - 1 + ICTAL__FLEET_WINDOW_FRAMES);
    int64_t acked = r.last_ack, sent = (int64_t)r.frames_distinct;
    int64_t dups = stream_duplicates("resume-0");
    CHECK(dups >= 0);
    memset(&o, 0, sizeof o);
    CHECK_EQ_INT(run("resume", "s1", &o, &r), 0);
    /* Frames in flight when the device stopped may have been stored after its last ack
     * (and frames it never sent cannot have been). */
    CHECK(r.last_welcome_ack >= acked && r.last_welcome_ack < sent);
    /* At most what the welcome said was missing (never nothing: the device stopped well
     * before the end). Frames already in the log but not yet synced at the welcome are
     * among them: not acked, so the device resends them, as the protocol asks. */
    if (!(r.frames_sent > 0 &&
          (int64_t)r.frames_sent <= (int64_t)src4.n_frames - 1 - r.last_welcome_ack))
        fprintf(stderr, "resume: sent %lld frames (%lld resent) after a welcome ack of %lld "
                        "(of %lld frames), last ack %lld, %lld welcomes, %lld reconnects, %lld gaps\n",
                (long long)r.frames_sent, (long long)r.frames_resent,
                (long long)r.last_welcome_ack, (long long)src4.n_frames, (long long)r.last_ack,
                (long long)r.welcomes, (long long)r.reconnects, (long long)r.gaps);
    CHECK(r.frames_sent > 0 &&
          (int64_t)r.frames_sent <= (int64_t)src4.n_frames - 1 - r.last_welcome_ack);
    /* Of the frames it resent, only those stored but not yet synced at the welcome were
     * already there: ignored as duplicates, and every frame is in the log once. */
    CHECK(stream_duplicates("resume-0") - dups <= sent - 1 - r.last_welcome_ack);
    sid = ts_session_of(&srv, "resume-0");
    CHECK_EQ_INT(ts_log_matches(&srv, sid, &src4), (int64_t)src4.n_frames);

    /* The same stream again: everything is acked at once, nothing is stored twice. */
    memset(&o, 0, sizeof o);
    CHECK_EQ_INT(run("resume", "s1", &o, &r), 0);
    CHECK_EQ_INT(r.last_welcome_ack, (int64_t)src4.n_frames - 1);
    CHECK_EQ_INT(ts_log_matches(&srv, sid, &src4), (int64_t)src4.n_frames);

    /* Faults: connections dropped every 0.4 s, stalls, frames swapped; 3 devices at 40x. */
    memset(&o, 0, sizeof o);
    o.n_devices = 3;
    o.speed = 40;
    o.drop_every_s = 0.4;
    o.reconnect_delay_s = 0.05;
    o.stall_every_s = 0.5;
    o.stall_s = 0.1;
    o.reorder_prob = 0.05;
    o.seed = 7;
    CHECK_EQ_INT(run("faulty", "s1", &o, &r), 0);
    CHECK_EQ_INT(r.devices_done, 3);
    CHECK(r.reconnects >= 3);
    /* Swapped frames reached the server out of order and were put back in order. */
    CHECK(ts_metric(&srv, "ictal_sequence_gaps_total") >= 1);
    for (int i = 0; i < 3; i++) {
        char dev[32];
        snprintf(dev, sizeof dev, "faulty-%d", i);
        CHECK_EQ_INT(ts_log_matches(&srv, ts_session_of(&srv, dev), &src4), (int64_t)src4.n_frames);
    }
    /* The live EDF+ recordings (written as frames came, served while the sessions are
     * open) hold every frame once, despite resends, drops and reordering. */
    sid_faulty = ts_session_of(&srv, "faulty-0");
    const char *p = download(sid, "resume.edf");
    CHECK(p && ts_edf_matches_log(p, &srv, sid, 0) == (int64_t)src4.n_frames);
    p = download(sid_faulty, "faulty.edf");
    CHECK(p && ts_edf_matches_log(p, &srv, sid_faulty, 0) == (int64_t)src4.n_frames);
}

/*
 * A fleet stops sending at the ack that reaches stop_after_frames, not at its next timer
 * tick: the acks open a window of frames at once, and a loaded machine used to send the
 * whole recording in that time, leaving "resume" above nothing to resend (its welcome
 * then acked every frame). At the first ack nothing beyond the first window was sent.
 */
static void test_stop_is_prompt(void)
{
    ictal__fleet_options o;
    ictal__fleet_result r;
    memset(&o, 0, sizeof o);
    o.stop_after_frames = 1;
    CHECK_EQ_INT(run("prompt", "s1", &o, &r), 0);
    CHECK(r.last_ack >= 0);
    CHECK_MSG((int64_t)r.frames_distinct <= ICTAL__FLEET_WINDOW_FRAMES,
              "sent %llu frames after a stop at the first ack (%lld)",
              (unsigned long long)r.frames_distinct, (long long)r.last_ack);
    int64_t sent = (int64_t)r.frames_distinct;
    memset(&o, 0, sizeof o);
    CHECK_EQ_INT(run("prompt", "s1", &o, &r), 0);
    CHECK(r.last_welcome_ack < sent);
    CHECK_EQ_INT((int64_t)r.frames_sent, (int64_t)src4.n_frames - 1 - r.last_welcome_ack);
    CHECK_EQ_INT(ts_log_matches(&srv, ts_session_of(&srv, "prompt-0"), &src4), (int64_t)src4.n_frames);
}

/* --- rejections -------------------------------------------------------------------- */

static int mutate_kind;

static size_t mutate(void *user, int device, uint64_t seq, uint8_t *f, size_t len, size_t cap)
{
    (void)user;
    (void)device;
    if (seq != 5)
        return 0;
    switch (mutate_kind) {
    case 1: f[0] = 'X'; return 0;                  /* bad magic */
    case 2: f[6] = 3; return 0;                    /* 3 channels, 4 announced */
    case 3: return len - 1;                        /* truncated payload */
    case 4: memset(f + len, 0, cap - len); return cap; /* larger than 64 KiB */
    case 5: f[5] = 7; return 0;                    /* unknown sample format */
    default: return 0;
    }
}

static void expect_rejection(int kind, const char *code, int close_code)
{
    ictal__fleet_options o;
    ictal__fleet_result r;
    memset(&o, 0, sizeof o);
    mutate_kind = kind;
    o.mutate = mutate;
    char prefix[32];
    snprintf(prefix, sizeof prefix, "bad%d", kind);
    int rc = run(prefix, "s1", &o, &r);
    CHECK_EQ_INT(rc, ICTAL_EFORMAT);
    CHECK_MSG(strncmp(r.last_error, code, strlen(code)) == 0, "kind %d: \"%s\"", kind, r.last_error);
    if (close_code)
        CHECK_MSG(r.last_close_code == close_code, "kind %d: close %d", kind, r.last_close_code);
    /* Frames before the bad one were stored, nothing after it. */
    strcat(prefix, "-0");
    CHECK_EQ_INT(ts_log_matches(&srv, ts_session_of(&srv, prefix), &src4), 5);
}

static void test_rejections(void)
{
    expect_rejection(1, "bad_frame", 1007);
    expect_rejection(2, "bad_frame", 1007);
    expect_rejection(3, "bad_frame", 1007);
    expect_rejection(4, "too_large", 1009);
    expect_rejection(5, "bad_frame", 1007);

    /* A known device with a wrong token. */
    ictal__fleet_options o;
    ictal__fleet_result r;
    memset(&o, 0, sizeof o);
    o.token = "not-the-right-token";
    CHECK_EQ_INT(run("full", "s1", &o, &r), ICTAL_EFORMAT);
    CHECK(strncmp(r.last_error, "unauthorized", 12) == 0);
    CHECK_EQ_INT(r.last_close_code, 1008);

    /* Resuming a stream with other channels is refused. */
    ts_fleet_options(&o, &srv, "resume", "s1", 20);
    CHECK_EQ_INT(ictal__fleet_run(&src23, &o, &r), ICTAL_EFORMAT);
    CHECK(strncmp(r.last_error, "session", 7) == 0);
}

/* A device that lost 5 s of its own data: its clock jumps at frame 100. */
static size_t jump_clock(void *user, int device, uint64_t seq, uint8_t *f, size_t len, size_t cap)
{
    (void)user;
    (void)device;
    (void)len;
    (void)cap;
    if (seq >= 100) {
        uint64_t t = 0;
        for (int b = 0; b < 8; b++)
            t |= (uint64_t)f[16 + b] << (8 * b);
        t += 5000000;
        for (int b = 0; b < 8; b++)
            f[16 + b] = (uint8_t)(t >> (8 * b));
    }
    return 0;
}

static void test_time_gap(void)
{
    ictal__fleet_options o;
    ictal__fleet_result r;
    memset(&o, 0, sizeof o);
    o.mutate = jump_clock;
    CHECK_EQ_INT(run("gappy", "s1", &o, &r), 0);
    int64_t sid = ts_session_of(&srv, "gappy-0");
    CHECK_EQ_INT(ts_log_matches(&srv, sid, &src4), (int64_t)src4.n_frames);
    json_t *ev = ts_get_json(&srv, "/api/events?device=gappy-0");
    int gaps = 0;
    for (size_t i = 0; i < json_array_size(ev); i++) {
        json_t *e = json_array_get(ev, i);
        if (strcmp(json_string_value(json_object_get(e, "kind")), "gap") == 0) {
            gaps++;
            CHECK_NEAR(json_number_value(json_object_get(json_object_get(e, "detail"), "gap_s")), 5.0, 1e-6);
            CHECK_NEAR(json_number_value(json_object_get(json_object_get(e, "detail"), "t_s")), 30.0, 1e-6);
        }
    }
    CHECK_EQ_INT(gaps, 1);
    json_decref(ev);
    sid_gappy = sid;
    const char *p = download(sid, "gappy.edf");
    CHECK(p && ts_edf_matches_log(p, &srv, sid, 1) == (int64_t)src4.n_frames);
    CHECK(p && strstr(ts_edf_annotations(p), "gap: no data for 5.000 s@25.000/5.000;") != NULL);
    /* The recording is EDF+D with that gap, and every sample. */
    char *body = NULL;
    size_t len = 0;
    CHECK_EQ_INT(ts_get_recording(&srv, srv.token, sid, &body, &len), 200);
    ictal_edf *edf = NULL;
    CHECK_EQ_INT(ictal_edf_open_memory(&edf, body, len, NULL, NULL), 0);
    if (edf) {
        const ictal_edf_info *in = ictal_edf_get_info(edf);
        CHECK_EQ_INT(in->variant, ICTAL_EDF_VARIANT_PLUS_D);
        CHECK_EQ_INT(in->n_gaps, 1);
        CHECK(in->n_gaps == 1 && fabs(in->gaps[0].start_s - 25.0) < 1e-6);
        CHECK(in->n_gaps == 1 && fabs(in->gaps[0].duration_s - 5.0) < 1e-6);
        CHECK_EQ_INT(in->n_records, (int64_t)src4.n_frames);
        CHECK_NEAR(in->duration_s, 186.0, 1e-6);
        ictal_edf_close(edf);
    }
    free(body);
}

static void test_rate_limit(void)
{
    /* A second server that allows only 2x real time with a small burst. */
    test_server slow;
    char d2[80];
    snprintf(d2, sizeof d2, "%s/slow", dir);
    const char *extra[] = {"--max-speed", "0.5", NULL};
    CHECK_EQ_INT(ts_start(&slow, d2, extra), 0);
    ictal__fleet_options o;
    ictal__fleet_result r;
    ts_fleet_options(&o, &slow, "fast", NULL, 20);
    CHECK_EQ_INT(ictal__fleet_run(&src4, &o, &r), ICTAL_EFORMAT);
    CHECK_MSG(strncmp(r.last_error, "rate_limit", 10) == 0, "\"%s\"", r.last_error);
    CHECK_EQ_INT(r.last_close_code, 1008);
    ts_stop(&slow, SIGTERM);
}

static void test_closed_enrolment(void)
{
    /* A server that takes only devices an admin registered. */
    test_server closed;
    char d3[80];
    snprintf(d3, sizeof d3, "%s/closed", dir);
    const char *extra[] = {"--closed", NULL};
    CHECK_EQ_INT(ts_start(&closed, d3, extra), 0);
    ictal__fleet_options o;
    ictal__fleet_result r;
    ts_fleet_options(&o, &closed, "ward", NULL, 20);
    CHECK_EQ_INT(ictal__fleet_run(&src4, &o, &r), ICTAL_EFORMAT);
    CHECK(strncmp(r.last_error, "unauthorized", 12) == 0);
    char *body = NULL;
    CHECK_EQ_INT(ts_http(&closed, "POST", "/api/devices", closed.token, "{\"device_id\":\"ward-0\"}",
                         &body, NULL), 201);
    json_t *j = json_loads(body ? body : "", 0, NULL);
    free(body);
    char tok[128];
    snprintf(tok, sizeof tok, "%s", json_string_value(json_object_get(j, "token")));
    json_decref(j);
    CHECK_EQ_INT(ts_http(&closed, "POST", "/api/devices", closed.token, "{\"device_id\":\"ward-0\"}",
                         NULL, NULL), 409);
    o.token = tok;
    CHECK_EQ_INT(ictal__fleet_run(&src4, &o, &r), 0);
    CHECK_EQ_INT(r.devices_done, 1);
    ts_stop(&closed, SIGTERM);
}

/* --- API, alarms, webhooks, recording ------------------------------------------------- */

static void test_api(ts_hook *hook)
{
    long st;
    char *body = NULL;
    CHECK_EQ_INT(ts_http(&srv, "GET", "/api/health", NULL, NULL, NULL, NULL), 200);
    CHECK_EQ_INT(ts_http(&srv, "GET", "/api/alarms", NULL, NULL, NULL, NULL), 401);
    CHECK_EQ_INT(ts_http(&srv, "GET", "/api/alarms", "0123456789abcdef.nope", NULL, NULL, NULL), 401);
    CHECK_EQ_INT(ts_http(&srv, "GET", "/api/nothing", srv.token, NULL, NULL, NULL), 404);

    /* The full recording raised an alarm (the test model fires on the seizure). */
    json_t *alarms = ts_get_json(&srv, "/api/alarms?device=full-0");
    CHECK_EQ_INT(json_array_size(alarms), 1);
    json_t *a = json_array_get(alarms, 0);
    int64_t aid = json_integer_value(json_object_get(a, "id"));
    double a_onset = json_number_value(json_object_get(a, "onset_s"));
    CHECK(json_number_value(json_object_get(a, "onset_s")) > 0);
    CHECK_STR(json_string_value(json_object_get(a, "state")), "resolved");

    /* The session's timeline: one point per hop, the values libictal yields over the
     * frame log, the same as the live history; decimation keeps the alarm's peak. */
    int64_t full_sid = ts_session_of(&srv, "full-0");
    int64_t n_hops = ts_history_matches(&srv, full_sid);
    CHECK(n_hops > 100);
    json_t *live = ts_get_json(&srv, "/api/devices/full-0/history");
    CHECK_EQ_INT((int64_t)json_array_size(live), n_hops);
    json_decref(live);
    char hp[160];
    snprintf(hp, sizeof hp, "/api/sessions/%lld/history?max_points=7", (long long)full_sid);
    json_t *h7 = ts_get_json(&srv, hp);
    json_t *pts = json_object_get(h7, "points");
    CHECK_EQ_INT(json_array_size(pts), 7);
    CHECK_EQ_INT(json_integer_value(json_object_get(h7, "hops")), n_hops);
    double peak = 0;
    for (size_t i = 0; i < json_array_size(pts); i++)
        peak = fmax(peak, json_number_value(json_array_get(json_array_get(pts, i), 1)));
    snprintf(hp, sizeof hp, "/api/sessions/%lld/history?max_points=100000", (long long)full_sid);
    json_t *hall = ts_get_json(&srv, hp);
    double peak_all = 0;
    for (size_t i = 0; i < json_array_size(json_object_get(hall, "points")); i++)
        peak_all = fmax(peak_all, json_number_value(json_array_get(
                                      json_array_get(json_object_get(hall, "points"), i), 1)));
    json_decref(hall);
    CHECK_NEAR(peak, peak_all, 1e-9);
    CHECK(peak >= json_number_value(json_object_get(a, "peak_prob")) - 1e-6);
    CHECK(json_number_value(json_object_get(h7, "threshold")) > 0);
    json_decref(h7);
    /* A window: only its hops. */
    snprintf(hp, sizeof hp, "/api/sessions/%lld/history?from=%.3f&to=%.3f", (long long)full_sid,
             a_onset - 10, a_onset + 10);
    json_t *hw = ts_get_json(&srv, hp);
    pts = json_object_get(hw, "points");
    CHECK(json_array_size(pts) > 10 && (int64_t)json_array_size(pts) < n_hops);
    for (size_t i = 0; i < json_array_size(pts); i++) {
        double t = json_number_value(json_array_get(json_array_get(pts, i), 0));
        CHECK(t >= a_onset - 10.001 && t <= a_onset + 10.001);
    }
    json_decref(hw);
    CHECK_EQ_INT(ts_http(&srv, "GET", "/api/sessions/999999/history", srv.token, NULL, NULL, NULL), 404);
    CHECK_EQ_INT(ts_http(&srv, "GET", hp, NULL, NULL, NULL, NULL), 401);

    /* Roles: a viewer cannot acknowledge, a clinician can, once. */
    char req[128], vtok[128] = "", ctok[128] = "";
    st = ts_http(&srv, "POST", "/api/tokens", srv.token, "{\"name\":\"screen\",\"role\":\"viewer\"}", &body, NULL);
    CHECK_EQ_INT(st, 201);
    json_t *j = json_loads(body ? body : "", 0, NULL);
    snprintf(vtok, sizeof vtok, "%s", json_string_value(json_object_get(j, "token")));
    json_decref(j);
    free(body);
    st = ts_http(&srv, "POST", "/api/tokens", srv.token, "{\"name\":\"dr-a\",\"role\":\"clinician\"}", &body, NULL);
    CHECK_EQ_INT(st, 201);
    j = json_loads(body ? body : "", 0, NULL);
    snprintf(ctok, sizeof ctok, "%s", json_string_value(json_object_get(j, "token")));
    json_decref(j);
    free(body);
    CHECK_EQ_INT(ts_http(&srv, "POST", "/api/tokens", vtok, "{\"name\":\"x\",\"role\":\"admin\"}", NULL, NULL), 403);
    CHECK_EQ_INT(ts_http(&srv, "GET", "/api/status", vtok, NULL, NULL, NULL), 200);
    snprintf(req, sizeof req, "/api/alarms/%lld/ack", (long long)aid);
    CHECK_EQ_INT(ts_http(&srv, "POST", req, vtok, NULL, NULL, NULL), 403);
    CHECK_EQ_INT(ts_http(&srv, "POST", req, ctok, "{\"note\":\"seen on ward 3\"}", NULL, NULL), 200);
    CHECK_EQ_INT(ts_http(&srv, "POST", req, ctok, NULL, NULL, NULL), 409);
    CHECK_EQ_INT(ts_http(&srv, "POST", "/api/alarms/999999/ack", ctok, NULL, NULL, NULL), 404);
    CHECK_EQ_INT(ts_http(&srv, "POST", req, ctok, "{not json", NULL, NULL), 400);
    char *big = malloc(70000);
    memset(big, ' ', 69999);
    big[69999] = 0;
    CHECK_EQ_INT(ts_http(&srv, "POST", req, ctok, big, NULL, NULL), 413);
    free(big);
    json_decref(alarms);
    char path[128];
    snprintf(path, sizeof path, "/api/alarms/%lld", (long long)aid);
    a = ts_get_json(&srv, path);
    CHECK_STR(json_string_value(json_object_get(a, "acked_by")), "dr-a");
    CHECK_STR(json_string_value(json_object_get(a, "ack_note")), "seen on ward 3");
    json_decref(a);

    /* Webhooks: raised, resolved, acknowledged, each signed, the first one retried. */
    for (int i = 0; i < 100 && (ts_hook_count(hook, "alarm.raised") < 1 ||
                                ts_hook_count(hook, "alarm.acknowledged") < 1);
         i++)
        ts_sleep_ms(50);
    CHECK(ts_hook_count(hook, "alarm.raised") >= 1);
    CHECK(ts_hook_count(hook, "alarm.resolved") >= 1);
    CHECK_EQ_INT(ts_hook_count(hook, "alarm.acknowledged"), 1);
    CHECK_EQ_INT(hook->bad_signatures, 0);
    CHECK(hook->requests > hook->n); /* the 503 was retried */

    /* Events, devices, sessions, metrics. */
    json_t *ev = ts_get_json(&srv, "/api/events?device=full-0");
    CHECK(json_array_size(ev) >= 3); /* connected, alarm_raised, ..., acknowledged */
    json_decref(ev);
    json_t *devs = ts_get_json(&srv, "/api/devices");
    CHECK(json_array_size(devs) >= 5);
    json_decref(devs);
    st = ts_http(&srv, "GET", "/metrics", srv.token, NULL, &body, NULL);
    CHECK_EQ_INT(st, 200);
    CHECK(body && strstr(body, "# TYPE ictal_frames_total counter") != NULL);
    CHECK(body && strstr(body, "ictal_alarm_push_seconds_bucket{le=\"+Inf\"}") != NULL);
    free(body);

    /* The recording: EDF+C with every sample, and the alarm as an annotation. */
    int64_t sid = ts_session_of(&srv, "full-0");
    size_t len = 0;
    st = ts_get_recording(&srv, vtok, sid, &body, &len);
    CHECK_EQ_INT(st, 200);
    ictal_edf *edf = NULL;
    CHECK_EQ_INT(ictal_edf_open_memory(&edf, body, len, NULL, NULL), 0);
    if (edf) {
        const ictal_edf_info *in = ictal_edf_get_info(edf);
        CHECK_EQ_INT(in->n_data_signals, 23);
        CHECK_EQ_INT(in->n_gaps, 0);
        CHECK_NEAR(in->duration_s, 181.0, 1e-9);
        /* The alarm as raised (at its onset, no duration) and as resolved (onset and
         * duration), written live as the detector decided. */
        CHECK_EQ_INT(in->n_annotations, 2);
        char want[96];
        snprintf(want, sizeof want, "seizure alarm %lld raised at ", (long long)aid);
        CHECK(in->n_annotations == 2 && strncmp(in->annotations[0].text, want, strlen(want)) == 0);
        CHECK(in->n_annotations == 2 && in->annotations[0].duration_s < 0);
        snprintf(want, sizeof want, "seizure alarm %lld (peak p ", (long long)aid);
        CHECK(in->n_annotations == 2 && strncmp(in->annotations[1].text, want, strlen(want)) == 0);
        CHECK(in->n_annotations == 2 && in->annotations[1].duration_s > 0);
        CHECK_NEAR(in->annotations[0].onset_s, a_onset, 1e-6);
        /* Digital values are the device's int16 samples, exactly. */
        int32_t dig[256];
        size_t nr = 0;
        CHECK_EQ_INT(ictal_edf_read_digital(edf, 3, 1000, 64, dig, &nr, NULL), 0);
        int same = 0;
        for (size_t i = 0; i < 64; i++) {
            size_t k = 1000 + i, spf = src23.samples_per_frame;
            const uint8_t *fr = src23.frames[k / spf] + ICTAL_WIRE_HEADER_BYTES;
            size_t at = ((k % spf) * 23 + 3) * 2;
            same += (int16_t)(fr[at] | (fr[at + 1] << 8)) == dig[i];
        }
        CHECK_EQ_INT(same, 64);
        ictal_edf_close(edf);
    }
    sid_full = sid;
    CHECK(ts_edf_matches_log(ts_save(dir, "full.edf", body, len), &srv, sid, 0) ==
          (int64_t)src23.n_frames);
    free(body);
}

static void *serve_main(void *arg)
{
    ictal_server_run(arg);
    return NULL;
}

/* Starts a server with opt in dir, returns /api/health's detector_model (or -1). */
static int health_model(ictal_server_options *opt, const char *data_dir)
{
    opt->port = -1;
    opt->data_dir = data_dir;
    opt->quiet = 1;
    ictal_server *server = NULL;
    ictal_diag d;
    ictal_diag_init(&d);
    if (ictal_server_create(&server, opt, &d) != 0) {
        fprintf(stderr, "create: %s\n", d.message);
        return -1;
    }
    pthread_t t;
    pthread_create(&t, NULL, serve_main, server);
    test_server s;
    memset(&s, 0, sizeof s);
    s.port = ictal_server_port(server);
    char *body = NULL;
    long st = 0;
    for (int i = 0; i < 100 && st != 200; i++) {
        free(body);
        body = NULL;
        st = ts_http(&s, "GET", "/api/health", NULL, NULL, &body, NULL);
        if (st != 200)
            ts_sleep_ms(20);
    }
    json_t *j = body ? json_loads(body, 0, NULL) : NULL;
    /* The password policy the dashboard shows is the server's. */
    json_t *pol = json_object_get(j, "password_policy");
    CHECK_EQ_INT(json_integer_value(json_object_get(pol, "min_length")), 10);
    CHECK_EQ_INT(json_integer_value(json_object_get(pol, "max_length")), 1024);
    int has = json_is_boolean(json_object_get(j, "detector_model"))
                  ? json_is_true(json_object_get(j, "detector_model"))
                  : -1;
    json_decref(j);
    free(body);
    ictal_server_stop(server);
    pthread_join(t, NULL);
    ictal_server_destroy(server);
    return has;
}

/*
 * ictal_server_options.model_data: the detector model passed as bytes (as `ictal serve`
 * does with the model built into the binary) instead of a file, in a server run in a
 * thread of this process; /api/health says whether it has a model. Bad bytes are
 * refused at create with the model parser's message.
 */
static void test_model_data(void)
{
    char sub[96];
    unsigned char model[4096];
    size_t n = server_test_model(model, sizeof model);
    CHECK(n > 0);

    ictal_server_options opt;
    ictal_server_options_init(&opt);
    snprintf(sub, sizeof sub, "%s/none", dir);
    CHECK_EQ_INT(health_model(&opt, sub), 0);

    /* The bytes are copied: the caller's buffer may change once create returns. */
    unsigned char *copy = malloc(n);
    memcpy(copy, model, n);
    ictal_server_options_init(&opt);
    opt.model_data = copy;
    opt.model_size = n;
    snprintf(sub, sizeof sub, "%s/bytes", dir);
    ictal_server *server = NULL;
    opt.port = -1;
    opt.data_dir = sub;
    opt.quiet = 1;
    CHECK_EQ_INT(ictal_server_create(&server, &opt, NULL), 0);
    memset(copy, 0, n);
    free(copy);
    if (server)
        ictal_server_destroy(server);
    opt.model_data = model;
    CHECK_EQ_INT(health_model(&opt, sub), 1);

    /* model_path wins over model_data. */
    ictal_server_options_init(&opt);
    opt.model_path = ts_model_path();
    opt.model_data = "not a model";
    opt.model_size = 11;
    snprintf(sub, sizeof sub, "%s/path", dir);
    CHECK_EQ_INT(health_model(&opt, sub), 1);

    /* Bad bytes: refused, with a message naming the source. */
    ictal_server_options_init(&opt);
    unsigned char bad[64];
    memcpy(bad, model, sizeof bad);
    opt.model_data = bad;
    opt.model_size = sizeof bad;
    opt.port = -1;
    snprintf(sub, sizeof sub, "%s/bad", dir);
    opt.data_dir = sub;
    opt.quiet = 1;
    ictal_diag d;
    ictal_diag_init(&d);
    server = NULL;
    CHECK(ictal_server_create(&server, &opt, &d) < 0);
    CHECK(server == NULL);
    CHECK(d.message[0] != 0);
    CHECK_STR(d.source ? d.source : "", "model_data");
    opt.model_size = 0;
    CHECK(ictal_server_create(&server, &opt, NULL) == ICTAL_EINVAL);

}

int main(void)
{
    if (getenv("ICTAL") == NULL)
        TEST_SKIP("ICTAL (path of the ictal binary) is not set");
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);

    /* The committed test model is what server_test_model() describes. */
    unsigned char want[4096], got[4096];
    size_t wn = server_test_model(want, sizeof want);
    FILE *f = fopen(ts_model_path(), "rb");
    size_t gn = f ? fread(got, 1, sizeof got, f) : 0;
    if (f)
        fclose(f);
    CHECK(wn > 0 && wn == gn && memcmp(want, got, wn) == 0);

    ictal_diag d;
    ictal_diag_init(&d);
    if (ictal__sim_source_from_file(&src23, ts_source_edf(), NULL, 250, &d) != 0 ||
        ictal__sim_source_from_file(&src4, ts_source_edf(), "F7-T7,T7-P7,F8-T8,T8-P8", 250, &d) != 0) {
        fprintf(stderr, "%s\n", d.message);
        return 1;
    }
    CHECK_EQ_INT(src23.n_frames, 724);

    snprintf(dir, sizeof dir, "/tmp/ictal-server-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return 1;
    ts_hook hook;
    CHECK_EQ_INT(ts_hook_start(&hook, "test-secret", 1), 0);
    char url[64], d1[96];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hook", hook.port);
    snprintf(d1, sizeof d1, "%s/main", dir);
    const char *extra[] = {"--model", ts_model_path(), "--webhook", url, "--webhook-secret",
                           "test-secret", NULL};
    if (ts_start(&srv, d1, extra) != 0) {
        fprintf(stderr, "server did not start\n");
        return 1;
    }
    test_stream_and_resume();
    test_stop_is_prompt();
    test_rejections();
    test_time_gap();
    test_rate_limit();
    test_closed_enrolment();
    test_api(&hook);
    test_model_data();
    CHECK_EQ_INT(WEXITSTATUS(ts_stop(&srv, SIGTERM)), 0);
    /* Closed cleanly: the files on disk have their record count and every frame. */
    char edf_path[400];
    snprintf(edf_path, sizeof edf_path, "%s/sessions/%lld.edf", srv.dir, (long long)sid_full);
    CHECK_EQ_INT(ts_edf_matches_log(edf_path, &srv, sid_full, 0), (int64_t)src23.n_frames);
    snprintf(edf_path, sizeof edf_path, "%s/sessions/%lld.edf", srv.dir, (long long)sid_gappy);
    CHECK_EQ_INT(ts_edf_matches_log(edf_path, &srv, sid_gappy, 1), (int64_t)src4.n_frames);
    ts_hook_stop(&hook);
    ictal__sim_source_free(&src4);
    ictal__sim_source_free(&src23);
    test_remove_dir(dir);
    curl_global_cleanup();
    return test_summary();
}
