"""HDLC frame format type 3 and the connection-oriented link (IEC 62056-46).

Frame (clause 8.4): 7E · format (A0 | S<<3 | length>>8, length) · destination address ·
source address · control · HCS (only when an information field follows) · info · FCS · 7E.
HCS and FCS are CRC-16/X.25 (clause 8.4.6, RFC 1662), sent low byte first.

``Receiver`` parses frames incrementally from whatever the UART delivers, resynchronises on
garbage and reuses one buffer: no allocation per byte. ``Link`` runs the client side of the
link layer (clause 6.4): SNRM/UA with parameter negotiation (Annex A / Green Book §8.4.5.3.2),
I-frames with N(S)/N(R), segmentation in both directions (RR between segments), DISC.
"""

from udlms.errors import FrameError, LinkError, NoAnswer
from udlms.port import const, forget, sleep_ms, ticks_diff, ticks_ms

FLAG = const(0x7E)
SNRM = const(0x93)
UA = const(0x73)
DISC = const(0x53)
DM = const(0x1F)
FRMR = const(0x97)
UI = const(0x13)

LLC_REQUEST = b"\xe6\xe6\x00"
LLC_RESPONSE = b"\xe6\xe7\x00"

DEFAULT_MAX_INFO = const(128)  # IEC 62056-46 6.4.4.4.3.2 (also in hdlc_params, which
DEFAULT_WINDOW = const(1)  # must not import this module: it is loaded for a connect only)

_OVERHEAD = const(16)  # flags, format, 4+1 address bytes, control, HCS, FCS (worst case)


def _make_table():
    try:
        from array import array

        t = array("H", bytes(512))  # zeroed without a 256-entry list
    except ImportError:  # pragma: no cover
        t = [0] * 256
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x8408 if c & 1 else c >> 1
        t[i] = c
    return t


_TABLE = _make_table()


def fcs16(buf, start=0, end=None):
    """CRC-16/X.25 of buf[start:end] (final value; append it low byte first)."""
    if end is None:
        end = len(buf)
    t = _TABLE
    c = 0xFFFF
    for i in range(start, end):
        c = (c >> 8) ^ t[(c ^ buf[i]) & 0xFF]
    return c ^ 0xFFFF


# -- addresses (clause 8.4.2.2) -----------------------------------------------------------


def client_address(sap):
    """One-byte client address: SAP 1 (management) -> 03, 16 (public) -> 21."""
    if not 0 <= sap <= 0x7F:
        raise LinkError("client SAP %d out of range 0..127" % sap, "config")
    return bytes(((sap << 1) | 1,))


def server_address(logical, physical=None, size=2):
    """Server address of 1, 2 or 4 bytes: upper = logical device, lower = physical."""
    if size == 1:
        if not 0 <= logical <= 0x7F:
            raise LinkError("server logical address %d does not fit 1 byte" % logical, "config")
        return bytes(((logical << 1) | 1,))
    if physical is None:
        physical = 0
    if size == 2:
        if not (0 <= logical <= 0x7F and 0 <= physical <= 0x7F):
            raise LinkError("server address %d/%d does not fit 2 bytes (use --address-size 4)"
                            % (logical, physical), "config")
        return bytes((logical << 1, (physical << 1) | 1))
    if size == 4:
        if not (0 <= logical <= 0x3FFF and 0 <= physical <= 0x3FFF):
            raise LinkError("server address %d/%d out of range" % (logical, physical), "config")
        return bytes(((logical >> 7) << 1, (logical & 0x7F) << 1,
                      (physical >> 7) << 1, ((physical & 0x7F) << 1) | 1))
    raise LinkError("address size must be 1, 2 or 4, not %d" % size, "config")


def address_value(raw):
    """(upper, lower) of an address field; lower is None for a 1-byte address."""
    n = len(raw)
    if n == 1:
        return (raw[0] >> 1, None)
    if n == 2:
        return (raw[0] >> 1, raw[1] >> 1)
    if n == 4:
        return (((raw[0] >> 1) << 7) | (raw[1] >> 1), ((raw[2] >> 1) << 7) | (raw[3] >> 1))
    return (None, None)


# -- control field (clause 8.4.3) ---------------------------------------------------------


