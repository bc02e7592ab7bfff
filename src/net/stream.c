#include "stream.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/buf.h"
#include "net/sock.h"

#define RAW_OUT_MAX 4096
/* TLS phase: one recv() of at most this much per readable event. */
#define READ_MAX ((size_t)64 << 10)
/* Plaintext per SSL_write: one full record (RFC 8446 5.1: at most 2^14 bytes). */
#define RECORD_MAX ((size_t)16 << 10)
/* Ciphertext encrypted ahead of the socket before we wait for it to drain. */
#define CIPHER_AHEAD ((size_t)256 << 10)
/* iovecs per sendmsg() */
#define SEND_IOV 16

/* TLS phase: OpenSSL over two memory BIOs, driven by plain events on the socket.
 * bufferevent_openssl wrote only when the write event fired (epoll_ctl + epoll_wait + write +
 * epoll_ctl per write) and read records in two read()s; here every message queued during one
 * loop pass leaves in one sendmsg() at the end of that pass, and one recv() feeds as many
 * records as it brought (docs/architecture.md, "TLS without bufferevent_openssl"). */
struct net_stream {
    net_loop *loop;
    int fd;
    bool connecting;
    struct event *rev; /* raw: readable; TLS: readable, persistent, off while paused */
    struct event *wev; /* raw: writable/connected; TLS: writable, only after a short send */
    buf rawout;
    net_timer *deadline;
    net_stream_cbs cbs;
    void *arg;
    char peer[64];
    /* TLS phase */
    SSL *ssl;
    BIO *rbio;             /* ciphertext received, owned by ssl */
    BIO *wbio;             /* ciphertext produced, owned by ssl */
    struct evbuffer *in;   /* plaintext for the owner */
    struct evbuffer *pout; /* plaintext not yet encrypted */
    struct evbuffer *cout; /* ciphertext not yet sent */
    struct event *fev;     /* flush at the end of this loop pass */
    struct event *kev;     /* handshake start, delivery after resume */
    bool tls;
    bool handshaking;
    bool paused;
    bool failed;
    bool wblocked; /* the kernel refused bytes: wev is armed */
    bool freed;    /* net_stream_free ran while busy */
    int busy;      /* owner callbacks on the stack that we return into */
};

/* An owner callback may free the stream. Around calls after which we still touch it, busy is
 * raised; net_stream_free then releases the socket, events and TLS state at once (no callback
 * can follow) and leaves the struct to the outermost leave(). */
static void enter(net_stream *s) {
    s->busy++;
}

/* False when the stream was freed inside the callback: it must not be touched any more. */
static bool leave(net_stream *s) {
    s->busy--;
    if (s->freed) {
        if (s->busy == 0) {
            free(s);
        }
        return false;
    }
    return true;
}

static void fail(net_stream *s, err_t e) {
    net_timer_cancel(s->deadline);
    struct event *evs[] = {s->rev, s->wev, s->fev, s->kev};
    for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++) {
        if (evs[i]) {
            event_del(evs[i]);
        }
    }
    if (s->tls) {
        s->failed = true;
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

/* Releases everything but the struct itself. */
static void destroy(net_stream *s) {
    struct event *evs[] = {s->rev, s->wev, s->fev, s->kev};
    for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++) {
        if (evs[i]) {
            event_free(evs[i]);
        }
    }
    s->rev = s->wev = s->fev = s->kev = NULL;
    net_timer_free(s->deadline);
    s->deadline = NULL;
    buf_free(&s->rawout);
    struct evbuffer *bufs[] = {s->in, s->pout, s->cout};
    for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++) {
        if (bufs[i]) {
            evbuffer_free(bufs[i]);
        }
    }
    s->in = s->pout = s->cout = NULL;
    SSL_free(s->ssl); /* and its BIOs */
    s->ssl = NULL;
    s->rbio = s->wbio = NULL;
    if (s->fd >= 0) {
        close(s->fd);
        s->fd = -1;
    }
}

void net_stream_free(net_stream *s) {
    if (!s || s->freed) {
        return;
    }
    destroy(s);
    if (s->busy > 0) {
        s->freed = true; /* a callback of ours is on the stack: leave() frees the struct */
        return;
    }
    free(s);
}

