"""One association over one link (IEC 62056-5-3 / Green Book §9.3 and §9.4).

``Session.open()`` runs connect (HDLC SNRM/UA) → associate (AARQ/AARE) → authenticate
(HLS pass 3/4, ACTION on the current Association LN object) and ``close()`` runs
release (RLRQ/RLRE) → disconnect (DISC/UA). Every error path tears the link down.
"""

from udlms import apdu, hdlc
from udlms.errors import (
    ApduError,
    AssociationError,
    ConfigError,
    SecurityError,
    ServiceError,
)
from udlms.port import const, forget

_MECH_LLS = const(1)
_MECH_GMAC = const(5)
_ASSOCIATION_LN = const(15)

ASSOCIATION_OBIS = b"\x00\x00\x28\x00\x00\xff"  # 0.0.40.0.0.255, the current association
_ENCODINGS = ("ascii", "bcd", "digits", "hex")  # token.ENCODINGS (a test keeps them equal)


def _obis(x):
    """6 OBIS bytes from bytes or "A.B.C.D.E.F" text; other spellings go to cosem.obis
    (imported only then, to keep a session's heap small)."""
    if isinstance(x, (bytes, bytearray)) and len(x) == 6:
        return bytes(x)
    try:
        parts = [int(p) for p in x.split(".")]
        if len(parts) == 6 and max(parts) < 256 and min(parts) >= 0:
            return bytes(parts)
    except (AttributeError, ValueError):
        pass
    from udlms import cosem

    return cosem.obis(x)


def _hex(v, n, name):
    if v is None or isinstance(v, (bytes, bytearray)):
        b = v
    else:
        s = str(v).replace(" ", "").replace(":", "")
        try:
            b = bytes.fromhex(s)
        except ValueError:
            raise ConfigError("%s is not hexadecimal" % name, "config")
    if b is not None and n and len(b) != n:
        raise ConfigError("%s must be %d bytes (%d hex digits), got %d bytes"
                          % (name, n, 2 * n, len(b)), "config")
    return b


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
    transport = "hdlc"

    def __init__(self, **kw):
        bad = [k for k in kw if k[:1] == "_" or not hasattr(Settings, k)
               or callable(getattr(Settings, k))]
        if bad:
            raise ConfigError("unknown setting(s): %s" % ", ".join(sorted(bad)), "config")
        for k in kw:
            setattr(self, k, kw[k])
        self.ek = _hex(self.ek, 16, "ek (encryption key)")
        self.ak = _hex(self.ak, 16, "ak (authentication key)")
        self.system_title = _hex(self.system_title, 8, "system_title")
        self.ctos = _hex(self.ctos, 0, "ctos")
        if isinstance(self.password, str):
            self.password = self.password.encode()
        if self.encoding not in _ENCODINGS and self.encoding != "auto":
            raise ConfigError("encoding must be one of %s or auto, got %r"
                              % ("/".join(_ENCODINGS), self.encoding), "config")
        if self.address_size not in (1, 2, 4):
            raise ConfigError("address_size must be 1, 2 or 4", "config")
        if self.transport not in ("hdlc", "wrapper"):
            raise ConfigError("transport must be hdlc or wrapper, got %r" % self.transport,
                              "config")