def i_control(ns, nr, poll=True):
    return ((nr & 7) << 5) | (0x10 if poll else 0) | ((ns & 7) << 1)


def rr_control(nr, poll=True):
    return ((nr & 7) << 5) | (0x10 if poll else 0) | 0x01


# -- frames --------------------------------------------------------------------------------


def encode_frame(out, dst, src, control, info=None, segmented=False):
    """Write one complete frame into bytearray ``out``; return its length."""
    ninfo = len(info) if info else 0
    hdr = 2 + len(dst) + len(src) + 1
    length = hdr + (2 + ninfo if ninfo else 0) + 2
    if length > 0x7FF:
        raise LinkError("frame of %d bytes exceeds the 11-bit length field" % length, "too-long")
    if len(out) < length + 2:
        raise LinkError("frame buffer too small", "too-long")
    out[0] = FLAG
    out[1] = 0xA0 | (0x08 if segmented else 0) | (length >> 8)
    out[2] = length & 0xFF
    p = 3
    for b in dst:
        out[p] = b
        p += 1
    for b in src:
        out[p] = b
        p += 1
    out[p] = control
    p += 1
    if ninfo:
        c = fcs16(out, 1, p)
        out[p] = c & 0xFF
        out[p + 1] = c >> 8
        p += 2
        out[p:p + ninfo] = info
        p += ninfo
    c = fcs16(out, 1, p)
    out[p] = c & 0xFF
    out[p + 1] = c >> 8
    out[p + 2] = FLAG
    return p + 3


def frame(dst, src, control, info=b"", segmented=False):
    """A complete frame as bytes (convenience for tools and tests)."""
    out = bytearray(len(dst) + len(src) + len(info) + _OVERHEAD)
    n = encode_frame(out, dst, src, control, info, segmented)
    return bytes(out[:n])


def __getattr__(name):
    """``hdlc.snrm_info``, ``ua_info`` and ``parse_params`` come from
    :mod:`udlms.link.hdlc_params` (only a connect needs them)."""
    if name in ("snrm_info", "ua_info", "parse_params"):
        from udlms.link import hdlc_params

        return getattr(hdlc_params, name)
    raise AttributeError(name)


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
        self.size = 2 * (max_frame + _OVERHEAD)
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


