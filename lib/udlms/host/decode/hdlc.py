"""HDLC frame explanation for ``udlms decode`` (IEC 62056-46 frame format type 3:
format/segmentation/length, addresses, control, HCS/FCS CRC-16/X.25, SNRM/UA parameters,
LLC, segment reassembly per direction)."""

from udlms.errors import FrameError
from udlms.link import fcs16


_LLC = {b"\xe6\xe6\x00": "TX", b"\xe6\xe7\x00": "RX"}
_U_FRAMES = {0x83: "SNRM", 0x63: "UA", 0x43: "DISC", 0x0F: "DM", 0x87: "FRMR", 0x03: "UI"}
_S_FRAMES = ("RR", "RNR", "REJ", "SREJ")
_U_TEXT = {"SNRM": "set normal response mode (connect)", "UA": "unnumbered acknowledge",
           "DISC": "disconnect", "DM": "disconnected mode (link refused or not connected)",
           "FRMR": "frame reject (the peer refused a frame)", "UI": "unnumbered information"}
_PARAM_NAMES = {5: "max_info_tx", 6: "max_info_rx", 7: "window_tx", 8: "window_rx"}


def address_value(raw):
    """(upper, lower) of an address field (clause 8.4.2.2); lower is None for a 1-byte
    address."""
    n = len(raw)
    if n == 1:
        return (raw[0] >> 1, None)
    if n == 2:
        return (raw[0] >> 1, raw[1] >> 1)
    if n == 4:
        return (((raw[0] >> 1) << 7) | (raw[1] >> 1), ((raw[2] >> 1) << 7) | (raw[3] >> 1))
    return (None, None)


def _hx(b):
    return "".join("%02X" % x for x in bytes(b))


def _spaced(b):
    return " ".join("%02X" % x for x in bytes(b))


def _address(buf, pos, end):
    """Address field at ``pos`` (LSB 1 ends it, 1/2/4 bytes) -> (raw bytes, newpos)."""
    start = pos
    while pos < end:
        b = buf[pos]
        pos += 1
        if b & 1:
            n = pos - start
            if n == 3:
                raise FrameError("address field of 3 bytes is not valid (1, 2 or 4)", "bad-address")
            return bytes(buf[start:pos]), pos
        if pos - start >= 4:
            break
    raise FrameError("address field has no end bit within 4 bytes: corrupt frame", "bad-address")


def _addr_obj(raw, role):
    """Decoded address: role 'client' (SAP) or 'server' (upper/lower) or None."""
    n = len(raw)
    upper, lower = address_value(raw)
    o = {"hex": _hx(raw), "size": n, "role": role}
    if role == "client":
        o["sap"] = upper
        name = {0: "no-station", 1: "management client", 16: "public client",
                0x7F: "all-station"}.get(upper, "")
        o["text"] = "client SAP %d%s" % (upper, " (%s)" % name if name else "")
    else:
        o["upper"] = o["logical"] = upper
        o["lower"] = o["physical"] = lower
        o["text"] = "%s logical %d%s" % (role or "station", upper,
                                         "" if lower is None else " physical %d" % lower)
        if n == 1 and role is None:
            o["sap"] = upper
    return o


def control_info(c):
    """HDLC control byte -> dict(hex, type, ns, nr, pf, text) (IEC 62056-46 §6.4.3)."""
    pf = bool(c & 0x10)
    o = {"hex": "%02X" % c, "type": None, "ns": None, "nr": None, "pf": pf}
    if not c & 1:
        o["type"] = "I"
        o["ns"] = (c >> 1) & 7
        o["nr"] = (c >> 5) & 7
        o["text"] = "I-frame N(S)=%d N(R)=%d %s" % (o["ns"], o["nr"], "P/F=1" if pf else "P/F=0")
    elif c & 3 == 1:
        o["type"] = _S_FRAMES[(c >> 2) & 3]
        o["nr"] = (c >> 5) & 7
        o["text"] = "%s N(R)=%d %s (%s)" % (o["type"], o["nr"], "P/F=1" if pf else "P/F=0",
                                            "ready to receive" if o["type"] == "RR"
                                            else "not ready" if o["type"] == "RNR"
                                            else "reject")
    else:
        t = _U_FRAMES.get(c & 0xEF)
        o["type"] = t or "U-%02X" % c
        o["text"] = "%s%s" % (o["type"], " (%s)" % _U_TEXT[t] if t else
                              " (unknown unnumbered frame)")
    o["name"] = o["type"]
    return o


