"""APDU explanations for the trace decoder (:mod:`udlms.host.decode`): ACSE (IEC 62056-5-3 §7),
xDLMS GET/SET/ACTION (Green Book §9.4), ciphered APDUs with security suite 0 (Green Book
§9.2.7: SC byte, invocation counter, AES-GCM with tag check) and the HLS-GMAC pass 3/4.
Every explainer returns plain dicts and text lines; hostile bytes give an ``error``."""

from udlms.errors import DlmsError
from udlms.host.decode.base import (_CONTEXT, MAX_DEPTH, _Cut, _hx, _len, _need,  # noqa: F401
                                    _title_text, base_tag, conformance_names, known_tag,
                                    not_dlms)

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


def _dispatch(ctx, b, d, lines, direction, learn, depth):
    tag = b[0]
    if tag == 0x0F:
        from udlms.host.decode import notify as decode_notify

        decode_notify.notification(ctx, b, d, lines)
        return
    if tag == 0xC2:
        from udlms.host.decode import notify as decode_notify

        decode_notify.event_notification(ctx, b, d, lines)
        return
    if tag == 0xE0:
        from udlms.host.decode import gbt as decode_gbt

        decode_gbt.gbt(ctx, b, d, lines, direction, learn, depth)
        return
    if tag in (0x60, 0x61, 0x62, 0x63, 0x01, 0x08):
        from udlms.host.decode import acse as decode_acse

        decode_acse.explain(ctx, b, d, lines, direction, learn, depth)
    elif tag in (0xC0, 0xC1, 0xC3):
        from udlms.host.decode import xdlms as decode_xdlms

        decode_xdlms.request(ctx, b, d, lines, learn)
    elif tag in (0xC4, 0xC5, 0xC7, 0xD8, 0x0E):
        from udlms.host.decode import xdlms as decode_xdlms

        decode_xdlms.response(ctx, b, d, lines)
    elif base_tag(tag) != tag or tag in (0xDB, 0xDC, 0xDD):
        from udlms.host.decode import cipher as decode_cipher

        decode_cipher.ciphered(ctx, b, d, lines, direction, learn, depth)
    else:
        lines.append("%s (%d bytes; no further detail decoded)" % (d["name"], len(b)))
