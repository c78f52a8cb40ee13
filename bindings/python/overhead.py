"""Call overhead from Python through ctypes: ns per zenith_version() and per pool pair."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import zenith  # noqa: E402

n = 1000000
f = zenith.lib.zenith_version
t = time.perf_counter_ns()
for _ in range(n):
    f()
v = (time.perf_counter_ns() - t) / n
p = zenith.Pool(buffer_size=4096, buffer_count=1024)
acq, rel, h = zenith.lib.zenith_pool_acquire, zenith.lib.zenith_pool_release, p._p
t = time.perf_counter_ns()
for _ in range(n):
    rel(h, acq(h))
pp = (time.perf_counter_ns() - t) / n
p.close()
print("python %.1f %.1f" % (v, pp))
