/* log.c - the main log. Thread-safe: helper threads log too. */
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static FILE *log_file;
static char *log_path;
static enum log_level log_threshold = LOG_INFO;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

int log_open(const char *path, enum log_level level)
{
    log_threshold = level;
    free(log_path);
    log_path = NULL;
    if (path && *path && strcmp(path, "stderr") != 0) {
        log_path = strdup(path);
        if (!log_path)
            return -1;
    }
    return log_reopen();
}

int log_reopen(void)
{
    int rc = 0;
    pthread_mutex_lock(&log_lock);
    if (log_path) {
        FILE *f = fopen(log_path, "a");
        if (f) {
            setvbuf(f, NULL, _IOLBF, 0);
            if (log_file && log_file != stderr)
                fclose(log_file);
            log_file = f;
        } else {
            rc = -1;     /* keep writing to the old file rather than lose lines */
        }
    } else {
        log_file = stderr;
    }
    pthread_mutex_unlock(&log_lock);
    return rc;
}

void log_close(void)
{
    pthread_mutex_lock(&log_lock);
    if (log_file && log_file != stderr)
        fclose(log_file);
    log_file = NULL;
    pthread_mutex_unlock(&log_lock);
    free(log_path);
    log_path = NULL;
}

void log_set_level(enum log_level level) { log_threshold = level; }

int log_enabled(enum log_level level) { return level <= log_threshold; }

int log_level_parse(const char *name, enum log_level *out)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    if (strcasecmp(name, "warning") == 0) {
        *out = LOG_WARN;
        return 0;
    }
    return -1;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (level > log_threshold)
        return;
    struct timeval tv;
    struct tm tm;
    char stamp[40];
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);

    int saved_errno = errno;
    pthread_mutex_lock(&log_lock);
    FILE *f = log_file ? log_file : stderr;
    fprintf(f, "%s.%06ldZ %-5s ", stamp, (long)tv.tv_usec, level_names[level]);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    pthread_mutex_unlock(&log_lock);
    errno = saved_errno;
}
