/* The server's store and session frame log: migrations, hashed secrets, idempotent
 * alarms, the webhook outbox, users and tokens, torn-tail recovery. The store checks run
 * on SQLite and on a real PostgreSQL started here (pg_test_util.h); without the
 * PostgreSQL programs the SQLite half runs and the test says so. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "pg_test_util.h"
#include "server/db.h"
#include "server/seslog.h"
#include "server/store.h"
#include "test.h"

static char dir[64];
static test_pg pg;
static int pg_up;

/* Where the store of one test lives: a SQLite file in dir, or a new PostgreSQL database. */
static const char *target(int postgres, const char *name, char *buf, size_t size)
{
    if (!postgres) {
        snprintf(buf, size, "%s/%s.db", dir, name);
        return buf;
    }
    CHECK_EQ_INT(tpg_createdb(&pg, name, buf, size), 0);
    return buf;
}

static void test_store(int postgres)
{
    char buf[512];
    const char *path = target(postgres, "t_store", buf, sizeof buf);
    ictal__store s;
    ictal_diag d;
    ictal_diag_init(&d);
    CHECK_EQ_INT(ictal__store_open(&s, path, NULL, &d), 0);
    if (s.db == NULL)
        return; /* said above; nothing else can run */
    CHECK_EQ_INT(ictal__store_user_version(&s), ICTAL_STORE_SCHEMA_VERSION);

    /* Devices: the token is checked, and never stored in clear. */
    CHECK_EQ_INT(ictal__store_device_auth(&s, "dev-1", "secret-token-1"), ICTAL_ENOENT);
    CHECK_EQ_INT(ictal__store_device_add(&s, "dev-1", "secret-token-1"), 0);
    CHECK_EQ_INT(ictal__store_device_add(&s, "dev-1", "other-token"), ICTAL_ESTATE);
    CHECK_EQ_INT(ictal__store_device_auth(&s, "dev-1", "secret-token-1"), 0);
    CHECK_EQ_INT(ictal__store_device_auth(&s, "dev-1", "secret-token-2"), ICTAL_EINVAL);
    ictal__stmt *st = ictal__db_prepare(s.db, "SELECT token_hash FROM devices");
    CHECK(ictal__db_step(st) == ICTAL_DB_ROW && ictal__db_column_bytes(st, 0) == 32);
    const char *hash = ictal__db_column_blob(st, 0);
    for (int i = 0; hash && i + 6 <= 32; i++)
        CHECK(memcmp(hash + i, "secret", 6) != 0);
    ictal__db_finalize(st);

    /* Sessions: one per (device, stream). */
    json_t *labels = json_pack("[s, s]", "F7-T7", "T7-P7");
    int64_t sid = 0, sid2 = 0;
    int created = 0;
    CHECK_EQ_INT(ictal__store_session_get(&s, "dev-1", "boot-1", labels, 256, 1000, &sid, &created), 0);
    CHECK_EQ_INT(created, 1);
    CHECK_EQ_INT(ictal__store_session_get(&s, "dev-1", "boot-1", labels, 256, 1000, &sid2, &created), 0);
    CHECK_EQ_INT(created, 0);
    CHECK_EQ_INT(sid, sid2);
    CHECK_EQ_INT(ictal__store_session_progress(&s, sid, 99, 100, 6400), 0);
    json_t *row = ictal__store_session_json(&s, sid);
    CHECK_EQ_INT(json_integer_value(json_object_get(row, "last_seq")), 99);
    CHECK_NEAR(json_real_value(json_object_get(row, "duration_s")), 25.0, 1e-9);
    CHECK(json_equal(json_object_get(row, "labels"), labels));
    json_decref(row);

    /* Alarms: a detector event is stored once, with its webhook in the same transaction. */
    ictal__alarm_in a = {sid, "dev-1", 1, 40.5, 42.5, 0.9, labels};
    int64_t aid = 0, aid2 = 0;
    CHECK_EQ_INT(ictal__store_alarm_raise(&s, &a, "http://127.0.0.1:9/hook", &aid, &created), 0);
    CHECK_EQ_INT(created, 1);
    CHECK_EQ_INT(ictal__store_alarm_raise(&s, &a, "http://127.0.0.1:9/hook", &aid2, &created), 0);
    CHECK_EQ_INT(created, 0);
    CHECK_EQ_INT(aid, aid2);
    int64_t pending = 0, delivered = 0;
    ictal__store_outbox_counts(&s, &pending, &delivered);
    CHECK_EQ_INT(pending, 1);
    /* Lists of every device (NULL) and of one. */
    json_t *all = ictal__store_alarms_json(&s, NULL, 0, 10);
    CHECK_EQ_INT(json_array_size(all), 1);
    json_decref(all);
    all = ictal__store_sessions_json(&s, NULL, 10);
    CHECK_EQ_INT(json_array_size(all), 1);
    json_decref(all);
    all = ictal__store_alarms_json(&s, "dev-2", 1, 10);
    CHECK_EQ_INT(json_array_size(all), 0);
    json_decref(all);
    CHECK_EQ_INT(ictal__store_event(&s, "dev-1", 0, "hello", NULL), 0);
    CHECK_EQ_INT(ictal__store_event(&s, "dev-1", sid, "gap", labels), 0);
    all = ictal__store_events_json(&s, NULL, 0, 10);
    CHECK_EQ_INT(json_array_size(all), 2);
    CHECK(json_is_null(json_object_get(json_array_get(all, 1), "session_id")));
    CHECK(json_equal(json_object_get(json_array_get(all, 0), "detail"), labels));
    json_decref(all);
    json_t *counts = ictal__store_open_alarm_counts(&s);
    CHECK_EQ_INT(json_integer_value(json_object_get(counts, "dev-1")), 1);
    json_decref(counts);
    CHECK_EQ_INT(ictal__store_alarm_ack(&s, aid, "nurse", "seen", "http://127.0.0.1:9/hook"), 0);
    CHECK_EQ_INT(ictal__store_alarm_ack(&s, aid, "nurse", NULL, NULL), ICTAL_ESTATE);
    CHECK_EQ_INT(ictal__store_alarm_ack(&s, 999, "nurse", NULL, NULL), ICTAL_ENOENT);
    int64_t rid = 0;
    CHECK_EQ_INT(ictal__store_alarm_resolve(&s, sid, 1, 90, 0.95, "http://127.0.0.1:9/hook", &rid), 0);
    CHECK_EQ_INT(rid, aid);
    CHECK_EQ_INT(ictal__store_alarm_resolve(&s, sid, 1, 90, 0.95, NULL, &rid), ICTAL_ENOENT);
    json_t *al = ictal__store_alarm_json(&s, aid);
    CHECK_STR(json_string_value(json_object_get(al, "state")), "resolved");
    CHECK_STR(json_string_value(json_object_get(al, "acked_by")), "nurse");
    CHECK_NEAR(json_real_value(json_object_get(al, "offset_s")), 90, 0);
    json_decref(al);

    /* Outbox: three transitions queued, retried with a later due time, then delivered. */
    ictal__outbox_item items[8];
    int n = ictal__store_outbox_due(&s, ictal__now_s() + 1, items, 8);
    CHECK_EQ_INT(n, 3);
    CHECK(n == 3 && strcmp(items[0].event_id, items[1].event_id) != 0);
    CHECK(n == 3 && strstr(items[0].body, "\"alarm.raised\"") != NULL);
    CHECK(n == 3 && strstr(items[2].body, "\"alarm.resolved\"") != NULL);
    for (int i = 0; i < n; i++) {
        if (i == 0)
            ictal__store_outbox_retry(&s, items[i].id, ictal__now_s() + 100, "HTTP 500");
        else
            ictal__store_outbox_done(&s, items[i].id, ictal__now_s());
        free(items[i].url);
        free(items[i].body);
    }
    CHECK_EQ_INT(ictal__store_outbox_due(&s, ictal__now_s() + 1, items, 8), 0);
    ictal__store_outbox_counts(&s, &pending, &delivered);
    CHECK_EQ_INT(pending, 1);
    CHECK_EQ_INT(delivered, 2);

    /* API tokens: roles, and a wrong secret gets nothing. */
    char tok[96], name[64];
    CHECK_EQ_INT(ictal__store_token_create(&s, "ward", ICTAL_ROLE_CLINICIAN, 0, tok, sizeof tok), 0);
    CHECK_EQ_INT(ictal__store_token_role(&s, tok, name, sizeof name), ICTAL_ROLE_CLINICIAN);
    CHECK_STR(name, "ward");
    tok[strlen(tok) - 1] ^= 1;
    CHECK_EQ_INT(ictal__store_token_role(&s, tok, NULL, 0), ICTAL_ROLE_NONE);
    CHECK_EQ_INT(ictal__store_token_role(&s, "nonsense", NULL, 0), ICTAL_ROLE_NONE);
    CHECK_EQ_INT(ictal__store_token_role(&s, NULL, NULL, 0), ICTAL_ROLE_NONE);

    /* Progress of many sessions at once (two statements of a batch and a rest). */
    ictal__progress pr[ICTAL_PROGRESS_BATCH + 6];
    int n_pr = (int)(sizeof pr / sizeof pr[0]);
    for (int i = 0; i < n_pr; i++) {
        char stream[32];
        snprintf(stream, sizeof stream, "batch-%d", i);
        pr[i] = (ictal__progress){0, i, (uint64_t)i + 1, 64 * ((uint64_t)i + 1)};
        ictal__store_session_get(&s, "dev-1", stream, labels, 256, 0, &pr[i].session_id, &created);
    }
    CHECK_EQ_INT(ictal__store_sessions_progress(&s, pr, n_pr), 0);
    for (int i = 0; i < n_pr; i += 23) {
        row = ictal__store_session_json(&s, pr[i].session_id);
        CHECK_EQ_INT(json_integer_value(json_object_get(row, "last_seq")), i);
        CHECK_EQ_INT(json_integer_value(json_object_get(row, "samples")), 64 * (i + 1));
        json_decref(row);
    }
    row = ictal__store_session_json(&s, pr[n_pr - 1].session_id);
    CHECK_EQ_INT(json_integer_value(json_object_get(row, "frames")), n_pr);
    json_decref(row);

    /* A parameter is data, never SQL. */
    CHECK_EQ_INT(ictal__store_device_auth(&s, "x' OR '1'='1", "secret-token-1"), ICTAL_ENOENT);
    json_decref(labels);
    ictal__store_close(&s);

    /* Reopening runs no migration twice; a newer schema is refused. */
    CHECK_EQ_INT(ictal__store_open(&s, path, NULL, &d), 0);
    CHECK_EQ_INT(ictal__store_user_version(&s), ICTAL_STORE_SCHEMA_VERSION);
    CHECK_EQ_INT(ictal__db_set_schema_version(s.db, 99), 0);
    ictal__store_close(&s);
    CHECK_EQ_INT(ictal__store_open(&s, path, NULL, &d), ICTAL_EVERSION);
    CHECK(strstr(d.message, "schema version 99") != NULL);
    CHECK(!postgres || strstr(d.message, "postgresql://") == NULL); /* the URI is not repeated */
}

