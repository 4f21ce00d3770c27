"""xDLMS and ACSE APDUs for LN referencing (IEC 62056-5-3 §7-8 / Green Book §9.3-9.4):
AARQ/AARE and RLRQ/RLRE (BER), the xDLMS InitiateRequest/InitiateResponse, GET/SET/ACTION
requests and their responses.

Builders return ``bytes`` or a ``bytearray`` (built in place, not copied); parsers take
bytes/bytearray/memoryview, check every length against the buffer and raise ``ApduError``
kind "malformed" on truncation or "unexpected" on an APDU of the wrong kind. Ciphering is
done elsewhere (:mod:`udlms.crypto.security`); this module only places the bytes. The
answers that refuse (exception-response, confirmed-service-error) and the errors for an APDU
of the wrong kind are :mod:`udlms.cosem.apdu_more`'s, imported only then.
"""

from udlms.errors import ApduError
from udlms.port import const

# _FULL: 0 in the device build (tools/build/msgtable.py), which leaves out what a board
# never calls and the names nothing on a board reads (each would be a heap qstr)
_FULL = const(1)
# xDLMS tags (IEC 62056-5-3 §8) and ACSE tags, folded in by the compiler
_AARQ = const(0x60)
_AARE = const(0x61)
_RLRE = const(0x63)
_INITIATE_RESPONSE = const(0x08)
_CONFIRMED_SERVICE_ERROR = const(0x0E)
_GET_RESPONSE = const(0xC4)
_SET_RESPONSE = const(0xC5)
_ACTION_RESPONSE = const(0xC7)
_EXCEPTION_RESPONSE = const(0xD8)
# the fields named in error messages: a number from 256 (below: an APDU tag), their names
# in _FIELDS (read only when an error names one; the device build keeps the table in
# udlms/messages.txt, tools/build/msgtable.py TABLES)
_F_LENGTH = const(256)
_F_RESULT = const(257)
_F_DIAGNOSTIC = const(258)
_F_TITLE = const(259)
_F_AUTH = const(260)
_F_USER = const(261)
_F_CONTEXT = const(262)
_F_INITIATE = const(263)
_F_BLOCK = const(264)
_F_APDU = const(265)
_FIELDS = ("length field|AARE result|result-source-diagnostic|responding-AP-title|"
           "responding-authentication-value|user-information|application-context-name|"
           "InitiateResponse|block number|APDU")
if _FULL:  # the tag names the host's tools and tests read
    AARQ, AARE, RLRQ, RLRE = _AARQ, _AARE, 0x62, _RLRE
    CONFIRMED_SERVICE_ERROR, EXCEPTION_RESPONSE = _CONFIRMED_SERVICE_ERROR, _EXCEPTION_RESPONSE
    INITIATE_REQUEST, INITIATE_RESPONSE = 0x01, _INITIATE_RESPONSE
    GET_REQUEST, SET_REQUEST, ACTION_REQUEST = 0xC0, 0xC1, 0xC3
    GET_RESPONSE, SET_RESPONSE, ACTION_RESPONSE = _GET_RESPONSE, _SET_RESPONSE, _ACTION_RESPONSE
    ACSE_USER, ACSE_PROVIDER = 1, 2  # AARE result-source-diagnostic sources (BER choice)
    DEFAULT_CONFORMANCE = 0x001E1D

    def is_ciphered(tag):
        """True for glo-/ded-/general-ciphering tags."""
        return 0xC8 <= tag <= 0xD7 or 0xDB <= tag <= 0xDD or 0x21 <= tag <= 0x5F


def apdu_name(w):
    """Name of an APDU tag byte, e.g. 0xCB -> "glo-action-request", or (from 256) of a
    _F_ field, for an error message (the names live in :mod:`udlms.cosem.names` and
    messages.txt, loaded only when a name is wanted)."""
    from udlms.cosem import names

    return names.apdu_name(w) if w < 256 else names._text(_FIELDS).split("|")[w - 256]