class Session:
    """An association with one meter. Use as a context manager or call open()/close()."""

    def __init__(self, stream, settings, counter=None, trace=None, link=None):
        self.settings = s = settings
        self.counter = counter
        if link is not None:  # an already built link (the probe hands over its own)
            self.link = link
        elif s.transport == "wrapper":  # IEC 62056-47 over TCP/UDP
            from udlms import wrapper

            self.link = wrapper.WrapperLink(stream, client_sap=s.client,
                                            server_logical=s.server_logical,
                                            timeout_ms=s.timeout_ms, trace=trace)
        else:
            self.link = hdlc.Link(
                stream, client_sap=s.client, server_logical=s.server_logical,
                server_physical=s.server_physical, address_size=s.address_size,
                max_info_tx=s.max_info_tx, max_info_rx=s.max_info_rx, window=s.window,
                timeout_ms=s.timeout_ms, inter_char_ms=s.inter_char_ms, retries=s.retries,
                trace=trace, max_apdu=s.max_pdu + 64)
        self.sec = None
        self.server_max_pdu = None
        self.conformance = None
        self.open_ = False
        self._associated = False
        self.token_sent = False  # set once a Token Gateway enter request has gone out

    # -- life cycle -----------------------------------------------------------------
    def __enter__(self):
        self.open()
        return self

    def __exit__(self, *exc):
        self.close()

    def open(self):
        """Connect, associate and (for HLS-GMAC) authenticate; tears down on failure."""
        try:
            self.link.connect()
            self._associate()
            self.open_ = True
        except BaseException:
            self.close()
            raise
        return self

    def close(self):
        """Release the association and disconnect. Never raises."""
        if self._associated:
            self._associated = False
            try:
                self._release()
            except Exception:  # noqa: BLE001 - teardown must not mask the real error
                pass
        self.open_ = False
        try:
            self.link.disconnect()
        except Exception:  # noqa: BLE001
            pass

    # -- association ------------------------------------------------------------------
    def _associate(self):
        s = self.settings
        init = apdu.initiate_request(conformance=s.conformance, max_pdu=s.max_pdu)
        auth_value = None
        title = None
        if s.mechanism == _MECH_GMAC:
            from udlms import security

            if s.ek is None or s.ak is None or s.system_title is None:
                raise ConfigError("HLS-GMAC needs ek, ak and system_title", "config")
            if self.counter is None:
                raise SecurityError("no invocation counter: resync from the meter's frame "
                                    "counter first", "counter-unavailable")
            self.sec = security.Security(s.ek, s.ak, s.system_title, self.counter,
                                         sc=s.security)
            auth_value = s.ctos or security.new_challenge(8)
            self._ctos = auth_value
            title = s.system_title
            user_info = self.sec.protect(init, 0x21)
        elif s.mechanism == _MECH_LLS:
            if not s.password:
                raise ConfigError("LLS needs a password", "config")
            auth_value = s.password
            user_info = init
        else:
            user_info = init
        req = apdu.aarq(ciphered=self.sec is not None, mechanism=s.mechanism,
                        calling_title=title, auth_value=auth_value, user_info=user_info)
        aare = apdu.parse_aare(self.link.request(req))
        if aare.result != 0:
            from udlms import results

            raise AssociationError(results.aare_reason(aare, self.sec is not None),
                                   "association-rejected",
                                   aare.diagnostic[1] if aare.diagnostic else None)
        self._associated = True
        info = aare.user_info
        if info is None:
            raise ApduError("AARE carries no InitiateResponse", "malformed")
        if self.sec is not None:
            if aare.responding_title is None:
                raise SecurityError("AARE has no responding-AP-title: cannot decipher the "
                                    "meter's responses", "system-title")
            self.sec.server_title = bytes(aare.responding_title)
            info = self.sec.unprotect(info)
        ir = apdu.parse_initiate_response(info)
        stoc = aare.auth_value
        aare = None  # the last object of acse's: on MicroPython its code now leaves the heap
        forget("udlms.acse")
        self.server_max_pdu = ir["max_pdu"]
        self.conformance = ir["conformance"]
        if s.mechanism == _MECH_GMAC:
            if stoc is None:
                raise AssociationError("meter sent no challenge (StoC) for HLS-GMAC",
                                       "auth-failed")
            self._hls(bytes(stoc))

    def _hls(self, stoc):
        """HLS pass 3/4 (Green Book §9.2.7.4): send f(StoC), check the meter's f(CtoS).
        Both travel as A-XDR octet-strings of 17 bytes (09 11 ...), coded here so that
        axdr is not loaded during the association."""
        proof = self.sec.f_stoc(stoc)
        try:
            data = self.action(_ASSOCIATION_LN, ASSOCIATION_OBIS, 1,
                               bytes((9, len(proof))) + proof)
        except ServiceError as e:
            raise AssociationError("meter rejected our HLS proof f(StoC) (%s): check the "
                                   "keys and system title" % e.message, "auth-failed", e.code)
        if data is None:
            raise AssociationError("meter returned no f(CtoS): cannot verify it is the "
                                   "right meter", "auth-failed")
        if len(data) < 2 or data[0] != 9 or data[1] > 127 or len(data) != 2 + data[1]:
            raise AssociationError("meter's f(CtoS) is not an octet-string", "auth-failed")
        self.sec.verify_ctos(self._ctos, data[2:])

    def _release(self):
        req = apdu.rlrq()
        resp = self.link.request(req)
        apdu.parse_rlre(resp)

    # -- services -----------------------------------------------------------------------
    def _exchange(self, req):
        s = self.settings
        if self.sec is not None:
            req = self.sec.protect(req)
        resp = self.link.request(req)
        if self.sec is not None and len(resp) and resp[0] not in (0xD8, 0x0E):
            resp = self.sec.unprotect(resp)
        r = apdu.parse_response(resp)
        if r.kind in ("exception", "confirmed-service-error"):
            raise ServiceError(r.text, r.kind, r.result)
        if (r.invoke & 0x0F) != (s.invoke & 0x0F):
            raise ApduError("response invoke-id %d does not match request %d"
                            % (r.invoke & 0x0F, s.invoke & 0x0F), "invoke-id")
        return r

    def get(self, class_id, obis, attr):
        """GET-request-normal, following data blocks; returns A-XDR bytes of the value."""
        s = self.settings
        o = _obis(obis)
        r = self._exchange(apdu.get_request(s.invoke, class_id, o, attr))
        if r.block is None:
            self._check(r, "get")
            return bytes(r.data)
        buf = bytearray()
        while True:
            self._check(r, "get")
            number, last = r.block
            buf += r.data
            if last:
                return bytes(buf)
            if len(buf) > 8 * (self.server_max_pdu or 1024):
                raise ApduError("block transfer larger than expected", "too-long")
            r = self._exchange(apdu.get_request_next(s.invoke, number))
            if r.block is None or r.block[0] != number + 1:
                raise ApduError("block number out of sequence", "unexpected")

    def set(self, class_id, obis, attr, data):
        r = self._exchange(apdu.set_request(self.settings.invoke, class_id, _obis(obis),
                                            attr, data))
        self._check(r, "set")

    def action(self, class_id, obis, method, data=None):
        """ACTION-request-normal; returns the return-parameters' A-XDR bytes or None."""
        r = self._exchange(apdu.action_request(self.settings.invoke, class_id,
                                               _obis(obis), method, data))
        self._check(r, "action")
        return bytes(r.data) if r.data is not None else None

    @staticmethod
    def _check(r, what):
        if r.result:
            from udlms import results

            if what == "action":
                name, msg, hint = results.action_result(r.result)
            else:
                name, msg, hint = results.data_access_result(r.result)
            raise ServiceError("meter says %s (%d): %s" % (name, r.result, hint or msg),
                               "action-result" if what == "action" else "data-access-result",
                               r.result)


_MOVED = {"enter_token": "token", "read_token_status": "token", "TokenResult": "token",
          "read_frame_counter": "resync"}


def __getattr__(name):
    """``session.enter_token``, ``read_token_status`` and ``TokenResult`` live in
    :mod:`udlms.token` (the Token Gateway client), ``read_frame_counter`` in
    :mod:`udlms.resync`: loaded when used, not held while a session associates."""
    mod = _MOVED.get(name)
    if mod is None:
        raise AttributeError(name)
    return getattr(__import__("udlms." + mod, None, None, (name,)), name)
