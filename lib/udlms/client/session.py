"""One association over one link (IEC 62056-5-3 / Green Book §9.3 and §9.4).

``Session.open()`` runs connect (HDLC SNRM/UA) → associate (AARQ/AARE, §9.3.2) →
authenticate (HLS pass 3/4, ACTION on the current Association LN object, §9.2.7.4);
``close()`` runs release (RLRQ/RLRE) → disconnect (DISC/UA). Every error path tears the
link down. The Token Gateway client is :mod:`udlms.client.token`, the frame-counter read
:mod:`udlms.client.resync`. What the meter refuses is raised in words by
:mod:`udlms.client.refused` and a value in data blocks is followed by
:mod:`udlms.client.blocks`: each imported only then (issue 26).
"""

from udlms.cosem import apdu
from udlms.link import hdlc
from udlms.errors import ServiceError
from udlms.port import const

# _FULL: 0 in the device build (tools/build/msgtable.py): what a board never calls is left out
_FULL = const(1)
if _FULL:  # the settings' checks (a board's config is checked by tokenpad.settings_check)
    from udlms.errors import ApduError, ConfigError
_MECH_LLS = const(1)
_MECH_GMAC = const(5)  # HLS-GMAC, the default mechanism
if _FULL:
    _ENCODINGS = ("ascii", "bcd", "digits", "hex")  # token.ENCODINGS (a test keeps them equal)
    _KEYS = {"ek": (16, "ek (encryption key)"), "ak": (16, "ak (authentication key)"),
             "system_title": (8, "system_title"), "ctos": (0, "ctos")}  # bytes, name


def _obis(data):
    """6 OBIS bytes from bytes or "A.B.C.D.E.F" text; other spellings go to obis.obis
    (imported only then, to keep a session's heap small)."""
    if isinstance(data, (bytes, bytearray)) and len(data) == 6:
        return bytes(data)  # (the same object when it is bytes already)
    try:
        b = bytearray()
        for p in data.split("."):
            p = int(p)
            if p >> 8:  # below 0 or above 255
                raise ValueError
            b.append(p)
        if len(b) == 6:
            return bytes(b)
    except (AttributeError, ValueError):
        pass
    from udlms.cosem import obis

    return obis.obis(data)


class Settings:
    """Connection and association settings; defaults follow the gurux-dlms client.

    The defaults are class attributes: an instance holds only what was given."""

    client = 1
    server_logical = 1
    server_physical = 17
    address_size = 2
    mechanism = _MECH_GMAC
    ek = None
    ak = None
    password = None
    system_title = None
    security = 0x30
    conformance = 0x001E1D
    max_pdu = 512
    invoke = 0xC1
    max_info_tx = 128
    max_info_rx = 128
    window = 1
    timeout_ms = 3000
    inter_char_ms = 500
    retries = 3
    encoding = "ascii"
    ctos = None
    gateway = "0.0.19.40.0.255"
    frame_counter = "0.0.43.1.1.255"
    status_polls = 5
    status_poll_ms = 300
    transport = "hdlc"  # (a board's is: its config has none; resync copies it)

    def __init__(self, **kw):
        if _FULL:  # a board's settings come checked from its config (tokenpad.settings_check)
            bad = [k for k in kw if k[:1] == "_" or not hasattr(Settings, k)
                   or callable(getattr(Settings, k))]
            if bad:
                raise ConfigError("unknown setting(s): %s" % ", ".join(sorted(bad)), "config")
        for k in kw:
            setattr(self, k, kw[k])
        for k in ("ek", "ak", "system_title", "ctos"):
            v = getattr(self, k)  # bytes, or hexadecimal text (spaces and colons ignored)
            if v is None:  # the class's default (None)
                continue
            if not isinstance(v, (bytes, bytearray)):
                v = str(v).replace(" ", "").replace(":", "")
                if _FULL:  # (a board's config checks the digits: tokenpad.settings_check)
                    try:
                        bytes.fromhex(v)
                    except ValueError:
                        raise ConfigError("%s is not hexadecimal" % _KEYS[k][1], "config")
                v = bytes.fromhex(v)
                setattr(self, k, v)
            if _FULL and k != "ctos" and len(v) != _KEYS[k][0]:
                raise ConfigError("%s must be %d bytes (%d hex digits), got %d bytes"
                                  % (_KEYS[k][1], _KEYS[k][0], 2 * _KEYS[k][0], len(v)),
                                  "config")
        if isinstance(self.password, str):
            self.password = self.password.encode()
        if _FULL:  # (the board's config checks these: tokenpad.settings_check)
            if self.encoding not in _ENCODINGS and self.encoding != "auto":
                raise ConfigError("encoding must be one of %s or auto, got %r"
                                  % ("/".join(_ENCODINGS), self.encoding), "config")
            if self.address_size not in (1, 2, 4):
                raise ConfigError("address_size must be 1, 2 or 4", "config")
            if self.transport not in ("hdlc", "wrapper"):
                raise ConfigError("transport must be hdlc or wrapper, got %r"
                                  % self.transport, "config")


