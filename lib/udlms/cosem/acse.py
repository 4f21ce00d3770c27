"""ACSE association (AARQ/AARE, IEC 62056-5-3 §7, BER) and the xDLMS InitiateRequest /
InitiateResponse (Green Book §9.4). Reached through the same names in :mod:`udlms.cosem.apdu`;
kept apart because only the association needs it: a session forgets it afterwards on
MicroPython (``port.forget``), and RLRQ/RLRE live in :mod:`udlms.cosem.apdu`."""

from udlms.cosem import apdu as _apdu
from udlms.cosem.apdu import (AARE, AARQ, CONFIRMED_SERVICE_ERROR, DEFAULT_CONFORMANCE,
                        _bad, _ber_int, _dec_len, _envelope, _need, _tlv, apdu_name)
from udlms.errors import ApduError, ServiceError
from udlms.port import const

_INITIATE_RESPONSE = const(0x08)
# _FULL: 0 in the device build (tools/build/msgtable.py)
_FULL = const(1)

_OID_PREFIX = b"\x60\x85\x74\x05\x08"  # 2.16.756.5.8 (DLMS UA)


# -- xDLMS InitiateRequest / InitiateResponse (Green Book §9.4.x "xDLMS-Initiate") -------
def initiate_request(conformance=DEFAULT_CONFORMANCE, max_pdu=512, version=6,
                     dedicated_key=None):
    """xDLMS InitiateRequest: ``01 [01 10 key | 00] 00 00 06 5F1F04 00 cccccc pppp``
    (dedicated-key, response-allowed default, no proposed QoS, version, conformance,
    client-max-receive-pdu-size)."""
    out = bytearray(b"\x01")
    if dedicated_key:
        k = bytes(dedicated_key)
        out += b"\x01" + bytes((len(k),)) + k
    else:
        out += b"\x00"
    out += bytes((0, 0, version & 0xFF, 0x5F, 0x1F, 0x04, 0x00))
    out += (conformance & 0xFFFFFF).to_bytes(3, "big")
    out += (max_pdu & 0xFFFF).to_bytes(2, "big")
    return bytes(out)


def parse_initiate_response(buf):
    """InitiateResponse ``08 [00|01 qos] version 5F1F04 00 cccccc pppp vvvv`` ->
    dict(version, conformance, max_pdu, vaa). A confirmed-service-error (0E) raises
    ``ServiceError``."""
    if len(buf) and buf[0] == CONFIRMED_SERVICE_ERROR:
        from udlms.cosem import names

        r = _apdu.parse_response(buf)
        raise ServiceError("meter refused the %s service: %s" % (
            names.service_name(r.service), names.service_error_name(r.choice, r.result)),
            "confirmed-service-error", r.result)
    if not len(buf) or buf[0] != _INITIATE_RESPONSE:
        raise ApduError("expected an InitiateResponse (08), got %s"
                        % (apdu_name(buf[0]) if len(buf) else "nothing"), "unexpected")
    pos = 1
    _need(buf, pos, 1, "InitiateResponse")
    if buf[pos]:  # negotiated-quality-of-service present
        pos += 1
        _need(buf, pos, 1, "InitiateResponse")
    pos += 1
    _need(buf, pos, 12, "InitiateResponse")
    version = buf[pos]
    if buf[pos + 1] != 0x5F or buf[pos + 2] != 0x1F:
        raise _bad("InitiateResponse conformance block is not tagged 5F 1F")
    n = buf[pos + 3]
    pos += 4
    _need(buf, pos, n + 4, "InitiateResponse")
    conf = 0
    for i in range(1, n):  # first byte counts unused bits
        conf = (conf << 8) | buf[pos + i]
    pos += n
    max_pdu = (buf[pos] << 8) | buf[pos + 1]
    vaa = (buf[pos + 2] << 8) | buf[pos + 3]
    return {"version": version, "conformance": conf, "max_pdu": max_pdu, "vaa": vaa}


