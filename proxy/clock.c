/* clock.c - time formatting shared by the logs and the admin replies. */
#include "clock.h"

#include <stdio.h>

char *clock_format_rfc3339(int64_t wall_us, char *buf, size_t size)
{
    time_t secs = (time_t)(wall_us / 1000000);
    long micros = (long)(wall_us % 1000000);
    if (micros < 0) {
        micros += 1000000;
        secs -= 1;
    }
    struct tm tm;
    gmtime_r(&secs, &tm);
    snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, micros);
    return buf;
}
