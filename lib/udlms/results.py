"""DLMS result codes in plain words (IEC 62056-5-3 §8: Data-Access-Result,
Action-Result, ACSE diagnostics, ExceptionResponse, ServiceError).

Each lookup returns ``(name, message, hint)``: the standard's name, what it means for
the person at the meter, and a short next step ("" when there is none).
"""

from udlms.cosem.names import (_row, apdu_name, service_error_name,  # noqa: F401
                               service_name)
from udlms.port import const

# _FULL: 0 in the device build (tools/build/msgtable.py): what only the PC's trace
# decoder asks for is left out of the board's .mpy
_FULL = const(1)

# Tables are single strings (one record a line, fields split by |): on MicroPython a
# string costs a fraction of the RAM a tuple of tuples does.


# code|name|message|hint  (Data-Access-Result and Action-Result share the numbering)
_RESULTS = (
    '0|success|the meter did it|\n'
    "1|hardware-fault|the meter reports a hardware fault or could not handle the"
    " request|check the keys, invocation counter and meter\n"
    '2|temporary-failure|the meter is busy or temporarily unable|try again later\n'
    "3|read-write-denied|this association may not access that item|check the client"
    " address and its access rights\n"
    '4|object-undefined|the meter has no such object|check the OBIS code and class\n'
    '9|object-class-inconsistent|the object exists but with another class|check the class id\n'
    "11|object-unavailable|the object is not available in this association|check the"
    " client address and OBIS code\n"
    "12|type-unmatched|meter rejected the token's encoding or length: check the token"
    " encoding setting|check token encoding\n"
    "13|scope-of-access-violated|the request is outside this association's rights|use a"
    " client with access (e.g. management client)\n"
    '14|data-block-unavailable|the meter cannot give that data block|retry the read\n'
    '15|long-action-aborted|the meter aborted a long get/action|retry\n'
    '16|no-long-action-in-progress|there is no long get/action to continue|retry\n'
    '17|long-set-aborted|the meter aborted a long set|retry\n'
    '18|no-long-set-in-progress|there is no long set to continue|retry\n'
    '19|data-block-number-invalid|the data block number is wrong|retry\n'
    "250|other-reason|the meter refused without giving a reason|check the token and the"
    " meter's state\n"
)


# Action-Result 15/16 are long-action-*, Data-Access-Result 15/16 long-get-*
_DAR_NAMES = (
    '15|long-get-aborted\n'
    '16|no-long-get-in-progress\n'
)


# acse-service-user diagnostics
_DIAG_USER = (
    '0|null|no diagnostic|\n'
    "1|no-reason-given|the meter refused without a reason|check client address, keys and"
    " security settings\n"
    "2|application-context-name-not-supported|the meter does not support this"
    " application context (ciphered or not)|check the security setting (ciphering"
    " on/off)\n"
    "3|calling-AP-title-not-recognized|the meter does not know our system title|check"
    " the system title\n"
    '4|calling-AP-invocation-identifier-not-recognized|calling AP invocation id not recognised|\n'
    "5|calling-AE-qualifier-not-recognized|calling AE qualifier not recognised|check the"
    " client certificate/system title\n"
    '6|calling-AE-invocation-identifier-not-recognized|calling AE invocation id not recognised|\n'
    '7|called-AP-title-not-recognized|called AP title not recognised|\n'
    '8|called-AP-invocation-identifier-not-recognized|called AP invocation id not recognised|\n'
    '9|called-AE-qualifier-not-recognized|called AE qualifier not recognised|\n'
    '10|called-AE-invocation-identifier-not-recognized|called AE invocation id not recognised|\n'
    "11|authentication-mechanism-name-not-recognised|the meter does not support that"
    " authentication mechanism|check the authentication setting (none/LLS/HLS-GMAC)\n"
    "12|authentication-mechanism-name-required|the meter needs authentication|set an"
    " authentication mechanism\n"
    "13|authentication-failure|the meter did not accept our credentials|check the"
    " password or keys (EK/AK) and system title\n"
    '14|authentication-required|the meter asks for HLS authentication (normal for HLS pass 1/2)|\n'
)


_DIAG_PROVIDER = (
    '0|null|no diagnostic|\n'
    "1|no-reason-given|the meter's ACSE refused without a reason|\n"
    '2|no-common-acse-version|the meter speaks another ACSE version|\n'
)


_STATE_ERRORS = (
    '1|service-not-allowed\n'
    '2|service-unknown\n'
)


