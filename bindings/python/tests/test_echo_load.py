"""The obvious Python echo under load: on_data calls server.send(conn, data) and nothing else --
what everyone writes first. Receives and copied sends share the server's pool; the send reserve
must keep that send from ever raising ZENITH_E_FULL (which would escape run_once), with 64
connections from the C load generator, with slow readers pushing back, and through a tiny pool.
Every byte is verified (by loadgen, and by the client here) and every connection is
closed by its peer.

Run as a script with --clients PORT NFAST FAST_BYTES NSLOW SLOW_BYTES it is the verifying client
itself (a separate process, so it does not compete with the server for the GIL)."""
import os
import random
import select
import socket
import subprocess
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get("ZENITH_BUILD", os.path.join(HERE, "..", "..", "..", "build"))

# ---- the verifying client (a separate process) ---------------------------------------------------

TBL_PERIOD = 1048573  # prime: the pattern never lines up with a buffer or a chunk
CHUNK = 65536         # largest write, and a full-speed connection's read
SLOW_READ = 4096      # a slow reader's read
SLOW_TURN = 0.001     # a slow reader reads once per turn
SLOW_RCVBUF = 16384   # a slow reader's SO_RCVBUF, set before connect: its echo backs up at once


def clients(port, nfast, fast_bytes, nslow, slow_bytes, timeout):
    """nfast + nslow connections. Each writes its bytes (a pattern) as fast as the socket takes
    them and reads its echo at the same time -- a full-speed one whenever poll says so, a slow
    one 4 KiB per 1 ms turn -- checks every byte in order, shuts down its sending side when all
    is sent, and expects the server's EOF right after the last byte. Returns an error string,
    or None when everything was verified."""
    tbl = random.Random(7).randbytes(TBL_PERIOD)
    tbl += tbl[:CHUNK]  # tbl[P + i] == tbl[i]: any CHUNK from an offset below P is one slice
    conns = []
    for i in range(nfast + nslow):
        slow = i >= nfast
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if slow:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SLOW_RCVBUF)
        s.connect(("127.0.0.1", port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        conns.append({"i": i, "s": s, "slow": slow, "total": slow_bytes if slow else fast_bytes,
                      "base": (i * 104729) % TBL_PERIOD, "sent": 0, "got": 0, "shut": False, "done": False})
    by_fd = {c["s"].fileno(): c for c in conns if not c["slow"]}

    def desc(c):
        return "conn %d (%s): sent %d, verified %d of %d" % (c["i"], "slow" if c["slow"] else "fast", c["sent"],
                                                            c["got"], c["total"])

    def write(c):  # one chunk
        if c["sent"] < c["total"]:
            n = min(CHUNK, c["total"] - c["sent"])
            off = (c["base"] + c["sent"]) % TBL_PERIOD
            try:
                c["sent"] += c["s"].send(tbl[off:off + n])
            except BlockingIOError:
                pass
            except OSError as e:
                return "send: %s: %s" % (e, desc(c))
        if c["sent"] == c["total"] and not c["shut"]:
            c["s"].shutdown(socket.SHUT_WR)  # the server sends what is queued, then closes
            c["shut"] = True
        return None

    def read(c, size):  # one read
        try:
            data = c["s"].recv(size)
        except BlockingIOError:
            return None
        except OSError as e:
            return "recv: %s: %s" % (e, desc(c))
        if not data:
            if c["got"] != c["total"]:
                return "closed early (EOF before the whole echo): " + desc(c)
            c["done"] = True
            c["s"].close()
            return None
        if c["got"] + len(data) > c["sent"]:
            return "more echoed than sent: " + desc(c)
        off = (c["base"] + c["got"]) % TBL_PERIOD
        want = tbl[off:off + len(data)]
        if data != want:
            k = next(j for j in range(len(data)) if data[j] != want[j])
            return "stream byte %d differs (0x%02x, want 0x%02x): %s" % (c["got"] + k, data[k], want[k], desc(c))
        c["got"] += len(data)
        return None

    deadline = time.monotonic() + timeout
    next_turn = time.monotonic()
    poller = select.poll()
    for fd in by_fd:
        poller.register(fd, select.POLLIN | select.POLLOUT)
    while True:
        left = [c for c in conns if not c["done"]]
        if not left:
            return None
        now = time.monotonic()
        if now > deadline:
            return "stalled: " + "; ".join(desc(c) for c in left)
        wait_ms = max(0, int((next_turn - now) * 1000)) if any(c["slow"] for c in left) else 100
        if by_fd:
            events = poller.poll(wait_ms)
        else:
            time.sleep(wait_ms / 1000)
            events = []
        for fd, ev in events:
            c = by_fd[fd]
            err = write(c) if ev & select.POLLOUT else None
            err = err or (read(c, CHUNK) if ev & (select.POLLIN | select.POLLHUP | select.POLLERR) else None)
            if err:
                return err
            if c["done"]:
                poller.unregister(fd)
                del by_fd[fd]
            elif c["sent"] == c["total"]:
                poller.modify(fd, select.POLLIN)
        if time.monotonic() >= next_turn:
            next_turn = time.monotonic() + SLOW_TURN
            for c in left:
                if c["slow"] and not c["done"]:
                    err = write(c) or read(c, SLOW_READ)
                    if err:
                        return err


if __name__ == "__main__" and len(sys.argv) == 7 and sys.argv[1] == "--clients":
    err = clients(*(int(a) for a in sys.argv[2:]), timeout=30.0)
    if err:
        print("clients: " + err, file=sys.stderr)
        sys.exit(1)
    sys.exit(0)

# ---- the tests -----------------------------------------------------------------------------------

if not os.environ.get("ZENITH_TEST_INSTALLED"):  # else: the installed package
    sys.path.insert(0, os.path.join(HERE, ".."))
import zenith  # noqa: E402

CLOSE_PEER = 0


class EchoLoad(unittest.TestCase):
    def serve(self, loadgen_conns=0, secs=3, fast=(0, 0), slow=(0, 0), **cfg):
        """The obvious echo on its own thread, with (at the same time) loadgen_conns connections
        of the C load generator (16 KiB messages, depth 4, secs seconds) and the verifying client
        above with fast = (connections, bytes each) at full speed and slow = (connections, bytes
        each) reading slowly. Asserts everything; returns the server's stats."""
        loadgen = os.path.join(BUILD, "loadgen")
        accepted, reasons = [], []

        def on_data(srv, conn, data):
            srv.send(conn, data)  # the obvious echo: a ZenithError here escapes run_once

        srv = zenith.Server(port=0, on_data=on_data, on_accept=lambda s, c: accepted.append(c),
                            on_close=lambda s, c, r: reasons.append(r), **cfg)
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
        procs, outs = [], []
        total = loadgen_conns + fast[0] + slow[0]
        try:
            if loadgen_conns:
                self.assertTrue(os.access(loadgen, os.X_OK), "build it first: make %s" % loadgen)
                procs.append(("loadgen", subprocess.Popen(
                    [loadgen, "-p", str(srv.port), "-c", str(loadgen_conns), "-d", "4", "-s", "16384", "-T",
                     str(secs), "-w", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))
            if fast[0] or slow[0]:
                procs.append(("clients", subprocess.Popen(
                    [sys.executable, os.path.abspath(__file__), "--clients", str(srv.port), str(fast[0]),
                     str(fast[1]), str(slow[0]), str(slow[1])],
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))
            end = time.monotonic() + 50
            while any(p.poll() is None for _, p in procs) and time.monotonic() < end:
                if not t.is_alive():  # the loop died: the clients would only wait for their timeouts
                    break
                time.sleep(0.05)
            for name, p in procs:
                note = ""
                if p.poll() is None:
                    p.kill()
                    note = "\n(killed: %s)" % ("the server loop died" if not t.is_alive() else "still running at 50 s")
                out, err = p.communicate()
                outs.append((name, p.returncode, out, err + note))
            # the clients are done: the server's on_close for each follows promptly
            end = time.monotonic() + 10
            while len(reasons) < total and time.monotonic() < end and t.is_alive():
                time.sleep(0.01)
        finally:
            srv.stop()
            t.join(10)
            for _, p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
        self.assertFalse(t.is_alive(), "the server loop did not stop")
        st = srv.stats()
        srv.close()
        print("\n  %d connections (loadgen %d, full-speed %d, slow %d): %d bytes echoed, send_queue_full %d, "
              "recv_buffer_exhausted %d" % (total, loadgen_conns, fast[0], slow[0], st["bytes_out"],
                                            st["send_queue_full"], st["recv_buffer_exhausted"]), file=sys.stderr)
        self.assertEqual(errors, [], "an exception escaped run_once (the echo's send)")
        for name, rc, out, err in outs:
            self.assertEqual(rc, 0, "%s exited %s:\n%s%s" % (name, rc, out, err))
        self.assertEqual(len(accepted), total)
        self.assertEqual(len(reasons), total, "on_close ran %d times for %d connections" % (len(reasons), total))
        self.assertEqual([r for r in reasons if r != CLOSE_PEER], [], "connections closed otherwise than by their peer")
        self.assertEqual(st["connections_accepted"], total)
        self.assertEqual(st["connections_closed"], total)
        self.assertEqual(st["connection_errors"], 0)
        self.assertEqual(st["send_queue_full"], 0, "sends refused")
        self.assertEqual(st["bytes_in"], st["bytes_out"], "every byte echoed")
        self.assertGreaterEqual(st["bytes_in"], fast[0] * fast[1] + slow[0] * slow[1])
        self.assertGreater(st["bytes_in"], 0)
        return st

    def test_loadgen_64_connections(self):
        """The default config; the load generator: 64 connections x 4 x 16 KiB in flight."""
        self.serve(loadgen_conns=64, secs=4)

    def test_bulk_with_slow_readers(self):
        """The default config; 48 connections streaming 8 MiB each at full speed, 16 slow readers
        of 2 MiB each: their queues fill, the server stops reading from them, the pool is shared."""
        self.serve(fast=(48, 8 << 20), slow=(16, 2 << 20))

    def test_small_pool_loadgen_and_slow_readers(self):
        """A pool of 256 buffers (128 for receives): 48 load-generator connections and 16 slow
        readers of 1 MiB each."""
        self.serve(loadgen_conns=48, secs=3, slow=(16, 1 << 20), buffer_count=256, recv_buffers=128)


if __name__ == "__main__":
    unittest.main()
