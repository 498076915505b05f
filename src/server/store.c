/* The server's database (store.h), on SQLite or PostgreSQL through db.h. */
#include "server/store.h"

#include "server/db.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

/* Migrations: migrations[i] takes schema version i to i + 1. Append, never edit. The
 * {TOKENS} are the dialect's types (db.h); in SQLite they expand to the text of the
 * first releases, so that old databases upgrade as they always did. */
static const char *const migrations[] = {
    "CREATE TABLE devices ("
    "  id TEXT PRIMARY KEY, token_salt {BLOB} NOT NULL, token_hash {BLOB} NOT NULL,"
    "  firmware TEXT, labels TEXT, rate_hz {REAL}, created_at {REAL} NOT NULL, last_seen_at {REAL});"
    "CREATE TABLE sessions ("
    "  id {ID}, device_id TEXT NOT NULL REFERENCES devices(id),"
    "  stream_id TEXT NOT NULL, labels TEXT NOT NULL, rate_hz {REAL} NOT NULL,"
    "  start_time_us {INT} NOT NULL, started_at {REAL} NOT NULL, ended_at {REAL},"
    "  last_seq {INT} NOT NULL DEFAULT -1, frames {INT} NOT NULL DEFAULT 0,"
    "  samples {INT} NOT NULL DEFAULT 0, UNIQUE(device_id, stream_id));"
    "CREATE TABLE events ("
    "  id {ID}, at {REAL} NOT NULL, device_id TEXT, session_id {INT},"
    "  kind TEXT NOT NULL, detail TEXT);"
    "CREATE INDEX events_device ON events(device_id, id);"
    "CREATE TABLE alarms ("
    "  id {ID}, uuid TEXT NOT NULL UNIQUE,"
    "  session_id {INT} NOT NULL REFERENCES sessions(id), device_id TEXT NOT NULL,"
    "  detector_event_id {INT} NOT NULL, onset_s {REAL} NOT NULL, alarm_s {REAL} NOT NULL,"
    "  offset_s {REAL}, peak_prob {REAL}, channels TEXT, raised_at {REAL} NOT NULL,"
    "  acked_at {REAL}, acked_by TEXT, ack_note TEXT, resolved_at {REAL},"
    "  UNIQUE(session_id, detector_event_id));"
    "CREATE TABLE webhook_outbox ("
    "  id {ID}, event_id TEXT NOT NULL UNIQUE, url TEXT NOT NULL,"
    "  body TEXT NOT NULL, created_at {REAL} NOT NULL, attempts {INT} NOT NULL DEFAULT 0,"
    "  next_attempt_at {REAL} NOT NULL, delivered_at {REAL}, last_error TEXT);"
    "CREATE INDEX outbox_due ON webhook_outbox(delivered_at, next_attempt_at);"
    "CREATE TABLE api_tokens ("
    "  id TEXT PRIMARY KEY, name TEXT NOT NULL, role {INT} NOT NULL,"
    "  salt {BLOB} NOT NULL, hash {BLOB} NOT NULL, created_at {REAL} NOT NULL);",
    /* 2: user accounts; sign-in sessions are api_tokens rows of a user that expire. */
    "CREATE TABLE users ("
    "  name TEXT PRIMARY KEY {NOCASE}, role {INT} NOT NULL,"
    "  password_hash TEXT NOT NULL, created_at {REAL} NOT NULL, disabled_at {REAL});"
    "ALTER TABLE api_tokens ADD COLUMN user_name {USERNAME} REFERENCES users(name);"
    "ALTER TABLE api_tokens ADD COLUMN expires_at {REAL};"
    "CREATE INDEX api_tokens_user ON api_tokens(user_name);",
    /* 3: when an API token was last used (to the minute); when a password was set.
     * (Parenthesised: one element of two literals, which clang would otherwise question.) */
    ("ALTER TABLE api_tokens ADD COLUMN last_used_at {REAL};"
     "ALTER TABLE users ADD COLUMN password_changed_at {REAL};"),
};
#define N_MIGRATIONS (int)(sizeof migrations / sizeof migrations[0])

double ictal__now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

const char *ictal__role_name(int role)
{
    switch (role) {
    case ICTAL_ROLE_VIEWER: return "viewer";
    case ICTAL_ROLE_CLINICIAN: return "clinician";
    case ICTAL_ROLE_ADMIN: return "admin";
    default: return "none";
    }
}

int ictal__role_parse(const char *name)
{
    if (name == NULL)
        return ICTAL_ROLE_NONE;
    if (strcmp(name, "viewer") == 0)
        return ICTAL_ROLE_VIEWER;
    if (strcmp(name, "clinician") == 0)
        return ICTAL_ROLE_CLINICIAN;
    if (strcmp(name, "admin") == 0)
        return ICTAL_ROLE_ADMIN;
    return ICTAL_ROLE_NONE;
}

/* --- secrets ----------------------------------------------------------------------- */

int ictal__random_bytes(void *out, size_t n)
{
    return RAND_bytes(out, (int)n) == 1 ? 0 : ICTAL_EIO;
}

int ictal__random_hex(char *out, size_t n)
{
    unsigned char b[64];
    if (n > sizeof b || ictal__random_bytes(b, n) != 0)
        return ICTAL_EIO;
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
    out[2 * n] = 0;
    return 0;
}

int ictal__uuid4(char out[37])
{
    unsigned char b[16];
    if (ictal__random_bytes(b, sizeof b) != 0)
        return ICTAL_EIO;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    char *p = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        p += sprintf(p, "%02x", b[i]);
    }
    return 0;
}

void ictal__hmac_sha256_hex(const char *key, const void *msg, size_t len, char out[65])
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    HMAC(EVP_sha256(), key, (int)strlen(key), msg, len, mac, &n);
    for (unsigned i = 0; i < n && i < 32; i++)
        sprintf(out + 2 * i, "%02x", mac[i]);
    out[64] = 0;
}

static void salted_hash(const unsigned char salt[16], const char *secret, unsigned char out[32])
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned int n = 0;
    EVP_DigestInit_ex(c, EVP_sha256(), NULL);
    EVP_DigestUpdate(c, salt, 16);
    EVP_DigestUpdate(c, secret, strlen(secret));
    EVP_DigestFinal_ex(c, out, &n);
    EVP_MD_CTX_free(c);
}

/* --- helpers --------------------------------------------------------------------------- */

static ictal__stmt *prep(ictal__store *s, const char *sql)
{
    return ictal__db_prepare(s->db, sql); /* reports a failure */
}

static void bind_json(ictal__stmt *st, int i, json_t *v)
{
    if (v == NULL) {
        ictal__db_bind_text(st, i, NULL);
        return;
    }
    char *txt = json_dumps(v, JSON_COMPACT);
    ictal__db_bind_text(st, i, txt ? txt : "null");
    free(txt);
}

