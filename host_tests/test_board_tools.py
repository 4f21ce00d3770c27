"""The board runner's parts that need no firmware: our JavaScript RP2040 boot ROM
(tools/board/bootrom_check.mjs on the emulated core), firmware only from the user's
PICO_FIRMWARE= / CIRCUITPYTHON_FIRMWARE= (not run without, an error naming a missing path),
the CircuitPython board id read from an image, bench's "not run" entries."""

import os
import struct
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BOARD = os.path.join(ROOT, "tools", "board")

from tools.board import board as B  # noqa: E402
from tools.board import cpboard  # noqa: E402


def test_bootrom_in_javascript():
    why = B.ready()  # node and rp2040js (npm ci on first use)
    if why:
        pytest.fail("the board runner cannot run here: " + why)
    r = subprocess.run(["node", os.path.join(BOARD, "bootrom_check.mjs")], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert " 0 failed" in r.stdout and "FAIL" not in r.stdout, r.stdout


def test_no_rom_or_firmware_file_in_the_tree():
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True,
                           text=True).stdout.split()
    assert not [f for f in files if f.endswith((".uf2", ".bin", ".elf", ".tar.gz", ".zip"))]
    assert not [f for f in files if "firmware" in os.path.basename(f) and f.startswith("tools/")]


def test_firmware_only_from_the_environment(tmp_path):
    with pytest.raises(B.NoFirmware) as e:
        B.firmware({})
    assert str(e.value) == "no firmware; PICO_FIRMWARE=path/to/RPI_PICO.uf2 runs it"
    missing = str(tmp_path / "nope.uf2")
    with pytest.raises(B.BoardError) as e:
        B.firmware({"PICO_FIRMWARE": missing})
    assert not isinstance(e.value, B.NoFirmware) and missing in str(e.value)
    uf2 = tmp_path / "fw.uf2"
    uf2.write_bytes(b"")
    assert B.firmware({"PICO_FIRMWARE": str(uf2)}) == str(uf2)
    with pytest.raises(cpboard.NoFirmware):
        cpboard.firmware({})
    with pytest.raises(cpboard.BoardError) as e:
        cpboard.firmware({"CIRCUITPYTHON_FIRMWARE": missing})
    assert missing in str(e.value)


@pytest.mark.parametrize("lane,name", [("lane.py", "board"), ("cp_lane.py", "board-cp")])
def test_lane_without_firmware_says_not_run(lane, name):
    env = {k: v for k, v in os.environ.items()
           if k not in ("PICO_FIRMWARE", "CIRCUITPYTHON_FIRMWARE")}
    r = subprocess.run([sys.executable, "-m", "tools.board." + lane[:-3]], capture_output=True,
                       text=True, env=env, cwd=ROOT, timeout=120)
    assert r.returncode == 3, r.stdout + r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("%s: not run: no firmware; " % name), lines
    assert "_FIRMWARE=path/to/" in lines[0] and lines[0].endswith(" runs it")


def _uf2(payload, base=0x10000000):
    blocks = []
    chunks = [payload[i:i + 256] for i in range(0, len(payload), 256)]
    for n, c in enumerate(chunks):
        c = c.ljust(256, b"\0")
        head = struct.pack("<8I", 0x0A324655, 0x9E5D5157, 0x2000, base + 256 * n, 256, n,
                           len(chunks), 0xE48BFF56)
        blocks.append(head + c + b"\0" * (512 - 32 - 256 - 4) + struct.pack("<I", 0x0AB16F30))
    return b"".join(blocks)


def test_circuitpython_board_id_and_pins(tmp_path):
    # the id may straddle two UF2 blocks: it is read from the flash payload, not the file
    text = b"x" * 250 + b"Board ID:adafruit_feather_rp2040_rfm\n"
    p = tmp_path / "cp.uf2"
    p.write_bytes(_uf2(text))
    assert cpboard.board_id(str(p)) == "adafruit_feather_rp2040_rfm"
    assert cpboard.gpio_map(str(p))["D5"] == 5
    p.write_bytes(_uf2(b"Board ID:adafruit_feather_rp2040\n"))
    assert cpboard.gpio_map(str(p))["D5"] == 7


def test_bench_board_sections_not_run(monkeypatch):
    from tools.bench import board as bench_board
    from tools.bench import common as bench_common

    monkeypatch.delenv("PICO_FIRMWARE", raising=False)
    monkeypatch.delenv("CIRCUITPYTHON_FIRMWARE", raising=False)
    monkeypatch.setattr(bench_common, "FIGURES", [])
    monkeypatch.setattr(bench_board, "emit", lambda n, v, u, **c: bench_common.FIGURES.append(
        dict(name=n, value=v, unit=u, **c)))
    bench_board.bench_board(quick=False)
    bench_board.bench_board_cp(quick=False)
    figs = bench_common.FIGURES
    assert [f["name"] for f in figs] == list(bench_board.BOARD_NAMES + bench_board.CP_NAMES)
    assert all(f["value"] is None and f["not_run"].startswith("not run: no firmware; ")
               for f in figs)


def test_cpheap_files_and_parse():
    """The files tools/board/cpheap.py adds to CIRCUITPY compile, and what they print
    gives the board_cp_* app figures (held after = after the sessions minus app idle)."""
    from tools.board import cpheap

    files = cpheap.drive_files(["1" * 20, "2" * 20], "1" * 20)
    assert sorted(files) == ["code.txt", "lane_base.py", "lane_idle.py", "lane_mods.py",
                             "lane_peak.py", "lane_port.py", "lane_session.py"]
    for name, text in files.items():
        compile(text.decode(), name, "exec")
    out = ("IDLE 23000 140000 700\r\nMODS tokenpad tokenpad.app udlms\r\nQSTR False\r\n"
           "ACCEPTED: x\r\nFIG 10000 30000 1600\r\nACCEPTED: y\r\nFIG 2000 31000 1200\r\n"
           "AFTER tokenpad tokenpad.app tokenpad.verdict udlms\r\nBASE 30000\r\n"
           "REJECTED: z\r\nPEAK 31000 59000\r\nUART 31000 29900 28800\r\nMEASURED\r\n")
    f = cpheap.parse(out, 368)
    assert f["board_cp_app_idle"] == 23000 and f["board_cp_bare_code"] == 700
    assert f["board_cp_held_over_idle"] == 31000 - 23000
    # the harness's own 1000 B (armed 31000 - base 30000) left out of the peak
    assert f["board_cp_session_peak"] == 58000 and f["board_cp_session_peak_before"] == 30000
    assert f["board_cp_session_peak_harness"] == 1000
    assert f["board_cp_modules_added_by_sessions"] == ["tokenpad.verdict"]
    assert f["board_cp_held_meter_port"] == 1100 and f["board_cp_held_uart_module"] == 1100
    assert f["board_cp_qstr"].startswith("not measured")
    assert "held after 31000 = idle +8000" in cpheap.summary(f)
    kept = out.replace("tokenpad.verdict", "tokenpad.uart")
    with pytest.raises(AssertionError, match="kept its meter port"):
        cpheap.parse(kept, 368)
