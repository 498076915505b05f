/*
 * A real PostgreSQL server for the tests: a temporary cluster (initdb) in a directory
 * of its own, listening only on a unix socket there, started and stopped with pg_ctl.
 * PostgreSQL refuses to run as root: under uid 0 (CI) its programs run as the user
 * postgres (runuser), which then owns the directory. tpg_start returns TEST_SKIP_CODE
 * only when the PostgreSQL programs are not installed (Debian package postgresql).
 */
#ifndef ICTAL_PG_TEST_UTIL_H
#define ICTAL_PG_TEST_UTIL_H

#include <glob.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/db.h"
#include "test.h"

typedef struct test_pg {
    char bin[256];  /* directory of initdb, pg_ctl, postgres */
    char dir[128];  /* the cluster's directory: data/, the socket, pg.log */
    char as[64];    /* "runuser -u postgres -- " under root, else "" */
    int port;       /* names the socket: DIR/.s.PGSQL.PORT */
    int running;
} test_pg;

/* The PostgreSQL programs' directory into out: $ICTAL_PG_BIN, else the newest
 * /usr/lib/postgresql/N/bin. 0, or -1 when none has initdb. */
static inline int tpg_find_bin(char *out, size_t size)
{
    const char *env = getenv("ICTAL_PG_BIN");
    char probe[512];
    if (env && env[0]) {
        snprintf(probe, sizeof probe, "%s/initdb", env);
        if (access(probe, X_OK) == 0) {
            snprintf(out, size, "%s", env);
            return 0;
        }
        return -1;
    }
    glob_t g;
    int rc = -1;
    if (glob("/usr/lib/postgresql/*/bin/initdb", 0, NULL, &g) == 0 && g.gl_pathc > 0) {
        /* glob sorts: the last is the newest when versions have the same digit count */
        const char *best = g.gl_pathv[g.gl_pathc - 1];
        size_t n = strlen(best) - strlen("/initdb");
        if (n < size) {
            memcpy(out, best, n);
            out[n] = 0;
            rc = 0;
        }
    }
    globfree(&g);
    return rc;
}

/* Runs a PostgreSQL program (as postgres under root); its output goes to DIR/cmd.log. */
static inline int tpg_run(const test_pg *p, const char *fmt, const char *arg)
{
    char args[1024], cmd[2048];
    snprintf(args, sizeof args, fmt, arg);
    snprintf(cmd, sizeof cmd, "%s%s/%s >>%s/cmd.log 2>&1", p->as, p->bin, args, p->dir);
    return system(cmd);
}

/* Starts (again) the cluster's server. 0 or -1 (DIR/pg.log says why). */
static inline int tpg_server_start(test_pg *p)
{
    char args[1024];
    /* Durability off: these are tests (the benchmark in docs/server.md runs with it on). */
    snprintf(args, sizeof args,
             "pg_ctl -D %s/data -l %s/pg.log -w -t 60 -o \"-c listen_addresses='' -k %s -p %d"
             " -c fsync=off -c synchronous_commit=off -c full_page_writes=off\" start",
             p->dir, p->dir, p->dir, p->port);
    if (tpg_run(p, "%s", args) != 0)
        return -1;
    p->running = 1;
    return 0;
}

/* Stops it (fast: connections are cut, as when a database server goes away). */
static inline void tpg_server_stop(test_pg *p)
{
    char args[512];
    snprintf(args, sizeof args, "pg_ctl -D %s/data -w -m fast stop", p->dir);
    tpg_run(p, "%s", args);
    p->running = 0;
}

/* Local connections are trusted, but those of the role TPG_PW_USER need its password
 * (TPG_PW_PASSWORD; SCRAM), to test password handling. Root may rewrite the file that
 * postgres owns; its owner stays. */
#define TPG_PW_USER "pwuser"
#define TPG_PW_PASSWORD "pw-of-pwuser 1"
static inline int tpg_hba_password(const test_pg *p)
{
    char path[256], old[16384];
    snprintf(path, sizeof path, "%s/data/pg_hba.conf", p->dir);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(old, 1, sizeof old - 1, f) : 0;
    if (f)
        fclose(f);
    if (n == 0 || n >= sizeof old - 1)
        return -1;
    old[n] = 0;
    f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "local all " TPG_PW_USER " scram-sha-256\n%s", old);
    return fclose(f) == 0 ? 0 : -1;
}

