"""CircuitPython's boot.py step (``boot.py`` imports it there only): who may write the
CIRCUITPY drive. The drive belongs to the computer (you edit config.json and redeploy over
USB) and is read-only to the code; the ``nvm`` store needs no drive. Only when the board's
``write_enable`` pin (board.json, A1 on the Feather) is held low at reset is the drive
remounted writable for tokenpad (the ``twofile`` store), and then the computer sees it
read-only until the next reset without the pin held. boot.py runs before USB starts, so
whether a computer is attached cannot be known here and is not asked. What was decided is
written to boot_out.txt (:func:`run`). Its own module, not boot.py's code: MicroPython
compiles boot.py at every start and would intern these names for good (issue 26).
"""


def _drive():
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


def run():
    """boot.py's step on CircuitPython; an error is printed (to boot_out.txt), never
    raised: a boot.py must not stop the board from starting."""
    try:
        _drive()
    except Exception as e:  # noqa: BLE001 - never brick the boot
        print("boot: %s" % (e,))
