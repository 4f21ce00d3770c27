"""HDLC frame format type 3 (IEC 62056-46 clause 8.4): the frame codec and the
incremental receiver. Reached as ``udlms.link.hdlc.<name>`` (``fcs16`` and ``frame`` there on
the PC only).

Frame: 7E · format (A0 | S<<3 | length>>8, length) · destination address · source address ·
control · HCS (only when an information field follows) · info · FCS · 7E. HCS and FCS are
CRC-16/X.25 (clause 8.4.6, RFC 1662), sent low byte first. The receiver finds frames in
whatever the UART delivers, resynchronising on garbage, in one reused buffer: no allocation
per byte.
"""

from udlms.errors import LinkError
from udlms.port import const

# _FULL: 0 in the device build (tools/build/msgtable.py): what only tools, tests and the
# simulator use (frame(), feed(), the field views, the error counts) is left out
_FULL = const(1)
_FLAG = const(0x7E)
_OVH = const(16)  # flags, format, 4+1 address bytes, control, HCS, FCS (worst case)


def fcs16(buf, start=0, end=None):
    """CRC-16/X.25 of buf[start:end] (final value; append it low byte first), a nibble at
    a time: the reflected polynomial 0x8408 maps nibble n to n * 0x1081 (its three bit
    groups never overlap), so no table is built or kept."""
    c = 0xFFFF
    for i in range(start, len(buf) if end is None else end):
        c ^= buf[i]
        c = (c >> 4) ^ (c & 15) * 0x1081
        c = (c >> 4) ^ (c & 15) * 0x1081
    return c ^ 0xFFFF


# -- frames (clause 8.4.1) -----------------------------------------------------------------


def encode_frame(out, addr, control, info=None, segmented=False):
    """Write one complete frame into bytearray ``out``; return its length. ``addr``: the
    destination address followed by the source address (clause 8.4.2)."""
    k = len(info) if info else 0
    n = 2 + len(addr) + 1 + (2 + k if k else 0) + 2
    if n > 0x7FF:
        raise LinkError("frame of %d bytes exceeds the 11-bit length field" % n, "too-long")
    if len(out) < n + 2:
        raise LinkError("frame buffer too small", "too-long")
    out[0] = _FLAG
    out[1] = 0xA0 | (0x08 if segmented else 0) | (n >> 8)
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


if _FULL:
    def frame(dst, src, control, info=b"", segmented=False):
        """A complete frame as bytes (convenience for tools and tests)."""
        out = bytearray(len(dst) + len(src) + len(info) + _OVH)
        return bytes(out[:encode_frame(out, dst + src, control, info, segmented)])


# -- receiver (clause 8.4) -----------------------------------------------------------------


def _addr_end(buf, i, j):
    """Index after the address field (clause 8.4.2.2) starting at i, looking before j: -1
    invalid (no end bit within 4 bytes, or 3 bytes), 0 not all here yet. Integers only: no
    allocation."""
    q = i
    while q < j and q - i < 4 and not buf[q] & 1:
        q += 1
    if q >= j:
        return 0
    if not buf[q] & 1 or q - i == 2:
        return -1
    return q + 1