def parse_params(info):
    """SNRM/UA information field ``81 80 len (id len value)*`` -> dict of the parameters
    present (IEC 62056-46 §6.4.4.4.3.2), or raises ``FrameError``."""
    info = bytes(info)
    if len(info) < 3 or info[0] != 0x81 or info[1] != 0x80:
        raise FrameError("parameter field does not start with 81 80", "bad-params")
    end = 3 + info[2]
    if end > len(info):
        raise FrameError("parameter group claims %d bytes, %d present" % (info[2], len(info) - 3),
                   "bad-params")
    out = {}
    p = 3
    while p + 2 <= end:
        pid, n = info[p], info[p + 1]
        p += 2
        if p + n > end:
            raise FrameError("parameter %02X is cut short" % pid, "bad-params")
        out[_PARAM_NAMES.get(pid, "param_%02X" % pid)] = int.from_bytes(info[p:p + n], "big")
        p += n
    return out


def _ok(v):
    return "?" if v is None else ("ok" if v else "WRONG")


def frame(dec, f, direction, lineno, truncated):
    """One frame (flags included) -> the frame object; ``dec`` is the Decoder."""
    from udlms.host.decode.base import _new_obj

    o = _new_obj(lineno, direction)
    o["hex"] = _hx(f)
    if direction:
        o["direction_from"] = "prefix"
    lines = []
    h = {"format": None, "format_byte": None, "length": None, "segmented": None,
         "dst": None, "src": None, "control": None, "hcs_ok": None, "fcs_ok": None,
         "llc": None, "info_length": None, "params": None}
    o["hdlc"] = h
    n = len(f)
    try:
        if n < 3:
            raise FrameError("frame is cut short after %d bytes" % n, "truncated")
        fb = f[1]
        h["format_byte"] = "%02X" % fb
        h["format"] = 3 if fb >> 4 == 0xA else None
        h["segmented"] = bool(fb & 8)
        length = ((fb & 7) << 8) | f[2]
        h["length"] = length
        if h["format"] is None:
            raise FrameError("format byte %02X is not HDLC frame format type 3 (A0..AF)" % fb,
                       "bad-format")
        if length < 7:
            raise FrameError("length field says %d bytes, too short for a frame" % length,
                       "bad-length")
        end = min(n, length + 1)  # index of the FCS end (exclusive) / closing flag
        dst, p = _address(f, 3, end)
        src, p = _address(f, p, end)
        if p >= end:
            raise FrameError("frame is cut short before the control field", "truncated")
        ctrl = f[p]
        p += 1
        hdr_end = p
        ci = control_info(ctrl)
        h["control"] = ci
        _direction(dec, o, dst, src, ci, f, hdr_end, length)
        d = o["direction"]
        h["dst"] = _addr_obj(dst, "server" if d == "TX" else "client" if d == "RX"
                             else None)
        h["src"] = _addr_obj(src, "client" if d == "TX" else "server" if d == "RX"
                             else None)
        has_info = length > hdr_end + 1
        if has_info and n >= hdr_end + 2:
            hcs = f[hdr_end] | (f[hdr_end + 1] << 8)
            h["hcs_ok"] = fcs16(f, 1, hdr_end) == hcs
        lines.append("line %d %s: HDLC type 3, length %d%s, %s -> %s" % (
            lineno, d or "?", length, ", segmented (more follows)" if h["segmented"]
            else "", h["src"]["text"], h["dst"]["text"]))
        if truncated or n < length + 2:
            raise FrameError("frame is cut short: length field says %d bytes between the flags, "
                       "only %d present" % (length, max(0, n - 2)), "truncated")
        fcs = f[length - 1] | (f[length] << 8)
        h["fcs_ok"] = fcs16(f, 1, length - 1) == fcs
        info = f[hdr_end + 2:length - 1] if has_info else b""
        h["info_length"] = len(info)
        checks = "HCS %s, FCS %s" % (_ok(h["hcs_ok"]), _ok(h["fcs_ok"]))
        if h["hcs_ok"] is None:
            checks = "FCS %s (no information field, no HCS)" % _ok(h["fcs_ok"])
        lines.append("  control %02X: %s; %s" % (ctrl, ci["text"], checks))
        if f[length + 1] != 0x7E:
            o["warnings"].append("no closing 7E flag where the length field ends the frame")
        if h["hcs_ok"] is False:
            o["warnings"].append("header check sequence wrong: header corrupted")
        if h["fcs_ok"] is False:
            o["error"] = "frame check sequence wrong: line noise or corrupted frame"
            o["error_kind"] = "bad-fcs"
        _info(dec, o, h, ci, info, lines)
    except FrameError as e:
        o["error"], o["error_kind"] = e.message, e.kind
        if truncated and h["length"] is not None and e.kind not in ("bad-format",
                                                                    "bad-length"):
            o["error"] = ("frame is cut short: length field says %d bytes between the "
                          "flags, only %d present" % (h["length"], max(0, n - 2)))
            o["error_kind"] = "truncated"
    for w in o["warnings"]:
        lines.append("  warning: " + w)
    if o["error"]:
        if not lines:
            lines.append("line %d %s: HDLC frame" % (lineno, o["direction"] or "?"))
        lines.append("  ERROR: " + o["error"])
    o["text"] = "\n".join(lines)
    return o



