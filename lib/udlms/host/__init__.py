"""PC-only code, never on a board: the CLI, the trace decoder, the pyserial transport and
the OpenSSL back-ends. Importing this package registers those back-ends with the crypto
layer and adds the HDLC link's PC side (:mod:`udlms.host.frames`) to ``udlms.link.hdlc``
(lower layers never import host code; ``udlms`` imports this package on CPython)."""

import sys

from udlms.crypto import gcm as _gcm
from udlms.host import aes_host as _aes_host, gcm_host as _gcm_host

if hasattr(_gcm, "register"):  # the registry is PC-only (not in the device build, which the
    _gcm.register(_aes_host)  # MicroPython lane imports this package with)
    _gcm.HOST = _gcm_host.HostGcm

# the PC side of udlms.link.hdlc (udlms.host.frames) is added to it on CPython only: the
# MicroPython lane runs the device build, needs none of it and imports host code in 64k
if sys.implementation.name == "cpython":
    from udlms.host import frames  # noqa: F401
