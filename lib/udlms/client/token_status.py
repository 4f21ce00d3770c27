"""Token Gateway ``token_status`` (IC 115 attribute 6, Blue Book 4.6.x) decoded in any
shape (:func:`decode`; :func:`udlms.client.token.status_code` reads the usual two) and in
words: what the display and the CLI say about a token's fate. A module of its own, loaded
when a verdict is shown, so that a delivered token does not load all of
:mod:`udlms.results`. It also words a whole verdict (:func:`message`,
``TokenResult.message``), out of the module a session holds while it runs, and encoding
``auto``'s wrong forms (issue 24: what a meter said to each, :func:`every_form`, for the
verdict shown once the session is over; the search itself is
:mod:`udlms.client.token_auto`)."""

# status_code (0..8)|name|plain message, one a line: a record table (in the device build an
# offset in udlms/messages.txt, its lines split by \x1e there: tools/build/msgtable.py)
_WORDS = (
    "format-ok|token format OK\n"
    "authentication-ok|token authenticated OK\n"
    "validation-ok|token validated OK\n"
    "execution-ok|token accepted and applied\n"
    "format-failure|meter says the token format is wrong: check the digits\n"
    "authentication-failure|token is not for this meter or was mistyped\n"
    "validation-failure|token refused: already used, expired or out of order\n"
    "execution-failure|meter could not apply the token\n"
    "received|token received, not yet processed"
)


def decode(data):
    """token_status's A-XDR bytes (any shape :mod:`udlms.cosem.axdr` reads) -> ``(code,
    bits)``: what :func:`udlms.client.token.status_code` does not read by itself."""
    from udlms.cosem import axdr

    return decode_status(axdr.decode(data)[0])


def decode_status(value):
    """Decoded token_status (structure{enum status_code, bit-string data_value}) ->
    ``(code, bits)``; bits is an ``axdr.BitString`` or None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value, None
    if isinstance(value, (tuple, list)) and len(value) >= 1 and isinstance(value[0], int):
        return value[0], (value[1] if len(value) > 1 else None)
    from udlms.errors import ApduError

    raise ApduError("token_status is not structure{enum, bit-string}", "unexpected")


def text(code):
    """token_status status_code (0..8) -> ``(name, plain message)``."""
    if 0 <= code < 9:
        from udlms.errors import _text

        return tuple(_text(_WORDS).replace("\x1e", "\n").split("\n")[code].split("|"))
    return "status-%d" % code, "meter reports unknown token status %d" % code


def attr(r, name):
    """``TokenResult``'s looked-up attributes: ``message``, ``status_name`` and a ``kind``
    that is the action result's name (e.g. "type-unmatched")."""
    if name == "message":
        return message(r)
    if name == "status_name":
        return None if r.status_code is None else text(r.status_code)[0]
    if name == "kind":
        from udlms.results import action_result

        return action_result(r.action_result)[0]
    raise AttributeError(name)


def message(r):
    """The plain words of a :class:`udlms.client.token.TokenResult` ``r``: the action
    result's when it decided, else token_status's (with the action result beside it)."""
    code = r.action_result
    if code:
        from udlms import results

        name, msg, hint = results.action_result(code)
        if code == 9:  # to an enter: a form or length the gateway does not take (issue 24)
            hint = "the gateway does not take the token in this form: check token encoding"
        if r._kind is None:  # the verdict is the action's
            return "meter says %s (%d): %s" % (name, code, hint or msg)
        beside = " (action result %s (%d))" % (name, code)
    else:
        beside = ""
    if r.status_code is None:
        return "meter took the token (no token_status to confirm)"
    name, msg = text(r.status_code)
    if r.kind == "unknown":
        if r.status_code == 0 and not code:  # meters differ (issue 24, case 3)
            return ("meter stored the token but token_status stayed format-ok (0): "
                    "whether it was applied is unknown; check the meter's credit or "
                    "token_status before entering it again")
        return ("meter has not finished with the token (%s): check token_status later "
                "before entering it again" % name)
    return msg + beside


# -- encoding auto: the wrong forms in words ---------------------------------------------
def words(result):
    """A wrong-form result (:func:`udlms.client.token_auto.wrong_form`) in words:
    ``type-unmatched (12)``, ``object-class-inconsistent (9)``, ``type-unmatched (12) with
    token_status format-failure (4)``."""
    s = str(result)
    a = "type-unmatched (12)" if s[:2] == "12" else "object-class-inconsistent (9)"
    return a + (" with token_status format-failure (4)" if "+" in s else "")


def every_form(tried):
    """The message after a wrong-form answer to every form: the meter's own words, once
    when it said the same to each (IEC 62056-5-3 Action-Result, Blue Book IC 115)."""
    said = []
    forms = each = ""  # (loops: a generator is a code object of its own)
    for a in tried:
        if a[1] not in said:
            said.append(a[1])
        forms += ", " + a[0]
        each += ", %s: %s" % (a[0], words(a[1]))
    if len(said) == 1:
        how = "%s to every token form (%s)" % (words(said[0]), forms[2:])
    else:
        how = "every token form is the wrong one (%s)" % each[2:]
    return ("meter says %s: check the Token Gateway object and the meter's token format"
            % how)
