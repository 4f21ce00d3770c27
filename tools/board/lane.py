"""The board lane: tokenpad on an emulated Raspberry Pi Pico running the official MicroPython
firmware (tools/board/run.mjs, rp2040js), deployed the way docs/BOARDS.md tells users.

    .venv/bin/python tools/board/lane.py [--quick] [--figures build/board/figures.json]

Runs on the firmware the user gives: PICO_FIRMWARE=path/to/RPI_PICO.uf2 (micropython.org).
Without it the lane prints ``board: not run: no firmware; ...`` and exits 3 (neither passed
nor failed); a given path that is missing, or a firmware that does not boot, fails it.
Checks (each prints PASS or FAIL):
  boot            the firmware boots to its REPL; free heap; cryptolib and viper work
  deploy          ``make deploy BOARD=rpi_pico PORT=<pty>``: mpremote over the emulated USB
                  puts the ``make mpy`` files on littlefs, byte for byte
  keypad_*        main.py from that deployment: a fresh board (no counter stored) reads the
                  meter's frame counter itself at the first token and says so; a token typed
                  on the keypad + ``#`` is accepted by udlms.host.sim and shown; the same
                  token again is refused with the meter's reason (paged on the 16x2 LCD); a
                  silent meter gives NO ANSWER and the resend button delivers the pending
                  token once the meter answers; pictures under build/board/
  rs485_de        the DE pin (GP2) is high for every bit we send and low whenever the meter
                  answers
  repl            tp.status(), tp.history(), tp.enter(), tp.resync() at the USB REPL
  memory          free heap after boot, resident heap with the app idle, heap allocated by
                  the first and a later token session, and their emulated times
  oled            an SSD1306 on I2C: what tokenpad draws, read back as text and a PNG
  encoding auto   a meter that wants BCD: the keypad token is accepted after type-unmatched
                  answers, said once, and the next one goes in one attempt (lane_auto.py)
  powercut_*      the store (journal + invocation counter, /tokenpad.dat on the firmware's
                  littlefs) under power cuts at seeded flash operations, torn part-way:
                  after each reboot no invocation counter is handed out twice and no
                  journal entry is lost; and a cut right after a keypad token was journaled
                  leaves it pending, resent with the button
Figures go to build/board/figures.json (tools/bench/main.py reports them as board_*).
"""

import argparse
import json
import os
import random
import re
import subprocess
import sys
import time

from tools.board import board as B
from tools.board import checks
from tools.board import lane_auto  # the encoding-auto check (issue 20)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


NOT_RUN = 3  # exit status: no firmware given, nothing checked

OUT = os.path.join(ROOT, "build", "board")
TOKENS = ("17813034313191558529", "05718854590197211241", "36934458151706424932",
          "57010216407402158470", "24062785437018917311")
RESULTS = []
FIGURES = {}


def lane_config():
    """The example settings (the simulator's keys) with a short timeout, as a user with a
    slow-to-fail probe would set them (config.json: timeout_ms, retries)."""
    with open(os.path.join(ROOT, "firmware", "config.example.json")) as f:
        c = json.load(f)
    c.update(timeout_ms=1000, retries=1)
    os.makedirs(OUT, exist_ok=True)
    p = os.path.join(OUT, "config.json")
    with open(p, "w") as f:
        json.dump(c, f, indent=1)
    return p


result, check = checks.make("board", 28, RESULTS)


def seen(frames, text):
    return any(text in ln for f in frames for ln in f)


# -- checks -------------------------------------------------------------------------------------
def check_boot(b):
    banner = b.wait_repl(60).decode(errors="replace")
    assert "MicroPython " in banner and "Pico" in banner, banner
    out = b.exec("import gc, sys\ngc.collect()\nprint(gc.mem_free(), gc.mem_alloc())\n"
                 "print(sys.version, sys.implementation._machine)\n"
                 "import cryptolib\n"
                 "k = bytes(range(16))\n"
                 "print(cryptolib.aes(k, 1).encrypt(bytes(range(0, 256, 17))).hex())\n"
                 "@micropython.viper\n"
                 "def vx(a: int, b: int) -> int:\n"
                 "    return a ^ b\n"
                 "print(vx(0x55, 0xF0))\n")
    lines = out.split("\r\n")
    free, alloc = (int(x) for x in lines[0].split())
    FIGURES["board_heap_free_boot"] = free
    FIGURES["board_heap_total"] = free + alloc
    FIGURES["board_firmware"] = lines[1]
    # FIPS-197 C.1: AES-128 of 00112233..ff under 000102..0f
    assert lines[2] == "69c4e0d86a7b0430d8cdb78070b4c55a", lines[2]
    assert lines[3] == str(0x55 ^ 0xF0), lines[3]
    return "%s; free heap %d of %d bytes; cryptolib AES and viper OK" % (lines[1], free,
                                                                         free + alloc)


