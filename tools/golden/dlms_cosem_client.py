"""Drive the unmodified dlms-cosem 21.3.2 client (PyPI, MIT; the last MIT release: 24.x and
later are under the Business Source License) through a whole token session over
HDLC-over-TCP, recording every frame. Used as a second independent peer, never copied.

dlms-cosem 21.3.2 has HDLC only over a serial port (``SerialHdlcTransport``, which uses
``serial.Serial`` ``write`` / ``read_until``) and the IEC 62056-47 wrapper over TCP; it has no
HDLC-over-TCP transport. ``SocketLine`` below is our own small IO adapter: it gives the
serial transport a TCP socket with the two pyserial calls it makes, and records each HDLC
frame in each direction. Everything above it (HDLC framing, ACSE, xDLMS, ciphering, HLS)
is dlms-cosem's own code, unmodified.

Used by host_tests/test_sim_dlms_cosem.py. Run directly against a running simulator:
``python tools/golden/dlms_cosem_client.py tcp://127.0.0.1:PORT 17813034313191558529``.
"""

import logging
import socket
import sys
import time

from dlms_cosem import cosem, enumerations
from dlms_cosem.clients.dlms_client import DlmsClient
from dlms_cosem.clients.hdlc_transport import SerialHdlcTransport
from dlms_cosem.dlms_data import OctetStringData

GATEWAY = cosem.Obis(0, 0, 19, 40, 0, 255)
TOKEN_GATEWAY = 115


def control_pos(frame):
    """Index of the HDLC control byte in a whole frame (flag, format, dst, src, control)."""
    pos = 3
    for _ in range(2):  # destination, then source address: the last byte has bit 0 set
        while pos < len(frame) and not frame[pos] & 1:
            pos += 1
        pos += 1
    return pos


def control(frame):
    """HDLC control byte of a whole frame, or None."""
    pos = control_pos(frame)
    return frame[pos] if pos < len(frame) else None


def apdu(frame):
    """The APDU of an unsegmented I-frame: after control, HCS and the 3-byte LLC."""
    return bytes(frame[control_pos(frame) + 6:-3])


