"""Issue 13's reach, from Python: an outbound connection to a server on the same loop (bytes
verified), timers, posts from Python threads (also while the loop thread waits inside run_once),
backend choice and info, a UDP echo with receive timestamps, a multicast join/leave on
loopback, a plugin loaded from bytes filtering a batch, the layout check (and a deliberately
altered layout caught with its exact message), exceptions in callbacks surfacing from run_once.

Every network test is loopback only, binds port 0 and runs the loop against a deadline.
Run from the source tree, or (ZENITH_TEST_INSTALLED=1) against an installed package."""
import ctypes
import errno
import os
import socket
import struct
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
if not os.environ.get("ZENITH_TEST_INSTALLED"):
    sys.path.insert(0, os.path.join(HERE, ".."))
import zenith  # noqa: E402

BUILD = os.environ.get("ZENITH_BUILD", os.path.join(HERE, "..", "..", "..", "build"))
BACKENDS = ("io_uring", "epoll")


def run_until(srv, cond, secs=5.0):
    """run_once (1 ms waits) until cond() or the deadline; returns cond()."""
    end = time.monotonic() + secs
    while not cond() and time.monotonic() < end:
        srv.run_once(1)
    return cond()


def reactor(backend, **kw):
    kw.setdefault("on_data", lambda s, c, d: None)
    srv = zenith.Server(backend=backend, buffer_count=512, max_connections=64, **kw)
    srv.start()
    return srv


def free_tcp_port():
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Installed(unittest.TestCase):
    def test_imported_from_where_it_should(self):
        if os.environ.get("ZENITH_TEST_INSTALLED"):
            f = os.path.realpath(zenith.__file__)
            self.assertTrue(f.startswith(os.path.realpath(sys.prefix) + os.sep) and "site-packages" in f,
                            "the package installed in this venv (%s), not a source tree: %s" % (sys.prefix, f))
            self.assertEqual(os.path.dirname(zenith.lib_path), os.path.dirname(os.path.abspath(zenith.__file__)),
                             "the bundled libzenith.so is loaded first")
        self.assertTrue(os.path.exists(zenith.lib_path) or zenith.lib_path == "libzenith.so.0")
        self.assertEqual(zenith.version()[:2], zenith.WRAPPED_VERSION)


class Layout(unittest.TestCase):
    def test_every_mirrored_struct_matches_the_library(self):
        n = zenith.check_layout()
        rows = sum(len(zenith._TABLE[t]) for t, _ in zenith._MIRRORS)
        self.assertEqual(n, rows, "every field and the whole size of every mirrored struct was checked")
        self.assertGreaterEqual(len(zenith._MIRRORS), 18)

    def test_a_drifted_struct_is_named_exactly(self):
        # a copy of zenith_server_config's description with "backend" left out: max_udp moves up 4
        fields = [f for f in zenith._ServerConfig._fields_ if f[0] != "backend"]
        altered = type("AlteredServerConfig", (ctypes.Structure,), {"_fields_": fields})
        off, size = ctypes.c_size_t(), ctypes.c_size_t()
        self.assertEqual(zenith.lib.zenith_layout_find(b"zenith_server_config", b"max_udp", ctypes.byref(off),
                                                       ctypes.byref(size)), 0)
        with self.assertRaises(zenith.LayoutError) as cm:
            zenith.check_layout([("zenith_server_config", altered)])
        self.assertEqual(str(cm.exception),
                         "zenith: layout mismatch: zenith_server_config.max_udp: binding has offset %d size 4, "
                         "library has offset %d size 4" % (off.value - 4, off.value))
        self.assertEqual((cm.exception.type, cm.exception.field), ("zenith_server_config", "max_udp"))
        self.assertIsInstance(cm.exception, ImportError)

    def test_a_wider_field_a_missing_field_and_the_whole_size(self):
        fields = [(n, ctypes.c_uint64 if n == "len" else t) for n, t in zenith._Addr._fields_]
        wide = type("WideAddr", (ctypes.Structure,), {"_fields_": fields})
        with self.assertRaises(zenith.LayoutError) as cm:
            zenith.check_layout([("zenith_addr", wide)])
        self.assertEqual(str(cm.exception), "zenith: layout mismatch: zenith_addr.len: binding has offset 32 size 8, "
                                            "library has offset 28 size 4")
        short = type("ShortAddr", (ctypes.Structure,), {"_fields_": [("sa", ctypes.c_uint8 * 28)]})
        with self.assertRaises(zenith.LayoutError) as cm:
            zenith.check_layout([("zenith_addr", short)])
        self.assertEqual(str(cm.exception), "zenith: layout mismatch: zenith_addr.len: binding has no such field, "
                                            "library has offset 28 size 4")
        padded = type("PaddedAddr", (ctypes.Structure,), {"_fields_": zenith._Addr._fields_ + [("x_", ctypes.c_uint32)]})
        with self.assertRaises(zenith.LayoutError) as cm:
            zenith.check_layout([("zenith_addr", padded)])
        self.assertEqual(str(cm.exception), "zenith: layout mismatch: zenith_addr.x_: binding has offset 32 size 4, "
                                            "library has no such field")
        with self.assertRaises(zenith.LayoutError) as cm:
            zenith.check_layout([("zenith_no_such_struct", zenith._Addr)])
        self.assertIn("zenith_no_such_struct.sa: binding has offset 0 size 28, library has no such field",
                      str(cm.exception))


