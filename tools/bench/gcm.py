"""Micro-benchmarks (not a test) of the hot paths, for ``make bench`` (tools/bench/) or alone.

- AES-GCM-128 of a 64-byte APDU with a 17-byte AAD (SC ‖ AK), for every AES backend and both
  GHASH implementations (pure, viper): µs per ``crypt`` into caller buffers (no allocation)
  and per call that copies its results out (as ``Gcm.encrypt`` on a PC), bytes allocated
  per call.
- HDLC: ``encode_frame`` of a frame with a 128-byte information field into a preallocated
  buffer, ``Receiver.feed`` + ``next`` of the same frame, ``fcs16`` over it: µs and bytes
  allocated per call.
- Steady-state receive: bytes allocated per received frame by ``Receiver.feed``/``next``,
  ``Receiver.fill``/``next`` and ``Link.wait`` (the link's receive loop), cycling the
  meter frames of the golden session (``bench_case.RX`` when tools/bench/main.py wrote it, else
  synthetic frames).

Prints one JSON line per figure: {"name", "value", "unit", ...context}. Allocation is the
``gc.mem_alloc()`` difference over a loop with the collector disabled (null on CPython).

    MICROPYPATH=build/mpy-lane .venv/bin/micropython -X heapsize=64k tools/bench/gcm.py
or under CPython with PYTHONPATH=lib (times only).
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

try:
    import udlms  # noqa: F401 - from MICROPYPATH / PYTHONPATH (the compiled lane)
except ImportError:
    sys.path.insert(0, "lib")
from udlms.crypto import aes, gcm  # noqa: E402
from udlms.link import fcs16, hdlc

MPY = sys.implementation.name == "micropython"
QUICK = "--quick" in sys.argv
N = (10 if QUICK else 50) if MPY else 200
NH = 4 * N  # HDLC calls are ~20x cheaper than GCM ones
NA = 10  # calls per allocation measurement (collector off: keep it small)
LAST_MIN = [0.0]


def emit(name, value, unit, ctx=""):
    if unit == "us":
        ctx += ', "min_us": %.2f' % LAST_MIN[0]
    v = "null" if value is None else ("%d" % value if isinstance(value, int) else "%.2f" % value)
    print('{"name": "%s", "value": %s, "unit": "%s", "impl": "%s"%s}'
          % (name, v, unit, sys.implementation.name, ctx))


def per_call_us(fn, n=N, reps=5):
    """Median over ``reps`` loops of n calls: µs per call (the minimum is in LAST_MIN)."""
    fn()
    out = []
    for _ in range(reps):
        gc.collect()
        t0 = ticks_us()
        for _ in range(n):
            fn()
        out.append(ticks_diff(ticks_us(), t0) / n)
    out.sort()
    LAST_MIN[0] = out[0]
    return out[len(out) // 2]


def per_call_alloc(fn, n=NA):
    """Bytes allocated per call (gc.mem_alloc() over n calls with the collector off)."""
    mf = getattr(gc, "mem_alloc", None)
    if mf is None:
        return None
    fn()
    gc.collect()
    gc.disable()
    try:
        a = mf()
        for _ in range(n):
            fn()
        b = mf()
    except MemoryError:
        return None
    finally:
        gc.enable()
    return (b - a) // n


def _gcm_case(backend, accel):
    g = gcm.Gcm(bytes(range(16)), backend, accel)
    iv = bytearray(12)
    src = bytearray(64)
    dst = bytearray(64)
    aad = bytearray(17)

    def into():
        g.crypt(iv, src, dst, aad)

    def alloc_api():  # what a caller that keeps its results allocates (the PC's encrypt())
        ct = bytearray(len(src))
        return bytes(ct), bytes(g.crypt(iv, src, ct, aad)[:12])

    ctx = ', "aes": "%s", "ghash": "%s", "apdu_len": 64, "aad_len": 17' % (
        backend, "viper" if accel else "pure")
    emit("gcm64_us", per_call_us(into), "us", ctx)
    emit("gcm64_alloc", per_call_alloc(into), "B", ctx)
    emit("gcm64_alloc_api_us", per_call_us(alloc_api), "us", ctx)
    emit("gcm64_alloc_api_alloc", per_call_alloc(alloc_api), "B", ctx)


def bench_gcm():
    for backend in aes.backends():
        for accel in ((False, True) if gcm.ACCEL else (False,)):
            gc.collect()
            _gcm_case(backend, accel)
            gc.collect()


def _feed(rx, data):
    """``Receiver.feed`` where the device build has none: data copied in at the end, the
    buffer compacted first when it does not fit."""
    feed = getattr(rx, "feed", None)
    if feed is not None:
        feed(data)
        return
    if len(rx.buf) - rx.end < len(data):  # compacted first (fill's way)
        s = rx.start
        rx.buf[:rx.end - s] = rx.buf[s:rx.end]
        rx.start = 0
        rx.end -= s
    e = rx.end
    rx.buf[e:e + len(data)] = data
    rx.end = e + len(data)


def _rx_frames():
    try:
        import bench_case

        return bench_case.RX, "golden"
    except ImportError:
        pass
    dst = hdlc.client_address(1)
    src = hdlc.server_address(1, 17, 2)
    from udlms.host import frames  # the PC's frame builders (not in the device build)

    return [frames.frame(dst, src, frames.i_control(i & 7, 1), bytes(20 + 13 * i))
            for i in range(7)], "synthetic"


class _Replay:
    """A stream that hands out the given frames in turn, as much as fits in each readinto
    (the UART stand-in; copies without allocating)."""

    def __init__(self, frames):
        self.frames = frames
        self.i = 0
        self.pos = 0

    def readinto(self, buf):
        f = self.frames[self.i]
        p = self.pos
        n = min(len(buf), len(f) - p)
        if p or n < len(f):  # a part (the receiver's free tail is short): byte by byte
            for j in range(n):
                buf[j] = f[p + j]
        else:
            buf[0:n] = f
        p += n
        if p == len(f):
            p = 0
            self.i = self.i + 1 if self.i + 1 < len(self.frames) else 0
        self.pos = p
        return n

    def write(self, b):
        pass


def bench_hdlc():
    addr = hdlc.server_address(1, 17, 2) + hdlc.client_address(1)  # destination, source
    info = bytes(range(128))
    out = bytearray(128 + 32)
    n = hdlc.encode_frame(out, addr, 0x10, info)
    frame = bytes(out[:n])
    ctx = ', "info_len": 128, "frame_len": %d' % n

    def enc():
        hdlc.encode_frame(out, addr, 0x10, info)

    rx = hdlc.Receiver(128 + 16)

    def dec():
        _feed(rx, frame)
        if rx.next() is None:
            raise AssertionError("frame not decoded")

    def crc():
        fcs16(frame, 1, n - 3)

    emit("hdlc_encode128_us", per_call_us(enc, NH), "us", ctx)
    emit("hdlc_encode128_alloc", per_call_alloc(enc), "B", ctx)
    emit("hdlc_decode128_us", per_call_us(dec, NH), "us", ctx)
    emit("hdlc_decode128_alloc", per_call_alloc(dec), "B", ctx)
    emit("hdlc_fcs16_us", per_call_us(crc, NH), "us", ', "len": %d' % (n - 4))

    frames, origin = _rx_frames()
    ctx = ', "frames": "%s", "n_frames": %d' % (origin, len(frames))
    k = len(frames)
    state = [0]
    rx2 = hdlc.Receiver(128 + 16)

    def feed_next():
        i = state[0]
        state[0] = i + 1 if i + 1 < k else 0
        _feed(rx2, frames[i])
        if rx2.next() is None:
            raise AssertionError("frame not decoded")

    stream = _Replay(frames)
    rx3 = hdlc.Receiver(128 + 16)

    def readinto_next():
        while rx3.next() is None:
            rx3.fill(stream)

    stream2 = _Replay(frames)
    link = hdlc.Link(stream2, server_logical=1, server_physical=17, address_size=2)

    def link_wait():
        if link.wait(1000) is None:
            raise AssertionError("frame not received")

    rx4 = hdlc.Receiver(128 + 16)
    stream3 = _Replay(frames)

    view = memoryview(rx4.buf)

    def harness():  # the stand-in stream alone (should be 0: the figures above are hdlc's)
        stream3.readinto(view)

    n_alloc = k  # one whole cycle of the session's frames
    emit("rx_frame_feed_alloc", per_call_alloc(feed_next, n_alloc), "B", ctx)
    emit("rx_frame_readinto_alloc", per_call_alloc(readinto_next, n_alloc), "B", ctx)
    emit("rx_frame_link_wait_alloc", per_call_alloc(link_wait, n_alloc), "B", ctx)
    emit("rx_frame_harness_alloc", per_call_alloc(harness, n_alloc), "B", ctx)
    emit("rx_frame_link_wait_us", per_call_us(link_wait, 20 * k), "us", ctx)


bench_gcm()
gc.collect()
bench_hdlc()