/* Runs a statement that returns no row (or ignores them); finalizes it. */
static int step_done(ictal__stmt *st)
{
    if (st == NULL)
        return ICTAL_EIO;
    int rc = ictal__db_step(st);
    while (rc == ICTAL_DB_ROW)
        rc = ictal__db_step(st);
    ictal__db_finalize(st);
    return rc == ICTAL_DB_DONE ? 0 : ICTAL_EIO;
}

/* Prepares sql and binds one argument per letter of types to ?1, ?2, ... in order:
 * t text (NULL binds NULL), j json_t * (NULL binds NULL), d double, i int, l int64_t,
 * b blob (const void *, int bytes). NULL when prepare fails (prep reports why). */
static ictal__stmt *prep_bindv(ictal__store *s, const char *sql, const char *types, va_list ap)
{
    ictal__stmt *st = prep(s, sql);
    if (st == NULL)
        return NULL;
    for (int i = 1; *types; types++, i++) {
        switch (*types) {
        case 't': ictal__db_bind_text(st, i, va_arg(ap, const char *)); break;
        case 'j': bind_json(st, i, va_arg(ap, json_t *)); break;
        case 'd': ictal__db_bind_double(st, i, va_arg(ap, double)); break;
        case 'i': ictal__db_bind_int64(st, i, va_arg(ap, int)); break;
        case 'l': ictal__db_bind_int64(st, i, va_arg(ap, int64_t)); break;
        case 'b': {
            const void *p = va_arg(ap, const void *);
            ictal__db_bind_blob(st, i, p, va_arg(ap, int));
            break;
        }
        default:
            fprintf(stderr, "ictal serve: bad bind type '%c': %s\n", *types, sql);
            ictal__db_finalize(st);
            return NULL;
        }
    }
    return st;
}

static ictal__stmt *prep_bind(ictal__store *s, const char *sql, const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    ictal__stmt *st = prep_bindv(s, sql, types, ap);
    va_end(ap);
    return st;
}

/* prep_bind + step_done: a statement that returns no row. */
static int exec_bound(ictal__store *s, const char *sql, const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    ictal__stmt *st = prep_bindv(s, sql, types, ap);
    va_end(ap);
    return step_done(st);
}

/* Ends the write transaction of a store call: commits when rc is 0 (ICTAL_EIO when that
 * fails), else rolls back and returns rc. */
static int finish(ictal__store *s, int rc)
{
    if (rc == 0)
        return ictal__db_commit(s->db) == 0 ? 0 : ICTAL_EIO;
    ictal__db_rollback(s->db);
    return rc;
}

/* prep_bind, then the int64 in column 0 of the first row (an id from RETURNING) into
 * *out: 0, ICTAL_ENOENT when no row came back, or ICTAL_EIO. */
static int query_id(ictal__store *s, int64_t *out, const char *sql, const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    ictal__stmt *st = prep_bindv(s, sql, types, ap);
    va_end(ap);
    if (st == NULL)
        return ICTAL_EIO;
    int r = ictal__db_step(st), rc = ICTAL_EIO;
    if (r == ICTAL_DB_ROW) {
        *out = ictal__db_column_int64(st, 0);
        rc = 0;
    } else if (r == ICTAL_DB_DONE) {
        rc = ICTAL_ENOENT;
    }
    ictal__db_finalize(st);
    return rc;
}

/* The value of column i as JSON (numbers, text; JSON text for the json columns). */
static json_t *col_json(ictal__stmt *st, int i)
{
    const char *name = ictal__db_column_name(st, i);
    switch (ictal__db_column_type(st, i)) {
    case ICTAL_DB_INTEGER: return json_integer(ictal__db_column_int64(st, i));
    case ICTAL_DB_FLOAT: return json_real(ictal__db_column_double(st, i));
    case ICTAL_DB_TEXT: {
        const char *t = ictal__db_column_text(st, i);
        if (strcmp(name, "labels") == 0 || strcmp(name, "channels") == 0 ||
            strcmp(name, "detail") == 0) {
            json_t *j = json_loads(t, 0, NULL);
            if (j)
                return j;
        }
        return json_string(t);
    }
    default: return json_null();
    }
}

static json_t *row_json(ictal__stmt *st)
{
    json_t *o = json_object();
    int n = ictal__db_column_count(st);
    for (int i = 0; i < n; i++)
        json_object_set_new(o, ictal__db_column_name(st, i), col_json(st, i));
    return o;
}

/* The first row as a JSON object, NULL when there is none; finalizes st. */
static json_t *row1_json(ictal__stmt *st)
{
    json_t *o = NULL;
    if (st && ictal__db_step(st) == ICTAL_DB_ROW)
        o = row_json(st);
    ictal__db_finalize(st);
    return o;
}

/* All rows as a JSON array; finalizes st. */
static json_t *rows_json(ictal__stmt *st)
{
    json_t *a = json_array();
    if (st == NULL)
        return a;
    while (ictal__db_step(st) == ICTAL_DB_ROW)
        json_array_append_new(a, row_json(st));
    ictal__db_finalize(st);
    return a;
}

/* --- open / migrate ------------------------------------------------------------------ */

int ictal__store_user_version(ictal__store *s)
{
    return ictal__db_schema_version(s->db);
}

int ictal__store_open(ictal__store *s, const char *target, const char *password, ictal_diag *d)
{
    s->db = NULL;
    int rc = ictal__db_open(&s->db, target, password, d);
    if (rc != 0)
        return rc;
    /* A PostgreSQL URI is never repeated in a message (it may hold a password). */
    const char *what = ictal__db_kind_of(s->db) == ICTAL_DB_SQLITE ? target : "postgresql";
    /* Each migration in its own write transaction, the version read inside it: servers
     * that start together on one database migrate it once. */
    for (;;) {
        if (ictal__db_begin_write(s->db) != 0)
            goto fail;
        int v = ictal__db_schema_version(s->db);
        if (v < 0) {
            ictal__db_rollback(s->db);
            goto fail;
        }
        if (v > N_MIGRATIONS) {
            ictal__db_rollback(s->db);
            ictal_diag_error(d, ICTAL_EVERSION, "%s: schema version %d is newer than this ictal (%d)",
                             what, v, N_MIGRATIONS);
            ictal__store_close(s);
            return ICTAL_EVERSION;
        }
        if (v == N_MIGRATIONS) {
            if (ictal__db_commit(s->db) != 0)
                goto fail;
            return 0;
        }
        if (ictal__db_exec(s->db, migrations[v]) != 0 ||
            ictal__db_set_schema_version(s->db, v + 1) != 0) {
            ictal__db_rollback(s->db);
            goto fail;
        }
        if (ictal__db_commit(s->db) != 0)
            goto fail;
    }
fail:
    rc = ictal_diag_error(d, ICTAL_EIO, "%s: %s", what, ictal__db_errmsg(s->db));
    ictal__store_close(s);
    return rc;
}

