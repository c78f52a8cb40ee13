/* epoll_echo -- reference TCP echo server on plain epoll: the baseline for bench/echo_compare.sh.
 *
 *   cc -O2 -std=gnu11 -Wall -Wextra -Wpedantic -Werror bench/epoll_echo.c -o build/epoll_echo -pthread
 *   build/epoll_echo [-a ADDR] [-p PORT] [-t THREADS] [-c CPU]
 *
 *   -a ADDR     IPv4 or IPv6 address to listen on (default 127.0.0.1)
 *   -p PORT     port (default 9090; 0 = the kernel picks, shared by all threads)
 *   -t THREADS  worker threads, each with its own SO_REUSEPORT listener and epoll loop (default 1)
 *   -c CPU      pin worker i to CPU+i
 *
 * Prints "listening on ADDR:PORT" (the real port) once ready, nothing else on stdout until
 * SIGINT/SIGTERM, then stops, closes everything, prints one stats line and exits 0.
 *
 * Design (what a careful C programmer would write): level-triggered epoll; per event one read
 * into a per-thread 64 KiB buffer and one write straight back (2 syscalls per echo). When the
 * write is partial the rest goes to a per-connection pending buffer (allocated on first need, at
 * most 64 KiB since reading stops), the interest becomes EPOLLOUT only, and reading resumes when
 * it is flushed: back-pressure instead of unbounded buffering. accept4 in a loop until EAGAIN;
 * on EMFILE/ENFILE the reserve-fd trick accepts and closes the connection instead of spinning.
 * TCP_NODELAY on every connection. SIGPIPE ignored (MSG_NOSIGNAL as well). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF_SIZE 65536
#define MAX_EVENTS 256

struct conn {
    int fd;
    uint32_t plen, poff; /* pending bytes [poff, plen) of pend */
    char *pend;
    struct conn *prev, *next; /* all of a worker's connections, to close them at the end */
};

struct worker {
    int idx, cpu;
    int lfd, ep, efd, reserve_fd;
    pthread_t th;
    uint64_t accepted, echoed;
    struct conn head;
    char lmark, emark; /* their addresses tag the listener and the stop eventfd in epoll */
    char buf[BUF_SIZE];
};

static const char *prog = "epoll_echo";
static volatile sig_atomic_t g_failed;

static void fatal(const char *what) {
    fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(errno));
    exit(1);
}

static void worker_fatal(const char *what) { /* a broken worker stops the whole server, exit 1 */
    fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(errno));
    g_failed = 1;
    kill(getpid(), SIGTERM);
}

static void conn_close(struct conn *c) {
    close(c->fd);
    c->prev->next = c->next;
    c->next->prev = c->prev;
    free(c->pend);
    free(c);
}

static int set_events(struct worker *w, struct conn *c, uint32_t events) {
    struct epoll_event ev = { .events = events, .data.ptr = c };
    return epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Keeps bytes [done, len) of w->buf for later and switches c to EPOLLOUT. */
static void conn_defer(struct worker *w, struct conn *c, size_t done, size_t len) {
    if (!c->pend && !(c->pend = malloc(BUF_SIZE))) {
        conn_close(c);
        return;
    }
    memcpy(c->pend, w->buf + done, len - done);
    c->poff = 0;
    c->plen = (uint32_t)(len - done);
    if (set_events(w, c, EPOLLOUT) < 0) conn_close(c);
}

static void on_readable(struct worker *w, struct conn *c) {
    ssize_t r = read(c->fd, w->buf, BUF_SIZE);
    if (r <= 0) {
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) return;
        conn_close(c); /* EOF, ECONNRESET, ... */
        return;
    }
    ssize_t s = send(c->fd, w->buf, (size_t)r, MSG_NOSIGNAL);
    if (s == r) {
        w->echoed += (uint64_t)s;
        return;
    }
    if (s < 0) {
        if (errno != EAGAIN && errno != EINTR) {
            conn_close(c);
            return;
        }
        s = 0;
    }
    w->echoed += (uint64_t)s;
    conn_defer(w, c, (size_t)s, (size_t)r);
}

