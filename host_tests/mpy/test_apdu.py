"""MicroPython lane: apdu, acse, results (vectors from spec.md and the gurux
goldens). Each test imports what it needs and unloads it afterwards, so the whole script
runs in a 64 KB heap with the modules compiled from source."""

import binascii
import gc
import sys

from mpytest import eq, main, raises, test

from udlms import results
from udlms.errors import ApduError, ServiceError


def _unload():
    from udlms.port import forget

    for k in sorted(sys.modules, reverse=True):  # a package's modules before the package
        if k.startswith("udlms.") and k not in ("udlms.errors", "udlms.port"):
            forget(k)
    gc.collect()


def h(s):
    return binascii.unhexlify(s.replace(" ", ""))


def hx(b):
    return binascii.hexlify(bytes(b)).decode().upper()


@test
def aarq_bytes():
    _unload()
    from udlms.cosem import apdu

    init = apdu.initiate_request(0x001E1D, 512)
    eq(hx(init), "01000000065F1F0400001E1D0200")
    eq(hx(apdu.aarq(False, 0, user_info=init)),
       "601DA109060760857405080101BE10040E01000000065F1F0400001E1D0200")
    eq(hx(apdu.aarq(False, 1, auth_value=b"12345678", user_info=init)),
       "6036A1090607608574050801018A0207808B0760857405080201AC0A80083132333435363738"
       "BE10040E01000000065F1F0400001E1D0200")
    spec = h("6055A109060760857405080103A60A04084D4D4D00000000018A0207808B0760857405080205"
             "AC0A80084B35366956616759BE230421211F3000000000C0505B89E53A178DB31D8D5ECA7E"
             "57BA5324542E2BDDEC2710D3")
    eq(apdu.aarq(True, 5, h("4D4D4D0000000001"), b"K56iVagY", spec[-33:]), spec)


@test
def requests():
    _unload()
    from udlms.cosem import apdu

    o = h("0000132800FF")
    eq(hx(apdu.get_request(0xC1, 115, o, 6)), "C001C100730000132800FF0600")
    if hasattr(apdu, "set_request"):  # the PC build's (a board's session builds the
        # next-block request itself, and never sets: session_get_blocks checks its bytes)
        eq(hx(apdu.get_request_next(0xC1, 2)), "C002C100000002")
        eq(hx(apdu.set_request(0xC1, 1, h("0000600100FF"), 2, h("06000004D2"))),
           "C101C100010000600100FF020006000004D2")
    eq(hx(apdu.rlrq()), "6203800100")


@test
def session_get_blocks():
    """Session.get follows data blocks with get-request-next ``C0 02 iid bbbbbbbb``."""
    _unload()
    from udlms.client import session

    class Link:
        sent = []
        answers = [h("C402C1000000000100 03 010203"), h("C402C1010000000200 02 0405")]

        def request(self, data):
            self.sent.append(hx(data))
            return self.answers[len(self.sent) - 1]

    sess = session.Session(None, session.Settings(mechanism=0), link=Link())
    eq(sess.get(1, h("0000600100FF"), 2), h("0102030405"))
    eq(Link.sent, ["C001C100010000600100FF0200", "C002C100000001"])


@test
def aare_parse():
    _unload()
    from udlms.cosem import apdu

    a = apdu.parse_aare(h("6142A109060760857405080103A203020100A305A10302010EA40A04084D4D4D"
                          "0000BC614E88020780890760857405080285AA0A8008503677524A323146"
                          "BE0404022800"))
    eq(a.result, 0)
    eq(a.diagnostic, (1, 14))  # acse-service-user
    eq(a.mechanism, 5, "Ziv 0x85")
    eq(a.responding_title, h("4D4D4D0000BC614E"))
    eq(a.auth_value, b"P6wRJ21F")
    eq(a.user_info, h("2800"))
    a = apdu.parse_aare(h("6117A109060760857405080103A203020101A305A10302010D"))
    eq((a.result, a.diagnostic, a.user_info), (1, (1, 13), None))
    raises(ApduError, apdu.parse_aare, h("6182FFFFA1"))
    ir = apdu.parse_initiate_response(h("0800065F1F0400001E1D02000007"))
    eq(ir, {"version": 6, "conformance": 0x1E1D, "max_pdu": 512, "vaa": 7})
    # (0E inside the AARE -> ServiceError is covered by host_tests/test_apdu.py: acse, apdu
    # and results together do not fit a 64 KB heap when compiled from source)


@test
def responses():
    _unload()
    from udlms.cosem import apdu

    r = apdu.parse_response(h("C401C10002021603040800"))
    eq((r.kind, r.invoke, r.result), ("get", 0xC1, 0))
    eq(bytes(r.data), h("02021603040800"))
    r = apdu.parse_response(h("C402C1010000000200040301 0203"))
    eq(r.block, (2, True))
    eq(bytes(r.data), h("03010203"))
    r = apdu.parse_response(h("C701C10C00"))
    eq((r.kind, r.result, r.data), ("action", 12, None))
    r = apdu.parse_response(h("C701C100010009111001234567FE1466AFB3DBCD4F9389E2B7"))
    eq(bytes(r.data), h("09111001234567FE1466AFB3DBCD4F9389E2B7"))
    r = apdu.parse_response(h("D8010600000005"))
    eq((r.kind, r.state, r.result), ("exception", 1, 6))
    r = apdu.parse_response(h("0E060006"))
    eq(r.kind, "confirmed-service-error")
    eq(results.response_text(r), "meter sent confirmed-service-error write: application-reference "
       "deciphering-error: check the keys (EK/AK), system title and whether a dedicated "
       "key is used")
    b = h("C701C100010009111001234567FE1466AFB3DBCD4F9389E2B7")
    for n in list(range(4)) + list(range(5, 7)):
        raises(ApduError, apdu.parse_response, b[:n])
    eq(apdu.apdu_name(0xCB), "glo-action-request")


@test
def result_texts():
    _unload()
    from udlms import results

    eq(results.action_result(12)[1], "meter rejected the token's encoding or length: "
       "check the token encoding setting")
    eq(results.explain(ServiceError("x", "action-result", 12)),
       "REJECTED: meter says type-unmatched (12): check token encoding")
    eq(results.association_diagnostic(1, 14)[0], "authentication-required")
    eq(results.exception_response(1, 5)[0], "service-not-allowed/deciphering-error")


main()
