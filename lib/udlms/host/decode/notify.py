"""data-notification (tag 0F, Green Book §9.4.6.3 / IEC 62056-5-3 §8) for ``udlms decode``:
long-invoke-id-and-priority, the optional date-time and the A-XDR notification body with
the push shapes meters use made readable (IEC 62056-6-1 OBIS names, scaler and unit):

- (OBIS, value) and (OBIS, value, scaler-unit) structures, in an array or a structure
  (Aidon, Kaifa AT, many utilities' HAN lists);
- OBIS octet-strings followed by their value (and scaler-unit) flat in one structure
  (Kamstrup HAN lists);
- a push setup's push_object_list (class id, OBIS, attribute, data index, and from push
  setup version 1 on restriction and columns) first, then one value per capture object,
  the list itself being the first (Landis+Gyr, Iskra, Energomera "push setup" messages);
- not A-XDR but seen in the field: structure(2){untyped class-id (2 bytes), OBIS (6),
  attribute (1); typed value} per object (Sagemcom XT211), read by
  :mod:`udlms.host.decode.untyped`;
- anything else: the values in order, with their A-XDR type.
"""

from udlms.host.decode.base import _hx, _need
from udlms.errors import DlmsError

MAX_VALUES = 200
_ENERGY_UNITS = (30, 31, 32)  # Wh, VAh, varh: shown in k-units


def _obis_of(tv):
    if tv[0] == 9 and isinstance(tv[1], (bytes, bytearray)) and len(tv[1]) == 6:
        return ".".join(str(x) for x in bytes(tv[1]))
    return None


def _scaler_unit(tv):
    if tv[0] == 2 and len(tv[1]) == 2 and tv[1][0][0] == 15 and tv[1][1][0] == 22:
        return tv[1][0][1], tv[1][1][1]
    return None


def _descriptors(tv):
    """push_object_list (IC 40 attribute 2): array of {class-id, logical-name,
    attribute-index, data-index} (version 0) or those and {restriction, columns}
    (version 1 and later)."""
    if tv[0] != 1 or not tv[1]:
        return None
    out = []
    for e in tv[1]:
        if e[0] != 2 or len(e[1]) not in (4, 6):
            return None
        cid, ln, attr = e[1][0], e[1][1], e[1][2]
        if cid[0] != 18 or _obis_of(ln) is None or attr[0] != 15:
            return None
        out.append((cid[1], _obis_of(ln), attr[1]))
    return out


def _fixed(raw, scaler):
    """Integer ``raw`` times 10**scaler as exact decimal text."""
    if scaler >= 0:
        return str(raw * 10 ** scaler)
    s = str(abs(raw))
    k = -scaler
    if len(s) <= k:
        s = "0" * (k - len(s) + 1) + s
    return ("-" if raw < 0 else "") + s[:-k] + "." + s[-k:]