def check_deploy(b, cfg):
    """`make deploy BOARD=rpi_pico PORT=<pty to the emulated USB>` with mpremote."""
    b.wait_repl()
    pty = b.repl_pty()
    t0 = time.time()
    try:
        p = subprocess.run(["make", "-s", "deploy", "BOARD=rpi_pico", "PORT=" + pty,
                            "CONFIG=" + cfg], cwd=ROOT, capture_output=True, text=True,
                           timeout=900)
    finally:
        b.close_pty()
    wall = time.time() - t0
    assert p.returncode == 0, "make deploy failed (%d):\n%s%s" % (p.returncode, p.stdout[-2000:],
                                                                 p.stderr[-2000:])
    assert "deploy: done" in p.stdout, p.stdout[-1000:]
    want = B.deploy_files("rpi_pico", cfg, build_dir=os.path.join(ROOT, "build"))
    got = b.fs_files()
    missing = [k for k in want if k not in got]
    differ = [k for k in want if k in got and got[k] != want[k]]
    assert not missing and not differ, "missing %s, differ %s" % (missing, differ)
    FIGURES["board_deploy_bytes"] = sum(len(v) for v in want.values())
    return "%d files, %d bytes on littlefs, equal to make mpy's (%.0f s wall)" % (
        len(want), FIGURES["board_deploy_bytes"], wall)


def wait_screen(b, text, timeout=240):
    return b.wait_lcd(text, timeout)


def qstr_bytes(b):
    """The heap the qstr pools take now (``micropython.qstr_info()``: n_total_bytes): the
    names loaded code interned, which MicroPython never frees (issue 26)."""
    out = b.exec("import micropython\nmicropython.qstr_info()\n")
    m = re.search(r"n_qstr=(\d+).*n_total_bytes=(\d+)", out)
    return int(m.group(1)), int(m.group(2))


def check_idle_memory(b):
    """main.py up (READY), then Ctrl-C: what the idle app keeps resident (and how much of it
    is the qstr pool)."""
    out = b.exec("import gc\ngc.collect()\nprint(gc.mem_alloc(), gc.mem_free())\n")
    alloc, free = (int(x) for x in out.split())
    n, q = qstr_bytes(b)
    FIGURES["board_heap_resident_idle"] = alloc
    FIGURES["board_heap_free_idle"] = free
    FIGURES["board_qstr_idle"] = q
    FIGURES["board_qstr_idle_names"] = n
    return "app idle: %d bytes resident (qstr pool %d of them, %d names), %d free" % (
        alloc, q, n, free)


def soft_reset_to_app(b):
    b.wait_repl()  # Ctrl-C: stop main.py if it runs
    # blank the LCD first: a screen of the old READY, recorded while the next start sets the
    # LCD up, must not pass for the new one (the next Ctrl-C would stop main.py mid-build)
    b.exec("import tokenpad\nif tokenpad._app:\n    tokenpad._app.display.show('')\n\n")
    b.display(clear=True)
    b.write(b"\x04")  # soft reset at the friendly REPL: main.py runs again
    b.wait_lcd("READY", 240)


def check_fresh_first_token(b, shots):
    b.display(clear=True)
    b.keys(TOKENS[0] + "#")
    screen = wait_screen(b, "ACCEPTED")
    frames = b.display()["frames"]
    assert seen(frames, "reading meter"), frames
    assert seen(frames, "from meter:"), frames
    assert seen(frames, "SENDING"), frames
    assert not seen(frames, "run tp.resync"), frames
    shots["accepted"] = screen
    return "screens: %s" % " -> ".join("/".join(x.strip() for x in f) for f in frames[-6:])


