"""Pure-Python AES-128 encryption (FIPS 197), the last-resort backend of
:func:`udlms.crypto.security.block`.

Byte-oriented: S-box and xtime tables (built once, 512 bytes, no other tables), round keys
and state in preallocated bytearrays, so a block costs no allocation. Loaded only when used.
"""

_TABLES = None  # (S-box, xtime: multiply by x in GF(2^8)), built on first use


def _tables():
    """Build the S-box (FIPS 197 §5.1.1) from GF(2^8) inverses and the affine map."""
    global _TABLES
    if _TABLES is not None:
        return _TABLES
    xt = bytearray(256)
    for a in range(256):
        b = a << 1
        if b & 0x100:
            b ^= 0x11B
        xt[a] = b
    # p runs over the powers of the generator 3 and q the other way (q / 3: the three shifts
    # multiply by 1 + x + ... + x^7, the 0x09 fix-up reduces), so q = p^-1 without log or
    # antilog tables; the affine map of q is S(p)
    sb = bytearray(256)
    sb[0] = 0x63
    p = q = 1
    while True:
        p ^= xt[p]  # p * 3
        q ^= q << 1
        q ^= q << 2
        q ^= q << 4
        q &= 0xFF
        if q & 0x80:
            q ^= 0x09
        v = s = q
        for _ in range(4):
            v = ((v << 1) | (v >> 7)) & 0xFF
            s ^= v
        sb[p] = s ^ 0x63
        if p == 1:
            break
    _TABLES = (sb, xt)
    return _TABLES


def block(key):
    """``encrypt(src16, dst16)`` for ``key``: AES-128 in plain Python, no allocation per block
    (one closed-over tuple: a closure call with more cells allocates on MicroPython)."""
    sb, xt = _tables()
    rk = bytearray(176)
    rk[0:16] = key
    rcon = 1
    for i in range(16, 176, 4):
        t0 = rk[i - 4]
        t1 = rk[i - 3]
        t2 = rk[i - 2]
        t3 = rk[i - 1]
        if i % 16 == 0:  # RotWord, SubWord, Rcon (FIPS 197 §5.2)
            u = t0
            t0 = sb[t1] ^ rcon
            t1 = sb[t2]
            t2 = sb[t3]
            t3 = sb[u]
            rcon = xt[rcon]
        rk[i] = rk[i - 16] ^ t0
        rk[i + 1] = rk[i - 15] ^ t1
        rk[i + 2] = rk[i - 14] ^ t2
        rk[i + 3] = rk[i - 13] ^ t3
    st = (rk, bytearray(16), bytearray(16), sb, xt)

    def encrypt(src, dst):
        rk, s, t, sb, xt = st
        for i in range(16):
            s[i] = src[i] ^ rk[i]
        k = 16
        while True:
            # SubBytes + ShiftRows (state is column-major: byte r + 4c)
            t[0] = sb[s[0]]
            t[1] = sb[s[5]]
            t[2] = sb[s[10]]
            t[3] = sb[s[15]]
            t[4] = sb[s[4]]
            t[5] = sb[s[9]]
            t[6] = sb[s[14]]
            t[7] = sb[s[3]]
            t[8] = sb[s[8]]
            t[9] = sb[s[13]]
            t[10] = sb[s[2]]
            t[11] = sb[s[7]]
            t[12] = sb[s[12]]
            t[13] = sb[s[1]]
            t[14] = sb[s[6]]
            t[15] = sb[s[11]]
            if k == 160:
                break
            # MixColumns + AddRoundKey
            for c in range(0, 16, 4):
                a0 = t[c]
                a1 = t[c + 1]
                a2 = t[c + 2]
                a3 = t[c + 3]
                x = a0 ^ a1 ^ a2 ^ a3
                s[c] = a0 ^ x ^ xt[a0 ^ a1] ^ rk[k + c]
                s[c + 1] = a1 ^ x ^ xt[a1 ^ a2] ^ rk[k + c + 1]
                s[c + 2] = a2 ^ x ^ xt[a2 ^ a3] ^ rk[k + c + 2]
                s[c + 3] = a3 ^ x ^ xt[a3 ^ a0] ^ rk[k + c + 3]
            k += 16
        for i in range(16):
            dst[i] = t[i] ^ rk[160 + i]

    return encrypt
