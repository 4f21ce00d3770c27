"""A-XDR encoding of COSEM data (IEC 62056-6-2 §4.1.5, Green Book §9.5 "Data").

Decoded values are plain Python values (no memoryviews): structure -> tuple,
array -> list, octet-string / date-time / date / time -> bytes, visible-string and
utf8-string -> str, integers / enum / bcd -> int, boolean -> bool, null-data -> None,
bit-string -> :class:`BitString`, float32/64 -> float.

Every length is checked against the buffer before anything is allocated, and nesting
is bounded (``MAX_DEPTH``): hostile input raises only ``ApduError`` kind "malformed".
"""

from udlms.errors import ApduError
from udlms.port import const

# _FULL: 0 in the device build (tools/build/msgtable.py): what only a PC uses is left out
_FULL = const(1)
_NULL = const(0)
_ARRAY = const(1)
_STRUCTURE = const(2)
_BOOLEAN = const(3)
_BIT_STRING = const(4)
_INT32 = const(5)
_UINT32 = const(6)
_OCTET_STRING = const(9)
_VISIBLE_STRING = const(10)
_UTF8 = const(12)
_BCD = const(13)
_INT8 = const(15)
_INT16 = const(16)
_UINT8 = const(17)
_UINT16 = const(18)
_COMPACT_ARRAY = const(19)
_INT64 = const(20)
_UINT64 = const(21)
_ENUM = const(22)
_FLOAT32 = const(23)
_FLOAT64 = const(24)
_DATETIME = const(25)
_DATE = const(26)
_TIME = const(27)
_DONT_CARE = const(255)

_MAX_DEPTH = const(16)
if _FULL:  # the tags by name (PC tools and tests; a board's code uses the numbers)
    (NULL, ARRAY, STRUCTURE, BOOLEAN, BIT_STRING, INT32, UINT32, OCTET_STRING, VISIBLE_STRING,
     UTF8, BCD, INT8, INT16, UINT8, UINT16, COMPACT_ARRAY, INT64, UINT64, ENUM, FLOAT32, FLOAT64,
     DATETIME, DATE, TIME, DONT_CARE, MAX_DEPTH) = (
        _NULL, _ARRAY, _STRUCTURE, _BOOLEAN, _BIT_STRING, _INT32, _UINT32, _OCTET_STRING,
        _VISIBLE_STRING, _UTF8, _BCD, _INT8, _INT16, _UINT8, _UINT16, _COMPACT_ARRAY, _INT64,
        _UINT64, _ENUM, _FLOAT32, _FLOAT64, _DATETIME, _DATE, _TIME, _DONT_CARE, _MAX_DEPTH)

# names and fixed sizes indexed by tag (0..27); size 0 = length-prefixed or container
_NAMES = ("null array structure boolean bit-string int32 uint32 7 8 octet-string "
          "visible-string 11 utf8-string bcd 14 int8 int16 uint8 uint16 compact-array int64 "
          "uint64 enum float32 float64 date-time date time")
_SIZE = bytes.fromhex("0000000100040400000000000001000102010200080801040" "80C0504")
_SIGNED = (5, 15, 16, 20)
_STRINGS = (9, 10, 12)
_KNOWN = (7, 8, 11, 14)  # unused tag numbers below 28


def type_name(tag):
    """Name of an A-XDR data type tag, e.g. 9 -> "octet-string"."""
    if tag == _DONT_CARE:
        return "dont-care"
    if tag < 28 and tag not in _KNOWN:
        return _NAMES.split()[tag]
    return "type-%d" % tag


class BitString:
    """A bit-string: ``nbits`` bits held MSB-first in ``data`` (bytes).

    Unpacks like a pair: ``n, data = bs``; compares equal to ``(n, data)``.
    """

    def __init__(self, nbits, data=b""):
        self.nbits = nbits
        self.data = bytes(data)

    def __iter__(self):
        return iter((self.nbits, self.data))

    def __eq__(self, other):
        try:
            n, d = other
        except (TypeError, ValueError):
            return False
        return self.nbits == n and self.data == bytes(d)

    __hash__ = None

    def bits(self):
        """The bits as a string of 0/1 (first bit = MSB of the first byte)."""
        d = self.data
        return "".join(str((d[i >> 3] >> (7 - (i & 7))) & 1) for i in range(self.nbits))

    if _FULL:  # (a board shows no BitString repr)
        def __repr__(self):
            return "BitString(%d, %r)" % (self.nbits, self.data)


def _bad(msg):
    return ApduError(msg, "malformed")


# -- lengths ---------------------------------------------------------------------------
def encode_length(n):
    """A-XDR/BER length: short form < 0x80, else 0x8k followed by k bytes big-endian."""
    if n < 0:
        raise ValueError("negative length")
    if n < 0x80:
        return bytes((n,))
    k = 1
    while n >> (8 * k):
        k += 1
    return bytes((0x80 | k,)) + n.to_bytes(k, "big")


