"""results: code tables checked against gurux-dlms enums; explain() for every error class."""

import pytest

from udlms import errors, results
from udlms.errors import (ApduError, AssociationError, ConfigError, DlmsError, FrameError,
                          LinkError, NoAnswer, SecurityError, ServiceError, TokenError)


def _gurux_enum(mod, cls):
    m = __import__("gurux_dlms.enums." + mod, fromlist=[cls])
    return {int(v): k for k, v in getattr(m, cls).__members__.items()}


def _norm(s):
    return s.replace("-", "").replace("_", "").lower()


def test_type_unmatched_phrase():
    name, msg, hint = results.action_result(12)
    assert name == "type-unmatched"
    assert msg == ("meter rejected the token's encoding or length: check the token "
                   "encoding setting")
    assert hint == "check token encoding"
    assert results.data_access_result(12)[0] == "type-unmatched"


def test_action_and_dar_codes_match_gurux_error_code():
    g = _gurux_enum("ErrorCode", "ErrorCode")
    for code in (0, 1, 2, 3, 4, 9, 11, 12, 13, 14, 15, 16, 17, 18, 19, 250):
        assert code in g, code
        assert not results.data_access_result(code)[0].startswith("data-access-result-")
    want = {0: "success", 1: "hardware-fault", 2: "temporary-failure", 3: "read-write-denied",
            4: "object-undefined", 9: "object-class-inconsistent", 11: "object-unavailable",
            12: "type-unmatched", 13: "scope-of-access-violated", 14: "data-block-unavailable",
            15: "long-action-aborted", 16: "no-long-action-in-progress", 250: "other-reason"}
    for code, name in want.items():
        assert results.action_result(code)[0] == name
    assert results.data_access_result(15)[0] == "long-get-aborted"
    assert results.data_access_result(19)[0] == "data-block-number-invalid"
    name, msg, hint = results.action_result(77)
    assert name == "action-result-77" and "77" in msg


def test_association_tables_match_gurux():
    g = _gurux_enum("SourceDiagnostic", "SourceDiagnostic")
    for code in range(15):
        name = results.association_diagnostic(1, code)[0]
        assert code in g
        if code in (0, 1, 12, 13, 14):
            assert _norm(name).endswith(_norm(g[code]).replace("reguired", "required")
                                        .replace("none", "null"))
    assert results.association_diagnostic(1, 14)[0] == "authentication-required"
    assert results.association_diagnostic(1, 13)[0] == "authentication-failure"
    assert results.association_diagnostic(1, 11)[0] == \
        "authentication-mechanism-name-not-recognised"
    p = _gurux_enum("AcseServiceProvider", "AcseServiceProvider")
    assert results.association_diagnostic(2, 2)[0] == "no-common-acse-version" and 2 in p
    assert results.association_diagnostic("provider", 1)[0] == "no-reason-given"
    r = _gurux_enum("AssociationResult", "AssociationResult")
    assert [results.association_result(i)[0] for i in (0, 1, 2)] == \
        ["accepted", "rejected-permanent", "rejected-transient"] and sorted(r) == [0, 1, 2]


def test_exception_tables_match_gurux():
    g = _gurux_enum("ExceptionServiceError", "ExceptionServiceError")
    for code, gname in g.items():
        name = results.exception_response(1, code)[0]
        assert _norm(name.split("/")[1]) == _norm(gname), (code, name, gname)
    s = _gurux_enum("StateError", "StateError")
    assert results.exception_response(1, 6)[0] == "service-not-allowed/invocation-counter-error"
    assert results.exception_response(2, 2)[0].startswith("service-unknown")
    assert sorted(s) == [1, 2]
    assert "resync" in results.exception_response(1, 6)[2]


def test_confirmed_service_error_tables_match_gurux():
    import gurux_dlms.enums as E

    for idx, mod in ((0, "ApplicationReference"), (1, "HardwareResource"),
                     (2, "VdeStateError"), (3, "Service"), (4, "Definition"),
                     (5, "Access"), (6, "Initiate"), (7, "LoadDataSet"), (9, "Task")):
        g = _gurux_enum(mod, mod)
        assert hasattr(E, mod) or g
        for value, gname in g.items():
            name = results.service_error_name(idx, value).split(" ")[1]
            if (idx, value) == (5, 2):  # gurux says object-access-invalid
                assert name == "object-access-violated"
                continue
            assert _norm(name).endswith(_norm(gname)), (idx, value, name, gname)
    assert results.confirmed_service_error(6, 0, 6)[0] == \
        "write: application-reference deciphering-error"
    name, msg, hint = results.confirmed_service_error(1, 6, 3)
    assert name == "initiate: initiate pdu-size-too-short" and "PDU" in hint
    assert results.confirmed_service_error(1, 6, 4)[0].endswith("refused-by-the-VDE-Handler")
    assert results.confirmed_service_error(1, 6, 1)[0].endswith("dlms-version-too-low")
    assert results.confirmed_service_error(1, 6, 2)[0].endswith("incompatible-conformance")
    assert "99" in results.confirmed_service_error(1, 42, 99)[0]


@pytest.mark.parametrize("exc,start,contains", [
    (ServiceError("x", "action-result", 12), "REJECTED: meter says type-unmatched (12)",
     "check token encoding"),
    (ServiceError("x", "data-access-result", 3), "REJECTED: meter says read-write-denied (3)",
     "access"),
    (ServiceError("meter sent exception-response ...", "exception", 6), "METER ERROR:",
     "exception"),
    (NoAnswer("meter did not answer", "no-answer"), "NO ANSWER:", "check probe/baud"),
    (FrameError("frame check sequence wrong", "bad-fcs"), "LINE ERROR:", "frame check"),
    (LinkError("meter refused the link (DM)", "link-refused"), "LINK FAILED:", "DM"),
    (SecurityError("tag mismatch: check keys", "auth-tag"), "AUTH FAILED:", "keys"),
    (SecurityError("counter went backwards", "replay"), "COUNTER:", "backwards"),
    (AssociationError("meter refused: authentication-failure (13)", "association-rejected",
                      13), "AUTH FAILED:", "13"),
    (AssociationError("meter refused: application-context-name-not-supported (2)",
                      "association-rejected", 2), "REFUSED:", "context"),
    (AssociationError("bad proof", "auth-failed"), "AUTH FAILED:", "proof"),
    (ApduError("AARE is cut short", "malformed"), "PROTOCOL:", "cut short"),
    (TokenError("a token has 20 digits, found 19", "token-format"), "BAD TOKEN:", "found 19"),
    (ConfigError("HLS-GMAC needs ek", "config"), "SETTINGS:", "ek"),
    (DlmsError("something"), "ERROR:", "something"),
    (ValueError("boom"), "ERROR:", "boom"),
])
def test_explain(exc, start, contains):
    line = results.explain(exc)
    assert line.startswith(start), line
    assert contains in line
    assert "\n" not in line


def test_explain_design_example():
    e = ServiceError("meter says type-unmatched (12): check token encoding", "action-result",
                     12)
    assert results.explain(e) == "REJECTED: meter says type-unmatched (12): check token encoding"
    assert errors  # module imported for its classes
