"""GET/SET/ACTION requests and responses for ``udlms decode`` (Green Book §9.4, LN
services): descriptors with class/attribute/method names, A-XDR data as text, tokens and
token_status of the Token Gateway (IC 115), results in plain words, the HLS pass 3/4."""

from udlms.host.decode.base import _hx, _len, _need
from udlms.errors import DlmsError


_MEMBERS = (
    "115|a|2 token 3 token_time 4 token_description 5 token_delivery_method 6 token_status\n"
    "115|m|1 enter\n"
    "15|a|2 object_list 3 associated_partners_id 4 application_context_name "
    "5 xDLMS_context_info 6 authentication_mechanism_name 7 secret 8 association_status "
    "9 security_setup_reference\n"
    "15|m|1 reply_to_HLS_authentication 2 change_HLS_secret 3 add_object 4 remove_object\n"
    "8|a|2 time 3 time_zone 4 status 5 daylight_savings_begin 6 daylight_savings_end "
    "7 daylight_savings_deviation 8 daylight_savings_enabled 9 clock_base\n"
    "8|m|1 adjust_to_quarter 2 adjust_to_measuring_period 3 adjust_to_minute "
    "4 adjust_to_preset_time 5 preset_adjusting_time 6 shift_time\n"
    "1|a|2 value\n3|a|2 value 3 scaler_unit\n3|m|1 reset\n"
    "70|a|2 output_state 3 control_state 4 control_mode\n"
    "70|m|1 remote_disconnect 2 remote_reconnect\n"
    "64|a|2 security_policy 3 security_suite 4 client_system_title 5 server_system_title\n"
    "64|m|1 security_activate 2 key_transfer\n"
)


def member_name(class_id, kind, index):
    if index == 1 and kind == "a":
        return "logical_name"
    key = "%d|%s|" % (class_id, kind)
    i = _MEMBERS.find(key)
    if i >= 0 and (i == 0 or _MEMBERS[i - 1] == "\n"):
        w = _MEMBERS[i + len(key):_MEMBERS.find("\n", i)].split()
        for j in range(0, len(w), 2):
            if int(w[j]) == index:
                return w[j + 1]
    return None


def _invoke(d, b):
    d["invoke_id"] = b & 0x0F
    d["priority"] = "high" if b & 0x80 else "normal"
    d["confirmed"] = bool(b & 0x40)
    return "invoke-id %d (%s priority, %s)" % (b & 0x0F, d["priority"],
                                                "confirmed" if b & 0x40 else "unconfirmed")


def _descriptor(d, b, pos, kind):
    from udlms.cosem import obis

    _need(b, pos, 9)
    cid = (b[pos] << 8) | b[pos + 1]
    ob = obis.obis_str(b[pos + 2:pos + 8])
    idx = b[pos + 8]
    d["class_id"] = cid
    d["class_name"] = obis.class_name(cid)
    d["obis"] = ob
    d["attribute" if kind == "a" else "method"] = idx
    name = member_name(cid, kind, idx)
    d["member_name"] = name
    return pos + 9, "class %d %s, %s, %s %d%s" % (
        cid, d["class_name"], ob, "attribute" if kind == "a" else "method", idx,
        " (%s)" % name if name else "")


def data_text(d, b, pos, cid=None, member=None, kind="a"):
    """A-XDR Data at ``pos`` -> text; tokens, token_status and date-times made readable."""
    from udlms.cosem import axdr, obis

    try:
        tag, v, end = axdr.decode_typed(b, pos)
    except DlmsError as e:
        d["data_error"] = e.message
        return "data (%d bytes) does not decode: %s" % (len(b) - pos, e.message)
    d["data_hex"] = _hx(b[pos:end])
    t = obis.typed_text(tag, v)
    if len(t) > 300:
        t = t[:297] + "..."
    d["data"] = t
    if cid == 115 and tag == 9 and ((kind == "m" and member == 1) or
                                     (kind == "a" and member == 2)):
        from udlms.client import token, token_info

        r = token_info.decode_token_bytes(v)
        if r:
            d["token"] = {"digits": r[0], "encoding": r[1]}
            t = "token %s (%s encoding, octet-string of %d bytes)" % (
                token_info.format(r[0]), r[1], len(v))
        else:
            t = ("octet-string of %d bytes that is not a 20-digit token in any known "
                 "encoding: %s" % (len(v), _hx(v)))
    elif cid == 115 and kind == "a" and member == 6 and tag == 2 and len(v) >= 1:
        from udlms.client import token_status

        code = v[0][1]
        if isinstance(code, int):
            name, msg = token_status.text(code)
            d["token_status"] = {"code": code, "name": name, "message": msg}
            t = "token_status %d %s: %s (%s)" % (code, name, msg, t)
    elif cid == 115 and kind == "a" and member == 5 and tag == 22:
        from udlms.client import token, token_info

        if 0 <= v < len(token.DELIVERY_METHODS):
            t = "delivery method %d %s" % (v, token.DELIVERY_METHODS[v])
    if end != len(b):  # meters differ (issue 24, case 5): a clock answered 18 more bytes
        n = len(b) - end
        d["data_trailing"] = n
        d["data_trailing_hex"] = _hx(b[end:])
        d.setdefault("warnings", []).append(
            "%d byte%s after the value (%s%s): not part of it; a client keeps the value" % (
                n, "" if n == 1 else "s", _hx(b[end:end + 24]), "..." if n > 24 else ""))
    return t


