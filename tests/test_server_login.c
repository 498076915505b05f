/*
 * User accounts and password sign-in against the real server on 127.0.0.1: the first
 * account made with `ictal serve --add-user` (password on stdin), more over
 * POST /api/users; POST /api/login gives a session token that works as a bearer token
 * per role (a viewer reads but cannot acknowledge, a clinician acknowledges under its
 * user name); one 401 answer for an unknown user and a wrong password; the per-address
 * throttle (429 with Retry-After, other addresses unaffected); logout, disabled users
 * and expired sessions refused; sessions survive a restart; a session token on the
 * dashboard WebSocket, which is signed out when its user is disabled; passwords stored
 * only as salted scrypt hashes (read from the SQLite file).
 */
#define _GNU_SOURCE /* memmem */
#include "server_test_util.h"

#include <libwebsockets.h>
#include <sqlite3.h>
#include <strings.h>

#include "ictal/server.h"

static test_server srv;
static char dir[64];

typedef struct reply {
    long status;
    char *body;
    char retry_after[32];
} reply;

static size_t on_header(char *p, size_t sz, size_t n, void *u)
{
    reply *r = u;
    size_t len = sz * n;
    if (len > 12 && strncasecmp(p, "retry-after:", 12) == 0)
        snprintf(r->retry_after, sizeof r->retry_after, "%.*s", (int)(len - 12), p + 12);
    return len;
}

/* One request from source address src (NULL: the default); r->body is malloc'd. */
static void http(const char *src, const char *method, const char *path, const char *token,
                 const char *body, reply *r)
{
    memset(r, 0, sizeof *r);
    r->status = ts_http_from(&srv, src, method, path, token, body, on_header, r, &r->body, NULL);
}

static long status_of(const char *method, const char *path, const char *token, const char *body)
{
    reply r;
    http(NULL, method, path, token, body, &r);
    free(r.body);
    return r.status;
}

/* POST /api/login from src; the status, and the token into tok (when 200). */
static long login(const char *src, const char *user, const char *password, char *tok, size_t size,
                  char *err_body, size_t err_size)
{
    char req[512];
    snprintf(req, sizeof req, "{\"username\":\"%s\",\"password\":\"%s\"}", user, password);
    reply r;
    http(src, "POST", "/api/login", NULL, req, &r);
    if (tok)
        tok[0] = 0;
    if (err_body)
        snprintf(err_body, err_size, "%s", r.body ? r.body : "");
    if (r.status == 200) {
        json_t *j = json_loads(r.body ? r.body : "", 0, NULL);
        CHECK(j != NULL);
        CHECK_STR(json_string_value(json_object_get(j, "name")), user);
        double exp = json_number_value(json_object_get(j, "expires_at"));
        double now = (double)time(NULL);
        CHECK(exp > now + 11.9 * 3600 && exp < now + 12.1 * 3600);
        if (tok)
            snprintf(tok, size, "%s", json_string_value(json_object_get(j, "token")));
        json_decref(j);
    }
    free(r.body);
    return r.status;
}

/* --- a dashboard WebSocket (subprotocol ictal-dashboard-v1) ------------------------- */

/* One client context for the test's dashboard connections (in one thread). */
static struct lws_context *ws_ctx;

typedef struct ws_dash {
    const char *token;
    int sent, closed;
    int n_auth;
    char auth[4][256]; /* the "auth" messages received, in order */
} ws_dash;

