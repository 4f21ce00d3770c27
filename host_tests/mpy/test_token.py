"""MicroPython lane: STS token parsing, encodings (spec.md §3), Token Gateway helpers, and
the A-XDR / COSEM helpers they use (axdr, cosem)."""

import binascii
import gc
import sys

from mpytest import eq, main, raises, test

from udlms.client import token_status
from udlms.client import token, token_info
from udlms.errors import ApduError, TokenError


def _unload():
    from udlms.port import forget

    for k in sorted(sys.modules, reverse=True):  # a package's modules before the package
        if k.startswith("udlms.") and k not in ("udlms.errors", "udlms.port"):
            forget(k)
    gc.collect()

T = "05718854590197211241"


def h(s):
    return binascii.unhexlify(s.replace(" ", ""))


def hx(b):
    return binascii.hexlify(bytes(b)).decode().upper()


@test
def parse_forms():
    eq(token.parse("0571 8854 5901 9721 1241"), T)
    eq(token.parse("0571-8854-5901-9721-1241"), T)
    eq(token.parse(" 05718854590197211241\n"), T)


@test
def parse_errors():
    e = raises(TokenError, token.parse, "0571 8854 5901 9721 124")
    eq(e.kind, "token-format")
    assert "found 19" in e.message
    e = raises(TokenError, token.parse, "057188545901972112411")
    assert "found 21" in e.message
    e = raises(TokenError, token.parse, "0571 8854 5901 9721 12A1")
    eq(e.kind, "token-format")
    e = raises(TokenError, token.parse, "73786976294838206464")
    eq(e.kind, "token-range")
    eq(token.parse("73786976294838206463"), "73786976294838206463")
    eq(token.parse("35632826060789593280"), "35632826060789593280")  # class-2-looking


@test
def encodings():
    _unload()
    from udlms.cosem import axdr

    want = {"ascii": "09143035373138383534353930313937323131323431",
            "bcd": "090A05718854590197211241",
            "digits": "09140005070108080504050900010907020101020401",
            "hex": "0909004F5D73F332D12069"}
    for enc in token.ENCODINGS:
        os_ = token.octet_string(T, enc)
        eq(hx(os_), want[enc], enc)
        eq(token_info.decode_token_bytes(axdr.decode(os_)[0]), (T, enc), enc)
    raises(TokenError, token.encode, T, "nope")


@test
def gateway():
    _unload()
    eq(hx(token_info.enter_request(0xC1, T)),
       "C301C100730000132800FF010109143035373138383534353930313937323131323431")
    eq(token_info.format("17813034313191558529"), "1781 3034 3131 9155 8529")
    code, bits = token_status.decode(binascii.unhexlify("02021603040800"))
    eq(code, 3)
    eq(bits.bits(), "00000000")
    eq(token_status.text(3)[0], "execution-ok")


@test
def axdr_values():
    _unload()
    from udlms.cosem import axdr, axdr_enc

    v, p = axdr.decode(h("02021603040800"))
    eq(v, (3, axdr.BitString(8, b"\x00")), "status")
    eq(p, 7)
    eq(axdr.decode(h("10FFFF"))[0], -1, "int16")
    eq(axdr.decode(h("15FFFFFFFFFFFFFFFF"))[0], (1 << 64) - 1, "uint64")
    eq(axdr.decode(h("14FFFFFFFFFFFFFFFE"))[0], -2, "int64")
    eq(axdr.decode(h("0A026869"))[0], "hi")
    eq(axdr.decode(h("0103110111021103"))[0], [1, 2, 3])
    eq(axdr_enc.encode(-1, 16), h("10FFFF"))  # int16 (a board has the tags as numbers)
    eq(axdr_enc.encode((1, b"ab", "c", None, True)), h("0205050000000109026162 0A016300 0301"))
    eq(axdr_enc.encode(b"x" * 300)[:4], h("0982012C"))
    eq(axdr_enc.encode(1.5, 23), h("173FC00000"))  # float32
    eq(axdr.decode(h("173FC00000"))[0], 1.5)


@test
def axdr_text():
    _unload()
    from udlms.cosem import axdr, obis

    eq(obis.value_text((3, axdr.BitString(8, b"\x80"))), "{3, bits 10000000}")


@test
def axdr_round_trip_typed():
    _unload()
    from udlms.cosem import axdr, axdr_enc

    # structure [enum, array [octet-string, uint32], date-time]
    tv = (2, [(22, 3), (1, [(9, b"\x01"), (6, 1715)]), (25, h("07E80101FF000000000000 00"))])
    b = axdr_enc.encode_typed(tv)
    tag, value, pos = axdr.decode_typed(b)
    eq((tag, value), tv)
    eq(pos, len(b))


@test
def axdr_hostile():
    _unload()
    from udlms.cosem import axdr

    e = raises(ApduError, axdr.decode, b"\x09\x82\xFF\xFF" + bytes(6))
    eq(e.kind, "malformed")
    raises(ApduError, axdr.decode, b"\x01\x84\xFF\xFF\xFF\xFF\x00")
    raises(ApduError, axdr.decode, b"\x02\x01" * 200 + b"\x00")
    raises(ApduError, axdr.decode, b"\x07")
    from udlms.cosem import axdr_enc  # after the deep nesting: its code would take that room

    b = axdr_enc.encode((1, [b"abc", "d"], None))
    for n in range(len(b)):
        raises(ApduError, axdr.decode, b[:n])


@test
def cosem_obis():
    _unload()
    from udlms.cosem import obis

    eq(obis.obis("0-0:19.40.0.255"), h("0000132800FF"))
    eq(obis.obis_str(h("00002B0103FF")), "0.0.43.1.3.255")
    eq(obis.datetime_text(h("07E80101FF0000000000 0000")), "2024-01-01 00:00:00 dev=+0min")


main()
