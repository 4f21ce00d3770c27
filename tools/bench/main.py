"""``make bench``: memory, CPU and bytes on the wire, side by side with gurux-dlms (issue 8).

Prints one JSON line per figure ({"name", "value", "unit", ...context}), then a short table,
and writes every figure to build/bench.json. Figures are measured, never asserted.

1. CPU per token session on CPython, offline: ours (Session + enter_token over a stream that
   replays the meter frames of host_tests/golden/session_gurux.json) and the gurux-dlms client
   (its request builders and getData on the same recorded frames); interleaved rounds in this
   process, median per session, and the ratio.
2. MicroPython unix port (.venv/bin/micropython, modules from build/mpy-lane, -X heapsize=64k):
   heap taken by importing the session path modules, peak live heap during a whole token
   session over TCP to the simulator above that post-import baseline (gc.collect() +
   gc.mem_alloc() at every stream write and every read that brought bytes), bytes allocated
   per received frame in steady state, and the smallest -X heapsize at which a whole session
   still completes (bisection, a fresh simulator per attempt).
2b. The same golden session in a 32-bit MicroPython, the WebAssembly port (npm package pinned
   in tools/wasm, run with node; no sockets there, so the stream replays the golden frames
   and checks ours against them), from a 64 KiB initial heap: with the .mpy files in its
   filesystem (loaded into the heap, as from a board's littlefs) and in a ROMFS image
   (tools/build/romfs.py; run in place from memory outside the heap, as from a board's romfs flash
   partition). Peak live heap, and the heap's size afterwards (the port grows it only when
   an allocation fails, so 64 KiB afterwards means the session fitted).
3. .mpy sizes per device module (mpy-cross bytecode and -march=xtensawin) and .py sizes.
3b. Per device module (tools/bench/modules.py, issue 26): .mpy bytes, the names it interns
   and the heap its import takes in the WebAssembly port and the x64 unix port (each after
   the modules it imports), printed as a second table.
4. MicroPython micro-benchmarks (tools/bench/gcm.py): GCM of a 64-byte APDU (pure vs viper
   GHASH) and HDLC encode/decode of a frame with a 128-byte information field.
5. Bytes and frames on the wire for the session, ours vs gurux; wire time at 9600 baud
   (bytes × 10 / 9600); the session's measured duration over a link throttled to 9600 baud
   in both directions (the simulator's TcpServer(baud=9600) for its frames, our stream wrapper
   for ours) beside wire time + the simulator's own processing time; the client's turnaround
   (last byte received → first byte sent), median, on CPython and on MicroPython.

0. The headline, on a board: the user's official MicroPython RPI_PICO firmware
   (PICO_FIRMWARE=; without it the board_* figures are "not run: no firmware") in an
   emulated Raspberry Pi Pico (tools/board, rp2040js with our JavaScript boot ROM),
   tokenpad deployed as ``make mpy`` files on its littlefs, UART0 bridged to the simulator at
   9600 baud: free heap after boot, heap resident with the app idle (main.py stopped at
   READY), heap allocated by the first token session after boot (session code loading
   included) and by a later one (gc disabled while each runs: everything allocated counts),
   resident after, each session's emulated time and its bytes on the wire (board_*).

    .venv/bin/python -m tools.bench [--quick] [--out build/bench.json]

The sections live in tools/bench/: board, cpu, mpy, wasm, sizes, modules and wire (over
common); this module runs them and prints the table.
"""

import argparse
import json
import os
import sys
import time

from tools.bench.board import bench_board, bench_board_cp
from tools.bench.common import (ERRORS, FIGURES, NAMES, ROOT, WORK, _git_rev, emit,  # noqa: F401
                          fig_ctx, load_case)
from tools.bench.cpu import bench_cpu
from tools.bench.modules import bench_modules
from tools.bench.modules import table as module_table
from tools.bench.mpy import bench_mpy_micro, bench_mpy_session, lane_fresh, write_case_module
from tools.bench.sizes import bench_sizes
from tools.bench.wasm import (WASM_DIR, WASM_HEAP, WASM_IMAGE, WASM_WORK, bench_wasm,  # noqa: F401
                        wasm_build, wasm_ready, wasm_session)
from tools.bench.esp32 import bench_board_esp32
from tools.bench.wire import bench_wire
from tools.common import build_lane


# -- table --------------------------------------------------------------------------------------

