/* net_helpers.h -- loopback client helpers shared by the server suites (after zenith.h and
   criterion_compat.h). */
#ifndef ZENITH_TEST_NET_HELPERS_H
#define ZENITH_TEST_NET_HELPERS_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* 1 when the reactor runs on the epoll backend: make test runs every reactor suite twice, with
   ZENITH_BACKEND=io_uring and =epoll; a few facts differ (no SEND_ZC on epoll, no ring). */
static inline int on_epoll(const zenith_server *s) {
    zenith_backend_info i;
    memset(&i, 0, sizeof i);
    cr_assert_eq(zenith_server_backend_info(s, &i), 0);
    return i.backend == ZENITH_BACKEND_EPOLL;
}

static inline double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* A TCP_NODELAY connection to 127.0.0.1:port; rcvbuf > 0 sets SO_RCVBUF first (before the
   handshake, so the window it advertises is the one it keeps: shrinking it after connect makes
   the kernel drop data it already allowed, and every drop costs a 200 ms retransmission). */
static inline int dial_rcvbuf(uint16_t port, int rcvbuf) {
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    cr_assert_geq(fd, 0);
    if (rcvbuf > 0) cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf), 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0, "connect: %s", strerror(errno));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static inline int dial(uint16_t port) { return dial_rcvbuf(port, 0); }

#endif
