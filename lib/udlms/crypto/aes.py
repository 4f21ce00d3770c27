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

The backend code lives in :mod:`udlms.crypto.gcm` (a session then loads one module); this
module gives the same names and ``new`` (the REPL's self-test and the tools use it). In the
device build (``_FULL`` 0) ``backends()`` asks each board backend in turn.

Key bytes are never kept in a repr or put in an error message.
"""

from udlms.crypto.gcm import block
from udlms.port import const

# _FULL: 0 in the device build (tools/build/msgtable.py): the registry is the PC's
_FULL = const(1)

if _FULL:
    from udlms.crypto.gcm import ORDER, backends, best, register  # noqa: F401
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