def _trailing(d, lines):
    """The warning line for bytes after an A-XDR value (see :func:`data_text`)."""
    if d.get("data_trailing"):
        lines.append("  warning: " + d["warnings"][-1])


def _access(d, b, p):
    _need(b, p, 1)
    if not b[p]:
        return p + 1, ""
    _need(b, p + 1, 1)
    d["access_selector"] = b[p + 1]
    from udlms.cosem import axdr

    try:
        _, _, end = axdr.decode_typed(b, p + 2)
    except DlmsError:
        end = len(b)
    return end, "; selective access, selector %d" % b[p + 1]


def request(ctx, b, d, lines, learn):
    tag = b[0]
    svc = {0xC0: "get", 0xC1: "set", 0xC3: "action"}[tag]
    _need(b, 0, 3)
    choice = b[1]
    inv = _invoke(d, b[2])
    kind = "m" if tag == 0xC3 else "a"
    names = {1: "normal", 2: "next" if tag == 0xC0 else ("first-block" if tag == 0xC3 else
                                                          "with-first-datablock"),
             3: "with-list"}
    if tag == 0xC0 and choice == 2:
        _need(b, 3, 4)
        blk = int.from_bytes(b[3:7], "big")
        d["service"] = "get-request-next"
        d["block"] = blk
        lines.append("get-request-next: %s; acknowledges data block %d" % (inv, blk))
        return
    d["service"] = "%s-request-%s" % (svc, names.get(choice, "choice-%d" % choice))
    if choice not in (1, 2) or (tag == 0xC3 and choice != 1):
        lines.append("%s: %s (%d bytes; no further detail decoded)" % (d["service"], inv,
                                                                        len(b)))
        return
    p, desc = _descriptor(d, b, 3, kind)
    cid = d["class_id"]
    member = d.get("attribute") if kind == "a" else d.get("method")
    if learn:
        ctx.pending[b[2]] = (svc, cid, d["obis"], member)
    extra = ""
    if tag == 0xC0:
        p, extra = _access(d, b, p)
        lines.append("%s: %s; %s%s" % (d["service"], inv, desc, extra))
        return
    if tag == 0xC1:
        p, extra = _access(d, b, p)
        if choice == 2:
            _need(b, p, 5)
            last = b[p] != 0
            blk = int.from_bytes(b[p + 1:p + 5], "big")
            n, q = _len(b, p + 5)
            d["block"] = {"number": blk, "last": last, "length": n}
            lines.append("%s: %s; %s%s; data block %d%s, %d bytes" % (
                d["service"], inv, desc, extra, blk, " (last)" if last else "", n))
            return
        lines.append("%s: %s; %s%s" % (d["service"], inv, desc, extra))
        lines.append("  value: " + data_text(d, b, p, cid, member, "a"))
        _trailing(d, lines)
        return
    _need(b, p, 1)
    lines.append("%s: %s; %s" % (d["service"], inv, desc))
    if not b[p]:
        lines.append("  no parameters")
        return
    p += 1
    if cid == 15 and member == 1:
        _hls(ctx, b, p, d, lines, True)
        return
    lines.append("  parameters: " + data_text(d, b, p, cid, member, "m"))
    _trailing(d, lines)


