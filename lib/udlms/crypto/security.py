"""DLMS security suite 0 (Green Book §9.2.7): ciphered APDUs, HLS mechanism 5 (GMAC) over
AES-GCM-128 (NIST SP 800-38D) and the AES port (FIPS 197): one module for a session.
SC (§9.2.7.2.3): bit 7 compression, 6 key set (0 unicast), 5 encryption, 4 authentication,
3..0 suite. SH = SC ‖ IC; IV = system title ‖ IC (4, big-endian). AAD: SC 0x30 -> SC ‖ AK;
0x10 -> SC ‖ AK ‖ APDU (in clear, 12-byte tag); 0x20 -> none, no tag. Ciphered APDU = tag ‖
length ‖ SH ‖ C ‖ T; general-glo-ciphering (DB) puts the length-prefixed system title after
the tag (§9.5). Keys never appear in repr(), str() or error messages. The device build
(``_FULL`` 0) leaves out :mod:`udlms.crypto.pc` (AES registry, dedicated keys, general-glo
sending, tag helpers, reprs); :mod:`.gcm` and :mod:`.aes` are the tools' and tests' API."""

from array import array

from udlms.crypto import _TAGS  # the tag maps (the package)
from udlms.errors import ApduError, ConfigError, SecurityError
from udlms.port import const, random_bytes

# _FULL: 0 in the device build (tools/build/msgtable.py): the PC's generality is left out
_FULL = const(1)

_SC_AUTH = const(0x10)
_SC_ENC = const(0x20)
_SC_AUTH_ENC = const(0x30)
_GENERAL_GLO = const(0xDB)
_GENERAL_DED = const(0xDC)
_TAG_LEN = const(12)
_IC_MAX = const(0xFFFFFFFF)


def glo_tag(tag, n=False):
    """Ciphered tag for a plain xDLMS tag: glo- (C0->C8 ...) or, with ``n`` (a dedicated
    key), ded- (initiate request/response stay glo-)."""
    # bytes, not the int: bytes.find(int) fails on MicroPython v1.25 (the Pico lane's
    # firmware); plain tags sit at even, ciphered at odd places
    i = _TAGS.find(bytes((tag,)), 0 if n else 14)
    if i >= 0 and not i & 1:
        return _TAGS[i + 1]
    raise ApduError("APDU tag 0x%02X has no glo- ciphered form" % tag, "unexpected")


if _FULL:  # the PC half: AES registry, tag helpers, general-glo sending, dedicated keys
    from udlms.crypto import pc as _pc
    from udlms.crypto.pc import (GENERAL_DED, GENERAL_GLO, SC_AUTH, SC_AUTH_ENC,  # noqa: F401
                                 SC_ENC, general_glo, is_ciphered, plain_tag)
    from udlms.crypto.pc import SecurityPc as Base  # Security's PC methods

else:
    Base = object

try:
    from udlms.crypto import ghash_viper as viper  # SyntaxError without a native emitter
except Exception:  # noqa: BLE001 - ImportError, SyntaxError, MemoryError (no exec RAM)
    viper = None


def block(key, backend=None):
    """``(name, encrypt(src16, dst16))`` for ``key`` on the named or the first AES backend of
    cryptolib, aesio, (a PC's) cryptography, pure; forward cipher only (CTR, GHASH)."""
    if key is None or len(key) != 16:
        raise ConfigError("AES key must be 16 bytes (security suite 0 is AES-128)", "key")
    names = ("cryptolib", "aesio", "pure")
    if _FULL:
        names = _pc.ORDER
        if backend is not None and backend not in names:
            raise ConfigError("unknown AES backend %s" % backend, "backend")
    for n in names if backend is None else (backend,):
        try:
            if n == "pure":
                from udlms.crypto.aes_pure import block as pure
                return n, pure(key)
            if _FULL:
                m = _pc.load(n)
                if n == "cryptography":
                    return n, _pc.host.encryptor(key, m)
            else:
                m = __import__(n)
            if n == "aesio":
                return n, m.AES(bytes(key), m.MODE_ECB).encrypt_into
            return n, m.aes(bytes(key), 1).encrypt  # cryptolib, 1 = ECB (encrypt only)
        except ImportError:
            if backend is not None:
                raise ConfigError("AES backend %s is not available here" % n, "backend")