class Connect(unittest.TestCase):
    def test_client_and_server_on_one_loop_bytes_verified(self):
        for backend in BACKENDS:
            with self.subTest(backend=backend):
                accepted, got, outcome, closed = [], bytearray(), [], []
                payload = bytes((i * 7 + 3) % 251 for i in range(100000))

                def on_data(srv, conn, data):
                    if conn in accepted:
                        srv.send(conn, data)  # the server side echoes
                    else:
                        got.extend(data)  # the client side collects

                srv = reactor(backend, on_data=on_data, on_accept=lambda s, c: accepted.append(c),
                              on_close=lambda s, c, r: closed.append((c, r)))
                try:
                    self.assertEqual(srv.backend, backend)
                    cid = srv.connect("127.0.0.1", srv.port, on_connect=lambda s, c, e: outcome.append((c, e)),
                                      timeout_ms=2000)
                    self.assertNotEqual(cid, 0)
                    srv.send(cid, payload[:1000])  # queued while connecting, sent once connected
                    self.assertTrue(run_until(srv, lambda: outcome), "on_connect ran")
                    self.assertEqual(outcome, [(cid, None)])
                    for k in range(1000, len(payload), 9000):
                        srv.send(cid, payload[k:k + 9000])
                    self.assertTrue(run_until(srv, lambda: len(got) >= len(payload)), "%d of %d bytes back" %
                                    (len(got), len(payload)))
                    self.assertEqual(bytes(got), payload)
                    self.assertEqual(len(accepted), 1)
                    srv.close_conn(cid)
                    self.assertTrue(run_until(srv, lambda: len(closed) == 2), "both sides closed: %r" % closed)
                    rs = srv.reactor_stats()
                    self.assertEqual((rs["connects_started"], rs["connects_succeeded"]), (1, 1))
                    with self.assertRaises(zenith.ZenithError) as cm:
                        srv.send(cid, b"x")
                    self.assertEqual(cm.exception.name, "ZENITH_E_STALE")
                finally:
                    srv.close()

    def test_refused_and_invalid(self):
        port = free_tcp_port()
        outcome = []
        srv = reactor(None, listen=False)
        try:
            self.assertEqual(srv.port, 0, "no listener")
            cid = srv.connect("127.0.0.1", port, on_connect=lambda s, c, e: outcome.append((c, e)))
            self.assertTrue(run_until(srv, lambda: outcome))
            c, e = outcome[0]
            self.assertEqual(c, cid)
            self.assertIsInstance(e, zenith.ZenithError)
            self.assertEqual(e.code, zenith.esys(errno.ECONNREFUSED))
            self.assertEqual(e.name, "ECONNREFUSED")
            with self.assertRaises(zenith.ZenithError) as cm:
                srv.connect("localhost", port)  # numeric only: no resolver on the loop
            self.assertEqual(cm.exception.name, "ZENITH_E_INVAL")
            self.assertEqual(srv._connects, {}, "nothing left registered")
        finally:
            srv.close()


