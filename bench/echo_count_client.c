/* echo_count_client -- a fixed number of verified echo round trips, for bench/callgrind_echo.sh.
 *
 *   cc -O2 -std=gnu11 -Wall -Wextra -Wpedantic -Werror bench/echo_count_client.c -o build/echo_count_client
 *   build/echo_count_client -p PORT [-a ADDR] [-c CONNS] [-m MSGS] [-s SIZE] [-C CPU] [-t SECS]
 *
 *   -a ADDR   IPv4 address of the echo server (default 127.0.0.1)
 *   -p PORT   its port
 *   -c CONNS  connections (default 1), all opened before the first message is sent
 *   -m MSGS   round trips per connection (default 1000): CONNS x MSGS messages in all
 *   -s SIZE   message size in bytes (default 64, at most 1 MiB)
 *   -C CPU    pin this process to CPU
 *   -t SECS   give up when no byte moved for SECS seconds (default 30; a server under valgrind
 *             is slow, a dead one must not hang the caller)
 *
 * Depth 1: on each connection a message is written, then its echo is read in full and checked
 * byte for byte, then the next one is written. Byte k of connection i's stream is byte
 * (i * 7919 + k) mod P of a pseudo-random table (P = 1048573, a prime, so it never lines up with a
 * power-of-two message size): a lost, repeated, reordered or flipped byte is caught. The table is
 * extended by MAX_SIZE bytes so that any message is one contiguous slice of it: messages are sent
 * from it and checked against it with memcmp, no per-byte work, so that the client (not under
 * valgrind) stays far ahead of the server it measures. One poll loop drives all connections. At the end each connection shuts down its sending side and waits for the server's
 * EOF (a byte after the last echo is an error), then closes.
 *
 * Prints "echo_count_client: N messages of SIZE B on CONNS connections verified" on stdout.
 * Exit status: 0 = every echo verified and every connection closed cleanly by the server,
 * 1 = any error (connect, mismatch, EOF early, reset, timeout), 2 = usage. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SIZE (1u << 20)
#define MAX_CONNS 10000

struct conn {
    int fd;
    int eof;          /* the server's EOF seen (after our shutdown) */
    uint64_t tx, rx;  /* stream bytes written, stream bytes received and checked */
    uint64_t msgs;    /* messages completed */
    uint64_t tx_goal; /* stream bytes of the messages started */
};

#define TBL_PERIOD 1048573u

static uint8_t *tbl; /* TBL_PERIOD + MAX_SIZE bytes: tbl[j] == tbl[j % TBL_PERIOD] */

/* bytes [k, k + len) of connection conn's stream, len <= MAX_SIZE */
static const uint8_t *stream_at(uint32_t conn, uint64_t k) { return tbl + ((uint64_t)conn * 7919u + k) % TBL_PERIOD; }

static long parse_long(const char *s, long lo, long hi, const char *what) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "echo_count_client: %s must be %ld..%ld\n", what, lo, hi);
        exit(2);
    }
    return v;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void usage(void) {
    fprintf(stderr, "usage: echo_count_client -p PORT [-a ADDR] [-c CONNS] [-m MSGS] [-s SIZE] [-C CPU] [-t SECS]\n");
    exit(2);
}

