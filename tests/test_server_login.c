/*
 * User accounts and password sign-in against the real server on 127.0.0.1: the first
 * account made with `ictal serve --add-user` (password on stdin), more over
 * POST /api/users; POST /api/login gives a session token that works as a bearer token
 * per role (a viewer reads but cannot acknowledge, a clinician acknowledges under its
 * user name); one 401 answer for an unknown user and a wrong password; the per-address
 * throttle (429 with Retry-After, other addresses unaffected); logout, disabled users
 * and expired sessions refused; sessions survive a restart; a session token on the
 * dashboard WebSocket, which is signed out when its user is disabled; passwords stored
 * only as salted scrypt hashes (read from the SQLite file). Then account administration:
 * re-enabling, role changes and the last-admin guard; password changes (own and set by an
 * admin) ending sessions and throttled like sign-ins; API tokens listed, revoked and
 * expiring; --trust-proxy and X-Forwarded-For against spoofing.
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
    CHECK_EQ_INT(ictal__store_open(&s, db, NULL, &d), 0);
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
    CHECK(ts_metric(&srv, "ictal_logins_throttled_total") == 2);
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

/* GET path with token as JSON (NULL unless 200). */
static json_t *get_json(const char *path, const char *token)
{
    reply r;
    http(NULL, "GET", path, token, NULL, &r);
    json_t *j = r.status == 200 ? json_loads(r.body ? r.body : "", 0, NULL) : NULL;
    free(r.body);
    return j;
}

/* The entry of array a whose key equals value (borrowed), or NULL. */
static json_t *find_by(json_t *a, const char *key, const char *value)
{
    size_t i;
    json_t *e;
    json_array_foreach(a, i, e) {
        const char *v = json_string_value(json_object_get(e, key));
        if (v && strcmp(v, value) == 0)
            return e;
    }
    return NULL;
}

/* The status of a request, and whether its body holds what. */
static long status_with(const char *method, const char *path, const char *token, const char *body,
                        const char *what, int *found)
{
    reply r;
    http(NULL, method, path, token, body, &r);
    *found = r.body && strstr(r.body, what) != NULL;
    free(r.body);
    return r.status;
}

/*
 * Admins re-enable users and change roles: open sessions and dashboards follow a role
 * change at once; the last enabled admin can be neither disabled nor demoted (409), by
 * itself or anyone.
 */