def check_same_token_refused(b, shots):
    b.display(clear=True)
    b.keys(TOKENS[0] + "#")
    screen = wait_screen(b, "REJECTED")
    shots["rejected"] = screen
    later = b.wait_lcd("already used", 120)  # the reason, paged on the second line
    shots["rejected_reason"] = later
    return "%s, then %s" % (" / ".join(screen), " / ".join(later))


def check_silent_meter(b, shots, url):
    b.uart(0, None)
    b.display(clear=True)
    b.keys(TOKENS[1] + "#")
    screen = wait_screen(b, "NO ANSWER")
    shots["no_answer"] = screen
    b.uart(0, url)
    b.display(clear=True)
    b.keys("R")  # the resend button: the pending token goes now
    screen = wait_screen(b, "ACCEPTED")
    frames = b.display()["frames"]
    assert seen(frames, B_fmt(TOKENS[1])[:14]), frames
    return "NO ANSWER (%s), then R resent the pending token: %s" % (shots["no_answer"][1],
                                                                    " / ".join(screen))


def B_fmt(t):
    return " ".join(t[i:i + 4] for i in range(0, 20, 4))


def check_de(log):
    byte_ns = None
    bad = [e for e in log["bytes"] if e["deStart"] != 1 or e["deEnd"] != 1]
    assert log["bytes"], "no byte was sent"
    assert not bad, "%d bytes sent with DE low, first %s" % (len(bad), bad[0])
    # DE high intervals from its changes
    highs, up = [], None
    for c in log["changes"]:
        if c["v"] and up is None:
            up = c["t"]
        elif not c["v"] and up is not None:
            highs.append((up, c["t"]))
            up = None
    assert up is None, "DE left high after the last frame"
    lead = []
    tail = []
    for lo, hi in highs:
        inside = [e for e in log["bytes"] if lo <= e["start"] and e["end"] <= hi]
        assert inside, "DE high %.3f ms with no byte sent" % ((hi - lo) / 1e6)
        byte_ns = inside[0]["end"] - inside[0]["start"]
        lead.append(inside[0]["start"] - lo)
        tail.append(hi - inside[-1]["end"])
    rx_during = [t for t in log["rx"] for lo, hi in highs if lo <= t <= hi]
    assert not rx_during, "%d meter bytes arrived while DE was high" % len(rx_during)
    assert max(tail) < 2 * byte_ns, "DE stayed high %.0f us after the last stop bit" % (
        max(tail) / 1e3)
    FIGURES["board_de_lead_us"] = round(max(lead) / 1e3, 1)
    FIGURES["board_de_tail_us"] = round(max(tail) / 1e3, 1)
    return ("%d bytes in %d frames, all with DE high from start to stop bit; DE rises at most "
            "%.0f us before the first start bit and falls at most %.0f us after the last "
            "stop bit; %d meter bytes, none while DE high"
            % (len(log["bytes"]), len(highs), max(lead) / 1e3, max(tail) / 1e3,
               len(log["rx"])))


def check_repl(b):
    out = b.exec("import tokenpad as tp\ntp.status()\n")
    assert "counter: next" in out and "settings: OK" in out, out
    hist = b.exec("import tokenpad as tp\ntp.history()\n")
    assert "1781 3034 3131 9155 8529 ACCEPTED" in hist, hist
    assert "0571 8854 5901 9721 1241 ACCEPTED" in hist, hist
    assert "REFUSED" in hist, hist
    r = b.exec("import tokenpad as tp\ntp.resync()\n")
    assert "RESYNCED" in r, r
    return "status, history (%d entries), resync: %s" % (hist.count("\n"), r.strip()[:60])


SESSION = """import gc, time, tokenpad as tp
gc.collect()
gc.disable()
a = gc.mem_alloc()
t = time.ticks_ms()
tp.enter("%s")
t = time.ticks_diff(time.ticks_ms(), t)
b = gc.mem_alloc()
gc.enable()
gc.collect()
print("FIG", b - a, gc.mem_alloc(), t)
"""


