"""AES-128 block primitive (FIPS 197), the port layer for security suite 0.

``new(key)`` returns an object with ``encrypt_block(src16, dst16)`` (forward cipher only:
CTR and GHASH never need the inverse). Backends, tried in this order:

- ``cryptolib``: MicroPython ``cryptolib.aes(key, 1)`` (ECB). One object per key; such an
  object is one-way (encrypt only) and may encrypt any number of blocks.
- ``aesio``: CircuitPython ``aesio.AES(key, MODE_ECB)``, ``encrypt_into`` 16 bytes a call.
- ``cryptography``: CPython, an ECB encryptor.
- ``pure``: byte-oriented table AES written here (S-box and xtime tables, preallocated state);
  slow but runs everywhere.

Key bytes are never kept in a repr or put in an error message.
"""

from udlms.errors import ConfigError

ORDER = ("cryptolib", "aesio", "cryptography", "pure")

class _Cryptolib:
    name = "cryptolib"

    def __init__(self, key, mod):
        self._aes = mod.aes(bytes(key), 1)  # 1 = ECB; one-way object, encrypt only

    def encrypt_block(self, src, dst):
        self._aes.encrypt(src, dst)


class _Aesio:
    name = "aesio"

    def __init__(self, key, mod):
        self._aes = mod.AES(bytes(key), mod.MODE_ECB)

    def encrypt_block(self, src, dst):
        self._aes.encrypt_into(src, dst)


class _Cryptography:
    name = "cryptography"

    def __init__(self, key, mod):
        c = mod.Cipher(mod.algorithms.AES(bytes(key)), mod.modes.ECB())
        self._enc = c.encryptor()
        self._buf = bytearray(32)  # update_into wants room for len + block - 1

    def encrypt_block(self, src, dst):
        try:
            self._enc.update_into(bytes(src[:16]), self._buf)
            dst[:16] = self._buf[:16]
        except AttributeError:  # pragma: no cover - very old cryptography
            dst[:16] = self._enc.update(bytes(src[:16]))


def _pure(key):
    from udlms.aes_pure import Aes

    return Aes(key)


_found = {}


def _module(name):
    """The runtime module for a backend, or None when this runtime does not have it
    (looked up once: failed imports cost filesystem searches on every call)."""
    if name not in _found:
        _found[name] = _find(name)
    return _found[name]


def _find(name):
    try:
        if name == "cryptolib":
            try:
                import cryptolib as m
            except ImportError:
                import ucryptolib as m
            return m
        if name == "aesio":
            import aesio as m

            return m
        if name == "cryptography":
            from cryptography.hazmat.primitives import ciphers as m

            return m
    except ImportError:
        return None
    return None


def backends():
    """Names of the AES backends available on this runtime, best first."""
    out = []
    for n in ORDER:
        if n == "pure" or _module(n) is not None:
            out.append(n)
    return out


def new(key, backend=None):
    """An AES-128 block encryptor for ``key`` (16 bytes) on the best (or the named) backend."""
    if key is None or len(key) != 16:
        raise ConfigError("AES key must be 16 bytes (security suite 0 is AES-128)", "key")
    names = ORDER if backend is None else (backend,)
    for n in names:
        if n == "pure":
            return _pure(key)
        if n not in ORDER:
            raise ConfigError("unknown AES backend %s" % n, "backend")
        m = _module(n)
        if m is None:
            if backend is not None:
                raise ConfigError("AES backend %s is not available here" % n, "backend")
            continue
        if n == "cryptolib":
            return _Cryptolib(key, m)
        if n == "aesio":
            return _Aesio(key, m)
        return _Cryptography(key, m)
    return _pure(key)  # pragma: no cover
