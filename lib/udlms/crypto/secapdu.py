"""Ciphered-APDU framing for security suite 0 (Green Book §9.2.7.2, §9.5): glo-/ded- tag
maps, A-XDR lengths, parsing and building of glo- and general-glo-ciphering, SC checks.

Split from udlms.crypto.security (which re-exports these names) so each compiles in a small heap.
"""

from udlms.errors import ApduError, ConfigError, SecurityError
from udlms.crypto.gcm import ct_equal
from udlms.port import const

GENERAL_GLO = const(0xDB)
GENERAL_DED = const(0xDC)

# (plain, ciphered) pairs, Green Book §9.5 xDLMS-APDU tags
_GLO = bytes((0x01, 0x21, 0x08, 0x28, 0x0E, 0x2E, 0xC0, 0xC8, 0xC1, 0xC9, 0xC2, 0xCA,
              0xC3, 0xCB, 0xC4, 0xCC, 0xC5, 0xCD, 0xC7, 0xCF))
_DED = bytes((0xC0, 0xD0, 0xC1, 0xD1, 0xC2, 0xD2, 0xC3, 0xD3, 0xC4, 0xD4, 0xC5, 0xD5,
              0xC7, 0xD7))


def glo_tag(plain, dedicated=False):
    """Ciphered tag for a plain xDLMS tag: glo- (C0->C8 ...) or, with a dedicated key, ded-."""
    t = _DED if dedicated else _GLO
    for i in range(0, len(t), 2):
        if t[i] == plain:
            return t[i + 1]
    if dedicated:
        return glo_tag(plain)  # initiate request/response stay glo-
    raise ApduError("APDU tag 0x%02X has no %s- ciphered form" % (plain, "ded" if dedicated
                                                                    else "glo"), "unexpected")


def plain_tag(ciphered):
    """Plain xDLMS tag for a glo-/ded- tag (CB->C3); ApduError 'unexpected' for others."""
    for t in (_GLO, _DED):
        for i in range(1, len(t), 2):
            if t[i] == ciphered:
                return t[i - 1]
    raise ApduError("APDU tag 0x%02X is not a glo-/ded- ciphered tag" % ciphered, "unexpected")


def is_ciphered(tag):
    """True for glo-, ded- and general-glo/ded-ciphering tags."""
    if tag in (GENERAL_GLO, GENERAL_DED):
        return True
    for t in (_GLO, _DED):
        for i in range(1, len(t), 2):
            if t[i] == tag:
                return True
    return False


def new_challenge(n=16):
    """A fresh HLS challenge (CtoS) of n bytes (Green Book: 8..64) from the runtime's RNG."""
    if n < 8 or n > 64:
        raise ConfigError("HLS challenge must be 8..64 bytes", "config")
    from udlms.port import random_bytes

    return random_bytes(n)


def _put_len(out, pos, n):
    """A-XDR length (short form < 128, else 0x81 / 0x82 long form); returns the new pos."""
    if n < 0x80:
        out[pos] = n
        return pos + 1
    if n < 0x100:
        out[pos] = 0x81
        out[pos + 1] = n
        return pos + 2
    out[pos] = 0x82
    out[pos + 1] = n >> 8
    out[pos + 2] = n & 255
    return pos + 3


def _len_size(n):
    return 1 if n < 0x80 else (2 if n < 0x100 else 3)


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


def _ic4(ic):
    return bytes(((ic >> 24) & 255, (ic >> 16) & 255, (ic >> 8) & 255, ic & 255))


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
    if tag in (GENERAL_GLO, GENERAL_DED):
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


def general_glo(title, body, tag=GENERAL_GLO):
    """general-glo-ciphering: DB ‖ len(title) ‖ title ‖ len(body) ‖ body (SH ‖ C ‖ T)."""
    tl = len(title) if title else 0
    n = len(body)
    out = bytearray(2 + tl + _len_size(n) + n)
    out[0] = tag
    out[1] = tl
    if tl:
        out[2:2 + tl] = title
    p = _put_len(out, 2 + tl, n)
    out[p:] = body
    return bytes(out)


def _check_sc(sc, required):
    """Incoming SC must be suite 0, unicast, uncompressed, with the protection we require."""
    if sc & 0x0F:
        raise SecurityError("security suite %d is not supported (suite 0, AES-GCM-128 only)"
                            % (sc & 0x0F), "security-control")
    if sc & 0xC0:
        raise SecurityError("security control 0x%02X: compression / broadcast key not supported"
                            % sc, "security-control")
    if not sc & 0x30:
        raise SecurityError("security control 0x%02X has no protection" % sc, "security-control")
    if (sc & required & 0x30) != (required & 0x30):
        raise SecurityError("meter answered with weaker protection (SC 0x%02X, need 0x%02X)"
                            % (sc, required), "security-control")


def unseal(s, capdu):
    """Security.unprotect: parse, check SC, title and meter IC (strictly increasing), verify
    the tag, decipher. The meter IC is recorded only after the tag verifies."""
    tag, title, sc, ic, payload = parse_ciphered(capdu)
    _check_sc(sc, s.sc)
    if title is not None:
        if s.server_title is not None and title != s.server_title:
            raise SecurityError("general-ciphering system title is not the meter's",
                                "system-title")
    else:
        title = s.server_title
    if title is None or len(title) != 8:
        raise SecurityError("meter system title unknown: cannot decipher", "system-title")
    if s.server_ic is not None and ic <= s.server_ic:
        raise SecurityError("meter invocation counter %d not above the last one %d: replayed "
                            "or stale APDU" % (ic, s.server_ic), "replay")
    g = s._gcm_for(tag)
    tl = 12 if sc & 0x10 else 0
    n = len(payload) - tl
    if n < 0:
        raise ApduError("ciphered APDU too short for its %d-byte tag" % tl, "malformed")
    ct = payload[:n]
    iv = s._set_iv(title, ic)
    out = bytearray(n)
    aad = s._aad
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
    s.server_ic = ic
    return out
