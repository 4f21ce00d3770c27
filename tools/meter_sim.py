"""Simulated prepayment meter: a DLMS/COSEM server with a Token Gateway (IC 115).

Speaks HDLC (IEC 62056-46) over TCP (``--tcp PORT``, HDLC frames over TCP as simulators
do) or over a pseudo-terminal (``--pty``, prints the device path). Built on udlms's HDLC
framer; the security suite 0 side (AES-GCM, HLS-GMAC) uses pyca ``cryptography`` so the
client's and the server's crypto are independent implementations. The simulator is proven
by the unmodified gurux-dlms client completing a token session against it
(host_tests/test_sim_gurux.py). gurux's own server classes are not used (see
../shared/reference/gurux-server-defects.md).

Clients:
  SAP 16  public client: LN without ciphering, no authentication; may read the frame
          counter 0.0.43.1.1.255, the clock and the logical device name.
  SAP 1   management client: LN with ciphering, HLS-GMAC (mechanism 5), security suite 0,
          glo-ciphering (authenticated and encrypted, SC 0x30); when the AARQ proposes
          general-protection (conformance bit 1, as dlms-cosem does) it is negotiated and
          general-glo-ciphering (DB) requests are accepted too and answered with DB
          (host_tests/test_sim_dlms_cosem.py).
Objects: Association LN 0.0.40.0.0.255 (15), frame counter 0.0.43.1.1.255 (1), logical
device name 0.0.42.0.0.255 (1), Clock 0.0.1.0.0.255 (8), Disconnect Control
0.0.96.3.10.255 (70), Token Gateway 0.0.19.40.0.255 (115).

The Token Gateway accepts a token only in its configured encoding (anything else is
action-result type-unmatched, 12; ``--encoding any`` takes every form), refuses a token
it already accepted (token_status 6, validation failure) and reports token_status {code,
bits}. The meter remembers the last invocation counter per client and refuses a repeated
or lower one: an AARQ with a stale counter is rejected, a stale glo-APDU gets
exception-response D8 01 06 <expected>.
"""

import argparse
import os
import select
import socket
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if os.path.join(ROOT, "lib") not in sys.path:
    sys.path.insert(0, os.path.join(ROOT, "lib"))

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes  # noqa: E402
from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: E402

from udlms.cosem import axdr  # noqa: E402
from udlms.link import hdlc  # noqa: E402
from udlms.client import token as tok  # noqa: E402

# --- small A-XDR encoders (server side) -----------------------------------------------


def _len(n):
    if n < 0x80:
        return bytes([n])
    if n < 0x100:
        return bytes([0x81, n])
    return bytes([0x82, n >> 8, n & 0xFF])


def octets(b):
    return b"\x09" + _len(len(b)) + bytes(b)


def u32(v):
    return b"\x06" + (v & 0xFFFFFFFF).to_bytes(4, "big")


def enum(v):
    return bytes([0x16, v])


def boolean(v):
    return bytes([0x03, 1 if v else 0])


def structure(*items):
    return bytes([0x02, len(items)]) + b"".join(items)


def array(items):
    return b"\x01" + _len(len(items)) + b"".join(items)


def bitstring(nbits, data):
    return b"\x04" + _len(nbits) + bytes(data)


def datetime_now():
    t = time.gmtime()
    return bytes([t.tm_year >> 8, t.tm_year & 0xFF, t.tm_mon, t.tm_mday, t.tm_wday + 1,
                  t.tm_hour, t.tm_min, t.tm_sec, 0, 0, 0, 0])


def obis_bytes(text):
    return bytes(int(x) for x in text.replace("-", ".").replace(":", ".").split("."))


# --- constants ---------------------------------------------------------------------------
CONTEXT_LN = b"\x60\x85\x74\x05\x08\x01\x01"
CONTEXT_LN_CIPHERED = b"\x60\x85\x74\x05\x08\x01\x03"
MECH_PREFIX = b"\x60\x85\x74\x05\x08\x02"
SERVER_CONFORMANCE = 0x00501F | 0x001E1D  # LN: blocks, get/set/action, selective access...
ASSOCIATION = obis_bytes("0.0.40.0.0.255")
FRAME_COUNTER = obis_bytes("0.0.43.1.1.255")
LDN = obis_bytes("0.0.42.0.0.255")
CLOCK = obis_bytes("0.0.1.0.0.255")
DISCONNECT = obis_bytes("0.0.96.3.10.255")
GATEWAY = obis_bytes("0.0.19.40.0.255")
PUBLIC_READABLE = {(1, FRAME_COUNTER), (1, LDN), (8, CLOCK)}

GLO = {0xC8: 0xC0, 0xC9: 0xC1, 0xCB: 0xC3}  # glo-request -> plain request tag
GLO_RESP = {0xC4: 0xCC, 0xC5: 0xCD, 0xC7: 0xCF}
GENERAL_GLO = 0xDB  # general-glo-ciphering (dlms-cosem sends every xDLMS APDU this way)
GENERAL_PROTECTION = 0x400000  # conformance bit 1: general-glo/-ded/-ciphering allowed


class Options:
    """Simulator settings (the same names as the command-line flags)."""

    def __init__(self, **kw):
        self.server_logical = kw.get("server_logical", 1)
        self.server_physical = kw.get("server_physical", 17)
        self.address_size = kw.get("address_size", 2)
        self.ek = bytes.fromhex(kw.get("ek", "000102030405060708090A0B0C0D0E0F"))
        self.ak = bytes.fromhex(kw.get("ak", "D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF"))
        self.system_title = bytes.fromhex(kw.get("system_title", "4D4D4D0000BC614E"))
        self.stoc = bytes.fromhex(kw["stoc"]) if kw.get("stoc") else None
        self.encoding = kw.get("encoding", "ascii")
        self.max_info = kw.get("max_info", 128)
        self.max_pdu = kw.get("max_pdu", 1024)
        self.server_ic = kw.get("server_ic", 0x01234567)
        self.client_ic = kw.get("client_ic", None)  # last IC seen from client 1
        self.delivery_method = kw.get("delivery_method", 0)
        # the Nth enter request of the meter's life loses its answer: the meter (HDLC) says
        # nothing more until the next SNRM, as a line that dies mid-session
        self.lose_enter = kw.get("lose_enter", None)
        self.log = kw.get("log", False)
        # how the gateway refuses a token: "status" (action success, the verdict in
        # token_status, as most meters) or "action" (the action fails with other-reason
        # (250) and token_status says why)
        self.refusal = kw.get("refusal", "status")
        self.status_readable = kw.get("status_readable", True)  # False: attribute 6 denied
        # a fault for tests: "silent-after-aarq", "silent-after-enter" (stop answering),
        # "die-after-aarq", "die-after-enter" (the process ends: the link dies)
        self.fault = kw.get("fault")


