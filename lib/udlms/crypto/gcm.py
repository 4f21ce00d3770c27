"""AES-GCM-128 (NIST SP 800-38D) for 96-bit IVs, and the AES block port it is built on
(FIPS 197 forward cipher: ``cryptolib`` on MicroPython, ``aesio`` on CircuitPython,
``cryptography`` registered by the host package on CPython, else the pure table AES of
:mod:`udlms.crypto.aes_pure`; also reached as :mod:`udlms.crypto.aes`). One module: a
session loads the ciphering code once.

GCTR with inc32 (§6.5), GHASH (§6.4) with a 4-bit (Shoup) table of 16 multiples of H held
as 16-bit limbs (288 bytes per key, no long integers), GMAC, constant-time tag comparison.
All state lives in per-key preallocated bytearrays: :meth:`Gcm.crypt` (GCM-AE §7.1 and
GCM-AD §7.2 in one) does not allocate. The optional :mod:`udlms.crypto.ghash_viper`
replaces the two inner loops on MicroPython.

The device build (``_FULL`` 0, tools/build/msgtable.py) keeps only what a session calls:
``block`` tries cryptolib, aesio, pure in turn and ``Gcm.crypt``; the backend registry
(``ORDER``, ``backends``, ``best``, ``register``, ``HOST``, ``new``) and the convenience
methods (``encrypt``, ``decrypt``, ``gmac``, ``*_into``) are PC-only.
"""

from array import array

from udlms.errors import ConfigError, SecurityError
from udlms.port import const

# _FULL: 0 in the device build (tools/build/msgtable.py): the PC's generality is left out
_FULL = const(1)

try:
    from udlms.crypto import ghash_viper as _viper  # SyntaxError without a native emitter
except Exception:  # noqa: BLE001 - ImportError, SyntaxError, MemoryError (no exec RAM)
    _viper = None

ACCEL = "viper" if _viper is not None else None

# -- the AES block port (FIPS 197; reached as udlms.crypto.aes.<name>) ----------------------

if _FULL:  # the backend registry: a board just tries cryptolib, aesio, pure in turn
    ORDER = ("cryptolib", "aesio", "cryptography", "pure")

    _found = {}
    _host = None  # the PC back-end (udlms.host.aes_host), set by register()
    HOST = None  # on a PC: udlms.host.gcm_host.HostGcm, set by udlms.host at start-up

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
                if name == "pure":
                    m = True  # always there (udlms.crypto.aes_pure)
                elif name == "cryptolib":
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

    def backends(first=False):
        """Names of the AES backends available on this runtime, best first (``first``: the
        best one only, and stop looking there)."""
        r = []
        for n in ORDER:
            if _module(n) is not None:
                if first:
                    return n
                r.append(n)
        return r

    def best():
        """The name of the first backend this runtime has (stops looking there)."""
        return backends(True)

    def ct_equal(a, b):
        """True when a and b are equal; time depends only on their lengths."""
        if len(a) != len(b):
            return False
        acc = 0
        for i in range(len(a)):
            acc |= a[i] ^ b[i]
        return acc == 0

    def new(key, backend=None, accel=None):
        """The GCM for ``key``: :class:`Gcm`, or on a PC (AES backend ``cryptography``, no
        ``accel`` asked for) the registered :data:`HOST` class
        (:class:`udlms.host.gcm_host.HostGcm`), where OpenSSL does all of GCM (GHASH in
        Python is most of a session's CPU there)."""
        if accel is None and HOST is not None and (backend or best()) == "cryptography":
            return HOST(key)
        return Gcm(key, backend, accel)


def block(key, backend=None):
    """``(name, encrypt)`` for ``key`` (16 bytes) on the best (or the named) backend, with
    ``encrypt(src16, dst16)`` (forward cipher only: CTR and GHASH never need the inverse)."""
    if key is None or len(key) != 16:
        raise ConfigError("AES key must be 16 bytes (security suite 0 is AES-128)", "key")
    if _FULL:
        if backend is not None and backend not in ORDER:
            raise ConfigError("unknown AES backend %s" % backend, "backend")
        names = ORDER
    else:
        names = ("cryptolib", "aesio", "pure")
    for n in names if backend is None else (backend,):
        try:
            if _FULL:
                m = _module(n)
                if m is None:
                    raise ImportError(n)
            elif n == "cryptolib":
                import cryptolib as m
            elif n == "aesio":
                import aesio as m
            if n == "cryptolib":
                return n, m.aes(bytes(key), 1).encrypt  # 1 = ECB; one-way, encrypt only
            if n == "aesio":
                return n, m.AES(bytes(key), m.MODE_ECB).encrypt_into
            if n == "pure":
                from udlms.crypto.aes_pure import Aes

                return n, Aes(key).encrypt_block
            if _FULL:
                return n, _host.encryptor(key, m)
        except ImportError:
            if backend is not None:
                raise ConfigError("AES backend %s is not available here" % n, "backend")


# -- GCM (NIST SP 800-38D) -----------------------------------------------------------------