int ictal__store_manual_checkpoints(ictal__store *s)
{
    return ictal__db_manual_checkpoints(s->db);
}

int ictal__store_begin(ictal__store *s)
{
    return ictal__db_begin(s->db);
}

int ictal__store_commit(ictal__store *s)
{
    return ictal__db_commit(s->db);
}

int ictal__store_is_postgres(const ictal__store *s)
{
    return s->db && ictal__db_kind_of(s->db) == ICTAL_DB_POSTGRES;
}

void ictal__store_close(ictal__store *s)
{
    ictal__db_close(s->db);
    s->db = NULL;
}

/* --- devices --------------------------------------------------------------------------- */

int ictal__store_device_auth(ictal__store *s, const char *device_id, const char *token)
{
    ictal__stmt *st = prep_bind(s, "SELECT token_salt, token_hash FROM devices WHERE id = ?1", "t",
                                 device_id);
    if (st == NULL)
        return ICTAL_EIO;
    int r = ictal__db_step(st);
    int rc = r == ICTAL_DB_DONE ? ICTAL_ENOENT : ICTAL_EIO; /* a lost database is not "unknown" */
    if (r == ICTAL_DB_ROW && ictal__db_column_bytes(st, 0) == 16 && ictal__db_column_bytes(st, 1) == 32) {
        unsigned char h[32];
        salted_hash(ictal__db_column_blob(st, 0), token, h);
        rc = CRYPTO_memcmp(h, ictal__db_column_blob(st, 1), 32) == 0 ? 0 : ICTAL_EINVAL;
    }
    ictal__db_finalize(st);
    return rc;
}

int ictal__store_device_add(ictal__store *s, const char *device_id, const char *token)
{
    unsigned char salt[16], h[32];
    if (ictal__random_bytes(salt, sizeof salt) != 0)
        return ICTAL_EIO;
    salted_hash(salt, token, h);
    if (exec_bound(s, "INSERT INTO devices(id, token_salt, token_hash, created_at)"
                      " VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
                   "tbbd", device_id, salt, 16, h, 32, ictal__now_s()) != 0)
        return ICTAL_EIO;
    return ictal__db_changes(s->db) == 1 ? 0 : ICTAL_ESTATE;
}

int ictal__store_device_seen(ictal__store *s, const char *device_id, const char *firmware,
                             json_t *labels, double rate_hz)
{
    return exec_bound(s, "UPDATE devices SET firmware = ?2, labels = ?3, rate_hz = ?4,"
                         " last_seen_at = ?5 WHERE id = ?1",
                      "ttjdd", device_id, firmware, labels, rate_hz, ictal__now_s());
}

json_t *ictal__store_devices_json(ictal__store *s)
{
    return rows_json(prep(s, "SELECT id, firmware, labels, rate_hz, created_at, last_seen_at,"
                             " (SELECT COUNT(*) FROM alarms a WHERE a.device_id = d.id AND"
                             "  a.acked_at IS NULL) AS open_alarms"
                             " FROM devices d ORDER BY id"));
}

/* --- sessions -------------------------------------------------------------------------- */

int ictal__store_session_get(ictal__store *s, const char *device_id, const char *stream_id,
                             json_t *labels, double rate_hz, int64_t start_time_us,
                             int64_t *session_id, int *created)
{
    ictal__stmt *st = prep_bind(s, "SELECT id FROM sessions WHERE device_id = ?1 AND stream_id = ?2",
                                 "tt", device_id, stream_id);
    if (st == NULL)
        return ICTAL_EIO;
    if (ictal__db_step(st) == ICTAL_DB_ROW) {
        *session_id = ictal__db_column_int64(st, 0);
        *created = 0;
        ictal__db_finalize(st);
        /* A resumed session is open again. */
        return exec_bound(s, "UPDATE sessions SET ended_at = NULL WHERE id = ?1", "l", *session_id);
    }
    ictal__db_finalize(st);
    if (query_id(s, session_id,
                 "INSERT INTO sessions(device_id, stream_id, labels, rate_hz, start_time_us,"
                 " started_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
                 "ttjdld", device_id, stream_id, labels, rate_hz, start_time_us, ictal__now_s()) != 0)
        return ICTAL_EIO;
    *created = 1;
    return 0;
}

int ictal__store_session_end_others(ictal__store *s, const char *device_id, int64_t keep_id)
{
    return exec_bound(s, "UPDATE sessions SET ended_at = ?3 WHERE device_id = ?1 AND"
                         " id != ?2 AND ended_at IS NULL",
                      "tld", device_id, keep_id, ictal__now_s());
}

int ictal__store_session_progress(ictal__store *s, int64_t session_id, int64_t last_seq,
                                  uint64_t frames, uint64_t samples)
{
    return exec_bound(s, "UPDATE sessions SET last_seq = ?2, frames = ?3, samples = ?4 WHERE id = ?1",
                      "llll", session_id, last_seq, (int64_t)frames, (int64_t)samples);
}

int ictal__store_sessions_progress(ictal__store *s, const ictal__progress *p, int n)
{
    /* UPDATE ... FROM (VALUES ...): both dialects name the VALUES columns column1, ... */
    static const char head[] = "UPDATE sessions SET last_seq = v.column2, frames = v.column3,"
                               " samples = v.column4 FROM (VALUES ";
    static const char tail[] = ") AS v WHERE sessions.id = v.column1";
    char sql[sizeof head + sizeof tail + ICTAL_PROGRESS_BATCH * 40];
    int rc = 0;
    for (int at = 0; at < n; at += ICTAL_PROGRESS_BATCH) {
        int k = n - at < ICTAL_PROGRESS_BATCH ? n - at : ICTAL_PROGRESS_BATCH;
        size_t len = (size_t)snprintf(sql, sizeof sql, "%s", head);
        for (int i = 0; i < k; i++)
            len += (size_t)snprintf(sql + len, sizeof sql - len, "%s(?%d, ?%d, ?%d, ?%d)",
                                    i ? ", " : "", 4 * i + 1, 4 * i + 2, 4 * i + 3, 4 * i + 4);
        snprintf(sql + len, sizeof sql - len, "%s", tail);
        ictal__stmt *st = prep(s, sql);
        for (int i = 0; st && i < k; i++) {
            const ictal__progress *r = &p[at + i];
            ictal__db_bind_int64(st, 4 * i + 1, r->session_id);
            ictal__db_bind_int64(st, 4 * i + 2, r->last_seq);
            ictal__db_bind_int64(st, 4 * i + 3, (int64_t)r->frames);
            ictal__db_bind_int64(st, 4 * i + 4, (int64_t)r->samples);
        }
        if (step_done(st) != 0)
            rc = ICTAL_EIO;
    }
    return rc;
}

