/* UDP multicast on the reactor (issue 11), one body for both backends (make test runs it with
   ZENITH_BACKEND=io_uring and =epoll):
   - on loopback (join on "lo", send with zenith_udp_multicast_send_opts(s, id, "lo", 1, 1)):
     nothing is delivered before the join, everything after it, nothing after the leave; a
     source-specific join delivers only its source (a second sender bound to 127.0.0.2); two
     subscribers of one group and port (REUSEADDR, REUSEPORT) both get everything;
   - the codes: a group that is not multicast, an unknown interface, a second join, a leave of
     what was not joined, 20 memberships, TTL and loop out of range -- and that a refused call
     changes nothing;
   - IPv6 on lo where the kernel allows it (this one needs a route lo does not have: the part
     is skipped with a line saying why);
   - examples/feed between two network namespaces joined by a veth pair (IPv4 any-source and
     source-specific, IPv6): nothing lost, nothing corrupt. Skipped with one line where
     namespaces cannot be made (not root, no iproute2, no veth).

   Every test uses groups of its own (from its pid), so tests running at once never see each
   other's datagrams. A unicast "barrier" datagram from the same sender, queued after the
   multicast ones, says when everything sent before it has had its chance to arrive. */
#define ZENITH_IMPLEMENTATION
#include "zenith.h"

#include "criterion_compat.h" /* Criterion (or its TSan stand-in) */
#include "net_helpers.h"
#include "helpers.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef ZENITH_BUILD_DIR
#define ZENITH_BUILD_DIR "build"
#endif
#define FEED ZENITH_BUILD_DIR "/examples/feed"

/* ---- the reactor ------------------------------------------------------------------------------ */

static zenith_server_config mc_cfg(void) {
    zenith_server_config c;
    memset(&c, 0, sizeof c);
    c.flags = ZENITH_SERVER_NO_LISTEN;
    c.max_connections = 16;
    c.buffer_count = 1024;
    return c;
}

static void no_data(void *user, zenith_conn_id conn, const uint8_t *data, size_t len) {
    (void)user;
    (void)conn;
    (void)data;
    (void)len;
}

static zenith_server *mkserver(void) {
    zenith_server_config c = mc_cfg();
    int err = 12345;
    zenith_server *s = zenith_server_create(&c, &err);
    if (s == NULL && err == ZENITH_E_URING_DISABLED) cr_skip("io_uring is disabled here");
    cr_assert_not_null(s, "zenith_server_create: %d %s", err, zenith_errname(err));
    cr_assert_eq(zenith_server_set_callbacks(s, NULL, no_data, NULL, NULL), 0);
    cr_assert_eq(zenith_server_start(s), 0);
    return s;
}

static void run1(zenith_server *s, int ms) {
    int r = zenith_server_run_once(s, ms);
    cr_assert_geq(r, 0, "run_once: %d %s", r, zenith_errname(r));
}

static void spin(zenith_server *s, int ms) {
    double end = now_s() + ms / 1000.0;
    while (now_s() < end) run1(s, 1);
}

#define RUN_UNTIL(s, cond, secs)                                \
    do {                                                        \
        double run_until_end_ = now_s() + (secs);               \
        while (!(cond) && now_s() < run_until_end_) run1(s, 1); \
    } while (0)

static zenith_udp_config ucfg(const char *address, uint16_t port, uint32_t flags, zenith_udp_recv_fn on_recv,
                              void *user) {
    zenith_udp_config c;
    memset(&c, 0, sizeof c);
    c.address = address;
    c.port = port;
    c.flags = flags;
    c.on_recv = on_recv;
    c.user = user;
    return c;
}

static zenith_udp_id open_ok(zenith_server *s, const zenith_udp_config *c) {
    zenith_udp_id id = 0;
    int rc = zenith_udp_open(s, c, &id);
    cr_assert_eq(rc, 0, "zenith_udp_open(%s): %d %s", c->address ? c->address : "NULL", rc, zenith_errname(rc));
    cr_assert_neq(id, 0u);
    return id;
}

static zenith_addr addr_of(const char *ip, uint16_t port) {
    zenith_addr a;
    int rc = zenith_addr_set(&a, ip, port);
    cr_assert_eq(rc, 0, "zenith_addr_set(%s): %d %s", ip, rc, zenith_errname(rc));
    return a;
}

static zenith_udp_info info_of_udp(zenith_server *s, zenith_udp_id id) {
    zenith_udp_info i;
    memset(&i, 0, sizeof i);
    cr_assert_eq(zenith_udp_get_info(s, id, &i), 0);
    return i;
}

/* A group of this test alone: 239.<tag>.<pid>. */
static void group_of(char *buf, size_t cap, unsigned tag) {
    unsigned p = (unsigned)getpid();
    snprintf(buf, cap, "239.%u.%u.%u", 100u + tag % 100u, (p >> 8) & 0xffu, p & 0xffu);
}

/* A sender: bound to ip, multicast out of lo with TTL 1 and loopback on. */
static zenith_udp_id mc_sender(zenith_server *s, const char *ip) {
    zenith_udp_config u = ucfg(ip, 0, 0, NULL, NULL);
    zenith_udp_id id = open_ok(s, &u);
    int rc = zenith_udp_multicast_send_opts(s, id, "lo", 1, 1);
    cr_assert_eq(rc, 0, "multicast_send_opts(lo, 1, 1): %d %s", rc, zenith_errname(rc));
    return id;
}

/* ---- datagrams: kind, sender, sequence ---------------------------------------------------------- */

enum { K_MCAST = 'M', K_BARRIER = 'B' };

typedef struct {
    uint8_t kind, sender;
    uint16_t pad;
    uint32_t seq;
    uint8_t body[56];
} msg_t;

static msg_t mkmsg(uint8_t kind, uint8_t sender, uint32_t seq) {
    msg_t m;
    unsigned i;
    memset(&m, 0, sizeof m);
    m.kind = kind;
    m.sender = sender;
    m.seq = seq;
    for (i = 0; i < sizeof m.body; i++) m.body[i] = (uint8_t)(seq * 7u + i * 13u + sender);
    return m;
}

#define MAXSEQ 4096

/* What one receiving socket got: per sender, per sequence number. */
typedef struct {
    zenith_server *s;
    zenith_udp_id id;
    uint32_t mcast, barriers, last_barrier;
    uint16_t seen[3][MAXSEQ]; /* [sender][seq] */
    zenith_addr mfrom[3];     /* the source of sender k's multicast datagrams */
} rx_t;

