"""A data-notification body that is not A-XDR (seen from a Sagemcom XT211, issue 24):
structure(2){class-id (2 bytes), logical name (6), attribute (1), all untyped; then the
attribute's value as A-XDR Data (IEC 62056-6-2 §4.1)} for each object, the way a
COSEM-attribute-descriptor is written in xDLMS APDUs (Green Book §9.4.6) rather than as
typed Data. Read only after the strict A-XDR reading failed; ``udlms decode`` says so."""

from udlms.errors import DlmsError


def _descriptor_at(b, p):
    """``02 02`` then an untyped class-id (2), OBIS (6), attribute (1) and a typed value
    at ``p`` -> (class-id, OBIS text, attribute, value start) or None."""
    if p + 12 > len(b) or b[p] != 2 or b[p + 1] != 2:
        return None
    cid = (b[p + 2] << 8) | b[p + 3]
    attr = b[p + 10]
    if not cid or not 1 <= attr <= 32 or b[p + 9] != 0xFF and b[p + 4] > 1:
        return None
    return cid, ".".join(str(x) for x in b[p + 4:p + 10]), attr, p + 11


def _element(b, p, out, depth, entry, most):
    """One element of an untyped-descriptor body at ``p`` -> end; appends entries."""
    from udlms.cosem import axdr

    if depth > 4 or len(out) >= most:
        raise DlmsError("untyped-descriptor body nests too deep or too long", "axdr")
    dsc = _descriptor_at(b, p)
    if dsc is not None:
        cid, ob, attr, q = dsc
        tag, v, end = axdr.decode_typed(b, q)
        out.append(entry(ob, (tag, v), None, {"class_id": cid, "attribute": attr}))
        return end
    if p + 2 <= len(b) and b[p] in (1, 2) and b[p + 1] < 0x80:
        p += 2
        for _ in range(b[p - 1]):
            p = _element(b, p, out, depth + 1, entry, most)
        return p
    tag, v, end = axdr.decode_typed(b, p)
    out.append(entry(None, (tag, v)))
    return end


def body(b, p, entry, most):
    """A body that is not A-XDR because each object is named by an untyped class-id,
    OBIS and attribute before its typed value -> (values, end); ``entry(obis, (tag, value),
    scaler_unit, extra)`` makes each value's dict, at most ``most`` of them. Raises
    DlmsError when the bytes are not that either."""
    out = []
    end = _element(b, p, out, 0, entry, most)
    found = 0
    for e in out:
        if e["obis"]:
            found += 1
    if not found:
        raise DlmsError("no untyped descriptors", "axdr")
    return out, end
