/*
 * `ictal serve --db postgresql://...` end to end, against a real PostgreSQL started here
 * (pg_test_util.h): the first account made with --add-user --db (no SQLite file made),
 * the chb05_06 excerpt streamed by a simulated device (frame log on disk, exactly the
 * source), its alarm raised, a sign-in, the alarm acknowledged under the user's name;
 * a restart keeps the alarm, the session, the sign-in and the device; two servers on
 * one database ingest at once, their ids never collide, each lists the other's devices
 * and alarms and acknowledges them, and each webhook of their shared outbox is sent once; the database going away under a running server
 * makes its calls fail cleanly (a device is asked to come back later), and it carries
 * on once the database is back.
 * Skips (77) when the PostgreSQL programs (Debian package postgresql) are absent.
 */
#define _GNU_SOURCE /* strcasestr in the webhook receiver */
#include "pg_test_util.h"
#include "server_test_util.h"

static test_pg pg;
static char dir[64], url[512];
static ictal__sim_source src;

static int cli_add_user(const char *data, const char *name, const char *role, const char *password)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' serve --data '%s' --db '%s' --add-user '%s' --role '%s' >/dev/null",
             getenv("ICTAL"), data, url, name, role);
    FILE *p = popen(cmd, "w");
    if (p == NULL)
        return -1;
    fprintf(p, "%s\n", password);
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static long login(const test_server *s, const char *user, const char *password, char *tok, size_t size)
{
    char req[256], *body = NULL;
    snprintf(req, sizeof req, "{\"username\":\"%s\",\"password\":\"%s\"}", user, password);
    long st = ts_http(s, "POST", "/api/login", NULL, req, &body, NULL);
    json_t *j = st == 200 && body ? json_loads(body, 0, NULL) : NULL;
    snprintf(tok, size, "%s", j ? json_string_value(json_object_get(j, "token")) : "");
    json_decref(j);
    free(body);
    return st;
}

static int start(test_server *s, const char *data)
{
    const char *extra[] = {"--db", url, "--model", ts_model_path(), NULL};
    return ts_start(s, data, extra);
}

/* The same, sending webhooks to hook_url. */
static int start_hooked(test_server *s, const char *data, const char *hook_url)
{
    const char *extra[] = {"--db", url, "--model", ts_model_path(), "--webhook", hook_url,
                           "--webhook-secret", "pg-secret", NULL};
    return ts_start(s, data, extra);
}

/* `ictal replay` of the excerpt as n devices "<prefix>-<i>" to s, in the background. */
static pid_t replay(const test_server *s, const char *prefix, const char *n)
{
    char ws[64];
    snprintf(ws, sizeof ws, "ws://127.0.0.1:%d", s->port);
    pid_t pid = fork();
    if (pid == 0) {
        const char *ictal = getenv("ICTAL");
        execl(ictal, ictal, "replay", ts_source_edf(), "--url", ws, "--speed", "0", "--devices", n,
              "--device-prefix", prefix, "--timeout", "120", "--quiet", (char *)NULL);
        _exit(127);
    }
    return pid;
}