TARGETS = {
    "cpu_ratio_gurux_over_ours": (">=", 10),
    "mpy_heap_session_peak_bytes": ("<=", 8192),
    "mpy_min_heapsize_bytes": ("<=", 32768),
    "wasm32_heap_total_bytes": ("<=", 65536),
    "mpy_rx_frame_readinto_alloc_bytes": ("<=", 0),
    "mpy_rx_frame_link_wait_alloc_bytes": ("<=", 0),
    "mpy_total_bytes": ("<=", 40960),  # issue 26: all device modules <= 40 KB
    "mpy_session_path_total_bytes": ("<=", 16384),  # issue 26
    "wasm32_firmware_import_bytes": ("<=", 40960),  # issue 26, filesystem .mpy
    "wasm32_session_peak_bytes": ("<=", 36864),  # issue 26: udlms session bound
    "board_session_peak_bytes": ("<=", 57344),  # issue 26: Pico peak during a session
    "board_heap_resident_idle_bytes": ("<=", 24576),  # issue 26: Pico app idle
    "board_held_over_idle_bytes": ("<=", 2048),  # issue 26: held after <= idle + 2 KB
    "board_cp_app_idle": ("<=", 24576),  # issue 26: "CircuitPython Feather: the same"
    "board_cp_held_over_idle": ("<=", 2048),
    "board_cp_session_peak": ("<=", 57344),
    "wire_bytes_ours_over_gurux": ("<=", 1.0),
    "session_9600_over_wire_plus_sim": ("<=", 1.1),
}

