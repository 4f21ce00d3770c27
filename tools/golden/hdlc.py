"""Regenerate host_tests/golden/hdlc_gurux.json: HDLC frames built by gurux-dlms (PyPI, GPL:
run as an independent generator only, none of its code is copied) for fixed parameters.

For every server address (1 byte: logical 1; 2 bytes: 1/17; 4 bytes: 1/17 and 1/256) and
client SAP (1 and 16) a whole HDLC conversation is played between a gurux client
(``GXDLMSClient`` / ``GXDLMSSecureClient``) and gurux's own frame builder run with server
settings (``GXDLMS.getHdlcFrame`` on a ``GXDLMSSettings(isServer=True)``):

* client (gurux client API): SNRM without parameters, SNRM with max info 256/64 and window 3,
  I-frames with an AARQ (NONE for client 16, LLS for client 1, and HLS-GMAC ciphered with
  fixed keys, system title, CtoS and IC for client 1), a GET, an ACTION, an ACTION long enough
  to be segmented, RR (``receiverReady``), DISC;
* server (gurux ``getHdlcFrame`` with server settings): UA with parameters, AARE, a GET
  response segmented into several I-frames (the segmentation bit set on all but the last),
  an ACTION response, UA answering DISC.

Every server frame is parsed by the gurux client (``getData``) and every client frame by
gurux with server settings before it is stored, so each frame went through gurux's parser
and its N(S)/N(R) bookkeeping. gurux's server-side *UA information field* builder
(``GXDLMSServer.handleSnrmRequest``) is broken in 1.0.203 (it writes the group length at
the wrong index: ``setUInt8(2, n)`` is (value, index)), so the UA parameter field is given
here as bytes (IEC 62056-46 Annex A layout, all four parameters written as meters do) and
only framed by gurux; the gurux client parses it with ``parseUAResponse``. The AARE and the
response APDUs are fixed bytes too: they are payload here, only the framing is under test.

    .venv/bin/python -m tools.golden.hdlc
"""

import json
import os
import traceback

from gurux_dlms import GXDLMS, GXByteBuffer, GXDLMSClient, GXReplyData
from gurux_dlms.GXDLMSSettings import GXDLMSSettings
from gurux_dlms.enums import (Authentication, Command, DataType, InterfaceType, RequestTypes,
                              Security)
from gurux_dlms.objects import GXDLMSData, GXDLMSTokenGateway
from gurux_dlms.secure import GXDLMSSecureClient

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(ROOT, "host_tests", "golden", "hdlc_gurux.json")

X = bytes.fromhex

ADDRESSES = [  # (size, logical, physical)
    (1, 1, None),
    (2, 1, 17),
    (4, 1, 17),
    (4, 1, 256),
]
CLIENTS = [16, 1, "hls"]  # 16 public (NONE), 1 with LLS, 1 with HLS-GMAC (ciphered)

SNRM_MAX_TX, SNRM_MAX_RX, SNRM_WINDOW = 256, 64, 3
# The server's answer (values as the server sees them: it transmits 48, receives 64).
UA_PARAMS = (48, 64, 1, 1)
HLS = dict(ek="000102030405060708090A0B0C0D0E0F", ak="D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF",
           system_title="4D4D4D0000000001", ctos="4B35366956616759", invocation_counter=5)
LLS_PASSWORD = b"12345678"

# Fixed APDUs for the server side (payload only).
AARE_PLAIN = X("6129A109060760857405080101A203020100A305A103020100BE10040E0800065F1F0400001E1D0200"
               "0007")
GET_RESPONSE_LONG = X("C401C10009") + bytes((120,)) + bytes(range(0x20, 0x20 + 120))
ACTION_RESPONSE = X("C701C10000")
TOKEN = b"05718854590197211241"


def _frames_of(exc):
    return [f.f_code.co_name for f, _ in traceback.walk_tb(exc.__traceback__)]


def _ua_info(max_tx, max_rx, win_tx, win_rx):
    body = bytearray()
    for pid, val in ((5, max_tx), (6, max_rx)):
        body += bytes((pid, 1, val)) if val < 256 else bytes((pid, 2, val >> 8, val & 0xFF))
    for pid, val in ((7, win_tx), (8, win_rx)):
        body += bytes((pid, 4)) + val.to_bytes(4, "big")
    return bytes((0x81, 0x80, len(body))) + bytes(body)


def _server_value(size, logical, physical):
    if size == 1:
        return logical
    if size == 2:
        return GXDLMSClient.getServerAddress(logical, physical)
    return (logical << 14) | physical


