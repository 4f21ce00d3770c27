"""APDU explanations for the trace decoder (:mod:`udlms.host.decode`): ACSE (IEC 62056-5-3 §7),
xDLMS GET/SET/ACTION (Green Book §9.4), ciphered APDUs with security suite 0 (Green Book
§9.2.7: SC byte, invocation counter, AES-GCM with tag check) and the HLS-GMAC pass 3/4.
Every explainer returns plain dicts and text lines; hostile bytes give an ``error``."""

from udlms.errors import DlmsError

_CONTEXT = ("?", "LN referencing, no ciphering", "SN referencing, no ciphering",
            "LN referencing with ciphering", "SN referencing with ciphering")
_CONFORMANCE = ("reserved-zero general-protection general-block-transfer read write "
                "unconfirmed-write delta-value-encoding reserved-seven "
                "attribute0-supported-with-set priority-mgmt-supported "
                "attribute0-supported-with-get block-transfer-with-get-or-read "
                "block-transfer-with-set-or-write block-transfer-with-action "
                "multiple-references information-report data-notification access "
                "parameterized-access get set selective-access event-notification action")
# class|a(ttributes) or m(ethods)|index name ...
MAX_DEPTH = 3


class _Cut(Exception):
    """The APDU ends before a field it announces."""


def _hx(b):
    return "".join("%02X" % x for x in bytes(b))


def base_tag(tag):
    """Plain tag behind a glo-/ded- tag (0xCB -> 0xC3); other tags unchanged."""
    if 0xC8 <= tag <= 0xCF:
        return tag - 8
    if 0xD0 <= tag <= 0xD7:
        return tag - 0x10
    if 0x21 <= tag <= 0x3F:
        return tag - 0x20
    if 0x41 <= tag <= 0x5F:
        return tag - 0x40
    return tag


def known_tag(tag):
    """True when ``tag`` names a DLMS/COSEM APDU (plain, ciphered or ACSE)."""
    from udlms.cosem import apdu

    return not apdu.apdu_name(tag).startswith("unknown")


def _need(b, pos, n):
    if pos + n > len(b):
        raise _Cut()


def _len(b, pos):
    """A-XDR/BER length -> (n, newpos)."""
    _need(b, pos, 1)
    v = b[pos]
    if v < 0x80:
        return v, pos + 1
    k = v & 0x7F
    if k == 0 or k > 4:
        raise _Cut()
    _need(b, pos + 1, k)
    return int.from_bytes(bytes(b[pos + 1:pos + 1 + k]), "big"), pos + 1 + k


def _title_text(t):
    t = bytes(t)
    s = _hx(t)
    if len(t) >= 3 and 0x41 <= t[0] <= 0x5A and 0x41 <= t[1] <= 0x5A and 0x41 <= t[2] <= 0x5A:
        s += ' (maker "%s")' % t[:3].decode()
    return s


def conformance_names(value):
    """24-bit conformance block -> list of the names of the bits set."""
    w = _CONFORMANCE.split()
    return [w[i] for i in range(24) if value >> (23 - i) & 1]


def _new(tag):
    from udlms.cosem import apdu

    return {"tag": tag, "tag_hex": "%02X" % tag, "name": apdu.apdu_name(tag),
            "security_control": None, "invocation_counter": None, "plain": None}


def explain(ctx, buf, direction, learn=True, depth=0):
    """One APDU -> ``(dict, text lines)``. The dict has ``tag``, ``tag_hex``, ``name``,
    ``security_control``, ``invocation_counter``, ``plain`` (hex of the deciphered APDU)
    and, as found, ``service``, ``invoke_id``, ``class_id``, ``obis``, ``attribute`` /
    ``method``, ``data``, ``token``, ``result`` {code, name, message}, ``security``,
    ``tag_ok``, ``decrypted`` (the plain APDU's dict), ``hls``, ``error``. ``ctx`` is the
    :class:`udlms.host.decode.Decoder` (keys, titles, challenges, pending requests)."""
    b = bytes(buf)
    if not b:
        return None, []
    tag = b[0]
    d = _new(tag)
    lines = []
    what = not_dlms(b)
    if what:
        d["name"] = "not DLMS"
        d["not_dlms"] = what
        d.setdefault("warnings", []).append("not DLMS: " + what)
        lines.append("not DLMS: " + what)
        return d, lines
    try:
        _dispatch(ctx, b, d, lines, direction, learn, depth)
        if not lines:
            lines.append(d["name"])
    except _Cut:
        d["error"] = "%s is cut short or malformed (%d bytes)" % (d["name"], len(b))
        lines.append("%s: ERROR: %s" % (d["name"], d["error"]))
    except DlmsError as e:
        d["error"] = e.message
        lines.append("%s: ERROR: %s" % (d["name"], e.message))
    except (IndexError, ValueError, TypeError) as e:
        d["error"] = "%s is malformed: %s" % (d["name"], e)
        lines.append("%s: ERROR: %s" % (d["name"], d["error"]))
    return d, lines


def not_dlms(b):
    """Plain words for bytes that are not an APDU at all (ASCII text, a DSMR/IEC 62056-21
    telegram), or None. Text is only called text when every byte is printable."""
    if len(b) < 4:
        return None
    for x in b:
        if not (0x20 <= x <= 0x7E or x in (9, 10, 13)):
            return None
    t = bytes(b).decode()
    what = "ASCII text"
    if t[0] == "/" and "!" in t:
        what = "a DSMR / IEC 62056-21 P1 telegram (ASCII)"
    short = t[:80].replace("\r", "\\r").replace("\n", "\\n")
    return "%s '%s'%s (%d bytes)" % (what, short, "..." if len(t) > 80 else "", len(t))


def _dispatch(ctx, b, d, lines, direction, learn, depth):
    tag = b[0]
    if tag == 0x0F:
        from udlms.host import decode_notify

        decode_notify.notification(ctx, b, d, lines)
        return
    if tag == 0xC2:
        from udlms.host import decode_notify

        decode_notify.event_notification(ctx, b, d, lines)
        return
    if tag == 0xE0:
        from udlms.host import decode_gbt

        decode_gbt.gbt(ctx, b, d, lines, direction, learn, depth)
        return
    if tag in (0x60, 0x61, 0x62, 0x63, 0x01, 0x08):
        from udlms.host import decode_acse

        decode_acse.explain(ctx, b, d, lines, direction, learn, depth)
    elif tag in (0xC0, 0xC1, 0xC3):
        from udlms.host import decode_xdlms

        decode_xdlms.request(ctx, b, d, lines, learn)
    elif tag in (0xC4, 0xC5, 0xC7, 0xD8, 0x0E):
        from udlms.host import decode_xdlms

        decode_xdlms.response(ctx, b, d, lines)
    elif base_tag(tag) != tag or tag in (0xDB, 0xDC, 0xDD):
        from udlms.host import decode_cipher

        decode_cipher.ciphered(ctx, b, d, lines, direction, learn, depth)
    else:
        lines.append("%s (%d bytes; no further detail decoded)" % (d["name"], len(b)))