_EXC_SERVICE = (
    '1|operation-not-possible|the meter cannot do that now|\n'
    "2|service-not-supported|the meter does not support that service|check"
    " ciphering/conformance settings\n"
    '3|other-reason|the meter refused the request|\n'
    '4|pdu-too-long|the request is larger than the meter accepts|lower the max PDU size\n'
    "5|deciphering-error|the meter could not decipher our request|check the keys (EK/AK)"
    " and system title\n"
    "6|invocation-counter-error|the meter has seen a higher invocation counter|resync"
    " the invocation counter from the meter\n"
)




# ServiceError CHOICE (IEC 62056-5-3): index|name|value names by number


# choice|value|hint for the confirmed-service-errors people meet
_CSE_HINTS = (
    '0|6|check the keys (EK/AK), system title and whether a dedicated key is used\n'
    '6|1|the meter wants a newer DLMS version\n'
    '6|2|check the conformance setting\n'
    '6|3|raise the max PDU size\n'
    '6|4|check client address, security and conformance settings\n'
    '5|4|check the client address and its access rights\n'
    '5|1|use a client with access rights\n'
)


def _lookup(table, code, what):
    r = _row(table, code)
    if r is None:
        return ("%s-%d" % (what, code), "the meter answered with %s %d, which udlms does "
                "not know" % (what, code), "")
    return r[1], r[2], r[3]


def action_result(code):
    """Action-Result -> (name, message, hint)."""
    return _lookup(_RESULTS, code, "action-result")


def data_access_result(code):
    """Data-Access-Result -> (name, message, hint)."""
    name, msg, hint = _lookup(_RESULTS, code, "data-access-result")
    r = _row(_DAR_NAMES, code)
    return (r[1] if r else name), msg, hint


if _FULL:
    def association_result(code):
        """AARE result -> (name, message)."""
        r = _row(
            '0|accepted|the meter accepted the association\n'
            '1|rejected-permanent|the meter refused the association\n'
            '2|rejected-transient|the meter refused the association for now\n', code)
        if r is None:
            return "result-%d" % code, "unknown association result %d" % code
        return r[1], r[2]


def association_diagnostic(source, value):
    """AARE result-source-diagnostic -> (name, message, hint). ``source`` 1 (or 0, or
    "user") = acse-service-user, 2 (or "provider") = acse-service-provider."""
    if source == 2 or source == "provider":
        return _lookup(_DIAG_PROVIDER, value, "acse-service-provider")
    return _lookup(_DIAG_USER, value, "acse-service-user")


def exception_response(state, service):
    """ExceptionResponse (D8) state-error, service-error -> (name, message, hint)."""
    r = _row(_STATE_ERRORS, state)
    name, msg, hint = _lookup(_EXC_SERVICE, service, "service-error")
    return "%s/%s" % (r[1] if r else "state-error-%d" % state, name), msg, hint




def confirmed_service_error(service, choice, value):
    """ConfirmedServiceError (0E): service (1 initiate, 5 read, 6 write, ...), the
    ServiceError choice and its value -> (name, message, hint)."""
    svc = service_name(service)
    err = service_error_name(choice, value)
    r = _row(_CSE_HINTS, "%d|%d" % (choice, value))
    return ("%s: %s" % (svc, err), "the meter refused the %s service: %s" % (svc, err),
            r[2] if r else "")


def response_text(r):
    """Plain words for an ``apdu.Response`` of kind exception / confirmed-service-error."""
    if r.kind == "exception":
        name, msg, hint = exception_response(r.state, r.service)
        if r.data is not None:
            hint = "%s (meter expects invocation counter >= %d)" % (
                hint or msg, int.from_bytes(bytes(r.data), "big"))
    else:
        name, msg, hint = confirmed_service_error(r.service, r.choice, r.result)
    what = "exception-response" if r.kind == "exception" else r.kind
    return "meter sent %s %s: %s" % (what, name, hint or msg)