err_t net_stream_raw_read(net_stream *s, void *out, size_t want, size_t *got) {
    *got = 0;
    if (s->tls || s->connecting) {
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
    if (s->tls || s->connecting) {
        return err_fail(ERR_INTERNAL, "raw write outside the raw phase");
    }
    TRY(buf_append(&s->rawout, data, n));
    flush_raw(s);
    return ERR_OK;
}

/* The error OpenSSL reported for a failed call whose SSL_get_error() was se. */
static err_t tls_error(net_stream *s, int se) {
    unsigned long code;
    unsigned long last = 0;
    while ((code = ERR_get_error()) != 0) {
        last = code;
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
    if (se == SSL_ERROR_ZERO_RETURN) {
        return err_fail(ERR_EOF, "%s closed the connection", s->peer); /* close_notify */
    }
    return err_fail(ERR_TLS, "%s: TLS failure (SSL_get_error %d)", s->peer, se);
}

static size_t cipher_pending(net_stream *s) {
    return BIO_ctrl_pending(s->wbio) + evbuffer_get_length(s->cout);
}

/* Moves what OpenSSL wrote into wbio to the send queue. */
static err_t take_cipher(net_stream *s) {
    size_t n;
    while ((n = BIO_ctrl_pending(s->wbio)) > 0) {
        struct evbuffer_iovec v;
        if (evbuffer_reserve_space(s->cout, (ev_ssize_t)n, &v, 1) < 1) {
            return err_fail(ERR_NOMEM, "cannot queue %zu bytes of ciphertext", n);
        }
        int r = BIO_read(s->wbio, v.iov_base, (int)(v.iov_len < n ? v.iov_len : n));
        if (r <= 0) {
            return err_fail(ERR_INTERNAL, "memory BIO refused %zu pending bytes", n);
        }
        v.iov_len = (size_t)r;
        evbuffer_commit_space(s->cout, &v, 1);
    }
    return ERR_OK;
}

/* One sendmsg() of what is queued. ERR_AGAIN: the kernel took less than offered. */
static err_t send_some(net_stream *s) {
    struct evbuffer_iovec ev[SEND_IOV];
    struct iovec iov[SEND_IOV];
    int k = evbuffer_peek(s->cout, -1, NULL, ev, SEND_IOV);
    if (k > SEND_IOV) {
        k = SEND_IOV;
    }
    size_t offered = 0;
    for (int i = 0; i < k; i++) {
        iov[i].iov_base = ev[i].iov_base;
        iov[i].iov_len = ev[i].iov_len;
        offered += ev[i].iov_len;
    }
    struct msghdr mh;
    memset(&mh, 0, sizeof(mh));
    mh.msg_iov = iov;
    mh.msg_iovlen = (size_t)k;
    ssize_t w;
    do {
        w = sendmsg(s->fd, &mh, MSG_NOSIGNAL);
    } while (w < 0 && errno == EINTR);
    if (w < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return ERR_AGAIN;
        }
        return err_fail(ERR_IO, "%s: send: %s", s->peer, strerror(errno));
    }
    evbuffer_drain(s->cout, (size_t)w);
    return (size_t)w < offered ? ERR_AGAIN : ERR_OK;
}

/* Sends what OpenSSL produced before a failure (its alert), once, without waiting. */
static void send_alert(net_stream *s) {
    if (take_cipher(s) == ERR_OK && evbuffer_get_length(s->cout) > 0) {
        (void)send_some(s);
    }
}

static void schedule_flush(net_stream *s) {
    if (!s->failed && !s->wblocked) {
        event_active(s->fev, EV_WRITE, 0); /* runs after the callbacks of this loop pass */
    }
}

/* Encrypts queued plaintext and sends it: one sendmsg() per CIPHER_AHEAD bytes, waiting for
 * the socket only when the kernel takes less than offered. */
static void flush(net_stream *s) {
    if (s->failed) {
        return;
    }
    bool sent = false;
    for (;;) {
        while (!s->handshaking && evbuffer_get_length(s->pout) > 0 &&
               cipher_pending(s) < CIPHER_AHEAD) {
            size_t n = evbuffer_get_length(s->pout);
            n = n < RECORD_MAX ? n : RECORD_MAX;
            unsigned char *p = evbuffer_pullup(s->pout, (ev_ssize_t)n);
            if (!p) {
                fail(s, err_fail(ERR_NOMEM, "cannot gather %zu bytes to encrypt", n));
                return;
            }
            ERR_clear_error();
            int r = SSL_write(s->ssl, p, (int)n);
            if (r <= 0) {
                err_t e = tls_error(s, SSL_get_error(s->ssl, r));
                send_alert(s);
                fail(s, e);
                return;
            }
            evbuffer_drain(s->pout, (size_t)r);
        }
        err_t e = take_cipher(s);
        if (e != ERR_OK) {
            fail(s, e);
            return;
        }
        if (evbuffer_get_length(s->cout) == 0) {
            break;
        }
        e = send_some(s);
        if (e == ERR_AGAIN) {
            s->wblocked = true;
            event_add(s->wev, NULL);
            return;
        }
        if (e != ERR_OK) {
            fail(s, e);
            return;
        }
        sent = true;
    }
    if (sent && !s->handshaking && s->cbs.on_drained) {
        s->cbs.on_drained(s, s->arg); /* may free s: nothing after */
    }
}

static void tls_flush_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    flush(arg);
}

