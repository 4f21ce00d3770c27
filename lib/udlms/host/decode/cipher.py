"""Ciphered APDUs for ``udlms decode`` (Green Book §9.2.7, security suite 0): glo-, ded-,
general-glo/ded- and general-ciphering; SC byte, invocation counter, AES-GCM deciphering
with tag check (``udlms.crypto.gcm``)."""

from udlms.host.decode.base import MAX_DEPTH, _Cut, _hx, _len, _need, _title_text, base_tag
from udlms.errors import DlmsError, SecurityError


_GMAC_BAD = "tag does not verify: wrong key or corrupted frame"


def _gcm(key):
    from udlms.crypto import gcm

    return gcm.new(bytes(key))


def gmac_ok(ctx, title, ic4, gmac, challenge):
    """HLS-GMAC proof check (Green Book §9.2.7.4): True, False or None (cannot check)."""
    if ctx.ek is None or ctx.ak is None or title is None or challenge is None:
        return None
    try:
        _gcm(ctx.ek).decrypt(bytes(title) + bytes(ic4), b"", bytes(gmac),
                             b"\x10" + ctx.ak + bytes(challenge))
        return True
    except DlmsError:
        return False


def _sc_text(sc):
    s = {"authenticated": bool(sc & 0x10), "encrypted": bool(sc & 0x20), "suite": sc & 0x0F,
         "key_set": "broadcast" if sc & 0x40 else "unicast", "compressed": bool(sc & 0x80)}
    what = ("authenticated and encrypted" if sc & 0x30 == 0x30 else "authenticated only"
            if sc & 0x10 else "encrypted only" if sc & 0x20 else "no protection")
    return s, "SC %02X: %s, security suite %d, %s key%s" % (
        sc, what, sc & 0x0F, s["key_set"], ", compressed" if sc & 0x80 else "")


def _garbage(plain):
    """True when deciphered bytes are neither a known APDU nor text."""
    from udlms.host.decode.base import known_tag, not_dlms

    return known_tag(plain[0]) is False and not not_dlms(plain)


def _tag_ok(g, iv, sc, ak, payload):
    try:
        if sc & 0x20:
            g.decrypt(iv, payload[:-12], payload[-12:], bytes((sc,)) + ak)
        else:
            g.decrypt(iv, b"", payload[-12:], bytes((sc,)) + ak + payload[:-12])
        return True
    except DlmsError:
        return False


