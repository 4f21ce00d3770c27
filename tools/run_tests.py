"""Run every test lane and print one summary line per lane plus the totals.

Lanes (see README.md):
  lint    ruff check over lib/, firmware/, host_tests/, tools/
  pytest  CPython tests in host_tests/
  mpy     host_tests/mpy/test_*.py inside the real MicroPython unix port, -X heapsize=64k,
          every module in lib/ imported there, the e2e_*.py scripts against the simulator
          (at 64k, reported, then at E2E_HEAP), and in the 32-bit WebAssembly port (node,
          library in ROMFS, 64 KiB heap) the golden session and e2e_session.py over a pty
  cross   mpy-cross compiles every .py under lib/, firmware/, boards/ for xtensawin and armv6m
  board   tools/board/lane.py: the official MicroPython RPI_PICO firmware the user gives
          (PICO_FIRMWARE=path/to/RPI_PICO.uf2) in an emulated Pico (rp2040js): make deploy
          over USB, keypad/display/RS-485 with the simulator, REPL, power cuts on littlefs,
          memory figures
  esp32   the official MicroPython ESP32_GENERIC image in Espressif's QEMU, both given by
          the user (ESP32_QEMU=, ESP32_ROM_DIR=, ESP32_FIRMWARE=; tools/board/esp32_lane.py):
          deploy, keypad tokens accepted/refused/no answer, REPL helpers, power cuts, memory
  board-cp  the official CircuitPython Feather RP2040 firmware the user gives
          (CIRCUITPYTHON_FIRMWARE=path/to.uf2) on an emulated Feather RP2040
          (tools/board/cp_lane.py): boot.py/code.py, keypad token accepted/refused/no answer,
          REPL helpers, nvm store under power cuts, heap figures

A lane whose firmware was not given prints one line "LANE: not run: why" and counts neither
passed nor failed. A lane that runs fails if any of its tests fails or if it ran none.
Exit status 0 only if every lane that ran passed.
"""

import glob
import os
import re
import subprocess
import sys
import tempfile
import time

from tools.common import (BIN, LANE_BUILD, LANE_TESTS, MICROPYTHON, ROOT, build_lane,
                          counts, run, start_sim)

HEAP = "64k"
E2E_HEAP = "112k"  # e2e_session.py passes from 88k, e2e_iec21.py from 98k (2026-11-25)


def lane_lint():
    rc, out = run([os.path.join(BIN, "ruff"), "check", "lib", "firmware", "host_tests", "tools"])
    files = [f for d in ("lib", "firmware", "host_tests", "tools")
             for f in glob.glob(os.path.join(ROOT, d, "**", "*.py"), recursive=True)]
    if rc:
        print(out)
        return 0, 1
    return len(files), 0


def lane_pytest(extra):
    with tempfile.TemporaryDirectory() as tmp:
        xml = os.path.join(tmp, "junit.xml")
        cmd = [os.path.join(BIN, "pytest"), "host_tests", "-q", "-p", "no:cacheprovider",
               "-rs", "--junitxml", xml] + extra
        p = subprocess.run(cmd, cwd=ROOT)
        try:
            text = open(xml).read()
        except OSError:
            text = ""
    passed = failed = 0
    try:
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
    pc_only = [m for m in mods if m.startswith("udlms.host.sim.")]
    for m in mods:
        if m.endswith("__main__") or m in pc_only:
            continue
        name = m[:-len(".__init__")] if m.endswith(".__init__") else m
        rc, out = run([MICROPYTHON, "-X", "heapsize=" + HEAP, "-c", "import " + name], env=env)
        if rc:
            failed += 1
            print("FAIL import %s under MicroPython:\n%s" % (name, out))
        else:
            passed += 1
    print("  mpy imports: %d modules import with -X heapsize=%s" % (passed, HEAP))
    print("  mpy imports: %d modules of udlms.host.sim not imported: the simulated meter is "
          "PC-only (threads, pyca cryptography)" % len(pc_only))
    scripts = sorted(glob.glob(os.path.join(ROOT, "host_tests", "mpy", "test_*.py")))
    scripts += sorted(glob.glob(os.path.join(ROOT, "host_tests", "mpy", "e2e_*.py")))
    for path in scripts:
        t0 = time.time()
        heap = HEAP
        sim = None
        target = [path]
        e2e = os.path.basename(path).startswith("e2e_")
        if e2e:
            target = ["-m", os.path.basename(path)[:-3]]  # its .mpy (build_lane)
            # end to end against the simulator: code loaded from .mpy lives in the heap on
            # the unix port, so these run with E2E_HEAP (see README, Memory)
            heap = E2E_HEAP
        with open(path) as f:  # a script may ask for more: "# lane-heap: 80k"
            for line in f:
                if line.startswith("# lane-heap:"):
                    heap = line.split(":", 1)[1].split()[0]
        if e2e:
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
    # the WebAssembly part: the bench's module owns it, run here as a program
    rc, out = run([sys.executable, "-m", "tools.bench.wasm", "--lane"], timeout=1200)
    print("\n".join(ln for ln in out.splitlines()
                    if not re.match(r"^\d+ passed, \d+ failed$", ln)))
    p, f = counts(out, rc)
    return passed + p, failed + f