static int exit_code(pid_t pid)
{
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* One server: stream, alarm, sign-in, acknowledge; restart; everything still there. */
static void test_one_server(void)
{
    char da[128], tok[128], path[160];
    snprintf(da, sizeof da, "%s/a", dir);
    mkdir(da, 0700);
    CHECK_EQ_INT(cli_add_user(da, "ward-admin", "admin", "ward admin password"), 0);
    CHECK_EQ_INT(cli_add_user(da, "WARD-admin", "admin", "ward admin password"), 1); /* taken */
    snprintf(path, sizeof path, "%s/ictal.db", da);
    CHECK(access(path, F_OK) != 0); /* the database is PostgreSQL, not a file here */

    /* --db-password-file: the password of a role that needs one; a wrong one fails. */
    char pw_url[512], pw_file[160], cmd[2048];
    CHECK_EQ_INT(tpg_createdb_pw(&pg, "ictal_pw", pw_url, sizeof pw_url), 0);
    snprintf(pw_file, sizeof pw_file, "%s/db.pw", dir);
    for (int right = 0; right < 2; right++) {
        FILE *f = fopen(pw_file, "w");
        if (f) {
            fprintf(f, "%s\n", right ? TPG_PW_PASSWORD : "wrong password");
            fclose(f);
        }
        snprintf(cmd, sizeof cmd,
                 "echo 'the pw user password' | '%s' serve --data '%s/pw' --db '%s' --db-password-file '%s'"
                 " --add-user pw-admin --role admin >/dev/null 2>&1",
                 getenv("ICTAL"), dir, pw_url, pw_file);
        int st = system(cmd);
        CHECK_EQ_INT(WIFEXITED(st) ? WEXITSTATUS(st) : -1, right ? 0 : 3);
    }

    test_server a;
    CHECK_EQ_INT(start(&a, da), 0);
    ictal__fleet_options o;
    ictal__fleet_result r;
    ts_fleet_options(&o, &a, "pg", "s1", 60);
    CHECK_EQ_INT(ictal__fleet_run(&src, &o, &r), 0);
    CHECK_EQ_INT(r.last_ack, (int64_t)src.n_frames - 1);
    int64_t sid = ts_session_of(&a, "pg-0");
    CHECK(sid > 0);
    /* Frames stay on disk in the data directory, exactly the source. */
    CHECK_EQ_INT(ts_log_matches(&a, sid, &src), (int64_t)src.n_frames);

    json_t *al = ts_get_json(&a, "/api/alarms?device=pg-0");
    CHECK_EQ_INT(json_array_size(al), 1);
    int64_t aid = json_integer_value(json_object_get(json_array_get(al, 0), "id"));
    CHECK_STR(json_string_value(json_object_get(json_array_get(al, 0), "state")), "resolved");
    json_decref(al);

    CHECK_EQ_INT(login(&a, "ward-admin", "wrong password!", tok, sizeof tok), 401);
    CHECK_EQ_INT(login(&a, "Ward-Admin", "ward admin password", tok, sizeof tok), 200);
    char req[128];
    snprintf(req, sizeof req, "/api/alarms/%lld/ack", (long long)aid);
    CHECK_EQ_INT(ts_http(&a, "POST", req, tok, "{\"note\":\"seen\"}", NULL, NULL), 200);
    CHECK_EQ_INT(ts_http(&a, "POST", req, tok, NULL, NULL, NULL), 409);

    /* Restart: the alarm, the session, the sign-in and the device are in the database. */
    CHECK_EQ_INT(ts_stop(&a, SIGTERM), 0);
    CHECK_EQ_INT(start(&a, da), 0);
    snprintf(path, sizeof path, "/api/alarms/%lld", (long long)aid);
    al = ts_get_json(&a, path);
    CHECK_STR(json_string_value(json_object_get(al, "acked_by")), "ward-admin");
    CHECK_STR(json_string_value(json_object_get(al, "ack_note")), "seen");
    json_decref(al);
    CHECK_EQ_INT(ts_http(&a, "GET", "/api/alarms", tok, NULL, NULL, NULL), 200);
    CHECK_EQ_INT(ts_session_of(&a, "pg-0"), sid);
    snprintf(path, sizeof path, "/api/sessions/%lld", (long long)sid);
    json_t *se = ts_get_json(&a, path);
    CHECK_EQ_INT(json_integer_value(json_object_get(se, "frames")), (int64_t)src.n_frames);
    json_decref(se);
    /* The same stream again: all of it acknowledged at once, nothing stored twice. */
    ts_fleet_options(&o, &a, "pg", "s1", 60);
    CHECK_EQ_INT(ictal__fleet_run(&src, &o, &r), 0);
    CHECK_EQ_INT(r.last_welcome_ack, (int64_t)src.n_frames - 1);
    CHECK_EQ_INT(ts_stop(&a, SIGTERM), 0);
}

/* Ids of the array's objects (key "id"), checked unique; returns how many. */
static size_t unique_ids(json_t *arr)
{
    size_t n = json_array_size(arr);
    for (size_t i = 0; i < n; i++)
        for (size_t k = i + 1; k < n; k++)
            CHECK(json_integer_value(json_object_get(json_array_get(arr, i), "id")) !=
                  json_integer_value(json_object_get(json_array_get(arr, k), "id")));
    return n;
}

/* Two servers, one database: at scale, several ingest processes share it. */
static void test_two_servers(void)
{
    char da[128], db[128];
    snprintf(da, sizeof da, "%s/a", dir);
    snprintf(db, sizeof db, "%s/b", dir);
    test_server a, b;
    ts_hook hook;
    CHECK_EQ_INT(ts_hook_start(&hook, "pg-secret", 0), 0);
    char hook_url[64];
    snprintf(hook_url, sizeof hook_url, "http://127.0.0.1:%d/hook", hook.port);
    CHECK_EQ_INT(start_hooked(&a, da, hook_url), 0);
    CHECK_EQ_INT(start_hooked(&b, db, hook_url), 0);
    pid_t ra = replay(&a, "two-a", "4"), rb = replay(&b, "two-b", "4");
    CHECK_EQ_INT(exit_code(ra), 0);
    CHECK_EQ_INT(exit_code(rb), 0);

    json_t *da_dev = ts_get_json(&a, "/api/devices"), *db_dev = ts_get_json(&b, "/api/devices");
    CHECK_EQ_INT(json_array_size(da_dev), 9); /* pg-0 and 4 + 4 */
    char *ta = json_dumps(da_dev, JSON_SORT_KEYS), *tb = json_dumps(db_dev, JSON_SORT_KEYS);
    CHECK(ta && tb && strstr(ta, "\"two-b-3\"") && strstr(tb, "\"two-a-0\""));
    free(ta);
    free(tb);
    json_decref(da_dev);
    json_decref(db_dev);

    json_t *aa = ts_get_json(&a, "/api/alarms?limit=1000"), *ab = ts_get_json(&b, "/api/alarms?limit=1000");
    CHECK_EQ_INT(unique_ids(aa), 9); /* one seizure per stream */
    CHECK(json_equal(aa, ab));
    for (int i = 0; i < 4; i++) {
        char dev[32], q[64];
        for (int side = 0; side < 2; side++) {
            snprintf(dev, sizeof dev, "two-%c-%d", side ? 'b' : 'a', i);
            snprintf(q, sizeof q, "/api/alarms?device=%s", dev);
            json_t *one = ts_get_json(side ? &a : &b, q); /* asked of the other server */
            CHECK_EQ_INT(json_array_size(one), 1);
            json_decref(one);
        }
    }
    json_t *sa = ts_get_json(&a, "/api/sessions?limit=1000");
    CHECK_EQ_INT(unique_ids(sa), 9);
    json_decref(sa);
    /* B's alarm acknowledged on A, seen acknowledged on B. */
    int64_t bid = -1;
    for (size_t i = 0; i < json_array_size(aa); i++)
        if (strcmp(json_string_value(json_object_get(json_array_get(aa, i), "device_id")), "two-b-2") == 0)
            bid = json_integer_value(json_object_get(json_array_get(aa, i), "id"));
    char req[96];
    snprintf(req, sizeof req, "/api/alarms/%lld/ack", (long long)bid);
    CHECK_EQ_INT(ts_http(&a, "POST", req, a.token, NULL, NULL, NULL), 200);
    CHECK_EQ_INT(ts_http(&b, "POST", req, b.token, NULL, NULL, NULL), 409);
    snprintf(req, sizeof req, "/api/alarms/%lld", (long long)bid);
    json_t *one = ts_get_json(&b, req);
    CHECK_STR(json_string_value(json_object_get(one, "acked_by")), "admin");
    json_decref(one);
    json_decref(aa);
    json_decref(ab);
    /* Both servers send from the one outbox: every webhook once (each claims what it
     * sends), not once per server. */
    for (int i = 0; i < 150 && (ts_hook_count(&hook, "alarm.raised") < 8 ||
                                ts_hook_count(&hook, "alarm.resolved") < 8 ||
                                ts_hook_count(&hook, "alarm.acknowledged") < 1); i++)
        ts_sleep_ms(100);
    ts_sleep_ms(500); /* a duplicate would come now */
    CHECK_EQ_INT(ts_hook_count(&hook, "alarm.raised"), 8);
    CHECK_EQ_INT(ts_hook_count(&hook, "alarm.resolved"), 8);
    CHECK_EQ_INT(ts_hook_count(&hook, "alarm.acknowledged"), 1);
    pthread_mutex_lock(&hook.mu);
    CHECK_EQ_INT(hook.n, 17);
    CHECK_EQ_INT(hook.requests, 17);
    CHECK_EQ_INT(hook.bad_signatures, 0);
    pthread_mutex_unlock(&hook.mu);
    CHECK_EQ_INT(ts_stop(&a, SIGTERM), 0);
    CHECK_EQ_INT(ts_stop(&b, SIGTERM), 0);
    ts_hook_stop(&hook);
}

/* PostgreSQL stops under a running server: requests fail with 5xx, never a crash; once it
 * is back the server reconnects and streams are stored again. */
static void test_database_lost(void)
{
    char da[128];
    snprintf(da, sizeof da, "%s/a", dir);
    test_server a;
    CHECK_EQ_INT(start(&a, da), 0);
    CHECK_EQ_INT(ts_http(&a, "GET", "/api/alarms", a.token, NULL, NULL, NULL), 200);
    tpg_server_stop(&pg);
    long st = ts_http(&a, "GET", "/api/devices", a.token, NULL, NULL, NULL);
    CHECK(st == 401 || st >= 500); /* the token cannot be checked: refused, not crashed */
    /* A device is told the server failed (1011), not that its token is wrong (1008). */
    ictal__fleet_options o;
    ictal__fleet_result r;
    ts_fleet_options(&o, &a, "down", "s1", 20);
    CHECK_EQ_INT(ictal__fleet_run(&src, &o, &r), ICTAL_EFORMAT);
    CHECK_EQ_INT(r.last_close_code, 1011);
    CHECK_EQ_INT(kill(a.pid, 0), 0);
    CHECK_EQ_INT(tpg_server_start(&pg), 0);
    int ok = 0;
    for (int i = 0; i < 100 && !ok; i++) { /* one reconnection attempt every 2 s */
        ok = ts_http(&a, "GET", "/api/alarms", a.token, NULL, NULL, NULL) == 200;
        if (!ok)
            ts_sleep_ms(100);
    }
    CHECK(ok);
    ts_fleet_options(&o, &a, "back", "s1", 60);
    CHECK_EQ_INT(ictal__fleet_run(&src, &o, &r), 0);
    CHECK_EQ_INT(r.last_ack, (int64_t)src.n_frames - 1);
    json_t *al = ts_get_json(&a, "/api/alarms?device=back-0");
    CHECK_EQ_INT(json_array_size(al), 1);
    json_decref(al);
    CHECK_EQ_INT(ts_stop(&a, SIGTERM), 0);
}

int main(void)
{
    if (getenv("ICTAL") == NULL)
        TEST_SKIP("ICTAL (path of the ictal binary) is not set");
    signal(SIGPIPE, SIG_IGN);
    int rc = tpg_start(&pg);
    if (rc == TEST_SKIP_CODE)
        TEST_SKIP("PostgreSQL is not installed (Debian package postgresql)");
    if (rc != 0)
        return 1;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    ictal_diag d;
    ictal_diag_init(&d);
    if (ictal__sim_source_from_file(&src, ts_source_edf(), NULL, 250, &d) != 0) {
        fprintf(stderr, "%s\n", d.message);
        tpg_stop(&pg);
        return 1;
    }
    snprintf(dir, sizeof dir, "/tmp/ictal-pgserve-XXXXXX");
    if (mkdtemp(dir) == NULL || tpg_createdb(&pg, "ictal", url, sizeof url) != 0) {
        tpg_stop(&pg);
        return 1;
    }
    test_one_server();
    test_two_servers();
    test_database_lost();
    ictal__sim_source_free(&src);
    tpg_stop(&pg);
    test_remove_dir(dir);
    curl_global_cleanup();
    return test_summary();
}