TABLE = (
    ("BOARD (RPI_PICO, emulated) free heap after boot", "board_heap_free_boot_bytes",
     {}),
    ("BOARD heap resident, app idle (.mpy files)", "board_heap_resident_idle_bytes", {}),
    ("BOARD heap growth over the first token session", "board_session_first_alloc_bytes", {}),
    ("BOARD heap growth over a later token session", "board_session_alloc_bytes", {}),
    ("BOARD heap resident after sessions", "board_heap_resident_after_session_bytes", {}),
    ("BOARD held after sessions minus idle", "board_held_over_idle_bytes", {}),
    ("BOARD  the same without the names interned", "board_held_over_idle_less_names_bytes", {}),
    ("BOARD live heap at a session's peak", "board_session_peak_bytes", {}),
    ("BOARD first session, emulated time (9600 baud)", "board_session_first_ms", {}),
    ("BOARD later session, emulated time", "board_session_ms", {}),
    ("BOARD later session, bytes sent", "board_session_tx_bytes", {}),
    ("BOARD later session, bytes received", "board_session_rx_bytes", {}),
    ("CircuitPython Feather RP2040: bare firmware (REPL)", "board_cp_bare_repl", {}),
    ("CircuitPython Feather: heap resident, app idle", "board_cp_app_idle", {}),
    ("CircuitPython Feather: growth over the first session", "board_cp_session_first_alloc",
     {}),
    ("CircuitPython Feather: heap resident after sessions", "board_cp_app_after_sessions", {}),
    ("CircuitPython Feather: held after sessions minus idle", "board_cp_held_over_idle", {}),
    ("CircuitPython Feather: of which a kept meter UART", "board_cp_held_meter_port", {}),
    ("CircuitPython Feather: live heap at a session's peak", "board_cp_session_peak", {}),
    ("CircuitPython Feather: free heap at the REPL", "board_cp_free_after_boot", {}),
    ("CircuitPython Feather: REPL tokenpad + tp.status()", "board_cp_resident_idle", {}),
    ("CircuitPython Feather: REPL tp.enter holds", "board_cp_session_growth", {}),
    ("CircuitPython Feather: session, emulated time", "board_cp_session_emulated_ms", {}),
    ("ESP32_GENERIC (Espressif QEMU): free heap after boot", "board_esp32_heap_free_boot", {}),
    ("ESP32: tokenpad resident at READY", "board_esp32_resident_idle", {}),
    ("ESP32: held after the token sessions", "board_esp32_resident_after_session", {}),
    ("ESP32: first token session, wall time", "board_esp32_first_session_s", {}),
    ("CPU per session, ours (CPython, offline)", "cpu_session_ours_ms", {}),
    ("CPU per session, ours with pure-Python AES", "cpu_session_ours_pure_aes_ms", {}),
    ("CPU per session, gurux-dlms", "cpu_session_gurux_ms", {}),
    ("CPU ratio gurux / ours", "cpu_ratio_gurux_over_ours", {}),
    ("CPU ratio gurux / ours (pure AES)", "cpu_ratio_gurux_over_ours_pure_aes", {}),
    ("MPY heap after importing the session modules", "mpy_heap_import_bytes", {}),
    ("MPY peak session heap above baseline", "mpy_heap_session_peak_bytes", {}),
    ("MPY smallest -X heapsize for a session", "mpy_min_heapsize_bytes", {}),
    ("32-bit MPY (wasm) session upper bound, .mpy files", "wasm32_session_peak_bytes",
     {"mode": "filesystem"}),
    ("32-bit MPY (wasm) heap after it (filesystem)", "wasm32_heap_total_bytes",
     {"mode": "filesystem"}),
    ("32-bit MPY (wasm) session upper bound, ROMFS", "wasm32_session_peak_bytes",
     {"mode": "romfs"}),
    ("32-bit MPY (wasm) heap after it (ROMFS)", "wasm32_heap_total_bytes",
     {"mode": "romfs"}),
    ("32-bit MPY (wasm) firmware import, filesystem", "wasm32_firmware_import_bytes",
     {"mode": "filesystem"}),
    ("32-bit MPY (wasm) firmware import, ROMFS", "wasm32_firmware_import_bytes",
     {"mode": "romfs"}),
    ("32-bit MPY (wasm) names a session interns (.mpy files)", "wasm32_session_qstr_bytes",
     {"mode": "filesystem"}),
    ("MPY alloc per RX frame, Receiver.feed/next", "mpy_rx_frame_feed_alloc_bytes", {}),
    ("MPY alloc per RX frame, readinto_from/next", "mpy_rx_frame_readinto_alloc_bytes", {}),
    ("MPY alloc per RX frame, Link._wait", "mpy_rx_frame_link_wait_alloc_bytes", {}),
    (".mpy total, device modules (bytecode)", "mpy_total_bytes", {}),
    (".mpy total, device modules (xtensawin)", "mpy_xtensawin_total_bytes", {}),
    (".mpy total, session path modules", "mpy_session_path_total_bytes", {}),
    (".py total, device modules", "py_total_bytes", {}),
    ("MPY GCM 64 B, cryptolib + pure GHASH", "mpy_gcm64_us", {"aes": "cryptolib",
                                                              "ghash": "pure"}),
    ("MPY GCM 64 B, cryptolib + viper GHASH", "mpy_gcm64_us", {"aes": "cryptolib",
                                                               "ghash": "viper"}),
    ("MPY GCM 64 B, pure AES + pure GHASH", "mpy_gcm64_us", {"aes": "pure", "ghash": "pure"}),
    ("MPY GCM 64 B, pure AES + viper GHASH", "mpy_gcm64_us", {"aes": "pure", "ghash": "viper"}),
    ("MPY GCM 64 B encrypt_into alloc", "mpy_gcm64_alloc_bytes", {"aes": "cryptolib",
                                                                  "ghash": "viper"}),
    ("MPY HDLC encode, 128 B info", "mpy_hdlc_encode128_us", {}),
    ("MPY HDLC encode alloc", "mpy_hdlc_encode128_alloc_bytes", {}),
    ("MPY HDLC decode (feed+next), 128 B info", "mpy_hdlc_decode128_us", {}),
    ("MPY HDLC decode alloc", "mpy_hdlc_decode128_alloc_bytes", {}),
    ("MPY fcs16 over the 136-byte frame", "mpy_hdlc_fcs16_us", {}),
    ("Wire bytes, ours", "wire_bytes_ours", {}),
    ("Wire bytes, gurux-dlms", "wire_bytes_gurux", {}),
    ("Wire frames, ours", "wire_frames_ours", {}),
    ("Wire frames, gurux-dlms", "wire_frames_gurux", {}),
    ("Wire bytes ours / gurux", "wire_bytes_ours_over_gurux", {}),
    ("Wire time at 9600 baud", "wire_time_9600_ms", {}),
    ("Measured session at 9600 baud (ours)", "session_9600_ms", {}),
    ("Measured session at 9600 baud (gurux)", "session_9600_gurux_ms", {}),
    ("Simulator processing during it", "sim_processing_ms", {}),
    ("Measured / (wire + simulator)", "session_9600_over_wire_plus_sim", {}),
    ("Client turnaround, median (CPython)", "turnaround_median_ms", {}),
    ("Client turnaround, median (MicroPython unix)", "mpy_turnaround_median_ms", {}),
)


