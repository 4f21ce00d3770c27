"""Plain names for the OBIS codes electricity meters push (IEC 62056-6-1 §7.5, value group C
quantities and D processing) and the COSEM unit enumeration (IEC 62056-6-2 §4.5.3, Blue
Book "scaler_unit"), for ``udlms decode``. Host tool first; imports on MicroPython too."""

# value group C (electricity, A=1): quantity; phases follow in steps of 20
_QUANTITY = {
    1: "active power import +P", 2: "active power export -P",
    3: "reactive power import +Q", 4: "reactive power export -Q",
    5: "reactive power Q1", 6: "reactive power Q2", 7: "reactive power Q3",
    8: "reactive power Q4", 9: "apparent power import +S", 10: "apparent power export -S",
    11: "current (any phase)", 12: "voltage (any phase)", 13: "power factor",
    14: "frequency", 15: "active power |+P|+|-P|", 16: "active power |+P|-|-P|",
    31: "current", 32: "voltage", 33: "power factor", 91: "neutral current",
    92: "neutral voltage",
}
_ENERGY = {1: "active energy import +A", 2: "active energy export -A",
           3: "reactive energy import +R", 4: "reactive energy export -R",
           5: "reactive energy Q1", 6: "reactive energy Q2", 7: "reactive energy Q3",
           8: "reactive energy Q4", 9: "apparent energy import +S",
           10: "apparent energy export -S", 15: "active energy |+A|+|-A|",
           16: "active energy |+A|-|-A|"}
# abstract / identification objects (A=0) and a few list identifiers meters push
_FIXED = {
    "0.0.1.0.0.255": "clock", "0.0.96.1.0.255": "meter serial number",
    "0.0.96.1.1.255": "meter id (manufacturer)", "0.0.96.1.2.255": "meter id 2",
    "0.0.96.1.7.255": "meter type", "0.0.96.1.8.255": "meter id 8",
    "0.0.42.0.0.255": "logical device name (COSEM)", "0.0.96.14.0.255": "current tariff",
    "0.0.96.3.10.255": "disconnect control", "0.0.43.1.0.255": "invocation counter",
    "0.0.96.7.21.255": "number of power failures", "0.0.96.7.9.255":
    "number of long power failures", "0.0.96.13.0.255": "consumer message text",
    "1.1.0.2.129.255": "OBIS list version identifier", "1.0.0.2.129.255":
    "OBIS list version identifier", "1.1.0.0.5.255": "GS1 number (meter id)",
    "1.1.96.1.1.255": "meter type", "0.1.1.0.0.255": "clock", "1.0.0.2.0.255":
    "firmware version", "1.0.0.0.0.255": "meter serial number", "1.0.0.1.0.255":
    "billing period counter", "0.0.96.50.0.255": "meter status",
}
_PHASE = ("", " L1", " L2", " L3")
# unit enumeration (IEC 62056-6-2 Table 4) -> symbol
_UNITS = {
    1: "a", 2: "mo", 3: "wk", 4: "d", 5: "h", 6: "min", 7: "s", 8: "deg", 9: "degC",
    10: "currency", 11: "m", 12: "m/s", 13: "m3", 14: "m3", 15: "m3/h", 16: "m3/h",
    17: "m3/d", 18: "m3/d", 19: "l", 20: "kg", 21: "N", 22: "Nm", 23: "Pa", 24: "bar",
    25: "J", 26: "J/h", 27: "W", 28: "VA", 29: "var", 30: "Wh", 31: "VAh", 32: "varh",
    33: "A", 34: "C", 35: "V", 36: "V/m", 37: "F", 38: "Ohm", 39: "Ohm m2/m", 40: "Wb",
    41: "T", 42: "A/m", 43: "H", 44: "Hz", 45: "1/(Wh)", 46: "1/(varh)", 47: "1/(VAh)",
    48: "V2h", 49: "A2h", 50: "kg/s", 51: "S", 52: "K", 53: "1/(V2h)", 54: "1/(A2h)",
    55: "1/m3", 56: "%", 57: "Ah", 60: "Wh/m3", 61: "J/m3", 62: "mol%", 63: "g/m3",
    64: "Pa s", 65: "J/kg", 70: "dBm", 71: "dBuV", 72: "dB", 253: "(reserved)",
    254: "(other unit)", 255: "",
}


def unit_name(code):
    """COSEM unit enum -> symbol ("Wh"); unknown codes -> "unit-NN"."""
    if code is None:
        return None
    return _UNITS.get(code, "unit-%d" % code)


def obis_name(obis):
    """"1.0.1.8.0.255" -> "active energy import +A" (None when not a common code).
    Electricity (A=1): C names the quantity and phase, D 7 (instantaneous) / 8 (time
    integral, energy) / 4 / 5 (demand), E the tariff (IEC 62056-6-1 §7.5)."""
    name = _FIXED.get(obis)
    if name:
        return name
    try:
        a, b, c, d, e, f = [int(x) for x in obis.split(".")]
    except ValueError:
        return None
    if a != 1:
        return None
    phase = 0
    base = c
    if 21 <= c <= 80:
        phase = (c - 1) // 20
        base = c - 20 * phase
        if base in (11, 12, 13):  # 31 current, 32 voltage, 33 power factor (L1, +20 per phase)
            base += 20
    if d == 8 or d == 9 or d == 29:
        q = _ENERGY.get(base)
        what = "" if d == 8 else " (period)"
    elif d in (4, 5, 6, 14, 15, 16, 24, 25, 26):
        q = _QUANTITY.get(base)
        what = {4: " demand (current period)", 5: " demand (last period)",
                6: " maximum demand", 14: " demand (current period)",
                15: " demand (last period)", 16: " maximum demand"}.get(d, " demand")
    elif d == 7:
        q = _QUANTITY.get(base)
        what = ""
    else:
        return None
    if q is None:
        return None
    text = q + what + _PHASE[phase if phase < 4 else 0]
    if e:
        text += " tariff %d" % e
    return text