int ictal__store_session_end(ictal__store *s, int64_t session_id)
{
    return exec_bound(s, "UPDATE sessions SET ended_at = ?2 WHERE id = ?1", "ld", session_id,
                      ictal__now_s());
}

int ictal__store_session_start(ictal__store *s, int64_t session_id, int64_t start_time_us)
{
    return exec_bound(s, "UPDATE sessions SET start_time_us = ?2 WHERE id = ?1", "ll", session_id,
                      start_time_us);
}

#define SESSION_COLS                                                                             \
    "SELECT id, device_id, stream_id, labels, rate_hz, start_time_us, started_at, ended_at,"     \
    " last_seq, frames, samples, samples / NULLIF(rate_hz, 0) AS duration_s,"                               \
    " (SELECT COUNT(*) FROM alarms a WHERE a.session_id = s.id) AS alarms FROM sessions s"

json_t *ictal__store_session_json(ictal__store *s, int64_t session_id)
{
    return row1_json(prep_bind(s, SESSION_COLS " WHERE id = ?1", "l", session_id));
}

json_t *ictal__store_sessions_json(ictal__store *s, const char *device_id, int limit)
{
    return rows_json(prep_bind(s, SESSION_COLS " WHERE ?1 IS NULL OR device_id = ?1"
                                                " ORDER BY id DESC LIMIT ?2",
                               "ti", device_id, limit));
}

/* --- events ---------------------------------------------------------------------------- */

int ictal__store_event(ictal__store *s, const char *device_id, int64_t session_id,
                       const char *kind, json_t *detail)
{
    ictal__stmt *st = prep_bind(s, "INSERT INTO events(at, device_id, session_id, kind, detail)"
                                    " VALUES (?1, ?2, ?3, ?4, ?5)",
                                 "dtltj", ictal__now_s(), device_id, session_id, kind, detail);
    if (st && session_id <= 0) /* a device-level event has no session */
        ictal__db_bind_null(st, 3);
    return step_done(st);
}

json_t *ictal__store_events_json(ictal__store *s, const char *device_id, int64_t since_id,
                                 int limit)
{
    return rows_json(prep_bind(s, "SELECT id, at, device_id, session_id, kind, detail FROM events"
                                  " WHERE (?1 IS NULL OR device_id = ?1) AND id > ?2"
                                  " ORDER BY id DESC LIMIT ?3",
                               "tli", device_id, since_id, limit));
}

/* --- alarms -------------------------------------------------------------------------- */

#define ALARM_COLS                                                                               \
    "SELECT id, uuid, session_id, device_id, detector_event_id, onset_s, alarm_s, offset_s,"     \
    " peak_prob, channels, raised_at, acked_at, acked_by, ack_note, resolved_at,"                \
    " CASE WHEN resolved_at IS NOT NULL THEN 'resolved' WHEN acked_at IS NOT NULL"               \
    " THEN 'acknowledged' ELSE 'raised' END AS state FROM alarms"

json_t *ictal__store_alarm_json(ictal__store *s, int64_t alarm_id)
{
    return row1_json(prep_bind(s, ALARM_COLS " WHERE id = ?1", "l", alarm_id));
}

json_t *ictal__store_alarms_json(ictal__store *s, const char *device_id, int only_open, int limit)
{
    return rows_json(prep_bind(s, ALARM_COLS " WHERE (?1 IS NULL OR device_id = ?1) AND"
                                             " (?2 = 0 OR acked_at IS NULL) ORDER BY id DESC LIMIT ?3",
                               "tii", device_id, only_open, limit));
}

json_t *ictal__store_session_alarms_json(ictal__store *s, int64_t session_id)
{
    return rows_json(prep_bind(s, ALARM_COLS " WHERE session_id = ?1 ORDER BY id", "l", session_id));
}

json_t *ictal__store_open_alarm_counts(ictal__store *s)
{
    json_t *o = json_object();
    ictal__stmt *st = prep(s, "SELECT device_id, COUNT(*) FROM alarms WHERE acked_at IS NULL"
                               " GROUP BY device_id");
    if (st == NULL)
        return o;
    while (ictal__db_step(st) == ICTAL_DB_ROW)
        json_object_set_new(o, ictal__db_column_text(st, 0),
                            json_integer(ictal__db_column_int64(st, 1)));
    ictal__db_finalize(st);
    return o;
}

/* Queues the webhook for one alarm transition (inside the caller's transaction). */
static int outbox_add(ictal__store *s, int64_t alarm_id, const char *type, const char *url)
{
    if (url == NULL || url[0] == 0)
        return 0;
    json_t *alarm = ictal__store_alarm_json(s, alarm_id);
    if (alarm == NULL)
        return ICTAL_ENOENT;
    char event_id[37];
    if (ictal__uuid4(event_id) != 0) {
        json_decref(alarm);
        return ICTAL_EIO;
    }
    double now = ictal__now_s();
    json_t *body = json_pack("{s:s, s:s, s:f, s:o}", "event_id", event_id, "type", type,
                             "created_at", now, "alarm", alarm);
    int rc = exec_bound(s, "INSERT INTO webhook_outbox(event_id, url, body, created_at,"
                           " next_attempt_at) VALUES (?1, ?2, ?3, ?4, ?4)",
                        "ttjd", event_id, url, body, now);
    json_decref(body);
    return rc;
}

int ictal__store_alarm_raise(ictal__store *s, const ictal__alarm_in *a, const char *webhook_url,
                             int64_t *alarm_id, int *created)
{
    char uuid[37];
    if (ictal__uuid4(uuid) != 0)
        return ICTAL_EIO;
    /* One statement is atomic by itself: a transaction only to add the webhook (on
     * PostgreSQL, BEGIN and COMMIT are two round trips more before the alarm is pushed). */
    int tx = webhook_url && webhook_url[0];
    if (tx && ictal__db_begin_write(s->db) != 0)
        return ICTAL_EIO;
    int rc = query_id(s, alarm_id,
                      "INSERT INTO alarms(uuid, session_id, device_id,"
                      " detector_event_id, onset_s, alarm_s, peak_prob, channels, raised_at)"
                      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT DO NOTHING RETURNING id",
                      "tltldddjd", uuid, a->session_id, a->device_id, (int64_t)a->detector_event_id,
                      a->onset_s, a->alarm_s, a->peak_prob, a->channels, ictal__now_s());
    *created = rc == 0;
    if (rc == 0) {
        rc = outbox_add(s, *alarm_id, "alarm.raised", webhook_url);
    } else if (rc == ICTAL_ENOENT) { /* a replayed detector event: the alarm exists */
        rc = query_id(s, alarm_id, "SELECT id FROM alarms WHERE session_id = ?1 AND"
                                   " detector_event_id = ?2",
                      "ll", a->session_id, (int64_t)a->detector_event_id);
        if (rc == ICTAL_ENOENT)
            rc = ICTAL_EIO;
    }
    return tx ? finish(s, rc) : rc;
}

