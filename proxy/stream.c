/* stream.c - plain and TLS socket I/O on libev. */
#include "stream.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <openssl/err.h>

#include "netutil.h"

static void stream_rearm(struct stream *s)
{
    if (s->fd < 0)
        return;
    int ev = 0;
    if (s->want_read)
        ev |= s->read_needs_write ? EV_WRITE : EV_READ;
    if (s->want_write)
        ev |= s->write_needs_read ? EV_READ : EV_WRITE;
    if (ev != s->armed) {
        if (s->armed)
            ev_io_stop(s->loop, &s->io);
        if (ev) {
            ev_io_set(&s->io, s->fd, ev);
            ev_io_start(s->loop, &s->io);
        }
        s->armed = ev;
    }
    /* TLS may hold decrypted bytes the kernel no longer signals. */
    if (s->want_read && s->ssl && !s->handshaking && SSL_pending(s->ssl) > 0 && s->armed)
        ev_feed_event(s->loop, &s->io, EV_READ);
}

static void stream_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct stream *s = w->data;
    bool can_read, can_write;
    if (s->handshaking) {
        can_read = can_write = true;
    } else {
        can_read = s->want_read &&
                   ((revents & EV_READ && !s->read_needs_write) || (revents & EV_WRITE && s->read_needs_write));
        can_write = s->want_write &&
                    ((revents & EV_WRITE && !s->write_needs_read) || (revents & EV_READ && s->write_needs_read));
    }
    s->on_event(s, can_read, can_write);
}

void stream_init(struct stream *s, struct ev_loop *loop, int fd, stream_event_fn fn, void *owner)
{
    memset(s, 0, sizeof(*s));
    s->fd = fd;
    s->loop = loop;
    s->on_event = fn;
    s->owner = owner;
    ev_io_init(&s->io, stream_io_cb, fd, 0);
    s->io.data = s;
}

void stream_want(struct stream *s, bool read, bool write)
{
    s->want_read = read;
    s->want_write = write;
    stream_rearm(s);
}

void stream_close(struct stream *s, bool rst)
{
    if (s->fd < 0)
        return;
    if (s->armed)
        ev_io_stop(s->loop, &s->io);
    s->armed = 0;
    if (s->ssl) {
        if (!rst && !s->handshaking)
            SSL_shutdown(s->ssl);      /* best effort close_notify; never waits */
        SSL_free(s->ssl);
        s->ssl = NULL;
    }
    if (rst)
        net_set_linger_rst(s->fd);
    close(s->fd);
    s->fd = -1;
}

static const char *tls_error_string(void)
{
    static _Thread_local char buf[256];
    unsigned long e = ERR_get_error();
    if (!e)
        return "TLS error";
    ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();
    return buf;
}

ssize_t stream_read(struct stream *s, void *buf, size_t len, const char **why)
{
    if (!s->ssl) {
        ssize_t n = read(s->fd, buf, len);
        if (n == 0)
            s->eof = true;
        else if (n < 0 && errno != EAGAIN && errno != EINTR)
            *why = strerror(errno);
        else if (n < 0)
            errno = EAGAIN;
        return n;
    }
    s->read_needs_write = false;
    int n = SSL_read(s->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
    if (n > 0)
        return n;
    int err = SSL_get_error(s->ssl, n);
    switch (err) {
    case SSL_ERROR_WANT_READ:
        errno = EAGAIN;
        stream_rearm(s);
        return -1;
    case SSL_ERROR_WANT_WRITE:
        s->read_needs_write = true;
        stream_rearm(s);
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_ZERO_RETURN:
        s->eof = true;
        return 0;
    case SSL_ERROR_SYSCALL:
        if (errno == 0 || n == 0) {       /* peer closed without close_notify */
            s->eof = true;
            ERR_clear_error();
            return 0;
        }
        *why = strerror(errno);
        return -1;
    default:
        *why = tls_error_string();
        errno = EPROTO;
        return -1;
    }
}

ssize_t stream_write(struct stream *s, const void *buf, size_t len, const char **why)
{
    if (!s->ssl) {
        ssize_t n = send(s->fd, buf, len, MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            *why = strerror(errno);
        else if (n < 0)
            errno = EAGAIN;
        return n;
    }
    s->write_needs_read = false;
    int n = SSL_write(s->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
    if (n > 0)
        return n;
    int err = SSL_get_error(s->ssl, n);
    switch (err) {
    case SSL_ERROR_WANT_WRITE:
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_WANT_READ:
        s->write_needs_read = true;
        stream_rearm(s);
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_SYSCALL:
        *why = errno ? strerror(errno) : "connection closed during TLS write";
        return -1;
    default:
        *why = tls_error_string();
        errno = EPROTO;
        return -1;
    }
}

int stream_tls_start(struct stream *s, SSL_CTX *ctx, bool server, const char *sni)
{
    s->ssl = SSL_new(ctx);
    if (!s->ssl)
        return -1;
    SSL_set_fd(s->ssl, s->fd);
    /* Writes may be retried with a moved buffer (we compact buffers). */
    SSL_set_mode(s->ssl, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_ENABLE_PARTIAL_WRITE);
    if (server) {
        SSL_set_accept_state(s->ssl);
    } else {
        SSL_set_connect_state(s->ssl);
        if (sni)
            SSL_set_tlsext_host_name(s->ssl, sni);
    }
    s->handshaking = true;
    return 0;
}

enum tls_step stream_tls_handshake(struct stream *s, const char **why)
{
    ERR_clear_error();
    int rc = SSL_do_handshake(s->ssl);
    if (rc == 1) {
        s->handshaking = false;
        return TLS_DONE;
    }
    int err = SSL_get_error(s->ssl, rc);
    if (err == SSL_ERROR_WANT_READ) {
        stream_want(s, true, false);
        return TLS_AGAIN;
    }
    if (err == SSL_ERROR_WANT_WRITE) {
        stream_want(s, false, true);
        return TLS_AGAIN;
    }
    if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
        *why = errno ? strerror(errno) : "connection closed during TLS handshake";
    else
        *why = tls_error_string();
    return TLS_FAILED;
}

