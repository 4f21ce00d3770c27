"""The CircuitPython part of the board lane: tokenpad on CircuitPython 10.2.1 on an emulated
Adafruit Feather RP2040 (tools/board/cpboard.py on the shared runner), deployed the way
``make deploy BOARD=feather_rp2040`` lays out CIRCUITPY, against udlms.host.sim.

Checks (each one line, PASS/FAIL; the closing line is ``N passed, N failed``):
  boot.py leaves the drive to the computer; A1 held at reset gives it to tokenpad;
  code.py runs the app (READY on the LCD); a token typed on the keypad is ACCEPTED (the
  fresh board reads the meter's frame counter itself); the same token again is REJECTED
  with the meter's reason; a silent meter gives NO ANSWER; the REPL helpers (tp.status,
  tp.history, tp.resync, tp.enter, tp.probe) and what they hold (board_cp_resident_idle,
  board_cp_session_growth); the nvm store under power cuts at seeded instants (no
  invocation counter reused, no journal entry lost); the app's heap measured as the Pico
  lane measures it (tools/board/cpheap.py, on a board of its own: app idle after READY
  and Ctrl-C, held after token sessions, the live heap at a session's peak, the bare
  firmware).

  python tools/board/cp_lane.py [--cuts N] [--seed S] [--json FIGURES.json]

Runs on the firmware the user gives: CIRCUITPYTHON_FIRMWARE=path/to/the Feather RP2040 .uf2
(circuitpython.org); CIRCUITPY_MPY_CROSS= makes the drive hold .mpy files, else .py sources.
Without the firmware it prints ``board-cp: not run: no firmware; ...`` and exits 3 (neither
passed nor failed). Exits 1 when any check fails or the board does not boot.
"""

import argparse
import json
import os
import random
import sys
import time
import traceback

from tools.board import cpheap, cpboard
from udlms.host.sim import meter as meter_sim

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


TOKENS = ("17813034313191558529", "05718854590197211241", "35632826060789593280",
          "12345678901234567890", "00000000000000000001", "73786976294838206463",
          "11112222333344445555", "99998888777766665555", "24681357246813572468",
          "10203040506070809000", "31415926535897932384", "27182818284590452353")
FEATHER = cpboard.board_file()
STORE = json.dumps(FEATHER["store"])
NOT_RUN = 3  # exit status: no firmware given, nothing checked

results = []
figures = {}


def check(name, fn):
    t = time.time()
    try:
        detail = fn()
        results.append((name, True))
        print("PASS %-52s %5.1fs %s" % (name, time.time() - t, detail or ""), flush=True)
    except Exception as e:  # noqa: BLE001 - every failure is reported, then counted
        results.append((name, False))
        print("FAIL %-52s %5.1fs %s" % (name, time.time() - t, e), flush=True)
        if os.environ.get("CP_LANE_DEBUG"):
            traceback.print_exc()


def meter():
    m = meter_sim.Meter()
    srv = meter_sim.TcpServer(m, 0).start()
    return m, srv


def repl_run(b, code, timeout=120):
    """Run code at the friendly prompt (as a person types it); returns what it printed."""
    b.output(0.1)
    b.write(code.replace("\n", "\r\n") + "\r\n")
    out = b.read_until(b">>> ", timeout).decode(errors="replace")
    return out


def heap(b):
    return int(b.exec("import gc\ngc.collect()\nprint(gc.mem_free())").strip())


