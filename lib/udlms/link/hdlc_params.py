"""HDLC SNRM/UA information field: the negotiation parameters (IEC 62056-46 Annex A /
Green Book §8.4.5.3.2): maximum information field lengths and window sizes. Only a
connect needs them (``hdlc.Link.connect`` imports and, on MicroPython, forgets this module);
also reached as ``hdlc.snrm_info``, ``hdlc.ua_info`` and ``hdlc.parse_params``."""

from udlms.errors import FrameError
from udlms.port import const

# the defaults a parameter takes when the SNRM/UA leaves it out (IEC 62056-46 6.4.4.4.3.2);
# udlms.link.hdlc has the same two values for its buffers
DEFAULT_MAX_INFO = const(128)
DEFAULT_WINDOW = const(1)


def snrm_info(max_tx=DEFAULT_MAX_INFO, max_rx=DEFAULT_MAX_INFO, win_tx=DEFAULT_WINDOW,
              win_rx=DEFAULT_WINDOW):
    """SNRM/UA information field (IEC 62056-46 Annex A / Green Book §8.4.5.3.2).

    Only parameters that differ from the defaults are written; empty when all are default
    (as the gurux-dlms client does)."""
    body = bytearray()
    for pid, val, dflt in ((5, max_tx, DEFAULT_MAX_INFO), (6, max_rx, DEFAULT_MAX_INFO)):
        if val != dflt:
            if val < 256:
                body += bytes((pid, 1, val))
            else:
                body += bytes((pid, 2, val >> 8, val & 0xFF))
    for pid, val, dflt in ((7, win_tx, DEFAULT_WINDOW), (8, win_rx, DEFAULT_WINDOW)):
        if val != dflt:
            body += bytes((pid, 4, 0, 0, 0, val & 0xFF))
    if not body:
        return b""
    return bytes((0x81, 0x80, len(body))) + bytes(body)


def ua_info(max_tx, max_rx, win_tx, win_rx):
    """UA information field with all four parameters written (as meters answer)."""
    body = bytearray()
    for pid, val in ((5, max_tx), (6, max_rx)):
        if val < 256:
            body += bytes((pid, 1, val))
        else:
            body += bytes((pid, 2, val >> 8, val & 0xFF))
    for pid, val in ((7, win_tx), (8, win_rx)):
        body += bytes((pid, 4, 0, 0, 0, val & 0xFF))
    return bytes((0x81, 0x80, len(body))) + bytes(body)


def parse_params(info):
    """(max_info_tx, max_info_rx, window_tx, window_rx) of an SNRM/UA information field;
    parameters not present take the defaults."""
    vals = [DEFAULT_MAX_INFO, DEFAULT_MAX_INFO, DEFAULT_WINDOW, DEFAULT_WINDOW]
    n = len(info)
    if n == 0:
        return tuple(vals)
    if n < 3 or info[0] != 0x81 or info[1] != 0x80:
        raise FrameError("SNRM/UA parameters do not start with 81 80", "bad-params")
    end = 3 + info[2]
    if end > n:
        raise FrameError("SNRM/UA parameter group longer than the field", "bad-params")
    p = 3
    while p + 2 <= end:
        pid = info[p]
        ln = info[p + 1]
        p += 2
        if p + ln > end or ln > 4:
            raise FrameError("SNRM/UA parameter %d has a bad length" % pid, "bad-params")
        v = 0
        for i in range(ln):
            v = (v << 8) | info[p + i]
        p += ln
        if 5 <= pid <= 8:
            vals[pid - 5] = v
    return tuple(vals)
