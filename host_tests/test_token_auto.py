"""Token encoding ``auto`` (issue 20) in the token layer, against the simulated meter over
TCP: a meter that wants each form, one that takes every form, refusals other than
type-unmatched, a lost answer in the middle of the sequence, and a meter that refuses
every form. Each attempt must be its own ACTION request (new invocation counter, new
invoke-id), read back from the trace with ``udlms.host.decode``."""

import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from udlms.host.sim import meter as meter_sim  # noqa: E402

from udlms.host.decode import main as decode  # noqa: E402
from udlms.client import session, token, token_auto  # noqa: E402
from udlms.host import ports  # noqa: E402
from udlms.errors import DlmsError  # noqa: E402
from udlms.crypto.security import MemoryCounter  # noqa: E402

EK = bytes.fromhex("000102030405060708090A0B0C0D0E0F")
AK = bytes.fromhex("D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF")
TITLE = bytes.fromhex("4D4D4D0000000001")
T = "17813034313191558529"


@pytest.fixture
def sim():
    servers = []

    def start(**kw):
        meter = meter_sim.Meter(**kw)
        srv = meter_sim.TcpServer(meter, 0).start()
        servers.append(srv)
        return meter, srv.port

    yield start
    for s in servers:
        s.stop()


def deliver(port, first=None, notes=None, timeout_ms=2000, retries=3, **kw):
    """One association: token_auto.enter; returns (result or exception, session, trace)."""
    lines = []

    def trace(d, frame):
        lines.append("%s: %s" % (d, bytes(frame).hex(" ")))

    s = session.Settings(ek=EK, ak=AK, system_title=TITLE, encoding="auto",
                         timeout_ms=timeout_ms, retries=retries, status_poll_ms=10, **kw)
    stream = ports.open_stream("tcp://127.0.0.1:%d" % port)
    sess = session.Session(stream, s, MemoryCounter(100), trace=trace)
    try:
        sess.open()
        note = None if notes is None else (lambda f, res: notes.append((f, res)))
        try:
            r = token_auto.enter(sess, T, first, note, token.enter_token)
        except DlmsError as e:
            r = e
    finally:
        sess.close()
        stream.close()
    return r, sess, "\n".join(lines)


def enter_requests(trace):
    """(invoke_id, invocation_counter, token encoding) of every ciphered enter we sent."""
    out = []
    for f in decode.decode_text(trace, ek=EK, ak=AK, client_title=TITLE):
        a = f.get("apdu") or {}
        dec = a.get("decrypted") or {}
        if f["direction"] == "TX" and dec.get("method") == 1 and dec.get("class_id") == 115:
            out.append((dec["invoke_id"], a["invocation_counter"], dec["token"]["encoding"]))
    return out


@pytest.mark.parametrize("want", token_auto.ORDER)
def test_meter_wanting_each_form_is_found_in_one_association(sim, want):
    meter, port = sim(encoding=want)
    notes = []
    r, sess, trace = deliver(port, notes=notes)
    k = token_auto.ORDER.index(want)
    assert r.accepted and r.status_code == 3 and r.encoding == want
    assert r.attempts == [[e, 12] for e in token_auto.ORDER[:k]] + [[want, "accepted"]]
    assert r.learned is (k > 0)
    assert meter.state.accepted == [T] and meter.state.credit == 1
    sent = enter_requests(trace)
    assert [e for _, _, e in sent] == list(token_auto.ORDER[:k + 1])
    assert len(set(i for i, _, _ in sent)) == k + 1, sent  # an invoke-id per attempt
    assert len(set(c for _, c, _ in sent)) == k + 1, sent  # an invocation counter each
    assert notes == [x for e in token_auto.ORDER[:k] for x in ((e, None), (e, 12))] + [
        (want, None)]
    assert sess.settings.invoke == 0xC1  # restored for whatever comes next
    suffix, msg = token_auto.verdict(r)
    assert suffix == (" (meter wants %s; remembered)" % want.upper() if k else "")


def test_remembered_form_goes_first_and_alone(sim):
    meter, port = sim(encoding="bcd")
    r, _, trace = deliver(port, first="bcd")
    assert r.accepted and r.attempts == [["bcd", "accepted"]] and r.learned is False
    assert len(enter_requests(trace)) == 1