static void on_writable(struct worker *w, struct conn *c) {
    while (c->poff < c->plen) {
        ssize_t s = send(c->fd, c->pend + c->poff, c->plen - c->poff, MSG_NOSIGNAL);
        if (s < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) return;
            conn_close(c);
            return;
        }
        w->echoed += (uint64_t)s;
        c->poff += (uint32_t)s;
    }
    c->poff = c->plen = 0;
    if (set_events(w, c, EPOLLIN) < 0) conn_close(c);
}

static void on_accept(struct worker *w) {
    for (;;) {
        int fd = accept4(w->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
            if ((errno == EMFILE || errno == ENFILE) && w->reserve_fd >= 0) {
                /* out of descriptors: free the reserve, take the connection and close it at once */
                close(w->reserve_fd);
                int tmp = accept(w->lfd, NULL, NULL);
                if (tmp >= 0) close(tmp);
                w->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (tmp < 0) return;
                continue;
            }
            return; /* ENOBUFS, ENOMEM, or no reserve left: try again on the next event */
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct conn *c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        c->fd = fd;
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
        if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
            close(fd);
            free(c);
            continue;
        }
        c->next = w->head.next;
        c->prev = &w->head;
        w->head.next->prev = c;
        w->head.next = c;
        w->accepted++;
    }
}

static void *worker_main(void *arg) {
    struct worker *w = arg;
    struct epoll_event evs[MAX_EVENTS];
    if (w->cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET((unsigned)w->cpu, &set);
        int e = pthread_setaffinity_np(pthread_self(), sizeof set, &set);
        if (e) {
            errno = e;
            worker_fatal("pinning to -c CPU");
            return NULL;
        }
    }
    for (int stop = 0; !stop;) {
        int n = epoll_wait(w->ep, evs, MAX_EVENTS, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            worker_fatal("epoll_wait");
            break;
        }
        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;
            if (p == &w->lmark)
                on_accept(w);
            else if (p == &w->emark)
                stop = 1;
            else if (((struct conn *)p)->plen)
                on_writable(w, p); /* EPOLLOUT (or ERR/HUP) while output is pending */
            else
                on_readable(w, p); /* EPOLLIN, EPOLLHUP, EPOLLERR */
        }
    }
    while (w->head.next != &w->head) conn_close(w->head.next);
    close(w->lfd);
    close(w->ep);
    close(w->efd);
    if (w->reserve_fd >= 0) close(w->reserve_fd);
    return NULL;
}

static int make_listener(const struct sockaddr_storage *ss, socklen_t len) {
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) fatal("socket");
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) fatal("SO_REUSEADDR");
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) fatal("SO_REUSEPORT");
    if (bind(fd, (const struct sockaddr *)ss, len) < 0) fatal("bind");
    if (listen(fd, 65535) < 0) fatal("listen"); /* capped by net.core.somaxconn */
    return fd;
}

static long parse_long(const char *s, long lo, long hi, const char *what) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > hi) {
        fprintf(stderr, "%s: %s must be an integer in [%ld, %ld], got '%s'\n", prog, what, lo, hi, s);
        exit(2);
    }
    return v;
}

static void usage(void) {
    fprintf(stderr, "usage: %s [-a ADDR] [-p PORT] [-t THREADS] [-c CPU]\n", prog);
    exit(2);
}