def main(argv=None):
    p = argparse.ArgumentParser(prog="cp_lane", description=__doc__.split("\n")[0])
    p.add_argument("--cuts", type=int, default=int(os.environ.get("CP_CUTS", "8")))
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", help="write the board_cp_* figures here")
    p.add_argument("--only", choices=["cuts"], help="run only the power cuts (development)")
    p.add_argument("--figures-only", action="store_true",
                   help="only boot, measure the heap and one token session (make bench)")
    a = p.parse_args(argv)
    t0 = time.time()
    try:
        cpboard.firmware()
    except cpboard.NoFirmware as e:
        print("board-cp: not run: %s" % e)
        return NOT_RUN
    except cpboard.BoardError as e:
        print("FAIL %-52s %s" % ("firmware", e))
        print("0 passed, 1 failed")
        return 1
    m, srv = meter()
    url = "tcp://127.0.0.1:%d" % srv.port
    # the example settings, with a shorter answer time-out so that NO ANSWER comes sooner
    # (the emulated CPU runs at about a tenth of real time while it polls the port)
    with open(os.path.join(ROOT, "firmware", "config.example.json")) as f:
        cfg = json.load(f)
    cfg.update(timeout_ms=1500, retries=1)
    import tempfile

    tmp = tempfile.mkdtemp(prefix="circuitpy-")
    cfg_path = os.path.join(tmp, "config.json")
    with open(cfg_path, "w") as f:
        json.dump(cfg, f)
    # the drive is what `make deploy BOARD=feather_rp2040 PORT=<drive>` leaves on it
    files = cpboard.deploy_to_dir(os.path.join(tmp, "CIRCUITPY"), cfg_path)
    print("deploy: %d files on CIRCUITPY (%s)" % (len(files), ", ".join(
        sorted(f for f in files if "/" not in f))))
    try:
        b = cpboard.Feather(cpboard.drive_image(files), uart0=url)
    except Exception as e:  # noqa: BLE001
        print("FAIL %-52s %s" % ("the Feather runner starts", e))
        print("0 passed, 1 failed")
        return 1
    try:
        if a.figures_only:
            check("heap and session figures", lambda: measure(b))
        else:
            run_checks(b, m, url, a)
        b.close()
        if a.only != "cuts":
            check("memory: app idle, sessions, peak (as the Pico lane)",
                  lambda: app_memory(files))
    finally:
        b.close()
        srv.stop()
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    passed = sum(1 for _, ok in results if ok)
    failed = len(results) - passed
    figures["board_cp_lane_s"] = round(time.time() - t0, 1)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(figures, f, indent=1)
    print("figures: %s" % json.dumps(figures))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed or not passed else 0


def run_checks(b, m, url, a):
    state = {}
    if a.only == "cuts":  # while working on the store: the power cuts alone
        check("nvm store: %d power cuts at seeded instants" % a.cuts,
              lambda: power_cuts(b, m, a.cuts, a.seed))
        return

    def boots():
        b.connect(90)
        lines = b.wait_lcd("READY", 90)
        return "LCD %s" % " | ".join(lines)

    check("code.py starts the app: READY on the LCD", boots)

    def drive_to_host():
        out = b.fs_files().get("boot_out.txt", b"").decode()
        assert "left to the computer" in out, out
        return out.strip().splitlines()[-1]

    check("boot.py leaves CIRCUITPY to the computer", drive_to_host)

    def key_accepted():
        b.display(clear=True)
        b.keys(TOKENS[0] + "#", hold=60, gap=60)
        lines = b.wait_lcd("ACCEPTED", 120)
        assert m.state.enters.get(TOKENS[0]) == 1, m.state.enters
        frames = [" | ".join(f) for f in b.display()["frames"]]
        assert any("COUNTER" in f for f in frames), frames  # fresh: read the meter first
        return " | ".join(lines)

    check("keypad token: ACCEPTED (fresh board reads the counter)", key_accepted)

    def key_refused():
        b.display(clear=True)
        b.keys(TOKENS[0] + "#", hold=60, gap=60)
        b.wait_lcd("REJECTED", 120)
        lines = b.wait_lcd("refused", 30)  # the reason, once drawn (it pages on a 16x2)
        return " | ".join(lines)

    check("same token again: REJECTED with the meter's reason", key_refused)

    def no_answer():
        b.uart(0, None)
        try:
            b.display(clear=True)
            b.keys(TOKENS[1] + "#", hold=60, gap=60)
            lines = b.wait_lcd("NO ANSWER", 180)
        finally:
            b.uart(0, url)
        assert TOKENS[1] not in m.state.enters
        return " | ".join(lines)

    check("silent meter: NO ANSWER", no_answer)

    def repl():
        b.wait_repl(60)
        state["free_boot"] = heap(b)
        idle = b.exec("import gc\ngc.collect()\nf0 = gc.mem_free()\nimport tokenpad as tp\n"
                      "tp.status()\ngc.collect()\nprint('HELD', f0 - gc.mem_free())")
        state["resident_idle"] = int(idle.split("HELD")[1].split()[0])
        # then as a person types it at the prompt (the friendly REPL keeps its names)
        out = repl_run(b, "import tokenpad as tp")
        out = repl_run(b, "tp.status()")
        assert "counter: next" in out and "PENDING" in out, out
        h = repl_run(b, "tp.history()")
        assert "ACCEPTED" in h and "REFUSED" in h and "PENDING" in h, h
        r = repl_run(b, "tp.resync()", 180)
        assert "RESYNCED" in r, r
        repl_run(b, "import gc; gc.collect(); f0 = gc.mem_free()")
        e = repl_run(b, 'tp.enter("%s")' % TOKENS[2], 180)
        assert "ACCEPTED" in e, e
        g = repl_run(b, "gc.collect(); print('HELD', f0 - gc.mem_free(), gc.mem_free())")
        held, free = g.split("HELD")[-1].split()[:2]
        state["session_growth"] = int(held)
        state["free_after"] = int(free)
        e2 = repl_run(b, 'tp.enter("%s")' % TOKENS[2], 180)
        assert "REJECTED" in e2, e2
        pr = repl_run(b, "tp.probe()", 240)
        lines = [ln for ln in pr.splitlines() if ln.strip() and "tp.probe()" not in ln]
        assert "configured" in lines[0] and "ANSWERED" in lines[0] and "FOUND" in pr, pr
        return "status/history/resync/enter/probe: %s" % e.strip().splitlines()[-2]

    check("REPL: tp.status/history/resync/enter/probe", repl)

    def figures_():
        fb, fi = state["free_boot"], state["free_boot"] - state["resident_idle"]
        figures["board_cp_free_after_boot"] = fb
        figures["board_cp_resident_idle"] = fb - fi
        figures["board_cp_session_growth"] = state["session_growth"]
        figures["board_cp_resident_after_session"] = fb - state["free_after"]
        assert fb > 100000 and fb - fi > 0, (fb, fi)
        return "free %.1f KB, tokenpad idle %.1f KB, a session holds %.1f KB more" % (
            fb / 1024, (fb - fi) / 1024, state["session_growth"] / 1024)

    check("heap figures (gc.mem_free)", figures_)

    def writable_with_a1():
        b.boot(low=[b.write_enable])
        b.wait_repl(90)
        ro = b.exec("import storage\nprint(storage.getmount('/').readonly)").strip()
        out = b.fs_files().get("boot_out.txt", b"").decode()
        assert ro == "False" and "held low" in out, (ro, out)
        b.boot()
        b.wait_repl(90)
        ro = b.exec("import storage\nprint(storage.getmount('/').readonly)").strip()
        assert ro == "True", ro
        return out.strip().splitlines()[-1]

    check("A1 held low at reset: CIRCUITPY writable by tokenpad", writable_with_a1)

    check("nvm store: %d power cuts at seeded instants" % a.cuts,
          lambda: power_cuts(b, m, a.cuts, a.seed))


