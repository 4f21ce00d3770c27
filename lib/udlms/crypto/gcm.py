"""AES-GCM-128 (NIST SP 800-38D) for 96-bit IVs: the GCM API of the tools, tests and trace
decoder. The code a session runs is :class:`udlms.crypto.security.Gcm` (one module for the
ciphering phase). No board build has this module (tools/build/mpy.py ``FULL_ONLY``); its
device copy (the MicroPython lane's tests and GCM bench) only names ``Gcm``, ``block``,
``ACCEL``.

On a PC (``_FULL``) ``Gcm`` adds the convenience forms (``encrypt``, ``decrypt``, ``gmac``,
``*_into``: GCM-AE §7.1, GCM-AD §7.2, GMAC) and :func:`new` picks :data:`HOST`
(:class:`udlms.host.gcm_host.HostGcm`, OpenSSL) when the AES backend is ``cryptography``;
:func:`register` is how :mod:`udlms.host` makes both known (:mod:`udlms.crypto.pc`).
"""

from udlms.crypto import security as _sec
from udlms.crypto.security import block  # noqa: F401
from udlms.port import const

# _FULL: 0 in the device build (tools/build/msgtable.py): the PC's generality is left out
_FULL = const(1)

ACCEL = "viper" if _sec.viper is not None else None

if _FULL:
    from udlms.crypto.pc import ORDER, backends, best  # noqa: F401
    from udlms.errors import ConfigError

    HOST = None  # on a PC: udlms.host.gcm_host.HostGcm, set by udlms.host at start-up

    def register(host):
        """Make the ``cryptography`` backend (``host``: :mod:`udlms.host.aes_host`) and
        :data:`HOST` available; called by :mod:`udlms.host` on CPython."""
        from udlms.crypto import pc

        pc.register(host, new)

    def new(key, backend=None, accel=None):
        """The GCM for ``key``: :class:`Gcm`, or on a PC (AES backend ``cryptography``, no
        ``accel`` asked for) :data:`HOST`, where OpenSSL does all of GCM (GHASH in Python is
        most of a session's CPU there)."""
        if accel is None and HOST is not None and (backend or best()) == "cryptography":
            return HOST(key)
        return Gcm(key, backend, accel)

    def ct_equal(a, b):
        """True when a and b are equal; time depends only on their lengths."""
        if len(a) != len(b):
            return False
        acc = 0
        for i in range(len(a)):
            acc |= a[i] ^ b[i]
        return acc == 0

    def _taglen(t):
        if t < 4 or t > 16:
            raise ConfigError("GCM tag length must be 4..16 bytes (suite 0 uses 12)",
                              "tag-length")

    class Gcm(_sec.Gcm):
        """AES-GCM-128 for one key (:class:`udlms.crypto.security.Gcm`) with the PC's API;
        ``accel`` True: viper GHASH or ConfigError."""

        def __init__(self, key, backend=None, accel=None):
            if accel and _sec.viper is None:
                raise ConfigError("viper GHASH is not available on this runtime", "backend")
            _sec.Gcm.__init__(self, key, backend, accel)
            self.accel = ACCEL if accel is not False else None

        def __repr__(self):
            return "Gcm(backend=%s, accel=%s)" % (self.backend, self.accel)

        def encrypt_into(self, iv, src, dst, aad=b""):
            """Encrypt len(src) bytes into dst (may be src); returns the 16-byte tag buffer
            (reused by the next call: copy what you keep)."""
            return self.crypt(iv, src, dst, aad)

        def decrypt_into(self, iv, src, dst, tag, aad=b""):
            """Check ``tag`` over (aad, src) first, then decrypt src into dst (may be src)."""
            return self.crypt(iv, src, dst, aad, tag)

        def encrypt(self, iv, plaintext, aad=b"", taglen=12):
            """(ciphertext, tag[:taglen]) for a 96-bit iv."""
            _taglen(taglen)
            ct = bytearray(len(plaintext))
            s = self.crypt(iv, plaintext, ct, aad)
            return bytes(ct), bytes(s[:taglen])

        def decrypt(self, iv, ct, tag, aad=b""):
            """Plaintext, or SecurityError kind "auth-tag" when the tag does not verify."""
            out = bytearray(len(ct))
            self.crypt(iv, ct, out, aad, tag)
            return bytes(out)

        def gmac(self, iv, aad, taglen=12):
            """GMAC: the GCM tag over aad with an empty plaintext."""
            _taglen(taglen)
            return bytes(self.crypt(iv, b"", bytearray(0), aad)[:taglen])
else:
    Gcm = _sec.Gcm