class Timers(unittest.TestCase):
    def test_one_shot_periodic_and_stop(self):
        srv = reactor(None, listen=False)
        try:
            fired, ticks = [], []
            t0 = time.monotonic()
            one = srv.timer_start(30, lambda s, t: fired.append((t, time.monotonic() - t0)))

            def tick(s, t):
                ticks.append(t)
                if len(ticks) == 3:
                    s.timer_stop(t)  # a periodic timer may stop itself

            per = srv.timer_start(5, tick, period_ms=5)
            self.assertTrue(run_until(srv, lambda: fired and len(ticks) >= 3, 3.0))
            self.assertEqual(len(fired), 1)
            self.assertEqual(fired[0][0], one)
            self.assertGreaterEqual(fired[0][1], 0.030, "never early")
            run_until(srv, lambda: False, 0.05)
            self.assertEqual(len(ticks), 3, "stopped after three")
            self.assertEqual(set(ticks), {per})
            for t in (one, per):  # fired one-shot, stopped periodic: stale
                with self.assertRaises(zenith.ZenithError) as cm:
                    srv.timer_stop(t)
                self.assertEqual(cm.exception.name, "ZENITH_E_STALE")
            self.assertEqual(srv._timers, {}, "nothing left registered")
            with self.assertRaises(zenith.ZenithError) as cm:
                srv.timer_start(1 << 30, lambda s, t: None)
            self.assertEqual(cm.exception.name, "ZENITH_E_RANGE")
            self.assertEqual(srv.reactor_stats()["timers_fired"], 4)
        finally:
            srv.close()


class Posts(unittest.TestCase):
    def test_posts_from_python_threads_in_order_with_data(self):
        srv = reactor(None, listen=False, post_queue=64)
        got = {k: [] for k in range(4)}
        threads_n, per = 4, 2000

        def poster(k):
            for i in range(per):
                data = struct.pack("<II", k, i) + bytes([i % 256]) * 32
                while not srv.try_post(lambda s, d: got[struct.unpack_from("<I", d)[0]].append(d), data):
                    time.sleep(0)  # full: let the loop run
        try:
            ts = [threading.Thread(target=poster, args=(k,)) for k in range(threads_n)]
            for t in ts:
                t.start()
            run_until(srv, lambda: sum(map(len, got.values())) == threads_n * per, 20.0)
            for t in ts:
                t.join(5)
            for k in range(threads_n):
                self.assertEqual(len(got[k]), per)
                for i, d in enumerate(got[k]):  # each thread's messages in the order it posted them
                    self.assertEqual(d, struct.pack("<II", k, i) + bytes([i % 256]) * 32)
            self.assertGreater(srv.reactor_stats()["posts_refused"], 0, "the 64-cell queue filled up")
            with self.assertRaises(zenith.ZenithError) as cm:
                srv.post(lambda s, d: None, b"x" * 41)
            self.assertEqual(cm.exception.name, "ZENITH_E_INVAL")
        finally:
            srv.close()

    def test_a_post_wakes_the_loop_thread_waiting_in_run_once(self):
        # the loop runs on a Python thread, blocked in run_once(5000) inside C; the GIL is released
        # there, so this thread can post, and the post's eventfd write wakes the wait at once
        srv = zenith.Server(listen=False, on_data=lambda *a: None)
        ran, result = threading.Event(), {}

        def loop():
            try:
                srv.start()
                t = time.monotonic()
                result["n"] = srv.run_once(5000)
                result["secs"] = time.monotonic() - t
            except BaseException as e:  # noqa: B902 -- reported below
                result["error"] = e

        t = threading.Thread(target=loop)
        t.start()
        time.sleep(0.1)
        srv.post(lambda s, d: (ran.set(), result.update(thread=threading.current_thread(), data=d)), b"hello")
        t.join(10)
        self.assertFalse(t.is_alive())
        self.assertNotIn("error", result)
        self.assertTrue(ran.is_set())
        self.assertEqual(result["data"], b"hello")
        self.assertIs(result["thread"], t, "run on the loop thread")
        self.assertLess(result["secs"], 2.0, "woken by the post, not by the timeout")
        srv.close()

    def test_stop_from_another_thread(self):
        srv = zenith.Server(listen=False, on_data=lambda *a: None)
        done = []

        def loop():
            srv.start()
            srv.run(timeout_ms=-1)
            done.append(True)

        t = threading.Thread(target=loop)
        t.start()
        time.sleep(0.05)
        srv.stop()
        t.join(5)
        self.assertEqual(done, [True])
        self.assertTrue(srv.stopped())
        srv.close()


