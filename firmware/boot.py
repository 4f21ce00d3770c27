"""tokenpad boot.py for both runtimes.

CircuitPython: the CIRCUITPY drive (FAT) is read-only to code while a host may write it.
When no USB host is attached, or the board's ``write_enable`` pin is held low at reset,
remount it read-write so the store can use files (the ``nvm`` store needs neither).
MicroPython: littlefs is always writable; nothing to do.
"""

import sys


def _cp_boot():
    import storage
    import supervisor

    writable = not supervisor.runtime.usb_connected
    pin_name = None
    try:
        import json

        with open("/board.json") as f:
            pin_name = json.load(f).get("write_enable")
    except (OSError, ValueError):
        pass
    if pin_name and not writable:
        import board
        import digitalio

        p = digitalio.DigitalInOut(getattr(board, pin_name))
        p.switch_to_input(pull=digitalio.Pull.UP)
        writable = not p.value  # held low at reset
        p.deinit()
    if writable:
        storage.remount("/", readonly=False)
        print("boot: storage writable by tokenpad (host drive read-only)")


if sys.implementation.name == "circuitpython":
    try:
        _cp_boot()
    except Exception as e:  # noqa: BLE001 - never brick the boot
        print("boot: %s" % (e,))