def app_memory(files):
    """tools/board/cpheap.py on a board of its own (power-on, the measuring files added
    to the same drive): two tokens no check here delivers, then the first once more for the
    peak (refused: a whole session all the same, as the Pico lane's)."""
    m, srv = meter()
    try:
        f = cpheap.measure(dict(files, **cpheap.drive_files(TOKENS[-3:-1], TOKENS[-3])),
                              "tcp://127.0.0.1:%d" % srv.port)
    finally:
        srv.stop()
    figures.update(f)
    return cpheap.summary(f)


def measure(b):
    """board_cp_* figures: free heap at the REPL after boot, what ``import tokenpad as tp;
    tp.status()`` keeps, and one REPL token session (resync first): what it leaves held,
    its emulated and wall time."""
    b.wait_repl(90)
    fb = heap(b)
    idle = b.exec("import gc\ngc.collect()\nf0 = gc.mem_free()\nimport tokenpad as tp\n"
                  "tp.status()\ngc.collect()\nprint('HELD', f0 - gc.mem_free())")
    held_idle = int(idle.split("HELD")[1].split()[0])
    repl_run(b, "import tokenpad as tp")
    repl_run(b, "tp.resync()", 180)
    repl_run(b, "import gc; gc.collect(); f0 = gc.mem_free()")
    t0, w0 = b.status()["t"], time.time()
    e = repl_run(b, 'tp.enter("%s")' % TOKENS[-1], 180)
    t1, w1 = b.status()["t"], time.time()
    assert "ACCEPTED" in e, e
    g = repl_run(b, "gc.collect(); print('HELD', f0 - gc.mem_free(), gc.mem_free())")
    held, free = (int(x) for x in g.split("HELD")[-1].split()[:2])
    figures.update(board_cp_free_after_boot=fb, board_cp_resident_idle=held_idle,
                   board_cp_session_growth=held, board_cp_resident_after_session=fb - free,
                   board_cp_session_emulated_ms=round((t1 - t0) / 1e6),
                   board_cp_session_wall_s=round(w1 - w0, 1))
    return json.dumps(figures)


READ_STORE = """from tokenpad import board as _b
import json as _j
_st = _b.open_store(_j.loads(%r))
print("STORE", _j.dumps({"known": _st.known, "next": _st.value, "j": _st.journal,
      "problem": _st.problem}))
""" % STORE

DRIVE = """from tokenpad import board as _b
import json as _j
_st = _b.open_store(_j.loads(%r))
for _t in %r:
    _id = _st.add(_t)
    print("ADDED", _t, _id)
    for _k in range(5):
        print("IC", _st.next())
    _st.set(_id, "accepted")
    print("SET", _id)
print("DRIVE DONE")
"""


