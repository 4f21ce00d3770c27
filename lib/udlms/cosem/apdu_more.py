"""The answers that are not a GET/SET/ACTION response (IEC 62056-5-3 §8 / Green Book §9.4):
an exception-response (D8), a confirmed-service-error (0E), or an APDU of another kind.
:func:`udlms.cosem.apdu.parse_response` imports this only when it meets one, so a session the
meter does not refuse never holds it in a board's heap (issue 26)."""

from udlms.errors import ApduError


def other(b, tag, response, need):
    """``b`` (a memoryview, tag ``tag``) as a ``response`` (apdu.Response) of kind
    "exception" or "confirmed-service-error"; ApduError "unexpected" for any other APDU.
    ``need``: apdu's length check (passed in: this module does not import apdu)."""
    if tag == 0xD8:  # exception-response: state-error, service-error [, expected IC]
        r = response(tag, "exception")
        need(b, 1, 1, r.kind)
        r.state = b[1]
        r.service = r.result = c = b[2] if len(b) > 2 else 0
        if c == 6 and len(b) >= 7:
            r.data = b[3:7]
        return r
    if tag == 0x0E:  # confirmed-service-error: service, ServiceError choice, value
        r = response(tag, "confirmed-service-error")
        need(b, 1, 3, r.kind)
        r.service, r.choice, r.result = b[1], b[2], b[3]
        return r
    from udlms.cosem import names

    if 0xC8 <= tag <= 0xD7 or 0xDB <= tag <= 0xDD or 0x21 <= tag <= 0x5F:
        raise ApduError("%s is ciphered: decipher it before parsing" % names.apdu_name(tag),
                        "unexpected")
    raise ApduError("%s is not a get/set/action response" % names.apdu_name(tag),
                    "unexpected")


def unexpected(b, w, tag):
    """ApduError "unexpected" for ``b``, not the APDU wanted: ``w`` "AARE" or "RLRE" with
    its ``tag`` (parse_aare), None for an InitiateResponse, or the response type (an int)
    other than normal or with-datablock of the response ``tag`` (with-list)."""
    from udlms.cosem import names

    if isinstance(w, int):
        raise ApduError("%s type %d (with-list) is not supported" % (names.apdu_name(tag), w),
                        "unexpected")
    if w is None:
        raise ApduError("expected an InitiateResponse (08), got %s"
                        % (names.apdu_name(b[0]) if len(b) else "nothing"), "unexpected")
    if not len(b):
        raise ApduError("expected %s, got nothing" % w, "unexpected")
    raise ApduError("expected %s (%02X), got %s" % (w, tag, names.apdu_name(b[0])),
                    "unexpected")