static void tls_writable(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    net_stream *s = arg;
    s->wblocked = false;
    flush(s);
}

/* Runs OpenSSL over what rbio holds: the handshake first, then records into the input. Calls
 * on_data when new plaintext arrived (or any is waiting, with force) and we are not paused. */
static void advance(net_stream *s, bool force) {
    if (s->handshaking) {
        ERR_clear_error();
        int r = SSL_do_handshake(s->ssl);
        if (r != 1) {
            int se = SSL_get_error(s->ssl, r);
            if (se == SSL_ERROR_WANT_READ || se == SSL_ERROR_WANT_WRITE) {
                if (BIO_ctrl_pending(s->wbio) > 0) {
                    schedule_flush(s);
                }
                return;
            }
            err_t e = tls_error(s, se);
            send_alert(s);
            fail(s, e);
            return;
        }
        s->handshaking = false;
        schedule_flush(s); /* our last flight, with whatever on_tls_ready queues */
        enter(s);
        if (s->cbs.on_tls_ready) {
            s->cbs.on_tls_ready(s, s->arg);
        }
        if (!leave(s) || s->failed) {
            return;
        }
    }
    size_t before = evbuffer_get_length(s->in);
    err_t e = ERR_OK;
    for (;;) {
        struct evbuffer_iovec v;
        if (evbuffer_reserve_space(s->in, (ev_ssize_t)RECORD_MAX, &v, 1) < 1) {
            e = err_fail(ERR_NOMEM, "cannot buffer %zu bytes of input", RECORD_MAX);
            break;
        }
        size_t room = v.iov_len < READ_MAX ? v.iov_len : READ_MAX;
        ERR_clear_error();
        int r = SSL_read(s->ssl, v.iov_base, (int)room);
        if (r <= 0) {
            int se = SSL_get_error(s->ssl, r);
            if (se != SSL_ERROR_WANT_READ && se != SSL_ERROR_WANT_WRITE) {
                e = tls_error(s, se);
            }
            break;
        }
        v.iov_len = (size_t)r;
        evbuffer_commit_space(s->in, &v, 1);
    }
    if (BIO_ctrl_pending(s->wbio) > 0) {
        schedule_flush(s); /* post-handshake messages (KeyUpdate) or an alert */
    }
    size_t now = evbuffer_get_length(s->in);
    if (!s->paused && s->cbs.on_data && (now > before || (force && now > 0))) {
        enter(s);
        s->cbs.on_data(s, s->arg); /* plaintext that came before a close or an error first */
        if (!leave(s) || s->failed) {
            return;
        }
    }
    if (e != ERR_OK) {
        send_alert(s);
        fail(s, e);
    }
}

static void tls_readable(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    net_stream *s = arg;
    static _Thread_local unsigned char chunk[READ_MAX];
    ssize_t r;
    do {
        r = recv(s->fd, chunk, sizeof(chunk), 0);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return;
        }
        fail(s, err_fail(ERR_IO, "%s: recv: %s", s->peer, strerror(errno)));
        return;
    }
    if (r == 0) {
        /* SSL_OP_IGNORE_UNEXPECTED_EOF semantics: frames carry their own lengths, so the end
         * of the connection is just that, even inside a record. */
        fail(s, err_fail(ERR_EOF, "%s closed the connection", s->peer));
        return;
    }
    if (BIO_write(s->rbio, chunk, (int)r) != (int)r) {
        fail(s, err_fail(ERR_NOMEM, "cannot buffer %zd received bytes", r));
        return;
    }
    advance(s, false);
}