static int64_t count(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int64_t n = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

/*
 * A database of schema 2 (before token last use and password change times) upgrades in
 * place: its users, password hashes, API tokens and sign-in sessions keep working. The
 * schema-2 file is made from a current one by removing what migration 3 adds.
 */
static void test_upgrade_from_2(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/v2.db", dir);
    ictal__store s;
    ictal_diag d;
    ictal_diag_init(&d);
    CHECK_EQ_INT(ictal__store_open(&s, path, NULL, &d), 0);
    if (s.db == NULL)
        return;
    CHECK_EQ_INT(ictal__store_user_add(&s, "ward-admin", "old admin password", ICTAL_ROLE_ADMIN, &d), 0);
    char tok[96];
    ictal__login in;
    CHECK_EQ_INT(ictal__store_token_create(&s, "ward", ICTAL_ROLE_VIEWER, 0, tok, sizeof tok), 0);
    CHECK_EQ_INT(ictal__store_session_open(&s, "ward-admin", 3600, &in), 0);
    sqlite3 *h = NULL;
    CHECK_EQ_INT(sqlite3_open(path, &h), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_exec(h, "ALTER TABLE api_tokens DROP COLUMN last_used_at;"
                                    "ALTER TABLE users DROP COLUMN password_changed_at;"
                                    "PRAGMA user_version=2;", NULL, NULL, NULL), SQLITE_OK);
    CHECK_EQ_INT(count(h, "SELECT COUNT(*) FROM pragma_table_info('api_tokens')"
                          " WHERE name = 'last_used_at'"), 0);
    ictal__store_close(&s);

    CHECK_EQ_INT(ictal__store_open(&s, path, NULL, &d), 0);
    CHECK_EQ_INT(ictal__store_user_version(&s), 3);
    CHECK_EQ_INT(count(h, "SELECT COUNT(*) FROM pragma_table_info('api_tokens')"
                             " WHERE name = 'last_used_at'"), 1);
    CHECK_EQ_INT(count(h, "SELECT COUNT(*) FROM pragma_table_info('users')"
                             " WHERE name = 'password_changed_at'"), 1);
    /* Old rows: no last use yet, no password change. */
    CHECK_EQ_INT(count(h, "SELECT COUNT(*) FROM api_tokens WHERE last_used_at IS NULL"), 2);
    CHECK_EQ_INT(count(h, "SELECT COUNT(*) FROM users WHERE password_changed_at IS NULL"), 1);
    char name[64], stored[ICTAL_USER_NAME_MAX + 1], hash[ICTAL_PASSWORD_HASH_MAX];
    int role = 0;
    CHECK_EQ_INT(ictal__store_token_role(&s, tok, name, sizeof name), ICTAL_ROLE_VIEWER);
    CHECK_EQ_INT(ictal__store_token_role(&s, in.token, name, sizeof name), ICTAL_ROLE_ADMIN);
    CHECK_STR(name, "ward-admin");
    CHECK_EQ_INT(ictal__store_user_lookup(&s, "WARD-ADMIN", stored, &role, hash), 0);
    CHECK_EQ_INT(ictal__password_verify("old admin password", hash), 0);
    /* What schema 3 adds works on the upgraded rows. */
    json_t *toks = ictal__store_tokens_json(&s);
    CHECK_EQ_INT((long long)json_array_size(toks), 1); /* the API token, not the session */
    CHECK(json_number_value(json_object_get(json_array_get(toks, 0), "last_used_at")) > 1e9);
    CHECK(json_is_null(json_object_get(json_array_get(toks, 0), "expires_at")));
    json_decref(toks);
    char newhash[ICTAL_PASSWORD_HASH_MAX];
    CHECK_EQ_INT(ictal__password_hash("new admin password", newhash, sizeof newhash), 0);
    CHECK_EQ_INT(ictal__store_user_set_password(&s, "ward-admin", newhash, NULL), 0);
    CHECK_EQ_INT(ictal__store_token_role(&s, in.token, NULL, 0), ICTAL_ROLE_NONE);
    CHECK_EQ_INT(count(h, "SELECT COUNT(*) FROM users WHERE password_changed_at > 1e9"), 1);
    sqlite3_close(h);
    ictal__store_close(&s);
}

/* Users: the last enabled admin can be neither disabled nor demoted; roles carry over to
 * open sessions; re-enabling; API tokens listed without secrets, revoked, expiring. */
static void test_users_tokens(int postgres)
{
    char buf[512];
    const char *path = target(postgres, "t_users", buf, sizeof buf);
    ictal__store s;
    ictal_diag d;
    ictal_diag_init(&d);
    CHECK_EQ_INT(ictal__store_open(&s, path, NULL, &d), 0);
    if (s.db == NULL)
        return;
    char h[ICTAL_PASSWORD_HASH_MAX];
    CHECK_EQ_INT(ictal__password_hash("some password", h, sizeof h), 0);
    CHECK_EQ_INT(ictal__store_user_insert(&s, "a1", ICTAL_ROLE_ADMIN, h, &d), 0);
    CHECK_EQ_INT(ictal__store_user_insert(&s, "a2", ICTAL_ROLE_ADMIN, h, &d), 0);
    CHECK_EQ_INT(ictal__store_user_insert(&s, "v1", ICTAL_ROLE_VIEWER, h, &d), 0);
    ictal__login a1, v1a, v1b;
    CHECK_EQ_INT(ictal__store_session_open(&s, "a1", 3600, &a1), 0);
    CHECK_EQ_INT(ictal__store_session_open(&s, "v1", 3600, &v1a), 0);
    CHECK_EQ_INT(ictal__store_session_open(&s, "v1", 3600, &v1b), 0);
    /* Two admins: one may go; then the other is the last. */
    CHECK_EQ_INT(ictal__store_user_disable(&s, "A2"), 0);
    CHECK_EQ_INT(ictal__store_user_disable(&s, "a1"), ICTAL_ESTATE);
    CHECK_EQ_INT(ictal__store_user_set_role(&s, "a1", ICTAL_ROLE_CLINICIAN), ICTAL_ESTATE);
    CHECK_EQ_INT(ictal__store_user_set_role(&s, "a1", ICTAL_ROLE_ADMIN), 0);
    CHECK_EQ_INT(ictal__store_token_role(&s, a1.token, NULL, 0), ICTAL_ROLE_ADMIN);
    /* A disabled admin does not count; re-enabled it does. */
    CHECK_EQ_INT(ictal__store_user_enable(&s, "a2"), 0);
    CHECK_EQ_INT(ictal__store_user_enable(&s, "a2"), ICTAL_ENOENT);
    CHECK_EQ_INT(ictal__store_user_enable(&s, "nobody"), ICTAL_ENOENT);
    CHECK_EQ_INT(ictal__store_user_set_role(&s, "a1", ICTAL_ROLE_CLINICIAN), 0);
    CHECK_EQ_INT(ictal__store_token_role(&s, a1.token, NULL, 0), ICTAL_ROLE_CLINICIAN);
    CHECK_EQ_INT(ictal__store_user_set_role(&s, "nobody", ICTAL_ROLE_VIEWER), ICTAL_ENOENT);
    CHECK_EQ_INT(ictal__store_user_set_role(&s, "v1", ICTAL_ROLE_NONE), ICTAL_EINVAL);
    /* Roles of other users' sessions are untouched; a password change keeps one session. */
    CHECK_EQ_INT(ictal__store_token_role(&s, v1a.token, NULL, 0), ICTAL_ROLE_VIEWER);
    char id[17];
    snprintf(id, sizeof id, "%.16s", v1b.token);
    CHECK_EQ_INT(ictal__store_user_set_password(&s, "V1", h, id), 0);
    CHECK_EQ_INT(ictal__store_token_role(&s, v1a.token, NULL, 0), ICTAL_ROLE_NONE);
    CHECK_EQ_INT(ictal__store_token_role(&s, v1b.token, NULL, 0), ICTAL_ROLE_VIEWER);
    CHECK_EQ_INT(ictal__store_user_set_password(&s, "nobody", h, NULL), ICTAL_ENOENT);
    char user[80];
    CHECK_EQ_INT(ictal__store_session_user(&s, v1b.token, user, sizeof user), 0);
    CHECK_STR(user, "v1");

    /* API tokens: listed without secrets; revoked by id; sessions are not API tokens. */
    char t1[96], t2[96];
    CHECK_EQ_INT(ictal__store_token_create(&s, "display", ICTAL_ROLE_VIEWER, 0, t1, sizeof t1), 0);
    CHECK_EQ_INT(ictal__store_token_create(&s, "short", ICTAL_ROLE_VIEWER, ictal__now_s() - 1, t2,
                                           sizeof t2), 0);
    CHECK_EQ_INT(ictal__store_session_user(&s, t1, user, sizeof user), ICTAL_ENOENT);
    CHECK_EQ_INT(ictal__store_token_role(&s, t2, NULL, 0), ICTAL_ROLE_NONE); /* expired */
    json_t *list = ictal__store_tokens_json(&s);
    char *txt = json_dumps(list, 0);
    CHECK_EQ_INT((long long)json_array_size(list), 2);
    CHECK(txt && strstr(txt, t1 + 17) == NULL && strstr(txt, "\"display\"") != NULL);
    CHECK(json_number_value(json_object_get(json_array_get(list, 1), "expires_at")) > 1e9);
    free(txt);
    json_decref(list);
    snprintf(id, sizeof id, "%.16s", t1);
    CHECK_EQ_INT(ictal__store_token_live(&s, id, user, sizeof user), ICTAL_ROLE_VIEWER);
    CHECK_STR(user, "display");
    CHECK_EQ_INT(ictal__store_token_revoke(&s, id), 0);
    CHECK_EQ_INT(ictal__store_token_revoke(&s, id), ICTAL_ENOENT);
    CHECK_EQ_INT(ictal__store_token_live(&s, id, NULL, 0), ICTAL_ROLE_NONE);
    CHECK_EQ_INT(ictal__store_token_role(&s, t1, NULL, 0), ICTAL_ROLE_NONE);
    snprintf(id, sizeof id, "%.16s", v1b.token);
    CHECK_EQ_INT(ictal__store_token_revoke(&s, id), ICTAL_ENOENT);
    CHECK_EQ_INT(ictal__store_token_role(&s, v1b.token, NULL, 0), ICTAL_ROLE_VIEWER);
    ictal__store_close(&s);
}

/* PostgreSQL failures are clear errors, never crashes: no server, an unknown user (whose
 * password never shows in the message), and the server going away under an open store
 * (the call fails; a later one reconnects). */
static void test_pg_errors(void)
{
    char url[512];
    ictal__store s;
    ictal_diag d;
    ictal_diag_init(&d);
    snprintf(url, sizeof url, "postgresql://nobody:pw-never-shown@/x?host=%s&port=1", pg.dir);
    CHECK_EQ_INT(ictal__store_open(&s, url, NULL, &d), ICTAL_EIO);
    CHECK(strstr(d.message, "postgresql: cannot connect") != NULL);
    CHECK(strstr(d.message, "pw-never-shown") == NULL);
    ictal_diag_init(&d);
    snprintf(url, sizeof url, "postgresql://nobody@/t_store?host=%s&port=%d", pg.dir, pg.port);
    CHECK_EQ_INT(ictal__store_open(&s, url, "pw-never-shown", &d), ICTAL_EIO);
    CHECK(strstr(d.message, "\"nobody\"") != NULL); /* role "nobody" does not exist */
    CHECK(strstr(d.message, "pw-never-shown") == NULL);

    /* A password: wrong, given (as --db-password-file gives it), from PGPASSWORD. */
    CHECK_EQ_INT(tpg_createdb_pw(&pg, "t_pw", url, sizeof url), 0);
    ictal_diag_init(&d);
    CHECK_EQ_INT(ictal__store_open(&s, url, "wrong-pw-never-shown", &d), ICTAL_EIO);
    CHECK(strstr(d.message, "password authentication failed") != NULL);
    CHECK(strstr(d.message, "wrong-pw-never-shown") == NULL);
    CHECK_EQ_INT(ictal__store_open(&s, url, TPG_PW_PASSWORD, &d), 0);
    if (s.db) {
        CHECK_EQ_INT(ictal__store_user_version(&s), ICTAL_STORE_SCHEMA_VERSION);
        ictal__store_close(&s);
    }
    setenv("PGPASSWORD", TPG_PW_PASSWORD, 1);
    CHECK_EQ_INT(ictal__store_open(&s, url, NULL, &d), 0);
    if (s.db) {
        CHECK_EQ_INT(ictal__store_device_add(&s, "dev-1", "t"), 0);
        ictal__store_close(&s);
    }
    unsetenv("PGPASSWORD");

    CHECK_EQ_INT(tpg_createdb(&pg, "t_lost", url, sizeof url), 0);
    ictal_diag_init(&d);
    CHECK_EQ_INT(ictal__store_open(&s, url, NULL, &d), 0);
    if (s.db == NULL)
        return;
    CHECK_EQ_INT(ictal__store_device_add(&s, "dev-1", "secret-token-1"), 0);
    CHECK_EQ_INT(ictal__store_device_auth(&s, "dev-1", "secret-token-1"), 0);
    tpg_server_stop(&pg);
    CHECK_EQ_INT(ictal__store_device_auth(&s, "dev-1", "secret-token-1"), ICTAL_EIO);
    CHECK_EQ_INT(ictal__store_device_add(&s, "dev-9", "t"), ICTAL_EIO);
    json_t *a = ictal__store_alarms_json(&s, NULL, 0, 10);
    CHECK(json_is_array(a) && json_array_size(a) == 0);
    json_decref(a);
    CHECK_EQ_INT(tpg_server_start(&pg), 0);
    sleep(3); /* one reconnection attempt every 2 s */
    CHECK_EQ_INT(ictal__store_device_auth(&s, "dev-1", "secret-token-1"), 0);
    CHECK_EQ_INT(ictal__store_device_add(&s, "dev-9", "t"), 0);
    ictal__store_close(&s);
}

/* Opening PostgreSQL: a URI that libpq cannot parse is refused without the text libpq
 * quotes from it (it may be the password), and a server that accepts the connection but
 * never answers is given up after the short default connect_timeout (the event loop
 * waits for each reconnection attempt). */
static void test_pg_open(void)
{
    ictal__db *db = NULL;
    ictal_diag d;
    static const char *bad[] = {"postgresql://u:sec%zzret@/db", "postgresql://u:secret@[::1/db"};
    for (int i = 0; i < 2; i++) {
        ictal_diag_init(&d);
        CHECK_EQ_INT(ictal__db_open(&db, bad[i], NULL, &d), ICTAL_EINVAL);
        CHECK(strstr(d.message, "postgresql") != NULL);
        CHECK(strstr(d.message, "sec") == NULL);
        CHECK(db == NULL);
    }

    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && listen(fd, 4) == 0 &&
          getsockname(fd, (struct sockaddr *)&a, &alen) == 0);
    char url[128];
    snprintf(url, sizeof url, "postgresql://u@127.0.0.1:%d/db", ntohs(a.sin_port));
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ictal_diag_init(&d);
    CHECK_EQ_INT(ictal__db_open(&db, url, NULL, &d), ICTAL_EIO);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    fprintf(stderr, "test_server_store: a silent server was given up after %.1f s\n", s);
    CHECK(s >= 1.5 && s < 6.0);
    CHECK(strstr(d.message, "timeout") != NULL);
    close(fd);
}