def _client(kind, size, logical, physical):
    server = _server_value(size, logical, physical)
    if kind == 16:
        c = GXDLMSClient(True, 16, server, Authentication.NONE, None, InterfaceType.HDLC)
    elif kind == 1:
        c = GXDLMSClient(True, 1, server, Authentication.LOW, LLS_PASSWORD, InterfaceType.HDLC)
    else:
        c = GXDLMSSecureClient(True, 1, server, Authentication.HIGH_GMAC, None,
                               InterfaceType.HDLC)
        ci = c.ciphering
        ci.security = Security.AUTHENTICATION_ENCRYPTION
        ci.systemTitle = X(HLS["system_title"])
        ci.blockCipherKey = X(HLS["ek"])
        ci.authenticationKey = X(HLS["ak"])
        ci.invocationCounter = HLS["invocation_counter"]
        c.settings.useCustomChallenge = True
        c.ctoSChallenge = X(HLS["ctos"])
    c.serverAddressSize = size
    return c


class Conversation:
    """A gurux client and gurux server-side framing, every frame parsed by the other end."""

    def __init__(self, kind, size, logical, physical):
        self.kind = kind
        self.addr = (size, logical, physical)
        self.sap = 16 if kind == 16 else 1
        self.c = _client(kind, size, logical, physical)
        self.s = GXDLMSSettings(True, None)
        self.s.interfaceType = InterfaceType.HDLC
        self.s.serverAddressSize = size
        self.frames = []
        self.session = []

    # -- bookkeeping ------------------------------------------------------------------
    def _record(self, name, side, raw, control, info, segmented, source):
        size, logical, physical = self.addr
        self.frames.append({
            "name": name, "side": side, "source": source, "address_size": size,
            "logical": logical, "physical": physical, "client": self.sap,
            "control": control, "info": info.hex().upper(), "segmented": segmented,
            "hex": bytes(raw).hex().upper()})
        self.session.append(["TX" if side == "client" else "RX", bytes(raw).hex().upper()])

    @staticmethod
    def _fields(raw, side, size):
        """(control, info, segmented) read straight off the frame layout, to be stored."""
        raw = bytes(raw)
        assert raw[0] == raw[-1] == 0x7E
        n = ((raw[1] & 7) << 8) | raw[2]
        assert n == len(raw) - 2
        p = 3 + (size if side == "client" else 1) + (1 if side == "client" else size)
        control = raw[p]
        info = raw[p + 3:-3] if n > p + 2 else b""
        return control, info, bool(raw[1] & 0x08)

    def client_frame(self, name, raw, reply=None):
        """A frame from the gurux client: gurux with server settings must accept it."""
        raw = bytes(raw)
        reply = reply if reply is not None else GXReplyData()
        try:
            assert GXDLMS.getData(self.s, GXByteBuffer(raw), reply, None), name
        except (ValueError, AttributeError) as e:
            # HLS: the frame was taken (HDLC layer, N(S)/N(R) checked) and then the
            # server side, which holds no keys, fails on the glo- APDU inside it (getPdu)
            if self.kind != "hls" or "getPdu" not in _frames_of(e):
                raise
        control, info, seg = self._fields(raw, "client", self.addr[0])
        self._record(name, "client", raw, control, info, seg, "gurux client")
        return reply

    def server_frame(self, name, raw, reply=None):
        """A frame from gurux's server-side framing: the gurux client must accept it."""
        raw = bytes(raw)
        reply = reply if reply is not None else GXReplyData()
        ok = self.c.getData(GXByteBuffer(raw), reply, GXReplyData())
        assert ok, name
        control, info, seg = self._fields(raw, "server", self.addr[0])
        self._record(name, "server", raw, control, info, seg,
                     "gurux GXDLMS.getHdlcFrame, server settings")
        return reply

    def client_apdu(self, name, frames):
        """The gurux client's frames for one APDU; gurux with server settings answers every
        segment but the last with RR."""
        req = GXReplyData()
        for k, raw in enumerate(frames, 1):
            seg = len(frames) > 1
            self.client_frame("%s segment %d" % (name, k) if seg else name, raw, req)
            if k < len(frames):
                rr = GXDLMS.getHdlcFrame(self.s, self.s.getReceiverReady(), None)
                self.server_frame("RR after %s segment %d" % (name, k), rr)

    def server_apdu(self, name, apdu):
        """Answer with an APDU, segmented by the server's max info TX; the gurux client
        answers every segment but the last with RR. Returns the client's reply data."""
        data = GXByteBuffer()
        data.set(X("E6E700") + apdu)
        reply = GXReplyData()
        first = True
        k = 0
        while True:
            raw = GXDLMS.getHdlcFrame(self.s, self.s.getNextSend(first), data)
            first = False
            k += 1
            self.server_frame("%s segment %d" % (name, k) if (raw[1] & 0x08 or k > 1)
                              else name, raw, reply)
            if not reply.isMoreData():
                break
            rr = self.c.receiverReady(RequestTypes.FRAME)
            self.client_frame("RR after %s segment %d" % (name, k), rr)
        assert reply.isComplete() and not reply.isMoreData(), name
        return reply

    # -- the conversation -----------------------------------------------------------------
    def run(self):
        c = self.c
        snrm = c.snrmRequest()
        self.client_frame("SNRM no parameters", snrm)
        c.hdlcSettings.maxInfoTX = SNRM_MAX_TX
        c.hdlcSettings.maxInfoRX = SNRM_MAX_RX
        c.hdlcSettings.windowSizeTX = SNRM_WINDOW
        c.hdlcSettings.windowSizeRX = SNRM_WINDOW
        snrm = c.snrmRequest()
        self.client_frame("SNRM with parameters", snrm)
        self.s.resetFrameSequence()
        ua_info = GXByteBuffer()
        ua_info.set(_ua_info(*UA_PARAMS))
        self.s.hdlc.maxInfoTX, self.s.hdlc.maxInfoRX = UA_PARAMS[0], UA_PARAMS[1]
        ua = GXDLMS.getHdlcFrame(self.s, Command.UA, ua_info)
        reply = self.server_frame("UA with parameters", ua)
        c.parseUAResponse(reply.data)
        assert (c.hdlcSettings.maxInfoTX, c.hdlcSettings.maxInfoRX) == (64, 48)

        label = {16: "AARQ (no authentication)", 1: "AARQ (LLS)",
                 "hls": "AARQ (HLS-GMAC, ciphered initiate)"}[self.kind]
        self.client_apdu("I " + label, c.aarqRequest())
        self.server_apdu("I AARE", AARE_PLAIN)

        self.client_apdu("I GET request", c.read(GXDLMSData("0.0.96.1.0.255"), 2))
        self.server_apdu("I GET response", GET_RESPONSE_LONG)

        self.client_apdu("I ACTION request",
                         c.method(GXDLMSTokenGateway(), 1, TOKEN, DataType.OCTET_STRING))
        self.server_apdu("I ACTION response", ACTION_RESPONSE)

        long_token = bytes(range(0x30, 0x30 + 90))  # > max info 64: segmented request
        act = c.method(GXDLMSTokenGateway(), 1, long_token, DataType.OCTET_STRING)
        assert len(act) > 1
        self.client_apdu("I ACTION request (long)", act)
        self.server_apdu("I ACTION response", ACTION_RESPONSE)

        disc = c.disconnectRequest(True)
        self.client_frame("DISC", disc)
        ua = GXDLMS.getHdlcFrame(self.s, Command.UA, None)
        self.server_frame("UA answering DISC", ua)


