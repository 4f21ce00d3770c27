"""AES-128 block primitive (FIPS 197), the port layer for security suite 0.

``new(key)`` returns an object with ``name`` and ``encrypt_block(src16, dst16)`` (forward
cipher only: CTR and GHASH never need the inverse) on the best (or the named) backend:
``cryptolib`` (MicroPython, ECB), ``aesio`` (CircuitPython), ``cryptography`` (CPython,
registered by :mod:`udlms.host`), ``pure`` (:mod:`udlms.crypto.aes_pure`, runs everywhere).
The backend choice is :func:`udlms.crypto.security.block` (a session loads that module
only); this module is for the REPL's self-test and the tools. In the device build
(``_FULL`` 0) ``backends()`` asks each board backend in turn; on a PC the registry is
:mod:`udlms.crypto.pc`. Key bytes are never kept in a repr or put in an error message.
"""

from udlms.crypto.security import block
from udlms.port import const

# _FULL: 0 in the device build (tools/build/msgtable.py): the registry is the PC's
_FULL = const(1)

if _FULL:
    from udlms.crypto.gcm import register  # noqa: F401
    from udlms.crypto.pc import ORDER, backends, best  # noqa: F401
else:
    def backends():
        """Names of the AES backends this board has, best first (imports only: no key
        schedule, no tables)."""
        r = []
        for n in ("cryptolib", "aesio"):
            try:
                __import__(n)
            except ImportError:
                continue
            r.append(n)
        return r + ["pure"]


class _Block:
    """What :func:`new` returns: ``name`` and ``encrypt_block(src16, dst16)``."""

    def __init__(self, key, backend):
        self.name, self.encrypt_block = block(key, backend)


def new(key, backend=None):
    """An AES-128 block encryptor for ``key`` (16 bytes) on the best (or the named) backend."""
    return _Block(key, backend)