static int ws_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    ws_dash *w = lws_get_opaque_user_data(wsi);
    (void)user;
    if (w == NULL)
        return 0;
    if (reason == LWS_CALLBACK_CLIENT_ESTABLISHED) {
        lws_callback_on_writable(wsi);
    } else if (reason == LWS_CALLBACK_CLIENT_WRITEABLE && !w->sent) {
        unsigned char b[LWS_PRE + 256];
        int n = snprintf((char *)b + LWS_PRE, 200, "{\"type\":\"auth\",\"token\":\"%s\"}", w->token);
        lws_write(wsi, b + LWS_PRE, (size_t)n, LWS_WRITE_TEXT);
        w->sent = 1;
    } else if (reason == LWS_CALLBACK_CLIENT_RECEIVE) {
        static const char auth[] = "{\"type\":\"auth\",";
        if (len >= sizeof auth - 1 && memcmp(in, auth, sizeof auth - 1) == 0 && w->n_auth < 4)
            snprintf(w->auth[w->n_auth++], sizeof w->auth[0], "%.*s", (int)len, (const char *)in);
    } else if (reason == LWS_CALLBACK_CLIENT_CLOSED || reason == LWS_CALLBACK_CLIENT_CONNECTION_ERROR) {
        w->closed = 1;
    }
    return 0;
}

static const struct lws_protocols ws_protocols[] = {{"ictal-dashboard-v1", ws_cb, 0, 65536, 0, NULL, 0},
                                                    {NULL, NULL, 0, 0, 0, NULL, 0}};

/* Connects a dashboard that signs in with token; w must outlive ws_ctx. */
static int ws_open(ws_dash *w, const char *token)
{
    memset(w, 0, sizeof *w);
    w->token = token;
    if (ws_ctx == NULL) {
        struct lws_context_creation_info info;
        memset(&info, 0, sizeof info);
        info.port = CONTEXT_PORT_NO_LISTEN;
        info.protocols = ws_protocols;
        lws_set_log_level(LLL_ERR, NULL);
        ws_ctx = lws_create_context(&info);
        if (ws_ctx == NULL)
            return -1;
    }
    struct lws_client_connect_info i;
    memset(&i, 0, sizeof i);
    i.context = ws_ctx;
    i.address = "127.0.0.1";
    i.port = srv.port;
    i.path = "/dashboard";
    i.host = i.address;
    i.origin = i.address;
    i.protocol = "ictal-dashboard-v1";
    i.local_protocol_name = "ictal-dashboard-v1";
    i.opaque_user_data = w;
    return lws_client_connect_via_info(&i) ? 0 : -1;
}

/* Services the connections until w has received n auth messages (or ~10 s passed; a
 * signed-in dashboard gets a status every second, which wakes the loop). */
static int ws_wait_auth(ws_dash *w, int n)
{
    time_t end = time(NULL) + 10;
    while (w->n_auth < n && !w->closed && time(NULL) < end)
        lws_service(ws_ctx, 0);
    return w->n_auth >= n;
}

/* Closes every dashboard connection. */
static void ws_close_all(void)
{
    if (ws_ctx)
        lws_context_destroy(ws_ctx);
    ws_ctx = NULL;
}

/* `ictal serve --data dir --add-user name --role role` with password on stdin. */
static int cli_add_user(const char *name, const char *role, const char *password)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' serve --data '%s' --add-user '%s' --role '%s' >/dev/null 2>&1",
             getenv("ICTAL"), dir, name, role);
    FILE *p = popen(cmd, "w");
    if (p == NULL)
        return -1;
    fprintf(p, "%s\n", password);
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* One raised alarm in the database (before the server starts), to acknowledge. */
static int64_t seed_alarm(void)
{
    char db[128];
    snprintf(db, sizeof db, "%s/ictal.db", dir);
    ictal__store s;
    ictal_diag d;
    ictal_diag_init(&d);
    CHECK_EQ_INT(ictal__store_open(&s, db, &d), 0);
    int64_t sid = 0, aid = 0;
    int created = 0;
    CHECK_EQ_INT(ictal__store_device_add(&s, "ward-1", "0123456789abcdef"), 0);
    json_t *labels = json_pack("[s]", "FP1-F7");
    CHECK_EQ_INT(ictal__store_session_get(&s, "ward-1", "s1", labels, 256, 0, &sid, &created), 0);
    json_t *chans = json_pack("[s]", "FP1-F7");
    ictal__alarm_in a = {sid, "ward-1", 1, 100.0, 104.0, 0.93, chans};
    CHECK_EQ_INT(ictal__store_alarm_raise(&s, &a, NULL, &aid, &created), 0);
    CHECK_EQ_INT(created, 1);
    json_decref(labels);
    json_decref(chans);
    ictal__store_close(&s);
    return aid;
}

