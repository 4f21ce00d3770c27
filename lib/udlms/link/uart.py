"""Board UARTs as udlms streams that can change baud/format, RS-485 direction, echo drop.

A stream here has ``write(b)``, ``readinto(buf) -> int`` (0 = nothing now), ``flush()``
(returns once the bytes have left), ``configure(baud, bits=8, parity="N")`` (IEC 62056-21
mode E changes 300 7E1 -> 8N1) and ``close()``.

- ``MpUart(uart)``: MicroPython ``machine.UART``; configure = ``flush()`` + ``init()``
  (rp2 resets the UART block in init, so flush first).
- ``CpUart(tx, rx, ...)``: CircuitPython ``busio.UART``; only ``baudrate`` is settable in
  place, so a bits/parity change deinits and re-creates the UART.
- ``Rs485Stream(stream, de_pin, turnaround_ms)``: drives the transceiver's DE pin around
  each write; ``echo=True`` drops the byte-exact echo a half-duplex adapter hears.
- ``EchoDrop(stream)``: the echo drop alone (USB RS-485 adapters that echo).
No ``machine``/``busio`` import happens at module level.
"""

from udlms.errors import ConfigError
from udlms.port import sleep_ms, ticks_diff, ticks_ms

_PARITIES = ("N", "E", "O")


def _check(bits, parity):
    if parity not in _PARITIES or bits not in (7, 8):
        raise ConfigError("serial format %d%s not supported (7 or 8 bits, N/E/O)"
                          % (bits, parity), "config")


def frame_ms(n, baud, bits=8, parity="N"):
    """Milliseconds n characters take on the line (start + bits + parity + 1 stop)."""
    per = 2 + bits + (0 if parity == "N" else 1)
    return (n * per * 1000 + baud - 1) // baud


class MpUart:
    """MicroPython ``machine.UART`` (opened with ``timeout=0``) as a configurable stream."""

    def __init__(self, uart, baud=9600, bits=8, parity="N", **kw):
        self.uart = uart
        self.baud = baud
        self.bits = bits
        self.parity = parity
        self.kw = kw  # extra init() arguments kept across changes (timeout=0...)

    def write(self, b):
        self.uart.write(b)

    def readinto(self, buf):
        return self.uart.readinto(buf) or 0

    def flush(self):
        u = self.uart
        if hasattr(u, "flush"):
            u.flush()
        if hasattr(u, "txdone"):
            t0 = ticks_ms()
            while not u.txdone() and ticks_diff(ticks_ms(), t0) < 100:
                pass

    def configure(self, baud, bits=8, parity="N"):
        _check(bits, parity)
        self.flush()
        p = None if parity == "N" else (0 if parity == "E" else 1)  # machine.UART: 0 even
        self.uart.init(baudrate=baud, bits=bits, parity=p, stop=1, **self.kw)
        self.baud = baud
        self.bits = bits
        self.parity = parity

    def close(self):
        pass  # the UART stays open for the next session


class CpUart(MpUart):
    """CircuitPython ``busio.UART`` as a configurable stream (``readinto``/``close`` as
    MpUart's); ``busio`` may be injected (tests pass a fake). Extra keyword arguments
    (``rs485_dir``, ``receiver_buffer_size``, ...) are given to every UART it creates."""

    def __init__(self, tx, rx, baud=9600, bits=8, parity="N", busio=None, **kw):
        if busio is None:
            import busio
        self.busio = busio
        self.tx = tx
        self.rx = rx
        self.kw = kw
        self.uart = None
        self._t = 0  # when the last write started
        self._n = 0  # and the ms it takes on the line
        self._make(baud, bits, parity)

    def _make(self, baud, bits, parity):
        _check(bits, parity)
        par = None
        if parity != "N":
            P = self.busio.UART.Parity
            par = P.EVEN if parity == "E" else P.ODD
        self.uart = self.busio.UART(self.tx, self.rx, baudrate=baud, bits=bits, parity=par,
                                    stop=1, timeout=0, **self.kw)
        self.baud = baud
        self.bits = bits
        self.parity = parity

    def write(self, b):
        self.uart.write(b)
        self._t = ticks_ms()
        self._n = frame_ms(len(b), self.baud, self.bits, self.parity) + 1

    def flush(self):
        """busio has no flush: wait the frame time of the last write."""
        left = self._n - ticks_diff(ticks_ms(), self._t)
        if left > 0:
            sleep_ms(left)
        self._n = 0

    def configure(self, baud, bits=8, parity="N"):
        _check(bits, parity)
        self.flush()
        if bits == self.bits and parity == self.parity:
            self.uart.baudrate = baud  # the only format setting busio changes in place
            self.baud = baud
            return
        self.uart.deinit()
        self._make(baud, bits, parity)


