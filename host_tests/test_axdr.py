"""A-XDR: round trips (hypothesis), known encodings, hostile inputs raise only ApduError."""

import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from udlms.cosem import axdr, axdr_enc, obis
from udlms.cosem.axdr import BitString
from udlms.errors import ApduError, ConfigError

INT_RANGES = {
    axdr.INT8: (-(1 << 7), (1 << 7) - 1), axdr.INT16: (-(1 << 15), (1 << 15) - 1),
    axdr.INT32: (-(1 << 31), (1 << 31) - 1), axdr.INT64: (-(1 << 63), (1 << 63) - 1),
    axdr.UINT8: (0, 255), axdr.UINT16: (0, 65535), axdr.UINT32: (0, (1 << 32) - 1),
    axdr.UINT64: (0, (1 << 64) - 1), axdr.ENUM: (0, 255), axdr.BCD: (0, 255),
}


def _ints():
    return st.one_of(*[st.tuples(st.just(t), st.integers(lo, hi))
                       for t, (lo, hi) in INT_RANGES.items()])


def _bits():
    return st.integers(0, 40).flatmap(
        lambda n: st.binary(min_size=(n + 7) // 8, max_size=(n + 7) // 8).map(
            lambda d: (axdr.BIT_STRING, BitString(n, d))))



SCALARS = st.one_of(
    st.just((axdr.NULL, None)),
    st.tuples(st.just(axdr.BOOLEAN), st.booleans()),
    _ints(),
    st.tuples(st.just(axdr.OCTET_STRING), st.binary(max_size=300)),
    st.tuples(st.just(axdr.VISIBLE_STRING),
              st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40)),
    st.tuples(st.just(axdr.UTF8), st.text(max_size=20)),
    st.tuples(st.just(axdr.FLOAT64), st.floats(allow_nan=False)),
    st.tuples(st.just(axdr.DATETIME), st.binary(min_size=12, max_size=12)),
    st.tuples(st.just(axdr.DATE), st.binary(min_size=5, max_size=5)),
    st.tuples(st.just(axdr.TIME), st.binary(min_size=4, max_size=4)),
    _bits(),
)
TYPED = st.recursive(
    SCALARS,
    lambda kids: st.one_of(
        st.tuples(st.just(axdr.STRUCTURE), st.lists(kids, max_size=5)),
        st.tuples(st.just(axdr.ARRAY), st.lists(kids, max_size=5))),
    max_leaves=25)


@given(TYPED)
@settings(max_examples=400, deadline=None)
def test_typed_round_trip(tv):
    b = axdr_enc.encode_typed(tv)
    tag, value, pos = axdr.decode_typed(b)
    assert pos == len(b)
    assert (tag, value) == _norm(tv)
    # the plain decoder agrees and re-encodes to the same bytes for containers/scalars
    v, p = axdr.decode(b)
    assert p == len(b)
    obis.value_text(v)
    obis.typed_text(tag, value)


def _norm(tv):
    tag, v = tv
    if tag in (axdr.ARRAY, axdr.STRUCTURE):
        return tag, [_norm(x) for x in v]
    return tag, v


@given(st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(1 << 63), (1 << 64) - 1),
              st.binary(max_size=200), st.text(st.characters(min_codepoint=32,
                                                             max_codepoint=126))),
    lambda kids: st.one_of(st.lists(kids, max_size=4),
                           st.lists(kids, max_size=4).map(tuple)), max_leaves=20))
@settings(max_examples=300, deadline=None)
def test_plain_round_trip(value):
    b = axdr_enc.encode(value)
    assert axdr.decode(b) == (value, len(b))


@given(st.binary(max_size=64))
@settings(max_examples=2000, deadline=None)
def test_random_bytes_raise_only_apdu_error(b):
    try:
        axdr.decode(b)
        axdr.decode_typed(b)
    except ApduError as e:
        assert e.kind in ("malformed", "unexpected")


@given(TYPED)
@settings(max_examples=200, deadline=None)
def test_truncations_raise_apdu_error(tv):
    b = axdr_enc.encode_typed(tv)
    for n in range(len(b)):
        with pytest.raises(ApduError):
            axdr.decode(b[:n])


def test_known_encodings():
    assert axdr.octet_string(b"\x01\x02") == b"\x09\x02\x01\x02"
    assert axdr_enc.encode(3, axdr.ENUM) == b"\x16\x03"
    assert axdr_enc.encode(-1, axdr.INT16) == b"\x10\xFF\xFF"
    assert axdr_enc.encode(1715, axdr.UINT32) == bytes.fromhex("06000006B3")
    assert axdr_enc.encode((3, BitString(8, b"\x00"))) == bytes.fromhex("020205000000030408 00"
                                                                    .replace(" ", ""))
    assert axdr_enc.encode_typed((axdr.STRUCTURE, [(axdr.ENUM, 3), (axdr.BIT_STRING,
                                                                (8, b"\x00"))])) == \
        bytes.fromhex("02021603040800")
    assert axdr_enc.encode("AB") == b"\x0A\x02AB"
    assert axdr_enc.encode(None) == b"\x00"
    assert axdr_enc.encode(True) == b"\x03\x01"
    assert axdr_enc.encode(b"x" * 200)[:3] == b"\x09\x81\xC8"
    assert axdr_enc.encode(b"x" * 300)[:4] == b"\x09\x82\x01\x2C"
    assert axdr.decode(bytes.fromhex("0202160304080055"))[0] == (3, BitString(8, b"\x00"))
    with pytest.raises(ValueError):
        axdr_enc.encode(256, axdr.UINT8)
    with pytest.raises(ValueError):
        axdr_enc.encode((9, b"\x00"), axdr.BIT_STRING)


