"""Token Gateway ``token_status`` (IC 115 attribute 6, Blue Book 4.6.x) in words: what the
display and the CLI say about a token's fate. A module of its own, loaded when a verdict
is shown, so that a delivered token does not load all of :mod:`udlms.results`."""

_WORDS = (
    ("format-ok", "token format OK"),
    ("authentication-ok", "token authenticated OK"),
    ("validation-ok", "token validated OK"),
    ("execution-ok", "token accepted and applied"),
    ("format-failure", "meter says the token format is wrong: check the digits"),
    ("authentication-failure", "token is not for this meter or was mistyped"),
    ("validation-failure", "token refused: already used, expired or out of order"),
    ("execution-failure", "meter could not apply the token"),
    ("received", "token received, not yet processed"),
)


def text(code):
    """token_status status_code (0..8) -> ``(name, plain message)``."""
    if 0 <= code < len(_WORDS):
        return _WORDS[code]
    return "status-%d" % code, "meter reports unknown token status %d" % code
