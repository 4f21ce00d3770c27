"""HDLC receiver (IEC 62056-46 clause 8.4): frames parsed incrementally from whatever the
UART delivers, resynchronising on garbage, in one reused buffer: no allocation per byte.
Reached as ``udlms.link.hdlc.Receiver``."""

from udlms.errors import FrameError
from udlms.link.hdlc_frame import FLAG, OVERHEAD, fcs16

class Frame:
    """A parsed frame inside the receiver's buffer, valid until the next feed. ``control``
    and ``segmented`` are plain values; ``info``, ``dst``, ``src`` and ``raw`` are views made
    on demand; the link uses the allocation-free helpers (``is_between``, ``info_len``,
    ``byte``, ``copy_info``) instead."""

    def __init__(self, buf):
        self._buf = buf
        self.control = 0
        self.segmented = False
        self._s = self._p = self._p2 = self._p3 = self._i0 = self._i1 = self._e = 0

    def _view(self, a, b):
        return memoryview(self._buf)[a:b]

    @property
    def raw(self):
        return self._view(self._s, self._e + 1)

    @property
    def dst(self):
        return self._view(self._p, self._p2)

    @property
    def src(self):
        return self._view(self._p2, self._p3)

    @property
    def info(self):
        return self._view(self._i0, self._i1)

    @property
    def info_len(self):
        return self._i1 - self._i0

    def byte(self, i):
        """Byte i of the information field."""
        return self._buf[self._i0 + i]

    def is_between(self, dst, src):
        """True when the frame goes to address ``dst`` from address ``src`` (bytes)."""
        buf = self._buf
        p = self._p
        if self._p2 - p != len(dst) or self._p3 - self._p2 != len(src):
            return False
        for i in range(len(dst)):
            if buf[p + i] != dst[i]:
                return False
        p = self._p2
        for i in range(len(src)):
            if buf[p + i] != src[i]:
                return False
        return True

    def copy_info(self, out, pos, skip=0):
        """Copy the information field from byte ``skip`` on into ``out`` at ``pos``; returns
        the count. A plain loop: no slice objects on the receive path."""
        buf = self._buf
        a = self._i0 + skip
        n = self._i1 - a
        for i in range(n):
            out[pos + i] = buf[a + i]
        return n


