"""The Python bindings, end to end: a Python echo server answering the C load generator, Python
producing Arrow arrays built by hand that a C consumer checks value by value, the -4 and -2
paths, the pool and the NUMA helpers. Run by `make test` (bindings/python/run_tests.sh)."""
import ctypes
import os
import subprocess
import sys
import threading
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
if not os.environ.get("ZENITH_TEST_INSTALLED"):  # else: the installed package
    sys.path.insert(0, os.path.join(HERE, ".."))
import zenith  # noqa: E402

BUILD = os.environ.get("ZENITH_BUILD", os.path.join(HERE, "..", "..", "..", "build"))


class Errors(unittest.TestCase):
    def test_error_carries_the_code(self):
        e = zenith.ZenithError(-2)
        self.assertEqual(e.code, -2)
        self.assertEqual(e.name, "ZENITH_E_FULL")
        self.assertIn("ZENITH_E_FULL", str(e))

    def test_version_matches(self):
        self.assertEqual(zenith.version()[:2], zenith.WRAPPED_VERSION)


class PoolTests(unittest.TestCase):
    def test_acquire_write_release_and_double_release(self):
        with zenith.Pool(buffer_size=4096, buffer_count=8) as p:
            bufs = [p.acquire() for _ in range(8)]
            self.assertTrue(all(bufs))
            self.assertIsNone(p.acquire(), "empty")
            ctypes.memmove(bufs[0], b"zenith", 6)
            self.assertEqual(ctypes.string_at(bufs[0], 6), b"zenith")
            for b in bufs:
                p.release(b)
            with self.assertRaises(zenith.ZenithError) as cm:
                p.release(bufs[0])
            self.assertEqual(cm.exception.name, "ZENITH_E_DOUBLE_RELEASE")
            st = p.stats()
            self.assertEqual(st["in_use"], 0)
            self.assertEqual(st["rejected_double"], 1)

    def test_bad_config_raises(self):
        with self.assertRaises(zenith.ZenithError) as cm:
            zenith.Pool(buffer_size=100)
        self.assertEqual(cm.exception.name, "ZENITH_E_INVAL")


class EngineTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.consumer = ctypes.CDLL(os.path.join(BUILD, "py_consumer.so"))
        cls.consumer.consumer_check.restype = ctypes.c_int
        cls.consumer.consumer_check.argtypes = [ctypes.c_void_p, ctypes.c_int]

    def test_python_producer_c_consumer_value_by_value(self):
        before = dict(zenith.released)
        with zenith.Engine(64) as e:
            for k in range(40):
                if k % 2 == 0:
                    a, s = zenith.int64_array([3 * i + k for i in range(k + 1)])
                else:
                    a, s = zenith.utf8_array(["s%d" % i for i in range(k + 1)])
                e.publish(a, s, source_id=1, seq_no=k)
                self.assertFalse(a.release, "moved: the Python struct reads as released")
                self.assertFalse(s.release)
            self.assertEqual(self.consumer.consumer_check(e.handle, 40), 40)
            st = e.stats()
            self.assertEqual((st["published"], st["polled"], st["released"]), (40, 40, 40))
            self.assertEqual(st["seq_gaps"] + st["seq_duplicates"], 0)
        self.assertEqual(zenith.released["arrays"] - before["arrays"], 40, "every release callback ran once")
        self.assertEqual(zenith.released["schemas"] - before["schemas"], 40)

    def test_poll_in_python(self):
        with zenith.Engine(8) as e:
            a, s = zenith.utf8_array(["zero", "copy", ""])
            e.publish(a, s, 9, 0)
            b = e.poll()
            self.assertEqual((b.source_id, b.seq_no), (9, 0))
            self.assertEqual(b.values(), ["zero", "copy", ""])
            b.release()
            with self.assertRaises(zenith.ZenithError) as cm:
                b.release()
            self.assertEqual(cm.exception.name, "ZENITH_E_DOUBLE_RELEASE")
            self.assertIsNone(e.poll())

    def test_malformed_arrays_raise_minus_4_and_stay_yours(self):
        with zenith.Engine(8) as e:
            cases = []
            a, s = zenith.int64_array([1, 2, 3])
            s.format = b"q"  # unknown format
            cases.append((a, s, "unknown format"))
            a, s = zenith.int64_array([1, 2, 3])
            a.n_buffers = 3
            cases.append((a, s, "three buffers for int64"))
            a, s = zenith.utf8_array(["ab", "c"])
            ctypes.cast(a.buffers[1], ctypes.POINTER(ctypes.c_int32))[1] = 5  # offsets 0, 5, 3
            cases.append((a, s, "offsets decreasing"))
            a, s = zenith.int64_array([1, 2, 3])
            a.null_count = 2  # nulls but no validity bitmap
            cases.append((a, s, "null_count without a bitmap"))
            for a, s, what in cases:
                with self.assertRaises(zenith.ZenithError, msg=what) as cm:
                    e.publish(a, s)
                self.assertEqual(cm.exception.code, -4, what)
                self.assertTrue(a.release, "%s: still the caller's" % what)
                self.assertTrue(s.release)
                a.release(ctypes.byref(a))
                s.release(ctypes.byref(s))
            self.assertEqual(e.stats()["rejected_invalid"], len(cases))

    def test_full_raises_minus_2(self):
        with zenith.Engine(2) as e:
            for k in range(2):
                a, s = zenith.int64_array([k])
                e.publish(a, s, 1, k)
            a, s = zenith.int64_array([2])
            with self.assertRaises(zenith.ZenithError) as cm:
                e.publish(a, s, 1, 2)
            self.assertEqual(cm.exception.code, -2)
            self.assertTrue(a.release, "still the caller's")
            e.poll().release()
            e.publish(a, s, 1, 2)

    def test_a_module_without_the_plugin_abi_is_refused(self):
        # libzenith.so is built with ZENITH_PLUGINS: an empty module lacks the plugin exports
        with zenith.Engine(2) as e:
            with self.assertRaises(zenith.ZenithError) as cm:
                e.load_plugin(b"\0asm\1\0\0\0")
            self.assertEqual(cm.exception.name, "ZENITH_E_PLUGIN")