/* PostgreSQL parameters: ?N repeated and out of order, a bare ? numbered on from the one
 * before, and no ? or ' inside a string, a quoted name or a comment taken for one; a
 * statement of 200 bare ? (their $N are longer than they are). */
static void test_pg_params(void)
{
    char url[512];
    ictal_diag d;
    ictal_diag_init(&d);
    CHECK_EQ_INT(tpg_createdb(&pg, "t_params", url, sizeof url), 0);
    ictal__db *db = NULL;
    CHECK_EQ_INT(ictal__db_open(&db, url, NULL, &d), 0);
    if (db == NULL)
        return;
    ictal__stmt *st = ictal__db_prepare(db, "SELECT ?2 * 1000 + ?1 * 100 + ?2 * 10 + ?, 'what?', \"a?\""
                                            " FROM (SELECT 1 AS \"a?\") AS \"it's\" -- isn't it?\n"
                                            " WHERE ?1 > 0 /* and ? */");
    CHECK(st != NULL);
    if (st) {
        ictal__db_bind_int64(st, 1, 1);
        ictal__db_bind_int64(st, 2, 2);
        ictal__db_bind_int64(st, 3, 3);
        CHECK_EQ_INT(ictal__db_step(st), ICTAL_DB_ROW);
        CHECK_EQ_INT(ictal__db_column_int64(st, 0), 2123);
        CHECK_STR(ictal__db_column_text(st, 1), "what?");
        CHECK_EQ_INT(ictal__db_column_int64(st, 2), 1);
        ictal__db_finalize(st);
    }
    char sql[1024] = "SELECT ?";
    for (int i = 1; i < 200; i++)
        strcat(sql, "+?");
    st = ictal__db_prepare(db, sql);
    CHECK(st != NULL);
    if (st) {
        for (int i = 1; i <= 200; i++)
            ictal__db_bind_int64(st, i, i);
        CHECK_EQ_INT(ictal__db_step(st), ICTAL_DB_ROW);
        CHECK_EQ_INT(ictal__db_column_int64(st, 0), 200 * 201 / 2);
        ictal__db_finalize(st);
    }
    CHECK(ictal__db_prepare(db, "SELECT ?99999999999999999999") == NULL);
    ictal__db_close(db);
}

