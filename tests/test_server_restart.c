/*
 * Crash and restart: `ictal serve` is killed with SIGKILL while `ictal replay` streams
 * data/chb05_06_excerpt.edf into it at 20x, then restarted on the same port and data.
 * The device resumes; the stored session must hold every frame exactly once, the EDF+
 * recording no gap, the alarms exactly those of an uninterrupted run, and every alarm
 * webhook (signed) must arrive. The EDF+ file the crash leaves is readable up to its
 * last complete record (header count -1); the resumed session rewrites it from the
 * frame log, so it ends up exactly the log, with the annotations of the uninterrupted
 * run. A second crash with no device to resume: the download rebuilds it from the log.
 */
#define _GNU_SOURCE /* strcasestr in the webhook receiver */
#include <sqlite3.h>

#include "ictal/edf.h"
#include "server_test_util.h"

static int64_t count_cb_frames;
static int count_cb(void *user, const ictal_wire_frame *f)
{
    (void)user;
    (void)f;
    count_cb_frames++;
    return 0;
}

static json_t *session_alarms(const test_server *s, const char *device)
{
    char path[128];
    snprintf(path, sizeof path, "/api/alarms?device=%s", device);
    return ts_get_json(s, path);
}

int main(void)
{
    if (getenv("ICTAL") == NULL)
        TEST_SKIP("ICTAL (path of the ictal binary) is not set");
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    ictal__sim_source src;
    if (ictal__sim_source_from_file(&src, ts_source_edf(), NULL, 250, NULL) != 0)
        return 1;
    char dir[64], da[96], db[96];
    snprintf(dir, sizeof dir, "/tmp/ictal-restart-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return 1;
    snprintf(da, sizeof da, "%s/reference", dir);
    snprintf(db, sizeof db, "%s/crash", dir);

    /* Reference: the same recording without interruption. */
    test_server ref;
    const char *ref_args[] = {"--model", ts_model_path(), NULL};
    CHECK_EQ_INT(ts_start(&ref, da, ref_args), 0);
    ictal__fleet_options o;
    ictal__fleet_result r;
    ts_fleet_options(&o, &ref, "rs", "r1", 60);
    CHECK_EQ_INT(ictal__fleet_run(&src, &o, &r), 0);
    json_t *want = session_alarms(&ref, "rs-0");
    CHECK(json_array_size(want) >= 1);
    int64_t ref_sid = ts_session_of(&ref, "rs-0");
    /* The uninterrupted run's timeline: one point per hop, as libictal computes them. */
    int64_t ref_hops = ts_history_matches(&ref, ref_sid);
    CHECK(ref_hops > 100);
    ts_stop(&ref, SIGTERM);
    char ref_edf[400], ref_ann[4096];
    snprintf(ref_edf, sizeof ref_edf, "%s/sessions/%lld.edf", da, (long long)ref_sid);
    CHECK_EQ_INT(ts_edf_matches_log(ref_edf, &ref, ref_sid, 0), (int64_t)src.n_frames);
    snprintf(ref_ann, sizeof ref_ann, "%s", ts_edf_annotations(ref_edf));
    CHECK(strstr(ref_ann, "seizure alarm") != NULL);

    ts_hook hook;
    CHECK_EQ_INT(ts_hook_start(&hook, "restart-secret", 0), 0);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hook", hook.port);
    test_server s;
    const char *args[] = {"--model", ts_model_path(), "--webhook", url, "--webhook-secret",
                          "restart-secret", NULL};
    CHECK_EQ_INT(ts_start(&s, db, args), 0);
    int port = s.port;

    char ws[64];
    snprintf(ws, sizeof ws, "ws://127.0.0.1:%d", port);
    pid_t replay = fork();
    if (replay == 0) {
        const char *ictal = getenv("ICTAL");
        execl(ictal, ictal, "replay", ts_source_edf(), "--url", ws, "--speed", "20",
              "--device-prefix", "rs", "--stream", "r1", "--reconnect-delay", "0.1",
              "--timeout", "60", "--quiet", (char *)NULL);
        _exit(127);
    }
    /* 3 s at 20x: a minute of EEG stored, the alarm raised; then the crash. */
    ts_sleep_ms(3000);
    ts_stop(&s, SIGKILL);
    /* What the crash left: the header still says -1 records, and every complete record
     * is a frame of the log, in order (the file may be a frame behind the log). */
    {
        char p[400];
        snprintf(p, sizeof p, "%s/sessions/1.frames", db);
        count_cb_frames = 0;
        CHECK_EQ_INT(ictal__seslog_walk(p, count_cb, NULL, NULL), 0);
        snprintf(p, sizeof p, "%s/sessions/1.edf", db);
        ictal_edf *edf = NULL;
        CHECK_EQ_INT(ictal_edf_open(&edf, p, NULL, NULL), 0);
        if (edf) {
            const ictal_edf_info *in = ictal_edf_get_info(edf);
            CHECK_EQ_INT(in->header_n_records, -1);
            CHECK(in->n_records >= 40 && in->n_records <= count_cb_frames &&
                  in->n_records >= count_cb_frames - 1);
            int32_t dig[64];
            size_t nr = 0;
            int64_t last = in->n_records - 1;
            CHECK_EQ_INT(ictal_edf_read_digital(edf, 2, last * (int64_t)src.samples_per_frame, 64,
                                                dig, &nr, NULL), 0);
            const uint8_t *fr = src.frames[last] + ICTAL_WIRE_HEADER_BYTES;
            int same = 0;
            for (int i = 0; i < 64; i++) {
                size_t at = ((size_t)i * (size_t)src.n_channels + 2) * 2;
                same += (int16_t)(fr[at] | (fr[at + 1] << 8)) == dig[i];
            }
            CHECK_EQ_INT(same, 64);
            ictal_edf_close(edf);
        }
    }
    ts_sleep_ms(500);
    char listen[32];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    const char *args2[] = {"--model", ts_model_path(), "--webhook", url, "--webhook-secret",
                           "restart-secret", NULL};
    /* Same data and port: ts_start passes port 0, so start by hand on the old port. */
    s.pid = fork();
    if (s.pid == 0) {
        const char *ictal = getenv("ICTAL");
        execl(ictal, ictal, "serve", "--listen", listen, "--data", db, "--quiet", args2[0], args2[1],
              args2[2], args2[3], args2[4], args2[5], (char *)NULL);
        _exit(127);
    }
    int status = 0;
    waitpid(replay, &status, 0);
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "replay exit %d", WEXITSTATUS(status));

    /* Every frame once, in order. */
    int64_t sid = ts_session_of(&s, "rs-0");
    CHECK(sid > 0);
    CHECK_EQ_INT(ts_log_matches(&s, sid, &src), (int64_t)src.n_frames);

    /* The alarms of the uninterrupted run, no more, no less. */
    for (int i = 0; i < 40; i++) {
        json_t *got = session_alarms(&s, "rs-0");
        int resolved = json_array_size(got) > 0 &&
                       json_is_number(json_object_get(json_array_get(got, 0), "offset_s"));
        json_decref(got);
        if (resolved)
            break;
        ts_sleep_ms(50);
    }
    json_t *got = session_alarms(&s, "rs-0");
    CHECK_EQ_INT(json_array_size(got), json_array_size(want));
    for (size_t i = 0; i < json_array_size(got) && i < json_array_size(want); i++) {
        json_t *a = json_array_get(got, i), *b = json_array_get(want, i);
        CHECK_NEAR(json_number_value(json_object_get(a, "onset_s")),
                   json_number_value(json_object_get(b, "onset_s")), 1e-9);
        CHECK_NEAR(json_number_value(json_object_get(a, "offset_s")),
                   json_number_value(json_object_get(b, "offset_s")), 1e-9);
    }
    /* The timeline, rebuilt by the replay of the log: every hop once, as uninterrupted. */
    CHECK_EQ_INT(ts_history_matches(&s, sid), ref_hops);

    /* The recording: all 181 s, no gap. */
    char *body = NULL;
    size_t len = 0;
    CHECK_EQ_INT(ts_get_recording(&s, s.token, sid, &body, &len), 200);
    ictal_edf *edf = NULL;
    CHECK_EQ_INT(ictal_edf_open_memory(&edf, body, len, NULL, NULL), 0);
    if (edf) {
        const ictal_edf_info *in = ictal_edf_get_info(edf);
        CHECK_EQ_INT(in->n_gaps, 0);
        CHECK_NEAR(in->duration_s, 181.0, 1e-9);
        CHECK_EQ_INT(in->n_records, (int64_t)src.n_frames);
        ictal_edf_close(edf);
    }

    /* Every webhook of the outbox delivered, signed; raised and resolved both arrived. */
    int64_t pending = -1;
    for (int i = 0; i < 100 && pending != 0; i++) {
        char dbp[160];
        snprintf(dbp, sizeof dbp, "%s/ictal.db", db);
        sqlite3 *q = NULL;
        sqlite3_stmt *st = NULL;
        if (sqlite3_open_v2(dbp, &q, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
            sqlite3_prepare_v2(q, "SELECT COUNT(*) FROM webhook_outbox WHERE delivered_at IS NULL",
                               -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            pending = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        sqlite3_close(q);
        if (pending != 0)
            ts_sleep_ms(50);
    }
    CHECK_EQ_INT(pending, 0);
    CHECK_EQ_INT(ts_hook_count(&hook, "alarm.raised"), (int)json_array_size(want));
    CHECK_EQ_INT(ts_hook_count(&hook, "alarm.resolved"), (int)json_array_size(want));
    CHECK_EQ_INT(hook.bad_signatures, 0);

    /* The live file, served, is exactly the log; after a clean stop too, on disk, with
     * the same annotations as the uninterrupted run (the resume rewrote the file from
     * the log, through the same deterministic detector). */
    CHECK_EQ_INT(ts_edf_matches_log(ts_save(dir, "resumed.edf", body, len), &s, sid, 0),
                 (int64_t)src.n_frames);
    free(body);
    json_decref(got);
    json_decref(want);
    CHECK_EQ_INT(WEXITSTATUS(ts_stop(&s, SIGTERM)), 0);
    char edf_path[400];
    snprintf(edf_path, sizeof edf_path, "%s/sessions/%lld.edf", db, (long long)sid);
    CHECK_EQ_INT(ts_edf_matches_log(edf_path, &s, sid, 0), (int64_t)src.n_frames);
    CHECK_STR(ts_edf_annotations(edf_path), ref_ann);

    /* Crash again with the session open, and no device comes back: the download finds
     * the file unfinished (-1) and rebuilds it from the log, alarms from the database. */
    test_server s2;
    CHECK_EQ_INT(ts_start(&s2, db, args), 0);
    pid_t dev = fork();
    if (dev == 0) {
        char ws2[64];
        snprintf(ws2, sizeof ws2, "ws://127.0.0.1:%d", s2.port);
        const char *ictal = getenv("ICTAL");
        execl(ictal, ictal, "replay", ts_source_edf(), "--url", ws2, "--speed", "0",
              "--device-prefix", "rs", "--stream", "r1", "--timeout", "60", "--quiet",
              (char *)NULL);
        _exit(127);
    }
    waitpid(dev, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ts_stop(&s2, SIGKILL);
    CHECK_EQ_INT(ts_start(&s2, db, args), 0);
    /* A past session's timeline survives a kill -9 after it ended. */
    CHECK_EQ_INT(ts_history_matches(&s2, sid), ref_hops);
    char *body2 = NULL;
    size_t len2 = 0;
    CHECK_EQ_INT(ts_get_recording(&s2, s2.token, sid, &body2, &len2), 200);
    CHECK_EQ_INT(ts_edf_matches_log(ts_save(dir, "rebuilt.edf", body2, len2), &s2, sid, 0),
                 (int64_t)src.n_frames);
    CHECK(strstr(ts_edf_annotations(ts_save(dir, "rebuilt.edf", body2, len2)), "seizure alarm") != NULL);
    free(body2);
    CHECK_EQ_INT(WEXITSTATUS(ts_stop(&s2, SIGTERM)), 0);
    ts_hook_stop(&hook);
    ictal__sim_source_free(&src);
    test_remove_dir(dir);
    curl_global_cleanup();
    return test_summary();
}
