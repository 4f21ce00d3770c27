"""DLMS security suite 0 (Green Book §9.2.7): ciphered APDUs and HLS mechanism 5 (GMAC).

Security control byte SC (§9.2.7.2.3): bit 7 compression, bit 6 key set (0 unicast),
bit 5 encryption, bit 4 authentication, bits 3..0 suite id. Security header SH = SC ‖ IC.
IV = system title (8) ‖ IC (4, big-endian). AAD: SC 0x30 -> SC ‖ AK; 0x10 -> SC ‖ AK ‖ APDU
(sent in clear, 12-byte tag); 0x20 -> none, no tag. Ciphered APDU = tag ‖ length ‖ SH ‖ C ‖ T;
general-glo-ciphering (DB) puts the length-prefixed system title after the tag (§9.5
xDLMS-APDU tags: the glo-/ded- maps below). Keys never appear in repr(), str() or error
messages.

The device build (``_FULL`` 0, tools/build/msgtable.py) leaves out what a board's token
path never calls: dedicated keys, sending general-glo-ciphering, the tag helpers' public
forms and the reprs (a board still reads general-glo and refuses ded- APDUs by name).
"""

from udlms.errors import ApduError, ConfigError, SecurityError
from udlms.port import const

# _FULL: 0 in the device build (tools/build/msgtable.py): the PC's generality is left out
_FULL = const(1)

_SC_AUTH = const(0x10)
_SC_ENC = const(0x20)
_SC_AUTH_ENC = const(0x30)
_GENERAL_GLO = const(0xDB)
_GENERAL_DED = const(0xDC)
_TAG_LEN = const(12)
_IC_MAX = const(0xFFFFFFFF)

# (plain, ciphered) pairs, Green Book §9.5 xDLMS-APDU tags: the ded- pairs (14 bytes), then
# the glo- ones
_TAGS = (b"\xc0\xd0\xc1\xd1\xc2\xd2\xc3\xd3\xc4\xd4\xc5\xd5\xc7\xd7"
         b"\x01\x21\x08\x28\x0e\x2e\xc0\xc8\xc1\xc9\xc2\xca\xc3\xcb\xc4\xcc\xc5\xcd\xc7\xcf")


def glo_tag(tag, n=False):
    """Ciphered tag for a plain xDLMS tag: glo- (C0->C8 ...) or, with ``n`` (a dedicated
    key), ded- (initiate request/response stay glo-)."""
    for i in range(0 if n else 14, len(_TAGS), 2):
        if _TAGS[i] == tag:
            return _TAGS[i + 1]
    raise ApduError("APDU tag 0x%02X has no glo- ciphered form" % tag, "unexpected")


if _FULL:
    def plain_tag(ciphered, check=True):
        """Plain xDLMS tag for a glo-/ded- tag (CB->C3); ApduError 'unexpected' for others
        (``check`` False: None)."""
        for i in range(1, len(_TAGS), 2):
            if _TAGS[i] == ciphered:
                return _TAGS[i - 1]
        if check:
            raise ApduError("APDU tag 0x%02X is not a glo-/ded- ciphered tag" % ciphered,
                            "unexpected")

    SC_AUTH = _SC_AUTH
    SC_ENC = _SC_ENC
    SC_AUTH_ENC = _SC_AUTH_ENC
    GENERAL_GLO = _GENERAL_GLO
    GENERAL_DED = _GENERAL_DED

    def is_ciphered(tag):
        """True for glo-, ded- and general-glo/ded-ciphering tags."""
        return tag in (_GENERAL_GLO, _GENERAL_DED) or plain_tag(tag, False) is not None

    def general_glo(title, body, tag=_GENERAL_GLO):
        """general-glo-ciphering: DB ‖ len(title) ‖ title ‖ len(body) ‖ body (SH ‖ C ‖ T)."""
        tl = len(title) if title else 0
        n = len(body)
        out = bytearray(_put_len(None, 2 + tl, n) + n)
        out[0] = tag
        out[1] = tl
        if tl:
            out[2:2 + tl] = title
        p = _put_len(out, 2 + tl, n)
        out[p:] = body
        return bytes(out)

    def _put_len(out, pos, n):
        """A-XDR length (short form < 128, else 0x81 / 0x82 long form) at ``pos``; returns the
        new pos. ``out`` None: only the new pos (the length's size)."""
        k = 0 if n < 0x80 else (1 if n < 0x100 else 2)
        if out is not None:
            if k:
                out[pos] = 0x80 | k
                for i in range(k):
                    out[pos + k - i] = (n >> (8 * i)) & 255
            else:
                out[pos] = n
        return pos + 1 + k


