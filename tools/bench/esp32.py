"""board_esp32_*: the official MicroPython ESP32_GENERIC image in Espressif's QEMU, both
supplied by the user (ESP32_QEMU, ESP32_ROM_DIR, ESP32_FIRMWARE; tools/board/esp32_lane.py).
Without them every figure is emitted as null with the reason; nothing is invented."""

import json
import os
import subprocess
import sys

from tools.bench.common import ROOT, WORK, emit

NAMES = (("board_esp32_heap_free_boot", "B"), ("board_esp32_resident_idle", "B"),
         ("board_esp32_resident_after_session", "B"), ("board_esp32_free_after_session", "B"),
         ("board_esp32_boot_s", "s"), ("board_esp32_app_ready_s", "s"),
         ("board_esp32_first_session_s", "s"), ("board_esp32_session_s", "s"))


def bench_board_esp32(quick):
    """Runs the esp32 lane without power cuts and reports its figures (wall times: QEMU's
    emulated time follows wall time, on a shared machine they vary)."""
    from tools.board import esp32board

    s = esp32board.setup()
    if not isinstance(s, tuple) or quick:
        why = "--quick: make bench measures it" if quick else (
            s or "no emulator/firmware: ESP32_QEMU=... ESP32_ROM_DIR=... ESP32_FIRMWARE=...")
        for name, unit in NAMES:
            emit(name, None, unit, skipped=why)
        return
    out = os.path.join(WORK, "esp32.json")
    p = subprocess.run([sys.executable, "-m", "tools.board.esp32_lane",
                        "--cuts", "0", "--figures", out], cwd=ROOT, capture_output=True,
                       text=True, timeout=3600)
    if p.returncode:
        raise RuntimeError("esp32_lane failed:\n" + (p.stdout + p.stderr)[-1500:])
    with open(out) as f:
        figs = json.load(f)
    ctx = {"runtime": figs.get("board_esp32_firmware", "?"),
           "board": "ESP32 (Espressif QEMU -M esp32)",
           "code": ".mpy from make mpy on littlefs (vfs partition)"}
    for name, unit in NAMES:
        emit(name, figs.get(name), unit, **ctx)
