"""make bench, section 2b: the golden session in the 32-bit WebAssembly port (files and ROMFS)."""

import glob
import os
import re
import subprocess
import sys
from tools.bench.common import ROOT, WORK, emit, load_case
from tools.bench.mpy import _bytecode, write_case_module
from tools.build import mpy as build_mpy, msgtable, romfs
from tools.common import counts, run, start_sim


# -- 2b. The same session in a 32-bit MicroPython (the WebAssembly port) --------------------------

WASM_DIR = os.path.join(ROOT, "tools", "wasm")
WASM_WORK = os.path.join(ROOT, "build", "wasm")
WASM_HEAP = 64 * 1024
WASM_IMAGE = "udlms.romfs"

WASM_SESSION = r"""
# written by tools/bench/main.py (compiled to build/wasm/lib/wasm_session.mpy): one token session in
# the 32-bit WebAssembly port over a replay of the golden case (no sockets there). This port
# frees garbage only between runs (runPython calls), so main.py imports in one run, measures
# what stays resident in the next, and runs the session in a third: what the session run
# allocates all stays counted, an upper bound of its peak.
import gc
import micropython

import bench_case as C

gc.collect()
b0 = gc.mem_alloc()
print("QSTR before")
micropython.qstr_info()
from udlms.crypto import security  # noqa: E402
from udlms.client import session, token

resident = [0]


def settle():
    # a run of its own: the import's garbage is gone now
    gc.collect()
    resident[0] = gc.mem_alloc()


class Replay:
    # hands out the recorded answers, checks that our frames equal the golden ones; index
    # loops, no slices or copies: what the session run allocates is the library's
    def __init__(self):
        self.i = 0
        self.rx = b""
        self.p = 0
        self.match = True

    def write(self, b):
        i = self.i
        g = C.TX[i] if i < len(C.TX) else b""
        n = len(b)
        ok = n == len(g)
        j = 0
        while ok and j < n:
            ok = b[j] == g[j]
            j += 1
        if not ok and not C.same(bytes(b), g):  # the ciphered release differs by design
            self.match = False
        if i < len(C.RX):
            self.rx = C.RX[i]
            self.p = 0
        self.i = i + 1

    def readinto(self, buf):
        p = self.p
        n = min(len(buf), len(self.rx) - p)
        for j in range(n):
            buf[j] = self.rx[p + j]
        self.p = p + n
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
    end = gc.mem_alloc()
    print("WASM import=%d peak=%d accepted=%s match=%s frames=%d end=%d" % (
        resident[0] - b0, end - b0, r.accepted, w.match, w.i, end))
    print("QSTR after")
    micropython.qstr_info()
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
import json
with open("/board.json", "w") as f:
    f.write(BOARD_JSON)
with open("/config.json", "w") as f:
    json.dump({"ek": "000102030405060708090A0B0C0D0E0F", "ak": "D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF",
               "system_title": "4D4D4D0000000001"}, f)
del f, json
gc.collect()
b0 = gc.mem_alloc()
import tokenpad
from tokenpad import keypad  # main.py builds the keypad from it (no machine.Pin here)
app = tokenpad.use(tokenpad.build("/board.json", "/config.json"))
tokenpad.idle()  # as main.py does once the app is built
assert app.cfg.ok, app.cfg.errors
# --- next run ---
import gc
import sys
gc.collect()
print("WASM firmware import=%d" % (gc.mem_alloc() - b0))
print("WASM firmware modules=" + ",".join(sorted(
    k for k in sys.modules if k.startswith(("udlms", "tokenpad")))))
"""
# What main.py holds while it waits for a key (issue 26): the session path (udlms.client,
# link, crypto, cosem) is imported on '#' and forgotten after it (tokenpad.app._lean), the
# code that built the app is forgotten once it is built (tokenpad.idle).
FIRMWARE_IDLE = ("main.py's start (its polling loop needs no asyncio): tokenpad.build() from "
                 "boards/rpi_pico.json (its "
                 "display falls back to the console here, file store) and a config, keypad "
                 "module, then tokenpad.idle()")


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
            _bytecode(os.path.join(staged, name), out, build_mpy.source_name("udlms/" + name))
    os.makedirs(os.path.join(lib, "tokenpad"))
    for src in sorted(glob.glob(os.path.join(ROOT, "firmware", "tokenpad", "*.py"))):
        _bytecode(src, os.path.join(lib, "tokenpad", os.path.basename(src)[:-3] + ".mpy"),
                  build_mpy.source_name("tokenpad/" + os.path.basename(src)))
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
    with open(os.path.join(ROOT, "boards", "rpi_pico.json")) as f:
        board = f.read()
    with open(os.path.join(WASM_WORK, "firmware.py"), "w") as f:
        f.write("BOARD_JSON = %r\n" % board + WASM_FIRMWARE)
    with open(os.path.join(WASM_WORK, WASM_IMAGE), "wb") as f:
        f.write(romfs.image(lib))
    return lib, main


