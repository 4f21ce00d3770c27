"""udlms error types.

Every failure the library reports is a ``DlmsError`` subclass with a stable short
``kind`` (for logs, JSON, tests and the soak statistics) and a plain-language message
that names the cause. ``code`` carries the DLMS numeric code where one exists.
Keys and other secrets never appear in these messages.

In the device build (tools/build/msgtable.py) the message texts live in ``messages.txt`` next
to this module, not in the heap: an error carries ``offset`` or ``(offset, args)`` and
``message`` reads and formats the line when it is shown.
"""


def _text(code):
    """The message ``code`` as text (see the module docstring)."""
    at = code[0] if isinstance(code, tuple) else code
    if not isinstance(at, int):
        return code
    try:
        with open(__file__.rsplit("/", 1)[0] + "/messages.txt", "rb") as f:
            f.seek(at)
            fmt = f.readline().decode()[:-1]
    except (OSError, NameError):  # no file beside a frozen module
        return "udlms message %r (messages.txt not installed)" % (code,)
    return fmt if at is code else fmt % code[1]  # (offset, args): the literal had "% args"


class DlmsError(Exception):
    """Base of all udlms errors."""

    kind = "dlms"

    def __init__(self, message, kind=None, code=None):
        super().__init__(message)
        if kind is not None:
            self.kind = kind
        self.code = code

    def __str__(self):
        return str(_text(self.args[0]) if self.args else self.kind)

    message = property(__str__)  # the text, the error kind when none was given

    def __repr__(self):  # MicroPython prints an uncaught exception with its repr
        return "%s: %s" % (type(self).__name__, self)


def _kind(name, base, kind):
    """The subclass ``name`` of ``base`` whose errors are of ``kind`` unless told otherwise
    (one call each, not a class statement: a class body is a code object in a board's heap)."""
    return type(name, (base,), {"kind": kind})


# A received HDLC frame is unusable (IEC 62056-46 clause 8.4). kinds: bad-hcs, bad-fcs,
# truncated, too-long, other-address, bad-format, bad-control.
FrameError = _kind("FrameError", DlmsError, "bad-frame")
# The HDLC link failed: no-answer, link-refused (DM), frame-rejected (FRMR), link-lost,
# sequence (N(S)/N(R) out of order).
LinkError = _kind("LinkError", DlmsError, "link")
# The meter did not answer within the response timeout after all retries.
NoAnswer = _kind("NoAnswer", LinkError, "no-answer")
# Security suite 0 failure (Green Book 9.2.7). kinds: auth-tag (GCM tag mismatch / wrong
# key / tampered), replay (invocation counter not increasing), meter-proof (HLS f(CtoS)
# does not verify), counter-unavailable (no usable invocation counter), system-title, key.
SecurityError = _kind("SecurityError", DlmsError, "security")
# A malformed or unexpected APDU: malformed, unexpected, invoke-id, too-long.
ApduError = _kind("ApduError", DlmsError, "malformed")
# The meter refused the association (AARE result/diagnostic) or HLS failed:
# association-rejected, auth-failed.
AssociationError = _kind("AssociationError", DlmsError, "association-rejected")
# The meter answered a service with an error: action-result, data-access-result,
# exception-response, confirmed-service-error. ``code`` is the DLMS code.
ServiceError = _kind("ServiceError", DlmsError, "service")
# A token typed by a person is not a valid STS token (IEC 62055-41): token-format,
# token-range, encoding.
TokenError = _kind("TokenError", DlmsError, "token-format")
# A setting is missing or invalid; the device refuses to send rather than guess.
ConfigError = _kind("ConfigError", DlmsError, "config")
