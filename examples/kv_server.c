/* kv_server.c -- a line-protocol key-value server: per-connection state and send backpressure.

   Shows what the echo cannot: each connection keeps a partial line across receives (TCP has no
   message boundaries), replies depend on shared state, and a large reply (DUMP) is streamed
   under backpressure: zenith_server_send returns ZENITH_E_FULL when the connection's queue is
   full, and the rest is sent from the drain callback once the peer has read enough.

   Protocol, one command per line:
     SET key value   -> OK            GET key -> VALUE value | NOTFOUND
     DEL key         -> OK | NOTFOUND  DUMP n  -> n lines "line i", then END
     QUIT            -> BYE, then the server closes the connection
   Needs: Linux 6.0+, liburing >= 2.3.
   Build: cc -O2 examples/kv_server.c -I. -luring -pthread -o kv_server
   Run:   ./kv_server -p 7070      then (bash, no netcat needed; six reply lines):
          bash -c 'exec 3<>/dev/tcp/127.0.0.1/7070; printf "SET a 1\nGET a\nDUMP 3\n" >&3; head -n6 <&3'
   Flags: -a ADDR (127.0.0.1)  -p PORT (7070; 0 = any)  --backend io_uring|epoll|auto (auto:
          io_uring where the kernel allows it, else epoll; the ZENITH_BACKEND environment
          variable decides first)  -h, --help
   Prints "listening on ADDR:PORT", then "backend NAME: why" (zenith_backend_info); stops
   cleanly on SIGINT/SIGTERM. */
#define ZENITH_IMPLEMENTATION
#include "zenith.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_CONNS 1024
#define KV_LINE_MAX 512
#define TABLE 4096 /* fixed-size open-addressing table: no allocation per request */
#define KEY_MAX 64
#define VAL_MAX 256

typedef struct { /* per-connection state, found through the connection's user pointer */
    char line[KV_LINE_MAX];
    size_t len;
    long dump_next, dump_end; /* a DUMP in progress: lines [dump_next, dump_end) still to send */
    int in_use;
} session;

typedef struct {
    char key[KEY_MAX];
    char val[VAL_MAX];
    int used;
} entry;

static zenith_server *server;
static session sessions[MAX_CONNS];
static entry table[TABLE];

static void on_signal(int sig) {
    (void)sig;
    zenith_server_stop(server); /* async-signal-safe */
}

static unsigned long hash(const char *s) {
    unsigned long h = 5381;
    while (*s) h = h * 33u + (unsigned char)*s++;
    return h;
}

static entry *find(const char *key, int create) {
    unsigned long i, h = hash(key);
    for (i = 0; i < TABLE; i++) {
        entry *e = &table[(h + i) % TABLE];
        if (!e->used) {
            if (!create) return NULL;
            e->used = 1;
            snprintf(e->key, sizeof e->key, "%s", key);
            e->val[0] = 0;
            return e;
        }
        if (strcmp(e->key, key) == 0) return e;
    }
    return NULL; /* full */
}

static void reply(zenith_conn_id conn, const char *text) {
    if (zenith_server_send(server, conn, text, strlen(text)) < 0) /* a short reply that does not fit: */
        zenith_server_close(server, conn, ZENITH_CLOSE_ABORT);    /* the peer stopped reading long ago */
}

/* Sends DUMP lines until done or the queue is full; on_drain calls it again. */
static void pump_dump(zenith_conn_id conn, session *ss) {
    char buf[64];
    while (ss->dump_next < ss->dump_end) {
        int n = snprintf(buf, sizeof buf, "line %ld\n", ss->dump_next);
        int rc = zenith_server_send(server, conn, buf, (size_t)n);
        if (rc == ZENITH_E_FULL) return; /* backpressure: resume from on_drain */
        if (rc < 0) return;
        ss->dump_next++;
    }
    if (ss->dump_end) {
        ss->dump_end = ss->dump_next = 0;
        reply(conn, "END\n");
    }
}

static void command(zenith_conn_id conn, session *ss, char *line) {
    char *cmd = strtok(line, " "), *key = strtok(NULL, " "), *rest = strtok(NULL, "");
    entry *e;
    char out[VAL_MAX + 16];
    if (cmd == NULL) return;
    if (strcmp(cmd, "SET") == 0 && key && rest && strlen(key) < KEY_MAX && strlen(rest) < VAL_MAX) {
        if ((e = find(key, 1)) == NULL) {
            reply(conn, "FULL\n");
            return;
        }
        snprintf(e->val, sizeof e->val, "%s", rest);
        reply(conn, "OK\n");
    } else if (strcmp(cmd, "GET") == 0 && key) {
        e = find(key, 0);
        if (e == NULL || !e->val[0]) {
            reply(conn, "NOTFOUND\n");
            return;
        }
        snprintf(out, sizeof out, "VALUE %s\n", e->val);
        reply(conn, out);
    } else if (strcmp(cmd, "DEL") == 0 && key) {
        e = find(key, 0);
        if (e == NULL || !e->val[0]) {
            reply(conn, "NOTFOUND\n");
            return;
        }
        e->val[0] = 0; /* tombstone: keeps later probes of the same chain working */
        reply(conn, "OK\n");
    } else if (strcmp(cmd, "DUMP") == 0 && key) {
        ss->dump_next = 0;
        ss->dump_end = strtol(key, NULL, 10);
        pump_dump(conn, ss);
    } else if (strcmp(cmd, "QUIT") == 0) {
        reply(conn, "BYE\n");
        zenith_server_close(server, conn, ZENITH_CLOSE_FLUSH); /* after BYE is sent */
    } else {
        reply(conn, "ERROR\n");
    }
}

