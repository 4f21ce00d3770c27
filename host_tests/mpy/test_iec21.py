"""MicroPython lane: IEC 62056-21 mode E sign-on through the board UART wrappers (MpUart for
machine.UART, CpUart for busio.UART), RS-485 direction control and echo drop, with fakes
that record the settings the client switched to. Runs under CPython too."""
# lane-heap: 80k  (the fake UARTs and the script's own code from source need 56-60k: 64k
# sat on the edge; the library's own figures are measured by the e2e scripts and make bench)


from mpytest import eq, main, raises, test
from uartfake import FakeUart

import hdlcaux as aux
from udlms.link import hdlc, iec21
from udlms.errors import NoAnswer
from udlms.link.uart import CpUart, EchoDrop, MpUart, Rs485Stream

SERVER = hdlc.server_address(1, 17, 2)


def hdlc_meter(data):
    """Answer an SNRM from the public client with UA (and DISC with UA)."""
    rx = hdlc.Receiver(128)
    aux.feed(rx, data)
    f = rx.next()
    if f is None or aux.dst(f) != SERVER:
        return b""
    if f.control & 0xEF in (aux.SNRM & 0xEF, aux.DISC & 0xEF):
        info = aux.ua_info(128, 128, 1, 1) if f.control & 0xEF == aux.SNRM & 0xEF else b""
        return aux.frame(aux.src(f), SERVER, aux.UA, info)
    return b""


@test
def machine_uart_sign_on_then_hdlc():
    u = FakeUart(hdlc_meter)
    st = MpUart(u, timeout=0)
    ident = iec21.sign_on(st, switch_ms=20, settle_ms=0)
    eq(ident.baud, 9600, "baud")
    eq(ident.manufacturer, "MMM")
    eq(ident.mode_e, True)
    eq(u.inits, [(300, 7, 0, 1), (9600, 8, None, 1)], "settings switched to")
    eq(u.events[:2], ["flush", "init"], "flush before init")
    link = hdlc.Link(st, client_sap=16, server_logical=1, server_physical=17, timeout_ms=200,
                     retries=0)
    link.connect()
    eq(link.connected, True)
    eq(u.lost, 0, "bytes sent at a wrong setting")


@test
def no_switch_no_answer():
    u = FakeUart(hdlc_meter)
    st = MpUart(u)
    st.configure(9600)  # a client that skips the sign-on
    link = hdlc.Link(st, client_sap=16, server_physical=17, timeout_ms=50, retries=0)
    raises(NoAnswer, link.connect)
    if not u.lost:
        raise AssertionError("the fake meter should have lost the SNRM")


@test
def baud_cap_and_echoed_request():
    u = FakeUart(hdlc_meter, ident=b"/ABc6\\2X\r\n", echo=True)
    st = MpUart(u)
    ident = iec21.sign_on(st, max_baud=9600, switch_ms=0, settle_ms=0)
    eq(ident.baud, 9600)
    eq(ident.fast, True)
    eq(u.inits[-1], (9600, 8, None, 1))


@test
def silent_line():
    u = FakeUart(hdlc_meter, ident=b"")
    e = raises(NoAnswer, iec21.sign_on, MpUart(u), timeout_ms=50)
    eq(e.kind, "no-identification")


class FakeBusio:
    """busio with a UART class that records how it was created."""

    created = []

    class UART:
        class Parity:
            EVEN = "even"
            ODD = "odd"

        def __init__(self, tx, rx, baudrate=9600, bits=8, parity=None, stop=1, timeout=1,
                     **kw):
            self.backend = FakeBusio.backend
            self.baudrate = baudrate
            self.args = (baudrate, bits, parity, stop, timeout)
            self.dead = False
            FakeBusio.created.append(self)

        def deinit(self):
            self.dead = True

        def write(self, b):
            self.backend.append(("%d" % self.baudrate, bytes(b)))

        def readinto(self, buf):
            return None


@test
def busio_recreated_for_parity_change_only():
    FakeBusio.created = []
    FakeBusio.backend = []
    st = CpUart("TX", "RX", 9600, busio=FakeBusio)
    st.configure(300, 7, "E")
    st.configure(9600, 8, "N")
    st.configure(19200, 8, "N")
    c = FakeBusio.created
    eq([x.args for x in c], [(9600, 8, None, 1, 0), (300, 7, "even", 1, 0),
                             (9600, 8, None, 1, 0)], "UARTs created")
    eq([x.dead for x in c], [True, True, False], "deinit before re-creating")
    eq(c[-1].baudrate, 19200, "baud changed in place")


class Pin:
    def __init__(self, log):
        self.log = log

    def value(self, v):
        self.log.append(("pin", v))


class Wire:
    def __init__(self, log, echo=True):
        self.log = log
        self.echo = echo
        self.rx = bytearray()

    def write(self, b):
        self.log.append(("write", bytes(b)))
        if self.echo:
            self.rx += b

    def flush(self):
        self.log.append(("flush",))

    def readinto(self, buf):
        n = min(len(buf), len(self.rx))
        buf[:n] = self.rx[:n]
        self.rx = self.rx[n:]
        return n


@test
def rs485_direction_around_each_write():
    log = []
    w = Wire(log, echo=False)
    st = Rs485Stream(w, Pin(log), turnaround_ms=1)
    st.write(b"\x7e\xa0")
    eq(log, [("pin", 0), ("pin", 1), ("write", b"\x7e\xa0"), ("flush",), ("pin", 0)])


@test
def echo_dropped_byte_exact():
    log = []
    w = Wire(log)
    st = Rs485Stream(w, Pin(log), echo=True)
    st.write(b"\x7e\xa0\x07")
    w.rx += b"\x7e\xa0\x0a"  # the meter's answer follows our echo
    buf = bytearray(16)
    n = st.readinto(buf)
    eq(bytes(buf[:n]), b"\x7e\xa0\x0a", "answer kept, echo gone")
    eq(st.stats["dropped"], 3)
    e = EchoDrop(Wire([], echo=False))
    e.write(b"\x01\x02")
    e.stream.rx += b"\x01\x09"
    n = e.readinto(buf)
    eq(bytes(buf[:n]), b"\x09")
    eq(e.stats["mismatch"], 1)


if __name__ == "__main__":
    main()
