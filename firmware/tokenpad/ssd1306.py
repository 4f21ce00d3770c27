"""The SSD1306 OLED for ``tokenpad.display`` (its own module: only boards with one load it,
issue 26)."""

from tokenpad.display import Display, i2c_write


class Ssd1306(Display):
    """128x64 (or x32) OLED over I2C, 8x8 text from framebuf (SSD1306 datasheet §9, §10)."""

    def __init__(self, i2c, address=0x3C, width=128, height=64):
        super().__init__()
        try:
            import framebuf
            fmt = framebuf.MONO_VLSB
        except ImportError:  # CircuitPython: the adafruit_framebuf library
            import adafruit_framebuf as framebuf
            fmt = framebuf.MVLSB
        self.i2c = i2c
        self.addr = address
        self.w = width
        self.h = height
        self.cols = width // 8
        self.rows = height // 8
        self.pages = height // 8
        self.buf = bytearray(1 + width * self.pages)
        self.buf[0] = 0x40  # control byte: data follows
        self.fb = framebuf.FrameBuffer(memoryview(self.buf)[1:], width, height, fmt)
        self.cmd = bytearray(2)
        for c in (0xAE, 0xD5, 0x80, 0xA8, height - 1, 0xD3, 0x00, 0x40, 0x8D, 0x14,
                  0x20, 0x00, 0xA1, 0xC8, 0xDA, 0x12 if height == 64 else 0x02,
                  0x81, 0xCF, 0xD9, 0xF1, 0xDB, 0x40, 0xA4, 0xA6, 0xAF):
            self._cmd(c)

    def _cmd(self, c):
        self.cmd[0] = 0x00
        self.cmd[1] = c
        i2c_write(self.i2c, self.addr, self.cmd)

    def _draw(self):
        self.fb.fill(0)
        for i, ln in enumerate(self.lines):
            self.fb.text(ln, 0, i * 8, 1)
        for c in (0x21, 0, self.w - 1, 0x22, 0, self.pages - 1):
            self._cmd(c)
        i2c_write(self.i2c, self.addr, self.buf)
