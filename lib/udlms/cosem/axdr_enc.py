"""A-XDR encoders (IEC 62056-6-2 §4.1.5): ``encode`` and ``encode_typed``, the inverse of
:mod:`udlms.cosem.axdr`'s decoders; apart from them so that the decoder, which every
session needs, compiles in a small MicroPython heap."""

from udlms.cosem.axdr import (ARRAY, BIT_STRING, BOOLEAN, DATE, DATETIME, DONT_CARE, FLOAT32,
                        FLOAT64, INT32, INT64, NULL, OCTET_STRING, STRUCTURE, TIME, UINT64,
                        UTF8, VISIBLE_STRING, BitString, _SIGNED, _SIZE, _STRINGS,
                        encode_length,
                        type_name)


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
        return NULL
    if value is True or value is False:
        return BOOLEAN
    if isinstance(value, int):
        if -(1 << 31) <= value < (1 << 31):
            return INT32
        if -(1 << 63) <= value < (1 << 63):
            return INT64
        return UINT64
    if isinstance(value, float):
        return FLOAT64
    if isinstance(value, (bytes, bytearray, memoryview)):
        return OCTET_STRING
    if isinstance(value, str):
        return VISIBLE_STRING
    if isinstance(value, BitString):
        return BIT_STRING
    if isinstance(value, tuple):
        return STRUCTURE
    if isinstance(value, list):
        return ARRAY
    raise ValueError("cannot encode %s as A-XDR" % type(value).__name__)


def encode(value, tag=None):
    """A-XDR bytes of a plain value. Without ``tag`` the type is inferred (int -> int32,
    or int64/uint64 when larger; bytes -> octet-string; str -> visible-string; tuple ->
    structure; list -> array; float -> float64). Containers encode their items by
    inference; use :func:`encode_typed` for full control."""
    if tag is None:
        tag = _guess_tag(value)
    if tag in (ARRAY, STRUCTURE):
        out = bytearray((tag,))
        out += encode_length(len(value))
        for v in value:
            out += encode(v)
        return bytes(out)
    return _encode_simple(tag, value)


def _encode_simple(tag, value):
    if tag == NULL or tag == DONT_CARE:
        return bytes((tag,))
    if tag == BOOLEAN:
        return bytes((3, 1 if value else 0))
    if tag in _STRINGS:
        if isinstance(value, str):
            value = value.encode("utf-8") if tag == UTF8 else value.encode()
        value = bytes(value)
        return bytes((tag,)) + encode_length(len(value)) + value
    if tag == BIT_STRING:
        n, data = value
        data = bytes(data)
        if len(data) != (n + 7) // 8:
            raise ValueError("bit-string of %d bits needs %d bytes" % (n, (n + 7) // 8))
        return b"\x04" + encode_length(n) + data
    if tag in (DATETIME, DATE, TIME):
        value = bytes(value)
        if len(value) != _SIZE[tag]:
            raise ValueError("%s needs %d bytes" % (type_name(tag), _SIZE[tag]))
        return bytes((tag,)) + value
    if tag == FLOAT32 or tag == FLOAT64:
        import struct

        return bytes((tag,)) + struct.pack(">f" if tag == FLOAT32 else ">d", value)
    if tag < 28 and _SIZE[tag]:
        return bytes((tag,)) + _int_bytes(tag, int(value))
    raise ValueError("cannot encode A-XDR type %s" % type_name(tag))


def encode_typed(tv):
    """Inverse of :func:`decode_typed`: ``(tag, value)`` where array/structure values
    are lists of ``(tag, value)`` pairs."""
    tag, value = tv
    if tag in (ARRAY, STRUCTURE):
        out = bytearray((tag,))
        out += encode_length(len(value))
        for item in value:
            out += encode_typed(item)
        return bytes(out)
    return _encode_simple(tag, value)