static void test_user_admin(void)
{
    const char *src = "127.0.0.6", *same = "same password 42";
    char adm[96], clin[96];
    int found = 0;
    CHECK_EQ_INT(login(src, "ward-admin", "first admin password", adm, sizeof adm, NULL, 0), 200);
    /* ward-admin is the only enabled admin (the admin API token is not a user). */
    CHECK_EQ_INT(status_with("DELETE", "/api/users/ward-admin", adm, NULL, "no enabled admin", &found), 409);
    CHECK(found);
    CHECK_EQ_INT(status_with("POST", "/api/users/Ward-Admin/role", srv.token, "{\"role\":\"viewer\"}",
                             "no enabled admin", &found), 409);
    CHECK(found);
    json_t *users = get_json("/api/users", adm);
    json_t *wa = find_by(users, "name", "ward-admin");
    CHECK(wa && json_is_null(json_object_get(wa, "disabled_at")));
    CHECK_STR(json_string_value(json_object_get(wa, "role")), "admin");
    json_decref(users);

    /* dr-b (disabled in test_accounts) is enabled again and signs in with its password. */
    CHECK_EQ_INT(login(src, "dr-b", same, NULL, 0, NULL, 0), 401);
    CHECK_EQ_INT(status_of("POST", "/api/users/dr-b/enable", NULL, NULL), 401);
    CHECK_EQ_INT(status_of("POST", "/api/users/nobody-here/enable", adm, NULL), 404);
    CHECK_EQ_INT(status_of("POST", "/api/users/dr-b/enable", adm, NULL), 200);
    CHECK_EQ_INT(status_of("POST", "/api/users/dr-b/enable", adm, NULL), 404); /* enabled already */
    CHECK_EQ_INT(login(src, "dr-b", same, clin, sizeof clin, NULL, 0), 200);
    CHECK_EQ_INT(status_of("GET", "/api/users", clin, NULL), 403);
    CHECK_EQ_INT(status_of("POST", "/api/users/dr-b/enable", clin, NULL), 403);
    CHECK_EQ_INT(status_of("POST", "/api/users/dr-b/role", clin, "{\"role\":\"admin\"}"), 403);

    /* A role change reaches the user's open session and its dashboard at once. */
    ws_dash w;
    CHECK_EQ_INT(ws_open(&w, clin), 0);
    CHECK(ws_wait_auth(&w, 1));
    CHECK_STR(w.auth[0], "{\"type\":\"auth\",\"role\":\"clinician\",\"name\":\"dr-b\"}");
    CHECK_EQ_INT(status_of("POST", "/api/users/dr-b/role", adm, "{\"role\":\"root\"}"), 400);
    CHECK_EQ_INT(status_of("POST", "/api/users/dr-b/role", adm, NULL), 400);
    CHECK_EQ_INT(status_of("POST", "/api/users/nobody-here/role", adm, "{\"role\":\"viewer\"}"), 404);
    CHECK_EQ_INT(status_of("POST", "/api/users/dr-b/role", adm, "{\"role\":\"admin\"}"), 200);
    CHECK(ws_wait_auth(&w, 2));
    CHECK_STR(w.auth[1], "{\"type\":\"auth\",\"role\":\"admin\",\"name\":\"dr-b\"}");
    CHECK_EQ_INT(status_of("GET", "/api/users", clin, NULL), 200);

    /* Two admins: either may disable the other, not then itself. */
    CHECK_EQ_INT(status_of("DELETE", "/api/users/ward-admin", clin, NULL), 200);
    CHECK_EQ_INT(status_of("GET", "/api/users", adm, NULL), 401);
    CHECK_EQ_INT(status_with("DELETE", "/api/users/dr-b", clin, NULL, "no enabled admin", &found), 409);
    CHECK_EQ_INT(status_with("POST", "/api/users/dr-b/role", clin, "{\"role\":\"clinician\"}",
                             "no enabled admin", &found), 409);
    CHECK(found);
    CHECK_EQ_INT(status_of("POST", "/api/users/ward-admin/enable", clin, NULL), 200);
    CHECK_EQ_INT(status_of("GET", "/api/users", adm, NULL), 401); /* its old session stays ended */
    CHECK_EQ_INT(login(src, "ward-admin", "first admin password", adm, sizeof adm, NULL, 0), 200);
    /* Demoted to viewer: it may read, not acknowledge; the dashboard is told. */
    CHECK_EQ_INT(status_of("POST", "/api/users/DR-B/role", adm, "{\"role\":\"viewer\"}"), 200);
    CHECK(ws_wait_auth(&w, 3));
    CHECK_STR(w.auth[2], "{\"type\":\"auth\",\"role\":\"viewer\",\"name\":\"dr-b\"}");
    CHECK_EQ_INT(status_of("GET", "/api/users", clin, NULL), 403);
    CHECK_EQ_INT(status_of("POST", "/api/alarms/999/ack", clin, NULL), 403);
    CHECK_EQ_INT(status_of("GET", "/api/alarms", clin, NULL), 200);
    ws_close_all();
    users = get_json("/api/users", adm);
    CHECK_STR(json_string_value(json_object_get(find_by(users, "name", "dr-b"), "role")), "viewer");
    CHECK_EQ_INT(json_integer_value(json_object_get(find_by(users, "name", "dr-b"), "sessions")), 1);
    json_decref(users);
}

/*
 * Password changes: a user changes its own with the current one (checked on the hasher,
 * throttled with sign-ins per address), which ends its other sessions and their
 * dashboards but not the one asking; an admin sets another user's, which ends all of
 * them; the one password policy applies.
 */