class MeterState:
    """What persists across connections: counters, the gateway, the relay."""

    def __init__(self, o):
        self.lock = threading.RLock()
        self.server_ic = o.server_ic
        self.last_client_ic = {1: o.client_ic} if o.client_ic is not None else {}
        self.token = b""
        self.token_time = bytes(12)
        self.token_status = (8, (8, b"\x00"))
        self.accepted = []  # digits of every token executed (each must appear once)
        self.enters = {}  # digits -> number of enter calls that reached the gateway
        self.relay = True
        self.credit = 0
        self.sessions = 0
        self.refused_ic = 0
        self.enter_calls = 0
        self.seen_ic = []  # every invocation counter a client sent, in arrival order
        self.silent = False  # a fault made the meter stop answering

    def next_server_ic(self):
        with self.lock:
            self.server_ic += 1
            return self.server_ic


class Association:
    """One application association on one HDLC connection (Green Book §9.3)."""

    def __init__(self, meter, client):
        self.meter = meter
        self.client = client
        self.ciphered = False
        self.authenticated = False
        self.client_title = None
        self.ctos = None
        self.stoc = None
        self.client_max_pdu = 0xFFFF
        self.pending_blocks = None
        self.aarq_ic = None
        self.last_ic = None
        self.general = False  # general-protection negotiated: general-glo accepted

    # -- crypto (suite 0, pyca) ----------------------------------------------------------
    def _gmac(self, title, ic, data):
        o = self.meter.o
        iv = title + ic.to_bytes(4, "big")
        return AESGCM(o.ek).encrypt(iv, b"", b"\x10" + o.ak + data)[:12]

    def decipher(self, capdu, pos=1):
        """glo-ciphered APDU -> plain APDU (``pos``: where its length is). Raises
        ValueError(reason)."""
        o = self.meter.o
        n, pos = _ber_len(capdu, pos)
        body = bytes(capdu[pos:pos + n])
        if len(body) < 5 + 12:
            raise ValueError("short")
        sc = body[0]
        ic = int.from_bytes(body[1:5], "big")
        self.meter.state.seen_ic.append(("apdu", self.client_title, ic))
        if sc & 0xF0 != 0x30:
            raise ValueError("security")
        iv = self.client_title + body[1:5]
        ct, tag = body[5:-12], body[-12:]
        dec = Cipher(algorithms.AES(o.ek), modes.GCM(iv, tag, min_tag_length=12)).decryptor()
        dec.authenticate_additional_data(bytes([sc]) + o.ak)
        try:
            plain = dec.update(ct) + dec.finalize()
        except Exception:  # noqa: BLE001 - InvalidTag
            raise ValueError("decipher")
        last = self.meter.state.last_client_ic.get(self.client)
        if last is not None and ic <= last:
            self.meter.state.refused_ic += 1
            raise ValueError("ic")
        self.meter.state.last_client_ic[self.client] = ic
        self.last_ic = ic
        return plain

    def cipher(self, tag, plain):
        o = self.meter.o
        ic = self.meter.state.next_server_ic()
        iv = o.system_title + ic.to_bytes(4, "big")
        ct = AESGCM(o.ek).encrypt(iv, plain, b"\x30" + o.ak)
        body = b"\x30" + ic.to_bytes(4, "big") + ct[:-16] + ct[-16:-4]
        return bytes([tag]) + _len(len(body)) + body

    def decipher_general(self, capdu):
        """general-glo-ciphering request (Green Book §9.5: DB, system title as an
        octet-string, then the ciphered content as in glo-) -> plain APDU. The title must
        be the calling-AP-title of the AARQ. Raises ValueError(reason)."""
        tl, pos = _ber_len(capdu, 1)
        if tl != 8 or bytes(capdu[pos:pos + tl]) != self.client_title:
            raise ValueError("system title")
        return self.decipher(capdu, pos + tl)

    def cipher_general(self, plain):
        """general-glo-ciphering response: DB, 08, the meter's system title, then what
        ``cipher`` builds after its tag."""
        return bytes([GENERAL_GLO, 8]) + self.meter.o.system_title + self.cipher(0, plain)[1:]

    # -- ACSE -------------------------------------------------------------------------------
    def aarq(self, req):
        """AARQ -> AARE (IEC 62056-5-3 §7, Green Book §9.3.2)."""
        o = self.meter.o
        f = _ber_fields(req)
        ctx = f.get(0xA1, b"")[2:]
        mech = f.get(0x8B)
        title = f.get(0xA6)
        auth = f.get(0xAC)
        info = f.get(0xBE)
        ciphered = ctx == CONTEXT_LN_CIPHERED
        if ctx not in (CONTEXT_LN, CONTEXT_LN_CIPHERED):
            return self.aare(1, 0, 2, ctx or CONTEXT_LN)
        if self.client == 16:
            if ciphered or mech:
                return self.aare(1, 0, 2 if ciphered else 11, ctx)
        elif self.client == 1:
            if not ciphered:
                return self.aare(1, 0, 2, ctx)
            if mech is None:
                return self.aare(1, 0, 12, ctx)
            if mech != MECH_PREFIX + b"\x05":
                return self.aare(1, 0, 11, ctx)
        else:
            return self.aare(1, 0, 1, ctx)
        if info is None or len(info) < 2 or info[0] != 0x04:
            return self.aare(1, 0, 1, ctx)
        ui = info[2:] if info[1] < 0x80 else info[2 + (info[1] & 0x7F):]
        if ciphered:
            if not title or len(title) < 10 or auth is None:
                return self.aare(1, 0, 1, ctx)
            self.client_title = bytes(title[2:10])
            self.ctos = bytes(auth[2:])
            if ui[0] != 0x21:
                return self.aare(1, 0, 1, ctx, b"\x0E\x01\x00\x06")
            try:
                ui = self.decipher(ui)
                self.aarq_ic = self.last_ic
            except ValueError:
                # initiateError / application-reference / deciphering-error
                return self.aare(1, 0, 1, ctx, b"\x0E\x01\x00\x06")
        if not ui or ui[0] != 0x01:
            return self.aare(1, 0, 1, ctx, b"\x0E\x01\x06\x00")
        try:
            conf = int.from_bytes(ui[-5:-2], "big")
            self.client_max_pdu = int.from_bytes(ui[-2:], "big") or 0xFFFF
            version = ui[-9]
        except IndexError:
            return self.aare(1, 0, 1, ctx)
        if version < 6:
            return self.aare(1, 0, 1, ctx, b"\x0E\x01\x06\x01")
        neg = conf & (SERVER_CONFORMANCE | (GENERAL_PROTECTION if ciphered else 0))
        self.general = bool(neg & GENERAL_PROTECTION)
        resp = (b"\x08\x00\x06\x5F\x1F\x04\x00" + neg.to_bytes(3, "big")
                + o.max_pdu.to_bytes(2, "big") + b"\x00\x07")
        self.ciphered = ciphered
        if ciphered:
            self.stoc = o.stoc or os.urandom(16)
            resp = self.cipher(0x28, resp)
            self.meter.state.sessions += 1
            return self.aare(0, 0, 14, ctx, resp, hls=True)
        self.authenticated = True
        return self.aare(0, 0, 0, ctx, resp)

    def aare(self, result, source, diag, ctx, user_info=None, hls=False):
        o = self.meter.o
        body = b"\xA1\x09\x06\x07" + ctx
        body += b"\xA2\x03\x02\x01" + bytes([result])
        body += bytes([0xA3, 0x05, 0xA1 + source, 0x03, 0x02, 0x01, diag])
        if ctx == CONTEXT_LN_CIPHERED and result == 0:
            body += b"\xA4\x0A\x04\x08" + o.system_title
        if hls:
            body += b"\x88\x02\x07\x80" + b"\x89\x07" + MECH_PREFIX + b"\x05"
            body += b"\xAA" + _len(len(self.stoc) + 2) + b"\x80" + _len(len(self.stoc)) + self.stoc
        if user_info is not None:
            inner = b"\x04" + _len(len(user_info)) + user_info
            body += b"\xBE" + _len(len(inner)) + inner
        return b"\x61" + _len(len(body)) + body

    def release(self, req):
        f = _ber_fields(req)
        info = f.get(0xBE)
        body = b"\x80\x01\x00"
        if info is not None and self.ciphered:
            resp = (b"\x08\x00\x06\x5F\x1F\x04\x00" + SERVER_CONFORMANCE.to_bytes(3, "big")
                    + o_max(self).to_bytes(2, "big") + b"\x00\x07")
            ui = self.cipher(0x28, resp)
            inner = b"\x04" + _len(len(ui)) + ui
            body += b"\xBE" + _len(len(inner)) + inner
        self.authenticated = False
        return b"\x63" + _len(len(body)) + body

    # -- xDLMS services -----------------------------------------------------------------------
    def xdlms(self, req):
        tag = req[0]
        if self.ciphered:
            general = tag == GENERAL_GLO and self.general
            if tag not in GLO and not general:
                return b"\xD8\x01\x02"  # service-not-allowed / service-unknown... plain refused
            try:
                plain = self.decipher_general(req) if general else self.decipher(req)
            except ValueError as e:
                if str(e) == "ic":
                    last = self.meter.state.last_client_ic.get(self.client, 0)
                    return b"\xD8\x01\x06" + (last + 1).to_bytes(4, "big")
                return b"\xD8\x01\x05"
            resp = self.service(plain)
            if resp[0] in GLO_RESP:
                # answered in the form the request came in: general-glo for general-glo
                if general:
                    return self.cipher_general(resp)
                return self.cipher(GLO_RESP[resp[0]], resp)
            return resp
        if tag in GLO or tag == GENERAL_GLO:
            return b"\xD8\x01\x02"
        return self.service(req)

    def service(self, req):
        tag = req[0]
        if len(req) < 3:
            return b"\xD8\x02\x02"
        typ, invoke = req[1], req[2]
        try:
            if tag == 0xC0 and typ == 1:
                cid = int.from_bytes(req[3:5], "big")
                obis, attr = bytes(req[5:11]), req[11]
                res = self.get(cid, obis, attr)
                if isinstance(res, int):
                    return bytes([0xC4, 1, invoke, 1, res])
                full = bytes([0xC4, 1, invoke, 0]) + res
                if len(full) > self.client_max_pdu:
                    return self.first_block(invoke, res)
                return full
            if tag == 0xC0 and typ == 2:
                return self.next_block(invoke, int.from_bytes(req[3:7], "big"))
            if tag == 0xC1 and typ == 1:
                cid = int.from_bytes(req[3:5], "big")
                obis, attr = bytes(req[5:11]), req[11]
                pos = 12 + (1 if req[12] == 0 else 99)
                value, _ = axdr.decode(bytes(req), pos)
                return bytes([0xC5, 1, invoke, self.set(cid, obis, attr, value)])
            if tag == 0xC3 and typ == 1:
                cid = int.from_bytes(req[3:5], "big")
                obis, method = bytes(req[5:11]), req[11]
                data = bytes(req[13:]) if len(req) > 12 and req[12] else None
                res, ret = self.action(cid, obis, method, data)
                if ret is None:
                    return bytes([0xC7, 1, invoke, res, 0])
                return bytes([0xC7, 1, invoke, res, 1, 0]) + ret
        except (IndexError, ValueError):
            return b"\xD8\x02\x03"
        return b"\xD8\x01\x02"

    def first_block(self, invoke, data):
        size = max(16, self.client_max_pdu - 16)
        self.pending_blocks = [data[i:i + size] for i in range(0, len(data), size)]
        return self.next_block(invoke, 0)

    def next_block(self, invoke, acked):
        blocks = self.pending_blocks
        n = acked + 1
        if not blocks or n > len(blocks):
            return bytes([0xC4, 1, invoke, 1, 19])  # no-long-get-in-progress
        raw = blocks[n - 1]
        last = 1 if n == len(blocks) else 0
        if last:
            self.pending_blocks = None
        return (bytes([0xC4, 2, invoke, last]) + n.to_bytes(4, "big") + b"\x00"
                + _len(len(raw)) + raw)

    def allowed(self, cid, obis):
        if self.client == 16:
            return (cid, obis) in PUBLIC_READABLE
        return self.authenticated

    def get(self, cid, obis, attr):
        st = self.meter.state
        if not self.allowed(cid, obis):
            return 3  # read-write-denied
        if attr == 1:
            return octets(obis)
        if cid == 1 and obis == FRAME_COUNTER and attr == 2:
            return u32(st.last_client_ic.get(1) or 0)
        if cid == 1 and obis == LDN and attr == 2:
            return octets(b"UDLMSSIM0000001")
        if cid == 8 and obis == CLOCK and attr == 2:
            return octets(datetime_now())
        if cid == 70 and obis == DISCONNECT:
            if attr == 2:
                return boolean(st.relay)
            if attr == 3:
                return enum(1 if st.relay else 0)
        if cid == 115 and obis == GATEWAY:
            if attr == 6 and not self.meter.o.status_readable:
                return 3
            if attr == 2:
                return octets(st.token)
            if attr == 3:
                return octets(st.token_time)
            if attr == 4:
                return array([octets(b"credit %d" % st.credit)])
            if attr == 5:
                return enum(self.meter.o.delivery_method)
            if attr == 6:
                code, (nbits, bits) = st.token_status
                return structure(enum(code), bitstring(nbits, bits))
        if cid == 15 and obis == ASSOCIATION and attr == 8:
            return enum(2 if self.authenticated else 1)
        return 4  # object-undefined

    def set(self, cid, obis, attr, value):
        if not self.allowed(cid, obis):
            return 3
        if cid == 115 and obis == GATEWAY and attr == 5 and isinstance(value, int):
            self.meter.o.delivery_method = value
            return 0
        return 3

    def action(self, cid, obis, method, data):
        st = self.meter.state
        if cid == 15 and obis == ASSOCIATION and method == 1 and self.ciphered:
            return self.hls(data)
        if not self.allowed(cid, obis):
            return 3, None
        if cid == 70 and obis == DISCONNECT and method in (1, 2):
            st.relay = method == 2
            return 0, None
        if cid == 115 and obis == GATEWAY and method == 1:
            return self.enter(data), None
        return 11, None  # object-unavailable

    def hls(self, data):
        """reply_to_HLS_authentication: check f(StoC), answer f(CtoS) (GB §9.2.7.4)."""
        if data is None or data[0] != 0x09 or len(data) < 2 + 17:
            return 250, None
        proof = bytes(data[2:2 + data[1]])
        ic = int.from_bytes(proof[1:5], "big")
        self.meter.state.seen_ic.append(("f(StoC)", self.client_title, ic))
        if proof[0] != 0x10 or proof[5:] != self._gmac(self.client_title, ic, self.stoc):
            return 250, None
        # The proof's counter must be newer than the AARQ's; the glo-action that carries it
        # (IC n+2) has already been checked against the last counter seen.
        if self.aarq_ic is not None and ic <= self.aarq_ic:
            return 250, None
        self.authenticated = True
        sic = self.meter.state.next_server_ic()
        reply = b"\x10" + sic.to_bytes(4, "big") + self._gmac(self.meter.o.system_title, sic,
                                                             self.ctos)
        return 0, octets(reply)

    def enter(self, data):
        """Token Gateway method 1 ``enter(octet-string)``."""
        st = self.meter.state
        enc = self.meter.o.encoding
        st.enter_calls += 1
        if st.enter_calls == self.meter.o.lose_enter:
            st.silent = "until-snrm"
        if data is None or data[0] != 0x09:
            return 12  # type-unmatched: not an octet-string
        try:
            value, _ = axdr.decode(bytes(data))
        except Exception:  # noqa: BLE001
            return 12
        digits = _decode_token(bytes(value), enc)
        if digits is None:
            return 12  # wrong encoding or length for this meter
        with st.lock:
            st.enters[digits] = st.enters.get(digits, 0) + 1
            st.token = bytes(value)
            st.token_time = datetime_now()
            if int(digits) >= 1 << 66:
                st.token_status = (4, (8, b"\x80"))  # token format failure
            elif digits in st.accepted:
                st.token_status = (6, (8, b"\x40"))  # validation failure: already used
            else:
                st.accepted.append(digits)
                st.credit += 1
                st.token_status = (3, (8, b"\x00"))  # token execution result OK
        fault(self.meter, "enter")
        if st.token_status[0] != 3 and self.meter.o.refusal == "action":
            return 250  # other-reason: the why is in token_status
        return 0


