"""config.json: the meter's settings, validated field by field (``tokenpad.settings``).

Every bad field gets its own plain message; with any error the device refuses to send
(``Config.settings()`` raises ``ConfigError``) rather than guess. Keys never leave this
module unmasked: ``masked()`` shows only whether a key is set.

Fields (defaults in brackets): mode ["hls-gmac"] | "lls" | "none"; client [1];
server_logical [1]; server_physical [null]; address_size [2]; ek, ak (32 hex digits);
system_title (16 hex digits); password (LLS); encoding ["auto"] (udlms.client.token.ENCODINGS, or
auto: found from the meter's wrong-form answers and remembered, udlms.client.token_auto);
baud [9600]; timeout_ms [3000]; retries [3]; max_info [128]; gateway ["0.0.19.40.0.255"];
frame_counter ["0.0.43.1.1.255"].
"""


_MECH = {"hls-gmac": 5, "lls": 1, "none": 0}
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


def validate(d):
    """A config dict -> (values with defaults filled in, list of error lines). The checks
    (:mod:`tokenpad.settings_check`) and what they import (token encodings, OBIS parsing)
    are forgotten after them (issue 26)."""
    from udlms.port import forget_since, loaded

    before = loaded()
    from tokenpad import settings_check

    try:
        return settings_check.validate(d, _DEFAULTS, _SECRET)
    finally:
        forget_since(before, ("udlms.", "tokenpad.settings_check"))


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
            from udlms.errors import ConfigError  # only to refuse: not held while idle

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
