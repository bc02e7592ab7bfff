#include "stream.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/buf.h"
#include "net/sock.h"

#define RAW_OUT_MAX 4096

struct net_stream {
    net_loop *loop;
    int fd;
    bool connecting;
    struct event *rev;
    struct event *wev;
    buf rawout;
    struct bufferevent *bev;
    net_timer *deadline;
    net_stream_cbs cbs;
    void *arg;
    char peer[64];
};

static void fail(net_stream *s, err_t e) {
    net_timer_cancel(s->deadline);
    if (s->rev) {
        event_del(s->rev);
    }
    if (s->wev) {
        event_del(s->wev);
    }
    if (s->bev) {
        bufferevent_disable(s->bev, EV_READ | EV_WRITE);
    }
    s->cbs.on_error(s, e, s->arg); /* may free s */
}

static void on_deadline(void *arg) {
    net_stream *s = arg;
    fail(s, err_fail(ERR_TIMEOUT, "%s: phase deadline passed", s->peer));
}

static void raw_readable(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    net_stream *s = arg;
    if (s->cbs.on_raw) {
        s->cbs.on_raw(s, s->arg);
    }
}

static void flush_raw(net_stream *s) {
    while (s->rawout.len > 0) {
        ssize_t w = send(s->fd, s->rawout.data, s->rawout.len, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                event_add(s->wev, NULL);
                return;
            }
            fail(s, err_fail(ERR_IO, "%s: send: %s", s->peer, strerror(errno)));
            return;
        }
        buf_consume(&s->rawout, (size_t)w);
    }
}

static void fill_peer(net_stream *s) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (getpeername(s->fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *a = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
            port = ntohs(a->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
            port = ntohs(a->sin6_port);
        }
    }
    snprintf(s->peer, sizeof(s->peer), "%s:%u", host, port);
}

static void raw_writable(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    net_stream *s = arg;
    if (s->connecting) {
        err_t e = net_sock_error(s->fd);
        if (e != ERR_OK) {
            fail(s, e);
            return;
        }
        s->connecting = false;
        fill_peer(s);
        event_add(s->rev, NULL);
        if (s->cbs.on_connected) {
            s->cbs.on_connected(s, s->arg); /* may free s: nothing after */
        }
        return;
    }
    flush_raw(s);
}

net_stream *net_stream_new(net_loop *l, int fd, bool connecting, const net_stream_cbs *cbs,
                           void *arg) {
    net_stream *s = calloc(1, sizeof(*s));
    if (!s) {
        close(fd);
        return NULL;
    }
    s->loop = l;
    s->fd = fd;
    s->connecting = connecting;
    s->cbs = *cbs;
    s->arg = arg;
    buf_init(&s->rawout, RAW_OUT_MAX);
    struct event_base *b = net_loop_base(l);
    s->rev = event_new(b, fd, EV_READ | EV_PERSIST, raw_readable, s);
    s->wev = event_new(b, fd, EV_WRITE, raw_writable, s);
    s->deadline = net_timer_new(l, on_deadline, s);
    if (!s->rev || !s->wev || !s->deadline) {
        net_stream_free(s);
        return NULL;
    }
    snprintf(s->peer, sizeof(s->peer), "fd %d", fd);
    if (connecting) {
        event_add(s->wev, NULL);
    } else {
        fill_peer(s);
        event_add(s->rev, NULL);
    }
    return s;
}

void net_stream_free(net_stream *s) {
    if (!s) {
        return;
    }
    if (s->rev) {
        event_free(s->rev);
    }
    if (s->wev) {
        event_free(s->wev);
    }
    net_timer_free(s->deadline);
    buf_free(&s->rawout);
    if (s->bev) {
        bufferevent_free(s->bev); /* closes fd and frees the SSL */
    } else if (s->fd >= 0) {
        close(s->fd);
    }
    free(s);
}

err_t net_stream_raw_read(net_stream *s, void *out, size_t want, size_t *got) {
    *got = 0;
    if (s->bev || s->connecting) {
        return err_fail(ERR_INTERNAL, "raw read outside the raw phase");
    }
    for (;;) {
        ssize_t r = recv(s->fd, out, want, 0);
        if (r > 0) {
            *got = (size_t)r;
            return ERR_OK;
        }
        if (r == 0) {
            return err_fail(ERR_EOF, "%s closed the connection", s->peer);
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return ERR_AGAIN;
        }
        return err_fail(ERR_IO, "%s: recv: %s", s->peer, strerror(errno));
    }
}

err_t net_stream_raw_write(net_stream *s, const void *data, size_t n) {
    if (s->bev || s->connecting) {
        return err_fail(ERR_INTERNAL, "raw write outside the raw phase");
    }
    TRY(buf_append(&s->rawout, data, n));
    flush_raw(s);
    return ERR_OK;
}