def fault(meter, where):
    """Apply the configured test fault at ``where`` ("aarq" or "enter")."""
    f = meter.o.fault
    if not f or not f.endswith("-after-" + where):
        return
    print("meter_sim: fault %s" % f, flush=True)
    if f.startswith("die"):
        os._exit(0)
    meter.state.silent = True


def o_max(assoc):
    return assoc.meter.o.max_pdu


def _decode_token(raw, enc):
    if enc == "any":  # a meter that takes the token in every form
        for e in tok.ENCODINGS:
            d = _decode_token(raw, e)
            if d is not None:
                return d
        return None
    if enc == "ascii":
        if len(raw) == 20 and all(0x30 <= c <= 0x39 for c in raw):
            return raw.decode()
    elif enc == "digits":
        if len(raw) == 20 and all(c <= 9 for c in raw):
            return "".join(str(c) for c in raw)
    elif enc == "bcd":
        if len(raw) == 10 and all((c >> 4) <= 9 and (c & 15) <= 9 for c in raw):
            return raw.hex()
    elif enc == "hex":
        if len(raw) == 9:
            return "%020d" % int.from_bytes(raw, "big")
    return None


def _ber_len(buf, pos):
    n = buf[pos]
    if n < 0x80:
        return n, pos + 1
    k = n & 0x7F
    return int.from_bytes(bytes(buf[pos + 1:pos + 1 + k]), "big"), pos + 1 + k