class SocketLine:
    """The part of ``serial.Serial`` that dlms-cosem's HDLC transport uses, over TCP."""

    def __init__(self, host, port, timeout=5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.timeout = timeout
        self.buf = bytearray()  # bytes received, not yet handed to dlms-cosem
        self.tap = bytearray()  # bytes received, not yet recorded as a whole frame
        self.frames = []  # ("TX"|"RX", bytes), one HDLC frame each

    def write(self, data):
        data = bytes(data)
        self.frames.append(("TX", data))
        self.sock.sendall(data)
        return len(data)

    def read_until(self, expected=b"\n", size=None):
        """Bytes up to and including ``expected`` (pyserial semantics), except on timeout:
        pyserial returns what arrived (often b""), and dlms-cosem 21.3.2 then asks again
        forever when the HDLC frame does not parse (fixed upstream in 2026.1.0, under the
        BSL). Here a timeout raises TimeoutError so every exchange is bounded."""
        deadline = time.monotonic() + self.timeout
        while True:
            i = self.buf.find(expected)
            if i >= 0:
                out = bytes(self.buf[:i + len(expected)])
                del self.buf[:i + len(expected)]
                return out
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no (parseable) answer within %.1f s" % self.timeout)
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            if not data:
                raise ConnectionError("simulator closed the connection")
            self.buf += data
            self._record(data)

    def _record(self, data):
        """Cut the received bytes into HDLC frames (format type 3 length) for the trace."""
        t = self.tap
        t += data
        while True:
            s = t.find(0x7E)
            if s < 0:
                t.clear()
                return
            if s:
                del t[:s]
            if len(t) < 3:
                return
            n = ((t[1] & 0x07) << 8) | t[2]
            if len(t) < n + 2:
                return
            self.frames.append(("RX", bytes(t[:n + 2])))
            del t[:n + 2]

    def close(self):
        self.sock.close()


class DlmsCosemSession:
    """dlms-cosem ``DlmsClient`` on ``SerialHdlcTransport`` over a ``SocketLine``.

    ``ctos`` fixes the client challenge (dlms-cosem draws 32 random bytes by default) so a
    run can be repeated byte for byte with a fixed simulator ``stoc``.
    """

    def __init__(self, host, port, client=1, server_logical=1, server_physical=17, ek=None,
                 ak=None, system_title=None, ctos=None, invocation_counter=0, timeout=5.0):
        self.line = SocketLine(host, port, timeout)
        transport = SerialHdlcTransport(
            client_logical_address=client, server_logical_address=server_logical,
            server_physical_address=server_physical, serial_port="tcp://%s:%d" % (host, port),
            timeout=int(timeout), serial=self.line)
        kw = {}
        if ek is not None:
            kw = dict(authentication_method=enumerations.AuthenticationMechanism.HLS_GMAC,
                      encryption_key=bytes(ek), authentication_key=bytes(ak),
                      security_suite=0, client_system_title=bytes(system_title),
                      client_initial_invocation_counter=invocation_counter)
        self.c = DlmsClient(client_logical_address=client,
                            server_logical_address=server_logical,
                            io_interface=transport, timeout=int(timeout), **kw)
        if ctos is not None:
            self.c.dlms_connection.client_to_meter_challenge = bytes(ctos)

    @property
    def frames(self):
        return self.line.frames

    # -- the token session -------------------------------------------------------------------
    def connect(self):
        """SNRM/UA, AARQ/AARE and (HLS-GMAC) the reply_to_HLS_authentication action."""
        self.c.connect()
        return self.c.associate()

    def enter(self, token_bytes):
        """Token Gateway method 1; raises dlms-cosem's ActionError on a non-success result."""
        method = cosem.CosemMethod(TOKEN_GATEWAY, GATEWAY, 1)
        return self.c.action(method, OctetStringData(bytes(token_bytes)).to_bytes())

    def read_status(self):
        """token_status (attribute 6): (status code, bit-string bytes) from the A-XDR."""
        raw = self.c.get(cosem.CosemAttribute(TOKEN_GATEWAY, GATEWAY, 6))
        # structure(2) { enum code, bit-string }: 02 02 16 cc 04 nbits bits...
        if len(raw) < 6 or raw[0] != 0x02 or raw[2] != 0x16 or raw[4] != 0x04:
            raise ValueError("unexpected token_status encoding %s" % raw.hex())
        return raw[3], bytes(raw[6:])

    def close(self, disc_timeout=0.5):
        """RLRQ/RLRE, then DISC/UA. dlms-cosem 21.3.2 cannot parse a UA without an
        information field (``UnNumberedAcknowledgmentFrame.from_bytes`` always expects an
        HCS; IEC 62056-46 has none when there is no information), which is what the meter
        answers to DISC: the disconnect then never completes in dlms-cosem. When the UA did
        arrive (it is in ``frames``), ``disc_ua_unparsed`` is set instead of failing."""
        self.disc_ua_unparsed = False
        try:
            try:
                self.c.release_association()
            finally:
                self.line.timeout = min(self.line.timeout, disc_timeout)
                try:
                    self.c.disconnect()
                except TimeoutError:
                    tail = [(d, control(f)) for d, f in self.frames[-2:]]
                    if tail != [("TX", 0x53), ("RX", 0x73)]:  # DISC (P), UA (F)
                        raise
                    self.disc_ua_unparsed = True
        finally:
            self.line.close()

    def trace_lines(self):
        return ["%s: %s" % (d, " ".join("%02X" % b for b in f)) for d, f in self.frames]


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    url = argv[0] if argv else "tcp://127.0.0.1:4061"
    token = (argv[1] if len(argv) > 1 else "17813034313191558529").encode()
    ic = int(argv[2]) if len(argv) > 2 else 0
    host, port = url.replace("tcp://", "").rsplit(":", 1)
    logging.getLogger("dlms_cosem").setLevel(logging.ERROR)  # it logs plaintext as warnings
    s = DlmsCosemSession(host, int(port), ek=bytes(range(16)),
                         ak=bytes(range(0xD0, 0xE0)),
                         system_title=bytes.fromhex("4D4D4D0000000001"),
                         invocation_counter=ic)
    try:
        s.connect()
        s.enter(token)
        code, bits = s.read_status()
        print("token_status", code, bits.hex())
    finally:
        s.close()
        print("\n".join(s.trace_lines()))


if __name__ == "__main__":
    main()