def not_run(var, example):
    """The reason a board lane does not run (its firmware not given), or None. A path given
    but missing is no reason not to run: the lane runs and fails, naming it."""
    if not os.environ.get(var):
        return "no firmware; %s=%s runs it" % (var, example)
    return None


def lane_board():
    """tools/board/lane.py in a child process, its lines shown as they come, on the
    official RPI_PICO firmware the user gives with PICO_FIRMWARE= (not run without it)."""
    why = not_run("PICO_FIRMWARE", "path/to/RPI_PICO.uf2")
    if why:
        return why
    p = subprocess.Popen([sys.executable, "-m", "tools.board.lane"], cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
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
    files = []
    for d in ("lib", "firmware", "boards"):
        files += glob.glob(os.path.join(ROOT, d, "**", "*.py"), recursive=True)
    with tempfile.TemporaryDirectory() as out_dir:
        for f in sorted(files):
            for arch in ("xtensawin", "armv6m"):
                out = os.path.join(out_dir, arch + "_" + os.path.basename(f) + ".mpy")
                rc, text = run([os.path.join(BIN, "mpy-cross"), "-march=" + arch, "-o", out, f])
                if rc:
                    failed += 1
                    print("FAIL mpy-cross -march=%s %s\n%s"
                          % (arch, os.path.relpath(f, ROOT), text))
                else:
                    passed += 1
    return passed, failed


def lane_board_cp():
    """The CircuitPython board lane: tools/board/cp_lane.py on the official CircuitPython
    Feather RP2040 firmware the user gives with CIRCUITPYTHON_FIRMWARE= (not run without it);
    with it, fails (never skips) when the board misbehaves."""
    why = not_run("CIRCUITPYTHON_FIRMWARE", "path/to/adafruit_feather_rp2040.uf2")
    if why:
        return why
    rc, out = run([sys.executable, "-m", "tools.board.cp_lane",
                   "--json", os.path.join(ROOT, "build", "board-cp-figures.json")],
                  timeout=1500)
    print(out, end="")
    return counts(out, rc)


def lane_board_esp32():
    """tools/board/esp32_lane.py: the official MicroPython ESP32_GENERIC image in Espressif's
    QEMU, both given by the user (ESP32_QEMU=, ESP32_ROM_DIR=, ESP32_FIRMWARE=); not run
    without them (the lane says why in one line)."""
    from tools.board import esp32_lane, esp32board

    why = esp32board.setup()
    if why is None:
        return "no emulator/firmware; ESP32_QEMU=... ESP32_ROM_DIR=... ESP32_FIRMWARE=... runs it"
    if isinstance(why, str):  # given, but not all of it or not there: a failure, named
        print("FAIL esp32: %s" % why)
        return 0, 1
    return esp32_lane.run_lane()


def main():
    extra = sys.argv[1:]
    lanes = [("lint", lane_lint), ("pytest", lambda: lane_pytest(extra)),
             ("micropython", lane_mpy), ("mpy-cross", lane_cross), ("board", lane_board),
             ("board-cp", lane_board_cp), ("esp32", lane_board_esp32)]
    results = []
    skipped = []
    for name, fn in lanes:
        print("=== lane: %s" % name, flush=True)
        t0 = time.time()
        r = fn()
        if isinstance(r, str):  # a lane that cannot run here: said once, at the end,
            skipped.append((name, r))  # and counted neither way
            continue
        results.append((name, r[0], r[1], time.time() - t0))
    print()
    ok = True
    for name, p, f, dt in results:
        status = "ok" if (f == 0 and p > 0) else "FAILED"
        if status != "ok":
            ok = False
        print("%-12s %s: %d passed, %d failed (%.0fs)" % (name, status, p, f, dt))
    for name, why in skipped:
        print("%s: not run: %s" % (name, why))
    tp = sum(r[1] for r in results)
    tf = sum(r[2] for r in results)
    print("total: %d passed, %d failed" % (tp, tf))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
