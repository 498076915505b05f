/* fdatasync off the event loop (syncer.h). */
#include "server/syncer.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "ictal/error.h"

typedef struct job {
    int fd;
    int64_t session_id, seq;
} job;

struct ictal__syncer {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job *jobs;          /* to sync */
    size_t n, cap;
    job *done;          /* synced, for the loop */
    size_t n_done, cap_done;
    int stop;
    char *db_path;
    ictal__syncer_wake_fn wake;
    void *user;
};

static void checkpoint(sqlite3 *db)
{
    if (db)
        sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
}

static void *syncer_main(void *arg)
{
    ictal__syncer *s = arg;
    sqlite3 *db = NULL;
    if (s->db_path && sqlite3_open_v2(s->db_path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        db = NULL;
    }
    if (db)
        sqlite3_busy_timeout(db, 1000);
    pthread_mutex_lock(&s->mu);
    for (;;) {
        if (s->n == 0 && !s->stop) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += 1;
            if (pthread_cond_timedwait(&s->cv, &s->mu, &until) != 0 && s->n == 0 && !s->stop) {
                pthread_mutex_unlock(&s->mu);
                checkpoint(db);
                pthread_mutex_lock(&s->mu);
            }
            continue;
        }
        if (s->n == 0 && s->stop)
            break;
        job j = s->jobs[--s->n];
        pthread_mutex_unlock(&s->mu);
        int ok = fdatasync(j.fd) == 0;
        close(j.fd);
        pthread_mutex_lock(&s->mu);
        if (ok) {
            if (s->n_done == s->cap_done) {
                size_t cap = s->cap_done ? s->cap_done * 2 : 256;
                job *nd = realloc(s->done, cap * sizeof *nd);
                if (nd) {
                    s->done = nd;
                    s->cap_done = cap;
                }
            }
            if (s->n_done < s->cap_done)
                s->done[s->n_done++] = j;
        }
        if (s->n == 0 && s->n_done > 0 && s->wake) {
            pthread_mutex_unlock(&s->mu);
            s->wake(s->user);
            pthread_mutex_lock(&s->mu);
        }
    }
    pthread_mutex_unlock(&s->mu);
    checkpoint(db);
    sqlite3_close(db);
    return NULL;
}

int ictal__syncer_create(ictal__syncer **out, const char *db_path, ictal__syncer_wake_fn wake,
                         void *user)
{
    ictal__syncer *s = calloc(1, sizeof *s);
    if (s == NULL)
        return ICTAL_ENOMEM;
    s->wake = wake;
    s->user = user;
    s->db_path = db_path ? strdup(db_path) : NULL;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    if (pthread_create(&s->thread, NULL, syncer_main, s) != 0) {
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
        free(s->db_path);
        free(s);
        return ICTAL_ENOMEM;
    }
    *out = s;
    return 0;
}

void ictal__syncer_push(ictal__syncer *s, int fd, int64_t session_id, int64_t seq)
{
    pthread_mutex_lock(&s->mu);
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        job *nj = realloc(s->jobs, cap * sizeof *nj);
        if (nj == NULL) {
            pthread_mutex_unlock(&s->mu);
            close(fd); /* out of memory: the next tick tries again */
            return;
        }
        s->jobs = nj;
        s->cap = cap;
    }
    s->jobs[s->n++] = (job){fd, session_id, seq};
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

int ictal__syncer_done(ictal__syncer *s, int64_t *session_id, int64_t *seq, int max)
{
    pthread_mutex_lock(&s->mu);
    int n = 0;
    while (n < max && s->n_done > 0) {
        job j = s->done[--s->n_done];
        session_id[n] = j.session_id;
        seq[n] = j.seq;
        n++;
    }
    pthread_mutex_unlock(&s->mu);
    return n;
}

void ictal__syncer_destroy(ictal__syncer *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->mu);
    s->stop = 1;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s->jobs);
    free(s->done);
    free(s->db_path);
    free(s);
}
