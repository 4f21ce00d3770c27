"""The association phase of a :class:`udlms.client.session.Session` (IEC 62056-5-3 /
Green Book §9.3): AARQ/AARE with the xDLMS InitiateRequest (ciphered for HLS-GMAC), then
HLS pass 3/4 (§9.2.7.4). Loaded by ``Session.open`` and forgotten when it returns, with
:mod:`udlms.cosem.acse`: on MicroPython their code leaves the heap once the association
stands."""

from udlms.cosem import apdu
from udlms.errors import (
    ApduError,
    AssociationError,
    ConfigError,
    SecurityError,
    ServiceError,
)
from udlms.port import const, forget

_MECH_LLS = const(1)
_MECH_GMAC = const(5)
_ASSOCIATION_LN = const(15)


def associate(sess):
    """AARQ/AARE (Green Book §9.3.2) and, for HLS-GMAC, pass 3/4: ``sess`` (a Session)
    is associated (and authenticated) when this returns."""
    from udlms.cosem import acse  # this phase only: forgotten once the association stands

    s = sess.settings
    init = acse.initiate_request(conformance=s.conformance, max_pdu=s.max_pdu)
    auth_value = None
    title = None
    if s.mechanism == _MECH_GMAC:
        from udlms.crypto import security

        if s.ek is None or s.ak is None or s.system_title is None:
            raise ConfigError("HLS-GMAC needs ek, ak and system_title", "config")
        if sess.counter is None:
            raise SecurityError("no invocation counter: resync from the meter's frame "
                                "counter first", "counter-unavailable")
        sess.sec = security.Security(s.ek, s.ak, s.system_title, sess.counter,
                                     sc=s.security)
        auth_value = s.ctos or security.new_challenge(8)
        title = s.system_title
        user_info = sess.sec.protect(init, 0x21)
    elif s.mechanism == _MECH_LLS:
        if not s.password:
            raise ConfigError("LLS needs a password", "config")
        auth_value = s.password
        user_info = init
    else:
        user_info = init
    req = acse.aarq(ciphered=sess.sec is not None, mechanism=s.mechanism,
                    calling_title=title, auth_value=auth_value, user_info=user_info)
    resp = sess.link.request(req)
    if len(resp) and resp[0] == apdu.EXCEPTION_RESPONSE:  # refused before any AARE
        from udlms import results

        raise results.aarq_exception(apdu.parse_response(resp),
                                     getattr(sess.sec, "last_ic", None))
    aare = acse.parse_aare(resp)
    if aare.result != 0:
        from udlms import results

        raise AssociationError(results.aare_reason(aare, sess.sec is not None),
                               "association-rejected",
                               aare.diagnostic[1] if aare.diagnostic else None)
    sess._associated = True
    info = aare.user_info
    if info is None:
        raise ApduError("AARE carries no InitiateResponse", "malformed")
    if sess.sec is not None:
        if aare.responding_title is None:
            raise SecurityError("AARE has no responding-AP-title: cannot decipher the "
                                "meter's responses", "system-title")
        sess.sec.server_title = bytes(aare.responding_title)
        info = sess.sec.unprotect(info)
    if len(info) and info[0] == apdu.CONFIRMED_SERVICE_ERROR:  # InitiateRequest refused
        from udlms import results

        r = apdu.parse_response(info)
        raise ServiceError(results.response_text(r), r.kind, r.result)
    ir = acse.parse_initiate_response(info)
    stoc = aare.auth_value
    aare = acse = None  # acse's last objects: on MicroPython its code now leaves the heap
    forget("udlms.cosem.acse")
    sess.server_max_pdu = ir["max_pdu"]
    sess.conformance = ir["conformance"]
    if sess.sec is not None:  # the RLRQ carries it ciphered again (Green Book §9.3.3)
        sess._init = init
    if s.mechanism == _MECH_GMAC:
        if stoc is None:
            raise AssociationError("meter sent no challenge (StoC) for HLS-GMAC",
                                   "auth-failed")
        # HLS pass 3/4 (Green Book §9.2.7.4): send f(StoC), check the meter's f(CtoS).
        # Both travel as A-XDR octet-strings of 17 bytes (09 11 ...), coded here so that
        # axdr is not loaded during the association; the object is the current
        # Association LN, 0.0.40.0.0.255.
        proof = sess.sec.f_stoc(bytes(stoc))
        try:
            data = sess.action(_ASSOCIATION_LN, b"\x00\x00\x28\x00\x00\xff", 1,
                               bytes((9, len(proof))) + proof)
        except ServiceError as e:  # pass 4 refused: an association problem, not a token one
            what = e.message  # e.g. an exception-response
            if e.kind == "action-result" and e.code is not None:
                from udlms import results

                what = "%s (%d)" % (results.action_result(e.code)[0], e.code)
            raise AssociationError("meter refused our HLS-GMAC reply f(StoC) (%s): the "
                                   "association was not authenticated: check EK/AK, system "
                                   "title and invocation counter" % what, "auth-failed",
                                   e.code)
        if data is None:
            raise AssociationError("meter returned no f(CtoS): cannot verify it is the "
                                   "right meter", "auth-failed")
        if len(data) < 2 or data[0] != 9 or data[1] > 127 or len(data) != 2 + data[1]:
            raise AssociationError("meter's f(CtoS) is not an octet-string", "auth-failed")
        sess.sec.verify_ctos(auth_value, data[2:])
