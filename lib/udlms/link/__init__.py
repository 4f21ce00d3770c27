"""Link layer: HDLC (IEC 62056-46), the IEC 62056-47 wrapper, mode E (IEC 62056-21), transports.

Here, as the HDLC link (:mod:`udlms.link.hdlc`) uses them without one more module: frame
format type 3 (clause 8.4.1): 7E, format (A0 | S<<3 | length), destination and source address,
control, HCS when an information field follows, info, FCS, 7E; HCS and FCS are CRC-16/X.25
(clause 8.4.6), sent low byte first; and the incremental receiver (clause 8.4: frames in
whatever the UART delivers, resynchronising on garbage, in one reused buffer, no allocation
per byte). The PC-only names (``frame()``, the receiver's ``feed``, views and error counts)
are added by :mod:`udlms.host.frames`; ``_FULL`` parts are left out of the device build."""

from udlms.errors import LinkError
from udlms.port import const

# _FULL: 0 in the device build (tools/build/msgtable.py): the error counts (udlms.host.frames)
_FULL = const(1)
_FLAG = const(0x7E)
_OVH = const(16)  # flags, format, 4+1 address bytes, control, HCS, FCS (worst case)
_GOOD = const(0x0F47)  # fcs16 of bytes followed by their own FCS (the CRC's residue)


def fcs16(buf, start=0, end=None):
    """CRC-16/X.25 of buf[start:end] (clause 8.4.6; sent low byte first), a nibble at a time:
    polynomial 0x8408 maps nibble n to n * 0x1081, so no table is kept."""
    c = 0xFFFF
    for i in range(start, len(buf) if end is None else end):
        c ^= buf[i]
        c = (c >> 4) ^ (c & 15) * 0x1081
        c = (c >> 4) ^ (c & 15) * 0x1081
    return c ^ 0xFFFF


def encode_frame(out, addr, control, info=None, split=False):
    """Write a frame (clause 8.4.1) into bytearray ``out``; return its length. ``addr``: the
    destination address then the source address (clause 8.4.2); ``split``: the segmentation
    bit (more segments follow)."""
    k = len(info) if info else 0
    n = 2 + len(addr) + 1 + (2 + k if k else 0) + 2
    if n > 0x7FF:
        raise LinkError("frame of %d bytes exceeds the 11-bit length field" % n, "too-long")
    if len(out) < n + 2:
        raise LinkError("frame buffer too small", "too-long")
    out[0] = _FLAG
    out[1] = 0xA0 | (0x08 if split else 0) | (n >> 8)
    out[2] = n & 0xFF
    p = 3
    for b in addr:
        out[p] = b
        p += 1
    out[p] = control
    p += 1
    while True:  # HCS (when info follows), then FCS
        c = fcs16(out, 1, p)
        out[p] = c & 0xFF
        out[p + 1] = c >> 8
        p += 2
        if not k:
            out[p] = _FLAG
            return p + 1
        out[p:p + k] = info
        p += k
        k = 0


class Receiver:
    """Incremental frame parser (clause 8.4) for frames of up to ``size`` information bytes:
    ``fill(stream)`` reads what the stream has, ``next()`` returns the next good frame (the
    receiver itself: ``control``, opening flag at ``s``, source address at ``q``, control at
    ``r``, info ``i..j`` in ``buf``) or None."""

    def __init__(self, size=256):
        self.buf = bytearray(2 * (size + _OVH))
        self.start = self.end = 0
        self.data = bytearray(64)  # fill() reads here: no view per poll
        if _FULL:
            self.errors = {}
            self.last_error = None
        self.control = self.s = self.q = self.r = self.i = self.j = 0

    def fill(self, stream):
        """Read what the stream has (through a fixed 64-byte chunk: no allocation); returns
        the byte count (0 if none). Short of room, what is left of the buffer moves to the
        front first (a buffer full of bytes that hold no frame, line noise, is discarded)."""
        data = self.data
        buf = self.buf
        e = self.end
        if len(buf) - e < 64:
            s = self.start
            if s:
                e -= s
                for i in range(e):  # memmove to the front, without a slice object
                    buf[i] = buf[s + i]
                self.start = 0
            if e == len(buf):
                if _FULL:
                    self._error(1, e)
                self.start = e = 0
            self.end = e
            if len(buf) - e < 64:
                return 0  # a frame is waiting to be taken with next()
        n = stream.readinto(data)
        if not n:
            return 0
        for i in range(n):
            buf[e + i] = data[i]
        self.end = e + n
        return n

    def next(self):
        """The next complete, valid frame, or None when more bytes are needed."""
        buf = self.buf
        while True:
            s = self.start
            e = self.end
            while s < e and buf[s] != _FLAG:  # an opening flag ...
                s += 1
            if _FULL and s > self.start:  # counted in bytes, not in runs
                self._error(0, s - self.start)
            while s + 1 < e and buf[s + 1] == _FLAG:  # ... followed by a non-flag byte
                s += 1
            self.start = s
            if e - s < 3:
                if s == e:
                    self.start = self.end = 0
                return None
            self.start = s + 1  # where to look again when this is no frame
            fmt = buf[s + 1]
            n = ((fmt & 0x07) << 8) | buf[s + 2]
            if fmt & 0xF0 != 0xA0 or n < 7 or n + 2 > len(buf):
                if _FULL:
                    self._error(3, fmt) if fmt & 0xF0 != 0xA0 else self._error(4, n)
                continue
            end = s + 1 + n  # the FCS ends here, before the closing flag
            whole = e - s >= n + 2
            # addresses, control and HCS: checked on what has arrived before the rest comes,
            # so line noise after a flag does not hold up the receiver until the timeout.
            # Each address (clause 8.4.2.2) ends at its first odd byte, within 4 bytes, not
            # at the 3rd: q, r are the indices after it, -1 invalid, 0 not all here yet.
            lim = end if whole else e
            a = s + 3
            q = 0
            for k in range(2):  # destination, then source address
                p = a
                while p < lim and p - a < 4 and not buf[p] & 1:
                    p += 1
                r = 0 if p >= lim else -1 if not buf[p] & 1 or p - a == 2 else p + 1
                if not k:
                    q = r
                if r <= 0:
                    break
                a = r
            if not whole:
                if r < 0 or r and n - 1 > r + 1 - s and r + 3 <= e and \
                        fcs16(buf, s + 1, r + 3) != _GOOD:
                    if _FULL:
                        self._error(0)
                    continue
                self.start = s  # (fill makes room for the rest)
                return None
            # no frame header after all (bad address or HCS): look again just after s, a real
            # frame may start inside; a good header on a damaged frame: skip to its closing flag
            i = r + 1
            h = end - 2 > i  # an information field follows: HCS is present
            if buf[end] != _FLAG or r <= 0 or r + 3 > end or h and end - 2 - i < 2:
                if _FULL:
                    self._error(5 if buf[end] != _FLAG else 6 if r <= 0 else 7 if r + 3 > end
                                else 8)
                continue
            if h:
                if fcs16(buf, s + 1, i + 2) != _GOOD:
                    if _FULL:
                        self._error(9)
                    continue
                i += 2
            if fcs16(buf, s + 1, end) != _GOOD:
                if _FULL:
                    self._error(10)
                if i > r + 1:  # the HCS proved the header
                    self.start = end
                continue
            self.s = s
            self.q = q
            self.r = r
            self.i = i
            self.j = end - 2
            self.control = buf[r]
            self.start = end  # keep the closing flag: it may open the next frame
            return self