/* PostgreSQL values round trip exactly: int64 extremes, doubles to the last bit (and the
 * infinities and NaN), text with quotes and backslashes, bytea with every byte value
 * (and empty), NULL of each. */
static void test_pg_types(void)
{
    char url[512];
    ictal_diag d;
    ictal_diag_init(&d);
    CHECK_EQ_INT(tpg_createdb(&pg, "t_types", url, sizeof url), 0);
    ictal__db *db = NULL;
    CHECK_EQ_INT(ictal__db_open(&db, url, NULL, &d), 0);
    if (db == NULL)
        return;
    CHECK_EQ_INT(ictal__db_exec(db, "CREATE TABLE v (n {INT}, i {INT}, x {REAL}, t TEXT, b {BLOB})"), 0);
    static const int64_t ints[] = {INT64_MAX, INT64_MIN, 0, -1};
    static const double reals[] = {0.1, 1e308, -4.9e-324, 1.0 / 3.0};
    unsigned char bytes[256];
    for (int i = 0; i < 256; i++)
        bytes[i] = (unsigned char)i;
    static const char *texts[] = {"it's \\x00 \"q\" ?1 $1", "", "ünïcödé", NULL};
    for (int r = 0; r < 4; r++) {
        ictal__stmt *st = ictal__db_prepare(db, "INSERT INTO v VALUES (?1, ?2, ?3, ?4, ?5)");
        ictal__db_bind_int64(st, 1, r);
        ictal__db_bind_int64(st, 2, ints[r]);
        ictal__db_bind_double(st, 3, reals[r]);
        ictal__db_bind_text(st, 4, texts[r]);
        if (r < 3)
            ictal__db_bind_blob(st, 5, bytes, r == 1 ? 0 : 256);
        else
            ictal__db_bind_null(st, 5);
        CHECK_EQ_INT(ictal__db_step(st), ICTAL_DB_DONE);
        ictal__db_finalize(st);
    }
    ictal__stmt *st = ictal__db_prepare(db, "SELECT i, x, t, b FROM v ORDER BY n");
    for (int r = 0; st && r < 4; r++) {
        CHECK_EQ_INT(ictal__db_step(st), ICTAL_DB_ROW);
        CHECK(ictal__db_column_int64(st, 0) == ints[r]);
        CHECK(ictal__db_column_double(st, 1) == reals[r]);
        if (texts[r])
            CHECK_STR(ictal__db_column_text(st, 2), texts[r]);
        else
            CHECK_EQ_INT(ictal__db_column_type(st, 2), ICTAL_DB_NULL);
        if (r < 3) {
            CHECK_EQ_INT(ictal__db_column_type(st, 3), ICTAL_DB_BLOB);
            CHECK_EQ_INT(ictal__db_column_bytes(st, 3), r == 1 ? 0 : 256);
            CHECK(r == 1 || memcmp(ictal__db_column_blob(st, 3), bytes, 256) == 0);
        } else {
            CHECK_EQ_INT(ictal__db_column_type(st, 3), ICTAL_DB_NULL);
        }
    }
    CHECK_EQ_INT(ictal__db_step(st), ICTAL_DB_DONE);
    ictal__db_finalize(st);
    /* Infinities and NaN: PostgreSQL keeps them (SQLite stores NaN as NULL). */
    st = ictal__db_prepare(db, "SELECT CAST(?1 AS DOUBLE PRECISION), CAST(?2 AS DOUBLE PRECISION),"
                               " CAST(?3 AS DOUBLE PRECISION)");
    ictal__db_bind_double(st, 1, 1.0 / 0.0);
    ictal__db_bind_double(st, 2, -1.0 / 0.0);
    ictal__db_bind_double(st, 3, 0.0 / 0.0);
    CHECK_EQ_INT(ictal__db_step(st), ICTAL_DB_ROW);
    CHECK(ictal__db_column_double(st, 0) == 1.0 / 0.0);
    CHECK(ictal__db_column_double(st, 1) == -1.0 / 0.0);
    double nan = ictal__db_column_double(st, 2);
    CHECK(nan != nan);
    ictal__db_finalize(st);
    ictal__db_close(db);
}

