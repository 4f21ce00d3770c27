"""The simulated meter's data (udlms.host.sim): small A-XDR encoders for the server
side, the objects' OBIS codes, the command-line Options and the MeterState a meter keeps
across associations (invocation counters, accepted tokens)."""

import os
import threading
import time


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
        # -- meters differ (issue 24, cases 3 and 5) --
        # how the gateway says "not this form" for a token in a form it does not take:
        # "type-unmatched" (12, the default), "object-class-inconsistent" (9, and the
        # refused enter clears the stored token attribute), "format-failure" (12, the token
        # stored and token_status set to format-failure (4) for it)
        self.wrong_form = kw.get("wrong_form", "type-unmatched")
        # the gateway stores any octet string, answers success and leaves token_status at
        # format-ok (0): nothing says whether the token was applied
        self.store_any_token = kw.get("store_any_token", False)
        # every GET answer carries this many bytes after its value (a clock answered 18)
        self.trailing_bytes = kw.get("trailing_bytes", 0)
        # -- meters differ (issue 24, cases 1, 2, 4, 7) --
        # how a refused ciphered AARQ is answered: "aare" (an AARE whose user-information
        # says deciphering-error) or "exception" (exception-response D8 01 05 for a GMAC
        # that does not verify, D8 01 06 <u32 expected counter> for a stale counter)
        self.refuse_aarq_with = kw.get("refuse_aarq_with", "aare")
        # the object where the public client reads client 1's last invocation counter;
        # every other 0.0.43.1.x.255 is read-write-denied (3)
        self.frame_counter_at = kw.get("frame_counter_at", "0.0.43.1.1.255")
        # a plain RLRQ in a ciphered association is refused (exception-response
        # service-not-allowed/operation-not-possible); the association stays until DISC
        self.release_needs_ciphered_rlrq = kw.get("release_needs_ciphered_rlrq", False)
        # every RLRQ is answered RLRE reason not-finished (1)
        self.refuse_release = kw.get("refuse_release", False)
        # HLS pass 4: every f(StoC) reply is refused with other-reason (250)
        self.refuse_hls_reply = kw.get("refuse_hls_reply", False)


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
        self.releases = []  # per RLRQ: "plain", "ciphered ic N" or "refused: why"

    def next_server_ic(self):
        with self.lock:
            self.server_ic += 1
            return self.server_ic


# --- BER (the AARQ/RLRQ's ACSE fields, IEC 62056-5-3 Annex A) ----------------------------

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


def fault(meter, where):
    """Apply the configured test fault at ``where`` ("aarq" or "enter")."""
    f = meter.o.fault
    if not f or not f.endswith("-after-" + where):
        return
    print("meter_sim: fault %s" % f, flush=True)
    if f.startswith("die"):
        os._exit(0)
    meter.state.silent = True
