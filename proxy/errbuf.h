/* errbuf.h - error messages written into a caller's buffer (the convention
 * of every parser and loader here: return -1, say why in err). */
#ifndef DDLP_ERRBUF_H
#define DDLP_ERRBUF_H

#include <stddef.h>

/* Formats into err and returns -1, so a caller can `return errorf(...)`. */
int errorf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
