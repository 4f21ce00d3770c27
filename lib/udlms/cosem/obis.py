"""COSEM object identification (IEC 62056-6-1 OBIS, Blue Book class ids) and the
date-time octet-string (Blue Book §4.1.6.1)."""

from udlms.errors import ConfigError
from udlms.port import const

# _FULL: 0 in the device build (tools/build/msgtable.py): a board only reads OBIS codes
# (obis()); the class ids and their names are for the PC's tools
_FULL = const(1)
if _FULL:
    DATA = const(1)
    REGISTER = const(3)
    EXTENDED_REGISTER = const(4)
    DEMAND_REGISTER = const(5)
    PROFILE_GENERIC = const(7)
    CLOCK = const(8)
    SCRIPT_TABLE = const(9)
    ASSOCIATION_SN = const(12)
    ASSOCIATION_LN = const(15)
    IMAGE_TRANSFER = const(18)
    IEC_HDLC_SETUP = const(23)
    SECURITY_SETUP = const(64)
    DISCONNECT_CONTROL = const(70)
    LIMITER = const(71)
    ACCOUNT = const(111)
    CREDIT = const(112)
    CHARGE = const(113)
    TOKEN_GATEWAY = const(115)

    _CLASS_NAMES = ("1 data 3 register 4 extended-register 5 demand-register "
                    "7 profile-generic 8 clock 9 script-table 12 association-sn "
                    "15 association-ln 18 image-transfer 23 iec-hdlc-setup 64 security-setup "
                    "70 disconnect-control 71 limiter 111 account 112 credit 113 charge "
                    "115 token-gateway")

    def class_name(class_id):
        """Name of a COSEM interface class id, e.g. 115 -> "token-gateway"."""
        w = _CLASS_NAMES.split()
        for i in range(0, len(w), 2):
            if int(w[i]) == class_id:
                return w[i + 1]
        return "class-%d" % class_id


def obis(x):
    """OBIS code -> 6 bytes. Accepts bytes(6), "0.0.19.40.0.255", "0-0:19.40.0.255",
    "0-0:19.40.0*255"; five groups get 255 appended."""
    if isinstance(x, (bytes, bytearray, memoryview)):
        if len(x) != 6:
            raise ConfigError("an OBIS code has 6 bytes, got %d" % len(x), "obis")
        return bytes(x)
    s = str(x).strip()
    for sep in "-:*,":
        s = s.replace(sep, ".")
    parts = s.split(".")
    if len(parts) == 5:
        parts.append("255")
    try:
        vals = [int(p) for p in parts]
    except ValueError:
        vals = None
    if vals is None or len(vals) != 6 or min(vals) < 0 or max(vals) > 255:
        raise ConfigError("%r is not an OBIS code: write six numbers 0..255 like "
                          "0.0.19.40.0.255" % (x,), "obis")
    return bytes(vals)


def obis_str(b):
    """6 bytes -> "0.0.19.40.0.255"."""
    return ".".join(str(v) for v in bytes(b))


def datetime_text(b, strict=False):
    """12-byte COSEM date-time -> "2024-01-01 00:00:00"; unspecified fields show as "*",
    a specified deviation as " dev=-60min" and clock status bits as " st=0x80".
    With ``strict`` returns None unless the bytes look like a date-time."""
    b = bytes(b)
    if len(b) != 12:
        if strict:
            return None
        return "(bad date-time, %d bytes)" % len(b)
    year = (b[0] << 8) | b[1]
    mon, day, wd, hh, mm, ss, cc = b[2], b[3], b[4], b[5], b[6], b[7], b[8]
    dev = (b[9] << 8) | b[10]
    st = b[11]
    if strict:
        ok = (year == 0xFFFF or 1970 <= year <= 2199) and (mon in (0xFD, 0xFE, 0xFF)
                                                        or 1 <= mon <= 12)
        ok = ok and (day >= 0xFD or 1 <= day <= 31) and (wd == 0xFF or 1 <= wd <= 7)
        ok = ok and (hh == 0xFF or hh < 24) and (mm == 0xFF or mm < 60)
        ok = ok and (ss == 0xFF or ss < 60) and (cc == 0xFF or cc < 100)
        if not ok:
            return None
    f = ["*" if year == 0xFFFF else str(year)]
    for v in (mon, day, hh, mm, ss):  # two digits (the last two of a larger value)
        f.append("*" if v == 0xFF else "%02d" % (v % 100))
    text = "%s-%s-%s %s:%s:%s" % tuple(f)
    if cc != 0xFF and cc != 0:
        text += ".%02d" % (cc % 100)
    if dev != 0x8000:
        if dev >= 0x8000:
            dev -= 0x10000
        text += " dev=%+dmin" % dev
    if st != 0xFF and st != 0:
        text += " st=0x%02X" % st
    return text


if _FULL:  # (the PC's tools)
    def datetime_bytes(year, month, day, hour=0, minute=0, second=0, deviation=None,
                       status=0, weekday=0xFF):
        """A 12-byte date-time (deviation None = not specified, 0x8000)."""
        dev = 0x8000 if deviation is None else deviation & 0xFFFF
        return bytes((year >> 8, year & 0xFF, month, day, weekday, hour, minute, second, 0,
                      dev >> 8, dev & 0xFF, status))


# -- decoded A-XDR values as text (value_text / typed_text) -----------------------------------
def value_text(v, limit=200):
    """Short human text for a decoded A-XDR value."""
    s = _text(v)
    if len(s) > limit:
        s = s[:limit - 3] + "..."
    return s


def _text(v):
    from udlms.cosem.axdr import BitString

    if v is None:
        return "null"
    if v is True or v is False:
        return "true" if v else "false"
    if isinstance(v, (bytes, bytearray, memoryview)):
        b = bytes(v)
        t = datetime_text(b, True)
        if t is not None:
            return t
        ok = len(b) > 0  # printable ASCII: shown as text
        for c in b:
            if c < 0x20 or c > 0x7E:
                ok = False
                break
        if ok:
            return '"%s"' % b.decode()
        import binascii

        return binascii.hexlify(b).decode().upper() if b else "(empty)"
    if isinstance(v, str):
        return '"%s"' % v
    if isinstance(v, BitString):
        return "bits " + (v.bits() or "(none)")
    if isinstance(v, tuple):
        return "{" + ", ".join(_text(x) for x in v) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(_text(x) for x in v) + "]"
    return str(v)


if _FULL:  # (the PC's trace decoder)
    def typed_text(tag, value):
        """Text for an ``axdr.decode_typed`` result, naming each type: ``enum 3``."""
        from udlms.cosem import axdr

        if tag == 1 or tag == 2:
            inner = ", ".join(typed_text(t, v) for t, v in value)
            return "%s(%d){%s}" % (axdr.type_name(tag), len(value), inner)
        if tag == 25:
            return "date-time " + datetime_text(value)
        return "%s %s" % (axdr.type_name(tag), _text(value))