def _need(b, p, n, w):
    """ApduError "malformed" unless n bytes remain at p; ``w`` names the field (an APDU
    tag or a _F_ number is named only when the error is raised)."""
    if n > len(b) - p:
        raise ApduError("%s is cut short: needs %d bytes at byte %d, %d remain"
                        % (apdu_name(w) if isinstance(w, int) else w, n, p, len(b) - p),
                        "malformed")


def _len(b, p):
    """BER/A-XDR length at p -> (n, newpos); raises ApduError when it is cut short."""
    _need(b, p, 1, _F_LENGTH)
    n = b[p]
    if n < 0x80:
        return n, p + 1
    k = n & 0x7F
    if k == 0 or k > 4:
        raise ApduError("length field 0x%02X at byte %d is not valid" % (n, p), "malformed")
    _need(b, p + 1, k, _F_LENGTH)
    return int.from_bytes(b[p + 1:p + 1 + k], "big"), p + 1 + k


def _put(b, data, tag, w=0):
    """Append to ``b`` the BER TLV ``tag`` of ``data``, or (``w``) ``tag`` around the
    TLV ``w`` of ``data``; with ``data`` None, fill in the length of the envelope
    ``b[0]`` (a zero at b[1] held its place). Lengths: short form < 0x80, else 0x8k and k
    bytes. Written in place: no temporaries (the WebAssembly port frees nothing in a run)."""
    n = len(b) - 2 if data is None else len(data)
    # k length bytes after 0x8k: 0 (short form), 1, 2 or 4 (bools add up as 0 or 1)
    m = n + (n > 0x7F) + (n > 0xFF) + (n > 0xFFFF) * 2 + 2 if w else n
    for t in (tag, w) if w else (tag,):
        k = (m > 0x7F) + (m > 0xFF) + (m > 0xFFFF) * 2
        if data is None:  # the envelope's length, in place of its placeholder
            b[1:2] = m.to_bytes(k + 1, "big")  # (its first byte: 0x8k, below)
            i = 1
        else:
            b.append(t)
            i = len(b)
            b += m.to_bytes(k + 1, "big")
        if k:
            b[i] = 0x80 | k
        if data is None:
            return b
        m = n
    b += data


def _in(b, w):
    """The value of the BER TLV ``b`` (``w`` names it), a memoryview."""
    _need(b, 0, 1, w)
    n, p = _len(b, 1)
    _need(b, p, n, w)
    return b[p:p + n]


# -- ACSE: AARQ / AARE (IEC 62056-5-3 §7, Green Book §9.3) -----------------------------
def initiate_request(conformance=0x001E1D, max_pdu=512, version=6, dedicated_key=None):
    """xDLMS InitiateRequest (Green Book §9.4 "xDLMS-Initiate"):
    ``01 [01 10 key | 00] 00 00 06 5F1F04 00 cccccc pppp`` (dedicated-key, response-allowed
    default, no proposed QoS, version, conformance, client-max-receive-pdu-size)."""
    b = bytearray(b"\x01\x00\x00\x00\x06\x5F\x1F\x04\x00\x00\x00\x00\x00\x00")
    b[4] = version & 0xFF
    b[9:14] = ((conformance & 0xFFFFFF) << 16 | max_pdu & 0xFFFF).to_bytes(5, "big")
    if _FULL and dedicated_key:  # (a board never proposes one)
        b[1:2] = b"\x01" + bytes((len(dedicated_key),)) + bytes(dedicated_key)
    return bytes(b)


def aarq(ciphered=True, mechanism=5, calling_title=None, auth_value=None, user_info=b""):
    """AARQ, LN referencing (context 2.16.756.5.8.1.1, or .1.3 with ciphering).

    ``mechanism`` 0 none, 1 LLS (``auth_value`` = password), 5 HLS-GMAC (``auth_value``
    = CtoS). ``user_info`` is the (glo-)InitiateRequest bytes, placed in BE 04.
    """
    # AARQ (its length filled in at the end), application-context-name 2.16.756.5.8.1.x
    b = bytearray(b"\x60\x00\xA1\x09\x06\x07\x60\x85\x74\x05\x08\x01\x01")
    if ciphered:
        b[-1] = 3
    if calling_title is not None:
        _put(b, calling_title, 0xA6, 0x04)
    if mechanism:
        if _FULL and auth_value is None:  # (a board's config gives one: settings_check)
            raise ApduError("authentication mechanism %d needs a value (password or "
                            "challenge)" % mechanism, "malformed")
        # sender-acse-requirements: authentication; mechanism-name 2.16.756.5.8.2.m
        b += b"\x8A\x02\x07\x80\x8B\x07\x60\x85\x74\x05\x08\x02"
        b.append(mechanism)
        _put(b, auth_value, 0xAC, 0x80)
    if user_info:
        _put(b, user_info, 0xBE, 0x04)
    return _put(b, None, 0)


