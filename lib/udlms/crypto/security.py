"""DLMS security suite 0 (Green Book §9.2.7): ciphered APDUs and HLS mechanism 5 (GMAC).

Security control byte SC (§9.2.7.2.3): bit 7 compression, bit 6 key set (0 unicast),
bit 5 encryption, bit 4 authentication, bits 3..0 suite id. Security header SH = SC ‖ IC.
IV = system title (8) ‖ IC (4, big-endian). AAD: SC 0x30 -> SC ‖ AK; 0x10 -> SC ‖ AK ‖ APDU
(sent in clear, 12-byte tag); 0x20 -> none, no tag. Ciphered APDU = tag ‖ length ‖ SH ‖ C ‖ T;
general-glo-ciphering (DB) puts the length-prefixed system title after the tag (§9.5
xDLMS-APDU tags: the glo-/ded- maps below). Keys never appear in repr(), str() or error
messages.
"""

from udlms.errors import ApduError, ConfigError, SecurityError
from udlms.crypto.gcm import ct_equal, new as _new_gcm
from udlms.port import const

SC_AUTH = const(0x10)
SC_ENC = const(0x20)
SC_AUTH_ENC = const(0x30)
GENERAL_GLO = const(0xDB)
GENERAL_DED = const(0xDC)
_GENERAL_GLO = const(0xDB)
_GENERAL_DED = const(0xDC)
_TAG_LEN = const(12)
_IC_MAX = const(0xFFFFFFFF)

# (plain, ciphered) pairs, Green Book §9.5 xDLMS-APDU tags
_GLO = b"\x01\x21\x08\x28\x0e\x2e\xc0\xc8\xc1\xc9\xc2\xca\xc3\xcb\xc4\xcc\xc5\xcd\xc7\xcf"
_DED = b"\xc0\xd0\xc1\xd1\xc2\xd2\xc3\xd3\xc4\xd4\xc5\xd5\xc7\xd7"


def glo_tag(plain, dedicated=False):
    """Ciphered tag for a plain xDLMS tag: glo- (C0->C8 ...) or, with a dedicated key, ded-
    (initiate request/response stay glo-)."""
    for t in (_DED, _GLO) if dedicated else (_GLO,):
        for i in range(0, len(t), 2):
            if t[i] == plain:
                return t[i + 1]
    raise ApduError("APDU tag 0x%02X has no glo- ciphered form" % plain, "unexpected")


def plain_tag(ciphered, check=True):
    """Plain xDLMS tag for a glo-/ded- tag (CB->C3); ApduError 'unexpected' for others
    (``check`` False: None)."""
    for t in (_GLO, _DED):
        for i in range(1, len(t), 2):
            if t[i] == ciphered:
                return t[i - 1]
    if check:
        raise ApduError("APDU tag 0x%02X is not a glo-/ded- ciphered tag" % ciphered,
                        "unexpected")


def is_ciphered(tag):
    """True for glo-, ded- and general-glo/ded-ciphering tags."""
    return tag in (_GENERAL_GLO, _GENERAL_DED) or plain_tag(tag, False) is not None


def new_challenge(n=16):
    """A fresh HLS challenge (CtoS) of n bytes (Green Book: 8..64) from the runtime's RNG."""
    if n < 8 or n > 64:
        raise ConfigError("HLS challenge must be 8..64 bytes", "config")
    from udlms.port import random_bytes

    return random_bytes(n)


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


def _get_len(buf, pos):
    end = len(buf)
    if pos >= end:
        raise ApduError("ciphered APDU truncated before its length", "malformed")
    n = buf[pos]
    if n < 0x80:
        return n, pos + 1
    k = n & 0x7F
    if k == 0 or k > 3 or pos + 1 + k > end:
        raise ApduError("ciphered APDU has a bad length field", "malformed")
    n = 0
    for i in range(k):
        n = (n << 8) | buf[pos + 1 + i]
    return n, pos + 1 + k