static void rx_recv(void *user, zenith_udp_id sock, const zenith_udp_datagram *d) {
    rx_t *r = (rx_t *)user;
    msg_t m, want;
    cr_assert_eq(sock, r->id);
    cr_assert_eq(d->len, sizeof m, "a datagram of %u bytes", d->len);
    cr_assert_eq(d->flags, 0u);
    memcpy(&m, d->data, sizeof m);
    cr_assert(m.sender < 3 && m.seq < MAXSEQ, "sender %u seq %u", m.sender, m.seq);
    want = mkmsg(m.kind, m.sender, m.seq);
    cr_assert_eq(memcmp(&m, &want, sizeof m), 0, "datagram %c/%u/%u corrupted", m.kind, m.sender, m.seq);
    if (m.kind == K_BARRIER) {
        r->barriers++;
        r->last_barrier = m.seq;
        return;
    }
    cr_assert_eq(m.kind, K_MCAST);
    r->seen[m.sender][m.seq]++;
    r->mcast++;
    r->mfrom[m.sender] = *d->from;
}

static void rx_init(rx_t *r, zenith_server *s) {
    memset(r, 0, sizeof *r);
    r->s = s;
}

static void send_mcast(zenith_server *s, zenith_udp_id tx, uint8_t sender, const zenith_addr *group, uint32_t from,
                       uint32_t n) {
    uint32_t i;
    for (i = from; i < from + n; i++) {
        msg_t m = mkmsg(K_MCAST, sender, i);
        int rc = zenith_udp_send(s, tx, &m, sizeof m, group);
        if (rc == ZENITH_E_FULL) { /* let the queue drain */
            RUN_UNTIL(s, info_of_udp(s, tx).queued == 0, 2.0);
            rc = zenith_udp_send(s, tx, &m, sizeof m, group);
        }
        cr_assert_eq(rc, 0, "multicast send %u: %d %s", i, rc, zenith_errname(rc));
    }
}

/* A unicast barrier to the receiver's port after what tx queued; waits until it arrives. */
static void barrier(zenith_server *s, zenith_udp_id tx, rx_t *r, uint16_t port, uint32_t no) {
    msg_t m = mkmsg(K_BARRIER, 0, no);
    zenith_addr to = addr_of("127.0.0.1", port);
    cr_assert_eq(zenith_udp_send(s, tx, &m, sizeof m, &to), 0);
    RUN_UNTIL(s, r->barriers > 0 && r->last_barrier == no, 5.0);
    cr_assert_eq(r->last_barrier, no, "barrier %u did not arrive", no);
    spin(s, 20); /* and a little more, for anything still on its way */
}

static uint32_t count_seen(const rx_t *r, int sender, uint32_t from, uint32_t n, uint32_t *dups) {
    uint32_t i, c = 0;
    for (i = from; i < from + n; i++) {
        if (r->seen[sender][i]) c++;
        if (r->seen[sender][i] > 1 && dups) (*dups)++;
    }
    return c;
}

/* ---- 1. join, leave ----------------------------------------------------------------------------- */

Test(multicast, nothing_before_join_everything_after_nothing_after_leave, .timeout = 30) {
    zenith_server *s = mkserver();
    zenith_udp_config u;
    zenith_udp_id tx;
    zenith_addr g;
    rx_t r;
    char grp[32];
    uint16_t port;
    uint32_t dups = 0;
    int rc;
    group_of(grp, sizeof grp, 1);
    rx_init(&r, s);
    u = ucfg("0.0.0.0", 0, 0, rx_recv, &r);
    r.id = open_ok(s, &u);
    port = zenith_udp_port(s, r.id);
    g = addr_of(grp, port);
    tx = mc_sender(s, "127.0.0.1");
    /* before the join */
    send_mcast(s, tx, 0, &g, 0, 20);
    barrier(s, tx, &r, port, 1);
    cr_assert_eq(r.mcast, 0u, "%u multicast datagrams delivered before the join", r.mcast);
    /* joined */
    rc = zenith_udp_join(s, r.id, grp, NULL, "lo");
    cr_assert_eq(rc, 0, "join %s on lo: %d %s", grp, rc, zenith_errname(rc));
    send_mcast(s, tx, 0, &g, 100, 500);
    barrier(s, tx, &r, port, 2);
    RUN_UNTIL(s, r.mcast >= 500, 5.0);
    cr_assert_eq(count_seen(&r, 0, 100, 500, &dups), 500u, "after the join: %u of 500",
                 count_seen(&r, 0, 100, 500, NULL));
    cr_assert_eq(dups, 0u, "%u delivered twice", dups);
    cr_assert_eq(r.mcast, 500u);
    cr_assert_eq(count_seen(&r, 0, 0, 20, NULL), 0u, "a datagram sent before the join came late");
    cr_assert_eq(zenith_addr_port(&r.mfrom[0]), zenith_udp_port(s, tx), "the multicast source is the sender");
    {
        const struct sockaddr_in *a = (const struct sockaddr_in *)(const void *)r.mfrom[0].sa;
        cr_assert_eq(ntohl(a->sin_addr.s_addr), INADDR_LOOPBACK);
    }
    /* left */
    rc = zenith_udp_leave(s, r.id, grp, NULL, "lo");
    cr_assert_eq(rc, 0, "leave: %d %s", rc, zenith_errname(rc));
    send_mcast(s, tx, 0, &g, 1000, 50);
    barrier(s, tx, &r, port, 3);
    cr_assert_eq(r.mcast, 500u, "%u multicast datagrams delivered after the leave", r.mcast - 500u);
    /* and joined again: delivered again */
    cr_assert_eq(zenith_udp_join(s, r.id, grp, NULL, "lo"), 0, "a join after a leave");
    send_mcast(s, tx, 0, &g, 2000, 50);
    barrier(s, tx, &r, port, 4);
    RUN_UNTIL(s, r.mcast >= 550, 5.0);
    cr_assert_eq(count_seen(&r, 0, 2000, 50, NULL), 50u);
    cr_assert_eq(info_of_udp(s, tx).send_errors, 0u);
    zenith_server_destroy(s); /* with the membership: it ends with the fd */
}

