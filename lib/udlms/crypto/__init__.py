"""Security suite 0: ciphered APDUs, HLS-GMAC, AES-GCM (Green Book 9.2; :mod:`.security`).

The package holds what the session (:mod:`udlms.crypto.security`) and the PC half
(:mod:`udlms.crypto.pc`) share: the glo-/ded- xDLMS tag maps (Green Book §9.5).
"""

from udlms.errors import ApduError

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
