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


def validate(d):
    """A config dict -> (values with defaults filled in, list of error lines). The checks
    (:mod:`tokenpad.settings_check`) and what they import (token encodings, OBIS parsing)
    are forgotten after them (issue 26)."""
    from udlms.port import forget_since, loaded

    before = loaded()
    from tokenpad import settings_check

    try:
        return settings_check.validate(d)
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

    # the bodies live in tokenpad.verdict (settings, context) and tokenpad.settings_check
    # (masked), loaded for the action that asks and forgotten with it (tokenpad.app._lean):
    # the idle app holds only these lines
    def settings(self, cls=None, **over):
        """-> udlms.client.session.Settings (or ``cls``); raises ConfigError naming every bad
        field."""
        from tokenpad import verdict

        return verdict.settings(self, cls, over)

    def context(self):
        """A short fingerprint of the security context toward the meter (keys, system
        title, addresses): what the store remembers the meter's token form under. The
        keys go only into the hash, never out."""
        from tokenpad import verdict

        return verdict.context(self.values)

    def masked(self):
        """Lines for the REPL: every setting, keys shown only as set/missing."""
        from tokenpad import settings_check

        return settings_check.masked(self.values)


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
