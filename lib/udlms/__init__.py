"""udlms: a memory-lean DLMS/COSEM (IEC 62056) client for MicroPython, CircuitPython and CPython.

Layers, data flowing one way: ``link`` (UART, HDLC) -> ``cosem`` (APDUs) -> ``crypto``
(security suite 0) -> ``client`` (session, Token Gateway). ``host`` is PC-only.
"""

const = int  # CPython; mpy-cross folds const() itself (no import here: udlms.port is ours)

# _FULL: 0 in the device build (tools/build/msgtable.py): a board's package holds no code
_FULL = const(1)

if _FULL:
    import sys

    __version__ = "0.1.0"

    if sys.implementation.name == "cpython":  # a PC: OpenSSL back-ends for AES and GCM
        import udlms.host  # noqa: F401
