"""The HDLC link, client side (IEC 62056-46 clause 6.4): addresses (clause 8.4.2.2), SNRM/UA
with parameter negotiation (Annex A / Green Book §8.4.5.3.2), I-frames with N(S)/N(R)
(control fields, clause 8.4.3), segmentation in both directions (RR between segments), DISC.
Frames and the receiver are :mod:`udlms.link` (the package); a meter's DM/FRMR and an APDU
sent in segments, :mod:`udlms.link.hdlc_more` (imported only then). The PC-only names (``frame()``,
``ua_info()``, ``i_control()``, ``rr_control()``, the control constants, ``fcs16``) are added
by :mod:`udlms.host.frames` (this layer never imports host code); ``_FULL`` parts (the stats,
the negotiated receive size and window) are left out of the device build."""

from udlms.errors import FrameError, LinkError, NoAnswer
from udlms.link import Receiver, encode_frame
from udlms.port import const, sleep_ms, ticks_diff, ticks_ms

# _FULL: 0 in the device build (tools/build/msgtable.py)
_FULL = const(1)
_FLAG = const(0x7E)
_SNRM = const(0x93)
_DISC = const(0x53)
_DM = const(0x0F)  # DM & 0xEF: U-frame controls compared without the P/F bit
_UA = const(0x63)
_FRMR = const(0x87)
# the defaults a parameter takes when the SNRM/UA leaves it out (IEC 62056-46 6.4.4.4.3.2)
_MAX_INFO = const(128)
_WINDOW = const(1)
_OVH = const(16)  # flags, format, 4+1 address bytes, control, HCS, FCS (worst case)


def client_address(client_sap):
    """One-byte client address (clause 8.4.2.2): SAP 1 (management) -> 03, 16 -> 21."""
    if not 0 <= client_sap <= 0x7F:
        raise LinkError("client SAP %d out of range 0..127" % client_sap, "config")
    return bytes(((client_sap << 1) | 1,))


def server_address(server_logical, server_physical=None, size=2):
    """Server address of 1, 2 or 4 bytes: upper = logical device, lower = physical (a
    board's config checks the 4-byte range and the size: tokenpad.settings_check)."""
    u = server_logical
    w = server_physical or 0
    if size == 4:
        if _FULL and not (0 <= u <= 0x3FFF and 0 <= w <= 0x3FFF):
            raise LinkError("server address %d/%d out of range" % (u, w), "config")
        return bytes(((u >> 7) << 1, (u & 0x7F) << 1, (w >> 7) << 1, ((w & 0x7F) << 1) | 1))
    if size == 1:
        if not 0 <= u <= 0x7F:
            raise LinkError("server logical address %d does not fit 1 byte" % u, "config")
        return bytes(((u << 1) | 1,))
    if _FULL and size != 2:
        raise LinkError("address size must be 1, 2 or 4, not %d" % size, "config")
    if not (0 <= u <= 0x7F and 0 <= w <= 0x7F):
        raise LinkError("server address %d/%d does not fit 2 bytes (use --address-size 4)"
                        % (u, w), "config")
    return bytes((u << 1, (w << 1) | 1))


def snrm_info(tx=_MAX_INFO, rx=_MAX_INFO, window=_WINDOW, w=_WINDOW, full=False):
    """SNRM/UA information field (Annex A): maximum information field length (``tx``, ``rx``)
    and window size (``window``, ``w``), transmit/receive; only those that differ from the
    defaults (``full``: all four, as meters answer); empty when none is written (as the
    gurux-dlms client does)."""
    b = bytearray(b"\x81\x80\x00")
    i = 5
    for v in (tx, rx, window, w):
        if full or v != (_MAX_INFO if i < 7 else _WINDOW):
            k = 1 if v < 256 else 2  # windows: 4 bytes, the last one set
            if i > 6:
                k = 4
                v &= 0xFF
            b += bytes((i, k)) + v.to_bytes(k, "big")
        i += 1
    if len(b) == 3:
        return b""
    b[2] = len(b) - 3
    return bytes(b)


def parse_params(info):
    """(max_info_tx, max_info_rx, window_tx, window_rx) of an SNRM/UA information field
    (Annex A); parameters not present take the defaults."""
    r = [_MAX_INFO, _MAX_INFO, _WINDOW, _WINDOW]
    n = len(info)
    if n:
        if n < 3 or info[0] != 0x81 or info[1] != 0x80:
            raise FrameError("SNRM/UA parameters do not start with 81 80", "bad-params")
        e = 3 + info[2]
        if e > n:
            raise FrameError("SNRM/UA parameter group longer than the field", "bad-params")
        p = 3
        while p + 2 <= e:
            i = info[p]
            k = info[p + 1]
            p += 2
            if p + k > e or k > 4:
                raise FrameError("SNRM/UA parameter %d has a bad length" % i, "bad-params")
            v = 0
            for j in range(k):
                v = (v << 8) | info[p + j]
            p += k
            if 5 <= i <= 8:
                r[i - 5] = v
    return tuple(r)