def test_lengths():
    for n in (0, 1, 127, 128, 255, 256, 65535, 65536, 1 << 24):
        e = axdr.encode_length(n)
        assert axdr.decode_length(e, 0) == (n, len(e))
    assert axdr.encode_length(0x80) == b"\x81\x80"
    assert axdr.encode_length(0x1234) == b"\x82\x12\x34"
    for bad in (b"", b"\x80", b"\x85\x00\x00\x00\x00\x00", b"\x82\x01"):
        with pytest.raises(ApduError):
            axdr.decode_length(bad, 0)


def test_huge_length_in_small_buffer_does_not_allocate():
    buf = b"\x09\x82\xFF\xFF" + bytes(6)  # 10 bytes claiming 65535
    tracemalloc.start()
    try:
        with pytest.raises(ApduError) as ei:
            axdr.decode(buf)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert ei.value.kind == "malformed"
    assert "65535" in ei.value.message and "cut short" in ei.value.message
    assert peak < 16384
    for hostile in (b"\x01\x84\xFF\xFF\xFF\xFF\x00", b"\x02\x82\xFF\xFF\x00",
                    b"\x04\x84\xFF\xFF\xFF\xFF", b"\x0A\x83\x10\x00\x00ab",
                    b"\x09\x84\x7F\xFF\xFF\xFF"):
        with pytest.raises(ApduError):
            axdr.decode(hostile)


def test_deep_nesting_is_bounded():
    deep = b"\x02\x01" * 1000 + b"\x00"
    with pytest.raises(ApduError) as ei:
        axdr.decode(deep)
    assert "nested" in ei.value.message
    ok = b"\x02\x01" * axdr.MAX_DEPTH + b"\x00"
    assert axdr.decode(ok)[1] == len(ok)


def test_unknown_type_and_compact_array():
    with pytest.raises(ApduError) as ei:
        axdr.decode(b"\x07\x00")
    assert ei.value.kind == "malformed"
    with pytest.raises(ApduError) as ei:
        axdr.decode(b"\x13\x00")
    assert ei.value.kind == "unexpected"


def test_decode_accepts_memoryview_and_offset():
    mv = memoryview(bytearray(b"\xAA\x09\x02hi\x11\x05"))
    v, p = axdr.decode(mv, 1)
    assert v == b"hi" and type(v) is bytes and p == 5
    assert axdr.decode(mv, 5) == (5, 7)


def test_to_text():
    assert obis.value_text((3, BitString(8, b"\x80"))) == "{3, bits 10000000}"
    assert obis.value_text([b"\x01\x02", "x", None, True]) == '[0102, "x", null, true]'
    assert obis.value_text(b"05718854590197211241") == '"05718854590197211241"'
    dt = bytes.fromhex("07E80101FF000000000000 00".replace(" ", ""))
    assert obis.value_text(dt) == "2024-01-01 00:00:00 dev=+0min"
    assert obis.value_text(b"x" * 500).endswith("...")
    assert obis.typed_text(*axdr.decode_typed(bytes.fromhex("02021603040800"))[:2]) == \
        "structure(2){enum 3, bit-string bits 00000000}"


def test_cosem_obis_and_datetime():
    assert obis.obis("0.0.19.40.0.255") == b"\x00\x00\x13\x28\x00\xff"
    assert obis.obis("0-0:19.40.0.255") == obis.obis("0-0:19.40.0*255")
    assert obis.obis("1.0.1.8.0") == bytes((1, 0, 1, 8, 0, 255))
    assert obis.obis(b"\x00\x00\x13\x28\x00\xff") == b"\x00\x00\x13\x28\x00\xff"
    assert obis.obis_str(b"\x00\x00\x2b\x01\x03\xff") == "0.0.43.1.3.255"
    for bad in ("0.0.19.40.0.256", "a.b.c.d.e.f", "1.2.3", b"\x00"):
        with pytest.raises(ConfigError):
            obis.obis(bad)
    assert obis.class_name(115) == "token-gateway" and obis.class_name(999) == "class-999"
    spec = bytes.fromhex("07E80101FF0000000000 0000".replace(" ", ""))  # spec.md §1
    assert obis.datetime_text(spec) == "2024-01-01 00:00:00 dev=+0min"
    dt = obis.datetime_bytes(2026, 11, 5, 13, 4, 9, deviation=-60, status=0x80)
    assert obis.datetime_text(dt) == "2026-11-05 13:04:09 dev=-60min st=0x80"
    assert obis.datetime_text(b"\xff" * 9 + b"\x80\x00\xff") == "*-*-* *:*:*"
    assert obis.datetime_text(b"12345678901234567890"[:12], strict=True) is None
