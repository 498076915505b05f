/*
 * A real nats-server for the NATS tests: started here with JetStream (-js through its
 * config) on a free 127.0.0.1 port, a temporary store directory and the subject mapping
 * of docs/nats-server.conf (N partitions), killed and restarted on the same port and
 * store (the stream and the consumers survive). Plus a raw device client for payloads
 * the fleet would never send.
 */
#ifndef ICTAL_NATS_TEST_UTIL_H
#define ICTAL_NATS_TEST_UTIL_H

#include <fcntl.h>
#include <nats/nats.h>

#include "server_test_util.h"

static inline const char *tn_nats_server_path(void)
{
    static const char *cands[] = {"/usr/bin/nats-server", "/usr/sbin/nats-server",
                                  "/usr/local/bin/nats-server"};
    for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++)
        if (access(cands[i], X_OK) == 0)
            return cands[i];
    return NULL;
}

typedef struct tn_server {
    pid_t pid;
    int port;
    char conf[300];
    char url[64];
} tn_server;

/* Starts (or restarts) the server of t, waiting until it accepts connections. */
static inline int tn_start(tn_server *t)
{
    t->pid = fork();
    if (t->pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) {
            dup2(null, 1);
            dup2(null, 2);
        }
        execl(tn_nats_server_path(), "nats-server", "-c", t->conf, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 400; i++) {
        if (ts_port_open(t->port))
            return 0;
        ts_sleep_ms(25);
    }
    return -1;
}

/* Writes dir/nats-server.conf (port, JetStream store dir/js, the mapping to
 * `partitions` partitions) and starts the server. */
static inline int tn_create(tn_server *t, const char *dir, int partitions)
{
    memset(t, 0, sizeof *t);
    t->port = ts_free_port();
    snprintf(t->url, sizeof t->url, "nats://127.0.0.1:%d", t->port);
    snprintf(t->conf, sizeof t->conf, "%s/nats-server.conf", dir);
    FILE *f = fopen(t->conf, "w");
    if (f == NULL)
        return -1;
    /* The same mapping as docs/nats-server.conf. */
    fprintf(f,
            "listen: 127.0.0.1:%d\n"
            "jetstream { store_dir: \"%s/js\", max_memory_store: 64M }\n"
            "mappings = {\n"
            "  \"ictal.v1.dev.*.*\": \"ictal.v1.p.{{partition(%d,1)}}.{{wildcard(1)}}.{{wildcard(2)}}\"\n"
            "}\n",
            t->port, dir, partitions);
    fclose(f);
    return tn_start(t);
}

static inline void tn_kill(tn_server *t)
{
    if (t->pid > 0) {
        kill(t->pid, SIGKILL);
        waitpid(t->pid, NULL, 0);
        t->pid = 0;
    }
}

/* Kills the server after delay_ms, starts it again gap_ms later (a thread, while a
 * fleet streams). */
typedef struct tn_restart_job {
    tn_server *t;
    int delay_ms, gap_ms, restarted;
} tn_restart_job;

static inline void *tn_restart_main(void *arg)
{
    tn_restart_job *j = arg;
    ts_sleep_ms(j->delay_ms);
    tn_kill(j->t);
    ts_sleep_ms(j->gap_ms);
    j->restarted = tn_start(j->t) == 0;
    return NULL;
}

/* The start of a NATS test over the chb05 excerpt: skips (77) without nats-server or the
 * excerpt; loads it into *src (250-sample frames), makes the temporary directory
 * /tmp/ictal-TAG-XXXXXX (into dir, 64 bytes) and starts nats-server there with
 * n_partitions. 0, or -1 when that failed. */
static inline int tn_begin(const char *tag, int n_partitions, ictal__sim_source *src, char dir[64],
                           tn_server *t)
{
    if (tn_nats_server_path() == NULL)
        TEST_SKIP("nats-server is not installed (Debian package nats-server)");
    const char *edf = test_shared_path("data/chbmit-continuous/chb05_06_excerpt.edf");
    if (edf == NULL)
        TEST_SKIP("needs ../shared/data/chbmit-continuous/chb05_06_excerpt.edf");
    signal(SIGPIPE, SIG_IGN);
    CHECK_EQ_INT(ictal__sim_source_from_file(src, edf, NULL, 250, NULL), 0);
    snprintf(dir, 64, "/tmp/ictal-%s-XXXXXX", tag);
    if (mkdtemp(dir) == NULL)
        return -1;
    CHECK_EQ_INT(tn_create(t, dir, n_partitions), 0);
    return 0;
}

