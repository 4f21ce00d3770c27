"""HDLC frame format type 3 (IEC 62056-46 clause 8.4): the frame codec.

Frame: 7E · format (A0 | S<<3 | length>>8, length) · destination address · source address ·
control · HCS (only when an information field follows) · info · FCS · 7E. HCS and FCS are
CRC-16/X.25 (clause 8.4.6, RFC 1662), sent low byte first. Addresses (clause 8.4.2.2),
control fields (clause 8.4.3), ``encode_frame`` into a caller's buffer. The names are also
reached as ``udlms.link.hdlc.<name>``.
"""

from udlms.errors import LinkError
from udlms.port import const

FLAG = const(0x7E)
SNRM = const(0x93)
UA = const(0x73)
DISC = const(0x53)
DM = const(0x1F)
FRMR = const(0x97)
UI = const(0x13)

LLC_REQUEST = b"\xe6\xe6\x00"
LLC_RESPONSE = b"\xe6\xe7\x00"

DEFAULT_MAX_INFO = const(128)  # IEC 62056-46 6.4.4.4.3.2 (also in hdlc_params, which
DEFAULT_WINDOW = const(1)  # must not import this module: it is loaded for a connect only)

OVERHEAD = const(16)  # flags, format, 4+1 address bytes, control, HCS, FCS (worst case)


def _make_table():
    try:
        from array import array

        t = array("H", bytes(512))  # zeroed without a 256-entry list
    except ImportError:  # pragma: no cover
        t = [0] * 256
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x8408 if c & 1 else c >> 1
        t[i] = c
    return t


_TABLE = _make_table()


def fcs16(buf, start=0, end=None):
    """CRC-16/X.25 of buf[start:end] (final value; append it low byte first)."""
    if end is None:
        end = len(buf)
    t = _TABLE
    c = 0xFFFF
    for i in range(start, end):
        c = (c >> 8) ^ t[(c ^ buf[i]) & 0xFF]
    return c ^ 0xFFFF


# -- addresses (clause 8.4.2.2) -----------------------------------------------------------


def client_address(sap):
    """One-byte client address: SAP 1 (management) -> 03, 16 (public) -> 21."""
    if not 0 <= sap <= 0x7F:
        raise LinkError("client SAP %d out of range 0..127" % sap, "config")
    return bytes(((sap << 1) | 1,))


def server_address(logical, physical=None, size=2):
    """Server address of 1, 2 or 4 bytes: upper = logical device, lower = physical."""
    if size == 1:
        if not 0 <= logical <= 0x7F:
            raise LinkError("server logical address %d does not fit 1 byte" % logical, "config")
        return bytes(((logical << 1) | 1,))
    if physical is None:
        physical = 0
    if size == 2:
        if not (0 <= logical <= 0x7F and 0 <= physical <= 0x7F):
            raise LinkError("server address %d/%d does not fit 2 bytes (use --address-size 4)"
                            % (logical, physical), "config")
        return bytes((logical << 1, (physical << 1) | 1))
    if size == 4:
        if not (0 <= logical <= 0x3FFF and 0 <= physical <= 0x3FFF):
            raise LinkError("server address %d/%d out of range" % (logical, physical), "config")
        return bytes(((logical >> 7) << 1, (logical & 0x7F) << 1,
                      (physical >> 7) << 1, ((physical & 0x7F) << 1) | 1))
    raise LinkError("address size must be 1, 2 or 4, not %d" % size, "config")


def address_value(raw):
    """(upper, lower) of an address field; lower is None for a 1-byte address."""
    n = len(raw)
    if n == 1:
        return (raw[0] >> 1, None)
    if n == 2:
        return (raw[0] >> 1, raw[1] >> 1)
    if n == 4:
        return (((raw[0] >> 1) << 7) | (raw[1] >> 1), ((raw[2] >> 1) << 7) | (raw[3] >> 1))
    return (None, None)


# -- control field (clause 8.4.3) ---------------------------------------------------------


def i_control(ns, nr, poll=True):
    return ((nr & 7) << 5) | (0x10 if poll else 0) | ((ns & 7) << 1)


def rr_control(nr, poll=True):
    return ((nr & 7) << 5) | (0x10 if poll else 0) | 0x01


# -- frames --------------------------------------------------------------------------------


def encode_frame(out, dst, src, control, info=None, segmented=False):
    """Write one complete frame into bytearray ``out``; return its length."""
    ninfo = len(info) if info else 0
    hdr = 2 + len(dst) + len(src) + 1
    length = hdr + (2 + ninfo if ninfo else 0) + 2
    if length > 0x7FF:
        raise LinkError("frame of %d bytes exceeds the 11-bit length field" % length, "too-long")
    if len(out) < length + 2:
        raise LinkError("frame buffer too small", "too-long")
    out[0] = FLAG
    out[1] = 0xA0 | (0x08 if segmented else 0) | (length >> 8)
    out[2] = length & 0xFF
    p = 3
    for b in dst:
        out[p] = b
        p += 1
    for b in src:
        out[p] = b
        p += 1
    out[p] = control
    p += 1
    if ninfo:
        c = fcs16(out, 1, p)
        out[p] = c & 0xFF
        out[p + 1] = c >> 8
        p += 2
        out[p:p + ninfo] = info
        p += ninfo
    c = fcs16(out, 1, p)
    out[p] = c & 0xFF
    out[p + 1] = c >> 8
    out[p + 2] = FLAG
    return p + 3


def frame(dst, src, control, info=b"", segmented=False):
    """A complete frame as bytes (convenience for tools and tests)."""
    out = bytearray(len(dst) + len(src) + len(info) + OVERHEAD)
    n = encode_frame(out, dst, src, control, info, segmented)
    return bytes(out[:n])