static void test_cli(void)
{
    /* The first account, before any server ran: the CLI creates the database. */
    CHECK_EQ_INT(cli_add_user("ward-admin", "admin", "first admin password"), 0);
    CHECK_EQ_INT(cli_add_user("ward-admin", "admin", "another password"), 1);   /* taken */
    CHECK_EQ_INT(cli_add_user("Ward-Admin", "viewer", "another password"), 1);  /* case */
    CHECK_EQ_INT(cli_add_user("shorty", "viewer", "123456789"), 1);             /* < 10 */
    CHECK_EQ_INT(cli_add_user("bad name", "viewer", "long enough pw"), 1);
    CHECK_EQ_INT(cli_add_user("someone", "superuser", "long enough pw"), 1);
}

static void test_accounts(int64_t alarm_id)
{
    char admin[96], clin[96], view[96], body[512], body2[512];
    CHECK_EQ_INT(login(NULL, "ward-admin", "first admin password", admin, sizeof admin, NULL, 0), 200);
    CHECK(strlen(admin) > 20);
    /* Names compare without case; the session carries the stored name. */
    reply r;
    http(NULL, "POST", "/api/login", NULL,
         "{\"username\":\"WARD-ADMIN\",\"password\":\"first admin password\"}", &r);
    CHECK_EQ_INT(r.status, 200);
    CHECK(r.body && strstr(r.body, "\"name\":\"ward-admin\"") && strstr(r.body, "\"role\":\"admin\""));
    free(r.body);

    /* Accounts over the API (admin only), two with the same password. */
    const char *same = "same password 42";
    char req[256];
    snprintf(req, sizeof req, "{\"username\":\"dr-b\",\"password\":\"%s\",\"role\":\"clinician\"}", same);
    CHECK_EQ_INT(status_of("POST", "/api/users", admin, req), 201);
    snprintf(req, sizeof req, "{\"username\":\"screen\",\"password\":\"%s\",\"role\":\"viewer\"}", same);
    CHECK_EQ_INT(status_of("POST", "/api/users", admin, req), 201);
    CHECK_EQ_INT(status_of("POST", "/api/users", admin, req), 409);
    CHECK_EQ_INT(status_of("POST", "/api/users", admin,
                           "{\"username\":\"x1\",\"password\":\"short\",\"role\":\"viewer\"}"), 400);
    CHECK_EQ_INT(status_of("POST", "/api/users", admin,
                           "{\"username\":\"x2\",\"password\":\"long enough pw\",\"role\":\"root\"}"), 400);
    CHECK_EQ_INT(status_of("POST", "/api/users", admin, "{\"username\":\"x3\"}"), 400);
    /* The API token of admin.token manages users too. */
    CHECK_EQ_INT(status_of("POST", "/api/users", srv.token,
                           "{\"username\":\"nurse-c\",\"password\":\"nurse password\",\"role\":\"viewer\"}"),
                 201);

    CHECK_EQ_INT(login(NULL, "dr-b", same, clin, sizeof clin, NULL, 0), 200);
    CHECK_EQ_INT(login(NULL, "screen", same, view, sizeof view, NULL, 0), 200);
    CHECK(strcmp(clin, view) != 0);

    /* Roles: anyone signed in reads; only admins manage users. */
    CHECK_EQ_INT(status_of("GET", "/api/alarms", view, NULL), 200);
    CHECK_EQ_INT(status_of("GET", "/api/devices", clin, NULL), 200);
    CHECK_EQ_INT(status_of("GET", "/api/users", view, NULL), 403);
    CHECK_EQ_INT(status_of("GET", "/api/users", clin, NULL), 403);
    CHECK_EQ_INT(status_of("POST", "/api/users", clin, req), 403);
    CHECK_EQ_INT(status_of("DELETE", "/api/users/screen", view, NULL), 403);
    CHECK_EQ_INT(status_of("GET", "/api/alarms", "0123456789abcdef.nope", NULL), 401);

    /* The user list: names and roles, never a hash. */
    http(NULL, "GET", "/api/users", admin, NULL, &r);
    CHECK_EQ_INT(r.status, 200);
    json_t *users = json_loads(r.body ? r.body : "", 0, NULL);
    CHECK_EQ_INT((long long)json_array_size(users), 4);
    CHECK(r.body && strstr(r.body, "scrypt") == NULL && strstr(r.body, "\"password\"") == NULL &&
          strstr(r.body, "hash") == NULL && strstr(r.body, "same password") == NULL);
    size_t i;
    json_t *u;
    int seen = 0;
    json_array_foreach(users, i, u) {
        if (strcmp(json_string_value(json_object_get(u, "name")), "dr-b") == 0) {
            CHECK_STR(json_string_value(json_object_get(u, "role")), "clinician");
            CHECK(json_is_null(json_object_get(u, "disabled_at")));
            CHECK_EQ_INT(json_integer_value(json_object_get(u, "sessions")), 1);
            seen = 1;
        }
    }
    CHECK(seen);
    json_decref(users);
    free(r.body);

    /* Acknowledging: a viewer may not; a clinician may, under its user name. */
    char ack[96];
    snprintf(ack, sizeof ack, "/api/alarms/%lld/ack", (long long)alarm_id);
    CHECK_EQ_INT(status_of("POST", ack, view, "{\"note\":\"seen\"}"), 403);
    http(NULL, "POST", ack, clin, "{\"note\":\"seen by dr-b\"}", &r);
    CHECK_EQ_INT(r.status, 200);
    json_t *a = json_loads(r.body ? r.body : "", 0, NULL);
    CHECK_STR(json_string_value(json_object_get(a, "acked_by")), "dr-b");
    CHECK_STR(json_string_value(json_object_get(a, "state")), "acknowledged");
    json_decref(a);
    free(r.body);
    CHECK_EQ_INT(status_of("POST", ack, clin, NULL), 409);

    /* One answer for an unknown user and a wrong password. */
    CHECK_EQ_INT(login(NULL, "dr-b", "not the password", NULL, 0, body, sizeof body), 401);
    CHECK_EQ_INT(login(NULL, "nobody-here", "not the password", NULL, 0, body2, sizeof body2), 401);
    CHECK_STR(body, body2);
    CHECK(strstr(body, "wrong user name or password") != NULL);
    CHECK_EQ_INT(status_of("POST", "/api/login", NULL, "{\"username\":\"dr-b\"}"), 400);
    CHECK_EQ_INT(status_of("POST", "/api/login", NULL, "not json"), 400);

    /* Logout ends that session only; an API token is not a session. */
    char clin2[96];
    CHECK_EQ_INT(login(NULL, "dr-b", same, clin2, sizeof clin2, NULL, 0), 200);
    CHECK_EQ_INT(status_of("POST", "/api/logout", clin2, NULL), 200);
    CHECK_EQ_INT(status_of("GET", "/api/alarms", clin2, NULL), 401);
    CHECK_EQ_INT(status_of("POST", "/api/logout", clin2, NULL), 401);
    CHECK_EQ_INT(status_of("GET", "/api/alarms", clin, NULL), 200);
    CHECK_EQ_INT(status_of("POST", "/api/logout", srv.token, NULL), 400);
    CHECK_EQ_INT(status_of("GET", "/api/alarms", srv.token, NULL), 200);

    /* Sessions live in the database: they survive a restart. */
    ts_stop(&srv, SIGTERM);
    CHECK_EQ_INT(ts_start(&srv, dir, (const char *const[]){"--model", "none", NULL}), 0);
    CHECK_EQ_INT(status_of("GET", "/api/alarms", clin, NULL), 200);

    /* A session token signs a dashboard in like an API token; a made-up one does not. */
    ws_dash w, bad;
    CHECK_EQ_INT(ws_open(&w, clin), 0);
    CHECK(ws_wait_auth(&w, 1));
    CHECK_EQ_INT(w.n_auth, 1);
    CHECK_STR(w.auth[0], "{\"type\":\"auth\",\"role\":\"clinician\",\"name\":\"dr-b\"}");
    CHECK_EQ_INT(ws_open(&bad, "0123456789abcdef.0123456789abcdef"), 0);
    CHECK(ws_wait_auth(&bad, 1));
    CHECK(strstr(bad.auth[0], "\"role\":\"none\"") != NULL);

    /* Disabling a user ends its sessions and its sign-ins; the name stays taken. The
     * dashboard signed in with its session is told at once. */
    CHECK_EQ_INT(status_of("DELETE", "/api/users/dr-b", admin, NULL), 200);
    CHECK(ws_wait_auth(&w, 2));
    CHECK(strstr(w.auth[1], "\"role\":\"none\"") != NULL);
    ws_close_all();
    CHECK_EQ_INT(status_of("GET", "/api/alarms", clin, NULL), 401);
    CHECK_EQ_INT(login(NULL, "dr-b", same, NULL, 0, body, sizeof body), 401);
    CHECK_STR(body, body2);
    CHECK_EQ_INT(status_of("DELETE", "/api/users/dr-b", admin, NULL), 404);
    CHECK_EQ_INT(status_of("DELETE", "/api/users/nobody-here", admin, NULL), 404);
    snprintf(req, sizeof req, "{\"username\":\"dr-b\",\"password\":\"%s\",\"role\":\"viewer\"}", same);
    CHECK_EQ_INT(status_of("POST", "/api/users", admin, req), 409);
    CHECK_EQ_INT(status_of("GET", "/api/alarms", view, NULL), 200);

    /* An expired session is refused (its expiry moved to the past in the file). */
    char db[128];
    snprintf(db, sizeof db, "%s/ictal.db", dir);
    sqlite3 *h = NULL;
    CHECK_EQ_INT(sqlite3_open(db, &h), SQLITE_OK);
    sqlite3_busy_timeout(h, 2000);
    CHECK_EQ_INT(sqlite3_exec(h, "UPDATE api_tokens SET expires_at = 1000 WHERE user_name = 'screen'",
                              NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    CHECK_EQ_INT(status_of("GET", "/api/alarms", view, NULL), 401);
    CHECK_EQ_INT(login(NULL, "screen", same, view, sizeof view, NULL, 0), 200);
    CHECK_EQ_INT(status_of("GET", "/api/alarms", view, NULL), 200);
    CHECK_EQ_INT(status_of("GET", "/api/alarms", admin, NULL), 200);
}

static void test_throttle(void)
{
    /* Five failures from 127.0.0.2 in a minute; then even the right password gets 429
     * there, while 127.0.0.1 still signs in. */
    char body[512];
    for (int i = 0; i < 5; i++)
        CHECK_EQ_INT(login("127.0.0.2", "screen", "guess number x", NULL, 0, NULL, 0), 401);
    reply r;
    http("127.0.0.2", "POST", "/api/login", NULL,
         "{\"username\":\"screen\",\"password\":\"same password 42\"}", &r);
    CHECK_EQ_INT(r.status, 429);
    CHECK(atoi(r.retry_after) >= 1 && atoi(r.retry_after) <= 60);
    free(r.body);
    CHECK_EQ_INT(login("127.0.0.2", "nobody-here", "guess number y", NULL, 0, body, sizeof body), 429);
    CHECK_EQ_INT(login("127.0.0.1", "screen", "same password 42", NULL, 0, NULL, 0), 200);
    char *m = NULL;
    ts_http(&srv, "GET", "/metrics", srv.token, NULL, &m, NULL);
    const char *t = m ? strstr(m, "\nictal_logins_throttled_total ") : NULL;
    CHECK(t != NULL && atol(t + strlen("\nictal_logins_throttled_total ")) == 2);
    free(m);
}

static void test_stored_hashes(void)
{
    char db[128];
    snprintf(db, sizeof db, "%s/ictal.db", dir);
    sqlite3 *h = NULL;
    CHECK_EQ_INT(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    CHECK_EQ_INT(sqlite3_prepare_v2(h, "SELECT name, password_hash FROM users ORDER BY name", -1, &st,
                                    NULL), SQLITE_OK);
    char hb[200] = "", hs[200] = "";
    int n = 0;
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        const char *hash = (const char *)sqlite3_column_text(st, 1);
        n++;
        CHECK(strncmp(hash, "$scrypt$ln=15,r=8,p=3$", 22) == 0);
        CHECK(strstr(hash, "password") == NULL);
        if (strcmp(name, "dr-b") == 0)
            snprintf(hb, sizeof hb, "%s", hash);
        if (strcmp(name, "screen") == 0)
            snprintf(hs, sizeof hs, "%s", hash);
    }
    sqlite3_finalize(st);
    /* Nothing in the file holds the clear password (the whole database as text). */
    CHECK_EQ_INT(sqlite3_prepare_v2(h, "SELECT COUNT(*) FROM users WHERE instr(password_hash,"
                                       " 'same password 42') > 0 OR instr(name, 'same password') > 0",
                                    -1, &st, NULL), SQLITE_OK);
    CHECK(st && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    CHECK_EQ_INT(n, 4);
    /* Same password, different salts: different hashes; each checks out. */
    CHECK(hb[0] && hs[0] && strcmp(hb, hs) != 0);
    CHECK_EQ_INT(ictal__password_verify("same password 42", hb), 0);
    CHECK_EQ_INT(ictal__password_verify("same password 42", hs), 0);
    CHECK_EQ_INT(ictal__password_verify("same password 43", hs), ICTAL_EINVAL);
    CHECK_EQ_INT(ictal__password_verify("same password 42", "$scrypt$ln=15,r=8,p=3$zz$zz"), ICTAL_EFORMAT);
    /* The raw file does not hold it either (WAL included). */
    char path[160];
    const char *files[] = {"ictal.db", "ictal.db-wal"};
    for (int f = 0; f < 2; f++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[f]);
        FILE *fp = fopen(path, "rb");
        if (fp == NULL)
            continue;
        char *buf = malloc(1 << 24);
        size_t len = buf ? fread(buf, 1, (1 << 24) - 1, fp) : 0;
        fclose(fp);
        CHECK(buf != NULL);
        CHECK(len > 0 && memmem(buf, len, "same password 42", 16) == NULL &&
              memmem(buf, len, "first admin password", 20) == NULL);
        free(buf);
    }
}

int main(void)
{
    if (getenv("ICTAL") == NULL)
        TEST_SKIP("env ICTAL (the ictal binary) is not set");
    curl_global_init(CURL_GLOBAL_DEFAULT);
    snprintf(dir, sizeof dir, "/tmp/ictal-login-%d", (int)getpid());
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        return 1;
    test_cli();
    int64_t alarm_id = seed_alarm();
    CHECK(alarm_id > 0);
    CHECK_EQ_INT(ts_start(&srv, dir, (const char *const[]){"--model", "none", NULL}), 0);
    test_accounts(alarm_id);
    test_throttle();
    test_stored_hashes();
    ts_stop(&srv, SIGTERM);
    if (system(cmd) != 0)
        return 1;
    curl_global_cleanup();
    return test_summary();
}
