"""make bench, section 0, the headline: the emulated boards (official MicroPython on the
Pico, CircuitPython on the Feather), measured by the board lanes' code, on the firmware the
user gives (PICO_FIRMWARE=, CIRCUITPYTHON_FIRMWARE=). Without it a section writes each of its
figures as "not run: no firmware" into bench.json and the table."""

import json
import os
import subprocess
import sys
from tools.bench.common import ROOT, WORK, emit
from tools.common import start_sim

from tools.board import board as B
from tools.board import cpboard

BOARD_NAMES = ("board_heap_free_boot_bytes", "board_heap_resident_idle_bytes",
               "board_session_first_alloc_bytes", "board_session_alloc_bytes",
               "board_heap_resident_after_session_bytes", "board_held_over_idle_bytes",
               "board_held_over_idle_less_names_bytes", "board_session_peak_bytes",
               "board_session_first_ms",
               "board_session_ms", "board_session_tx_bytes", "board_session_rx_bytes")
CP_NAMES = ("board_cp_bare_repl", "board_cp_app_idle", "board_cp_session_first_alloc",
            "board_cp_session_alloc", "board_cp_app_after_sessions", "board_cp_held_over_idle",
            "board_cp_held_meter_port", "board_cp_session_peak", "board_cp_session_first_ms",
            "board_cp_session_ms",
            "board_cp_free_after_boot", "board_cp_resident_idle", "board_cp_session_growth",
            "board_cp_resident_after_session", "board_cp_repl_held_over_idle",
            "board_cp_session_emulated_ms",
            "board_cp_session_wall_s")


def not_run(names, why):
    """Each figure of a section that did not run: value None, the reason in ``not_run``."""
    print("%s: not run: %s" % ("board-cp" if names is CP_NAMES else "board", why))
    for name in names:
        emit(name, None, "", not_run="not run: %s" % why)


def bench_board_cp(quick):
    """board_cp_*: CircuitPython 10.2.1 on the emulated Feather RP2040 (the real firmware in
    rp2040js, tools/board/cp_lane.py --figures-only). Measured as the Pico's board_* figures
    (tools/board/cpheap.py): the bare firmware, the app idle (READY, Ctrl-C), the heap
    over two token sessions and held after them, the meter port the app keeps, the live
    heap at a session's peak. Then the REPL's: free heap at the REPL after boot, what
    ``import tokenpad as tp; tp.status()`` keeps, what one ``tp.enter`` at the prompt
    leaves held, and that session's time."""
    names = CP_NAMES
    try:
        uf2 = cpboard.firmware()
    except cpboard.NoFirmware as e:
        return not_run(names, e)
    if quick:  # a CircuitPython boot in the emulator alone takes longer than --quick's budget
        for name in names:
            emit(name, None, "", skipped="--quick: make bench measures it")
        return
    out = os.path.join(WORK, "board-cp.json")
    p = subprocess.run([sys.executable, "-m", "tools.board.cp_lane",
                        "--figures-only", "--json", out], cwd=ROOT, capture_output=True,
                       text=True, timeout=1800)
    if p.returncode:
        raise RuntimeError("cp_lane --figures-only failed:\n" + (p.stdout + p.stderr)[-1500:])
    with open(out) as f:
        figs = json.load(f)
    mpy = bool(os.environ.get("CIRCUITPY_MPY_CROSS"))
    ctx = {"firmware": os.path.basename(uf2), "board": "Adafruit Feather RP2040 (rp2040js)",
           "code": ("CircuitPython .mpy (CIRCUITPY_MPY_CROSS=)" if mpy else ".py sources")
           + " from make mpy on CIRCUITPY"}
    emit("board_cp_bare_repl", figs["board_cp_bare_repl"], "B",
         code_file=figs["board_cp_bare_code"],
         note="gc.mem_alloc() at a fresh REPL, nothing imported: the firmware's own "
              "(code_file: at the start of the code file); part of every figure below", **ctx)
    emit("board_cp_app_idle", figs["board_cp_app_idle"], "B",
         free=figs["board_cp_app_free_idle"], modules=figs["board_cp_idle_modules"],
         qstr=figs["board_cp_qstr"],
         note="code.py's app at READY, Ctrl-C, gc.collect(), gc.mem_alloc() (as "
              "board_heap_resident_idle_bytes; issue 26: <= 24 KB)", **ctx)
    emit("board_cp_session_first_alloc", figs["board_cp_session_first_alloc"], "B",
         note="heap growth over the first tp.enter, automatic collection off", **ctx)
    emit("board_cp_session_alloc", figs["board_cp_session_alloc"], "B", **ctx)
    emit("board_cp_app_after_sessions", figs["board_cp_app_after_sessions"], "B",
         added_modules=figs["board_cp_modules_added_by_sessions"], **ctx)
    emit("board_cp_held_over_idle", figs["board_cp_held_over_idle"], "B",
         note="held after the two sessions minus app idle (issue 26: <= 2 KB)", **ctx)
    emit("board_cp_held_meter_port", figs["board_cp_held_meter_port"], "B",
         uart_module=figs["board_cp_held_uart_module"],
         note="part of board_cp_held_over_idle: what the busio.UART (its receive buffer) and "
              "UartStream would hold if the app kept them after a session (it releases "
              "them: about 0); uart_module: tokenpad.uart, which the peak's harness imported "
              "(the app forgets it after every action)", **ctx)
    emit("board_cp_session_peak", figs["board_cp_session_peak"], "B",
         before=figs["board_cp_session_peak_before"],
         harness=figs.get("board_cp_session_peak_harness"),
         note="live heap at its highest during App.enter: gc.collect() then gc.mem_alloc() "
              "at every frame sent and every read that brought bytes, less what the "
              "measuring harness itself holds (issue 26: <= 56 KB)",
         **ctx)
    emit("board_cp_session_first_ms", figs["board_cp_session_first_ms"], "ms emulated", **ctx)
    emit("board_cp_session_ms", figs["board_cp_session_ms"], "ms emulated", **ctx)
    for name in ("board_cp_free_after_boot", "board_cp_resident_idle",
                 "board_cp_session_growth", "board_cp_resident_after_session"):
        emit(name, figs[name], "B", measured="at the REPL", **ctx)
    emit("board_cp_repl_held_over_idle", figs["board_cp_resident_after_session"]
         - figs["board_cp_resident_idle"], "B",
         note="REPL: held after a tp.enter at the prompt minus what import tokenpad + "
              "tp.status() keeps", **ctx)
    emit("board_cp_session_emulated_ms", figs["board_cp_session_emulated_ms"], "ms", **ctx)
    emit("board_cp_session_wall_s", figs["board_cp_session_wall_s"], "s", **ctx)


