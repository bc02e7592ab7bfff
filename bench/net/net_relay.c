/* The floor anchor of bench/net: a plain TCP relay that does nothing but move bytes, so a chain
 * of three of them (one process each, like client, proxy and worker) measures what three extra
 * process hops cost on this machine before any TLS, framing or HTTP work: the wake-up of a
 * sleeping process and a socket write per direction per hop.
 *
 *   net_relay PORT_FILE TARGET_PORT   (binds 127.0.0.1:0, writes the port to PORT_FILE; every
 *                                      accepted connection gets its own connection to
 *                                      127.0.0.1:TARGET_PORT; runs until SIGTERM/SIGINT)
 *
 * One thread per direction per connection, blocking read() then write() with TCP_NODELAY: the
 * least a relay can do per message. A benchmark fixture only: never shipped. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
    int from, to;
} pipe_arg;

static void *shuttle(void *arg) {
    pipe_arg *p = arg;
    char b[65536];
    for (;;) {
        ssize_t n = read(p->from, b, sizeof(b));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(p->to, b + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR) {
                continue;
            }
            if (w <= 0) {
                goto out;
            }
            off += w;
        }
    }
out:
    shutdown(p->to, SHUT_WR);
    shutdown(p->from, SHUT_RD);
    return NULL;
}

typedef struct {
    int client;
    uint16_t target;
} conn_arg;

static void *serve(void *arg) {
    conn_arg *c = arg;
    int up = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(c->target)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    if (up >= 0 && connect(up, (struct sockaddr *)&a, sizeof(a)) == 0) {
        setsockopt(up, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        setsockopt(c->client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        pipe_arg back = {up, c->client};
        pthread_t t;
        if (pthread_create(&t, NULL, shuttle, &back) == 0) {
            pipe_arg fwd = {c->client, up};
            shuttle(&fwd);
            pthread_join(t, NULL);
        }
    }
    if (up >= 0) {
        close(up);
    }
    close(c->client);
    free(c);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: net_relay PORT_FILE TARGET_PORT\n");
        return 2;
    }
    long target = strtol(argv[2], NULL, 10);
    if (target <= 0 || target > 65535) {
        fprintf(stderr, "net_relay: bad target port %s\n", argv[2]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof(a);
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(l, 1024) != 0 ||
        getsockname(l, (struct sockaddr *)&a, &al) != 0) {
        perror("net_relay: listen");
        return 1;
    }
    FILE *f = fopen(argv[1], "w");
    if (!f) {
        perror("net_relay: port file");
        return 1;
    }
    fprintf(f, "%u\n", ntohs(a.sin_port));
    fclose(f);
    for (;;) {
        int c = accept(l, NULL, NULL);
        if (c < 0) {
            if (errno == EINTR || errno == ECONNABORTED) {
                continue;
            }
            perror("net_relay: accept");
            return 1;
        }
        conn_arg *ca = malloc(sizeof(*ca));
        pthread_t t;
        if (!ca) {
            close(c);
            continue;
        }
        ca->client = c;
        ca->target = (uint16_t)target;
        if (pthread_create(&t, NULL, serve, ca) != 0) {
            close(c);
            free(ca);
            continue;
        }
        pthread_detach(t);
    }
}
