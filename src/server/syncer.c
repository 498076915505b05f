/* fdatasync off the event loop (syncer.h). */
#include "server/syncer.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "ictal/error.h"

struct ictal__syncer {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int *fds;
    size_t n, cap;
    int stop;
};

static void *syncer_main(void *arg)
{
    ictal__syncer *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (s->n == 0 && !s->stop)
            pthread_cond_wait(&s->cv, &s->mu);
        if (s->n == 0 && s->stop)
            break;
        int fd = s->fds[--s->n];
        pthread_mutex_unlock(&s->mu);
        fdatasync(fd);
        close(fd);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

int ictal__syncer_create(ictal__syncer **out)
{
    ictal__syncer *s = calloc(1, sizeof *s);
    if (s == NULL)
        return ICTAL_ENOMEM;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    if (pthread_create(&s->thread, NULL, syncer_main, s) != 0) {
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
        free(s);
        return ICTAL_ENOMEM;
    }
    *out = s;
    return 0;
}

void ictal__syncer_push(ictal__syncer *s, int fd)
{
    pthread_mutex_lock(&s->mu);
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        int *nf = realloc(s->fds, cap * sizeof *nf);
        if (nf == NULL) {
            pthread_mutex_unlock(&s->mu);
            fdatasync(fd); /* out of memory: sync here rather than not at all */
            close(fd);
            return;
        }
        s->fds = nf;
        s->cap = cap;
    }
    s->fds[s->n++] = fd;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
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
    free(s->fds);
    free(s);
}