def _measure(b):
    """The board lane's memory measurements on a booted board: free heap after boot, the
    idle app's resident heap, a first and a later token session (into lane.FIGURES)."""
    from tools.board import lane

    lane.check_boot(b)
    b.display(clear=True)
    b.boot()
    b.wait_lcd("READY", 240)
    lane.check_idle_memory(b)
    lane.soft_reset_to_app(b)
    b.wait_repl()
    lane.check_sessions(b)
    lane.check_session_peak(b)


def bench_board(quick):
    """The board figures (section 0): tools/board/lane.py's measurements, run here."""
    from tools.board import lane

    try:
        B.firmware()  # a clear error when the given path is missing
    except B.NoFirmware as e:
        return not_run(BOARD_NAMES, e)
    why = B.ready()
    if why:
        raise RuntimeError(why)
    cfg = lane.lane_config()
    sim, url = start_sim()
    lane.FIGURES.clear()
    try:
        with B.Board(uart0=url, fs=B.image(B.deploy_files("rpi_pico", cfg))) as b:
            _measure(b)
            b.de_log(clear=True)
            out = b.exec(lane.SESSION % lane.TOKENS[4], timeout=300)
            wire = b.de_log(clear=True)
            assert "ACCEPTED" in out, out
    finally:
        sim.terminate()
        sim.wait(5)
    f = lane.FIGURES
    ctx = {"firmware": f.get("board_firmware"), "emulator": "rp2040js 1.4.1",
           "deploy": "make mpy .mpy files on littlefs"}
    emit("board_heap_free_boot_bytes", f["board_heap_free_boot"], "bytes",
         total=f["board_heap_total"], **ctx)
    emit("board_heap_resident_idle_bytes", f["board_heap_resident_idle"], "bytes",
         qstr_pool_bytes=f["board_qstr_idle"], qstr_names=f["board_qstr_idle_names"],
         note="qstr_pool_bytes: micropython.qstr_info() n_total_bytes, part of the value",
         **ctx)
    emit("board_session_first_alloc_bytes", f["board_session_first_alloc"], "bytes",
         note="heap growth over the first session with automatic collection off (the app's "
              "own gc.collect() after it forgets the session path still runs): about what "
              "the session leaves held, not its peak (board_session_peak_bytes)",
         **ctx)
    emit("board_session_alloc_bytes", f["board_session_alloc"], "bytes", **ctx)
    emit("board_heap_resident_after_session_bytes", f["board_heap_resident_after_session"],
         "bytes", qstr_pool_bytes=f["board_qstr_after_session"],
         qstr_names=f["board_qstr_after_session_names"],
         note="qstr_pool_bytes: the names interned so far (never freed), part of the value",
         **ctx)
    emit("board_held_over_idle_bytes", f["board_heap_resident_after_session"]
         - f["board_heap_resident_idle"], "bytes",
         qstr_pool_bytes=f["board_qstr_after_session"] - f["board_qstr_idle"],
         note="held after the token sessions minus resident idle (issue 26: <= 2 KB); "
              "qstr_pool_bytes: the part that is names the sessions interned", **ctx)
    emit("board_held_over_idle_less_names_bytes", f["board_heap_resident_after_session"]
         - f["board_heap_resident_idle"] - f["board_qstr_after_session"] + f["board_qstr_idle"],
         "bytes", names=f["board_qstr_after_session_names"] - f["board_qstr_idle_names"],
         note="board_held_over_idle_bytes without the names the sessions interned (the qstr "
              "pools, micropython.qstr_info(): MicroPython never frees a name): what the "
              "session path leaves held besides its names", **ctx)
    emit("board_session_peak_bytes", f["board_session_peak"], "bytes",
         before=f["board_session_peak_before"], harness=f.get("board_session_peak_harness"),
         note="live heap at its highest in an App.enter session: gc.collect() then "
              "gc.mem_alloc() at every frame sent and every read that brought bytes, "
              "less what the measuring harness itself holds (harness)",
         **ctx)
    emit("board_session_first_ms", f["board_session_first_ms"], "ms emulated", **ctx)
    emit("board_session_ms", f["board_session_ms"], "ms emulated", **ctx)
    emit("board_session_tx_bytes", len(wire["bytes"]), "bytes", baud=9600, **ctx)
    emit("board_session_rx_bytes", len(wire["rx"]), "bytes", baud=9600, **ctx)