static void test_password_change(void)
{
    const char *src = "127.0.0.5", *same = "same password 42";
    char s1[96], s2[96], adm[96], body[512];
    long changes0 = ts_metric(&srv, "ictal_password_changes_total");
    CHECK_EQ_INT(login(src, "screen", same, s1, sizeof s1, NULL, 0), 200);
    CHECK_EQ_INT(login(src, "screen", same, s2, sizeof s2, NULL, 0), 200);
    CHECK_EQ_INT(login(src, "ward-admin", "first admin password", adm, sizeof adm, NULL, 0), 200);
    ws_dash w;
    CHECK_EQ_INT(ws_open(&w, s2), 0);
    CHECK(ws_wait_auth(&w, 1));
    CHECK(strstr(w.auth[0], "\"role\":\"viewer\"") != NULL);

    int found = 0;
    CHECK_EQ_INT(status_with("POST", "/api/users/screen/password", s1,
                             "{\"current_password\":\"not my password\",\"new_password\":\"screen pw two\"}",
                             "the current password is wrong", &found), 403);
    CHECK(found);
    CHECK_EQ_INT(status_of("GET", "/api/alarms", s1, NULL), 200); /* still signed in */
    CHECK_EQ_INT(status_with("POST", "/api/users/screen/password", s1,
                             "{\"current_password\":\"same password 42\",\"new_password\":\"short\"}",
                             "at least 10 characters", &found), 400);
    CHECK(found);
    CHECK_EQ_INT(status_with("POST", "/api/users/screen/password", s1, "{\"new_password\":\"screen pw two\"}",
                             "current_password", &found), 400);
    CHECK(found);
    CHECK_EQ_INT(status_of("POST", "/api/users/screen/password", s1, "{}"), 400);
    /* A viewer cannot set someone else's. */
    CHECK_EQ_INT(status_of("POST", "/api/users/nurse-c/password", s1, "{\"new_password\":\"nurse pw two\"}"),
                 403);
    CHECK_EQ_INT(status_of("POST", "/api/users/screen/password", NULL, "{\"new_password\":\"x234567890\"}"),
                 401);

    reply r;
    http(src, "POST", "/api/users/screen/password", s1,
         "{\"current_password\":\"same password 42\",\"new_password\":\"screen pw two\"}", &r);
    CHECK_EQ_INT(r.status, 200);
    CHECK(r.body && strstr(r.body, "\"password_changed\":true") && strstr(r.body, "\"name\":\"screen\""));
    free(r.body);
    CHECK_EQ_INT(status_of("GET", "/api/alarms", s1, NULL), 200); /* the session that asked */
    CHECK_EQ_INT(status_of("GET", "/api/alarms", s2, NULL), 401); /* the other one ended */
    CHECK(ws_wait_auth(&w, 2));
    CHECK(strstr(w.auth[1], "\"role\":\"none\"") != NULL);
    ws_close_all();
    CHECK_EQ_INT(login(src, "screen", same, NULL, 0, NULL, 0), 401);
    CHECK_EQ_INT(login(src, "screen", "screen pw two", s2, sizeof s2, NULL, 0), 200);
    CHECK_EQ_INT(ts_metric(&srv, "ictal_password_changes_total"), changes0 + 1);

    /* An admin sets it without the current one; every session of the user ends. */
    CHECK_EQ_INT(status_of("POST", "/api/users/nobody-here/password", adm, "{\"new_password\":\"x234567890\"}"),
                 404);
    CHECK_EQ_INT(status_of("POST", "/api/users/screen/password", adm, "{\"new_password\":\"short\"}"), 400);
    CHECK_EQ_INT(status_of("POST", "/api/users/SCREEN/password", adm, "{\"new_password\":\"set by the admin\"}"),
                 200);
    CHECK_EQ_INT(status_of("GET", "/api/alarms", s1, NULL), 401);
    CHECK_EQ_INT(status_of("GET", "/api/alarms", s2, NULL), 401);
    CHECK_EQ_INT(status_of("GET", "/api/alarms", adm, NULL), 200);
    CHECK_EQ_INT(login(src, "screen", "screen pw two", NULL, 0, NULL, 0), 401);
    CHECK_EQ_INT(login(src, "screen", "set by the admin", s1, sizeof s1, NULL, 0), 200);
    /* An admin changing its own password through its session gives the current one. */
    CHECK_EQ_INT(status_of("POST", "/api/users/ward-admin/password", adm, "{\"new_password\":\"x234567890\"}"),
                 400);
    /* The admin API token may set anyone's (it is no user's session). */
    CHECK_EQ_INT(status_of("POST", "/api/users/nurse-c/password", srv.token,
                           "{\"new_password\":\"nurse password 2\"}"), 200);
    CHECK_EQ_INT(login(src, "nurse-c", "nurse password 2", NULL, 0, NULL, 0), 200);
    CHECK_EQ_INT(ts_metric(&srv, "ictal_password_changes_total"), changes0 + 3);
    json_t *users = get_json("/api/users", adm);
    CHECK(json_number_value(json_object_get(find_by(users, "name", "screen"), "password_changed_at")) >
          (double)time(NULL) - 120);
    CHECK(json_is_null(json_object_get(find_by(users, "name", "ward-admin"), "password_changed_at")));
    json_decref(users);

    /* Wrong current passwords count with sign-ins from the address: after 5 even the
     * right one waits (429), and so do sign-ins from there. */
    const char *src2 = "127.0.0.7";
    char s3[96];
    CHECK_EQ_INT(login(src2, "screen", "set by the admin", s3, sizeof s3, NULL, 0), 200);
    for (int i = 0; i < 5; i++) {
        http(src2, "POST", "/api/users/screen/password", s3,
             "{\"current_password\":\"guess guess guess\",\"new_password\":\"another new one\"}", &r);
        CHECK_EQ_INT(r.status, 403);
        free(r.body);
    }
    http(src2, "POST", "/api/users/screen/password", s3,
         "{\"current_password\":\"set by the admin\",\"new_password\":\"another new one\"}", &r);
    CHECK_EQ_INT(r.status, 429);
    CHECK(atoi(r.retry_after) >= 1 && atoi(r.retry_after) <= 60);
    free(r.body);
    CHECK_EQ_INT(login(src2, "screen", "set by the admin", NULL, 0, body, sizeof body), 429);
    CHECK_EQ_INT(login(src, "screen", "set by the admin", NULL, 0, NULL, 0), 200);
    CHECK_EQ_INT(status_of("GET", "/api/alarms", s3, NULL), 200); /* nothing changed */
}