class Backend(unittest.TestCase):
    def test_choice_and_info(self):
        for backend in BACKENDS:
            with zenith.Server(backend=backend, on_data=lambda *a: None) as srv:
                info = srv.backend_info()
                self.assertEqual(info["backend"], backend)
                self.assertEqual(info["reason"], "config")
                self.assertTrue(info["why"])
        with zenith.Server(listen=False, on_data=lambda *a: None) as srv:
            self.assertIn(srv.backend_info()["reason"], ("default", "env", "fallback"))
        with self.assertRaises(zenith.ZenithError) as cm:
            zenith.Server(backend="kqueue", on_data=lambda *a: None)
        self.assertEqual(cm.exception.name, "ZENITH_E_INVAL")
        with self.assertRaises(zenith.ZenithError) as cm:
            zenith.Server(on_data=lambda *a: None, no_such_field=1)
        self.assertEqual(cm.exception.name, "ZENITH_E_INVAL")


class Udp(unittest.TestCase):
    def test_udp_echo_with_receive_timestamps(self):
        for backend in BACKENDS:
            with self.subTest(backend=backend):
                srv = reactor(backend, listen=False)
                try:
                    echo = srv.udp_open("127.0.0.1", 0, on_recv=lambda sock, d: sock.send(d.data, to=d.sender))
                    back = []
                    client = srv.udp_open("127.0.0.1", 0, on_recv=lambda sock, d: back.append(d))
                    self.assertNotEqual(echo.port, 0)
                    msgs = [bytes([k]) * (1 + 97 * k) for k in range(20)]
                    for m in msgs:
                        client.send(m, to=("127.0.0.1", echo.port))
                    self.assertTrue(run_until(srv, lambda: len(back) == len(msgs)), "%d echoes" % len(back))
                    self.assertEqual([d.data for d in back], msgs, "in order, bytes intact")
                    self.assertEqual({d.sender for d in back}, {("127.0.0.1", echo.port)})
                    # the kernel switches receive timestamps on lazily: the first may come unstamped
                    end = time.monotonic() + 3
                    while not any(d.ts_ns for d in back) and time.monotonic() < end:
                        client.send(b"stamp?", to=("127.0.0.1", echo.port))
                        run_until(srv, lambda: back[-1].data == b"stamp?", 1.0)
                    stamped = [d for d in back if d.ts_ns]
                    self.assertTrue(stamped, "a kernel receive timestamp")
                    self.assertLess(abs(stamped[-1].ts_ns - time.time_ns()), 10 * 10**9, "CLOCK_REALTIME ns")
                    self.assertFalse(any(d.truncated for d in back))
                    info = client.info()
                    self.assertTrue(info["features"] & zenith.UDP_F_TS_SOFTWARE)
                    self.assertEqual(info["local"], ("127.0.0.1", client.port))
                    self.assertEqual(info["datagrams_in"], len(back))
                    with self.assertRaises(zenith.ZenithError) as cm:
                        client.send(b"x")  # unconnected: needs a destination
                    self.assertEqual(cm.exception.name, "ZENITH_E_INVAL")
                    client.close()
                    with self.assertRaises(zenith.ZenithError) as cm:
                        client.send(b"x", to=("127.0.0.1", echo.port))
                    self.assertEqual(cm.exception.name, "ZENITH_E_STALE")
                finally:
                    srv.close()

    def test_multicast_join_and_leave_on_loopback(self):
        pid = os.getpid()
        group = "239.%d.%d.%d" % (150 + pid % 50, (pid >> 8) & 255, pid & 255)
        srv = reactor(None, listen=False)
        try:
            got = []
            rx = srv.udp_open("0.0.0.0", 0, on_recv=lambda s, d: got.append(d.data))
            tx = srv.udp_open("127.0.0.1", 0)
            tx.multicast_send_opts("lo", ttl=1, loop=1)

            def round_(tag, n):
                """n multicast datagrams, then a unicast barrier; returns the multicast ones received."""
                for i in range(n):
                    tx.send(b"%s-%d" % (tag, i), to=(group, rx.port))
                tx.send(b"barrier-" + tag, to=("127.0.0.1", rx.port))
                self.assertTrue(run_until(srv, lambda: b"barrier-" + tag in got), "barrier %s" % tag)
                run_until(srv, lambda: False, 0.02)
                return [g for g in got if g.startswith(tag + b"-")]

            self.assertEqual(round_(b"before", 5), [], "nothing before the join")
            rx.join(group, ifname="lo")
            self.assertEqual(round_(b"joined", 10), [b"joined-%d" % i for i in range(10)], "everything after it")
            with self.assertRaises(zenith.ZenithError) as cm:
                rx.join(group, ifname="lo")
            self.assertEqual(cm.exception.name, "ZENITH_E_EXIST")
            rx.leave(group, ifname="lo")
            self.assertEqual(round_(b"left", 5), [], "nothing after the leave")
            for call, args, name in ((rx.leave, (group, None, "lo"), "ZENITH_E_NOT_FOUND"),
                                     (rx.join, ("10.1.2.3", None, "lo"), "ZENITH_E_INVAL"),
                                     (rx.join, (group, None, "no-such-if0"), "ZENITH_E_NOT_FOUND"),
                                     (tx.multicast_send_opts, ("lo", 300, 1), "ZENITH_E_INVAL")):
                with self.assertRaises(zenith.ZenithError) as cm:
                    call(*args)
                self.assertEqual(cm.exception.name, name, call.__name__)
        finally:
            srv.close()


