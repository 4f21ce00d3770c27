"""IEC 62056-47 wrapper frames in a trace (issue 24, case 6) for ``udlms decode``.

A wrapper frame is the APDU behind an 8-byte header: version (0x0001), source wPort,
destination wPort, length of the APDU, all big-endian (IEC 62056-47 §5, Green Book §7.3.3).
``udlms --trace`` writes a wrapper session's frames this way; other tools log them alike.
A line whose bytes start with such a header is explained as HDLC frames are: the header's
fields, then the APDU it carries (deciphered with --ek/--ak). Several frames may share a
line; a length field that says more than the line holds, or less, is reported.
"""

from udlms.host.decode.base import _hx, _new_obj, _request_tag

VERSION = 1
HEADER = 8
_CLIENTS = {1: "management client", 16: "public client"}


def is_frame(data):
    """True when ``data`` starts with a wrapper header: version 0x0001 and at least the
    8 header bytes (no APDU starts with 00, so a bare APDU is never taken for one)."""
    return len(data) >= HEADER and data[0] == 0 and data[1] == VERSION


def _wport(n, role):
    name = _CLIENTS.get(n) if role == "client" else None
    return "%d%s" % (n, " (%s)" % name if name else "")


def split(ctx, data, direction, lineno):
    """Every wrapper frame on one line -> list of frame objects (``wrapper``: version,
    source, destination, length, length_present)."""
    objs = []
    pos = 0
    n = len(data)
    while pos < n:
        if objs and not is_frame(data[pos:]):
            o = objs[-1]
            w = ("%d bytes after the wrapper frame (its length field says %d): %s%s" % (
                n - pos, o["wrapper"]["length"], _hx(data[pos:pos + 16]),
                "..." if n - pos > 16 else ""))
            o["warnings"].append(w)
            o["text"] += "\n  warning: " + w
            break
        o, pos = _one(ctx, data, pos, direction, lineno)
        objs.append(o)
    return objs


def _one(ctx, data, pos, direction, lineno):
    h = data[pos:pos + HEADER]
    version = (h[0] << 8) | h[1]
    src = (h[2] << 8) | h[3]
    dst = (h[4] << 8) | h[5]
    length = (h[6] << 8) | h[7]
    body = data[pos + HEADER:pos + HEADER + length]
    end = pos + HEADER + len(body)
    o = _new_obj(lineno, direction)
    o["hex"] = _hx(data[pos:end])
    if direction:
        o["direction_from"] = "prefix"
    elif len(body):
        r = _request_tag(body[0])
        if r is not None:
            o["direction"], o["direction_from"] = ("TX" if r else "RX"), "apdu"
    # the client's wPort is its SAP; the server's the logical device (Green Book §7.3.3)
    if o["direction"] == "RX":
        who = "server wPort %s -> client wPort %s" % (_wport(src, "server"),
                                                      _wport(dst, "client"))
    elif o["direction"] == "TX":
        who = "client wPort %s -> server wPort %s" % (_wport(src, "client"),
                                                      _wport(dst, "server"))
    else:
        who = "source wPort %d -> destination wPort %d" % (src, dst)
    o["wrapper"] = {"version": version, "source": src, "destination": dst,
                    "length": length, "length_present": len(body)}
    lines = ["line %d %s: wrapper (IEC 62056-47) version %d, %s, length %d" % (
        lineno, o["direction"] or "?", version, who, length)]
    if len(body) < length:
        o["error"] = ("wrapper frame cut short: its length field says %d bytes of APDU, the "
                      "line holds %d" % (length, len(body)))
        o["error_kind"] = "truncated"
        lines.append("  ERROR: " + o["error"])
        if len(body):
            lines.append("  the %d bytes present: %s%s" % (len(body), _hx(body[:32]),
                                                         "..." if len(body) > 32 else ""))
        o["text"] = "\n".join(lines)
        return o, end
    if not length:
        lines.append("  no APDU (length 0)")
    else:
        ctx.apdu(o, body, lines)
    o["text"] = "\n".join(lines)
    return o, end