def _wasm_where(lib, mode):
    """run.mjs arguments: the lib directory, or the ROMFS image wasm_build made of it."""
    if mode != "romfs":
        return ["--lib", lib]
    return ["--romfs", os.path.join(WASM_WORK, WASM_IMAGE)]


def wasm_firmware_import(lib, mode):
    """Heap taken by importing tokenpad's modules and the udlms session path
    in the WebAssembly port, from a filesystem or a ROMFS image."""
    p = subprocess.run(["node", os.path.join(WASM_DIR, "run.mjs"), "1048576",
                        os.path.join(WASM_WORK, "firmware.py")] + _wasm_where(lib, mode),
                       capture_output=True, text=True, timeout=300)
    m = re.search(r"WASM firmware import=(\d+)", p.stdout)
    mods = re.search(r"WASM firmware modules=(\S*)", p.stdout)
    if p.returncode or not m or not mods:
        raise RuntimeError("WebAssembly firmware import (%s) failed: %s"
                           % (mode, (p.stdout + p.stderr)[-1500:]))
    return int(m.group(1)), mods.group(1).split(",")


def wasm_session(lib, main, mode, heap=WASM_HEAP):
    """One golden-case token session in the WebAssembly port, the modules in its filesystem
    (mode "filesystem") or in a ROMFS image (mode "romfs") -> dict of the figures."""
    p = subprocess.run(["node", os.path.join(WASM_DIR, "run.mjs"), str(heap), main]
                       + _wasm_where(lib, mode),
                       capture_output=True, text=True, timeout=300)
    out = p.stdout + p.stderr
    m = re.search(r"WASM import=(\d+) peak=(\d+) accepted=(\w+) match=(\w+) frames=(\d+) "
                  r"end=(\d+)", out)
    total = re.search(r"GC: total: (\d+)", out)
    if p.returncode or not m or not total or m.group(3) != "True":
        raise RuntimeError("WebAssembly session (%s) failed: %s" % (mode, out[-1500:]))
    q = re.findall(r"QSTR (?:before|after)\s+qstr pool: n_pool=\d+, n_qstr=(\d+), "
                   r"n_str_data_bytes=\d+, n_total_bytes=(\d+)", out)
    if len(q) != 2:
        raise RuntimeError("WebAssembly session (%s): no qstr_info figures: %s"
                           % (mode, out[-1500:]))
    return {"import": int(m.group(1)), "peak": int(m.group(2)), "match": m.group(4) == "True",
            "frames": int(m.group(5)), "total": int(total.group(1)), "end": int(m.group(6)),
            "qstr_names": int(q[1][0]) - int(q[0][0]),
            "qstr_bytes": int(q[1][1]) - int(q[0][1])}


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
                    "stays resident), the session in a third: gc.mem_alloc() at its end "
                    "minus gc.mem_alloc() before the imports (the interpreter, the golden "
                    "case's frames and the replay harness excluded: heap_at_end has them)",
             heap_at_end=r["end"],
             note="this port frees garbage only between runs (runPython calls), so the "
                  "value is the resident imports plus everything the session allocated: "
                  "an upper bound of its peak", **ctx)
        emit("wasm32_session_qstr_bytes", r["qstr_bytes"], "B", mode=mode,
             names=r["qstr_names"],
             method="micropython.qstr_info() n_total_bytes after the session minus before "
                    "the imports",
             note="the names the session path interned: part of the session bound, and "
                  "held for good after it on a board (a module dropped after the session "
                  "leaves its names behind); the pools' entries and slack count, ROMFS or "
                  "not", **ctx)
        emit("wasm32_heap_total_bytes", r["total"], "B", mode=mode,
             fits=r["total"] <= WASM_HEAP,
             note="GC total at the end: the port adds heap when an allocation does not "
                  "fit (the import run's garbage counts too), so the initial size means "
                  "everything fitted", **ctx)
        n, mods = wasm_firmware_import(built[0], mode)
        emit("wasm32_firmware_import_bytes", n, "B", mode=mode, what=FIRMWARE_IDLE,
             loaded=mods, impl=ctx["impl"],
             method="resident after the import, measured in the next run")


