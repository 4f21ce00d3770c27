"""The checks behind ``tokenpad.settings.validate`` (config.json, field by field): loaded
to validate a config and forgotten after it, so the app does not hold them while it waits
for keys (issue 26)."""

_DEFAULTS = (
    ("mode", "hls-gmac"),
    ("client", 1),
    ("server_logical", 1),
    ("server_physical", None),
    ("address_size", 2),
    ("ek", None),
    ("ak", None),
    ("system_title", None),
    ("password", None),
    ("encoding", "auto"),
    ("baud", 9600),
    ("timeout_ms", 3000),
    ("retries", 3),
    ("max_info", 128),
    ("gateway", "0.0.19.40.0.255"),
    ("frame_counter", "0.0.43.1.1.255"),
)
_SECRET = ("ek", "ak", "password")
# udlms.client.token.ENCODINGS (host_tests/test_firmware_settings.py holds them equal): named
# here so validating a config at startup interns none of the token module's names (issue 26)
ENCODINGS = ("ascii", "bcd", "digits", "hex")


def _int(v, low, high, name, errors, required=True):
    if v is None and not required:
        return
    if not isinstance(v, int) or isinstance(v, bool) or v < low or v > high:
        errors.append("%s: must be a whole number %d..%d%s, got %s"
                    % (name, low, high, "" if required else " or null", _show(v)))


def _show(v):
    if isinstance(v, str):
        return '"%s"' % v[:24]
    return str(v)


def _hex(v, n, name, errors, required):
    if v is None:
        if required:
            errors.append("%s: missing; needs %d hex digits" % (name, 2 * n))
        return
    if not isinstance(v, str):
        errors.append("%s: must be a string of %d hex digits" % (name, 2 * n))
        return
    s = v.replace(" ", "").replace(":", "")
    # what strip() leaves starts at the first character that is not a hex digit; no loop
    # over the characters: MicroPython interns each one it yields, for good (issue 26)
    bad = s.strip("0123456789abcdefABCDEF")
    if bad:
        errors.append("%s: only 0-9 and A-F are allowed (found '%s')"
                    % (name, bad[0] if name not in _SECRET else "?"))
        return
    if len(s) != 2 * n:
        errors.append("%s: needs exactly %d hex digits, found %d" % (name, 2 * n, len(s)))


def validate(d):
    """A config dict -> (values with the defaults filled in, list of error lines); the
    values of the secret fields (ek, ak, password) are never shown. The modes and baud
    rates are local tuples, not module globals: a global's name is interned for good when
    the module loads at startup (issue 26)."""
    modes = ("hls-gmac", "lls", "none")
    bauds = (300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)
    defaults = _DEFAULTS
    errs = []
    if not isinstance(d, dict):
        return {}, ["config.json must hold one JSON object {...}"]
    vals = {}
    known = [k for k, _ in defaults]
    for k in d:
        if k.replace("-", "_") not in known:
            errs.append("%s: unknown setting (known: %s)" % (k, ", ".join(known)))
    for k, default in defaults:
        vals[k] = d.get(k, d.get(k.replace("_", "-"), default))
    mode = vals["mode"]
    if mode not in modes:
        errs.append("mode: must be one of %s, got %s" % (", ".join(modes), _show(mode)))
    _int(vals["client"], 1, 127, "client", errs)
    _int(vals["server_logical"], 0, 0x3FFF, "server_logical", errs)
    _int(vals["server_physical"], 0, 0x3FFF, "server_physical", errs, required=False)
    if vals["address_size"] not in (1, 2, 4):
        errs.append("address_size: must be 1, 2 or 4, got %s" % _show(vals["address_size"]))
    hls = mode == "hls-gmac"
    _hex(vals["ek"], 16, "ek", errs, hls)
    _hex(vals["ak"], 16, "ak", errs, hls)
    _hex(vals["system_title"], 8, "system_title", errs, hls)
    if mode == "lls" and not vals["password"]:
        errs.append("password: missing; mode lls needs the meter's password")
    if vals["encoding"] not in ENCODINGS and vals["encoding"] != "auto":
        errs.append("encoding: must be one of %s or auto, got %s (auto finds the meter's "
                    "form)" % (", ".join(ENCODINGS), _show(vals["encoding"])))
    if vals["baud"] not in bauds:
        errs.append("baud: must be one of %s, got %s"
                    % (", ".join(str(b) for b in bauds), _show(vals["baud"])))
    _int(vals["timeout_ms"], 100, 60000, "timeout_ms", errs)
    _int(vals["retries"], 0, 10, "retries", errs)
    _int(vals["max_info"], 32, 2030, "max_info", errs)
    for k in ("gateway", "frame_counter"):
        if not _obis_ok(vals[k]):
            errs.append("%s: not an OBIS code like 0.0.19.40.0.255, got %s"
                        % (k, _show(vals[k])))
    return vals, errs


def _obis_ok(x):
    """An OBIS code (Green Book 4.1.3: value groups A to F, each 0..255) as
    ``udlms.cosem.obis.obis`` reads one: 6 bytes, or "0.0.19.40.0.255", "0-0:19.40.0*255",
    five groups (F = 255). Checked here: loading that module for two strings would intern its
    names for good at startup (issue 26; the test holds the two equal)."""
    if isinstance(x, (bytes, bytearray, memoryview)):
        return len(x) == 6
    s = str(x).strip()
    for sep in ("-", ":", "*", ","):
        s = s.replace(sep, ".")
    try:
        v = [int(p) for p in s.split(".")]
    except ValueError:
        return False
    return 5 <= len(v) <= 6 and min(v) >= 0 and max(v) <= 255


def masked(values):
    """``Config.masked`` of ``values``: one line per setting, keys only set/missing."""
    out = []
    for k, _ in _DEFAULTS:
        v = values.get(k)
        if k in _SECRET:
            v = "(set, hidden)" if v else "(not set)"
        elif v is None:
            v = "null"
        out.append("%-14s %s" % (k, v))
    return out