def ciphered(ctx, b, d, lines, direction, learn, depth):
    tag = b[0]
    p = 1
    title = None
    if tag in (0xDB, 0xDC):  # general-glo/ded-ciphering: system-title, ciphered-content
        n, p = _len(b, p)
        _need(b, p, n)
        title = bytes(b[p:p + n]) if n else None
        d["system_title"] = _hx(title) if title else None
        p += n
    elif tag == 0xDD:  # general-ciphering: transaction-id, originator, recipient, ...
        vals = []
        for _ in range(5):
            n, p = _len(b, p)
            _need(b, p, n)
            vals.append(bytes(b[p:p + n]))
            p += n
        title = vals[1] or None
        d["system_title"] = _hx(title) if title else None
        _need(b, p, 1)
        if b[p]:
            lines.append("%s: key-info present (key agreement): not deciphered" % d["name"])
            return
        p += 1
    n, p = _len(b, p)
    _need(b, p, n)
    content = b[p:p + n]
    _need(content, 0, 5)
    sc = content[0]
    ic = int.from_bytes(content[1:5], "big")
    d["security_control"] = sc
    d["invocation_counter"] = ic
    d["security"], sct = _sc_text(sc)
    base = base_tag(tag)
    dedicated = 0xD0 <= tag <= 0xD7 or 0x41 <= tag <= 0x5F or tag == 0xDC
    if tag in (0xDB, 0xDC, 0xDD):
        client = direction != "RX"
    else:
        client = base in (0x01, 0x05, 0x06, 0xC0, 0xC1, 0xC3, 0x62)
    lines.append("%s: %s; invocation counter %d%s" % (
        d["name"], sct, ic, "; system title " + _title_text(title) if title else ""))
    sender = "client" if client else "server"
    last = ctx.last_ic.get((sender, dedicated))
    if learn:
        if last is not None and ic <= last:
            d["ic_warning"] = "invocation counter %d is not above the previous %d" % (ic, last)
            lines.append("  warning: " + d["ic_warning"] + " (replay or counter reset)")
        ctx.last_ic[(sender, dedicated)] = ic
    payload = content[5:]
    key = ctx.dedicated_key if dedicated else ctx.ek
    if title is None:
        title = ctx.title(client)
    if sc & 0x0F > 1 or sc & 0x80:
        d["tag_ok"] = None
        lines.append("  not deciphered: %s" % (
            "the APDU is compressed (SC bit 7): decompression is not supported" if sc & 0x80
            else "security suite %d (AES-GCM-256 / ECDSA) is not supported; suites 0 and 1 "
            "are" % (sc & 0x0F)))
        return
    if key is None or title is None:
        if key is None:
            why = ("the dedicated key (carried in a deciphered AARQ) is unknown" if dedicated
                   else "give --ek (and --ak) to decipher")
        else:
            why = ("the %s system title is unknown: give --%s" %
                   (sender, "system-title" if client else "server-title"))
        d["tag_ok"] = None
        lines.append("  not deciphered: " + why)
        return
    g = _gcm(key)
    auth = sc & 0x10
    if auth and len(payload) < 12:
        raise _Cut()
    plain = None
    if auth and ctx.ak is not None and "system_title" not in d:
        # the expected title first, then any other title known (flags or trace)
        for t in [title] + ctx.titles():
            if t is not None and _tag_ok(g, bytes(t) + content[1:5], sc, ctx.ak, payload):
                if bytes(t) != bytes(title):
                    d["title_warning"] = ("deciphered with system title %s, not the %s's %s: "
                                          "check the titles/direction" % (_hx(t), sender,
                                                                          _hx(title)))
                    lines.append("  warning: " + d["title_warning"])
                    title = t
                break
    iv = bytes(title) + content[1:5]
    d["iv"] = _hx(iv)
    try:
        if sc & 0x30 == 0x30:
            if ctx.ak is None:
                plain = g.encrypt(iv, payload[:-12])[0]
                d["tag_ok"] = None
                lines.append("  tag not checked (give --ak); deciphered with --ek only")
            else:
                plain = g.decrypt(iv, payload[:-12], payload[-12:], bytes((sc,)) + ctx.ak)
                d["tag_ok"] = True
        elif auth:
            plain = payload[:-12]
            if ctx.ak is None:
                d["tag_ok"] = None
                lines.append("  tag not checked (give --ak)")
            else:
                g.decrypt(iv, b"", payload[-12:], bytes((sc,)) + ctx.ak + plain)
                d["tag_ok"] = True
        elif sc & 0x20:
            plain = g.encrypt(iv, payload)[0]
            d["tag_ok"] = None
        else:
            plain = payload
            d["tag_ok"] = None
    except SecurityError:
        d["tag_ok"] = False
        d["error"] = _GMAC_BAD
        lines.append("  " + _GMAC_BAD)
        return
    plain = bytes(plain)
    d["plain"] = _hx(plain)
    if d["tag_ok"]:
        lines.append("  tag verifies; deciphered APDU: %s" % _hx(plain[:64])
                     + ("..." if len(plain) > 64 else ""))
    else:
        lines.append("  deciphered APDU: %s" % _hx(plain[:64]) + ("..." if len(plain) > 64
                                                                  else ""))
    if depth >= MAX_DEPTH or not plain:
        return
    if d["tag_ok"] is None and sc & 0x20 and _garbage(plain):
        d["error"] = ("deciphered bytes are not an APDU (first byte %02X): wrong key or "
                      "corrupted frame (no tag was checked)" % plain[0])
        d["error_kind"] = "decipher"
        lines.append("  ERROR: " + d["error"])
        return
    sub, sl = ctx.explain(plain, direction, learn, depth + 1)
    d["decrypted"] = sub
    d["plain_name"] = sub["name"] if sub else None
    for ln in sl:
        lines.append("  " + ln)
