"""AES-128 ECB block on CPython through ``cryptography`` (the host side of
:mod:`udlms.crypto.aes`; never imported on a board)."""


def module():
    """The cryptography ciphers module (ImportError when it is not installed)."""
    from cryptography.hazmat.primitives import ciphers

    return ciphers


def encryptor(key, mod):
    """``encrypt(src16, dst16)`` over one ECB encryptor for ``key``."""
    enc = mod.Cipher(mod.algorithms.AES(bytes(key)), mod.modes.ECB()).encryptor()
    buf = bytearray(32)  # update_into wants room for len + block - 1

    def encrypt(src, dst):
        enc.update_into(bytes(src[:16]), buf)
        dst[:16] = buf[:16]

    return encrypt
