/* msgqueue.h - the one boundary between helper threads and the event loop.
 * Threads post messages; the loop drains them in its own context via ev_async.
 * Helper threads never touch loop-owned objects directly. */
#ifndef DDLP_MSGQUEUE_H
#define DDLP_MSGQUEUE_H

#include <ev.h>

struct msgqueue;

/* Runs on the loop thread for each message, in posting order. */
typedef void (*msg_handler_fn)(int type, void *payload, void *arg);

struct msgqueue *msgqueue_new(struct ev_loop *loop, msg_handler_fn handler, void *arg);
/* Thread-safe. Ownership of payload passes to the handler. Returns -1 on ENOMEM. */
int msgqueue_post(struct msgqueue *q, int type, void *payload);
/* Stops the watcher; undelivered payloads are passed to dispose (may be NULL). */
void msgqueue_free(struct msgqueue *q, void (*dispose)(int type, void *payload));

#endif
