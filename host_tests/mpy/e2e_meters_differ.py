"""MicroPython lane, end to end: tokenpad against simulated meters that differ (issue 24,
cases 1, 2, 4, 7; the simulator (udlms.host.sim) over TCP, started here and stopped by process id):
an AARQ refused with exception-response invocation-counter-error resynchronises the store
to the counter the meter names (an AARE saying deciphering-error: past its frame counter)
and the token goes in on the second association (nothing sent twice, no counter reused);
deciphering-error is AUTH FAILED naming EK/AK; the frame counter published at
0.0.43.1.0.255 is found at the first token, remembered in the store (kept across a power
cycle) and shown by tp.resync; a meter that wants a ciphered RLRQ
releases, one refusing every release still gives ACCEPTED; a refused HLS pass 4 is AUTH
FAILED in association words and the token stays pending.
"""
# lane-heap: 224k

import gc
import sys

MICROPYTHON = sys.implementation.name == "micropython"
if MICROPYTHON and ".frozen" not in sys.path:
    sys.path.append(".frozen")

# big modules first, while the heap is whole (tpfakes.ram_store/app use them)
from tokenpad import store  # noqa: E402, F401, I001
from tokenpad import app as tapp  # noqa: E402, F401
from tokenpad import settings  # noqa: E402, F401

import tpfakes  # noqa: E402
from mpytest import eq, main, test  # noqa: E402

EK = "000102030405060708090A0B0C0D0E0F"
AK = "D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF"
CONF = {"ek": EK, "ak": AK, "system_title": "4D4D4D0000000003", "server_physical": 17,
        "timeout_ms": 2000, "retries": 1, "encoding": "ascii"}
T1 = "17813034313191558529"
T2 = "05718854590197211241"
_pids = []
_peak = [0]


def mark():
    gc.collect()
    if MICROPYTHON:
        _peak[0] = max(_peak[0], gc.mem_alloc())


def sim(args):
    url, pidf = tpfakes.start_sim(args, "_md%d" % len(_pids))
    _pids.append(pidf)
    return url


def ram_store(mem=None):
    return tpfakes.ram_store(mem)


def make(url, st, conf=None):
    c = dict(CONF)
    c.update(conf or {})
    return tpfakes.app(url, st, c, mark)  # the real library


@test
def stale_counter_named_by_exception_response():
    url = sim("--refuse-aarq-with exception --client-ic 503")
    st, _ = ram_store()
    st.resync(6)  # our store is behind the meter: next 7
    a = make(url, st)
    out = a.enter(T1)
    mark()
    eq(out[0], "ACCEPTED", "%s" % (out,))
    assert st.value > 504, st.value  # moved to the counter the meter named, never back
    eq(st.last()[2], "accepted")
    out = a.enter(T2)  # the next token: one association, no refusal
    eq(out[0], "ACCEPTED", "%s" % (out,))


@test
def stale_counter_refused_by_aare_resyncs_from_the_frame_counter():
    url = sim("--client-ic 700")  # refuses with an AARE saying deciphering-error
    st, _ = ram_store()
    st.resync(3)
    out = make(url, st).enter(T1)
    eq(out[0], "ACCEPTED", "%s" % (out,))
    assert st.value > 701, st.value


@test
def deciphering_error_is_auth_failed():
    url = sim("--refuse-aarq-with exception")
    st, _ = ram_store()
    st.resync(0)
    a = make(url, st, {"ak": "D0D1D2D3D4D5D6D7D8D9DADBDCDDDE00"})
    out = a.enter(T1)
    eq(out[0], "AUTH FAILED", "%s" % (out,))
    assert "check EK/AK and system title" in out[1], out
    eq(st.last()[2], "pending")  # never sent


@test
def frame_counter_elsewhere_found_remembered_shown():
    url = sim("--frame-counter-at 0.0.43.1.0.255 --client-ic 900")
    st, mem = ram_store()
    a = make(url, st)
    eq(st.known, False)
    out = a.enter(T1)  # first use: the counter is read from the meter first
    mark()
    eq(out[0], "ACCEPTED", "%s" % (out,))
    eq(st.fcs, [[a.cfg.context(), "0.0.43.1.0.255"]])
    st2, _ = ram_store(mem)  # power cycle: a new store on the same flash
    eq(st2.fcs, [[a.cfg.context(), "0.0.43.1.0.255"]])
    b = make(url, st2)
    out = b.resync()
    eq(out[0], "RESYNCED", "%s" % (out,))
    assert "at 0.0.43.1.0.255" in out[1], out


@test
def no_frame_counter_anywhere_names_what_was_tried():
    url = sim("--frame-counter-at 0.0.43.1.7.255")
    st, _ = ram_store()
    out = make(url, st).resync()
    eq(out[0], "COUNTER", "%s" % (out,))
    assert "could not read the meter's frame counter (tried 0.0.43.1.1.255" in out[1], out


@test
def strict_and_refusing_releases_keep_the_verdict():
    for args in ("--release-needs-ciphered-rlrq", "--refuse-release"):
        st, _ = ram_store()
        st.resync(0)
        out = make(sim(args), st).enter(T1)
        eq(out[0], "ACCEPTED", "%s %s" % (args, out))
        eq(st.last()[2], "accepted")


@test
def refused_hls_reply_reads_as_association_problem():
    st, _ = ram_store()
    st.resync(0)
    out = make(sim("--refuse-hls-reply"), st).enter(T1)
    eq(out[0], "AUTH FAILED", "%s" % (out,))
    assert "token" not in out[1] and "EK/AK" in out[1], out
    eq(st.last()[2], "pending")


if __name__ == "__main__":
    try:
        main()
    finally:
        for p in _pids:
            tpfakes.stop_sim(p)
        if MICROPYTHON:
            print("peak heap: %d bytes used (after gc) of %d" % (
                _peak[0], gc.mem_alloc() + gc.mem_free()))
