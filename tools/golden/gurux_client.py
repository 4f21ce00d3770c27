"""Drive the unmodified gurux-dlms client (PyPI, GPL: used as a peer, never copied) through a
whole token session over HDLC-over-TCP, recording every frame.

Used by host_tests/test_sim_gurux.py (the simulator proof) and tools/golden/session.py
(the golden whole-session trace our client must equal byte for byte).
"""

import socket
import time

from gurux_dlms import GXByteBuffer, GXDLMSClient, GXReplyData
from gurux_dlms.enums import Authentication, DataType, InterfaceType, Security
from gurux_dlms.objects import GXDLMSData, GXDLMSTokenGateway
from gurux_dlms.secure import GXDLMSSecureClient


class GuruxSession:
    def __init__(self, host, port, client=1, server_logical=1, server_physical=17,
                 address_size=2, ek=None, ak=None, system_title=None, ctos=None,
                 invocation_counter=0, timeout=5.0, conformance=None, max_pdu=None):
        server = GXDLMSClient.getServerAddress(server_logical, server_physical)
        if address_size == 4:
            server = (server_logical << 14) | server_physical
        if client == 16 or ek is None:
            self.c = GXDLMSClient(True, client, server, Authentication.NONE, None,
                                  InterfaceType.HDLC)
        else:
            self.c = GXDLMSSecureClient(True, client, server, Authentication.HIGH_GMAC, None,
                                        InterfaceType.HDLC)
            ci = self.c.ciphering
            ci.security = Security.AUTHENTICATION_ENCRYPTION
            ci.systemTitle = bytes(system_title)
            ci.blockCipherKey = bytes(ek)
            ci.authenticationKey = bytes(ak)
            ci.invocationCounter = invocation_counter
            if ctos is not None:
                self.c.settings.useCustomChallenge = True
                self.c.ctoSChallenge = bytes(ctos)
        if address_size == 4:
            self.c.serverAddressSize = 4
        if conformance is not None:
            from gurux_dlms.enums import Conformance

            # gurux numbers the conformance bits from the other end (bit 0 = reserved-zero):
            # reverse the 24 wire bits to get its flag value
            rev = int("{:024b}".format(conformance)[::-1], 2)
            self.c.proposedConformance = Conformance(rev)
        if max_pdu is not None:
            self.c.maxReceivePDUSize = max_pdu
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.timeout = timeout
        self.frames = []  # ("TX"|"RX", bytes)
        self.rx = bytearray()

    def _recv_frame(self):
        """One whole HDLC frame from the socket (bytes between and including flags)."""
        t0 = time.time()
        while True:
            buf = self.rx
            if len(buf) >= 3:
                s = buf.find(0x7E)
                if s > 0:
                    del buf[:s]
                    s = 0
                if s == 0 and len(buf) >= 3:
                    n = ((buf[1] & 0x07) << 8) | buf[2]
                    if len(buf) >= n + 2:
                        f = bytes(buf[:n + 2])
                        del buf[:n + 2]
                        return f
            if time.time() - t0 > self.timeout:
                raise TimeoutError("no answer from the simulator")
            data = self.sock.recv(4096)
            if not data:
                raise ConnectionError("simulator closed the connection")
            self.rx += data

    def _send(self, data):
        self.frames.append(("TX", bytes(data)))
        self.sock.sendall(bytes(data))

    def exchange(self, frames):
        """Send the request frames; return the completed GXReplyData."""
        reply = GXReplyData()
        if frames is None:
            return reply
        if isinstance(frames, (bytes, bytearray)):
            frames = [frames]
        for data in frames:
            reply = GXReplyData()
            self._send(data)
            self._read(reply)
        while reply.isMoreData():
            data = self.c.receiverReady(reply)
            self._send(data)
            self._read(reply)
        return reply

    def _read(self, reply):
        bb = GXByteBuffer()
        notify = GXReplyData()
        while True:
            f = self._recv_frame()
            self.frames.append(("RX", f))
            bb.set(f)
            if self.c.getData(bb, reply, notify):
                if not reply.isMoreData() or reply.isComplete():
                    return

    # -- the token session -------------------------------------------------------------------
    def connect(self):
        reply = self.exchange(self.c.snrmRequest())
        self.c.parseUAResponse(reply.data)
        reply = self.exchange(self.c.aarqRequest())
        self.c.parseAareResponse(reply.data)
        if self.c.isAuthenticationRequired:
            reply = self.exchange(self.c.getApplicationAssociationRequest())
            self.c.parseApplicationAssociationResponse(reply.data)

    def enter(self, token_bytes):
        gw = GXDLMSTokenGateway()
        reply = self.exchange(self.c.method(gw, 1, bytes(token_bytes), DataType.OCTET_STRING))
        return reply

    def read_status(self):
        gw = GXDLMSTokenGateway()
        reply = self.exchange(self.c.read(gw, 6))
        self.c.updateValue(gw, 6, reply.value)
        return gw

    def read_data(self, obis):
        d = GXDLMSData(obis)
        reply = self.exchange(self.c.read(d, 2))
        return reply.value

    def close(self):
        try:
            self.exchange(self.c.releaseRequest())
        except Exception:  # noqa: BLE001
            pass
        try:
            self.exchange(self.c.disconnectRequest())
        finally:
            self.sock.close()

    def trace_lines(self):
        return ["%s: %s" % (d, " ".join("%02X" % b for b in f)) for d, f in self.frames]
