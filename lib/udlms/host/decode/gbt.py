"""general-block-transfer (tag E0, Green Book §9.4.6.13 / IEC 62056-5-3 §9.4.6) for
``udlms decode``: block-control (last-block, streaming, window), block-number,
block-number-ack and block-data, reassembled across frames per direction. Gaps (a block
number skipped, a last block whose earlier blocks never came), repeats (a block sent again)
and restarts are reported; the whole APDU is explained (and deciphered) once the last block
is in."""

from udlms.host.decode.base import MAX_DEPTH, _hx, _len, _need

MAX_APDU = 65536


def _state(ctx):
    st = getattr(ctx, "gbt", None)
    if st is None:
        st = {}
        ctx.gbt = st
    return st


def _warn(d, text, lines):
    d.setdefault("warnings", []).append(text)
    lines.append("  warning: " + text)


def _fail(d, text, kind, lines):
    if not d.get("error"):
        d["error"] = text
        d["error_kind"] = kind
    lines.append("  ERROR: " + text)


def gbt(ctx, b, d, lines, direction, learn, depth):
    _need(b, 0, 6)
    bc = b[1]
    num = (b[2] << 8) | b[3]
    ack = (b[4] << 8) | b[5]
    n, p = _len(b, 6)
    _need(b, p, n)
    data = bytes(b[p:p + n])
    g = {"block": num, "ack": ack, "last": bool(bc & 0x80), "streaming": bool(bc & 0x40),
         "window": bc & 0x3F, "length": n, "collected": None, "complete": False,
         "missing": None, "repeat": False}
    d["gbt"] = g
    d["service"] = "general-block-transfer"
    lines.append("general-block-transfer: block %d%s, acknowledges block %d, window %d%s, "
                 "%d bytes of block data" % (
                     num, " (last)" if g["last"] else "", ack, g["window"],
                     ", streaming" if g["streaming"] else "", n))
    if p + n != len(b):
        _warn(d, "%d bytes after the block data" % (len(b) - p - n), lines)
    if not n and not g["last"]:
        lines.append("  acknowledgement only (no block data)")
        return
    if not learn:
        lines.append("  block not used: the frame carrying it is discarded")
        return
    states = _state(ctx)
    st = states.get(direction)
    if st is not None and num == 1 and st["numbers"]:
        _warn(d, "block transfer restarts at block 1: blocks %d..%d (%d bytes) of the "
              "earlier one dropped, its last block never came" % (
                  st["numbers"][0], st["numbers"][-1], len(st["buf"])), lines)
        st = None
    if st is None:
        st = {"next": 1, "buf": bytearray(), "numbers": [], "missing": [], "line": None}
        states[direction] = st
    g["collected"] = len(st["buf"])
    if num < st["next"]:
        if num in st["numbers"]:
            g["repeat"] = True
            _warn(d, "block %d repeated (sent again); the copy is not added" % num, lines)
        else:
            g["late"] = True
            _fail(d, "block %d arrives out of order, after block %d: the APDU cannot be "
                  "reassembled" % (num, st["next"] - 1), "gap", lines)
        return
    if num > st["next"]:
        miss = list(range(st["next"], num))
        st["missing"].extend(miss)
        g["missing"] = miss
        _fail(d, "gap in the block transfer: block%s %s missing (block %d arrived after "
              "block %d)" % ("s" if len(miss) > 1 else "", _ranges(miss), num,
                             st["next"] - 1), "gap", lines)
    if len(st["buf"]) + n > MAX_APDU:
        _fail(d, "reassembled APDU would exceed %d bytes: dropped" % MAX_APDU, "gap", lines)
        del states[direction]
        return
    st["buf"].extend(data)
    st["numbers"].append(num)
    st["next"] = num + 1
    g["collected"] = len(st["buf"])
    if not g["last"]:
        lines.append("  %d bytes collected so far, more blocks follow" % len(st["buf"]))
        return
    del states[direction]
    if st["missing"]:
        g["missing"] = st["missing"]
        _fail(d, "last block in, but block%s %s never came: the APDU (%d bytes collected) "
              "cannot be reassembled" % ("s" if len(st["missing"]) > 1 else "",
                                          _ranges(st["missing"]), len(st["buf"])), "gap", lines)
        return
    whole = bytes(st["buf"])
    g["complete"] = True
    g["blocks"] = len(st["numbers"])
    lines.append("  last block: APDU of %d bytes reassembled from %d block%s: %s%s" % (
        len(whole), len(st["numbers"]), "s" if len(st["numbers"]) > 1 else "",
        _hx(whole[:32]), "..." if len(whole) > 32 else ""))
    if depth >= MAX_DEPTH or not whole:
        return
    sub, sl = ctx.explain(whole, direction, learn, depth + 1)
    d["reassembled"] = sub
    for ln in sl:
        lines.append("  " + ln)


def _ranges(nums):
    out = []
    i = 0
    while i < len(nums):
        j = i
        while j + 1 < len(nums) and nums[j + 1] == nums[j] + 1:
            j += 1
        out.append(str(nums[i]) if i == j else "%d..%d" % (nums[i], nums[j]))
        i = j + 1
    return ", ".join(out)


def pending(ctx):
    """Block transfers still open at the end of a trace -> list of (direction, text)."""
    out = []
    for direction, st in _state(ctx).items():
        if st["numbers"]:
            out.append((direction, "trace ends inside a general-block-transfer: blocks %s "
                        "(%d bytes) collected, the last block never came"
                        % (_ranges(st["numbers"]), len(st["buf"]))))
    return out
