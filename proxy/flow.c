/* flow.c - the relay engine shared by the MySQL sessions and the endpoint relays. */
#include "flow.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "shaper.h"

#define SHAPER_MAX_QUEUED (4u << 20)   /* bytes a shaped direction may hold */

static void flow_pump(struct flow *f);

/* Buffers of min_cap bytes are recycled through a small pool: a connection
 * holds one only while bytes are in flight, so idle connections cost no
 * buffer memory and busy ones do not pay malloc/free per read. */
#define POOL_MAX 256
static void *pool[POOL_MAX];
static size_t pool_len, pool_buf_size;

static uint8_t *buf_get(size_t size)
{
    if (size == pool_buf_size && pool_len > 0)
        return pool[--pool_len];
    return malloc(size);
}

static void buf_put(uint8_t *buf, size_t size)
{
    if (pool_buf_size == 0)
        pool_buf_size = size;
    if (size == pool_buf_size && pool_len < POOL_MAX)
        pool[pool_len++] = buf;
    else
        free(buf);
}

void flow_pool_drain(void)
{
    while (pool_len > 0)
        free(pool[--pool_len]);
}

/* Shaped bytes are released by a timerfd rather than an ev_timer: libev's
 * epoll backend rounds timeouts up to whole milliseconds, which would add up
 * to 1 ms to every delay. A flow has the fd only while it is shaped. */
