/* The server's SQLite store and session frame log: migrations, hashed secrets,
 * idempotent alarms, the webhook outbox, torn-tail recovery. */
#include <fcntl.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/seslog.h"
#include "server/store.h"
#include "test.h"

static char dir[64];

static void test_store(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/t.db", dir);
    ictal__store s;
    ictal_diag d;
    ictal_diag_init(&d);
    CHECK_EQ_INT(ictal__store_open(&s, path, &d), 0);
    CHECK_EQ_INT(ictal__store_user_version(&s), ICTAL_STORE_SCHEMA_VERSION);

    /* Devices: the token is checked, and never stored in clear. */
    CHECK_EQ_INT(ictal__store_device_auth(&s, "dev-1", "secret-token-1"), ICTAL_ENOENT);
    CHECK_EQ_INT(ictal__store_device_add(&s, "dev-1", "secret-token-1"), 0);
    CHECK_EQ_INT(ictal__store_device_add(&s, "dev-1", "other-token"), ICTAL_ESTATE);
    CHECK_EQ_INT(ictal__store_device_auth(&s, "dev-1", "secret-token-1"), 0);
    CHECK_EQ_INT(ictal__store_device_auth(&s, "dev-1", "secret-token-2"), ICTAL_EINVAL);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(s.db, "SELECT COUNT(*) FROM devices WHERE instr(token_hash, 'secret') > 0"
                             " OR length(token_hash) != 32", -1, &st, NULL);
    CHECK(sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 0);
    sqlite3_finalize(st);

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

    /* A parameter is data, never SQL. */
    CHECK_EQ_INT(ictal__store_device_auth(&s, "x' OR '1'='1", "secret-token-1"), ICTAL_ENOENT);
    json_decref(labels);
    ictal__store_close(&s);

    /* Reopening runs no migration twice; a newer schema is refused. */
    CHECK_EQ_INT(ictal__store_open(&s, path, &d), 0);
    CHECK_EQ_INT(ictal__store_user_version(&s), ICTAL_STORE_SCHEMA_VERSION);
    sqlite3_exec(s.db, "PRAGMA user_version=99", NULL, NULL, NULL);
    ictal__store_close(&s);
    CHECK_EQ_INT(ictal__store_open(&s, path, &d), ICTAL_EVERSION);
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
    test_store();
    test_seslog();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return test_summary();
}
