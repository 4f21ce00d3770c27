"""udlms.crypto.aes: the AES-128 block port (FIPS 197) on every backend, and the aesio path."""

import sys
import types

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from udlms.crypto import aes, gcm, pc
from udlms.errors import ConfigError

KEY = bytes(range(16))
PT = bytes.fromhex("00112233445566778899aabbccddeeff")
CT = bytes.fromhex("69c4e0d86a7b0430d8cdb78070b4c55a")  # FIPS 197 Appendix C.1


def _ecb(key, block):
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    e = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return e.update(block) + e.finalize()


class _FakeAES:
    """CircuitPython aesio.AES stand-in with its length rules (ECB: exactly 16 bytes)."""

    calls = 0

    def __init__(self, key, mode=1, IV=None):
        assert len(key) in (16, 24, 32)
        assert mode == 1
        self._key = bytes(key)

    def encrypt_into(self, src, dest):
        if len(src) != 16 or len(dest) != 16:
            raise ValueError("ECB needs 16 bytes")
        _FakeAES.calls += 1
        dest[:] = _ecb(self._key, bytes(src))


@pytest.fixture
def fake_aesio(monkeypatch):
    m = types.ModuleType("aesio")
    m.AES = _FakeAES
    m.MODE_ECB = 1
    m.MODE_CBC = 2
    m.MODE_CTR = 6
    monkeypatch.setitem(sys.modules, "aesio", m)
    monkeypatch.setattr(pc, "_found", {})  # backends are looked up once per runtime (in pc)
    return m


def test_backends_here():
    b = aes.backends()
    assert b[-1] == "pure"
    assert "cryptography" in b
    assert "cryptolib" not in b  # CPython


@pytest.mark.parametrize("backend", aes.backends())
def test_fips197_vector(backend):
    a = aes.new(KEY, backend)
    assert a.name == backend
    out = bytearray(16)
    a.encrypt_block(PT, out)
    assert bytes(out) == CT
    a.encrypt_block(memoryview(PT), memoryview(out))  # many blocks, views allowed
    assert bytes(out) == CT


def test_default_order_on_cpython():
    assert aes.new(KEY).name == "cryptography"


def test_in_place_pure():
    buf = bytearray(PT)
    aes.new(KEY, "pure").encrypt_block(buf, buf)
    assert bytes(buf) == CT


def test_aesio_path(fake_aesio):
    assert aes.backends()[:2] == ["aesio", "cryptography"]
    a = aes.new(KEY)
    assert a.name == "aesio"
    out = bytearray(16)
    n = _FakeAES.calls
    a.encrypt_block(PT, out)
    assert bytes(out) == CT and _FakeAES.calls == n + 1
    g = gcm.Gcm(bytes(16))
    assert g.backend == "aesio"
    assert g.encrypt(bytes(12), b"", taglen=16)[1].hex() == "58e2fccefa7e3061367f1d57a4e7455a"


def test_bad_key_and_backend():
    with pytest.raises(ConfigError) as e:
        aes.new(bytes(15))
    assert e.value.kind == "key"
    with pytest.raises(ConfigError) as e:
        aes.new(KEY, "cryptolib")
    assert e.value.kind == "backend"
    with pytest.raises(ConfigError):
        aes.new(KEY, "rot13")


def test_repr_has_no_key():
    key = bytes.fromhex("D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF")
    for b in aes.backends():
        r = repr(aes.new(key, b)) + str(aes.new(key, b))
        assert "d0d1" not in r.lower()


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=16, max_size=16), st.binary(min_size=16, max_size=16))
def test_pure_matches_cryptography(key, block):
    out = bytearray(16)
    aes.new(key, "pure").encrypt_block(block, out)
    assert bytes(out) == _ecb(key, block)