/* A receiver bound to the group itself gets the group's datagrams (and no unicast to its port). */
Test(multicast, receiver_bound_to_the_group, .timeout = 30) {
    zenith_server *s = mkserver();
    zenith_udp_config u;
    zenith_udp_id tx;
    zenith_addr g;
    rx_t r, any;
    char grp[32];
    uint16_t port;
    group_of(grp, sizeof grp, 2);
    rx_init(&r, s);
    rx_init(&any, s);
    u = ucfg(grp, 0, ZENITH_UDP_REUSEADDR, rx_recv, &r);
    r.id = open_ok(s, &u);
    port = zenith_udp_port(s, r.id);
    /* a second socket on the port, bound to any, only to receive the barriers */
    u = ucfg("0.0.0.0", port, ZENITH_UDP_REUSEADDR, rx_recv, &any);
    any.id = open_ok(s, &u);
    cr_assert_eq(zenith_udp_join(s, r.id, grp, NULL, "lo"), 0);
    g = addr_of(grp, port);
    tx = mc_sender(s, "127.0.0.1");
    send_mcast(s, tx, 0, &g, 0, 100);
    barrier(s, tx, &any, port, 1);
    RUN_UNTIL(s, r.mcast >= 100, 5.0);
    cr_assert_eq(count_seen(&r, 0, 0, 100, NULL), 100u);
    cr_assert_eq(r.barriers, 0u, "a socket bound to the group got a unicast datagram");
    zenith_server_destroy(s);
}

/* ---- 2. source-specific --------------------------------------------------------------------------- */

Test(multicast, source_specific_join_delivers_only_its_source, .timeout = 30) {
    zenith_server *s = mkserver();
    zenith_udp_config u;
    zenith_udp_id tx1, tx2;
    zenith_addr g;
    rx_t r;
    char grp[32];
    uint16_t port;
    int rc, round;
    group_of(grp, sizeof grp, 3);
    rx_init(&r, s);
    u = ucfg("0.0.0.0", 0, 0, rx_recv, &r);
    r.id = open_ok(s, &u);
    port = zenith_udp_port(s, r.id);
    g = addr_of(grp, port);
    tx1 = mc_sender(s, "127.0.0.1");
    tx2 = mc_sender(s, "127.0.0.2");
    rc = zenith_udp_join(s, r.id, grp, "127.0.0.1", "lo");
    cr_assert_eq(rc, 0, "source-specific join: %d %s", rc, zenith_errname(rc));
    /* an any-source join of the same group on the same interface clashes */
    cr_assert_eq(zenith_udp_join(s, r.id, grp, NULL, "lo"), ZENITH_E_EXIST);
    cr_assert_eq(zenith_udp_leave(s, r.id, grp, NULL, "lo"), ZENITH_E_NOT_FOUND, "no any-source membership");
    cr_assert_eq(zenith_udp_leave(s, r.id, grp, "127.0.0.2", "lo"), ZENITH_E_NOT_FOUND, "not that source");
    for (round = 0; round < 4; round++) { /* interleaved */
        send_mcast(s, tx1, 1, &g, (uint32_t)round * 50u, 50);
        send_mcast(s, tx2, 2, &g, (uint32_t)round * 50u, 50);
    }
    barrier(s, tx1, &r, port, 1);
    barrier(s, tx2, &r, port, 2);
    RUN_UNTIL(s, count_seen(&r, 1, 0, 200, NULL) == 200, 5.0);
    cr_assert_eq(count_seen(&r, 1, 0, 200, NULL), 200u, "the chosen source: %u of 200",
                 count_seen(&r, 1, 0, 200, NULL));
    cr_assert_eq(count_seen(&r, 2, 0, 200, NULL), 0u, "the other source (127.0.0.2): %u delivered",
                 count_seen(&r, 2, 0, 200, NULL));
    cr_assert_eq(r.mcast, 200u);
    {
        const struct sockaddr_in *a = (const struct sockaddr_in *)(const void *)r.mfrom[1].sa;
        cr_assert_eq(ntohl(a->sin_addr.s_addr), INADDR_LOOPBACK);
    }
    /* the other way round */
    cr_assert_eq(zenith_udp_leave(s, r.id, grp, "127.0.0.1", "lo"), 0);
    cr_assert_eq(zenith_udp_leave(s, r.id, grp, "127.0.0.1", "lo"), ZENITH_E_NOT_FOUND, "a second leave");
    cr_assert_eq(zenith_udp_join(s, r.id, grp, "127.0.0.2", "lo"), 0);
    send_mcast(s, tx1, 1, &g, 1000, 50);
    send_mcast(s, tx2, 2, &g, 1000, 50);
    barrier(s, tx1, &r, port, 3);
    barrier(s, tx2, &r, port, 4);
    RUN_UNTIL(s, count_seen(&r, 2, 1000, 50, NULL) == 50, 5.0);
    cr_assert_eq(count_seen(&r, 2, 1000, 50, NULL), 50u);
    cr_assert_eq(count_seen(&r, 1, 1000, 50, NULL), 0u, "127.0.0.1 after its source membership ended");
    {
        const struct sockaddr_in *a = (const struct sockaddr_in *)(const void *)r.mfrom[2].sa;
        cr_assert_eq(ntohl(a->sin_addr.s_addr), INADDR_LOOPBACK + 1u, "the source is 127.0.0.2");
    }
    /* two sources of one group: both */
    cr_assert_eq(zenith_udp_join(s, r.id, grp, "127.0.0.1", "lo"), 0, "a second source of the same group");
    send_mcast(s, tx1, 1, &g, 2000, 50);
    send_mcast(s, tx2, 2, &g, 2000, 50);
    barrier(s, tx1, &r, port, 5);
    barrier(s, tx2, &r, port, 6);
    RUN_UNTIL(s, count_seen(&r, 1, 2000, 50, NULL) == 50 && count_seen(&r, 2, 2000, 50, NULL) == 50, 5.0);
    cr_assert_eq(count_seen(&r, 1, 2000, 50, NULL), 50u);
    cr_assert_eq(count_seen(&r, 2, 2000, 50, NULL), 50u);
    zenith_server_destroy(s);
}

/* ---- 3. two subscribers on one group and port ----------------------------------------------------- */

