"""The PC's half of the crypto layer, never on a board (tools/build leaves it out and the
device build of :mod:`udlms.crypto.security` does not import it): the AES backend registry
(which backends this runtime has, best first; ``cryptography`` is registered by
:mod:`udlms.host`), sending general-glo-ciphering (Green Book §9.2.7.2) and
:class:`SecurityPc`, the methods of :class:`udlms.crypto.security.Security` that a board's
token path never calls (dedicated keys, reprs). Key bytes never appear in a repr.
"""

from udlms.crypto import _TAGS
from udlms.errors import ApduError

ORDER = ("cryptolib", "aesio", "cryptography", "pure")
SC_AUTH, SC_ENC, SC_AUTH_ENC = 0x10, 0x20, 0x30  # security control (Green Book §9.2.7.2.3)
GENERAL_GLO, GENERAL_DED = 0xDB, 0xDC  # general-glo-/ded-ciphering

_found = {}
host = None  # the PC back-end (udlms.host.aes_host), set by register()
new = None  # the GCM a Security uses on a PC (udlms.crypto.gcm.new), idem


def register(aes_host, gcm_new=None):
    """Make the ``cryptography`` backend available: ``aes_host`` has ``module()`` (the
    runtime module, ImportError when absent) and ``encryptor(key, module)``; ``gcm_new(key,
    backend, accel)`` makes the GCM of a Security (:func:`udlms.crypto.gcm.register`)."""
    global host, new
    host = aes_host
    new = gcm_new
    _found.pop("cryptography", None)


def module(name):
    """The runtime module for a backend, or None when this runtime does not have it (looked
    up once: failed imports cost filesystem searches on every call)."""
    if name not in _found:
        try:
            if name == "pure":
                m = True  # always there (udlms.crypto.aes_pure)
            elif name == "cryptolib":
                import cryptolib as m
            elif name == "aesio":
                import aesio as m
            elif host is None:
                raise ImportError(name)
            else:
                m = host.module()
        except ImportError:
            m = None
        _found[name] = m
    return _found[name]


def load(name):
    """The runtime module for a backend; ImportError when this runtime does not have it."""
    m = module(name)
    if m is None:
        raise ImportError(name)
    return m


def backends(first=False):
    """Names of the AES backends available on this runtime, best first (``first``: the best
    one only, and stop looking there)."""
    r = []
    for n in ORDER:
        if module(n) is not None:
            if first:
                return n
            r.append(n)
    return r


def best():
    """The name of the first backend this runtime has (stops looking there)."""
    return backends(True)


def plain_tag(ciphered, check=True):
    """Plain xDLMS tag for a glo-/ded- tag (CB->C3); ApduError 'unexpected' for others
    (``check`` False: None)."""
    for i in range(1, len(_TAGS), 2):
        if _TAGS[i] == ciphered:
            return _TAGS[i - 1]
    if check:
        raise ApduError("APDU tag 0x%02X is not a glo-/ded- ciphered tag" % ciphered,
                        "unexpected")


def is_ciphered(tag):
    """True for glo-, ded- and general-glo/ded-ciphering tags."""
    return tag in (GENERAL_GLO, GENERAL_DED) or plain_tag(tag, False) is not None


def general_glo(title, body, tag=GENERAL_GLO):
    """general-glo-ciphering: DB ‖ len(title) ‖ title ‖ len(body) ‖ body (SH ‖ C ‖ T), the
    lengths in A-XDR (short form < 128, else 0x81 / 0x82 and 1 or 2 bytes)."""
    n = len(body)
    k = 0 if n < 0x80 else (1 if n < 0x100 else 2)
    return (bytes((tag, len(title) if title else 0)) + bytes(title or b"")
            + (bytes((0x80 | k,)) + n.to_bytes(k, "big") if k else bytes((n,))) + bytes(body))


class SecurityPc:
    """The PC-only methods of :class:`udlms.crypto.security.Security` (its base class on a
    PC): dedicated keys (ded- tags), general-glo/ded-ciphering, reprs."""

    def __repr__(self):
        return "Security(sc=0x%02X, title=%s, server_title=%s, keys=set)" % (
            self.sc, self.system_title.hex().upper(),
            self.server_title.hex().upper() if self.server_title else None)

    __str__ = __repr__

    @property
    def backend(self):
        return self.state[0].backend

    def set_dedicated_key(self, key):
        """Use ded- tags under ``key`` for xDLMS services (None returns to glo-)."""
        make, backend, accel = self._backend
        self._ded = None if key is None else make(key, backend, accel)

    def plain_tag(self, ciphered):
        return plain_tag(ciphered)

    def protect_general(self, apdu, dedicated=False):
        """general-glo-ciphering (DB, or DC with the dedicated key) carrying our system
        title."""
        return self.protect(apdu, GENERAL_DED if dedicated else GENERAL_GLO)

    def gmac_proof(self, challenge, ic, title):
        """f(challenge) = 0x10 ‖ IC ‖ GMAC(EK; IV = title ‖ IC; AAD = 0x10 ‖ AK ‖
        challenge)."""
        return self.f_stoc(challenge, ic, title)
