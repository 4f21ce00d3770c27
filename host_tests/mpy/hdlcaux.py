"""MicroPython lane: the HDLC helpers that only tools, tests and the simulator use, which the
device build of udlms.link.hdlc leaves out (its ``_FULL`` parts: ``frame()``, ``ua_info()``,
``i_control()``, ``rr_control()``, ``Receiver.feed``, the control constants, the field
views), built here on what a board has (IEC 62056-46 clause 8.4). Runs under CPython too."""

from udlms.link import hdlc

SNRM = 0x93
UA = 0x73
DISC = 0x53
DM = 0x1F


def frame(dst, src, control, info=b"", segmented=False):
    """A complete frame as bytes (clause 8.4.1)."""
    out = bytearray(len(dst) + len(src) + len(info) + 16)
    return bytes(out[:hdlc.encode_frame(out, dst + src, control, info, segmented)])


def i_control(vs, vr):
    """I-frame control, P bit set (clause 8.4.3)."""
    return ((vr & 7) << 5) | 0x10 | ((vs & 7) << 1)


def rr_control(vr):
    """RR control, P bit set (clause 8.4.3)."""
    return ((vr & 7) << 5) | 0x11


def ua_info(max_tx, max_rx, win_tx, win_rx):
    """UA information field with all four parameters written (as meters answer)."""
    return hdlc.snrm_info(max_tx, max_rx, win_tx, win_rx, True)


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
        if not r.readinto_from(s):
            raise AssertionError("receiver full")


def dst(f):
    return bytes(f.buf[f.s + 3:f.q])


def src(f):
    return bytes(f.buf[f.q:f.r])
