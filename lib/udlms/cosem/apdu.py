"""xDLMS and ACSE APDUs for LN referencing (IEC 62056-5-3 §8 / Green Book §9.3-9.4).

Builders return ``bytes``; parsers take bytes/bytearray/memoryview, check every length
against the buffer and raise ``ApduError`` kind "malformed" on truncation or
"unexpected" on an APDU of the wrong kind. Ciphering is done elsewhere
(:mod:`udlms.crypto.security`); this module only places the bytes.
"""

from udlms.errors import ApduError
from udlms.port import const

# ACSE (BER) tags
AARQ = const(0x60)
AARE = const(0x61)
RLRQ = const(0x62)
RLRE = const(0x63)
# xDLMS tags (IEC 62056-5-3 §8); the underscore ones are folded in by the compiler
_INITIATE_RESPONSE = const(0x08)
CONFIRMED_SERVICE_ERROR = const(0x0E)
_GET_RESPONSE = const(0xC4)
_SET_RESPONSE = const(0xC5)
_ACTION_RESPONSE = const(0xC7)
EXCEPTION_RESPONSE = const(0xD8)
# _FULL: 0 in the device build (tools/build/msgtable.py), which leaves out the names
# below that nothing on a board reads
_FULL = const(1)
if _FULL:
    INITIATE_REQUEST = 0x01
    INITIATE_RESPONSE = _INITIATE_RESPONSE
    GET_REQUEST = 0xC0
    SET_REQUEST = 0xC1
    ACTION_REQUEST = 0xC3
    GET_RESPONSE = _GET_RESPONSE
    SET_RESPONSE = _SET_RESPONSE
    ACTION_RESPONSE = _ACTION_RESPONSE

# AARE result-source-diagnostic sources (the BER choice tag numbers)
ACSE_USER = const(1)
ACSE_PROVIDER = const(2)

DEFAULT_CONFORMANCE = 0x001E1D

def is_ciphered(tag):
    """True for glo-/ded-/general-ciphering tags."""
    return 0xC8 <= tag <= 0xD7 or 0xDB <= tag <= 0xDD or 0x21 <= tag <= 0x5F


def _bad(msg):
    return ApduError(msg, "malformed")


def _need(buf, pos, n, what):
    """ApduError "malformed" unless n bytes remain at pos; ``what`` names the field (an
    APDU tag number is named only when the error is raised)."""
    if n > len(buf) - pos:
        if isinstance(what, int):
            what = apdu_name(what)
        raise _bad("%s is cut short: needs %d bytes at byte %d, %d remain"
                   % (what, n, pos, len(buf) - pos))


def _dec_len(buf, pos):
    """-> (n, newpos); raises ApduError when the length field is cut short."""
    _need(buf, pos, 1, "length field")
    b = buf[pos]
    if b < 0x80:
        return b, pos + 1
    k = b & 0x7F
    if k == 0 or k > 4:
        raise _bad("length field 0x%02X at byte %d is not valid" % (b, pos))
    _need(buf, pos + 1, k, "length field")
    return int.from_bytes(bytes(buf[pos + 1:pos + 1 + k]), "big"), pos + 1 + k


def _head(head, invoke, class_id, obis6, index):
    """``head`` (service tag and choice), invoke-id-and-priority, then the
    Cosem-Attribute/Method-Descriptor: class-id(2) instance-id(6) index(1)."""
    o = bytes(obis6)
    if len(o) != 6:
        raise ApduError("logical name must be 6 bytes, got %d" % len(o), "malformed")
    return head + bytes((invoke & 0xFF, class_id >> 8 & 0xFF, class_id & 0xFF)) + o + bytes(
        (index & 0xFF,))


def apdu_name(tag):
    """Name of an APDU tag byte, e.g. 0xCB -> "glo-action-request" (the names live in
    :mod:`udlms.cosem.names`, loaded only when a name is wanted)."""
    from udlms.cosem.names import apdu_name as f

    return f(tag)