/*
 * API tokens: listed without secrets (with last use and expiry), created with a label
 * (the secret shown once), revoked by id: the next request is refused and a dashboard
 * signed in with it is signed out. Sign-in sessions and device tokens are not API tokens.
 */
static void test_tokens(void)
{
    char adm[96], view[96];
    CHECK_EQ_INT(login("127.0.0.6", "ward-admin", "first admin password", adm, sizeof adm, NULL, 0), 200);
    CHECK_EQ_INT(login("127.0.0.6", "nurse-c", "nurse password 2", view, sizeof view, NULL, 0), 200);
    reply r;
    http(NULL, "POST", "/api/tokens", adm, "{\"name\":\"ward display\",\"role\":\"viewer\"}", &r);
    CHECK_EQ_INT(r.status, 201);
    json_t *j = json_loads(r.body ? r.body : "", 0, NULL);
    free(r.body);
    char tok[96], id[32];
    snprintf(tok, sizeof tok, "%s", json_string_value(json_object_get(j, "token")));
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(j, "id")));
    CHECK_EQ_INT((long long)strlen(id), 16);
    CHECK(strncmp(tok, id, 16) == 0 && tok[16] == '.');
    CHECK_STR(json_string_value(json_object_get(j, "name")), "ward display");
    CHECK(json_is_null(json_object_get(j, "expires_at")));
    json_decref(j);
    http(NULL, "POST", "/api/tokens", adm,
         "{\"name\":\"brief\",\"role\":\"clinician\",\"expires_in_s\":1}", &r);
    CHECK_EQ_INT(r.status, 201);
    j = json_loads(r.body ? r.body : "", 0, NULL);
    free(r.body);
    char brief[96];
    snprintf(brief, sizeof brief, "%s", json_string_value(json_object_get(j, "token")));
    double exp = json_number_value(json_object_get(j, "expires_at"));
    CHECK(exp > (double)time(NULL) - 1 && exp < (double)time(NULL) + 3);
    json_decref(j);
    const char *bad[] = {"{\"name\":\"x\",\"role\":\"viewer\",\"expires_in_s\":0}",
                         "{\"name\":\"x\",\"role\":\"viewer\",\"expires_in_s\":\"1h\"}",
                         "{\"name\":\"\",\"role\":\"viewer\"}", "{\"name\":\"x\",\"role\":\"root\"}"};
    for (int i = 0; i < 4; i++)
        CHECK_EQ_INT(status_of("POST", "/api/tokens", adm, bad[i]), 400);
    CHECK_EQ_INT(status_of("POST", "/api/tokens", view, "{\"name\":\"x\",\"role\":\"viewer\"}"), 403);
    CHECK_EQ_INT(status_of("POST", "/api/devices", adm, "{\"device_id\":\"ward-9\"}"), 201);

    /* Used once: the list shows when. */
    CHECK_EQ_INT(status_of("GET", "/api/alarms", tok, NULL), 200);
    http(NULL, "GET", "/api/tokens", adm, NULL, &r);
    CHECK_EQ_INT(r.status, 200);
    CHECK(r.body && strstr(r.body, tok + 17) == NULL && strstr(r.body, srv.token + 17) == NULL &&
          strstr(r.body, "\"token\"") == NULL && strstr(r.body, "ward-9") == NULL);
    json_t *list = json_loads(r.body ? r.body : "", 0, NULL);
    free(r.body);
    CHECK_EQ_INT((long long)json_array_size(list), 3); /* admin.token's, the display's, brief; no session */
    json_t *e = find_by(list, "id", id);
    CHECK(e != NULL);
    CHECK_STR(json_string_value(json_object_get(e, "name")), "ward display");
    CHECK_STR(json_string_value(json_object_get(e, "role")), "viewer");
    CHECK(json_number_value(json_object_get(e, "last_used_at")) > (double)time(NULL) - 60);
    CHECK(json_number_value(json_object_get(e, "created_at")) > (double)time(NULL) - 60);
    CHECK(json_is_null(json_object_get(e, "expires_at")));
    CHECK(find_by(list, "name", "admin") != NULL);
    json_decref(list);
    CHECK_EQ_INT(status_of("GET", "/api/tokens", view, NULL), 403);

    /* Revoked: refused at the next request; its dashboard is signed out. */
    ws_dash w;
    CHECK_EQ_INT(ws_open(&w, tok), 0);
    CHECK(ws_wait_auth(&w, 1));
    CHECK_STR(w.auth[0], "{\"type\":\"auth\",\"role\":\"viewer\",\"name\":\"ward display\"}");
    char path[64];
    snprintf(path, sizeof path, "/api/tokens/%s", id);
    CHECK_EQ_INT(status_of("DELETE", path, view, NULL), 403);
    CHECK_EQ_INT(status_of("GET", "/api/alarms", tok, NULL), 200);
    CHECK_EQ_INT(status_of("DELETE", path, adm, NULL), 200);
    CHECK_EQ_INT(status_of("GET", "/api/alarms", tok, NULL), 401);
    CHECK(ws_wait_auth(&w, 2));
    CHECK(strstr(w.auth[1], "\"role\":\"none\"") != NULL);
    ws_close_all();
    CHECK_EQ_INT(status_of("DELETE", path, adm, NULL), 404);
    CHECK_EQ_INT(status_of("DELETE", "/api/tokens/nonsense", adm, NULL), 404);
    /* A session is ended by logout, not here. */
    snprintf(path, sizeof path, "/api/tokens/%.16s", view);
    CHECK_EQ_INT(status_of("DELETE", path, adm, NULL), 404);
    CHECK_EQ_INT(status_of("GET", "/api/alarms", view, NULL), 200);
    /* The device registered meanwhile is untouched. */
    json_t *devs = get_json("/api/devices", adm);
    CHECK(find_by(devs, "device_id", "ward-9") != NULL || find_by(devs, "id", "ward-9") != NULL);
    json_decref(devs);
    /* The expiring token stops by itself. */
    ts_sleep_ms(1300);
    CHECK_EQ_INT(status_of("GET", "/api/alarms", brief, NULL), 401);
}