def _ber_fields(apdu):
    """Top-level BER fields of an AARQ/RLRQ: {tag: value bytes}."""
    n, pos = _ber_len(apdu, 1)
    end = min(len(apdu), pos + n)
    out = {}
    while pos < end:
        tag = apdu[pos]
        ln, p = _ber_len(apdu, pos + 1)
        out[tag] = bytes(apdu[p:p + ln])
        pos = p + ln
    return out


# --- the meter and its HDLC side ---------------------------------------------------------------


class Meter:
    def __init__(self, options=None, **kw):
        self.o = options or Options(**kw)
        self.state = MeterState(self.o)
        self.address = hdlc.server_address(self.o.server_logical, self.o.server_physical,
                                           self.o.address_size)

    def connection(self, write):
        return HdlcServer(self, write)


class ApduServer:
    """Dispatch of one APDU to the connection's association (HDLC and wrapper share it).
    Needs ``self.meter``, ``self.client`` and ``self.assoc``."""

    def apdu(self, req):
        tag = req[0] if req else 0
        if tag == 0x60:
            self.assoc = Association(self.meter, self.client)
            if self.client == 1:
                fault(self.meter, "aarq")
            return self.assoc.aarq(req)
        if tag == 0x62:
            if self.assoc is None:
                return b"\x63\x03\x80\x01\x00"
            r = self.assoc.release(req)
            self.assoc = None
            return r
        if self.assoc is None or not (self.assoc.authenticated or self.assoc.ciphered):
            return b"\xD8\x01\x01"  # state-error service-not-allowed, no association
        return self.assoc.xdlms(req)


