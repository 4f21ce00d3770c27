"""MicroPython lane: AES port and AES-GCM-128 (GCM spec test cases 1-4) on every AES backend
of this runtime (cryptolib and pure on MicroPython), with viper GHASH and without."""

import gc
from binascii import hexlify, unhexlify

from mpytest import eq, main, raises, test

from udlms.crypto import aes, gcm
from udlms.errors import ConfigError, SecurityError

K3 = unhexlify("feffe9928665731c6d6a8f9467308308")
IV3 = unhexlify("cafebabefacedbaddecaf888")
P3 = unhexlify("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
               "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255")
A4 = unhexlify("feedfacedeadbeeffeedfacedeadbeefabaddad2")
ACCELS = (None, False) if gcm.ACCEL else (False,)


def hx(b):
    return hexlify(bytes(b)).decode()


def enc(g, iv, p, a=b"", taglen=12):
    """(ciphertext, tag[:taglen]) through Gcm.crypt (GCM-AE), the device's one entry."""
    c = bytearray(len(p))
    t = g.crypt(iv, p, c, a)
    return bytes(c), bytes(t[:taglen])


def dec(g, iv, c, t, a=b""):
    """Plaintext through Gcm.crypt (GCM-AD): SecurityError auth-tag when t does not verify."""
    out = bytearray(len(c))
    g.crypt(iv, c, out, a, t)
    return bytes(out)


def each():
    for b in aes.backends():
        for a in ACCELS:
            yield gcm.Gcm, b, a


@test
def aes_fips197():
    pt = unhexlify("00112233445566778899aabbccddeeff")
    for b in aes.backends():
        out = bytearray(16)
        aes.new(bytes(range(16)), b).encrypt_block(pt, out)
        eq(hx(out), "69c4e0d86a7b0430d8cdb78070b4c55a", b)


@test
def backends_listed():
    b = aes.backends()
    eq(b[-1], "pure")
    import sys

    if sys.implementation.name == "micropython":
        eq(b[0], "cryptolib")
        eq(gcm.ACCEL, "viper")


@test
def nist_case_1_2():
    for G, b, a in each():
        g = G(bytes(16), b, a)
        eq(g.backend, b)
        eq(hx(enc(g, bytes(12), b"", taglen=16)[1]), "58e2fccefa7e3061367f1d57a4e7455a")
        c, t = enc(g, bytes(12), bytes(16), taglen=16)
        eq(hx(c), "0388dace60b6a392f328c2b971b2fe78")
        eq(hx(t), "ab6e47d42cec13bdf53a67b21257bddf", "%s %s" % (b, a))


@test
def nist_case_3_4():
    for G, b, a in each():
        g = G(K3, b, a)
        c, t = enc(g, IV3, P3, taglen=16)
        eq(hx(c[-16:]), "1ba30b396a0aac973d58e091473f5985")
        eq(hx(t), "4d5c2af327cd64a62cf35abd2ba6fab4", "%s %s" % (b, a))
        c, t = enc(g, IV3, P3[:60], A4, taglen=16)
        eq(hx(t), "5bc94fbc3221a5db94fae95ae7121a47", "%s %s" % (b, a))
        eq(dec(g, IV3, c, t[:12], A4), P3[:60])
        gc.collect()


@test
def tamper_and_wrong_key():
    for G, b, a in each():
        g = G(K3, b, a)
        c, t = enc(g, IV3, P3[:20], A4)
        bad = bytearray(c)
        bad[3] ^= 1
        e = raises(SecurityError, dec, g, IV3, bytes(bad), t, A4)
        eq(e.kind, "auth-tag")
        assert "check" in e.message
        e = raises(SecurityError, dec, G(bytes(16), b, a), IV3, c, t, A4)
        eq(e.kind, "auth-tag")


@test
def iv_rules():
    g = gcm.Gcm(K3)
    e = raises(ConfigError, enc, g, bytes(16), b"x")
    eq(e.kind, "iv")
    e = raises(ConfigError, g.crypt, IV3, b"", b"", b"x", bytes(20))
    eq(e.kind, "tag-length")


@test
def viper_equals_pure():
    if not gcm.ACCEL:
        return
    for n in (0, 1, 15, 16, 17, 31, 33, 64):
        p = bytes(range(n))
        x = enc(gcm.Gcm(K3, None, True), IV3, p, A4[:n % 21])
        y = enc(gcm.Gcm(K3, None, False), IV3, p, A4[:n % 21])
        eq(x, y, "len %d" % n)


@test
def tag_compare():
    """The constant-time tag check in crypt: equal passes (any 4..16-byte prefix), one bit
    off in any byte or a wrong length fails."""
    g = gcm.Gcm(K3)
    c, t = enc(g, IV3, P3[:20], A4, taglen=16)
    eq(dec(g, IV3, c, t, A4), P3[:20])
    eq(dec(g, IV3, c, bytearray(t[:4]), A4), P3[:20])
    for i in (0, 7, 15):
        bad = bytearray(t)
        bad[i] ^= 0x80
        eq(raises(SecurityError, dec, g, IV3, c, bad, A4).kind, "auth-tag")
    eq(raises(ConfigError, dec, g, IV3, c, t[:3], A4).kind, "tag-length")


@test
def steady_state_no_alloc():
    """crypt with caller buffers allocates nothing (viper GHASH, cryptolib AES)."""
    import sys

    if sys.implementation.name != "micropython" or not gcm.ACCEL:
        return
    g = gcm.Gcm(K3)
    src = bytearray(64)
    dst = bytearray(64)
    aad = bytearray(17)
    iv = bytearray(IV3)
    g.crypt(iv, src, dst, aad)
    gc.collect()
    gc.disable()
    before = gc.mem_free()
    for _ in range(5):
        g.crypt(iv, src, dst, aad)
    used = before - gc.mem_free()
    gc.enable()
    eq(used, 0, "bytes allocated")


main()