def _set_pin(pin, v):
    f = getattr(pin, "value", None)
    if callable(f):  # machine.Pin
        f(v)
    else:  # digitalio.DigitalInOut
        pin.value = bool(v)


class EchoDrop:
    """Drop the byte-exact echo of what we wrote (half-duplex adapters hear themselves).

    After a write, received bytes that equal the written ones, in order, are discarded;
    the first differing byte ends the echo (it is kept) and so does ``echo_ms`` of
    silence. ``stats`` counts "dropped" bytes and "mismatch" events."""

    def __init__(self, stream, echo_ms=100, max_echo=512):
        self.stream = stream
        self.echo_ms = echo_ms
        self._echo = bytearray(max_echo)
        self._n = 0  # echo bytes expected
        self._pos = 0  # echo bytes already seen
        self._t = 0
        self.stats = {"dropped": 0, "mismatch": 0}

    def write(self, b):
        self.stream.write(b)
        n = min(len(b), len(self._echo))
        self._echo[:n] = b[:n]
        self._n = n
        self._pos = 0
        self._t = ticks_ms()

    def readinto(self, buf):
        n = self.stream.readinto(buf)
        if not n:
            if self._n and ticks_diff(ticks_ms(), self._t) > self.echo_ms:
                self._n = 0  # the echo is over (or never came)
            return 0
        if not self._n:
            return n
        self._t = ticks_ms()
        e = self._echo
        i = 0
        p = self._pos
        while i < n and p < self._n and buf[i] == e[p]:
            i += 1
            p += 1
        self.stats["dropped"] += i
        if p >= self._n:
            self._n = 0
        elif i < n:
            self.stats["mismatch"] += 1
            self._n = 0
        else:
            self._pos = p
        if i:
            k = n - i
            for j in range(k):  # shift the remainder down, no allocation
                buf[j] = buf[i + j]
            return k
        return n

    def flush(self):
        f = getattr(self.stream, "flush", None)
        if f is not None:
            f()

    def configure(self, baud, bits=8, parity="N"):
        self._n = 0
        self.stream.configure(baud, bits, parity)

    def close(self):
        self.stream.close()


class Rs485Stream(EchoDrop):
    """RS-485 half duplex: DE pin active, write, wait until the last stop bit left
    (``flush()``/``txdone()``, else the frame time), wait ``turnaround_ms``, DE inactive.

    ``de_pin`` is a ``machine.Pin`` or a ``digitalio.DigitalInOut`` set as output;
    ``active`` the level that enables the driver; ``echo=True`` also drops our echo
    (transceivers whose receiver stays enabled while sending)."""

    def __init__(self, stream, de_pin, turnaround_ms=0, active=1, echo=False, baud=9600,
                 echo_ms=100):
        EchoDrop.__init__(self, stream, echo_ms, 512 if echo else 0)
        self.de = de_pin
        self.turnaround_ms = turnaround_ms
        self.on = 1 if active else 0
        self.echo = echo
        self.baud = getattr(stream, "baud", baud)
        _set_pin(de_pin, 1 - self.on)  # listen

    def write(self, b):
        _set_pin(self.de, self.on)
        t0 = ticks_ms()
        try:
            if self.echo:
                EchoDrop.write(self, b)
            else:
                self.stream.write(b)
            f = getattr(self.stream, "flush", None)
            if f is not None:
                f()
            else:
                left = frame_ms(len(b), self.baud) + 1 - ticks_diff(ticks_ms(), t0)
                if left > 0:
                    sleep_ms(left)
            if self.turnaround_ms:
                sleep_ms(self.turnaround_ms)
        finally:
            _set_pin(self.de, 1 - self.on)

    def readinto(self, buf):
        if self.echo:
            return EchoDrop.readinto(self, buf)
        return self.stream.readinto(buf) or 0

    def configure(self, baud, bits=8, parity="N"):
        EchoDrop.configure(self, baud, bits, parity)
        self.baud = baud
