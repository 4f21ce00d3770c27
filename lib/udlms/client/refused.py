"""What a meter refused during a session, raised in words (IEC 62056-5-3 / Green Book §9.3.2
AARE, §9.4 responses, §9.2.7.4 HLS pass 4), and a refused Token Gateway ``enter`` (IC 115):
the failing half of :mod:`udlms.client.session` and :mod:`udlms.client.token`, imported only
when the meter says no, so a session that goes well never holds it in a board's heap (issue
26). The words are :mod:`udlms.results`'."""

from udlms.errors import (ApduError, AssociationError, DlmsError, SecurityError, ServiceError,
                          TokenError)


def aarq(resp, sec):
    """An AARQ answered with an exception-response ``resp`` (no AARE; ``sec`` the HLS-GMAC
    context, if any, whose last invocation counter the AARQ carried)."""
    from udlms import results
    from udlms.cosem import apdu

    raise results.aarq_exception(apdu.parse_response(resp), sec and sec.last_ic)


def aare(session, a, sec):
    """An AARE ``a`` that rejects the association (result other than accepted, §9.3.2), or
    accepts it (``session`` is then associated: its close() releases it) without an
    InitiateResponse or, ciphered (``sec``), without the meter's system title."""
    if a.result != 0:
        from udlms import results

        raise AssociationError(results.aare_reason(a, sec), "association-rejected",
                               a.diagnostic[1] if a.diagnostic else None)
    session._init = b""  # associated
    if a.user_info is None:
        raise ApduError("AARE carries no InitiateResponse", "malformed")
    raise SecurityError("AARE has no responding-AP-title: cannot decipher the meter's "
                        "responses", "system-title")


def request(r, invoke, kind):
    """A parsed response ``r`` that fails the request with invoke-id-and-priority ``invoke``
    (Green Book §9.4): an exception-response or confirmed-service-error, an invoke-id of
    another request, or (``kind``: "get", "set", "action") a result other than success.
    ``r`` may be the APDU still (a confirmed-service-error in place of an InitiateResponse)."""
    if isinstance(r, (bytes, bytearray, memoryview)):
        from udlms.cosem import apdu

        r = apdu.parse_response(r)
    if r.invoke is not None and (r.invoke ^ invoke) & 0x0F:
        raise ApduError("response invoke-id %d does not match request %d"
                        % (r.invoke & 0x0F, invoke & 0x0F), "invoke-id")
    from udlms import results

    if r.invoke is None:
        raise ServiceError(results.response_text(r), r.kind, r.result)
    if kind == "action":
        name, msg, hint = results.action_result(r.result)
        kind = "action-result"
    else:
        name, msg, hint = results.data_access_result(r.result)
        kind = "data-access-result"
    raise ServiceError("meter says %s (%d): %s" % (name, r.result, hint or msg), kind,
                       r.result)


def hls(x):
    """HLS-GMAC pass 3/4 failed (§9.2.7.4), as an AssociationError "auth-failed": ``x`` None,
    the AARE had no challenge (StoC); the ACTION's ServiceError, or its parsed response whose
    result is not success; 0, the response had no return-parameters (no f(CtoS)); bytes, its
    return-parameters are not an A-XDR octet-string. False: no invocation counter (before
    the AARQ), a SecurityError "counter-unavailable"."""
    if x is False:
        raise SecurityError("no invocation counter: resync from the meter's frame counter "
                            "first", "counter-unavailable")
    if x is None:
        raise AssociationError("meter sent no challenge (StoC) for HLS-GMAC", "auth-failed")
    if isinstance(x, int):
        raise AssociationError("meter returned no f(CtoS): cannot verify it is the right "
                               "meter", "auth-failed")
    if isinstance(x, (bytes, bytearray, memoryview)):
        raise AssociationError("meter's f(CtoS) is not an octet-string", "auth-failed")
    if not isinstance(x, ServiceError):  # said as the exception-response's ServiceError is
        from udlms import results

        x = ServiceError("%s (%d)" % (results.action_result(x.result)[0], x.result), None,
                         x.result)
    raise AssociationError("meter refused our HLS-GMAC reply f(StoC) (%s): the association "
                           "was not authenticated: check EK/AK, system title and invocation "
                           "counter" % x.message, "auth-failed", x.code)


def enter(session, obis6, data, action, result, status_code):
    """Token Gateway ``enter`` failed with action-result ``action`` (IC 115 method 1): the
    verdict is token_status's (attribute 6) when the gateway's last token (attribute 2) is
    ours, ``data``, and says 3..7, else the action's. ``result`` and ``status_code``:
    :mod:`udlms.client.token`'s TokenResult and status_code (:func:`enter_token`; this module
    does not import it: no import cycle)."""
    ours = False
    code = None
    try:
        try:
            ours = session.get(115, obis6, 2) == data  # Token Gateway (IC 115) token
        except ServiceError:  # the last token is not readable: status is not trusted
            pass
        code = status_code(session.get(115, obis6, 6))  # token_status
    except DlmsError:  # not readable, or the line failed: the action's verdict stands
        pass
    if ours and code is not None and 3 <= code <= 7:
        return result(code == 3, "accepted" if code == 3 else "refused", code, action)
    return result(False, None, code, action, ours)


def token(b, i, d):
    """The TokenError for a token typed (:func:`udlms.client.token.parse`, IEC 62055-41: 20
    digits below 2^66): ``b`` the bytes typed, ``i`` the 1-based position of the character
    that is no digit; ``b`` None: ``d`` the digits, not 20 or too large; ``b`` and ``d`` a
    tuple of encodings: ``i`` is not one of them (:func:`udlms.client.token.encode`)."""
    if isinstance(d, tuple):
        raise TokenError("unknown token encoding %r: use one of %s" % (i, "/".join(d)),
                         "encoding")
    if b is not None:
        raise TokenError("a token has only digits, found %r at position %d: retype the 20 "
                         "digits" % (b[i - 1:].decode()[0], i), "token-format")
    if len(d) != 20:
        raise TokenError("a token has 20 digits, found %d: check for a missing or extra digit"
                         % len(d), "token-format")
    raise TokenError("this number is too large to be a token (largest is "
                     "73786976294838206463): check for a mistyped digit", "token-range")
