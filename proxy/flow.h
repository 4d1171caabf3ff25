/* flow.h - one direction of a proxied connection: bytes read from src, looked
 * at by an optional inspector (MySQL framing), passed through the fault effect
 * (stall, blackhole, shaping) and written to dst. Bounded memory: when dst
 * cannot take more, the buffer fills and src is no longer read. */
#ifndef DDLP_FLOW_H
#define DDLP_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <ev.h>

#include "stream.h"
#include "fault.h"

struct flow;

struct flow_owner_ops {
    /* Recompute stream interest (both flows of the owner share two streams). */
    void (*rearm)(void *owner);
    /* An I/O error on stream `at` (src or dst), or a fault's close; the owner closes. */
    void (*failed)(void *owner, struct flow *f, struct stream *at, const char *why);
    /* src reached EOF and everything read was forwarded. */
    void (*drained_eof)(void *owner, struct flow *f);
};

/* Looks at buf[scanned..tail) and advances scanned past what may be sent.
 * Sets f->need (contiguous bytes wanted from scanned) to ask for more, or
 * f->held to pause the flow until flow_resume(). Returns -1 to fail the
 * connection (f->fail_reason says why). */
typedef int (*flow_inspect_fn)(struct flow *f, void *arg);

struct flow {
    struct ev_loop *loop;
    struct stream *src, *dst;
    uint8_t *buf;
    size_t cap, min_cap, max_cap;
    size_t head;                 /* bytes before head were written (or handed to the shaper) */
    size_t scanned;              /* [head, scanned) may be written */
    size_t tail;                 /* [scanned, tail) read, not yet inspected */
    size_t need;                 /* inspector wants this many contiguous bytes at scanned */
    bool held;
    bool exact_reads;            /* read no further than the end of the needed bytes (before a TLS switch) */
    bool src_eof;
    bool eof_reported;
    flow_inspect_fn inspect;
    void *inspect_arg;
    const char *fail_reason;

    struct fault_dir_effect effect;
    struct shaper *shaper;
    int release_fd;              /* timerfd releasing shaped bytes (-1: none) */
    ev_io release_io;
    bool release_armed;
    int64_t close_after_left;    /* -1: no close_after fault */

    uint64_t bytes_in, bytes_out, bytes_dropped;
    uint64_t *stat_bytes;        /* endpoint counter to add written bytes to */

    const struct flow_owner_ops *ops;
    void *owner;
};

void flow_init(struct flow *f, struct ev_loop *loop, struct stream *src, struct stream *dst,
               size_t min_cap, size_t max_cap, const struct flow_owner_ops *ops, void *owner);
void flow_free(struct flow *f);
/* Stops the flow's own watchers (the connection is closing). */
void flow_stop(struct flow *f);

void flow_on_readable(struct flow *f);
void flow_on_writable(struct flow *f);
bool flow_wants_read(const struct flow *f);
bool flow_wants_write(const struct flow *f);

void flow_set_effect(struct flow *f, const struct fault_dir_effect *e);
void flow_resume(struct flow *f);
/* Inserts proxy-made bytes at the release point (they go out next, in order). */
int flow_inject(struct flow *f, const void *data, size_t len);
/* Replaces the fully buffered packet of old_len bytes at scanned by new bytes. */
int flow_replace(struct flow *f, size_t old_len, const void *data, size_t new_len);
/* Forwards everything that is already released; used before closing. */
void flow_flush(struct flow *f);
/* Frees the pooled buffers (at exit). */
void flow_pool_drain(void);

#endif
