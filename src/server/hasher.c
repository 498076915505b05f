/* Password hashing off the event loop (hasher.h). */
#include "server/hasher.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "ictal/error.h"

enum { SLOT_FREE = 0, SLOT_QUEUED, SLOT_RUNNING, SLOT_DONE };

typedef struct slot {
    int state;
    uint64_t order;                          /* submission order: jobs run first in, first out */
    char password[ICTAL_PASSWORD_MAX + 1];
    ictal__hash_result r;                    /* in: id, op, encoded (VERIFY); out: rc, encoded */
} slot;

struct ictal__hasher {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    slot *slots;
    int n_slots;
    int n_queued;
    uint64_t next_order;
    int stop;
    ictal__hasher_wake_fn wake;
    void *user;
};

static void hash_one(slot *s)
{
    switch (s->r.op) {
    case ICTAL__HASH_NEW:
        s->r.rc = ictal__password_hash(s->password, s->r.encoded, sizeof s->r.encoded);
        break;
    case ICTAL__HASH_VERIFY:
        s->r.rc = ictal__password_verify(s->password, s->r.encoded);
        break;
    default:
        s->r.rc = ictal__password_dummy(s->password) == 0 ? ICTAL_EINVAL : ICTAL_EIO;
        break;
    }
    OPENSSL_cleanse(s->password, sizeof s->password);
    if (s->r.op != ICTAL__HASH_NEW)
        memset(s->r.encoded, 0, sizeof s->r.encoded);
}

static void *hasher_main(void *arg)
{
    ictal__hasher *h = arg;
    pthread_mutex_lock(&h->mu);
    for (;;) {
        while (h->n_queued == 0 && !h->stop)
            pthread_cond_wait(&h->cv, &h->mu);
        if (h->stop)
            break;
        slot *next = NULL;
        for (int i = 0; i < h->n_slots; i++)
            if (h->slots[i].state == SLOT_QUEUED && (next == NULL || h->slots[i].order < next->order))
                next = &h->slots[i];
        next->state = SLOT_RUNNING;
        h->n_queued--;
        /* The slot is the thread's while RUNNING: the loop neither reads nor reuses it. */
        pthread_mutex_unlock(&h->mu);
        hash_one(next);
        pthread_mutex_lock(&h->mu);
        next->state = SLOT_DONE;
        pthread_mutex_unlock(&h->mu);
        h->wake(h->user);
        pthread_mutex_lock(&h->mu);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

int ictal__hasher_create(ictal__hasher **out, int max_jobs, ictal__hasher_wake_fn wake, void *user)
{
    ictal__hasher *h = calloc(1, sizeof *h);
    if (h == NULL || max_jobs < 1)
        goto fail;
    h->slots = calloc((size_t)max_jobs, sizeof *h->slots);
    if (h->slots == NULL)
        goto fail;
    h->n_slots = max_jobs;
    h->wake = wake;
    h->user = user;
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    if (pthread_create(&h->thread, NULL, hasher_main, h) != 0) {
        pthread_mutex_destroy(&h->mu);
        pthread_cond_destroy(&h->cv);
        goto fail;
    }
    *out = h;
    return 0;
fail:
    if (h)
        free(h->slots);
    free(h);
    return ICTAL_ENOMEM;
}

int ictal__hasher_submit(ictal__hasher *h, uint64_t id, int op, const char *password,
                         const char *encoded)
{
    size_t n = password ? strlen(password) : 0;
    if (n > ICTAL_PASSWORD_MAX || (op == ICTAL__HASH_VERIFY && encoded == NULL))
        return ICTAL_EINVAL;
    pthread_mutex_lock(&h->mu);
    slot *s = NULL;
    for (int i = 0; i < h->n_slots && s == NULL; i++)
        if (h->slots[i].state == SLOT_FREE)
            s = &h->slots[i];
    if (s == NULL) {
        pthread_mutex_unlock(&h->mu);
        return ICTAL_ESTATE;
    }
    memcpy(s->password, password ? password : "", n + 1);
    memset(&s->r, 0, sizeof s->r);
    s->r.id = id;
    s->r.op = op;
    if (op == ICTAL__HASH_VERIFY)
        snprintf(s->r.encoded, sizeof s->r.encoded, "%s", encoded);
    s->order = h->next_order++;
    s->state = SLOT_QUEUED;
    h->n_queued++;
    pthread_cond_signal(&h->cv);
    pthread_mutex_unlock(&h->mu);
    return 0;
}

int ictal__hasher_take(ictal__hasher *h, ictal__hash_result *out)
{
    int got = 0;
    pthread_mutex_lock(&h->mu);
    for (int i = 0; i < h->n_slots && !got; i++) {
        slot *s = &h->slots[i];
        if (s->state == SLOT_DONE) {
            *out = s->r;
            OPENSSL_cleanse(&s->r, sizeof s->r);
            s->state = SLOT_FREE;
            got = 1;
        }
    }
    pthread_mutex_unlock(&h->mu);
    return got;
}

int ictal__hasher_held(ictal__hasher *h)
{
    int n = 0;
    pthread_mutex_lock(&h->mu);
    for (int i = 0; i < h->n_slots; i++)
        n += h->slots[i].state != SLOT_FREE;
    pthread_mutex_unlock(&h->mu);
    return n;
}

void ictal__hasher_destroy(ictal__hasher *h)
{
    if (h == NULL)
        return;
    pthread_mutex_lock(&h->mu);
    h->stop = 1;
    pthread_cond_signal(&h->cv);
    pthread_mutex_unlock(&h->mu);
    pthread_join(h->thread, NULL);
    /* Queued jobs were never hashed: their passwords go with them. */
    OPENSSL_cleanse(h->slots, (size_t)h->n_slots * sizeof *h->slots);
    free(h->slots);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cv);
    free(h);
}