class Plugins(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(os.path.join(BUILD, "plugins", "price_filter.wasm"), "rb") as f:
            cls.wasm = f.read()

    def test_price_filter_from_bytes_selects_rows(self):
        with zenith.Engine(16) as e:
            p = e.load_plugin(self.wasm, params=struct.pack("<dd", 95.0, 105.0), instances=1)
            self.assertGreaterEqual(p.id, 0)
            prices = [90.0, 96.5, 100.0, 110.0, 104.9, 105.0, 94.99, 120.0, 95.0]
            a, s = zenith.float64_array(prices, name="price")
            self.assertEqual(e.publish(a, s, source_id=7, seq_no=0), 0)
            with e.poll_selection() as b:
                self.assertEqual(b.values(), prices, "the batch itself is never modified")
                self.assertEqual(b.selected, 5)
                self.assertEqual(b.selected_rows(), [1, 2, 4, 5, 8])
            a, s = zenith.float64_array([1.0, 2.0, 300.0], name="price")  # no row in range: dropped
            self.assertEqual(e.publish(a, s, source_id=7, seq_no=1), 1)
            self.assertFalse(a.release, "moved in and released already")
            self.assertIsNone(e.poll_selection(), "a dropped batch is never polled")
            st = p.stats()
            self.assertEqual((st["calls"], st["rows_in"], st["rows_out"]), (2, 12, 5))
            self.assertEqual((st["selected"], st["rejected"], st["failures"], st["disabled"]), (1, 1, 0, False))
            self.assertEqual(p.results(), [5.0], "price_filter's result: rows passed")
            p.unload()
            with self.assertRaises(zenith.ZenithError) as cm:
                p.stats()
            self.assertEqual(cm.exception.name, "ZENITH_E_STALE")

    def test_default_load_and_refusal_with_reason(self):
        with zenith.Engine(4) as e:
            p = e.load_plugin(self.wasm)  # zenith_engine_load_plugin: every non-null price passes
            a, s = zenith.float64_array([1.0, 2.0], name="price")
            self.assertEqual(e.publish(a, s), 0)
            with e.poll_selection() as b:
                self.assertIsNone(b.selected, "every row passes")
                self.assertEqual(b.selected_rows(), [0, 1])
            self.assertEqual(p.stats()["passed"], 1)
            with self.assertRaises(zenith.ZenithError) as cm:
                e.load_plugin(self.wasm[:100])
            self.assertEqual(cm.exception.name, "ZENITH_E_PLUGIN")
            self.assertTrue(cm.exception.reason, "a reason")
            with self.assertRaises(zenith.ZenithError) as cm:
                e.load_plugin(self.wasm, params=b"\0" * 3)  # price_filter's init refuses bad params
            self.assertEqual(cm.exception.code, zenith.E_PLUGIN)


class Callbacks(unittest.TestCase):
    def test_exceptions_surface_from_run_once_and_reentry_is_refused(self):
        srv = reactor(None, listen=False)
        try:
            srv.post(lambda s, d: 1 / 0)
            with self.assertRaises(ZeroDivisionError):
                run_until(srv, lambda: False, 1.0)
            srv.timer_start(1, lambda s, t: s.run_once(0))  # run_once inside a callback
            with self.assertRaises(zenith.ZenithError) as cm:
                run_until(srv, lambda: False, 1.0)
            self.assertEqual(cm.exception.name, "ZENITH_E_STATE")
            srv.post(lambda s, d: s.close())  # close inside a callback: refused, the server lives
            with self.assertRaises(zenith.ZenithError) as cm:
                run_until(srv, lambda: False, 1.0)
            self.assertEqual(cm.exception.name, "ZENITH_E_STATE")
            ran = []
            srv.post(lambda s, d: ran.append(d), b"still alive")
            run_until(srv, lambda: ran, 1.0)
            self.assertEqual(ran, [b"still alive"])
        finally:
            srv.close()

    def test_callbacks_during_close_cannot_close_and_their_errors_surface(self):
        closed = []

        def on_close(s, conn, reason):
            closed.append(reason)
            s.close()  # inside shutdown's on_close: refused (ZENITH_E_STATE), re-raised by close()

        srv = reactor(None, on_close=on_close)
        outcome = []
        srv.connect("127.0.0.1", srv.port, on_connect=lambda s, c, e: outcome.append(e))
        self.assertTrue(run_until(srv, lambda: outcome and srv.stats()["connections_accepted"] == 1))
        with self.assertRaises(zenith.ZenithError) as cm:
            srv.close()
        self.assertEqual(cm.exception.name, "ZENITH_E_STATE")
        self.assertEqual(closed, [zenith.CLOSE_SHUTDOWN] * 2, "both connections closed by the shutdown")
        self.assertIsNone(srv._s, "destroyed all the same")
        srv.close()  # idempotent


if __name__ == "__main__":
    unittest.main()