class Receiver:
    """Incremental frame parser (clause 8.4): frames found in whatever the UART delivers,
    resynchronising on garbage, in one reused buffer (no allocation per byte). It
    ``readinto_from``s a stream (PC: is fed bytes too); ``next()`` returns the next good
    frame (the receiver itself: ``control``, the opening flag at ``s``, source address at
    ``q``, control at ``r``, info field ``i..j`` in ``buf``, valid until the next read; PC:
    ``segmented``, ``info``, ``info_len``, ``dst``, ``src``, ``raw``) or None. Bad frames are
    dropped (PC: counted by kind in ``errors``, ``last_error`` the most recent FrameError)."""

    def __init__(self, max_frame=256):
        self.buf = bytearray(2 * (max_frame + _OVH))
        self.start = self.end = 0
        self.chunk = bytearray(64)  # readinto_from reads here: no view per poll
        if _FULL:
            self.errors = {}
            self.last_error = None
        # the frame next() found: s opening flag, q source address, r control, i..j info
        self.control = self.s = self.q = self.r = self.i = self.j = 0

    if _FULL:  # the frame's fields as views made on demand (the link reads buf at s..j)
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

        def _error(self, msg, kind, count=1):
            from udlms.errors import FrameError

            self.errors[kind] = self.errors.get(kind, 0) + count
            self.last_error = FrameError(msg, kind)

        def pending(self):
            """Bytes received that do not yet form a frame (ignoring idle flags)."""
            n = 0
            for i in range(self.start, self.end):
                if self.buf[i] != _FLAG:
                    n += 1
            return n

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

    def _compact(self):
        """Move what is left of the buffer to the front; when it is full of bytes that hold
        no frame (line noise), discard them."""
        s = self.start
        buf = self.buf
        if s:
            n = self.end - s
            for i in range(n):  # memmove to the front, without a slice object
                buf[i] = buf[s + i]
            self.start = 0
            self.end = n
        if self.end == len(buf):
            if _FULL:
                self._error("receive buffer overflow: no frame in %d bytes (line noise?)"
                            % len(self.buf), "overflow")
            self.start = self.end = 0

    def readinto_from(self, stream):
        """Read what the stream has into the buffer; returns the byte count (0 if none).
        Reads into a fixed 64-byte chunk and copies it in: no allocation per call."""
        chunk = self.chunk
        buf = self.buf
        if len(buf) - self.end < 64:
            self._compact()
            if len(buf) - self.end < 64:
                return 0  # a frame is waiting to be taken with next()
        n = stream.readinto(chunk)
        if not n:
            return 0
        e = self.end
        for i in range(n):
            buf[e + i] = chunk[i]
        self.end = e + n
        return n

    def drop_partial(self):
        """Discard an incomplete frame (inter-character timeout, clause 6.4.4.2); idle flags
        are no frame and stay (one may open the next frame)."""
        buf = self.buf
        for i in range(self.start, self.end):
            if buf[i] != _FLAG:
                if _FULL:
                    self._error("frame cut off: the line went quiet mid-frame", "truncated")
                self.start = self.end = 0
                return

    def next(self):
        """The next complete, valid frame, or None when more bytes are needed."""
        buf = self.buf
        while True:
            s = self.start
            e = self.end
            while s < e and buf[s] != _FLAG:  # an opening flag ...
                s += 1
            if _FULL and s > self.start:  # counted in bytes, not in runs
                self._error("line noise before a frame", "noise", s - self.start)
            while s + 1 < e and buf[s + 1] == _FLAG:  # ... followed by a non-flag byte
                s += 1
            self.start = s
            if e - s < 3:
                if s == e:
                    self.start = self.end = 0
                return None
            self.start = s + 1  # where to look again when this is no frame
            fmt = buf[s + 1]
            if fmt & 0xF0 != 0xA0:
                if _FULL:
                    self._error("not frame format type 3 (format byte %02X)" % fmt,
                                "bad-format")
                continue
            n = ((fmt & 0x07) << 8) | buf[s + 2]
            if n < 7 or n + 2 > len(buf):
                if _FULL:
                    self._error("frame length %d impossible" % n, "bad-format")
                continue
            end = s + 1 + n  # the FCS ends here, before the closing flag
            whole = e - s >= n + 2
            # addresses, control and HCS: checked on what has arrived before the rest comes,
            # so line noise after a flag does not hold up the receiver until the timeout
            lim = end if whole else e
            q = _addr_end(buf, s + 3, lim)
            r = _addr_end(buf, q, lim) if q > 0 else q
            if not whole:
                if r < 0 or r and n - 1 > r + 1 - s and r + 3 <= e and \
                        (buf[r + 1] | (buf[r + 2] << 8)) != fcs16(buf, s + 1, r + 1):
                    if _FULL:
                        self._error("line noise before a frame", "noise")
                    continue
                self.start = s
                if s and self.end == len(buf):
                    self._compact()
                return None
            if buf[end] != _FLAG:
                if _FULL:
                    self._error("frame does not end with 7E where its length says",
                                "truncated")
                continue
            # a header that is not a frame header after all (bad address or HCS): look again
            # just after s, a real frame may start inside; a frame with a good header that is
            # damaged: skip it up to its closing flag
            if r <= 0:
                if _FULL:
                    self._error("address field malformed (1, 2 or 4 bytes, last one odd)",
                                "bad-address")
                continue
            if r + 3 > end:
                if _FULL:
                    self._error("frame too short for its header", "bad-format")
                continue
            i = r + 1
            if end - 2 > i:  # an information field follows: HCS is present
                if end - 2 - i < 2:
                    if _FULL:
                        self._error("frame too short for its header check", "bad-format")
                    continue
                if (buf[i] | (buf[i + 1] << 8)) != fcs16(buf, s + 1, i):
                    if _FULL:
                        self._error("header check sequence (HCS) wrong", "bad-hcs")
                    continue
                i += 2
            if (buf[end - 2] | (buf[end - 1] << 8)) != fcs16(buf, s + 1, end - 2):
                if _FULL:
                    self._error("frame check sequence (FCS) wrong: line noise or wrong baud "
                                "rate", "bad-fcs")
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