/*
 * Behind a reverse proxy (--trust-proxy): only a trusted peer's X-Forwarded-For names
 * the client, by its right-most entry that is not a trusted proxy; from any other peer the
 * header is ignored, so a client cannot pick its own throttle bucket.
 */
static long login_xff(const char *src, const char *xff, const char *password)
{
    char hdr[256], req[256];
    snprintf(hdr, sizeof hdr, "X-Forwarded-For: %s", xff);
    const char *hdrs[] = {hdr, NULL};
    snprintf(req, sizeof req, "{\"username\":\"nurse-c\",\"password\":\"%s\"}", password);
    char *b = NULL;
    long st = ts_http_hdrs(&srv, src, xff ? hdrs : NULL, "POST", "/api/login", NULL, req, NULL, NULL,
                           &b, NULL);
    free(b);
    return st;
}

static void test_trust_proxy(void)
{
    const char *right = "nurse password 2", *wrong = "wrong password!";
    /* A bad list stops the server before it starts, naming the entry. */
    char cmd[512];
    snprintf(cmd, sizeof cmd, "'%s' serve --data '%s' --listen 127.0.0.1:0 --model none --quiet"
             " --trust-proxy 127.0.0.3,10.0.0.0/33 2>&1 | grep -q '10.0.0.0/33'", getenv("ICTAL"), dir);
    CHECK_EQ_INT(system(cmd), 0);

    ts_stop(&srv, SIGTERM);
    CHECK_EQ_INT(ts_start(&srv, dir, (const char *const[]){"--model", "none", "--trust-proxy",
                                                            "127.0.0.3,127.0.0.8/30", NULL}), 0);
    /* An untrusted peer: its header is ignored, whatever it says each time. */
    char xff[64];
    for (int i = 0; i < 5; i++) {
        snprintf(xff, sizeof xff, "203.0.113.%d", 50 + i);
        CHECK_EQ_INT(login_xff("127.0.0.12", xff, wrong), 401);
    }
    CHECK_EQ_INT(login_xff("127.0.0.12", "203.0.113.99", right), 429);
    CHECK_EQ_INT(login_xff("127.0.0.12", NULL, right), 429);

    /* A trusted proxy: the client it names is throttled, not the proxy. */
    for (int i = 0; i < 5; i++)
        CHECK_EQ_INT(login_xff("127.0.0.3", "203.0.113.7", wrong), 401);
    CHECK_EQ_INT(login_xff("127.0.0.3", "203.0.113.7", right), 429);
    /* Prepending does not escape it; our proxies on the way are skipped (CIDR); one
     * address has one spelling. */
    CHECK_EQ_INT(login_xff("127.0.0.3", "203.0.113.8, 203.0.113.7", right), 429);
    CHECK_EQ_INT(login_xff("127.0.0.3", "203.0.113.7, 127.0.0.9", right), 429);
    CHECK_EQ_INT(login_xff("127.0.0.9", "203.0.113.7", right), 429);
    CHECK_EQ_INT(login_xff("127.0.0.3", "::ffff:203.0.113.7", right), 429);
    /* Other clients behind the same proxy, and the proxy's own requests, sign in. */
    CHECK_EQ_INT(login_xff("127.0.0.3", "203.0.113.8", right), 200);
    CHECK_EQ_INT(login_xff("127.0.0.3", "203.0.113.7, 203.0.113.8", right), 200);
    CHECK_EQ_INT(login_xff("127.0.0.3", NULL, right), 200);
    CHECK_EQ_INT(login_xff("127.0.0.11", "198.51.100.1", right), 200);
    /* A trusted peer with a header that names no address: its own bucket. */
    CHECK_EQ_INT(login_xff("127.0.0.3", "unknown", right), 200);
}

int main(void)
{
    if (getenv("ICTAL") == NULL)
        TEST_SKIP("env ICTAL (the ictal binary) is not set");
    curl_global_init(CURL_GLOBAL_DEFAULT);
    snprintf(dir, sizeof dir, "/tmp/ictal-login-%d", (int)getpid());
    if (test_remove_dir(dir) != 0)
        return 1;
    test_cli();
    int64_t alarm_id = seed_alarm();
    CHECK(alarm_id > 0);
    CHECK_EQ_INT(ts_start(&srv, dir, (const char *const[]){"--model", "none", NULL}), 0);
    test_accounts(alarm_id);
    test_throttle();
    test_stored_hashes();
    test_user_admin();
    test_password_change();
    test_tokens();
    test_trust_proxy();
    ts_stop(&srv, SIGTERM);
    if (test_remove_dir(dir) != 0)
        return 1;
    curl_global_cleanup();
    return test_summary();
}