class HdlcServer(ApduServer):
    """HDLC secondary station for one connection (IEC 62056-46 §6.4, normal response mode)."""

    def __init__(self, meter, write):
        self.meter = meter
        self.write = write
        self.rx = hdlc.Receiver(2048)
        self.reset()

    def reset(self):
        self.connected = False
        self.vs = self.vr = 0
        self.assoc = None
        self.client = None
        self.segments = bytearray()
        self.out = []  # pending response segments
        self.last = None
        self.max_tx = self.max_rx = 128
        self.window = 1

    def log(self, d, b):
        if self.meter.o.log:
            print("%s %s" % (d, bytes(b).hex(" ").upper()), flush=True)

    def send(self, control, info=b"", segmented=False):
        f = hdlc.frame(hdlc.client_address(self.client), self.meter.address, control, info,
                       segmented)
        self.last = f
        if self.meter.state.silent:
            return
        self.log("SIM TX", f)
        self.write(f)

    def feed(self, data):
        data = memoryview(bytes(data))
        while len(data):
            n = self.rx.feed(data)
            data = data[n:]
            self._drain()

    def _drain(self):
        while True:
            fr = self.rx.next()
            if fr is None:
                return
            self.log("SIM RX", fr.raw)
            if bytes(fr.dst) != self.meter.address:
                continue
            with self.meter.state.lock:
                self.frame(fr)

    def frame(self, fr):
        st = self.meter.state
        if st.silent == "until-snrm" and fr.control & 0xEF == 0x83:
            st.silent = False  # --lose-enter: the next connection is answered
        if st.silent:  # a test fault: the meter answers nothing more
            return
        src = bytes(fr.src)
        client = src[0] >> 1
        c = fr.control
        if c & 0xEF == 0x83:  # SNRM
            self.reset()
            self.client = client
            mtx, mrx, wtx, wrx = hdlc.parse_params(bytes(fr.info)) if len(fr.info) else (
                128, 128, 1, 1)
            o = self.meter.o
            # client's tx is our rx and vice versa
            self.max_tx = min(mrx, o.max_info)
            self.max_rx = min(mtx, o.max_info)
            self.window = 1
            self.connected = True
            info = hdlc.ua_info(self.max_tx, self.max_rx, 1, 1)
            self.send(hdlc.UA, info)
            return
        if self.client is None:
            self.client = client
        if c & 0xEF == 0x43:  # DISC
            was = self.connected
            self.reset()
            self.client = client
            self.send(hdlc.UA if was else hdlc.DM)
            return
        if not self.connected or client != self.client:
            self.client = client
            self.send(hdlc.DM)
            return
        if c & 0x01 == 0:  # I-frame
            ns = (c >> 1) & 7
            nr = (c >> 5) & 7
            if ns != self.vr:
                # a repeat of the frame we already took: answer again, do not re-run it
                if self.last is not None:
                    self.log("SIM TX", self.last)
                    self.write(self.last)
                return
            self.vr = (self.vr + 1) & 7
            del nr
            self.segments += fr.info
            if fr.segmented:
                self.send(hdlc.rr_control(self.vr))
                return
            apdu = bytes(self.segments)
            self.segments = bytearray()
            if apdu[:3] in (b"\xE6\xE6\x00",):
                apdu = apdu[3:]
            resp = self.apdu(apdu)
            self.queue(b"\xE6\xE7\x00" + resp)
            return
        if c & 0x0F == 0x01:  # RR
            if self.out:
                self.next_segment()
            elif self.last is not None:
                self.write(self.last)
            return
        self.send(hdlc.FRMR, b"")

    def queue(self, info):
        n = self.max_tx
        self.out = [info[i:i + n] for i in range(0, len(info), n)]
        self.next_segment()

    def next_segment(self):
        part = self.out.pop(0)
        control = hdlc.i_control(self.vs, self.vr)
        self.vs = (self.vs + 1) & 7
        self.send(control, part, segmented=bool(self.out))


