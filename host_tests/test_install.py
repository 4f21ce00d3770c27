"""What a PC user does (issue 25): build the wheel and the sdist from the checkout, install the
wheel into a fresh virtual environment, and from another folder run ``udlms --version``,
``udlms enter-token --help``, ``udlms sim --tcp 0``, a token session against that simulator
with ``--trace`` and ``udlms decode`` of the trace. Nothing here uses lib/ from the checkout:
the commands run from the fresh environment with PYTHONPATH unset.

The wheel is built offline (``pip wheel --no-deps --no-build-isolation``, with the setuptools
pinned in requirements-dev.txt) from a copy of the files the build reads, so no stale
``build/`` folder of the checkout can add or hide a module; the wheel's dependencies
(pyserial, cryptography) come from the package index pip is set up with, or its cache."""

import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EK = "000102030405060708090A0B0C0D0E0F"
AK = "D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF"
TITLE = "4D4D4D0000000001"
TOKEN = "1781 3034 3131 9155 8529"
BUDGET_S = 60  # build + fresh venv + install


def _sh(cmd, cwd, timeout=300, env=None):
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    assert p.returncode == 0, "%s\n%s%s" % (" ".join(cmd), p.stdout[-3000:], p.stderr[-3000:])
    return p.stdout


def _sources():
    """Every .py under lib/udlms, as paths relative to lib/ ("udlms/host/sim/meter.py")."""
    out = []
    for d, dirs, files in os.walk(os.path.join(ROOT, "lib", "udlms")):
        dirs[:] = [x for x in dirs if x != "__pycache__"]
        out += [os.path.relpath(os.path.join(d, f), os.path.join(ROOT, "lib")).replace(os.sep, "/")
                for f in files if f.endswith(".py")]
    return sorted(out)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    base = tmp_path_factory.mktemp("install")
    src, dist, venv = base / "src", base / "dist", base / "venv"
    t0 = time.time()
    src.mkdir()
    for f in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(os.path.join(ROOT, f), src / f)
    shutil.copytree(os.path.join(ROOT, "lib"), src / "lib",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc"))
    _sh([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(dist), str(src)], cwd=base)
    _sh([sys.executable, "-c", "import sys; from setuptools import build_meta as b; "
         "b.build_sdist(sys.argv[1])", str(dist)], cwd=src)
    t_build = time.time() - t0
    _sh([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=base)
    wheel = next(dist.glob("udlms-*.whl"))
    _sh([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
         str(wheel)], cwd=base)
    took = time.time() - t0
    print("\ninstall test: wheel and sdist built in %.1f s, fresh venv with the wheel and its "
          "dependencies in %.1f s more (%.1f s in all)" % (t_build, took - t_build, took))
    assert took < BUDGET_S, "building and installing took %.0f s" % took
    elsewhere = base / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["HOME"] = str(base / "home")  # counters and journal of the default locations
    return {"dist": dist, "bin": venv / "bin", "cwd": elsewhere, "env": env, "base": base}


def _udlms(inst, args, timeout=60):
    return subprocess.run([str(inst["bin"] / "udlms")] + args, cwd=inst["cwd"],
                          env=inst["env"], capture_output=True, text=True, timeout=timeout)


def test_the_wheel_holds_every_module_of_lib_udlms(installed):
    wheel = next(installed["dist"].glob("udlms-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [m for m in _sources() if m not in names]
    assert not missing, missing
    assert "udlms/host/sim/__main__.py" in names and "udlms/host/cli/main.py" in names
    assert not [n for n in names if n.startswith(("tools/", "host_tests/", "firmware/"))]


def test_the_sdist_holds_every_module_of_lib_udlms(installed):
    sdist = next(installed["dist"].glob("udlms-*.tar.gz"))
    with tarfile.open(sdist) as t:
        names = {n.split("/", 1)[1] for n in t.getnames() if "/" in n}
    missing = [m for m in _sources() if "lib/" + m not in names]
    assert not missing, missing
    assert {"pyproject.toml", "README.md", "LICENSE"} <= names


def test_installed_udlms_is_the_wheel_not_the_checkout(installed):
    out = subprocess.run([str(installed["bin"] / "python"), "-c",
                          "import udlms.host.sim.meter as m; print(m.__file__)"],
                         cwd=installed["cwd"], env=installed["env"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(str(installed["bin"].parent)), out.stdout
    assert not out.stdout.startswith(ROOT)


def test_version_and_help_from_another_folder(installed):
    r = _udlms(installed, ["--version"])
    assert r.returncode == 0 and r.stdout.startswith("udlms 0."), r.stdout + r.stderr
    r = subprocess.run([str(installed["bin"] / "python"), "-m", "udlms", "--version"],
                       cwd=installed["cwd"], env=installed["env"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.startswith("udlms 0."), r.stdout + r.stderr
    r = _udlms(installed, ["enter-token", "--help"])
    assert r.returncode == 0 and "--force" in r.stdout and "exit status" in r.stdout, r.stderr


def test_sim_token_session_and_decode_of_its_trace(installed):
    sim = subprocess.Popen([str(installed["bin"] / "udlms"), "sim", "--tcp", "0", "--ek", EK,
                            "--ak", AK], cwd=installed["cwd"], env=installed["env"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = sim.stdout.readline()
        m = re.search(r"tcp://127\.0\.0\.1:\d+", line)
        assert m, "udlms sim did not start: %r" % line
        trace = installed["base"] / "trace.txt"
        counters = installed["base"] / "counters.json"
        r = _udlms(installed, ["enter-token", TOKEN, "--port", m.group(0), "--ek", EK,
                               "--ak", AK, "--system-title", TITLE, "--counter-file",
                               str(counters), "--trace", str(trace)])
        assert r.returncode == 0 and r.stdout.startswith("ACCEPTED"), r.stdout + r.stderr
        again = _udlms(installed, ["enter-token", TOKEN, "--port", m.group(0), "--ek", EK,
                                   "--ak", AK, "--system-title", TITLE, "--counter-file",
                                   str(counters)])
        assert again.returncode == 1, again.stdout + again.stderr  # the meter refuses a reuse
    finally:
        sim.terminate()
        sim.wait(10)
    frames = trace.read_text().splitlines()
    assert frames and all(f.startswith(("TX: 7E", "RX: 7E")) for f in frames), frames[:3]
    r = _udlms(installed, ["decode", str(trace), "--ek", EK, "--ak", AK,
                           "--system-title", TITLE])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "AARQ" in r.stdout and "glo-action-request" in r.stdout
    # the token, deciphered: 20 ASCII digits in the Token Gateway's method 1 call
    digits = TOKEN.replace(" ", "").encode().hex().upper()
    assert "0000132800FF01" in r.stdout and digits in r.stdout
    assert "Traceback" not in r.stdout + r.stderr
