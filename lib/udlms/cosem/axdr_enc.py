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


def _int_bytes(tag, v):
    size = _SIZE[tag]
    if tag in _SIGNED:
        lim = 1 << (8 * size - 1)
        if not -lim <= v < lim:
            raise ValueError("%d does not fit %s" % (v, type_name(tag)))
        if v < 0:
            v += 1 << (8 * size)
    elif not 0 <= v < (1 << (8 * size)):
        raise ValueError("%d does not fit %s" % (v, type_name(tag)))
    return v.to_bytes(size, "big")


def _guess_tag(value):
    if value is None:
        return _NULL
    if value is True or value is False:
        return _BOOLEAN
    if isinstance(value, int):
        if -(1 << 31) <= value < (1 << 31):
            return _INT32
        if -(1 << 63) <= value < (1 << 63):
            return _INT64
        return _UINT64
    if isinstance(value, float):
        return _FLOAT64
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _OCTET_STRING
    if isinstance(value, str):
        return _VISIBLE_STRING
    if isinstance(value, BitString):
        return _BIT_STRING
    if isinstance(value, tuple):
        return _STRUCTURE
    if isinstance(value, list):
        return _ARRAY
    raise ValueError("cannot encode %s as A-XDR" % type(value).__name__)


def encode(value, tag=None):
    """A-XDR bytes of a plain value. Without ``tag`` the type is inferred (int -> int32,
    or int64/uint64 when larger; bytes -> octet-string; str -> visible-string; tuple ->
    structure; list -> array; float -> float64). Containers encode their items by
    inference; use :func:`encode_typed` for full control."""
    if tag is None:
        tag = _guess_tag(value)
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
    if tag < 28 and _SIZE[tag]:
        return bytes((tag,)) + _int_bytes(tag, int(value))
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
