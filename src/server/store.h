/*
 * The server's database: devices, sessions, events, alarms, the webhook outbox, API
 * tokens and users. SQLite (a file, WAL) by default, PostgreSQL when opened with a
 * postgresql:// URI; both through the SQL layer of db.h, so every function here runs on
 * both. Schema changes are migrations keyed by the schema version (db.h); every
 * statement is parameterised. Secrets (device and API tokens) are kept only as
 * SHA-256(salt || token) with a random 16-byte salt per secret.
 *
 * All functions run on the server's event loop thread; none is thread-safe.
 */
#ifndef ICTAL_SERVER_STORE_H
#define ICTAL_SERVER_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ictal/error.h"

#define ICTAL_STORE_SCHEMA_VERSION 3

typedef struct ictal__db ictal__db;

typedef struct ictal__store {
    ictal__db *db;
} ictal__store;

typedef enum ictal__role {
    ICTAL_ROLE_NONE = 0,
    ICTAL_ROLE_VIEWER = 1,
    ICTAL_ROLE_CLINICIAN = 2,
    ICTAL_ROLE_ADMIN = 3
} ictal__role;

const char *ictal__role_name(int role);
int ictal__role_parse(const char *name); /* ICTAL_ROLE_NONE when unknown */

/* Opens target (a SQLite file, created when missing, or a postgresql:// URI; password
 * may be NULL: db.h) and runs pending migrations. d says what failed. */
int ictal__store_open(ictal__store *s, const char *target, const char *password, ictal_diag *d);
/* 1 when the store is on PostgreSQL. */
int ictal__store_is_postgres(const ictal__store *s);
void ictal__store_close(ictal__store *s);
/* No automatic WAL checkpoints on this connection (another one runs them). */
int ictal__store_manual_checkpoints(ictal__store *s);
int ictal__store_user_version(ictal__store *s); /* the schema version */
/* Groups the following writes in one transaction (commit: 0 or ICTAL_EIO). */
int ictal__store_begin(ictal__store *s);
int ictal__store_commit(ictal__store *s);

/* --- secrets --------------------------------------------------------------------- */

/* Fills out with n random bytes (OpenSSL RAND_bytes). */
int ictal__random_bytes(void *out, size_t n);
/* Lower-case hex of n random bytes into out (2n + 1 bytes). */
int ictal__random_hex(char *out, size_t n);
/* A random RFC 4122 version-4 UUID ("xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx"), 37 bytes. */
int ictal__uuid4(char out[37]);
/* Lower-case hex HMAC-SHA256 of msg under key into out (65 bytes). */
void ictal__hmac_sha256_hex(const char *key, const void *msg, size_t len, char out[65]);

/* --- devices --------------------------------------------------------------------- */

/*
 * Checks a device's token. ICTAL_ENOENT when the device is unknown (the caller may then
 * enrol it), ICTAL_EINVAL when the token does not match.
 */
int ictal__store_device_auth(ictal__store *s, const char *device_id, const char *token);
/* Registers a device with its token (hashed). ICTAL_ESTATE when it exists already. */
int ictal__store_device_add(ictal__store *s, const char *device_id, const char *token);
/* Records the latest hello. */
int ictal__store_device_seen(ictal__store *s, const char *device_id, const char *firmware,
                             json_t *labels, double rate_hz);
json_t *ictal__store_devices_json(ictal__store *s);

/* --- sessions -------------------------------------------------------------------- */

/* The session of (device, stream): its id, and *created = 1 when it was new. */
int ictal__store_session_get(ictal__store *s, const char *device_id, const char *stream_id,
                             json_t *labels, double rate_hz, int64_t start_time_us,
                             int64_t *session_id, int *created);
/* Closes every other open session of the device (a new stream started). */
int ictal__store_session_end_others(ictal__store *s, const char *device_id, int64_t keep_id);
int ictal__store_session_progress(ictal__store *s, int64_t session_id, int64_t last_seq,
                                  uint64_t frames, uint64_t samples);
typedef struct ictal__progress {
    int64_t session_id, last_seq;
    uint64_t frames, samples;
} ictal__progress;
/* The progress of n sessions, in one statement per ICTAL_PROGRESS_BATCH of them (with
 * PostgreSQL, a round trip per statement is what costs). */
#define ICTAL_PROGRESS_BATCH 64
int ictal__store_sessions_progress(ictal__store *s, const ictal__progress *p, int n);
int ictal__store_session_end(ictal__store *s, int64_t session_id);
/* The session's time origin: the device time of its first frame. */
int ictal__store_session_start(ictal__store *s, int64_t session_id, int64_t start_time_us);
/* One session's row as JSON (NULL when absent). */
json_t *ictal__store_session_json(ictal__store *s, int64_t session_id);
json_t *ictal__store_sessions_json(ictal__store *s, const char *device_id, int limit);

