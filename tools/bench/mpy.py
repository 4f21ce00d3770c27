"""make bench, sections 2 and 4: the session in the MicroPython unix port (import heap, peak,
smallest heap) and the micro-benchmarks (tools/bench/gcm.py)."""

import glob
import json
import os
import statistics
import subprocess
from tools.build import mpy as build_mpy
from tools.bench.common import (CASE, HEAP, LANE, MICROPYTHON, MPY_CROSS, PHASE_MODULES, ROOT,
                          SESSION_HEAP, WORK, emit, start_sim)


# -- 2 and 4. MicroPython lane ------------------------------------------------------------------

MP_SESSION = r'''
# written by tools/bench/main.py (compiled to build/bench/mp_session.mpy): token sessions in the
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
            if self.txf >= len(C.TX) or not C.same(bytes(b), C.TX[self.txf]):
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
    """True when every lib/udlms/*.py and firmware/*.py has an up-to-date .mpy in
    build/mpy-lane."""
    for base, pat in (("lib", ("udlms", "**", "*.py")), ("firmware", ("**", "*.py"))):
        top = os.path.join(ROOT, base)
        for f in glob.glob(os.path.join(top, *pat), recursive=True):
            m = os.path.join(LANE, os.path.relpath(f, top)[:-3] + ".mpy")
            if not os.path.exists(m) or os.path.getmtime(m) < os.path.getmtime(f):
                return False
    return True


def _bytecode(src, out, name=None):
    """mpy-cross ``src`` to bytecode ``out`` (no -march: runs on any port); ``name`` the
    source name it carries (default: the file's name)."""
    name = name or os.path.basename(src)
    p = subprocess.run([MPY_CROSS, build_mpy.OPT, "-o", out, "-s", name, src],
                       capture_output=True, text=True)
    if p.returncode:
        raise RuntimeError("mpy-cross %s: %s" % (name, p.stderr.strip()))


# Our frames equal gurux's except the release: after a ciphered AARQ our RLRQ carries the
# glo-ciphered InitiateRequest (Green Book §9.3.3, issue 24) where gurux sends a plain one.
SAME = '''

def same(ours, golden):
    return ours == golden or (b"\\x62\\x03\\x80\\x01\\x00" in golden
                              and b"\\x62\\x28\\x80\\x01\\x00\\xbe\\x23\\x04\\x21\\x21" in ours)
'''


def write_case_module(case, tx, rx):
    """build/bench/{bench_case,mp_session}.mpy, compiled like the lane (the scripts' own
    compilation would otherwise take heap in the small-heap runs)."""
    c = case["client"]
    lines = ["# written by make bench from host_tests/golden/session_gurux.json (%s)" % CASE,
             "EK = %r" % bytes.fromhex(c["ek"]), "AK = %r" % bytes.fromhex(c["ak"]),
             "TITLE = %r" % bytes.fromhex(c["system_title"]),
             "CTOS = %r" % bytes.fromhex(c["ctos"]), "IC = %d" % c["invocation_counter"],
             "LOGICAL = %d" % c["server_logical"], "PHYSICAL = %d" % c["server_physical"],
             "ASIZE = %d" % c["address_size"], "TOKEN = %r" % case["token"],
             "TX = [", *("    %r," % f for f in tx), "]", "RX = [", *("    %r," % f for f in rx),
             "]", SAME]
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


def bench_mpy_micro(quick):
    args = [MICROPYTHON, "-X", "heapsize=" + HEAP, os.path.join(ROOT, "tools", "bench", "gcm.py")]
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
        raise RuntimeError("tools/bench/gcm.py failed under MicroPython:\n" + p.stdout[-1500:]
                           + p.stderr[-1500:])