static void two_subscribers(uint32_t flag, unsigned tag) {
    zenith_server *s = mkserver();
    zenith_udp_config u;
    zenith_udp_id tx;
    zenith_addr g;
    rx_t a, b;
    char grp[32];
    uint16_t port;
    uint32_t dups = 0, before;
    group_of(grp, sizeof grp, tag);
    rx_init(&a, s);
    rx_init(&b, s);
    u = ucfg("0.0.0.0", 0, flag, rx_recv, &a);
    a.id = open_ok(s, &u);
    port = zenith_udp_port(s, a.id);
    u = ucfg("0.0.0.0", port, flag, rx_recv, &b);
    b.id = open_ok(s, &u);
    cr_assert_eq(zenith_udp_port(s, b.id), port);
    cr_assert_eq(zenith_udp_join(s, a.id, grp, NULL, "lo"), 0);
    cr_assert_eq(zenith_udp_join(s, b.id, grp, NULL, "lo"), 0, "the same group on a second socket");
    g = addr_of(grp, port);
    tx = mc_sender(s, "127.0.0.1");
    send_mcast(s, tx, 0, &g, 0, 1000);
    RUN_UNTIL(s, a.mcast >= 1000 && b.mcast >= 1000, 5.0);
    spin(s, 50);
    cr_assert_eq(count_seen(&a, 0, 0, 1000, &dups), 1000u, "first subscriber: %u of 1000", a.mcast);
    cr_assert_eq(count_seen(&b, 0, 0, 1000, &dups), 1000u, "second subscriber: %u of 1000", b.mcast);
    cr_assert_eq(dups, 0u);
    cr_assert_eq(a.mcast, 1000u);
    cr_assert_eq(b.mcast, 1000u);
    /* one leaves: the other still gets everything, and the one that left nothing (Zenith turns
       Linux's IP_MULTICAST_ALL off: a socket gets only the groups it joined) */
    cr_assert_eq(zenith_udp_leave(s, a.id, grp, NULL, "lo"), 0);
    before = a.mcast;
    send_mcast(s, tx, 0, &g, 2000, 100);
    RUN_UNTIL(s, b.mcast >= 1100, 5.0);
    spin(s, 50);
    cr_assert_eq(count_seen(&b, 0, 2000, 100, NULL), 100u);
    cr_assert_eq(a.mcast - before, 0u, "after its leave, with the other still joined, a subscriber got %u of 100",
                 a.mcast - before);
    /* the other closes: its membership ends with it, and no member is left: nothing */
    cr_assert_eq(zenith_udp_close(s, b.id), 0);
    spin(s, 20);
    before = a.mcast;
    send_mcast(s, tx, 0, &g, 3000, 100);
    barrier(s, tx, &a, port, 1); /* unicast to the port: a is the only socket on it now */
    cr_assert_eq(a.mcast, before, "%u delivered with no member left (the closed socket's membership lives on)",
                 a.mcast - before);
    /* joined again: everything */
    cr_assert_eq(zenith_udp_join(s, a.id, grp, NULL, "lo"), 0);
    send_mcast(s, tx, 0, &g, 3500, 100);
    RUN_UNTIL(s, count_seen(&a, 0, 3500, 100, NULL) == 100, 5.0);
    cr_assert_eq(count_seen(&a, 0, 3500, 100, NULL), 100u);
    zenith_server_destroy(s);
}

Test(multicast, two_subscribers_reuseaddr_both_receive_everything, .timeout = 30) {
    two_subscribers(ZENITH_UDP_REUSEADDR, 4);
}

Test(multicast, two_subscribers_reuseport_both_receive_everything, .timeout = 30) {
    two_subscribers(ZENITH_UDP_REUSEPORT, 5);
}

/* ---- 4. codes ------------------------------------------------------------------------------------ */