def _days(y, m, d):
    """Days since 1970-01-01 of a civil date (proleptic Gregorian)."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468


def _civil(z):
    z += 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    return yoe + era * 400 + (m <= 2), m, d


def utc_text(raw):
    """COSEM date-time with a specified deviation -> "YYYY-MM-DD hh:mm:ss UTC" (the
    deviation is UTC minus local time in minutes, IEC 62056-6-2 §4.1.6.1), else None."""
    b = bytes(raw)
    if len(b) != 12:
        return None
    year = (b[0] << 8) | b[1]
    dev = (b[9] << 8) | b[10]
    if year == 0xFFFF or dev == 0x8000 or not 1 <= b[2] <= 12 or not 1 <= b[3] <= 31:
        return None
    if b[5] > 23 or b[6] > 59 or b[7] > 59:
        return None
    if dev >= 0x8000:
        dev -= 0x10000
    mins = _days(year, b[2], b[3]) * 1440 + b[5] * 60 + b[6] + dev
    y, m, d = _civil(mins // 1440)
    mins %= 1440
    return "%04d-%02d-%02d %02d:%02d:%02d UTC" % (y, m, d, mins // 60, mins % 60, b[7])


def _printable(b):
    for x in b:
        if x < 0x20 or x > 0x7E:
            return False
    return True


def value_of(tag, v, su=None):
    """A-XDR value (+ scaler-unit) -> (json value, text, scaler, unit symbol)."""
    from udlms.cosem import obis
    from udlms.host.decode.obis import unit_name

    scaler = unit = None
    if su is not None:
        scaler, unit = su
    uname = unit_name(unit)
    if tag in (9, 25) and isinstance(v, (bytes, bytearray)):
        dt = obis.datetime_text(v, strict=True) if len(v) == 12 else None
        if dt:
            utc = utc_text(v)
            if utc:
                dt += " (%s)" % utc
            return dt, dt, scaler, uname
        if len(v) and _printable(v):
            t = bytes(v).decode()
            return t, '"%s"' % t, scaler, uname
        return _hx(v), "octet-string " + (_hx(v) or "(empty)"), scaler, uname
    if tag in (10, 12) and isinstance(v, str):
        return v, '"%s"' % v, scaler, uname
    if isinstance(v, bool) or v is None:
        return v, obis.typed_text(tag, v), scaler, uname
    if isinstance(v, int) and tag != 22:
        if scaler is None:
            text = str(v)
            jv = v
        else:
            text = _fixed(v, scaler)
            jv = v * 10 ** scaler if scaler >= 0 else round(v * 10.0 ** scaler, -scaler)
            if unit in _ENERGY_UNITS:
                return jv, _fixed(v, scaler - 3) + " k" + uname, scaler, uname
        return jv, text + (" " + uname if uname else ""), scaler, uname
    if isinstance(v, float):
        return v, repr(v) + (" " + uname if uname else ""), scaler, uname
    t = obis.typed_text(tag, v)
    if len(t) > 200:
        t = t[:197] + "..."
    return t, t, scaler, uname


def _entry(obis, tv, su=None, extra=None):
    from udlms.cosem import axdr
    from udlms.host.decode.obis import obis_name

    if extra and extra.get("attribute") == 1 and _obis_of(tv):
        ob = _obis_of(tv)  # a logical_name attribute: the object's own OBIS code
        return {"obis": obis, "name": obis_name(obis) if obis else None, "value": ob,
                "scaler": None, "unit": None, "type": axdr.type_name(tv[0]),
                "text": "logical name " + ob, "class_id": extra["class_id"],
                "attribute": 1}
    if extra and extra.get("attribute") == 3 and _scaler_unit(tv) is not None:
        from udlms.host.decode.obis import unit_name

        sc, un = _scaler_unit(tv)  # a register's scaler_unit
        return {"obis": obis, "name": obis_name(obis) if obis else None, "value": None,
                "scaler": sc, "unit": unit_name(un), "type": "scaler_unit",
                "text": "scaler_unit: scaler %d, unit %s" % (sc, unit_name(un) or "none"),
                "class_id": extra["class_id"], "attribute": 3}
    jv, text, scaler, unit = value_of(tv[0], tv[1], su)
    e = {"obis": obis, "name": obis_name(obis) if obis else None, "value": jv,
         "scaler": scaler, "unit": unit, "type": axdr.type_name(tv[0]), "text": text}
    if extra:
        e.update(extra)
    return e


def _pairs(elems, out):
    """Nested (OBIS, value[, scaler-unit]) structures and flat OBIS, value[, scaler-unit]
    runs, in order; anything else is a value without an OBIS code."""
    i = 0
    n = len(elems)
    while i < n and len(out) < MAX_VALUES:
        tv = elems[i]
        ob = _obis_of(tv)
        if ob is not None and i + 1 < n and _obis_of(elems[i + 1]) is None:
            su = _scaler_unit(elems[i + 2]) if i + 2 < n else None
            out.append(_entry(ob, elems[i + 1], su))
            i += 3 if su is not None else 2
            continue
        if tv[0] == 2 and len(tv[1]) >= 2 and _obis_of(tv[1][0]) is not None:
            inner = tv[1]
            su = _scaler_unit(inner[2]) if len(inner) >= 3 else None
            out.append(_entry(_obis_of(inner[0]), inner[1], su))
            i += 1
            continue
        out.append(_entry(None, tv))
        i += 1


def body_values(tag, v):
    """Notification body -> (shape, list of value dicts, warnings)."""
    out = []
    warn = []
    if tag not in (1, 2):
        return "single value", [_entry(None, (tag, v))], warn
    elems = v
    descs = _descriptors(elems[0]) if tag == 2 and elems else None
    if descs is not None:
        if len(descs) != len(elems):
            warn.append("push object list names %d objects but %d values are pushed"
                        % (len(descs), len(elems)))
        scalers = {}  # a register's scaler_unit (attribute 3) pushed beside its value
        for i in range(1, min(len(elems), len(descs))):
            cid, ob, attr = descs[i]
            if attr == 3 and cid in (3, 4, 5) and _scaler_unit(elems[i]) is not None:
                scalers[ob] = _scaler_unit(elems[i])
        cid, ob, attr = descs[0]
        if cid == 40 and attr == 2:  # the list itself, pushed as the first value
            out.append({"obis": ob, "name": _obis_name(ob), "value": len(descs),
                        "scaler": None, "unit": None, "type": "array",
                        "text": "push object list, %d objects" % len(descs),
                        "class_id": cid, "attribute": attr})
        else:
            out.append(_entry(ob, elems[0], None, {"class_id": cid, "attribute": attr}))
        for i in range(1, len(elems)):
            if len(out) >= MAX_VALUES:
                break
            if i < len(descs):
                cid, ob, attr = descs[i]
                su = scalers.get(ob) if attr == 2 and cid in (3, 4, 5) else None
                out.append(_entry(ob, elems[i], su, {"class_id": cid, "attribute": attr}))
            else:
                out.append(_entry(None, elems[i]))
        return "push object list + values", out, warn
    _pairs(elems, out)
    with_obis = 0
    for e in out:
        if e["obis"]:
            with_obis += 1
    if not with_obis:
        shape = "values without OBIS codes"
    elif with_obis == len(out):
        shape = "OBIS-value list"
    else:
        shape = "OBIS-value list (%d values without OBIS code)" % (len(out) - with_obis)
    if len(out) >= MAX_VALUES:
        warn.append("only the first %d values are shown" % MAX_VALUES)
    return shape, out, warn


def _obis_name(ob):
    from udlms.host.decode.obis import obis_name

    return obis_name(ob)


def line_of(e):
    head = e["obis"] + (" " + e["name"] if e["name"] else "") if e["obis"] else "(no OBIS)"
    if e.get("class_id") is not None:
        head += " [class %d attr %d]" % (e["class_id"], e["attribute"])
    return "%s: %s" % (head, e["text"])


def notification(ctx, b, d, lines):
    """data-notification: 0F, long-invoke-id-and-priority (4), date-time OCTET STRING
    (00 = absent; 0C + 12 bytes; some meters send it tagged 09 0C), notification-body."""
    from udlms.cosem import axdr, obis

    _need(b, 0, 6)
    liip = int.from_bytes(bytes(b[1:5]), "big")
    n = {"invoke_id": liip & 0xFFFFFF, "priority": "high" if liip >> 31 & 1 else "normal",
         "datetime_utc": None,
         "confirmed": bool(liip >> 30 & 1), "self_descriptive": bool(liip >> 29 & 1),
         "break_on_error": bool(liip >> 28 & 1), "datetime": None, "datetime_hex": None}
    d["service"] = "data-notification"
    d["invoke_id"] = n["invoke_id"]
    d["notification"] = n
    p = 5
    c = b[p]
    if c == 0x09 and len(b) > p + 1 and b[p + 1] == 0x0C:
        p += 1
        c = 0x0C
    if c:
        _need(b, p + 1, c)
        raw = b[p + 1:p + 1 + c]
        n["datetime_hex"] = _hx(raw)
        n["datetime"] = obis.datetime_text(raw) if c == 12 else None
        n["datetime_utc"] = utc_text(raw) if c == 12 else None
        if c != 12:
            d.setdefault("warnings", []).append(
                "date-time field is %d bytes, not 12" % c)
    p += 1 + c
    head = "data-notification: long-invoke-id %d (%s priority, %s)%s" % (
        n["invoke_id"], n["priority"], "confirmed" if n["confirmed"] else "unconfirmed",
        "; sent %s%s" % (n["datetime"], " (%s)" % n["datetime_utc"] if n["datetime_utc"]
                         else "") if n["datetime"] else
        "; no date-time" if not c else "; date-time " + n["datetime_hex"])
    lines.append(head)
    if p >= len(b):
        n["values"] = []
        lines.append("  empty notification body")
        return
    try:
        tag, v, end = axdr.decode_typed(b, p)
        shape, vals, warn = body_values(tag, v)
    except DlmsError as e:
        from udlms.host.decode import untyped as decode_untyped

        try:
            vals, end = decode_untyped.body(b, p, _entry, MAX_VALUES)
        except DlmsError:
            d["error"] = "notification body does not decode: " + e.message
            lines.append("  ERROR: " + d["error"])
            return
        tag = b[p]
        shape = "untyped class/OBIS/attribute descriptors + values"
        warn = ["notification body is not A-XDR (%s): each object is named by an untyped "
                "class-id, OBIS code and attribute before its value; read that way" % e.message]
    if end != len(b):
        warn = list(warn) + ["%d bytes after the notification body: %s" % (
            len(b) - end, _hx(b[end:end + 32]) + ("..." if len(b) - end > 32 else ""))]
    n["shape"] = shape
    n["values"] = vals
    n["body_hex"] = _hx(b[p:end][:64]) + ("..." if end - p > 64 else "")
    if warn:
        d.setdefault("warnings", []).extend(warn)
    lines.append("  body: %s, %d values (%s)" % (axdr.type_name(tag), len(vals), shape))
    for w in warn:
        lines.append("  warning: " + w)
    for e in vals:
        lines.append("  " + line_of(e))


def event_notification(ctx, b, d, lines):
    """event-notification-request (C2, IEC 62056-5-3 §8.3): time OPTIONAL (00, or 01 and
    an octet-string date-time), cosem-attribute-descriptor (class-id, instance-id,
    attribute-id), attribute-value (A-XDR Data)."""
    from udlms.cosem import axdr, obis
    from udlms.host.decode.obis import obis_name

    _need(b, 0, 2)
    p = 1
    when = None
    if b[p]:
        p += 1
        _need(b, p, 1)
        n = b[p]
        _need(b, p + 1, n)
        when = obis.datetime_text(b[p + 1:p + 1 + n]) if n == 12 else _hx(b[p + 1:p + 1 + n])
        p += 1 + n
    else:
        p += 1
    _need(b, p, 9)
    cid = (b[p] << 8) | b[p + 1]
    ob = obis.obis_str(b[p + 2:p + 8])
    attr = b[p + 8]
    p += 9
    d["service"] = "event-notification"
    d["class_id"], d["obis"], d["attribute"] = cid, ob, attr
    d["event"] = {"time": when}
    try:
        tag, v, _ = axdr.decode_typed(b, p)
    except DlmsError as e:
        d["error"] = "event value does not decode: " + e.message
        lines.append("event-notification-request: ERROR: " + d["error"])
        return
    e = _entry(ob, (tag, v))
    d["event"]["value"] = e
    name = obis_name(ob)
    lines.append("event-notification-request: %sclass %d %s%s attribute %d = %s" % (
        "at %s; " % when if when else "", cid, ob, " (%s)" % name if name else "", attr,
        e["text"]))
