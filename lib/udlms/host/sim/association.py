"""One association with the simulated meter (udlms.host.sim): AARQ/AARE, HLS-GMAC
pass 3/4, GET/SET/ACTION on its objects, the Token Gateway (IC 115), glo- and
general-glo-ciphering with pyca cryptography (an implementation independent of udlms's)."""

import os

from udlms.host.sim.data import obis_bytes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from udlms.cosem import axdr
from udlms.host.sim import gateway
from udlms.host.sim.data import (ASSOCIATION, CLOCK, CONTEXT_LN, CONTEXT_LN_CIPHERED,
                                 DISCONNECT, FRAME_COUNTER, GATEWAY, GENERAL_GLO,
                                 GENERAL_PROTECTION, GLO, GLO_RESP, LDN, MECH_PREFIX,
                                 PUBLIC_READABLE, SERVER_CONFORMANCE, _ber_fields, _ber_len,
                                 _len, array, bitstring, boolean, datetime_now, enum, octets,
                                 structure, u32)
from udlms.host.sim.data import fault  # noqa: F401 - offered here as before


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
        self.release_refused = False

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
            except ValueError as e:
                if o.refuse_aarq_with == "exception":
                    return self.refuse_aarq(str(e))
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

    def refuse_aarq(self, why):
        """Refuse a ciphered AARQ with an exception-response, as some meters do: state-error
        service-not-allowed (1), service-error invocation-counter-error [6] with the
        counter it expects, or deciphering-error [5]."""
        if why == "ic":
            last = self.meter.state.last_client_ic.get(self.client, 0)
            return b"\xD8\x01\x06" + (last + 1).to_bytes(4, "big")
        return b"\xD8\x01\x05"

    def check_rlrq(self, info):
        """Why a ciphered association's RLRQ may not release it (None: it may). Its
        user-information must be a glo-initiateRequest (21) with a fresh invocation
        counter that deciphers to an InitiateRequest (01) (Green Book §9.3.3)."""
        o = self.meter.o
        if info is None:
            return "plain RLRQ in a ciphered association" if o.release_needs_ciphered_rlrq \
                else None
        if len(info) < 2 or info[0] != 0x04:
            return "user-information is not an octet-string"
        n, pos = _ber_len(info, 1)
        ui = info[pos:pos + n]
        if not ui or ui[0] != 0x21:
            return "user-information is not a glo-initiateRequest"
        try:
            plain = self.decipher(ui)
        except ValueError as e:
            return "user-information refused (%s)" % e
        if not plain or plain[0] != 0x01:
            return "user-information is not an InitiateRequest"
        return None

    def release(self, req):
        f = _ber_fields(req)
        info = f.get(0xBE)
        st = self.meter.state
        if self.meter.o.refuse_release:
            self.release_refused = True
            st.releases.append("refused: not-finished")
            return b"\x63\x03\x80\x01\x01"
        if self.ciphered:
            why = self.check_rlrq(info)
            if why is not None:
                self.release_refused = True
                st.releases.append("refused: " + why)
                return b"\xD8\x01\x01"  # service-not-allowed / operation-not-possible
            st.releases.append("plain" if info is None else "ciphered ic %d" % self.last_ic)
        else:
            st.releases.append("plain")
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
                if self.meter.o.trailing_bytes:  # meters differ (issue 24, case 5)
                    res = res + bytes((0xA0 + i) & 0xFF for i in range(
                        self.meter.o.trailing_bytes))
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
            if cid == 1 and obis == self.frame_counter_obis():
                return True
            return (cid, obis) in PUBLIC_READABLE and obis != FRAME_COUNTER
        return self.authenticated

    def frame_counter_obis(self):
        return obis_bytes(self.meter.o.frame_counter_at)

    def get(self, cid, obis, attr):
        st = self.meter.state
        if not self.allowed(cid, obis):
            return 3  # read-write-denied
        if attr == 1:
            return octets(obis)
        if cid == 1 and obis == self.frame_counter_obis() and attr == 2:
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
        if self.meter.o.refuse_hls_reply:  # e.g. a meter that expects another counter
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
        """Token Gateway method 1 ``enter(octet-string)`` (:mod:`udlms.host.sim.gateway`)."""
        return gateway.enter(self, data)


def o_max(assoc):
    return assoc.meter.o.max_pdu