int ictal__store_alarm_resolve(ictal__store *s, int64_t session_id, uint32_t detector_event_id,
                               double offset_s, double peak_prob, const char *webhook_url,
                               int64_t *alarm_id)
{
    int tx = webhook_url && webhook_url[0]; /* as in ictal__store_alarm_raise */
    if (tx && ictal__db_begin_write(s->db) != 0)
        return ICTAL_EIO;
    /* (CASE, not MAX(a, b) or GREATEST: the one spelling both dialects have) */
    int rc = query_id(s, alarm_id,
                      "UPDATE alarms SET offset_s = ?3,"
                      " peak_prob = CASE WHEN ?4 > peak_prob THEN ?4 ELSE peak_prob END,"
                      " resolved_at = ?5 WHERE session_id = ?1 AND detector_event_id = ?2"
                      " AND resolved_at IS NULL RETURNING id",
                      "llddd", session_id, (int64_t)detector_event_id, offset_s, peak_prob,
                      ictal__now_s());
    if (rc == 0)
        rc = outbox_add(s, *alarm_id, "alarm.resolved", webhook_url);
    return tx ? finish(s, rc) : rc;
}

int ictal__store_alarm_ack(ictal__store *s, int64_t alarm_id, const char *by, const char *note,
                           const char *webhook_url)
{
    if (ictal__db_begin_write(s->db) != 0)
        return ICTAL_EIO;
    int rc = ICTAL_EIO;
    ictal__stmt *st = prep_bind(s, "SELECT acked_at IS NOT NULL FROM alarms WHERE id = ?1", "l",
                                 alarm_id);
    if (st) {
        int r = ictal__db_step(st);
        rc = r == ICTAL_DB_ROW    ? (ictal__db_column_int64(st, 0) ? ICTAL_ESTATE : 0)
             : r == ICTAL_DB_DONE ? ICTAL_ENOENT
                                  : ICTAL_EIO;
        ictal__db_finalize(st);
    }
    if (rc == 0)
        rc = exec_bound(s, "UPDATE alarms SET acked_at = ?2, acked_by = ?3, ack_note = ?4 WHERE id = ?1",
                        "ldtt", alarm_id, ictal__now_s(), by, note);
    if (rc == 0)
        rc = outbox_add(s, alarm_id, "alarm.acknowledged", webhook_url);
    return finish(s, rc);
}

/* --- outbox ---------------------------------------------------------------------------- */

int ictal__store_outbox_due(ictal__store *s, double now_s, ictal__outbox_item *items, int max)
{
    /* Servers sharing a PostgreSQL database each claim what they send: in the same
     * statement the items' next attempt moves ICTAL_OUTBOX_CLAIM_S ahead, so no other
     * server sends them meanwhile (the outer conditions are checked again on a row
     * another server just claimed); done or retry then set the real state. */
    ictal__stmt *st =
        ictal__store_is_postgres(s)
            ? prep_bind(s, "UPDATE webhook_outbox SET next_attempt_at = ?3 WHERE id IN"
                           " (SELECT id FROM webhook_outbox WHERE delivered_at IS NULL"
                           "  AND next_attempt_at <= ?1 ORDER BY next_attempt_at, id LIMIT ?2)"
                           " AND delivered_at IS NULL AND next_attempt_at <= ?1"
                           " RETURNING id, event_id, url, body, attempts",
                        "did", now_s, max, now_s + ICTAL_OUTBOX_CLAIM_S)
            : prep_bind(s, "SELECT id, event_id, url, body, attempts FROM webhook_outbox"
                           " WHERE delivered_at IS NULL AND next_attempt_at <= ?1"
                           " ORDER BY next_attempt_at, id LIMIT ?2",
                        "di", now_s, max);
    if (st == NULL)
        return 0;
    int n = 0;
    while (n < max && ictal__db_step(st) == ICTAL_DB_ROW) {
        ictal__outbox_item *it = &items[n++];
        it->id = ictal__db_column_int64(st, 0);
        snprintf(it->event_id, sizeof it->event_id, "%s", ictal__db_column_text(st, 1));
        it->url = strdup(ictal__db_column_text(st, 2));
        it->body = strdup(ictal__db_column_text(st, 3));
        it->attempts = (int)ictal__db_column_int64(st, 4);
    }
    ictal__db_finalize(st);
    return n;
}

int ictal__store_outbox_done(ictal__store *s, int64_t id, double now_s)
{
    return exec_bound(s, "UPDATE webhook_outbox SET delivered_at = ?2,"
                         " attempts = attempts + 1, last_error = NULL WHERE id = ?1",
                      "ld", id, now_s);
}

int ictal__store_outbox_retry(ictal__store *s, int64_t id, double next_s, const char *error)
{
    return exec_bound(s, "UPDATE webhook_outbox SET attempts = attempts + 1,"
                         " next_attempt_at = ?2, last_error = ?3 WHERE id = ?1",
                      "ldt", id, next_s, error);
}

int ictal__store_outbox_counts(ictal__store *s, int64_t *pending, int64_t *delivered)
{
    ictal__stmt *st = prep(s, "SELECT COUNT(*) - COUNT(delivered_at), COUNT(delivered_at)"
                               " FROM webhook_outbox");
    if (st == NULL)
        return ICTAL_EIO;
    int rc = ICTAL_EIO;
    if (ictal__db_step(st) == ICTAL_DB_ROW) {
        *pending = ictal__db_column_int64(st, 0);
        *delivered = ictal__db_column_int64(st, 1);
        rc = 0;
    }
    ictal__db_finalize(st);
    return rc;
}

/* --- API tokens -------------------------------------------------------------------------- */