/* Runs sql with int64 parameters ?1.. (n of them) on db: ICTAL_DB_DONE, or ICTAL_EIO. */
static int db_run(ictal__db *db, const char *sql, int n, const int64_t *v)
{
    ictal__stmt *st = ictal__db_prepare(db, sql);
    if (st == NULL)
        return ICTAL_EIO;
    for (int i = 0; i < n; i++)
        ictal__db_bind_int64(st, i + 1, v[i]);
    int r = ictal__db_step(st);
    while (r == ICTAL_DB_ROW)
        r = ictal__db_step(st);
    ictal__db_finalize(st);
    return r;
}

/* The int64 in the first column of the first row of sql, -1 when none. */
static int64_t db_int(ictal__db *db, const char *sql)
{
    ictal__stmt *st = ictal__db_prepare(db, sql);
    int64_t v = -1;
    if (st && ictal__db_step(st) == ICTAL_DB_ROW)
        v = ictal__db_column_int64(st, 0);
    ictal__db_finalize(st);
    return v;
}

#define INS_K "INSERT INTO t(k) VALUES (?1)"

/* PostgreSQL transactions that fail: a failed statement aborts the whole transaction, so
 * its COMMIT must fail (PostgreSQL answers it with ROLLBACK); a write transaction whose
 * lock cannot be taken leaves no transaction open behind it; a transaction whose
 * connection is lost stays failed until it ends, never carried on in autocommit on the
 * new connection. */
