"""PC-only code, never on a board: the CLI, the trace decoder, the pyserial transport and
the OpenSSL back-ends. Importing this package registers those back-ends with the crypto
layer (the crypto layer never imports host code; ``udlms`` imports this package on CPython)."""

from udlms.crypto import aes as _aes, gcm as _gcm
from udlms.host import aes_host as _aes_host, gcm_host as _gcm_host

_aes.register(_aes_host)
_gcm.HOST = _gcm_host.HostGcm
