/*
 * The server's second helper thread: it computes password hashes (scrypt, 0.1-0.3 s
 * each, store.h) so that sign-ins never stall the event loop, and with it frame acks
 * and alarm delivery for every device. The loop submits a job (a request id chosen by
 * the loop, the password, the stored hash to check against) and returns; the thread
 * hashes, keeps the result and wakes the loop, which takes the results and completes
 * the requests (session tokens and user rows stay on the loop's database connection).
 *
 * The queue is bounded: at most max_jobs jobs are held at once, queued, running or
 * done but not yet taken, so memory is bounded whatever the request rate; a submit
 * beyond that fails and the caller answers 503. Copies of passwords are wiped
 * (OPENSSL_cleanse) as soon as they are hashed, and when a job is dropped.
 */
#ifndef ICTAL_SERVER_HASHER_H
#define ICTAL_SERVER_HASHER_H

#include <stdint.h>

#include "server/store.h"

typedef struct ictal__hasher ictal__hasher;

enum {
    ICTAL__HASH_NEW = 1,   /* a new password: encoded gets its hash */
    ICTAL__HASH_VERIFY,    /* check the password against encoded */
    ICTAL__HASH_DUMMY      /* the work of a check, for a user that does not exist */
};

typedef struct ictal__hash_result {
    uint64_t id;                             /* the request id given to submit */
    int op;                                  /* ICTAL__HASH_* */
    int rc;                                  /* 0; ICTAL_EINVAL: no match (and always for
                                                DUMMY); ICTAL_EFORMAT, ICTAL_EIO */
    char encoded[ICTAL_PASSWORD_HASH_MAX];   /* NEW: the hash to store */
} ictal__hash_result;

/* Called on the hasher thread when results are ready, to wake the loop. */
typedef void (*ictal__hasher_wake_fn)(void *user);

int ictal__hasher_create(ictal__hasher **out, int max_jobs, ictal__hasher_wake_fn wake, void *user);
/* Queues one job (password is copied; encoded is the stored hash for VERIFY, else NULL).
 * Never blocks on a hash. ICTAL_ESTATE when max_jobs are held already, ICTAL_EINVAL
 * for a password over ICTAL_PASSWORD_MAX bytes. */
int ictal__hasher_submit(ictal__hasher *h, uint64_t id, int op, const char *password,
                         const char *encoded);
/* Takes one finished job into out: 1, or 0 when none is ready. */
int ictal__hasher_take(ictal__hasher *h, ictal__hash_result *out);
/* Jobs held (queued, running, or finished and not taken). */
int ictal__hasher_held(ictal__hasher *h);
/* Stops the thread after the hash in progress (queued jobs are dropped), frees h. */
void ictal__hasher_destroy(ictal__hasher *h);

#endif
