/* TCP sockets: non-blocking listen and dial, address parsing. */
#ifndef COCOON_NET_SOCK_H
#define COCOON_NET_SOCK_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* "host:port", "[v6]:port"; port 1..65535 (0 allowed when allow_zero, to pick a free port). */
MUST_CHECK err_t net_parse_hostport(const char *s, char *host, size_t hostcap, uint16_t *port,
                                    int allow_zero);
/* Listening socket (SO_REUSEADDR, non-blocking, close-on-exec); *bound receives the real port. */
MUST_CHECK err_t net_listen(const char *host, uint16_t port, int *fd, uint16_t *bound);
/* Starts a non-blocking connect; completion is signalled by writability (see net_sock_error). */
MUST_CHECK err_t net_dial(const char *host, uint16_t port, int *fd);
/* The pending error of a socket (SO_ERROR) as ERR_OK or ERR_IO with detail. */
MUST_CHECK err_t net_sock_error(int fd);

#endif