def aarq_exception(r, ic):
    """The error for an AARQ answered with an exception-response ``r`` (IEC 62056-5-3
    ExceptionResponse; issue 24) instead of an AARE; ``ic`` the AARQ's invocation counter.
    invocation-counter-error [6] -> SecurityError "counter-stale" whose ``code`` is the
    counter the meter expects (None when it names none); deciphering-error [5] ->
    AssociationError "auth-failed" (keys or system title); others "association-rejected"."""
    from udlms.errors import AssociationError, SecurityError

    name, msg, hint = exception_response(r.state, r.service)
    if r.service == 6:
        want = int.from_bytes(bytes(r.data), "big") if r.data is not None else None
        return SecurityError("meter refused our invocation counter %s (exception-response "
                             "%s%s): %s" % (ic, name, ", it expects %d" % want
                                            if want is not None else "", hint),
                             "counter-stale", want)
    if r.service == 5:
        return AssociationError("meter could not decipher our AARQ (exception-response "
                                "%s): check EK/AK and system title" % name, "auth-failed", 5)
    return AssociationError("meter refused the association with exception-response %s: %s"
                            % (name, hint or msg), "association-rejected", r.service)


def release_refused(resp):
    """The note for a release the meter refused (Green Book §9.3.3): an RLRE with a
    reason other than normal, or another answer (an exception-response by name)."""
    from udlms.cosem import apdu
    from udlms.errors import ApduError

    if len(resp) and resp[0] == 0x63:
        try:
            why = "RLRE reason %d" % apdu.parse_rlre(resp)
        except ApduError as e:  # seen: an RLRE whose user-information lengths run short
            if bytes(resp[2:5]) == b"\x80\x01\x00":
                return ("the meter released the association (reason normal) but its RLRE "
                        "is malformed (%s)" % e.message)
            why = "a malformed RLRE: %s" % e.message
    elif len(resp) and resp[0] == 0xD8:
        why = response_text(apdu.parse_response(resp))
    else:
        why = "it answered %s" % (apdu_name(resp[0]) if len(resp) else "nothing")
    return "the meter refused the release (%s); the link was disconnected instead" % why


def aare_reason(aare, ciphered):
    """One plain sentence for a refused association (Green Book §9.3.2, AARE);
    ``ciphered``: the AARQ carried a ciphered InitiateRequest."""
    src, val = aare.diagnostic if aare.diagnostic else (1, 1)
    name, msg, hint = association_diagnostic(src, val)
    if aare.user_info:
        from udlms.cosem.apdu import parse_response
        from udlms.errors import DlmsError

        try:
            r = parse_response(aare.user_info)
        except DlmsError:
            r = None
        if r is not None and r.kind == "confirmed-service-error":
            cname, cmsg, chint = confirmed_service_error(r.service, r.choice, r.result)
            if ciphered and r.choice == 0 and r.result == 6:
                return ("meter could not decipher our request (%s): check the keys "
                        "(EK/AK), system title and invocation counter" % cname)
            return "meter refused the association: %s: %s" % (cname, chint or cmsg)
    text = "meter refused the association: %s (%d)" % (name, val)
    if src == 1 and val in (1, 13) and ciphered:
        hint = "check the keys (EK/AK), system title and invocation counter"
    return text + (": " + hint if hint else "")


def explain(exc):
    """One line for a display or REPL, e.g.
    "REJECTED: meter says type-unmatched (12): check token encoding". The word before the
    colon is by the error's class, tried in order (a subclass before its base), then the
    alternatives some kinds take."""
    from udlms import errors as E

    if not isinstance(exc, E.DlmsError):
        return "ERROR: %s" % (exc,)
    kind = exc.kind
    code = exc.code
    i = 0
    for c in (E.TokenError, E.NoAnswer, E.FrameError, E.LinkError, E.SecurityError,
              E.AssociationError, E.ServiceError, E.ApduError, E.ConfigError):
        if isinstance(exc, c) or i == 1 and kind == "no-answer":
            break
        i += 1
    if (i == 4 and kind in ("replay", "counter-unavailable")
            or i == 5 and kind != "auth-failed" and code not in (11, 12, 13)
            or i == 6 and kind not in ("action-result", "data-access-result")):
        i += 6  # SecurityError -> COUNTER, AssociationError -> REFUSED, ServiceError -> METER ERROR
    p = ("BAD TOKEN|NO ANSWER|LINE ERROR|LINK FAILED|AUTH FAILED|AUTH FAILED|REJECTED|"
         "PROTOCOL|SETTINGS|ERROR|COUNTER|REFUSED|METER ERROR").split("|")[i]
    if kind in ("action-result", "data-access-result") and code is not None:
        f = action_result if kind == "action-result" else data_access_result
        name, msg, hint = f(code)
        return "%s: meter says %s (%d): %s" % (p, name, code, hint or msg)
    msg = exc.message
    if p == "NO ANSWER" and "check" not in msg:
        msg += ": check probe/baud"
    return "%s: %s" % (p, msg)
