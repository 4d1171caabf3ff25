/* msgqueue.c - mutex-protected FIFO drained on the loop through ev_async. */
#include "msgqueue.h"

#include <pthread.h>
#include <stdlib.h>

struct msg {
    struct msg *next;
    int type;
    void *payload;
};

struct msgqueue {
    struct ev_loop *loop;
    ev_async wakeup;
    pthread_mutex_t lock;
    struct msg *head, *tail;
    msg_handler_fn handler;
    void *arg;
};

static void msgqueue_drain(struct ev_loop *loop, ev_async *w, int revents)
{
    struct msgqueue *q = w->data;
    pthread_mutex_lock(&q->lock);
    struct msg *m = q->head;
    q->head = q->tail = NULL;
    pthread_mutex_unlock(&q->lock);
    while (m) {
        struct msg *next = m->next;
        q->handler(m->type, m->payload, q->arg);
        free(m);
        m = next;
    }
}

struct msgqueue *msgqueue_new(struct ev_loop *loop, msg_handler_fn handler, void *arg)
{
    struct msgqueue *q = calloc(1, sizeof(*q));
    if (!q)
        return NULL;
    q->loop = loop;
    q->handler = handler;
    q->arg = arg;
    pthread_mutex_init(&q->lock, NULL);
    ev_async_init(&q->wakeup, msgqueue_drain);
    q->wakeup.data = q;
    ev_async_start(loop, &q->wakeup);
    return q;
}

int msgqueue_post(struct msgqueue *q, int type, void *payload)
{
    struct msg *m = malloc(sizeof(*m));
    if (!m)
        return -1;
    m->next = NULL;
    m->type = type;
    m->payload = payload;
    pthread_mutex_lock(&q->lock);
    if (q->tail)
        q->tail->next = m;
    else
        q->head = m;
    q->tail = m;
    pthread_mutex_unlock(&q->lock);
    ev_async_send(q->loop, &q->wakeup);
    return 0;
}

void msgqueue_free(struct msgqueue *q, void (*dispose)(int type, void *payload))
{
    if (!q)
        return;
    ev_async_stop(q->loop, &q->wakeup);
    struct msg *m = q->head;
    while (m) {
        struct msg *next = m->next;
        if (dispose)
            dispose(m->type, m->payload);
        free(m);
        m = next;
    }
    pthread_mutex_destroy(&q->lock);
    free(q);
}
