"""Displays: console, SSD1306 (I2C, via framebuf), HD44780 behind a PCF8574 I2C backpack
(the tests' recording display is host_tests/mpy/tpfakes.FakeDisplay). All share
``show(*lines)``: each argument is one line, long lines are word-wrapped to the display's
width. When the text has more
lines than the display has rows (a reason on a 16x2 LCD), the first line stays and
``tick()`` (called by the app's loop) pages through the rest every ``PAGE_MS``.
The SSD1306 is :mod:`tokenpad.ssd1306`, the console :mod:`tokenpad.console`: a board holds
the code of its own display only (issue 26).
"""

from udlms.port import sleep_ms, ticks_diff, ticks_ms

PAGE_MS = 1500


def wrap(text, width):
    """Split text into lines of at most ``width`` characters at spaces where possible."""
    out = []
    for para in str(text).split("\n"):
        line = ""
        for word in para.split(" "):
            while len(word) > width:
                if line:
                    out.append(line)
                    line = ""
                out.append(word[:width])
                word = word[width:]
            if not line:
                line = word
            elif len(line) + 1 + len(word) <= width:
                line += " " + word
            else:
                out.append(line)
                line = word
        out.append(line)
    return out


class Display:
    cols = 40
    rows = 8

    def __init__(self):
        self.lines = []
        self.all = []
        self.page = 0
        self.paged = None

    def show(self, *lines):
        out = []
        for ln in lines:
            out.extend(wrap(ln, self.cols))
        self.all = out
        self.page = 0
        self.paged = None
        self.lines = out[:self.rows]
        self._draw()

    def tick(self, now=None):
        """Show the next page of a text longer than the display (first line kept)."""
        n = self.rows - 1
        if n < 1 or len(self.all) <= self.rows:
            return
        now = ticks_ms() if now is None else now
        if self.paged is None:
            self.paged = now
            return
        if ticks_diff(now, self.paged) < PAGE_MS:
            return
        self.paged = now
        rest = self.all[1:]
        self.page = (self.page + 1) % ((len(rest) + n - 1) // n)
        self.lines = [self.all[0]] + rest[self.page * n:self.page * n + n]
        self._draw()

    def _draw(self):
        pass

    def text(self):
        return "\n".join(self.lines)


def i2c_write(bus, addr, buf):
    """``writeto(addr, buf)`` on MicroPython machine.I2C, or CircuitPython busio.I2C under
    its lock."""
    if not hasattr(bus, "try_lock"):
        bus.writeto(addr, buf)
        return
    while not bus.try_lock():
        pass
    try:
        bus.writeto(addr, buf)
    finally:
        bus.unlock()


class Hd44780(Display):
    """Character LCD (HD44780) in 4-bit mode behind a PCF8574 backpack: P0 RS, P1 RW, P2 E,
    P3 backlight, P4-P7 D4-D7 (HD44780U datasheet, 4-bit initialisation, figure 24).
    A row is one I2C write (the PCF8574 takes each byte of a write as a new port state):
    4 port states per character, E high then low for each nibble."""

    _ROW = (0x00, 0x40, 0x14, 0x54)

    def __init__(self, i2c, address=0x27, cols=16, rows=2):
        super().__init__()
        self.i2c = i2c
        self.addr = address
        self.cols = cols
        self.rows = rows
        self.b = bytearray(4)
        self.row = bytearray(4 * (cols + 1))
        sleep_ms(50)
        for n in (0x3, 0x3, 0x3, 0x2):  # one nibble each, RS 0: E high then low latches
            v = (n << 4) | 0x08  # backlight on
            self.b[0] = v | 0x04
            self.b[1] = v
            i2c_write(self.i2c, self.addr, memoryview(self.b)[:2])
            sleep_ms(5)
        for c in (0x28, 0x0C, 0x06):
            self._byte(c, 0)
        self._byte(0x01, 0)
        sleep_ms(2)

    def _put(self, buf, i, c, rs):
        for n in (c >> 4, c & 0x0F):
            v = (n << 4) | rs | 0x08
            buf[i] = v | 0x04
            buf[i + 1] = v
            i += 2
        return i

    def _byte(self, c, rs):
        self._put(self.b, 0, c, rs)
        i2c_write(self.i2c, self.addr, self.b)

    def _draw(self):
        buf = self.row
        for r in range(self.rows):
            ln = self.lines[r] if r < len(self.lines) else ""
            i = self._put(buf, 0, 0x80 | self._ROW[r], 0)
            t = (ln + " " * self.cols)[:self.cols]
            # the bytes of ASCII text: MicroPython interns each character a loop over a str
            # yields, for good (issue 26)
            b = t.encode()
            if len(b) != len(t):
                b = [ord(ch) & 0xFF for ch in t]
            for c in b:
                i = self._put(buf, i, c, 1)
            i2c_write(self.i2c, self.addr, buf)