int ictal__store_token_create(ictal__store *s, const char *name, int role, double expires_at,
                              char *out, size_t size)
{
    char id[17], secret[65];
    unsigned char salt[16], h[32];
    if (size < 80 || ictal__random_hex(id, 8) != 0 || ictal__random_hex(secret, 24) != 0 ||
        ictal__random_bytes(salt, sizeof salt) != 0)
        return ICTAL_EINVAL;
    salted_hash(salt, secret, h);
    int rc = expires_at > 0
                 ? exec_bound(s, "INSERT INTO api_tokens(id, name, role, salt, hash, created_at,"
                                 " expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                              "ttibbdd", id, name, role, salt, 16, h, 32, ictal__now_s(), expires_at)
                 : exec_bound(s, "INSERT INTO api_tokens(id, name, role, salt, hash, created_at)"
                                 " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                              "ttibbd", id, name, role, salt, 16, h, 32, ictal__now_s());
    if (rc == 0)
        snprintf(out, size, "%s.%s", id, secret);
    return rc;
}

/* The id of "<id>.<secret>" into id (17 bytes); 0 or ICTAL_EINVAL. */
static int token_id(const char *token, char id[17])
{
    const char *dot = token ? strchr(token, '.') : NULL;
    if (dot == NULL || dot - token != 16)
        return ICTAL_EINVAL;
    memcpy(id, token, 16);
    id[16] = 0;
    return 0;
}

int ictal__store_token_role(ictal__store *s, const char *token, char *name_buf, size_t size)
{
    char id[17];
    if (token_id(token, id) != 0)
        return ICTAL_ROLE_NONE;
    /* A sign-in session counts while it has not expired and its user is not disabled. */
    ictal__stmt *st = prep_bind(s, "SELECT t.role, t.salt, t.hash, t.name FROM api_tokens t"
                                    " LEFT JOIN users u ON u.name = t.user_name WHERE t.id = ?1"
                                    " AND (t.expires_at IS NULL OR t.expires_at > ?2)"
                                    " AND (t.user_name IS NULL OR u.disabled_at IS NULL)",
                                 "td", id, ictal__now_s());
    if (st == NULL)
        return ICTAL_ROLE_NONE;
    int role = ICTAL_ROLE_NONE;
    if (ictal__db_step(st) == ICTAL_DB_ROW && ictal__db_column_bytes(st, 1) == 16 &&
        ictal__db_column_bytes(st, 2) == 32) {
        unsigned char h[32];
        salted_hash(ictal__db_column_blob(st, 1), token + 17, h);
        if (CRYPTO_memcmp(h, ictal__db_column_blob(st, 2), 32) == 0) {
            role = (int)ictal__db_column_int64(st, 0);
            if (name_buf)
                snprintf(name_buf, size, "%s", ictal__db_column_text(st, 3));
        }
    }
    ictal__db_finalize(st);
    /* Last use to the minute: at most one write per token and minute. */
    if (role != ICTAL_ROLE_NONE) {
        double now = ictal__now_s();
        exec_bound(s, "UPDATE api_tokens SET last_used_at = ?2 WHERE id = ?1 AND"
                      " (last_used_at IS NULL OR last_used_at < ?2 - 60)", "td", id, now);
    }
    return role;
}

int ictal__store_token_live(ictal__store *s, const char *id, char *name_buf, size_t size)
{
    ictal__stmt *st = prep_bind(s, "SELECT t.role, t.name FROM api_tokens t LEFT JOIN users u ON"
                                    " u.name = t.user_name WHERE t.id = ?1"
                                    " AND (t.expires_at IS NULL OR t.expires_at > ?2)"
                                    " AND (t.user_name IS NULL OR u.disabled_at IS NULL)",
                                 "td", id, ictal__now_s());
    int role = ICTAL_ROLE_NONE;
    if (st && ictal__db_step(st) == ICTAL_DB_ROW) {
        role = (int)ictal__db_column_int64(st, 0);
        if (name_buf)
            snprintf(name_buf, size, "%s", ictal__db_column_text(st, 1));
    }
    ictal__db_finalize(st);
    return role;
}

int ictal__store_session_user(ictal__store *s, const char *token, char *user, size_t size)
{
    char id[17];
    user[0] = 0;
    if (token_id(token, id) != 0)
        return ICTAL_ENOENT;
    ictal__stmt *st = prep_bind(s, "SELECT user_name FROM api_tokens WHERE id = ?1"
                                    " AND user_name IS NOT NULL", "t", id);
    int rc = ICTAL_ENOENT;
    if (st && ictal__db_step(st) == ICTAL_DB_ROW) {
        snprintf(user, size, "%s", ictal__db_column_text(st, 0));
        rc = 0;
    }
    ictal__db_finalize(st);
    return rc;
}

json_t *ictal__store_tokens_json(ictal__store *s)
{
    json_t *a = json_array();
    ictal__stmt *st = prep(s, "SELECT id, name, role, created_at, last_used_at, expires_at"
                               " FROM api_tokens WHERE user_name IS NULL ORDER BY created_at, id");
    while (st && ictal__db_step(st) == ICTAL_DB_ROW) {
        json_t *last = ictal__db_column_type(st, 4) == ICTAL_DB_NULL ? json_null()
                                                                 : json_real(ictal__db_column_double(st, 4));
        json_t *exp = ictal__db_column_type(st, 5) == ICTAL_DB_NULL ? json_null()
                                                                : json_real(ictal__db_column_double(st, 5));
        json_array_append_new(
            a, json_pack("{s:s, s:s, s:s, s:f, s:o, s:o}", "id", ictal__db_column_text(st, 0),
                         "name", ictal__db_column_text(st, 1), "role",
                         ictal__role_name((int)ictal__db_column_int64(st, 2)), "created_at",
                         ictal__db_column_double(st, 3), "last_used_at", last, "expires_at", exp));
    }
    ictal__db_finalize(st);
    return a;
}

int ictal__store_token_revoke(ictal__store *s, const char *id)
{
    if (exec_bound(s, "DELETE FROM api_tokens WHERE id = ?1 AND user_name IS NULL", "t", id) != 0)
        return ICTAL_EIO;
    return ictal__db_changes(s->db) == 1 ? 0 : ICTAL_ENOENT;
}

/* --- passwords and users ----------------------------------------------------------------- */

/*
 * scrypt (RFC 7914) at N = 2^15, r = 8, p = 3: 32 MiB and about 0.1-0.3 s per hash, one
 * of OWASP's equivalent settings (2^17/8/1 costs 128 MiB for the same work). The
 * parameters are stored in each hash, so raising them later only affects new hashes.
 */
#define PW_LOG2_N 15
#define PW_R 8
#define PW_P 3
#define PW_KEY 32

static int scrypt_key(const char *password, const unsigned char *salt, size_t salt_len, int log2_n,
                      int r, int p, unsigned char key[PW_KEY])
{
    uint64_t n = (uint64_t)1 << log2_n;
    /* scrypt needs 128 r N bytes for V and 128 r p for B; allow that plus slack. */
    uint64_t maxmem = 128u * (uint64_t)r * (n + (uint64_t)p) + (1u << 20);
    return EVP_PBE_scrypt(password, strlen(password), salt, salt_len, n, (uint64_t)r, (uint64_t)p,
                          maxmem, key, PW_KEY) == 1
               ? 0
               : ICTAL_EIO;
}

static void to_hex(const unsigned char *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
    out[2 * n] = 0;
}

static int from_hex(const char *hex, size_t n, unsigned char *out)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return ICTAL_EFORMAT;
        out[i] = (unsigned char)v;
    }
    return 0;
}

