"""STS tokens (IEC 62055-41) and the COSEM Token Gateway (class 115, Blue Book §4.6.x).

A token is 20 decimal digits whose value is below 2^66. It is checked only for what is
certain (digit count and range): the STS class bits are *not* checked, because real
credit tokens have been seen that a public bit-layout reading puts in class 2.

On the wire ``enter`` takes an octet-string; meters differ in what they want inside it
(the per-meter ``encoding`` setting):

- ``ascii``  (default) 20 bytes 0x30..0x39, the digits as text;
- ``bcd``    10 bytes, two digits per byte (packed BCD);
- ``digits`` 20 bytes 0..9, one digit per byte;
- ``hex``    the "raw" option: 9 bytes, the 66-bit value as big-endian binary.

``enter_token(session, digits)`` runs ``enter`` (method 1) over an open association and
reads ``token_status`` (attribute 6) until the meter has decided: a :class:`TokenResult`.
This module is what a board needs to send a token; helpers (a token in groups of four,
octets back to digits, the plain ``enter`` APDU) are in :mod:`udlms.client.token_info`,
token_status words in :mod:`udlms.client.token_status`.
"""

from udlms.errors import ServiceError
from udlms.port import const, sleep_ms

# _FULL: 0 in the device build (tools/build/msgtable.py): names a board never reads are
# left out of its .mpy (each would be a heap qstr and a globals entry)
_FULL = const(1)
ENCODINGS = ("ascii", "bcd", "digits", "hex")

CLASS_ID = const(115)
GATEWAY_OBIS = b"\x00\x00\x13\x28\x00\xff"  # 0.0.19.40.0.255
# attributes 2 (token, tokenpad's check reads it) and 6 (token_status: a private constant,
# folded in; TOKEN_STATUS is the PC's name for it); method 1 (enter)
TOKEN = const(2)
_STATUS = const(6)
if _FULL:  # IC 115's other names (the host's decoder and tools use them)
    TOKEN_STATUS = _STATUS
    MAX_VALUE = 73786976294838206463  # 2^66 - 1
    LOGICAL_NAME = 1
    TOKEN_TIME = 3
    TOKEN_DESCRIPTION = 4
    TOKEN_DELIVERY_METHOD = 5
    ENTER = 1
    DELIVERY_METHODS = ("remote", "local", "manual")


def parse(text):
    """What a person typed -> 20-digit string. Spaces, tabs and dashes are ignored.

    Raises TokenError kind "token-format" (letters, symbols or not 20 digits) or
    "token-range" (value 2^66 or more)."""
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode()
    b = str(text).encode()  # read as bytes: a str's characters would each be a heap name
    d = bytearray()
    i = 0  # (the bytes before a non-digit are ASCII: i counts characters)
    for c in b:
        i += 1
        if c in b" -\t\r\n":
            continue
        if c < 48 or c > 57:  # not a digit (said by refused)
            break
        d.append(c)
    else:
        if len(d) == 20:
            d = d.decode()
            if not int(d) >> 66:  # below 2^66
                return d
        b = None  # not 20 digits, or too large (said by refused)
    from udlms.client import refused

    refused.token(b, i, d)


def encode(digits, encoding="ascii"):
    """The raw octets of a token in one of ``ENCODINGS`` (the token is validated first)."""
    d = parse(digits)
    if encoding == "ascii":
        return d.encode()
    if encoding == "digits":  # "178..." -> "010708..." -> 01 07 08 ...
        return bytes.fromhex("0" + "0".join(d))
    if encoding == "bcd":  # two digits a byte: the digits read as hexadecimal
        return bytes.fromhex(d)
    if encoding == "hex":
        return int(d).to_bytes(9, "big")
    from udlms.client import refused

    refused.token(None, encoding, ENCODINGS)


def octet_string(digits, encoding="ascii"):
    """A-XDR ``09 len <token octets>``: the argument of Token Gateway ``enter``."""
    raw = encode(digits, encoding)
    return bytes((0x09, len(raw))) + raw


