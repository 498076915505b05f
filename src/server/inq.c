/* A bounded queue from network threads to the event loop (inq.h). */
#include "server/inq.h"

void ictal__inq_init(ictal__inq *q, size_t max_items, size_t max_bytes, void (*wake)(void *),
                     void *wake_user)
{
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->room, NULL);
    q->head = q->tail = NULL;
    q->n = q->bytes = 0;
    q->max_items = max_items;
    q->max_bytes = max_bytes;
    q->stop = 0;
    q->wake = wake;
    q->wake_user = wake_user;
}

int ictal__inq_push(ictal__inq *q, ictal__inq_item *it)
{
    it->next = NULL;
    pthread_mutex_lock(&q->mu);
    /* Backpressure: the thread waits while the loop is behind (an item larger than
     * max_bytes alone still goes through once the queue is empty). */
    while (!q->stop && q->n > 0 && (q->n >= q->max_items || q->bytes + it->bytes > q->max_bytes))
        pthread_cond_wait(&q->room, &q->mu);
    if (q->stop) {
        pthread_mutex_unlock(&q->mu);
        return -1;
    }
    if (q->tail)
        q->tail->next = it;
    else
        q->head = it;
    q->tail = it;
    q->n++;
    q->bytes += it->bytes;
    pthread_mutex_unlock(&q->mu);
    q->wake(q->wake_user);
    return 0;
}

ictal__inq_item *ictal__inq_take(ictal__inq *q)
{
    pthread_mutex_lock(&q->mu);
    ictal__inq_item *list = q->head;
    q->head = q->tail = NULL;
    q->n = q->bytes = 0;
    pthread_cond_broadcast(&q->room);
    pthread_mutex_unlock(&q->mu);
    return list;
}

void ictal__inq_stop(ictal__inq *q)
{
    pthread_mutex_lock(&q->mu);
    q->stop = 1;
    pthread_cond_broadcast(&q->room);
    pthread_mutex_unlock(&q->mu);
}

ictal__inq_item *ictal__inq_destroy(ictal__inq *q)
{
    ictal__inq_item *list = q->head;
    q->head = q->tail = NULL;
    pthread_cond_destroy(&q->room);
    pthread_mutex_destroy(&q->mu);
    return list;
}
