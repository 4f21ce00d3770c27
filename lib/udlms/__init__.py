"""udlms: a memory-lean DLMS/COSEM (IEC 62056) client for MicroPython, CircuitPython and CPython.

Data flows one way: UART -> hdlc -> apdu -> security -> cosem -> token.
"""

__version__ = "0.1.0"