class Gcm:
    """AES-GCM-128 for one key. ``backend`` picks the AES port (see udlms.crypto.aes);
    ``accel`` None = viper GHASH when available, False = pure, True = viper or ConfigError."""

    def __init__(self, key, backend=None, accel=None):
        self.backend, enc = block(key, backend)
        if _FULL and accel and _viper is None:  # (a board's session never asks)
            raise ConfigError("viper GHASH is not available on this runtime", "backend")
        if accel is False or _viper is None:
            from udlms.crypto import ghash_pure as g

            accel = None
        else:
            g = _viper
            accel = "viper"
        if _FULL:
            self.accel = accel
        h = bytearray(16)
        enc(h, h)  # H = E_K(0^128)
        # 16 multiples of H as 8 big-endian 16-bit limbs each, then the R table (144 limbs).
        # Entry 8 is H, 4 is H*x, 2 is H*x^2, 1 is H*x^3 (a nibble's top bit is the lowest
        # power).
        m = array("H", range(144))  # no 288-byte temporary; every entry is set below
        for k in range(8):
            m[k] = 0  # 0 * H
            m[64 + k] = (h[2 * k] << 8) | h[2 * k + 1]
        src = 8
        for dst in (4, 2, 1):  # multiply by x: shift right one bit, reduce
            s = src << 3
            d = dst << 3
            carry = m[s + 7] & 1
            for k in range(7, 0, -1):
                m[d + k] = (m[s + k] >> 1) | ((m[s + k - 1] & 1) << 15)
            m[d] = (m[s] >> 1) ^ (0xE100 if carry else 0)
            src = dst
        for i in range(16):
            a = i & (i - 1)  # i without its lowest set bit
            if a:  # not a power of two: the XOR of two entries
                b = (i ^ a) << 3
                d = i << 3
                for k in range(8):
                    m[d + k] = m[(a << 3) + k] ^ m[b + k]
            # R: reduction of the 4 bits i shifted out of the right end, top 16 bits
            # (x^128 = 1+x+x^2+x^7: bit j of i gives 0x1C20 << j)
            a = 0
            for k in range(4):
                if (i >> k) & 1:
                    a ^= 0x1C20 << k
            m[128 + i] = a
        # one attribute: AES, table, GHASH, GCTR xor, then counter, key stream, GHASH
        # state, E_K(J0) and tag buffers (16 bytes each)
        self._st = (enc, m, g.ghash, g.xor_at, h, bytearray(16), bytearray(16),
                    bytearray(16), bytearray(16))

    def crypt(self, iv, src, dst, aad=b"", tag=None):
        """GCM-AE (§7.1) with ``tag`` None: encrypt src into dst (may be src), return the
        16-byte tag buffer (reused by the next call: copy what you keep). GCM-AD (§7.2) with
        ``tag`` (4..16 bytes): check it over (aad, src) first, SecurityError "auth-tag" when
        it does not match, then decrypt src into dst; returns dst. GMAC: src empty."""
        enc, m, gh, xor, c, ks, y, e, s = self._st
        if len(iv) != 12:
            raise ConfigError("GCM IV must be 12 bytes (system title 8 + invocation counter 4)",
                              "iv")
        if tag is not None and (len(tag) < 4 or len(tag) > 16):
            raise ConfigError("GCM tag length must be 4..16 bytes (suite 0 uses 12)",
                              "tag-length")
        for i in range(12):  # J0 = IV || 0^31 || 1
            c[i] = iv[i]
        c[12] = 0
        c[13] = 0
        c[14] = 0
        c[15] = 1
        enc(c, e)  # E_K(J0) masks the tag
        n = len(src)
        # encrypting: GCTR, then the tag over the ciphertext (dst); decrypting: the tag over
        # the ciphertext (src) and its check first, then GCTR
        for p in (1, 0) if tag is None else (0, 1):
            if p:  # GCTR (§6.5) from inc32(J0)
                pos = 0
                while pos < n:
                    j = 15  # inc32: the low 32 bits only
                    while True:
                        v = (c[j] + 1) & 255
                        c[j] = v
                        if v or j == 12:
                            break
                        j -= 1
                    enc(c, ks)
                    v = n - pos
                    if v > 16:
                        v = 16
                    xor(dst, src, ks, (pos << 5) | v)
                    pos += 16
                continue
            # tag: GHASH(A, C, len(A)||len(C)) xor E_K(J0) (§7.1 steps 5-6)
            for i in range(16):
                y[i] = 0
            a = len(aad)
            gh(y, aad, a, m)
            gh(y, src if tag else dst, n, m)
            a <<= 3
            v = n << 3
            for i in range(8):
                s[7 - i] = (a >> (8 * i)) & 255
                s[15 - i] = (v >> (8 * i)) & 255
            gh(y, s, 16, m)
            for i in range(16):
                s[i] = y[i] ^ e[i]
            if tag is None:
                return s
            a = 0
            for i in range(len(tag)):
                a |= s[i] ^ tag[i]
            if a:
                raise SecurityError("authentication tag does not match: wrong keys (check "
                                    "EK/AK) or the data was altered", "auth-tag")
        return dst

    if _FULL:  # the PC's API (tests, decoder, bench); a session calls crypt only
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


if _FULL:
    def _taglen(t):
        if t < 4 or t > 16:
            raise ConfigError("GCM tag length must be 4..16 bytes (suite 0 uses 12)",
                              "tag-length")