def parse_aare(b, tag=_AARE):
    """Parse an AARE -> :class:`Response` with ``result`` (0 accepted, 1
    rejected-permanent, 2 rejected-transient), ``diagnostic`` ``(source, value)`` (source
    1 acse-service-user, 2 acse-service-provider) or None, ``responding_title``,
    ``auth_value`` (StoC), ``user_info`` (bytes or None), ``mechanism`` (int or None); on a
    PC also ``context`` (last OID arc: 1 LN, 3 LN+ciphering) and ``context_ciphered``.
    Unknown optional fields are skipped; an AARE without user-information (rejections) and
    a mechanism-name ending 0x85 are accepted. With ``tag`` 0x63 it reads an RLRE the same
    way (:func:`parse_rlre`): its reason lands in ``result``."""
    b = memoryview(b)
    w = "AARE" if tag == _AARE else "RLRE"
    if not len(b) or b[0] != tag:
        from udlms.cosem import apdu_more

        apdu_more.unexpected(b, w, tag)
    n, p = _len(b, 1)
    _need(b, p, n, w)
    end = p + n
    a = Response(tag, w)
    a.result = None
    while p < end:
        t = b[p]
        if t & 0x1F == 0x1F and tag == _AARE:  # high tag number form: skip its continuation
            p += 1
            while p < end and b[p] & 0x80:
                p += 1
        n, p = _len(b, p + 1)
        if n > end - p:
            raise ApduError("%s field %02X claims %d bytes, only %d remain"
                            % (w, t, n, end - p), "malformed")
        v = b[p:p + n]
        p += n
        if tag != _AARE:  # RLRE: only the reason is read
            if t == 0x80:
                a.result = int.from_bytes(v, "big")
        elif t == 0xA2:  # result
            a.result = int.from_bytes(_in(v, _F_RESULT), "big")
        elif t == 0xA3:  # result-source-diagnostic
            d = _in(v, _F_DIAGNOSTIC)  # (checks that v has its tag byte)
            a.diagnostic = (v[0] & 0x1F, int.from_bytes(_in(d, _F_DIAGNOSTIC), "big"))
        elif t == 0xA4:  # responding-AP-title
            a.responding_title = bytes(_in(v, _F_TITLE))
        elif t == 0xAA:  # responding-authentication-value
            a.auth_value = bytes(_in(v, _F_AUTH))
        elif t == 0xBE:  # user-information
            a.user_info = bytes(_in(v, _F_USER) if len(v)
                                and v[0] == 0x04 else v)
        elif t == 0x89 and len(v):  # mechanism-name (Ziv meters end it with 0x85)
            a.mechanism = v[-1] & 0x7F
        elif t == 0xA1:  # application-context-name (checked; only a PC shows it)
            v = _in(v, _F_CONTEXT)
            if _FULL and len(v):
                a.context = v[-1]
                a.context_ciphered = a.context in (3, 4)
    if a.result is None and tag == _AARE:
        raise ApduError("AARE has no result field", "malformed")
    return a