def parse_ciphered(capdu):
    """Split a ciphered APDU: (tag, title or None, sc, ic, payload) with payload = C ‖ T
    (a memoryview). General-glo (DB/DC): tag, title length, title, length, SC, IC, C, T."""
    buf = memoryview(capdu)
    if len(buf) < 2:
        raise ApduError("ciphered APDU too short", "malformed")
    tag = buf[0]
    if not is_ciphered(tag):
        raise SecurityError("APDU 0x%02X is not ciphered but the association requires it"
                            % tag, "security-control")
    pos = 1
    title = None
    if tag in (_GENERAL_GLO, _GENERAL_DED):
        tl, pos = _get_len(buf, 1)
        if pos + tl > len(buf):
            raise ApduError("general-ciphering system title truncated", "malformed")
        if tl:
            title = bytes(buf[pos:pos + tl])
        pos += tl
    n, pos = _get_len(buf, pos)
    if pos + n != len(buf):
        raise ApduError("ciphered APDU length %d does not match the %d bytes received"
                        % (n, len(buf) - pos), "malformed")
    if n < 5:
        raise ApduError("ciphered APDU shorter than its security header", "malformed")
    sc = buf[pos]
    ic = (buf[pos + 1] << 24) | (buf[pos + 2] << 16) | (buf[pos + 3] << 8) | buf[pos + 4]
    return tag, title, sc, ic, buf[pos + 5:]


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

    def __repr__(self):
        return "MemoryCounter(%d)" % self.value


