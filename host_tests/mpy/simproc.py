"""Simulators started by a script that needs another meter than the one the lane runner
started (python -m udlms.host.sim --tcp 0 ARGS in the background), stopped by process id. Kept
out of mpytest so the unit scripts' 64 KB heap does not hold it."""

_tests = []  # a distinct object per process, for unique log names


def start_sim(args="", tag=""):
    """Another simulator for a script that needs a different meter: python -m udlms.host.sim
    --tcp 0 ARGS in the background (unix port and CPython) -> (url, pidfile); stop it
    with ``stop_sim(pidfile)``."""
    import os
    import time

    here = globals().get("__file__", "").replace("\\", "/")
    root = here.rsplit("/", 3)[0] if here.count("/") >= 3 else "."
    if not _exists(root + "/lib/udlms/host/sim/meter.py"):
        root = "."  # the lane runs from the repository root (this file from build/)
    log = "/tmp/simproc_sim_%d%s.log" % (id(_tests) & 0xFFFFFF, tag)
    py = root + "/.venv/bin/python"
    py = py if _exists(py) else "python3"
    os.system("PYTHONPATH=%s/lib %s -m udlms.host.sim --tcp 0 %s > %s 2>&1 & echo $! > %s.pid"
              % (root, py, args, log, log))
    for _ in range(100):
        time.sleep(0.1)
        text = _read(log)
        i = text.find("tcp://")
        if i >= 0 and "\n" in text[i:]:
            return text[i:text.index("\n", i)].strip(), log + ".pid"
    stop_sim(log + ".pid")
    raise AssertionError("meter simulator did not start: %s" % text)


def stop_sim(pidfile):
    """Stop a simulator start_sim() started, by its process id."""
    import os

    pid = _read(pidfile).strip()
    if pid.isdigit():
        os.system("kill %s" % pid)


def _exists(p):
    try:
        open(p).close()
        return True
    except OSError:
        return False


def _read(p):
    try:
        with open(p) as f:
            return f.read()
    except OSError:
        return ""
