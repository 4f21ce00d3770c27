"""Security suite 0: ciphered APDUs, HLS-GMAC, AES-GCM (Green Book 9.2; :mod:`.security`).

The session's module is :mod:`udlms.crypto.security` (with the glo-/ded- xDLMS tag maps,
Green Book §9.5); the PC half is :mod:`udlms.crypto.pc`. The package itself holds no code: a
board loads it with every crypto module, and its names would stay interned for good.
"""