def new_challenge(n=16):
    """A fresh HLS challenge (CtoS) of n bytes (Green Book: 8..64) from the runtime's RNG."""
    if n < 8 or n > 64:
        raise ConfigError("HLS challenge must be 8..64 bytes", "config")
    from udlms.port import random_bytes

    return random_bytes(n)


def parse_ciphered(apdu):
    """Split a ciphered APDU: (tag, title or None, sc, ic, payload) with payload = C ‖ T
    (a memoryview). General-glo (DB/DC): tag, title length, title, length, SC, IC, C, T."""
    buf = memoryview(apdu)
    end = len(buf)
    if end < 2:
        raise ApduError("ciphered APDU too short", "malformed")
    tag = buf[0]
    general = tag in (_GENERAL_GLO, _GENERAL_DED)
    for i in range(1, len(_TAGS), 2):  # glo- or ded- (the ciphered half of the pairs)
        if general or _TAGS[i] == tag:
            break
    else:
        raise SecurityError("APDU 0x%02X is not ciphered but the association requires it"
                            % tag, "security-control")
    pos = 1
    title = None
    for k in (0, 1) if general else (1,):  # k 0: the title's length, 1: the content's
        # A-XDR length: short form, or 0x81..0x83 and that many bytes
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


class MemoryCounter:
    """Invocation counter held in RAM: ``next()`` returns a never-used value (for tests and
    one-shot host runs; boards use the firmware's persistent store)."""

    def __init__(self, start=0):
        if not isinstance(start, int) or start < 0 or start > _IC_MAX:
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