class Link(Receiver):
    """Client side of the HDLC link (clause 6.4, normal response mode) over ``stream``
    (``write``, ``readinto``); ``trace(direction, frame_bytes)`` sees every frame; sizes
    negotiated by ``connect()``: ``max_info_tx`` (and on the PC ``max_info_rx``, ``window``).
    The link is its own receiver: a frame it finds is the link itself, read at its indices."""

    def __init__(self, stream, client_sap=1, server_logical=1, server_physical=None,
                 address_size=2, max_info_tx=_MAX_INFO, max_info_rx=_MAX_INFO,
                 window=_WINDOW, timeout_ms=3000, inter_char_ms=500, retries=3,
                 trace=None, max_apdu=576):
        self.stream = stream  # addr: the address field we send, to the server from the client
        self.addr = server_address(server_logical, server_physical, address_size) + \
            client_address(client_sap)
        self.want = (max_info_tx, max_info_rx, window)
        self.max_info_tx = max_info_tx
        if _FULL:
            self.max_info_rx = max_info_rx
            self.window = window
            self.stats = {"tx": 0, "rx": 0, "resent": 0}
        self.timeout_ms = timeout_ms
        self.inter_char_ms = inter_char_ms
        self.retries = retries
        self.trace = trace
        Receiver.__init__(self, max(max_info_rx, _MAX_INFO) + 16)
        self.out = bytearray(max(max_info_tx, _MAX_INFO) + 2 * _OVH)
        self.apdu = bytearray(max_apdu)
        self.vs = self.vr = self.tries = 0
        self.connected = False

    def write(self, control, info=None, split=False):
        """Send a frame (``split``: the segmentation bit, more follow); ``control`` None sends
        the last frame again (clause 6.4.4.2)."""
        if control is None:
            if _FULL:
                self.stats["resent"] += 1
        else:
            encode_frame(self.out, self.addr, control, info, split)
        out = self.out  # the last frame sent is still there: its length field says how long
        mv = memoryview(out)[:(((out[1] & 7) << 8) | out[2]) + 2]
        self.stream.write(mv)
        if _FULL:
            self.stats["tx"] += 1
        if self.trace:
            self.trace("TX", bytes(mv))

    def wait(self, timeout_ms):
        """The next frame to us from the meter (the field we send, the client's byte moved
        first; not an echo or another station), or None after timeout_ms without one."""
        buf = self.buf
        a = self.addr
        t0 = last = ticks_ms()
        while True:
            f = self.next()
            while f is not None:
                p = f.s + 2
                k = len(a)
                if f.r - p - 1 == k:
                    while k and buf[p + k] == a[k - 2]:  # a[-1]: the client's byte first
                        k -= 1
                if not k:
                    if _FULL:
                        self.stats["rx"] += 1
                    if self.trace:
                        self.trace("RX", bytes(memoryview(buf)[f.s:f.j + 3]))
                    return f
                f = self.next()
            n = self.fill(self.stream)
            now = ticks_ms()
            if ticks_diff(now, t0) >= timeout_ms:  # even while noise or others' traffic flows
                return None
            if n:
                last = now
                continue
            if ticks_diff(now, last) > self.inter_char_ms:  # drop a cut frame (6.4.4.2)
                for i in range(self.start, self.end):  # (idle flags stay: one may open one)
                    if buf[i] != _FLAG:
                        if _FULL:
                            self._error(2)
                        self.start = self.end = 0
                        break
            sleep_ms(1)

    def read(self):
        """The next frame for us, the last frame sent again on silence (clause 6.4.4.2), None
        after ``retries`` resends (``tries``, zeroed by each exchange: no tuple per frame). DM
        or FRMR raise: a refusal before ``connect`` ends, else the link is lost (after FRMR
        only SNRM/DISC, clause 6.4.4.4.3)."""
        while True:
            f = self.wait(self.timeout_ms)
            if f is not None:
                c = f.control & 0xEF
                if c == _DM or c == _FRMR:
                    from udlms.link import hdlc_more

                    hdlc_more.refused(self, c)
                return f
            self.tries += 1
            if self.tries > self.retries:
                return None
            self.write(None)

    # (frames that do not move an exchange on, stray RR, repeats, other traffic, are allowed
    # 2 * timeout_ms * (retries + 1) since its start t0: a confused meter must not hold us)

    def connect(self):
        """SNRM/UA (clause 6.4.4.4.3.1); the UA's parameters are the meter's answer."""
        self.start = self.end = 0  # nothing left over from before
        self.connected = False
        tx, rx, w = self.want
        self.write(_SNRM, snrm_info(tx, rx, w, w))
        self.tries = 0
        t0 = ticks_ms()
        c = 0
        while c != _UA:  # anything else (a late I-frame of an earlier session): ignored
            f = self.read()
            if f is not None:
                c = f.control & 0xEF
            if f is None or c != _UA and \
                    ticks_diff(ticks_ms(), t0) > 2 * self.timeout_ms * (self.retries + 1):
                raise NoAnswer("no answer to SNRM after %d tries: check the probe, baud rate "
                               "and server address" % (self.retries + 1), "no-answer")
        m_tx, m_rx, w_tx, w_rx = parse_params(memoryview(f.buf)[f.i:f.j])
        # The UA carries the meter's view: its transmit size is our receive size.
        self.max_info_tx = min(tx, m_rx)
        if _FULL:
            self.max_info_rx = m_tx
            self.window = max(1, min(w, w_rx))
        if m_tx + 16 > len(self.buf) // 2 - _OVH:  # a meter that sends more than we proposed
            self.buf = bytearray(2 * (m_tx + 16 + _OVH))
            self.start = self.end = 0
        self.vs = self.vr = 0
        self.connected = True

    def request(self, apdu, mode=3):
        """Send an APDU and return the meter's answer (one method: fewer names on a board).
        ``mode`` 1 only sends (:meth:`send`), 2 only receives (:meth:`receive`), PC-only.

        Sending: I-frames (LLC E6 E6 00 first), segmented by max_info_tx, each segment but
        the last acknowledged by RR. Receiving: one APDU (segments reassembled, each answered
        by RR) as a memoryview, no LLC."""
        lim = 2 * self.timeout_ms * (self.retries + 1)  # (see above)
        if not _FULL or mode & 1:  # (a board sends and receives: mode 3)
            if not self.connected:
                raise LinkError("link not connected", "link-lost")
            mv = memoryview(apdu)
            n = len(apdu)
            # the first segment holds the LLC in max_info_tx - 3 bytes, as gurux-dlms
            # (spec.md §4f)
            k = min(self.max_info_tx - 6, n)
            data = bytearray(b"\xe6\xe6\x00")  # LLC_REQUEST
            data += mv[0:k]
            self.write((self.vr << 5) | 0x10 | (self.vs << 1), data, k < n)  # I, P bit set
            self.vs = (self.vs + 1) & 7
            if k < n:  # the rest in segments, each after the RR of the one before
                from udlms.link import hdlc_more

                hdlc_more.send(self, mv, k, lim)
        if _FULL and not mode & 2:
            return
        out = self.apdu
        n = 0
        self.tries = 0
        skip = 3
        t0 = ticks_ms()
        while True:
            if ticks_diff(ticks_ms(), t0) > lim:
                raise LinkError("meter keeps sending frames that do not answer us (expected "
                                "N(S)=%d): link out of step" % self.vr, "sequence")
            f = self.read()
            if f is None:
                raise NoAnswer("no answer from the meter after %d tries: check the probe "
                               "and baud rate" % (self.retries + 1), "no-answer")
            c = f.control
            if c & 1:  # S or U frame
                if c & 0x0F != 0x05:
                    continue  # a stray RR or U-frame: keep waiting
                sleep_ms(50)  # RNR: meter busy, ask again later (RR below)
            elif (c >> 1) & 7 == self.vr:  # the I-frame we wait for
                self.vr = (self.vr + 1) & 7
                self.tries = 0
                t0 = ticks_ms()
                buf = f.buf
                i = f.i
                k = f.j - i
                if skip:
                    if k < 3 or buf[i] != 0xE6 or buf[i + 1] != 0xE7:
                        raise LinkError("I-frame without the LLC header E6 E7 00", "bad-llc")
                k -= skip
                if n + k > len(out):
                    raise LinkError("meter sent an APDU longer than %d bytes" % len(out),
                                    "too-long")
                i += skip
                for j in range(k):  # a plain loop: no slice objects on the receive path
                    out[n + j] = buf[i + j]
                n += k
                skip = 0
                if not buf[f.s + 1] & 0x08:  # not segmented: the APDU is complete
                    return memoryview(out)[:n]
            # else a repeat of a frame we already have (our RR was lost): acknowledge again
            self.write((self.vr << 5) | 0x11)  # RR, P bit set, N(R) (clause 8.4.3)

    if _FULL:
        def send(self, apdu):
            """Send one APDU in I-frames (:meth:`request`)."""
            self.request(apdu, 1)

        def receive(self):
            """One APDU from the meter as a memoryview, no LLC (:meth:`request`)."""
            return self.request(None, 2)

    def disconnect(self):
        """DISC/UA (clause 6.4.4.4.3.3); never raises (a dead line is already disconnected)."""
        was = self.connected
        self.connected = False
        try:
            self.write(_DISC)
            f = self.wait(self.timeout_ms if was else min(self.timeout_ms, 500))
            return f is not None and f.control & 0xEF in (_UA, _DM)
        except Exception:  # noqa: BLE001 - teardown must not raise
            return False