int ictal__password_hash(const char *password, char *out, size_t size)
{
    unsigned char salt[16], key[PW_KEY];
    char salt_hex[33], key_hex[2 * PW_KEY + 1];
    if (ictal__random_bytes(salt, sizeof salt) != 0 ||
        scrypt_key(password, salt, sizeof salt, PW_LOG2_N, PW_R, PW_P, key) != 0)
        return ICTAL_EIO;
    to_hex(salt, sizeof salt, salt_hex);
    to_hex(key, sizeof key, key_hex);
    int n = snprintf(out, size, "$scrypt$ln=%d,r=%d,p=%d$%s$%s", PW_LOG2_N, PW_R, PW_P, salt_hex,
                     key_hex);
    OPENSSL_cleanse(key, sizeof key);
    return n > 0 && (size_t)n < size ? 0 : ICTAL_ENOMEM;
}

int ictal__password_verify(const char *password, const char *encoded)
{
    int log2_n = 0, r = 0, p = 0, used = 0;
    char salt_hex[33], key_hex[2 * PW_KEY + 1];
    unsigned char salt[16], want[PW_KEY], got[PW_KEY];
    if (encoded == NULL ||
        sscanf(encoded, "$scrypt$ln=%d,r=%d,p=%d$%32[0-9a-f]$%64[0-9a-f]%n", &log2_n, &r, &p,
               salt_hex, key_hex, &used) != 5 ||
        encoded[used] != 0 || strlen(salt_hex) != 32 || strlen(key_hex) != 2 * PW_KEY ||
        log2_n < 10 || log2_n > 20 || r < 1 || r > 16 || p < 1 || p > 16 ||
        from_hex(salt_hex, sizeof salt, salt) != 0 || from_hex(key_hex, sizeof want, want) != 0)
        return ICTAL_EFORMAT;
    if (scrypt_key(password, salt, sizeof salt, log2_n, r, p, got) != 0)
        return ICTAL_EIO;
    int rc = CRYPTO_memcmp(got, want, PW_KEY) == 0 ? 0 : ICTAL_EINVAL;
    OPENSSL_cleanse(got, sizeof got);
    return rc;
}

int ictal__password_check(const char *password, ictal_diag *d)
{
    if (password == NULL || strlen(password) < ICTAL_PASSWORD_MIN)
        return ictal_diag_error(d, ICTAL_EINVAL, "a password has at least %d characters",
                                ICTAL_PASSWORD_MIN);
    if (strlen(password) > ICTAL_PASSWORD_MAX)
        return ictal_diag_error(d, ICTAL_EINVAL, "a password has at most %d characters",
                                ICTAL_PASSWORD_MAX);
    return 0;
}

int ictal__user_check(const char *name, const char *password, int role, ictal_diag *d)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > ICTAL_USER_NAME_MAX)
        return ictal_diag_error(d, ICTAL_EINVAL, "a user name has 1 to %d characters",
                                ICTAL_USER_NAME_MAX);
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-' || c == '@'))
            return ictal_diag_error(d, ICTAL_EINVAL,
                                    "a user name has only letters, digits and . _ - @");
    }
    int rc = ictal__password_check(password, d);
    if (rc != 0)
        return rc;
    if (role == ICTAL_ROLE_NONE)
        return ictal_diag_error(d, ICTAL_EINVAL, "the role is viewer, clinician or admin");
    return 0;
}

int ictal__password_dummy(const char *password)
{
    unsigned char salt[16] = {0}, key[PW_KEY];
    int rc = scrypt_key(password, salt, sizeof salt, PW_LOG2_N, PW_R, PW_P, key);
    OPENSSL_cleanse(key, sizeof key);
    return rc;
}

int ictal__store_user_insert(ictal__store *s, const char *name, int role, const char *hash,
                             ictal_diag *d)
{
    if (exec_bound(s, "INSERT INTO users(name, role, password_hash, created_at)"
                      " VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
                   "titd", name, role, hash, ictal__now_s()) != 0)
        return ictal_diag_error(d, ICTAL_EIO, "%s", ictal__db_errmsg(s->db));
    if (ictal__db_changes(s->db) != 1)
        return ictal_diag_error(d, ICTAL_ESTATE, "user %s exists already", name);
    return 0;
}

int ictal__store_user_add(ictal__store *s, const char *name, const char *password, int role,
                          ictal_diag *d)
{
    int rc = ictal__user_check(name, password, role, d);
    if (rc != 0)
        return rc;
    char hash[ICTAL_PASSWORD_HASH_MAX];
    if (ictal__password_hash(password, hash, sizeof hash) != 0)
        return ictal_diag_error(d, ICTAL_EIO, "cannot hash the password");
    return ictal__store_user_insert(s, name, role, hash, d);
}

int ictal__store_user_lookup(ictal__store *s, const char *name, char *stored_name, int *role,
                             char *hash)
{
    stored_name[0] = 0;
    hash[0] = 0;
    *role = ICTAL_ROLE_NONE;
    ictal__stmt *st = prep_bind(s, "SELECT name, role, password_hash FROM users"
                                    " WHERE name = ?1 AND disabled_at IS NULL",
                                 "t", name ? name : "");
    if (st == NULL)
        return ICTAL_EIO;
    int r = ictal__db_step(st);
    int rc = r == ICTAL_DB_DONE ? ICTAL_ENOENT : ICTAL_EIO;
    if (r == ICTAL_DB_ROW) {
        snprintf(stored_name, ICTAL_USER_NAME_MAX + 1, "%s", ictal__db_column_text(st, 0));
        *role = (int)ictal__db_column_int64(st, 1);
        snprintf(hash, ICTAL_PASSWORD_HASH_MAX, "%s", ictal__db_column_text(st, 2));
        rc = 0;
    }
    ictal__db_finalize(st);
    return rc;
}

int ictal__store_user_name(ictal__store *s, const char *name, char *stored_name)
{
    stored_name[0] = 0;
    ictal__stmt *st = prep_bind(s, "SELECT name FROM users WHERE name = ?1", "t", name ? name : "");
    if (st == NULL)
        return ICTAL_EIO;
    int r = ictal__db_step(st);
    int rc = r == ICTAL_DB_DONE ? ICTAL_ENOENT : ICTAL_EIO;
    if (r == ICTAL_DB_ROW) {
        snprintf(stored_name, ICTAL_USER_NAME_MAX + 1, "%s", ictal__db_column_text(st, 0));
        rc = 0;
    }
    ictal__db_finalize(st);
    return rc;
}

