"""Every boards/*.json loads and validates; broken board files get one clear message each."""

import copy
import glob
import json
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for p in ("lib", "firmware"):
    if os.path.join(ROOT, p) not in sys.path:
        sys.path.insert(0, os.path.join(ROOT, p))

from tokenpad import board  # noqa: E402
from udlms.errors import ConfigError  # noqa: E402

BOARDS = sorted(glob.glob(os.path.join(ROOT, "boards", "*.json")))


def test_the_three_boards_exist():
    names = [os.path.basename(b)[:-5] for b in BOARDS]
    for n in ("esp32_devkitc", "rpi_pico", "feather_rp2040"):
        assert n in names


@pytest.mark.parametrize("path", BOARDS, ids=lambda p: os.path.basename(p))
def test_board_file_valid(path):
    b = board.load(path)
    assert board.validate(json.load(open(path))) == []
    assert b["runtime"] in board.RUNTIMES
    assert b["display"]["type"] in board.DISPLAYS
    assert len(b["keypad"]["keys"]) == 16
    if b["runtime"] == "circuitpython":
        assert b["store"]["type"] in ("nvm", "twofile")
    else:
        assert b["store"]["type"] == "file"  # littlefs: write-then-rename


def _base():
    return json.load(open(os.path.join(ROOT, "boards", "rpi_pico.json")))


@pytest.mark.parametrize("mutate, expect", [
    (lambda b: b["keypad"].__setitem__("rows", [6, 7, 8]), "keypad.rows: needs 4 pins, found 3"),
    (lambda b: b["uart"].__setitem__("tx", "GP0"), "uart.tx: must be a GPIO number"),
    (lambda b: b["keypad"]["cols"].__setitem__(0, 0), "pin 0 is already used by uart.tx"),
    (lambda b: b.__setitem__("runtime", "arduino"), "runtime: must be micropython or circuit"),
    (lambda b: b["display"].__setitem__("type", "eink"), "display.type: must be one of"),
    (lambda b: b["store"].__setitem__("type", "nvm"), "nvm is CircuitPython's"),
    (lambda b: b["keypad"].__setitem__("keys", "123A456B789C*0XD"), "must contain 0-9, *"),
    (lambda b: b["uart"].__setitem__("baud", 50), "uart.baud: must be a whole number"),
    (lambda b: b.pop("uart"), "uart: missing"),
])
def test_bad_board_message(mutate, expect):
    b = copy.deepcopy(_base())
    mutate(b)
    errs = board.validate(b)
    assert any(expect in e for e in errs), errs
    with pytest.raises(ConfigError) as e:
        board.check(b, "my_board.json")
    assert e.value.message.startswith("my_board.json has")


def test_circuitpython_pins_are_names():
    b = json.load(open(os.path.join(ROOT, "boards", "feather_rp2040.json")))
    b["uart"]["tx"] = 0
    assert any("board pin name" in e for e in board.validate(b))


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(ConfigError) as e:
        board.load(str(tmp_path / "none.json"))
    assert "not found" in e.value.message
    p = tmp_path / "b.json"
    p.write_text("{\"name\": 1,}")
    with pytest.raises(ConfigError) as e:
        board.load(str(p))
    assert "not valid JSON" in e.value.message


def test_console_keypad_hook_validates():
    """keypad type "console" (the test hook for emulators without GPIO inputs) has no pins."""
    b = copy.deepcopy(_base())
    b["keypad"] = {"type": "console"}
    b["resend"] = None
    assert board.validate(b) == []
    assert board.check(b)["keypad"]["type"] == "console"
    b["keypad"] = {"type": "stdin"}
    assert any('must be "matrix", "buttons" or "console"' in e for e in board.validate(b))