class Link:
    """Client side of the HDLC link (IEC 62056-46 clause 6.4, normal response mode).

    ``stream`` has ``write(b)`` and ``readinto(buf) -> int|None``. ``trace(direction,
    frame_bytes)`` sees every frame. Negotiated sizes are in ``max_info_tx``,
    ``max_info_rx`` and ``window`` after ``connect()``."""

    def __init__(self, stream, client_sap=1, server_logical=1, server_physical=None,
                 address_size=2, max_info_tx=DEFAULT_MAX_INFO, max_info_rx=DEFAULT_MAX_INFO,
                 window=DEFAULT_WINDOW, timeout_ms=3000, inter_char_ms=500, retries=3,
                 trace=None, max_apdu=576):
        self.stream = stream
        self.client = client_address(client_sap)
        self.server = server_address(server_logical, server_physical, address_size)
        self.want_tx = max_info_tx
        self.want_rx = max_info_rx
        self.want_window = window
        self.max_info_tx = max_info_tx
        self.max_info_rx = max_info_rx
        self.window = window
        self.timeout_ms = timeout_ms
        self.inter_char_ms = inter_char_ms
        self.retries = retries
        self.trace = trace
        self.rx = Receiver(max(max_info_rx, DEFAULT_MAX_INFO) + 16)
        self.out = bytearray(max(max_info_tx, DEFAULT_MAX_INFO) + 2 * _OVERHEAD)
        self.apdu = bytearray(max_apdu)  # our max receive PDU (512) + ciphering overhead
        self.vs = 0
        self.vr = 0
        self.connected = False
        self._last = None  # (length) of the last frame sent, in self.out, for resending
        self._out_mv = None
        self.stats = {"tx": 0, "rx": 0, "resent": 0}

    # -- frame I/O --------------------------------------------------------------------
    def _send(self, control, info=None, segmented=False):
        n = encode_frame(self.out, self.server, self.client, control, info, segmented)
        self._last = n
        self._write(n)

    def _write(self, n):
        if self._out_mv is None or len(self._out_mv) != len(self.out):
            self._out_mv = memoryview(self.out)
        mv = self._out_mv[:n]
        self.stream.write(mv)
        self.stats["tx"] += 1
        if self.trace:
            self.trace("TX", bytes(mv))

    def _resend(self):
        self.stats["resent"] += 1
        self._write(self._last)

    def _wait(self, timeout_ms):
        """The next frame addressed to us, or None after timeout_ms of silence."""
        rx = self.rx
        t0 = ticks_ms()
        last_byte = t0
        while True:
            f = rx.next()
            while f is not None:
                if f.is_between(self.client, self.server):
                    self.stats["rx"] += 1
                    if self.trace:
                        self.trace("RX", bytes(f.raw))
                    return f
                # an echo of our own frame (RS-485, optical) or another station: ignore
                f = rx.next()
            n = rx.readinto_from(self.stream)
            now = ticks_ms()
            if ticks_diff(now, t0) >= timeout_ms:
                # checked even while bytes arrive: endless noise or another station's
                # traffic must not hold the client forever
                return None
            if n:
                last_byte = now
                continue
            if rx.pending() and ticks_diff(now, last_byte) > self.inter_char_ms:
                rx.drop_partial()
            sleep_ms(1)

    def _budget(self):
        """A deadline for frames that do not move the exchange on (stray RR, repeats of an
        old frame, other traffic): a confused meter must not hold the client forever."""
        return ticks_ms(), 2 * self.timeout_ms * (self.retries + 1)

    @staticmethod
    def _spent(budget):
        return ticks_diff(ticks_ms(), budget[0]) > budget[1]

    def _next(self, tries):
        """(frame, tries): the next frame for us; on silence the last frame is sent again
        (clause 6.4.4.2), and frame is None once ``retries`` resends went unanswered."""
        while True:
            f = self._wait(self.timeout_ms)
            if f is not None:
                return f, tries
            tries += 1
            if tries > self.retries:
                return None, tries
            self._resend()

    def _exchange_u(self, control, info, want):
        """Send a U-frame and wait for one of the controls in ``want`` (with retries)."""
        self._send(control, info)
        tries = 0
        budget = self._budget()
        while True:
            f, tries = self._next(tries)
            if f is None:
                return None
            c = f.control & 0xEF
            if c in want:
                return f
            if c == FRMR & 0xEF:
                raise LinkError("meter rejected our frame (FRMR): check the server address "
                                "and frame sizes", "frame-rejected")
            # anything else (a late I-frame of an earlier session): ignore and keep waiting
            if self._spent(budget):
                return None

    # -- public -------------------------------------------------------------------------
    def connect(self):
        """SNRM/UA (clause 6.4.4.4.3.1); the UA's parameters are the meter's answer."""
        from udlms.link.hdlc_params import parse_params, snrm_info

        self.rx.reset()
        info = snrm_info(self.want_tx, self.want_rx, self.want_window, self.want_window)
        f = self._exchange_u(SNRM, info, (UA & 0xEF, DM & 0xEF))
        if f is None:
            raise NoAnswer("no answer to SNRM after %d tries: check the probe, baud rate and "
                           "server address" % (self.retries + 1), "no-answer")
        if f.control & 0xEF == DM & 0xEF:
            raise LinkError("meter refused the connection (DM): it is busy with another client "
                            "or the server address is wrong", "link-refused")
        m_tx, m_rx, w_tx, w_rx = parse_params(bytes(f.info))
        forget("udlms.link.hdlc_params")  # on MicroPython: out of the heap until the next connect
        # The UA carries the meter's view: its transmit size is our receive size.
        self.max_info_tx = min(self.want_tx, m_rx)
        self.max_info_rx = m_tx
        if m_tx + 16 > self.rx.size // 2 - _OVERHEAD:
            self.rx = Receiver(m_tx + 16)  # a meter that sends more than we proposed
        self.window = max(1, min(self.want_window, w_rx))
        if self.max_info_tx + 2 * _OVERHEAD > len(self.out):
            self.out = bytearray(self.max_info_tx + 2 * _OVERHEAD)
        self.vs = self.vr = 0
        self.connected = True

    def send(self, apdu):
        """Send one APDU in I-frames (LLC E6 E6 00 first), segmented by max_info_tx."""
        if not self.connected:
            raise LinkError("link not connected", "link-lost")
        total = len(apdu) + 3
        mv = memoryview(apdu)
        first = True
        pos = 0
        while True:
            room = self.max_info_tx
            if first:
                # The first segment carries the LLC inside max_info_tx - 3 bytes, as the
                # gurux-dlms client does (spec.md §4f, segmented enter: 29 then 9 bytes).
                chunk = bytearray(LLC_REQUEST)
                take = min(room - 6, len(apdu))
                chunk += mv[0:take]
                pos = take
                sent = take + 3
                first = False
            else:
                take = min(room, len(apdu) - pos)
                chunk = mv[pos:pos + take]
                pos += take
                sent = take
            total -= sent
            more = total > 0
            self._send(i_control(self.vs, self.vr), chunk, more)
            self.vs = (self.vs + 1) & 7
            if not more:
                return
            self._await_rr()

    def _await_rr(self):
        tries = 0
        budget = self._budget()
        while True:
            f, tries = self._next(tries)
            if f is None:
                raise NoAnswer("meter stopped answering while we sent a segmented APDU",
                               "no-answer")
            c = f.control
            if c & 0x0F == 0x01 and c >> 5 == self.vs:  # RR for this segment
                return
            self._check_u(c)
            if self._spent(budget):
                raise LinkError("meter does not acknowledge our segments (expected RR N(R)="
                                "%d): link out of step" % self.vs, "sequence")

    def _check_u(self, c):
        if c & 0xEF == DM & 0xEF:
            self.connected = False
            raise LinkError("meter dropped the link (DM): it timed out or was reset",
                            "link-lost")
        if c & 0xEF == FRMR & 0xEF:
            # after FRMR the meter waits for SNRM/DISC only (clause 6.4.4.4.3.6): send no
            # more I-frames on this connection
            self.connected = False
            raise LinkError("meter rejected our frame (FRMR)", "frame-rejected")

    def receive(self):
        """Receive one APDU (reassembling segments, answering RR); returns a memoryview
        of it without the LLC header."""
        buf = self.apdu
        n = 0
        tries = 0
        first = True
        budget = self._budget()
        while True:
            if self._spent(budget):
                raise LinkError("meter keeps sending frames that do not answer us (expected "
                                "N(S)=%d): link out of step" % self.vr, "sequence")
            f, tries = self._next(tries)
            if f is None:
                raise NoAnswer("no answer from the meter after %d tries: check the probe "
                               "and baud rate" % (self.retries + 1), "no-answer")
            c = f.control
            if c & 1:
                if c & 3 == 1:
                    if (c >> 2) & 3 == 1:  # RNR: meter busy, ask again later
                        sleep_ms(50)
                        self._send(rr_control(self.vr))
                    continue  # a stray RR: keep waiting
                self._check_u(c)
                continue
            ns = (c >> 1) & 7
            if ns != self.vr:
                # a repeat of a frame we already have (our RR was lost): acknowledge again
                self._send(rr_control(self.vr))
                continue
            self.vr = (self.vr + 1) & 7
            tries = 0
            budget = self._budget()
            k = f.info_len
            skip = 0
            if first:
                if k < 3 or f.byte(0) != 0xE6 or f.byte(1) != 0xE7:
                    raise LinkError("I-frame without the LLC header E6 E7 00", "bad-llc")
                skip = 3
                first = False
            if n + k - skip > len(buf):
                raise LinkError("meter sent an APDU longer than %d bytes" % len(buf),
                                "too-long")
            n += f.copy_info(buf, n, skip)
            if f.segmented:
                self._send(rr_control(self.vr))
                continue
            return memoryview(buf)[:n]

    def request(self, apdu):
        """Send an APDU and return the meter's answer."""
        self.send(apdu)
        return self.receive()

    def disconnect(self):
        """DISC/UA (clause 6.4.4.4.3.3). Never raises: a dead line is already disconnected."""
        was = self.connected
        self.connected = False
        try:
            self._send(DISC)
            t = self.timeout_ms if was else min(self.timeout_ms, 500)
            f = self._wait(t)
            return f is not None and f.control & 0xEF in (UA & 0xEF, DM & 0xEF)
        except Exception:  # noqa: BLE001 - teardown must not raise
            return False
