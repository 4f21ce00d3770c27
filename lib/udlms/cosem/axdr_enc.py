"""A-XDR encoders (IEC 62056-6-2 §4.1.5): ``encode`` and ``encode_typed``, the inverse of
:mod:`udlms.cosem.axdr`'s decoders; apart from them so that the decoder, which every
session needs, compiles in a small MicroPython heap."""

from udlms.cosem.axdr import BitString, _SIGNED, _SIZE, _STRINGS, encode_length, type_name
from udlms.port import const

# the A-XDR type tags used here (the same numbers as axdr's public names), folded by the
# compiler: no name to look up at run time
_NULL = const(0)
_ARRAY = const(1)
_STRUCTURE = const(2)
_BOOLEAN = const(3)
_BIT_STRING = const(4)
_INT32 = const(5)
_OCTET_STRING = const(9)
_VISIBLE_STRING = const(10)
_UTF8 = const(12)
_INT64 = const(20)
_UINT64 = const(21)
_FLOAT32 = const(23)
_FLOAT64 = const(24)
_DATETIME = const(25)
_DATE = const(26)
_TIME = const(27)
_DONT_CARE = const(255)


def encode(value, tag=None):
    """A-XDR bytes of a plain value. Without ``tag`` the type is inferred (int -> int32,
    or int64/uint64 when larger; bytes -> octet-string; str -> visible-string; tuple ->
    structure; list -> array; float -> float64). Containers encode their items by
    inference; use :func:`encode_typed` for full control."""
    if tag is None:  # inferred
        if value is None:
            tag = _NULL
        elif value is True or value is False:
            tag = _BOOLEAN
        elif isinstance(value, int):
            tag = (_INT32 if -(1 << 31) <= value < (1 << 31) else
                   _INT64 if -(1 << 63) <= value < (1 << 63) else _UINT64)
        elif isinstance(value, float):
            tag = _FLOAT64
        elif isinstance(value, (bytes, bytearray, memoryview)):
            tag = _OCTET_STRING
        elif isinstance(value, str):
            tag = _VISIBLE_STRING
        elif isinstance(value, BitString):
            tag = _BIT_STRING
        elif isinstance(value, tuple):
            tag = _STRUCTURE
        elif isinstance(value, list):
            tag = _ARRAY
        else:
            raise ValueError("cannot encode %s as A-XDR" % type(value).__name__)
    if tag in (_ARRAY, _STRUCTURE):
        out = bytearray((tag,))
        out += encode_length(len(value))
        for v in value:
            out += encode(v)
        return bytes(out)
    return _encode_simple(tag, value)


def _encode_simple(tag, value):
    if tag == _NULL or tag == _DONT_CARE:
        return bytes((tag,))
    if tag == _BOOLEAN:
        return bytes((3, 1 if value else 0))
    if tag in _STRINGS:
        if isinstance(value, str):
            value = value.encode("utf-8") if tag == _UTF8 else value.encode()
        value = bytes(value)
        return bytes((tag,)) + encode_length(len(value)) + value
    if tag == _BIT_STRING:
        n, data = value
        data = bytes(data)
        if len(data) != (n + 7) // 8:
            raise ValueError("bit-string of %d bits needs %d bytes" % (n, (n + 7) // 8))
        return b"\x04" + encode_length(n) + data
    if tag in (_DATETIME, _DATE, _TIME):
        value = bytes(value)
        if len(value) != _SIZE[tag]:
            raise ValueError("%s needs %d bytes" % (type_name(tag), _SIZE[tag]))
        return bytes((tag,)) + value
    if tag == _FLOAT32 or tag == _FLOAT64:
        import struct

        return bytes((tag,)) + struct.pack(">f" if tag == _FLOAT32 else ">d", value)
    size = _SIZE[tag] if tag < 28 else 0
    if size:  # an integer type: in range for its size and sign, two's complement
        v = int(value)
        lim = 1 << (8 * size - 1) if tag in _SIGNED else 0
        if not -lim <= v < (lim or 1 << (8 * size)):
            raise ValueError("%d does not fit %s" % (v, type_name(tag)))
        if v < 0:
            v += 1 << (8 * size)
        return bytes((tag,)) + v.to_bytes(size, "big")
    raise ValueError("cannot encode A-XDR type %s" % type_name(tag))


def encode_typed(tv):
    """Inverse of :func:`decode_typed`: ``(tag, value)`` where array/structure values
    are lists of ``(tag, value)`` pairs."""
    tag, value = tv
    if tag in (_ARRAY, _STRUCTURE):
        out = bytearray((tag,))
        out += encode_length(len(value))
        for item in value:
            out += encode_typed(item)
        return bytes(out)
    return _encode_simple(tag, value)
