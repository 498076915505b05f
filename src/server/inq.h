/*
 * A bounded queue from a transport's network threads to the event loop (MQTT: mqtt.c,
 * NATS: natsdev.c). Threads push items and wake the loop (wake(), e.g.
 * lws_cancel_service); the loop takes everything queued at once. When the queue holds
 * max_items items or max_bytes bytes, push waits for room: the transport stops reading
 * and the broker holds messages back (backpressure), nothing is dropped.
 */
#ifndef ICTAL_SERVER_INQ_H
#define ICTAL_SERVER_INQ_H

#include <pthread.h>
#include <stddef.h>

/* The head of a queued item: embed it first in the transport's own struct. */
typedef struct ictal__inq_item {
    struct ictal__inq_item *next;
    size_t bytes;               /* counted against max_bytes */
} ictal__inq_item;

typedef struct ictal__inq {
    pthread_mutex_t mu;         /* also free for the transport's counters shared with
                                   its threads */
    pthread_cond_t room;
    ictal__inq_item *head, *tail;
    size_t n, bytes, max_items, max_bytes;
    int stop;
    void (*wake)(void *);
    void *wake_user;
} ictal__inq;

void ictal__inq_init(ictal__inq *q, size_t max_items, size_t max_bytes, void (*wake)(void *),
                     void *wake_user);

/* From a thread: queues it (waiting for room) and wakes the loop; returns 0, or -1 once
 * the queue is stopped (it was not taken: the caller frees it). */
int ictal__inq_push(ictal__inq *q, ictal__inq_item *it);

/* On the loop: every queued item, oldest first (NULL: none); room for the threads. */
ictal__inq_item *ictal__inq_take(ictal__inq *q);

/* Wakes every waiting push, which then fails; later pushes fail too. */
void ictal__inq_stop(ictal__inq *q);

/* After ictal__inq_stop and the threads' end: returns what was still queued, for the
 * caller to free, and frees the queue's own resources. */
ictal__inq_item *ictal__inq_destroy(ictal__inq *q);

#endif