def test_stale_memory_searches_the_rest(sim):
    meter, port = sim(encoding="digits")  # the meter was swapped for one wanting digits
    r, _, trace = deliver(port, first="bcd")
    assert [a[0] for a in r.attempts] == ["bcd", "ascii", "digits"]
    assert r.accepted and r.learned and r.encoding == "digits"
    assert token_auto.order("bcd") == ("bcd", "ascii", "digits", "hex")
    assert token_auto.order("nonsense") == token_auto.ORDER


def test_meter_taking_every_form_gets_one_attempt(sim):
    meter, port = sim(encoding="any")
    r, _, trace = deliver(port)
    assert r.accepted and r.attempts == [["ascii", "accepted"]] and not r.learned
    assert [e for _, _, e in enter_requests(trace)] == ["ascii"]


def test_token_status_refusal_ends_the_sequence(sim):
    meter, port = sim(encoding="bcd")
    meter.state.accepted.append(T)  # this token was used before
    r, _, trace = deliver(port)
    assert not r.accepted and r.status_code == 6
    assert r.attempts == [["ascii", 12], ["digits", 12], ["bcd", "validation-failure"]]
    assert not r.learned and len(enter_requests(trace)) == 3  # never hex


@pytest.mark.parametrize("code", [250, 3, 1])
def test_other_action_results_end_the_sequence(sim, monkeypatch, code):
    meter, port = sim(encoding="hex")
    calls = []

    def enter(self, data):
        calls.append(bytes(data))
        return 12 if len(calls) == 1 else code  # the second form meets a real refusal

    monkeypatch.setattr(meter_sim.Association, "enter", enter)
    r, _, trace = deliver(port)
    assert not r.accepted and r.action_result == code
    assert [a[0] for a in r.attempts] == ["ascii", "digits"] and len(calls) == 2
    assert r.attempts[-1][1] != 12 and not r.learned


def test_lost_answer_in_the_middle_stops(sim, monkeypatch):
    meter, port = sim(encoding="bcd")
    orig_enter, orig_send = meter_sim.Association.enter, meter_sim.HdlcServer.send
    calls = []

    def enter(self, data):
        calls.append(1)
        return orig_enter(self, data)

    def send(self, *a, **kw):
        if len(calls) < 2:  # the line dies after the second form went out
            orig_send(self, *a, **kw)

    monkeypatch.setattr(meter_sim.Association, "enter", enter)
    monkeypatch.setattr(meter_sim.HdlcServer, "send", send)
    r, sess, trace = deliver(port, timeout_ms=300, retries=1)
    assert isinstance(r, DlmsError), r
    assert sess.token_sent and sess.attempts == [["ascii", 12], ["digits", None]]
    assert token_auto.journal_note(sess.attempts) == "ascii:12 digits:unknown"
    assert len(calls) == 2 and meter.state.accepted == []  # no third form after no answer


def test_every_form_refused(sim, monkeypatch):
    meter, port = sim()
    monkeypatch.setattr(meter_sim.Association, "enter", lambda self, data: 12)
    r, _, trace = deliver(port)
    assert not r.accepted and r.action_result == 12
    assert [a for a in r.attempts] == [[e, 12] for e in token_auto.ORDER]
    suffix, msg = token_auto.verdict(r)
    assert suffix == "" and "every token form (ascii, digits, bcd, hex)" in msg
    assert len(enter_requests(trace)) == 4


def test_enter_token_with_settings_auto_and_a_fixed_encoding(sim):
    meter, port = sim(encoding="bcd")
    s = session.Settings(ek=EK, ak=AK, system_title=TITLE, encoding="auto", timeout_ms=2000)
    stream = ports.open_stream("tcp://127.0.0.1:%d" % port)
    try:
        with session.Session(stream, s, MemoryCounter(500)) as sess:
            r = token.enter_token(sess, T)  # Settings(encoding="auto"): the same search
            assert r.accepted and r.encoding == "bcd"
            r = token.enter_token(sess, "05718854590197211241", "ascii")  # fixed: one try
            assert not r.accepted and r.action_result == 12
            assert not hasattr(r, "attempts")
    finally:
        stream.close()
    with pytest.raises(DlmsError):
        session.Settings(encoding="ebcdic")
