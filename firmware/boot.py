"""tokenpad boot.py for both runtimes.

CircuitPython: the CIRCUITPY drive belongs to the computer (you edit config.json and
redeploy over USB) and is read-only to the code; the ``nvm`` store needs no drive. Only
when the board's ``write_enable`` pin (board.json, A1 on the Feather) is held low at reset
is the drive remounted writable for tokenpad (the ``twofile`` store), and then the computer
sees it read-only until the next reset without the pin held. boot.py runs before USB
starts, so whether a computer is attached cannot be known here and is not asked.
What was decided is written to boot_out.txt.
MicroPython: littlefs is always writable; nothing to do.
"""

import sys


def _cp_boot():
    import storage

    pin_name = None
    try:
        import json

        with open("/board.json") as f:
            pin_name = json.load(f).get("write_enable")
    except (OSError, ValueError):
        pass
    if not pin_name:
        print("boot: CIRCUITPY left to the computer (no write_enable pin in board.json)")
        return
    import board
    import digitalio

    p = digitalio.DigitalInOut(getattr(board, pin_name))
    p.switch_to_input(pull=digitalio.Pull.UP)
    held = not p.value  # held low at reset
    p.deinit()
    if held:
        storage.remount("/", readonly=False)
        print("boot: %s held low: CIRCUITPY writable by tokenpad (read-only to the "
              "computer until a reset without it)" % pin_name)
    else:
        print("boot: CIRCUITPY left to the computer (hold %s low at reset to let tokenpad "
              "write it)" % pin_name)


if sys.implementation.name == "circuitpython":
    try:
        _cp_boot()
    except Exception as e:  # noqa: BLE001 - never brick the boot
        print("boot: %s" % (e,))