# -- the micropython lane's WebAssembly part (tools/run_tests.py runs it as a child) --------


def lane():
    """The golden token session in the 32-bit WebAssembly port with the library in a ROMFS
    image (the way a small board runs it from flash): it must fit the 64 KiB heap."""
    why = wasm_ready()
    if why:
        print("  wasm32 romfs session: skipped (%s)" % why)
        return 0, 0
    write_case_module(*load_case())
    lib, main = wasm_build()
    r = wasm_session(lib, main, "romfs")
    ok = r["match"] and r["total"] <= WASM_HEAP
    print("  wasm32 romfs session at 64k: %s (imports resident %d bytes, peak at most %d, "
          "heap after %d, frames equal golden: %s)"
          % ("fits" if ok else "FAIL: does not fit", r["import"], r["peak"], r["total"],
             r["match"]))
    p, f = (1, 0) if ok else (0, 1)
    p2, f2 = wasm32_live()
    return p + p2, f + f2


def _wasm_live_script(path):
    """A run.mjs script: import in one run, then each @test of ``path`` in a run of its own
    (this port frees garbage only between runs), printing what the test left allocated."""
    with open(path) as f:
        names = re.findall(r"^@test\ndef (\w+)\(", f.read(), re.M)
    mod = os.path.basename(path)[:-3]
    parts = ["import gc\nimport micropython\nimport sys\nimport %s as T\nR = [0, 0]\n" % mod,
             "gc.collect()\nprint('RESIDENT %d' % gc.mem_alloc())\n"]
    for n in names:
        parts.append(
            "try:\n    T.%s()\n    R[0] += 1\n    print('PASS %s')\n"
            "except Exception as e:\n    R[1] += 1\n    print('FAIL %s', repr(e))\n"
            "    sys.print_exception(e)\n"
            "gc.collect()\nprint('UPPER %%d' %% gc.mem_alloc())\n" % (n, n, n))
    parts.append("print('%d passed, %d failed' % tuple(R))\nmicropython.mem_info()\n")
    return "# --- next run ---\n".join(parts)


def wasm32_live():
    """e2e_session.py, the unix lane's end-to-end script, in the 32-bit WebAssembly port
    with the library in a ROMFS image, against the simulator on a pty (tools/wasm/run.mjs
    --serial), from a 64 KiB heap that must not grow. This port frees garbage only between
    runs, so each session runs in a run of its own and everything it allocates stays
    counted: an upper bound of its peak."""
    runner = os.path.join(WASM_WORK, "live.py")
    with open(runner, "w") as f:
        f.write(_wasm_live_script(os.path.join(ROOT, "host_tests", "mpy", "e2e_session.py")))
    sim, tty = start_sim(pty=True)
    try:
        rc, out = run(["node", os.path.join(WASM_DIR, "run.mjs"), str(WASM_HEAP),
                       runner, "--romfs", os.path.join(WASM_WORK, WASM_IMAGE),
                       "--serial", tty], timeout=300)
    finally:
        sim.terminate()
        sim.wait(5)
    p, f = counts(out, rc)
    if not p and not f:
        f = 1  # it ran no test
    total = re.search(r"GC: total: (\d+)", out)
    grew = not total or int(total.group(1)) > WASM_HEAP
    if grew:
        f += 1
    upper = [int(x) for x in re.findall(r"^UPPER (\d+)$", out, re.M)]
    res = re.search(r"^RESIDENT (\d+)$", out, re.M)
    print("  wasm32 romfs e2e_session.py over a pty at 64k: %d passed, %d failed (%s; "
          "resident after import %s bytes, each session at most %s)"
          % (p, f, "heap grew to %s" % (total.group(1) if total else "?") if grew
             else "heap never grew", res.group(1) if res else "?",
             max(upper) if upper else "?"))
    if f:
        print(out[-3000:])
    return p, f


def main(argv=None):
    """``python -m tools.bench.wasm --lane``: the WebAssembly part of the micropython lane,
    run by tools/run_tests.py as a child; ends with its ``N passed, N failed`` line."""
    argv = sys.argv[1:] if argv is None else argv
    if argv != ["--lane"]:
        raise SystemExit("usage: python -m tools.bench.wasm --lane")
    p, f = lane()
    print("%d passed, %d failed" % (p, f))
    return 1 if f else 0


if __name__ == "__main__":
    sys.exit(main())
