/* stream.h - one socket of a proxied connection, plain or TLS, behind one
 * small interface (like Redis' connection.c). The owner says what it wants
 * (read / write); the stream maps TLS's cross-wants onto the fd's events and
 * tells the owner what it can do now. */
#ifndef DDLP_STREAM_H
#define DDLP_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <ev.h>
#include <openssl/ssl.h>

struct stream;

/* can_read / can_write: the corresponding operation may make progress now. */
typedef void (*stream_event_fn)(struct stream *s, bool can_read, bool can_write);

enum tls_step { TLS_DONE = 1, TLS_AGAIN = 0, TLS_FAILED = -1 };

struct stream {
    int fd;
    SSL *ssl;
    struct ev_loop *loop;
    ev_io io;
    int armed;                   /* events the watcher listens for */
    bool want_read, want_write;
    bool read_needs_write;       /* TLS: SSL_read asked for writability */
    bool write_needs_read;       /* TLS: SSL_write asked for readability */
    bool handshaking;
    bool eof;                    /* read returned 0 */
    stream_event_fn on_event;
    void *owner;
};

void stream_init(struct stream *s, struct ev_loop *loop, int fd, stream_event_fn fn, void *owner);
/* Stops the watcher and closes the fd (and frees TLS). rst: send RST. */
void stream_close(struct stream *s, bool rst);
void stream_want(struct stream *s, bool read, bool write);

/* >0 bytes, 0 EOF, -1 error/again (errno EAGAIN for again; else *why set). */
ssize_t stream_read(struct stream *s, void *buf, size_t len, const char **why);
ssize_t stream_write(struct stream *s, const void *buf, size_t len, const char **why);

/* Server side (client leg) / client side (server leg) TLS; call again on events
 * until it returns TLS_DONE or TLS_FAILED (reason in why, static or thread-local). */
int stream_tls_start(struct stream *s, SSL_CTX *ctx, bool server, const char *sni);
enum tls_step stream_tls_handshake(struct stream *s, const char **why);

#endif