def read_store(b):
    out = b.exec(READ_STORE)
    line = [ln for ln in out.splitlines() if ln.startswith("STORE ")][0]
    return json.loads(line[6:])


def power_cuts(b, m, n, seed):
    """Drive the store at the REPL (add a token, take invocation counters, settle it) and
    cut the power at a seeded flash operation; after each reboot the store must give a
    counter above every value handed out (or refuse: unknown), and keep every entry that
    was added (unless the cut fell in a full-sector rewrite, counted as a wipe)."""
    rnd = random.Random(seed)
    b.wait_repl(60)
    st = read_store(b)
    if not st["known"]:
        b.exec("import tokenpad as tp\ntp.resync()", timeout=120)
        st = read_store(b)
    used = []  # every IC seen handed out
    kept = {}  # id -> token, seen in a journal after a boot or added before a cut
    wipes = cuts = total = resyncs = 0
    tok_i = 3
    for k in range(n):
        toks = [TOKENS[(tok_i + i) % len(TOKENS)] for i in range(6)]
        tok_i += 6
        b.output(0.2)
        ops0 = b.status()["ops"]
        b.cut(op=rnd.randrange(1, 26), frac=rnd.choice([0.0, 0.3, 0.5, 0.9]))
        b.write("\x01")  # raw REPL: the driver script runs until the power goes
        b.read_until(b"raw REPL; CTRL-B to exit\r\n>", 30)
        b.write((DRIVE % (STORE, toks)).encode() + b"\x04")
        cut = b.wait_cut(180)
        got = b.output(0.5).decode(errors="replace")
        if cut is None:
            raise AssertionError("cut %d never happened (ops %d -> %d): %s"
                                 % (k, ops0, b.status()["ops"], got[-300:]))
        cuts += 1
        for ln in got.splitlines():
            parts = ln.split()
            if parts[:1] == ["IC"]:
                used.append(int(parts[1]))
            elif parts[:1] == ["ADDED"]:
                kept[int(parts[2])] = parts[1]
        b.boot()
        b.wait_repl(90)
        st = read_store(b)
        top = max(used) if used else -1
        if st["known"] and st["next"] <= top:
            raise AssertionError("cut %d (%s): next counter %d would reuse (used up to %d)"
                                 % (k, cut, st["next"], top))
        if not st["j"] and (st["problem"] or not st["known"]) and not (
                cpboard.NVM_OFFSET <= cut.get("offset", -1) < cpboard.NVM_OFFSET
                + cpboard.NVM_SIZE):
            raise AssertionError("cut %d outside the nvm sector (%s) emptied the store: %s"
                                 % (k, cut, st))
        ids = {e[0]: e[1] for e in st["j"]}
        # the journal keeps every pending entry and the newest 8 finished ones: the 6
        # newest ids added must all be there
        newest = sorted(kept)[-6:]
        missing = {i: kept[i] for i in newest if ids.get(i) != kept[i]}
        if missing:
            if st["known"] and not st["j"] and st["problem"] is None:
                raise AssertionError("journal lost with a valid record: %s" % missing)
            if st["j"]:
                raise AssertionError("cut %d (%s): journal entries lost: %s; journal %s"
                                     % (k, cut, missing, st["j"]))
            wipes += 1  # empty or corrupt region: the full-sector rewrite window
            kept = {}
        if not st["known"]:
            # the counter is gone (the region was wiped): the device refuses until it reads
            # the meter's frame counter; values handed out here but never sent to the meter
            # (this driver only takes them) may come again, values the meter saw never
            b.exec("import tokenpad as tp\ntp.resync()", timeout=120)
            st = read_store(b)
            seen = m.state.last_client_ic.get(1) or 0
            if st["next"] <= seen:
                raise AssertionError("resync after cut %d gave %d <= the meter's %d"
                                     % (k, st["next"], seen))
            total += len(used)
            used = []
            resyncs += 1
        for e in st["j"]:
            kept[e[0]] = e[1]
    if m.state.refused_ic:
        raise AssertionError("the meter refused %d reused invocation counters"
                             % m.state.refused_ic)
    if len(set(used)) != len(used):
        raise AssertionError("an invocation counter was handed out twice")
    figures["board_cp_powercuts"] = cuts
    figures["board_cp_powercut_wipes"] = wipes
    return ("%d cuts, %d ICs handed out, none reused; %d wiped the region (cut in the "
            "sector rewrite), %d resyncs from the meter" % (cuts, total + len(used), wipes,
                                                           resyncs))


if __name__ == "__main__":
    sys.exit(main())
