"""token: what a person types, the four encodings (spec.md §3), Token Gateway status."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from udlms.cosem import axdr
from udlms.client import token_status
from udlms.client import token, token_info
from udlms.errors import ApduError, TokenError

T = "05718854590197211241"


@pytest.mark.parametrize("typed", [
    "05718854590197211241", "0571 8854 5901 9721 1241", "0571-8854-5901-9721-1241",
    "  0571 8854-5901 9721 1241\n", "0571\t8854 5901  9721 1241", b"05718854590197211241"])
def test_parse_accepts_spaces_and_dashes(typed):
    assert token.parse(typed) == T


def test_parse_counts_digits():
    e = pytest.raises(TokenError, token.parse, "0571 8854 5901 9721 124")
    assert e.value.kind == "token-format" and "found 19" in e.value.message
    e = pytest.raises(TokenError, token.parse, "0571 8854 5901 9721 12411")
    assert e.value.kind == "token-format" and "found 21" in e.value.message
    e = pytest.raises(TokenError, token.parse, "")
    assert "found 0" in e.value.message


@pytest.mark.parametrize("bad", ["0571 8854 5901 9721 124O", "O5718854590197211241",
                                 "0571.8854.5901.9721.1241", "0571_8854_5901_9721_1241",
                                 "057188545901972112４1"])
def test_parse_rejects_letters_and_symbols(bad):
    e = pytest.raises(TokenError, token.parse, bad)
    assert e.value.kind == "token-format"
    assert "only digits" in e.value.message


def test_range():
    assert token.parse(str((1 << 66) - 1)) == "73786976294838206463"
    e = pytest.raises(TokenError, token.parse, str(1 << 66))
    assert e.value.kind == "token-range"
    assert "73786976294838206463" in e.value.message
    e = pytest.raises(TokenError, token.parse, "9" * 20)
    assert e.value.kind == "token-range"
    assert token.parse("0" * 20) == "0" * 20


@pytest.mark.parametrize("t", [
    "35632826060789593280", "34735682175619679232", "48643202781314010686",
    "04572225337837000077", "05718854590197211241", "28375872373168543423"])
def test_class_2_looking_credit_tokens_accepted(t):
    """spec.md §2 caution list: real tokens that decode to class 2 must not be rejected."""
    assert token.parse(t) == t
    v = int(t)
    cls = ((v >> 28) & 1) << 1 | ((v >> 27) & 1)
    assert cls in (0, 2)


def test_format():
    assert token_info.format("17813034313191558529") == "1781 3034 3131 9155 8529"
    assert token_info.format(T, "-") == "0571-8854-5901-9721-1241"


SPEC3 = {  # spec.md §3 A-XDR data for token 05718854590197211241
    "ascii": "09143035373138383534353930313937323131323431",
    "bcd": "090A05718854590197211241",
    "digits": "09140005070108080504050900010907020101020401",
    "hex": "0909004F5D73F332D12069",
}


@pytest.mark.parametrize("enc", token.ENCODINGS)
def test_spec_vectors(enc):
    assert token.octet_string(T, enc).hex().upper() == SPEC3[enc]
    raw = token.encode(T, enc)
    assert token_info.decode(raw, enc) == T
    assert token_info.decode_token_bytes(raw) == (T, enc)
    v, _ = axdr.decode(token.octet_string(T, enc))
    assert v == raw


def test_hex_value():
    assert int.from_bytes(token.encode(T, "hex"), "big") == 0x04F5D73F332D12069
    assert token.encode("73786976294838206463", "hex") == b"\x03" + b"\xff" * 8


def test_encode_validates():
    with pytest.raises(TokenError):
        token.encode("1234", "ascii")
    e = pytest.raises(TokenError, token.encode, T, "base64")
    assert e.value.kind == "encoding" and "ascii/bcd/digits/hex" in e.value.message
    with pytest.raises(TokenError):
        token.octet_string(str(1 << 66), "ascii")


def test_decode_token_bytes_rejects_others():
    assert token_info.decode_token_bytes(b"0571885459019721124") is None  # 19 ascii
    assert token_info.decode_token_bytes(b"\x0A" * 10) is None  # BCD nibble A
    assert token_info.decode_token_bytes(b"\xFF" * 9) is None  # > 2^66
    assert token_info.decode_token_bytes(b"") is None
    with pytest.raises(TokenError):
        token_info.decode(b"x" * 20, "ascii")


@given(st.integers(0, (1 << 66) - 1), st.sampled_from(token.ENCODINGS))
@settings(max_examples=300, deadline=None)
def test_encodings_round_trip(v, enc):
    d = "%020d" % v
    assert token_info.decode(token.encode(d, enc), enc) == d
    assert token.parse(token_info.format(d)) == d


def test_gateway_constants_and_enter():
    assert token.CLASS_ID == 115
    assert token.GATEWAY_OBIS == bytes((0, 0, 19, 40, 0, 255))
    assert (token.TOKEN, token.TOKEN_TIME, token.TOKEN_DESCRIPTION,
            token.TOKEN_DELIVERY_METHOD, token.TOKEN_STATUS, token.ENTER) == (2, 3, 4, 5, 6, 1)
    want = "C301C100730000132800FF010109143035373138383534353930313937323131323431"
    assert token_info.enter_request(0xC1, T).hex().upper() == want
    bcd = token_info.enter_request(0xC1, T, "bcd").hex().upper()
    assert bcd.endswith("090A05718854590197211241")


def test_status():
    names = [token_status.text(i)[0] for i in range(9)]
    assert names[0] == "format-ok" and names[3] == "execution-ok"
    assert names[8] == "received" and len(set(names)) == 9
    assert "already used" in token_status.text(6)[1]
    assert token_status.text(42)[0] == "status-42"
    v, _ = axdr.decode(bytes.fromhex("02021603040800"))
    code, bits = token.decode_status(v)
    assert code == 3 and bits == (8, b"\x00")
    assert token.decode_status(7) == (7, None)
    with pytest.raises(ApduError):
        token.decode_status(b"\x03")


def test_session_keeps_the_token_constants_it_copies():
    # session.py checks encodings and calls the gateway without importing token.py
    from udlms.client import session

    assert session._ENCODINGS == token.ENCODINGS


def test_token_result_words_on_demand():
    from udlms.client.token import TokenResult

    r = TokenResult(False, None, action_result=12)
    assert r.kind == "type-unmatched" and "encoding" in r.message
    r = TokenResult(False, "unknown", 8)
    assert r.status_name == "received" and "not finished" in r.message
    r = TokenResult(True, "accepted", 3)
    assert r.message == "token accepted and applied" and r.status_name == "execution-ok"
    assert TokenResult(True, "accepted").message.startswith("meter took the token")


def test_status_code_from_bytes():
    # the shapes meters send, read without axdr, agree with the full decoder
    for hx in ("1603", "02021603040800", "0202160604081234", "02011608"):
        data = bytes.fromhex(hx)
        assert token.status_code(data) == token.decode_status(axdr.decode(data)[0])[0]
    assert token.status_code(bytes.fromhex("1106")) == 6  # unsigned: through axdr
    with pytest.raises(ApduError):
        token.status_code(bytes.fromhex("0903414243"))
