"""Run every test lane and print one summary line per lane plus the totals.

Lanes (see README.md):
  lint    ruff check over lib/, firmware/, host_tests/, tools/
  pytest  CPython tests in host_tests/
  mpy     host_tests/mpy/test_*.py inside the real MicroPython unix port, -X heapsize=64k,
          every module in lib/ imported there, the e2e_*.py scripts against the simulator
          (at 64k, reported, then at E2E_HEAP), and in the 32-bit WebAssembly port (node,
          library in ROMFS, 64 KiB heap) the golden session and e2e_session.py over a pty
  cross   mpy-cross compiles every .py under lib/, firmware/, boards/ for xtensawin and armv6m
  board   tools/board/lane.py: the official MicroPython RPI_PICO firmware in an emulated Pico
          (rp2040js): make deploy over USB, keypad/display/RS-485 with the simulator, REPL,
          power cuts on littlefs, memory figures. Runs on PICO_FIRMWARE=path/to/RPI_PICO.uf2
  board-cp  CircuitPython on an emulated Feather RP2040 (tools/board/cp_lane.py):
          boot.py/code.py, keypad token accepted/refused/no answer, REPL helpers, nvm
          store under power cuts, heap figures. Runs on CIRCUITPYTHON_FIRMWARE=path/to.uf2

A lane fails if any of its tests fails or if it ran none. Exit status 0 only if all pass.
"""

import glob
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, ".venv", "bin")
MICROPYTHON = os.path.join(BIN, "micropython")
HEAP = "64k"
E2E_HEAP = "112k"  # e2e_session.py passes from 88k, e2e_iec21.py from 98k (2026-11-25)


def start_sim(*args, pty=False):
    """tools/meter_sim.py on a free TCP port, or on a pty with ``pty=True``; returns
    (process, "tcp://127.0.0.1:PORT" or the pty's device path)."""
    how = ["--pty"] if pty else ["--tcp", "0"]
    p = subprocess.Popen([sys.executable, os.path.join(ROOT, "tools", "meter_sim.py")] + how
                         + list(args), stdout=subprocess.PIPE, text=True, cwd=ROOT)
    line = p.stdout.readline()
    if ("pty " if pty else "tcp://") not in line:
        p.kill()
        raise RuntimeError("simulator did not start: " + line)
    return p, line.split()[-1]


def counts(out, rc):
    """(passed, failed) from a script's closing ``N passed, N failed`` line; a non-zero
    exit without failures counts as one failure."""
    m = re.findall(r"^(\d+) passed, (\d+) failed$", out, re.M)
    p, f = (int(m[-1][0]), int(m[-1][1])) if m else (0, 0)
    if rc and not f:
        f = 1
    return p, f


def run(cmd, env=None, timeout=1200):
    p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout + p.stderr


def lane_lint():
    rc, out = run([os.path.join(BIN, "ruff"), "check", "lib", "firmware", "host_tests", "tools"])
    files = [f for d in ("lib", "firmware", "host_tests", "tools")
             for f in glob.glob(os.path.join(ROOT, d, "**", "*.py"), recursive=True)]
    if rc:
        print(out)
        return 0, 1
    return len(files), 0


def lane_pytest(extra):
    xml = os.path.join(tempfile.mkdtemp(), "junit.xml")
    cmd = [os.path.join(BIN, "pytest"), "host_tests", "-q", "-p", "no:cacheprovider",
           "--junitxml", xml] + extra
    p = subprocess.run(cmd, cwd=ROOT)
    passed = failed = 0
    try:
        text = open(xml).read()
        m = re.search(r'<testsuite [^>]*>', text)
        attrs = dict(re.findall(r'(\w+)="([^"]*)"', m.group(0)))
        total = int(attrs.get("tests", 0))
        failed = int(attrs.get("failures", 0)) + int(attrs.get("errors", 0))
        skipped = int(attrs.get("skipped", 0))
        passed = total - failed - skipped
    except (OSError, AttributeError):
        failed = 1
    if p.returncode not in (0, 5) and not failed:
        failed = 1
    return passed, failed


LANE_BUILD = os.path.join(ROOT, "build", "mpy-lane")
LANE_TESTS = os.path.join(ROOT, "build", "mpy-lane-tests")


