"""Helpers every part of the trace decoder (:mod:`udlms.host.decode`) shares: bounds-checked
reads of A-XDR/BER lengths, hex, tag names, the per-frame result object. No decoder module
is imported here, so the explainers can all use it without a cycle."""

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


def _new_obj(lineno, direction):
    return {"line": lineno, "direction": direction, "direction_from": None, "hex": None,
            "hdlc": None, "mbus": None, "wrapper": None, "apdu": None, "text": "", "error": None,
            "error_kind": None, "warnings": []}


def _request_tag(tag):
    """True when an APDU tag is sent by the client, False by the server, None unknown."""
    base = base_tag(tag)
    if base in (0x60, 0x62, 0x01, 0x05, 0x06, 0xC0, 0xC1, 0xC3, 0xD9):
        return True
    if base in (0x61, 0x63, 0x08, 0x0C, 0x0D, 0x0E, 0xC4, 0xC5, 0xC7, 0xD8, 0x0F, 0xC2, 0xDA):
        return False
    return None
