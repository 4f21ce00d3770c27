"""CircuitPython heap figures measured the way the Pico lane measures them (tools/board/lane.py:
check_idle_memory, check_sessions, check_session_peak), for cp_lane.py.

On the Pico, main.py builds the app, READY shows, Ctrl-C stops its loop and the REPL runs in
the same interpreter: the app is still there to measure. CircuitPython starts a fresh
interpreter (an empty heap) for the REPL, and again at every switch between the raw and the
friendly REPL, so the app code.py built is gone by the time a prompt shows. (A soft reload
does not do either: in the emulator the display's I2C stays enabled after the interpreter
that opened it ends, and the app falls back to the console.) So the measuring runs at a
power-on, as CircuitPython's code file, on a board of its own whose CIRCUITPY holds what
``make deploy`` put there plus a few small files
(each run with exec() in turn, so only the one running is in the heap beside code.txt,
as the Pico lane's raw-REPL scripts):

  code.txt          (run before code.py: CircuitPython's first code file name) the bare
                    heap (nothing of tokenpad loaded), then code.py's own text run as it is
                    (the app built, READY, its loop), which the lane stops with Ctrl-C once
                    READY shows; then the files below
  lane_idle.py      the app idle: gc.collect(), gc.mem_alloc()
  lane_mods.py      the modules loaded (and whether micropython.qstr_info exists)
  lane_session.py   run for each of two tokens: a token session with automatic collection
                    off (``tp.enter``, the Pico lane's SESSION), the heap held after it
  lane_peak.py      the live heap at its highest during one ``App.enter``
                    (tokenpad.uart.UartStream wrapped: gc.collect() and gc.mem_alloc() at
                    every frame sent and every read that brought bytes: the Pico's PEAK)
  lane_base.py      the heap before the peak's harness is set up (the harness's own is
                    left out of the peak, as in the Pico lane)
  lane_port.py      after the figures: what a meter port the app kept open between
                    actions would hold (busio.UART, its receive buffer, the UartStream;
                    deinit() frees it): about 0, the app releases it after every
                    action; then tokenpad.uart, which the peak's harness imported

Then, at the REPL: the bare firmware (a fresh REPL, gc.collect(), gc.mem_alloc()).

Names (qstrs): CircuitPython 10.2.1's ``micropython`` module has no ``qstr_info`` (only
``const``), so the qstr pool is not measured here (``qstr`` says so in the figures).
"""

import re
import time

from tools.board import lane

MEASURE = """import gc
gc.collect()
z = gc.mem_alloc()
exec(open("code.py").read())
for f in ("idle", "mods", "session", "session", "base", "peak", "port"):
    exec(open("lane_%s.py" % f).read())
print("MEASURED")
"""

IDLE = """gc.collect()
print("IDLE", gc.mem_alloc(), gc.mem_free(), z)
"""

MODS = """import sys
print("MODS", " ".join(sorted(sys.modules)))
print("QSTR", hasattr(__import__("micropython"), "qstr_info"))
T = list(%r)
"""

# lane.SESSION (time.ticks_ms is supervisor.ticks_ms on CircuitPython), once per token
SESSION = """import supervisor, tokenpad as tp
tok = T.pop(0)
gc.collect()
gc.disable()
a = gc.mem_alloc()
t = supervisor.ticks_ms()
tp.enter(tok)
t = (supervisor.ticks_ms() - t) & 0x3FFFFFFF
b = gc.mem_alloc()
gc.enable()
gc.collect()
print("FIG", b - a, gc.mem_alloc(), t)
if not T:
    print("AFTER", " ".join(sorted(sys.modules)))
"""

# before the peak's harness is set up: what the app holds (the harness's own is left out)
BASE = """gc.collect()
print("BASE", gc.mem_alloc())
"""

PEAK = lane.PEAK  # the Pico lane's (the same tokenpad.uart.UartStream on CircuitPython)

# after the figures: what a meter port the app kept open between actions would hold (the
# busio.UART, its receive buffer, the UartStream), then its module (tokenpad.uart); the app
# releases both after every action (the lane checks tokenpad.uart is not loaded after the
# sessions), so both figures are about 0
PORT = """P = W = R = _at = _w = _r = U = None
gc.collect()
a = gc.mem_alloc()
u = tp._app.uart
if u is not None:
    tp._app.uart = None
    u.uart.deinit()
u = None
gc.collect()
b = gc.mem_alloc()
from udlms.port import forget
forget("tokenpad.uart")
gc.collect()
print("UART", a, b, gc.mem_alloc())
"""


def drive_files(tokens, peak_token):
    """The two files the lane adds to CIRCUITPY: ``tokens`` are delivered (ACCEPTED, as the
    Pico's sessions), then ``peak_token`` once more for the peak (the Pico lane sends one
    already delivered: REJECTED, a whole session all the same)."""
    return {"code.txt": MEASURE.encode(), "lane_idle.py": IDLE.encode(),
            "lane_mods.py": (MODS % (tuple(tokens),)).encode(),
            "lane_session.py": SESSION.encode(), "lane_base.py": BASE.encode(),
            "lane_peak.py": (PEAK % peak_token).encode(),
            "lane_port.py": PORT.encode()}


