"""The HDLC link, client side (IEC 62056-46 clause 6.4): SNRM/UA with parameter negotiation
(Annex A / Green Book §8.4.5.3.2, in :mod:`udlms.link.hdlc_params`, loaded for a connect
only), I-frames with N(S)/N(R), segmentation in both directions (RR between segments), DISC.

The frame codec is :mod:`udlms.link.hdlc_frame` and the receiver
:mod:`udlms.link.hdlc_receiver`; their names are reached here too (``hdlc.frame``,
``hdlc.Receiver``, ...), so a user imports one module.
"""

from udlms.errors import LinkError, NoAnswer
from udlms.link.hdlc_frame import (DEFAULT_MAX_INFO, DEFAULT_WINDOW, DISC, DM,  # noqa: F401
                                   FLAG, FRMR, LLC_REQUEST, LLC_RESPONSE, OVERHEAD, SNRM, UA,
                                   UI, address_value, client_address, encode_frame, fcs16,
                                   frame, i_control, rr_control, server_address)
from udlms.link.hdlc_receiver import Frame, Receiver  # noqa: F401
from udlms.port import forget, sleep_ms, ticks_diff, ticks_ms


def __getattr__(name):
    """``hdlc.snrm_info``, ``ua_info`` and ``parse_params`` come from
    :mod:`udlms.link.hdlc_params` (only a connect needs them)."""
    if name in ("snrm_info", "ua_info", "parse_params"):
        from udlms.link import hdlc_params

        return getattr(hdlc_params, name)
    raise AttributeError(name)


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
        self.out = bytearray(max(max_info_tx, DEFAULT_MAX_INFO) + 2 * OVERHEAD)
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
        if m_tx + 16 > self.rx.size // 2 - OVERHEAD:
            self.rx = Receiver(m_tx + 16)  # a meter that sends more than we proposed
        self.window = max(1, min(self.want_window, w_rx))
        if self.max_info_tx + 2 * OVERHEAD > len(self.out):
            self.out = bytearray(self.max_info_tx + 2 * OVERHEAD)
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
