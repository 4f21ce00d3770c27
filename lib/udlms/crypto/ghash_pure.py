"""Pure-Python GHASH and GCTR helpers (NIST SP 800-38D §6.4, §6.5) for
:class:`udlms.crypto.security.Gcm`: ``update`` (GHASH) and ``mask`` (one GCTR block).

The fallback where udlms.crypto.ghash_viper cannot load (CircuitPython, CPython, WebAssembly).
Multiplication by H uses the 4-bit (Shoup) table built by ``Gcm()``: 16-bit limbs, so every
value stays a small int and nothing is allocated per block.
"""


def update(y, data, n, m):
    """y = GHASH_H(y, data[:n]), last block zero-padded (pure Python): per block y ^= X,
    then y = y * H in GF(2^128), Horner over the 32 nibbles from the last (Shoup 4-bit)."""
    pos = 0
    while pos < n:
        e = n - pos
        if e > 16:
            e = 16
        for i in range(e):
            y[i] ^= data[pos + i]
        z0 = z1 = z2 = z3 = z4 = z5 = z6 = z7 = 0
        i = 31  # the nibbles from the last: each byte's low nibble, then its high one
        while i >= 0:
            b = y[i >> 1]
            k = ((b & 15) if i & 1 else (b >> 4)) << 3
            r = m[128 + (z7 & 15)]
            z7 = ((z7 >> 4) | ((z6 & 15) << 12)) ^ m[k + 7]
            z6 = ((z6 >> 4) | ((z5 & 15) << 12)) ^ m[k + 6]
            z5 = ((z5 >> 4) | ((z4 & 15) << 12)) ^ m[k + 5]
            z4 = ((z4 >> 4) | ((z3 & 15) << 12)) ^ m[k + 4]
            z3 = ((z3 >> 4) | ((z2 & 15) << 12)) ^ m[k + 3]
            z2 = ((z2 >> 4) | ((z1 & 15) << 12)) ^ m[k + 2]
            z1 = ((z1 >> 4) | ((z0 & 15) << 12)) ^ m[k + 1]
            z0 = (z0 >> 4) ^ r ^ m[k]
            i -= 1
        y[0] = z0 >> 8
        y[1] = z0 & 255
        y[2] = z1 >> 8
        y[3] = z1 & 255
        y[4] = z2 >> 8
        y[5] = z2 & 255
        y[6] = z3 >> 8
        y[7] = z3 & 255
        y[8] = z4 >> 8
        y[9] = z4 & 255
        y[10] = z5 >> 8
        y[11] = z5 & 255
        y[12] = z6 >> 8
        y[13] = z6 & 255
        y[14] = z7 >> 8
        y[15] = z7 & 255
        pos += 16


def mask(dst, src, ks, pn):
    """dst[p:p+c] = src[p:p+c] ^ ks[:c] with pn = p << 5 | c (pure Python)."""
    p = pn >> 5
    for i in range(pn & 31):
        dst[p + i] = src[p + i] ^ ks[i]
