"""AES-GCM-128 on CPython through OpenSSL (``cryptography``): the same interface as
:class:`udlms.crypto.gcm.Gcm`, chosen by :func:`udlms.crypto.gcm.new` on a PC, never on a board."""

from udlms.errors import SecurityError
from udlms.crypto.gcm import Gcm


class HostGcm(Gcm):
    """:class:`udlms.crypto.gcm.Gcm` with ``encrypt_into``/``decrypt_into``/``gmac`` by OpenSSL."""

    def __init__(self, key):
        Gcm.__init__(self, key, "cryptography", False)
        from cryptography.hazmat.primitives.ciphers import aead

        self._aead = aead.AESGCM(bytes(key))
        self._key = bytes(key)
        self.accel = "openssl"

    def encrypt_into(self, iv, src, dst, aad=b""):
        if len(iv) != 12:
            self._start(iv)  # raises the named error
        out = self._aead.encrypt(bytes(iv), bytes(src), bytes(aad))
        n = len(src)
        if n:
            dst[:n] = out[:n]
        self._s[:] = out[n:]
        return self._s

    def decrypt_into(self, iv, src, dst, tag, aad=b""):
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        self._taglen(len(tag))
        if len(iv) != 12:
            self._start(iv)  # raises the named error
        d = Cipher(algorithms.AES(self._key),
                   modes.GCM(bytes(iv), bytes(tag), min_tag_length=len(tag))).decryptor()
        d.authenticate_additional_data(bytes(aad))
        try:
            out = d.update(bytes(src)) + d.finalize()
        except InvalidTag:
            raise SecurityError("authentication tag does not match: wrong keys (check EK/AK) "
                                "or the data was altered", "auth-tag")
        dst[:len(out)] = out
        return dst

    def gmac(self, iv, aad, taglen=12):
        self._taglen(taglen)
        return bytes(self.encrypt_into(iv, b"", bytearray(0), aad)[:taglen])