/* --- events ---------------------------------------------------------------------- */

int ictal__store_event(ictal__store *s, const char *device_id, int64_t session_id,
                       const char *kind, json_t *detail /* borrowed, may be NULL */);
json_t *ictal__store_events_json(ictal__store *s, const char *device_id, int64_t since_id,
                                 int limit);

/* --- alarms and the webhook outbox ------------------------------------------------ */

typedef struct ictal__alarm_in {
    int64_t session_id;
    const char *device_id;
    uint32_t detector_event_id; /* with session_id: unique, so a replay cannot duplicate */
    double onset_s, alarm_s;    /* seconds from the session start */
    double peak_prob;
    json_t *channels;           /* borrowed array of labels */
} ictal__alarm_in;

/*
 * Inserts a raised alarm and, when webhook_url is set, its outbox entry, in one
 * transaction. *alarm_id gets the row id; *created = 0 when it existed already (a
 * replayed detector event), in which case nothing is written.
 */
int ictal__store_alarm_raise(ictal__store *s, const ictal__alarm_in *a, const char *webhook_url,
                             int64_t *alarm_id, int *created);
/* Marks an alarm resolved (offset known) and queues its webhook. 0 or ICTAL_ENOENT. */
int ictal__store_alarm_resolve(ictal__store *s, int64_t session_id, uint32_t detector_event_id,
                               double offset_s, double peak_prob, const char *webhook_url,
                               int64_t *alarm_id);
/* Acknowledges an alarm. ICTAL_ENOENT when absent, ICTAL_ESTATE when already acked. */
int ictal__store_alarm_ack(ictal__store *s, int64_t alarm_id, const char *by, const char *note,
                           const char *webhook_url);
json_t *ictal__store_alarm_json(ictal__store *s, int64_t alarm_id);
/* Alarms, newest first; device_id NULL for all; only_open: not acknowledged. */
json_t *ictal__store_alarms_json(ictal__store *s, const char *device_id, int only_open, int limit);
/* Alarms of one session, oldest first. */
json_t *ictal__store_session_alarms_json(ictal__store *s, int64_t session_id);
/* Unacknowledged alarm count per device: {"dev": n, ...}. */
json_t *ictal__store_open_alarm_counts(ictal__store *s);

typedef struct ictal__outbox_item {
    int64_t id;
    char event_id[40];
    char *url;
    char *body;
    int attempts;
} ictal__outbox_item;

/* Up to max items due at now_s (not delivered, next_attempt <= now). Returns the count;
 * free each url and body with free(). On PostgreSQL, which several servers may share,
 * the items are claimed: not due again for ICTAL_OUTBOX_CLAIM_S (longer than a
 * delivery attempt may take), unless done or retried first; so ask only for as many as
 * will be sent. On SQLite (one server) items being sent stay due. */
#define ICTAL_OUTBOX_CLAIM_S 30.0
int ictal__store_outbox_due(ictal__store *s, double now_s, ictal__outbox_item *items, int max);
int ictal__store_outbox_done(ictal__store *s, int64_t id, double now_s);
int ictal__store_outbox_retry(ictal__store *s, int64_t id, double next_s, const char *error);
/* Counts: pending (not delivered) and delivered. */
int ictal__store_outbox_counts(ictal__store *s, int64_t *pending, int64_t *delivered);

/* --- API tokens -------------------------------------------------------------------- */

/* Creates a token "<id>.<secret>" for a role into out (>= 80 bytes); expires_at in Unix
 * seconds, 0 for a token that does not expire. */
int ictal__store_token_create(ictal__store *s, const char *name, int role, double expires_at,
                              char *out, size_t size);
/* The role of a presented token (an API token or a live sign-in session), or
 * ICTAL_ROLE_NONE. name_buf (may be NULL) gets a copy of its name. */
int ictal__store_token_role(ictal__store *s, const char *token, char *name_buf, size_t size);
/* The role of the token with this id (its first 16 characters) while it still counts: it
 * exists, has not expired, and its user (if any) is not disabled; else ICTAL_ROLE_NONE.
 * name_buf (may be NULL) gets its name. (A presented token's use is recorded by
 * ictal__store_token_role, in last_used_at, to the minute.) */
int ictal__store_token_live(ictal__store *s, const char *id, char *name_buf, size_t size);
/* The user of a sign-in session token (whose validity the caller checked) into user:
 * 0, or ICTAL_ENOENT for an API token. */
int ictal__store_session_user(ictal__store *s, const char *token, char *user, size_t size);
/* The API tokens (not sign-in sessions), oldest first, never their secrets:
 * [{"id","name","role","created_at","last_used_at","expires_at"}]. */
json_t *ictal__store_tokens_json(ictal__store *s);
/* Deletes the API token with this id. ICTAL_ENOENT when no API token has it (sign-in
 * sessions end by logout, a password change or disabling their user). */
