"""Fuzz the decoders with hypothesis (bounded for `make test`; `make fuzz` runs the long
mutation loop in tools/qa/fuzz.py): only errors.DlmsError subclasses may escape, and a length
field of 0xFFFF or 0x84FFFFFFFF never allocates a big buffer."""

import os
import random
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for _p in ("lib",):
    if os.path.join(ROOT, _p) not in sys.path:
        sys.path.insert(0, os.path.join(ROOT, _p))

from tools.qa import fuzz  # noqa: E402


SEEDS = fuzz.seeds()
EXAMPLES = {"hdlc": 400, "axdr": 500, "axdr_typed": 400, "aare": 400, "response": 400,
            "unprotect": 200, "decode": 120, "push": 200, "mbus": 100}


def inputs(name):
    pool = SEEDS[name]

    def splice(t):
        base, pos, insert, cut, mseed = t
        b = bytearray(base)
        p = pos % (len(b) + 1)
        b[p:p] = insert
        if cut:
            del b[cut % (len(b) + 1):]
        return fuzz.mutate(random.Random(mseed), bytes(b), pool) if mseed % 2 else bytes(b)

    mutated = st.tuples(st.sampled_from(pool), st.integers(0, 4096),
                        st.one_of(st.sampled_from(fuzz.HOSTILE_LENGTHS), st.binary(max_size=8)),
                        st.integers(0, 4096), st.integers(0, 1 << 30)).map(splice)
    return st.one_of(st.binary(max_size=300), mutated)


def _check(name, data, seed):
    err = fuzz.run_one(name, data, random.Random(seed))
    assert err is None, "%s escaped for input %s" % (err, data.hex())


def _make(name):
    if name not in SEEDS:  # its seeds are real meters' traffic, kept in ../shared/data only
        def test():
            pytest.skip("not run: no ../shared/data (%s)" % fuzz.REAL_TRAFFIC)

        test.__name__ = "test_fuzz_" + name
        return test

    @settings(max_examples=EXAMPLES[name], deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(data=inputs(name), seed=st.integers(0, 1000))
    def test(data, seed):
        _check(name, data, seed)

    test.__name__ = "test_fuzz_" + name
    return test


for _n in EXAMPLES:
    globals()["test_fuzz_" + _n] = _make(_n)


@settings(max_examples=300, deadline=None, database=None)
@given(st.lists(st.binary(min_size=1, max_size=40), max_size=30))
def test_hdlc_receiver_any_chunking(chunks):
    """Chunks of any size, frames interleaved with garbage: good frames still come out."""
    good = fuzz.hdlc.frame(b"\x03", b"\x02\x23", 0x73)
    rx = fuzz.hdlc.Receiver(144)
    got = 0
    for c in chunks + [good]:
        for i in range(0, len(c), 7):
            rx.feed(c[i:i + 7])
            while rx.next() is not None:
                got += 1
    rx.drop_partial()
    rx.feed(good)
    assert rx.next() is not None


HOSTILE = [
    ("axdr", b"\x09\x82\xff\xff"), ("axdr", b"\x09\x84\xff\xff\xff\xff"),
    ("axdr", b"\x01\x82\xff\xff" + b"\x00" * 8), ("axdr", b"\x01\x84\xff\xff\xff\xff\x00"),
    ("axdr", b"\x02\x84\xff\xff\xff\xff"), ("axdr", b"\x04\x84\xff\xff\xff\xff"),
    ("axdr", b"\x0a\x82\xff\xff" + b"a" * 10), ("axdr", b"\x04\x82\xff\xff\x00"),
    ("axdr_typed", b"\x01\x82\xff\xff\x11\x01"), ("axdr_typed", b"\x09\x84\xff\xff\xff\xff"),
    ("axdr", b"\x01\x01" * 40 + b"\x00"),  # nesting beyond MAX_DEPTH
    ("aare", b"\x61\x82\xff\xff\xa1\x09"), ("aare", b"\x61\x84\xff\xff\xff\xff"),
    ("aare", b"\x61\x10\xbe\x84\xff\xff\xff\xff\x04\x82\xff\xff"),
    ("response", b"\xc4\x02\xc1\x00\x00\x00\x00\x01\x00\x82\xff\xff"),
    ("response", b"\xc4\x02\xc1\x00\x00\x00\x00\x01\x00\x84\xff\xff\xff\xff"),
    ("response", b"\xc4\x01\xc1\x00\x09\x84\xff\xff\xff\xff"),
    ("unprotect", b"\xcc\x82\xff\xff\x30\x00\x00\x00\x05"),
    ("unprotect", b"\xcc\x84\xff\xff\xff\xff\x30"),
    ("unprotect", b"\xdb\x84\xff\xff\xff\xff\x30"),
    ("unprotect", b"\xdb\x08" + b"\x4d" * 8 + b"\x82\xff\xff\x30\x00\x00\x00\x01"),
    ("hdlc", b"\x7e\xa7\xff\x03\x02\x23\x10" + b"\x00" * 20),
    ("decode", b"RX: 7E A0 1F 03 02 23 10 00 00 E6 E7 00 C4 01 C1 00 09 84 FF FF FF FF"),
    ("decode", b"C4 02 C1 00 00 00 00 01 00 82 FF FF"),
]


@pytest.mark.parametrize("name,data", HOSTILE)
def test_hostile_length_fields_do_not_allocate(name, data):
    assert fuzz.run_one(name, data) is None
    peak = fuzz.peak_of(name, data, random.Random(1))
    assert peak < 64 * 1024, "%s allocated %d bytes for %s" % (name, peak, data.hex())


@settings(max_examples=150, deadline=None, database=None)
@given(data=inputs("response"), name=st.sampled_from(["axdr", "aare", "response", "hdlc"]))
def test_allocation_bounded(data, name):
    assert fuzz.peak_of(name, data, random.Random(0)) < fuzz.MAX_PEAK