def table():
    rows = [("figure", "value (µs: median of 5 loops, min)", "unit", "target")]
    for label, name, match in TABLE:
        d = next((x for x in FIGURES if x["name"] == name
                  and all(x.get(k) == v for k, v in match.items())), None)
        if d is None:
            continue
        v = d["value"]
        t = TARGETS.get(name)
        tt = ""
        if t and v is not None:
            met = v >= t[1] if t[0] == ">=" else v <= t[1]
            tt = "%s %s: %s" % (t[0], t[1], "met" if met else "NOT met")
        text = d.get("not_run") or ("-" if v is None else str(v))
        if "min_us" in d:
            text += " (min %s)" % d["min_us"]
        rows.append((label, text, d["unit"], tt))
    for d in FIGURES:  # a section that failed or could not run says so in the table too
        if d["name"] in ("bench_error", "bench_not_run"):
            rows.append(("section %s" % d.get("section", "?"),
                         ("ERROR: " + d.get("error", "")) if d["name"] == "bench_error"
                         else "not run: " + d.get("reason", ""), "", ""))
    w = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["| " + " | ".join(r[i].ljust(w[i]) for i in range(4)) + " |" for r in rows]
    lines.insert(1, "|" + "|".join("-" * (x + 2) for x in w) + "|")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="few rounds (smoke test)")
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "bench.json"))
    ap.add_argument("--only", help="comma list of sections: board,cpu,mpy,micro,"
                                   "wasm,sizes,modules,wire,board_cp,board_esp32")
    a = ap.parse_args(argv)
    os.makedirs(WORK, exist_ok=True)
    t0 = time.time()
    case, tx, rx = load_case()
    write_case_module(case, tx, rx)
    if not lane_fresh():
        errs = build_lane()
        if errs:
            raise SystemExit("mpy-cross failed for the unix lane:\n" + "\n".join(errs))
    session_mods = []

    def mpy_section():
        bench_mpy_session(case, a.quick)
        session_mods.extend(fig_ctx("mpy_heap_import_bytes", "modules") or [])

    sections = [("board", lambda: bench_board(a.quick)),
                ("cpu", lambda: bench_cpu(a.quick)), ("mpy", mpy_section),
                ("micro", lambda: bench_mpy_micro(a.quick)),
                ("wasm", lambda: bench_wasm(a.quick)),
                ("sizes", lambda: bench_sizes(session_mods or ["udlms.client.session"])),
                ("modules", lambda: bench_modules(session_mods or [])),
                ("wire", lambda: bench_wire(a.quick)),
                ("board_cp", lambda: bench_board_cp(a.quick)),
                ("board_esp32", lambda: bench_board_esp32(a.quick))]
    only = set(a.only.split(",")) if a.only else None
    for name, fn in sections:
        if only and name not in only:
            continue
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - report it, keep measuring the rest
            ERRORS.append("%s: %s: %s" % (name, type(e).__name__, e))
            emit("bench_error", None, "", section=name, error="%s: %s" % (type(e).__name__, e))
    elapsed = time.time() - t0
    cmd = (".venv/bin/python -m tools.bench" + (" --quick" if a.quick else "")
           + (" --only " + a.only if a.only else ""))
    meta = {"date": time.strftime("%Y-%m-%d %H:%M:%S %z"), "command": cmd,
            "seconds": round(elapsed, 1), "git": _git_rev(), "errors": list(ERRORS)}
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump({"meta": meta, "figures": FIGURES}, f, indent=1)
        f.write("\n")
    print()
    print("udlms bench %s (%s, %.0f s)" % (meta["date"], cmd, elapsed))
    print(table())
    if module_table():
        print()
        print("per device module: .mpy (bytecode, as on a filesystem), names it interns, heap "
              "when imported after its imports (section modules)")
        print(module_table())
    print("wrote %s" % os.path.relpath(a.out, ROOT))
    if ERRORS:  # said in the table and bench.json; every other section was measured
        print("sections that failed (the rest measured):\n  " + "\n  ".join(ERRORS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