Test(multicast, join_and_leave_codes_change_nothing, .timeout = 30) {
    zenith_server *s = mkserver();
    zenith_udp_config u;
    zenith_udp_id tx, v6, gone;
    zenith_addr g;
    rx_t r;
    char grp[32], other[32];
    uint16_t port;
    int rc;
    unsigned i;
    group_of(grp, sizeof grp, 6);
    group_of(other, sizeof other, 7);
    rx_init(&r, s);
    u = ucfg("0.0.0.0", 0, 0, rx_recv, &r);
    r.id = open_ok(s, &u);
    port = zenith_udp_port(s, r.id);
    {
        struct {
            const char *group, *source, *ifname;
            int want;
            const char *what;
        } bad[] = {
            { "10.0.0.1", NULL, "lo", ZENITH_E_INVAL, "a unicast group" },
            { "127.0.0.1", NULL, "lo", ZENITH_E_INVAL, "a loopback group" },
            { "255.255.255.255", NULL, "lo", ZENITH_E_INVAL, "a broadcast group" },
            { "0.0.0.0", NULL, "lo", ZENITH_E_INVAL, "any as a group" },
            { "not-an-address", NULL, "lo", ZENITH_E_INVAL, "not a literal" },
            { "", NULL, "lo", ZENITH_E_INVAL, "empty" },
            { "ff02::1", NULL, "lo", ZENITH_E_INVAL, "an IPv6 group on an IPv4 socket" },
            { grp, "239.1.1.1", "lo", ZENITH_E_INVAL, "a multicast source" },
            { grp, "::1", "lo", ZENITH_E_INVAL, "an IPv6 source on an IPv4 socket" },
            { grp, "bogus", "lo", ZENITH_E_INVAL, "a source that is not a literal" },
            { grp, NULL, "nosuchif0", ZENITH_E_NOT_FOUND, "an unknown interface" },
            { grp, "127.0.0.1", "nosuchif0", ZENITH_E_NOT_FOUND, "an unknown interface, source-specific" },
            { grp, NULL, "", ZENITH_E_NOT_FOUND, "an empty interface name" },
            { grp, NULL, "an-interface-name-longer-than-ifnamsiz", ZENITH_E_NOT_FOUND, "a name over IFNAMSIZ" },
        };
        for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            rc = zenith_udp_join(s, r.id, bad[i].group, bad[i].source, bad[i].ifname);
            cr_assert_eq(rc, bad[i].want, "join, %s: %d %s, documented %s", bad[i].what, rc, zenith_errname(rc),
                         zenith_errname(bad[i].want));
            rc = zenith_udp_leave(s, r.id, bad[i].group, bad[i].source, bad[i].ifname);
            cr_assert_eq(rc, bad[i].want, "leave, %s: %d %s, documented %s", bad[i].what, rc, zenith_errname(rc),
                         zenith_errname(bad[i].want));
        }
    }
    cr_assert_eq(zenith_udp_join(NULL, r.id, grp, NULL, "lo"), ZENITH_E_NULL);
    cr_assert_eq(zenith_udp_join(s, r.id, NULL, NULL, "lo"), ZENITH_E_NULL);
    cr_assert_eq(zenith_udp_leave(NULL, r.id, grp, NULL, "lo"), ZENITH_E_NULL);
    cr_assert_eq(zenith_udp_leave(s, r.id, NULL, NULL, "lo"), ZENITH_E_NULL);
    /* none of them joined anything: a leave finds nothing, and nothing is delivered */
    cr_assert_eq(zenith_udp_leave(s, r.id, grp, NULL, "lo"), ZENITH_E_NOT_FOUND, "a leave of a non-member");
    tx = mc_sender(s, "127.0.0.1");
    g = addr_of(grp, port);
    send_mcast(s, tx, 0, &g, 0, 10);
    barrier(s, tx, &r, port, 1);
    cr_assert_eq(r.mcast, 0u, "a refused join joined");
    /* the real join; a second one of the same is EXIST and leaves it as it was */
    cr_assert_eq(zenith_udp_join(s, r.id, grp, NULL, "lo"), 0);
    rc = zenith_udp_join(s, r.id, grp, NULL, "lo");
    cr_assert_eq(rc, ZENITH_E_EXIST, "a second join of the same group: %d %s", rc, zenith_errname(rc));
    cr_assert_eq(zenith_udp_join(s, r.id, grp, "127.0.0.1", "lo"), ZENITH_E_EXIST, "a source-specific join over it");
    cr_assert_eq(zenith_udp_leave(s, r.id, other, NULL, "lo"), ZENITH_E_NOT_FOUND, "another group");
    cr_assert_eq(zenith_udp_leave(s, r.id, grp, "127.0.0.1", "lo"), ZENITH_E_NOT_FOUND, "a source never joined");
    cr_assert_eq(zenith_udp_leave(s, r.id, grp, NULL, "nosuchif0"), ZENITH_E_NOT_FOUND);
    send_mcast(s, tx, 0, &g, 100, 10);
    barrier(s, tx, &r, port, 2);
    RUN_UNTIL(s, r.mcast >= 10, 2.0);
    cr_assert_eq(count_seen(&r, 0, 100, 10, NULL), 10u, "the membership survives the refused calls");
    cr_assert_eq(zenith_udp_leave(s, r.id, grp, NULL, "lo"), 0);
    cr_assert_eq(zenith_udp_leave(s, r.id, grp, NULL, "lo"), ZENITH_E_NOT_FOUND, "a second leave");
    /* the sender's options */
    {
        struct {
            const char *ifname;
            int ttl, loop, want, alt; /* alt: both arguments wrong, either code */
        } o[] = {
            { "lo", 300, 1, ZENITH_E_INVAL, 0 },
            { "lo", 256, 1, ZENITH_E_INVAL, 0 },
            { "lo", -2, 1, ZENITH_E_INVAL, 0 },
            { "lo", 1, 2, ZENITH_E_INVAL, 0 },
            { "lo", 1, -2, ZENITH_E_INVAL, 0 },
            { "nosuchif0", 1, 1, ZENITH_E_NOT_FOUND, 0 },
            { "nosuchif0", 300, 1, ZENITH_E_INVAL, ZENITH_E_NOT_FOUND },
        };
        for (i = 0; i < sizeof o / sizeof o[0]; i++) {
            rc = zenith_udp_multicast_send_opts(s, tx, o[i].ifname, o[i].ttl, o[i].loop);
            cr_assert(rc == o[i].want || (o[i].alt && rc == o[i].alt), "%s ttl %d loop %d: %d %s, documented %s",
                      o[i].ifname, o[i].ttl, o[i].loop, rc, zenith_errname(rc), zenith_errname(o[i].want));
        }
        /* refused, so nothing was set: the sender still sends out of lo (its datagrams arrive) */
        cr_assert_eq(zenith_udp_join(s, r.id, grp, NULL, "lo"), 0);
        send_mcast(s, tx, 0, &g, 200, 10);
        barrier(s, tx, &r, port, 3);
        RUN_UNTIL(s, count_seen(&r, 0, 200, 10, NULL) == 10, 2.0);
        cr_assert_eq(count_seen(&r, 0, 200, 10, NULL), 10u, "after refused sender options");
        cr_assert_eq(zenith_udp_leave(s, r.id, grp, NULL, "lo"), 0);
        cr_assert_eq(zenith_udp_multicast_send_opts(s, tx, NULL, -1, -1), 0, "leave everything as it is");
        cr_assert_eq(zenith_udp_multicast_send_opts(s, tx, NULL, 0, -1), 0, "TTL 0");
        cr_assert_eq(zenith_udp_multicast_send_opts(s, tx, NULL, 255, 0), 0, "TTL 255, loop off");
        cr_assert_eq(zenith_udp_multicast_send_opts(s, tx, "lo", 1, 1), 0);
        cr_assert_eq(zenith_udp_multicast_send_opts(NULL, tx, "lo", 1, 1), ZENITH_E_NULL);
    }
    /* a closed socket */
    u = ucfg("0.0.0.0", 0, 0, NULL, NULL);
    gone = open_ok(s, &u);
    cr_assert_eq(zenith_udp_close(s, gone), 0);
    cr_assert_eq(zenith_udp_join(s, gone, grp, NULL, "lo"), ZENITH_E_STALE);
    cr_assert_eq(zenith_udp_leave(s, gone, grp, NULL, "lo"), ZENITH_E_STALE);
    cr_assert_eq(zenith_udp_multicast_send_opts(s, gone, "lo", 1, 1), ZENITH_E_STALE);
    /* an IPv6 socket: IPv4 groups and sources are of the wrong family */
    u = ucfg("::", 0, 0, NULL, NULL);
    v6 = open_ok(s, &u);
    cr_assert_eq(zenith_udp_join(s, v6, grp, NULL, "lo"), ZENITH_E_INVAL, "an IPv4 group on an IPv6 socket");
    cr_assert_eq(zenith_udp_join(s, v6, "ff12::1234", "127.0.0.1", "lo"), ZENITH_E_INVAL, "an IPv4 source");
    cr_assert_eq(zenith_udp_join(s, v6, "fd00::1", NULL, "lo"), ZENITH_E_INVAL, "a unicast IPv6 group");
    cr_assert_eq(zenith_udp_join(s, v6, "ff12::1234", "ff12::1", "lo"), ZENITH_E_INVAL, "a multicast source");
    cr_assert_eq(zenith_udp_join(s, v6, "ff12::1234", NULL, "nosuchif0"), ZENITH_E_NOT_FOUND);
    cr_assert_eq(zenith_udp_multicast_send_opts(s, v6, "lo", 256, 1), ZENITH_E_INVAL);
    zenith_server_destroy(s);
}

