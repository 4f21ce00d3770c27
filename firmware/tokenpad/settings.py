"""config.json: the meter's settings, validated field by field (``tokenpad.settings``).

Every bad field gets its own plain message; with any error the device refuses to send
(``Config.settings()`` raises ``ConfigError``) rather than guess. Keys never leave this
module unmasked: ``masked()`` shows only whether a key is set.

Fields (defaults in brackets): mode ["hls-gmac"] | "lls" | "none"; client [1];
server_logical [1]; server_physical [null]; address_size [2]; ek, ak (32 hex digits);
system_title (16 hex digits); password (LLS); encoding ["auto"] (udlms.client.token.ENCODINGS, or
auto: found from the meter's type-unmatched answers and remembered, udlms.client.token_auto);
baud [9600]; timeout_ms [3000]; retries [3]; max_info [128]; gateway ["0.0.19.40.0.255"];
frame_counter ["0.0.43.1.1.255"].
"""

from udlms.errors import ConfigError

MODES = ("hls-gmac", "lls", "none")
_MECH = {"hls-gmac": 5, "lls": 1, "none": 0}
BAUDS = (300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)
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


def _int(v, lo, hi, name, errs, none_ok=False):
    if v is None and none_ok:
        return
    if not isinstance(v, int) or isinstance(v, bool) or v < lo or v > hi:
        errs.append("%s: must be a whole number %d..%d%s, got %s"
                    % (name, lo, hi, " or null" if none_ok else "", _show(v)))


def _show(v):
    if isinstance(v, str):
        return '"%s"' % v[:24]
    return str(v)


def _hex(v, n, name, errs, required):
    if v is None:
        if required:
            errs.append("%s: missing; needs %d hex digits" % (name, 2 * n))
        return
    if not isinstance(v, str):
        errs.append("%s: must be a string of %d hex digits" % (name, 2 * n))
        return
    s = v.replace(" ", "").replace(":", "")
    for ch in s:
        if ch not in "0123456789abcdefABCDEF":
            errs.append("%s: only 0-9 and A-F are allowed (found '%s')"
                        % (name, ch if name not in _SECRET else "?"))
            return
    if len(s) != 2 * n:
        errs.append("%s: needs exactly %d hex digits, found %d" % (name, 2 * n, len(s)))


def validate(d):
    """A config dict -> (values with defaults filled in, list of error lines). What the
    checks import (token encodings, OBIS parsing) is forgotten after them (issue 26)."""
    from udlms.port import forget_since, loaded

    errs = []
    before = loaded()
    if not isinstance(d, dict):
        return {}, ["config.json must hold one JSON object {...}"]
    vals = {}
    known = [k for k, _ in _DEFAULTS]
    for k in d:
        if k.replace("-", "_") not in known:
            errs.append("%s: unknown setting (known: %s)" % (k, ", ".join(known)))
    for k, default in _DEFAULTS:
        vals[k] = d.get(k, d.get(k.replace("_", "-"), default))
    mode = vals["mode"]
    if mode not in MODES:
        errs.append("mode: must be one of %s, got %s" % (", ".join(MODES), _show(mode)))
    _int(vals["client"], 1, 127, "client", errs)
    _int(vals["server_logical"], 0, 0x3FFF, "server_logical", errs)
    _int(vals["server_physical"], 0, 0x3FFF, "server_physical", errs, none_ok=True)
    if vals["address_size"] not in (1, 2, 4):
        errs.append("address_size: must be 1, 2 or 4, got %s" % _show(vals["address_size"]))
    hls = mode == "hls-gmac"
    _hex(vals["ek"], 16, "ek", errs, hls)
    _hex(vals["ak"], 16, "ak", errs, hls)
    _hex(vals["system_title"], 8, "system_title", errs, hls)
    if mode == "lls" and not vals["password"]:
        errs.append("password: missing; mode lls needs the meter's password")
    from udlms.client.token import ENCODINGS

    if vals["encoding"] not in ENCODINGS and vals["encoding"] != "auto":
        errs.append("encoding: must be one of %s or auto, got %s (auto finds the meter's "
                    "form)" % (", ".join(ENCODINGS), _show(vals["encoding"])))
    if vals["baud"] not in BAUDS:
        errs.append("baud: must be one of %s, got %s"
                    % (", ".join(str(b) for b in BAUDS), _show(vals["baud"])))
    _int(vals["timeout_ms"], 100, 60000, "timeout_ms", errs)
    _int(vals["retries"], 0, 10, "retries", errs)
    _int(vals["max_info"], 32, 2030, "max_info", errs)
    for k in ("gateway", "frame_counter"):
        try:
            from udlms.cosem import obis

            obis.obis(vals[k])
        except Exception:  # noqa: BLE001 - any unusable value is reported the same way
            errs.append("%s: not an OBIS code like 0.0.19.40.0.255, got %s"
                        % (k, _show(vals[k])))
    forget_since(before)
    return vals, errs


