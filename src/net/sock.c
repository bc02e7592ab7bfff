#include "sock.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

err_t net_parse_hostport(const char *s, char *host, size_t hostcap, uint16_t *port,
                         int allow_zero) {
    const char *colon;
    const char *h = s;
    size_t hlen;
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (!end || end[1] != ':') {
            return err_fail(ERR_CONFIG, "'%s': expected [ipv6]:port", s);
        }
        h = s + 1;
        hlen = (size_t)(end - h);
        colon = end + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon) {
            return err_fail(ERR_CONFIG, "'%s': expected host:port", s);
        }
        hlen = (size_t)(colon - s);
    }
    if (hlen == 0 || hlen >= hostcap) {
        return err_fail(ERR_CONFIG, "'%s': bad host", s);
    }
    char *end = NULL;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (errno || !end || *end || colon[1] == '\0' || p < (allow_zero ? 0 : 1) || p > 65535) {
        return err_fail(ERR_CONFIG, "'%s': bad port", s);
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = (uint16_t)p;
    return ERR_OK;
}

static err_t resolve(const char *host, uint16_t port, int passive, struct addrinfo **res) {
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
    char ps[8];
    snprintf(ps, sizeof(ps), "%u", port);
    int rc = getaddrinfo(host, ps, &hints, res);
    if (rc != 0) {
        return err_fail(ERR_IO, "%s: %s", host, gai_strerror(rc));
    }
    return ERR_OK;
}

static int nonblock(int fd) {
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

err_t net_listen(const char *host, uint16_t port, int *fd_out, uint16_t *bound) {
    struct addrinfo *res = NULL;
    TRY(resolve(host, port, 1, &res));
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    err_t e = ERR_OK;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 1024) != 0 ||
        nonblock(fd) != 0) {
        e = err_fail(ERR_IO, "listen on %s:%u: %s", host, port, strerror(errno));
    }
    freeaddrinfo(res);
    if (e != ERR_OK) {
        if (fd >= 0) {
            close(fd);
        }
        return e;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *bound = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                            : ((struct sockaddr_in *)&ss)->sin_port);
    *fd_out = fd;
    return ERR_OK;
}

err_t net_dial(const char *host, uint16_t port, int *fd_out) {
    struct addrinfo *res = NULL;
    TRY(resolve(host, port, 0, &res));
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    err_t e = ERR_OK;
    if (fd < 0 || nonblock(fd) != 0) {
        e = err_fail(ERR_IO, "socket: %s", strerror(errno));
    } else {
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(fd, res->ai_addr, res->ai_addrlen) != 0 && errno != EINPROGRESS) {
            e = err_fail(ERR_IO, "connect to %s:%u: %s", host, port, strerror(errno));
        }
    }
    freeaddrinfo(res);
    if (e != ERR_OK) {
        if (fd >= 0) {
            close(fd);
        }
        return e;
    }
    *fd_out = fd;
    return ERR_OK;
}

err_t net_sock_error(int fd) {
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
        err = errno;
    }
    return err ? err_fail(ERR_IO, "%s", strerror(err)) : ERR_OK;
}
