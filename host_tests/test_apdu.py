"""apdu: byte-exact against gurux-dlms goldens (tools/golden/apdu.py) and spec.md."""

import json
import os

import pytest

from udlms import results
from udlms.cosem import apdu, axdr
from udlms.client import token, token_info
from udlms.errors import ApduError, ServiceError

GOLDEN = os.path.join(os.path.dirname(__file__), "golden")


def _load(name):
    with open(os.path.join(GOLDEN, name)) as f:
        return json.load(f)["vectors"]


def _b(h):
    return None if h is None else bytes.fromhex(h)


REQUESTS = _load("apdu_requests.json")
RESPONSES = _load("apdu_responses.json")


def _build(v):
    a = v["args"]
    fn = v["fn"]
    if fn == "aarq":
        return apdu.aarq(ciphered=a["ciphered"], mechanism=a["mechanism"],
                         calling_title=_b(a["calling_title"]), auth_value=_b(a["auth_value"]),
                         user_info=_b(a["user_info"]))
    if fn == "get_request":
        return apdu.get_request(a["invoke"], a["class_id"], _b(a["obis6"]), a["attr"])
    if fn == "set_request":
        return apdu.set_request(a["invoke"], a["class_id"], _b(a["obis6"]), a["attr"],
                                _b(a["data"]))
    if fn == "enter_request":
        return token_info.enter_request(a["invoke"], a["digits"], a["encoding"])
    if fn == "get_request_next":
        return apdu.get_request_next(a["invoke"], a["block"])
    if fn == "rlrq":
        return apdu.rlrq()
    raise AssertionError(fn)


@pytest.mark.parametrize("v", REQUESTS, ids=[v["name"] for v in REQUESTS])
def test_request_equals_gurux(v):
    assert _build(v).hex().upper() == v["hex"]


def test_aarq_none_and_low_use_our_initiate_request():
    init = apdu.initiate_request(conformance=0x001E1D, max_pdu=512)
    assert init.hex().upper() == "01000000065F1F0400001E1D0200"
    for v in REQUESTS:
        if v["name"] in ("aarq_none", "aarq_low"):
            assert v["args"]["user_info"] == init.hex().upper()


def test_aarq_hls_equals_spec_4d():
    spec = bytes.fromhex(
        "6055A109060760857405080103A60A04084D4D4D00000000018A0207808B0760857405080205"
        "AC0A80084B35366956616759BE230421211F3000000000C0505B89E53A178DB31D8D5ECA7E"
        "57BA5324542E2BDDEC2710D3")
    glo = spec[spec.index(b"\xBE\x23\x04\x21") + 4:]
    got = apdu.aarq(True, 5, bytes.fromhex("4D4D4D0000000001"), b"K56iVagY", glo)
    assert got == spec


def test_enter_request_equals_spec_1():
    want = "C301C100730000132800FF0101091430353731383835343539303139373231313234 31"
    assert token_info.enter_request(0xC1, "05718854590197211241").hex().upper() == \
        want.replace(" ", "")


def test_initiate_request_dedicated_key_spec_4b():
    key = bytes.fromhex("00112233445566778899AABBCCDDEEFF")
    got = apdu.initiate_request(0x007E1F, 1200, dedicated_key=key)
    assert got.hex().upper() == "01011000112233445566778899AABBCCDDEEFF0000065F1F04" \
        "00007E1F04B0"


def test_action_without_data_and_get_with_access():
    o = bytes.fromhex("0000280000FF")
    assert apdu.action_request(1, 15, o, 1).hex() == "c30101000f0000280000ff0100"
    got = apdu.get_request(0xC1, 7, bytes.fromhex("0100630100FF"), 2, access=(1, b"\x02\x00"))
    assert got.hex().upper() == "C001C100070100630100FF02010102 00".replace(" ", "")


def test_aarq_needs_auth_value():
    with pytest.raises(ApduError):
        apdu.aarq(False, 1)


def test_rlrq_with_user_info():
    assert apdu.rlrq(b"\x01\x02").hex() == "62098001 00be0404020102".replace(" ", "")


# -- responses -----------------------------------------------------------------------
RESP = [v for v in RESPONSES if not v["name"].startswith("aare")]
AARES = [v for v in RESPONSES if v["name"].startswith("aare")]


@pytest.mark.parametrize("v", RESP, ids=[v["name"] for v in RESP])
def test_parse_response_golden(v):
    r = apdu.parse_response(bytes.fromhex(v["hex"]))
    e = v["expect"]
    assert r.kind == e["kind"]
    assert r.invoke == e["invoke"]
    assert r.result == e["result"]
    assert (None if r.data is None else bytes(r.data).hex().upper()) == e["data"]
    if "block" in e:
        assert list(r.block) == e["block"]
    if r.kind in ("exception", "confirmed-service-error"):
        assert results.response_text(r)
    xml = v["gurux_xml"]
    if r.kind in ("get", "set", "action"):
        assert not xml.startswith("gurux translator failed"), xml


def test_gurux_agrees_on_values():
    by = {v["name"]: v for v in RESPONSES}
    assert 'Enum Value="03"' in by["get_status_ok"]["gurux_xml"]
    assert 'BitString Value="00000000"' in by["get_status_ok"]["gurux_xml"]
    assert "UnmatchedType" in by["action_type_unmatched"]["gurux_xml"]
    assert "DecipheringError" in by["cse_deciphering"]["gurux_xml"]
    r = apdu.parse_response(bytes.fromhex(by["get_status_ok"]["hex"]))
    code, bits = token.decode_status(axdr.decode(r.data)[0])
    assert code == 3 and bits.bits() == "00000000"