def bare_repl(b):
    """gc.mem_alloc() at a fresh REPL, nothing imported: what the firmware itself holds."""
    return int(b.exec("import gc\ngc.collect()\nprint(gc.mem_alloc())").split()[0])


def measure(files, url, timeout=600):
    """Boot a Feather whose drive is ``files`` (what make deploy puts on CIRCUITPY) plus the
    measuring files, the meter at ``url``; returns the board_cp_* app figures."""
    from tools.board import cpboard

    b = cpboard.Feather(cpboard.drive_image(files), uart0=url)
    try:
        b.connect(90)
        b.wait_lcd("READY", 240)
        time.sleep(0.5)  # the loop polls: stop it there, as a person at the REPL does
        b.write(b"\x03")
        t0 = time.time()
        out = b""
        while b"MEASURED" not in out:
            try:
                out += b.read_until(b"\n", max(1, timeout - (time.time() - t0)))
            except Exception as e:
                raise AssertionError("measuring stopped: %s; got %r" % (e, out[-800:])) from e
            if b"Traceback" in out and b"Error" in out.split(b"Traceback")[-1]:
                out += b.output(2)
                raise AssertionError("measuring failed: %r" % out[-1500:])
        b.wait_repl(90)
        bare = bare_repl(b)
    finally:
        b.close()
    return parse(out.decode(errors="replace"), bare)


def parse(text, bare):
    """The figures from what the measuring files printed (``bare``: the REPL's figure)."""
    idle, free, bare_code = (int(x) for x in re.search(r"IDLE (\d+) (\d+) (\d+)",
                                                          text).groups())
    figs = [tuple(int(x) for x in m) for m in re.findall(r"FIG (\d+) (\d+) (\d+)", text)]
    assert len(figs) == 2, text
    base = int(re.search(r"BASE (\d+)", text).group(1))
    armed, raw = (int(x) for x in re.search(r"PEAK (\d+) (\d+)", text).groups())
    # as the Pico lane: what the harness adds before the session (armed - base) is left out
    peak = base + raw - armed
    assert text.count("ACCEPTED") >= 2, text
    (g1, _r1, t1), (g2, r2, t2) = figs
    mods = re.search(r"MODS ([^\r\n]*)", text).group(1).split()
    after = re.search(r"AFTER ([^\r\n]*)", text).group(1).split()
    assert "tokenpad.uart" not in after, "the app kept its meter port after the sessions"
    u0, u1, u2 = (int(x) for x in re.search(r"UART (\d+) (\d+) (\d+)", text).groups())
    qstr = re.search(r"QSTR (\w+)", text).group(1) == "True"
    assert "display:" not in text, text  # the app as built at power-on, its LCD included
    return {"board_cp_bare_repl": bare,
            "board_cp_bare_code": bare_code,
            "board_cp_app_idle": idle, "board_cp_app_free_idle": free,
            "board_cp_session_first_alloc": g1, "board_cp_session_alloc": g2,
            "board_cp_app_after_sessions": r2, "board_cp_held_over_idle": r2 - idle,
            "board_cp_session_first_ms": t1, "board_cp_session_ms": t2,
            "board_cp_session_peak": peak, "board_cp_session_peak_before": base,
            "board_cp_session_peak_harness": armed - base,
            "board_cp_idle_modules": mods,
            "board_cp_modules_added_by_sessions": sorted(set(after) - set(mods)),
            "board_cp_held_meter_port": u0 - u1, "board_cp_held_uart_module": u1 - u2,
            "board_cp_qstr": ("micropython.qstr_info" if qstr else
                              "not measured: CircuitPython has no micropython.qstr_info")}


def summary(f):
    return ("bare firmware %d B (REPL), %d (code file); app idle %d B (%d free, %d modules); "
            "sessions +%d (first, %d ms) +%d (later, %d ms), held after %d = idle %+d; "
            "live heap at a session peak %d (%d before, +%d); qstr: %s"
            % (f["board_cp_bare_repl"], f["board_cp_bare_code"], f["board_cp_app_idle"],
               f["board_cp_app_free_idle"], len(f["board_cp_idle_modules"]),
               f["board_cp_session_first_alloc"], f["board_cp_session_first_ms"],
               f["board_cp_session_alloc"], f["board_cp_session_ms"],
               f["board_cp_app_after_sessions"], f["board_cp_held_over_idle"],
               f["board_cp_session_peak"], f["board_cp_session_peak_before"],
               f["board_cp_session_peak"] - f["board_cp_session_peak_before"],
               f["board_cp_qstr"]))