def build_lane():
    """Compile lib/ and firmware/ to .mpy for the unix port, as boards run them (sources
    compiled on a 64 KB heap would measure the compiler, not the library)."""
    import platform

    arch = {"x86_64": "x64", "AMD64": "x64", "i686": "x86", "aarch64": "arm64"}.get(
        platform.machine())
    import shutil

    import msgtable

    shutil.rmtree(LANE_BUILD, ignore_errors=True)  # no stale modules from renamed files
    # lib/udlms as a board gets it: error messages moved to udlms/messages.txt
    staged = os.path.join(tempfile.mkdtemp(prefix="lane-src-"), "lib")
    msgtable.stage(os.path.join(staged, "udlms"))
    os.makedirs(os.path.join(LANE_BUILD, "udlms"))
    shutil.copy(os.path.join(staged, "udlms", msgtable.MESSAGES),
                os.path.join(LANE_BUILD, "udlms"))
    errors = []

    def compile_one(src, out, name):
        rc, text = run([os.path.join(BIN, "mpy-cross")] + (["-march=" + arch] if arch else [])
                       + ["-o", out, "-s", name, src])
        if rc:
            errors.append("%s: %s" % (name, text.strip()))

    for d in ("lib", "firmware"):
        base = staged if d == "lib" else os.path.join(ROOT, d)
        for f in glob.glob(os.path.join(base, "**", "*.py"), recursive=True):
            rel = os.path.relpath(f, base)
            out = os.path.join(LANE_BUILD, os.path.splitext(rel)[0] + ".mpy")
            os.makedirs(os.path.dirname(out), exist_ok=True)
            compile_one(f, out, rel)
    shutil.rmtree(os.path.dirname(staged), ignore_errors=True)
    # the end-to-end scripts and their harness run as .mpy too: compiled on the 64 KB heap
    # they would measure the compiler's leftovers, not the library
    shutil.rmtree(LANE_TESTS, ignore_errors=True)
    os.makedirs(LANE_TESTS)
    for f in glob.glob(os.path.join(ROOT, "host_tests", "mpy", "*.py")):
        name = os.path.basename(f)
        if name == "mpytest.py" or name.startswith("e2e_"):
            compile_one(f, os.path.join(LANE_TESTS, name[:-3] + ".mpy"), name)
    return errors


def _mpy_env():
    env = dict(os.environ)
    env["MICROPYPATH"] = os.pathsep.join(
        [LANE_BUILD, LANE_TESTS, os.path.join(ROOT, "host_tests", "mpy"),
         os.path.join(ROOT, "tools")])
    return env


def lane_mpy():
    env = _mpy_env()
    passed = failed = 0
    errs = build_lane()
    for e in errs:
        failed += 1
        print("FAIL mpy-cross for the unix port: " + e)
    # every library module must import under MicroPython with a small heap
    lib = os.path.join(ROOT, "lib")
    mods = sorted(os.path.splitext(os.path.relpath(f, lib))[0].replace(os.sep, ".")
                  for f in glob.glob(os.path.join(lib, "udlms", "**", "*.py"), recursive=True))
    for m in mods:
        if m.endswith("__main__"):
            continue
        name = m[:-len(".__init__")] if m.endswith(".__init__") else m
        rc, out = run([MICROPYTHON, "-X", "heapsize=" + HEAP, "-c", "import " + name], env=env)
        if rc:
            failed += 1
            print("FAIL import %s under MicroPython:\n%s" % (name, out))
        else:
            passed += 1
    print("  mpy imports: %d modules import with -X heapsize=%s" % (passed, HEAP))
    scripts = sorted(glob.glob(os.path.join(ROOT, "host_tests", "mpy", "test_*.py")))
    scripts += sorted(glob.glob(os.path.join(ROOT, "host_tests", "mpy", "e2e_*.py")))
    for path in scripts:
        t0 = time.time()
        heap = HEAP
        sim = None
        target = [path]
        if os.path.basename(path).startswith("e2e_"):
            target = ["-m", os.path.basename(path)[:-3]]  # its .mpy (build_lane)
            # end to end against the simulator: code loaded from .mpy lives in the heap on
            # the unix port, so these run with E2E_HEAP (see README, Memory)
            heap = E2E_HEAP
            with open(path) as f:  # a script may ask for more: "# lane-heap: 144k"
                for line in f:
                    if line.startswith("# lane-heap:"):
                        heap = line.split(":", 1)[1].split()[0]
            sim, url = start_sim()
            env = dict(env, SIM_URL=url)
            # say plainly whether it fits the 64k target yet (not counted: see README Memory)
            rc64, out64 = run([MICROPYTHON, "-X", "heapsize=" + HEAP] + target, env=env)
            why = [ln.strip() for ln in out64.splitlines() if "Error" in ln][:1] or ["failed"]
            print("  mpy %-40s at %s: %s" % (os.path.relpath(path, ROOT), HEAP,
                                              "fits" if rc64 == 0 else
                                              "does not fit yet (%s)" % why[0][:70]))
            sim.terminate()
            sim.wait(5)
            sim, url = start_sim()
            env = dict(env, SIM_URL=url)
        try:
            rc, out = run([MICROPYTHON, "-X", "heapsize=" + heap] + target, env=env)
        finally:
            if sim is not None:
                sim.terminate()
                sim.wait(5)
        p, f = counts(out, rc)
        passed += p
        failed += f
        name = os.path.relpath(path, ROOT)
        print("  mpy %-40s %3d passed, %d failed (%.1fs, heap %s)"
              % (name, p, f, time.time() - t0, heap))
        for line in out.splitlines():
            if line.startswith(("peak heap", "heap:")) or "bytes allocated" in line:
                print("      " + line)
        if f or rc:
            print(out[-4000:])
    p, f = lane_wasm32()
    return passed + p, failed + f


