"""STS token helpers beside :mod:`udlms.client.token` (IEC 62055-41, Token Gateway IC 115):
a token in groups of four, token octets back to digits (any encoding), the plain ``enter``
APDU. Kept apart so a session on a board does not hold them while it runs; token_status
words are in :mod:`udlms.client.token_status`.
"""

from udlms.errors import TokenError
from udlms.client.token import CLASS_ID, ENCODINGS, GATEWAY_OBIS, octet_string


def format(digits, sep=" "):  # noqa: A001 - the contract's name
    """"17813034313191558529" -> "1781 3034 3131 9155 8529"."""
    d = str(digits)
    out = d[:4]
    for i in range(4, len(d), 4):  # (a loop: a generator is a code object of its own)
        out += sep + d[i:i + 4]
    return out


def decode(raw, encoding):
    """Token octets in a known encoding -> 20 digits, or raise TokenError "encoding"."""
    raw = bytes(raw)
    d = ""  # read the encoding's way, then it must be 20 decimal digits (loops: a generator
    # is a code object of its own)
    if encoding == "ascii" or encoding == "digits":  # 31 37 38 ... or 01 07 08 ...
        n = 48 if encoding == "digits" else 0
        for b in raw:
            d += chr(b + n)
    elif encoding == "bcd" and len(raw) == 10:  # two digits a byte
        for b in raw:
            d += "%d%d" % (b >> 4, b & 15)
    elif encoding == "hex" and len(raw) == 9:
        n = int.from_bytes(raw, "big")
        if n < 1 << 66:  # the largest token is 2^66 - 1
            d = ("0" * 20 + str(n))[-20:]
    for n in d:
        if not "0" <= n <= "9":
            d = ""
            break
    if len(d) != 20:
        raise TokenError("these %d bytes are not a token in %s encoding" % (len(raw),
                         encoding), "encoding")
    return d


def decode_token_bytes(raw):
    """Guess the encoding of token octets -> ``(digits, encoding)`` or None."""
    for enc in ENCODINGS:
        try:
            return decode(raw, enc), enc
        except TokenError:
            pass
    return None


def enter_request(invoke, digits, encoding="ascii", obis6=GATEWAY_OBIS):
    """The plain action-request-normal APDU for Token Gateway ``enter`` (the same bytes as
    ``apdu.action_request(invoke, 115, obis6, 1, octet_string(...))``, without importing
    apdu)."""
    # method 1 (enter), with a parameter
    return (bytes((0xC3, 1, invoke & 0xFF, 0, CLASS_ID)) + bytes(obis6) + bytes((1, 1))
            + octet_string(digits, encoding))