def parse_initiate_response(b):
    """InitiateResponse ``08 [00|01 qos] version 5F1F04 00 cccccc pppp vvvv`` ->
    dict(version, conformance, max_pdu, vaa). A confirmed-service-error (0E) raises
    ``ServiceError``."""
    if _FULL and len(b) and b[0] == _CONFIRMED_SERVICE_ERROR:  # (a session checks it)
        from udlms.cosem import names
        from udlms.errors import ServiceError

        r = parse_response(b)
        raise ServiceError("meter refused the %s service: %s" % (
            names.service_name(r.service), names.service_error_name(r.choice, r.result)),
            "confirmed-service-error", r.result)
    if not len(b) or b[0] != _INITIATE_RESPONSE:
        from udlms.cosem import apdu_more

        apdu_more.unexpected(b, None, _INITIATE_RESPONSE)
    _need(b, 1, 1, _F_INITIATE)
    p = 3 if b[1] else 2  # negotiated-quality-of-service present: one more byte
    _need(b, p - 1, 1, _F_INITIATE)
    _need(b, p, 12, _F_INITIATE)
    if b[p + 1] != 0x5F or b[p + 2] != 0x1F:
        raise ApduError("InitiateResponse conformance block is not tagged 5F 1F", "malformed")
    n = b[p + 3]
    _need(b, p + 4, n + 4, _F_INITIATE)
    i = p + 4 + n
    return {"version": b[p],  # (the conformance's first byte counts unused bits)
            "conformance": int.from_bytes(b[p + 5:i], "big"), "max_pdu": (b[i] << 8) | b[i + 1],
            "vaa": (b[i + 2] << 8) | b[i + 3]}


# -- release: RLRQ / RLRE (IEC 62056-5-3 §7, Green Book §9.3.3) --------------------------
def rlrq(user_info=None):
    """RLRQ with reason normal (``62 03 80 01 00``), optionally with user-information."""
    b = bytearray(b"\x62\x00\x80\x01\x00")  # RLRQ, its length filled in at the end
    if user_info:
        _put(b, user_info, 0xBE, 0x04)
    return _put(b, None, 0)


def parse_rlre(b):
    """RLRE -> reason (int, 0 = normal) or None when absent. An empty RLRE is fine."""
    return parse_aare(b, _RLRE).result


# -- GET / SET / ACTION requests (Green Book §9.4.x, LN services) ----------------------
def get_request(invoke, class_id, obis6, attr, access=None, head=b"\xC0\x01"):
    """get-request-normal ``C0 01 iid cc cc oooooooooooo aa 00``: invoke-id-and-priority,
    the Cosem-Attribute-Descriptor class-id(2) instance-id(6) attribute(1), then ``00`` or
    ``01`` and ``access`` = ``(selector, parameters_axdr)`` for selective access (PC only:
    a board never asks for it). (With
    another ``head``, the start of another request: ``set_request``, ``action_request``,
    whose ``access`` is the method's data.)"""
    if _FULL and len(obis6) != 6:  # (a board's come from session._obis: 6 bytes)
        raise ApduError("logical name must be 6 bytes, got %d" % len(obis6), "malformed")
    b = bytearray(head)
    b += bytes((invoke & 0xFF, class_id >> 8 & 0xFF, class_id & 0xFF))
    b += obis6
    b.append(attr & 0xFF)
    b.append(access is not None)  # 00, or 01 and ``access``
    if access is not None:
        if _FULL and head[0] != 0xC3:  # get/set: Selective-Access-Descriptor (PC only)
            b.append(access[0] & 0xFF)
            access = access[1]
        b += access
    return b


if _FULL:  # a board never sets; its session and token build get-next and ACTION requests
    def get_request_next(invoke, block):
        """get-request-next ``C0 02 iid bbbbbbbb`` acknowledging data block ``block``."""
        return b"\xC0\x02" + bytes((invoke & 0xFF,)) + block.to_bytes(4, "big")

    def set_request(invoke, class_id, obis6, attr, data, access=None):
        """set-request-normal ``C1 01 iid desc [access] data`` (``data`` A-XDR bytes)."""
        return get_request(invoke, class_id, obis6, attr, access, b"\xC1\x01") + bytes(data)

    def action_request(invoke, class_id, obis6, attr, data=None):
        """action-request-normal ``C3 01 iid desc 01 data`` or ``... 00`` without data
        (``attr``: the method). (A board's session and token call get_request with that
        head: one builder.)"""
        return get_request(invoke, class_id, obis6, attr, data, b"\xC3\x01")


