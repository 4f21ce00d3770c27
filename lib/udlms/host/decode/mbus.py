"""M-Bus frames (EN 13757-2 link layer, EN 13757-3 CI field) carrying DLMS APDUs, for
``udlms decode``. A long frame is ``68 L L 68 C A CI data CS 16``: L counts C..data, CS is
their sum mod 256. CI 00..1F carries a DLMS APDU in segments (low 4 bits: sequence number,
bit 4: last segment), each after STSAP and DTSAP bytes, as HAN push interfaces send them
(Austrian utilities: ``68 FA FA 68 53 FF 00 01 67 DB 08 ...``); CI 7C/7D (meter to reader)
and 60/61 (reader to meter) carry COSEM data after a long/short transport header.
Segments are reassembled across frames; gaps, repeats and bad checksums are reported."""

from udlms.errors import FrameError

_C_NAMES = {0x40: "SND_NKE", 0x53: "SND_UD", 0x73: "SND_UD", 0x5B: "REQ_UD2",
            0x7B: "REQ_UD2", 0x5A: "REQ_UD1", 0x7A: "REQ_UD1", 0x08: "RSP_UD", 0x18: "RSP_UD",
            0x28: "RSP_UD", 0x38: "RSP_UD", 0x44: "SND_NR", 0x46: "SND_IR"}
_CI_TL = {0x60: ("COSEM data to the meter, long transport header", 12),
          0x61: ("COSEM data to the meter, short transport header", 4),
          0x7C: ("COSEM data from the meter, long transport header", 12),
          0x7D: ("COSEM data from the meter, short transport header", 4)}
_CI_OTHER = {0x72: "M-Bus variable data structure (long header)",
             0x7A: "M-Bus variable data structure (short header)",
             0x78: "M-Bus variable data structure (no header)",
             0x51: "M-Bus data to the meter", 0x50: "M-Bus application reset",
             0x52: "M-Bus selection of slaves", 0xB8: "M-Bus baud rate 300",
             0x70: "M-Bus application error"}
MAX_APDU = 65536


def _hx(b):
    return "".join("%02X" % x for x in bytes(b))


def is_long_frame_start(data, pos=0):
    return (len(data) >= pos + 4 and data[pos] == 0x68 and data[pos + 3] == 0x68
            and data[pos + 1] == data[pos + 2])


def plausible(data):
    """A frame cut at a line end may continue on the next line: True unless the joined
    bytes complete the frame and its checksum or stop byte is wrong (then the next line is
    something else and the first part stays a cut-short frame)."""
    if len(data) < 4:
        return True
    ln = data[1]
    if len(data) < ln + 6:
        return True
    return sum(data[4:4 + ln]) & 0xFF == data[4 + ln] and data[5 + ln] == 0x16


def _new(dec, lineno, direction, f):
    from udlms.host.decode.base import _new_obj

    o = _new_obj(lineno, direction)
    o["hex"] = _hx(f)
    if direction:
        o["direction_from"] = "prefix"
    return o


def split(dec, data, direction, lineno):
    """A line's bytes that start with an M-Bus frame -> frame objects. A long frame cut
    short at the end of the line is kept and joined with the next line (dumps print 16
    bytes a line)."""
    objs = []
    pos = 0
    n = len(data)
    while pos < n:
        if is_long_frame_start(data, pos):
            end = pos + data[pos + 1] + 6
            if end > n:
                dec.partial = ("mbus", [(bytes(data[pos:]), lineno, direction)])
                break
            objs.append(frame(dec, data[pos:end], direction, lineno))
            pos = end
            continue
        if data[pos] == 0x68 and n - pos < 4:
            dec.partial = ("mbus", [(bytes(data[pos:]), lineno, direction)])
            break
        if data[pos] == 0xE5:
            o = _new(dec, lineno, direction, data[pos:pos + 1])
            o["mbus"] = {"type": "ack"}
            o["text"] = "line %d %s: M-Bus single character E5 (acknowledge)" % (
                lineno, direction or "?")
            objs.append(o)
            pos += 1
            continue
        if data[pos] == 0x10 and pos + 5 <= n and data[pos + 4] == 0x16:
            objs.append(_short(dec, data[pos:pos + 5], direction, lineno))
            pos += 5
            continue
        o = _new(dec, lineno, direction, data[pos:])
        o["error"] = ("%d bytes after the M-Bus frame%s are not a frame (%s...)" % (
            n - pos, "s" if len(objs) > 1 else "", _hx(data[pos:pos + 16])))
        o["error_kind"] = "noise"
        o["text"] = "line %d: ERROR: %s" % (lineno, o["error"])
        objs.append(o)
        break
    return objs