def main():
    from importlib.metadata import version

    out = {
        "generator": "gurux-dlms %s (tools/golden/hdlc.py)" % version("gurux-dlms"),
        "notes": [
            "side 'client': built by the gurux client API; side 'server': framed by gurux "
            "GXDLMS.getHdlcFrame with server settings (isServer=True). Each frame was parsed "
            "by the gurux peer before it was stored.",
            "The UA parameter field (81 80 12 ...), the AARE and the response APDUs are fixed "
            "bytes written in gen_hdlc.py (gurux 1.0.203's server-side UA field builder "
            "writes its group length at the wrong index); gurux framed them and its client "
            "parsed them (parseUAResponse gave max info TX 64 / RX 48).",
            "control/info/segmented are read off the gurux frame; dst/src follow from side: "
            "client frames go server_address(logical, physical, address_size) <- "
            "client_address(client), server frames the other way.",
            "sessions: the same frames in order, TX = client, RX = server, for a Link replay.",
        ],
        "snrm": {"max_info_tx": SNRM_MAX_TX, "max_info_rx": SNRM_MAX_RX,
                 "window": SNRM_WINDOW},
        "ua": dict(zip(("max_info_tx", "max_info_rx", "window_tx", "window_rx"), UA_PARAMS)),
        "hls": HLS,
        "frames": [],
        "sessions": [],
    }
    for size, logical, physical in ADDRESSES:
        for kind in CLIENTS:
            conv = Conversation(kind, size, logical, physical)
            conv.run()
            out["frames"] += conv.frames
            out["sessions"].append({
                "name": "client %s, server %s/%s size %d" % (kind, logical, physical, size),
                "address_size": size, "logical": logical, "physical": physical,
                "client": conv.sap, "auth": {16: "none", 1: "lls", "hls": "hls-gmac"}[kind],
                "frames": conv.session})
            print("%-34s %d frames" % (out["sessions"][-1]["name"], len(conv.frames)))
    with open(OUT, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print("wrote %s (%d frames)" % (os.path.relpath(OUT, ROOT), len(out["frames"])))


if __name__ == "__main__":
    main()
