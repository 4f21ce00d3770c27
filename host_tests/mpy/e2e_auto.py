"""MicroPython lane, end to end: tokenpad with encoding ``auto`` (issue 20) delivers tokens
through the real udlms session to simulated meters (udlms.host.sim over TCP) that
want each token form: the first token finds the form in one association and says so once
(``ACCEPTED (meter wants BCD; remembered)``), the store remembers it across a power cycle
and the next token goes in one attempt; a meter taking every form gets one attempt; a
used token ends the search; a lost answer in the middle of it stops with the journal
``unknown``; meters that say "not this form" with object-class-inconsistent (9) or with
type-unmatched and token_status format-failure are searched on, and a gateway that stores
anything and leaves token_status format-ok is UNKNOWN (issue 24). The ascii meter is the
one the lane runner started (SIM_URL); the others are
started here and stopped by their process ids.

Heap: the firmware, the session and the harness (tpfakes compiled from source) peak at
about 161 KB in the x64 unix port (measured 2026-11-30), hence the lane heap below.
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
CONF = {"ek": EK, "ak": AK, "system_title": "4D4D4D0000000002", "server_physical": 17,
        "timeout_ms": 2000, "retries": 1}  # no "encoding": auto is the default
T1 = "17813034313191558529"
T2 = "05718854590197211241"
T3 = "59728710742563948820"
_pids = []
_peak = [0]


def mark():
    gc.collect()
    if MICROPYTHON:
        _peak[0] = max(_peak[0], gc.mem_alloc())


def sim(args):
    if not args:
        return tpfakes.sim_url()  # the lane's simulator (ascii)
    url, pidf = tpfakes.start_sim(args, "_%d" % len(_pids))
    _pids.append(pidf)
    return url


def ram_store(mem=None):
    return tpfakes.ram_store(mem)


def make(url, st, conf=None):
    c = dict(CONF)
    c.update(conf or {})
    return tpfakes.app(url, st, c, mark)  # the real library


def fresh(url, mem=None, conf=None):
    st, mem = ram_store(mem)
    a = make(url, st, conf)
    if not st.known:
        eq(a.resync()[0], "RESYNCED")
    return a, mem


def each_form(form, args):
    url = sim(args)
    a, mem = fresh(url)
    out = a.enter(T1)
    mark()
    eq(out[0], "ACCEPTED" if form == "ascii" else
       "ACCEPTED (meter wants %s; remembered)" % form.upper(), "%s" % (out,))
    order = ("ascii", "digits", "bcd", "hex")
    tried = ["%s:12" % f for f in order[:order.index(form)]] + [form + ":accepted"]
    eq(a.store.last()[3], " ".join(tried))
    b, _ = fresh(url, mem)  # power cycle: a new store on the same flash
    eq(b.store.form(b.cfg.context()), form)
    out = b.enter(T2)
    eq(out[0], "ACCEPTED", "%s" % (out,))
    eq(b.store.last()[3], form + ":accepted")  # one attempt
    return b


@test
def meter_wanting_ascii():
    each_form("ascii", "")


@test
def meter_wanting_digits():
    each_form("digits", "--encoding digits")


@test
def meter_wanting_bcd_then_a_used_token_and_a_fixed_setting():
    b = each_form("bcd", "--encoding bcd")
    out = b.enter(T1)  # used: refused on the remembered form, no search
    eq(out[0], "REJECTED", "%s" % (out,))
    assert "already used" in out[1], out
    eq(b.store.last()[2:], ["refused", "bcd:validation-failure"])
    out = b.enter(T3, encoding="ascii")  # a fixed encoding: one attempt, as before
    eq(out[0], "REJECTED")
    assert "type-unmatched (12)" in out[1], out


@test
def meter_wanting_hex():
    each_form("hex", "--encoding hex")


@test
def meter_taking_every_form():
    a, _ = fresh(sim("--encoding any"))
    eq(a.enter(T1)[0], "ACCEPTED")
    eq(a.store.last()[3], "ascii:accepted")


@test
def used_token_ends_the_search():
    url = sim("--encoding bcd")
    a, _ = fresh(url)
    eq(a.enter(T1)[0], "ACCEPTED (meter wants BCD; remembered)")
    b, _ = fresh(url)  # another tokenpad, nothing remembered: the search meets a refusal
    out = b.enter(T1)
    eq(out[0], "REJECTED", "%s" % (out,))
    eq(b.store.last()[2:], ["refused", "ascii:12 digits:12 bcd:validation-failure"])
    eq(b.store.form(b.cfg.context()), None)


@test
def lost_answer_mid_sequence_is_unknown():
    a, _ = fresh(sim("--encoding bcd --lose-enter 2"), conf={"timeout_ms": 400})
    out = a.enter(T1)
    eq(out[0], "NO ANSWER", "%s" % (out,))
    e = a.store.last()
    eq(e[2], "unknown")
    assert e[3].startswith("ascii:12 digits:unknown"), e
    eq(a.store.form(a.cfg.context()), None)
    out = a.confirm()  # the meter never executed it: its last token is not this one
    assert out[0].startswith("METER"), out
    assert "1781 3034" not in out[1], out


# -- meters differ (issue 24, case 3): "not this form" in other words -------------------
@test
def object_class_inconsistent_is_a_wrong_form():
    a, _ = fresh(sim("--encoding bcd --wrong-form object-class-inconsistent"))
    out = a.enter(T1)
    eq(out[0], "ACCEPTED (meter wants BCD; remembered)", "%s" % (out,))
    eq(a.store.last()[2:], ["accepted", "ascii:9 digits:9 bcd:accepted"])


@test
def format_failure_with_type_unmatched_is_a_wrong_form():
    a, _ = fresh(sim("--encoding digits --wrong-form format-failure"))
    out = a.enter(T1)
    eq(out[0], "ACCEPTED (meter wants DIGITS; remembered)", "%s" % (out,))
    eq(a.store.last()[2:], ["accepted", "ascii:12+format-failure digits:accepted"])


@test
def gateway_storing_anything_is_unknown():
    a, _ = fresh(sim("--store-any-token"))
    out = a.enter(T1)
    eq(out[0], "UNKNOWN", "%s" % (out,))
    assert "format-ok" in out[1], out
    eq(a.store.last()[2:], ["unknown", "ascii:format-ok"])
    eq(a.store.form(a.cfg.context()), None)


if __name__ == "__main__":
    try:
        main()
    finally:
        for p in _pids:
            tpfakes.stop_sim(p)
        if "pidfile" in tpfakes._sim:
            tpfakes.stop_sim()
        if MICROPYTHON:
            print("peak heap: %d bytes used (after gc) of %d" % (
                _peak[0], gc.mem_alloc() + gc.mem_free()))