def _direction(dec, o, dst, src, ci, f, hdr_end, length):
    key = (dst, src)
    d, why = o["direction"], o["direction_from"]
    llc = bytes(f[hdr_end + 2:hdr_end + 5]) if length > hdr_end + 5 and len(f) > hdr_end + 5 \
        else None
    if d is None and llc in _LLC:  # the LLC bytes name the direction outright
        d, why = _LLC[llc], "llc"
    if d is None and key in dec.pairs:
        d, why = dec.pairs[key], "earlier frames"
    if d is None:
        if len(src) == 1 and len(dst) > 1:
            d, why = "TX", "addresses"
        elif len(dst) == 1 and len(src) > 1:
            d, why = "RX", "addresses"
        elif ci["type"] in ("SNRM", "DISC"):
            d, why = "TX", "control"
        elif ci["type"] in ("UA", "DM", "FRMR"):
            d, why = "RX", "control"
        elif key in dec.pairs:
            d, why = dec.pairs[key], "earlier frames"
        elif length > hdr_end + 5 and len(f) > hdr_end + 5:
            llc = bytes(f[hdr_end + 2:hdr_end + 5])
            if llc in _LLC:
                d, why = _LLC[llc], "llc"
            else:
                from udlms.host.decode.base import _request_tag

                r = _request_tag(f[hdr_end + 2])
                if r is not None and ci["type"] == "I":
                    d, why = ("TX" if r else "RX"), "apdu"
    if d is not None:
        dec.pairs[key] = d
        dec.pairs[(src, dst)] = "RX" if d == "TX" else "TX"
    o["direction"], o["direction_from"] = d, why



def _info(dec, o, h, ci, info, lines):
    t = ci["type"]
    if t in ("SNRM", "UA"):
        if not len(info):
            lines.append("  no parameters: defaults (max info 128/128, window 1/1)")
            h["params"] = {}
        else:
            try:
                h["params"] = parse_params(info)
                lines.append("  parameters: " + ", ".join(
                    "%s %d" % (k, v) for k, v in sorted(h["params"].items())))
            except FrameError as e:
                o["warnings"].append(e.message)
        return
    if t == "FRMR":
        if len(info) >= 3:
            flags = info[2]
            why = [w for b, w in ((1, "W: control field invalid"),
                                  (2, "X: information field not allowed"),
                                  (4, "Y: information field too long"),
                                  (8, "Z: N(R) invalid")) if flags & b]
            lines.append("  rejected control %02X, V(S)=%d V(R)=%d; %s" % (
                info[0], (info[1] >> 1) & 7, (info[1] >> 5) & 7,
                ", ".join(why) or "no reason bits"))
        return
    if t not in ("I", "UI") or not len(info):
        return
    d = o["direction"]
    llc = bytes(info[:3])
    seg = dec.segments.get(d)
    if llc in _LLC:
        h["llc"] = _spaced(llc)
        lines.append("  LLC %s (%s)" % (h["llc"], "client -> server" if _LLC[llc] == "TX"
                                        else "server -> client"))
        if seg:
            o["warnings"].append("an earlier segmented APDU never completed (%d bytes "
                                 "dropped)" % len(seg))
            seg = None
        info = info[3:]
    if h["fcs_ok"] is False:
        if h["segmented"] or seg:
            lines.append("  segment not used: a receiver discards a frame with a bad FCS")
            return
    if h["segmented"]:
        buf = (seg or bytearray()) + bytes(info)
        dec.segments[d] = buf
        o["segment"] = {"more": True, "collected": len(buf)}
        lines.append("  segment of a longer APDU: %d bytes so far, more follow"
                     % len(buf))
        return
    if seg:
        apdu = bytes(seg) + bytes(info)
        dec.segments[d] = None
        o["segment"] = {"more": False, "collected": len(apdu)}
        lines.append("  last segment: APDU of %d bytes reassembled" % len(apdu))
    else:
        apdu = bytes(info)
    if h["fcs_ok"] is False:
        lines.append("  (explained as received; the meter/client would discard this frame)")
    dec.apdu(o, apdu, lines)