class Receiver:
    """Incremental frame parser (clause 8.4). Feed it bytes or let it ``readinto`` from a
    stream; ``next()`` returns the next good ``Frame`` or None. Bad frames are dropped and
    counted by kind in ``errors``; ``last_error`` keeps the most recent as a FrameError."""

    def __init__(self, max_frame=256):
        self.size = 2 * (max_frame + OVERHEAD)
        self.buf = bytearray(self.size)
        self.mv = memoryview(self.buf)
        self.start = 0
        self.end = 0
        self.chunk = bytearray(64)  # readinto_from reads here: no view per poll
        self.errors = {}
        self.last_error = None
        self.frame = Frame(self.buf)

    def reset(self):
        self.start = self.end = 0

    def pending(self):
        """Bytes received that do not yet form a frame (ignoring idle flags)."""
        n = 0
        for i in range(self.start, self.end):
            if self.buf[i] != FLAG:
                n += 1
        return n

    def _compact(self):
        s = self.start
        if s:
            n = self.end - s
            buf = self.buf
            for i in range(n):  # memmove to the front, without a slice object
                buf[i] = buf[s + i]
            self.start = 0
            self.end = n

    def _room(self):
        """Free bytes at the end of the buffer, compacting or (when it is full of bytes that
        hold no frame) discarding them first."""
        if self.end == self.size:
            self._compact()
            if self.end == self.size:  # full of garbage with no frame in it
                self._error("receive buffer overflow: no frame in %d bytes (line noise?)"
                            % self.size, "overflow")
                self.start = self.end = 0
        return self.size - self.end

    def space(self):
        """A memoryview of the free tail of the buffer (to ``readinto``)."""
        self._room()
        return self.mv[self.end:]

    def feed(self, data):
        """Copy data in (tools and tests); returns the number of bytes taken."""
        taken = 0
        mv = memoryview(data)
        while taken < len(mv):
            sp = self.space()
            k = min(len(sp), len(mv) - taken)
            sp[:k] = mv[taken:taken + k]
            self.end += k
            taken += k
            if taken < len(mv):
                # Caller must drain with next(); if a frame is waiting, stop here.
                self._compact()
                if self.end == self.size:
                    break
        return taken

    def readinto_from(self, stream):
        """Read what the stream has into the buffer; returns the byte count (0 if none).
        Reads into a fixed 64-byte chunk and copies it in: no allocation per call."""
        room = self._room()
        chunk = self.chunk
        if room < len(chunk):
            self._compact()
            room = self.size - self.end
            if room < len(chunk):
                return 0  # a frame is waiting to be taken with next()
        n = stream.readinto(chunk)
        if not n:
            return 0
        buf = self.buf
        e = self.end
        for i in range(n):
            buf[e + i] = chunk[i]
        self.end = e + n
        return n

    def drop_partial(self):
        """Discard an incomplete frame (inter-character timeout, clause 6.4.4.2)."""
        if self.pending():
            self._error("frame cut off: the line went quiet mid-frame", "truncated")
        self.start = self.end = 0

    def _error(self, msg, kind, count=1):
        self.errors[kind] = self.errors.get(kind, 0) + count
        self.last_error = FrameError(msg, kind)

    def next(self):
        """The next complete, valid frame, or None when more bytes are needed."""
        buf = self.buf
        while True:
            s = self.start
            e = self.end
            # find an opening flag followed by a non-flag byte
            while s < e and buf[s] != FLAG:
                s += 1
            if s > self.start:  # counted in bytes, not in runs
                self._error("line noise before a frame", "noise", s - self.start)
            while s + 1 < e and buf[s + 1] == FLAG:
                s += 1
            self.start = s
            if e - s < 3:
                if s == e:
                    self.start = self.end = 0
                return None
            fmt = buf[s + 1]
            if fmt & 0xF0 != 0xA0:
                self._error("not frame format type 3 (format byte %02X)" % fmt, "bad-format")
                self.start = s + 1
                continue
            length = ((fmt & 0x07) << 8) | buf[s + 2]
            if length < 7 or length + 2 > self.size:
                self._error("frame length %d impossible" % length, "bad-format")
                self.start = s + 1
                continue
            if e - s < length + 2:
                if self._header_bad(s, e, length):  # noise that looked like a flag + format
                    self._error("line noise before a frame", "noise")
                    self.start = s + 1
                    continue
                if self.start and self.end == self.size:
                    self._compact()
                return None
            if buf[s + length + 1] != FLAG:
                self._error("frame does not end with 7E where its length says", "truncated")
                self.start = s + 1
                continue
            f = self._parse(s, length)
            if f is None:  # a whole frame, damaged: skip it up to its closing flag
                self.start = s + length + 1
                continue
            if f is False:  # noise that looked like a flag and a format: look again
                self.start = s + 1
                continue
            self.start = s + length + 1  # keep the closing flag: it may open the next frame
            return f

    def _addr_end(self, p, e):
        """Index after the address field starting at p: -1 invalid (no end bit within 4
        bytes, or 3 bytes), 0 not all here yet. Integers only: no allocation."""
        buf = self.buf
        q = p
        while q < e and q - p < 4 and not buf[q] & 1:
            q += 1
        if q >= e:
            return 0
        if not buf[q] & 1 or q - p == 2:
            return -1
        return q + 1

    def _header_bad(self, s, e, length):
        """Check what has arrived of a frame's header (addresses, HCS) before the rest comes,
        so line noise after a flag does not hold up the receiver until the timeout."""
        buf = self.buf
        p = s + 3
        for _ in range(2):
            p = self._addr_end(p, e)
            if p <= 0:
                return p < 0  # invalid address, or not all here yet
        hp = p + 1  # after the control byte
        if length + 1 - 2 > hp - s:  # an information field: an HCS follows the control
            if hp + 2 > e:
                return False
            return (buf[hp] | (buf[hp + 1] << 8)) != fcs16(buf, s + 1, hp)
        return False

    def _parse(self, s, length):
        """The Frame at s, or: False when its header is not a frame header after all (bad
        address or HCS: resynchronise just after s, a real frame may start inside), None
        when a frame with a good header is damaged (skip it to its closing flag)."""
        buf = self.buf
        p = s + 3
        end = s + 1 + length  # index of the FCS end (exclusive), before the closing flag
        p2 = self._addr_end(p, end)
        p3 = self._addr_end(p2, end) if p2 > 0 else p2
        if p3 <= 0:
            self._error("address field malformed (1, 2 or 4 bytes, last one odd)",
                        "bad-address")
            return False
        if p3 + 1 + 2 > end:
            self._error("frame too short for its header", "bad-format")
            return False
        control = buf[p3]
        hp = p3 + 1
        f = self.frame
        f._i0 = hp
        if end - 2 > hp:  # an information field follows: HCS is present
            if end - 2 - hp < 2:
                self._error("frame too short for its header check", "bad-format")
                return False
            if (buf[hp] | (buf[hp + 1] << 8)) != fcs16(buf, s + 1, hp):
                self._error("header check sequence (HCS) wrong", "bad-hcs")
                return False
            f._i0 = hp + 2
        if (buf[end - 2] | (buf[end - 1] << 8)) != fcs16(buf, s + 1, end - 2):
            self._error("frame check sequence (FCS) wrong: line noise or wrong baud rate",
                        "bad-fcs")
            return None if f._i0 > hp else False  # no HCS: the header is not proven
        f._i1 = end - 2
        f._s = s
        f._e = end
        f._p = p
        f._p2 = p2
        f._p3 = p3
        f.control = control
        f.segmented = bool(buf[s + 1] & 0x08)
        return f