def _short(dec, f, direction, lineno):
    o = _new(dec, lineno, direction, f)
    ok = (f[1] + f[2]) & 0xFF == f[3]
    o["mbus"] = {"type": "short", "c": "%02X" % f[1], "c_name": _C_NAMES.get(f[1]),
                 "address": f[2], "checksum_ok": ok}
    o["text"] = "line %d %s: M-Bus short frame %s, address %d; checksum %s" % (
        lineno, direction or "?", _C_NAMES.get(f[1], "C=%02X" % f[1]), f[2],
        "ok" if ok else "WRONG")
    if not ok:
        o["error"], o["error_kind"] = "M-Bus checksum wrong: corrupted frame", "bad-checksum"
        o["text"] += "\n  ERROR: " + o["error"]
    return o


def truncated(dec, part):
    """A long frame cut short (bytes, line, direction) -> its error object."""
    f, lineno, direction = part
    o = _new(dec, lineno, direction, f)
    want = f[1] + 6 if len(f) > 1 else 0
    o["error"] = ("M-Bus frame is cut short: its length field says %d bytes, only %d present"
                  % (want, len(f)))
    o["error_kind"] = "truncated"
    o["mbus"] = {"type": "long", "length": f[1] if len(f) > 1 else None}
    o["text"] = "line %d: ERROR: %s" % (lineno, o["error"])
    return o


def frame(dec, f, direction, lineno):
    """One complete long frame -> the frame object (``mbus`` part, APDU when complete)."""
    o = _new(dec, lineno, direction, f)
    ln = f[1]
    c, a, ci = f[4], f[5], f[6]
    user = bytes(f[7:4 + ln])
    cs = sum(f[4:4 + ln]) & 0xFF
    m = {"type": "long", "length": ln, "c": "%02X" % c, "c_name": _C_NAMES.get(c),
         "address": a, "ci": "%02X" % ci, "ci_text": None, "checksum_ok": cs == f[4 + ln],
         "stop_ok": f[5 + ln] == 0x16, "segment": None}
    o["mbus"] = m
    lines = ["line %d %s: M-Bus long frame, L=%d, C=%02X %s, address %d, CI %02X; checksum %s"
             % (lineno, direction or "?", ln, c, m["c_name"] or "", a, ci,
                "ok" if m["checksum_ok"] else "WRONG")]
    if not m["stop_ok"]:
        o["warnings"].append("no 16 stop byte where the length field ends the frame")
    if not m["checksum_ok"]:
        o["error"] = "M-Bus checksum wrong (sum %02X, frame says %02X): corrupted frame" % (
            cs, f[4 + ln])
        o["error_kind"] = "bad-checksum"
    try:
        _payload(dec, o, m, ci, user, lines)
    except FrameError as e:
        if not o["error"]:
            o["error"], o["error_kind"] = e.message, e.kind
    for w in o["warnings"]:
        lines.append("  warning: " + w)
    if o["error"] and "ERROR: " + o["error"] not in "\n".join(lines):
        lines.append("  ERROR: " + o["error"])
    o["text"] = "\n".join(lines)
    return o