Test(multicast, twenty_memberships_then_full, .timeout = 30) {
    zenith_server *s = mkserver();
    zenith_udp_config u = ucfg("0.0.0.0", 0, 0, NULL, NULL);
    zenith_udp_id id = open_ok(s, &u), id2;
    char grp[32];
    unsigned p = (unsigned)getpid(), i;
    int rc;
    for (i = 0; i < 20; i++) {
        snprintf(grp, sizeof grp, "239.%u.%u.%u", 200u + i, (p >> 8) & 0xffu, p & 0xffu);
        rc = zenith_udp_join(s, id, grp, NULL, "lo");
        cr_assert_eq(rc, 0, "membership %u (%s): %d %s", i + 1, grp, rc, zenith_errname(rc));
    }
    snprintf(grp, sizeof grp, "239.%u.%u.%u", 220u, (p >> 8) & 0xffu, p & 0xffu);
    rc = zenith_udp_join(s, id, grp, NULL, "lo");
    cr_assert_eq(rc, ZENITH_E_FULL, "the 21st membership: %d %s", rc, zenith_errname(rc));
    /* another socket has memberships of its own */
    id2 = open_ok(s, &u);
    cr_assert_eq(zenith_udp_join(s, id2, grp, NULL, "lo"), 0);
    /* a leave makes room */
    snprintf(grp, sizeof grp, "239.%u.%u.%u", 205u, (p >> 8) & 0xffu, p & 0xffu);
    cr_assert_eq(zenith_udp_leave(s, id, grp, NULL, "lo"), 0);
    snprintf(grp, sizeof grp, "239.%u.%u.%u", 220u, (p >> 8) & 0xffu, p & 0xffu);
    cr_assert_eq(zenith_udp_join(s, id, grp, NULL, "lo"), 0, "after a leave");
    snprintf(grp, sizeof grp, "239.%u.%u.%u", 221u, (p >> 8) & 0xffu, p & 0xffu);
    cr_assert_eq(zenith_udp_join(s, id, grp, NULL, "lo"), ZENITH_E_FULL);
    /* close ends them all: a new socket in the same slot starts with none */
    cr_assert_eq(zenith_udp_close(s, id), 0);
    spin(s, 20);
    id = open_ok(s, &u);
    for (i = 0; i < 20; i++) {
        snprintf(grp, sizeof grp, "239.%u.%u.%u", 200u + i, (p >> 8) & 0xffu, p & 0xffu);
        cr_assert_eq(zenith_udp_join(s, id, grp, NULL, "lo"), 0, "membership %u of a new socket", i + 1);
    }
    zenith_server_destroy(s);
}

/* ---- 5. IPv6 on lo ------------------------------------------------------------------------------- */

Test(multicast, ipv6_on_loopback_where_the_kernel_allows, .timeout = 30) {
    zenith_server *s = mkserver();
    zenith_udp_config u;
    zenith_udp_id tx;
    zenith_udp_info inf;
    zenith_addr g;
    rx_t r;
    char grp[48];
    uint16_t port;
    int rc;
    snprintf(grp, sizeof grp, "ff12::7a:%x", (unsigned)getpid() & 0xffffu);
    rx_init(&r, s);
    u = ucfg("::", 0, 0, rx_recv, &r);
    r.id = open_ok(s, &u);
    port = zenith_udp_port(s, r.id);
    rc = zenith_udp_join(s, r.id, grp, NULL, "lo");
    if (rc != 0) {
        cr_assert(ZENITH_IS_ESYS(rc), "IPv6 join on lo: %d %s (only the kernel may refuse it)", rc, zenith_errname(rc));
        cr_log_info("IPv6 multicast on lo: the kernel refuses the join (%s); that part is skipped", zenith_errname(rc));
        zenith_server_destroy(s);
        return;
    }
    cr_assert_eq(zenith_udp_join(s, r.id, grp, NULL, "lo"), ZENITH_E_EXIST);
    u = ucfg("::1", 0, 0, NULL, NULL);
    tx = open_ok(s, &u);
    rc = zenith_udp_multicast_send_opts(s, tx, "lo", 1, 1);
    if (rc != 0) {
        cr_assert(ZENITH_IS_ESYS(rc), "IPv6 sender options on lo: %d %s", rc, zenith_errname(rc));
        cr_log_info("IPv6 multicast on lo: the kernel refuses the sender options (%s); that part is skipped",
                    zenith_errname(rc));
        zenith_server_destroy(s);
        return;
    }
    g = addr_of(grp, port);
    send_mcast(s, tx, 0, &g, 0, 100);
    RUN_UNTIL(s, r.mcast >= 100 || info_of_udp(s, tx).send_errors > 0, 5.0);
    inf = info_of_udp(s, tx);
    if (inf.send_errors > 0) {
        cr_assert(ZENITH_IS_ESYS(inf.last_error), "last_error %d %s", inf.last_error, zenith_errname(inf.last_error));
        cr_assert_eq(r.mcast, 0u);
        cr_log_info("IPv6 multicast on lo: the kernel refuses to send to %s (%s: lo has no multicast route "
                    "here); the delivery part is skipped (the namespace feed test covers IPv6)",
                    grp, zenith_errname(inf.last_error));
    } else {
        cr_assert_eq(count_seen(&r, 0, 0, 100, NULL), 100u, "IPv6 multicast on lo: %u of 100", r.mcast);
        cr_assert_eq(r.mfrom[0].len, sizeof(struct sockaddr_in6));
    }
    cr_assert_eq(zenith_udp_leave(s, r.id, grp, NULL, "lo"), 0);
    cr_assert_eq(zenith_udp_leave(s, r.id, grp, NULL, "lo"), ZENITH_E_NOT_FOUND);
    zenith_server_destroy(s);
}

/* ---- 6. the feed between two network namespaces ------------------------------------------------- */

/* Runs argv (a NULL-terminated list) and waits up to secs; returns its exit status, or -1 if it
   could not run or was killed (then it is killed, by its pid). Output goes to /dev/null unless
   `out` (then its stdout and stderr fill out, cap bytes). */