def _tlv(tag, value):
    """BER tag, length (short form < 0x80, else 0x8k + k bytes), value."""
    n = len(value)
    if n < 0x80:
        return bytes((tag, n)) + bytes(value)
    k = 1 if n < 0x100 else (2 if n < 0x10000 else 4)
    return bytes((tag, 0x80 | k)) + n.to_bytes(k, "big") + bytes(value)


# -- release: RLRQ / RLRE (IEC 62056-5-3 §7, BER) --------------------------------------
def _ber_int(v):
    n = 0
    for b in v:
        n = (n << 8) | b
    return n


def _envelope(buf, tag, what):
    if not len(buf):
        raise ApduError("expected %s, got nothing" % what, "unexpected")
    if buf[0] != tag:
        raise ApduError("expected %s (%02X), got %s" % (what, tag, apdu_name(buf[0])),
                        "unexpected")
    n, pos = _dec_len(buf, 1)
    _need(buf, pos, n, what)
    return pos, pos + n


def rlrq(user_info=None):
    """RLRQ with reason normal (``62 03 80 01 00``), optionally with user-information."""
    body = b"\x80\x01\x00"
    if user_info:
        body += _tlv(0xBE, _tlv(0x04, user_info))
    return _tlv(RLRQ, body)


def parse_rlre(buf):
    """RLRE -> reason (int, 0 = normal) or None when absent. An empty RLRE is fine."""
    mv = memoryview(buf)
    pos, end = _envelope(mv, RLRE, "RLRE")
    reason = None
    while pos < end:
        tag = mv[pos]
        n, pos = _dec_len(mv, pos + 1)
        if n > end - pos:
            raise _bad("RLRE field %02X claims %d bytes, only %d remain" % (tag, n, end - pos))
        if tag == 0x80:
            reason = _ber_int(mv[pos:pos + n])
        pos += n
    return reason


# -- GET / SET / ACTION requests (Green Book §9.4.x, LN services) ----------------------
def get_request(invoke, class_id, obis6, attr, access=None):
    """get-request-normal ``C0 01 iid cc cc oooooooooooo aa 00``; ``access`` =
    ``(selector, parameters_axdr)`` for selective access."""
    r = _head(b"\xC0\x01", invoke, class_id, obis6, attr)
    if access is None:
        return r + b"\x00"
    return r + bytes((1, access[0] & 0xFF)) + bytes(access[1])


def get_request_next(invoke, block):
    """get-request-next ``C0 02 iid bbbbbbbb`` acknowledging data block ``block``."""
    return b"\xC0\x02" + bytes((invoke & 0xFF,)) + (block & 0xFFFFFFFF).to_bytes(4, "big")


def set_request(invoke, class_id, obis6, attr, data, access=None):
    """set-request-normal ``C1 01 iid desc [access] data`` (``data`` A-XDR bytes)."""
    r = _head(b"\xC1\x01", invoke, class_id, obis6, attr)
    if access is None:
        return r + b"\x00" + bytes(data)
    return r + bytes((1, access[0] & 0xFF)) + bytes(access[1]) + bytes(data)


def action_request(invoke, class_id, obis6, method, data=None):
    """action-request-normal ``C3 01 iid desc 01 data`` or ``... 00`` without data."""
    r = _head(b"\xC3\x01", invoke, class_id, obis6, method)
    if data is None:
        return r + b"\x00"
    return r + b"\x01" + bytes(data)