int main(int argc, char **argv) {
    const char *addr = "127.0.0.1";
    long port = -1, nconns = 1, msgs = 1000, size = 64, cpu = -1, idle_secs = 30;
    int opt;
    while ((opt = getopt(argc, argv, "a:p:c:m:s:C:t:h")) != -1) {
        switch (opt) {
            case 'a': addr = optarg; break;
            case 'p': port = parse_long(optarg, 1, 65535, "-p PORT"); break;
            case 'c': nconns = parse_long(optarg, 1, MAX_CONNS, "-c CONNS"); break;
            case 'm': msgs = parse_long(optarg, 1, 1000000000L, "-m MSGS"); break;
            case 's': size = parse_long(optarg, 1, MAX_SIZE, "-s SIZE"); break;
            case 'C': cpu = parse_long(optarg, 0, CPU_SETSIZE - 1, "-C CPU"); break;
            case 't': idle_secs = parse_long(optarg, 1, 3600, "-t SECS"); break;
            default: usage();
        }
    }
    if (port < 0 || optind != argc) usage();
    if (cpu >= 0) {
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET((int)cpu, &one);
        if (sched_setaffinity(0, sizeof one, &one) != 0) {
            perror("echo_count_client: sched_setaffinity");
            return 2;
        }
    }
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
        fprintf(stderr, "echo_count_client: bad address %s\n", addr);
        return 2;
    }
    struct conn *cs = calloc((size_t)nconns, sizeof *cs);
    struct pollfd *pf = calloc((size_t)nconns, sizeof *pf);
    uint8_t *buf = malloc(MAX_SIZE);
    tbl = malloc(TBL_PERIOD + MAX_SIZE);
    if (!cs || !pf || !buf || !tbl) {
        fprintf(stderr, "echo_count_client: out of memory\n");
        return 1;
    }
    uint64_t x = 0x9E3779B97F4A7C15ull; /* xorshift64 */
    for (uint32_t j = 0; j < TBL_PERIOD; j++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        tbl[j] = (uint8_t)(x >> 32);
    }
    for (uint32_t j = TBL_PERIOD; j < TBL_PERIOD + MAX_SIZE; j++) tbl[j] = tbl[j - TBL_PERIOD]; /* may overlap */
    /* blocking connects (the kernel completes them from the listen backlog), then non-blocking */
    for (long i = 0; i < nconns; i++) {
        int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
            fprintf(stderr, "echo_count_client: connect %s:%ld (connection %ld): %s\n", addr, port, i, strerror(errno));
            return 1;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0) {
            perror("echo_count_client: O_NONBLOCK");
            return 1;
        }
        cs[i].fd = fd;
        cs[i].tx_goal = (uint64_t)size; /* message 0 started */
    }
    const uint64_t total = (uint64_t)nconns * (uint64_t)msgs;
    uint64_t done = 0;
    long open_conns = nconns;
    double last = now_s();
    while (open_conns > 0) {
        for (long i = 0; i < nconns; i++) {
            struct conn *c = &cs[i];
            pf[i].fd = c->fd < 0 ? -1 : c->fd;
            pf[i].events = (short)(c->tx < c->tx_goal ? POLLOUT : POLLIN);
            pf[i].revents = 0;
        }
        int n = poll(pf, (nfds_t)nconns, 1000);
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("echo_count_client: poll");
            return 1;
        }
        if (n == 0) {
            if (now_s() - last > (double)idle_secs) {
                fprintf(stderr, "echo_count_client: no progress for %ld s (%llu of %llu messages done)\n", idle_secs,
                        (unsigned long long)done, (unsigned long long)total);
                return 1;
            }
            continue;
        }
        for (long i = 0; i < nconns; i++) {
            struct conn *c = &cs[i];
            if (c->fd < 0 || !pf[i].revents) continue;
            if (c->tx < c->tx_goal) { /* write the rest of the current message */
                size_t len = (size_t)(c->tx_goal - c->tx);
                ssize_t w = send(c->fd, stream_at((uint32_t)i, c->tx), len, MSG_NOSIGNAL);
                if (w < 0) {
                    if (errno == EAGAIN || errno == EINTR) continue;
                    fprintf(stderr, "echo_count_client: send (connection %ld): %s\n", i, strerror(errno));
                    return 1;
                }
                c->tx += (uint64_t)w;
                last = now_s();
                continue;
            }
            /* read: the echo of the current message, or after the last one the server's EOF */
            size_t want = c->msgs < (uint64_t)msgs ? (size_t)(c->tx_goal - c->rx) : 1;
            ssize_t r = recv(c->fd, buf, want, 0);
            if (r < 0) {
                if (errno == EAGAIN || errno == EINTR) continue;
                fprintf(stderr, "echo_count_client: recv (connection %ld): %s\n", i, strerror(errno));
                return 1;
            }
            last = now_s();
            if (c->msgs == (uint64_t)msgs) { /* all echoed and our side shut: only EOF may come */
                if (r > 0) {
                    fprintf(stderr, "echo_count_client: connection %ld: bytes after the last echo\n", i);
                    return 1;
                }
                close(c->fd);
                c->fd = -1;
                open_conns--;
                continue;
            }
            if (r == 0) {
                fprintf(stderr, "echo_count_client: connection %ld: EOF after %llu of %ld messages\n", i,
                        (unsigned long long)c->msgs, msgs);
                return 1;
            }
            const uint8_t *expect = stream_at((uint32_t)i, c->rx);
            if (memcmp(buf, expect, (size_t)r) != 0) {
                ssize_t k = 0;
                while (buf[k] == expect[k]) k++;
                fprintf(stderr, "echo_count_client: connection %ld: byte %llu differs\n", i,
                        (unsigned long long)(c->rx + (uint64_t)k));
                return 1;
            }
            c->rx += (uint64_t)r;
            if (c->rx < c->tx_goal) continue;
            c->msgs++;
            done++;
            if (c->msgs < (uint64_t)msgs) {
                c->tx_goal += (uint64_t)size; /* next message */
            } else if (shutdown(c->fd, SHUT_WR) != 0) {
                fprintf(stderr, "echo_count_client: shutdown (connection %ld): %s\n", i, strerror(errno));
                return 1;
            }
        }
    }
    printf("echo_count_client: %llu messages of %ld B on %ld connections verified\n", (unsigned long long)done, size,
           nconns);
    free(tbl);
    free(buf);
    free(pf);
    free(cs);
    return 0;
}