/* A new cluster, started. 0, TEST_SKIP_CODE without PostgreSQL, -1 on failure. */
static inline int tpg_start(test_pg *p)
{
    memset(p, 0, sizeof *p);
    if (tpg_find_bin(p->bin, sizeof p->bin) != 0)
        return TEST_SKIP_CODE;
    snprintf(p->dir, sizeof p->dir, "/tmp/ictal-pg-XXXXXX");
    if (mkdtemp(p->dir) == NULL)
        return -1;
    p->port = 5432;
    if (geteuid() == 0) {
        struct passwd *pw = getpwnam("postgres");
        if (pw == NULL || chown(p->dir, pw->pw_uid, pw->pw_gid) != 0) {
            fprintf(stderr, "pg_test_util: running as root and cannot hand %s to postgres\n", p->dir);
            return -1;
        }
        snprintf(p->as, sizeof p->as, "runuser -u postgres -- ");
    }
    /* A test that crashes never calls tpg_stop: a watchdog stops the cluster and removes
     * it once this process is gone (after tpg_stop it finds nothing left to do). */
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "(while kill -0 %ld 2>/dev/null; do sleep 1; done; sleep 1;"
             " [ -d %s/data ] && %s%s/pg_ctl -D %s/data -m immediate stop; rm -rf %s)"
             " </dev/null >/dev/null 2>&1 &",
             (long)getpid(), p->dir, p->as, p->bin, p->dir, p->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "pg_test_util: no watchdog for %s\n", p->dir);
    char args[1024];
    snprintf(args, sizeof args, "initdb -D %s/data -U ictal --auth=trust -E UTF8 --no-locale --no-sync",
             p->dir);
    if (tpg_run(p, "%s", args) != 0 || tpg_hba_password(p) != 0 || tpg_server_start(p) != 0) {
        fprintf(stderr, "pg_test_util: cannot start PostgreSQL; see %s/cmd.log and pg.log\n", p->dir);
        return -1;
    }
    return 0;
}

/* The URI of database name on the cluster into out. */
static inline void tpg_url(const test_pg *p, const char *name, char *out, size_t size)
{
    snprintf(out, size, "postgresql:///%s?host=%s&port=%d&user=ictal", name, p->dir, p->port);
}

/* Creates database name (dropping an old one) and puts its URI into out. 0 or -1. */
static inline int tpg_createdb(const test_pg *p, const char *name, char *out, size_t size)
{
    char url[512], sql[256];
    tpg_url(p, "postgres", url, sizeof url);
    ictal__db *db = NULL;
    ictal_diag d;
    ictal_diag_init(&d);
    if (ictal__db_open(&db, url, NULL, &d) != 0) {
        fprintf(stderr, "pg_test_util: %s\n", d.message);
        return -1;
    }
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s; ", name);
    int rc = ictal__db_exec(db, sql);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    if (rc == 0)
        rc = ictal__db_exec(db, sql);
    ictal__db_close(db);
    tpg_url(p, name, out, size);
    return rc == 0 ? 0 : -1;
}

/* Creates the role TPG_PW_USER (password TPG_PW_PASSWORD; once per cluster) and its
 * database name; its URI, without the password, into out. 0 or -1. */
static inline int tpg_createdb_pw(const test_pg *p, const char *name, char *out, size_t size)
{
    char url[512], sql[512];
    tpg_url(p, "postgres", url, sizeof url);
    ictal__db *db = NULL;
    ictal_diag d;
    ictal_diag_init(&d);
    if (ictal__db_open(&db, url, NULL, &d) != 0)
        return -1;
    /* One statement per call: DROP and CREATE DATABASE refuse a transaction, which a
     * string of several statements is. */
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", name);
    int rc = ictal__db_exec(db, sql);
    if (rc == 0)
        rc = ictal__db_exec(db, "CREATE ROLE " TPG_PW_USER " LOGIN PASSWORD '" TPG_PW_PASSWORD "'");
    snprintf(sql, sizeof sql, "CREATE DATABASE %s OWNER " TPG_PW_USER, name);
    if (rc == 0)
        rc = ictal__db_exec(db, sql);
    ictal__db_close(db);
    snprintf(out, size, "postgresql://" TPG_PW_USER "@/%s?host=%s&port=%d", name, p->dir, p->port);
    return rc == 0 ? 0 : -1;
}

/* Stops the server (also when a start said it failed) and removes the cluster. */
static inline void tpg_stop(test_pg *p)
{
    if (p->dir[0] == 0)
        return;
    tpg_server_stop(p);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", p->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "pg_test_util: could not remove %s\n", p->dir);
    p->dir[0] = 0;
}

#endif
