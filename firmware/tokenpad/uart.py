"""The meter port as a udlms stream: ``write(b)``, ``readinto(buf) -> int|None``, ``close()``.

Wraps MicroPython ``machine.UART`` or CircuitPython ``busio.UART`` (both opened with a zero
read timeout, so ``readinto`` never blocks; the HDLC link keeps its own time). For RS-485
the driver-enable (DE, and /RE tied to it) pin is raised around each write and dropped
once the last stop bit has left the shift register (``flush()``/``txdone()`` on
MicroPython, the frame's transmission time where the UART cannot tell).
"""

from udlms.port import sleep_ms, ticks_diff, ticks_ms


class UartStream:
    def __init__(self, uart, de=None, de_active=1, baud=9600):
        self.uart = uart
        self.de = de
        self.on = 1 if de_active else 0
        self.baud = baud
        if de is not None:
            de.value(1 - self.on)  # receive

    def write(self, b):
        """Send ``b``; with DE, raised for it and dropped once the bytes have left the wire
        (one method: each is a function object and a name held while a session runs)."""
        u = self.uart
        if self.de is None:
            u.write(b)
            return
        self.de.value(self.on)
        t = ticks_ms()
        try:
            u.write(b)
            if hasattr(u, "flush"):
                u.flush()
            if hasattr(u, "txdone"):
                while not u.txdone():
                    pass
            elif not hasattr(u, "flush"):  # busio.UART: wait the frame time (10 bits/byte)
                t = (len(b) * 10000) // self.baud + 2 - ticks_diff(ticks_ms(), t)
                if t > 0:
                    sleep_ms(t)
        finally:
            self.de.value(1 - self.on)

    def readinto(self, buf):
        n = self.uart.readinto(buf)
        return n or 0

    def close(self):
        pass  # the UART stays open for the next session

    def release(self):
        """The app drops this stream after an action. On the rp2 and on CircuitPython
        ``deinit()`` frees the UART's ring buffers, which the port keeps referenced otherwise
        (the rxbuf and the tx buffer held after the action); CircuitPython also frees the
        pins, so the next action opens a new ``busio.UART`` on them. The ESP32's buffers live
        in ESP-IDF's heap, not MicroPython's: no deinit there (the emulated ESP32 took an
        interrupt storm at the next UART after one)."""
        import sys

        if sys.platform != "esp32":
            self.uart.deinit()


def open_uart(b, baud=None):
    """A UartStream for the board's meter port at ``baud`` (default: the board's)."""
    u = b["uart"]
    baud = baud or u.get("baud", 9600)
    de_pin = u.get("rs485_de")
    if b["runtime"] == "circuitpython":
        import board
        import busio

        kw = {"baudrate": baud, "timeout": 0, "receiver_buffer_size": u.get("rxbuf", 256)}
        if de_pin is not None:  # CircuitPython drives DE itself
            kw["rs485_dir"] = getattr(board, de_pin)
            kw["rs485_invert"] = not u.get("de_active", 1)
        uart = busio.UART(getattr(board, u["tx"]), getattr(board, u["rx"]), **kw)
        return UartStream(uart, None, 1, baud)
    from machine import UART, Pin

    uart = UART(u["id"], baudrate=baud, bits=8, parity=None, stop=1, tx=Pin(u["tx"]),
                rx=Pin(u["rx"]), timeout=0, timeout_char=0, rxbuf=u.get("rxbuf", 256))
    de = Pin(de_pin, Pin.OUT) if de_pin is not None else None
    return UartStream(uart, de, u.get("de_active", 1), baud)