@pytest.mark.parametrize("v", AARES, ids=[v["name"] for v in AARES])
def test_parse_aare_golden(v):
    a = apdu.parse_aare(bytes.fromhex(v["hex"]))
    e = v["expect"]
    assert a.result == e["result"]
    assert list(a.diagnostic) == e["diagnostic"]
    assert a.mechanism == e["mechanism"]
    assert a.context == e["context"]
    assert a.context_ciphered == (e["context"] == 3)
    for f in ("responding_title", "auth_value", "user_info"):
        got = getattr(a, f)
        assert (None if got is None else got.hex().upper()) == e[f], f


def test_aare_glo_initiate_response_deciphers():
    """The golden AARE's glo-initiateResponse decrypts to a plain InitiateResponse."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    v = [v for v in AARES if v["name"] == "aare_hls_pass2"][0]
    a = apdu.parse_aare(bytes.fromhex(v["hex"]))
    ui = a.user_info
    assert ui[0] == 0x28 and ui[1] == len(ui) - 2 and ui[2] == 0x30
    ek = bytes.fromhex("000102030405060708090A0B0C0D0E0F")
    ic = ui[3:7]
    ct = ui[7:-12]  # 12-byte GCM tag at the end
    d = Cipher(algorithms.AES(ek), modes.CTR(a.responding_title + ic + b"\0\0\0\2")).decryptor()
    plain = d.update(ct)
    ir = apdu.parse_initiate_response(plain)
    assert ir == {"version": 6, "conformance": 0x001E1D, "max_pdu": 512, "vaa": 7}


def test_parse_initiate_response_with_qos_and_error():
    ir = apdu.parse_initiate_response(bytes.fromhex("080105065F1F0400001E1D04000007"))
    assert ir["max_pdu"] == 1024 and ir["conformance"] == 0x1E1D
    with pytest.raises(ServiceError) as ei:
        apdu.parse_initiate_response(bytes.fromhex("0E010603"))
    assert "pdu-size-too-short" in ei.value.message
    with pytest.raises(ApduError):
        apdu.parse_initiate_response(bytes.fromhex("0800065F1F04"))
    with pytest.raises(ApduError):
        apdu.parse_initiate_response(b"\x61")


def test_parse_rlre():
    assert apdu.parse_rlre(bytes.fromhex("6303800100")) == 0
    assert apdu.parse_rlre(bytes.fromhex("6300")) is None
    with pytest.raises(ApduError):
        apdu.parse_rlre(bytes.fromhex("6305800100"))


def test_action_response_variants():
    r = apdu.parse_response(bytes.fromhex("C701C101"))  # gurux server: no optional byte
    assert r.result == 1 and r.data is None
    r = apdu.parse_response(bytes.fromhex("C701C100010103"))  # return params = dar
    assert r.result == 0 and r.dar == 3
    r = apdu.parse_response(bytes.fromhex("C702C1010000000103AABBCC"))
    assert r.block == (1, True) and bytes(r.data) == b"\xAA\xBB\xCC"


def test_set_response_blocks():
    assert apdu.parse_response(bytes.fromhex("C502C100000004")).block == (4, False)
    r = apdu.parse_response(bytes.fromhex("C503C10000000005"))
    assert r.block == (5, True) and r.result == 0


def test_exception_text_mentions_counter():
    r = apdu.parse_response(bytes.fromhex("D8010600000005"))
    assert r.state == 1 and r.service == 6
    text = results.response_text(r)
    assert "invocation-counter-error" in text and "5" in text


def test_ciphered_response_is_unexpected():
    with pytest.raises(ApduError) as ei:
        apdu.parse_response(bytes.fromhex("CC0130"))
    assert ei.value.kind == "unexpected" and "glo-get-response" in ei.value.message


@pytest.mark.parametrize("v", RESP + AARES, ids=[v["name"] for v in RESP + AARES])
def test_every_truncation_raises_only_apdu_error(v):
    b = bytes.fromhex(v["hex"])
    parse = apdu.parse_aare if v["name"].startswith("aare") else apdu.parse_response
    for n in range(len(b)):
        try:
            parse(b[:n])
        except ApduError:
            pass


def test_hostile_aare_length():
    with pytest.raises(ApduError) as ei:
        apdu.parse_aare(bytes.fromhex("6182FFFFA1"))
    assert ei.value.kind == "malformed"
    with pytest.raises(ApduError):
        apdu.parse_aare(bytes.fromhex("6107A109060760857405"))
    with pytest.raises(ApduError):  # no result field
        apdu.parse_aare(bytes.fromhex("6100"))


def test_apdu_names():
    for tag, name in ((0x60, "AARQ"), (0x61, "AARE"), (0x62, "RLRQ"), (0x63, "RLRE"),
                      (0xC0, "get-request"), (0xCB, "glo-action-request"),
                      (0xD3, "ded-action-request"), (0xDB, "general-glo-ciphering"),
                      (0xDD, "general-ciphering"), (0x21, "glo-initiate-request"),
                      (0x28, "glo-initiate-response"), (0xD8, "exception-response"),
                      (0x0E, "confirmed-service-error"), (0xCF, "glo-action-response")):
        assert apdu.apdu_name(tag) == name
    assert "0x99" in apdu.apdu_name(0x99)
    assert apdu.is_ciphered(0xCB) and not apdu.is_ciphered(0xC3)
