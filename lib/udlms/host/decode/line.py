"""Trace input for ``udlms decode``: one logged line -> direction and bytes.

Accepts an optional timestamp and direction prefix (``TX:``/``RX:``, ``[TX]``, ``->``/``<-``,
``>``/``<``, ``send``/``recv``), hex bytes separated by spaces with leading zeros possibly
dropped (``7E A0 7 3 21 93``), ``0x7E,0xA0``, ``7e:a0:07:03`` or one continuous hex string.
"""

from udlms.errors import FrameError


_HEX = "0123456789abcdefABCDEF"
_TX_WORDS = ("TX", "SEND", "SENT", "SND", "OUT", "REQ", "WRITE", "C->S", "CLIENT")
_RX_WORDS = ("RX", "RECV", "RCV", "RECEIVE", "RECEIVED", "IN", "RES", "RESP", "REPLY", "READ",
             "S->C", "M->C", "METER", "SERVER")


def _is_hex(s):
    if not s:
        return False
    for c in s:
        if c not in _HEX:
            return False
    return True


def _hex_pieces(t):
    """Hex groups in token ``t`` (``7E``, ``7EA0..``, ``0x7E,0xA0``, ``7e:a0:07:03``) or
    None when ``t`` is not hex."""
    while t and t[-1] in ",;":
        t = t[:-1]
    parts = [t]
    for sep in ",:-":
        if sep in t:
            parts = t.split(sep)
            if sep == ",":
                parts = [p for p in parts if p]
            elif len(parts) < 4:
                return None
            else:
                for p in parts:
                    if len(p) > 2:
                        return None
            break
    out = []
    for p in parts:
        if p[:2] in ("0x", "0X"):
            p = p[2:]
        if not _is_hex(p):
            return None
        out.append(p)
    return out or None


def _marker(t):
    """Direction named by a prefix token (``TX:``, ``[RX]``, ``->``, ``<``), or None."""
    u = t.upper()
    core = u.strip("[](){}:=|*,.\t ")
    if core in _TX_WORDS:
        return "TX"
    if core in _RX_WORDS:
        return "RX"
    core = core.strip("<>-")
    if core in _TX_WORDS and (u.endswith(">") or u.startswith("-")):
        return "TX"
    if core in _RX_WORDS and (u.endswith("<") or u.startswith("<")):
        return "RX"
    if core == "" or core in ("TX", "RX"):
        if "->" in u or ">>" in u or u.strip("[]:") == ">":
            return "TX"
        if "<-" in u or "<<" in u or u.strip("[]:") == "<":
            return "RX"
    if "->" in u:
        return "RX" if u.startswith("S-") or u.startswith("M-") else "TX"
    return None


def _split_glued(t):
    """``TX:7EA0...`` / ``[RX]7E`` / ``->7E`` -> (marker, hex pieces) or None."""
    for i in range(len(t) - 1, 0, -1):
        if t[i - 1] in ":]>)<-=":
            head, rest = t[:i], t[i:]
            d = _marker(head)
            h = _hex_pieces(rest) if len(rest) > 1 else None
            if d is not None and h is not None:
                return head, h
    return None


def parse_line(line):
    """One trace line -> ``(direction or None, bytes)``; ``(None, None)`` for a blank or
    comment line. Raises ``FrameError`` (message, kind) for a line that holds no usable hex."""
    s = line.strip()
    if not s or s[0] == "#" or s[:2] == "//" or s[0] == ";":
        return None, None
    toks = s.split()
    hx = [_hex_pieces(t) for t in toks]
    # a trailing comment after the bytes: "... 7E  (UA)" / "# note"
    for i in range(1, len(toks)):
        if hx[i] is None and toks[i][:1] in "#(;" or toks[i][:2] == "//":
            if hx[i - 1] is not None:
                toks, hx = toks[:i], hx[:i]
                break
    last = -1
    for i in range(len(toks)):
        if hx[i] is None:
            last = i
    body = hx[last + 1:]
    direction = None
    for t in toks[:last + 1]:
        d = _marker(t)
        if d is not None and direction is None:
            direction = d
    if last >= 0:
        t = toks[last]
        g = _split_glued(t)
        if g is not None:
            direction = direction or _marker(g[0])
            body = [g[1]] + body
        elif _marker(t) is None and last > 0 and hx[last - 1] is not None and (
                body or last > 1):
            raise FrameError("%r is not hex (token %d of the line): fix or drop it" % (t, last + 1),
                       "bad-hex")
    if not body:
        raise FrameError("no hex bytes on this line", "no-data")
    flat = []
    for ps in body:
        flat.extend(ps)
    # a counter or epoch before byte-wise hex: "0012 7E A0 07 ..."
    if len(flat) > 2 and len(flat[0]) > 2 and flat[1].upper() == "7E":
        short = True
        for p in flat[1:]:
            if len(p) > 2:
                short = False
                break
        if short:
            flat = flat[1:]
    out = bytearray()
    for p in flat:
        if len(p) <= 2:
            out.append(int(p, 16))
        elif len(p) & 1:
            raise FrameError("odd number of hex digits in %s...: a digit is missing or extra"
                       % p[:16], "bad-hex")
        else:
            out.extend(bytes.fromhex(p))
    return direction, bytes(out)
