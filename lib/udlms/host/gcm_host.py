"""AES-GCM-128 on CPython through OpenSSL (``cryptography``): the same interface as
:class:`udlms.crypto.gcm.Gcm`, chosen by :func:`udlms.crypto.gcm.new` on a PC, never on a board."""

from udlms.errors import SecurityError
from udlms.crypto.gcm import Gcm


class HostGcm(Gcm):
    """:class:`udlms.crypto.gcm.Gcm` with ``crypt`` (GCM-AE / GCM-AD) by OpenSSL."""

    def __init__(self, key):
        Gcm.__init__(self, key, "cryptography", False)
        from cryptography.hazmat.primitives.ciphers import aead

        self._aead = aead.AESGCM(bytes(key))
        self._key = bytes(key)
        self._tag = bytearray(16)
        self.accel = "openssl"

    def crypt(self, iv, src, dst, aad=b"", tag=None):
        if len(iv) != 12 or tag is not None and not 4 <= len(tag) <= 16:
            return Gcm.crypt(self, iv, src, dst, aad, tag)  # raises the named error
        if tag is None:
            out = self._aead.encrypt(bytes(iv), bytes(src), bytes(aad))
            n = len(src)
            if n:
                dst[:n] = out[:n]
            self._tag[:] = out[n:]
            return self._tag
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        d = Cipher(algorithms.AES(self._key),
                   modes.GCM(bytes(iv), bytes(tag), min_tag_length=len(tag))).decryptor()
        d.authenticate_additional_data(bytes(aad))
        try:
            out = d.update(bytes(src)) + d.finalize()
        except InvalidTag:
            raise SecurityError("authentication tag does not match: wrong keys (check EK/AK) "
                                "or the data was altered", "auth-tag")
        if out:
            dst[:len(out)] = out
        return dst