def status_code(data):
    """token_status code straight from its A-XDR bytes: ``16 cc`` or a structure whose
    first element is that enum (``02 02 16 cc 04 ...``); a board reads it this way without
    loading :mod:`udlms.cosem.axdr`. Other shapes go through axdr
    (:func:`udlms.client.token_status.decode`)."""
    if len(data) >= 2 and data[0] == 0x16:
        return data[1]
    if len(data) >= 4 and data[0] == 0x02 and 0 < data[1] < 0x80 and data[2] == 0x16:
        return data[3]
    from udlms.client import token_status

    return token_status.decode(data)[0]


if _FULL:  # the PC's name for it (a board's token_status reads go through token_status)
    from udlms.client.token_status import decode_status  # noqa: E402, F401


# -- Token Gateway client (IC 115 over an open session) ---------------------------------
class TokenResult:
    """The meter's verdict on a token: ``accepted``, ``kind`` ("accepted", "refused",
    "unknown" or the action-result's name), ``status_code`` (token_status, or None),
    ``action_result`` (0 = success), ``status_ours`` (False: the gateway's last token is
    another one, so token_status speaks of that one). ``message`` (plain words) and
    ``status_name`` are looked up when read: the words are not loaded while a session
    holds the heap."""

    def __init__(self, accepted, kind, status_code=None, action_result=0, status_ours=True):
        self.accepted = accepted
        self._kind = kind
        self.status_code = status_code
        self.action_result = action_result
        self.status_ours = status_ours

    def __getattr__(self, text):  # kind, status_name, message: looked up when read
        if text == "kind" and self._kind is not None:
            return self._kind
        from udlms.client import token_status

        return token_status.attr(self, text)

    if _FULL:  # for people at a PC (the device build leaves it out)
        def __repr__(self):
            return "TokenResult(accepted=%s, status=%s, %r)" % (
                self.accepted, self.status_code, self.message)


def read_token_status(session):
    """Read Token Gateway attribute 6 -> (code, bits)."""
    from udlms.client import token_status

    return token_status.decode(session.get(CLASS_ID, session.settings.gateway, _STATUS))


def enter_token(session, digits, encoding=None):
    """Token Gateway ``enter`` (IC 115 method 1), then read ``token_status`` (attribute 6).

    Meters differ: some answer the action with success and put the verdict in
    token_status, some fail the action (e.g. other-reason, 250) and record why in
    token_status. Either way the verdict and its words come from token_status when the
    meter lets us read it; after a failed action it counts only if the gateway's last
    token (attribute 2) is ours (else it is about an earlier token) and says 3..7. Meter
    refusals come back as a TokenResult with ``accepted=False``; link, security and
    association failures raise. ``encoding="auto"`` tries the forms in turn
    (:mod:`udlms.client.token_auto`; in the PC build: a board calls token_auto itself).
    """
    s = session.settings
    encoding = encoding or s.encoding
    # a board runs ``auto`` through token_auto itself (tokenpad.deliver) and reads no
    # token_sent: both are PC-only (_FULL)
    if _FULL and encoding == "auto":  # the form is found from type-unmatched answers
        from udlms.client import token_auto  # (issue 20)

        return token_auto.enter(session, digits, enter_token=enter_token)
    data = octet_string(digits, encoding)
    if _FULL:
        session.token_sent = True
    from udlms.client.session import _obis, apdu

    o = _obis(s.gateway)  # parsed once for the whole exchange
    # action-request-normal (get_request with its head: apdu's one request builder)
    action = session.request(apdu.get_request(s.invoke, CLASS_ID, o, 1, data,
                                              b"\xC3\x01")).result
    if action:  # the meter refused the action: does token_status say why?
        from udlms.client import refused

        return refused.enter(session, o, data, action, TokenResult, status_code)
    code = None
    for _ in range(s.status_polls if s.status_polls > 1 else 1):
        try:
            code = status_code(session.get(CLASS_ID, o, _STATUS))
        except ServiceError:
            code = None
            break
        # 8 = received, not yet processed; 0..2 = format / authentication / validation
        # passed, execution still to come: only 3 says the credit was applied
        if code not in (0, 1, 2, 8):
            break
        sleep_ms(s.status_poll_ms)
    if code is None or code == 3:
        return TokenResult(True, "accepted", code)
    return TokenResult(False, "unknown" if code in (0, 1, 2, 8) else "refused", code)