def check_sessions(b):
    """At the REPL after Ctrl-C (modules of the idle app loaded, session code not yet):
    the first token session, then a later one, automatic collection off while each runs.
    The app's own gc.collect() after it forgets the session path still runs, so the growth
    is about what a session leaves held, not its peak (check_session_peak measures that)."""
    figs = []
    for tok in TOKENS[2:4]:
        out = b.exec(SESSION % tok, timeout=300)
        assert "ACCEPTED" in out, out
        m = re.search(r"FIG (\d+) (\d+) (\d+)", out)
        figs.append(tuple(int(x) for x in m.groups()))
    (g1, r1, t1), (g2, r2, t2) = figs
    # resident after: read as idle is (a fresh snippet, the session's snippet gone)
    r2 = int(b.exec("import gc\ngc.collect()\nprint(gc.mem_alloc())\n").split()[-1])
    n, q = qstr_bytes(b)
    FIGURES.update(board_session_first_alloc=g1, board_session_alloc=g2,
                   board_heap_resident_after_session=r2, board_session_first_ms=t1,
                   board_session_ms=t2, board_qstr_after_session=q,
                   board_qstr_after_session_names=n)
    return ("heap grew %d bytes over the first session (%d ms emulated), %d over a later one "
            "(%d ms); %d resident after (qstr pool %d of them, %d names)"
            % (g1, t1, g2, t2, r2, q, n))


PEAK = """import gc, tokenpad as tp
from tokenpad import uart as U
P = [0]
W, R = U.UartStream.write, U.UartStream.readinto
def _at():
    gc.collect()
    m = gc.mem_alloc()
    if m > P[0]:
        P[0] = m
def _w(self, b):
    _at()
    return W(self, b)
def _r(self, buf):
    n = R(self, buf)
    if n:
        _at()
    return n
U.UartStream.write, U.UartStream.readinto = _w, _r
gc.collect()
a = gc.mem_alloc()
try:
    print(tp._app.enter("%s"))  # what '#' runs (App.enter), without the REPL helpers
finally:
    U.UartStream.write, U.UartStream.readinto = W, R
print("PEAK", a, P[0])
"""


def check_session_peak(b):
    """The live heap at its highest during a token session: the action '#' runs
    (``App.enter`` of the app main.py built, called at the REPL after Ctrl-C; the session
    path is loaded for it and forgotten after), collected and read at every frame sent and
    every read that brought bytes (``tokenpad.uart.UartStream`` wrapped for the
    measurement), so garbage does not count and the code, buffers and keys the session
    holds do (issue 26: <= 56 KB). The token was delivered before: the meter refuses it, a
    whole session all the same, the refusal's words included. What the harness holds (read
    before and after it is set up) is subtracted: the figure is the app's."""
    base = int(b.exec("import gc\ngc.collect()\nprint(gc.mem_alloc())\n").split()[-1])
    out = b.exec(PEAK % TOKENS[2], timeout=300)
    assert "REJECTED" in out or "ACCEPTED" in out, out
    m = re.search(r"PEAK (\d+) (\d+)", out)
    armed, raw = int(m.group(1)), int(m.group(2))
    # the harness itself (its code, names and the wrapped methods, alive while it runs) is
    # not the app's: what it added before the session (armed - base) is left out
    peak = base + raw - armed
    FIGURES.update(board_session_peak=peak, board_session_peak_before=base,
                   board_session_peak_harness=armed - base)
    return ("live heap at most %d bytes during a session (%d before it, +%d; the measuring "
            "harness's own %d bytes left out)" % (peak, base, peak - base, armed - base))


def check_oled(b):
    font = B.learn_font(b)
    b.exec("from tokenpad.ssd1306 import Ssd1306\nfrom machine import I2C, Pin\n"
           "d = Ssd1306(I2C(0, scl=Pin(5), sda=Pin(4), freq=400000))\n"
           "d.show('ACCEPTED', 'token accepted and applied')\n")
    d = b.display()
    assert d["oledOn"], "the SSD1306 was never switched on"
    text = B.oled_text(d["oled"], font)
    assert text[:3] == ["ACCEPTED", "token accepted", "and applied"], text
    png = B.oled_png(os.path.join(OUT, "oled_accepted.png"), d["oled"])
    return "reads back %s; %s" % (text, os.path.relpath(png, ROOT)), font