static void test_pg_transactions(void)
{
    char url[512];
    ictal_diag d;
    ictal_diag_init(&d);
    CHECK_EQ_INT(tpg_createdb(&pg, "t_tx", url, sizeof url), 0);
    ictal__db *db = NULL, *other = NULL;
    CHECK_EQ_INT(ictal__db_open(&db, url, NULL, &d), 0);
    CHECK_EQ_INT(ictal__db_open(&other, url, NULL, &d), 0);
    if (db == NULL || other == NULL)
        goto out;
    CHECK_EQ_INT(ictal__db_exec(db, "CREATE TABLE t (k BIGINT PRIMARY KEY)"), 0);

    /* A duplicate key inside a transaction: the commit fails, nothing is kept. */
    int64_t k[1] = {1};
    CHECK_EQ_INT(ictal__db_begin_write(db), 0);
    CHECK_EQ_INT(db_run(db, INS_K, 1, k), ICTAL_DB_DONE);
    CHECK_EQ_INT(db_run(db, INS_K, 1, k), ICTAL_EIO);
    CHECK(ictal__db_commit(db) != 0);
    CHECK_EQ_INT(db_int(db, "SELECT COUNT(*) FROM t"), 0);
    CHECK_EQ_INT(ictal__db_begin(db), 0);
    CHECK_EQ_INT(db_run(db, INS_K, 1, k), ICTAL_DB_DONE);
    CHECK_EQ_INT(ictal__db_commit(db), 0);
    CHECK_EQ_INT(db_int(db, "SELECT COUNT(*) FROM t"), 1);

    /* The write lock held by another connection past lock_timeout: begin_write fails,
     * and the connection is usable again once the lock is free. */
    char url_lt[600];
    snprintf(url_lt, sizeof url_lt, "%s&options=-c%%20lock_timeout%%3D200", url);
    ictal__db *lt = NULL;
    CHECK_EQ_INT(ictal__db_open(&lt, url_lt, NULL, &d), 0);
    if (lt) {
        CHECK_EQ_INT(ictal__db_begin_write(other), 0);
        CHECK(ictal__db_begin_write(lt) != 0);
        CHECK_EQ_INT(ictal__db_rollback(other), 0);
        k[0] = 2;
        CHECK_EQ_INT(db_run(lt, INS_K, 1, k), ICTAL_DB_DONE);
        CHECK_EQ_INT(ictal__db_begin_write(lt), 0);
        k[0] = 3;
        CHECK_EQ_INT(db_run(lt, INS_K, 1, k), ICTAL_DB_DONE);
        CHECK_EQ_INT(ictal__db_commit(lt), 0);
        ictal__db_close(lt);
    }
    CHECK_EQ_INT(db_int(db, "SELECT COUNT(*) FROM t"), 3);

    /* A server stopped inside a write transaction holds the lock: another one waits for
     * it a bounded time (its event loop waits with it), not for ever. */
    CHECK_EQ_INT(ictal__db_begin_write(other), 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    alarm(30); /* (a wait without end ends the test) */
    CHECK(ictal__db_begin_write(db) != 0);
    alarm(0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double waited_s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    CHECK(waited_s >= 4.0 && waited_s < 8.0);
    CHECK(strstr(ictal__db_errmsg(db), "lock timeout") != NULL);
    CHECK_EQ_INT(ictal__db_rollback(other), 0);
    CHECK_EQ_INT(ictal__db_begin_write(db), 0);
    CHECK_EQ_INT(ictal__db_commit(db), 0);

    /* The connection lost mid-transaction (its backend terminated). */
    CHECK_EQ_INT(ictal__db_begin_write(db), 0);
    k[0] = 10;
    CHECK_EQ_INT(db_run(db, INS_K, 1, k), ICTAL_DB_DONE);
    k[0] = db_int(db, "SELECT pg_backend_pid()");
    CHECK_EQ_INT(db_run(other, "SELECT pg_terminate_backend(CAST(?1 AS INTEGER))", 1, k), ICTAL_DB_DONE);
    k[0] = 11;
    CHECK_EQ_INT(db_run(db, INS_K, 1, k), ICTAL_EIO);
    sleep(3); /* past the 2 s between reconnection attempts */
    k[0] = 12;
    CHECK_EQ_INT(db_run(db, INS_K, 1, k), ICTAL_EIO);
    CHECK(ictal__db_commit(db) != 0);
    k[0] = 13;
    CHECK_EQ_INT(db_run(db, INS_K, 1, k), ICTAL_DB_DONE);
    CHECK_EQ_INT(db_int(db, "SELECT COUNT(*) FROM t WHERE k >= 10"), 1);
    CHECK_EQ_INT(db_int(db, "SELECT k FROM t WHERE k >= 10"), 13);
out:
    ictal__db_close(other);
    ictal__db_close(db);
}

static size_t frame(uint8_t *buf, uint64_t seq, int64_t t_us)
{
    int16_t payload[2 * 8];
    for (int i = 0; i < 16; i++)
        payload[i] = (int16_t)(seq * 100 + (uint64_t)i);
    ictal_wire_frame f = {seq, t_us, ICTAL_WIRE_INT16, 2, 8, 1.0f, (const uint8_t *)payload,
                          sizeof payload};
    return (size_t)ictal_wire_encode(buf, 256, &f);
}

static int count_cb(void *user, const ictal_wire_frame *f)
{
    int64_t *next = user;
    if ((int64_t)f->seq != *next)
        return 1;
    (*next)++;
    return 0;
}

static void test_seslog(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/1.frames", dir);
    ictal__seslog log;
    ictal_diag d;
    ictal_diag_init(&d);
    CHECK_EQ_INT(ictal__seslog_open(&log, path, 256, &d), 0);
    CHECK_EQ_INT(log.last_seq, -1);
    uint8_t buf[256];
    for (uint64_t k = 0; k < 10; k++) {
        size_t n = frame(buf, k, (int64_t)k * 31250);
        ictal_wire_frame f;
        CHECK_EQ_INT(ictal_wire_parse(buf, n, &f, NULL), 0);
        CHECK_EQ_INT(ictal__seslog_append(&log, buf, n, &f, 256), 0);
    }
    /* Not the next sequence number: refused. */
    size_t n = frame(buf, 12, 0);
    ictal_wire_frame f;
    ictal_wire_parse(buf, n, &f, NULL);
    CHECK_EQ_INT(ictal__seslog_append(&log, buf, n, &f, 256), ICTAL_ESTATE);
    CHECK_EQ_INT(log.last_time_us, 10 * 31250);
    ictal__seslog_close(&log);

    /* A torn last entry (a crash inside a write) is cut off at reopen. */
    int fd = open(path, O_WRONLY | O_APPEND);
    n = frame(buf, 10, 0);
    uint8_t len[4] = {(uint8_t)n, 0, 0, 0};
    CHECK(write(fd, len, 4) == 4 && write(fd, buf, n / 2) == (ssize_t)(n / 2));
    close(fd);
    CHECK_EQ_INT(ictal__seslog_open(&log, path, 256, &d), 0);
    CHECK_EQ_INT(log.last_seq, 9);
    CHECK_EQ_INT(log.frames, 10);
    CHECK_EQ_INT(log.samples, 80);
    n = frame(buf, 10, 10 * 31250);
    ictal_wire_parse(buf, n, &f, NULL);
    CHECK_EQ_INT(ictal__seslog_append(&log, buf, n, &f, 256), 0);
    ictal__seslog_close(&log);
    int64_t next = 0;
    CHECK_EQ_INT(ictal__seslog_walk(path, count_cb, &next, &d), 0);
    CHECK_EQ_INT(next, 11);

    /* Garbage in the middle is an error naming the byte offset. */
    fd = open(path, O_WRONLY);
    CHECK(pwrite(fd, "XXXX", 4, 4) == 4); /* the first frame's magic, after its length */
    close(fd);
    ictal_diag_init(&d);
    CHECK_EQ_INT(ictal__seslog_open(&log, path, 256, &d), ICTAL_EFORMAT);
    CHECK_EQ_INT(d.offset, 4);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/ictal-store-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return 1;
    test_store(0);
    test_upgrade_from_2();
    test_users_tokens(0);
    test_seslog();
    int r = tpg_start(&pg);
    if (r == TEST_SKIP_CODE) {
        fprintf(stderr, "test_server_store: PostgreSQL is not installed (Debian package postgresql):"
                        " the store was checked on SQLite only\n");
    } else {
        CHECK_EQ_INT(r, 0);
        pg_up = r == 0;
    }
    if (pg_up) {
        test_store(1);
        test_users_tokens(1);
        test_pg_errors();
        test_pg_transactions();
        test_pg_open();
        test_pg_params();
        test_pg_types();
    }
    tpg_stop(&pg);
    test_remove_dir(dir);
    return test_summary();
}
