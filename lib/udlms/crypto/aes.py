"""AES-128 block primitive (FIPS 197), the port layer for security suite 0.

``block(key)`` returns ``(name, encrypt)`` with ``encrypt(src16, dst16)`` (forward cipher
only: CTR and GHASH never need the inverse); ``new(key)`` wraps that in an object with
``name`` and ``encrypt_block``. Backends, tried in this order:

- ``cryptolib``: MicroPython ``cryptolib.aes(key, 1)`` (ECB), used as it is: on a board
  this module is all the AES code in RAM;
- ``aesio``: CircuitPython ``aesio.AES(key, MODE_ECB).encrypt_into``;
- ``cryptography``: CPython, an ECB encryptor that the host package registers at start-up
  (:mod:`udlms.host.aes_host`, :func:`register`; the crypto layer never imports host code);
- ``pure``: byte-oriented table AES (:mod:`udlms.crypto.aes_pure`); slow but runs everywhere.

Key bytes are never kept in a repr or put in an error message.
"""

from udlms.errors import ConfigError

ORDER = ("cryptolib", "aesio", "cryptography", "pure")

_found = {}
_host = None  # the PC back-end (udlms.host.aes_host), set by register()


def register(host):
    """Make the ``cryptography`` backend available: ``host`` has ``module()`` (the runtime
    module, ImportError when absent) and ``encryptor(key, module)``. Called by
    :mod:`udlms.host` on CPython."""
    global _host
    _host = host
    _found.pop("cryptography", None)


def _module(name):
    """The runtime module for a backend, or None when this runtime does not have it
    (looked up once: failed imports cost filesystem searches on every call)."""
    if name not in _found:
        try:
            if name == "cryptolib":
                import cryptolib as m
            elif name == "aesio":
                import aesio as m
            elif _host is None:
                raise ImportError(name)
            else:
                m = _host.module()
        except ImportError:
            m = None
        _found[name] = m
    return _found[name]


def backends():
    """Names of the AES backends available on this runtime, best first."""
    return [n for n in ORDER if n == "pure" or _module(n) is not None]


def best():
    """The name of the first backend this runtime has (stops looking there)."""
    for n in ORDER:
        if n == "pure" or _module(n) is not None:
            return n


def block(key, backend=None):
    """``(name, encrypt)`` for ``key`` (16 bytes) on the best (or the named) backend."""
    if key is None or len(key) != 16:
        raise ConfigError("AES key must be 16 bytes (security suite 0 is AES-128)", "key")
    if backend is not None and backend not in ORDER:
        raise ConfigError("unknown AES backend %s" % backend, "backend")
    for n in ORDER if backend is None else (backend,):
        if n == "pure":
            from udlms.crypto.aes_pure import Aes

            return n, Aes(key).encrypt_block
        m = _module(n)
        if m is None:
            if backend is not None:
                raise ConfigError("AES backend %s is not available here" % n, "backend")
        elif n == "cryptolib":
            return n, m.aes(bytes(key), 1).encrypt  # 1 = ECB; one-way, encrypt only
        elif n == "aesio":
            return n, m.AES(bytes(key), m.MODE_ECB).encrypt_into
        else:
            return n, _host.encryptor(key, m)


class _Block:
    """What :func:`new` returns: ``name`` and ``encrypt_block(src16, dst16)``."""

    def __init__(self, key, backend):
        self.name, self.encrypt_block = block(key, backend)


def new(key, backend=None):
    """An AES-128 block encryptor for ``key`` (16 bytes) on the best (or the named) backend."""
    return _Block(key, backend)