def store_script(seed):
    return """import sys
sys.path.append('/lib')
from tokenpad import store
s = store.Store(store.FileMedium('/tokenpad.dat'))
if not s.known:
    s.resync(1000)
print('START', s.value)
i = 0
while True:
    d = '%%04d%%016d' %% (%d, i)
    j = s.add(d)
    print('J', j, d)
    for k in range(3):
        print('IC', s.next())
    s.set(j, 'accepted', 'ok')
    print('S', j)
    i += 1
""" % seed


def run_store_until_cut(b, code, op, frac):
    b.wait_repl(60)
    b.write(b"\x01")
    b.read_until(b"raw REPL; CTRL-B to exit\r\n>")
    b.cut(op=op, frac=frac)
    b.write(code.encode() + b"\x04")
    cut = b.wait_cut(240)
    assert cut is not None, "no power cut happened"
    return cut, b.output(0.5).decode(errors="replace")


def read_store(b):
    out = b.exec("import sys\nsys.path.append('/lib')\nfrom tokenpad import store\n"
                 "s = store.Store(store.FileMedium('/tokenpad.dat'))\n"
                 "print('VALUE', s.value, s.problem)\n"
                 "for e in s.journal:\n    print('E', e[0], e[1], e[2])\n")
    m = re.search(r"VALUE (\S+) (.*)", out)
    value = None if m.group(1) == "None" else int(m.group(1))
    journal = {int(x[0]): (x[1], x[2]) for x in re.findall(r"^E (\d+) (\d+) (\w+)", out, re.M)}
    return value, m.group(2).strip(), journal


def check_powercuts(seed, cycles):
    """Power cuts at seeded flash operations (torn part-way) while the store journals
    tokens and hands out invocation counters, on the firmware's littlefs."""
    rng = random.Random(seed)
    files = {k: v for k, v in B.deploy_files("rpi_pico").items() if k != "/main.py"}
    used = []
    torn = {"erase": 0, "program": 0}
    with B.Board(fs=B.image(files)) as b:
        for n in range(cycles):
            op = rng.randint(1, 60)
            frac = rng.choice((0.0, 0.25, 0.5, 0.75, 1.0))
            cut, out = run_store_until_cut(b, store_script(n), op, frac)
            torn[cut["kind"]] += 1
            # complete lines only: the cut may stop the USB output mid-line
            ics = [int(x) for x in re.findall(r"^IC (\d+)\r\n", out, re.M)]
            journaled = {int(j): d for j, d in re.findall(r"^J (\d+) (\d+)\r\n", out, re.M)}
            settled = {int(j) for j in re.findall(r"^S (\d+)\r\n", out, re.M)}
            started = re.search(r"^START \d+\r\n", out, re.M)
            b.boot()
            b.wait_repl(60)
            value, problem, journal = read_store(b)
            if started:  # a counter was stored before the cut: it must survive
                assert value is not None, "cycle %d: counter lost after the cut (%s)" % (
                    n, problem)
            if ics:
                assert value > max(ics), ("cycle %d (cut at op %d, %s %.2f): next counter %d "
                                          "would repeat %d" % (n, op, cut["kind"], frac, value,
                                                               max(ics)))
            # the newest 8 finished entries and every pending one are kept by design
            for j, d in journaled.items():
                newer_done = sum(1 for k in settled if k > j)
                if j in settled and newer_done >= 8:
                    continue
                assert j in journal and journal[j][0] == d, (
                    "cycle %d: journal entry %d (%s) lost after a cut at op %d (%s, %.2f): %s"
                    % (n, j, d, op, cut["kind"], frac, sorted(journal)))
                if j in settled:
                    assert journal[j][1] == "accepted", (n, j, journal[j])
            used += ics
        assert len(used) == len(set(used)), "an invocation counter was handed out twice"
    FIGURES["board_powercuts"] = cycles
    return ("%d cuts (seed %d; %d torn erases, %d torn programs): %d counters handed out, "
            "none twice, every one below the next value after each reboot; no journal entry lost"
            % (cycles, seed, torn["erase"], torn["program"], len(used)))