/* The partition nats-server's mapping `partition(N,1)` gives a device id: FNV-1a of
 * the id, modulo N (docs/nats-server.conf). */
static inline int tn_partition_of(const char *dev, int n_partitions)
{
    uint32_t h = 2166136261u;
    for (; *dev; dev++) {
        h ^= (uint8_t)*dev;
        h *= 16777619u;
    }
    return (int)(h % (uint32_t)n_partitions);
}

/* Kills worker *w with SIGKILL after delay_ms and starts it again gap_ms later (a
 * thread, while a fleet streams). */
typedef struct tn_crash_job {
    test_server *w;
    const char *dir;
    const char *const *args;
    int delay_ms, gap_ms, restarted;
} tn_crash_job;

static inline void *tn_crash_main(void *arg)
{
    tn_crash_job *j = arg;
    ts_sleep_ms(j->delay_ms);
    ts_stop(j->w, SIGKILL);
    ts_sleep_ms(j->gap_ms);
    j->restarted = ts_start_cmd(j->w, "worker", j->dir, j->args) == 0;
    return NULL;
}

/* --- a raw device: publishes what it is given, reads its ctl subject ------------------ */

typedef struct tn_raw {
    natsConnection *nc;
    jsCtx *js;
    natsSubscription *ctl;
    char dev[96];
    char last_error[256];   /* the stream's answer to the last publish, when it refused */
} tn_raw;

static inline int tn_raw_open(tn_raw *r, const char *url, const char *dev)
{
    memset(r, 0, sizeof *r);
    snprintf(r->dev, sizeof r->dev, "%s", dev);
    char subj[160];
    snprintf(subj, sizeof subj, "ictal.v1.ctl.%s", dev);
    if (natsConnection_ConnectTo(&r->nc, url) != NATS_OK ||
        natsConnection_JetStream(&r->js, r->nc, NULL) != NATS_OK ||
        natsConnection_SubscribeSync(&r->ctl, r->nc, subj) != NATS_OK)
        return -1;
    return natsConnection_Flush(r->nc) == NATS_OK ? 0 : -1;
}

static inline void tn_raw_close(tn_raw *r)
{
    natsSubscription_Destroy(r->ctl);
    jsCtx_Destroy(r->js);
    natsConnection_Destroy(r->nc);
}

/* Publishes p on ictal.v1.dev.<topic_dev or the raw device>.<leaf> through JetStream
 * (msgid: the Nats-Msg-Id, or NULL); returns the next ctl message within wait_ms as
 * JSON, or NULL (r->last_error says why when the stream refused the message). */
static inline json_t *tn_raw_req(tn_raw *r, const char *topic_dev, const char *leaf,
                                 const void *p, size_t n, const char *msgid, int wait_ms)
{
    char subj[200];
    snprintf(subj, sizeof subj, "ictal.v1.dev.%s.%s", topic_dev ? topic_dev : r->dev, leaf);
    r->last_error[0] = 0;
    natsMsg *m = NULL;
    if (natsMsg_Create(&m, subj, NULL, p, (int)n) != NATS_OK)
        return NULL;
    if (msgid)
        natsMsgHeader_Set(m, "Nats-Msg-Id", msgid);
    jsPubAck *pa = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_PublishMsg(&pa, r->js, m, NULL, &jerr);
    natsMsg_Destroy(m);
    jsPubAck_Destroy(pa);
    if (s != NATS_OK) {
        const char *e = nats_GetLastError(NULL);
        snprintf(r->last_error, sizeof r->last_error, "%s (%d)", e ? e : natsStatus_GetText(s),
                 (int)jerr);
        return NULL;
    }
    natsMsg *reply = NULL;
    if (natsSubscription_NextMsg(&reply, r->ctl, wait_ms) != NATS_OK)
        return NULL;
    json_t *j = json_loadb(natsMsg_GetData(reply), (size_t)natsMsg_GetDataLength(reply), 0, NULL);
    natsMsg_Destroy(reply);
    return j;
}

#endif
