"""Key input: a 4x4 matrix or single buttons, as a stream of events.

Every source has ``poll() -> (key, pressed, t_ms) | None``: key is a character from the
board's key map ("0".."9", "*", "#", "A".."D"; the resend button is "R"), pressed is True
on press and False on release, t_ms a millisecond timestamp (for long and double presses).

- ``ScanMatrix`` / ``Button``: MicroPython ``machine.Pin`` scanning with debounce (a state
  must stay unchanged for ``debounce_ms`` before it counts).
- ``KeyMatrix`` / ``Keys``: CircuitPython ``keypad`` (scanning and debounce in the core) and
  ``Console`` (keys typed on the REPL): :mod:`tokenpad.keypad_ext`, which ``keypad.KeyMatrix``
  and ``keypad.Console`` load; a board holds only the code of its own inputs (issue 26).

Keys that read pressed at the first scan (held at reset, or no real input at all) count
only once they have been seen released: no phantom presses at start.
"""

from udlms.port import ticks_diff, ticks_ms

KEYMAP = "123A456B789C*0#D"  # the resend button is "R" (tokenpad.board builds it)


class _Debounce:
    def __init__(self, n, debounce_ms, interval_ms):
        self.n = n
        self.debounce_ms = debounce_ms
        self.interval_ms = interval_ms
        self.raw = 0
        self.stable = None  # the first scan is the baseline: keys down at start are not presses
        self.held = 0
        self.changed = ticks_ms()
        self.last_scan = self.changed - interval_ms
        self.queue = []

    def start(self, scan):
        """The baseline scan, taken when the keypad is built (before the app says READY):
        keys down then (held at reset, or pins that read pressed with no input at all) are
        not presses until released; a key pressed after it is one, however soon."""
        self.raw = self.stable = self.held = scan()

    def step(self, scan, keys):
        now = ticks_ms()
        if ticks_diff(now, self.last_scan) >= self.interval_ms:
            self.last_scan = now
            raw = scan()
            if self.stable is None:
                self.raw = self.stable = self.held = raw  # held: down since start
            elif raw != self.raw:
                self.raw = raw
                self.changed = now
            elif raw != self.stable and ticks_diff(now, self.changed) >= self.debounce_ms:
                diff = raw ^ self.stable
                for i in range(self.n):
                    bit = 1 << i
                    if diff & bit and self.held & bit:  # released after start: no event
                        self.held &= ~bit
                    elif diff & bit:
                        self.queue.append((keys[i], bool(raw & bit), now))
                self.stable = raw
        return self.queue.pop(0) if self.queue else None


class ScanMatrix:
    """MicroPython matrix scan: rows are outputs (idle high, driven low one at a time),
    columns are inputs with pull-ups; a pressed key reads 0 on its column."""

    def __init__(self, rows, cols, keys=KEYMAP, debounce_ms=30, interval_ms=5, pin=None):
        if pin is None:
            from machine import Pin as pin
        self.rows = [pin(r, pin.OUT, value=1) for r in rows]
        self.cols = [pin(c, pin.IN, pin.PULL_UP) for c in cols]
        self.keys = keys
        self.db = _Debounce(len(rows) * len(cols), debounce_ms, interval_ms)
        self.db.start(self._scan)

    def _scan(self):
        bits = 0
        nc = len(self.cols)
        for r, rp in enumerate(self.rows):
            rp.value(0)
            for c, cp in enumerate(self.cols):
                if not cp.value():
                    bits |= 1 << (r * nc + c)
            rp.value(1)
        return bits

    def poll(self):
        return self.db.step(self._scan, self.keys)


class Button:
    """One or more MicroPython buttons with debounce; ``keys`` names each pin's key."""

    def __init__(self, pins, keys, active=0, debounce_ms=30, interval_ms=5, pin=None):
        if pin is None:
            from machine import Pin as pin
        pull = pin.PULL_UP if active == 0 else getattr(pin, "PULL_DOWN", None)
        self.pins = [pin(p, pin.IN, pull) for p in pins]
        self.active = active
        self.keys = keys
        self.db = _Debounce(len(self.pins), debounce_ms, interval_ms)
        self.db.start(self._scan)

    def _scan(self):
        bits = 0
        for i, p in enumerate(self.pins):
            if p.value() == self.active:
                bits |= 1 << i
        return bits

    def poll(self):
        return self.db.step(self._scan, self.keys)


def __getattr__(name):
    """``KeyMatrix``, ``Console``: from :mod:`tokenpad.keypad_ext` (loaded now)."""
    if name.startswith("__"):
        raise AttributeError(name)
    from tokenpad import keypad_ext

    return getattr(keypad_ext, name)
