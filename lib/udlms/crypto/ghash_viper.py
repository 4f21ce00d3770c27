"""Optional @micropython.viper GHASH and GCTR helpers (NIST SP 800-38D §6.4, §6.5).

Imported by :mod:`udlms.crypto.security` under try/except: on runtimes without a native
emitter (CircuitPython, webassembly) this module is a SyntaxError and the pure functions are
used. Same names, signatures and results as :mod:`udlms.crypto.ghash_pure` (``update``:
GHASH, ``mask``: one GCTR block); no allocation per call.
Works with 16-bit limbs so the code is the same on 32- and 64-bit machine words.
"""
# ruff: noqa: F821  (ptr8/ptr16 are viper types, not names)

import micropython


@micropython.viper
def update(y: ptr8, data: ptr8, n: int, m: ptr16):
    """y = GHASH_H(y, data[:n]) with a zero-padded last block; m = 4-bit table + R table."""
    pos = 0
    while pos < n:
        e = n - pos
        if e > 16:
            e = 16
        i = 0
        while i < e:
            y[i] = y[i] ^ data[pos + i]
            i += 1
        z0 = 0
        z1 = 0
        z2 = 0
        z3 = 0
        z4 = 0
        z5 = 0
        z6 = 0
        z7 = 0
        i = 15
        while i >= 0:
            b = y[i]
            k = (b & 15) << 3
            r = m[128 + (z7 & 15)]
            z7 = ((z7 >> 4) | ((z6 & 15) << 12)) ^ m[k + 7]
            z6 = ((z6 >> 4) | ((z5 & 15) << 12)) ^ m[k + 6]
            z5 = ((z5 >> 4) | ((z4 & 15) << 12)) ^ m[k + 5]
            z4 = ((z4 >> 4) | ((z3 & 15) << 12)) ^ m[k + 4]
            z3 = ((z3 >> 4) | ((z2 & 15) << 12)) ^ m[k + 3]
            z2 = ((z2 >> 4) | ((z1 & 15) << 12)) ^ m[k + 2]
            z1 = ((z1 >> 4) | ((z0 & 15) << 12)) ^ m[k + 1]
            z0 = (z0 >> 4) ^ r ^ m[k]
            k = (b >> 4) << 3
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
        y[1] = z0
        y[2] = z1 >> 8
        y[3] = z1
        y[4] = z2 >> 8
        y[5] = z2
        y[6] = z3 >> 8
        y[7] = z3
        y[8] = z4 >> 8
        y[9] = z4
        y[10] = z5 >> 8
        y[11] = z5
        y[12] = z6 >> 8
        y[13] = z6
        y[14] = z7 >> 8
        y[15] = z7
        pos += 16


@micropython.viper
def mask(dst: ptr8, src: ptr8, ks: ptr8, pn: int):
    """dst[p:p+c] = src[p:p+c] ^ ks[:c] with pn = p << 5 | c (c <= 16): one GCTR block."""
    p = pn >> 5
    c = pn & 31
    i = 0
    while i < c:
        dst[p + i] = src[p + i] ^ ks[i]
        i += 1
