"""IEC 62056-47 wrapper (TCP/UDP port 4059): the COSEM transport layer for IP networks.

Each APDU travels behind an 8-byte header (IEC 62056-47 clause 5 / Green Book §7.3.3):
version (0x0001), source wPort, destination wPort, length of the APDU, all big-endian.
The client's wPort is its SAP (1 management, 16 public); the server's wPort is the
logical device address (1 management logical device). No link set-up: ``connect()`` and
``disconnect()`` only mark the state; the TCP connection is the stream's.

``WrapperLink`` has the methods of ``hdlc.Link`` so a Session runs over either.
"""

from udlms.errors import FrameError, LinkError, NoAnswer
from udlms.port import const, sleep_ms, ticks_diff, ticks_ms

# _FULL: 0 in the device build (tools/build/msgtable.py): the stats, the sizes, frame()
_FULL = const(1)
_VERSION = const(1)
_PORT = const(4059)
_HEADER = const(8)


def _header(src, dst, length):
    """The 8 header bytes of a wrapper frame."""
    return bytes((0, _VERSION, src >> 8, src & 0xFF, dst >> 8, dst & 0xFF, length >> 8,
                  length & 0xFF))


if _FULL:  # (tools and tests; a link reads a header in receive())
    header = _header

    def frame(src, dst, apdu):
        """A whole wrapper frame (tools and tests)."""
        return header(src, dst, len(apdu)) + bytes(apdu)

    def parse_header(h):
        """(version, source, destination, length) of 8 header bytes."""
        return ((h[0] << 8) | h[1], (h[2] << 8) | h[3], (h[4] << 8) | h[5], (h[6] << 8) | h[7])


class WrapperLink:
    """Client side of the wrapper. ``stream`` has ``write(b)`` and ``readinto(buf)``;
    ``trace(direction, frame_bytes)`` sees every wrapper frame."""

    def __init__(self, stream, client_sap=1, server_logical=1, timeout_ms=3000, trace=None,
                 max_apdu=1200, **_ignored):
        if not (0 <= client_sap <= 0xFFFF and 0 <= server_logical <= 0xFFFF):
            raise LinkError("wPort out of range 0..65535", "config")
        self.stream = stream
        self.client = client_sap
        self.server = server_logical
        self.timeout_ms = timeout_ms
        self.trace = trace
        self.hdr = bytearray(_HEADER)
        self.apdu = bytearray(max_apdu)
        self.connected = False
        if _FULL:  # as hdlc.Link's, for the PC's reports
            self.max_info_tx = self.max_info_rx = max_apdu
            self.window = 1
            self.stats = {"tx": 0, "rx": 0, "resent": 0}

    def connect(self):
        """Nothing to set up: the wrapper has no link layer of its own."""
        self.connected = True

    def send(self, apdu):
        n = len(apdu)
        if n > 0xFFFF:
            raise LinkError("APDU of %d bytes does not fit a wrapper frame" % n, "too-long")
        out = bytearray(_HEADER + n)
        out[:_HEADER] = _header(self.client, self.server, n)
        out[_HEADER:] = apdu
        self.stream.write(out)
        if _FULL:
            self.stats["tx"] += 1
        if self.trace:
            self.trace("TX", bytes(out))

    def _fill(self, mv, t0):
        """Read exactly len(mv) bytes; False when nothing at all came before the timeout."""
        got = 0
        last = t0
        while got < len(mv):
            k = self.stream.readinto(mv[got:])
            now = ticks_ms()
            if k:
                got += k
                last = now
                continue
            if ticks_diff(now, last) >= self.timeout_ms:
                if got:
                    raise LinkError("wrapper frame cut off after %d bytes" % got, "truncated")
                return False
            sleep_ms(1)
        return True

    def receive(self):
        """The next APDU from our server to us (a memoryview into a reused buffer)."""
        hv = memoryview(self.hdr)
        while True:
            if not self._fill(hv, ticks_ms()):
                raise NoAnswer("no answer from the meter within %d ms: check the address "
                               "and port (4059)" % self.timeout_ms, "no-answer")
            h = self.hdr  # version, source, destination, length: 16 bits each
            ver, src, dst, n = (h[0] << 8 | h[1], h[2] << 8 | h[3], h[4] << 8 | h[5],
                                h[6] << 8 | h[7])
            if ver != _VERSION:
                raise FrameError("wrapper version %d, expected 1: is this port speaking "
                                 "HDLC? (drop --wrapper)" % ver, "bad-format")
            if n > len(self.apdu):
                raise LinkError("meter sent an APDU longer than %d bytes" % len(self.apdu),
                                "too-long")
            body = memoryview(self.apdu)[:n]
            if not self._fill(body, ticks_ms()) and n:
                raise LinkError("wrapper frame without its APDU", "truncated")
            if self.trace:
                self.trace("RX", bytes(self.hdr) + bytes(body))
            if src != self.server or dst != self.client:
                continue  # for another client or logical device: not ours
            if _FULL:
                self.stats["rx"] += 1
            return body

    def request(self, apdu):
        self.send(apdu)
        return self.receive()

    def disconnect(self):
        """Never raises; the association release already ended the conversation."""
        was = self.connected
        self.connected = False
        return was