def _hls(ctx, b, p, d, lines, client):
    """reply_to_HLS_authentication: octet-string ``10 ‖ IC ‖ GMAC`` (f(StoC) from the
    client, f(CtoS) back from the meter; Green Book §9.2.7.4)."""
    from udlms.cosem import axdr

    tag, v, _ = axdr.decode_typed(b, p)
    what = "f(StoC)" if client else "f(CtoS)"
    if tag != 9 or len(v) != 17 or v[0] != 0x10:
        lines.append("  %s: %s" % (what, data_text(d, b, p)))
        return
    ic = v[1:5]
    gmac = v[5:]
    title = ctx.title(client)
    challenge = ctx.stoc if client else ctx.ctos
    from udlms.host.decode.cipher import gmac_ok

    ok = gmac_ok(ctx, title, ic, gmac, challenge)
    d["hls"] = {"proof": what, "security_control": 0x10,
                "invocation_counter": int.from_bytes(ic, "big"), "gmac": _hx(gmac),
                "verified": ok}
    d["data"] = "octet-string " + _hx(v)
    if ok is None:
        why = ("give --ek/--ak" if ctx.ek is None or ctx.ak is None else
               "%s system title unknown" % ("client" if client else "server") if title is None
               else "%s challenge not seen in the trace" % ("StoC" if client else "CtoS"))
        verdict = "not checked (%s)" % why
    else:
        verdict = "verifies" if ok else "does NOT verify: wrong key, system title or challenge"
    lines.append("  HLS pass %d %s = SC 10, IC %d, GMAC %s: %s" % (
        3 if client else 4, what, d["hls"]["invocation_counter"], _hx(gmac), verdict))


def response(ctx, b, d, lines):
    from udlms.cosem import apdu
    from udlms import results

    r = apdu.parse_response(b)
    if r.kind in ("exception", "confirmed-service-error"):
        d["service"] = r.kind
        d["result"] = {"code": r.result, "name": None, "message": results.response_text(r)}
        if r.kind == "exception":
            d["result"]["name"] = results.exception_response(r.state, r.service)[0]
        else:
            d["result"]["name"] = results.confirmed_service_error(r.service, r.choice,
                                                                  r.result)[0]
        lines.append("%s: %s" % (d["name"], results.response_text(r)))
        return
    inv = _invoke(d, r.invoke)
    req = ctx.pending.get(r.invoke)
    if req is not None and req[0] != r.kind:
        req = None
    cid, member = (req[1], req[3]) if req else (None, None)
    choice = {1: "normal", 2: "with-datablock" if r.kind == "get" else
              ("datablock" if r.kind == "set" else "with-pblock"), 3: "last-datablock"}
    d["service"] = "%s-response-%s" % (r.kind, choice.get(r.choice, str(r.choice)))
    about = " (to %s %s %s %d%s)" % (req[0], req[2], "method" if r.kind == "action" else
                                     "attribute", member, " " + member_name(cid, "m" if r.kind ==
                                                                        "action" else "a",
                                                                        member)
                                     if member_name(cid, "m" if r.kind == "action" else "a",
                                                member) else "") if req else ""
    if req:
        d["class_id"], d["obis"] = cid, req[2]
    if r.block is not None:
        d["block"] = {"number": r.block[0], "last": r.block[1]}
    if r.kind == "action":
        name, msg, hint = results.action_result(r.result)
    else:
        name, msg, hint = results.data_access_result(r.result)
    d["result"] = {"code": r.result, "name": name, "message": msg, "hint": hint}
    head = "%s: %s%s; result %d %s" % (d["service"], inv, about, r.result, name)
    if r.result:
        head += ": " + msg
    lines.append(head)
    if r.block is not None:
        lines.append("  data block %d%s%s" % (r.block[0], " (last)" if r.block[1] else "",
                                              ", %d raw bytes" % len(r.data)
                                              if r.data is not None else ""))
        return
    if r.dar is not None:
        dn, dm, _ = results.data_access_result(r.dar)
        d["return_result"] = {"code": r.dar, "name": dn, "message": dm}
        lines.append("  return data-access-result %d %s: %s" % (r.dar, dn, dm))
    if r.data is not None and len(r.data):
        db = bytes(r.data)
        hls_like = req is None and len(db) == 19 and db[0] == 9 and db[1] == 17 and db[2] == 16
        if r.kind == "action" and ((cid == 15 and member == 1) or hls_like):
            _hls(ctx, db, 0, d, lines, False)
        else:
            lines.append("  %s: %s" % ("value" if r.kind == "get" else "return data",
                                       data_text(d, db, 0, cid, member,
                                                  "m" if r.kind == "action" else "a")))
            _trailing(d, lines)