class ServerTests(unittest.TestCase):
    def test_python_echo_server_answers_the_c_load_generator(self):
        loadgen = os.path.join(BUILD, "loadgen")
        accepted, closed = [], []

        def on_data(srv, conn, data):
            srv.send(conn, data)

        srv = zenith.Server(port=0, on_data=on_data, on_accept=lambda s, c: accepted.append(c),
                            on_close=lambda s, c, r: closed.append(r), buffer_count=1024, max_connections=64)
        errors = []

        def loop():
            try:
                srv.start()
                while not srv.stopped():
                    srv.run_once(100)
            except BaseException as e:  # noqa: B902 -- reported by the test
                errors.append(e)

        t = threading.Thread(target=loop)
        t.start()
        try:
            r = subprocess.run([loadgen, "-p", str(srv.port), "-c", "4", "-d", "2", "-s", "200", "-T", "1", "-w", "0"],
                               capture_output=True, text=True, timeout=30)
        finally:
            srv.stop()
            t.join(10)
        self.assertFalse(t.is_alive())
        self.assertEqual(errors, [])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        st = srv.stats()
        srv.close()
        self.assertEqual(len(accepted), 4)
        self.assertEqual(st["connections_accepted"], 4)
        self.assertEqual(st["bytes_in"], st["bytes_out"], "every byte echoed")
        self.assertGreater(st["bytes_in"], 0)

    def test_bad_config_raises(self):
        with self.assertRaises(zenith.ZenithError) as cm:
            zenith.Server(address="300.1.2.3", on_data=lambda *a: None)
        self.assertEqual(cm.exception.name, "ZENITH_E_INVAL")
        with self.assertRaises(zenith.ZenithError) as cm:
            zenith.Server()
        self.assertEqual(cm.exception.code, -1)


class NumaTests(unittest.TestCase):
    def test_alloc_on_node_0_lands_there(self):
        zenith.numa.init()
        self.assertGreaterEqual(zenith.numa.node_count(), 1)
        p = zenith.numa.alloc_onnode(1 << 16, 0)
        ctypes.memset(p, 1, 1 << 16)
        self.assertEqual(zenith.numa.node_of_address(p), 0)
        zenith.numa.free(p, 1 << 16)
        zenith.numa.cleanup()

    def test_invalid_node_raises_minus_2(self):
        with self.assertRaises(zenith.ZenithError) as cm:
            zenith.numa.alloc_onnode(4096, 1023)
        self.assertEqual(cm.exception.code, -2)
        self.assertTrue(cm.exception.numa)
        self.assertEqual(cm.exception.name, "ZENITH_NUMA_E_INVALID_NODE")


if __name__ == "__main__":
    unittest.main()