def _payload(dec, o, m, ci, user, lines):
    key = ("mbus", o["direction"])
    segs = dec.segments
    if ci <= 0x1F:
        if len(user) < 2:
            raise FrameError("M-Bus DLMS segment without STSAP/DTSAP bytes", "truncated")
        seq, last = ci & 0x0F, bool(ci & 0x10)
        m["segment"] = {"sequence": seq, "last": last, "stsap": user[0], "dtsap": user[1]}
        m["ci_text"] = "DLMS segment %d%s" % (seq, " (last)" if last else "")
        lines.append("  CI %02X: DLMS APDU segment %d%s, STSAP %d, DTSAP %d, %d bytes" % (
            ci, seq, " (last)" if last else ", more follow", user[0], user[1], len(user) - 2))
        if o["error_kind"] == "bad-checksum":
            lines.append("  segment not used: a receiver discards a frame with a bad checksum")
            return
        st = segs.get(key)
        if seq == 0:
            if st and st["buf"]:
                o["warnings"].append("an earlier M-Bus segmented APDU never completed "
                                     "(%d bytes dropped)" % len(st["buf"]))
            st = {"next": 0, "buf": bytearray(), "missing": []}
        elif st is None:
            st = {"next": 0, "buf": bytearray(), "missing": list(range(0, seq))}
            o["error"] = ("gap: M-Bus segment %d arrives without segment%s 0..%d before it"
                          % (seq, "s" if seq > 1 else "", seq - 1))
            o["error_kind"] = "gap"
        elif seq < st["next"]:
            o["warnings"].append("M-Bus segment %d repeated; the copy is not added" % seq)
            m["segment"]["repeat"] = True
            return
        elif seq > st["next"]:
            st["missing"].extend(range(st["next"], seq))
            o["error"] = "gap: M-Bus segment%s %s missing before segment %d" % (
                "s" if seq - st["next"] > 1 else "", ", ".join(
                    str(x) for x in range(st["next"], seq)), seq)
            o["error_kind"] = "gap"
        if len(st["buf"]) + len(user) > MAX_APDU:
            raise FrameError("reassembled M-Bus APDU over %d bytes: dropped" % MAX_APDU, "gap")
        st["buf"].extend(user[2:])
        st["next"] = (seq + 1) & 0x0F
        m["segment"]["collected"] = len(st["buf"])
        if not last:
            segs[key] = st
            lines.append("  %d bytes collected so far" % len(st["buf"]))
            return
        segs[key] = None
        if st["missing"]:
            msg = ("last M-Bus segment in, but segment(s) %s never came: APDU cannot be "
                   "reassembled" % ", ".join(str(x) for x in st["missing"]))
            if not o["error"]:
                o["error"], o["error_kind"] = msg, "gap"
            lines.append("  ERROR: " + msg)
            return
        apdu = bytes(st["buf"])
        if seq:
            lines.append("  last segment: APDU of %d bytes reassembled from %d segments"
                         % (len(apdu), seq + 1))
        dec.apdu(o, apdu, lines)
        return
    if ci in _CI_TL:
        text, hl = _CI_TL[ci]
        m["ci_text"] = text
        lines.append("  CI %02X: %s (%d bytes)" % (ci, text, hl))
        if len(user) < hl:
            raise FrameError("M-Bus transport header cut short", "truncated")
        m["header"] = _hx(user[:hl])
        if len(user) > hl and o["error_kind"] != "bad-checksum":
            dec.apdu(o, user[hl:], lines)
        return
    m["ci_text"] = _CI_OTHER.get(ci, "CI %02X (not a DLMS CI field)" % ci)
    o["not_dlms"] = "M-Bus " + m["ci_text"]
    lines.append("  not DLMS: %s, %d bytes (EN 13757-3 records are not decoded here)"
                 % (m["ci_text"], len(user)))


def pending(dec):
    out = []
    for key, st in dec.segments.items():
        if isinstance(key, tuple) and key[0] == "mbus" and st and st["buf"]:
            out.append((key[1], "trace ends inside an M-Bus segmented APDU: %d bytes "
                        "collected, the last segment never came" % len(st["buf"])))
    return out