static err_t tls_error(net_stream *s, short what) {
    unsigned long code;
    unsigned long last = 0;
    while ((code = bufferevent_get_openssl_error(s->bev)) != 0) {
        if (ERR_GET_LIB(code) != 0) {
            last = code; /* libevent also queues bare SSL_get_error() values: skip those */
        }
    }
    if (last) {
        char msg[160];
        ERR_error_string_n(last, msg, sizeof(msg));
        int reason = ERR_GET_REASON(last);
        if (reason == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
            /* Closed without close_notify. Frames carry their own lengths, so a truncated
             * message is still detected above us; the connection simply ended. */
            return err_fail(ERR_EOF, "%s closed the connection", s->peer);
        }
        if (reason == SSL_R_UNSUPPORTED_PROTOCOL || reason == SSL_R_TLSV1_ALERT_PROTOCOL_VERSION ||
            reason == SSL_R_WRONG_VERSION_NUMBER) {
            return err_fail(ERR_TLS_VERSION, "%s: %s", s->peer, msg);
        }
        return err_fail(ERR_TLS, "%s: %s", s->peer, msg);
    }
    if (what & BEV_EVENT_EOF) {
        return err_fail(ERR_EOF, "%s closed the connection", s->peer);
    }
    int en = EVUTIL_SOCKET_ERROR();
    return err_fail(ERR_IO, "%s: %s", s->peer, en ? strerror(en) : "connection failed");
}

static void bev_read(struct bufferevent *bev, void *arg) {
    (void)bev;
    net_stream *s = arg;
    if (s->cbs.on_data) {
        s->cbs.on_data(s, s->arg);
    }
}

static void bev_write(struct bufferevent *bev, void *arg) {
    (void)bev;
    net_stream *s = arg;
    if (s->cbs.on_drained) {
        s->cbs.on_drained(s, s->arg);
    }
}

static void bev_event(struct bufferevent *bev, short what, void *arg) {
    (void)bev;
    net_stream *s = arg;
    if (what & BEV_EVENT_CONNECTED) {
        if (s->cbs.on_tls_ready) {
            s->cbs.on_tls_ready(s, s->arg);
        }
        return;
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        fail(s, tls_error(s, what));
    }
}

err_t net_stream_start_tls(net_stream *s, SSL *ssl, bool server) {
    if (s->bev || s->connecting || s->rawout.len > 0) {
        SSL_free(ssl);
        return err_fail(ERR_INTERNAL, "TLS start in the wrong phase");
    }
    event_del(s->rev);
    event_del(s->wev);
    s->bev = bufferevent_openssl_socket_new(
        net_loop_base(s->loop), s->fd, ssl,
        server ? BUFFEREVENT_SSL_ACCEPTING : BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
    if (!s->bev) {
        SSL_free(ssl);
        return err_fail(ERR_TLS, "cannot create the TLS bufferevent");
    }
    bufferevent_openssl_set_allow_dirty_shutdown(s->bev, 1);
    bufferevent_setcb(s->bev, bev_read, bev_write, bev_event, s);
    if (bufferevent_enable(s->bev, EV_READ | EV_WRITE) != 0) {
        return err_fail(ERR_TLS, "cannot enable the TLS bufferevent");
    }
    return ERR_OK;
}

SSL *net_stream_ssl(net_stream *s) {
    return s->bev ? bufferevent_openssl_get_ssl(s->bev) : NULL;
}

struct evbuffer *net_stream_input(net_stream *s) {
    return s->bev ? bufferevent_get_input(s->bev) : NULL;
}

err_t net_stream_write(net_stream *s, const void *data, size_t n) {
    if (!s->bev) {
        return err_fail(ERR_INTERNAL, "TLS write before TLS");
    }
    if (bufferevent_write(s->bev, data, n) != 0) {
        return err_fail(ERR_NOMEM, "cannot queue %zu bytes", n);
    }
    return ERR_OK;
}

size_t net_stream_pending_output(net_stream *s) {
    return s->bev ? evbuffer_get_length(bufferevent_get_output(s->bev)) : s->rawout.len;
}

void net_stream_pause(net_stream *s, bool paused) {
    if (!s->bev) {
        return;
    }
    if (paused) {
        bufferevent_disable(s->bev, EV_READ);
    } else {
        bufferevent_enable(s->bev, EV_READ);
    }
}

void net_stream_deadline(net_stream *s, uint64_t ms) {
    if (ms == 0) {
        net_timer_cancel(s->deadline);
    } else {
        net_timer_arm(s->deadline, ms);
    }
}

const char *net_stream_peer(net_stream *s) {
    return s->peer;
}