# -- responses --------------------------------------------------------------------------
class Response:
    """A parsed response (see docs/INTERFACES.md): ``tag``, ``kind`` ('get', 'set',
    'action', 'exception', 'confirmed-service-error'), ``invoke`` (None for the last
    two), ``result`` (0 = success, else the DLMS code), ``data`` (memoryview of the A-XDR
    Data or of a block's raw octets, or None), ``block`` ``(number, last)`` or None,
    ``dar`` (data-access-result in an action's return parameters),
    ``state``/``service``/``choice``; plain words for errors: ``results.response_text(r)``.
    The defaults are class attributes: an instance holds only what was parsed. An AARE or
    RLRE (:func:`parse_aare`, kind "AARE"/"RLRE") is one too, with its own fields."""

    invoke = data = block = state = service = choice = None
    diagnostic = responding_title = auth_value = user_info = mechanism = None
    result = 0

    def __init__(self, tag, kind):
        self.tag = tag
        self.kind = kind

    if _FULL:  # for people at a PC (the device build leaves them out)
        dar = context = None
        context_ciphered = False

        @property
        def accepted(self):
            return self.result == 0

        def __repr__(self):
            if self.kind == "AARE":
                return "Aare(result=%r, diagnostic=%r, mechanism=%r)" % (
                    self.result, self.diagnostic, self.mechanism)
            return "Response(%s, invoke=%r, result=%r, block=%r)" % (self.kind, self.invoke,
                                                                     self.result, self.block)


def parse_response(b):
    """Parse a plain GET/SET/ACTION response (normal, with data blocks), an
    exception-response (D8) or a confirmed-service-error (0E) -> :class:`Response`.
    ``data`` runs to the end of the APDU (the Data is its last field)."""
    b = memoryview(b)
    _need(b, 0, 1, _F_APDU)
    tag = b[0]
    r = ("get" if tag == _GET_RESPONSE else "action" if tag == _ACTION_RESPONSE
         else "set" if _FULL and tag == _SET_RESPONSE else None)  # a board never sets
    if r is None:  # an exception-response (D8), a confirmed-service-error (0E) or no response
        from udlms.cosem import apdu_more

        return apdu_more.other(b, tag, Response, _need)
    _need(b, 0, 4, tag)  # a tag number: _need names it only in an error message
    r = Response(tag, r)
    r.choice = c = b[1]
    r.invoke = b[2]
    if _FULL and tag == _SET_RESPONSE and c in (1, 2, 3):
        if c == 2:  # datablock: block-number
            _need(b, 3, 4, _F_BLOCK)
            r.block = (int.from_bytes(b[3:7], "big"), False)
        else:
            r.result = b[3]
            if c == 3:  # last-datablock: result, block-number
                _need(b, 4, 4, _F_BLOCK)
                r.block = (int.from_bytes(b[4:8], "big"), True)
    elif c == 2:  # get with-datablock / action with-pblock (a set's: above)
        _need(b, 4, 4, _F_BLOCK)
        r.block = (int.from_bytes(b[4:8], "big"), b[3] != 0)
        p = 8
        if tag == _GET_RESPONSE:  # DataBlock-G result: 00 raw-data | 01 data-access-result
            _need(b, 8, 1, tag)
            p = 9
            if b[8]:
                _need(b, 9, 1, tag)
                r.result = b[9]
                return r
        n, p = _len(b, p)
        _need(b, p, n, tag)
        r.data = b[p:p + n]
    elif c != 1:
        from udlms.cosem import apdu_more

        apdu_more.unexpected(b, c, tag)
    elif tag == _GET_RESPONSE:  # Get-Data-Result: 00 Data | 01 data-access-result
        _need(b, 4, 1, tag)
        if b[3]:
            r.result = b[4]
        else:
            r.data = b[4:]
    else:  # action: result, return-parameters OPTIONAL (some meters omit the 00)
        r.result = b[3]
        if len(b) > 4 and b[4]:
            _need(b, 5, 2, tag)
            if not b[5]:
                r.data = b[6:]
            elif _FULL:  # (read by the PC's trace decoder only)
                r.dar = b[6]
    return r
