"""Security suite 0: ciphered APDUs, HLS-GMAC, AES-GCM (Green Book 9.2; :mod:`.security`).

The package holds the glo-/ded- xDLMS tag maps (Green Book §9.5) that the session
(:mod:`udlms.crypto.security`, with ``glo_tag``) and the PC half (:mod:`udlms.crypto.pc`)
share: data only, no code (a board loads the package with every crypto module).
"""

# (plain, ciphered) pairs, Green Book §9.5 xDLMS-APDU tags: the ded- pairs (14 bytes), then
# the glo- ones
_TAGS = (b"\xc0\xd0\xc1\xd1\xc2\xd2\xc3\xd3\xc4\xd4\xc5\xd5\xc7\xd7"
         b"\x01\x21\x08\x28\x0e\x2e\xc0\xc8\xc1\xc9\xc2\xca\xc3\xcb\xc4\xcc\xc5\xcd\xc7\xcf")
