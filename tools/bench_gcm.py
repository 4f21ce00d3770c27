"""Benchmark (not a test): AES-GCM-128 of a 64-byte APDU with a 17-byte AAD (SC ‖ AK).

Prints one JSON line per variant: microseconds per encrypt and bytes allocated per call
(gc.mem_free() difference over the loop), for the pure and viper GHASH on each AES backend.
Runs under MicroPython directly:

    MICROPYPATH=lib .venv/bin/micropython -X heapsize=64k tools/bench_gcm.py
or under CPython (alloc is then null) with PYTHONPATH=lib.
"""

import gc
import sys

try:
    from time import ticks_diff, ticks_us
except ImportError:  # CPython
    from time import perf_counter_ns

    def ticks_us():
        return perf_counter_ns() // 1000

    def ticks_diff(a, b):
        return a - b

sys.path.insert(0, "lib")
from udlms import aes, gcm  # noqa: E402

N = 50 if sys.implementation.name == "micropython" else 200


def run(backend, accel):
    g = gcm.Gcm(bytes(range(16)), backend, accel)
    iv = bytearray(12)
    src = bytearray(64)
    dst = bytearray(64)
    aad = bytearray(17)
    g.encrypt_into(iv, src, dst, aad)
    gc.collect()
    mf = getattr(gc, "mem_free", None)
    before = mf() if mf else None
    t0 = ticks_us()
    for _ in range(N):
        g.encrypt_into(iv, src, dst, aad)
    dt = ticks_diff(ticks_us(), t0)
    alloc = (before - mf()) // N if mf else None
    t1 = ticks_us()
    for _ in range(N):
        g.encrypt(iv, src, aad)
    dt2 = ticks_diff(ticks_us(), t1)
    print('{"bench": "gcm64", "impl": "%s", "aes": "%s", "ghash": "%s", "us_per_call": %d, '
          '"alloc_bytes_per_call": %s, "us_per_encrypt_alloc_api": %d}'
          % (sys.implementation.name, backend, accel and "viper" or "pure", dt // N,
             "null" if alloc is None else alloc, dt2 // N))


for b in aes.backends():
    for a in ((False, True) if gcm.ACCEL else (False,)):
        gc.collect()
        run(b, a)
