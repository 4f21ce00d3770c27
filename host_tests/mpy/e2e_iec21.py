"""MicroPython lane, end to end over mode E: IEC 62056-21 sign-on through MpUart on a fake
machine.UART (which records the settings it is switched to), then the whole HLS-GMAC token
session relayed to udlms.host.sim over TCP (SIM_URL, set by tools/run_tests.py)."""

# (passes at 112k, fails at 110k, 2026-11-25: the UART wrappers and the fake add .mpy code)
import gc
import sys

from mpytest import eq, main, sim_address, test
from uartfake import FakeUart
from udlms.link import transport
from udlms.crypto.security import MemoryCounter
from udlms.link.uart import MpUart

EK = b"\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"
AK = b"\xd0\xd1\xd2\xd3\xd4\xd5\xd6\xd7\xd8\xd9\xda\xdb\xdc\xdd\xde\xdf"


class RelayUart(FakeUart):
    """After the switch to HDLC, bytes go to the simulator and its answers come back."""

    def __init__(self, tcp):
        FakeUart.__init__(self, tcp.write)
        self.tcp = tcp

    def readinto(self, buf):
        if self.hdlc and not self.rx:
            n = self.tcp.readinto(buf)
            return n or None
        return FakeUart.readinto(self, buf)


@test
def token_over_mode_e():
    host, port = sim_address()
    tcp = transport.TcpStream(host, port, 2000)
    try:
        u = RelayUart(tcp)
        st = MpUart(u)
        from udlms.link import iec21

        eq(iec21.sign_on(st, switch_ms=10, settle_ms=0).baud, 9600)
        # the sign-on code is not needed for the session: give its heap back (a board would
        # do the same; .mpy code lives in the heap on the unix port)
        del iec21
        sys.modules.pop("udlms.link.iec21", None)
        gc.collect()
        from udlms.client import session, token

        eq(u.inits, [(300, 7, 0, 1), (9600, 8, None, 1)], "settings switched to")
        s = session.Settings(ek=EK, ak=AK, system_title=b"MPY\x00\x00\x00\x00\x02",
                             timeout_ms=2000)
        sess = session.Session(st, s, MemoryCounter(5000))
        sess.open()
        try:
            r = token.enter_token(sess, "43120987654321098765")
        finally:
            sess.close()
        eq(r.accepted, True, "accepted")
        eq(u.lost, 0, "bytes sent at a wrong setting")
    finally:
        tcp.close()


if __name__ == "__main__":
    main()
