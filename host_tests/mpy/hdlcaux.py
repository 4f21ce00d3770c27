"""MicroPython lane: the HDLC helpers that only tools, tests and the simulator use, which the
device build of udlms.link.hdlc leaves out: the frame builders and control constants
(from udlms.host.frames), and feeding the receiver and reading a frame's addresses on what
a board has (IEC 62056-46 clause 8.4). Runs under CPython too."""

# the frame builders are the PC side's own (udlms.host.frames: plain functions, importable
# here; only its additions to the receiver are CPython's)
from udlms.host.frames import DISC, DM, SNRM, UA, frame, i_control, rr_control, ua_info  # noqa: F401


class _Once:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def readinto(self, buf):
        n = min(len(buf), len(self.data) - self.pos)
        for i in range(n):
            buf[i] = self.data[self.pos + i]
        self.pos += n
        return n


def feed(r, data):
    """Hand ``data`` to receiver ``r`` as a UART would (all of it must fit)."""
    s = _Once(data)
    while s.pos < len(data):
        if not r.fill(s):
            raise AssertionError("receiver full")


def dst(f):
    return bytes(f.buf[f.s + 3:f.q])


def src(f):
    return bytes(f.buf[f.q:f.r])