# --- transports ------------------------------------------------------------------------------


class _Server:
    """What every front end shares: ``serve_forever`` runs in a daemon thread; ``stop``
    ends it and closes the listening socket, if the front end has one."""

    sock = None

    def start(self):
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def stop(self):
        self.running = False
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass


class TcpServer(_Server):
    """HDLC frames over TCP, one thread per connection."""

    def __init__(self, meter, port=0, host="127.0.0.1", baud=None):
        self.meter = meter
        self.baud = baud
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.running = True

    def serve_forever(self):
        while self.running:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    def handle(self, conn):
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def write(b):
            if self.baud:
                time.sleep(len(b) * 10 / self.baud)
            try:
                conn.sendall(b)
            except OSError:
                pass

        srv = self.connection(write)
        with conn:
            while self.running:
                try:
                    data = conn.recv(4096)
                except OSError:
                    return
                if not data or srv.feed(data) is False:  # False: not our protocol
                    return

    def connection(self, write):
        """The per-connection protocol handler (HDLC here)."""
        return self.meter.connection(write)


class PtyServer(_Server):
    """HDLC over a pseudo-terminal: clients open ``self.path`` like a serial port.

    With ``mode_e`` (a ModeE) the line first needs the IEC 62056-21 sign-on at 300 baud 7E1
    and then runs HDLC at the acknowledged baud 8N1; the line settings the client really
    set (termios of the pty) are checked on every read and recorded in ``mode_e.log``.
    """

    def __init__(self, meter, baud=None, link=None, mode_e=None):
        import pty
        import tty

        self.meter = meter
        self.baud = baud
        self.mode_e = mode_e
        self.master, slave = pty.openpty()
        tty.setraw(slave)
        self.slave = slave
        self.path = os.ttyname(slave)
        if link:
            try:
                os.unlink(link)
            except OSError:
                pass
            os.symlink(self.path, link)
            self.path = link
        self.running = True

    def write(self, b):
        if self.baud:
            time.sleep(len(b) * 10 / self.baud)
        os.write(self.master, b)

    def line(self):
        """(baud, bits, parity) the client has set on the pty (termios)."""
        return line_settings(self.slave)

    def serve_forever(self):
        srv = self.meter.connection(self.write)
        front = None
        if self.mode_e is not None:
            front = self.mode_e
            front.attach(srv, self.write, self.line)
        while self.running:
            r, _, _ = select.select([self.master], [], [], 0.1)
            if not r:
                if front is not None:
                    front.idle()
                continue
            try:
                data = os.read(self.master, 4096)
            except OSError:
                time.sleep(0.05)
                continue
            if front is not None:
                front.feed(data)
            else:
                srv.feed(data)


def line_settings(fd):
    """(baud, bits, parity) of a tty from termios."""
    import termios

    attrs = termios.tcgetattr(fd)
    cflag, speed = attrs[2], attrs[5]
    baud = _SPEEDS.get(speed, speed)
    bits = {termios.CS5: 5, termios.CS6: 6, termios.CS7: 7, termios.CS8: 8}[
        cflag & termios.CSIZE]
    parity = "N"
    if cflag & termios.PARENB:
        parity = "O" if cflag & termios.PARODD else "E"
    return baud, bits, parity


def _speeds():
    try:
        import termios
    except ImportError:  # pragma: no cover
        return {}
    return {getattr(termios, "B%d" % b): b for b in (300, 600, 1200, 2400, 4800, 9600, 19200,
                                                     38400, 57600, 115200)
            if hasattr(termios, "B%d" % b)}


_SPEEDS = _speeds()
_BAUD_CHARS = "0123456"
_BAUDS = (300, 600, 1200, 2400, 4800, 9600, 19200)