int main(int argc, char **argv) {
    const char *addr = "127.0.0.1";
    int port = 9090, nthreads = 1, cpu = -1, opt;
    while ((opt = getopt(argc, argv, "a:p:t:c:h")) != -1) {
        switch (opt) {
            case 'a': addr = optarg; break;
            case 'p': port = (int)parse_long(optarg, 0, 65535, "-p PORT"); break;
            case 't': nthreads = (int)parse_long(optarg, 1, 1024, "-t THREADS"); break;
            case 'c': cpu = (int)parse_long(optarg, 0, CPU_SETSIZE - 1, "-c CPU"); break;
            default: usage();
        }
    }
    if (optind != argc) usage();
    if (cpu >= 0) { /* refuse before "listening on" rather than fail in a worker */
        cpu_set_t allowed;
        if (sched_getaffinity(0, sizeof allowed, &allowed) < 0) return 2;
        for (int i = 0; i < nthreads; i++)
            if (cpu + i >= CPU_SETSIZE || !CPU_ISSET(cpu + i, &allowed)) {
                fprintf(stderr, "%s: -c %d with %d thread(s): CPU %d is not available\n", prog, cpu, nthreads, cpu + i);
                return 2;
            }
    }

    struct sockaddr_storage ss;
    socklen_t sslen;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, addr, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        sslen = sizeof *a4;
    } else if (inet_pton(AF_INET6, addr, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        sslen = sizeof *a6;
    } else {
        fprintf(stderr, "%s: -a %s is not a numeric IPv4 or IPv6 address\n", prog, addr);
        return 2;
    }

    struct rlimit rl; /* as many connections as the hard limit allows */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGPIPE, SIG_IGN);
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* inherited by the workers; main takes them in sigwait */

    struct worker *ws = calloc((size_t)nthreads, sizeof *ws);
    if (!ws) fatal("calloc");
    for (int i = 0; i < nthreads; i++) {
        struct worker *w = &ws[i];
        w->idx = i;
        w->cpu = cpu >= 0 ? cpu + i : -1;
        w->head.next = w->head.prev = &w->head;
        w->lfd = make_listener(&ss, sslen);
        if (i == 0 && port == 0) { /* the others bind the port the kernel gave the first */
            struct sockaddr_storage got;
            socklen_t gl = sizeof got;
            if (getsockname(w->lfd, (struct sockaddr *)&got, &gl) < 0) fatal("getsockname");
            port = ntohs(got.ss_family == AF_INET ? ((struct sockaddr_in *)&got)->sin_port
                                                  : ((struct sockaddr_in6 *)&got)->sin6_port);
            if (ss.ss_family == AF_INET)
                a4->sin_port = htons((uint16_t)port);
            else
                a6->sin6_port = htons((uint16_t)port);
        }
        w->ep = epoll_create1(EPOLL_CLOEXEC);
        w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        w->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (w->ep < 0 || w->efd < 0) fatal("epoll_create1/eventfd");
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &w->lmark };
        if (epoll_ctl(w->ep, EPOLL_CTL_ADD, w->lfd, &ev) < 0) fatal("epoll_ctl");
        ev.data.ptr = &w->emark;
        if (epoll_ctl(w->ep, EPOLL_CTL_ADD, w->efd, &ev) < 0) fatal("epoll_ctl");
    }
    for (int i = 0; i < nthreads; i++) {
        int e = pthread_create(&ws[i].th, NULL, worker_main, &ws[i]);
        if (e) {
            errno = e;
            fatal("pthread_create");
        }
    }
    printf("listening on %s:%d\n", addr, port);
    fflush(stdout);

    int sig;
    while (sigwait(&sigs, &sig) != 0) {
    }
    uint64_t one = 1;
    for (int i = 0; i < nthreads; i++)
        if (write(ws[i].efd, &one, sizeof one) < 0) fatal("eventfd write");
    uint64_t accepted = 0, echoed = 0;
    for (int i = 0; i < nthreads; i++) {
        pthread_join(ws[i].th, NULL);
        accepted += ws[i].accepted;
        echoed += ws[i].echoed;
    }
    printf("%s: stopped: %llu connections accepted, %llu bytes echoed\n", prog, (unsigned long long)accepted,
           (unsigned long long)echoed);
    fflush(stdout);
    free(ws);
    return g_failed ? 1 : 0;
}