int ictal__store_token_revoke(ictal__store *s, const char *id);

/* --- users and sign-in sessions -------------------------------------------------------- */

#define ICTAL_USER_NAME_MAX 64
#define ICTAL_PASSWORD_MIN 10
#define ICTAL_PASSWORD_MAX 1024
#define ICTAL_PASSWORD_HASH_MAX 160
#define ICTAL_SESSION_TTL_S (12 * 3600.0)

/*
 * Password hashes are "$scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt hex>$<key hex>": scrypt
 * with a random 16-byte salt per hash and the cost parameters kept beside it.
 */
int ictal__password_hash(const char *password, char *out, size_t size);
/* 0 when password matches encoded, ICTAL_EINVAL when not, ICTAL_EFORMAT when encoded
 * is not a hash of ours. Constant-time comparison. */
int ictal__password_verify(const char *password, const char *encoded);
/* Checks a new password: 10-1024 bytes (the one password policy: accounts made by the
 * CLI, POST /api/users and password changes). 0 or ICTAL_EINVAL with d saying why. */
int ictal__password_check(const char *password, ictal_diag *d);
/* Checks a new account: name 1-64 of [A-Za-z0-9._@-], the password as
 * ictal__password_check, a role. 0 or ICTAL_EINVAL with d saying what is wrong. */
int ictal__user_check(const char *name, const char *password, int role, ictal_diag *d);
/* Does the work of one password check, for a user that does not exist (so that timing
 * tells nothing). 0 or ICTAL_EIO. */
int ictal__password_dummy(const char *password);
/* Adds a user (names compare without case). ICTAL_ESTATE when the name is taken
 * (disabled users keep theirs). Hashes on the calling thread: for the CLI; the server
 * hashes on its hasher thread (hasher.h) and calls ictal__store_user_insert. */
int ictal__store_user_add(ictal__store *s, const char *name, const char *password, int role,
                          ictal_diag *d);
/* Adds a user whose password is hashed already (encoded as ictal__password_hash). */
int ictal__store_user_insert(ictal__store *s, const char *name, int role, const char *hash,
                             ictal_diag *d);

typedef struct ictal__login {
    char token[80];    /* "<id>.<secret>", used like an API token */
    char name[ICTAL_USER_NAME_MAX + 1];
    int role;
    double expires_at; /* Unix seconds */
} ictal__login;

/* The enabled user called name: its stored name (ICTAL_USER_NAME_MAX + 1 bytes), role
 * and password hash (ICTAL_PASSWORD_HASH_MAX bytes). ICTAL_ENOENT when there is none
 * (or it is disabled). */
int ictal__store_user_lookup(ictal__store *s, const char *name, char *stored_name, int *role,
                             char *hash);
/* The stored name (ICTAL_USER_NAME_MAX + 1 bytes) of the user called name, enabled or
 * disabled. ICTAL_ENOENT when there is none. */
int ictal__store_user_name(ictal__store *s, const char *name, char *stored_name);
/* Opens a sign-in session of ttl_s seconds for the user called name, whose password was
 * checked: a token in the api_tokens table bound to the user, with its current role.
 * ICTAL_EINVAL when the user is gone or was disabled meanwhile. */
int ictal__store_session_open(ictal__store *s, const char *name, double ttl_s, ictal__login *out);
/* Ends the sign-in session of token. ICTAL_EINVAL when it does not count, ICTAL_ENOENT
 * when it is an API token rather than a session. */
int ictal__store_session_token_revoke(ictal__store *s, const char *token);
/* Disables a user and ends its sessions. ICTAL_ENOENT when no enabled user has name,
 * ICTAL_ESTATE when it is the last enabled admin. */
int ictal__store_user_disable(ictal__store *s, const char *name);
/* Re-enables a disabled user (its old sessions stay ended). ICTAL_ENOENT when no
 * disabled user has name. */
int ictal__store_user_enable(ictal__store *s, const char *name);
/* Sets a user's role, and that of its open sessions. ICTAL_ENOENT when no user has name,
 * ICTAL_ESTATE when it would demote the last enabled admin, ICTAL_EINVAL for no role. */
int ictal__store_user_set_role(ictal__store *s, const char *name, int role);
/* Stores a new password hash (as ictal__password_hash) for the user called name and ends
 * its sign-in sessions but the one whose token id is keep_id (NULL: all of them).
 * ICTAL_ENOENT when no user has name. */
int ictal__store_user_set_password(ictal__store *s, const char *name, const char *hash,
                                   const char *keep_id);
/* [{"name","role","created_at","disabled_at","sessions","password_changed_at"}] (never
 * the hashes). */
json_t *ictal__store_users_json(ictal__store *s);

double ictal__now_s(void); /* wall clock, Unix seconds */

#endif
