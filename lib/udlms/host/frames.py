"""PC side of the HDLC link (IEC 62056-46 clause 8.4): what tools, tests, the simulator and
the decoder use and a board never runs, added to :mod:`udlms.link.hdlc` and its
:mod:`udlms.link` (the frame codec) when ``udlms.host`` is imported (``udlms`` does on CPython; the
link layer never imports host code): ``frame()``, ``fcs16``, ``ua_info()``, ``i_control()``,
``rr_control()``, the control constants (clause 8.4.3), and on ``Receiver`` (so on the Link
too) ``feed``, ``pending``, ``reset``, the field views of the frame ``next()`` found and the
error counts (``errors`` by kind, ``last_error``). On CPython only (the device build never
needs them)."""

import sys

from udlms.errors import FrameError
from udlms import link
from udlms.link import hdlc

SNRM = 0x93
UA = 0x73
DISC = 0x53
DM = 0x1F
FRMR = 0x97
LLC_REQUEST = b"\xe6\xe6\x00"

# why the receiver dropped bytes, by the code udlms.link's receiver reports (clause 8.4)
_WHY = (
    ("line noise before a frame", "noise"),  # 0: counted in bytes
    ("receive buffer overflow: no frame in %d bytes (line noise?)", "overflow"),
    ("frame cut off: the line went quiet mid-frame", "truncated"),
    ("not frame format type 3 (format byte %02X)", "bad-format"),
    ("frame length %d impossible", "bad-format"),
    ("frame does not end with 7E where its length says", "truncated"),
    ("address field malformed (1, 2 or 4 bytes, last one odd)", "bad-address"),
    ("frame too short for its header", "bad-format"),
    ("frame too short for its header check", "bad-format"),
    ("header check sequence (HCS) wrong", "bad-hcs"),
    ("frame check sequence (FCS) wrong: line noise or wrong baud rate", "bad-fcs"),
)


def frame(dst, src, control, info=b"", segmented=False):
    """A complete frame as bytes (clause 8.4.1)."""
    out = bytearray(len(dst) + len(src) + len(info) + 16)
    return bytes(out[:link.encode_frame(out, dst + src, control, info, segmented)])


def i_control(vs, vr):
    """I-frame control, P bit set: N(R) = vr, N(S) = vs (clause 8.4.3)."""
    return ((vr & 7) << 5) | 0x10 | ((vs & 7) << 1)


def rr_control(vr):
    """RR control, P bit set: N(R) = vr (clause 8.4.3)."""
    return ((vr & 7) << 5) | 0x11


def ua_info(max_tx, max_rx, win_tx, win_rx):
    """UA information field with all four parameters written (as meters answer)."""
    return hdlc.snrm_info(max_tx, max_rx, win_tx, win_rx, True)


class _Receiver:
    """What ``hdlc.Receiver`` gets on the PC: the frame's fields as views made on demand
    (the link reads ``buf`` at ``s..j``), bytes fed in, the error counts."""

    @property
    def size(self):
        return len(self.buf)

    @property
    def segmented(self):
        return bool(self.buf[self.s + 1] & 0x08)

    @property
    def raw(self):
        return memoryview(self.buf)[self.s:self.j + 3]

    @property
    def dst(self):
        return memoryview(self.buf)[self.s + 3:self.q]

    @property
    def src(self):
        return memoryview(self.buf)[self.q:self.r]

    @property
    def info(self):
        return memoryview(self.buf)[self.i:self.j]

    @property
    def info_len(self):
        return self.j - self.i

    def _error(self, k, v=1):
        """Count a drop of kind ``_WHY[k]`` (noise: ``v`` bytes; else ``v`` formats the
        message) and keep it as ``last_error``."""
        msg, kind = _WHY[k]
        self.errors[kind] = self.errors.get(kind, 0) + (v if not k else 1)
        self.last_error = FrameError(msg % v if "%" in msg else msg, kind)

    def pending(self):
        """Bytes received that do not yet form a frame (ignoring idle flags)."""
        n = 0
        for i in range(self.start, self.end):
            if self.buf[i] != 0x7E:
                n += 1
        return n

    def drop_partial(self):
        """Discard an incomplete frame (inter-character timeout, clause 6.4.4.2; the Link does
        this in its receive loop); idle flags stay (one may open the next frame)."""
        for i in range(self.start, self.end):
            if self.buf[i] != 0x7E:
                self._error(2)
                self.start = self.end = 0
                return

    def _compact(self):
        """Move what is left of the buffer to the front (the Link does this in
        ``fill``); discard a buffer full of noise."""
        s = self.start
        buf = self.buf
        if s:
            buf[:self.end - s] = buf[s:self.end]
            self.start = 0
            self.end -= s
        if self.end == len(buf):
            self._error(1, len(buf))
            self.start = self.end = 0

    def feed(self, data):
        """Copy data in (tools and tests); returns the number of bytes taken (fewer when
        the buffer is full: drain it with next() and feed the rest)."""
        t = 0
        n = len(data)
        buf = self.buf
        while t < n:
            if self.end == len(buf):
                self._compact()
            e = self.end
            k = min(len(buf) - e, n - t)
            buf[e:e + k] = data[t:t + k]
            self.end = e + k
            t += k
            if t < n:  # the buffer is full: move what is left of it to the front
                s = self.start
                e = self.end
                buf[:e - s] = buf[s:e]
                self.start = 0
                self.end = e - s
                if self.end == len(buf):  # a frame is waiting to be taken with next()
                    break
        return t

    def reset(self):
        self.start = self.end = 0


# CPython only: MicroPython (its lane imports every module, with the device build of the link)
# cannot add properties to a class that already has a subclass (the Link)
if sys.implementation.name == "cpython":
    for _n in ("size", "segmented", "raw", "dst", "src", "info", "info_len", "_error",
               "pending", "drop_partial", "_compact", "feed", "reset"):
        setattr(link.Receiver, _n, getattr(_Receiver, _n))
    link.frame = frame
    for _n in ("SNRM", "UA", "DISC", "DM", "FRMR", "LLC_REQUEST", "frame", "i_control",
               "rr_control", "ua_info"):
        setattr(hdlc, _n, globals()[_n])
    hdlc.fcs16 = link.fcs16