def decode_length(buf, pos):
    """-> (n, newpos). Raises ApduError when the length field itself is truncated or
    uses more than 4 bytes (the length is *not* checked against the buffer here)."""
    end = len(buf)
    if pos >= end:
        raise _bad("length field missing at byte %d: the data is cut short" % pos)
    b = buf[pos]
    pos += 1
    if b < 0x80:
        return b, pos
    k = b & 0x7F
    if k == 0 or k > 4:
        raise _bad("length field 0x%02X at byte %d is not a valid length" % (b, pos - 1))
    if pos + k > end:
        raise _bad("length field at byte %d is cut short" % (pos - 1))
    n = 0
    for i in range(k):
        n = (n << 8) | buf[pos + i]
    return n, pos + k


def _need(buf, pos, n, what, count=-1):
    """ApduError unless n bytes remain at pos; ``what`` a type tag (named only when the
    error is raised) and ``count`` its number of elements (an array's or structure's)."""
    if n > len(buf) - pos:
        what = type_name(what)
        if count >= 0:
            what = "%s of %d elements" % (what, count)
        raise _bad("%s claims %d bytes at byte %d but only %d remain: the data is "
                   "cut short or corrupt" % (what, n, pos, len(buf) - pos))


# -- encoding --------------------------------------------------------------------------
if _FULL:  # (the PC's tools; a board's token code builds its own)
    def octet_string(b):
        """``09 len b`` (A-XDR octet-string)."""
        return b"\x09" + encode_length(len(b)) + bytes(b)


# -- decoding --------------------------------------------------------------------------
def _scalar(buf, pos, tag):
    """Decode a non-container value whose tag byte is already consumed."""
    if tag == _NULL or tag == _DONT_CARE:
        return None, pos
    if tag > 27 or tag in _KNOWN:
        raise _bad("unknown A-XDR data type %d at byte %d" % (tag, pos - 1))
    size = _SIZE[tag]
    if tag in _STRINGS:
        n, pos = decode_length(buf, pos)
        _need(buf, pos, n, tag)
        raw = bytes(buf[pos:pos + n])
        pos += n
        if tag == _OCTET_STRING:
            return raw, pos
        try:
            return raw.decode(), pos
        except UnicodeError:
            return "".join(chr(c) for c in raw), pos
    if tag == _BIT_STRING:
        n, pos = decode_length(buf, pos)
        nb = (n + 7) >> 3
        _need(buf, pos, nb, _BIT_STRING)
        return BitString(n, buf[pos:pos + nb]), pos + nb
    if tag == _COMPACT_ARRAY:
        raise ApduError("compact-array data at byte %d is not supported" % (pos - 1),
                        "unexpected")
    _need(buf, pos, size, tag)
    raw = buf[pos:pos + size]
    pos += size
    if tag in (_DATETIME, _DATE, _TIME):
        return bytes(raw), pos
    if tag == _BOOLEAN:
        return raw[0] != 0, pos
    if tag == _FLOAT32 or tag == _FLOAT64:
        import struct

        return struct.unpack(">f" if tag == _FLOAT32 else ">d", bytes(raw))[0], pos
    v = int.from_bytes(bytes(raw), "big")
    if tag in _SIGNED and v >= 1 << (8 * size - 1):
        v -= 1 << (8 * size)
    return v, pos


def _decode(buf, pos, depth, typed):
    if depth > _MAX_DEPTH:
        raise _bad("data nested deeper than %d levels at byte %d" % (_MAX_DEPTH, pos))
    if pos >= len(buf):
        raise _bad("data type missing at byte %d: the data is cut short" % pos)
    tag = buf[pos]
    pos += 1
    if tag == _ARRAY or tag == _STRUCTURE:
        n, pos = decode_length(buf, pos)
        # every element needs at least its tag byte: check before building anything
        _need(buf, pos, n, tag, n)
        items = []
        for _ in range(n):
            v, pos = _decode(buf, pos, depth + 1, typed)
            items.append(v)
        if typed:
            return (tag, items), pos
        return (tuple(items) if tag == _STRUCTURE else items), pos
    v, pos = _scalar(buf, pos, tag)
    if typed:
        return (tag, v), pos
    return v, pos


def decode(buf, pos=0):
    """Decode one A-XDR Data value at ``pos`` -> ``(value, newpos)``."""
    return _decode(buf, pos, 0, False)


def decode_typed(buf, pos=0):
    """-> ``(tag, value, newpos)``; array/structure values are lists of
    ``(tag, value)`` pairs (for the trace decoder)."""
    (tag, v), pos = _decode(buf, pos, 0, True)
    return tag, v, pos
