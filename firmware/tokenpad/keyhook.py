"""The console key hook (board.json ``"keypad": {"type": "console"}``): keys typed on the
REPL console, for emulators that model no GPIO inputs (Espressif's QEMU reads every pin as
pressed) and for trying a board before the keypad is wired. ``poll()`` as in
:mod:`tokenpad.keypad`. Its own module, loaded only then: a board with a keypad holds none
of its code (issue 26); ``tokenpad.keypad_ext.Console`` names it.
"""

from udlms.port import ticks_ms


class Console:
    """Test hook: each key character typed on the console (``0``-``9``, ``*``, ``#``,
    ``A``-``D``, ``R`` the resend button; ``!`` a long press of ``*``) is one press and its
    release. ``stream`` (default ``sys.stdin``) needs ``readinto``; ``ready()`` (default a
    ``select.poll`` of it) says whether a byte is waiting. One preallocated byte buffer."""

    KEYS = "0123456789*#ABCDR"

    def __init__(self, stream=None, ready=None):
        if stream is None:
            import sys

            stream = getattr(sys.stdin, "buffer", sys.stdin)
        if ready is None:
            import select

            p = select.poll()
            p.register(stream, select.POLLIN)

            def ready():
                return bool(p.poll(0))
        self.stream = stream
        self.ready = ready
        self.buf = bytearray(1)
        self.release = None  # the release owed for the last press

    def poll(self):
        if self.release is not None:
            ev, self.release = self.release, None
            return ev
        while self.ready():
            if not self.stream.readinto(self.buf):
                return None
            ch = chr(self.buf[0])
            if ch == "!":
                key, hold = "*", 1000
            elif ch in self.KEYS:
                key, hold = ch, 60
            else:
                continue  # spaces, line ends: ignored
            t = ticks_ms()
            self.release = (key, False, t + hold)
            return (key, True, t)
        return None
