"""Key sources that scan no pins themselves (``poll()`` as in :mod:`tokenpad.keypad`):

- ``KeyMatrix`` / ``Keys``: CircuitPython ``keypad`` (scanning and debounce in the core).
- ``Console``: the console key hook (board.json ``"keypad": {"type": "console"}``), which
  lives in :mod:`tokenpad.keyhook` (a Feather waiting for keys holds none of its code,
  issue 26); named here as before.

Its own module: a MicroPython board scanning ``machine.Pin`` never loads it, a CircuitPython
board loads no pin scanning (issue 26).
"""


class KeyMatrix:
    """CircuitPython ``keypad.KeyMatrix`` (or ``keypad.Keys`` when ``pins`` is given); ``keys``
    defaults to ``tokenpad.keypad.KEYMAP``."""

    def __init__(self, rows=None, cols=None, keys="123A456B789C*0#D", pins=None, active=0):
        import keypad

        # a queue of 8 events (4 presses), not the core's 64: the loop reads it every 10 ms,
        # and keys pressed while a token goes to the meter are dropped, as the Pico's scan
        # never sees them (issue 26: the queues are the Feather's heap)
        if pins is not None:
            self.km = keypad.Keys(pins, value_when_pressed=bool(active), pull=True,
                                  max_events=8)
        else:
            self.km = keypad.KeyMatrix(row_pins=rows, column_pins=cols, max_events=8)
        self.keys = keys
        self.ev = keypad.Event()

    def poll(self):
        if not self.km.events.get_into(self.ev):
            return None
        n = self.ev.key_number
        return (self.keys[n] if n < len(self.keys) else "?", self.ev.pressed,
                self.ev.timestamp)


def __getattr__(name):
    """``Console``, the console key hook: :class:`tokenpad.keyhook.Console` (loaded now)."""
    if name == "Console":
        from tokenpad.keyhook import Console

        return Console
    raise AttributeError(name)
