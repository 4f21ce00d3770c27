"""One association over one link (IEC 62056-5-3 / Green Book §9.3 and §9.4).

``Session.open()`` runs connect (HDLC SNRM/UA) → associate (AARQ/AARE) → authenticate
(HLS pass 3/4, ACTION on the current Association LN object), the last two in
:mod:`udlms.client.associate`, loaded for that phase only; ``close()`` runs release
(RLRQ/RLRE) → disconnect (DISC/UA). Every error path tears the link down. The Token
Gateway client is :mod:`udlms.client.token`, the frame-counter read
:mod:`udlms.client.resync`.
"""

from udlms.cosem import apdu
from udlms.link import hdlc
from udlms.errors import (
    ApduError,
    ConfigError,
    ServiceError,
)
from udlms.port import const, forget

# _FULL: 0 in the device build (tools/build/msgtable.py): what a board never calls is left out
_FULL = const(1)
_MECH_GMAC = const(5)  # HLS-GMAC, the default mechanism (associate.py has the others)
_ENCODINGS = ("ascii", "bcd", "digits", "hex")  # token.ENCODINGS (a test keeps them equal)


def _obis(x):
    """6 OBIS bytes from bytes or "A.B.C.D.E.F" text; other spellings go to obis.obis
    (imported only then, to keep a session's heap small)."""
    if isinstance(x, (bytes, bytearray)) and len(x) == 6:
        return bytes(x)
    try:
        parts = [int(p) for p in x.split(".")]
        if len(parts) == 6 and max(parts) < 256 and min(parts) >= 0:
            return bytes(parts)
    except (AttributeError, ValueError):
        pass
    from udlms.cosem import obis

    return obis.obis(x)


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
        for k, n, what in (("ek", 16, "ek (encryption key)"),
                           ("ak", 16, "ak (authentication key)"),
                           ("system_title", 8, "system_title"), ("ctos", 0, "ctos")):
            v = getattr(self, k)  # bytes, or hexadecimal text (spaces and colons ignored)
            if v is not None and not isinstance(v, (bytes, bytearray)):
                try:
                    v = bytes.fromhex(str(v).replace(" ", "").replace(":", ""))
                except ValueError:
                    raise ConfigError("%s is not hexadecimal" % what, "config")
            if v is not None and n and len(v) != n:
                raise ConfigError("%s must be %d bytes (%d hex digits), got %d bytes"
                                  % (what, n, 2 * n, len(v)), "config")
            setattr(self, k, v)
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
            from udlms.link import wrapper

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
        self._associated = False  # set by associate.associate once the AARE accepts
        self.token_sent = False  # set once a Token Gateway enter request has gone out
        self._init = None  # the plain InitiateRequest of a ciphered AARQ (for the RLRQ)
        self.release_note = None  # why the meter refused the release (DISC followed)

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
            from udlms.client import associate  # this phase only (forgotten below)

            associate.associate(self)
            self.open_ = True
        except BaseException:
            self.close()
            raise
        finally:
            associate = None
            forget("udlms.client.associate")
        return self

    def close(self):
        """Release the association and disconnect. Never raises."""
        if self._associated:
            self._associated = False
            try:
                self._release()
            except Exception as e:  # noqa: BLE001 - teardown must not mask the real error
                self.release_note = "the release failed (%s); the link was disconnected" % (
                    getattr(e, "message", None) or e,)
        self.open_ = False
        try:
            self.link.disconnect()
        except Exception:  # noqa: BLE001
            pass

    def _release(self):
        """RLRQ/RLRE (Green Book §9.3.3). After a ciphered AARQ the RLRQ carries the
        ciphered xDLMS InitiateRequest as user-information, with a fresh invocation
        counter (a secured release: meters refuse a plain RLRQ there). A refused release
        is only noted (``release_note``): the DISC that follows ends the association."""
        init = self._init
        resp = self.link.request(apdu.rlrq(self.sec.protect(init, 0x21) if init is not None
                                           and self.sec is not None else None))
        try:
            if len(resp) and resp[0] == apdu.RLRE and not apdu.parse_rlre(resp):
                return
        except ApduError:  # a malformed RLRE: said in the note
            pass
        from udlms import results

        self.release_note = results.release_refused(resp)

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
            from udlms import results

            raise ServiceError(results.response_text(r), r.kind, r.result)
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

    if _FULL:  # a token session never writes an attribute: not in the device build
        def set(self, class_id, obis, attr, data):
            """SET-request-normal with A-XDR ``data``."""
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
