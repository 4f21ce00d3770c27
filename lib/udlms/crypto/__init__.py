"""Security suite 0: ciphered APDUs, HLS-GMAC, AES-GCM (Green Book 9.2; :mod:`.security`).

The package holds the ciphered-APDU framing the session (:mod:`udlms.crypto.security`) and
the PC half (:mod:`udlms.crypto.pc`) share: the glo-/ded- tag maps (Green Book §9.5) and
the split of a ciphered APDU into its parts (§9.2.7.2); no cryptography here.
"""

from udlms.errors import ApduError, SecurityError

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


def parse_ciphered(apdu):
    """Split a ciphered APDU: (tag, title or None, sc, ic, payload) with payload = C ‖ T
    (a memoryview). General-glo (DB/DC): tag, title length, title, length, SC, IC, C, T."""
    buf = memoryview(apdu)
    end = len(buf)
    if end < 2:
        raise ApduError("ciphered APDU too short", "malformed")
    tag = buf[0]
    general = tag in (0xDB, 0xDC)  # general-glo/ded-ciphering
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