class Gcm:
    """AES-GCM-128 for one key: AES ``backend`` (:func:`block`), viper GHASH unless ``accel``
    is False (:mod:`.gcm`'s ``Gcm``: ConfigError for True without it)."""

    def __init__(self, key, backend=None, accel=None):
        self.backend, enc = block(key, backend)
        g = viper
        if accel is False or g is None:
            from udlms.crypto import ghash_pure as g
        h = bytearray(16)
        enc(h, h)  # H = E_K(0^128)
        # 16 multiples of H, 8 big-endian 16-bit limbs each (8: H, 4: H*x, 2: H*x^2, 1: H*x^3),
        # then R: the reduction of the 4 bits i shifted out (x^128 = 1+x+x^2+x^7: R[8] 0xE100)
        m = array("H", range(144))  # no 288-byte temporary; every entry is set below
        for k in range(8):
            m[64 + k] = (h[2 * k] << 8) | h[2 * k + 1]
        m[136] = 0xE100
        for d in (32, 16, 8):  # multiply by x: shift right one bit, reduce
            c = 0
            for k in range(8):
                a = m[2 * d + k]
                m[d + k] = (a >> 1) | c
                c = (a & 1) << 15
            if c:
                m[d] ^= 0xE100
            m[128 + (d >> 3)] = m[128 + (d >> 2)] >> 1
        for i in range(16):  # the XOR of i's lowest set bit's entry and the rest's: 0 first
            a = i & (i - 1)  # (entry 0: an entry XOR itself; powers of two: XOR entry 0)
            c = i ^ a
            for k in range(8):
                m[8 * i + k] = m[8 * a + k] ^ m[8 * c + k]
            m[128 + i] = m[128 + a] ^ m[128 + c]
        # AES, table, GHASH, GCTR; counter, key stream, GHASH state, E_K(J0), tag (16 B each)
        self.state = (enc, m, g.update, g.mask, h, bytearray(16), bytearray(16),
                    bytearray(16), bytearray(16))

    def crypt(self, iv, src, dest, data=b"", tag=None):
        """GCM-AE (§7.1), ``tag`` None: encrypt src into dest (may be src), return the 16-byte
        tag buffer (reused: copy what you keep). GCM-AD (§7.2): check ``tag`` (4..16 bytes) over
        (AAD ``data``, src) first (SecurityError "auth-tag"), then decrypt into dest. GMAC: src
        empty."""
        enc, m, gh, xor, c, ks, y, e, s = self.state
        if len(iv) != 12:
            raise ConfigError("GCM IV must be 12 bytes (system title 8 + invocation counter 4)",
                              "iv")
        if tag is not None and (len(tag) < 4 or len(tag) > 16):
            raise ConfigError("GCM tag length must be 4..16 bytes (suite 0 uses 12)",
                              "tag-length")
        xor(y, y, y, 16)  # GHASH state 0
        xor(c, iv, y, 12)  # J0 = IV || 0^31 || 1
        c[12] = c[13] = c[14] = 0
        c[15] = 1
        enc(c, e)  # E_K(J0) masks the tag
        n = len(src)
        # encrypting: GCTR, then the tag over dest; decrypting: the tag over src checked first
        for p in (1, 0) if tag is None else (0, 1):
            if p:  # GCTR (§6.5): counter blocks inc32(J0) = IV || 2, 3, ... (n < 2^28)
                for pos in range(0, n, 16):
                    v = (pos >> 4) + 2
                    c[13] = v >> 16
                    c[14] = (v >> 8) & 255
                    c[15] = v & 255
                    enc(c, ks)
                    v = n - pos
                    xor(dest, src, ks, (pos << 5) | (16 if v > 16 else v))
                continue
            a = len(data)  # the tag: GHASH(A, C, len(A) ‖ len(C)) xor E_K(J0) (§7.1 5-6)
            gh(y, data, a, m)
            gh(y, src if tag else dest, n, m)
            for i in range(8):  # the lengths in bits, 64-bit big-endian
                s[7 - i] = (a << 3 >> (8 * i)) & 255
                s[15 - i] = (n << 3 >> (8 * i)) & 255
            gh(y, s, 16, m)
            xor(s, y, e, 16)
            if tag is None:
                return s
            a = 0
            for i in range(len(tag)):
                a |= s[i] ^ tag[i]
            if a:
                raise SecurityError("authentication tag does not match: wrong keys (check "
                                    "EK/AK) or the data was altered", "auth-tag")
        return dest


