/* clock.h - wall and monotonic time in microseconds. */
#ifndef DDLP_CLOCK_H
#define DDLP_CLOCK_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

static inline uint64_t clock_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static inline int64_t clock_wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* RFC 3339 UTC with microseconds: 2026-11-27T13:08:00.755123Z (buf >= 32). */
char *clock_format_rfc3339(int64_t wall_us, char *buf, size_t size);

#endif
