"""udlms.crypto.gcm: AES-GCM-128 (NIST SP 800-38D) against the GCM spec test cases 1-4 and
cryptography's AESGCM, on every AES backend, with the pure GHASH."""

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from udlms.crypto import aes, gcm
from udlms.errors import ConfigError, SecurityError

H = bytes.fromhex
K3 = H("feffe9928665731c6d6a8f9467308308")
IV3 = H("cafebabefacedbaddecaf888")
P3 = H("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
       "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255")
C3 = H("42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
       "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985")
A4 = H("feedfacedeadbeeffeedfacedeadbeefabaddad2")

# McGrew & Viega, "The Galois/Counter Mode of Operation", test cases 1-4 (AES-128)
NIST = [
    (bytes(16), bytes(12), b"", b"", b"", H("58e2fccefa7e3061367f1d57a4e7455a")),
    (bytes(16), bytes(12), bytes(16), b"", H("0388dace60b6a392f328c2b971b2fe78"),
     H("ab6e47d42cec13bdf53a67b21257bddf")),
    (K3, IV3, P3, b"", C3, H("4d5c2af327cd64a62cf35abd2ba6fab4")),
    (K3, IV3, P3[:60], A4, C3[:60], H("5bc94fbc3221a5db94fae95ae7121a47")),
]
BACKENDS = aes.backends()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", range(4))
def test_nist_cases(backend, case):
    key, iv, p, a, c, t = NIST[case]
    g = gcm.Gcm(key, backend, accel=False)
    assert g.backend == backend and g.accel is None
    ct, tag = g.encrypt(iv, p, a, taglen=16)
    assert ct == c and tag == t
    assert g.encrypt(iv, p, a)[1] == t[:12]  # suite 0: 12-byte tag
    assert g.decrypt(iv, c, t, a) == p
    assert g.decrypt(iv, c, t[:12], a) == p


@pytest.mark.parametrize("backend", BACKENDS)
def test_tampered(backend):
    g = gcm.Gcm(K3, backend)
    ct, tag = g.encrypt(IV3, P3[:60], A4)
    for bad_ct, bad_tag, bad_aad in (
        (bytes([ct[0] ^ 1]) + ct[1:], tag, A4),
        (ct, tag[:-1] + bytes([tag[-1] ^ 0x80]), A4),
        (ct, tag, A4[:-1]),
    ):
        with pytest.raises(SecurityError) as e:
            g.decrypt(IV3, bad_ct, bad_tag, bad_aad)
        assert e.value.kind == "auth-tag"
        assert "check" in e.value.message
    with pytest.raises(SecurityError) as e:
        gcm.Gcm(bytes(16), backend).decrypt(IV3, ct, tag, A4)  # wrong key
    assert e.value.kind == "auth-tag"


def test_iv_and_taglen_rules():
    g = gcm.Gcm(K3)
    for iv in (bytes(8), bytes(16), b""):
        with pytest.raises(ConfigError) as e:
            g.encrypt(iv, b"x")
        assert e.value.kind == "iv"
    with pytest.raises(ConfigError):
        g.encrypt(IV3, b"x", taglen=17)
    with pytest.raises(ConfigError):
        g.gmac(IV3, b"x", taglen=2)
    with pytest.raises(ConfigError):
        gcm.Gcm(K3, accel=True)  # no viper on CPython


def test_into_variants_in_place():
    g = gcm.Gcm(K3)
    buf = bytearray(P3[:60])
    tag = bytes(g.encrypt_into(IV3, buf, buf, A4))
    assert bytes(buf) == C3[:60] and tag == H("5bc94fbc3221a5db94fae95ae7121a47")
    g.decrypt_into(IV3, memoryview(buf), buf, tag[:12], A4)
    assert bytes(buf) == P3[:60]


def test_long_messages_carry_the_counter():
    """GCTR counter blocks past 255 and 65535 (the counter's bytes 14 and 13), against
    cryptography's AESGCM (OpenSSL AES for speed, the pure GHASH)."""
    key, iv, aad = bytes(range(16)), bytes(range(12)), b"\x30" + bytes(16)
    g = gcm.Gcm(key, "cryptography", False)
    for n in (16 * 300 + 5, 16 * 65540 + 3):
        pt = bytes(i * 7 & 255 for i in range(n))
        ct, tag = g.encrypt(iv, pt, aad, 16)
        assert ct + tag == AESGCM(key).encrypt(iv, pt, aad)
        assert g.decrypt(iv, ct, tag, aad) == pt


def test_ct_equal():
    assert gcm.ct_equal(b"abc", bytearray(b"abc"))
    assert not gcm.ct_equal(b"abc", b"abd")
    assert not gcm.ct_equal(b"abc", b"ab")
    assert gcm.ct_equal(b"", b"")


def test_repr_has_no_key():
    r = repr(gcm.Gcm(K3))
    assert "feffe9" not in r.lower() and "backend" in r


@settings(max_examples=80, deadline=None)
@given(st.binary(min_size=16, max_size=16), st.binary(min_size=12, max_size=12),
       st.binary(max_size=100), st.binary(max_size=50), st.sampled_from(BACKENDS))
def test_matches_cryptography(key, iv, pt, aad, backend):
    ref = AESGCM(key).encrypt(iv, pt, aad)
    g = gcm.Gcm(key, backend)
    ct, tag = g.encrypt(iv, pt, aad, taglen=16)
    assert ct + tag == ref
    assert g.decrypt(iv, ct, tag, aad) == pt
    assert g.gmac(iv, aad, 16) == AESGCM(key).encrypt(iv, b"", aad)