def check_cut_after_journal(b, url):
    """A keypad token + #, power cut as the first byte goes out to the meter: the token was
    journaled before, so after reboot it is pending and the resend button delivers it."""
    b.display(clear=True)
    b.cut(uart=True)  # the power goes as the first byte leaves for the meter
    b.keys(TOKENS[4] + "#")
    cut = b.wait_cut(120)
    assert cut is not None, "nothing was sent after #"
    b.display(clear=True)
    b.boot()
    screen = b.wait_lcd("PENDING", 240)
    b.display(clear=True)
    b.keys("R")
    done = b.wait_lcd("ACCEPTED", 240)
    return "after the cut: %s; R: %s" % (" / ".join(screen), " / ".join(done))


# -- the lane -----------------------------------------------------------------------------------
def run(cycles=10, seed=15, mpremote=True):
    os.makedirs(OUT, exist_ok=True)
    RESULTS.clear()
    FIGURES.clear()
    t0 = time.time()
    why = B.ready()
    if why:
        result("runner", False, why)
        return summary(t0)
    try:
        B.firmware()
    except B.NoFirmware as e:
        print("board: not run: %s" % e)
        return None
    except B.BoardError as e:
        result("firmware", False, str(e))
        return summary(t0)
    from tools.common import start_sim

    cfg = lane_config()
    sim, url = start_sim()
    try:
        if mpremote:
            b = B.Board(uart0=url)
        else:
            b = B.Board(uart0=url, fs=B.image(B.deploy_files("rpi_pico", cfg)))
        with b:
            font = None
            if not check("boot", check_boot, b):
                return summary(t0)
            if mpremote and not check("deploy (make deploy, mpremote)", check_deploy, b, cfg):
                return summary(t0)
            b.display(clear=True)
            b.boot()  # power-cycle: main.py starts from the deployed files
            shots = {}
            ok = check("keypad ready (fresh board)", lambda: " / ".join(
                b.wait_lcd("READY", 240)))
            if ok:
                check("memory: app idle", check_idle_memory, b)
                soft_reset_to_app(b)
                b.de_log(clear=True)
                check("keypad first token (counter from meter)", check_fresh_first_token, b,
                      shots)
                check("keypad same token refused", check_same_token_refused, b, shots)
                check("keypad silent meter, resend", check_silent_meter, b, shots, url)
                check("rs485_de", check_de, b.de_log(clear=True))
                b.wait_repl()
                check("repl tp.status/history/resync", check_repl, b)
                soft_reset_to_app(b)  # the idle app again: session code not loaded yet
                check("memory: token sessions", check_sessions, b)
                check("memory: session peak", check_session_peak, b)
                holder = []
                check("oled", lambda: (lambda r: holder.append(r[1]) or r[0])(check_oled(b)))
                font = holder[0] if holder else None
                soft_reset_to_app(b)
                check("powercut after # (journal first)", check_cut_after_journal, b, url)
                check("keypad encoding auto (BCD meter)", lane_auto.check_auto_encoding, b, url)
            if font:
                for name, lines in shots.items():
                    B.lcd_png(os.path.join(OUT, "lcd_%s.png" % name), lines, font)
                print("  board pictures: %s" % ", ".join(
                    "build/board/lcd_%s.png" % n for n in shots))
        check("powercut store (seeded)", check_powercuts, seed, cycles)
    finally:
        sim.terminate()
        sim.wait(5)
    return summary(t0)


def summary(t0, name="figures.json"):
    passed = sum(1 for r in RESULTS if r[1])
    failed = sum(1 for r in RESULTS if not r[1])
    FIGURES["board_lane_wall_s"] = round(time.time() - t0, 1)
    with open(os.path.join(OUT, name), "w") as f:
        json.dump(FIGURES, f, indent=1, sort_keys=True)
    print("  board figures: %s" % json.dumps(FIGURES, sort_keys=True))
    print("%d passed, %d failed" % (passed, failed))
    return passed, failed


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cuts", type=int, default=int(os.environ.get("BOARD_CUTS", "10")))
    p.add_argument("--seed", type=int, default=int(os.environ.get("BOARD_SEED", "15")))
    p.add_argument("--no-mpremote", action="store_true",
                   help="deploy as a littlefs image only (no make deploy over USB)")
    a = p.parse_args(argv)
    res = run(a.cuts, a.seed, not a.no_mpremote)
    if res is None:
        return NOT_RUN
    passed, failed = res
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