# -- ACSE: AARQ / AARE (IEC 62056-5-3 §7, Green Book §9.3) -----------------------------
def aarq(ciphered=True, mechanism=5, calling_title=None, auth_value=None, user_info=b""):
    """AARQ, LN referencing (context 2.16.756.5.8.1.1, or .1.3 with ciphering).

    ``mechanism`` 0 none, 1 LLS (``auth_value`` = password), 5 HLS-GMAC (``auth_value``
    = CtoS). ``user_info`` is the (glo-)InitiateRequest bytes, placed in BE 04.
    """
    body = bytearray(_tlv(0xA1, _tlv(0x06, _OID_PREFIX + bytes((1, 3 if ciphered else 1)))))
    if calling_title is not None:
        body += _tlv(0xA6, _tlv(0x04, calling_title))
    if mechanism:
        if auth_value is None:
            raise ApduError("authentication mechanism %d needs a value (password or "
                            "challenge)" % mechanism, "malformed")
        body += b"\x8A\x02\x07\x80"  # sender-acse-requirements: authentication
        body += _tlv(0x8B, _OID_PREFIX + bytes((2, mechanism)))
        body += _tlv(0xAC, _tlv(0x80, auth_value))
    if user_info:
        body += _tlv(0xBE, _tlv(0x04, user_info))
    return _tlv(AARQ, body)


class Aare:
    """A parsed AARE: ``result`` (0 accepted, 1 rejected-permanent, 2 rejected-transient),
    ``diagnostic`` ``(source, value)`` with source ``ACSE_USER`` (1) or ``ACSE_PROVIDER``
    (2) or None, ``mechanism`` (int or None), ``responding_title``, ``auth_value`` (StoC),
    ``user_info`` (bytes or None), ``context`` (last OID arc: 1 LN, 3 LN+ciphering) and
    ``context_ciphered``."""

    def __init__(self):
        self.result = None
        self.diagnostic = None
        self.mechanism = None
        self.responding_title = None
        self.auth_value = None
        self.user_info = None
        self.context = None
        self.context_ciphered = False

    if _FULL:  # for people at a PC (the device build leaves them out)
        @property
        def accepted(self):
            return self.result == 0

        def __repr__(self):
            return "Aare(result=%r, diagnostic=%r, mechanism=%r)" % (
                self.result, self.diagnostic, self.mechanism)


def _inner(v, what):
    """Content of a single inner TLV (e.g. ``04 len x`` inside ``A4 len``)."""
    _need(v, 0, 1, what)
    n, p = _dec_len(v, 1)
    _need(v, p, n, what)
    return v[p:p + n]


def parse_aare(buf):
    """Parse an AARE -> :class:`Aare`. Unknown optional fields are skipped; an AARE
    without user-information (rejections) and a mechanism-name ending 0x85 are
    accepted."""
    mv = memoryview(buf)
    pos, end = _envelope(mv, AARE, "AARE")
    a = Aare()
    while pos < end:
        tag = mv[pos]
        pos += 1
        if tag & 0x1F == 0x1F:  # high tag number form: skip its continuation bytes
            while pos < end and mv[pos] & 0x80:
                pos += 1
            pos += 1
        n, pos = _dec_len(mv, pos)
        if n > end - pos:
            raise _bad("AARE field %02X claims %d bytes, only %d remain" % (tag, n, end - pos))
        v = mv[pos:pos + n]
        pos += n
        if tag == 0xA1:  # application-context-name
            oid = _inner(v, "application-context-name")
            if len(oid):
                a.context = oid[-1]
                a.context_ciphered = a.context in (3, 4)
        elif tag == 0xA2:  # result
            a.result = _ber_int(_inner(v, "AARE result"))
        elif tag == 0xA3:  # result-source-diagnostic
            _need(v, 0, 1, "result-source-diagnostic")
            src = v[0] & 0x1F
            a.diagnostic = (src, _ber_int(_inner(_inner(v, "result-source-diagnostic"),
                                                 "result-source-diagnostic")))
        elif tag == 0xA4:  # responding-AP-title
            a.responding_title = bytes(_inner(v, "responding-AP-title"))
        elif tag == 0x89:  # mechanism-name (Ziv meters end it with 0x85)
            if len(v):
                a.mechanism = v[-1] & 0x7F
        elif tag == 0xAA:  # responding-authentication-value
            a.auth_value = bytes(_inner(v, "responding-authentication-value"))
        elif tag == 0xBE:  # user-information
            if len(v) and v[0] == 0x04:
                a.user_info = bytes(_inner(v, "user-information"))
            else:
                a.user_info = bytes(v)
    if a.result is None:
        raise _bad("AARE has no result field")
    return a
