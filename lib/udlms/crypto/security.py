"""DLMS security suite 0 (Green Book §9.2.7): ciphered APDUs and HLS mechanism 5 (GMAC).

Security control byte SC (§9.2.7.2.3): bit 7 compression, bit 6 key set (0 unicast),
bit 5 encryption, bit 4 authentication, bits 3..0 suite id. Security header SH = SC ‖ IC.
IV = system title (8) ‖ IC (4, big-endian). AAD: SC 0x30 -> SC ‖ AK; 0x10 -> SC ‖ AK ‖ APDU
(sent in clear, 12-byte tag); 0x20 -> none, no tag. Ciphered APDU = tag ‖ length ‖ SH ‖ C ‖ T;
general-glo-ciphering (DB) puts the length-prefixed system title after the tag.
Keys never appear in repr(), str() or error messages.
"""

from udlms.errors import ConfigError, SecurityError
from udlms.crypto.gcm import ct_equal, new as _new_gcm
from udlms.port import const
from udlms.crypto.secapdu import (  # noqa: F401  (re-exported: part of udlms.crypto.security)
    GENERAL_DED, GENERAL_GLO, _ic4, _len_size, _put_len, general_glo, glo_tag, is_ciphered,
    new_challenge, parse_ciphered, plain_tag, unseal)

SC_AUTH = const(0x10)
SC_ENC = const(0x20)
SC_AUTH_ENC = const(0x30)
_TAG_LEN = const(12)
_IC_MAX = 0xFFFFFFFF


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
        self._backend = backend
        self._accel = accel
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
        self._ded = None if key is None else _new_gcm(key, self._backend, self._accel)

    def glo_tag(self, plain):
        return glo_tag(plain, self._ded is not None)

    def plain_tag(self, ciphered):
        return plain_tag(ciphered)

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

    def _set_iv(self, title, ic):
        iv = self._iv
        iv[0:8] = title
        iv[8] = (ic >> 24) & 255
        iv[9] = (ic >> 16) & 255
        iv[10] = (ic >> 8) & 255
        iv[11] = ic & 255
        return iv

    def _gcm_for(self, tag):
        if 0xD0 <= tag <= 0xD7 or tag == GENERAL_DED:
            if self._ded is None:
                raise SecurityError("ded- ciphered APDU but no dedicated key is set",
                                    "security-control")
            return self._ded
        return self._gcm

    def _seal(self, out, p, apdu, ic, g):
        """Write SC ‖ IC ‖ C ‖ T at out[p:]."""
        sc = self.sc
        n = len(apdu)
        out[p] = sc
        out[p + 1] = (ic >> 24) & 255
        out[p + 2] = (ic >> 16) & 255
        out[p + 3] = (ic >> 8) & 255
        out[p + 4] = ic & 255
        iv = self._set_iv(self.system_title, ic)
        mv = memoryview(out)
        dst = mv[p + 5:p + 5 + n]
        aad = self._aad
        aad[0] = sc
        if sc == SC_AUTH_ENC:
            s = g.encrypt_into(iv, apdu, dst, aad)
        elif sc == SC_ENC:
            g.encrypt_into(iv, apdu, dst)
            return
        else:
            dst[:] = apdu
            s = g.encrypt_into(iv, b"", b"", bytes(aad) + bytes(apdu))
        mv[p + 5 + n:p + 5 + n + _TAG_LEN] = s[:_TAG_LEN]

    def protect(self, apdu, tag=None):
        """Cipher a plain APDU: tag ‖ length ‖ SC ‖ IC ‖ C ‖ T with IC = counter.next().
        ``tag`` defaults to the glo-/ded- form of apdu[0] (0x21 for an InitiateRequest)."""
        return self._wrap(apdu, self.glo_tag(apdu[0]) if tag is None else tag, 1)

    def protect_general(self, apdu, dedicated=False):
        """general-glo-ciphering (DB, or DC with the dedicated key) carrying our system title."""
        return self._wrap(apdu, GENERAL_DED if dedicated else GENERAL_GLO, 10)

    def _wrap(self, apdu, tag, p):
        g = self._gcm_for(tag)
        ic = self._next_ic()
        body = 5 + len(apdu) + (_TAG_LEN if self.sc & SC_AUTH else 0)
        out = bytearray(p + _len_size(body) + body)
        out[0] = tag
        if p > 1:
            out[1] = 8
            out[2:10] = self.system_title
        p = _put_len(out, p, body)
        self._seal(out, p, apdu, ic, g)
        return bytes(out)

    def unprotect(self, capdu):
        """Check and decipher a ciphered APDU from the meter (secapdu.unseal); returns the
        plain APDU. SecurityError kinds: security-control, system-title, replay, auth-tag."""
        return unseal(self, capdu)

    # -- HLS mechanism 5 (GMAC), Green Book §9.2.7.4 ---------------------------------------
    def gmac_proof(self, challenge, ic, title):
        """f(challenge) = 0x10 ‖ IC ‖ GMAC(EK; IV = title ‖ IC; AAD = 0x10 ‖ AK ‖ challenge)."""
        iv = self._set_iv(title, ic)
        aad = bytes(self._aad[1:])
        t = self._gcm.gmac(iv, b"\x10" + aad + bytes(challenge), _TAG_LEN)
        return b"\x10" + _ic4(ic) + t

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
