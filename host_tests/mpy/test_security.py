"""MicroPython lane: Green Book suite-0 vectors (spec.md §4) and the named security errors,
on every AES backend here (cryptolib and pure on MicroPython), viper GHASH and pure."""

import gc
from binascii import hexlify, unhexlify

from mpytest import eq, main, raises, test

from udlms.errors import SecurityError

gc.collect()
from udlms.crypto import aes, gcm  # noqa: E402  (collect between imports: 64 KB heap)

gc.collect()
from udlms.crypto import security  # noqa: E402
from udlms.crypto.security import MemoryCounter, Security  # noqa: E402

gc.collect()
from udlms.crypto import ghash_pure  # noqa: E402, F401  (load the pure paths before heap fills)

gc.collect()
from udlms.crypto import aes_pure  # noqa: E402, F401

EK = unhexlify("000102030405060708090A0B0C0D0E0F")
AK = unhexlify("D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF")
METER = unhexlify("4D4D4D0000BC614E")
CLIENT = unhexlify("4D4D4D0000000001")
GET = unhexlify("C0010000080000010000FF0200")
GB = {
    0x30: "C81E3001234567411312FF935A47566827C467BC7D825C3BE4A77C3FCC056B6B",
    0x10: "C81E1001234567C0010000080000010000FF020006725D910F9221D263877516",
    0x20: "C8122001234567411312FF935A47566827C467BC",
}
ACCELS = (None, False) if gcm.ACCEL else (False,)


def hx(b):
    return hexlify(bytes(b)).decode().upper()


def sec(title=CLIENT, ic=1, sc=0x30, backend=None, accel=None, server=None):
    s = Security(EK, AK, title, MemoryCounter(ic), sc, backend, accel)
    s.server_title = server
    return s


def each():
    for b in aes.backends():
        for a in ACCELS:
            gc.collect()
            yield b, a


@test
def gb_glo_get_three_modes():
    for b, a in each():
        for sc in (0x30, 0x10, 0x20):
            eq(hx(sec(METER, 0x01234567, sc, b, a).protect(GET)), GB[sc], "%s %s" % (b, a))
            r = sec(CLIENT, 1, sc, b, a, METER)
            eq(bytes(r.unprotect(unhexlify(GB[sc]))), GET)


@test
def gb_hls_gmac():
    for b, a in each():
        s = sec(CLIENT, 1, 0x30, b, a, METER)
        eq(hx(s.f_stoc(b"P6wRJ21F")), "10000000011A52FE7DD3E72748973C1E28")
        assert s.verify_ctos(b"K56iVagY", unhexlify("1001234567FE1466AFB3DBCD4F9389E2B7"))


@test
def aarq_glo_initiate():
    out = sec(CLIENT, 0).protect(unhexlify("01000000065F1F0400001E1D0200"))
    eq(hx(out), "211F3000000000C0505B89E53A178DB31D8D5ECA7E57BA5324542E2BDDEC2710D3")


@test
def named_errors():
    c = bytearray(unhexlify(GB[0x30]))
    c[-1] ^= 1
    eq(raises(SecurityError, sec(server=METER).unprotect, bytes(c)).kind, "auth-tag")
    s = Security(EK, bytes(16), CLIENT, MemoryCounter(1))
    s.server_title = METER
    e = raises(SecurityError, s.unprotect, unhexlify(GB[0x30]))
    eq(e.kind, "auth-tag")
    assert "check" in e.message
    r = sec(server=METER)
    r.unprotect(unhexlify(GB[0x30]))
    eq(raises(SecurityError, r.unprotect, unhexlify(GB[0x30])).kind, "replay")
    e = raises(SecurityError, sec(server=METER).verify_ctos, b"K56iVagX",
               unhexlify("1001234567FE1466AFB3DBCD4F9389E2B7"))
    eq(e.kind, "meter-proof")
    bad_sc = unhexlify("C81E31" + GB[0x30][6:])
    eq(raises(SecurityError, sec(server=METER).unprotect, bad_sc).kind, "security-control")


@test
def general_glo_and_tags():
    """A meter's general-glo-ciphering (DB, its title after the tag) deciphers on a board;
    sending it is PC-only (host_tests/test_security.py)."""
    d = unhexlify("DB08" + hx(METER) + GB[0x30][2:])
    eq(bytes(sec(CLIENT).unprotect(d)), GET)  # the title taken from the APDU
    eq(bytes(sec(CLIENT, server=METER).unprotect(d)), GET)
    e = raises(SecurityError, sec(CLIENT, server=CLIENT).unprotect, d)
    eq(e.kind, "system-title")
    eq(security.glo_tag(0xC3), 0xCB)
    eq(security.glo_tag(0xC0, True), 0xD0)
    d = unhexlify("D0" + GB[0x30][2:])  # ded- with no dedicated key: refused by name
    eq(raises(SecurityError, sec(server=METER).unprotect, d).kind, "security-control")


@test
def keys_not_shown():
    s = sec(server=METER)
    t = repr(s) + str(s)
    assert "000102" not in t and "D0D1" not in t.upper()


main()