static void release_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct flow *f = w->data;
    uint64_t expirations;
    if (read(f->release_fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
        log_warn("release timer: %s", strerror(errno));
    f->release_armed = false;
    flow_pump(f);
    f->ops->rearm(f->owner);
}

static void release_at(struct flow *f, uint64_t delay_us)
{
    if (f->release_fd < 0) {
        f->release_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        if (f->release_fd < 0) {
            log_error("timerfd_create: %s", strerror(errno));
            return;
        }
        ev_io_init(&f->release_io, release_cb, f->release_fd, EV_READ);
        f->release_io.data = f;
        ev_io_start(f->loop, &f->release_io);
    }
    if (delay_us == 0)
        delay_us = 1;
    struct itimerspec its = { .it_value = { .tv_sec = (time_t)(delay_us / 1000000),
                                            .tv_nsec = (long)(delay_us % 1000000) * 1000 } };
    timerfd_settime(f->release_fd, 0, &its, NULL);
    f->release_armed = true;
}

static void release_stop(struct flow *f)
{
    if (f->release_fd < 0)
        return;
    ev_io_stop(f->loop, &f->release_io);
    close(f->release_fd);
    f->release_fd = -1;
    f->release_armed = false;
}

void flow_init(struct flow *f, struct ev_loop *loop, struct stream *src, struct stream *dst,
               size_t min_cap, size_t max_cap, const struct flow_owner_ops *ops, void *owner)
{
    memset(f, 0, sizeof(*f));
    f->loop = loop;
    f->src = src;
    f->dst = dst;
    f->min_cap = min_cap;
    f->max_cap = max_cap < min_cap ? min_cap : max_cap;
    f->ops = ops;
    f->owner = owner;
    f->close_after_left = -1;
    f->effect.close_after_bytes = -1;
    f->release_fd = -1;
}

void flow_stop(struct flow *f)
{
    release_stop(f);
}

void flow_free(struct flow *f)
{
    release_stop(f);
    if (f->shaper)
        shaper_free(f->shaper);
    f->shaper = NULL;
    if (f->buf)
        buf_put(f->buf, f->cap);
    f->buf = NULL;
    f->cap = f->head = f->scanned = f->tail = 0;
}

/* Makes room at tail: compacts, then grows up to max_cap when the inspector
 * needs more contiguous bytes than fit. Returns free bytes at tail. */
static size_t flow_make_room(struct flow *f)
{
    if (!f->buf) {
        f->buf = buf_get(f->min_cap);
        if (!f->buf)
            return 0;
        f->cap = f->min_cap;
    }
    if (f->tail < f->cap)
        return f->cap - f->tail;
    if (f->head > 0) {
        memmove(f->buf, f->buf + f->head, f->tail - f->head);
        f->scanned -= f->head;
        f->tail -= f->head;
        f->head = 0;
    }
    size_t want = f->scanned + f->need;
    if (f->tail >= f->cap && want > f->cap && f->cap < f->max_cap) {
        size_t ncap = f->cap * 2;
        while (ncap < want)
            ncap *= 2;
        if (ncap > f->max_cap)
            ncap = f->max_cap;
        uint8_t *nb = realloc(f->buf, ncap);
        if (nb) {
            f->buf = nb;
            f->cap = ncap;
        }
    }
    return f->cap - f->tail;
}

/* Gives the buffer back once everything went through. */
static void flow_shrink(struct flow *f)
{
    if (f->buf && f->head == f->tail && f->need <= f->min_cap) {
        buf_put(f->buf, f->cap);
        f->buf = NULL;
        f->cap = 0;
        f->head = f->scanned = f->tail = 0;
    }
}

static int flow_run_inspector(struct flow *f)
{
    if (!f->inspect) {
        f->scanned = f->tail;
        return 0;
    }
    if (f->held)
        return 0;
    return f->inspect(f, f->inspect_arg);
}

bool flow_wants_read(const struct flow *f)
{
    if (f->src_eof || f->held || f->effect.stall || f->src->fd < 0 || f->src->handshaking)
        return false;
    if (f->effect.blackhole)
        return true;
    if (f->shaper && shaper_queued(f->shaper) >= SHAPER_MAX_QUEUED)
        return false;
    if (f->tail < f->cap || !f->buf)
        return true;
    /* full: room only if compaction or growth can make some */
    return f->head > 0 || (f->scanned + f->need > f->cap && f->cap < f->max_cap);
}

bool flow_wants_write(const struct flow *f)
{
    if (f->effect.stall || f->dst->fd < 0 || f->dst->handshaking)
        return false;
    if (f->shaper)
        return f->release_armed ? false : shaper_queued(f->shaper) > 0;
    return f->head < f->scanned;
}

static void flow_fail(struct flow *f, struct stream *at, const char *why)
{
    f->ops->failed(f->owner, f, at, why);
}

/* Counts written bytes; a close_after fault ends the connection here. */
static bool flow_account(struct flow *f, size_t n)
{
    f->bytes_out += n;
    if (f->stat_bytes)
        *f->stat_bytes += n;
    if (f->close_after_left >= 0) {
        f->close_after_left -= (int64_t)n;
        if (f->close_after_left <= 0) {
            flow_fail(f, f->dst, "closed by fault close_after");
            return false;
        }
    }
    return true;
}

/* Writes at most up to the close_after budget. */
static size_t flow_budget(const struct flow *f, size_t n)
{
    if (f->close_after_left >= 0 && (int64_t)n > f->close_after_left)
        return (size_t)f->close_after_left;
    return n;
}

static void flow_pump(struct flow *f)
{
    if (f->effect.stall || f->dst->fd < 0 || f->dst->handshaking)
        return;
    const char *why = NULL;
    if (f->shaper) {
        uint64_t now = clock_mono_us();
        while (f->head < f->scanned) {
            size_t n = shaper_put(f->shaper, f->buf + f->head, f->scanned - f->head, now);
            if (n == 0)
                break;
            f->head += n;
        }
        for (;;) {
            const uint8_t *p;
            size_t len = shaper_peek(f->shaper, now, &p);
            if (len == 0)
                break;
            ssize_t w = stream_write(f->dst, p, flow_budget(f, len), &why);
            if (w < 0) {
                if (errno != EAGAIN)
                    flow_fail(f, f->dst, why);
                return;
            }
            shaper_consume(f->shaper, (size_t)w, now);
            if (!flow_account(f, (size_t)w))
                return;
            if ((size_t)w < len)
                return;       /* socket full: EV_WRITE will continue */
        }
        uint64_t next = shaper_next_release(f->shaper, now);
        if (next != UINT64_MAX) {
            release_at(f, next > now ? next - now : 0);
        } else if (!shape_params_active(&f->effect.shape)) {
            shaper_free(f->shaper);     /* healed and drained: back to the direct path */
            f->shaper = NULL;
            release_stop(f);
        }
    } else {
        while (f->head < f->scanned) {
            ssize_t w = stream_write(f->dst, f->buf + f->head, flow_budget(f, f->scanned - f->head), &why);
            if (w < 0) {
                if (errno != EAGAIN)
                    flow_fail(f, f->dst, why);
                return;
            }
            f->head += (size_t)w;
            if (!flow_account(f, (size_t)w))
                return;
        }
    }
    if (f->head == f->tail) {
        f->head = f->scanned = f->tail = 0;
        flow_shrink(f);
    }
    /* EOF once all released bytes are out; bytes the inspector still holds
     * back (a packet cut short) can never complete and are the owner's to judge. */
    if (f->src_eof && !f->eof_reported && f->head == f->scanned
        && (!f->shaper || shaper_queued(f->shaper) == 0)) {
        f->eof_reported = true;
        f->ops->drained_eof(f->owner, f);
    }
}

void flow_on_readable(struct flow *f)
{
    if (!flow_wants_read(f))
        return;
    const char *why = NULL;
    if (f->effect.blackhole) {
        uint8_t sink[16384];
        ssize_t n = stream_read(f->src, sink, sizeof(sink), &why);
        if (n > 0) {
            f->bytes_in += (size_t)n;
            f->bytes_dropped += (size_t)n;
        } else if (n == 0) {
            f->src_eof = true;
            flow_pump(f);
        } else if (errno != EAGAIN) {
            flow_fail(f, f->src, why);
            return;
        }
        f->ops->rearm(f->owner);
        return;
    }
    size_t room = flow_make_room(f);
    if (room == 0) {
        if (!f->buf)
            flow_fail(f, f->src, "out of memory");
        else
            f->ops->rearm(f->owner);
        return;
    }
    if (f->exact_reads) {
        size_t have = f->tail - f->scanned;
        size_t want = f->need > have ? f->need - have : 4;
        if (room > want)
            room = want;
    }
    ssize_t n = stream_read(f->src, f->buf + f->tail, room, &why);
    if (n > 0) {
        f->bytes_in += (size_t)n;
        f->tail += (size_t)n;
        if (flow_run_inspector(f) < 0) {
            flow_fail(f, f->src, f->fail_reason ? f->fail_reason : "protocol error");
            return;
        }
    } else if (n == 0) {
        f->src_eof = true;
    } else if (errno != EAGAIN) {
        flow_fail(f, f->src, why);
        return;
    }
    flow_pump(f);
    f->ops->rearm(f->owner);
}

void flow_on_writable(struct flow *f)
{
    flow_pump(f);
    f->ops->rearm(f->owner);
}

void flow_set_effect(struct flow *f, const struct fault_dir_effect *e)
{
    bool was_stalled = f->effect.stall;
    int64_t old_close = f->effect.close_after_bytes;
    f->effect = *e;
    if (e->close_after_bytes != old_close)
        f->close_after_left = e->close_after_bytes;
    if (shape_params_active(&e->shape)) {
        if (!f->shaper)
            f->shaper = shaper_new(&e->shape, SHAPER_MAX_QUEUED);
        else
            shaper_set_params(f->shaper, &e->shape, clock_mono_us());
    } else if (f->shaper) {
        struct shape_params none = { 0 };
        shaper_set_params(f->shaper, &none, clock_mono_us());
    }
    if (was_stalled && !e->stall && f->inspect && f->scanned < f->tail)
        flow_run_inspector(f);
    flow_pump(f);
    f->ops->rearm(f->owner);
}

void flow_resume(struct flow *f)
{
    f->held = false;
    if (flow_run_inspector(f) < 0) {
        flow_fail(f, f->src, f->fail_reason ? f->fail_reason : "protocol error");
        return;
    }
    flow_pump(f);
    f->ops->rearm(f->owner);
}

void flow_flush(struct flow *f)
{
    flow_pump(f);
}

int flow_replace(struct flow *f, size_t old_len, const void *data, size_t new_len)
{
    size_t after = f->tail - (f->scanned + old_len);
    if (new_len > old_len) {
        size_t grow = new_len - old_len;
        if (f->cap - f->tail < grow) {
            uint8_t *nb = realloc(f->buf, f->tail + grow);
            if (!nb)
                return -1;
            f->buf = nb;
            f->cap = f->tail + grow;
        }
    }
    memmove(f->buf + f->scanned + new_len, f->buf + f->scanned + old_len, after);
    if (new_len)
        memcpy(f->buf + f->scanned, data, new_len);
    f->tail = f->tail - old_len + new_len;
    return 0;
}

int flow_inject(struct flow *f, const void *data, size_t len)
{
    if (!f->buf) {
        f->cap = f->min_cap > len ? f->min_cap : len;
        f->buf = buf_get(f->cap);
        if (!f->buf)
            return -1;
    }
    if (flow_replace(f, 0, data, len) != 0)
        return -1;
    f->scanned += len;
    return 0;
}