class ModeE:
    """IEC 62056-21 mode E front end of the optical port (meter side).

    State "sign-on": the line is 300 baud 7E1; ``/?[address]!CR LF`` is answered with the
    identification ``/<manufacturer><Z><ident>`` (``\\2`` in it: HDLC available).
    ``ACK 2 Z 2 CR LF`` switches to state "hdlc" at Z's baud 8N1; DISC (or ``idle_s`` without
    a connection) returns to "sign-on". Bytes that arrive while the client's line settings
    differ from the expected ones are dropped, as a real UART would garble them, so a client
    that forgets to change over gets no answer (a Linux pty keeps only the baud rate: it
    refuses 7E1, so the character format is not checked). ``log`` records (event, baud,
    bits, parity).
    """

    def __init__(self, baud=9600, manufacturer="MMM", ident="\\2TOKENSIM", address="",
                 reaction_ms=20, idle_s=3.0):
        if baud not in _BAUDS:
            raise ValueError("mode E baud must be one of %s" % (_BAUDS,))
        self.baud = baud
        self.identification = ("/%s%s%s\r\n" % (manufacturer, _BAUD_CHARS[_BAUDS.index(baud)],
                                                ident)).encode()
        self.address = address
        self.reaction_ms = reaction_ms
        self.idle_s = idle_s
        self.log = []
        self.srv = self.write = self.line = None
        self.reset()

    def reset(self):
        self.state = "sign-on"
        self.expect = (300, 7, "E")
        self.buf = b""
        self.last = time.monotonic()

    def attach(self, srv, write, line):
        self.srv, self.write, self.line = srv, write, line

    def idle(self):
        if (self.state == "hdlc" and not self.srv.connected
                and time.monotonic() - self.last > self.idle_s):
            self.log.append(("idle-timeout",) + self.expect)
            self.srv.reset()
            self.reset()

    def feed(self, data):
        got = self.line()
        if got[0] != self.expect[0]:  # a Linux pty carries the baud but only 8N1
            self.log.append(("dropped %d bytes" % len(data),) + got)
            return
        self.last = time.monotonic()
        if self.state == "hdlc":
            self.log.append(("hdlc",) + got)
            was = self.srv.connected
            self.srv.feed(data)
            if was and not self.srv.connected:  # DISC: back to the sign-on state
                self.log.append(("disconnected",) + got)
                self.reset()
            return
        self.buf = (self.buf + bytes(b & 0x7F for b in data))[-128:]
        while b"\n" in self.buf:
            line, _, self.buf = self.buf.partition(b"\n")
            self.message(line.rstrip(b"\r"), got)

    def message(self, line, got):
        i = line.find(b"/?")
        if i >= 0 and line.endswith(b"!"):
            addr = line[i + 2:-1].decode("ascii", "replace")
            if addr and self.address and addr != self.address:
                self.log.append(("sign-on for another address",) + got)
                return
            self.log.append(("sign-on",) + got)
            time.sleep(self.reaction_ms / 1000)
            self.write(self.identification)
            return
        i = line.find(b"\x06")
        if i >= 0 and len(line) >= i + 4:
            v, z, y = line[i + 1:i + 4].decode("ascii", "replace")
            if v == "2" and y == "2" and z in _BAUD_CHARS:
                baud = _BAUDS[_BAUD_CHARS.index(z)]
                if baud <= self.baud:
                    self.state = "hdlc"
                    self.expect = (baud, 8, "N")
                    self.srv.reset()
                    self.log.append(("ack %s" % z,) + got)
                    self.log.append(("switch",) + self.expect)
                    return
            self.log.append(("ack refused %r" % line[i:],) + got)
            return
        self.log.append(("ignored %r" % line[:20],) + got)


class WrapperConnection(ApduServer):
    """IEC 62056-47 wrapper, server side, for one TCP connection: header 00 01 · source
    wPort · destination wPort · length, then the APDU. The destination must be the meter's
    logical device; the source wPort is the client SAP."""

    def __init__(self, meter, write):
        self.meter = meter
        self.write = write
        self.buf = b""
        self.assoc = None
        self.client = None

    def log(self, d, b):
        if self.meter.o.log:
            print("%s %s" % (d, bytes(b).hex(" ").upper()), flush=True)

    def feed_datagram(self, data):
        """UDP: a datagram is one whole wrapper frame; never join it to an earlier rest."""
        self.buf = b""
        return self.feed(data)

    def feed(self, data):
        """Returns False when the peer does not speak the wrapper (close the connection)."""
        self.buf += bytes(data)
        while len(self.buf) >= 8:
            ver = int.from_bytes(self.buf[0:2], "big")
            src = int.from_bytes(self.buf[2:4], "big")
            dst = int.from_bytes(self.buf[4:6], "big")
            n = int.from_bytes(self.buf[6:8], "big")
            if ver != 1:
                return False
            if len(self.buf) < 8 + n:
                return True
            self.log("SIM RX", self.buf[:8 + n])
            apdu, self.buf = self.buf[8:8 + n], self.buf[8 + n:]
            if dst != self.meter.o.server_logical:
                continue  # no such logical device: a real meter stays silent
            with self.meter.state.lock:
                if src != self.client:
                    self.client = src
                    self.assoc = None
                resp = self.apdu(apdu) if apdu else b"\xD8\x02\x02"
            out = (b"\x00\x01" + dst.to_bytes(2, "big") + src.to_bytes(2, "big")
                   + len(resp).to_bytes(2, "big") + resp)
            if self.meter.state.silent:
                continue
            self.log("SIM TX", out)
            self.write(out)
        return True


class WrapperServer(TcpServer):
    """The meter over the IEC 62056-47 wrapper on TCP (port 4059 on real meters)."""

    def connection(self, write):
        return WrapperConnection(self.meter, write)


class UdpWrapperServer(_Server):
    """The meter over the IEC 62056-47 wrapper on UDP: one datagram, one wrapper frame;
    one association per client address and port."""

    def __init__(self, meter, port=0, host="127.0.0.1"):
        self.meter = meter
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, port))
        self.port = self.sock.getsockname()[1]
        self.peers = {}
        self.running = True

    def serve_forever(self):
        while self.running:
            try:
                data, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            srv = self.peers.get(peer)
            if srv is None:
                def write(b, peer=peer):
                    try:
                        self.sock.sendto(b, peer)
                    except OSError:
                        pass

                srv = self.peers[peer] = WrapperConnection(self.meter, write)
            srv.feed_datagram(data)


def _port(text):
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not a port number" % text)
    if not 0 <= v <= 65535:
        raise argparse.ArgumentTypeError("port %d is outside 0..65535 (0: any free port)" % v)
    return v


def _hexbytes(n):
    def parse(text):
        try:
            b = bytes.fromhex(text)
        except ValueError:
            raise argparse.ArgumentTypeError("%r is not hexadecimal" % text)
        if len(b) != n:
            raise argparse.ArgumentTypeError("wants %d hex digits, got %d" % (2 * n, len(text)))
        return text
    return parse