static int run_cmd(char *const argv[], double secs, char *out, size_t cap) {
    int p[2] = { -1, -1 }, status = 0, devnull;
    size_t len = 0;
    pid_t pid, w;
    double end = now_s() + secs;
    if (out) {
        if (pipe2(p, O_CLOEXEC) != 0) return -1;
        out[0] = 0;
    }
    pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        devnull = open("/dev/null", O_RDWR);
        if (out) {
            dup2(p[1], 1);
            dup2(p[1], 2);
        } else if (devnull >= 0) {
            dup2(devnull, 1);
            dup2(devnull, 2);
        }
        if (devnull >= 0) dup2(devnull, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        execvp(argv[0], argv);
        _exit(127);
    }
    if (out) {
        close(p[1]);
        fcntl(p[0], F_SETFL, O_NONBLOCK);
    }
    for (;;) {
        if (out) {
            ssize_t n;
            while (len + 1 < cap && (n = read(p[0], out + len, cap - 1 - len)) > 0) len += (size_t)n;
            out[len] = 0;
        }
        w = waitpid(pid, &status, WNOHANG);
        if (w == pid) break;
        if (now_s() > end) {
            kill(pid, SIGKILL); /* our child, by its pid */
            waitpid(pid, &status, 0);
            if (out) close(p[0]);
            return -1;
        }
        usleep(2000);
    }
    if (out) {
        ssize_t n;
        while (len + 1 < cap && (n = read(p[0], out + len, cap - 1 - len)) > 0) len += (size_t)n;
        out[len] = 0;
        close(p[0]);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* "ip" with the words of a printf-formatted line; its exit status (-1: did not run). */
static int ip_cmd(char *out, size_t cap, const char *fmt, ...) {
    char line[512], *argv[32], *save = NULL, *w;
    int n = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    argv[n++] = (char *)"ip";
    for (w = strtok_r(line, " ", &save); w && n < 31; w = strtok_r(NULL, " ", &save)) argv[n++] = w;
    argv[n] = NULL;
    return run_cmd(argv, 10.0, out, cap);
}

/* The namespaces of one test: names with our pid, and a janitor process that deletes them when
   this process ends, however it ends (it waits for EOF on a pipe only we hold). */
typedef struct {
    char a[32], b[32], va[16], vb[16];
    int janitor_fd;
    pid_t janitor;
} netns_t;

static void janitor_main(int rd, const netns_t *n) {
    char c;
    char *del_a[] = { (char *)"ip", (char *)"netns", (char *)"del", (char *)n->a, NULL };
    char *del_b[] = { (char *)"ip", (char *)"netns", (char *)"del", (char *)n->b, NULL };
    char *del_v[] = { (char *)"ip", (char *)"link", (char *)"del", (char *)n->va, NULL };
    int i;
    for (i = 0; i < 1024; i++)
        if (i != rd) close(i);
    setsid(); /* not in the test's process group: a signal to it does not reach us */
    while (read(rd, &c, 1) != 0) {
    }
    /* the test process is gone or done: clean up (each may not exist) */
    {
        pid_t p;
        char **cmds[3] = { del_v, del_a, del_b };
        for (i = 0; i < 3; i++) {
            p = fork();
            if (p == 0) {
                int dn = open("/dev/null", O_RDWR);
                if (dn >= 0) {
                    dup2(dn, 0);
                    dup2(dn, 1);
                    dup2(dn, 2);
                }
                execvp("ip", cmds[i]);
                _exit(127);
            }
            if (p > 0) waitpid(p, NULL, 0);
        }
    }
    _exit(0);
}

/* Makes namespaces a and b with a veth pair va (in a, 10.77.0.1/24, fd77::1/64) -- vb (in b,
   .2, ::2), all up. Skips the test (one line) where that cannot be done. */
static void netns_up(netns_t *n) {
    char out[1024];
    int p[2], rc;
    unsigned pid = (unsigned)getpid();
    memset(n, 0, sizeof *n);
    snprintf(n->a, sizeof n->a, "zenith-mcA-%u", pid);
    snprintf(n->b, sizeof n->b, "zenith-mcB-%u", pid);
    snprintf(n->va, sizeof n->va, "zmcA%u", pid);
    snprintf(n->vb, sizeof n->vb, "zmcB%u", pid);
    n->janitor_fd = -1;
    if (geteuid() != 0) cr_skip("feed between network namespaces: needs root (ip netns add)");
    if (access(FEED, X_OK) != 0) cr_skip("%s is not built (make %s)", FEED, FEED);
    if (ip_cmd(NULL, 0, "-V") != 0) cr_skip("feed between network namespaces: no iproute2 (Debian: iproute2)");
    cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
    n->janitor = fork();
    cr_assert_geq(n->janitor, 0);
    if (n->janitor == 0) janitor_main(p[0], n);
    close(p[0]);
    n->janitor_fd = p[1];
    rc = ip_cmd(out, sizeof out, "netns add %s", n->a);
    if (rc != 0) cr_skip("cannot create a network namespace here (ip netns add: %.200s)", out);
    cr_assert_eq(ip_cmd(out, sizeof out, "netns add %s", n->b), 0, "ip netns add %s: %s", n->b, out);
    rc = ip_cmd(out, sizeof out, "link add %s type veth peer name %s", n->va, n->vb);
    if (rc != 0) cr_skip("cannot create a veth pair here (ip link add type veth: %.200s)", out);
    cr_assert_eq(ip_cmd(out, sizeof out, "link set %s netns %s", n->va, n->a), 0, "%s", out);
    cr_assert_eq(ip_cmd(out, sizeof out, "link set %s netns %s", n->vb, n->b), 0, "%s", out);
    cr_assert_eq(ip_cmd(out, sizeof out, "-n %s addr add 10.77.0.1/24 dev %s", n->a, n->va), 0, "%s", out);
    cr_assert_eq(ip_cmd(out, sizeof out, "-n %s addr add 10.77.0.2/24 dev %s", n->b, n->vb), 0, "%s", out);
    cr_assert_eq(ip_cmd(out, sizeof out, "-n %s addr add fd77::1/64 dev %s nodad", n->a, n->va), 0, "%s", out);
    cr_assert_eq(ip_cmd(out, sizeof out, "-n %s addr add fd77::2/64 dev %s nodad", n->b, n->vb), 0, "%s", out);
    cr_assert_eq(ip_cmd(out, sizeof out, "-n %s link set lo up", n->a), 0, "%s", out);
    cr_assert_eq(ip_cmd(out, sizeof out, "-n %s link set lo up", n->b), 0, "%s", out);
    cr_assert_eq(ip_cmd(out, sizeof out, "-n %s link set %s up", n->a, n->va), 0, "%s", out);
    cr_assert_eq(ip_cmd(out, sizeof out, "-n %s link set %s up", n->b, n->vb), 0, "%s", out);
}

/* Ends the janitor's wait: it deletes the namespaces (the veth pair goes with them). */
static void netns_down(netns_t *n) {
    double end = now_s() + 15.0;
    pid_t w;
    char path[64];
    if (n->janitor_fd < 0) return;
    close(n->janitor_fd);
    n->janitor_fd = -1;
    while ((w = waitpid(n->janitor, NULL, WNOHANG)) == 0 && now_s() < end) usleep(10000);
    cr_assert_eq(w, n->janitor, "the namespace janitor did not finish");
    snprintf(path, sizeof path, "/run/netns/%s", n->a);
    cr_assert_neq(access(path, F_OK), 0, "namespace %s left behind", n->a);
    snprintf(path, sizeof path, "/run/netns/%s", n->b);
    cr_assert_neq(access(path, F_OK), 0, "namespace %s left behind", n->b);
}

/* A feed process in namespace ns: stdout (and stderr) to a pipe we read. */
typedef struct {
    pid_t pid;
    int fd;
    char out[16384];
    size_t len;
    int status, done;
} proc_t;

static void proc_start(proc_t *p, const char *ns, char *const feed_args[]) {
    char *argv[40];
    int fds[2], n = 0, i;
    memset(p, 0, sizeof *p);
    argv[n++] = (char *)"ip";
    argv[n++] = (char *)"netns";
    argv[n++] = (char *)"exec";
    argv[n++] = (char *)ns;
    argv[n++] = (char *)FEED;
    for (i = 0; feed_args[i] && n < 39; i++) argv[n++] = feed_args[i];
    argv[n] = NULL;
    cr_assert_eq(pipe2(fds, O_CLOEXEC), 0);
    fflush(stdout);
    fflush(stderr);
    p->pid = fork();
    cr_assert_geq(p->pid, 0);
    if (p->pid == 0) {
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* `ip netns exec` execs feed: same pid, same signal */
        execvp("ip", argv);
        _exit(127);
    }
    close(fds[1]);
    p->fd = fds[0];
    fcntl(p->fd, F_SETFL, O_NONBLOCK);
}

/* Reads what it wrote and reaps it if it ended. */
static void proc_poll(proc_t *p) {
    ssize_t n;
    int st;
    while (p->len + 1 < sizeof p->out && (n = read(p->fd, p->out + p->len, sizeof p->out - 1 - p->len)) > 0)
        p->len += (size_t)n;
    p->out[p->len] = 0;
    if (!p->done && waitpid(p->pid, &st, WNOHANG) == p->pid) {
        p->done = 1;
        p->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
        while (p->len + 1 < sizeof p->out && (n = read(p->fd, p->out + p->len, sizeof p->out - 1 - p->len)) > 0)
            p->len += (size_t)n;
        p->out[p->len] = 0;
    }
}

/* Waits up to secs for `text` in its output (NULL: for its end). 1 if it came. */
static int proc_wait(proc_t *p, const char *text, double secs) {
    double end = now_s() + secs;
    for (;;) {
        proc_poll(p);
        if (text ? strstr(p->out, text) != NULL : p->done) return 1;
        if ((text && p->done) || now_s() > end) return 0;
        usleep(5000);
    }
}

static void proc_kill(proc_t *p) {
    if (p->pid > 0 && !p->done) {
        kill(p->pid, SIGKILL); /* ours, by its pid */
        waitpid(p->pid, NULL, 0);
        p->done = 1;
    }
    if (p->fd >= 0) close(p->fd);
    p->fd = -1;
}

/* The value of key=N in the line starting with "summary " (asserts it is there). */
static unsigned long long summary_value(const char *out, const char *key) {
    const char *line = strstr(out, "summary "), *k;
    char pat[64];
    cr_assert_not_null(line, "no summary line in:\n%s", out);
    snprintf(pat, sizeof pat, " %s=", key);
    k = strstr(line, pat);
    cr_assert_not_null(k, "no %s= in the summary: %s", key, line);
    return strtoull(k + strlen(pat), NULL, 10);
}

/* feed pub in a, `nsubs` feed subs in b (extra args each), COUNT datagrams; every sub must get
   everything, whole. */
static void feed_between_namespaces(const char *group, char *const sub_extra[][4], int nsubs) {
    netns_t n;
    proc_t subs[2], pub;
    char count[] = "5000", rate[] = "20000", size[] = "200", port[] = "5001";
    int i;
    netns_up(&n);
    for (i = 0; i < nsubs; i++) {
        char *args[16];
        int k = 0, j;
        args[k++] = (char *)"sub";
        args[k++] = (char *)"-i";
        args[k++] = n.vb;
        args[k++] = (char *)"-g";
        args[k++] = (char *)group;
        args[k++] = (char *)"-p";
        args[k++] = port;
        args[k++] = (char *)"-q";
        args[k++] = (char *)"-d";
        args[k++] = (char *)"20";
        for (j = 0; sub_extra[i][j]; j++) args[k++] = sub_extra[i][j];
        args[k] = NULL;
        proc_start(&subs[i], n.b, args);
        cr_assert(proc_wait(&subs[i], "listening on", 10.0), "feed sub %d did not start listening:\n%s", i,
                  subs[i].out);
    }
    {
        char *args[] = { (char *)"pub", (char *)"-i", n.va,         (char *)"-g", (char *)group, (char *)"-p", port,
                         (char *)"-n",  count,        (char *)"-r", rate,         (char *)"-s",  size,         NULL };
        proc_start(&pub, n.a, args);
        cr_assert(proc_wait(&pub, NULL, 20.0), "feed pub did not end:\n%s", pub.out);
        cr_assert_eq(pub.status, 0, "feed pub exited with %d:\n%s", pub.status, pub.out);
        cr_assert_eq(summary_value(pub.out, "sent"), 5000u, "pub: %s", pub.out);
        cr_assert_eq(summary_value(pub.out, "send_errors"), 0u, "pub: %s", pub.out);
    }
    for (i = 0; i < nsubs; i++) {
        cr_assert(proc_wait(&subs[i], NULL, 15.0), "feed sub %d did not end after the feed:\n%s", i, subs[i].out);
        cr_assert_eq(subs[i].status, 0, "feed sub %d exited with %d:\n%s", i, subs[i].status, subs[i].out);
        cr_assert_eq(summary_value(subs[i].out, "end"), 1u, "sub %d saw no END:\n%s", i, subs[i].out);
        cr_assert_eq(summary_value(subs[i].out, "expected"), 5000u, "sub %d:\n%s", i, subs[i].out);
        cr_assert_eq(summary_value(subs[i].out, "received"), 5000u, "sub %d:\n%s", i, subs[i].out);
        cr_assert_eq(summary_value(subs[i].out, "lost"), 0u, "sub %d:\n%s", i, subs[i].out);
        cr_assert_eq(summary_value(subs[i].out, "corrupt"), 0u, "sub %d:\n%s", i, subs[i].out);
        cr_assert_eq(summary_value(subs[i].out, "dup"), 0u, "sub %d:\n%s", i, subs[i].out);
        cr_assert_eq(summary_value(subs[i].out, "kernel_drops"), 0u, "sub %d:\n%s", i, subs[i].out);
        cr_log_info("feed %s sub %d: %s", group, i, strstr(subs[i].out, "summary "));
        proc_kill(&subs[i]);
    }
    proc_kill(&pub);
    netns_down(&n);
}

Test(multicast, feed_between_two_namespaces_ipv4_any_source_and_source_specific, .timeout = 90) {
    char *const extra[2][4] = { { NULL }, { (char *)"-S", (char *)"10.77.0.1", NULL } };
    feed_between_namespaces("239.77.0.1", extra, 2);
}

Test(multicast, feed_between_two_namespaces_ipv6, .timeout = 90) {
    char *const extra[1][4] = { { NULL } };
    feed_between_namespaces("ff15::77", extra, 1);
}