def parse_ciphered(apdu):
    """Split a ciphered APDU: (tag, title or None, sc, ic, payload) with payload = C ‖ T
    (a memoryview). General-glo (DB/DC): tag, title length, title, length, SC, IC, C, T."""
    buf = memoryview(apdu)
    end = len(buf)
    if end < 2:
        raise ApduError("ciphered APDU too short", "malformed")
    tag = buf[0]
    general = tag in (_GENERAL_GLO, _GENERAL_DED)
    i = _TAGS.find(bytes((tag,)))  # glo- or ded-: the ciphered half of the pairs (odd places)
    if not (general or i > 0 and i & 1):
        raise SecurityError("APDU 0x%02X is not ciphered but the association requires it"
                            % tag, "security-control")
    pos = 1
    title = None
    for k in (0, 1) if general else (1,):  # A-XDR lengths (0x81..0x83 n): title's, content's
        if pos >= end:
            raise ApduError("ciphered APDU truncated before its length", "malformed")
        n = buf[pos]
        pos += 1
        if n >= 0x80:
            j = n & 0x7F
            if j == 0 or j > 3 or pos + j > end:
                raise ApduError("ciphered APDU has a bad length field", "malformed")
            n = 0
            for i in range(j):
                n = (n << 8) | buf[pos + i]
            pos += j
        if k:
            break
        if pos + n > end:
            raise ApduError("general-ciphering system title truncated", "malformed")
        if n:
            title = bytes(buf[pos:pos + n])
        pos += n
    if pos + n != end:
        raise ApduError("ciphered APDU length %d does not match the %d bytes received"
                        % (n, end - pos), "malformed")
    if n < 5:
        raise ApduError("ciphered APDU shorter than its security header", "malformed")
    sc = buf[pos]
    ic = (buf[pos + 1] << 24) | (buf[pos + 2] << 16) | (buf[pos + 3] << 8) | buf[pos + 4]
    return tag, title, sc, ic, buf[pos + 5:]


if _FULL:
    def new_challenge(n=16):
        """A fresh HLS challenge (CtoS) of n bytes (Green Book: 8..64) from the runtime's
        RNG."""
        if n < 8 or n > 64:
            raise ConfigError("HLS challenge must be 8..64 bytes", "config")
        return random_bytes(n)
else:  # a board's session asks for 8: the port's function itself
    new_challenge = random_bytes


class MemoryCounter:
    """Invocation counter held in RAM: ``next()`` returns a never-used value (for tests and
    one-shot host runs; boards use the firmware's persistent store)."""

    def __init__(self, start=0):
        if _FULL and (not isinstance(start, int) or start < 0 or start > _IC_MAX):
            raise ConfigError("invocation counter start must be 0..4294967295",
                              "counter-unavailable")
        self.value = start

    def next(self):
        v = self.value
        if v > _IC_MAX:
            raise SecurityError("invocation counter exhausted: the keys must be changed",
                                "counter-unavailable")
        self.value = v + 1
        return v

    if _FULL:
        def __repr__(self):
            return "MemoryCounter(%d)" % self.value