def build_parser(prog="meter_sim"):
    p = argparse.ArgumentParser(
        prog=prog, description=__doc__.split("\n")[0],
        epilog="exit status: 0 stopped with Ctrl-C, 2 bad option, 3 cannot listen / open the "
        "pty")
    p.add_argument("--tcp", type=_port, metavar="PORT",
                   help="serve HDLC over TCP on PORT (0: any free port)")
    p.add_argument("--pty", action="store_true", help="serve HDLC over a pseudo-terminal")
    p.add_argument("--pty-link", help="also create this symlink to the pty")
    p.add_argument("--mode-e", action="store_true",
                   help="pty needs the IEC 62056-21 mode E sign-on (300 7E1) before HDLC")
    p.add_argument("--mode-e-baud", type=int, default=9600, choices=_BAUDS,
                   help="baud rate the identification announces (default 9600)")
    p.add_argument("--wrapper", type=_port, metavar="PORT",
                   help="serve the IEC 62056-47 wrapper over TCP on PORT (4059 on meters)")
    p.add_argument("--wrapper-udp", type=_port, metavar="PORT",
                   help="serve the IEC 62056-47 wrapper over UDP on PORT")
    p.add_argument("--server-logical", type=int, default=1,
                   help="logical device address (default 1)")
    p.add_argument("--server-physical", type=int, default=17,
                   help="physical address (default 17)")
    p.add_argument("--address-size", type=int, default=2, choices=(1, 2, 4),
                   help="HDLC server address size in bytes (default 2)")
    p.add_argument("--ek", default="000102030405060708090A0B0C0D0E0F", type=_hexbytes(16),
                   help="block cipher key EK (32 hex digits)")
    p.add_argument("--ak", default="D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF", type=_hexbytes(16),
                   help="authentication key AK (32 hex digits)")
    p.add_argument("--system-title", default="4D4D4D0000BC614E", type=_hexbytes(8),
                   help="the meter's system title (16 hex digits)")
    p.add_argument("--stoc", help="fixed server challenge (hex) for reproducible traces")
    p.add_argument("--encoding", default="ascii", choices=tok.ENCODINGS + ("any",),
                   help="the token octets the gateway takes (default ascii; any: every form)")
    p.add_argument("--refusal", default="status", choices=("status", "action"),
                   help="how a token is refused: action success and the verdict in "
                   "token_status (default), or the action fails with other-reason (250) and "
                   "token_status says why")
    p.add_argument("--no-token-status", action="store_true",
                   help="token_status (attribute 6) is not readable (read-write-denied)")
    p.add_argument("--fault", choices=("silent-after-aarq", "silent-after-enter",
                                       "die-after-aarq", "die-after-enter"),
                   help="for tests: stop answering, or end the process, when the management "
                   "client's AARQ / the token's enter request arrives")
    p.add_argument("--max-info", type=int, default=128,
                   help="largest HDLC information field (default 128)")
    p.add_argument("--max-pdu", type=int, default=1024, help="server max PDU size")
    p.add_argument("--server-ic", type=lambda s: int(s, 0), default=0x01234567,
                   help="the meter's own invocation counter to start from")
    p.add_argument("--client-ic", type=lambda s: int(s, 0), default=None,
                   help="last invocation counter already seen from client 1")
    p.add_argument("--baud", type=int, help="throttle output to this baud rate")
    p.add_argument("--log", action="store_true", help="print every frame")
    p.add_argument("--lose-enter", type=int, metavar="N",
                   help="lose the answer to the Nth enter request (HDLC: silent until the "
                   "next SNRM), a line that dies mid-session")
    return p


def options_from_args(a):
    return Options(server_logical=a.server_logical, server_physical=a.server_physical,
                   address_size=a.address_size, ek=a.ek, ak=a.ak, system_title=a.system_title,
                   stoc=a.stoc, encoding=a.encoding, max_info=a.max_info, max_pdu=a.max_pdu,
                   server_ic=a.server_ic, client_ic=a.client_ic, log=a.log,
                   refusal=a.refusal, status_readable=not a.no_token_status, fault=a.fault,
                   lose_enter=a.lose_enter)


def main(argv=None, prog="meter_sim"):
    """Run the simulator until Ctrl-C; returns the exit status (errors are named)."""
    a = build_parser(prog).parse_args(argv)
    try:
        meter = Meter(options_from_args(a))
    except Exception as e:  # noqa: BLE001 - a bad combination of options
        print("%s: bad option: %s" % (prog, e), file=sys.stderr)
        return 2
    servers = []
    try:
        try:
            if a.tcp is not None:
                s = TcpServer(meter, a.tcp, baud=a.baud).start()
                servers.append(s)
                print("meter_sim: HDLC over TCP on tcp://127.0.0.1:%d" % s.port, flush=True)
            if a.wrapper is not None:
                s = WrapperServer(meter, a.wrapper).start()
                servers.append(s)
                print("meter_sim: wrapper (IEC 62056-47) on tcp://127.0.0.1:%d" % s.port,
                      flush=True)
            if a.wrapper_udp is not None:
                s = UdpWrapperServer(meter, a.wrapper_udp).start()
                servers.append(s)
                print("meter_sim: wrapper (IEC 62056-47) on udp://127.0.0.1:%d" % s.port,
                      flush=True)
            if a.pty or a.mode_e or (a.tcp is None and a.wrapper is None
                                     and a.wrapper_udp is None):
                mode_e = ModeE(a.mode_e_baud) if a.mode_e else None
                s = PtyServer(meter, baud=a.baud, link=a.pty_link, mode_e=mode_e).start()
                servers.append(s)
                print("meter_sim: %s on pty %s" % ("mode E sign-on, then HDLC at %d baud"
                                                   % a.mode_e_baud if mode_e else "HDLC",
                                                   s.path), flush=True)
        except OSError as e:
            print("%s: cannot start: %s%s" % (prog, e.strerror or e, " (%s)" % e.filename
                                              if getattr(e, "filename", None) else ""),
                  file=sys.stderr)
            return 3
        print("meter_sim: server %d/%d (size %d), token encoding %s"
              % (a.server_logical, a.server_physical, a.address_size, a.encoding), flush=True)
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:  # our stdout was closed: nobody listens any more
        return 0
    finally:
        for s in servers:
            s.stop()
    st = meter.state
    try:
        print("meter_sim: accepted %d token(s), refused stale counters %d"
              % (len(st.accepted), st.refused_ic))
    except (BrokenPipeError, ValueError):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