class Config:
    """Validated settings. ``ok`` is False when any field is bad; ``errors`` says which."""

    def __init__(self, d=None, source="config.json", errors=None):
        self.source = source
        self.values, self.errors = validate(d if d is not None else {})
        if errors:  # the file itself is unusable: its fields mean nothing
            self.errors = list(errors)

    @property
    def ok(self):
        return not self.errors

    def __getitem__(self, k):
        return self.values[k]

    def settings(self, cls=None, **over):
        """-> udlms.client.session.Settings (or ``cls``); raises ConfigError naming every bad
        field."""
        if self.errors:
            raise ConfigError("%s has %d problem(s): %s" % (self.source, len(self.errors),
                              "; ".join(self.errors)), "config")
        if cls is None:
            from udlms.client.session import Settings as cls

        v = self.values
        kw = {"client": v["client"], "server_logical": v["server_logical"],
              "server_physical": v["server_physical"], "address_size": v["address_size"],
              "mechanism": _MECH[v["mode"]], "encoding": v["encoding"],
              "timeout_ms": v["timeout_ms"], "retries": v["retries"],
              "max_info_tx": v["max_info"], "max_info_rx": v["max_info"],
              "gateway": v["gateway"], "frame_counter": v["frame_counter"]}
        if v["mode"] == "hls-gmac":
            kw["ek"] = v["ek"]
            kw["ak"] = v["ak"]
            kw["system_title"] = v["system_title"]
        if v["mode"] == "lls":
            kw["password"] = v["password"]
        kw.update(over)
        return cls(**kw)

    def context(self):
        """A short fingerprint of the security context toward the meter (keys, system
        title, addresses): what the store remembers the meter's token form under. The
        keys go only into the hash, never out."""
        from udlms.port import sha256

        v = self.values
        text = "|".join(str(v[k]) for k in ("mode", "ek", "ak", "system_title", "password",
                                             "client", "server_logical", "server_physical",
                                             "address_size", "gateway"))
        return sha256(text.upper().encode()).digest()[:4].hex()

    def masked(self):
        """Lines for the REPL: every setting, keys shown only as set/missing."""
        out = []
        for k, _ in _DEFAULTS:
            v = self.values.get(k)
            if k in _SECRET:
                v = "(set, hidden)" if v else "(not set)"
            elif v is None:
                v = "null"
            out.append("%-14s %s" % (k, v))
        return out


def load(path="config.json"):
    """Read and validate a JSON file; a missing or unreadable file is an error, not a
    default."""
    import json

    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return Config({}, path, ["%s not found: copy config.example.json to %s and edit "
                                 "the meter's keys and addresses" % (path, path)])
    try:
        d = json.loads(text)
    except ValueError as e:
        return Config({}, path, ["%s is not valid JSON (%s): check commas and quotes"
                                 % (path, e)])
    return Config(d, path)