class Security:
    """Security suite 0 for one association: our system title, EK/AK, the outgoing counter
    object (any object with ``next()``) and the meter's title and last invocation counter."""

    def __init__(self, ek, ak, system_title, counter, sc=SC_AUTH_ENC, backend=None,
                 accel=None):
        if ek is None or len(ek) != 16:
            raise ConfigError("block cipher key EK must be 16 bytes", "key")
        if ak is None or len(ak) != 16:
            raise ConfigError("authentication key AK must be 16 bytes", "key")
        if system_title is None or len(system_title) != 8:
            raise ConfigError("system title must be 8 bytes", "system-title")
        if sc not in (SC_AUTH, SC_ENC, SC_AUTH_ENC):
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
        self._gcm = _new_gcm(ek, backend, accel)
        self._ded = None
        self._backend = (backend, accel)
        self._aad = bytearray(17)  # SC ‖ AK
        self._aad[1:] = ak
        self._iv = bytearray(12)

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
        self._ded = None if key is None else _new_gcm(key, *self._backend)

    def glo_tag(self, plain):
        return glo_tag(plain, self._ded is not None)

    def plain_tag(self, ciphered):
        return plain_tag(ciphered)

    def _set_iv(self, title, ic, tag=None):
        """IV = title ‖ IC into the reused buffer; with ``tag``: (IV, the GCM for the tag's
        key: ded- tags take the dedicated key)."""
        iv = self._iv
        iv[0:8] = title
        for i in range(4):
            iv[11 - i] = (ic >> (8 * i)) & 255
        if tag is None:
            return iv
        if 0xD0 <= tag <= 0xD7 or tag == _GENERAL_DED:
            if self._ded is None:
                raise SecurityError("ded- ciphered APDU but no dedicated key is set",
                                    "security-control")
            return iv, self._ded
        return iv, self._gcm

    # -- outgoing ------------------------------------------------------------------------
    def _next_ic(self):
        c = self.counter
        if c is None:
            raise SecurityError("no invocation counter", "counter-unavailable")
        ic = c.next()
        if not isinstance(ic, int) or ic < 0 or ic > _IC_MAX:
            raise SecurityError("invocation counter unusable or exhausted", "counter-unavailable")
        if self.last_ic is not None and ic <= self.last_ic:
            raise SecurityError("invocation counter did not increase (%d after %d): refusing to "
                                "reuse it" % (ic, self.last_ic), "counter-unavailable")
        self.last_ic = ic
        return ic

    def protect(self, apdu, tag=None, p=1):
        """Cipher a plain APDU: tag ‖ length ‖ SC ‖ IC ‖ C ‖ T with IC = counter.next().
        ``tag`` defaults to the glo-/ded- form of apdu[0] (0x21 for an InitiateRequest);
        ``p`` 10: general-glo-ciphering, our system title after the tag."""
        if tag is None:
            tag = self.glo_tag(apdu[0])
        title = self.system_title
        # the key is picked first: no counter value is used up for a missing dedicated key
        g = self._set_iv(title, 0, tag)[1]
        ic = self._next_ic()
        iv = self._set_iv(title, ic)
        sc = self.sc
        n = len(apdu)
        body = 5 + n + (_TAG_LEN if sc & SC_AUTH else 0)
        out = bytearray(_put_len(None, p, body) + body)
        out[0] = tag
        if p > 1:
            out[1] = 8
            out[2:10] = title
        p = _put_len(out, p, body)
        # SC ‖ IC ‖ C ‖ T
        out[p] = sc
        out[p + 1:p + 5] = iv[8:12]
        mv = memoryview(out)
        dst = mv[p + 5:p + 5 + n]
        aad = self._aad
        aad[0] = sc
        if sc == SC_AUTH_ENC:
            t = g.encrypt_into(iv, apdu, dst, aad)
        elif sc == SC_ENC:
            g.encrypt_into(iv, apdu, dst)
            return bytes(out)
        else:
            dst[:] = apdu
            t = g.encrypt_into(iv, b"", b"", bytes(aad) + bytes(apdu))
        mv[p + 5 + n:p + 5 + n + _TAG_LEN] = t[:_TAG_LEN]
        return bytes(out)

    def protect_general(self, apdu, dedicated=False):
        """general-glo-ciphering (DB, or DC with the dedicated key) carrying our system title."""
        return self.protect(apdu, _GENERAL_DED if dedicated else _GENERAL_GLO, 10)

    def unprotect(self, capdu):
        """Check and decipher a ciphered APDU from the meter: parse, check SC (suite 0,
        unicast, uncompressed, at least the protection we require), title and meter IC
        (strictly increasing), verify the tag, decipher; returns the plain APDU. The meter
        IC is recorded only after the tag verifies. SecurityError kinds: security-control,
        system-title, replay, auth-tag."""
        tag, title, sc, ic, payload = parse_ciphered(capdu)
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
        iv, g = self._set_iv(title, ic, tag)
        tl = 12 if sc & 0x10 else 0
        n = len(payload) - tl
        if n < 0:
            raise ApduError("ciphered APDU too short for its %d-byte tag" % tl, "malformed")
        ct = payload[:n]
        out = bytearray(n)
        aad = self._aad
        aad[0] = sc
        if sc & 0x20:
            if tl:
                g.decrypt_into(iv, ct, out, payload[n:], aad)
            else:
                g.encrypt_into(iv, ct, out)  # CTR only: no integrity (SC 0x20)
        else:
            t = g.encrypt_into(iv, b"", b"", bytes(aad) + bytes(ct))
            if not ct_equal(t[:tl], payload[n:]):
                raise SecurityError("authentication tag does not match: wrong keys (check "
                                    "EK/AK) or the data was altered", "auth-tag")
            out[:] = ct
        self.server_ic = ic
        return out

    # -- HLS mechanism 5 (GMAC), Green Book §9.2.7.4 ---------------------------------------
    def gmac_proof(self, challenge, ic, title):
        """f(challenge) = 0x10 ‖ IC ‖ GMAC(EK; IV = title ‖ IC; AAD = 0x10 ‖ AK ‖ challenge)."""
        iv = self._set_iv(title, ic)
        t = self._gcm.gmac(iv, b"\x10" + bytes(self._aad[1:]) + bytes(challenge), _TAG_LEN)
        return b"\x10" + bytes(iv[8:12]) + t

    def f_stoc(self, stoc):
        """Our reply to the meter's challenge StoC (pass 3), with IC = counter.next()."""
        return self.gmac_proof(stoc, self._next_ic(), self.system_title)

    def verify_ctos(self, ctos, proof):
        """Check the meter's f(CtoS) (pass 4); SecurityError 'meter-proof' when it fails."""
        if self.server_title is None:
            raise SecurityError("meter system title unknown: cannot check its proof",
                                "system-title")
        p = bytes(proof)
        if len(p) != 5 + _TAG_LEN or p[0] != SC_AUTH:
            raise SecurityError("meter's HLS proof f(CtoS) is malformed (%d bytes)" % len(p),
                                "meter-proof")
        ic = (p[1] << 24) | (p[2] << 16) | (p[3] << 8) | p[4]
        if not ct_equal(self.gmac_proof(ctos, ic, self.server_title), p):
            raise SecurityError("meter's HLS proof f(CtoS) does not verify: wrong keys (check "
                                "EK/AK) or not the expected meter", "meter-proof")
        return True