/* From the loop: starts the client's handshake, or delivers what waited during a pause. */
static void tls_kick(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    net_stream *s = arg;
    if (!s->failed && !s->paused) {
        advance(s, true);
    }
}

err_t net_stream_start_tls(net_stream *s, SSL *ssl, bool server) {
    if (s->tls || s->connecting || s->rawout.len > 0) {
        SSL_free(ssl);
        return err_fail(ERR_INTERNAL, "TLS start in the wrong phase");
    }
    event_del(s->rev);
    event_del(s->wev);
    s->ssl = ssl;
    s->tls = true;
    s->handshaking = true;
    s->failed = true; /* until everything below exists */
    struct event_base *b = net_loop_base(s->loop);
    s->in = evbuffer_new();
    s->pout = evbuffer_new();
    s->cout = evbuffer_new();
    s->fev = event_new(b, -1, 0, tls_flush_cb, s);
    s->kev = event_new(b, -1, 0, tls_kick, s);
    s->rbio = BIO_new(BIO_s_mem());
    s->wbio = BIO_new(BIO_s_mem());
    if (!s->in || !s->pout || !s->cout || !s->fev || !s->kev || !s->rbio || !s->wbio) {
        BIO_free(s->rbio);
        BIO_free(s->wbio);
        s->rbio = s->wbio = NULL;
        return err_fail(ERR_NOMEM, "cannot set up TLS");
    }
    /* An empty rbio means "want read", never end of file: EOF is recv() returning 0. */
    BIO_set_mem_eof_return(s->rbio, -1);
    BIO_set_mem_eof_return(s->wbio, -1);
    SSL_set_bio(ssl, s->rbio, s->wbio);
    SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (server) {
        SSL_set_accept_state(ssl);
    } else {
        SSL_set_connect_state(ssl);
    }
    if (event_assign(s->rev, b, s->fd, EV_READ | EV_PERSIST, tls_readable, s) != 0 ||
        event_assign(s->wev, b, s->fd, EV_WRITE, tls_writable, s) != 0) {
        return err_fail(ERR_INTERNAL, "cannot set up the TLS socket events");
    }
    s->failed = false;
    s->paused = false;
    event_add(s->rev, NULL);
    event_active(s->kev, EV_TIMEOUT, 0); /* the client speaks first: from the loop */
    return ERR_OK;
}

SSL *net_stream_ssl(net_stream *s) {
    return s->ssl;
}

struct evbuffer *net_stream_input(net_stream *s) {
    return s->in;
}

err_t net_stream_write(net_stream *s, const void *data, size_t n) {
    if (!s->tls) {
        return err_fail(ERR_INTERNAL, "TLS write before TLS");
    }
    if (s->failed) {
        return err_fail(ERR_IO, "%s: write after the connection failed", s->peer);
    }
    if (n == 0) {
        return ERR_OK;
    }
    if (evbuffer_add(s->pout, data, n) != 0) {
        return err_fail(ERR_NOMEM, "cannot queue %zu bytes", n);
    }
    if (!s->handshaking) {
        schedule_flush(s); /* everything written during this loop pass leaves together */
    }
    return ERR_OK;
}

size_t net_stream_pending_output(net_stream *s) {
    if (!s->tls) {
        return s->rawout.len;
    }
    size_t n = s->pout ? evbuffer_get_length(s->pout) : 0;
    n += s->cout ? evbuffer_get_length(s->cout) : 0;
    return s->wbio ? n + BIO_ctrl_pending(s->wbio) : n;
}

void net_stream_pause(net_stream *s, bool paused) {
    if (!s->tls || s->failed || s->paused == paused) {
        return;
    }
    s->paused = paused;
    if (paused) {
        event_del(s->rev);
        event_del(s->kev);
        return;
    }
    event_add(s->rev, NULL);
    if (s->handshaking || evbuffer_get_length(s->in) > 0 || SSL_has_pending(s->ssl) ||
        BIO_ctrl_pending(s->rbio) > 0) {
        event_active(s->kev, EV_TIMEOUT, 0); /* delivered from the loop, not from our caller */
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
