"""ACSE (AARQ/AARE/RLRQ/RLRE, IEC 62056-5-3 §7) and the xDLMS InitiateRequest /
InitiateResponse (Green Book §9.4) for ``udlms decode``: context, titles, mechanism,
challenges, user-information (deciphered through :mod:`udlms.host.decode.apdu`)."""

from udlms.host.decode.base import (_CONTEXT, _Cut, _hx, _len, _need, _title_text,
                                    conformance_names)


_MECH = ("none", "LLS (password)", "HLS (manufacturer specific)", "HLS-MD5", "HLS-SHA1",
         "HLS-GMAC", "HLS-SHA256", "HLS-ECDSA")
_RLRQ_REASONS = {0: "normal", 1: "urgent", 30: "user-defined"}
_RLRE_REASONS = {0: "normal", 1: "not-finished", 30: "user-defined"}


def explain(ctx, b, d, lines, direction, learn, depth):
    """Explain an ACSE APDU or xDLMS-Initiate into ``d`` / ``lines``."""
    tag = b[0]
    if tag == 0x60:
        _aarq(ctx, b, d, lines, learn, depth)
    elif tag == 0x61:
        _aare(ctx, b, d, lines, learn, depth)
    elif tag == 0x01:
        _initiate_request(ctx, b, d, lines, learn)
    elif tag == 0x08:
        _initiate_response(b, d, lines)
    else:
        _release(ctx, b, d, lines, direction, learn, depth)


def _tlvs(b, pos, end):
    """BER TLVs in ``b[pos:end]`` -> list of (tag, value bytes)."""
    out = []
    while pos < end:
        tag = b[pos]
        n, pos = _len(b, pos + 1)
        if pos + n > end:
            raise _Cut()
        out.append((tag, b[pos:pos + n]))
        pos += n
    return out


def _inner(v):
    """Value of a single inner TLV (``04 len x`` inside ``A6 len``)."""
    n, p = _len(v, 1)
    _need(v, p, n)
    return v[p:p + n]


def _ascii_hint(b):
    b = bytes(b)
    for c in b:
        if c < 0x20 or c > 0x7E:
            return ""
    return ' "%s"' % b.decode() if b else ""


def _body(b, tag_len=1):
    n, p = _len(b, tag_len)
    if p + n > len(b):
        raise _Cut()
    return p, p + n


def _aarq(ctx, b, d, lines, learn, depth):
    p, end = _body(b)
    parts = []
    mech = None
    for t, v in _tlvs(b, p, end):
        if t == 0xA1:
            oid = _inner(v)
            c = oid[-1] if len(oid) else 0
            d["context"] = _CONTEXT[c] if c < len(_CONTEXT) else "context %d" % c
            parts.append(d["context"])
        elif t == 0xA6:
            title = bytes(_inner(v))
            d["calling_title"] = _hx(title)
            parts.append("calling-AP-title " + _title_text(title))
            if learn and len(title) == 8:
                ctx.trace_client_title = title
        elif t == 0x8A:
            parts.append("sender-acse-requirements: authentication" if len(v) >= 2 and v[1] & 0x80
                         else "sender-acse-requirements %s" % _hx(v))
        elif t == 0x8B:
            mech = v[-1] & 0x7F if len(v) else None
            d["mechanism"] = mech
            parts.append("mechanism %s (%s)" % (mech, _MECH[mech] if mech is not None and
                                                mech < len(_MECH) else "unknown"))
        elif t == 0xAC:
            val = bytes(_inner(v))
            if mech == 1:
                parts.append("password (%d bytes, not shown)" % len(val))
            else:
                d["ctos"] = _hx(val)
                parts.append("CtoS challenge %s%s" % (_hx(val), _ascii_hint(val)))
                if learn:
                    ctx.ctos = val
        elif t == 0xBE:
            ui = _inner(v)
            sub, sl = ctx.explain(ui, "TX", learn, depth + 1)
            d["user_information"] = sub
            _user_info(d, sub, sl, parts)
        else:
            parts.append("field %02X (%d bytes)" % (t, len(v)))
    lines.append("AARQ (association request): " + "; ".join(
        x for x in parts if not x.startswith("\n")))
    for x in parts:
        if x.startswith("\n"):
            lines.extend(x[1:].split("\n"))


def _user_info(d, sub, sl, parts):
    if sub is None:
        return
    for i, ln in enumerate(sl):
        parts.append("\n" + ("user-information: " if i == 0 else "  ") + ln)
    if sub.get("conformance") is not None:
        d["conformance"] = sub["conformance"]
    if sub.get("max_pdu") is not None:
        d["max_pdu"] = sub["max_pdu"]
    dec = sub.get("decrypted")
    if dec:
        for k in ("conformance", "max_pdu", "version"):
            if dec.get(k) is not None:
                d[k] = dec[k]


