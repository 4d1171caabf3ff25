/* ddl_tracker.h - the tracker thread: polls the backend for the state of
 * active DDLs over its own monitor connection and reports to the loop. */
#ifndef DDLP_DDL_TRACKER_H
#define DDLP_DDL_TRACKER_H

#include "tracker_flavor.h"

typedef void (*tracker_report_fn)(struct tracker_report *rep);
/* Starts the thread; reports are delivered on the loop (ownership passes). */
int ddl_tracker_start(struct ev_loop *loop, const struct config *cfg, tracker_report_fn fn,
                      char *err, size_t errlen);
/* Replaces the active set (takes ownership of ddls and their query strings). */
void ddl_tracker_set_active(struct tracked_ddl *ddls, size_t n);
void ddl_tracker_stop(void);
bool ddl_tracker_running(void);
/* Splits "host:port" / "[v6]:port". 0 or -1 with a message. */
int tracker_split_hostport(const char *hp, char *host, size_t hostlen, unsigned *port,
                           char *err, size_t errlen);
/* "timeout after 2000 ms", "lost connection: ...", "... (errno N)". */
void tracker_describe_error(unsigned err_no, const char *msg, int64_t elapsed_ms,
                            int64_t timeout_ms, char *out, size_t outlen);

#endif
