/* log.h - leveled, timestamped logging to stderr or a file (reopened on SIGHUP). */
#ifndef DDLP_LOG_H
#define DDLP_LOG_H

#include <stdarg.h>

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* path NULL or "stderr" logs to stderr. Returns 0, or -1 with errno. */
int log_open(const char *path, enum log_level level);
int log_reopen(void);
void log_close(void);
void log_set_level(enum log_level level);
int log_level_parse(const char *name, enum log_level *out);
int log_enabled(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) do { if (log_enabled(LOG_DEBUG)) log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