int ictal__store_session_open(ictal__store *s, const char *name, double ttl_s, ictal__login *out)
{
    memset(out, 0, sizeof *out);
    char hash[ICTAL_PASSWORD_HASH_MAX];
    int rc = ictal__store_user_lookup(s, name, out->name, &out->role, hash);
    OPENSSL_cleanse(hash, sizeof hash);
    if (rc != 0) {
        memset(out, 0, sizeof *out);
        return rc == ICTAL_ENOENT ? ICTAL_EINVAL : rc;
    }
    char id[17], secret[49];
    unsigned char salt[16], h[32];
    if (ictal__random_hex(id, 8) != 0 || ictal__random_hex(secret, 24) != 0 ||
        ictal__random_bytes(salt, sizeof salt) != 0)
        return ICTAL_EIO;
    salted_hash(salt, secret, h);
    double now = ictal__now_s();
    out->expires_at = now + ttl_s;
    /* Expired sessions are dropped here, the one place that makes them. */
    if (exec_bound(s, "DELETE FROM api_tokens WHERE expires_at IS NOT NULL AND expires_at <= ?1",
                   "d", now) != 0 ||
        exec_bound(s, "INSERT INTO api_tokens(id, name, role, salt, hash, created_at, user_name,"
                      " expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?2, ?7)",
                   "ttibbdd", id, out->name, out->role, salt, 16, h, 32, now,
                   out->expires_at) != 0)
        return ICTAL_EIO;
    snprintf(out->token, sizeof out->token, "%s.%s", id, secret);
    OPENSSL_cleanse(secret, sizeof secret);
    return 0;
}

int ictal__store_session_token_revoke(ictal__store *s, const char *token)
{
    char id[17];
    if (ictal__store_token_role(s, token, NULL, 0) == ICTAL_ROLE_NONE || token_id(token, id) != 0)
        return ICTAL_EINVAL;
    if (exec_bound(s, "DELETE FROM api_tokens WHERE id = ?1 AND user_name IS NOT NULL", "t", id) != 0)
        return ICTAL_EIO;
    return ictal__db_changes(s->db) == 1 ? 0 : ICTAL_ENOENT;
}

/* 1 when name is the only enabled admin (disabling or demoting it would leave none),
 * 0 when not, ICTAL_EIO. Inside the caller's transaction. */
static int only_admin(ictal__store *s, const char *name)
{
    ictal__stmt *st = prep_bind(s, "SELECT"
                                    " EXISTS(SELECT 1 FROM users WHERE name = ?1 AND role = ?2"
                                    "        AND disabled_at IS NULL),"
                                    " (SELECT COUNT(*) FROM users WHERE name != ?1 AND role = ?2"
                                    "  AND disabled_at IS NULL)",
                                 "ti", name, ICTAL_ROLE_ADMIN);
    int rc = ICTAL_EIO;
    if (st && ictal__db_step(st) == ICTAL_DB_ROW)
        rc = (int)ictal__db_column_int64(st, 0) && ictal__db_column_int64(st, 1) == 0;
    ictal__db_finalize(st);
    return rc;
}

int ictal__store_user_disable(ictal__store *s, const char *name)
{
    if (ictal__db_begin_write(s->db) != 0)
        return ICTAL_EIO;
    int rc = only_admin(s, name);
    if (rc == 1)
        rc = ICTAL_ESTATE;
    if (rc == 0)
        rc = exec_bound(s, "UPDATE users SET disabled_at = ?2 WHERE name = ?1 AND disabled_at IS NULL",
                        "td", name, ictal__now_s());
    if (rc == 0 && ictal__db_changes(s->db) != 1)
        rc = ICTAL_ENOENT;
    if (rc == 0)
        rc = exec_bound(s, "DELETE FROM api_tokens WHERE user_name ="
                             " (SELECT name FROM users WHERE name = ?1)", "t", name);
    return finish(s, rc);
}

int ictal__store_user_enable(ictal__store *s, const char *name)
{
    if (exec_bound(s, "UPDATE users SET disabled_at = NULL WHERE name = ?1 AND disabled_at IS NOT NULL",
                   "t", name) != 0)
        return ICTAL_EIO;
    return ictal__db_changes(s->db) == 1 ? 0 : ICTAL_ENOENT;
}

int ictal__store_user_set_role(ictal__store *s, const char *name, int role)
{
    if (role == ICTAL_ROLE_NONE)
        return ICTAL_EINVAL;
    if (ictal__db_begin_write(s->db) != 0)
        return ICTAL_EIO;
    int rc = role == ICTAL_ROLE_ADMIN ? 0 : only_admin(s, name);
    if (rc == 1)
        rc = ICTAL_ESTATE;
    if (rc == 0)
        rc = exec_bound(s, "UPDATE users SET role = ?2 WHERE name = ?1", "ti", name, role);
    if (rc == 0 && ictal__db_changes(s->db) != 1)
        rc = ICTAL_ENOENT;
    /* A session carries its user's role: its open sessions change with it. */
    if (rc == 0)
        rc = exec_bound(s, "UPDATE api_tokens SET role = ?2 WHERE user_name ="
                           " (SELECT name FROM users WHERE name = ?1)", "ti", name, role);
    return finish(s, rc);
}

int ictal__store_user_set_password(ictal__store *s, const char *name, const char *hash,
                                   const char *keep_id)
{
    if (ictal__db_begin_write(s->db) != 0)
        return ICTAL_EIO;
    int rc = exec_bound(s, "UPDATE users SET password_hash = ?2, password_changed_at = ?3"
                           " WHERE name = ?1", "ttd", name, hash, ictal__now_s());
    if (rc == 0 && ictal__db_changes(s->db) != 1)
        rc = ICTAL_ENOENT;
    if (rc == 0)
        rc = exec_bound(s, "DELETE FROM api_tokens WHERE user_name ="
                           " (SELECT name FROM users WHERE name = ?1) AND id != ?2",
                        "tt", name, keep_id ? keep_id : "");
    return finish(s, rc);
}

json_t *ictal__store_users_json(ictal__store *s)
{
    json_t *a = json_array();
    ictal__stmt *st = prep_bind(s, "SELECT name, role, created_at, disabled_at,"
                                    " (SELECT COUNT(*) FROM api_tokens t WHERE t.user_name = u.name"
                                    "  AND t.expires_at > ?1), password_changed_at"
                                    " FROM users u ORDER BY name",
                                 "d", ictal__now_s());
    while (st && ictal__db_step(st) == ICTAL_DB_ROW) {
        json_array_append_new(
            a, json_pack("{s:s, s:s, s:f, s:o, s:I, s:o}", "name",
                         ictal__db_column_text(st, 0), "role",
                         ictal__role_name((int)ictal__db_column_int64(st, 1)), "created_at",
                         ictal__db_column_double(st, 2), "disabled_at",
                         ictal__db_column_type(st, 3) == ICTAL_DB_NULL
                             ? json_null()
                             : json_real(ictal__db_column_double(st, 3)),
                         "sessions", (json_int_t)ictal__db_column_int64(st, 4), "password_changed_at",
                         ictal__db_column_type(st, 5) == ICTAL_DB_NULL
                             ? json_null()
                             : json_real(ictal__db_column_double(st, 5))));
    }
    ictal__db_finalize(st);
    return a;
}