def lane_wasm32():
    """The golden token session in the 32-bit WebAssembly port with the library in a ROMFS
    image (the way a small board runs it from flash): it must fit the 64 KiB heap."""
    import bench

    why = bench.wasm_ready()
    if why:
        print("  wasm32 romfs session: skipped (%s)" % why)
        return 0, 0
    bench.write_case_module(*bench.load_case())
    lib, main = bench.wasm_build()
    r = bench.wasm_session(lib, main, "romfs")
    ok = r["match"] and r["total"] <= bench.WASM_HEAP
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
    import bench

    runner = os.path.join(bench.WASM_WORK, "live.py")
    with open(runner, "w") as f:
        f.write(_wasm_live_script(os.path.join(ROOT, "host_tests", "mpy", "e2e_session.py")))
    sim, tty = start_sim(pty=True)
    try:
        rc, out = run(["node", os.path.join(bench.WASM_DIR, "run.mjs"), str(bench.WASM_HEAP),
                       runner, "--romfs", os.path.join(bench.WASM_WORK, bench.WASM_IMAGE),
                       "--serial", tty], timeout=300)
    finally:
        sim.terminate()
        sim.wait(5)
    p, f = counts(out, rc)
    if not p and not f:
        f = 1  # it ran no test
    total = re.search(r"GC: total: (\d+)", out)
    grew = not total or int(total.group(1)) > bench.WASM_HEAP
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


def lane_board():
    """tools/board/lane.py in a child process, its lines shown as they come."""
    p = subprocess.Popen([sys.executable, os.path.join(ROOT, "tools", "board", "lane.py")],
                         cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in p.stdout:
        lines.append(line)
        print(line, end="", flush=True)
    rc = p.wait()
    passed, failed = counts("".join(lines), rc)
    if not passed and not failed:
        failed = 1  # it ran no check
    return passed, failed


def lane_cross():
    passed = failed = 0
    out_dir = tempfile.mkdtemp()
    files = []
    for d in ("lib", "firmware", "boards"):
        files += glob.glob(os.path.join(ROOT, d, "**", "*.py"), recursive=True)
    for f in sorted(files):
        for arch in ("xtensawin", "armv6m"):
            out = os.path.join(out_dir, arch + "_" + os.path.basename(f) + ".mpy")
            rc, text = run([os.path.join(BIN, "mpy-cross"), "-march=" + arch, "-o", out, f])
            if rc:
                failed += 1
                print("FAIL mpy-cross -march=%s %s\n%s" % (arch, os.path.relpath(f, ROOT), text))
            else:
                passed += 1
    return passed, failed


def lane_board_cp():
    """The CircuitPython part of the board lane: tools/board/cp_lane.py (CircuitPython
    10.2.1 on the emulated Feather RP2040). Fails, never skips, when the board misbehaves
    or the firmware is missing (CIRCUITPYTHON_FIRMWARE= elsewhere)."""
    rc, out = run([sys.executable, os.path.join(ROOT, "tools", "board", "cp_lane.py"),
                   "--json", os.path.join(ROOT, "build", "board-cp-figures.json")],
                  timeout=1500)
    print(out, end="")
    return counts(out, rc)


def main():
    extra = sys.argv[1:]
    lanes = [("lint", lane_lint), ("pytest", lambda: lane_pytest(extra)),
             ("micropython", lane_mpy), ("mpy-cross", lane_cross), ("board", lane_board),
             ("board-cp", lane_board_cp)]
    results = []
    for name, fn in lanes:
        print("=== lane: %s" % name, flush=True)
        t0 = time.time()
        p, f = fn()
        results.append((name, p, f, time.time() - t0))
    print()
    ok = True
    for name, p, f, dt in results:
        status = "ok" if (f == 0 and p > 0) else "FAILED"
        if status != "ok":
            ok = False
        print("%-12s %s: %d passed, %d failed (%.0fs)" % (name, status, p, f, dt))
    tp = sum(r[1] for r in results)
    tf = sum(r[2] for r in results)
    print("total: %d passed, %d failed" % (tp, tf))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
