"""A fake MicroPython ``machine.UART`` with an IEC 62056-21 mode E meter behind it.

It records every ``init()`` (the settings the client switched to) and ``flush()``. Bytes
written while the line is not at the setting the meter expects are lost, as on a real
line. Sign-on at 300 7E1 gets the identification; ``ACK 2 Z 2`` moves the meter to Z's baud
8N1, where ``backend(data) -> bytes`` (HDLC) answers.
"""

BAUDS = (300, 600, 1200, 2400, 4800, 9600, 19200)


class FakeUart:
    def __init__(self, backend, ident=b"/MMM5\\2FAKE\r\n", echo=False):
        self.backend = backend
        self.ident = ident
        self.echo = echo
        self.inits = []
        self.events = []
        self.setting = (9600, 8, None)
        self.expect = (300, 7, 0)
        self.hdlc = False
        self.rx = bytearray()
        self.line = b""
        self.lost = 0

    # -- machine.UART subset ----------------------------------------------------------
    def init(self, baudrate, bits=8, parity=None, stop=1, **kw):
        self.inits.append((baudrate, bits, parity, stop))
        self.events.append("init")
        self.setting = (baudrate, bits, parity)

    def flush(self):
        self.events.append("flush")

    def txdone(self):
        return True

    def write(self, b):
        b = bytes(b)
        if self.echo:
            self.rx += b
        if self.setting != self.expect:
            self.lost += len(b)
            return len(b)
        if self.hdlc:
            out = self.backend(b)
            if out:
                self.rx += out
            return len(b)
        self.line += b
        while b"\n" in self.line:
            i = self.line.index(b"\n")
            msg = self.line[:i + 1]
            self.line = self.line[i + 1:]
            self._message(msg)
        return len(b)

    def _message(self, msg):
        if msg.startswith(b"/?") and msg.endswith(b"!\r\n"):
            self.rx += self.ident
        elif len(msg) == 6 and msg[0] == 6 and msg[1:2] == b"2" and msg[3:4] == b"2":
            self.expect = (BAUDS[msg[2] - 0x30], 8, None)
            self.hdlc = True

    def readinto(self, buf):
        n = min(len(buf), len(self.rx))
        if not n:
            return None  # machine.UART with timeout=0: None when nothing is there
        buf[:n] = self.rx[:n]
        self.rx = self.rx[n:]
        return n