# -- responses --------------------------------------------------------------------------
class Response:
    """A parsed response (see docs/INTERFACES.md): ``tag``, ``kind`` ('get', 'set',
    'action', 'exception', 'confirmed-service-error'), ``invoke`` (None for the last
    two), ``result`` (0 = success, else the DLMS code), ``data`` (memoryview of the A-XDR
    Data or of a block's raw octets, or None), ``block`` ``(number, last)`` or None,
    ``dar`` (data-access-result in an action's return parameters),
    ``state``/``service``/``choice``; plain words for errors: ``results.response_text(r)``."""

    def __init__(self, tag, kind):
        self.tag = tag
        self.kind = kind
        self.invoke = self.data = self.block = self.dar = None
        self.state = self.service = self.choice = None
        self.result = 0

    if _FULL:  # for people at a PC (the device build leaves it out)
        def __repr__(self):
            return "Response(%s, invoke=%r, result=%r, block=%r)" % (
                self.kind, self.invoke, self.result, self.block)


def _u32(mv, pos):
    _need(mv, pos, 4, "block number")
    return int.from_bytes(bytes(mv[pos:pos + 4]), "big")


def parse_response(buf):
    """Parse a plain GET/SET/ACTION response (normal, with data blocks), an
    exception-response (D8) or a confirmed-service-error (0E) -> :class:`Response`.
    ``data`` runs to the end of the APDU (the Data is its last field)."""
    mv = memoryview(buf)
    _need(mv, 0, 1, "APDU")
    tag = mv[0]
    if tag == EXCEPTION_RESPONSE:  # state-error, service-error [, expected IC]
        r = Response(tag, "exception")
        _need(mv, 1, 1, r.kind)
        r.state = mv[1]
        r.service = r.result = mv[2] if len(mv) > 2 else 0
        if r.service == 6 and len(mv) >= 7:
            r.data = mv[3:7]
        return r
    if tag == CONFIRMED_SERVICE_ERROR:  # service, ServiceError choice, value
        r = Response(tag, "confirmed-service-error")
        _need(mv, 1, 3, r.kind)
        r.service, r.choice, r.result = mv[1], mv[2], mv[3]
        return r
    kind = ("get" if tag == _GET_RESPONSE else "set" if tag == _SET_RESPONSE
            else "action" if tag == _ACTION_RESPONSE else None)
    if kind is None:
        raise ApduError("%s %s" % (apdu_name(tag), "is ciphered: decipher it before parsing"
                                   if is_ciphered(tag) else "is not a get/set/action "
                                   "response"), "unexpected")
    _need(mv, 0, 4, tag)  # a tag number: _need names it only in an error message
    r = Response(tag, kind)
    r.choice = c = mv[1]
    r.invoke = mv[2]
    if c == 2 and tag != _SET_RESPONSE:  # get with-datablock / action with-pblock
        r.block = (_u32(mv, 4), mv[3] != 0)
        p = 8
        if tag == _GET_RESPONSE:  # DataBlock-G result: 00 raw-data | 01 data-access-result
            _need(mv, p, 1, tag)
            p += 1
            if mv[p - 1]:
                _need(mv, p, 1, tag)
                r.result = mv[p]
                return r
        n, p = _dec_len(mv, p)
        _need(mv, p, n, tag)
        r.data = mv[p:p + n]
    elif tag == _SET_RESPONSE and c in (1, 2, 3):
        if c == 2:  # datablock: block-number
            r.block = (_u32(mv, 3), False)
        else:
            r.result = mv[3]
            if c == 3:  # last-datablock: result, block-number
                r.block = (_u32(mv, 4), True)
    elif c != 1:
        raise ApduError("%s type %d (with-list) is not supported" % (apdu_name(tag), c),
                        "unexpected")
    elif tag == _GET_RESPONSE:  # Get-Data-Result: 00 Data | 01 data-access-result
        _need(mv, 4, 1, tag)
        if mv[3]:
            r.result = mv[4]
        else:
            r.data = mv[4:]
    else:  # action: result, return-parameters OPTIONAL (some meters omit the 00)
        r.result = mv[3]
        if len(mv) > 4 and mv[4]:
            _need(mv, 5, 2, tag)
            if mv[5]:
                r.dar = mv[6]
            else:
                r.data = mv[6:]
    return r

