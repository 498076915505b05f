/*
 * The password hasher thread (src/server/hasher.h) on its own: a new hash that then
 * verifies (and a wrong password that does not), the dummy check of an unknown user,
 * results tagged with their request ids and the loop woken for them, the bounded queue
 * (ICTAL_ESTATE when full, free again once results are taken), and destroying it with
 * jobs queued (ASan: nothing leaks).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "server/hasher.h"
#include "test.h"

static atomic_int wakes;

static void on_wake(void *user)
{
    (void)user;
    atomic_fetch_add(&wakes, 1);
}

/* Waits (up to 30 s) for one result. */
static int take_wait(ictal__hasher *h, ictal__hash_result *r)
{
    for (int i = 0; i < 3000; i++) {
        if (ictal__hasher_take(h, r))
            return 1;
        struct timespec t = {0, 10000000L};
        nanosleep(&t, NULL);
    }
    return 0;
}

int main(void)
{
    ictal__hasher *h = NULL;
    CHECK_EQ_INT(ictal__hasher_create(&h, 3, on_wake, NULL), 0);
    ictal__hash_result r;
    CHECK_EQ_INT(ictal__hasher_take(h, &r), 0);

    /* A new hash, in the stored format, that verifies. */
    CHECK_EQ_INT(ictal__hasher_submit(h, 7, ICTAL__HASH_NEW, "a password 123", NULL), 0);
    CHECK(take_wait(h, &r));
    CHECK_EQ_INT((int)r.id, 7);
    CHECK_EQ_INT(r.op, ICTAL__HASH_NEW);
    CHECK_EQ_INT(r.rc, 0);
    CHECK(strncmp(r.encoded, "$scrypt$ln=15,r=8,p=3$", 22) == 0);
    CHECK_EQ_INT(ictal__password_verify("a password 123", r.encoded), 0);
    CHECK(atomic_load(&wakes) >= 1);
    char stored[ICTAL_PASSWORD_HASH_MAX];
    snprintf(stored, sizeof stored, "%s", r.encoded);

    /* Right and wrong passwords, and an unknown user: results carry their ids. */
    CHECK_EQ_INT(ictal__hasher_submit(h, 8, ICTAL__HASH_VERIFY, "a password 123", stored), 0);
    CHECK_EQ_INT(ictal__hasher_submit(h, 9, ICTAL__HASH_VERIFY, "a password 124", stored), 0);
    CHECK_EQ_INT(ictal__hasher_submit(h, 10, ICTAL__HASH_DUMMY, "a password 123", NULL), 0);
    /* Three held: the queue is full until a result is taken. */
    CHECK_EQ_INT(ictal__hasher_held(h), 3);
    CHECK_EQ_INT(ictal__hasher_submit(h, 11, ICTAL__HASH_DUMMY, "x", NULL), ICTAL_ESTATE);
    int seen = 0;
    for (int k = 0; k < 3; k++) {
        CHECK(take_wait(h, &r));
        if (r.id == 8)
            CHECK_EQ_INT(r.rc, 0);
        else if (r.id == 9 || r.id == 10)
            CHECK_EQ_INT(r.rc, ICTAL_EINVAL);
        CHECK(r.encoded[0] == 0); /* only new hashes come back */
        seen |= 1 << (r.id - 8);
        if (k == 0)
            CHECK_EQ_INT(ictal__hasher_submit(h, 12, ICTAL__HASH_DUMMY, "x", NULL), 0);
    }
    CHECK_EQ_INT(seen, 7);
    CHECK(take_wait(h, &r));
    CHECK_EQ_INT((int)r.id, 12);
    CHECK_EQ_INT(ictal__hasher_held(h), 0);

    /* A malformed stored hash; a password over the limit is refused at submit. */
    CHECK_EQ_INT(ictal__hasher_submit(h, 13, ICTAL__HASH_VERIFY, "a password 123", "$scrypt$zz"), 0);
    CHECK(take_wait(h, &r));
    CHECK_EQ_INT(r.rc, ICTAL_EFORMAT);
    char big[ICTAL_PASSWORD_MAX + 2];
    memset(big, 'p', sizeof big - 1);
    big[sizeof big - 1] = 0;
    CHECK_EQ_INT(ictal__hasher_submit(h, 14, ICTAL__HASH_NEW, big, NULL), ICTAL_EINVAL);

    /* Destroyed with jobs queued and one running: joins, frees. */
    for (int i = 0; i < 3; i++)
        CHECK_EQ_INT(ictal__hasher_submit(h, 20 + (uint64_t)i, ICTAL__HASH_DUMMY, "a password", NULL), 0);
    ictal__hasher_destroy(h);
    return test_summary();
}