static void on_accept(void *user, zenith_conn_id conn) {
    int i;
    (void)user;
    for (i = 0; i < MAX_CONNS && sessions[i].in_use; i++)
        ;
    if (i == MAX_CONNS) { /* max_connections keeps us from getting here */
        zenith_server_close(server, conn, ZENITH_CLOSE_ABORT);
        return;
    }
    memset(&sessions[i], 0, sizeof sessions[i]);
    sessions[i].in_use = 1;
    zenith_server_set_conn_user(server, conn, &sessions[i]);
}

static void on_data(void *user, zenith_conn_id conn, const uint8_t *data, size_t len) {
    session *ss = (session *)zenith_server_get_conn_user(server, conn);
    size_t i;
    (void)user;
    if (ss == NULL) return;
    for (i = 0; i < len; i++) { /* lines may be split across receives, or several in one */
        char c = (char)data[i];
        if (c == '\r') continue;
        if (c != '\n') {
            if (ss->len + 1 < KV_LINE_MAX) ss->line[ss->len++] = c;
            continue;
        }
        ss->line[ss->len] = 0;
        ss->len = 0;
        if (ss->dump_end) { /* one request at a time: a DUMP in flight finishes first */
            reply(conn, "BUSY\n");
            continue;
        }
        command(conn, ss, ss->line);
    }
}

static void on_drain(void *user, zenith_conn_id conn) {
    session *ss = (session *)zenith_server_get_conn_user(server, conn);
    (void)user;
    if (ss) pump_dump(conn, ss);
}

static void on_close(void *user, zenith_conn_id conn, int reason) {
    session *ss = (session *)zenith_server_get_conn_user(server, conn);
    (void)user;
    (void)reason;
    if (ss) ss->in_use = 0;
}

static void usage(const char *argv0, int status) { /* status 0 (--help): on stdout */
    fprintf(status ? stderr : stdout, "usage: %s [-a ADDR] [-p PORT] [--backend io_uring|epoll|auto]\n", argv0);
    exit(status);
}

/* --backend NAME into zenith_server_config.backend; -1 for a name that means nothing */
static long backend_of(const char *name) {
    if (strcmp(name, "io_uring") == 0) return ZENITH_BACKEND_IO_URING;
    if (strcmp(name, "epoll") == 0) return ZENITH_BACKEND_EPOLL;
    if (strcmp(name, "auto") == 0) return ZENITH_BACKEND_AUTO; /* ZENITH_BACKEND still decides */
    return -1;
}

int main(int argc, char **argv) {
    static const struct option longopts[] = { { "backend", required_argument, NULL, 'B' },
                                              { "help", no_argument, NULL, 'h' },
                                              { NULL, 0, NULL, 0 } };
    zenith_server_config cfg;
    zenith_server_stats st = { 0 };
    zenith_backend_info bi;
    const char *addr = "127.0.0.1";
    long port = 7070, backend = ZENITH_BACKEND_AUTO;
    int opt, err;
    while ((opt = getopt_long(argc, argv, "a:p:h", longopts, NULL)) != -1) {
        switch (opt) {
            case 'a': addr = optarg; break;
            case 'p': port = strtol(optarg, NULL, 10); break;
            case 'B':
                if ((backend = backend_of(optarg)) < 0) {
                    fprintf(stderr, "%s: unknown backend '%s' (io_uring, epoll or auto)\n", argv[0], optarg);
                    usage(argv[0], 2);
                }
                break;
            case 'h': usage(argv[0], 0); break;
            default: usage(argv[0], 2);
        }
    }
    memset(&cfg, 0, sizeof cfg);
    cfg.address = addr;
    cfg.port = (uint16_t)port;
    cfg.max_connections = MAX_CONNS;
    cfg.send_queue_max = 64 * 1024; /* small on purpose: DUMP shows the backpressure path */
    cfg.backend = (uint32_t)backend;
    server = zenith_server_create(&cfg, &err);
    if (server == NULL) {
        fprintf(stderr, "kv_server: %s\n", zenith_strerror(err));
        return 1;
    }
    zenith_server_set_callbacks(server, on_accept, on_data, on_close, NULL);
    zenith_server_set_drain_callback(server, on_drain);
    if (zenith_server_start(server) != 0) return 1;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    printf("listening on %s:%u\n", addr, (unsigned)zenith_server_port(server));
    memset(&bi, 0, sizeof bi);
    bi.struct_size = sizeof bi;
    if (zenith_server_backend_info(server, &bi) == 0) printf("backend %s\n", bi.why);
    fflush(stdout);
    while (!zenith_server_stopped(server))
        if (zenith_server_run_once(server, -1) < 0) break;
    zenith_server_shutdown(server, 1000);
    zenith_server_get_stats(server, &st);
    printf("stats: accepted %llu bytes_in %llu bytes_out %llu send_queue_full %llu\n",
           (unsigned long long)st.connections_accepted, (unsigned long long)st.bytes_in,
           (unsigned long long)st.bytes_out, (unsigned long long)st.send_queue_full);
    zenith_server_destroy(server);
    return 0;
}
