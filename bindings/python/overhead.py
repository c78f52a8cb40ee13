"""Call overhead from Python through ctypes, one line: `python VERSION_NS PAIR_NS ECHO_NS POST_NS`.

VERSION_NS: ns per zenith_version(); PAIR_NS: ns per pool acquire + release; ECHO_NS: ns per echo
round trip (64 bytes from a client connection to an echo server on the same reactor and back,
both driven by run_once from Python, through the binding's callbacks; mean over 20,000 after a
warm-up); POST_NS: ns per message posted from another Python thread with Server.try_post
(retried on ZENITH_E_FULL) while this thread runs run_once until all 200,000 ran (wall time /
messages). bench/ffi_overhead.sh runs it."""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import zenith  # noqa: E402


def call_overhead(n=1000000):
    f = zenith.lib.zenith_version
    t = time.perf_counter_ns()
    for _ in range(n):
        f()
    v = (time.perf_counter_ns() - t) / n
    with zenith.Pool(buffer_size=4096, buffer_count=1024) as p:
        acq, rel, h = zenith.lib.zenith_pool_acquire, zenith.lib.zenith_pool_release, p._p
        t = time.perf_counter_ns()
        for _ in range(n):
            rel(h, acq(h))
        pp = (time.perf_counter_ns() - t) / n
    return v, pp


def echo_round_trip(rounds=20000, warmup=2000):
    client = [0]
    got = [0]

    def on_data(srv, conn, data):
        if conn == client[0]:
            got[0] += len(data)
        else:
            srv.send(conn, data)

    msg = bytes(range(64))
    connected = []
    with zenith.Server("127.0.0.1", 0, on_data=on_data) as srv:
        srv.start()
        client[0] = srv.connect("127.0.0.1", srv.port, on_connect=lambda s, c, e: connected.append(e))
        if not srv.run(until=lambda: connected, seconds=5) or connected[0] is not None:
            raise SystemExit("overhead: connect failed: %r" % connected)
        c, run_once, send = client[0], srv.run_once, srv.send
        deadline = time.monotonic() + 60
        t = 0
        for k in range(warmup + rounds):
            if k == warmup:
                t = time.perf_counter_ns()
            got[0] = 0
            send(c, msg)
            while got[0] < 64:
                run_once(1000)
                if time.monotonic() > deadline:
                    raise SystemExit("overhead: echo round trip timed out")
        return (time.perf_counter_ns() - t) / rounds


def post_throughput(n=200000):
    ran = [0]

    def fn(srv, data):
        ran[0] += 1

    with zenith.Server(listen=False, on_data=lambda *a: None) as srv:
        srv.start()

        def poster():
            try_post = srv.try_post
            for _ in range(n):
                while not try_post(fn):
                    time.sleep(0)  # full: let the loop thread have the GIL

        th = threading.Thread(target=poster)
        t = time.perf_counter_ns()
        th.start()
        deadline = time.monotonic() + 60
        while ran[0] < n:
            srv.run_once(100)
            if time.monotonic() > deadline:
                raise SystemExit("overhead: posts timed out (%d of %d ran)" % (ran[0], n))
        elapsed = time.perf_counter_ns() - t
        th.join()
        return elapsed / n


v, pp = call_overhead()
print("python %.1f %.1f %.1f %.1f" % (v, pp, echo_round_trip(), post_throughput()))