def _aare(ctx, b, d, lines, learn, depth):
    from udlms.cosem import apdu
    from udlms import results

    a = apdu.parse_aare(b)
    name, msg = results.association_result(a.result)
    d["result"] = {"code": a.result, "name": name, "message": msg}
    parts = ["result %d %s" % (a.result, name)]
    if a.context is not None:
        d["context"] = _CONTEXT[a.context] if a.context < len(_CONTEXT) else a.context
        parts.append(str(d["context"]))
    if a.diagnostic is not None:
        src, val = a.diagnostic
        dn, dm, dh = results.association_diagnostic(src, val)
        d["diagnostic"] = {"source": "acse-service-provider" if src == 2 else
                           "acse-service-user", "code": val, "name": dn, "message": dm,
                           "hint": dh}
        parts.append("diagnostic %s %d %s: %s%s" % (d["diagnostic"]["source"], val, dn, dm,
                                                  " (%s)" % dh if dh else ""))
    if a.mechanism is not None:
        d["mechanism"] = a.mechanism
        parts.append("mechanism %d (%s)" % (a.mechanism, _MECH[a.mechanism]
                                            if a.mechanism < len(_MECH) else "unknown"))
    if a.responding_title is not None:
        d["responding_title"] = _hx(a.responding_title)
        parts.append("responding-AP-title " + _title_text(a.responding_title))
        if learn and len(a.responding_title) == 8:
            ctx.trace_server_title = a.responding_title
    if a.auth_value is not None:
        d["stoc"] = _hx(a.auth_value)
        parts.append("StoC challenge %s%s" % (_hx(a.auth_value), _ascii_hint(a.auth_value)))
        if learn:
            ctx.stoc = a.auth_value
    if a.user_info is not None:
        sub, sl = ctx.explain(a.user_info, "RX", learn, depth + 1)
        d["user_information"] = sub
        _user_info(d, sub, sl, parts)
    lines.append("AARE (association response): " + "; ".join(
        x for x in parts if not x.startswith("\n")))
    for x in parts:
        if x.startswith("\n"):
            lines.extend(x[1:].split("\n"))


def _release(ctx, b, d, lines, direction, learn, depth):
    p, end = _body(b)
    req = b[0] == 0x62
    parts = []
    sub_lines = []
    for t, v in _tlvs(b, p, end):
        if t == 0x80 and len(v):
            r = int.from_bytes(bytes(v), "big")
            d["reason"] = r
            parts.append("reason %d %s" % (r, (_RLRQ_REASONS if req else _RLRE_REASONS)
                                           .get(r, "unknown")))
        elif t == 0xBE:
            sub, sl = ctx.explain(_inner(v), "TX" if req else "RX", learn, depth + 1)
            d["user_information"] = sub
            sub_lines = ["user-information: " + x for x in sl[:1]] + ["  " + x for x in sl[1:]]
    lines.append("%s (release %s)%s" % (d["name"], "request" if req else "response",
                                        ": " + "; ".join(parts) if parts else ""))
    lines.extend(sub_lines)


def _conf_text(conf):
    return "conformance %06X (%s)" % (conf, ", ".join(conformance_names(conf)) or "none")


def _initiate_request(ctx, b, d, lines, learn):
    p = 1
    _need(b, p, 1)
    parts = []
    if b[p]:
        n = b[p + 1] if p + 1 < len(b) else 0
        _need(b, p + 2, n)
        d["dedicated_key"] = True
        parts.append("dedicated key present (%d bytes, not shown)" % n)
        if learn:
            ctx.dedicated_key = bytes(b[p + 2:p + 2 + n])
        p += 2 + n
    else:
        d["dedicated_key"] = False
        p += 1
    _need(b, p, 1)
    p += 2 if b[p] else 1  # response-allowed
    _need(b, p, 1)
    p += 2 if b[p] else 1  # proposed-quality-of-service
    _need(b, p, 9)
    d["version"] = b[p]
    if b[p + 1] != 0x5F or b[p + 2] != 0x1F:
        raise _Cut()
    k = b[p + 3]
    _need(b, p + 4, k + 2)
    conf = 0
    for i in range(1, k):
        conf = (conf << 8) | b[p + 4 + i]
    p += 4 + k
    d["conformance"] = "%06X" % conf
    d["max_pdu"] = (b[p] << 8) | b[p + 1]
    lines.append("initiate-request: DLMS version %d; %s; client max receive PDU %d%s" % (
        d["version"], _conf_text(conf), d["max_pdu"], "; " + "; ".join(parts) if parts else ""))


def _initiate_response(b, d, lines):
    from udlms.cosem import apdu

    r = apdu.parse_initiate_response(b)
    d["version"] = r["version"]
    d["conformance"] = "%06X" % r["conformance"]
    d["max_pdu"] = r["max_pdu"]
    d["vaa"] = r["vaa"]
    lines.append("initiate-response: DLMS version %d; %s; server max receive PDU %d; VAA "
                 "name %04X%s" % (r["version"], _conf_text(r["conformance"]), r["max_pdu"],
                                  r["vaa"], " (LN)" if r["vaa"] == 7 else ""))