class Security:
    """Security suite 0 for one association: our system title, EK/AK, the outgoing counter
    object (any object with ``next()``) and the meter's title and last invocation counter."""

    def __init__(self, ek, ak, system_title, counter, sc=_SC_AUTH_ENC, backend=None,
                 accel=None):
        if ek is None or len(ek) != 16:
            raise ConfigError("block cipher key EK must be 16 bytes", "key")
        if ak is None or len(ak) != 16:
            raise ConfigError("authentication key AK must be 16 bytes", "key")
        if system_title is None or len(system_title) != 8:
            raise ConfigError("system title must be 8 bytes", "system-title")
        if sc not in (_SC_AUTH, _SC_ENC, _SC_AUTH_ENC):
            raise ConfigError("security control 0x%02X not supported: use 0x10, 0x20 or 0x30"
                              % sc, "security-control")
        if counter is None or not hasattr(counter, "next"):
            raise SecurityError("no invocation counter object: resync from the meter's frame "
                                "counter first", "counter-unavailable")
        self.sc = sc
        self.system_title = bytes(system_title)
        self.counter = counter
        self.server_title = None
        self.server_ic = None  # last meter IC accepted
        self.last_ic = None  # last IC we sent
        if _FULL:
            from udlms.crypto.gcm import new

            self._ded = None
            self._backend = (backend, accel)
            self._gcm = new(ek, backend, accel)
        else:
            from udlms.crypto.gcm import Gcm

            self._gcm = Gcm(ek, backend, accel)
        self._aad = bytearray(17)  # SC ‖ AK
        self._aad[1:] = ak
        self._iv = bytearray(12)

    if _FULL:  # dedicated keys, general-glo sending, reprs: a board's token path never uses them
        def __repr__(self):
            return "Security(sc=0x%02X, title=%s, server_title=%s, keys=set)" % (
                self.sc, self.system_title.hex().upper(),
                self.server_title.hex().upper() if self.server_title else None)

        __str__ = __repr__

        @property
        def backend(self):
            return self._gcm.backend

        def set_dedicated_key(self, key):
            """Use ded- tags under ``key`` for xDLMS services (None returns to glo-)."""
            if key is None:
                self._ded = None
            else:
                from udlms.crypto.gcm import new

                self._ded = new(key, *self._backend)

        def glo_tag(self, plain):
            return glo_tag(plain, self._ded is not None)

        def plain_tag(self, ciphered):
            return plain_tag(ciphered)

        def protect_general(self, apdu, dedicated=False):
            """general-glo-ciphering (DB, or DC with the dedicated key) carrying our system
            title."""
            return self.protect(apdu, _GENERAL_DED if dedicated else _GENERAL_GLO)

        def gmac_proof(self, challenge, ic, title):
            """f(challenge) = 0x10 ‖ IC ‖ GMAC(EK; IV = title ‖ IC; AAD = 0x10 ‖ AK ‖
            challenge)."""
            return self.f_stoc(challenge, ic, title)

    def _set_iv(self, title, ic=None, tag=None):
        """IV = title ‖ IC into the reused buffer, with IC = counter.next() when ``ic`` is
        None (checked: never reused, recorded as ``last_ic``); returns the GCM for ``tag``
        (ded- tags take the dedicated key; SecurityError when none is set: checked first, so
        no counter value is used up for it)."""
        g = self._gcm
        if tag is not None and (0xD0 <= tag <= 0xD7 or tag == _GENERAL_DED):
            g = None
            if _FULL:
                g = self._ded
            if g is None:
                raise SecurityError("ded- ciphered APDU but no dedicated key is set",
                                    "security-control")
        if ic is None:
            c = self.counter
            if c is None:
                raise SecurityError("no invocation counter", "counter-unavailable")
            ic = c.next()
            if not isinstance(ic, int) or ic < 0 or ic > _IC_MAX:
                raise SecurityError("invocation counter unusable or exhausted",
                                    "counter-unavailable")
            if self.last_ic is not None and ic <= self.last_ic:
                raise SecurityError("invocation counter did not increase (%d after %d): "
                                    "refusing to reuse it" % (ic, self.last_ic),
                                    "counter-unavailable")
            self.last_ic = ic
        iv = self._iv
        iv[0:8] = title
        for i in range(4):
            iv[11 - i] = (ic >> (8 * i)) & 255
        return g

    # -- outgoing ------------------------------------------------------------------------
    def protect(self, apdu, tag=None):
        """Cipher a plain APDU into a new bytearray: tag ‖ length ‖ SC ‖ IC ‖ C ‖ T with
        IC = counter.next(). ``tag`` defaults to the glo-/ded- form of apdu[0] (0x21 for an
        InitiateRequest); general-glo/ded-ciphering (DB/DC, PC-only) puts our system title
        after the tag."""
        if tag is None:
            if _FULL:
                tag = glo_tag(apdu[0], self._ded is not None)
            else:
                tag = glo_tag(apdu[0])
        title = self.system_title
        g = self._set_iv(title, None, tag)
        iv = self._iv
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
        # SC ‖ IC ‖ C ‖ T
        out[p] = sc
        for i in range(4):
            out[p + 1 + i] = iv[8 + i]
        p += 5
        dst = memoryview(out)[p:p + n]
        aad = self._aad
        aad[0] = sc
        if sc == _SC_AUTH_ENC:
            t = g.crypt(iv, apdu, dst, aad)
        elif sc == _SC_ENC:
            g.crypt(iv, apdu, dst, b"")
            return out
        else:
            dst[:] = apdu
            t = g.crypt(iv, b"", b"", aad + apdu)
        p += n
        for i in range(_TAG_LEN):
            out[p + i] = t[i]
        return out

    def unprotect(self, apdu):
        """Check and decipher a ciphered APDU from the meter: parse, check SC (suite 0,
        unicast, uncompressed, at least the protection we require), title and meter IC
        (strictly increasing), verify the tag, decipher; returns the plain APDU. The meter
        IC is recorded only after the tag verifies. SecurityError kinds: security-control,
        system-title, replay, auth-tag."""
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
        if (sc & want & 0x30) != (want & 0x30):
            raise SecurityError("meter answered with weaker protection (SC 0x%02X, need "
                                "0x%02X)" % (sc, want), "security-control")
        if title is not None:
            if self.server_title is not None and title != self.server_title:
                raise SecurityError("general-ciphering system title is not the meter's",
                                    "system-title")
        else:
            title = self.server_title
        if title is None or len(title) != 8:
            raise SecurityError("meter system title unknown: cannot decipher", "system-title")
        if self.server_ic is not None and ic <= self.server_ic:
            raise SecurityError("meter invocation counter %d not above the last one %d: "
                                "replayed or stale APDU" % (ic, self.server_ic), "replay")
        g = self._set_iv(title, ic, tag)
        iv = self._iv
        tl = 12 if sc & 0x10 else 0
        n = len(payload) - tl
        if n < 0:
            raise ApduError("ciphered APDU too short for its %d-byte tag" % tl, "malformed")
        ct = payload[:n]
        aad = self._aad
        aad[0] = sc
        if sc & 0x20:
            out = bytearray(n)
            # SC 0x20: CTR only, no integrity (GCM-AE's key stream, its tag unused)
            g.crypt(iv, ct, out, aad, payload[n:] if tl else None)
        else:  # SC 0x10: the tag covers AAD ‖ APDU, the APDU is in clear
            g.crypt(iv, b"", b"", aad + ct, payload[n:])
            out = bytearray(ct)
        self.server_ic = ic
        return out

    # -- HLS mechanism 5 (GMAC), Green Book §9.2.7.4 ---------------------------------------
    def f_stoc(self, challenge, ic=None, title=None, tag=None):
        """Our reply to the meter's challenge StoC (pass 3): f(challenge) = 0x10 ‖ IC ‖
        GMAC(EK; IV = title ‖ IC; AAD = 0x10 ‖ AK ‖ challenge) with IC = counter.next() and
        our title (``ic``, ``title``: those instead); with ``tag``: check it instead
        (SecurityError auth-tag when it does not match)."""
        self._set_iv(title or self.system_title, ic)
        iv = self._iv
        aad = self._aad
        aad[0] = _SC_AUTH
        t = self._gcm.crypt(iv, b"", b"", aad + challenge, tag)
        if tag is None:
            out = bytearray(5 + _TAG_LEN)
            out[0] = _SC_AUTH
            for i in range(4 + _TAG_LEN):
                out[1 + i] = iv[8 + i] if i < 4 else t[i - 4]
            return out

    def verify_ctos(self, challenge, tag):
        """Check the meter's f(CtoS) ``tag`` (pass 4); SecurityError 'meter-proof' when it
        fails."""
        if self.server_title is None:
            raise SecurityError("meter system title unknown: cannot check its proof",
                                "system-title")
        p = bytes(tag)
        if len(p) != 5 + _TAG_LEN or p[0] != _SC_AUTH:
            raise SecurityError("meter's HLS proof f(CtoS) is malformed (%d bytes)" % len(p),
                                "meter-proof")
        try:
            self.f_stoc(challenge, (p[1] << 24) | (p[2] << 16) | (p[3] << 8) | p[4],
                        self.server_title, p[5:])
        except SecurityError:
            raise SecurityError("meter's HLS proof f(CtoS) does not verify: wrong keys (check "
                                "EK/AK) or not the expected meter", "meter-proof")
        return True