class Session:
    """An association with one meter: open()/close() (a context manager too, PC build).

    ``sec`` (the security context, HLS-GMAC), ``max_pdu`` and ``conformance`` (the
    InitiateResponse's: the meter's, not ``settings.max_pdu``; ``conformance`` in the PC
    build only) are set by :meth:`open`; ``token_sent`` (PC build) once a Token Gateway
    enter request has gone out; ``release_note`` (PC build) says why the meter refused the
    release."""

    sec = max_pdu = None
    if _FULL:
        conformance = release_note = None
        token_sent = False
    # None: nothing to release; b"": a plain RLRQ; else the plain InitiateRequest of a
    # ciphered AARQ, which the RLRQ carries ciphered again (Green Book §9.3.3)
    _init = None

    def __init__(self, stream, settings, counter=None, trace=None, link=None):
        self.settings = s = settings
        self.counter = counter
        if link is not None:  # an already built link (the probe hands over its own)
            self.link = link
        elif _FULL and s.transport == "wrapper":  # IEC 62056-47 over TCP/UDP (a PC's)
            from udlms.link import wrapper

            # positional (client_sap, server_logical, timeout_ms, trace), as for hdlc.Link
            self.link = wrapper.WrapperLink(stream, s.client, s.server_logical, s.timeout_ms,
                                            trace)
        else:
            # positional, in hdlc.Link's order: keywords would be names in this .mpy
            self.link = hdlc.Link(stream, s.client, s.server_logical, s.server_physical,
                                  s.address_size, s.max_info_tx, s.max_info_rx, s.window,
                                  s.timeout_ms, s.inter_char_ms, s.retries, trace,
                                  s.max_pdu + 64)

    # -- life cycle -----------------------------------------------------------------
    if _FULL:  # ``with Session(...)`` at a PC; the device's callers use open()/close()
        def __enter__(self):
            return self.open()

        def __exit__(self, *exc):
            self.close()

    def open(self):
        """Connect, associate and (for HLS-GMAC) authenticate; tears down on failure.

        AARQ/AARE (Green Book §9.3.2) with the xDLMS InitiateRequest, ciphered for
        HLS-GMAC; then HLS pass 3/4 (§9.2.7.4): send f(StoC), check the meter's f(CtoS)."""
        try:
            self.link.connect()
            s = self.settings
            init = info = apdu.initiate_request(s.conformance, s.max_pdu)
            sec = auth = title = None
            if s.mechanism == _MECH_GMAC:
                from udlms.crypto import security

                # (a board's config requires them: tokenpad.settings_check)
                if _FULL and (s.ek is None or s.ak is None or s.system_title is None):
                    raise ConfigError("HLS-GMAC needs ek, ak and system_title", "config")
                if self.counter is None:  # (said by refused)
                    from udlms.client import refused

                    refused.hls(False)
                self.sec = sec = security.Security(s.ek, s.ak, s.system_title, self.counter,
                                                   s.security)
                auth = s.ctos or security.new_challenge(8)
                title = s.system_title
                info = sec.protect(init, 0x21)
            elif s.mechanism == _MECH_LLS:
                if _FULL and not s.password:  # (as for HLS-GMAC's keys)
                    raise ConfigError("LLS needs a password", "config")
                auth = s.password
            # ciphered (HLS-GMAC) when sec is set: a Security object is true
            resp = self.link.request(apdu.aarq(sec, s.mechanism, title, auth, info))
            if len(resp) and resp[0] == 0xD8:  # an exception-response, before any AARE
                from udlms.client import refused

                refused.aarq(resp, sec)
            a = apdu.parse_aare(resp)
            info = a.user_info
            # rejected, or (associated: released at close) no InitiateResponse, or no title
            # to decipher the meter's responses with: said by refused
            if a.result != 0 or info is None or sec and a.responding_title is None:
                from udlms.client import refused

                refused.aare(self, a, sec)
            self._init = b""  # associated
            if sec:
                sec.server_title = a.responding_title
                info = sec.unprotect(info)
            if len(info) and info[0] == 0x0E:  # confirmed-service-error: InitiateRequest refused
                from udlms.client import refused

                refused.request(info, 0, None)
            r = apdu.parse_initiate_response(info)
            self.max_pdu = r["max_pdu"]
            if _FULL:  # (read by PC tools only)
                self.conformance = r["conformance"]
            if sec:  # HLS-GMAC: pass 3/4, f(StoC) by ACTION
                self._init = init  # (released ciphered from now on)
                # reply_to_HLS_authentication on the current Association LN (IC 15,
                # 0.0.40.0.0.255, method 1), then the meter's f(CtoS) checked. Both travel
                # as A-XDR octet-strings of 17 bytes (09 11 ...), coded here so that axdr is
                # not loaded during the association.
                r = a.auth_value
                if r is not None:
                    r = sec.f_stoc(r)
                    try:  # pass 4 refused (not a token problem): why, in words
                        r = self.request(apdu.get_request(  # action-request-normal
                            s.invoke, 15, b"\x00\x00\x28\x00\x00\xff", 1,
                            bytes((9, len(r))) + r, b"\xC3\x01"))
                    except ServiceError as x:  # e.g. an exception-response
                        r = x
                    if not isinstance(r, ServiceError) and not r.result:
                        r = r.data  # f(CtoS), an octet-string
                        if r is None:
                            r = 0
                        elif len(r) > 1 and r[0] == 9 and r[1] < 128 and len(r) == 2 + r[1]:
                            r = sec.verify_ctos(auth, r[2:])
                # None: no StoC; else pass 4 refused, 0: no f(CtoS), bytes: not an octet-string
                if r is not True:
                    from udlms.client import refused

                    refused.hls(r)
        except BaseException:
            self.close()
            raise
        return self

    def close(self):
        """Release the association and disconnect. Never raises.

        RLRQ/RLRE (Green Book §9.3.3): after a ciphered AARQ the RLRQ carries the ciphered
        xDLMS InitiateRequest as user-information, with a fresh invocation counter (a
        secured release: meters refuse a plain RLRQ there). A refused release is only
        noted (``release_note``, PC build): the DISC that follows ends the association."""
        r = self._init
        if r is not None:
            self._init = None
            try:
                # (a non-empty _init is set only once ``sec`` is: open())
                r = self.link.request(apdu.rlrq(self.sec.protect(r, 0x21) if r else None))
                if _FULL:
                    try:  # RLRE, reason normal: nothing to note
                        e = len(r) and r[0] == 0x63 and not apdu.parse_rlre(r)
                    except ApduError:  # a malformed RLRE: said in the note
                        e = False
                    if not e:
                        from udlms import results

                        self.release_note = results.release_refused(r)
            except Exception as e:  # noqa: BLE001 - teardown must not mask the real error
                if _FULL:  # the note is for PC tools (a board does not show it)
                    self.release_note = ("the release failed (%s); the link was disconnected"
                                         % (getattr(e, "message", None) or e,))
        try:
            self.link.disconnect()
        except Exception:  # noqa: BLE001
            pass

    # -- services -----------------------------------------------------------------------
    def request(self, data, kind=None):
        """One request ``data`` -> the parsed response (Green Book §9.4); errors the meter
        sends raise ServiceError, and with ``kind`` ("get", "set", "action") so does a
        result other than success."""
        sec = self.sec
        if sec is not None:
            data = sec.protect(data)
        r = self.link.request(data)
        if sec is not None and len(r) and r[0] not in (0xD8, 0x0E):
            r = sec.unprotect(r)
        r = apdu.parse_response(r)
        data = self.settings.invoke
        # an exception-response or a confirmed-service-error (no invoke-id), another
        # request's invoke-id, a result other than success: said in words by refused
        if r.invoke is None or (r.invoke ^ data) & 0x0F or kind and r.result:
            from udlms.client import refused

            refused.request(r, data, kind)
        return r

    def get(self, class_id, obis, attr):
        """GET-request-normal, following data blocks; returns A-XDR bytes of the value."""
        r = self.request(apdu.get_request(self.settings.invoke, class_id, _obis(obis), attr),
                           "get")
        if r.block is None:
            return bytes(r.data)
        from udlms.client import blocks  # (a value in data blocks: get-request-next)

        return blocks.follow(self, r)

    if _FULL:  # a token session never writes an attribute nor calls ACTION by name
        def set(self, class_id, obis, attr, data):
            """SET-request-normal with A-XDR ``data``."""
            self.request(apdu.set_request(self.settings.invoke, class_id, _obis(obis),
                                            attr, data), "set")

        # a board's token path acts through request() (the Token Gateway's enter, HLS pass 3)
        def action(self, class_id, obis, method, data=None):
            """ACTION-request-normal; returns the return-parameters' A-XDR bytes or None."""
            r = self.request(apdu.action_request(self.settings.invoke, class_id,
                                                 _obis(obis), method, data), "action")
            return bytes(r.data) if r.data is not None else None