class Security(Base):
    """Security suite 0 for one association: our system title, EK/AK, the outgoing counter
    object (any object with ``next()``) and the meter's title and last invocation counter."""

    if _FULL:  # (here, not in pc: glo_tag is this module's)
        def glo_tag(self, plain):
            return glo_tag(plain, self._ded is not None)

    def __init__(self, ek, ak, system_title, counter, sc=_SC_AUTH_ENC, backend=None,
                 accel=None):
        if _FULL:  # (a board's config is checked: tokenpad.settings_check)
            if ek is None or len(ek) != 16:
                raise ConfigError("block cipher key EK must be 16 bytes", "key")
            if ak is None or len(ak) != 16:
                raise ConfigError("authentication key AK must be 16 bytes", "key")
            if system_title is None or len(system_title) != 8:
                raise ConfigError("system title must be 8 bytes", "system-title")
            if sc not in (_SC_AUTH, _SC_ENC, _SC_AUTH_ENC):
                raise ConfigError("security control 0x%02X not supported: use 0x10, 0x20 or "
                                  "0x30" % sc, "security-control")
        if _FULL and not hasattr(counter, "next"):  # (None has none; a board's session
            # passes its store's counter, checked for None first: refused.hls)
            raise SecurityError("no invocation counter object: resync from the meter's frame "
                                "counter first", "counter-unavailable")
        self.sc = sc
        self.system_title = bytes(system_title)
        self.counter = counter
        self.server_title = self.server_ic = self.last_ic = None  # the meter's; our last IC
        g = Gcm
        if _FULL:  # OpenSSL's GCM on a PC (udlms.crypto.gcm.new, registered by udlms.host)
            g = _pc.new or Gcm
            self._ded = None
            self._backend = (g, backend, accel)
        self.state = (g(ek, backend, accel), bytearray(1) + ak, bytearray(12))  # AAD: SC ‖ AK

    def crypt(self, title, ic, key, sc, src, tag=None):
        """IV = title ‖ IC, IC = counter.next() (checked, kept as ``last_ic``) when ``ic`` is
        None; the GCM for APDU tag ``key`` (ded-: the dedicated key, checked before any IC)
        over ``src`` (SC ``sc``, §9.2.7.2.4): GCM-AE (GCM-AD when given ``tag``) in place with
        AAD SC ‖ AK, or SC 0x10: GMAC over SC ‖ AK ‖ src. Returns the tag buffer."""
        g, aad, iv = self.state
        if key is not None and (0xD0 <= key <= 0xD7 or key == _GENERAL_DED):
            g = _FULL and self._ded  # (none on a board)
            if not g:
                raise SecurityError("ded- ciphered APDU but no dedicated key is set",
                                    "security-control")
        if ic is None:
            ic = self.counter.next()
            if not isinstance(ic, int) or ic < 0 or ic > _IC_MAX:
                raise SecurityError("invocation counter unusable or exhausted",
                                    "counter-unavailable")
            v = self.last_ic
            if v is not None and ic <= v:
                raise SecurityError("invocation counter did not increase (%d after %d): "
                                    "refusing to reuse it" % (ic, v),
                                    "counter-unavailable")
            self.last_ic = ic
        iv[0:8] = title
        for i in range(4):
            iv[11 - i] = (ic >> (8 * i)) & 255
        aad[0] = sc
        if sc & _SC_ENC:
            return g.crypt(iv, src, src, aad, tag)
        return g.crypt(iv, b"", b"", aad + src, tag)

    def protect(self, apdu, tag=None):
        """A new bytearray tag ‖ length ‖ SC ‖ IC ‖ C ‖ T, IC = counter.next(); ``tag``: the
        glo-/ded- form of apdu[0] by default; DB/DC (PC-only) add our system title."""
        if tag is None:  # (PC: ded- under a dedicated key)
            tag = glo_tag(apdu[0], _FULL and self._ded is not None)
        title = self.system_title
        sc = self.sc
        n = len(apdu)
        body = 5 + n + (_TAG_LEN if sc & _SC_AUTH else 0)
        p = 10 if _FULL and tag in (_GENERAL_GLO, _GENERAL_DED) else 1
        # A-XDR length of the body: short form < 128, else 0x81 / 0x82 and 1 or 2 bytes
        k = 0 if body < 0x80 else (1 if body < 0x100 else 2)
        out = bytearray(p + 1 + k + body)
        out[0] = tag
        if _FULL and p > 1:
            out[1] = 8
            out[2:10] = title
        out[p] = 0x80 | k if k else body
        for i in range(k):
            out[p + k - i] = (body >> (8 * i)) & 255
        p += 1 + k
        dst = memoryview(out)[p + 5:p + 5 + n]
        dst[:] = apdu  # (SC 0x20: its tag is not sent)
        t = self.crypt(title, None, tag, sc, dst)
        iv = self.state[2]
        out[p] = sc  # SC ‖ IC ‖ C ‖ T
        for i in range(4):
            out[p + 1 + i] = iv[8 + i]
        p += 5 + n
        for i in range(len(out) - p):  # the tag (none for SC 0x20)
            out[p + i] = t[i]
        return out

    def unprotect(self, apdu):
        """The plain APDU of the meter's ciphered one: SC (suite 0, unicast, at least our
        protection), title, IC (increasing; kept once the tag verifies), tag checked."""
        tag, title, sc, ic, payload = parse_ciphered(apdu)
        want = self.sc
        if sc & 0x0F:
            raise SecurityError("security suite %d is not supported (suite 0, AES-GCM-128 only)"
                                % (sc & 0x0F), "security-control")
        if sc & 0xC0:
            raise SecurityError("security control 0x%02X: compression / broadcast key not "
                                "supported" % sc, "security-control")
        if not sc & 0x30:
            raise SecurityError("security control 0x%02X has no protection" % sc,
                                "security-control")
        if (sc & want) != want:  # (want: 0x10, 0x20 or 0x30)
            raise SecurityError("meter answered with weaker protection (SC 0x%02X, need "
                                "0x%02X)" % (sc, want), "security-control")
        v = self.server_title
        if title is None:
            title = v
        elif v is not None and title != v:
            raise SecurityError("general-ciphering system title is not the meter's",
                                "system-title")
        if title is None or len(title) != 8:
            raise SecurityError("meter system title unknown: cannot decipher", "system-title")
        v = self.server_ic
        if v is not None and ic <= v:
            raise SecurityError("meter invocation counter %d not above the last one %d: "
                                "replayed or stale APDU" % (ic, v), "replay")
        tl = 12 if sc & 0x10 else 0
        n = len(payload) - tl
        if n < 0:
            raise ApduError("ciphered APDU too short for its %d-byte tag" % tl, "malformed")
        out = bytearray(payload[:n])
        # SC 0x20: CTR only, no integrity (GCM-AE's key stream, its tag unused)
        self.crypt(title, ic, tag, sc, out, payload[n:] if tl else None)
        self.server_ic = ic
        return out

    # -- HLS mechanism 5 (GMAC), Green Book §9.2.7.4 ---------------------------------------
    def f_stoc(self, challenge, ic=None, title=None, tag=None):
        """f(StoC), pass 3: 0x10 ‖ IC ‖ GMAC(EK; IV = title ‖ IC; AAD = 0x10 ‖ AK ‖ challenge),
        IC = counter.next() and our title unless given; ``tag``: check it (auth-tag) instead."""
        t = self.crypt(title or self.system_title, ic, None, _SC_AUTH, challenge, tag)
        iv = self.state[2]
        if tag is None:
            out = bytearray(5 + _TAG_LEN)
            out[0] = _SC_AUTH
            for i in range(4 + _TAG_LEN):
                out[1 + i] = iv[8 + i] if i < 4 else t[i - 4]
            return out

    def verify_ctos(self, challenge, tag):
        """Check the meter's f(CtoS) ``tag`` (pass 4); SecurityError 'meter-proof' if it fails."""
        if _FULL and self.server_title is None:  # (a board's session sets it first)
            raise SecurityError("meter system title unknown: cannot check its proof",
                                "system-title")
        p = bytes(tag)
        if len(p) != 5 + _TAG_LEN or p[0] != _SC_AUTH:
            raise SecurityError("meter's HLS proof f(CtoS) is malformed (%d bytes)" % len(p),
                                "meter-proof")
        try:
            self.f_stoc(challenge, int.from_bytes(p[1:5], "big"), self.server_title, p[5:])
        except SecurityError:
            raise SecurityError("meter's HLS proof f(CtoS) does not verify: wrong keys (check "
                                "EK/AK) or not the expected meter", "meter-proof")
        return True
